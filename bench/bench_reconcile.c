/* bench_reconcile.c - the reconciliation and the DARF log against a bare SQL GROUP BY over the
 * same tables, in the same run, on the same database: an SQLite file, or with --pg a PostgreSQL
 * database on the server the environment names (CTM_TEST_PG, else libpq's PG* variables; e.g.
 * under pg_virtualenv), made for the run and dropped after it.
 *
 *   build/bench/bench_reconcile [--quick] [--pg] [DIR]
 *
 *   fill            one trial with K kits (1,000,000; --quick 100,000) in 4 kit types x 25 lots,
 *                   each with 10 history rows (kit_events: 10,000,000; --quick 1,000,000): half
 *                   the kits end available after quarantines and releases, half dispensed to a
 *                   subject and returned, with their dispensations and kit_returns.  The tables
 *                   are filled by SQL in the site's database as the library leaves them (receipts
 *                   of a million kits through the API would take the run's hour; on PostgreSQL
 *                   past libctm's guard triggers, as the superuser); the reports read nothing
 *                   else.  The audit ledger gets 10,000,000 entries (--quick 1,000,000) through
 *                   the API, notes of an entry's usual size in batches of 100,000, so that the
 *                   database is the size of a site with that history.
 *   reconciliation  ctm_reconciliation() now (every kit's status and its cross-checks: history,
 *                   dispensation, return, destruction, shipback), every row read
 *                   vs  the same tables: SELECT kit_type_id, lot_id, status, COUNT(*), SUM(units)
 *                   ... FROM kits JOIN kit_events LEFT JOIN dispensations LEFT JOIN kit_returns
 *                   GROUP BY kit_type_id, lot_id, status (every history row read once)
 *                   and vs  the kits alone: the same FROM kits LEFT JOIN kit_returns (reads no
 *                   history; a reconciliation that checks each kit's history cannot come near it)
 *   breaks          ctm_reconciliation_breaks(), every row read (none: the fill balances)
 *   as of           ctm_reconciliation() as of yesterday (each kit's status from its history)
 *   DARF            ctm_darf(), every line read (the kit types' lines in time order with the
 *                   running balance)
 *                   vs  the same tables: SELECT code, batch, status, COUNT(*), SUM(units) ...
 *                   FROM darf_lines JOIN kit_types JOIN kits JOIN lots LEFT JOIN dispensations
 *                   LEFT JOIN subjects LEFT JOIN kit_returns GROUP BY code, batch, status
 *                   and vs  the history: SELECT kit_type_id, status, COUNT(*) FROM kit_events
 *                   JOIN kits GROUP BY kit_type_id, status (every history row read once)
 *   Each ratio is the call's time over its baseline's (target <= 2); the best of 3 runs each.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef CTM_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

#include "bench.h"
#include "ctm.h"

#define PW "bench-reconcile-pw"
#define TRIAL "BENCH-REC"

/* The raw connection: the baselines' and the fill's, on the site's own database. */
typedef struct raw {
    sqlite3 *lite;
#ifdef CTM_HAVE_POSTGRES
    PGconn *pg;
#endif
} raw;

