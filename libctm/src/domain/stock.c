/* stock.c - kits: the status transition table, listings, expiry, moves between locations. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs1.h"
#include "stock.h"


/* Every change of a kit's status the library makes, in one place.  by_hand marks the changes a
 * pharmacist makes directly with a reason; the others are made by receipt, transfers and
 * expiry extension here, and by dispensing, returns and destruction.  Undoing a scan changes
 * no status, and voiding a receipt deletes its "received" kits rather than giving them one:
 * they never were stock, and their numbers must be free to register the shipment again. */
static const struct transition {
    const char *from, *to;
    int by_hand;
} transitions[] = {
    {"received", "available", 0},          {"received", "quarantined", 0},
    {"received", "damaged", 0},            {"received", "missing", 0},
    {"available", "quarantined", 1},       {"available", "damaged", 1},
    {"available", "missing", 1},           {"available", "expired", 1},
    {"available", "dispensed", 0},         {"available", "in_transit", 0},
    {"quarantined", "available", 1},       {"quarantined", "pending_destruction", 1},
    {"quarantined", "damaged", 1},         {"quarantined", "missing", 1},
    {"quarantined", "expired", 1},         {"quarantined", "in_transit", 0},
    {"missing", "available", 1},           {"missing", "quarantined", 1},
    {"damaged", "pending_destruction", 1}, {"expired", "pending_destruction", 1},
    {"expired", "available", 0},           {"expired", "quarantined", 0},
    {"dispensed", "returned", 0},
    {"dispensed", "lost_by_subject", 0},   {"dispensed", "not_dispensed", 0},
    {"not_dispensed", "quarantined", 0},   {"returned", "pending_destruction", 1},
    {"returned", "returned_to_sponsor", 0}, {"pending_destruction", "destroyed", 0},
    {"pending_destruction", "returned_to_sponsor", 0},
    {"damaged", "returned_to_sponsor", 0}, {"expired", "returned_to_sponsor", 0},
};

/* The statuses are the table's: kits.status takes no other (schema version 4 backs it with a
 * CHECK, which tests/unit/test_stock_rules.c holds against this table on every engine). */
int ctm__status_valid(const char *status)
{
    for (size_t i = 0; status != NULL && i < sizeof transitions / sizeof transitions[0]; i++)
        if (strcmp(transitions[i].from, status) == 0 || strcmp(transitions[i].to, status) == 0)
            return 1;
    return 0;
}

const char *ctm__kit_status(size_t i)
{
    const size_t n = 2 * (sizeof transitions / sizeof transitions[0]);
    for (size_t k = 0; k < n; k++) {
        const char *s = k % 2 ? transitions[k / 2].to : transitions[k / 2].from;
        size_t j = 0;
        while (j < k && strcmp(s, j % 2 ? transitions[j / 2].to : transitions[j / 2].from) != 0)
            j++;
        if (j == k && i-- == 0)
            return s;
    }
    return NULL;
}

int ctm__transition_allowed(const char *from, const char *to, int by_hand)
{
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        if (strcmp(transitions[i].from, from) == 0 && strcmp(transitions[i].to, to) == 0)
            return !by_hand || transitions[i].by_hand;
    return 0;
}

/* ---- the one writer of kits.status ----
 *
 * Every statement that changes a kit's status is built here, and only after the transition table
 * above allows the change: kit_write moves one kit from the status it was read with to `to`
 * (`to` equal to it: unchanged), together with the column `also` names in the same statement, so
 * that the action's entry records one row change.  A kit whose status changed since it was read
 * is refused rather than overwritten.  Receipt's confirmation, which moves a whole shipment out
 * of "received", is ctm__kits_confirm below.  The first status of a kit, CTM__KIT_FIRST_STATUS,
 * is set where receipt inserts it. */
enum kit_also { KIT_ALSO_NOTHING, KIT_ALSO_EXPIRY, KIT_ALSO_LOCATION };

typedef struct kit_row kit_row;
static int kit_write(ctm_db *db, const kit_row *k, const char *to, int by_hand, enum kit_also also,
                     const char *text, int64_t id, int64_t at_us);
static int kit_event(ctm_db *db, int64_t kit_id, const char *status, int64_t at_us);

/* ---- scans: every call that takes a kit takes its barcode too ---- */

/* Trial packs carry the kit's serial in a GS1 DataMatrix; a kit number never starts with ']' or
 * '(' nor holds a GS byte. */
static int looks_like_gs1(const char *s)
{
    return s[0] == ']' || s[0] == '(' || strchr(s, 0x1d) != NULL ||
           (strncmp(s, "01", 2) == 0 && strlen(s) >= 16 && strspn(s, "0123456789") >= 16);
}

int ctm__scan_read(const char *scan, ctm__scan *out)
{
    memset(out, 0, sizeof *out);
    if (scan == NULL || scan[0] == '\0')
        return ctm__err(CTM_EINVAL, "scan: empty");
    if (!looks_like_gs1(scan)) {
        int rc = ctm__check_text("kit number", scan, 40);
        if (rc == CTM_OK)
            snprintf(out->id, sizeof out->id, "%s", scan);
        return rc;
    }
    int rc = ctm_gs1_parse(&out->gs1, scan);
    if (rc != CTM_OK)
        return rc;
    const char *serial = ctm_gs1_get(out->gs1, "21");
    if (serial == NULL)
        return ctm__err(CTM_EINVAL, "scan: the barcode carries no serial (21), so it names no kit");
    snprintf(out->id, sizeof out->id, "%s", serial);
    const char *lot = ctm_gs1_get(out->gs1, "10"), *gtin = ctm_gs1_get(out->gs1, "01");
    const char *expiry = ctm_gs1_expiry(out->gs1);
    if (lot != NULL)
        snprintf(out->lot, sizeof out->lot, "%s", lot);
    if (gtin != NULL)
        snprintf(out->gtin, sizeof out->gtin, "%s", gtin);
    if (expiry != NULL)
        snprintf(out->expiry, sizeof out->expiry, "%s", expiry);
    return CTM_OK;
}

/* A kit of a trial, as the stock calls need it; number is its kit number, whatever named it. */
struct kit_row {
    int64_t id;
    char number[48];
    char status[24];
    int64_t location_id;
    char expiry[11];
};

