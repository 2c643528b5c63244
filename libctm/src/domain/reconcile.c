/* reconcile.c - accountability: the reconciliation of a trial's kits per kit type and lot (now or
 * as of a past day), the kits that break it, the DARF-style log per product, and the monitor's
 * e-signed sign-off of a reconciliation.
 *
 * Rules (docs/reconciliation.md):
 * - Every kit the site registered for the trial is "received" once and is in exactly one status,
 *   so received = receiving + available + quarantined + dispensed + returned + pending_destruction
 *   + destroyed + returned_to_sponsor + damaged + missing + lost + expired + not_dispensed +
 *   in_transit (+ unknown, as of a day the history does not cover).  Units of the kits handed to
 *   subjects: dispensed = with_subjects + returned + consumed + lost + uncounted.
 * - A status table always sums, so what breaks a reconciliation is a kit whose other records
 *   disagree with its status: its history (kit_events), its dispensation, its return, its
 *   destruction or its shipback.  One SQL statement (KIT_STATE_SQL) decides every kit's status
 *   and its first problem; the reconciliation counts it and the listing of breaks names the kits.
 * - Now: a kit's history must end (its last row written) in its status.  As of day D: each
 *   kit's status is the kit_events row of the latest time at or before the end of D (UTC);
 *   kits registered after D are left out, but for a receipt of an earlier day (date_received),
 *   which dates its kits' first row at the start of that day: such a kit counts from the day it
 *   arrived, its history row winning over its shipment's later registered_us; kits with no
 *   history (a site upgraded from schema version 7) count with their current status, and a kit
 *   whose history begins after D with a change (not its registration) is "unknown" on D, which
 *   breaks the reconciliation.
 * - The DARF log: + at a kit's registration, - at its dispensing, returns noted but never added
 *   back; a kit that leaves the stock otherwise (transfer, missing, destruction, return to the
 *   sponsor) is - once; a reversal or a found kit is + again.
 * Rows are per kit type and lot, never per arm; nothing here reads an arm. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "report.h"
#include "stock.h"

/* "now" for a current reconciliation: every dated row counts */
#define ALL_TIME INT64_C(9000000000000000000)

/* ---- the state of every kit, and its first problem ----
 * ?1 trial id, ?2 the last instant that counts, ?3 1 for the current state (kits.status and the
 * cross-checks against current rows), 0 as of ?2 (the history), ?4 no limit, ?5 the last day that
 * counts ("YYYY-MM-DD"; returns are dated by the day the kit came back).  A kit's newest history
 * row, now or as of ?2, is its last along kit_events_by_kit (kit, time, id, status, user: the index
 * holds all the look-up needs): its rows in time order are its rows in the order written
 * (stock.c).  Each statement is written for one kind and one engine (KIT_STATE_SQL(ST, NOW, K1,
 * HANDED, OPEN)): the status ST is the kit's column for a current reconciliation (ST_NOW, NOW
 * "1 = 1") and its history row as of a day (ST_AS_OF, NOW "1 = 0"), and the checks only a current
 * one makes are left out of the other by NOW; ?3 stays, tested once, so that both engines bind
 * the same parameters.  K1 gives each kit with its newest history row (ev), HANDED and OPEN its
 * dispensations:
 * - SQLite (K1_LOOKUP): one look-up per kit, in the index; "LIMIT ?4 OFFSET 0" keeps it from
 *   copying that correlated look-up into every place the outer query names its column, each then
 *   run again for every kit; the dispensation checks are look-ups too, made only for the kits
 *   whose status asks for them.
 * - PostgreSQL (K1_PASS): a look-up per kit costs it about three times what a kit's share of one
 *   pass over the index does, so every kit's newest row comes from one pass over the index (in
 *   kit order, the newest row of each kit first) and the dispensations from one pass over theirs,
 *   both joined to the trial's kits.  The passes read the whole site's history: a small trial at
 *   a large site pays for the site's, which is still one read of an index (docs/performance.md). */
#define HANDED_STATUSES "('dispensed', 'returned', 'lost_by_subject')"
#define AFTER_HANDING                                                                         \
    "('dispensed', 'returned', 'lost_by_subject', 'pending_destruction', 'destroyed',"        \
    " 'returned_to_sponsor')"
/* a dispensation that handed the kit out by ?2; one still open */
#define DISP_HANDED                                                                               \
    "d.status IN ('dispensed', 'replaced') AND d.dispensed_us IS NOT NULL AND d.dispensed_us <= ?2"
#define DISP_OPEN "d.status = 'dispensed'"

#define K1_COLUMNS                                                                             \
    "k.id, k.kit_number, k.kit_type_id, k.lot_id, k.units, k.shipment_id, k.status AS now_status"
#define K1_LOOKUP                                                                              \
    "(SELECT " K1_COLUMNS ", (SELECT e.status FROM kit_events e WHERE e.kit_id = k.id"         \
    "  AND e.at_us <= ?2 ORDER BY e.at_us DESC, e.id DESC LIMIT 1) AS ev"                       \
    "  FROM kits k WHERE k.trial_id = ?1 LIMIT ?4 OFFSET 0) k1"
#define HANDED_LOOKUP                                                                          \
    "EXISTS (SELECT 1 FROM dispensations d WHERE d.kit_id = k1.id AND " DISP_HANDED ")"
