/* bench.h - what the benchmarks share: a monotonic clock and a way to stop on failure. */
#ifndef CTM_BENCH_H
#define CTM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "ctm.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_die(const char *what, int rc)
{
    fprintf(stderr, "bench: %s failed (%d): %s\n", what, rc, ctm_errmsg());
    exit(1);
}

/* "[--quick] [DIR]": the directory for the databases (default /tmp); initialises libsodium. */
static inline const char *bench_args(int argc, char **argv, int *quick)
{
    const char *dir = "/tmp";
    *quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            *quick = 1;
        else
            dir = argv[i];
    }
    if (sodium_init() < 0)
        bench_die("sodium_init", -1);
    return dir;
}

/* The raw baseline's own SQLite file at path, made anew, durable as a site is (WAL,
 * synchronous=FULL), with the tables of schema. */
static inline sqlite3 *bench_raw_sqlite(const char *path, const char *schema)
{
    sqlite3 *s = NULL;
    remove(path);
    if (sqlite3_open(path, &s) != SQLITE_OK)
        bench_die("raw open", -1);
    if (sqlite3_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(s, schema, NULL, NULL, NULL) != SQLITE_OK)
        bench_die("raw schema", -1);
    return s;
}

static inline ctm_db *bench_open(const char *path, unsigned flags)
{
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = flags;
    int rc = ctm_open(&db, path, &o);
    if (rc != CTM_OK)
        bench_die("ctm_open", rc);
    return db;
}

/* A new database at path (any old one and its key file removed first), opened for creation. */
static inline ctm_db *bench_create(const char *path)
{
    char key[4200];
    snprintf(key, sizeof key, "%s.key", path);
    remove(path);
    remove(key);
    return bench_open(path, CTM_OPEN_CREATE);
}

/* Seconds ctm_audit_verify() takes on the database at path, opened with flags; *r its result. */
static inline double bench_verify(const char *path, unsigned flags, ctm_verify_result *r)
{
    ctm_db *db = bench_open(path, flags);
    *r = (ctm_verify_result){.struct_size = sizeof *r};
    double t0 = bench_now();
    int rc = ctm_audit_verify(db, NULL, NULL, r);
    double t = bench_now() - t0;
    if (rc != CTM_OK)
        bench_die("verify", rc);
    ctm_close(db);
    return t;
}

#define BENCH_PW "benchmark password"
#define BENCH_TRIAL "BENCH-1"

/* Make db (open for creation, empty) a stock site: admin "bench", pharmacist "pharm" (logged
 * in), blinded trial BENCH_TRIAL with arms A and B, kit type KT, locations FRIDGE1 and FRIDGE2. */
static inline void bench_stock_setup(ctm_db *db, const char *site)
{
    int rc = ctm_init(db, site, NULL, "bench", "Bench Mark", BENCH_PW);
    if (rc == CTM_OK)
        rc = ctm_user_add(db, "pharm", "pharmacist", 1, "Pharm Acist", BENCH_PW);
    if (rc == CTM_OK)
        rc = ctm_trial_add(db, BENCH_TRIAL, "Benchmark trial", "Sponsor", 1, "A:1,B:1");
    if (rc == CTM_OK)
        rc = ctm_kittype_add(db, BENCH_TRIAL, "KT", "Drug", 30, 2, 8, 30, NULL);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE2", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_login(db, "pharm", BENCH_PW);
    if (rc != CTM_OK)
        bench_die("set-up", rc);
}

/* A generic CSV logger file of n readings, one a minute from BENCH_T0 (2026-06-01T00:00:00Z);
 * reading i is bench_logger_mc(i) milli-degrees: within a fridge's 2-8 C but for 45 minutes at
 * 9.5 C in every 10,000 (an excursion a week, each longer than the default alarm delay). */
#define BENCH_T0 1780272000LL
#define BENCH_EXCURSION_EVERY 10000
static inline long long bench_logger_mc(long i)
{
    if (i % BENCH_EXCURSION_EVERY >= 5000 && i % BENCH_EXCURSION_EVERY < 5045)
        return 9500;
    return (2 + i % 6) * 1000 + (i % 10) * 100;
}

static inline void bench_logger_file(const char *path, long n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        bench_die("write logger file", -1);
    fputs("time,temperature\n", f);
    for (long i = 0; i < n; i++) {
        long long s = BENCH_T0 + i * 60;
        long long day = s / 86400, sec = s % 86400;
        /* the civil date of day (days since 1970-01-01) */
        long long z = day + 719468, era = z / 146097, doe = z - era * 146097;
        long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
        long long m = mp < 10 ? mp + 3 : mp - 9;
        long long mc = bench_logger_mc(i);
        fprintf(f, "%04lld-%02lld-%02lldT%02lld:%02lld:00Z,%lld.%lld\n", y + (m <= 2), m, d,
                sec / 3600, sec / 60 % 60, mc / 1000, mc / 100 % 10);
    }
    fclose(f);
}

