/* test_guard.c - a site on PostgreSQL refuses changes that bypass libctm, and its writers take
 * turns.
 *
 * PostgreSQL only (exit 77 elsewhere): the guard is the PostgreSQL engine's (guard_sql in
 * store/postgres.c, docs/internals.md "The engines").  Hand-written SQL through libpq, as a
 * superuser without session_replication_role (so the guard's triggers fire): row changes fail at
 * COMMIT, TRUNCATE and any change of the ledger at once, and the site is left as it was.  The
 * writer lock: a handle inside a batch holds it; another handle's write waits its busy timeout,
 * fails with CTM_EBUSY and succeeds once the batch is committed, its entry after the batch's.
 * Durability: an action returns only once the server has flushed its commit. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#ifdef CTM_HAVE_POSTGRES
#include <libpq-fe.h>

#define ADMIN "admin"
#define PHARM "pharm"
#define PW "guard-test-password"
#define TRIAL "GUARD-1"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db_a, *db_b;

/* The site: two users, a trial with a kit type, two fridges, a confirmed shipment of two kits
 * and one transfer (a kit_moves row). */
static void build_template(void)
{
    static const struct tu_user users[] = {{PHARM, "pharmacist", 1, "Pia Pharm", PW}};
    template_dir = tu_build_template(ADMIN, "Ada Admin", PW, users, 1);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, NULL), "open");
    tu_must(ctm_login(h, PHARM, PW), "login");
    tu_must(ctm_trial_add(h, TRIAL, "A trial", "Sponsor", 0, "ACTIVE:1"), "trial");
    tu_must(ctm_kittype_add(h, TRIAL, "KT", "Drug X", 30, 2, 8, 0, NULL), "kit type");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "fridge 1");
    tu_must(ctm_location_add(h, "FRIDGE2", "fridge", 2, 8), "fridge 2");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK1,KT,L1,2030-01-31\nK2,KT,L1,2030-01-31\n";
    tu_must(ctm_receive(h, TRIAL, "SH1", m, sizeof m - 1, "FRIDGE1", NULL), "receive");
    tu_must(ctm_receive_confirm(h, "SH1", 1), "confirm");
    const char *kits[] = {"K1"};
    tu_must(ctm_transfer(h, TRIAL, kits, 1, "FRIDGE2", "rebalancing"), "transfer");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/" TU_SITE_DB, dir);
    db_a = db_b = NULL;
}

static void teardown(void)
{
    tu_teardown(&dir, &db_a, &db_b);
}

/* A superuser connection to the test's site, as someone with psql would have. */
static PGconn *connect_site(void)
{
    char *target = tu_target(db_path);
    ck_assert_ptr_nonnull(target);
    PGconn *c = PQconnectdb(target);
    free(target);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    return c;
}

/* Every row of every table of the site, as one text: what must not change. */
static char *fingerprint(PGconn *c)
{
    PGresult *t = PQexec(c, "SELECT c.relname FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                            " ORDER BY c.relname");
    ck_assert_int_eq(PQresultStatus(t), PGRES_TUPLES_OK);
    ck_assert_int_ge(PQntuples(t), 10);
    size_t cap = 256, n = 0;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i < PQntuples(t); i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)),"
                 " '') FROM \"%s\" x",
                 PQgetvalue(t, i, 0));
        PGresult *r = PQexec(c, sql);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        const char *v = PQgetvalue(r, 0, 0);
        size_t need = n + strlen(PQgetvalue(t, i, 0)) + strlen(v) + 4;
        if (need > cap) {
            cap = need * 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
        n += (size_t)snprintf(out + n, cap - n, "%s=%s\n", PQgetvalue(t, i, 0), v);
        PQclear(r);
    }
    PQclear(t);
    return out;
}

