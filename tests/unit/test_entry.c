/* test_entry.c - canonical entry encoding: round trips, exact bytes, strict decoding, digests, JSON. */
#include "entry.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- builders ---- */

static ctm__value v_absent(void)
{
    return (ctm__value){.tag = CTM_V_ABSENT};
}

static ctm__value v_null(void)
{
    return (ctm__value){.tag = CTM_V_NULL};
}

static ctm__value v_int(int64_t i)
{
    return (ctm__value){.tag = CTM_V_INT, .i = i};
}

static ctm__value v_real(double r)
{
    return (ctm__value){.tag = CTM_V_REAL, .r = r};
}

static ctm__value v_text(const char *s)
{
    return (ctm__value){.tag = CTM_V_TEXT, .p = (const uint8_t *)s, .n = (uint32_t)strlen(s)};
}

static ctm__value v_bytes(int tag, const void *p, uint32_t n)
{
    return (ctm__value){.tag = tag, .p = p, .n = n};
}

static ctm__column_change col(const char *name, int is_pk, ctm__value old_value, ctm__value new_value)
{
    return (ctm__column_change){.name = name, .is_pk = is_pk, .old_value = old_value, .new_value = new_value};
}

/* An entry using every value type and every op; everything it points to lives inside it. */
struct sample {
    ctm__entry e;
    ctm__param params[2];
    ctm__row_change changes[3];
    ctm__column_change ins[7], upd[4], del[3];
    uint8_t blob[4], digest[32];
};

static void sample_init(struct sample *s, int with_esig)
{
    memset(s, 0, sizeof *s);
    memcpy(s->blob, "\x00\xff\x10\x7f", 4);
    for (int i = 0; i < 32; i++)
        s->digest[i] = (uint8_t)i;
    s->params[0] = (ctm__param){"kit", "K-0001"};
    s->params[1] = (ctm__param){"", ""};
    s->ins[0] = col("id", 1, v_absent(), v_int(INT64_MIN));
    s->ins[1] = col("n", 0, v_absent(), v_null());
    s->ins[2] = col("r", 0, v_absent(), v_real(-0.0));
    s->ins[3] = col("t", 0, v_absent(), v_text("h\xc3\xa9llo \xf0\x9f\x98\x80"));
    s->ins[4] = col("e", 0, v_absent(), v_text(""));
    s->ins[5] = col("b", 0, v_absent(), v_bytes(CTM_V_BLOB, s->blob, 4));
    s->ins[6] = col("d", 0, v_absent(), v_bytes(CTM_V_DIGEST, s->digest, 0));
    s->upd[0] = col("id", 1, v_int(-1), v_int(-1));
    s->upd[1] = col("site", 1, v_text("A"), v_text("A"));
    s->upd[2] = col("qty", 0, v_int(5), v_int(INT64_MAX));
    s->upd[3] = col("temp", 0, v_real(NAN), v_real(INFINITY));
    s->del[0] = col("id", 1, v_int(7), v_absent());
    s->del[1] = col("note", 0, v_null(), v_absent());
    s->del[2] = col("blob", 0, v_bytes(CTM_V_BLOB, s->blob, 0), v_absent());
    s->changes[0] = (ctm__row_change){"kits", 'I', 7, s->ins, 0, NULL};
    s->changes[1] = (ctm__row_change){"stock", 'U', 4, s->upd, 0, NULL};
    s->changes[2] = (ctm__row_change){"notes", 'D', 3, s->del, 0, NULL};
    s->e = (ctm__entry){.version = CTM_ENTRY_VERSION, .seq = UINT64_MAX, .time_us = -1234567,
                        .user = "anna", .action = "kit.dispense", .reason = "",
                        .nparams = 2, .params = s->params, .nchanges = 3, .changes = s->changes};
    for (int i = 0; i < CTM_ENTRY_SALT_LEN; i++)
        s->e.salt[i] = (uint8_t)(0xA0 + i);
    if (with_esig) {
        s->e.has_esig = 1;
        s->e.esig.user = "bob";
        s->e.esig.printed_name = "Bob \xc3\x9c";
        s->e.esig.meaning = "";
        memset(s->e.esig.public_key, 0xAB, 32);
        memset(s->e.esig.signature, 0xCD, 64);
    }
}

static void encode_ok(const ctm__entry *e, ctm__buf *b)
{
    ctm__buf_init(b);
    ck_assert_int_eq(ctm__entry_encode(b, e), 0);
    ck_assert(!b->oom);
}

/* The one-column entry of the exact-bytes test, with the parts the reject tests alter by hand. */
struct raw {
    const char *user;
    uint32_t user_n;
    char op;
    uint32_t ncols;
    uint8_t is_pk;
    ctm__value old_value, new_value;
};

static struct raw raw_default(void)
{
    return (struct raw){"u", 1, 'I', 1, 1, v_absent(), v_int(3)};
}

static void raw_encode(ctm__buf *b, const struct raw *r)
{
    ctm__buf_init(b);
    ctm__buf_u8(b, 1);
    ctm__buf_u64(b, 1);
    ctm__buf_u64(b, 2);
    ctm__buf_u32(b, r->user_n);
    ctm__buf_put(b, r->user, r->user_n);
    ctm__buf_str(b, "a");
    ctm__buf_str(b, "");
    ctm__buf_u32(b, 1);
    ctm__buf_str(b, "k");
    ctm__buf_str(b, "v");
    ctm__buf_u32(b, 1);
    ctm__buf_str(b, "t");
    ctm__buf_u32(b, r->ncols);
    if (r->ncols > 0) {
        ctm__buf_str(b, "id");
        ctm__buf_u8(b, r->is_pk);
    }
    ctm__buf_u32(b, 1);
    ctm__buf_u8(b, (uint8_t)r->op);
    /* an insert carries only its new value, a delete only its old one */
    if (r->ncols > 0 && r->op != 'I')
        ctm__buf_value(b, &r->old_value);
    if (r->ncols > 0 && r->op != 'D')
        ctm__buf_value(b, &r->new_value);
    ctm__buf_u8(b, 0);
    ck_assert(!b->oom);
}

static const char small_hex[] = "01"
                                "0000000000000001"
                                "0000000000000002"
                                "0000000175"
                                "0000000161"
                                "00000000"
                                "00000001"
                                "000000016b"
                                "0000000176"
                                "00000001"
                                "0000000174"
                                "00000001"
                                "000000026964"
                                "01"
                                "00000001"
                                "49"
                                "020103"
                                "00";

