/*
 * output.c - printing any ctm_query as a human table, JSON or CSV.
 *
 * Every listing goes through cli_print_query().  Data is never truncated.  JSON is exact, and so
 * is CSV but for the quote that keeps a text cell from being run as a spreadsheet formula;
 * the human table shows control characters as escapes (\n, \t, \xNN) so that a value from the
 * database can neither break the layout nor send escape sequences to the terminal.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The format asked for with --json or --csv (the parser has refused both at once). */
enum cli_format cli_format_of(const struct cli_args *a)
{
    return cli_flag(a, "json") ? FORMAT_JSON : cli_flag(a, "csv") ? FORMAT_CSV : FORMAT_TABLE;
}

/* The index of the column called name, or -1. */
int cli_query_column(const ctm_query *q, const char *name)
{
    int i = ctm_query_column_index(q, name);
    return i >= 0 ? i : -1;
}

/* ---- display text (human views) ---- */

static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    default: return NULL;
    }
}

void cli_put_display(FILE *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            fputc(*p, out);
        else if (short_escape(*p))
            fputs(short_escape(*p), out);
        else
            fprintf(out, "\\x%02x", *p);
    }
}

/* Columns text takes on a terminal once escaped: one per character, not per byte. */
static size_t display_width(const char *text)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        if (*p >= 0x20 && *p != 0x7f)
            w += 1;
        else
            w += short_escape(*p) ? 2 : 4;
    }
    return w;
}

/* ---- the human table: rows are kept until the widths are known ---- */

struct cli_table {
    int ncols;
    size_t nrows, cap;
    char **names;      /* per column */
    char **cells;      /* nrows * ncols, NULL for SQL NULL */
    size_t *width;     /* per column */
    int *numeric;      /* per column: every value is a number, so align right */
};

static void table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    for (int c = 0; t->names && c < t->ncols; c++)
        free(t->names[c]);
    free(t->names);
    free(t->cells);
    free(t->width);
    free(t->numeric);
}

/* The columns' names (NULL: none) and their widths so far. */
static int table_columns(struct cli_table *t, int ncols, const char *const *names)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > 0 ? ncols : 0;
    t->names = calloc((size_t)t->ncols + 1, sizeof *t->names);
    t->width = calloc((size_t)t->ncols + 1, sizeof *t->width);
    t->numeric = calloc((size_t)t->ncols + 1, sizeof *t->numeric);
    if (!t->names || !t->width || !t->numeric)
        return -1;
    for (int c = 0; c < t->ncols; c++) {
        if (!(t->names[c] = strdup(names[c] ? names[c] : "")))
            return -1;
        t->width[c] = display_width(t->names[c]);
        t->numeric[c] = 1;
    }
    return 0;
}

static int table_init(struct cli_table *t, ctm_query *q)
{
    int n = ctm_query_column_count(q);
    const char **names = calloc(n > 0 ? (size_t)n : 1, sizeof *names);
    if (!names) {
        memset(t, 0, sizeof *t);
        return -1;
    }
    for (int c = 0; c < n; c++)
        names[c] = ctm_query_column_name(q, c);
    int rc = table_columns(t, n, names);
    free(names);
    return rc;
}

static int table_grow(struct cli_table *t)
{
    if (t->nrows < t->cap)
        return 0;
    size_t cap = t->cap ? t->cap * 2 : 16;
    size_t per_row = t->ncols > 0 ? (size_t)t->ncols : 1;
    char **cells = realloc(t->cells, cap * per_row * sizeof *cells);
    if (!cells)
        return -1;
    t->cells = cells;
    t->cap = cap;
    return 0;
}

static int table_add_row(struct cli_table *t, ctm_query *q)
{
    if (table_grow(t) != 0)
        return -1;
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++)
        row[c] = NULL;
    t->nrows++;
    for (int c = 0; c < t->ncols; c++) {
        int type = ctm_query_column_type(q, c);
        const char *text = ctm_query_text(q, c);
        if (type == CTM_NULL || !text)
            continue;
        if (!(row[c] = strdup(text)))
            return -1;
        if (type != CTM_INTEGER && type != CTM_REAL)
            t->numeric[c] = 0;
        size_t w = display_width(text);
        if (w > t->width[c])
            t->width[c] = w;
    }
    return 0;
}

static void put_padding(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

static void table_put_cell(FILE *out, const struct cli_table *t, int c, const char *text)
{
    size_t pad = t->width[c] - display_width(text);
    int last = c == t->ncols - 1;
    if (c > 0)
        fputs("  ", out);
    if (t->numeric[c])
        put_padding(out, pad);
    cli_put_display(out, text);
    if (!t->numeric[c] && !last)
        put_padding(out, pad);
}

static void table_print(FILE *out, const struct cli_table *t)
{
    for (int c = 0; c < t->ncols; c++)
        table_put_cell(out, t, c, t->names[c]);
    fputc('\n', out);
    for (int c = 0; c < t->ncols; c++) {
        fputs(c > 0 ? "  " : "", out);
        for (size_t i = 0; i < t->width[c]; i++)
            fputc('-', out);
    }
    fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *text = t->cells[r * (size_t)t->ncols + c];
            table_put_cell(out, t, c, text ? text : "");
        }
        fputc('\n', out);
    }
}

