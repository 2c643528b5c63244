/* stock.h - what the trial, stock and receipt modules share (internal). */
#ifndef CTM_STOCK_H
#define CTM_STOCK_H

#include "internal.h"

typedef struct ctm__trial {
    int64_t id;
    int blinded;
} ctm__trial;

/* Look a trial or location up by its code; CTM_ENOTFOUND names it. */
int ctm__trial_lookup(ctm_db *db, const char *code, ctm__trial *t);
int ctm__location_lookup(ctm_db *db, const char *name, int64_t *id);

/* The opening every listing shares: *out cleared, a logged-in user, and the trial looked up
 * when one is named (t zeroed otherwise). */
int ctm__listing_begin(ctm_query **out, ctm_db *db, const char *what, const char *trial,
                       ctm__trial *t);

/* Non-zero when the logged-in user may see the arms of a trial. */
int ctm__sees_arms(ctm_db *db, int trial_blinded);

/* Kit statuses and the one transition table (stock.c). */
int ctm__status_valid(const char *status);
/* Non-zero when a kit may go from one status to another; by_hand limits it to the changes
 * ctm_kit_set_status() makes (the others belong to receipt, dispensing, returns...). */
int ctm__transition_allowed(const char *from, const char *to, int by_hand);

#endif
