/* bench_ledger.c - ledger throughput against raw baselines measured in the same run.
 *
 *   build/bench/bench_ledger [--quick] [DIR]
 *
 * Prints, for each figure, libctm's rate beside a raw baseline doing the least the same job
 * needs, and their ratio:
 *   durable single actions   ctm_audit_note, one transaction each  vs  one-row INSERT + COMMIT
 *                            (WAL, synchronous=FULL) of a row the size of the entry
 *   entries in one batch     N ctm_audit_note in ctm_batch_*        vs  N INSERTs in one transaction
 *   e-signature cost         raw crypto_sign_detached/s over entry-sized messages (for reference)
 *   verify                   ctm_audit_verify entries/s              vs  SHA-256 leaf hashes/s of
 *                                                                      the same entry bytes
 * docs/performance.md keeps the figures.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ctm.h"
#include "merkle.h"

#define PW "benchmark password"

static void report(const char *name, double ours, double raw, const char *unit, double target)
{
    double ratio = ours / raw;
    printf("%-28s %12.0f %-10s raw %12.0f   ratio %5.2f   target >= %.2f  %s\n", name, ours, unit,
           raw, ratio, target, ratio >= target ? "ok" : "BELOW TARGET");
}

static sqlite3 *raw_open(const char *path)
{
    return bench_raw_sqlite(path, "CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB NOT NULL)");
}

/* Raw rows/s: n INSERTs of `size`-byte blobs, one transaction each or all in one. */
static double raw_inserts(const char *path, int n, size_t size, int one_transaction)
{
    sqlite3 *s = raw_open(path);
    sqlite3_stmt *st = NULL;
    uint8_t *blob = malloc(size);
    randombytes_buf(blob, size);
    sqlite3_prepare_v2(s, "INSERT INTO t(data) VALUES (?1)", -1, &st, NULL);
    double t0 = bench_now();
    if (one_transaction)
        sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int i = 0; i < n; i++) {
        if (!one_transaction)
            sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        blob[0] = (uint8_t)i;
        sqlite3_bind_blob(st, 1, blob, (int)size, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            bench_die("raw insert", -1);
        sqlite3_reset(st);
        if (!one_transaction)
            sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
    }
    if (one_transaction)
        sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
    double t = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(s);
    free(blob);
    return n / t;
}

static ctm_db *make_db(const char *path)
{
    ctm_db *db = bench_create(path);
    int rc = ctm_init(db, "Benchmark Pharmacy", NULL, "bench", "Bench Mark", PW);
    if (rc != CTM_OK)
        bench_die("ctm_init", rc);
    return db;
}

/* The average entry size of the notes, read back from the ledger. */
static size_t entry_size(const char *path)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    double avg = 0;
    sqlite3_open(path, &s);
    sqlite3_prepare_v2(s, "SELECT avg(length(entry)) FROM ledger WHERE seq > 0", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        avg = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return (size_t)avg;
}

static double ours_batch(ctm_db *db, int n, const char *text)
{
    double t0 = bench_now();
    int rc = ctm_batch_begin(db);
    for (int i = 0; rc == CTM_OK && i < n; i++)
        rc = ctm_audit_note(db, text, NULL);
    if (rc == CTM_OK)
        rc = ctm_batch_commit(db);
    if (rc != CTM_OK)
        bench_die("batch", rc);
    return n / (bench_now() - t0);
}

static double raw_sign(int n, size_t size)
{
    uint8_t pk[32], sk[64], sig[64];
    uint8_t *msg = malloc(size);
    randombytes_buf(msg, size);
    crypto_sign_keypair(pk, sk);
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        msg[0] = (uint8_t)i;
        crypto_sign_detached(sig, NULL, msg, size, sk);
    }
    double t = bench_now() - t0;
    free(msg);
    return n / t;
}

