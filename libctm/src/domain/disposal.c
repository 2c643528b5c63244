/* disposal.c - kits leaving the site for good: destruction on site, witnessed, and the return of
 * kits to the sponsor (a "shipback": packed, its manifest, its dispatch).
 *
 * Rules (docs/returns.md):
 * - Only a kit pending destruction is destroyed.  Returned, expired and damaged kits are sent to
 *   pending_destruction by hand first (ctm_kit_set_status, a pharmacist, with a reason): that is
 *   the decision to destroy, apart from the act; a kit the sponsor wants back goes into a
 *   shipback instead.
 * - A destruction records its method and the certificate's reference and is e-signed twice, in
 *   one transaction: by the pharmacist who destroys ("destroyed", entry kit.destroy) and by a
 *   witness, a second enabled user authenticated with their password inside the call, whose own
 *   entry follows it (kit.destroy_witness, "witnessed destruction", the same parameters).
 *   Nobody witnesses their own destruction.  Verification checks the pair (verify.c).
 * - A shipback takes the kits the transition table lets go to returned_to_sponsor (returned,
 *   expired, damaged, pending destruction) while they stay as they are; a packed kit is neither
 *   destroyed nor packed again.  Its dispatch, e-signed with the carrier's reference, sends them
 *   off: returned_to_sponsor, no location.  A packed shipback may be cancelled (unpacked).
 * Nothing here shows or depends on an arm: the sponsor's manifest has none either (the sponsor
 * knows its kits' arms; a blinded packer must not learn them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "query.h"
#include "stock.h"

#define MAX_FIELD 200

/* A kit named in a call, as found before anything is written. */
typedef struct named_kit {
    int64_t id;
    char number[48];
    char status[24];
    char shipback[72]; /* the shipback it is packed in ("": none) */
} named_kit;

static int read_named(ctm_db *db, named_kit *k)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.status, b.number FROM kits k"
                          " LEFT JOIN shipback_kits sk ON sk.kit_id = k.id"
                          " LEFT JOIN shipbacks b ON b.id = sk.shipback_id WHERE k.id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, k->id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        snprintf(k->status, sizeof k->status, "%s", ctm__st_text(st, 0));
        snprintf(k->shipback, sizeof k->shipback, "%s",
                 ctm__st_type(st, 1) == CTM_V_NULL ? "" : ctm__st_text(st, 1));
    } else {
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "kit %s: gone", k->number)
                           : ctm__store_fail(src, "reading the kit");
    }
    ctm__st_finalize(st);
    return rc;
}

/* Find a kit named in a call (a number or a scan) with its status and shipback. */
static int find_named(ctm_db *db, const char *kit, size_t i, void *row, void *arg,
                      ctm__kit_ref *ref)
{
    named_kit *k = row;
    const char *trial = *(const char *const *)arg;
    int rc = kit == NULL ? ctm__err(CTM_EINVAL, "kits: entry %zu is NULL", i + 1)
                         : ctm__kit_find(db, trial, kit, &k->id, k->number);
    if (rc == CTM_OK)
        rc = read_named(db, k);
    *ref = (ctm__kit_ref){k->id, k->number};
    return rc;
}

/* Find every kit of the call, each once (ctm__kits_resolve). */
static int find_kits(ctm_db *db, const char *trial, const char *const *kits, size_t n,
                     named_kit **out)
{
    void *rows = NULL;
    int rc = ctm__kits_resolve(db, kits, n, sizeof(named_kit), find_named, &trial, &rows);
    *out = rows;
    return rc;
}

/* ---- destruction ---- */

static int check_destroyable(const named_kit *k)
{
    if (k->shipback[0] != '\0')
        return ctm__err(CTM_ERULE, "kit %s: packed in shipback %s for the sponsor; cancel that"
                                   " first", k->number, k->shipback);
    if (strcmp(k->status, "pending_destruction") != 0)
        return ctm__err(CTM_ERULE, "kit %s: %s; only a kit pending destruction is destroyed",
                        k->number, k->status);
    return CTM_OK;
}

static int insert_destruction(ctm_db *db, const named_kit *k, const char *method,
                              const char *certificate, const char *witness, int64_t now)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO destructions(kit_id, method, certificate, destroyed_us,"
                          " destroyed_by, witness) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, k->id);
    ctm__st_bind_text(st, 2, method);
    ctm__st_bind_text(st, 3, certificate);
    ctm__st_bind_int(st, 4, now);
    ctm__st_bind_text(st, 5, db->session.user);
    ctm__st_bind_text(st, 6, witness);
    return ctm__step_done(db, st, "recording the destruction");
}