/* Run sql; returns 1 when it succeeded, else 0 with the failure's SQLSTATE and message kept. */
static int run(PGconn *c, const char *sql, char state[6], char *msg, size_t msglen)
{
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", s != NULL ? s : "");
    snprintf(msg, msglen, "%s", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/* ---- the guard ---- */

/* A change made by hand: its SQL, and whether the guard refuses it at once (else at COMMIT). */
static const struct attempt {
    const char *sql;
    int at_once;
    const char *says; /* a piece of the guard's message */
} attempts[] = {
    {"UPDATE users SET role = 'admin' WHERE username = '" PHARM "'", 0, "UPDATE on table users"},
    {"INSERT INTO locations(name, kind, min_mc, max_mc) VALUES ('BACKDOOR', 'fridge', 2000, 8000)",
     0, "INSERT on table locations"},
    {"DELETE FROM kit_moves WHERE id = (SELECT min(id) FROM kit_moves)", 0,
     "DELETE on table kit_moves"},
    {"TRUNCATE kit_moves", 1, "TRUNCATE of table kit_moves"},
    {"TRUNCATE ledger", 1, "TRUNCATE of table ledger"},
    {"DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)", 1, "only grows (DELETE"},
    {"UPDATE ledger SET entry = entry || '\\x00'::bytea WHERE seq = (SELECT min(seq) FROM ledger)",
     1, "only grows (UPDATE"},
    {"UPDATE ledger SET checkpoint = 'forged' WHERE checkpoint IS NOT NULL", 1,
     "only grows (UPDATE"},
    /* the setting the ledger's trigger also sets, set by hand: the mark is what counts */
    {"SELECT set_config('ctm.ledgered', pg_current_xact_id()::text, true);"
     " UPDATE users SET role = 'admin' WHERE username = '" PHARM "'", 0, "UPDATE on table users"},
    /* an entry appended first, the change after it: every change must be followed by an entry */
    {"INSERT INTO ledger(seq, entry) SELECT max(seq) + 1, '\\x00'::bytea FROM ledger;"
     " UPDATE users SET role = 'admin' WHERE username = '" PHARM "'", 0, "UPDATE on table users"},
    /* the transaction's mark made and removed by hand first: its check is pending all the same */
    {"INSERT INTO ctm__guard_tx VALUES (pg_current_xact_id(), 'MARK', 'by hand');"
     " DELETE FROM ctm__guard_tx; UPDATE users SET role = 'admin' WHERE username = '" PHARM "'",
     0, "UPDATE on table users"},
    /* an INSERT into the ledger that inserts no row: ON CONFLICT skips it */
    {"UPDATE users SET role = 'admin' WHERE username = '" PHARM "';"
     " INSERT INTO ledger SELECT * FROM ledger WHERE seq = 0 ON CONFLICT DO NOTHING",
     0, "UPDATE on table users"},
    /* the ledger's guard function called by a trigger on a table of one's own, which would set
     * the mark's "ledgered" with no entry appended */
    {"CREATE TEMP TABLE t(x int); CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW"
     " EXECUTE FUNCTION ctm__guard_ledger();"
     " UPDATE users SET role = 'admin' WHERE username = '" PHARM "'; INSERT INTO t VALUES (1)",
     1, "serves the ledger only"},
};

START_TEST(hand_written_changes_are_refused)
{
    const struct attempt *a = &attempts[_i];
    PGconn *c = connect_site();
    char *before = fingerprint(c);
    char state[6], msg[1024];
    ck_assert(run(c, "BEGIN", state, msg, sizeof msg));
    int ok = run(c, a->sql, state, msg, sizeof msg);
    if (!a->at_once) {
        ck_assert_msg(ok, "%s: refused before COMMIT: %s", a->sql, msg);
        ok = run(c, "COMMIT", state, msg, sizeof msg);
        ck_assert_msg(!ok, "%s: committed", a->sql);
    } else {
        ck_assert_msg(!ok, "%s: not refused", a->sql);
        run(c, "ROLLBACK", state, msg, sizeof msg);
        ok = run(c, a->sql, state, msg, sizeof msg);
        ck_assert_msg(!ok, "%s: not refused outside a transaction", a->sql);
    }
    ck_assert_msg(strcmp(state, "42501") == 0 && strstr(msg, "libctm guard") != NULL &&
                      strstr(msg, a->says) != NULL,
                  "%s: %s %s", a->sql, state, msg);
    char *after = fingerprint(c);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    PQfinish(c);

    /* libctm still writes: an action goes through and the change it made is there */
    db_a = tu_open(db_path, NULL);
    tu_login(db_a, ADMIN, PW);
    uint64_t n = tu_audit_size(db_a);
    tu_ok(ctm_location_add(db_a, "SHELF1", "room", 15, 25));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM locations WHERE name = ?1", "SHELF1"),
                     1);
}
END_TEST

/* Without a transaction of its own a row change is refused all the same (its implicit COMMIT). */
START_TEST(autocommit_changes_are_refused)
{
    PGconn *c = connect_site();
    char *before = fingerprint(c);
    char state[6], msg[1024];
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(!run(c, attempts[i].sql, state, msg, sizeof msg), "%s: committed",
                      attempts[i].sql);
        ck_assert_msg(strcmp(state, "42501") == 0 && strstr(msg, attempts[i].says) != NULL, "%s: %s",
                      attempts[i].sql, msg);
    }
    char *after = fingerprint(c);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    PQfinish(c);
}
END_TEST

