/* test_reconcile.c - accountability: the reconciliation of a trial per kit type and lot with
 * exact counts in kits and units, now and as of a past day; kits whose records disagree (made by
 * hand-written SQL here, never by the library) named with what breaks; the DARF log with its
 * running balance; the monitor's e-signed sign-off; a blinded reader finds no arm.  Runs on both
 * back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "reconcile-pw-12"
#define TRIAL "EU-CT-2026-900010"
#define ARM_A "QZACTIVE"
#define ARM_B "QZPLACEBO"
#define DAY_US 86400000000LL

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

/* A blinded trial, kit type KT (30 units): lot L1 A1-A4, B1-B4; lot L2 A5, B5.  Confirmed; A5
 * quarantined, B5 missing, B4 damaged: only L1 kits are dispensable.  Subjects S1, S2
 * randomized, visit V1 gives one kit. */
static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"ted", "technician", 0, "Ted Tech", PW},
        {"mo", "monitor", 0, "Mo Monitor", PW},
    };
    static const struct tu_visit visits[] = {{"V1", 0, "randomization", "-0..+3"}};
    char far[11], kits[1024];
    tu_day(400, far);
    size_t len = 0;
    const char *arms[2] = {ARM_A, ARM_B}, *prefix[2] = {"A", "B"};
    for (int a = 0; a < 2; a++)
        for (int i = 1; i <= 5; i++)
            len += (size_t)snprintf(kits + len, sizeof kits - len, "%s%d,KT,%s,%s,%s\n",
                                    prefix[a], i, i == 5 ? "L2" : "L1", far, arms[a]);
    struct tu_trial_site site = {
        .password = PW, .users = users, .nusers = 3, .trial = TRIAL, .sponsor = "Sponsor",
        .arms = ARM_A ":1," ARM_B ":1", .kits = kits, .visits = visits, .nvisits = 1,
        .list_size = 4, .subjects = 2,
    };
    ctm_db *h = NULL;
    template_dir = tu_build_trial_site(&site, &h);
    tu_must(ctm_kit_set_status(h, TRIAL, "A5", "quarantined", "recall"), "quarantine A5");
    tu_must(ctm_kit_set_status(h, TRIAL, "B5", "missing", "not found"), "B5 missing");
    tu_must(ctm_kit_set_status(h, TRIAL, "B4", "damaged", "broken vial"), "B4 damaged");
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

static int col(ctm_query *q, const char *name)
{
    int c = ctm_query_column_index(q, name);
    ck_assert_int_ge(c, 0);
    return c;
}

/* Dispense V1 to the subject; the kit's number (static buffer). */
static const char *dispense(const char *screening)
{
    static char kit[2][48];
    static int next;
    char *k = kit[next++ % 2];
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_assign(&q, db, TRIAL, screening, "V1", NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(k, 48, "%s", ctm_query_text(q, col(q, "kit_number")));
    ctm_query_free(q);
    const char *scans[] = {k};
    tu_ok(ctm_dispense_confirm(db, TRIAL, screening, scans, 1));
    return k;
}

/* The reconciliation's row of a lot (NULL: the total), as "name=value" for the named columns. */
static void recon_row(const char *as_of, const char *lot, const char *cols, const char *want)
{
    ctm_query *q = NULL;
    tu_ok(ctm_reconciliation(&q, db, TRIAL, as_of));
    char got[1024] = "";
    int found = 0;
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW) {
        const char *l = ctm_query_text(q, col(q, "lot"));
        if (lot == NULL ? l != NULL : l == NULL || strcmp(l, lot) != 0)
            continue;
        found++;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", cols);
        size_t n = 0;
        for (char *c = strtok(buf, " "); c != NULL; c = strtok(NULL, " "))
            n += (size_t)snprintf(got + n, sizeof got - n, "%s%s=%lld", n ? " " : "", c,
                                  (long long)ctm_query_int64(q, col(q, c)));
    }
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(got, want);
}

/* The breaks as "kit:problem;..." in kit order. */
static char *breaks(const char *as_of)
{
    static char out[2048];
    ctm_query *q = NULL;
    tu_ok(ctm_reconciliation_breaks(&q, db, TRIAL, as_of));
    size_t n = 0;
    out[0] = '\0';
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s:%s;", ctm_query_text(q, 0),
                              ctm_query_text(q, col(q, "problem")));
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    return out;
}

