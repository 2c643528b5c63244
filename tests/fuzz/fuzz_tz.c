/* fuzz_tz.c - libFuzzer target for TZif files (tz.h): the input is the file's bytes, handed to
 * ctm__tz_parse.  When a zone is accepted, a spread of instants (1970 to 2199, the far past and
 * future, and one taken from the input's last bytes) is converted both ways: every offset is
 * within 25 hours; the wall-clock time of an instant converts back to that instant (alone, or
 * as one end of an ordered pair, or between them); every instant ctm__tz_to_utc gives shows
 * the wall-clock time asked; a gap gives no instant.  No crash, no leak, no hang. */
#include "ctm.h"
#include "tz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define YEAR_S INT64_C(31556952) /* an average Gregorian year */

/* The instants of local: each shows local, in order; a gap gives none. */
static void check_local(const ctm__tz *z, int64_t local, int64_t utc[2], int *n)
{
    int rc = ctm__tz_to_utc(z, local, utc, n);
    if (rc == CTM_ERULE && *n == 0)
        return;
    if (rc != CTM_OK || *n < 1 || *n > 2)
        abort();
    if (*n == 2 && !(utc[0] < utc[1]))
        abort();
    for (int i = 0; i < *n; i++)
        if (utc[i] + ctm__tz_offset(z, utc[i]) != local)
            abort();
}

/* u's wall-clock time converts back to u; u read as a wall-clock time obeys check_local. */
static void check_instant(const ctm__tz *z, int64_t u)
{
    int32_t off = ctm__tz_offset(z, u);
    if (off > 25 * 3600 || off < -25 * 3600)
        abort();
    int64_t utc[2];
    int n = 0;
    check_local(z, u + off, utc, &n);
    if (n == 0 || (n == 1 && utc[0] != u) || u < utc[0] || u > utc[n - 1])
        abort();
    check_local(z, u, utc, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctm__tz *z = NULL;
    if (ctm__tz_parse(&z, "fuzz", data, size) != CTM_OK) {
        if (z != NULL)
            abort();
        return 0;
    }
    static const int64_t far[] = {-(INT64_C(1) << 40) + 90000, -(INT64_C(1) << 33), -1, 0, 1,
                                  INT64_C(1) << 31, INT64_C(1) << 33, (INT64_C(1) << 40) - 90000};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++)
        check_instant(z, far[i]);
    /* 1970 to 2199, every year at a different time of year (the footer's rule after 2037) */
    for (int64_t y = 0; y < 230; y++)
        check_instant(z, y * YEAR_S + (y * 7919 * 3600) % YEAR_S);
    if (size >= 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | data[size - 8 + i];
        int64_t u = (int64_t)(v % ((UINT64_C(1) << 41) - 200000)) - (INT64_C(1) << 40) + 100000;
        for (int64_t d = -7200; d <= 7200; d += 1800)
            check_instant(z, u + d);
    }
    ctm__tz_free(z);
    return 0;
}
