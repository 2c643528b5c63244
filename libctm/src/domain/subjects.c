/* subjects.c - enrolment, stratification, randomization (allocation from the trial's list, or by
 * minimization) and the end of a subject's participation. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "randomization.h"

/* Subject statuses and the one table of their changes: nothing else writes subjects.status. */
static const struct {
    const char *from, *to;
} subject_moves[] = {
    { "enrolled", "randomized" },
    { "enrolled", "withdrawn" }, /* a screening failure, or consent withdrawn before allocation */
    { "randomized", "withdrawn" },
    { "randomized", "completed" },
};

static int move_allowed(const char *from, const char *to)
{
    for (size_t i = 0; i < sizeof subject_moves / sizeof subject_moves[0]; i++)
        if (strcmp(subject_moves[i].from, from) == 0 && strcmp(subject_moves[i].to, to) == 0)
            return 1;
    return 0;
}


int ctm__check_screening(const char *screening)
{
    if (screening == NULL || screening[0] == '\0' || strlen(screening) > 40)
        return ctm__err(CTM_EINVAL, "screening number: must be 1 to 40 characters");
    if (!ctm__alnum_or(screening, strlen(screening), "._/-")) {
        /* quoted with its control characters escaped: a message may reach a log or a terminal */
        char q[CTM__CSV_QUOTE_SIZE];
        ctm__csv_quote(q, screening, strlen(screening));
        return ctm__err(CTM_EINVAL, "screening number: %s has a character not allowed "
                                    "(letters, digits and . _ / -)",
                        q);
    }
    return CTM_OK;
}

#define SUBJECT_SQL                                                                        \
    "SELECT id, trial_id, status, strata, arm, on_hold, randomized_us, dose_level,"        \
    " titrations, titrated_us FROM subjects"

static int subject_read(ctm__st *st, ctm__subject *s, const char *missing_what)
{
    int rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        s->id = ctm__st_int(st, 0);
        s->trial_id = ctm__st_int(st, 1);
        snprintf(s->status, sizeof s->status, "%s", ctm__st_text(st, 2));
        snprintf(s->strata, sizeof s->strata, "%s", ctm__st_text(st, 3));
        snprintf(s->arm, sizeof s->arm, "%s", ctm__st_text(st, 4));
        s->on_hold = (int)ctm__st_int(st, 5);
        s->randomized = ctm__st_type(st, 6) != CTM_V_NULL;
        s->randomized_us = ctm__st_int(st, 6);
        s->has_level = ctm__st_type(st, 7) != CTM_V_NULL;
        s->dose_level = ctm__st_int(st, 7);
        s->titrations = ctm__st_int(st, 8);
        s->titrated = ctm__st_type(st, 9) != CTM_V_NULL;
        s->titrated_us = ctm__st_int(st, 9);
        rc = CTM_OK;
    } else if (rc == CTM_OK) {
        rc = ctm__err(CTM_ENOTFOUND, "%s", missing_what);
    } else {
        rc = ctm__store_fail(rc, "reading subjects");
    }
    ctm__st_finalize(st);
    return rc;
}

int ctm__subject_lookup(ctm_db *db, int64_t trial_id, const char *trial, const char *screening,
                        ctm__subject *s)
{
    memset(s, 0, sizeof *s);
    int rc = ctm__check_screening(screening);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, SUBJECT_SQL " WHERE trial_id = ?1 AND screening = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, screening);
    char missing[200];
    snprintf(missing, sizeof missing, "subject '%s' is not enrolled in trial %s", screening,
             trial);
    return subject_read(st, s, missing);
}

int ctm__subject_by_id(ctm_db *db, int64_t id, ctm__subject *s)
{
    memset(s, 0, sizeof *s);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, SUBJECT_SQL " WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    char missing[64];
    snprintf(missing, sizeof missing, "subject id %lld does not exist", (long long)id);
    return subject_read(st, s, missing);
}

/* The known values of level[] as stored: "sex=M,age=ge65", factors in spec order. */
static int strata_text(const ctm__strata *s, const int *level, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int f = 0; f < s->nfactors; f++) {
        if (level[f] < 0)
            continue;
        int w = snprintf(out + o, n - o, "%s%s=%s", o ? "," : "", s->f[f].name,
                         s->f[f].levels[level[f]]);
        if (w < 0 || (size_t)w >= n - o)
            return ctm__err(CTM_EINVAL, "strata: too long");
        o += (size_t)w;
    }
    return CTM_OK;
}

