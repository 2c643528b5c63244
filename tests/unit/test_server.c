/* test_server.c - opening a site on a PostgreSQL server: the same clear refusals as for files (a
 * wrong connection string, a database that is not a libctm site, a newer schema), no default key
 * file, and no password in any message.  Runs when the environment names a server
 * (CTM_TEST_PG, or PGHOST as pg_virtualenv sets it); otherwise it says so and skips (77). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctm.h"
#include "store.h"
#include "pgutil.h"
#include "testutil.h"

#define PW "correct horse 1"

static const char *pg_base;
static char run_prefix[64];
static char *dir;
static char target[256], key_path[4200];

static void server_sql(const char *sql)
{
    ctm__store *s = NULL;
    ck_assert_msg(ctm__store_open(&s, target, 0) == CTM_OK, "%s", ctm_errmsg());
    ck_assert_msg(ctm__store_exec(s, sql) == CTM_OK, "%s: %s", sql, ctm_errmsg());
    ctm__store_close(s);
}

static void setup(void)
{
    dir = tu_test_dir(NULL, NULL);
    snprintf(key_path, sizeof key_path, "%s/site.key", dir);
    pu_new_database(pg_base, run_prefix, target, sizeof target);
}

static void teardown(void)
{
    tu_teardown(&dir, NULL, NULL);
}

static ctm_db *create_site(void)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    o.key_path = key_path;
    ctm_db *h = tu_open(target, &o);
    tu_ok(ctm_init(h, TU_SITE_NAME, TU_ORIGIN, "anna", "Anna Berg", PW));
    return h;
}

START_TEST(test_site_on_server)
{
    ctm_db *h = create_site();
    tu_ok(ctm_user_add(h, "pete", "pharmacist", 1, "Pete Ström", PW));
    tu_ok(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8));
    ck_assert_uint_eq(tu_audit_size(h), 3);
    ctm_close(h);
    /* reopened: the same site, the writes signed with the named key */
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.key_path = key_path;
    h = tu_open(target, &o);
    tu_login(h, "pete", PW);
    tu_ok(ctm_audit_note(h, "on the server", NULL));
    ck_assert_uint_eq(tu_audit_size(h), 4);
    ctm_close(h);
}
END_TEST

/* A server site has no key file beside it: a write without one fails clearly, changing nothing. */
START_TEST(test_no_default_key_file)
{
    ctm_db *h = create_site();
    ctm_close(h);
    h = tu_open(target, NULL);
    tu_login(h, "anna", PW);
    int rc = ctm_audit_note(h, "unsigned", NULL);
    ck_assert_int_eq(rc, CTM_EIO);
    ck_assert_msg(strstr(ctm_errmsg(), "--site-key") != NULL, "%s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(h), 1);
    ctm_close(h);
}
END_TEST

START_TEST(test_refusals)
{
    ctm_db *h = NULL;
    /* an empty database without CTM_OPEN_CREATE */
    ck_assert_int_eq(ctm_open(&h, target, NULL), CTM_ENOTDB);
    ck_assert_msg(strstr(ctm_errmsg(), "empty database") != NULL, "%s", ctm_errmsg());
    ck_assert_ptr_null(h);
    /* a database that holds something else */
    server_sql("CREATE TABLE invoices(id int)");
    ck_assert_int_eq(ctm_open(&h, target, NULL), CTM_ENOTDB);
    ck_assert_msg(strstr(ctm_errmsg(), "not a libctm database") != NULL, "%s", ctm_errmsg());
    /* a database that does not exist, and a server nobody listens on */
    char missing[300];
    snprintf(missing, sizeof missing, "%s_missing", target);
    ck_assert_int_eq(ctm_open(&h, missing, NULL), CTM_EIO);
    ck_assert_msg(strstr(ctm_errmsg(), "_missing") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(ctm_open(&h, "postgresql://127.0.0.1:1/x?connect_timeout=2", NULL), CTM_EIO);
    /* a connection string libpq cannot read */
    int rc = ctm_open(&h, "postgresql://[::1/x", NULL);
    ck_assert_msg(rc == CTM_EIO || rc == CTM_EINVAL, "%d %s", rc, ctm_errmsg());
    ck_assert_ptr_null(h);
    /* the password of a connection string is never in a message */
    rc = ctm_open(&h, "postgresql://someone:s3cr3t-word@127.0.0.1:1/x?connect_timeout=2", NULL);
    ck_assert_int_ne(rc, CTM_OK);
    ck_assert_msg(strstr(ctm_errmsg(), "s3cr3t-word") == NULL, "%s", ctm_errmsg());
}
END_TEST

/* A site written by a newer libctm is refused, and left as it is. */
START_TEST(test_newer_schema)
{
    ctm_db *h = create_site();
    ctm_close(h);
    server_sql("UPDATE ctm__schema SET version = 99");
    h = NULL;
    ck_assert_int_eq(ctm_open(&h, target, NULL), CTM_EVERSION);
    ck_assert_msg(strstr(ctm_errmsg(), "99") != NULL, "%s", ctm_errmsg());
    ck_assert_ptr_null(h);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tu_tcase(s, "open", setup, teardown, 60);
    tcase_add_test(tc, test_site_on_server);
    tcase_add_test(tc, test_no_default_key_file);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_newer_schema);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    pg_base = pu_server();
    if (pg_base == NULL) {
        fprintf(stderr, "server: skipped (name a PostgreSQL server with CTM_TEST_PG or PGHOST)\n");
        return 77;
    }
    snprintf(run_prefix, sizeof run_prefix, "ctm_server_%ld", (long)getpid());
    int rc = tu_run_suite(server_suite());
    pu_drop_databases(pg_base, run_prefix);
    return rc;
}
