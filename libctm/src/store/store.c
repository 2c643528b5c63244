/* store.c - the store seam's calls (store.h), each dispatched to the handle's engine (engine.h).
 *
 * A handle is opened by the engine its target names (ctm__store_is_server) and carries that
 * engine's table from then on: every later call is one indirect call, so the SQLite path costs
 * nothing measurable over calling sqlite.c directly. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "engine.h"

/* The keywords a libpq connection string may start with (PostgreSQL 15's libpq), so that a file
 * whose name merely holds an '=' ("run=3.db") stays a file. */
static const char *const conninfo_keywords[] = {
    "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
    "fallback_application_name", "gssencmode", "gsslib", "host", "hostaddr", "keepalives",
    "keepalives_count", "keepalives_idle", "keepalives_interval", "krbsrvname", "options",
    "passfile", "password", "port", "replication", "requirepeer", "requiressl", "service",
    "ssl_max_protocol_version", "ssl_min_protocol_version", "sslcert", "sslcompression",
    "sslcrl", "sslcrldir", "sslkey", "sslmode", "sslpassword", "sslrootcert", "sslsni",
    "target_session_attrs", "tcp_user_timeout", "user",
};

int ctm__store_is_server(const char *target)
{
    if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0)
        return 1;
    /* a libpq "key=value ..." string: a known keyword, then '=' */
    const char *p = target;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = 0;
    while (p[n] == '_' || islower((unsigned char)p[n]))
        n++;
    const char *q = p + n;
    while (isspace((unsigned char)*q))
        q++;
    if (n == 0 || *q != '=')
        return 0;
    for (size_t i = 0; i < sizeof conninfo_keywords / sizeof conninfo_keywords[0]; i++)
        if (strlen(conninfo_keywords[i]) == n && strncmp(conninfo_keywords[i], p, n) == 0)
            return 1;
    return 0;
}

int ctm__store_fail(int rc, const char *doing)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ctm_errmsg());
    return ctm__err(rc, "%s: %s", doing, msg);
}

/* ---- connections ---- */

int ctm__store_open(ctm__store **out, const char *target, unsigned flags)
{
    *out = NULL;
    if (!ctm__store_is_server(target))
        return ctm__sqlite_engine.open(out, target, flags);
#ifdef CTM_HAVE_POSTGRES
    return ctm__postgres_engine.open(out, target, flags);
#else
    return ctm__err(CTM_EINVAL,
                    "a PostgreSQL database was named, but this libctm was built without "
                    "PostgreSQL support (meson option postgres)");
#endif
}

int ctm__store_open_scratch(ctm__store **out)
{
    *out = NULL;
    return ctm__sqlite_engine.open(out, ":memory:", CTM__STORE_CREATE);
}

static void cache_close(ctm__st_cache *c);

void ctm__store_close(ctm__store *s)
{
    if (s == NULL)
        return;
    cache_close(s->cache);
    s->cache = NULL;
    s->ops->close(s);
}

enum ctm__engine ctm__store_engine(const ctm__store *s)
{
    return s->ops->engine;
}

void ctm__store_busy_timeout(ctm__store *s, int ms)
{
    s->ops->busy_timeout(s, ms);
}

const char *ctm__store_name(const ctm__store *s)
{
    return s->ops->name(s);
}

/* ---- transactions ---- */

int ctm__store_begin(ctm__store *s)
{
    return s->ops->begin(s);
}

int ctm__store_commit(ctm__store *s)
{
    return s->ops->commit(s);
}

int ctm__store_begin_read(ctm__store *s, ctm__st *first)
{
    if (s->ops->begin_read != NULL)
        return s->ops->begin_read(s, first);
    return s->ops->begin(s);
}

