/* ledger.c - the write path: one transaction, its row changes, its entry, its checkpoint. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"

/* The ledger's own tables are not row-audited: they are the audit. */
int ctm__table_is_internal(const char *table)
{
    return strcmp(table, "ledger") == 0 || strncmp(table, "sqlite_", 7) == 0;
}

static int session_filter(void *ctx, const char *table)
{
    (void)ctx;
    return !ctm__table_is_internal(table);
}

int ctm__ledger_state(ctm_db *db, ctm__frontier *f)
{
    sqlite3_stmt *st = NULL;
    ctm__frontier_init(f);
    int rc = ctm__stmt(db, CTM_ST_LEDGER_TAIL, &st);
    if (rc != CTM_OK)
        return rc;
    int src = sqlite3_step(st);
    int out = CTM_OK;
    if (src == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        int64_t seq = sqlite3_column_int64(st, 0);
        if (p == NULL || ctm__frontier_decode(f, p, (size_t)n) != 0 || (int64_t)f->size != seq + 1)
            out = ctm__err(CTM_EINTEGRITY,
                           "ledger seq %lld: the tree state of the newest entry is missing or damaged",
                           (long long)seq);
    } else if (src != SQLITE_DONE) {
        out = ctm__sqlerr(db->sql, src, "reading the ledger state");
    }
    sqlite3_reset(st);
    return out;
}

static void rollback_to_start(ctm__action *a)
{
    ctm_db *db = a->db;
    if (a->session != NULL) {
        sqlite3session_delete(a->session);
        a->session = NULL;
    }
    if (!a->open)
        return;
    a->open = 0;
    if (db->batch) {
        /* an action that writes only its entry took no savepoint and wrote nothing yet */
        if (a->savepoint)
            sqlite3_exec(db->sql, "ROLLBACK TO ctm_action; RELEASE ctm_action", NULL, NULL, NULL);
    } else {
        sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
        db->tx_open = 0;
        db->frontier_loaded = 0;
    }
}

void ctm__action_rollback(ctm__action *a)
{
    rollback_to_start(a);
}

static int begin(ctm__action *a, ctm_db *db, const char *name, const char *reason, int capture)
{
    memset(a, 0, sizeof *a);
    a->db = db;
    a->name = name;
    a->reason = reason != NULL ? reason : "";
    a->user = db->user != NULL ? db->user : "";
    if (db->readonly)
        return ctm__err(CTM_EMISUSE, "%s: the database is open read-only", name);
    if (db->batch && db->batch_broken)
        return ctm__err(CTM_EMISUSE, "%s: the open batch failed; roll it back", name);
    /* Actions never nest, so inside a batch one savepoint name serves every action. */
    sqlite3_stmt *st = NULL;
    int rc = CTM_OK;
    if (!db->batch || capture) {
        rc = ctm__stmt(db, db->batch ? CTM_ST_SAVEPOINT : CTM_ST_BEGIN, &st);
        if (rc == CTM_OK)
            rc = ctm__step(db, st, name);
        a->savepoint = db->batch;
    }
    if (rc == CTM_OK && !db->batch) {
        db->tx_open = 1;
        db->frontier_loaded = 0;
    }
    if (rc != CTM_OK)
        return rc;
    a->open = 1;
    if (!capture)
        return CTM_OK;
    int src = sqlite3session_create(db->sql, "main", &a->session);
    if (src == SQLITE_OK) {
        sqlite3session_table_filter(a->session, session_filter, NULL);
        src = sqlite3session_attach(a->session, NULL);
    }
    if (src != SQLITE_OK) {
        rc = ctm__sqlerr(db->sql, src, "starting change capture");
        rollback_to_start(a);
    }
    return rc;
}

int ctm__action_begin(ctm__action *a, ctm_db *db, const char *name, const char *reason)
{
    return begin(a, db, name, reason, 1);
}

int ctm__action_begin_entry_only(ctm__action *a, ctm_db *db, const char *name, const char *reason)
{
    return begin(a, db, name, reason, 0);
}

void ctm__action_param(ctm__action *a, const char *key, const char *value)
{
    if (a->nparams < sizeof a->params / sizeof a->params[0]) {
        a->params[a->nparams].key = key;
        a->params[a->nparams].value = value != NULL ? value : "";
        a->nparams++;
    }
}