/* The parameters both entries of a destruction carry, in this order (verify.c compares them). */
static void destroy_params(ctm__action *a, const char *trial, const char *count,
                           const char *method, const char *certificate)
{
    ctm__action_param(a, "trial", trial);
    ctm__action_param(a, "kits", count);
    ctm__action_param(a, "method", method);
    ctm__action_param(a, "certificate", certificate);
}

/* Inside the call's own batch: the destroyer's entry with the changes, then the witness's. */
static int destroy_write(ctm_db *db, const char *trial, const named_kit *rows, size_t n,
                         const char *method, const char *certificate, const ctm__signer *w)
{
    char count[24];
    snprintf(count, sizeof count, "%zu", n);
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "kit.destroy", "");
    if (rc != CTM_OK)
        return rc;
    destroy_params(&a, trial, count, method, certificate);
    ctm__action_param(&a, "witness", w->user);
    int64_t now = ctm__now_us();
    for (size_t i = 0; rc == CTM_OK && i < n; i++) {
        named_kit k = rows[i];
        /* as it stands under the writer lock */
        rc = read_named(db, &k);
        if (rc == CTM_OK)
            rc = check_destroyable(&k);
        if (rc == CTM_OK)
            rc = insert_destruction(db, &k, method, certificate, w->user, now);
        if (rc == CTM_OK)
            rc = ctm__kit_leave(db, k.id, k.number, "pending_destruction", "destroyed",
                                "destroyed");
    }
    rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    if (rc == CTM_OK)
        rc = ctm__signer_check(db, w, "destroy: witness");
    if (rc == CTM_OK)
        rc = ctm__action_begin_entry_only(&a, db, "kit.destroy_witness", "");
    if (rc != CTM_OK)
        return rc;
    destroy_params(&a, trial, count, method, certificate);
    ctm__action_param(&a, "destroyed_by", db->session.user);
    a.signer = w;
    return ctm__action_commit(&a);
}

int ctm_destroy(ctm_db *db, const char *trial, const char *const *kits, size_t n,
                const char *method, const char *certificate, const char *witness,
                const char *witness_password)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "kit.destroy", "destroy");
    if (rc == CTM_OK && (db->tx.batch || db->tx.open))
        rc = ctm__err(CTM_EMISUSE, "destroy: not inside a batch: the destruction and its witness's"
                                   " signature are one transaction of their own");
    if (rc == CTM_OK)
        rc = ctm__check_text("method", method, MAX_FIELD);
    if (rc == CTM_OK)
        rc = ctm__check_text("certificate", certificate, MAX_FIELD);
    if (rc == CTM_OK && (witness == NULL || witness[0] == '\0'))
        rc = ctm__err(CTM_EINVAL, "witness: required (a second user witnesses a destruction)");
    ctm__trial t;
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    named_kit *rows = NULL;
    if (rc == CTM_OK)
        rc = find_kits(db, trial, kits, n, &rows);
    for (size_t i = 0; rc == CTM_OK && i < n; i++)
        rc = check_destroyable(&rows[i]);
    const ctm__action_def *d = ctm__action_find("kit.destroy_witness");
    ctm__signer w;
    memset(&w, 0, sizeof w);
    if (rc == CTM_OK)
        rc = d == NULL ? ctm__err(CTM_EMISUSE, "destroy: kit.destroy_witness is not registered")
                       : ctm__signer_open(db, witness, witness_password, d->roles, "destroy",
                                          "witness", &w);
    if (rc == CTM_OK && (rc = ctm_batch_begin(db)) == CTM_OK) {
        rc = destroy_write(db, trial, rows, n, method, certificate, &w);
        rc = rc == CTM_OK ? ctm_batch_commit(db) : ctm__batch_abort(db, rc);
    }
    ctm__signer_free(&w);
    free(rows);
    return rc;
}

int ctm_destructions(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "destructions", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, k.kit_number AS kit_number, kt.code AS kit_type,"
            " l.batch AS lot, COALESCE(k.expiry, l.expiry) AS expiry, d.method AS method,"
            " d.certificate AS certificate, d.destroyed_us AS destroyed,"
            " d.destroyed_by AS destroyed_by, d.witness AS witness"
            " FROM destructions d JOIN kits k ON k.id = d.kit_id"
            " JOIN trials t ON t.id = k.trial_id JOIN kit_types kt ON kt.id = k.kit_type_id"
            " JOIN lots l ON l.id = k.lot_id WHERE ?1 IS NULL OR k.trial_id = ?1"
            " ORDER BY d.destroyed_us, t.code, k.kit_number");
    if (rc != CTM_OK)
        return rc;
    if (t.id != 0)
        ctm__st_bind_int(st, 1, t.id);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    return rc == CTM_OK ? ctm__query_show(out, CTM__SHOW_TIME, "destroyed", NULL) : rc;
}

