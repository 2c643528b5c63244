/* test_batch.c - batches: several actions, one transaction, one signed checkpoint. */
#include "ctm.h"
#include "internal.h" /* white-box: one test drives an action that fails after it began */
#include "testutil.h"

#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ADMIN "admin"
#define ADMIN_PW "admin-password"
#define PHARM "pharm"
#define PHARM_PW "pharm-password"

/* The initialised site (admin + one pharmacist) is built once; each test works on its own copy. */
static char *template_dir;
static char *tdir;
static char dbpath[4096];
static char keypath[4200];
static ctm_db *db_a, *db_b;

static ctm_db *open_db(int busy_ms)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.busy_timeout_ms = busy_ms;
    return tu_open(dbpath, &o);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(template_dir);
    tdir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(dbpath, sizeof dbpath, "%s/" TU_SITE_DB, tdir);
    snprintf(keypath, sizeof keypath, "%s.key", dbpath);
    db_b = NULL;
    db_a = open_db(0);
    tu_login(db_a, ADMIN, ADMIN_PW);
}

static void teardown(void)
{
    tu_teardown(&tdir, &db_a, &db_b);
}

/* ---- inspection ---- */

/* Through a connection of its own, so it sees only what is committed. */
static int64_t sql_int(const char *query)
{
    return tu_sql_int(dbpath, query, NULL);
}

static int64_t checkpoints(void)
{
    return sql_int("SELECT count(*) FROM checkpoints");
}

/* The tree size the newest signed checkpoint covers (its second line). */
static uint64_t checkpoint_size(ctm_db *h)
{
    char *note = NULL;
    int rc = ctm_audit_checkpoint(&note, h);
    ck_assert_msg(rc == CTM_OK, "checkpoint: %s", ctm_errmsg());
    const char *nl = strchr(note, '\n');
    ck_assert_ptr_nonnull(nl);
    uint64_t n = strtoull(nl + 1, NULL, 10);
    ctm_free(note);
    return n;
}

static char *log_action(ctm_db *h, uint64_t seq)
{
    ctm_query *q = tu_log_entry(h, seq);
    char *a = strdup(ctm_query_text(q, 3));
    ctm_query_free(q);
    return a;
}

static void note(ctm_db *h, const char *text)
{
    int rc = ctm_audit_note(h, text, NULL);
    ck_assert_msg(rc == CTM_OK, "note '%s': %s", text, ctm_errmsg());
}

/* ---- commit ---- */

START_TEST(test_commit_three_notes_one_checkpoint)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "first");
    note(db_a, "second");
    ck_assert_int_eq(ctm_audit_note(db_a, "third, signed", "reviewed"), CTM_OK);
    /* Nobody else sees them yet. */
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ledger"), (int64_t)n);
    ck_assert_int_eq(checkpoints(), cps);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ledger"), (int64_t)n + 3);
    ck_assert_int_eq(checkpoints(), cps + 1);
    ck_assert_uint_eq(checkpoint_size(db_a), n + 3);
    for (uint64_t i = 0; i < 3; i++) {
        char *a = log_action(db_a, n + i);
        ck_assert_str_eq(a, "audit.note");
        free(a);
    }
    tu_assert_verifies_all(db_a, NULL);
    /* The handle is back to one transaction per action. */
    note(db_a, "after the batch");
    ck_assert_int_eq(checkpoints(), cps + 2);
    ck_assert_uint_eq(checkpoint_size(db_a), n + 4);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* Thousands of entries cross many of the hashing thread's chunks, one of them larger than a
 * chunk; the signed root must be the root of exactly these entries in this order. */