/* ---- a site from before the statement triggers ---- */

/* The triggers of a site made by libctm before its capture and guard fired once per statement:
 * one row trigger each per table, the capture function of that time. */
static const char old_triggers_sql[] =
    "CREATE OR REPLACE FUNCTION ctm__capture_row() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    "  IF current_setting('ctm.capture', true) = 'on' THEN"
    "   INSERT INTO pg_temp.ctm__changes(op, relid, tbl, old_row, new_row)"
    "    VALUES (left(TG_OP, 1), TG_RELID, TG_TABLE_NAME,"
    "     CASE WHEN TG_OP <> 'INSERT' THEN OLD::text END,"
    "     CASE WHEN TG_OP <> 'DELETE' THEN NEW::text END);"
    "  END IF; RETURN NULL; END $f$;"
    "CREATE OR REPLACE FUNCTION ctm__guard_row() RETURNS trigger LANGUAGE plpgsql AS $g$ BEGIN"
    "  IF current_setting('ctm.ledgered', true) IS DISTINCT FROM pg_current_xact_id()::text THEN"
    "   RAISE EXCEPTION 'libctm guard: % on table % without a ledger entry (changes to a libctm"
    " site go through libctm)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';"
    "  END IF; RETURN NULL; END $g$;"
    "DO $d$ DECLARE t regclass; BEGIN"
    " FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'ledger'"
    "  AND c.relname NOT LIKE 'ctm\\_\\_%'"
    " LOOP"
    "  EXECUTE format('DROP TRIGGER ctm__capture ON %1$s; DROP TRIGGER ctm__capture_u ON %1$s;"
    "   DROP TRIGGER ctm__capture_d ON %1$s; DROP TRIGGER ctm__guard ON %1$s;"
    "   DROP TRIGGER ctm__guard_u ON %1$s; DROP TRIGGER ctm__guard_d ON %1$s;"
    "   CREATE TRIGGER ctm__capture AFTER INSERT OR UPDATE OR DELETE ON %1$s"
    "    FOR EACH ROW EXECUTE FUNCTION ctm__capture_row();"
    "   CREATE CONSTRAINT TRIGGER ctm__guard AFTER INSERT OR UPDATE OR DELETE ON %1$s"
    "    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ctm__guard_row()', t);"
    " END LOOP; END $d$;"
    /* and the ledger's one trigger for every change of that time */
    "DROP TRIGGER ctm__guard_ledger_i ON ledger; DROP TRIGGER ctm__guard_ledger_u ON ledger;"
    "DROP TRIGGER ctm__guard_ledger_d ON ledger;"
    "CREATE TRIGGER ctm__guard_ledger BEFORE INSERT OR UPDATE OR DELETE ON ledger"
    " FOR EACH ROW EXECUTE FUNCTION ctm__guard_ledger()";