/* Byte offsets inside the small entry. */
enum {
    OFF_VERSION = 0,
    OFF_USER_LEN = 17,
    OFF_NPARAMS = 31,
    OFF_NGROUPS = 45,
    OFF_NCOLS = 54,
    OFF_IS_PK = 64,
    OFF_NROWS = 65,
    OFF_OP = 69,
    OFF_NEW_TAG = 70,
    OFF_INT_LEN = 71,
    OFF_HAS_ESIG = 73,
    SMALL_LEN = 74,
};

/* Decodes from an exact-size heap copy so that the sanitizers catch any read past the end. */
static int decode_copy(const uint8_t *p, size_t n, char *why, size_t why_len)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    ctm__entry e;
    ck_assert_ptr_nonnull(copy);
    if (n > 0)
        memcpy(copy, p, n);
    int rc = ctm__entry_decode(&e, copy, n, why, why_len);
    ctm__entry_free(&e);
    free(copy);
    return rc;
}

/* An entry's bytes served to ctm__entry_decode_stream as from storage: offsets must rise and
 * never overlap; fail_at makes the read that reaches that byte fail. */
struct source {
    const uint8_t *p;
    size_t n, next, served, fail_at;
    int reads;
};

static int source_fill(void *ctx, uint8_t *buf, size_t k, size_t offset)
{
    struct source *s = ctx;
    ck_assert_uint_eq(offset, s->next);
    ck_assert_uint_le(offset + k, s->n);
    if (s->fail_at > 0 && offset + k > s->fail_at)
        return -1;
    memcpy(buf, s->p + offset, k);
    s->next = offset + k;
    s->served += k;
    s->reads++;
    return 0;
}

static int decode_stream(const uint8_t *p, size_t n, struct source *src,
                         int (*each)(void *, const ctm__row_change *), void *ctx, char *why,
                         size_t why_len)
{
    ctm__entry e;
    *src = (struct source){.p = p, .n = n, .fail_at = src->fail_at};
    int rc = ctm__entry_decode_stream(&e, n, source_fill, src, each, ctx, why, why_len);
    ctm__entry_free(&e);
    return rc;
}

/* reason_part NULL: any reason will do.  A stream decoder gives the same verdict. */
static void expect_reject(const uint8_t *p, size_t n, const char *reason_part)
{
    char why[128] = "";
    ck_assert_int_eq(decode_copy(p, n, why, sizeof why), -1);
    ck_assert(why[0] != '\0');
    ck_assert_msg(reason_part == NULL || strstr(why, reason_part) != NULL, "reason \"%s\" lacks \"%s\"", why, reason_part);
    char streamed[128] = "";
    struct source src = {0};
    ck_assert_int_eq(decode_stream(p, n, &src, NULL, NULL, streamed, sizeof streamed), -1);
    ck_assert_str_eq(streamed, why);
}

static void expect_raw_reject(const struct raw *r, const char *reason_part)
{
    ctm__buf b;
    raw_encode(&b, r);
    expect_reject(b.p, b.n, reason_part);
    ctm__buf_free(&b);
}

static void expect_raw_accept(const struct raw *r)
{
    ctm__buf b;
    char why[128] = "";
    raw_encode(&b, r);
    ck_assert_msg(decode_copy(b.p, b.n, why, sizeof why) == 0, "rejected: %s", why);
    ctm__buf_free(&b);
}

static void small_bytes(uint8_t out[SMALL_LEN])
{
    ck_assert_int_eq(tu_hex_decode(small_hex, out, SMALL_LEN), SMALL_LEN);
}

/* The small entry with its byte at off set to v must be rejected, the reason naming reason_part. */
static void expect_byte_reject(size_t off, int v, const char *reason_part)
{
    uint8_t p[SMALL_LEN];
    small_bytes(p);
    p[off] = (uint8_t)v;
    expect_reject(p, SMALL_LEN, reason_part);
}

static void put_u32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- round trip ---- */

