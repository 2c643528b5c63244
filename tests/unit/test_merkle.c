/* test_merkle.c - RFC 6962 / 9162 hashing, frontier, proof generation and verification. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "merkle.h"
#include "testutil.h"

#define MAX_LEAVES 300
#define PAIR_LIMIT 40

/* ---- helpers ---------------------------------------------------------------------------- */

static void hex_hash(const char *hex, size_t len, ctm_hash out)
{
    char buf[2 * CTM_HASH_SIZE + 1];

    ck_assert_uint_eq(len, 2 * CTM_HASH_SIZE);
    memcpy(buf, hex, len);
    buf[len] = '\0';
    ck_assert_int_eq(tu_hex_decode(buf, out, CTM_HASH_SIZE), CTM_HASH_SIZE);
}

/* Value of "key=" in a space-separated vector line; *len is its length.  NULL if absent. */
static const char *line_field(const char *line, const char *key, size_t *len)
{
    size_t klen = strlen(key);

    for (const char *p = line; (p = strstr(p, key)) != NULL; p++) {
        if (p != line && p[-1] != ' ')
            continue;
        p += klen;
        *len = strcspn(p, " \n");
        return p;
    }
    return NULL;
}

static uint64_t line_u64(const char *line, const char *key)
{
    size_t len;
    const char *v = line_field(line, key, &len);

    ck_assert_ptr_nonnull(v);
    return strtoull(v, NULL, 10);
}

static void line_hash(const char *line, const char *key, ctm_hash out)
{
    size_t len;
    const char *v = line_field(line, key, &len);

    ck_assert_ptr_nonnull(v);
    hex_hash(v, len, out);
}

/* Comma-separated hex hashes ("" = empty proof). */
static size_t line_proof(const char *line, ctm_hash *proof, size_t cap)
{
    size_t len, n = 0;
    const char *v = line_field(line, "proof=", &len);

    ck_assert_ptr_nonnull(v);
    while (len > 0) {
        size_t item = strcspn(v, ", \n");
        ck_assert_uint_lt(n, cap);
        hex_hash(v, item, proof[n++]);
        v += item;
        len -= item;
        if (len > 0 && *v == ',') {
            v++;
            len--;
        }
    }
    return n;
}

/* The next line of text that starts with prefix: the first when after is NULL, else the first
 * after the line at after.  NULL when there is none. */
static const char *next_line(const char *text, const char *after, const char *prefix)
{
    size_t plen = strlen(prefix);

    for (const char *line = after == NULL ? text : strchr(after, '\n'); line != NULL;
         line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, prefix, plen) == 0)
            return line;
    }
    return NULL;
}

/* Loop over each line of text that starts with prefix, in order. */
#define FOR_LINES(line, text, prefix)                                                              \
    for (const char *line = next_line(text, NULL, prefix); line != NULL;                           \
         line = next_line(text, line, prefix))

/* The 8 leaf hashes of rfc6962.txt, each checked against its data. */
static void rfc_leaves(const char *text, ctm_hash leaves[8])
{
    unsigned seen = 0;

    FOR_LINES(line, text, "leaf ") {
        unsigned i = (unsigned)strtoul(line + 5, NULL, 10);
        size_t dlen;
        const char *d = line_field(line, "data=", &dlen);
        uint8_t data[64];
        char hex[129];
        int n = 0;
        ctm_hash want, got;

        ck_assert_uint_lt(i, 8);
        ck_assert_ptr_nonnull(d);
        if (!(dlen == 1 && d[0] == '-')) {
            ck_assert_uint_lt(dlen, sizeof hex);
            memcpy(hex, d, dlen);
            hex[dlen] = '\0';
            n = tu_hex_decode(hex, data, sizeof data);
            ck_assert_int_ge(n, 0);
        }
        line_hash(line, "leafhash=", want);
        ctm__leaf_hash(data, (size_t)n, got);
        ck_assert_mem_eq(got, want, CTM_HASH_SIZE);
        memcpy(leaves[i], got, CTM_HASH_SIZE);
        seen |= 1u << i;
    }
    ck_assert_uint_eq(seen, 0xff);
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;

    FOR_LINES(line, text, prefix)
        n++;
    return n;
}

