/* query.c - result sets: the one shape every listing and report takes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "query.h"

struct ctm_query {
    ctm__st *st;
    char **names;
    ctm__row row;
    char **shown;           /* text renderings of numbers, made on demand */
    ctm__row_fn fn;
    ctm_query *inner;       /* a mapped result set's source (ctm__query_map), else NULL */
    ctm__map_fn map;
    void *ctx;
    void (*ctx_free)(void *);
    int finished;
};

static void row_clear(ctm_query *q)
{
    for (int i = 0; i < q->row.ncols; i++) {
        free(q->row.texts[i]);
        free(q->shown[i]);
        q->row.texts[i] = NULL;
        q->shown[i] = NULL;
        q->row.types[i] = CTM_NULL;
        q->row.ints[i] = 0;
        q->row.reals[i] = 0;
    }
}

void ctm_query_free(ctm_query *q)
{
    if (q == NULL)
        return;
    if (q->row.types != NULL)
        row_clear(q);
    ctm__st_finalize(q->st);
    ctm_query_free(q->inner);
    if (q->names != NULL)
        for (int i = 0; i < q->row.ncols; i++)
            free(q->names[i]);
    free(q->names);
    free(q->row.types);
    free(q->row.ints);
    free(q->row.reals);
    free(q->row.texts);
    free(q->row.shows);
    free(q->shown);
    if (q->ctx_free != NULL)
        q->ctx_free(q->ctx);
    free(q);
}

/* The columns of a new result set q (its source and context set): names given, or the
 * statement's.  On failure q is freed. */