static int kit_write(ctm_db *db, const kit_row *k, const char *to, int by_hand, enum kit_also also,
                     const char *text, int64_t id, int64_t at_us)
{
    static const char *const sql[] = {
        [KIT_ALSO_NOTHING] = "UPDATE kits SET status = ?3 WHERE id = ?1 AND status = ?2",
        [KIT_ALSO_EXPIRY] = "UPDATE kits SET expiry = ?4, status = ?3 WHERE id = ?1 AND status = ?2",
        [KIT_ALSO_LOCATION] =
            "UPDATE kits SET location_id = ?4, status = ?3 WHERE id = ?1 AND status = ?2",
    };
    if (strcmp(k->status, to) != 0 && !ctm__transition_allowed(k->status, to, by_hand))
        return ctm__err(CTM_ERULE, "kit %s: no change from %s to %s%s", k->number, k->status, to,
                        by_hand ? " by hand" : "");
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql[also]);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, k->id);
    ctm__st_bind_text(st, 2, k->status);
    ctm__st_bind_text(st, 3, to);
    if (also == KIT_ALSO_EXPIRY)
        ctm__st_bind_text(st, 4, text);
    else if (also == KIT_ALSO_LOCATION && id != 0)
        ctm__st_bind_int(st, 4, id);
    rc = ctm__st_run(st);
    int64_t changed = rc == CTM_OK ? ctm__st_changes(st) : 0;
    ctm__st_finalize(st);
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "changing the kit");
    if (changed != 1)
        return ctm__err(CTM_EBUSY, "kit %s: its status changed meanwhile; try again", k->number);
    return strcmp(k->status, to) == 0 ? CTM_OK : kit_event(db, k->id, to, at_us);
}

int ctm__kit_status_move(ctm_db *db, int64_t id, const char *number, const char *from,
                         const char *to, int64_t at_us)
{
    kit_row k;
    memset(&k, 0, sizeof k);
    k.id = id;
    snprintf(k.number, sizeof k.number, "%s", number);
    snprintf(k.status, sizeof k.status, "%s", from);
    return kit_write(db, &k, to, 0, KIT_ALSO_NOTHING, NULL, 0, at_us);
}

int ctm__kit_leave(ctm_db *db, int64_t id, const char *number, const char *from,
                   const char *to, const char *reason)
{
    kit_row k;
    memset(&k, 0, sizeof k);
    k.id = id;
    snprintf(k.number, sizeof k.number, "%s", number);
    snprintf(k.status, sizeof k.status, "%s", from);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT location_id FROM kits WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL)
        k.location_id = ctm__st_int(st, 0);
    else if (src != CTM_ROW)
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "kit %s: gone", number)
                           : ctm__store_fail(src, "reading the kit");
    ctm__st_finalize(st);
    if (rc == CTM_OK && !ctm__transition_allowed(from, to, 0))
        rc = ctm__err(CTM_ERULE, "kit %s: no change from %s to %s", number, from, to);
    if (rc != CTM_OK)
        return rc;
    if ((rc = ctm__prepare(db, &st,
                           "INSERT INTO kit_moves(kit_id, from_location_id, to_location_id,"
                           " moved_us, shipment_id, reason) VALUES (?1, ?2, NULL, ?3, NULL, ?4)")) !=
        CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    if (k.location_id != 0)
        ctm__st_bind_int(st, 2, k.location_id);
    ctm__st_bind_int(st, 3, ctm__now_us());
    ctm__st_bind_text(st, 4, reason);
    if ((rc = ctm__step_done(db, st, "recording the move")) != CTM_OK)
        return rc;
    return kit_write(db, &k, to, 0, KIT_ALSO_LOCATION, NULL, 0, 0);
}

/* ---- the kits' history (kit_events) ----
 *
 * Each status a kit enters is a row of kit_events, written with the change: by kit_write for one
 * kit, and after a statement that changes many (a receipt, its confirmation, an excursion's
 * quarantine or decision) by ctm__kit_events_sync over the kits that statement could touch: every
 * one whose status is not the one its newest row records gets a row.  A kit of a site upgraded
 * from schema version 7 has no row yet: its first change writes one.
 *
 * A kit's rows are in time order as they are written: a row is never dated before the kit's
 * newest one (a change dated in the past, a return on an earlier day, comes after what was
 * recorded since).  So the newest row by time is the last written, and reconciliation reads both
 * "now" and "as of" along kit_events_by_kit.  The rows written in bulk (ctm__kit_events_sync)
 * are dated now, or at the kit's newest row when that is later (a clock set back since): the
 * newest row is looked up anyway, to tell whether the kit changed, and the index holds its time.
 * A receipt's rows, each kit's first (ctm__kit_events_first), are dated without a look-up when
 * the shipment arrived (receipt.c: the time given, or the start of an earlier day), so that a
 * dispensing on paper made after the arrival but recorded before the registration comes after
 * the receipt in the history. */

/* The DARF log's lines (darf_lines): a copy, with the kit's type, of each history row e that may
 * be a line of its kit type's log: every status but those inside the stock, and a status inside
 * the stock that is the kit's first or follows a time away (missing, in transit), which puts the
 * kit back on hand.  The other rows change nothing of the balance.  The log reads its lines
 * along darf_lines_by_kit_type in time order (reconcile.c).  schema.c's DARF_LINE_9 is the same
 * rule, for the rows of a site's history before schema version 10. */
#define DARF_LINE                                                                              \
    " SELECT e.id, k.kit_type_id, e.kit_id, e.status, e.at_us, e.by_user"                      \
    " FROM kit_events e JOIN kits k ON k.id = e.kit_id WHERE %s AND (e.status NOT IN"          \
    "  ('available', 'quarantined', 'expired', 'damaged', 'pending_destruction')"              \
    "  OR COALESCE((SELECT p.status FROM kit_events p WHERE p.kit_id = e.kit_id"               \
    "  AND (p.at_us, p.id) < (e.at_us, e.id) ORDER BY p.at_us DESC, p.id DESC LIMIT 1),"       \
    "  'missing') IN ('missing', 'in_transit')) ORDER BY e.id"

/* The lines among the history rows that `rows` picks (a condition on e, bound to ?1). */
static int darf_lines_write(ctm_db *db, const char *rows, int64_t bound)
{
    char sql[900];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO darf_lines(id, kit_type_id, kit_id, status, at_us, by_user)"
                     DARF_LINE, rows);
    if (n < 0 || (size_t)n >= sizeof sql)
        return ctm__err(CTM_ERROR, "recording the DARF log's lines: condition too long");
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, bound);
    return ctm__step_done(db, st, "recording the DARF log's lines");
}

static int kit_event(ctm_db *db, int64_t kit_id, const char *status, int64_t at_us)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO kit_events(kit_id, status, at_us, by_user)"
                          " SELECT ?1, ?2, CASE WHEN m.at > ?3 THEN m.at ELSE ?3 END, ?4"
                          " FROM (SELECT MAX(e.at_us) AS at FROM kit_events e"
                          " WHERE e.kit_id = ?1) m");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    ctm__st_bind_text(st, 2, status);
    ctm__st_bind_int(st, 3, at_us != 0 ? at_us : ctm__now_us());
    ctm__st_bind_text(st, 4, db->session.user != NULL ? db->session.user : "");
    rc = ctm__step_done(db, st, "recording the kit's history");
    /* the row just written: the kit's of the largest id */
    return rc != CTM_OK ? rc
                        : darf_lines_write(db, "e.id = (SELECT MAX(x.id) FROM kit_events x"
                                               " WHERE x.kit_id = ?1)", kit_id);
}

/* The largest id of the history (0: none): the rows written after it are an action's own, since
 * a site's writes are one at a time (the ledger's lock). */
