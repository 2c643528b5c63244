/*
 * report.c - the reports: their registry, ctm_report() and ctm_report_render() (text, CSV, JSON,
 * HTML; ctm_report_render_summary() hands back the summary it drew too), the same for every
 * report (report.h says how a report plugs in).
 *
 * Rules:
 * - A report's rows are a ctm_query as every listing's; the framework only frames them.
 * - A rendered report names the signed checkpoint it was drawn from.  The checkpoint, the summary
 *   and the rows are read in one read transaction (SQLite: a deferred BEGIN, one WAL snapshot;
 *   PostgreSQL: REPEATABLE READ READ ONLY), so the rows are the site as that checkpoint signs it.
 *   Inside a batch no report is rendered: its changes are under no checkpoint yet.
 * - Every value is escaped for its format: JSON strings, CSV quoting (and the quote that keeps a
 *   spreadsheet from running a typed cell as a formula, the CLI's rule), HTML entities, and the
 *   text format shows control characters as escapes so a value cannot break the layout.
 * - The HTML is one file a browser prints with nothing else: no script, no external resource;
 *   the page header (an outer table's thead, which browsers repeat on every printed page) names
 *   site, trial, period, generation time and the checkpoint.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "report.h"

/* ---- the registry: one row per report ---- */

static const ctm__report_def reports[] = {
    {"inventory", "Inventory of kits on hand",
     CTM__REPORT_DAYS | CTM__REPORT_KIT_TYPE, ctm__inventory_rows, ctm__inventory_summary,
     NULL},
    {"audit", "Audit trail", CTM__REPORT_AS_OF | CTM__REPORT_PERIOD, ctm__audit_trail_rows,
     NULL, NULL},
    {"subjects", "Accountability and compliance per subject", CTM__REPORT_NEEDS_TRIAL,
     ctm__subjects_rows, ctm__subjects_summary, NULL},
    {"reconciliation", "Reconciliation per kit type and lot",
     CTM__REPORT_NEEDS_TRIAL | CTM__REPORT_AS_OF, ctm__reconciliation_rows, NULL,
     ctm__reconciliation_summary},
    {"darf", "Drug accountability record (DARF)", CTM__REPORT_NEEDS_TRIAL | CTM__REPORT_KIT_TYPE,
     ctm__darf_rows, NULL, NULL},
    {"forecast", "Supply forecast", CTM__REPORT_NEEDS_TRIAL | CTM__REPORT_DAYS,
     ctm__forecast_rows, NULL, NULL},
    {"self-inspection", "Self-inspection findings", CTM__REPORT_DAYS, ctm__inspection_rows,
     NULL, NULL},
};
#define NREPORTS (sizeof reports / sizeof reports[0])

static int find_report(const char *name, const ctm__report_def **def)
{
    for (size_t i = 0; name != NULL && i < NREPORTS; i++)
        if (strcmp(reports[i].name, name) == 0) {
            *def = &reports[i];
            return CTM_OK;
        }
    char names[256] = "";
    for (size_t i = 0; i < NREPORTS; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", i > 0 ? ", " : "", reports[i].name);
    }
    return ctm__err(CTM_EINVAL, "report: no report '%.40s' (the reports are %s)",
                    name != NULL ? name : "(null)", names);
}

/* ---- the summary ---- */

static int summary_add(ctm__report_summary *s, const char *key, const char *value, int number)
{
    if (s->n >= CTM__SUMMARY_MAX || strlen(key) >= sizeof s->items[0].key)
        return ctm__err(CTM_ERROR, "report summary: no room for '%.40s'", key);
    char *copy = value != NULL ? ctm__strdup(value) : NULL;
    if (value != NULL && copy == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    snprintf(s->items[s->n].key, sizeof s->items[0].key, "%s", key);
    s->items[s->n].value = copy;
    s->items[s->n].number = number;
    s->n++;
    return CTM_OK;
}

int ctm__summary_text(ctm__report_summary *s, const char *key, const char *value)
{
    return summary_add(s, key, value, 0);
}

int ctm__summary_int(ctm__report_summary *s, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return summary_add(s, key, buf, 1);
}

int ctm__summary_bool(ctm__report_summary *s, const char *key, int value)
{
    return summary_add(s, key, value ? "true" : "false", 1);
}

void ctm__summary_free(ctm__report_summary *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->items[i].value);
    s->n = 0;
}

