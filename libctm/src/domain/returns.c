/* returns.c - what comes back from subjects: kits returned with the units left in them, kits
 * lost by their subjects, and compliance per subject and visit.
 *
 * Rules (docs/returns.md):
 * - Only a kit dispensed to a subject (status "dispensed", its dispensation "dispensed") comes
 *   back, once: as "returned" with the units counted (0 up to the kit's units), or as
 *   "lost_by_subject".  Either is a row of kit_returns, written with the kit's status in one
 *   action.  A returned kit never re-enters stock: after "returned" come only pending destruction
 *   and the return to the sponsor (the transition table).
 * - The day of the return is not before the day the kit was handed over, nor after today.
 * - Compliance per subject, visit and kit type = (units dispensed - units returned) / units
 *   prescribed for the period, the period running from the day of the dispensing to the day the
 *   last of the visit's kits came back; prescribed = days x the visit's kits x units per kit /
 *   the kit type's dispensing days (a kit type without dispensing days: the units dispensed).
 *   Outside the trial's limits (default 80-110 %) it is flagged "low" or "high", never hidden;
 *   a visit whose kits are not all back, lost or not counted has no figure and says why.
 * Nothing here shows or depends on an arm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "stock.h"

/* The open dispensation of a kit: the one a return closes. */
typedef struct handed {
    int64_t dispensation_id;
    int64_t dispensed_us;
    int64_t units;
    char status[24];
    char screening[64];
} handed;

static int find_handed(ctm_db *db, int64_t kit_id, handed *h, int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT d.id, d.dispensed_us, k.units, k.status, s.screening"
                          " FROM dispensations d JOIN kits k ON k.id = d.kit_id"
                          " JOIN subjects s ON s.id = d.subject_id"
                          " WHERE d.kit_id = ?1 AND d.status = 'dispensed'"
                          " ORDER BY d.id DESC LIMIT 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    if (src == CTM_ROW) {
        h->dispensation_id = ctm__st_int(st, 0);
        h->dispensed_us = ctm__st_int(st, 1);
        h->units = ctm__st_int(st, 2);
        snprintf(h->status, sizeof h->status, "%s", ctm__st_text(st, 3));
        snprintf(h->screening, sizeof h->screening, "%s", ctm__st_text(st, 4));
    } else if (src != CTM_OK) {
        rc = ctm__store_fail(src, "reading the kit's dispensation");
    }
    ctm__st_finalize(st);
    return rc;
}

/* Why kit `number` cannot come back: it came back already, or was never handed over. */
static int not_out(ctm_db *db, int64_t kit_id, const char *number)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT k.status, r.returned_on, r.lost FROM kits k"
                          " LEFT JOIN kit_returns r ON r.kit_id = k.id WHERE k.id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 1) != CTM_V_NULL)
        rc = ctm__err(CTM_ERULE, "kit %s: already recorded %s on %s", number,
                      ctm__st_int(st, 2) ? "lost by its subject" : "returned",
                      ctm__st_text(st, 1));
    else if (src == CTM_ROW)
        rc = ctm__err(CTM_ERULE, "kit %s is not with a subject (status %s): only a dispensed kit"
                                 " comes back",
                      number, ctm__st_text(st, 0));
    else
        rc = ctm__store_fail(src, "reading the kit");
    ctm__st_finalize(st);
    return rc;
}

