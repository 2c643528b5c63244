/* merkle.h - RFC 6962 / RFC 9162 Merkle tree over SHA-256 (internal). */
#ifndef CTM_MERKLE_H
#define CTM_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define CTM_HASH_SIZE 32

typedef uint8_t ctm_hash[CTM_HASH_SIZE];

/* leaf = SHA-256(0x00 || data) */
void ctm__leaf_hash(const uint8_t *data, size_t len, ctm_hash out);
/* node = SHA-256(0x01 || left || right) */
void ctm__node_hash(const ctm_hash left, const ctm_hash right, ctm_hash out);

/*
 * Compact frontier: the roots of the perfect subtrees that make up a tree of `size` leaves, largest
 * (leftmost) first, one per set bit of size.  Appending is O(log n).
 */
typedef struct ctm__frontier {
    uint64_t size;
    unsigned count;           /* number of valid nodes == popcount(size) */
    ctm_hash nodes[64];
} ctm__frontier;

void ctm__frontier_init(ctm__frontier *f);
void ctm__frontier_append(ctm__frontier *f, const ctm_hash leaf_hash);
/* Root of the tree; the empty tree's root is SHA-256(""). */
void ctm__frontier_root(const ctm__frontier *f, ctm_hash out);
/* Serialise as 8-byte big-endian size followed by count hashes; returns bytes written
 * (buffer must hold 8 + 64*32). */
size_t ctm__frontier_encode(const ctm__frontier *f, uint8_t *buf);
/* Parse what ctm__frontier_encode wrote; 0 on success, -1 if malformed. */
int ctm__frontier_decode(ctm__frontier *f, const uint8_t *buf, size_t len);

/* Root of leaves[begin, end) (RFC 6962 MTH), computed from leaf hashes. end > begin. */
void ctm__subtree_root(const ctm_hash *leaves, uint64_t begin, uint64_t end, ctm_hash out);

/*
 * Proofs over an array of leaf hashes (n = number of leaves in the tree).  *proof is malloc'd
 * (free()), *count hashes.  Return 0, or -1 for bad arguments (index >= size, m > n, m == 0) or
 * out of memory.
 */
int ctm__inclusion_proof(const ctm_hash *leaves, uint64_t index, uint64_t size,
                         ctm_hash **proof, size_t *count);
int ctm__consistency_proof(const ctm_hash *leaves, uint64_t size1, uint64_t size2,
                           ctm_hash **proof, size_t *count);

/* Verify proofs (RFC 9162 2.1.3.2 and 2.1.4.2).  Return 0 when valid, -1 otherwise. */
int ctm__verify_inclusion(uint64_t index, uint64_t size, const ctm_hash leaf_hash,
                          const ctm_hash *proof, size_t count, const ctm_hash root);
int ctm__verify_consistency(uint64_t size1, uint64_t size2, const ctm_hash root1,
                            const ctm_hash root2, const ctm_hash *proof, size_t count);

#endif
