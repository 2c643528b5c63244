/* visits.c - a trial's visit schedule, its dose levels and titration rules, dose holds, and the
 * dates of a subject's visits (visits.h gives the dispensing code its part of them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "randomization.h"
#include "visits.h"

/* A visit counts as dispensed: visits.h. */
#define DISPENSED_SQL "d.status IN ('dispensed', 'replaced') AND d.dispensed_us IS NOT NULL"

/* ---- small checks and lookups ---- */

static int check_visit_code(const char *code)
{
    if (code == NULL || code[0] == '\0' || strlen(code) > 32)
        return ctm__err(CTM_EINVAL, "visit code: must be 1 to 32 characters");
    if (!ctm__alnum_or(code, strlen(code), "._-"))
        return ctm__err(CTM_EINVAL, "visit code: '%s' has a character not allowed (letters, "
                                    "digits and . _ -)", code);
    return CTM_OK;
}

/* The first integer of a one-row query with up to two integer parameters; *found 0 (and *v 0)
 * when it gives no row. */
static int query_int(ctm_db *db, const char *sql, int64_t a, int64_t b, int *found, int64_t *v)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, a);
    if (ctm__st_nparams(st) >= 2)
        ctm__st_bind_int(st, 2, b);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    *v = src == CTM_ROW ? ctm__st_int(st, 0) : 0;
    ctm__st_finalize(st);
    return src == CTM_ROW || src == CTM_OK ? CTM_OK : ctm__store_fail(src, "reading");
}

static int kit_type_id(ctm_db *db, int64_t trial_id, const char *code, int64_t *id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT id FROM kit_types WHERE trial_id = ?1 AND code = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, code);
    int src = ctm__st_step(st);
    *id = src == CTM_ROW ? ctm__st_int(st, 0) : 0;
    ctm__st_finalize(st);
    if (src == CTM_ROW)
        return CTM_OK;
    return src == CTM_OK ? CTM_ENOTFOUND : ctm__store_fail(src, "reading kit types");
}

/* Whether any kit was ever assigned to a subject of the trial. */
static int trial_dispensed(ctm_db *db, int64_t trial_id, int *any)
{
    int64_t ignored;
    return query_int(db,
                     "SELECT 1 FROM dispensations d JOIN subjects s ON s.id = d.subject_id"
                     " WHERE s.trial_id = ?1 LIMIT 1",
                     trial_id, 0, any, &ignored);
}

/* ---- the schedule ---- */

