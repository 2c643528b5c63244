/* verify.c - offline verification: every entry, every root, every signature, every row. */
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"
#include "sqlite_value.h"

/* The replay runs on SQLite whatever the site's engine: these are its own connection's helpers. */
static int sqlerr(sqlite3 *db, int rc, const char *doing)
{
    int code = (rc & 0xff) == SQLITE_NOMEM ? CTM_ENOMEM
               : (rc & 0xff) == SQLITE_BUSY ? CTM_EBUSY
               : (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ? CTM_EIO
                                                                          : CTM_ERROR;
    return ctm__err(code, "%s: %s", doing, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int exec_sql(sqlite3 *sql, const char *text, const char *doing)
{
    int rc = sqlite3_exec(sql, text, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CTM_OK : sqlerr(sql, rc, doing);
}

/* ctm_canon(x): the canonical encoding of x; ctm_canon(x, 1): that of the DIGEST of x, as a
 * secret value is recorded.  Verification compares values by these bytes, never by SQL's
 * comparison, which would take INT 1 for REAL 1.0. */
static void canon_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    ctm__value v;
    uint8_t d[32];
    ctm__sqlite_value(argv[0], &v);
    if (argc == 2 && sqlite3_value_int(argv[1]) != 0) {
        ctm__value_digest(&v, d);
        v = (ctm__value){.tag = CTM_V_DIGEST, .p = d};
    }
    ctm__buf b;
    ctm__buf_init(&b);
    ctm__buf_value(&b, &v);
    if (b.oom)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_blob(ctx, b.p, (int)b.n, SQLITE_TRANSIENT);
    ctm__buf_free(&b);
}

static int register_functions(sqlite3 *sql)
{
    int rc = SQLITE_OK;
    for (int argc = 1; rc == SQLITE_OK && argc <= 2; argc++)
        rc = sqlite3_create_function(sql, "ctm_canon", argc, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, canon_fn, NULL, NULL);
    return rc == SQLITE_OK ? CTM_OK : sqlerr(sql, rc, "registering SQL functions");
}

/* The schema of db's own version, as the migrations make it (an older version on a read-only
 * handle).  A handle's file changed under it is verified as it is now. */
static int create_schema(sqlite3 *sql, ctm_db *db)
{
    int version = 0;
    int rc = ctm__store_schema_version(db->store, &version);
    if (rc != CTM_OK)
        return rc;
    if (version < 1 || version > CTM_SCHEMA_VERSION)
        return ctm__err(CTM_EVERSION, "%s: schema version %d is unknown to this libctm", db->path,
                        version);
    for (int v = 0; v < version && rc == CTM_OK; v++)
        rc = exec_sql(sql, ctm__schema_migration(v), "schema migration");
    return rc;
}

/* What one verification run carries.  The expected schema is built in memory from the library's
 * own migrations (main, no rows); the database under test is attached as "live"; the replay is a
 * private temporary database on disk ("replay") holding every value as its canonical encoding, so
 * that memory stays bounded whatever the size of the log and values compare byte for byte. */
typedef struct vstate {
    sqlite3 *sql;                /* main = expected schema, live = under test, replay = replay */
    char *origin;
    uint8_t pub[32];
    ctm__frontier frontier;
    ctm_verify_result r;
    uint64_t last_checkpoint;    /* size of the newest checkpoint seen so far */
    int chained;                 /* a checkpoint naming its previous one was seen */
    int salted;                  /* a salted entry (version 2) was seen */
    int64_t frontier_seq;        /* the entry carrying the stored tree state, or -1 */
    /* the checkpoint held outside */
    int have_held;
    uint64_t held_size;
    ctm_hash held_root;
    /* replay statements by their shape (op, columns, key flags): a log repeats the same few
     * shapes of change, so each is checked against the schema and prepared once */
    struct replay_stmt {
        char *shape;
        sqlite3_stmt *st;
    } replay[16];
    unsigned replay_next;
    sqlite3_stmt *signer;        /* the replayed users row of an e-signature's signer */
    ctm__buf vals;               /* canonical encodings bound to a replay statement */
    ctm_hash streamed_leaf;      /* the leaf hash of the entry just read as a stream */
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

/* Check a signed checkpoint note and return its size, root and whether it names the checkpoint
 * before it (*named) and its size (*previous).  The size is any uint64_t the line holds: one
 * beyond INT64_MAX names no checkpoint the ledger can have, which is a removal, not silence. */
static int open_checkpoint(vstate *v, const char *note, uint64_t *size, ctm_hash root, int *named,
                           uint64_t *previous)
{
    char *body = NULL, *origin = NULL;
    *previous = 0;
    int ok = ctm__note_verify(note, v->origin, v->pub, &body) == 0 &&
             ctm__checkpoint_parse(body, &origin, size, root) == 0 && strcmp(origin, v->origin) == 0;
    *named = ok ? ctm__checkpoint_previous(body, previous) : -1;
    free(body);
    free(origin);
    return ok && *named >= 0 ? 0 : -1;
}

/* The checkpoint stored on the entry that ends a transaction: signed by the site over the
 * root of the entries so far, naming the checkpoint before it (so that none can be removed);
 * and, on the newest entry, the stored tree state. */
static int check_checkpoint_at(vstate *v, uint64_t size, const char *note, const void *frontier,
                               int frontier_len)
{
    ctm_hash root;
    int need_root = note != NULL || (v->have_held && v->held_size == size);
    if (need_root)
        ctm__frontier_root(&v->frontier, root);
    if (note != NULL) {
        uint64_t csize, previous;
        int named;
        ctm_hash croot;
        if (open_checkpoint(v, note, &csize, croot, &named, &previous) != 0)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint does not verify with the site key %s", v->origin);
        if (csize != size || sodium_memcmp(croot, root, CTM_HASH_SIZE) != 0)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint signs another tree than the entries up to here make");
        if (!named && v->chained)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint does not name the checkpoint before it");
        if (named && previous != v->last_checkpoint)
            return fail(v, (int64_t)size - 1, "ledger", NULL,
                        "the checkpoint follows the checkpoint of size %llu, but the ledger's "
                        "previous checkpoint has size %llu: a checkpoint was removed",
                        (unsigned long long)previous, (unsigned long long)v->last_checkpoint);
        v->chained |= named;
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

/* Whether column name of table is in the schema: -1 no, 0 as a non-key column, 1 as a key column. */
static int schema_column(vstate *v, const char *table, const char *name)
{
    sqlite3_stmt *st = NULL;
    int kind = -1;
    if (sqlite3_prepare_v2(v->sql, "SELECT pk > 0 FROM pragma_table_info(?1, 'main') WHERE name = ?2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            kind = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return kind;
}

/* A row change's columns must be its table's (docs/audit-format.md 8, step 5): each in the schema
 * with the schema's is_pk; an insert or a delete names every column, an update every key column.
 * The names are then safe to put into SQL. */
static int check_columns(vstate *v, uint64_t seq, const ctm__row_change *c, const char *key)
{
    static const char *const what[] = {"insert", "update", "delete"};
    const char *op = what[c->op == 'I' ? 0 : c->op == 'U' ? 1 : 2];
    sqlite3_stmt *st = NULL;
    int rc = CTM_OK, columns = 0;
    if (!ctm__table_is_internal(c->table) &&
        sqlite3_prepare_v2(v->sql,
                           "SELECT p.name, p.pk > 0 FROM main.sqlite_master m,"
                           " pragma_table_info(m.name, 'main') p WHERE m.type = 'table' AND m.name = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, c->table, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            columns++;
    }
    if (columns == 0) {
        sqlite3_finalize(st);
        return fail(v, (int64_t)seq, c->table, key, "the entry changes a table that is not audited");
    }
    for (uint32_t i = 0; rc == CTM_OK && i < c->ncols; i++) {
        int kind = schema_column(v, c->table, c->cols[i].name);
        if (kind < 0)
            rc = fail(v, (int64_t)seq, c->table, key, "unknown column %s", c->cols[i].name);
        else if (kind != (c->cols[i].is_pk != 0))
            rc = fail(v, (int64_t)seq, c->table, key, "the %s gives column %s is_pk %d, the schema %d",
                      op, c->cols[i].name, c->cols[i].is_pk != 0, kind);
    }
    sqlite3_reset(st);
    while (rc == CTM_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        uint32_t i = 0;
        while (i < c->ncols && strcmp(c->cols[i].name, name) != 0)
            i++;
        if (i == c->ncols && (c->op != 'U' || sqlite3_column_int(st, 1)))
            rc = fail(v, (int64_t)seq, c->table, key, "the %s lacks column %s", op, name);
    }
    sqlite3_finalize(st);
    return rc;
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

static void put_name(ctm__buf *sql, const char *pre, const char *name, const char *post)
{
    ctm__buf_put(sql, pre, strlen(pre));
    ctm__buf_put(sql, name, strlen(name));
    ctm__buf_put(sql, post, strlen(post));
}

/* Build the SQL that applies one change to the replay.  Every value is bound as its canonical
 * encoding, so "IS" compares bytes: no SQL affinity takes INT 1 for REAL 1.0. */
static int change_sql(const ctm__row_change *c, ctm__buf *sql)
{
    if (c->op == 'I') {
        put_name(sql, "INSERT INTO replay.\"", c->table, "\" (");
        for (uint32_t i = 0; i < c->ncols; i++)
            put_name(sql, i ? ",\"" : "\"", c->cols[i].name, "\"");
        ctm__buf_put(sql, ") VALUES (", 10);
        for (uint32_t i = 0; i < c->ncols; i++)
            ctm__buf_put(sql, i ? ",?" : "?", i ? 2 : 1);
        ctm__buf_put(sql, ")", 1);
    } else {
        if (c->op == 'D') {
            put_name(sql, "DELETE FROM replay.\"", c->table, "\"");
        } else {
            put_name(sql, "UPDATE replay.\"", c->table, "\" SET ");
            for (uint32_t i = 0; i < c->ncols; i++)
                put_name(sql, i ? ",\"" : "\"", c->cols[i].name, "\" = ?");
        }
        /* Every recorded old value must be what the replay holds: the entries chain. */
        ctm__buf_put(sql, " WHERE ", 7);
        for (uint32_t i = 0; i < c->ncols; i++)
            put_name(sql, i ? " AND \"" : "\"", c->cols[i].name, "\" IS ?");
    }
    /* the key flags are part of the shape: they are checked against the schema with it */
    ctm__buf_u8(sql, 0);
    for (uint32_t i = 0; i < c->ncols; i++)
        ctm__buf_u8(sql, c->cols[i].is_pk ? '1' : '0');
    ctm__buf_u8(sql, 0);
    return sql->oom ? -1 : 0;
}

/* A cached shape (the SQL, NUL, the key flags, NUL) against a new one of blen bytes: compared
 * over the cached shape's own length first, so a shorter cached shape is never read past. */
static int shape_equal(const char *a, const uint8_t *b, size_t blen)
{
    size_t sql = strlen(a);
    size_t alen = sql + 1 + strlen(a + sql + 1) + 1;
    return alen == blen && memcmp(a, b, blen) == 0;
}

/* The prepared statement that applies c: from the cache, or checked against the schema,
 * prepared and cached. */
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
        if (v->replay[i].shape != NULL && shape_equal(v->replay[i].shape, sql.p, sql.n)) {
            ctm__buf_free(&sql);
            sqlite3_reset(v->replay[i].st);
            sqlite3_clear_bindings(v->replay[i].st);
            *out = v->replay[i].st;
            return CTM_OK;
        }
    int rc = check_columns(v, seq, c, key);
    sqlite3_stmt *st = NULL;
    if (rc == CTM_OK && sqlite3_prepare_v2(v->sql, (const char *)sql.p, -1, &st, NULL) != SQLITE_OK)
        rc = fail(v, (int64_t)seq, c->table, key, "cannot replay: %s", sqlite3_errmsg(v->sql));
    if (rc != CTM_OK) {
        ctm__buf_free(&sql);
        return rc;
    }
    struct replay_stmt *slot = &v->replay[v->replay_next++ % (sizeof v->replay / sizeof v->replay[0])];
    free(slot->shape);
    sqlite3_finalize(slot->st);
    slot->shape = (char *)sql.p; /* the SQL, NUL, the key flags, NUL */
    slot->st = st;
    *out = st;
    return CTM_OK;
}

/* Bind the canonical encodings of n values from index idx on: encoded first, then bound, as
 * the buffer may move while it grows. */
static int bind_canonical(vstate *v, sqlite3_stmt *st, int idx, const ctm__row_change *c, int old)
{
    size_t at[2048];
    uint32_t n = c->ncols < 2048 ? c->ncols : 2048;
    v->vals.n = 0;
    for (uint32_t i = 0; i < n; i++) {
        at[i] = v->vals.n;
        ctm__buf_value(&v->vals, old ? &c->cols[i].old_value : &c->cols[i].new_value);
    }
    if (v->vals.oom)
        return ctm__err(CTM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? at[i + 1] : v->vals.n;
        sqlite3_bind_blob(st, idx + (int)i, v->vals.p + at[i], (int)(end - at[i]), SQLITE_TRANSIENT);
    }
    return CTM_OK;
}

static int apply_change(vstate *v, uint64_t seq, const ctm__row_change *c)
{
    char key[128];
    key_text(c, key, sizeof key);
    sqlite3_stmt *st = NULL;
    int rc = replay_stmt(v, seq, c, key, &st);
    if (rc == CTM_OK && c->op != 'D')
        rc = bind_canonical(v, st, 1, c, 0);
    if (rc == CTM_OK && c->op != 'I')
        rc = bind_canonical(v, st, c->op == 'U' ? (int)c->ncols + 1 : 1, c, 1);
    if (rc != CTM_OK)
        return rc;
    rc = sqlite3_step(st);
    int constraint = rc == SQLITE_CONSTRAINT;
    sqlite3_reset(st);
    if (constraint && c->op == 'I')
        return fail(v, (int64_t)seq, c->table, key, "insert of a row that already exists");
    if (rc != SQLITE_DONE)
        return fail(v, (int64_t)seq, c->table, key, "cannot replay the %s: %s",
                    c->op == 'I' ? "insert" : c->op == 'U' ? "update" : "delete",
                    sqlite3_errmsg(v->sql));
    if (sqlite3_changes(v->sql) != 1)
        return fail(v, (int64_t)seq, c->table, key,
                    "the entry's old values do not match the row as the ledger left it");
    return CTM_OK;
}

/* The replayed value in column col of st equals the canonical encoding of want. */
static int column_is(vstate *v, sqlite3_stmt *st, int col, const ctm__value *want)
{
    v->vals.n = 0;
    ctm__buf_value(&v->vals, want);
    return !v->vals.oom && sqlite3_column_type(st, col) == SQLITE_BLOB &&
           (size_t)sqlite3_column_bytes(st, col) == v->vals.n &&
           memcmp(sqlite3_column_blob(st, col), v->vals.p, v->vals.n) == 0;
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
    if (v->signer == NULL &&
        sqlite3_prepare_v2(v->sql,
                           "SELECT public_key, printed_name, disabled FROM replay.users"
                           " WHERE username = ?1 LIMIT 2",
                           -1, &v->signer, NULL) != SQLITE_OK)
        return sqlerr(v->sql, SQLITE_ERROR, "verify");
    sqlite3_stmt *st = v->signer;
    ctm__value name = {.tag = CTM_V_TEXT, .p = (const uint8_t *)e->esig.user,
                       .n = (uint32_t)strlen(e->esig.user)};
    v->vals.n = 0;
    ctm__buf_value(&v->vals, &name);
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, v->vals.p, (int)v->vals.n, SQLITE_TRANSIENT);
    int rows = 0, key_ok = 0, name_ok = 0, enabled = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        ctm__value pub = {.tag = CTM_V_BLOB, .p = e->esig.public_key, .n = 32};
        ctm__value printed = {.tag = CTM_V_TEXT, .p = (const uint8_t *)e->esig.printed_name,
                              .n = (uint32_t)strlen(e->esig.printed_name)};
        ctm__value zero = {.tag = CTM_V_INT, .i = 0};
        key_ok = column_is(v, st, 0, &pub);
        name_ok = column_is(v, st, 1, &printed);
        enabled = column_is(v, st, 2, &zero);
    }
    sqlite3_reset(st);
    if (rows != 1 || !key_ok)
        return fail(v, (int64_t)e->seq, "users", e->esig.user,
                    "the e-signature key is not the key of user %s at that time", e->esig.user);
    if (!name_ok)
        return fail(v, (int64_t)e->seq, "users", e->esig.user,
                    "the e-signature shows another printed name than that of user %s",
                    e->esig.user);
    if (!enabled)
        return fail(v, (int64_t)e->seq, "users", e->esig.user,
                    "the e-signature is by the disabled account %s", e->esig.user);
    v->r.esignatures++;
    return CTM_OK;
}

/* The actions libctm always e-signs (the registry, actions.h; docs/audit-format.md 4.4): one
 * missing its signature was written by something else. */
static int needs_esig(const ctm__entry *e)
{
    return ctm__action_needs_esig(e->action, e->params, e->nparams);
}

/* ---- the tree, on the pipe's worker ----
 *
 * Hashing the entries and checking the roots, the checkpoint signatures and the stored tree
 * state need nothing from the replay, so they run on a second thread while this one decodes and
 * replays.  The worker has its own vstate for the tree; the first failure on either side wins by
 * its seq. */

typedef struct vtree {
    vstate t;       /* frontier, checkpoints and held checkpoint; origin and key borrowed */
    int rc;         /* the worker's first failure, or CTM_OK */
    char msg[1024]; /* its message (the worker's own thread-local error) */
} vtree;

/* Entries larger than this are decoded as a stream and hashed on this thread (the worker gets
 * their leaf hash, not a copy of their bytes), so that a receipt of a million kits needs no
 * memory beyond its own bytes. */
#define STREAM_ABOVE ((size_t)1 << 20)

/* A record for the worker: u64 seq, u8 has_note, u8 has_frontier, u8 is_leaf, then three u32
 * lengths and the entry (or, with is_leaf, its leaf hash), the note (with its NUL) and the
 * frontier. */
static int push_tree(ctm__pipe *p, uint64_t seq, sqlite3_stmt *row, const uint8_t *streamed_leaf)
{
    uint8_t head[8 + 3 + 12];
    const void *entry = sqlite3_column_blob(row, 1), *note = sqlite3_column_text(row, 2);
    const void *fr = sqlite3_column_blob(row, 3);
    uint32_t elen = (uint32_t)sqlite3_column_bytes(row, 1);
    ctm_hash leaf;
    /* A large entry is hashed here (as it was read, when it was streamed); the worker gets its
     * leaf hash instead of a copy of its bytes. */
    head[10] = streamed_leaf != NULL || elen > STREAM_ABOVE;
    if (streamed_leaf != NULL) {
        entry = streamed_leaf;
        elen = CTM_HASH_SIZE;
    } else if (head[10]) {
        ctm__leaf_hash(entry, elen, leaf);
        entry = leaf;
        elen = CTM_HASH_SIZE;
    }
    uint32_t nlen = note != NULL ? (uint32_t)sqlite3_column_bytes(row, 2) + 1 : 0;
    uint32_t flen = (uint32_t)sqlite3_column_bytes(row, 3);
    memcpy(head, &seq, 8);
    head[8] = note != NULL;
    head[9] = sqlite3_column_type(row, 3) != SQLITE_NULL;
    memcpy(head + 11, &elen, 4);
    memcpy(head + 15, &nlen, 4);
    memcpy(head + 19, &flen, 4);
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
    int has_note = rec[8], has_frontier = rec[9], is_leaf = rec[10];
    memcpy(&elen, rec + 11, 4);
    memcpy(&nlen, rec + 15, 4);
    memcpy(&flen, rec + 19, 4);
    const uint8_t *entry = rec + 23, *note = entry + elen, *fr = note + nlen;
    ctm_hash leaf;
    if (is_leaf)
        memcpy(leaf, entry, CTM_HASH_SIZE);
    else
        ctm__leaf_hash(entry, elen, leaf);
    ctm__frontier_append(&w->t.frontier, leaf);
    int rc = check_checkpoint_at(&w->t, seq + 1, has_note ? (const char *)note : NULL,
                                 has_frontier ? (const void *)fr : NULL, (int)flen);
    if (rc != CTM_OK) {
        w->rc = rc;
        snprintf(w->msg, sizeof w->msg, "%s", ctm_errmsg());
    }
}

static const char *storage_class(int type)
{
    switch (type) {
    case SQLITE_INTEGER:
        return "INTEGER";
    case SQLITE_FLOAT:
        return "REAL";
    case SQLITE_TEXT:
        return "TEXT";
    case SQLITE_BLOB:
        return "BLOB";
    default:
        return "NULL";
    }
}

struct streamed {
    vstate *v;
    uint64_t seq;
    int rc;
};

static int apply_streamed(void *ctx, const ctm__row_change *c)
{
    struct streamed *s = ctx;
    s->rc = apply_change(s->v, s->seq, c);
    return s->rc != CTM_OK;
}

/* An entry larger than STREAM_ABOVE is not selected with its row: it is read through SQLite's
 * incremental blob I/O, a window at a time, so that verifying a receipt of a million kits takes
 * no more memory than one of a thousand. */
struct blob_source {
    sqlite3_blob *blob;
    crypto_hash_sha256_state *hash; /* the leaf hash, taken on the first pass */
};

static int blob_fill(void *ctx, uint8_t *buf, size_t n, size_t offset)
{
    struct blob_source *b = ctx;
    if (n > INT_MAX || offset > INT_MAX ||
        sqlite3_blob_read(b->blob, buf, (int)n, (int)offset) != SQLITE_OK)
        return -1;
    if (b->hash != NULL)
        crypto_hash_sha256_update(b->hash, buf, n);
    return 0;
}

/* The whole of a streamed entry, for the one check that needs it at once: its e-signature. */
static int check_streamed_esig(vstate *v, const ctm__entry *e, sqlite3_blob *blob, size_t n)
{
    uint8_t *whole = malloc(n > 0 ? n : 1);
    if (whole == NULL)
        return ctm__err(CTM_ENOMEM, "verify: out of memory reading entry %llu",
                        (unsigned long long)e->seq);
    int rc = blob_fill(&(struct blob_source){blob, NULL}, whole, n, 0) != 0
                 ? fail(v, (int64_t)e->seq, "ledger", NULL, "the entry cannot be read: %s",
                        sqlite3_errmsg(v->sql))
                 : check_esig(v, e, whole, n);
    free(whole);
    return rc;
}

/* Decode, check and replay one entry; the tree side goes to the worker.  *streamed is set when
 * the entry was read as a stream, its leaf hash then in v->streamed_leaf. */
static int check_entry(vstate *v, uint64_t seq, sqlite3_stmt *row, int *streamed)
{
    /* Storage classes first: a TEXT entry or a BLOB checkpoint would be read through a
     * conversion that no other verifier makes.  A large entry is not selected (column 1 is NULL)
     * and its class is column 4's. */
    static const struct {
        const char *column;
        int type;
        int null_ok;
    } classes[] = {{"entry", SQLITE_BLOB, 0}, {"checkpoint", SQLITE_TEXT, 1}, {"frontier", SQLITE_BLOB, 1}};
    int stream = sqlite3_column_type(row, 1) == SQLITE_NULL && sqlite3_column_int(row, 4) != 0;
    *streamed = stream;
    for (int i = stream ? 1 : 0; i < 3; i++) {
        int type = sqlite3_column_type(row, i + 1);
        if (type != classes[i].type && !(type == SQLITE_NULL && classes[i].null_ok))
            return fail(v, (int64_t)seq, "ledger", NULL, "the %s is stored as %s, not %s%s",
                        classes[i].column, storage_class(type), storage_class(classes[i].type),
                        classes[i].null_ok ? " or NULL" : "");
    }
    const uint8_t *p = NULL;
    size_t n = 0;
    sqlite3_blob *blob = NULL;
    crypto_hash_sha256_state hash;
    struct blob_source src = {NULL, NULL};
    if (stream) {
        if (sqlite3_blob_open(v->sql, "live", "ledger", "entry", (sqlite3_int64)seq, 0, &blob) !=
            SQLITE_OK) {
            int rc = fail(v, (int64_t)seq, "ledger", NULL, "the entry cannot be read: %s",
                          sqlite3_errmsg(v->sql));
            sqlite3_blob_close(blob);
            return rc;
        }
        n = (size_t)sqlite3_blob_bytes(blob);
        src.blob = blob;
        src.hash = &hash;
        crypto_hash_sha256_init(&hash);
        crypto_hash_sha256_update(&hash, (const uint8_t[]){0x00}, 1);
    } else {
        p = sqlite3_column_blob(row, 1);
        n = (size_t)sqlite3_column_bytes(row, 1);
    }
    ctm__entry e;
    char why[128];
    /* A large entry is read twice as a stream: once to check it whole (and hash it), as a small
     * one is before anything of it is replayed, then to replay it change by change. */
    if ((stream ? ctm__entry_decode_stream(&e, n, blob_fill, &src, NULL, NULL, why, sizeof why)
                : ctm__entry_decode(&e, p, n, why, sizeof why)) != 0) {
        sqlite3_blob_close(blob);
        return fail(v, (int64_t)seq, "ledger", NULL, "the entry cannot be decoded: %s", why);
    }
    if (stream)
        crypto_hash_sha256_final(&hash, v->streamed_leaf);
    src.hash = NULL;
    int rc = CTM_OK;
    if (e.seq != seq)
        rc = fail(v, (int64_t)seq, "ledger", NULL,
                  "the entry stored here is seq %llu: entries were moved or reordered",
                  (unsigned long long)e.seq);
    /* Unsalted entries only ever begin a log (a site migrated from schema version 1 or 2): one
     * after a salted entry was not written by libctm, and its hash could be tested against
     * guessed arms. */
    if (rc == CTM_OK && e.version == CTM_ENTRY_VERSION_LEGACY && v->salted)
        rc = fail(v, (int64_t)seq, "ledger", NULL,
                  "an unsalted entry (version 1) follows a salted one");
    if (e.version != CTM_ENTRY_VERSION_LEGACY)
        v->salted = 1;
    for (uint32_t i = 0; !stream && rc == CTM_OK && i < e.nchanges; i++)
        rc = apply_change(v, seq, &e.changes[i]);
    if (stream && rc == CTM_OK) {
        ctm__entry_free(&e);
        struct streamed ctx = {v, seq, CTM_OK};
        if (ctm__entry_decode_stream(&e, n, blob_fill, &src, apply_streamed, &ctx, why,
                                     sizeof why) != 0)
            rc = ctx.rc != CTM_OK ? ctx.rc
                                  : fail(v, (int64_t)seq, "ledger", NULL,
                                         "the entry cannot be decoded: %s", why);
    }
    if (rc == CTM_OK && e.has_esig)
        rc = stream ? check_streamed_esig(v, &e, blob, n) : check_esig(v, &e, p, n);
    else if (rc == CTM_OK && needs_esig(&e))
        rc = fail(v, (int64_t)seq, "ledger", NULL, "the action %s carries no e-signature",
                  e.action);
    ctm__entry_free(&e);
    sqlite3_blob_close(blob);
    if (rc == CTM_OK)
        v->r.entries++;
    return rc;
}

static int walk_rows(vstate *v, ctm__pipe *pipe)
{
    sqlite3_stmt *st = NULL;
    /* typeof() and length() of a column do not read its content: a large entry stays on disk
     * until check_entry streams it. */
    int rc = sqlite3_prepare_v2(v->sql,
                                "SELECT seq, CASE WHEN typeof(entry) = 'blob' AND length(entry) > ?1"
                                " THEN NULL ELSE entry END, checkpoint, frontier,"
                                " typeof(entry) = 'blob' AND length(entry) > ?1"
                                " FROM live.ledger ORDER BY seq",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)STREAM_ABOVE);
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
        int streamed = 0;
        out = check_entry(v, expect, st, &streamed);
        if (out == CTM_OK)
            out = push_tree(pipe, expect, st, streamed ? v->streamed_leaf : NULL);
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
    /* A held checkpoint of size m < n was compared with the root of the first m entries on the
     * walk: exactly what a consistency proof from (m, R_held) to (n, root) establishes. */
    if (v->have_held && v->held_size == 0 && n > 0)
        return fail(v, 0, NULL, NULL, "the held checkpoint is of the empty log: it proves nothing");
    return CTM_OK;
}

/* ---- comparing the live tables with the replay ---- */

typedef struct colset {
    char list_live[6144];   /* ctm_canon("c") AS "c", ... (a secret value as its DIGEST) */
    char list_replay[4096]; /* "c", ... */
    char pk[512];           /* "k", ... */
    int npk;
} colset;

static int table_columns(vstate *v, const char *table, colset *cs)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(v->sql, rc, "verify");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int secret = ctm__table_is_secret(table);
    size_t nl = 0, nr = 0, np = 0;
    cs->npk = 0;
    cs->pk[0] = cs->list_live[0] = cs->list_replay[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int pk = sqlite3_column_int(st, 1) > 0;
        const char *sep = nr ? "," : "";
        /* Secret values are in the ledger only as digests: compare digests. */
        nl += (size_t)snprintf(cs->list_live + nl, sizeof cs->list_live - nl,
                               "%sctm_canon(\"%s\", %d) AS \"%s\"", sep, name, secret && !pk, name);
        nr += (size_t)snprintf(cs->list_replay + nr, sizeof cs->list_replay - nr, "%s\"%s\"", sep,
                               name);
        if (pk) {
            np += (size_t)snprintf(cs->pk + np, sizeof cs->pk - np, "%s\"%s\"", np ? "," : "", name);
            cs->npk++;
        }
    }
    sqlite3_finalize(st);
    if (nl >= sizeof cs->list_live || nr >= sizeof cs->list_replay || np == 0 ||
        np >= sizeof cs->pk)
        return ctm__err(CTM_ERROR, "verify: table %s: column list too long", table);
    return CTM_OK;
}

/* "name=value" of key columns from their canonical encodings, for messages. */
static void canonical_key_text(sqlite3_stmt *st, int ncols, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < ncols && n + 1 < len; i++) {
        const uint8_t *p = sqlite3_column_blob(st, i);
        size_t b = (size_t)sqlite3_column_bytes(st, i);
        const char *name = sqlite3_column_name(st, i);
        const char *sep = n ? "," : "";
        if (b >= 3 && p[0] == CTM_V_INT && (size_t)p[1] + 2 == b && p[1] <= 8) {
            int64_t x = (p[2] & 0x80) ? -1 : 0;
            for (size_t k = 0; k < p[1]; k++)
                x = (int64_t)((uint64_t)x << 8 | p[2 + k]);
            n += (size_t)snprintf(out + n, len - n, "%s%s=%lld", sep, name, (long long)x);
        } else if (b >= 5 && p[0] == CTM_V_TEXT) {
            size_t t = b - 5 > 60 ? 60 : b - 5;
            n += (size_t)snprintf(out + n, len - n, "%s%s=%.*s", sep, name, (int)t,
                                  (const char *)p + 5);
        } else {
            n += (size_t)snprintf(out + n, len - n, "%s%s=?", sep, name);
        }
    }
}

/* First row in `from` not in `other`, as "key" text; empty when none.  Both sides are canonical
 * encodings, so EXCEPT compares bytes. */
static int first_difference(vstate *v, const char *table, const colset *cs, int live_side,
                            char *key, size_t keylen, int *found)
{
    char sql[17000];
    const char *a = live_side ? "live" : "replay", *b = live_side ? "replay" : "live";
    const char *la = live_side ? cs->list_live : cs->list_replay;
    const char *lb = live_side ? cs->list_replay : cs->list_live;
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
        canonical_key_text(st, cs->npk, key, keylen);
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
        return sqlerr(v->sql, rc, "verify");
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

/* The replay's copy of one audited table: every column a BLOB holding canonical encodings, keyed
 * by the same key columns, without rowid (the key is the row's identity). */
static int create_replay_table(vstate *v, const char *table)
{
    ctm__buf sql;
    ctm__buf_init(&sql);
    put_name(&sql, "CREATE TABLE replay.\"", table, "\" (");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++)
            put_name(&sql, i ? ",\"" : "\"", (const char *)sqlite3_column_text(st, 0), "\" BLOB");
        ctm__buf_put(&sql, ", PRIMARY KEY (", 15);
        sqlite3_reset(st);
        for (int i = 0; sqlite3_step(st) == SQLITE_ROW;)
            if (sqlite3_column_int(st, 1) > 0)
                put_name(&sql, i++ ? ",\"" : "\"", (const char *)sqlite3_column_text(st, 0), "\"");
        ctm__buf_put(&sql, ")) WITHOUT ROWID", 17);
    }
    sqlite3_finalize(st);
    int out = rc != SQLITE_OK ? sqlerr(v->sql, rc, "verify")
              : sql.oom       ? ctm__err(CTM_ENOMEM, "out of memory")
                              : exec_sql(v->sql, (const char *)sql.p, "verify: the replay");
    ctm__buf_free(&sql);
    return out;
}

/* The replay lives in a private temporary file with a small page cache, so a log of any size
 * verifies in bounded memory; nothing of it needs to survive a crash. */
static int open_replay(vstate *v, ctm_db *db)
{
    int rc = sqlite3_open_v2(":memory:", &v->sql,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return ctm__err(CTM_ENOMEM, "verify: cannot create the replay database");
    int out = create_schema(v->sql, db);
    if (out == CTM_OK)
        out = register_functions(v->sql);
    if (out == CTM_OK)
        out = exec_sql(v->sql,
                        "ATTACH '' AS replay; PRAGMA replay.journal_mode = OFF;"
                        " PRAGMA replay.synchronous = OFF; PRAGMA replay.cache_size = -8192;"
                        " PRAGMA temp_store = FILE",
                        "verify: the replay");
    sqlite3_stmt *st = NULL;
    if (out == CTM_OK &&
        (rc = sqlite3_prepare_v2(v->sql, "SELECT name FROM main.sqlite_master WHERE type = 'table'",
                                 -1, &st, NULL)) != SQLITE_OK)
        out = sqlerr(v->sql, rc, "verify");
    while (out == CTM_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!ctm__table_is_internal(name))
            out = create_replay_table(v, name);
    }
    sqlite3_finalize(st);
    if (out != CTM_OK)
        return out;
    st = NULL;
    rc = sqlite3_prepare_v2(v->sql, "ATTACH ?1 AS live", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, db->path, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ctm__err(CTM_EIO, "verify: cannot read %s: %s", db->path, sqlite3_errmsg(v->sql));
    return exec_sql(v->sql, "BEGIN", "verify");
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
            return sqlerr(v->sql, rc, "verify: reading the schema");
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
            return sqlerr(v->sql, rc, "verify: reading the schema");
    }
    return CTM_OK;
}

/* Text is compared byte for byte as UTF-8: a database in UTF-16 would be converted on every
 * read, and its bytes are not what the entries record. */
static int check_encoding(vstate *v, ctm_db *db)
{
    ctm__st *st = NULL;
    char enc[32] = "";
    int rc = ctm__prepare(db, &st, "PRAGMA main.encoding");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "verify: reading the text encoding");
    if (ctm__st_step(st) == CTM_ROW)
        snprintf(enc, sizeof enc, "%s", ctm__st_text(st, 0));
    ctm__st_finalize(st);
    return strcmp(enc, "UTF-8") == 0
               ? CTM_OK
               : fail(v, -1, "schema", "encoding", "the database's text encoding is %s, not UTF-8",
                      enc);
}

/* The site row must hold the verifier's key: libctm has no action that changes a site's key or
 * origin, so one that differs was written outside libctm. */
static int check_site_key(vstate *v)
{
    if (v->r.key_from_database)
        return CTM_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->sql, "SELECT ctm_canon(id), origin, public_key FROM live.site", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(v->sql, rc, "verify: reading the site");
    int out = CTM_OK;
    while (out == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int origin_ok = sqlite3_column_type(st, 1) == SQLITE_TEXT &&
                        strcmp((const char *)sqlite3_column_text(st, 1), v->origin) == 0 &&
                        (size_t)sqlite3_column_bytes(st, 1) == strlen(v->origin);
        int key_ok = sqlite3_column_type(st, 2) == SQLITE_BLOB && sqlite3_column_bytes(st, 2) == 32 &&
                     memcmp(sqlite3_column_blob(st, 2), v->pub, 32) == 0;
        if (!origin_ok || !key_ok) {
            char key[64];
            canonical_key_text(st, 1, key, sizeof key);
            out = fail(v, -1, "site", key,
                       "the site's %s is not the verifier key's: a site key never changes",
                       key_ok ? "origin" : "public key");
        }
    }
    sqlite3_finalize(st);
    return out != CTM_OK || rc == SQLITE_DONE ? out : sqlerr(v->sql, rc, "verify: reading the site");
}

static int load_held(vstate *v, const char *held)
{
    if (held == NULL)
        return CTM_OK;
    uint64_t previous;
    int named;
    if (open_checkpoint(v, held, &v->held_size, v->held_root, &named, &previous) != 0)
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
        free(v->replay[i].shape);
    }
    sqlite3_finalize(v->signer);
    ctm__buf_free(&v->vals);
    if (v->sql != NULL) {
        sqlite3_exec(v->sql, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(v->sql);
    }
    free(v->origin);
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
        rc = check_encoding(&v, db);
    if (rc == CTM_OK)
        rc = open_replay(&v, db);
    if (rc == CTM_OK)
        rc = compare_schema(&v);
    if (rc == CTM_OK)
        rc = check_site_key(&v);
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