/* A kit's rows stay in time order when the clock was set back between two of its changes: the
 * rows a confirmation writes in bulk are dated at the kit's newest row, not before it, and the
 * current reconciliation finds each kit's history ending in its status. */
START_TEST(rows_written_in_bulk_after_a_clock_set_back_come_after_the_newest)
{
    char far[11], manifest[256];
    tu_day(400, far);
    snprintf(manifest, sizeof manifest,
             "kit_number,kit_type,lot,expiry,arm\nC1,KT,L3,%s,%s\nC2,KT,L3,%s,%s\n", far, ARM_A,
             far, ARM_B);
    tu_ok(ctm_receive(db, TRIAL, "SH2", manifest, strlen(manifest), "FRIDGE1", NULL));
    /* the receipt's rows as a clock an hour ahead dated them */
    tu_sql_exec(db_path, "UPDATE kit_events SET at_us = at_us + 3600000000 WHERE kit_id IN"
                         " (SELECT id FROM kits WHERE kit_number IN ('C1', 'C2'))");
    const char *scans[] = {"C1", "C2"};
    for (int i = 0; i < 2; i++) {
        ctm_scan_result r = {.struct_size = sizeof r};
        tu_ok(ctm_receive_scan(db, "SH2", scans[i], 0, &r));
    }
    tu_ok(ctm_receive_confirm(db, "SH2", 1));
    ck_assert_int_eq(tu_sql_int(db_path,
                                "SELECT count(*) FROM kit_events a JOIN kit_events b"
                                " ON b.kit_id = a.kit_id AND b.id > a.id AND b.at_us < a.at_us",
                                NULL),
                     0);
    ck_assert_str_eq(breaks(NULL), "");
}
END_TEST

static const char *const status_set =
    "received receiving available quarantined dispensed returned pending_destruction destroyed"
    " returned_to_sponsor damaged missing lost expired not_dispensed in_transit unknown";
static const char *const units_set =
    "dispensed_units with_subjects_units returned_units consumed_units lost_units"
    " uncounted_units breaks balanced";

START_TEST(a_balanced_trial_with_exact_counts_per_lot_and_total)
{
    dispense("S1");
    dispense("S2");
    recon_row(NULL, "L1", status_set,
              "received=8 receiving=0 available=5 quarantined=0 dispensed=2 returned=0"
              " pending_destruction=0 destroyed=0 returned_to_sponsor=0 damaged=1 missing=0"
              " lost=0 expired=0 not_dispensed=0 in_transit=0 unknown=0");
    recon_row(NULL, "L1", units_set,
              "dispensed_units=60 with_subjects_units=60 returned_units=0 consumed_units=0"
              " lost_units=0 uncounted_units=0 breaks=0 balanced=1");
    recon_row(NULL, "L2", "received available quarantined missing breaks balanced",
              "received=2 available=0 quarantined=1 missing=1 breaks=0 balanced=1");
    recon_row(NULL, NULL, "received available quarantined dispensed damaged missing balanced",
              "received=10 available=5 quarantined=1 dispensed=2 damaged=1 missing=1 balanced=1");
    ck_assert_str_eq(breaks(NULL), "");
    /* rows: L1, L2, then the total; the kit type named on each lot's row */
    ctm_query *q = NULL;
    tu_ok(ctm_reconciliation(&q, db, TRIAL, NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "kit_type")), "KT");
    ck_assert_str_eq(ctm_query_text(q, col(q, "lot")), "L1");
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "lot")), "L2");
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_ptr_null(ctm_query_text(q, col(q, "kit_type")));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}
END_TEST