int ctm_visit_add(ctm_db *db, const char *trial, const char *code, int day, const char *anchor,
                  const char *window, const char *kits)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__kit_spec spec;
    int64_t type_id[CTM__VISIT_MAX_KITS] = {0};
    int before = 0, after = 0, found = 0;
    int64_t ignored = 0;
    int rc = ctm__require_action(db, "visit.add", "visit add");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = check_visit_code(code);
    if (rc == CTM_OK && (day < 0 || day > 3650))
        rc = ctm__err(CTM_EINVAL, "day: %d; give 0 to 3650 days after the anchor", day);
    if (anchor == NULL)
        anchor = "randomization";
    if (rc == CTM_OK && strcmp(anchor, "randomization") != 0 && strcmp(anchor, "previous") != 0)
        rc = ctm__err(CTM_EINVAL, "anchor: '%.40s'; give randomization or previous", anchor);
    if (rc == CTM_OK)
        rc = ctm__window_parse(window, &before, &after);
    if (rc == CTM_OK)
        rc = ctm__kits_parse(&spec, kits);
    for (int i = 0; rc == CTM_OK && i < spec.n; i++) {
        const ctm__kit_item *it = &spec.item[i];
        if (it->dose) {
            int64_t dose_type = 0;
            rc = query_int(db, "SELECT 1 FROM dose_levels WHERE trial_id = ?1 LIMIT 1", t.id, 0,
                           &found, &ignored);
            if (rc == CTM_OK && !found)
                rc = ctm__err(CTM_ERULE, "kits: item %d: DOSE needs the dose levels of trial %s "
                                         "(set them first)", i + 1, trial);
            if (rc == CTM_OK && kit_type_id(db, t.id, CTM__VISIT_DOSE, &dose_type) == CTM_OK)
                rc = ctm__err(CTM_EINVAL, "kits: item %d: trial %s has a kit type coded DOSE, "
                                          "which a schedule cannot tell from the word DOSE (the "
                                          "subject's dose level)", i + 1, trial);
            continue;
        }
        int krc = kit_type_id(db, t.id, it->code, &type_id[i]);
        if (krc == CTM_ENOTFOUND)
            rc = ctm__err(CTM_EINVAL, "kits: item %d: '%s' is not a kit type of trial %s", i + 1,
                          it->code, trial);
        else
            rc = krc;
    }
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    /* the code's uniqueness, by text */
    if ((rc = ctm__prepare(db, &st, "SELECT 1 FROM visits WHERE trial_id = ?1 AND code = ?2")) !=
        CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t.id);
    ctm__st_bind_text(st, 2, code);
    int src = ctm__st_step(st);
    ctm__st_finalize(st);
    if (src == CTM_ROW)
        return ctm__err(CTM_EEXISTS, "visit code: '%s' is already a visit of trial %s", code,
                        trial);
    if (src != CTM_OK)
        return ctm__store_fail(src, "reading visits");

    char day_text[16], window_text[CTM__WINDOW_TEXT_MAX], kits_text[CTM__KITS_TEXT_MAX];
    snprintf(day_text, sizeof day_text, "%d", day);
    if ((rc = ctm__window_format(before, after, window_text)) != CTM_OK ||
        (rc = ctm__kits_format(&spec, kits_text, sizeof kits_text)) != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "visit.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "visit", code);
    ctm__action_param(&a, "day", day_text);
    ctm__action_param(&a, "anchor", anchor);
    ctm__action_param(&a, "window", window_text);
    ctm__action_param(&a, "kits", kits_text);
    /* The position is taken under the write lock, which every writer holds from its BEGIN. */
    int64_t position = 0;
    rc = query_int(db, "SELECT COALESCE(MAX(position), 0) + 1 FROM visits WHERE trial_id = ?1",
                   t.id, 0, &found, &position);
    if (rc == CTM_OK && position == 1 && strcmp(anchor, "previous") == 0)
        rc = ctm__err(CTM_EINVAL, "anchor: the first visit of a schedule has no previous visit; "
                                  "anchor it on randomization");
    int64_t visit_id = 0;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO visits(trial_id, code, position, day, anchor, window_before,"
                          " window_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_text(st, 2, code);
        ctm__st_bind_int(st, 3, position);
        ctm__st_bind_int(st, 4, day);
        ctm__st_bind_text(st, 5, anchor);
        ctm__st_bind_int(st, 6, before);
        ctm__st_bind_int(st, 7, after);
        rc = ctm__insert_id(db, st, &visit_id, "adding the visit");
        if (rc == CTM_EEXISTS)
            rc = ctm__err(CTM_EEXISTS, "visit code: '%s' is already a visit of trial %s", code,
                          trial);
    }
    for (int i = 0; rc == CTM_OK && i < spec.n; i++) {
        rc = ctm__prepare(db, &st,
                          "INSERT INTO visit_kits(visit_id, kit_type_id, count) VALUES (?1, ?2, ?3)");
        if (rc != CTM_OK)
            break;
        ctm__st_bind_int(st, 1, visit_id);
        if (spec.item[i].dose)
            ctm__st_bind_null(st, 2);
        else
            ctm__st_bind_int(st, 2, type_id[i]);
        ctm__st_bind_int(st, 3, spec.item[i].count);
        rc = ctm__step_done(db, st, "adding the visit's kits");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* The kits column, "KT10:1,DOSE:1" in schedule order, is made here: a string aggregate is
 * engine-specific SQL. */
#define VISIT_LIST_KITS_COL 6
#define VISIT_LIST_ID_COL 7

static const char *const visit_list_columns[] = {
    "position", "code", "day", "anchor", "window_before", "window_after", "kits",
};

static void st_ctx_free(void *ctx)
{
    ctm__st_finalize(ctx);
}

static int visit_list_row(ctm__st *st, ctm__row *row, void *ctx)
{
    ctm__st *kits = ctx;
    int rc = ctm__row_copy(st, row);
    if (rc != CTM_OK)
        return rc;
    ctm__st_reset(kits);
    ctm__st_bind_int(kits, 1, ctm__st_int(st, VISIT_LIST_ID_COL));
    char text[CTM__KITS_TEXT_MAX + 16];
    size_t n = 0;
    text[0] = '\0';
    while ((rc = ctm__st_step(kits)) == CTM_ROW && n < sizeof text) {
        const char *code = ctm__st_type(kits, 0) == CTM_V_NULL ? CTM__VISIT_DOSE
                                                                : ctm__st_text(kits, 0);
        int w = snprintf(text + n, sizeof text - n, "%s%s:%lld", n ? "," : "", code,
                         (long long)ctm__st_int(kits, 1));
        n += w > 0 ? (size_t)w : 0;
    }
    if (rc == CTM_ROW)
        rc = ctm__err(CTM_ERROR, "a visit's kits do not fit in %zu bytes", sizeof text);
    else if (rc != CTM_OK)
        rc = ctm__store_fail(rc, "reading the visit's kits");
    else
        rc = ctm__row_set_text(row, VISIT_LIST_KITS_COL, text);
    ctm__st_reset(kits);
    return rc;
}

int ctm_visit_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "visit list", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    ctm__st *st = NULL, *kits = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &kits,
                          "SELECT k.code, vk.count FROM visit_kits vk"
                          " LEFT JOIN kit_types k ON k.id = vk.kit_type_id"
                          " WHERE vk.visit_id = ?1 ORDER BY vk.id");
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT v.position, v.code, v.day, v.anchor, v.window_before,"
                          " v.window_after, NULL, v.id FROM visits v WHERE v.trial_id = ?1"
                          " ORDER BY v.position");
    if (rc != CTM_OK) {
        ctm__st_finalize(kits);
        return rc;
    }
    ctm__st_bind_int(st, 1, t.id);
    return ctm__query_new(out, st, visit_list_columns,
                          (int)(sizeof visit_list_columns / sizeof visit_list_columns[0]),
                          visit_list_row, kits, st_ctx_free);
}

