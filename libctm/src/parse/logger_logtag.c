/* logger_logtag.c - a LogTag Analyzer export: a header of "key,value" lines saying what the
 * logger is, then a column header row, then one reading per row.
 *
 *   Serial #,1000123456
 *   Product Name,TRIX-8
 *   Reading interval,00:05:00
 *   Date format,DD/MM/YYYY
 *   No.,Date,Time,Temperature (°C),Alert
 *   1,01/05/2024,10:00:00,4.5,
 *
 * The Analyzer writes dates, times, numbers and separators as its user's locale and options
 * say, so the rules take each of them as one of a few known shapes and refuse the rest:
 *   - Quotes and blanks as logger_fields.h says.  The separator of a header line is its own
 *     (a tab if it has one, else ';' if it has one, else ','), so a title line without one does
 *     not decide; the column header row's, chosen the same way, is every reading's.  Blank
 *     lines, and lines of empty fields only, are ignored.  In a file separated by ',' a decimal
 *     comma must be quoted ("4,5"): unquoted, it splits the cell, and the row is refused when it
 *     then has more fields than the column header row.
 *   - The header: every line before the column header row.  Its first field is a key (any case,
 *     a trailing ':' ignored; "Key: value" in one field is read too), its second the value.
 *     The keys read (the table `keys` below):
 *       Serial #, Serial Number, Serial No, Serial    -> info->serial (at most 64 bytes)
 *       Product Name, Product, Product ID, Model, ... -> info->model (the first one stated)
 *       Reading interval, Logging interval, Interval  -> info->interval_s: "hh:mm:ss", or a
 *                                                        number and unit ("5 Minutes", "1 hour
 *                                                        30 min", "30 s"), 1 s to 24 h
 *       Temperature unit, Unit                        -> the file's unit: a degree sign before
 *                                                        C or F, C, F, Celsius, Fahrenheit
 *       Date format, Date order                       -> the file's date order: the first day,
 *                                                        month and year of a pattern
 *                                                        ("DD/MM/YYYY", "M/d/yyyy h:mm tt",
 *                                                        "yyyy-MM-dd", "Day/Month/Year") or
 *                                                        DMY, MDY, YMD
 *     Any other key (User ID, start and end times, alarms, a time zone...) and any other line
 *     (a title) is passed over.  A second, different serial number or interval is refused (two
 *     loggers in one file); a value this format cannot read is refused, not guessed.
 *   - The column header row: the first line with a temperature column (a title starting with
 *     "Temp": "Temperature", "Temp (°F)"; the first such) and a date column ("Date", or a date
 *     and time column: "Date/Time", "Date Time", "DateTime", "Date & Time", "Timestamp").  A
 *     "Time" column holds the time of day; without one, the date column holds the date, a blank
 *     and the time.  A title may go on after a blank or '(' or '[': a unit after the temperature
 *     ("(°C)", as for the Temperature unit key), a date pattern after the date ("Date
 *     (DD/MM/YYYY)", as for the Date format key; a file states one order only).  Other columns
 *     (an index, alerts, markers, humidity) are not read; at most 64 columns.  A line that looks
 *     like a reading before the column header row (a date first, or a number and a date) is
 *     refused: the row is missing.
 *   - Every line after it is a reading: the date (ctm__logger_date, in the order in force),
 *     the time of day (ctm__logger_clock: 24-hour, or 12-hour with AM/PM), the temperature
 *     (ctm__logger_temp: a decimal point or comma, the file's unit).  A date and time column
 *     may also hold ISO 8601 (ctm__logger_iso, with or without an offset).  A row needs the
 *     columns the header row named and may not have more non-empty fields than it has titles.
 *   - Date order: the user's (opts.order), else the header's, else none: a date that puts the
 *     day or the month first (03/04/2024) is then refused, never guessed, whatever its
 *     numbers; a date that starts with the year (2024-04-03) needs no order.
 *   - A row whose temperature cell is empty or only dashes holds no reading (the logger took
 *     none: it was paused, or a gap): its date and time are checked, and the row is passed over
 *     (info->readings does not count it).  Any other text there is refused.
 *   - The times are local, without an offset (the Analyzer shows them in the zone its options
 *     choose: the PC's, the download's, the configuration's or UTC): they are converted with
 *     the zone the user names (ctm__logger_reading_local).  A zone in the header is not read.
 *
 * Sniff: certain (2) when the first line's first field is a serial key, "Product Name" or
 * "Product ID", or starts with "LogTag"; never otherwise.
 */