/* A generated proof (freed here) must be the expected one. */
static void assert_same_proof(ctm_hash *got, size_t count, const ctm_hash *want, size_t n)
{
    ck_assert_uint_eq(count, n);
    ck_assert(n == 0 || memcmp(got, want, n * CTM_HASH_SIZE) == 0);
    free(got);
}

static void random_leaves(ctm_hash *leaves, size_t n)
{
    for (size_t i = 0; i < n; i++)
        randombytes_buf(leaves[i], CTM_HASH_SIZE);
}

static void flip(ctm_hash *h, size_t byte)
{
    h[byte / CTM_HASH_SIZE][byte % CTM_HASH_SIZE] ^= 0x01;
}

/* ---- hashing and roots ------------------------------------------------------------------ */

START_TEST(test_rfc6962_leaves_and_roots)
{
    char *text = tu_read_data("merkle/rfc6962.txt");
    ctm_hash leaves[8], want, got;
    ctm__frontier f;
    uint64_t appended = 0;
    int roots = 0;

    rfc_leaves(text, leaves);
    ctm__frontier_init(&f);
    FOR_LINES(line, text, "root ") {
        size_t len;
        const char *hex = line_field(line, "size=", &len);
        ck_assert_ptr_nonnull(hex);
        uint64_t size = strtoull(hex, NULL, 10);
        ck_assert_uint_le(size, 8);
        hex += len + 1; /* the root follows the size */
        hex_hash(hex, strcspn(hex, " \n"), want);
        ctm__subtree_root(leaves, 0, size, got);
        ck_assert_mem_eq(got, want, CTM_HASH_SIZE);
        while (appended < size)
            ctm__frontier_append(&f, leaves[appended++]);
        ck_assert_uint_eq(f.size, size);
        ctm__frontier_root(&f, got);
        ck_assert_mem_eq(got, want, CTM_HASH_SIZE);
        roots++;
    }
    ck_assert_int_eq(roots, 9);
    free(text);
}
END_TEST

START_TEST(test_empty_tree_root)
{
    static const char *sha256_empty =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    ctm_hash want, got;
    ctm__frontier f;

    hex_hash(sha256_empty, strlen(sha256_empty), want);
    ctm__frontier_init(&f);
    ctm__frontier_root(&f, got);
    ck_assert_mem_eq(got, want, CTM_HASH_SIZE);
    ctm__subtree_root(NULL, 5, 5, got);
    ck_assert_mem_eq(got, want, CTM_HASH_SIZE);
}
END_TEST

START_TEST(test_frontier_matches_subtree_root)
{
    ctm_hash *leaves = malloc(MAX_LEAVES * sizeof *leaves);
    ctm_hash a, b;
    ctm__frontier f;

    ck_assert_ptr_nonnull(leaves);
    random_leaves(leaves, MAX_LEAVES);
    ctm__frontier_init(&f);
    for (uint64_t n = 1; n <= MAX_LEAVES; n++) {
        ctm__frontier_append(&f, leaves[n - 1]);
        ck_assert_uint_eq(f.size, n);
        unsigned bits = 0;
        for (uint64_t v = n; v != 0; v >>= 1)
            bits += (unsigned)(v & 1);
        ck_assert_uint_eq(f.count, bits);
        ctm__frontier_root(&f, a);
        ctm__subtree_root(leaves, 0, n, b);
        ck_assert_msg(memcmp(a, b, CTM_HASH_SIZE) == 0, "root mismatch at size %u", (unsigned)n);
    }
    free(leaves);
}
END_TEST

/* ---- frontier serialisation ------------------------------------------------------------- */

