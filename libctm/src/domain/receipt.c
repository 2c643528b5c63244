/* receipt.c - shipments in: register from the manifest, check kit by kit, confirm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs1.h"
#include "manifest.h"
#include "stock.h"
#include "temp.h"


/* ---- registering a shipment ---- */

typedef struct kit_type_ref {
    char code[CTM_MAX_NAME + 1];
    int64_t id;
    int units;
} kit_type_ref;

/* What the manifest is checked against: the trial's kit types and arms. */
typedef struct trial_refs {
    kit_type_ref *types;
    int ntypes;
    char (*arms)[33];
    int narms;
} trial_refs;

static void refs_free(trial_refs *r)
{
    free(r->types);
    free(r->arms);
}

static int load_refs(ctm_db *db, int64_t trial_id, trial_refs *r)
{
    memset(r, 0, sizeof *r);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT code, id, units FROM kit_types WHERE trial_id = ?1");
    int cap = 0;
    if (rc == CTM_OK)
        ctm__st_bind_int(st, 1, trial_id);
    while (rc == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        if (r->ntypes == cap) {
            cap = cap ? cap * 2 : 8;
            kit_type_ref *t = realloc(r->types, (size_t)cap * sizeof *t);
            if (t == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            r->types = t;
        }
        kit_type_ref *t = &r->types[r->ntypes++];
        snprintf(t->code, sizeof t->code, "%s", ctm__st_text(st, 0));
        t->id = ctm__st_int(st, 1);
        t->units = (int)ctm__st_int(st, 2);
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "SELECT code FROM arms WHERE trial_id = ?1");
    cap = 0;
    if (rc == CTM_OK)
        ctm__st_bind_int(st, 1, trial_id);
    while (rc == CTM_OK && ctm__st_step(st) == CTM_ROW) {
        if (r->narms == cap) {
            cap = cap ? cap * 2 : 8;
            char(*a)[33] = realloc(r->arms, (size_t)cap * sizeof *a);
            if (a == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            r->arms = a;
        }
        snprintf(r->arms[r->narms++], 33, "%s", ctm__st_text(st, 0));
    }
    ctm__st_finalize(st);
    return rc;
}

static const kit_type_ref *find_type(const trial_refs *r, const char *code)
{
    for (int i = 0; i < r->ntypes; i++)
        if (strcmp(r->types[i].code, code) == 0)
            return &r->types[i];
    return NULL;
}

static int known_arm(const trial_refs *r, const char *arm)
{
    for (int i = 0; i < r->narms; i++)
        if (strcmp(r->arms[i], arm) == 0)
            return 1;
    return 0;
}

/* The trial's kit list (ctm_random_import, format kits): the arm of each kit number, sorted by
 * kit number for lookups (in C: the engines' collations need not sort as strcmp does). */
typedef struct kit_list_row {
    char *kit_number;
    char arm[33];
} kit_list_row;

typedef struct kit_list {
    kit_list_row *rows;
    size_t n;
} kit_list;

static void kit_list_free(kit_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rows[i].kit_number);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

static int kit_list_cmp(const void *a, const void *b)
{
    return strcmp(((const kit_list_row *)a)->kit_number, ((const kit_list_row *)b)->kit_number);
}

static int kit_list_load(ctm_db *db, int64_t trial_id, kit_list *l)
{
    memset(l, 0, sizeof *l);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT kit_number, arm FROM kit_list WHERE trial_id = ?1");
    size_t cap = 0;
    if (rc == CTM_OK)
        ctm__st_bind_int(st, 1, trial_id);
    int src = CTM_OK;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        if (l->n == cap) {
            cap = cap ? cap * 2 : 64;
            kit_list_row *grown = realloc(l->rows, cap * sizeof *grown);
            if (grown == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            l->rows = grown;
        }
        kit_list_row *row = &l->rows[l->n];
        if ((row->kit_number = ctm__strdup(ctm__st_text(st, 0))) == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
        snprintf(row->arm, sizeof row->arm, "%s", ctm__st_text(st, 1));
        l->n++;
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK && src != CTM_OK && src != CTM_ROW)
        rc = ctm__store_fail(src, "reading the kit list");
    if (rc != CTM_OK)
        kit_list_free(l);
    else if (l->n > 1)
        qsort(l->rows, l->n, sizeof *l->rows, kit_list_cmp);
    return rc;
}

static const char *kit_list_arm(const kit_list *l, const char *kit_number)
{
    kit_list_row key = { (char *)kit_number, "" };
    const kit_list_row *row =
        l->n ? bsearch(&key, l->rows, l->n, sizeof *l->rows, kit_list_cmp) : NULL;
    return row != NULL ? row->arm : NULL;
}

/* Every row against the trial, before anything is written: a kit on the trial's kit list takes
 * the list's arm where the manifest gives none, and must agree with it where it gives one.  No
 * message names an arm.  A reader who may not see the trial's arms (sees_arms 0) may give no
 * arm for a listed kit at all: were it compared, the answer (and, with a bad line after it,
 * whether anything is written) would tell whether a guessed arm is the kit's. */
static int check_rows(ctm__manifest *m, const trial_refs *r, const kit_list *kl,
                      const char *trial, int sees_arms)
{
    if (r->narms > 1 && !m->has_arm && kl->n == 0)
        return ctm__err(CTM_EINVAL,
                        "manifest: trial %s has %d arms; the manifest needs the arm column (or "
                        "import the trial's kit list first)",
                        trial, r->narms);
    for (size_t i = 0; i < m->n; i++) {
        ctm__manifest_row *row = &m->rows[i];
        if (find_type(r, row->kit_type) == NULL)
            return ctm__err(CTM_EINVAL, "manifest line %u, field kit_type: '%s' is not a kit type of trial %s",
                            row->line, row->kit_type, trial);
        const char *listed = kit_list_arm(kl, row->kit_number);
        if (listed != NULL && row->arm != NULL && !sees_arms)
            return ctm__err(CTM_EINVAL,
                            "manifest line %u, field arm: the kit is on the trial's kit list, "
                            "which gives its arm; leave the arm empty (a blinded user cannot "
                            "check it)",
                            row->line);
        if (listed != NULL && row->arm != NULL && strcmp(listed, row->arm) != 0)
            return ctm__err(CTM_EINVAL,
                            "manifest line %u, field arm: differs from the trial's kit list",
                            row->line);
        if (listed != NULL && row->arm == NULL)
            row->arm = listed; /* kl outlives the receipt's inserts */
        if (row->arm == NULL && r->narms > 1)
            return ctm__err(CTM_EINVAL, "manifest line %u, field arm: missing%s", row->line,
                            m->has_arm ? "" : " (the kit is not on the trial's kit list)");
        if (row->arm != NULL && !known_arm(r, row->arm))
            return ctm__err(CTM_EINVAL, "manifest line %u, field arm: not an arm of trial %s",
                            row->line, trial);
    }
    return CTM_OK;
}

static int insert_shipment(ctm_db *db, int64_t trial_id, const char *number, int64_t location,
                           const ctm_receive_options *o, const char *date, const char *status,
                           int64_t *id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO shipments(trial_id, number, direction, origin, date_received,"
                          " registered_us, location_id, excursion, status)"
                          " VALUES (?1, ?2, 'in', ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, number);
    if (o->origin != NULL)
        ctm__st_bind_text(st, 3, o->origin);
    ctm__st_bind_text(st, 4, date);
    ctm__st_bind_int(st, 5, ctm__now_us());
    ctm__st_bind_int(st, 6, location);
    ctm__st_bind_int(st, 7, o->excursion ? 1 : 0);
    ctm__st_bind_text(st, 8, status);
    return ctm__insert_id(db, st, id, "adding the shipment");
}

/* A lot by its batch: found (its kit type and expiry must agree) or made.  where names the
 * source in messages ("manifest line 7" or "bulk receipt"). */
static int lot_get_or_make(ctm_db *db, int64_t trial_id, const char *where, const char *batch,
                           const char *expiry, const char *gtin, int64_t type_id, int64_t *lot_id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT id, kit_type_id, expiry FROM lots WHERE trial_id = ?1 AND batch = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, batch);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        *lot_id = ctm__st_int(st, 0);
        if (ctm__st_int(st, 1) != type_id)
            rc = ctm__err(CTM_EINVAL, "%s, field lot: lot %s belongs to another kit type", where,
                          batch);
        else if (strcmp(ctm__st_text(st, 2), expiry) != 0)
            rc = ctm__err(CTM_EINVAL, "%s, field expiry: lot %s expires %s, not %s", where, batch,
                          ctm__st_text(st, 2), expiry);
        ctm__st_finalize(st);
        return rc;
    }
    ctm__st_finalize(st);
    if (src != CTM_OK)
        return ctm__store_fail(src, "reading lots");
    if ((rc = ctm__prepare(db, &st,
                           "INSERT INTO lots(trial_id, kit_type_id, batch, expiry, gtin)"
                           " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id")) != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_int(st, 2, type_id);
    ctm__st_bind_text(st, 3, batch);
    ctm__st_bind_text(st, 4, expiry);
    if (gtin != NULL)
        ctm__st_bind_text(st, 5, gtin);
    return ctm__insert_id(db, st, lot_id, "adding the lot");
}

/* Kits go in KIT_CHUNK rows per INSERT (one round trip to a server per chunk rather than per
 * kit), in manifest order, a chunk never spanning two lots so that each lot row is written before
 * its kits.  ON CONFLICT DO NOTHING keeps a kit number the trial already has from aborting the
 * transaction, so that the refusal can name it (find_existing). */
#define KIT_CHUNK 128
#define KIT_COLS 10

static char *kit_insert_sql(size_t n)
{
    static const char first[] = "INSERT INTO kits(trial_id, kit_number, kit_type_id, lot_id, arm,"
                                " status, location_id, units, gtin, serial, shipment_id)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, '" CTM__KIT_FIRST_STATUS "',"
                                " ?6, ?7, ?8, ?9, ?10)";
    size_t cap = sizeof first + n * 120 + 64, at = sizeof first - 1;
    char *sql = malloc(cap);
    if (sql == NULL)
        return NULL;
    memcpy(sql, first, at);
    for (size_t r = 1; r < n; r++) {
        int p = (int)(r * KIT_COLS);
        at += (size_t)snprintf(sql + at, cap - at,
                               ", (?%d, ?%d, ?%d, ?%d, ?%d, '" CTM__KIT_FIRST_STATUS
                               "', ?%d, ?%d, ?%d, ?%d, ?%d)",
                               p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9,
                               p + 10);
    }
    snprintf(sql + at, cap - at, " ON CONFLICT (trial_id, kit_number) DO NOTHING");
    return sql;
}

/* The first row of rows[0..n) whose kit number the trial already had: the one a shorter insert
 * skipped (its row belongs to another shipment). */
static int find_existing(ctm_db *db, int64_t trial_id, int64_t shipment_id,
                         const ctm__manifest_row *rows, size_t n, const char *trial)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT 1 FROM kits WHERE trial_id = ?1 AND kit_number = ?2"
                          " AND (shipment_id IS NULL OR shipment_id <> ?3)");
    for (size_t i = 0; rc == CTM_OK && i < n; i++) {
        ctm__st_reset(st);
        ctm__st_bind_int(st, 1, trial_id);
        ctm__st_bind_text(st, 2, rows[i].kit_number);
        ctm__st_bind_int(st, 3, shipment_id);
        int src = ctm__st_step(st);
        if (src == CTM_ROW) {
            rc = ctm__err(CTM_EINVAL, "manifest line %u, field kit_number: '%s' is already in trial %s",
                          rows[i].line, rows[i].kit_number, trial);
        } else if (src != CTM_OK) {
            rc = ctm__store_fail(src, "adding kits");
        }
    }
    ctm__st_finalize(st);
    return rc == CTM_OK ? ctm__err(CTM_ERROR, "adding kits: fewer kits were added than listed") : rc;
}

static int insert_chunk(ctm_db *db, ctm__st **full, int64_t trial_id, const char *trial,
                        const ctm__manifest_row *rows, size_t n, const kit_type_ref *const *types,
                        const trial_refs *r, int64_t lot_id, int64_t shipment_id, int64_t location)
{
    ctm__st *st = NULL;
    int rc = CTM_OK;
    if (n == KIT_CHUNK && *full != NULL) {
        st = *full;
        ctm__st_reset(st);
    } else {
        char *sql = kit_insert_sql(n);
        if (sql == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        rc = ctm__prepare(db, &st, sql);
        free(sql);
        if (rc != CTM_OK)
            return ctm__store_fail(rc, "adding kits");
        if (n == KIT_CHUNK)
            *full = st;
    }
    for (size_t i = 0; i < n; i++) {
        const ctm__manifest_row *row = &rows[i];
        int p = (int)(i * KIT_COLS);
        ctm__st_bind_int(st, p + 1, trial_id);
        ctm__st_bind_text(st, p + 2, row->kit_number);
        ctm__st_bind_int(st, p + 3, types[i]->id);
        ctm__st_bind_int(st, p + 4, lot_id);
        if (row->arm != NULL)
            ctm__st_bind_text(st, p + 5, row->arm);
        else if (r->narms == 1)
            ctm__st_bind_text(st, p + 5, r->arms[0]);
        else
            ctm__st_bind_null(st, p + 5);
        ctm__st_bind_int(st, p + 6, location);
        ctm__st_bind_int(st, p + 7, types[i]->units);
        ctm__st_bind_text(st, p + 8, row->gtin); /* NULL binds NULL */
        ctm__st_bind_text(st, p + 9, row->serial);
        ctm__st_bind_int(st, p + 10, shipment_id);
    }
    int src = ctm__st_run(st);
    if (src != CTM_OK)
        rc = ctm__store_fail(src, "adding kits");
    else if (ctm__st_changes(st) != (int64_t)n)
        rc = find_existing(db, trial_id, shipment_id, rows, n, trial);
    if (st != *full)
        ctm__st_finalize(st);
    return rc;
}

static int insert_kits(ctm_db *db, int64_t trial_id, const char *trial, const ctm__manifest *m,
                       const trial_refs *r, int64_t shipment_id, int64_t location,
                       int64_t arrived_us)
{
    ctm__st *full = NULL;
    const kit_type_ref *types[KIT_CHUNK];
    const char *last_lot = NULL;
    int64_t lot_id = 0;
    size_t start = 0, n = 0;
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i <= m->n; i++) {
        const ctm__manifest_row *row = i < m->n ? &m->rows[i] : NULL;
        int new_lot = row != NULL && (last_lot == NULL || strcmp(last_lot, row->lot) != 0);
        /* the chunk so far goes in before a new lot, when full, and at the end */
        if (n > 0 && (row == NULL || new_lot || n == KIT_CHUNK)) {
            rc = insert_chunk(db, &full, trial_id, trial, &m->rows[start], n, types, r, lot_id,
                              shipment_id, location);
            start = i;
            n = 0;
        }
        if (rc != CTM_OK || row == NULL)
            break;
        /* manifests run lot by lot: look the lot up only when it changes */
        if (new_lot) {
            char where[40];
            snprintf(where, sizeof where, "manifest line %u", row->line);
            const kit_type_ref *type = find_type(r, row->kit_type);
            if ((rc = lot_get_or_make(db, trial_id, where, row->lot, row->expiry, row->gtin,
                                      type->id, &lot_id)) != CTM_OK)
                break;
            last_lot = row->lot;
        }
        types[n++] = find_type(r, row->kit_type);
    }
    ctm__st_finalize(full);
    /* Each kit's history begins with its registration, dated when the shipment arrived
     * (check_receive; 0: now).  A site whose system was down registers the receipt afterwards,
     * and the dispensings it made on paper after the arrival must come after it
     * (ctm_dispense_record() refuses one before); the shipment's registered_us keeps the instant
     * of the registration. */
    return rc == CTM_OK ? ctm__kit_events_first(db, "k.shipment_id = ?1", shipment_id, arrived_us)
                        : rc;
}

/* The receipt's checks; date: the day it arrived, *arrived_us the instant its kits' history
 * begins at (0: now): the time date_received gives ("YYYY-MM-DDTHH:MM[:SS]Z"), the start of the
 * day it gives when that was before today, else the registration's. */
static int check_receive(ctm_db *db, const char *shipment, const ctm_receive_options *o,
                         char date[11], int64_t *arrived_us)
{
    int rc = ctm__check_code("shipment", shipment, CTM_MAX_NAME);
    if (rc == CTM_OK && o->origin != NULL)
        rc = ctm__check_text("origin", o->origin, CTM_MAX_TEXT);
    int64_t today = ctm__today(), days = today, at = 0;
    *arrived_us = 0;
    if (rc == CTM_OK && o->date_received != NULL && strlen(o->date_received) > 10) {
        rc = ctm__parse_instant("date received", o->date_received, 0, &at);
        if (rc == CTM_OK && at > ctm__now_us())
            rc = ctm__err(CTM_EINVAL, "date received: %s is in the future", o->date_received);
        days = ctm__utc_day(at);
        *arrived_us = at;
    } else if (rc == CTM_OK && o->date_received != NULL) {
        rc = ctm__parse_date("date received", o->date_received, &days);
        if (rc == CTM_OK && days > today)
            rc = ctm__err(CTM_EINVAL, "date received: %s is in the future", o->date_received);
        *arrived_us = days < today ? days * CTM__DAY_US : 0;
    }
    if (rc == CTM_OK) {
        ctm__format_date(days, date);
        ctm__st *st = NULL;
        rc = ctm__prepare(db, &st, "SELECT 1 FROM shipments WHERE direction = 'in' AND number = ?1");
        if (rc == CTM_OK) {
            ctm__st_bind_text(st, 1, shipment);
            int src = ctm__st_step(st);
            ctm__st_finalize(st);
            if (src == CTM_ROW)
                rc = ctm__err(CTM_EEXISTS, "shipment: '%s' was received already", shipment);
        }
    }
    return rc;
}

int ctm_receive(ctm_db *db, const char *trial, const char *shipment, const char *manifest,
                size_t manifest_len, const char *location, const ctm_receive_options *opts)
{
    ctm__clear_error();
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    if (opts != NULL)
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    ctm__trial t;
    int64_t loc = 0, sid = 0, arrived_us = 0;
    char date[11];
    ctm__manifest m;
    memset(&m, 0, sizeof m);
    trial_refs refs;
    memset(&refs, 0, sizeof refs);
    kit_list kl = { NULL, 0 };
    int rc = ctm__require_action(db, "shipment.receive", "receive");
    if (rc == CTM_OK && o.logger != NULL && (db->tx.batch || db->tx.open))
        rc = ctm__err(CTM_EMISUSE, "receive: not inside a batch with a logger file: the receipt"
                                   " and its logger are one transaction of their own");
    if (rc == CTM_OK && o.logger != NULL)
        rc = ctm__require_action(db, "shipment.logger", "receive");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__location_lookup(db, location, &loc);
    if (rc == CTM_OK)
        rc = check_receive(db, shipment, &o, date, &arrived_us);
    if (rc == CTM_OK && manifest == NULL)
        rc = ctm__err(CTM_EINVAL, "manifest: missing");
    if (rc == CTM_OK)
        rc = ctm__manifest_parse(&m, manifest, manifest_len);
    if (rc == CTM_OK)
        rc = load_refs(db, t.id, &refs);
    /* with its logger file: the receipt, then the file, in one batch */
    int batch = rc == CTM_OK && o.logger != NULL;
    if (batch && (rc = ctm_batch_begin(db)) != CTM_OK)
        batch = 0;
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.receive", "")) == CTM_OK) {
        /* The kit list as it stands under the writer lock: read before it, a list imported
         * meanwhile would go unchecked and the manifest's arms win. */
        rc = kit_list_load(db, t.id, &kl);
        if (rc == CTM_OK)
            rc = check_rows(&m, &refs, &kl, trial, ctm__blind_sees_trial(db, t.blinded));
        char count[24];
        snprintf(count, sizeof count, "%zu", m.n);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "location", location);
        ctm__action_param(&a, "kits", count);
        ctm__action_param(&a, "date_received", date);
        ctm__action_param(&a, "excursion", o.excursion ? "yes" : "no");
        if (rc == CTM_OK)
            rc = insert_shipment(db, t.id, shipment, loc, &o, date, "receiving", &sid);
        if (rc == CTM_OK)
            rc = insert_kits(db, t.id, trial, &m, &refs, sid, loc, arrived_us);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    int logger_failed = 0;
    if (rc == CTM_OK && batch) {
        rc = ctm__temp_import_owned(db, 1, sid, shipment, o.logger, o.logger_options, NULL, 1);
        logger_failed = rc != CTM_OK;
    }
    if (batch && rc == CTM_OK) {
        rc = ctm_batch_commit(db);
    } else if (batch) {
        /* the failure's message says which file it is about */
        if (logger_failed && strncmp(ctm_errmsg(), "logger file", 11) != 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ctm_errmsg());
            ctm__err(rc, "logger file: %s", msg);
        }
        rc = ctm__batch_abort(db, rc);
    }
    refs_free(&refs);
    kit_list_free(&kl);
    ctm__manifest_free(&m);
    return rc;
}