#include <ctype.h>
#include <string.h>

#include "core.h"
#include "logger_fields.h"
#include "logger_format.h"

#define MAX_COLUMNS 64

typedef struct logtag_state {
    char sep;        /* the column header row's */
    int has_columns; /* the column header row came */
    int ncols;       /* its titles */
    int col_date, col_time, col_temp; /* col_time -1: the date column holds the time too */
    int need;        /* the fields a reading needs */
    int has_serial, has_model, has_interval;
    enum ctm__date_order order; /* the header's; CTM__DATE_AS_FILE: it stated none */
} logtag_state;

/* ---- the header's keys ---- */

enum key_kind { KEY_SERIAL, KEY_MODEL, KEY_INTERVAL, KEY_UNIT, KEY_ORDER };

static const struct {
    const char *name; /* lower case */
    enum key_kind kind;
} keys[] = {
    {"serial #", KEY_SERIAL}, {"serial#", KEY_SERIAL}, {"serial number", KEY_SERIAL},
    {"serial no", KEY_SERIAL}, {"serial no.", KEY_SERIAL}, {"serial", KEY_SERIAL},
    /* the product identifier is LogTag's name of the device type (TRIX-8) */
    {"product name", KEY_MODEL}, {"product", KEY_MODEL}, {"product id", KEY_MODEL},
    {"product type", KEY_MODEL}, {"model", KEY_MODEL},
    {"reading interval", KEY_INTERVAL}, {"logging interval", KEY_INTERVAL},
    {"log interval", KEY_INTERVAL}, {"recording interval", KEY_INTERVAL},
    {"sample interval", KEY_INTERVAL}, {"interval", KEY_INTERVAL},
    {"temperature unit", KEY_UNIT}, {"temperature units", KEY_UNIT}, {"unit", KEY_UNIT},
    {"units", KEY_UNIT},
    {"date format", KEY_ORDER}, {"date order", KEY_ORDER},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static int lookup_key(ctm__logger_field k, enum key_kind *kind)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (ctm__logger_ieq(k.s, k.n, keys[i].name)) {
            *kind = keys[i].kind;
            return 1;
        }
    return 0;
}

/* The key of a header line's first field, without a trailing ':'; when the field is
 * "Key: value", *value gets the value. */
static ctm__logger_field key_of(ctm__logger_field f, ctm__logger_field *value, int *has_value)
{
    const char *colon = memchr(f.s, ':', f.n);
    ctm__logger_field k = f;
    *has_value = 0;
    if (colon != NULL) {
        k.n = (size_t)(colon - f.s);
        if (colon + 1 < f.s + f.n) {
            value->s = colon + 1;
            value->n = f.n - k.n - 1;
            ctm__logger_trim(value);
            *has_value = 1;
        }
    }
    ctm__logger_trim(&k);
    return k;
}

static int starts_with(ctm__logger_field f, const char *word)
{
    size_t w = strlen(word);
    return f.n >= w && ctm__logger_ieq(f.s, w, word);
}

static int logtag_sniff(const char *s, size_t n)
{
    ctm__logger_field f[1], value;
    if (ctm__logger_split(s, n, ctm__logger_separator(s, n), f, 1) < 1)
        return 0;
    int has_value;
    ctm__logger_field k = key_of(f[0], &value, &has_value);
    enum key_kind kind;
    if ((lookup_key(k, &kind) && kind == KEY_SERIAL) || ctm__logger_ieq(k.s, k.n, "product name") ||
        ctm__logger_ieq(k.s, k.n, "product id"))
        return 2;
    return starts_with(f[0], "logtag") ? 2 : 0;
}

/* ---- values of the header ---- */

/* One of s, sec, second(s) and the like: its length in seconds, or 0. */
static int64_t unit_seconds(const char *w, size_t n)
{
    static const struct {
        const char *name;
        int64_t s;
    } units[] = {
        {"s", 1},         {"sec", 1},      {"secs", 1},  {"second", 1},  {"seconds", 1},
        {"m", 60},        {"min", 60},     {"mins", 60}, {"minute", 60}, {"minutes", 60},
        {"h", 3600},      {"hr", 3600},    {"hrs", 3600}, {"hour", 3600}, {"hours", 3600},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ctm__logger_ieq(w, n, units[i].name))
            return units[i].s;
    return 0;
}

