/* gs1.h - GS1 element strings (gs1.c): what the tests need beyond the public API. */
#ifndef CTM_GS1_H
#define CTM_GS1_H

#include "ctm.h"

/* ctm_gs1_parse() with two-digit years resolved around reference_year (GS1 General
 * Specifications 7.12: within reference_year - 49 .. reference_year + 50) instead of the current
 * UTC year, so that tests do not depend on the day they run.  reference_year: 1000..9899. */
int ctm__gs1_parse_at(ctm_gs1 **out, const char *input, int reference_year);

#endif
