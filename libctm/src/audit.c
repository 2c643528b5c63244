/* audit.c - reading the ledger: notes, batches, the log, checkpoints, keys and proofs. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "note.h"

int ctm_audit_note(ctm_db *db, const char *text, const char *meaning)
{
    ctm__clear_error();
    int rc = ctm__require_user(db, 0, "audit note");
    if (rc == CTM_OK)
        rc = ctm__check_text("note", text, CTM_MAX_NOTE);
    if (rc == CTM_OK && meaning != NULL)
        rc = ctm__check_text("meaning", meaning, 100);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin_entry_only(&a, db, "audit.note", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "text", text);
    a.esig_meaning = meaning;
    return ctm__action_commit(&a);
}

int ctm_batch_begin(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "batch: no database handle");
    if (db->batch || db->tx_open)
        return ctm__err(CTM_EMISUSE, "batch: a batch is already open on this handle");
    if (db->readonly)
        return ctm__err(CTM_EMISUSE, "batch: the database is open read-only");
    int rc = ctm__exec(db->sql, "BEGIN IMMEDIATE", "batch");
    if (rc != CTM_OK)
        return rc;
    db->batch = 1;
    db->tx_open = 1;
    db->batch_entries = 0;
    db->frontier_loaded = 0;
    return CTM_OK;
}

static void batch_end(ctm_db *db)
{
    ctm__hasher_abort(db);
    db->batch_broken = 0;
    db->batch = 0;
    db->tx_open = 0;
    db->batch_entries = 0;
    db->frontier_loaded = 0;
    db->user_checked = 0;
}

int ctm_batch_commit(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL || !db->batch)
        return ctm__err(CTM_EMISUSE, "batch commit: no batch is open");
    int rc = CTM_OK;
    if (db->batch_broken)
        rc = ctm__err(CTM_ERROR, "batch commit: an entry of the batch could not be hashed; "
                                 "the batch was rolled back");
    if (rc == CTM_OK && db->hasher != NULL) {
        ctm__hasher_finish(db);
        if (db->frontier.size != db->next_seq)
            rc = ctm__err(CTM_ERROR, "batch commit: %llu entries hashed of %llu",
                          (unsigned long long)db->frontier.size, (unsigned long long)db->next_seq);
    }
    if (rc == CTM_OK && db->batch_entries > 0)
        rc = ctm__checkpoint_write(db);
    if (rc == CTM_OK)
        rc = ctm__exec(db->sql, "COMMIT", "batch commit");
    if (rc != CTM_OK)
        sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    batch_end(db);
    return rc;
}

int ctm_batch_rollback(ctm_db *db)
{
    ctm__clear_error();
    if (db == NULL || !db->batch)
        return ctm__err(CTM_EMISUSE, "batch rollback: no batch is open");
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    batch_end(db);
    return CTM_OK;
}

int ctm_audit_size(ctm_db *db, uint64_t *size)
{
    ctm__clear_error();
    if (db == NULL || size == NULL)
        return ctm__err(CTM_EINVAL, "audit size: NULL argument");
    /* Inside a batch the tree state is written at commit; the handle knows it meanwhile. */
    if (db->batch && db->frontier_loaded) {
        *size = db->next_seq;
        return CTM_OK;
    }
    ctm__frontier f;
    int rc = ctm__ledger_state(db, &f);
    if (rc == CTM_OK)
        *size = f.size;
    return rc;
}

/* Which values a blinded user may not see: any column that names a treatment arm. */
static int blinded_column(const char *table, const char *column, void *ctx)
{
    (void)table;
    (void)ctx;
    size_t n = strlen(column);
    return strcmp(column, "arm") == 0 || (n > 4 && strcmp(column + n - 4, "_arm") == 0);
}

static const char *const log_columns[] = {
    "seq",       "time",      "user",         "action",    "reason",   "params",
    "changes",   "esig_user", "esig_name",    "esig_meaning", "esig_time", "leaf_hash",
};
#define LOG_NCOLS ((int)(sizeof log_columns / sizeof log_columns[0]))

typedef struct log_ctx {
    int unblinded;
} log_ctx;

static int log_row(sqlite3_stmt *st, ctm__row *row, void *vctx)
{
    log_ctx *ctx = vctx;
    int64_t seq = sqlite3_column_int64(st, 0);
    ctm__entry e;
    char why[128];
    const uint8_t *p = sqlite3_column_blob(st, 1);
    int n = sqlite3_column_bytes(st, 1);
    if (ctm__entry_decode(&e, p, (size_t)n, why, sizeof why) != 0)
        return ctm__err(CTM_EINTEGRITY, "ledger seq %lld: entry cannot be decoded: %s",
                        (long long)seq, why);
    char time[40], leaf[65];
    ctm__format_time(e.time_us, time, sizeof time);
    char *params = ctm__entry_params_json(&e);
    char *changes = ctm__entry_changes_json(&e, ctx->unblinded ? NULL : blinded_column, NULL);
    int rc = params != NULL && changes != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
    ctm__row_set_int(row, 0, seq);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 1, time);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 2, e.user);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 3, e.action);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 4, e.reason);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 5, params);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, 6, changes);
    if (rc == CTM_OK && e.has_esig) {
        rc = ctm__row_set_text(row, 7, e.esig.user);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 8, e.esig.printed_name);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 9, e.esig.meaning);
        if (rc == CTM_OK)
            rc = ctm__row_set_text(row, 10, time);
    }
    if (rc == CTM_OK) {
        ctm_hash h;
        ctm__leaf_hash(p, (size_t)n, h);
        ctm__hex(h, CTM_HASH_SIZE, leaf);
        rc = ctm__row_set_text(row, 11, leaf);
    }
    free(params);
    free(changes);
    ctm__entry_free(&e);
    return rc;
}

