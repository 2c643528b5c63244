/* visits.h - what the visit schedule and dose titration (visits.c) give the dispensing code
 * (internal).
 *
 * Days are whole UTC days since 1970-01-01 (ctm__format_date shows them).  A subject's visit
 * falls on its target day: `day` days after the UTC day of the subject's randomization (anchor
 * randomization), or after the previous visit of the schedule (anchor previous): the UTC day
 * that visit was dispensed when it was, else its own target day.  Its window runs from
 * window_before days before the target day to window_after days after it, both included.
 *
 * A visit counts as dispensed for a subject when one of the subject's dispensations at that
 * visit has status 'dispensed' or 'replaced' (a kit handed over and later replaced was handed
 * over) and a dispensed_us; its day is the earliest such dispensed_us.
 *
 * None of these write anything: the caller, inside its own action, records the dispensation and
 * the subject's new dose level (subjects.dose_level, titrations + 1 and titrated_us when the
 * level changes).
 */
#ifndef CTM_VISITS_H
#define CTM_VISITS_H

#include "stock.h"
#include "randomization.h"
#include "visit.h"

/* A visit of a subject's schedule, dated for that subject. */
typedef struct ctm__visit_when {
    int64_t visit_id;
    int64_t from_day, to_day; /* its window */
    int has_next;             /* the schedule has a visit after it: */
    int next_from_previous;   /* that visit is anchored on this one (else on the randomization) */
    int64_t next_last;        /* its day plus its days after: the last day of its window, counted
                               * from its anchor's day */
} ctm__visit_when;

/* The visit of the subject's trial coded visit_code, dated for subject s (as read by
 * ctm__subject_lookup or ctm__subject_by_id).
 * Errors: CTM_ENOTFOUND (no visit of that code in the subject's trial), CTM_ERULE (the subject
 * is not randomized: no date to count from), CTM_EINVAL (visit_code NULL). */
int ctm__visit_window(ctm_db *db, const ctm__subject *s, const char *visit_code,
                      ctm__visit_when *w);

/* Whether subject s may move `direction` dose levels (-1 down, +1 up, 0 stay) at a
 * dispensation at now_us, and the level it is then given in *new_level.  The current level is
 * subjects.dose_level, or the trial's start level while that is NULL.  Staying is always
 * allowed (the current level; 0 in a trial without dose levels).  A move is refused (CTM_ERULE,
 * the message says which rule) at the subject's first dispensation (no visit dispensed yet),
 * less than min_interval_days UTC days after the last change (titrated_us; the randomization
 * before any), once max_titrations changes were made, past the lowest or highest level, in a
 * trial without dose levels, and for a subject not randomized.
 * Errors: CTM_EINVAL (direction not -1, 0 or +1), CTM_ERULE. */
int ctm__titration_check(ctm_db *db, const ctm__subject *s, int direction, int64_t now_us,
                         int *new_level);

/* One kit type a visit dispenses to a subject. */
typedef struct ctm__visit_kit {
    int64_t kit_type_id;
    char kit_type[CTM__KIT_CODE_MAX + 1]; /* its code */
    int count;                            /* how many kits */
    int dose;                             /* 1: (partly) the kit type of the dose level */
    int64_t dnd_days;                     /* the kit type's do-not-dispense days */
    int64_t dispensing_days;              /* the days one dispensing lasts (0: not set) */
} ctm__visit_kit;

/* The kits visit_id dispenses to subject s, in schedule order, into kits[0..*n) (room for
 * CTM__VISIT_MAX_KITS always suffices).  A DOSE item takes the kit type of dose level `level`,
 * or, with level 0, of the subject's current level (subjects.dose_level, else the trial's start
 * level); when that kit type is also named on its own, the two counts are added in one entry.
 * Errors: CTM_ENOTFOUND (the visit is not of the subject's trial), CTM_ERULE (a DOSE visit in a
 * trial without dose levels, or no level `level`), CTM_EINVAL (more kit types than max). */
int ctm__visit_kits(ctm_db *db, const ctm__subject *s, int64_t visit_id, int level,
                    ctm__visit_kit *kits, int max, int *n);

/* A visit of a subject's schedule dated for that subject, as ctm__schedule_each hands it over:
 * the dates of ctm_subject_visits() and what comes after it. */
typedef struct ctm__dated_visit {
    int64_t subject_id, visit_id;
    char code[33];            /* the visit's code */
    char arm[40];             /* the subject's true arm: never shown to a blinded reader */
    int randomized;           /* the subject's status is "randomized" (not withdrawn, completed) */
    int on_hold;
    int64_t level;            /* the subject's dose level (its start level before any); 0: none */
    int64_t randomized_day;
    int64_t due, from, to;    /* target day and window */
    int dispensed;            /* the visit counts as dispensed (above), on dispensed_day */
    int64_t dispensed_day;
    int assigned;             /* kits are assigned for it and not yet handed over */
    int has_next;             /* the schedule has a visit after it: */
    char next_code[33];
    int next_from_previous;   /* anchored on this one (else on the randomization) */
    int64_t next_last;        /* its day plus its days after, counted from its anchor's day */
    int64_t next_to;          /* the last day of its window as the chain of dates gives it */
} ctm__dated_visit;

/* Every visit of every randomized subject (status randomized, withdrawn or completed) of trial
 * trial_id, dated, in order of subject id and schedule position, handed to fn(ctx, v); a
 * non-zero return of fn stops the walk and is returned.  fn runs while the schedule's
 * statement is open: it should copy what it needs rather than query. */
int ctm__schedule_each(ctm_db *db, int64_t trial_id,
                       int (*fn)(void *ctx, const ctm__dated_visit *v), void *ctx);

#endif