int ctm_shipment_logger(ctm_db *db, const char *shipment, const char *path,
                        const ctm_temp_import_options *opts, ctm_temp_import_result *result)
{
    ctm__clear_error();
    shipment_row s;
    int rc = ctm__require_action(db, "shipment.logger", "shipment logger");
    if (rc == CTM_OK && (db->tx.batch || db->tx.open))
        rc = ctm__err(CTM_EMISUSE, "shipment logger: not inside a batch: an import is its own"
                                   " transaction");
    if (rc == CTM_OK)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK && strcmp(s.status, "receiving") != 0)
        rc = ctm__err(CTM_ERULE, "shipment %s: the receipt is confirmed already; its logger"
                                 " file comes before the confirmation", shipment);
    if (rc != CTM_OK)
        return rc;
    return ctm__temp_import_owned(db, 1, s.id, shipment, path, opts, result, 0);
}

/* ---- checking kits ---- */

int ctm__shipment_lookup(ctm_db *db, const char *number, shipment_row *s)
{
    int rc = ctm__check_code("shipment", number, CTM_MAX_NAME);
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    if ((rc = ctm__prepare(db, &st,
                           "SELECT id, status, excursion FROM shipments"
                           " WHERE direction = 'in' AND number = ?1")) != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, number);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        s->id = ctm__st_int(st, 0);
        snprintf(s->status, sizeof s->status, "%s", ctm__st_text(st, 1));
        s->excursion = (int)ctm__st_int(st, 2);
    } else {
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "shipment '%s' was not received", number)
                                : ctm__store_fail(src, "reading shipments");
    }
    ctm__st_finalize(st);
    return rc;
}