/* Column names of a table, in column order, cached for runs of changes to one table. */
typedef struct colnames {
    char table[128];
    int n;
    char **names;
} colnames;

static void colnames_clear(colnames *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

static int colnames_load(ctm_db *db, colnames *c, const char *table, int ncol)
{
    if (c->n == ncol && strcmp(c->table, table) == 0)
        return CTM_OK;
    colnames_clear(c);
    c->names = calloc((size_t)ncol, sizeof *c->names);
    if (c->names == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    c->n = ncol;
    snprintf(c->table, sizeof c->table, "%s", table);
    sqlite3_stmt *st = NULL;
    int rc = ctm__stmt(db, CTM_ST_COLUMNS, &st);
    if (rc != CTM_OK)
        return rc;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int i = 0;
    while (sqlite3_step(st) == SQLITE_ROW && i < ncol) {
        c->names[i] = ctm__strdup((const char *)sqlite3_column_text(st, 0));
        if (c->names[i++] == NULL)
            break;
    }
    sqlite3_reset(st);
    if (i != ncol || c->names[ncol - 1] == NULL) {
        colnames_clear(c);
        return ctm__err(CTM_ERROR, "table %s: column names do not match the change", table);
    }
    return CTM_OK;
}

static void to_value(sqlite3_value *sv, ctm__value *v)
{
    memset(v, 0, sizeof *v);
    if (sv == NULL) {
        v->tag = CTM_V_ABSENT;
        return;
    }
    switch (sqlite3_value_type(sv)) {
    case SQLITE_INTEGER:
        v->tag = CTM_V_INT;
        v->i = sqlite3_value_int64(sv);
        break;
    case SQLITE_FLOAT:
        v->tag = CTM_V_REAL;
        v->r = sqlite3_value_double(sv);
        break;
    case SQLITE_TEXT:
        v->tag = CTM_V_TEXT;
        v->p = sqlite3_value_text(sv);
        v->n = (uint32_t)sqlite3_value_bytes(sv);
        break;
    case SQLITE_BLOB:
        v->tag = CTM_V_BLOB;
        v->p = sqlite3_value_blob(sv);
        v->n = (uint32_t)sqlite3_value_bytes(sv);
        break;
    default:
        v->tag = CTM_V_NULL;
        break;
    }
}

/* Write one value; secrets (non-key values of secret tables) go in as their digest only. */
static void put_value(ctm__buf *b, sqlite3_value *sv, int secret)
{
    ctm__value v;
    to_value(sv, &v);
    if (secret && v.tag != CTM_V_ABSENT) {
        uint8_t d[32];
        ctm__value_digest(&v, d);
        ctm__value dv = {.tag = CTM_V_DIGEST, .p = d};
        ctm__buf_value(b, &dv);
        return;
    }
    ctm__buf_value(b, &v);
}

static int put_change(ctm_db *db, ctm__buf *b, sqlite3_changeset_iter *it, colnames *cn)
{
    const char *table;
    int ncol, op, indirect;
    unsigned char *pk;
    int npk;
    sqlite3changeset_op(it, &table, &ncol, &op, &indirect);
    sqlite3changeset_pk(it, &pk, &npk);
    int rc = colnames_load(db, cn, table, ncol);
    if (rc != CTM_OK)
        return rc;
    int secret = ctm__table_is_secret(table);
    sqlite3_value *olds[ncol], *news[ncol];
    uint32_t written = 0;
    for (int i = 0; i < ncol; i++) {
        olds[i] = news[i] = NULL;
        if (op != SQLITE_INSERT)
            sqlite3changeset_old(it, i, &olds[i]);
        if (op != SQLITE_DELETE)
            sqlite3changeset_new(it, i, &news[i]);
        /* An update names its key and the columns it changed; the others stay out. */
        if (op == SQLITE_UPDATE && pk[i])
            news[i] = olds[i];
        if (op != SQLITE_UPDATE || pk[i] || news[i] != NULL)
            written++;
    }
    ctm__buf_str(b, table);
    ctm__buf_u8(b, op == SQLITE_INSERT ? 'I' : op == SQLITE_DELETE ? 'D' : 'U');
    ctm__buf_u32(b, written);
    for (int i = 0; i < ncol; i++) {
        if (op == SQLITE_UPDATE && !pk[i] && news[i] == NULL)
            continue;
        ctm__buf_str(b, cn->names[i]);
        ctm__buf_u8(b, pk[i] ? 1 : 0);
        put_value(b, olds[i], secret && !pk[i]);
        put_value(b, news[i], secret && !pk[i]);
    }
    return CTM_OK;
}

static int put_changes(ctm_db *db, ctm__buf *b, int n, void *p)
{
    size_t count_at = b->n;
    uint32_t count = 0;
    ctm__buf_u32(b, 0);
    sqlite3_changeset_iter *it = NULL;
    int src = sqlite3changeset_start(&it, n, p);
    if (src != SQLITE_OK)
        return ctm__sqlerr(db->sql, src, "reading captured changes");
    colnames cn = {0};
    int rc = CTM_OK;
    while (rc == CTM_OK && sqlite3changeset_next(it) == SQLITE_ROW) {
        rc = put_change(db, b, it, &cn);
        count++;
    }
    src = sqlite3changeset_finalize(it);
    colnames_clear(&cn);
    if (rc == CTM_OK && src != SQLITE_OK)
        rc = ctm__sqlerr(db->sql, src, "reading captured changes");
    if (rc == CTM_OK && !b->oom) {
        uint8_t be[4] = {(uint8_t)(count >> 24), (uint8_t)(count >> 16), (uint8_t)(count >> 8),
                         (uint8_t)count};
        memcpy(b->p + count_at, be, 4);
    }
    return rc;
}

/* The e-signature block; the signature covers every byte before it (audit-format.md). */
static int put_esig(ctm_db *db, ctm__buf *b, const char *meaning)
{
    if (db->user_sk == NULL)
        return ctm__err(CTM_EMISUSE, "e-signature: nobody is logged in");
    uint8_t pub[32], sig[64];
    crypto_sign_ed25519_sk_to_pk(pub, db->user_sk);
    ctm__buf_u8(b, 1);
    ctm__buf_str(b, db->user);
    ctm__buf_str(b, db->user_printed);
    ctm__buf_str(b, meaning);
    ctm__buf_put(b, pub, sizeof pub);
    if (b->oom)
        return ctm__err(CTM_ENOMEM, "out of memory");
    crypto_sign_detached(sig, NULL, b->p, b->n, db->user_sk);
    ctm__buf_put(b, sig, sizeof sig);
    return CTM_OK;
}

static int encode_entry(ctm__action *a, ctm__buf *b, uint64_t seq, int n, void *cs)
{
    ctm__buf_u8(b, CTM_ENTRY_VERSION);
    ctm__buf_u64(b, seq);
    ctm__buf_u64(b, (uint64_t)ctm__now_us());
    ctm__buf_str(b, a->user);
    ctm__buf_str(b, a->name);
    ctm__buf_str(b, a->reason);
    ctm__buf_u32(b, a->nparams);
    for (uint32_t i = 0; i < a->nparams; i++) {
        ctm__buf_str(b, a->params[i].key);
        ctm__buf_str(b, a->params[i].value);
    }
    int rc = put_changes(a->db, b, n, cs);
    if (rc != CTM_OK)
        return rc;
    if (a->esig_meaning != NULL)
        rc = put_esig(a->db, b, a->esig_meaning);
    else
        ctm__buf_u8(b, 0);
    if (rc == CTM_OK && b->oom)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    return rc;
}

static int insert_entry(ctm_db *db, uint64_t seq, const ctm__buf *b)
{
    sqlite3_stmt *st = NULL;
    int rc = ctm__stmt(db, CTM_ST_LEDGER_INSERT, &st);
    if (rc != CTM_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_blob(st, 2, b->p, (int)b->n, SQLITE_STATIC);
    return ctm__step(db, st, "appending to the ledger");
}

int ctm__checkpoint_write(ctm_db *db)
{
    char *origin;
    const unsigned char *sk;
    int rc = ctm__site_info(db, &origin, NULL);
    if (rc == CTM_OK)
        rc = ctm__site_key(db, &sk);
    if (rc != CTM_OK)
        return rc;
    ctm_hash root;
    ctm__frontier_root(&db->frontier, root);
    char *body = ctm__checkpoint_body(origin, db->frontier.size, root);
    char *note = body != NULL ? ctm__note_sign(body, origin, sk) : NULL;
    free(body);
    if (note == NULL)
        return ctm__err(CTM_ENOMEM, "signing the checkpoint: out of memory");
    sqlite3_stmt *st = NULL;
    /* The frontier lives on the newest entry only: take it off the one before this transaction. */
    if (db->tx_start_size > 0 && (rc = ctm__stmt(db, CTM_ST_LEDGER_CLEAR_FRONTIER, &st)) == CTM_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)db->tx_start_size - 1);
        rc = ctm__step(db, st, "storing the checkpoint");
    }
    if (rc == CTM_OK)
        rc = ctm__stmt(db, CTM_ST_LEDGER_SEAL, &st);
    if (rc == CTM_OK) {
        uint8_t fbuf[8 + 64 * CTM_HASH_SIZE];
        size_t flen = ctm__frontier_encode(&db->frontier, fbuf);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)db->frontier.size - 1);
        sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, fbuf, (int)flen, SQLITE_STATIC);
        rc = ctm__step(db, st, "storing the checkpoint");
    }
    free(note);
    return rc;
}