START_TEST(returns_and_losses_balance_in_kits_and_units)
{
    const char *k1 = dispense("S1");
    const char *k2 = dispense("S2");
    tu_ok(ctm_return(db, TRIAL, k1, 12, NULL, "opened"));
    tu_ok(ctm_lost(db, TRIAL, k2, NULL, "left on the bus"));
    recon_row(NULL, "L1", status_set,
              "received=8 receiving=0 available=5 quarantined=0 dispensed=0 returned=1"
              " pending_destruction=0 destroyed=0 returned_to_sponsor=0 damaged=1 missing=0"
              " lost=1 expired=0 not_dispensed=0 in_transit=0 unknown=0");
    recon_row(NULL, "L1", units_set,
              "dispensed_units=60 with_subjects_units=0 returned_units=12 consumed_units=18"
              " lost_units=30 uncounted_units=0 breaks=0 balanced=1");
    ck_assert_str_eq(breaks(NULL), "");
    /* the returned kit on to destruction: still balanced, its units still accounted */
    tu_ok(ctm_kit_set_status(db, TRIAL, k1, "pending_destruction", "returned kit"));
    recon_row(NULL, "L1", "returned pending_destruction dispensed_units returned_units breaks balanced",
              "returned=0 pending_destruction=1 dispensed_units=60 returned_units=12 breaks=0"
              " balanced=1");
    /* the DARF: two dispensings, then the return and the loss noted, never added back */
    ctm_query *q = NULL;
    tu_ok(ctm_darf(&q, db, TRIAL, "KT"));
    int64_t last = -1;
    int noted = 0;
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW) {
        last = ctm_query_int64(q, col(q, "balance"));
        const char *ev = ctm_query_text(q, col(q, "event"));
        if (strcmp(ev, "returned") == 0 || strcmp(ev, "lost_by_subject") == 0) {
            ck_assert_int_eq(ctm_query_int64(q, col(q, "quantity")), 0);
            noted++;
        }
    }
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    ck_assert_int_eq(noted, 2);
    ck_assert_int_eq(last, 7); /* 10 received, B5 missing, two dispensed */
}
END_TEST