START_TEST(test_large_batch_hashes_every_entry_in_order)
{
    uint64_t n = tu_audit_size(db_a);
    char *big = malloc(9001);
    memset(big, 'k', 9000);
    big[9000] = '\0';
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    for (int i = 0; i < 3000; i++) {
        char text[64];
        snprintf(text, sizeof text, "stock count line %d", i);
        note(db_a, i == 1234 ? big : text);
        if (i == 2000)
            ck_assert_int_eq(ctm_user_add(db_a, "mid", "technician", 0, NULL, "mid-batch-pw"),
                             CTM_OK);
    }
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    free(big);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3001);
    ck_assert_uint_eq(checkpoint_size(db_a), n + 3001);
    tu_assert_verifies_all(db_a, NULL);
    /* and a rolled-back large batch leaves nothing behind */
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    for (int i = 0; i < 1000; i++)
        note(db_a, "to be rolled back");
    ck_assert_int_eq(ctm_batch_rollback(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3001);
    note(db_a, "after the rollback");
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* The handle sees its own uncommitted entries: the size counts them, the log lists them. */
START_TEST(test_size_and_log_inside_batch)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "one");
    note(db_a, "two");
    uint64_t inside = 0;
    int rc = ctm_audit_size(db_a, &inside);
    ck_assert_msg(rc == CTM_OK, "audit size inside a batch: %s", ctm_errmsg());
    ck_assert_uint_eq(inside, n + 2);
    char *a = log_action(db_a, n + 1);
    ck_assert_str_eq(a, "audit.note");
    free(a);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_failing_action_fails_alone)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "before the failure");
    ck_assert_int_eq(ctm_user_add(db_a, PHARM, "technician", 0, NULL, "duplicate-pw"),
                     CTM_EEXISTS);
    ck_assert_int_eq(ctm_user_disable(db_a, ADMIN, "self"), CTM_ERULE);
    ck_assert_int_eq(ctm_audit_note(db_a, "", NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_add(db_a, "nina", "technician", 0, NULL, "nina-password"), CTM_OK);
    note(db_a, "after the failure");
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3);
    ck_assert_int_eq(checkpoints(), cps + 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users WHERE username = 'nina'"), 1);
    ck_assert_int_eq(sql_int("SELECT role = 'pharmacist' FROM users WHERE username = 'pharm'"), 1);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* White-box: an action that has changed rows and then fails is rolled back to where it began,
 * leaving the batch's other actions in place. */
START_TEST(test_failed_action_rolls_back_to_its_start)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "kept");
    ctm__action a;
    ck_assert_int_eq(ctm__action_begin(&a, db_a, "location.add", "white-box"), CTM_OK);
    ck_assert_int_eq(ctm__store_exec(db_a->store,
                                     "UPDATE users SET printed_name = 'Changed' WHERE username = 'pharm'"),
                     CTM_OK);
    ctm__action_rollback(&a);
    note(db_a, "kept too");
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users WHERE printed_name = 'Changed'"), 0);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* White-box: the pre-update capture records every change in statement order (no merging), an
 * INTEGER PRIMARY KEY by its rowid, a key change as a delete and an insert, and skips an update
 * that changes nothing; the log still verifies by replaying in that order. */