/* The number of the ledger's guard triggers named like `name`. */
static int ledger_triggers(PGconn *c, const char *name)
{
    const char *params[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ledger'::regclass"
                                  " AND tgname LIKE $1", 1, NULL, params, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static int row_triggers(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = current_schema()"
                            " AND g.tgname IN ('ctm__capture', 'ctm__guard') AND (g.tgtype & 1) = 1");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Such a site stays guarded and captured; the owner's first write replaces its triggers, and the
 * entries written before, during and after verify. */
START_TEST(an_older_site_is_brought_up_to_date)
{
    PGconn *c = connect_site();
    char state[6], msg[1024];
    ck_assert_msg(run(c, old_triggers_sql, state, msg, sizeof msg), "%s", msg);
    ck_assert_int_ge(row_triggers(c), 20);
    ck_assert_int_eq(ledger_triggers(c, "ctm\\_\\_guard\\_ledger"), 1);
    ck_assert(!run(c, attempts[0].sql, state, msg, sizeof msg));
    ck_assert_msg(strcmp(state, "42501") == 0 && strstr(msg, attempts[0].says) != NULL, "%s", msg);

    /* the test's role is a superuser: it counts as the tables' owner */
    db_a = tu_open(db_path, NULL);
    tu_login(db_a, ADMIN, PW);
    uint64_t n = tu_audit_size(db_a);
    tu_ok(ctm_location_add(db_a, "SHELF1", "room", 15, 25));
    ck_assert_int_eq(row_triggers(c), 0);
    /* the ledger's: one per kind of change, the INSERT's only when the transaction changed rows */
    ck_assert_int_eq(ledger_triggers(c, "ctm\\_\\_guard\\_ledger"), 0);
    ck_assert_int_eq(ledger_triggers(c, "ctm\\_\\_guard\\_ledger\\__"), 3);
    tu_login(db_a, PHARM, PW);
    const char *kits[] = {"K1"};
    tu_ok(ctm_transfer(db_a, TRIAL, kits, 1, "FRIDGE1", "back"));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 2);
    ctm_query *q = tu_log_entry(db_a, n + 1);
    int col = ctm_query_column_index(q, "changes");
    ck_assert_int_ge(col, 0);
    ck_assert_msg(strstr(ctm_query_text(q, col), "kits") != NULL, "%s", ctm_query_text(q, col));
    ctm_query_free(q);
    tu_assert_verifies_all(db_a, NULL);
    ck_assert(!run(c, attempts[0].sql, state, msg, sizeof msg));
    ck_assert_msg(strcmp(state, "42501") == 0 && strstr(msg, attempts[0].says) != NULL, "%s", msg);
    for (size_t i = 5; i <= 7; i++) { /* the ledger only grows, under its new triggers too */
        ck_assert_msg(!run(c, attempts[i].sql, state, msg, sizeof msg), "%s", attempts[i].sql);
        ck_assert_msg(strstr(msg, attempts[i].says) != NULL, "%s", msg);
    }
    PQfinish(c);
}
END_TEST

/* The last attempts: an INSERT into the ledger that inserts no row, the guard's function borrowed. */
#define SKIPPED_INSERT (sizeof attempts / sizeof attempts[0] - 2)
#define BORROWED (sizeof attempts / sizeof attempts[0] - 1)

/* The ledger's guard function as a site made before it served the ledger only has it: any role
 * may name it in a trigger of its own. */
static const char old_guard_fn_sql[] =
    "DO $d$ BEGIN EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.ctm__guard_ledger()"
    " RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
    " AS $g$ BEGIN IF TG_OP = 'INSERT' THEN"
    "  UPDATE %1$I.ctm__guard_tx SET ledgered = true WHERE xid = pg_current_xact_id() AND NOT ledgered;"
    "  PERFORM set_config('ctm.ledgered', pg_current_xact_id()::text, true); RETURN NEW;"
    " ELSIF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.entry = OLD.entry"
    "  AND (OLD.checkpoint IS NULL OR NEW.checkpoint IS NOT DISTINCT FROM OLD.checkpoint) THEN"
    "  RETURN NEW; END IF;"
    " RAISE EXCEPTION 'libctm guard: the ledger only grows (%% refused)', TG_OP"
    "  USING ERRCODE = 'insufficient_privilege'; END $g$$f$, current_schema()); END $d$;"
    "GRANT EXECUTE ON FUNCTION ctm__guard_ledger() TO PUBLIC";

/* The ledger's insert trigger as a site made before it fired AFTER the row is in has it: an
 * INSERT that ON CONFLICT inserts nothing counts as an entry. */
static const char old_insert_trigger_sql[] =
    "DROP TRIGGER ctm__guard_ledger_i ON ledger;"
    "CREATE TRIGGER ctm__guard_ledger_i BEFORE INSERT ON ledger FOR EACH ROW"
    " WHEN (current_setting('ctm.marked', true) = pg_current_xact_id()::text)"
    " EXECUTE FUNCTION ctm__guard_ledger()";

/* The owner's first write on a connection replaces either: then a trigger on a table of one's
 * own calling the function is refused, and so is an INSERT into the ledger that inserts nothing
 * (here ON CONFLICT turns it into an update of another row). */
START_TEST(an_older_guard_function_is_replaced)
{
    static const char *const olds[2] = {old_guard_fn_sql, old_insert_trigger_sql};
    const char *tries[2] = {
        attempts[BORROWED].sql,
        "UPDATE users SET role = 'admin' WHERE username = '" PHARM "'; INSERT INTO ledger"
        " SELECT * FROM ledger WHERE seq = 0 ON CONFLICT (seq) DO UPDATE SET frontier = ledger.frontier"};
    const char *says[2] = {attempts[BORROWED].says, attempts[SKIPPED_INSERT].says};
    PGconn *c = connect_site();
    char state[6], msg[1024];
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(run(c, olds[i], state, msg, sizeof msg), "%s", msg);
        db_a = tu_open(db_path, NULL);
        tu_login(db_a, ADMIN, PW);
        tu_ok(ctm_location_add(db_a, i == 0 ? "SHELF1" : "SHELF2", "room", 15, 25));
        ctm_close(db_a);
        db_a = NULL;
        ck_assert_msg(!run(c, tries[i], state, msg, sizeof msg), "%s: committed", tries[i]);
        ck_assert_msg(strcmp(state, "42501") == 0 && strstr(msg, says[i]) != NULL, "%s", msg);
    }
    ck_assert_int_eq(ledger_triggers(c, "ctm\\_\\_guard\\_ledger\\__"), 3);
    PQfinish(c);
}
END_TEST