int ctm__rows_query(ctm_query **out, ctm_db *db, size_t n, const char *const *names, int ncols,
                    ctm__row_fn fn, void *ctx, void (*ctx_free)(void *))
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                          " WHERE i < ?1) SELECT i FROM n");
    if (rc != CTM_OK) {
        ctx_free(ctx);
        return rc;
    }
    ctm__st_bind_int(st, 1, (int64_t)n);
    return ctm__query_new(out, st, names, ncols, fn, ctx, ctx_free);
}

/* A summary handed out as a result set: key, value (text as the text format shows it). */
static void summary_drop(void *p)
{
    if (p != NULL)
        ctm__summary_free(p);
    free(p);
}

static int summary_row(ctm__st *st, ctm__row *row, void *ctx)
{
    const ctm__report_summary *s = ctx;
    int64_t i = ctm__st_int(st, 0) - 1;
    if (i < 0 || i >= s->n)
        return CTM_DONE;
    int rc = ctm__row_set_text(row, 0, s->items[i].key);
    if (rc == CTM_OK && s->items[i].value != NULL)
        rc = ctm__row_set_text(row, 1, s->items[i].value);
    else if (rc == CTM_OK)
        ctm__row_set_null(row, 1);
    return rc;
}

/* *out: the summary's items as rows; *s is moved into it (left empty). */
static int summary_query(ctm_query **out, ctm_db *db, ctm__report_summary *s)
{
    static const char *const names[] = {"key", "value"};
    ctm__report_summary *moved = malloc(sizeof *moved);
    if (moved == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    *moved = *s;
    s->n = 0;
    return ctm__rows_query(out, db, (size_t)moved->n, names, 2, summary_row, moved, summary_drop);
}

/* ---- the options ---- */

static int check_date(const char *field, const char *value, int64_t *days)
{
    if (value == NULL)
        return CTM_OK;
    if (strlen(value) != 10)
        return ctm__err(CTM_EINVAL, "%s: '%.40s' is not a date YYYY-MM-DD", field, value);
    return ctm__parse_date(field, value, days);
}

/* The option named field was given to a report that does not read it. */
static int not_taken(const ctm__report_def *d, const char *field)
{
    return ctm__err(CTM_EINVAL, "%s: the %s report does not take it", field, d->name);
}

/* Copy opts (NULL: the defaults) into o and check them against what the report reads. */
static int check_options(const ctm__report_def *d, const ctm_report_options *opts,
                         ctm_report_options *o)
{
    ctm_report_options init = CTM_REPORT_OPTIONS_INIT;
    *o = init;
    if (opts != NULL) {
        if (opts->struct_size < sizeof(size_t) + sizeof(const char *))
            return ctm__err(CTM_EINVAL, "options: struct_size %zu is too small", opts->struct_size);
        memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
        o->struct_size = sizeof *o;
    }
    int64_t as_of = 0, from = 0, to = 0;
    int rc = check_date("as_of", o->as_of, &as_of);
    if (rc == CTM_OK)
        rc = check_date("from", o->from, &from);
    if (rc == CTM_OK)
        rc = check_date("to", o->to, &to);
    if (rc != CTM_OK)
        return rc;
    if (o->trial == NULL && (d->takes & CTM__REPORT_NEEDS_TRIAL))
        return ctm__err(CTM_EINVAL, "trial: the %s report is of one trial; name it", d->name);
    if (o->as_of != NULL && !(d->takes & CTM__REPORT_AS_OF))
        return not_taken(d, "as_of");
    if (o->from != NULL && !(d->takes & CTM__REPORT_PERIOD))
        return not_taken(d, "from");
    if (o->to != NULL && !(d->takes & CTM__REPORT_PERIOD))
        return not_taken(d, "to");
    if (o->days != -1 && !(d->takes & CTM__REPORT_DAYS))
        return not_taken(d, "days");
    if (o->kit_type != NULL && !(d->takes & CTM__REPORT_KIT_TYPE))
        return not_taken(d, "kit_type");
    if (o->as_of != NULL && (o->from != NULL || o->to != NULL))
        return ctm__err(CTM_EINVAL, "as_of: not together with from or to (give a date or a "
                                    "period)");
    if (o->from != NULL && o->to != NULL && from > to)
        return ctm__err(CTM_EINVAL, "from: %s is after to %s", o->from, o->to);
    if (o->days < -1 || o->days > 36500)
        return ctm__err(CTM_EINVAL, "days: %d is not a number of days from 0 to 36500", o->days);
    if (o->trial != NULL && (rc = ctm__check_code("trial", o->trial, CTM_MAX_NAME)) != CTM_OK)
        return rc;
    if (o->kit_type != NULL)
        rc = ctm__check_code("kit_type", o->kit_type, CTM_MAX_NAME);
    return rc;
}

static int report_begin(const ctm__report_def **d, ctm_db *db, const char *report,
                        const ctm_report_options *opts, ctm_report_options *o)
{
    int rc = find_report(report, d);
    if (rc == CTM_OK)
        rc = check_options(*d, opts, o);
    if (rc == CTM_OK)
        rc = ctm__require_user(db, 0, "report");
    return rc;
}

int ctm_report(ctm_query **out, ctm_db *db, const char *report, const ctm_report_options *opts)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    const ctm__report_def *d = NULL;
    ctm_report_options o;
    int rc = report_begin(&d, db, report, opts, &o);
    return rc == CTM_OK ? d->rows(out, db, &o) : rc;
}