static void assert_value_eq(const ctm__value *a, const ctm__value *b)
{
    ck_assert_int_eq(a->tag, b->tag);
    switch (a->tag) {
    case CTM_V_INT:
        ck_assert(a->i == b->i);
        break;
    case CTM_V_REAL:
        ck_assert_mem_eq(&a->r, &b->r, sizeof a->r);
        break;
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        ck_assert_uint_eq(a->n, b->n);
        ck_assert(a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
        break;
    case CTM_V_DIGEST:
        ck_assert_mem_eq(a->p, b->p, 32);
        break;
    default:
        break;
    }
}

static void assert_entry_eq(const ctm__entry *a, const ctm__entry *b)
{
    ck_assert_uint_eq(b->version, a->version != 0 ? a->version : CTM_ENTRY_VERSION);
    if (b->version >= 2)
        ck_assert_mem_eq(a->salt, b->salt, CTM_ENTRY_SALT_LEN);
    ck_assert(a->seq == b->seq && a->time_us == b->time_us);
    ck_assert_str_eq(a->user, b->user);
    ck_assert_str_eq(a->action, b->action);
    ck_assert_str_eq(a->reason, b->reason);
    ck_assert_uint_eq(a->nparams, b->nparams);
    for (uint32_t i = 0; i < a->nparams; i++) {
        ck_assert_str_eq(a->params[i].key, b->params[i].key);
        ck_assert_str_eq(a->params[i].value, b->params[i].value);
    }
    ck_assert_uint_eq(a->nchanges, b->nchanges);
    for (uint32_t i = 0; i < a->nchanges; i++) {
        const ctm__row_change *ca = &a->changes[i], *cb = &b->changes[i];
        ck_assert_str_eq(ca->table, cb->table);
        ck_assert_int_eq(ca->op, cb->op);
        ck_assert_uint_eq(ca->ncols, cb->ncols);
        for (uint32_t j = 0; j < ca->ncols; j++) {
            ck_assert_str_eq(ca->cols[j].name, cb->cols[j].name);
            ck_assert_int_eq(ca->cols[j].is_pk, cb->cols[j].is_pk);
            assert_value_eq(&ca->cols[j].old_value, &cb->cols[j].old_value);
            assert_value_eq(&ca->cols[j].new_value, &cb->cols[j].new_value);
        }
    }
    ck_assert_int_eq(a->has_esig, b->has_esig);
    if (a->has_esig) {
        ck_assert_str_eq(a->esig.user, b->esig.user);
        ck_assert_str_eq(a->esig.printed_name, b->esig.printed_name);
        ck_assert_str_eq(a->esig.meaning, b->esig.meaning);
        ck_assert_mem_eq(a->esig.public_key, b->esig.public_key, 32);
        ck_assert_mem_eq(a->esig.signature, b->esig.signature, 64);
    }
}

static void round_trip(const ctm__entry *e)
{
    ctm__buf b1, b2;
    ctm__entry d;
    char why[128] = "";

    encode_ok(e, &b1);
    ck_assert_msg(ctm__entry_decode(&d, b1.p, b1.n, why, sizeof why) == 0, "decode: %s", why);
    assert_entry_eq(e, &d);
    encode_ok(&d, &b2);
    ck_assert_uint_eq(b1.n, b2.n);
    ck_assert_mem_eq(b1.p, b2.p, b1.n);
    ctm__entry_free(&d);
    ctm__buf_free(&b1);
    ctm__buf_free(&b2);
}

START_TEST(test_round_trip_every_type_and_op)
{
    struct sample s;
    sample_init(&s, 0);
    round_trip(&s.e);
}
END_TEST

START_TEST(test_round_trip_with_esig)
{
    struct sample s;
    ctm__buf b;
    sample_init(&s, 1);
    round_trip(&s.e);
    encode_ok(&s.e, &b);
    /* The signature is the last 64 bytes: the signed content is exactly what precedes it. */
    ck_assert_uint_eq(ctm__entry_signed_len(b.n), b.n - 64);
    ck_assert_uint_eq(ctm__entry_signed_len(10), 0);
    ck_assert_mem_eq(b.p + b.n - 64, s.e.esig.signature, 64);
    ck_assert_mem_eq(b.p + b.n - 96, s.e.esig.public_key, 32);
    ctm__buf_free(&b);
}
END_TEST

START_TEST(test_round_trip_empty)
{
    ctm__entry e = {.user = "", .action = "", .reason = ""};
    round_trip(&e);
}
END_TEST

/* Sites from before schema version 3 hold unsalted version-1 entries: they still decode, and
 * re-encode to the same bytes. */
START_TEST(test_round_trip_legacy_version)
{
    struct sample s;
    ctm__buf v1, v2;
    sample_init(&s, 1);
    s.e.version = CTM_ENTRY_VERSION_LEGACY;
    round_trip(&s.e);
    encode_ok(&s.e, &v1);
    s.e.version = CTM_ENTRY_VERSION;
    encode_ok(&s.e, &v2);
    ck_assert_uint_eq(v1.p[0], 1);
    ck_assert_uint_eq(v2.p[0], 2);
    /* the salt is the only difference: 32 bytes right after time */
    ck_assert_uint_eq(v2.n, v1.n + CTM_ENTRY_SALT_LEN);
    ck_assert_mem_eq(v2.p + 1, v1.p + 1, 16);
    ck_assert_mem_eq(v2.p + 17, s.e.salt, CTM_ENTRY_SALT_LEN);
    ck_assert_mem_eq(v2.p + 17 + CTM_ENTRY_SALT_LEN, v1.p + 17, v1.n - 17);
    ctm__buf_free(&v1);
    ctm__buf_free(&v2);
}
END_TEST

START_TEST(test_free_zeroed_and_twice)
{
    ctm__entry e;
    memset(&e, 0, sizeof e);
    ctm__entry_free(&e);
    ctm__entry_free(&e);
    ctm__entry_free(NULL);
    ck_assert_ptr_null(e.arena_);
}
END_TEST

/* ---- exact bytes ---- */

START_TEST(test_exact_bytes)
{
    ctm__column_change c = col("id", 1, v_absent(), v_int(3));
    ctm__param p = {"k", "v"};
    ctm__row_change ch = {"t", 'I', 1, &c, 0, NULL};
    ctm__entry e = {.version = CTM_ENTRY_VERSION_LEGACY, .seq = 1, .time_us = 2, .user = "u",
                    .action = "a", .reason = "", .nparams = 1, .params = &p, .nchanges = 1,
                    .changes = &ch};
    uint8_t want[SMALL_LEN], want2[SMALL_LEN + CTM_ENTRY_SALT_LEN];
    ctm__buf b, raw;
    struct raw r = raw_default();

    small_bytes(want);
    encode_ok(&e, &b);
    ck_assert_uint_eq(b.n, SMALL_LEN);
    ck_assert_mem_eq(b.p, want, SMALL_LEN);
    raw_encode(&raw, &r);
    ck_assert_uint_eq(raw.n, SMALL_LEN);
    ck_assert_mem_eq(raw.p, want, SMALL_LEN);
    ctm__buf_free(&b);
    ctm__buf_free(&raw);

    /* version 2 (the default): version byte 2, then the salt right after time */
    e.version = 0;
    for (int i = 0; i < CTM_ENTRY_SALT_LEN; i++)
        e.salt[i] = (uint8_t)i;
    want2[0] = 2;
    memcpy(want2 + 1, want + 1, 16);
    for (int i = 0; i < CTM_ENTRY_SALT_LEN; i++)
        want2[17 + i] = (uint8_t)i;
    memcpy(want2 + 17 + CTM_ENTRY_SALT_LEN, want + 17, SMALL_LEN - 17);
    encode_ok(&e, &b);
    ck_assert_uint_eq(b.n, sizeof want2);
    ck_assert_mem_eq(b.p, want2, sizeof want2);
    ck_assert_int_eq(decode_copy(b.p, b.n, NULL, 0), 0);
    ctm__buf_free(&b);
}
END_TEST

START_TEST(test_encode_appends)
{
    ctm__entry e = {.user = "", .action = "", .reason = ""};
    ctm__buf b;
    ctm__buf_init(&b);
    ctm__buf_put(&b, "xy", 2);
    ck_assert_int_eq(ctm__entry_encode(&b, &e), 0);
    ck_assert_uint_eq(b.n, 2 + 1 + 8 + 8 + CTM_ENTRY_SALT_LEN + 4 * 3 + 4 + 4 + 1);
    ck_assert_mem_eq(b.p, "xy\x02", 3);
    ctm__buf_free(&b);
}
END_TEST

START_TEST(test_encode_rejects_undecodable)
{
    struct sample s;
    ctm__buf b;
    ctm__buf_init(&b);

    sample_init(&s, 0);
    s.ins[1].old_value = v_int(1); /* insert with an old value */
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.upd[1].new_value = v_text("B"); /* update changing a key */
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.changes[0].op = 'X';
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.e.user = "\xc0\x80"; /* overlong NUL */
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.e.reason = NULL;
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.ins[3].new_value = v_bytes(CTM_V_TEXT, "a\0b", 3);
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.ins[3].new_value.tag = 7;
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    s.e.version = 3;
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    sample_init(&s, 0);
    for (int i = 0; i < 4; i++)
        s.upd[i].is_pk = 0; /* no primary key */
    ck_assert_int_eq(ctm__entry_encode(&b, &s.e), -1);
    ck_assert_uint_eq(b.n, 0);
    ctm__buf_free(&b);
}
END_TEST

/* ---- strict decoding ---- */

START_TEST(test_reject_every_truncation)
{
    struct sample s;
    ctm__buf b;
    sample_init(&s, 1);
    encode_ok(&s.e, &b);
    /* A cut can also surface as a count the shortened input cannot hold. */
    for (size_t k = 0; k < b.n; k++)
        expect_reject(b.p, k, NULL);
    ck_assert_int_eq(decode_copy(b.p, b.n, NULL, 0), 0);
    ctm__buf_free(&b);
}
END_TEST

START_TEST(test_reject_trailing_byte)
{
    uint8_t p[SMALL_LEN + 1];
    small_bytes(p);
    ck_assert_int_eq(decode_copy(p, SMALL_LEN, NULL, 0), 0);
    p[SMALL_LEN] = 0;
    expect_reject(p, SMALL_LEN + 1, "trailing");
}
END_TEST

START_TEST(test_reject_bad_version)
{
    for (int v = 0; v < 256; v++) {
        if (v != CTM_ENTRY_VERSION && v != CTM_ENTRY_VERSION_LEGACY)
            expect_byte_reject(OFF_VERSION, v, "version");
    }
}
END_TEST

/* The version byte decides the layout: version-1 bytes labelled 2 (or the reverse) never decode
 * to the entry they came from.  (Version-1 bytes labelled 2 may decode to another entry: the salt
 * then swallows the first 32 bytes after time.) */
START_TEST(test_reject_version_swapped)
{
    struct sample s;
    ctm__buf b;
    ctm__entry d;
    for (int v = 1; v <= 2; v++) {
        sample_init(&s, 1);
        s.e.version = (uint8_t)v;
        encode_ok(&s.e, &b);
        ck_assert_int_eq(decode_copy(b.p, b.n, NULL, 0), 0);
        b.p[0] = (uint8_t)(3 - v);
        if (ctm__entry_decode(&d, b.p, b.n, NULL, 0) == 0) {
            ck_assert_uint_eq(d.version, 3 - v);
            ck_assert(strcmp(d.user, s.e.user) != 0 || strcmp(d.action, s.e.action) != 0);
            ctm__entry_free(&d);
        }
        ctm__buf_free(&b);
    }
}
END_TEST

START_TEST(test_reject_bad_tags)
{
    for (int t = CTM_V_DIGEST + 1; t < 256; t++) {
        expect_byte_reject(OFF_NEW_TAG, t, "tag");
    }
}
END_TEST

START_TEST(test_reject_bad_int)
{
    /* INT is a length 1..8 and the shortest big-endian two's complement form */
    expect_byte_reject(OFF_INT_LEN, 0, "INT length");
    expect_byte_reject(OFF_INT_LEN, 9, "INT length");
    struct raw r = raw_default();
    ctm__buf b;
    raw_encode(&b, &r);
    uint8_t longer[SMALL_LEN + 1];
    memcpy(longer, b.p, OFF_INT_LEN);
    longer[OFF_INT_LEN] = 2; /* 00 03: the same 3, one byte too long */
    longer[OFF_INT_LEN + 1] = 0;
    memcpy(longer + OFF_INT_LEN + 2, b.p + OFF_INT_LEN + 1, SMALL_LEN - OFF_INT_LEN - 1);
    expect_reject(longer, sizeof longer, "shortest");
    longer[OFF_INT_LEN + 1] = 0xff; /* ff 03 is -253, whose shortest form is two bytes: fine */
    ck_assert_int_eq(decode_copy(longer, sizeof longer, NULL, 0), 0);
    ctm__buf_free(&b);
    /* every length round-trips, at its edges */
    const int64_t edges[] = {0, -1, 127, 128, -128, -129, 32767, 32768, INT32_MAX, INT32_MIN,
                             (int64_t)1 << 55, -((int64_t)1 << 55) - 1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        r = raw_default();
        r.new_value = v_int(edges[i]);
        expect_raw_accept(&r);
    }
}
END_TEST

START_TEST(test_reject_bad_op)
{
    for (int op = 0; op < 256; op++) {
        if (op != 'I' && op != 'U' && op != 'D')
            expect_byte_reject(OFF_OP, op, "op");
    }
}
END_TEST

START_TEST(test_reject_bad_flags)
{
    for (int f = 2; f < 256; f++) {
        expect_byte_reject(OFF_IS_PK, f, "is_pk");
        expect_byte_reject(OFF_HAS_ESIG, f, "has_esig");
    }
}
END_TEST

static const char *const bad_utf8[] = {
    "\x80",             /* lone continuation */
    "\xc0\x80",         /* overlong NUL */
    "\xc1\xbf",         /* overlong */
    "\xe0\x80\xaf",     /* overlong '/' */
    "\xe0\x9f\xbf",     /* overlong, just below U+0800 */
    "\xf0\x8f\xbf\xbf", /* overlong, just below U+10000 */
    "\xed\xa0\x80",     /* U+D800 surrogate */
    "\xed\xbf\xbf",     /* U+DFFF surrogate */
    "\xf4\x90\x80\x80", /* U+110000 */
    "\xf5\x80\x80\x80", /* beyond U+10FFFF */
    "\xff",
    "\xe2\x82",         /* truncated sequence */
    "a\xc3",            /* truncated at the end */
    "\xc3\x28",         /* bad continuation */
};

static const char *const good_utf8[] = {
    "\x7f", "\xc2\x80", "\xc3\xa9", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
    "\xe2\x82\xac", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
};

START_TEST(test_reject_invalid_utf8)
{
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        struct raw r = raw_default();
        r.new_value = v_text(bad_utf8[i]);
        expect_raw_reject(&r, "UTF-8");
        r = raw_default();
        r.user = bad_utf8[i];
        r.user_n = (uint32_t)strlen(bad_utf8[i]);
        expect_raw_reject(&r, "UTF-8");
    }
    for (size_t i = 0; i < sizeof good_utf8 / sizeof good_utf8[0]; i++) {
        struct raw r = raw_default();
        r.new_value = v_text(good_utf8[i]);
        r.user = good_utf8[i];
        r.user_n = (uint32_t)strlen(good_utf8[i]);
        expect_raw_accept(&r);
    }
}
END_TEST

