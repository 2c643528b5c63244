/* logger_csv.c - the generic logger CSV: one reading per line, "timestamp,temperature".
 *
 *   - The separator is the first line's: a tab if it has one, else ';' if it has one, else ','.
 *     A field may be enclosed in double quotes (then it may hold the separator: "4,5" with ','),
 *     without quotes inside.  Blanks around a field are ignored.  Blank lines are ignored.
 *   - Line 1 is a header when its second field is not a temperature.  A header's second field
 *     may name the unit: "F", "degF", "Fahrenheit" or a degree sign before F (in UTF-8 or a
 *     Windows code page) for Fahrenheit, the same with C for Celsius.
 *   - Every other line: exactly two fields, an ISO 8601 date and time (logger_format.h's
 *     ctm__logger_iso: with an offset or Z it is that instant, else local time in the named zone)
 *     and a temperature with a decimal point or comma.
 */
#include <ctype.h>
#include <string.h>

#include "core.h"
#include "logger_format.h"

typedef struct csv_state {
    char sep;
    int lines; /* non-blank lines seen */
} csv_state;

typedef struct span {
    const char *s;
    size_t n;
} span;

static void trim(span *f)
{
    while (f->n > 0 && (f->s[0] == ' ' || f->s[0] == '\t' || f->s[0] == '\r'))
        f->s++, f->n--;
    while (f->n > 0 && (f->s[f->n - 1] == ' ' || f->s[f->n - 1] == '\t' || f->s[f->n - 1] == '\r'))
        f->n--;
}

/* Up to max fields of the line; the count of fields (max + 1 when there are more), or -1 for a
 * broken quote. */
static int split(const char *s, size_t n, char sep, span *f, int max)
{
    int k = 0;
    size_t i = 0;
    for (;;) {
        size_t a = i;
        while (a < n && (s[a] == ' ' || (s[a] == '\t' && sep != '\t')))
            a++;
        span cur;
        if (a < n && s[a] == '"') {
            size_t b = a + 1;
            while (b < n && s[b] != '"')
                b++;
            if (b == n)
                return -1;
            cur.s = s + a + 1;
            cur.n = b - a - 1;
            i = b + 1;
            while (i < n && (s[i] == ' ' || (s[i] == '\t' && sep != '\t')))
                i++;
            if (i < n && s[i] != sep)
                return -1;
        } else {
            size_t b = a;
            while (b < n && s[b] != sep) {
                if (s[b] == '"')
                    return -1;
                b++;
            }
            cur.s = s + a;
            cur.n = b - a;
            i = b;
        }
        trim(&cur);
        if (k < max)
            f[k] = cur;
        k++;
        if (k > max)
            return k;
        if (i >= n)
            return k;
        i++; /* the separator */
    }
}

static int ieq(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    if (n != w)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != word[i])
            return 0;
    return 1;
}

/* 'C', 'F' or 0: the unit a header field names. */
static char header_unit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t rest = n - i;
        char c = 0;
        if (rest >= 3 && memcmp(s + i, "\xc2\xb0", 2) == 0) /* a degree sign in UTF-8 */
            c = (char)toupper((unsigned char)s[i + 2]);
        else if (rest >= 2 && (unsigned char)s[i] == 0xb0) /* ... in a Windows code page */
            c = (char)toupper((unsigned char)s[i + 1]);
        if (c == 'C' || c == 'F')
            return c;
    }
    /* a word: (F), [F], degF, Fahrenheit, and the same for C */
    size_t i = 0;
    while (i < n) {
        while (i < n && !isalpha((unsigned char)s[i]))
            i++;
        size_t a = i;
        while (i < n && isalpha((unsigned char)s[i]))
            i++;
        const char *w = s + a;
        size_t wn = i - a;
        if (ieq(w, wn, "f") || ieq(w, wn, "degf") || ieq(w, wn, "fahrenheit"))
            return 'F';
        if (ieq(w, wn, "c") || ieq(w, wn, "degc") || ieq(w, wn, "celsius"))
            return 'C';
    }
    return 0;
}

static int looks_like_temperature(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] != '.' && s[i] != ',')
            return 0;
    }
    return digits > 0;
}

static int csv_sniff(const char *s, size_t n)
{
    (void)s;
    (void)n;
    return 1; /* anything may be a CSV: the fallback */
}

static int csv_line(ctm__logger *lg, void *state, const char *s, size_t n)
{
    csv_state *st = state;
    span all = {s, n};
    trim(&all);
    if (all.n == 0)
        return CTM_OK;
    if (st->lines++ == 0)
        st->sep = memchr(s, '\t', n) != NULL ? '\t' : memchr(s, ';', n) != NULL ? ';' : ',';
    span f[2];
    int k = split(s, n, st->sep, f, 2);
    if (k < 0)
        return ctm__logger_fail(lg, "a quote that does not close its field");
    if (st->lines == 1 && k >= 2 && !looks_like_temperature(f[1].s, f[1].n)) {
        char unit = header_unit(f[1].s, f[1].n);
        return unit != 0 ? ctm__logger_set_unit(lg, unit) : CTM_OK;
    }
    if (k != 2)
        return ctm__logger_fail(lg, "%d field%s where a time and a temperature belong (separator "
                                    "'%s')",
                                k > 2 ? 3 : k, k == 1 ? "" : k > 2 ? "s or more" : "s",
                                st->sep == '\t' ? "\\t" : st->sep == ';' ? ";" : ",");
    int64_t local = 0, utc = 0;
    int zoned = 0;
    double c = 0;
    int rc = ctm__logger_iso(lg, "time", f[0].s, f[0].n, &local, &zoned, &utc);
    if (rc == CTM_OK)
        rc = ctm__logger_temp(lg, "temperature", f[1].s, f[1].n, &c);
    if (rc != CTM_OK)
        return rc;
    return zoned ? ctm__logger_reading_utc(lg, utc, c) : ctm__logger_reading_local(lg, local, c);
}

const ctm__logger_format ctm__logger_csv = {
    .name = "csv",
    .state_size = sizeof(csv_state),
    .sniff = csv_sniff,
    .line = csv_line,
};