/* ---- dose levels and titration rules ---- */

int ctm_dose_levels(ctm_db *db, const char *trial, const char *levels, int start_level,
                    int min_interval_days, int max_titrations)
{
    ctm__clear_error();
    ctm__trial t;
    char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1];
    int64_t ids[CTM__DOSE_MAX_LEVELS] = {0};
    int n = 0, any = 0;
    int rc = ctm__require_action(db, "dose.levels", "dose levels");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__levels_parse(levels, codes, &n);
    for (int i = 0; rc == CTM_OK && i < n; i++) {
        rc = kit_type_id(db, t.id, codes[i], &ids[i]);
        if (rc == CTM_ENOTFOUND)
            rc = ctm__err(CTM_EINVAL, "dose levels: level %d: '%s' is not a kit type of trial %s",
                          i + 1, codes[i], trial);
    }
    if (rc == CTM_OK && (start_level < 1 || start_level > n))
        rc = ctm__err(CTM_EINVAL, "start level: %d; give 1 to %d (the levels given)", start_level,
                      n);
    if (rc == CTM_OK && (min_interval_days < 0 || min_interval_days > 3650))
        rc = ctm__err(CTM_EINVAL, "minimum interval: %d days; give 0 to 3650", min_interval_days);
    if (rc == CTM_OK && (max_titrations < 0 || max_titrations > 100))
        rc = ctm__err(CTM_EINVAL, "maximum titrations: %d; give 0 to 100", max_titrations);
    if (rc == CTM_OK)
        rc = trial_dispensed(db, t.id, &any);
    if (rc == CTM_OK && any)
        rc = ctm__err(CTM_ERULE, "dose levels: kits of trial %s were assigned to subjects "
                                 "already; its dose levels and titration rules stay as they are", trial);
    if (rc != CTM_OK)
        return rc;
    char start_text[16], interval_text[16], max_text[16];
    snprintf(start_text, sizeof start_text, "%d", start_level);
    snprintf(interval_text, sizeof interval_text, "%d", min_interval_days);
    snprintf(max_text, sizeof max_text, "%d", max_titrations);
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "dose.levels", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "levels", levels);
    ctm__action_param(&a, "start_level", start_text);
    ctm__action_param(&a, "min_interval_days", interval_text);
    ctm__action_param(&a, "max_titrations", max_text);
    /* Checked again under the write lock: a dispensation may have been committed meanwhile. */
    rc = trial_dispensed(db, t.id, &any);
    if (rc == CTM_OK && any)
        rc = ctm__err(CTM_ERULE, "dose levels: kits of trial %s were assigned meanwhile", trial);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "DELETE FROM dose_levels WHERE trial_id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        rc = ctm__step_done(db, st, "replacing the dose levels");
    }
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "DELETE FROM titration_rules WHERE trial_id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        rc = ctm__step_done(db, st, "replacing the titration rules");
    }
    for (int i = 0; rc == CTM_OK && i < n; i++) {
        if ((rc = ctm__prepare(db, &st, "INSERT INTO dose_levels(trial_id, level, kit_type_id)"
                                        " VALUES (?1, ?2, ?3)")) != CTM_OK)
            break;
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_int(st, 2, i + 1);
        ctm__st_bind_int(st, 3, ids[i]);
        rc = ctm__step_done(db, st, "adding the dose levels");
    }
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO titration_rules(trial_id, start_level, min_interval_days,"
                          " max_titrations) VALUES (?1, ?2, ?3, ?4)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_int(st, 2, start_level);
        ctm__st_bind_int(st, 3, min_interval_days);
        ctm__st_bind_int(st, 4, max_titrations);
        rc = ctm__step_done(db, st, "adding the titration rules");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- dose holds ---- */

static int subject_hold_set(ctm_db *db, const char *action, const char *what, const char *trial,
                            const char *screening, const char *reason, int hold)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    int rc = ctm__require_action(db, action, what);
    if (rc == CTM_OK)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    if (rc == CTM_OK && strcmp(s.status, "randomized") != 0)
        rc = ctm__err(CTM_ERULE, "subject %s is %s: only a randomized subject's dispensing is "
                                 "held or resumed", screening, s.status);
    if (rc == CTM_OK && s.on_hold == hold)
        rc = ctm__err(CTM_ERULE, hold ? "subject %s is on hold already"
                                      : "subject %s is not on hold", screening);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, action, reason)) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "UPDATE subjects SET on_hold = ?2 WHERE id = ?1 AND on_hold = ?3"
                      " AND status = 'randomized'");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, s.id);
        ctm__st_bind_int(st, 2, hold);
        ctm__st_bind_int(st, 3, !hold);
        int64_t changed = 0;
        rc = ctm__step_changed(db, st, "changing the hold", &changed);
        if (rc == CTM_OK && changed != 1)
            rc = ctm__err(CTM_ERULE, "subject %s changed meanwhile; try again", screening);
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_subject_hold(ctm_db *db, const char *trial, const char *screening, const char *reason)
{
    return subject_hold_set(db, "subject.hold", "subject hold", trial, screening, reason, 1);
}

