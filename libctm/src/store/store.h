/* store.h - the seam between libctm and a database engine (internal).
 *
 * Everything above this header (ledger, domain) speaks to a site's database only through these
 * calls; only the engine files behind it (store/sqlite.c, store/postgres.c)
 * include sqlite3.h or libpq-fe.h.  tests/layers checks the includes (docs/internals.md).
 *
 * SQL given to the store is portable: placeholders are ?1, ?2, ... (a PostgreSQL engine
 * rewrites them to $1, $2, ...), ids come back through RETURNING, dates and times are computed in
 * C, and no engine-only function is used.  Values are the entry encoding's types (value.h):
 * 64-bit integers, doubles, UTF-8 text, byte strings and NULL.
 *
 * Errors: every call that fails sets the thread's last error (ctm__err) with the engine's message
 * and returns a negative CTM_E* status: CTM_EBUSY for lock and serialization conflicts, CTM_EIO
 * for a lost connection, a full disk or a read-only database, CTM_ENOTDB for something that is
 * not a database, CTM_EINTEGRITY for a corrupt one, CTM_EEXISTS for a row that breaks a UNIQUE
 * or PRIMARY KEY constraint, CTM_ENOMEM, and CTM_ERROR for the rest (other constraints included:
 * domain code checks its rules before it writes).
 * ctm__store_fail adds what the caller was doing to the message. */
#ifndef CTM_STORE_H
#define CTM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ctm.h"
#include "value.h"

typedef struct ctm__store ctm__store; /* one connection to one site's database */
typedef struct ctm__st ctm__st;       /* one prepared statement on a store */

enum ctm__engine { CTM__ENGINE_SQLITE = 1, CTM__ENGINE_POSTGRES = 2 };

/* ---- connections ---- */
#define CTM__STORE_READONLY 0x1 /* no writes; SQLite: the file opened read-only */
#define CTM__STORE_CREATE 0x2   /* SQLite: create the file when missing (ctm_init) */

/* Non-zero when target names a PostgreSQL database ("postgresql://...", "postgres://..." or a
 * libpq "key=value ..." string) rather than a file. */
int ctm__store_is_server(const char *target);
/* Open a connection to target with the durability settings of docs/architecture.md (SQLite: WAL,
 * synchronous=FULL, foreign keys on, busy timeout; PostgreSQL: synchronous_commit on, READ
 * COMMITTED).  On failure *out is NULL. */
int ctm__store_open(ctm__store **out, const char *target, unsigned flags);
void ctm__store_close(ctm__store *s); /* NULL is fine */
/* A private, empty SQLite database in memory, whatever engine the site is on: verification
 * replays the log into one (its SQL is SQLite's dialect, its temporary files its own).  Closing
 * it rolls back what is open and frees it all. */
int ctm__store_open_scratch(ctm__store **out);
enum ctm__engine ctm__store_engine(const ctm__store *s);
/* How long a write waits for another writer's lock before CTM_EBUSY (0: the default, 5 s). */
void ctm__store_busy_timeout(ctm__store *s, int ms);
/* The target with any password removed, for messages (borrowed). */
const char *ctm__store_name(const ctm__store *s);

/* ---- transactions ----
 * begin takes the write lock at once (SQLite BEGIN IMMEDIATE; PostgreSQL BEGIN at READ
 * COMMITTED: the ledger's tree head row is locked by the ledger when it appends). */
int ctm__store_begin(ctm__store *s);
int ctm__store_commit(ctm__store *s);
void ctm__store_rollback(ctm__store *s); /* no-op outside a transaction */
int ctm__store_savepoint(ctm__store *s);  /* one level: a batch's action */
int ctm__store_release(ctm__store *s);
void ctm__store_rollback_savepoint(ctm__store *s);
int ctm__store_in_transaction(const ctm__store *s);
/* begin, then run `first` (a bound statement that reads) inside the new transaction, under its
 * lock: its rows are what its next ctm__st_step hands out (unless it is reset before).
 * PostgreSQL sends the BEGIN, the writer lock and the statement in one round trip (a failure of
 * the statement then fails the begin, and nothing is left open); SQLite runs the statement at
 * that step. */