/* "hh:mm:ss", or numbers each followed by a unit; 1 s to 24 h. */
static int parse_interval(const char *s, size_t n, int64_t *out)
{
    int64_t total = 0;
    size_t i = 0;
    if (memchr(s, ':', n) != NULL) {
        int64_t part[3] = {0, 0, 0};
        int k = 0;
        while (k < 3) {
            size_t a = i;
            for (; i < n && isdigit((unsigned char)s[i]) && i - a < 2; i++)
                part[k] = part[k] * 10 + (s[i] - '0');
            if (i == a || (k > 0 && i - a != 2))
                return 0;
            k++;
            if (k < 3 && (i >= n || s[i++] != ':'))
                return 0;
        }
        if (i != n || part[1] > 59 || part[2] > 59)
            return 0;
        total = part[0] * 3600 + part[1] * 60 + part[2];
    } else {
        int terms = 0;
        while (i < n) {
            size_t a = i;
            int64_t v = 0;
            for (; i < n && isdigit((unsigned char)s[i]); i++)
                if (i - a < 6)
                    v = v * 10 + (s[i] - '0');
                else
                    return 0;
            if (i == a)
                return 0;
            while (i < n && s[i] == ' ')
                i++;
            size_t w = i;
            while (i < n && isalpha((unsigned char)s[i]))
                i++;
            int64_t unit = unit_seconds(s + w, i - w);
            if (unit == 0)
                return 0;
            total += v * unit;
            terms++;
            while (i < n && (s[i] == ' ' || s[i] == ','))
                i++;
        }
        if (terms == 0)
            return 0;
    }
    if (total < 1 || total > 86400)
        return 0;
    *out = total;
    return 1;
}

/* The order of the first day, month and year of a pattern: letters ("DD/MM/YYYY", "M/d/yyyy"),
 * words ("Day/Month/Year") or "DMY"; CTM__DATE_AS_FILE when they are not one of the three
 * orders. */
static enum ctm__date_order parse_order(const char *s, size_t n)
{
    static const struct {
        const char *word;
        char c;
    } words[] = {{"day", 'd'}, {"month", 'm'}, {"year", 'y'}};
    char seen[4] = {0};
    int k = 0;
    char prev = 0;
    for (size_t i = 0; i < n && k < 3; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        for (size_t w = 0; w < 3; w++) {
            size_t len = strlen(words[w].word);
            if (n - i >= len && ctm__logger_ieq(s + i, len, words[w].word)) {
                c = words[w].c;
                i += len - 1;
                break;
            }
        }
        if ((c == 'd' || c == 'm' || c == 'y') && c != prev)
            seen[k++] = c;
        prev = c;
    }
    return strcmp(seen, "dmy") == 0   ? CTM__DATE_DMY
           : strcmp(seen, "mdy") == 0 ? CTM__DATE_MDY
           : strcmp(seen, "ymd") == 0 ? CTM__DATE_YMD
                                      : CTM__DATE_AS_FILE;
}

/* The date order the file states (a key, or the date column's title): once, or again the same. */
static int file_order(ctm__logger *lg, logtag_state *st, enum ctm__date_order order,
                      const char *what)
{
    static const char *const names[] = {"", "YMD", "DMY", "MDY"};
    if (st->order != CTM__DATE_AS_FILE && st->order != order)
        return ctm__logger_fail(lg, "%s: %s, where the header said %s before", what, names[order],
                                names[st->order]);
    st->order = order;
    ctm__logger_set_order(lg, order);
    return CTM_OK;
}

static int header_text(ctm__logger *lg, ctm__logger_field k, ctm__logger_field v, char *out,
                       int *has)
{
    if (v.n > 64) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, v.s, v.n);
        return ctm__logger_fail(lg, "%.*s: %s is longer than 64 bytes", (int)k.n, k.s, q);
    }
    memcpy(out, v.s, v.n);
    out[v.n] = '\0';
    *has = 1;
    return CTM_OK;
}

