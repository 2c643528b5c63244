/* dispensing.c - kits to subjects: assignment chosen at random among eligible kits, scan-to-verify
 * with the pharmacist's e-signature, cancellation, replacement, reversal, dispensing recorded
 * after the fact; and emergency unblinding.
 *
 * The dispensation statuses have one table of their changes, as kits have theirs: nothing else
 * writes dispensations.status.  A kit's own status moves through the stock module's transition
 * table (ctm__kit_status_move). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "randomization.h"
#include "visits.h"

static const struct {
    const char *from, *to;
} dispensation_moves[] = {
    { "assigned", "dispensed" }, /* scan-to-verify */
    { "assigned", "cancelled" }, /* not handed over */
    { "assigned", "replaced" },  /* damaged or lost before it was handed over */
    { "dispensed", "replaced" }, /* damaged or lost by the subject */
    { "dispensed", "reversed" }, /* dispensed in error */
};

static int dispensation_move_allowed(const char *from, const char *to)
{
    for (size_t i = 0; i < sizeof dispensation_moves / sizeof dispensation_moves[0]; i++)
        if (strcmp(dispensation_moves[i].from, from) == 0 &&
            strcmp(dispensation_moves[i].to, to) == 0)
            return 1;
    return 0;
}

/* Move a dispensation from `from` to `to`, with its reason when given and, when dispensed_us is
 * not 0, the time it was handed over (recorded now). */
static int dispensation_move(ctm_db *db, int64_t id, const char *from, const char *to,
                             const char *reason, int64_t dispensed_us)
{
    if (!dispensation_move_allowed(from, to))
        return ctm__err(CTM_ERULE, "a dispensation %s cannot become %s", from, to);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE dispensations SET status = ?3, reason = COALESCE(?4, reason),"
                          " dispensed_us = COALESCE(?5, dispensed_us),"
                          " recorded_us = COALESCE(?6, recorded_us) WHERE id = ?1 AND status = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    ctm__st_bind_text(st, 2, from);
    ctm__st_bind_text(st, 3, to);
    ctm__st_bind_text(st, 4, reason);
    if (dispensed_us != 0) {
        ctm__st_bind_int(st, 5, dispensed_us);
        ctm__st_bind_int(st, 6, ctm__now_us());
    }
    int64_t changed = 0;
    rc = ctm__step_changed(db, st, "changing the dispensation", &changed);
    return rc != CTM_OK || changed == 1
               ? rc
               : ctm__err(CTM_ERULE, "the dispensation changed meanwhile");
}

/* ---- the subject ---- */

/* A subject who may be dispensed to. */
static int subject_dispensable(const ctm__subject *s, const char *screening)
{
    if (strcmp(s->status, "randomized") != 0)
        return ctm__err(CTM_ERULE, "subject %s is %s: only randomized subjects are dispensed to",
                        screening, s->status);
    if (s->on_hold)
        return ctm__err(CTM_ERULE, "subject %s is on dose hold: resume dispensing first",
                        screening);
    return CTM_OK;
}

/* Begin the action `name` on a subject: its first parameters the trial and the subject, and
 * the subject read under the write lock, where the action decides (a hold or a withdrawal by
 * another workstation must be seen), and when `dispensable` required to be.  On failure
 * nothing is left open. */
static int begin_on_subject(ctm__action *a, ctm_db *db, const char *name, const char *reason,
                            const ctm__trial *t, const char *trial, const char *screening,
                            int dispensable, ctm__subject *s)
{
    int rc = ctm__action_begin(a, db, name, reason);
    if (rc != CTM_OK)
        return rc;
    ctm__action_param(a, "trial", trial);
    ctm__action_param(a, "subject", screening);
    rc = ctm__subject_lookup(db, t->id, trial, screening, s);
    if (rc == CTM_OK && dispensable)
        rc = subject_dispensable(s, screening);
    if (rc != CTM_OK)
        ctm__action_rollback(a);
    return rc;
}

/* ---- choosing a kit ---- */

/* What a kit must satisfy, besides being of the trial, the kit type and the arm. */
typedef struct need {
    int64_t kit_type_id;
    char kit_type[65];
    int count;
    int64_t dnd_days, dispensing_days; /* the kit type's */
    char cutoff[11]; /* the earliest expiry that lasts long enough */
} need;

#define ELIGIBLE_FROM                                                                          \
    " FROM kits k JOIN lots l ON l.id = k.lot_id"                                             \
    " WHERE k.trial_id = ?1 AND k.kit_type_id = ?2 AND k.arm = ?3 AND k.status = 'available'" \
    " AND k.location_id IS NOT NULL AND COALESCE(k.expiry, l.expiry) >= ?4"                   \
    " AND NOT EXISTS (SELECT 1 FROM dispensations d WHERE d.kit_id = k.id"                     \
    " AND d.status = 'assigned')"

static void bind_eligible(ctm__st *st, int64_t trial_id, const need *n, const char *arm)
{
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_int(st, 2, n->kit_type_id);
    ctm__st_bind_text(st, 3, arm);
    ctm__st_bind_text(st, 4, n->cutoff);
}