typedef struct expected_kit {
    int64_t id;
    char number[48];
    char lot[24];
    char expiry[11];
    int checked;
    int has_gtin, has_serial;
    char gtin[15];       /* the kit's GTIN, its own or its lot's; "" when neither is known */
} expected_kit;

/* The shipment's kit a scan names by kit number or serial.  A pack whose GTIN contradicts the
 * kit's is another product that happens to carry the same number: not found (*other_product set,
 * k->gtin the kit's GTIN), so that it is recorded as an extra pack, never checks the kit. */
static int find_expected(ctm_db *db, int64_t shipment_id, const ctm__scan *scan, expected_kit *k,
                         int *found, int *other_product)
{
    const char *id = scan->id;
    *other_product = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.id, k.kit_number, l.batch, COALESCE(k.expiry, l.expiry),"
                          " k.checked, k.gtin IS NOT NULL, k.serial IS NOT NULL,"
                          " COALESCE(k.gtin, l.gtin)"
                          " FROM kits k JOIN lots l ON l.id = k.lot_id"
                          " WHERE k.shipment_id = ?1 AND (k.kit_number = ?2 OR k.serial = ?2)"
                          " ORDER BY k.kit_number = ?2 DESC LIMIT 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    ctm__st_bind_text(st, 2, id);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    if (*found) {
        k->id = ctm__st_int(st, 0);
        snprintf(k->number, sizeof k->number, "%s", ctm__st_text(st, 1));
        snprintf(k->lot, sizeof k->lot, "%s", ctm__st_text(st, 2));
        snprintf(k->expiry, sizeof k->expiry, "%s", ctm__st_text(st, 3));
        k->checked = (int)ctm__st_int(st, 4);
        k->has_gtin = (int)ctm__st_int(st, 5);
        k->has_serial = (int)ctm__st_int(st, 6);
        const char *gtin = ctm__st_text(st, 7);
        snprintf(k->gtin, sizeof k->gtin, "%s", gtin != NULL ? gtin : "");
        if (scan->gtin[0] != '\0' && k->gtin[0] != '\0' && strcmp(scan->gtin, k->gtin) != 0) {
            *found = 0;
            *other_product = 1;
        }
    }
    ctm__st_finalize(st);
    return src == CTM_ROW || src == CTM_OK ? CTM_OK : ctm__store_fail(src, "reading kits");
}