START_TEST(test_reject_nul)
{
    struct raw r = raw_default();
    r.new_value = v_bytes(CTM_V_TEXT, "a\0b", 3);
    expect_raw_reject(&r, "NUL");
    r = raw_default();
    r.user = "a\0b";
    r.user_n = 3;
    expect_raw_reject(&r, "NUL");
    /* Blobs are bytes: a NUL is fine there. */
    r = raw_default();
    r.new_value = v_bytes(CTM_V_BLOB, "a\0b", 3);
    expect_raw_accept(&r);
}
END_TEST

START_TEST(test_reject_huge_counts)
{
    uint8_t p[SMALL_LEN];
    /* The reason must be the count check, proving nothing was allocated for it first. */
    const int offs[] = {OFF_NPARAMS, OFF_NGROUPS, OFF_NCOLS, OFF_NROWS};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        small_bytes(p);
        put_u32_at(p + offs[i], 0xFFFFFFFFu);
        expect_reject(p, SMALL_LEN, "exceeds the input");
    }
    small_bytes(p);
    put_u32_at(p + OFF_USER_LEN, 0xFFFFFFFFu);
    expect_reject(p, SMALL_LEN, "truncated");

    struct raw r = raw_default();
    ctm__buf b;
    r.new_value = v_text("x");
    raw_encode(&b, &r);
    put_u32_at(b.p + OFF_NEW_TAG + 1, 0xFFFFFFFFu);
    expect_reject(b.p, b.n, "truncated");
    ctm__buf_free(&b);

    /* Just above what the remaining bytes could hold: 2 params need at least 16 bytes. */
    small_bytes(p);
    put_u32_at(p + OFF_NPARAMS, (SMALL_LEN - OFF_NPARAMS - 4) / 8 + 1);
    expect_reject(p, SMALL_LEN, "exceeds the input");
}
END_TEST

