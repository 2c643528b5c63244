/* test_returns.c - kits back from subjects: a return records the units counted and the kit never
 * goes back to stock; a loss; every refusal (too many units, a day in the future or before the
 * dispensing, a kit not with a subject, a second return) changes nothing; compliance per subject
 * and visit with exact figures and flags against the trial's limits; a replacement records the
 * replaced kit's return; roles; and the kits' history (kit_events) that the returns write.  Runs
 * on both back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "returns-pw-1234"
#define TRIAL "EU-CT-2026-900010"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

/* A blinded trial, kit type KT of 30 units covering 28 days; subjects S1 and S2 got their V1 kit
 * on paper 28 days ago (A1, B1: one of each arm, whatever the subjects' arms are), S3 today by
 * scan-to-verify; A2..A6 and B2..B6 are in stock. */
static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"tom", "technician", 0, "Tom Tech", PW},
        {"ivy", "investigator", 0, "Ivy Invest", PW},
    };
    static const struct tu_visit visits[] = {
        {"V1", 0, "randomization", "-30..+3"},
        {"V2", 28, "previous", "-3..+3"},
    };
    char kits[1024];
    tu_kit_pairs(kits, sizeof kits, 6);
    char arrived[11]; /* the kits came before the dispensings on paper */
    tu_day(-30, arrived);
    struct tu_trial_site site = {
        .password = PW, .users = users, .nusers = 3, .trial = TRIAL, .sponsor = "Sponsor",
        .arms = "ACT:1,PLA:1", .dispensing_days = 28, .kits = kits, .visits = visits,
        .nvisits = 2, .list_size = 8, .subjects = 3, .date_received = arrived,
    };
    ctm_db *h = NULL;
    template_dir = tu_build_trial_site(&site, &h);
    char when[32], ago[11];
    tu_day(-28, ago);
    snprintf(when, sizeof when, "%sT10:00:00Z", ago);
    for (int i = 1; i <= 3; i++) {
        char s[8];
        snprintf(s, sizeof s, "S%d", i);
        const char *kit = strcmp(site.arm[i - 1], "ACT") == 0 ? (i == 1 ? "A1" : "A2")
                                                              : (i == 1 ? "B1" : "B2");
        if (i < 3) {
            tu_must(ctm_dispense_record(h, TRIAL, s, "V1", &kit, 1, when, "system down"),
                    "dispense on paper");
        } else {
            ctm_query *q = NULL;
            tu_must(ctm_dispense_assign(&q, h, TRIAL, s, "V1", NULL), "assign");
            tu_must(ctm_query_next(q) == CTM_ROW ? CTM_OK : CTM_ERROR, "assigned");
            char assigned[48];
            snprintf(assigned, sizeof assigned, "%s",
                     ctm_query_text(q, ctm_query_column_index(q, "kit_number")));
            ctm_query_free(q);
            const char *scan = assigned;
            tu_must(ctm_dispense_confirm(h, TRIAL, s, &scan, 1), "confirm dispensing");
        }
    }
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

/* The kit number dispensed to a subject at V1. */
static void kit_of(const char *screening, char out[48])
{
    ctm_query *q = NULL;
    tu_ok(ctm_dispensations(&q, db, TRIAL, screening));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(out, 48, "%s", ctm_query_text(q, ctm_query_column_index(q, "kit_number")));
    ctm_query_free(q);
}

static char *kit_status(const char *kit)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM kits WHERE kit_number = '%s'", kit);
    return tu_sql_text(db_path, sql);
}

static void assert_status(const char *kit, const char *want)
{
    char *s = kit_status(kit);
    ck_assert_str_eq(s, want);
    free(s);
}

/* A refusal: the status and words expected, and the ledger unchanged. */
#define refused(rc, want, words, size) refused_at(__LINE__, rc, want, words, size)
static void refused_at(int line, int rc, int want, const char *words, uint64_t size)
{
    ck_assert_msg(rc == want, "line %d: status %d, want %d: %s", line, rc, want, ctm_errmsg());
    ck_assert_msg(strstr(ctm_errmsg(), words) != NULL, "'%s' lacks '%s'", ctm_errmsg(), words);
    ck_assert_uint_eq(tu_audit_size(db), size);
}