/* ---- reading a report whole ---- */

/* What frames the rows: where, what, when, and the checkpoint they were read under. */
typedef struct frame {
    const ctm__report_def *def;
    ctm_report_options o;
    char *site, *origin;      /* the site's name and log origin */
    char *trial_title;        /* NULL: every trial */
    char generated[32];       /* UTC ISO 8601 */
    uint64_t size;            /* the checkpoint's tree size */
    char root_b64[64];        /* its root as the note writes it */
    char root_hex[65];
    ctm__report_summary summary;
    ctm__table rows;
} frame;

static void frame_free(frame *f)
{
    free(f->site);
    free(f->origin);
    free(f->trial_title);
    ctm__summary_free(&f->summary);
    ctm__table_free(&f->rows);
}

/* The newest signed checkpoint: its size and root. */
static int read_checkpoint(ctm_db *db, frame *f)
{
    char *note = NULL, *origin = NULL;
    int rc = ctm_audit_checkpoint(&note, db);
    char *body = rc == CTM_OK ? ctm__note_text(note) : NULL;
    ctm_hash root;
    if (rc == CTM_OK && (body == NULL || ctm__checkpoint_parse(body, &origin, &f->size, root) != 0))
        rc = ctm__err(CTM_EINTEGRITY, "report: the latest checkpoint does not parse");
    if (rc == CTM_OK) {
        const char *line = strchr(body, '\n');
        line = line != NULL ? strchr(line + 1, '\n') : NULL;
        size_t n = line != NULL ? strcspn(line + 1, "\n") : 0;
        snprintf(f->root_b64, sizeof f->root_b64, "%.*s", (int)n, line != NULL ? line + 1 : "");
        ctm__hex(root, sizeof root, f->root_hex);
    }
    free(origin);
    free(body);
    ctm_free(note);
    return rc;
}

static int read_site(ctm_db *db, frame *f)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT name, origin FROM site WHERE id = 1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "report: reading the site");
    rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        f->site = ctm__strdup(ctm__st_text(st, 0));
        f->origin = ctm__strdup(ctm__st_text(st, 1));
        rc = f->site != NULL && f->origin != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
    } else {
        rc = rc == CTM_OK ? ctm__err(CTM_EMISUSE, "report: the site is not initialised")
                          : ctm__store_fail(rc, "report: reading the site");
    }
    ctm__st_finalize(st);
    if (rc != CTM_OK || f->o.trial == NULL)
        return rc;
    if ((rc = ctm__prepare(db, &st, "SELECT title FROM trials WHERE code = ?1")) != CTM_OK)
        return ctm__store_fail(rc, "report: reading the trial");
    ctm__st_bind_text(st, 1, f->o.trial);
    rc = ctm__st_step(st);
    if (rc == CTM_ROW)
        rc = (f->trial_title = ctm__strdup(ctm__st_text(st, 0))) != NULL
                 ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
    else
        rc = rc == CTM_OK ? ctm__err(CTM_ENOTFOUND, "trial '%s' does not exist", f->o.trial)
                          : ctm__store_fail(rc, "report: reading the trial");
    ctm__st_finalize(st);
    return rc;
}