static int count_of(ctm__st *st, int64_t *n)
{
    int rc = ctm__st_step(st);
    *n = rc == CTM_ROW ? ctm__st_int(st, 0) : 0;
    ctm__st_reset(st);
    return rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc == CTM_OK ? CTM_ERROR : rc, "reading kits");
}

/* Why no kit is eligible, for the pharmacist, without a count or an arm: the reason concerns the
 * subject's arm, but says nothing of its stock beyond "none that can be given". */
static int no_eligible(ctm_db *db, int64_t trial_id, const need *n, const char *arm,
                       const char *screening)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT count(*) FROM kits k WHERE k.trial_id = ?1 AND"
                          " k.kit_type_id = ?2 AND k.arm = ?3 AND k.status = ?4"
                          " AND k.location_id IS NOT NULL");
    int64_t available = 0, quarantined = 0;
    const char *statuses[2] = { "available", "quarantined" };
    int64_t *counts[2] = { &available, &quarantined };
    for (int i = 0; rc == CTM_OK && i < 2; i++) {
        ctm__st_bind_int(st, 1, trial_id);
        ctm__st_bind_int(st, 2, n->kit_type_id);
        ctm__st_bind_text(st, 3, arm);
        ctm__st_bind_text(st, 4, statuses[i]);
        rc = count_of(st, counts[i]);
    }
    ctm__st_finalize(st);
    if (rc != CTM_OK)
        return rc;
    const char *why = available > 0 ? "the kits left expire too soon (the do-not-dispense window"
                                      " or the end of the next visit's window) or are assigned"
                      : quarantined > 0 ? "the kits left are quarantined"
                                        : "none is left";
    return ctm__err(CTM_ERULE, "no eligible kit of kit type %s for subject %s: %s", n->kit_type,
                    screening, why);
}

typedef struct chosen {
    int64_t kit_id;
    char number[48];
} chosen;

/* One kit drawn uniformly at random among the eligible ones.  The lowest number, or any order a
 * reader could predict, would tell the arm of the kits left.  A draw of an id between the lowest
 * and highest id of the subject's arm's available kits of the kit type, taken only when that id
 * is an eligible kit (rejection), costs a few index lookups however many kits the site holds;
 * after PROBES misses (eligible kits few among those ids) the kit is drawn by a random offset
 * into all eligible kits.  Each way gives every eligible kit the same chance, so their mixture
 * does too. */
#define PROBES 32

#define AVAILABLE_OF_ARM \
    " FROM kits WHERE trial_id = ?1 AND kit_type_id = ?2 AND arm = ?3 AND status = 'available'"

/* The lowest and highest id of the arm's available kits of the kit type (*found 0: none), each
 * from the end of the kits_for_dispensing index. */
static int id_bounds(ctm_db *db, int64_t trial_id, const need *n, const char *arm, int64_t *lo,
                     int64_t *hi, int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT (SELECT id" AVAILABLE_OF_ARM " ORDER BY id LIMIT 1),"
                          " (SELECT id" AVAILABLE_OF_ARM " ORDER BY id DESC LIMIT 1)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_int(st, 2, n->kit_type_id);
    ctm__st_bind_text(st, 3, arm);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL;
    if (*found) {
        *lo = ctm__st_int(st, 0);
        *hi = ctm__st_int(st, 1);
    } else if (src != CTM_ROW) {
        rc = ctm__store_fail(src == CTM_OK ? CTM_ERROR : src, "reading kits");
    }
    ctm__st_finalize(st);
    return rc;
}

static int probe(ctm_db *db, int64_t trial_id, const need *n, const char *arm, chosen *out,
                 int *hit)
{
    int64_t lo = 0, hi = 0;
    int found = 0;
    *hit = 0;
    int rc = id_bounds(db, trial_id, n, arm, &lo, &hi, &found);
    if (rc != CTM_OK || !found || hi - lo >= UINT32_MAX)
        return rc;
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st, "SELECT k.id, k.kit_number" ELIGIBLE_FROM " AND k.id = ?5");
    for (int i = 0; rc == CTM_OK && i < PROBES && !*hit; i++) {
        ctm__st_reset(st);
        bind_eligible(st, trial_id, n, arm);
        ctm__st_bind_int(st, 5, lo + (int64_t)randombytes_uniform((uint32_t)(hi - lo + 1)));
        int src = ctm__st_step(st);
        if (src == CTM_ROW) {
            *hit = 1;
            out->kit_id = ctm__st_int(st, 0);
            snprintf(out->number, sizeof out->number, "%s", ctm__st_text(st, 1));
        } else if (src != CTM_OK) {
            rc = ctm__store_fail(src, "choosing a kit");
        }
    }
    ctm__st_finalize(st);
    return rc;
}