static int add_discrepancy(ctm_db *db, int64_t shipment_id, const char *kit, const char *kind,
                           const char *detail)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO discrepancies(shipment_id, kit_number, kind, detail,"
                          " recorded_us, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    ctm__st_bind_text(st, 2, kit);
    ctm__st_bind_text(st, 3, kind);
    ctm__st_bind_text(st, 4, detail);
    ctm__st_bind_int(st, 5, ctm__now_us());
    ctm__st_bind_text(st, 6, db->session.user);
    return ctm__step_done(db, st, "recording the discrepancy");
}

static int extra_recorded(ctm_db *db, int64_t shipment_id, const char *id, int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT 1 FROM discrepancies WHERE shipment_id = ?1 AND kit_number = ?2"
                          " AND kind = 'extra'");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    ctm__st_bind_text(st, 2, id);
    *found = ctm__st_step(st) == CTM_ROW;
    ctm__st_finalize(st);
    return CTM_OK;
}

/* Mark the kit checked; fill in what the manifest lacked, never erase what it had. */
static int mark_checked(ctm_db *db, const expected_kit *k, int checked, const ctm__scan *s)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE kits SET checked = ?2, gtin = COALESCE(gtin, ?3),"
                          " serial = COALESCE(serial, ?4) WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, k->id);
    ctm__st_bind_int(st, 2, checked);
    if (s->gtin[0])
        ctm__st_bind_text(st, 3, s->gtin);
    if (s->gs1 != NULL) /* the (21) serial the pack carries */
        ctm__st_bind_text(st, 4, s->id);
    return ctm__step_done(db, st, "checking the kit");
}

