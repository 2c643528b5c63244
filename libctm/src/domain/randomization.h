/* randomization.h - what the randomization and subject modules share (internal). */
#ifndef CTM_RANDOMIZATION_H
#define CTM_RANDOMIZATION_H

#include "stock.h"
#include "minimize.h"
#include "strata.h"

#define CTM__MAX_ARMS 32

/* A trial's arms in the order the trial gave them, with their ratios. */
typedef struct ctm__arms {
    int n;
    char code[CTM__MAX_ARMS][33];
    int ratio[CTM__MAX_ARMS];
} ctm__arms;
int ctm__arms_load(ctm_db *db, int64_t trial_id, ctm__arms *arms);
/* The index of an arm code, or -1. */
int ctm__arms_find(const ctm__arms *arms, const char *code);

/* A subject as the calls on subjects, visits and dispensing read it (subjects.c). */
typedef struct ctm__subject {
    int64_t id, trial_id;
    char status[16];
    char strata[400];
    char arm[40];             /* the true arm: never shown to a blinded reader from here */
    int on_hold;
    int randomized;           /* randomized_us is set */
    int64_t randomized_us;
    int has_level;            /* dose_level is set (0 otherwise) */
    int64_t dose_level, titrations, titrated_us;
    int titrated;             /* titrated_us is set */
} ctm__subject;

/* A screening number: 1-40 of [A-Za-z0-9._/-]; CTM_EINVAL quotes it escaped. */
int ctm__check_screening(const char *screening);
/* The subject of a trial by screening number, or by id; CTM_ENOTFOUND names it. */
int ctm__subject_lookup(ctm_db *db, int64_t trial_id, const char *trial, const char *screening,
                        ctm__subject *s);
int ctm__subject_by_id(ctm_db *db, int64_t id, ctm__subject *s);

/* A trial's randomization scheme (rand_schemes).  For minimization also its factor weights
 * (0 for a factor not used), imbalance method (CTM__IMBALANCE_*) and p. */
typedef struct ctm__scheme {
    int exists;
    char method[16];
    char source[16];
    ctm__strata strata;
    double weight[CTM__STRATA_MAX_FACTORS];
    int imbalance;
    double p;
} ctm__scheme;
/* Load the scheme of a trial (s->exists 0 when it has none). */
int ctm__scheme_load(ctm_db *db, int64_t trial_id, ctm__scheme *s);

#endif