static int kit_events_last_id(ctm_db *db, int64_t *id)
{
    return ctm__query_int(db, "SELECT COALESCE(MAX(id), 0) FROM kit_events",
                          "reading the kits' history", id);
}

/* A row for each kit of scope whose status its newest row does not record, dated at_us (0: now);
 * new: the kits were registered by this action and have no row yet (no look-up of their newest,
 * and no row to come after). */
static int kit_events_write(ctm_db *db, const char *scope, int64_t scope_id, int new,
                            int64_t at_us)
{
#define NEWEST_AT "(SELECT MAX(e.at_us) FROM kit_events e WHERE e.kit_id = k.id)"
    char sql[900];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO kit_events(kit_id, status, at_us, by_user)"
                     " SELECT k.id, k.status, %s, ?3 FROM kits k WHERE %s%s ORDER BY k.id",
                     new ? "?2"
                         : "CASE WHEN COALESCE(" NEWEST_AT ", 0) > ?2 THEN " NEWEST_AT
                           " ELSE ?2 END",
                     scope,
                     new ? ""
                         : " AND k.status <> COALESCE((SELECT e.status FROM kit_events e"
                           " WHERE e.kit_id = k.id ORDER BY e.at_us DESC, e.id DESC LIMIT 1), '')");
#undef NEWEST_AT
    if (n < 0 || (size_t)n >= sizeof sql)
        return ctm__err(CTM_ERROR, "recording the kits' history: scope too long");
    int64_t last = 0;
    int rc = kit_events_last_id(db, &last);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, scope_id);
    ctm__st_bind_int(st, 2, at_us != 0 ? at_us : ctm__now_us());
    ctm__st_bind_text(st, 3, db->session.user != NULL ? db->session.user : "");
    rc = ctm__step_done(db, st, "recording the kits' history");
    return rc != CTM_OK ? rc : darf_lines_write(db, "e.id > ?1", last);
}

int ctm__kit_events_sync(ctm_db *db, const char *scope, int64_t scope_id)
{
    return kit_events_write(db, scope, scope_id, 0, 0);
}

int ctm__kit_events_first(ctm_db *db, const char *scope, int64_t scope_id, int64_t at_us)
{
    return kit_events_write(db, scope, scope_id, 1, at_us);
}

/* An excursion's row x that holds its kit: not decided, or rejected. */
#define HOLDING_ROW "(x.decision IS NULL OR x.decision = 'rejected')"
/* A kit an excursion holds. */
#define EXCURSION_HOLDS(kit)                                                                   \
    "EXISTS (SELECT 1 FROM excursion_kits x WHERE x.kit_id = " kit " AND " HOLDING_ROW ")"

int ctm__kits_confirm(ctm_db *db, int64_t shipment_id, int excursion, int unchecked_present)
{
    /* what a confirmation may make of a received kit, checked against the table */
    static const char *const outcomes[] = {"available", "quarantined", "damaged", "missing"};
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
        if (!ctm__transition_allowed(CTM__KIT_FIRST_STATUS, outcomes[i], 0))
            return ctm__err(CTM_ERROR, "confirming: %s -> %s is not a kit transition",
                            CTM__KIT_FIRST_STATUS, outcomes[i]);
    /* Nothing unexpected becomes available: a mismatch or an excursion (declared, or recorded
     * from a logger and not released) means quarantine. */
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE kits SET status = CASE checked"
                          " WHEN 3 THEN 'damaged' WHEN 2 THEN 'quarantined'"
                          " WHEN 1 THEN CASE WHEN ?2 = 1 OR " EXCURSION_HOLDS("kits.id")
                          "   THEN 'quarantined' ELSE 'available' END"
                          " ELSE CASE WHEN ?3 = 0 THEN 'missing'"
                          "   WHEN ?2 = 1 OR " EXCURSION_HOLDS("kits.id")
                          "   THEN 'quarantined' ELSE 'available' END END"
                          " WHERE shipment_id = ?1 AND status = '" CTM__KIT_FIRST_STATUS "'");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, shipment_id);
    ctm__st_bind_int(st, 2, excursion);
    ctm__st_bind_int(st, 3, unchecked_present ? 1 : 0);
    rc = ctm__step_done(db, st, "confirming the kits");
    /* an excursion in transit that the sponsor rejected before the confirmation */
    if (rc == CTM_OK && !ctm__transition_allowed("quarantined", "pending_destruction", 0))
        rc = ctm__err(CTM_ERROR, "confirming: quarantined -> pending_destruction is not a kit"
                                 " transition");
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "UPDATE kits SET status = 'pending_destruction' WHERE shipment_id = ?1"
                          " AND status = 'quarantined' AND EXISTS (SELECT 1 FROM excursion_kits x"
                          " WHERE x.kit_id = kits.id AND x.decision = 'rejected')");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, shipment_id);
        rc = ctm__step_done(db, st, "confirming the kits");
    }
    return rc == CTM_OK ? ctm__kit_events_sync(db, "k.shipment_id = ?1", shipment_id) : rc;
}

/* ---- excursions: the kits they hold ---- */

/* The kits of excursion ?1 (the scope of their history's rows). */
#define EXCURSION_KITS "k.id IN (SELECT kit_id FROM excursion_kits WHERE excursion_id = ?1)"

static int set_excursion_kits(ctm_db *db, const char *from, const char *to, const char *sql,
                              int64_t excursion, int64_t decided_us)
{
    if (!ctm__transition_allowed(from, to, 0))
        return ctm__err(CTM_ERROR, "excursions: %s -> %s is not a kit transition", from, to);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, excursion);
    if (decided_us != 0)
        ctm__st_bind_int(st, 2, decided_us);
    rc = ctm__step_done(db, st, "changing the kits of an excursion");
    return rc == CTM_OK ? ctm__kit_events_sync(db, EXCURSION_KITS, excursion) : rc;
}

/* The first excursion that holds kit id (0: none). */
static int excursion_holding(ctm_db *db, int64_t id, int64_t *excursion)
{
    *excursion = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT MIN(x.excursion_id) FROM excursion_kits x WHERE x.kit_id = ?1"
                          " AND " HOLDING_ROW);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL)
        *excursion = ctm__st_int(st, 0);
    else if (src != CTM_ROW && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the kit's excursions");
    ctm__st_finalize(st);
    return rc;
}

/* The kit's quarantine is no longer any excursion's doing. */
static int excursions_let_go(ctm_db *db, int64_t id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE excursion_kits SET quarantined = 0 WHERE kit_id = ?1"
                          " AND quarantined = 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    return ctm__step_done(db, st, "recording the quarantine");
}

int ctm__kits_quarantine(ctm_db *db, int64_t excursion)
{
    return set_excursion_kits(db, "available", "quarantined",
                              "UPDATE kits SET status = 'quarantined' WHERE status = 'available'"
                              " AND id IN (SELECT kit_id FROM excursion_kits"
                              " WHERE excursion_id = ?1 AND quarantined = 1"
                              " AND decision IS NULL)",
                              excursion, 0);
}

