/* logger_berlinger.c - Berlinger text reports: a Q-tag's (readings) and a Fridge-tag's (days).
 *
 * Both are one tree of "Key: value" lines, CRLF or LF, the first line "Device: <model>":
 *   - A line's depth is its count of leading blanks.  A line may go one level deeper than the
 *     one before only when that one opens a subtree ("Key:" alone); deeper than 7 is refused, as
 *     is a line that is not "Key: value" (a key: letters, digits, blanks and _ - . / ( )).
 *   - Some lines hold several pairs: "Min T: 0.9, TS Min T: 2022-11-08 12:49".  A ", " ends a
 *     value only where a key and its ':' follow; a "User String" value is never cut; at most 16
 *     pairs to a line.
 *   - Conf: Serial; Zone, the offset of the device's local times in hours ("0.00", "+1.00",
 *     "5.75": minutes as hundredths of an hour), used when the user names no zone; Logging
 *     Interval in minutes; Temp unit (C or F, else Celsius); MKT Energy in kJ/mol; Alarm: entries
 *     N with "Type" (Q-tag: 1 cold single, 2 hot single, 3 cold cumulative, 4 hot cumulative, 0
 *     off; other types are not limits this reader knows and are ignored; a Fridge-tag states no
 *     type: alarm 0 is its lower limit, 1 its upper), "T AL" (the limit) and "t AL" (minutes
 *     beyond it before the alarm).  The file's limits are the strictest on each side (the lowest
 *     upper limit, the highest lower one; at equal limits the fewest minutes).  A type 1-4 alarm
 *     without T AL and t AL is refused.
 *   - Res (Q-tag): MKT, the device's mean kinetic temperature (with MKT Energy); TS Stop, when
 *     the logger stopped.  Other keys anywhere are ignored: firmware versions vary.
 *   - Data: a header row "<TAB>yyyy-MM-dd hh:mm<TAB>T<TAB>..." then rows "<TAB>time<TAB>T" with
 *     an optional flag "x" (out of limits) or nothing: each is a reading in the device's local
 *     time.  "--.-" is no measurement (a sensor not yet settled or not connected): the row is
 *     skipped.  Marker: rows (tab-separated too) are ignored.  A tab row anywhere else is
 *     refused.
 *   - Hist (Fridge-tag): day records N with Date, Min T and Max T (each with "TS Min T"/"TS Max
 *     T", a time of that day), Avrg T and per alarm "t Acc", the minutes beyond that alarm's
 *     limit that day.  A day's minutes_high/minutes_low are those of the alarm that gave the
 *     file's upper/lower limit (not a sum: two alarms on one side count the same minutes).  The
 *     device lists the newest day first; days are gathered (at most 1000) and handed over in
 *     date order at the end, each with its own line.
 *   - A report with Data is read for its readings: a Fridge-tag 2 L also keeps Hist days, which
 *     summarise the same readings and are not handed over then.  A report with neither is
 *     refused.
 *   - Cert: and its lines, and the Sig lines ("Sig Cert:", "Sig:") are kept verbatim as evidence.
 *   - A report is whole when it ends in its signature: one without "Sig:" is refused as cut
 *     short, as is a Data section without readings, and (Q-tag) readings that end more than one
 *     logging interval before TS Stop or after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "logger_format.h"
#include "tz.h"

#define MAX_DEPTH 8
#define KEY_MAX 48
#define MAX_ALARMS 8
#define MAX_DAYS 1000
#define MAX_PAIRS 16 /* on one line (a Q-tag's longest has 6) */

enum section { SEC_HEAD, SEC_CONF, SEC_RES, SEC_HIST, SEC_DATA, SEC_MARKER, SEC_CERT, SEC_OTHER };

typedef struct alarm {
    int seen;
    int type;      /* -1: none stated (a Fridge-tag) */
    char limit[24]; /* T AL as written: converted when Conf ends, as the unit may come after it */
    size_t limit_n;
    int has_minutes;
    int64_t minutes;
    double limit_c;
    uint64_t line; /* its "N:" line */
} alarm;

typedef struct day_rec {
    int64_t date;
    int has_date, has_min, has_max, has_avg;
    double min_c, max_c, avg_c;
    int64_t min_clock, max_clock; /* seconds into the day; -1: not stated */
    int64_t acc[MAX_ALARMS];
    uint64_t line;
} day_rec;