/* A subject's stored values against the scheme as it is now: those of factors or levels the
 * scheme no longer has are not known.  A list replaced before anyone was randomized may have
 * other strata than the ones subjects were enrolled under; read strictly, such a subject could
 * be neither randomized nor given new values.  The stored text is canonical ("sex=M,age=ge65",
 * written by strata_text), so each item is read alone. */
static int stored_levels(const ctm__strata *s, const char *stored, int *level)
{
    for (int f = 0; f < CTM__STRATA_MAX_FACTORS; f++)
        level[f] = -1;
    char item[200];
    for (const char *p = stored; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        int one[CTM__STRATA_MAX_FACTORS];
        if (n < sizeof item) {
            memcpy(item, p, n);
            item[n] = '\0';
            if (ctm__strata_values(s, item, one) == CTM_OK)
                for (int f = 0; f < s->nfactors; f++)
                    if (one[f] >= 0)
                        level[f] = one[f];
        }
        p = end != NULL ? end + 1 : NULL;
    }
    ctm__clear_error();
    return CTM_OK;
}

/* The factors of the scheme that level[] leaves unknown, for the message that refuses. */
static void missing_factors(const ctm__strata *s, const int *level, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int f = 0; f < s->nfactors && o < n; f++)
        if (level[f] < 0) {
            int w = snprintf(out + o, n - o, "%s%s", o ? ", " : "", s->f[f].name);
            if (w < 0)
                break;
            o += (size_t)w;
        }
}

/* Move a subject from `from` to `to` (the table allows it); when another writer changed the
 * status first, nothing is changed and CTM_ERULE says so. */
static int subject_move(ctm_db *db, int64_t id, const char *from, const char *to,
                        const char *time_col)
{
    if (!move_allowed(from, to))
        return ctm__err(CTM_ERULE, "the subject is %s: it cannot become %s", from, to);
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE subjects SET status = ?3, %s = ?4 WHERE id = ?1 AND status = ?2", time_col);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    ctm__st_bind_text(st, 2, from);
    ctm__st_bind_text(st, 3, to);
    ctm__st_bind_int(st, 4, ctm__now_us());
    int64_t changed = 0;
    rc = ctm__step_changed(db, st, "changing the subject's status", &changed);
    return rc != CTM_OK || changed == 1
               ? rc
               : ctm__err(CTM_ERULE, "the subject's status changed meanwhile; try again");
}

/* ---- enrolment and strata ---- */