START_TEST(kits_whose_records_disagree_are_named)
{
    char sql[512];
    /* a kit destroyed behind the library's back: no history, no destruction */
    tu_sql_exec(db_path, "UPDATE kits SET status = 'destroyed' WHERE kit_number = 'A1'");
    const char *k1 = dispense("S1");
    const char *k2 = dispense("S2");
    /* the first dispensed kit loses its dispensation row */
    snprintf(sql, sizeof sql,
             "DELETE FROM dispensations WHERE kit_id = (SELECT id FROM kits WHERE kit_number = '%s')",
             k1);
    tu_sql_exec(db_path, sql);
    /* the second comes back with more units than it held, its history in step */
    snprintf(sql, sizeof sql,
             "UPDATE kits SET status = 'returned' WHERE kit_number = '%s'", k2);
    tu_sql_exec(db_path, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_events(kit_id, status, at_us, by_user) SELECT id, 'returned',"
             " (SELECT MAX(at_us) + 1 FROM kit_events), 'pia' FROM kits WHERE kit_number = '%s'",
             k2);
    tu_sql_exec(db_path, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_returns(kit_id, dispensation_id, lost, units, returned_on,"
             " recorded_us, recorded_by) SELECT k.id, d.id, 0, 40, '2026-01-01', 1, 'pia'"
             " FROM kits k JOIN dispensations d ON d.kit_id = k.id WHERE k.kit_number = '%s'",
             k2);
    tu_sql_exec(db_path, sql);
    char want[1024];
    const char *first = strcmp(k1, k2) < 0 ? k1 : k2;
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s:dispensed without a dispensation;", k1);
    snprintf(p2, sizeof p2, "%s:returned units 40 above the 30 dispensed;", k2);
    /* A1 sorts first of all kit numbers dispensed or not */
    snprintf(want, sizeof want, "A1:history (kit_events) ends available but the kit is destroyed;%s%s",
             first == k1 ? p1 : p2, first == k1 ? p2 : p1);
    ck_assert_str_eq(breaks(NULL), want);
    recon_row(NULL, "L1", "received available dispensed returned destroyed breaks balanced",
              "received=8 available=4 dispensed=1 returned=1 destroyed=1 breaks=3 balanced=0");
    /* units: the over-returned kit "consumed" -10 */
    recon_row(NULL, "L1", "dispensed_units with_subjects_units returned_units consumed_units",
              "dispensed_units=60 with_subjects_units=30 returned_units=40 consumed_units=-10");
    recon_row(NULL, "L2", "breaks balanced", "breaks=0 balanced=1");
    recon_row(NULL, NULL, "breaks balanced", "breaks=3 balanced=0");
}
END_TEST

START_TEST(a_dispensation_whose_kit_is_back_in_stock_and_a_return_not_recorded)
{
    /* A2 lost by its subject with no return row (and no dispensation: the first problem wins) */
    tu_sql_exec(db_path, "UPDATE kits SET status = 'lost_by_subject' WHERE kit_number = 'A2'");
    tu_sql_exec(db_path, "INSERT INTO kit_events(kit_id, status, at_us, by_user) SELECT id,"
                         " 'lost_by_subject', (SELECT MAX(at_us) + 1 FROM kit_events), 'x'"
                         " FROM kits WHERE kit_number = 'A2'");
    const char *k1 = dispense("S1");
    char sql[512];
    /* kit and history say available, the dispensation says dispensed */
    snprintf(sql, sizeof sql, "UPDATE kits SET status = 'available' WHERE kit_number = '%s'", k1);
    tu_sql_exec(db_path, sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO kit_events(kit_id, status, at_us, by_user) SELECT id, 'available',"
             " (SELECT MAX(at_us) + 1 FROM kit_events), 'x' FROM kits WHERE kit_number = '%s'", k1);
    tu_sql_exec(db_path, sql);
    char want[512], p1[128];
    snprintf(p1, sizeof p1, "%s:dispensed to a subject but available;", k1);
    if (strcmp(k1, "A2") < 0)
        snprintf(want, sizeof want, "%sA2:lost_by_subject without a dispensation;", p1);
    else
        snprintf(want, sizeof want, "A2:lost_by_subject without a dispensation;%s", p1);
    ck_assert_str_eq(breaks(NULL), want);
    recon_row(NULL, NULL, "lost breaks balanced", "lost=1 breaks=2 balanced=0");
}
END_TEST

START_TEST(as_of_a_past_day_from_the_history)
{
    /* everything so far happened ten days ago */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE kit_events SET at_us = at_us - 10 * %lld", DAY_US);
    tu_sql_exec(db_path, sql);
    snprintf(sql, sizeof sql, "UPDATE shipments SET registered_us = registered_us - 10 * %lld",
             DAY_US);
    tu_sql_exec(db_path, sql);
    const char *k1 = dispense("S1");
    dispense("S2");
    char yesterday[11], long_ago[11], tomorrow[11];
    tu_day(-1, yesterday);
    tu_day(-20, long_ago);
    tu_day(1, tomorrow);
    recon_row(yesterday, "L1", "received available dispensed damaged breaks balanced",
              "received=8 available=7 dispensed=0 damaged=1 breaks=0 balanced=1");
    recon_row(NULL, "L1", "received available dispensed damaged breaks balanced",
              "received=8 available=5 dispensed=2 damaged=1 breaks=0 balanced=1");
    /* before the receipt: no kit, a total of nothing */
    recon_row(long_ago, NULL, "received available balanced", "received=0 available=0 balanced=1");
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_reconciliation(&q, db, TRIAL, tomorrow), CTM_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_reconciliation(&q, db, TRIAL, "2026-02-30"), CTM_EINVAL);
    ck_assert_int_eq(ctm_reconciliation(&q, db, "NO-SUCH", NULL), CTM_ENOTFOUND);
    /* a kit of an upgraded site, no history at all: its current status */
    tu_sql_exec(db_path, "DELETE FROM kit_events WHERE kit_id = (SELECT id FROM kits"
                         " WHERE kit_number = 'B4')");
    recon_row(yesterday, "L1", "available damaged balanced", "available=7 damaged=1 balanced=1");
    /* a kit whose history begins after that day with a change: unknown then, and named */
    snprintf(sql, sizeof sql,
             "DELETE FROM kit_events WHERE status <> 'dispensed' AND kit_id = (SELECT id FROM kits"
             " WHERE kit_number = '%s')", k1);
    tu_sql_exec(db_path, sql);
    recon_row(yesterday, "L1", "received available unknown breaks balanced",
              "received=8 available=6 unknown=1 breaks=1 balanced=0");
    char want[128];
    snprintf(want, sizeof want, "%s:status on that day unknown: its history begins later;", k1);
    ck_assert_str_eq(breaks(yesterday), want);
}
END_TEST

/* The DARF lines as "event:quantity:balance:subject" joined by spaces. */
static void darf_is(const char *kit_type, const char *want, const char *last_recorder)
{
    ctm_query *q = NULL;
    tu_ok(ctm_darf(&q, db, TRIAL, kit_type));
    char got[2048] = "";
    size_t n = 0;
    const char *rec = NULL;
    char recorder[64] = "";
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW) {
        const char *subject = ctm_query_text(q, col(q, "subject"));
        n += (size_t)snprintf(got + n, sizeof got - n, "%s%s:%lld:%lld:%s", n ? " " : "",
                              ctm_query_text(q, col(q, "event")),
                              (long long)ctm_query_int64(q, col(q, "quantity")),
                              (long long)ctm_query_int64(q, col(q, "balance")),
                              subject != NULL ? subject : "-");
        rec = ctm_query_text(q, col(q, "recorder"));
        snprintf(recorder, sizeof recorder, "%s", rec != NULL ? rec : "");
    }
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    ck_assert_str_eq(got, want);
    if (last_recorder != NULL)
        ck_assert_str_eq(recorder, last_recorder);
}