int ctm__store_begin_read(ctm__store *s, ctm__st *first);
/* Run sts[0..n-1] (bound statements whose rows, if any, are not wanted) in order, then commit:
 * PostgreSQL sends them and the COMMIT in one round trip.  When a statement fails, nothing after
 * it runs and the transaction stays open for the caller to roll back; the status is the
 * statement's, or the commit's.  Each statement is reset (bindings cleared) whatever happens.
 * `tidy` (or NULL), a statement no reader depends on, runs with them before the COMMIT, or,
 * where a writer's commit waits for the disk outside its lock (PostgreSQL), after it, as the
 * write of the transaction that waits: should it then fail (a lock on its row), the wait writes
 * something else and it stays undone, as after a crash in between. */
int ctm__store_commit_after(ctm__store *s, ctm__st *const *sts, int n, ctm__st *tidy);
/* A read transaction, for a call that reads several statements and must not mix two moments:
 * every statement until ctm__store_end_snapshot reads one state of the site, and no lock a
 * writer waits for is taken (SQLite: a deferred BEGIN, one WAL read snapshot; PostgreSQL:
 * REPEATABLE READ, READ ONLY).  Outside a transaction only; a failure names `what` reads. */
int ctm__store_begin_snapshot(ctm__store *s, const char *what);
/* End it and return rc, the status of what was read in it: the transaction wrote nothing, so a
 * COMMIT that fails is a rollback, and the thread's error is rc's (its message kept when rc is
 * an error, cleared when it is CTM_OK). */
int ctm__store_end_snapshot(ctm__store *s, int rc);
/* Run SQL without parameters or result rows (several statements allowed). */
int ctm__store_exec(ctm__store *s, const char *sql);

/* ---- statements ---- */
/* Prepare sql (one statement).  Statements may be kept and reused for the store's lifetime.
 * The store keeps one finalized statement per SQL text (up to several hundred texts, streamed
 * statements excepted) and hands it out again, reset, to the next prepare of the same text: a
 * statement run on every call costs its preparation once per store (on PostgreSQL: the prepare,
 * describe and type-probe round trips).  Nothing about it shows to the caller. */
int ctm__st_prepare(ctm__store *s, ctm__st **out, const char *sql);
/* Bind parameter i (1-based).  Text and blobs are borrowed: they must stay valid until the
 * statement is reset, finalized or the parameter bound again (the _copy forms copy them).
 * ctm__st_bind_text(st, i, NULL) binds NULL. */
int ctm__st_bind_int(ctm__st *st, int i, int64_t v);
int ctm__st_bind_real(ctm__st *st, int i, double v);
int ctm__st_bind_text(ctm__st *st, int i, const char *s);
int ctm__st_bind_textn(ctm__st *st, int i, const char *s, size_t n);
int ctm__st_bind_blob(ctm__st *st, int i, const void *p, size_t n);
int ctm__st_bind_text_copy(ctm__st *st, int i, const char *s);
int ctm__st_bind_blob_copy(ctm__st *st, int i, const void *p, size_t n);
int ctm__st_bind_null(ctm__st *st, int i);
int ctm__st_bind_value(ctm__st *st, int i, const ctm__value *v); /* borrowed; DIGEST: a blob */
/* CTM_ROW when a row is ready, CTM_OK when the statement is done, else a status. */
int ctm__st_step(ctm__st *st);
/* Step a statement that returns no rows (or ignore them) to its end; CTM_OK when done. */
int ctm__st_run(ctm__st *st);
/* Ready the statement to run again: rows dropped, bindings cleared. */
void ctm__st_reset(ctm__st *st);
void ctm__st_finalize(ctm__st *st); /* NULL is fine */
/* From its next run on, st hands out rows as the engine delivers them rather than fetching them
 * whole first (a result set's statement: a listing of any length holds one row).  SQLite always
 * does; on PostgreSQL, anything else the store is asked to do while such a run is under way first
 * reads the run's remaining rows into memory. */
void ctm__st_stream(ctm__st *st);
/* Rows changed by the last INSERT, UPDATE or DELETE run through this statement. */
int64_t ctm__st_changes(ctm__st *st);

/* Columns of the current row (0-based).  Text and blob pointers stay valid until the next step,
 * reset or finalize of st.  A NULL reads as 0, NULL or an empty blob. */