/* ---- return to the sponsor ---- */

typedef struct shipback_row {
    int64_t id;
    char status[16];
} shipback_row;

static int shipback_lookup(ctm_db *db, int64_t trial_id, const char *number, shipback_row *b)
{
    int rc = ctm__check_code("shipment", number, CTM_MAX_NAME);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT id, status FROM shipbacks WHERE trial_id = ?1 AND number = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, number);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        b->id = ctm__st_int(st, 0);
        snprintf(b->status, sizeof b->status, "%s", ctm__st_text(st, 1));
    } else {
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "shipback '%s' is not in this trial", number)
                           : ctm__store_fail(src, "reading shipbacks");
    }
    ctm__st_finalize(st);
    return rc;
}

static int check_packable(const named_kit *k)
{
    if (k->shipback[0] != '\0')
        return ctm__err(CTM_ERULE, "kit %s: packed in shipback %s already", k->number,
                        k->shipback);
    if (!ctm__transition_allowed(k->status, "returned_to_sponsor", 0))
        return ctm__err(CTM_ERULE, "kit %s: %s; only returned, expired, damaged kits and kits"
                                   " pending destruction go back to the sponsor",
                        k->number, k->status);
    return CTM_OK;
}

static int insert_shipback(ctm_db *db, int64_t trial_id, const char *number,
                           const char *destination, int64_t *id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO shipbacks(trial_id, number, destination, status, packed_us,"
                          " packed_by) VALUES (?1, ?2, ?3, 'packed', ?4, ?5) RETURNING id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, number);
    ctm__st_bind_text(st, 3, destination);
    ctm__st_bind_int(st, 4, ctm__now_us());
    ctm__st_bind_text(st, 5, db->session.user);
    rc = ctm__insert_id(db, st, id, "adding the shipback");
    if (rc == CTM_EEXISTS)
        return ctm__err(CTM_EEXISTS, "shipment: shipback '%s' exists already in this trial",
                        number);
    return rc;
}

static int pack_kit(ctm_db *db, int64_t shipback_id, const named_kit *k)
{
    named_kit now = *k;
    int rc = read_named(db, &now);
    if (rc == CTM_OK)
        rc = check_packable(&now);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "INSERT INTO shipback_kits(shipback_id, kit_id) VALUES (?1, ?2)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipback_id);
    ctm__st_bind_int(st, 2, k->id);
    return ctm__step_done(db, st, "packing the kit");
}

/* The trial's sponsor, the default destination. */
static int trial_sponsor(ctm_db *db, int64_t trial_id, char *out, size_t len)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT sponsor FROM trials WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        snprintf(out, len, "%s", ctm__st_text(st, 0));
    else
        rc = ctm__store_fail(src == CTM_OK ? CTM_ERROR : src, "reading the trial");
    ctm__st_finalize(st);
    return rc;
}

int ctm_shipback(ctm_db *db, const char *trial, const char *shipment, const char *destination,
                 const char *const *kits, size_t n)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "shipback.pack", "shipback");
    if (rc == CTM_OK)
        rc = ctm__check_code("shipment", shipment, CTM_MAX_NAME);
    if (rc == CTM_OK && destination != NULL)
        rc = ctm__check_text("destination", destination, MAX_FIELD);
    ctm__trial t;
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    char sponsor[256] = "";
    if (rc == CTM_OK && destination == NULL &&
        (rc = trial_sponsor(db, t.id, sponsor, sizeof sponsor)) == CTM_OK)
        destination = sponsor;
    named_kit *rows = NULL;
    if (rc == CTM_OK)
        rc = find_kits(db, trial, kits, n, &rows);
    for (size_t i = 0; rc == CTM_OK && i < n; i++)
        rc = check_packable(&rows[i]);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipback.pack", "")) == CTM_OK) {
        char count[24];
        snprintf(count, sizeof count, "%zu", n);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "destination", destination);
        ctm__action_param(&a, "kits", count);
        int64_t id = 0;
        rc = insert_shipback(db, t.id, shipment, destination, &id);
        for (size_t i = 0; rc == CTM_OK && i < n; i++)
            rc = pack_kit(db, id, &rows[i]);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    free(rows);
    return rc;
}