START_TEST(the_darf_log_adds_receipts_subtracts_dispensings_and_never_adds_returns_back)
{
    const char *k1 = dispense("S1");
    /* the subject brings it back with 12 units, recorded by the technician */
    tu_as(db, "ted", PW);
    tu_ok(ctm_return(db, TRIAL, k1, 12, NULL, NULL));
    darf_is("KT",
            "received:1:1:- received:1:2:- received:1:3:- received:1:4:- received:1:5:-"
            " received:1:6:- received:1:7:- received:1:8:- received:1:9:- received:1:10:-"
            " missing:-1:9:- dispensed:-1:8:S1 returned:0:8:S1",
            "ted");
    recon_row(NULL, "L1", "dispensed returned dispensed_units returned_units consumed_units"
                          " with_subjects_units breaks balanced",
              "dispensed=0 returned=1 dispensed_units=30 returned_units=12 consumed_units=18"
              " with_subjects_units=0 breaks=0 balanced=1");
    ctm_query *q = NULL;
    tu_ok(ctm_darf(&q, db, TRIAL, NULL));
    int last_units = 0, returned = -1;
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW) {
        last_units = (int)ctm_query_int64(q, col(q, "balance_units"));
        if (strcmp(ctm_query_text(q, col(q, "event")), "returned") == 0)
            returned = (int)ctm_query_int64(q, col(q, "returned_units"));
        ck_assert_str_eq(ctm_query_text(q, col(q, "product")), "Drug X or placebo");
    }
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    ck_assert_int_eq(last_units, 240);
    ck_assert_int_eq(returned, 12);
    ck_assert_int_eq(ctm_darf(&q, db, TRIAL, "NOPE"), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
}
END_TEST

static int64_t signoff_int(const char *name)
{
    ctm_query *q = NULL;
    tu_ok(ctm_signoffs(&q, db, TRIAL));
    int64_t v = -1;
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW)
        v = ctm_query_int64(q, col(q, name));
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    return v;
}

START_TEST(a_monitor_signs_off_and_changes_nothing_else)
{
    dispense("S1");
    ck_assert_int_eq(ctm_signoff_reconciliation(db, TRIAL, NULL, "reviewed"), CTM_EDENIED);
    tu_as(db, "mo", PW);
    ck_assert_int_eq(ctm_kit_set_status(db, TRIAL, "A2", "quarantined", "x"), CTM_EDENIED);
    uint64_t size = tu_audit_size(db);
    tu_ok(ctm_signoff_reconciliation(db, TRIAL, NULL, "reconciliation reviewed on site"));
    ck_assert_int_eq(tu_audit_size(db), size + 1);
    ck_assert_int_eq(signoff_int("balanced"), 1);
    ck_assert_int_eq(signoff_int("ledger_size"), (int64_t)size);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM signoffs WHERE signed_by = 'mo'"
                                         " AND kind = 'reconciliation' AND comment ="
                                         " 'reconciliation reviewed on site'", NULL), 1);
    /* e-signed with its meaning */
    ctm_query *q = NULL;
    tu_ok(ctm_signoffs(&q, db, TRIAL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "printed_name")), "Mo Monitor");
    ck_assert_str_eq(ctm_query_text(q, col(q, "kind")), "reconciliation");
    ctm_query_free(q);
    /* a break, signed as it is: balanced 0 */
    tu_sql_exec(db_path, "UPDATE kits SET status = 'destroyed' WHERE kit_number = 'A2'");
    char yesterday[11];
    tu_day(-1, yesterday);
    tu_ok(ctm_signoff_reconciliation(db, TRIAL, NULL, NULL));
    ck_assert_int_eq(signoff_int("balanced"), 0);
    tu_sql_exec(db_path, "UPDATE kits SET status = 'available' WHERE kit_number = 'A2'");
    tu_ok(ctm_signoff_reconciliation(db, TRIAL, yesterday, NULL));
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM signoffs", NULL), 3);
    ck_assert_int_eq(ctm_signoff_reconciliation(db, "NO-SUCH", NULL, NULL), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_signoff_reconciliation(db, TRIAL, "yesterday", NULL), CTM_EINVAL);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM signoffs", NULL), 3);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM signoffs WHERE as_of = ?1",
                                yesterday),
                     1);
}
END_TEST

