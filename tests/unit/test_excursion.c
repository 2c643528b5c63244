/* test_excursion.c - excursions as a pharmacy meets them: a logger file shows a fridge out of
 * range, the kits in it are quarantined at once, the sponsor's decision releases or rejects
 * them; gaps, alarm delays, ongoing excursions, a shipment's logger at receipt, the report. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "excursion-pw-12"
#define MIN_US 60000000LL

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;
static int64_t reg; /* when the test's first shipment was registered */

static void must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_excursion: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* The site once: a pharmacist, a technician; two fridges 2..8 C; an open trial whose kit type
 * may spend an hour out of range up to 15 C. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.db", template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    must(tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR, "open");
    must(ctm_init(h, "Excursion Test Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "add pharmacist");
    must(ctm_user_add(h, "ted", "technician", 0, "Ted Tech", PW), "add technician");
    must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location 1");
    must(ctm_location_add(h, "FRIDGE2", "fridge", 2, 8), "location 2");
    must(ctm_trial_add(h, "OPEN-1", "An open trial", "Sponsor AB", 0, "ACTIVE:1"), "trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.excursion_budget_minutes = 60;
    ko.excursion_max_c = 15;
    must(ctm_kittype_add(h, "OPEN-1", "KT", "Drug X", 30, 2, 8, 0, &ko), "kit type");
    must(ctm_kittype_add(h, "OPEN-1", "RT", "Drug R", 30, 15, 25, 0, NULL), "room kit type");
    /* a blinded trial, arms with codes a plain search finds anywhere they leak */
    must(ctm_trial_add(h, "BLIND-1", "A blinded trial", "Sponsor AB", 1, "ARMALPHA:1,ARMBETA:1"),
         "blinded trial");
    must(ctm_kittype_add(h, "BLIND-1", "BKT", "Drug Z or placebo", 30, 2, 8, 0, &ko),
         "blinded kit type");
    ctm_close(h);
}

static int64_t count(const char *sql)
{
    return tu_sql_int(db_path, sql, NULL);
}

static void as(const char *user)
{
    ctm_logout(db);
    tu_login(db, user, PW);
}

/* K1 and K2 received into FRIDGE1, K3 into FRIDGE2, confirmed: all available. */
static void setup(void)
{
    dir = tu_test_dir(template_dir, "t.db");
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
    static const char m1[] = "kit_number,kit_type,lot,expiry\n"
                             "K1,KT,L1,2030-01-31\nK2,KT,L1,2030-01-31\n";
    static const char m2[] = "kit_number,kit_type,lot,expiry\nK3,KT,L1,2030-01-31\n";
    tu_ok(ctm_receive(db, "OPEN-1", "SH1", m1, sizeof m1 - 1, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SH1", 1));
    tu_ok(ctm_receive(db, "OPEN-1", "SH2", m2, sizeof m2 - 1, "FRIDGE2", NULL));
    tu_ok(ctm_receive_confirm(db, "SH2", 1));
    reg = count("SELECT max(registered_us) FROM shipments");
    as("ted");
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

/* A generic CSV logger file of "minutes after the receipt,temperature" pairs, readings given
 * as whole minutes after reg; its path.  The minute is that of reg's next whole minute, so
 * readings fall on exact minutes. */
static int64_t base(void)
{
    return (reg / MIN_US + 1) * MIN_US;
}

static void iso(int64_t us, char *out)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *logger(const char *name, const int *minutes, const double *temps, int n)
{
    static char path[4][4096];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "time,temperature\n");
    for (int i = 0; i < n; i++) {
        char when[40];
        iso(base() + (int64_t)minutes[i] * MIN_US, when);
        fprintf(f, "%s,%.1f\n", when, temps[i]);
    }
    fclose(f);
    return p;
}

static char *kit_status(const char *kit)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT status FROM kits WHERE kit_number = '%s'", kit);
    return tu_sql_text(db_path, sql);
}

static void assert_status(const char *kit, const char *status)
{
    char *s = kit_status(kit);
    ck_assert_msg(s != NULL && strcmp(s, status) == 0, "kit %s is %s, not %s", kit,
                  s != NULL ? s : "(none)", status);
    free(s);
}

static int import_at(const char *location, const char *name, const int *m, const double *t,
                     int n, ctm_temp_import_result *r)
{
    return ctm_temp_import(db, location, logger(name, m, t, n), NULL, r);
}

/* The excursion's value of a column of ctm_excursions() (the newest is row 0), as text. */
static char *excursion_field(int64_t id, const char *column)
{
    ctm_query *q = NULL;
    tu_ok(ctm_excursions(&q, db, NULL, 0));
    char *v = NULL;
    while (ctm_query_next(q) == CTM_ROW)
        if (ctm_query_int64(q, ctm_query_column_index(q, "excursion")) == id) {
            const char *t = ctm_query_text(q, ctm_query_column_index(q, column));
            v = t != NULL ? strdup(t) : NULL;
        }
    ctm_query_free(q);
    return v;
}

static void assert_field(int64_t id, const char *column, const char *want)
{
    char *v = excursion_field(id, column);
    ck_assert_msg(want == NULL ? v == NULL : v != NULL && strcmp(v, want) == 0,
                  "excursion %lld %s: %s, not %s", (long long)id, column, v ? v : "NULL",
                  want ? want : "NULL");
    free(v);
}

static int64_t newest(void)
{
    return count("SELECT max(id) FROM excursions");
}

/* 40 minutes above 8 C (9, 10, 9.5, 11 for 10 minutes each): longer than the default delay */
static const int RUN_M[] = {0, 10, 20, 30, 40, 50, 60, 70, 80};
static const double RUN_T[] = {5, 5, 5, 9, 10, 9.5, 11, 5, 5};

START_TEST(a_run_out_of_range_quarantines_the_kits_in_the_fridge)
{
    uint64_t before = 0;
    tu_ok(ctm_audit_size(db, &before));
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_uint_eq(r.excursions, 1);
    ck_assert_uint_eq(r.quarantined, 2);
    assert_status("K1", "quarantined");
    assert_status("K2", "quarantined");
    assert_status("K3", "available"); /* the other fridge */
    int64_t id = newest();
    char start[40], end[40], max_time[40];
    iso(base() + 30 * MIN_US, start);
    iso(base() + 70 * MIN_US, end);
    iso(base() + 60 * MIN_US, max_time);
    assert_field(id, "location", "FRIDGE1");
    assert_field(id, "shipment", NULL);
    assert_field(id, "kind", "high");
    assert_field(id, "start", start);
    assert_field(id, "end", end);
    assert_field(id, "ongoing", "0");
    assert_field(id, "minutes", "40");
    assert_field(id, "readings", "4");
    assert_field(id, "max_time", max_time);
    assert_field(id, "status", "open");
    assert_field(id, "kits", "2");
    assert_field(id, "quarantined", "2");
    assert_field(id, "detected_by", "ted");
    ck_assert_int_eq(count("SELECT max_mc FROM excursions"), 11000);
    ck_assert_int_eq(count("SELECT min_mc FROM excursions"), 9000);
    /* (1 + 2 + 1.5 + 3) degrees for 10 minutes each */
    ck_assert_int_eq(count("SELECT degree_mc_minutes FROM excursions"), 75000);
    /* the import, then its excursions: one transaction, two entries */
    uint64_t after = 0;
    tu_ok(ctm_audit_size(db, &after));
    ck_assert_uint_eq(after, before + 2);
    ctm_query *q = tu_log_entry(db, before + 1);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "action")), "temp.excursions");
    ctm_query_free(q);
    /* the kits listed with it, by kit number, none decided */
    tu_ok(ctm_excursion_kits(&q, db, id));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "kit_number")), "K1");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "status_was")), "available");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "status")), "quarantined");
    ck_assert_int_eq(ctm_query_column_type(q, ctm_query_column_index(q, "decision")), CTM_NULL);
    ck_assert_int_eq(ctm_query_int64(q, ctm_query_column_index(q, "minutes_out")), 40);
    ck_assert_int_eq(ctm_query_int64(q, ctm_query_column_index(q, "over_budget")), 0);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    /* open excursions listed; the same file again changes nothing */
    tu_ok(ctm_excursions(&q, db, "FRIDGE1", 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_int_eq(r.duplicate, 1);
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 1);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_run_shorter_than_the_alarm_delay_is_not_one)
{
    static const int m[] = {0, 10, 20, 30, 40};
    static const double t[] = {5, 9, 9, 5, 5}; /* 20 minutes above */
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "short.csv", m, t, 5, &r));
    ck_assert_uint_eq(r.excursions, 0);
    assert_status("K1", "available");
    /* the location's own delay: technicians may not set it, pharmacists may */
    ck_assert_int_eq(ctm_location_alarm(db, "FRIDGE1", 15, 60), CTM_EDENIED);
    as("pia");
    ck_assert_int_eq(ctm_location_alarm(db, "FRIDGE1", -1, 60), CTM_EINVAL);
    ck_assert_int_eq(ctm_location_alarm(db, "FRIDGE1", 15, 0), CTM_EINVAL);
    ck_assert_int_eq(ctm_location_alarm(db, "FRIDGE9", 15, 60), CTM_ENOTFOUND);
    tu_ok(ctm_location_alarm(db, "FRIDGE1", 15, 60));
    tu_ok(ctm_location_alarm(db, "FRIDGE1", 15, 90)); /* changed, not added */
    ck_assert_int_eq(count("SELECT count(*) FROM location_alarms"), 1);
    static const int m2[] = {50, 60, 70, 80};
    static const double t2[] = {1.5, 1.0, 5, 5}; /* 20 minutes below */
    tu_ok(import_at("FRIDGE1", "short2.csv", m2, t2, 4, &r));
    ck_assert_uint_eq(r.excursions, 1);
    int64_t id = newest();
    assert_field(id, "kind", "low");
    assert_field(id, "minutes", "20");
    assert_field(id, "delay_minutes", "15");
    assert_status("K1", "quarantined");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_gap_longer_than_allowed_is_unknown_never_in_range)
{
    static const int m[] = {0, 10, 190, 200}; /* 180 minutes without a reading */
    static const double t[] = {5, 5, 5, 5};
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "gap.csv", m, t, 4, &r));
    ck_assert_uint_eq(r.excursions, 1);
    int64_t id = newest();
    char start[40], end[40];
    iso(base() + 70 * MIN_US, start); /* the reading at 10 holds 60 minutes */
    iso(base() + 190 * MIN_US, end);
    assert_field(id, "kind", "unknown");
    assert_field(id, "start", start);
    assert_field(id, "end", end);
    assert_field(id, "minutes", "120");
    assert_field(id, "min", NULL);
    assert_status("K1", "quarantined");
    /* the next file, starting 30 minutes after the last reading: no gap between the files */
    static const int m2[] = {230, 240};
    tu_ok(import_at("FRIDGE1", "next.csv", m2, t, 2, &r));
    ck_assert_uint_eq(r.excursions, 0);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(an_ongoing_excursion_is_extended_by_the_next_file)
{
    static const int m[] = {0, 10, 20, 30, 40, 50};
    static const double t[] = {5, 5, 9, 9, 9, 12}; /* above from 20, still at 50 */
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "a.csv", m, t, 6, &r));
    ck_assert_uint_eq(r.excursions, 1);
    int64_t id = newest();
    assert_field(id, "ongoing", "1");
    assert_field(id, "minutes", "30");
    as("pia");
    ck_assert_int_eq(ctm_excursion_decide(db, id, "release", "SP-1", NULL, 0), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "still going on"));
    as("ted");
    static const int m2[] = {60, 70, 80};
    static const double t2[] = {10, 5, 5}; /* back in range at 70 */
    tu_ok(import_at("FRIDGE1", "b.csv", m2, t2, 3, &r));
    ck_assert_uint_eq(r.excursions, 1);
    ck_assert_uint_eq(r.quarantined, 0); /* the kits were quarantined by the first file */
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 1);
    assert_field(id, "ongoing", "0");
    assert_field(id, "minutes", "50");
    assert_field(id, "readings", "5");
    assert_field(id, "max", "12");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_release_returns_the_kits_and_a_reject_sends_them_to_destruction)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t id = newest();
    /* technicians may not decide; bad calls change nothing */
    ck_assert_int_eq(ctm_excursion_decide(db, id, "release", "SP-1", NULL, 0), CTM_EDENIED);
    as("pia");
    ck_assert_int_eq(ctm_excursion_decide(db, id, "accept", "SP-1", NULL, 0), CTM_EINVAL);
    ck_assert_int_eq(ctm_excursion_decide(db, id, "release", "", NULL, 0), CTM_EINVAL);
    ck_assert_int_eq(ctm_excursion_decide(db, id + 99, "release", "SP-1", NULL, 0),
                     CTM_ENOTFOUND);
    const char *k3[] = {"K3"};
    ck_assert_int_eq(ctm_excursion_decide(db, id, "release", "SP-1", k3, 1), CTM_ERULE);
    assert_status("K1", "quarantined");
    /* not by hand: the release is the sponsor's, e-signed */
    ck_assert_int_eq(ctm_kit_set_status(db, "OPEN-1", "K1", "available", "looks fine"), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "excursion"));
    uint64_t before = 0;
    tu_ok(ctm_audit_size(db, &before));
    tu_ok(ctm_excursion_decide(db, id, "release", "SP-2026-114", NULL, 0));
    assert_status("K1", "available");
    assert_status("K2", "available");
    assert_field(id, "status", "released");
    assert_field(id, "reference", "SP-2026-114");
    assert_field(id, "decided_by", "pia");
    ctm_query *q = tu_log_entry(db, before);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "action")), "excursion.release");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "esig_meaning")),
                     "excursion released");
    ctm_query_free(q);
    ck_assert_int_eq(ctm_excursion_decide(db, id, "reject", "SP-2", NULL, 0), CTM_ERULE);
    tu_ok(ctm_excursions(&q, db, NULL, 1));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE); /* none open */
    ctm_query_free(q);
    /* a second excursion, rejected: its kits go to pending destruction */
    as("ted");
    static const int m[] = {90, 100, 110, 120, 130, 140};
    static const double t[] = {5, 1, 1, 1, 1, 5};
    tu_ok(import_at("FRIDGE1", "f2.csv", m, t, 6, &r));
    ck_assert_uint_eq(r.quarantined, 2);
    as("pia");
    tu_ok(ctm_excursion_decide(db, newest(), "reject", "SP-2026-115", NULL, 0));
    assert_status("K1", "pending_destruction");
    assert_status("K2", "pending_destruction");
    assert_field(newest(), "status", "rejected");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(decisions_kit_by_kit_and_a_kit_two_excursions_hold)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t first = newest();
    static const int m[] = {90, 100, 110, 120, 130, 140};
    static const double t[] = {5, 1, 1, 1, 1, 5};
    tu_ok(import_at("FRIDGE1", "f2.csv", m, t, 6, &r));
    int64_t second = newest();
    ck_assert_uint_eq(r.quarantined, 0); /* quarantined already: listed as they were */
    as("pia");
    const char *k1[] = {"K1"}, *k2[] = {"K2"};
    tu_ok(ctm_excursion_decide(db, first, "release", "SP-1", k1, 1));
    assert_field(first, "status", "open"); /* K2 not decided yet */
    assert_status("K1", "quarantined");    /* the second excursion still holds it */
    ck_assert_int_eq(ctm_excursion_decide(db, first, "release", "SP-1", k1, 1), CTM_ERULE);
    /* the first excursion seen again by an overlapping file does not take K1 back */
    as("ted");
    static const int again_m[] = {70, 80, 85};
    static const double again_t[] = {5, 5, 5};
    tu_ok(import_at("FRIDGE1", "again.csv", again_m, again_t, 3, &r));
    ck_assert_uint_eq(r.excursions, 0);
    assert_status("K1", "quarantined"); /* still the second's */
    ck_assert_int_eq(count("SELECT count(*) FROM excursion_kits WHERE decision IS NOT NULL"), 1);
    as("pia");
    tu_ok(ctm_excursion_decide(db, first, "reject", "SP-1", k2, 1));
    assert_field(first, "status", "decided");
    assert_status("K2", "pending_destruction");
    tu_ok(ctm_excursion_decide(db, second, "release", "SP-3", NULL, 0));
    assert_status("K1", "available");
    assert_status("K2", "pending_destruction"); /* rejected stays rejected */
    /* the report names the decisions and their signatures */
    char *json = NULL;
    tu_ok(ctm_excursion_report(&json, db, first, "json"));
    ck_assert_ptr_nonnull(strstr(json, "\"printed_name\": \"Pia Pharm\""));
    ck_assert_ptr_nonnull(strstr(json, "\"meaning\": \"excursion rejected\""));
    ck_assert_ptr_nonnull(strstr(json, "\"meaning\": \"excursion released\""));
    ctm_free(json);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_kit_released_stays_released_when_a_file_shows_the_excursion_again)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t id = newest();
    as("pia");
    const char *k1[] = {"K1"};
    tu_ok(ctm_excursion_decide(db, id, "release", "SP-1", k1, 1));
    assert_status("K1", "available");
    uint64_t before = 0, after = 0;
    tu_ok(ctm_audit_size(db, &before));
    as("ted");
    /* overlapping: its walk sees the open excursion again, unchanged */
    static const int m[] = {70, 80, 85};
    static const double t[] = {5, 5, 5};
    tu_ok(import_at("FRIDGE1", "again.csv", m, t, 3, &r));
    ck_assert_uint_eq(r.excursions, 0);
    ck_assert_uint_eq(r.quarantined, 0);
    assert_status("K1", "available");
    assert_status("K2", "quarantined");
    tu_ok(ctm_audit_size(db, &after));
    ck_assert_uint_eq(after, before + 1); /* the import; no empty temp.excursions entry */
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_kit_moved_out_before_the_excursion_is_not_affected)
{
    as("pia");
    const char *k2[] = {"K2"};
    tu_ok(ctm_transfer(db, "OPEN-1", k2, 1, "FRIDGE2", NULL));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_uint_eq(r.quarantined, 1);
    assert_status("K1", "quarantined");
    assert_status("K2", "available");
}
END_TEST

