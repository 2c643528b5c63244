/* sqlite.c - the SQLite engine behind the store seam (store.h, engine.h): a site in one file. */
/* Debian's SQLite is built with the pre-update hook; its API is declared only on request. */
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "engine.h"

#define CTM_APPLICATION_ID 0x43544d31 /* "CTM1" in PRAGMA application_id */

enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO, TX_COUNT };
static const char *const tx_sql[TX_COUNT] = {
    [TX_BEGIN] = "BEGIN IMMEDIATE",
    [TX_COMMIT] = "COMMIT",
    [TX_ROLLBACK] = "ROLLBACK",
    [TX_SAVEPOINT] = "SAVEPOINT ctm_action",
    [TX_RELEASE] = "RELEASE ctm_action",
    [TX_ROLLBACK_TO] = "ROLLBACK TO ctm_action",
};

typedef struct sq_store {
    ctm__store base; /* first: the engine table */
    sqlite3 *sql;
    char *name;
    unsigned flags;
    sqlite3_stmt *tx[TX_COUNT]; /* prepared on first use: a batch runs thousands of savepoints */
    ctm__capture_fn capture;
    void *capture_ctx;
    int capture_rc;
    int configured;
    /* The REAL columns of each table, for capture: SQLite stores a whole REAL (1.0) as an
     * INTEGER on disk and hands an INSERT's pre-update hook that INTEGER, while a read gives
     * REAL 1.0 back (and an UPDATE's hook REAL): captured as REAL, the ledger records what
     * every read returns.  Rebuilt when the schema's cookie changes. */
    struct real_cols *reals;
    size_t nreals;
    int reals_cookie; /* PRAGMA schema_version the list was made at; -1: never made */
    sqlite3_stmt *cookie; /* PRAGMA main.schema_version, prepared once */
} sq_store;

struct real_cols {
    char *table;
    int ncols;
    unsigned char *is_real; /* [ncols] */
};

typedef struct sq_st {
    ctm__st base;
    sq_store *s;
    sqlite3_stmt *st;
} sq_st;

typedef struct sq_blob {
    ctm__blob base;
    sq_store *s;
    sqlite3_blob *b;
} sq_blob;

static void sq_close(ctm__store *base);
static int sq_exec(ctm__store *base, const char *sql);
static void free_reals(sq_store *s);

/* The status of an SQLite failure, with its message. */
static int fail(sq_store *s, int rc, const char *doing)
{
    int code = CTM_ERROR;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            code = CTM_EEXISTS;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = CTM_EBUSY; break;
    case SQLITE_NOMEM: code = CTM_ENOMEM; break;
    case SQLITE_NOTADB: code = CTM_ENOTDB; break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY: code = CTM_EIO; break;
    case SQLITE_CORRUPT: code = CTM_EINTEGRITY; break;
    default: break;
    }
    const char *msg = s != NULL && s->sql != NULL ? sqlite3_errmsg(s->sql) : sqlite3_errstr(rc);
    if (doing != NULL)
        return ctm__err(code, "%s: %s", doing, msg);
    return ctm__err(code, "%s", msg);
}

