/* test_server.c - a site on a PostgreSQL server: the same clear refusals as for files (a wrong
 * connection string, a database that is not a libctm site, a newer schema), no default key file,
 * no password in any message; faults: a workstation killed mid-action, the server restarted
 * mid-run.  Runs when the environment names a server
 * (CTM_TEST_PG, or PGHOST as pg_virtualenv sets it); otherwise it says so and skips (77). */
#include <check.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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


/* Run sql through a connection to `on` (a connection string); the store's status. */
static int sql_on(const char *on, const char *sql)
{
    ctm__store *s = NULL;
    int rc = ctm__store_open(&s, on, 0);
    if (rc == CTM_OK)
        rc = ctm__store_exec(s, sql);
    ctm__store_close(s);
    return rc;
}

/* Run sql on the test's database; it must succeed. */
static void server_sql(const char *sql)
{
    ck_assert_msg(sql_on(target, sql) == CTM_OK, "%s: %s", sql, ctm_errmsg());
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


/* The roles of docs/deployment.md: the owner creates the site, the application role (no
 * superuser, not the owner, no TRUNCATE) works it, and cannot switch the guard off. */
START_TEST(test_deployment_roles)
{
    char owner[96], app[96], sql[1024];
    const char *db = strrchr(target, '/') + 1;
    snprintf(owner, sizeof owner, "%s_owner", db);
    snprintf(app, sizeof app, "%s_app", db);
    snprintf(sql, sizeof sql,
             "CREATE ROLE %s LOGIN PASSWORD 'owner-pw-1'; CREATE ROLE %s LOGIN PASSWORD 'app-pw-1';"
             " ALTER DATABASE %s OWNER TO %s; REVOKE ALL ON DATABASE %s FROM PUBLIC;"
             " GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s",
             owner, app, db, owner, db, db, app);
    ck_assert_msg(sql_on(pg_base, sql) == CTM_OK, "%s", ctm_errmsg());
    snprintf(sql, sizeof sql, "REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO %s",
             owner);
    server_sql(sql);
    /* the owner creates the site */
    char as_owner[400], as_app[400];
    snprintf(as_owner, sizeof as_owner, "dbname=%s user=%s password=owner-pw-1", db, owner);
    snprintf(as_app, sizeof as_app, "dbname=%s user=%s password=app-pw-1", db, app);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    o.key_path = key_path;
    ctm_db *h = tu_open(as_owner, &o);
    tu_ok(ctm_init(h, TU_SITE_NAME, TU_ORIGIN, "anna", "Anna Berg", PW));
    ctm_close(h);
    /* the grants of deployment.md */
    snprintf(sql, sizeof sql,
             "GRANT USAGE ON SCHEMA public TO %s;"
             " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s;"
             " GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %s;"
             " REVOKE TRUNCATE, TRIGGER, REFERENCES ON ALL TABLES IN SCHEMA public FROM %s;"
             " REVOKE INSERT, UPDATE, DELETE ON ctm__schema FROM %s",
             app, app, app, app, app);
    ck_assert_msg(sql_on(as_owner, sql) == CTM_OK, "%s", ctm_errmsg());
    /* the application role works the site: users, a trial, a location, a receipt, a note */
    o.flags = 0;
    h = tu_open(as_app, &o);
    tu_login(h, "anna", PW);
    tu_ok(ctm_user_add(h, "pete", "pharmacist", 1, "Pete Ström", PW));
    tu_ok(ctm_trial_add(h, "ROLE-1", "Role trial", "Sponsor", 1, "A:1,B:1"));
    tu_ok(ctm_kittype_add(h, "ROLE-1", "KT", "Drug", 30, 2, 8, 30, NULL));
    tu_ok(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8));
    tu_login(h, "pete", PW);
    static const char m[] = "kit_number,kit_type,lot,expiry,arm\nK1,KT,L1,2030-01-31,A\n";
    tu_ok(ctm_receive(h, "ROLE-1", "SH1", m, sizeof m - 1, "FRIDGE1", NULL));
    tu_ok(ctm_audit_note(h, "as the application role", NULL));
    tu_assert_verifies_all(h, NULL);
    ctm_close(h);
    /* and cannot get past the guard */
    ck_assert_int_ne(sql_on(as_app, "TRUNCATE discrepancies"), CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "ALTER TABLE users DISABLE TRIGGER ctm__guard"), CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "SET session_replication_role = replica"), CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "UPDATE kits SET units = 1"), CTM_OK);
    /* the schema version, outside the guard, is the owner's */
    ck_assert_int_ne(sql_on(as_app, "UPDATE ctm__schema SET version = version - 1"), CTM_OK);
    /* nor forge the guard's mark: "ledgered" set, or the mark removed, by hand */
    ck_assert_int_ne(sql_on(as_app, "SELECT set_config('ctm.ledgered', pg_current_xact_id()::text,"
                                    " true); UPDATE kits SET units = 1"),
                     CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "INSERT INTO ctm__guard_tx VALUES (pg_current_xact_id(),"
                                    " 'INSERT', 'ledger', true); UPDATE kits SET units = 1"),
                     CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "UPDATE kits SET units = 1;"
                                    " UPDATE ctm__guard_tx SET ledgered = true"),
                     CTM_OK);
    ck_assert_int_ne(sql_on(as_app, "UPDATE kits SET units = 1; DELETE FROM ctm__guard_tx"), CTM_OK);
    ck_assert_msg(strstr(ctm_errmsg(), "guard") != NULL, "%s", ctm_errmsg());
    /* nor borrow the owner's rights through the guard's functions: a trigger of its own, on a
     * table of its own, calling the ledger's, would set "ledgered" with no entry appended; the
     * functions are not PUBLIC's, and the ledger's serves the ledger only, even once granted */
    static const char borrow[] =
        "CREATE TEMP TABLE t(x int); CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW"
        " EXECUTE FUNCTION public.ctm__guard_ledger(); UPDATE kits SET units = 1; INSERT INTO t VALUES (1)";
    ck_assert_int_ne(sql_on(as_app, borrow), CTM_OK);
    ck_assert_msg(strstr(ctm_errmsg(), "permission denied") != NULL, "%s", ctm_errmsg());
    snprintf(sql, sizeof sql, "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO %s", app);
    ck_assert_msg(sql_on(as_owner, sql) == CTM_OK, "%s", ctm_errmsg());
    ck_assert_int_ne(sql_on(as_app, borrow), CTM_OK);
    ck_assert_msg(strstr(ctm_errmsg(), "serves the ledger only") != NULL, "%s", ctm_errmsg());
    /* A role that may not write the logical decoding message a writer's wait for the disk uses
     * (revoked here) still works, each commit waiting for its own flush with the lock held:
     * right after a note, the WAL is flushed past every change of the ledger's pages. */
    server_sql("REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC;"
               " CREATE EXTENSION pageinspect");
    h = tu_open(as_app, &o);
    tu_login(h, "pete", PW);
    tu_ok(ctm_audit_note(h, "no logical decoding message allowed", NULL));
    server_sql("DO $d$ BEGIN IF NOT (SELECT pg_current_wal_flush_lsn() >= max(p.lsn) FROM"
               " generate_series(0, pg_relation_size('ledger') / 8192 - 1) b,"
               " page_header(get_raw_page('ledger', b::int)) p) THEN"
               " RAISE EXCEPTION 'a note was reported done before its WAL was flushed'; END IF; END $d$");
    tu_assert_verifies_all(h, NULL);
    ctm_close(h);
    /* DROP DATABASE cannot share a transaction with anything: one statement at a time */
    char one[300];
    snprintf(one, sizeof one, "DROP DATABASE %s WITH (FORCE)", db);
    sql_on(pg_base, one);
    snprintf(one, sizeof one, "DROP ROLE %s", app);
    ck_assert_msg(sql_on(pg_base, one) == CTM_OK, "%s", ctm_errmsg());
    snprintf(one, sizeof one, "DROP ROLE %s", owner);
    ck_assert_msg(sql_on(pg_base, one) == CTM_OK, "%s", ctm_errmsg());
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