int ctm__kits_decided(ctm_db *db, int64_t excursion, int64_t decided_us, int release)
{
    if (!release)
        return set_excursion_kits(db, "quarantined", "pending_destruction",
                                  "UPDATE kits SET status = 'pending_destruction'"
                                  " WHERE status = 'quarantined' AND id IN (SELECT kit_id"
                                  " FROM excursion_kits WHERE excursion_id = ?1"
                                  " AND decided_us = ?2 AND decision = 'rejected')",
                                  excursion, decided_us);
    /* a kit still under receipt was never quarantined: its confirmation will tell */
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE excursion_kits SET quarantined = 0 WHERE excursion_id = ?1"
                          " AND decided_us = ?2 AND decision = 'released' AND quarantined = 1"
                          " AND kit_id IN (SELECT id FROM kits WHERE status = 'received')");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, excursion);
    ctm__st_bind_int(st, 2, decided_us);
    if ((rc = ctm__step_done(db, st, "recording the decision")) != CTM_OK)
        return rc;
    /* back to available only what excursions put in quarantine, once none holds it */
    return set_excursion_kits(db, "quarantined", "available",
                              "UPDATE kits SET status = 'available' WHERE status = 'quarantined'"
                              " AND id IN (SELECT kit_id FROM excursion_kits"
                              " WHERE excursion_id = ?1 AND decided_us = ?2"
                              " AND decision = 'released')"
                              " AND NOT " EXCURSION_HOLDS("kits.id")
                              " AND EXISTS (SELECT 1 FROM excursion_kits y"
                              " WHERE y.kit_id = kits.id AND y.quarantined = 1)",
                              excursion, decided_us);
}

/* The kit of a trial (trial_id 0: of any trial) whose kit number or serial is id, kit number
 * first; a GTIN, when the scan has one, must not contradict the kit's.  *found is 0 when there
 * is none; CTM_EINVAL when two kits answer equally (two trials, or one serial on two kits). */
static int kit_query(ctm_db *db, int64_t trial_id, const char *id, const char *gtin, kit_row *k,
                     int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.id, k.kit_number, k.status, k.location_id,"
                          " COALESCE(k.expiry, l.expiry), k.trial_id"
                          " FROM kits k JOIN lots l ON l.id = k.lot_id"
                          " WHERE (?1 = 0 OR k.trial_id = ?1) AND (k.kit_number = ?2 OR k.serial = ?2)"
                          " AND (?3 IS NULL OR COALESCE(k.gtin, l.gtin) IS NULL"
                          "      OR COALESCE(k.gtin, l.gtin) = ?3)"
                          " ORDER BY k.kit_number = ?2 DESC, k.trial_id, k.id LIMIT 2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, id);
    if (gtin != NULL && gtin[0] != '\0')
        ctm__st_bind_text(st, 3, gtin);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    if (src == CTM_ROW) {
        k->id = ctm__st_int(st, 0);
        snprintf(k->number, sizeof k->number, "%s", ctm__st_text(st, 1));
        snprintf(k->status, sizeof k->status, "%s", ctm__st_text(st, 2));
        k->location_id = ctm__st_type(st, 3) == CTM_V_NULL ? 0 : ctm__st_int(st, 3);
        snprintf(k->expiry, sizeof k->expiry, "%s", ctm__st_text(st, 4));
        int64_t first_trial = ctm__st_int(st, 5);
        int first_by_number = strcmp(k->number, id) == 0;
        /* A kit number beats a serial; a second kit named the same way makes the name
         * ambiguous (another trial's kit, or two shipments' packs with one serial). */
        src = ctm__st_step(st);
        if (src == CTM_ROW &&
            first_by_number == (strcmp(ctm__st_text(st, 1), id) == 0))
            rc = ctm__st_int(st, 5) != first_trial
                     ? ctm__err(CTM_EINVAL, "kit '%.40s' is in more than one trial; name the trial",
                                id)
                     : ctm__err(CTM_EINVAL, "serial '%.40s' names more than one kit; give the kit "
                                            "number", id);
        else if (src != CTM_ROW && src != CTM_OK)
            rc = ctm__store_fail(src, "reading kits");
    } else if (src != CTM_OK) {
        rc = ctm__store_fail(src, "reading kits");
    }
    ctm__st_finalize(st);
    return rc;
}

/* The one way the stock calls find a kit: by its kit number, typed, or by a scan of its pack (a
 * GS1 element string whose (21) serial is the kit's number or manifest serial).  A typed name
 * that is a kit number wins over reading it as a barcode. */
static int kit_lookup(ctm_db *db, int64_t trial_id, const char *number, kit_row *k)
{
    if (number == NULL || number[0] == '\0')
        return ctm__err(CTM_EINVAL, "kit: a kit number or a scan of its pack is needed");
    int found = 0, rc = CTM_OK;
    if (strlen(number) <= 40 && ctm__utf8_valid((const uint8_t *)number, strlen(number)) &&
        (rc = kit_query(db, trial_id, number, NULL, k, &found)) != CTM_OK)
        return rc;
    if (found)
        return CTM_OK;
    ctm__scan s;
    rc = ctm__scan_read(number, &s);
    if (rc == CTM_OK && s.gs1 != NULL)
        rc = kit_query(db, trial_id, s.id, s.gtin, k, &found);
    /* a kit that answers but for the pack's GTIN: the pack is another product */
    kit_row other;
    int other_found = 0;
    if (rc == CTM_OK && !found && s.gs1 != NULL && s.gtin[0] != '\0' &&
        kit_query(db, trial_id, s.id, NULL, &other, &other_found) == CTM_OK && other_found)
        rc = ctm__err(CTM_ENOTFOUND, "the pack's GTIN %.14s is not that of kit %s: another "
                                     "product", s.gtin, other.number);
    if (rc == CTM_OK && !found)
        rc = s.gs1 != NULL
                 ? ctm__err(CTM_ENOTFOUND, "kit with serial '%.20s' (scanned) is not in %s",
                            s.id, trial_id ? "this trial" : "any trial")
                 : ctm__err(CTM_ENOTFOUND, "kit '%.40s' is not in %s", number,
                            trial_id ? "this trial" : "any trial");
    ctm_gs1_free(s.gs1);
    return rc;
}

