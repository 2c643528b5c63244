/* util.c - time, hex and the validation of names and texts shared by every module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

int64_t ctm__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ctm__format_time(int64_t us, char *buf, size_t len)
{
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

void ctm__format_time_seconds(int64_t us, char *buf, size_t len)
{
    int64_t secs = us / 1000000;
    if (us % 1000000 < 0)
        secs -= 1;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void ctm__hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

char *ctm__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

int ctm__utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        uint32_t cp;
        size_t len;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            cp = c & 0x1f;
            len = 2;
        } else if ((c & 0xf0) == 0xe0) {
            cp = c & 0x0f;
            len = 3;
        } else if ((c & 0xf8) == 0xf0) {
            cp = c & 0x07;
            len = 4;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += len;
    }
    return 1;
}

int ctm__check_name(const char *field, const char *s)
{
    if (s == NULL)
        return ctm__err(CTM_EINVAL, "%s: missing", field);
    size_t n = strlen(s);
    if (n == 0 || n > CTM_MAX_NAME)
        return ctm__err(CTM_EINVAL, "%s: must be 1 to %d characters, got %zu", field, CTM_MAX_NAME,
                        n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return ctm__err(CTM_EINVAL,
                            "%s: character %zu (0x%02x) is not allowed; use letters, digits and . _ - @",
                            field, i + 1, c);
    }
    return CTM_OK;
}

int ctm__check_text(const char *field, const char *s, size_t max)
{
    if (s == NULL)
        return ctm__err(CTM_EINVAL, "%s: missing", field);
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return ctm__err(CTM_EINVAL, "%s: must be 1 to %zu bytes, got %zu", field, max, n);
    if (!ctm__utf8_valid((const uint8_t *)s, n))
        return ctm__err(CTM_EINVAL, "%s: not valid UTF-8", field);
    /* Control characters as docs/audit-format.md defines them (C0, DEL and C1; C1 is 0xC2
     * 0x80-0x9F in UTF-8), newline and tab excepted in free text. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return ctm__err(CTM_EINVAL, "%s: control character 0x%02x at byte %zu", field, c,
                            i + 1);
        if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return ctm__err(CTM_EINVAL, "%s: control character U+%04X at byte %zu", field,
                            (unsigned char)s[i + 1], i + 1);
    }
    /* Leading or trailing blanks make two records look the same on paper. */
    if (s[0] == ' ' || s[n - 1] == ' ')
        return ctm__err(CTM_EINVAL, "%s: must not begin or end with a space", field);
    return CTM_OK;
}

int ctm__check_password(const char *field, const char *s)
{
    if (s == NULL)
        return ctm__err(CTM_EINVAL, "%s: missing", field);
    size_t n = strlen(s);
    if (n < CTM_MIN_PASSWORD || n > CTM_MAX_PASSWORD)
        return ctm__err(CTM_EINVAL, "%s: must be %d to %d bytes long", field, CTM_MIN_PASSWORD,
                        CTM_MAX_PASSWORD);
    return CTM_OK;
}

static const char *const roles[] = {"admin", "pharmacist", "technician", "investigator", "monitor",
                                    NULL};

int ctm__check_role(const char *role)
{
    if (role == NULL)
        return ctm__err(CTM_EINVAL, "role: missing");
    for (int i = 0; roles[i] != NULL; i++)
        if (strcmp(role, roles[i]) == 0)
            return CTM_OK;
    return ctm__err(CTM_EINVAL,
                    "role: '%.64s' is not one of admin, pharmacist, technician, investigator, monitor",
                    role);
}

const char *ctm_version(void)
{
    return CTM_VERSION_STRING;
}

int ctm_version_number(void)
{
    return CTM_VERSION_NUMBER;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t ctm__days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ctm__days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

int ctm__parse_date(const char *field, const char *s, int64_t *days)
{
    int y, m, d;
    char extra;
    if (s == NULL)
        return ctm__err(CTM_EINVAL, "%s: missing", field);
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || s[4] != '-' ||
        s[7] != '-')
        return ctm__err(CTM_EINVAL, "%s: '%.16s' is not a date as YYYY-MM-DD", field, s);
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return ctm__err(CTM_EINVAL, "%s: '%.16s' is not a date as YYYY-MM-DD", field, s);
    if (y < 1970 || y > 2999 || m < 1 || m > 12 || d < 1 || d > ctm__days_in_month(y, m))
        return ctm__err(CTM_EINVAL, "%s: %s is not a calendar date", field, s);
    *days = ctm__days_from_civil(y, m, d);
    return CTM_OK;
}

