/* testutil.c - helpers shared by the Check unit tests. */
#include "testutil.h"

#include "store.h"

#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef CTM_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

/* ---- the back end ---- */

static enum tu_backend backend;   /* 0 until the first tu_backend() */
static const char *pg_base;       /* CTM_TEST_PG, or NULL: libpq's PG* variables */
static char run_prefix[48];       /* "ctm_t_<pid>_": this run's databases */

/* The site paths this process mapped to databases, for tu_rmtree. */
static char **mapped;
static size_t nmapped, capmapped;

enum tu_backend tu_backend(void)
{
    if (backend != 0)
        return backend;
    const char *b = getenv("CTM_TEST_BACKEND");
    if (b == NULL || b[0] == '\0' || strcmp(b, "sqlite") == 0) {
        backend = TU_SQLITE;
        return backend;
    }
    if (strcmp(b, "postgres") != 0) {
        fprintf(stderr, "CTM_TEST_BACKEND=%s: the back ends are sqlite and postgres\n", b);
        exit(EXIT_FAILURE);
    }
    pg_base = getenv("CTM_TEST_PG");
    if (pg_base != NULL && pg_base[0] == '\0')
        pg_base = NULL;
    if (pg_base == NULL && getenv("PGHOST") == NULL) {
        fprintf(stderr, "CTM_TEST_BACKEND=postgres: no server named (CTM_TEST_PG or PGHOST, as under"
                        " pg_virtualenv); skipped\n");
        exit(77);
    }
#ifndef CTM_HAVE_POSTGRES
    fprintf(stderr, "CTM_TEST_BACKEND=postgres: this libctm was built without its PostgreSQL engine"
                    " (meson option postgres)\n");
    exit(EXIT_FAILURE);
#else
    snprintf(run_prefix, sizeof run_prefix, "ctm_t_%ld_", (long)getpid());
    backend = TU_POSTGRES;
    PGconn *c = PQconnectdb(pg_base != NULL ? pg_base
                            : getenv("PGDATABASE") != NULL ? "" : "dbname=postgres");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "CTM_TEST_BACKEND=postgres: cannot reach the server: %s",
                PQerrorMessage(c));
        PQfinish(c);
        exit(EXIT_FAILURE);
    }
    PQfinish(c);
    return backend;
#endif
}

const char *tu_dialect(const char *sqlite_sql, const char *postgres_sql)
{
    return tu_backend() == TU_POSTGRES ? postgres_sql : sqlite_sql;
}

/* The database name of a site path: FNV-1a of the path, under this run's prefix. */
static void db_name(const char *path, char *out, size_t cap)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211u;
    snprintf(out, cap, "%s%016llx", run_prefix, (unsigned long long)h);
}

/* The connection string of database name on the server the environment names. */
static char *pg_target_of(const char *name)
{
    const char *base = pg_base != NULL ? pg_base : "postgresql://";
    size_t cap = strlen(base) + strlen(name) + 16;
    char *t = malloc(cap);
    if (t == NULL)
        return NULL;
    const char *scheme = strstr(base, "://");
    if (scheme == NULL) { /* key=value: a later keyword wins */
        snprintf(t, cap, "%s dbname=%s", base, name);
        return t;
    }
    /* scheme://authority[/db][?params]: the authority kept, the database replaced */
    const char *auth = scheme + 3;
    size_t alen = strcspn(auth, "/?");
    const char *params = strchr(auth + alen, '?');
    snprintf(t, cap, "%.*s/%s%s", (int)(auth + alen - base), base, name,
             params != NULL ? params : "");
    return t;
}

char *tu_target(const char *path)
{
    if (tu_backend() == TU_SQLITE)
        return strdup(path);
    char name[64];
    db_name(path, name, sizeof name);
    size_t i = 0;
    while (i < nmapped && strcmp(mapped[i], path) != 0)
        i++;
    if (i == nmapped) {
        if (nmapped == capmapped) {
            size_t cap = capmapped != 0 ? capmapped * 2 : 16;
            char **m = realloc(mapped, cap * sizeof *m);
            if (m == NULL)
                return NULL;
            mapped = m;
            capmapped = cap;
        }
        if ((mapped[nmapped] = strdup(path)) == NULL)
            return NULL;
        nmapped++;
    }
    return pg_target_of(name);
}