static int query_columns(ctm_query **out, ctm_query *q, const char *const *colnames, int ncols)
{
    int n = colnames != NULL ? ncols : ctm__st_ncols(q->st);
    q->row.ncols = n;
    size_t cells = n > 0 ? (size_t)n : 1;
    q->names = calloc(cells, sizeof *q->names);
    q->row.types = calloc(cells, sizeof *q->row.types);
    q->row.ints = calloc(cells, sizeof *q->row.ints);
    q->row.reals = calloc(cells, sizeof *q->row.reals);
    q->row.texts = calloc(cells, sizeof *q->row.texts);
    q->row.shows = calloc(cells, sizeof *q->row.shows);
    q->shown = calloc(cells, sizeof *q->shown);
    int ok = q->names && q->row.types && q->row.ints && q->row.reals && q->row.texts &&
             q->row.shows && q->shown;
    for (int i = 0; ok && i < n; i++) {
        q->names[i] = ctm__strdup(colnames != NULL ? colnames[i] : ctm__st_colname(q->st, i));
        ok = q->names[i] != NULL;
    }
    if (!ok) {
        ctm_query_free(q);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    *out = q;
    return CTM_OK;
}

int ctm__query_new(ctm_query **out, ctm__st *st, const char *const *colnames, int ncols,
                   ctm__row_fn fn, void *ctx, void (*ctx_free)(void *))
{
    *out = NULL;
    ctm_query *q = calloc(1, sizeof *q);
    if (q == NULL) {
        ctm__st_finalize(st);
        if (ctx_free != NULL)
            ctx_free(ctx);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    q->st = st;
    ctm__st_stream(st); /* a listing of any length holds one row at a time */
    q->fn = fn;
    q->ctx = ctx;
    q->ctx_free = ctx_free;
    return query_columns(out, q, colnames, ncols);
}

int ctm__query_map(ctm_query **out, ctm_query *inner, const char *const *colnames, int ncols,
                   ctm__map_fn fn, void *ctx, void (*ctx_free)(void *))
{
    *out = NULL;
    ctm_query *q = calloc(1, sizeof *q);
    if (q == NULL) {
        ctm_query_free(inner);
        if (ctx_free != NULL)
            ctx_free(ctx);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    q->inner = inner;
    q->map = fn;
    q->ctx = ctx;
    q->ctx_free = ctx_free;
    return query_columns(out, q, colnames, ncols);
}

int ctm__row_set_text(ctm__row *row, int col, const char *s)
{
    free(row->texts[col]);
    row->texts[col] = NULL;
    if (s == NULL) {
        row->types[col] = CTM_NULL;
        return CTM_OK;
    }
    row->texts[col] = ctm__strdup(s);
    row->types[col] = CTM_TEXT;
    return row->texts[col] != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

void ctm__row_set_int(ctm__row *row, int col, int64_t v)
{
    row->types[col] = CTM_INTEGER;
    row->ints[col] = v;
}

void ctm__row_set_real(ctm__row *row, int col, double v)
{
    free(row->texts[col]);
    row->texts[col] = NULL;
    row->types[col] = CTM_REAL;
    row->reals[col] = v;
}

void ctm__row_set_null(ctm__row *row, int col)
{
    free(row->texts[col]);
    row->texts[col] = NULL;
    row->types[col] = CTM_NULL;
}

int ctm__query_show(ctm_query **q, enum ctm__show how, ...)
{
    va_list ap;
    va_start(ap, how);
    int rc = CTM_OK;
    for (const char *name; rc == CTM_OK && (name = va_arg(ap, const char *)) != NULL;) {
        int col = 0;
        while (col < (*q)->row.ncols && strcmp((*q)->names[col], name) != 0)
            col++;
        if (col < (*q)->row.ncols)
            (*q)->row.shows[col] = (unsigned char)how;
        else
            rc = ctm__err(CTM_EMISUSE, "result set: no column \"%.64s\" to show", name);
    }
    va_end(ap);
    if (rc != CTM_OK) {
        ctm_query_free(*q);
        *q = NULL;
    }
    return rc;
}

/* The ways a column is shown otherwise than stored (enum ctm__show). */
static int show_time(ctm__st *st, ctm__row *row, int col)
{
    char buf[32];
    ctm__format_time_seconds(ctm__st_int(st, col), buf, sizeof buf);
    return ctm__row_set_text(row, col, buf);
}

static int show_hex(ctm__st *st, ctm__row *row, int col)
{
    size_t n = ctm__st_bytes(st, col);
    if (n > (SIZE_MAX - 1) / 2)
        return ctm__err(CTM_ENOMEM, "out of memory");
    char *hex = malloc(2 * n + 1);
    if (hex == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    ctm__hex(ctm__st_blob(st, col), n, hex);
    free(row->texts[col]);
    row->texts[col] = hex;
    row->types[col] = CTM_TEXT;
    return CTM_OK;
}

int ctm__row_copy(ctm__st *st, ctm__row *row)
{
    for (int i = 0; i < row->ncols; i++) {
        int type = ctm__st_type(st, i);
        if (row->shows[i] == CTM__SHOW_TIME && type == CTM_V_INT) {
            if (show_time(st, row, i) != CTM_OK)
                return CTM_ENOMEM;
            continue;
        }
        if (row->shows[i] == CTM__SHOW_HEX && type != CTM_V_NULL) {
            if (show_hex(st, row, i) != CTM_OK)
                return CTM_ENOMEM;
            continue;
        }
        switch (type) {
        case CTM_V_INT:
            ctm__row_set_int(row, i, ctm__st_int(st, i));
            break;
        case CTM_V_REAL:
            row->types[i] = CTM_REAL;
            row->reals[i] = ctm__st_real(st, i);
            break;
        case CTM_V_NULL:
            ctm__row_set_null(row, i);
            break;
        default:
            if (ctm__row_set_text(row, i, ctm__st_text(st, i)) != CTM_OK)
                return CTM_ENOMEM;
            break;
        }
    }
    return CTM_OK;
}

int ctm_query_next(ctm_query *q)
{
    ctm__clear_error();
    if (q == NULL)
        return ctm__err(CTM_EMISUSE, "query: NULL");
    for (;;) {
        row_clear(q);
        if (q->finished)
            return CTM_DONE;
        int rc = q->inner != NULL ? ctm_query_next(q->inner) : ctm__st_step(q->st);
        if (rc == CTM_OK || rc == CTM_DONE) {
            q->finished = 1;
            return CTM_DONE;
        }
        if (rc != CTM_ROW)
            return q->inner != NULL ? rc : ctm__store_fail(rc, "reading results");
        if (q->inner != NULL)
            rc = q->map(q->inner, &q->row, q->ctx);
        else
            rc = q->fn != NULL ? q->fn(q->st, &q->row, q->ctx) : ctm__row_copy(q->st, &q->row);
        if (rc == CTM_DONE)
            q->finished = 1;
        if (rc != CTM__SKIP)
            return rc == CTM_OK ? CTM_ROW : rc;
    }
}

int ctm_query_column_count(const ctm_query *q)
{
    return q != NULL ? q->row.ncols : 0;
}

const char *ctm_query_column_name(const ctm_query *q, int col)
{
    if (q == NULL || col < 0 || col >= q->row.ncols)
        return NULL;
    return q->names[col];
}

int ctm_query_column_index(const ctm_query *q, const char *name)
{
    ctm__clear_error();
    if (q == NULL)
        return ctm__err(CTM_EINVAL, "query: NULL");
    if (name == NULL)
        return ctm__err(CTM_EINVAL, "column name: NULL");
    for (int i = 0; i < q->row.ncols; i++)
        if (strcmp(q->names[i], name) == 0)
            return i;
    return ctm__err(CTM_ENOTFOUND, "column name: no column \"%.64s\" in this result", name);
}

int ctm_query_column_type(const ctm_query *q, int col)
{
    if (q == NULL || col < 0 || col >= q->row.ncols)
        return CTM_NULL;
    return q->row.types[col];
}

const char *ctm_query_text(ctm_query *q, int col)
{
    if (q == NULL || col < 0 || col >= q->row.ncols)
        return NULL;
    char buf[64];
    switch (q->row.types[col]) {
    case CTM_TEXT:
        return q->row.texts[col];
    case CTM_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)q->row.ints[col]);
        break;
    case CTM_REAL:
        snprintf(buf, sizeof buf, "%.15g", q->row.reals[col]);
        break;
    default:
        return NULL;
    }
    if (q->shown[col] == NULL)
        q->shown[col] = ctm__strdup(buf);
    return q->shown[col];
}

int64_t ctm_query_int64(const ctm_query *q, int col)
{
    if (q == NULL || col < 0 || col >= q->row.ncols)
        return 0;
    switch (q->row.types[col]) {
    case CTM_INTEGER:
        return q->row.ints[col];
    case CTM_REAL:
        return (int64_t)q->row.reals[col];
    case CTM_TEXT:
        return strtoll(q->row.texts[col], NULL, 10);
    default:
        return 0;
    }
}

double ctm_query_double(const ctm_query *q, int col)
{
    if (q == NULL || col < 0 || col >= q->row.ncols)
        return 0.0;
    switch (q->row.types[col]) {
    case CTM_INTEGER:
        return (double)q->row.ints[col];
    case CTM_REAL:
        return q->row.reals[col];
    case CTM_TEXT:
        return strtod(q->row.texts[col], NULL);
    default:
        return 0.0;
    }
}

/* ---- a listing read whole ---- */

const char *ctm__table_cell(const ctm__table *t, size_t row, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0)
            return row < t->nrows ? t->cells[row * (size_t)t->ncols + (size_t)c] : NULL;
    return NULL;
}

void ctm__table_free(ctm__table *t)
{
    for (int c = 0; t->names != NULL && c < t->ncols; c++)
        free(t->names[c]);
    for (size_t i = 0; t->cells != NULL && i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->names);
    free(t->cells);
    free(t->num);
    memset(t, 0, sizeof *t);
}

static int table_grow(ctm__table *t)
{
    if (t->nrows < t->cap)
        return CTM_OK;
    size_t cap = t->cap ? 2 * t->cap : 16, per = t->ncols > 0 ? (size_t)t->ncols : 1;
    char **cells = realloc(t->cells, cap * per * sizeof *cells);
    if (cells == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    t->cells = cells;
    unsigned char *num = realloc(t->num, cap * per);
    if (num == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    t->num = num;
    t->cap = cap;
    return CTM_OK;
}

int ctm__table_read(ctm_query *q, int rc, ctm__table *t)
{
    memset(t, 0, sizeof *t);
    if (rc != CTM_OK)
        return rc;
    t->ncols = ctm_query_column_count(q);
    t->names = calloc(t->ncols > 0 ? (size_t)t->ncols : 1, sizeof *t->names);
    rc = t->names == NULL ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
    for (int c = 0; rc == CTM_OK && c < t->ncols; c++)
        if ((t->names[c] = ctm__strdup(ctm_query_column_name(q, c))) == NULL)
            rc = ctm__err(CTM_ENOMEM, "out of memory");
    int step = CTM_DONE;
    while (rc == CTM_OK && (step = ctm_query_next(q)) == CTM_ROW && (rc = table_grow(t)) == CTM_OK) {
        size_t base = t->nrows++ * (size_t)t->ncols;
        for (int c = 0; c < t->ncols; c++) {
            const char *v = ctm_query_text(q, c);
            int type = ctm_query_column_type(q, c);
            t->num[base + (size_t)c] = type == CTM_INTEGER || type == CTM_REAL;
            t->cells[base + (size_t)c] = v != NULL ? ctm__strdup(v) : NULL;
            if (v != NULL && t->cells[base + (size_t)c] == NULL)
                rc = ctm__err(CTM_ENOMEM, "out of memory");
        }
    }
    if (rc == CTM_OK && step != CTM_DONE)
        rc = step;
    ctm_query_free(q);
    if (rc != CTM_OK)
        ctm__table_free(t);
    return rc;
}
