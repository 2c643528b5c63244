/* logger_csv.c - the generic logger CSV: one reading per line, "timestamp,temperature".
 *
 *   - Separator, quotes and blanks as logger_fields.h says (the first line's separator: a tab,
 *     else ';', else ',').  Blank lines are ignored.
 *   - Line 1 is a header when its second field is not a temperature.  A header's second field
 *     may name the unit: "F", "degF", "Fahrenheit" or a degree sign before F (in UTF-8 or a
 *     Windows code page) for Fahrenheit, the same with C for Celsius; "F1", a fridge's name, is
 *     no unit.
 *   - Every other line: exactly two fields, an ISO 8601 date and time (logger_format.h's
 *     ctm__logger_iso: with an offset or Z it is that instant, else local time in the named zone)
 *     and a temperature with a decimal point or comma.
 */

#include "core.h"
#include "logger_fields.h"
#include "logger_format.h"

typedef struct csv_state {
    char sep;
    int lines; /* non-blank lines seen */
} csv_state;

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
    ctm__logger_field all = {s, n};
    ctm__logger_trim(&all);
    if (all.n == 0)
        return CTM_OK;
    if (st->lines++ == 0)
        st->sep = ctm__logger_separator(s, n);
    ctm__logger_field f[2];
    int k = ctm__logger_split(s, n, st->sep, f, 2);
    if (k < 0)
        return ctm__logger_fail(lg, "a quote that does not close its field");
    if (st->lines == 1 && k >= 2 && !looks_like_temperature(f[1].s, f[1].n)) {
        char unit = ctm__logger_unit_named(f[1].s, f[1].n);
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