static void raw_exec(raw *r, const char *sql)
{
#ifdef CTM_HAVE_POSTGRES
    if (r->pg != NULL) {
        PGresult *res = PQexec(r->pg, sql);
        int st = PQresultStatus(res);
        PQclear(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench: %s  in: %.200s\n", PQerrorMessage(r->pg), sql);
            exit(1);
        }
        return;
    }
#endif
    char *err = NULL;
    if (sqlite3_exec(r->lite, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench: %s\n  in: %.200s\n", err ? err : "?", sql);
        exit(1);
    }
}

/* Seconds to run sql and read every row; *rows gets their count. */
static double raw_time(raw *r, const char *sql, long *rows)
{
    double t0 = bench_now();
    *rows = 0;
#ifdef CTM_HAVE_POSTGRES
    if (r->pg != NULL) {
        PGresult *res = PQexec(r->pg, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            bench_die("raw query", -1);
        *rows = PQntuples(res);
        for (long i = 0; i < *rows; i++)
            for (int c = 0; c < PQnfields(res); c++)
                (void)PQgetvalue(res, (int)i, c);
        PQclear(res);
        return bench_now() - t0;
    }
#endif
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->lite, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die("raw prepare", -1);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        (*rows)++;
    if (src != SQLITE_DONE)
        bench_die("raw step", -1);
    sqlite3_finalize(st);
    return bench_now() - t0;
}

/* The numbers 1..n as a FROM item "n(i)". */
static const char *series(const raw *r, long n, char *buf, size_t len)
{
#ifdef CTM_HAVE_POSTGRES
    if (r->pg != NULL) {
        snprintf(buf, len, "generate_series(1, %ld) AS n(i)", n);
        return buf;
    }
#endif
    (void)r;
    snprintf(buf, len,
             "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %ld)"
             " SELECT i FROM s) AS n", n);
    return buf;
}

/* The trial's set-up through the API (db), then the kits and their history by SQL (r). */
static void fill(ctm_db *db, raw *r, long kits)
{
    int rc = ctm_init(db, "Benchmark Pharmacy", NULL, "admin", "Ada Admin", PW);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_trial_add(db, TRIAL, "Benchmark", "Sponsor", 1, "A:1,B:1");
    const char *types[] = {"KT1", "KT2", "KT3", "KT4"};
    for (int i = 0; rc == CTM_OK && i < 4; i++)
        rc = ctm_kittype_add(db, TRIAL, types[i], "Drug or placebo", 30, 2, 8, 0, NULL);
    if (rc == CTM_OK)
        rc = ctm_visit_add(db, TRIAL, "V1", 0, "randomization", "-0..+3", "KT1:1");
    if (rc != CTM_OK)
        bench_die("set-up", rc);

    long subjects = kits / 20 > 0 ? kits / 20 : 1;
    char sql[4096], from[256], tens[256];
    series(r, 10, tens, sizeof tens);
    int64_t base = ((int64_t)time(NULL) - 30 * 86400) * 1000000;
    raw_exec(r, "BEGIN");
    snprintf(sql, sizeof sql,
             "INSERT INTO lots(trial_id, kit_type_id, batch, expiry)"
             " SELECT 1, (SELECT id FROM kit_types WHERE code = 'KT' || (1 + (i - 1) / 25)),"
             " 'L' || (i - 1), '2030-01-31' FROM %s",
             series(r, 100, from, sizeof from));
    raw_exec(r, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO shipments(id, trial_id, number, direction, registered_us, location_id,"
             " status) VALUES (1, 1, 'SH1', 'in', %lld, 1, 'confirmed')", (long long)base);
    raw_exec(r, sql);
    /* kit i: lot i % 100 (so kit type by lot), even kits available, odd ones returned */
    snprintf(sql, sizeof sql,
             "INSERT INTO kits(id, trial_id, kit_number, kit_type_id, lot_id, arm, status,"
             " location_id, units, expiry, shipment_id, checked)"
             " SELECT i, 1, 'K' || i, l.kit_type_id, l.id, CASE WHEN i %% 4 < 2 THEN 'A' ELSE 'B' END,"
             " CASE WHEN i %% 2 = 0 THEN 'available' ELSE 'returned' END, 1, 30, NULL, 1, 1"
             " FROM %s JOIN lots l ON l.batch = 'L' || (i %% 100)",
             series(r, kits, from, sizeof from));
    raw_exec(r, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO subjects(id, trial_id, screening, strata, status, rand_number, arm,"
             " enrolled_us, randomized_us)"
             " SELECT i, 1, 'S' || i, '', 'randomized', 'R' || i,"
             " CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END, %lld, %lld FROM %s",
             (long long)base, (long long)base, series(r, subjects, from, sizeof from));
    raw_exec(r, sql);
    /* the history: 10 rows a kit (j = i - 1, 0..9), at base + id * 10 + j microseconds */
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_events(kit_id, status, at_us, by_user)"
             " SELECT k.id, CASE WHEN i = 1 THEN 'received' WHEN i = 2 THEN 'available'"
             "  WHEN i < 9 AND i %% 2 = 1 THEN 'quarantined' WHEN i < 9 THEN 'available'"
             "  WHEN k.id %% 2 = 0 THEN CASE WHEN i = 9 THEN 'quarantined' ELSE 'available' END"
             "  WHEN i = 9 THEN 'dispensed' ELSE 'returned' END,"
             " %lld + k.id * 10 + i - 1, 'admin' FROM kits k CROSS JOIN %s ORDER BY k.id, i",
             (long long)base, tens);
    raw_exec(r, sql);
    /* the DARF log's lines, as the library writes them with the history (stock.c): each row
     * but a status inside the stock after another (here: the kit's first, its dispensing and
     * its return) */
    raw_exec(r, "INSERT INTO darf_lines(id, kit_type_id, kit_id, status, at_us, by_user)"
                " SELECT w.id, k.kit_type_id, w.kit_id, w.status, w.at_us, w.by_user"
                " FROM (SELECT e.id, e.kit_id, e.status, e.at_us, e.by_user, LAG(e.status)"
                "  OVER (PARTITION BY e.kit_id ORDER BY e.at_us, e.id) AS prev FROM kit_events e) w"
                " JOIN kits k ON k.id = w.kit_id WHERE w.status NOT IN ('available', 'quarantined',"
                " 'expired', 'damaged', 'pending_destruction') OR w.prev IS NULL"
                " OR w.prev IN ('missing', 'in_transit') ORDER BY w.id");
    snprintf(sql, sizeof sql,
             "INSERT INTO dispensations(id, subject_id, visit_id, kit_id, status, assigned_us,"
             " dispensed_us) SELECT k.id, 1 + (k.id / 2) %% %ld, 1, k.id, 'dispensed',"
             " %lld + k.id * 10 + 8, %lld + k.id * 10 + 8 FROM kits k WHERE k.id %% 2 = 1",
             subjects, (long long)base, (long long)base);
    raw_exec(r, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_returns(kit_id, dispensation_id, lost, units, returned_on,"
             " recorded_us, recorded_by) SELECT k.id, k.id, 0, 10, '2026-01-01',"
             " %lld + k.id * 10 + 9, 'admin' FROM kits k WHERE k.id %% 2 = 1",
             (long long)base);
    raw_exec(r, sql);
    raw_exec(r, "COMMIT");
#ifdef CTM_HAVE_POSTGRES
    if (r->pg != NULL) {
        raw_exec(r, "VACUUM ANALYZE");
        return;
    }
#endif
    raw_exec(r, "ANALYZE");
}

/* The ledger: n entries (audit notes about the size of a kit change's entry) in batches. */
static void fill_ledger(ctm_db *db, long n)
{
    static const char text[] = "Benchmark: an entry of the size a kit's change of status has in"
                               " the ledger, its row changes and the action's parameters; written"
                               " in batches so that the database holds the history a site of a"
                               " million kits would have.";
    for (long done = 0; done < n;) {
        int rc = ctm_batch_begin(db);
        for (long i = 0; rc == CTM_OK && i < 100000 && done < n; i++, done++)
            rc = ctm_audit_note(db, text, NULL);
        if (rc == CTM_OK)
            rc = ctm_batch_commit(db);
        if (rc != CTM_OK)
            bench_die("ledger fill", rc);
    }
}

typedef int (*listing_fn)(ctm_query **out, ctm_db *db, const char *trial, const char *arg);

/* Seconds to run the listing and read every row; *rows gets their count. */
static double time_listing(ctm_db *db, listing_fn fn, const char *arg, long *rows)
{
    double t0 = bench_now();
    ctm_query *q = NULL;
    int rc = fn(&q, db, TRIAL, arg);
    if (rc != CTM_OK)
        bench_die("listing", rc);
    *rows = 0;
    while ((rc = ctm_query_next(q)) == CTM_ROW)
        (*rows)++;
    if (rc != CTM_DONE)
        bench_die("listing rows", rc);
    ctm_query_free(q);
    return bench_now() - t0;
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

#define RECON_BASELINE                                                                        \
    "SELECT k.kit_type_id, k.lot_id, k.status, COUNT(*), SUM(k.units), SUM(r.units),"         \
    " COUNT(d.id) FROM kits k JOIN kit_events e ON e.kit_id = k.id"                           \
    " LEFT JOIN dispensations d ON d.kit_id = k.id LEFT JOIN kit_returns r ON r.kit_id = k.id" \
    " WHERE k.trial_id = 1 GROUP BY k.kit_type_id, k.lot_id, k.status"
#define KITS_BASELINE                                                                         \
    "SELECT k.kit_type_id, k.lot_id, k.status, COUNT(*), SUM(k.units), SUM(r.units)"          \
    " FROM kits k LEFT JOIN kit_returns r ON r.kit_id = k.id WHERE k.trial_id = 1"            \
    " GROUP BY k.kit_type_id, k.lot_id, k.status"
#define DARF_BASELINE                                                                         \
    "SELECT kt.code, l.batch, e.status, COUNT(*), SUM(k.units), COUNT(s.id), SUM(r.units)"     \
    " FROM darf_lines e JOIN kit_types kt ON kt.id = e.kit_type_id JOIN kits k ON k.id = e.kit_id" \
    " JOIN lots l ON l.id = k.lot_id LEFT JOIN dispensations d ON d.kit_id = e.kit_id"         \
    " LEFT JOIN subjects s ON s.id = d.subject_id LEFT JOIN kit_returns r ON r.kit_id = e.kit_id" \
    " WHERE kt.trial_id = 1 GROUP BY kt.code, l.batch, e.status"
#define HISTORY_BASELINE                                                                      \
    "SELECT k.kit_type_id, e.status, COUNT(*) FROM kit_events e JOIN kits k ON k.id = e.kit_id" \
    " WHERE k.trial_id = 1 GROUP BY k.kit_type_id, e.status"

#ifdef CTM_HAVE_POSTGRES
/* The PostgreSQL database of the run, made anew: its libpq conninfo into target. */
static void pg_database(const char *server, char *target, size_t len)
{
    PGconn *c = PQconnectdb(server);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench: %s: %s", server, PQerrorMessage(c));
        exit(1);
    }
    raw r = {.pg = c};
    raw_exec(&r, "DROP DATABASE IF EXISTS ctm_bench_reconcile WITH (FORCE)");
    raw_exec(&r, "CREATE DATABASE ctm_bench_reconcile");
    PQfinish(c);
    snprintf(target, len, "%s%sdbname=ctm_bench_reconcile", server, server[0] ? " " : "");
}
#endif

int main(int argc, char **argv)
{
    int quick = 0, pg = 0;
    char *args[8];
    int nargs = 0;
    for (int i = 0; i < argc && nargs < 8; i++)
        if (strcmp(argv[i], "--pg") == 0)
            pg = 1;
        else
            args[nargs++] = argv[i];
    const char *dir = bench_args(nargs, args, &quick);
    long kits = quick ? 100000 : 1000000;
    char path[4096], key[4200];
    snprintf(path, sizeof path, "%s/bench_reconcile.db", dir);
    snprintf(key, sizeof key, "%s/bench_reconcile%s.db.key", dir, pg ? "_pg" : "");
    raw r = {0};
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.key_path = key;
    if (pg) {
#ifdef CTM_HAVE_POSTGRES
        const char *server = getenv("CTM_TEST_PG") ? getenv("CTM_TEST_PG") : "";
        pg_database(server, path, sizeof path);
        r.pg = PQconnectdb(path);
        if (PQstatus(r.pg) != CONNECTION_OK)
            bench_die("raw connect", -1);
        raw_exec(&r, "SET session_replication_role = replica"); /* past the guard triggers */
#else
        fprintf(stderr, "bench: built without PostgreSQL\n");
        return 1;
#endif
    } else {
        remove(path);
        remove(key);
    }
    remove(key);
    ctm_db *db = NULL;
    o.flags = CTM_OPEN_CREATE;
    if (ctm_open(&db, path, &o) != CTM_OK)
        bench_die("ctm_open", -1);
    if (!pg && sqlite3_open(path, &r.lite) != SQLITE_OK)
        bench_die("raw open", -1);
    double t0 = bench_now();
    fill(db, &r, kits);
    ctm_close(db);
    printf("%s: %ld kits, %ld history rows filled in %.1f s\n", pg ? "PostgreSQL" : "SQLite",
           kits, kits * 10, bench_now() - t0);

    o.flags = 0;
    if (ctm_open(&db, path, &o) != CTM_OK || ctm_login(db, "admin", PW) != CTM_OK)
        bench_die("open and login", -1);
    t0 = bench_now();
    fill_ledger(db, kits * 10);
    printf("%ld ledger entries appended in %.1f s\n", kits * 10, bench_now() - t0);
    if (pg) {
#ifdef CTM_HAVE_POSTGRES
        raw_exec(&r, "VACUUM ANALYZE ledger");
#endif
    } else {
        raw_exec(&r, "ANALYZE ledger");
    }
    char yesterday[11];
    time_t y = time(NULL) - 86400;
    struct tm tm;
    gmtime_r(&y, &tm);
    strftime(yesterday, sizeof yesterday, "%Y-%m-%d", &tm);

    double recon = 1e9, breaks = 1e9, asof = 1e9, darf = 1e9, raw_recon = 1e9, raw_darf = 1e9;
    double raw_kits = 1e9, raw_history = 1e9;
    long n_recon = 0, n_breaks = 0, n_asof = 0, n_darf = 0, n_raw = 0, n_rawd = 0, n_rawk = 0, n_rawh = 0;
    for (int run = 0; run < 3; run++) {
        raw_recon = best(raw_recon, raw_time(&r, RECON_BASELINE, &n_raw));
        raw_kits = best(raw_kits, raw_time(&r, KITS_BASELINE, &n_rawk));
        recon = best(recon, time_listing(db, ctm_reconciliation, NULL, &n_recon));
        breaks = best(breaks, time_listing(db, ctm_reconciliation_breaks, NULL, &n_breaks));
        asof = best(asof, time_listing(db, ctm_reconciliation, yesterday, &n_asof));
        raw_darf = best(raw_darf, raw_time(&r, DARF_BASELINE, &n_rawd));
        raw_history = best(raw_history, raw_time(&r, HISTORY_BASELINE, &n_rawh));
        darf = best(darf, time_listing(db, ctm_darf, NULL, &n_darf));
    }
    printf("reconciliation: %.3f s (%ld rows) vs GROUP BY %.3f s (%ld rows): ratio %.2f"
           " (vs the kits alone, %.3f s: %.2f)\n", recon, n_recon, raw_recon, n_raw,
           recon / raw_recon, raw_kits, recon / raw_kits);
    printf("breaks:         %.3f s (%ld kits) vs GROUP BY: ratio %.2f (the kits alone: %.2f)\n",
           breaks, n_breaks, breaks / raw_recon, breaks / raw_kits);
    printf("as of %s: %.3f s (%ld rows) vs GROUP BY: ratio %.2f (the kits alone: %.2f)\n",
           yesterday, asof, n_asof, asof / raw_recon, asof / raw_kits);
    printf("DARF:           %.3f s (%ld lines) vs GROUP BY %.3f s (%ld rows): ratio %.2f"
           " (vs the history, %.3f s: %.2f)\n", darf, n_darf, raw_darf, n_rawd, darf / raw_darf,
           raw_history, darf / raw_history);
    ctm_close(db);
#ifdef CTM_HAVE_POSTGRES
    if (r.pg != NULL && getenv("CTM_BENCH_KEEP") == NULL) { /* kept: to EXPLAIN its queries */
        PQfinish(r.pg);
        const char *server = getenv("CTM_TEST_PG") ? getenv("CTM_TEST_PG") : "";
        PGconn *c = PQconnectdb(server);
        raw admin = {.pg = c};
        raw_exec(&admin, "DROP DATABASE IF EXISTS ctm_bench_reconcile WITH (FORCE)");
        PQfinish(c);
        remove(key);
    }
#endif
    if (r.lite != NULL)
        sqlite3_close(r.lite);
    return 0;
}
