/* postgres.c - the PostgreSQL engine behind the store seam (store.h, engine.h), over libpq.
 *
 * A site is the tables of the connection's current schema (the first existing one on its
 * search_path).  What this engine keeps of its own lives beside them under names beginning with
 * "ctm__", which ctm__store_tables never lists:
 *   ctm__schema          one row: the application ("libctm") and the schema version, the
 *                        equivalent of SQLite's application_id and user_version;
 *   ctm__capture_row()   the row trigger function of change capture; each site table gets a
 *                        trigger "ctm__capture" calling it (installed by capture_start when
 *                        missing);
 *   pg_temp.ctm__changes per connection, the rows changed since capture_start, read back (and
 *                        emptied) by capture_collect.
 *
 * Statements are prepared on the server when ctm__st_prepare is called, with parameter types
 * left to the server to deduce from their context (so "?1 IS NULL OR k.trial_id = ?1" works);
 * values are sent as text (integers in decimal, doubles in a form that reads back to the same
 * bits) and byte strings in binary.  Results come back in text form and are decoded by column
 * type: integer types and boolean read as integers, float4/float8 as doubles, numeric as an
 * integer when it is one that fits 64 bits (else a double), bytea as bytes, everything else as
 * text.  A statement's rows are fetched whole when it first steps, then handed out one at a time,
 * except a result set's (ctm__st_stream): its rows come from the server one at a time (libpq's
 * single-row mode), so that a listing of any length holds one row.  While such a statement is
 * under way the connection can run nothing else: anything else that needs the connection first
 * "parks" the stream, reading its remaining rows into memory, and the result set goes on from
 * there (ready()). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "engine.h"

/* Type OIDs (fixed in PostgreSQL's catalog since its first releases). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* The application named in ctm__schema. */
#define CTM_APPLICATION "libctm"
/* The advisory lock every writing transaction takes first ("CTMW"). */
#define CTM__PG_WRITER_LOCK "1129598295"

typedef struct pg_store {
    ctm__store base; /* first: the engine table */
    PGconn *conn;
    char *name;
    unsigned flags;
    uint64_t next_stmt;  /* server-side statement names: ctm_1, ctm_2, ... */
    char *dealloc;       /* "DEALLOCATE ...;" statements waiting for a usable transaction */
    size_t dealloc_len;
    size_t live_stmts;   /* statements not yet finalized: they keep a closed store alive */
    int closed;
    ctm__capture_fn capture;
    void *capture_ctx;
    int capturing;
    int writer;          /* the open transaction holds the writer lock (pg_begin) */
    int writer_async;    /* ... and its own commit is already set not to wait (pg_begin_read) */
    int flush_apart;     /* a writer's commit waits for its flush outside the lock (pg_open) */
    int capture_ready;   /* the change table and every site table's trigger exist (committed) */
    int capture_pending; /* ... made in the open transaction, not yet committed */
    char capture_from[24]; /* the change table's last seq when capture started: its rows follow */
    struct pg_st *streaming; /* the statement whose rows are still coming in, or NULL */
    int stream_in_tx;    /* the transaction status before it was sent: inside one or not */
} pg_store;

typedef struct pg_param {
    int tag;        /* CTM_V_NULL, _INT, _REAL, _TEXT or _BLOB */
    char num[32];   /* an integer or a double as text */
    const char *p;  /* text (NUL-terminated) or blob bytes */
    size_t n;
    char *owned;    /* p, when the store holds a copy */
} pg_param;

typedef struct pg_st {
    ctm__st base;
    pg_store *s;
    char name[32];
    PGresult *desc;     /* the prepared statement's parameters and columns */
    int nparams;
    pg_param *params;   /* [nparams] */
    PGresult *res;      /* the rows of the current run, NULL before its first step */
    int row;            /* the current row of res */
    int64_t changes;
    char **decoded;     /* [ncols] bytea columns of the current row, decoded on demand */
    size_t *decoded_n;
    /* streaming (ctm__st_stream): res holds the current row alone */
    int stream;         /* rows come one at a time */
    int running;        /* a run was sent and its end not yet read */
    PGresult **held;    /* results read off the connection when the stream was parked */
    size_t nheld, next_held, cap_held;
    int held_oom;       /* parking ran out of memory: the run fails at its next step */
} pg_st;

typedef struct pg_blob {
    ctm__blob base;
    pg_store *s;
    char *sql;          /* SELECT substring(column FROM $2 FOR $3) FROM table WHERE key = $1 */
    char id[24];
    size_t size;
} pg_blob;

/* ---- errors ---- */

/* The status of a failed command, from its SQLSTATE (PostgreSQL's appendix A). */
static int status_of(PGconn *conn, const char *state)
{
    if (PQstatus(conn) == CONNECTION_BAD)
        return CTM_EIO;
    if (state == NULL || strlen(state) != 5)
        return CTM_ERROR;
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return CTM_EEXISTS;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return CTM_EBUSY; /* serialization_failure, deadlock_detected, lock_not_available */
    if (strcmp(state, "53200") == 0) /* out_of_memory */
        return CTM_ENOMEM;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "58", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "25006") == 0) /* connection, resources, system, shutdown, read-only */
        return CTM_EIO;
    if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0) /* data or index corrupted */
        return CTM_EINTEGRITY;
    return CTM_ERROR;
}

/* The primary message only: a DETAIL may quote the values of a row. */
static int fail_res(pg_store *s, const PGresult *res, const char *doing)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char buf[512];
    if (msg == NULL) {
        snprintf(buf, sizeof buf, "%s", PQerrorMessage(s->conn));
        size_t n = strlen(buf);
        while (n > 0 && isspace((unsigned char)buf[n - 1]))
            buf[--n] = '\0';
        msg = n > 0 ? buf : "no answer from the server";
    }
    int code = status_of(s->conn, state);
    if (code == CTM_EIO && PQstatus(s->conn) == CONNECTION_BAD)
        return ctm__err(code, "%s%s%s: connection lost: %s", doing != NULL ? doing : "",
                        doing != NULL ? ": " : "", s->name, msg);
    if (doing != NULL)
        return ctm__err(code, "%s: %s", doing, msg);
    return ctm__err(code, "%s", msg);
}

/* Run a command that returns no rows; CTM_OK or its failure. */
static PGconn *ready(pg_store *s);
/* The transaction status once no result set's rows are coming in. */
static PGTransactionStatusType tx_status(pg_store *s)
{
    return PQtransactionStatus(ready(s));
}

static int command(pg_store *s, const char *sql, const char *doing)
{
    PGresult *res = PQexec(ready(s), sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? CTM_OK : fail_res(s, res, doing);
    PQclear(res);
    return rc;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ---- connections ---- */

static int append(char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    if (nb == NULL)
        return -1;
    memcpy(nb + *len, s, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
    return 0;
}

/* The target without its password, for messages. */
static char *redact(const char *target)
{
    char *out = NULL;
    size_t len = 0;
    const char *scheme = strstr(target, "://");
    if (scheme != NULL) {
        /* a URI: drop ":password" from user:password@ and any password= parameter */
        const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?");
        const char *at = memchr(auth, '@', (size_t)(end - auth));
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL) {
            if (append(&out, &len, target, (size_t)(colon - target)) != 0 ||
                append(&out, &len, at, strlen(at)) != 0)
                goto oom;
        } else if (append(&out, &len, target, strlen(target)) != 0) {
            goto oom;
        }
        char *q = strchr(out, '?');
        while (q != NULL) {
            char *param = q + 1, *next = strchr(param, '&');
            if (strncmp(param, "password=", 9) == 0) {
                size_t keep = (size_t)(q - out);
                if (next != NULL)
                    memmove(q + 1, next + 1, strlen(next + 1) + 1);
                else
                    out[keep] = '\0';
                len = strlen(out);
                if (next == NULL)
                    break;
                continue;
            }
            q = next;
        }
        return out;
    }
    /* key=value pairs: rebuild them without the password */
    PQconninfoOption *opts = PQconninfoParse(target, NULL);
    if (opts == NULL)
        return ctm__strdup("(PostgreSQL)");
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || strcmp(o->keyword, "password") == 0)
            continue;
        int quote = o->val[0] == '\0' || strpbrk(o->val, " '\\") != NULL;
        if ((len > 0 && append(&out, &len, " ", 1) != 0) ||
            append(&out, &len, o->keyword, strlen(o->keyword)) != 0 ||
            append(&out, &len, quote ? "='" : "=", quote ? 2 : 1) != 0 ||
            append(&out, &len, o->val, strlen(o->val)) != 0 ||
            (quote && append(&out, &len, "'", 1) != 0)) {
            PQconninfoFree(opts);
            goto oom;
        }
    }
    PQconninfoFree(opts);
    return out != NULL ? out : ctm__strdup("(PostgreSQL)");
oom:
    free(out);
    return NULL;
}

static void pg_free(pg_store *s)
{
    if (s->conn != NULL)
        PQfinish(s->conn);
    free(s->dealloc);
    free(s->name);
    free(s);
}

static void pg_close(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->conn != NULL && tx_status(s) != PQTRANS_IDLE)
        command(s, "ROLLBACK", NULL);
    /* like SQLite's close_v2: statements still open keep the connection until they are freed */
    s->closed = 1;
    if (s->live_stmts == 0)
        pg_free(s);
}

static int pg_open(ctm__store **out, const char *target, unsigned flags)
{
    *out = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->name = redact(target)) == NULL) {
        free(s);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    s->base.ops = &ctm__postgres_engine;
    s->flags = flags;
    s->conn = PQconnectdb(target);
    if (s->conn == NULL) {
        pg_free(s);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        size_t n = strlen(msg);
        while (n > 0 && isspace((unsigned char)msg[n - 1]))
            msg[--n] = '\0';
        int rc = ctm__err(CTM_EIO, "%s: cannot connect: %s", s->name, msg);
        pg_free(s);
        return rc;
    }
    PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
    /* Durability and the forms values travel in: extra_float_digits > 0 makes the server print
     * doubles in the shortest form that reads back to the same bits.  No JIT: libctm's queries
     * are short, and a big action's change read-back would spend longer compiling than running.
     * And whether a writer may wait for its flush after the lock is released (WRITER_COMMIT_SQL):
     * the role must be allowed the logical decoding message, as every role is unless revoked. */
    PGresult *res = PQexec(s->conn,
                           "SET synchronous_commit = on; SET default_transaction_isolation = 'read committed';"
                           " SET extra_float_digits = 3; SET bytea_output = 'hex';"
                           " SET client_encoding = 'UTF8'; SET standard_conforming_strings = on;"
                           " SET lock_timeout = 5000; SET jit = off; SELECT coalesce(has_function_privilege("
                           "to_regprocedure('pg_logical_emit_message(boolean,text,text)'), 'EXECUTE'), false)");
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? CTM_OK : fail_res(s, res, s->name);
    s->flush_apart = rc == CTM_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (rc == CTM_OK && (flags & CTM__STORE_READONLY))
        rc = command(s, "SET default_transaction_read_only = on", s->name);
    if (rc != CTM_OK) {
        pg_free(s);
        return rc;
    }
    *out = &s->base;
    return CTM_OK;
}

static void pg_busy_timeout(ctm__store *base, int ms)
{
    pg_store *s = (pg_store *)base;
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", ms > 0 ? ms : 5000);
    command(s, sql, NULL);
}

static const char *pg_name(const ctm__store *base)
{
    return ((const pg_store *)base)->name;
}

/* ---- transactions ---- */

/* Finalized statements are deallocated later, in one go: with the next BEGIN (no round trip of
 * their own), or once many are waiting and no transaction is open. */
#define DEALLOC_FLUSH_BYTES 8192