#define OPEN_LOOKUP "EXISTS (SELECT 1 FROM dispensations d WHERE d.kit_id = k1.id AND " DISP_OPEN ")"
#define K1_PASS                                                                                \
    "(SELECT " K1_COLUMNS ", ev.status AS ev, COALESCE(dk.handed, 0) AS handed,"              \
    "  COALESCE(dk.open, 0) AS open FROM kits k"                                               \
    "  LEFT JOIN (SELECT DISTINCT ON (e.kit_id) e.kit_id, e.status FROM kit_events e"          \
    "   WHERE e.at_us <= ?2 ORDER BY e.kit_id DESC, e.at_us DESC, e.id DESC) ev"               \
    "  ON ev.kit_id = k.id"                                                                    \
    "  LEFT JOIN (SELECT d.kit_id, MAX(CASE WHEN " DISP_HANDED " THEN 1 ELSE 0 END) AS handed,"   \
    "   MAX(CASE WHEN " DISP_OPEN " THEN 1 ELSE 0 END) AS open FROM dispensations d"              \
    "   GROUP BY d.kit_id) dk ON dk.kit_id = k.id WHERE k.trial_id = ?1 LIMIT ?4) k1"
#define HANDED_PASS "k1.handed = 1"
#define OPEN_PASS "k1.open = 1"

#define ST_NOW "k1.now_status"
#define ST_AS_OF                                                                               \
    "COALESCE(k1.ev, CASE"                                                                     \
    "  WHEN COALESCE((SELECT s.registered_us FROM shipments s WHERE s.id = k1.shipment_id), 0)"  \
    "   > ?2 THEN NULL"                                                                        \
    "  WHEN NOT EXISTS (SELECT 1 FROM kit_events e WHERE e.kit_id = k1.id) THEN k1.now_status"  \
    "  WHEN (SELECT e.status FROM kit_events e WHERE e.kit_id = k1.id"                         \
    "   ORDER BY e.at_us, e.id LIMIT 1) = 'received' THEN NULL"                               \
    "  ELSE 'unknown' END)"

#define KIT_STATE_SQL(ST, NOW, K1, HANDED, OPEN)                                               \
    "SELECT k1.id AS id, k1.kit_number AS kit_number, k1.kit_type_id AS kit_type_id,"         \
    " k1.lot_id AS lot_id, k1.units AS units, " ST " AS status, r.id AS return_id,"        \
    " r.lost AS lost, r.units AS returned_units,"                                              \
    " CASE"                                                                                    \
    "  WHEN " ST " = 'unknown' THEN 'status on that day unknown: its history begins later'" \
    "  WHEN " NOW " AND COALESCE(k1.ev, k1.now_status) <> k1.now_status"                        \
    "   THEN 'history (kit_events) ends ' || k1.ev || ' but the kit is ' || k1.now_status"     \
    "  WHEN " ST " IN " HANDED_STATUSES " AND NOT " HANDED                                  \
    "   THEN " ST " || ' without a dispensation'"                                          \
    "  WHEN " NOW " AND k1.now_status NOT IN " AFTER_HANDING " AND " OPEN                     \
    "   THEN 'dispensed to a subject but ' || k1.now_status"                                   \
    "  WHEN " ST " IN ('returned', 'lost_by_subject') AND r.id IS NULL"                     \
    "   THEN " ST " || ' without a return recorded'"                                       \
    "  WHEN r.units IS NOT NULL AND r.units > k1.units"                                        \
    "   THEN 'returned units ' || CAST(r.units AS TEXT) || ' above the '"                       \
    "   || CAST(k1.units AS TEXT) || ' dispensed'"                                             \
    "  WHEN " ST " = 'destroyed' AND NOT EXISTS (SELECT 1 FROM destructions z"              \
    "   WHERE z.kit_id = k1.id AND z.destroyed_us <= ?2)"                                      \
    "   THEN 'destroyed without a destruction recorded'"                                       \
    "  WHEN " ST " = 'returned_to_sponsor' AND NOT EXISTS (SELECT 1 FROM shipback_kits b"    \
    "   JOIN shipbacks s ON s.id = b.shipback_id WHERE b.kit_id = k1.id"                       \
    "   AND s.status = 'dispatched' AND s.dispatched_us <= ?2)"                                \
    "   THEN 'returned_to_sponsor without a dispatched shipback'"                              \
    "  ELSE NULL END AS problem"                                                               \
    " FROM " K1                                                                                \
    " LEFT JOIN kit_returns r ON r.kit_id = k1.id AND r.returned_on <= ?5"                     \
    " WHERE " ST " IS NOT NULL AND ?3 IN (0, 1)"
/* The four statements of a kind of listing L (a macro of the KIT_STATE_SQL arguments),
 * [postgres][current]. */
#define KIT_STATE_KINDS(L)                                                                     \
    {{L(ST_AS_OF, "1 = 0", K1_LOOKUP, HANDED_LOOKUP, OPEN_LOOKUP),                             \
      L(ST_NOW, "1 = 1", K1_LOOKUP, HANDED_LOOKUP, OPEN_LOOKUP)},                              \
     {L(ST_AS_OF, "1 = 0", K1_PASS, HANDED_PASS, OPEN_PASS),                                   \
      L(ST_NOW, "1 = 1", K1_PASS, HANDED_PASS, OPEN_PASS)}}

/* A trial and the instant a reconciliation is drawn at. */
typedef struct recon_scope {
    ctm__trial t;
    int64_t until_us;
    int current;
    char as_of[11]; /* the day, "YYYY-MM-DD" (today for a current one) */
} recon_scope;