/* ---- faults ---- */

static ctm_db *open_writer(void)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.key_path = key_path;
    ctm_db *h = NULL;
    if (ctm_open(&h, target, &o) != CTM_OK || ctm_login(h, "anna", PW) != CTM_OK)
        return NULL;
    return h;
}

/* Write single notes and batches of 20 until told otherwise, reporting each acknowledged entry
 * count on fd; exits 0 at the first failure after `stop_on_failure`, else 4. */
static void writer(int fd, int stop_on_failure)
{
    ctm_db *db = open_writer();
    if (db == NULL)
        _exit(3);
    for (unsigned i = 0;; i++) {
        int entries = 1, rc;
        if (i % 3 == 0) {
            entries = 20;
            rc = ctm_batch_begin(db);
            for (int k = 0; rc == CTM_OK && k < entries; k++)
                rc = ctm_audit_note(db, "batched note in a fault test", NULL);
            if (rc == CTM_OK)
                rc = ctm_batch_commit(db);
        } else {
            rc = ctm_audit_note(db, "note in a fault test", NULL);
        }
        if (rc != CTM_OK) {
            /* the failure the caller sees must say what happened */
            int code = ctm_errcode();
            const char *msg = ctm_errmsg();
            int clear = (code == CTM_EIO || code == CTM_EBUSY) && msg != NULL && msg[0] != '\0';
            _exit(stop_on_failure && clear ? 0 : 4);
        }
        if (write(fd, &entries, sizeof entries) != (ssize_t)sizeof entries)
            _exit(5);
    }
}