typedef struct bg_state {
    uint64_t lines;
    enum section sec;
    int depth;  /* the previous tree line's */
    int opener; /* ... and whether it could open a subtree */
    char path[MAX_DEPTH][KEY_MAX + 1];
    alarm alarms[MAX_ALARMS];
    int conf_alarm; /* the Conf alarm being read; -1 none */
    int alarms_done;
    int high_alarm, low_alarm; /* the alarms that gave the limits; -1 none */
    /* Data */
    int has_data, data_header;
    uint64_t data_rows;
    int64_t last_local;
    int has_stop;
    int64_t stop_local;
    /* Hist */
    int has_hist, in_day, day_alarm;
    day_rec cur;
    day_rec *days;
    size_t ndays, cap;
    int has_sig;
} bg_state;

typedef struct pair {
    const char *k, *v;
    size_t kn, vn;
} pair;

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '_' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The length of a key and its ':' at s (the ':' ends the text or is followed by a blank or a
 * comma), or 0. */
static size_t key_at(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]))
        return 0;
    size_t i = 0;
    while (i < n && i < KEY_MAX && is_key_char(s[i]))
        i++;
    if (i >= n || s[i] != ':')
        return 0;
    if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != ',')
        return 0;
    return i + 1;
}

static int eq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* The pairs of a line (after its indent): their count, or -1 when it is not "Key: value". */
static int split_pairs(const char *s, size_t n, pair *p, int max)
{
    int k = 0;
    size_t i = 0;
    while (k < max) {
        size_t kl = key_at(s + i, n - i);
        if (kl == 0)
            return -1;
        p[k].k = s + i;
        p[k].kn = kl - 1;
        while (p[k].kn > 0 && p[k].k[p[k].kn - 1] == ' ')
            p[k].kn--;
        i += kl;
        if (i < n && s[i] == ' ')
            i++;
        size_t v = i, end = n; /* "TS E:, T M: 24.5": an empty value ends at once */
        int whole = p[k].kn >= 11 && memcmp(p[k].k, "User String", 11) == 0;
        for (size_t j = i; !whole && j + 1 < n; j++)
            if (s[j] == ',' && s[j + 1] == ' ' && key_at(s + j + 2, n - j - 2) > 0) {
                end = j;
                break;
            }
        p[k].v = s + v;
        p[k].vn = end - v;
        while (p[k].vn > 0 && (p[k].v[p[k].vn - 1] == ' ' || p[k].v[p[k].vn - 1] == '\r'))
            p[k].vn--;
        k++;
        if (end == n)
            return k;
        i = end + 2;
    }
    return -1; /* more pairs than any line of a report holds */
}

static int not_a_line(ctm__logger *lg, const char *s, size_t n)
{
    char q[CTM__LOGGER_QUOTE_SIZE];
    ctm__logger_quote(q, s, n);
    return ctm__logger_fail(lg, "%s is not a 'Key: value' line of a Berlinger report", q);
}

/* A whole number of at most `digits` digits (an index: "1:" under Alarm:), or -1. */
static int index_of(const char *s, size_t n, size_t digits)
{
    if (n == 0 || n > digits)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int copy_text(ctm__logger *lg, const char *field, const pair *p, char *out, size_t size)
{
    if (p->vn >= size) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, p->v, p->vn);
        return ctm__logger_fail(lg, "%s: %s is longer than %zu bytes", field, q, size - 1);
    }
    memcpy(out, p->v, p->vn);
    out[p->vn] = '\0';
    return CTM_OK;
}

/* "0.00", "+1.00", "-3.5": hours east of UTC, to seconds. */
static int zone(ctm__logger *lg, const pair *p)
{
    const char *s = p->v;
    size_t n = p->vn, i = 0;
    int sign = 1;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        sign = s[i++] == '-' ? -1 : 1;
    int h = 0, frac = 0, nh = 0, nf = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && nh < 3; i++, nh++)
        h = h * 10 + (s[i] - '0');
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9' && nf < 2; i++, nf++)
            frac = frac * 10 + (s[i] - '0');
    if (nf == 1)
        frac *= 10;
    if (nh == 0 || i != n) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "Zone: %s is not an offset in hours (such as +1.00)", q);
    }
    return ctm__logger_set_offset(lg, sign * (h * 3600 + frac * 36));
}