/* A column whose value on the last row a printer keeps as the rows go by (col -1: none), so that
 * a command deciding something from the rows it prints reads them once (cli_print_query_last). */
struct cli_watch {
    int col;
    int64_t value;
};

static void watch_row(struct cli_watch *w, ctm_query *q)
{
    if (w != NULL && w->col >= 0)
        w->value = ctm_query_int64(q, w->col);
}

static int print_table(FILE *out, ctm_query *q, struct cli_watch *w)
{
    struct cli_table t;
    int rc;
    if (table_init(&t, q) != 0) {
        rc = CTM_ENOMEM;
        goto out;
    }
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        watch_row(w, q);
        if (table_add_row(&t, q) != 0) {
            rc = CTM_ENOMEM;
            goto out;
        }
    }
    if (rc == CTM_DONE) {
        table_print(out, &t);
        rc = CTM_OK;
    }
out:
    table_free(&t);
    if (rc == CTM_ENOMEM)
        return cli_fail("out of memory");
    return rc == CTM_OK ? CLI_OK : cli_fail_ctm(rc);
}

/* ---- tables a command composes (a view that picks, joins or words columns) ---- */

/* A cell that reads as a number ("-3", "2.5"): such columns align right, as a query's do. */
static int looks_numeric(const char *text)
{
    const char *p = text + (text[0] == '-');
    int digits = 0, dots = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && dots++ == 0)
            continue;
        else
            return 0;
    }
    return digits > 0;
}

struct cli_table *cli_table_new(const char *const *names, int ncols)
{
    struct cli_table *t = malloc(sizeof *t);
    if (t && table_columns(t, ncols, names) != 0) {
        table_free(t);
        free(t);
        t = NULL;
    }
    return t;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (table_grow(t) != 0)
        return cli_fail("out of memory");
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++)
        row[c] = NULL;
    t->nrows++;
    for (int c = 0; c < t->ncols; c++) {
        if (!cells[c])
            continue;
        if (!(row[c] = strdup(cells[c])))
            return cli_fail("out of memory");
        if (!looks_numeric(cells[c]))
            t->numeric[c] = 0;
        size_t w = display_width(cells[c]);
        if (w > t->width[c])
            t->width[c] = w;
    }
    return CLI_OK;
}