START_TEST(test_capture_records_in_statement_order)
{
    ctm__action a;
    ck_assert_int_eq(ctm__action_begin(&a, db_a, "location.add", "white-box"), CTM_OK);
    const char *sql =
        "INSERT INTO locations(id, name, kind, min_mc, max_mc) VALUES (901, 'Shelf X', 'ambient', 15, 25);"
        "UPDATE locations SET max_mc = 30 WHERE id = 901;"
        "UPDATE locations SET max_mc = 30 WHERE id = 901;" /* changes nothing */
        "UPDATE locations SET id = 902 WHERE id = 901;"
        "INSERT INTO locations(name, kind, min_mc, max_mc) VALUES ('Shelf Y', 'ambient', -200, 8);"
        "DELETE FROM locations WHERE id = 902;";
    ck_assert_int_eq(ctm__store_exec(db_a->store, sql), CTM_OK);
    ck_assert_int_eq(ctm__action_commit(&a), CTM_OK);

    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(db_a->store, &st, "SELECT entry FROM ledger ORDER BY seq DESC LIMIT 1"),
                     CTM_OK);
    ck_assert_int_eq(ctm__st_step(st), CTM_ROW);
    ctm__entry e;
    char why[128] = "";
    ck_assert_msg(ctm__entry_decode(&e, ctm__st_blob(st, 0), ctm__st_bytes(st, 0),
                                    why, sizeof why) == 0,
                  "%s", why);
    const char ops[] = "IUDIID";
    ck_assert_uint_eq(e.nchanges, 6);
    for (uint32_t i = 0; i < e.nchanges; i++) {
        ck_assert_str_eq(e.changes[i].table, "locations");
        ck_assert_int_eq(e.changes[i].op, ops[i]);
    }
    /* the rowid alias is a value, not NULL; the update names the key and max_mc only */
    ck_assert_int_eq(e.changes[0].cols[0].new_value.tag, CTM_V_INT);
    ck_assert(e.changes[0].cols[0].new_value.i == 901);
    ck_assert_uint_eq(e.changes[1].ncols, 2);
    ck_assert_str_eq(e.changes[1].cols[1].name, "max_mc");
    ck_assert(e.changes[2].cols[0].old_value.i == 901 && e.changes[3].cols[0].new_value.i == 902);
    ck_assert_int_eq(e.changes[4].cols[0].new_value.tag, CTM_V_INT);
    ck_assert(e.changes[4].cols[3].new_value.i == -200);
    ctm__entry_free(&e);
    ctm__st_finalize(st);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_empty_commit_no_checkpoint)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(checkpoints(), cps);
    /* Only failures inside: still nothing to sign. */
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    ck_assert_int_eq(ctm_user_add(db_a, PHARM, "technician", 0, NULL, "duplicate-pw"),
                     CTM_EEXISTS);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(checkpoints(), cps);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* ---- rollback ---- */

START_TEST(test_rollback_drops_everything)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    char *cp_before = NULL;
    ck_assert_int_eq(ctm_audit_checkpoint(&cp_before, db_a), CTM_OK);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "to be dropped");
    ck_assert_int_eq(ctm_user_add(db_a, "nina", "technician", 0, NULL, "nina-password"), CTM_OK);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "technician", 0, "reorganisation"), CTM_OK);
    ck_assert_int_eq(ctm_batch_rollback(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(checkpoints(), cps);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users WHERE username = 'nina'"), 0);
    ck_assert_int_eq(sql_int("SELECT role = 'pharmacist' FROM users WHERE username = 'pharm'"), 1);
    char *cp_after = NULL;
    ck_assert_int_eq(ctm_audit_checkpoint(&cp_after, db_a), CTM_OK);
    ck_assert_str_eq(cp_after, cp_before);
    ctm_free(cp_before);
    ctm_free(cp_after);
    tu_assert_verifies_all(db_a, NULL);
    /* The handle writes normally afterwards, continuing the same log. */
    note(db_a, "after the rollback");
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    ck_assert_uint_eq(checkpoint_size(db_a), n + 1);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_close_with_open_batch_drops_it)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "never committed");
    ctm_close(db_a);
    db_a = open_db(0);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* ---- misuse ---- */

START_TEST(test_nested_begin_refused)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "outer");
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_EMISUSE);
    ck_assert_str_ne(ctm_errmsg(), "");
    /* The outer batch is intact. */
    note(db_a, "still outer");
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_EMISUSE);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_commit_or_rollback_without_begin)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_EMISUSE);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_int_eq(ctm_batch_rollback(db_a), CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_commit(NULL), CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_begin(NULL), CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_rollback(NULL), CTM_EMISUSE);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(checkpoints(), cps);
    /* Nothing was left half-open. */
    note(db_a, "ordinary write");
    ck_assert_int_eq(sql_int("SELECT count(*) FROM ledger"), (int64_t)n + 1);
}
END_TEST

/* ---- with other handles ---- */