int ctm__return_record(ctm_db *db, int64_t kit_id, int64_t dispensation_id, int lost,
                       int64_t units, int64_t day, const char *condition)
{
    char on[11];
    ctm__format_date(day, on);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO kit_returns(kit_id, dispensation_id, lost, units,"
                          " returned_on, condition, recorded_us, recorded_by)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    ctm__st_bind_int(st, 2, dispensation_id);
    ctm__st_bind_int(st, 3, lost ? 1 : 0);
    if (units >= 0)
        ctm__st_bind_int(st, 4, units);
    ctm__st_bind_text(st, 5, on);
    if (condition != NULL)
        ctm__st_bind_text(st, 6, condition);
    ctm__st_bind_int(st, 7, ctm__now_us());
    ctm__st_bind_text(st, 8, db->session.user);
    return ctm__step_done(db, st, "recording the return");
}

/* The day of a return: given ("YYYY-MM-DD") or today, never in the future. */
static int return_day(const char *field, const char *given, int64_t *day)
{
    *day = ctm__today();
    if (given == NULL)
        return CTM_OK;
    int64_t d;
    int rc = ctm__parse_date(field, given, &d);
    if (rc == CTM_OK && d > *day)
        rc = ctm__err(CTM_EINVAL, "%s: %s is in the future", field, given);
    if (rc == CTM_OK)
        *day = d;
    return rc;
}

/* A kit back from its subject: `lost`, or returned with `units` (>= 0) and a condition. */
static int kit_back(ctm_db *db, const char *action, const char *trial, const char *kit,
                    int lost, int64_t units, const char *on, const char *condition,
                    const char *reason)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, action, lost ? "lost" : "return");
    int64_t day = 0;
    if (rc == CTM_OK)
        rc = return_day(lost ? "reported_on" : "returned_on", on, &day);
    if (rc == CTM_OK && condition != NULL)
        rc = ctm__check_text("condition", condition, 200);
    if (rc == CTM_OK && lost)
        rc = reason == NULL || reason[0] == '\0'
                 ? ctm__err(CTM_EINVAL, "reason: required (how the kit was lost)")
                 : ctm__check_text("reason", reason, 500);
    if (rc == CTM_OK && kit == NULL)
        rc = ctm__err(CTM_EINVAL, "kit: required");
    int64_t kit_id = 0;
    char number[48];
    if (rc == CTM_OK)
        rc = ctm__kit_find(db, trial, kit, &kit_id, number);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, action, lost ? reason : "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "kit", number);
    handed h;
    int found = 0;
    rc = find_handed(db, kit_id, &h, &found);
    if (rc == CTM_OK && (!found || strcmp(h.status, "dispensed") != 0))
        rc = not_out(db, kit_id, number);
    char text[24], day_text[11];
    ctm__format_date(day, day_text);
    if (rc == CTM_OK) {
        ctm__action_param(&a, "subject", h.screening);
        ctm__action_param(&a, lost ? "reported_on" : "returned_on", day_text);
    }
    if (rc == CTM_OK && !lost) {
        if (units > h.units)
            rc = ctm__err(CTM_EINVAL, "units: %lld is more than the %lld units kit %s held",
                          (long long)units, (long long)h.units, number);
        snprintf(text, sizeof text, "%lld", (long long)units);
        ctm__action_param(&a, "units", text);
    }
    int64_t handed_day = h.dispensed_us / CTM__DAY_US;
    if (rc == CTM_OK && day < handed_day) {
        char was[11];
        ctm__format_date(handed_day, was);
        rc = ctm__err(CTM_EINVAL, "%s: %s is before kit %s was dispensed (%s)",
                      lost ? "reported_on" : "returned_on", day_text, number, was);
    }
    if (rc == CTM_OK)
        rc = ctm__return_record(db, kit_id, h.dispensation_id, lost, lost ? -1 : units, day,
                                condition);
    /* the kit's history dates the change on the day it happened: now when today, else at the
     * start of that day (never before the dispensing) */
    int64_t at = day == ctm__today() ? 0 : day * CTM__DAY_US;
    if (at != 0 && at <= h.dispensed_us)
        at = h.dispensed_us + 1;
    if (rc == CTM_OK)
        rc = ctm__kit_status_move(db, kit_id, number, "dispensed",
                                  lost ? "lost_by_subject" : "returned", at);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_return(ctm_db *db, const char *trial, const char *kit, int units, const char *returned_on,
               const char *condition)
{
    if (units < 0) {
        ctm__clear_error();
        return ctm__err(CTM_EINVAL, "units: %d; count the units brought back (0 or more)", units);
    }
    return kit_back(db, "kit.return", trial, kit, 0, units, returned_on, condition, NULL);
}

