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

void ctm__hold_init(ctm__hold *h, int64_t max_gap_us)
{
    h->max_gap = max_gap_us;
    h->prev_t = h->prev_mc = 0;
    h->held = 1; /* a lone reading's weight */
    h->have = 0;
}

/* The previous reading, holding until t_us at most max_gap. */
static void hand_back(ctm__hold *h, int64_t t_us, int gap_known, ctm__held *out)
{
    int64_t held = t_us - h->prev_t;
    int64_t gap = h->max_gap > 0 && held > h->max_gap ? held - h->max_gap : 0;
    h->held = held - gap;
    out->t_us = h->prev_t;
    out->mc = h->prev_mc;
    out->held_us = h->held;
    out->gap_us = gap_known ? gap : 0;
}

int ctm__hold_next(ctm__hold *h, int64_t t_us, int64_t mc, ctm__held *out)
{
    int have = h->have;
    if (have)
        hand_back(h, t_us, 1, out);
    h->prev_t = t_us;
    h->prev_mc = mc;
    h->have = 1;
    return have;
}

int ctm__hold_end(ctm__hold *h, int64_t end_us, ctm__held *out)
{
    if (!h->have)
        return 0;
    hand_back(h, end_us != 0 ? end_us : h->prev_t + h->held, 0, out);
    h->have = 0;
    return 1;
}

double ctm__mkt_series(const int64_t *t_us, const double *temp_c, size_t n, int64_t max_gap_us,
                       double dhr)
{
    /* the hold carries each reading's index in place of its value, so that the value given
     * is weighed exactly as given */
    ctm__mkt m;
    ctm__mkt_init(&m, dhr);
    ctm__hold h;
    ctm__hold_init(&h, max_gap_us);
    ctm__held r;
    for (size_t i = 0; i < n; i++)
        if (ctm__hold_next(&h, t_us[i], (int64_t)i, &r))
            ctm__mkt_add(&m, temp_c[r.mc], (double)r.held_us);
    if (ctm__hold_end(&h, 0, &r))
        ctm__mkt_add(&m, temp_c[r.mc], (double)r.held_us);
    return ctm__mkt_celsius(&m);
}
