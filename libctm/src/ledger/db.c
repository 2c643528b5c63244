/* db.c - statements on a site's store: the write path's, prepared once per handle. */
#include <string.h>

#include "internal.h"

static const char *const stmt_sql[CTM_ST_COUNT] = {
    [CTM_ST_LEDGER_INSERT] = "INSERT INTO ledger(seq, entry) VALUES (?1, ?2)",
    [CTM_ST_LEDGER_TAIL] = "SELECT seq, frontier, checkpoint FROM ledger ORDER BY seq DESC LIMIT 1",
    [CTM_ST_LEDGER_CLEAR_FRONTIER] = "UPDATE ledger SET frontier = NULL WHERE seq = ?1",
    [CTM_ST_LEDGER_SEAL] = "UPDATE ledger SET checkpoint = ?2, frontier = ?3 WHERE seq = ?1",
    [CTM_ST_LEDGER_INSERT_SEALED] =
        "INSERT INTO ledger(seq, entry, checkpoint, frontier) VALUES (?1, ?2, ?3, ?4)",
    [CTM_ST_USER_CHECK] = ("SELECT u.disabled, u.role, u.unblinded, u.public_key,"
                           " length(c.sealed_key) = 0 FROM users u"
                           " JOIN credentials c ON c.user_id = u.id WHERE u.id = ?1"),
};

int ctm__exec(ctm_db *db, const char *sqltext, const char *doing)
{
    int rc = ctm__store_exec(db->store, sqltext);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

int ctm__prepare(ctm_db *db, ctm__st **st, const char *sql)
{
    return ctm__st_prepare(db->store, st, sql);
}

int ctm__step_done(ctm_db *db, ctm__st *st, const char *doing)
{
    (void)db;
    int rc = ctm__st_run(st);
    ctm__st_finalize(st);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

int ctm__query_int(ctm_db *db, const char *sql, const char *doing, int64_t *out)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        *out = ctm__st_int(st, 0);
    else
        rc = ctm__store_fail(src == CTM_OK ? CTM_ERROR : src, doing);
    ctm__st_finalize(st);
    return rc;
}

int ctm__step_changed(ctm_db *db, ctm__st *st, const char *doing, int64_t *changed)
{
    (void)db;
    int rc = ctm__st_run(st);
    *changed = rc == CTM_OK ? ctm__st_changes(st) : 0;
    ctm__st_finalize(st);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

int ctm__insert_id(ctm_db *db, ctm__st *st, int64_t *id, const char *doing)
{
    (void)db;
    int rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        *id = ctm__st_int(st, 0);
        rc = ctm__st_run(st);
    } else if (rc == CTM_OK) {
        rc = ctm__err(CTM_ERROR, "%s: the new row's id did not come back", doing);
    }
    ctm__st_finalize(st);
    return rc == CTM_OK || rc == CTM_EEXISTS ? rc : ctm__store_fail(rc, doing);
}

int ctm__stmt(ctm_db *db, enum ctm__stmt_id id, ctm__st **st)
{
    if (db->stmts.st[id] == NULL) {
        int rc = ctm__st_prepare(db->store, &db->stmts.st[id], stmt_sql[id]);
        if (rc != CTM_OK)
            return ctm__store_fail(rc, stmt_sql[id]);
    } else {
        ctm__st_reset(db->stmts.st[id]);
    }
    *st = db->stmts.st[id];
    return CTM_OK;
}

ctm__st *ctm__stmt_as_is(ctm_db *db, enum ctm__stmt_id id)
{
    return db->stmts.st[id];
}

int ctm__step(ctm_db *db, ctm__st *st, const char *doing)
{
    (void)db;
    int rc = ctm__st_run(st);
    ctm__st_reset(st);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, doing);
}

void ctm__stmts_init(ctm_db *db)
{
    memset(&db->stmts, 0, sizeof db->stmts);
}

void ctm__stmts_free(ctm_db *db)
{
    for (int i = 0; i < CTM_ST_COUNT; i++) {
        ctm__st_finalize(db->stmts.st[i]);
        db->stmts.st[i] = NULL;
    }
}
