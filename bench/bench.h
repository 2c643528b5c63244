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

#endif
