/* test_randgen.c - permuted-block lists from a recorded seed (docs/randomization.md). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "randgen.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static const uint8_t SEED[32] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

static ctm__block_row *gen(const char *label, const int *ratios, int narms, const int *sizes,
                           int nsizes, size_t min_rows, size_t *n)
{
    ctm__block_row *rows;
    int rc = ctm__blocks_generate(SEED, label, ratios, narms, sizes, nsizes, min_rows, &rows, n);
    ck_assert_msg(rc == CTM_OK, "generate: %d %s", rc, ctm_errmsg());
    ck_assert_uint_ge(*n, min_rows);
    return rows;
}

/* The call must fail with CTM_EINVAL and exactly this message, leaving no rows. */
static void gen_refused(const int *ratios, int narms, const int *sizes, int nsizes, size_t min_rows,
                        const char *msg)
{
    ctm__block_row *rows = (ctm__block_row *)&rows;
    size_t n = 99;
    ck_assert_int_eq(ctm__blocks_generate(SEED, "s", ratios, narms, sizes, nsizes, min_rows, &rows, &n),
                     CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), msg);
    ck_assert_ptr_null(rows);
    ck_assert_uint_eq(n, 0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Every block: consecutive numbers from 1, its size one of sizes and all its rows saying so, and
 * exactly size / sum * ratio[i] rows of arm i.  Returns the number of blocks.  (Plain tests in
 * the loops: each passing ck_assert costs Check a write to its pipe, seconds over a million rows.) */
static int check_blocks(const ctm__block_row *rows, size_t n, const int *ratios, int narms,
                        const int *sizes, int nsizes)
{
    int sum = 0, block = 0;
    size_t i = 0;

    for (int a = 0; a < narms; a++)
        sum += ratios[a];
    while (i < n) {
        int size = rows[i].block_size, seen[CTM__RAND_MAX_ARMS] = { 0 }, known = 0;
        block++;
        for (int s = 0; s < nsizes; s++)
            known |= sizes[s] == size;
        if (!known || rows[i].block != block || i + (size_t)size > n) /* whole blocks only */
            ck_abort_msg("row %zu: block %d of size %d, expected block %d of one of the sizes", i,
                         rows[i].block, size, block);
        for (int k = 0; k < size; k++, i++) {
            if (rows[i].block != block || rows[i].block_size != size || rows[i].arm < 0 ||
                rows[i].arm >= narms)
                ck_abort_msg("row %zu: block %d size %d arm %d in block %d of size %d", i,
                             rows[i].block, rows[i].block_size, rows[i].arm, block, size);
            seen[rows[i].arm]++;
        }
        for (int a = 0; a < narms; a++)
            if (seen[a] != size / sum * ratios[a])
                ck_abort_msg("block %d: arm %d has %d rows of %d", block, a, seen[a], size);
    }
    return block;
}

/* ---- known answers: the derivation of docs/randomization.md ------------------------------- */

/* Computed independently from the document with Python (hashlib, and the cryptography package's
 * ChaCha20 with a 16-byte nonce of zeros, i.e. counter 0 and IETF nonce 0); the script is the one
 * in docs/randomization.md.  A change here means every list already generated would change. */
START_TEST(test_known_lists)
{
    static const int a_arms[20] = { 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0 };
    static const int a_block[20] = { 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3 };
    static const int b_arms[20] = { 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0 };
    const int ratios_a[] = { 2, 1 }, sizes_a[] = { 3, 6, 9 }, ratios_b[] = { 1, 1 }, sizes_b[] = { 4 };
    size_t n;
    ctm__block_row *rows = gen("site=SE-01;sex=F", ratios_a, 2, sizes_a, 3, 20, &n);

    ck_assert_uint_eq(n, 24); /* blocks of 6, 9, 9 */
    for (int i = 0; i < 20; i++) {
        ck_assert_msg(rows[i].arm == a_arms[i], "row %d: arm %d, expected %d", i, rows[i].arm, a_arms[i]);
        ck_assert_int_eq(rows[i].block, a_block[i]);
        ck_assert_int_eq(rows[i].block_size, a_block[i] == 1 ? 6 : 9);
    }
    free(rows);
    /* One size: the size's draw, uniform(1), still takes a word of the stream. */
    rows = gen("", ratios_b, 2, sizes_b, 1, 20, &n);
    ck_assert_uint_eq(n, 20);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(rows[i].arm == b_arms[i], "row %d: arm %d, expected %d", i, rows[i].arm, b_arms[i]);
    free(rows);
}
END_TEST

/* n = 2^31 + 1 rejects almost half the words: the rejection rule is part of the derivation. */
START_TEST(test_known_uniform)
{
    static const uint32_t want[8] = { 422118571u, 674213703u, 922659238u, 1287468289u,
                                      184772562u, 98376340u, 469710677u, 1530952369u };
    ctm__drbg d;

    ctm__drbg_init(&d, SEED, "");
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(ctm__drbg_uniform(&d, 2147483649u), want[i]);
    ctm__drbg_wipe(&d);
}
END_TEST

/* ---- balance ---------------------------------------------------------------------------- */

START_TEST(test_blocks_balanced_to_ratio)
{
    const int r21[] = { 2, 1 }, s21[] = { 3, 6, 9 };
    const int r321[] = { 3, 2, 1 }, s321[] = { 12, 6 };
    const int r11[] = { 1, 1, 1, 1 }, s11[] = { 4 };
    size_t n;
    ctm__block_row *rows;

    rows = gen("a", r21, 2, s21, 3, 3000, &n);
    ck_assert_int_ge(check_blocks(rows, n, r21, 2, s21, 3), 3000 / 9);
    free(rows);
    rows = gen("b", r321, 3, s321, 2, 3000, &n);
    check_blocks(rows, n, r321, 3, s321, 2);
    free(rows);
    rows = gen("c", r11, 4, s11, 1, 1001, &n);
    ck_assert_uint_eq(n, 1004);
    check_blocks(rows, n, r11, 4, s11, 1);
    free(rows);
}
END_TEST

/* Each size comes up about equally often, and the order within blocks varies (it is shuffled,
 * not the arms in order). */
START_TEST(test_sizes_and_orders_vary)
{
    const int ratios[] = { 1, 1 }, sizes[] = { 2, 4, 6 };
    int per_size[7] = { 0 }, first_arm[2] = { 0 }, blocks;
    size_t n;
    ctm__block_row *rows = gen("vary", ratios, 2, sizes, 3, 40000, &n);

    blocks = check_blocks(rows, n, ratios, 2, sizes, 3);
    for (size_t i = 0; i < n; i += (size_t)rows[i].block_size) {
        per_size[rows[i].block_size]++;
        first_arm[rows[i].arm]++;
    }
    for (int s = 2; s <= 6; s += 2)
        ck_assert_msg(per_size[s] > blocks / 3 - blocks / 20 && per_size[s] < blocks / 3 + blocks / 20,
                      "size %d: %d of %d blocks", s, per_size[s], blocks);
    ck_assert_int_gt(first_arm[0], blocks / 2 - blocks / 20);
    ck_assert_int_gt(first_arm[1], blocks / 2 - blocks / 20);
    free(rows);
}
END_TEST

/* ---- reproducibility -------------------------------------------------------------------- */

START_TEST(test_same_seed_same_list)
{
    const int ratios[] = { 2, 1 }, sizes[] = { 3, 6, 9 }, reordered[] = { 9, 3, 6 };
    size_t n1, n2, n3;
    ctm__block_row *a = gen("site=1", ratios, 2, sizes, 3, 500, &n1);
    ctm__block_row *b = gen("site=1", ratios, 2, sizes, 3, 500, &n2);
    ctm__block_row *c = gen("site=1", ratios, 2, reordered, 3, 500, &n3);

    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1 * sizeof *a);
    /* The sizes are a set: the order they were typed in is not part of the list. */
    ck_assert_uint_eq(n1, n3);
    ck_assert_mem_eq(a, c, n1 * sizeof *a);
    free(a);
    free(b);
    free(c);
}
END_TEST