int ctm_audit_log(ctm_query **out, ctm_db *db, uint64_t from_seq, uint64_t limit)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, "audit log");
    if (rc != CTM_OK)
        return rc;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db->sql,
                                 "SELECT seq, entry FROM ledger WHERE seq >= ?1"
                                 " ORDER BY seq LIMIT ?2",
                                 -1, &st, NULL);
    if (src != SQLITE_OK)
        return ctm__sqlerr(db->sql, src, "audit log");
    sqlite3_bind_int64(st, 1, from_seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)from_seq);
    sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
    log_ctx *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) {
        sqlite3_finalize(st);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    ctx->unblinded = db->user_unblinded;
    return ctm__query_new(out, st, log_columns, LOG_NCOLS, log_row, ctx, free);
}

/* ---- ctm_audit_query: the log filtered, with readable change summaries ---- */

/* Up to this many row changes an entry's summary shows each; beyond, counts per table. */
#define SUMMARY_SHORT_ROWS 5

/* Rows that make an entry concern a trial or a kit: per table, the ids (rowids), sorted. */
typedef struct id_set {
    char *table;
    int64_t *ids;
    size_t n;
} id_set;

/* Bytes that a version 1 entry about a concern must contain (its text, its rows' ids as
 * encoded INT values): an entry holding none of them is passed over without decoding it. */
typedef struct needle {
    uint8_t bytes[10];
    size_t len;
} needle;

typedef struct concern {
    char *value;                /* the trial code or kit number; NULL: no such filter */
    const char *params[2];      /* parameter keys that name it */
    const char *text_column;    /* a column whose text value names it, or NULL */
    id_set *sets;
    size_t nsets;
    needle *needles;            /* NULL: every entry is decoded */
    size_t nneedles;
} concern;

/* A foreign key: table.column refers to rows of target. */
typedef struct fk_ref {
    char *table, *column, *target;
} fk_ref;

typedef struct query_ctx {
    log_ctx log;                /* what log_row needs */
    char *by;
    char *action;
    int action_family;          /* action is "NAME." and matches as a prefix */
    int has_since, has_until;
    int64_t since_us, until_us;
    uint64_t limit, emitted;
    concern trial, kit;
    fk_ref *fks;
    size_t nfks;
    const char **colnames;      /* log_columns and changes_summary */
} query_ctx;

static void concern_free(concern *c)
{
    free(c->needles);
    for (size_t i = 0; i < c->nsets; i++) {
        free(c->sets[i].table);
        free(c->sets[i].ids);
    }
    free(c->sets);
    free(c->value);
}

static void query_ctx_free(void *v)
{
    query_ctx *q = v;
    if (q == NULL)
        return;
    free(q->by);
    free(q->action);
    concern_free(&q->trial);
    concern_free(&q->kit);
    for (size_t i = 0; i < q->nfks; i++) {
        free(q->fks[i].table);
        free(q->fks[i].column);
        free(q->fks[i].target);
    }
    free(q->fks);
    free((void *)q->colnames);
    free(q);
}

/* ---- instants: ISO 8601 UTC at the precision written ---- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * "YYYY-MM-DD[THH:MM[:SS[.f{1,6}]]][Z|+HH:MM|-HH:MM]" ('T' or a space) as UTC microseconds: the
 * first instant it names, or with upper the last (a date names its whole day, "T12:00" the whole
 * minute), so that a bound written at any precision includes what it names.
 */
static int parse_instant(const char *field, const char *s, int upper, int64_t *us)
{
    char date[11];
    int64_t days;
    int hh = 0, mm = 0, ss = 0, frac = 0, fdigits = 0, off = 0;
    int64_t span;
    size_t len = strlen(s);
    if (len < 10)
        return ctm__err(CTM_EINVAL, "%s: '%.40s' is not an ISO 8601 date or time (YYYY-MM-DD or "
                                    "YYYY-MM-DDTHH:MM:SSZ)", field, s);
    memcpy(date, s, 10);
    date[10] = '\0';
    int rc = ctm__parse_date(field, date, &days);
    if (rc != CTM_OK)
        return rc;
    const char *p = s + 10;
    span = 86400LL * 1000000;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &hh) != 0 || p[3] != ':' || digits(p + 4, 2, &mm) != 0)
            goto bad;
        p += 6;
        span = 60LL * 1000000;
        if (*p == ':') {
            if (digits(p + 1, 2, &ss) != 0)
                goto bad;
            p += 3;
            span = 1000000;
            if (*p == '.') {
                p++;
                while (p[fdigits] >= '0' && p[fdigits] <= '9' && fdigits < 7)
                    fdigits++;
                if (fdigits < 1 || fdigits > 6 || digits(p, fdigits, &frac) != 0)
                    goto bad;
                p += fdigits;
                for (int i = fdigits; i < 6; i++)
                    frac *= 10;
                span = 1;
                for (int i = fdigits; i < 6; i++)
                    span *= 10;
            }
        }
        if (hh > 23 || mm > 59 || ss > 59)
            return ctm__err(CTM_EINVAL, "%s: '%.40s' is not a time of day", field, s);
    }
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && len - (size_t)(p - s) == 6) {
        int oh, om;
        if (digits(p + 1, 2, &oh) != 0 || p[3] != ':' || digits(p + 4, 2, &om) != 0 || oh > 23 ||
            om > 59)
            goto bad;
        off = (*p == '+' ? 1 : -1) * (oh * 60 + om);
        p += 6;
    }
    if (*p != '\0')
        goto bad;
    *us = ((days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)off * 60) * 1000000) + frac +
          (upper ? span - 1 : 0);
    return CTM_OK;
