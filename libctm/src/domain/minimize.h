/* minimize.h - Pocock-Simon minimization as a pure function (internal, no database).
 *
 * The only randomness is the 32-bit draw the caller passes in and records, so that replaying the
 * recorded history (counts, the subject's levels, the draw) gives every assignment again.  The
 * rule is docs/randomization.md, "Minimization". */
#ifndef CTM_MINIMIZE_H
#define CTM_MINIMIZE_H

#include <stdint.h>

#define CTM__MINIM_MAX_ARMS 32
#define CTM__MINIM_MAX_FACTORS 32
#define CTM__MINIM_MAX_LEVELS 1000
#define CTM__MINIM_MAX_LCM 1000000    /* least common multiple of the ratios */
#define CTM__MINIM_MAX_COUNT 1000000  /* prior subjects in one arm at one level */
#define CTM__MINIM_MAX_WEIGHT 1000.0

enum { CTM__IMBALANCE_RANGE = 1, CTM__IMBALANCE_VARIANCE = 2 };

typedef struct ctm__minim {
    int narms;
    const int *ratios;     /* allocation ratio per arm, 1 to CTM__MINIM_MAX_LCM */
    int nfactors;
    const double *weights; /* weight per factor: 0 (not used) or up to CTM__MINIM_MAX_WEIGHT */
    int method;            /* CTM__IMBALANCE_* */
    double p;              /* probability of the best arm(s), 0 < p <= 1 */
} ctm__minim;

/* counts[(arm * nfactors + f) * maxlevels + level]: prior subjects of that arm with that level of
 * factor f; levels[f]: the new subject's level of factor f (ignored for a factor of weight 0).
 * Each arm's total imbalance G_a (if the subject were given arm a: for each factor, the
 * imbalance (range or sample variance) over arms of the ratio-adjusted counts count/ratio at the
 * subject's level, times the factor's weight, summed); the arms with the lowest G (within
 * 1e-9 * (1 + lowest)) share p in proportion to their ratios, the others 1 - p likewise, all arms
 * by their ratios when all tie; the arm is the first whose cumulative probability exceeds
 * u = draw / 2^32.  Writes scores[narms] and probs[narms] if non-NULL.  CTM_EINVAL naming the
 * input at fault; *arm is set only on success. */
int ctm__minimize(const ctm__minim *m, const int *counts, int maxlevels, const int *levels,
                  uint32_t draw, int *arm, double *scores, double *probs);

#endif