#define CHECK_OK 1
#define CHECK_MISMATCH 2
#define CHECK_DAMAGED 3

/* Record one scan inside the open action; fills result's outcome, kit and detail. */
static int record_scan(ctm_db *db, int64_t shipment_id, const ctm__scan *s, int damaged,
                       ctm_scan_result *r)
{
    expected_kit k;
    int found = 0, other = 0;
    int rc = find_expected(db, shipment_id, s, &k, &found, &other);
    if (rc != CTM_OK)
        return rc;
    if (!found) {
        r->outcome = CTM_SCAN_EXTRA;
        snprintf(r->kit_number, sizeof r->kit_number, "%s", s->id);
        if (other)
            snprintf(r->detail, sizeof r->detail,
                     "%.20s: GTIN %.14s on the pack, %.14s on the manifest: another product, "
                     "recorded as extra", s->id, s->gtin, k.gtin);
        else
            snprintf(r->detail, sizeof r->detail, "%.40s is not on the manifest: recorded as extra",
                     s->id);
        return add_discrepancy(db, shipment_id, s->id, "extra", r->detail);
    }
    snprintf(r->kit_number, sizeof r->kit_number, "%s", k.number);
    int checked = damaged ? CHECK_DAMAGED : CHECK_OK;
    const char *kind = damaged ? "damaged" : NULL;
    if (damaged) {
        snprintf(r->detail, sizeof r->detail, "%s damaged on receipt", k.number);
    } else if (s->lot[0] && strcmp(s->lot, k.lot) != 0) {
        checked = CHECK_MISMATCH;
        kind = "lot_mismatch";
        snprintf(r->detail, sizeof r->detail, "%s: lot on the pack %s, on the manifest %s",
                 k.number, s->lot, k.lot);
    } else if (s->expiry[0] && strcmp(s->expiry, k.expiry) != 0) {
        checked = CHECK_MISMATCH;
        kind = "expiry_mismatch";
        snprintf(r->detail, sizeof r->detail, "%s: expiry on the pack %s, on the manifest %s",
                 k.number, s->expiry, k.expiry);
    } else {
        snprintf(r->detail, sizeof r->detail, "%s ok", k.number);
    }
    r->outcome = checked == CHECK_MISMATCH ? CTM_SCAN_MISMATCH : CTM_SCAN_OK;
    rc = mark_checked(db, &k, checked, s);
    if (rc == CTM_OK && kind != NULL)
        rc = add_discrepancy(db, shipment_id, k.number, kind, r->detail);
    return rc;
}

static void count_checked(ctm_db *db, int64_t shipment_id, ctm_scan_result *r)
{
    ctm__st *st = NULL;
    if (ctm__prepare(db, &st,
                     "SELECT count(*), count(NULLIF(checked, 0)) FROM kits WHERE shipment_id = ?1") == CTM_OK) {
        ctm__st_bind_int(st, 1, shipment_id);
        if (ctm__st_step(st) == CTM_ROW) {
            r->expected = (uint64_t)ctm__st_int(st, 0);
            r->checked = (uint64_t)ctm__st_int(st, 1);
        }
        ctm__st_finalize(st);
    }
}