/* MKT Energy: kJ/mol, 1..1000 with at most three decimals. */
static int energy(ctm__logger *lg, const pair *p, double *kj)
{
    double v = 0, scale = 1;
    size_t i = 0, nd = 0, nf = 0;
    for (; i < p->vn && p->v[i] >= '0' && p->v[i] <= '9' && nd < 4; i++, nd++)
        v = v * 10 + (p->v[i] - '0');
    if (i < p->vn && p->v[i] == '.')
        for (i++; i < p->vn && p->v[i] >= '0' && p->v[i] <= '9' && nf < 3; i++, nf++)
            v += (p->v[i] - '0') / (scale *= 10);
    if (nd == 0 || i != p->vn || v < 1 || v > 1000) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, p->v, p->vn);
        return ctm__logger_fail(lg, "MKT Energy: %s is not an activation energy in kJ/mol", q);
    }
    *kj = v;
    return CTM_OK;
}

static int no_measurement(const char *s, size_t n)
{
    return eq(s, n, "--.-");
}

/* ---- Conf ---- */

static int conf_alarm_pair(ctm__logger *lg, bg_state *st, const pair *p)
{
    alarm *a = &st->alarms[st->conf_alarm];
    if (eq(p->k, p->kn, "Type")) {
        int64_t t = 0;
        int rc = ctm__logger_count(lg, "Alarm Type", p->v, p->vn, 99, &t);
        if (rc == CTM_OK)
            a->type = (int)t;
        return rc;
    }
    if (eq(p->k, p->kn, "T AL")) {
        if (p->vn >= sizeof a->limit) {
            char q[CTM__LOGGER_QUOTE_SIZE];
            ctm__logger_quote(q, p->v, p->vn);
            return ctm__logger_fail(lg, "T AL: %s is not a temperature", q);
        }
        memcpy(a->limit, p->v, p->vn);
        a->limit_n = p->vn;
        return CTM_OK;
    }
    if (eq(p->k, p->kn, "t AL")) {
        a->has_minutes = 1;
        return ctm__logger_count(lg, "t AL", p->v, p->vn, 100000, &a->minutes);
    }
    return CTM_OK;
}

static int conf_pair(ctm__logger *lg, bg_state *st, int depth, const pair *p)
{
    ctm__logger_info *in = ctm__logger_info_mut(lg);
    if (depth == 1) {
        st->conf_alarm = -1;
        if (eq(p->k, p->kn, "Serial"))
            return copy_text(lg, "Serial", p, in->serial, sizeof in->serial);
        if (eq(p->k, p->kn, "Zone"))
            return zone(lg, p);
        if (eq(p->k, p->kn, "Logging Interval")) {
            int64_t m = 0;
            int rc = ctm__logger_count(lg, "Logging Interval", p->v, p->vn, 100000, &m);
            if (rc == CTM_OK)
                in->interval_s = m * 60;
            return rc;
        }
        if (eq(p->k, p->kn, "Temp unit")) {
            if (p->vn != 1 || (p->v[0] != 'C' && p->v[0] != 'F')) {
                char q[CTM__LOGGER_QUOTE_SIZE];
                ctm__logger_quote(q, p->v, p->vn);
                return ctm__logger_fail(lg, "Temp unit: %s is not C or F", q);
            }
            return ctm__logger_set_unit(lg, p->v[0]);
        }
        if (eq(p->k, p->kn, "MKT Energy"))
            return energy(lg, p, &in->device_energy_kj);
        return CTM_OK;
    }
    if (depth == 2 && strcmp(st->path[1], "Alarm") == 0) {
        int i = index_of(p->k, p->kn, 2);
        if (i < 0 || i >= MAX_ALARMS) {
            char q[CTM__LOGGER_QUOTE_SIZE];
            ctm__logger_quote(q, p->k, p->kn);
            return ctm__logger_fail(lg, "Alarm: %s is not an alarm number 0..%d", q,
                                    MAX_ALARMS - 1);
        }
        st->conf_alarm = i;
        st->alarms[i].seen = 1;
        st->alarms[i].line = ctm__logger_line(lg);
        return CTM_OK;
    }
    if (depth == 3 && strcmp(st->path[1], "Alarm") == 0 && st->conf_alarm >= 0)
        return conf_alarm_pair(lg, st, p);
    return CTM_OK;
}