START_TEST(test_frontier_round_trip)
{
    uint8_t buf[8 + 64 * CTM_HASH_SIZE];
    ctm_hash leaf, r1, r2;
    ctm__frontier f, g;

    ctm__frontier_init(&f);
    for (unsigned n = 0; n <= 70; n++) {
        size_t len = ctm__frontier_encode(&f, buf);
        ck_assert_uint_eq(len, 8 + (size_t)f.count * CTM_HASH_SIZE);
        ck_assert_int_eq(ctm__frontier_decode(&g, buf, len), 0);
        ck_assert_uint_eq(g.size, f.size);
        ck_assert_uint_eq(g.count, f.count);
        ctm__frontier_root(&f, r1);
        ctm__frontier_root(&g, r2);
        ck_assert_mem_eq(r1, r2, CTM_HASH_SIZE);
        /* The decoded frontier must keep growing like the original. */
        randombytes_buf(leaf, sizeof leaf);
        ctm__frontier_append(&f, leaf);
        ctm__frontier_append(&g, leaf);
        ctm__frontier_root(&f, r1);
        ctm__frontier_root(&g, r2);
        ck_assert_mem_eq(r1, r2, CTM_HASH_SIZE);
    }
}
END_TEST

START_TEST(test_frontier_decode_rejects)
{
    uint8_t buf[8 + 64 * CTM_HASH_SIZE];
    ctm_hash leaf = {0};
    ctm__frontier f, g;
    size_t len;

    ctm__frontier_init(&f);
    for (int i = 0; i < 11; i++) /* size 11 = 0b1011: three nodes */
        ctm__frontier_append(&f, leaf);
    len = ctm__frontier_encode(&f, buf);
    ck_assert_uint_eq(len, 8 + 3 * CTM_HASH_SIZE);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(ctm__frontier_decode(&g, buf, cut), -1);
    /* One hash too many for the size. */
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, len + CTM_HASH_SIZE), -1);
    /* A size whose popcount disagrees with the number of hashes. */
    buf[7] = 12; /* 0b1100: two nodes */
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, len), -1);
    buf[7] = 15; /* four nodes */
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, len), -1);
    /* Garbage: a size of 2^64-1 would need 64 hashes. */
    memset(buf, 0xff, sizeof buf);
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, 8 + 3 * CTM_HASH_SIZE), -1);
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, sizeof buf), 0);
    ck_assert_uint_eq(g.count, 64);
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, 3), -1);
    /* The empty frontier is just 8 zero bytes. */
    memset(buf, 0, 8);
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, 8), 0);
    ck_assert_uint_eq(g.size, 0);
    ck_assert_uint_eq(g.count, 0);
    ck_assert_int_eq(ctm__frontier_decode(&g, buf, 9), -1);
}
END_TEST

/* ---- rfc6962.txt proofs ----------------------------------------------------------------- */

START_TEST(test_rfc6962_inclusion_lines)
{
    char *text = tu_read_data("merkle/rfc6962.txt");
    ctm_hash leaves[8], leaf, root, want[16], *got;
    size_t n, count;
    int lines = 0;

    rfc_leaves(text, leaves);
    FOR_LINES(line, text, "incl ") {
        uint64_t idx = line_u64(line, "idx="), size = line_u64(line, "size=");
        line_hash(line, "leaf=", leaf);
        line_hash(line, "root=", root);
        n = line_proof(line, want, 16);
        ck_assert_int_eq(ctm__verify_inclusion(idx, size, leaf, want, n, root), 0);
        ck_assert_int_eq(ctm__inclusion_proof(leaves, idx, size, &got, &count), 0);
        assert_same_proof(got, count, want, n);
        lines++;
    }
    ck_assert_int_eq(lines, count_lines(text, "incl "));
    ck_assert_int_gt(lines, 0);
    free(text);
}
END_TEST

/* "cons <path> m->n root1=.. root2=.. proof=.." */
START_TEST(test_rfc6962_consistency_lines)
{
    char *text = tu_read_data("merkle/rfc6962.txt");
    ctm_hash leaves[8], root1, root2, want[16], *got;
    size_t n, count;
    int lines = 0;

    rfc_leaves(text, leaves);
    FOR_LINES(line, text, "cons ") {
        const char *arrow = strstr(line, "->");
        ck_assert_ptr_nonnull(arrow);
        const char *m_start = arrow;
        while (m_start > line && m_start[-1] != ' ')
            m_start--;
        uint64_t m = strtoull(m_start, NULL, 10), size2 = strtoull(arrow + 2, NULL, 10);
        line_hash(line, "root1=", root1);
        line_hash(line, "root2=", root2);
        n = line_proof(line, want, 16);
        ck_assert_int_eq(ctm__verify_consistency(m, size2, root1, root2, want, n), 0);
        ck_assert_int_eq(ctm__consistency_proof(leaves, m, size2, &got, &count), 0);
        assert_same_proof(got, count, want, n);
        lines++;
    }
    ck_assert_int_eq(lines, count_lines(text, "cons "));
    ck_assert_int_gt(lines, 0);
    free(text);
}
END_TEST