/* Is this scan a repeat, which records nothing? */
static int is_repeat(ctm_db *db, int64_t shipment_id, const ctm__scan *s, int damaged,
                     ctm_scan_result *r)
{
    expected_kit k;
    int found = 0, extra = 0, other = 0;
    if (find_expected(db, shipment_id, s, &k, &found, &other) != CTM_OK)
        return 0;
    if (found && k.checked != 0 && !(damaged && k.checked != CHECK_DAMAGED)) {
        snprintf(r->kit_number, sizeof r->kit_number, "%s", k.number);
        snprintf(r->detail, sizeof r->detail, "%s was checked already", k.number);
        return 1;
    }
    if (!found && extra_recorded(db, shipment_id, s->id, &extra) == CTM_OK && extra) {
        snprintf(r->kit_number, sizeof r->kit_number, "%s", s->id);
        snprintf(r->detail, sizeof r->detail, "%.40s was recorded as extra already", s->id);
        return 1;
    }
    return 0;
}

int ctm_receive_scan(ctm_db *db, const char *shipment, const char *scan, int damaged,
                     ctm_scan_result *result)
{
    ctm__clear_error();
    ctm_scan_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    shipment_row s;
    ctm__scan id;
    memset(&id, 0, sizeof id);
    int rc = ctm__require_action(db, "shipment.scan", "receive scan");
    if (rc == CTM_OK)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK && strcmp(s.status, "receiving") != 0)
        rc = ctm__err(CTM_ERULE, "shipment %s: the receipt is confirmed already", shipment);
    if (rc == CTM_OK)
        rc = ctm__scan_read(scan, &id);
    if (rc == CTM_OK && is_repeat(db, s.id, &id, damaged, &r)) {
        r.outcome = CTM_SCAN_REPEAT;
    } else if (rc == CTM_OK) {
        ctm__action a;
        if ((rc = ctm__action_begin(&a, db, "shipment.scan", "")) == CTM_OK) {
            ctm__action_param(&a, "shipment", shipment);
            ctm__action_param(&a, "scanned", id.id);
            rc = record_scan(db, s.id, &id, damaged, &r);
            rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
        }
    }
    if (rc == CTM_OK)
        count_checked(db, s.id, &r);
    ctm_gs1_free(id.gs1);
    if (result != NULL && result->struct_size >= sizeof(size_t)) {
        size_t n = result->struct_size < sizeof r ? result->struct_size : sizeof r;
        size_t keep = result->struct_size;
        memcpy(result, &r, n);
        result->struct_size = keep;
    }
    return rc;
}

/* ---- confirming ---- */

static int confirm_kits(ctm_db *db, const shipment_row *s, int unchecked_present)
{
    ctm__st *st = NULL;
    int rc = CTM_OK;
    if (!unchecked_present) {
        rc = ctm__prepare(db, &st,
                          "INSERT INTO discrepancies(shipment_id, kit_number, kind, detail,"
                          " recorded_us, recorded_by) SELECT ?1, kit_number, 'missing',"
                          " kit_number || ' was not found in the shipment', ?2, ?3"
                          " FROM kits WHERE shipment_id = ?1 AND checked = 0 AND status = 'received'");
        if (rc == CTM_OK) {
            ctm__st_bind_int(st, 1, s->id);
            ctm__st_bind_int(st, 2, ctm__now_us());
            ctm__st_bind_text(st, 3, db->session.user);
            rc = ctm__step_done(db, st, "recording missing kits");
        }
    }
    if (rc == CTM_OK)
        rc = ctm__kits_confirm(db, s->id, s->excursion, unchecked_present);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "UPDATE shipments SET status = 'confirmed' WHERE id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, s->id);
        rc = ctm__step_done(db, st, "confirming the shipment");
    }
    return rc;
}

int ctm_receive_confirm(ctm_db *db, const char *shipment, int unchecked_present)
{
    ctm__clear_error();
    shipment_row s;
    int rc = ctm__require_action(db, "shipment.confirm", "receive confirm");
    if (rc == CTM_OK)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK && strcmp(s.status, "receiving") != 0)
        rc = ctm__err(CTM_ERULE, "shipment %s: the receipt is confirmed already", shipment);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.confirm", "")) == CTM_OK) {
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "unchecked_present", unchecked_present ? "yes" : "no");
        ctm__action_param(&a, "excursion", s.excursion ? "yes" : "no");
        rc = confirm_kits(db, &s, unchecked_present);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    return rc;
}

/* A listing about one incoming shipment: sql has the shipment's id as ?1. */
static int shipment_listing(ctm_query **out, ctm_db *db, const char *what, const char *shipment,
                            const char *sql)
{
    shipment_row s;
    ctm__trial t;
    ctm__st *st = NULL;
    int rc = ctm__listing_begin(out, db, what, NULL, &t);
    /* NULL shipment: every shipment's (sql then tells them apart), where the caller allows it. */
    if (rc == CTM_OK && shipment != NULL)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    if (shipment != NULL)
        ctm__st_bind_int(st, 1, s.id);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

int ctm_receive_discrepancies(ctm_query **out, ctm_db *db, const char *shipment)
{
    int rc = shipment_listing(
        out, db, "receive discrepancies", shipment,
        "SELECT kit_number, kind, detail, recorded_us AS recorded, recorded_by,"
        " (SELECT number FROM shipments WHERE id = shipment_id) AS shipment"
        " FROM discrepancies WHERE ?1 IS NULL OR shipment_id = ?1 ORDER BY id");
    return rc == CTM_OK ? ctm__query_show(out, CTM__SHOW_TIME, "recorded", NULL) : rc;
}

int ctm_receive_status(ctm_query **out, ctm_db *db, const char *shipment)
{
    if (shipment == NULL) {
        ctm__clear_error();
        if (out != NULL)
            *out = NULL;
        return ctm__err(CTM_EINVAL, "shipment: NULL");
    }
    /* Counts over the whole shipment only: nothing here is grouped or ordered by arm. */
    return shipment_listing(
        out, db, "receive status", shipment,
        "SELECT s.number AS shipment, t.code AS trial, s.status AS status,"
        " count(k.id) AS kits, count(k.id) - count(NULLIF(k.checked, 0)) AS unchecked,"
        " count(NULLIF(k.checked, 0)) AS checked,"
        " count(CASE k.checked WHEN 1 THEN 1 END) AS ok,"
        " count(CASE k.checked WHEN 2 THEN 1 END) AS mismatched,"
        " count(CASE k.checked WHEN 3 THEN 1 END) AS damaged,"
        " (SELECT count(*) FROM discrepancies d WHERE d.shipment_id = s.id"
        "   AND d.kind = 'extra') AS extra,"
        " (SELECT count(*) FROM discrepancies d WHERE d.shipment_id = s.id) AS discrepancies"
        " FROM shipments s JOIN trials t ON t.id = s.trial_id"
        " LEFT JOIN kits k ON k.shipment_id = s.id WHERE s.id = ?1 GROUP BY s.id, t.code");
}

/* ---- undoing a wrong scan ---- */

/* Run one statement on a shipment's rows: ?1 is bound to the shipment, ?2 to text if given. */
static int shipment_exec(ctm_db *db, int64_t shipment_id, const char *text, const char *sql,
                         const char *doing)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    if (text != NULL)
        ctm__st_bind_text(st, 2, text);
    return ctm__step_done(db, st, doing);
}