START_TEST(a_shipment_logger_quarantines_its_kits_on_confirmation)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK7,KT,L1,2030-01-31\n"
                            "K8,KT,L1,2030-01-31\n";
    static const int mm[] = {0, 10, 20, 30};
    static const double hot[] = {5, 12, 5, 5}; /* 10 minutes at 12 C in transit */
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.logger = logger("transit.csv", mm, hot, 4);
    tu_ok(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o));
    int64_t id = newest();
    assert_field(id, "shipment", "SH7");
    assert_field(id, "location", NULL);
    assert_field(id, "delay_minutes", "0");
    assert_field(id, "kits", "2");
    assert_status("K7", "received");
    tu_ok(ctm_receive_confirm(db, "SH7", 1));
    assert_status("K7", "quarantined");
    assert_status("K8", "quarantined");
    /* the journey counts in the kits' exposure */
    ctm_exposure_result e = CTM_EXPOSURE_RESULT_INIT;
    tu_ok(ctm_kit_exposure(db, "OPEN-1", "K7", &e));
    ck_assert_int_eq(e.minutes_high, 10);
    /* a logger after the confirmation is refused; one in range lets the kits in */
    ck_assert_int_eq(ctm_shipment_logger(db, "SH7", o.logger, NULL, NULL), CTM_ERULE);
    static const char m2[] = "kit_number,kit_type,lot,expiry\nK9,KT,L1,2030-01-31\n";
    tu_ok(ctm_receive(db, "OPEN-1", "SH9", m2, sizeof m2 - 1, "FRIDGE2", NULL));
    static const double cool[] = {5, 5, 5, 5};
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(ctm_shipment_logger(db, "SH9", logger("cool.csv", mm, cool, 4), NULL, &r));
    ck_assert_uint_eq(r.readings, 4);
    ck_assert_uint_eq(r.excursions, 0);
    tu_ok(ctm_receive_confirm(db, "SH9", 1));
    assert_status("K9", "available");
    /* a bad logger file refuses the whole receipt */
    static const char m3[] = "kit_number,kit_type,lot,expiry\nK10,KT,L1,2030-01-31\n";
    o.logger = logger("bad.csv", mm, cool, 0);
    FILE *f = fopen(o.logger, "ab");
    fputs("yesterday,warm\n", f);
    fclose(f);
    ck_assert_int_eq(ctm_receive(db, "OPEN-1", "SH10", m3, sizeof m3 - 1, "FRIDGE2", &o),
                     CTM_EINVAL);
    ck_assert_msg(strncmp(ctm_errmsg(), "logger file: line 2", 19) == 0, "%s", ctm_errmsg());
    ck_assert_int_eq(count("SELECT count(*) FROM shipments WHERE number = 'SH10'"), 0);
    /* decided before the confirmation: rejected kits go to destruction at it, released ones
     * were never quarantined */
    o.logger = logger("hot.csv", mm, hot, 4);
    tu_ok(ctm_receive(db, "OPEN-1", "SH11", m3, sizeof m3 - 1, "FRIDGE2", &o));
    tu_ok(ctm_excursion_decide(db, newest(), "reject", "SP-11", NULL, 0));
    assert_status("K10", "received");
    tu_ok(ctm_receive_confirm(db, "SH11", 1));
    assert_status("K10", "pending_destruction");
    static const char m4[] = "kit_number,kit_type,lot,expiry\nK12,KT,L1,2030-01-31\n";
    tu_ok(ctm_receive(db, "OPEN-1", "SH12", m4, sizeof m4 - 1, "FRIDGE2", &o));
    tu_ok(ctm_excursion_decide(db, newest(), "release", "SP-12", NULL, 0));
    tu_ok(ctm_receive_confirm(db, "SH12", 1));
    assert_status("K12", "available");
    assert_field(newest(), "quarantined", "0");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(the_report_for_the_sponsor)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t id = newest();
    as("pia");
    tu_ok(ctm_excursion_decide(db, id, "release", "SP-2026-114", NULL, 0));
    char *out = NULL;
    tu_ok(ctm_excursion_report(&out, db, id, "text"));
    ck_assert_ptr_nonnull(strstr(out, "Location:         FRIDGE1"));
    ck_assert_ptr_nonnull(strstr(out, "Duration:         40 minutes"));
    ck_assert_ptr_nonnull(strstr(out, "file f1.csv"));
    ck_assert_ptr_nonnull(strstr(out, "MKT:"));
    ck_assert_ptr_nonnull(strstr(out, "Pia Pharm (pia)"));
    ck_assert_ptr_nonnull(strstr(out, "SP-2026-114"));
    ck_assert_ptr_nonnull(strstr(out, "K2"));
    ctm_free(out);
    tu_ok(ctm_excursion_report(&out, db, id, "csv"));
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    ck_assert_int_eq(lines, 3); /* the header, one row per kit */
    ck_assert_ptr_nonnull(strstr(out, ",kit_kit_number,"));
    ctm_free(out);
    /* a reference a spreadsheet would run as a formula is written as text */
    const char *k1[] = {"K1"};
    as("ted");
    static const int m[] = {90, 100, 110, 120, 130, 140};
    static const double t[] = {5, 1, 1, 1, 1, 5};
    tu_ok(import_at("FRIDGE1", "f2.csv", m, t, 6, &r));
    as("pia");
    tu_ok(ctm_excursion_decide(db, newest(), "release", "=HYPERLINK(\"x\")", k1, 1));
    tu_ok(ctm_excursion_report(&out, db, newest(), "csv"));
    ck_assert_ptr_nonnull(strstr(out, ",\"'=HYPERLINK(\"\"x\"\")\","));
    ctm_free(out);
    tu_ok(ctm_excursion_report(&out, db, id, "json"));
    ck_assert_ptr_nonnull(strstr(out, "\"kind\": \"high\""));
    ck_assert_ptr_nonnull(strstr(out, "\"kit_number\": \"K1\""));
    ck_assert_ptr_nonnull(strstr(out, "\"reference\": \"SP-2026-114\""));
    ctm_free(out);
    out = (char *)"x";
    ck_assert_int_eq(ctm_excursion_report(&out, db, id, "pdf"), CTM_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(ctm_excursion_report(&out, db, id + 5, "json"), CTM_ENOTFOUND);
}
END_TEST