/* A value as SQLite holds it, by storage class (audit-format.md 2.1); texts and blobs borrowed. */
static void sqlite_value(sqlite3_value *sv, ctm__value *v)
{
    memset(v, 0, sizeof *v);
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

/* ---- connections ---- */

static int sq_open(ctm__store **out, const char *target, unsigned flags)
{
    *out = NULL;
    sq_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->name = ctm__strdup(target)) == NULL) {
        free(s);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    s->base.ops = &ctm__sqlite_engine;
    s->flags = flags;
    s->reals_cookie = -1;
    int readonly = (flags & CTM__STORE_READONLY) != 0;
    int oflags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!readonly && (flags & CTM__STORE_CREATE))
        oflags |= SQLITE_OPEN_CREATE;
    /* One handle is used by one thread at a time (ctm.h), so SQLite need not lock each call. */
    int src = sqlite3_open_v2(target, &s->sql, oflags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    int rc = CTM_OK;
    if (src != SQLITE_OK) {
        rc = ctm__err(CTM_EIO, "%s: cannot open: %s%s", target,
                      s->sql != NULL ? sqlite3_errmsg(s->sql) : sqlite3_errstr(src),
                      (oflags & SQLITE_OPEN_CREATE) ? "" : " (no such database?)");
        goto out;
    }
    /* A new database holds password hashes and sealed keys: private to its owner, like the key
     * file.  SQLite gives its -wal and -shm files the database file's mode; a new file is empty
     * until the first write. */
    struct stat stbuf;
    if (!readonly && (flags & CTM__STORE_CREATE) && strcmp(target, ":memory:") != 0 &&
        stat(target, &stbuf) == 0 && stbuf.st_size == 0 &&
        chmod(target, 0600) != 0) {
        rc = ctm__err(CTM_EIO, "%s: cannot make the new database private: %s", target,
                      strerror(errno));
        goto out;
    }
    sqlite3_busy_timeout(s->sql, 5000);
    sqlite3_extended_result_codes(s->sql, 1);
out:
    if (rc != CTM_OK) {
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return CTM_OK;
}

/* Pragmas come after the identity check: WAL mode writes to the file, which must not happen
 * to a file that is not a libctm site. */
static int configure(sq_store *s)
{
    if (s->configured)
        return CTM_OK;
    s->configured = 1;
    int rc = CTM_OK;
    if (!(s->flags & CTM__STORE_READONLY))
        rc = sq_exec(&s->base, "PRAGMA journal_mode = WAL");
    if (rc == CTM_OK)
        rc = sq_exec(&s->base, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    return rc;
}

static void sq_busy_timeout(ctm__store *base, int ms)
{
    sq_store *s = (sq_store *)base;
    sqlite3_busy_timeout(s->sql, ms > 0 ? ms : 5000);
}

static void sq_close(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    if (s == NULL)
        return;
    if (s->sql != NULL) {
        if (!sqlite3_get_autocommit(s->sql))
            sqlite3_exec(s->sql, "ROLLBACK", NULL, NULL, NULL);
        for (int i = 0; i < TX_COUNT; i++)
            sqlite3_finalize(s->tx[i]);
        sqlite3_finalize(s->cookie);
        /* close_v2: result sets still open keep the connection alive until they are freed. */
        sqlite3_close_v2(s->sql);
    }
    free_reals(s);
    free(s->name);
    free(s);
}

static const char *sq_name(const ctm__store *base)
{
    const sq_store *s = (const sq_store *)base;
    return s->name;
}

/* ---- transactions ---- */

static int tx(sq_store *s, int which)
{
    if (s->tx[which] == NULL) {
        int rc = sqlite3_prepare_v3(s->sql, tx_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->tx[which], NULL);
        if (rc != SQLITE_OK)
            return fail(s, rc, tx_sql[which]);
    }
    int rc = sqlite3_step(s->tx[which]);
    sqlite3_reset(s->tx[which]);
    return rc == SQLITE_DONE ? CTM_OK : fail(s, rc, tx_sql[which]);
}

static int sq_begin(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    return tx(s, TX_BEGIN);
}

static int sq_commit(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    return tx(s, TX_COMMIT);
}

static void sq_rollback(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    if (!sqlite3_get_autocommit(s->sql))
        tx(s, TX_ROLLBACK);
}

static int sq_savepoint(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    return tx(s, TX_SAVEPOINT);
}

static int sq_release(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    return tx(s, TX_RELEASE);
}

static void sq_rollback_savepoint(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    if (tx(s, TX_ROLLBACK_TO) == CTM_OK)
        tx(s, TX_RELEASE);
}

static int sq_in_transaction(const ctm__store *base)
{
    const sq_store *s = (const sq_store *)base;
    return !sqlite3_get_autocommit(s->sql);
}

static int sq_exec(ctm__store *base, const char *sql)
{
    sq_store *s = (sq_store *)base;
    int rc = sqlite3_exec(s->sql, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CTM_OK : fail(s, rc, NULL);
}

/* ---- statements ---- */

static int sq_prepare(ctm__store *base, ctm__st **out, const char *sql)
{
    sq_store *s = (sq_store *)base;
    *out = NULL;
    sq_st *st = calloc(1, sizeof *st);
    if (st == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    st->base.ops = &ctm__sqlite_engine;
    st->s = s;
    int rc = sqlite3_prepare_v3(s->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->st, NULL);
    if (rc != SQLITE_OK) {
        free(st);
        return fail(s, rc, "preparing a statement");
    }
    *out = &st->base;
    return CTM_OK;
}

static int bound(sq_st *st, int rc)
{
    return rc == SQLITE_OK ? CTM_OK : fail(st->s, rc, "binding a value");
}

static int sq_bind_int(ctm__st *base, int i, int64_t v)
{
    sq_st *st = (sq_st *)base;
    return bound(st, sqlite3_bind_int64(st->st, i, v));
}

static int sq_bind_real(ctm__st *base, int i, double v)
{
    sq_st *st = (sq_st *)base;
    return bound(st, sqlite3_bind_double(st->st, i, v));
}

static int sq_bind_text(ctm__st *base, int i, const char *s)
{
    sq_st *st = (sq_st *)base;
    return bound(st, sqlite3_bind_text(st->st, i, s, -1, SQLITE_STATIC));
}

static int sq_bind_textn(ctm__st *base, int i, const char *s, size_t n)
{
    sq_st *st = (sq_st *)base;
    if (n > INT32_MAX)
        return ctm__err(CTM_EINVAL, "a text of %zu bytes is too long to store", n);
    return bound(st, sqlite3_bind_text(st->st, i, s, (int)n, SQLITE_STATIC));
}

static int sq_bind_text_copy(ctm__st *base, int i, const char *s)
{
    sq_st *st = (sq_st *)base;
    return bound(st, sqlite3_bind_text(st->st, i, s, -1, SQLITE_TRANSIENT));
}

static int bind_blob(sq_st *st, int i, const void *p, size_t n, sqlite3_destructor_type how)
{
    if (n > INT32_MAX)
        return ctm__err(CTM_EINVAL, "a value of %zu bytes is too long to store", n);
    /* a NULL pointer would bind NULL: an empty value is an empty blob */
    static const char empty[1];
    return bound(st, sqlite3_bind_blob(st->st, i, p != NULL ? p : empty, (int)n, how));
}

static int sq_bind_blob(ctm__st *base, int i, const void *p, size_t n)
{
    sq_st *st = (sq_st *)base;
    return bind_blob(st, i, p, n, SQLITE_STATIC);
}

static int sq_bind_blob_copy(ctm__st *base, int i, const void *p, size_t n)
{
    sq_st *st = (sq_st *)base;
    return bind_blob(st, i, p, n, SQLITE_TRANSIENT);
}

static int sq_bind_null(ctm__st *base, int i)
{
    sq_st *st = (sq_st *)base;
    return bound(st, sqlite3_bind_null(st->st, i));
}

static int sq_step(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW)
        return CTM_ROW;
    if (rc == SQLITE_DONE)
        return CTM_OK;
    return fail(st->s, rc, NULL);
}

static void sq_reset(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    sqlite3_reset(st->st);
    sqlite3_clear_bindings(st->st);
}

static void sq_finalize(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    if (st == NULL)
        return;
    sqlite3_finalize(st->st);
    free(st);
}

static int64_t sq_changes(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_changes64(st->s->sql);
}

static int sq_ncols(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_column_count(st->st);
}

static const char *sq_colname(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_column_name(st->st, col);
}

static int sq_type(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    switch (sqlite3_column_type(st->st, col)) {
    case SQLITE_INTEGER: return CTM_V_INT;
    case SQLITE_FLOAT: return CTM_V_REAL;
    case SQLITE_TEXT: return CTM_V_TEXT;
    case SQLITE_BLOB: return CTM_V_BLOB;
    default: return CTM_V_NULL;
    }
}

static int64_t sq_int(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_column_int64(st->st, col);
}

static double sq_real(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_column_double(st->st, col);
}

static const char *sq_text(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return (const char *)sqlite3_column_text(st->st, col);
}

static const void *sq_col_blob(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_column_blob(st->st, col);
}

static size_t sq_bytes(ctm__st *base, int col)
{
    sq_st *st = (sq_st *)base;
    return (size_t)sqlite3_column_bytes(st->st, col);
}

static void sq_value(ctm__st *base, int col, ctm__value *v)
{
    sq_st *st = (sq_st *)base;
    sqlite_value(sqlite3_column_value(st->st, col), v);
}

/* ---- schema ---- */

static int query_int(sq_store *s, const char *q, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->sql, q, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_schema_version(ctm__store *base, int *version)
{
    sq_store *s = (sq_store *)base;
    int64_t app = 0, ver = 0, objects = 0;
    *version = 0;
    int rc = query_int(s, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = query_int(s, "PRAGMA user_version", &ver);
    if (rc == SQLITE_OK)
        rc = query_int(s, "SELECT count(*) FROM sqlite_master", &objects);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return ctm__err(CTM_ENOTDB, "%s: not a libctm database (not an SQLite file)", s->name);
    if (rc != SQLITE_OK)
        return fail(s, rc, s->name);
    if (app == 0 && ver == 0 && objects == 0)
        return configure(s);
    if (app != CTM_APPLICATION_ID)
        return ctm__err(CTM_ENOTDB, "%s: not a libctm database (application id 0x%08llx)", s->name,
                        (unsigned long long)app);
    if (ver < 1 || ver > INT32_MAX)
        return ctm__err(CTM_ENOTDB, "%s: not a libctm database (schema version %lld)", s->name,
                        (long long)ver);
    *version = (int)ver;
    /* the identity is known: now the file may be configured (and written) */
    return configure(s);
}

static int sq_set_schema_version(ctm__store *base, int version)
{
    sq_store *s = (sq_store *)base;
    char pragma[96];
    snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             CTM_APPLICATION_ID, version);
    return sq_exec(&s->base, pragma);
}

static int sq_columns(ctm__store *base, const char *table, ctm__column_fn fn, void *ctx)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->sql, "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, "reading a table's columns");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int n = 0, out = CTM_OK;
    while (out == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        out = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1) > 0);
        n++;
    }
    if (out == CTM_OK && rc != SQLITE_DONE)
        out = fail(s, rc, "reading a table's columns");
    sqlite3_finalize(st);
    if (out == CTM_OK && n == 0)
        out = ctm__err(CTM_ENOTFOUND, "table %s: no such table", table);
    return out;
}

static int sq_tables(ctm__store *base, ctm__table_fn fn, void *ctx)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->sql,
                                "SELECT name FROM main.sqlite_master WHERE type = 'table'"
                                " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, "listing the tables");
    int out = CTM_OK;
    while (out == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        out = fn(ctx, (const char *)sqlite3_column_text(st, 0));
    if (out == CTM_OK && rc != SQLITE_DONE)
        out = fail(s, rc, "listing the tables");
    sqlite3_finalize(st);
    return out;
}

static int sq_ids_follow(ctm__store *base)
{
    (void)base; /* a new rowid is always one more than the largest */
    return CTM_OK;
}

static int sq_foreign_keys(ctm__store *base, ctm__fk_fn fn, void *ctx)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->sql,
                                "SELECT m.name, f.\"from\", f.\"table\" FROM sqlite_schema AS m,"
                                " pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table'"
                                " ORDER BY m.name, f.id, f.seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, "reading the foreign keys");
    int out = CTM_OK;
    while (out == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        out = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2));
    if (out == CTM_OK && rc != SQLITE_DONE)
        out = fail(s, rc, "reading the foreign keys");
    sqlite3_finalize(st);
    return out;
}

