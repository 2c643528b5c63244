/* test_export.c - ctm_export: the FHIR R4 Bundle and the SDTM DA CSV of a trial with receipts,
 * dispensations and returns, exactly; the period; the errors; and the blind: the same text for
 * blinded and unblinded users, and for a trial whose arms are the other way round.  Runs on both
 * back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "export-pw-1"
#define TRIAL "EU-CT-2026-910001"
#define TWIN "EU-CT-2026-910002" /* the same trial, every arm the other way round, kits J... */
#define ARM_A "QZACTIVE"
#define ARM_B "QZPLACEBO"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;
static char when1[40], when2[40]; /* the dispensings' times, ISO 8601 UTC to the second */

/* One trial: a receipt of four kits in two lots (k001, k002 of the first arm; k003, k004 of the
 * second), subjects S1 (first arm) and S2 (second), S1 given k001 and S2 k003 at V1.  (Kit
 * numbers differ between the two trials: dispensing finds a kit by its number in any trial.) */
static void build_trial(ctm_db *h, const char *trial, const char *shipment, char k,
                        const char *first, const char *second)
{
    tu_must(ctm_trial_add(h, trial, "Nordaxin in heart failure", "Nord Pharma", 1,
                          ARM_A ":1," ARM_B ":1"), "trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.dose_form = "tablet";
    ko.strength = "10 mg";
    tu_must(ctm_kittype_add(h, trial, "KT", "Nordaxin 10 mg or placebo", 28, 2, 8, 0, &ko),
            "kit type");
    char m[1024];
    size_t len = (size_t)snprintf(m, sizeof m,
                                  "kit_number,kit_type,lot,expiry,arm\n"
                                  "%c001,KT,L1,2031-06-30,%s\n%c002,KT,L1,2031-06-30,%s\n"
                                  "%c003,KT,L1,2031-06-30,%s\n%c004,KT,L2,2031-01-31,%s\n",
                                  k, first, k, first, k, second, k, second);
    ctm_receive_options ro = CTM_RECEIVE_OPTIONS_INIT;
    ro.origin = "Depot Nord";
    ro.date_received = "2026-01-05";
    tu_must(ctm_receive(h, trial, shipment, m, len, "FRIDGE1", &ro), "receive");
    tu_must(ctm_receive_confirm(h, shipment, 1), "confirm");
    tu_must(ctm_visit_add(h, trial, "V1", 0, "randomization", "-0..+3", "KT:1"), "visit 1");
    tu_must(ctm_visit_add(h, trial, "V2", 28, "previous", "-3..+3", "KT:1"), "visit 2");
    char list[256];
    len = (size_t)snprintf(list, sizeof list,
                           "randomization_number,stratum,arm\nR-1,all,%s\nR-2,all,%s\n", first,
                           second);
    tu_must(ctm_random_import(h, trial, "sponsor", list, len, NULL), "list");
    const char *subjects[2] = {"S1", "S2"}, *whens[2] = {when1, when2};
    char kits[2][8];
    snprintf(kits[0], sizeof kits[0], "%c001", k);
    snprintf(kits[1], sizeof kits[1], "%c003", k);
    for (int i = 0; i < 2; i++) {
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        tu_must(ctm_subject_add(h, trial, subjects[i], NULL), "subject");
        tu_must(ctm_randomize(h, trial, subjects[i], &r), "randomize");
        const char *scans[1] = {kits[i]};
        tu_must(ctm_dispense_record(h, trial, subjects[i], "V1", scans, 1, whens[i],
                                    "network down"), "dispense");
    }
}

static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"bob", "pharmacist", 0, "Bob Blind", PW},
        {"ivy", "investigator", 0, "Ivy Invest", PW},
    };
    template_dir = tu_build_template("admin", "Ada Admin", PW, users, 3);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    time_t t1 = time(NULL) - 20, t2 = t1 + 5;
    strftime(when1, sizeof when1, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t1));
    strftime(when2, sizeof when2, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t2));
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, NULL), "open");
    tu_must(ctm_login(h, "pia", PW), "login");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    build_trial(h, TRIAL, "SH-100", 'K', ARM_A, ARM_B);
    build_trial(h, TWIN, "SH-200", 'J', ARM_B, ARM_A);
    ctm_close(h);
}