START_TEST(test_reject_value_rules)
{
    struct raw r = raw_default();
    r.new_value = v_absent(); /* insert without a new value */
    expect_raw_reject(&r, "insert");
    r = raw_default();
    r.op = 'D'; /* delete without an old value */
    expect_raw_reject(&r, "delete");
    r.old_value = v_int(3);
    expect_raw_accept(&r);
    r = raw_default();
    r.op = 'U'; /* update without an old value */
    expect_raw_reject(&r, "update");
    r.old_value = v_int(4); /* the primary key changes */
    expect_raw_reject(&r, "primary key");
    r.old_value = v_text("3"); /* same text, other type: still a change */
    expect_raw_reject(&r, "primary key");
    r.old_value = v_int(3); /* only the key, unchanged: an update that changes nothing */
    expect_raw_reject(&r, "changes nothing");
    r.is_pk = 0; /* a non-key column written unchanged */
    expect_raw_reject(&r, "unchanged");
    r.is_pk = 0; /* no primary key column */
    r.old_value = v_int(4);
    expect_raw_reject(&r, "primary key");
    r = raw_default();
    r.ncols = 0; /* a group without columns */
    expect_raw_reject(&r, NULL);
}
END_TEST

/* An entry of hand-made groups: table t (columns id key, a, b), rows as given. */
static void groups_encode(ctm__buf *b, int ngroups, const char *const *tables, const uint32_t *nrows,
                          const char *const *names)
{
    ctm__buf_init(b);
    ctm__buf_u8(b, 1);
    ctm__buf_u64(b, 1);
    ctm__buf_u64(b, 2);
    ctm__buf_str(b, "u");
    ctm__buf_str(b, "a");
    ctm__buf_str(b, "");
    ctm__buf_u32(b, 0);
    ctm__buf_u32(b, (uint32_t)ngroups);
    for (int g = 0; g < ngroups; g++) {
        ctm__buf_str(b, tables[g]);
        ctm__buf_u32(b, 3);
        for (int k = 0; k < 3; k++) {
            ctm__buf_str(b, names[k]);
            ctm__buf_u8(b, k == 0);
        }
        ctm__buf_u32(b, nrows[g]);
        for (uint32_t i = 0; i < nrows[g]; i++) {
            /* an update of column b only: a is absent on both sides */
            ctm__value key = v_int((int64_t)i), abs = v_absent(), o = v_int(1), n = v_int(2);
            ctm__buf_u8(b, 'U');
            ctm__buf_value(b, &key);
            ctm__buf_value(b, &key);
            ctm__buf_value(b, &abs);
            ctm__buf_value(b, &abs);
            ctm__buf_value(b, &o);
            ctm__buf_value(b, &n);
        }
    }
    ctm__buf_u8(b, 0);
    ck_assert(!b->oom);
}