static int sq_nparams(ctm__st *base)
{
    sq_st *st = (sq_st *)base;
    return sqlite3_bind_parameter_count(st->st);
}

/* ---- change capture: SQLite's pre-update hook ---- */

static void free_reals(sq_store *s)
{
    for (size_t i = 0; i < s->nreals; i++) {
        free(s->reals[i].table);
        free(s->reals[i].is_real);
    }
    free(s->reals);
    s->reals = NULL;
    s->nreals = 0;
    s->reals_cookie = -1;
}

/* SQLite's rule for a declared type's affinity: INT first, then text and blob types, then
 * REAL, FLOA or DOUB. */
static int real_affinity(const char *type)
{
    char up[64];
    size_t n = 0;
    for (; type[n] != '\0' && n + 1 < sizeof up; n++)
        up[n] = (char)(type[n] >= 'a' && type[n] <= 'z' ? type[n] - 32 : type[n]);
    up[n] = '\0';
    if (strstr(up, "INT") != NULL || strstr(up, "CHAR") != NULL || strstr(up, "CLOB") != NULL ||
        strstr(up, "TEXT") != NULL || strstr(up, "BLOB") != NULL || n == 0)
        return 0;
    return strstr(up, "REAL") != NULL || strstr(up, "FLOA") != NULL || strstr(up, "DOUB") != NULL;
}

