/*
 * audit_query.c - searching the audit log: ctm_audit_query()'s filters (by, action, time, trial,
 * kit, the newest N) and the readable summary of each entry's row changes.
 *
 * The cheap tests (seq, time, user, action) read an entry's first fields without decoding it;
 * trial and kit decode it and follow its row changes through the tables' foreign keys.  No test
 * ever looks at a column a blinded reader is shown as "(blinded)", so what a filter selects does
 * not depend on the arms.  The rows themselves come from the listing in audit.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Up to this many row changes an entry's summary shows each; beyond, counts per table. */
#define SUMMARY_SHORT_ROWS 8

/* Rows that make an entry concern a trial or a kit: per table, the ids (rowids), sorted. */
typedef struct id_set {
    char *table;
    int64_t *ids;
    size_t n;
} id_set;

/* Bytes that an entry about a concern must contain (its text, its rows' ids as encoded INT
 * values): an entry holding none of them is passed over without decoding it.  A salt may hold
 * them by chance; that costs a decode, never a match. */
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
    void *log;                  /* what the listing shows this reader (ctm__audit_log_ctx) */
    int unblinded;              /* the reader may see arms */
    int ncols;                  /* the listing's columns, then changes_summary */
    char *by;
    char *action;
    int action_family;          /* action is "NAME." and matches as a prefix */
    int has_since, has_until;
    int64_t since_us, until_us;
    uint64_t limit, emitted;
    concern trial, kit;
    fk_ref *fks;
    size_t nfks, fks_cap;
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
    free(q->log);
    free(q);
}

/* ---- the cheap tests: seq, time, user and action, from the entry's first fields ---- */

static void head_of(const ctm__entry *e, ctm__entry_head *h)
{
    h->time_us = e->time_us;
    h->user = (const uint8_t *)e->user;
    h->user_len = strlen(e->user);
    h->action = (const uint8_t *)e->action;
    h->action_len = strlen(e->action);
}

static int head_passes(const query_ctx *q, const ctm__entry_head *h)
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
static int add_set(ctm_db *db, concern *c, const char *table, ctm__st *st)
{
    (void)db;
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
    while ((rc = ctm__st_step(st)) == CTM_ROW) {
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ids = realloc(s->ids, cap * sizeof *ids);
            if (ids == NULL)
                return ctm__err(CTM_ENOMEM, "out of memory");
            s->ids = ids;
        }
        s->ids[s->n++] = ctm__st_int(st, 0);
    }
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "audit query");
    if (s->n > 1)
        qsort(s->ids, s->n, sizeof *s->ids, cmp_i64);
    return CTM_OK;
}

/* The ids of table's rows whose column equals id or text.  Table and column names come from
 * libctm's own schema (letters and underscores). */
static int add_set_where(ctm_db *db, concern *c, const char *table, const char *column, int64_t id,
                         const char *text)
{
    char q[256];
    ctm__st *st = NULL;
    if ((size_t)snprintf(q, sizeof q, "SELECT id FROM \"%s\" WHERE \"%s\" = ?1", table, column) >=
        sizeof q)
        return ctm__err(CTM_ERROR, "table %s: name too long", table);
    int rc = ctm__prepare(db, &st, q);
    if (rc != CTM_OK)
        return rc;
    if (text != NULL)
        ctm__st_bind_text(st, 1, text);
    else
        ctm__st_bind_int(st, 1, id);
    rc = add_set(db, c, table, st);
    ctm__st_finalize(st);
    return rc;
}