int ctm_subject_resume(ctm_db *db, const char *trial, const char *screening, const char *reason)
{
    return subject_hold_set(db, "subject.resume", "subject resume", trial, screening, reason, 0);
}

/* ---- a subject's visits: the dates, computed in C ---- */

/* The schedule of a subject, in order, with what the chain of dates needs (columns below). */
#define SCHEDULE_SQL                                                                          \
    "SELECT v.code, v.day, v.anchor, v.window_before, v.window_after,"                       \
    " (SELECT MIN(d.dispensed_us) FROM dispensations d WHERE d.subject_id = s.id"             \
    "  AND d.visit_id = v.id AND " DISPENSED_SQL "),"                                         \
    " s.randomized_us, s.on_hold, COALESCE(s.dose_level, r.start_level), v.id"                \
    " FROM visits v JOIN subjects s ON s.trial_id = v.trial_id"                               \
    " LEFT JOIN titration_rules r ON r.trial_id = v.trial_id"                                 \
    " WHERE s.id = ?1 ORDER BY v.position"
enum { SC_CODE, SC_DAY, SC_ANCHOR, SC_BEFORE, SC_AFTER, SC_DISPENSED, SC_RANDOMIZED, SC_HOLD,
       SC_LEVEL, SC_ID };

/* Where the chain of dates stands: the day the next "previous" visit counts from. */
typedef struct chain {
    int known;
    int64_t prev;
} chain;

