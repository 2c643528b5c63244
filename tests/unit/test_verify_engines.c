/* test_verify_engines.c - ctm_audit_verify on every engine: a site verifies, and SQL written by
 * hand outside libctm (through the engine's own client: SQLite's library, libpq) is caught and
 * named.  SQLite always; PostgreSQL when the library has that engine and the environment names a
 * server (CTM_TEST_PG, or PGHOST as pg_virtualenv sets it; docs/testing.md), each PostgreSQL test
 * in a schema of its own, dropped when the suite ends.  The site has more ledger entries than
 * one page of verify's ledger read (64) and more kits than one page of its table read (1000),
 * and a receipt larger than PostgreSQL's streaming size (64 KiB). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CTM_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

#include "ctm.h"
#include "pgutil.h"
#include "testutil.h"

#define PW "correct horse 1"
#define KITS 1500
#define BATCH_NOTES 70

enum { ENGINE_SQLITE, ENGINE_POSTGRES };

static int nengines = 1;
static const char *pg_base;  /* the server the environment names */
static char run_prefix[64];  /* this run's schemas: ctm_verify_<pid>_... */

/* per test */
static int engine;
static char *tdir;
static char target[4096];
static char key_path[4096];
static char *vkey;
static uint64_t note_seq;    /* the entry of the note "first note" */

static const char *engine_name(void)
{
    return engine == ENGINE_SQLITE ? "SQLite" : "PostgreSQL";
}

/* Run SQL on the site as someone with the engine's shell would: no libctm, no capture. */
static void tamper(const char *sql)
{
    if (engine == ENGINE_SQLITE) {
        tu_sql_exec(target, sql);
        return;
    }
#ifdef CTM_HAVE_POSTGRES
    PGconn *c = PQconnectdb(target);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connecting: %s", PQerrorMessage(c));
    /* a superuser switching triggers off, libctm's guard included: what the guard cannot stop,
     * verification must find */
    PGresult *r = PQexec(c, "SET session_replication_role = replica");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    ck_assert_msg(ok, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
#endif
}

static void server_exec(const char *conninfo, const char *sql)
{
#ifdef CTM_HAVE_POSTGRES
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "verify_engines: connecting: %s", PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "verify_engines: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
#else
    (void)conninfo;
    (void)sql;
#endif
}

static ctm_db *open_site(unsigned flags)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = flags;
    o.key_path = key_path;
    ctm_db *db = NULL;
    int rc = ctm_open(&db, target, &o);
    ck_assert_msg(rc == CTM_OK, "%s: opening %s: %s (%d)", engine_name(), target, ctm_errmsg(), rc);
    return db;
}

/* A site on engine i: users, a trial, locations, a note, a batch of notes, a receipt of KITS
 * kits and its confirmation. */
static void make_site(int i)
{
    engine = i;
    tdir = tu_test_dir(NULL, NULL);
    snprintf(key_path, sizeof key_path, "%s/site.key", tdir);
    if (i == ENGINE_SQLITE) {
        snprintf(target, sizeof target, "%s/site.db", tdir);
    } else {
        unsigned char r[6];
        char hex[13], schema[128], sql[256];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        snprintf(schema, sizeof schema, "%s_%s", run_prefix, hex);
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
        server_exec(pg_base, sql);
        snprintf(target, sizeof target, "%s%soptions=-csearch_path%%3D%s", pg_base,
                 strchr(pg_base, '?') != NULL ? "&" : "?", schema);
    }
    ctm_db *db = open_site(CTM_OPEN_CREATE);
    tu_ok(ctm_init(db, "Engines Pharmacy", NULL, "anna", "Anna Berg", PW));
    tu_ok(ctm_user_add(db, "bob", "pharmacist", 1, "Bob Ek", PW));
    tu_ok(ctm_trial_add(db, "TR-1", "A blinded trial", "Sponsor", 1, "A:1,B:1"));
    tu_ok(ctm_kittype_add(db, "TR-1", "KT", "Drug", 30, 2, 8, 30, NULL));
    tu_ok(ctm_location_add(db, "FRIDGE1", "fridge", 2, 8));
    tu_ok(ctm_location_add(db, "SHELF", "room", 15, 25.5));
    tu_ok(ctm_audit_size(db, &note_seq));
    tu_ok(ctm_audit_note(db, "first note", NULL));
    tu_ok(ctm_batch_begin(db));
    for (int n = 0; n < BATCH_NOTES; n++)
        tu_ok(ctm_audit_note(db, "a note in the batch", NULL));
    tu_ok(ctm_batch_commit(db));
    tu_login(db, "bob", PW);
    size_t cap = 64 + (size_t)KITS * 48, at = 0;
    char *m = malloc(cap);
    ck_assert_ptr_nonnull(m);
    at += (size_t)snprintf(m + at, cap - at, "kit_number,kit_type,lot,expiry,arm\n");
    for (int k = 0; k < KITS; k++)
        at += (size_t)snprintf(m + at, cap - at, "K%07d,KT,L%03d,2029-06-30,%s\n", k, k / 500,
                               k % 2 ? "A" : "B");
    tu_ok(ctm_receive(db, "TR-1", "BIG", m, at, "FRIDGE1", NULL));
    free(m);
    tu_ok(ctm_receive_confirm(db, "BIG", 1));
    tu_ok(ctm_audit_vkey(&vkey, db));
    ctm_close(db);
}

