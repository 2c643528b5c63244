/* audit.c - reading the ledger: notes, batches, the log, checkpoints, keys and proofs. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"

int ctm_audit_note(ctm_db *db, const char *text, const char *meaning)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "audit.note", "audit note");
    if (rc == CTM_OK)
        rc = ctm__check_text("note", text, CTM_MAX_NOTE);
    if (rc == CTM_OK && meaning != NULL)
        rc = ctm__check_text("meaning", meaning, 100);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin_entry_only(&a, db, "audit.note", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "text", text);
    a.caller_meaning = meaning;
    return ctm__action_commit(&a);
}

int ctm_batch_begin(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "batch: no database handle");
    if (db->tx.batch || db->tx.open)
        return ctm__err(CTM_EMISUSE, "batch: a batch is already open on this handle");
    if (db->readonly)
        return ctm__err(CTM_EMISUSE, "batch: the database is open read-only");
    int rc = ctm__store_begin(db->store);
    if (rc != CTM_OK)
        rc = ctm__store_fail(rc, "batch");
    if (rc != CTM_OK)
        return rc;
    ctm__txn_batch_start(db);
    return CTM_OK;
}

int ctm_batch_commit(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL || !db->tx.batch)
        return ctm__err(CTM_EMISUSE, "batch commit: no batch is open");
    int rc = ctm__txn_batch_seal(db);
    if (rc == CTM_OK && (rc = ctm__store_commit(db->store)) != CTM_OK)
        rc = ctm__store_fail(rc, "batch commit");
    if (rc != CTM_OK)
        ctm__store_rollback(db->store);
    ctm__txn_batch_end(db);
    return rc;
}

int ctm_batch_rollback(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL || !db->tx.batch)
        return ctm__err(CTM_EMISUSE, "batch rollback: no batch is open");
    ctm__store_rollback(db->store);
    ctm__txn_batch_end(db);
    return CTM_OK;
}

int ctm__batch_abort(ctm_db *db, int rc)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ctm_errmsg());
    ctm__store_rollback(db->store);
    ctm__txn_batch_end(db);
    return rc != CTM_OK ? ctm__err(rc, "%s", msg) : rc;
}

int ctm_audit_size(ctm_db *db, uint64_t *size)
{
    ctm__clear_error();
    if (db == NULL || size == NULL)
        return ctm__err(CTM_EINVAL, "audit size: NULL argument");
    /* Inside a batch the tree state is written at commit; the handle knows it meanwhile. */
    if (db->tx.batch && db->tx.frontier_loaded) {
        *size = db->tx.next_seq;
        return CTM_OK;
    }
    ctm__frontier f;
    int rc = ctm__ledger_state(db, &f);
    if (rc == CTM_OK)
        *size = f.size;
    return rc;
}

/* Which values a blinded user may not see (blinding.h decides), as the JSON writer asks. */
static int blinded_column(const char *table, const char *column, void *ctx)
{
    (void)ctx;
    return ctm__blind_column(table, column);
}

static const char *const log_columns[] = {
    "seq",       "time",      "user",         "action",    "reason",   "params",
    "changes",   "esig_user", "esig_name",    "esig_meaning", "esig_time", "leaf_hash",
};
#define LOG_NCOLS ((int)(sizeof log_columns / sizeof log_columns[0]))

typedef struct log_ctx {
    int unblinded;
} log_ctx;

static int log_row(ctm__st *st, ctm__row *row, void *vctx)
{
    log_ctx *ctx = vctx;
    int64_t seq = ctm__st_int(st, 0);
    ctm__entry e;
    char why[128];
    const uint8_t *p = ctm__st_blob(st, 1);
    int n = (int)ctm__st_bytes(st, 1);
    if (ctm__entry_decode(&e, p, (size_t)n, why, sizeof why) != 0)
        return ctm__err(CTM_EINTEGRITY, "ledger seq %lld: entry cannot be decoded: %s",
                        (long long)seq, why);
    char time[40], leaf[65];
    ctm__format_time(e.time_us, time, sizeof time);
    char *params = ctm__entry_params_json(&e);
    char *changes = ctm__entry_changes_json(&e, ctx->unblinded ? NULL : blinded_column, NULL);
    int rc = params != NULL && changes != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
    ctm__row_set_int(row, 0, seq);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 1, time);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 2, e.user);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 3, e.action);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 4, e.reason);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 5, params);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 6, changes);
    if (rc == CTM_OK && e.has_esig) {
        rc = ctm__row_set_text(row, 7, e.esig.user);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 8, e.esig.printed_name);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 9, e.esig.meaning);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 10, time);
    }
    /* An unsalted entry's hash can be tested against guessed arms: not for blinded readers.
     * (Unsalted entries only ever begin a log, that of a migrated site: verify refuses one after
     * a salted entry.) */
    if (rc == CTM_OK && !ctx->unblinded && e.version == CTM_ENTRY_VERSION_LEGACY) {
        ctm__row_set_null(row, 11);
    } else if (rc == CTM_OK) {
        ctm_hash h;
        ctm__leaf_hash(p, (size_t)n, h);
        ctm__hex(h, CTM_HASH_SIZE, leaf);
        rc = ctm__row_set_text(row, 11, leaf);
    }
    free(params);
    free(changes);
    ctm__entry_free(&e);
    return rc;
}