typedef struct visit_dates {
    int known; /* the subject is randomized: the dates below hold */
    int64_t due, from, to;
    int dispensed;
    int64_t dispensed_day;
} visit_dates;

static void chain_step(chain *c, ctm__st *st, visit_dates *d)
{
    int previous = strcmp(ctm__st_text(st, SC_ANCHOR), "previous") == 0;
    int64_t base = 0;
    if (previous) {
        d->known = c->known;
        base = c->prev;
    } else {
        d->known = ctm__st_type(st, SC_RANDOMIZED) != CTM_V_NULL;
        base = d->known ? ctm__utc_day(ctm__st_int(st, SC_RANDOMIZED)) : 0;
    }
    d->due = base + ctm__st_int(st, SC_DAY);
    d->from = d->due - ctm__st_int(st, SC_BEFORE);
    d->to = d->due + ctm__st_int(st, SC_AFTER);
    d->dispensed = ctm__st_type(st, SC_DISPENSED) != CTM_V_NULL;
    d->dispensed_day = d->dispensed ? ctm__utc_day(ctm__st_int(st, SC_DISPENSED)) : 0;
    c->known = d->dispensed || d->known;
    c->prev = d->dispensed ? d->dispensed_day : d->due;
}

static const char *const subject_visit_columns[] = {
    "visit", "due", "window_from", "window_to", "dispensed", "on_hold", "dose_level",
};

static int set_day(ctm__row *row, int col, int known, int64_t day)
{
    if (!known) {
        ctm__row_set_null(row, col);
        return CTM_OK;
    }
    char text[11];
    ctm__format_date(day, text);
    return ctm__row_set_text(row, col, text);
}

static int subject_visit_row(ctm__st *st, ctm__row *row, void *ctx)
{
    visit_dates d;
    chain_step(ctx, st, &d);
    int rc = ctm__row_set_text(row, 0, ctm__st_text(st, SC_CODE));
    if (rc == CTM_OK)
        rc = set_day(row, 1, d.known, d.due);
    if (rc == CTM_OK)
        rc = set_day(row, 2, d.known, d.from);
    if (rc == CTM_OK)
        rc = set_day(row, 3, d.known, d.to);
    if (rc == CTM_OK)
        rc = set_day(row, 4, d.dispensed, d.dispensed_day);
    ctm__row_set_int(row, 5, ctm__st_int(st, SC_HOLD));
    if (ctm__st_type(st, SC_LEVEL) == CTM_V_NULL)
        ctm__row_set_null(row, 6);
    else
        ctm__row_set_int(row, 6, ctm__st_int(st, SC_LEVEL));
    return rc;
}

int ctm_subject_visits(ctm_query **out, ctm_db *db, const char *trial, const char *screening)
{
    ctm__trial t;
    ctm__subject s;
    int rc = ctm__listing_begin(out, db, "subject visits", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    chain *c = NULL;
    if (rc == CTM_OK && (c = calloc(1, sizeof *c)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, SCHEDULE_SQL);
    if (rc != CTM_OK) {
        free(c);
        return rc;
    }
    ctm__st_bind_int(st, 1, s.id);
    return ctm__query_new(out, st, subject_visit_columns,
                          (int)(sizeof subject_visit_columns / sizeof subject_visit_columns[0]),
                          subject_visit_row, c, free);
}

/* ---- for dispensing (visits.h) ---- */

int ctm__visit_window(ctm_db *db, const ctm__subject *s, const char *visit_code,
                      ctm__visit_when *w)
{
    memset(w, 0, sizeof *w);
    if (visit_code == NULL)
        return ctm__err(CTM_EINVAL, "visit code: NULL");
    if (!s->randomized)
        return ctm__err(CTM_ERULE, "the subject is not randomized: its visits have no dates yet");
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, SCHEDULE_SQL);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, s->id);
    chain c = {0, 0};
    visit_dates d;
    int src, found = 0;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        if (found) { /* the visit after it */
            w->has_next = 1;
            w->next_from_previous = strcmp(ctm__st_text(st, SC_ANCHOR), "previous") == 0;
            w->next_last = ctm__st_int(st, SC_DAY) + ctm__st_int(st, SC_AFTER);
            break;
        }
        chain_step(&c, st, &d);
        if (strcmp(ctm__st_text(st, SC_CODE), visit_code) == 0) {
            found = 1;
            w->visit_id = ctm__st_int(st, SC_ID);
            w->from_day = d.from;
            w->to_day = d.to;
        }
    }
    ctm__st_finalize(st);
    if (src != CTM_OK && src != CTM_ROW)
        return ctm__store_fail(src, "reading the visit schedule");
    if (found)
        return CTM_OK;
    return ctm__err(CTM_ENOTFOUND, "visit '%.40s' is not in the subject's trial's schedule",
                    visit_code);
}