static int choose(ctm_db *db, int64_t trial_id, const need *n, const char *arm,
                  const char *screening, chosen *out)
{
    int hit = 0;
    int rc = probe(db, trial_id, n, arm, out, &hit);
    if (rc != CTM_OK || hit)
        return rc;
    ctm__st *count = NULL, *pick = NULL;
    rc = ctm__prepare(db, &count, "SELECT count(*)" ELIGIBLE_FROM);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &pick,
                          "SELECT k.id, k.kit_number" ELIGIBLE_FROM
                          " ORDER BY k.id LIMIT 1 OFFSET ?5");
    int64_t eligible = 0;
    if (rc == CTM_OK) {
        bind_eligible(count, trial_id, n, arm);
        rc = count_of(count, &eligible);
    }
    if (rc == CTM_OK && eligible == 0)
        rc = no_eligible(db, trial_id, n, arm, screening);
    if (rc == CTM_OK) {
        bind_eligible(pick, trial_id, n, arm);
        ctm__st_bind_int(pick, 5, (int64_t)randombytes_uniform(
                                       eligible > UINT32_MAX ? UINT32_MAX : (uint32_t)eligible));
        int src = ctm__st_step(pick);
        if (src == CTM_ROW) {
            out->kit_id = ctm__st_int(pick, 0);
            snprintf(out->number, sizeof out->number, "%s", ctm__st_text(pick, 1));
        } else {
            rc = ctm__store_fail(src == CTM_OK ? CTM_ERROR : src, "choosing a kit");
        }
    }
    ctm__st_finalize(count);
    ctm__st_finalize(pick);
    return rc;
}

static int insert_dispensation(ctm_db *db, int64_t subject_id, int64_t visit_id, int64_t kit_id,
                               const char *status, int dose_level, int64_t dispensed_us,
                               int64_t replaces_id, const char *override_reason,
                               const char *reason)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO dispensations(subject_id, visit_id, kit_id, status,"
                          " dose_level, assigned_us, dispensed_us, recorded_us, replaces_id,"
                          " override_reason, reason)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (rc != CTM_OK)
        return rc;
    int64_t now = ctm__now_us();
    ctm__st_bind_int(st, 1, subject_id);
    ctm__st_bind_int(st, 2, visit_id);
    ctm__st_bind_int(st, 3, kit_id);
    ctm__st_bind_text(st, 4, status);
    if (dose_level > 0)
        ctm__st_bind_int(st, 5, dose_level);
    ctm__st_bind_int(st, 6, now);
    if (dispensed_us != 0) {
        ctm__st_bind_int(st, 7, dispensed_us);
        ctm__st_bind_int(st, 8, now);
    }
    if (replaces_id != 0)
        ctm__st_bind_int(st, 9, replaces_id);
    ctm__st_bind_text(st, 10, override_reason);
    ctm__st_bind_text(st, 11, reason);
    return ctm__step_done(db, st, "recording the dispensation");
}

/* ---- the schedule (visits.c computes the windows) ---- */

typedef struct visit_plan {
    ctm__visit_when when;     /* the visit, its window and the next visit */
    int nneeds;
    need needs[CTM__VISIT_MAX_KITS];
    int dose_level;           /* the subject's level before this visit (0: no titration) */
    int new_level;            /* the level dispensed at it */
} visit_plan;

/* Record the subject's level: the start level at its first visit, a change counted. */
static int titration_apply(ctm_db *db, const ctm__subject *s, const visit_plan *p, int64_t now_us)
{
    if (p->new_level == 0 || (p->new_level == s->dose_level))
        return CTM_OK;
    int changed = s->dose_level > 0 || p->new_level != p->dose_level;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          changed ? "UPDATE subjects SET dose_level = ?2, titrations = titrations"
                                    " + 1, titrated_us = ?3 WHERE id = ?1"
                                  : "UPDATE subjects SET dose_level = ?2 WHERE id = ?1 AND ?3 = ?3");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, s->id);
    ctm__st_bind_int(st, 2, p->new_level);
    ctm__st_bind_int(st, 3, now_us);
    return ctm__step_done(db, st, "recording the dose level");
}

/* The kit types and counts of the visit at the level dispensed. */
static int visit_needs(ctm_db *db, const ctm__subject *s, visit_plan *p)
{
    ctm__visit_kit kits[CTM__VISIT_MAX_KITS];
    int n = 0;
    int rc = ctm__visit_kits(db, s, p->when.visit_id, p->new_level, kits, CTM__VISIT_MAX_KITS, &n);
    for (int i = 0; rc == CTM_OK && i < n; i++) {
        p->needs[i].kit_type_id = kits[i].kit_type_id;
        snprintf(p->needs[i].kit_type, sizeof p->needs[i].kit_type, "%s", kits[i].kit_type);
        p->needs[i].count = kits[i].count;
        p->needs[i].dnd_days = kits[i].dnd_days;
        p->needs[i].dispensing_days = kits[i].dispensing_days;
    }
    p->nneeds = n;
    return rc;
}

/* The expiry a kit needs to last: past the do-not-dispense days from `day`, and to the end of
 * the next visit's window (after the last visit: `day` plus the kit type's dispensing days).
 * The next visit's window ends its day (and its days after) past this dispensing, or past the
 * randomization. */