static void flush_dealloc(pg_store *s)
{
    if (s->dealloc == NULL || tx_status(s) != PQTRANS_IDLE)
        return;
    command(s, s->dealloc, NULL);
    free(s->dealloc);
    s->dealloc = NULL;
    s->dealloc_len = 0;
}

#define BEGIN_SQL                                                                                 \
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" CTM__PG_WRITER_LOCK ")"

static int pg_begin(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    /* One writer at a time, as SQLite's BEGIN IMMEDIATE: the lock is held to COMMIT, so the
     * ledger's tail read after it is the newest committed one and entries are appended in
     * commit order (no gap, no fork).  lock_timeout bounds the wait (CTM_EBUSY). */
    if (s->dealloc != NULL && tx_status(s) == PQTRANS_IDLE &&
        append(&s->dealloc, &s->dealloc_len, BEGIN_SQL, sizeof BEGIN_SQL - 1) == 0) {
        char *sql = s->dealloc;
        s->dealloc = NULL;
        s->dealloc_len = 0;
        PGresult *res = PQexec(ready(s), sql);
        free(sql);
        int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? CTM_OK : fail_res(s, res, "BEGIN");
        PQclear(res);
        if (rc == CTM_OK) {
            s->writer = 1;
            s->writer_async = 0;
            return CTM_OK;
        }
        if (tx_status(s) != PQTRANS_IDLE)
            command(s, "ROLLBACK", NULL);
        /* the lock not had, or the server gone: say so now, rather than wait a second time */
        if (rc == CTM_EBUSY || rc == CTM_EIO)
            return rc;
        /* a DEALLOCATE failed (the statements are gone anyway): begin alone */
    }
    int rc = command(s, BEGIN_SQL, "BEGIN");
    s->writer = rc == CTM_OK;
    s->writer_async = 0;
    /* A lock not had (CTM_EBUSY) leaves the transaction begun and failed: end it, so that the
     * handle is idle as after a failed BEGIN IMMEDIATE on SQLite and the next begin can work. */
    if (rc != CTM_OK && tx_status(s) != PQTRANS_IDLE) {
        PGresult *res = PQexec(ready(s), "ROLLBACK");
        PQclear(res);
    }
    return rc;
}

/* A writer's COMMIT, in one round trip.  The transaction commits without waiting for its WAL to
 * reach the disk, which releases the writer lock at once; then a second transaction commits with
 * synchronous_commit on, so its COMMIT returns only when the WAL is flushed (and, with a
 * synchronous standby, replicated) past its own commit record, which lies after the writer's.
 * The second transaction must write WAL of its own: PostgreSQL commits a transaction that wrote
 * none (a transaction id alone is not enough) without waiting for any flush.  It writes one
 * transactional logical decoding message (prefix "ctm", empty), the smallest record a role
 * without special privileges can write; logical decoding consumers may ignore it (a single
 * action's commit writes its tidy statement instead, pg_commit_after).  The caller
 * hears "done" only once the action is durable, but the next writer no longer waits for this
 * one's flush: the flushes of many workstations are shared.  A crash in between loses this
 * action and every later one together, never one without an earlier one (WAL order is commit
 * order), and no caller was told that any of them was done.  A role that may not write the
 * message (pg_open asks) commits with synchronous_commit on, the lock held through the flush. */
#define DURABLE_SQL "SELECT pg_logical_emit_message(true, 'ctm', '')"
#define WRITER_COMMIT_SQL "SET LOCAL synchronous_commit = off; COMMIT; " DURABLE_SQL
/* What a failure of the wait says: the commit itself succeeded, so the caller must not simply
 * do the action again. */
#define DURABLE_FAILED                                                                            \
    "the action was committed, but waiting for it to reach the disk failed (check the audit log " \
    "before repeating it)"

static int pg_commit(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    /* A failed statement ends a PostgreSQL transaction's usefulness: COMMIT would only roll it
     * back, and must not be reported as a commit. */
    if (tx_status(s) == PQTRANS_INERROR) {
        command(s, "ROLLBACK", NULL);
        s->capture_pending = 0;
        s->writer = s->writer_async = 0;
        flush_dealloc(s);
        return ctm__err(CTM_ERROR, "COMMIT: the transaction was rolled back after an earlier failure");
    }
    int rc = CTM_OK;
    /* WRITER_COMMIT_SQL's results: the SET (0), the COMMIT (1), then the wait for the flush (2) */
    int apart = s->writer && s->flush_apart;
    if (!PQsendQuery(ready(s), apart ? WRITER_COMMIT_SQL : "COMMIT")) {
        rc = fail_res(s, NULL, "COMMIT");
    } else {
        PGresult *res;
        for (int i = 0; (res = PQgetResult(s->conn)) != NULL; i++) {
            ExecStatusType st = PQresultStatus(res);
            const char *cmd = PQcmdStatus(res);
            if (rc != CTM_OK) {
                /* the first failure is the one to report */
            } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                rc = fail_res(s, res, !apart || i < 2 ? "COMMIT"
                                      : DURABLE_FAILED);
            } else if (strcmp(cmd, "ROLLBACK") == 0) {
                rc = ctm__err(CTM_ERROR, "COMMIT: the transaction was rolled back");
            }
            PQclear(res);
        }
    }
    s->writer = s->writer_async = 0;
    if (rc == CTM_OK && s->capture_pending)
        s->capture_ready = 1; /* the change table and triggers made in this transaction stay */
    s->capture_pending = 0;
    return rc;
}

static void pg_rollback(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    if (tx_status(s) != PQTRANS_IDLE)
        command(s, "ROLLBACK", NULL);
    s->capture_pending = 0;
    s->writer = s->writer_async = 0;
    flush_dealloc(s);
}

static int pg_savepoint(ctm__store *base)
{
    return command((pg_store *)base, "SAVEPOINT ctm_action", "SAVEPOINT");
}

static int pg_release(ctm__store *base)
{
    return command((pg_store *)base, "RELEASE SAVEPOINT ctm_action", "RELEASE");
}

static void pg_rollback_savepoint(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    command(s, "ROLLBACK TO SAVEPOINT ctm_action; RELEASE SAVEPOINT ctm_action", NULL);
    s->capture_pending = 0; /* what the savepoint made may be gone: make sure again next time */
}

static int pg_in_transaction(const ctm__store *base)
{
    const pg_store *s = (const pg_store *)base;
    if (s->streaming != NULL) /* a result set's rows are coming in: as it was when it was sent */
        return s->stream_in_tx;
    PGTransactionStatusType t = PQtransactionStatus(s->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int pg_exec(ctm__store *base, const char *sql)
{
    return command((pg_store *)base, sql, NULL);
}

/* ---- statements ---- */

/* Whether p starts "IS NULL" or "IS NOT NULL" (after blanks), as a whole word. */
static int is_null_test(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, "IS", 2) != 0 || !isspace((unsigned char)p[2]))
        return 0;
    p += 2;
    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, "NOT", 3) == 0 && isspace((unsigned char)p[3])) {
        p += 3;
        while (isspace((unsigned char)*p))
            p++;
    }
    return strncasecmp(p, "NULL", 4) == 0 && !(isalnum((unsigned char)p[4]) || p[4] == '_');
}

/* ?N placeholders become $N, outside string literals, quoted identifiers, comments and
 * dollar-quoted strings; the text keeps its length.  *maxn: the largest N.  The offsets of up to
 * cap placeholders tested by "IS [NOT] NULL" go to nulltests (*nnull of them, counted beyond cap). */
static void translate(char *sql, int *maxn, size_t *nulltests, size_t cap, size_t *nnull)
{
    *maxn = 0;
    *nnull = 0;
    char *p = sql;
    while (*p != '\0') {
        char c = *p;
        if (c == '\'' || c == '"') {
            /* E'...' strings take backslash escapes */
            int backslash = c == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                            (p - 1 == sql || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
            for (p++; *p != '\0'; p++) {
                if (backslash && *p == '\\' && p[1] != '\0') {
                    p++;
                } else if (*p == c) {
                    if (p[1] == c) {
                        p++;
                        continue;
                    }
                    break;
                }
            }
            if (*p != '\0')
                p++;
        } else if (c == '-' && p[1] == '-') {
            while (*p != '\0' && *p != '\n')
                p++;
        } else if (c == '/' && p[1] == '*') {
            int depth = 1; /* PostgreSQL's block comments nest */
            for (p += 2; *p != '\0' && depth > 0; p++) {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p++;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    p++;
                }
            }
        } else if (c == '$' && (p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
                   !isdigit((unsigned char)p[1])) {
            /* $tag$ ... $tag$ */
            size_t t = 1;
            while (isalnum((unsigned char)p[t]) || p[t] == '_')
                t++;
            if (p[t] != '$') {
                p++;
                continue;
            }
            size_t taglen = t + 1;
            char *end = p + taglen;
            while (*end != '\0' && strncmp(end, p, taglen) != 0)
                end++;
            p = *end != '\0' ? end + taglen : end;
        } else if (c == '?' && isdigit((unsigned char)p[1])) {
            char *dollar = p;
            *p++ = '$';
            long n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 100000)
                    n = n * 10 + (*p - '0');
                p++;
            }
            if (n > *maxn)
                *maxn = (int)n;
            if (is_null_test(p)) {
                if (*nnull < cap)
                    nulltests[*nnull] = (size_t)(dollar - sql);
                ++*nnull;
            }
        } else {
            p++;
        }
    }
}

static void drop_row(pg_st *st)
{
    if (st->decoded != NULL) {
        int n = PQnfields(st->desc);
        for (int i = 0; i < n; i++) {
            free(st->decoded[i]);
            st->decoded[i] = NULL;
        }
    }
}

static void stop_stream(pg_st *st);

static void drop_result(pg_st *st)
{
    drop_row(st);
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
    if (st->running)
        stop_stream(st);
}

/* ---- streaming ---- */

/* Read the rest of the streaming statement's results into its memory, so that the connection is
 * free for something else; its result set goes on from there. */
static void park(pg_store *s)
{
    pg_st *st = s->streaming;
    s->streaming = NULL;
    PGresult *r;
    while ((r = PQgetResult(s->conn)) != NULL) {
        if (st->nheld == st->cap_held) {
            size_t cap = st->cap_held != 0 ? 2 * st->cap_held : 64;
            PGresult **grown = realloc(st->held, cap * sizeof *grown);
            if (grown == NULL) {
                st->held_oom = 1; /* read on, so that the connection is free: the run fails */
                PQclear(r);
                continue;
            }
            st->held = grown;
            st->cap_held = cap;
        }
        st->held[st->nheld++] = r;
    }
}

/* The connection, free for a new command. */
static PGconn *ready(pg_store *s)
{
    if (s->streaming != NULL)
        park(s);
    return s->conn;
}

/* The next result of st's run, held or off the connection; NULL at its end. */
static PGresult *next_result(pg_st *st)
{
    if (st->next_held < st->nheld)
        return st->held[st->next_held++];
    if (st->s->streaming == st) {
        PGresult *r = PQgetResult(st->s->conn);
        if (r == NULL)
            st->s->streaming = NULL;
        return r;
    }
    return NULL;
}

/* End st's run: the results held are freed, those still coming are read and dropped. */
static void stop_stream(pg_st *st)
{
    PGresult *r;
    while ((r = next_result(st)) != NULL)
        PQclear(r);
    free(st->held);
    st->held = NULL;
    st->nheld = st->next_held = st->cap_held = 0;
    st->held_oom = 0;
    st->running = 0;
}

static void unbind(pg_param *p)
{
    free(p->owned);
    memset(p, 0, sizeof *p);
    p->tag = CTM_V_NULL;
}

/* PostgreSQL types a parameter at its first use, so in "?1 IS NULL OR k.trial_id = ?1" it
 * cannot tell ?1's type, which only the second use shows.  A probe with the IS NULL tests'
 * parameters replaced by NULL gives the server every other use to deduce from; the statement is
 * then prepared with those types (a parameter used nowhere else stays undeduced, and the server
 * says so). */
