/*
 * report_inventory.c - the "inventory" report: the kits on hand, with their expiry in days.
 *
 * On hand means in the pharmacy's keeping, whatever may still be done with the kit: received
 * (not confirmed yet), available, quarantined, damaged, expired, returned by a subject,
 * pending_destruction and not_dispensed.  Kits in transit, with subjects, lost, missing,
 * destroyed or gone back to the sponsor are not.  The stock is as it is now (the report takes
 * no as_of): kit_events could replay statuses, but not locations or units.
 *
 * Days to expiry count from today (UTC) to the expiry day, which is still usable (docs: kits
 * expire at the end of their expiry day): 0 on that day, negative once it passed.  The arm is
 * blinding.h's: "(blinded)" for a blinded reader of a blinded trial, and nothing else shown
 * (the order, the counts of the summary) depends on it.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "stock.h"

#define ON_HAND_SQL                                                                              \
    " k.status IN ('received', 'available', 'quarantined', 'damaged', 'expired', 'returned',"   \
    " 'pending_destruction', 'not_dispensed')"

#define DEFAULT_DAYS 30

enum { COL_EXPIRY = 4, COL_DAYS = 8, COL_SOON = 9, COL_EXPIRED = 10 };

typedef struct inventory_ctx {
    int64_t today;
    int days;
} inventory_ctx;

static int inventory_row(ctm__st *st, ctm__row *row, void *vctx)
{
    const inventory_ctx *c = vctx;
    int rc = ctm__row_copy(st, row);
    int64_t expiry = 0;
    if (rc != CTM_OK || row->types[COL_EXPIRY] != CTM_TEXT)
        return rc;
    if ((rc = ctm__parse_date("expiry", row->texts[COL_EXPIRY], &expiry)) != CTM_OK)
        return rc;
    int64_t left = expiry - c->today;
    ctm__row_set_int(row, COL_DAYS, left);
    ctm__row_set_int(row, COL_SOON, left >= 0 && left <= c->days);
    ctm__row_set_int(row, COL_EXPIRED, left < 0);
    return CTM_OK;
}

/* The kit type's code, checked against the trial when one is named. */
static int check_kit_type(ctm_db *db, const ctm__trial *t, const char *code)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT count(*) FROM kit_types"
                                   " WHERE code = ?1 AND (?2 IS NULL OR trial_id = ?2)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, code);
    if (t->id != 0)
        ctm__st_bind_int(st, 2, t->id);
    rc = ctm__st_step(st);
    int64_t n = rc == CTM_ROW ? ctm__st_int(st, 0) : 0;
    ctm__st_finalize(st);
    if (rc != CTM_ROW)
        return ctm__store_fail(rc == CTM_OK ? CTM_ERROR : rc, "inventory: reading kit types");
    return n > 0 ? CTM_OK
                 : ctm__err(CTM_ENOTFOUND, "kit_type: no kit type '%s'%s", code,
                            t->id != 0 ? " in this trial" : "");
}

int ctm__inventory_rows(ctm_query **out, ctm_db *db, const ctm_report_options *o)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "inventory report", o->trial, &t);
    if (rc == CTM_OK && o->kit_type != NULL)
        rc = check_kit_type(db, &t, o->kit_type);
    inventory_ctx *c = rc == CTM_OK ? malloc(sizeof *c) : NULL;
    if (rc == CTM_OK && c == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, k.kit_number AS kit_number, kt.code AS kit_type,"
            " l.batch AS lot, COALESCE(k.expiry, l.expiry) AS expiry, k.status AS status,"
            " loc.name AS location, k.units AS units, NULL AS days_to_expiry,"
            " NULL AS expiring_soon, NULL AS expired,"
            CTM__BLIND_ARM_SQL("t.blinded", "k.arm", "?3") " AS arm"
            " FROM kits k JOIN trials t ON t.id = k.trial_id"
            " JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
            " LEFT JOIN locations loc ON loc.id = k.location_id"
            " WHERE (?1 IS NULL OR k.trial_id = ?1) AND (?2 IS NULL OR kt.code = ?2) AND"
            ON_HAND_SQL " ORDER BY t.code, k.kit_number");
    if (rc != CTM_OK) {
        free(c);
        return rc;
    }
    c->today = ctm__today();
    c->days = o->days >= 0 ? o->days : DEFAULT_DAYS;
    if (t.id != 0)
        ctm__st_bind_int(st, 1, t.id);
    if (o->kit_type != NULL)
        ctm__st_bind_text_copy(st, 2, o->kit_type);
    ctm__st_bind_int(st, 3, ctm__blind_sees_all(db));
    return ctm__query_new(out, st, NULL, 0, inventory_row, c, free);
}

/* The counts above the rows: kits, units, expiring soon, expired (none depends on an arm). */
int ctm__inventory_summary(ctm__report_summary *s, ctm_db *db, const ctm_report_options *o)
{
    ctm__trial t = {0, 0};
    int rc = o->trial != NULL ? ctm__trial_lookup(db, o->trial, &t) : CTM_OK;
    int days = o->days >= 0 ? o->days : DEFAULT_DAYS;
    char today[11], cutoff[11];
    int64_t now = ctm__today();
    ctm__format_date(now, today);
    ctm__format_date(now + days, cutoff);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT count(*), COALESCE(sum(k.units), 0),"
            " COALESCE(sum(CASE WHEN COALESCE(k.expiry, l.expiry) >= ?3"
            "  AND COALESCE(k.expiry, l.expiry) <= ?4 THEN 1 ELSE 0 END), 0),"
            " COALESCE(sum(CASE WHEN COALESCE(k.expiry, l.expiry) < ?3 THEN 1 ELSE 0 END), 0)"
            " FROM kits k JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
            " WHERE (?1 IS NULL OR k.trial_id = ?1) AND (?2 IS NULL OR kt.code = ?2) AND"
            ON_HAND_SQL);
    if (rc != CTM_OK)
        return rc;
    if (t.id != 0)
        ctm__st_bind_int(st, 1, t.id);
    if (o->kit_type != NULL)
        ctm__st_bind_text(st, 2, o->kit_type);
    ctm__st_bind_text(st, 3, today);
    ctm__st_bind_text(st, 4, cutoff);
    rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        int64_t v[4];
        for (int i = 0; i < 4; i++)
            v[i] = ctm__st_int(st, i);
        rc = ctm__summary_text(s, "date", today);
        if (rc == CTM_OK)
            rc = ctm__summary_int(s, "days", days);
        if (rc == CTM_OK)
            rc = ctm__summary_int(s, "kits", v[0]);
        if (rc == CTM_OK)
            rc = ctm__summary_int(s, "units", v[1]);
        if (rc == CTM_OK)
            rc = ctm__summary_int(s, "expiring_soon", v[2]);
        if (rc == CTM_OK)
            rc = ctm__summary_int(s, "expired", v[3]);
    } else {
        rc = ctm__store_fail(rc == CTM_OK ? CTM_ERROR : rc, "inventory: counting kits");
    }
    ctm__st_finalize(st);
    return rc;
}