int ctm__kits_resolve(ctm_db *db, const char *const *kits, size_t n, size_t size,
                      ctm__kit_finder find, void *arg, void **rows)
{
    *rows = NULL;
    if (kits == NULL || n == 0)
        return ctm__err(CTM_EINVAL, "kits: name at least one kit");
    /* the kits seen so far, a set of ids (open addressing, at most half full): a kit named
     * twice is refused at its second naming, in one pass however long the list */
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    char *all = n <= SIZE_MAX / size ? calloc(n, size) : NULL;
    int64_t *seen = calloc(nslots, sizeof *seen);
    int rc = all == NULL || seen == NULL ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < n; i++) {
        ctm__kit_ref ref = {0, ""};
        rc = find(db, kits[i], i, all + i * size, arg, &ref);
        if (rc != CTM_OK)
            break;
        uint64_t h = (uint64_t)ref.id * UINT64_C(0x9E3779B97F4A7C15);
        size_t slot = (size_t)(h >> 32) & (nslots - 1);
        while (seen[slot] != 0 && seen[slot] != ref.id)
            slot = (slot + 1) & (nslots - 1);
        if (seen[slot] == ref.id)
            rc = ctm__err(CTM_EINVAL, "kits: %s named twice", ref.number);
        seen[slot] = ref.id; /* ids are positive: 0 is a free slot */
    }
    free(seen);
    if (rc != CTM_OK) {
        free(all);
        return rc;
    }
    *rows = all;
    return CTM_OK;
}

int ctm__kit_number(ctm_db *db, int64_t trial_id, const char *kit_or_scan, char number[48])
{
    kit_row k;
    int rc = kit_lookup(db, trial_id, kit_or_scan, &k);
    if (rc == CTM_OK)
        memcpy(number, k.number, sizeof k.number);
    return rc;
}

/* ---- listing ---- */

/* The columns every view of a kit computes alike.  The arm is resolved in SQL, row by row, from
 * the trial's blinding and the user's flag: a blinded user never receives the value, only
 * "(blinded)".  Its parameter PARAM ("?7") is the one after the statement's own, so that the
 * numbers have no gap (PostgreSQL cannot type a parameter that no statement uses); bind it with
 * bind_kit_view.  The statement gives in `dispensable` the do-not-dispense window of an
 * available kit (NULL for any other status); the result set turns it into the rule's 0 or 1
 * (dispensable_query). */
#define KIT_ARM_SQL(PARAM) CTM__BLIND_ARM_SQL("t.blinded", "k.arm", PARAM) " AS arm,"
#define KIT_DISPENSABLE_SQL \
    " CASE WHEN k.status = 'available' THEN kt.dnd_days END AS dispensable,"

/* Bind the kit view's parameter, number param (0: the statement has no kit view columns). */
static void bind_kit_view(ctm_db *db, ctm__st *st, int param)
{
    if (param > 0)
        ctm__st_bind_int(st, param, ctm__blind_sees_all(db));
}

/* ---- the do-not-dispense rule ----
 * A kit is dispensable when its expiry is at least its kit type's dnd_days after today, the
 * expiry day counting as usable (docs/data-model.md, kit_types).  Decided here in C, for every
 * listing that shows it: dates are YYYY-MM-DD text, which portable SQL cannot add days to. */
typedef struct dispensable_ctx {
    int64_t today;
    int expiry_col, dispensable_col;
    int64_t window;  /* the window cutoff was last made for; -1: none yet */
    char cutoff[11]; /* today + window: the earliest expiry still dispensable */
} dispensable_ctx;

static int dispensable(dispensable_ctx *c, const char *expiry, int64_t dnd_days)
{
    if (dnd_days != c->window) {
        ctm__format_date(c->today + dnd_days, c->cutoff);
        c->window = dnd_days;
    }
    return strcmp(expiry, c->cutoff) >= 0;
}

/* A row of a listing with columns `expiry` and `dispensable` (the window, or NULL: never). */
static int dispensable_row(ctm__st *st, ctm__row *row, void *ctx)
{
    dispensable_ctx *c = ctx;
    int rc = ctm__row_copy(st, row);
    if (rc != CTM_OK)
        return rc;
    int d = c->dispensable_col, e = c->expiry_col;
    int yes = row->types[d] == CTM_INTEGER && row->types[e] == CTM_TEXT &&
              dispensable(c, row->texts[e], row->ints[d]);
    ctm__row_set_int(row, d, yes);
    return CTM_OK;
}

static int column_of(ctm__st *st, const char *name)
{
    for (int i = 0; i < ctm__st_ncols(st); i++)
        if (strcmp(ctm__st_colname(st, i), name) == 0)
            return i;
    return -1;
}

/* The result set of st, whose columns `expiry` and `dispensable` get the rule as of today. */
static int dispensable_query(ctm_query **out, ctm__st *st)
{
    dispensable_ctx *c = malloc(sizeof *c);
    if (c == NULL) {
        ctm__st_finalize(st);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    c->today = ctm__today();
    c->window = -1;
    c->expiry_col = column_of(st, "expiry");
    c->dispensable_col = column_of(st, "dispensable");
    if (c->expiry_col < 0 || c->dispensable_col < 0) {
        free(c);
        ctm__st_finalize(st);
        return ctm__err(CTM_EMISUSE, "listing: no expiry or dispensable column");
    }
    return ctm__query_new(out, st, NULL, 0, dispensable_row, c, free);
}

/* The latest expiry "within days from today" admits: today + days, or every date when that is
 * past the last day a YYYY-MM-DD text can name. */
static void expiring_cutoff(int days, char out[11])
{
    const int64_t last = 2932896; /* 9999-12-31 */
    int64_t d = ctm__today() + days;
    ctm__format_date(d < last ? d : last, out);
}

int ctm_kits(ctm_query **out, ctm_db *db, const ctm_kit_filter *filter)
{
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    if (filter != NULL)
        memcpy(&f, filter, filter->struct_size < sizeof f ? filter->struct_size : sizeof f);
    ctm__trial t;
    int64_t loc = 0;
    shipment_row ship = {0};
    int rc = ctm__listing_begin(out, db, "kits", f.trial, &t);
    if (rc == CTM_OK && f.location != NULL)
        rc = ctm__location_lookup(db, f.location, &loc);
    if (rc == CTM_OK && f.shipment != NULL)
        rc = ctm__shipment_lookup(db, f.shipment, &ship);
    if (rc == CTM_OK && f.status != NULL && !ctm__status_valid(f.status))
        rc = ctm__err(CTM_EINVAL, "status: '%.32s' is not a kit status", f.status);
    if (rc == CTM_OK && f.lot != NULL && strlen(f.lot) > 20)
        rc = ctm__err(CTM_EINVAL, "lot: longer than 20 characters");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, k.kit_number AS kit_number, kt.code AS kit_type,"
            " l.batch AS lot, COALESCE(k.expiry, l.expiry) AS expiry, k.status AS status,"
            " loc.name AS location, k.units AS units," KIT_ARM_SQL("?7") KIT_DISPENSABLE_SQL
            " s.number AS shipment"
            " FROM kits k JOIN trials t ON t.id = k.trial_id"
            " JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
            " LEFT JOIN locations loc ON loc.id = k.location_id"
            " LEFT JOIN shipments s ON s.id = k.shipment_id"
            " WHERE (?1 IS NULL OR k.trial_id = ?1) AND (?2 IS NULL OR k.status = ?2)"
            " AND (?3 IS NULL OR k.location_id = ?3) AND (?4 IS NULL OR l.batch = ?4)"
            " AND (?5 IS NULL OR COALESCE(k.expiry, l.expiry) <= ?5)"
            " AND (?6 IS NULL OR k.shipment_id = ?6)"
            " ORDER BY t.code, k.kit_number");
    if (rc != CTM_OK)
        return rc;
    bind_kit_view(db, st, 7);
    if (f.trial != NULL)
        ctm__st_bind_int(st, 1, t.id);
    if (f.status != NULL)
        ctm__st_bind_text_copy(st, 2, f.status);
    if (f.location != NULL)
        ctm__st_bind_int(st, 3, loc);
    if (f.lot != NULL)
        ctm__st_bind_text_copy(st, 4, f.lot);
    if (f.expiring_within_days >= 0) {
        char cutoff[11];
        expiring_cutoff(f.expiring_within_days, cutoff);
        ctm__st_bind_text_copy(st, 5, cutoff);
    }
    if (f.shipment != NULL)
        ctm__st_bind_int(st, 6, ship.id);
    return dispensable_query(out, st);
}