START_TEST(a_return_records_the_units_and_the_kit_never_goes_back_to_stock)
{
    char kit[48], today[11];
    kit_of("S1", kit);
    tu_day(0, today);
    tu_ok(ctm_return(db, TRIAL, kit, 4, NULL, "opened, 4 tablets left"));
    assert_status(kit, "returned");
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT r.units || '|' || r.lost || '|' || r.returned_on || '|' || r.condition"
             " || '|' || r.recorded_by FROM kit_returns r JOIN kits k ON k.id = r.kit_id"
             " WHERE k.kit_number = '%s'",
             kit);
    char *row = tu_sql_text(db_path, sql);
    char want[128];
    snprintf(want, sizeof want, "4|0|%s|opened, 4 tablets left|pia", today);
    ck_assert_str_eq(row, want);
    free(row);
    /* its history: received, available, dispensed (28 days ago), returned */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM kit_events e JOIN kits k ON k.id = e.kit_id"
             " WHERE k.kit_number = '%s' AND e.status = 'returned' AND e.by_user = 'pia'",
             kit);
    ck_assert_int_eq(tu_sql_int(db_path, sql, NULL), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM kit_events e JOIN kits k ON k.id = e.kit_id"
             " WHERE k.kit_number = '%s'",
             kit);
    ck_assert_int_eq(tu_sql_int(db_path, sql, NULL), 4);
    /* never back to stock, by hand or otherwise */
    uint64_t size = tu_audit_size(db);
    refused(ctm_kit_set_status(db, TRIAL, kit, "available", "found"), CTM_ERULE,
            "returned to available", size);
    refused(ctm_kit_set_status(db, TRIAL, kit, "quarantined", "check"), CTM_ERULE,
            "returned to quarantined", size);
    tu_ok(ctm_kit_set_status(db, TRIAL, kit, "pending_destruction", "to destroy"));
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(refused_returns_change_nothing)
{
    char kit[48], future[11];
    kit_of("S1", kit);
    tu_day(1, future);
    uint64_t size = tu_audit_size(db);
    refused(ctm_return(db, TRIAL, kit, 31, NULL, NULL), CTM_EINVAL,
            "units: 31 is more than the 30 units", size);
    refused(ctm_return(db, TRIAL, kit, -1, NULL, NULL), CTM_EINVAL, "units: -1", size);
    refused(ctm_return(db, TRIAL, kit, 3, future, NULL), CTM_EINVAL, "is in the future", size);
    refused(ctm_return(db, TRIAL, kit, 3, "2020-01-01", NULL), CTM_EINVAL,
            "returned_on: 2020-01-01 is before kit", size);
    refused(ctm_return(db, TRIAL, kit, 3, "2026-13-01", NULL), CTM_EINVAL, "returned_on", size);
    refused(ctm_return(db, TRIAL, "NOPE", 3, NULL, NULL), CTM_ENOTFOUND, "NOPE", size);
    /* a kit in stock (S3's was drawn at random: A6 or B6 is still here) */
    char s3[48], why[96];
    kit_of("S3", s3);
    const char *here = strcmp(s3, "A6") == 0 ? "B6" : "A6";
    snprintf(why, sizeof why, "kit %s is not with a subject (status available)", here);
    refused(ctm_return(db, TRIAL, here, 3, NULL, NULL), CTM_ERULE, why, size);
    refused(ctm_return(db, TRIAL, kit, 3, NULL, "bad\acondition"), CTM_EINVAL, "condition",
            size);
    assert_status(kit, "dispensed");
    tu_ok(ctm_return(db, TRIAL, kit, 3, NULL, NULL));
    size = tu_audit_size(db);
    refused(ctm_return(db, TRIAL, kit, 3, NULL, NULL), CTM_ERULE, "already recorded returned",
            size);
    refused(ctm_lost(db, TRIAL, kit, NULL, "lost"), CTM_ERULE, "already recorded returned", size);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kit_returns", NULL), 1);
}
END_TEST