/* Strata (and seeds) have streams of their own: two lists agree no more than chance says. */
START_TEST(test_labels_and_seeds_independent)
{
    const int ratios[] = { 1, 1 }, sizes[] = { 2, 4 };
    uint8_t seed2[32];
    size_t n1, n2, n3, same = 0, m;
    ctm__block_row *a = gen("site=1;sex=F", ratios, 2, sizes, 2, 20000, &n1);
    ctm__block_row *b = gen("site=1;sex=M", ratios, 2, sizes, 2, 20000, &n2);
    ctm__block_row *c;

    m = n1 < n2 ? n1 : n2;
    for (size_t i = 0; i < m; i++)
        same += a[i].arm == b[i].arm;
    ck_assert_msg(same > m * 45 / 100 && same < m * 55 / 100, "%zu of %zu rows agree", same, m);

    memcpy(seed2, SEED, sizeof seed2);
    seed2[31] ^= 1;
    ck_assert_int_eq(ctm__blocks_generate(seed2, "site=1;sex=F", ratios, 2, sizes, 2, 20000, &c, &n3),
                     CTM_OK);
    m = n1 < n3 ? n1 : n3;
    same = 0;
    for (size_t i = 0; i < m; i++)
        same += a[i].arm == c[i].arm;
    ck_assert_msg(same > m * 45 / 100 && same < m * 55 / 100, "%zu of %zu rows agree", same, m);
    free(a);
    free(b);
    free(c);
}
END_TEST