static int header_value(ctm__logger *lg, logtag_state *st, enum key_kind kind,
                        ctm__logger_field k, ctm__logger_field v)
{
    ctm__logger_info *info = ctm__logger_info_mut(lg);
    char q[CTM__LOGGER_QUOTE_SIZE];
    ctm__logger_quote(q, v.s, v.n);
    int key_n = (int)k.n;
    switch (kind) {
    case KEY_SERIAL:
        if (st->has_serial && (strlen(info->serial) != v.n || memcmp(info->serial, v.s, v.n) != 0))
            return ctm__logger_fail(lg, "%.*s: %s is a second serial number", key_n, k.s, q);
        return header_text(lg, k, v, info->serial, &st->has_serial);
    case KEY_MODEL:
        return st->has_model ? CTM_OK : header_text(lg, k, v, info->model, &st->has_model);
    case KEY_INTERVAL: {
        int64_t secs = 0;
        if (!parse_interval(v.s, v.n, &secs))
            return ctm__logger_fail(lg, "%.*s: %s is not an interval (hh:mm:ss, or a number of "
                                        "seconds, minutes or hours up to 24 hours)",
                                    key_n, k.s, q);
        if (st->has_interval && info->interval_s != secs)
            return ctm__logger_fail(lg, "%.*s: %s is a second reading interval", key_n, k.s, q);
        info->interval_s = secs;
        st->has_interval = 1;
        return CTM_OK;
    }
    case KEY_UNIT: {
        char unit = ctm__logger_unit_named(v.s, v.n);
        if (unit == 0)
            return ctm__logger_fail(lg, "%.*s: %s names neither Celsius nor Fahrenheit", key_n, k.s,
                                    q);
        return ctm__logger_set_unit(lg, unit);
    }
    case KEY_ORDER: {
        enum ctm__date_order order = parse_order(v.s, v.n);
        if (order == CTM__DATE_AS_FILE)
            return ctm__logger_fail(lg, "%.*s: %s is not an order of day, month and year (such "
                                        "as DD/MM/YYYY)",
                                    key_n, k.s, q);
        return file_order(lg, st, order, "date order");
    }
    }
    return CTM_OK;
}

static int header_line(ctm__logger *lg, logtag_state *st, const ctm__logger_field *f, int k)
{
    ctm__logger_field value = {"", 0};
    int has_value;
    ctm__logger_field key = key_of(f[0], &value, &has_value);
    if (!has_value && k >= 2)
        value = f[1];
    enum key_kind kind;
    if (!lookup_key(key, &kind) || value.n == 0)
        return CTM_OK; /* a key this format does not read, or a title */
    return header_value(lg, st, kind, key, value);
}

/* ---- the column header row ---- */

enum column { COL_OTHER, COL_DATE, COL_TIME, COL_DATETIME, COL_TEMP };

/* What a title names; *rest is what follows the name (a unit, a date pattern). */
static enum column column_of(ctm__logger_field t, ctm__logger_field *rest)
{
    static const struct {
        const char *name;
        enum column col;
    } names[] = {
        {"date", COL_DATE},          {"time", COL_TIME},
        {"date/time", COL_DATETIME}, {"date time", COL_DATETIME},
        {"datetime", COL_DATETIME},  {"date & time", COL_DATETIME},
        {"date and time", COL_DATETIME}, {"date-time", COL_DATETIME},
        {"timestamp", COL_DATETIME}, {"time stamp", COL_DATETIME},
    };
    enum column best = COL_OTHER;
    size_t best_n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t w = strlen(names[i].name);
        if (w > best_n && t.n >= w && ctm__logger_ieq(t.s, w, names[i].name) &&
            (t.n == w || t.s[w] == ' ' || t.s[w] == '(' || t.s[w] == '[')) {
            best = names[i].col;
            best_n = w;
        }
    }
    if (best == COL_OTHER && starts_with(t, "temp"))
        best_n = 4, best = COL_TEMP;
    rest->s = t.s + best_n;
    rest->n = t.n - best_n;
    return best;
}

