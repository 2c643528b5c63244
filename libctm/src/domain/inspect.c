/* inspect.c - looking ahead and looking back: the supply forecast (kits needed per kit type over
 * the next N days against the stock that can meet them) and the self-inspection (every finding a
 * yearly inspection of 100 % of units looks for).  docs/forecast-and-inspection.md.
 *
 * Forecast rules:
 * - A visit is due when its subject is randomized (not withdrawn or completed; a subject on hold
 *   counts: a hold may end any day), it is not dispensed and has no kits assigned, its window has
 *   not closed before today and its target day is at most today + days.  It would be dispensed on
 *   its target day, or today when that has passed.
 * - Its kits are the schedule's, a DOSE item at the subject's current dose level (as dispensing
 *   reads them), and each kit must last as dispensing asks: its expiry at least the kit type's
 *   do-not-dispense days after that day and to the end of the next visit's window (after the last
 *   visit: the kit type's dispensing days).
 * - Stock: available kits at a location with no open assignment.  The shortfall is the number of
 *   kits the stock cannot give, each visit taking the kits that expire first among those it may
 *   have (best fit: the largest number of kits any choice could give, whatever the order); the
 *   first shortfall is the day of the first visit, in order of day, left short.
 * - Blinding: a kit goes only to a subject of its arm.  The all-arms row of a kit type pools the
 *   arms (every need against every kit), so it is the same for every reader and does not change
 *   when arms are swapped; its shortfall is a lower bound.  Per-arm rows (the true shortfalls,
 *   whose sum is the real one) are given only to readers who see the trial's arms.  A sum of
 *   per-arm shortfalls shown to a blinded reader would move as subjects of one arm come due: it
 *   would tell the arm.
 *
 * Self-inspection rules: see ctm_self_inspection() in ctm.h.  No finding names an arm, and which
 * findings there are does not depend on arms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "query.h"
#include "randomization.h"
#include "report.h"
#include "visits.h"

/* ---- rows computed in C, handed out as a result set ----
 * A result set steps a statement; a counting statement gives one row per computed row and the
 * transform fills it from the table. */

typedef struct cell {
    int type; /* CTM_NULL, CTM_INTEGER or CTM_TEXT */
    int64_t i;
    char *t;
} cell;

typedef struct table {
    int ncols;
    size_t nrows, cap;
    cell *cells;
} table;

static void table_free(void *p)
{
    table *t = p;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i].t);
    free(t->cells);
    free(t);
}

/* A new row of NULLs, or NULL (out of memory). */
static cell *table_row_add(table *t)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        cell *c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (c == NULL)
            return NULL;
        t->cells = c;
        t->cap = cap;
    }
    cell *row = t->cells + t->nrows * (size_t)t->ncols;
    memset(row, 0, (size_t)t->ncols * sizeof *row);
    t->nrows++;
    return row;
}

static void cell_int(cell *c, int64_t v)
{
    c->type = CTM_INTEGER;
    c->i = v;
}