int ctm_lost(ctm_db *db, const char *trial, const char *kit, const char *reported_on,
             const char *reason)
{
    return kit_back(db, "kit.lost", trial, kit, 1, -1, reported_on, NULL, reason);
}

int ctm_compliance_limits(ctm_db *db, const char *trial, int low_pct, int high_pct)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "trial.compliance", "compliance limits");
    if (rc == CTM_OK && (low_pct < 0 || low_pct > 1000))
        rc = ctm__err(CTM_EINVAL, "low: %d%%; from 0 to 1000", low_pct);
    if (rc == CTM_OK && (high_pct < 0 || high_pct > 1000))
        rc = ctm__err(CTM_EINVAL, "high: %d%%; from 0 to 1000", high_pct);
    if (rc == CTM_OK && low_pct > high_pct)
        rc = ctm__err(CTM_EINVAL, "low: %d%% is above high (%d%%)", low_pct, high_pct);
    ctm__trial t;
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "trial.compliance", "")) != CTM_OK)
        return rc;
    char low[12], high[12];
    snprintf(low, sizeof low, "%d", low_pct);
    snprintf(high, sizeof high, "%d", high_pct);
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "low", low);
    ctm__action_param(&a, "high", high);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "INSERT INTO compliance_limits(trial_id, low_pct, high_pct) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (trial_id) DO UPDATE SET low_pct = excluded.low_pct,"
                      " high_pct = excluded.high_pct");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_int(st, 2, low_pct);
        ctm__st_bind_int(st, 3, high_pct);
        rc = ctm__step_done(db, st, "setting the compliance limits");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- compliance ---- */

/* The listing's columns, as the SELECT below names them. */
enum {
    C_TRIAL, C_SCREENING, C_RAND, C_VISIT, C_KIT_TYPE, C_DISPENSED_ON, C_KITS, C_UNITS,
    C_KITS_RETURNED, C_UNITS_RETURNED, C_KITS_LOST, C_KITS_OUT, C_RETURNED_ON, C_DAYS,
    C_PRESCRIBED, C_CONSUMED, C_PCT, C_LOW, C_HIGH, C_FLAG,
    /* read, not shown */
    C_NOT_COUNTED, C_KIT_UNITS, C_DISPENSING_DAYS, C_NCOLS
};

static const char *const compliance_columns[] = {
    "trial", "screening", "rand_number", "visit", "kit_type", "dispensed_on", "kits",
    "units_dispensed", "kits_returned", "units_returned", "kits_lost", "kits_out", "returned_on",
    "days", "prescribed_units", "consumed_units", "compliance_pct", "low_pct", "high_pct", "flag",
};

/* What the statement cannot compute portably: the period, the units prescribed and consumed,
 * the percentage and its flag. */
static int compliance_row(ctm__st *st, ctm__row *row, void *ctx)
{
    (void)ctx;
    int rc = ctm__row_copy(st, row);
    if (rc != CTM_OK)
        return rc;
    int64_t first_us = ctm__st_int(st, C_DISPENSED_ON);
    char day[11];
    ctm__format_date(first_us / CTM__DAY_US, day);
    if ((rc = ctm__row_set_text(row, C_DISPENSED_ON, day)) != CTM_OK)
        return rc;
    int64_t kits = ctm__st_int(st, C_KITS), units = ctm__st_int(st, C_UNITS);
    int64_t lost = ctm__st_int(st, C_KITS_LOST), out = ctm__st_int(st, C_KITS_OUT);
    int64_t uncounted = ctm__st_int(st, C_NOT_COUNTED);
    int64_t low = ctm__st_int(st, C_LOW), high = ctm__st_int(st, C_HIGH);
    const char *flag = NULL;
    ctm__row_set_null(row, C_DAYS);
    ctm__row_set_null(row, C_PRESCRIBED);
    ctm__row_set_null(row, C_CONSUMED);
    ctm__row_set_null(row, C_PCT);
    if (out > 0)
        flag = "not returned";
    else if (lost > 0)
        flag = "lost";
    else if (uncounted > 0)
        flag = "not counted";
    if (flag == NULL) {
        int64_t back = 0;
        rc = ctm__parse_date("returned_on", (const char *)ctm__st_text(st, C_RETURNED_ON), &back);
        if (rc != CTM_OK)
            return rc;
        int64_t days = back - first_us / CTM__DAY_US;
        int64_t consumed = units - ctm__st_int(st, C_UNITS_RETURNED);
        double prescribed = (double)units;
        if (ctm__st_type(st, C_DISPENSING_DAYS) != CTM_V_NULL &&
            ctm__st_int(st, C_DISPENSING_DAYS) > 0)
            prescribed = (double)days * (double)kits * (double)ctm__st_int(st, C_KIT_UNITS) /
                         (double)ctm__st_int(st, C_DISPENSING_DAYS);
        ctm__row_set_int(row, C_DAYS, days);
        ctm__row_set_real(row, C_PRESCRIBED, round(prescribed * 10.0) / 10.0);
        ctm__row_set_int(row, C_CONSUMED, consumed);
        if (prescribed <= 0.0) {
            flag = "no period";
        } else {
            double pct = round(1000.0 * (double)consumed / prescribed) / 10.0;
            ctm__row_set_real(row, C_PCT, pct);
            flag = pct < (double)low ? "low" : pct > (double)high ? "high" : "ok";
        }
    }
    return ctm__row_set_text(row, C_FLAG, flag);
}

