/*
 * report_subjects.c - the "subjects" report: accountability and compliance per subject, one row
 * per subject, visit and kit type (the rows of ctm_compliance(), returns.c), with a summary of
 * what a monitor looks at first: the visits outside the trial's limits and those with no figure.
 *
 * The rows show no arm, and nothing in them (values, counts, order: screening number, visit,
 * kit type) depends on one.  The report is of one trial (its limits are the trial's).
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

int ctm__subjects_rows(ctm_query **out, ctm_db *db, const ctm_report_options *o)
{
    return ctm_compliance(out, db, o->trial, NULL);
}

/* Counts of the rows by flag: every row counted once. */
int ctm__subjects_summary(ctm__report_summary *s, ctm_db *db, const ctm_report_options *o)
{
    ctm_query *q = NULL;
    int rc = ctm_compliance(&q, db, o->trial, NULL);
    if (rc != CTM_OK)
        return rc;
    int flag = ctm_query_column_index(q, "flag"), subject = ctm_query_column_index(q, "screening");
    int64_t rows = 0, low = 0, high = 0, pending = 0, subjects = 0;
    char last[128] = "";
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *f = ctm_query_text(q, flag), *who = ctm_query_text(q, subject);
        rows++;
        low += strcmp(f, "low") == 0;
        high += strcmp(f, "high") == 0;
        pending += strcmp(f, "not returned") == 0 || strcmp(f, "lost") == 0 ||
                   strcmp(f, "not counted") == 0;
        if (who != NULL && strcmp(who, last) != 0) {
            subjects++;
            snprintf(last, sizeof last, "%s", who);
        }
    }
    ctm_query_free(q);
    if (rc != CTM_DONE)
        return rc;
    rc = ctm__summary_int(s, "subjects", subjects);
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "visits", rows);
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "below_limit", low);
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "above_limit", high);
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "no_figure", pending);
    return rc;
}