static int cell_text(cell *c, const char *s)
{
    if (s == NULL)
        return CTM_OK;
    if ((c->t = ctm__strdup(s)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    c->type = CTM_TEXT;
    return CTM_OK;
}

static int cell_day(cell *c, int64_t day)
{
    char text[11];
    ctm__format_date(day, text);
    return cell_text(c, text);
}

static int table_out(ctm__st *st, ctm__row *row, void *ctx)
{
    const table *t = ctx;
    int64_t i = ctm__st_int(st, 0) - 1;
    if (i < 0 || (uint64_t)i >= t->nrows)
        return CTM__SKIP; /* the counting statement's one row of an empty table */
    const cell *c = t->cells + (size_t)i * (size_t)t->ncols;
    for (int col = 0; col < t->ncols; col++) {
        if (c[col].type == CTM_INTEGER)
            ctm__row_set_int(row, col, c[col].i);
        else if (c[col].type == CTM_TEXT) {
            int rc = ctm__row_set_text(row, col, c[col].t);
            if (rc != CTM_OK)
                return rc;
        } else
            ctm__row_set_null(row, col);
    }
    return CTM_OK;
}

/* The result set of t (taken: freed with it, or on failure). */
static int table_query(ctm_query **out, ctm_db *db, const char *const *cols, table *t)
{
    return ctm__rows_query(out, db, t->nrows, cols, t->ncols, table_out, t, table_free);
}

static table *table_new(int ncols)
{
    table *t = calloc(1, sizeof *t);
    if (t != NULL)
        t->ncols = ncols;
    return t;
}

/* A growable array of n items of `size` bytes; NULL when out of memory. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(p, c * size);
    if (q != NULL)
        *cap = c;
    return q;
}

/* ======================================================================================== */
/* ---- the supply forecast ---- */

typedef struct fc_type {
    int64_t id;
    char code[CTM__KIT_CODE_MAX + 1];
    int64_t dnd_days, dispensing_days;
} fc_type;

/* A visit's kits of one kit type. */
typedef struct fc_need {
    int type;     /* index into the kit types */
    int arm;      /* index into the arms; -1: none of them */
    int64_t day;  /* the day it would be dispensed */
    int64_t cutoff; /* the earliest expiry day its kits may have */
    int64_t count;
} fc_need;

typedef struct fc_kit {
    int type, arm;
    int64_t expiry;
} fc_kit;

typedef struct forecast {
    int64_t trial_id, today, through;
    fc_type *types;
    size_t ntypes;
    ctm__arms arms;
    ctm__dated_visit *visits;
    size_t nvisits, visits_cap;
    fc_need *needs;
    size_t nneeds, needs_cap;
    fc_kit *kits;
    size_t nkits, kits_cap;
    int64_t *quarantined; /* per kit type */
} forecast;

static void forecast_free(forecast *f)
{
    free(f->types);
    free(f->visits);
    free(f->needs);
    free(f->kits);
    free(f->quarantined);
}

static int type_index(const forecast *f, int64_t id)
{
    for (size_t i = 0; i < f->ntypes; i++)
        if (f->types[i].id == id)
            return (int)i;
    return -1;
}

static int load_types(ctm_db *db, forecast *f)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT id, code, dnd_days, COALESCE(dispensing_days, 0) FROM kit_types"
                          " WHERE trial_id = ?1 ORDER BY code");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, f->trial_id);
    size_t cap = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        fc_type *p = grow(f->types, &cap, f->ntypes, sizeof *p);
        if (p == NULL) {
            ctm__st_finalize(st);
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
        f->types = p;
        fc_type *k = &f->types[f->ntypes++];
        k->id = ctm__st_int(st, 0);
        snprintf(k->code, sizeof k->code, "%s", ctm__st_text(st, 1));
        k->dnd_days = ctm__st_int(st, 2);
        k->dispensing_days = ctm__st_int(st, 3);
    }
    ctm__st_finalize(st);
    if (src != CTM_OK)
        return ctm__store_fail(src, "reading kit types");
    f->quarantined = calloc(f->ntypes ? f->ntypes : 1, sizeof *f->quarantined);
    return f->quarantined == NULL ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
}