START_TEST(test_groups)
{
    static const char *const names[3] = {"id", "a", "b"}, *const dup[3] = {"id", "a", "id"};
    static const char *const two[2] = {"t", "s"}, *const same[2] = {"t", "t"};
    const uint32_t rows[2] = {2, 1}, none[2] = {0, 1};
    ctm__buf b, again;
    ctm__entry e;
    char why[128] = "";

    /* an update lists its key and what it changed; the group keeps every column: a fixpoint */
    groups_encode(&b, 2, two, rows, names);
    ck_assert_msg(ctm__entry_decode(&e, b.p, b.n, why, sizeof why) == 0, "rejected: %s", why);
    ck_assert_uint_eq(e.nchanges, 3);
    ck_assert_uint_eq(e.changes[0].ncols, 2);
    ck_assert_str_eq(e.changes[0].cols[1].name, "b");
    ck_assert_str_eq(e.changes[2].table, "s");
    encode_ok(&e, &again);
    ck_assert_uint_eq(again.n, b.n);
    ck_assert_mem_eq(again.p, b.p, b.n);
    ctm__buf_free(&again);
    ctm__entry_free(&e);
    ctm__buf_free(&b);

    groups_encode(&b, 2, same, rows, names); /* two groups in a row for one table */
    expect_reject(b.p, b.n, "repeats the table");
    ctm__buf_free(&b);
    groups_encode(&b, 2, two, none, names); /* a group without rows */
    expect_reject(b.p, b.n, "no rows");
    ctm__buf_free(&b);
    groups_encode(&b, 1, two, rows, dup); /* a column named twice */
    expect_reject(b.p, b.n, "twice");
    ctm__buf_free(&b);

    /* an update with one side of a column absent */
    groups_encode(&b, 1, two, rows, names);
    ck_assert_int_eq(b.p[b.n - 1 - 3 - 3 - 1], CTM_V_ABSENT); /* last row: a's new value */
    b.p[b.n - 1 - 3 - 3 - 1] = CTM_V_NULL;
    expect_reject(b.p, b.n, "both old and new values or neither");
    ctm__buf_free(&b);
}
END_TEST

/* What a streamed decode handed over: each change as "table op ncols key b-new". */
struct seen {
    char lines[8][64];
    int n, stop_at;
};

static int note_change(void *ctx, const ctm__row_change *c)
{
    struct seen *s = ctx;
    if (s->n == s->stop_at)
        return 1;
    ck_assert_int_lt(s->n, 8);
    ck_assert_uint_eq(c->ncols, 2);
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %c %u %lld %lld", c->table, c->op,
             (unsigned)c->ncols, (long long)c->cols[0].old_value.i, (long long)c->cols[1].new_value.i);
    return 0;
}

START_TEST(test_decode_each_streams_what_decode_keeps)
{
    static const char *const names[3] = {"id", "a", "b"}, *const two[2] = {"t", "s"};
    const uint32_t rows[2] = {2, 1};
    ctm__buf b;
    ctm__entry whole, streamed;
    char why[128] = "";
    struct seen seen = {.stop_at = -1};

    groups_encode(&b, 2, two, rows, names);
    ck_assert_int_eq(ctm__entry_decode(&whole, b.p, b.n, why, sizeof why), 0);
    ck_assert_msg(ctm__entry_decode_each(&streamed, b.p, b.n, note_change, &seen, why, sizeof why) == 0,
                  "rejected: %s", why);
    ck_assert_ptr_null(streamed.changes);
    ck_assert_uint_eq(streamed.nchanges, whole.nchanges);
    ck_assert_int_eq(seen.n, 3);
    for (uint32_t i = 0; i < whole.nchanges; i++) {
        char line[64];
        const ctm__row_change *c = &whole.changes[i];
        snprintf(line, sizeof line, "%s %c %u %lld %lld", c->table, c->op, (unsigned)c->ncols,
                 (long long)c->cols[0].old_value.i, (long long)c->cols[1].new_value.i);
        ck_assert_str_eq(seen.lines[i], line);
    }
    ck_assert_str_eq(streamed.action, whole.action);
    ck_assert_int_eq(streamed.has_esig, whole.has_esig);
    ctm__entry_free(&streamed);
    ctm__entry_free(&whole);

    /* NULL checks only; a refusal stops the decode; the rules hold as in ctm__entry_decode */
    ck_assert_int_eq(ctm__entry_decode_each(&streamed, b.p, b.n, NULL, NULL, why, sizeof why), 0);
    ctm__entry_free(&streamed);
    seen = (struct seen){.stop_at = 1};
    ck_assert_int_eq(ctm__entry_decode_each(&streamed, b.p, b.n, note_change, &seen, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "change 1 (t) was refused"));
    ck_assert_int_eq(seen.n, 1);
    ctm__buf_free(&b);
    const char *const same[2] = {"t", "t"};
    groups_encode(&b, 2, same, rows, names);
    ck_assert_int_eq(ctm__entry_decode_each(&streamed, b.p, b.n, NULL, NULL, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "repeats the table"));
    ctm__buf_free(&b);
}
END_TEST

/* A receipt-sized entry: many rows, one value larger than the decoder's 64 KiB window. */
#define BIG_ROWS 20000
#define BIG_TEXT (150 * 1024)

struct big {
    ctm__entry e;
    ctm__row_change *changes;
    ctm__column_change *cols;
    char (*numbers)[24];
    char *text;
};

static void big_init(struct big *b)
{
    b->changes = calloc(BIG_ROWS, sizeof *b->changes);
    b->cols = calloc(2 * BIG_ROWS, sizeof *b->cols);
    b->numbers = calloc(BIG_ROWS, sizeof *b->numbers);
    b->text = malloc(BIG_TEXT + 1);
    ck_assert(b->changes != NULL && b->cols != NULL && b->numbers != NULL && b->text != NULL);
    memset(b->text, 'x', BIG_TEXT);
    b->text[BIG_TEXT] = '\0';
    for (uint32_t i = 0; i < BIG_ROWS; i++) {
        snprintf(b->numbers[i], sizeof b->numbers[i], "K-%06u", (unsigned)i);
        b->cols[2 * i] = col("id", 1, v_absent(), v_int(i + 1));
        b->cols[2 * i + 1] = col("number", 0, v_absent(),
                                 v_text(i == BIG_ROWS * 3 / 4 ? b->text : b->numbers[i]));
        b->changes[i] = (ctm__row_change){"kits", 'I', 2, &b->cols[2 * i], 0, NULL};
    }
    b->e = (ctm__entry){.version = CTM_ENTRY_VERSION, .seq = 6, .time_us = 1,
                        .user = "anna", .action = "shipment.confirm", .reason = "",
                        .nchanges = BIG_ROWS, .changes = b->changes, .has_esig = 1};
    b->e.esig.user = "anna";
    b->e.esig.printed_name = "Anna";
    b->e.esig.meaning = "receipt confirmed";
    memset(b->e.esig.signature, 0x5A, 64);
}

