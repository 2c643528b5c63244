/* randgen.h - reproducible permuted-block randomization lists (internal, pure: no database).
 *
 * A list is a function of a recorded 32-byte seed, the stratum's label, the ratios and the block
 * sizes, so that the pharmacy can regenerate (and a monitor re-check) any stratum's list from the
 * seed alone.  The derivation is fixed byte for byte in docs/randomization.md, "Generated lists:
 * how to reproduce one"; tests/unit/test_randgen.c holds a known answer so it cannot drift. */
#ifndef CTM_RANDGEN_H
#define CTM_RANDGEN_H

#include <stddef.h>
#include <stdint.h>

#define CTM__RAND_SEED_LEN 32
#define CTM__RAND_MAX_ARMS 32
#define CTM__RAND_MAX_RATIO 100
#define CTM__RAND_MAX_SIZES 16
#define CTM__RAND_MAX_BLOCK 10000
#define CTM__RAND_MAX_ROWS 10000000

/* A deterministic stream of uniform draws from a 32-byte seed and a label (the stratum), so that
 * each stratum has its own independent stream and a list can be regenerated from its seed:
 * ChaCha20 (IETF) keystream under SHA-256("libctm randgen v1" || 0x00 || seed || label). */
typedef struct ctm__drbg {
    uint8_t key[32];
    uint8_t buf[256];    /* keystream blocks [block - 4, block) */
    size_t pos;          /* bytes of buf already used */
    uint64_t block;      /* the next ChaCha20 block counter to generate */
    int exhausted;       /* the 32-bit block counter ran out (2^38 bytes): draws are no longer valid */
} ctm__drbg;

void ctm__drbg_init(ctm__drbg *d, const uint8_t seed[CTM__RAND_SEED_LEN], const char *label);
/* Uniform in [0, n) by rejection (no modulo bias); n >= 1 (n == 0 gives 0 and draws nothing).
 * Every call with n >= 1 takes at least one 32-bit word of the stream, n == 1 included. */
uint32_t ctm__drbg_uniform(ctm__drbg *d, uint32_t n);
void ctm__drbg_wipe(ctm__drbg *d);

/* A fresh seed for a new list, from the system's generator (randombytes_buf). */
void ctm__randgen_new_seed(uint8_t seed[CTM__RAND_SEED_LEN]);

typedef struct ctm__block_row {
    int arm;        /* index into the arms */
    int block;      /* 1-based block number */
    int block_size;
} ctm__block_row;

/* Whole blocks for one stratum until at least min_rows rows: each block's size drawn uniformly
 * from sizes[0..nsizes), each block holding size/sum(ratios)*ratio[i] rows of arm i in a
 * uniformly random order (Fisher-Yates with ctm__drbg_uniform).  Every size must be a positive
 * multiple of the ratio sum (CTM_EINVAL naming the size: "block sizes: 5 is not a multiple of 3,
 * the sum of the ratios").  Limits: 2 to CTM__RAND_MAX_ARMS arms, ratios 1 to
 * CTM__RAND_MAX_RATIO, 1 to CTM__RAND_MAX_SIZES distinct sizes of at most CTM__RAND_MAX_BLOCK,
 * min_rows 1 to CTM__RAND_MAX_ROWS.  Deterministic: the same seed, label, ratios and sizes give
 * the same list, and a larger min_rows gives a list whose first rows are the smaller one's (so a
 * list can be extended).  *rows malloc'd, caller frees; on failure *rows is NULL and *n 0. */
int ctm__blocks_generate(const uint8_t seed[CTM__RAND_SEED_LEN], const char *label,
                         const int *ratios, int narms, const int *sizes, int nsizes,
                         size_t min_rows, ctm__block_row **rows, size_t *n);

#endif