/* The schedule walk keeps the visits that are due (rules above). */
static int keep_due(void *ctx, const ctm__dated_visit *v)
{
    forecast *f = ctx;
    if (!v->randomized || v->dispensed || v->assigned || v->to < f->today || v->due > f->through)
        return CTM_OK;
    ctm__dated_visit *p = grow(f->visits, &f->visits_cap, f->nvisits, sizeof *p);
    if (p == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    f->visits = p;
    f->visits[f->nvisits++] = *v;
    return CTM_OK;
}

/* The kits of a visit at a dose level, read once per visit and level. */
typedef struct kits_cache {
    int64_t visit_id, level;
    int n;
    ctm__visit_kit kits[CTM__VISIT_MAX_KITS];
} kits_cache;

static int visit_kits_cached(ctm_db *db, const forecast *f, const ctm__dated_visit *v,
                             kits_cache **cache, size_t *ncache, size_t *cap,
                             const kits_cache **got)
{
    for (size_t i = 0; i < *ncache; i++)
        if ((*cache)[i].visit_id == v->visit_id && (*cache)[i].level == v->level) {
            *got = &(*cache)[i];
            return CTM_OK;
        }
    kits_cache *p = grow(*cache, cap, *ncache, sizeof *p);
    if (p == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    *cache = p;
    kits_cache *c = &p[*ncache];
    memset(c, 0, sizeof *c);
    c->visit_id = v->visit_id;
    c->level = v->level;
    ctm__subject s;
    memset(&s, 0, sizeof s);
    s.id = v->subject_id;
    s.trial_id = f->trial_id;
    int rc = ctm__visit_kits(db, &s, v->visit_id, (int)v->level, c->kits, CTM__VISIT_MAX_KITS,
                             &c->n);
    if (rc != CTM_OK)
        return rc;
    (*ncache)++;
    *got = c;
    return CTM_OK;
}

/* Each due visit's needs, per kit type, with the day and the expiry its kits need. */
static int build_needs(ctm_db *db, forecast *f)
{
    kits_cache *cache = NULL;
    size_t ncache = 0, cap = 0;
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < f->nvisits; i++) {
        const ctm__dated_visit *v = &f->visits[i];
        const kits_cache *k = NULL;
        if ((rc = visit_kits_cached(db, f, v, &cache, &ncache, &cap, &k)) != CTM_OK)
            break;
        int64_t day = v->due > f->today ? v->due : f->today;
        for (int j = 0; j < k->n; j++) {
            int type = type_index(f, k->kits[j].kit_type_id);
            if (type < 0)
                continue;
            int64_t until = day + k->kits[j].dnd_days;
            int64_t last = !v->has_next           ? day + k->kits[j].dispensing_days
                           : v->next_from_previous ? day + v->next_last
                                                   : v->next_to;
            fc_need *p = grow(f->needs, &f->needs_cap, f->nneeds, sizeof *p);
            if (p == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            f->needs = p;
            fc_need *n = &f->needs[f->nneeds++];
            n->type = type;
            n->arm = ctm__arms_find(&f->arms, v->arm);
            n->day = day;
            n->cutoff = until > last ? until : last;
            n->count = k->kits[j].count;
        }
    }
    free(cache);
    return rc;
}

static int load_kits(ctm_db *db, forecast *f)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.kit_type_id, k.arm, COALESCE(k.expiry, l.expiry), k.status"
                          " FROM kits k JOIN lots l ON l.id = k.lot_id"
                          " WHERE k.trial_id = ?1 AND (k.status = 'quarantined'"
                          " OR (k.status = 'available' AND k.location_id IS NOT NULL"
                          " AND NOT EXISTS (SELECT 1 FROM dispensations d WHERE d.kit_id = k.id"
                          " AND d.status = 'assigned')))");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, f->trial_id);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int type = type_index(f, ctm__st_int(st, 0));
        if (type < 0)
            continue;
        if (strcmp(ctm__st_text(st, 3), "quarantined") == 0) {
            f->quarantined[type]++;
            continue;
        }
        int64_t expiry = 0;
        if ((rc = ctm__parse_date("expiry", ctm__st_text(st, 2), &expiry)) != CTM_OK)
            break;
        fc_kit *p = grow(f->kits, &f->kits_cap, f->nkits, sizeof *p);
        if (p == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
        f->kits = p;
        fc_kit *k = &f->kits[f->nkits++];
        k->type = type;
        k->arm = ctm__st_type(st, 1) == CTM_V_NULL ? -1
                                                   : ctm__arms_find(&f->arms, ctm__st_text(st, 1));
        k->expiry = expiry;
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading kits");
    ctm__st_finalize(st);
    return rc;
}

