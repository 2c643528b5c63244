/* logger_format.h - what a logger file format provides, and what the reader (logger.c) offers
 * it (internal to the logger files: logger.c and logger_*.c).
 *
 * A format is a line function and a few hooks: the reader cuts the file into lines (logger.h
 * says how), and the format parses each, handing readings and days back through the calls below,
 * which enforce what every format shares (time order, zones, units, ranges).  Adding a format is
 * one file defining one ctm__logger_format and one line in logger.c's table.
 */
#ifndef CTM_LOGGER_FORMAT_H
#define CTM_LOGGER_FORMAT_H

#include "logger.h"

typedef struct ctm__logger_format {
    const char *name; /* as --format names it */
    size_t state_size; /* zeroed bytes given to the format as its state */
    /* How likely the first line is this format's: 0 never, 1 possible, 2 certain. */
    int (*sniff)(const char *line, size_t n);
    /* One line: s[n] == '\0', no line end, no NUL inside; ctm__logger_line() numbers it.
     * CTM_OK, or a failure from ctm__logger_fail() or from the calls below. */
    int (*line)(ctm__logger *lg, void *state, const char *s, size_t n);
    /* The end of the file (NULL: nothing to check). */
    int (*finish)(ctm__logger *lg, void *state);
    /* Free what the state holds (NULL: nothing). */
    void (*free)(void *state);
} ctm__logger_format;

extern const ctm__logger_format ctm__logger_csv;
extern const ctm__logger_format ctm__logger_logtag;
extern const ctm__logger_format ctm__logger_berlinger;

/* The number of the line being parsed (1-based). */
uint64_t ctm__logger_line(const ctm__logger *lg);

/* CTM_EINVAL "line N: " followed by the formatted text. */
int ctm__logger_fail(ctm__logger *lg, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 'value' for a message: at most 40 bytes of s, non-printable bytes as \xNN. */
#define CTM__LOGGER_QUOTE_SIZE 200
void ctm__logger_quote(char out[CTM__LOGGER_QUOTE_SIZE], const char *s, size_t n);

/* The file's header, for the format to fill (serial, model, interval, alarm limits, the device's
 * MKT; format is set by the reader). */
ctm__logger_info *ctm__logger_info_mut(ctm__logger *lg);

/* The file's own unit ('C' or 'F'), stated once; a contradiction of the user's is refused. */
int ctm__logger_set_unit(ctm__logger *lg, char unit);
/* The file's own zone as a fixed offset (seconds east of UTC), used when the user named none. */
int ctm__logger_set_offset(ctm__logger *lg, int32_t offset_s);
/* The date order the file's header states (used when the user gave none). */
void ctm__logger_set_order(ctm__logger *lg, enum ctm__date_order order);
/* The date order in force: the user's, else the file's, else YMD. */
enum ctm__date_order ctm__logger_order(const ctm__logger *lg);

/* ---- values ---- */

/* A temperature in the file's unit (logger.h's syntax), into Celsius, range-checked; `field`
 * names it in messages. */
int ctm__logger_temp(ctm__logger *lg, const char *field, const char *s, size_t n, double *c);
/* A temperature the file states in Celsius whatever its readings' unit (limits, device MKT). */
int ctm__logger_celsius(ctm__logger *lg, const char *field, const char *s, size_t n, double *c);
/* A whole number 0..max. */
int ctm__logger_count(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t max,
                      int64_t *v);
/* A date: "YYYY-MM-DD" (also with '/' or '.'), or in the order in force "DD/MM/YYYY",
 * "MM/DD/YYYY" (separators '/', '.' or '-'; one- or two-digit day and month); a real date in
 * 1970-2199.  Days since 1970-01-01. */
int ctm__logger_date(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *days);
/* A time of day: "hh:mm" or "hh:mm:ss", 24-hour, or 12-hour with " AM"/" PM" (any case). */
int ctm__logger_clock(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *secs);
/* ISO 8601 date and time: "YYYY-MM-DD[T or blank]hh:mm[:ss[.fraction]]" then optionally "Z" or
 * an offset "+hh:mm", "+hhmm", "+hh".  With an offset or Z, *utc_us is the instant and
 * *has_zone 1; without, *local_s is the wall-clock time (seconds) and *has_zone 0. */
int ctm__logger_iso(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *local_s,
                    int *has_zone, int64_t *utc_us);

/* ---- results ---- */

/* A reading at local wall-clock time local_s (zone rules of logger.h). */
int ctm__logger_reading_local(ctm__logger *lg, int64_t local_s, double temp_c);
/* A reading at the instant utc_us. */
int ctm__logger_reading_utc(ctm__logger *lg, int64_t utc_us, double temp_c);
/* A day: d->date and the values set; the reader sets start_us, end_us (the local day in UTC) and
 * line, converts min_us/max_us given as local seconds in min_local/max_local (0: unknown).
 * Days go strictly forward.  A format that hands its days over later than their lines (at the
 * end) sets d->line itself: messages about the day name that line. */
int ctm__logger_emit_day(ctm__logger *lg, ctm__logger_day *d, int64_t min_local,
                         int64_t max_local);
/* Keep line s (n bytes) verbatim as evidence. */
int ctm__logger_keep(ctm__logger *lg, const char *s, size_t n);

#endif