/* Raw: SHA-256 leaf hashes of the very entry bytes verify will hash, already in memory. */
static double raw_leaf_hashes(const char *path, uint64_t *count)
{
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    sqlite3_open(path, &s);
    sqlite3_prepare_v2(s, "SELECT entry FROM ledger ORDER BY seq", -1, &st, NULL);
    size_t cap = 1024, n = 0;
    uint8_t **bufs = malloc(cap * sizeof *bufs);
    size_t *lens = malloc(cap * sizeof *lens);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            bufs = realloc(bufs, cap * sizeof *bufs);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lens[n] = (size_t)sqlite3_column_bytes(st, 0);
        bufs[n] = malloc(lens[n]);
        memcpy(bufs[n], sqlite3_column_blob(st, 0), lens[n]);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    ctm_hash h, acc = {0};
    double t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        ctm__leaf_hash(bufs[i], lens[i], h);
        acc[0] ^= h[0];
    }
    double t = bench_now() - t0;
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    *count = n + acc[0] * 0;
    return n / t;
}

static double ours_verify(const char *path, uint64_t *entries)
{
    ctm_verify_result r;
    double t = bench_verify(path, 0, &r);
    *entries = r.entries;
    return r.entries / t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Durable commits depend on the disk's fsync, which drifts: alternate short rounds of ours and
 * raw and keep the median of the per-round ratios. */
static void single_rounds(ctm_db *db, const char *raw, const char *text, size_t esize, int rounds,
                          int per_round)
{
    double ratios[64], ours_sum = 0, raw_sum = 0;
    for (int r = 0; r < rounds; r++) {
        double rw = raw_inserts(raw, per_round, esize, 0);
        double us = bench_notes(db, per_round, text);
        ratios[r] = us / rw;
        ours_sum += us;
        raw_sum += rw;
    }
    qsort(ratios, (size_t)rounds, sizeof ratios[0], cmp_double);
    double median = ratios[rounds / 2];
    printf("%-28s %12.0f %-10s raw %12.0f   ratio %5.2f   target >= %.2f  %s  (median of %d rounds)\n",
           "durable single actions", ours_sum / rounds, "entries/s", raw_sum / rounds, median, 0.8,
           median >= 0.8 ? "ok" : "BELOW TARGET", rounds);
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = bench_args(argc, argv, &quick);
    int rounds = quick ? 3 : 9, per_round = quick ? 50 : 150;
    int n_batch = quick ? 5000 : 50000;
    char path[4096], raw[4096];
    snprintf(path, sizeof path, "%s/ctm-bench.db", dir);
    snprintf(raw, sizeof raw, "%s/ctm-bench-raw.db", dir);
    char *text = bench_text(200);

    printf("libctm %s ledger benchmark (%s), databases in %s\n", ctm_version(),
           quick ? "quick" : "full", dir);
    ctm_db *db = make_db(path);
    /* warm up: first entries create pages and load the site key */
    bench_notes(db, 10, text);
    size_t esize = entry_size(path);
    printf("ledger row: %zu-byte entry (a %zu-byte note)\n\n", esize, strlen(text));
    single_rounds(db, raw, text, esize, rounds, per_round);

    ctm_close(db);
    /* Verification of single actions is bound by one checkpoint signature per entry; report it,
     * then measure hashing on a log written in batches, where checkpoints are rare. */
    uint64_t entries = 0, hashed = 0;
    double ver_single = ours_verify(path, &entries);
    printf("%-28s %12.0f %-10s (one signed checkpoint per entry, %llu entries)\n",
           "verify single-action log", ver_single, "entries/s", (unsigned long long)entries);

    db = make_db(path);
    double batch = ours_batch(db, n_batch, text);
    double raw_batch = raw_inserts(raw, n_batch, esize, 1);
    report("entries in one batch", batch, raw_batch, "entries/s", 0.5);
    ctm_close(db);

    printf("%-28s %12.0f %-10s (raw crypto_sign_detached over %zu bytes)\n", "e-signatures",
           raw_sign(20000, esize), "signs/s", esize);

    double ver = ours_verify(path, &entries);
    double hashes = raw_leaf_hashes(path, &hashed);
    char label[64];
    snprintf(label, sizeof label, "verify (%llu entries)", (unsigned long long)entries);
    report(label, ver, hashes, "entries/s", 0.5);

    char key[4200];
    snprintf(key, sizeof key, "%s.key", path);
    remove(path);
    remove(key);
    remove(raw);
    free(text);
    return 0;
}
