/* export.c - a trial's dispensations, receipts and returns for the systems around the pharmacy:
 * HL7 FHIR R4 JSON for hospital systems, a CDISC SDTM DA-style CSV for the sponsor's data
 * management.  docs/exports.md maps every field.
 *
 * The rules:
 *   - No arm, for anyone: no query here reads kits.arm, subjects.arm or the randomization list,
 *     so an export is the same text whoever asks, blinded or not, and whatever the arms are.  What
 *     it does show (kit types, lots, kit numbers, units) every user sees in the listings already
 *     (docs/security.md, "What is not secret").
 *   - No person's name but the recording pharmacist's: a subject is its screening number.
 *   - Deterministic: nothing varies with the clock (no timestamp on the Bundle), rows in a fixed
 *     order, so that two exports of the same data are equal byte for byte.
 *   - One moment: every statement of an export reads inside one read transaction
 *     (ctm__store_begin_snapshot), so a PostgreSQL site written to meanwhile cannot give the
 *     receipts of one moment and the dispensations of another.
 *   - R4's cardinalities: a SupplyDelivery carries at most one suppliedItem, so a receipt of
 *     several kit types or lots is one SupplyDelivery per kit type and lot, each with the
 *     shipment's number as its identifier.
 * The period (from/to) selects by when it happened: the handing over, the date received, the
 * date returned. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "stock.h"

/* ---- text ---- */

static void put(ctm__buf *b, const char *s)
{
    ctm__buf_put(b, s, strlen(s));
}