static int scope_of(ctm_db *db, const char *trial, const char *as_of, recon_scope *s)
{
    memset(s, 0, sizeof *s);
    int rc = ctm__trial_lookup(db, trial, &s->t);
    if (rc != CTM_OK)
        return rc;
    int64_t today = ctm__today();
    if (as_of == NULL) {
        s->current = 1;
        s->until_us = ALL_TIME;
        ctm__format_date(today, s->as_of);
        return CTM_OK;
    }
    int64_t day = 0;
    if ((rc = ctm__parse_date("as_of", as_of, &day)) != CTM_OK)
        return rc;
    if (day > today)
        return ctm__err(CTM_EINVAL, "as_of: '%s' is in the future", as_of);
    s->until_us = (day + 1) * CTM__DAY_US - 1;
    ctm__format_date(day, s->as_of);
    return CTM_OK;
}

static int prepare_scoped(ctm_db *db, ctm__st **st, const char *sql, const recon_scope *s)
{
    int rc = ctm__prepare(db, st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(*st, 1, s->t.id);
    ctm__st_bind_int(*st, 2, s->until_us);
    ctm__st_bind_int(*st, 3, s->current);
    ctm__st_bind_int(*st, 4, INT64_MAX);
    ctm__st_bind_text_copy(*st, 5, s->current ? "9999-12-31" : s->as_of); /* outlives s */
    return CTM_OK;
}

/* ---- the reconciliation: counts per kit type and lot, then a total ---- */

/* The columns of the reconciliation; the status columns follow the statuses they count. */
static const char *const status_cols[][2] = {
    {"received", "receiving"},
    {"available", "available"},
    {"quarantined", "quarantined"},
    {"dispensed", "dispensed"},
    {"returned", "returned"},
    {"pending_destruction", "pending_destruction"},
    {"destroyed", "destroyed"},
    {"returned_to_sponsor", "returned_to_sponsor"},
    {"damaged", "damaged"},
    {"missing", "missing"},
    {"lost_by_subject", "lost"},
    {"expired", "expired"},
    {"not_dispensed", "not_dispensed"},
    {"in_transit", "in_transit"},
    {"unknown", "unknown"},
};
#define NSTATUS (sizeof status_cols / sizeof status_cols[0])
enum { U_DISPENSED, U_WITH_SUBJECTS, U_RETURNED, U_CONSUMED, U_LOST, U_UNCOUNTED, NUNITS };
static const char *const unit_cols[NUNITS] = {"dispensed_units", "with_subjects_units",
                                              "returned_units", "consumed_units", "lost_units",
                                              "uncounted_units"};

typedef struct recon_row {
    char *kit_type, *lot; /* NULL, NULL: the total */
    int64_t kit_type_id, lot_id;
    int64_t received;
    int64_t status[NSTATUS];
    int64_t units[NUNITS];
    int64_t breaks;
} recon_row;

typedef struct recon {
    recon_row *rows;
    size_t n, cap;
    size_t *slots, nslots; /* (kit type, lot) -> 1 + row index, open addressing */
    char as_of[11]; /* the day asked for, or "" for now */
} recon;

static void recon_free(void *p)
{
    recon *r = p;
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].kit_type);
        free(r->rows[i].lot);
    }
    free(r->rows);
    free(r->slots);
    free(r);
}

/* Each kit's state, or (PostgreSQL) the states grouped by kit type, lot and status: kit type
 * id, lot id, status, kits, breaks, then the units (unit_cols' order).  On SQLite the kits are
 * counted here as they stream by: its GROUP BY would sort every kit first, which costs more than
 * the reconciliation's own look-ups; PostgreSQL groups in a hash as it goes and sends a row per
 * group, not per kit.  Either way recon_count adds a row in. */
#define RECON_UNITS(SUM)                                                                       \
    SUM "(CASE WHEN y.problem IS NULL THEN 0 ELSE 1 END),"                                    \
    SUM "(CASE WHEN y.status = 'dispensed' OR y.return_id IS NOT NULL THEN y.units ELSE 0 END)," \
    SUM "(CASE WHEN y.status = 'dispensed' AND y.return_id IS NULL THEN y.units ELSE 0 END),"  \
    SUM "(CASE WHEN y.lost = 0 THEN COALESCE(y.returned_units, 0) ELSE 0 END),"                \
    SUM "(CASE WHEN y.lost = 0 AND y.returned_units IS NOT NULL"                               \
    "  THEN y.units - y.returned_units ELSE 0 END),"                                           \
    SUM "(CASE WHEN y.lost = 1 THEN y.units ELSE 0 END),"                                      \
    SUM "(CASE WHEN y.lost = 0 AND y.returned_units IS NULL THEN y.units ELSE 0 END)"
/* SQLite's statements count each kit here; PostgreSQL's group on the server. */
#define RECON_EACH(ST, NOW, K1, HANDED, OPEN)                                                  \
    "SELECT y.kit_type_id, y.lot_id, y.status, 1, " RECON_UNITS("")                           \
    " FROM (" KIT_STATE_SQL(ST, NOW, K1, HANDED, OPEN) ") y"
#define RECON_GROUPED(ST, NOW, K1, HANDED, OPEN)                                               \
    "SELECT y.kit_type_id, y.lot_id, y.status, COUNT(*), " RECON_UNITS("SUM")                 \
    " FROM (" KIT_STATE_SQL(ST, NOW, K1, HANDED, OPEN) ") y"                                   \
    " GROUP BY y.kit_type_id, y.lot_id, y.status"