typedef struct rules {
    int exists;
    int64_t start_level, min_interval_days, max_titrations, levels;
} rules;

static int rules_load(ctm_db *db, int64_t trial_id, rules *r)
{
    memset(r, 0, sizeof *r);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT start_level, min_interval_days, max_titrations,"
                          " (SELECT COUNT(*) FROM dose_levels l WHERE l.trial_id = r.trial_id)"
                          " FROM titration_rules r WHERE r.trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        r->exists = 1;
        r->start_level = ctm__st_int(st, 0);
        r->min_interval_days = ctm__st_int(st, 1);
        r->max_titrations = ctm__st_int(st, 2);
        r->levels = ctm__st_int(st, 3);
    }
    ctm__st_finalize(st);
    return src == CTM_ROW || src == CTM_OK ? CTM_OK : ctm__store_fail(src, "reading titration");
}

int ctm__titration_check(ctm_db *db, const ctm__subject *subject, int direction, int64_t now_us,
                         int *new_level)
{
    const ctm__subject s = *subject;
    rules r;
    int found = 0;
    int64_t ignored = 0;
    *new_level = 0;
    if (direction < -1 || direction > 1)
        return ctm__err(CTM_EINVAL, "titration: direction %d; give -1, 0 or +1", direction);
    int rc = rules_load(db, s.trial_id, &r);
    if (rc != CTM_OK)
        return rc;
    int64_t current = s.has_level ? s.dose_level : r.start_level;
    if (direction == 0) {
        *new_level = r.exists ? (int)current : 0;
        return CTM_OK;
    }
    if (!r.exists)
        return ctm__err(CTM_ERULE, "titration: the subject's trial has no dose levels");
    if (!s.randomized)
        return ctm__err(CTM_ERULE, "titration: the subject is not randomized");
    rc = query_int(db, "SELECT 1 FROM dispensations d WHERE d.subject_id = ?1 AND " DISPENSED_SQL
                       " LIMIT 1",
                   s.id, 0, &found, &ignored);
    if (rc != CTM_OK)
        return rc;
    if (!found)
        return ctm__err(CTM_ERULE, "titration: never at a subject's first dispensation");
    if (s.titrations >= r.max_titrations)
        return ctm__err(CTM_ERULE, "titration: the subject had %lld change(s) of dose level, "
                                   "the most the trial allows",
                        (long long)s.titrations);
    int64_t since = s.titrated ? s.titrated_us : s.randomized_us;
    int64_t days = ctm__utc_day(now_us) - ctm__utc_day(since);
    if (days < r.min_interval_days)
        return ctm__err(CTM_ERULE, "titration: %lld day(s) since the %s; the trial asks for at "
                                   "least %lld",
                        (long long)days, s.titrated ? "last change of dose level" : "randomization",
                        (long long)r.min_interval_days);
    int64_t level = current + direction;
    if (level < 1 || level > r.levels)
        return ctm__err(CTM_ERULE, "titration: the subject is at the %s dose level (%lld)",
                        direction > 0 ? "highest" : "lowest", (long long)current);
    *new_level = (int)level;
    return CTM_OK;
}