/* 'H' hot, 'C' cold, 0 neither (off, or a type this reader does not know). */
static char alarm_side(const alarm *a, int index)
{
    if (a->type < 0)
        return index == 0 ? 'C' : index == 1 ? 'H' : 0;
    return a->type == 1 || a->type == 3 ? 'C' : a->type == 2 || a->type == 4 ? 'H' : 0;
}

/* The limits of the alarms, once Conf has ended (its unit is known then). */
static int finish_alarms(ctm__logger *lg, bg_state *st)
{
    if (st->alarms_done)
        return CTM_OK;
    st->alarms_done = 1;
    ctm__logger_info *in = ctm__logger_info_mut(lg);
    for (int i = 0; i < MAX_ALARMS; i++) {
        alarm *a = &st->alarms[i];
        char side = a->seen ? alarm_side(a, i) : 0;
        if (side == 0)
            continue;
        if (a->limit_n == 0 || !a->has_minutes)
            return ctm__logger_fail(lg, "Conf: alarm %d (line %llu) lacks its T AL or t AL", i,
                                    (unsigned long long)a->line);
        int rc = ctm__logger_temp(lg, "T AL", a->limit, a->limit_n, &a->limit_c);
        if (rc != CTM_OK)
            return rc;
        int *best = side == 'H' ? &st->high_alarm : &st->low_alarm;
        const alarm *b = *best >= 0 ? &st->alarms[*best] : NULL;
        int stricter = b == NULL ||
                       (side == 'H' ? a->limit_c < b->limit_c : a->limit_c > b->limit_c) ||
                       (a->limit_c == b->limit_c && a->minutes < b->minutes);
        if (stricter)
            *best = i;
    }
    if (st->high_alarm >= 0) {
        in->has_high = 1;
        in->high_c = st->alarms[st->high_alarm].limit_c;
        in->high_minutes = st->alarms[st->high_alarm].minutes;
    }
    if (st->low_alarm >= 0) {
        in->has_low = 1;
        in->low_c = st->alarms[st->low_alarm].limit_c;
        in->low_minutes = st->alarms[st->low_alarm].minutes;
    }
    return CTM_OK;
}

/* ---- Res ---- */

static int res_pair(ctm__logger *lg, bg_state *st, int depth, const pair *p)
{
    ctm__logger_info *in = ctm__logger_info_mut(lg);
    if (depth != 1)
        return CTM_OK;
    if (eq(p->k, p->kn, "MKT") && p->vn > 0) {
        in->has_device_mkt = 1;
        return ctm__logger_temp(lg, "MKT", p->v, p->vn, &in->device_mkt_c);
    }
    if (eq(p->k, p->kn, "TS Stop") && p->vn > 0) {
        int zoned = 0;
        int64_t utc = 0;
        if (p->vn != 16) {
            char q[CTM__LOGGER_QUOTE_SIZE];
            ctm__logger_quote(q, p->v, p->vn);
            return ctm__logger_fail(lg, "TS Stop: %s is not yyyy-MM-dd hh:mm", q);
        }
        int rc = ctm__logger_iso(lg, "TS Stop", p->v, p->vn, &st->stop_local, &zoned, &utc);
        st->has_stop = rc == CTM_OK;
        return rc;
    }
    return CTM_OK;
}

/* ---- Hist ---- */