/* The kits of shipback ?1 with their status, in kit-number order. */
static int shipback_kits(ctm_db *db, int64_t shipback_id, named_kit **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.id, k.kit_number, k.status FROM shipback_kits sk"
                          " JOIN kits k ON k.id = sk.kit_id WHERE sk.shipback_id = ?1"
                          " ORDER BY k.kit_number");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipback_id);
    size_t cap = 0;
    named_kit *rows = NULL;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            named_kit *r = realloc(rows, cap * sizeof *r);
            if (r == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            rows = r;
        }
        named_kit *k = &rows[(*n)++];
        memset(k, 0, sizeof *k);
        k->id = ctm__st_int(st, 0);
        snprintf(k->number, sizeof k->number, "%s", ctm__st_text(st, 1));
        snprintf(k->status, sizeof k->status, "%s", ctm__st_text(st, 2));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the shipback's kits");
    ctm__st_finalize(st);
    if (rc != CTM_OK) {
        free(rows);
        *n = 0;
        return rc;
    }
    *out = rows;
    return CTM_OK;
}

static int set_dispatched(ctm_db *db, int64_t id, const char *reference)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE shipbacks SET status = 'dispatched', dispatched_us = ?2,"
                          " dispatched_by = ?3, reference = ?4 WHERE id = ?1 AND status = 'packed'");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    ctm__st_bind_int(st, 2, ctm__now_us());
    ctm__st_bind_text(st, 3, db->session.user);
    ctm__st_bind_text(st, 4, reference);
    return ctm__step_done(db, st, "dispatching the shipback");
}

/* The opening of a call on a packed shipback: role, trial, the shipback packed. */
static int packed_shipback(ctm_db *db, const char *action, const char *what, const char *trial,
                           const char *shipment, shipback_row *b)
{
    ctm__trial t;
    int rc = ctm__require_action(db, action, what);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = shipback_lookup(db, t.id, shipment, b);
    if (rc == CTM_OK && strcmp(b->status, "packed") != 0)
        rc = ctm__err(CTM_ERULE, "shipback %s: %s already", shipment, b->status);
    return rc;
}

int ctm_shipback_dispatch(ctm_db *db, const char *trial, const char *shipment,
                          const char *reference)
{
    ctm__clear_error();
    shipback_row b;
    int rc = packed_shipback(db, "shipback.dispatch", "shipback dispatch", trial, shipment, &b);
    if (rc == CTM_OK)
        rc = ctm__check_text("reference", reference, MAX_FIELD);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "shipback.dispatch", "")) != CTM_OK)
        return rc;
    named_kit *rows = NULL;
    size_t n = 0;
    rc = shipback_kits(db, b.id, &rows, &n);
    char count[24];
    snprintf(count, sizeof count, "%zu", n);
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "shipment", shipment);
    ctm__action_param(&a, "reference", reference);
    ctm__action_param(&a, "kits", count);
    if (rc == CTM_OK && n == 0)
        rc = ctm__err(CTM_ERULE, "shipback %s: no kits in it", shipment);
    if (rc == CTM_OK)
        rc = set_dispatched(db, b.id, reference);
    for (size_t i = 0; rc == CTM_OK && i < n; i++)
        rc = ctm__kit_leave(db, rows[i].id, rows[i].number, rows[i].status, "returned_to_sponsor",
                            "returned to the sponsor");
    free(rows);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_shipback_cancel(ctm_db *db, const char *trial, const char *shipment, const char *reason)
{
    ctm__clear_error();
    shipback_row b;
    int rc = packed_shipback(db, "shipback.cancel", "shipback cancel", trial, shipment, &b);
    if (rc == CTM_OK)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "shipback.cancel", reason)) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "shipment", shipment);
    static const char *const sql[] = {"DELETE FROM shipback_kits WHERE shipback_id = ?1",
                                      "DELETE FROM shipbacks WHERE id = ?1"};
    for (size_t i = 0; rc == CTM_OK && i < 2; i++) {
        ctm__st *st = NULL;
        if ((rc = ctm__prepare(db, &st, sql[i])) == CTM_OK) {
            ctm__st_bind_int(st, 1, b.id);
            rc = ctm__step_done(db, st, "cancelling the shipback");
        }
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_shipbacks(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "shipbacks", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, b.number AS shipment, b.destination AS destination,"
            " b.status AS status, (SELECT count(*) FROM shipback_kits sk"
            "   WHERE sk.shipback_id = b.id) AS kits,"
            " b.packed_us AS packed, b.packed_by AS packed_by, b.dispatched_us AS dispatched,"
            " b.dispatched_by AS dispatched_by, b.reference AS reference"
            " FROM shipbacks b JOIN trials t ON t.id = b.trial_id"
            " WHERE ?1 IS NULL OR b.trial_id = ?1 ORDER BY t.code, b.packed_us, b.number");
    if (rc != CTM_OK)
        return rc;
    if (t.id != 0)
        ctm__st_bind_int(st, 1, t.id);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    return rc == CTM_OK ? ctm__query_show(out, CTM__SHOW_TIME, "packed", "dispatched", NULL) : rc;
}

