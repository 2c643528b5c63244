/* inspect.h - the supply forecast and the self-inspection as row functions (internal), for the
 * public listings ctm_forecast() and ctm_self_inspection() and for the report framework.  Each
 * opens like any listing (a logged-in user; the trial looked up) and gives the rows the public
 * call documents in ctm.h; docs/forecast-and-inspection.md gives the rules. */
#ifndef CTM_INSPECT_H
#define CTM_INSPECT_H

#include "internal.h"

/* The forecast of trial `trial` over the next `days` days (1 to 3650). */
int ctm__report_forecast(ctm_query **out, ctm_db *db, const char *trial, int days);

/* The findings of a self-inspection of trial `trial` (NULL: every trial), accounts counting as
 * stale after `stale_days` days (1 to 3650) without an action. */
int ctm__report_self_inspection(ctm_query **out, ctm_db *db, const char *trial, int stale_days);

#endif