static const char *const recon_each_sql[2][2] = KIT_STATE_KINDS(RECON_EACH);
static const char *const recon_grouped_sql[2][2] = KIT_STATE_KINDS(RECON_GROUPED);

static int recon_add_row(recon *r, const char *kit_type, const char *lot)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        recon_row *rows = realloc(r->rows, cap * sizeof *rows);
        if (rows == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        r->rows = rows;
        r->cap = cap;
    }
    recon_row *row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    r->n++;
    if (kit_type == NULL)
        return CTM_OK;
    row->kit_type = ctm__strdup(kit_type);
    row->lot = ctm__strdup(lot);
    return row->kit_type && row->lot ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

static size_t recon_hash(int64_t kit_type_id, int64_t lot_id, size_t nslots)
{
    uint64_t h = (uint64_t)kit_type_id * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)lot_id;
    h ^= h >> 29;
    return (size_t)(h * UINT64_C(0xBF58476D1CE4E5B9) >> 17) & (nslots - 1);
}

/* The slot of (kit type, lot), or of where it would go. */
static size_t *recon_slot(recon *r, int64_t kit_type_id, int64_t lot_id)
{
    size_t i = recon_hash(kit_type_id, lot_id, r->nslots);
    for (;; i = (i + 1) & (r->nslots - 1)) {
        size_t *slot = &r->slots[i];
        if (*slot == 0 || (r->rows[*slot - 1].kit_type_id == kit_type_id &&
                           r->rows[*slot - 1].lot_id == lot_id))
            return slot;
    }
}

