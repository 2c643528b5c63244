/* bench.h - what the benchmarks share: a monotonic clock and a way to stop on failure. */
#ifndef CTM_BENCH_H
#define CTM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

#endif
