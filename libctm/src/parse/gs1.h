/* gs1.h - GS1 element strings (gs1.c): what the tests need beyond the public API. */
#ifndef CTM_GS1_H
#define CTM_GS1_H

#include "ctm.h"

/* ctm_gs1_parse() with two-digit years resolved around reference_year (GS1 General
 * Specifications 7.12: within reference_year - 49 .. reference_year + 50) instead of the current
 * UTC year, so that tests do not depend on the day they run.  reference_year: 1000..9899. */
int ctm__gs1_parse_at(ctm_gs1 **out, const char *input, int reference_year);

/* Non-zero when c is in GS1 AI encodable character set 82 (manifests check lots with it). */
int ctm__gs1_cset82_char(unsigned char c);
/* The index of the first of the n bytes at s outside character set 82, or n when all are in it. */
size_t ctm__gs1_cset82_bad(const char *s, size_t n);

/* Non-zero when the n digits at v end in their GS1 mod-10 check digit (GTIN-8/12/13/14, SSCC);
 * *expected receives the digit that would be right. */
int ctm__gs1_check_digit(const char *v, size_t n, char *expected);

#endif
