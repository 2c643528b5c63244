/*
 * minimize.c - Pocock-Simon minimization (Pocock and Simon, Biometrics 1975) with a recorded draw.
 *
 * The ratio-adjusted counts count/ratio are computed as integers scaled by L, the least common
 * multiple of the ratios, so that the range, and the variance while its squares stay below 2^53,
 * are exact: two arms whose scores are equal on paper then tie in the machine too, and a tie
 * decides who shares p.  Only the weighted sum over factors is rounded, hence the small tolerance.
 */
#include <stddef.h>

#include "minimize.h"
#include "core.h"

#define TIE_EPSILON 1e-9

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b != 0) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int check_inputs(const ctm__minim *m, const int *counts, int maxlevels, const int *levels,
                        int64_t *lcm)
{
    int used = 0;

    if (m->narms < 2 || m->narms > CTM__MINIM_MAX_ARMS)
        return ctm__err(CTM_EINVAL, "minimization: %d arms, 2 to %d allowed", m->narms,
                        CTM__MINIM_MAX_ARMS);
    if (m->ratios == NULL || m->weights == NULL)
        return ctm__err(CTM_EINVAL, "minimization: the ratios and weights are required");
    *lcm = 1;
    for (int a = 0; a < m->narms; a++) {
        if (m->ratios[a] < 1 || m->ratios[a] > CTM__MINIM_MAX_LCM)
            return ctm__err(CTM_EINVAL, "minimization: arm %d's ratio is %d, 1 to %d allowed", a + 1,
                            m->ratios[a], CTM__MINIM_MAX_LCM);
        *lcm = *lcm / gcd64(*lcm, m->ratios[a]) * m->ratios[a];
        if (*lcm > CTM__MINIM_MAX_LCM)
            return ctm__err(CTM_EINVAL,
                            "minimization: the ratios' least common multiple is above %d",
                            CTM__MINIM_MAX_LCM);
    }
    if (m->nfactors < 1 || m->nfactors > CTM__MINIM_MAX_FACTORS)
        return ctm__err(CTM_EINVAL, "minimization: %d factors, 1 to %d allowed", m->nfactors,
                        CTM__MINIM_MAX_FACTORS);
    for (int f = 0; f < m->nfactors; f++) {
        double w = m->weights[f];
        /* Written so that NaN fails too. */
        if (!(w >= 0 && w <= CTM__MINIM_MAX_WEIGHT))
            return ctm__err(CTM_EINVAL, "minimization: factor %d's weight is not 0 to %g", f + 1,
                            CTM__MINIM_MAX_WEIGHT);
        used += w > 0;
    }
    if (used == 0)
        return ctm__err(CTM_EINVAL, "minimization: every factor's weight is 0");
    if (m->method != CTM__IMBALANCE_RANGE && m->method != CTM__IMBALANCE_VARIANCE)
        return ctm__err(CTM_EINVAL, "minimization: method %d is neither range (1) nor variance (2)",
                        m->method);
    if (!(m->p > 0 && m->p <= 1))
        return ctm__err(CTM_EINVAL, "minimization: p, the best arm's probability, is not in (0, 1]");
    if (maxlevels < 1 || maxlevels > CTM__MINIM_MAX_LEVELS)
        return ctm__err(CTM_EINVAL, "minimization: %d levels, 1 to %d allowed", maxlevels,
                        CTM__MINIM_MAX_LEVELS);
    for (int f = 0; f < m->nfactors; f++) {
        if (m->weights[f] == 0)
            continue;
        if (levels[f] < 0 || levels[f] >= maxlevels)
            return ctm__err(CTM_EINVAL, "minimization: the subject's level of factor %d is %d, "
                            "0 to %d allowed", f + 1, levels[f], maxlevels - 1);
        for (int a = 0; a < m->narms; a++) {
            int c = counts[((size_t)a * (size_t)m->nfactors + (size_t)f) * (size_t)maxlevels +
                           (size_t)levels[f]];
            if (c < 0 || c > CTM__MINIM_MAX_COUNT)
                return ctm__err(CTM_EINVAL, "minimization: the count of arm %d at factor %d level %d "
                                "is %d, 0 to %d allowed", a + 1, f + 1, levels[f], c,
                                CTM__MINIM_MAX_COUNT);
        }
    }
    return CTM_OK;
}

