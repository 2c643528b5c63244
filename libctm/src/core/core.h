/* core.h - what every layer of libctm shares: errors, validation, time and dates (internal). */
#ifndef CTM_CORE_H
#define CTM_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ctm.h"

#define CTM_MAX_NAME 64
#define CTM_MAX_TEXT 200
#define CTM_MAX_REASON 2000
#define CTM_MAX_NOTE 10000
#define CTM_MIN_PASSWORD 8
#define CTM_MAX_PASSWORD 1024
#define CTM_LOCKOUT_FAILURES 5

/* ---- error.c ---- */
/* Set the thread's last error (printf-style message) and return code, for `return ctm__err(...)`. */
int ctm__err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctm__clear_error(void);

/* ---- util.c ---- */
int64_t ctm__now_us(void);
/* "2026-11-23T06:01:02.123456Z" into buf (>= 32 bytes). */
void ctm__format_time(int64_t us, char *buf, size_t len);
/* "2026-11-23T06:01:02Z" into buf (>= 32 bytes): the second the time falls in, as listings show
 * times. */
void ctm__format_time_seconds(int64_t us, char *buf, size_t len);
void ctm__hex(const uint8_t *p, size_t n, char *out); /* out holds 2n+1 */
/* Validation with messages naming the field: each returns CTM_OK or CTM_EINVAL with ctm__err set. */
int ctm__check_name(const char *field, const char *s);               /* [A-Za-z0-9._@-]{1,64} */
int ctm__check_text(const char *field, const char *s, size_t max);   /* 1..max bytes of printable UTF-8 */
int ctm__check_password(const char *field, const char *s);
int ctm__check_role(const char *role);
int ctm__utf8_valid(const uint8_t *p, size_t n);
char *ctm__strdup(const char *s);
/* Dates as days since 1970-01-01 (UTC); "YYYY-MM-DD" at the edges. */
int ctm__parse_date(const char *field, const char *s, int64_t *days);
void ctm__format_date(int64_t days, char out[11]);
int ctm__days_in_month(int y, int m);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian; month 1-12). */
int64_t ctm__days_from_civil(int y, int m, int d);
int64_t ctm__today(void);
/* A day in microseconds, and the UTC day (since 1970-01-01) an instant falls in, rounding down. */
#define CTM__DAY_US INT64_C(86400000000)
int64_t ctm__utc_day(int64_t us);
/* A code: ctm__check_name's characters, at most max long. */
int ctm__check_code(const char *field, const char *s, size_t max);
/* Non-zero when each of the n bytes of s is an ASCII letter, a digit or one of extra (no NUL):
 * the character rule of codes, numbers and names. */
int ctm__alnum_or(const char *s, size_t n, const char *extra);
/* "YYYY-MM-DD[THH:MM[:SS[.f{1,6}]]][Z|+HH:MM|-HH:MM]" ('T' or a space) as UTC microseconds: the
 * first instant it names, or with upper the last (a date names its whole day).  CTM_EINVAL names
 * the field. */
int ctm__parse_instant(const char *field, const char *s, int upper, int64_t *us);
/* Degrees Celsius to milli-degrees, refusing what no storage can be. */
int ctm__temp_mc(const char *field, double c, int64_t *mc);

#endif