/* ---- attacks: ways a kit might escape quarantine, wrong counts, hostile files ---- */

/* A kit released kit by kit from an excursion that a file imported later shows to have been
 * longer and hotter: the decision was on less evidence, so the kit is held again. */
START_TEST(a_partly_decided_excursion_found_worse_holds_the_released_kit_again)
{
    /* the later file first: above from 100 to 140 (40 minutes at 9 C) */
    static const int m[] = {100, 110, 120, 130, 140, 150};
    static const double t[] = {9, 9, 9, 9, 5, 5};
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "late.csv", m, t, 6, &r));
    ck_assert_uint_eq(r.excursions, 1);
    int64_t first = newest();
    as("pia");
    const char *k1[] = {"K1"};
    tu_ok(ctm_excursion_decide(db, first, "release", "SP-1", k1, 1));
    assert_status("K1", "available");
    assert_field(first, "status", "open"); /* K2 waits */
    /* the earlier file: the fridge was at 14 C from 20 on, two hours out of range in all */
    as("ted");
    static const int m2[] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90};
    static const double t2[] = {5, 5, 14, 14, 14, 14, 14, 14, 14, 14};
    tu_ok(import_at("FRIDGE1", "early.csv", m2, t2, 10, &r));
    ck_assert_uint_eq(r.excursions, 1);
    assert_status("K1", "quarantined");
    /* the first decision stands as it was made, on what it saw */
    ck_assert_int_eq(count("SELECT minutes FROM excursions WHERE id = (SELECT min(id) FROM"
                           " excursions)"), 40);
    int64_t second = newest();
    ck_assert_int_ne(second, first);
    assert_field(second, "minutes", "120");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A pharmacist's status change by hand is no sponsor's decision: it may not put back into use a
 * kit an excursion holds, else a later rejection leaves the kit dispensable. */
