/* pgutil.c - see pgutil.h. */
#include "pgutil.h"

#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctm.h"
#include "store.h"

const char *pu_server(const char *who)
{
    const char *t = getenv("CTM_TEST_PG");
    if (t == NULL || t[0] == '\0')
        t = getenv("PGHOST") != NULL ? "postgresql://" : NULL;
#ifndef CTM_HAVE_POSTGRES
    if (t != NULL)
        fprintf(stderr, "%s: a PostgreSQL server is named, but this libctm has no PostgreSQL "
                        "engine\n", who);
    t = NULL;
#endif
    if (t == NULL)
        fprintf(stderr, "%s: SQLite only (name a PostgreSQL server with CTM_TEST_PG or PGHOST)\n",
                who);
    return t;
}

void pu_new_database(const char *server, const char *prefix, char *out, size_t len)
{
    ctm__store *admin = NULL;
    ck_assert_msg(ctm__store_open(&admin, server, 0) == CTM_OK, "%s", ctm_errmsg());
    char name[96], sql[160], hex[13];
    unsigned char r[6];
    randombytes_buf(r, sizeof r); /* tests fork: a counter would repeat */
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(name, sizeof name, "%.64s_%s", prefix, hex);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    ck_assert_msg(ctm__store_exec(admin, sql) == CTM_OK, "%s: %s", sql, ctm_errmsg());
    ctm__store_close(admin);
    snprintf(out, len, "postgresql:///%s", name);
}

void pu_drop_databases(const char *server, const char *prefix)
{
    ctm__store *s = NULL;
    if (ctm__store_open(&s, server, 0) != CTM_OK) {
        fprintf(stderr, "cannot drop the test databases: %s\n", ctm_errmsg());
        return;
    }
    char names[256][96];
    int n = 0;
    ctm__st *st = NULL;
    if (ctm__st_prepare(s, &st, "SELECT datname FROM pg_database WHERE datname LIKE ?1") == CTM_OK) {
        char pattern[80];
        snprintf(pattern, sizeof pattern, "%.64s\\_%%", prefix);
        ctm__st_bind_text(st, 1, pattern);
        while (n < 256 && ctm__st_step(st) == CTM_ROW)
            snprintf(names[n++], sizeof names[0], "%s", ctm__st_text(st, 0));
    }
    ctm__st_finalize(st);
    for (int i = 0; i < n; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%.96s\" WITH (FORCE)", names[i]);
        if (ctm__store_exec(s, sql) != CTM_OK)
            fprintf(stderr, "%s: %s\n", sql, ctm_errmsg());
    }
    ctm__store_close(s);
}