int ctm_lot_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "lots", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, l.batch AS lot, kt.code AS kit_type, l.expiry AS expiry,"
            " l.gtin AS gtin,"
            " (SELECT count(*) FROM kits k WHERE k.lot_id = l.id"
            "   AND k.status IN ('received', 'available', 'quarantined')) AS kits,"
            " (SELECT COALESCE(sum(b.units), 0) FROM bulk_stock b WHERE b.lot_id = l.id) AS bulk_units,"
            " kt.dnd_days AS dispensable"
            " FROM lots l JOIN trials t ON t.id = l.trial_id JOIN kit_types kt ON kt.id = l.kit_type_id"
            " WHERE ?1 IS NULL OR l.trial_id = ?1 ORDER BY t.code, l.expiry, l.batch");
    if (rc != CTM_OK)
        return rc;
    if (trial != NULL)
        ctm__st_bind_int(st, 1, t.id);
    return dispensable_query(out, st);
}

/* The statement of a listing about one kit: sql has the kit's id as ?1 (and the kit view's
 * parameter as ?2 when arm_param is 2, see KIT_ARM_SQL). */
static int kit_listing(ctm_query **out, ctm__st **st, ctm_db *db, const char *what,
                       const char *trial, const char *kit, int arm_param, const char *sql)
{
    ctm__trial t;
    kit_row k;
    int rc = ctm__listing_begin(out, db, what, trial, &t);
    if (rc == CTM_OK)
        rc = kit_lookup(db, t.id, kit, &k);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(*st, 1, k.id);
    bind_kit_view(db, *st, arm_param);
    return CTM_OK;
}

int ctm_kit_history(ctm_query **out, ctm_db *db, const char *trial, const char *kit)
{
    ctm__st *st = NULL;
    int rc = kit_listing(
        out, &st, db, "kit history", trial, kit, 0,
        CTM__KIT_STAYS_SQL("SELECT loc.name AS location, h.since_us AS since,"
                           " LEAD(h.since_us) OVER (ORDER BY h.since_us, h.n) AS until"
                           " FROM h LEFT JOIN locations loc ON loc.id = h.location_id"
                           " ORDER BY h.since_us, h.n"));
    if (rc == CTM_OK)
        rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "since", "until", NULL);
    return rc;
}

int ctm__kit_find(ctm_db *db, const char *trial, const char *kit, int64_t *id, char number[48])
{
    ctm__trial t = {0, 0};
    kit_row k;
    int rc = trial != NULL ? ctm__trial_lookup(db, trial, &t) : CTM_OK;
    if (rc == CTM_OK)
        rc = kit_lookup(db, t.id, kit, &k);
    if (rc == CTM_OK) {
        *id = k.id;
        memcpy(number, k.number, sizeof k.number);
    }
    return rc;
}

int ctm_kit_show(ctm_query **out, ctm_db *db, const char *trial, const char *kit)
{
    /* The row has the same columns and types whatever the arm. */
    ctm__st *st = NULL;
    int rc = kit_listing(
        out, &st, db, "kit show", trial, kit, 2,
        "SELECT t.code AS trial, k.kit_number AS kit_number, kt.code AS kit_type,"
        " kt.name AS kit_type_name, l.batch AS lot, COALESCE(k.expiry, l.expiry) AS expiry,"
        " k.status AS status, loc.name AS location, k.units AS units," KIT_ARM_SQL("?2")
        KIT_DISPENSABLE_SQL " s.number AS shipment,"
        " s.status AS shipment_status, s.date_received AS date_received,"
        " CASE WHEN s.id IS NULL THEN NULL ELSE CASE k.checked WHEN 0 THEN 'no' WHEN 1 THEN 'ok'"
        "   WHEN 2 THEN 'mismatch' WHEN 3 THEN 'damaged' END END AS checked,"
        " k.gtin AS gtin, k.serial AS serial"
        " FROM kits k JOIN trials t ON t.id = k.trial_id"
        " JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
        " LEFT JOIN locations loc ON loc.id = k.location_id"
        " LEFT JOIN shipments s ON s.id = k.shipment_id WHERE k.id = ?1");
    return rc == CTM_OK ? dispensable_query(out, st) : rc;
}

/* ---- status by hand ---- */

int ctm_kit_set_status(ctm_db *db, const char *trial, const char *kit, const char *status,
                       const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    kit_row k;
    int rc = ctm__require_action(db, "kit.status", "kit status");
    if (rc == CTM_OK && !ctm__status_valid(status))
        rc = ctm__err(CTM_EINVAL, "status: '%.32s' is not a kit status", status ? status : "");
    if (rc == CTM_OK)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = kit_lookup(db, t.id, kit, &k);
    if (rc == CTM_OK && !ctm__transition_allowed(k.status, status, 1))
        rc = ctm__err(CTM_ERULE, "kit %s: no change from %s to %s by hand", k.number, k.status,
                      status);
    /* out of an excursion's quarantine only by the sponsor's decision, e-signed */
    int64_t held = 0;
    if (rc == CTM_OK && strcmp(status, "available") == 0 &&
        (rc = excursion_holding(db, k.id, &held)) == CTM_OK && held != 0)
        rc = ctm__err(CTM_ERULE,
                      "kit %s: excursion %lld holds it; only the sponsor's decision on the"
                      " excursion, recorded e-signed, releases it", k.number, (long long)held);
    /* Technicians may set stock aside, not put it back into use. */
    int tech_ok = strcmp(status, "quarantined") == 0 || strcmp(status, "damaged") == 0 ||
                  strcmp(status, "missing") == 0;
    if (rc == CTM_OK && !tech_ok)
        rc = ctm__require_user(db, CTM_ROLEBIT_PHARMACIST, "kit status");
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "kit.status", reason)) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "kit", k.number);
    ctm__action_param(&a, "from", k.status);
    ctm__action_param(&a, "to", status);
    rc = kit_write(db, &k, status, 1, KIT_ALSO_NOTHING, NULL, 0, 0);
    /* quarantined by hand, for a reason of its own (a recall): no excursion's release, of one
     * recorded before or after, puts it back (ctm__kits_decided) */
    if (rc == CTM_OK && strcmp(status, "quarantined") == 0)
        rc = excursions_let_go(db, k.id);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- expiry extension ---- */

