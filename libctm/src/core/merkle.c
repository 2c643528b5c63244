/* merkle.c - RFC 6962 / RFC 9162 Merkle tree hashing, frontier, proofs. */
#include "merkle.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * Conventions where the RFCs leave room (they match transparency-dev/merkle):
 * - The empty tree's root is SHA-256("") (RFC 6962 MTH({})).
 * - No inclusion proof exists in an empty tree: index >= size rejects size 0.
 * - Consistency with size1 == 0 is rejected by both generation and verification: every tree is
 *   trivially consistent with the empty tree, so such a "proof" proves nothing and a caller asking
 *   for one has most likely mixed up its sizes.
 * - size1 == size2: the only valid proof is the empty one, and it is valid iff root1 == root2
 *   (RFC 9162 2.1.4.1).  A non-empty proof for equal sizes is rejected so that a proof has a
 *   single valid encoding.
 */

/* A proof holds one hash per level plus, for consistency, the size1 subtree; sizes are uint64_t. */
#define PROOF_MAX 66

void ctm__leaf_hash(const uint8_t *data, size_t len, ctm_hash out)
{
    static const uint8_t prefix = 0x00;
    uint8_t buf[1024];

    /* One contiguous call hashes small entries measurably faster than streaming the prefix. */
    if (len < sizeof buf) {
        buf[0] = prefix;
        if (len > 0)
            memcpy(buf + 1, data, len);
        crypto_hash_sha256(out, buf, len + 1);
        return;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void ctm__node_hash(const ctm_hash left, const ctm_hash right, ctm_hash out)
{
    uint8_t buf[1 + 2 * CTM_HASH_SIZE];

    /* Copied first, so out may alias left or right. */
    buf[0] = 0x01;
    memcpy(buf + 1, left, CTM_HASH_SIZE);
    memcpy(buf + 1 + CTM_HASH_SIZE, right, CTM_HASH_SIZE);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static void empty_root(ctm_hash out)
{
    crypto_hash_sha256(out, (const unsigned char *)"", 0);
}

static unsigned popcount64(uint64_t v)
{
    unsigned n = 0;
    for (; v != 0; v &= v - 1)
        n++;
    return n;
}

/* Largest power of two strictly less than n (n >= 2): the RFC 6962 split point. */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

void ctm__frontier_init(ctm__frontier *f)
{
    memset(f, 0, sizeof *f);
}

void ctm__frontier_append(ctm__frontier *f, const ctm_hash leaf_hash)
{
    ctm_hash h;

    /* A tree of 2^64 - 1 leaves cannot grow further; unreachable in practice. */
    if (f->size == UINT64_MAX)
        return;
    memcpy(h, leaf_hash, CTM_HASH_SIZE);
    /* Binary increment: each trailing one bit is a perfect subtree of the same height as the
     * running one, so the two merge and carry into the next height. */
    for (uint64_t s = f->size; s & 1; s >>= 1) {
        f->count--;
        ctm__node_hash(f->nodes[f->count], h, h);
    }
    memcpy(f->nodes[f->count], h, CTM_HASH_SIZE);
    f->count++;
    f->size++;
}

void ctm__frontier_root(const ctm__frontier *f, ctm_hash out)
{
    ctm_hash r;

    if (f->count == 0) {
        empty_root(out);
        return;
    }
    /* MTH splits at the largest power of two, so the smaller subtrees hang off the right. */
    memcpy(r, f->nodes[f->count - 1], CTM_HASH_SIZE);
    for (unsigned i = f->count - 1; i-- > 0;)
        ctm__node_hash(f->nodes[i], r, r);
    memcpy(out, r, CTM_HASH_SIZE);
}

size_t ctm__frontier_encode(const ctm__frontier *f, uint8_t *buf)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(f->size >> (56 - 8 * i));
    memcpy(buf + 8, f->nodes, (size_t)f->count * CTM_HASH_SIZE);
    return 8 + (size_t)f->count * CTM_HASH_SIZE;
}

int ctm__frontier_decode(ctm__frontier *f, const uint8_t *buf, size_t len)
{
    uint64_t size = 0;
    unsigned count;

    if (len < 8)
        return -1;
    for (int i = 0; i < 8; i++)
        size = (size << 8) | buf[i];
    count = popcount64(size);
    /* The size fixes the number of nodes, so any other length is corruption. */
    if (len != 8 + (size_t)count * CTM_HASH_SIZE)
        return -1;
    ctm__frontier_init(f);
    f->size = size;
    f->count = count;
    memcpy(f->nodes, buf + 8, (size_t)count * CTM_HASH_SIZE);
    return 0;
}

void ctm__subtree_root(const ctm_hash *leaves, uint64_t begin, uint64_t end, ctm_hash out)
{
    ctm_hash left, right;
    uint64_t n = end - begin, k;

    if (end <= begin) {
        empty_root(out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[begin], CTM_HASH_SIZE);
        return;
    }
    k = split_point(n);
    ctm__subtree_root(leaves, begin, begin + k, left);
    ctm__subtree_root(leaves, begin + k, end, right);
    ctm__node_hash(left, right, out);
}

/* Proof under construction: a fixed-capacity array filled from the leaf upwards. */
struct proof_buf {
    ctm_hash *h;
    size_t count;
};

static void proof_push_root(struct proof_buf *p, const ctm_hash *leaves, uint64_t begin,
                            uint64_t end)
{
    /* Depth is bounded by 64 levels (+1 for consistency), so PROOF_MAX is never exceeded. */
    if (p->count < PROOF_MAX)
        ctm__subtree_root(leaves, begin, end, p->h[p->count++]);
}

/* RFC 6962 2.1.1 PATH(m, D[begin:end]), m relative to begin. */
static void inclusion_path(struct proof_buf *p, const ctm_hash *leaves, uint64_t m,
                           uint64_t begin, uint64_t end)
{
    uint64_t k;

    if (end - begin <= 1)
        return;
    k = split_point(end - begin);
    if (m < k) {
        inclusion_path(p, leaves, m, begin, begin + k);
        proof_push_root(p, leaves, begin + k, end);
    } else {
        inclusion_path(p, leaves, m - k, begin + k, end);
        proof_push_root(p, leaves, begin, begin + k);
    }
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[begin:end], b), m relative to begin. */
static void consistency_subproof(struct proof_buf *p, const ctm_hash *leaves, uint64_t m,
                                 uint64_t begin, uint64_t end, int whole)
{
    uint64_t n = end - begin, k;

    if (m == n) {
        /* The verifier already knows the root of the old tree, but not of this subtree. */
        if (!whole)
            proof_push_root(p, leaves, begin, end);
        return;
    }
    k = split_point(n);
    if (m <= k) {
        consistency_subproof(p, leaves, m, begin, begin + k, whole);
        proof_push_root(p, leaves, begin + k, end);
    } else {
        consistency_subproof(p, leaves, m - k, begin + k, end, 0);
        proof_push_root(p, leaves, begin, begin + k);
    }
}

static int proof_alloc(struct proof_buf *p)
{
    p->count = 0;
    p->h = malloc(PROOF_MAX * sizeof *p->h);
    return p->h == NULL ? -1 : 0;
}

int ctm__inclusion_proof(const ctm_hash *leaves, uint64_t index, uint64_t size,
                         ctm_hash **proof, size_t *count)
{
    struct proof_buf p;

    if (leaves == NULL || index >= size || proof_alloc(&p) != 0)
        return -1;
    inclusion_path(&p, leaves, index, 0, size);
    *proof = p.h;
    *count = p.count;
    return 0;
}

int ctm__consistency_proof(const ctm_hash *leaves, uint64_t size1, uint64_t size2,
                           ctm_hash **proof, size_t *count)
{
    struct proof_buf p;

    if (leaves == NULL || size1 == 0 || size1 > size2 || proof_alloc(&p) != 0)
        return -1;
    consistency_subproof(&p, leaves, size1, 0, size2, 1);
    *proof = p.h;
    *count = p.count;
    return 0;
}

static int hash_equal(const ctm_hash a, const ctm_hash b)
{
    /* Roots are public, but constant time costs nothing here. */
    return sodium_memcmp(a, b, CTM_HASH_SIZE) == 0;
}

/* Shift fn and sn right together until fn's low bit is set or fn is 0. */
static void shift_to_set_bit(uint64_t *fn, uint64_t *sn)
{
    while (*fn != 0 && (*fn & 1) == 0) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

int ctm__verify_inclusion(uint64_t index, uint64_t size, const ctm_hash leaf_hash,
                          const ctm_hash *proof, size_t count, const ctm_hash root)
{
    uint64_t fn = index, sn;
    ctm_hash r;

    if (index >= size || (count > 0 && proof == NULL))
        return -1;
    sn = size - 1;
    memcpy(r, leaf_hash, CTM_HASH_SIZE);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            ctm__node_hash(proof[i], r, r);
            shift_to_set_bit(&fn, &sn);
        } else {
            ctm__node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_equal(r, root) ? 0 : -1;
}

/* RFC 9162 2.1.4.2 steps 3-7 over path[0..count), where path[0] seeds both roots. */
static int consistency_walk(uint64_t size1, uint64_t size2, const ctm_hash root1,
                            const ctm_hash root2, const ctm_hash first, const ctm_hash *rest,
                            size_t nrest)
{
    uint64_t fn = size1 - 1, sn = size2 - 1;
    ctm_hash fr, sr;

    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, first, CTM_HASH_SIZE);
    memcpy(sr, first, CTM_HASH_SIZE);
    for (size_t i = 0; i < nrest; i++) {
        if (sn == 0)
            return -1;
        if ((fn & 1) || fn == sn) {
            ctm__node_hash(rest[i], fr, fr);
            ctm__node_hash(rest[i], sr, sr);
            shift_to_set_bit(&fn, &sn);
        } else {
            ctm__node_hash(sr, rest[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_equal(fr, root1) && hash_equal(sr, root2) ? 0 : -1;
}

int ctm__verify_consistency(uint64_t size1, uint64_t size2, const ctm_hash root1,
                            const ctm_hash root2, const ctm_hash *proof, size_t count)
{
    if (size1 == 0 || size1 > size2 || (count > 0 && proof == NULL))
        return -1;
    if (size1 == size2)
        return count == 0 && hash_equal(root1, root2) ? 0 : -1;
    if (count == 0)
        return -1;
    /* A power-of-two old tree is a complete subtree of the new one: its root starts the path
     * instead of being sent (RFC 9162 step 2). */
    if ((size1 & (size1 - 1)) == 0)
        return consistency_walk(size1, size2, root1, root2, root1, proof, count);
    return consistency_walk(size1, size2, root1, root2, proof[0], proof + 1, count - 1);
}