/* ---- transparency-dev JSON cases -------------------------------------------------------- */

/*
 * A purpose-built extractor for the flat JSON objects of transparency-dev/merkle testdata: only
 * the known keys, whose values are unsigned integers, base64 strings, arrays of base64 strings,
 * booleans or null.  Not a JSON parser.
 */
#define JB_CAP 96
#define JPROOF_CAP 32

struct jbytes {
    uint8_t b[JB_CAP];
    size_t len;
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *json_value(const char *js, const char *key)
{
    char quoted[64];
    const char *p;

    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    p = strstr(js, quoted);
    if (p == NULL)
        return NULL;
    p = skip_ws(p + strlen(quoted));
    if (*p != ':')
        return NULL;
    return skip_ws(p + 1);
}

static int json_is_null(const char *v)
{
    return strncmp(v, "null", 4) == 0;
}

static uint64_t json_u64(const char *js, const char *key)
{
    const char *v = json_value(js, key);
    char *end;
    uint64_t n;

    ck_assert_msg(v != NULL && *v >= '0' && *v <= '9', "no integer %s", key);
    errno = 0;
    n = strtoull(v, &end, 10);
    ck_assert_int_eq(errno, 0);
    return n;
}

static int json_bool(const char *js, const char *key)
{
    const char *v = json_value(js, key);

    ck_assert_ptr_nonnull(v);
    if (strncmp(v, "true", 4) == 0)
        return 1;
    ck_assert(strncmp(v, "false", 5) == 0);
    return 0;
}

/* Decode the base64 string at v; returns the position after it. */
static const char *json_b64_at(const char *v, struct jbytes *out)
{
    const char *end;

    out->len = 0;
    if (json_is_null(v))
        return v + 4;
    ck_assert_int_eq(*v, '"');
    end = strchr(v + 1, '"');
    ck_assert_ptr_nonnull(end);
    ck_assert_int_eq(sodium_base642bin(out->b, sizeof out->b, v + 1, (size_t)(end - v - 1), NULL,
                                       &out->len, NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    return end + 1;
}

static void json_b64(const char *js, const char *key, struct jbytes *out)
{
    const char *v = json_value(js, key);

    ck_assert_msg(v != NULL, "no key %s", key);
    json_b64_at(v, out);
}

static size_t json_b64_array(const char *js, const char *key, struct jbytes *out, size_t cap)
{
    const char *p = json_value(js, key);
    size_t n = 0;

    ck_assert_msg(p != NULL, "no key %s", key);
    if (json_is_null(p))
        return 0;
    ck_assert_int_eq(*p, '[');
    p = skip_ws(p + 1);
    while (*p != ']') {
        ck_assert_uint_lt(n, cap);
        p = skip_ws(json_b64_at(p, &out[n++]));
        if (*p == ',')
            p = skip_ws(p + 1);
        else
            ck_assert_int_eq(*p, ']');
    }
    return n;
}

/*
 * ctm_hash is fixed-size, so a byte string of another length cannot reach the API: a leaf hash
 * or proof element of the wrong length is rejected by type (transparency-dev rejects it too).
 * Roots are compared byte for byte there, so a short root is zero-padded, which keeps
 * equal/unequal strings equal/unequal and lets the verifier decide.
 */
static int to_hash(const struct jbytes *j, ctm_hash out, int exact)
{
    memset(out, 0, CTM_HASH_SIZE);
    if (j->len > CTM_HASH_SIZE || (exact && j->len != CTM_HASH_SIZE))
        return -1;
    memcpy(out, j->b, j->len);
    return 0;
}

static int proof_to_hashes(const struct jbytes *j, size_t n, ctm_hash *out)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        rc |= to_hash(&j[i], out[i], 1);
    return rc;
}

struct json_stats {
    int files, valid, rejected;
};

static int run_inclusion_case(const char *js)
{
    struct jbytes leaf, root, proof[JPROOF_CAP];
    ctm_hash hleaf, hroot, hproof[JPROOF_CAP];
    size_t n;
    int typed = 0;

    json_b64(js, "leafHash", &leaf);
    json_b64(js, "root", &root);
    n = json_b64_array(js, "proof", proof, JPROOF_CAP);
    typed |= to_hash(&leaf, hleaf, 1);
    typed |= to_hash(&root, hroot, 0);
    typed |= proof_to_hashes(proof, n, hproof);
    if (typed != 0)
        return -1;
    return ctm__verify_inclusion(json_u64(js, "leafIdx"), json_u64(js, "treeSize"), hleaf, hproof,
                                 n, hroot);
}

static int run_consistency_case(const char *js)
{
    struct jbytes root1, root2, proof[JPROOF_CAP];
    ctm_hash h1, h2, hproof[JPROOF_CAP];
    size_t n;
    int typed = 0;

    json_b64(js, "root1", &root1);
    json_b64(js, "root2", &root2);
    n = json_b64_array(js, "proof", proof, JPROOF_CAP);
    typed |= to_hash(&root1, h1, 0);
    typed |= to_hash(&root2, h2, 0);
    typed |= proof_to_hashes(proof, n, hproof);
    if (typed != 0)
        return -1;
    return ctm__verify_consistency(json_u64(js, "size1"), json_u64(js, "size2"), h1, h2, hproof,
                                   n);
}

static void run_json_dir(const char *dir, int (*run)(const char *), struct json_stats *st)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    ck_assert_msg(d != NULL, "cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ck_assert_int_eq(stat(path, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            run_json_dir(path, run, st);
            continue;
        }
        size_t nlen = strlen(e->d_name);
        if (nlen < 5 || strcmp(e->d_name + nlen - 5, ".json") != 0)
            continue;
        char *js = tu_read_file(path, NULL);
        ck_assert_ptr_nonnull(js);
        int want_err = json_bool(js, "wantErr");
        int rc = run(js);
        ck_assert_msg((rc == 0) == !want_err, "%s: got %d, wantErr %d", path, rc, want_err);
        st->files++;
        if (want_err)
            st->rejected++;
        else
            st->valid++;
        free(js);
    }
    closedir(d);
}

