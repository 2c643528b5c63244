/* tz.c - time zones (tz.h): UTC, fixed offsets, and IANA zones read from TZif files.
 *
 * A zone is one function from the instant to the offset: the offset of local time type 0 before
 * the first transition (RFC 8536 section 3.2), the offset each transition brings, and after the
 * last transition the footer's POSIX TZ rule (or, without one, the last offset).  UTC and fixed
 * offsets are zones without transitions.  Converting local time asks that function only: u is an
 * instant of the wall-clock time L when u + offset(u) == L, and offset(u) is one of the zone's
 * offsets (at most 256 types and the rule's two), so trying u = L - o for each offset o finds
 * every instant; none is a gap, two an ambiguity.
 *
 * Rules of the reader, for any bytes (a zoneinfo directory is not to be trusted either):
 *   - ctm__tz_open reads at most 1 MiB (real files are a few KiB) and only regular files, and
 *     takes only the zone names tz.h allows, so a name cannot leave the zoneinfo directory;
 *   - TZif versions 1 to 4; of version 2 and later only the 64-bit block and the footer are read,
 *     the version 1 block skipped by its counts; every length is checked against the bytes left
 *     before it is read, nothing may follow the footer (or a version 1 block);
 *   - 1 to 256 local time types, offsets within +-25 h, designation indexes within the
 *     designations, transitions strictly increasing, each naming an existing type;
 *   - leap-second records and the standard/wall and UT/local indicators are skipped: converting a
 *     logger's wall clock needs only the offsets;
 *   - the footer: at most 255 printable ASCII bytes, "std offset [dst [offset] [,start,end]]"
 *     with <quoted> names, dates Jn, n and Mm.w.d, and times of day with a sign and hours up to
 *     167 (RFC 8536 version 3); daylight saving time without dates follows the US rules, as the
 *     tz code does.  The rule's changes of a year are computed, never searched for, so no loop
 *     depends on the instant asked. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "tz.h"

#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_OFFSET (25 * 3600)
#define TZ_MAX_TYPES 256
#define TZ_MAX_FOOTER 255
/* Local times further than this from 1970 (about 34,000 years) are refused: it keeps every sum
 * below far from overflow and every date printable. */
#define TZ_MAX_LOCAL (INT64_C(1) << 40)
/* The rule is evaluated for instants within this span; beyond it, as at its edge. */
#define TZ_RULE_SPAN (INT64_C(1) << 42)

/* A day and time of a daylight saving time change in the footer. */
typedef struct rule_date {
    char kind;      /* 'J': day 1-365, February 29 never counted; 'D': day 0-365; 'M' */
    int day;        /* J, D: the day; M: the weekday, 0 (Sunday) to 6 */
    int week;       /* M: 1-5, 5 the last of the month */
    int month;      /* M: 1-12 */
    int32_t time_s; /* the local time of day of the change, -167 h to +167 h */
} rule_date;

struct ctm__tz {
    char name[256];
    size_t n;          /* transitions */
    int64_t *at;       /* their instants, strictly increasing */
    int32_t *off;      /* the offset from at[i] on */
    int32_t first_off; /* before at[0]; always when there are no transitions and no rule */
    int has_rule;      /* the footer's rule gives the offsets from at[n - 1] on */
    int has_dst;       /* the rule has daylight saving time */
    int32_t std_off, dst_off;
    rule_date start;   /* DST starts: in standard local time */
    rule_date end;     /* DST ends: in daylight saving local time */
    size_t ncand;
    int32_t cand[TZ_MAX_TYPES + 2]; /* every offset of the zone, once */
};

/* ---- messages ---- */

