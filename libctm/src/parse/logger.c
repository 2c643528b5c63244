/* logger.c - the reader every logger file format shares (logger.h, logger_format.h): lines,
 * zones, units, time order, and the values formats parse. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "logger_format.h"
#include "tz.h"

const char ctm__logger_format_names[] = "csv, logtag, berlinger";

static const ctm__logger_format *const formats[] = {
    &ctm__logger_csv,
    &ctm__logger_logtag,
    &ctm__logger_berlinger,
};
#define NFORMATS (sizeof formats / sizeof formats[0])

struct ctm__logger {
    const ctm__logger_format *fmt; /* NULL until the first line chooses it */
    void *state;
    ctm__logger_sink sink;
    char user_unit;                /* opts.unit */
    char file_unit;                /* ctm__logger_set_unit; 0 unset */
    enum ctm__date_order user_order, file_order;
    ctm__tz *tz;                   /* the user's zone, or NULL */
    int has_offset;                /* the file's own fixed offset */
    int32_t offset_s;
    char line[CTM__LOGGER_MAX_LINE + 1];
    size_t len;                    /* bytes of the line being gathered */
    int cr;                        /* the line being gathered ended in CR so far */
    uint64_t lineno;
    int failed;                    /* a failure stopped the file: every call after fails */
    int finished;
    int has_last;
    int64_t last_us;               /* the previous reading, or the previous day's date */
    uint64_t last_line;
    ctm__logger_info info;
    size_t evidence_cap;
};

/* ---- opening ---- */

static int open_zone(ctm__logger *lg, const char *tz)
{
    if (tz == NULL)
        return CTM_OK;
    return ctm__tz_open(&lg->tz, tz);
}