START_TEST(test_transparency_dev_inclusion)
{
    struct json_stats st = {0, 0, 0};
    char dir[4096];

    snprintf(dir, sizeof dir, "%s", tu_data_path("merkle/transparency-dev/inclusion"));
    run_json_dir(dir, run_inclusion_case, &st);
    ck_assert_int_gt(st.valid, 0);
    ck_assert_int_gt(st.rejected, 0);
}
END_TEST

START_TEST(test_transparency_dev_consistency)
{
    struct json_stats st = {0, 0, 0};
    char dir[4096];

    snprintf(dir, sizeof dir, "%s", tu_data_path("merkle/transparency-dev/consistency"));
    run_json_dir(dir, run_consistency_case, &st);
    ck_assert_int_gt(st.valid, 0);
    ck_assert_int_gt(st.rejected, 0);
}
END_TEST

/* ---- generated proofs ------------------------------------------------------------------- */

/*
 * An inclusion or consistency proof does not by itself bind the tree size: (0, 3) and (0, 4)
 * walk the same left/right pattern, so a size-3 proof also "verifies" as size 4 against the
 * size-3 root (the verifier cannot tell a leaf from a subtree hash).  The size is bound by the
 * signed checkpoint that carries the root.  So an off-by-one size must be rejected whenever it
 * changes the proof length; with an unchanged length either answer is acceptable.
 */
static size_t inclusion_len(const ctm_hash *leaves, uint64_t index, uint64_t size)
{
    ctm_hash *p;
    size_t n;

    if (ctm__inclusion_proof(leaves, index, size, &p, &n) != 0)
        return (size_t)-1;
    free(p);
    return n;
}

