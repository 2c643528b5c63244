/* test_randgen.c - permuted-block lists from a recorded seed, and Pocock-Simon minimization with a
 * recorded draw (docs/randomization.md). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minimize.h"
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

/* ==== minimization ======================================================================== */

#define MAXA 4
#define MAXF 4
#define MAXL 8

/* Counts laid out as ctm__minimize reads them, for MAXF factors (those a test does not use have
 * weight 0). */
typedef struct design {
    int counts[MAXA * MAXF * MAXL];
    int levels[MAXF];
} design;

static int *cell(design *d, int arm, int f, int level)
{
    return &d->counts[(arm * MAXF + f) * MAXL + level];
}

static int pick(const ctm__minim *m, design *d, uint32_t draw, double *scores, double *probs)
{
    int arm = -1;
    int rc = ctm__minimize(m, d->counts, MAXL, d->levels, draw, &arm, scores, probs);
    ck_assert_msg(rc == CTM_OK, "minimize: %d %s", rc, ctm_errmsg());
    ck_assert(arm >= 0 && arm < m->narms);
    return arm;
}

/* draw for u = num / den (rounded down) */
static uint32_t draw_at(uint64_t num, uint64_t den)
{
    return (uint32_t)((num << 32) / den);
}

/* ---- the published case(s) ---- */