int ctm__visit_kits(ctm_db *db, const ctm__subject *subject, int64_t visit_id, int level,
                    ctm__visit_kit *kits, int max, int *n)
{
    const ctm__subject s = *subject;
    rules r = {0};
    int have_rules = 0;
    *n = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT vk.kit_type_id, k.code, vk.count, k.dnd_days,"
                          " COALESCE(k.dispensing_days, 0) FROM visit_kits vk"
                          " JOIN visits v ON v.id = vk.visit_id"
                          " LEFT JOIN kit_types k ON k.id = vk.kit_type_id"
                          " WHERE vk.visit_id = ?1 AND v.trial_id = ?2 ORDER BY vk.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, visit_id);
    ctm__st_bind_int(st, 2, s.trial_id);
    /* Read whole first: resolving DOSE runs another statement. */
    ctm__visit_kit items[CTM__VISIT_MAX_KITS];
    int count = 0, src;
    while ((src = ctm__st_step(st)) == CTM_ROW && count < CTM__VISIT_MAX_KITS) {
        ctm__visit_kit *k = &items[count++];
        memset(k, 0, sizeof *k);
        k->dose = ctm__st_type(st, 0) == CTM_V_NULL;
        k->kit_type_id = ctm__st_int(st, 0);
        if (!k->dose)
            snprintf(k->kit_type, sizeof k->kit_type, "%s", ctm__st_text(st, 1));
        k->count = (int)ctm__st_int(st, 2);
        k->dnd_days = ctm__st_int(st, 3);
        k->dispensing_days = ctm__st_int(st, 4);
    }
    ctm__st_finalize(st);
    if (src != CTM_OK && src != CTM_ROW)
        return ctm__store_fail(src, "reading the visit's kits");
    if (count == 0) { /* a visit of no kits, or none of the subject's trial */
        int64_t trial_of_visit = 0;
        int found = 0;
        rc = query_int(db, "SELECT trial_id FROM visits WHERE id = ?1", visit_id, 0, &found,
                       &trial_of_visit);
        if (rc == CTM_OK && (!found || trial_of_visit != s.trial_id))
            rc = ctm__err(CTM_ENOTFOUND, "visit id %lld is not a visit of the subject's trial",
                          (long long)visit_id);
        return rc;
    }
    for (int i = 0; i < count; i++) {
        ctm__visit_kit *k = &items[i];
        if (k->dose && !have_rules) {
            if ((rc = rules_load(db, s.trial_id, &r)) != CTM_OK)
                return rc;
            have_rules = 1;
        }
        if (k->dose) {
            int64_t want = level > 0 ? level : s.has_level ? s.dose_level : r.start_level;
            if (!r.exists)
                return ctm__err(CTM_ERULE, "the visit dispenses the dose level's kit type, and "
                                           "the subject's trial has no dose levels");
            rc = ctm__prepare(db, &st,
                              "SELECT l.kit_type_id, k.code, k.dnd_days,"
                              " COALESCE(k.dispensing_days, 0) FROM dose_levels l"
                              " JOIN kit_types k ON k.id = l.kit_type_id"
                              " WHERE l.trial_id = ?1 AND l.level = ?2");
            if (rc != CTM_OK)
                return rc;
            ctm__st_bind_int(st, 1, s.trial_id);
            ctm__st_bind_int(st, 2, want);
            src = ctm__st_step(st);
            if (src == CTM_ROW) {
                k->kit_type_id = ctm__st_int(st, 0);
                snprintf(k->kit_type, sizeof k->kit_type, "%s", ctm__st_text(st, 1));
                k->dnd_days = ctm__st_int(st, 2);
                k->dispensing_days = ctm__st_int(st, 3);
            }
            ctm__st_finalize(st);
            if (src == CTM_OK)
                return ctm__err(CTM_ERULE, "the subject's trial has no dose level %lld",
                                (long long)want);
            if (src != CTM_ROW)
                return ctm__store_fail(src, "reading the dose levels");
        }
        int merged = 0;
        for (int j = 0; j < *n && !merged; j++)
            if (kits[j].kit_type_id == k->kit_type_id) {
                kits[j].count += k->count;
                kits[j].dose |= k->dose;
                merged = 1;
            }
        if (merged)
            continue;
        if (*n == max) {
            *n = 0;
            return ctm__err(CTM_EINVAL, "the visit dispenses more than %d kit types", max);
        }
        kits[(*n)++] = *k;
    }
    return CTM_OK;
}

