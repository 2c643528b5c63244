/* mkt.h - mean kinetic temperature (mkt.c).
 *
 *   MKT = (dH/R) / -ln( sum(w_i * exp(-(dH/R) / T_i)) / sum(w_i) )     T_i in kelvin (C + 273.15)
 *
 * dH/R, the activation energy over the gas constant, is 10,000 K by default (USP <1079.2>:
 * dH = 83.144 kJ/mol, R = 8.3144 J/mol/K); an energy in kJ/mol gives dH/R = 1000 * dH / R with
 * R = 8.314462618 J/mol/K (CODATA 2018).
 *
 * Weights: each reading holds from its time until the next reading, so w_i is that duration; the
 * last reading of a series holds as long as the one before it (a series of one reading is that
 * reading).
 * A gap longer than the longest interval allowed (max_gap) is not known to hold anything: the
 * reading before it weighs max_gap, not the whole gap, and the gap is reported as unknown by the
 * caller, never taken as the temperature before it.  Equal weights come out of evenly spaced
 * readings, so a regular logger's MKT is the plain formula.
 *
 * The sum is kept scaled (exp of the difference from the first reading's term), so that cold
 * series (exp(-10000/200) ~ 2e-22) and long series keep their precision.
 */
#ifndef CTM_MKT_H
#define CTM_MKT_H

#include <stddef.h>
#include <stdint.h>

#define CTM__MKT_DEFAULT_DHR 10000.0   /* kelvin */
#define CTM__GAS_CONSTANT 8.314462618  /* J/(mol K) */

/* dH/R in kelvin of an activation energy in kJ/mol. */
double ctm__mkt_dhr(double energy_kj_per_mol);

/* A running MKT over readings added in any order with their weights. */
typedef struct ctm__mkt {
    double dhr;      /* dH/R, kelvin */
    double ref;      /* the exponent of the first term: terms are kept as exp(x - ref) */
    double sum_w;    /* the weights */
    double sum_we;   /* the weighted terms, scaled by exp(-ref) */
    uint64_t n;
} ctm__mkt;

void ctm__mkt_init(ctm__mkt *m, double dhr);
/* One reading of temp_c (degrees Celsius, above -273.15) weighing w (> 0; hours, seconds: any
 * unit, the same for every reading). */
void ctm__mkt_add(ctm__mkt *m, double temp_c, double w);
/* The MKT in degrees Celsius; NaN when nothing was added. */
double ctm__mkt_celsius(const ctm__mkt *m);

/* How long each reading of a series holds, the weighting rule above, as the readings stream by:
 * a reading is handed back when the next one (or the end of the series) says how long it held.
 * The MKT of a location's readings and a kit's exposure both weigh readings so (temp.c). */
typedef struct ctm__hold {
    int64_t max_gap;  /* the longest hold (0: no cap) */
    int64_t prev_t, prev_mc, held;
    int have;
} ctm__hold;

/* One reading handed back: its time, value, the time it held and what of a longer gap before
 * the next reading is not known (0 unless the gap exceeded max_gap). */
typedef struct ctm__held {
    int64_t t_us, mc, held_us, gap_us;
} ctm__held;

void ctm__hold_init(ctm__hold *h, int64_t max_gap_us);
/* The next reading (t_us increasing): 1 and *out the previous reading, or 0 for the first. */
int ctm__hold_next(ctm__hold *h, int64_t t_us, int64_t mc, ctm__held *out);
/* The series ends at end_us (0: the last reading holds as long as the one before it, a lone
 * reading 1 us): 1 and *out the last reading (its hold capped, never a gap), 0 when none. */
int ctm__hold_end(ctm__hold *h, int64_t end_us, ctm__held *out);

/* The MKT of readings at times t_us[0..n) (increasing) of temp_c[0..n), weighted as above with
 * gaps capped at max_gap_us (0: no cap).  NaN when n is 0. */
double ctm__mkt_series(const int64_t *t_us, const double *temp_c, size_t n, int64_t max_gap_us,
                       double dhr);

#endif