static int schema_cookie(sq_store *s, int *v)
{
    int rc = SQLITE_OK;
    if (s->cookie == NULL)
        rc = sqlite3_prepare_v3(s->sql, "PRAGMA main.schema_version", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->cookie, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s->cookie)) == SQLITE_ROW)
        *v = sqlite3_column_int(s->cookie, 0);
    if (s->cookie != NULL)
        sqlite3_reset(s->cookie);
    return rc == SQLITE_ROW ? CTM_OK : fail(s, rc, "reading the schema");
}

/* The tables with REAL columns, made anew when the schema changed since the last time. */
static int know_reals(sq_store *s)
{
    int cookie = 0;
    int rc = schema_cookie(s, &cookie);
    if (rc != CTM_OK || cookie == s->reals_cookie)
        return rc;
    free_reals(s);
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->sql,
                                 "SELECT m.name, p.cid, p.type FROM main.sqlite_schema m,"
                                 " pragma_table_info(m.name, 'main') p WHERE m.type = 'table'"
                                 " AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!'"
                                 " ORDER BY m.name, p.cid",
                                 -1, &st, NULL);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        const char *table = (const char *)sqlite3_column_text(st, 0);
        int cid = sqlite3_column_int(st, 1);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        if (table == NULL || cid < 0 || cid > 2000 || type == NULL || !real_affinity(type))
            continue;
        struct real_cols *t = s->nreals > 0 ? &s->reals[s->nreals - 1] : NULL;
        if (t == NULL || strcmp(t->table, table) != 0) {
            struct real_cols *grown = realloc(s->reals, (s->nreals + 1) * sizeof *grown);
            if (grown == NULL) {
                src = SQLITE_NOMEM;
                break;
            }
            s->reals = grown;
            t = &s->reals[s->nreals++];
            memset(t, 0, sizeof *t);
            if ((t->table = ctm__strdup(table)) == NULL) {
                src = SQLITE_NOMEM;
                break;
            }
        }
        if (cid >= t->ncols) {
            unsigned char *grown = realloc(t->is_real, (size_t)cid + 1);
            if (grown == NULL) {
                src = SQLITE_NOMEM;
                break;
            }
            memset(grown + t->ncols, 0, (size_t)(cid + 1 - t->ncols));
            t->is_real = grown;
            t->ncols = cid + 1;
        }
        t->is_real[cid] = 1;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        free_reals(s);
        return fail(s, src, "reading the schema");
    }
    s->reals_cookie = cookie;
    return CTM_OK;
}