/* Everything a rendered report shows, read in one read transaction. */
static int frame_read(ctm_db *db, frame *f)
{
    int rc = read_site(db, f);
    if (rc == CTM_OK)
        rc = read_checkpoint(db, f);
    if (rc == CTM_OK && f->def->summary != NULL)
        rc = f->def->summary(&f->summary, db, &f->o);
    ctm_query *q = NULL;
    if (rc == CTM_OK)
        rc = f->def->rows(&q, db, &f->o);
    if (rc == CTM_OK)
        rc = ctm__table_read(q, CTM_OK, &f->rows);
    if (rc == CTM_OK && f->def->summary_of_rows != NULL)
        rc = f->def->summary_of_rows(&f->summary, &f->rows);
    return rc;
}

/* One snapshot for the checkpoint and the rows (verify.c reads the site the same way). */
static int snapshot_read(ctm_db *db, frame *f)
{
    if (ctm__store_in_transaction(db->store))
        return ctm__err(CTM_EMISUSE, "report: a batch is open on this handle (its changes are "
                                     "under no checkpoint yet); commit or roll it back first");
    int rc = ctm__store_begin_snapshot(db->store, "report");
    return rc == CTM_OK ? ctm__store_end_snapshot(db->store, frame_read(db, f)) : rc;
}

/* ---- writing ---- */

static void put(ctm__buf *b, const char *s)
{
    ctm__buf_put(b, s, strlen(s));
}