static int deduce_types(pg_store *s, const char *sql, int maxn, const size_t *nulltests,
                        size_t nnull, Oid **types)
{
    *types = NULL;
    if (nnull > 32)
        return ctm__err(CTM_EINVAL, "preparing a statement: more than 32 parameters tested by IS NULL");
    size_t len = strlen(sql);
    char *probe = malloc(len + 4 * nnull + 1);
    Oid *t = calloc((size_t)(maxn > 0 ? maxn : 1), sizeof *t);
    if (probe == NULL || t == NULL) {
        free(probe);
        free(t);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    size_t in = 0, out = 0;
    for (size_t k = 0; k < nnull; k++) {
        memcpy(probe + out, sql + in, nulltests[k] - in);
        out += nulltests[k] - in;
        memcpy(probe + out, "NULL", 4);
        out += 4;
        in = nulltests[k] + 1;
        while (isdigit((unsigned char)sql[in]))
            in++;
    }
    memcpy(probe + out, sql + in, len - in + 1);
    PGresult *res = PQprepare(ready(s), "", probe, 0, NULL);
    free(probe);
    int rc = CTM_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail_res(s, res, "preparing a statement");
    PQclear(res);
    if (rc == CTM_OK) {
        res = PQdescribePrepared(s->conn, "");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail_res(s, res, "preparing a statement");
        else
            for (int i = 0; i < PQnparams(res) && i < maxn; i++)
                t[i] = PQparamtype(res, i);
        PQclear(res);
    }
    if (rc != CTM_OK) {
        free(t);
        return rc;
    }
    *types = t;
    return CTM_OK;
}

static int pg_prepare(ctm__store *base, ctm__st **out, const char *sql)
{
    pg_store *s = (pg_store *)base;
    *out = NULL;
    pg_st *st = calloc(1, sizeof *st);
    char *text = ctm__strdup(sql);
    if (st == NULL || text == NULL) {
        free(st);
        free(text);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    st->base.ops = &ctm__postgres_engine;
    st->s = s;
    st->row = -1;
    int maxn = 0;
    size_t nulltests[32], nnull = 0;
    translate(text, &maxn, nulltests, sizeof nulltests / sizeof nulltests[0], &nnull);
    Oid *types = NULL;
    int rc = nnull > 0 ? deduce_types(s, text, maxn, nulltests, nnull, &types) : CTM_OK;
    if (rc != CTM_OK) {
        free(st);
        free(text);
        return rc;
    }
    snprintf(st->name, sizeof st->name, "ctm_%" PRIu64, ++s->next_stmt);
    PGresult *res = PQprepare(ready(s), st->name, text, types != NULL ? maxn : 0, types);
    free(text);
    free(types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail_res(s, res, "preparing a statement");
    PQclear(res);
    if (rc != CTM_OK) {
        free(st);
        return rc;
    }
    s->live_stmts++; /* from here on finalize deallocates it */
    st->desc = PQdescribePrepared(s->conn, st->name);
    if (PQresultStatus(st->desc) != PGRES_COMMAND_OK) {
        rc = fail_res(s, st->desc, "preparing a statement");
        st->base.ops->finalize(&st->base);
        return rc;
    }
    st->nparams = PQnparams(st->desc);
    int ncols = PQnfields(st->desc);
    st->params = calloc((size_t)(st->nparams > 0 ? st->nparams : 1), sizeof *st->params);
    st->decoded = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *st->decoded);
    st->decoded_n = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *st->decoded_n);
    if (st->params == NULL || st->decoded == NULL || st->decoded_n == NULL) {
        st->base.ops->finalize(&st->base);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    for (int i = 0; i < st->nparams; i++)
        st->params[i].tag = CTM_V_NULL;
    *out = &st->base;
    return CTM_OK;
}

static pg_param *param(pg_st *st, int i)
{
    if (i < 1 || i > st->nparams) {
        ctm__err(CTM_ERROR, "binding a value: parameter %d out of range (the statement takes %d)",
                 i, st->nparams);
        return NULL;
    }
    pg_param *p = &st->params[i - 1];
    unbind(p);
    return p;
}

static int pg_bind_int(ctm__st *base, int i, int64_t v)
{
    pg_param *p = param((pg_st *)base, i);
    if (p == NULL)
        return CTM_ERROR;
    p->tag = CTM_V_INT;
    snprintf(p->num, sizeof p->num, "%" PRId64, v);
    p->p = p->num;
    return CTM_OK;
}

static int pg_bind_real(ctm__st *base, int i, double v)
{
    pg_param *p = param((pg_st *)base, i);
    if (p == NULL)
        return CTM_ERROR;
    p->tag = CTM_V_REAL;
    if (isnan(v))
        snprintf(p->num, sizeof p->num, "NaN");
    else if (isinf(v))
        snprintf(p->num, sizeof p->num, "%s", v > 0 ? "Infinity" : "-Infinity");
    else
        snprintf(p->num, sizeof p->num, "%.17g", v); /* 17 significant digits: the same bits */
    p->p = p->num;
    return CTM_OK;
}

static int bind_text(pg_st *st, int i, const char *s, size_t n, int copy)
{
    if (memchr(s, '\0', n) != NULL)
        return ctm__err(CTM_EINVAL, "binding a value: PostgreSQL cannot store a text holding a NUL byte");
    pg_param *p = param(st, i);
    if (p == NULL)
        return CTM_ERROR;
    p->tag = CTM_V_TEXT;
    p->n = n;
    if (!copy && s[n] == '\0') {
        p->p = s;
        return CTM_OK;
    }
    /* text travels NUL-terminated */
    if ((p->owned = malloc(n + 1)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    memcpy(p->owned, s, n);
    p->owned[n] = '\0';
    p->p = p->owned;
    return CTM_OK;
}

static int pg_bind_null(ctm__st *base, int i);

static int pg_bind_text(ctm__st *base, int i, const char *s)
{
    return bind_text((pg_st *)base, i, s, strlen(s), 0);
}

static int pg_bind_textn(ctm__st *base, int i, const char *s, size_t n)
{
    if (s == NULL)
        return pg_bind_null(base, i);
    return bind_text((pg_st *)base, i, s, n, 1); /* s[n] need not be readable: copy */
}

static int pg_bind_text_copy(ctm__st *base, int i, const char *s)
{
    return bind_text((pg_st *)base, i, s, strlen(s), 1);
}

static int bind_blob(pg_st *st, int i, const void *v, size_t n, int copy)
{
    pg_param *p = param(st, i);
    if (p == NULL)
        return CTM_ERROR;
    p->tag = CTM_V_BLOB;
    p->n = n;
    p->p = v != NULL ? v : ""; /* an empty value is an empty blob, not NULL */
    if (copy && n > 0) {
        if ((p->owned = malloc(n)) == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        memcpy(p->owned, v, n);
        p->p = p->owned;
    }
    return CTM_OK;
}

static int pg_bind_blob(ctm__st *base, int i, const void *p, size_t n)
{
    return bind_blob((pg_st *)base, i, p, n, 0);
}

static int pg_bind_blob_copy(ctm__st *base, int i, const void *p, size_t n)
{
    return bind_blob((pg_st *)base, i, p, n, 1);
}

static int pg_bind_null(ctm__st *base, int i)
{
    return param((pg_st *)base, i) != NULL ? CTM_OK : CTM_ERROR;
}

/* st's bound values as libpq takes them (arrays of st->nparams, at least one). */
static void param_arrays(const pg_st *st, const char **values, int *lengths, int *formats)
{
    for (int i = 0; i < st->nparams; i++) {
        const pg_param *p = &st->params[i];
        values[i] = p->tag == CTM_V_NULL ? NULL : p->p;
        lengths[i] = (int)p->n;
        /* bytes travel as they are; text into a bytea parameter too (no escapes read) */
        formats[i] = p->tag == CTM_V_BLOB ||
                     (p->tag == CTM_V_TEXT && PQparamtype(st->desc, i) == OID_BYTEA);
    }
}

/* res becomes the current run's result: CTM_OK with its rows ready to hand out, or its failure
 * (res freed). */
static int take_result(pg_st *st, PGresult *res)
{
    st->res = res;
    ExecStatusType status = PQresultStatus(st->res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        int rc = fail_res(st->s, st->res, NULL);
        drop_result(st);
        return rc;
    }
    const char *cmd = PQcmdStatus(st->res);
    if (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
        strncmp(cmd, "DELETE", 6) == 0 || strncmp(cmd, "MERGE", 5) == 0)
        st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
    st->row = -1;
    return CTM_OK;
}

static int execute(pg_st *st)
{
    int n = st->nparams;
    const char *values[n > 0 ? n : 1];
    int lengths[n > 0 ? n : 1], formats[n > 0 ? n : 1];
    param_arrays(st, values, lengths, formats);
    if (st->stream) {
        pg_store *s = st->s;
        PGconn *c = ready(s);
        int in_tx = PQtransactionStatus(c) != PQTRANS_IDLE;
        if (!PQsendQueryPrepared(c, st->name, n, values, lengths, formats, 0))
            return fail_res(s, NULL, NULL);
        if (!PQsetSingleRowMode(c)) { /* only refused when nothing was sent */
            PGresult *r;
            while ((r = PQgetResult(c)) != NULL)
                PQclear(r);
            return ctm__err(CTM_ERROR, "the server's rows cannot be read one at a time");
        }
        s->streaming = st;
        s->stream_in_tx = in_tx;
        st->running = 1;
        st->row = -1;
        return CTM_OK;
    }
    return take_result(st, PQexecPrepared(ready(st->s), st->name, n, values, lengths, formats, 0));
}

/* A step of a streaming statement: its next row arrives alone. */
static int step_stream(pg_st *st)
{
    if (!st->running) {
        int rc = execute(st);
        if (rc != CTM_OK)
            return rc;
    }
    drop_row(st);
    PQclear(st->res);
    st->res = NULL;
    if (st->held_oom) {
        stop_stream(st);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    PGresult *r = next_result(st);
    ExecStatusType status = r != NULL ? PQresultStatus(r) : PGRES_TUPLES_OK;
    if (status == PGRES_SINGLE_TUPLE) {
        st->res = r;
        st->row = 0;
        return CTM_ROW;
    }
    int rc = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK ? CTM_OK
                                                                     : fail_res(st->s, r, NULL);
    PQclear(r);
    stop_stream(st); /* like SQLite, a further step runs the statement again */
    return rc;
}

static int pg_step(ctm__st *base)
{
    pg_st *st = (pg_st *)base;
    /* a run fetched whole before ctm__st_stream ends as it began */
    if (st->running || (st->stream && st->res == NULL))
        return step_stream(st);
    if (st->res == NULL) {
        int rc = execute(st);
        if (rc != CTM_OK)
            return rc;
    }
    drop_row(st);
    if (++st->row < PQntuples(st->res))
        return CTM_ROW;
    /* done; like SQLite, a further step runs the statement again */
    drop_result(st);
    return CTM_OK;
}

static void pg_reset(ctm__st *base)
{
    pg_st *st = (pg_st *)base;
    drop_result(st);
    for (int i = 0; i < st->nparams; i++)
        unbind(&st->params[i]);
}

static void pg_finalize(ctm__st *base)
{
    pg_st *st = (pg_st *)base;
    pg_store *s = st->s;
    drop_result(st);
    for (int i = 0; i < st->nparams; i++)
        unbind(&st->params[i]);
    free(st->params);
    free(st->decoded);
    free(st->decoded_n);
    PQclear(st->desc);
    if (!s->closed && PQstatus(s->conn) == CONNECTION_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "DEALLOCATE %s;", st->name);
        if (append(&s->dealloc, &s->dealloc_len, sql, strlen(sql)) != 0 &&
            tx_status(s) != PQTRANS_INERROR)
            command(s, sql, NULL); /* out of memory: at once */
        else if (s->dealloc_len > DEALLOC_FLUSH_BYTES)
            flush_dealloc(s);
    }
    free(st);
    if (--s->live_stmts == 0 && s->closed)
        pg_free(s);
}

static void pg_stream(ctm__st *base)
{
    pg_st *st = (pg_st *)base;
    st->stream = 1; /* from the next run: a run under way keeps its whole result */
}

static int64_t pg_changes(ctm__st *base)
{
    return ((pg_st *)base)->changes;
}

static int pg_nparams(ctm__st *base)
{
    return ((pg_st *)base)->nparams;
}

static int pg_ncols(ctm__st *base)
{
    return PQnfields(((pg_st *)base)->desc);
}

static const char *pg_colname(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    return col >= 0 && col < PQnfields(st->desc) ? PQfname(st->desc, col) : NULL;
}

/* ---- pipelines: several commands in one round trip ---- */

#ifdef LIBPQ_HAS_PIPELINING

/* One command of a pipeline: SQL without parameters, or a prepared statement with its bound
 * values; a sync point after it keeps its failure from aborting the commands after it. */
typedef struct pipe_cmd {
    const char *sql;
    pg_st *st;
    int sync_after;
    PGresult *res; /* its result, the caller's to clear (NULL when it got none) */
} pipe_cmd;

static int pipe_send(pg_store *s, const pipe_cmd *c)
{
    if (c->st == NULL)
        return PQsendQueryParams(s->conn, c->sql, 0, NULL, NULL, NULL, NULL, 0);
    int n = c->st->nparams;
    const char *values[n > 0 ? n : 1];
    int lengths[n > 0 ? n : 1], formats[n > 0 ? n : 1];
    param_arrays(c->st, values, lengths, formats);
    return PQsendQueryPrepared(s->conn, c->st->name, n, values, lengths, formats, 0);
}

/* Send cmds[0..n-1] at once and read every answer back: one round trip (the last command is
 * always followed by a sync point).  CTM_OK when every command was answered (each res says how
 * it went: a command after a failure, up to the next sync point, is PGRES_PIPELINE_ABORTED);
 * else the connection's failure, with every res cleared. */
static int pipeline(pg_store *s, pipe_cmd *cmds, int n)
{
    for (int i = 0; i < n; i++)
        cmds[i].res = NULL;
    if (PQenterPipelineMode(ready(s)) != 1)
        return fail_res(s, NULL, NULL);
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = pipe_send(s, &cmds[i]) &&
             (!(cmds[i].sync_after || i == n - 1) || PQpipelineSync(s->conn));
    /* a command's result, then the NULL that ends it; a sync point's own result */
    for (int i = 0; i < n && ok; i++) {
        PGresult *res = PQgetResult(s->conn), *more;
        ok = res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC;
        cmds[i].res = res;
        if (!ok)
            break;
        while ((more = PQgetResult(s->conn)) != NULL)
            PQclear(more);
        if (cmds[i].sync_after || i == n - 1) {
            res = PQgetResult(s->conn);
            ok = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
            PQclear(res);
        }
    }
    ok = PQexitPipelineMode(s->conn) == 1 && ok;
    if (ok)
        return CTM_OK;
    int rc = PQstatus(s->conn) == CONNECTION_BAD
                 ? fail_res(s, NULL, NULL)
                 : ctm__err(CTM_EIO, "%s: the server's answers did not match the commands sent",
                            s->name);
    for (int i = 0; i < n; i++) {
        PQclear(cmds[i].res);
        cmds[i].res = NULL;
    }
    return rc;
}

/* Whether a pipeline command succeeded; else its failure (the first one's, when *rc is still
 * CTM_OK, prefixed by doing). */
static int pipe_ok(pg_store *s, const pipe_cmd *c, int *rc, const char *doing)
{
    ExecStatusType st = PQresultStatus(c->res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 1;
    if (*rc == CTM_OK)
        *rc = fail_res(s, c->res, doing);
    return 0;
}

/* BEGIN, the writer lock (as pg_begin) and `first`, in one round trip, after the DEALLOCATEs
 * waiting for one (each behind a sync point of its own: its failure does no harm). */
static int pg_begin_read(ctm__store *base, ctm__st *first)
{
    pg_store *s = (pg_store *)base;
    pg_st *st = (pg_st *)first;
    if (tx_status(s) != PQTRANS_IDLE)
        return pg_begin(base); /* as ever (`first` runs at its step) */
    int ndealloc = 0;
    for (const char *p = s->dealloc; p != NULL && *p != '\0'; p++)
        ndealloc += *p == ';';
    pipe_cmd *cmds = calloc((size_t)ndealloc + 4, sizeof *cmds);
    if (cmds == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    char *dealloc = s->dealloc;
    s->dealloc = NULL;
    s->dealloc_len = 0;
    int n = 0;
    for (char *p = dealloc; n < ndealloc; n++) {
        char *end = strchr(p, ';');
        *end = '\0';
        cmds[n].sql = p;
        cmds[n].sync_after = 1;
        p = end + 1;
    }
    cmds[n++].sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
    /* the commit's own setting (WRITER_COMMIT_SQL) made here, before the lock */
    if (s->flush_apart)
        cmds[n++].sql = "SET LOCAL synchronous_commit = off";
    cmds[n++].sql = "SELECT pg_advisory_xact_lock(" CTM__PG_WRITER_LOCK ")";
    drop_result(st);
    cmds[n++].st = st;
    int rc = pipeline(s, cmds, n);
    for (int i = ndealloc; i < n - 1 && rc == CTM_OK; i++)
        pipe_ok(s, &cmds[i], &rc, "BEGIN");
    if (rc == CTM_OK) {
        rc = take_result(st, cmds[n - 1].res);
        cmds[n - 1].res = NULL;
    }
    for (int i = 0; i < n; i++)
        PQclear(cmds[i].res);
    free(cmds);
    free(dealloc);
    s->writer = rc == CTM_OK;
    s->writer_async = s->writer && s->flush_apart;
    /* a lock not had (CTM_EBUSY) leaves the transaction begun and failed: end it, so that the
     * handle is idle as after a failed BEGIN IMMEDIATE on SQLite */
    if (rc != CTM_OK && tx_status(s) != PQTRANS_IDLE)
        command(s, "ROLLBACK", NULL);
    return rc;
}

/* The statements and the COMMIT (a writer's as in WRITER_COMMIT_SQL) in one round trip.  A
 * writer whose flush waits apart makes `tidy` the write of the transaction that waits, instead of
 * DURABLE_SQL's message, outside the writer lock.  It must write WAL, or that commit would not
 * wait: the ledger's tidy statement updates the previous entry, which the tail read found under
 * the lock and which the guard keeps from ever being deleted.  Should it fail (someone holds that
 * row past the lock timeout), the wait writes DURABLE_SQL's message instead. */
static int pg_commit_after(ctm__store *base, ctm__st *const *sts, int n, ctm__st *tidy)
{
    pg_store *s = (pg_store *)base;
    int rc = CTM_OK;
    pipe_cmd *cmds = tx_status(s) == PQTRANS_INTRANS
                         ? calloc((size_t)n + 4, sizeof *cmds) : NULL;
    if (cmds == NULL) {
        for (int i = 0; i < n; i++)
            pg_reset(sts[i]);
        if (tidy != NULL)
            pg_reset(tidy);
        /* a failed transaction: pg_commit rolls it back and says so */
        return tx_status(s) == PQTRANS_INTRANS ? ctm__err(CTM_ENOMEM, "out of memory")
                                                               : pg_commit(base);
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        cmds[k++].st = (pg_st *)sts[i];
    int apart = s->writer && s->flush_apart;
    if (tidy != NULL && !apart)
        cmds[k++].st = (pg_st *)tidy;
    if (apart && !s->writer_async)
        cmds[k++].sql = "SET LOCAL synchronous_commit = off";
    int commit = k;
    cmds[k++].sql = "COMMIT";
    if (apart && tidy != NULL)
        cmds[k++].st = (pg_st *)tidy;
    else if (apart)
        cmds[k++].sql = DURABLE_SQL;
    rc = pipeline(s, cmds, k);
    for (int i = 0; i < k && rc == CTM_OK; i++) {
        if (i == commit + 1 && tidy != NULL && PQresultStatus(cmds[i].res) == PGRES_FATAL_ERROR &&
            PQstatus(s->conn) == CONNECTION_OK) {
            /* The tidy statement failed after the COMMIT (a lock held on the previous entry, past
             * the lock timeout): the action is committed and the previous entry keeps its
             * frontier, as after a crash there (audit-format.md, section 1).  The wait for the
             * disk writes the message instead, so that a committed action is not reported as
             * one not done (CTM_EBUSY), which a caller would repeat. */
            rc = command(s, DURABLE_SQL, DURABLE_FAILED);
            break;
        }
        if (!pipe_ok(s, &cmds[i], &rc,
                     i < commit ? NULL
                                : i == commit + 1 ? DURABLE_FAILED
                                                  : "COMMIT"))
            break;
        if (i == commit && strcmp(PQcmdStatus(cmds[i].res), "ROLLBACK") == 0)
            rc = ctm__err(CTM_ERROR, "COMMIT: the transaction was rolled back");
    }
    for (int i = 0; i < k; i++)
        PQclear(cmds[i].res);
    free(cmds);
    for (int i = 0; i < n; i++)
        pg_reset(sts[i]);
    if (tidy != NULL)
        pg_reset(tidy);
    if (tx_status(s) == PQTRANS_INTRANS || tx_status(s) == PQTRANS_INERROR)
        return rc; /* a statement failed: the transaction is the caller's to roll back */
    s->writer = s->writer_async = 0;
    if (rc == CTM_OK && s->capture_pending)
        s->capture_ready = 1;
    s->capture_pending = 0;
    return rc;
}

#endif

/* ---- values ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* bytea's hex text form ("\x0a1b...") into out (room for len / 2 bytes); the byte count, or -1. */
static long unhex(const char *s, size_t len, char *out)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2 != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 2; i < len; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[n++] = (char)(hi << 4 | lo);
    }
    return (long)n;
}

/* numeric's text when it is an integer that fits 64 bits. */
static int numeric_int(const char *s, int64_t *v)
{
    if (strpbrk(s, ".eEN") != NULL) /* fractions, exponents, NaN */
        return 0;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return 0;
    *v = x;
    return 1;
}

/* The value tag of a column of type `type` whose text form is s. */
static int tag_of(unsigned type, const char *s)
{
    int64_t ignored;
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_BOOL: return CTM_V_INT;
    case OID_FLOAT4:
    case OID_FLOAT8: return CTM_V_REAL;
    case OID_BYTEA: return CTM_V_BLOB;
    case OID_NUMERIC: return numeric_int(s, &ignored) ? CTM_V_INT : CTM_V_REAL;
    default: return CTM_V_TEXT;
    }
}

static int64_t int_of(unsigned type, const char *s)
{
    if (type == OID_BOOL)
        return s[0] == 't';
    int64_t v;
    if (numeric_int(s, &v))
        return v;
    double d = strtod(s, NULL);
    if (isnan(d))
        return 0;
    return d >= 9.2233720368547758e18 ? INT64_MAX : d <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)d;
}

/* Decode the text s (len bytes) of a value of type `type` into v; bytea bytes go to scratch
 * (room for len bytes), which v then points into. */
static int decode(unsigned type, const char *s, size_t len, char *scratch, ctm__value *v)
{
    memset(v, 0, sizeof *v);
    v->tag = tag_of(type, s);
    switch (v->tag) {
    case CTM_V_INT: v->i = int_of(type, s); break;
    case CTM_V_REAL: v->r = strtod(s, NULL); break;
    case CTM_V_BLOB: {
        long n = unhex(s, len, scratch);
        if (n < 0)
            return ctm__err(CTM_ERROR, "reading a value: malformed bytea text");
        v->p = (const uint8_t *)scratch;
        v->n = (uint32_t)n;
        break;
    }
    default:
        v->p = (const uint8_t *)s;
        v->n = (uint32_t)len;
        break;
    }
    return CTM_OK;
}

static int has_cell(pg_st *st, int col)
{
    return st->res != NULL && st->row >= 0 && st->row < PQntuples(st->res) && col >= 0 &&
           col < PQnfields(st->res) && !PQgetisnull(st->res, st->row, col);
}

static int pg_type(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    if (!has_cell(st, col))
        return CTM_V_NULL;
    return tag_of(PQftype(st->res, col), PQgetvalue(st->res, st->row, col));
}

static int64_t pg_int(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    if (!has_cell(st, col))
        return 0;
    return int_of(PQftype(st->res, col), PQgetvalue(st->res, st->row, col));
}

static double pg_real(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    if (!has_cell(st, col))
        return 0.0;
    const char *s = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == OID_BOOL)
        return s[0] == 't';
    return strtod(s, NULL);
}

/* A bytea column of the current row, decoded once per row (NUL-terminated). */
static const char *bytes_of(pg_st *st, int col, size_t *n)
{
    if (st->decoded[col] == NULL) {
        const char *s = PQgetvalue(st->res, st->row, col);
        size_t len = (size_t)PQgetlength(st->res, st->row, col);
        char *buf = malloc(len / 2 + 1);
        long got = buf != NULL ? unhex(s, len, buf) : -1;
        if (got < 0) {
            free(buf);
            *n = 0;
            return NULL;
        }
        buf[got] = '\0';
        st->decoded[col] = buf;
        st->decoded_n[col] = (size_t)got;
    }
    *n = st->decoded_n[col];
    return st->decoded[col];
}

static const char *pg_text(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    if (!has_cell(st, col))
        return NULL;
    size_t n;
    switch (PQftype(st->res, col)) {
    case OID_BYTEA: return bytes_of(st, col, &n);
    case OID_BOOL: return PQgetvalue(st->res, st->row, col)[0] == 't' ? "1" : "0";
    default: return PQgetvalue(st->res, st->row, col);
    }
}

static const void *pg_col_blob(ctm__st *base, int col)
{
    return pg_text(base, col);
}

static size_t pg_bytes(ctm__st *base, int col)
{
    pg_st *st = (pg_st *)base;
    if (!has_cell(st, col))
        return 0;
    size_t n;
    switch (PQftype(st->res, col)) {
    case OID_BYTEA: bytes_of(st, col, &n); return n;
    case OID_BOOL: return 1;
    default: return (size_t)PQgetlength(st->res, st->row, col);
    }
}

static void pg_value(ctm__st *base, int col, ctm__value *v)
{
    pg_st *st = (pg_st *)base;
    memset(v, 0, sizeof *v);
    v->tag = pg_type(base, col);
    switch (v->tag) {
    case CTM_V_INT: v->i = pg_int(base, col); break;
    case CTM_V_REAL: v->r = pg_real(base, col); break;
    case CTM_V_TEXT:
    case CTM_V_BLOB:
        v->p = (const uint8_t *)pg_text(base, col);
        v->n = (uint32_t)pg_bytes(base, col);
        if (v->p == NULL) { /* malformed bytea text: nothing to hand out */
            v->tag = CTM_V_NULL;
            v->n = 0;
        }
        break;
    default: break;
    }
    (void)st;
}

/* ---- schema ---- */

/* Run a query with text parameters: CTM_OK and its rows in *out, or its failure (*out NULL). */
static int query(pg_store *s, const char *sql, int n, const char *const *params, const char *doing,
                 PGresult **out)
{
    *out = NULL;
    PGresult *res = PQexecParams(ready(s), sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        *out = res;
        return CTM_OK;
    }
    int rc = fail_res(s, res, doing);
    PQclear(res);
    return rc;
}

static int pg_schema_version(ctm__store *base, int *version)
{
    pg_store *s = (pg_store *)base;
    *version = 0;
    PGresult *res = NULL;
    int qrc = query(s,
                          "SELECT current_schema(), to_regclass(quote_ident(current_schema()) ||"
                          " '.ctm__schema') IS NOT NULL, (SELECT count(*) FROM pg_class c"
                          " JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " WHERE n.nspname = current_schema() AND c.relkind IN ('r','p','v','m','f','S'))",
                          0, NULL, s->name, &res);
    if (qrc != CTM_OK)
        return qrc;
    int rc = CTM_OK;
    if (PQgetisnull(res, 0, 0)) {
        rc = ctm__err(CTM_ENOTDB, "%s: no schema to use (search_path names none that exists)", s->name);
    } else if (PQgetvalue(res, 0, 1)[0] == 't') {
        PGresult *v = NULL;
        rc = query(s, "SELECT application, version FROM ctm__schema WHERE id = 1", 0, NULL, s->name,
                   &v);
        if (rc != CTM_OK) {
            /* the failure is set */
        } else if (PQntuples(v) != 1 || strcmp(PQgetvalue(v, 0, 0), CTM_APPLICATION) != 0) {
            rc = ctm__err(CTM_ENOTDB, "%s: not a libctm database (ctm__schema names another application)",
                          s->name);
        } else {
            long long ver = strtoll(PQgetvalue(v, 0, 1), NULL, 10);
            if (ver < 1 || ver > INT32_MAX)
                rc = ctm__err(CTM_ENOTDB, "%s: not a libctm database (schema version %lld)", s->name, ver);
            else
                *version = (int)ver;
        }
        PQclear(v);
    } else if (strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
        rc = ctm__err(CTM_ENOTDB, "%s: not a libctm database (schema %s holds other tables)", s->name,
                      PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* The guard: changes that bypass libctm fail.
 *   - Every statement that changes rows of a site table marks its transaction in ctm__guard_tx
 *     (statement triggers "ctm__guard", "ctm__guard_u", "ctm__guard_d"): one mark per
 *     transaction, whose "ledgered" the statement clears.  The ledger's insert trigger sets it
 *     again, so a change must be followed by an entry (libctm appends an action's entry after its
 *     changes, and `ctm migrate --to` copies the ledger last); an entry appended in a savepoint
 *     that was rolled back does not count, nor an INSERT that inserted no row (the trigger fires
 *     AFTER the row is in: an INSERT ... ON CONFLICT that skips its row, or updates another one,
 *     fires BEFORE INSERT triggers all the same).  The mark's insert fires a deferred constraint
 *     trigger, so at COMMIT the transaction asks once whether its last change was followed by an
 *     entry, and fails when it was not.  The ledger's insert trigger fires only in a transaction
 *     that marked (the setting "ctm.marked", which the mark sets): a note, which changes no row,
 *     costs the guard nothing.  Any session may set a setting, but this one only saves work: set
 *     by hand it makes the trigger look for a mark that is not there, cleared by hand it leaves
 *     the mark cleared and the COMMIT fails.  (The setting "ctm.ledgered" the trigger also sets
 *     serves only the row triggers of older sites.)  Only the tables' owner may write a mark
 *     (trigger "ctm__guard_own"): the application role, even with every table of the schema
 *     granted, can neither forge "ledgered" nor remove a mark.  Nor can it borrow the owner's
 *     rights through the guard's functions: none may be executed by PUBLIC (so none can be
 *     named by a trigger of another role), and the ledger's refuses to fire for any other
 *     table (a trigger of its own on a table of its own would set "ledgered" without an entry).  The mark is keyed by the transaction's 64-bit id and
 *     removed by the check that passes, so a mark that exists was made by this transaction, whose
 *     check is then pending: nobody can make a change without one.  A site table thus costs one
 *     check per transaction, not one per row.  The mark's functions run as the tables' owner
 *     (SECURITY DEFINER), so the application role needs no grant on ctm__guard_tx.
 *   - TRUNCATE, which fires no row trigger, is refused on every site table.
 *   - The ledger only grows: no DELETE, no change of an entry, a checkpoint once set never
 *     changes.
 * The guard stops hand-written SQL and programs that skip libctm; it is not the proof.  A role
 * that may write the ledger can forge the mark, and verify then finds the forged change, since
 * no signed entry records it (docs/deployment.md, "The application role").
 *
 * Sites made before this form had a deferred row trigger "ctm__guard" per table (one check per
 * changed row), and one ledger trigger "ctm__guard_ledger" for every change.  GUARD_INSTALL
 * replaces them on every table the current role owns (the ledger's once no table keeps a row
 * trigger, which needs "ctm.ledgered" set by every entry), so a site is brought up to date by its
 * owner's first write with change capture (GUARD_UPGRADE); until then the old triggers go on
 * guarding it. */
#define GUARD_INSTALL \
    " EXECUTE format($f$CREATE OR REPLACE FUNCTION %I.ctm__guard_truncate() RETURNS trigger" \
    "  LANGUAGE plpgsql AS $g$ BEGIN" \
    "  RAISE EXCEPTION 'libctm guard: TRUNCATE of table %% is refused', TG_TABLE_NAME" \
    "   USING ERRCODE = 'insufficient_privilege'; END $g$$f$, current_schema());" \
    " EXECUTE format('CREATE UNLOGGED TABLE IF NOT EXISTS %I.ctm__guard_tx(xid xid8 PRIMARY KEY," \
    "  op text NOT NULL, tbl text NOT NULL)', current_schema());" \
    " EXECUTE format('ALTER TABLE %I.ctm__guard_tx ADD COLUMN IF NOT EXISTS" \
    "  ledgered boolean NOT NULL DEFAULT false', current_schema());" \
    " EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.ctm__guard_ledger() RETURNS trigger" \
    "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $g$ BEGIN" \
    "  IF TG_TABLE_SCHEMA IS DISTINCT FROM %1$L OR TG_TABLE_NAME IS DISTINCT FROM 'ledger' THEN" \
    "   RAISE EXCEPTION 'libctm guard: ctm__guard_ledger() serves the ledger only (on %%.%% refused)'," \
    "    TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';" \
    "  ELSIF TG_OP = 'INSERT' THEN" \
    "   UPDATE %1$I.ctm__guard_tx SET ledgered = true WHERE xid = pg_current_xact_id()" \
    "    AND NOT ledgered;" \
    "   PERFORM set_config('ctm.ledgered', pg_current_xact_id()::text, true); RETURN NEW;" \
    "  ELSIF TG_OP = 'UPDATE' AND NEW.seq = OLD.seq AND NEW.entry = OLD.entry" \
    "   AND (OLD.checkpoint IS NULL OR NEW.checkpoint IS NOT DISTINCT FROM OLD.checkpoint) THEN" \
    "   RETURN NEW;" \
    "  END IF;" \
    "  RAISE EXCEPTION 'libctm guard: the ledger only grows (%% refused)', TG_OP" \
    "   USING ERRCODE = 'insufficient_privilege'; END $g$$f$, current_schema());" \
    " EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.ctm__guard_own() RETURNS trigger" \
    "  LANGUAGE plpgsql AS $g$ BEGIN" \
    "  IF current_user IS DISTINCT FROM (SELECT pg_get_userbyid(c.relowner) FROM pg_class c" \
    "   WHERE c.oid = TG_RELID) THEN" \
    "   RAISE EXCEPTION 'libctm guard: %% of a guard mark by hand is refused', TG_OP" \
    "    USING ERRCODE = 'insufficient_privilege';" \
    "  END IF;" \
    "  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $g$$f$, current_schema());" \
    " IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ctm__guard_own'" \
    "  AND tgrelid = to_regclass(quote_ident(current_schema()) || '.ctm__guard_tx')) THEN" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard_own BEFORE INSERT OR UPDATE OR DELETE ON %I.ctm__guard_tx" \
    "   FOR EACH ROW EXECUTE FUNCTION %I.ctm__guard_own()', current_schema(), current_schema());" \
    " END IF;" \
    " EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.ctm__guard_mark() RETURNS trigger" \
    "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $g$ BEGIN" \
    "  IF TG_OP = 'DELETE' THEN" \
    "   IF NOT EXISTS (SELECT FROM ctm__old) THEN RETURN NULL; END IF;" \
    "  ELSIF NOT EXISTS (SELECT FROM ctm__new) THEN RETURN NULL; END IF;" \
    "  INSERT INTO %1$I.ctm__guard_tx VALUES (pg_current_xact_id(), TG_OP, TG_TABLE_NAME)" \
    "   ON CONFLICT (xid) DO UPDATE SET ledgered = false, op = excluded.op, tbl = excluded.tbl" \
    "   WHERE ctm__guard_tx.ledgered;" \
    "  PERFORM set_config('ctm.marked', pg_current_xact_id()::text, true);" \
    "  RETURN NULL; END $g$$f$, current_schema());" \
    " EXECUTE format($f$CREATE OR REPLACE FUNCTION %1$I.ctm__guard_check() RETURNS trigger" \
    "  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $g$" \
    "  DECLARE m record; BEGIN" \
    "  SELECT g.ledgered, g.op, g.tbl INTO m FROM %1$I.ctm__guard_tx g WHERE g.xid = NEW.xid;" \
    "  IF NOT coalesce(m.ledgered, false) THEN" \
    "   RAISE EXCEPTION 'libctm guard: %% on table %% without a ledger entry (changes to a libctm" \
    " site go through libctm)', coalesce(m.op, NEW.op), coalesce(m.tbl, NEW.tbl)" \
    "    USING ERRCODE = 'insufficient_privilege';" \
    "  END IF;" \
    "  DELETE FROM %1$I.ctm__guard_tx WHERE xid = NEW.xid; RETURN NULL; END $g$$f$, current_schema());" \
    " EXECUTE format('REVOKE ALL ON FUNCTION %1$I.ctm__guard_truncate(), %1$I.ctm__guard_ledger()," \
    "  %1$I.ctm__guard_own(), %1$I.ctm__guard_mark(), %1$I.ctm__guard_check() FROM PUBLIC'," \
    "  current_schema());" \
    " IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ctm__guard_check'" \
    "  AND tgrelid = to_regclass(quote_ident(current_schema()) || '.ctm__guard_tx')) THEN" \
    "  EXECUTE format('CREATE CONSTRAINT TRIGGER ctm__guard_check AFTER INSERT ON %I.ctm__guard_tx" \
    "   DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %I.ctm__guard_check()'," \
    "   current_schema(), current_schema());" \
    " END IF;" \
    " FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "  WHERE n.nspname = current_schema() AND c.relkind IN ('r','p') AND NOT c.relispartition" \
    "  AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid" \
    "   AND g.tgname = 'ctm__guard_truncate')" \
    " LOOP" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard_truncate BEFORE TRUNCATE ON %s" \
    "   FOR EACH STATEMENT EXECUTE FUNCTION %I.ctm__guard_truncate()', t, current_schema());" \
    " END LOOP;" \
    " FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "  WHERE n.nspname = current_schema() AND c.relkind IN ('r','p') AND NOT c.relispartition" \
    "  AND c.relname <> 'ledger' AND c.relname NOT LIKE 'ctm\\_\\_%'" \
    "  AND (NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'ctm__guard')" \
    "   OR (" GUARD_OLD_ON("c") " AND pg_has_role(c.relowner, 'USAGE')))" \
    " LOOP" \
    "  EXECUTE format('DROP TRIGGER IF EXISTS ctm__guard ON %1$s; DROP TRIGGER IF EXISTS ctm__guard_u ON %1$s;" \
    "   DROP TRIGGER IF EXISTS ctm__guard_d ON %1$s', t);" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard AFTER INSERT ON %s REFERENCING NEW TABLE AS ctm__new" \
    "   FOR EACH STATEMENT EXECUTE FUNCTION %I.ctm__guard_mark()', t, current_schema());" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard_u AFTER UPDATE ON %s REFERENCING NEW TABLE AS ctm__new" \
    "   FOR EACH STATEMENT EXECUTE FUNCTION %I.ctm__guard_mark()', t, current_schema());" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard_d AFTER DELETE ON %s REFERENCING OLD TABLE AS ctm__old" \
    "   FOR EACH STATEMENT EXECUTE FUNCTION %I.ctm__guard_mark()', t, current_schema());" \
    " END LOOP;" \
    " IF to_regclass(quote_ident(current_schema()) || '.ledger') IS NOT NULL" \
    "  AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ctm__guard_ledger_i'" \
    "   AND tgrelid = to_regclass(quote_ident(current_schema()) || '.ledger') AND (tgtype & 2) = 0)" \
    "  AND " LEDGER_OURS " AND NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "   WHERE n.nspname = current_schema() AND " GUARD_OLD_ON("c") ") THEN" \
    "  EXECUTE format('DROP TRIGGER IF EXISTS ctm__guard_ledger ON %1$I.ledger;" \
    "   DROP TRIGGER IF EXISTS ctm__guard_ledger_i ON %1$I.ledger;" \
    "   DROP TRIGGER IF EXISTS ctm__guard_ledger_u ON %1$I.ledger;" \
    "   DROP TRIGGER IF EXISTS ctm__guard_ledger_d ON %1$I.ledger;" \
    "   CREATE TRIGGER ctm__guard_ledger_i AFTER INSERT ON %1$I.ledger FOR EACH ROW" \
    "    WHEN (current_setting(''ctm.marked'', true) = pg_current_xact_id()::text)" \
    "    EXECUTE FUNCTION %1$I.ctm__guard_ledger();" \
    "   CREATE TRIGGER ctm__guard_ledger_u BEFORE UPDATE ON %1$I.ledger FOR EACH ROW" \
    "    WHEN (NEW.seq IS DISTINCT FROM OLD.seq OR NEW.entry IS DISTINCT FROM OLD.entry" \
    "     OR (OLD.checkpoint IS NOT NULL AND NEW.checkpoint IS DISTINCT FROM OLD.checkpoint))" \
    "    EXECUTE FUNCTION %1$I.ctm__guard_ledger();" \
    "   CREATE TRIGGER ctm__guard_ledger_d BEFORE DELETE ON %1$I.ledger FOR EACH ROW" \
    "    EXECUTE FUNCTION %1$I.ctm__guard_ledger()', current_schema());" \
    " ELSIF to_regclass(quote_ident(current_schema()) || '.ledger') IS NOT NULL" \
    "  AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname IN ('ctm__guard_ledger', 'ctm__guard_ledger_d')" \
    "   AND tgrelid = to_regclass(quote_ident(current_schema()) || '.ledger')) THEN" \
    "  EXECUTE format('CREATE TRIGGER ctm__guard_ledger BEFORE INSERT OR UPDATE OR DELETE ON %I.ledger" \
    "   FOR EACH ROW EXECUTE FUNCTION %I.ctm__guard_ledger()', current_schema(), current_schema());" \
    " END IF;"

/* Whether the current role may change the ledger's triggers. */
#define LEDGER_OURS                                                                               \
    "pg_has_role((SELECT relowner FROM pg_class"                                                  \
    " WHERE oid = to_regclass(quote_ident(current_schema()) || '.ledger')), 'USAGE')"

/* Whether the ledger still has the guard's one trigger for every change (sites made before the
 * guard's conditional ledger triggers), or an insert trigger that fires BEFORE the row is
 * inserted (so also for a row ON CONFLICT then skips or turns into an update of another row),
 * and the current role may replace it. */
#define GUARD_LEDGER_OLD                                                                          \
    "(EXISTS (SELECT 1 FROM pg_trigger WHERE (tgname = 'ctm__guard_ledger'"                      \
    "  OR (tgname = 'ctm__guard_ledger_i' AND (tgtype & 2) <> 0))"                               \
    " AND tgrelid = to_regclass(quote_ident(current_schema()) || '.ledger')) AND " LEDGER_OURS ")"

/* Whether the ledger's guard function is ours and from before it refused to serve another table
 * (a trigger of the application role's own on a table of its own could otherwise call it, it
 * being the owner's, and set the mark's "ledgered" without an entry). */
#define GUARD_FN_OLD                                                                              \
    "(SELECT p.prosrc NOT LIKE '%TG\\_TABLE\\_SCHEMA%' AND pg_has_role(p.proowner, 'USAGE')"         \
    " FROM pg_proc p WHERE p.oid = to_regprocedure(quote_ident(current_schema())"                 \
    " || '.ctm__guard_ledger()'))"

/* Whether table alias c still has the guard's old per-row constraint trigger. */
#define GUARD_OLD_ON(c) \
    "EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = " c ".oid AND g.tgname = 'ctm__guard'" \
    " AND g.tgconstraint <> 0)"

static const char guard_sql[] = "DO $ctm$ DECLARE t regclass; BEGIN" GUARD_INSTALL " END $ctm$";

/* The guard brought up to date on a site made before its per-transaction form, when the current
 * role owns one of the tables still guarded row by row, the ledger's old trigger, or the
 * ledger's guard function from before it served the ledger only (else nothing). */
#define GUARD_UPGRADE \
    " IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "  WHERE n.nspname = current_schema() AND pg_has_role(c.relowner, 'USAGE') AND " \
    GUARD_OLD_ON("c") ") OR " GUARD_LEDGER_OLD " OR " GUARD_FN_OLD " THEN" \
    "  PERFORM pg_advisory_xact_lock(1129598257);" \
    GUARD_INSTALL \
    " END IF;"

