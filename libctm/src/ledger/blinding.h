/* blinding.h - what a session is shown of treatment arms: the one place that decides (internal).
 *
 * A blinded reader (every user without the unblinded flag, and no one logged in) sees no arm of
 * a blinded trial through any call: listings show CTM__BLINDED in place of the value, the audit
 * log shows it for every arm column of every entry, and calls whose results would depend on arms
 * in ways a mask cannot hide (proofs over unsalted entries) are refused with CTM_EBLINDED.  Every
 * listing, log and report asks here; none decides for itself. */
#ifndef CTM_BLINDING_H
#define CTM_BLINDING_H

#include "ctm.h"

/* What a blinded reader is shown in place of a hidden value. */
#define CTM__BLINDED "(blinded)"

/* Non-zero when db's logged-in user sees every arm of every trial. */
int ctm__blind_sees_all(const ctm_db *db);

/* Non-zero when db's logged-in user sees the arms of a trial whose blinded flag is given. */
int ctm__blind_sees_trial(const ctm_db *db, int trial_blinded);

/* Non-zero when a column of an audited table holds a treatment arm or what would reveal
 * allocations (a list's seed and block structure, minimization's draws, weights, imbalance
 * method and p): its values are hidden from a blinded reader in the audit log, whatever the
 * trial. */
int ctm__blind_column(const char *table, const char *column);

/* The SQL expression for a listing's arm column: the arm where the reader sees the trial's arms,
 * else CTM__BLINDED.  BLINDED_COL is the trial's blinded flag, ARM_COL the arm, SEES_ALL a
 * parameter bound to ctm__blind_sees_all(db) as an integer (compared with 0: PostgreSQL takes no
 * integer where it wants a boolean). */
#define CTM__BLIND_ARM_SQL(BLINDED_COL, ARM_COL, SEES_ALL) \
    " CASE WHEN " BLINDED_COL " = 0 OR " SEES_ALL " <> 0 THEN " ARM_COL " ELSE '" CTM__BLINDED \
    "' END"

#endif