/* The guard lets the tree state stored on the newest entry change (libctm moves it from entry to
 * entry), so someone may forge one of the right size: the next action must not sign a checkpoint
 * over it (which, a checkpoint never changing, would leave a ledger that never verifies again),
 * and verify names the entry. */
START_TEST(a_forged_tree_state_is_not_signed)
{
    db_a = tu_open(db_path, NULL);
    tu_login(db_a, ADMIN, PW);
    uint64_t n = tu_audit_size(db_a);
    PGconn *c = connect_site();
    char state[6], msg[1024];
    /* one bit of a hash flipped: a changed byte whatever the hash was (setting it to a value
     * changed nothing when the byte already had it) */
    ck_assert_msg(run(c, "UPDATE ledger SET frontier = set_byte(frontier, 11,"
                         " get_byte(frontier, 11) # 1) WHERE seq = (SELECT max(seq) FROM ledger)",
                      state, msg, sizeof msg), "%s", msg);
    PQfinish(c);
    ck_assert_int_eq(ctm_location_add(db_a, "SHELF1", "room", 15, 25), CTM_EINTEGRITY);
    ck_assert_msg(strstr(ctm_errmsg(), "not the tree its checkpoint signs") != NULL, "%s",
                  ctm_errmsg());
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM ledger", NULL), (int)n);
    ctm_verify_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db_a, NULL, NULL, &r), CTM_EINTEGRITY);
    ck_assert_int_eq(r.failed_seq, (int64_t)n - 1);
}
END_TEST

/* ---- the writer lock ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The note text of entry seq (its params hold it). */
static int entry_has(ctm_db *h, uint64_t seq, const char *text)
{
    ctm_query *q = tu_log_entry(h, seq);
    int col = ctm_query_column_index(q, "params");
    ck_assert_int_ge(col, 0);
    int found = strstr(ctm_query_text(q, col), text) != NULL;
    ctm_query_free(q);
    return found;
}

START_TEST(a_batch_holds_the_writer_lock)
{
    db_a = tu_open(db_path, NULL);
    tu_login(db_a, ADMIN, PW);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.busy_timeout_ms = 200;
    db_b = tu_open(db_path, &o);
    tu_login(db_b, PHARM, PW);
    uint64_t n = tu_audit_size(db_a);

    tu_ok(ctm_batch_begin(db_a));
    tu_ok(ctm_audit_note(db_a, "first, in A's batch", NULL));
    double t0 = now_s();
    ck_assert_int_eq(ctm_audit_note(db_b, "B while A holds the lock", NULL), CTM_EBUSY);
    double waited = now_s() - t0;
    ck_assert_msg(strlen(ctm_errmsg()) > 0, "CTM_EBUSY without a message");
    ck_assert_msg(waited >= 0.15 && waited < 3.0, "B waited %.3f s, not its busy timeout", waited);
    /* B's failed write left its handle usable and wrote nothing */
    ck_assert_int_eq(ctm_batch_begin(db_b), CTM_EBUSY);
    ck_assert_uint_eq(tu_audit_size(db_b), n);
    tu_ok(ctm_audit_note(db_a, "second, in A's batch", NULL));
    tu_ok(ctm_batch_commit(db_a));

    tu_ok(ctm_audit_note(db_b, "B after A committed", NULL));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3);
    ck_assert(entry_has(db_a, n, "first, in A's batch"));
    ck_assert(entry_has(db_a, n + 1, "second, in A's batch"));
    ck_assert(entry_has(db_a, n + 2, "B after A committed"));
}
END_TEST

/* ---- durability ---- */