static const struct real_cols *reals_of(const sq_store *s, const char *table)
{
    for (size_t i = 0; i < s->nreals; i++)
        if (strcmp(s->reals[i].table, table) == 0)
            return &s->reals[i];
    return NULL;
}

static void capture_hook(void *ctx, sqlite3 *sql, int op, const char *zdb, const char *table,
                         sqlite3_int64 key1, sqlite3_int64 key2)
{
    sq_store *s = ctx;
    (void)key1;
    (void)key2;
    if (s->capture_rc != CTM_OK || strcmp(zdb, "main") != 0 || strcmp(table, "ledger") == 0 ||
        strncmp(table, "sqlite_", 7) == 0)
        return;
    int n = sqlite3_preupdate_count(sql);
    ctm__value olds[n > 0 ? n : 1], news[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        sqlite3_value *v = NULL;
        if (op != SQLITE_INSERT) {
            if (sqlite3_preupdate_old(sql, i, &v) != SQLITE_OK || v == NULL)
                goto fail;
            sqlite_value(v, &olds[i]);
        }
        if (op != SQLITE_DELETE) {
            if (sqlite3_preupdate_new(sql, i, &v) != SQLITE_OK || v == NULL)
                goto fail;
            sqlite_value(v, &news[i]);
        }
    }
    const struct real_cols *r = op == SQLITE_INSERT ? reals_of(s, table) : NULL;
    for (int i = 0; r != NULL && i < n && i < r->ncols; i++)
        if (r->is_real[i] && news[i].tag == CTM_V_INT) {
            news[i].tag = CTM_V_REAL;
            news[i].r = (double)news[i].i;
        }
    char c = op == SQLITE_INSERT ? 'I' : op == SQLITE_DELETE ? 'D' : 'U';
    s->capture_rc = s->capture(s->capture_ctx, c, table, n, c == 'I' ? NULL : olds,
                               c == 'D' ? NULL : news);
    return;
fail:
    s->capture_rc = fail(s, SQLITE_ERROR, "reading a row change");
}

