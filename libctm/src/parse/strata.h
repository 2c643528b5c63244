/* strata.h - a trial's stratification factors, a subject's values of them, stratum labels and
 * minimization weights (strata.c).
 *
 * The spec names the factors and their levels, in order:
 *     sex=M,F;age=lt65,ge65
 *   - Factors are separated by ';', a factor's name from its levels by '=', levels by ','.
 *     Nothing is trimmed: a space is a character outside the names' set.
 *   - Factor names and levels: 1-32 of [A-Za-z0-9._-], case-sensitive.  No factor twice, no
 *     level twice within a factor (the same level in two factors is fine).
 *   - At most 8 factors, each with 2 to 16 levels; the product of the level counts (the number
 *     of strata) at most 4096.  NULL or "" is no factor at all: one stratum, the whole trial.
 * A stratum is one level of every factor.  Its canonical label names them in spec order:
 * "sex=M,age=ge65" ("" with no factor).
 *
 * Messages start with "strata: ", "strata values: ", "stratum label: " or "strata weights: " and
 * name the factor, the level or the position of what is wrong ("strata: factor 'age': level
 * 'ge65' given twice", "strata: factor 3: name 'a b': character outside [A-Za-z0-9._-]").  Strata
 * are not secret; text is quoted as ctm__csv_quote does (at most 40 bytes, escaped), except by
 * ctm__strata_match, whose labels come from imported randomization lists (a shifted column could
 * put an arm there): its messages quote nothing of the label, only the spec's own names.
 */
#ifndef CTM_STRATA_H
#define CTM_STRATA_H

#include <stddef.h>

#define CTM__STRATA_MAX_FACTORS 8
#define CTM__STRATA_MAX_LEVELS 16
#define CTM__STRATA_MIN_LEVELS 2
#define CTM__STRATA_MAX_STRATA 4096
#define CTM__STRATA_MAX_NAME 32
/* Bytes (NUL included) that always hold ctm__strata_format's text and a ctm__strata_label. */
#define CTM__STRATA_TEXT_MAX \
    (CTM__STRATA_MAX_FACTORS * (CTM__STRATA_MAX_NAME + 1 + CTM__STRATA_MAX_LEVELS * (CTM__STRATA_MAX_NAME + 1)))
#define CTM__STRATA_LABEL_MAX (CTM__STRATA_MAX_FACTORS * (2 * CTM__STRATA_MAX_NAME + 2))

/* A factor: its name and its levels, NUL-terminated, in spec order. */
typedef struct ctm__factor {
    char name[CTM__STRATA_MAX_NAME + 1];
    int nlevels;
    char levels[CTM__STRATA_MAX_LEVELS][CTM__STRATA_MAX_NAME + 1];
} ctm__factor;

/* The factors in spec order.  A parsed value is zero beyond its names and counts, so two strata
 * parsed from the same canonical text compare equal with memcmp. */
typedef struct ctm__strata {
    int nfactors;
    ctm__factor f[CTM__STRATA_MAX_FACTORS];
} ctm__strata;

/* Parse spec (NUL-terminated; NULL or "" -> 0 factors) into *s, which is overwritten.
 * Returns CTM_OK or CTM_EINVAL (the message names the factor and level); on failure *s is left
 * zeroed (0 factors). */
int ctm__strata_parse(ctm__strata *s, const char *spec);

/* The canonical spec text of s into out (n bytes): factors and levels in their order, so that
 * ctm__strata_parse gives s back ("" for 0 factors; CTM__STRATA_TEXT_MAX bytes always suffice).
 * Returns CTM_OK, or CTM_EINVAL when out is too small or s is not a parsed strata (counts out of
 * range); out is then "" when n > 0. */
int ctm__strata_format(const ctm__strata *s, char *out, size_t n);

/* A subject's values "sex=M,age=ge65" (factors in any order, each at most once, separated by
 * ','; NULL or "" gives none) -> level index per factor of s, -1 for a factor not given and for
 * every entry from s->nfactors on.  Returns CTM_OK or CTM_EINVAL naming the unknown factor, the
 * unknown level, the factor given twice, or the item without '=' ("strata values: factor 'sex':
 * unknown level 'X'"); on failure every entry of level is -1. */
int ctm__strata_values(const ctm__strata *s, const char *values, int level[CTM__STRATA_MAX_FACTORS]);

/* The canonical label of the stratum whose levels are level[0..s->nfactors-1] (each a valid index:
 * every factor known) into out (n bytes; CTM__STRATA_LABEL_MAX always suffice): "sex=M,age=ge65"
 * in spec order, "" with 0 factors.  Returns CTM_OK, or CTM_EINVAL naming the factor without a
 * valid level, or when out is too small; out is then "" when n > 0. */
int ctm__strata_label(const ctm__strata *s, const int level[], char *out, size_t n);

/* A stratum label from an imported list -> level[0..s->nfactors-1].  Accepted: the canonical
 * label with the factors in any order, every factor exactly once ("age=ge65,sex=M"), or the
 * levels alone in spec order joined by '/' ("M/ge65"; with one factor just "M"); with 0 factors
 * only "".  Returns CTM_OK or CTM_EINVAL naming the factor or the position ("stratum label: part
 * 2: not a level of factor 'age'"), never quoting the label; on failure level[0..nfactors-1] is
 * -1. */
int ctm__strata_match(const ctm__strata *s, const char *label, int level[]);

/* The number of strata: the product of the level counts, 1 with 0 factors (0 for a strata whose
 * counts are out of range, which no parse gives). */
size_t ctm__strata_count(const ctm__strata *s);

/* The levels of the i-th stratum into level[0..s->nfactors-1], mixed radix with the first factor
 * slowest (stratum 1 of sex=M,F;age=lt65,ge65 is M and ge65), for generating one list per
 * stratum.  i >= ctm__strata_count(s) gives -1 for every factor. */
void ctm__strata_nth(const ctm__strata *s, size_t i, int level[]);

/* Minimization factor weights "site:1,sex:2,age:0.5": items separated by ',', each a factor of s
 * (at most once) and its weight, a decimal number > 0 and <= 100 with at most 3 decimals (digits,
 * optionally '.' and 1-3 digits: no sign, no exponent).  weight[i] is the weight of factor i, 0 for
 * factors not named and from s->nfactors on.  At least one factor: NULL or "" is refused.
 * Returns CTM_OK or CTM_EINVAL naming the factor or item; on failure every weight is 0. */
int ctm__strata_weights(const ctm__strata *s, const char *text, double weight[CTM__STRATA_MAX_FACTORS]);

#endif
