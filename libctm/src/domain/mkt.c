/* mkt.c - mean kinetic temperature (mkt.h). */
#include <math.h>

#include "mkt.h"

double ctm__mkt_dhr(double energy_kj_per_mol)
{
    return energy_kj_per_mol * 1000.0 / CTM__GAS_CONSTANT;
}

void ctm__mkt_init(ctm__mkt *m, double dhr)
{
    m->dhr = dhr;
    m->ref = 0;
    m->sum_w = 0;
    m->sum_we = 0;
    m->n = 0;
}

void ctm__mkt_add(ctm__mkt *m, double temp_c, double w)
{
    double x = -m->dhr / (temp_c + 273.15);
    if (m->n++ == 0)
        m->ref = x;
    else if (x > m->ref) { /* keep every scaled term at most 1: rescale what is summed */
        m->sum_we *= exp(m->ref - x);
        m->ref = x;
    }
    m->sum_w += w;
    m->sum_we += w * exp(x - m->ref);
}

double ctm__mkt_celsius(const ctm__mkt *m)
{
    if (m->n == 0 || !(m->sum_w > 0))
        return NAN;
    /* ln(sum_we_true / sum_w) = ref + ln(sum_we / sum_w) */
    double l = m->ref + log(m->sum_we / m->sum_w);
    return m->dhr / -l - 273.15;
}

double ctm__mkt_series(const int64_t *t_us, const double *temp_c, size_t n, int64_t max_gap_us,
                       double dhr)
{
    ctm__mkt m;
    ctm__mkt_init(&m, dhr);
    if (n == 1)
        ctm__mkt_add(&m, temp_c[0], 1);
    int64_t held = 0; /* the last reading holds as long as the one before it */
    for (size_t i = 0; n > 1 && i < n; i++) {
        if (i + 1 < n)
            held = t_us[i + 1] - t_us[i];
        if (max_gap_us > 0 && held > max_gap_us)
            held = max_gap_us;
        if (held > 0)
            ctm__mkt_add(&m, temp_c[i], (double)held);
    }
    return ctm__mkt_celsius(&m);
}