START_TEST(a_kit_an_excursion_holds_is_not_released_by_hand)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t id = newest();
    as("pia");
    uint64_t before = tu_audit_size(db);
    ck_assert_int_eq(ctm_kit_set_status(db, "OPEN-1", "K1", "available", "looks fine"),
                     CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "excursion"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    assert_status("K1", "quarantined");
    /* missing, then found: still held */
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K2", "missing", "not on the shelf"));
    ck_assert_int_eq(ctm_kit_set_status(db, "OPEN-1", "K2", "available", "found"), CTM_ERULE);
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K2", "quarantined", "found"));
    tu_ok(ctm_excursion_decide(db, id, "reject", "SP-9", NULL, 0));
    assert_status("K1", "pending_destruction");
    assert_status("K2", "pending_destruction");
    /* a kit no excursion holds is released by hand as before */
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K3", "quarantined", "recall"));
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K3", "available", "recall lifted"));
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* An expired kit in the fridge during an excursion is held by it: relabelling gives it a new
 * date, not a release. */
START_TEST(an_expiry_extension_does_not_release_a_kit_an_excursion_holds)
{
    as("pia");
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K1", "expired", "label date passed"));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_uint_eq(r.quarantined, 1); /* K2; K1 is listed as expired */
    int64_t id = newest();
    as("pia");
    const char *k1[] = {"K1"};
    tu_ok(ctm_expiry_extend(db, "OPEN-1", NULL, k1, 1, "2031-01-31", "SP-RELABEL-1"));
    assert_status("K1", "quarantined");
    /* rejected: never back to available, whatever relabelling follows */
    tu_ok(ctm_excursion_decide(db, id, "reject", "SP-9", NULL, 0));
    assert_status("K1", "pending_destruction");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A kit quarantined by hand (a recall) after an earlier excursion was released is no
 * excursion's quarantine: releasing a later excursion leaves it quarantined. */
START_TEST(a_release_keeps_a_kit_quarantined_by_hand_after_an_earlier_release)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    int64_t first = newest();
    as("pia");
    tu_ok(ctm_excursion_decide(db, first, "release", "SP-1", NULL, 0));
    assert_status("K1", "available");
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K1", "quarantined", "sponsor recall R-7"));
    as("ted");
    static const int m[] = {90, 100, 110, 120, 130, 140};
    static const double t[] = {5, 1, 1, 1, 1, 5};
    tu_ok(import_at("FRIDGE1", "f2.csv", m, t, 6, &r));
    as("pia");
    tu_ok(ctm_excursion_decide(db, newest(), "release", "SP-2", NULL, 0));
    assert_status("K2", "available");
    assert_status("K1", "quarantined"); /* the recall still holds it */
}
END_TEST

/* The counts at their edges: a run exactly as long as the delay is one; delay 0 takes a single
 * reading; the lowest and highest are the first readings that reach them. */
START_TEST(counts_at_the_edges)
{
    static const int m[] = {0, 10, 20, 30, 40, 50, 60};
    static const double t[] = {5, 9, 11, 11, 8.5, 5, 5}; /* out from 10 to 50: 40 minutes */
    as("pia");
    tu_ok(ctm_location_alarm(db, "FRIDGE1", 40, 60));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "edge.csv", m, t, 7, &r));
    ck_assert_uint_eq(r.excursions, 1);
    int64_t id = newest();
    char max_time[40];
    iso(base() + 20 * MIN_US, max_time);
    assert_field(id, "minutes", "40");
    assert_field(id, "max_time", max_time);
    assert_field(id, "max", "11");
    assert_field(id, "min", "8.5");
    /* (1 + 3 + 3 + 0.5) x 10 */
    ck_assert_int_eq(count("SELECT degree_mc_minutes FROM excursions"), 75000);
    /* delay 0, one reading out of range at the very end of a file: ongoing, 0 minutes */
    as("pia");
    tu_ok(ctm_location_alarm(db, "FRIDGE2", 0, 60));
    as("ted");
    static const int m2[] = {0, 10, 20};
    static const double t2[] = {5, 5, 1.5};
    tu_ok(import_at("FRIDGE2", "end.csv", m2, t2, 3, &r));
    ck_assert_uint_eq(r.excursions, 1);
    id = newest();
    assert_field(id, "ongoing", "1");
    assert_field(id, "minutes", "0");
    assert_field(id, "kind", "low");
    assert_status("K3", "quarantined");
    /* the next file ends it 5 minutes later */
    static const int m3[] = {25, 35};
    static const double t3[] = {5, 5};
    tu_ok(import_at("FRIDGE2", "end2.csv", m3, t3, 2, &r));
    assert_field(id, "ongoing", "0");
    assert_field(id, "minutes", "5");
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 2);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A later file imported first, then the earlier one that a run crosses into: one excursion,
 * whole. */