static void set_cutoffs(const ctm__subject *s, int64_t day, visit_plan *p)
{
    const ctm__visit_when *w = &p->when;
    int64_t next_to = !w->has_next ? -1
                      : (w->next_from_previous ? day : ctm__utc_day(s->randomized_us)) +
                            w->next_last;
    for (int i = 0; i < p->nneeds; i++) {
        int64_t until = day + p->needs[i].dnd_days;
        int64_t last = next_to >= 0 ? next_to : day + p->needs[i].dispensing_days;
        ctm__format_date(until > last ? until : last, p->needs[i].cutoff);
    }
}

/* The visit's window, kits and dose level for the subject, checked for a dispensing on `day`
 * (the window only when check_window: a replacement belongs to a visit already made). */
static int plan_visit(ctm_db *db, const ctm__subject *s, const char *screening, const char *visit,
                      int64_t day, int direction, int check_window, const char *override_reason,
                      visit_plan *p)
{
    memset(p, 0, sizeof *p);
    int rc = ctm__check_code("visit", visit, 32);
    if (rc == CTM_OK)
        rc = ctm__visit_window(db, s, visit, &p->when);
    if (rc == CTM_OK && check_window && (day < p->when.from_day || day > p->when.to_day) &&
        override_reason == NULL) {
        char from[11], to[11], on[11];
        ctm__format_date(p->when.from_day, from);
        ctm__format_date(p->when.to_day, to);
        ctm__format_date(day, on);
        rc = ctm__err(CTM_ERULE,
                      "visit %s of subject %s: %s is outside its window %s to %s (an unblinded "
                      "pharmacist may override it with a reason)",
                      visit, screening, on, from, to);
    }
    if (rc == CTM_OK && override_reason != NULL && !ctm__blind_sees_all(db))
        rc = ctm__err(CTM_EBLINDED, "dispense: only an unblinded pharmacist may override the "
                                    "visit window");
    /* the level dispensed, one step from the level before (0 and 0 without dose levels) */
    if (rc == CTM_OK)
        rc = ctm__titration_check(db, s, direction, day * CTM__DAY_US, &p->new_level);
    p->dose_level = p->new_level == 0 ? 0 : p->new_level - direction;
    if (rc == CTM_OK)
        rc = visit_needs(db, s, p);
    if (rc == CTM_OK)
        set_cutoffs(s, day, p);
    return rc;
}

/* Refuse a visit the subject already has a dispensation for, other than cancelled ones. */
static int visit_not_done(ctm_db *db, int64_t subject_id, int64_t visit_id, const char *visit,
                          const char *screening)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT status FROM dispensations WHERE subject_id = ?1 AND visit_id = ?2"
                          " AND status IN ('assigned', 'dispensed') LIMIT 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, subject_id);
    ctm__st_bind_int(st, 2, visit_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        rc = ctm__err(CTM_ERULE, "visit %s of subject %s is %s already", visit, screening,
                      ctm__st_text(st, 0));
    else if (src != CTM_OK)
        rc = ctm__store_fail(src, "reading dispensations");
    ctm__st_finalize(st);
    return rc;
}

/* The listing of the subject's open assignments (what ctm_dispense_assign gives back). */
static int assigned_listing(ctm_query **out, ctm_db *db, int64_t subject_id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.kit_number AS kit_number, kt.code AS kit_type, l.batch AS lot,"
                          " COALESCE(k.expiry, l.expiry) AS expiry, loc.name AS location"
                          " FROM dispensations d JOIN kits k ON k.id = d.kit_id"
                          " JOIN kit_types kt ON kt.id = k.kit_type_id"
                          " JOIN lots l ON l.id = k.lot_id"
                          " LEFT JOIN locations loc ON loc.id = k.location_id"
                          " WHERE d.subject_id = ?1 AND d.status = 'assigned' ORDER BY d.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, subject_id);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

/* Assign the plan's kits (replacing `replaces` when not 0). */
static int assign_kits(ctm_db *db, int64_t trial_id, const ctm__subject *s, const char *screening,
                       const visit_plan *p, int64_t replaces, const char *override_reason)
{
    int rc = CTM_OK;
    for (int i = 0; rc == CTM_OK && i < p->nneeds; i++)
        for (int c = 0; rc == CTM_OK && c < p->needs[i].count; c++) {
            chosen k;
            rc = choose(db, trial_id, &p->needs[i], s->arm, screening, &k);
            if (rc == CTM_OK)
                rc = insert_dispensation(db, s->id, p->when.visit_id, k.kit_id, "assigned",
                                         p->new_level, 0, replaces, override_reason, NULL);
        }
    return rc;
}

static void dispense_options(const ctm_dispense_options *opts, ctm_dispense_options *o)
{
    ctm_dispense_options def = CTM_DISPENSE_OPTIONS_INIT;
    *o = def;
    if (opts != NULL)
        memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
}

int ctm_dispense_assign(ctm_query **out, ctm_db *db, const char *trial, const char *screening,
                        const char *visit, const ctm_dispense_options *opts)
{
    ctm__clear_error();
    ctm_dispense_options o;
    dispense_options(opts, &o);
    ctm__trial t;
    ctm__subject s;
    visit_plan p;
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = ctm__require_action(db, "dispense.assign", "dispense assign");
    if (rc == CTM_OK && o.override_reason != NULL)
        rc = ctm__check_text("override reason", o.override_reason, CTM_MAX_REASON);
    if (rc == CTM_OK && (o.titrate < -1 || o.titrate > 1))
        rc = ctm__err(CTM_EINVAL, "titrate: %d; give -1 (down), 0 (keep) or 1 (up)", o.titrate);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.assign", "", &t, trial, screening, 1, &s)) !=
        CTM_OK)
        return rc;
    ctm__action_param(&a, "visit", visit);
    if (o.override_reason != NULL)
        ctm__action_param(&a, "override", o.override_reason);
    /* the rules under the write lock: another workstation may have dispensed since */
    rc = plan_visit(db, &s, screening, visit, ctm__today(), o.titrate, 1, o.override_reason,
                        &p);
    if (rc == CTM_OK)
        rc = visit_not_done(db, s.id, p.when.visit_id, visit, screening);
    if (rc == CTM_OK)
        rc = titration_apply(db, &s, &p, ctm__now_us());
    if (rc == CTM_OK)
        rc = assign_kits(db, t.id, &s, screening, &p, 0, o.override_reason);
    if (rc == CTM_OK)
        rc = ctm__action_commit(&a);
    else
        ctm__action_rollback(&a);
    return rc == CTM_OK ? assigned_listing(out, db, s.id) : rc;
}