int cli_table_print(FILE *out, struct cli_table *t)
{
    table_print(out, t);
    cli_table_free(t);
    return CLI_OK;
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    table_free(t);
    free(t);
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at p, or 0 when the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *p)
{
    size_t n;
    unsigned min;
    unsigned cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) { n = 2; min = 0x80; cp = p[0] & 0x1f; }
    else if ((p[0] & 0xf0) == 0xe0) { n = 3; min = 0x800; cp = p[0] & 0x0f; }
    else if ((p[0] & 0xf8) == 0xf0) { n = 4; min = 0x10000; cp = p[0] & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void json_put_char(FILE *out, unsigned char c)
{
    switch (c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    default:
        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD so the output always parses. */
void cli_put_json_string(FILE *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    fputc('"', out);
    while (*p) {
        size_t n = utf8_sequence(p);
        if (n == 0) {
            fputs("\\ufffd", out);
            p++;
        } else if (n == 1) {
            json_put_char(out, *p++);
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
    fputc('"', out);
}

static void json_put_value(FILE *out, ctm_query *q, int c)
{
    switch (ctm_query_column_type(q, c)) {
    case CTM_INTEGER:
        fprintf(out, "%" PRId64, ctm_query_int64(q, c));
        break;
    case CTM_REAL: {
        double d = ctm_query_double(q, c);
        if (isfinite(d))
            fprintf(out, "%.17g", d);
        else
            fputs("null", out);
        break;
    }
    case CTM_TEXT: {
        const char *text = ctm_query_text(q, c);
        if (text)
            cli_put_json_string(out, text);
        else
            fputs("null", out);
        break;
    }
    default:
        fputs("null", out);
    }
}

/* The current row's "name": value pairs, without the braces around them. */
static void json_put_members(FILE *out, ctm_query *q)
{
    int n = ctm_query_column_count(q);
    for (int c = 0; c < n; c++) {
        const char *name = ctm_query_column_name(q, c);
        fputs(c > 0 ? ", " : "", out);
        cli_put_json_string(out, name ? name : "");
        fputs(": ", out);
        json_put_value(out, q, c);
    }
}

static void json_put_row(FILE *out, ctm_query *q)
{
    fputs("  {", out);
    json_put_members(out, q);
    fputc('}', out);
}

static int print_json(FILE *out, ctm_query *q, struct cli_watch *w)
{
    int rc;
    size_t rows = 0;
    fputc('[', out);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        watch_row(w, q);
        fputs(rows++ ? ",\n" : "\n", out);
        json_put_row(out, q);
    }
    fputs(rows ? "\n]\n" : "]\n", out);
    return rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
}

/* ---- CSV (RFC 4180: CRLF line ends, fields quoted when they hold , " CR or LF) ----
 *
 * A spreadsheet opening the file runs a cell that begins with = + - @ (or a tab or CR before
 * one) as a formula, and a kit number, a note or a reason is typed by people.  As OWASP
 * advises, such a text cell gets a leading single quote, which spreadsheets show as text.
 * Integer and real values stay numbers (-3 stays -3): only text cells are neutralised, so a
 * text cell reading "-3" is written '-3. */

static int csv_formula_start(const char *text)
{
    return text[0] != '\0' && strchr("=+-@\t\r", text[0]) != NULL;
}

static void csv_put_field(FILE *out, const char *text, int is_text)
{
    if (!text)
        return;
    int neutralise = is_text && csv_formula_start(text);
    int quote = strpbrk(text, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', out);
    if (neutralise)
        fputc('\'', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    if (quote)
        fputc('"', out);
}

static int print_csv(FILE *out, ctm_query *q, struct cli_watch *w)
{
    int n = ctm_query_column_count(q);
    int rc;
    for (int c = 0; c < n; c++) {
        fputs(c > 0 ? "," : "", out);
        csv_put_field(out, ctm_query_column_name(q, c), 1);
    }
    fputs("\r\n", out);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        watch_row(w, q);
        for (int c = 0; c < n; c++) {
            fputs(c > 0 ? "," : "", out);
            csv_put_field(out, ctm_query_text(q, c), ctm_query_column_type(q, c) == CTM_TEXT);
        }
        fputs("\r\n", out);
    }
    return rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
}

/* ---- one record with its history ---- */

/* The single row of q, which the caller has stepped onto, as "name  value" lines or a JSON
 * object; then, unless children is NULL, its rows under the heading child (a table, or a JSON
 * array member named child). */
int cli_print_record(FILE *out, ctm_query *q, const char *child, ctm_query *children,
                     enum cli_format format)
{
    return cli_print_record_as(out, NULL, q, child, children, format);
}

/* The JSON of a record: its members, or with member the member holding them; then the
 * children's array. */
static int print_record_json(FILE *out, const char *member, ctm_query *q, const char *child,
                             ctm_query *children)
{
    int rc = CLI_OK;
    fputc('{', out);
    if (member) {
        cli_put_json_string(out, member);
        fputs(": {", out);
    }
    json_put_members(out, q);
    if (member)
        fputc('}', out);
    if (children) {
        fputs(", ", out);
        cli_put_json_string(out, child);
        fputs(": ", out);
        rc = print_json(out, children, NULL);
    }
    fputs("}\n", out);
    return rc;
}

int cli_print_record_as(FILE *out, const char *member, ctm_query *q, const char *child,
                        ctm_query *children, enum cli_format format)
{
    int n = ctm_query_column_count(q);
    if (format == FORMAT_JSON)
        return print_record_json(out, member, q, child, children);
    size_t width = 0;
    for (int c = 0; c < n; c++) {
        const char *name = ctm_query_column_name(q, c);
        size_t w = display_width(name ? name : "");
        if (w > width)
            width = w;
    }
    for (int c = 0; c < n; c++) {
        const char *name = ctm_query_column_name(q, c);
        const char *text = ctm_query_text(q, c);
        cli_put_display(out, name ? name : "");
        put_padding(out, width - display_width(name ? name : "") + 2);
        cli_put_display(out, text ? text : "-");
        fputc('\n', out);
    }
    if (!children)
        return CLI_OK;
    fprintf(out, "\n%s:\n", child);
    return print_table(out, children, NULL);
}

/* Print every remaining row of q.  Returns an exit status (the failure already printed). */
static int print_watched(FILE *out, ctm_query *q, enum cli_format format, struct cli_watch *w)
{
    switch (format) {
    case FORMAT_JSON: return print_json(out, q, w);
    case FORMAT_CSV: return print_csv(out, q, w);
    default: return print_table(out, q, w);
    }
}

int cli_print_query(FILE *out, ctm_query *q, enum cli_format format)
{
    return print_watched(out, q, format, NULL);
}

int cli_print_query_last(FILE *out, ctm_query *q, enum cli_format format, const char *column,
                         int64_t *last)
{
    struct cli_watch w = {cli_query_column(q, column), *last};
    if (w.col < 0)
        return cli_fail("no column '%s' in the rows", column);
    int rc = print_watched(out, q, format, &w);
    *last = w.value;
    return rc;
}

/* Print the listing a call made; rc is that call's status.  q is read only once the call is done
 * (hence a pointer: the order in which arguments are evaluated is unspecified). */
int cli_print_listing(int rc, ctm_query **q, const struct cli_args *a)
{
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = cli_print_query(stdout, *q, cli_format_of(a));
    ctm_query_free(*q);
    return rc;
}

int cli_write_file(const char *path, const char *text, const char *what)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    size_t len = strlen(text);
    int failed = fwrite(text, 1, len, f) != len;
    if (fclose(f) != 0)
        failed = 1;
    return failed ? cli_fail("%s: cannot write %s: %s", path, what, strerror(errno)) : CLI_OK;
}