static int install_capture(pg_store *s);

/* Record the version; the guard covers every table the migrations made (guard_sql). */
static int pg_set_schema_version(ctm__store *base, int version)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS ctm__schema(id integer PRIMARY KEY CHECK (id = 1),"
             " application text NOT NULL, version integer NOT NULL);"
             " INSERT INTO ctm__schema VALUES (1, '" CTM_APPLICATION "', %d)"
             " ON CONFLICT (id) DO UPDATE SET application = excluded.application,"
             " version = excluded.version",
             version);
    int rc = command((pg_store *)base, sql, "setting the schema version");
    if (rc == CTM_OK)
        rc = command((pg_store *)base, guard_sql, "installing the guard");
    return rc == CTM_OK ? install_capture((pg_store *)base) : rc;
}

static int pg_columns(ctm__store *base, const char *table, ctm__column_fn fn, void *ctx)
{
    pg_store *s = (pg_store *)base;
    const char *params[1] = {table};
    PGresult *res = NULL;
    int qrc = query(s,
                          "SELECT a.attname, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid"
                          " AND i.indisprimary AND a.attnum = ANY (i.indkey))"
                          " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " JOIN pg_attribute a ON a.attrelid = c.oid"
                          " WHERE n.nspname = current_schema() AND c.relname = $1"
                          " AND c.relkind IN ('r','p','v','m','f') AND a.attnum > 0"
                          " AND NOT a.attisdropped ORDER BY a.attnum",
                          1, params, "reading a table's columns", &res);
    if (qrc != CTM_OK)
        return qrc;
    int n = PQntuples(res), rc = CTM_OK;
    for (int i = 0; i < n && rc == CTM_OK; i++)
        rc = fn(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)[0] == 't');
    PQclear(res);
    if (rc == CTM_OK && n == 0)
        rc = ctm__err(CTM_ENOTFOUND, "table %s: no such table", table);
    return rc;
}