/* ---- scan-to-verify ---- */



typedef struct open_row {
    int64_t id, kit_id, visit_id;
    char status[16];
    char number[48];
} open_row;

/* The subject's dispensation of kit `number` in one of the statuses given (NULL: any). */
static int find_dispensation(ctm_db *db, int64_t subject_id, const char *number,
                             const char *status_a, const char *status_b, open_row *r, int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT d.id, d.kit_id, d.visit_id, d.status, k.kit_number"
                          " FROM dispensations d JOIN kits k ON k.id = d.kit_id"
                          " WHERE d.subject_id = ?1 AND k.kit_number = ?2"
                          " AND d.status IN (?3, ?4) ORDER BY d.id DESC LIMIT 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, subject_id);
    ctm__st_bind_text(st, 2, number);
    ctm__st_bind_text(st, 3, status_a);
    ctm__st_bind_text(st, 4, status_b);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    if (src == CTM_ROW) {
        r->id = ctm__st_int(st, 0);
        r->kit_id = ctm__st_int(st, 1);
        r->visit_id = ctm__st_int(st, 2);
        snprintf(r->status, sizeof r->status, "%s", ctm__st_text(st, 3));
        snprintf(r->number, sizeof r->number, "%s", ctm__st_text(st, 4));
    } else if (src != CTM_OK) {
        rc = ctm__store_fail(src, "reading dispensations");
    }
    ctm__st_finalize(st);
    return rc;
}

/* The kit numbers of scans (numbers or GS1 packs) of the trial's kits, each once; malloc'd array
 * of 48-byte names. */
static int read_scans(ctm_db *db, int64_t trial_id, const char *const *scans, size_t n,
                      char (**numbers)[48])
{
    *numbers = NULL;
    if (scans == NULL || n == 0)
        return ctm__err(CTM_EINVAL, "scans: no kit scanned");
    if (n > 1000)
        return ctm__err(CTM_EINVAL, "scans: %zu kits at once; at most 1000", n);
    char(*out)[48] = calloc(n, sizeof *out);
    if (out == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < n; i++) {
        rc = ctm__kit_number(db, trial_id, scans[i], out[i]);
        for (size_t j = 0; rc == CTM_OK && j < i; j++)
            if (strcmp(out[i], out[j]) == 0)
                rc = ctm__err(CTM_EINVAL, "scans: kit %s scanned twice", out[i]);
    }
    if (rc != CTM_OK) {
        free(out);
        return rc;
    }
    *numbers = out;
    return CTM_OK;
}

int ctm_dispense_confirm(ctm_db *db, const char *trial, const char *screening,
                         const char *const *scans, size_t nscans)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    char(*numbers)[48] = NULL;
    int rc = ctm__require_action(db, "dispense.confirm", "dispense confirm");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = read_scans(db, t.id, scans, nscans, &numbers);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.confirm", "", &t, trial, screening, 1, &s)) !=
        CTM_OK) {
        free(numbers);
        return rc;
    }
    char count[24];
    snprintf(count, sizeof count, "%zu", nscans);
    ctm__action_param(&a, "kits", count);
    int64_t now = ctm__now_us();
    for (size_t i = 0; rc == CTM_OK && i < nscans; i++) {
        open_row r;
        int found = 0;
        rc = find_dispensation(db, s.id, numbers[i], "assigned", "assigned", &r, &found);
        if (rc == CTM_OK && !found)
            rc = ctm__err(CTM_ERULE,
                          "kit %s is not a kit assigned to subject %s: hand over the assigned "
                          "kit (nothing was recorded)",
                          numbers[i], screening);
        if (rc == CTM_OK)
            rc = dispensation_move(db, r.id, "assigned", "dispensed", NULL, now);
        if (rc == CTM_OK)
            rc = ctm__kit_status_move(db, r.kit_id, r.number, "available", "dispensed", now);
    }
    free(numbers);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}


