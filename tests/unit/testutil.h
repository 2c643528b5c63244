/* testutil.h - small helpers shared by the Check unit tests.
 *
 * Two kinds, kept apart because Check can report a failure only inside a running test:
 *  - helpers that make no Check assertion and report by return value (safe anywhere, in
 *    particular while building a template before srunner_run_all);
 *  - helpers marked "Asserts", which call ck_assert and so must only run inside a test or its
 *    checked fixture. */
#ifndef CTM_TESTUTIL_H
#define CTM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ctm.h"

/* ---- the back end (no assertions) ----
 *
 * The suites run on SQLite files (the default) or, with CTM_TEST_BACKEND=postgres, on a
 * PostgreSQL server: the one CTM_TEST_PG names ("postgresql://..." or a libpq "key=value"
 * string), else the one libpq's PG* variables name (PGHOST set, as under pg_virtualenv).  The
 * first call decides, and stops the program when the choice cannot work: exit status 77 (skip)
 * when no server is named, 1 when it cannot be reached or this libctm has no PostgreSQL engine.
 *
 * Tests keep thinking in site files DIR/site.db: on PostgreSQL each such path stands for a
 * database of its own, "ctm_t_<pid>_<hash of the path>" (tu_target), whose key file is the
 * path's ".key" file in DIR as on SQLite.  Removing DIR (tu_rmtree, tu_teardown) drops the
 * databases of the paths under it, and tu_run_suite drops whatever the run left. */
enum tu_backend { TU_SQLITE = 1, TU_POSTGRES = 2 };
enum tu_backend tu_backend(void);
/* The SQL for the back end in use: one of the two (borrowed). */
const char *tu_dialect(const char *sqlite_sql, const char *postgres_sql);
/* What ctm_open is given for the site file path: path itself on SQLite, the connection string
 * of the path's database on PostgreSQL.  malloc'd. */
char *tu_target(const char *path);

/* ---- files and directories (no assertions) ---- */

/* Path of a file under tests/data (static buffer, valid until the next call). */
const char *tu_data_path(const char *name);
/* Read a whole file; malloc'd, NUL-terminated, *len without the NUL.  NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* A fresh empty temporary directory (malloc'd path) and its removal with everything in it (on
 * PostgreSQL, with the databases of the site paths under it). */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);
/* Decode hex into out (capacity cap); returns bytes written or -1. */
int tu_hex_decode(const char *hex, uint8_t *out, size_t cap);
/* Copy a file byte for byte; `to` is created with mode 0600, or replaced.  0, or -1 on failure. */
int tu_copy_file(const char *from, const char *to);
/* Copy the site database db_name, its key file (db_name.key) and its WAL (db_name-wal, only when
 * present) from from_dir to to_dir.  0, or -1 on failure.  On PostgreSQL the database is
 * created from from_dir's as its template (which must have no open connection). */
int tu_copy_site(const char *from_dir, const char *to_dir, const char *db_name);

/* ---- test data (Asserts) ---- */

/* The whole of the file name under tests/data (malloc'd); it must be readable. */
char *tu_read_data(const char *name);

/* ---- a template site, built once before the runner forks (no assertions) ---- */

#define TU_SITE_DB "site.db"
#define TU_SITE_NAME "St Example Pharmacy"
#define TU_ORIGIN "example.org/pharmacy-1"

/* Make the empty database of a new site at path, for ctm_open with CTM_OPEN_CREATE and ctm_init:
 * nothing on SQLite (ctm_open creates the file), CREATE DATABASE on PostgreSQL.  0, or -1 after
 * printing why. */
int tu_create_site(const char *path);

/* A user that tu_build_template adds after the administrator. */
struct tu_user {
    const char *name, *role;
    int unblinded;
    const char *printed_name, *password;
};

/* Argon2id makes every user and login cost a tenth of a second, so suites that need a populated
 * site build it once and copy it for each test (tu_test_dir).  Creates a new temporary directory
 * holding TU_SITE_DB (and its key file) initialised as TU_SITE_NAME at TU_ORIGIN with the given
 * administrator logged in, then adds users[0..n) in order.  Returns the malloc'd directory, or
 * NULL after printing why to stderr. */
char *tu_build_template(const char *admin, const char *admin_name, const char *admin_pw,
                        const struct tu_user *users, size_t n);