/* A writer in a child process; *ack: the read end of its acknowledgements. */
static pid_t start_writer(int stop_on_failure, int *ack)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        writer(p[1], stop_on_failure);
    }
    close(p[1]);
    *ack = p[0];
    return pid;
}

/* Sum of the acknowledged counts a writer sent (until its end of the pipe closed). */
static uint64_t acknowledged(int fd)
{
    uint64_t total = 0;
    int n;
    while (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
        total += (uint64_t)n;
    return total;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void assert_verifies(uint64_t at_least)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_READONLY;
    ctm_db *h = tu_open(target, &o);
    uint64_t size = tu_audit_size(h);
    ck_assert_msg(size >= at_least, "the ledger holds %llu entries, %llu were acknowledged",
                  (unsigned long long)size, (unsigned long long)at_least);
    tu_assert_verifies_all(h, NULL);
    ctm_close(h);
}

/* A workstation killed (SIGKILL) in the middle of its writes: every acknowledged write is there,
 * the interrupted action is whole or absent, the ledger verifies, and others go on writing. */
START_TEST(test_client_killed)
{
    ctm_close(create_site());
    for (int round = 0; round < 4; round++) {
        int ack;
        pid_t pid = start_writer(0, &ack);
        sleep_ms(150 + 100 * round);
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        ck_assert_msg(WIFSIGNALED(st), "the writer stopped by itself (status %d)", st);
        uint64_t acked = acknowledged(ack);
        close(ack);
        assert_verifies(1 + acked);
    }
    ctm_db *h = open_writer();
    ck_assert_ptr_nonnull(h);
    tu_ok(ctm_audit_note(h, "after the kills", NULL));
    ctm_close(h);
    assert_verifies(2);
}
END_TEST

/* The server restarted under a writer: the writer gets CTM_EIO with a message (or CTM_EBUSY), no
 * action is half-done, the ledger verifies, and a new connection writes again.  Needs the
 * cluster's name (CTM_TEST_PG_CLUSTER="15/regress", as scripts/test.sh sets it inside
 * pg_virtualenv) and pg_ctlcluster. */
START_TEST(test_server_restarted)
{
    const char *cluster = getenv("CTM_TEST_PG_CLUSTER");
    ck_assert_ptr_nonnull(cluster);
    ctm_close(create_site());
    int ack;
    pid_t pid = start_writer(1, &ack);
    sleep_ms(300);
    char cmd[300], version[16] = "", name[64] = "";
    ck_assert_int_eq(sscanf(cluster, "%15[^/]/%63s", version, name), 2);
    snprintf(cmd, sizeof cmd, "pg_ctlcluster %s %s restart -m fast >/dev/null 2>&1", version,
             name);
    ck_assert_int_eq(system(cmd), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    uint64_t acked = acknowledged(ack);
    close(ack);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the writer did not end with a clear CTM_EIO/CTM_EBUSY (status %d)", st);
    assert_verifies(1 + acked);
    ctm_db *h = open_writer();
    ck_assert_ptr_nonnull(h);
    tu_ok(ctm_audit_note(h, "after the restart", NULL));
    ctm_close(h);
    assert_verifies(2 + acked);
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
    tcase_add_test(tc, test_deployment_roles);
    tc = tu_tcase(s, "faults", setup, teardown, 120);
    tcase_add_test(tc, test_client_killed);
    if (getenv("CTM_TEST_PG_CLUSTER") != NULL)
        tcase_add_test(tc, test_server_restarted);
    else
        fprintf(stderr, "server: no restart test (set CTM_TEST_PG_CLUSTER, e.g. 15/regress)\n");
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    pg_base = pu_server("server");
    if (pg_base == NULL)
        return 77; /* skipped */
    snprintf(run_prefix, sizeof run_prefix, "ctm_server_%ld", (long)getpid());
    int rc = tu_run_suite(server_suite());
    pu_drop_databases(pg_base, run_prefix);
    return rc;
}