static int pg_tables(ctm__store *base, ctm__table_fn fn, void *ctx)
{
    pg_store *s = (pg_store *)base;
    PGresult *res = NULL;
    int qrc = query(s,
                          "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " WHERE n.nspname = current_schema() AND c.relkind IN ('r','p')"
                          " AND NOT c.relispartition AND c.relname NOT LIKE 'ctm\\_\\_%'"
                          " ORDER BY c.relname COLLATE \"C\"",
                          0, NULL, "listing the tables", &res);
    if (qrc != CTM_OK)
        return qrc;
    int n = PQntuples(res), rc = CTM_OK;
    for (int i = 0; i < n && rc == CTM_OK; i++)
        rc = fn(ctx, PQgetvalue(res, i, 0));
    PQclear(res);
    return rc;
}

static int pg_ids_follow(ctm__store *base)
{
    return command((pg_store *)base,
                   "DO $ctm$ DECLARE r record; m bigint; BEGIN"
                   " FOR r IN SELECT c.relname, a.attname FROM pg_attribute a"
                   "  JOIN pg_class c ON c.oid = a.attrelid"
                   "  JOIN pg_namespace n ON n.oid = c.relnamespace"
                   "  WHERE n.nspname = current_schema() AND a.attidentity <> '' AND a.attnum > 0"
                   " LOOP"
                   "  EXECUTE format('SELECT max(%I) FROM %I', r.attname, r.relname) INTO m;"
                   "  IF m IS NOT NULL THEN"
                   "   PERFORM setval(pg_get_serial_sequence(quote_ident(r.relname), r.attname), m);"
                   "  END IF;"
                   " END LOOP; END $ctm$",
                   "setting the identity sequences");
}