static const char *const check_names[] = {"unchecked", "ok", "mismatch", "damaged"};

int ctm_receive_unscan(ctm_db *db, const char *shipment, const char *kit, const char *reason)
{
    ctm__clear_error();
    shipment_row s;
    ctm__scan id;
    memset(&id, 0, sizeof id);
    expected_kit k;
    int found = 0, extra = 0, other = 0;
    int rc = ctm__require_action(db, "shipment.unscan", "receive unscan");
    if (rc == CTM_OK)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK && strcmp(s.status, "receiving") != 0)
        rc = ctm__err(CTM_ERULE, "shipment %s: the receipt is confirmed already", shipment);
    if (rc == CTM_OK)
        rc = ctm__scan_read(kit, &id);
    if (rc == CTM_OK)
        rc = find_expected(db, s.id, &id, &k, &found, &other);
    if (rc == CTM_OK && !found)
        rc = extra_recorded(db, s.id, id.id, &extra);
    if (rc == CTM_OK && found && k.checked == 0)
        rc = ctm__err(CTM_ERULE, "kit %s of shipment %s was not scanned: nothing to undo", k.number,
                      shipment);
    if (rc == CTM_OK && !found && !extra)
        rc = ctm__err(CTM_ENOTFOUND, "shipment %s: '%.40s' is neither on the manifest nor recorded "
                                     "as extra", shipment, id.id);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.unscan", reason)) == CTM_OK) {
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "kit", found ? k.number : id.id);
        ctm__action_param(&a, "was", found ? check_names[k.checked & 3] : "extra");
        /* The scan's own records go; the ledger keeps them and this entry says why. */
        if (found)
            rc = shipment_exec(db, s.id, k.number,
                               "DELETE FROM discrepancies WHERE shipment_id = ?1 AND kit_number = ?2"
                               " AND kind IN ('damaged', 'lot_mismatch', 'expiry_mismatch')",
                               "undoing the scan's discrepancies");
        else
            rc = shipment_exec(db, s.id, id.id,
                               "DELETE FROM discrepancies WHERE shipment_id = ?1 AND kit_number = ?2"
                               " AND kind = 'extra'", "undoing the extra scan");
        if (rc == CTM_OK && found)
            rc = shipment_exec(db, s.id, k.number,
                               "UPDATE kits SET checked = 0 WHERE shipment_id = ?1 AND kit_number = ?2",
                               "undoing the check");
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    ctm_gs1_free(id.gs1);
    return rc;
}

/* ---- voiding a registration made by mistake ---- */

/* The lots the shipment's kits belong to (malloc'd), to drop those the void leaves empty. */
static int shipment_lots(ctm_db *db, int64_t shipment_id, int64_t **lots, size_t *n)
{
    *lots = NULL;
    *n = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT DISTINCT lot_id FROM kits WHERE shipment_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    size_t cap = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *l = realloc(*lots, cap * sizeof *l);
            if (l == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            *lots = l;
        }
        (*lots)[(*n)++] = ctm__st_int(st, 0);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the shipment's lots");
    ctm__st_finalize(st);
    return rc;
}

/* Everything the registration and its scans made goes, leaving the number free to register the
 * shipment again; the ledger keeps every row and the signed entry that removed them. */
static int void_rows(ctm_db *db, int64_t shipment_id)
{
    int64_t *lots = NULL;
    size_t nlots = 0;
    int rc = shipment_lots(db, shipment_id, &lots, &nlots);
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL,
                           "DELETE FROM kit_moves WHERE kit_id IN"
                           " (SELECT id FROM kits WHERE shipment_id = ?1)",
                           "removing the kits' moves");
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL,
                           "DELETE FROM discrepancies WHERE shipment_id = ?1",
                           "removing the discrepancies");
    /* what excursions recorded of its kits (in transit, or in the fridge while under receipt),
     * the excursions of its logger, and the logger's file, readings and days */
    static const char *const logger_rows[] = {
        "DELETE FROM excursion_kits WHERE kit_id IN (SELECT id FROM kits WHERE shipment_id = ?1)",
        "DELETE FROM excursions WHERE shipment_id = ?1",
        "DELETE FROM readings WHERE shipment_id = ?1",
        "DELETE FROM logger_days WHERE shipment_id = ?1",
        "DELETE FROM logger_files WHERE shipment_id = ?1",
    };
    for (size_t i = 0; rc == CTM_OK && i < sizeof logger_rows / sizeof logger_rows[0]; i++)
        rc = shipment_exec(db, shipment_id, NULL, logger_rows[i],
                           "removing the shipment's logger and excursions");
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL,
                           "DELETE FROM darf_lines WHERE kit_id IN"
                           " (SELECT id FROM kits WHERE shipment_id = ?1)",
                           "removing the kits' DARF lines");
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL,
                           "DELETE FROM kit_events WHERE kit_id IN"
                           " (SELECT id FROM kits WHERE shipment_id = ?1)",
                           "removing the kits' history");
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL, "DELETE FROM kits WHERE shipment_id = ?1",
                           "removing the kits");
    if (rc == CTM_OK)
        rc = shipment_exec(db, shipment_id, NULL, "DELETE FROM shipments WHERE id = ?1",
                           "removing the shipment");
    for (size_t i = 0; rc == CTM_OK && i < nlots; i++)
        rc = shipment_exec(db, lots[i], NULL,
                           "DELETE FROM lots WHERE id = ?1"
                           " AND NOT EXISTS (SELECT 1 FROM kits WHERE lot_id = ?1)"
                           " AND NOT EXISTS (SELECT 1 FROM bulk_stock WHERE lot_id = ?1)",
                           "removing a lot the shipment brought");
    free(lots);
    return rc;
}