/* ---- cancel, replace, reverse ---- */

/* The checks the calls on a subject's kits make first: the user's role, the reason, the trial. */
static int subject_call(ctm_db *db, const char *action, const char *what, const char *trial,
                        const char *reason, ctm__trial *t)
{
    int rc = ctm__require_action(db, action, what);
    if (rc == CTM_OK && reason != NULL)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK && reason == NULL)
        rc = ctm__err(CTM_EINVAL, "reason: required");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, t);
    return rc;
}

int ctm_dispense_cancel(ctm_db *db, const char *trial, const char *screening, const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    int rc = subject_call(db, "dispense.cancel", "dispense cancel", trial, reason, &t);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.cancel", reason, &t, trial, screening, 0, &s)) !=
        CTM_OK)
        return rc;
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "UPDATE dispensations SET status = 'cancelled', reason = ?2"
                      " WHERE subject_id = ?1 AND status = 'assigned'");
    if (rc == CTM_OK && !dispensation_move_allowed("assigned", "cancelled"))
        rc = ctm__err(CTM_ERROR, "the dispensation table refuses cancelling");
    if (rc == CTM_OK) {
        int64_t changed = 0;
        ctm__st_bind_int(st, 1, s.id);
        ctm__st_bind_text(st, 2, reason);
        rc = ctm__step_changed(db, st, "cancelling", &changed);
        st = NULL;
        if (rc == CTM_OK && changed == 0)
            rc = ctm__err(CTM_ERULE, "subject %s has no kit assigned", screening);
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* What becomes of a kit replaced, by the state of its dispensation and how it was lost. */
static const char *replaced_kit_status(const char *dispensation, int lost)
{
    if (strcmp(dispensation, "assigned") == 0)
        return lost ? "missing" : "damaged";
    return lost ? "lost_by_subject" : "returned";
}

static const char *kit_status_of_dispensation(const char *dispensation)
{
    return strcmp(dispensation, "assigned") == 0 ? "available" : "dispensed";
}

int ctm_dispense_replace(ctm_query **out, ctm_db *db, const char *trial, const char *screening,
                         const char *kit, const char *how, const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    char number[48];
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = subject_call(db, "dispense.replace", "dispense replace", trial, reason, &t);
    int lost = how != NULL && strcmp(how, "lost") == 0;
    if (rc == CTM_OK && !lost && (how == NULL || strcmp(how, "damaged") != 0))
        rc = ctm__err(CTM_EINVAL, "how: give damaged or lost");
    if (rc == CTM_OK)
        rc = ctm__kit_number(db, t.id, kit, number);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.replace", reason, &t, trial, screening, 1, &s)) !=
        CTM_OK)
        return rc;
    ctm__action_param(&a, "kit", number);
    ctm__action_param(&a, "how", lost ? "lost" : "damaged");
    open_row r;
    int found = 0;
    visit_plan p;
    char visit[33] = "";
    rc = find_dispensation(db, s.id, number, "assigned", "dispensed", &r, &found);
    if (rc == CTM_OK && !found)
        rc = ctm__err(CTM_ENOTFOUND, "kit %s is not assigned or dispensed to subject %s", number,
                      screening);
    if (rc == CTM_OK)
        rc = dispensation_move(db, r.id, r.status, "replaced", reason, 0);
    if (rc == CTM_OK)
        rc = ctm__kit_status_move(db, r.kit_id, r.number, kit_status_of_dispensation(r.status),
                                  replaced_kit_status(r.status, lost), 0);
    /* a kit the subject had comes back (damaged, uncounted) or is lost: its return is recorded
     * as ctm_return()/ctm_lost() record theirs */
    if (rc == CTM_OK && strcmp(r.status, "dispensed") == 0)
        rc = ctm__return_record(db, r.kit_id, r.id, lost, -1, ctm__today(),
                                lost ? NULL : "damaged");
    ctm__st *st = NULL;
    if (rc == CTM_OK && (rc = ctm__prepare(db, &st, "SELECT code FROM visits WHERE id = ?1")) ==
                            CTM_OK) {
        ctm__st_bind_int(st, 1, r.visit_id);
        if (ctm__st_step(st) == CTM_ROW)
            snprintf(visit, sizeof visit, "%s", ctm__st_text(st, 0));
        ctm__st_finalize(st);
    }
    /* the same rules as the visit's assignment, but for its window (the visit was made) and the
     * kit's kind and count: one kit of the replaced kit's type */
    if (rc == CTM_OK)
        rc = plan_visit(db, &s, screening, visit, ctm__today(), 0, 0, NULL, &p);
    if (rc == CTM_OK) {
        int64_t kit_type_id = 0;
        if ((rc = ctm__prepare(db, &st, "SELECT kit_type_id FROM kits WHERE id = ?1")) == CTM_OK) {
            ctm__st_bind_int(st, 1, r.kit_id);
            if (ctm__st_step(st) == CTM_ROW)
                kit_type_id = ctm__st_int(st, 0);
            ctm__st_finalize(st);
        }
        int keep = -1;
        for (int i = 0; i < p.nneeds; i++)
            if (p.needs[i].kit_type_id == kit_type_id)
                keep = i;
        if (rc == CTM_OK && keep < 0)
            rc = ctm__err(CTM_ERULE, "the visit no longer dispenses the replaced kit's type");
        if (rc == CTM_OK) {
            p.needs[0] = p.needs[keep];
            p.needs[0].count = 1;
            p.nneeds = 1;
            rc = assign_kits(db, t.id, &s, screening, &p, r.id, NULL);
        }
    }
    if (rc == CTM_OK)
        rc = ctm__action_commit(&a);
    else
        ctm__action_rollback(&a);
    return rc == CTM_OK ? assigned_listing(out, db, s.id) : rc;
}