static int cmp_need(const void *a, const void *b)
{
    const fc_need *x = a, *y = b;
    if (x->day != y->day)
        return (x->day > y->day) - (x->day < y->day);
    return (x->cutoff > y->cutoff) - (x->cutoff < y->cutoff);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The next kit not taken at or after i (with path halving); n: none. */
static size_t next_free(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* One row's figures, for the needs and kits of kit type `type` (and arm `arm`, or every arm
 * when arm is -2). */
typedef struct fc_figures {
    int64_t visits, needed, available, dispensable, shortfall, first_short; /* -1: none */
} fc_figures;

static int figures(const forecast *f, int type, int arm, fc_figures *out)
{
    memset(out, 0, sizeof *out);
    out->first_short = -1;
    int64_t *expiry = malloc((f->nkits ? f->nkits : 1) * sizeof *expiry);
    size_t *parent = malloc((f->nkits + 1) * sizeof *parent);
    if (expiry == NULL || parent == NULL) {
        free(expiry);
        free(parent);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    size_t n = 0;
    int64_t still = f->through + f->types[type].dnd_days;
    for (size_t i = 0; i < f->nkits; i++)
        if (f->kits[i].type == type && (arm == -2 || f->kits[i].arm == arm)) {
            expiry[n++] = f->kits[i].expiry;
            out->dispensable += f->kits[i].expiry >= still;
        }
    out->available = (int64_t)n;
    qsort(expiry, n, sizeof *expiry, cmp_i64);
    for (size_t i = 0; i <= n; i++)
        parent[i] = i;
    /* needs are sorted by day: each takes the kits expiring first among those it may have */
    for (size_t i = 0; i < f->nneeds; i++) {
        const fc_need *nd = &f->needs[i];
        if (nd->type != type || (arm != -2 && nd->arm != arm))
            continue;
        out->visits++;
        out->needed += nd->count;
        size_t lo = 0, hi = n; /* the first kit expiring on or after the cutoff */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (expiry[mid] < nd->cutoff)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (int64_t c = 0; c < nd->count; c++) {
            size_t k = next_free(parent, lo);
            if (k == n) {
                out->shortfall += nd->count - c;
                if (out->first_short < 0)
                    out->first_short = nd->day;
                break;
            }
            parent[k] = k + 1;
        }
    }
    free(expiry);
    free(parent);
    return CTM_OK;
}

static const char *const forecast_columns[] = {
    "kit_type", "arm", "through", "visits_due", "kits_needed", "kits_available",
    "kits_dispensable", "kits_quarantined", "shortfall", "first_shortfall",
};
#define FORECAST_NCOLS ((int)(sizeof forecast_columns / sizeof forecast_columns[0]))

static int forecast_row(table *t, const forecast *f, int type, int arm)
{
    fc_figures g;
    int rc = figures(f, type, arm, &g);
    cell *c = rc == CTM_OK ? table_row_add(t) : NULL;
    if (rc == CTM_OK && c == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK)
        rc = cell_text(&c[0], f->types[type].code);
    if (rc == CTM_OK && arm >= 0)
        rc = cell_text(&c[1], f->arms.code[arm]);
    if (rc == CTM_OK)
        rc = cell_day(&c[2], f->through);
    if (rc != CTM_OK)
        return rc;
    cell_int(&c[3], g.visits);
    cell_int(&c[4], g.needed);
    cell_int(&c[5], g.available);
    cell_int(&c[6], g.dispensable);
    if (arm == -2)
        cell_int(&c[7], f->quarantined[type]);
    cell_int(&c[8], g.shortfall);
    return g.first_short >= 0 ? cell_day(&c[9], g.first_short) : CTM_OK;
}

int ctm__report_forecast(ctm_query **out, ctm_db *db, const char *trial, int days)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "forecast", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK && (days < 1 || days > 3650))
        rc = ctm__err(CTM_EINVAL, "days: %d; give 1 to 3650", days);
    if (rc != CTM_OK)
        return rc;
    forecast f;
    memset(&f, 0, sizeof f);
    f.trial_id = t.id;
    f.today = ctm__today();
    f.through = f.today + days;
    int per_arm = ctm__blind_sees_trial(db, t.blinded);
    rc = ctm__arms_load(db, t.id, &f.arms);
    if (rc == CTM_OK)
        rc = load_types(db, &f);
    if (rc == CTM_OK)
        rc = ctm__schedule_each(db, t.id, keep_due, &f);
    if (rc == CTM_OK)
        rc = build_needs(db, &f);
    if (rc == CTM_OK)
        rc = load_kits(db, &f);
    if (rc == CTM_OK && f.nneeds > 0)
        qsort(f.needs, f.nneeds, sizeof *f.needs, cmp_need);
    table *out_rows = rc == CTM_OK ? table_new(FORECAST_NCOLS) : NULL;
    if (rc == CTM_OK && out_rows == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    for (size_t i = 0; rc == CTM_OK && i < f.ntypes; i++) {
        rc = forecast_row(out_rows, &f, (int)i, -2);
        for (int a = 0; rc == CTM_OK && per_arm && a < f.arms.n; a++)
            rc = forecast_row(out_rows, &f, (int)i, a);
    }
    forecast_free(&f);
    if (rc != CTM_OK) {
        table_free(out_rows);
        return rc;
    }
    return table_query(out, db, forecast_columns, out_rows);
}

int ctm_forecast(ctm_query **out, ctm_db *db, const char *trial, int days)
{
    ctm__clear_error();
    return ctm__report_forecast(out, db, trial, days);
}

/* ======================================================================================== */
/* ---- the self-inspection ---- */

static const char *const inspection_columns[] = {
    "category", "trial", "reference", "subject", "detail", "since",
};
enum { I_CATEGORY, I_TRIAL, I_REFERENCE, I_SUBJECT, I_DETAIL, I_SINCE, I_NCOLS };

/* One finding; subject may be NULL, since a day. */
static int finding(table *t, const char *category, const char *trial, const char *reference,
                   const char *subject, const char *detail, int64_t since)
{
    cell *c = table_row_add(t);
    if (c == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    int rc = cell_text(&c[I_CATEGORY], category);
    if (rc == CTM_OK)
        rc = cell_text(&c[I_TRIAL], trial);
    if (rc == CTM_OK)
        rc = cell_text(&c[I_REFERENCE], reference);
    if (rc == CTM_OK)
        rc = cell_text(&c[I_SUBJECT], subject);
    if (rc == CTM_OK)
        rc = cell_text(&c[I_DETAIL], detail);
    if (rc == CTM_OK)
        rc = cell_day(&c[I_SINCE], since);
    return rc;
}

/* The trials inspected: the one named, or every trial, in code order. */
typedef struct trial_ref {
    int64_t id;
    char code[65];
} trial_ref;

static int load_trials(ctm_db *db, int64_t only, trial_ref **out, size_t *n)
{
    ctm__st *st = NULL;
    *out = NULL;
    *n = 0;
    int rc = ctm__prepare(db, &st, "SELECT id, code FROM trials WHERE ?1 IS NULL OR id = ?1"
                                   " ORDER BY code");
    if (rc != CTM_OK)
        return rc;
    if (only != 0)
        ctm__st_bind_int(st, 1, only);
    size_t cap = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        trial_ref *p = grow(*out, &cap, *n, sizeof *p);
        if (p == NULL) {
            ctm__st_finalize(st);
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
        *out = p;
        p[*n].id = ctm__st_int(st, 0);
        snprintf(p[*n].code, sizeof p[*n].code, "%s", ctm__st_text(st, 1));
        (*n)++;
    }
    ctm__st_finalize(st);
    return src == CTM_OK ? CTM_OK : ctm__store_fail(src, "reading trials");
}

/* Receipt discrepancies: every one recorded for the trial's shipments (they stay on file). */
static int find_discrepancies(ctm_db *db, table *t, const trial_ref *tr)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT s.number, d.kit_number, d.kind, d.detail, d.recorded_us"
                          " FROM discrepancies d JOIN shipments s ON s.id = d.shipment_id"
                          " WHERE s.trial_id = ?1 ORDER BY d.recorded_us, d.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, tr->id);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        char ref[96], detail[512];
        snprintf(ref, sizeof ref, "shipment %s", ctm__st_text(st, 0));
        if (ctm__st_type(st, 1) != CTM_V_NULL)
            snprintf(detail, sizeof detail, "shipment %s: kit %s %s at receipt: %s",
                     ctm__st_text(st, 0), ctm__st_text(st, 1), ctm__st_text(st, 2),
                     ctm__st_text(st, 3));
        else
            snprintf(detail, sizeof detail, "shipment %s: %s at receipt: %s",
                     ctm__st_text(st, 0), ctm__st_text(st, 2), ctm__st_text(st, 3));
        rc = finding(t, "discrepancy", tr->code, ref, NULL, detail,
                     ctm__utc_day(ctm__st_int(st, 4)));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading discrepancies");
    ctm__st_finalize(st);
    return rc;
}

/* ---- overdue returns ---- */

typedef struct visits_of {
    ctm__dated_visit *v;
    size_t n, cap;
} visits_of;

static int keep_visit(void *ctx, const ctm__dated_visit *v)
{
    visits_of *a = ctx;
    ctm__dated_visit *p = grow(a->v, &a->cap, a->n, sizeof *p);
    if (p == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    a->v = p;
    a->v[a->n++] = *v;
    return CTM_OK;
}

/* The walk gives the visits in order of subject id: the subject's first by bisection, then its
 * few visits one by one. */
static const ctm__dated_visit *visit_of(const visits_of *a, int64_t subject, int64_t visit)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->v[mid].subject_id < subject)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < a->n && a->v[i].subject_id == subject; i++)
        if (a->v[i].visit_id == visit)
            return &a->v[i];
    return NULL;
}

