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
    tcase_add_test(tc, a_kit_moved_out_before_the_excursion_is_not_affected);
    tcase_add_test(tc, a_shipment_logger_quarantines_its_kits_on_confirmation);
    tcase_add_test(tc, the_report_for_the_sponsor);
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