static size_t consistency_len(const ctm_hash *leaves, uint64_t m, uint64_t n)
{
    ctm_hash *p;
    size_t count;

    if (ctm__consistency_proof(leaves, m, n, &p, &count) != 0)
        return (size_t)-1;
    free(p);
    return count;
}

static void check_inclusion_pair(const ctm_hash *leaves, const ctm_hash *roots, uint64_t i,
                                 uint64_t n)
{
    ctm_hash *proof;
    size_t count;

    ck_assert_int_eq(ctm__inclusion_proof(leaves, i, n, &proof, &count), 0);
    ck_assert_int_eq(ctm__verify_inclusion(i, n, leaves[i], proof, count, roots[n]), 0);
    for (size_t b = 0; b < count * CTM_HASH_SIZE; b++) {
        flip(proof, b);
        ck_assert_int_eq(ctm__verify_inclusion(i, n, leaves[i], proof, count, roots[n]), -1);
        flip(proof, b);
    }
    ck_assert_int_eq(ctm__verify_inclusion(i + 1, n, leaves[i], proof, count, roots[n]), -1);
    if (i > 0)
        ck_assert_int_eq(ctm__verify_inclusion(i - 1, n, leaves[i], proof, count, roots[n]), -1);
    if (inclusion_len(leaves, i, n + 1) != count)
        ck_assert_int_eq(ctm__verify_inclusion(i, n + 1, leaves[i], proof, count, roots[n]), -1);
    if (inclusion_len(leaves, i, n - 1) != count)
        ck_assert_int_eq(ctm__verify_inclusion(i, n - 1, leaves[i], proof, count, roots[n]), -1);
    if (count > 0)
        ck_assert_int_eq(ctm__verify_inclusion(i, n, leaves[i], proof, count - 1, roots[n]), -1);
    free(proof);
}

START_TEST(test_generated_inclusion_proofs)
{
    ctm_hash leaves[PAIR_LIMIT + 1], roots[PAIR_LIMIT + 2];

    random_leaves(leaves, PAIR_LIMIT + 1);
    for (uint64_t n = 0; n <= PAIR_LIMIT + 1; n++)
        ctm__subtree_root(leaves, 0, n, roots[n]);
    for (uint64_t n = 1; n <= PAIR_LIMIT; n++)
        for (uint64_t i = 0; i < n; i++)
            check_inclusion_pair(leaves, roots, i, n);
}
END_TEST

static void check_consistency_pair(const ctm_hash *leaves, const ctm_hash *roots, uint64_t m,
                                   uint64_t n)
{
    ctm_hash *proof;
    size_t count;

    ck_assert_int_eq(ctm__consistency_proof(leaves, m, n, &proof, &count), 0);
    ck_assert_int_eq(ctm__verify_consistency(m, n, roots[m], roots[n], proof, count), 0);
    for (size_t b = 0; b < count * CTM_HASH_SIZE; b++) {
        flip(proof, b);
        ck_assert_int_eq(ctm__verify_consistency(m, n, roots[m], roots[n], proof, count), -1);
        flip(proof, b);
    }
    if (consistency_len(leaves, m + 1, n) != count)
        ck_assert_int_eq(ctm__verify_consistency(m + 1, n, roots[m], roots[n], proof, count), -1);
    if (consistency_len(leaves, m - 1, n) != count)
        ck_assert_int_eq(ctm__verify_consistency(m - 1, n, roots[m], roots[n], proof, count), -1);
    if (consistency_len(leaves, m, n + 1) != count)
        ck_assert_int_eq(ctm__verify_consistency(m, n + 1, roots[m], roots[n], proof, count), -1);
    if (consistency_len(leaves, m, n - 1) != count)
        ck_assert_int_eq(ctm__verify_consistency(m, n - 1, roots[m], roots[n], proof, count), -1);
    if (count > 0)
        ck_assert_int_eq(ctm__verify_consistency(m, n, roots[m], roots[n], proof, count - 1), -1);
    if (m < n)
        ck_assert_int_eq(ctm__verify_consistency(m, n, roots[n], roots[m], proof, count), -1);
    free(proof);
}

