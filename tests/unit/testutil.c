/* testutil.c - helpers shared by the Check unit tests. */
#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tu_data_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("CTM_TEST_DATA");
#ifdef CTM_TEST_DATA_DIR
    if (dir == NULL)
        dir = CTM_TEST_DATA_DIR;
#endif
    if (dir == NULL)
        dir = "tests/data";
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *tu_read_data(const char *name)
{
    char *text = tu_read_file(tu_data_path(name), NULL);
    ck_assert_msg(text != NULL, "cannot read %s", tu_data_path(name));
    return text;
}

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/ctm-test-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

int tu_copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *p = tu_read_file(from, &n);
    if (p == NULL)
        return -1;
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0 && write(fd, p, n) == (ssize_t)n;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    free(p);
    return ok ? 0 : -1;
}

int tu_copy_site(const char *from_dir, const char *to_dir, const char *db_name)
{
    static const char *const suffixes[] = {"", ".key", "-wal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s%s", from_dir, db_name, suffixes[i]);
        snprintf(to, sizeof to, "%s/%s%s", to_dir, db_name, suffixes[i]);
        if (access(from, F_OK) != 0 && i == 2)
            continue;
        if (tu_copy_file(from, to) != 0)
            return -1;
    }
    return 0;
}

void tu_must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "building the template site: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

char *tu_build_template(const char *admin, const char *admin_name, const char *admin_pw,
                        const struct tu_user *users, size_t n)
{
    char *dir = tu_tmpdir();
    if (dir == NULL) {
        fprintf(stderr, "building the template site: no temporary directory\n");
        return NULL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    int rc = ctm_open(&h, path, &o);
    if (rc == CTM_OK)
        rc = ctm_init(h, TU_SITE_NAME, TU_ORIGIN, admin, admin_name, admin_pw);
    for (size_t i = 0; rc == CTM_OK && i < n; i++)
        rc = ctm_user_add(h, users[i].name, users[i].role, users[i].unblinded,
                          users[i].printed_name, users[i].password);
    if (rc != CTM_OK)
        fprintf(stderr, "building the template site: %s\n", ctm_errmsg());
    ctm_close(h);
    if (rc != CTM_OK) {
        tu_rmtree(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

char *tu_test_dir(const char *template_dir, const char *db_name)
{
    char *dir = tu_tmpdir();
    ck_assert_ptr_nonnull(dir);
    if (template_dir != NULL)
        ck_assert_msg(tu_copy_site(template_dir, dir, db_name) == 0, "cannot copy %s/%s to %s",
                      template_dir, db_name, dir);
    return dir;
}

void tu_teardown(char **dir, ctm_db **a, ctm_db **b)
{
    if (a != NULL) {
        ctm_close(*a);
        *a = NULL;
    }
    if (b != NULL) {
        ctm_close(*b);
        *b = NULL;
    }
    tu_rmtree(*dir);
    free(*dir);
    *dir = NULL;
}

void tu_ok(int rc)
{
    ck_assert_msg(rc == CTM_OK, "status %d: %s", rc, ctm_errmsg());
}

ctm_db *tu_open(const char *path, const ctm_open_options *options)
{
    ctm_db *h = NULL;
    int rc = ctm_open(&h, path, options);
    ck_assert_msg(rc == CTM_OK, "open %s: %s", path, ctm_errmsg());
    return h;
}

void tu_login(ctm_db *h, const char *user, const char *pw)
{
    int rc = ctm_login(h, user, pw);
    ck_assert_msg(rc == CTM_OK, "login %s: %s", user, ctm_errmsg());
}

uint64_t tu_audit_size(ctm_db *h)
{
    uint64_t n = 0;
    int rc = ctm_audit_size(h, &n);
    ck_assert_msg(rc == CTM_OK, "audit size: %s", ctm_errmsg());
    return n;
}

ctm_verify_result tu_assert_verifies(ctm_db *h, const char *vkey)
{
    ctm_verify_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    int rc = ctm_audit_verify(h, vkey, NULL, &res);
    ck_assert_msg(rc == CTM_OK, "verify: %s", ctm_errmsg());
    ck_assert_int_eq(res.failed_seq, -1);
    return res;
}

void tu_assert_verifies_all(ctm_db *h, const char *vkey)
{
    ctm_verify_result res = tu_assert_verifies(h, vkey);
    ck_assert_uint_eq(res.entries, tu_audit_size(h));
}

ctm_query *tu_log_entry(ctm_db *h, uint64_t seq)
{
    ctm_query *q = NULL;
    int rc = ctm_audit_log(&q, h, seq, 1);
    ck_assert_msg(rc == CTM_OK, "audit log: %s", ctm_errmsg());
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    return q;
}

/* Open path read-only and step query (?1 = arg when not NULL) to its first row. */
static sqlite3_stmt *sql_row(const char *path, const char *query, const char *arg, sqlite3 **s)
{
    sqlite3_stmt *st = NULL;
    *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int rc = sqlite3_prepare_v2(*s, query, -1, &st, NULL);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", query, sqlite3_errmsg(*s));
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    return st;
}

int64_t tu_sql_int(const char *path, const char *query, const char *arg)
{
    sqlite3 *s;
    sqlite3_stmt *st = sql_row(path, query, arg, &s);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

char *tu_sql_text(const char *path, const char *query)
{
    sqlite3 *s;
    sqlite3_stmt *st = sql_row(path, query, NULL, &s);
    char *v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
    ck_assert_ptr_nonnull(v);
    return v;
}

void tu_sql_exec(const char *path, const char *sql)
{
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(s, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err != NULL ? err : "?");
    sqlite3_free(err);
    sqlite3_close(s);
}

TCase *tu_tcase(Suite *s, const char *name, void (*setup)(void), void (*teardown)(void),
                double timeout)
{
    TCase *tc = tcase_create(name);
    if (setup != NULL || teardown != NULL)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