int ctm__logger_open(ctm__logger **out, const char *format, const ctm__logger_opts *opts,
                     const ctm__logger_sink *sink)
{
    *out = NULL;
    const ctm__logger_format *fmt = NULL;
    if (format != NULL) {
        for (size_t i = 0; i < NFORMATS && fmt == NULL; i++)
            if (strcmp(formats[i]->name, format) == 0)
                fmt = formats[i];
        if (fmt == NULL)
            return ctm__err(CTM_EINVAL, "format: '%.20s' is not a logger file format (%s)", format,
                            ctm__logger_format_names);
    }
    ctm__logger_opts none = {0};
    if (opts == NULL)
        opts = &none;
    if (opts->unit != 0 && opts->unit != 'C' && opts->unit != 'F')
        return ctm__err(CTM_EINVAL, "unit: give C or F");
    if (opts->order < CTM__DATE_AS_FILE || opts->order > CTM__DATE_MDY)
        return ctm__err(CTM_EINVAL, "date order: give YMD, DMY or MDY");
    ctm__logger *lg = calloc(1, sizeof *lg);
    if (lg == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    lg->sink = *sink;
    lg->user_unit = opts->unit;
    lg->user_order = opts->order;
    int rc = open_zone(lg, opts->tz);
    if (rc != CTM_OK) {
        free(lg);
        return rc;
    }
    if (fmt != NULL && (lg->state = calloc(1, fmt->state_size > 0 ? fmt->state_size : 1)) == NULL) {
        ctm__logger_free(lg);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    lg->fmt = fmt;
    if (fmt != NULL)
        lg->info.format = fmt->name;
    *out = lg;
    return CTM_OK;
}

void ctm__logger_free(ctm__logger *lg)
{
    if (lg == NULL)
        return;
    if (lg->fmt != NULL && lg->fmt->free != NULL && lg->state != NULL)
        lg->fmt->free(lg->state);
    free(lg->state);
    ctm__tz_free(lg->tz);
    free(lg->info.evidence);
    free(lg);
}

const ctm__logger_info *ctm__logger_info_of(const ctm__logger *lg)
{
    return &lg->info;
}

ctm__logger_info *ctm__logger_info_mut(ctm__logger *lg)
{
    return &lg->info;
}

uint64_t ctm__logger_line(const ctm__logger *lg)
{
    return lg->lineno;
}

/* ---- messages ---- */

void ctm__logger_quote(char out[CTM__LOGGER_QUOTE_SIZE], const char *s, size_t n)
{
    size_t o = 0, max = n > 40 ? 40 : n;
    out[o++] = '\'';
    for (size_t i = 0; i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, CTM__LOGGER_QUOTE_SIZE - o, "\\x%02x", c);
    }
    out[o++] = '\'';
    if (max < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

int ctm__logger_fail(ctm__logger *lg, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->failed = 1;
    return ctm__err(CTM_EINVAL, "line %llu: %s", (unsigned long long)lg->lineno, msg);
}

/* ---- lines ---- */

static int choose_format(ctm__logger *lg, const char *s, size_t n)
{
    const ctm__logger_format *best = &ctm__logger_csv;
    int score = 0;
    for (size_t i = 0; i < NFORMATS; i++) {
        int v = formats[i]->sniff != NULL ? formats[i]->sniff(s, n) : 0;
        if (v > score) {
            score = v;
            best = formats[i];
        }
    }
    lg->fmt = best;
    lg->info.format = best->name;
    if ((lg->state = calloc(1, best->state_size > 0 ? best->state_size : 1)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    return CTM_OK;
}

static int end_line(ctm__logger *lg)
{
    lg->lineno++;
    size_t n = lg->len;
    if (lg->cr) /* CRLF: the CR was kept in the line until the LF came */
        n--;
    lg->line[n] = '\0';
    lg->len = 0;
    lg->cr = 0;
    char *s = lg->line;
    if (lg->lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3; /* a UTF-8 byte order mark opening the file is not part of line 1 */
        n -= 3;
    }
    int rc = CTM_OK;
    if (lg->fmt == NULL)
        rc = choose_format(lg, s, n);
    if (rc == CTM_OK)
        rc = lg->fmt->line(lg, lg->state, s, n);
    if (rc != CTM_OK)
        lg->failed = 1;
    return rc;
}

int ctm__logger_feed(ctm__logger *lg, const void *data, size_t n)
{
    if (lg->failed || lg->finished)
        return ctm__err(CTM_EMISUSE, "the logger file was already refused or finished");
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\n') {
            int rc = end_line(lg);
            if (rc != CTM_OK)
                return rc;
            continue;
        }
        if (c == '\0') {
            lg->lineno++;
            return ctm__logger_fail(lg, "a NUL byte: not a text file");
        }
        if (lg->cr) { /* a CR inside a line, not before its LF: an ordinary byte */
            lg->cr = 0;
        }
        if (lg->len >= CTM__LOGGER_MAX_LINE + (c == '\r' ? 1 : 0)) {
            lg->lineno++;
            return ctm__logger_fail(lg, "longer than %d bytes", CTM__LOGGER_MAX_LINE);
        }
        lg->line[lg->len++] = (char)c;
        lg->cr = c == '\r';
    }
    return CTM_OK;
}

int ctm__logger_finish(ctm__logger *lg)
{
    if (lg->failed || lg->finished)
        return ctm__err(CTM_EMISUSE, "the logger file was already refused or finished");
    int rc = CTM_OK;
    if (lg->len > 0)
        rc = end_line(lg);
    if (rc == CTM_OK && lg->lineno == 0) {
        lg->failed = 1;
        return ctm__err(CTM_EINVAL, "the logger file is empty");
    }
    if (rc == CTM_OK && lg->fmt->finish != NULL)
        rc = lg->fmt->finish(lg, lg->state);
    if (rc == CTM_OK && lg->info.readings == 0 && lg->info.days == 0)
        rc = ctm__err(CTM_EINVAL, "the logger file holds no readings");
    if (rc != CTM_OK)
        lg->failed = 1;
    else
        lg->finished = 1;
    if (lg->info.unit == 0)
        lg->info.unit = lg->user_unit != 0 ? lg->user_unit : lg->file_unit != 0 ? lg->file_unit : 'C';
    return rc;
}

/* ---- the file's own settings ---- */

int ctm__logger_set_unit(ctm__logger *lg, char unit)
{
    if (unit != 'C' && unit != 'F')
        return ctm__logger_fail(lg, "unit: give C or F");
    if (lg->file_unit != 0 && lg->file_unit != unit)
        return ctm__logger_fail(lg, "unit: the file says both Celsius and Fahrenheit");
    if (lg->user_unit != 0 && lg->user_unit != unit)
        return ctm__logger_fail(lg, "unit: the file says %s, the import was asked for %s",
                                unit == 'C' ? "Celsius" : "Fahrenheit",
                                lg->user_unit == 'C' ? "Celsius" : "Fahrenheit");
    lg->file_unit = unit;
    lg->info.unit = unit;
    return CTM_OK;
}

int ctm__logger_set_offset(ctm__logger *lg, int32_t offset_s)
{
    if (offset_s < -14 * 3600 || offset_s > 14 * 3600)
        return ctm__logger_fail(lg, "zone: an offset of %ld s is not a zone", (long)offset_s);
    lg->has_offset = 1;
    lg->offset_s = offset_s;
    return CTM_OK;
}

void ctm__logger_set_order(ctm__logger *lg, enum ctm__date_order order)
{
    lg->file_order = order;
}

enum ctm__date_order ctm__logger_order(const ctm__logger *lg)
{
    return lg->user_order != CTM__DATE_AS_FILE   ? lg->user_order
           : lg->file_order != CTM__DATE_AS_FILE ? lg->file_order
                                                 : CTM__DATE_YMD;
}

/* ---- values ---- */

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

/* A decimal number: [+-]digits[(.|,)digits] (digits on at least one side). */
static int decimal(const char *s, size_t n, double *v)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    double whole = 0, frac = 0, scale = 1;
    size_t nd = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
        if (nd < 12)
            whole = whole * 10 + (s[i] - '0');
        else
            return 0;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t nf = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, nf++)
            if (nf < 9) {
                frac = frac * 10 + (s[i] - '0');
                scale *= 10;
            }
        nd += nf;
    }
    if (i != n || nd == 0)
        return 0;
    *v = (whole + frac / scale) * (neg ? -1 : 1);
    return 1;
}