/* 1 when the line is the column header row (st then knows its columns). */
static int find_columns(logtag_state *st, const ctm__logger_field *f, int k,
                        ctm__logger_field *temp_title, ctm__logger_field *date_rest)
{
    int date = -1, time = -1, datetime = -1, temp = -1;
    ctm__logger_field rest, drest = {"", 0}, dtrest = {"", 0};
    for (int i = 0; i < k && i < MAX_COLUMNS; i++) {
        enum column c = column_of(f[i], &rest);
        if (c == COL_DATE && date < 0)
            date = i, drest = rest;
        else if (c == COL_TIME && time < 0)
            time = i;
        else if (c == COL_DATETIME && datetime < 0)
            datetime = i, dtrest = rest;
        else if (c == COL_TEMP && temp < 0)
            temp = i, *temp_title = f[i];
    }
    if (temp < 0 || (date < 0 && datetime < 0))
        return 0;
    if (datetime >= 0 && (date < 0 || time < 0)) {
        date = datetime;
        drest = dtrest;
        time = -1;
    }
    st->col_date = date;
    st->col_time = time;
    st->col_temp = temp;
    st->ncols = k > MAX_COLUMNS ? MAX_COLUMNS : k;
    st->need = (date > time ? date : time) + 1;
    if (temp + 1 > st->need)
        st->need = temp + 1;
    *date_rest = drest;
    return 1;
}

static int columns_found(ctm__logger *lg, logtag_state *st, ctm__logger_field temp_title,
                         ctm__logger_field date_rest)
{
    st->has_columns = 1;
    char unit = ctm__logger_unit_named(temp_title.s + 4, temp_title.n - 4);
    int rc = unit != 0 ? ctm__logger_set_unit(lg, unit) : CTM_OK;
    enum ctm__date_order order = parse_order(date_rest.s, date_rest.n);
    if (rc == CTM_OK && order != CTM__DATE_AS_FILE)
        rc = file_order(lg, st, order, "date order");
    return rc;
}

/* ---- readings ---- */

/* digits{lo..hi} at s[*i]. */
static int run_of_digits(const char *s, size_t n, size_t *i, size_t lo, size_t hi)
{
    size_t a = *i;
    while (*i < n && isdigit((unsigned char)s[*i]))
        (*i)++;
    return *i - a >= lo && *i - a <= hi;
}

/* 03/04/2024, 3.4.2024, 03-04-2024: a day or a month first. */
static int day_or_month_first(const char *s, size_t n)
{
    size_t i = 0;
    char sep;
    if (!run_of_digits(s, n, &i, 1, 2) || i >= n)
        return 0;
    sep = s[i++];
    if ((sep != '/' && sep != '.' && sep != '-') || !run_of_digits(s, n, &i, 1, 2) || i >= n ||
        s[i++] != sep)
        return 0;
    return run_of_digits(s, n, &i, 4, 4) && i == n;
}

/* A date of any order at the start of f, up to a blank or a 'T'. */
static int date_shaped(ctm__logger_field f)
{
    size_t i = 0, seps = 0;
    char sep = 0;
    if (f.n == 0 || !isdigit((unsigned char)f.s[0]))
        return 0;
    for (; i < f.n && f.s[i] != ' ' && f.s[i] != 'T'; i++) {
        char c = f.s[i];
        if (c == '/' || c == '.' || c == '-') {
            if (sep != 0 && c != sep)
                return 0;
            sep = c;
            seps++;
        } else if (!isdigit((unsigned char)c)) {
            return 0;
        }
    }
    return seps == 2;
}

static int all_digits(ctm__logger_field f)
{
    for (size_t i = 0; i < f.n; i++)
        if (!isdigit((unsigned char)f.s[i]))
            return 0;
    return f.n > 0;
}

static int date_of(ctm__logger *lg, const char *field, ctm__logger_field d, int64_t *days)
{
    if (ctm__logger_order(lg) == CTM__DATE_YMD && day_or_month_first(d.s, d.n)) {
        char q[CTM__LOGGER_QUOTE_SIZE];
        ctm__logger_quote(q, d.s, d.n);
        return ctm__logger_fail(lg, "%s: %s could be day/month/year or month/day/year: name "
                                    "the date order (DMY or MDY)",
                                field, q);
    }
    return ctm__logger_date(lg, field, d.s, d.n, days);
}