void ctm__format_date(int64_t days, char out[11])
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

int64_t ctm__today(void)
{
    int64_t us = ctm__now_us();
    return us / 1000000 / 86400;
}

int64_t ctm__utc_day(int64_t us)
{
    return us >= 0 ? us / CTM__DAY_US : -((-us + CTM__DAY_US - 1) / CTM__DAY_US);
}

int ctm__check_code(const char *field, const char *s, size_t max)
{
    int rc = ctm__check_name(field, s);
    if (rc == CTM_OK && strlen(s) > max)
        return ctm__err(CTM_EINVAL, "%s: must be 1 to %zu characters", field, max);
    return rc;
}

int ctm__temp_mc(const char *field, double c, int64_t *mc)
{
    if (!(c >= -273.15 && c <= 1000.0))
        return ctm__err(CTM_EINVAL, "%s: %g degrees C is not a storage temperature", field, c);
    *mc = (int64_t)(c * 1000.0 + (c >= 0 ? 0.5 : -0.5));
    return CTM_OK;
}

/* ---- instants: ISO 8601 UTC at the precision written ---- */

static int instant_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * "YYYY-MM-DD[THH:MM[:SS[.f{1,6}]]][Z|+HH:MM|-HH:MM]" ('T' or a space) as UTC microseconds: the
 * first instant it names, or with upper the last (a date names its whole day, "T12:00" the whole
 * minute), so that a bound written at any precision includes what it names.
 */
int ctm__parse_instant(const char *field, const char *s, int upper, int64_t *us)
{
    char date[11];
    int64_t days;
    int hh = 0, mm = 0, ss = 0, frac = 0, fdigits = 0, off = 0;
    int64_t span;
    size_t len = strlen(s);
    if (len < 10)
        return ctm__err(CTM_EINVAL, "%s: '%.40s' is not an ISO 8601 date or time (YYYY-MM-DD or "
                                    "YYYY-MM-DDTHH:MM:SSZ)", field, s);
    memcpy(date, s, 10);
    date[10] = '\0';
    int rc = ctm__parse_date(field, date, &days);
    if (rc != CTM_OK)
        return rc;
    const char *p = s + 10;
    span = 86400LL * 1000000;
    if (*p == 'T' || *p == ' ') {
        if (instant_digits(p + 1, 2, &hh) != 0 || p[3] != ':' || instant_digits(p + 4, 2, &mm) != 0)
            goto bad;
        p += 6;
        span = 60LL * 1000000;
        if (*p == ':') {
            if (instant_digits(p + 1, 2, &ss) != 0)
                goto bad;
            p += 3;
            span = 1000000;
            if (*p == '.') {
                p++;
                while (p[fdigits] >= '0' && p[fdigits] <= '9' && fdigits < 7)
                    fdigits++;
                if (fdigits < 1 || fdigits > 6 || instant_digits(p, fdigits, &frac) != 0)
                    goto bad;
                p += fdigits;
                for (int i = fdigits; i < 6; i++)
                    frac *= 10;
                span = 1;
                for (int i = fdigits; i < 6; i++)
                    span *= 10;
            }
        }
        if (hh > 23 || mm > 59 || ss > 59)
            return ctm__err(CTM_EINVAL, "%s: '%.40s' is not a time of day", field, s);
    }
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && len - (size_t)(p - s) == 6) {
        int oh, om;
        if (instant_digits(p + 1, 2, &oh) != 0 || p[3] != ':' || instant_digits(p + 4, 2, &om) != 0 || oh > 23 ||
            om > 59)
            goto bad;
        off = (*p == '+' ? 1 : -1) * (oh * 60 + om);
        p += 6;
    }
    if (*p != '\0')
        goto bad;
    *us = ((days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)off * 60) * 1000000) + frac +
          (upper ? span - 1 : 0);
    return CTM_OK;
bad:
    return ctm__err(CTM_EINVAL, "%s: '%.40s' is not an ISO 8601 date or time (YYYY-MM-DD or "
                                "YYYY-MM-DDTHH:MM:SSZ)", field, s);
}

int ctm__alnum_or(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) &&
            (c == '\0' || strchr(extra, c) == NULL))
            return 0;
    }
    return 1;
}
