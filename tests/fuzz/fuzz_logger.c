/* fuzz_logger.c - libFuzzer targets, one per logger file format: fuzz_logger_FORMAT is built
 * with FUZZ_FORMAT "FORMAT", and fuzz_logger without, choosing the format from the file's first
 * line.  The input is a logger file: its first byte chooses the zone (none, a fixed offset, UTC),
 * the unit, the date order and the size of the chunks it is fed in; the rest is the file.  Every reading
 * handed over lies in the allowed range and goes strictly forward in time; every day too; a file
 * read whole counts exactly what it handed over.  No crash, no leak, no hang either way. */
#include "ctm.h"
#include "logger.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    uint64_t readings, days;
    int64_t last_us, last_day;
} seen;

static int on_reading(void *ctx, const ctm__logger_reading *r)
{
    seen *s = ctx;
    if (!(r->temp_c >= CTM__LOGGER_MIN_C && r->temp_c <= CTM__LOGGER_MAX_C))
        abort();
    if (s->readings > 0 && r->t_us <= s->last_us)
        abort();
    s->last_us = r->t_us;
    s->readings++;
    return CTM_OK;
}

static int on_day(void *ctx, const ctm__logger_day *d)
{
    seen *s = ctx;
    if (s->days > 0 && d->date <= s->last_day)
        abort();
    if (d->end_us <= d->start_us)
        abort();
    s->last_day = d->date;
    s->days++;
    return CTM_OK;
}

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT NULL
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t how = data[0];
    const char *format = FUZZ_FORMAT;
    ctm__logger_opts o = {0};
    o.tz = (how & 0x10) ? "+01:00" : (how & 0x20) ? "UTC" : NULL;
    o.unit = (how & 0x40) ? 'F' : 0;
    o.order = (enum ctm__date_order)(how & 0x3); /* as the file says, YMD, DMY, MDY */
    size_t chunk = (how & 0x80) ? 1 : 4096;
    seen s = {0, 0, 0, 0};
    ctm__logger_sink sink = {&s, on_reading, on_day};
    ctm__logger *lg = NULL;
    if (ctm__logger_open(&lg, format, &o, &sink) != CTM_OK)
        abort();
    int rc = CTM_OK;
    for (size_t i = 1; rc == CTM_OK && i < size; i += chunk)
        rc = ctm__logger_feed(lg, data + i, size - i < chunk ? size - i : chunk);
    if (rc == CTM_OK)
        rc = ctm__logger_finish(lg);
    const ctm__logger_info *info = ctm__logger_info_of(lg);
    if (rc == CTM_OK && (info->readings != s.readings || info->days != s.days ||
                         info->readings + info->days == 0))
        abort();
    ctm__logger_free(lg);
    return 0;
}
