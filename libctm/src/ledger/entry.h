/* entry.h - the canonical byte encoding of ledger entries (internal; docs/audit-format.md). */
#ifndef CTM_ENTRY_H
#define CTM_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

/* The version every new entry is written in.  Version 1 (no salt) is still read: it is the
 * history of sites from before schema version 3. */
#define CTM_ENTRY_VERSION 2
#define CTM_ENTRY_VERSION_LEGACY 1
/* Fresh random bytes after `time` in a version-2 entry: without them nobody can test a guessed
 * secret (a kit's arm) against the entry's hash, any root over it or any proof. */
#define CTM_ENTRY_SALT_LEN 32


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
    uint8_t salt[CTM_ENTRY_SALT_LEN]; /* version 2 only; never shown to readers */
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
/* One CSV cell (RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled),
 * nothing for NULL; a text cell a spreadsheet would run as a formula (= + - @, a tab or CR
 * first: references and kit numbers are typed by people) gets a leading single quote, the rule
 * of the CLI's own CSV (docs/cli.md).  The reports' and exports' one CSV writer. */
void ctm__csv_cell(ctm__buf *b, const char *s, int is_text);
void ctm__buf_u8(ctm__buf *b, uint8_t v);
void ctm__buf_u32(ctm__buf *b, uint32_t v);
void ctm__buf_u64(ctm__buf *b, uint64_t v);
void ctm__buf_str(ctm__buf *b, const char *s);          /* u32 length + bytes */
void ctm__buf_value(ctm__buf *b, const ctm__value *v);  /* tag + payload */
/* s as a JSON string (escaped; ill-formed UTF-8 as U+FFFD), or null for NULL. */
void ctm__json_string(ctm__buf *b, const char *s);

/*
 * The one encoder.  Entries are written in three steps, so that the capture path can stream row
 * changes as SQLite makes them and ctm__entry_encode can encode a decoded entry with the same
 * code:
 *   1. ctm__changes collects the change groups: ctm__changes_group opens a group (its head is
 *      encoded once per table with ctm__group_head) unless it is the open one, ctm__changes_row
 *      appends one row of it;
 *   2. ctm__entry_write writes the entry: header (salt included for version 2), params, the
 *      collected groups, and has_esig 0 or the e-signature block up to the signer's public key;
 *   3. an e-signed entry then gets its 64-byte signature over bytes [start, out->n) appended.
 * Every rule ctm__entry_decode enforces is checked on the way, so the writer cannot produce an
 * entry the reader refuses.
 */
typedef struct ctm__changes {
    ctm__buf buf;            /* the groups, without their count */
    uint32_t ngroups, nrows;
    const void *group;       /* the open group's key (see ctm__changes_group) */
    const char *group_table; /* borrowed, for messages */
    size_t rows_at;          /* offset of the open group's row count in buf */
    uint32_t group_rows;
    int bad;                 /* a row broke a rule: why says which (buf.oom: out of memory) */
    char why[160];
} ctm__changes;

void ctm__changes_init(ctm__changes *c);
void ctm__changes_free(ctm__changes *c);

/* Encode a group head (str table, u32 ncols, ncols x (str name, flag is_pk)) into out.  Returns
 * -1 if the table or a name is not encodable, a name repeats, or no column is a key column. */
int ctm__group_head(ctm__buf *out, const char *table, const ctm__column_def *cols, uint32_t ncols);

/* Make the group of key (anything that names one table for as long as c lives: the caller's
 * table record) the open one, starting a new group with the encoded head head[0..head_n) unless
 * it already is.  table is borrowed for messages. */
void ctm__changes_group(ctm__changes *c, const void *key, const char *table, const uint8_t *head,
                        size_t head_n);

/*
 * Append one row to the open group, whose columns are cols[0..ncols).  op 'I' writes news, 'D'
 * olds, 'U' both: for an update a non-key column whose old and new are both CTM_V_ABSENT is one
 * the update left unchanged.  With secret, non-key values go in as their digest (DIGEST).
 * Returns 0, or -1 with c->bad and c->why set (the table and column named, never a value).
 */
int ctm__changes_row(ctm__changes *c, char op, const ctm__column_def *cols, uint32_t ncols,
                     const ctm__value *olds, const ctm__value *news, int secret);

/*
 * Append the entry whose header fields (version: 0 means CTM_ENTRY_VERSION; seq, time_us, salt,
 * user, action, reason, params; has_esig and esig.user, printed_name, meaning, public_key) are in
 * h, with the change groups of ch (NULL: none), to out.  For an e-signed entry everything up to
 * the signer's public key is written and *start is where the entry begins: the caller appends the
 * 64-byte signature of out->p[*start .. out->n).  Returns 0, or -1 on no memory or a field that
 * cannot be encoded (then out is as it was).
 */
int ctm__entry_write(ctm__buf *out, const ctm__entry *h, const ctm__changes *ch, size_t *start);

/*
 * Encode a whole entry (as ctm__entry_decode gives it, or built in memory) into out (appended),
 * with ctm__entry_write; the e-signature's bytes come from e->esig.signature.  Returns 0, or -1 on
 * no memory or if e breaks a rule ctm__entry_decode enforces (then nothing is appended).
 */
int ctm__entry_encode(ctm__buf *out, const ctm__entry *e);

/* Length of the signed prefix of an encoded entry that has an e-signature (len - 64; 0 if len < 64). */
size_t ctm__entry_signed_len(size_t len);

/*
 * Decode strictly (version 1 or 2; a version-1 entry has no salt): every length in bounds, no trailing bytes, valid tags and ops, texts valid
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

/*
 * ctm__entry_decode_each over an entry of n bytes that is not in memory: fill(fill_ctx, buf, k,
 * offset) copies the k bytes at offset into buf (0, or non-zero when they cannot be read), and is
 * called with offsets rising, each byte once, so it may hash what it hands over.  The decoder holds
 * a window of 64 KiB or the largest single field, whichever is larger.
 */
int ctm__entry_decode_stream(ctm__entry *e, size_t n,
                             int (*fill)(void *ctx, uint8_t *buf, size_t n, size_t offset),
                             void *fill_ctx, int (*each)(void *ctx, const ctm__row_change *c),
                             void *ctx, char *why, size_t why_len);

/* An entry's first fields, read without decoding (nor checking) the rest: for filters that skip
 * most entries.  user and action point into the entry's bytes and are not NUL-terminated. */
typedef struct ctm__entry_head {
    uint8_t version;
    int64_t time_us;
    const uint8_t *user, *action;
    size_t user_len, action_len;
} ctm__entry_head;
/* 0, or -1 when the bytes are not of a known version or end before the action. */
int ctm__entry_head_read(const uint8_t *p, size_t n, ctm__entry_head *h);

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
