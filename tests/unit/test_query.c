/* test_query.c - result sets: columns by name, values shown otherwise than stored (times, keys,
 * a trial's arms), and a query that outlives its handle. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define ADMIN "admin"
#define PW "query-test-pw"
#define TRIAL "EU-CT-2026-500077"
/* distinctive arm codes, so that a leak is found by a plain search */
#define ARM1 "ARMQALPHA"
#define ARM2 "ARMQBETA"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void setup(void)
{
    ck_assert_ptr_nonnull(template_dir);
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/" TU_SITE_DB, dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

/* ---- columns by name ---- */

START_TEST(test_column_index_finds_every_column)
{
    ctm_query *q = NULL;
    tu_ok(ctm_user_list(&q, db));
    int n = ctm_query_column_count(q);
    ck_assert_int_eq(n, 9);
    /* before the first row, and on a row alike */
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ctm_query_column_index(q, ctm_query_column_name(q, i)), i);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    int role = ctm_query_column_index(q, "role");
    int user = ctm_query_column_index(q, "user");
    ck_assert_int_ge(role, 0);
    ck_assert_int_ne(role, user);
    ck_assert_str_eq(ctm_query_column_name(q, role), "role");
    ck_assert_str_eq(ctm_query_text(q, user), ADMIN);
    ck_assert_str_eq(ctm_query_text(q, role), "admin");
    ctm_query_free(q);
}
END_TEST

START_TEST(test_column_index_of_a_rendered_listing)
{
    /* The audit log names its columns itself rather than taking SQLite's. */
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, 0, 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    int action = ctm_query_column_index(q, "action");
    int leaf = ctm_query_column_index(q, "leaf_hash");
    ck_assert_int_ge(action, 0);
    ck_assert_int_eq(leaf, ctm_query_column_count(q) - 1);
    ck_assert_str_eq(ctm_query_text(q, action), "site.init");
    ck_assert_uint_eq(strlen(ctm_query_text(q, leaf)), 64);
    ctm_query_free(q);
}
END_TEST

