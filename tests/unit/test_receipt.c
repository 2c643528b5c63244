/* test_receipt.c - trials, receipt of shipments, stock, expiry and moves, as a pharmacy uses them. */
#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctm.h"
#include "testutil.h"

#define PW "receipt-test-pw"
#define TRIAL "EU-CT-2026-500001"
#define OPEN "OPEN-1"
/* distinctive arm codes, so that a leak anywhere is found by a plain search */
#define ARM1 "ARMALPHA"
#define ARM2 "ARMBETA"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_receipt: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* The site once: an admin, an unblinded pharmacist, a blinded technician; a blinded trial with
 * two arms and an open one with one; a kit type each; two fridges. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/r.db", template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    must(tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR, "open");
    must(ctm_init(h, "Receipt Test Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "add pharmacist");
    must(ctm_user_add(h, "ted", "technician", 0, "Ted Tech", PW), "add technician");
    must(ctm_trial_add(h, TRIAL, "A blinded trial", "Sponsor AB", 1, ARM1 ":1," ARM2 ":1"), "trial");
    must(ctm_trial_add(h, OPEN, "An open trial", "Sponsor AB", 0, "ACTIVE:1"), "open trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.dose_form = "tablet";
    ko.strength = "10 mg";
    ko.excursion_budget_minutes = 1440;
    ko.excursion_max_c = 15;
    must(ctm_kittype_add(h, TRIAL, "KT", "Drug X 10 mg", 30, 2, 8, 30, &ko), "kit type");
    must(ctm_kittype_add(h, OPEN, "BOX", "Drug Y", 100, 15, 25, 0, NULL), "open kit type");
    must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location 1");
    must(ctm_location_add(h, "FRIDGE2", "fridge", 2, 8), "location 2");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, "r.db");
    snprintf(db_path, sizeof db_path, "%s/r.db", dir);
    db = tu_open(db_path, NULL);
    ck_assert_int_eq(ctm_login(db, "pia", PW), CTM_OK);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

static void ok(int rc)
{
    ck_assert_msg(rc == CTM_OK, "status %d: %s", rc, ctm_errmsg());
}

static uint64_t size_now(void)
{
    uint64_t n = 0;
    ok(ctm_audit_size(db, &n));
    return n;
}

static const char *manifest4 =
    "kit_number,kit_type,lot,expiry,arm\n"
    "K001,KT,LOT1,2027-04-30," ARM1 "\n"
    "K002,KT,LOT1,2027-04-30," ARM2 "\n"
    "K003,KT,LOT2,2027-06-30," ARM1 "\n"
    "K004,KT,LOT2,2027-06-30," ARM2 "\n";

static int receive(const char *shipment, const char *manifest, int excursion)
{
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.excursion = excursion;
    o.origin = "Depot Uppsala";
    return ctm_receive(db, TRIAL, shipment, manifest, strlen(manifest), "FRIDGE1", &o);
}

static int scan(const char *shipment, const char *what, int damaged, ctm_scan_result *r)
{
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    return ctm_receive_scan(db, shipment, what, damaged, r);
}

/* The value of one column of the kit's row in ctm_kits(), malloc'd. */
static char *kit_field(const char *kit, const char *column)
{
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    ok(ctm_kits(&q, db, &f));
    char *value = NULL;
    while (ctm_query_next(q) == CTM_ROW) {
        if (strcmp(ctm_query_text(q, 1), kit) != 0)
            continue;
        for (int i = 0; i < ctm_query_column_count(q); i++)
            if (strcmp(ctm_query_column_name(q, i), column) == 0)
                value = strdup(ctm_query_text(q, i) ? ctm_query_text(q, i) : "NULL");
    }
    ctm_query_free(q);
    ck_assert_msg(value != NULL, "kit %s or column %s not listed", kit, column);
    return value;
}

static void assert_kit(const char *kit, const char *column, const char *expect)
{
    char *v = kit_field(kit, column);
    ck_assert_msg(strcmp(v, expect) == 0, "kit %s %s: %s, expected %s", kit, column, v, expect);
    free(v);
}

static int count_rows(ctm_query *q)
{
    int n = 0;
    while (ctm_query_next(q) == CTM_ROW)
        n++;
    ctm_query_free(q);
    return n;
}

/* Every value of every row must be free of the arm codes. */
static void assert_no_arm_in(ctm_query *q)
{
    int n = ctm_query_column_count(q);
    while (ctm_query_next(q) == CTM_ROW)
        for (int i = 0; i < n; i++) {
            const char *v = ctm_query_text(q, i);
            ck_assert_msg(v == NULL || (strstr(v, ARM1) == NULL && strstr(v, ARM2) == NULL),
                          "column %s shows an arm: %s", ctm_query_column_name(q, i), v);
        }
    ctm_query_free(q);
}

static void assert_verifies(void)
{
    ctm_verify_result r = {.struct_size = sizeof r};
    int rc = ctm_audit_verify(db, NULL, NULL, &r);
    ck_assert_msg(rc == CTM_OK, "verify: %s", ctm_errmsg());
}

START_TEST(receipt_checks_and_confirms)
{
    uint64_t n = size_now();
    ok(receive("SH1", manifest4, 0));
    ck_assert_uint_eq(size_now(), n + 1); /* the whole shipment is one action */
    assert_kit("K001", "status", "received");
    ctm_scan_result r;
    ok(scan("SH1", "K001", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_OK);
    ck_assert_uint_eq(r.checked, 1);
    ck_assert_uint_eq(r.expected, 4);
    uint64_t m = size_now();
    ok(scan("SH1", "K001", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_REPEAT);
    ck_assert_uint_eq(size_now(), m); /* a repeat records nothing */
    /* a GS1 pack whose lot differs from the manifest */
    ok(scan("SH1", "]d20105909990329717" "21K002\x1d" "10LOTX\x1d" "17270430", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_MISMATCH);
    ck_assert_str_eq(r.kit_number, "K002");
    ok(scan("SH1", "K999", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_EXTRA);
    ok(scan("SH1", "K003", 0, &r));
    ck_assert_uint_eq(r.checked, 3);
    /* found damaged after it was checked: a second scan with the flag records it */
    ok(scan("SH1", "K003", 1, &r));
    ck_assert_int_ne(r.outcome, CTM_SCAN_REPEAT);
    ok(scan("SH1", "K003", 1, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_REPEAT);
    ok(ctm_receive_confirm(db, "SH1", 0));
    assert_kit("K001", "status", "available");
    assert_kit("K002", "status", "quarantined"); /* nothing unexpected becomes available */
    assert_kit("K003", "status", "damaged");
    assert_kit("K004", "status", "missing");
}
END_TEST

START_TEST(discrepancies_are_listed)
{
    ok(receive("SH1", manifest4, 0));
    ctm_scan_result r;
    ok(scan("SH1", "]d20105909990329717" "21K002\x1d" "10LOT1\x1d" "17270531", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_MISMATCH);
    ok(scan("SH1", "EXTRA-1", 0, &r));
    ok(scan("SH1", "K003", 1, &r));
    ok(ctm_receive_confirm(db, "SH1", 0));
    ctm_query *q = NULL;
    ok(ctm_receive_discrepancies(&q, db, "SH1"));
    const char *kinds[] = {"expiry_mismatch", "extra", "damaged", "missing", "missing"};
    const char *kits[] = {"K002", "EXTRA-1", "K003", "K001", "K004"};
    int i = 0;
    while (ctm_query_next(q) == CTM_ROW) {
        ck_assert_int_lt(i, 5);
        ck_assert_str_eq(ctm_query_text(q, 0), kits[i]);
        ck_assert_str_eq(ctm_query_text(q, 1), kinds[i]);
        ck_assert_str_eq(ctm_query_text(q, 4), "pia");
        i++;
    }
    ctm_query_free(q);
    ck_assert_int_eq(i, 5);
}
END_TEST

START_TEST(excursion_quarantines_on_receipt)
{
    ok(receive("SH1", manifest4, 1));
    ctm_scan_result r;
    ok(scan("SH1", "K001", 0, &r));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_kit("K001", "status", "quarantined");
    assert_kit("K004", "status", "quarantined");
}
END_TEST

START_TEST(unchecked_kits_declared_present)
{
    ok(receive("SH1", manifest4, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_kit("K004", "status", "available");
    ctm_query *q = NULL;
    ok(ctm_receive_discrepancies(&q, db, "SH1"));
    ck_assert_int_eq(count_rows(q), 0);
}
END_TEST

START_TEST(confirmation_is_signed_and_final)
{
    ok(receive("SH1", manifest4, 0));
    ok(ctm_login(db, "ted", PW));
    ck_assert_int_eq(ctm_receive_confirm(db, "SH1", 1), CTM_EDENIED);
    ok(ctm_login(db, "pia", PW));
    ok(ctm_receive_confirm(db, "SH1", 1));
    ck_assert_int_eq(ctm_receive_confirm(db, "SH1", 1), CTM_ERULE);
    ctm_scan_result r;
    ck_assert_int_eq(scan("SH1", "K001", 0, &r), CTM_ERULE);
    uint64_t n = size_now();
    ctm_query *q = NULL;
    ok(ctm_audit_log(&q, db, n - 1, 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 3), "shipment.confirm");
    ck_assert_str_eq(ctm_query_text(q, 9), "receipt confirmed");
    ck_assert_str_eq(ctm_query_text(q, 8), "Pia Pharm");
    ctm_query_free(q);
    ck_assert_int_eq(receive("SH1", manifest4, 0), CTM_EEXISTS);
}
END_TEST

static void assert_refused(const char *manifest, const char *expect_in_message)
{
    uint64_t n = size_now();
    int rc = receive("SHBAD", manifest, 0);
    ck_assert_msg(rc == CTM_EINVAL, "accepted (%d): %s", rc, manifest);
    ck_assert_msg(strstr(ctm_errmsg(), expect_in_message) != NULL, "message '%s' lacks '%s'",
                  ctm_errmsg(), expect_in_message);
    ck_assert_msg(strstr(ctm_errmsg(), ARM1) == NULL && strstr(ctm_errmsg(), ARM2) == NULL &&
                      strstr(ctm_errmsg(), "SECRETARM") == NULL,
                  "the message shows an arm: %s", ctm_errmsg());
    ck_assert_uint_eq(size_now(), n);
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 4); /* only SH1's */
}

START_TEST(malformed_manifests_change_nothing)
{
    ok(receive("SH1", manifest4, 0));
    assert_refused("kit_number,kit_type,lot\nK9,KT,L\n", "expiry");
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK9,KT,LOT9,2027-02-30," ARM1 "\n",
                   "line 2, field expiry");
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK9,NOPE,LOT9,2027-02-20," ARM1 "\n",
                   "line 2, field kit_type");
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK9,KT,LOT9,2027-02-20,SECRETARM\n",
                   "line 2, field arm");
    assert_refused("kit_number,kit_type,lot,expiry\nK9,KT,LOT9,2027-02-20\n", "arm column");
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK9,KT,LOT9,2027-02-20," ARM1
                   "\nK9,KT,LOT9,2027-02-20," ARM2 "\n",
                   "line 3, field kit_number");
    /* K001 is in the trial already: the whole shipment is refused */
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK8,KT,LOT9,2027-02-20," ARM1
                   "\nK001,KT,LOT1,2027-04-30," ARM2 "\n",
                   "line 3, field kit_number");
    /* LOT1 is known with another expiry */
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK8,KT,LOT1,2027-05-01," ARM1 "\n",
                   "line 2, field expiry");
    assert_refused("kit_number,kit_type,lot,expiry,arm\nK8,KT,LOT8,2027-05-01," ARM1 "\n\x01\x02\xff\n",
                   "line 3");
    assert_verifies();
}
END_TEST

START_TEST(blinded_users_see_no_arm)
{
    ok(receive("SH1", manifest4, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_kit("K001", "arm", ARM1); /* the unblinded pharmacist does */
    ok(ctm_login(db, "ted", PW));
    assert_kit("K001", "arm", "(blinded)");
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    ok(ctm_kits(&q, db, &f));
    assert_no_arm_in(q);
    /* the trial's own entry names its arms (protocol, not a secret): look from the receipt on */
    ok(ctm_audit_log(&q, db, 0, 0));
    uint64_t first_receipt = 0;
    while (ctm_query_next(q) == CTM_ROW)
        if (strcmp(ctm_query_text(q, 3), "shipment.receive") == 0 && first_receipt == 0)
            first_receipt = (uint64_t)ctm_query_int64(q, 0);
    ctm_query_free(q);
    ck_assert_uint_gt(first_receipt, 0);
    ok(ctm_audit_log(&q, db, first_receipt, 0));
    assert_no_arm_in(q);
    ok(ctm_receive_discrepancies(&q, db, "SH1"));
    assert_no_arm_in(q);
    ok(ctm_kit_show(&q, db, TRIAL, "K001"));
    assert_no_arm_in(q);
    ok(ctm_kit_show(&q, db, NULL, "(01)05909990329717(21)K002"));
    assert_no_arm_in(q);
    ok(ctm_receive_status(&q, db, "SH1"));
    assert_no_arm_in(q);
    ctm_kit_filter by_shipment = CTM_KIT_FILTER_INIT;
    by_shipment.shipment = "SH1";
    ok(ctm_kits(&q, db, &by_shipment));
    assert_no_arm_in(q);
    ok(ctm_trial_list(&q, db));
    ctm_query_free(q); /* arms and ratios are protocol, not secret */
    /* a failing call names no arm either */
    const char *kit[] = {"K001"};
    ck_assert_int_ne(ctm_transfer(db, TRIAL, kit, 1, "FRIDGE1", NULL), CTM_OK);
    ck_assert_ptr_null(strstr(ctm_errmsg(), ARM1));
}
END_TEST

START_TEST(open_trial_single_arm_needs_no_column)
{
    const char *m = "kit_number,kit_type,lot,expiry\nB1,BOX,LB1,2027-01-31\n";
    ok(ctm_receive(db, OPEN, "SHO", m, strlen(m), "FRIDGE2", NULL));
    ok(ctm_login(db, "ted", PW));
    assert_kit("B1", "arm", "ACTIVE"); /* open trials show their arms to everyone */
}
END_TEST

START_TEST(bulk_supply_is_counted_per_lot)
{
    uint64_t n = size_now();
    ok(ctm_bulk_receive(db, OPEN, "BULK-1", "BOX", "LB7", "2027-09-30", 500, "FRIDGE2", NULL));
    ok(ctm_bulk_receive(db, OPEN, "BULK-2", "BOX", "LB7", "2027-09-30", 250, "FRIDGE2", NULL));
    ok(ctm_bulk_receive(db, OPEN, "BULK-3", "BOX", "LB7", "2027-09-30", 100, "FRIDGE1", NULL));
    ck_assert_uint_eq(size_now(), n + 3);
    ctm_query *q = NULL;
    ok(ctm_lot_list(&q, db, OPEN));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 1), "LB7");
    ck_assert_int_eq(ctm_query_int64(q, 5), 0);   /* no numbered kits */
    ck_assert_int_eq(ctm_query_int64(q, 6), 850); /* units on site, both fridges */
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    /* the receipt is confirmed at once, with the pharmacist's e-signature */
    ok(ctm_audit_log(&q, db, n, 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 3), "shipment.receive_bulk");
    ck_assert_str_eq(ctm_query_text(q, 9), "receipt confirmed");
    ctm_query_free(q);
    ck_assert_int_eq(ctm_bulk_receive(db, OPEN, "BULK-4", "BOX", "LB7", "2027-10-31", 5, "FRIDGE2", NULL),
                     CTM_EINVAL); /* LB7 expires 2027-09-30 */
    ck_assert_int_eq(ctm_bulk_receive(db, OPEN, "BULK-4", "BOX", "LB8", "2027-10-31", 0, "FRIDGE2", NULL),
                     CTM_EINVAL);
    ck_assert_int_eq(ctm_bulk_receive(db, OPEN, "BULK-1", "BOX", "LB8", "2027-10-31", 5, "FRIDGE2", NULL),
                     CTM_EEXISTS);
    ck_assert_int_eq(ctm_bulk_receive(db, TRIAL, "BULK-5", "KT", "LB9", "2027-10-31", 5, "FRIDGE2", NULL),
                     CTM_ERULE); /* blinded supply comes as numbered kits */
    ctm_receive_options ro = CTM_RECEIVE_OPTIONS_INIT;
    ro.excursion = 1; /* bulk supply is not quarantined: refused rather than made usable */
    ck_assert_int_eq(ctm_bulk_receive(db, OPEN, "BULK-7", "BOX", "LB8", "2027-10-31", 5, "FRIDGE2", &ro),
                     CTM_ERULE);
    ok(ctm_login(db, "ted", PW));
    ck_assert_int_eq(ctm_bulk_receive(db, OPEN, "BULK-6", "BOX", "LB8", "2027-10-31", 5, "FRIDGE2", NULL),
                     CTM_EDENIED);
    ck_assert_uint_eq(size_now(), n + 3);
    assert_verifies();
}
END_TEST

START_TEST(scan_fills_but_never_erases)
{
    const char *m = "kit_number,kit_type,lot,expiry,arm,gtin\n"
                    "K001,KT,LOT1,2027-04-30," ARM1 ",05909990329717\n"
                    "K002,KT,LOT1,2027-04-30," ARM2 ",\n";
    ok(receive("SH1", m, 0));
    ctm_scan_result r;
    ok(scan("SH1", "(01)05909990329717(21)K002", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_OK);
    /* K001 keeps its GTIN when a pack without lot or expiry is scanned */
    ok(scan("SH1", "(01)05909990329717(21)K001", 0, &r));
    char *v = tu_sql_text(db_path, "SELECT gtin FROM kits WHERE kit_number = 'K001'");
    ck_assert_str_eq(v, "05909990329717");
    free(v);
    v = tu_sql_text(db_path, "SELECT gtin || ' ' || serial FROM kits WHERE kit_number = 'K002'");
    ck_assert_str_eq(v, "05909990329717 K002");
    free(v);
    ck_assert_int_eq(scan("SH1", "]d20105909990329718" "21K001", 0, &r), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "check digit") != NULL, "%s", ctm_errmsg());
}
END_TEST

START_TEST(expiry_window_and_extension)
{
    /* LOT2 expires within the 30-day do-not-dispense window of KT */
    char m[512], soon[11], later[11];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&(time_t){now + 10 * 86400}, &tm);
    strftime(soon, sizeof soon, "%Y-%m-%d", &tm);
    gmtime_r(&(time_t){now + 400 * 86400}, &tm);
    strftime(later, sizeof later, "%Y-%m-%d", &tm);
    snprintf(m, sizeof m,
             "kit_number,kit_type,lot,expiry,arm\nK001,KT,LOT1,%s," ARM1 "\nK002,KT,LOT2,%s," ARM2 "\n",
             later, soon);
    ok(receive("SH1", m, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_kit("K001", "dispensable", "1");
    assert_kit("K002", "dispensable", "0");
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.expiring_within_days = 30;
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 1);
    ck_assert_int_eq(ctm_expiry_extend(db, TRIAL, "LOT2", NULL, 0, "2020-01-01", "letter 7"),
                     CTM_EINVAL);
    ok(ctm_expiry_extend(db, TRIAL, "LOT2", NULL, 0, later, "Sponsor letter 7"));
    assert_kit("K002", "expiry", later);
    assert_kit("K002", "dispensable", "1");
    uint64_t n = size_now();
    ok(ctm_audit_log(&q, db, n - 1, 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 3), "expiry.extend");
    ck_assert_str_eq(ctm_query_text(q, 9), "expiry extended");
    ck_assert_str_eq(ctm_query_text(q, 4), "Sponsor letter 7");
    ctm_query_free(q);
    /* the lot itself carries the new date now: a later shipment of it with that date is
     * received, and the lot listing agrees with the kits */
    char m2[256];
    snprintf(m2, sizeof m2, "kit_number,kit_type,lot,expiry,arm\nK003,KT,LOT2,%s," ARM1 "\n", later);
    ok(receive("SH2", m2, 0));
    ok(ctm_lot_list(&q, db, TRIAL));
    int seen = 0;
    while (ctm_query_next(q) == CTM_ROW)
        if (strcmp(ctm_query_text(q, 1), "LOT2") == 0) {
            ck_assert_str_eq(ctm_query_text(q, 3), later);
            seen = 1;
        }
    ctm_query_free(q);
    ck_assert(seen);
    /* kits no longer in stock are not relabelled */
    const char *gone[] = {"K001"};
    ok(ctm_transfer_out(db, TRIAL, gone, 1, "Hospital B", "OUT-9", NULL));
    ck_assert_int_eq(ctm_expiry_extend(db, TRIAL, NULL, gone, 1, "2099-01-01", "letter 8"),
                     CTM_ERULE);
    ok(ctm_login(db, "ted", PW));
    ck_assert_int_eq(ctm_expiry_extend(db, TRIAL, "LOT1", NULL, 0, "2099-01-01", "x"), CTM_EDENIED);
}
END_TEST

START_TEST(transfers_keep_history)
{
    ok(receive("SH1", manifest4, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    const char *kits[] = {"K001", "K002"};
    ok(ctm_transfer(db, TRIAL, kits, 2, "FRIDGE2", "fridge 1 defrosting"));
    assert_kit("K001", "location", "FRIDGE2");
    ck_assert_int_eq(ctm_transfer(db, TRIAL, kits, 1, "FRIDGE2", NULL), CTM_ERULE);
    ck_assert_int_eq(ctm_transfer(db, TRIAL, kits, 1, "NOWHERE", NULL), CTM_ENOTFOUND);
    ctm_query *q = NULL;
    ok(ctm_kit_history(&q, db, TRIAL, "K001"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 0), "FRIDGE1");
    ck_assert_ptr_nonnull(ctm_query_text(q, 2));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 0), "FRIDGE2");
    ck_assert_ptr_null(ctm_query_text(q, 2));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    const char *out[] = {"K003"};
    ok(ctm_transfer_out(db, TRIAL, out, 1, "Regional Hospital B", "OUT-1", "site B ran short"));
    assert_kit("K003", "status", "in_transit");
    assert_kit("K003", "location", "NULL");
    ck_assert_int_eq(ctm_transfer(db, TRIAL, out, 1, "FRIDGE1", NULL), CTM_ERULE);
    ok(ctm_shipment_list(&q, db, TRIAL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 0), "OUT-1");
    ck_assert_str_eq(ctm_query_text(q, 2), "out");
    ck_assert_int_eq(ctm_query_int64(q, 7), 1);
    ctm_query_free(q);
    assert_verifies();
}
END_TEST

START_TEST(status_changes_follow_the_table)
{
    ok(receive("SH1", manifest4, 0));
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "K001", "available", "early"), CTM_ERULE);
    ok(ctm_receive_confirm(db, "SH1", 1));
    ok(ctm_login(db, "ted", PW));
    ok(ctm_kit_set_status(db, TRIAL, "K001", "quarantined", "pack looks wet"));
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "K001", "available", "dry now"), CTM_EDENIED);
    ok(ctm_login(db, "pia", PW));
    ok(ctm_kit_set_status(db, TRIAL, "K001", "available", "checked, fine"));
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "K001", "destroyed", "no"), CTM_ERULE);
    ck_assert_msg(strstr(ctm_errmsg(), "available") && strstr(ctm_errmsg(), "destroyed"), "%s",
                  ctm_errmsg());
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "K001", "quarantined", NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "K001", "bogus", "x"), CTM_EINVAL);
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "NOPE", "quarantined", "x"), CTM_ENOTFOUND);
}
END_TEST