static int temp_in(ctm__logger *lg, const char *field, const char *s, size_t n, char unit,
                   double *c)
{
    char q[CTM__LOGGER_QUOTE_SIZE];
    double v;
    if (!decimal(s, n, &v)) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a temperature", field, q);
    }
    if (unit == 'F')
        v = (v - 32.0) * 5.0 / 9.0;
    if (!(v >= CTM__LOGGER_MIN_C && v <= CTM__LOGGER_MAX_C)) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is outside %.0f..%.0f C", field, q, CTM__LOGGER_MIN_C,
                                CTM__LOGGER_MAX_C);
    }
    *c = v;
    return CTM_OK;
}

int ctm__logger_temp(ctm__logger *lg, const char *field, const char *s, size_t n, double *c)
{
    char unit = lg->user_unit != 0 ? lg->user_unit : lg->file_unit != 0 ? lg->file_unit : 'C';
    return temp_in(lg, field, s, n, unit, c);
}

int ctm__logger_celsius(ctm__logger *lg, const char *field, const char *s, size_t n, double *c)
{
    return temp_in(lg, field, s, n, 'C', c);
}

int ctm__logger_count(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t max,
                      int64_t *v)
{
    int64_t x = 0;
    int ok = digits(s, n) && n <= 18;
    for (size_t i = 0; ok && i < n; i++)
        x = x * 10 + (s[i] - '0');
    if (!ok || x > max) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a whole number up to %lld", field, q,
                                (long long)max);
    }
    *v = x;
    return CTM_OK;
}

static int num(const char *s, size_t a, size_t b, int *v)
{
    if (b <= a || b - a > 4 || !digits(s + a, b - a))
        return 0;
    int x = 0;
    for (size_t i = a; i < b; i++)
        x = x * 10 + (s[i] - '0');
    *v = x;
    return 1;
}

