/* bench_stock.c - receipt and kit listings against raw SQLite baselines in the same run.
 *
 *   build/bench/bench_stock [--quick] [DIR]
 *
 *   receipt      ctm_receive() of a 100,000-kit manifest (parse, checks, kits and their first
 *                history rows, one ledger entry with every row change, signed checkpoint)  vs
 *                the same rows (each kit and its history row) INSERTed raw in one transaction
 *                into tables of the same shape
 *   listing      ctm_kits() filtered to one location's quarantined kits, as the store grows from
 *                1,000 to 1,000,000 kits  vs  the same SELECT on the raw table; the ratio should
 *                stay flat
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ctm.h"

#define TRIAL BENCH_TRIAL

static ctm_db *make_site(const char *path)
{
    return bench_stock_site(path, "Benchmark Pharmacy");
}

static sqlite3 *raw_open(const char *path)
{
    return bench_raw_sqlite(path,
                 "CREATE TABLE kits(id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL,"
                 " kit_number TEXT NOT NULL, kit_type_id INTEGER NOT NULL, lot_id INTEGER NOT NULL,"
                 " arm TEXT, status TEXT NOT NULL, location_id INTEGER, units INTEGER NOT NULL,"
                 " expiry TEXT, gtin TEXT, serial TEXT, shipment_id INTEGER,"
                 " checked INTEGER NOT NULL DEFAULT 0, UNIQUE (trial_id, kit_number));"
                 "CREATE INDEX kits_by_shipment ON kits(shipment_id);"
                 "CREATE INDEX kits_by_status ON kits(status);"
                 "CREATE TABLE kit_events(id INTEGER PRIMARY KEY,"
                 " kit_id INTEGER NOT NULL REFERENCES kits(id), status TEXT NOT NULL,"
                 " at_us INTEGER NOT NULL, by_user TEXT NOT NULL);"
                 "CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us, id, status, by_user);");
}

/* The raw side: the same kit rows and their history rows, one transaction. */
static double raw_receive(sqlite3 *s, long first, long n, int location, const char *status)
{
    sqlite3_stmt *st = NULL, *ev = NULL;
    sqlite3_prepare_v2(s,
                       "INSERT INTO kits(trial_id, kit_number, kit_type_id, lot_id, arm, status,"
                       " location_id, units, shipment_id) VALUES (1, ?1, 1, ?2, ?3, ?4, ?5, 30, ?6)",
                       -1, &st, NULL);
    sqlite3_prepare_v2(s,
                       "INSERT INTO kit_events(kit_id, status, at_us, by_user)"
                       " VALUES (?1, ?2, ?3, 'pia')",
                       -1, &ev, NULL);
    double t0 = bench_now();
    int64_t now_us = (int64_t)time(NULL) * 1000000;
    sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    char number[16];
    for (long i = first; i < first + n; i++) {
        snprintf(number, sizeof number, "K%07ld", i);
        sqlite3_bind_text(st, 1, number, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, i / 1000);
        sqlite3_bind_text(st, 3, i % 2 ? "A" : "B", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, location);
        sqlite3_bind_int64(st, 6, first / 100000 + 1);
        if (sqlite3_step(st) != SQLITE_DONE)
            bench_die("raw insert", -1);
        sqlite3_reset(st);
        sqlite3_bind_int64(ev, 1, sqlite3_last_insert_rowid(s));
        sqlite3_bind_text(ev, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ev, 3, now_us);
        if (sqlite3_step(ev) != SQLITE_DONE)
            bench_die("raw history insert", -1);
        sqlite3_reset(ev);
    }
    sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
    double t = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_finalize(ev);
    return n / t;
}

static double ours_receive(ctm_db *db, long first, long n, const char *shipment,
                           const char *location)
{
    size_t len = 0;
    char *m = bench_manifest(first, n, &len);
    double t0 = bench_now();
    int rc = ctm_receive(db, TRIAL, shipment, m, len, location, NULL);
    double t = bench_now() - t0;
    free(m);
    if (rc != CTM_OK)
        bench_die("ctm_receive", rc);
    return n / t;
}

static void confirm(ctm_db *db, const char *shipment)
{
    int rc = ctm_receive_confirm(db, shipment, 1);
    if (rc != CTM_OK)
        bench_die("ctm_receive_confirm", rc);
}

/* Add n kits to both stores in FRIDGE2: nine in ten available, one in ten quarantined (their
 * shipment's logger showed an excursion). */