static void teardown(void)
{
    ctm_free(vkey);
    vkey = NULL;
    tu_teardown(&tdir, NULL, NULL);
}

static int verify(const char *key, ctm_verify_result *r)
{
    ctm_db *db = open_site(0);
    *r = (ctm_verify_result){.struct_size = sizeof *r};
    int rc = ctm_audit_verify(db, key, NULL, r);
    ctm_close(db);
    return rc;
}

/* Verification fails with CTM_EINTEGRITY naming table (and seq, unless -1) and the text. */
static void expect_failure(const char *table, int64_t seq, const char *text)
{
    ctm_verify_result r;
    int rc = verify(vkey, &r);
    ck_assert_msg(rc == CTM_EINTEGRITY, "%s: verify returned %d (%s), expected an integrity failure",
                  engine_name(), rc, ctm_errmsg());
    ck_assert_msg(strcmp(r.failed_table, table) == 0, "%s: failed table '%s', expected '%s': %s",
                  engine_name(), r.failed_table, table, ctm_errmsg());
    if (seq >= 0)
        ck_assert_msg(r.failed_seq == seq, "%s: failed seq %lld, expected %lld: %s", engine_name(),
                      (long long)r.failed_seq, (long long)seq, ctm_errmsg());
    if (text != NULL)
        ck_assert_msg(strstr(ctm_errmsg(), text) != NULL, "%s: '%s' not in: %s", engine_name(),
                      text, ctm_errmsg());
}

START_TEST(untouched_site_verifies)
{
    make_site(_i);
    ctm_verify_result r;
    int rc = verify(vkey, &r);
    ck_assert_msg(rc == CTM_OK, "%s: %s (%d)", engine_name(), ctm_errmsg(), rc);
    ck_assert_uint_eq(r.entries, note_seq + 1 + BATCH_NOTES + 2);
    ck_assert_uint_ge(r.rows, KITS);
    ck_assert_int_eq(r.failed_seq, -1);
    ck_assert_int_eq(r.key_from_database, 0);
    tu_ok(verify(NULL, &r));
    ck_assert_int_eq(r.key_from_database, 1);
}
END_TEST

START_TEST(changed_row_is_named)
{
    make_site(_i);
    tamper("UPDATE users SET printed_name = 'x' WHERE username = 'bob'");
    expect_failure("users", -1, "id=2");
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "differs"));
}
END_TEST

START_TEST(inserted_row_is_named)
{
    make_site(_i);
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO users(username, printed_name, role, unblinded, public_key, created_us)"
             " VALUES ('eve', 'Eve', 'admin', 1, %s, 0)",
             engine == ENGINE_SQLITE ? "zeroblob(32)" : "decode(repeat('00', 32), 'hex')");
    tamper(sql);
    expect_failure("users", -1, "added outside libctm");
}
END_TEST

START_TEST(deleted_row_is_named)
{
    make_site(_i);
    tamper("DELETE FROM locations WHERE name = 'SHELF'");
    expect_failure("locations", -1, "missing");
}
END_TEST

START_TEST(kit_on_a_later_page_is_named)
{
    make_site(_i);
    tamper("UPDATE kits SET units = 29 WHERE kit_number = 'K0001400'");
    expect_failure("kits", -1, "differs");
}
END_TEST