START_TEST(test_generated_consistency_proofs)
{
    ctm_hash leaves[PAIR_LIMIT + 1], roots[PAIR_LIMIT + 2];

    random_leaves(leaves, PAIR_LIMIT + 1);
    for (uint64_t n = 0; n <= PAIR_LIMIT + 1; n++)
        ctm__subtree_root(leaves, 0, n, roots[n]);
    for (uint64_t n = 1; n <= PAIR_LIMIT; n++)
        for (uint64_t m = 1; m <= n; m++)
            check_consistency_pair(leaves, roots, m, n);
}
END_TEST

/* ---- conventions ------------------------------------------------------------------------ */

START_TEST(test_bad_arguments)
{
    ctm_hash leaves[4], root, *proof = NULL;
    size_t count = 0;

    random_leaves(leaves, 4);
    ctm__subtree_root(leaves, 0, 4, root);
    ck_assert_int_eq(ctm__inclusion_proof(leaves, 4, 4, &proof, &count), -1);
    ck_assert_int_eq(ctm__inclusion_proof(leaves, 0, 0, &proof, &count), -1);
    ck_assert_int_eq(ctm__consistency_proof(leaves, 0, 4, &proof, &count), -1);
    ck_assert_int_eq(ctm__consistency_proof(leaves, 0, 0, &proof, &count), -1);
    ck_assert_int_eq(ctm__consistency_proof(leaves, 3, 2, &proof, &count), -1);
    /* No inclusion in an empty tree, whatever the root. */
    ck_assert_int_eq(ctm__verify_inclusion(0, 0, leaves[0], NULL, 0, leaves[0]), -1);
    ck_assert_int_eq(ctm__verify_inclusion(UINT64_MAX, UINT64_MAX, leaves[0], NULL, 0, root), -1);
}
END_TEST

START_TEST(test_equal_size_consistency)
{
    ctm_hash leaves[5], root, other, *proof;
    size_t count;

    random_leaves(leaves, 5);
    ctm__subtree_root(leaves, 0, 5, root);
    ctm__subtree_root(leaves, 0, 4, other);
    ck_assert_int_eq(ctm__consistency_proof(leaves, 5, 5, &proof, &count), 0);
    ck_assert_uint_eq(count, 0);
    free(proof);
    ck_assert_int_eq(ctm__verify_consistency(5, 5, root, root, NULL, 0), 0);
    ck_assert_int_eq(ctm__verify_consistency(5, 5, root, other, NULL, 0), -1);
    /* A non-empty proof for equal sizes has no meaning and is refused. */
    ck_assert_int_eq(ctm__verify_consistency(5, 5, root, root, &root, 1), -1);
    /* Size 0 is refused even with matching empty-tree roots. */
    ctm__subtree_root(leaves, 0, 0, other);
    ck_assert_int_eq(ctm__verify_consistency(0, 0, other, other, NULL, 0), -1);
    ck_assert_int_eq(ctm__verify_consistency(0, 5, other, root, NULL, 0), -1);
}
END_TEST

static Suite *merkle_suite(void)
{
    Suite *s = suite_create("merkle");
    TCase *tc;

    tc = tcase_create("hashing");
    tcase_add_test(tc, test_rfc6962_leaves_and_roots);
    tcase_add_test(tc, test_empty_tree_root);
    tcase_add_test(tc, test_frontier_matches_subtree_root);
    suite_add_tcase(s, tc);

    tc = tcase_create("frontier_encoding");
    tcase_add_test(tc, test_frontier_round_trip);
    tcase_add_test(tc, test_frontier_decode_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("published_vectors");
    tcase_add_test(tc, test_rfc6962_inclusion_lines);
    tcase_add_test(tc, test_rfc6962_consistency_lines);
    tcase_add_test(tc, test_transparency_dev_inclusion);
    tcase_add_test(tc, test_transparency_dev_consistency);
    suite_add_tcase(s, tc);

    tc = tcase_create("generated_proofs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_generated_inclusion_proofs);
    tcase_add_test(tc, test_generated_consistency_proofs);
    suite_add_tcase(s, tc);

    tc = tcase_create("conventions");
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_equal_size_consistency);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(merkle_suite());
}