static int close_day(ctm__logger *lg, bg_state *st)
{
    if (!st->in_day)
        return CTM_OK;
    st->in_day = 0;
    if (!st->cur.has_date)
        return ctm__logger_fail(lg, "Hist: the day record of line %llu states no Date",
                                (unsigned long long)st->cur.line);
    if (st->ndays == MAX_DAYS)
        return ctm__logger_fail(lg, "Hist: more than %d days", MAX_DAYS);
    if (st->ndays == st->cap) {
        size_t cap = st->cap == 0 ? 64 : st->cap * 2;
        day_rec *p = realloc(st->days, cap * sizeof *p);
        if (p == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        st->days = p;
        st->cap = cap;
    }
    st->days[st->ndays++] = st->cur;
    return CTM_OK;
}

static int hist_temp(ctm__logger *lg, const char *field, const pair *p, int *has, double *c)
{
    if (no_measurement(p->v, p->vn))
        return CTM_OK;
    *has = 1;
    return ctm__logger_temp(lg, field, p->v, p->vn, c);
}

static int hist_day_pair(ctm__logger *lg, bg_state *st, const pair *p)
{
    day_rec *d = &st->cur;
    if (eq(p->k, p->kn, "Date")) {
        d->has_date = 1;
        return ctm__logger_date(lg, "Date", p->v, p->vn, &d->date);
    }
    if (eq(p->k, p->kn, "Min T"))
        return hist_temp(lg, "Min T", p, &d->has_min, &d->min_c);
    if (eq(p->k, p->kn, "Max T"))
        return hist_temp(lg, "Max T", p, &d->has_max, &d->max_c);
    if (eq(p->k, p->kn, "Avrg T"))
        return hist_temp(lg, "Avrg T", p, &d->has_avg, &d->avg_c);
    if (eq(p->k, p->kn, "TS Min T") && p->vn > 0)
        return ctm__logger_clock(lg, "TS Min T", p->v, p->vn, &d->min_clock);
    if (eq(p->k, p->kn, "TS Max T") && p->vn > 0)
        return ctm__logger_clock(lg, "TS Max T", p->v, p->vn, &d->max_clock);
    return CTM_OK;
}

static int hist_pair(ctm__logger *lg, bg_state *st, int depth, const pair *p)
{
    if (depth == 1) {
        int rc = close_day(lg, st);
        if (rc != CTM_OK || index_of(p->k, p->kn, 4) < 0)
            return rc; /* TS Actv, TS Report Creation */
        memset(&st->cur, 0, sizeof st->cur);
        st->cur.min_clock = st->cur.max_clock = -1;
        st->cur.line = ctm__logger_line(lg);
        st->in_day = 1;
        st->day_alarm = -1;
        return CTM_OK;
    }
    if (!st->in_day)
        return CTM_OK;
    if (depth == 2) {
        st->day_alarm = -1;
        return hist_day_pair(lg, st, p);
    }
    if (depth == 3 && strcmp(st->path[2], "Alarm") == 0) {
        int i = index_of(p->k, p->kn, 2);
        st->day_alarm = i >= 0 && i < MAX_ALARMS ? i : -1;
        return CTM_OK;
    }
    if (depth == 4 && st->day_alarm >= 0 && strcmp(st->path[2], "Alarm") == 0 &&
        eq(p->k, p->kn, "t Acc"))
        return ctm__logger_count(lg, "t Acc", p->v, p->vn, 1500, &st->cur.acc[st->day_alarm]);
    return CTM_OK;
}

static int day_order(const void *a, const void *b)
{
    const day_rec *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* The days in date order, each with its own line (the device lists the newest first). */
static int emit_days(ctm__logger *lg, bg_state *st)
{
    if (st->ndays == 0)
        return CTM_OK; /* the reader refuses a file with nothing (and qsort takes no NULL) */
    qsort(st->days, st->ndays, sizeof *st->days, day_order);
    for (size_t i = 0; i < st->ndays; i++) {
        const day_rec *r = &st->days[i];
        ctm__logger_day d;
        memset(&d, 0, sizeof d);
        d.date = r->date;
        d.has_min = r->has_min;
        d.has_max = r->has_max;
        d.has_avg = r->has_avg;
        d.min_c = r->min_c;
        d.max_c = r->max_c;
        d.avg_c = r->avg_c;
        d.minutes_high = st->high_alarm >= 0 ? r->acc[st->high_alarm] : 0;
        d.minutes_low = st->low_alarm >= 0 ? r->acc[st->low_alarm] : 0;
        d.line = r->line;
        int64_t min_local = r->has_min && r->min_clock >= 0 ? r->date * 86400 + r->min_clock : 0;
        int64_t max_local = r->has_max && r->max_clock >= 0 ? r->date * 86400 + r->max_clock : 0;
        int rc = ctm__logger_emit_day(lg, &d, min_local, max_local);
        if (rc != CTM_OK)
            return rc;
    }
    return CTM_OK;
}

/* ---- Data ---- */

static int data_row(ctm__logger *lg, bg_state *st, const char *s, size_t n)
{
    const char *f[4];
    size_t fn[4], k = 0;
    while (n > 0 && s[n - 1] == '\t')
        n--; /* "...<TAB>4.4<TAB>": an empty flag */
    for (size_t i = 1, a = 1; i <= n && k < 4; i++)
        if (i == n || s[i] == '\t') {
            f[k] = s + a;
            fn[k++] = i - a;
            a = i + 1;
        }
    char q[CTM__LOGGER_QUOTE_SIZE];
    if (!st->data_header) {
        if (k < 2 || !eq(f[0], fn[0], "yyyy-MM-dd hh:mm") || !eq(f[1], fn[1], "T")) {
            ctm__logger_quote(q, s + 1, n > 0 ? n - 1 : 0);
            return ctm__logger_fail(lg, "Data: the header %s is not yyyy-MM-dd hh:mm<TAB>T "
                                        "(a layout this reader does not know)",
                                    q);
        }
        st->data_header = 1;
        return CTM_OK;
    }
    if (k < 2 || k > 3 || (k == 3 && !eq(f[2], fn[2], "x"))) {
        ctm__logger_quote(q, s + 1, n > 0 ? n - 1 : 0);
        return ctm__logger_fail(lg, "Data: %s is not a row time<TAB>T[<TAB>x]", q);
    }
    st->data_rows++;
    int64_t local = 0, utc = 0;
    int zoned = 0;
    if (fn[0] != 16) {
        ctm__logger_quote(q, f[0], fn[0]);
        return ctm__logger_fail(lg, "time: %s is not yyyy-MM-dd hh:mm", q);
    }
    int rc = ctm__logger_iso(lg, "time", f[0], fn[0], &local, &zoned, &utc);
    if (rc != CTM_OK || no_measurement(f[1], fn[1]))
        return rc;
    double c;
    rc = ctm__logger_temp(lg, "T", f[1], fn[1], &c);
    if (rc == CTM_OK)
        rc = ctm__logger_reading_local(lg, local, c);
    if (rc == CTM_OK)
        st->last_local = local;
    return rc;
}

static int table_row(ctm__logger *lg, bg_state *st, const char *s, size_t n)
{
    if (st->sec != SEC_DATA && st->sec != SEC_MARKER) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "a Data row %s outside the Data: section", q);
    }
    /* a row is one level below "Data:" */
    st->depth = 1;
    st->opener = 0;
    return st->sec == SEC_DATA ? data_row(lg, st, s, n) : CTM_OK;
}