int ctm_dispense_reverse(ctm_db *db, const char *trial, const char *screening, const char *kit,
                         const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    char number[48];
    int rc = subject_call(db, "dispense.reverse", "dispense reverse", trial, reason, &t);
    if (rc == CTM_OK)
        rc = ctm__kit_number(db, t.id, kit, number);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.reverse", reason, &t, trial, screening, 0, &s)) !=
        CTM_OK)
        return rc;
    ctm__action_param(&a, "kit", number);
    open_row r;
    int found = 0;
    rc = find_dispensation(db, s.id, number, "dispensed", "dispensed", &r, &found);
    if (rc == CTM_OK && !found)
        rc = ctm__err(CTM_ERULE, "kit %s is not dispensed to subject %s", number, screening);
    if (rc == CTM_OK)
        rc = dispensation_move(db, r.id, "dispensed", "reversed", reason, 0);
    if (rc == CTM_OK)
        rc = ctm__kit_status_move(db, r.kit_id, r.number, "dispensed", "not_dispensed", 0);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- recorded after the fact ---- */

/* A kit handed over on paper must have been one the rules would have chosen for the subject:
 * of the visit's kit types, the subject's arm, available, not assigned to anyone.  The message
 * does not say which of these failed: "not the subject's arm" would tell a blinded user the arm
 * of the kit or the subject. */
static int kit_was_eligible(ctm_db *db, int64_t trial_id, const visit_plan *p, const ctm__subject *s,
                            const char *number, int64_t *kit_id, const char *screening)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.id, k.kit_type_id FROM kits k WHERE k.trial_id = ?1"
                          " AND k.kit_number = ?2 AND k.arm = ?3 AND k.status = 'available'"
                          " AND NOT EXISTS (SELECT 1 FROM dispensations d WHERE d.kit_id = k.id"
                          " AND d.status = 'assigned')");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, number);
    ctm__st_bind_text(st, 3, s->arm);
    int src = ctm__st_step(st);
    int ok = 0;
    if (src == CTM_ROW) {
        *kit_id = ctm__st_int(st, 0);
        for (int i = 0; i < p->nneeds; i++)
            ok |= p->needs[i].kit_type_id == ctm__st_int(st, 1);
    }
    ctm__st_finalize(st);
    if (src != CTM_ROW && src != CTM_OK)
        return ctm__store_fail(src, "reading kits");
    return ok ? CTM_OK
              : ctm__err(CTM_ERULE,
                         "kit %s could not have been dispensed to subject %s at this visit (not "
                         "available, not of the visit's kit types, or not for the subject)",
                         number, screening);
}

/* A kit is not handed out before it arrived: `when` may not come before its first history row,
 * its receipt (dated when the shipment arrived, receipt.c), to the second, as times are given
 * and shown (a receipt at 10:15:30.4 and a dispensing at 10:15:30 are one instant on paper).  A
 * kit without history (a site upgraded from schema version 7) has nothing to compare with and is
 * let through. */
static int kit_was_received(ctm_db *db, int64_t kit_id, const char *number, int64_t when_us)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT MIN(at_us) FROM kit_events WHERE kit_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    int src = ctm__st_step(st);
    int64_t first = 0;
    int known = src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL;
    if (known)
        first = ctm__st_int(st, 0) / 1000000 * 1000000;
    ctm__st_finalize(st);
    if (src != CTM_ROW)
        return ctm__store_fail(src, "reading the kit's history");
    if (!known || when_us >= first)
        return CTM_OK;
    char at[32], received[32];
    ctm__format_time_seconds(when_us, at, sizeof at);
    ctm__format_time_seconds(first, received, sizeof received);
    return ctm__err(CTM_ERULE, "kit %s: dispensed at %s, before its receipt at %s", number, at,
                    received);
}