bad:
    return ctm__err(CTM_EINVAL, "%s: '%.40s' is not an ISO 8601 date or time (YYYY-MM-DD or "
                                "YYYY-MM-DDTHH:MM:SSZ)", field, s);
}

/* ---- the cheap tests: seq, time, user and action, from the entry's first fields ---- */

typedef struct entry_head {
    int64_t time_us;
    const uint8_t *user, *action;
    size_t user_len, action_len;
} entry_head;

static uint64_t load_be(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

static int read_str(const uint8_t *p, size_t n, size_t *at, const uint8_t **s, size_t *len)
{
    if (n - *at < 4)
        return -1;
    uint64_t l = load_be(p + *at, 4);
    *at += 4;
    if (l > n - *at)
        return -1;
    *s = p + *at;
    *len = (size_t)l;
    *at += (size_t)l;
    return 0;
}

/* Entry version 1 begins version u8, seq u64, time i64, user str, action str (audit-format.md
 * section 2): read them without decoding the rest.  Other versions answer -1 and are decoded. */
static int read_head(const uint8_t *p, size_t n, entry_head *h)
{
    size_t at = 17;
    if (p == NULL || n < at || p[0] != 1)
        return -1;
    uint64_t t = load_be(p + 9, 8);
    h->time_us = t <= INT64_MAX ? (int64_t)t : -(int64_t)(~t) - 1;
    if (read_str(p, n, &at, &h->user, &h->user_len) != 0 ||
        read_str(p, n, &at, &h->action, &h->action_len) != 0)
        return -1;
    return 0;
}

static void head_of(const ctm__entry *e, entry_head *h)
{
    h->time_us = e->time_us;
    h->user = (const uint8_t *)e->user;
    h->user_len = strlen(e->user);
    h->action = (const uint8_t *)e->action;
    h->action_len = strlen(e->action);
}

static int head_passes(const query_ctx *q, const entry_head *h)
{
    if (q->has_since && h->time_us < q->since_us)
        return 0;
    if (q->has_until && h->time_us > q->until_us)
        return 0;
    if (q->by != NULL && (h->user_len != strlen(q->by) || memcmp(h->user, q->by, h->user_len) != 0))
        return 0;
    if (q->action != NULL) {
        size_t n = strlen(q->action);
        if (q->action_family ? h->action_len <= n : h->action_len != n)
            return 0;
        if (memcmp(h->action, q->action, n) != 0)
            return 0;
    }
    return 1;
}

/* ---- trial and kit: which rows concern them ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static const id_set *set_of(const concern *c, const char *table)
{
    for (size_t i = 0; i < c->nsets; i++)
        if (strcmp(c->sets[i].table, table) == 0)
            return &c->sets[i];
    return NULL;
}

static int set_has(const concern *c, const char *table, int64_t id)
{
    const id_set *s = table != NULL ? set_of(c, table) : NULL;
    return s != NULL && s->n > 0 && bsearch(&id, s->ids, s->n, sizeof id, cmp_i64) != NULL;
}

static const char *fk_target(const query_ctx *q, const char *table, const char *column)
{
    for (size_t i = 0; i < q->nfks; i++)
        if (strcmp(q->fks[i].column, column) == 0 && strcmp(q->fks[i].table, table) == 0)
            return q->fks[i].target;
    return NULL;
}

/* Add the rowids a statement selects (one integer column) to c as the rows of table. */
static int add_set(ctm_db *db, concern *c, const char *table, sqlite3_stmt *st)
{
    id_set *grown = realloc(c->sets, (c->nsets + 1) * sizeof *grown);
    if (grown == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    c->sets = grown;
    id_set *s = &c->sets[c->nsets++];
    memset(s, 0, sizeof *s);
    size_t cap = 0;
    int rc;
    if ((s->table = ctm__strdup(table)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ids = realloc(s->ids, cap * sizeof *ids);
            if (ids == NULL)
                return ctm__err(CTM_ENOMEM, "out of memory");
            s->ids = ids;
        }
        s->ids[s->n++] = sqlite3_column_int64(st, 0);
    }
    if (rc != SQLITE_DONE)
        return ctm__sqlerr(db->sql, rc, "audit query");
    if (s->n > 1)
        qsort(s->ids, s->n, sizeof *s->ids, cmp_i64);
    return CTM_OK;
}

/* The rows of table selected by sql (a mprintf format taking the table's name), bound to id. */
static int add_set_where(ctm_db *db, concern *c, const char *table, const char *sql, int64_t id,
                         const char *text)
{
    char *q = sqlite3_mprintf(sql, table);
    sqlite3_stmt *st = NULL;
    if (q == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    int rc = ctm__prepare(db, &st, q);
    sqlite3_free(q);
    if (rc != CTM_OK)
        return rc;
    if (text != NULL)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    rc = add_set(db, c, table, st);
    sqlite3_finalize(st);
    return rc;
}

static int load_fks(ctm_db *db, query_ctx *q)
{
    sqlite3_stmt *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT m.name, f.\"from\", f.\"table\" FROM sqlite_schema AS m,"
                          " pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table'");
    size_t cap = 0;
    while (rc == CTM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = CTM_OK;
        if (q->nfks == cap) {
            cap = cap ? cap * 2 : 16;
            fk_ref *grown = realloc(q->fks, cap * sizeof *grown);
            if (grown == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            q->fks = grown;
        }
        fk_ref *f = &q->fks[q->nfks++];
        f->table = ctm__strdup((const char *)sqlite3_column_text(st, 0));
        f->column = ctm__strdup((const char *)sqlite3_column_text(st, 1));
        f->target = ctm__strdup((const char *)sqlite3_column_text(st, 2));
        if (f->table == NULL || f->column == NULL || f->target == NULL)
            rc = ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (rc == SQLITE_DONE)
        rc = CTM_OK;
    else if (rc > 0)
        rc = ctm__sqlerr(db->sql, rc, "audit query");
    sqlite3_finalize(st);
    return rc;
}

/* The trial's own row and every row of a table with a trial_id column that names it. */
static int load_trial(ctm_db *db, concern *c)
{
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int rc = ctm__prepare(db, &st, "SELECT id FROM trials WHERE code = ?1");
    if (rc != CTM_OK)
        return rc;
    sqlite3_bind_text(st, 1, c->value, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    else
        rc = src == SQLITE_DONE ? ctm__err(CTM_ENOTFOUND, "trial: no trial '%s'", c->value)
                                : ctm__sqlerr(db->sql, src, "audit query");
    sqlite3_finalize(st);
    st = NULL;
    if (rc == CTM_OK)
        rc = add_set_where(db, c, "trials", "SELECT rowid FROM \"%w\" WHERE rowid = ?1", id, NULL);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT m.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS t"
                          " WHERE m.type = 'table' AND t.name = 'trial_id' ORDER BY m.name");
    while (rc == CTM_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(st, 0);
        if (!ctm__table_is_internal(table))
            rc = add_set_where(db, c, table, "SELECT rowid FROM \"%w\" WHERE trial_id = ?1", id,
                               NULL);
    }
    if (rc == CTM_OK && src != SQLITE_DONE)
        rc = ctm__sqlerr(db->sql, src, "audit query");
    sqlite3_finalize(st);
    return rc;
}

/* v as an INT value is encoded: tag 2, length n, its shortest n-byte two's complement form. */
static void int_needle(needle *nd, int64_t v)
{
    size_t n = 1;
    while (n < 8 && (v < -((int64_t)1 << (8 * n - 1)) || v >= ((int64_t)1 << (8 * n - 1))))
        n++;
    nd->bytes[0] = CTM_V_INT;
    nd->bytes[1] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        nd->bytes[2 + i] = (uint8_t)((uint64_t)v >> (8 * (n - 1 - i)));
    nd->len = n + 2;
}

/* A kit is named in an entry by its number (a parameter or a kit_number value) or by its row's
 * id (its key, or a foreign key referring to it). */
static int kit_needles(concern *c)
{
    const id_set *kits = &c->sets[0];
    size_t len = strlen(c->value);
    if (len > sizeof c->needles->bytes)
        return CTM_OK; /* too long to keep: every entry is decoded */
    c->needles = calloc(kits->n + 1, sizeof *c->needles);
    if (c->needles == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    memcpy(c->needles[0].bytes, c->value, len);
    c->needles[0].len = len;
    for (size_t i = 0; i < kits->n; i++)
        int_needle(&c->needles[i + 1], kits->ids[i]);
    c->nneedles = kits->n + 1;
    return CTM_OK;
}

static int load_kit(ctm_db *db, concern *c)
{
    int rc = add_set_where(db, c, "kits", "SELECT rowid FROM \"%w\" WHERE kit_number = ?1", 0,
                           c->value);
    if (rc == CTM_OK && c->sets[0].n == 0)
        rc = ctm__err(CTM_ENOTFOUND, "kit: no kit '%s' in any trial", c->value);
    return rc == CTM_OK ? kit_needles(c) : rc;
}

/* 0 when a version 1 entry cannot concern c (holds none of its needles); 1 when it may. */
static int may_concern(const concern *c, const uint8_t *p, size_t n)
{
    if (c->value == NULL || c->needles == NULL || p == NULL || n == 0 || p[0] != 1)
        return 1;
    for (size_t i = 0; i < c->nneedles; i++)
        if (memmem(p, n, c->needles[i].bytes, c->needles[i].len) != NULL)
            return 1;
    return 0;
}

static int value_names(const concern *c, const char *column, const ctm__value *v)
{
    return c->text_column != NULL && v->tag == CTM_V_TEXT && strcmp(column, c->text_column) == 0 &&
           v->n == strlen(c->value) && memcmp(v->p, c->value, v->n) == 0;
}

/*
 * Whether a row change is about c: its key is one of c's rows, a foreign key of it refers to one,
 * or it holds c's text.  Columns that carry secrets (blinded columns, digests) are never looked
 * at, whoever reads, so no match can depend on an arm.
 */
static int change_concerns(const query_ctx *q, const concern *c, const ctm__row_change *ch)
{
    for (uint32_t i = 0; ch->cols != NULL && i < ch->ncols; i++) {
        const ctm__column_change *cc = &ch->cols[i];
        if (blinded_column(ch->table, cc->name, NULL))
            continue;
        const char *target = fk_target(q, ch->table, cc->name);
        const ctm__value *vals[2] = {&cc->old_value, &cc->new_value};
        for (int k = 0; k < 2; k++) {
            const ctm__value *v = vals[k];
            if (v->tag == CTM_V_INT &&
                ((cc->is_pk && set_has(c, ch->table, v->i)) || set_has(c, target, v->i)))
                return 1;
            if (value_names(c, cc->name, v))
                return 1;
        }
    }
    return 0;
}

static int entry_concerns(const query_ctx *q, const concern *c, const ctm__entry *e)
{
    if (c->value == NULL)
        return 1;
    for (uint32_t i = 0; e->params != NULL && i < e->nparams; i++)
        for (int k = 0; k < 2 && c->params[k] != NULL; k++)
            if (strcmp(e->params[i].key, c->params[k]) == 0 &&
                strcmp(e->params[i].value, c->value) == 0)
                return 1;
    for (uint32_t i = 0; e->changes != NULL && i < e->nchanges; i++)
        if (change_concerns(q, c, &e->changes[i]))
            return 1;
    return 0;
}

/* ---- matching ---- */

static int decode_at(ctm__entry *e, int64_t seq, const uint8_t *p, size_t n)
{
    char why[128];
    if (ctm__entry_decode(e, p, n, why, sizeof why) != 0)
        return ctm__err(CTM_EINTEGRITY, "ledger seq %lld: entry cannot be decoded: %s",
                        (long long)seq, why);
    return CTM_OK;
}

/* 1 when the current row passes every filter (*e then decoded, when e is not NULL), 0 when
 * not, or a negative status. */
static int row_matches(const query_ctx *q, sqlite3_stmt *st, ctm__entry *e)
{
    int64_t seq = sqlite3_column_int64(st, 0);
    const uint8_t *p = sqlite3_column_blob(st, 1);
    size_t n = (size_t)sqlite3_column_bytes(st, 1);
    ctm__entry local;
    ctm__entry *d = e != NULL ? e : &local;
    entry_head h;
    int decoded = 0, rc;
    if (read_head(p, n, &h) != 0) {
        if ((rc = decode_at(d, seq, p, n)) != CTM_OK)
            return rc;
        decoded = 1;
        head_of(d, &h);
    }
    int pass = head_passes(q, &h) && (decoded || may_concern(&q->kit, p, n));
    if (pass && !decoded && (e != NULL || q->trial.value != NULL || q->kit.value != NULL)) {
        if ((rc = decode_at(d, seq, p, n)) != CTM_OK)
            return rc;
        decoded = 1;
    }
    if (pass)
        pass = entry_concerns(q, &q->trial, d) && entry_concerns(q, &q->kit, d);
    if (decoded && (!pass || e == NULL))
        ctm__entry_free(d);
    return pass;
}

/* ---- summaries ---- */

static void put_text(ctm__buf *b, const char *s)
{
    ctm__buf_put(b, s, strlen(s));
}

static void put_value(ctm__buf *b, const ctm__value *v)
{
    char tmp[72];
    switch (v->tag) {
    case CTM_V_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
        put_text(b, tmp);
        break;
    case CTM_V_REAL:
        snprintf(tmp, sizeof tmp, "%.17g", v->r);
        put_text(b, tmp);
        break;
    case CTM_V_TEXT:
        ctm__buf_put(b, v->p, v->n);
        break;
    case CTM_V_BLOB:
    case CTM_V_DIGEST: {
        size_t len = v->tag == CTM_V_DIGEST ? 32 : v->n;
        put_text(b, v->tag == CTM_V_DIGEST ? "sha256:" : "hex:");
        for (size_t i = 0; v->p != NULL && i < len; i += 32) {
            size_t k = len - i < 32 ? len - i : 32;
            ctm__hex(v->p + i, k, tmp);
            put_text(b, tmp);
        }
        break;
    }
    case CTM_V_NULL:
        put_text(b, "null");
        break;
    default:
        put_text(b, "-");
        break;
    }
}

/* "kits id=7 updated: status received -> available" */
static void put_change_line(ctm__buf *b, const ctm__row_change *c, int unblinded)
{
    put_text(b, c->table);
    for (uint32_t i = 0; i < c->ncols; i++) {
        const ctm__column_change *cc = &c->cols[i];
        if (!cc->is_pk)
            continue;
        ctm__buf_u8(b, ' ');
        put_text(b, cc->name);
        ctm__buf_u8(b, '=');
        if (!unblinded && blinded_column(c->table, cc->name, NULL))
            put_text(b, "(blinded)");
        else
            put_value(b, c->op == 'I' ? &cc->new_value : &cc->old_value);
    }
    put_text(b, c->op == 'I' ? " inserted" : c->op == 'U' ? " updated" : " deleted");
    const char *sep = ": ";
    for (uint32_t i = 0; i < c->ncols; i++) {
        const ctm__column_change *cc = &c->cols[i];
        if (cc->is_pk)
            continue;
        int hidden = !unblinded && blinded_column(c->table, cc->name, NULL);
        const ctm__value *shown = c->op == 'D' ? &cc->old_value : &cc->new_value;
        if (c->op != 'U' && !hidden && shown->tag == CTM_V_NULL)
            continue; /* an inserted or deleted row's empty columns are noise here */
        put_text(b, sep);
        sep = ", ";
        put_text(b, cc->name);
        if (c->op == 'U') {
            ctm__buf_u8(b, ' ');
            if (hidden)
                put_text(b, "(blinded)");
            else
                put_value(b, &cc->old_value);
            put_text(b, " -> ");
        } else {
            ctm__buf_u8(b, '=');
        }
        if (hidden)
            put_text(b, "(blinded)");
        else
            put_value(b, shown);
    }
}

/* 10000 as "10,000". */
static void put_count(ctm__buf *b, uint64_t n)
{
    char digits_[24], out[32];
    int len = snprintf(digits_, sizeof digits_, "%llu", (unsigned long long)n), j = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[j++] = ',';
        out[j++] = digits_[i];
    }
    ctm__buf_put(b, out, (size_t)j);
}

typedef struct table_count {
    const char *table;
    uint64_t ops[3]; /* inserted, updated, deleted */
} table_count;

/* "kits: 10,000 inserted; shipments: 1 inserted", tables in order of first appearance. */
static void put_counts(ctm__buf *b, const ctm__entry *e)
{
    static const char *const verbs[3] = {" inserted", " updated", " deleted"};
    table_count *t = calloc(e->nchanges, sizeof *t);
    size_t nt = 0;
    if (t == NULL) {
        b->oom = 1;
        return;
    }
    for (uint32_t i = 0; i < e->nchanges; i++) {
        const ctm__row_change *c = &e->changes[i];
        size_t k = 0;
        while (k < nt && strcmp(t[k].table, c->table) != 0)
            k++;
        if (k == nt)
            t[nt++].table = c->table;
        t[k].ops[c->op == 'I' ? 0 : c->op == 'U' ? 1 : 2]++;
    }
    for (size_t k = 0; k < nt; k++) {
        if (k > 0)
            put_text(b, "; ");
        put_text(b, t[k].table);
        const char *sep = ": ";
        for (int op = 0; op < 3; op++) {
            if (t[k].ops[op] == 0)
                continue;
            put_text(b, sep);
            sep = ", ";
            put_count(b, t[k].ops[op]);
            put_text(b, verbs[op]);
        }
    }
    free(t);
}

static char *changes_summary(const ctm__entry *e, int unblinded)
{
    ctm__buf b;
    ctm__buf_init(&b);
    if (e->nchanges > SUMMARY_SHORT_ROWS) {
        put_counts(&b, e);
    } else {
        for (uint32_t i = 0; i < e->nchanges; i++) {
            if (i > 0)
                ctm__buf_u8(&b, '\n');
            put_change_line(&b, &e->changes[i], unblinded);
        }
    }
    ctm__buf_u8(&b, 0);
    if (b.oom) {
        ctm__buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

static int query_row(sqlite3_stmt *st, ctm__row *row, void *vctx)
{
    query_ctx *q = vctx;
    ctm__entry e;
    if (q->limit != 0 && q->emitted >= q->limit)
        return CTM_DONE;
    int rc = row_matches(q, st, &e);
    if (rc <= 0)
        return rc < 0 ? rc : CTM__SKIP;
    char *summary = changes_summary(&e, q->log.unblinded);
    ctm__entry_free(&e);
    if (summary == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    rc = log_row(st, row, &q->log);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, LOG_NCOLS, summary);
    free(summary);
    if (rc == CTM_OK)
        q->emitted++;
    return rc;
}

/* ---- building the query ---- */

static int take_text(char **dst, const char *src)
{
    if (src == NULL)
        return CTM_OK;
    *dst = ctm__strdup(src);
    return *dst != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

static int set_action(query_ctx *q, const char *action)
{
    size_t n = strlen(action);
    int family = n > 2 && strcmp(action + n - 2, ".*") == 0;
    int rc = take_text(&q->action, action);
    if (rc != CTM_OK)
        return rc;
    if (family)
        q->action[n - 1] = '\0'; /* keep the dot: "shipment." */
    q->action_family = family;
    char name[CTM_MAX_NAME + 1];
    snprintf(name, sizeof name, "%.*s", (int)(family ? n - 2 : n), action);
    if (strlen(action) > CTM_MAX_NAME || ctm__check_name("action", name) != CTM_OK)
        return ctm__err(CTM_EINVAL, "action: '%.40s' is not an action name (such as kit.status) "
                                    "or family (such as shipment.*)", action);
    return CTM_OK;
}

static int setup_filter(ctm_db *db, query_ctx *q, const ctm_audit_filter *f)
{
    int rc = CTM_OK;
    if (f->by != NULL && (rc = ctm__check_name("by", f->by)) == CTM_OK)
        rc = take_text(&q->by, f->by);
    if (rc == CTM_OK && f->action != NULL)
        rc = set_action(q, f->action);
    if (rc == CTM_OK && f->since != NULL && (rc = parse_instant("since", f->since, 0, &q->since_us)) == CTM_OK)
        q->has_since = 1;
    if (rc == CTM_OK && f->until != NULL && (rc = parse_instant("until", f->until, 1, &q->until_us)) == CTM_OK)
        q->has_until = 1;
    if (rc == CTM_OK && f->trial != NULL && (rc = ctm__check_code("trial", f->trial, CTM_MAX_NAME)) == CTM_OK)
        rc = take_text(&q->trial.value, f->trial);
    if (rc == CTM_OK && f->kit != NULL && (rc = ctm__check_code("kit", f->kit, CTM_MAX_NAME)) == CTM_OK)
        rc = take_text(&q->kit.value, f->kit);
    if (rc == CTM_OK && (q->trial.value != NULL || q->kit.value != NULL))
        rc = load_fks(db, q);
    if (rc == CTM_OK && q->trial.value != NULL) {
        q->trial.params[0] = "trial";
        rc = load_trial(db, &q->trial);
    }
    if (rc == CTM_OK && q->kit.value != NULL) {
        q->kit.params[0] = "kit";
        q->kit.params[1] = "scanned";
        q->kit.text_column = "kit_number";
        rc = load_kit(db, &q->kit);
    }
    return rc;
}

/* The window [*lo, *hi] of seqs that holds the newest `last` matching entries from `from` on. */
static int last_window(ctm_db *db, const query_ctx *q, uint64_t from, uint64_t last, int64_t *lo,
                       int64_t *hi)
{
    sqlite3_stmt *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT seq, entry FROM ledger WHERE seq >= ?1 ORDER BY seq DESC");
    if (rc != CTM_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
    uint64_t found = 0;
    int src = SQLITE_DONE, first = 1;
    *lo = (int64_t)from;
    *hi = -1;
    while (found < last && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (first)
            *hi = seq;
        first = 0;
        int m = row_matches(q, st, NULL);
        if (m < 0) {
            rc = m;
            break;
        }
        if (m > 0 && ++found == last)
            *lo = seq;
    }
    if (rc == CTM_OK && found < last && src != SQLITE_DONE)
        rc = ctm__sqlerr(db->sql, src, "audit query");
    sqlite3_finalize(st);
    return rc;
}

int ctm_audit_query(ctm_query **out, ctm_db *db, const ctm_audit_filter *filter)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    if (filter != NULL) {
        if (filter->struct_size < sizeof(size_t) + 3 * sizeof(uint64_t))
            return ctm__err(CTM_EINVAL, "filter: struct_size %zu is too small",
                            filter->struct_size);
        memcpy(&f, filter, filter->struct_size < sizeof f ? filter->struct_size : sizeof f);
    }
    int rc = ctm__require_user(db, 0, "audit log");
    if (rc != CTM_OK)
        return rc;
    if (f.last != 0 && f.limit != 0)
        return ctm__err(CTM_EINVAL, "last: not together with limit");
    if (f.from_seq > INT64_MAX)
        f.from_seq = INT64_MAX;
    query_ctx *q = calloc(1, sizeof *q);
    if (q == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    q->log.unblinded = db->user_unblinded;
    q->limit = f.limit;
    rc = setup_filter(db, q, &f);
    int64_t lo = (int64_t)f.from_seq, hi = INT64_MAX;
    if (rc == CTM_OK && f.last != 0)
        rc = last_window(db, q, f.from_seq, f.last, &lo, &hi);
    if (rc == CTM_OK && (q->colnames = malloc((LOG_NCOLS + 1) * sizeof *q->colnames)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    sqlite3_stmt *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "SELECT seq, entry FROM ledger WHERE seq >= ?1 AND seq <= ?2"
                                   " ORDER BY seq");
    if (rc != CTM_OK) {
        query_ctx_free(q);
        return rc;
    }
    for (int i = 0; i < LOG_NCOLS; i++)
        q->colnames[i] = log_columns[i];
    q->colnames[LOG_NCOLS] = "changes_summary";
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    return ctm__query_new(out, st, q->colnames, LOG_NCOLS + 1, query_row, q,
                          query_ctx_free);
}

/* The newest checkpoint note as stored (not yet verified). */
static int latest_checkpoint(ctm_db *db, char **note, uint64_t *size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->sql,
                                "SELECT checkpoint, seq + 1 FROM ledger WHERE checkpoint IS NOT NULL"
                                " ORDER BY seq DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ctm__sqlerr(db->sql, rc, "reading checkpoints");
    rc = sqlite3_step(st);
    int out = CTM_OK;
    if (rc == SQLITE_ROW) {
        *note = ctm__strdup((const char *)sqlite3_column_text(st, 0));
        *size = (uint64_t)sqlite3_column_int64(st, 1);
        if (*note == NULL)
            out = ctm__err(CTM_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        out = ctm__err(CTM_ENOTFOUND, "no checkpoint yet: the site is not initialised");
    } else {
        out = ctm__sqlerr(db->sql, rc, "reading checkpoints");
    }
    sqlite3_finalize(st);
    return out;
}

int ctm_audit_checkpoint(char **note, ctm_db *db)
{
    ctm__clear_error();
    if (note == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit checkpoint: NULL argument");
    *note = NULL;
    uint64_t size;
    return latest_checkpoint(db, note, &size);
}

int ctm_audit_vkey(char **vkey, ctm_db *db)
{
    ctm__clear_error();
    if (vkey == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit vkey: NULL argument");
    *vkey = NULL;
    char *origin;
    uint8_t pub[32];
    int rc = ctm__site_info(db, &origin, pub);
    if (rc != CTM_OK)
        return rc;
    *vkey = ctm__note_vkey(origin, pub);
    return *vkey != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

/* Leaf hashes are derived, never stored: hash the entries themselves. */
int ctm__load_leaves(ctm_db *db, uint64_t size, ctm_hash **leaves)
{
    *leaves = NULL;
    if (size == 0)
        return CTM_OK;
    ctm_hash *l = malloc(size * sizeof *l);
    if (l == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory for %llu leaf hashes", (unsigned long long)size);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->sql, "SELECT seq, entry FROM ledger WHERE seq < ?1 ORDER BY seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        free(l);
        return ctm__sqlerr(db->sql, rc, "reading the ledger");
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    uint64_t i = 0;
    int out = CTM_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) != i) {
            out = ctm__err(CTM_EINTEGRITY, "ledger seq %llu: missing (run verify)",
                           (unsigned long long)i);
            break;
        }
        ctm__leaf_hash(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), l[i++]);
    }
    sqlite3_finalize(st);
    if (out == CTM_OK && i != size)
        out = ctm__err(CTM_EINTEGRITY, "ledger seq %llu: missing (run verify)", (unsigned long long)i);
    if (out != CTM_OK) {
        free(l);
        return out;
    }
    *leaves = l;
    return CTM_OK;
}

/* The root signed in the newest checkpoint, after checking its signature. */
static int signed_root(ctm_db *db, uint64_t *size, ctm_hash root)
{
    char *origin, *note = NULL, *body = NULL, *corigin = NULL;
    uint8_t pub[32];
    int rc = ctm__site_info(db, &origin, pub);
    if (rc == CTM_OK)
        rc = latest_checkpoint(db, &note, size);
    if (rc != CTM_OK)
        return rc;
    uint64_t csize = 0;
    if (ctm__note_verify(note, origin, pub, &body) != 0 ||
        ctm__checkpoint_parse(body, &corigin, &csize, root) != 0 || csize != *size ||
        strcmp(corigin, origin) != 0)
        rc = ctm__err(CTM_EINTEGRITY, "checkpoint %llu: bad signature or body (run verify)",
                      (unsigned long long)*size);
    free(note);
    free(body);
    free(corigin);
    return rc;
}

static char *format_proof(uint64_t seq, uint64_t size, const ctm_hash leaf, const ctm_hash root,
                          const ctm_hash *proof, size_t count)
{
    size_t cap = 160 + (count + 2) * 72;
    char *out = malloc(cap), hex[65];
    if (out == NULL)
        return NULL;
    size_t n = (size_t)snprintf(out, cap, "seq %llu\nsize %llu\n", (unsigned long long)seq,
                                (unsigned long long)size);
    ctm__hex(leaf, CTM_HASH_SIZE, hex);
    n += (size_t)snprintf(out + n, cap - n, "leaf %s\n", hex);
    ctm__hex(root, CTM_HASH_SIZE, hex);
    n += (size_t)snprintf(out + n, cap - n, "root %s\n", hex);
    for (size_t i = 0; i < count; i++) {
        ctm__hex(proof[i], CTM_HASH_SIZE, hex);
        n += (size_t)snprintf(out + n, cap - n, "proof %s\n", hex);
    }
    return out;
}

int ctm_audit_prove(char **proof, ctm_db *db, uint64_t seq)
{
    ctm__clear_error();
    if (proof == NULL || db == NULL)
        return ctm__err(CTM_EINVAL, "audit prove: NULL argument");
    *proof = NULL;
    uint64_t size = 0;
    ctm_hash root, *leaves = NULL, *path = NULL;
    size_t count = 0;
    int rc = signed_root(db, &size, root);
    if (rc != CTM_OK)
        return rc;
    if (seq >= size)
        return ctm__err(CTM_ENOTFOUND, "seq: %llu is not in the signed log of %llu entries",
                        (unsigned long long)seq, (unsigned long long)size);
    if ((rc = ctm__load_leaves(db, size, &leaves)) != CTM_OK)
        return rc;
    if (ctm__inclusion_proof(leaves, seq, size, &path, &count) != 0)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    else if (ctm__verify_inclusion(seq, size, leaves[seq], (const ctm_hash *)path, count, root) != 0)
        rc = ctm__err(CTM_EINTEGRITY,
                      "seq %llu: the entries do not match the signed root (run verify)",
                      (unsigned long long)seq);
    else if ((*proof = format_proof(seq, size, leaves[seq], root, (const ctm_hash *)path, count)) ==
             NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    free(path);
    free(leaves);
    return rc;
}