/* What log_row shows db's logged-in reader.  Both listings, ctm_audit_log() and the filtered one
 * (audit_query.c), take their context from here, so that they show a reader the same. */
int ctm__audit_log_ctx(void **out, ctm_db *db)
{
    log_ctx *ctx = malloc(sizeof *ctx);
    *out = ctx;
    if (ctx == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    ctx->unblinded = ctm__blind_sees_all(db);
    return CTM_OK;
}

int ctm_audit_log(ctm_query **out, ctm_db *db, uint64_t from_seq, uint64_t limit)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, "audit log");
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    /* no limit: no LIMIT clause (engines disagree on a negative or NULL one) */
    int all = limit == 0 || limit > INT64_MAX;
    int src = ctm__st_prepare(db->store, &st,
                              all ? "SELECT seq, entry FROM ledger WHERE seq >= ?1 ORDER BY seq"
                                  : "SELECT seq, entry FROM ledger WHERE seq >= ?1 ORDER BY seq"
                                    " LIMIT ?2");
    if (src != CTM_OK)
        return ctm__store_fail(src, "audit log");
    ctm__st_bind_int(st, 1, from_seq > INT64_MAX ? INT64_MAX : (int64_t)from_seq);
    if (!all)
        ctm__st_bind_int(st, 2, (int64_t)limit);
    void *ctx = NULL;
    if ((rc = ctm__audit_log_ctx(&ctx, db)) != CTM_OK) {
        ctm__st_finalize(st);
        return rc;
    }
    return ctm__query_new(out, st, log_columns, LOG_NCOLS, log_row, ctx, free);
}

/* The pieces of the listing that the filtered one (audit_query.c) shares. */
const char *const *ctm__audit_log_columns(int *ncols)
{
    *ncols = LOG_NCOLS;
    return log_columns;
}

int ctm__audit_log_row(ctm__st *st, ctm__row *row, void *ctx)
{
    return log_row(st, row, ctx);
}

/* The newest checkpoint note as stored (not yet verified). */
int ctm__latest_checkpoint(ctm_db *db, char **note, uint64_t *size)
{
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT checkpoint, seq + 1 FROM ledger WHERE checkpoint IS NOT NULL"
                                " ORDER BY seq DESC LIMIT 1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "reading checkpoints");
    rc = ctm__st_step(st);
    int out = CTM_OK;
    if (rc == CTM_ROW) {
        *note = ctm__strdup(ctm__st_text(st, 0));
        *size = (uint64_t)ctm__st_int(st, 1);
        if (*note == NULL)
            out = ctm__err(CTM_ENOMEM, "out of memory");
    } else if (rc == CTM_OK) {
        out = ctm__err(CTM_ENOTFOUND, "no checkpoint yet: the site is not initialised");
    } else {
        out = ctm__store_fail(rc, "reading checkpoints");
    }
    ctm__st_finalize(st);
    return out;
}