/* Whether the server has flushed its WAL past the last change of every page of the ledger
 * (page LSNs, read with pageinspect, which does not touch the rows: a read that did could prune
 * a page, a newer change).  The newest entry's page was last changed before the action's commit
 * record, so after a durable action this holds. */
static int ledger_flushed(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT pg_current_wal_flush_lsn() >= max(p.lsn) FROM"
                            " generate_series(0, pg_relation_size('ledger') / 8192 - 1) b,"
                            " ctm_t_inspect.page_header(ctm_t_inspect.get_raw_page('ledger', b::int)) p");
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "page LSNs: %s", PQerrorMessage(c));
    int flushed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return flushed;
}

/* An action is reported done only once its commit is on the server's disk: right after it
 * returns, the WAL is flushed past it (the server flushes on its own only every
 * wal_writer_delay, 200 ms by default). */
START_TEST(an_action_is_done_once_flushed)
{
    PGconn *c = connect_site();
    char state[6], msg[1024];
    ck_assert_msg(run(c, "CREATE SCHEMA ctm_t_inspect; CREATE EXTENSION pageinspect SCHEMA ctm_t_inspect",
                      state, msg, sizeof msg),
                  "pageinspect: %s", msg);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.busy_timeout_ms = 200;
    db_a = tu_open(db_path, &o);
    tu_login(db_a, ADMIN, PW);
    for (int i = 0; i < 5; i++) {
        tu_ok(ctm_audit_note(db_a, "durable", NULL));
        ck_assert_msg(ledger_flushed(c), "note %d reported done before its WAL was flushed", i);
        /* the previous entry's frontier, cleared in the transaction that waited, is gone */
        PGresult *r = PQexec(c, "SELECT array_agg(seq) = ARRAY[max(seq)] FROM ledger"
                                " WHERE frontier IS NOT NULL OR seq = (SELECT max(seq) FROM ledger)");
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        ck_assert_msg(strcmp(PQgetvalue(r, 0, 0), "t") == 0, "note %d: an older entry keeps a frontier", i);
        PQclear(r);
    }
    tu_ok(ctm_location_add(db_a, "SHELF1", "room", 15, 25));
    ck_assert_msg(ledger_flushed(c), "an action with row changes reported done unflushed");
    /* The clearing, after the COMMIT, cannot have the newest entry (someone holds its row): the
     * committed action is done all the same, once flushed, not "busy" (which a caller would
     * repeat), and that entry keeps its frontier, as after a crash there. */
    ck_assert(run(c, "BEGIN; SELECT seq FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)"
                     " FOR UPDATE", state, msg, sizeof msg));
    tu_ok(ctm_audit_note(db_a, "its previous entry's row held", NULL));
    ck_assert_msg(ledger_flushed(c), "a note reported done before its WAL was flushed");
    ck_assert(run(c, "COMMIT", state, msg, sizeof msg));
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM ledger WHERE frontier IS NOT NULL",
                                NULL), 2);
    tu_assert_verifies_all(db_a, NULL);
    tu_ok(ctm_batch_begin(db_a));
    tu_ok(ctm_audit_note(db_a, "in a batch", NULL));
    tu_ok(ctm_batch_commit(db_a));
    ck_assert_msg(ledger_flushed(c), "a batch reported done before its WAL was flushed");
    PQfinish(c);
}
END_TEST

static Suite *guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tu_tcase(s, "guard", setup, teardown, 60);
    tcase_add_loop_test(tc, hand_written_changes_are_refused, 0,
                        (int)(sizeof attempts / sizeof attempts[0]));
    tcase_add_test(tc, autocommit_changes_are_refused);
    tcase_add_test(tc, an_older_site_is_brought_up_to_date);
    tcase_add_test(tc, an_older_guard_function_is_replaced);
    tcase_add_test(tc, a_forged_tree_state_is_not_signed);
    tc = tu_tcase(s, "writer lock", setup, teardown, 60);
    tcase_add_test(tc, a_batch_holds_the_writer_lock);
    tcase_add_test(tc, an_action_is_done_once_flushed);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    if (tu_backend() != TU_POSTGRES) {
        fprintf(stderr, "guard: PostgreSQL only (CTM_TEST_BACKEND=postgres)\n");
        return 77;
    }
    build_template();
    int rc = tu_run_suite(guard_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}

#else

int main(void)
{
    fprintf(stderr, "guard: this libctm has no PostgreSQL engine\n");
    return 77;
}

#endif