/* The statuses a relabelling applies to: stock on site, not yet with a subject or on its way out.
 * RELABEL_STATUSES is the same set for SQL. */
#define RELABEL_STATUSES "('received', 'available', 'quarantined', 'expired')"

static int relabellable(const char *status)
{
    return strcmp(status, "received") == 0 || strcmp(status, "available") == 0 ||
           strcmp(status, "quarantined") == 0 || strcmp(status, "expired") == 0;
}

/* A kit named for an expiry extension: in the trial, and in stock. */
static int relabelled_kit(ctm_db *db, const char *kit, size_t i, void *row, void *arg,
                          ctm__kit_ref *ref)
{
    (void)i;
    kit_row *k = row;
    int rc = kit_lookup(db, *(const int64_t *)arg, kit, k);
    *ref = (ctm__kit_ref){k->id, k->number};
    if (rc == CTM_OK && !relabellable(k->status))
        rc = ctm__err(CTM_ERULE, "kit %s: %s; only kits in stock are relabelled", k->number,
                      k->status);
    return rc;
}

/* The kits an extension covers: a lot's kits still on site, or the named ones. */
static int extension_kits(ctm_db *db, int64_t trial_id, const char *lot, const char *const *kits,
                          size_t nkits, kit_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (lot == NULL) {
        if (kits == NULL || nkits == 0)
            return ctm__err(CTM_EINVAL, "kits: name a lot or at least one kit");
        void *rows = NULL;
        int rc = ctm__kits_resolve(db, kits, nkits, sizeof(kit_row), relabelled_kit, &trial_id,
                                   &rows);
        *out = rows;
        *n = rc == CTM_OK ? nkits : 0;
        return rc;
    }
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.id, k.status, k.location_id, COALESCE(k.expiry, l.expiry),"
                          " k.kit_number FROM kits k JOIN lots l ON l.id = k.lot_id WHERE k.trial_id = ?1"
                          " AND l.batch = ?2 AND k.status IN " RELABEL_STATUSES);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, lot);
    size_t cap = 0;
    kit_row *rows = NULL;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            kit_row *r = realloc(rows, cap * sizeof *r);
            if (r == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            rows = r;
        }
        kit_row *k = &rows[(*n)++];
        memset(k, 0, sizeof *k);
        k->id = ctm__st_int(st, 0);
        snprintf(k->status, sizeof k->status, "%s", ctm__st_text(st, 1));
        k->location_id = ctm__st_int(st, 2);
        snprintf(k->expiry, sizeof k->expiry, "%s", ctm__st_text(st, 3));
        snprintf(k->number, sizeof k->number, "%s", ctm__st_text(st, 4));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the lot's kits");
    ctm__st_finalize(st);
    if (rc == CTM_OK && *n == 0)
        rc = ctm__err(CTM_ENOTFOUND, "lot '%.20s': no kits of it on site in this trial", lot);
    if (rc != CTM_OK) {
        free(rows);
        *n = 0;
        return rc;
    }
    *out = rows;
    return CTM_OK;
}

/* A kit that expired is available again under its new date, or quarantined when an excursion
 * holds it (a new date is no release); every other keeps its status. */
static int extend_kits(ctm_db *db, const kit_row *rows, size_t n, const char *new_expiry)
{
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < n; i++) {
        const char *to = rows[i].status;
        int64_t held = 0;
        if (strcmp(to, "expired") == 0 &&
            (rc = excursion_holding(db, rows[i].id, &held)) == CTM_OK)
            to = held != 0 ? "quarantined" : "available";
        if (rc == CTM_OK)
            rc = kit_write(db, &rows[i], to, 0, KIT_ALSO_EXPIRY, new_expiry, 0, 0);
    }
    return rc;
}

/* A whole lot relabelled: the lot carries the new date (later receipts of it match), and its kits
 * no longer here (with subjects, sent away) keep the date their label showed. */
static int relabel_lot(ctm_db *db, int64_t trial_id, const char *lot, const char *new_expiry)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE kits SET expiry = (SELECT expiry FROM lots WHERE id = kits.lot_id)"
                          " WHERE expiry IS NULL AND status NOT IN " RELABEL_STATUSES " AND lot_id ="
                          " (SELECT id FROM lots WHERE trial_id = ?1 AND batch = ?2)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, lot);
    if ((rc = ctm__step_done(db, st, "keeping the labels of kits elsewhere")) != CTM_OK)
        return rc;
    if ((rc = ctm__prepare(db, &st, "UPDATE lots SET expiry = ?3 WHERE trial_id = ?1 AND batch = ?2")) !=
        CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, lot);
    ctm__st_bind_text(st, 3, new_expiry);
    return ctm__step_done(db, st, "relabelling the lot");
}

int ctm_expiry_extend(ctm_db *db, const char *trial, const char *lot, const char *const *kits,
                      size_t nkits, const char *new_expiry, const char *reference)
{
    ctm__clear_error();
    ctm__trial t;
    int64_t days = 0;
    kit_row *rows = NULL;
    size_t n = 0;
    int rc = ctm__require_action(db, "expiry.extend", "expiry extend");
    if (rc == CTM_OK)
        rc = ctm__parse_date("new expiry", new_expiry, &days);
    if (rc == CTM_OK)
        rc = ctm__check_text("sponsor reference", reference, CTM_MAX_TEXT);
    if (rc == CTM_OK && lot != NULL && kits != NULL)
        rc = ctm__err(CTM_EINVAL, "kits: name a lot or kits, not both");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = extension_kits(db, t.id, lot, kits, nkits, &rows, &n);
    for (size_t i = 0; rc == CTM_OK && i < n; i++)
        if (strcmp(rows[i].expiry, new_expiry) >= 0)
            rc = ctm__err(CTM_EINVAL, "new expiry: %s is not later than the current %s", new_expiry,
                          rows[i].expiry);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "expiry.extend", reference)) == CTM_OK) {
        char count[24];
        snprintf(count, sizeof count, "%zu", n);
        ctm__action_param(&a, "trial", trial);
        if (lot != NULL)
            ctm__action_param(&a, "lot", lot);
        ctm__action_param(&a, "kits", count);
        ctm__action_param(&a, "new_expiry", new_expiry);
        ctm__action_param(&a, "reference", reference);
        if (lot != NULL)
            rc = relabel_lot(db, t.id, lot, new_expiry);
        if (rc == CTM_OK)
            rc = extend_kits(db, rows, n, new_expiry);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    free(rows);
    return rc;
}

/* ---- moves ---- */

static int on_site(const char *status)
{
    static const char *const here[] = {"received", "available", "quarantined", "damaged", "expired",
                                       "returned", "pending_destruction", "not_dispensed", NULL};
    for (int i = 0; here[i] != NULL; i++)
        if (strcmp(status, here[i]) == 0)
            return 1;
    return 0;
}