/* Imbalance of y[0..k) = Y[b] / L with Y[a] raised by add: the range, or the sample variance
 * sum_{b<c} (y_b - y_c)^2 / (k (k - 1)). */
static double imbalance(int method, const int64_t *Y, int k, int a, int64_t add, int64_t L)
{
    if (method == CTM__IMBALANCE_RANGE) {
        int64_t lo = Y[0] + (a == 0 ? add : 0), hi = lo;
        for (int b = 1; b < k; b++) {
            int64_t v = Y[b] + (a == b ? add : 0);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        return (double)(hi - lo) / (double)L;
    }
    double s = 0;
    for (int b = 0; b < k; b++)
        for (int c = b + 1; c < k; c++) {
            double d = (double)((Y[b] + (a == b ? add : 0)) - (Y[c] + (a == c ? add : 0)));
            s += d * d;
        }
    return s / ((double)k * (double)(k - 1) * (double)L * (double)L);
}

int ctm__minimize(const ctm__minim *m, const int *counts, int maxlevels, const int *levels,
                  uint32_t draw, int *arm, double *scores, double *probs)
{
    double G[CTM__MINIM_MAX_ARMS], P[CTM__MINIM_MAX_ARMS];
    int64_t Y[CTM__MINIM_MAX_ARMS], L = 1;
    int best[CTM__MINIM_MAX_ARMS];
    int k, nbest = 0, rc, chosen = -1, last = -1;
    int64_t rbest = 0, rother = 0;
    double gmin, u, cum = 0;

    if (m == NULL || counts == NULL || levels == NULL || arm == NULL)
        return ctm__err(CTM_EINVAL, "minimization: the design, counts, levels and arm are required");
    rc = check_inputs(m, counts, maxlevels, levels, &L);
    if (rc != CTM_OK)
        return rc;
    k = m->narms;

    for (int a = 0; a < k; a++)
        G[a] = 0;
    for (int f = 0; f < m->nfactors; f++) {
        if (m->weights[f] == 0)
            continue;
        for (int b = 0; b < k; b++)
            Y[b] = (int64_t)counts[((size_t)b * (size_t)m->nfactors + (size_t)f) * (size_t)maxlevels +
                                   (size_t)levels[f]] * (L / m->ratios[b]);
        for (int a = 0; a < k; a++)
            G[a] += m->weights[f] * imbalance(m->method, Y, k, a, L / m->ratios[a], L);
    }

    gmin = G[0];
    for (int a = 1; a < k; a++)
        gmin = G[a] < gmin ? G[a] : gmin;
    for (int a = 0; a < k; a++) {
        best[a] = G[a] <= gmin + TIE_EPSILON * (1 + gmin);
        nbest += best[a];
        if (best[a])
            rbest += m->ratios[a];
        else
            rother += m->ratios[a];
    }
    for (int a = 0; a < k; a++) {
        if (nbest == k)
            P[a] = (double)m->ratios[a] / (double)rbest;
        else if (best[a])
            P[a] = m->p * m->ratios[a] / (double)rbest;
        else
            P[a] = (1 - m->p) * m->ratios[a] / (double)rother;
    }

    /* The first arm whose cumulative probability exceeds u; rounding can leave the total a hair
     * below 1, so a u beyond it goes to the last arm that can be chosen at all. */
    u = (double)draw / 4294967296.0;
    for (int a = 0; a < k; a++) {
        cum += P[a];
        if (P[a] > 0) {
            last = a;
            if (u < cum) {
                chosen = a;
                break;
            }
        }
    }
    *arm = chosen >= 0 ? chosen : last;
    for (int a = 0; a < k; a++) {
        if (scores != NULL)
            scores[a] = G[a];
        if (probs != NULL)
            probs[a] = P[a];
    }
    return CTM_OK;
}
