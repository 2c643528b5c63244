/* test_verify.c - verification catches every edit made outside the library, and names it. */
#include <check.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctm.h"
#include "merkle.h"
#include "testutil.h"

#define PW "correct horse 1"

/* One template database for the suite, copied for each test: users, notes, role and password
 * changes, a batch; plus the verifier key and a checkpoint "held outside" at an earlier size. */
static char *template_dir;
static char *vkey;
static char *held_early;  /* checkpoint after the first actions */
static uint64_t held_early_size;

static char *dir;
static char db_path[4096];

static void copy_file(const char *from, const char *to)
{
    ck_assert_msg(tu_copy_file(from, to) == 0, "cannot copy %s to %s", from, to);
}

/* Outside a running test Check cannot report, so the template's set-up stops the program. */
static void must(int rc)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_verify: building the template failed (%d): %s\n", rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.db", template_dir);
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    must(ctm_open(&db, path, &o));
    must(ctm_init(db, "Verify Test Pharmacy", NULL, "anna", "Anna Berg", PW));
    must(ctm_user_add(db, "bob", "pharmacist", 1, "Bob Ek", PW));
    must(ctm_audit_note(db, "first note", NULL));
    must(ctm_audit_vkey(&vkey, db));
    must(ctm_audit_checkpoint(&held_early, db));
    must(ctm_audit_size(db, &held_early_size));
    must(ctm_user_add(db, "carl", "technician", 0, "Carl Ny", PW));
    must(ctm_user_set_role(db, "carl", "investigator", 0, "moved to the ward"));
    must(ctm_batch_begin(db));
    must(ctm_audit_note(db, "batch one", "reviewed"));
    must(ctm_audit_note(db, "batch two", NULL));
    must(ctm_batch_commit(db));
    must(ctm_user_disable(db, "carl", "left the trial team"));
    must(ctm_audit_note(db, "last note", NULL));
    ctm_close(db);
}

static void setup(void)
{
    /* copied with mode 0600, as the key file must be */
    dir = tu_test_dir(template_dir, "t.db");
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
}

static void teardown(void)
{
    tu_teardown(&dir, NULL, NULL);
}

/* Run SQL on the file directly, as someone with the sqlite3 shell would. */
static void tamper(const char *sql)
{
    tu_sql_exec(db_path, sql);
}

static int verify(const char *key, const char *held, ctm_verify_result *r)
{
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    int rc = ctm_audit_verify(db, key, held, r);
    ctm_close(db);
    return rc;
}

static void expect_failure(const char *table, int64_t seq)
{
    ctm_verify_result r;
    int rc = verify(vkey, NULL, &r);
    ck_assert_msg(rc == CTM_EINTEGRITY, "verify returned %d (%s), expected an integrity failure", rc,
                  ctm_errmsg());
    if (table != NULL)
        ck_assert_msg(strcmp(r.failed_table, table) == 0, "failed table '%s', expected '%s': %s",
                      r.failed_table, table, ctm_errmsg());
    if (seq >= 0)
        ck_assert_msg(r.failed_seq == seq, "failed seq %lld, expected %lld: %s",
                      (long long)r.failed_seq, (long long)seq, ctm_errmsg());
}

START_TEST(untouched_database_verifies)
{
    ctm_verify_result r;
    tu_ok(verify(vkey, NULL, &r));
    ck_assert_uint_eq(r.entries, 9);
    ck_assert_uint_eq(r.checkpoints, 8); /* one per transaction: the batch of 2 shares one */
    ck_assert_uint_ge(r.esignatures, 6);
    ck_assert_uint_eq(r.rows, 7);         /* site + 3 users + 3 credentials */
    ck_assert_int_eq(r.failed_seq, -1);
    ck_assert_int_eq(r.key_from_database, 0);
    ck_assert_uint_eq(strlen(r.root_hex), 64);
    tu_ok(verify(NULL, NULL, &r));
    ck_assert_int_eq(r.key_from_database, 1);
}
END_TEST

START_TEST(changed_row_is_named)
{
    tamper("UPDATE users SET role = 'admin' WHERE username = 'bob'");
    expect_failure("users", -1);
    ck_assert_msg(strstr(ctm_errmsg(), "id=2") != NULL, "key not named: %s", ctm_errmsg());
}
END_TEST

START_TEST(changed_site_is_named)
{
    tamper("UPDATE site SET name = 'Other Pharmacy'");
    expect_failure("site", -1);
}
END_TEST

