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

/* ---- files and directories (no assertions) ---- */

/* Path of a file under tests/data (static buffer, valid until the next call). */
const char *tu_data_path(const char *name);
/* Read a whole file; malloc'd, NUL-terminated, *len without the NUL.  NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* A fresh empty temporary directory (malloc'd path) and its removal with everything in it. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);
/* Decode hex into out (capacity cap); returns bytes written or -1. */
int tu_hex_decode(const char *hex, uint8_t *out, size_t cap);
/* Copy a file byte for byte; `to` is created with mode 0600, or replaced.  0, or -1 on failure. */
int tu_copy_file(const char *from, const char *to);
/* Copy the site database db_name, its key file (db_name.key) and its WAL (db_name-wal, only when
 * present) from from_dir to to_dir.  0, or -1 on failure. */
int tu_copy_site(const char *from_dir, const char *to_dir, const char *db_name);

/* ---- test data (Asserts) ---- */

/* The whole of the file name under tests/data (malloc'd); it must be readable. */
char *tu_read_data(const char *name);

/* ---- a template site, built once before the runner forks (no assertions) ---- */

#define TU_SITE_DB "site.db"
#define TU_SITE_NAME "St Example Pharmacy"
#define TU_ORIGIN "example.org/pharmacy-1"

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

/* ---- per-test fixtures (Asserts) ---- */

/* A new temporary directory for one test (malloc'd path); when template_dir is not NULL it
 * receives a copy of the site db_name from there (tu_copy_site).  Asserts. */
char *tu_test_dir(const char *template_dir, const char *db_name);
/* Fixture teardown: close *a and *b (either pointer may itself be NULL), remove *dir with all in
 * it and free it; everything is left NULL.  Makes no assertion, so it is safe after a failure. */
void tu_teardown(char **dir, ctm_db **a, ctm_db **b);

/* ---- the library (Asserts) ---- */

/* rc must be CTM_OK; the failure names the status and ctm_errmsg(). */
void tu_ok(int rc);
/* ctm_open(path, options) must succeed; returns the handle. */
ctm_db *tu_open(const char *path, const ctm_open_options *options);
/* ctm_login must succeed. */
void tu_login(ctm_db *h, const char *user, const char *pw);
/* ctm_audit_size, which must succeed. */
uint64_t tu_audit_size(ctm_db *h);
/* ctm_audit_verify(h, vkey, no held checkpoint) must pass: CTM_OK and no failed entry.
 * Returns the result for further checks. */
ctm_verify_result tu_assert_verifies(ctm_db *h, const char *vkey);
/* As tu_assert_verifies, and the verification covered every entry (entries == audit size). */
void tu_assert_verifies_all(ctm_db *h, const char *vkey);
/* ctm_audit_log for the one entry seq, which must exist: the query, on its row (ctm_query_free). */
ctm_query *tu_log_entry(ctm_db *h, uint64_t seq);

/* ---- the database file, seen from outside the library (Asserts) ---- */

/* The first column of the one-row query, through a read-only SQLite connection of its own (so
 * it sees only what is committed); ?1 is bound to arg as text when arg is not NULL. */
int64_t tu_sql_int(const char *path, const char *query, const char *arg);
/* As tu_sql_int, for a text column: malloc'd. */
char *tu_sql_text(const char *path, const char *query);
/* Run SQL on the file through a plain read-write connection (created if missing), as someone
 * with the sqlite3 shell would; it must succeed. */
void tu_sql_exec(const char *path, const char *sql);

/* ---- Check ---- */

struct Suite;
struct TCase;
/* A test case added to s: with the checked fixture (setup, teardown) unless both are NULL, and
 * the timeout in seconds unless timeout <= 0 (Check's default).  Add its tests afterwards. */
struct TCase *tu_tcase(struct Suite *s, const char *name, void (*setup)(void),
                       void (*teardown)(void), double timeout);
/* Run a Check suite in the mode given by CK_FORK (both fork and no-fork are used in CI);
 * returns the process exit status. */
int tu_run_suite(struct Suite *s);

#endif