/* Index of name in names[0..*n), added if absent. */
static int intern(char names[][32], int *n, int cap, const char *name, size_t len)
{
    for (int i = 0; i < *n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    ck_assert_int_lt(*n, cap);
    ck_assert_uint_lt(len, 32);
    memcpy(names[*n], name, len);
    names[*n][len] = '\0';
    return (*n)++;
}

/* "factor=level" at p (up to len bytes): the factor's and the level's indices. */
static void factor_level(const char *p, size_t len, char factors[][32], int *nf,
                         char levels[][MAXL][32], int *nl, int *f, int *l)
{
    const char *eq = memchr(p, '=', len);

    ck_assert_ptr_nonnull(eq);
    *f = intern(factors, nf, MAXF, p, (size_t)(eq - p));
    *l = intern(levels[*f], &nl[*f], MAXL, eq + 1, len - (size_t)(eq + 1 - p));
}

/* Each line of randomization/minimization.tsv (docs there): the arms, prior counts and the new
 * subject's levels; the expected arm with p = 1, equal ratios and weights, whatever the draw. */
START_TEST(test_published_cases)
{
    char *text = tu_read_data("randomization/minimization.tsv");
    int cases = 0;

    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *col[6], *save = NULL, *tok;
        char arms[MAXA][32], factors[MAXF][32], levels[MAXF][MAXL][32];
        int narms = 0, nf = 0, nl[MAXF] = { 0 }, method, expected, ncol = 0, nsubject;
        int ratios[MAXA] = { 1, 1, 1, 1 };
        double weights[MAXF];
        design d = { 0 };

        if (line[0] == '#')
            continue;
        for (char *p = line, *tab; ncol < 6; p = tab + 1) {
            col[ncol++] = p;
            tab = strchr(p, '\t');
            if (tab == NULL)
                break;
            *tab = '\0';
        }
        ck_assert_msg(ncol == 6, "%s: %d columns", col[0], ncol);
        for (tok = strtok_r(col[1], ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
            intern(arms, &narms, MAXA, tok, strlen(tok));
        /* The subject's levels first, so that a factor only the subject names still counts. */
        for (tok = strtok_r(col[3], " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
            int f, l;
            factor_level(tok, strlen(tok), factors, &nf, levels, nl, &f, &l);
            d.levels[f] = l;
        }
        nsubject = nf;
        for (tok = strtok_r(col[2], " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
            /* arm:factor=level:count */
            char *c1 = strchr(tok, ':'), *c2 = strrchr(tok, ':');
            int a, f, l, before = narms;
            ck_assert_msg(c1 != NULL && c2 > c1, "%s: count %s", col[0], tok);
            a = intern(arms, &narms, MAXA, tok, (size_t)(c1 - tok));
            ck_assert_msg(narms == before, "%s: arm of %s not among the arms", col[0], tok);
            factor_level(c1 + 1, (size_t)(c2 - c1 - 1), factors, &nf, levels, nl, &f, &l);
            *cell(&d, a, f, l) = atoi(c2 + 1);
        }
        ck_assert_msg(strcmp(col[4], "range") == 0 || strcmp(col[4], "variance") == 0, "%s: method %s",
                      col[0], col[4]);
        method = strcmp(col[4], "range") == 0 ? CTM__IMBALANCE_RANGE : CTM__IMBALANCE_VARIANCE;
        expected = intern(arms, &narms, MAXA, col[5], strlen(col[5]));
        ck_assert_int_lt(expected, narms);

        /* Every factor of the counts is one the subject has a level of. */
        for (int f = 0; f < MAXF; f++)
            weights[f] = f < nf ? 1 : 0;
        ck_assert_int_eq(nf, nsubject);

        ctm__minim m = { .narms = narms, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                         .method = method, .p = 1.0 };
        const uint32_t draws[] = { 0, 0x80000000u, 0xffffffffu };
        for (size_t i = 0; i < 3; i++)
            ck_assert_msg(pick(&m, &d, draws[i], NULL, NULL) == expected, "%s: not %s (draw %u)",
                          col[0], col[5], draws[i]);
        cases++;
    }
    ck_assert_int_ge(cases, 1);
    free(text);
}
END_TEST

/* ---- worked by hand ---- */

/* Factor f's counts per arm at the subject's level (set to level), with other levels of f
 * filled with counts that must not matter. */
static void at_level(design *d, int f, int level, const int *per_arm, int narms)
{
    d->levels[f] = level;
    for (int a = 0; a < narms; a++)
        for (int l = 0; l < MAXL; l++)
            *cell(d, a, f, l) = l == level ? per_arm[a] : 7 * a + l + 1;
}

static void near(double got, double want, const char *what, int arm)
{
    ck_assert_msg(got > want - 1e-12 && got < want + 1e-12, "%s of arm %d: %.17g, expected %.17g",
                  what, arm, got, want);
}

/* One factor (weight 1), four arms 1:1:1:1, counts (0, 0, 1, 3) at the subject's level.  Giving
 * the subject arm A, B, C or D makes the counts
 *   A (1,0,1,3)  B (0,1,1,3)  C (0,0,2,3)  D (0,0,1,4).
 * Range: 3, 3, 3, 4: A, B and C tie.  Sample variance (mean 5/4, divisor k - 1 = 3):
 *   A, B: (1/16 + 25/16 + 1/16 + 49/16) / 3 = 19/12;  C: (25+25+9+49)/16/3 = 9/4;
 *   D: (25+25+1+121)/16/3 = 43/12: only A and B tie.
 * With p = 1 the best arms share it equally: u = 0.9 is C's under range, B's under variance. */
START_TEST(test_range_and_variance_by_hand)
{
    const int ratios[] = { 1, 1, 1, 1 }, counts[] = { 0, 0, 1, 3 };
    const double range[] = { 3, 3, 3, 4 }, variance[] = { 19.0 / 12, 19.0 / 12, 9.0 / 4, 43.0 / 12 };
    double weights[MAXF] = { 1, 0, 0, 0 }, g[4], p[4];
    ctm__minim m = { .narms = 4, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_RANGE, .p = 1.0 };
    design d = { 0 };

    at_level(&d, 0, 3, counts, 4);
    ck_assert_int_eq(pick(&m, &d, draw_at(9, 10), g, p), 2);
    for (int a = 0; a < 4; a++) {
        near(g[a], range[a], "range", a);
        near(p[a], a < 3 ? 1.0 / 3 : 0, "probability", a);
    }
    ck_assert_int_eq(pick(&m, &d, 0, NULL, NULL), 0);
    ck_assert_int_eq(pick(&m, &d, draw_at(1, 2), NULL, NULL), 1);
    ck_assert_int_eq(pick(&m, &d, 0xffffffffu, NULL, NULL), 2);

    m.method = CTM__IMBALANCE_VARIANCE;
    ck_assert_int_eq(pick(&m, &d, draw_at(9, 10), g, p), 1);
    for (int a = 0; a < 4; a++) {
        near(g[a], variance[a], "variance", a);
        near(p[a], a < 2 ? 0.5 : 0, "probability", a);
    }
    ck_assert_int_eq(pick(&m, &d, draw_at(49, 100), NULL, NULL), 0);
    ck_assert_int_eq(pick(&m, &d, 0xffffffffu, NULL, NULL), 1);
}
END_TEST

/* Three arms 2:1:1; factor 1 (weight 1) counts (2, 1, 0), factor 2 (weight 0.5) counts (4, 1, 3).
 * Ratio-adjusted (count / ratio): f1 (1, 1, 0), f2 (2, 1, 3); a subject given A adds 1/2 to A.
 *   A: f1 (3/2, 1, 0) var 7/12, range 3/2;  f2 (5/2, 1, 3) var 13/12, range 2
 *      G_var = 7/12 + 13/24 = 9/8,  G_range = 3/2 + 1 = 5/2
 *   B: f1 (1, 2, 0) var 1, range 2;  f2 (2, 2, 3) var 1/3, range 1
 *      G_var = 1 + 1/6 = 7/6,  G_range = 2 + 1/2 = 5/2
 *   C: f1 (1, 1, 1) var 0, range 0;  f2 (2, 1, 4) var 7/3, range 3
 *      G_var = 7/6,  G_range = 3/2
 * Variance: A is best (p = 0.8), B and C share 0.2 by their ratios 1:1.
 * Range: C is best, A and B share 0.2 by their ratios 2:1 (2/15, 1/15). */
START_TEST(test_ratios_and_weights_by_hand)
{
    const int ratios[] = { 2, 1, 1 }, f1[] = { 2, 1, 0 }, f2[] = { 4, 1, 3 };
    const double var[] = { 9.0 / 8, 7.0 / 6, 7.0 / 6 }, var_p[] = { 0.8, 0.1, 0.1 };
    const double rng[] = { 2.5, 2.5, 1.5 }, rng_p[] = { 2.0 / 15, 1.0 / 15, 0.8 };
    double weights[MAXF] = { 0, 1, 0.5, 0 }, g[3], p[3];
    ctm__minim m = { .narms = 3, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_VARIANCE, .p = 0.8 };
    design d = { 0 };

    at_level(&d, 1, 0, f1, 3);
    at_level(&d, 2, 5, f2, 3);
    d.levels[0] = d.levels[3] = -1; /* weight 0: not used, not checked */
    ck_assert_int_eq(pick(&m, &d, draw_at(79, 100), g, p), 0);
    for (int a = 0; a < 3; a++) {
        near(g[a], var[a], "variance", a);
        near(p[a], var_p[a], "probability", a);
    }
    ck_assert_int_eq(pick(&m, &d, draw_at(81, 100), NULL, NULL), 1);
    ck_assert_int_eq(pick(&m, &d, draw_at(91, 100), NULL, NULL), 2);

    m.method = CTM__IMBALANCE_RANGE;
    ck_assert_int_eq(pick(&m, &d, draw_at(1, 10), g, p), 0);
    for (int a = 0; a < 3; a++) {
        near(g[a], rng[a], "range", a);
        near(p[a], rng_p[a], "probability", a);
    }
    ck_assert_int_eq(pick(&m, &d, draw_at(14, 100), NULL, NULL), 1);
    ck_assert_int_eq(pick(&m, &d, draw_at(21, 100), NULL, NULL), 2);
}
END_TEST

/* ---- probabilities ---- */

/* u at the middle of each of 1000 equal slices of [0, 1): how often each arm is chosen is its
 * probability times 1000, exactly. */
static void tally(const ctm__minim *m, design *d, int *per_arm)
{
    for (int a = 0; a < m->narms; a++)
        per_arm[a] = 0;
    for (uint64_t i = 0; i < 1000; i++)
        per_arm[pick(m, d, draw_at(2 * i + 1, 2000), NULL, NULL)]++;
}

START_TEST(test_p_below_one_distribution)
{
    const int ratios[] = { 1, 1, 1 }, unequal[] = { 1, 3, 1 }, counts[] = { 3, 2, 3 }, tie2[] = { 2, 2, 3 };
    double weights[MAXF] = { 1, 0, 0, 0 };
    ctm__minim m = { .narms = 3, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_RANGE, .p = 0.7 };
    design d = { 0 };
    int n[3];

    /* B is best: A and C share 0.3 equally, B (in the middle of the order) gets 0.7. */
    at_level(&d, 0, 1, counts, 3);
    tally(&m, &d, n);
    ck_assert_msg(n[0] == 150 && n[1] == 700 && n[2] == 150, "%d %d %d", n[0], n[1], n[2]);
    /* A and B tie for best: they share 0.7, C has 0.3. */
    at_level(&d, 0, 1, tie2, 3);
    tally(&m, &d, n);
    ck_assert_msg(n[0] == 350 && n[1] == 350 && n[2] == 300, "%d %d %d", n[0], n[1], n[2]);
    /* p = 1: only the best arms are ever chosen. */
    m.p = 1;
    tally(&m, &d, n);
    ck_assert_msg(n[0] == 500 && n[1] == 500 && n[2] == 0, "%d %d %d", n[0], n[1], n[2]);
    /* Ratios 1:3:1 and counts (1, 3, 1): adjusted (1, 1, 1), every choice scores 1/1, 1/3, 1/1:
     * B is best; with p = 0.6, A and C share 0.4 by their ratios. */
    m.ratios = unequal;
    m.p = 0.6;
    at_level(&d, 0, 1, (const int[]){ 1, 3, 1 }, 3);
    tally(&m, &d, n);
    ck_assert_msg(n[0] == 200 && n[1] == 600 && n[2] == 200, "%d %d %d", n[0], n[1], n[2]);
    /* Ratios 2:1:1, range, f1 counts (0, 0, 0), f2 counts (1, 0, 1), adjusted (1/2, 0, 1):
     *   A: f1 (1/2, 0, 0) 1/2, f2 (1, 0, 1) 1: 3/2;  B: f1 (0, 1, 0) 1, f2 (1/2, 1, 1) 1/2: 3/2;
     *   C: f1 (0, 0, 1) 1, f2 (1/2, 0, 2) 2: 3.
     * A and B tie for best and share p = 0.9 by their ratios 2:1; C has 0.1. */
    m.ratios = (const int[]){ 2, 1, 1 };
    m.p = 0.9;
    weights[1] = 1;
    at_level(&d, 0, 1, (const int[]){ 0, 0, 0 }, 3);
    at_level(&d, 1, 4, (const int[]){ 1, 0, 1 }, 3);
    tally(&m, &d, n);
    ck_assert_msg(n[0] == 600 && n[1] == 300 && n[2] == 100, "%d %d %d", n[0], n[1], n[2]);
}
END_TEST

/* u = draw / 2^32 goes to the first arm whose cumulative probability exceeds it: with 1/2 each,
 * 2^31 - 1 is the first arm's last draw and 2^31 the second arm's first. */
START_TEST(test_draw_boundaries)
{
    const int ratios[] = { 1, 1 }, zero[] = { 0, 0 };
    double weights[MAXF] = { 1, 0, 0, 0 };
    ctm__minim m = { .narms = 2, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_RANGE, .p = 0.75 };
    design d = { 0 };

    at_level(&d, 0, 0, zero, 2);
    ck_assert_int_eq(pick(&m, &d, 0, NULL, NULL), 0);
    ck_assert_int_eq(pick(&m, &d, 0x7fffffffu, NULL, NULL), 0);
    ck_assert_int_eq(pick(&m, &d, 0x80000000u, NULL, NULL), 1);
    ck_assert_int_eq(pick(&m, &d, 0xffffffffu, NULL, NULL), 1);
}
END_TEST

/* Scores equal on paper but summed in doubles in a different order still tie: weights 0.1, 0.1,
 * 0.1, 0.3 and two arms 1:1 whose counts differ by one at each factor, A ahead at the first three,
 * B at the fourth.  G_A = 0.1 * 2 * 3 = 0.6 (0.6000000000000001 in doubles), G_B = 0.3 * 2 = 0.6:
 * a tie, so each arm has 1/2, not p and 1 - p. */
START_TEST(test_rounding_does_not_break_ties)
{
    const int ratios[] = { 1, 1 }, ahead[] = { 1, 0 }, behind[] = { 0, 1 };
    double weights[MAXF] = { 0.1, 0.1, 0.1, 0.3 }, g[2], p[2];
    ctm__minim m = { .narms = 2, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_RANGE, .p = 0.9 };
    design d = { 0 };

    for (int f = 0; f < 3; f++)
        at_level(&d, f, 0, ahead, 2);
    at_level(&d, 3, 0, behind, 2);
    pick(&m, &d, 0, g, p);
    ck_assert(g[0] != g[1]); /* the premise: the machine's sums differ */
    near(g[0], 0.6, "range", 0);
    near(g[1], 0.6, "range", 1);
    ck_assert(p[0] == 0.5 && p[1] == 0.5);
}
END_TEST

/* All arms tie: chosen by the ratios, whatever p.  With equal ratios that is every balanced
 * state (the first subject); with ratios 2:1 a subject adds 1/2 to A's adjusted count or 1 to
 * B's, so a tie needs factors pulling both ways: f1 adjusted (0, 0), f2 counts (1, 0) adjusted
 * (1/2, 0).  A: f1 (1/2, 0), f2 (1, 0): range 1/2 + 1, variance 1/8 + 1/2;
 *            B: f1 (0, 1),   f2 (1/2, 1): range 1 + 1/2, variance 1/2 + 1/8. */
START_TEST(test_all_tie_follow_ratios)
{
    const int ratios[] = { 2, 1 }, zero[] = { 0, 0 }, one_a[] = { 1, 0 };
    double weights[MAXF] = { 1, 1, 0, 0 }, p[2];
    ctm__minim m = { .narms = 2, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_VARIANCE, .p = 0.9 };
    design d = { 0 };
    int n[2];

    at_level(&d, 0, 0, zero, 2);
    at_level(&d, 1, 2, one_a, 2);
    for (int method = CTM__IMBALANCE_RANGE; method <= CTM__IMBALANCE_VARIANCE; method++) {
        m.method = method;
        pick(&m, &d, 0, NULL, p);
        near(p[0], 2.0 / 3, "probability", 0);
        near(p[1], 1.0 / 3, "probability", 1);
        tally(&m, &d, n);
        ck_assert_msg(n[0] == 667 && n[1] == 333, "%d %d", n[0], n[1]);
    }
}
END_TEST

/* ---- replay ---- */

/* 400 subjects with random levels of three factors, each assigned with a recorded draw; replaying
 * the record from empty counts gives every arm again, and minimization kept every factor's
 * levels balanced. */
START_TEST(test_history_replays)
{
    enum { SUBJECTS = 400 };
    const int ratios[] = { 1, 1, 1 }, nlev[3] = { 2, 3, 4 };
    double weights[MAXF] = { 1, 1, 0.5, 0 };
    ctm__minim m = { .narms = 3, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                     .method = CTM__IMBALANCE_RANGE, .p = 0.8 };
    static int lv[SUBJECTS][MAXF], arm[SUBJECTS];
    static uint32_t draw[SUBJECTS];
    design d = { 0 };
    ctm__drbg g;

    ctm__drbg_init(&g, SEED, "history");
    for (int s = 0; s < SUBJECTS; s++) {
        for (int f = 0; f < 3; f++)
            d.levels[f] = lv[s][f] = (int)ctm__drbg_uniform(&g, (uint32_t)nlev[f]);
        draw[s] = ctm__drbg_uniform(&g, 0xffffffffu);
        arm[s] = pick(&m, &d, draw[s], NULL, NULL);
        for (int f = 0; f < 3; f++)
            (*cell(&d, arm[s], f, lv[s][f]))++;
    }
    ctm__drbg_wipe(&g);
    for (int f = 0; f < 3; f++)
        for (int l = 0; l < nlev[f]; l++) {
            int lo = SUBJECTS, hi = 0;
            for (int a = 0; a < 3; a++) {
                int c = *cell(&d, a, f, l);
                lo = c < lo ? c : lo;
                hi = c > hi ? c : hi;
            }
            ck_assert_msg(hi - lo <= 5, "factor %d level %d: counts from %d to %d", f, l, lo, hi);
        }

    memset(&d, 0, sizeof d);
    for (int s = 0; s < SUBJECTS; s++) {
        memcpy(d.levels, lv[s], sizeof d.levels);
        ck_assert_int_eq(pick(&m, &d, draw[s], NULL, NULL), arm[s]);
        for (int f = 0; f < 3; f++)
            (*cell(&d, arm[s], f, lv[s][f]))++;
    }
}
END_TEST

/* ---- refusals ---- */

static void minim_refused(const ctm__minim *m, design *d, int maxlevels, const char *msg)
{
    int arm = -7;
    ck_assert_int_eq(ctm__minimize(m, d->counts, maxlevels, d->levels, 0, &arm, NULL, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), msg);
    ck_assert_int_eq(arm, -7);
}

START_TEST(test_minimize_refused)
{
    int ratios[33], arm;
    double weights[MAXF] = { 1, 0, 0, 0 };
    ctm__minim ok = { .narms = 2, .ratios = ratios, .nfactors = MAXF, .weights = weights,
                      .method = CTM__IMBALANCE_RANGE, .p = 0.8 };
    ctm__minim m;
    design d = { 0 };

    for (int i = 0; i < 33; i++)
        ratios[i] = 1;
    ck_assert_int_eq(ctm__minimize(&ok, d.counts, MAXL, d.levels, 0, &arm, NULL, NULL), CTM_OK);
    ck_assert_int_eq(ctm__minimize(NULL, d.counts, MAXL, d.levels, 0, &arm, NULL, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm__minimize(&ok, NULL, MAXL, d.levels, 0, &arm, NULL, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm__minimize(&ok, d.counts, MAXL, NULL, 0, &arm, NULL, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm__minimize(&ok, d.counts, MAXL, d.levels, 0, NULL, NULL, NULL), CTM_EINVAL);

    m = ok, m.narms = 1;
    minim_refused(&m, &d, MAXL, "minimization: 1 arms, 2 to 32 allowed");
    m = ok, m.narms = 33;
    minim_refused(&m, &d, MAXL, "minimization: 33 arms, 2 to 32 allowed");
    m = ok, m.ratios = NULL;
    minim_refused(&m, &d, MAXL, "minimization: the ratios and weights are required");
    m = ok, m.ratios = (const int[]){ 1, 0 };
    minim_refused(&m, &d, MAXL, "minimization: arm 2's ratio is 0, 1 to 1000000 allowed");
    m = ok, m.narms = 3, m.ratios = (const int[]){ 1000, 999, 997 };
    minim_refused(&m, &d, MAXL, "minimization: the ratios' least common multiple is above 1000000");
    m = ok, m.nfactors = 0;
    minim_refused(&m, &d, MAXL, "minimization: 0 factors, 1 to 32 allowed");
    m = ok, m.weights = (const double[]){ 1, -0.5, 0, 0 };
    minim_refused(&m, &d, MAXL, "minimization: factor 2's weight is not 0 to 1000");
    m = ok, m.weights = (const double[]){ 0, 0, 0, 0 / 0.0 };
    minim_refused(&m, &d, MAXL, "minimization: factor 4's weight is not 0 to 1000");
    m = ok, m.weights = (const double[]){ 0, 0, 0, 0 };
    minim_refused(&m, &d, MAXL, "minimization: every factor's weight is 0");
    m = ok, m.method = 3;
    minim_refused(&m, &d, MAXL, "minimization: method 3 is neither range (1) nor variance (2)");
    m = ok, m.p = 0;
    minim_refused(&m, &d, MAXL, "minimization: p, the best arm's probability, is not in (0, 1]");
    m = ok, m.p = 1.5;
    minim_refused(&m, &d, MAXL, "minimization: p, the best arm's probability, is not in (0, 1]");
    m = ok, m.p = 0 / 0.0;
    minim_refused(&m, &d, MAXL, "minimization: p, the best arm's probability, is not in (0, 1]");
    minim_refused(&ok, &d, 0, "minimization: 0 levels, 1 to 1000 allowed");
    d.levels[0] = MAXL;
    minim_refused(&ok, &d, MAXL, "minimization: the subject's level of factor 1 is 8, 0 to 7 allowed");
    d.levels[0] = -1;
    minim_refused(&ok, &d, MAXL, "minimization: the subject's level of factor 1 is -1, 0 to 7 allowed");
    d.levels[0] = 2;
    *cell(&d, 1, 0, 2) = -1;
    minim_refused(&ok, &d, MAXL,
                  "minimization: the count of arm 2 at factor 1 level 2 is -1, 0 to 1000000 allowed");
    *cell(&d, 1, 0, 2) = 1000001;
    minim_refused(&ok, &d, MAXL, "minimization: the count of arm 2 at factor 1 level 2 is 1000001, "
                                 "0 to 1000000 allowed");
    /* Counts of levels the subject does not have, and of unused factors, are not read. */
    *cell(&d, 1, 0, 2) = 1000000;
    *cell(&d, 1, 0, 3) = -5;
    *cell(&d, 0, 1, 2) = -5;
    ck_assert_int_eq(ctm__minimize(&ok, d.counts, MAXL, d.levels, draw_at(1, 2), &arm, NULL, NULL),
                     CTM_OK);
    ck_assert_int_eq(arm, 0);
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

    tc = tcase_create("minimization_published");
    tcase_add_test(tc, test_published_cases);
    suite_add_tcase(s, tc);

    tc = tcase_create("minimization_by_hand");
    tcase_add_test(tc, test_range_and_variance_by_hand);
    tcase_add_test(tc, test_ratios_and_weights_by_hand);
    suite_add_tcase(s, tc);

    tc = tcase_create("minimization_probabilities");
    tcase_add_test(tc, test_p_below_one_distribution);
    tcase_add_test(tc, test_all_tie_follow_ratios);
    tcase_add_test(tc, test_draw_boundaries);
    tcase_add_test(tc, test_rounding_does_not_break_ties);
    suite_add_tcase(s, tc);

    tc = tcase_create("minimization_replay");
    tcase_add_test(tc, test_history_replays);
    suite_add_tcase(s, tc);

    tc = tcase_create("minimization_refusals");
    tcase_add_test(tc, test_minimize_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(randgen_suite());
}
