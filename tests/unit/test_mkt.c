/* test_mkt.c - mean kinetic temperature: the public vectors (tests/data/mkt/vectors.tsv), time
 * weighting of uneven series, capped gaps, the activation energy, and precision on cold and long
 * series. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "mkt.h"
#include "testutil.h"

/* Each row: name, readings ("t,t,..." equal weights or "t@h,t@h,..." hours), weighting,
 * expected MKT in C, tolerance. */
START_TEST(test_public_vectors)
{
    char *text = tu_read_data("mkt/vectors.tsv");
    int rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char name[64], readings[512], weighting[16];
        double want, tol;
        ck_assert_int_eq(sscanf(line, "%63[^\t]\t%511[^\t]\t%15[^\t]\t%lf\t%lf", name, readings,
                                weighting, &want, &tol),
                         5);
        ctm__mkt m;
        ctm__mkt_init(&m, CTM__MKT_DEFAULT_DHR);
        char *s2 = NULL;
        for (char *r = strtok_r(readings, ",", &s2); r != NULL; r = strtok_r(NULL, ",", &s2)) {
            double t = strtod(r, NULL), w = 1;
            char *at = strchr(r, '@');
            if (strcmp(weighting, "hours") == 0) {
                ck_assert_ptr_nonnull(at);
                w = strtod(at + 1, NULL);
            }
            ctm__mkt_add(&m, t, w);
        }
        double got = ctm__mkt_celsius(&m);
        ck_assert_msg(fabs(got - want) <= tol, "%s: MKT %.4f, expected %.4f +- %g", name, got,
                      want, tol);
        rows++;
    }
    ck_assert_int_eq(rows, 3);
    free(text);
}
END_TEST

/* A series' readings weigh the time each holds: readings at uneven times give what the hours
 * form gives, and a gap over the cap weighs only the cap. */
START_TEST(test_series_weights_by_time_held)
{
    const int64_t h = INT64_C(3600000000);
    /* 24 C for 16 h, 26 C for 5 h, 28 C for 3 h, then 21 C: the last reading holds as long as
     * the one before it (3 h) */
    int64_t t[] = {0, 16 * h, 21 * h, 24 * h};
    double c[] = {24, 26, 28, 21};
    ctm__mkt m;
    ctm__mkt_init(&m, CTM__MKT_DEFAULT_DHR);
    ctm__mkt_add(&m, 24, 16);
    ctm__mkt_add(&m, 26, 5);
    ctm__mkt_add(&m, 28, 3);
    ctm__mkt_add(&m, 21, 3);
    ck_assert_double_eq_tol(ctm__mkt_series(t, c, 4, 0, CTM__MKT_DEFAULT_DHR), ctm__mkt_celsius(&m),
                            1e-9);
    /* a 20 h gap after the 26 C reading, with gaps capped at 17 h: 26 C weighs 17 h, not 20 */
    int64_t g[] = {0, 16 * h, 36 * h, 39 * h};
    ctm__mkt_init(&m, CTM__MKT_DEFAULT_DHR);
    ctm__mkt_add(&m, 24, 16);
    ctm__mkt_add(&m, 26, 17);
    ctm__mkt_add(&m, 28, 3);
    ctm__mkt_add(&m, 21, 3);
    ck_assert_double_eq_tol(ctm__mkt_series(g, c, 4, 17 * h, CTM__MKT_DEFAULT_DHR),
                            ctm__mkt_celsius(&m), 1e-9);
    /* evenly spaced readings are the plain formula */
    int64_t e[] = {0, h, 2 * h};
    double ec[] = {2, 8, 5};
    ctm__mkt_init(&m, CTM__MKT_DEFAULT_DHR);
    for (int i = 0; i < 3; i++)
        ctm__mkt_add(&m, ec[i], 1);
    ck_assert_double_eq_tol(ctm__mkt_series(e, ec, 3, 0, CTM__MKT_DEFAULT_DHR), ctm__mkt_celsius(&m),
                            1e-9);
    ck_assert_double_eq_tol(ctm__mkt_series(e, ec, 1, 0, CTM__MKT_DEFAULT_DHR), 2.0, 1e-9);
    ck_assert(isnan(ctm__mkt_series(e, ec, 0, 0, CTM__MKT_DEFAULT_DHR)));
}
END_TEST

START_TEST(test_energy_and_precision)
{
    /* USP's 83.144 kJ/mol over R is 10,000 K to within 0.1 K */
    ck_assert_double_eq_tol(ctm__mkt_dhr(83.144), 10000.0, 0.1);
    /* the MKT lies between the mean and the maximum, nearer the maximum as dH/R grows */
    ctm__mkt a, b;
    ctm__mkt_init(&a, CTM__MKT_DEFAULT_DHR);
    ctm__mkt_init(&b, 2 * CTM__MKT_DEFAULT_DHR);
    for (int i = 0; i < 10; i++) {
        ctm__mkt_add(&a, i % 2 ? 2 : 12, 1);
        ctm__mkt_add(&b, i % 2 ? 2 : 12, 1);
    }
    ck_assert(ctm__mkt_celsius(&a) > 7 && ctm__mkt_celsius(&a) < 12);
    ck_assert(ctm__mkt_celsius(&b) > ctm__mkt_celsius(&a));
    /* a deep freezer, and a million readings of one temperature: exactly that temperature */
    ctm__mkt f;
    ctm__mkt_init(&f, CTM__MKT_DEFAULT_DHR);
    for (int i = 0; i < 1000000; i++)
        ctm__mkt_add(&f, -80, 600);
    ck_assert_double_eq_tol(ctm__mkt_celsius(&f), -80.0, 1e-6);
    /* a warm reading after many cold ones still counts in full */
    ctm__mkt w;
    ctm__mkt_init(&w, CTM__MKT_DEFAULT_DHR);
    ctm__mkt_add(&w, -150, 1);
    ctm__mkt_add(&w, 25, 1);
    ck_assert_double_eq_tol(ctm__mkt_celsius(&w),
                            10000.0 / -log(0.5 * (exp(-10000.0 / 123.15) + exp(-10000.0 / 298.15))) -
                                273.15,
                            1e-6);
    ctm__mkt none;
    ctm__mkt_init(&none, CTM__MKT_DEFAULT_DHR);
    ck_assert(isnan(ctm__mkt_celsius(&none)));
}
END_TEST

static Suite *mkt_suite(void)
{
    Suite *s = suite_create("mkt");
    TCase *tc = tcase_create("mkt");
    tcase_add_test(tc, test_public_vectors);
    tcase_add_test(tc, test_series_weights_by_time_held);
    tcase_add_test(tc, test_energy_and_precision);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(mkt_suite());
}