/* Kits with their subjects and not back (no row of kit_returns) after the day they were due back:
 * the end of the next visit's window, counted from the dispensing when that visit is anchored
 * on it; after the last visit, the dispensing day plus the kit type's dispensing days (a kit type
 * without: never overdue). */
static int find_overdue(ctm_db *db, table *t, const trial_ref *tr, int64_t today)
{
    visits_of a = {0};
    int rc = ctm__schedule_each(db, tr->id, keep_visit, &a);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT d.subject_id, d.visit_id, k.kit_number, kt.code,"
                          " COALESCE(kt.dispensing_days, 0), d.dispensed_us, s.screening"
                          " FROM dispensations d JOIN kits k ON k.id = d.kit_id"
                          " JOIN kit_types kt ON kt.id = k.kit_type_id"
                          " JOIN subjects s ON s.id = d.subject_id"
                          " WHERE s.trial_id = ?1 AND d.status = 'dispensed'"
                          " AND k.status = 'dispensed' AND d.dispensed_us IS NOT NULL"
                          " AND NOT EXISTS (SELECT 1 FROM kit_returns r WHERE r.kit_id = k.id)"
                          " ORDER BY k.kit_number");
    if (rc != CTM_OK) {
        free(a.v);
        return rc;
    }
    ctm__st_bind_int(st, 1, tr->id);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        const ctm__dated_visit *v = visit_of(&a, ctm__st_int(st, 0), ctm__st_int(st, 1));
        int64_t handed = ctm__utc_day(ctm__st_int(st, 5)), back;
        char why[96], on[11], by[11], detail[512];
        if (v != NULL && v->has_next) {
            back = v->next_from_previous ? handed + v->next_last : v->next_to;
            snprintf(why, sizeof why, "the end of visit %s's window", v->next_code);
        } else if (ctm__st_int(st, 4) > 0) {
            back = handed + ctm__st_int(st, 4);
            snprintf(why, sizeof why, "the end of its %lld dispensing days",
                     (long long)ctm__st_int(st, 4));
        } else {
            continue;
        }
        if (back >= today)
            continue;
        ctm__format_date(handed, on);
        ctm__format_date(back, by);
        snprintf(detail, sizeof detail,
                 "kit %s (%s) dispensed to subject %s at visit %s on %s was due back by %s (%s);"
                 " no return or loss is recorded",
                 ctm__st_text(st, 2), ctm__st_text(st, 3), ctm__st_text(st, 6),
                 v != NULL ? v->code : "?", on, by, why);
        rc = finding(t, "overdue_return", tr->code, ctm__st_text(st, 2), ctm__st_text(st, 6),
                     detail, back + 1);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading dispensations");
    ctm__st_finalize(st);
    free(a.v);
    return rc;
}