/* Inside a batch: the action's changes stay in the open transaction and its entry goes to the
 * hashing thread; the checkpoint comes with ctm_batch_commit(). */
static int finish_in_batch(ctm__action *a, const ctm__buf *b)
{
    ctm_db *db = a->db;
    sqlite3_stmt *st = NULL;
    int rc = CTM_OK;
    if (a->savepoint) {
        rc = ctm__stmt(db, CTM_ST_RELEASE, &st);
        if (rc == CTM_OK)
            rc = ctm__step(db, st, a->name);
        if (rc != CTM_OK)
            return rc;
    }
    a->open = 0;
    if (db->hasher == NULL)
        rc = ctm__hasher_start(db);
    if (rc == CTM_OK)
        rc = ctm__hasher_push(db, b->p, b->n);
    if (rc != CTM_OK) {
        /* the entry is in the transaction but not in the tree: only a rollback is safe now */
        db->batch_broken = 1;
        return rc;
    }
    db->next_seq++;
    db->batch_entries++;
    return CTM_OK;
}

/* A single action: hash, sign the checkpoint, commit. */
static int finish_alone(ctm__action *a, const ctm__buf *b)
{
    ctm_db *db = a->db;
    ctm_hash leaf;
    ctm__leaf_hash(b->p, b->n, leaf);
    ctm__frontier_append(&db->frontier, leaf);
    sqlite3_stmt *st = NULL;
    int rc = ctm__checkpoint_write(db);
    if (rc == CTM_OK)
        rc = ctm__stmt(db, CTM_ST_COMMIT, &st);
    if (rc == CTM_OK)
        rc = ctm__step(db, st, a->name);
    if (rc != CTM_OK)
        return rc;
    a->open = 0;
    db->tx_open = 0;
    db->frontier_loaded = 0;
    return CTM_OK;
}