START_TEST(setup_is_validated_and_role_bound)
{
    ck_assert_int_eq(ctm_trial_add(db, "T2", "t", "s", 1, "ONLY:1"), CTM_EINVAL);
    ck_assert_int_eq(ctm_trial_add(db, "T2", "t", "s", 0, "A:0"), CTM_EINVAL);
    ck_assert_int_eq(ctm_trial_add(db, "T2", "t", "s", 0, "A:1,A:2"), CTM_EINVAL);
    ck_assert_int_eq(ctm_trial_add(db, TRIAL, "t", "s", 0, "A:1"), CTM_EEXISTS);
    ck_assert_int_eq(ctm_kittype_add(db, TRIAL, "K2", "n", 0, 2, 8, 0, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_kittype_add(db, TRIAL, "K2", "n", 10, 8, 2, 0, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_kittype_add(db, "NOTRIAL", "K2", "n", 10, 2, 8, 0, NULL), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_location_add(db, "FRIDGE1", "fridge", 2, 8), CTM_EEXISTS);
    ok(ctm_login(db, "ted", PW));
    ck_assert_int_eq(ctm_trial_add(db, "T3", "t", "s", 0, "A:1"), CTM_EDENIED);
    ck_assert_int_eq(ctm_location_add(db, "SHELF", "room", 15, 25), CTM_EDENIED);
}
END_TEST

START_TEST(ten_thousand_kits_one_entry)
{
    size_t cap = 64 + 10000 * 48;
    char *m = malloc(cap);
    size_t len = (size_t)snprintf(m, cap, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 0; i < 10000; i++)
        len += (size_t)snprintf(m + len, cap - len, "B%05d,KT,LOTB,2028-01-31,%s\n", i,
                                i % 2 ? ARM1 : ARM2);
    uint64_t n = size_now();
    ok(receive("SHBIG", m, 0));
    free(m);
    ck_assert_uint_eq(size_now(), n + 1);
    ok(ctm_receive_confirm(db, "SHBIG", 1));
    ck_assert_uint_eq(size_now(), n + 2);
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.status = "available";
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 10000);
    assert_verifies();
}
END_TEST

/* Kits go in by the hundred; a kit number the trial already has is still named with its line,
 * wherever it falls in a chunk, across lots, and nothing of the shipment stays. */
START_TEST(a_kit_already_in_the_trial_is_named)
{
    ok(receive("SH1", manifest4, 0));
    uint64_t n = size_now();
    size_t cap = 64 + 400 * 48;
    char *m;
    size_t len;
    m = malloc(cap);
    len = (size_t)snprintf(m, cap, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 0; i < 400; i++) {
        char number[16];
        snprintf(number, sizeof number, i == 301 ? "K003" : "C%04d", i);
        len += (size_t)snprintf(m + len, cap - len, "%s,KT,%s,2028-01-31,%s\n", number,
                                i < 150 ? "LOTC" : "LOTD", i % 2 ? ARM1 : ARM2);
    }
    ck_assert_int_eq(ctm_receive(db, TRIAL, "SH2", m, len, "FRIDGE1", NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "manifest line 303, field kit_number: 'K003' is already in "
                                   "trial " TRIAL);
    ck_assert_uint_eq(size_now(), n);
    ctm_query *q = NULL;
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.shipment = "SH2";
    ck_assert_int_ne(ctm_kits(&q, db, &f), CTM_OK); /* no such shipment */
    ctm_query_free(q);
    f.shipment = NULL;
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 4);
    free(m);
}
END_TEST

START_TEST(edits_outside_are_caught)
{
    ok(receive("SH1", manifest4, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_verifies();
    tu_sql_exec(db_path, "UPDATE kits SET status = 'available' WHERE kit_number = 'K004';"
                         "UPDATE kits SET arm = '" ARM1 "' WHERE kit_number = 'K002'");
    ctm_verify_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db, NULL, NULL, &r), CTM_EINTEGRITY);
    ck_assert_str_eq(r.failed_table, "kits");
}
END_TEST

/* The one text column of the one row of q (freed), malloc'd. */
static char *only_row_field(ctm_query *q, const char *column)
{
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char *value = NULL;
    for (int i = 0; i < ctm_query_column_count(q); i++)
        if (strcmp(ctm_query_column_name(q, i), column) == 0)
            value = strdup(ctm_query_text(q, i) ? ctm_query_text(q, i) : "NULL");
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    ck_assert_msg(value != NULL, "no column %s", column);
    return value;
}

static void assert_show(const char *trial, const char *kit, const char *column, const char *expect)
{
    ctm_query *q = NULL;
    ok(ctm_kit_show(&q, db, trial, kit));
    char *v = only_row_field(q, column);
    ck_assert_msg(strcmp(v, expect) == 0, "kit %s %s: %s, expected %s", kit, column, v, expect);
    free(v);
}

#define GTIN "05909990329717"

START_TEST(kits_are_named_by_number_or_scan)
{
    ok(receive("SH1", "kit_number,kit_type,lot,expiry,arm,gtin,serial\n"
                      "K001,KT,LOT1,2027-04-30," ARM1 "," GTIN ",S-001\n"
                      "K002,KT,LOT1,2027-04-30," ARM2 "," GTIN ",\n", 0));
    assert_show(TRIAL, "K001", "kit_number", "K001");
    assert_show(NULL, "K001", "status", "received");
    assert_show(TRIAL, "K001", "checked", "no");
    /* by the pack's (21): the manifest serial or the kit number, raw or bracketed */
    assert_show(TRIAL, "]d201" GTIN "21S-001\x1d" "10LOT1", "kit_number", "K001");
    assert_show(NULL, "(01)" GTIN "(21)K002", "kit_number", "K002");
    assert_show(NULL, "(01)" GTIN "(21)K002", "arm", ARM2); /* the unblinded pharmacist */
    ctm_query *q = NULL;
    /* a GTIN that contradicts the kit's, an unknown serial, a barcode naming no kit */
    ck_assert_int_eq(ctm_kit_show(&q, db, NULL, "(01)05012345678900(21)K002"), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
    ck_assert_msg(strstr(ctm_errmsg(), "GTIN 05012345678900 is not that of kit K002") != NULL,
                  "message: %s", ctm_errmsg());
    ck_assert_int_eq(ctm_kit_show(&q, db, TRIAL, "(01)" GTIN "(21)K999"), CTM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "K999"));
    ck_assert_int_eq(ctm_kit_show(&q, db, TRIAL, "(01)" GTIN "(10)LOT1"), CTM_EINVAL);
    ck_assert_int_eq(ctm_kit_show(&q, db, "NO-TRIAL", "K001"), CTM_ENOTFOUND);
    /* every kit-taking call resolves the same way, and records the kit number */
    ctm_scan_result r;
    ok(scan("SH1", "K001", 0, &r));
    ok(scan("SH1", "K002", 0, &r));
    ok(ctm_receive_confirm(db, "SH1", 0));
    assert_show(TRIAL, "K001", "checked", "ok");
    ok(ctm_kit_set_status(db, TRIAL, "(01)" GTIN "(21)S-001", "quarantined", "dropped"));
    assert_kit("K001", "status", "quarantined");
    ok(ctm_audit_log(&q, db, size_now() - 1, 1));
    char *params = only_row_field(q, "params");
    ck_assert_msg(strstr(params, "\"kit\":\"K001\"") != NULL, "%s", params);
    free(params);
    const char *both[] = {"K002", "(01)" GTIN "(21)K002"};
    ck_assert_int_eq(ctm_transfer(db, TRIAL, both, 2, "FRIDGE2", NULL), CTM_EINVAL);
    ok(ctm_transfer(db, TRIAL, both + 1, 1, "FRIDGE2", NULL));
    assert_show(NULL, "K002", "location", "FRIDGE2");
    ok(ctm_kit_history(&q, db, NULL, "(01)" GTIN "(21)K002"));
    ck_assert_int_eq(count_rows(q), 2);
    const char *ext[] = {"(01)" GTIN "(21)K002"};
    ok(ctm_expiry_extend(db, TRIAL, NULL, ext, 1, "2028-04-30", "Sponsor letter 7"));
    assert_show(TRIAL, "K002", "expiry", "2028-04-30");
    /* a kit number in two trials needs its trial */
    ck_assert_int_eq(ctm_receive(db, OPEN, "SH2", "kit_number,kit_type,lot,expiry\nK001,BOX,LX,2027-01-31\n",
                                 strlen("kit_number,kit_type,lot,expiry\nK001,BOX,LX,2027-01-31\n"),
                                 "FRIDGE1", NULL), CTM_OK);
    ck_assert_int_eq(ctm_kit_show(&q, db, NULL, "K001"), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "more than one trial"));
    assert_show(OPEN, "K001", "kit_type", "BOX");
    /* one serial on the packs of two shipments names no kit: the number must be given */
    ok(receive("SH3", "kit_number,kit_type,lot,expiry,arm,gtin,serial\n"
                      "K005,KT,LOT1,2027-04-30," ARM1 "," GTIN ",S-001\n", 0));
    ck_assert_int_eq(ctm_kit_show(&q, db, TRIAL, "(01)" GTIN "(21)S-001"), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "more than one kit"));
    assert_show(TRIAL, "K005", "serial", "S-001");
    assert_verifies();
}
END_TEST