int ctm__store_commit_after(ctm__store *s, ctm__st *const *sts, int n, ctm__st *tidy)
{
    if (s->ops->commit_after != NULL)
        return s->ops->commit_after(s, sts, n, tidy);
    int rc = CTM_OK;
    for (int i = 0; i <= n; i++) {
        ctm__st *st = i < n ? sts[i] : tidy;
        if (st == NULL)
            continue;
        if (rc == CTM_OK)
            rc = ctm__st_run(st);
        ctm__st_reset(st);
    }
    return rc == CTM_OK ? s->ops->commit(s) : rc;
}

void ctm__store_rollback(ctm__store *s)
{
    s->ops->rollback(s);
}

int ctm__store_savepoint(ctm__store *s)
{
    return s->ops->savepoint(s);
}

int ctm__store_release(ctm__store *s)
{
    return s->ops->release(s);
}

void ctm__store_rollback_savepoint(ctm__store *s)
{
    s->ops->rollback_savepoint(s);
}

int ctm__store_in_transaction(const ctm__store *s)
{
    return s->ops->in_transaction(s);
}

int ctm__store_exec(ctm__store *s, const char *sql)
{
    return s->ops->exec(s, sql);
}

int ctm__store_begin_snapshot(ctm__store *s, const char *what)
{
    int rc = ctm__store_exec(s, ctm__store_engine(s) == CTM__ENGINE_POSTGRES
                                    ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                    : "BEGIN");
    if (rc == CTM_OK)
        return CTM_OK;
    char doing[128];
    snprintf(doing, sizeof doing, "%s: beginning a read transaction", what);
    return ctm__store_fail(rc, doing);
}

int ctm__store_end_snapshot(ctm__store *s, int rc)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ctm_errmsg());
    if (ctm__store_exec(s, "COMMIT") != CTM_OK)
        ctm__store_rollback(s);
    if (rc != CTM_OK)
        return ctm__err(rc, "%s", msg);
    ctm__clear_error();
    return CTM_OK;
}

/* ---- statements ---- */

/* ---- the statement cache ----
 * Preparing costs: SQLite parses and plans, PostgreSQL makes two or three round trips (prepare,
 * describe, and a type probe for parameters tested by IS NULL) and a DEALLOCATE later.  Most
 * statements are the same few texts run again and again (a dispense runs a few dozen), so a
 * store keeps one idle prepared statement per SQL text: ctm__st_finalize resets a statement and
 * keeps it, and ctm__st_prepare of the same text hands it out again.  The caller sees no
 * difference: the statement comes back as a fresh one would (no rows, no bindings).  A text
 * whose statement is in use is prepared again (the second is finalized for good); the cache
 * holds at most CACHE_TEXTS texts, after which new texts are not kept; a statement streamed
 * (ctm__st_stream) is never kept.
 *
 * Statements may outlive their store (ctm__store_close, like sqlite3_close_v2, leaves a statement
 * still in use alive until it is finalized), so the cache counts the statements that may return
 * to it and is freed by whichever comes last, the store's close or the last of them. */
#define CACHE_SLOTS 1024u /* a power of two */
#define CACHE_TEXTS 768u  /* at most this many slots used, so that probing ends */

struct cache_slot {
    char *sql;       /* NULL: an empty slot */
    uint64_t hash;
    ctm__st *idle;   /* a reset statement ready for reuse, or NULL */
};

struct ctm__st_cache {
    struct cache_slot slot[CACHE_SLOTS];
    unsigned texts;  /* slots used */
    size_t members;  /* statements alive that would return here */
    int closed;      /* the store is closed: nothing returns any more */
};

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211u;
    return h;
}

/* The slot of sql: the one holding it, else the empty one where it would go. */
static struct cache_slot *cache_find(ctm__st_cache *c, const char *sql, uint64_t h)
{
    for (uint32_t i = (uint32_t)h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        struct cache_slot *e = &c->slot[i];
        if (e->sql == NULL || (e->hash == h && strcmp(e->sql, sql) == 0))
            return e;
    }
}