START_TEST(test_column_index_refuses_unknown_and_null)
{
    ctm_query *q = NULL;
    tu_ok(ctm_trial_list(&q, db));
    ck_assert_int_eq(ctm_query_column_index(q, "arm"), CTM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "\"arm\""));
    /* names are exact */
    ck_assert_int_eq(ctm_query_column_index(q, "Code"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_query_column_index(q, "code "), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_query_column_index(q, ""), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_query_column_index(q, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_query_column_index(NULL, "code"), CTM_EINVAL);
    /* a success clears the message of the last failure */
    ck_assert_int_eq(ctm_query_column_index(q, "code"), 0);
    ck_assert_int_eq(ctm_errcode(), CTM_OK);
    ctm_query_free(q);
}
END_TEST

/* ---- values shown otherwise than stored ---- */

/* A time of the database as listings show it: the UTC second, ISO 8601. */
static void utc_second(int64_t us, char out[32])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void assert_text(ctm_query *q, const char *col, const char *want)
{
    int i = ctm_query_column_index(q, col);
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(ctm_query_column_type(q, i), CTM_TEXT);
    ck_assert_str_eq(ctm_query_text(q, i), want);
}

START_TEST(test_trial_list_shows_arms_in_order_and_time)
{
    tu_ok(ctm_trial_add(db, "ZZ-OPEN", "An open trial", "Sponsor AB", 0, "ZED:3,ALP:1,MID:12"));
    ctm_query *q = NULL;
    tu_ok(ctm_trial_list(&q, db));
    char want[32];
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    assert_text(q, "code", TRIAL);
    assert_text(q, "arms", ARM1 ":1," ARM2 ":1");
    utc_second(tu_sql_int(db_path, "SELECT created_us FROM trials WHERE code = ?1", TRIAL), want);
    assert_text(q, "created", want);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    assert_text(q, "code", "ZZ-OPEN");
    assert_text(q, "arms", "ZED:3,ALP:1,MID:12"); /* as given, not sorted */
    utc_second(tu_sql_int(db_path, "SELECT created_us FROM trials WHERE code = ?1", "ZZ-OPEN"),
               want);
    assert_text(q, "created", want);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}
END_TEST

START_TEST(test_user_list_shows_time_and_key_as_text)
{
    ctm_query *q = NULL;
    tu_ok(ctm_user_list(&q, db));
    while (ctm_query_next(q) == CTM_ROW && strcmp(ctm_query_text(q, 0), "pia") != 0)
        ;
    ck_assert_str_eq(ctm_query_text(q, 0), "pia");
    char want[32];
    utc_second(tu_sql_int(db_path, "SELECT created_us FROM users WHERE username = ?1", "pia"),
               want);
    assert_text(q, "created", want);
    char *key = tu_sql_text(
        db_path, tu_dialect("SELECT lower(hex(public_key)) FROM users WHERE username = 'pia'",
                            "SELECT encode(public_key, 'hex') FROM users WHERE username = 'pia'"));
    ck_assert_uint_eq(strlen(key), 64);
    assert_text(q, "public_key", key);
    free(key);
    ctm_query_free(q);
}
END_TEST

START_TEST(test_kit_history_shows_since_and_open_until)
{
    ctm_query *q = NULL;
    tu_ok(ctm_kit_history(&q, db, TRIAL, "Q-001"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char want[32];
    utc_second(tu_sql_int(db_path, "SELECT registered_us FROM shipments WHERE number = ?1", "SH-Q1"),
               want);
    assert_text(q, "location", "FRIDGE1");
    assert_text(q, "since", want);
    /* still there: no end */
    int until = ctm_query_column_index(q, "until");
    ck_assert_int_eq(ctm_query_column_type(q, until), CTM_NULL);
    ck_assert_ptr_null(ctm_query_text(q, until));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}
END_TEST

/* ---- lifetime ---- */

static int count_rows(ctm_query *q)
{
    int n = 0, rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW)
        n++;
    ck_assert_msg(rc == CTM_DONE, "status %d: %s", rc, ctm_errmsg());
    return n;
}

START_TEST(test_query_outlives_its_handle)
{
    uint64_t size = tu_audit_size(db);
    ctm_query *users = NULL, *log = NULL;
    tu_ok(ctm_user_list(&users, db));
    tu_ok(ctm_audit_log(&log, db, 0, 0));
    ck_assert_int_eq(ctm_query_next(users), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(users, 0), ADMIN);
    ctm_close(db);
    db = NULL;
    /* a query half read, and one not yet begun, both read to their end */
    ck_assert_int_eq(count_rows(users), 2);
    ck_assert_int_eq(ctm_query_next(users), CTM_DONE);
    ck_assert_int_eq(count_rows(log), (int)size);
    int user = ctm_query_column_index(log, "user");
    ck_assert_int_ge(user, 0);
    ctm_query_free(users);
    ctm_query_free(log);
}
END_TEST

START_TEST(test_query_after_close_does_not_block_writers)
{
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, 0, 0));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ctm_close(db);
    /* the query keeps a read snapshot; another handle still writes */
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
    uint64_t before = tu_audit_size(db);
    tu_ok(ctm_audit_note(db, "written while an old query is open", NULL));
    ck_assert_uint_eq(tu_audit_size(db), before + 1);
    ctm_query_free(q);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(test_query_of_a_batch_closed_unfinished)
{
    /* Closing rolls the open batch back: the query reading it fails cleanly, it does not crash. */
    uint64_t before = tu_audit_size(db);
    tu_ok(ctm_batch_begin(db));
    tu_ok(ctm_audit_note(db, "never committed", NULL));
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, 0, 0));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ctm_close(db);
    db = NULL;
    /* SQLite lets a pending read go on after the rollback; it shows nothing rolled back.  The
     * PostgreSQL engine, which must free the connection to roll back, first reads the rest of
     * the rows (read inside the batch), so they end with the batch's entry (docs/internals.md,
     * "The engines"). */
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW)
        ck_assert_int_lt(ctm_query_int64(q, 0),
                         (int64_t)before + (tu_backend() == TU_POSTGRES ? 1 : 0));
    ck_assert_msg(rc == CTM_DONE || rc < 0, "status %d", rc);
    ctm_query_free(q);
    db = tu_open(db_path, NULL);
    ck_assert_uint_eq(tu_audit_size(db), before);
}
END_TEST