/* While building a template: rc must be CTM_OK, else the program stops after printing what
 * failed (`what`) and ctm_errmsg(). */
void tu_must(int rc, const char *what);

/* The day `days` from today (UTC), "YYYY-MM-DD". */
void tu_day(int days, char out[11]);

/* A visit of a trial site's schedule (ctm_visit_add), each giving one kit of type KT. */
struct tu_visit {
    const char *code;
    int days;
    const char *anchor, *window;
};

/* A template site with one blinded trial, as the suites of the pharmacy's daily work use it: the
 * administrator "admin" (Ada Admin, `password`), then users[0..nusers) of which users[0] is the
 * pharmacist who builds the rest; location FRIDGE1 (fridge, 2..8); the trial `trial` (title
 * "Blinded", `sponsor`, the arms `arms`) with kit type KT ("Drug X or placebo", 30 units, 2..8,
 * dnd_days do-not-dispense days, dispensing_days covered, 0 for the library's default);
 * shipment SH1 of the manifest rows `kits` (after the header "kit_number,kit_type,lot,expiry,arm")
 * received into FRIDGE1 on date_received (NULL: today; a suite that records dispensings made on
 * paper in the past receives the kits before them) and confirmed complete; the visits; a
 * randomization list of list_size
 * (blocks of 2); subjects S1..S<subjects> added and randomized in order, their arms in arm[]. */
struct tu_trial_site {
    const char *password;
    const struct tu_user *users;
    size_t nusers;
    const char *trial, *sponsor, *arms;
    int dnd_days, dispensing_days;
    const char *kits;
    const struct tu_visit *visits;
    size_t nvisits;
    int list_size, subjects;
    const char *date_received;
    char arm[8][40]; /* out */
};
/* Build it (tu_must: the program stops on a failure): the malloc'd template directory, with the
 * site open in *h as users[0] for what a suite adds of its own (close it before the tests). */
char *tu_build_trial_site(struct tu_trial_site *site, ctm_db **h);
/* The manifest rows of kits A1..An (arm ACT) and B1..Bn (PLA) in lot L1, each A before its B,
 * expiring in 400 days, into m (capacity cap). */
void tu_kit_pairs(char *m, size_t cap, int n);

/* SQL that takes a site's tables back to before schema version 10 (both back ends), for tests
 * that make an older site from a new one: the table of migration 9 -> 10. */
#define TU_DROP_SCHEMA_10 "DROP TABLE darf_lines;"

/* The same back to before schema version 8: that, then the tables of migration 7 -> 8, in
 * foreign-key order (their indexes go with them). */
#define TU_DROP_SCHEMA_8 \
    TU_DROP_SCHEMA_10 " DROP TABLE signoffs; DROP TABLE cosignatures; DROP TABLE shipback_kits;" \
    " DROP TABLE shipbacks; DROP TABLE destructions; DROP TABLE kit_returns;" \
    " DROP TABLE compliance_limits; DROP TABLE kit_events;"

/* The same back to before schema version 7: those, then the tables of migration 6 -> 7. */
#define TU_DROP_SCHEMA_7 \
    TU_DROP_SCHEMA_8 " DROP TABLE excursion_kits; DROP TABLE excursions; DROP TABLE location_alarms;"

/* The same back to before schema version 6: those, then the tables of migration 5 -> 6. */
#define TU_DROP_SCHEMA_6 \
    TU_DROP_SCHEMA_7 " DROP TABLE logger_days; DROP TABLE readings; DROP TABLE logger_files;"

/* The same back to before schema version 5: those, then the tables of migration 4 -> 5. */
#define TU_DROP_SCHEMA_5 \
    TU_DROP_SCHEMA_6 \
    " DROP INDEX kits_for_dispensing; DROP INDEX kits_by_number; DROP INDEX kits_by_serial;" \
    " DROP TABLE dispensations;" \
    " DROP TABLE code_breaks; DROP TABLE titration_rules; DROP TABLE dose_levels;" \
    " DROP TABLE visit_kits; DROP TABLE visits; DROP TABLE kit_list; DROP TABLE rand_list;" \
    " DROP TABLE subjects; DROP TABLE rand_schemes;"