/* A pack of another product that carries a kit's number is not that kit: recorded as extra. */
START_TEST(scan_of_another_product_is_extra)
{
    ok(receive("SH1", "kit_number,kit_type,lot,expiry,arm,gtin\n"
                      "K001,KT,LOT1,2027-04-30," ARM1 "," GTIN "\n"
                      "K002,KT,LOT1,2027-04-30," ARM2 "," GTIN "\n", 0));
    ctm_scan_result r;
    ok(scan("SH1", "(01)05012345678900(21)K002", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_EXTRA);
    ck_assert_msg(strstr(r.detail, "05012345678900") != NULL && strstr(r.detail, GTIN) != NULL &&
                      strstr(r.detail, "another product") != NULL,
                  "detail: %s", r.detail);
    assert_show(TRIAL, "K002", "checked", "no");
    ok(scan("SH1", "(01)05012345678900(21)K002", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_REPEAT);
    /* the right product checks the kit; a typed number has no GTIN to contradict */
    ok(scan("SH1", "(01)" GTIN "(21)K002", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_OK);
    assert_show(TRIAL, "K002", "checked", "ok");
    ok(scan("SH1", "K001", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_OK);
    ok(ctm_receive_confirm(db, "SH1", 0));
    assert_show(TRIAL, "K002", "status", "available");
    ctm_query *q = NULL;
    ok(ctm_receive_discrepancies(&q, db, "SH1"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "kind")), "extra");
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}
END_TEST

START_TEST(kits_by_shipment_and_status_of_a_receipt)
{
    ok(receive("SH1", manifest4, 0));
    ok(receive("SH2", "kit_number,kit_type,lot,expiry,arm\nK101,KT,LOT1,2027-04-30," ARM1 "\n", 0));
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    ctm_query *q = NULL;
    f.shipment = "SH2";
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 1);
    f.shipment = "SH1";
    f.lot = "LOT2";
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 2);
    f.shipment = "SH9";
    ck_assert_int_eq(ctm_kits(&q, db, &f), CTM_ENOTFOUND);
    /* a caller built before the field existed is not filtered by it */
    struct {
        size_t struct_size;
        const char *trial, *status, *location, *lot;
        int expiring_within_days;
    } old = {offsetof(ctm_kit_filter, shipment), NULL, NULL, NULL, NULL, -1};
    ok(ctm_kits(&q, db, (const ctm_kit_filter *)&old));
    ck_assert_int_eq(count_rows(q), 5);

    ctm_scan_result r;
    ok(scan("SH1", "K001", 0, &r));
    ok(scan("SH1", "(01)" GTIN "(21)K002(10)LOTX", 0, &r));
    ok(scan("SH1", "K003", 1, &r));
    ok(scan("SH1", "K999", 0, &r));
    static const char *const want[][2] = {
        {"shipment", "SH1"}, {"status", "receiving"}, {"kits", "4"}, {"unchecked", "1"},
        {"checked", "3"}, {"ok", "1"}, {"mismatched", "1"}, {"damaged", "1"}, {"extra", "1"},
        {"discrepancies", "3"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ok(ctm_receive_status(&q, db, "SH1"));
        char *v = only_row_field(q, want[i][0]);
        ck_assert_msg(strcmp(v, want[i][1]) == 0, "%s: %s, expected %s", want[i][0], v, want[i][1]);
        free(v);
    }
    ck_assert_int_eq(ctm_receive_status(&q, db, "SH9"), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
}
END_TEST

START_TEST(unscan_undoes_a_scan)
{
    ok(receive("SH1", manifest4, 0));
    ctm_scan_result r;
    ok(scan("SH1", "(01)" GTIN "(21)K002(10)LOTX", 0, &r));
    ok(scan("SH1", "K003", 1, &r));
    ok(scan("SH1", "K999", 0, &r));
    ck_assert_int_eq(ctm_receive_unscan(db, "SH1", "K002", NULL), CTM_EINVAL); /* reason */
    ck_assert_int_eq(ctm_receive_unscan(db, "SH1", "K004", "r"), CTM_ERULE);   /* not scanned */
    ck_assert_int_eq(ctm_receive_unscan(db, "SH1", "K998", "r"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_receive_unscan(db, "SH9", "K002", "r"), CTM_ENOTFOUND);
    uint64_t n = size_now();
    ok(ctm_receive_unscan(db, "SH1", "(01)" GTIN "(21)K002", "wrong pack"));
    ok(ctm_login(db, "ted", PW)); /* technicians may undo their scans */
    ok(ctm_receive_unscan(db, "SH1", "K003", "not damaged after all"));
    ok(ctm_receive_unscan(db, "SH1", "K999", "a pack of another shipment"));
    ck_assert_uint_eq(size_now(), n + 3);
    ctm_query *q = NULL;
    ok(ctm_receive_discrepancies(&q, db, "SH1"));
    ck_assert_int_eq(count_rows(q), 0);
    ok(ctm_receive_status(&q, db, "SH1"));
    char *checked = only_row_field(q, "checked");
    ck_assert_str_eq(checked, "0");
    free(checked);
    ok(ctm_audit_log(&q, db, n, 0));
    assert_no_arm_in(q);
    /* scanned again, the kits count as they should; confirmed, nothing can be undone */
    ok(scan("SH1", "K002", 0, &r));
    ck_assert_int_eq(r.outcome, CTM_SCAN_OK);
    ok(ctm_login(db, "pia", PW));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_kit("K002", "status", "available");
    assert_kit("K003", "status", "available");
    ck_assert_int_eq(ctm_receive_unscan(db, "SH1", "K002", "r"), CTM_ERULE);
    assert_verifies();
}
END_TEST

START_TEST(void_removes_a_mistaken_registration)
{
    ok(receive("SH1", manifest4, 0));
    ctm_scan_result r;
    ok(scan("SH1", "K001", 0, &r));
    ok(scan("SH1", "K999", 0, &r));
    const char *move[] = {"K002"};
    ok(ctm_transfer(db, TRIAL, move, 1, "FRIDGE2", NULL));
    ok(ctm_login(db, "ted", PW));
    ck_assert_int_eq(ctm_receive_void(db, "SH1", "wrong trial"), CTM_EDENIED);
    ok(ctm_login(db, "pia", PW));
    ck_assert_int_eq(ctm_receive_void(db, "SH1", ""), CTM_EINVAL);
    uint64_t n = size_now();
    ok(ctm_receive_void(db, "SH1", "wrong trial"));
    ck_assert_uint_eq(size_now(), n + 1);
    ctm_query *q = NULL;
    ok(ctm_audit_log(&q, db, n, 1));
    char *meaning = only_row_field(q, "esig_meaning");
    ck_assert_str_eq(meaning, "shipment voided");
    free(meaning);
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(count_rows(q), 0);
    ok(ctm_lot_list(&q, db, TRIAL));
    ck_assert_int_eq(count_rows(q), 0);
    ok(ctm_shipment_list(&q, db, NULL));
    ck_assert_int_eq(count_rows(q), 0);
    ck_assert_int_eq(ctm_kit_show(&q, db, TRIAL, "K001"), CTM_ENOTFOUND);
    /* the void's entry deletes rows holding arms: a blinded reader sees none of them */
    ok(ctm_audit_log(&q, db, n, 1));
    char *changes = only_row_field(q, "changes");
    ck_assert_ptr_nonnull(strstr(changes, ARM1)); /* the unblinded pharmacist does */
    free(changes);
    ok(ctm_login(db, "ted", PW));
    ok(ctm_audit_log(&q, db, n, 1));
    assert_no_arm_in(q);
    ok(ctm_login(db, "pia", PW));
    assert_verifies();
    /* the number and kit numbers are free again; a confirmed receipt is not voided */
    ok(receive("SH1", manifest4, 0));
    ok(ctm_receive_confirm(db, "SH1", 1));
    ck_assert_int_eq(ctm_receive_void(db, "SH1", "late"), CTM_ERULE);
    ck_assert_int_eq(ctm_receive_void(db, "SH9", "none"), CTM_ENOTFOUND);
    assert_verifies();
}
END_TEST

static Suite *receipt_suite(void)
{
    Suite *s = suite_create("receipt");
    TCase *tc = tcase_create("receipt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, receipt_checks_and_confirms);
    tcase_add_test(tc, discrepancies_are_listed);
    tcase_add_test(tc, excursion_quarantines_on_receipt);
    tcase_add_test(tc, unchecked_kits_declared_present);
    tcase_add_test(tc, confirmation_is_signed_and_final);
    tcase_add_test(tc, malformed_manifests_change_nothing);
    tcase_add_test(tc, scan_fills_but_never_erases);
    tcase_add_test(tc, ten_thousand_kits_one_entry);
    tcase_add_test(tc, a_kit_already_in_the_trial_is_named);
    suite_add_tcase(s, tc);
    tc = tcase_create("stock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, blinded_users_see_no_arm);
    tcase_add_test(tc, open_trial_single_arm_needs_no_column);
    tcase_add_test(tc, bulk_supply_is_counted_per_lot);
    tcase_add_test(tc, expiry_window_and_extension);
    tcase_add_test(tc, transfers_keep_history);
    tcase_add_test(tc, status_changes_follow_the_table);
    tcase_add_test(tc, setup_is_validated_and_role_bound);
    tcase_add_test(tc, edits_outside_are_caught);
    tcase_add_test(tc, kits_are_named_by_number_or_scan);
    tcase_add_test(tc, scan_of_another_product_is_extra);
    tcase_add_test(tc, kits_by_shipment_and_status_of_a_receipt);
    tcase_add_test(tc, unscan_undoes_a_scan);
    tcase_add_test(tc, void_removes_a_mistaken_registration);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(receipt_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