START_TEST(test_query_keeps_the_rights_it_was_made_with)
{
    /* made by the blinded technician, read after the unblinded pharmacist logged in */
    ctm_logout(db);
    tu_login(db, "ted", PW);
    ctm_query *kits = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.trial = TRIAL;
    tu_ok(ctm_kits(&kits, db, &f));
    ctm_logout(db);
    tu_login(db, "pia", PW);
    int arm = ctm_query_column_index(kits, "arm");
    ck_assert_int_ge(arm, 0);
    int n = 0;
    while (ctm_query_next(kits) == CTM_ROW) {
        ck_assert_str_eq(ctm_query_text(kits, arm), "(blinded)");
        n++;
    }
    ck_assert_int_eq(n, 2);
    ctm_query_free(kits);
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tu_tcase(s, "columns", setup, teardown, 120);
    tcase_add_test(tc, test_column_index_finds_every_column);
    tcase_add_test(tc, test_column_index_of_a_rendered_listing);
    tcase_add_test(tc, test_column_index_refuses_unknown_and_null);
    tc = tu_tcase(s, "shown values", setup, teardown, 120);
    tcase_add_test(tc, test_trial_list_shows_arms_in_order_and_time);
    tcase_add_test(tc, test_user_list_shows_time_and_key_as_text);
    tcase_add_test(tc, test_kit_history_shows_since_and_open_until);
    tc = tu_tcase(s, "lifetime", setup, teardown, 120);
    tcase_add_test(tc, test_query_outlives_its_handle);
    tcase_add_test(tc, test_query_after_close_does_not_block_writers);
    tcase_add_test(tc, test_query_of_a_batch_closed_unfinished);
    tcase_add_test(tc, test_query_keeps_the_rights_it_was_made_with);
    return s;
}

/* The site once: an admin, an unblinded pharmacist, a blinded technician, a blinded trial with
 * two kits received. */
static char *build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"ted", "technician", 0, "Ted Tech", PW},
    };
    char *tdir = tu_build_template(ADMIN, "Ada Admin", PW, users, 2);
    if (tdir == NULL)
        return NULL;
    static const char manifest[] = "kit_number,kit_type,lot,expiry,arm\n"
                                   "Q-001,KT,L1,2031-01-31," ARM1 "\n"
                                   "Q-002,KT,L1,2031-01-31," ARM2 "\n";
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, tdir);
    ctm_db *h = NULL;
    int rc = tu_open_rc(&h, path, NULL);
    if (rc == CTM_OK)
        rc = ctm_login(h, "pia", PW);
    if (rc == CTM_OK)
        rc = ctm_trial_add(h, TRIAL, "A blinded trial", "Sponsor AB", 1, ARM1 ":1," ARM2 ":1");
    if (rc == CTM_OK)
        rc = ctm_kittype_add(h, TRIAL, "KT", "Drug Q 5 mg", 30, 2, 8, 30, NULL);
    if (rc == CTM_OK)
        rc = ctm_location_add(h, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_receive(h, TRIAL, "SH-Q1", manifest, sizeof manifest - 1, "FRIDGE1", NULL);
    if (rc != CTM_OK)
        fprintf(stderr, "test_query: building the template: %s\n", ctm_errmsg());
    ctm_close(h);
    if (rc != CTM_OK) {
        tu_rmtree(tdir);
        free(tdir);
        return NULL;
    }
    return tdir;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    template_dir = build_template();
    if (template_dir == NULL)
        return EXIT_FAILURE;
    int rc = tu_run_suite(query_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