/* ---- per-test fixtures (Asserts) ---- */

/* A new temporary directory for one test (malloc'd path); when template_dir is not NULL it
 * receives a copy of the site db_name from there (tu_copy_site).  Asserts. */
char *tu_test_dir(const char *template_dir, const char *db_name);
/* A test's own copy of the template site: *dir (tu_test_dir), its site path into path, and the
 * site open with `user` logged in.  Asserts. */
ctm_db *tu_site_open(const char *template_dir, char **dir, char path[4096], const char *user,
                     const char *password);
/* Fixture teardown: close *a and *b (either pointer may itself be NULL), remove *dir with all in
 * it and free it; everything is left NULL.  Makes no assertion, so it is safe after a failure. */
void tu_teardown(char **dir, ctm_db **a, ctm_db **b);

/* ---- the library (Asserts) ---- */

/* rc must be CTM_OK; the failure names the status and ctm_errmsg(). */
void tu_ok(int rc);
/* ctm_open(path, options) must succeed; returns the handle.  path is a site file: on PostgreSQL
 * its database is opened (and with CTM_OPEN_CREATE first created when missing, as SQLite
 * creates the file), with key_path set to path + ".key" unless options name a key. */
ctm_db *tu_open(const char *path, const ctm_open_options *options);
/* As tu_open without assertions: ctm_open's status, *out as ctm_open leaves it. */
int tu_open_rc(ctm_db **out, const char *path, const ctm_open_options *options);
/* ctm_login must succeed. */
void tu_login(ctm_db *h, const char *user, const char *pw);
/* Log out whoever is logged in, then log user in (ctm_login must succeed). */
void tu_as(ctm_db *h, const char *user, const char *pw);
/* ctm_audit_size, which must succeed. */
uint64_t tu_audit_size(ctm_db *h);
/* ctm_audit_verify(h, vkey, no held checkpoint) must pass: CTM_OK and no failed entry.
 * Returns the result for further checks. */
ctm_verify_result tu_assert_verifies(ctm_db *h, const char *vkey);
/* As tu_assert_verifies, and the verification covered every entry (entries == audit size). */
void tu_assert_verifies_all(ctm_db *h, const char *vkey);
/* ctm_audit_log for the one entry seq, which must exist: the query, on its row (ctm_query_free). */
ctm_query *tu_log_entry(ctm_db *h, uint64_t seq);

/* ---- the database, seen from outside the library (Asserts) ----
 * Each through a connection of its own (so it sees only what is committed): SQLite's library
 * on SQLite, libpq on PostgreSQL.  The SQL is the back end's (tu_dialect where they differ);
 * ?1 works on both. */

/* The first column of the one-row query (a boolean reads as 0 or 1); ?1 is bound to arg as
 * text when arg is not NULL.  SQLite: a read-only connection. */
int64_t tu_sql_int(const char *path, const char *query, const char *arg);
/* As tu_sql_int, for a text column: malloc'd. */
char *tu_sql_text(const char *path, const char *query);
/* Run SQL as an intruder would, bypassing libctm; it must succeed.  SQLite: a plain read-write
 * connection (the file created if missing), as with the sqlite3 shell.  PostgreSQL: a superuser
 * session with session_replication_role = replica, in which libctm's guard triggers do not
 * fire (verification must still find what it changes). */
void tu_sql_exec(const char *path, const char *sql);
/* For what the three above cannot do (blobs, many rows): a connection of its own through libctm's
 * store seam (store.h), read-only unless intruder; an intruder on PostgreSQL has
 * session_replication_role = replica as in tu_sql_exec.  Close with ctm__store_close. */
struct ctm__store *tu_store(const char *path, int intruder);

/* ---- Check ---- */

struct Suite;
struct TCase;
/* A test case added to s: with the checked fixture (setup, teardown) unless both are NULL, and
 * the timeout in seconds unless timeout <= 0 (Check's default).  Add its tests afterwards. */
struct TCase *tu_tcase(struct Suite *s, const char *name, void (*setup)(void),
                       void (*teardown)(void), double timeout);
/* Run a Check suite in the mode given by CK_FORK (both fork and no-fork are used in CI);
 * returns the process exit status.  On PostgreSQL, drops every database the run made. */
int tu_run_suite(struct Suite *s);

#endif