static void cache_free_if_done(ctm__st_cache *c)
{
    if (!c->closed || c->members > 0)
        return;
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        free(c->slot[i].sql);
    free(c);
}

static void cache_close(ctm__st_cache *c)
{
    if (c == NULL)
        return;
    c->closed = 1;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        ctm__st *st = c->slot[i].idle;
        if (st != NULL) {
            c->slot[i].idle = NULL;
            c->members--;
            st->ops->finalize(st);
        }
    }
    cache_free_if_done(c);
}

int ctm__st_prepare(ctm__store *s, ctm__st **out, const char *sql)
{
    if (s->cache == NULL)
        s->cache = calloc(1, sizeof *s->cache); /* none: statements are simply not kept */
    ctm__st_cache *c = s->cache;
    struct cache_slot *e = NULL;
    if (c != NULL) {
        uint64_t h = sql_hash(sql);
        e = cache_find(c, sql, h);
        if (e->idle != NULL) {
            *out = e->idle;
            e->idle = NULL;
            return CTM_OK;
        }
        if (e->sql == NULL) {
            if (c->texts >= CACHE_TEXTS || (e->sql = ctm__strdup(sql)) == NULL) {
                e = NULL;
            } else {
                e->hash = h;
                c->texts++;
            }
        }
    }
    int rc = s->ops->prepare(s, out, sql);
    if (rc == CTM_OK && e != NULL) {
        (*out)->cache = c;
        (*out)->slot = (uint32_t)(e - c->slot);
        c->members++;
    }
    return rc;
}

int ctm__st_bind_int(ctm__st *st, int i, int64_t v)
{
    return st->ops->bind_int(st, i, v);
}

int ctm__st_bind_real(ctm__st *st, int i, double v)
{
    return st->ops->bind_real(st, i, v);
}

int ctm__st_bind_text(ctm__st *st, int i, const char *s)
{
    return s == NULL ? st->ops->bind_null(st, i) : st->ops->bind_text(st, i, s);
}

int ctm__st_bind_textn(ctm__st *st, int i, const char *s, size_t n)
{
    if (n > INT32_MAX)
        return ctm__err(CTM_EINVAL, "a text of %zu bytes is too long to store", n);
    return st->ops->bind_textn(st, i, s, n);
}

int ctm__st_bind_text_copy(ctm__st *st, int i, const char *s)
{
    return s == NULL ? st->ops->bind_null(st, i) : st->ops->bind_text_copy(st, i, s);
}

int ctm__st_bind_blob(ctm__st *st, int i, const void *p, size_t n)
{
    if (n > INT32_MAX)
        return ctm__err(CTM_EINVAL, "a value of %zu bytes is too long to store", n);
    return st->ops->bind_blob(st, i, p, n);
}

int ctm__st_bind_blob_copy(ctm__st *st, int i, const void *p, size_t n)
{
    if (n > INT32_MAX)
        return ctm__err(CTM_EINVAL, "a value of %zu bytes is too long to store", n);
    return st->ops->bind_blob_copy(st, i, p, n);
}

int ctm__st_bind_null(ctm__st *st, int i)
{
    return st->ops->bind_null(st, i);
}

int ctm__st_bind_value(ctm__st *st, int i, const ctm__value *v)
{
    switch (v->tag) {
    case CTM_V_INT: return ctm__st_bind_int(st, i, v->i);
    case CTM_V_REAL: return ctm__st_bind_real(st, i, v->r);
    case CTM_V_TEXT: return ctm__st_bind_textn(st, i, (const char *)v->p, v->n);
    case CTM_V_BLOB: return ctm__st_bind_blob(st, i, v->p, v->n);
    case CTM_V_DIGEST: return ctm__st_bind_blob(st, i, v->p, 32);
    default: return ctm__st_bind_null(st, i);
    }
}

int ctm__st_step(ctm__st *st)
{
    return st->ops->step(st);
}

int ctm__st_run(ctm__st *st)
{
    int rc;
    while ((rc = st->ops->step(st)) == CTM_ROW)
        ;
    return rc;
}