START_TEST(a_lost_kit_is_recorded_with_its_reason)
{
    char kit[48];
    kit_of("S2", kit);
    uint64_t size = tu_audit_size(db);
    refused(ctm_lost(db, TRIAL, kit, NULL, NULL), CTM_EINVAL, "reason: required", size);
    refused(ctm_lost(db, TRIAL, kit, NULL, ""), CTM_EINVAL, "reason: required", size);
    tu_as(db, "tom", PW);
    tu_ok(ctm_lost(db, TRIAL, kit, NULL, "left on the bus"));
    assert_status(kit, "lost_by_subject");
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kit_returns WHERE lost = 1"
                                         " AND units IS NULL AND recorded_by = 'tom'",
                                NULL),
                     1);
    ctm_query *q = tu_log_entry(db, size);
    ck_assert_str_eq(ctm_query_text(q, 3), "kit.lost");
    ck_assert_str_eq(ctm_query_text(q, 4), "left on the bus");
    ctm_query_free(q);
    /* an investigator records neither */
    tu_as(db, "ivy", PW);
    char other[48];
    kit_of("S1", other);
    size = tu_audit_size(db);
    refused(ctm_return(db, TRIAL, other, 3, NULL, NULL), CTM_EDENIED, "not allowed for the role 'investigator'", size);
    refused(ctm_lost(db, TRIAL, other, NULL, "gone"), CTM_EDENIED, "not allowed for the role 'investigator'", size);
}
END_TEST

/* One compliance row by screening number: its text columns joined for an exact comparison. */
static void assert_compliance(const char *screening, const char *want)
{
    static const char *const cols[] = {
        "visit", "kits", "units_dispensed", "units_returned", "kits_lost", "kits_out", "days",
        "prescribed_units", "consumed_units", "compliance_pct", "low_pct", "high_pct", "flag",
    };
    ctm_query *q = NULL;
    tu_ok(ctm_compliance(&q, db, TRIAL, screening));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char got[512] = "";
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        int c = ctm_query_column_index(q, cols[i]);
        ck_assert_int_ge(c, 0);
        const char *t = ctm_query_text(q, c);
        char cell[64];
        if (ctm_query_column_type(q, c) == CTM_REAL)
            snprintf(cell, sizeof cell, "%.1f", ctm_query_double(q, c));
        else
            snprintf(cell, sizeof cell, "%s", t != NULL ? t : "-");
        strcat(got, i > 0 ? " " : "");
        strcat(got, cell);
    }
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}

