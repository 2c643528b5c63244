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

/* A new site at path, initialised with the administrator "bench" (password pw) logged in; an
 * older database and key file there are removed first. */
static inline ctm_db *bench_new_site(const char *path, const char *pw)
{
    char key[4200];
    snprintf(key, sizeof key, "%s.key", path);
    remove(path);
    remove(key);
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    int rc = ctm_open(&db, path, &o);
    if (rc != CTM_OK)
        bench_die("ctm_open", rc);
    if ((rc = ctm_init(db, "Benchmark Pharmacy", NULL, "bench", "Bench Mark", pw)) != CTM_OK)
        bench_die("ctm_init", rc);
    return db;
}

/* bench_new_site, with an unblinded pharmacist "pharm" (logged in on return), a blinded two-arm
 * trial with kit type KT, and fridges FRIDGE1 and FRIDGE2; every password is pw. */
static inline ctm_db *bench_stock_site(const char *path, const char *trial, const char *pw)
{
    ctm_db *db = bench_new_site(path, pw);
    int rc = ctm_user_add(db, "pharm", "pharmacist", 1, "Pharm Acist", pw);
    if (rc == CTM_OK)
        rc = ctm_trial_add(db, trial, "Benchmark trial", "Sponsor", 1, "A:1,B:1");
    if (rc == CTM_OK)
        rc = ctm_kittype_add(db, trial, "KT", "Drug", 30, 2, 8, 30, NULL);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE2", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_login(db, "pharm", pw);
    if (rc != CTM_OK)
        bench_die("set-up", rc);
    return db;
}

#endif