int ctm_receive_void(ctm_db *db, const char *shipment, const char *reason)
{
    ctm__clear_error();
    shipment_row s;
    int rc = ctm__require_action(db, "shipment.void", "receive void");
    if (rc == CTM_OK)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__shipment_lookup(db, shipment, &s);
    if (rc == CTM_OK && strcmp(s.status, "receiving") != 0)
        rc = ctm__err(CTM_ERULE, "shipment %s: the receipt is confirmed; a confirmed receipt is not "
                                 "voided (its kits are stock: change them one by one)", shipment);
    ctm_scan_result counts;
    memset(&counts, 0, sizeof counts);
    if (rc == CTM_OK)
        count_checked(db, s.id, &counts);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.void", reason)) == CTM_OK) {
        char kits[24];
        snprintf(kits, sizeof kits, "%llu", (unsigned long long)counts.expected);
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "kits", kits);
        rc = void_rows(db, s.id);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    return rc;
}

int ctm_shipment_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "shipments", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT s.number AS number, t.code AS trial, s.direction AS direction,"
            " s.origin AS origin, s.destination AS destination,"
            " s.date_received AS date_received, s.status AS status,"
            " CASE s.direction WHEN 'in' THEN (SELECT count(*) FROM kits WHERE shipment_id = s.id)"
            "   ELSE (SELECT count(*) FROM kit_moves WHERE shipment_id = s.id) END AS kits,"
            " CASE s.direction WHEN 'in' THEN"
            "   (SELECT count(*) FROM kits WHERE shipment_id = s.id AND checked != 0) END AS checked"
            " FROM shipments s JOIN trials t ON t.id = s.trial_id"
            " WHERE ?1 IS NULL OR s.trial_id = ?1 ORDER BY s.registered_us, s.id");
    if (rc != CTM_OK)
        return rc;
    if (trial != NULL)
        ctm__st_bind_int(st, 1, t.id);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

/* ---- open-label bulk supply ---- */

static int kit_type_lookup(ctm_db *db, int64_t trial_id, const char *code, int64_t *id)
{
    int rc = ctm__check_code("kit type", code, CTM_MAX_NAME);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "SELECT id FROM kit_types WHERE trial_id = ?1 AND code = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, code);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        *id = ctm__st_int(st, 0);
    else
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "kit type '%s' is not in this trial", code)
                                : ctm__store_fail(src, "reading kit types");
    ctm__st_finalize(st);
    return rc;
}

static int add_bulk(ctm_db *db, int64_t lot_id, int64_t location, int64_t units)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO bulk_stock(lot_id, location_id, units) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (lot_id, location_id) DO UPDATE SET units = bulk_stock.units + excluded.units");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, lot_id);
    ctm__st_bind_int(st, 2, location);
    ctm__st_bind_int(st, 3, units);
    return ctm__step_done(db, st, "adding the bulk stock");
}

static int check_lot_text(const char *lot)
{
    if (lot == NULL || lot[0] == '\0' || strlen(lot) > 20)
        return ctm__err(CTM_EINVAL, "lot: 1 to 20 characters of the GS1 character set");
    size_t n = strlen(lot), bad = ctm__gs1_cset82_bad(lot, n);
    if (bad != n)
        return ctm__err(CTM_EINVAL, "lot: character 0x%02x is outside the GS1 character set",
                        (unsigned char)lot[bad]);
    return CTM_OK;
}

int ctm_bulk_receive(ctm_db *db, const char *trial, const char *shipment, const char *kit_type,
                     const char *lot, const char *expiry, int64_t units, const char *location,
                     const ctm_receive_options *opts)
{
    ctm__clear_error();
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    if (opts != NULL)
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    ctm__trial t;
    int64_t loc = 0, sid = 0, type_id = 0, lot_id = 0, days = 0, arrived_us = 0;
    char date[11];
    int rc = ctm__require_action(db, "shipment.receive_bulk", "bulk receive");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK && t.blinded)
        rc = ctm__err(CTM_ERULE, "trial %s is blinded: its supply comes as numbered kits", trial);
    if (rc == CTM_OK && o.excursion)
        rc = ctm__err(CTM_ERULE, "bulk receipt: bulk supply is not quarantined by libctm; keep a "
                                 "shipment whose logger showed an excursion apart until the sponsor "
                                 "decides, and receive it then");
    if (rc == CTM_OK)
        rc = kit_type_lookup(db, t.id, kit_type, &type_id);
    if (rc == CTM_OK)
        rc = check_lot_text(lot);
    if (rc == CTM_OK)
        rc = ctm__parse_date("expiry", expiry, &days);
    if (rc == CTM_OK && (units < 1 || units > 10000000))
        rc = ctm__err(CTM_EINVAL, "units: %lld; receive 1 to 10000000", (long long)units);
    if (rc == CTM_OK)
        rc = ctm__location_lookup(db, location, &loc);
    if (rc == CTM_OK)
        rc = check_receive(db, shipment, &o, date, &arrived_us);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.receive_bulk", "")) == CTM_OK) {
        char count[24];
        snprintf(count, sizeof count, "%lld", (long long)units);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "lot", lot);
        ctm__action_param(&a, "units", count);
        ctm__action_param(&a, "location", location);
        rc = insert_shipment(db, t.id, shipment, loc, &o, date, "confirmed", &sid);
        if (rc == CTM_OK)
            rc = lot_get_or_make(db, t.id, "bulk receipt", lot, expiry, NULL, type_id, &lot_id);
        if (rc == CTM_OK)
            rc = add_bulk(db, lot_id, loc, units);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    return rc;
}
