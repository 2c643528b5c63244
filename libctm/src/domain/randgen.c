/*
 * randgen.c - permuted-block lists regenerated from a recorded seed.
 *
 * Every step is specified in docs/randomization.md ("Generated lists: how to reproduce one") so
 * that a list can be re-derived outside libctm; a change here that alters a single draw breaks the
 * lists of every trial already randomized, which the known answer in test_randgen.c catches.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "randgen.h"
#include "core.h"

/* Versioned, NUL-terminated: no other use of SHA-256 in libctm starts with these bytes, and the
 * fixed-length seed after it leaves the label as the unambiguous rest. */
static const char drbg_domain[] = "libctm randgen v1";

#define DRBG_BLOCKS (sizeof ((ctm__drbg *)0)->buf / 64)

void ctm__drbg_init(ctm__drbg *d, const uint8_t seed[CTM__RAND_SEED_LEN], const char *label)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)drbg_domain, sizeof drbg_domain);
    crypto_hash_sha256_update(&st, seed, CTM__RAND_SEED_LEN);
    crypto_hash_sha256_update(&st, (const unsigned char *)label, strlen(label));
    crypto_hash_sha256_final(&st, d->key);
    sodium_memzero(&st, sizeof st);
    d->pos = sizeof d->buf;
    d->block = 0;
    d->exhausted = 0;
}

static void drbg_refill(ctm__drbg *d)
{
    static const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

    memset(d->buf, 0, sizeof d->buf);
    /* The IETF counter is 32 bits: past it the keystream would repeat, so the stream stops
     * (zeros, flagged) rather than wrap. */
    if (d->block + DRBG_BLOCKS > (uint64_t)1 << 32) {
        d->exhausted = 1;
    } else {
        crypto_stream_chacha20_ietf_xor_ic(d->buf, d->buf, sizeof d->buf, nonce,
                                           (uint32_t)d->block, d->key);
        d->block += DRBG_BLOCKS;
    }
    d->pos = 0;
}

static uint32_t drbg_word(ctm__drbg *d)
{
    const uint8_t *p;

    if (d->pos == sizeof d->buf)
        drbg_refill(d);
    p = d->buf + d->pos;
    d->pos += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ctm__drbg_uniform(ctm__drbg *d, uint32_t n)
{
    /* The largest multiple of n not above 2^32: words from it up would favour the low residues. */
    uint64_t limit;

    if (n == 0)
        return 0;
    limit = ((uint64_t)1 << 32) - ((uint64_t)1 << 32) % n;
    for (;;) {
        uint32_t w = drbg_word(d);
        if (w < limit)
            return w % n;
    }
}

void ctm__drbg_wipe(ctm__drbg *d)
{
    sodium_memzero(d, sizeof *d);
}

void ctm__randgen_new_seed(uint8_t seed[CTM__RAND_SEED_LEN])
{
    randombytes_buf(seed, CTM__RAND_SEED_LEN);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int check_design(const int *ratios, int narms, const int *sizes, int nsizes,
                        size_t min_rows, int sorted[CTM__RAND_MAX_SIZES])
{
    int sum = 0;

    if (narms < 2 || narms > CTM__RAND_MAX_ARMS)
        return ctm__err(CTM_EINVAL, "arms: %d given, 2 to %d allowed", narms, CTM__RAND_MAX_ARMS);
    for (int i = 0; i < narms; i++) {
        if (ratios[i] < 1 || ratios[i] > CTM__RAND_MAX_RATIO)
            return ctm__err(CTM_EINVAL, "ratios: arm %d's ratio is %d, 1 to %d allowed", i + 1,
                            ratios[i], CTM__RAND_MAX_RATIO);
        sum += ratios[i];
    }
    if (nsizes < 1 || nsizes > CTM__RAND_MAX_SIZES)
        return ctm__err(CTM_EINVAL, "block sizes: %d given, 1 to %d allowed", nsizes,
                        CTM__RAND_MAX_SIZES);
    for (int i = 0; i < nsizes; i++) {
        if (sizes[i] < 1)
            return ctm__err(CTM_EINVAL, "block sizes: %d is not positive", sizes[i]);
        if (sizes[i] > CTM__RAND_MAX_BLOCK)
            return ctm__err(CTM_EINVAL, "block sizes: %d is above the limit of %d", sizes[i],
                            CTM__RAND_MAX_BLOCK);
        if (sizes[i] % sum != 0)
            return ctm__err(CTM_EINVAL, "block sizes: %d is not a multiple of %d, the sum of the ratios",
                            sizes[i], sum);
        sorted[i] = sizes[i];
    }
    /* The draw picks by position in ascending order, so the order the sizes were given in is not
     * one more thing to record; a repeated size would silently double its chance. */
    qsort(sorted, (size_t)nsizes, sizeof *sorted, cmp_int);
    for (int i = 1; i < nsizes; i++)
        if (sorted[i] == sorted[i - 1])
            return ctm__err(CTM_EINVAL, "block sizes: %d is given twice", sorted[i]);
    if (min_rows < 1 || min_rows > CTM__RAND_MAX_ROWS)
        return ctm__err(CTM_EINVAL, "list length: %zu rows asked for, 1 to %d allowed", min_rows,
                        CTM__RAND_MAX_ROWS);
    return CTM_OK;
}

int ctm__blocks_generate(const uint8_t seed[CTM__RAND_SEED_LEN], const char *label,
                         const int *ratios, int narms, const int *sizes, int nsizes,
                         size_t min_rows, ctm__block_row **rows, size_t *n)
{
    int sorted[CTM__RAND_MAX_SIZES];
    int sum = 0, rc;
    size_t cap, len = 0;
    ctm__block_row *out;
    ctm__drbg d;

    if (rows == NULL || n == NULL)
        return ctm__err(CTM_EINVAL, "block list: no place for the rows");
    *rows = NULL;
    *n = 0;
    if (seed == NULL || label == NULL || ratios == NULL || sizes == NULL)
        return ctm__err(CTM_EINVAL, "block list: the seed, label, ratios and block sizes are required");
    rc = check_design(ratios, narms, sizes, nsizes, min_rows, sorted);
    if (rc != CTM_OK)
        return rc;
    for (int i = 0; i < narms; i++)
        sum += ratios[i];

    /* Whole blocks: at most one block beyond min_rows. */
    cap = min_rows + (size_t)sorted[nsizes - 1];
    out = malloc(cap * sizeof *out);
    if (out == NULL)
        return ctm__err(CTM_ENOMEM, "block list: out of memory");
    ctm__drbg_init(&d, seed, label);
    for (int block = 1; len < min_rows; block++) {
        int size = sorted[ctm__drbg_uniform(&d, (uint32_t)nsizes)];
        ctm__block_row *b = out + len;
        size_t k = 0;

        for (int arm = 0; arm < narms; arm++)
            for (int j = 0; j < size / sum * ratios[arm]; j++)
                b[k++] = (ctm__block_row){ .arm = arm, .block = block, .block_size = size };
        for (size_t i = (size_t)size - 1; i > 0; i--) {
            size_t j = ctm__drbg_uniform(&d, (uint32_t)(i + 1));
            int t = b[i].arm;
            b[i].arm = b[j].arm;
            b[j].arm = t;
        }
        len += (size_t)size;
    }
    rc = d.exhausted ? ctm__err(CTM_ERROR, "block list: the random stream ran out") : CTM_OK;
    ctm__drbg_wipe(&d);
    if (rc != CTM_OK) {
        free(out);
        return rc;
    }
    *rows = out;
    *n = len;
    return CTM_OK;
}
