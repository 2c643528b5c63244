/* copy.c - a whole site from one store into another (a site moving between engines).
 *
 * Every value is copied as it is, ids and the ledger's rows included, so the copy holds the same
 * entries, roots and checkpoints: a checkpoint taken before the move proves the copy's log
 * extends it.  Only store.h calls are used, so any engine copies to any other. */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "store.h"

#define MAX_TABLES 64
#define MAX_COLUMNS 64

struct tables {
    char name[MAX_TABLES][CTM_MAX_NAME + 1];
    int n;
    /* refs[i][j]: table i has a foreign key to table j (i != j) */
    unsigned char refs[MAX_TABLES][MAX_TABLES];
};

static int find(const struct tables *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return i;
    return -1;
}

static int add_table(void *ctx, const char *name)
{
    struct tables *t = ctx;
    if (t->n == MAX_TABLES || strlen(name) > CTM_MAX_NAME)
        return ctm__err(CTM_ERROR, "copying the site: table %s: more tables or a longer name than "
                                   "a site has", name);
    snprintf(t->name[t->n++], CTM_MAX_NAME + 1, "%s", name);
    return CTM_OK;
}

static int add_fk(void *ctx, const char *table, const char *column, const char *target)
{
    (void)column;
    struct tables *t = ctx;
    int i = find(t, table), j = find(t, target);
    if (i >= 0 && j >= 0 && i != j)
        t->refs[i][j] = 1;
    return CTM_OK;
}

struct columns {
    char sel[8192], ins[8192], order[2048];
    size_t nsel, nins, norder;
    int n, npk;
    int overflow;
};

static void put(char *buf, size_t cap, size_t *len, int *overflow, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > cap) {
        *overflow = 1;
        return;
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
}

/* Column names are the schema's own (lower case letters, digits, '_'), quoted all the same. */
static int add_column(void *ctx, const char *name, int is_pk)
{
    struct columns *c = ctx;
    if (c->n == MAX_COLUMNS || strchr(name, '"') != NULL)
        return ctm__err(CTM_ERROR, "copying the site: column %s: not a column libctm made", name);
    char q[CTM_MAX_NAME + 8];
    snprintf(q, sizeof q, "%s\"%.64s\"", c->n ? ", " : "", name);
    put(c->sel, sizeof c->sel, &c->nsel, &c->overflow, q);
    char p[16];
    snprintf(p, sizeof p, "%s?%d", c->n ? ", " : "", c->n + 1);
    put(c->ins, sizeof c->ins, &c->nins, &c->overflow, p);
    if (is_pk) {
        snprintf(q, sizeof q, "%s\"%.64s\"", c->npk ? ", " : "", name);
        put(c->order, sizeof c->order, &c->norder, &c->overflow, q);
        c->npk++;
    }
    c->n++;
    return CTM_OK;
}

static int copy_table(ctm__store *src, ctm__store *dst, const char *table)
{
    struct columns c;
    memset(&c, 0, sizeof c);
    int rc = ctm__store_columns(src, table, add_column, &c);
    if (rc != CTM_OK)
        return rc;
    if (c.overflow || c.n == 0)
        return ctm__err(CTM_ERROR, "copying the site: table %s: columns not as libctm made them",
                        table);
    char select[12288], insert[20480];
    snprintf(select, sizeof select, "SELECT %s FROM \"%s\"%s%s", c.sel, table,
             c.npk ? " ORDER BY " : "", c.order);
    snprintf(insert, sizeof insert, "INSERT INTO \"%s\"(%s) VALUES (%s)", table, c.sel, c.ins);
    ctm__st *from = NULL, *to = NULL;
    char doing[CTM_MAX_NAME + 40];
    snprintf(doing, sizeof doing, "copying table %s", table);
    if ((rc = ctm__st_prepare(src, &from, select)) != CTM_OK ||
        (rc = ctm__st_prepare(dst, &to, insert)) != CTM_OK) {
        ctm__st_finalize(from);
        return ctm__store_fail(rc, doing);
    }
    while ((rc = ctm__st_step(from)) == CTM_ROW) {
        for (int i = 0; i < c.n && rc == CTM_ROW; i++) {
            ctm__value v;
            ctm__st_value(from, i, &v);
            if (ctm__st_bind_value(to, i + 1, &v) != CTM_OK)
                rc = CTM_ERROR;
        }
        if (rc == CTM_ROW)
            rc = ctm__st_run(to);
        ctm__st_reset(to);
        if (rc != CTM_OK)
            break;
    }
    ctm__st_finalize(from);
    ctm__st_finalize(to);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

static int check_empty(void *ctx, const char *table)
{
    ctm__store *dst = ctx;
    char sql[CTM_MAX_NAME + 64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%.64s\"", table);
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(dst, &st, sql);
    if (rc == CTM_OK && (rc = ctm__st_step(st)) == CTM_ROW)
        rc = ctm__st_int(st, 0) == 0 ? CTM_OK
                                     : ctm__err(CTM_EEXISTS, "copying the site: %s: table %s "
                                                             "already has rows",
                                                ctm__store_name(dst), table);
    ctm__st_finalize(st);
    return rc;
}

int ctm__store_copy(ctm__store *src, ctm__store *dst)
{
    static struct tables zero;
    struct tables t = zero, have = zero;
    int rc = ctm__store_tables(src, add_table, &t);
    if (rc == CTM_OK)
        rc = ctm__store_foreign_keys(src, add_fk, &t);
    if (rc == CTM_OK)
        rc = ctm__store_tables(dst, add_table, &have);
    if (rc != CTM_OK)
        return rc;
    for (int i = 0; i < t.n; i++)
        if (find(&have, t.name[i]) < 0)
            return ctm__err(CTM_EVERSION, "copying the site: %s has no table %s",
                            ctm__store_name(dst), t.name[i]);
    if ((rc = ctm__store_tables(dst, check_empty, dst)) != CTM_OK)
        return rc;
    /* Referenced tables first: a table is copied once every table it refers to is.  The ledger
     * comes last: on a server the guard wants a transaction's entries after its changes. */
    unsigned char done[MAX_TABLES] = {0};
    for (int copied = 0; copied < t.n;) {
        int next = -1;
        for (int i = 0; i < t.n && next < 0; i++) {
            if (done[i] || (strcmp(t.name[i], "ledger") == 0 && copied < t.n - 1))
                continue;
            int ready = 1;
            for (int j = 0; j < t.n && ready; j++)
                if (t.refs[i][j] && !done[j])
                    ready = 0;
            if (ready)
                next = i;
        }
        if (next < 0)
            return ctm__err(CTM_ERROR, "copying the site: the tables' foreign keys form a cycle");
        if ((rc = copy_table(src, dst, t.name[next])) != CTM_OK)
            return rc;
        done[next] = 1;
        copied++;
    }
    rc = ctm__store_ids_follow(dst);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, "copying the site");
}