static void putf(ctm__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(ctm__buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        ctm__buf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static const char *cell(const ctm__table *t, size_t row, int col)
{
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}

static int is_num(const ctm__table *t, size_t row, int col)
{
    return t->num[row * (size_t)t->ncols + (size_t)col];
}

/* The period in words: "as of 2026-12-03 (end of day, UTC)", "2026-11-01 to 2026-11-30 (UTC)"... */
static void period_words(const frame *f, char *out, size_t len)
{
    const ctm_report_options *o = &f->o;
    if (o->from != NULL || o->to != NULL)
        snprintf(out, len, "%s to %s (UTC days)", o->from != NULL ? o->from : "the beginning",
                 o->to != NULL ? o->to : "now");
    else if (o->as_of != NULL)
        snprintf(out, len, "as of %s (to the end of that day, UTC)", o->as_of);
    else
        snprintf(out, len, "as of now (%s)", f->generated);
}

static void trial_words(const frame *f, char *out, size_t len)
{
    if (f->o.trial == NULL)
        snprintf(out, len, "all trials");
    else
        snprintf(out, len, "%s (%s)", f->o.trial, f->trial_title);
}

/* ---- text ---- */

/* A value's characters for a terminal or a page: control characters as escapes. */
static void text_escaped(ctm__buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            put(b, "\\n");
        else if (*p == '\t')
            put(b, "\\t");
        else if (*p == '\r')
            put(b, "\\r");
        else if (*p < 0x20 || *p == 0x7f)
            putf(b, "\\x%02x", *p);
        else
            ctm__buf_put(b, p, 1);
    }
}

/* The columns s takes once escaped: one per character, not per byte. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        w += *p >= 0x20 && *p != 0x7f ? 1 : (*p == '\n' || *p == '\t' || *p == '\r') ? 2 : 4;
    }
    return w;
}

static void pad(ctm__buf *b, size_t n)
{
    while (n-- > 0)
        put(b, " ");
}

/* "Label:" padded to width, then the value. */
static void text_line(ctm__buf *b, int width, const char *label, const char *value)
{
    putf(b, "%-*s ", width, label);
    text_escaped(b, value);
    put(b, "\n");
}

/* The labels' column: the header's "Checkpoint:" or a longer summary key. */
static int label_width(const frame *f)
{
    size_t w = strlen("Checkpoint:");
    for (int i = 0; i < f->summary.n; i++)
        if (strlen(f->summary.items[i].key) + 1 > w)
            w = strlen(f->summary.items[i].key) + 1;
    return (int)w;
}

static void render_text(ctm__buf *b, const frame *f)
{
    char words[160];
    int w = label_width(f);
    text_escaped(b, f->def->title);
    put(b, "\n\n");
    text_line(b, w, "Site:", f->site);
    trial_words(f, words, sizeof words);
    text_line(b, w, "Trial:", words);
    period_words(f, words, sizeof words);
    text_line(b, w, "Period:", words);
    text_line(b, w, "Generated:", f->generated);
    putf(b, "%-*s size %" PRIu64 ", root %s (hex %s)\n", w, "Checkpoint:", f->size, f->root_b64,
         f->root_hex);
    for (int i = 0; i < f->summary.n; i++) {
        if (i == 0)
            put(b, "\n");
        char label[48];
        snprintf(label, sizeof label, "%s:", f->summary.items[i].key);
        text_line(b, w, label,
                  f->summary.items[i].value != NULL ? f->summary.items[i].value : "-");
    }
    const ctm__table *t = &f->rows;
    size_t *width = calloc(t->ncols > 0 ? (size_t)t->ncols : 1, sizeof *width);
    unsigned char *right = calloc(t->ncols > 0 ? (size_t)t->ncols : 1, 1);
    if (width == NULL || right == NULL) {
        b->oom = 1;
        free(width);
        free(right);
        return;
    }
    for (int c = 0; c < t->ncols; c++) {
        width[c] = text_width(t->names[c]);
        right[c] = t->nrows > 0;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *v = cell(t, r, c);
            size_t w = text_width(v != NULL ? v : "-");
            width[c] = w > width[c] ? w : width[c];
            right[c] = right[c] && (v == NULL || is_num(t, r, c));
        }
    }
    put(b, "\n");
    for (size_t r = 0; r <= t->nrows; r++) {
        size_t start = b->n;
        for (int c = 0; c < t->ncols; c++) {
            const char *v = r == 0 ? t->names[c] : cell(t, r - 1, c);
            v = v != NULL ? v : "-";
            size_t gap = width[c] - text_width(v);
            if (c > 0)
                put(b, "  ");
            if (right[c])
                pad(b, gap);
            text_escaped(b, v);
            if (!right[c])
                pad(b, gap);
        }
        while (b->n > start && b->p[b->n - 1] == ' ') /* no trailing blanks */
            b->n--;
        put(b, "\n");
    }
    putf(b, "(%zu row%s)\n", t->nrows, t->nrows == 1 ? "" : "s");
    free(width);
    free(right);
}

/* ---- CSV (RFC 4180) ---- */

static void render_csv(ctm__buf *b, const frame *f)
{
    const ctm__table *t = &f->rows;
    for (int c = 0; c < t->ncols; c++) {
        if (c > 0)
            put(b, ",");
        ctm__csv_cell(b, t->names[c], 1);
    }
    put(b, "\r\n");
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c > 0)
                put(b, ",");
            ctm__csv_cell(b, cell(t, r, c), !is_num(t, r, c));
        }
        put(b, "\r\n");
    }
}

/* ---- JSON ---- */

static void json_member(ctm__buf *b, const char *key, const char *value, int number)
{
    put(b, ",\n  ");
    ctm__json_string(b, key);
    put(b, ": ");
    if (value == NULL)
        put(b, "null");
    else if (number)
        put(b, value);
    else
        ctm__json_string(b, value);
}