static int pg_foreign_keys(ctm__store *base, ctm__fk_fn fn, void *ctx)
{
    pg_store *s = (pg_store *)base;
    PGresult *res = NULL;
    int qrc = query(s,
                          "SELECT c.relname, a.attname, r.relname FROM pg_constraint k"
                          " JOIN pg_class c ON c.oid = k.conrelid"
                          " JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " JOIN pg_class r ON r.oid = k.confrelid"
                          " CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)"
                          " JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
                          " WHERE k.contype = 'f' AND n.nspname = current_schema()"
                          " ORDER BY c.relname COLLATE \"C\", k.conname COLLATE \"C\", u.ord",
                          0, NULL, "reading the foreign keys", &res);
    if (qrc != CTM_OK)
        return qrc;
    int n = PQntuples(res), rc = CTM_OK;
    for (int i = 0; i < n && rc == CTM_OK; i++)
        rc = fn(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    return rc;
}

/* ---- change capture: statement triggers writing a per-connection change table ---- */

/* The capture trigger function and its triggers on every site table that lacks them (under an
 * advisory lock, so that two connections do not both create).  Installed with each schema
 * version, by the role that owns the tables; capture_start repeats it, so a table made outside
 * the migrations (the seam's tests) is captured too, and finds nothing to do on a site.
 *
 * Each table has three statement triggers, "ctm__capture" (INSERT), "ctm__capture_u" and
 * "ctm__capture_d", which copy the statement's rows from its transition tables into the change
 * table in one INSERT ... SELECT each, in the order the statement changed them (an UPDATE's old
 * and new rows are paired by their position, which is the same in both).  AFTER triggers fire at
 * the end of each statement, so the change table holds the rows in statement order, then row
 * order, as SQLite's hook sees them.  Within one statement that changes several rows, each
 * engine gives the rows in the order it processed them, which can differ (PostgreSQL's scan
 * order after a row was rewritten, SQLite's rowid order), so the same action's entry can list a
 * statement's rows in another order on the other engine; replay, and so verification, do not
 * depend on that order, and a migrated site keeps its entries byte for byte.  (A statement that both inserts and updates, INSERT ... ON CONFLICT DO UPDATE, would
 * have its updated rows recorded before its inserted ones; libctm's upserts write one row.)
 *
 * Sites made before had one row trigger "ctm__capture" per table, calling the same function for
 * each row; the function still serves both (TG_LEVEL), so such a site keeps working, and the
 * install replaces the row triggers on the tables the current role owns (its owner's first
 * write).  A libctm from before finds "ctm__capture" and the function present and changes
 * nothing. */
#define CAPTURE_FN_BODY \
    " RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN" \
    "  IF current_setting('ctm.capture', true) = 'on' THEN" \
    "   IF TG_LEVEL = 'ROW' THEN" \
    "    INSERT INTO pg_temp.ctm__changes(op, relid, tbl, old_row, new_row)" \
    "     VALUES (left(TG_OP, 1), TG_RELID, TG_TABLE_NAME," \
    "      CASE WHEN TG_OP <> 'INSERT' THEN OLD::text END," \
    "      CASE WHEN TG_OP <> 'DELETE' THEN NEW::text END);" \
    "   ELSIF TG_OP = 'INSERT' THEN" \
    "    INSERT INTO pg_temp.ctm__changes(op, relid, tbl, new_row)" \
    "     SELECT 'I', TG_RELID, TG_TABLE_NAME, n::text FROM ctm__new n;" \
    "   ELSIF TG_OP = 'DELETE' THEN" \
    "    INSERT INTO pg_temp.ctm__changes(op, relid, tbl, old_row)" \
    "     SELECT 'D', TG_RELID, TG_TABLE_NAME, o::text FROM ctm__old o;" \
    "   ELSE" \
    "    INSERT INTO pg_temp.ctm__changes(op, relid, tbl, old_row, new_row)" \
    "     SELECT 'U', TG_RELID, TG_TABLE_NAME, o.r, n.r" \
    "     FROM (SELECT o::text AS r, row_number() OVER () AS k FROM ctm__old o) o" \
    "     JOIN (SELECT n::text AS r, row_number() OVER () AS k FROM ctm__new n) n ON n.k = o.k" \
    "     ORDER BY o.k;" \
    "   END IF;" \
    "  END IF; RETURN NULL; END $f$;"

/* The function's text marks the statement-level form. */
#define CAPTURE_FN_OLD \
    "(SELECT p.prosrc NOT LIKE '%ctm\\_\\_new%' AND pg_has_role(p.proowner, 'USAGE') FROM pg_proc p" \
    " WHERE p.oid = to_regprocedure(quote_ident(current_schema()) || '.ctm__capture_row()'))"

/* Whether table alias c lacks the capture triggers, or has the old row trigger and is ours. */
#define CAPTURE_MISSING(c) \
    "(NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = " c ".oid AND g.tgname = 'ctm__capture')" \
    " OR (pg_has_role(" c ".relowner, 'USAGE') AND EXISTS (SELECT 1 FROM pg_trigger g" \
    "  WHERE g.tgrelid = " c ".oid AND g.tgname = 'ctm__capture' AND (g.tgtype & 1) = 1)))"

#define CAPTURE_TABLES \
    " SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "  WHERE n.nspname = current_schema() AND c.relkind IN ('r','p') AND NOT c.relispartition" \
    "  AND c.relname <> 'ledger' AND c.relname NOT LIKE 'ctm\\_\\_%' AND " CAPTURE_MISSING("c")

#define CAPTURE_INSTALL \
    " IF to_regprocedure(quote_ident(current_schema()) || '.ctm__capture_row()') IS NULL" \
    "  OR " CAPTURE_FN_OLD " OR EXISTS (" CAPTURE_TABLES ") THEN" \
    "  PERFORM pg_advisory_xact_lock(1129598257);" /* "CTM1" */ \
    "  IF to_regprocedure(quote_ident(current_schema()) || '.ctm__capture_row()') IS NULL THEN" \
    "   CREATE FUNCTION ctm__capture_row()" CAPTURE_FN_BODY \
    "  ELSIF " CAPTURE_FN_OLD " THEN" \
    "   CREATE OR REPLACE FUNCTION ctm__capture_row()" CAPTURE_FN_BODY \
    "  END IF;" \
    "  FOR t IN" CAPTURE_TABLES \
    "  LOOP" \
    "   EXECUTE format('DROP TRIGGER IF EXISTS ctm__capture ON %1$s;" \
    "    DROP TRIGGER IF EXISTS ctm__capture_u ON %1$s; DROP TRIGGER IF EXISTS ctm__capture_d ON %1$s;" \
    "    CREATE TRIGGER ctm__capture AFTER INSERT ON %1$s REFERENCING NEW TABLE AS ctm__new" \
    "     FOR EACH STATEMENT EXECUTE FUNCTION %2$I.ctm__capture_row();" \
    "    CREATE TRIGGER ctm__capture_u AFTER UPDATE ON %1$s REFERENCING OLD TABLE AS ctm__old" \
    "     NEW TABLE AS ctm__new FOR EACH STATEMENT EXECUTE FUNCTION %2$I.ctm__capture_row();" \
    "    CREATE TRIGGER ctm__capture_d AFTER DELETE ON %1$s REFERENCING OLD TABLE AS ctm__old" \
    "     FOR EACH STATEMENT EXECUTE FUNCTION %2$I.ctm__capture_row()', t, current_schema());" \
    "  END LOOP;" \
    " END IF;"

static int install_capture(pg_store *s)
{
    return command(s, "DO $ctm$ DECLARE t regclass; BEGIN" CAPTURE_INSTALL " END $ctm$",
                   "installing change capture");
}

/* A connection's first action: the change table (made once per connection; its rows are the
 * transaction's and go at COMMIT), the triggers (CAPTURE_INSTALL) and the guard brought up to
 * date (GUARD_UPGRADE); then recording is switched on (CAPTURE_ON_SQL), in the same round trip. */
#define CAPTURE_BEGIN \
    " IF to_regclass('pg_temp.ctm__changes') IS NULL THEN" \
    "  CREATE TEMP TABLE ctm__changes(seq bigserial PRIMARY KEY, op text NOT NULL," \
    "   relid oid NOT NULL, tbl text NOT NULL, old_row text, new_row text) ON COMMIT DELETE ROWS;" \
    " END IF;" \
    CAPTURE_INSTALL \
    GUARD_UPGRADE

/* What capture_start ends with: the switch, and where this action's rows will begin. */
#define CAPTURE_ON_SQL                                                                            \
    "SELECT set_config('ctm.capture', 'on', true),"                                              \
    " (SELECT coalesce(max(seq), 0) FROM pg_temp.ctm__changes)"

static int pg_capture_start(ctm__store *base, ctm__capture_fn fn, void *ctx)
{
    pg_store *s = (pg_store *)base;
    if (tx_status(s) != PQTRANS_INTRANS)
        return ctm__err(CTM_EMISUSE, "capturing row changes: no open transaction");
    /* After the first committed action, only the switch: tables made by migrations get their
     * triggers with the schema version (pg_set_schema_version).  One round trip either way. */
    PGresult *res = PQexec(ready(s), s->capture_ready ? CAPTURE_ON_SQL
                                                     : "DO $ctm$ DECLARE t regclass; BEGIN"
                                                       CAPTURE_BEGIN " END $ctm$; " CAPTURE_ON_SQL);
    int rc = CTM_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail_res(s, res, "capturing row changes");
    else
        snprintf(s->capture_from, sizeof s->capture_from, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (rc == CTM_OK && !s->capture_ready)
        s->capture_pending = 1;
    if (rc != CTM_OK)
        return rc;
    s->capture = fn;
    s->capture_ctx = ctx;
    s->capturing = 1;
    return CTM_OK;
}

/* The fields of a row's text form "(a,"b c",,...)" into scratch (NUL-terminated each), their
 * starts and lengths in f and len, NULL fields with f[i] NULL.  The field count, or -1. */
static int split_record(const char *rec, char *scratch, int max, const char **f, size_t *len)
{
    const char *p = rec;
    if (*p++ != '(')
        return -1;
    int n = 0;
    for (;;) {
        if (n == max)
            return -1;
        if (*p == ',' || *p == ')') {
            f[n] = NULL; /* nothing between the commas: NULL */
            len[n++] = 0;
        } else {
            char *start = scratch;
            int quoted = *p == '"';
            if (quoted)
                p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (quoted && *p == '"') {
                    if (p[1] != '"') {
                        p++;
                        break;
                    }
                    p++;
                } else if (*p == '\\' && p[1] != '\0') {
                    p++;
                } else if (!quoted && (*p == ',' || *p == ')')) {
                    break;
                }
                *scratch++ = *p++;
            }
            *scratch++ = '\0';
            f[n] = start;
            len[n++] = (size_t)(scratch - start - 1);
        }
        if (*p == ')')
            return p[1] == '\0' ? n : -1;
        if (*p++ != ',')
            return -1;
    }
}

/* What decoding the rows of one collect needs, kept from row to row: the column types of the
 * table of the last row (rows come table by table) and room for the fields. */
typedef struct pg_rows {
    char *types_text; /* the types as the server gave them, "20,25,..." */
    unsigned *types;
    int ncols, cap;
    ctm__value *vals;  /* [2 * cap] */
    const char **f;    /* [cap] */
    size_t *flen;      /* [cap] */
    char *scratch;
    size_t scratch_cap;
} pg_rows;

static void rows_free(pg_rows *r)
{
    free(r->types_text);
    free(r->types);
    free(r->vals);
    free(r->f);
    free(r->flen);
    free(r->scratch);
}

/* The column types of a row's table, parsed when given (NULL: the same table as the last row). */
static int rows_types(pg_rows *r, const char *types_text)
{
    if (types_text == NULL && r->types_text != NULL)
        return CTM_OK;
    if (types_text == NULL)
        return ctm__err(CTM_ERROR, "reading the row changes: no column types");
    int ncols = 1;
    for (const char *p = types_text; *p != '\0'; p++)
        ncols += *p == ',';
    free(r->types_text);
    r->types_text = ctm__strdup(types_text);
    if (r->types_text == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    if (ncols > r->cap) {
        free(r->types);
        free(r->vals);
        free(r->f);
        free(r->flen);
        r->types = calloc((size_t)ncols, sizeof *r->types);
        r->vals = calloc(2 * (size_t)ncols, sizeof *r->vals);
        r->f = calloc((size_t)ncols, sizeof *r->f);
        r->flen = calloc((size_t)ncols, sizeof *r->flen);
        r->cap = ncols;
        if (r->types == NULL || r->vals == NULL || r->f == NULL || r->flen == NULL) {
            free(r->types_text);
            r->types_text = NULL;
            r->cap = 0;
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
    }
    const char *p = types_text;
    for (int i = 0; i < ncols; i++) {
        r->types[i] = (unsigned)strtoul(p, (char **)&p, 10);
        if (*p == ',')
            p++;
    }
    r->ncols = ncols;
    return CTM_OK;
}

/* One captured row: decode the old and new row texts by the table's column types and hand them
 * to the capture function. */
static int deliver(pg_store *s, pg_rows *r, const char *op, const char *table, const char *olds_text,
                   const char *news_text, const char *types_text)
{
    int rc = rows_types(r, types_text);
    if (rc != CTM_OK)
        return rc;
    int ncols = r->ncols;
    size_t olen = olds_text != NULL ? strlen(olds_text) : 0, nlen = news_text != NULL ? strlen(news_text) : 0;
    /* each row's fields unquoted (never longer than the text), then its bytea decoded */
    size_t need = 2 * (olen + nlen) + 4;
    if (need > r->scratch_cap) {
        free(r->scratch);
        r->scratch_cap = need > 4096 ? need : 4096;
        if ((r->scratch = malloc(r->scratch_cap)) == NULL) {
            r->scratch_cap = 0;
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
    }
    char *room = r->scratch;
    for (int side = 0; side < 2 && rc == CTM_OK; side++) {
        const char *text = side == 0 ? olds_text : news_text;
        if (text == NULL)
            continue;
        size_t tlen = side == 0 ? olen : nlen;
        char *fields = room, *bytes = room + tlen + 1;
        room += 2 * tlen + 2;
        if (split_record(text, fields, ncols, r->f, r->flen) != ncols) {
            rc = ctm__err(CTM_ERROR, "reading a row change of %s: unexpected row text", table);
            break;
        }
        for (int i = 0; i < ncols && rc == CTM_OK; i++) {
            ctm__value *v = &r->vals[side * ncols + i];
            if (r->f[i] == NULL) {
                memset(v, 0, sizeof *v);
                v->tag = CTM_V_NULL;
                continue;
            }
            rc = decode(r->types[i], r->f[i], r->flen[i], bytes, v);
            if (v->tag == CTM_V_BLOB)
                bytes += v->n;
        }
    }
    if (rc == CTM_OK)
        rc = s->capture(s->capture_ctx, op[0], table, ncols, olds_text != NULL ? r->vals : NULL,
                        news_text != NULL ? r->vals + ncols : NULL);
    return rc;
}

/* The rows changed since capture_start (the change table keeps them to COMMIT; a later action of
 * the same transaction reads from its own start); each table's column types are looked up once
 * per run of its rows, not once per row. */
static int pg_capture_collect(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    if (!s->capturing)
        return CTM_OK;
    PGresult *res = NULL;
    /* in seq order, by the change table's key; a table's column types on its first row only */
    const char *params[1] = {s->capture_from};
    int qrc = query(s,
                    "SELECT d.op, d.tbl, d.old_row, d.new_row,"
                    " CASE WHEN d.relid IS DISTINCT FROM lag(d.relid) OVER (ORDER BY d.seq) THEN"
                    "  (SELECT string_agg(a.atttypid::text, ',' ORDER BY a.attnum) FROM pg_attribute a"
                    "   WHERE a.attrelid = d.relid AND a.attnum > 0 AND NOT a.attisdropped) END"
                    " FROM pg_temp.ctm__changes d WHERE d.seq > $1 ORDER BY d.seq",
                    1, params, "reading the row changes", &res);
    if (qrc != CTM_OK)
        return qrc;
    int n = PQntuples(res), rc = CTM_OK;
    pg_rows rows;
    memset(&rows, 0, sizeof rows);
    for (int i = 0; i < n && rc == CTM_OK; i++)
        rc = deliver(s, &rows, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                     PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
                     PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
                     PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4));
    rows_free(&rows);
    PQclear(res);
    return rc;
}

static void pg_capture_stop(ctm__store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->capturing && tx_status(s) == PQTRANS_INTRANS)
        command(s, "SELECT set_config('ctm.capture', 'off', true)", NULL);
    s->capturing = 0;
    s->capture = NULL;
    s->capture_ctx = NULL;
}

/* ---- large values: bytea read in pieces with substring ---- */

static int pg_blob_open(ctm__store *base, const char *table, const char *column, const char *key,
                        int64_t id, ctm__blob **out, size_t *size)
{
    pg_store *s = (pg_store *)base;
    *out = NULL;
    pg_blob *b = calloc(1, sizeof *b);
    char *t = PQescapeIdentifier(s->conn, table, strlen(table));
    char *c = PQescapeIdentifier(s->conn, column, strlen(column));
    char *k = PQescapeIdentifier(s->conn, key, strlen(key));
    int rc = CTM_OK;
    PGresult *res = NULL;
    if (b == NULL || t == NULL || c == NULL || k == NULL) {
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto out;
    }
    b->base.ops = &ctm__postgres_engine;
    b->s = s;
    snprintf(b->id, sizeof b->id, "%" PRId64, id);
    size_t room = strlen(t) + strlen(c) + strlen(k) + 96;
    char *sizesql = malloc(room);
    if (sizesql == NULL || (b->sql = malloc(room)) == NULL) {
        free(sizesql);
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(sizesql, room, "SELECT octet_length(%s) FROM %s WHERE %s = $1", c, t, k);
    snprintf(b->sql, room, "SELECT substring(%s FROM $2 FOR $3) FROM %s WHERE %s = $1", c, t, k);
    const char *params[1] = {b->id};
    rc = query(s, sizesql, 1, params, "reading a stored value", &res);
    free(sizesql);
    if (rc != CTM_OK) {
        /* the failure is set */
    } else if (PQntuples(res) != 1) {
        rc = ctm__err(CTM_ERROR, "reading a stored value: no row %s in %s", b->id, table);
    } else if (PQgetisnull(res, 0, 0)) {
        rc = ctm__err(CTM_ERROR, "reading a stored value: %s of row %s in %s is NULL", column, b->id,
                      table);
    } else {
        b->size = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    }
out:
    PQclear(res);
    PQfreemem(t);
    PQfreemem(c);
    PQfreemem(k);
    if (rc != CTM_OK) {
        if (b != NULL)
            free(b->sql);
        free(b);
        return rc;
    }
    *size = b->size;
    *out = &b->base;
    return CTM_OK;
}

static int pg_blob_read(ctm__blob *base, void *buf, size_t n, size_t offset)
{
    pg_blob *b = (pg_blob *)base;
    if (offset > b->size || n > b->size - offset)
        return ctm__err(CTM_ERROR, "reading a stored value: %zu bytes at %zu, past its end (%zu bytes)",
                        n, offset, b->size);
    if (n == 0)
        return CTM_OK;
    char from[24], count[24];
    snprintf(from, sizeof from, "%zu", offset + 1);
    snprintf(count, sizeof count, "%zu", n);
    const char *params[3] = {b->id, from, count};
    /* binary results: the bytes themselves */
    PGresult *res = PQexecParams(ready(b->s), b->sql, 3, NULL, params, NULL, NULL, 1);
    int rc = CTM_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail_res(b->s, res, "reading a stored value");
    else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || (size_t)PQgetlength(res, 0, 0) != n)
        rc = ctm__err(CTM_ERROR, "reading a stored value: the row changed while it was read");
    else
        memcpy(buf, PQgetvalue(res, 0, 0), n);
    PQclear(res);
    return rc;
}

static void pg_blob_close(ctm__blob *base)
{
    pg_blob *b = (pg_blob *)base;
    free(b->sql);
    free(b);
}

const ctm__engine_ops ctm__postgres_engine = {
    .engine = CTM__ENGINE_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .busy_timeout = pg_busy_timeout,
    .name = pg_name,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_savepoint = pg_rollback_savepoint,
    .in_transaction = pg_in_transaction,
#ifdef LIBPQ_HAS_PIPELINING
    .begin_read = pg_begin_read,
    .commit_after = pg_commit_after,
#endif
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_int = pg_bind_int,
    .bind_real = pg_bind_real,
    .bind_text = pg_bind_text,
    .bind_textn = pg_bind_textn,
    .bind_text_copy = pg_bind_text_copy,
    .bind_blob = pg_bind_blob,
    .bind_blob_copy = pg_bind_blob_copy,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .changes = pg_changes,
    .stream = pg_stream,
    .nparams = pg_nparams,
    .ncols = pg_ncols,
    .colname = pg_colname,
    .type = pg_type,
    .int64 = pg_int,
    .real = pg_real,
    .text = pg_text,
    .blob = pg_col_blob,
    .bytes = pg_bytes,
    .value = pg_value,
    .schema_version = pg_schema_version,
    .set_schema_version = pg_set_schema_version,
    .columns = pg_columns,
    .tables = pg_tables,
    .foreign_keys = pg_foreign_keys,
    .ids_follow = pg_ids_follow,
    .capture_start = pg_capture_start,
    .capture_collect = pg_capture_collect,
    .capture_stop = pg_capture_stop,
    .blob_open = pg_blob_open,
    .blob_read = pg_blob_read,
    .blob_close = pg_blob_close,
};