static int tzif_bad(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CTM_EINVAL: "zone 'NAME': not a valid TZif file: WHAT". */
static int tzif_bad(const char *name, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ctm__err(CTM_EINVAL, "zone '%.64s': not a valid TZif file: %s", name, what);
}

void ctm__tz_format_local(int64_t local_s, char out[40])
{
    int64_t days = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
    int64_t rem = local_s - days * 86400;
    char date[16];
    ctm__format_date(days, date);
    if (rem % 60 == 0)
        snprintf(out, 40, "%s %02d:%02d", date, (int)(rem / 3600), (int)(rem % 3600 / 60));
    else
        snprintf(out, 40, "%s %02d:%02d:%02d", date, (int)(rem / 3600), (int)(rem % 3600 / 60),
                 (int)(rem % 60));
}

/* ---- the zone as a function of the instant ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The year of days since 1970-01-01 (the inverse of ctm__days_from_civil). */
static int year_of(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return (int)(yoe + era * 400 + (mp >= 10));
}

static int is_leap(int y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* The day (since 1970-01-01) of the change r in year y. */
static int64_t rule_day(const rule_date *r, int y)
{
    int64_t jan1 = ctm__days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->day - 1 + (r->day >= 60 && is_leap(y));
    if (r->kind == 'D')
        return jan1 + r->day;
    int64_t first = ctm__days_from_civil(y, r->month, 1);
    int weekday = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int64_t d = first + (r->day - weekday + 7) % 7 + (int64_t)(r->week - 1) * 7;
    if (d >= first + ctm__days_in_month(y, r->month))
        d -= 7; /* week 5 of a month with four such weekdays: the last */
    return d;
}

/* The offset the footer's rule gives at u.  The changes of one kind come a year apart, so the
 * last start and the last end at or before u are among years y-2 .. y+1 (y the year of u): a
 * change of year Y happens within 8 days of year Y, as its time of day is at most 167 hours
 * and the offsets at most 25.  Whichever of the two came last is in force; at the same
 * instant (DST all year round, "0/0,J365/25"), daylight saving time. */
static int32_t rule_offset(const ctm__tz *z, int64_t u)
{
    if (!z->has_dst)
        return z->std_off;
    if (u < -TZ_RULE_SPAN)
        u = -TZ_RULE_SPAN;
    if (u > TZ_RULE_SPAN)
        u = TZ_RULE_SPAN;
    int y = year_of(floor_div(u, 86400));
    int64_t last_start = INT64_MIN, last_end = INT64_MIN;
    for (int yy = y - 2; yy <= y + 1; yy++) {
        int64_t s = rule_day(&z->start, yy) * 86400 + z->start.time_s - z->std_off;
        int64_t e = rule_day(&z->end, yy) * 86400 + z->end.time_s - z->dst_off;
        if (s <= u && s > last_start)
            last_start = s;
        if (e <= u && e > last_end)
            last_end = e;
    }
    return last_start >= last_end ? z->dst_off : z->std_off;
}

int32_t ctm__tz_offset(const ctm__tz *z, int64_t utc_s)
{
    if (z->n == 0)
        return z->has_rule ? rule_offset(z, utc_s) : z->first_off;
    if (utc_s < z->at[0])
        return z->first_off;
    if (z->has_rule && utc_s >= z->at[z->n - 1])
        return rule_offset(z, utc_s);
    size_t lo = 0, hi = z->n; /* at[lo] <= utc_s < at[hi], at[n] counting as the end of time */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

int ctm__tz_to_utc(const ctm__tz *z, int64_t local_s, int64_t utc[2], int *n)
{
    *n = 0;
    utc[0] = utc[1] = 0;
    if (local_s < -TZ_MAX_LOCAL || local_s > TZ_MAX_LOCAL)
        return ctm__err(CTM_EINVAL, "zone '%.64s': local time %lld s is too far from 1970",
                        z->name, (long long)local_s);
    int found = 0;
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < z->ncand; i++) {
        int64_t u = local_s - z->cand[i];
        if (ctm__tz_offset(z, u) != z->cand[i])
            continue;
        if (found == 0 || u < first)
            first = u;
        if (found == 0 || u > last)
            last = u;
        found++;
    }
    if (found == 0) {
        char when[40];
        ctm__tz_format_local(local_s, when);
        return ctm__err(CTM_ERULE, "%s does not exist in %.64s: the clocks went forward", when,
                        z->name);
    }
    /* a hostile file can make a wall-clock time happen three times: the first and the last */
    utc[0] = first;
    utc[1] = last;
    *n = first == last ? 1 : 2;
    return CTM_OK;
}

/* ---- the footer: a POSIX TZ rule ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* At most `digits` decimal digits (at least one) into *v; the end, or NULL. */
static const char *p_num(const char *s, int digits, int *v)
{
    int nd = 0;
    *v = 0;
    while (nd < digits && is_digit(s[nd])) {
        *v = *v * 10 + (s[nd] - '0');
        nd++;
    }
    return nd > 0 ? s + nd : NULL;
}

/* A zone abbreviation: three or more letters, or <three or more of [A-Za-z0-9+-]>. */
static const char *p_name(const char *s)
{
    const char *q = s;
    if (*s == '<') {
        for (q = s + 1; is_alpha(*q) || is_digit(*q) || *q == '+' || *q == '-'; q++) {
        }
        return *q == '>' && q - s - 1 >= 3 ? q + 1 : NULL;
    }
    while (is_alpha(*q))
        q++;
    return q - s >= 3 ? q : NULL;
}

/* [+-]h[:mm[:ss]] with hours at most max_h (24 for offsets, 167 for times of day): seconds. */
static const char *p_hms(const char *s, int max_h, int32_t *out)
{
    int sign = 1, h = 0, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    s = p_num(s, max_h > 99 ? 3 : 2, &h);
    if (s == NULL || h > max_h)
        return NULL;
    if (*s == ':') {
        s = p_num(s + 1, 2, &m);
        if (s == NULL || m > 59)
            return NULL;
        if (*s == ':') {
            s = p_num(s + 1, 2, &sec);
            if (s == NULL || sec > 59)
                return NULL;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return s;
}

/* Jn, n or Mm.w.d, then [/time] (02:00 when not given). */
static const char *p_date(const char *s, rule_date *r)
{
    memset(r, 0, sizeof *r);
    r->kind = *s == 'J' || *s == 'M' ? *s : 'D';
    if (r->kind == 'J') {
        s = p_num(s + 1, 3, &r->day);
        if (s == NULL || r->day < 1 || r->day > 365)
            return NULL;
    } else if (r->kind == 'D') {
        s = p_num(s, 3, &r->day);
        if (s == NULL || r->day > 365)
            return NULL;
    } else {
        s = p_num(s + 1, 2, &r->month);
        if (s == NULL || *s != '.' || r->month < 1 || r->month > 12)
            return NULL;
        s = p_num(s + 1, 1, &r->week);
        if (s == NULL || *s != '.' || r->week < 1 || r->week > 5)
            return NULL;
        s = p_num(s + 1, 1, &r->day);
        if (s == NULL || r->day > 6)
            return NULL;
    }
    r->time_s = 2 * 3600;
    return *s == '/' ? p_hms(s + 1, 167, &r->time_s) : s;
}

/* The rule s into z; 0 when it is not one.  POSIX offsets count west, libctm's east. */
static int parse_rule(ctm__tz *z, const char *s)
{
    int32_t v = 0;
    const char *p = p_name(s);
    if (p == NULL || (p = p_hms(p, 24, &v)) == NULL)
        return 0;
    z->std_off = -v;
    if (*p == '\0')
        return 1;
    if ((p = p_name(p)) == NULL)
        return 0;
    z->has_dst = 1;
    z->dst_off = z->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = p_hms(p, 24, &v)) == NULL)
            return 0;
        z->dst_off = -v;
    }
    if (z->dst_off > TZ_MAX_OFFSET || z->dst_off < -TZ_MAX_OFFSET)
        return 0;
    if (*p == '\0') { /* no dates: the US rules, as the tz code assumes */
        z->start = (rule_date){'M', 0, 2, 3, 2 * 3600};
        z->end = (rule_date){'M', 0, 1, 11, 2 * 3600};
        return 1;
    }
    if (*p != ',' || (p = p_date(p + 1, &z->start)) == NULL || *p != ',')
        return 0;
    p = p_date(p + 1, &z->end);
    return p != NULL && *p == '\0';
}

/* ---- TZif ---- */

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The header at text[pos]: its version (1-4) and counts. */
static int read_header(const char *name, const uint8_t *text, size_t len, size_t pos, int *version,
                       tzif_counts *c)
{
    if (len - pos < 44)
        return tzif_bad(name, "the header at byte %zu is cut short", pos);
    const uint8_t *h = text + pos;
    if (memcmp(h, "TZif", 4) != 0)
        return tzif_bad(name, "no \"TZif\" at byte %zu", pos);
    if (h[4] != 0 && (h[4] < '2' || h[4] > '4'))
        return tzif_bad(name, "version byte 0x%02x is not a version from 1 to 4", h[4]);
    *version = h[4] == 0 ? 1 : h[4] - '0';
    *c = (tzif_counts){be32(h + 20), be32(h + 24), be32(h + 28),
                       be32(h + 32), be32(h + 36), be32(h + 40)};
    return CTM_OK;
}

/* The bytes of a data block with times of ts bytes (64-bit sums: no count can overflow them). */
static uint64_t block_size(const tzif_counts *c, unsigned ts)
{
    return (uint64_t)c->time * (ts + 1) + (uint64_t)c->type * 6 + c->chars +
           (uint64_t)c->leap * (ts + 4) + c->isstd + c->isut;
}

static int add_candidate(ctm__tz *z, int32_t off)
{
    for (size_t i = 0; i < z->ncand; i++)
        if (z->cand[i] == off)
            return 0;
    z->cand[z->ncand++] = off;
    return 1;
}

/* The local time types of the block at b: their offsets into off[]. */
static int read_types(ctm__tz *z, const uint8_t *b, const tzif_counts *c, int32_t *off)
{
    for (uint32_t i = 0; i < c->type; i++) {
        const uint8_t *t = b + (size_t)i * 6;
        int64_t o = (int32_t)be32(t);
        if (o > TZ_MAX_OFFSET || o < -TZ_MAX_OFFSET)
            return tzif_bad(z->name, "local time type %u has the offset %lld s, beyond 25 hours",
                            i, (long long)o);
        if (t[4] > 1)
            return tzif_bad(z->name, "local time type %u has the DST flag %u, not 0 or 1", i,
                            t[4]);
        if (t[5] >= c->chars)
            return tzif_bad(z->name, "local time type %u names designation byte %u of %u", i,
                            t[5], c->chars);
        off[i] = (int32_t)o;
        add_candidate(z, off[i]);
    }
    return CTM_OK;
}

/* The data block at b (counts c, times of ts bytes, its size checked). */
static int read_block(ctm__tz *z, const uint8_t *b, const tzif_counts *c, unsigned ts)
{
    if (c->type == 0 || c->type > TZ_MAX_TYPES)
        return tzif_bad(z->name, "%u local time types, not 1 to %d", c->type, TZ_MAX_TYPES);
    if (c->chars == 0)
        return tzif_bad(z->name, "no time zone designations");
    if ((c->isstd != 0 && c->isstd != c->type) || (c->isut != 0 && c->isut != c->type))
        return tzif_bad(z->name, "%u standard/wall and %u UT/local indicators for %u types",
                        c->isstd, c->isut, c->type);
    const uint8_t *idx = b + (size_t)c->time * ts;
    int32_t type_off[TZ_MAX_TYPES];
    int rc = read_types(z, idx + c->time, c, type_off);
    if (rc != CTM_OK)
        return rc;
    z->first_off = type_off[0];
    if (c->time == 0)
        return CTM_OK;
    z->at = malloc((size_t)c->time * sizeof *z->at);
    z->off = malloc((size_t)c->time * sizeof *z->off);
    if (z->at == NULL || z->off == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < c->time; i++) {
        const uint8_t *t = b + (size_t)i * ts;
        int64_t at = ts == 8 ? be64(t) : (int32_t)be32(t);
        if (i > 0 && at <= z->at[i - 1])
            return tzif_bad(z->name, "transition %u (%lld) is not after the one before (%lld)", i,
                            (long long)at, (long long)z->at[i - 1]);
        if (idx[i] >= c->type)
            return tzif_bad(z->name, "transition %u names local time type %u of %u", i, idx[i],
                            c->type);
        z->at[i] = at;
        z->off[i] = type_off[idx[i]];
        z->n = i + 1;
    }
    return CTM_OK;
}

/* The footer of `len` bytes at f (between its newlines). */
static int read_footer(ctm__tz *z, const uint8_t *f, size_t len)
{
    char rule[TZ_MAX_FOOTER + 1];
    if (len == 0)
        return CTM_OK; /* no rule: the last transition's offset stays */
    for (size_t i = 0; i < len; i++)
        if (f[i] < 0x20 || f[i] > 0x7e)
            return tzif_bad(z->name, "byte %zu of the footer is 0x%02x, not printable ASCII", i,
                            f[i]);
    memcpy(rule, f, len);
    rule[len] = '\0';
    if (!parse_rule(z, rule))
        return tzif_bad(z->name, "the footer '%s' is not a POSIX TZ rule", rule);
    z->has_rule = 1;
    if (z->std_off > TZ_MAX_OFFSET || z->std_off < -TZ_MAX_OFFSET)
        return tzif_bad(z->name, "the footer '%s' has an offset beyond 25 hours", rule);
    add_candidate(z, z->std_off);
    if (z->has_dst)
        add_candidate(z, z->dst_off);
    return CTM_OK;
}

/* The whole text: header, blocks, footer, nothing after. */
static int read_tzif(ctm__tz *z, const uint8_t *text, size_t len)
{
    int version = 0, v2 = 0;
    tzif_counts c, c2;
    int rc = read_header(z->name, text, len, 0, &version, &c);
    if (rc != CTM_OK)
        return rc;
    uint64_t size = block_size(&c, 4);
    if (size > len - 44)
        return tzif_bad(z->name, "the version 1 data (%llu bytes) is cut short at %zu bytes",
                        (unsigned long long)size, len - 44);
    size_t pos = 44 + (size_t)size;
    if (version == 1) {
        if (pos != len)
            return tzif_bad(z->name, "%zu bytes after the data", len - pos);
        return read_block(z, text + 44, &c, 4);
    }
    rc = read_header(z->name, text, len, pos, &v2, &c2);
    if (rc != CTM_OK)
        return rc;
    if (v2 != version)
        return tzif_bad(z->name, "the second header says version %d, the first %d", v2, version);
    pos += 44;
    size = block_size(&c2, 8);
    if (size > len - pos)
        return tzif_bad(z->name, "the 64-bit data (%llu bytes) is cut short at %zu bytes",
                        (unsigned long long)size, len - pos);
    rc = read_block(z, text + pos, &c2, 8);
    if (rc != CTM_OK)
        return rc;
    pos += (size_t)size;
    if (pos == len || text[pos] != '\n')
        return tzif_bad(z->name, "no footer after the 64-bit data");
    const uint8_t *f = text + pos + 1;
    const uint8_t *nl = memchr(f, '\n', len - pos - 1);
    if (nl == NULL)
        return tzif_bad(z->name, "the footer has no closing newline");
    if ((size_t)(nl - f) > TZ_MAX_FOOTER)
        return tzif_bad(z->name, "the footer is longer than %d bytes", TZ_MAX_FOOTER);
    if (nl + 1 != text + len)
        return tzif_bad(z->name, "%zu bytes after the footer", (size_t)(text + len - nl - 1));
    return read_footer(z, f, (size_t)(nl - f));
}

static ctm__tz *tz_new(const char *name)
{
    ctm__tz *z = calloc(1, sizeof *z);
    if (z != NULL)
        snprintf(z->name, sizeof z->name, "%s", name != NULL ? name : "");
    return z;
}

int ctm__tz_parse(ctm__tz **out, const char *name, const uint8_t *text, size_t len)
{
    *out = NULL;
    ctm__tz *z = tz_new(name);
    if (z == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    int rc = text == NULL ? tzif_bad(z->name, "no text") : read_tzif(z, text, len);
    if (rc != CTM_OK) {
        ctm__tz_free(z);
        return rc;
    }
    *out = z;
    return CTM_OK;
}

/* ---- names ---- */

static int two(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return 0;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* "+01:00", "-0530", "+01": the offset in seconds; 0 when s is none of them. */
static int fixed_offset(const char *s, int32_t *off)
{
    size_t n = strlen(s);
    int h = 0, m = 0;
    if (n < 3 || (s[0] != '+' && s[0] != '-') || !two(s + 1, &h))
        return 0;
    if (n == 6 && s[3] == ':' && two(s + 4, &m)) {
    } else if (n == 5 && two(s + 3, &m)) {
    } else if (n != 3) {
        return 0;
    }
    if (h > 14 || m > 59)
        return 0;
    *off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
    return 1;
}

/* An IANA zone name as tz.h allows it: parts of [A-Za-z0-9._+-] between single slashes, none
 * "." or "..", none empty (so no leading or trailing slash). */
static int zone_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || !ctm__alnum_or(s, n, "._+/-"))
        return 0;
    for (const char *part = s;;) {
        const char *slash = strchr(part, '/');
        size_t plen = slash != NULL ? (size_t)(slash - part) : strlen(part);
        if (plen == 0 || (plen == 1 && part[0] == '.') ||
            (plen == 2 && part[0] == '.' && part[1] == '.'))
            return 0;
        if (slash == NULL)
            return 1;
        part = slash + 1;
    }
}

/* Up to TZ_MAX_FILE bytes of the regular file path into a malloc'd *text. */
static int read_zone_file(const char *name, const char *path, uint8_t **text, size_t *len)
{
    *text = NULL;
    /* O_NONBLOCK: a FIFO planted in the directory must not hang the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        return ctm__err(CTM_ENOTFOUND, "zone '%s': no such zone (no file %.512s)", name, path);
    if (fd < 0)
        return ctm__err(CTM_EIO, "zone '%s': %.512s: %s", name, path, strerror(errno));
    struct stat st;
    int rc = CTM_OK;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = ctm__err(CTM_ENOTFOUND, "zone '%s': no such zone (%.512s is not a file)", name,
                      path);
        goto out;
    }
    buf = malloc(TZ_MAX_FILE + 1);
    if (buf == NULL) {
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto out;
    }
    while (got <= TZ_MAX_FILE) {
        ssize_t r = read(fd, buf + got, TZ_MAX_FILE + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = ctm__err(CTM_EIO, "zone '%s': %.512s: %s", name, path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > TZ_MAX_FILE)
        rc = ctm__err(CTM_EINVAL, "zone '%s': %.512s is larger than 1 MiB: not a zoneinfo file",
                      name, path);
out:
    close(fd);
    if (rc != CTM_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = got;
    return CTM_OK;
}

/* The zone name's file under $TZDIR or /usr/share/zoneinfo. */
static int open_zone_file(ctm__tz **out, const char *name)
{
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return ctm__err(CTM_ENOTFOUND, "zone '%s': no such zone (the path under TZDIR is too "
                                       "long)",
                        name);
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = read_zone_file(name, path, &text, &len);
    if (rc != CTM_OK)
        return rc;
    rc = ctm__tz_parse(out, name, text, len);
    free(text);
    return rc;
}

int ctm__tz_open(ctm__tz **out, const char *name)
{
    *out = NULL;
    int32_t off = 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return ctm__err(CTM_EINVAL, "zone: give UTC, an offset such as +01:00, or a zone name");
    if ((name[0] == '+' || name[0] == '-') && !fixed_offset(name, &off))
        return ctm__err(CTM_EINVAL, "zone '%.16s': an offset is +hh:mm, +hhmm or +hh, at most 14 "
                                    "hours",
                        name);
    if (strcmp(name, "UTC") != 0 && strcmp(name, "Z") != 0 && !fixed_offset(name, &off)) {
        if (!zone_name_ok(name))
            return ctm__err(CTM_EINVAL, "zone '%.64s': not a zone name (letters, digits and "
                                        "._+- in parts between single slashes, no '.' or '..' "
                                        "part, not starting with '/')",
                            name);
        return open_zone_file(out, name);
    }
    ctm__tz *z = tz_new(name);
    if (z == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    z->first_off = off;
    add_candidate(z, off);
    *out = z;
    return CTM_OK;
}

void ctm__tz_free(ctm__tz *z)
{
    if (z == NULL)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

const char *ctm__tz_name(const ctm__tz *z)
{
    return z->name;
}
