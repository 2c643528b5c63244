/*
 * bench_audit_log.c - searching a large audit log with ctm_audit_query().
 *
 *   build/bench/bench_audit_log [--quick] [DIR]
 *
 * Builds a site whose log holds about 100,000 entries (10,000 with --quick) of a pharmacy's kinds:
 * receipts of 100-kit shipments, a scan per kit, confirmations, single-kit transfers and status
 * changes, and notes by a second user.  Then times each kind of filter (median of five runs,
 * every row read with ctm_query_next) beside the raw baseline of reading every entry's bytes with
 * one SELECT.
 */
#include "bench.h"

#include <sqlite3.h>

#define PW BENCH_PW
#define TRIAL BENCH_TRIAL
#define KITS_PER_SHIPMENT 100

static void check(int rc, const char *what)
{
    if (rc != CTM_OK)
        bench_die(what, rc);
}

/* One shipment: received, every kit scanned, confirmed, one kit in ten moved, one in fifty
 * quarantined: about 1.15 entries per kit. */
static void one_shipment(ctm_db *db, long s)
{
    char m[KITS_PER_SHIPMENT * 40 + 64], number[32], kit[32];
    size_t at = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    for (long i = 0; i < KITS_PER_SHIPMENT; i++)
        at += (size_t)snprintf(m + at, sizeof m - at, "K%07ld,KT,L%04ld,2029-06-30,%s\n",
                               s * KITS_PER_SHIPMENT + i, s / 10, i % 2 ? "A" : "B");
    snprintf(number, sizeof number, "SH-%05ld", s);
    check(ctm_receive(db, TRIAL, number, m, at, "FRIDGE1", NULL), "receive");
    for (long i = 0; i < KITS_PER_SHIPMENT; i++) {
        ctm_scan_result r = {.struct_size = sizeof r};
        snprintf(kit, sizeof kit, "K%07ld", s * KITS_PER_SHIPMENT + i);
        check(ctm_receive_scan(db, number, kit, 0, &r), "scan");
    }
    check(ctm_receive_confirm(db, number, 0), "confirm");
    for (long i = 0; i < KITS_PER_SHIPMENT; i += 10) {
        snprintf(kit, sizeof kit, "K%07ld", s * KITS_PER_SHIPMENT + i);
        const char *kits[] = {kit};
        check(ctm_transfer(db, TRIAL, kits, 1, "FRIDGE2", NULL), "transfer");
    }
    for (long i = 5; i < KITS_PER_SHIPMENT; i += 50) {
        snprintf(kit, sizeof kit, "K%07ld", s * KITS_PER_SHIPMENT + i);
        check(ctm_kit_set_status(db, TRIAL, kit, "quarantined", "dented box"), "status");
    }
}

static uint64_t build_log(ctm_db *db, uint64_t target)
{
    uint64_t size = 0;
    long s = 0;
    check(ctm_audit_size(db, &size), "size");
    while (size < target * 9 / 10) {
        check(ctm_batch_begin(db), "batch");
        for (int k = 0; k < 10; k++)
            one_shipment(db, s++);
        check(ctm_batch_commit(db), "commit");
        check(ctm_audit_size(db, &size), "size");
    }
    check(ctm_login(db, "bench", PW), "login");
    check(ctm_batch_begin(db), "batch");
    while (size < target) {
        check(ctm_audit_note(db, "fridge temperature checked and within range", NULL), "note");
        size++;
    }
    check(ctm_batch_commit(db), "commit");
    return size;
}

static double median5(double *t)
{
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[2];
}

/* Milliseconds to run the query and read every row; *rows gets the count. */
static double time_query(ctm_db *db, const ctm_audit_filter *f, uint64_t *rows)
{
    double t[5];
    for (int r = 0; r < 5; r++) {
        ctm_query *q = NULL;
        double t0 = bench_now();
        check(ctm_audit_query(&q, db, f), "audit query");
        int rc;
        *rows = 0;
        while ((rc = ctm_query_next(q)) == CTM_ROW)
            ++*rows;
        if (rc != CTM_DONE)
            bench_die("query next", rc);
        ctm_query_free(q);
        t[r] = (bench_now() - t0) * 1e3;
    }
    return median5(t);
}

