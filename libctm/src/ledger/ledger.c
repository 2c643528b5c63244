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

/* Whether frontier f makes the tree that the signed checkpoint `note` (or NULL) names, its size and
 * root: 1 yes, 0 no, -1 out of memory.  The signature is not checked here (verify does): once
 * set, a checkpoint never changes. */
static int signs_frontier(const char *note, const ctm__frontier *f)
{
    if (note == NULL)
        return 1; /* an entry from before every newest entry carried one */
    char *body = ctm__note_text(note);
    if (body == NULL)
        return strstr(note, "\n\n") != NULL ? -1 : 0; /* no memory; no text */
    char *origin = NULL;
    uint64_t size = 0;
    ctm_hash signed_root, root;
    int ok = ctm__checkpoint_parse(body, &origin, &size, signed_root) == 0 && size == f->size;
    if (ok) {
        ctm__frontier_root(f, root);
        ok = sodium_memcmp(root, signed_root, CTM_HASH_SIZE) == 0;
    }
    free(origin);
    free(body);
    return ok;
}

/* The tree state from the ledger's tail statement, stepped as it stands (a begin may have run it
 * already, ctm__store_begin_read), then reset.  It must be the tree the newest entry's checkpoint
 * signs: the next checkpoint is signed over it, and the stored frontier is not itself protected
 * (libctm moves it from entry to entry, so a server's guard lets it change), so a frontier
 * changed by hand would otherwise have the site key sign a tree the entries do not make. */
static int tail_state(ctm__st *st, ctm__frontier *f)
{
    ctm__frontier_init(f);
    int src = ctm__st_step(st);
    int out = CTM_OK;
    if (src == CTM_ROW) {
        const void *p = ctm__st_blob(st, 1);
        int n = (int)ctm__st_bytes(st, 1);
        int64_t seq = ctm__st_int(st, 0);
        int signed_ok;
        if (p == NULL || ctm__frontier_decode(f, p, (size_t)n) != 0 || (int64_t)f->size != seq + 1)
            out = ctm__err(CTM_EINTEGRITY,
                           "ledger seq %lld: the tree state of the newest entry is missing or damaged",
                           (long long)seq);
        else if ((signed_ok = signs_frontier(ctm__st_text(st, 2), f)) < 0)
            out = ctm__err(CTM_ENOMEM, "out of memory");
        else if (!signed_ok)
            out = ctm__err(CTM_EINTEGRITY,
                           "ledger seq %lld: the tree state of the newest entry is not the tree its "
                           "checkpoint signs (changed outside libctm: run verify)",
                           (long long)seq);
    } else if (src != CTM_OK) {
        out = ctm__store_fail(src, "reading the ledger state");
    }
    ctm__st_reset(st);
    return out;
}

int ctm__ledger_state(ctm_db *db, ctm__frontier *f)
{
    ctm__st *st = NULL;
    ctm__frontier_init(f);
    int rc = ctm__stmt(db, CTM_ST_LEDGER_TAIL, &st);
    return rc == CTM_OK ? tail_state(st, f) : rc;
}

static void rollback_to_start(ctm__action *a)
{
    ctm_db *db = a->db;
    if (a->capture) {
        ctm__store_capture_stop(db->store);
        a->capture = 0;
    }
    /* the recorded changes belong to the action: a failed action discards them */
    ctm__changes_free(&a->changes);
    if (!a->open)
        return;
    a->open = 0;
    if (db->tx.batch) {
        /* an action that writes only its entry took no savepoint and wrote nothing yet */
        if (a->savepoint)
            ctm__store_rollback_savepoint(db->store);
    } else {
        ctm__store_rollback(db->store);
        db->tx.open = 0;
        db->tx.frontier_loaded = 0;
    }
}

void ctm__action_rollback(ctm__action *a)
{
    rollback_to_start(a);
}

/* ---- change capture: the store's row changes, straight into the action's change groups ---- */

/* An audited table as the entry names it: its columns in table order (cached on the handle; the
 * schema is fixed for a schema version). */
