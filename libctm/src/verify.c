/* verify.c - offline verification: every entry, every root, every signature, every row. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"

/* What one verification run carries.  The replay database is a fresh in-memory schema built from
 * the library's own migrations; the database under test is attached to it as "live", so both are
 * read in one snapshot. */
typedef struct vstate {
    sqlite3 *sql;                /* main = replay, live = the database under test */
    char *origin;
    uint8_t pub[32];
    ctm__frontier frontier;
    ctm_verify_result r;
    uint64_t last_checkpoint;    /* size of the newest checkpoint seen so far */
    int64_t frontier_seq;        /* the entry carrying the stored tree state, or -1 */
    /* the checkpoint held outside */
    int have_held;
    uint64_t held_size;
    ctm_hash held_root;
    ctm_hash *leaves;            /* kept only when a held checkpoint needs a consistency proof */
    size_t leaves_cap;
    /* replay statements by their SQL text: a log repeats the same few shapes of change, so
     * each is checked against the schema and prepared once */
    struct replay_stmt {
        char *sql;
        sqlite3_stmt *st;
    } replay[16];
    unsigned replay_next;
} vstate;

static int fail(vstate *v, int64_t seq, const char *table, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(vstate *v, int64_t seq, const char *table, const char *key, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->r.failed_seq = seq;
    snprintf(v->r.failed_table, sizeof v->r.failed_table, "%s", table != NULL ? table : "");
    snprintf(v->r.failed_key, sizeof v->r.failed_key, "%s", key != NULL ? key : "");
    char where[300] = "";
    if (seq >= 0)
        snprintf(where, sizeof where, "seq %lld: ", (long long)seq);
    if (table != NULL) {
        size_t n = strlen(where);
        snprintf(where + n, sizeof where - n, "table %s%s%s: ", table, key != NULL ? ", key " : "",
                 key != NULL ? key : "");
    }
    return ctm__err(CTM_EINTEGRITY, "verify: %s%s", where, msg);
}

/* ---- keys and checkpoints ---- */

static int load_key(vstate *v, ctm_db *db, const char *vkey)
{
    if (vkey != NULL) {
        if (ctm__note_vkey_parse(vkey, &v->origin, v->pub) != 0)
            return ctm__err(CTM_EINVAL, "verifier key: not a valid Ed25519 verifier key "
                                        "(expected <name>+<key id>+<base64 key>)");
        return CTM_OK;
    }
    char *origin;
    int rc = ctm__site_info(db, &origin, v->pub);
    if (rc == CTM_EMISUSE)
        return rc;
    if (rc != CTM_OK)
        return rc;
    v->r.key_from_database = 1;
    v->origin = ctm__strdup(origin);
    return v->origin != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

/* Check a signed checkpoint note and return its size and root. */
static int open_checkpoint(vstate *v, const char *note, uint64_t *size, ctm_hash root)
{
    char *body = NULL, *origin = NULL;
    int ok = ctm__note_verify(note, v->origin, v->pub, &body) == 0 &&
             ctm__checkpoint_parse(body, &origin, size, root) == 0 && strcmp(origin, v->origin) == 0;
    free(body);
    free(origin);
    return ok ? 0 : -1;
}

/* The checkpoint stored on the entry that ends a transaction: signed by the site over the
 * root of the entries so far; and, on the newest entry, the stored tree state. */
static int check_checkpoint_at(vstate *v, uint64_t size, const char *note, const void *frontier,
                               int frontier_len)
{
    ctm_hash root;
    int need_root = note != NULL || (v->have_held && v->held_size == size);
    if (need_root)
        ctm__frontier_root(&v->frontier, root);
    if (note != NULL) {
        uint64_t csize;
        ctm_hash croot;
        if (open_checkpoint(v, note, &csize, croot) != 0)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint does not verify with the site key %s", v->origin);
        if (csize != size || sodium_memcmp(croot, root, CTM_HASH_SIZE) != 0)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint signs another tree than the entries up to here make");
        v->r.checkpoints++;
        v->last_checkpoint = size;
    }
    if (v->have_held && v->held_size == size &&
        sodium_memcmp(v->held_root, root, CTM_HASH_SIZE) != 0)
        return fail(v, (int64_t)size - 1, NULL, NULL,
                    "the log at size %llu differs from the checkpoint held outside: entries were "
                    "rewritten",
                    (unsigned long long)size);
    if (frontier != NULL) {
        uint8_t buf[8 + 64 * CTM_HASH_SIZE];
        size_t len = ctm__frontier_encode(&v->frontier, buf);
        if (v->frontier_seq >= 0 || (size_t)frontier_len != len || memcmp(frontier, buf, len) != 0)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the stored tree state does not match the entries");
        v->frontier_seq = (int64_t)size - 1;
    }
    return CTM_OK;
}

/* ---- replay of row changes ---- */

static int table_known(vstate *v, const char *table)
{
    sqlite3_stmt *st = NULL;
    int known = 0;
    if (ctm__table_is_internal(table))
        return 0;
    if (sqlite3_prepare_v2(v->sql, "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        known = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return known;
}

static int column_known(vstate *v, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int known = 0;
    if (sqlite3_prepare_v2(v->sql, "SELECT 1 FROM pragma_table_info(?1, 'main') WHERE name = ?2", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        known = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return known;
}

static void bind_value(sqlite3_stmt *st, int idx, const ctm__value *val)
{
    switch (val->tag) {
    case CTM_V_INT:
        sqlite3_bind_int64(st, idx, val->i);
        break;
    case CTM_V_REAL:
        sqlite3_bind_double(st, idx, val->r);
        break;
    case CTM_V_TEXT:
        sqlite3_bind_text(st, idx, (const char *)val->p, (int)val->n, SQLITE_STATIC);
        break;
    case CTM_V_BLOB:
        sqlite3_bind_blob(st, idx, val->p, (int)val->n, SQLITE_STATIC);
        break;
    case CTM_V_DIGEST:
        sqlite3_bind_blob(st, idx, val->p, CTM_HASH_SIZE, SQLITE_STATIC);
        break;
    default:
        sqlite3_bind_null(st, idx);
        break;
    }
}

static void key_text(const ctm__row_change *c, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < c->ncols && n + 1 < len; i++) {
        if (!c->cols[i].is_pk)
            continue;
        const ctm__value *val = c->op == 'I' ? &c->cols[i].new_value : &c->cols[i].old_value;
        if (val->tag == CTM_V_INT)
            n += (size_t)snprintf(out + n, len - n, "%s%s=%lld", n ? "," : "", c->cols[i].name,
                                  (long long)val->i);
        else if (val->tag == CTM_V_TEXT)
            n += (size_t)snprintf(out + n, len - n, "%s%s=%.*s", n ? "," : "", c->cols[i].name,
                                  (int)(val->n > 60 ? 60 : val->n), (const char *)val->p);
        else
            n += (size_t)snprintf(out + n, len - n, "%s%s=?", n ? "," : "", c->cols[i].name);
    }
}

/* Build the SQL that applies one change.  Names were checked against the replay schema. */
static int change_sql(const ctm__row_change *c, ctm__buf *sql)
{
    int first = 1;
    if (c->op == 'I') {
        ctm__buf_put(sql, "INSERT INTO main.\"", 18);
        ctm__buf_put(sql, c->table, strlen(c->table));
        ctm__buf_put(sql, "\" (", 3);
        for (uint32_t i = 0; i < c->ncols; i++) {
            ctm__buf_put(sql, first ? "\"" : ",\"", first ? 1 : 2);
            ctm__buf_put(sql, c->cols[i].name, strlen(c->cols[i].name));
            ctm__buf_put(sql, "\"", 1);
            first = 0;
        }
        ctm__buf_put(sql, ") VALUES (", 10);
        for (uint32_t i = 0; i < c->ncols; i++)
            ctm__buf_put(sql, i ? ",?" : "?", i ? 2 : 1);
        ctm__buf_put(sql, ")", 1);
    } else {
        if (c->op == 'D') {
            ctm__buf_put(sql, "DELETE FROM main.\"", 18);
            ctm__buf_put(sql, c->table, strlen(c->table));
            ctm__buf_put(sql, "\"", 1);
        } else {
            ctm__buf_put(sql, "UPDATE main.\"", 13);
            ctm__buf_put(sql, c->table, strlen(c->table));
            ctm__buf_put(sql, "\" SET ", 6);
            for (uint32_t i = 0; i < c->ncols; i++) {
                ctm__buf_put(sql, first ? "\"" : ",\"", first ? 1 : 2);
                ctm__buf_put(sql, c->cols[i].name, strlen(c->cols[i].name));
                ctm__buf_put(sql, "\" = ?", 5);
                first = 0;
            }
        }
        /* Every recorded old value must be what the replay holds: the entries chain. */
        ctm__buf_put(sql, " WHERE ", 7);
        for (uint32_t i = 0; i < c->ncols; i++) {
            ctm__buf_put(sql, i ? " AND \"" : "\"", i ? 6 : 1);
            ctm__buf_put(sql, c->cols[i].name, strlen(c->cols[i].name));
            ctm__buf_put(sql, "\" IS ?", 6);
        }
    }
    ctm__buf_u8(sql, 0);
    return sql->oom ? -1 : 0;
}

/* The prepared statement that applies c: from the cache, or checked against the replay schema
 * (the names in the SQL come from the entry), prepared and cached. */
static int replay_stmt(vstate *v, uint64_t seq, const ctm__row_change *c, const char *key,
                       sqlite3_stmt **out)
{
    ctm__buf sql;
    ctm__buf_init(&sql);
    if (change_sql(c, &sql) != 0) {
        ctm__buf_free(&sql);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof v->replay / sizeof v->replay[0]; i++)
        if (v->replay[i].sql != NULL && strcmp(v->replay[i].sql, (const char *)sql.p) == 0) {
            ctm__buf_free(&sql);
            sqlite3_reset(v->replay[i].st);
            sqlite3_clear_bindings(v->replay[i].st);
            *out = v->replay[i].st;
            return CTM_OK;
        }
    int rc = CTM_OK;
    if (!table_known(v, c->table))
        rc = fail(v, (int64_t)seq, c->table, key, "the entry changes a table libctm does not have");
    for (uint32_t i = 0; rc == CTM_OK && i < c->ncols; i++)
        if (!column_known(v, c->table, c->cols[i].name))
            rc = fail(v, (int64_t)seq, c->table, key, "unknown column %s", c->cols[i].name);
    sqlite3_stmt *st = NULL;
    if (rc == CTM_OK && sqlite3_prepare_v2(v->sql, (const char *)sql.p, -1, &st, NULL) != SQLITE_OK)
        rc = fail(v, (int64_t)seq, c->table, key, "cannot replay: %s", sqlite3_errmsg(v->sql));
    if (rc != CTM_OK) {
        ctm__buf_free(&sql);
        return rc;
    }
    struct replay_stmt *slot = &v->replay[v->replay_next++ % (sizeof v->replay / sizeof v->replay[0])];
    free(slot->sql);
    sqlite3_finalize(slot->st);
    slot->sql = (char *)sql.p; /* the buffer is NUL-terminated by change_sql */
    slot->st = st;
    *out = st;
    return CTM_OK;
}

static int apply_change(vstate *v, uint64_t seq, const ctm__row_change *c)
{
    char key[128];
    key_text(c, key, sizeof key);
    sqlite3_stmt *st = NULL;
    int rc = replay_stmt(v, seq, c, key, &st);
    if (rc != CTM_OK)
        return rc;
    int idx = 1;
    if (c->op != 'D')
        for (uint32_t i = 0; i < c->ncols; i++)
            bind_value(st, idx++, &c->cols[i].new_value);
    if (c->op != 'I')
        for (uint32_t i = 0; i < c->ncols; i++)
            bind_value(st, idx++, &c->cols[i].old_value);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = fail(v, (int64_t)seq, c->table, key, "cannot replay the %s: %s",
                  c->op == 'I' ? "insert" : c->op == 'U' ? "update" : "delete",
                  sqlite3_errmsg(v->sql));
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (sqlite3_changes(v->sql) != 1)
        return fail(v, (int64_t)seq, c->table, key,
                    "the entry's old values do not match the row as the ledger left it");
    return CTM_OK;
}

/* The signer's key must be the one the ledger gave that user by then. */
static int check_esig(vstate *v, const ctm__entry *e, const uint8_t *p, size_t n)
{
    size_t signed_len = ctm__entry_signed_len(n);
    if (crypto_sign_verify_detached(e->esig.signature, p, signed_len, e->esig.public_key) != 0)
        return fail(v, (int64_t)e->seq, NULL, NULL, "the e-signature of %s does not verify",
                    e->esig.user);
    if (strcmp(e->esig.user, e->user) != 0)
        return fail(v, (int64_t)e->seq, NULL, NULL, "signed by %s but recorded as done by %s",
                    e->esig.user, e->user);
    sqlite3_stmt *st = NULL;
    int key_ok = 0, name_ok = 0, enabled = 0;
    if (sqlite3_prepare_v2(v->sql,
                           "SELECT public_key, printed_name, disabled FROM main.users"
                           " WHERE username = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, e->esig.user, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            key_ok = sqlite3_column_bytes(st, 0) == 32 &&
                     memcmp(sqlite3_column_blob(st, 0), e->esig.public_key, 32) == 0;
            const char *printed = (const char *)sqlite3_column_text(st, 1);
            name_ok = printed != NULL && strcmp(printed, e->esig.printed_name) == 0;
            enabled = sqlite3_column_int(st, 2) == 0;
        }
    }
    sqlite3_finalize(st);
    if (!key_ok)
        return fail(v, (int64_t)e->seq, "users", e->esig.user,
                    "the e-signature key is not the key of user %s at that time", e->esig.user);
    if (!name_ok || !enabled)
        return fail(v, (int64_t)e->seq, "users", e->esig.user,
                    "the e-signature of %s shows another printed name, or the account was disabled",
                    e->esig.user);
    v->r.esignatures++;
    return CTM_OK;
}

/* The actions libctm always e-signs (docs/audit-format.md): one missing its signature was
 * written by something else. */
static int needs_esig(const ctm__entry *e)
{
    static const char *const signed_actions[] = {"site.init",        "user.add",
                                                 "user.disable",     "user.enable",
                                                 "user.role",        "shipment.confirm",
                                                 "expiry.extend",    "shipment.receive_bulk",
                                                 "shipment.void",    NULL};
    for (int i = 0; signed_actions[i] != NULL; i++)
        if (strcmp(e->action, signed_actions[i]) == 0)
            return 1;
    if (strcmp(e->action, "user.passwd") == 0)
        for (uint32_t i = 0; i < e->nparams; i++)
            if (strcmp(e->params[i].key, "new_signing_key") == 0)
                return strcmp(e->params[i].value, "yes") == 0;
    return 0;
}

static int keep_leaf(vstate *v, uint64_t seq, const ctm_hash leaf)
{
    if (!v->have_held)
        return CTM_OK;
    if (seq >= v->leaves_cap) {
        size_t cap = v->leaves_cap ? v->leaves_cap * 2 : 1024;
        ctm_hash *l = realloc(v->leaves, cap * sizeof *l);
        if (l == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        v->leaves = l;
        v->leaves_cap = cap;
    }
    memcpy(v->leaves[seq], leaf, CTM_HASH_SIZE);
    return CTM_OK;
}

/* ---- the tree, on the pipe's worker ----
 *
 * Hashing the entries and checking the roots, the checkpoint signatures and the stored tree
 * state need nothing from the replay, so they run on a second thread while this one decodes and
 * replays.  The worker has its own vstate for the tree; the first failure on either side wins by
 * its seq. */

typedef struct vtree {
    vstate t;       /* frontier, checkpoints, held checkpoint and leaves; origin and key borrowed */
    int rc;         /* the worker's first failure, or CTM_OK */
    char msg[1024]; /* its message (the worker's own thread-local error) */
} vtree;

/* A record for the worker: u64 seq, u8 has_note, u8 has_frontier, then three u32 lengths and the
 * entry, the note (with its NUL) and the frontier. */
static int push_tree(ctm__pipe *p, uint64_t seq, sqlite3_stmt *row)
{
    uint8_t head[8 + 2 + 12];
    const void *entry = sqlite3_column_blob(row, 1), *note = sqlite3_column_text(row, 2);
    const void *fr = sqlite3_column_blob(row, 3);
    uint32_t elen = (uint32_t)sqlite3_column_bytes(row, 1);
    uint32_t nlen = note != NULL ? (uint32_t)sqlite3_column_bytes(row, 2) + 1 : 0;
    uint32_t flen = (uint32_t)sqlite3_column_bytes(row, 3);
    memcpy(head, &seq, 8);
    head[8] = note != NULL;
    head[9] = sqlite3_column_type(row, 3) != SQLITE_NULL;
    memcpy(head + 10, &elen, 4);
    memcpy(head + 14, &nlen, 4);
    memcpy(head + 18, &flen, 4);
    const void *parts[4] = {head, entry, note, fr};
    size_t lens[4] = {sizeof head, elen, nlen, flen};
    return ctm__pipe_push(p, parts, lens, 4);
}

static void tree_consume(void *ctx, const uint8_t *rec, size_t len)
{
    vtree *w = ctx;
    (void)len;
    if (w->rc != CTM_OK)
        return;
    uint64_t seq;
    uint32_t elen, nlen, flen;
    memcpy(&seq, rec, 8);
    int has_note = rec[8], has_frontier = rec[9];
    memcpy(&elen, rec + 10, 4);
    memcpy(&nlen, rec + 14, 4);
    memcpy(&flen, rec + 18, 4);
    const uint8_t *entry = rec + 22, *note = entry + elen, *fr = note + nlen;
    ctm_hash leaf;
    ctm__leaf_hash(entry, elen, leaf);
    int rc = keep_leaf(&w->t, seq, leaf);
    if (rc == CTM_OK) {
        ctm__frontier_append(&w->t.frontier, leaf);
        rc = check_checkpoint_at(&w->t, seq + 1, has_note ? (const char *)note : NULL,
                                 has_frontier ? (const void *)fr : NULL, (int)flen);
    }
    if (rc != CTM_OK) {
        w->rc = rc;
        snprintf(w->msg, sizeof w->msg, "%s", ctm_errmsg());
    }
}

/* Decode, check and replay one entry; the tree side goes to the worker. */
static int check_entry(vstate *v, uint64_t seq, sqlite3_stmt *row)
{
    const uint8_t *p = sqlite3_column_blob(row, 1);
    size_t n = (size_t)sqlite3_column_bytes(row, 1);
    ctm__entry e;
    char why[128];
    if (ctm__entry_decode(&e, p, n, why, sizeof why) != 0)
        return fail(v, (int64_t)seq, "ledger", NULL, "the entry cannot be decoded: %s", why);
    int rc = CTM_OK;
    if (e.seq != seq)
        rc = fail(v, (int64_t)seq, "ledger", NULL,
                  "the entry stored here is seq %llu: entries were moved or reordered",
                  (unsigned long long)e.seq);
    for (uint32_t i = 0; rc == CTM_OK && i < e.nchanges; i++)
        rc = apply_change(v, seq, &e.changes[i]);
    if (rc == CTM_OK && e.has_esig)
        rc = check_esig(v, &e, p, n);
    else if (rc == CTM_OK && needs_esig(&e))
        rc = fail(v, (int64_t)seq, "ledger", NULL, "the action %s carries no e-signature",
                  e.action);
    ctm__entry_free(&e);
    if (rc == CTM_OK)
        v->r.entries++;
    return rc;
}

static int walk_rows(vstate *v, ctm__pipe *pipe)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, "SELECT seq, entry, checkpoint, frontier FROM live.ledger ORDER BY seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(v, -1, "ledger", NULL, "cannot be read: %s", sqlite3_errmsg(v->sql));
    uint64_t expect = 0;
    int out = CTM_OK;
    while (out == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (seq != (int64_t)expect) {
            out = fail(v, (int64_t)expect, "ledger", NULL,
                       "entry missing (the next stored entry is seq %lld)", (long long)seq);
            break;
        }
        out = check_entry(v, expect, st);
        if (out == CTM_OK)
            out = push_tree(pipe, expect, st);
        expect++;
    }
    if (out == CTM_OK && rc != SQLITE_DONE)
        out = fail(v, (int64_t)expect, "ledger", NULL, "cannot be read: %s", sqlite3_errmsg(v->sql));
    sqlite3_finalize(st);
    return out;
}

static int walk_ledger(vstate *v)
{
    vtree w;
    memset(&w, 0, sizeof w);
    w.t.origin = v->origin;
    memcpy(w.t.pub, v->pub, sizeof w.t.pub);
    w.t.frontier = v->frontier;
    w.t.frontier_seq = -1;
    w.t.r.failed_seq = -1;
    w.t.have_held = v->have_held;
    w.t.held_size = v->held_size;
    memcpy(w.t.held_root, v->held_root, sizeof w.t.held_root);
    ctm__pipe *pipe = NULL;
    int rc = ctm__pipe_start(&pipe, tree_consume, &w);
    if (rc != CTM_OK)
        return rc;
    rc = walk_rows(v, pipe);
    ctm__pipe_finish(pipe);
    /* the tree's state is the run's; the earlier of the two failures is the one reported */
    v->frontier = w.t.frontier;
    v->last_checkpoint = w.t.last_checkpoint;
    v->frontier_seq = w.t.frontier_seq;
    v->r.checkpoints = w.t.r.checkpoints;
    v->leaves = w.t.leaves;
    v->leaves_cap = w.t.leaves_cap;
    if (w.rc != CTM_OK && (rc == CTM_OK || w.t.r.failed_seq < v->r.failed_seq ||
                           v->r.failed_seq < 0)) {
        v->r.failed_seq = w.t.r.failed_seq;
        memcpy(v->r.failed_table, w.t.r.failed_table, sizeof v->r.failed_table);
        memcpy(v->r.failed_key, w.t.r.failed_key, sizeof v->r.failed_key);
        rc = ctm__err(w.rc, "%s", w.msg);
    }
    return rc;
}

/* After the walk: the last checkpoint covers the whole log, the newest entry holds the tree
 * state, and a checkpoint held outside is consistent with it. */
static int check_tail(vstate *v)
{
    uint64_t n = v->frontier.size;
    if (n == 0 && !v->r.key_from_database)
        return fail(v, 0, "ledger", NULL,
                    "the log is empty: nothing in this database is signed by the key %s",
                    v->origin);
    if (n > 0 && v->last_checkpoint != n)
        return fail(v, (int64_t)v->last_checkpoint, "ledger", NULL,
                    "entries after the last signed checkpoint (size %llu of %llu): added outside "
                    "libctm or its checkpoint removed",
                    (unsigned long long)v->last_checkpoint, (unsigned long long)n);
    if (n > 0 && v->frontier_seq != (int64_t)n - 1)
        return fail(v, (int64_t)n - 1, "ledger", NULL, "the newest entry lacks the tree state");
    if (v->have_held && v->held_size > n)
        return fail(v, (int64_t)n, NULL, NULL,
                    "the database has %llu entries but the checkpoint held outside has %llu: the "
                    "database was rolled back or truncated",
                    (unsigned long long)n, (unsigned long long)v->held_size);
    if (v->have_held && v->held_size < n) {
        ctm_hash *proof = NULL, root;
        size_t count = 0;
        ctm__frontier_root(&v->frontier, root);
        int bad = ctm__consistency_proof((const ctm_hash *)v->leaves, v->held_size, n, &proof,
                                         &count) != 0 ||
                  ctm__verify_consistency(v->held_size, n, v->held_root, root,
                                          (const ctm_hash *)proof, count) != 0;
        free(proof);
        if (bad)
            return fail(v, (int64_t)v->held_size, NULL, NULL,
                        "no consistency proof from the checkpoint held outside");
    }
    return CTM_OK;
}

/* ---- comparing the live tables with the replay ---- */

typedef struct colset {
    char list_live[4096];
    char list_replay[4096];
    char pk[512];
} colset;

static int table_columns(vstate *v, const char *table, colset *cs)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ctm__sqlerr(v->sql, rc, "verify");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int secret = ctm__table_is_secret(table);
    size_t nl = 0, nr = 0, np = 0;
    cs->pk[0] = cs->list_live[0] = cs->list_replay[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int pk = sqlite3_column_int(st, 1) > 0;
        const char *sep = nr ? "," : "";
        /* Secret values are in the ledger only as digests: compare digests. */
        if (secret && !pk)
            nl += (size_t)snprintf(cs->list_live + nl, sizeof cs->list_live - nl,
                                   "%sctm_digest(\"%s\")", sep, name);
        else
            nl += (size_t)snprintf(cs->list_live + nl, sizeof cs->list_live - nl, "%s\"%s\"", sep,
                                   name);
        nr += (size_t)snprintf(cs->list_replay + nr, sizeof cs->list_replay - nr, "%s\"%s\"", sep,
                               name);
        if (pk)
            np += (size_t)snprintf(cs->pk + np, sizeof cs->pk - np, "%s'%s=' || quote(\"%s\")",
                                   np ? " || ',' || " : "", name, name);
    }
    sqlite3_finalize(st);
    if (nl >= sizeof cs->list_live || nr >= sizeof cs->list_replay || np == 0 ||
        np >= sizeof cs->pk)
        return ctm__err(CTM_ERROR, "verify: table %s: column list too long", table);
    return CTM_OK;
}

/* First row in `from` not in `other`, as "key" text; empty when none. */
static int first_difference(vstate *v, const char *table, const colset *cs, int live_side,
                            char *key, size_t keylen, int *found)
{
    char sql[9500];
    const char *a = live_side ? "live" : "main", *b = live_side ? "main" : "live";
    const char *la = live_side ? cs->list_live : cs->list_replay;
    const char *lb = live_side ? cs->list_replay : cs->list_live;
    /* EXCEPT, not NOT IN: it treats NULLs as equal.  Key columns are never wrapped, so the
     * key expression reads them by name from the difference. */
    snprintf(sql, sizeof sql,
             "SELECT %s FROM (SELECT %s FROM \"%s\".\"%s\" EXCEPT SELECT %s FROM \"%s\".\"%s\") LIMIT 1",
             cs->pk, la, a, table, lb, b, table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(v, -1, table, NULL, "cannot be compared: %s", sqlite3_errmsg(v->sql));
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found)
        snprintf(key, keylen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CTM_OK
                                                 : fail(v, -1, table, NULL, "cannot be compared: %s",
                                                        sqlite3_errmsg(v->sql));
}

static int compare_table(vstate *v, const char *table)
{
    colset cs;
    int rc = table_columns(v, table, &cs);
    if (rc != CTM_OK)
        return rc;
    char key[128];
    int found = 0;
    if ((rc = first_difference(v, table, &cs, 1, key, sizeof key, &found)) != CTM_OK)
        return rc;
    if (found)
        return fail(v, -1, table, key,
                    "the live row differs from the ledger or was added outside libctm");
    if ((rc = first_difference(v, table, &cs, 0, key, sizeof key, &found)) != CTM_OK)
        return rc;
    if (found)
        return fail(v, -1, table, key, "the row the ledger records is missing or changed");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM live.\"%s\"", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(v->sql, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v->r.rows += (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return CTM_OK;
}

static int compare_tables(vstate *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql,
                                "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ctm__sqlerr(v->sql, rc, "verify");
    int out = CTM_OK;
    while (out == CTM_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!ctm__table_is_internal(name))
            out = compare_table(v, name);
    }
    sqlite3_finalize(st);
    return out;
}

/* ---- the run ---- */

static int open_replay(vstate *v, ctm_db *db)
{
    int rc = sqlite3_open_v2(":memory:", &v->sql,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return ctm__err(CTM_ENOMEM, "verify: cannot create the replay database");
    int out = ctm__schema_create(v->sql);
    if (out == CTM_OK)
        out = ctm__register_functions(v->sql);
    if (out != CTM_OK)
        return out;
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(v->sql, "ATTACH ?1 AS live", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, db->path, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ctm__err(CTM_EIO, "verify: cannot read %s: %s", db->path, sqlite3_errmsg(v->sql));
    return ctm__exec(v->sql, "BEGIN", "verify");
}

/* The live schema must be the one libctm's migrations make: a table, trigger, index or view
 * added or changed by hand could hide or forge changes. */
static int compare_schema(vstate *v)
{
    static const char *const sql[2] = {
        "SELECT type, name FROM (SELECT type, name, tbl_name, sql FROM live.sqlite_master EXCEPT"
        " SELECT type, name, tbl_name, sql FROM main.sqlite_master) LIMIT 1",
        "SELECT type, name FROM (SELECT type, name, tbl_name, sql FROM main.sqlite_master EXCEPT"
        " SELECT type, name, tbl_name, sql FROM live.sqlite_master) LIMIT 1"};
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(v->sql, sql[k], -1, &st, NULL);
        if (rc != SQLITE_OK)
            return ctm__sqlerr(v->sql, rc, "verify: reading the schema");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            char what[200];
            snprintf(what, sizeof what, "%s %s", (const char *)sqlite3_column_text(st, 0),
                     (const char *)sqlite3_column_text(st, 1));
            sqlite3_finalize(st);
            return fail(v, -1, "schema", what,
                        k == 0 ? "added or changed outside libctm" : "missing or changed");
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return ctm__sqlerr(v->sql, rc, "verify: reading the schema");
    }
    return CTM_OK;
}

static int load_held(vstate *v, const char *held)
{
    if (held == NULL)
        return CTM_OK;
    if (open_checkpoint(v, held, &v->held_size, v->held_root) != 0)
        return ctm__err(CTM_EINVAL,
                        "held checkpoint: not a checkpoint signed by %s (wrong site or altered)",
                        v->origin);
    v->have_held = 1;
    return CTM_OK;
}

static void vstate_free(vstate *v)
{
    for (size_t i = 0; i < sizeof v->replay / sizeof v->replay[0]; i++) {
        sqlite3_finalize(v->replay[i].st);
        free(v->replay[i].sql);
    }
    if (v->sql != NULL) {
        sqlite3_exec(v->sql, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(v->sql);
    }
    free(v->origin);
    free(v->leaves);
}

int ctm_audit_verify(ctm_db *db, const char *vkey, const char *held_checkpoint,
                     ctm_verify_result *result)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "verify: no database handle");
    vstate v;
    memset(&v, 0, sizeof v);
    v.r.struct_size = sizeof v.r;
    v.r.failed_seq = -1;
    v.frontier_seq = -1;
    ctm__frontier_init(&v.frontier);
    int rc = load_key(&v, db, vkey);
    if (rc == CTM_OK)
        rc = load_held(&v, held_checkpoint);
    if (rc == CTM_OK)
        rc = open_replay(&v, db);
    if (rc == CTM_OK)
        rc = compare_schema(&v);
    if (rc == CTM_OK)
        rc = walk_ledger(&v);
    if (rc == CTM_OK)
        rc = check_tail(&v);
    if (rc == CTM_OK)
        rc = compare_tables(&v);
    ctm_hash root;
    ctm__frontier_root(&v.frontier, root);
    ctm__hex(root, CTM_HASH_SIZE, v.r.root_hex);
    if (result != NULL && result->struct_size >= sizeof(size_t)) {
        size_t n = result->struct_size < sizeof v.r ? result->struct_size : sizeof v.r;
        size_t caller_size = result->struct_size;
        memcpy(result, &v.r, n);
        result->struct_size = caller_size;
    }
    vstate_free(&v);
    return rc;
}