int ctm_dispense_record(ctm_db *db, const char *trial, const char *screening, const char *visit,
                        const char *const *scans, size_t nscans, const char *when,
                        const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    visit_plan p;
    char(*numbers)[48] = NULL;
    int64_t when_us = 0;
    int rc = subject_call(db, "dispense.record", "dispense record", trial, reason, &t);
    /* the pharmacist names the kits here, and a refusal of a kit of the wrong arm would tell a
     * blinded one the arm: in a blinded trial, only unblinded pharmacists record */
    if (rc == CTM_OK && !ctm__blind_sees_trial(db, t.blinded))
        rc = ctm__err(CTM_EBLINDED, "dispense record: in a blinded trial, dispensings made on "
                                    "paper are recorded by an unblinded pharmacist");
    if (rc == CTM_OK)
        rc = when != NULL ? ctm__parse_instant("when", when, 0, &when_us)
                         : ctm__err(CTM_EINVAL, "when: required");
    if (rc == CTM_OK && when_us > ctm__now_us())
        rc = ctm__err(CTM_EINVAL, "when: %s is in the future", when);
    if (rc == CTM_OK)
        rc = read_scans(db, t.id, scans, nscans, &numbers);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = begin_on_subject(&a, db, "dispense.record", reason, &t, trial, screening, 1, &s)) !=
        CTM_OK) {
        free(numbers);
        return rc;
    }
    char count[24];
    snprintf(count, sizeof count, "%zu", nscans);
    ctm__action_param(&a, "visit", visit);
    ctm__action_param(&a, "kits", count);
    ctm__action_param(&a, "when", when);
    rc = plan_visit(db, &s, screening, visit, ctm__utc_day(when_us), 0, 1, NULL, &p);
    if (rc == CTM_OK)
        rc = visit_not_done(db, s.id, p.when.visit_id, visit, screening);
    if (rc == CTM_OK)
        rc = titration_apply(db, &s, &p, when_us);
    for (size_t i = 0; rc == CTM_OK && i < nscans; i++) {
        int64_t kit_id = 0;
        rc = kit_was_eligible(db, t.id, &p, &s, numbers[i], &kit_id, screening);
        if (rc == CTM_OK)
            rc = kit_was_received(db, kit_id, numbers[i], when_us);
        if (rc == CTM_OK)
            rc = insert_dispensation(db, s.id, p.when.visit_id, kit_id, "dispensed", p.new_level,
                                     when_us, 0, NULL, reason);
        if (rc == CTM_OK)
            rc = ctm__kit_status_move(db, kit_id, numbers[i], "available", "dispensed", when_us);
    }
    free(numbers);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- reading ---- */

int ctm_dispensations(ctm_query **out, ctm_db *db, const char *trial, const char *screening)
{
    ctm__trial t;
    ctm__subject s;
    int rc = ctm__listing_begin(out, db, "dispensations", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    memset(&s, 0, sizeof s);
    if (rc == CTM_OK && screening != NULL)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT su.screening AS subject, v.code AS visit, k.kit_number AS kit_number,"
            " kt.code AS kit_type, l.batch AS lot, d.status AS status, d.dose_level AS dose_level,"
            " d.assigned_us AS assigned, d.dispensed_us AS dispensed, d.recorded_us AS recorded,"
            " rk.kit_number AS replaces, d.reason AS reason"
            " FROM dispensations d JOIN subjects su ON su.id = d.subject_id"
            " JOIN visits v ON v.id = d.visit_id JOIN kits k ON k.id = d.kit_id"
            " JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
            " LEFT JOIN dispensations rd ON rd.id = d.replaces_id"
            " LEFT JOIN kits rk ON rk.id = rd.kit_id"
            " WHERE su.trial_id = ?1 AND (?2 = 0 OR su.id = ?2) ORDER BY d.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t.id);
    ctm__st_bind_int(st, 2, s.id);
    ctm__st_stream(st);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "assigned", "dispensed", "recorded", NULL);
    return rc;
}

/* ---- emergency unblinding ---- */

int ctm_codebreak(char **arm, ctm_db *db, const char *trial, const char *screening,
                  const char *password, const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    if (arm == NULL)
        return ctm__err(CTM_EINVAL, "arm: NULL");
    *arm = NULL;
    int rc = subject_call(db, "subject.codebreak", "codebreak", trial, reason, &t);
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    if (rc == CTM_OK && strcmp(db->session.role, "pharmacist") == 0 && !ctm__blind_sees_all(db))
        rc = ctm__err(CTM_EDENIED, "codebreak: a pharmacist breaks a code only when unblinded; "
                                   "ask the investigator or an unblinded pharmacist");
    if (rc == CTM_OK && strcmp(s.status, "enrolled") == 0)
        rc = ctm__err(CTM_ERULE, "subject %s is not randomized: there is no code to break",
                      screening);
    if (rc == CTM_OK)
        rc = ctm__session_reauth(db, password, "codebreak");
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "subject.codebreak", reason)) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "INSERT INTO code_breaks(subject_id, broken_us, broken_by, reason)"
                      " VALUES (?1, ?2, ?3, ?4)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, s.id);
        ctm__st_bind_int(st, 2, ctm__now_us());
        ctm__st_bind_text(st, 3, db->session.user);
        ctm__st_bind_text(st, 4, reason);
        rc = ctm__step_done(db, st, "recording the code break");
    }
    if (rc == CTM_OK)
        rc = ctm__action_commit(&a);
    else
        ctm__action_rollback(&a);
    if (rc == CTM_OK && (*arm = ctm__strdup(s.arm)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    return rc;
}