/* A list extended later (more rows asked of the same seed) keeps every row already used. */
START_TEST(test_longer_list_extends_shorter)
{
    const int ratios[] = { 2, 1, 1 }, sizes[] = { 4, 8, 12 };
    size_t lengths[] = { 1, 5, 13, 100, 777, 5000 }, n_long, n;
    ctm__block_row *full = gen("x", ratios, 3, sizes, 3, 20000, &n_long);

    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        ctm__block_row *part = gen("x", ratios, 3, sizes, 3, lengths[k], &n);
        ck_assert_uint_lt(n, lengths[k] + 12);
        ck_assert_mem_eq(part, full, n * sizeof *part);
        free(part);
    }
    free(full);
}
END_TEST

START_TEST(test_fresh_seeds_differ)
{
    uint8_t a[32], b[32];

    ctm__randgen_new_seed(a);
    ctm__randgen_new_seed(b);
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

/* ---- refusals --------------------------------------------------------------------------- */

START_TEST(test_bad_designs_refused)
{
    const int r21[] = { 2, 1 }, r0[] = { 1, 0 }, r_big[] = { 1, 101 };
    int ones[33], many[17];

    for (int i = 0; i < 33; i++)
        ones[i] = 1;
    for (int i = 0; i < 17; i++)
        many[i] = 3 * (i + 1);
    gen_refused(r21, 2, (const int[]){ 3, 5 }, 2, 10,
                "block sizes: 5 is not a multiple of 3, the sum of the ratios");
    gen_refused(r21, 2, (const int[]){ 0 }, 1, 10, "block sizes: 0 is not positive");
    gen_refused(r21, 2, (const int[]){ -3 }, 1, 10, "block sizes: -3 is not positive");
    gen_refused(r21, 2, (const int[]){ 10002 }, 1, 10, "block sizes: 10002 is above the limit of 10000");
    gen_refused(r21, 2, (const int[]){ 6, 3, 6 }, 3, 10, "block sizes: 6 is given twice");
    gen_refused(r21, 2, many, 0, 10, "block sizes: 0 given, 1 to 16 allowed");
    gen_refused(r21, 2, many, 17, 10, "block sizes: 17 given, 1 to 16 allowed");
    gen_refused(r0, 2, (const int[]){ 2 }, 1, 10, "ratios: arm 2's ratio is 0, 1 to 100 allowed");
    gen_refused(r_big, 2, (const int[]){ 102 }, 1, 10, "ratios: arm 2's ratio is 101, 1 to 100 allowed");
    gen_refused(ones, 1, (const int[]){ 2 }, 1, 10, "arms: 1 given, 2 to 32 allowed");
    gen_refused(ones, 33, (const int[]){ 33 }, 1, 10, "arms: 33 given, 2 to 32 allowed");
    gen_refused(r21, 2, (const int[]){ 3 }, 1, 0, "list length: 0 rows asked for, 1 to 10000000 allowed");
    gen_refused(r21, 2, (const int[]){ 3 }, 1, 10000001,
                "list length: 10000001 rows asked for, 1 to 10000000 allowed");
}
END_TEST

START_TEST(test_missing_arguments_refused)
{
    const int ratios[] = { 1, 1 }, sizes[] = { 2 };
    ctm__block_row *rows;
    size_t n;

    ck_assert_int_eq(ctm__blocks_generate(NULL, "s", ratios, 2, sizes, 1, 2, &rows, &n), CTM_EINVAL);
    ck_assert_int_eq(ctm__blocks_generate(SEED, NULL, ratios, 2, sizes, 1, 2, &rows, &n), CTM_EINVAL);
    ck_assert_int_eq(ctm__blocks_generate(SEED, "s", NULL, 2, sizes, 1, 2, &rows, &n), CTM_EINVAL);
    ck_assert_int_eq(ctm__blocks_generate(SEED, "s", ratios, 2, NULL, 1, 2, &rows, &n), CTM_EINVAL);
    ck_assert_int_eq(ctm__blocks_generate(SEED, "s", ratios, 2, sizes, 1, 2, NULL, &n), CTM_EINVAL);
    ck_assert_int_eq(ctm__blocks_generate(SEED, "s", ratios, 2, sizes, 1, 2, &rows, NULL), CTM_EINVAL);
}
END_TEST

/* ---- uniform draws ---------------------------------------------------------------------- */

static double chi_square(const uint32_t *obs, int bins, double expected)
{
    double x = 0;
    for (int i = 0; i < bins; i++)
        x += (obs[i] - expected) * (obs[i] - expected) / expected;
    return x;
}

/* 10^5 draws with a fixed seed against generous chi-square bounds (p about 1e-6 for a fair
 * generator).  n = 3 * 2^30 is where taking w mod n without rejection shows: the residues below
 * 2^32 - n = 2^30 would come twice as often (half the draws in the first third). */
START_TEST(test_uniform_unbiased)
{
    uint32_t small[10] = { 0 }, thirds[3] = { 0 };
    ctm__drbg d;

    ctm__drbg_init(&d, SEED, "chi-square");
    for (int i = 0; i < 100000; i++) {
        uint32_t v = ctm__drbg_uniform(&d, 10);
        if (v >= 10)
            ck_abort_msg("uniform(10) gave %u", v);
        small[v]++;
    }
    ck_assert_msg(chi_square(small, 10, 10000) < 45, "n = 10: chi-square %.1f",
                  chi_square(small, 10, 10000));
    for (int i = 0; i < 100000; i++) {
        uint32_t v = ctm__drbg_uniform(&d, 3u << 30);
        if (v >= 3u << 30)
            ck_abort_msg("uniform(3 * 2^30) gave %u", v);
        thirds[v >> 30]++;
    }
    ck_assert_msg(chi_square(thirds, 3, 100000 / 3.0) < 28, "n = 3 * 2^30: chi-square %.1f (%u %u %u)",
                  chi_square(thirds, 3, 100000 / 3.0), thirds[0], thirds[1], thirds[2]);
    ctm__drbg_wipe(&d);
}
END_TEST

START_TEST(test_uniform_edges)
{
    ctm__drbg d, e;

    ctm__drbg_init(&d, SEED, "edges");
    ctm__drbg_init(&e, SEED, "edges");
    ck_assert_uint_eq(ctm__drbg_uniform(&d, 0), 0);
    ck_assert_uint_eq(ctm__drbg_uniform(&d, 1), 0);
    /* n = 0 drew nothing and n = 1 one word: d is now one word ahead of e. */
    ctm__drbg_uniform(&e, 1 << 20);
    ck_assert_uint_eq(ctm__drbg_uniform(&d, 0xffffffffu), ctm__drbg_uniform(&e, 0xffffffffu));
    for (int i = 0; i < 1000; i++)
        if (ctm__drbg_uniform(&d, 0xffffffffu) == 0xffffffffu)
            ck_abort_msg("uniform(2^32 - 1) gave 2^32 - 1");
    ctm__drbg_wipe(&d);
    for (size_t i = 0; i < sizeof d; i++)
        ck_assert_uint_eq(((const uint8_t *)&d)[i], 0);
    ctm__drbg_wipe(&e);
}
END_TEST

/* The 32-bit block counter must never wrap into a repeated keystream. */
START_TEST(test_stream_end_flagged)
{
    ctm__drbg d;

    ctm__drbg_init(&d, SEED, "end");
    d.block = ((uint64_t)1 << 32) - 4; /* the last refill the counter allows */
    for (int i = 0; i < 64; i++)
        ctm__drbg_uniform(&d, 1);
    ck_assert_int_eq(d.exhausted, 0);
    ctm__drbg_uniform(&d, 1);
    ck_assert_int_eq(d.exhausted, 1);
    ctm__drbg_wipe(&d);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

START_TEST(test_thirty_two_arms)
{
    int ratios[32], sizes[] = { 32, 64, 96 };
    size_t n;
    ctm__block_row *rows;

    for (int i = 0; i < 32; i++)
        ratios[i] = 1;
    rows = gen("32", ratios, 32, sizes, 3, 10000, &n);
    check_blocks(rows, n, ratios, 32, sizes, 3);
    free(rows);
}
END_TEST

START_TEST(test_million_rows_fast)
{
    const int ratios[] = { 2, 1 }, sizes[] = { 3, 6, 9 };
    size_t n;
    double t0 = now_ms(), dt;
    ctm__block_row *rows = gen("big", ratios, 2, sizes, 3, 1000000, &n);

    dt = now_ms() - t0;
    ck_assert_uint_lt(n, 1000000 + 9);
    ck_assert_int_eq(rows[n - 1].block, check_blocks(rows, n, ratios, 2, sizes, 3));
    /* A loose bound (sanitizers, valgrind): about 30 ms in an optimised build. */
    ck_assert_msg(dt < 3000, "1,000,000 rows took %.1f ms", dt);
    free(rows);
}
END_TEST

static Suite *randgen_suite(void)
{
    Suite *s = suite_create("randgen");
    TCase *tc;

    tc = tcase_create("known_answers");
    tcase_add_test(tc, test_known_lists);
    tcase_add_test(tc, test_known_uniform);
    suite_add_tcase(s, tc);

    tc = tcase_create("balance");
    tcase_add_test(tc, test_blocks_balanced_to_ratio);
    tcase_add_test(tc, test_sizes_and_orders_vary);
    suite_add_tcase(s, tc);

    tc = tcase_create("reproducibility");
    tcase_add_test(tc, test_same_seed_same_list);
    tcase_add_test(tc, test_labels_and_seeds_independent);
    tcase_add_test(tc, test_longer_list_extends_shorter);
    tcase_add_test(tc, test_fresh_seeds_differ);
    suite_add_tcase(s, tc);

    tc = tcase_create("refusals");
    tcase_add_test(tc, test_bad_designs_refused);
    tcase_add_test(tc, test_missing_arguments_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("uniform");
    tcase_add_test(tc, test_uniform_unbiased);
    tcase_add_test(tc, test_uniform_edges);
    tcase_add_test(tc, test_stream_end_flagged);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_thirty_two_arms);
    tcase_add_test(tc, test_million_rows_fast);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(randgen_suite());
}