/* The reading's time: local seconds (*zoned 0) or, for ISO 8601 with an offset, UTC. */
static int time_of(ctm__logger *lg, const logtag_state *st, const ctm__logger_field *f,
                   int64_t *local_s, int *zoned, int64_t *utc_us)
{
    ctm__logger_field d = f[st->col_date], t;
    const char *date_name = st->col_time >= 0 ? "Date" : "Date/Time";
    *zoned = 0;
    if (st->col_time >= 0) {
        t = f[st->col_time];
    } else {
        const char *blank = memchr(d.s, ' ', d.n);
        if (blank == NULL)
            return ctm__logger_iso(lg, date_name, d.s, d.n, local_s, zoned, utc_us);
        t.s = blank + 1;
        t.n = d.n - (size_t)(t.s - d.s);
        d.n = (size_t)(blank - d.s);
        ctm__logger_trim(&t);
    }
    int64_t days = 0, secs = 0;
    int rc = date_of(lg, date_name, d, &days);
    if (rc == CTM_OK)
        rc = ctm__logger_clock(lg, "Time", t.s, t.n, &secs);
    *local_s = days * 86400 + secs;
    return rc;
}

static int only_dashes(ctm__logger_field f)
{
    for (size_t i = 0; i < f.n; i++)
        if (f.s[i] != '-')
            return 0;
    return 1; /* the empty cell too */
}

static int reading(ctm__logger *lg, const logtag_state *st, const ctm__logger_field *f, int k)
{
    if (k < st->need)
        return ctm__logger_fail(lg, "%d field%s where the column header row's Date, Time and "
                                    "Temperature need %d (separator '%s')",
                                k, k == 1 ? "" : "s", st->need,
                                st->sep == '\t' ? "\\t" : st->sep == ';' ? ";" : ",");
    for (int i = st->ncols; i < k; i++)
        if (i >= MAX_COLUMNS || f[i].n > 0)
            return ctm__logger_fail(lg, "more fields than the column header row's %d (a decimal "
                                        "comma without quotes?)",
                                    st->ncols);
    int64_t local = 0, utc = 0;
    int zoned = 0;
    int rc = time_of(lg, st, f, &local, &zoned, &utc);
    if (rc != CTM_OK)
        return rc;
    ctm__logger_field temp = f[st->col_temp];
    if (only_dashes(temp))
        return CTM_OK; /* a reading the logger did not take */
    double c = 0;
    rc = ctm__logger_temp(lg, "Temperature", temp.s, temp.n, &c);
    if (rc != CTM_OK)
        return rc;
    return zoned ? ctm__logger_reading_utc(lg, utc, c) : ctm__logger_reading_local(lg, local, c);
}

/* ---- lines ---- */

static int logtag_line(ctm__logger *lg, void *state, const char *s, size_t n)
{
    logtag_state *st = state;
    ctm__logger_field f[MAX_COLUMNS], all = {s, n};
    ctm__logger_trim(&all);
    if (all.n == 0)
        return CTM_OK;
    char sep = st->has_columns ? st->sep : ctm__logger_separator(s, n);
    int k = ctm__logger_split(s, n, sep, f, MAX_COLUMNS);
    if (k < 0)
        return ctm__logger_fail(lg, "a quote that does not close its field");
    int empty = 1;
    for (int i = 0; i < k && i < MAX_COLUMNS && empty; i++)
        empty = f[i].n == 0;
    if (empty && k <= MAX_COLUMNS)
        return CTM_OK; /* separators only */
    if (st->has_columns)
        return reading(lg, st, f, k);
    ctm__logger_field temp_title, date_rest;
    if (find_columns(st, f, k, &temp_title, &date_rest)) {
        st->sep = sep;
        return columns_found(lg, st, temp_title, date_rest);
    }
    if (date_shaped(f[0]) || (k >= 2 && all_digits(f[0]) && date_shaped(f[1])))
        return ctm__logger_fail(lg, "a reading before the column header row (Date, Time and "
                                    "Temperature)");
    return header_line(lg, st, f, k);
}

static int logtag_finish(ctm__logger *lg, void *state)
{
    (void)lg;
    const logtag_state *st = state;
    if (!st->has_columns)
        return ctm__err(CTM_EINVAL, "the file has no column header row (Date, Time and "
                                    "Temperature)");
    return CTM_OK;
}

const ctm__logger_format ctm__logger_logtag = {
    .name = "logtag",
    .state_size = sizeof(logtag_state),
    .sniff = logtag_sniff,
    .line = logtag_line,
    .finish = logtag_finish,
};