int ctm__logger_date(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *days)
{
    /* three numbers between two separators of one kind */
    size_t cut[2], k = 0;
    char sep = 0;
    for (size_t i = 0; i < n && k <= 2; i++)
        if (s[i] == '/' || s[i] == '.' || s[i] == '-') {
            if (sep != 0 && s[i] != sep)
                k = 3;
            sep = s[i];
            if (k < 2)
                cut[k] = i;
            k++;
        }
    int a = 0, b = 0, c = 0, y, m, d;
    int ok = k == 2 && num(s, 0, cut[0], &a) && num(s, cut[0] + 1, cut[1], &b) &&
             num(s, cut[1] + 1, n, &c);
    if (ok && cut[0] == 4) { /* YYYY-MM-DD, whatever the order */
        y = a;
        m = b;
        d = c;
        ok = n - cut[1] - 1 <= 2;
    } else if (ok) {
        ok = n - cut[1] - 1 == 4 && cut[0] <= 2 && cut[1] - cut[0] - 1 <= 2;
        y = c;
        if (ctm__logger_order(lg) == CTM__DATE_MDY) {
            m = a;
            d = b;
        } else {
            d = a;
            m = b;
        }
    }
    char q[CTM__LOGGER_QUOTE_SIZE];
    if (!ok) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a date", field, q);
    }
    if (y < 1970 || y > 2199 || m < 1 || m > 12 || d < 1 || d > ctm__days_in_month(y, m)) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a calendar date%s", field, q,
                                ctm__logger_order(lg) == CTM__DATE_YMD || cut[0] == 4
                                    ? ""
                                    : ctm__logger_order(lg) == CTM__DATE_MDY ? " (read as month/day/year)"
                                                                            : " (read as day/month/year)");
    }
    *days = ctm__days_from_civil(y, m, d);
    return CTM_OK;
}

int ctm__logger_clock(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *secs)
{
    size_t end = n;
    int pm = -1; /* -1: 24-hour */
    if (n >= 3 && s[n - 3] == ' ' && (s[n - 1] == 'M' || s[n - 1] == 'm')) {
        char h = (char)toupper((unsigned char)s[n - 2]);
        if (h == 'A' || h == 'P') {
            pm = h == 'P';
            end = n - 3;
        }
    }
    int hh = 0, mm = 0, ss = 0;
    int ok = end >= 4 && s[end - 3] == ':';
    size_t hend = ok ? end - 3 : 0;
    if (ok && end >= 7 && s[end - 3] == ':' && s[end - 6] == ':') { /* hh:mm:ss */
        hend = end - 6;
        ok = num(s, hend + 1, end - 3, &mm) && num(s, end - 2, end, &ss) && end - 3 - hend - 1 == 2;
    } else if (ok) {
        ok = num(s, hend + 1, end, &mm) && end - hend - 1 == 2;
    }
    ok = ok && hend >= 1 && hend <= 2 && num(s, 0, hend, &hh);
    if (ok && pm >= 0)
        ok = hh >= 1 && hh <= 12 && (hh = hh % 12 + (pm ? 12 : 0), 1);
    if (!ok || hh > 23 || mm > 59 || ss > 59) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a time of day", field, q);
    }
    *secs = hh * 3600 + mm * 60 + ss;
    return CTM_OK;
}

