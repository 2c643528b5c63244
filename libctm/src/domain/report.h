/* report.h - the registry of reports behind ctm_report() and ctm_report_render() (internal).
 *
 * A report is one row of the table in report.c: a name, a title, the options it reads, a
 * function that gives its rows as a ctm_query (as every listing does) and, optionally, one that
 * gives its summary (key/value pairs shown above the rows): read from the site, or drawn from
 * the rows once the renderer has read them (summary_of_rows), for a report whose summary would
 * otherwise cost as much as its rows again.  The framework does the rest alike
 * for every report: it checks the options (a date that is not YYYY-MM-DD, an option the report
 * does not read: CTM_EINVAL naming it), and renders text, CSV, JSON or HTML with the site, the
 * trial, the period and the signed checkpoint the rows were read under.
 *
 * Rules for a report's functions:
 * - They get the options already checked and copied whole (struct_size is the library's): dates
 *   are valid "YYYY-MM-DD" or NULL, from <= to, days >= -1 (-1: the report's default).
 * - Blinding is theirs as for any listing: a blinded reader sees "(blinded)" for an arm
 *   (blinding.h), and nothing they show (values, counts, order) may vary with an arm.
 * - The rows are read inside the renderer's read transaction: they only read.
 * - Errors name the field and value (ctm__err), as everywhere.
 *
 * To add a report: write its rows (and summary) function, declare it here, add one row to
 * `reports` in report.c, and document it in docs/reports.md. */
#ifndef CTM_REPORT_H
#define CTM_REPORT_H

#include "internal.h"

/* What a report shows above its rows: at most CTM__SUMMARY_MAX items, in the order added.
 * Keys are [a-z0-9_] (JSON members at the top level: not one of the header's names, "report",
 * "title", "site", "trial", "as_of", "from", "to", "generated_at", "checkpoint", "rows");
 * values are copied. */
#define CTM__SUMMARY_MAX 24
typedef struct ctm__report_summary {
    int n;
    struct {
        char key[40];
        char *value; /* malloc'd; NULL shows as null / "-" */
        int number;  /* the value is a number (JSON writes it bare) */
    } items[CTM__SUMMARY_MAX];
} ctm__report_summary;
int ctm__summary_text(ctm__report_summary *s, const char *key, const char *value);
int ctm__summary_int(ctm__report_summary *s, const char *key, int64_t value);
/* true or false (JSON writes it bare) */
int ctm__summary_bool(ctm__report_summary *s, const char *key, int value);
void ctm__summary_free(ctm__report_summary *s);

/* Rows computed in memory, handed out as a result set: fn fills row i (1..n: column 0 of the
 * statement st it is given) from ctx and returns CTM_DONE past n (n 0: no rows).  ctx is owned by
 * the result set (freed with ctx_free, also on failure).  For the reconciliation's rows and a
 * rendered report's summary. */
int ctm__rows_query(ctm_query **out, ctm_db *db, size_t n, const char *const *names, int ncols,
                    ctm__row_fn fn, void *ctx, void (*ctx_free)(void *));

/* The options a report reads (ctm__report_def.takes); any other given is refused. */
enum {
    CTM__REPORT_NEEDS_TRIAL = 1, /* the report is of one trial: trial NULL is refused */
    CTM__REPORT_AS_OF = 2,       /* as_of */
    CTM__REPORT_PERIOD = 4,      /* from and to */
    CTM__REPORT_DAYS = 8,        /* days */
    CTM__REPORT_KIT_TYPE = 16    /* kit_type */
};

typedef struct ctm__report_def {
    const char *name;  /* "inventory": what ctm_report() is given */
    const char *title; /* "Inventory of kits on hand": the heading of the rendered report */
    unsigned takes;    /* CTM__REPORT_* */
    int (*rows)(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
    /* NULL: no summary */
    int (*summary)(ctm__report_summary *s, ctm_db *db, const ctm_report_options *opts);
    /* NULL, or (instead of summary) the summary drawn from the rows as read (query.h) */
    int (*summary_of_rows)(ctm__report_summary *s, const struct ctm__table *rows);
} ctm__report_def;

/* The reports' own functions (one file each). */
int ctm__inventory_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
int ctm__inventory_summary(ctm__report_summary *s, ctm_db *db, const ctm_report_options *opts);
int ctm__audit_trail_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
int ctm__subjects_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
int ctm__subjects_summary(ctm__report_summary *s, ctm_db *db, const ctm_report_options *opts);
int ctm__forecast_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
int ctm__inspection_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
/* reconcile.c: "reconciliation" (summary of its rows: balanced, breaks, received) and "darf" */
int ctm__reconciliation_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);
int ctm__reconciliation_summary(ctm__report_summary *s, const struct ctm__table *rows);
int ctm__darf_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts);

#endif