int ctm_audit_checkpoint(char **note, ctm_db *db)
{
    ctm__clear_error();
    if (note == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit checkpoint: NULL argument");
    *note = NULL;
    uint64_t size;
    return ctm__latest_checkpoint(db, note, &size);
}

int ctm_audit_vkey(char **vkey, ctm_db *db)
{
    ctm__clear_error();
    if (vkey == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit vkey: NULL argument");
    *vkey = NULL;
    char *origin;
    uint8_t pub[32];
    int rc = ctm__site_info(db, &origin, pub);
    if (rc != CTM_OK)
        return rc;
    *vkey = ctm__note_vkey(origin, pub);
    return *vkey != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

/* Leaf hashes are derived, never stored: hash the entries themselves. */
int ctm__load_leaves(ctm_db *db, uint64_t size, ctm_hash **leaves)
{
    *leaves = NULL;
    if (size == 0)
        return CTM_OK;
    ctm_hash *l = malloc(size * sizeof *l);
    if (l == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory for %llu leaf hashes", (unsigned long long)size);
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT seq, entry FROM ledger WHERE seq < ?1 ORDER BY seq");
    if (rc != CTM_OK) {
        free(l);
        return ctm__store_fail(rc, "reading the ledger");
    }
    ctm__st_bind_int(st, 1, (int64_t)size);
    uint64_t i = 0;
    int out = CTM_OK;
    while ((rc = ctm__st_step(st)) == CTM_ROW) {
        if ((uint64_t)ctm__st_int(st, 0) != i) {
            out = ctm__err(CTM_EINTEGRITY, "ledger seq %llu: missing (run verify)",
                           (unsigned long long)i);
            break;
        }
        ctm__leaf_hash(ctm__st_blob(st, 1), ctm__st_bytes(st, 1), l[i++]);
    }
    ctm__st_finalize(st);
    if (out == CTM_OK && i != size)
        out = ctm__err(CTM_EINTEGRITY, "ledger seq %llu: missing (run verify)", (unsigned long long)i);
    if (out != CTM_OK) {
        free(l);
        return out;
    }
    *leaves = l;
    return CTM_OK;
}

/* The root signed in the newest checkpoint, after checking its signature. */
static int signed_root(ctm_db *db, uint64_t *size, ctm_hash root)
{
    char *origin, *note = NULL, *body = NULL, *corigin = NULL;
    uint8_t pub[32];
    int rc = ctm__site_info(db, &origin, pub);
    if (rc == CTM_OK)
        rc = ctm__latest_checkpoint(db, &note, size);
    if (rc != CTM_OK)
        return rc;
    uint64_t csize = 0;
    if (ctm__note_verify(note, origin, pub, &body) != 0 ||
        ctm__checkpoint_parse(body, &corigin, &csize, root) != 0 || csize != *size ||
        strcmp(corigin, origin) != 0)
        rc = ctm__err(CTM_EINTEGRITY, "checkpoint %llu: bad signature or body (run verify)",
                      (unsigned long long)*size);
    free(note);
    free(body);
    free(corigin);
    return rc;
}

static char *format_proof(uint64_t seq, uint64_t size, const ctm_hash leaf, const ctm_hash root,
                          const ctm_hash *proof, size_t count)
{
    size_t cap = 160 + (count + 2) * 72;
    char *out = malloc(cap), hex[65];
    if (out == NULL)
        return NULL;
    size_t n = (size_t)snprintf(out, cap, "seq %llu\nsize %llu\n", (unsigned long long)seq,
                                (unsigned long long)size);
    ctm__hex(leaf, CTM_HASH_SIZE, hex);
    n += (size_t)snprintf(out + n, cap - n, "leaf %s\n", hex);
    ctm__hex(root, CTM_HASH_SIZE, hex);
    n += (size_t)snprintf(out + n, cap - n, "root %s\n", hex);
    for (size_t i = 0; i < count; i++) {
        ctm__hex(proof[i], CTM_HASH_SIZE, hex);
        n += (size_t)snprintf(out + n, cap - n, "proof %s\n", hex);
    }
    return out;
}

/* A proof's sibling hashes cover the entries around it: on a log that starts with unsalted
 * entries every proof reaches them, so only a logged-in unblinded user gets one. */
static int proof_allowed(ctm_db *db)
{
    int legacy = 0;
    int rc = ctm__ledger_legacy(db, &legacy);
    if (rc != CTM_OK || !legacy)
        return rc;
    if (db->session.user != NULL && (rc = ctm__require_user(db, 0, "audit prove")) != CTM_OK)
        return rc;
    if (!ctm__blind_sees_all(db))
        return ctm__err(CTM_EBLINDED,
                        "audit prove: this ledger begins with entries written before libctm salted "
                        "its entries (schema version 2 or older); a proof's hashes could be tested "
                        "against guessed blinded values, so proofs are given only to a logged-in "
                        "unblinded user");
    return CTM_OK;
}

int ctm_audit_prove(char **proof, ctm_db *db, uint64_t seq)
{
    ctm__clear_error();
    if (proof == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit prove: NULL argument");
    *proof = NULL;
    uint64_t size = 0;
    ctm_hash root, *leaves = NULL, *path = NULL;
    size_t count = 0;
    int rc = proof_allowed(db);
    if (rc == CTM_OK)
        rc = signed_root(db, &size, root);
    if (rc != CTM_OK)
        return rc;
    if (seq >= size)
        return ctm__err(CTM_ENOTFOUND, "seq: %llu is not in the signed log of %llu entries",
                        (unsigned long long)seq, (unsigned long long)size);
    if ((rc = ctm__load_leaves(db, size, &leaves)) != CTM_OK)
        return rc;
    if (ctm__inclusion_proof(leaves, seq, size, &path, &count) != 0)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    else if (ctm__verify_inclusion(seq, size, leaves[seq], (const ctm_hash *)path, count, root) != 0)
        rc = ctm__err(CTM_EINTEGRITY,
                      "seq %llu: the entries do not match the signed root (run verify)",
                      (unsigned long long)seq);
    else if ((*proof = format_proof(seq, size, leaves[seq], root, (const ctm_hash *)path, count)) ==
             NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    free(path);
    free(leaves);
    return rc;
}