/* The manifest's rows: the status a kit had when packed is its status while packed, and after the
 * dispatch the one its history (kit_events) records before returned_to_sponsor.  units_left:
 * what a subject brought back, counted (kit_returns), else the kit's units. */
int ctm_shipback_kits(ctm_query **out, ctm_db *db, const char *trial, const char *shipment)
{
    ctm__trial t;
    shipback_row b;
    int rc = ctm__listing_begin(out, db, "shipback kits", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: required");
    if (rc == CTM_OK)
        rc = shipback_lookup(db, t.id, shipment, &b);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT b.number AS shipment, k.kit_number AS kit_number, kt.code AS kit_type,"
            " l.batch AS lot, COALESCE(k.expiry, l.expiry) AS expiry,"
            " CASE WHEN k.status = 'returned_to_sponsor' THEN (SELECT e.status FROM kit_events e"
            "   WHERE e.kit_id = k.id AND e.status <> 'returned_to_sponsor'"
            "   ORDER BY e.id DESC LIMIT 1) ELSE k.status END AS status,"
            " CASE WHEN r.id IS NOT NULL THEN r.units ELSE k.units END AS units_left"
            " FROM shipback_kits sk JOIN shipbacks b ON b.id = sk.shipback_id"
            " JOIN kits k ON k.id = sk.kit_id JOIN kit_types kt ON kt.id = k.kit_type_id"
            " JOIN lots l ON l.id = k.lot_id LEFT JOIN kit_returns r ON r.kit_id = k.id"
            " WHERE b.id = ?1 ORDER BY k.kit_number");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, b.id);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

/* A CSV cell (RFC 4180); a text a spreadsheet would run as a formula gets a leading quote, the
 * rule of the CLI's CSV (docs/cli.md): kit numbers and lots are typed by people. */
static void csv_cell(ctm__buf *b, const char *s)
{
    if (s == NULL)
        return;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        ctm__buf_put(b, "\"", 1);
    if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
        ctm__buf_put(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            ctm__buf_put(b, "\"", 1);
        ctm__buf_put(b, p, 1);
    }
    if (quote)
        ctm__buf_put(b, "\"", 1);
}

int ctm_shipback_manifest(char **csv, ctm_db *db, const char *trial, const char *shipment)
{
    if (csv == NULL) {
        ctm__clear_error();
        return ctm__err(CTM_EINVAL, "csv: NULL");
    }
    *csv = NULL;
    ctm_query *q = NULL;
    int rc = ctm_shipback_kits(&q, db, trial, shipment);
    if (rc != CTM_OK)
        return rc;
    ctm__buf b;
    ctm__buf_init(&b);
    int ncols = ctm_query_column_count(q);
    for (int c = 0; c < ncols; c++) {
        if (c > 0)
            ctm__buf_put(&b, ",", 1);
        csv_cell(&b, ctm_query_column_name(q, c));
    }
    ctm__buf_put(&b, "\r\n", 2);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        for (int c = 0; c < ncols; c++) {
            if (c > 0)
                ctm__buf_put(&b, ",", 1);
            csv_cell(&b, ctm_query_column_type(q, c) == CTM_NULL ? NULL : ctm_query_text(q, c));
        }
        ctm__buf_put(&b, "\r\n", 2);
    }
    ctm_query_free(q);
    if (rc == CTM_DONE)
        rc = b.oom ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
    if (rc == CTM_OK)
        ctm__buf_put(&b, "", 1);
    if (rc == CTM_OK && !b.oom) {
        *csv = (char *)b.p;
        return CTM_OK;
    }
    ctm__buf_free(&b);
    return rc == CTM_OK ? ctm__err(CTM_ENOMEM, "out of memory") : rc;
}