int ctm_compliance(ctm_query **out, ctm_db *db, const char *trial, const char *screening)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "compliance", trial, &t);
    if (rc == CTM_OK && screening != NULL)
        rc = ctm__check_text("screening", screening, 64);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, s.screening AS screening, s.rand_number AS rand_number,"
            " v.code AS visit, kt.code AS kit_type, MIN(d.dispensed_us) AS dispensed_on,"
            " COUNT(*) AS kits, SUM(k.units) AS units_dispensed,"
            " SUM(CASE WHEN r.id IS NOT NULL AND r.lost = 0 THEN 1 ELSE 0 END) AS kits_returned,"
            " SUM(r.units) AS units_returned,"
            " SUM(CASE WHEN r.lost = 1 THEN 1 ELSE 0 END) AS kits_lost,"
            " SUM(CASE WHEN r.id IS NULL THEN 1 ELSE 0 END) AS kits_out,"
            " MAX(r.returned_on) AS returned_on, NULL AS days, NULL AS prescribed_units,"
            " NULL AS consumed_units, NULL AS compliance_pct,"
            " COALESCE(cl.low_pct, 80) AS low_pct, COALESCE(cl.high_pct, 110) AS high_pct,"
            " NULL AS flag,"
            " SUM(CASE WHEN r.id IS NOT NULL AND r.lost = 0 AND r.units IS NULL THEN 1 ELSE 0"
            " END) AS not_counted, kt.units AS kit_units, kt.dispensing_days AS dispensing_days"
            " FROM dispensations d JOIN subjects s ON s.id = d.subject_id"
            " JOIN trials t ON t.id = s.trial_id JOIN visits v ON v.id = d.visit_id"
            " JOIN kits k ON k.id = d.kit_id JOIN kit_types kt ON kt.id = k.kit_type_id"
            " LEFT JOIN kit_returns r ON r.kit_id = k.id AND r.dispensation_id = d.id"
            " LEFT JOIN compliance_limits cl ON cl.trial_id = t.id"
            " WHERE d.status = 'dispensed' AND (?1 IS NULL OR s.trial_id = ?1)"
            " AND (?2 IS NULL OR s.screening = ?2)"
            " GROUP BY t.code, s.screening, s.rand_number, v.position, v.code, kt.code, kt.units,"
            " kt.dispensing_days, cl.low_pct, cl.high_pct"
            " ORDER BY t.code, s.screening, v.position, kt.code");
    if (rc != CTM_OK)
        return rc;
    if (t.id != 0)
        ctm__st_bind_int(st, 1, t.id);
    if (screening != NULL)
        ctm__st_bind_text(st, 2, screening);
    return ctm__query_new(out, st, compliance_columns, C_FLAG + 1, compliance_row, NULL, NULL);
}