static void putf(ctm__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(ctm__buf *b, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        ctm__buf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* ", \"key\": " then the string value */
static void member(ctm__buf *b, const char *key, const char *value)
{
    putf(b, ", \"%s\": ", key);
    ctm__json_string(b, value);
}

/* A column's text, or NULL for SQL NULL. */
static const char *col_text(ctm__st *st, int col)
{
    return ctm__st_type(st, col) == CTM_V_NULL ? NULL : ctm__st_text(st, col);
}

/* ---- the period ---- */

typedef struct period {
    int64_t from_us, to_us;  /* instants, inclusive */
    char from_day[11], to_day[11];  /* the days they fall in, for columns that hold a date */
} period;

static int period_read(const ctm_export_options *opts, period *p)
{
    p->from_us = INT64_MIN;
    p->to_us = INT64_MAX;
    strcpy(p->from_day, "0000-01-01");
    strcpy(p->to_day, "9999-12-31");
    if (opts == NULL)
        return CTM_OK;
    if (opts->struct_size < sizeof(ctm_export_options))
        return ctm__err(CTM_EINVAL, "export options: struct_size %zu is too small",
                        opts->struct_size);
    int rc = CTM_OK;
    if (opts->from != NULL && (rc = ctm__parse_instant("from", opts->from, 0, &p->from_us)) == CTM_OK)
        ctm__format_date(ctm__utc_day(p->from_us), p->from_day);
    if (rc == CTM_OK && opts->to != NULL &&
        (rc = ctm__parse_instant("to", opts->to, 1, &p->to_us)) == CTM_OK)
        ctm__format_date(ctm__utc_day(p->to_us), p->to_day);
    if (rc == CTM_OK && p->from_us > p->to_us)
        rc = ctm__err(CTM_EINVAL, "from: '%.40s' is after to '%.40s'", opts->from, opts->to);
    return rc;
}

/* ---- FHIR R4 ---- */

/* ", \"key\": {\"inner\": \"value\"}": a member whose value is an object of one string, as FHIR
 * writes a reference ("reference"), an identifier ("value"), a display or a text. */
static void member_of_one(ctm__buf *b, const char *key, const char *inner, const char *value)
{
    putf(b, ", \"%s\": {\"%s\": ", key, inner);
    ctm__json_string(b, value);
    put(b, "}");
}

/* A kit type, its lot and expiry as a contained Medication with the id `id`. */
static void fhir_medication(ctm__buf *b, const char *id, const char *code, const char *name,
                            const char *form, const char *lot, const char *expiry)
{
    put(b, "{\"resourceType\": \"Medication\"");
    member(b, "id", id);
    put(b, ", \"code\": {\"coding\": [{\"code\": ");
    ctm__json_string(b, code);
    member(b, "display", name);
    put(b, "}]");
    member(b, "text", name);
    put(b, "}");
    if (form != NULL)
        member_of_one(b, "form", "text", form);
    put(b, ", \"batch\": {\"lotNumber\": ");
    ctm__json_string(b, lot);
    member(b, "expirationDate", expiry);
    put(b, "}}");
}

/* Both resources' statements give the kit type and lot that become the contained Medication,
 * then the units of the quantity, at the same columns. */
enum { COL_CODE = 3, COL_NAME, COL_FORM, COL_LOT, COL_EXPIRY, COL_UNITS };

/* A Bundle entry's opening: the resource of type `type` with the id "<prefix>-<n>", its contained
 * Medication with the id `medication` (the columns above) and its identifier.  The entry ends
 * with "}}". */
static void fhir_entry_begin(ctm__buf *b, int *first, const char *type, const char *prefix,
                             int64_t n, ctm__st *st, const char *medication,
                             const char *identifier)
{
    char id[32];
    snprintf(id, sizeof id, "%s-%" PRId64, prefix, n);
    put(b, *first ? "\n  " : ",\n  ");
    *first = 0;
    putf(b, "{\"resource\": {\"resourceType\": \"%s\"", type);
    member(b, "id", id);
    put(b, ", \"contained\": [");
    fhir_medication(b, medication, ctm__st_text(st, COL_CODE), ctm__st_text(st, COL_NAME),
                    col_text(st, COL_FORM), ctm__st_text(st, COL_LOT),
                    ctm__st_text(st, COL_EXPIRY));
    put(b, "], \"identifier\": [{\"value\": ");
    ctm__json_string(b, identifier);
    put(b, "}]");
}

/* The units as a SimpleQuantity: the kit type's dose form names the unit. */
static void fhir_quantity(ctm__buf *b, ctm__st *st)
{
    const char *form = col_text(st, COL_FORM);
    putf(b, "{\"value\": %" PRId64 ", \"unit\": ", ctm__st_int(st, COL_UNITS));
    ctm__json_string(b, form != NULL ? form : "unit");
    put(b, "}");
}

/* Prepare sql, whose ?1 is the trial and ?2, ?3 the period: its instants, or the days they fall
 * in when by_day (for columns that hold a date). */
static int period_prepare(ctm_db *db, ctm__st **st, const char *sql, int64_t trial_id,
                          const period *p, int by_day)
{
    int rc = ctm__prepare(db, st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(*st, 1, trial_id);
    if (by_day) {
        ctm__st_bind_text(*st, 2, p->from_day);
        ctm__st_bind_text(*st, 3, p->to_day);
    } else {
        ctm__st_bind_int(*st, 2, p->from_us);
        ctm__st_bind_int(*st, 3, p->to_us);
    }
    return CTM_OK;
}

/* An instant as ISO 8601 in UTC to the second: with the zone ("Z") as FHIR writes a dateTime, or
 * without it as SDTM writes --DTC. */
static void datetime(int64_t us, int zone, char *out, size_t len)
{
    ctm__format_time_seconds(us, out, len);
    if (!zone)
        out[strcspn(out, "Z")] = '\0';
}

#define DISPENSE_SQL                                                                           \
    "SELECT d.id, k.kit_number, su.screening, kt.code, kt.name, kt.dose_form, l.batch,"       \
    " COALESCE(k.expiry, l.expiry), k.units, d.dispensed_us, d.status,"                        \
    " (SELECT e.by_user FROM kit_events e WHERE e.kit_id = k.id AND e.status = 'dispensed'"    \
    "  ORDER BY e.at_us DESC, e.id DESC LIMIT 1) AS recorder, v.code, v.position,"             \
    " (SELECT u.printed_name FROM kit_events e JOIN users u ON u.username = e.by_user"          \
    "  WHERE e.kit_id = k.id AND e.status = 'dispensed'"                                       \
    "  ORDER BY e.at_us DESC, e.id DESC LIMIT 1) AS recorder_name"                             \
    " FROM dispensations d JOIN subjects su ON su.id = d.subject_id"                           \
    " JOIN kits k ON k.id = d.kit_id JOIN kit_types kt ON kt.id = k.kit_type_id"               \
    " JOIN lots l ON l.id = k.lot_id JOIN visits v ON v.id = d.visit_id"                       \
    " WHERE su.trial_id = ?1 AND d.dispensed_us IS NOT NULL AND d.dispensed_us >= ?2"          \
    " AND d.dispensed_us <= ?3 AND d.status IN ("

/* One MedicationDispense per kit handed over (reversed ones as entered-in-error). */
static int fhir_dispenses(ctm__buf *b, ctm_db *db, int64_t trial_id, const period *p, int *first)
{
    ctm__st *st = NULL;
    int rc = period_prepare(db, &st,
                            DISPENSE_SQL "'dispensed', 'replaced', 'reversed')"
                                         " ORDER BY d.dispensed_us, d.id",
                            trial_id, p, 0);
    if (rc != CTM_OK)
        return rc;
    int64_t n = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        char when[32];
        datetime(ctm__st_int(st, 9), 1, when, sizeof when);
        const char *recorder = col_text(st, 11), *name = col_text(st, 14);
        fhir_entry_begin(b, first, "MedicationDispense", "dispense", ++n, st, "kit",
                         ctm__st_text(st, 1));
        member(b, "status",
               strcmp(ctm__st_text(st, 10), "reversed") == 0 ? "entered-in-error" : "completed");
        member_of_one(b, "medicationReference", "reference", "#kit");
        put(b, ", \"subject\": {\"identifier\": {\"value\": ");
        ctm__json_string(b, ctm__st_text(st, 2));
        put(b, "}}");
        if (recorder != NULL) {
            put(b, ", \"performer\": [{\"actor\": {\"identifier\": {\"value\": ");
            ctm__json_string(b, recorder);
            put(b, "}");
            if (name != NULL)
                member(b, "display", name);
            put(b, "}}]");
        }
        put(b, ", \"quantity\": ");
        fhir_quantity(b, st);
        member(b, "whenHandedOver", when);
        put(b, "}}");
    }
    if (src != CTM_OK)
        rc = ctm__store_fail(src, "reading dispensations");
    ctm__st_finalize(st);
    return rc;
}

/* One SupplyDelivery per confirmed incoming shipment, kit type and lot: the kits that arrived
 * (those recorded missing on receipt did not). */
static int fhir_deliveries(ctm__buf *b, ctm_db *db, int64_t trial_id, const period *p,
                           int *first)
{
    ctm__st *st = NULL;
    int rc = period_prepare(
        db, &st,
        "SELECT s.number, s.origin, s.date_received, kt.code, kt.name, kt.dose_form, l.batch,"
        " l.expiry, SUM(k.units)"
        " FROM shipments s JOIN kits k ON k.shipment_id = s.id"
        " JOIN kit_types kt ON kt.id = k.kit_type_id JOIN lots l ON l.id = k.lot_id"
        " WHERE s.trial_id = ?1 AND s.direction = 'in' AND s.status = 'confirmed'"
        " AND s.date_received >= ?2 AND s.date_received <= ?3"
        " AND NOT EXISTS (SELECT 1 FROM discrepancies x WHERE x.shipment_id = s.id"
        "  AND x.kind = 'missing' AND x.kit_number = k.kit_number)"
        " GROUP BY s.id, s.number, s.origin, s.date_received, kt.id, kt.code, kt.name,"
        " kt.dose_form, l.id, l.batch, l.expiry"
        " ORDER BY s.date_received, s.id, kt.code, l.batch",
        trial_id, p, 1);
    if (rc != CTM_OK)
        return rc;
    int64_t n = 0;
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        fhir_entry_begin(b, first, "SupplyDelivery", "delivery", ++n, st, "item",
                         ctm__st_text(st, 0));
        put(b, ", \"status\": \"completed\", \"suppliedItem\": {\"quantity\": ");
        fhir_quantity(b, st);
        member_of_one(b, "itemReference", "reference", "#item");
        put(b, "}");
        member(b, "occurrenceDateTime", ctm__st_text(st, 2));
        if (col_text(st, 1) != NULL)
            member_of_one(b, "supplier", "display", ctm__st_text(st, 1));
        put(b, "}}");
    }
    if (src != CTM_OK)
        rc = ctm__store_fail(src, "reading shipments");
    ctm__st_finalize(st);
    return rc;
}

static int export_fhir(ctm__buf *b, ctm_db *db, int64_t trial_id, const period *p)
{
    int first = 1;
    put(b, "{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": [");
    int rc = fhir_deliveries(b, db, trial_id, p, &first);
    if (rc == CTM_OK)
        rc = fhir_dispenses(b, db, trial_id, p, &first);
    put(b, first ? "]}\n" : "\n]}\n");
    return rc;
}

/* ---- SDTM DA ---- */

/* One DA record before it is numbered: dispensed or returned amounts of one kit. */
typedef struct da_row {
    char subject[65], kit[65], lot[65], unit[65], visit[65], dtc[32];
    int returned;         /* 0: DISPAMT, 1: RETAMT */
    int lost;             /* RETAMT of a kit the subject lost: not done */
    int64_t units, visitnum;  /* visitnum 0: none */
} da_row;

typedef struct da_rows {
    da_row *v;
    size_t n, cap;
} da_rows;

static da_row *da_add(da_rows *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        da_row *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    da_row *row = &r->v[r->n++];
    memset(row, 0, sizeof *row);
    return row;
}

static void copy(char *dst, size_t len, const char *s)
{
    snprintf(dst, len, "%s", s != NULL ? s : "");
}

/* The unit as SDTM writes units: the dose form in capitals ("TABLET"), else "UNIT". */
static void da_unit(char *dst, size_t len, const char *form)
{
    copy(dst, len, form != NULL ? form : "unit");
    for (char *c = dst; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
}

static int da_dispensed(da_rows *r, ctm_db *db, int64_t trial_id, const period *p)
{
    ctm__st *st = NULL;
    int rc = period_prepare(db, &st, DISPENSE_SQL "'dispensed', 'replaced')", trial_id, p, 0);
    if (rc != CTM_OK)
        return rc;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        da_row *row = da_add(r);
        if (row == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
        copy(row->subject, sizeof row->subject, ctm__st_text(st, 2));
        copy(row->kit, sizeof row->kit, ctm__st_text(st, 1));
        copy(row->lot, sizeof row->lot, ctm__st_text(st, 6));
        da_unit(row->unit, sizeof row->unit, col_text(st, 5));
        copy(row->visit, sizeof row->visit, ctm__st_text(st, 12));
        row->visitnum = ctm__st_int(st, 13);
        row->units = ctm__st_int(st, 8);
        datetime(ctm__st_int(st, 9), 0, row->dtc, sizeof row->dtc);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading dispensations");
    ctm__st_finalize(st);
    return rc;
}

static int da_returned(da_rows *r, ctm_db *db, int64_t trial_id, const period *p)
{
    ctm__st *st = NULL;
    int rc = period_prepare(db, &st,
                            "SELECT su.screening, k.kit_number, l.batch, kt.dose_form, r.lost,"
                            " r.units, r.returned_on"
                            " FROM kit_returns r JOIN dispensations d ON d.id = r.dispensation_id"
                            " JOIN subjects su ON su.id = d.subject_id"
                            " JOIN kits k ON k.id = r.kit_id"
                            " JOIN kit_types kt ON kt.id = k.kit_type_id"
                            " JOIN lots l ON l.id = k.lot_id"
                            " WHERE su.trial_id = ?1 AND r.returned_on >= ?2"
                            " AND r.returned_on <= ?3",
                            trial_id, p, 1);
    if (rc != CTM_OK)
        return rc;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        da_row *row = da_add(r);
        if (row == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            break;
        }
        row->returned = 1;
        copy(row->subject, sizeof row->subject, ctm__st_text(st, 0));
        copy(row->kit, sizeof row->kit, ctm__st_text(st, 1));
        copy(row->lot, sizeof row->lot, ctm__st_text(st, 2));
        da_unit(row->unit, sizeof row->unit, col_text(st, 3));
        row->lost = ctm__st_int(st, 4) != 0;
        row->units = row->lost ? 0 : ctm__st_int(st, 5);
        copy(row->dtc, sizeof row->dtc, ctm__st_text(st, 6));
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading returns");
    ctm__st_finalize(st);
    return rc;
}

/* By subject, then day, dispensed before returned on one day, then time and kit. */
static int da_order(const void *a, const void *b)
{
    const da_row *x = a, *y = b;
    int c = strcmp(x->subject, y->subject);
    if (c == 0)
        c = strncmp(x->dtc, y->dtc, 10);
    if (c == 0)
        c = x->returned - y->returned;
    if (c == 0)
        c = strcmp(x->dtc, y->dtc);
    return c != 0 ? c : strcmp(x->kit, y->kit);
}

/* A CSV cell (ctm__csv_cell) and what follows it. */
static void csv_cell(ctm__buf *b, const char *s, int last)
{
    ctm__csv_cell(b, s, 1);
    put(b, last ? "\r\n" : ",");
}

/* The variables in the order of the SDTMIG DA domain (docs/exports.md). */
static const char *const da_columns[] = {
    "STUDYID", "DOMAIN", "USUBJID", "DASEQ", "DAREFID", "DASPID", "DATESTCD", "DATEST",
    "DAORRES", "DAORRESU", "DASTRESC", "DASTRESN", "DASTRESU", "DASTAT", "DAREASND",
    "VISITNUM", "VISIT", "DADTC",
};
enum { DA_NCOLS = sizeof da_columns / sizeof da_columns[0] };

static void da_write(ctm__buf *b, const char *trial, const da_rows *r)
{
    for (size_t c = 0; c < DA_NCOLS; c++)
        csv_cell(b, da_columns[c], c + 1 == DA_NCOLS);
    int64_t seq = 0;
    for (size_t i = 0; i < r->n; i++) {
        const da_row *row = &r->v[i];
        seq = i > 0 && strcmp(row->subject, r->v[i - 1].subject) == 0 ? seq + 1 : 1;
        char usubjid[160], seqs[24], amount[24], visitnum[24];
        snprintf(usubjid, sizeof usubjid, "%s-%s", trial, row->subject);
        snprintf(seqs, sizeof seqs, "%" PRId64, seq);
        snprintf(amount, sizeof amount, "%" PRId64, row->units);
        snprintf(visitnum, sizeof visitnum, "%" PRId64, row->visitnum);
        const char *res = row->lost ? "" : amount, *unit = row->lost ? "" : row->unit;
        const char *cells[DA_NCOLS] = {
            trial, "DA", usubjid, seqs, row->kit, row->lot,
            row->returned ? "RETAMT" : "DISPAMT",
            row->returned ? "Returned Amount" : "Dispensed Amount",
            res, unit, res, res, unit,
            row->lost ? "NOT DONE" : "", row->lost ? "LOST BY SUBJECT" : "",
            row->visitnum > 0 ? visitnum : "", row->visit, row->dtc,
        };
        for (size_t c = 0; c < DA_NCOLS; c++)
            csv_cell(b, cells[c], c + 1 == DA_NCOLS);
    }
}

static int export_sdtm_da(ctm__buf *b, ctm_db *db, const char *trial, int64_t trial_id,
                          const period *p)
{
    da_rows r = { NULL, 0, 0 };
    int rc = da_dispensed(&r, db, trial_id, p);
    if (rc == CTM_OK)
        rc = da_returned(&r, db, trial_id, p);
    if (rc == CTM_OK) {
        if (r.n > 1)
            qsort(r.v, r.n, sizeof *r.v, da_order);
        da_write(b, trial, &r);
    }
    free(r.v);
    return rc;
}

/* ---- the call ---- */

int ctm_export(char **out, ctm_db *db, const char *format, const char *trial,
               const ctm_export_options *opts)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "export: out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, "export");
    int fmt = format == NULL ? -1 : strcmp(format, "fhir") == 0 ? 0
                                  : strcmp(format, "sdtm-da") == 0 ? 1 : -1;
    if (rc == CTM_OK && fmt < 0)
        rc = ctm__err(CTM_EINVAL, "format: '%.20s' is neither fhir nor sdtm-da",
                      format != NULL ? format : "");
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    period p;
    if (rc == CTM_OK)
        rc = period_read(opts, &p);
    ctm__trial t;
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc != CTM_OK)
        return rc;
    ctm__buf b;
    ctm__buf_init(&b);
    /* one moment: every statement reads the same state of the site (inside a caller's batch,
     * that batch's own) */
    int snapshot = !ctm__store_in_transaction(db->store);
    if (snapshot)
        rc = ctm__store_begin_snapshot(db->store, "export");
    if (rc == CTM_OK) {
        rc = fmt == 0 ? export_fhir(&b, db, t.id, &p) : export_sdtm_da(&b, db, trial, t.id, &p);
        if (snapshot)
            rc = ctm__store_end_snapshot(db->store, rc);
    }
    ctm__buf_u8(&b, 0);
    if (rc == CTM_OK && b.oom)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK) {
        *out = (char *)b.p;
        b.p = NULL;
    }
    ctm__buf_free(&b);
    return rc;
}