/* ---- every subject's dated schedule (visits.h, for forecasts and inspections) ---- */

/* SCHEDULE_SQL's columns for every subject of a trial with a randomization day, then the
 * subject's id, arm, status and whether the visit has kits assigned not yet handed over. */
#define TRIAL_SCHEDULE_SQL                                                                    \
    "SELECT v.code, v.day, v.anchor, v.window_before, v.window_after,"                       \
    " (SELECT MIN(d.dispensed_us) FROM dispensations d WHERE d.subject_id = s.id"             \
    "  AND d.visit_id = v.id AND " DISPENSED_SQL "),"                                         \
    " s.randomized_us, s.on_hold, COALESCE(s.dose_level, r.start_level), v.id,"               \
    " s.id, s.arm, s.status,"                                                                 \
    " (SELECT COUNT(*) FROM dispensations d WHERE d.subject_id = s.id AND d.visit_id = v.id"  \
    "  AND d.status = 'assigned')"                                                            \
    " FROM visits v JOIN subjects s ON s.trial_id = v.trial_id"                               \
    " LEFT JOIN titration_rules r ON r.trial_id = v.trial_id"                                 \
    " WHERE s.trial_id = ?1 AND s.randomized_us IS NOT NULL ORDER BY s.id, v.position"
enum { TS_SUBJECT = SC_ID + 1, TS_ARM, TS_STATUS, TS_ASSIGNED };

/* Fill v from the current row, chained on c. */
static void dated_from_row(chain *c, ctm__st *st, ctm__dated_visit *v)
{
    visit_dates d;
    chain_step(c, st, &d);
    memset(v, 0, sizeof *v);
    v->subject_id = ctm__st_int(st, TS_SUBJECT);
    v->visit_id = ctm__st_int(st, SC_ID);
    snprintf(v->code, sizeof v->code, "%s", ctm__st_text(st, SC_CODE));
    if (ctm__st_type(st, TS_ARM) != CTM_V_NULL)
        snprintf(v->arm, sizeof v->arm, "%s", ctm__st_text(st, TS_ARM));
    v->randomized = strcmp(ctm__st_text(st, TS_STATUS), "randomized") == 0;
    v->on_hold = (int)ctm__st_int(st, SC_HOLD);
    v->level = ctm__st_type(st, SC_LEVEL) == CTM_V_NULL ? 0 : ctm__st_int(st, SC_LEVEL);
    v->randomized_day = ctm__utc_day(ctm__st_int(st, SC_RANDOMIZED));
    v->due = d.due;
    v->from = d.from;
    v->to = d.to;
    v->dispensed = d.dispensed;
    v->dispensed_day = d.dispensed_day;
    v->assigned = ctm__st_int(st, TS_ASSIGNED) > 0;
}

int ctm__schedule_each(ctm_db *db, int64_t trial_id,
                       int (*fn)(void *ctx, const ctm__dated_visit *v), void *ctx)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, TRIAL_SCHEDULE_SQL);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    chain c = {0, 0};
    ctm__dated_visit pending, cur;
    int have = 0, src = CTM_OK;
    /* a visit is handed over once the next row tells what follows it */
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t subject = ctm__st_int(st, TS_SUBJECT);
        if (have && pending.subject_id != subject) {
            rc = fn(ctx, &pending);
            have = 0;
        }
        if (!have)
            c = (chain){0, 0};
        dated_from_row(&c, st, &cur);
        if (have) {
            pending.has_next = 1;
            snprintf(pending.next_code, sizeof pending.next_code, "%s", cur.code);
            pending.next_from_previous = strcmp(ctm__st_text(st, SC_ANCHOR), "previous") == 0;
            pending.next_last = ctm__st_int(st, SC_DAY) + ctm__st_int(st, SC_AFTER);
            pending.next_to = cur.to;
            if (rc == CTM_OK)
                rc = fn(ctx, &pending);
        }
        pending = cur;
        have = 1;
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the visit schedules");
    if (rc == CTM_OK && have)
        rc = fn(ctx, &pending);
    ctm__st_finalize(st);
    return rc;
}