/* The row of (kit type, lot), added when new; the table of slots kept under half full. */
static int recon_row_of(recon *r, int64_t kit_type_id, int64_t lot_id, recon_row **out)
{
    if (2 * (r->n + 1) > r->nslots) {
        size_t nslots = r->nslots ? 2 * r->nslots : 64;
        size_t *slots = calloc(nslots, sizeof *slots);
        if (slots == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        free(r->slots);
        r->slots = slots;
        r->nslots = nslots;
        for (size_t i = 0; i < r->n; i++)
            *recon_slot(r, r->rows[i].kit_type_id, r->rows[i].lot_id) = i + 1;
    }
    size_t *slot = recon_slot(r, kit_type_id, lot_id);
    if (*slot == 0) {
        int rc = recon_add_row(r, NULL, NULL);
        if (rc != CTM_OK)
            return rc;
        r->rows[r->n - 1].kit_type_id = kit_type_id;
        r->rows[r->n - 1].lot_id = lot_id;
        *slot = r->n;
    }
    *out = &r->rows[*slot - 1];
    return CTM_OK;
}

static void recon_count(recon_row *row, const char *status, ctm__st *st)
{
    int64_t kits = ctm__st_int(st, 3);
    row->received += kits;
    for (size_t i = 0; i < NSTATUS; i++)
        if (strcmp(status_cols[i][0], status) == 0) {
            row->status[i] += kits;
            break;
        }
    row->breaks += ctm__st_int(st, 4);
    for (int u = 0; u < NUNITS; u++)
        row->units[u] += ctm__st_int(st, 5 + u);
}

static int recon_by_names(const void *a, const void *b)
{
    const recon_row *x = a, *y = b;
    int c = strcmp(x->kit_type, y->kit_type);
    return c != 0 ? c : strcmp(x->lot, y->lot);
}

/* Each row's kit type code and lot batch, read in one pass over the trial's kit types and lots,
 * then the rows in their order. */
static int recon_name_rows(ctm_db *db, const recon_scope *sc, recon *r)
{
    ctm__st *st = NULL;
    int rc = r->n == 0 ? CTM_OK
                       : ctm__prepare(db, &st,
                                      "SELECT kt.id, kt.code, l.id, l.batch FROM kit_types kt"
                                      " JOIN lots l ON l.trial_id = kt.trial_id"
                                      " WHERE kt.trial_id = ?1");
    if (rc != CTM_OK || r->n == 0)
        return rc;
    ctm__st_bind_int(st, 1, sc->t.id);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        size_t *slot = recon_slot(r, ctm__st_int(st, 0), ctm__st_int(st, 2));
        if (*slot == 0)
            continue;
        recon_row *row = &r->rows[*slot - 1];
        row->kit_type = ctm__strdup(ctm__st_text(st, 1));
        row->lot = ctm__strdup(ctm__st_text(st, 3));
        if (row->kit_type == NULL || row->lot == NULL)
            rc = ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading kit types and lots");
    ctm__st_finalize(st);
    for (size_t i = 0; rc == CTM_OK && i < r->n; i++)
        if (r->rows[i].kit_type == NULL)
            rc = ctm__err(CTM_EINTEGRITY,
                          "a kit of kit type %" PRId64 " and lot %" PRId64 " without them",
                          r->rows[i].kit_type_id, r->rows[i].lot_id);
    if (rc == CTM_OK)
        qsort(r->rows, r->n, sizeof *r->rows, recon_by_names);
    return rc;
}

/* Read the kit states into r: a row per kit type and lot, then the total. */
static int recon_load(ctm_db *db, const recon_scope *s, recon *r)
{
    ctm__st *st = NULL;
    int pg = ctm__store_engine(db->store) == CTM__ENGINE_POSTGRES;
    int rc = prepare_scoped(db, &st, (pg ? recon_grouped_sql : recon_each_sql)[pg][s->current], s);
    if (rc != CTM_OK)
        return rc;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        recon_row *row = NULL;
        rc = recon_row_of(r, ctm__st_int(st, 0), ctm__st_int(st, 1), &row);
        if (rc == CTM_OK)
            recon_count(row, ctm__st_text(st, 2), st);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the kits for the reconciliation");
    ctm__st_finalize(st);
    if (rc == CTM_OK)
        rc = recon_name_rows(db, s, r);
    if (rc == CTM_OK)
        rc = recon_add_row(r, NULL, NULL);
    for (size_t i = 0; rc == CTM_OK && i + 1 < r->n; i++) {
        recon_row *total = &r->rows[r->n - 1];
        total->received += r->rows[i].received;
        total->breaks += r->rows[i].breaks;
        for (size_t k = 0; k < NSTATUS; k++)
            total->status[k] += r->rows[i].status[k];
        for (int u = 0; u < NUNITS; u++)
            total->units[u] += r->rows[i].units[u];
    }
    return rc;
}

/* Balanced: the statuses add up to the kits received, the units handed out to what became of
 * them, and no kit breaks it. */
static int recon_balanced(const recon_row *row)
{
    int64_t kits = 0;
    for (size_t k = 0; k < NSTATUS; k++)
        kits += row->status[k];
    const int64_t *u = row->units;
    return kits == row->received && row->breaks == 0 &&
           u[U_DISPENSED] == u[U_WITH_SUBJECTS] + u[U_RETURNED] + u[U_CONSUMED] + u[U_LOST] +
                                 u[U_UNCOUNTED];
}

#define RECON_NCOLS (4 + NSTATUS + NUNITS + 2)

static int recon_row_fn(ctm__st *st, ctm__row *row, void *ctx)
{
    recon *r = ctx;
    int64_t i = ctm__st_int(st, 0) - 1;
    if (i < 0 || (size_t)i >= r->n)
        return CTM_DONE;
    const recon_row *x = &r->rows[i];
    int c = 0, rc = ctm__row_set_text(row, c++, x->kit_type);
    if (rc == CTM_OK)
        rc = ctm__row_set_text(row, c++, x->lot);
    if (rc != CTM_OK)
        return rc;
    ctm__row_set_int(row, c++, x->received);
    for (size_t k = 0; k < NSTATUS; k++)
        ctm__row_set_int(row, c++, x->status[k]);
    for (int u = 0; u < NUNITS; u++)
        ctm__row_set_int(row, c++, x->units[u]);
    ctm__row_set_int(row, c++, x->breaks);
    ctm__row_set_int(row, c++, recon_balanced(x));
    return ctm__row_set_text(row, c++, r->as_of[0] != '\0' ? r->as_of : NULL);
}

static int recon_compute(ctm_db *db, const char *trial, const char *as_of, recon **out,
                         recon_scope *s)
{
    *out = NULL;
    int rc = scope_of(db, trial, as_of, s);
    recon *r = rc == CTM_OK ? calloc(1, sizeof *r) : NULL;
    if (rc == CTM_OK && r == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK)
        rc = recon_load(db, s, r);
    if (rc != CTM_OK) {
        recon_free(r);
        return rc;
    }
    *out = r;
    return CTM_OK;
}

int ctm_reconciliation(ctm_query **out, ctm_db *db, const char *trial, const char *as_of)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "reconciliation", NULL, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    recon_scope s;
    recon *r = NULL;
    if (rc == CTM_OK)
        rc = recon_compute(db, trial, as_of, &r, &s);
    if (rc != CTM_OK)
        return rc;
    if (!s.current)
        memcpy(r->as_of, s.as_of, sizeof r->as_of);
    const char *names[RECON_NCOLS];
    int c = 0;
    names[c++] = "kit_type";
    names[c++] = "lot";
    names[c++] = "received";
    for (size_t k = 0; k < NSTATUS; k++)
        names[c++] = status_cols[k][1];
    for (int u = 0; u < NUNITS; u++)
        names[c++] = unit_cols[u];
    names[c++] = "breaks";
    names[c++] = "balanced";
    names[c++] = "as_of";
    size_t n = r->n;
    rc = ctm__rows_query(out, db, n, names, c, recon_row_fn, r, recon_free);
    return rc;
}

/* For the sign-off: whether the reconciliation balances. */
static int recon_is_balanced(ctm_db *db, const char *trial, const char *as_of, int *balanced,
                             recon_scope *s)
{
    recon *r = NULL;
    int rc = recon_compute(db, trial, as_of, &r, s);
    if (rc == CTM_OK) {
        *balanced = 1;
        for (size_t i = 0; i < r->n; i++)
            *balanced = *balanced && recon_balanced(&r->rows[i]);
    }
    recon_free(r);
    return rc;
}

/* ---- as reports of the framework (report.c): "reconciliation" and "darf" ---- */

int ctm__reconciliation_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts)
{
    return ctm_reconciliation(out, db, opts->trial, opts->as_of);
}

/* Above the rows: whether it balances, how many kits break it, how many were received.  Drawn
 * from the rows the report just read (the total last), not by reconciling again: that would
 * cost as much, and read the site a second time. */
int ctm__reconciliation_summary(ctm__report_summary *s, const ctm__table *rows)
{
    size_t last = rows->nrows - 1;
    if (rows->nrows == 0 || ctm__table_cell(rows, last, "balanced") == NULL)
        return ctm__err(CTM_ERROR, "reconciliation: the rows lack their total");
    const char *breaks = ctm__table_cell(rows, last, "breaks"),
               *received = ctm__table_cell(rows, last, "received");
    int balanced = 1;
    for (size_t r = 0; r < rows->nrows; r++) {
        const char *b = ctm__table_cell(rows, r, "balanced");
        balanced = balanced && b != NULL && strcmp(b, "1") == 0;
    }
    int rc = ctm__summary_bool(s, "balanced", balanced);
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "breaks", strtoll(breaks != NULL ? breaks : "0", NULL, 10));
    if (rc == CTM_OK)
        rc = ctm__summary_int(s, "received", strtoll(received != NULL ? received : "0", NULL, 10));
    return rc;
}