static void big_free(struct big *b)
{
    free(b->changes);
    free(b->cols);
    free(b->numbers);
    free(b->text);
}

struct compare {
    const ctm__entry *whole;
    uint32_t n;
};

static int compare_change(void *ctx, const ctm__row_change *c)
{
    struct compare *cmp = ctx;
    ck_assert_uint_lt(cmp->n, cmp->whole->nchanges);
    const ctm__row_change *w = &cmp->whole->changes[cmp->n++];
    ck_assert_str_eq(c->table, w->table);
    ck_assert_int_eq(c->op, w->op);
    ck_assert_uint_eq(c->ncols, w->ncols);
    for (uint32_t k = 0; k < c->ncols; k++) {
        ck_assert_str_eq(c->cols[k].name, w->cols[k].name);
        ck_assert(ctm__value_equal(&c->cols[k].new_value, &w->cols[k].new_value));
    }
    return 0;
}

START_TEST(test_decode_stream_reads_each_byte_once)
{
    struct big big;
    ctm__buf b;
    ctm__entry whole, streamed;
    char why[128] = "";
    big_init(&big);
    encode_ok(&big.e, &b);
    ck_assert_uint_gt(b.n, 4 * BIG_TEXT / 3);
    ck_assert_int_eq(ctm__entry_decode(&whole, b.p, b.n, why, sizeof why), 0);

    struct source src = {.p = b.p, .n = b.n};
    struct compare cmp = {&whole, 0};
    ck_assert_msg(ctm__entry_decode_stream(&streamed, b.n, source_fill, &src, compare_change, &cmp,
                                           why, sizeof why) == 0,
                  "rejected: %s", why);
    /* every byte read once, in order, in several reads; every change as the whole decode has it */
    ck_assert_uint_eq(src.served, b.n);
    ck_assert_int_gt(src.reads, 2);
    ck_assert_uint_eq(cmp.n, BIG_ROWS);
    ck_assert_uint_eq(streamed.nchanges, BIG_ROWS);
    ck_assert_str_eq(streamed.action, "shipment.confirm");
    ck_assert_str_eq(streamed.esig.meaning, "receipt confirmed");
    ck_assert_mem_eq(streamed.esig.signature, whole.esig.signature, 64);
    ck_assert_mem_eq(streamed.salt, whole.salt, CTM_ENTRY_SALT_LEN);
    ctm__entry_free(&streamed);
    ctm__entry_free(&whole);

    /* a cut anywhere is refused, as from memory */
    for (size_t k = 0; k < b.n; k += 4099) {
        ck_assert_int_eq(decode_stream(b.p, k, &src, NULL, NULL, why, sizeof why), -1);
        ck_assert_int_eq(decode_copy(b.p, k, NULL, 0), -1);
    }
    /* a read that fails names the byte and stops the decode */
    src.fail_at = 200000;
    ck_assert_int_eq(decode_stream(b.p, b.n, &src, NULL, NULL, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "cannot be read at byte") != NULL, "reason: %s", why);
    ck_assert_uint_lt(src.served, 200000);
    ctm__buf_free(&b);
    big_free(&big);
}
END_TEST

START_TEST(test_encode_groups_runs)
{
    /* consecutive changes to one table form one group; an insert must carry every column of it */
    ctm__column_change i1[2] = {col("id", 1, v_absent(), v_int(1)), col("a", 0, v_absent(), v_int(5))};
    ctm__column_change u1[2] = {col("id", 1, v_int(1), v_int(1)), col("a", 0, v_int(5), v_int(6))};
    ctm__column_change u2[2] = {col("id", 1, v_int(1), v_int(1)), col("z", 0, v_int(5), v_int(6))};
    ctm__row_change ok[2] = {{"t", 'I', 2, i1, 0, NULL}, {"t", 'U', 2, u1, 0, NULL}};
    ctm__row_change bad[2] = {{"t", 'I', 2, i1, 0, NULL}, {"t", 'U', 2, u2, 0, NULL}};
    ctm__entry e = {.user = "u", .action = "a", .reason = "", .nchanges = 2, .changes = ok};
    round_trip(&e);
    ctm__buf b;
    ctm__buf_init(&b);
    e.changes = bad; /* the update's column z makes the insert miss a column of the group */
    ck_assert_int_eq(ctm__entry_encode(&b, &e), -1);
    ck_assert_uint_eq(b.n, 0);
    ctm__buf_free(&b);
}
END_TEST

START_TEST(test_failed_decode_leaves_zeroed_entry)
{
    uint8_t p[SMALL_LEN];
    ctm__entry e;
    small_bytes(p);
    p[0] = 9;
    ck_assert_int_eq(ctm__entry_decode(&e, p, SMALL_LEN, NULL, 0), -1);
    ck_assert_ptr_null(e.arena_);
    ctm__entry_free(&e);
    ck_assert_int_eq(ctm__entry_decode(&e, NULL, 0, NULL, 0), -1);
}
END_TEST

/* ---- digests ---- */

static void digest_hex(const ctm__value *v, char out[65])
{
    uint8_t d[32];
    ctm__value_digest(v, d);
    sodium_bin2hex(out, 65, d, 32);
}

START_TEST(test_digest)
{
    char a[65], b[65];
    ctm__value one = v_int(1), text_one = v_text("1");
    ctm__buf enc;

    digest_hex(&one, a);
    digest_hex(&one, b);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(a, "da4d3da1daaceba9b72635459fd6a17da13e7530d53a4932535e6dc1d49bde3d");
    digest_hex(&text_one, b);
    ck_assert_str_eq(b, "f788b8de25f8292f2a121749ea9e5f1786fa2144ec81425ae2232ec982f36982");
    ck_assert_str_ne(a, b);

    /* The digest covers exactly the canonical encoding ctm__buf_value writes. */
    uint8_t want[32], got[32];
    ctm__value blob = v_bytes(CTM_V_BLOB, "\x00\x01\x02", 3);
    ctm__buf_init(&enc);
    ctm__buf_value(&enc, &blob);
    crypto_hash_sha256(want, enc.p, enc.n);
    ctm__value_digest(&blob, got);
    ck_assert_mem_eq(want, got, 32);
    ctm__buf_free(&enc);
}
END_TEST

/* ---- JSON ---- */