static int record_move(ctm_db *db, const kit_row *k, int64_t to, int64_t shipment_id,
                       const char *reason)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO kit_moves(kit_id, from_location_id, to_location_id, moved_us,"
                          " shipment_id, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, k->id);
    if (k->location_id != 0)
        ctm__st_bind_int(st, 2, k->location_id);
    if (to != 0)
        ctm__st_bind_int(st, 3, to);
    ctm__st_bind_int(st, 4, ctm__now_us());
    if (shipment_id != 0)
        ctm__st_bind_int(st, 5, shipment_id);
    if (reason != NULL)
        ctm__st_bind_text(st, 6, reason);
    rc = ctm__step_done(db, st, "recording the move");
    if (rc != CTM_OK)
        return rc;
    /* a kit leaving the site (no location to go to) is in transit */
    return kit_write(db, k, to == 0 ? "in_transit" : k->status, 0, KIT_ALSO_LOCATION, NULL, to, 0);
}

/* Where the kits of a move go, to check each before anything is written. */
typedef struct moving {
    int64_t trial_id, to;
    int outgoing;
} moving;

static int moving_kit(ctm_db *db, const char *kit, size_t i, void *row, void *arg,
                      ctm__kit_ref *ref)
{
    (void)i;
    const moving *m = arg;
    kit_row *k = row;
    int rc = kit_lookup(db, m->trial_id, kit, k);
    *ref = (ctm__kit_ref){k->id, k->number};
    if (rc == CTM_OK && !on_site(k->status))
        rc = ctm__err(CTM_ERULE, "kit %s: %s, not on site", k->number, k->status);
    if (rc == CTM_OK && m->outgoing && !ctm__transition_allowed(k->status, "in_transit", 0))
        rc = ctm__err(CTM_ERULE, "kit %s: a %s kit cannot be sent", k->number, k->status);
    if (rc == CTM_OK && !m->outgoing && k->location_id == m->to)
        rc = ctm__err(CTM_ERULE, "kit %s: already at that location", k->number);
    return rc;
}

static int moving_kits(ctm_db *db, int64_t trial_id, const char *const *kits, size_t nkits,
                       int64_t to, int outgoing, kit_row **out)
{
    moving m = {trial_id, to, outgoing};
    void *rows = NULL;
    int rc = ctm__kits_resolve(db, kits, nkits, sizeof(kit_row), moving_kit, &m, &rows);
    *out = rows;
    return rc;
}

int ctm_transfer(ctm_db *db, const char *trial, const char *const *kits, size_t nkits,
                 const char *location, const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    int64_t to = 0;
    kit_row *rows = NULL;
    int rc = ctm__require_action(db, "kit.transfer", "transfer");
    if (rc == CTM_OK && reason != NULL)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__location_lookup(db, location, &to);
    if (rc == CTM_OK)
        rc = moving_kits(db, t.id, kits, nkits, to, 0, &rows);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "kit.transfer", reason)) == CTM_OK) {
        char count[24];
        snprintf(count, sizeof count, "%zu", nkits);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "to", location);
        ctm__action_param(&a, "kits", count);
        for (size_t i = 0; rc == CTM_OK && i < nkits; i++)
            rc = record_move(db, &rows[i], to, 0, reason);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    free(rows);
    return rc;
}

static int insert_outgoing(ctm_db *db, int64_t trial_id, const char *number, const char *dest,
                           int64_t *id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO shipments(trial_id, number, direction, destination,"
                          " registered_us, status) VALUES (?1, ?2, 'out', ?3, ?4, 'sent') RETURNING id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, number);
    ctm__st_bind_text(st, 3, dest);
    ctm__st_bind_int(st, 4, ctm__now_us());
    rc = ctm__insert_id(db, st, id, "adding the shipment");
    if (rc == CTM_EEXISTS)
        return ctm__err(CTM_EEXISTS, "shipment: an outgoing shipment '%s' exists already", number);
    return rc;
}

int ctm_transfer_out(ctm_db *db, const char *trial, const char *const *kits, size_t nkits,
                     const char *destination, const char *shipment, const char *reason)
{
    ctm__clear_error();
    ctm__trial t;
    kit_row *rows = NULL;
    int64_t sid = 0;
    int rc = ctm__require_action(db, "shipment.send", "transfer out");
    if (rc == CTM_OK)
        rc = ctm__check_text("destination", destination, CTM_MAX_TEXT);
    if (rc == CTM_OK)
        rc = ctm__check_code("shipment", shipment, CTM_MAX_NAME);
    if (rc == CTM_OK && reason != NULL)
        rc = ctm__check_text("reason", reason, CTM_MAX_REASON);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = moving_kits(db, t.id, kits, nkits, 0, 1, &rows);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "shipment.send", reason)) == CTM_OK) {
        char count[24];
        snprintf(count, sizeof count, "%zu", nkits);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "shipment", shipment);
        ctm__action_param(&a, "destination", destination);
        ctm__action_param(&a, "kits", count);
        rc = insert_outgoing(db, t.id, shipment, destination, &sid);
        for (size_t i = 0; rc == CTM_OK && i < nkits; i++)
            rc = record_move(db, &rows[i], 0, sid, reason);
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
    }
    free(rows);
    return rc;
}

/* The audit log's filters live in the ledger, which knows nothing of kits: a kit filter given as
 * a scan of the pack (not a kit number's characters) is resolved to its kit here, as for every
 * other call that takes a kit, in the trial filtered on when one is (trials number alike). */
int ctm_audit_query(ctm_query **out, ctm_db *db, const ctm_audit_filter *filter)
{
    ctm__clear_error();
    size_t need = offsetof(ctm_audit_filter, kit) + sizeof filter->kit;
    if (out == NULL || filter == NULL || filter->struct_size < need || filter->kit == NULL ||
        ctm__check_code("kit", filter->kit, CTM_MAX_NAME) == CTM_OK)
        return ctm__audit_query(out, db, filter);
    ctm__clear_error();
    ctm__scan s;
    int is_scan = ctm__scan_read(filter->kit, &s) == CTM_OK && s.gs1 != NULL;
    ctm_gs1_free(s.gs1);
    if (!is_scan)
        return ctm__audit_query(out, db, filter); /* refused there, naming the field */
    *out = NULL;
    int rc = ctm__require_user(db, 0, "audit log");
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    memcpy(&f, filter, filter->struct_size < sizeof f ? filter->struct_size : sizeof f);
    f.struct_size = sizeof f;
    char number[48];
    ctm__trial t = {0, 0};
    if (rc == CTM_OK && filter->trial != NULL)
        rc = ctm__trial_lookup(db, filter->trial, &t);
    if (rc == CTM_OK)
        rc = ctm__kit_number(db, t.id, filter->kit, number);
    if (rc != CTM_OK)
        return rc;
    f.kit = number;
    return ctm__audit_query(out, db, &f);
}