START_TEST(files_in_any_order_give_one_whole_excursion)
{
    static const int m[] = {100, 110, 120, 130, 140};
    static const double t[] = {9, 9, 5, 5, 5}; /* 20 minutes: shorter than the delay */
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "b.csv", m, t, 5, &r));
    ck_assert_uint_eq(r.excursions, 0);
    static const int m2[] = {50, 60, 70, 80, 90};
    static const double t2[] = {5, 5, 5, 10, 10};
    tu_ok(import_at("FRIDGE1", "a.csv", m2, t2, 5, &r));
    ck_assert_uint_eq(r.excursions, 1);
    char start[40], end[40];
    iso(base() + 80 * MIN_US, start);
    iso(base() + 120 * MIN_US, end);
    int64_t id = newest();
    assert_field(id, "start", start);
    assert_field(id, "end", end);
    assert_field(id, "minutes", "40");
    assert_field(id, "readings", "4");
    assert_status("K1", "quarantined");
    /* a third file overlapping both changes nothing */
    static const int m3[] = {70, 80, 90, 100, 110, 120};
    static const double t3[] = {5, 10, 10, 9, 9, 5};
    tu_ok(import_at("FRIDGE1", "ab.csv", m3, t3, 6, &r));
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 1);
    assert_field(id, "minutes", "40");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A hostile file: a gap between every reading.  Refused with the advice, quickly, and nothing
 * of it kept. */