static void grow(ctm_db *db, sqlite3 *s, long *first, long n, int *k)
{
    long quarantined = n / 10, sizes[2] = {n - quarantined, quarantined};
    for (int part = 0; part < 2; part++) {
        if (sizes[part] == 0)
            continue;
        char name[32];
        snprintf(name, sizeof name, "G%d", (*k)++);
        ctm_receive_options ro = CTM_RECEIVE_OPTIONS_INIT;
        ro.excursion = part == 1;
        size_t len = 0;
        char *m = bench_manifest(*first, sizes[part], &len);
        int rc = ctm_receive(db, TRIAL, name, m, len, "FRIDGE2", &ro);
        free(m);
        if (rc != CTM_OK)
            bench_die("ctm_receive", rc);
        confirm(db, name);
        raw_receive(s, *first, sizes[part], 2, part == 1 ? "quarantined" : "available");
        *first += sizes[part];
    }
}

static double ours_list(ctm_db *db, int reps, long *rows)
{
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.trial = TRIAL;
    f.status = "quarantined";
    f.location = "FRIDGE2";
    double t0 = bench_now();
    for (int r = 0; r < reps; r++) {
        ctm_query *q = NULL;
        int rc = ctm_kits(&q, db, &f);
        if (rc != CTM_OK)
            bench_die("ctm_kits", rc);
        *rows = 0;
        while (ctm_query_next(q) == CTM_ROW)
            (*rows)++;
        ctm_query_free(q);
    }
    return (bench_now() - t0) / reps;
}

static double raw_list(sqlite3 *s, int reps, long *rows)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(s,
                       "SELECT kit_number, lot_id, status, location_id, units, arm FROM kits"
                       " WHERE trial_id = 1 AND status = 'quarantined' AND location_id = 2"
                       " ORDER BY kit_number",
                       -1, &st, NULL);
    double t0 = bench_now();
    for (int r = 0; r < reps; r++) {
        *rows = 0;
        while (sqlite3_step(st) == SQLITE_ROW)
            (*rows)++;
        sqlite3_reset(st);
    }
    double t = (bench_now() - t0) / reps;
    sqlite3_finalize(st);
    return t;
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = bench_args(argc, argv, &quick);
    char path[4096], raw[4096];
    snprintf(path, sizeof path, "%s/ctm-bench-stock.db", dir);
    snprintf(raw, sizeof raw, "%s/ctm-bench-stock-raw.db", dir);
    long shipment = quick ? 20000 : 100000;
    long target = quick ? 100000 : 1000000;
    printf("libctm %s stock benchmark (%s), databases in %s\n\n", ctm_version(),
           quick ? "quick" : "full", dir);

    /* one shipment, on empty stores */
    ctm_db *db = make_site(path);
    sqlite3 *s = raw_open(raw);
    double rw = raw_receive(s, 0, shipment, 1, "received");
    double us = ours_receive(db, 0, shipment, "SH0", "FRIDGE1");
    printf("%-28s %10.0f kits/s   raw %10.0f kits/s   ratio %5.2f   target >= 0.50  %s\n",
           "receive one shipment", us, rw, us / rw, us / rw >= 0.5 ? "ok" : "BELOW TARGET");
    sqlite3_close(s);
    ctm_close(db);

    /* listings as the stores grow, on fresh stores */
    db = make_site(path);
    s = raw_open(raw);
    printf("\n%-12s %12s %12s %8s %8s\n", "kits", "ctm_kits ms", "raw ms", "ratio", "rows");
    long have = 0, first = 0;
    int k = 0;
    for (long stage = 1000; stage <= target; stage *= 10) {
        while (have < stage) {
            long n = stage - have > 100000 ? 100000 : stage - have;
            grow(db, s, &first, n, &k);
            have += n;
        }
        long rows_ours = 0, rows_raw = 0;
        double o = ours_list(db, 10, &rows_ours), r = raw_list(s, 10, &rows_raw);
        if (rows_ours != rows_raw)
            bench_die("listings differ", (int)(rows_ours - rows_raw));
        printf("%-12ld %12.3f %12.3f %8.2f %8ld\n", have, o * 1e3, r * 1e3, o / r, rows_ours);
    }
    sqlite3_close(s);
    ctm_close(db);
    char key[4200];
    snprintf(key, sizeof key, "%s.key", path);
    remove(path);
    remove(key);
    remove(raw);
    return 0;
}