int ctm_subject_add(ctm_db *db, const char *trial, const char *screening, const char *strata)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__scheme scheme;
    int level[CTM__STRATA_MAX_FACTORS];
    char text[400] = "";
    int rc = ctm__require_action(db, "subject.add", "subject add");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__check_screening(screening);
    if (rc == CTM_OK)
        rc = ctm__scheme_load(db, t.id, &scheme);
    int given = strata != NULL && strata[0] != '\0';
    if (rc == CTM_OK && given && !scheme.exists)
        rc = ctm__err(CTM_ERULE, "strata: trial %s has no randomization scheme to stratify by",
                      trial);
    if (rc == CTM_OK && given)
        rc = ctm__strata_values(&scheme.strata, strata, level);
    if (rc == CTM_OK && given)
        rc = strata_text(&scheme.strata, level, text, sizeof text);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "subject.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "INSERT INTO subjects(trial_id, screening, strata, status, enrolled_us)"
                      " VALUES (?1, ?2, ?3, 'enrolled', ?4)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_text(st, 2, screening);
        ctm__st_bind_text(st, 3, text);
        ctm__st_bind_int(st, 4, ctm__now_us());
        rc = ctm__step_done(db, st, "enrolling the subject");
        if (rc == CTM_EEXISTS)
            rc = ctm__err(CTM_EEXISTS, "screening number: '%s' is already enrolled in trial %s",
                          screening, trial);
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_subject_set_strata(ctm_db *db, const char *trial, const char *screening,
                           const char *strata)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__scheme scheme;
    ctm__subject s;
    int have[CTM__STRATA_MAX_FACTORS], set[CTM__STRATA_MAX_FACTORS];
    char text[400];
    int rc = ctm__require_action(db, "subject.strata", "subject strata");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    if (rc == CTM_OK && strcmp(s.status, "enrolled") != 0)
        rc = ctm__err(CTM_ERULE, "subject %s is %s: strata are set before randomization",
                      screening, s.status);
    if (rc == CTM_OK)
        rc = ctm__scheme_load(db, t.id, &scheme);
    if (rc == CTM_OK && !scheme.exists)
        rc = ctm__err(CTM_ERULE, "strata: trial %s has no randomization scheme", trial);
    if (rc == CTM_OK && (strata == NULL || strata[0] == '\0'))
        rc = ctm__err(CTM_EINVAL, "strata: missing (give them as sex=M,age=ge65)");
    if (rc == CTM_OK)
        rc = stored_levels(&scheme.strata, s.strata, have);
    if (rc == CTM_OK)
        rc = ctm__strata_values(&scheme.strata, strata, set);
    for (int f = 0; rc == CTM_OK && f < scheme.strata.nfactors; f++)
        if (set[f] >= 0)
            have[f] = set[f];
    if (rc == CTM_OK)
        rc = strata_text(&scheme.strata, have, text, sizeof text);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "subject.strata", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "UPDATE subjects SET strata = ?2 WHERE id = ?1 AND status = 'enrolled'");
    if (rc == CTM_OK) {
        int64_t changed = 0;
        ctm__st_bind_int(st, 1, s.id);
        ctm__st_bind_text(st, 2, text);
        rc = ctm__step_changed(db, st, "setting the strata", &changed);
        if (rc == CTM_OK && changed != 1)
            rc = ctm__err(CTM_ERULE, "subject %s was randomized meanwhile", screening);
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- randomization ---- */

/* Give the subject the first free row of its stratum.  Writers hold the site's write lock from
 * their BEGIN (SQLite's BEGIN IMMEDIATE, PostgreSQL's writer lock), so the row found free is
 * still free when it is taken; UNIQUE (subject_id) and (trial_id, rand_number) stand behind
 * that.  The free rows are indexed apart (rand_list_free, whose condition the query repeats
 * word for word, "+subject_id IS NULL": the "+" also keeps SQLite from the subject_id index, all
 * the trial's free rows and a sort), so the first free row is found at once however many rows
 * the stratum has given out. */
static int allocate(ctm_db *db, int64_t trial_id, const char *stratum, int64_t subject_id,
                    ctm_randomization *r, char *arm, size_t arm_len)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE rand_list SET subject_id = ?1 WHERE id = (SELECT id FROM"
                          " rand_list WHERE trial_id = ?2 AND stratum = ?3 AND +subject_id IS NULL"
                          " ORDER BY position LIMIT 1) RETURNING number, arm");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, subject_id);
    ctm__st_bind_int(st, 2, trial_id);
    ctm__st_bind_text(st, 3, stratum);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        snprintf(r->number, sizeof r->number, "%s", ctm__st_text(st, 0));
        snprintf(arm, arm_len, "%s", ctm__st_text(st, 1));
        src = ctm__st_run(st);
        rc = src == CTM_OK ? CTM_OK : ctm__store_fail(src, "allocating from the list");
    } else if (src == CTM_OK) {
        rc = ctm__err(CTM_ERULE,
                      "the randomization list of stratum '%s' is used up: extend the list",
                      stratum[0] ? stratum : "(unstratified)");
    } else {
        rc = ctm__store_fail(src, "allocating from the list");
    }
    ctm__st_finalize(st);
    return rc;
}

/* draw < 0: none (a list allocation). */
static int record_allocation(ctm_db *db, int64_t subject_id, const char *number, const char *arm,
                             int64_t draw)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE subjects SET rand_number = ?2, arm = ?3, draw = ?4 WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, subject_id);
    ctm__st_bind_text(st, 2, number);
    ctm__st_bind_text(st, 3, arm);
    if (draw >= 0)
        ctm__st_bind_int(st, 4, draw);
    return ctm__step_done(db, st, "recording the randomization");
}

/* Minimization's inputs from the subjects randomized before: per arm, factor and level, how many
 * (withdrawn and completed subjects count: they were allocated, and the balance the method
 * keeps is over allocations); and how many in all. */