/* ---- the tree ---- */

static int enter_section(ctm__logger *lg, bg_state *st, const pair *p, int opens)
{
    enum section prev = st->sec;
    int rc = CTM_OK;
    if (prev == SEC_HIST)
        rc = close_day(lg, st);
    if (rc == CTM_OK && prev == SEC_CONF)
        rc = finish_alarms(lg, st);
    if (rc != CTM_OK)
        return rc;
    st->sec = SEC_OTHER;
    if (opens && eq(p->k, p->kn, "Conf"))
        st->sec = SEC_CONF;
    else if (opens && eq(p->k, p->kn, "Res"))
        st->sec = SEC_RES;
    else if (opens && eq(p->k, p->kn, "Marker"))
        st->sec = SEC_MARKER;
    else if (eq(p->k, p->kn, "Cert"))
        st->sec = SEC_CERT;
    else if (opens && (eq(p->k, p->kn, "Hist") || eq(p->k, p->kn, "Data"))) {
        int hist = p->k[0] == 'H';
        int *has = hist ? &st->has_hist : &st->has_data;
        if (*has)
            return ctm__logger_fail(lg, "a second %s: section", hist ? "Hist" : "Data");
        *has = 1;
        st->sec = hist ? SEC_HIST : SEC_DATA;
    }
    return CTM_OK;
}

static int tree_line(ctm__logger *lg, bg_state *st, const char *s, size_t n)
{
    size_t depth = 0;
    while (depth < n && s[depth] == ' ')
        depth++;
    pair p[MAX_PAIRS];
    int k = split_pairs(s + depth, n - depth, p, MAX_PAIRS);
    if (k < 0)
        return not_a_line(lg, s, n);
    if (depth >= MAX_DEPTH || (int)depth > st->depth + 1 ||
        ((int)depth == st->depth + 1 && !st->opener))
        return ctm__logger_fail(lg, "%.*s: indented %zu, deeper than the line before allows "
                                    "(the report's tree is broken)",
                                (int)p[0].kn, p[0].k, depth);
    if (st->sec == SEC_DATA && depth > 0)
        return ctm__logger_fail(lg, "Data: '%.*s' is not a row time<TAB>T", (int)p[0].kn,
                                p[0].k);
    int opens = k == 1 && p[0].vn == 0;
    st->depth = (int)depth;
    st->opener = opens;
    memcpy(st->path[depth], p[0].k, p[0].kn);
    st->path[depth][p[0].kn] = '\0';
    int rc = CTM_OK;
    if (depth == 0) {
        rc = enter_section(lg, st, &p[0], opens);
        if (rc == CTM_OK && p[0].kn >= 3 && memcmp(p[0].k, "Sig", 3) == 0) {
            st->has_sig |= eq(p[0].k, p[0].kn, "Sig");
            rc = ctm__logger_keep(lg, s, n);
        }
        if (rc == CTM_OK && st->sec == SEC_CERT)
            rc = ctm__logger_keep(lg, s, n);
        return rc;
    }
    if (st->sec == SEC_CERT)
        return ctm__logger_keep(lg, s, n);
    for (int i = 0; rc == CTM_OK && i < k; i++) {
        if (st->sec == SEC_CONF)
            rc = conf_pair(lg, st, (int)depth, &p[i]);
        else if (st->sec == SEC_RES)
            rc = res_pair(lg, st, (int)depth, &p[i]);
        else if (st->sec == SEC_HIST)
            rc = hist_pair(lg, st, (int)depth, &p[i]);
    }
    return rc;
}