void ctm__st_reset(ctm__st *st)
{
    st->ops->reset(st);
}

void ctm__st_finalize(ctm__st *st)
{
    if (st == NULL)
        return;
    ctm__st_cache *c = st->cache;
    if (c != NULL && !c->closed && !st->streamed && c->slot[st->slot].idle == NULL) {
        st->ops->reset(st);
        c->slot[st->slot].idle = st;
        return;
    }
    st->ops->finalize(st);
    if (c != NULL) {
        c->members--;
        cache_free_if_done(c);
    }
}

void ctm__st_stream(ctm__st *st)
{
    st->streamed = 1;
    if (st->ops->stream != NULL)
        st->ops->stream(st);
}

int64_t ctm__st_changes(ctm__st *st)
{
    return st->ops->changes(st);
}

int ctm__st_nparams(ctm__st *st)
{
    return st->ops->nparams(st);
}

int ctm__st_ncols(ctm__st *st)
{
    return st->ops->ncols(st);
}

const char *ctm__st_colname(ctm__st *st, int col)
{
    return st->ops->colname(st, col);
}

int ctm__st_type(ctm__st *st, int col)
{
    return st->ops->type(st, col);
}

int64_t ctm__st_int(ctm__st *st, int col)
{
    return st->ops->int64(st, col);
}

double ctm__st_real(ctm__st *st, int col)
{
    return st->ops->real(st, col);
}

const char *ctm__st_text(ctm__st *st, int col)
{
    return st->ops->text(st, col);
}

const void *ctm__st_blob(ctm__st *st, int col)
{
    return st->ops->blob(st, col);
}

size_t ctm__st_bytes(ctm__st *st, int col)
{
    return st->ops->bytes(st, col);
}

void ctm__st_value(ctm__st *st, int col, ctm__value *v)
{
    st->ops->value(st, col, v);
}

/* ---- schema ---- */

int ctm__store_schema_version(ctm__store *s, int *version)
{
    return s->ops->schema_version(s, version);
}

int ctm__store_set_schema_version(ctm__store *s, int version)
{
    return s->ops->set_schema_version(s, version);
}

int ctm__store_columns(ctm__store *s, const char *table, ctm__column_fn fn, void *ctx)
{
    return s->ops->columns(s, table, fn, ctx);
}

int ctm__store_tables(ctm__store *s, ctm__table_fn fn, void *ctx)
{
    return s->ops->tables(s, fn, ctx);
}

int ctm__store_foreign_keys(ctm__store *s, ctm__fk_fn fn, void *ctx)
{
    return s->ops->foreign_keys(s, fn, ctx);
}

int ctm__store_ids_follow(ctm__store *s)
{
    return s->ops->ids_follow(s);
}

/* ---- change capture ---- */

int ctm__store_capture_start(ctm__store *s, ctm__capture_fn fn, void *ctx)
{
    return s->ops->capture_start(s, fn, ctx);
}

int ctm__store_capture_collect(ctm__store *s)
{
    return s->ops->capture_collect(s);
}

void ctm__store_capture_stop(ctm__store *s)
{
    s->ops->capture_stop(s);
}

/* ---- large values ---- */

int ctm__blob_open(ctm__store *s, const char *table, const char *column, const char *key,
                   int64_t id, ctm__blob **out, size_t *size)
{
    return s->ops->blob_open(s, table, column, key, id, out, size);
}

int ctm__blob_read(ctm__blob *b, void *buf, size_t n, size_t offset)
{
    if (n > INT32_MAX || offset > INT32_MAX)
        return ctm__err(CTM_EINVAL, "reading a stored value: %zu bytes at %zu", n, offset);
    return b->ops->blob_read(b, buf, n, offset);
}

void ctm__blob_close(ctm__blob *b)
{
    if (b != NULL)
        b->ops->blob_close(b);
}