/* Kits still counted as stock (received, available, quarantined) past their expiry (the kit's
 * own, else its lot's: a kit expires at the end of that day), then bulk stock of expired lots. */
static int find_expired(ctm_db *db, table *t, const trial_ref *tr, int64_t today)
{
    char today_text[11];
    ctm__format_date(today, today_text);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.kit_number, kt.code, l.batch, COALESCE(k.expiry, l.expiry),"
                          " k.status, loc.name FROM kits k JOIN lots l ON l.id = k.lot_id"
                          " JOIN kit_types kt ON kt.id = k.kit_type_id"
                          " LEFT JOIN locations loc ON loc.id = k.location_id"
                          " WHERE k.trial_id = ?1"
                          " AND k.status IN ('received', 'available', 'quarantined')"
                          " AND COALESCE(k.expiry, l.expiry) < ?2 ORDER BY k.kit_number");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, tr->id);
    ctm__st_bind_text(st, 2, today_text);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t expiry = 0;
        if ((rc = ctm__parse_date("expiry", ctm__st_text(st, 3), &expiry)) != CTM_OK)
            break;
        char detail[512];
        int at = ctm__st_type(st, 5) != CTM_V_NULL;
        snprintf(detail, sizeof detail, "kit %s (%s, lot %s) expired on %s and is still %s%s%s",
                 ctm__st_text(st, 0), ctm__st_text(st, 1), ctm__st_text(st, 2),
                 ctm__st_text(st, 3), ctm__st_text(st, 4), at ? " at " : "",
                 at ? ctm__st_text(st, 5) : "");
        rc = finding(t, "expired_on_hand", tr->code, ctm__st_text(st, 0), NULL, detail,
                     expiry + 1);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading kits");
    ctm__st_finalize(st);
    if (rc != CTM_OK)
        return rc;
    rc = ctm__prepare(db, &st,
                      "SELECT l.batch, kt.code, l.expiry, b.units, loc.name FROM bulk_stock b"
                      " JOIN lots l ON l.id = b.lot_id JOIN kit_types kt ON kt.id = l.kit_type_id"
                      " JOIN locations loc ON loc.id = b.location_id"
                      " WHERE l.trial_id = ?1 AND b.units > 0 AND l.expiry < ?2"
                      " ORDER BY l.batch, loc.name");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, tr->id);
    ctm__st_bind_text(st, 2, today_text);
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t expiry = 0;
        if ((rc = ctm__parse_date("expiry", ctm__st_text(st, 2), &expiry)) != CTM_OK)
            break;
        char ref[64], detail[512];
        snprintf(ref, sizeof ref, "lot %s", ctm__st_text(st, 0));
        snprintf(detail, sizeof detail, "lot %s (%s) expired on %s; %lld units are still at %s",
                 ctm__st_text(st, 0), ctm__st_text(st, 1), ctm__st_text(st, 2),
                 (long long)ctm__st_int(st, 3), ctm__st_text(st, 4));
        rc = finding(t, "expired_on_hand", tr->code, ref, NULL, detail, expiry + 1);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading bulk stock");
    ctm__st_finalize(st);
    return rc;
}

/* Excursions no decision closed (status open) that concern the trial: a shipment of it, or a
 * location holding kits of it that the excursion recorded.  trial_id 0: every one. */
