/* bench.h - what the benchmarks share: a monotonic clock and a way to stop on failure. */
#ifndef CTM_BENCH_H
#define CTM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

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

#endif