/* Every text cell of every row of q must hold neither arm code. */
static void no_arm_in(ctm_query *q)
{
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW)
        for (int c = 0; c < ctm_query_column_count(q); c++) {
            const char *t = ctm_query_text(q, c);
            ck_assert_ptr_null(t != NULL ? strstr(t, "QZ") : NULL);
        }
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
}

START_TEST(a_blinded_reader_finds_no_arm)
{
    dispense("S1");
    tu_as(db, "ted", PW);
    ctm_query *q = NULL;
    tu_ok(ctm_reconciliation(&q, db, TRIAL, NULL));
    for (int c = 0; c < ctm_query_column_count(q); c++)
        ck_assert_ptr_null(strstr(ctm_query_column_name(q, c), "arm"));
    no_arm_in(q);
    tu_ok(ctm_reconciliation_breaks(&q, db, TRIAL, NULL));
    no_arm_in(q);
    tu_ok(ctm_darf(&q, db, TRIAL, NULL));
    no_arm_in(q);
    tu_ok(ctm_signoffs(&q, db, TRIAL));
    no_arm_in(q);
}
END_TEST

START_TEST(the_reports_reconciliation_and_darf)
{
    dispense("S1");
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = TRIAL;
    char *text = NULL;
    tu_ok(ctm_report_render(&text, db, "reconciliation", &o, "json"));
    ck_assert_ptr_nonnull(strstr(text, "\"balanced\": true"));
    ck_assert_ptr_nonnull(strstr(text, "\"breaks\": 0"));
    ck_assert_ptr_nonnull(strstr(text, "\"received\": 10"));
    ctm_free(text);
    tu_sql_exec(db_path, "UPDATE kits SET status = 'destroyed' WHERE kit_number = 'A5'");
    tu_ok(ctm_report_render(&text, db, "reconciliation", &o, "json"));
    ck_assert_ptr_nonnull(strstr(text, "\"balanced\": false"));
    ck_assert_ptr_nonnull(strstr(text, "\"breaks\": 1"));
    ctm_free(text);
    ctm_query *q = NULL;
    tu_ok(ctm_report(&q, db, "darf", &o));
    int lines = 0;
    int qrc;
    while ((qrc = ctm_query_next(q)) == CTM_ROW)
        lines++;
    ck_assert_msg(qrc == CTM_DONE, "rows ended with %d: %s", qrc, ctm_errmsg());
    ctm_query_free(q);
    ck_assert_int_eq(lines, 12); /* 10 received, B5 missing, one dispensed */
    /* a trial is needed; the reconciliation takes no kit type */
    o.trial = NULL;
    ck_assert_int_eq(ctm_report(&q, db, "reconciliation", &o), CTM_EINVAL);
    o.trial = TRIAL;
    o.kit_type = "KT";
    ck_assert_int_eq(ctm_report(&q, db, "reconciliation", &o), CTM_EINVAL);
}
END_TEST

static Suite *reconcile_suite(void)
{
    Suite *s = suite_create("reconcile");
    TCase *tc = tcase_create("reconcile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_balanced_trial_with_exact_counts_per_lot_and_total);
    tcase_add_test(tc, returns_and_losses_balance_in_kits_and_units);
    tcase_add_test(tc, kits_whose_records_disagree_are_named);
    tcase_add_test(tc, a_dispensation_whose_kit_is_back_in_stock_and_a_return_not_recorded);
    tcase_add_test(tc, as_of_a_past_day_from_the_history);
    tcase_add_test(tc, the_darf_log_adds_receipts_subtracts_dispensings_and_never_adds_returns_back);
    tcase_add_test(tc, a_monitor_signs_off_and_changes_nothing_else);
    tcase_add_test(tc, a_blinded_reader_finds_no_arm);
    tcase_add_test(tc, the_reports_reconciliation_and_darf);
    tcase_add_test(tc, rows_written_in_bulk_after_a_clock_set_back_come_after_the_newest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(reconcile_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