static int find_excursions(ctm_db *db, table *t, int64_t trial_id, const char *trial)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(
        db, &st,
        "SELECT e.id, COALESCE(loc.name, 'shipment ' || s.number), e.kind, e.minutes,"
        " e.start_us, e.ongoing, (SELECT COUNT(*) FROM excursion_kits ek"
        "  WHERE ek.excursion_id = e.id), st.code"
        " FROM excursions e LEFT JOIN locations loc ON loc.id = e.location_id"
        " LEFT JOIN shipments s ON s.id = e.shipment_id"
        " LEFT JOIN trials st ON st.id = s.trial_id"
        " WHERE e.status = 'open' AND (?1 IS NULL OR s.trial_id = ?1 OR EXISTS (SELECT 1"
        "  FROM excursion_kits ek JOIN kits k ON k.id = ek.kit_id"
        "  WHERE ek.excursion_id = e.id AND k.trial_id = ?1))"
        " ORDER BY e.start_us, e.id");
    if (rc != CTM_OK)
        return rc;
    if (trial_id != 0)
        ctm__st_bind_int(st, 1, trial_id);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        char ref[32], start[32], detail[512];
        snprintf(ref, sizeof ref, "excursion %lld", (long long)ctm__st_int(st, 0));
        ctm__format_time_seconds(ctm__st_int(st, 4), start, sizeof start);
        snprintf(detail, sizeof detail,
                 "excursion %lld at %s (%s, %lld minutes%s from %s) awaits the sponsor's "
                 "decision; %lld kits recorded with it",
                 (long long)ctm__st_int(st, 0), ctm__st_text(st, 1), ctm__st_text(st, 2),
                 (long long)ctm__st_int(st, 3), ctm__st_int(st, 5) ? ", ongoing" : "", start,
                 (long long)ctm__st_int(st, 6));
        const char *tc = trial != NULL ? trial
                         : ctm__st_type(st, 7) != CTM_V_NULL ? ctm__st_text(st, 7) : NULL;
        rc = finding(t, "open_excursion", tc, ref, NULL, detail,
                     ctm__utc_day(ctm__st_int(st, 4)));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading excursions");
    ctm__st_finalize(st);
    return rc;
}

/* ---- the ledger: missing e-signatures and each account's last action ---- */

typedef struct account {
    char name[65];
    char role[16];
    int64_t created_us;
    int64_t last_us; /* -1: no action recorded */
} account;

static int load_accounts(ctm_db *db, account **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT username, role, created_us FROM users"
                                   " WHERE disabled = 0 ORDER BY username");
    if (rc != CTM_OK)
        return rc;
    size_t cap = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        account *p = grow(*out, &cap, *n, sizeof *p);
        if (p == NULL) {
            ctm__st_finalize(st);
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
        *out = p;
        account *a = &p[(*n)++];
        snprintf(a->name, sizeof a->name, "%s", ctm__st_text(st, 0));
        snprintf(a->role, sizeof a->role, "%s", ctm__st_text(st, 1));
        a->created_us = ctm__st_int(st, 2);
        a->last_us = -1;
    }
    ctm__st_finalize(st);
    return src == CTM_OK ? CTM_OK : ctm__store_fail(src, "reading users");
}

/* The entry's action as text, when it fits. */
static int head_action(const ctm__entry_head *h, char *buf, size_t len)
{
    if (h->action_len >= len)
        return 0;
    memcpy(buf, h->action, h->action_len);
    buf[h->action_len] = '\0';
    return 1;
}

/* Whether a decoded entry of an action that may need an e-signature lacks the one it needs. */
static int entry_unsigned(int64_t seq, const uint8_t *p, size_t n, char *user, size_t ulen,
                          int *missing)
{
    ctm__entry e;
    char why[128];
    *missing = 0;
    if (ctm__entry_decode_each(&e, p, n, NULL, NULL, why, sizeof why) != 0)
        return ctm__err(CTM_EINTEGRITY, "ledger seq %lld: entry cannot be decoded: %s",
                        (long long)seq, why);
    *missing = ctm__action_needs_esig(e.action, e.params, e.nparams) && !e.has_esig;
    snprintf(user, ulen, "%s", e.user);
    ctm__entry_free(&e);
    return CTM_OK;
}

/* One pass over the ledger: entries that need an e-signature and have none (findings), and the
 * newest action of each account (a failed login attempt is not one). */