START_TEST(test_batch_holds_write_lock)
{
    db_b = open_db(100);
    tu_login(db_b, PHARM, PHARM_PW);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "in the batch");
    ck_assert_uint_eq(tu_audit_size(db_b), n);
    ck_assert_int_eq(ctm_audit_note(db_b, "from the other handle", NULL), CTM_EBUSY);
    ck_assert_int_eq(ctm_batch_begin(db_b), CTM_EBUSY);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_b), n + 1);
    /* Once committed the other handle writes again, after the batch's entries. */
    note(db_b, "from the other handle");
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    tu_assert_verifies_all(db_b, NULL);
}
END_TEST

START_TEST(test_commit_fails_without_site_key)
{
    uint64_t n = tu_audit_size(db_a);
    int64_t cps = checkpoints();
    ck_assert_int_eq(chmod(keypath, 0644), 0);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    note(db_a, "cannot be signed");
    note(db_a, "neither can this");
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_EIO);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(checkpoints(), cps);
    /* The batch is over: no commit twice, and with the key fixed writes go through. */
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_EMISUSE);
    ck_assert_int_eq(chmod(keypath, 0600), 0);
    note(db_a, "signed now");
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* ---- what a batch must not undo or hide ---- */

/* A role change inside a batch applies to the actions after it, as it would outside one. */
START_TEST(test_role_change_inside_batch_applies)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "admin", 1, "second administrator"), CTM_OK);
    ck_assert_int_eq(ctm_user_set_role(db_a, ADMIN, "pharmacist", 0, "stepping down"), CTM_OK);
    ck_assert_int_eq(ctm_user_add(db_a, "late", "admin", 1, NULL, "late-password"), CTM_EDENIED);
    ck_assert_int_eq(ctm_batch_commit(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users WHERE username = 'late'"), 0);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* A failed login is a security record: rolling back a batch must not erase it (or login inside a
 * batch is refused outright). */
START_TEST(test_login_refused_inside_batch)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_OK);
    /* refused outright: a failed attempt recorded inside the batch could be rolled back */
    ck_assert_int_eq(ctm_login(db_a, PHARM, "guessing-123"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_rollback(db_a), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc;

    tc = tu_tcase(s, "commit", setup, teardown, 120);
    tcase_add_test(tc, test_commit_three_notes_one_checkpoint);
    tcase_add_test(tc, test_large_batch_hashes_every_entry_in_order);
    tcase_add_test(tc, test_size_and_log_inside_batch);
    tcase_add_test(tc, test_failing_action_fails_alone);
    tcase_add_test(tc, test_failed_action_rolls_back_to_its_start);
    tcase_add_test(tc, test_capture_records_in_statement_order);
    tcase_add_test(tc, test_empty_commit_no_checkpoint);
    tcase_add_test(tc, test_commit_fails_without_site_key);

    tc = tu_tcase(s, "rollback", setup, teardown, 120);
    tcase_add_test(tc, test_rollback_drops_everything);
    tcase_add_test(tc, test_close_with_open_batch_drops_it);

    tc = tu_tcase(s, "misuse", setup, teardown, 120);
    tcase_add_test(tc, test_nested_begin_refused);
    tcase_add_test(tc, test_commit_or_rollback_without_begin);

    tc = tu_tcase(s, "concurrency", setup, teardown, 120);
    tcase_add_test(tc, test_batch_holds_write_lock);

    tc = tu_tcase(s, "security", setup, teardown, 120);
    tcase_add_test(tc, test_role_change_inside_batch_applies);
    tcase_add_test(tc, test_login_refused_inside_batch);

    return s;
}

int main(void)
{
    static const struct tu_user pharmacist = {PHARM, "pharmacist", 0, "Phil Pharmacist", PHARM_PW};
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    template_dir = tu_build_template(ADMIN, "Ada Admin", ADMIN_PW, &pharmacist, 1);
    if (template_dir == NULL)
        return EXIT_FAILURE;
    int rc = tu_run_suite(batch_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