static int add_fk(void *ctx, const char *table, const char *column, const char *target)
{
    query_ctx *q = ctx;
    if (q->nfks == q->fks_cap) {
        size_t cap = q->fks_cap ? q->fks_cap * 2 : 16;
        fk_ref *grown = realloc(q->fks, cap * sizeof *grown);
        if (grown == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        q->fks = grown;
        q->fks_cap = cap;
    }
    fk_ref *f = &q->fks[q->nfks++];
    f->table = ctm__strdup(table);
    f->column = ctm__strdup(column);
    f->target = ctm__strdup(target);
    if (f->table == NULL || f->column == NULL || f->target == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    return CTM_OK;
}

static int load_fks(ctm_db *db, query_ctx *q)
{
    return ctm__store_foreign_keys(db->store, add_fk, q);
}

typedef struct trial_tables {
    ctm_db *db;
    concern *c;
    int64_t id;
    int has_trial_id;
} trial_tables;

static int has_trial_id(void *ctx, const char *name, int is_pk)
{
    (void)is_pk;
    ((trial_tables *)ctx)->has_trial_id |= strcmp(name, "trial_id") == 0;
    return CTM_OK;
}

static int add_trial_table(void *ctx, const char *table)
{
    trial_tables *t = ctx;
    if (ctm__table_is_internal(table))
        return CTM_OK;
    t->has_trial_id = 0;
    int rc = ctm__store_columns(t->db->store, table, has_trial_id, t);
    if (rc == CTM_OK && t->has_trial_id)
        rc = add_set_where(t->db, t->c, table, "trial_id", t->id, NULL);
    return rc;
}

/* The trial's own row and every row of a table with a trial_id column that names it. */
static int load_trial(ctm_db *db, concern *c)
{
    ctm__st *st = NULL;
    int64_t id = 0;
    int rc = ctm__prepare(db, &st, "SELECT id FROM trials WHERE code = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, c->value);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        id = ctm__st_int(st, 0);
    else
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "trial: no trial '%s'", c->value)
                                : ctm__store_fail(src, "audit query");
    ctm__st_finalize(st);
    st = NULL;
    if (rc == CTM_OK)
        rc = add_set_where(db, c, "trials", "id", id, NULL);
    trial_tables t = {db, c, id, 0};
    if (rc == CTM_OK)
        rc = ctm__store_tables(db->store, add_trial_table, &t);
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
    int rc = add_set_where(db, c, "kits", "kit_number", 0,
                           c->value);
    if (rc == CTM_OK && c->sets[0].n == 0)
        rc = ctm__err(CTM_ENOTFOUND, "kit: no kit '%s' in any trial", c->value);
    return rc == CTM_OK ? kit_needles(c) : rc;
}

/* 0 when an entry cannot concern c (holds none of its needles); 1 when it may. */
static int may_concern(const concern *c, const uint8_t *p, size_t n)
{
    ctm__entry_head h;
    if (c->value == NULL || c->needles == NULL || ctm__entry_head_read(p, n, &h) != 0)
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
        if (ctm__blind_column(ch->table, cc->name))
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
static int row_matches(const query_ctx *q, ctm__st *st, ctm__entry *e)
{
    int64_t seq = ctm__st_int(st, 0);
    const uint8_t *p = ctm__st_blob(st, 1);
    size_t n = ctm__st_bytes(st, 1);
    ctm__entry local;
    ctm__entry *d = e != NULL ? e : &local;
    ctm__entry_head h;
    int decoded = 0, rc;
    if (ctm__entry_head_read(p, n, &h) != 0) {
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
        if (!unblinded && ctm__blind_column(c->table, cc->name))
            put_text(b, CTM__BLINDED);
        else
            put_value(b, c->op == 'I' ? &cc->new_value : &cc->old_value);
    }
    put_text(b, c->op == 'I' ? " inserted" : c->op == 'U' ? " updated" : " deleted");
    const char *sep = ": ";
    for (uint32_t i = 0; i < c->ncols; i++) {
        const ctm__column_change *cc = &c->cols[i];
        if (cc->is_pk)
            continue;
        int hidden = !unblinded && ctm__blind_column(c->table, cc->name);
        const ctm__value *shown = c->op == 'D' ? &cc->old_value : &cc->new_value;
        if (c->op != 'U' && !hidden && shown->tag == CTM_V_NULL)
            continue; /* an inserted or deleted row's empty columns are noise here */
        put_text(b, sep);
        sep = ", ";
        put_text(b, cc->name);
        if (c->op == 'U') {
            ctm__buf_u8(b, ' ');
            if (hidden)
                put_text(b, CTM__BLINDED);
            else
                put_value(b, &cc->old_value);
            put_text(b, " -> ");
        } else {
            ctm__buf_u8(b, '=');
        }
        if (hidden)
            put_text(b, CTM__BLINDED);
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

static int query_row(ctm__st *st, ctm__row *row, void *vctx)
{
    query_ctx *q = vctx;
    ctm__entry e;
    if (q->limit != 0 && q->emitted >= q->limit)
        return CTM_DONE;
    int rc = row_matches(q, st, &e);
    if (rc <= 0)
        return rc < 0 ? rc : CTM__SKIP;
    char *summary = changes_summary(&e, q->unblinded);
    ctm__entry_free(&e);
    if (summary == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    rc = ctm__audit_log_row(st, row, q->log);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, q->ncols - 1, summary);
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

static int set_instant(const char *field, const char *text, int upper, int64_t *us, int *has)
{
    int rc = text != NULL ? ctm__parse_instant(field, text, upper, us) : CTM_OK;
    *has = text != NULL && rc == CTM_OK;
    return rc;
}

static int set_code(const char *field, const char *text, char **dst)
{
    if (text == NULL)
        return CTM_OK;
    int rc = ctm__check_code(field, text, CTM_MAX_NAME);
    return rc == CTM_OK ? take_text(dst, text) : rc;
}

static int setup_filter(ctm_db *db, query_ctx *q, const ctm_audit_filter *f)
{
    int rc = CTM_OK;
    if (f->by != NULL && (rc = ctm__check_name("by", f->by)) == CTM_OK)
        rc = take_text(&q->by, f->by);
    if (rc == CTM_OK && f->action != NULL)
        rc = set_action(q, f->action);
    if (rc == CTM_OK)
        rc = set_instant("since", f->since, 0, &q->since_us, &q->has_since);
    if (rc == CTM_OK)
        rc = set_instant("until", f->until, 1, &q->until_us, &q->has_until);
    if (rc == CTM_OK)
        rc = set_code("trial", f->trial, &q->trial.value);
    /* a scan of the pack was resolved to its kit number by ctm_audit_query (domain/stock.c) */
    if (rc == CTM_OK)
        rc = set_code("kit", f->kit, &q->kit.value);
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
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT seq, entry FROM ledger WHERE seq >= ?1 ORDER BY seq DESC");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, (int64_t)from);
    uint64_t found = 0;
    int src = CTM_OK, first = 1;
    *lo = (int64_t)from;
    *hi = -1;
    while (found < last && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t seq = ctm__st_int(st, 0);
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
    if (rc == CTM_OK && found < last && src != CTM_OK)
        rc = ctm__store_fail(src, "audit query");
    ctm__st_finalize(st);
    return rc;
}

int ctm__audit_query(ctm_query **out, ctm_db *db, const ctm_audit_filter *filter)
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
    q->unblinded = ctm__blind_sees_all(db);
    q->limit = f.limit;
    rc = ctm__audit_log_ctx(&q->log, db);
    if (rc == CTM_OK)
        rc = setup_filter(db, q, &f);
    int64_t lo = (int64_t)f.from_seq, hi = INT64_MAX;
    if (rc == CTM_OK && f.last != 0)
        rc = last_window(db, q, f.from_seq, f.last, &lo, &hi);
    int nlog = 0;
    const char *const *log_columns = ctm__audit_log_columns(&nlog);
    q->ncols = nlog + 1;
    if (rc == CTM_OK && (q->colnames = malloc((size_t)q->ncols * sizeof *q->colnames)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "SELECT seq, entry FROM ledger WHERE seq >= ?1 AND seq <= ?2"
                                   " ORDER BY seq");
    if (rc != CTM_OK) {
        query_ctx_free(q);
        return rc;
    }
    for (int i = 0; i < nlog; i++)
        q->colnames[i] = log_columns[i];
    q->colnames[nlog] = "changes_summary";
    ctm__st_bind_int(st, 1, lo);
    ctm__st_bind_int(st, 2, hi);
    return ctm__query_new(out, st, q->colnames, q->ncols, query_row, q,
                          query_ctx_free);
}
