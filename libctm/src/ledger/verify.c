/* verify.c - offline verification: every entry, every root, every signature, every row. */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"

/* The replay runs on a scratch SQLite store whatever the site's engine (ctm__store_open_scratch):
 * its SQL is SQLite's dialect. */
static int exec_sql(ctm__store *sql, const char *text, const char *doing)
{
    int rc = ctm__store_exec(sql, text);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

/* Prepare a statement on the scratch store; a failure says what was being done. */
static int prepare(ctm__store *sql, ctm__st **st, const char *text, const char *doing)
{
    int rc = ctm__st_prepare(sql, st, text);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

/* The schema of db's own version, as the migrations make it (an older version on a read-only
 * handle).  A handle's file changed under it is verified as it is now. */
static int create_schema(ctm__store *sql, ctm_db *db)
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

/* What one verification run carries.  The live site is read only through the store seam
 * (store.h), with portable SQL, so that the same code verifies a site on SQLite and on
 * PostgreSQL.  The expected schema is built in a private in-memory SQLite database from the
 * library's own migrations (main, no rows); the replay is a private temporary database on disk
 * ("replay") holding every value as its canonical encoding, so that memory stays bounded whatever
 * the size of the log and values compare byte for byte. */
typedef struct vstate {
    ctm__store *sql;             /* scratch SQLite: main = expected schema, replay = replay */
    ctm__store *live;            /* the site under test (the handle's own connection) */
    enum ctm__engine engine;
    size_t stream_above;         /* entries larger than this are read in pieces */
    char *origin;
    uint8_t pub[32];
    ctm__frontier frontier;
    ctm_verify_result r;
    uint64_t last_checkpoint;    /* size of the newest checkpoint seen so far */
    int chained;                 /* a checkpoint naming its previous one was seen */
    int salted;                  /* a salted entry (version 2) was seen */
    int64_t frontier_seq;        /* the newest entry carrying a stored tree state, or -1 */
    /* the checkpoint held outside */
    int have_held;
    uint64_t held_size;
    ctm_hash held_root;
    /* the counted cosignatures (load_cosignatures), by size: the roots witnesses cosigned */
    struct witnessed {
        uint64_t size;
        ctm_hash root;
        char witness[128];
    } *cosigs;                   /* owned by the run's vstate; the worker's borrows it */
    size_t ncosigs;
    size_t next_cosig;           /* the worker: the first not yet reached */
    /* replay statements by their shape (op, columns, key flags): a log repeats the same few
     * shapes of change, so each is checked against the schema and prepared once */
    struct replay_stmt {
        char *shape;
        ctm__st *st;
    } replay[16];
    unsigned replay_next;
    ctm__st *signer;             /* the replayed users row of an e-signature's signer */
    ctm__buf vals;               /* canonical encodings bound to a replay statement */
    ctm_hash streamed_leaf;      /* the leaf hash of the entry just read as a stream */
    /* a kit.destroy entry waits for its witness's entry, the next one (check_witness) */
    int64_t destroy_seq;         /* its seq, or -1 */
    char *destroy_user;          /* its user (malloc'd) */
    char *destroy_params;        /* the parameters the witness's entry repeats (malloc'd) */
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
    int need_root = note != NULL || (v->have_held && v->held_size == size) ||
                    (v->next_cosig < v->ncosigs && v->cosigs[v->next_cosig].size == size);
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
    for (; v->next_cosig < v->ncosigs && v->cosigs[v->next_cosig].size == size; v->next_cosig++)
        if (sodium_memcmp(v->cosigs[v->next_cosig].root, root, CTM_HASH_SIZE) != 0)
            return fail(v, (int64_t)size - 1, NULL, NULL,
                        "the log at size %llu differs from the checkpoint witness %s cosigned: "
                        "entries were rewritten",
                        (unsigned long long)size, v->cosigs[v->next_cosig].witness);
    if (frontier != NULL) {
        uint8_t buf[8 + 64 * CTM_HASH_SIZE];
        size_t len = ctm__frontier_encode(&v->frontier, buf);
        if ((size_t)frontier_len != len || memcmp(frontier, buf, len) != 0)
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
    ctm__st *st = NULL;
    int kind = -1;
    if (ctm__st_prepare(v->sql, &st, "SELECT pk > 0 FROM pragma_table_info(?1, 'main') WHERE name = ?2") ==
        CTM_OK) {
        ctm__st_bind_text(st, 1, table);
        ctm__st_bind_text(st, 2, name);
        if (ctm__st_step(st) == CTM_ROW)
            kind = (int)ctm__st_int(st, 0);
    }
    ctm__st_finalize(st);
    return kind;
}

/* A row change's columns must be its table's (docs/audit-format.md 8, step 5): each in the schema
 * with the schema's is_pk; an insert or a delete names every column, an update every key column.
 * The names are then safe to put into SQL. */
static int check_columns(vstate *v, uint64_t seq, const ctm__row_change *c, const char *key)
{
    static const char *const what[] = {"insert", "update", "delete"};
    const char *op = what[c->op == 'I' ? 0 : c->op == 'U' ? 1 : 2];
    ctm__st *st = NULL;
    int rc = CTM_OK, columns = 0;
    if (!ctm__table_is_internal(c->table) &&
        ctm__st_prepare(v->sql, &st,
                        "SELECT p.name, p.pk > 0 FROM main.sqlite_master m,"
                        " pragma_table_info(m.name, 'main') p WHERE m.type = 'table' AND m.name = ?1") ==
            CTM_OK) {
        ctm__st_bind_text(st, 1, c->table);
        while (ctm__st_step(st) == CTM_ROW)
            columns++;
    }
    if (columns == 0) {
        ctm__st_finalize(st);
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
    ctm__st_reset(st);
    ctm__st_bind_text(st, 1, c->table);
    while (rc == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        const char *name = ctm__st_text(st, 0);
        uint32_t i = 0;
        while (i < c->ncols && strcmp(c->cols[i].name, name) != 0)
            i++;
        if (i == c->ncols && (c->op != 'U' || ctm__st_int(st, 1)))
            rc = fail(v, (int64_t)seq, c->table, key, "the %s lacks column %s", op, name);
    }
    ctm__st_finalize(st);
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

static void put_param(ctm__buf *sql, const char *pre, unsigned n)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%s?%u", pre, n);
    ctm__buf_put(sql, num, (size_t)len);
}

/* The prefix of a key column's natural value in the replay (create_replay_table). */
#define NATURAL "ctm#"

/* Build the SQL that applies one change to the replay.  Every value is bound as its canonical
 * encoding, so "IS" compares bytes: no SQL affinity takes INT 1 for REAL 1.0.  A key column also
 * has its natural value (NATURAL "k"), bound as it is, which orders the replay as the live table
 * is ordered and finds the row by index.  Parameters, for n columns of which k are key columns:
 * new canonical values ?1..?n, new natural keys ?n+1..?n+k, old canonical values ?n+k+1..?2n+k,
 * old natural keys ?2n+k+1..?2n+2k (an insert uses the new ones, a delete the old ones). */
static int change_sql(const ctm__row_change *c, ctm__buf *sql)
{
    unsigned n = c->ncols, k = 0;
    for (uint32_t i = 0; i < c->ncols; i++)
        k += c->cols[i].is_pk != 0;
    if (c->op == 'I') {
        put_name(sql, "INSERT INTO replay.\"", c->table, "\" (");
        for (uint32_t i = 0; i < c->ncols; i++)
            put_name(sql, i ? ",\"" : "\"", c->cols[i].name, "\"");
        for (uint32_t i = 0; i < c->ncols; i++)
            if (c->cols[i].is_pk)
                put_name(sql, ",\"" NATURAL, c->cols[i].name, "\"");
        ctm__buf_put(sql, ") VALUES (", 10);
        for (unsigned i = 0; i < n + k; i++)
            put_param(sql, i ? "," : "", i + 1);
        ctm__buf_put(sql, ")", 1);
    } else {
        if (c->op == 'D') {
            put_name(sql, "DELETE FROM replay.\"", c->table, "\"");
        } else {
            put_name(sql, "UPDATE replay.\"", c->table, "\" SET ");
            unsigned p = 1;
            for (uint32_t i = 0; i < c->ncols; i++) {
                put_name(sql, i ? ",\"" : "\"", c->cols[i].name, "\" = ");
                put_param(sql, "", p++);
            }
            for (uint32_t i = 0; i < c->ncols; i++)
                if (c->cols[i].is_pk) {
                    put_name(sql, ",\"" NATURAL, c->cols[i].name, "\" = ");
                    put_param(sql, "", p++);
                }
        }
        /* Every recorded old value must be what the replay holds: the entries chain. */
        ctm__buf_put(sql, " WHERE ", 7);
        unsigned p = n + k + 1, q = 2 * n + k + 1;
        for (uint32_t i = 0; i < c->ncols; i++)
            if (c->cols[i].is_pk) {
                put_name(sql, "\"" NATURAL, c->cols[i].name, "\" IS ");
                put_param(sql, "", q++);
                ctm__buf_put(sql, " AND ", 5);
            }
        for (uint32_t i = 0; i < c->ncols; i++) {
            put_name(sql, i ? " AND \"" : "\"", c->cols[i].name, "\" IS ");
            put_param(sql, "", p++);
        }
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
                       ctm__st **out)
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
            ctm__st_reset(v->replay[i].st);
            *out = v->replay[i].st;
            return CTM_OK;
        }
    int rc = check_columns(v, seq, c, key);
    ctm__st *st = NULL;
    if (rc == CTM_OK && ctm__st_prepare(v->sql, &st, (const char *)sql.p) != CTM_OK)
        rc = fail(v, (int64_t)seq, c->table, key, "cannot replay: %s", ctm_errmsg());
    if (rc != CTM_OK) {
        ctm__buf_free(&sql);
        return rc;
    }
    struct replay_stmt *slot = &v->replay[v->replay_next++ % (sizeof v->replay / sizeof v->replay[0])];
    free(slot->shape);
    ctm__st_finalize(slot->st);
    slot->shape = (char *)sql.p; /* the SQL, NUL, the key flags, NUL */
    slot->st = st;
    *out = st;
    return CTM_OK;
}

/* Bind the canonical encodings of a change's values (old or new) from index idx on: encoded
 * first, then bound, as the buffer may move while it grows. */
static int bind_canonical(vstate *v, ctm__st *st, int idx, const ctm__row_change *c, int old)
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
        if (ctm__st_bind_blob_copy(st, idx + (int)i, v->vals.p + at[i], end - at[i]) != CTM_OK)
            return ctm__store_fail(CTM_ENOMEM, "verify: the replay");
    }
    return CTM_OK;
}

/* Bind the natural values of a change's key columns (old or new) from index idx on. */
static void bind_natural(ctm__st *st, int idx, const ctm__row_change *c, int old)
{
    for (uint32_t i = 0; i < c->ncols; i++)
        if (c->cols[i].is_pk)
            ctm__st_bind_value(st, idx++, old ? &c->cols[i].old_value : &c->cols[i].new_value);
}

static int apply_change(vstate *v, uint64_t seq, const ctm__row_change *c)
{
    char key[128];
    key_text(c, key, sizeof key);
    ctm__st *st = NULL;
    int rc = replay_stmt(v, seq, c, key, &st);
    int n = (int)c->ncols, k = 0;
    for (uint32_t i = 0; i < c->ncols; i++)
        k += c->cols[i].is_pk != 0;
    if (rc == CTM_OK && c->op != 'D') {
        rc = bind_canonical(v, st, 1, c, 0);
        bind_natural(st, n + 1, c, 0);
    }
    if (rc == CTM_OK && c->op != 'I') {
        rc = bind_canonical(v, st, n + k + 1, c, 1);
        bind_natural(st, 2 * n + k + 1, c, 1);
    }
    if (rc != CTM_OK)
        return rc;
    rc = ctm__st_step(st);
    int64_t changed = rc == CTM_OK ? ctm__st_changes(st) : 0;
    ctm__st_reset(st);
    /* a replay table's one constraint is its key */
    if (rc == CTM_EEXISTS && c->op == 'I')
        return fail(v, (int64_t)seq, c->table, key, "insert of a row that already exists");
    if (rc != CTM_OK)
        return fail(v, (int64_t)seq, c->table, key, "cannot replay the %s: %s",
                    c->op == 'I' ? "insert" : c->op == 'U' ? "update" : "delete", ctm_errmsg());
    if (changed != 1)
        return fail(v, (int64_t)seq, c->table, key,
                    "the entry's old values do not match the row as the ledger left it");
    return CTM_OK;
}

/* The replayed value in column col of st equals the canonical encoding of want. */
static int column_is(vstate *v, ctm__st *st, int col, const ctm__value *want)
{
    v->vals.n = 0;
    ctm__buf_value(&v->vals, want);
    return !v->vals.oom && ctm__st_type(st, col) == CTM_V_BLOB &&
           ctm__st_bytes(st, col) == v->vals.n &&
           memcmp(ctm__st_blob(st, col), v->vals.p, v->vals.n) == 0;
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
    int rc;
    if (v->signer == NULL &&
        (rc = prepare(v->sql, &v->signer,
                      "SELECT public_key, printed_name, disabled FROM replay.users"
                      " WHERE username = ?1 LIMIT 2",
                      "verify")) != CTM_OK)
        return rc;
    ctm__st *st = v->signer;
    ctm__value name = {.tag = CTM_V_TEXT, .p = (const uint8_t *)e->esig.user,
                       .n = (uint32_t)strlen(e->esig.user)};
    v->vals.n = 0;
    ctm__buf_value(&v->vals, &name);
    ctm__st_reset(st);
    if ((rc = ctm__st_bind_blob_copy(st, 1, v->vals.p, v->vals.n)) != CTM_OK)
        return ctm__store_fail(rc, "verify");
    int rows = 0, key_ok = 0, name_ok = 0, enabled = 0;
    while (ctm__st_step(st) == CTM_ROW) {
        rows++;
        ctm__value pub = {.tag = CTM_V_BLOB, .p = e->esig.public_key, .n = 32};
        ctm__value printed = {.tag = CTM_V_TEXT, .p = (const uint8_t *)e->esig.printed_name,
                              .n = (uint32_t)strlen(e->esig.printed_name)};
        ctm__value zero = {.tag = CTM_V_INT, .i = 0};
        key_ok = column_is(v, st, 0, &pub);
        name_ok = column_is(v, st, 1, &printed);
        enabled = column_is(v, st, 2, &zero);
    }
    ctm__st_reset(st);
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

/* ---- a destruction and its witness ----
 * A kit.destroy entry is followed at once by its kit.destroy_witness entry (one transaction):
 * the same trial, kits, method and certificate, destroyed_by naming the destroyer, and done and
 * e-signed (check_esig) by another user.  Nobody witnesses their own destruction. */

/* "key=value\n" of the parameters a destruction's two entries share, in this order (malloc'd). */
static char *witnessed_params(const ctm__entry *e)
{
    static const char *const keys[] = {"trial", "kits", "method", "certificate"};
    ctm__buf b;
    ctm__buf_init(&b);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        ctm__buf_put(&b, keys[k], strlen(keys[k]));
        ctm__buf_put(&b, "=", 1);
        for (uint32_t i = 0; i < e->nparams; i++)
            if (strcmp(e->params[i].key, keys[k]) == 0) {
                ctm__buf_put(&b, e->params[i].value, strlen(e->params[i].value));
                break;
            }
        ctm__buf_put(&b, "\n", 1);
    }
    ctm__buf_put(&b, "", 1);
    if (b.oom) {
        ctm__buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

static const char *param_of(const ctm__entry *e, const char *key)
{
    for (uint32_t i = 0; i < e->nparams; i++)
        if (strcmp(e->params[i].key, key) == 0)
            return e->params[i].value;
    return NULL;
}

static void destroy_forget(vstate *v)
{
    free(v->destroy_user);
    free(v->destroy_params);
    v->destroy_user = v->destroy_params = NULL;
    v->destroy_seq = -1;
}

static int check_witness(vstate *v, const ctm__entry *e)
{
    int witness = strcmp(e->action, "kit.destroy_witness") == 0;
    if (v->destroy_seq >= 0 && !witness)
        return fail(v, (int64_t)e->seq, "ledger", NULL,
                    "the destruction at seq %lld is not followed by its witness's entry",
                    (long long)v->destroy_seq);
    if (witness) {
        if (v->destroy_seq < 0)
            return fail(v, (int64_t)e->seq, "ledger", NULL,
                        "a witness's entry that follows no destruction");
        char *params = witnessed_params(e);
        if (params == NULL)
            return ctm__err(CTM_ENOMEM, "verify: out of memory");
        int same = strcmp(params, v->destroy_params) == 0;
        free(params);
        const char *by = param_of(e, "destroyed_by");
        int rc = CTM_OK;
        if (!same)
            rc = fail(v, (int64_t)e->seq, "ledger", NULL,
                      "the witness's entry names another destruction than seq %lld's",
                      (long long)v->destroy_seq);
        else if (by == NULL || strcmp(by, v->destroy_user) != 0)
            rc = fail(v, (int64_t)e->seq, "ledger", NULL,
                      "the witness's entry says destroyed by %s, seq %lld says %s",
                      by != NULL ? by : "nobody", (long long)v->destroy_seq, v->destroy_user);
        else if (strcmp(e->user, v->destroy_user) == 0)
            rc = fail(v, (int64_t)e->seq, "ledger", NULL,
                      "%s witnessed their own destruction (seq %lld)", e->user,
                      (long long)v->destroy_seq);
        destroy_forget(v);
        return rc;
    }
    if (strcmp(e->action, "kit.destroy") == 0) {
        v->destroy_user = ctm__strdup(e->user);
        v->destroy_params = witnessed_params(e);
        if (v->destroy_user == NULL || v->destroy_params == NULL) {
            destroy_forget(v);
            return ctm__err(CTM_ENOMEM, "verify: out of memory");
        }
        v->destroy_seq = (int64_t)e->seq;
    }
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
 * memory beyond its own bytes.  On PostgreSQL the ledger is read a page of LEDGER_PAGE rows at a
 * time and each page arrives whole (store.h), so entries stream from a smaller size there: a page
 * then holds at most LEDGER_PAGE times that. */
#define STREAM_ABOVE ((size_t)1 << 20)
#define STREAM_ABOVE_SERVER ((size_t)64 << 10)
#define LEDGER_PAGE 64

/* A record for the worker: u64 seq, u8 has_note, u8 has_frontier, u8 is_leaf, then three u32
 * lengths and the entry (or, with is_leaf, its leaf hash), the note (with its NUL) and the
 * frontier. */
static int push_tree(vstate *v, ctm__pipe *p, uint64_t seq, ctm__st *row,
                     const uint8_t *streamed_leaf)
{
    uint8_t head[8 + 3 + 12];
    const void *entry = ctm__st_blob(row, 1), *note = ctm__st_text(row, 2);
    const void *fr = ctm__st_blob(row, 3);
    uint32_t elen = (uint32_t)ctm__st_bytes(row, 1);
    ctm_hash leaf;
    /* A large entry is hashed here (as it was read, when it was streamed); the worker gets its
     * leaf hash instead of a copy of its bytes. */
    head[10] = streamed_leaf != NULL || elen > v->stream_above;
    if (streamed_leaf != NULL) {
        entry = streamed_leaf;
        elen = CTM_HASH_SIZE;
    } else if (head[10]) {
        ctm__leaf_hash(entry, elen, leaf);
        entry = leaf;
        elen = CTM_HASH_SIZE;
    }
    uint32_t nlen = note != NULL ? (uint32_t)ctm__st_bytes(row, 2) + 1 : 0;
    uint32_t flen = (uint32_t)ctm__st_bytes(row, 3);
    memcpy(head, &seq, 8);
    head[8] = note != NULL;
    head[9] = ctm__st_type(row, 3) != CTM_V_NULL;
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
    case CTM_V_INT: return "INTEGER";
    case CTM_V_REAL: return "REAL";
    case CTM_V_TEXT: return "TEXT";
    case CTM_V_BLOB: return "BLOB";
    default: return "NULL";
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

/* An entry larger than the streaming size is not selected with its row: it is read through the
 * store's blob reads (ctm__blob_*), a window at a time, so that verifying a receipt of a million
 * kits takes no more memory than one of a thousand. */
struct blob_source {
    ctm__blob *blob;
    crypto_hash_sha256_state *hash; /* the leaf hash, taken on the first pass */
    char why[200];                  /* the store's message when a read fails */
};

static int blob_fill(void *ctx, uint8_t *buf, size_t n, size_t offset)
{
    struct blob_source *b = ctx;
    if (ctm__blob_read(b->blob, buf, n, offset) != CTM_OK) {
        snprintf(b->why, sizeof b->why, "%s", ctm_errmsg());
        return -1;
    }
    if (b->hash != NULL)
        crypto_hash_sha256_update(b->hash, buf, n);
    return 0;
}

/* The whole of a streamed entry, for the one check that needs it at once: its e-signature. */
static int check_streamed_esig(vstate *v, const ctm__entry *e, ctm__blob *blob, size_t n)
{
    uint8_t *whole = malloc(n > 0 ? n : 1);
    if (whole == NULL)
        return ctm__err(CTM_ENOMEM, "verify: out of memory reading entry %llu",
                        (unsigned long long)e->seq);
    struct blob_source src = {blob, NULL, ""};
    int rc = blob_fill(&src, whole, n, 0) != 0
                 ? fail(v, (int64_t)e->seq, "ledger", NULL, "the entry cannot be read: %s", src.why)
                 : check_esig(v, e, whole, n);
    free(whole);
    return rc;
}

/* Decode, check and replay one entry; the tree side goes to the worker.  *streamed is set when
 * the entry was read as a stream, its leaf hash then in v->streamed_leaf. */
static int check_entry(vstate *v, uint64_t seq, ctm__st *row, int *streamed)
{
    /* Storage classes first: a TEXT entry or a BLOB checkpoint would be read through a
     * conversion that no other verifier makes.  A large entry is not selected (column 1 is NULL)
     * and its class is column 4's.  (PostgreSQL's columns have one type each.) */
    static const struct {
        const char *column;
        int type;
        int null_ok;
    } classes[] = {{"entry", CTM_V_BLOB, 0}, {"checkpoint", CTM_V_TEXT, 1}, {"frontier", CTM_V_BLOB, 1}};
    int stream = ctm__st_type(row, 1) == CTM_V_NULL && ctm__st_int(row, 4) != 0;
    *streamed = stream;
    for (int i = stream ? 1 : 0; i < 3; i++) {
        int type = ctm__st_type(row, i + 1);
        if (type != classes[i].type && !(type == CTM_V_NULL && classes[i].null_ok))
            return fail(v, (int64_t)seq, "ledger", NULL, "the %s is stored as %s, not %s%s",
                        classes[i].column, storage_class(type), storage_class(classes[i].type),
                        classes[i].null_ok ? " or NULL" : "");
    }
    const uint8_t *p = NULL;
    size_t n = 0;
    ctm__blob *blob = NULL;
    crypto_hash_sha256_state hash;
    struct blob_source src = {NULL, NULL, ""};
    if (stream) {
        if (ctm__blob_open(v->live, "ledger", "entry", "seq", (int64_t)seq, &blob, &n) != CTM_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", ctm_errmsg());
            return fail(v, (int64_t)seq, "ledger", NULL, "the entry cannot be read: %s", why);
        }
        src.blob = blob;
        src.hash = &hash;
        crypto_hash_sha256_init(&hash);
        crypto_hash_sha256_update(&hash, (const uint8_t[]){0x00}, 1);
    } else {
        p = ctm__st_blob(row, 1);
        n = ctm__st_bytes(row, 1);
    }
    ctm__entry e;
    char why[128];
    /* A large entry is read twice as a stream: once to check it whole (and hash it), as a small
     * one is before anything of it is replayed, then to replay it change by change. */
    if ((stream ? ctm__entry_decode_stream(&e, n, blob_fill, &src, NULL, NULL, why, sizeof why)
                : ctm__entry_decode(&e, p, n, why, sizeof why)) != 0) {
        ctm__blob_close(blob);
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
    if (rc == CTM_OK)
        rc = check_witness(v, &e);
    ctm__entry_free(&e);
    ctm__blob_close(blob);
    if (rc == CTM_OK)
        v->r.entries++;
    return rc;
}

/* The ledger in seq order, LEDGER_PAGE rows at a time (the next page after the last seq read),
 * so that no engine holds more than a page.  The engine's own SQL only tells a large entry
 * without reading it: SQLite's typeof() and length() leave the content on disk, and a TEXT entry
 * (which SQLite's length() counts in characters) is selected whole, for check_entry to name its
 * class; PostgreSQL's octet_length() of a bytea reads its size. */
static const char *const ledger_sql[2][2] = {
    {"SELECT seq, CASE WHEN typeof(entry) = 'blob' AND length(entry) > ?1"
     " THEN NULL ELSE entry END, checkpoint, frontier,"
     " typeof(entry) = 'blob' AND length(entry) > ?1"
     " FROM ledger ORDER BY seq LIMIT 64",
     "SELECT seq, CASE WHEN typeof(entry) = 'blob' AND length(entry) > ?1"
     " THEN NULL ELSE entry END, checkpoint, frontier,"
     " typeof(entry) = 'blob' AND length(entry) > ?1"
     " FROM ledger WHERE seq > ?2 ORDER BY seq LIMIT 64"},
    {"SELECT seq, CASE WHEN octet_length(entry) > ?1 THEN NULL ELSE entry END, checkpoint,"
     " frontier, CASE WHEN octet_length(entry) > ?1 THEN 1 ELSE 0 END"
     " FROM ledger ORDER BY seq LIMIT 64",
     "SELECT seq, CASE WHEN octet_length(entry) > ?1 THEN NULL ELSE entry END, checkpoint,"
     " frontier, CASE WHEN octet_length(entry) > ?1 THEN 1 ELSE 0 END"
     " FROM ledger WHERE seq > ?2 ORDER BY seq LIMIT 64"}};
_Static_assert(LEDGER_PAGE == 64, "ledger_sql's LIMIT is LEDGER_PAGE");

static int walk_rows(vstate *v, ctm__pipe *pipe)
{
    const char *const *sql = ledger_sql[v->engine == CTM__ENGINE_POSTGRES];
    ctm__st *page[2] = {NULL, NULL};
    int rc = CTM_OK;
    for (int k = 0; k < 2 && rc == CTM_OK; k++)
        rc = ctm__st_prepare(v->live, &page[k], sql[k]);
    if (rc != CTM_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", ctm_errmsg());
        ctm__st_finalize(page[0]);
        return fail(v, -1, "ledger", NULL, "cannot be read: %s", why);
    }
    uint64_t expect = 0;
    int64_t last = 0;
    int out = CTM_OK, more = 1;
    for (int first = 1; out == CTM_OK && more; first = 0) {
        ctm__st *st = page[!first];
        ctm__st_reset(st);
        rc = ctm__st_bind_int(st, 1, (int64_t)v->stream_above);
        if (rc == CTM_OK && !first)
            rc = ctm__st_bind_int(st, 2, last);
        int rows = 0;
        while (rc == CTM_OK && out == CTM_OK && (rc = ctm__st_step(st)) == CTM_ROW) {
            rc = CTM_OK;
            rows++;
            int64_t seq = ctm__st_int(st, 0);
            last = seq;
            if (seq != (int64_t)expect) {
                out = fail(v, (int64_t)expect, "ledger", NULL,
                           "entry missing (the next stored entry is seq %lld)", (long long)seq);
                break;
            }
            int streamed = 0;
            out = check_entry(v, expect, st, &streamed);
            if (out == CTM_OK)
                out = push_tree(v, pipe, expect, st, streamed ? v->streamed_leaf : NULL);
            expect++;
        }
        if (out == CTM_OK && rc != CTM_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", ctm_errmsg());
            out = fail(v, (int64_t)expect, "ledger", NULL, "cannot be read: %s", why);
        }
        more = rows == LEDGER_PAGE;
    }
    ctm__st_finalize(page[0]);
    ctm__st_finalize(page[1]);
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
    w.t.cosigs = v->cosigs;
    w.t.ncosigs = v->ncosigs;
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
    if (v->destroy_seq >= 0)
        return fail(v, v->destroy_seq + 1, "ledger", NULL,
                    "the destruction at seq %lld is not followed by its witness's entry",
                    (long long)v->destroy_seq);
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

/* ---- cosignatures (schema version 8) ----
 *
 * A row of cosignatures counts when its note is a checkpoint of this site, signed by the site's
 * key, of the row's size, and also verifies with the verifier key stored beside it (the
 * witness's).  Any other row is not counted: it witnesses nothing (whether it was written by
 * libctm is the table comparison's question).  Each counted root is compared with the walk's
 * root at its size, as a held checkpoint's is; after the walk, the largest counted size must not
 * exceed the log's. */

static int cosig_cmp(const void *a, const void *b)
{
    const struct witnessed *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

/* Whether the row (size, vkey, note) counts; its root and witness in *w when it does. */
static int cosig_counts(vstate *v, ctm__st *st, struct witnessed *w)
{
    if (ctm__st_type(st, 0) != CTM_V_INT || ctm__st_type(st, 1) != CTM_V_TEXT ||
        ctm__st_type(st, 2) != CTM_V_TEXT || ctm__st_int(st, 0) <= 0)
        return 0;
    char *name = NULL;
    uint8_t pub[32];
    uint64_t size, previous;
    int named;
    const char *note = ctm__st_text(st, 2);
    int ok = ctm__note_vkey_parse(ctm__st_text(st, 1), &name, pub) == 0 &&
             ctm__note_verify(note, name, pub, NULL) == 0 &&
             open_checkpoint(v, note, &size, w->root, &named, &previous) == 0 &&
             size == (uint64_t)ctm__st_int(st, 0);
    if (ok) {
        w->size = size;
        snprintf(w->witness, sizeof w->witness, "%s", name);
    }
    free(name);
    return ok;
}

static int load_cosignatures(vstate *v, ctm_db *db)
{
    int version = 0;
    int rc = ctm__store_schema_version(db->store, &version);
    if (rc != CTM_OK || version < 8)
        return rc;
    ctm__st *st = NULL;
    if ((rc = ctm__st_prepare(v->live, &st, "SELECT size, vkey, note FROM cosignatures")) != CTM_OK)
        return ctm__store_fail(rc, "verify: reading the cosignatures");
    size_t cap = 0;
    while ((rc = ctm__st_step(st)) == CTM_ROW) {
        struct witnessed w;
        if (!cosig_counts(v, st, &w))
            continue;
        if (v->ncosigs == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct witnessed *grown = realloc(v->cosigs, ncap * sizeof *grown);
            if (grown == NULL) {
                ctm__st_finalize(st);
                return ctm__err(CTM_ENOMEM, "verify: out of memory for the cosignatures");
            }
            v->cosigs = grown;
            cap = ncap;
        }
        v->cosigs[v->ncosigs++] = w;
    }
    ctm__st_finalize(st);
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "verify: reading the cosignatures");
    if (v->ncosigs > 1)
        qsort(v->cosigs, v->ncosigs, sizeof *v->cosigs, cosig_cmp);
    v->r.cosignatures = v->ncosigs;
    if (v->ncosigs > 0) {
        const struct witnessed *top = &v->cosigs[v->ncosigs - 1];
        v->r.witnessed_size = top->size;
        snprintf(v->r.witness, sizeof v->r.witness, "%s", top->witness);
    }
    return CTM_OK;
}

/* After the walk (which compared every counted root at its size): nothing witnessed was cut. */
static int check_witnessed(vstate *v)
{
    uint64_t n = v->frontier.size;
    if (v->r.witnessed_size > n)
        return fail(v, (int64_t)n, NULL, NULL,
                    "witness %s cosigned the checkpoint of size %llu, but the ledger has %llu "
                    "entries: it was rolled back or truncated",
                    v->r.witness, (unsigned long long)v->r.witnessed_size, (unsigned long long)n);
    return CTM_OK;
}

/* ---- comparing the live tables with the replay ----
 *
 * Each audited table is read from the live site in key order through the store, TABLE_PAGE rows
 * at a time (the next page after the last key read: no engine holds more than a page), and the
 * replay's copy in the same order (by the key columns' natural values); the two are merged in C
 * and every column compared by its canonical encoding.  A live row with no replay row of its key,
 * or whose encodings differ, was changed or added outside libctm; a replay row with no live row
 * was deleted.  A pass needs every live row matched to an equal replay row and every replay row
 * matched, whatever order the rows come in: an order the two sides disagree on can only make a
 * false failure, and a live side out of key order is refused by name. */

#define TABLE_PAGE 1000
#define TABLE_PAGE_SQL " LIMIT 1000"

/* An audited table as the expected schema has it. */
typedef struct tabledef {
    const char *name;
    int n;          /* columns */
    char **cols;    /* [n] names, in the schema's order */
    int *is_pk;     /* [n] */
    int nk;         /* key columns */
    int *keys;      /* [nk] their indexes, in the key's order */
    int *text_key;  /* [nk] declared TEXT: compared in the "C" collation on PostgreSQL */
    int secret;     /* non-key values are in the ledger only as digests */
} tabledef;

static void tabledef_free(tabledef *t)
{
    for (int i = 0; t->cols != NULL && i < t->n; i++)
        free(t->cols[i]);
    free(t->cols);
    free(t->is_pk);
    free(t->keys);
    free(t->text_key);
    memset(t, 0, sizeof *t);
}

static int tabledef_load(vstate *v, const char *table, tabledef *t)
{
    memset(t, 0, sizeof *t);
    t->name = table;
    t->secret = ctm__table_is_secret(table);
    ctm__st *st = NULL;
    int rc = prepare(v->sql, &st,
                     "SELECT name, pk, upper(type) LIKE '%TEXT%'"
                     " FROM pragma_table_info(?1, 'main') ORDER BY cid",
                     "verify");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, table);
    int cap = 0;
    while (ctm__st_step(st) == CTM_ROW)
        cap++;
    ctm__st_reset(st);
    ctm__st_bind_text(st, 1, table);
    t->cols = calloc((size_t)cap + 1, sizeof *t->cols);
    t->is_pk = calloc((size_t)cap + 1, sizeof *t->is_pk);
    t->keys = calloc((size_t)cap + 1, sizeof *t->keys);
    t->text_key = calloc((size_t)cap + 1, sizeof *t->text_key);
    int out = t->cols == NULL || t->is_pk == NULL || t->keys == NULL || t->text_key == NULL
                  ? ctm__err(CTM_ENOMEM, "out of memory")
                  : CTM_OK;
    while (out == CTM_OK && t->n < cap && ctm__st_step(st) == CTM_ROW) {
        int i = t->n, pk = (int)ctm__st_int(st, 1);
        if ((t->cols[i] = ctm__strdup(ctm__st_text(st, 0))) == NULL) {
            out = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
        t->is_pk[i] = pk > 0;
        if (pk > 0 && pk <= cap) {
            t->keys[pk - 1] = i;
            t->text_key[pk - 1] = (int)ctm__st_int(st, 2);
            t->nk = pk > t->nk ? pk : t->nk;
        }
        t->n++;
    }
    ctm__st_finalize(st);
    if (out == CTM_OK && (t->n == 0 || t->nk == 0))
        out = ctm__err(CTM_ERROR, "verify: table %s: no key in the expected schema", table);
    if (out != CTM_OK)
        tabledef_free(t);
    return out;
}

/* SQLite's order of values, which the live engine's ORDER BY gives too (a PostgreSQL column
 * holds one type, text compared in the "C" collation, byte by byte): NULL, numbers, text,
 * blobs; text and blobs by their bytes, then by length. */
static int value_rank(int tag)
{
    return tag == CTM_V_INT || tag == CTM_V_REAL ? 1
           : tag == CTM_V_TEXT                   ? 2
           : tag == CTM_V_BLOB || tag == CTM_V_DIGEST ? 3
                                                 : 0;
}

static int value_cmp(const ctm__value *a, const ctm__value *b)
{
    int ra = value_rank(a->tag), rb = value_rank(b->tag);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 0)
        return 0;
    if (ra == 1) {
        if (a->tag == CTM_V_INT && b->tag == CTM_V_INT)
            return (a->i > b->i) - (a->i < b->i);
        double x = a->tag == CTM_V_INT ? (double)a->i : a->r;
        double y = b->tag == CTM_V_INT ? (double)b->i : b->r;
        return (x > y) - (x < y);
    }
    size_t an = a->tag == CTM_V_DIGEST ? 32 : a->n, bn = b->tag == CTM_V_DIGEST ? 32 : b->n;
    int c = an > 0 && bn > 0 ? memcmp(a->p, b->p, an < bn ? an : bn) : 0;
    return c != 0 ? (c < 0 ? -1 : 1) : (an > bn) - (an < bn);
}

/* A key value kept across rows (the last live row's), its bytes owned. */
typedef struct keyval {
    ctm__value v;
    uint8_t *bytes;
    size_t cap;
} keyval;

static int keyval_set(keyval *k, const ctm__value *v)
{
    k->v = *v;
    if (v->tag != CTM_V_TEXT && v->tag != CTM_V_BLOB) {
        k->v.p = NULL;
        return CTM_OK;
    }
    if (v->n > k->cap) {
        uint8_t *grown = realloc(k->bytes, v->n);
        if (grown == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        k->bytes = grown;
        k->cap = v->n;
    }
    if (v->n > 0)
        memcpy(k->bytes, v->p, v->n);
    k->v.p = k->bytes;
    return CTM_OK;
}

/* "name=value" of a row's key columns, for messages. */
static void values_key_text(const tabledef *t, const ctm__value *vals, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (int k = 0; k < t->nk && n + 1 < len; k++) {
        const char *name = t->cols[t->keys[k]], *sep = n ? "," : "";
        const ctm__value *val = &vals[k];
        if (val->tag == CTM_V_INT)
            n += (size_t)snprintf(out + n, len - n, "%s%s=%lld", sep, name, (long long)val->i);
        else if (val->tag == CTM_V_TEXT)
            n += (size_t)snprintf(out + n, len - n, "%s%s=%.*s", sep, name,
                                  (int)(val->n > 60 ? 60 : val->n), (const char *)val->p);
        else
            n += (size_t)snprintf(out + n, len - n, "%s%s=?", sep, name);
    }
}

/* The live table in key order, a page at a time. */
typedef struct live_rows {
    vstate *v;
    const tabledef *t;
    ctm__st *page[2];  /* the first page; a page after a key */
    ctm__st *cur;      /* the page being read, or NULL */
    int rows;          /* rows of the current page so far */
    int started, done;
    keyval *last;      /* [nk] the key of the row last read */
    keyval *from;      /* [nk] the key the current page starts after (bound to it) */
    ctm__value *now;   /* [nk] scratch */
} live_rows;

static void put_key_column(ctm__buf *sql, vstate *v, const tabledef *t, int k, const char *pre)
{
    put_name(sql, pre, t->cols[t->keys[k]], "\"");
    if (v->engine == CTM__ENGINE_POSTGRES && t->text_key[k])
        ctm__buf_put(sql, " COLLATE \"C\"", 12);
}

/* SELECT "c1", ... FROM "t" [WHERE (k1, ...) > (?1, ...)] ORDER BY k1, ... LIMIT TABLE_PAGE */
static int live_rows_open(live_rows *l, vstate *v, const tabledef *t)
{
    memset(l, 0, sizeof *l);
    l->v = v;
    l->t = t;
    l->last = calloc((size_t)t->nk, sizeof *l->last);
    l->from = calloc((size_t)t->nk, sizeof *l->from);
    l->now = calloc((size_t)t->nk, sizeof *l->now);
    if (l->last == NULL || l->from == NULL || l->now == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    int rc = CTM_OK;
    for (int after = 0; after < 2 && rc == CTM_OK; after++) {
        ctm__buf sql;
        ctm__buf_init(&sql);
        for (int i = 0; i < t->n; i++)
            put_name(&sql, i ? ", \"" : "SELECT \"", t->cols[i], "\"");
        put_name(&sql, " FROM \"", t->name, "\"");
        if (after) {
            ctm__buf_put(&sql, t->nk > 1 ? " WHERE (" : " WHERE ", t->nk > 1 ? 8 : 7);
            for (int k = 0; k < t->nk; k++)
                put_key_column(&sql, v, t, k, k ? ", \"" : "\"");
            ctm__buf_put(&sql, t->nk > 1 ? ") > (" : " > ", t->nk > 1 ? 5 : 3);
            for (int k = 0; k < t->nk; k++)
                put_param(&sql, k ? ", " : "", (unsigned)k + 1);
            if (t->nk > 1)
                ctm__buf_put(&sql, ")", 1);
        }
        for (int k = 0; k < t->nk; k++)
            put_key_column(&sql, v, t, k, k ? ", \"" : " ORDER BY \"");
        ctm__buf_put(&sql, TABLE_PAGE_SQL, strlen(TABLE_PAGE_SQL) + 1); /* with the NUL */
        rc = sql.oom ? ctm__err(CTM_ENOMEM, "out of memory")
                     : ctm__st_prepare(v->live, &l->page[after], (const char *)sql.p);
        ctm__buf_free(&sql);
    }
    if (rc != CTM_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", ctm_errmsg());
        return fail(v, -1, t->name, NULL, "cannot be compared: %s", why);
    }
    return CTM_OK;
}

static void live_rows_close(live_rows *l)
{
    ctm__st_finalize(l->page[0]);
    ctm__st_finalize(l->page[1]);
    for (int k = 0; l->last != NULL && l->from != NULL && k < l->t->nk; k++) {
        free(l->last[k].bytes);
        free(l->from[k].bytes);
    }
    free(l->last);
    free(l->from);
    free(l->now);
}

/* The next live row (CTM_ROW, in l->cur), CTM_OK at the end, or a failure. */
static int live_next(live_rows *l)
{
    const tabledef *t = l->t;
    for (;;) {
        if (l->done)
            return CTM_OK;
        if (l->cur == NULL) {
            l->cur = l->page[l->started];
            ctm__st_reset(l->cur);
            int rc = CTM_OK;
            /* bound values are borrowed until the next reset: bind a copy of the last key */
            for (int k = 0; l->started && rc == CTM_OK && k < t->nk; k++)
                if ((rc = keyval_set(&l->from[k], &l->last[k].v)) == CTM_OK)
                    rc = ctm__st_bind_value(l->cur, k + 1, &l->from[k].v);
            if (rc != CTM_OK)
                return rc;
            l->rows = 0;
        }
        int rc = ctm__st_step(l->cur);
        if (rc == CTM_ROW) {
            int cmp = 0;
            for (int k = 0; k < t->nk; k++) {
                ctm__st_value(l->cur, t->keys[k], &l->now[k]);
                if (cmp == 0 && l->started)
                    cmp = value_cmp(&l->last[k].v, &l->now[k]);
            }
            if (l->started && cmp >= 0) {
                char key[128];
                values_key_text(t, l->now, key, sizeof key);
                return fail(l->v, -1, t->name, key,
                            "cannot be compared: the live rows do not come in key order");
            }
            for (int k = 0; k < t->nk; k++)
                if (keyval_set(&l->last[k], &l->now[k]) != CTM_OK)
                    return CTM_ENOMEM;
            l->started = 1;
            l->rows++;
            return CTM_ROW;
        }
        l->cur = NULL;
        if (rc != CTM_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", ctm_errmsg());
            return fail(l->v, -1, t->name, NULL, "cannot be read: %s", why);
        }
        if (l->rows < TABLE_PAGE)
            l->done = 1;
    }
}

/* The key of the live row against that of the replay row (its natural values after the n
 * canonical columns). */
static int key_cmp(const tabledef *t, ctm__st *live, ctm__st *replay)
{
    for (int k = 0; k < t->nk; k++) {
        ctm__value a, b;
        ctm__st_value(live, t->keys[k], &a);
        ctm__st_value(replay, t->n + k, &b);
        int c = value_cmp(&a, &b);
        if (c != 0)
            return c;
    }
    return 0;
}

/* Every column of the live row encodes as the replay row holds it (a secret value as its
 * DIGEST, as the ledger records it). */
static int row_equal(vstate *v, const tabledef *t, ctm__st *live, ctm__st *replay)
{
    for (int i = 0; i < t->n; i++) {
        ctm__value val;
        uint8_t d[32];
        ctm__st_value(live, i, &val);
        if (t->secret && !t->is_pk[i]) {
            ctm__value_digest(&val, d);
            val = (ctm__value){.tag = CTM_V_DIGEST, .p = d};
        }
        v->vals.n = 0;
        ctm__buf_value(&v->vals, &val);
        if (v->vals.oom || ctm__st_type(replay, i) != CTM_V_BLOB ||
            ctm__st_bytes(replay, i) != v->vals.n ||
            memcmp(ctm__st_blob(replay, i), v->vals.p, v->vals.n) != 0)
            return 0;
    }
    return 1;
}

/* SELECT "c1", ..., "ctm#k1", ... FROM replay."t" ORDER BY "ctm#k1", ..., "k1", ... */
static int replay_rows_open(vstate *v, const tabledef *t, ctm__st **out)
{
    ctm__buf sql;
    ctm__buf_init(&sql);
    for (int i = 0; i < t->n; i++)
        put_name(&sql, i ? ", \"" : "SELECT \"", t->cols[i], "\"");
    for (int k = 0; k < t->nk; k++)
        put_name(&sql, ", \"" NATURAL, t->cols[t->keys[k]], "\"");
    put_name(&sql, " FROM replay.\"", t->name, "\" ORDER BY ");
    for (int k = 0; k < t->nk; k++)
        put_name(&sql, k ? ", \"" NATURAL : "\"" NATURAL, t->cols[t->keys[k]], "\"");
    for (int k = 0; k < t->nk; k++)
        put_name(&sql, ", \"", t->cols[t->keys[k]], "\"");
    ctm__buf_u8(&sql, 0);
    int rc = sql.oom ? ctm__err(CTM_ENOMEM, "out of memory")
             : ctm__st_prepare(v->sql, out, (const char *)sql.p) != CTM_OK
                 ? fail(v, -1, t->name, NULL, "cannot be compared: %s", ctm_errmsg())
                 : CTM_OK;
    ctm__buf_free(&sql);
    return rc;
}

static int compare_rows(vstate *v, const tabledef *t, live_rows *l, ctm__st *rs)
{
    char missing[128] = "";
    int have_missing = 0, out = CTM_OK;
    uint64_t rows = 0;
    int lrc = live_next(l), rrc = ctm__st_step(rs);
    while (out == CTM_OK) {
        if (lrc != CTM_ROW && lrc != CTM_OK) {
            out = lrc;
            break;
        }
        if (rrc != CTM_ROW && rrc != CTM_OK) {
            out = fail(v, -1, t->name, NULL, "cannot be compared: %s", ctm_errmsg());
            break;
        }
        int lrow = lrc == CTM_ROW, rrow = rrc == CTM_ROW;
        if (!lrow && !rrow)
            break;
        int cmp = !lrow ? 1 : !rrow ? -1 : key_cmp(t, l->cur, rs);
        if (cmp < 0 || (cmp == 0 && !row_equal(v, t, l->cur, rs))) {
            char key[128];
            for (int k = 0; k < t->nk; k++)
                ctm__st_value(l->cur, t->keys[k], &l->now[k]);
            values_key_text(t, l->now, key, sizeof key);
            out = fail(v, -1, t->name, key,
                       "the live row differs from the ledger or was added outside libctm");
            break;
        }
        if (cmp > 0) {
            /* Reported after the whole table: a live row changed or added comes first. */
            if (!have_missing) {
                for (int k = 0; k < t->nk; k++)
                    ctm__st_value(rs, t->n + k, &l->now[k]);
                values_key_text(t, l->now, missing, sizeof missing);
                have_missing = 1;
            }
            rrc = ctm__st_step(rs);
            continue;
        }
        rows++;
        lrc = live_next(l);
        rrc = ctm__st_step(rs);
    }
    if (out == CTM_OK && have_missing)
        out = fail(v, -1, t->name, missing, "the row the ledger records is missing or changed");
    if (out == CTM_OK)
        v->r.rows += rows;
    return out;
}

static int compare_table(vstate *v, const char *table)
{
    tabledef t;
    int rc = tabledef_load(v, table, &t);
    if (rc != CTM_OK)
        return rc;
    live_rows l;
    ctm__st *rs = NULL;
    rc = live_rows_open(&l, v, &t);
    if (rc == CTM_OK)
        rc = replay_rows_open(v, &t, &rs);
    if (rc == CTM_OK)
        rc = compare_rows(v, &t, &l, rs);
    ctm__st_finalize(rs);
    live_rows_close(&l);
    tabledef_free(&t);
    return rc;
}

static int compare_tables(vstate *v)
{
    ctm__st *st = NULL;
    int rc = prepare(v->sql, &st,
                     "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name",
                     "verify");
    if (rc != CTM_OK)
        return rc;
    int out = CTM_OK;
    while (out == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        const char *name = ctm__st_text(st, 0);
        if (!ctm__table_is_internal(name))
            out = compare_table(v, name);
    }
    ctm__st_finalize(st);
    return out;
}

/* ---- the run ---- */

/* The replay's copy of one audited table: every column a BLOB holding canonical encodings, and
 * each key column's natural value beside it (NATURAL "k", no declared type, so that it keeps
 * its class); keyed by the natural values, then the encodings, without rowid: the rows are in
 * the order the live table's ORDER BY gives, and a key is the row's identity byte for byte. */
static int create_replay_table(vstate *v, const char *table)
{
    tabledef t;
    int rc = tabledef_load(v, table, &t);
    if (rc != CTM_OK)
        return rc;
    ctm__buf sql;
    ctm__buf_init(&sql);
    put_name(&sql, "CREATE TABLE replay.\"", table, "\" (");
    for (int i = 0; i < t.n; i++)
        put_name(&sql, i ? ",\"" : "\"", t.cols[i], "\" BLOB");
    for (int k = 0; k < t.nk; k++)
        put_name(&sql, ",\"" NATURAL, t.cols[t.keys[k]], "\"");
    ctm__buf_put(&sql, ", PRIMARY KEY (", 15);
    for (int k = 0; k < t.nk; k++)
        put_name(&sql, k ? ",\"" NATURAL : "\"" NATURAL, t.cols[t.keys[k]], "\"");
    for (int k = 0; k < t.nk; k++)
        put_name(&sql, ",\"", t.cols[t.keys[k]], "\"");
    ctm__buf_put(&sql, ")) WITHOUT ROWID", 17);
    int out = sql.oom ? ctm__err(CTM_ENOMEM, "out of memory")
                      : exec_sql(v->sql, (const char *)sql.p, "verify: the replay");
    ctm__buf_free(&sql);
    tabledef_free(&t);
    return out;
}

/* The replay lives in a private temporary file with a small page cache, so a log of any size
 * verifies in bounded memory; nothing of it needs to survive a crash. */
static int open_replay(vstate *v, ctm_db *db)
{
    int rc = ctm__store_open_scratch(&v->sql);
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "verify: cannot create the replay database");
    int out = create_schema(v->sql, db);
    if (out == CTM_OK)
        out = exec_sql(v->sql,
                        "ATTACH '' AS replay; PRAGMA replay.journal_mode = OFF;"
                        " PRAGMA replay.synchronous = OFF; PRAGMA replay.cache_size = -8192;"
                        " PRAGMA temp_store = FILE",
                        "verify: the replay");
    ctm__st *st = NULL;
    if (out == CTM_OK)
        out = prepare(v->sql, &st, "SELECT name FROM main.sqlite_master WHERE type = 'table'",
                      "verify");
    while (out == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        const char *name = ctm__st_text(st, 0);
        if (!ctm__table_is_internal(name))
            out = create_replay_table(v, name);
    }
    ctm__st_finalize(st);
    if (out != CTM_OK)
        return out;
    return exec_sql(v->sql, "BEGIN", "verify");
}

/* ---- the live schema ---- */

static int text_equal(const char *a, const char *b)
{
    return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* SQLite: the live schema must be the one libctm's migrations make, object by object
 * (sqlite_master, read through the store): a table, trigger, index or view added or changed by
 * hand could hide or forge changes.  Both sides in (type, name) order, merged. */
static int compare_schema_sqlite(vstate *v)
{
    ctm__st *ls = NULL;
    ctm__st *es = NULL;
    int rc = ctm__st_prepare(v->live, &ls,
                             "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
    if (rc != CTM_OK) {
        ctm__st_finalize(ls);
        return ctm__store_fail(rc, "verify: reading the schema");
    }
    if ((rc = prepare(v->sql, &es,
                      "SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY type, name",
                      "verify: reading the schema")) != CTM_OK) {
        ctm__st_finalize(ls);
        return rc;
    }
    char what[200], missing[200] = "";
    int out = CTM_OK, lrc = ctm__st_step(ls), erc = ctm__st_step(es);
    while (out == CTM_OK) {
        if (lrc != CTM_ROW && lrc != CTM_OK) {
            out = ctm__store_fail(lrc, "verify: reading the schema");
            break;
        }
        if (erc != CTM_ROW && erc != CTM_OK) {
            out = ctm__store_fail(erc, "verify: reading the schema");
            break;
        }
        int lrow = lrc == CTM_ROW, erow = erc == CTM_ROW;
        if (!lrow && !erow)
            break;
        int cmp = !lrow ? 1 : !erow ? -1 : 0;
        for (int c = 0; cmp == 0 && c < 2; c++)
            cmp = strcmp(ctm__st_text(ls, c), ctm__st_text(es, c));
        if (cmp < 0 || (cmp == 0 && !(text_equal(ctm__st_text(ls, 2), ctm__st_text(es, 2)) &&
                                       text_equal(ctm__st_text(ls, 3), ctm__st_text(es, 3))))) {
            snprintf(what, sizeof what, "%s %s", ctm__st_text(ls, 0), ctm__st_text(ls, 1));
            out = fail(v, -1, "schema", what, "added or changed outside libctm");
            break;
        }
        if (cmp > 0) {
            if (missing[0] == '\0')
                snprintf(missing, sizeof missing, "%s %s", ctm__st_text(es, 0), ctm__st_text(es, 1));
            erc = ctm__st_step(es);
            continue;
        }
        lrc = ctm__st_step(ls);
        erc = ctm__st_step(es);
    }
    ctm__st_finalize(ls);
    ctm__st_finalize(es);
    if (out == CTM_OK && missing[0] != '\0')
        out = fail(v, -1, "schema", missing, "missing or changed");
    return out;
}

/* Names read from the store (tables, or a table's columns with their key flags). */
typedef struct namelist {
    vstate *v;
    char **names;
    int *is_pk;
    size_t n, cap;
} namelist;

static int namelist_add(namelist *l, const char *name, int is_pk)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **names = realloc(l->names, cap * sizeof *names);
        if (names != NULL)
            l->names = names;
        int *pk = realloc(l->is_pk, cap * sizeof *pk);
        if (pk != NULL)
            l->is_pk = pk;
        if (names == NULL || pk == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        l->cap = cap;
    }
    if ((l->names[l->n] = ctm__strdup(name)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    l->is_pk[l->n++] = is_pk;
    return CTM_OK;
}

static int add_table(void *ctx, const char *table)
{
    return namelist_add(ctx, table, 0);
}

static int add_column(void *ctx, const char *name, int is_pk)
{
    return namelist_add(ctx, name, is_pk);
}

static void namelist_free(namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->is_pk);
    memset(l, 0, sizeof *l);
}

/* The expected schema's key flag of column `column` of `table`: -1 when there is no such
 * table or column (a table alone: column NULL, 0 when it exists). */
static int expected_column(vstate *v, const char *table, const char *column)
{
    if (column == NULL) {
        ctm__st *st = NULL;
        int found = -1;
        if (ctm__st_prepare(v->sql, &st,
                            "SELECT 0 FROM main.sqlite_master WHERE type = 'table' AND name = ?1") ==
            CTM_OK) {
            ctm__st_bind_text(st, 1, table);
            if (ctm__st_step(st) == CTM_ROW)
                found = 0;
        }
        ctm__st_finalize(st);
        return found;
    }
    return schema_column(v, table, column);
}

/* PostgreSQL: the site's tables (those of its schema but libctm's own "ctm__" ones) must be the
 * expected schema's, each with the expected columns and key.  This does not cover what
 * sqlite_master shows on SQLite and a server keeps elsewhere (triggers, functions, rules,
 * views, policies, column types and constraints, other schemas on the search path): on a server,
 * writes outside libctm are the guard trigger's to refuse (docs/audit-format.md 8); whatever
 * such an object changes in a row still shows in the comparison of every row below. */
static int compare_schema_server(vstate *v)
{
    namelist live = {.v = v}, cols = {.v = v};
    char what[200];
    int rc = ctm__store_tables(v->live, add_table, &live);
    if (rc != CTM_OK)
        rc = ctm__store_fail(rc, "verify: reading the schema");
    for (size_t i = 0; rc == CTM_OK && i < live.n; i++)
        if (expected_column(v, live.names[i], NULL) < 0 ||
            strncmp(live.names[i], "sqlite_", 7) == 0) {
            snprintf(what, sizeof what, "table %s", live.names[i]);
            rc = fail(v, -1, "schema", what, "added or changed outside libctm");
        }
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = prepare(v->sql, &st,
                     "SELECT name FROM main.sqlite_master WHERE type = 'table'"
                     " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                     "verify: reading the schema");
    while (rc == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        const char *table = ctm__st_text(st, 0);
        namelist_free(&cols);
        int crc = ctm__store_columns(v->live, table, add_column, &cols);
        if (crc == CTM_ENOTFOUND) {
            snprintf(what, sizeof what, "table %s", table);
            rc = fail(v, -1, "schema", what, "missing or changed");
            break;
        }
        if (crc != CTM_OK) {
            rc = ctm__store_fail(crc, "verify: reading the schema");
            break;
        }
        for (size_t i = 0; rc == CTM_OK && i < cols.n; i++)
            if (expected_column(v, table, cols.names[i]) != cols.is_pk[i]) {
                snprintf(what, sizeof what, "column %s.%s", table, cols.names[i]);
                rc = fail(v, -1, "schema", what, "added or changed outside libctm");
            }
        ctm__st *ec = NULL;
        if (rc == CTM_OK &&
            ctm__st_prepare(v->sql, &ec, "SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid") ==
                CTM_OK) {
            ctm__st_bind_text(ec, 1, table);
            while (rc == CTM_OK && ctm__st_step(ec) == CTM_ROW) {
                const char *name = ctm__st_text(ec, 0);
                size_t i = 0;
                while (i < cols.n && strcmp(cols.names[i], name) != 0)
                    i++;
                if (i == cols.n) {
                    snprintf(what, sizeof what, "column %s.%s", table, name);
                    rc = fail(v, -1, "schema", what, "missing or changed");
                }
            }
        }
        ctm__st_finalize(ec);
    }
    ctm__st_finalize(st);
    namelist_free(&cols);
    namelist_free(&live);
    return rc;
}

static int compare_schema(vstate *v)
{
    return v->engine == CTM__ENGINE_POSTGRES ? compare_schema_server(v) : compare_schema_sqlite(v);
}

/* Text is compared byte for byte as UTF-8: a database in another encoding would be converted on
 * every read, and its bytes are not what the entries record.  SQLite: the file's encoding;
 * PostgreSQL: the server's (the connection's is set to UTF8 by the store, and a server in
 * another encoding would convert every text). */
static int check_encoding(vstate *v)
{
    static const char *const sql[2] = {
        "PRAGMA main.encoding",
        "SELECT current_setting('server_encoding')"};
    static const char *const utf8[2] = {"UTF-8", "UTF8"};
    int server = v->engine == CTM__ENGINE_POSTGRES;
    ctm__st *st = NULL;
    char enc[32] = "";
    int rc = ctm__st_prepare(v->live, &st, sql[server]);
    if (rc != CTM_OK) {
        ctm__st_finalize(st);
        return ctm__store_fail(rc, "verify: reading the text encoding");
    }
    if (ctm__st_step(st) == CTM_ROW && ctm__st_text(st, 0) != NULL)
        snprintf(enc, sizeof enc, "%s", ctm__st_text(st, 0));
    ctm__st_finalize(st);
    return strcmp(enc, utf8[server]) == 0
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
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(v->live, &st, "SELECT id, origin, public_key FROM site");
    if (rc != CTM_OK) {
        ctm__st_finalize(st);
        return ctm__store_fail(rc, "verify: reading the site");
    }
    int out = CTM_OK;
    while (out == CTM_OK && (rc = ctm__st_step(st)) == CTM_ROW) {
        size_t olen = strlen(v->origin);
        int origin_ok = ctm__st_type(st, 1) == CTM_V_TEXT && ctm__st_bytes(st, 1) == olen &&
                        memcmp(ctm__st_text(st, 1), v->origin, olen) == 0;
        int key_ok = ctm__st_type(st, 2) == CTM_V_BLOB && ctm__st_bytes(st, 2) == 32 &&
                     memcmp(ctm__st_blob(st, 2), v->pub, 32) == 0;
        if (!origin_ok || !key_ok) {
            char key[64];
            if (ctm__st_type(st, 0) == CTM_V_INT)
                snprintf(key, sizeof key, "id=%lld", (long long)ctm__st_int(st, 0));
            else
                snprintf(key, sizeof key, "id=?");
            out = fail(v, -1, "site", key,
                       "the site's %s is not the verifier key's: a site key never changes",
                       key_ok ? "origin" : "public key");
        }
    }
    ctm__st_finalize(st);
    return out != CTM_OK || rc == CTM_OK ? out : ctm__store_fail(rc, "verify: reading the site");
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
        ctm__st_finalize(v->replay[i].st);
        free(v->replay[i].shape);
    }
    ctm__st_finalize(v->signer);
    destroy_forget(v);
    ctm__buf_free(&v->vals);
    ctm__store_close(v->sql); /* rolls the replay back */
    free(v->origin);
    free(v->cosigs);
}

int ctm_audit_verify(ctm_db *db, const char *vkey, const char *held_checkpoint,
                     ctm_verify_result *result)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "verify: no database handle");
    /* The replay must be compared with what is committed, in one read transaction of its own. */
    if (ctm__store_in_transaction(db->store))
        return ctm__err(CTM_EMISUSE, "verify: a batch is open on this handle: commit or roll it "
                                     "back first");
    vstate v;
    memset(&v, 0, sizeof v);
    v.live = db->store;
    v.engine = ctm__store_engine(db->store);
    v.stream_above = v.engine == CTM__ENGINE_POSTGRES ? STREAM_ABOVE_SERVER : STREAM_ABOVE;
    v.r.struct_size = sizeof v.r;
    v.r.failed_seq = -1;
    v.frontier_seq = -1;
    v.destroy_seq = -1;
    ctm__frontier_init(&v.frontier);
    int rc = load_key(&v, db, vkey);
    if (rc == CTM_OK)
        rc = load_held(&v, held_checkpoint);
    /* every read of the live site in one read transaction, so that the pages of the ledger and
     * of each table are of one state of the site */
    int snapshot = rc == CTM_OK && (rc = ctm__store_begin_snapshot(v.live, "verify")) == CTM_OK;
    if (rc == CTM_OK)
        rc = check_encoding(&v);
    if (rc == CTM_OK)
        rc = open_replay(&v, db);
    if (rc == CTM_OK)
        rc = compare_schema(&v);
    if (rc == CTM_OK)
        rc = check_site_key(&v);
    if (rc == CTM_OK)
        rc = load_cosignatures(&v, db);
    if (rc == CTM_OK)
        rc = walk_ledger(&v);
    if (rc == CTM_OK)
        rc = check_tail(&v);
    if (rc == CTM_OK)
        rc = check_witnessed(&v);
    if (rc == CTM_OK)
        rc = compare_tables(&v);
    if (snapshot)
        ctm__store_end_snapshot(v.live, rc);
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
