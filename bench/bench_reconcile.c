/* bench_reconcile.c - the reconciliation and the DARF log against a bare SQL GROUP BY over the
 * same tables, in the same run, on the same SQLite file.
 *
 *   build/bench/bench_reconcile [--quick] [DIR]
 *
 *   fill            one trial with K kits (1,000,000; --quick 100,000) in 4 kit types x 25 lots,
 *                   each with 10 history rows (kit_events: 10,000,000; --quick 1,000,000): half
 *                   the kits end available after quarantines and releases, half dispensed to a
 *                   subject and returned, with their dispensations and kit_returns.  The tables
 *                   are filled by SQL on the site's file as the library leaves them (receipts of
 *                   a million kits through the API would take the run's hour); the reports read
 *                   nothing else.  The audit ledger is not read by them and is not filled.
 *   reconciliation  ctm_reconciliation() now (every kit's status and its cross-checks: history,
 *                   dispensation, return, destruction, shipback), every row read
 *                   vs  SELECT kit_type_id, lot_id, status, COUNT(*), SUM(units) ... FROM kits
 *                   LEFT JOIN kit_returns GROUP BY kit_type_id, lot_id, status
 *   breaks          ctm_reconciliation_breaks(), every row read (none: the fill balances)
 *   as of           ctm_reconciliation() as of yesterday (each kit's status from its history)
 *   DARF            ctm_darf(), every line read (the kit types' events in time order with the
 *                   running balance)
 *                   vs  SELECT kit_type_id, status, COUNT(*) FROM kit_events JOIN kits GROUP BY
 *                   kit_type_id, status (every history row read once)
 *   Each ratio is the call's time over its baseline's (target <= 2); the best of 3 runs each.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ctm.h"

#define PW "bench-reconcile-pw"
#define TRIAL "BENCH-REC"
#define DAY_US 86400000000LL

static void exec_raw(sqlite3 *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench: %s\n  in: %.200s\n", err ? err : "?", sql);
        exit(1);
    }
}

/* The trial's set-up through the API, then the kits and their history by SQL. */
static void fill(const char *path, long kits)
{
    ctm_db *db = bench_create(path);
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
    ctm_close(db);

    sqlite3 *s = NULL;
    if (sqlite3_open(path, &s) != SQLITE_OK)
        bench_die("open raw", -1);
    long subjects = kits / 20 > 0 ? kits / 20 : 1;
    char sql[4096];
    int64_t base = ((int64_t)time(NULL) - 30 * 86400) * 1000000;
    exec_raw(s, "BEGIN");
    snprintf(sql, sizeof sql,
             "INSERT INTO lots(trial_id, kit_type_id, batch, expiry)"
             " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99)"
             " SELECT 1, (SELECT id FROM kit_types WHERE code = 'KT' || (1 + i / 25)),"
             " 'L' || i, '2030-01-31' FROM n");
    exec_raw(s, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO shipments(id, trial_id, number, direction, registered_us, location_id,"
             " status) VALUES (1, 1, 'SH1', 'in', %lld, 1, 'confirmed')", (long long)base);
    exec_raw(s, sql);
    /* kit i: lot i % 100 (so kit type by lot), even kits available, odd ones returned */
    snprintf(sql, sizeof sql,
             "INSERT INTO kits(id, trial_id, kit_number, kit_type_id, lot_id, arm, status,"
             " location_id, units, expiry, shipment_id, checked)"
             " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
             " SELECT i, 1, 'K' || i, l.kit_type_id, l.id, CASE WHEN i %% 4 < 2 THEN 'A' ELSE 'B' END,"
             " CASE WHEN i %% 2 = 0 THEN 'available' ELSE 'returned' END, 1, 30, NULL, 1, 1"
             " FROM n JOIN lots l ON l.batch = 'L' || (i %% 100)",
             kits);
    exec_raw(s, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO subjects(id, trial_id, screening, strata, status, rand_number, arm,"
             " enrolled_us, randomized_us)"
             " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
             " SELECT i, 1, 'S' || i, '', 'randomized', 'R' || i,"
             " CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END, %lld, %lld FROM n",
             subjects, (long long)base, (long long)base);
    exec_raw(s, sql);
    /* the history: 10 rows a kit, at base + id * 10 + j microseconds */
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_events(kit_id, status, at_us, by_user)"
             " WITH RECURSIVE j(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM j WHERE j < 9)"
             " SELECT k.id, CASE WHEN j = 0 THEN 'received' WHEN j = 1 THEN 'available'"
             "  WHEN j < 8 AND j %% 2 = 0 THEN 'quarantined' WHEN j < 8 THEN 'available'"
             "  WHEN k.id %% 2 = 0 THEN CASE WHEN j = 8 THEN 'quarantined' ELSE 'available' END"
             "  WHEN j = 8 THEN 'dispensed' ELSE 'returned' END,"
             " %lld + k.id * 10 + j, 'admin' FROM kits k, j ORDER BY k.id, j",
             (long long)base);
    exec_raw(s, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO dispensations(id, subject_id, visit_id, kit_id, status, assigned_us,"
             " dispensed_us) SELECT k.id, 1 + (k.id / 2) %% %ld, 1, k.id, 'dispensed',"
             " %lld + k.id * 10 + 8, %lld + k.id * 10 + 8 FROM kits k WHERE k.id %% 2 = 1",
             subjects, (long long)base, (long long)base);
    exec_raw(s, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_returns(kit_id, dispensation_id, lost, units, returned_on,"
             " recorded_us, recorded_by) SELECT k.id, k.id, 0, 10, '2026-01-01',"
             " %lld + k.id * 10 + 9, 'admin' FROM kits k WHERE k.id %% 2 = 1",
             (long long)base);
    exec_raw(s, sql);
    exec_raw(s, "COMMIT");
    exec_raw(s, "ANALYZE");
    sqlite3_close(s);
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

static double time_raw(sqlite3 *s, const char *sql, long *rows)
{
    double t0 = bench_now();
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die("raw prepare", -1);
    *rows = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        (*rows)++;
    if (src != SQLITE_DONE)
        bench_die("raw step", -1);
    sqlite3_finalize(st);
    return bench_now() - t0;
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

#define RECON_BASELINE                                                                        \
    "SELECT k.kit_type_id, k.lot_id, k.status, COUNT(*), SUM(k.units), SUM(r.units)"          \
    " FROM kits k LEFT JOIN kit_returns r ON r.kit_id = k.id WHERE k.trial_id = 1"            \
    " GROUP BY k.kit_type_id, k.lot_id, k.status"
#define DARF_BASELINE                                                                         \
    "SELECT k.kit_type_id, e.status, COUNT(*) FROM kit_events e JOIN kits k ON k.id = e.kit_id" \
    " WHERE k.trial_id = 1 GROUP BY k.kit_type_id, e.status"

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = bench_args(argc, argv, &quick);
    long kits = quick ? 100000 : 1000000;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_reconcile.db", dir);
    double t0 = bench_now();
    fill(path, kits);
    printf("fill: %ld kits, %ld history rows in %.1f s\n", kits, kits * 10, bench_now() - t0);

    ctm_db *db = bench_open(path, 0);
    if (ctm_login(db, "admin", PW) != CTM_OK)
        bench_die("login", -1);
    sqlite3 *s = NULL;
    if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        bench_die("raw open", -1);
    char yesterday[11];
    time_t y = time(NULL) - 86400;
    struct tm tm;
    gmtime_r(&y, &tm);
    strftime(yesterday, sizeof yesterday, "%Y-%m-%d", &tm);

    double recon = 1e9, breaks = 1e9, asof = 1e9, darf = 1e9, raw_recon = 1e9, raw_darf = 1e9;
    long n_recon = 0, n_breaks = 0, n_asof = 0, n_darf = 0, n_raw = 0, n_rawd = 0;
    for (int run = 0; run < 3; run++) {
        raw_recon = best(raw_recon, time_raw(s, RECON_BASELINE, &n_raw));
        recon = best(recon, time_listing(db, ctm_reconciliation, NULL, &n_recon));
        breaks = best(breaks, time_listing(db, ctm_reconciliation_breaks, NULL, &n_breaks));
        asof = best(asof, time_listing(db, ctm_reconciliation, yesterday, &n_asof));
        raw_darf = best(raw_darf, time_raw(s, DARF_BASELINE, &n_rawd));
        darf = best(darf, time_listing(db, ctm_darf, NULL, &n_darf));
    }
    printf("reconciliation: %.3f s (%ld rows) vs GROUP BY %.3f s (%ld rows): ratio %.2f\n", recon,
           n_recon, raw_recon, n_raw, recon / raw_recon);
    printf("breaks:         %.3f s (%ld kits) vs GROUP BY: ratio %.2f\n", breaks, n_breaks,
           breaks / raw_recon);
    printf("as of %s: %.3f s (%ld rows) vs GROUP BY: ratio %.2f\n", yesterday, asof, n_asof,
           asof / raw_recon);
    printf("DARF:           %.3f s (%ld lines) vs GROUP BY %.3f s (%ld rows): ratio %.2f\n", darf,
           n_darf, raw_darf, n_rawd, darf / raw_darf);
    sqlite3_close(s);
    ctm_close(db);
    return 0;
}