int ctm__darf_rows(ctm_query **out, ctm_db *db, const ctm_report_options *opts)
{
    return ctm_darf(out, db, opts->trial, opts->kit_type);
}

/* ---- the kits that break it ---- */

#define BREAKS_SQL(ST, NOW, K1, HANDED, OPEN)                                                  \
    "SELECT y.kit_number AS kit, kt.code AS kit_type, l.batch AS lot,"                        \
    " y.status AS status, y.problem AS problem"                                               \
    " FROM (" KIT_STATE_SQL(ST, NOW, K1, HANDED, OPEN) ") y"                                   \
    " JOIN kit_types kt ON kt.id = y.kit_type_id"                                              \
    " JOIN lots l ON l.id = y.lot_id"                                                          \
    " WHERE y.problem IS NOT NULL ORDER BY y.kit_number"
static const char *const breaks_sql[2][2] = KIT_STATE_KINDS(BREAKS_SQL);

int ctm_reconciliation_breaks(ctm_query **out, ctm_db *db, const char *trial, const char *as_of)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "reconciliation breaks", NULL, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    recon_scope s;
    if (rc == CTM_OK)
        rc = scope_of(db, trial, as_of, &s);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = prepare_scoped(
            db, &st, breaks_sql[ctm__store_engine(db->store) == CTM__ENGINE_POSTGRES][s.current],
            &s);
    if (rc != CTM_OK)
        return rc;
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

/* ---- the DARF log ---- */

/* A kit's place in the balance as its events go by. */
enum darf_state { D_NONE, D_ON_HAND, D_AWAY, D_HANDED, D_GONE };

typedef struct darf {
    int64_t min_id;
    size_t span;
    unsigned char *state; /* per kit id - min_id */
    char kit_type[64];
    int64_t balance, balance_units;
    int64_t last_at, last_id;  /* the order check: the previous row's time and id */
    char **seen;               /* the kit types done */
    size_t nseen;
} darf;

static void darf_free(void *p)
{
    darf *d = p;
    if (d != NULL) {
        free(d->state);
        for (size_t i = 0; i < d->nseen; i++)
            free(d->seen[i]);
        free(d->seen);
    }
    free(d);
}

/* The rows must come by kit type, each kit type once, then by time and id: the running balance
 * is only right in that order. */