START_TEST(deleted_row_is_named)
{
    tamper("PRAGMA foreign_keys = OFF; DELETE FROM credentials WHERE user_id = 3;"
           " DELETE FROM users WHERE username = 'carl'");
    expect_failure(NULL, -1);
    ck_assert_msg(strstr(ctm_errmsg(), "missing") != NULL, "%s", ctm_errmsg());
}
END_TEST

START_TEST(inserted_row_is_named)
{
    tamper("INSERT INTO users(username, printed_name, role, unblinded, public_key, created_us)"
           " VALUES ('eve', 'Eve', 'admin', 1, zeroblob(32), 0)");
    expect_failure("users", -1);
}
END_TEST

START_TEST(added_table_is_named)
{
    tamper("CREATE TABLE shadow(id INTEGER PRIMARY KEY, arm TEXT); INSERT INTO shadow VALUES (1, 'A')");
    expect_failure("schema", -1);
    ck_assert_msg(strstr(ctm_errmsg(), "shadow") != NULL, "%s", ctm_errmsg());
}
END_TEST

START_TEST(added_trigger_is_named)
{
    /* a trigger would slip its own changes into later, signed entries */
    tamper("CREATE TRIGGER sneaky AFTER UPDATE ON users BEGIN"
           " UPDATE users SET role = 'admin' WHERE username = 'carl'; END");
    expect_failure("schema", -1);
    ck_assert_msg(strstr(ctm_errmsg(), "trigger sneaky") != NULL, "%s", ctm_errmsg());
}
END_TEST

START_TEST(changed_secret_is_named)
{
    tamper("UPDATE credentials SET password_hash = 'x' WHERE user_id = 2");
    expect_failure("credentials", -1);
}
END_TEST

START_TEST(deleted_entry_is_named)
{
    tamper("DELETE FROM ledger WHERE seq = 3");
    expect_failure("ledger", 3);
}
END_TEST

START_TEST(deleted_last_entry_is_caught)
{
    tamper("DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)");
    expect_failure(NULL, -1);
}
END_TEST

START_TEST(swapped_entries_are_named)
{
    tamper("UPDATE ledger SET seq = -1 WHERE seq = 4; UPDATE ledger SET seq = 4 WHERE seq = 5;"
           " UPDATE ledger SET seq = 5 WHERE seq = -1");
    expect_failure("ledger", 4);
}
END_TEST

START_TEST(edited_entry_bytes_are_named)
{
    /* Change one byte inside entry 2 (the note text) and keep everything else. */
    tamper("UPDATE ledger SET entry = replace(entry, CAST('first note' AS BLOB),"
           " CAST('forged note' AS BLOB)) WHERE seq = 2");
    expect_failure("ledger", 2);
}
END_TEST

START_TEST(forged_checkpoint_is_named)
{
    tamper("UPDATE ledger SET checkpoint = replace(checkpoint, 'libctm/', 'libctX/') WHERE seq = 2");
    expect_failure("ledger", 2);
}
END_TEST

START_TEST(deleted_checkpoint_of_last_entry_is_caught)
{
    tamper("UPDATE ledger SET checkpoint = NULL WHERE seq = (SELECT max(seq) FROM ledger)");
    expect_failure("ledger", -1);
}
END_TEST

START_TEST(tree_state_edit_is_caught)
{
    tamper("UPDATE ledger SET frontier = substr(frontier, 1, 40) WHERE seq = (SELECT max(seq) FROM ledger)");
    expect_failure("ledger", 8);
}
END_TEST

START_TEST(wrong_key_fails)
{
    uint8_t pub[32], sk[64];
    crypto_sign_keypair(pub, sk);
    char other[200], b64[64];
    uint8_t k[33] = {0x01};
    memcpy(k + 1, pub, 32);
    sodium_bin2base64(b64, sizeof b64, k, 33, sodium_base64_VARIANT_ORIGINAL);
    /* same name as the site, other key: the key id will not match the signatures */
    const char *plus = strchr(vkey, '+');
    snprintf(other, sizeof other, "%.*s+00000000+%s", (int)(plus - vkey), vkey, b64);
    ctm_verify_result r;
    int rc = verify(other, NULL, &r);
    ck_assert_msg(rc == CTM_EINVAL || rc == CTM_EINTEGRITY, "rc %d: %s", rc, ctm_errmsg());
}
END_TEST

START_TEST(held_checkpoint_proves_growth)
{
    ctm_verify_result r;
    tu_ok(verify(vkey, held_early, &r));
}
END_TEST

