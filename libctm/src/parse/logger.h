/* logger.h - temperature logger files (logger.c, and one file per format behind the one reader
 * interface of logger_format.h: logger_csv.c, logger_logtag.c, logger_berlinger.c).
 *
 * A file is fed in chunks of any size and never held whole: the reader cuts it into lines and
 * hands each to its format, which hands readings (continuous loggers: a time and a temperature)
 * or daily summaries (a Berlinger Fridge-tag: a day's min, max, average and minutes beyond the
 * alarm limits) to the caller's sink as they come.  A failure stops the file: the caller, which
 * writes what the sink was given inside one transaction, rolls it back, so nothing is imported.
 *
 * What every format shares:
 *   - Lines end in LF or CRLF; the last line end is optional.  A UTF-8 byte order mark at the
 *     start is skipped.  A line may hold any byte but NUL (exports carry "\xb0C" in Windows
 *     code pages); the values a format takes are ASCII.  At most CTM__LOGGER_MAX_LINE bytes per
 *     line: a longer one is refused when its byte CTM__LOGGER_MAX_LINE + 1 arrives.
 *   - Times are stored in UTC, in microseconds since 1970-01-01.  A time with an offset
 *     ("2024-05-01T10:00:00+02:00") is that instant; a local time without one is converted with
 *     the zone the user named (opts.tz, tz.h), else with the zone the file states (a Q-tag's
 *     "Zone:"), else refused: "line 9: the file gives local times without a zone; name the
 *     logger's zone".  When the clocks go back, a local time that happens twice is taken as the
 *     first instant after the previous reading; a local time the clocks skip is refused.
 *   - Readings go strictly forward in time: a reading at or before the previous one is refused
 *     ("line 12: 2024-05-01 10:00 is not after the previous reading (line 11)").
 *   - Temperatures: an optional sign, digits, at most one decimal point or comma, digits; no
 *     exponent, no blanks inside.  In degrees Celsius unless the file says Fahrenheit or the
 *     user does (opts.unit); a file that says both, or a unit the user's contradicts, is
 *     refused.  Kept in Celsius, refused outside -200..+200 C.
 *   - Errors are CTM_EINVAL, "line N: <field>: <what is wrong>", quoting at most 40 bytes of
 *     the value (bytes outside printable ASCII escaped).  Logger files hold no secret.
 */
#ifndef CTM_LOGGER_H
#define CTM_LOGGER_H

#include <stddef.h>
#include <stdint.h>

#define CTM__LOGGER_MAX_LINE 4096
#define CTM__LOGGER_MIN_C (-200.0)
#define CTM__LOGGER_MAX_C 200.0

/* How day-month order is read in dates like 03/04/2024. */
enum ctm__date_order {
    CTM__DATE_AS_FILE = 0, /* as the file's header says; YMD when it says nothing */
    CTM__DATE_YMD = 1,
    CTM__DATE_DMY = 2,
    CTM__DATE_MDY = 3,
};

typedef struct ctm__logger_opts {
    const char *tz;             /* tz.h's names; NULL: the file's own zone, if it states one */
    enum ctm__date_order order; /* dates like 03/04/2024 */
    char unit;                  /* 'C' or 'F'; 0: as the file says (Celsius if it says nothing) */
} ctm__logger_opts;

/* One reading of a continuous logger. */
typedef struct ctm__logger_reading {
    int64_t t_us;  /* UTC */
    double temp_c;
    uint64_t line; /* its line in the file */
} ctm__logger_reading;

/* One day of a logger that keeps no readings (Berlinger Fridge-tag 2). */
typedef struct ctm__logger_day {
    int64_t date;                      /* the logger's local day: days since 1970-01-01 */
    int64_t start_us, end_us;          /* that day in UTC: [start_us, end_us) */
    int has_min, has_max, has_avg;
    double min_c, max_c, avg_c;
    int64_t min_us, max_us;            /* when the min and the max were reached (UTC); 0: unknown */
    int64_t minutes_high, minutes_low; /* minutes beyond the upper and the lower alarm limit */
    uint64_t line;                     /* its first line in the file */
} ctm__logger_day;

/* What the file says of itself, complete after ctm__logger_finish. */
typedef struct ctm__logger_info {
    const char *format;  /* "csv", "logtag", "berlinger" (static): a Q-tag's and a Fridge-tag's
                          * reports are both "berlinger", told apart by model */
    char serial[65];     /* the logger's serial number; "" when the file gives none */
    char model[65];      /* the device, as the file names it; "" when it does not */
    int64_t interval_s;  /* the reading interval the file states; 0 when it states none */
    char unit;           /* 'C' or 'F': what the file's temperatures were in */
    /* alarm limits the file states (a Fridge-tag's, a Q-tag's): the temperature and the minutes
     * beyond it before the logger alarms */
    int has_high, has_low;
    double high_c, low_c;
    int64_t high_minutes, low_minutes;
    /* the device's own mean kinetic temperature, and the activation energy it used (kJ/mol) */
    int has_device_mkt;
    double device_mkt_c, device_energy_kj;
    uint64_t readings, days;   /* how many were handed to the sink */
    int64_t first_us, last_us; /* the first and last reading's time, or the days' span */
    char *evidence;            /* lines kept verbatim as evidence (a Q-tag's Cert: and Sig:),
                                * each ending in '\n'; NULL when none; owned by the reader */
    size_t evidence_len;
} ctm__logger_info;

/* Where readings and days go.  A callback's failure (a status other than CTM_OK) stops the file
 * and is returned by the feed or finish that called it. */
typedef struct ctm__logger_sink {
    void *ctx;
    int (*reading)(void *ctx, const ctm__logger_reading *r); /* NULL: readings are refused */
    int (*day)(void *ctx, const ctm__logger_day *d);         /* NULL: daily summaries are refused */
} ctm__logger_sink;

typedef struct ctm__logger ctm__logger;

/* The names of the formats, for messages and the CLI: "csv, logtag, berlinger". */
extern const char ctm__logger_format_names[];

/* A reader for a file of format `format` ("csv", "logtag", "berlinger"; NULL: chosen from the
 * file's first line: a Berlinger report starts "Device:", a LogTag export has a "Serial"-like
 * key before its readings; anything else is read as csv).  CTM_EINVAL for an unknown format or a
 * bad opts.tz/opts.unit, CTM_ENOTFOUND for a zone with no zoneinfo file. */
int ctm__logger_open(ctm__logger **out, const char *format, const ctm__logger_opts *opts,
                     const ctm__logger_sink *sink);

/* The next n bytes of the file. */
int ctm__logger_feed(ctm__logger *lg, const void *data, size_t n);

/* The end of the file: its last line, then the format's checks of what must have come (a
 * Data section, at least one reading or day: "the file holds no readings"). */
int ctm__logger_finish(ctm__logger *lg);

/* What the file says of itself (complete after ctm__logger_finish); owned by the reader. */
const ctm__logger_info *ctm__logger_info_of(const ctm__logger *lg);

void ctm__logger_free(ctm__logger *lg); /* NULL is fine */

#endif