static int darf_in_order(darf *d, const char *kit_type, int64_t at, int64_t id)
{
    if (d->nseen > 0 && strcmp(kit_type, d->seen[d->nseen - 1]) == 0) {
        if (at < d->last_at || (at == d->last_at && id <= d->last_id))
            return ctm__err(CTM_ERROR, "DARF: the history came out of time order");
    } else {
        for (size_t i = 0; i < d->nseen; i++)
            if (strcmp(kit_type, d->seen[i]) == 0)
                return ctm__err(CTM_ERROR, "DARF: kit type %.64s came twice", kit_type);
        char **seen = realloc(d->seen, (d->nseen + 1) * sizeof *seen);
        if (seen == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        d->seen = seen;
        if ((d->seen[d->nseen] = ctm__strdup(kit_type)) == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        d->nseen++;
    }
    d->last_at = at;
    d->last_id = id;
    return CTM_OK;
}

static int darf_status_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

/* The change of the balance (in kits) when a kit in state *state enters status; *state moves
 * on.  *noted: the event is a line of the log even without a change. */
static int darf_delta(unsigned char *state, const char *status, int *noted)
{
    static const char *const stock[] = {"received", "available", "quarantined", "expired",
                                        "damaged", "pending_destruction", NULL};
    static const char *const away[] = {"missing", "in_transit", NULL};
    static const char *const gone[] = {"destroyed", "returned_to_sponsor", NULL};
    *noted = 1;
    if (*state == D_NONE && strcmp(status, "received") != 0)
        *state = D_ON_HAND; /* history begins after the upgrade: brought forward */
    int before = *state;
    if (darf_status_in(status, stock)) {
        *noted = before == D_NONE || before == D_AWAY || strcmp(status, "received") == 0;
        if (before == D_HANDED || before == D_GONE) {
            *noted = 0;
            return 0;
        }
        *state = D_ON_HAND;
        return before == D_ON_HAND ? 0 : 1;
    }
    if (strcmp(status, "not_dispensed") == 0) {
        *state = D_ON_HAND;
        return before == D_ON_HAND ? 0 : 1;
    }
    if (strcmp(status, "dispensed") == 0) {
        *state = D_HANDED;
        return before == D_ON_HAND ? -1 : 0;
    }
    if (darf_status_in(status, away)) {
        *state = D_AWAY;
        return before == D_ON_HAND ? -1 : 0;
    }
    if (darf_status_in(status, gone)) {
        *state = D_GONE;
        return before == D_ON_HAND ? -1 : 0;
    }
    /* returned, lost_by_subject: noted, never added back */
    *state = before == D_ON_HAND ? D_ON_HAND : D_HANDED;
    return 0;
}

/* The trial's DARF lines (darf_lines, written with the history: stock.c) in kit type and time
 * order.  The rows left out of darf_lines are those darf_delta would skip: a status inside the
 * stock that follows another inside it changes nothing.  darf_delta still decides each line's
 * change (a status inside the stock after the kit was handed out or gone is no line either), and
 * darf_row_fn checks the order.
 * - SQLite reads each kit type's lines along darf_lines_by_kit_type, kit types in code order
 *   (their unique index): the order the log needs, with no sort; each line's kit, lot,
 *   dispensation and return are look-ups.
 * - PostgreSQL, whose planner may join in any order, joins each line's kit, dispensation and
 *   return in passes over theirs (a join, not a look-up per line) and sorts the lines, which are
 *   far fewer than the history's rows. */
#define DARF_SUBJECT                                                                          \
    " LEFT JOIN dispensations d ON d.id = CASE WHEN e.status IN " HANDED_STATUSES              \
    "  THEN (SELECT d2.id FROM dispensations d2 WHERE d2.kit_id = k.id"                        \
    "  AND d2.status IN ('dispensed', 'replaced') AND d2.dispensed_us IS NOT NULL"             \
    "  ORDER BY d2.id DESC LIMIT 1) END"                                                       \
    " LEFT JOIN subjects s ON s.id = d.subject_id"
static const char *const darf_sql[2] = {
    "SELECT e.at_us, kt.code, kt.name, kt.strength, l.batch, k.kit_number, e.status,"
    " k.units, e.by_user, k.id, s.screening, s.rand_number, d.dose_level,"
    " CASE WHEN e.status = 'returned' THEN (SELECT r.units FROM kit_returns r"
    "  WHERE r.kit_id = k.id) END, e.id"
    " FROM kit_types kt CROSS JOIN darf_lines e ON e.kit_type_id = kt.id"
    " CROSS JOIN kits k ON k.id = e.kit_id CROSS JOIN lots l ON l.id = k.lot_id"
    DARF_SUBJECT
    " WHERE kt.trial_id = ?1 AND (?2 = 0 OR kt.id = ?2) ORDER BY kt.code, e.at_us, e.id",
    "SELECT e.at_us, kt.code, kt.name, kt.strength, l.batch, k.kit_number, e.status,"
    " k.units, e.by_user, k.id, s.screening, s.rand_number, dd.dose_level, r.units, e.id"
    " FROM darf_lines e JOIN kit_types kt ON kt.id = e.kit_type_id AND kt.trial_id = ?1"
    "  AND (?2 = 0 OR kt.id = ?2)"
    " JOIN kits k ON k.id = e.kit_id JOIN lots l ON l.id = k.lot_id"
    " LEFT JOIN (SELECT DISTINCT ON (d.kit_id) d.kit_id, d.subject_id, d.dose_level"
    "  FROM dispensations d WHERE d.status IN ('dispensed', 'replaced')"
    "  AND d.dispensed_us IS NOT NULL ORDER BY d.kit_id, d.id DESC) dd"
    "  ON dd.kit_id = e.kit_id AND e.status IN " HANDED_STATUSES
    " LEFT JOIN subjects s ON s.id = dd.subject_id"
    " LEFT JOIN kit_returns r ON r.kit_id = e.kit_id AND e.status = 'returned'"
    " ORDER BY kt.code COLLATE \"C\", e.at_us, e.id",
};

static const char *const darf_cols[] = {
    "date",  "kit_type", "product", "dose",   "lot",           "kit",
    "subject", "rand_number", "dose_level", "event", "quantity", "quantity_units",
    "balance", "balance_units", "returned_units", "recorder"};
#define DARF_NCOLS ((int)(sizeof darf_cols / sizeof darf_cols[0]))

static int set_text_or_null(ctm__row *row, int col, ctm__st *st, int i)
{
    if (ctm__st_type(st, i) == CTM_V_NULL) {
        ctm__row_set_null(row, col);
        return CTM_OK;
    }
    return ctm__row_set_text(row, col, ctm__st_text(st, i));
}

static int darf_row_fn(ctm__st *st, ctm__row *row, void *ctx)
{
    darf *d = ctx;
    const char *kit_type = ctm__st_text(st, 1);
    int rc = darf_in_order(d, kit_type, ctm__st_int(st, 0), ctm__st_int(st, 14));
    if (rc != CTM_OK)
        return rc;
    if (strcmp(kit_type, d->kit_type) != 0) {
        snprintf(d->kit_type, sizeof d->kit_type, "%s", kit_type);
        d->balance = d->balance_units = 0;
    }
    int64_t idx = ctm__st_int(st, 9) - d->min_id;
    if (idx < 0 || (size_t)idx >= d->span)
        return ctm__err(CTM_ERROR, "DARF: a kit outside the trial's kits");
    int noted = 0;
    int delta = darf_delta(&d->state[idx], ctm__st_text(st, 6), &noted);
    if (!noted && delta == 0)
        return CTM__SKIP;
    int64_t units = ctm__st_int(st, 7);
    d->balance += delta;
    d->balance_units += delta * units;
    char when[32];
    ctm__format_time_seconds(ctm__st_int(st, 0), when, sizeof when);
    rc = ctm__row_set_text(row, 0, when);
    static const int texts[][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5},
                                   {6, 10}, {7, 11}, {9, 6}, {15, 8}};
    for (size_t i = 0; rc == CTM_OK && i < sizeof texts / sizeof texts[0]; i++)
        rc = set_text_or_null(row, texts[i][0], st, texts[i][1]);
    if (rc != CTM_OK)
        return rc;
    if (ctm__st_type(st, 12) == CTM_V_NULL)
        ctm__row_set_null(row, 8);
    else
        ctm__row_set_int(row, 8, ctm__st_int(st, 12));
    ctm__row_set_int(row, 10, delta);
    ctm__row_set_int(row, 11, delta * units);
    ctm__row_set_int(row, 12, d->balance);
    ctm__row_set_int(row, 13, d->balance_units);
    if (ctm__st_type(st, 13) == CTM_V_NULL)
        ctm__row_set_null(row, 14);
    else
        ctm__row_set_int(row, 14, ctm__st_int(st, 13));
    return CTM_OK;
}

/* The trial's kit ids span: the state array covers them. */
static int darf_span(ctm_db *db, int64_t trial_id, darf *d)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT MIN(id), MAX(id) FROM kits WHERE trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL) {
        d->min_id = ctm__st_int(st, 0);
        d->span = (size_t)(ctm__st_int(st, 1) - d->min_id + 1);
    } else if (src != CTM_ROW && src != CTM_OK) {
        rc = ctm__store_fail(src, "reading the trial's kits");
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK && (d->state = calloc(d->span ? d->span : 1, 1)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    return rc;
}

static int kit_type_lookup(ctm_db *db, int64_t trial_id, const char *code, int64_t *id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT id FROM kit_types WHERE trial_id = ?1 AND code = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, code);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        *id = ctm__st_int(st, 0);
    else
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "kit_type: '%.64s' does not exist", code)
                           : ctm__store_fail(src, "reading kit types");
    ctm__st_finalize(st);
    return rc;
}