static void setup(void)
{
    db = tu_site_open(template_dir, &dir, db_path, "pia", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

static char *export_of(const char *format, const char *trial, const ctm_export_options *o)
{
    char *out = NULL;
    tu_ok(ctm_export(&out, db, format, trial, o));
    ck_assert_ptr_nonnull(out);
    return out;
}

/* s with every `from` replaced by `to` (same length), in place. */
static void replace_all(char *s, const char *from, const char *to)
{
    ck_assert_uint_eq(strlen(from), strlen(to));
    for (char *p = strstr(s, from); p != NULL; p = strstr(p + strlen(to), from))
        memcpy(p, to, strlen(to));
}

#define MEDICATION(ID, LOT, EXPIRY)                                                             \
    "{\"resourceType\": \"Medication\", \"id\": \"" ID "\", \"code\": {\"coding\": [{\"code\":" \
    " \"KT\", \"display\": \"Nordaxin 10 mg or placebo\"}], \"text\": \"Nordaxin 10 mg or"     \
    " placebo\"}, \"form\": {\"text\": \"tablet\"}, \"batch\": {\"lotNumber\": \"" LOT "\","    \
    " \"expirationDate\": \"" EXPIRY "\"}}"

#define DELIVERY(N, LOT, EXPIRY, UNITS)                                                         \
    "{\"resource\": {\"resourceType\": \"SupplyDelivery\", \"id\": \"delivery-" N "\","        \
    " \"contained\": [" MEDICATION("item", LOT, EXPIRY) "], \"identifier\": [{\"value\":"      \
    " \"SH-100\"}], \"status\": \"completed\", \"suppliedItem\": {\"quantity\": {\"value\": "    \
    UNITS ", \"unit\": \"tablet\"}, \"itemReference\": {\"reference\": \"#item\"}},"            \
    " \"occurrenceDateTime\": \"2026-01-05\", \"supplier\": {\"display\": \"Depot Nord\"}}}"

/* The dispensing of kit to subject at when, the N-th, as the bundle holds it. */
static void dispense_json(char *out, size_t len, int n, const char *kit, const char *subject,
                          const char *when, const char *status)
{
    snprintf(out, len,
             "{\"resource\": {\"resourceType\": \"MedicationDispense\", \"id\": \"dispense-%d\","
             " \"contained\": [" MEDICATION("kit", "L1", "2031-06-30") "], \"identifier\":"
             " [{\"value\": \"%s\"}], \"status\": \"%s\", \"medicationReference\":"
             " {\"reference\": \"#kit\"}, \"subject\": {\"identifier\": {\"value\": \"%s\"}},"
             " \"performer\": [{\"actor\": {\"identifier\": {\"value\": \"pia\"}, \"display\":"
             " \"Pia Pharm\"}}], \"quantity\": {\"value\": 28, \"unit\": \"tablet\"},"
             " \"whenHandedOver\": \"%s\"}}",
             n, kit, status, subject, when);
}

START_TEST(fhir_bundle_exact)
{
    char *out = export_of("fhir", TRIAL, NULL);
    char d1[2048], d2[2048], want[8192];
    dispense_json(d1, sizeof d1, 1, "K001", "S1", when1, "completed");
    dispense_json(d2, sizeof d2, 2, "K003", "S2", when2, "completed");
    snprintf(want, sizeof want,
             "{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": [\n  "
             DELIVERY("1", "L1", "2031-06-30", "84") ",\n  "
             DELIVERY("2", "L2", "2031-01-31", "28") ",\n  %s,\n  %s\n]}\n", d1, d2);
    ck_assert_str_eq(out, want);
    ctm_free(out);
}
END_TEST

START_TEST(fhir_reversed_is_entered_in_error)
{
    tu_ok(ctm_dispense_reverse(db, TRIAL, "S2", "K003", "given to the wrong subject"));
    char *out = export_of("fhir", TRIAL, NULL);
    char d2[2048];
    dispense_json(d2, sizeof d2, 2, "K003", "S2", when2, "entered-in-error");
    ck_assert_ptr_nonnull(strstr(out, d2));
    ctm_free(out);
    /* and it is no DISPAMT */
    out = export_of("sdtm-da", TRIAL, NULL);
    ck_assert_ptr_null(strstr(out, "K003"));
    ctm_free(out);
}
END_TEST

#define DA_HEADER                                                                               \
    "STUDYID,DOMAIN,USUBJID,DASEQ,DAREFID,DASPID,DATESTCD,DATEST,DAORRES,DAORRESU,DASTRESC,"  \
    "DASTRESN,DASTRESU,DASTAT,DAREASND,VISITNUM,VISIT,DADTC\r\n"

/* when without its Z, as SDTM writes --DTC */
static void dtc(char *out, const char *when)
{
    snprintf(out, 32, "%.19s", when);
}

START_TEST(sdtm_da_exact)
{
    char *out = export_of("sdtm-da", TRIAL, NULL);
    char t1[32], t2[32], want[2048];
    dtc(t1, when1);
    dtc(t2, when2);
    snprintf(want, sizeof want,
             DA_HEADER
             TRIAL ",DA," TRIAL "-S1,1,K001,L1,DISPAMT,Dispensed Amount,28,TABLET,28,28,TABLET,,,1,V1,%s\r\n"
             TRIAL ",DA," TRIAL "-S2,1,K003,L1,DISPAMT,Dispensed Amount,28,TABLET,28,28,TABLET,,,1,V1,%s\r\n",
             t1, t2);
    ck_assert_str_eq(out, want);
    ctm_free(out);
}
END_TEST

START_TEST(sdtm_da_returns)
{
    char *before = export_of("fhir", TRIAL, NULL);
    /* today: after the dispensings of the same day, which come first */
    tu_ok(ctm_return(db, TRIAL, "K001", 5, NULL, "opened"));
    tu_ok(ctm_lost(db, TRIAL, "K003", NULL, "left on the bus"));
    char *out = export_of("sdtm-da", TRIAL, NULL);
    char t1[32], t2[32], today[11], want[2048];
    dtc(t1, when1);
    dtc(t2, when2);
    tu_day(0, today);
    snprintf(want, sizeof want,
             DA_HEADER
             TRIAL ",DA," TRIAL "-S1,1,K001,L1,DISPAMT,Dispensed Amount,28,TABLET,28,28,TABLET,,,1,V1,%s\r\n"
             TRIAL ",DA," TRIAL "-S1,2,K001,L1,RETAMT,Returned Amount,5,TABLET,5,5,TABLET,,,,,%s\r\n"
             TRIAL ",DA," TRIAL "-S2,1,K003,L1,DISPAMT,Dispensed Amount,28,TABLET,28,28,TABLET,,,1,V1,%s\r\n"
             TRIAL ",DA," TRIAL "-S2,2,K003,L1,RETAMT,Returned Amount,,,,,,NOT DONE,LOST BY SUBJECT,,,%s\r\n",
             t1, today, t2, today);
    ck_assert_str_eq(out, want);
    ctm_free(out);
    /* the period selects returns by their date */
    ctm_export_options o = CTM_EXPORT_OPTIONS_INIT;
    o.from = today;
    out = export_of("sdtm-da", TRIAL, &o);
    ck_assert_ptr_nonnull(strstr(out, "S1,2,K001,L1,RETAMT"));
    ck_assert_ptr_nonnull(strstr(out, "LOST BY SUBJECT,,,"));
    ctm_free(out);
    char yesterday[11];
    tu_day(-1, yesterday);
    o.from = NULL;
    o.to = yesterday;
    out = export_of("sdtm-da", TRIAL, &o);
    ck_assert_ptr_null(strstr(out, "RETAMT"));
    ctm_free(out);
    /* returns are no FHIR resource: the bundle is the one before them */
    out = export_of("fhir", TRIAL, NULL);
    ck_assert_str_eq(out, before);
    ctm_free(out);
    ctm_free(before);
}
END_TEST

/* An export reads in a read transaction of its own and ends it: the handle takes a batch after it
 * and the text is the same again.  Inside a batch it reads that batch's changes and leaves the
 * batch open: rolled back, they are in no export. */
START_TEST(one_moment)
{
    char *fhir = export_of("fhir", TRIAL, NULL), *da = export_of("sdtm-da", TRIAL, NULL);
    tu_ok(ctm_batch_begin(db));
    tu_ok(ctm_return(db, TRIAL, "K001", 5, NULL, "opened"));
    char *out = export_of("sdtm-da", TRIAL, NULL);
    ck_assert_ptr_nonnull(strstr(out, TRIAL "-S1,2,K001,L1,RETAMT,Returned Amount,5,TABLET,5,"));
    ctm_free(out);
    out = export_of("fhir", TRIAL, NULL);
    ck_assert_str_eq(out, fhir);
    ctm_free(out);
    tu_ok(ctm_batch_rollback(db));
    static const char *const formats[] = {"fhir", "sdtm-da"};
    for (int f = 0; f < 2; f++) {
        out = export_of(formats[f], TRIAL, NULL);
        ck_assert_str_eq(out, f == 0 ? fhir : da);
        ctm_free(out);
    }
    tu_ok(ctm_batch_begin(db));
    tu_ok(ctm_batch_rollback(db));
    ctm_free(fhir);
    ctm_free(da);
}
END_TEST

START_TEST(period_selects)
{
    ctm_export_options o = CTM_EXPORT_OPTIONS_INIT;
    /* from the second dispensing: only it */
    o.from = when2;
    char *out = export_of("sdtm-da", TRIAL, &o);
    ck_assert_ptr_null(strstr(out, "K001"));
    ck_assert_ptr_nonnull(strstr(out, "K003"));
    ctm_free(out);
    out = export_of("fhir", TRIAL, &o);
    ck_assert_ptr_null(strstr(out, "SupplyDelivery"));
    ck_assert_ptr_nonnull(strstr(out, "\"id\": \"dispense-1\", \"contained\""));
    ck_assert_ptr_null(strstr(out, "dispense-2"));
    ctm_free(out);
    /* the day of the receipt only: its deliveries, no dispensing */
    o.from = "2026-01-05";
    o.to = "2026-01-05";
    out = export_of("fhir", TRIAL, &o);
    ck_assert_ptr_nonnull(strstr(out, "\"delivery-2\""));
    ck_assert_ptr_null(strstr(out, "MedicationDispense"));
    ctm_free(out);
    /* nothing at all: an empty bundle, a header alone */
    o.from = "2020-01-01";
    o.to = "2020-12-31";
    out = export_of("fhir", TRIAL, &o);
    ck_assert_str_eq(out, "{\"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": []}\n");
    ctm_free(out);
    out = export_of("sdtm-da", TRIAL, &o);
    ck_assert_str_eq(out, DA_HEADER);
    ctm_free(out);
}
END_TEST

START_TEST(errors)
{
    char *out = (char *)1;
    ck_assert_int_eq(ctm_export(&out, db, "hl7v2", TRIAL, NULL), CTM_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "format: 'hl7v2'"));
    ck_assert_int_eq(ctm_export(&out, db, "fhir", "NO-SUCH", NULL), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_export(&out, db, "fhir", NULL, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_export(NULL, db, "fhir", TRIAL, NULL), CTM_EINVAL);
    ctm_export_options o = CTM_EXPORT_OPTIONS_INIT;
    o.from = "2026-13-01";
    ck_assert_int_eq(ctm_export(&out, db, "fhir", TRIAL, &o), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "from"));
    o.from = "2026-02-01";
    o.to = "2026-01-01";
    ck_assert_int_eq(ctm_export(&out, db, "fhir", TRIAL, &o), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "after"));
    o.to = NULL;
    o.struct_size = sizeof(size_t);
    ck_assert_int_eq(ctm_export(&out, db, "fhir", TRIAL, &o), CTM_EINVAL);
    ctm_logout(db);
    ck_assert_int_eq(ctm_export(&out, db, "fhir", TRIAL, NULL), CTM_EMISUSE);
    ck_assert_ptr_null(out);
}
END_TEST

/* No arm, for anyone: blinded users get the unblinded pharmacist's text, and the twin trial
 * (every arm the other way round) gives the same text but for its code and shipment. */
START_TEST(blind)
{
    static const char *const formats[] = {"fhir", "sdtm-da"};
    for (int f = 0; f < 2; f++) {
        tu_as(db, "pia", PW);
        char *seen = export_of(formats[f], TRIAL, NULL);
        char *twin = export_of(formats[f], TWIN, NULL);
        replace_all(twin, TWIN, TRIAL);
        replace_all(twin, "SH-200", "SH-100");
        replace_all(twin, "\"J00", "\"K00");
        replace_all(twin, ",J00", ",K00");
        ck_assert_str_eq(twin, seen);
        ck_assert_ptr_null(strstr(seen, ARM_A));
        ck_assert_ptr_null(strstr(seen, ARM_B));
        ck_assert_ptr_null(strstr(seen, "QZ"));
        ctm_free(twin);
        static const char *const blinded[] = {"bob", "ivy"};
        for (int u = 0; u < 2; u++) {
            tu_as(db, blinded[u], PW);
            char *b = export_of(formats[f], TRIAL, NULL);
            ck_assert_str_eq(b, seen);
            ctm_free(b);
        }
        ctm_free(seen);
    }
}
END_TEST

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    Suite *s = suite_create("export");
    TCase *tc = tu_tcase(s, "fhir", setup, teardown, 0);
    tcase_add_test(tc, fhir_bundle_exact);
    tcase_add_test(tc, fhir_reversed_is_entered_in_error);
    tc = tu_tcase(s, "sdtm-da", setup, teardown, 0);
    tcase_add_test(tc, sdtm_da_exact);
    tcase_add_test(tc, sdtm_da_returns);
    tc = tu_tcase(s, "options", setup, teardown, 0);
    tcase_add_test(tc, period_selects);
    tcase_add_test(tc, one_moment);
    tcase_add_test(tc, errors);
    tc = tu_tcase(s, "blinding", setup, teardown, 0);
    tcase_add_test(tc, blind);
    int rc = tu_run_suite(s);
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