/* The same for ctm_audit_log() over the whole log: what a listing costs without filters. */
static double time_log(ctm_db *db)
{
    double t[5];
    for (int r = 0; r < 5; r++) {
        ctm_query *q = NULL;
        double t0 = bench_now();
        check(ctm_audit_log(&q, db, 0, 0), "audit log");
        while (ctm_query_next(q) == CTM_ROW)
            ;
        ctm_query_free(q);
        t[r] = (bench_now() - t0) * 1e3;
    }
    return median5(t);
}

static double time_raw(const char *path)
{
    sqlite3 *s = NULL;
    double t[5];
    if (sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        bench_die("raw open", -1);
    for (int r = 0; r < 5; r++) {
        sqlite3_stmt *st = NULL;
        uint64_t bytes = 0;
        double t0 = bench_now();
        sqlite3_prepare_v2(s, "SELECT seq, entry FROM ledger ORDER BY seq", -1, &st, NULL);
        while (sqlite3_step(st) == SQLITE_ROW)
            bytes += (uint64_t)sqlite3_column_bytes(st, 1);
        sqlite3_finalize(st);
        t[r] = (bench_now() - t0) * 1e3;
        if (bytes == 0)
            bench_die("raw read", -1);
    }
    sqlite3_close(s);
    return median5(t);
}

/* The time of entry seq, as the log shows it. */
static void entry_time(ctm_db *db, uint64_t seq, char out[32])
{
    ctm_query *q = NULL;
    check(ctm_audit_log(&q, db, seq, 1), "log");
    if (ctm_query_next(q) != CTM_ROW)
        bench_die("log entry", -1);
    snprintf(out, 32, "%s", ctm_query_text(q, 1));
    ctm_query_free(q);
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = bench_args(argc, argv, &quick);
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_audit_log.db", dir);
    uint64_t target = quick ? 10000 : 100000;
    ctm_db *db = bench_stock_site(path, "Benchmark Pharmacy");
    double t0 = bench_now();
    uint64_t size = build_log(db, target);
    printf("log of %llu entries built in %.1f s (%s)\n", (unsigned long long)size,
           bench_now() - t0, path);
    /* Time a handle as a reader opens it, not the writer's warm one. */
    ctm_close(db);
    db = NULL;
    check(ctm_open(&db, path, NULL), "open");
    check(ctm_login(db, "pharm", PW), "login");

    char since[32], kit[32];
    entry_time(db, size - size / 10, since);
    snprintf(kit, sizeof kit, "K%07ld", (long)(size / 2 / 1.2));
    struct {
        const char *name;
        ctm_audit_filter f;
    } cases[] = {
        {"no filter (every entry decoded and shown)", CTM_AUDIT_FILTER_INIT},
        {"--last 20", CTM_AUDIT_FILTER_INIT},
        {"--from (last 1,000 seqs)", CTM_AUDIT_FILTER_INIT},
        {"--by pharm --action kit.status", CTM_AUDIT_FILTER_INIT},
        {"--action 'shipment.*'", CTM_AUDIT_FILTER_INIT},
        {"--since (newest tenth)", CTM_AUDIT_FILTER_INIT},
        {"--kit (one kit)", CTM_AUDIT_FILTER_INIT},
        {"--kit --action 'kit.*'", CTM_AUDIT_FILTER_INIT},
        {"--kit --last 3", CTM_AUDIT_FILTER_INIT},
        {"--trial --action shipment.confirm", CTM_AUDIT_FILTER_INIT},
    };
    cases[1].f.last = 20;
    cases[2].f.from_seq = size - 1000;
    cases[3].f.by = "pharm";
    cases[3].f.action = "kit.status";
    cases[4].f.action = "shipment.*";
    cases[5].f.since = since;
    cases[6].f.kit = kit;
    cases[7].f.kit = kit;
    cases[7].f.action = "kit.*";
    cases[8].f.kit = kit;
    cases[8].f.last = 3;
    cases[9].f.trial = TRIAL;
    cases[9].f.action = "shipment.confirm";

    printf("%-44s %10s %10s\n", "filter", "entries", "ms");
    printf("%-44s %10llu %10.1f\n", "raw: SELECT seq, entry FROM ledger", (unsigned long long)size,
           time_raw(path));
    printf("%-44s %10llu %10.1f\n", "ctm_audit_log (unchanged, no filter)",
           (unsigned long long)size, time_log(db));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t rows = 0;
        double ms = time_query(db, &cases[i].f, &rows);
        printf("%-44s %10llu %10.1f\n", cases[i].name, (unsigned long long)rows, ms);
    }
    ctm_close(db);
    return 0;
}