static void render_json(ctm__buf *b, const frame *f)
{
    put(b, "{\n  \"report\": ");
    ctm__json_string(b, f->def->name);
    json_member(b, "title", f->def->title, 0);
    json_member(b, "site", f->site, 0);
    json_member(b, "trial", f->o.trial, 0);
    json_member(b, "as_of", f->o.as_of, 0);
    json_member(b, "from", f->o.from, 0);
    json_member(b, "to", f->o.to, 0);
    json_member(b, "generated_at", f->generated, 0);
    putf(b, ",\n  \"checkpoint\": {\"origin\": ");
    ctm__json_string(b, f->origin);
    putf(b, ", \"size\": %" PRIu64 ", \"root\": ", f->size);
    ctm__json_string(b, f->root_b64);
    put(b, ", \"root_hex\": ");
    ctm__json_string(b, f->root_hex);
    put(b, "}");
    for (int i = 0; i < f->summary.n; i++)
        json_member(b, f->summary.items[i].key, f->summary.items[i].value,
                    f->summary.items[i].number);
    const ctm__table *t = &f->rows;
    put(b, ",\n  \"rows\": [");
    for (size_t r = 0; r < t->nrows; r++) {
        put(b, r > 0 ? ",\n    {" : "\n    {");
        for (int c = 0; c < t->ncols; c++) {
            if (c > 0)
                put(b, ", ");
            ctm__json_string(b, t->names[c]);
            put(b, ": ");
            const char *v = cell(t, r, c);
            if (v == NULL)
                put(b, "null");
            else if (is_num(t, r, c))
                put(b, v);
            else
                ctm__json_string(b, v);
        }
        put(b, "}");
    }
    put(b, t->nrows > 0 ? "\n  ]\n}\n" : "]\n}\n");
}

/* ---- HTML ---- */

/* Text as HTML: & < > " ' as entities; control characters but \n and \t as U+FFFD, which no
 * document may hold as they are. */
static void html_escaped(ctm__buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&#39;"); break;
        default:
            if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                put(b, "&#xFFFD;");
            else
                ctm__buf_put(b, p, 1);
        }
    }
}

static const char html_style[] =
    "@page { size: A4 landscape; margin: 12mm 10mm; }\n"
    "body { font-family: sans-serif; font-size: 9pt; color: #000; margin: 0; }\n"
    "table.page { width: 100%; border-collapse: collapse; }\n"
    "table.page > thead { display: table-header-group; }\n"
    "table.page > thead td { padding-bottom: 3mm; }\n"
    "div.head { border-bottom: 1px solid #000; padding-bottom: 1mm; }\n"
    "div.head h1 { font-size: 13pt; margin: 0 0 1mm 0; }\n"
    "div.head p { margin: 0; overflow-wrap: anywhere; }\n"
    "dl.summary { display: grid; grid-template-columns: max-content auto; gap: 0 4mm; }\n"
    "dl.summary dd { margin: 0; }\n"
    "table.rows { border-collapse: collapse; width: 100%; }\n"
    "table.rows > thead { display: table-header-group; }\n"
    "table.rows th, table.rows td { border: 1px solid #888; padding: 1px 3px; text-align: left;"
    " vertical-align: top; white-space: pre-wrap; overflow-wrap: anywhere; }\n"
    "table.rows td.num { text-align: right; }\n"
    "table.rows tr { break-inside: avoid; }\n";

static void html_head_line(ctm__buf *b, const char *label, const char *value)
{
    put(b, "<p><b>");
    html_escaped(b, label);
    put(b, "</b> ");
    html_escaped(b, value);
    put(b, "</p>\n");
}

