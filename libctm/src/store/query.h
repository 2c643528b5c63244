/* query.h - result sets over a prepared statement of the store: ctm_query (internal). */
#ifndef CTM_QUERY_H
#define CTM_QUERY_H

#include "store.h"

/* A result set over a prepared statement; `transform`, when given, may rewrite the row values
 * (used by the audit log to decode entries). */
typedef struct ctm__row {
    int ncols;
    int *types;
    int64_t *ints;
    double *reals;
    char **texts;
    unsigned char *shows; /* per column: 0 as the statement gives it, else an enum ctm__show */
} ctm__row;
/* A transform returns CTM_OK for a row, CTM__SKIP to pass over this one (ctm_query_next() steps
 * on), CTM_DONE to end the result set early, or a negative status. */
#define CTM__SKIP 1
typedef int (*ctm__row_fn)(ctm__st *st, ctm__row *row, void *ctx);
int ctm__query_new(ctm_query **out, ctm__st *st, const char *const *colnames, int ncols,
                   ctm__row_fn fn, void *ctx, void (*ctx_free)(void *));
/* A result set over another (inner, which it owns and frees): each row inner hands out reaches
 * fn, which fills the new result set's row (columns colnames[0..ncols-1]) and returns as a
 * transform does.  For a view of a listing that renames, drops or adds columns (reports). */
typedef int (*ctm__map_fn)(ctm_query *inner, ctm__row *row, void *ctx);
int ctm__query_map(ctm_query **out, ctm_query *inner, const char *const *colnames, int ncols,
                   ctm__map_fn fn, void *ctx, void (*ctx_free)(void *));
/* What portable SQL cannot compute, the result set does: a column shown as `how` is read from the
 * statement as the stored value and given to the caller as text.  A NULL stays NULL. */
enum ctm__show {
    CTM__SHOW_TIME = 1, /* UTC microseconds (an integer) as "YYYY-MM-DDTHH:MM:SSZ" */
    CTM__SHOW_HEX = 2   /* a byte string as lower-case hex */
};
/* Show the named columns of *q (a list ended by NULL) as `how`, before its first row.  A name
 * that is not a column of *q is a bug: CTM_EMISUSE, *q freed and NULL. */
int ctm__query_show(ctm_query **q, enum ctm__show how, ...) __attribute__((sentinel));
/* Copy the statement's current row into row as the result set shows it (for transforms that
 * rewrite only some columns). */
int ctm__row_copy(ctm__st *st, ctm__row *row);
/* Setters for transforms: the row owns copies. */
int ctm__row_set_text(ctm__row *row, int col, const char *s);
void ctm__row_set_int(ctm__row *row, int col, int64_t v);
void ctm__row_set_real(ctm__row *row, int col, double v);
void ctm__row_set_null(ctm__row *row, int col);

/* A listing read whole: its column names, and each cell as text (NULL for NULL) with whether it
 * is a number (JSON writes it bare).  ctm__table_read reads q to its end into t and frees q; t
 * is emptied first, so that ctm__table_free is safe after any return; rc: the status of making
 * q (not CTM_OK: returned, nothing read). */
typedef struct ctm__table {
    int ncols;
    char **names;
    size_t nrows, cap;
    char **cells;
    unsigned char *num;
} ctm__table;
int ctm__table_read(ctm_query *q, int rc, ctm__table *t);
void ctm__table_free(ctm__table *t);
/* The cell of row `row` in the column called name; NULL for NULL, for no such column or row. */
const char *ctm__table_cell(const ctm__table *t, size_t row, const char *name);

#endif