START_TEST(rolled_back_copy_fails_against_held_checkpoint)
{
    /* Keep today's checkpoint outside, then put back an older copy of the database. */
    char *held_now = NULL;
    ctm_db *db = NULL;
    char old_path[4096];
    snprintf(old_path, sizeof old_path, "%s/old.db", dir);
    copy_file(db_path, old_path);
    tu_ok(ctm_open(&db, db_path, NULL));
    tu_ok(ctm_login(db, "anna", PW));
    tu_ok(ctm_audit_note(db, "after the copy", NULL));
    tu_ok(ctm_audit_checkpoint(&held_now, db));
    ctm_close(db);
    copy_file(old_path, db_path);
    ctm_verify_result r;
    tu_ok(verify(vkey, NULL, &r)); /* on its own the old copy is consistent */
    ck_assert_int_eq(verify(vkey, held_now, &r), CTM_EINTEGRITY);
    ck_assert_msg(strstr(ctm_errmsg(), "rolled back") != NULL, "%s", ctm_errmsg());
    ctm_free(held_now);
}
END_TEST

/* Store on entry seq - 1 of the file the frontier of the first `size` entries. */
static void store_frontier(uint64_t seq_plus_1, uint64_t size)
{
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open(db_path, &s), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ctm__frontier f;
    ctm__frontier_init(&f);
    ck_assert_int_eq(sqlite3_prepare_v2(s, "SELECT entry FROM ledger WHERE seq < ?1 ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    while (sqlite3_step(st) == SQLITE_ROW) {
        ctm_hash leaf;
        ctm__leaf_hash(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), leaf);
        ctm__frontier_append(&f, leaf);
    }
    sqlite3_finalize(st);
    uint8_t buf[8 + 64 * 32];
    size_t len = ctm__frontier_encode(&f, buf);
    ck_assert_int_eq(sqlite3_prepare_v2(s, "UPDATE ledger SET frontier = ?2 WHERE seq = ?1 - 1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq_plus_1);
    sqlite3_bind_blob(st, 2, buf, (int)len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    ck_assert_int_eq(sqlite3_changes(s), 1);
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* On a server the previous entry keeps its frontier until its writer's second commit, or for good
 * after a crash then: an older entry's own frontier verifies; any other is named. */
START_TEST(older_entry_frontier_must_be_its_own)
{
    store_frontier(4, 4);
    ctm_verify_result r;
    tu_ok(verify(vkey, NULL, &r));
    store_frontier(4, 5);
    expect_failure("ledger", 3);
}
END_TEST

START_TEST(truncation_is_caught_by_held_checkpoint)
{
    /* Cut the last entry (a note: no rows) with its checkpoint and rewrite the stored tree state: only a
     * checkpoint held outside can tell, and it does. */
    char *held_now = NULL;
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    tu_ok(ctm_audit_checkpoint(&held_now, db));
    uint64_t size = 0;
    tu_ok(ctm_audit_size(db, &size));
    ctm_close(db);
    char sql[512];
    snprintf(sql, sizeof sql,
             "DELETE FROM ledger WHERE seq = %llu", (unsigned long long)size - 1);
    tamper(sql);
    /* rebuild the frontier of size-1 from the remaining leaves */
    store_frontier(size - 1, size - 1);
    ctm_verify_result r;
    tu_ok(verify(vkey, NULL, &r));
    ck_assert_int_eq(verify(vkey, held_now, &r), CTM_EINTEGRITY);
    ctm_free(held_now);
}
END_TEST

START_TEST(held_checkpoint_of_other_site_is_refused)
{
    ctm_verify_result r;
    const char *bogus = "other.example/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
                        "\xe2\x80\x94 other.example/log AAAAAAAA\n";
    ck_assert_int_eq(verify(vkey, bogus, &r), CTM_EINVAL);
}
END_TEST

START_TEST(inclusion_proofs_check_against_the_signed_root)
{
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    uint64_t size = 0;
    tu_ok(ctm_audit_size(db, &size));
    for (uint64_t seq = 0; seq < size; seq++) {
        char *proof = NULL;
        tu_ok(ctm_audit_prove(&proof, db, seq));
        char expect[64];
        snprintf(expect, sizeof expect, "seq %llu\nsize %llu\n", (unsigned long long)seq,
                 (unsigned long long)size);
        ck_assert_msg(strncmp(proof, expect, strlen(expect)) == 0, "%s", proof);
        /* parse it back and check it independently */
        ctm_hash leaf, root, path[64];
        size_t count = 0;
        char *line = strstr(proof, "leaf ");
        char hex[65];
        ck_assert_int_eq(sscanf(line, "leaf %64s", hex), 1);
        ck_assert_int_eq(tu_hex_decode(hex, leaf, 32), 32);
        line = strstr(proof, "root ");
        ck_assert_int_eq(sscanf(line, "root %64s", hex), 1);
        ck_assert_int_eq(tu_hex_decode(hex, root, 32), 32);
        while ((line = strstr(line + 1, "proof ")) != NULL) {
            ck_assert_int_eq(sscanf(line, "proof %64s", hex), 1);
            ck_assert_int_eq(tu_hex_decode(hex, path[count++], 32), 32);
        }
        ck_assert_int_eq(ctm__verify_inclusion(seq, size, leaf, (const ctm_hash *)path, count, root),
                         0);
        ctm_free(proof);
    }
    char *proof = NULL;
    ck_assert_int_eq(ctm_audit_prove(&proof, db, size), CTM_ENOTFOUND);
    ck_assert_ptr_null(proof);
    ctm_close(db);
}
END_TEST

START_TEST(verify_needs_no_login_and_writes_nothing)
{
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_READONLY;
    tu_ok(ctm_open(&db, db_path, &o));
    ctm_verify_result r = {.struct_size = sizeof r};
    tu_ok(ctm_audit_verify(db, vkey, held_early, &r));
    ck_assert_uint_eq(r.entries, 9);
    ctm_close(db);
}
END_TEST

/* ---- entries too large to read whole: a receipt of 20,000 kits and its confirmation ---- */

#define LARGE_KITS 20000
static char *large_dir;
static char *large_vkey;

static void build_large_template(void)
{
    large_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.db", large_dir);
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    must(ctm_open(&db, path, &o));
    must(ctm_init(db, "Large Receipt Pharmacy", NULL, "anna", "Anna Berg", PW));
    must(ctm_trial_add(db, "TR-1", "A blinded trial", "Sponsor", 1, "A:1,B:1"));
    must(ctm_kittype_add(db, "TR-1", "KT", "Drug", 30, 2, 8, 30, NULL));
    must(ctm_location_add(db, "FRIDGE1", "fridge", 2, 8));
    must(ctm_user_add(db, "bob", "pharmacist", 1, "Bob Ek", PW));
    must(ctm_login(db, "bob", PW));
    size_t cap = 64 + (size_t)LARGE_KITS * 48, at = 0;
    char *m = malloc(cap);
    if (m == NULL)
        must(CTM_ENOMEM);
    at += (size_t)snprintf(m + at, cap - at, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 0; i < LARGE_KITS; i++)
        at += (size_t)snprintf(m + at, cap - at, "K%07d,KT,L%03d,2029-06-30,%s\n", i, i / 1000,
                               i % 2 ? "A" : "B");
    must(ctm_receive(db, "TR-1", "BIG", m, at, "FRIDGE1", NULL));
    free(m);
    must(ctm_receive_confirm(db, "BIG", 1));
    must(ctm_audit_note(db, "after the big receipt", NULL));
    must(ctm_audit_vkey(&large_vkey, db));
    ctm_close(db);
}

static void large_setup(void)
{
    dir = tu_test_dir(large_dir, "t.db");
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
}

/* The seq of the receipt and of its confirmation: both entries over 1 MiB, which verification
 * reads as streams (the point of these tests; they fail if the entries shrink below it). */
static int64_t large_seq(const char *action)
{
    char q[200];
    snprintf(q, sizeof q, "SELECT seq FROM ledger WHERE length(entry) > 1048576 AND"
                          " instr(entry, CAST('%s' AS BLOB)) > 0", action);
    return tu_sql_int(db_path, q, NULL);
}

START_TEST(large_entries_verify)
{
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM ledger WHERE length(entry) > 1048576",
                                NULL), 2);
    ctm_verify_result r;
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    r = (ctm_verify_result){.struct_size = sizeof r};
    int rc = ctm_audit_verify(db, large_vkey, NULL, &r);
    ck_assert_msg(rc == CTM_OK, "verify failed (%d): %s", rc, ctm_errmsg());
    ctm_close(db);
    ck_assert_uint_ge(r.rows, LARGE_KITS);
    /* site.init, user.add and the confirmation, whose signature covers all of its 1 MiB and more */
    ck_assert_uint_eq(r.esignatures, 3);
    ck_assert_uint_eq(r.entries, 8);
}
END_TEST

static void expect_large_failure(const char *table, int64_t seq)
{
    ctm_verify_result r;
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    r = (ctm_verify_result){.struct_size = sizeof r};
    int rc = ctm_audit_verify(db, large_vkey, NULL, &r);
    ctm_close(db);
    ck_assert_msg(rc == CTM_EINTEGRITY, "verify returned %d (%s)", rc, ctm_errmsg());
    ck_assert_msg(strcmp(r.failed_table, table) == 0, "failed table '%s', expected '%s': %s",
                  r.failed_table, table, ctm_errmsg());
    ck_assert_msg(r.failed_seq == seq, "failed seq %lld, expected %lld: %s",
                  (long long)r.failed_seq, (long long)seq, ctm_errmsg());
}

START_TEST(edited_large_entry_is_named)
{
    /* one kit's lot, deep inside the receipt's entry, and the row to match: the replay agrees
     * with the table, so only the entry's hash can tell */
    int64_t seq = large_seq("shipment.receive");
    ck_assert_int_ge(seq, 1);
    tamper("UPDATE ledger SET entry = replace(entry, CAST('K0012345' AS BLOB),"
           " CAST('K0012346' AS BLOB)) WHERE seq IN (SELECT seq FROM ledger WHERE length(entry) > 1048576"
           " AND instr(entry, CAST('shipment.receive' AS BLOB)) > 0)");
    expect_large_failure("ledger", seq);
}
END_TEST

START_TEST(row_changed_after_large_entry_is_named)
{
    /* the replay of the streamed changes must hold every kit: one kit edited is named */
    tamper("UPDATE kits SET units = 29 WHERE kit_number = 'K0019999'");
    ctm_verify_result r;
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    r = (ctm_verify_result){.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db, large_vkey, NULL, &r), CTM_EINTEGRITY);
    ctm_close(db);
    ck_assert_str_eq(r.failed_table, "kits");
}
END_TEST

START_TEST(large_entry_stored_as_text_is_named)
{
    int64_t seq = large_seq("shipment.confirm");
    ck_assert_int_ge(seq, 1);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE ledger SET entry = CAST(entry AS TEXT) WHERE seq = %lld",
             (long long)seq);
    tamper(sql);
    expect_large_failure("ledger", seq);
}
END_TEST

static Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tu_tcase(s, "intact", setup, teardown, 120);
    tcase_add_test(tc, untouched_database_verifies);
    tcase_add_test(tc, held_checkpoint_proves_growth);
    tcase_add_test(tc, inclusion_proofs_check_against_the_signed_root);
    tcase_add_test(tc, verify_needs_no_login_and_writes_nothing);

    tc = tu_tcase(s, "tables edited outside", setup, teardown, 120);
    tcase_add_test(tc, changed_row_is_named);
    tcase_add_test(tc, changed_site_is_named);
    tcase_add_test(tc, deleted_row_is_named);
    tcase_add_test(tc, inserted_row_is_named);
    tcase_add_test(tc, changed_secret_is_named);
    tcase_add_test(tc, added_table_is_named);
    tcase_add_test(tc, added_trigger_is_named);

    tc = tu_tcase(s, "ledger edited outside", setup, teardown, 120);
    tcase_add_test(tc, deleted_entry_is_named);
    tcase_add_test(tc, deleted_last_entry_is_caught);
    tcase_add_test(tc, swapped_entries_are_named);
    tcase_add_test(tc, edited_entry_bytes_are_named);
    tcase_add_test(tc, forged_checkpoint_is_named);
    tcase_add_test(tc, deleted_checkpoint_of_last_entry_is_caught);
    tcase_add_test(tc, tree_state_edit_is_caught);
    tcase_add_test(tc, older_entry_frontier_must_be_its_own);
    tcase_add_test(tc, wrong_key_fails);

    tc = tu_tcase(s, "copies and truncation", setup, teardown, 120);
    tcase_add_test(tc, rolled_back_copy_fails_against_held_checkpoint);
    tcase_add_test(tc, truncation_is_caught_by_held_checkpoint);
    tcase_add_test(tc, held_checkpoint_of_other_site_is_refused);

    tc = tu_tcase(s, "large entries", large_setup, teardown, 120);
    tcase_add_test(tc, large_entries_verify);
    tcase_add_test(tc, edited_large_entry_is_named);
    tcase_add_test(tc, row_changed_after_large_entry_is_named);
    tcase_add_test(tc, large_entry_stored_as_text_is_named);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    /* built once, before the runner forks, and copied for each test */
    build_template();
    build_large_template();
    int rc = tu_run_suite(verify_suite());
    tu_rmtree(large_dir);
    free(large_dir);
    ctm_free(large_vkey);
    if (template_dir != NULL)
        tu_rmtree(template_dir);
    free(template_dir);
    ctm_free(vkey);
    ctm_free(held_early);
    return rc;
}