static void render_html(ctm__buf *b, const frame *f)
{
    char words[160];
    put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    html_escaped(b, f->def->title);
    put(b, " - ");
    html_escaped(b, f->site);
    put(b, "</title>\n<style>\n");
    put(b, html_style);
    put(b, "</style>\n</head>\n<body>\n<table class=\"page\">\n<thead><tr><td>\n"
           "<div class=\"head\">\n<h1>");
    html_escaped(b, f->def->title);
    put(b, "</h1>\n");
    html_head_line(b, "Site:", f->site);
    trial_words(f, words, sizeof words);
    html_head_line(b, "Trial:", words);
    period_words(f, words, sizeof words);
    html_head_line(b, "Period:", words);
    html_head_line(b, "Generated:", f->generated);
    char cp[256];
    snprintf(cp, sizeof cp, "size %" PRIu64 ", root %s (hex %s)", f->size, f->root_b64,
             f->root_hex);
    html_head_line(b, "Ledger checkpoint:", cp);
    put(b, "</div>\n</td></tr></thead>\n<tbody><tr><td>\n");
    if (f->summary.n > 0) {
        put(b, "<dl class=\"summary\">\n");
        for (int i = 0; i < f->summary.n; i++) {
            put(b, "<dt>");
            html_escaped(b, f->summary.items[i].key);
            put(b, "</dt><dd>");
            html_escaped(b, f->summary.items[i].value != NULL ? f->summary.items[i].value : "-");
            put(b, "</dd>\n");
        }
        put(b, "</dl>\n");
    }
    const ctm__table *t = &f->rows;
    put(b, "<table class=\"rows\">\n<thead><tr>");
    for (int c = 0; c < t->ncols; c++) {
        put(b, "<th>");
        html_escaped(b, t->names[c]);
        put(b, "</th>");
    }
    put(b, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < t->nrows; r++) {
        put(b, "<tr>");
        for (int c = 0; c < t->ncols; c++) {
            const char *v = cell(t, r, c);
            put(b, is_num(t, r, c) ? "<td class=\"num\">" : "<td>");
            html_escaped(b, v != NULL ? v : "");
            put(b, "</td>");
        }
        put(b, "</tr>\n");
    }
    putf(b, "</tbody>\n</table>\n<p>%zu row%s.</p>\n", t->nrows, t->nrows == 1 ? "" : "s");
    put(b, "</td></tr></tbody>\n</table>\n</body>\n</html>\n");
}

/* ---- ctm_report_render ---- */

typedef void (*render_fn)(ctm__buf *b, const frame *f);

static int find_format(const char *format, render_fn *fn)
{
    static const struct {
        const char *name;
        render_fn fn;
    } formats[] = {
        {"text", render_text}, {"csv", render_csv}, {"json", render_json}, {"html", render_html}};
    for (size_t i = 0; format != NULL && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, format) == 0) {
            *fn = formats[i].fn;
            return CTM_OK;
        }
    return ctm__err(CTM_EINVAL, "format: '%.20s' is none of text, csv, json, html",
                    format != NULL ? format : "(null)");
}

/* The report rendered into *out and, unless summary is NULL, its summary into *summary. */
static int render(char **out, ctm_query **summary, ctm_db *db, const char *report,
                  const ctm_report_options *opts, const char *format)
{
    ctm__clear_error();
    if (summary != NULL)
        *summary = NULL;
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    frame f;
    memset(&f, 0, sizeof f);
    render_fn fn = NULL;
    int rc = report_begin(&f.def, db, report, opts, &f.o);
    if (rc == CTM_OK)
        rc = find_format(format, &fn);
    if (rc == CTM_OK) {
        ctm__format_time_seconds(ctm__now_us(), f.generated, sizeof f.generated);
        rc = snapshot_read(db, &f);
    }
    ctm__buf b;
    ctm__buf_init(&b);
    if (rc == CTM_OK) {
        fn(&b, &f);
        ctm__buf_u8(&b, 0);
        if (b.oom)
            rc = ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (rc == CTM_OK && summary != NULL)
        rc = summary_query(summary, db, &f.summary);
    if (rc == CTM_OK) {
        *out = (char *)b.p;
        b.p = NULL;
    }
    ctm__buf_free(&b);
    frame_free(&f);
    return rc;
}

int ctm_report_render(char **out, ctm_db *db, const char *report, const ctm_report_options *opts,
                      const char *format)
{
    return render(out, NULL, db, report, opts, format);
}

int ctm_report_render_summary(char **out, ctm_query **summary, ctm_db *db, const char *report,
                              const ctm_report_options *opts, const char *format)
{
    if (summary == NULL) {
        ctm__clear_error();
        if (out != NULL)
            *out = NULL;
        return ctm__err(CTM_EINVAL, "summary: NULL");
    }
    return render(out, summary, db, report, opts, format);
}