int ctm__st_ncols(ctm__st *st);
const char *ctm__st_colname(ctm__st *st, int col);
int ctm__st_type(ctm__st *st, int col); /* CTM_V_NULL, _INT, _REAL, _TEXT or _BLOB */
int64_t ctm__st_int(ctm__st *st, int col);
double ctm__st_real(ctm__st *st, int col);
const char *ctm__st_text(ctm__st *st, int col);
const void *ctm__st_blob(ctm__st *st, int col);
size_t ctm__st_bytes(ctm__st *st, int col);
/* The column as a value (borrowed like the pointers above). */
void ctm__st_value(ctm__st *st, int col, ctm__value *v);

/* Prefix the thread's last error with what the caller was doing ("adding the user: ...") and
 * return rc, for `return ctm__store_fail(rc, "adding the user")`. */
int ctm__store_fail(int rc, const char *doing);

/* ---- schema ---- */
/* The site's schema version (0 for an empty database) and whether the database is a libctm site
 * at all (CTM_ENOTDB when it holds something else).  The first call after ctm__store_open: an
 * engine may configure the connection (SQLite's WAL mode writes to the file) only once it knows
 * the database is a site or empty. */
int ctm__store_schema_version(ctm__store *s, int *version);
int ctm__store_set_schema_version(ctm__store *s, int version);
/* The columns of a table in their order, with whether each is part of the primary key; calls fn
 * once per column.  CTM_ENOTFOUND when there is no such table. */
typedef int (*ctm__column_fn)(void *ctx, const char *name, int is_pk);
int ctm__store_columns(ctm__store *s, const char *table, ctm__column_fn fn, void *ctx);
/* The site's tables (not views, not the engine's own), in name order. */
typedef int (*ctm__table_fn)(void *ctx, const char *table);
int ctm__store_tables(ctm__store *s, ctm__table_fn fn, void *ctx);

/* Every foreign key of the site's tables: fn(ctx, table, column, referenced table). */
typedef int (*ctm__fk_fn)(void *ctx, const char *table, const char *column, const char *target);
int ctm__store_foreign_keys(ctm__store *s, ctm__fk_fn fn, void *ctx);
/* After rows were written with their ids (a copy), make the ids of new rows continue after the
 * largest (PostgreSQL: each identity sequence set to its column's maximum; SQLite: nothing to
 * do, a rowid always does). */
int ctm__store_ids_follow(ctm__store *s);
/* Copy every row of every table of src into dst, table by table in foreign-key order, each
 * table in key order, values as they are (ids included), then ctm__store_ids_follow(dst).  dst
 * holds the same tables (the same schema version) and no rows; both are inside transactions
 * the caller opened.  A failure names the table. */
int ctm__store_copy(ctm__store *src, ctm__store *dst);
/* The number of parameters a statement takes (its largest ?N). */
int ctm__st_nparams(ctm__st *st);

/* ---- change capture ----
 * Between capture_start and capture_stop every row inserted, updated or deleted in a table
 * (other than `ledger`) inside the open transaction reaches fn, in statement order, with every
 * column's value in the table's column order: olds for 'U' and 'D', news for 'I' and 'U' (the
 * other array NULL).  SQLite calls fn as each row changes; PostgreSQL records rows with triggers
 * and calls fn from capture_collect.  fn's first failure is returned by capture_collect.
 * The ledger calls capture_collect before it encodes the entry. */
typedef int (*ctm__capture_fn)(void *ctx, char op, const char *table, int ncols,
                               const ctm__value *olds, const ctm__value *news);
int ctm__store_capture_start(ctm__store *s, ctm__capture_fn fn, void *ctx);
int ctm__store_capture_collect(ctm__store *s);
void ctm__store_capture_stop(ctm__store *s);

/* ---- large values ----
 * Read a blob column of one row in pieces, so that a very large ledger entry never has to be
 * held whole.  The row is the one whose integer primary key `key` equals key. */
typedef struct ctm__blob ctm__blob;
int ctm__blob_open(ctm__store *s, const char *table, const char *column, const char *key,
                   int64_t id, ctm__blob **out, size_t *size);
int ctm__blob_read(ctm__blob *b, void *buf, size_t n, size_t offset);
void ctm__blob_close(ctm__blob *b);

#endif
