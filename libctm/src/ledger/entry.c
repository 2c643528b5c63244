/* entry.c - canonical byte encoding of ledger entries, its strict decoder and JSON listings. */
#include "entry.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blinding.h"

_Static_assert(sizeof(double) == 8, "REAL values are IEEE 754 binary64");

/* Smallest possible encodings: a count larger than the remaining input divided by these cannot be
 * genuine, so it is rejected before anything is allocated for it. */
#define MIN_PARAM_LEN 8u   /* two empty strings */
#define MIN_COLUMN_LEN 5u  /* empty name, is_pk */
#define MIN_GROUP_LEN 19u  /* empty table, ncols, one column, nrows, one row (op, one tag) */

#define DIGEST_LEN 32u
#define ESIG_KEY_LEN 32u
#define ESIG_SIG_LEN 64u
#define ARENA_BLOCK 4096u
#define VALUE_HEAD_MAX 10u /* tag + length + 8 bytes */

/* ---- UTF-8 ---- */

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if ill-formed: overlong forms,
 * surrogates and code points above U+10FFFF are ill-formed (RFC 3629). */
static size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    /* The second byte carries the overlong, surrogate and range limits. */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Offset of the first ill-formed sequence or NUL in p, or SIZE_MAX if there is none. */
/* Non-zero when one of the eight bytes is non-ASCII or NUL. */
static int word_not_plain_ascii(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return ((w | ((w - 0x0101010101010101ull) & ~w)) & 0x8080808080808080ull) != 0;
}

static size_t utf8_find_bad(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Names and notes are mostly ASCII: skip it eight bytes at a time. */
        while (i + 8 <= n && !word_not_plain_ascii(p + i))
            i += 8;
        /* and short names a byte at a time: printable ASCII and controls other than NUL */
        while (i < n && (uint8_t)(p[i] - 1) < 0x7f)
            i++;
        if (i >= n)
            break;
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0 || p[i] == 0)
            return i;
        i += k;
    }
    return SIZE_MAX;
}

static int str_encodable(const char *s)
{
    if (s == NULL)
        return 0;
    size_t len = strlen(s);
    return (uint64_t)len <= UINT32_MAX && utf8_find_bad((const uint8_t *)s, len) == SIZE_MAX;
}

/* ---- values ---- */