#ifdef CTM_HAVE_POSTGRES
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection to path's database, or with path NULL to the server's maintenance database;
 * NULL after printing why. */
static PGconn *pg_connect(const char *path)
{
    char *target = path != NULL ? tu_target(path) : NULL;
    const char *info = target != NULL ? target
                       : pg_base != NULL ? pg_base
                       : getenv("PGDATABASE") != NULL ? "" : "dbname=postgres";
    PGconn *c = PQconnectdb(info);
    free(target);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connecting to %s: %s", path != NULL ? path : "the server",
                PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    return c;
}

/* Run a command; 0, or -1 after printing why.  *state (when not NULL) gets the SQLSTATE. */
static int pg_command(PGconn *c, const char *sql, char state[6])
{
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (state != NULL) {
        const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(state, 6, "%s", s != NULL ? s : "");
    }
    if (!ok && state == NULL)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

/* CREATE DATABASE to from the template from (both site paths).  A template may be busy for a
 * moment (autovacuum, a closing connection): try again for up to ten seconds. */
static int pg_clone(const char *from, const char *to)
{
    PGconn *c = pg_connect(NULL);
    if (c == NULL)
        return -1;
    char a[64], b[64], sql[256];
    db_name(from, a, sizeof a);
    db_name(to, b, sizeof b);
    char *target = tu_target(to); /* registers to for tu_rmtree */
    free(target);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", b, a);
    int rc = -1;
    for (int attempt = 0; attempt < 100 && rc != 0; attempt++) {
        char state[6];
        rc = pg_command(c, sql, state);
        if (rc != 0 && strcmp(state, "55006") != 0) { /* object_in_use */
            fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
            break;
        }
        if (rc != 0)
            nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    PQfinish(c);
    return rc;
}

/* Drop path's database, or every database whose name begins with prefix. */
static void pg_drop(const char *path, const char *prefix)
{
    PGconn *c = pg_connect(NULL);
    if (c == NULL)
        return;
    char name[64], sql[512];
    if (path != NULL) {
        db_name(path, name, sizeof name);
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
        pg_command(c, sql, NULL);
        PQfinish(c);
        return;
    }
    const char *params[1] = {prefix};
    PGresult *r = PQexecParams(c, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                               1, NULL, params, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", PQgetvalue(r, i, 0));
        pg_command(c, sql, NULL);
    }
    PQclear(r);
    PQfinish(c);
}
#endif

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
    if (path == NULL)
        return;
#ifdef CTM_HAVE_POSTGRES
    size_t n = strlen(path);
    for (size_t i = 0; i < nmapped;) {
        if (strncmp(mapped[i], path, n) == 0 && mapped[i][n] == '/') {
            pg_drop(mapped[i], NULL);
            free(mapped[i]);
            mapped[i] = mapped[--nmapped];
        } else {
            i++;
        }
    }
#endif
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

int tu_copy_site(const char *from_dir, const char *to_dir, const char *site)
{
    static const char *const suffixes[] = {".key", "", "-wal"};
    size_t nfiles = tu_backend() == TU_SQLITE ? 3 : 1;
    for (size_t i = 0; i < nfiles; i++) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s%s", from_dir, site, suffixes[i]);
        snprintf(to, sizeof to, "%s/%s%s", to_dir, site, suffixes[i]);
        if (access(from, F_OK) != 0 && i == 2)
            continue;
        if (tu_copy_file(from, to) != 0)
            return -1;
    }
#ifdef CTM_HAVE_POSTGRES
    if (tu_backend() == TU_POSTGRES) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s", from_dir, site);
        snprintf(to, sizeof to, "%s/%s", to_dir, site);
        return pg_clone(from, to);
    }
#endif
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
    int rc = tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR;
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

void tu_day(int days, char out[11])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

void tu_kit_pairs(char *m, size_t cap, int n)
{
    char far[11];
    tu_day(400, far);
    size_t len = 0;
    m[0] = '\0';
    for (int i = 1; i <= n && len < cap; i++)
        len += (size_t)snprintf(m + len, cap - len, "A%d,KT,L1,%s,ACT\nB%d,KT,L1,%s,PLA\n", i,
                                far, i, far);
}

char *tu_build_trial_site(struct tu_trial_site *site, ctm_db **h)
{
    char *dir = tu_build_template("admin", "Ada Admin", site->password, site->users,
                                  site->nusers);
    if (dir == NULL)
        exit(EXIT_FAILURE);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, dir);
    *h = NULL;
    tu_must(tu_open_rc(h, path, NULL), "open");
    tu_must(ctm_login(*h, site->users[0].name, site->users[0].password), "login");
    tu_must(ctm_trial_add(*h, site->trial, "Blinded", site->sponsor, 1, site->arms), "trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.dispensing_days = site->dispensing_days;
    tu_must(ctm_kittype_add(*h, site->trial, "KT", "Drug X or placebo", 30, 2, 8, site->dnd_days,
                            site->dispensing_days > 0 ? &ko : NULL),
            "kit type");
    tu_must(ctm_location_add(*h, "FRIDGE1", "fridge", 2, 8), "location");
    size_t len = strlen("kit_number,kit_type,lot,expiry,arm\n") + strlen(site->kits);
    char *m = malloc(len + 1);
    tu_must(m != NULL ? CTM_OK : CTM_ENOMEM, "manifest");
    snprintf(m, len + 1, "kit_number,kit_type,lot,expiry,arm\n%s", site->kits);
    ctm_receive_options ro = CTM_RECEIVE_OPTIONS_INIT;
    ro.date_received = site->date_received;
    tu_must(ctm_receive(*h, site->trial, "SH1", m, len, "FRIDGE1", &ro), "receive");
    free(m);
    tu_must(ctm_receive_confirm(*h, "SH1", 1), "confirm");
    for (size_t i = 0; i < site->nvisits; i++) {
        const struct tu_visit *v = &site->visits[i];
        tu_must(ctm_visit_add(*h, site->trial, v->code, v->days, v->anchor, v->window, "KT:1"),
                "visit");
    }
    ctm_random_options rand = CTM_RANDOM_OPTIONS_INIT;
    tu_must(ctm_random_generate(*h, site->trial, site->list_size, "2", &rand), "list");
    for (int i = 1; i <= site->subjects && i <= 8; i++) {
        char s[8];
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        snprintf(s, sizeof s, "S%d", i);
        tu_must(ctm_subject_add(*h, site->trial, s, NULL), "subject");
        tu_must(ctm_randomize(*h, site->trial, s, &r), "randomize");
        snprintf(site->arm[i - 1], sizeof site->arm[i - 1], "%s", r.arm);
    }
    return dir;
}

ctm_db *tu_site_open(const char *template_dir, char **dir, char path[4096], const char *user,
                     const char *password)
{
    *dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(path, 4096, "%s/" TU_SITE_DB, *dir);
    ctm_db *h = tu_open(path, NULL);
    tu_login(h, user, password);
    return h;
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

int tu_create_site(const char *path)
{
    if (tu_backend() == TU_SQLITE)
        return 0;
#ifdef CTM_HAVE_POSTGRES
    PGconn *c = pg_connect(NULL);
    if (c == NULL)
        return -1;
    char name[64], sql[256], state[6];
    db_name(path, name, sizeof name);
    free(tu_target(path)); /* registers path for tu_rmtree */
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    int rc = pg_command(c, sql, state);
    if (rc != 0 && strcmp(state, "42P04") == 0) /* duplicate_database: made before */
        rc = 0;
    else if (rc != 0)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQfinish(c);
    return rc;
#else
    (void)path;
    return -1;
#endif
}

int tu_open_rc(ctm_db **out, const char *path, const ctm_open_options *options)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    if (options != NULL)
        o = *options;
    char key[4200];
    char *target = tu_target(path);
    if (target == NULL) {
        *out = NULL;
        return CTM_ENOMEM;
    }
    if (tu_backend() == TU_POSTGRES && o.key_path == NULL && o.site_seed == NULL) {
        snprintf(key, sizeof key, "%s.key", path);
        o.key_path = key;
    }
    if (tu_backend() == TU_POSTGRES && (o.flags & CTM_OPEN_CREATE) && tu_create_site(path) != 0) {
        free(target);
        *out = NULL;
        return CTM_EIO;
    }
    int rc = ctm_open(out, target, &o);
    free(target);
    return rc;
}

ctm_db *tu_open(const char *path, const ctm_open_options *options)
{
    ctm_db *h = NULL;
    int rc = tu_open_rc(&h, path, options);
    ck_assert_msg(rc == CTM_OK, "open %s: %s", path, ctm_errmsg());
    return h;
}

void tu_login(ctm_db *h, const char *user, const char *pw)
{
    int rc = ctm_login(h, user, pw);
    ck_assert_msg(rc == CTM_OK, "login %s: %s", user, ctm_errmsg());
}

void tu_as(ctm_db *h, const char *user, const char *pw)
{
    ctm_logout(h);
    tu_login(h, user, pw);
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

#ifdef CTM_HAVE_POSTGRES
/* query (one row) on path's database through libpq, ?N written as $N; the result. */
static PGresult *pg_row(const char *path, const char *query, const char *arg)
{
    PGconn *c = pg_connect(path);
    ck_assert_msg(c != NULL, "cannot connect to the database of %s", path);
    char *q = malloc(strlen(query) + 1);
    ck_assert_ptr_nonnull(q);
    size_t n = 0;
    char quote = 0;
    for (const char *p = query; *p != '\0'; p++) {
        if (quote != 0 && *p == quote)
            quote = 0;
        else if (quote == 0 && (*p == '\'' || *p == '"'))
            quote = *p;
        q[n++] = quote == 0 && *p == '?' && isdigit((unsigned char)p[1]) ? '$' : *p;
    }
    q[n] = '\0';
    const char *params[1] = {arg};
    PGresult *r = PQexecParams(c, q, arg != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1, "%s: %s", q,
                  PQresultStatus(r) == PGRES_TUPLES_OK ? "no row" : PQerrorMessage(c));
    free(q);
    PQfinish(c);
    return r;
}
#endif

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
#ifdef CTM_HAVE_POSTGRES
    if (tu_backend() == TU_POSTGRES) {
        PGresult *r = pg_row(path, query, arg);
        const char *t = PQgetvalue(r, 0, 0);
        int64_t v = strcmp(t, "t") == 0 ? 1 : strcmp(t, "f") == 0 ? 0 : strtoll(t, NULL, 10);
        PQclear(r);
        return v;
    }
#endif
    sqlite3 *s;
    sqlite3_stmt *st = sql_row(path, query, arg, &s);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

char *tu_sql_text(const char *path, const char *query)
{
    char *v;
#ifdef CTM_HAVE_POSTGRES
    if (tu_backend() == TU_POSTGRES) {
        PGresult *r = pg_row(path, query, NULL);
        v = strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        ck_assert_ptr_nonnull(v);
        return v;
    }
#endif
    sqlite3 *s;
    sqlite3_stmt *st = sql_row(path, query, NULL, &s);
    v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
    ck_assert_ptr_nonnull(v);
    return v;
}

void tu_sql_exec(const char *path, const char *sql)
{
#ifdef CTM_HAVE_POSTGRES
    if (tu_backend() == TU_POSTGRES) {
        PGconn *c = pg_connect(path);
        ck_assert_msg(c != NULL, "cannot connect to the database of %s", path);
        int rc = pg_command(c, "SET session_replication_role = replica", NULL);
        if (rc == 0)
            rc = pg_command(c, sql, NULL);
        PQfinish(c);
        ck_assert_msg(rc == 0, "%s failed (see above)", sql);
        return;
    }
#endif
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(s, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err != NULL ? err : "?");
    sqlite3_free(err);
    sqlite3_close(s);
}

struct ctm__store *tu_store(const char *path, int intruder)
{
    char *target = tu_target(path);
    ck_assert_ptr_nonnull(target);
    ctm__store *st = NULL;
    int rc = ctm__store_open(&st, target, intruder ? 0 : CTM__STORE_READONLY);
    free(target);
    ck_assert_msg(rc == CTM_OK, "opening %s: %s", path, ctm_errmsg());
    int version = 0;
    ck_assert_msg(ctm__store_schema_version(st, &version) == CTM_OK, "%s: %s", path, ctm_errmsg());
    if (intruder && ctm__store_engine(st) == CTM__ENGINE_POSTGRES)
        ck_assert_msg(ctm__store_exec(st, "SET session_replication_role = replica") == CTM_OK,
                      "%s", ctm_errmsg());
    return st;
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
    tu_backend(); /* decided before the runner forks */
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
#ifdef CTM_HAVE_POSTGRES
    /* what failed tests (whose teardown a forked runner skips) and templates left */
    if (tu_backend() == TU_POSTGRES)
        pg_drop(NULL, run_prefix);
#endif
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