#define LEVELS CTM__STRATA_MAX_LEVELS
static int minim_counts(ctm_db *db, int64_t trial_id, const ctm__scheme *scheme,
                        const ctm__arms *arms, int *counts, int64_t *total)
{
    int nf = scheme->strata.nfactors;
    memset(counts, 0, sizeof(int) * (size_t)arms->n * (size_t)nf * LEVELS);
    *total = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT strata, arm, count(*) FROM subjects WHERE trial_id = ?1"
                          " AND rand_number IS NOT NULL GROUP BY strata, arm");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    int src = CTM_OK;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int level[CTM__STRATA_MAX_FACTORS];
        const char *arm = ctm__st_text(st, 1);
        int a = arm != NULL ? ctm__arms_find(arms, arm) : -1;
        int64_t n = ctm__st_int(st, 2);
        if (a < 0 || ctm__strata_values(&scheme->strata, ctm__st_text(st, 0), level) != CTM_OK) {
            rc = ctm__err(CTM_EINTEGRITY,
                          "a randomized subject's arm or strata do not fit the trial's scheme");
            break;
        }
        *total += n;
        for (int f = 0; f < nf; f++) {
            if (level[f] < 0)
                continue;
            int *c = &counts[(a * nf + f) * LEVELS + level[f]];
            /* ctm__minimize refuses counts above its limit: saturate rather than wrap. */
            *c = n > CTM__MINIM_MAX_COUNT - *c ? CTM__MINIM_MAX_COUNT + 1 : *c + (int)n;
        }
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "counting the randomized subjects");
    ctm__st_finalize(st);
    return rc;
}

/* The arm by minimization and the trial's next number; *draw is the draw used.  Under the write
 * lock, as allocate(): the counts are every subject randomized before this one. */
static int minim_allocate(ctm_db *db, int64_t trial_id, const ctm__scheme *scheme,
                          const int *level, ctm_randomization *r, char *arm, size_t arm_len,
                          int64_t *draw)
{
    int counts[CTM__MAX_ARMS * CTM__STRATA_MAX_FACTORS * LEVELS];
    ctm__arms arms;
    int64_t total = 0;
    int rc = ctm__arms_load(db, trial_id, &arms);
    if (rc == CTM_OK)
        rc = minim_counts(db, trial_id, scheme, &arms, counts, &total);
    if (rc != CTM_OK)
        return rc;
    uint32_t u = randombytes_random();
    ctm__minim m = { arms.n, arms.ratio, scheme->strata.nfactors, scheme->weight,
                     scheme->imbalance, scheme->p };
    int a = 0;
    rc = ctm__minimize(&m, counts, LEVELS, level, u, &a, NULL, NULL);
    if (rc != CTM_OK)
        return rc;
    snprintf(arm, arm_len, "%s", arms.code[a]);
    snprintf(r->number, sizeof r->number, "%lld", (long long)(total + 1));
    *draw = (int64_t)u;
    return CTM_OK;
}

/* Whether the subject can be randomized now, and in which stratum.  Read inside the action's
 * transaction (under the writer lock): checked before it, the strata could change, or the
 * scheme be replaced, between the check and the allocation. */
static int randomize_check(ctm_db *db, const ctm__trial *t, const char *trial,
                           const char *screening, ctm__subject *s, ctm__scheme *scheme,
                           int *level, char *stratum, size_t cap)
{
    int rc = ctm__subject_lookup(db, t->id, trial, screening, s);
    if (rc == CTM_OK && strcmp(s->status, "enrolled") != 0)
        rc = ctm__err(CTM_ERULE, "subject %s is %s: a subject is randomized once", screening,
                      s->status);
    if (rc == CTM_OK)
        rc = ctm__scheme_load(db, t->id, scheme);
    if (rc == CTM_OK && !scheme->exists)
        rc = ctm__err(CTM_ENOTFOUND, "trial %s has no randomization scheme", trial);
    if (rc == CTM_OK)
        rc = stored_levels(&scheme->strata, s->strata, level);
    if (rc == CTM_OK) {
        char missing[300];
        missing_factors(&scheme->strata, level, missing, sizeof missing);
        if (missing[0] != '\0')
            rc = ctm__err(CTM_ERULE, "subject %s: stratification factor(s) not known yet: %s",
                          screening, missing);
    }
    if (rc == CTM_OK)
        rc = ctm__strata_label(&scheme->strata, level, stratum, cap);
    return rc;
}