static uint64_t load_be(const uint8_t *p, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

static void store_be(uint8_t *p, uint64_t v, size_t k)
{
    for (size_t i = k; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

/* Conversions that do not rely on implementation-defined signed overflow. */
static int64_t i64_from_bits(uint64_t u)
{
    return u <= INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

static uint64_t real_bits(double r)
{
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    return u;
}

/* Bytes of the shortest big-endian two's complement form of v (1..8). */
static size_t int_len(int64_t v)
{
    size_t n = 1;
    while (n < 8 && (v < -((int64_t)1 << (8 * n - 1)) || v >= ((int64_t)1 << (8 * n - 1))))
        n++;
    return n;
}

/*
 * Split a value's encoding into a fixed head (tag + fixed payload or length) and a body of borrowed
 * bytes, so that the digest can stream large blobs without copying them.  Returns the head length,
 * or 0 if v cannot be encoded (unknown tag, missing bytes).
 */
static size_t value_head(const ctm__value *v, uint8_t head[VALUE_HEAD_MAX], const uint8_t **body,
                         size_t *body_n)
{
    *body = NULL;
    *body_n = 0;
    head[0] = (uint8_t)v->tag;
    switch (v->tag) {
    case CTM_V_ABSENT:
    case CTM_V_NULL:
        return 1;
    case CTM_V_INT: {
        size_t n = int_len(v->i);
        head[1] = (uint8_t)n;
        store_be(head + 2, (uint64_t)v->i, n);
        return 2 + n;
    }
    case CTM_V_REAL:
        store_be(head + 1, real_bits(v->r), 8);
        return 9;
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        if (v->p == NULL && v->n > 0)
            return 0;
        store_be(head + 1, v->n, 4);
        *body = v->p;
        *body_n = v->n;
        return 5;
    case CTM_V_DIGEST:
        if (v->p == NULL)
            return 0;
        *body = v->p;
        *body_n = DIGEST_LEN;
        return 1;
    default:
        return 0;
    }
}

/* Equality of canonical encodings: REAL compares bits, so -0.0 differs from 0.0 and NaN equals itself. */
int ctm__value_equal(const ctm__value *a, const ctm__value *b)
{
    if (a->tag != b->tag)
        return 0;
    switch (a->tag) {
    case CTM_V_INT:
        return a->i == b->i;
    case CTM_V_REAL:
        return real_bits(a->r) == real_bits(b->r);
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
    case CTM_V_DIGEST:
        return memcmp(a->p, b->p, DIGEST_LEN) == 0;
    default:
        return 1;
    }
}

void ctm__value_digest(const ctm__value *v, uint8_t out[32])
{
    uint8_t head[VALUE_HEAD_MAX];
    const uint8_t *body;
    size_t body_n;
    size_t head_n = value_head(v, head, &body, &body_n);
    crypto_hash_sha256_state st;

    /* An unencodable value has no canonical encoding to hash; all zeros cannot collide with a real digest
     * in practice and is easy to spot. */
    if (head_n == 0) {
        memset(out, 0, 32);
        return;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, head, head_n);
    if (body_n > 0)
        crypto_hash_sha256_update(&st, body, body_n);
    crypto_hash_sha256_final(&st, out);
}

/* The value rules of a row change, shared by the encoder and the decoder so that the ledger can never
 * write an entry it would refuse to read.  Returns NULL or the problem, with the column in *col. */
static const char *change_problem(const ctm__row_change *c, uint32_t *col)
{
    int has_pk = 0, changed = 0;

    *col = 0;
    if (c->op != 'I' && c->op != 'U' && c->op != 'D')
        return "unknown op";
    for (uint32_t i = 0; i < c->ncols; i++) {
        const ctm__column_change *cc = &c->cols[i];
        int has_old = cc->old_value.tag != CTM_V_ABSENT;
        int has_new = cc->new_value.tag != CTM_V_ABSENT;
        *col = i;
        if (c->op == 'I' && (has_old || !has_new))
            return "insert needs an absent old value and a present new value";
        if (c->op == 'D' && (!has_old || has_new))
            return "delete needs a present old value and an absent new value";
        if (c->op == 'U' && (!has_old || !has_new))
            return "update needs both old and new values";
        if (cc->is_pk && c->op == 'U' && !ctm__value_equal(&cc->old_value, &cc->new_value))
            return "update changes a primary key column";
        /* An update lists only what it changed: one value written unchanged, or an update that
         * changes nothing, was not written by libctm. */
        if (!cc->is_pk && c->op == 'U' && ctm__value_equal(&cc->old_value, &cc->new_value))
            return "update leaves a non-key column unchanged";
        has_pk |= cc->is_pk != 0;
        changed |= !cc->is_pk;
    }
    *col = 0;
    if (!has_pk)
        return "no primary key column";
    return c->op == 'U' && !changed ? "update changes nothing" : NULL;
}

/* ---- buffer ---- */

void ctm__buf_init(ctm__buf *b)
{
    memset(b, 0, sizeof *b);
}

void ctm__buf_free(ctm__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int buf_reserve(ctm__buf *b, size_t extra)
{
    if (b->cap - b->n >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->n) {
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap > 0 ? b->cap : 64;
    while (cap - b->n < extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ctm__buf_put(ctm__buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0 || buf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

void ctm__csv_cell(ctm__buf *b, const char *s, int is_text)
{
    if (s == NULL)
        return;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        ctm__buf_u8(b, '"');
    if (is_text && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
        ctm__buf_u8(b, '\'');
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            ctm__buf_u8(b, '"');
        ctm__buf_u8(b, (uint8_t)*c);
    }
    if (quote)
        ctm__buf_u8(b, '"');
}

void ctm__buf_u8(ctm__buf *b, uint8_t v)
{
    ctm__buf_put(b, &v, 1);
}

void ctm__buf_u32(ctm__buf *b, uint32_t v)
{
    uint8_t t[4];
    store_be(t, v, 4);
    ctm__buf_put(b, t, 4);
}

void ctm__buf_u64(ctm__buf *b, uint64_t v)
{
    uint8_t t[8];
    store_be(t, v, 8);
    ctm__buf_put(b, t, 8);
}

void ctm__buf_str(ctm__buf *b, const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    /* A half-written field would shift everything after it: poison the buffer instead. */
    if (s == NULL || (uint64_t)len > UINT32_MAX) {
        b->oom = 1;
        return;
    }
    ctm__buf_u32(b, (uint32_t)len);
    ctm__buf_put(b, s, len);
}

void ctm__buf_value(ctm__buf *b, const ctm__value *v)
{
    uint8_t head[VALUE_HEAD_MAX];
    const uint8_t *body;
    size_t body_n;
    size_t head_n = value_head(v, head, &body, &body_n);

    if (head_n == 0) {
        b->oom = 1;
        return;
    }
    ctm__buf_put(b, head, head_n);
    ctm__buf_put(b, body, body_n);
}

/* ---- encoder ---- */

void ctm__changes_init(ctm__changes *c)
{
    memset(c, 0, sizeof *c);
}

void ctm__changes_free(ctm__changes *c)
{
    ctm__buf_free(&c->buf);
    memset(c, 0, sizeof *c);
}

__attribute__((format(printf, 2, 3))) static int changes_fail(ctm__changes *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->bad = 1;
    return -1;
}

int ctm__group_head(ctm__buf *out, const char *table, const ctm__column_def *cols, uint32_t ncols)
{
    int has_pk = 0;

    if (!str_encodable(table) || ncols == 0 || cols == NULL)
        return -1;
    for (uint32_t k = 0; k < ncols; k++) {
        if (!str_encodable(cols[k].name))
            return -1;
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(cols[j].name, cols[k].name) == 0)
                return -1;
        has_pk |= cols[k].is_pk != 0;
    }
    if (!has_pk)
        return -1;
    ctm__buf_str(out, table);
    ctm__buf_u32(out, ncols);
    for (uint32_t k = 0; k < ncols; k++) {
        ctm__buf_str(out, cols[k].name);
        ctm__buf_u8(out, cols[k].is_pk ? 1 : 0);
    }
    return out->oom ? -1 : 0;
}

/* Stores the open group's row count in its head. */
static void close_group(const ctm__changes *c, uint8_t *base)
{
    if (c->group != NULL)
        store_be(base + c->rows_at, c->group_rows, 4);
}

void ctm__changes_group(ctm__changes *c, const void *key, const char *table, const uint8_t *head,
                        size_t head_n)
{
    if (c->group == key || c->bad)
        return;
    if (c->group != NULL) {
        /* the decoder refuses an empty group and two groups of one table in a row */
        if (c->group_rows == 0 || strcmp(c->group_table, table) == 0) {
            changes_fail(c, "table %s: a change group %s", table,
                         c->group_rows == 0 ? "without rows" : "repeats the table before it");
            return;
        }
        if (!c->buf.oom)
            close_group(c, c->buf.p);
    }
    ctm__buf_put(&c->buf, head, head_n);
    c->rows_at = c->buf.n;
    ctm__buf_u32(&c->buf, 0);
    c->group = key;
    c->group_table = table;
    c->group_rows = 0;
    c->ngroups++;
}

/* Room for n more bytes at the end of b (NULL once b is out of memory). */
static uint8_t *buf_room(ctm__buf *b, size_t n)
{
    if (b->oom || buf_reserve(b, n) != 0)
        return NULL;
    return b->p + b->n;
}

/* Most bytes one value can take in a row, as itself or as its digest. */
static size_t value_max(const ctm__value *v)
{
    size_t n = (v->tag == CTM_V_TEXT || v->tag == CTM_V_BLOB) ? 5 + (size_t)v->n : 0;
    return n > 1 + DIGEST_LEN ? n : 1 + DIGEST_LEN;
}

/* Writes v (or its digest) at p; NULL if v has no canonical encoding (unknown tag, missing bytes,
 * TEXT that is not UTF-8 or holds a NUL).  Written out per tag: this is the receipt's inner loop. */
static uint8_t *put_value_at(uint8_t *p, const ctm__value *v, int digest)
{
    if (digest && v->tag != CTM_V_ABSENT) {
        uint8_t head[VALUE_HEAD_MAX];
        const uint8_t *body;
        size_t body_n;
        if (value_head(v, head, &body, &body_n) == 0)
            return NULL;
        *p++ = CTM_V_DIGEST;
        ctm__value_digest(v, p);
        return p + DIGEST_LEN;
    }
    switch (v->tag) {
    case CTM_V_ABSENT:
    case CTM_V_NULL:
        *p = (uint8_t)v->tag;
        return p + 1;
    case CTM_V_INT: {
        size_t n = int_len(v->i);
        p[0] = CTM_V_INT;
        p[1] = (uint8_t)n;
        store_be(p + 2, (uint64_t)v->i, n);
        return p + 2 + n;
    }
    case CTM_V_REAL:
        p[0] = CTM_V_REAL;
        store_be(p + 1, real_bits(v->r), 8);
        return p + 9;
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        if (v->p == NULL && v->n > 0)
            return NULL;
        if (v->tag == CTM_V_TEXT && utf8_find_bad(v->p, v->n) != SIZE_MAX)
            return NULL;
        p[0] = (uint8_t)v->tag;
        store_be(p + 1, v->n, 4);
        if (v->n > 0)
            memcpy(p + 5, v->p, v->n);
        return p + 5 + v->n;
    case CTM_V_DIGEST:
        if (v->p == NULL)
            return NULL;
        p[0] = CTM_V_DIGEST;
        memcpy(p + 1, v->p, DIGEST_LEN);
        return p + 1 + DIGEST_LEN;
    default:
        return NULL;
    }
}

int ctm__changes_row(ctm__changes *c, char op, const ctm__column_def *cols, uint32_t ncols,
                     const ctm__value *olds, const ctm__value *news, int secret)
{
    if (c->bad)
        return -1;
    if (c->group == NULL || (op != 'I' && op != 'U' && op != 'D'))
        return changes_fail(c, "a row change %s", c->group == NULL ? "outside a group" : "of unknown op");
    size_t max = 1;
    for (uint32_t k = 0; k < ncols; k++)
        max += (op != 'I' ? value_max(&olds[k]) : 0) + (op != 'D' ? value_max(&news[k]) : 0);
    uint8_t *p = buf_room(&c->buf, max), *start = p;
    if (p == NULL)
        return -1;
    *p++ = (uint8_t)op;
    for (uint32_t k = 0; k < ncols; k++) {
        const ctm__value *o = op != 'I' ? &olds[k] : NULL, *n = op != 'D' ? &news[k] : NULL;
        int pk = cols[k].is_pk != 0;
        const char *problem = NULL;
        if ((o != NULL && o->tag == CTM_V_ABSENT) != (n != NULL && n->tag == CTM_V_ABSENT) && op == 'U')
            problem = "update needs both old and new values or neither";
        else if ((op == 'I' && n->tag == CTM_V_ABSENT) || (op == 'D' && o->tag == CTM_V_ABSENT) ||
                 (op == 'U' && pk && o->tag == CTM_V_ABSENT))
            problem = "a value is missing";
        else if (op == 'U' && pk && !ctm__value_equal(o, n))
            problem = "update changes a primary key column";
        else if ((o != NULL && (p = put_value_at(p, o, secret && !pk)) == NULL) ||
                 (n != NULL && (p = put_value_at(p, n, secret && !pk)) == NULL))
            problem = "a value has no canonical encoding (unknown type, or text that is not UTF-8 "
                      "or holds a NUL)";
        if (problem != NULL)
            return changes_fail(c, "table %s, column %s: %s", c->group_table, cols[k].name, problem);
    }
    c->buf.n += (size_t)(p - start);
    c->group_rows++;
    c->nrows++;
    return 0;
}

static int header_encodable(const ctm__entry *h)
{
    if (!str_encodable(h->user) || !str_encodable(h->action) || !str_encodable(h->reason))
        return 0;
    if (h->nparams > 0 && h->params == NULL)
        return 0;
    for (uint32_t i = 0; i < h->nparams; i++)
        if (!str_encodable(h->params[i].key) || !str_encodable(h->params[i].value))
            return 0;
    return !h->has_esig || (str_encodable(h->esig.user) && str_encodable(h->esig.printed_name) &&
                            str_encodable(h->esig.meaning));
}

int ctm__entry_write(ctm__buf *out, const ctm__entry *h, const ctm__changes *ch, size_t *start)
{
    uint8_t version = h->version != 0 ? h->version : CTM_ENTRY_VERSION;

    if ((version != CTM_ENTRY_VERSION && version != CTM_ENTRY_VERSION_LEGACY) ||
        !header_encodable(h))
        return -1;
    if (ch != NULL && (ch->bad || ch->buf.oom || (ch->group != NULL && ch->group_rows == 0)))
        return -1;
    size_t at = out->n;
    ctm__buf_u8(out, version);
    ctm__buf_u64(out, h->seq);
    ctm__buf_u64(out, (uint64_t)h->time_us);
    if (version >= 2)
        ctm__buf_put(out, h->salt, CTM_ENTRY_SALT_LEN);
    ctm__buf_str(out, h->user);
    ctm__buf_str(out, h->action);
    ctm__buf_str(out, h->reason);
    ctm__buf_u32(out, h->nparams);
    for (uint32_t i = 0; i < h->nparams; i++) {
        ctm__buf_str(out, h->params[i].key);
        ctm__buf_str(out, h->params[i].value);
    }
    ctm__buf_u32(out, ch != NULL ? ch->ngroups : 0);
    if (ch != NULL && ch->buf.n > 0) {
        size_t base = out->n;
        ctm__buf_put(out, ch->buf.p, ch->buf.n);
        if (!out->oom)
            close_group(ch, out->p + base);
    }
    ctm__buf_u8(out, h->has_esig ? 1 : 0);
    if (h->has_esig) {
        ctm__buf_str(out, h->esig.user);
        ctm__buf_str(out, h->esig.printed_name);
        ctm__buf_str(out, h->esig.meaning);
        ctm__buf_put(out, h->esig.public_key, ESIG_KEY_LEN);
    }
    if (out->oom)
        return -1;
    *start = at;
    return 0;
}

/* The column list of the run of changes [start, end): the group's own when the decoder set it,
 * else the union of the run's columns in order of first appearance.  *owned is set when the list
 * was allocated here.  Returns the count, or 0 if the run cannot be one group. */
static uint32_t run_columns(const ctm__row_change *ch, uint32_t start, uint32_t end,
                            const ctm__column_def **cols, ctm__column_def **owned)
{
    *owned = NULL;
    if (ch[start].group_cols != NULL) {
        for (uint32_t i = start + 1; i < end; i++)
            if (ch[i].group_cols != ch[start].group_cols || ch[i].ngroup_cols != ch[start].ngroup_cols)
                return 0;
        *cols = ch[start].group_cols;
        return ch[start].ngroup_cols;
    }
    size_t total = 0;
    for (uint32_t i = start; i < end; i++)
        total += ch[i].ncols;
    if (total == 0)
        return 0;
    ctm__column_def *list = malloc(total * sizeof *list);
    if (list == NULL)
        return 0;
    uint32_t n = 0;
    for (uint32_t i = start; i < end; i++)
        for (uint32_t c = 0; c < ch[i].ncols; c++) {
            uint32_t k = 0;
            while (k < n && strcmp(list[k].name, ch[i].cols[c].name) != 0)
                k++;
            if (k == n)
                list[n++] = (ctm__column_def){ch[i].cols[c].name, ch[i].cols[c].is_pk != 0};
        }
    *cols = list;
    *owned = list;
    return n;
}

/* Lays one change out over its group's columns (olds/news hold n values each).  Returns -1 if
 * the change does not fit the group (unknown, repeated or missing column, is_pk differs). */
static int spread_change(const ctm__row_change *c, const ctm__column_def *cols, uint32_t n,
                         ctm__value *olds, ctm__value *news)
{
    uint32_t used = 0;
    for (uint32_t k = 0; k < n; k++) {
        const ctm__column_change *found = NULL;
        for (uint32_t i = 0; i < c->ncols; i++)
            if (c->cols[i].name != NULL && strcmp(c->cols[i].name, cols[k].name) == 0) {
                if (found != NULL)
                    return -1;
                found = &c->cols[i];
            }
        olds[k] = news[k] = (ctm__value){.tag = CTM_V_ABSENT};
        if (found == NULL) {
            /* only an update leaves out a column, and never a key column */
            if (c->op != 'U' || cols[k].is_pk)
                return -1;
            continue;
        }
        if ((found->is_pk != 0) != (cols[k].is_pk != 0))
            return -1;
        used++;
        olds[k] = found->old_value;
        news[k] = found->new_value;
    }
    return used == c->ncols ? 0 : -1;
}

/* Feeds the entry's changes, run by run of one table, through the streaming writer. */
static int changes_from_list(ctm__changes *out, const ctm__entry *e)
{
    uint32_t start = 0;
    int rc = 0;
    while (rc == 0 && start < e->nchanges) {
        const ctm__row_change *first = &e->changes[start];
        uint32_t end = start + 1, col;
        while (end < e->nchanges && strcmp(e->changes[end].table, first->table) == 0)
            end++;
        const ctm__column_def *cols = NULL;
        ctm__column_def *owned = NULL;
        uint32_t n = run_columns(e->changes, start, end, &cols, &owned);
        ctm__value *vals = n > 0 ? malloc(2 * (size_t)n * sizeof *vals) : NULL;
        ctm__buf head;
        ctm__buf_init(&head);
        rc = vals != NULL && ctm__group_head(&head, first->table, cols, n) == 0 ? 0 : -1;
        if (rc == 0)
            ctm__changes_group(out, first, first->table, head.p, head.n);
        for (uint32_t i = start; rc == 0 && i < end; i++) {
            const ctm__row_change *c = &e->changes[i];
            /* an insert's old values and a delete's new ones are not written: they must be absent */
            if (change_problem(c, &col) != NULL || spread_change(c, cols, n, vals, vals + n) != 0 ||
                ctm__changes_row(out, c->op, cols, n, vals, vals + n, 0) != 0)
                rc = -1;
        }
        ctm__buf_free(&head);
        free(vals);
        free(owned);
        start = end;
    }
    return rc;
}

int ctm__entry_encode(ctm__buf *out, const ctm__entry *e)
{
    ctm__changes ch;
    size_t at = out->n, start = 0;

    if ((e->nchanges > 0 && e->changes == NULL))
        return -1;
    for (uint32_t i = 0; i < e->nchanges; i++)
        if (!str_encodable(e->changes[i].table) ||
            (e->changes[i].ncols > 0 && e->changes[i].cols == NULL))
            return -1;
    ctm__changes_init(&ch);
    int rc = changes_from_list(&ch, e);
    if (rc == 0)
        rc = ctm__entry_write(out, e, &ch, &start);
    if (rc == 0 && e->has_esig)
        ctm__buf_put(out, e->esig.signature, ESIG_SIG_LEN);
    ctm__changes_free(&ch);
    if (rc != 0 || out->oom) {
        if (!out->oom)
            out->n = at;
        return -1;
    }
    return 0;
}

size_t ctm__entry_signed_len(size_t len)
{
    return len >= ESIG_SIG_LEN ? len - ESIG_SIG_LEN : 0;
}

/* ---- decode arena ---- */

struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    max_align_t data[];
};

static void arena_free(struct arena_block *a)
{
    while (a != NULL) {
        struct arena_block *next = a->next;
        free(a);
        a = next;
    }
}

static void *arena_alloc(struct arena_block **head, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    struct arena_block *b = *head;

    if (size > SIZE_MAX - sizeof *b - align)
        return NULL;
    size = (size + align - 1) / align * align;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = *head;
        *head = b;
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += size;
    return p;
}

/* A point in the arena to return to: the memory of one streamed row change is reused for the
 * next (ctm__entry_decode_each). */
struct arena_mark {
    struct arena_block *head;
    size_t used;
};

static struct arena_mark arena_mark(struct arena_block *head)
{
    return (struct arena_mark){head, head != NULL ? head->used : 0};
}

static void arena_rewind(struct arena_block **head, struct arena_mark m)
{
    while (*head != m.head) {
        struct arena_block *next = (*head)->next;
        free(*head);
        *head = next;
    }
    if (*head != NULL)
        (*head)->used = m.used;
}

/* ---- decoder ---- */

struct reader {
    /* The bytes from offset base to base + wlen; off counts from the entry's first byte.  Decoding
     * from memory has the whole entry in the window; a stream (ctm__entry_decode_stream) slides
     * the window along the entry, refilled by fill(), so only the bytes of the field being read
     * need to be held at once. */
    const uint8_t *p;
    size_t n, off, base, wlen;
    int (*fill)(void *ctx, uint8_t *buf, size_t n, size_t offset);
    void *fill_ctx;
    uint8_t *win;
    size_t cap;
    struct arena_block *arena;
    /* streaming (ctm__entry_decode_each): row changes go to each() and are not kept */
    int stream;
    int (*each)(void *ctx, const ctm__row_change *c);
    void *each_ctx;
    const char *last_table;  /* the table of the group read last */
    char *why;
    size_t why_len;
};

__attribute__((format(printf, 2, 3))) static void explain(struct reader *r, const char *fmt, ...)
{
    if (r->why != NULL && r->why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, r->why_len, fmt, ap);
        va_end(ap);
    }
}

/* A macro so that static analyzers, which do not follow variadic calls, see every failure yield -1. */
#define FAIL(r, ...) (explain((r), __VA_ARGS__), -1)

static size_t remaining(const struct reader *r)
{
    return r->n - r->off;
}

/* The bytes at the read position (valid up to the next rd_need). */
#define HERE(r) ((r)->p + ((r)->off - (r)->base))

#define STREAM_CHUNK ((size_t)64 * 1024)

/* Slides the window to the read position and fills it with at least k bytes. */
static int rd_refill(struct reader *r, size_t k)
{
    size_t keep = r->base + r->wlen - r->off;
    size_t cap = r->cap;
    if (cap < k || cap < STREAM_CHUNK) {
        cap = k > STREAM_CHUNK ? k : STREAM_CHUNK;
        uint8_t *grown = malloc(cap);
        if (grown == NULL)
            return FAIL(r, "out of memory");
        if (keep > 0)
            memcpy(grown, HERE(r), keep);
        free(r->win);
        r->win = grown;
        r->cap = cap;
    } else if (keep > 0) {
        memmove(r->win, HERE(r), keep);
    }
    r->p = r->win;
    r->base = r->off;
    r->wlen = keep;
    size_t more = r->n - (r->base + keep);
    if (more > cap - keep)
        more = cap - keep;
    if (more > 0 && r->fill(r->fill_ctx, r->win + keep, more, r->base + keep) != 0)
        return FAIL(r, "cannot be read at byte %zu", r->base + keep);
    r->wlen = keep + more;
    return 0;
}

static int rd_need(struct reader *r, size_t k)
{
    if (remaining(r) < k)
        return FAIL(r, "truncated at byte %zu", r->off);
    if (r->off + k > r->base + r->wlen)
        return r->fill != NULL ? rd_refill(r, k) : FAIL(r, "truncated at byte %zu", r->off);
    return 0;
}

static int rd_uint(struct reader *r, size_t k, uint64_t *v)
{
    if (rd_need(r, k) != 0)
        return -1;
    *v = load_be(HERE(r), k);
    r->off += k;
    return 0;
}

static int rd_u8(struct reader *r, uint8_t *v)
{
    uint64_t t;
    if (rd_uint(r, 1, &t) != 0)
        return -1;
    *v = (uint8_t)t;
    return 0;
}

static int rd_u32(struct reader *r, uint32_t *v)
{
    uint64_t t;
    if (rd_uint(r, 4, &t) != 0)
        return -1;
    *v = (uint32_t)t;
    return 0;
}

static int rd_flag(struct reader *r, const char *what, int *v)
{
    size_t at = r->off;
    uint8_t t;
    if (rd_u8(r, &t) != 0)
        return -1;
    if (t > 1)
        return FAIL(r, "%s is %u, not 0 or 1, at byte %zu", what, t, at);
    *v = t;
    return 0;
}

/* Reads a count and rejects it unless the rest of the input could hold that many items. */
static int rd_count(struct reader *r, const char *what, size_t min_item, uint32_t *count)
{
    size_t at = r->off;
    if (rd_u32(r, count) != 0)
        return -1;
    if (*count > remaining(r) / min_item)
        return FAIL(r, "%s count %" PRIu32 " at byte %zu exceeds the input", what, *count, at);
    return 0;
}

static int rd_array(struct reader *r, uint32_t count, size_t size, void **out)
{
    *out = NULL;
    if (count == 0)
        return 0;
    if (count > SIZE_MAX / size)
        return FAIL(r, "out of memory");
    *out = arena_alloc(&r->arena, count * size);
    if (*out == NULL)
        return FAIL(r, "out of memory");
    memset(*out, 0, count * size);
    return 0;
}

/* Copies len bytes into the arena, NUL-terminated so that texts are usable as C strings. */
static int rd_bytes(struct reader *r, size_t len, int is_text, const uint8_t **out)
{
    size_t at = r->off;
    if (rd_need(r, len) != 0)
        return -1;
    const uint8_t *src = HERE(r);
    if (is_text) {
        size_t bad = utf8_find_bad(src, len);
        if (bad != SIZE_MAX)
            return FAIL(r, "invalid UTF-8 or NUL at byte %zu", at + bad);
    }
    uint8_t *copy = arena_alloc(&r->arena, len + 1);
    if (copy == NULL)
        return FAIL(r, "out of memory");
    if (len > 0)
        memcpy(copy, src, len);
    copy[len] = 0;
    r->off += len;
    *out = copy;
    return 0;
}

static int rd_str(struct reader *r, const char **s)
{
    uint32_t len;
    const uint8_t *bytes;
    if (rd_u32(r, &len) != 0 || rd_bytes(r, len, 1, &bytes) != 0)
        return -1;
    *s = (const char *)bytes;
    return 0;
}

static int rd_value(struct reader *r, ctm__value *v)
{
    size_t at = r->off;
    uint8_t tag;
    uint64_t u;

    if (rd_u8(r, &tag) != 0)
        return -1;
    v->tag = tag;
    switch (tag) {
    case CTM_V_ABSENT:
    case CTM_V_NULL:
        return 0;
    case CTM_V_INT: {
        uint8_t len;
        if (rd_u8(r, &len) != 0)
            return -1;
        if (len < 1 || len > 8)
            return FAIL(r, "INT length %u at byte %zu is not 1 to 8", len, at + 1);
        if (rd_uint(r, len, &u) != 0)
            return -1;
        /* sign-extend the len bytes */
        if (len < 8 && (u >> (8 * len - 1)) != 0)
            u |= UINT64_MAX << (8 * len);
        v->i = i64_from_bits(u);
        if (int_len(v->i) != len)
            return FAIL(r, "INT at byte %zu is not in its shortest form", at);
        return 0;
    }
    case CTM_V_REAL:
        if (rd_uint(r, 8, &u) != 0)
            return -1;
        memcpy(&v->r, &u, sizeof v->r);
        return 0;
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        if (rd_u32(r, &v->n) != 0)
            return -1;
        return rd_bytes(r, v->n, tag == CTM_V_TEXT, &v->p);
    case CTM_V_DIGEST:
        return rd_bytes(r, DIGEST_LEN, 0, &v->p);
    default:
        return FAIL(r, "unknown value tag %u at byte %zu", tag, at);
    }
}

/* One row of a group, expanded into a row change: an update keeps its key columns and the columns
 * it changed (both values present); an unchanged column is absent on both sides. */
static int rd_row(struct reader *r, uint32_t index, const char *table, const ctm__column_def *defs,
                  uint32_t ndefs, ctm__row_change *c)
{
    size_t at = r->off;
    uint8_t op;
    uint32_t col;
    void *cols;

    if (rd_u8(r, &op) != 0)
        return -1;
    if (op != 'I' && op != 'U' && op != 'D')
        return FAIL(r, "unknown op 0x%02x at byte %zu", op, at);
    c->table = table;
    c->op = (char)op;
    c->ngroup_cols = ndefs;
    c->group_cols = defs;
    if (rd_array(r, ndefs, sizeof *c->cols, &cols) != 0)
        return -1;
    c->cols = cols;
    c->ncols = 0;
    for (uint32_t k = 0; k < ndefs; k++) {
        ctm__column_change *cc = &c->cols[c->ncols];
        at = r->off;
        cc->old_value.tag = cc->new_value.tag = CTM_V_ABSENT;
        if ((op != 'I' && rd_value(r, &cc->old_value) != 0) ||
            (op != 'D' && rd_value(r, &cc->new_value) != 0))
            return -1;
        int has_old = cc->old_value.tag != CTM_V_ABSENT, has_new = cc->new_value.tag != CTM_V_ABSENT;
        if (op == 'U' && !defs[k].is_pk && !has_old && !has_new)
            continue; /* not changed by this update */
        if (op == 'U' && has_old != has_new)
            return FAIL(r, "change %" PRIu32 " (%s), column %s at byte %zu: update needs both old "
                        "and new values or neither", index, table, defs[k].name, at);
        cc->name = defs[k].name;
        cc->is_pk = defs[k].is_pk;
        c->ncols++;
    }
    const char *problem = change_problem(c, &col);
    if (problem != NULL)
        return FAIL(r, "change %" PRIu32 " (%s), column %" PRIu32 ": %s", index, table, col,
                    problem);
    return 0;
}

/* A group: str table, u32 ncols, the columns (name, is_pk), u32 nrows, the rows. */
static int rd_group(struct reader *r, const char *prev_table, uint32_t first, ctm__entry *e,
                    uint32_t *cap, uint32_t *nused)
{
    size_t at = r->off;
    const char *table;
    uint32_t ndefs, nrows;
    void *defs_v, *rows_v;

    if (rd_str(r, &table) != 0)
        return -1;
    if (prev_table != NULL && strcmp(prev_table, table) == 0)
        return FAIL(r, "change group at byte %zu repeats the table %s of the group before it", at,
                    table);
    at = r->off;
    if (rd_count(r, "column", MIN_COLUMN_LEN, &ndefs) != 0)
        return -1;
    if (ndefs == 0)
        return FAIL(r, "change group %s at byte %zu has no columns", table, at);
    if (rd_array(r, ndefs, sizeof(ctm__column_def), &defs_v) != 0)
        return -1;
    ctm__column_def *defs = defs_v;
    for (uint32_t k = 0; k < ndefs; k++) {
        if (rd_str(r, &defs[k].name) != 0 || rd_flag(r, "is_pk", &defs[k].is_pk) != 0)
            return -1;
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(defs[j].name, defs[k].name) == 0)
                return FAIL(r, "change group %s names the column %s twice", table, defs[k].name);
    }
    at = r->off;
    if (rd_count(r, "row", 1 + (size_t)ndefs, &nrows) != 0)
        return -1;
    if (nrows == 0)
        return FAIL(r, "change group %s at byte %zu has no rows", table, at);
    if (nrows > UINT32_MAX - first)
        return FAIL(r, "too many changes");
    r->last_table = table;
    *nused = nrows;
    for (uint32_t i = 0; r->stream && i < nrows; i++) {
        ctm__row_change c;
        struct arena_mark m = arena_mark(r->arena);
        memset(&c, 0, sizeof c);
        if (rd_row(r, first + i, table, defs, ndefs, &c) != 0)
            return -1;
        if (r->each != NULL && r->each(r->each_ctx, &c) != 0)
            return FAIL(r, "change %" PRIu32 " (%s) was refused", first + i, table);
        arena_rewind(&r->arena, m);
    }
    if (r->stream)
        return 0;
    /* grow the entry's change array geometrically (the arena keeps the old copies) */
    uint32_t total = first + nrows;
    if (total > *cap) {
        uint32_t ncap = *cap > UINT32_MAX / 2 ? UINT32_MAX : *cap * 2;
        if (ncap < total)
            ncap = total;
        if (rd_array(r, ncap, sizeof *e->changes, &rows_v) != 0)
            return -1;
        if (first > 0)
            memcpy(rows_v, e->changes, first * sizeof *e->changes);
        e->changes = rows_v;
        *cap = ncap;
    }
    for (uint32_t i = 0; i < nrows; i++)
        if (rd_row(r, first + i, table, defs, ndefs, &e->changes[first + i]) != 0)
            return -1;
    return 0;
}

static int rd_params(struct reader *r, ctm__entry *e)
{
    void *params;
    if (rd_count(r, "param", MIN_PARAM_LEN, &e->nparams) != 0 ||
        rd_array(r, e->nparams, sizeof *e->params, &params) != 0)
        return -1;
    e->params = params;
    for (uint32_t i = 0; i < e->nparams; i++)
        if (rd_str(r, &e->params[i].key) != 0 || rd_str(r, &e->params[i].value) != 0)
            return -1;
    return 0;
}

static int rd_changes(struct reader *r, ctm__entry *e)
{
    uint32_t ngroups;
    const char *prev = NULL;
    uint32_t cap = 0;
    if (rd_count(r, "change group", MIN_GROUP_LEN, &ngroups) != 0)
        return -1;
    e->nchanges = 0;
    e->changes = NULL;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t n;
        if (rd_group(r, prev, e->nchanges, e, &cap, &n) != 0)
            return -1;
        prev = r->last_table;
        e->nchanges += n;
    }
    return 0;
}

static int rd_esig(struct reader *r, ctm__esig *s)
{
    if (rd_str(r, &s->user) != 0 || rd_str(r, &s->printed_name) != 0 || rd_str(r, &s->meaning) != 0)
        return -1;
    if (rd_need(r, ESIG_KEY_LEN + ESIG_SIG_LEN) != 0)
        return -1;
    memcpy(s->public_key, HERE(r), ESIG_KEY_LEN);
    memcpy(s->signature, HERE(r) + ESIG_KEY_LEN, ESIG_SIG_LEN);
    r->off += ESIG_KEY_LEN + ESIG_SIG_LEN;
    return 0;
}

static int rd_entry(struct reader *r, ctm__entry *e)
{
    uint64_t seq, time_us;

    if (rd_u8(r, &e->version) != 0)
        return -1;
    if (e->version != CTM_ENTRY_VERSION && e->version != CTM_ENTRY_VERSION_LEGACY)
        return FAIL(r, "unsupported version %u", e->version);
    if (rd_uint(r, 8, &seq) != 0 || rd_uint(r, 8, &time_us) != 0)
        return -1;
    e->seq = seq;
    e->time_us = i64_from_bits(time_us);
    if (e->version >= 2) {
        if (rd_need(r, CTM_ENTRY_SALT_LEN) != 0)
            return -1;
        memcpy(e->salt, HERE(r), CTM_ENTRY_SALT_LEN);
        r->off += CTM_ENTRY_SALT_LEN;
    }
    if (rd_str(r, &e->user) != 0 || rd_str(r, &e->action) != 0 || rd_str(r, &e->reason) != 0)
        return -1;
    if (rd_params(r, e) != 0 || rd_changes(r, e) != 0)
        return -1;
    if (rd_flag(r, "has_esig", &e->has_esig) != 0)
        return -1;
    if (e->has_esig && rd_esig(r, &e->esig) != 0)
        return -1;
    if (r->off != r->n)
        return FAIL(r, "%zu trailing bytes at byte %zu", remaining(r), r->off);
    return 0;
}

/* A str's bytes in place, for ctm__entry_head_read (no UTF-8 check, no copy). */
static int rd_str_view(struct reader *r, const uint8_t **s, size_t *len)
{
    uint32_t l;
    if (rd_u32(r, &l) != 0 || rd_need(r, l) != 0)
        return -1;
    *s = HERE(r);
    *len = l;
    r->off += l;
    return 0;
}

int ctm__entry_head_read(const uint8_t *p, size_t n, ctm__entry_head *h)
{
    struct reader r = {.p = p, .n = p != NULL ? n : 0, .wlen = p != NULL ? n : 0};
    uint64_t seq, time_us;
    if (rd_u8(&r, &h->version) != 0 ||
        (h->version != CTM_ENTRY_VERSION && h->version != CTM_ENTRY_VERSION_LEGACY))
        return -1;
    if (rd_uint(&r, 8, &seq) != 0 || rd_uint(&r, 8, &time_us) != 0)
        return -1;
    h->time_us = i64_from_bits(time_us);
    if (h->version >= 2) {
        if (rd_need(&r, CTM_ENTRY_SALT_LEN) != 0)
            return -1;
        r.off += CTM_ENTRY_SALT_LEN;
    }
    return rd_str_view(&r, &h->user, &h->user_len) != 0 ||
                   rd_str_view(&r, &h->action, &h->action_len) != 0
               ? -1
               : 0;
}

static int decode(ctm__entry *e, struct reader r)
{
    memset(e, 0, sizeof *e);
    if (r.why != NULL && r.why_len > 0)
        r.why[0] = '\0';
    int rc = rd_entry(&r, e);
    free(r.win);
    if (rc != 0) {
        arena_free(r.arena);
        memset(e, 0, sizeof *e);
        return -1;
    }
    e->arena_ = r.arena;
    return 0;
}

int ctm__entry_decode(ctm__entry *e, const uint8_t *p, size_t n, char *why, size_t why_len)
{
    return decode(e, (struct reader){.p = p, .n = p != NULL ? n : 0, .wlen = p != NULL ? n : 0,
                                     .why = why, .why_len = why_len});
}

int ctm__entry_decode_each(ctm__entry *e, const uint8_t *p, size_t n,
                           int (*each)(void *ctx, const ctm__row_change *c), void *ctx, char *why,
                           size_t why_len)
{
    return decode(e, (struct reader){.p = p, .n = p != NULL ? n : 0, .wlen = p != NULL ? n : 0,
                                     .why = why, .why_len = why_len, .stream = 1, .each = each, .each_ctx = ctx});
}

int ctm__entry_decode_stream(ctm__entry *e, size_t n,
                             int (*fill)(void *ctx, uint8_t *buf, size_t n, size_t offset),
                             void *fill_ctx, int (*each)(void *ctx, const ctm__row_change *c),
                             void *ctx, char *why, size_t why_len)
{
    return decode(e, (struct reader){.n = n, .fill = fill, .fill_ctx = fill_ctx, .why = why,
                                     .why_len = why_len, .stream = 1, .each = each,
                                     .each_ctx = ctx});
}

void ctm__entry_free(ctm__entry *e)
{
    if (e == NULL)
        return;
    arena_free(e->arena_);
    memset(e, 0, sizeof *e);
}

/* ---- JSON ---- */

static void json_raw(ctm__buf *b, const char *s)
{
    ctm__buf_put(b, s, strlen(s));
}

static const char hex_digits[] = "0123456789abcdef";

/* Ill-formed UTF-8 (only possible in entries built in memory) becomes U+FFFD so the JSON stays valid. */
static void json_string(ctm__buf *b, const uint8_t *s, size_t n)
{
    size_t i = 0;

    ctm__buf_u8(b, '"');
    while (i < n) {
        uint8_t c = s[i];
        size_t k = utf8_seq_len(s + i, n - i);
        if (k == 0) {
            json_raw(b, "\\ufffd");
            k = 1;
        } else if (c == '"' || c == '\\') {
            ctm__buf_u8(b, '\\');
            ctm__buf_u8(b, c);
        } else if (c < 0x20) {
            json_raw(b, "\\u00");
            ctm__buf_u8(b, (uint8_t)hex_digits[c >> 4]);
            ctm__buf_u8(b, (uint8_t)hex_digits[c & 15]);
        } else {
            ctm__buf_put(b, s + i, k);
        }
        i += k;
    }
    ctm__buf_u8(b, '"');
}

static void json_cstr(ctm__buf *b, const char *s)
{
    if (s == NULL)
        json_raw(b, "null");
    else
        json_string(b, (const uint8_t *)s, strlen(s));
}

void ctm__json_string(ctm__buf *b, const char *s)
{
    json_cstr(b, s);
}

static void json_hex(ctm__buf *b, const char *prefix, const uint8_t *p, size_t n)
{
    ctm__buf_u8(b, '"');
    json_raw(b, prefix);
    for (size_t i = 0; i < n; i++) {
        ctm__buf_u8(b, (uint8_t)hex_digits[p[i] >> 4]);
        ctm__buf_u8(b, (uint8_t)hex_digits[p[i] & 15]);
    }
    ctm__buf_u8(b, '"');
}

static void json_real(ctm__buf *b, double r)
{
    char tmp[64];
    size_t j = 0;

    if (isnan(r)) {
        json_raw(b, "\"NaN\"");
        return;
    }
    if (isinf(r)) {
        json_raw(b, r > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    snprintf(tmp, sizeof tmp, "%.17g", r);
    /* printf follows LC_NUMERIC: whatever the locale put in as a decimal point (maybe several bytes)
     * becomes one '.', as JSON requires. */
    for (size_t i = 0; tmp[i] != '\0'; i++) {
        if (strchr("0123456789+-eE", tmp[i]) != NULL)
            tmp[j++] = tmp[i];
        else if (j == 0 || tmp[j - 1] != '.')
            tmp[j++] = '.';
    }
    tmp[j] = '\0';
    json_raw(b, tmp);
}

static void json_value(ctm__buf *b, const ctm__value *v)
{
    char tmp[32];

    switch (v->tag) {
    case CTM_V_INT:
        snprintf(tmp, sizeof tmp, "%" PRId64, v->i);
        json_raw(b, tmp);
        break;
    case CTM_V_REAL:
        json_real(b, v->r);
        break;
    case CTM_V_TEXT:
        json_string(b, v->p, v->p != NULL ? v->n : 0);
        break;
    case CTM_V_BLOB:
        json_hex(b, "hex:", v->p, v->p != NULL ? v->n : 0);
        break;
    case CTM_V_DIGEST:
        if (v->p != NULL) {
            json_hex(b, "sha256:", v->p, DIGEST_LEN);
            break;
        }
        /* fall through */
    default:
        json_raw(b, "null");
        break;
    }
}

static char *buf_finish(ctm__buf *b)
{
    ctm__buf_u8(b, 0);
    if (b->oom) {
        ctm__buf_free(b);
        return NULL;
    }
    return (char *)b->p;
}

char *ctm__entry_params_json(const ctm__entry *e)
{
    ctm__buf b;

    ctm__buf_init(&b);
    ctm__buf_u8(&b, '{');
    for (uint32_t i = 0; e->params != NULL && i < e->nparams; i++) {
        if (i > 0)
            ctm__buf_u8(&b, ',');
        json_cstr(&b, e->params[i].key);
        ctm__buf_u8(&b, ':');
        json_cstr(&b, e->params[i].value);
    }
    ctm__buf_u8(&b, '}');
    return buf_finish(&b);
}

typedef int (*redact_fn)(const char *table, const char *column, void *ctx);

static const char *op_name(char op)
{
    switch (op) {
    case 'I':
        return "\"insert\"";
    case 'U':
        return "\"update\"";
    case 'D':
        return "\"delete\"";
    default:
        return "null";
    }
}

/* Appends "name":value for the columns whose is_pk equals want_pk: the key object or the columns object. */
static void json_columns(ctm__buf *b, const ctm__row_change *c, int want_pk, redact_fn redact,
                         void *ctx)
{
    int first = 1;

    ctm__buf_u8(b, '{');
    for (uint32_t i = 0; c->cols != NULL && i < c->ncols; i++) {
        const ctm__column_change *cc = &c->cols[i];
        if ((cc->is_pk != 0) != want_pk)
            continue;
        int blind = redact != NULL && redact(c->table, cc->name, ctx) != 0;
        if (!first)
            ctm__buf_u8(b, ',');
        first = 0;
        json_cstr(b, cc->name);
        ctm__buf_u8(b, ':');
        if (want_pk && blind)
            json_raw(b, "\"" CTM__BLINDED "\"");
        else if (want_pk)
            json_value(b, c->op == 'I' ? &cc->new_value : &cc->old_value);
        else if (blind)
            json_raw(b, "[\"" CTM__BLINDED "\",\"" CTM__BLINDED "\"]");
        else {
            ctm__buf_u8(b, '[');
            json_value(b, &cc->old_value);
            ctm__buf_u8(b, ',');
            json_value(b, &cc->new_value);
            ctm__buf_u8(b, ']');
        }
    }
    ctm__buf_u8(b, '}');
}

char *ctm__entry_changes_json(const ctm__entry *e, redact_fn redact, void *ctx)
{
    ctm__buf b;

    ctm__buf_init(&b);
    ctm__buf_u8(&b, '[');
    for (uint32_t i = 0; e->changes != NULL && i < e->nchanges; i++) {
        const ctm__row_change *c = &e->changes[i];
        if (i > 0)
            ctm__buf_u8(&b, ',');
        json_raw(&b, "{\"table\":");
        json_cstr(&b, c->table);
        json_raw(&b, ",\"op\":");
        json_raw(&b, op_name(c->op));
        json_raw(&b, ",\"key\":");
        json_columns(&b, c, 1, redact, ctx);
        json_raw(&b, ",\"columns\":");
        json_columns(&b, c, 0, redact, ctx);
        ctm__buf_u8(&b, '}');
    }
    ctm__buf_u8(&b, ']');
    return buf_finish(&b);
}