static int first_line(ctm__logger *lg, const char *s, size_t n)
{
    pair p[2];
    if (n < 7 || memcmp(s, "Device:", 7) != 0 || split_pairs(s, n, p, 1) != 1) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, s, n);
        return ctm__logger_fail(lg, "a Berlinger report starts with 'Device: <model>', not %s", q);
    }
    ctm__logger_info *in = ctm__logger_info_mut(lg);
    return copy_text(lg, "Device", &p[0], in->model, sizeof in->model);
}

static int bg_sniff(const char *s, size_t n)
{
    return n >= 7 && memcmp(s, "Device:", 7) == 0 ? 2 : 0;
}

static int bg_line(ctm__logger *lg, void *state, const char *s, size_t n)
{
    bg_state *st = state;
    if (st->lines++ == 0) {
        st->conf_alarm = st->high_alarm = st->low_alarm = -1;
        for (int i = 0; i < MAX_ALARMS; i++)
            st->alarms[i].type = -1;
        st->sec = SEC_HEAD;
        return first_line(lg, s, n);
    }
    size_t blank = 0;
    while (blank < n && (s[blank] == ' ' || s[blank] == '\r'))
        blank++;
    if (blank == n)
        return CTM_OK;
    if (s[0] == '\t')
        return table_row(lg, st, s, n);
    return tree_line(lg, st, s, n);
}

/* What a whole report has: its Data readings up to TS Stop, and its signature. */
static int check_whole(ctm__logger *lg, bg_state *st)
{
    const ctm__logger_info *in = ctm__logger_info_mut(lg);
    if (!st->has_data && !st->has_hist)
        return ctm__logger_fail(lg, "the report has neither a Data: nor a Hist: section");
    if (st->has_data && st->data_rows == 0)
        return ctm__logger_fail(lg, "Data: no readings: the report is cut short");
    if (st->has_data && st->has_stop && in->interval_s > 0 && in->readings > 0 &&
        (st->last_local > st->stop_local || st->last_local <= st->stop_local - in->interval_s)) {
        char last[40], stop[40];
        ctm__tz_format_local(st->last_local, last);
        ctm__tz_format_local(st->stop_local, stop);
        return ctm__logger_fail(lg, "Data: the readings end at %s, not in the last logging "
                                    "interval before TS Stop %s: the report is cut short",
                                last, stop);
    }
    return CTM_OK;
}

static int bg_finish(ctm__logger *lg, void *state)
{
    bg_state *st = state;
    if (!st->has_sig) /* first: whatever else is missing, it is missing because of the cut */
        return ctm__logger_fail(lg, "the report ends before its signature (Sig:): it is cut "
                                    "short");
    int rc = st->sec == SEC_HIST ? close_day(lg, st) : CTM_OK;
    if (rc == CTM_OK)
        rc = finish_alarms(lg, st);
    if (rc == CTM_OK)
        rc = check_whole(lg, st);
    if (rc == CTM_OK && !st->has_data)
        rc = emit_days(lg, st);
    return rc;
}

static void bg_free(void *state)
{
    bg_state *st = state;
    free(st->days);
}

const ctm__logger_format ctm__logger_berlinger = {
    .name = "berlinger",
    .state_size = sizeof(bg_state),
    .sniff = bg_sniff,
    .line = bg_line,
    .finish = bg_finish,
    .free = bg_free,
};