static int sq_capture_start(ctm__store *base, ctm__capture_fn fn, void *ctx)
{
    sq_store *s = (sq_store *)base;
    int rc = know_reals(s);
    if (rc != CTM_OK)
        return rc;
    s->capture = fn;
    s->capture_ctx = ctx;
    s->capture_rc = CTM_OK;
    sqlite3_preupdate_hook(s->sql, capture_hook, s);
    return CTM_OK;
}

static int sq_capture_collect(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    return s->capture_rc;
}

static void sq_capture_stop(ctm__store *base)
{
    sq_store *s = (sq_store *)base;
    sqlite3_preupdate_hook(s->sql, NULL, NULL);
    s->capture = NULL;
    s->capture_ctx = NULL;
}

/* ---- large values ---- */

static int sq_blob_open(ctm__store *base, const char *table, const char *column, const char *key,
                   int64_t id, ctm__blob **out, size_t *size)
{
    sq_store *s = (sq_store *)base;
    (void)key; /* an INTEGER PRIMARY KEY is the rowid */
    *out = NULL;
    sq_blob *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    b->base.ops = &ctm__sqlite_engine;
    b->s = s;
    int rc = sqlite3_blob_open(s->sql, "main", table, column, id, 0, &b->b);
    if (rc != SQLITE_OK) {
        free(b);
        return fail(s, rc, "reading a stored value");
    }
    *size = (size_t)sqlite3_blob_bytes(b->b);
    *out = &b->base;
    return CTM_OK;
}

static int sq_blob_read(ctm__blob *base, void *buf, size_t n, size_t offset)
{
    sq_blob *b = (sq_blob *)base;
    int rc = sqlite3_blob_read(b->b, buf, (int)n, (int)offset);
    return rc == SQLITE_OK ? CTM_OK : fail(b->s, rc, "reading a stored value");
}

static void sq_blob_close(ctm__blob *base)
{
    sq_blob *b = (sq_blob *)base;
    if (b == NULL)
        return;
    sqlite3_blob_close(b->b);
    free(b);
}

const ctm__engine_ops ctm__sqlite_engine = {
    .engine = CTM__ENGINE_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .busy_timeout = sq_busy_timeout,
    .name = sq_name,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_savepoint = sq_rollback_savepoint,
    .in_transaction = sq_in_transaction,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_int = sq_bind_int,
    .bind_real = sq_bind_real,
    .bind_text = sq_bind_text,
    .bind_textn = sq_bind_textn,
    .bind_text_copy = sq_bind_text_copy,
    .bind_blob = sq_bind_blob,
    .bind_blob_copy = sq_bind_blob_copy,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .changes = sq_changes,
    .nparams = sq_nparams,
    .ncols = sq_ncols,
    .colname = sq_colname,
    .type = sq_type,
    .int64 = sq_int,
    .real = sq_real,
    .text = sq_text,
    .blob = sq_col_blob,
    .bytes = sq_bytes,
    .value = sq_value,
    .schema_version = sq_schema_version,
    .set_schema_version = sq_set_schema_version,
    .columns = sq_columns,
    .tables = sq_tables,
    .foreign_keys = sq_foreign_keys,
    .ids_follow = sq_ids_follow,
    .capture_start = sq_capture_start,
    .capture_collect = sq_capture_collect,
    .capture_stop = sq_capture_stop,
    .blob_open = sq_blob_open,
    .blob_read = sq_blob_read,
    .blob_close = sq_blob_close,
};