int ctm_darf(ctm_query **out, ctm_db *db, const char *trial, const char *kit_type)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "DARF", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    /* the lines came with schema version 10; a read-only handle leaves an older site as it is */
    if (rc == CTM_OK && db->schema_version < 10)
        rc = ctm__err(CTM_EVERSION, "DARF: %s is at schema version %d; open it for writing once"
                                    " to bring it to version %d", db->path, db->schema_version,
                      CTM_SCHEMA_VERSION);
    int64_t kit_type_id = 0;
    if (rc == CTM_OK && kit_type != NULL)
        rc = kit_type_lookup(db, t.id, kit_type, &kit_type_id);
    darf *d = rc == CTM_OK ? calloc(1, sizeof *d) : NULL;
    if (rc == CTM_OK && d == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK)
        rc = darf_span(db, t.id, d);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          darf_sql[ctm__store_engine(db->store) == CTM__ENGINE_POSTGRES]);
    if (rc != CTM_OK) {
        darf_free(d);
        return rc;
    }
    ctm__st_bind_int(st, 1, t.id);
    ctm__st_bind_int(st, 2, kit_type_id);
    return ctm__query_new(out, st, darf_cols, DARF_NCOLS, darf_row_fn, d, darf_free);
}

/* ---- the monitor's sign-off ---- */

static int ledger_size(ctm_db *db, int64_t *size)
{
    return ctm__query_int(db, "SELECT COALESCE(MAX(seq) + 1, 0) FROM ledger",
                          "reading the ledger's size", size);
}

int ctm_signoff_reconciliation(ctm_db *db, const char *trial, const char *as_of,
                               const char *comment)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "signoff.reconciliation", "signoff");
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK && comment != NULL)
        rc = ctm__check_text("comment", comment, 500);
    recon_scope s;
    if (rc == CTM_OK)
        rc = scope_of(db, trial, as_of, &s);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "signoff.reconciliation", "")) != CTM_OK)
        return rc;
    /* drawn inside the transaction: what is signed is what the ledger held */
    int balanced = 0;
    int64_t size = 0;
    rc = recon_is_balanced(db, trial, as_of, &balanced, &s);
    if (rc == CTM_OK)
        rc = ledger_size(db, &size);
    char p_size[24];
    snprintf(p_size, sizeof p_size, "%" PRId64, size);
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "as_of", s.as_of);
    ctm__action_param(&a, "balanced", balanced ? "yes" : "no");
    ctm__action_param(&a, "ledger_size", p_size);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO signoffs(trial_id, kind, as_of, balanced, ledger_size,"
                          " signed_us, signed_by, comment)"
                          " VALUES (?1, 'reconciliation', ?2, ?3, ?4, ?5, ?6, ?7)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, s.t.id);
        ctm__st_bind_text(st, 2, s.as_of);
        ctm__st_bind_int(st, 3, balanced);
        ctm__st_bind_int(st, 4, size);
        ctm__st_bind_int(st, 5, ctm__now_us());
        ctm__st_bind_text(st, 6, db->session.user);
        if (comment != NULL)
            ctm__st_bind_text(st, 7, comment);
        else
            ctm__st_bind_null(st, 7);
        rc = ctm__step_done(db, st, "recording the sign-off");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_signoffs(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "signoffs", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT s.id AS signoff, s.kind AS kind, s.as_of AS as_of,"
                          " s.balanced AS balanced, s.ledger_size AS ledger_size,"
                          " s.signed_us AS signed, s.signed_by AS signed_by,"
                          " u.printed_name AS printed_name, s.comment AS comment"
                          " FROM signoffs s LEFT JOIN users u ON u.username = s.signed_by"
                          " WHERE s.trial_id = ?1 ORDER BY s.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t.id);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    return rc == CTM_OK ? ctm__query_show(out, CTM__SHOW_TIME, "signed", NULL) : rc;
}