START_TEST(a_gap_between_every_reading_is_refused_whole)
{
    uint64_t before = tu_audit_size(db);
    char p[4096];
    snprintf(p, sizeof p, "%s/gaps.csv", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "time,temperature\n");
    for (int i = 0; i < 10002; i++) {
        char when[40];
        iso(base() + (int64_t)i * 61 * MIN_US, when);
        fprintf(f, "%s,5.0\n", when);
    }
    fclose(f);
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", p, NULL, &r), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "allowed gap"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 0);
    assert_status("K1", "available");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* Blinded users read excursions, their kits, the report and the ledger's entries of them, and
 * see no arm. */
START_TEST(blinded_users_learn_no_arm_through_excursions)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry,arm\n"
                            "B1,BKT,LB,2030-01-31,ARMALPHA\nB2,BKT,LB,2030-01-31,ARMBETA\n";
    tu_ok(ctm_receive(db, "BLIND-1", "SHB", m, sizeof m - 1, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SHB", 1));
    as("ted");
    uint64_t start = tu_audit_size(db);
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_uint_eq(r.quarantined, 4);
    int64_t id = newest();
    as("pia");
    const char *b1[] = {"B1"};
    tu_ok(ctm_excursion_decide(db, id, "release", "SP-1", b1, 1));
    as("ted");
    ctm_query *reads[3] = {NULL, NULL, NULL};
    tu_ok(ctm_excursions(&reads[0], db, NULL, 0));
    tu_ok(ctm_excursion_kits(&reads[1], db, id));
    tu_ok(ctm_audit_log(&reads[2], db, start, 0));
    for (int i = 0; i < 3; i++) {
        ctm_query *q = reads[i];
        while (ctm_query_next(q) == CTM_ROW)
            for (int c = 0; c < ctm_query_column_count(q); c++) {
                const char *v = ctm_query_text(q, c);
                ck_assert_msg(v == NULL || (strstr(v, "ARMALPHA") == NULL &&
                                            strstr(v, "ARMBETA") == NULL),
                              "read %d, column %s shows an arm: %s", i,
                              ctm_query_column_name(q, c), v);
            }
        ctm_query_free(q);
    }
    static const char *const formats[] = {"text", "csv", "json"};
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        tu_ok(ctm_excursion_report(&out, db, id, formats[i]));
        ck_assert_msg(strstr(out, "ARMALPHA") == NULL && strstr(out, "ARMBETA") == NULL,
                      "the %s report shows an arm", formats[i]);
        ctm_free(out);
    }
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A receipt voided after an import found its kits in an excursion: the kits' rows of the
 * excursion go with them; the excursion and the other kits' rows stay. */
START_TEST(a_receipt_voided_after_an_excursion_found_its_kits)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK6,KT,L1,2030-01-31\n";
    tu_ok(ctm_receive(db, "OPEN-1", "SH6", m, sizeof m - 1, "FRIDGE1", NULL));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_int_eq(count("SELECT count(*) FROM excursion_kits"), 3);
    as("pia");
    tu_ok(ctm_receive_void(db, "SH6", "wrong fridge"));
    ck_assert_int_eq(count("SELECT count(*) FROM excursion_kits"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 1);
    assert_status("K1", "quarantined");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* Kits moved between fridges while an excursion went on: the one moved out and the one moved in
 * were both in the fridge during it. */
START_TEST(kits_moved_during_an_excursion_are_affected)
{
    /* FRIDGE1 above range from 20 minutes before the moves until 30 after them */
    static const int m[] = {-40, -30, -20, -10, 0, 10, 20, 30, 40};
    static const double t[] = {5, 5, 10, 10, 10, 10, 10, 5, 5};
    as("pia");
    const char *k2[] = {"K2"}, *k3[] = {"K3"};
    tu_ok(ctm_transfer(db, "OPEN-1", k2, 1, "FRIDGE2", NULL));
    tu_ok(ctm_transfer(db, "OPEN-1", k3, 1, "FRIDGE1", NULL));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", m, t, 9, &r));
    ck_assert_uint_eq(r.excursions, 1);
    ck_assert_uint_eq(r.quarantined, 3);
    assert_status("K1", "quarantined");
    assert_status("K2", "quarantined"); /* moved out during it */
    assert_status("K3", "quarantined"); /* moved in during it */
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A receipt whose logger file the excursion search refuses (a gap between every reading) is
 * refused whole: no shipment, no kits, no readings, no entry. */
START_TEST(a_receipt_whose_logger_is_refused_leaves_nothing)
{
    as("pia");
    uint64_t before = tu_audit_size(db);
    char p[4096];
    snprintf(p, sizeof p, "%s/gaps.csv", dir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "time,temperature\n");
    for (int i = 0; i < 10002; i++) {
        char when[40];
        iso(base() + (int64_t)i * 61 * MIN_US, when);
        fprintf(f, "%s,5.0\n", when);
    }
    fclose(f);
    static const char m[] = "kit_number,kit_type,lot,expiry\nK7,KT,L1,2030-01-31\n";
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.logger = p;
    ck_assert_int_eq(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "allowed gap"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    ck_assert_int_eq(count("SELECT count(*) FROM shipments WHERE number = 'SH7'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM kits WHERE kit_number = 'K7'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 0);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A kit moved back and forth many times: the listing and report of its excursion still work. */
START_TEST(a_kit_moved_many_times_does_not_break_the_listing)
{
    as("pia");
    const char *k1[] = {"K1"};
    for (int i = 0; i < 70; i++)
        tu_ok(ctm_transfer(db, "OPEN-1", k1, 1, i % 2 == 0 ? "FRIDGE2" : "FRIDGE1", NULL));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r)); /* where it ended */
    ck_assert_uint_eq(r.excursions, 1);
    assert_status("K1", "quarantined");
    ctm_query *q = NULL;
    tu_ok(ctm_excursion_kits(&q, db, newest()));
    int rc, n = 0;
    while ((rc = ctm_query_next(q)) == CTM_ROW)
        n++;
    ck_assert_msg(rc == CTM_DONE, "listing: %d %s", rc, ctm_errmsg());
    ck_assert_int_eq(n, 2); /* K1 and K2 */
    ctm_query_free(q);
    char *out = NULL;
    rc = ctm_excursion_report(&out, db, newest(), "text");
    ck_assert_msg(rc == CTM_OK, "report: %d %s", rc, ctm_errmsg());
    ctm_free(out);
}
END_TEST

/* A kit number used in two trials (numbers are unique per trial only): a decision kit by kit
 * can name either. */
START_TEST(a_kit_number_of_two_trials_can_be_decided_kit_by_kit)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry,arm\n"
                            "K1,BKT,LB,2030-01-31,ARMALPHA\n";
    tu_ok(ctm_receive(db, "BLIND-1", "SHB", m, sizeof m - 1, "FRIDGE2", NULL));
    tu_ok(ctm_receive_confirm(db, "SHB", 1));
    static const char m2[] = "kit_number,kit_type,lot,expiry,arm\n"
                             "K2,BKT,LB,2030-01-31,ARMALPHA\n";
    tu_ok(ctm_receive(db, "BLIND-1", "SHC", m2, sizeof m2 - 1, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SHC", 1));
    as("ted");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "f1.csv", RUN_M, RUN_T, 9, &r));
    ck_assert_uint_eq(r.quarantined, 3);
    as("pia");
    /* K1 of BLIND-1 is in the other fridge: "K1" names OPEN-1's, the excursion's own */
    const char *k1[] = {"K1"}, *k2[] = {"K2"};
    int rc = ctm_excursion_decide(db, newest(), "release", "SP-1", k1, 1);
    ck_assert_msg(rc == CTM_OK, "decide: %d %s", rc, ctm_errmsg());
    ck_assert_int_eq(count("SELECT count(*) FROM kits WHERE kit_number = 'K1'"
                           " AND status = 'available'"), 2);
    /* both K2 were in the fridge: the number alone is refused, naming the two trials */
    ck_assert_int_eq(ctm_excursion_decide(db, newest(), "release", "SP-1", k2, 1), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "BLIND-1 and OPEN-1"));
    tu_ok(ctm_excursion_decide(db, newest(), "release", "SP-1", NULL, 0));
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A shipment of a fridge product (2-8 C) and a room-temperature one (15-25 C), its logger at
 * 5 C throughout: the fridge kits were in their range all the way and are not quarantined. */
START_TEST(a_shipment_of_kits_sharing_no_range_refuses_one_logger)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK7,KT,L1,2030-01-31\n"
                            "R1,RT,L2,2030-01-31\n";
    static const int mm[] = {0, 10, 20, 30};
    static const double cool[] = {5, 5, 5, 5};
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.logger = logger("transit.csv", mm, cool, 4);
    /* 2-8 C and 15-25 C: no reading could be in range for both; nothing is registered */
    ck_assert_int_eq(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "share no storage range"));
    ck_assert_int_eq(count("SELECT count(*) FROM shipments WHERE number = 'SH7'"), 0);
    /* without the logger it is received, and each kit keeps its own range */
    tu_ok(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", NULL));
}
END_TEST

/* A shipment registered by mistake with its logger file, voided before confirmation: the void
 * removes what the registration made, its logger's readings with it. */
START_TEST(a_receipt_with_its_logger_is_voided)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK7,KT,L1,2030-01-31\n";
    static const int mm[] = {0, 10, 20, 30};
    static const double hot[] = {5, 12, 5, 5};
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.logger = logger("transit.csv", mm, hot, 4);
    tu_ok(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o));
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 1);
    tu_ok(ctm_receive_void(db, "SH7", "wrong trial"));
    ck_assert_int_eq(count("SELECT count(*) FROM shipments WHERE number = 'SH7'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM excursions"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files"), 0);
    /* registered again, with its logger again: the same file is not a duplicate of a voided one */
    tu_ok(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o));
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 4);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* Found trying it as a pharmacist: a shipment's logger that ends out of range can be decided (the
 * journey ends with its file); a partial rejection then a release of the rest is "decided", not
 * "released"; the report names the files whose readings show the excursion, not the one before. */
START_TEST(a_shipment_logger_ending_warm_a_mixed_decision_and_the_reports_files)
{
    as("pia");
    static const char m[] = "kit_number,kit_type,lot,expiry\nK7,KT,L1,2030-01-31\n";
    static const int mm[] = {0, 10, 20, 30};
    static const double warm[] = {5, 5, 9.5, 9.5}; /* still 9.5 C when the logger was stopped */
    ctm_receive_options o = CTM_RECEIVE_OPTIONS_INIT;
    o.logger = logger("warm.csv", mm, warm, 4);
    tu_ok(ctm_receive(db, "OPEN-1", "SH7", m, sizeof m - 1, "FRIDGE2", &o));
    int64_t id = newest();
    assert_field(id, "ongoing", "0");
    assert_field(id, "minutes", "20"); /* 20 to 30, and the last reading's 10 minutes */
    tu_ok(ctm_excursion_decide(db, id, "reject", "SP-7", NULL, 0));
    tu_ok(ctm_receive_confirm(db, "SH7", 1));
    assert_status("K7", "pending_destruction");
    /* a fridge: the morning's file, then the afternoon's with the excursion */
    as("ted");
    static const int am[] = {0, 10, 20};
    static const double cool[] = {5, 5, 5};
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import_at("FRIDGE1", "morning.csv", am, cool, 3, &r));
    static const int pm[] = {30, 40, 50, 60, 70, 80};
    static const double t[] = {5, 9, 9, 9, 9, 5};
    tu_ok(import_at("FRIDGE1", "afternoon.csv", pm, t, 6, &r));
    id = newest();
    as("pia");
    const char *k1[] = {"K1"};
    tu_ok(ctm_excursion_decide(db, id, "reject", "SP-8", k1, 1));
    tu_ok(ctm_excursion_decide(db, id, "release", "SP-9", NULL, 0));
    assert_field(id, "status", "decided");
    assert_status("K1", "pending_destruction");
    assert_status("K2", "available");
    char *text = NULL;
    tu_ok(ctm_excursion_report(&text, db, id, "text"));
    ck_assert_ptr_nonnull(strstr(text, "afternoon.csv"));
    ck_assert_ptr_null(strstr(text, "morning.csv"));
    ck_assert_ptr_nonnull(strstr(text, "serial (none given)"));
    ctm_free(text);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

static Suite *excursion_suite(void)
{
    Suite *s = suite_create("excursion");
    TCase *tc = tu_tcase(s, "excursion", setup, teardown, 120);
    tcase_add_test(tc, a_run_out_of_range_quarantines_the_kits_in_the_fridge);
    tcase_add_test(tc, a_run_shorter_than_the_alarm_delay_is_not_one);
    tcase_add_test(tc, a_gap_longer_than_allowed_is_unknown_never_in_range);
    tcase_add_test(tc, an_ongoing_excursion_is_extended_by_the_next_file);
    tcase_add_test(tc, a_release_returns_the_kits_and_a_reject_sends_them_to_destruction);
    tcase_add_test(tc, decisions_kit_by_kit_and_a_kit_two_excursions_hold);
    tcase_add_test(tc, a_kit_released_stays_released_when_a_file_shows_the_excursion_again);
    tcase_add_test(tc, a_kit_moved_out_before_the_excursion_is_not_affected);
    tcase_add_test(tc, a_shipment_logger_quarantines_its_kits_on_confirmation);
    tcase_add_test(tc, the_report_for_the_sponsor);
    tcase_add_test(tc, a_partly_decided_excursion_found_worse_holds_the_released_kit_again);
    tcase_add_test(tc, a_kit_an_excursion_holds_is_not_released_by_hand);
    tcase_add_test(tc, an_expiry_extension_does_not_release_a_kit_an_excursion_holds);
    tcase_add_test(tc, counts_at_the_edges);
    tcase_add_test(tc, files_in_any_order_give_one_whole_excursion);
    tcase_add_test(tc, a_gap_between_every_reading_is_refused_whole);
    tcase_add_test(tc, blinded_users_learn_no_arm_through_excursions);
    tcase_add_test(tc, kits_moved_during_an_excursion_are_affected);
    tcase_add_test(tc, a_receipt_whose_logger_is_refused_leaves_nothing);
    tcase_add_test(tc, a_kit_moved_many_times_does_not_break_the_listing);
    tcase_add_test(tc, a_receipt_with_its_logger_is_voided);
    tcase_add_test(tc, a_receipt_voided_after_an_excursion_found_its_kits);
    tcase_add_test(tc, a_kit_number_of_two_trials_can_be_decided_kit_by_kit);
    tcase_add_test(tc, a_shipment_of_kits_sharing_no_range_refuses_one_logger);
    tcase_add_test(tc, a_release_keeps_a_kit_quarantined_by_hand_after_an_earlier_release);
    tcase_add_test(tc, a_shipment_logger_ending_warm_a_mixed_decision_and_the_reports_files);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(excursion_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