static int scan_ledger(ctm_db *db, table *t, account *acc, size_t nacc)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT seq, entry FROM ledger ORDER BY seq");
    if (rc != CTM_OK)
        return rc;
    ctm__st_stream(st);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t seq = ctm__st_int(st, 0);
        const uint8_t *p = ctm__st_blob(st, 1);
        size_t n = ctm__st_bytes(st, 1);
        ctm__entry_head h;
        char action[64];
        if (ctm__entry_head_read(p, n, &h) != 0 || !head_action(&h, action, sizeof action)) {
            rc = ctm__err(CTM_EINTEGRITY, "ledger seq %lld: entry cannot be read",
                          (long long)seq);
            break;
        }
        if (strcmp(action, "auth.failed") != 0)
            for (size_t i = 0; i < nacc; i++)
                if (strlen(acc[i].name) == h.user_len &&
                    memcmp(acc[i].name, h.user, h.user_len) == 0 && h.time_us > acc[i].last_us)
                    acc[i].last_us = h.time_us;
        const ctm__action_def *d = ctm__action_find(action);
        if (d == NULL || d->esig == CTM_ESIG_NEVER || d->esig == CTM_ESIG_CALLER)
            continue;
        int missing = 0;
        char user[65];
        if ((rc = entry_unsigned(seq, p, n, user, sizeof user, &missing)) != CTM_OK || !missing)
            continue;
        char ref[32], when[32], detail[512];
        snprintf(ref, sizeof ref, "seq %lld", (long long)seq);
        ctm__format_time_seconds(h.time_us, when, sizeof when);
        snprintf(detail, sizeof detail,
                 "ledger entry %lld (%s by %s at %s) needs an e-signature (\"%s\") and has none",
                 (long long)seq, action, user, when, d->meaning != NULL ? d->meaning : "");
        rc = finding(t, "missing_signature", NULL, ref, NULL, detail, ctm__utc_day(h.time_us));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the ledger");
    ctm__st_finalize(st);
    return rc;
}

/* Enabled accounts with no action for more than stale_days: since their newest action, or,
 * for an account that has none, since it was created (a new account is not stale: its owner
 * has not had the time to act). */
static int find_stale(table *t, const account *acc, size_t nacc, int64_t now_us, int stale_days)
{
    int64_t limit = now_us - (int64_t)stale_days * CTM__DAY_US;
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < nacc; i++) {
        const account *a = &acc[i];
        int never = a->last_us < 0;
        if ((never ? a->created_us : a->last_us) >= limit)
            continue;
        char when[11], detail[512];
        ctm__format_date(ctm__utc_day(never ? a->created_us : a->last_us), when);
        if (never)
            snprintf(detail, sizeof detail,
                     "user %s (%s) is enabled and has recorded no action since the account was"
                     " created on %s", a->name, a->role, when);
        else
            snprintf(detail, sizeof detail,
                     "user %s (%s) is enabled and last recorded an action on %s, more than %d "
                     "days ago", a->name, a->role, when, stale_days);
        rc = finding(t, "stale_access", NULL, a->name, NULL, detail,
                     ctm__utc_day(never ? a->created_us : a->last_us));
    }
    return rc;
}

int ctm__report_self_inspection(ctm_query **out, ctm_db *db, const char *trial, int stale_days)
{
    ctm__trial tr;
    int rc = ctm__listing_begin(out, db, "self-inspection", trial, &tr);
    if (rc == CTM_OK && (stale_days < 1 || stale_days > 3650))
        rc = ctm__err(CTM_EINVAL, "stale days: %d; give 1 to 3650", stale_days);
    if (rc != CTM_OK)
        return rc;
    int64_t now = ctm__now_us(), today = ctm__utc_day(now);
    trial_ref *trials = NULL;
    account *acc = NULL;
    size_t ntrials = 0, nacc = 0;
    table *t = table_new(I_NCOLS);
    if (t == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK)
        rc = load_trials(db, tr.id, &trials, &ntrials);
    for (size_t i = 0; rc == CTM_OK && i < ntrials; i++)
        rc = find_discrepancies(db, t, &trials[i]);
    for (size_t i = 0; rc == CTM_OK && i < ntrials; i++)
        rc = find_overdue(db, t, &trials[i], today);
    for (size_t i = 0; rc == CTM_OK && i < ntrials; i++)
        rc = find_expired(db, t, &trials[i], today);
    if (rc == CTM_OK)
        rc = find_excursions(db, t, tr.id, trial);
    if (rc == CTM_OK)
        rc = load_accounts(db, &acc, &nacc);
    if (rc == CTM_OK)
        rc = scan_ledger(db, t, acc, nacc);
    if (rc == CTM_OK)
        rc = find_stale(t, acc, nacc, now, stale_days);
    free(trials);
    free(acc);
    if (rc != CTM_OK) {
        table_free(t);
        return rc;
    }
    return table_query(out, db, inspection_columns, t);
}

int ctm_self_inspection(ctm_query **out, ctm_db *db, const char *trial, int stale_days)
{
    ctm__clear_error();
    return ctm__report_self_inspection(out, db, trial, stale_days);
}