int ctm_randomize(ctm_db *db, const char *trial, const char *screening, ctm_randomization *result)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    char stratum[400] = "", arm[40] = "";
    int rc = ctm__require_action(db, "subject.randomize", "randomize");
    if (rc == CTM_OK && (result == NULL || result->struct_size < sizeof *result))
        rc = ctm__err(CTM_EINVAL, "result: NULL or its struct_size too small");
    if (rc != CTM_OK)
        return rc;
    size_t size = result->struct_size;
    memset(result, 0, sizeof *result);
    result->struct_size = size;
    if ((rc = ctm__trial_lookup(db, trial, &t)) == CTM_OK)
        rc = ctm__check_screening(screening);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "subject.randomize", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    ctm__scheme scheme;
    int level[CTM__STRATA_MAX_FACTORS];
    rc = randomize_check(db, &t, trial, screening, &s, &scheme, level, stratum, sizeof stratum);
    if (rc == CTM_OK)
        ctm__action_param(&a, "stratum", stratum);
    if (rc == CTM_OK && (rc = subject_move(db, s.id, "enrolled", "randomized",
                                           "randomized_us")) == CTM_ERULE)
        rc = ctm__err(CTM_ERULE, "subject %s was randomized meanwhile", screening);
    int64_t draw = -1;
    if (rc == CTM_OK && strcmp(scheme.method, "minimization") == 0)
        rc = minim_allocate(db, t.id, &scheme, level, result, arm, sizeof arm, &draw);
    else if (rc == CTM_OK)
        rc = allocate(db, t.id, stratum, s.id, result, arm, sizeof arm);
    if (rc == CTM_OK)
        rc = record_allocation(db, s.id, result->number, arm, draw);
    if (rc == CTM_OK)
        rc = ctm__action_commit(&a);
    else
        ctm__action_rollback(&a);
    if (rc != CTM_OK) {
        memset(result->number, 0, sizeof result->number);
        return rc;
    }
    snprintf(result->arm, sizeof result->arm, "%s",
             ctm__blind_sees_trial(db, t.blinded) ? arm : CTM__BLINDED);
    snprintf(result->stratum, sizeof result->stratum, "%s", stratum);
    return CTM_OK;
}

/* ---- the end of participation ---- */

static int subject_end(ctm_db *db, const char *action, const char *what, const char *trial,
                       const char *screening, const char *reason, int reason_required,
                       const char *to)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__subject s;
    int rc = ctm__require_action(db, action, what);
    if (rc == CTM_OK && (reason_required || reason != NULL))
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    if (rc == CTM_OK && !move_allowed(s.status, to))
        rc = ctm__err(CTM_ERULE, "subject %s is %s: it cannot be %s", screening, s.status, to);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, action, reason != NULL ? reason : "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "subject", screening);
    rc = subject_move(db, s.id, s.status, to, "ended_us");
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_subject_withdraw(ctm_db *db, const char *trial, const char *screening, const char *reason)
{
    return subject_end(db, "subject.withdraw", "subject withdraw", trial, screening, reason, 1,
                       "withdrawn");
}

int ctm_subject_complete(ctm_db *db, const char *trial, const char *screening, const char *reason)
{
    return subject_end(db, "subject.complete", "subject complete", trial, screening, reason, 0,
                       "completed");
}

/* ---- listings ---- */

#define SUBJECT_COLUMNS                                                                        \
    "SELECT t.code AS trial, s.screening AS screening, s.status AS status, s.strata AS strata," \
    " s.rand_number AS rand_number,"                                                           \
    CTM__BLIND_ARM_SQL("t.blinded", "s.arm", "?2") " AS arm,"                                  \
    " s.enrolled_us AS enrolled, s.randomized_us AS randomized, s.ended_us AS ended"           \
    " FROM subjects s JOIN trials t ON t.id = s.trial_id"

static int subject_query(ctm_query **out, ctm_db *db, ctm__st *st, int64_t trial_id)
{
    if (trial_id != 0)
        ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_int(st, 2, ctm__blind_sees_all(db));
    int rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "enrolled", "randomized", "ended", NULL);
    return rc;
}

int ctm_subject_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "subject list", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          SUBJECT_COLUMNS " WHERE ?1 IS NULL OR s.trial_id = ?1"
                                          " ORDER BY t.code, s.screening");
    if (rc != CTM_OK)
        return rc;
    ctm__st_stream(st);
    return subject_query(out, db, st, trial != NULL ? t.id : 0);
}

int ctm_subject_show(ctm_query **out, ctm_db *db, const char *trial, const char *screening)
{
    ctm__trial t;
    ctm__subject s;
    int rc = ctm__listing_begin(out, db, "subject show", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK)
        rc = ctm__subject_lookup(db, t.id, trial, screening, &s);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, SUBJECT_COLUMNS " WHERE s.id = ?1 AND ?2 = ?2");
    if (rc != CTM_OK)
        return rc;
    return subject_query(out, db, st, s.id);
}