int ctm__logger_iso(ctm__logger *lg, const char *field, const char *s, size_t n, int64_t *local_s,
                    int *has_zone, int64_t *utc_us)
{
    char q[CTM__LOGGER_QUOTE_SIZE];
    *has_zone = 0;
    *local_s = *utc_us = 0;
    int y, mo, d, hh, mi, ss = 0;
    int ok = n >= 16 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
             s[13] == ':' && num(s, 0, 4, &y) && num(s, 5, 7, &mo) && num(s, 8, 10, &d) &&
             num(s, 11, 13, &hh) && num(s, 14, 16, &mi);
    size_t i = 16;
    if (ok && i < n && s[i] == ':') {
        ok = i + 3 <= n && num(s, i + 1, i + 3, &ss);
        i += 3;
        if (ok && i < n && (s[i] == '.' || s[i] == ',')) {
            size_t f = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            ok = i > f && i - f <= 9; /* a fraction of a second: readings keep whole seconds */
        }
    }
    int32_t off = 0;
    if (ok && i < n) {
        if (s[i] == 'Z' && i + 1 == n) {
            *has_zone = 1;
        } else if (s[i] == '+' || s[i] == '-') {
            int oh = 0, om = 0;
            size_t r = n - i - 1;
            ok = (r == 2 && num(s, i + 1, i + 3, &oh)) ||
                 (r == 4 && num(s, i + 1, i + 3, &oh) && num(s, i + 3, i + 5, &om)) ||
                 (r == 5 && s[i + 3] == ':' && num(s, i + 1, i + 3, &oh) &&
                  num(s, i + 4, i + 6, &om));
            ok = ok && oh <= 14 && om <= 59;
            off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
            *has_zone = 1;
        } else {
            ok = 0;
        }
    }
    if (!ok) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a date and time (YYYY-MM-DD hh:mm[:ss] with an "
                                    "optional offset)",
                                field, q);
    }
    if (y < 1970 || y > 2199 || mo < 1 || mo > 12 || d < 1 || d > ctm__days_in_month(y, mo) ||
        hh > 23 || mi > 59 || ss > 59) {
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "%s: %s is not a calendar date and time", field, q);
    }
    int64_t local = ctm__days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
    if (*has_zone)
        *utc_us = (local - off) * INT64_C(1000000);
    else
        *local_s = local;
    return CTM_OK;
}

/* ---- results ---- */

/* The instant of local_s: the user's zone, else the file's offset; the first instant after the
 * previous reading when the clocks went back. */
static int local_to_utc(ctm__logger *lg, int64_t local_s, int64_t *utc_us)
{
    if (lg->tz == NULL && !lg->has_offset)
        return ctm__logger_fail(lg, "the file gives local times without a zone; name the "
                                    "logger's zone");
    if (lg->tz == NULL) {
        *utc_us = (local_s - lg->offset_s) * INT64_C(1000000);
        return CTM_OK;
    }
    int64_t utc[2];
    int n = 0;
    if (ctm__tz_to_utc(lg->tz, local_s, utc, &n) != CTM_OK) {
        char when[40];
        ctm__tz_format_local(local_s, when);
        return ctm__logger_fail(lg, "%s does not exist in %s: the clocks went forward (a logger "
                                    "that keeps standard time all year: name its offset, such as "
                                    "+01:00)",
                                when, ctm__tz_name(lg->tz));
    }
    *utc_us = utc[0] * INT64_C(1000000);
    if (n == 2 && lg->has_last && *utc_us <= lg->last_us)
        *utc_us = utc[1] * INT64_C(1000000);
    return CTM_OK;
}

int ctm__logger_reading_utc(ctm__logger *lg, int64_t utc_us, double temp_c)
{
    if (lg->sink.reading == NULL)
        return ctm__logger_fail(lg, "readings where daily summaries belong");
    if (lg->info.days > 0)
        return ctm__logger_fail(lg, "readings in a file of daily summaries");
    if (lg->has_last && utc_us <= lg->last_us) {
        char when[40];
        ctm__format_time_seconds(utc_us, when, sizeof when);
        return ctm__logger_fail(lg, "%s is not after the previous reading (line %llu)", when,
                                (unsigned long long)lg->last_line);
    }
    ctm__logger_reading r = {utc_us, temp_c, lg->lineno};
    int rc = lg->sink.reading(lg->sink.ctx, &r);
    if (rc != CTM_OK) {
        lg->failed = 1;
        return rc;
    }
    if (lg->info.readings++ == 0)
        lg->info.first_us = utc_us;
    lg->info.last_us = utc_us;
    lg->has_last = 1;
    lg->last_us = utc_us;
    lg->last_line = lg->lineno;
    return CTM_OK;
}

int ctm__logger_reading_local(ctm__logger *lg, int64_t local_s, double temp_c)
{
    int64_t utc_us;
    int rc = local_to_utc(lg, local_s, &utc_us);
    return rc == CTM_OK ? ctm__logger_reading_utc(lg, utc_us, temp_c) : rc;
}

/* The first instant of local day `date` (midnight, or the first instant after it when the clocks
 * skip midnight). */