int ctm__action_commit(ctm__action *a)
{
    ctm_db *db = a->db;
    void *cs = NULL;
    int ncs = 0, src = SQLITE_OK;
    /* Asking an empty session for its changeset would still run two SQL statements. */
    if (a->session != NULL && !sqlite3session_isempty(a->session))
        src = sqlite3session_changeset(a->session, &ncs, &cs);
    if (a->session != NULL)
        sqlite3session_delete(a->session);
    a->session = NULL;
    if (src != SQLITE_OK) {
        int rc = ctm__sqlerr(db->sql, src, "collecting row changes");
        rollback_to_start(a);
        return rc;
    }
    int rc = CTM_OK;
    if (!db->frontier_loaded) {
        rc = ctm__ledger_state(db, &db->frontier);
        db->frontier_loaded = rc == CTM_OK;
        db->tx_start_size = db->next_seq = db->frontier.size;
    }
    ctm__buf b;
    ctm__buf_init(&b);
    if (rc == CTM_OK)
        rc = encode_entry(a, &b, db->next_seq, ncs, cs);
    sqlite3_free(cs);
    if (rc == CTM_OK)
        rc = insert_entry(db, db->next_seq, &b);
    if (rc == CTM_OK)
        rc = db->batch ? finish_in_batch(a, &b) : finish_alone(a, &b);
    ctm__buf_free(&b);
    if (rc != CTM_OK) {
        rollback_to_start(a);
        return rc;
    }
    /* Rows changed: the acting user's own account may be among them. */
    if (ncs > 0)
        db->user_checked = 0;
    return CTM_OK;
}