START_TEST(edited_entry_byte_is_named)
{
    make_site(_i);
    char sql[400];
    snprintf(sql, sizeof sql,
             engine == ENGINE_SQLITE
                 ? "UPDATE ledger SET entry = replace(entry, CAST('first note' AS BLOB),"
                   " CAST('First note' AS BLOB)) WHERE seq = %llu"
                 : "UPDATE ledger SET entry = overlay(entry PLACING convert_to('F', 'UTF8') FROM"
                   " position(convert_to('first note', 'UTF8') IN entry) FOR 1) WHERE seq = %llu",
             (unsigned long long)note_seq);
    tamper(sql);
    expect_failure("ledger", (int64_t)note_seq, NULL);
}
END_TEST

START_TEST(edited_large_entry_is_named)
{
    make_site(_i);
    /* the receipt (over 64 KiB: streamed on PostgreSQL), one kit number deep inside it */
    uint64_t receipt = note_seq + 1 + BATCH_NOTES;
    char sql[400];
    snprintf(sql, sizeof sql,
             engine == ENGINE_SQLITE
                 ? "UPDATE ledger SET entry = replace(entry, CAST('K0001234' AS BLOB),"
                   " CAST('K0001235' AS BLOB)) WHERE seq = %llu"
                 : "UPDATE ledger SET entry = overlay(entry PLACING convert_to('5', 'UTF8') FROM"
                   " position(convert_to('K0001234', 'UTF8') IN entry) + 7 FOR 1) WHERE seq = %llu",
             (unsigned long long)receipt);
    tamper(sql);
    expect_failure("ledger", (int64_t)receipt, NULL);
}
END_TEST

START_TEST(deleted_entry_on_a_later_page_is_named)
{
    make_site(_i);
    tamper("DELETE FROM ledger WHERE seq = 70");
    expect_failure("ledger", 70, "entry missing");
}
END_TEST

START_TEST(added_table_is_named)
{
    make_site(_i);
    tamper("CREATE TABLE shadow(id INTEGER PRIMARY KEY, arm TEXT)");
    expect_failure("schema", -1, "shadow");
}
END_TEST

START_TEST(added_column_is_named)
{
    make_site(_i);
    tamper("ALTER TABLE users ADD COLUMN extra TEXT");
    expect_failure("schema", -1, "users");
}
END_TEST

START_TEST(verify_refuses_an_open_batch)
{
    make_site(_i);
    ctm_db *db = open_site(0);
    tu_ok(ctm_batch_begin(db));
    ctm_verify_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db, vkey, NULL, &r), CTM_EMISUSE);
    tu_ok(ctm_batch_rollback(db));
    tu_ok(ctm_audit_verify(db, vkey, NULL, &r));
    ctm_close(db);
}
END_TEST

static Suite *verify_engines_suite(void)
{
    Suite *s = suite_create("verify_engines");
    TCase *tc = tu_tcase(s, "intact", NULL, teardown, 120);
    tcase_add_loop_test(tc, untouched_site_verifies, 0, nengines);
    tcase_add_loop_test(tc, verify_refuses_an_open_batch, 0, nengines);
    tc = tu_tcase(s, "rows edited outside", NULL, teardown, 120);
    tcase_add_loop_test(tc, changed_row_is_named, 0, nengines);
    tcase_add_loop_test(tc, inserted_row_is_named, 0, nengines);
    tcase_add_loop_test(tc, deleted_row_is_named, 0, nengines);
    tcase_add_loop_test(tc, kit_on_a_later_page_is_named, 0, nengines);
    tc = tu_tcase(s, "ledger edited outside", NULL, teardown, 120);
    tcase_add_loop_test(tc, edited_entry_byte_is_named, 0, nengines);
    tcase_add_loop_test(tc, edited_large_entry_is_named, 0, nengines);
    tcase_add_loop_test(tc, deleted_entry_on_a_later_page_is_named, 0, nengines);
    tc = tu_tcase(s, "schema edited outside", NULL, teardown, 120);
    tcase_add_loop_test(tc, added_table_is_named, 0, nengines);
    tcase_add_loop_test(tc, added_column_is_named, 0, nengines);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    pg_base = pu_server("verify_engines");
    if (pg_base != NULL) {
        nengines = 2;
        snprintf(run_prefix, sizeof run_prefix, "ctm_verify_%ld", (long)getpid());
    }
    int rc = tu_run_suite(verify_engines_suite());
    if (pg_base != NULL) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SET client_min_messages = warning; DO $$ DECLARE n text; BEGIN FOR n IN SELECT nspname FROM pg_namespace"
                 " WHERE nspname LIKE '%s\\_%%' LOOP EXECUTE format('DROP SCHEMA %%I CASCADE', n);"
                 " END LOOP; END $$",
                 run_prefix);
        server_exec(pg_base, sql);
    }
    return rc;
}