static int day_start(ctm__logger *lg, int64_t date, int64_t *us)
{
    int64_t local = date * 86400;
    if (lg->tz == NULL)
        return local_to_utc(lg, local, us);
    int64_t utc[2];
    int n = 0;
    for (int step = 0; step <= 4 * 3600; step += 900)
        if (ctm__tz_to_utc(lg->tz, local + step, utc, &n) == CTM_OK) {
            *us = utc[0] * INT64_C(1000000);
            return CTM_OK;
        }
    return ctm__logger_fail(lg, "the day has no start in %s", ctm__tz_name(lg->tz));
}

static int emit_day_here(ctm__logger *lg, ctm__logger_day *d, int64_t min_local,
                         int64_t max_local)
{
    if (lg->sink.day == NULL)
        return ctm__logger_fail(lg, "daily summaries where readings belong");
    if (lg->info.readings > 0)
        return ctm__logger_fail(lg, "daily summaries in a file of readings");
    if (lg->has_last && d->date <= lg->last_us) {
        char date[11];
        ctm__format_date(d->date, date);
        return ctm__logger_fail(lg, "day %s is not after the previous day (line %llu)", date,
                                (unsigned long long)lg->last_line);
    }
    if (lg->tz == NULL && !lg->has_offset)
        return ctm__logger_fail(lg, "the file gives local days without a zone; name the "
                                    "logger's zone");
    int rc = day_start(lg, d->date, &d->start_us);
    if (rc == CTM_OK)
        rc = day_start(lg, d->date + 1, &d->end_us);
    /* the times of the min and the max: after the day's start, whatever the clocks did */
    int saved = lg->has_last;
    int64_t saved_last = lg->last_us;
    lg->has_last = 1;
    lg->last_us = d->start_us - 1;
    if (rc == CTM_OK && min_local != 0)
        rc = local_to_utc(lg, min_local, &d->min_us);
    if (rc == CTM_OK && max_local != 0)
        rc = local_to_utc(lg, max_local, &d->max_us);
    lg->has_last = saved;
    lg->last_us = saved_last;
    if (rc != CTM_OK)
        return rc;
    if (d->minutes_high < 0 || d->minutes_low < 0 || d->minutes_high > 1500 ||
        d->minutes_low > 1500)
        return ctm__logger_fail(lg, "more minutes beyond an alarm limit than the day has");
    d->line = lg->lineno;
    rc = lg->sink.day(lg->sink.ctx, d);
    if (rc != CTM_OK) {
        lg->failed = 1;
        return rc;
    }
    if (lg->info.days++ == 0)
        lg->info.first_us = d->start_us;
    lg->info.last_us = d->end_us;
    lg->has_last = 1;
    lg->last_us = d->date;
    lg->last_line = lg->lineno;
    return CTM_OK;
}

int ctm__logger_emit_day(ctm__logger *lg, ctm__logger_day *d, int64_t min_local, int64_t max_local)
{
    /* a format that gathers its days and hands them over at the end (a Fridge-tag lists the
     * newest first) names each day's line: messages and the sink see that line */
    uint64_t at = lg->lineno;
    if (d->line != 0)
        lg->lineno = d->line;
    int rc = emit_day_here(lg, d, min_local, max_local);
    lg->lineno = at;
    return rc;
}

int ctm__logger_keep(ctm__logger *lg, const char *s, size_t n)
{
    ctm__logger_info *in = &lg->info;
    if (in->evidence_len + n + 2 > 64 * 1024)
        return ctm__logger_fail(lg, "more than 64 KiB of certificate and signature lines");
    if (in->evidence_len + n + 2 > lg->evidence_cap) {
        size_t cap = (in->evidence_len + n + 2) * 2;
        char *p = realloc(in->evidence, cap);
        if (p == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        in->evidence = p;
        lg->evidence_cap = cap;
    }
    memcpy(in->evidence + in->evidence_len, s, n);
    in->evidence_len += n;
    in->evidence[in->evidence_len++] = '\n';
    in->evidence[in->evidence_len] = '\0';
    return CTM_OK;
}