START_TEST(compliance_per_subject_and_visit_is_flagged_against_the_limits)
{
    char k1[48], k2[48], k3[48];
    kit_of("S1", k1);
    kit_of("S2", k2);
    kit_of("S3", k3);
    /* nothing back yet: no figure, and why */
    assert_compliance("S1", "V1 1 30 - 0 1 - - - - 80 110 not returned");
    /* 28 days of 30 units per 28 days: 30 prescribed; 2 left, 28 taken = 93.3 % */
    tu_ok(ctm_return(db, TRIAL, k1, 2, NULL, NULL));
    assert_compliance("S1", "V1 1 30 2 0 0 28 30.0 28 93.3 80 110 ok");
    /* 10 left: 20 taken = 66.7 %, low */
    tu_ok(ctm_return(db, TRIAL, k2, 10, NULL, NULL));
    assert_compliance("S2", "V1 1 30 10 0 0 28 30.0 20 66.7 80 110 low");
    /* the trial's own limits */
    tu_ok(ctm_compliance_limits(db, TRIAL, 60, 90));
    assert_compliance("S1", "V1 1 30 2 0 0 28 30.0 28 93.3 60 90 high");
    assert_compliance("S2", "V1 1 30 10 0 0 28 30.0 20 66.7 60 90 ok");
    /* returned the day it was dispensed: no period to judge */
    tu_ok(ctm_return(db, TRIAL, k3, 30, NULL, NULL));
    assert_compliance("S3", "V1 1 30 30 0 0 0 0.0 0 - 60 90 no period");
    /* the whole trial: one row per subject and visit, in screening order */
    ctm_query *q = NULL;
    tu_ok(ctm_compliance(&q, db, TRIAL, NULL));
    int n = 0;
    while (ctm_query_next(q) == CTM_ROW)
        n++;
    ctm_query_free(q);
    ck_assert_int_eq(n, 3);
    /* the same rows as the "subjects" report, with its counts above them */
    ctm_report_options ro = CTM_REPORT_OPTIONS_INIT;
    ro.trial = TRIAL;
    tu_ok(ctm_report(&q, db, "subjects", &ro));
    n = 0;
    while (ctm_query_next(q) == CTM_ROW)
        n++;
    ctm_query_free(q);
    ck_assert_int_eq(n, 3);
    char *json = NULL;
    tu_ok(ctm_report_render(&json, db, "subjects", &ro, "json"));
    ck_assert_ptr_nonnull(strstr(json, "\"subjects\": 3,\n  \"visits\": 3,\n  \"below_limit\": 0,\n"
                                       "  \"above_limit\": 1,\n  \"no_figure\": 0,\n"));
    ctm_free(json);
    ro.trial = NULL;
    ck_assert_int_eq(ctm_report(&q, db, "subjects", &ro), CTM_EINVAL);
    uint64_t size = tu_audit_size(db);
    refused(ctm_compliance_limits(db, TRIAL, 95, 90), CTM_EINVAL, "low: 95% is above high", size);
    refused(ctm_compliance_limits(db, TRIAL, -1, 90), CTM_EINVAL, "low: -1%", size);
    refused(ctm_compliance_limits(db, TRIAL, 10, 1001), CTM_EINVAL, "high: 1001%", size);
    refused(ctm_compliance_limits(db, "NOPE", 10, 20), CTM_ENOTFOUND, "NOPE", size);
    tu_as(db, "tom", PW);
    refused(ctm_compliance_limits(db, TRIAL, 70, 90), CTM_EDENIED, "not allowed for the role 'technician'", size);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_replaced_kit_the_subject_had_is_recorded_back)
{
    char kit[48];
    kit_of("S3", kit);
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_replace(&q, db, TRIAL, "S3", kit, "damaged", "crushed box"));
    ctm_query_free(q);
    assert_status(kit, "returned");
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM kit_returns r JOIN kits k ON k.id = r.kit_id"
             " WHERE k.kit_number = '%s' AND r.lost = 0 AND r.units IS NULL"
             " AND r.condition = 'damaged'",
             kit);
    ck_assert_int_eq(tu_sql_int(db_path, sql, NULL), 1);
    /* a return of it now is refused: it is back already */
    uint64_t size = tu_audit_size(db);
    refused(ctm_return(db, TRIAL, kit, 5, NULL, NULL), CTM_ERULE, "already recorded returned",
            size);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_blinded_technician_records_returns_and_reads_compliance)
{
    char kit[48];
    kit_of("S1", kit);
    tu_as(db, "tom", PW);
    tu_ok(ctm_return(db, TRIAL, kit, 1, NULL, NULL));
    ctm_query *q = NULL;
    tu_ok(ctm_compliance(&q, db, TRIAL, NULL));
    for (int c = 0; c < ctm_query_column_count(q); c++)
        ck_assert_msg(strstr(ctm_query_column_name(q, c), "arm") == NULL, "%s",
                      ctm_query_column_name(q, c));
    while (ctm_query_next(q) == CTM_ROW)
        for (int c = 0; c < ctm_query_column_count(q); c++) {
            const char *t = ctm_query_text(q, c);
            ck_assert(t == NULL || (strstr(t, "ACT") == NULL && strstr(t, "PLA") == NULL));
        }
    ctm_query_free(q);
}
END_TEST

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    Suite *s = suite_create("returns");
    TCase *tc = tu_tcase(s, "returns", setup, teardown, 60);
    tcase_add_test(tc, a_return_records_the_units_and_the_kit_never_goes_back_to_stock);
    tcase_add_test(tc, refused_returns_change_nothing);
    tcase_add_test(tc, a_lost_kit_is_recorded_with_its_reason);
    tcase_add_test(tc, a_replaced_kit_the_subject_had_is_recorded_back);
    tc = tu_tcase(s, "compliance", setup, teardown, 60);
    tcase_add_test(tc, compliance_per_subject_and_visit_is_flagged_against_the_limits);
    tcase_add_test(tc, a_blinded_technician_records_returns_and_reads_compliance);
    int rc = tu_run_suite(s);
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