static int redact_secrets(const char *table, const char *column, void *ctx)
{
    (void)ctx;
    return strcmp(column, "secret") == 0 || (strcmp(table, "kits") == 0 && strcmp(column, "code") == 0);
}

/* Renders through a real encode/decode so the JSON is that of a decoded entry. */
static void json_of(const ctm__entry *e, char **params, char **changes,
                    int (*redact)(const char *, const char *, void *))
{
    ctm__buf b;
    ctm__entry d;
    encode_ok(e, &b);
    ck_assert_int_eq(ctm__entry_decode(&d, b.p, b.n, NULL, 0), 0);
    *params = ctm__entry_params_json(&d);
    *changes = ctm__entry_changes_json(&d, redact, NULL);
    ck_assert_ptr_nonnull(*params);
    ck_assert_ptr_nonnull(*changes);
    ctm__entry_free(&d);
    ctm__buf_free(&b);
}

START_TEST(test_json_escaping)
{
    ctm__param p[3] = {{"k", "v"}, {"q\"\\\n\x01\x1f", "\xc3\xa9\t/"}, {"", ""}};
    ctm__entry e = {.user = "u", .action = "a", .reason = "", .nparams = 3, .params = p};
    char *params, *changes;

    json_of(&e, &params, &changes, NULL);
    ck_assert_str_eq(params, "{\"k\":\"v\",\"q\\\"\\\\\\u000a\\u0001\\u001f\":\"\xc3\xa9\\u0009/\",\"\":\"\"}");
    ck_assert_str_eq(changes, "[]");
    free(params);
    free(changes);
}
END_TEST

START_TEST(test_json_changes_and_redaction)
{
    uint8_t blob[2] = {0xde, 0xad}, dig[32];
    for (int i = 0; i < 32; i++)
        dig[i] = (uint8_t)i;
    ctm__column_change ins[3] = {col("id", 1, v_absent(), v_int(3)),
                                 col("name", 0, v_absent(), v_text("anna")),
                                 col("secret", 0, v_absent(), v_text("x"))};
    ctm__column_change upd[4] = {col("id", 1, v_int(INT64_MIN), v_int(INT64_MIN)),
                                 col("name", 0, v_text("a\"b"), v_text("b\x7f")),
                                 col("n", 0, v_real(1.5), v_real(NAN)),
                                 col("m", 0, v_real(-0.1), v_real(-INFINITY))};
    ctm__column_change del[4] = {col("code", 1, v_text("K\"1"), v_absent()),
                                 col("blob", 0, v_bytes(CTM_V_BLOB, blob, 2), v_absent()),
                                 col("dig", 0, v_bytes(CTM_V_DIGEST, dig, 0), v_absent()),
                                 col("nul", 0, v_null(), v_absent())};
    ctm__row_change ch[3] = {{"users", 'I', 3, ins, 0, NULL}, {"people", 'U', 4, upd, 0, NULL}, {"kits", 'D', 4, del, 0, NULL}};
    ctm__entry e = {.user = "u", .action = "a", .reason = "", .nchanges = 3, .changes = ch};
    char *params, *changes;

    json_of(&e, &params, &changes, redact_secrets);
    ck_assert_str_eq(params, "{}");
    ck_assert_str_eq(changes,
        "[{\"table\":\"users\",\"op\":\"insert\",\"key\":{\"id\":3},"
        "\"columns\":{\"name\":[null,\"anna\"],\"secret\":[\"(blinded)\",\"(blinded)\"]}},"
        "{\"table\":\"people\",\"op\":\"update\",\"key\":{\"id\":-9223372036854775808},"
        "\"columns\":{\"name\":[\"a\\\"b\",\"b\x7f\"],\"n\":[1.5,\"NaN\"],"
        "\"m\":[-0.10000000000000001,\"-Infinity\"]}},"
        "{\"table\":\"kits\",\"op\":\"delete\",\"key\":{\"code\":\"(blinded)\"},"
        "\"columns\":{\"blob\":[\"hex:dead\",null],"
        "\"dig\":[\"sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",null],"
        "\"nul\":[null,null]}}]");
    free(params);
    free(changes);

    json_of(&e, &params, &changes, NULL);
    ck_assert_ptr_nonnull(strstr(changes, "\"key\":{\"code\":\"K\\\"1\"}"));
    ck_assert_ptr_nonnull(strstr(changes, "\"secret\":[null,\"x\"]"));
    free(params);
    free(changes);
}
END_TEST

static Suite *entry_suite(void)
{
    Suite *s = suite_create("entry");
    TCase *tc;

    tc = tcase_create("round_trip");
    tcase_add_test(tc, test_round_trip_every_type_and_op);
    tcase_add_test(tc, test_round_trip_with_esig);
    tcase_add_test(tc, test_round_trip_empty);
    tcase_add_test(tc, test_round_trip_legacy_version);
    tcase_add_test(tc, test_free_zeroed_and_twice);
    suite_add_tcase(s, tc);

    tc = tcase_create("encoding");
    tcase_add_test(tc, test_exact_bytes);
    tcase_add_test(tc, test_encode_appends);
    tcase_add_test(tc, test_encode_rejects_undecodable);
    tcase_add_test(tc, test_encode_groups_runs);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict_decoding");
    tcase_add_test(tc, test_reject_every_truncation);
    tcase_add_test(tc, test_reject_trailing_byte);
    tcase_add_test(tc, test_reject_bad_version);
    tcase_add_test(tc, test_reject_version_swapped);
    tcase_add_test(tc, test_reject_bad_tags);
    tcase_add_test(tc, test_reject_bad_int);
    tcase_add_test(tc, test_reject_bad_op);
    tcase_add_test(tc, test_reject_bad_flags);
    tcase_add_test(tc, test_reject_invalid_utf8);
    tcase_add_test(tc, test_reject_nul);
    tcase_add_test(tc, test_reject_huge_counts);
    tcase_add_test(tc, test_reject_value_rules);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_decode_each_streams_what_decode_keeps);
    tcase_add_test(tc, test_decode_stream_reads_each_byte_once);
    tcase_add_test(tc, test_failed_decode_leaves_zeroed_entry);
    suite_add_tcase(s, tc);

    tc = tcase_create("digest");
    tcase_add_test(tc, test_digest);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_json_changes_and_redaction);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(entry_suite());
}
