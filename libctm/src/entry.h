/* entry.h - the canonical byte encoding of ledger entries (internal; docs/audit-format.md). */
#ifndef CTM_ENTRY_H
#define CTM_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define CTM_ENTRY_VERSION 1

/* Value tags of the canonical encoding. */
enum ctm__vtag {
    CTM_V_ABSENT = 0,  /* no value: the "old" of an insert, the "new" of a delete */
    CTM_V_NULL = 1,
    CTM_V_INT = 2,     /* 8 bytes, big-endian two's complement */
    CTM_V_REAL = 3,    /* 8 bytes, IEEE 754 binary64 bits, big-endian */
    CTM_V_TEXT = 4,    /* u32 length + UTF-8 bytes */
    CTM_V_BLOB = 5,    /* u32 length + bytes */
    CTM_V_DIGEST = 6,  /* 32 bytes: SHA-256 of the canonical encoding of a secret value */
};

typedef struct ctm__value {
    int tag;                 /* enum ctm__vtag */
    int64_t i;               /* CTM_V_INT */
    double r;                /* CTM_V_REAL */
    const uint8_t *p;        /* TEXT / BLOB bytes, DIGEST 32 bytes (borrowed) */
    uint32_t n;              /* TEXT / BLOB length */
} ctm__value;

typedef struct ctm__column_change {
    const char *name;        /* NUL-terminated (borrowed) */
    int is_pk;
    ctm__value old_value;
    ctm__value new_value;
} ctm__column_change;

/* One column of a table as an entry's change group names it (docs/audit-format.md). */
typedef struct ctm__column_def {
    const char *name;
    int is_pk;
} ctm__column_def;

typedef struct ctm__row_change {
    const char *table;       /* borrowed */
    char op;                 /* 'I', 'U' or 'D' */
    uint32_t ncols;          /* an update lists its key and the columns it changed */
    ctm__column_change *cols;
    /* The column list of the change group this change belongs to (the decoder sets it, the encoder
     * uses it when set; when NULL the encoder derives the list from the run of consecutive changes
     * to the table, in order of first appearance).  Borrowed. */
    uint32_t ngroup_cols;
    const ctm__column_def *group_cols;
} ctm__row_change;

typedef struct ctm__param {
    const char *key;
    const char *value;
} ctm__param;

typedef struct ctm__esig {
    const char *user;        /* signer's user name */
    const char *printed_name;
    const char *meaning;
    uint8_t public_key[32];
    uint8_t signature[64];
} ctm__esig;

/* A decoded entry.  Strings point into the entry's own decode arena (see ctm__entry_decode). */
typedef struct ctm__entry {
    uint8_t version;
    uint64_t seq;
    int64_t time_us;
    const char *user;
    const char *action;
    const char *reason;
    uint32_t nparams;
    ctm__param *params;
    uint32_t nchanges;
    ctm__row_change *changes;
    int has_esig;
    ctm__esig esig;
    /* private */
    void *arena_;
} ctm__entry;

/* A growable byte buffer. */
typedef struct ctm__buf {
    uint8_t *p;
    size_t n, cap;
    int oom;                 /* set once an allocation failed or a write could not be encoded (NULL
                              * string, unknown value tag); further writes are ignored */
} ctm__buf;

void ctm__buf_init(ctm__buf *b);
void ctm__buf_free(ctm__buf *b);
void ctm__buf_put(ctm__buf *b, const void *p, size_t n);
void ctm__buf_u8(ctm__buf *b, uint8_t v);
void ctm__buf_u32(ctm__buf *b, uint32_t v);
void ctm__buf_u64(ctm__buf *b, uint64_t v);
void ctm__buf_str(ctm__buf *b, const char *s);          /* u32 length + bytes */
void ctm__buf_value(ctm__buf *b, const ctm__value *v);  /* tag + payload */

/*
 * Encode e into out (appended).  If e->has_esig, the signature bytes come last: the signed content
 * is everything before them (see ctm__entry_signed_len).  Returns 0, or -1 on no memory or if e
 * breaks a rule ctm__entry_decode enforces (then nothing is appended), so that no entry is written
 * that could not be read back.  e->version 0 means CTM_ENTRY_VERSION.
 */
int ctm__entry_encode(ctm__buf *out, const ctm__entry *e);

/* Length of the signed prefix of an encoded entry that has an e-signature (len - 64; 0 if len < 64). */
size_t ctm__entry_signed_len(size_t len);

/*
 * Decode strictly: every length in bounds, no trailing bytes, valid tags and ops, texts valid
 * UTF-8 without NUL.  On success fills *e (free with ctm__entry_free) and returns 0; on failure
 * returns -1 and, if why is not NULL, writes a short reason ("truncated at byte 57").
 */
int ctm__entry_decode(ctm__entry *e, const uint8_t *p, size_t n, char *why, size_t why_len);
void ctm__entry_free(ctm__entry *e);

/*
 * Decode as strictly as ctm__entry_decode, but hand each row change to each(ctx, change) as it is
 * read instead of keeping it: e->changes stays NULL, e->nchanges counts them, and the memory of a
 * change is reused once each() returns, so decoding an entry of any number of changes takes
 * memory bounded by its largest row (and its group heads).  each may be NULL (check only).  A
 * non-zero return from each() stops decoding: -1, why "... was refused".  The rules are checked
 * as the bytes are read, so each() may see changes of an entry that turns out invalid further on.
 */
int ctm__entry_decode_each(ctm__entry *e, const uint8_t *p, size_t n,
                           int (*each)(void *ctx, const ctm__row_change *c), void *ctx, char *why,
                           size_t why_len);

/* Non-zero when two values have the same canonical encoding (REAL compares bits: -0.0 differs
 * from 0.0, NaN equals itself). */
int ctm__value_equal(const ctm__value *a, const ctm__value *b);

/* SHA-256 of the canonical encoding of v (used for CTM_V_DIGEST). */
void ctm__value_digest(const ctm__value *v, uint8_t out[32]);

/* JSON renderings for listings: params as an object, changes as an array of
 * {"table":..,"op":"insert|update|delete","key":{..},"columns":{"name":[old,new]}}.
 * redact(table, column, ctx) returning non-zero shows that column's values as "(blinded)".
 * Blobs render as hex strings, digests as "sha256:<hex>", absent as null. malloc'd; NULL on OOM. */
char *ctm__entry_params_json(const ctm__entry *e);
char *ctm__entry_changes_json(const ctm__entry *e,
                              int (*redact)(const char *table, const char *column, void *ctx),
                              void *ctx);

#endif