typedef struct ctm__tinfo {
    struct ctm__tinfo *next;
    char *name;
    int skip;        /* internal, or no primary key: not recorded */
    int secret;      /* non-key values go in as digests */
    int ncols, cap;
    ctm__column_def *cols; /* names owned */
    uint8_t *head;   /* the encoded group head (ctm__group_head), made once */
    size_t head_n;
} ctm__tinfo;

static void tinfo_free(ctm__tinfo *t)
{
    for (int i = 0; i < t->ncols; i++)
        free((char *)t->cols[i].name);
    free(t->cols);
    free(t->head);
    free(t->name);
    free(t);
}

void ctm__capture_init(ctm_db *db)
{
    db->capture.tables = NULL;
}

void ctm__capture_free(ctm_db *db)
{
    while (db->capture.tables != NULL) {
        ctm__tinfo *next = db->capture.tables->next;
        tinfo_free(db->capture.tables);
        db->capture.tables = next;
    }
}

static int add_column(void *ctx, const char *name, int is_pk)
{
    ctm__tinfo *t = ctx;
    if (t->ncols == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        ctm__column_def *c = realloc(t->cols, (size_t)cap * sizeof *c);
        if (c == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        t->cols = c;
        t->cap = cap;
    }
    ctm__column_def *d = &t->cols[t->ncols];
    d->is_pk = is_pk;
    if ((d->name = ctm__strdup(name)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    t->ncols++;
    return CTM_OK;
}

static ctm__tinfo *tinfo_load(ctm_db *db, const char *table, int *rc)
{
    ctm__tinfo *t = calloc(1, sizeof *t);
    *rc = CTM_OK;
    if (t == NULL || (t->name = ctm__strdup(table)) == NULL) {
        free(t);
        *rc = ctm__err(CTM_ENOMEM, "out of memory");
        return NULL;
    }
    t->skip = ctm__table_is_internal(table);
    t->secret = ctm__table_is_secret(table);
    if (!t->skip) {
        *rc = ctm__store_columns(db->store, table, add_column, t);
        /* a table without a primary key has no key to replay by: not recorded */
        int haspk = 0;
        for (int i = 0; i < t->ncols; i++)
            haspk |= t->cols[i].is_pk;
        t->skip = !haspk;
    }
    if (*rc == CTM_OK && !t->skip) {
        ctm__buf h;
        ctm__buf_init(&h);
        if (ctm__group_head(&h, table, t->cols, (uint32_t)t->ncols) != 0) {
            *rc = h.oom ? ctm__err(CTM_ENOMEM, "out of memory")
                        : ctm__err(CTM_ERROR, "table %s: its name or columns cannot be recorded", table);
            ctm__buf_free(&h);
        } else {
            t->head = h.p;
            t->head_n = h.n;
        }
    }
    if (*rc != CTM_OK) {
        tinfo_free(t);
        return NULL;
    }
    t->next = db->capture.tables;
    db->capture.tables = t;
    return t;
}

static ctm__tinfo *tinfo_find(ctm_db *db, const char *table, int *rc)
{
    for (ctm__tinfo *t = db->capture.tables; t != NULL; t = t->next)
        if (strcmp(t->name, table) == 0)
            return t;
    return tinfo_load(db, table, rc);
}

/* One row change into the action's change groups; a failure stops the capture (the action then
 * fails and rolls back). */
static void put_row(ctm__action *a, const ctm__tinfo *t, char op, const ctm__value *olds,
                    const ctm__value *news)
{
    ctm__changes *c = &a->changes;
    ctm__changes_group(c, t, t->name, t->head, t->head_n);
    if (ctm__changes_row(c, op, t->cols, (uint32_t)t->ncols, olds, news, t->secret) == 0)
        return;
    if (c->buf.oom)
        a->capture_rc = ctm__err(CTM_ENOMEM, "recording row changes: out of memory");
    else
        a->capture_rc = ctm__err(CTM_EINVAL, "recording row changes: %s", c->why);
}

/* The store hands every row change of the open transaction here (store.h). */
static int capture_row(void *ctx, char op, const char *table, int n, const ctm__value *olds_in,
                       const ctm__value *news_in)
{
    ctm__action *a = ctx;
    if (a->capture_rc != CTM_OK)
        return a->capture_rc;
    int rc = CTM_OK;
    ctm__tinfo *t = tinfo_find(a->db, table, &rc);
    if (t == NULL)
        return a->capture_rc = rc;
    if (t->skip)
        return CTM_OK;
    if (n != t->ncols)
        return a->capture_rc = ctm__err(CTM_ERROR, "table %s: column names do not match the change",
                                        table);
    if (op == 'I') {
        put_row(a, t, 'I', NULL, news_in);
    } else if (op == 'D') {
        put_row(a, t, 'D', olds_in, NULL);
    } else {
        ctm__value olds[n], news[n];
        memcpy(olds, olds_in, (size_t)n * sizeof *olds);
        memcpy(news, news_in, (size_t)n * sizeof *news);
        int key_moved = 0, changed = 0;
        for (int i = 0; i < n; i++) {
            int same = ctm__value_equal(&olds[i], &news[i]);
            if (t->cols[i].is_pk)
                key_moved |= !same;
            else
                changed |= !same;
        }
        if (key_moved) {
            /* a row that changes its key leaves one key and arrives at another */
            put_row(a, t, 'D', olds, NULL);
            put_row(a, t, 'I', NULL, news);
        } else if (changed) {
            /* an update records its key and the columns it changed; the rest is ABSENT */
            for (int i = 0; i < n; i++)
                if (!t->cols[i].is_pk && ctm__value_equal(&olds[i], &news[i]))
                    olds[i].tag = news[i].tag = CTM_V_ABSENT;
            put_row(a, t, 'U', olds, news);
        }
        /* an update that changes nothing is not a change */
    }
    return a->capture_rc;
}

static int begin(ctm__action *a, ctm_db *db, const char *name, const char *reason, int capture)
{
    memset(a, 0, sizeof *a);
    a->db = db;
    a->name = name;
    a->reason = reason != NULL ? reason : "";
    a->user = db->session.user != NULL ? db->session.user : "";
    /* A name outside the registry would be an entry nobody documented or knows how to verify. */
    if ((a->def = ctm__action_find(name)) == NULL)
        return ctm__err(CTM_EMISUSE, "action '%s': not in libctm's action registry (ledger/actions.c)",
                        name != NULL ? name : "(null)");
    if (db->readonly)
        return ctm__err(CTM_EMISUSE, "%s: the database is open read-only", name);
    if (db->tx.batch && db->tx.batch_broken)
        return ctm__err(CTM_EMISUSE, "%s: the open batch failed; roll it back", name);
    /* Actions never nest, so inside a batch one savepoint name serves every action. */
    int rc = CTM_OK;
    if (db->tx.batch && capture) {
        if ((rc = ctm__store_savepoint(db->store)) != CTM_OK)
            rc = ctm__store_fail(rc, name);
        a->savepoint = 1;
    } else if (!db->tx.batch) {
        /* The ledger's tail is read under the writer lock, with the BEGIN that takes it (one
         * round trip on a server); ctm__action_commit steps the statement. */
        ctm__st *tail = NULL;
        if ((rc = ctm__stmt(db, CTM_ST_LEDGER_TAIL, &tail)) == CTM_OK &&
            (rc = ctm__store_begin_read(db->store, tail)) != CTM_OK)
            rc = ctm__store_fail(rc, name);
    }
    if (rc == CTM_OK && !db->tx.batch) {
        db->tx.open = 1;
        db->tx.frontier_loaded = 0;
    }
    if (rc != CTM_OK)
        return rc;
    a->open = 1;
    if (!capture)
        return CTM_OK;
    a->capture = 1;
    a->capture_rc = CTM_OK;
    ctm__store_capture_start(db->store, capture_row, a);
    return CTM_OK;
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

/* A salt no entry had before, taken out of the handle's pool (and wiped there). */
static void next_salt(ctm_db *db, uint8_t salt[CTM_ENTRY_SALT_LEN])
{
    if (db->tx.salts_left == 0) {
        randombytes_buf(db->tx.salt_pool, sizeof db->tx.salt_pool);
        db->tx.salts_left = sizeof db->tx.salt_pool / CTM_ENTRY_SALT_LEN;
    }
    uint8_t *p = db->tx.salt_pool + --db->tx.salts_left * CTM_ENTRY_SALT_LEN;
    memcpy(salt, p, CTM_ENTRY_SALT_LEN);
    sodium_memzero(p, CTM_ENTRY_SALT_LEN);
}

/* The e-signature's meaning for the action as it stands (NULL: not signed), by the registry's
 * policy: only a note's meaning is the caller's. */
static int esig_meaning(const ctm__action *a, const char **meaning)
{
    const ctm__action_def *d = a->def;
    *meaning = NULL;
    if (d == NULL)
        return ctm__err(CTM_EMISUSE, "action '%s': not in libctm's action registry", a->name);
    if (d->esig == CTM_ESIG_CALLER) {
        *meaning = a->caller_meaning;
        return CTM_OK;
    }
    if (a->caller_meaning != NULL)
        return ctm__err(CTM_EMISUSE, "%s: its e-signature meaning is the registry's, not the caller's",
                        a->name);
    if (ctm__action_needs_esig(d->name, a->params, a->nparams))
        *meaning = d->meaning;
    return CTM_OK;
}

/* The entry, with ctm__entry_write: salted afresh, and e-signed with the logged-in user's key
 * when the registry says so (the signature covers every byte before it, audit-format.md 4.1). */
static int encode_entry(ctm__action *a, ctm__buf *b, uint64_t seq)
{
    ctm_db *db = a->db;
    const char *meaning;
    int rc = esig_meaning(a, &meaning);
    if (rc != CTM_OK)
        return rc;
    ctm__entry h = {.version = CTM_ENTRY_VERSION, .seq = seq, .time_us = ctm__now_us(),
                    .user = a->user, .action = a->name, .reason = a->reason,
                    .nparams = a->nparams, .params = a->params};
    next_salt(db, h.salt);
    /* the signer: the logged-in user, or the second user the call authenticated (a witness),
     * whose entry it then is */
    const unsigned char *sk = a->signer != NULL ? a->signer->sk : db->session.sk;
    if (a->signer != NULL)
        h.user = a->signer->user;
    if (meaning != NULL) {
        if (sk == NULL) {
            sodium_memzero(h.salt, sizeof h.salt);
            return ctm__err(CTM_EMISUSE, "%s: e-signature: nobody is logged in", a->name);
        }
        h.has_esig = 1;
        h.esig.user = a->signer != NULL ? a->signer->user : db->session.user;
        h.esig.printed_name = a->signer != NULL ? a->signer->printed : db->session.printed;
        h.esig.meaning = meaning;
        crypto_sign_ed25519_sk_to_pk(h.esig.public_key, sk);
    }
    size_t start = 0;
    int bad = ctm__entry_write(b, &h, &a->changes, &start);
    sodium_memzero(h.salt, sizeof h.salt);
    if (bad != 0)
        return b->oom ? ctm__err(CTM_ENOMEM, "out of memory")
                      : ctm__err(CTM_EINVAL, "%s: the action's entry cannot be encoded", a->name);
    if (h.has_esig) {
        uint8_t sig[64];
        crypto_sign_detached(sig, NULL, b->p + start, b->n - start, sk);
        ctm__buf_put(b, sig, sizeof sig);
    }
    return b->oom ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
}

static int insert_entry(ctm_db *db, uint64_t seq, const ctm__buf *b)
{
    ctm__st *st = NULL;
    int rc = ctm__stmt(db, CTM_ST_LEDGER_INSERT, &st);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, (int64_t)seq);
    ctm__st_bind_blob(st, 2, b->p, b->n);
    return ctm__step(db, st, "appending to the ledger");
}

/* The signed checkpoint of the tree as it stands (malloc'd note). */
static int checkpoint_note(ctm_db *db, char **note_out)
{
    char *origin;
    const unsigned char *sk;
    *note_out = NULL;
    int rc = ctm__site_info(db, &origin, NULL);
    if (rc == CTM_OK)
        rc = ctm__site_key(db, &sk);
    if (rc != CTM_OK)
        return rc;
    ctm_hash root;
    ctm__frontier_root(&db->tx.frontier, root);
    char *body = ctm__checkpoint_body(origin, db->tx.frontier.size, root,
                                      (int64_t)db->tx.start_size);
    char *note = body != NULL ? ctm__note_sign(body, origin, sk) : NULL;
    free(body);
    if (note == NULL)
        return ctm__err(CTM_ENOMEM, "signing the checkpoint: out of memory");
    *note_out = note;
    return CTM_OK;
}

/* The checkpoint's note, and its frontier moved off the newest entry before this transaction:
 * the frontier lives on the newest entry only. */
static int checkpoint_prepare(ctm_db *db, char **note_out)
{
    char *note;
    *note_out = NULL;
    int rc = checkpoint_note(db, &note);
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    if (db->tx.start_size > 0 && (rc = ctm__stmt(db, CTM_ST_LEDGER_CLEAR_FRONTIER, &st)) == CTM_OK) {
        ctm__st_bind_int(st, 1, (int64_t)db->tx.start_size - 1);
        rc = ctm__step(db, st, "storing the checkpoint");
    }
    if (rc != CTM_OK) {
        free(note);
        return rc;
    }
    *note_out = note;
    return CTM_OK;
}

int ctm__checkpoint_write(ctm_db *db)
{
    char *note;
    int rc = checkpoint_prepare(db, &note);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__stmt(db, CTM_ST_LEDGER_SEAL, &st);
    if (rc == CTM_OK) {
        uint8_t fbuf[8 + 64 * CTM_HASH_SIZE];
        size_t flen = ctm__frontier_encode(&db->tx.frontier, fbuf);
        ctm__st_bind_int(st, 1, (int64_t)db->tx.frontier.size - 1);
        ctm__st_bind_text(st, 2, note);
        ctm__st_bind_blob(st, 3, fbuf, flen);
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
    int rc = CTM_OK;
    if (a->savepoint && (rc = ctm__store_release(db->store)) != CTM_OK)
        return ctm__store_fail(rc, a->name);
    a->open = 0;
    if (db->hasher.pipe == NULL)
        rc = ctm__hasher_start(db);
    if (rc == CTM_OK)
        rc = ctm__hasher_push(db, b->p, b->n);
    if (rc != CTM_OK) {
        /* the entry is in the transaction but not in the tree: only a rollback is safe now */
        db->tx.batch_broken = 1;
        return rc;
    }
    db->tx.next_seq++;
    db->tx.batch_entries++;
    return CTM_OK;
}

/* Hash the entry, sign the checkpoint, then insert the entry with its checkpoint and the frontier
 * in one row (an UPDATE afterwards would rewrite a large entry's overflow pages). */
static int append_sealed(ctm_db *db, const ctm__buf *b)
{
    ctm_hash leaf;
    ctm__leaf_hash(b->p, b->n, leaf);
    ctm__frontier_append(&db->tx.frontier, leaf);
    char *note;
    ctm__st *st = NULL;
    int rc = checkpoint_prepare(db, &note);
    if (rc != CTM_OK)
        return rc;
    if ((rc = ctm__stmt(db, CTM_ST_LEDGER_INSERT_SEALED, &st)) == CTM_OK) {
        uint8_t fbuf[8 + 64 * CTM_HASH_SIZE];
        size_t flen = ctm__frontier_encode(&db->tx.frontier, fbuf);
        ctm__st_bind_int(st, 1, (int64_t)db->tx.next_seq);
        ctm__st_bind_blob(st, 2, b->p, b->n);
        ctm__st_bind_text(st, 3, note);
        ctm__st_bind_blob(st, 4, fbuf, flen);
        rc = ctm__step(db, st, "appending to the ledger");
    }
    free(note);
    return rc;
}

/* A single action: its entry sealed with its checkpoint (as append_sealed), the frontier cleared
 * off the previous newest entry, and the commit, sent together (one round trip on a server).  The
 * clearing is the store's tidy statement: on a server it runs after the COMMIT, outside the writer
 * lock, so that for a moment (or, after a crash then, for good) the previous entry keeps a
 * frontier too; every stored frontier is the tree's at its entry, and verify checks each. */
static int finish_alone(ctm__action *a, const ctm__buf *b)
{
    ctm_db *db = a->db;
    ctm_hash leaf;
    ctm__leaf_hash(b->p, b->n, leaf);
    ctm__frontier_append(&db->tx.frontier, leaf);
    char *note;
    int rc = checkpoint_note(db, &note);
    if (rc != CTM_OK)
        return rc;
    ctm__st *insert = NULL, *clear = NULL;
    uint8_t fbuf[8 + 64 * CTM_HASH_SIZE];
    size_t flen = ctm__frontier_encode(&db->tx.frontier, fbuf);
    if (db->tx.start_size > 0 && (rc = ctm__stmt(db, CTM_ST_LEDGER_CLEAR_FRONTIER, &clear)) == CTM_OK)
        ctm__st_bind_int(clear, 1, (int64_t)db->tx.start_size - 1);
    if (rc == CTM_OK && (rc = ctm__stmt(db, CTM_ST_LEDGER_INSERT_SEALED, &insert)) == CTM_OK) {
        ctm__st_bind_int(insert, 1, (int64_t)db->tx.next_seq);
        ctm__st_bind_blob(insert, 2, b->p, b->n);
        ctm__st_bind_text(insert, 3, note);
        ctm__st_bind_blob(insert, 4, fbuf, flen);
    }
    if (rc == CTM_OK && (rc = ctm__store_commit_after(db->store, &insert, 1, clear)) != CTM_OK) {
        rc = ctm__store_fail(rc, a->name);
    } else if (rc != CTM_OK) {
        if (clear != NULL)
            ctm__st_reset(clear);
        if (insert != NULL)
            ctm__st_reset(insert);
    }
    free(note);
    if (rc != CTM_OK)
        return rc;
    a->open = 0;
    db->tx.open = 0;
    db->tx.frontier_loaded = 0;
    return CTM_OK;
}

int ctm__action_commit(ctm__action *a)
{
    ctm_db *db = a->db;
    if (a->capture) {
        int rc = ctm__store_capture_collect(db->store);
        if (rc != CTM_OK && a->capture_rc == CTM_OK)
            a->capture_rc = rc;
        ctm__store_capture_stop(db->store);
        a->capture = 0;
    }
    if (a->capture_rc != CTM_OK) {
        int rc = a->capture_rc;
        rollback_to_start(a);
        return rc;
    }
    int rc = CTM_OK;
    if (!db->tx.frontier_loaded) {
        /* outside a batch, begin() ran the tail statement (or left it for this step) */
        rc = db->tx.batch ? ctm__ledger_state(db, &db->tx.frontier)
                          : tail_state(ctm__stmt_as_is(db, CTM_ST_LEDGER_TAIL), &db->tx.frontier);
        db->tx.frontier_loaded = rc == CTM_OK;
        db->tx.start_size = db->tx.next_seq = db->tx.frontier.size;
    }
    ctm__buf b;
    ctm__buf_init(&b);
    if (rc == CTM_OK)
        rc = encode_entry(a, &b, db->tx.next_seq);
    uint32_t nrows = a->changes.nrows;
    ctm__changes_free(&a->changes);
    if (rc == CTM_OK && db->tx.batch)
        rc = insert_entry(db, db->tx.next_seq, &b);
    if (rc == CTM_OK)
        rc = db->tx.batch ? finish_in_batch(a, &b) : finish_alone(a, &b);
    ctm__buf_free(&b);
    if (rc != CTM_OK) {
        rollback_to_start(a);
        return rc;
    }
    /* Rows changed: the acting user's own account may be among them. */
    if (nrows > 0)
        db->tx.epoch++;
    return CTM_OK;
}

int ctm__ledger_upgrade(ctm_db *db, int from, int to)
{
    int rc = ctm__ledger_state(db, &db->tx.frontier);
    if (rc != CTM_OK || db->tx.frontier.size == 0)
        return rc;
    const unsigned char *sk;
    if ((rc = ctm__site_key(db, &sk)) != CTM_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", ctm_errmsg());
        return ctm__err(rc, "%s: moving to schema version %d appends a signed ledger.upgrade "
                            "entry and needs the site key: %s", db->path, to, why);
    }
    db->tx.start_size = db->tx.next_seq = db->tx.frontier.size;
    ctm__action a;
    memset(&a, 0, sizeof a);
    a.db = db;
    a.name = "ledger.upgrade";
    a.def = ctm__action_find(a.name);
    a.user = "";
    a.reason = "";
    char sfrom[12], sto[12];
    snprintf(sfrom, sizeof sfrom, "%d", from);
    snprintf(sto, sizeof sto, "%d", to);
    ctm__action_param(&a, "from", sfrom);
    ctm__action_param(&a, "to", sto);
    /* The rows the migrations derive from the site's rows (schema.c) are this entry's changes,
     * so that a replay of the ledger holds them as the site does. */
    for (int v = from; v < to && rc == CTM_OK; v++) {
        const char *sql = ctm__schema_derivation(v);
        if (sql == NULL)
            continue;
        if (!a.capture && (rc = ctm__store_capture_start(db->store, capture_row, &a)) != CTM_OK)
            break;
        a.capture = 1;
        if ((rc = ctm__store_exec(db->store, sql)) != CTM_OK)
            rc = ctm__store_fail(rc, "ledger.upgrade: deriving the new tables' rows");
    }
    if (a.capture) {
        int crc = ctm__store_capture_collect(db->store);
        ctm__store_capture_stop(db->store);
        if (rc == CTM_OK)
            rc = crc != CTM_OK ? crc : a.capture_rc;
    }
    ctm__buf b;
    ctm__buf_init(&b);
    if (rc == CTM_OK)
        rc = encode_entry(&a, &b, db->tx.next_seq);
    ctm__changes_free(&a.changes);
    if (rc == CTM_OK)
        rc = append_sealed(db, &b);
    ctm__buf_free(&b);
    return rc;
}

int ctm__ledger_legacy(ctm_db *db, int *legacy)
{
    ctm__st *st = NULL;
    *legacy = 0;
    int rc = ctm__prepare(db, &st, "SELECT substr(entry, 1, 1) FROM ledger WHERE seq = 0");
    if (rc != CTM_OK)
        return rc;
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        const uint8_t *p = ctm__st_blob(st, 0);
        *legacy = (int)ctm__st_bytes(st, 0) == 1 && p[0] == CTM_ENTRY_VERSION_LEGACY;
    }
    ctm__st_finalize(st);
    return src == CTM_ROW || src == CTM_OK ? CTM_OK
                                                   : ctm__store_fail(src, "reading the ledger");
}

/* ---- the handle's transaction part ---- */

void ctm__txn_init(ctm_db *db)
{
    memset(&db->tx, 0, sizeof db->tx);
    ctm__frontier_init(&db->tx.frontier);
}

void ctm__txn_free(ctm_db *db)
{
    sodium_memzero(db->tx.salt_pool, sizeof db->tx.salt_pool);
    db->tx.salts_left = 0;
}

void ctm__txn_batch_start(ctm_db *db)
{
    db->tx.batch = 1;
    db->tx.open = 1;
    db->tx.batch_entries = 0;
    db->tx.frontier_loaded = 0;
}

int ctm__txn_batch_seal(ctm_db *db)
{
    if (db->tx.batch_broken)
        return ctm__err(CTM_ERROR, "batch commit: an entry of the batch could not be hashed; "
                                   "the batch was rolled back");
    if (db->hasher.pipe != NULL) {
        ctm__hasher_finish(db, &db->tx.frontier);
        if (db->tx.frontier.size != db->tx.next_seq)
            return ctm__err(CTM_ERROR, "batch commit: %llu entries hashed of %llu",
                            (unsigned long long)db->tx.frontier.size,
                            (unsigned long long)db->tx.next_seq);
    }
    return db->tx.batch_entries > 0 ? ctm__checkpoint_write(db) : CTM_OK;
}

void ctm__txn_batch_end(ctm_db *db)
{
    ctm__hasher_abort(db);
    db->tx.batch_broken = 0;
    db->tx.batch = 0;
    db->tx.open = 0;
    db->tx.batch_entries = 0;
    db->tx.frontier_loaded = 0;
    db->tx.epoch++;
}