/* bench_stock_setup on a new database file at path. */
static inline ctm_db *bench_stock_site(const char *path, const char *site)
{
    ctm_db *db = bench_create(path);
    bench_stock_setup(db, site);
    return db;
}

/* len letters a-z, repeated (malloc'd): a note text that makes entries of a chosen size. */
static inline char *bench_text(size_t len)
{
    char *t = malloc(len + 1);
    if (t == NULL)
        bench_die("note text", -1);
    for (size_t i = 0; i < len; i++)
        t[i] = (char)('a' + i % 26);
    t[len] = '\0';
    return t;
}

/* n notes of text on db, one transaction each: notes/s. */
static inline double bench_notes(ctm_db *db, int n, const char *text)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        int rc = ctm_audit_note(db, text, NULL);
        if (rc != CTM_OK)
            bench_die("ctm_audit_note", rc);
    }
    return n / (bench_now() - t0);
}

/* A manifest of n kits numbered from `first`, lots of 1,000 kits, alternating arms. */
static inline char *bench_manifest(long first, long n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 48;
    char *m = malloc(cap);
    if (m == NULL)
        bench_die("manifest", -1);
    size_t at = (size_t)snprintf(m, cap, "kit_number,kit_type,lot,expiry,arm\n");
    for (long i = first; i < first + n; i++)
        at += (size_t)snprintf(m + at, cap - at, "K%07ld,KT,L%05ld,2029-06-30,%s\n", i, i / 1000,
                               i % 2 ? "A" : "B");
    *len = at;
    return m;
}

/* Make a stock site (bench_stock_setup, pharmacist logged in) a dispensing site: `kits` kits (half
 * per arm) at FRIDGE1, visits V1 .. V4 every subject may be dispensed at today (day 0, window
 * 0..+3, one kit), and `subjects` randomized subjects S000000, S000001, ... in strata sex=M,F. */
static inline void bench_dispensing_setup(ctm_db *db, long kits, long subjects)
{
    int rc = CTM_OK;
    for (long first = 0; rc == CTM_OK && first < kits; first += 100000) {
        long n = kits - first < 100000 ? kits - first : 100000;
        size_t len = 0;
        char *m = bench_manifest(first, n, &len);
        char shipment[32];
        snprintf(shipment, sizeof shipment, "SH%ld", first);
        rc = ctm_receive(db, BENCH_TRIAL, shipment, m, len, "FRIDGE1", NULL);
        free(m);
        if (rc == CTM_OK)
            rc = ctm_receive_confirm(db, shipment, 1);
    }
    for (int v = 1; rc == CTM_OK && v <= 4; v++) {
        char code[8];
        snprintf(code, sizeof code, "V%d", v);
        rc = ctm_visit_add(db, BENCH_TRIAL, code, 0, "randomization", "0..+3", "KT:1");
    }
    ctm_random_options ro = CTM_RANDOM_OPTIONS_INIT;
    ro.strata = "sex=M,F";
    if (rc == CTM_OK)
        rc = ctm_random_generate(db, BENCH_TRIAL, (int)(subjects / 2 + 10), "2,4", &ro);
    for (long i = 0; rc == CTM_OK && i < subjects; i++) {
        char s[16], strata[16];
        snprintf(s, sizeof s, "S%06ld", i);
        snprintf(strata, sizeof strata, "sex=%s", i % 2 ? "M" : "F");
        if (i % 10000 == 0)
            rc = ctm_batch_begin(db);
        if (rc == CTM_OK)
            rc = ctm_subject_add(db, BENCH_TRIAL, s, strata);
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        if (rc == CTM_OK)
            rc = ctm_randomize(db, BENCH_TRIAL, s, &r);
        if (rc == CTM_OK && (i % 10000 == 9999 || i == subjects - 1))
            rc = ctm_batch_commit(db);
    }
    if (rc != CTM_OK)
        bench_die("dispensing set-up", rc);
}

/* One dispense of subject S<n> at visit: its assignment, then the confirmation of the kit chosen
 * (e-signed); with batched, both in one batch.  CTM_OK, or the failing call's status (CTM_EBUSY:
 * the caller may try again). */
static inline int bench_dispense_one(ctm_db *db, long subject, const char *visit, int batched)
{
    char s[16], kit[48] = "";
    snprintf(s, sizeof s, "S%06ld", subject);
    ctm_query *q = NULL;
    int rc = batched ? ctm_batch_begin(db) : CTM_OK;
    if (rc == CTM_OK)
        rc = ctm_dispense_assign(&q, db, BENCH_TRIAL, s, visit, NULL);
    if (rc == CTM_OK && ctm_query_next(q) != CTM_ROW)
        rc = CTM_ERROR;
    if (rc == CTM_OK)
        snprintf(kit, sizeof kit, "%s", ctm_query_text(q, 0));
    ctm_query_free(q);
    const char *scans[] = {kit};
    if (rc == CTM_OK)
        rc = ctm_dispense_confirm(db, BENCH_TRIAL, s, scans, 1);
    if (batched)
        rc = rc == CTM_OK ? ctm_batch_commit(db) : (ctm_batch_rollback(db), rc);
    return rc;
}

#endif
