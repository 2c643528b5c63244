/* engine.h - what an engine behind the store seam provides (internal to store/).
 *
 * store.c implements every call of store.h by one indirect call through the handle's engine
 * table; sqlite.c and postgres.c each fill one table and keep their state in structs that begin
 * with the common handle below, so a handle always knows its engine.  The meaning of each entry
 * is that of the store.h call of the same name. */
#ifndef CTM_ENGINE_H
#define CTM_ENGINE_H

#include "store.h"

typedef struct ctm__engine_ops ctm__engine_ops;

typedef struct ctm__st_cache ctm__st_cache; /* store.c: statements kept for reuse */

/* The first member of every engine's connection, statement and blob struct.  The engines
 * allocate them zeroed and set ops; the other members belong to store.c. */
struct ctm__store {
    const ctm__engine_ops *ops;
    ctm__st_cache *cache;
};
struct ctm__st {
    const ctm__engine_ops *ops;
    ctm__st_cache *cache; /* the cache it returns to when finalized, or NULL */
    uint32_t slot;        /* its SQL's slot in that cache */
    int streamed;         /* ctm__st_stream was called: finalized for good, never reused */
};
struct ctm__blob {
    const ctm__engine_ops *ops;
};

struct ctm__engine_ops {
    enum ctm__engine engine;
    /* connections */
    int (*open)(ctm__store **out, const char *target, unsigned flags);
    void (*close)(ctm__store *s);
    void (*busy_timeout)(ctm__store *s, int ms);
    const char *(*name)(const ctm__store *s);
    /* transactions */
    int (*begin)(ctm__store *s);
    int (*commit)(ctm__store *s);
    void (*rollback)(ctm__store *s);
    int (*savepoint)(ctm__store *s);
    int (*release)(ctm__store *s);
    void (*rollback_savepoint)(ctm__store *s);
    int (*in_transaction)(const ctm__store *s);
    /* optional (NULL: begin, and the statement runs at its step; each statement run, then commit) */
    int (*begin_read)(ctm__store *s, ctm__st *first);
    int (*commit_after)(ctm__store *s, ctm__st *const *sts, int n, ctm__st *tidy);
    int (*exec)(ctm__store *s, const char *sql);
    /* statements */
    int (*prepare)(ctm__store *s, ctm__st **out, const char *sql);
    int (*bind_int)(ctm__st *st, int i, int64_t v);
    int (*bind_real)(ctm__st *st, int i, double v);
    int (*bind_text)(ctm__st *st, int i, const char *s); /* s is not NULL */
    int (*bind_textn)(ctm__st *st, int i, const char *s, size_t n);
    int (*bind_text_copy)(ctm__st *st, int i, const char *s); /* s is not NULL */
    int (*bind_blob)(ctm__st *st, int i, const void *p, size_t n);
    int (*bind_blob_copy)(ctm__st *st, int i, const void *p, size_t n);
    int (*bind_null)(ctm__st *st, int i);
    int (*step)(ctm__st *st);
    void (*reset)(ctm__st *st);
    void (*finalize)(ctm__st *st); /* st is not NULL */
    int64_t (*changes)(ctm__st *st);
    void (*stream)(ctm__st *st); /* NULL: the engine's rows come one at a time anyway */
    int (*nparams)(ctm__st *st);
    int (*ncols)(ctm__st *st);
    const char *(*colname)(ctm__st *st, int col);
    int (*type)(ctm__st *st, int col);
    int64_t (*int64)(ctm__st *st, int col);
    double (*real)(ctm__st *st, int col);
    const char *(*text)(ctm__st *st, int col);
    const void *(*blob)(ctm__st *st, int col);
    size_t (*bytes)(ctm__st *st, int col);
    void (*value)(ctm__st *st, int col, ctm__value *v);
    /* schema */
    int (*schema_version)(ctm__store *s, int *version);
    int (*set_schema_version)(ctm__store *s, int version);
    int (*columns)(ctm__store *s, const char *table, ctm__column_fn fn, void *ctx);
    int (*tables)(ctm__store *s, ctm__table_fn fn, void *ctx);
    int (*foreign_keys)(ctm__store *s, ctm__fk_fn fn, void *ctx);
    int (*ids_follow)(ctm__store *s);
    /* change capture */
    int (*capture_start)(ctm__store *s, ctm__capture_fn fn, void *ctx);
    int (*capture_collect)(ctm__store *s);
    void (*capture_stop)(ctm__store *s);
    /* large values */
    int (*blob_open)(ctm__store *s, const char *table, const char *column, const char *key,
                     int64_t id, ctm__blob **out, size_t *size);
    int (*blob_read)(ctm__blob *b, void *buf, size_t n, size_t offset);
    void (*blob_close)(ctm__blob *b); /* b is not NULL */
};

extern const ctm__engine_ops ctm__sqlite_engine;
#ifdef CTM_HAVE_POSTGRES
extern const ctm__engine_ops ctm__postgres_engine;
#endif

#endif
