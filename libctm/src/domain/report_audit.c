/*
 * report_audit.c - the "audit" report: the audit trail as a person reads it (21 CFR 11.10(e),
 * ICH E6 4.2.2): who (user and printed name), when (UTC), what (the action and its row changes
 * in words), why (the reason) and each e-signature's manifestation (printed name, time, meaning).
 *
 * The entries are ctm_audit_query()'s, filtered by trial and period there: what a blinded reader
 * is shown (values as "(blinded)") and which entries a filter selects are decided there alone;
 * this file only picks and names columns and adds the acting user's printed name.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *const columns[] = {
    "seq",    "time",    "user",      "printed_name", "action",
    "reason", "changes", "esig_name", "esig_time",    "esig_meaning",
};
#define NCOLS ((int)(sizeof columns / sizeof columns[0]))
/* where each column comes from in ctm_audit_query()'s result; printed_name is ours */
static const char *const sources[NCOLS] = {
    "seq",    "time",            "user",      NULL,        "action",
    "reason", "changes_summary", "esig_name", "esig_time", "esig_meaning",
};
#define COL_PRINTED 3

typedef struct user_name {
    char *user, *printed;
} user_name;

typedef struct trail_ctx {
    int src[NCOLS];   /* the source column of each, or -1 */
    user_name *users; /* every user's printed name, read once: users are few */
    size_t nusers;
} trail_ctx;

static void trail_ctx_free(void *v)
{
    trail_ctx *c = v;
    for (size_t i = 0; c != NULL && i < c->nusers; i++) {
        free(c->users[i].user);
        free(c->users[i].printed);
    }
    if (c != NULL)
        free(c->users);
    free(c);
}

static int load_users(ctm_db *db, trail_ctx *c)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT username, printed_name FROM users ORDER BY username");
    if (rc != CTM_OK)
        return rc;
    size_t cap = 0;
    while ((rc = ctm__st_step(st)) == CTM_ROW) {
        if (c->nusers == cap) {
            cap = cap ? 2 * cap : 16;
            user_name *grown = realloc(c->users, cap * sizeof *grown);
            if (grown == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            c->users = grown;
        }
        user_name *u = &c->users[c->nusers];
        u->user = ctm__strdup(ctm__st_text(st, 0));
        u->printed = ctm__strdup(ctm__st_text(st, 1));
        c->nusers++;
        if (u->user == NULL || u->printed == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
    }
    ctm__st_finalize(st);
    return rc == CTM_OK ? CTM_OK : rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc, "audit report");
}

static const char *printed_name(const trail_ctx *c, const char *user)
{
    for (size_t i = 0; user != NULL && i < c->nusers; i++)
        if (strcmp(c->users[i].user, user) == 0)
            return c->users[i].printed;
    return NULL;
}

static int trail_row(ctm_query *in, ctm__row *row, void *vctx)
{
    const trail_ctx *c = vctx;
    int rc = CTM_OK;
    for (int i = 0; rc == CTM_OK && i < NCOLS; i++) {
        if (i == COL_PRINTED)
            rc = ctm__row_set_text(row, i, printed_name(c, ctm_query_text(in, c->src[2])));
        else if (ctm_query_column_type(in, c->src[i]) == CTM_INTEGER)
            ctm__row_set_int(row, i, ctm_query_int64(in, c->src[i]));
        else
            rc = ctm__row_set_text(row, i, ctm_query_text(in, c->src[i]));
    }
    return rc;
}

int ctm__audit_trail_rows(ctm_query **out, ctm_db *db, const ctm_report_options *o)
{
    *out = NULL;
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.trial = o->trial;
    f.since = o->from;
    f.until = o->to != NULL ? o->to : o->as_of;
    trail_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    ctm_query *in = NULL;
    int rc = ctm_audit_query(&in, db, &f);
    if (rc == CTM_OK)
        rc = load_users(db, c);
    for (int i = 0; rc == CTM_OK && i < NCOLS; i++) {
        c->src[i] = sources[i] != NULL ? ctm_query_column_index(in, sources[i]) : -1;
        if (sources[i] != NULL && c->src[i] < 0)
            rc = ctm__err(CTM_ERROR, "audit report: the audit log has no column %s", sources[i]);
    }
    if (rc != CTM_OK) {
        ctm_query_free(in);
        trail_ctx_free(c);
        return rc;
    }
    return ctm__query_map(out, in, columns, NCOLS, trail_row, c, trail_ctx_free);
}
