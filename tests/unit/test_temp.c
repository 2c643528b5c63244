/* test_temp.c - storage temperatures: logger files imported for a location, as a pharmacy does
 * it, their readings and files listed, and the ledger that records them. */
#include <check.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctm.h"
#include "testutil.h"

#define PW "temperature-pw-1"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_temp: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* The site once: an admin, a pharmacist, a technician, an investigator; two fridges. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.db", template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    must(tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR, "open");
    must(ctm_init(h, "Temperature Test Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "add pharmacist");
    must(ctm_user_add(h, "ted", "technician", 0, "Ted Tech", PW), "add technician");
    must(ctm_user_add(h, "ivy", "investigator", 0, "Ivy Inv", PW), "add investigator");
    must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location 1");
    must(ctm_location_add(h, "FRIDGE2", "fridge", 2, 8), "location 2");
    /* an open trial whose kit type may spend an hour out of 2..8 C, up to 15 C; one without */
    must(ctm_trial_add(h, "OPEN-1", "An open trial", "Sponsor AB", 0, "ACTIVE:1"), "trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.excursion_budget_minutes = 60;
    ko.excursion_max_c = 15;
    must(ctm_kittype_add(h, "OPEN-1", "KT", "Drug X", 30, 2, 8, 0, &ko), "kit type");
    must(ctm_kittype_add(h, "OPEN-1", "NB", "Drug Y", 30, 2, 8, 0, NULL), "kit type NB");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, "t.db");
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "ted", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

/* A file in the test's directory with this text; its path (static buffer per name). */
static const char *write_file(const char *name, const char *text)
{
    static char path[4][4096];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return p;
}

static uint64_t audit_size(void)
{
    uint64_t n = 0;
    tu_ok(ctm_audit_size(db, &n));
    return n;
}

static int64_t count(const char *sql)
{
    return tu_sql_int(db_path, sql, NULL);
}

static int import(const char *location, const char *path, const char *tz,
                  ctm_temp_import_result *r)
{
    ctm_temp_import_options o = CTM_TEMP_IMPORT_OPTIONS_INIT;
    o.tz = tz;
    return ctm_temp_import(db, location, path, &o, r);
}

#define DAY1                                                                                   \
    "time,temperature\n"                                                                       \
    "2026-06-01T10:00:00Z,4.5\n"                                                               \
    "2026-06-01T10:10:00Z,4.6\n"                                                               \
    "2026-06-01T10:20:00Z,5.0\n"                                                               \
    "2026-06-01T10:30:00Z,8.7\n"                                                               \
    "2026-06-01T10:40:00Z,4.9\n"

START_TEST(imports_a_file_and_lists_its_readings)
{
    const char *path = write_file("fridge1-day1.csv", DAY1);
    uint64_t before = audit_size();
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", path, NULL, &r));
    ck_assert_int_eq(r.duplicate, 0);
    ck_assert_uint_eq(r.readings, 5);
    ck_assert_uint_eq(r.days, 0);
    ck_assert_uint_eq(r.added, 5);
    ck_assert_str_eq(r.format, "csv");
    ck_assert_str_eq(r.serial, "");
    ck_assert_int_eq(r.first_us, 1780308000000000LL); /* 2026-06-01T10:00:00Z */
    ck_assert_int_eq(r.last_us, 1780308000000000LL + 40 * 60 * 1000000LL);
    /* the digest is of the file's bytes */
    unsigned char sha[32];
    char hex[65];
    crypto_hash_sha256(sha, (const unsigned char *)DAY1, strlen(DAY1));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    ck_assert_str_eq(r.sha256, hex);
    /* one entry: the file's record and its readings */
    ck_assert_uint_eq(audit_size(), before + 1);
    ctm_query *q = tu_log_entry(db, before);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "action")), "temp.import");
    const char *params = ctm_query_text(q, ctm_query_column_index(q, "params"));
    ck_assert_msg(strstr(params, "fridge1-day1.csv") != NULL && strstr(params, hex) != NULL,
                  "%s", params);
    ctm_query_free(q);

    tu_ok(ctm_temp_list(&q, db, "FRIDGE1", NULL, NULL));
    static const char *const times[] = {"2026-06-01T10:00:00Z", "2026-06-01T10:10:00Z",
                                        "2026-06-01T10:20:00Z", "2026-06-01T10:30:00Z",
                                        "2026-06-01T10:40:00Z"};
    static const double temps[] = {4.5, 4.6, 5.0, 8.7, 4.9};
    int n = 0, rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        ck_assert_int_lt(n, 5);
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "time")), times[n]);
        ck_assert_double_eq_tol(ctm_query_double(q, ctm_query_column_index(q, "temp")), temps[n],
                                1e-9);
        ck_assert_int_eq(ctm_query_int64(q, ctm_query_column_index(q, "file")), r.file_id);
        n++;
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ck_assert_int_eq(n, 5);
    ctm_query_free(q);

    /* a window: both ends included, a date alone is its whole day */
    tu_ok(ctm_temp_list(&q, db, "FRIDGE1", "2026-06-01T10:10:00Z", "2026-06-01T10:30Z"));
    n = 0;
    while (ctm_query_next(q) == CTM_ROW)
        n++;
    ck_assert_int_eq(n, 3);
    ctm_query_free(q);
    tu_ok(ctm_temp_list(&q, db, "FRIDGE1", "2026-06-02", NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    ck_assert_int_eq(ctm_temp_list(&q, db, "FRIDGE1", "yesterday", NULL), CTM_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_temp_list(&q, db, "FREEZER9", NULL, NULL), CTM_ENOTFOUND);

    /* the file's record */
    tu_ok(ctm_temp_files(&q, db, "FRIDGE1"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "name")), "fridge1-day1.csv");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "sha256")), hex);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "format")), "csv");
    ck_assert_int_eq(ctm_query_int64(q, ctm_query_column_index(q, "readings")), 5);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "first")), times[0]);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "last")), times[4]);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "imported_by")), "ted");
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    tu_ok(ctm_temp_files(&q, db, "FRIDGE2"));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(the_same_file_again_changes_nothing)
{
    const char *path = write_file("day1.csv", DAY1);
    ctm_temp_import_result r1 = CTM_TEMP_IMPORT_RESULT_INIT, r2 = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", path, NULL, &r1));
    uint64_t before = audit_size();
    /* the same bytes under another name are the same file */
    const char *copy = write_file("day1-copy.csv", DAY1);
    tu_ok(import("FRIDGE1", copy, NULL, &r2));
    ck_assert_int_eq(r2.duplicate, 1);
    ck_assert_int_eq(r2.file_id, r1.file_id);
    ck_assert_uint_eq(r2.readings, 5);
    ck_assert_uint_eq(r2.added, 0);
    ck_assert_uint_eq(audit_size(), before);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 5);
    /* the same bytes read another way would give other readings: refused, not a duplicate */
    ck_assert_int_eq(import("FRIDGE1", copy, "+02:00", &r2), CTM_EEXISTS);
    ck_assert_msg(strstr(ctm_errmsg(), "with zone ''") != NULL &&
                      strstr(ctm_errmsg(), "'+02:00'") != NULL, "%s", ctm_errmsg());
    ctm_temp_import_options fo = CTM_TEMP_IMPORT_OPTIONS_INIT;
    fo.unit = "F";
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", copy, &fo, &r2), CTM_EEXISTS);
    ck_assert_uint_eq(audit_size(), before);
    /* for another location it is another import */
    tu_ok(import("FRIDGE2", path, NULL, &r2));
    ck_assert_int_eq(r2.duplicate, 0);
    ck_assert_uint_eq(r2.added, 5);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 10);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(overlapping_files_merge_without_duplicates)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", write_file("a.csv", DAY1), NULL, &r));
    /* three readings the location has already (the same values), two new ones */
    const char *b = write_file("b.csv", "time,temperature\n"
                                        "2026-06-01T10:20:00Z,5.0\n"
                                        "2026-06-01T10:30:00Z,8.7\n"
                                        "2026-06-01T10:35:00Z,6.0\n"
                                        "2026-06-01T10:40:00Z,4.9\n"
                                        "2026-06-01T10:50:00Z,4.4\n");
    tu_ok(import("FRIDGE1", b, NULL, &r));
    ck_assert_uint_eq(r.readings, 5);
    ck_assert_uint_eq(r.added, 2);
    ck_assert_int_eq(count("SELECT count(*) FROM readings WHERE location_id = 1"), 7);
    ck_assert_int_eq(count("SELECT count(*) FROM readings WHERE file_id = 2"), 2);
    ck_assert_int_eq(count("SELECT temp_mc FROM readings WHERE t_us = 1780308000000000 + 35 * 60"
                           " * 1000000"),
                     6000);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(a_contradicting_reading_refuses_the_file)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", write_file("a.csv", DAY1), NULL, &r));
    uint64_t before = audit_size();
    const char *c = write_file("c.csv", "time,temperature\n"
                                        "2026-06-01T10:45:00Z,5.5\n"
                                        "2026-06-01T10:50:00Z,5.0\n"
                                        "2026-06-01T09:00:00+00:00,3.0\n");
    ck_assert_int_eq(import("FRIDGE1", c, NULL, &r), CTM_EINVAL); /* time going backwards */
    ck_assert_msg(strstr(ctm_errmsg(), "line 4") != NULL, "%s", ctm_errmsg());
    c = write_file("d.csv", "time,temperature\n"
                            "2026-06-01T10:25:00Z,5.5\n"
                            "2026-06-01T12:30:00+02:00,8.8\n");
    ck_assert_int_eq(import("FRIDGE1", c, NULL, &r), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "line 3: 2026-06-01T10:30:00Z: 8.800 C, but location FRIDGE1"
                                   " has 8.700 C at that instant (from logger file 'a.csv')");
    /* nothing of either file was kept */
    ck_assert_uint_eq(audit_size(), before);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 5);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* The refusal names the earlier file, cut to 60 bytes at a character's boundary: the message
 * stays UTF-8. */
START_TEST(a_refusal_names_a_long_file_name_in_whole_characters)
{
    char name[80];
    memset(name, 'x', 59); /* then an e-acute, bytes 60 and 61 */
    snprintf(name + 59, sizeof name - 59, "\xc3\xa9.csv");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", write_file(name, "2026-06-01T10:00:00Z,4.5\n"), NULL, &r));
    ck_assert_int_eq(import("FRIDGE1", write_file("b.csv", "2026-06-01T10:00:00Z,4.6\n"), NULL,
                            &r),
                     CTM_ERULE);
    const char *msg = ctm_errmsg();
    ck_assert_msg(strstr(msg, "(from logger file 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                              "xxxxxxxxxxx')") != NULL,
                  "%s", msg);
}
END_TEST

START_TEST(bad_files_and_calls_are_refused_and_change_nothing)
{
    uint64_t before = audit_size();
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    const char *bad = write_file("bad.csv", "time,temperature\n"
                                            "2026-06-01T10:00:00Z,4.5\n"
                                            "2026-06-01T10:10:00Z,4.6\n"
                                            "2026-06-01T10:20:00Z,four\n");
    ck_assert_int_eq(import("FRIDGE1", bad, NULL, &r), CTM_EINVAL);
    ck_assert_msg(strncmp(ctm_errmsg(), "line 4: ", 8) == 0, "%s", ctm_errmsg());
    ck_assert_int_eq(import("FRIDGE1", write_file("empty.csv", ""), NULL, &r), CTM_EINVAL);
    /* local times without a zone */
    const char *local = write_file("local.csv", "2026-06-01 10:00,4.5\n");
    ck_assert_int_eq(import("FRIDGE1", local, NULL, &r), CTM_EINVAL);
    ck_assert_int_eq(import("FREEZER9", local, "UTC", &r), CTM_ENOTFOUND);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nothing-here.csv", dir);
    ck_assert_int_eq(import("FRIDGE1", missing, NULL, &r), CTM_EIO);
    ck_assert_msg(strstr(ctm_errmsg(), "nothing-here.csv") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(import("FRIDGE1", dir, NULL, &r), CTM_EIO); /* a directory */
    ctm_temp_import_options o = CTM_TEMP_IMPORT_OPTIONS_INIT;
    o.unit = "K";
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", local, &o, &r), CTM_EINVAL);
    o.unit = NULL;
    o.date_order = "DDMMYY";
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", local, &o, &r), CTM_EINVAL);
    o.date_order = NULL;
    o.format = "tinytag";
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", local, &o, &r), CTM_EINVAL);
    /* an import is its own transaction */
    tu_ok(ctm_batch_begin(db));
    ck_assert_int_eq(import("FRIDGE1", local, "UTC", &r), CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_rollback(db), CTM_OK);
    /* investigators do not import */
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    ck_assert_int_eq(import("FRIDGE1", local, "UTC", &r), CTM_EDENIED);
    ck_assert_uint_eq(audit_size(), before);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 0);
    /* but read them */
    ctm_query *q = NULL;
    tu_ok(ctm_temp_list(&q, db, "FRIDGE1", NULL, NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
}
END_TEST

START_TEST(local_times_take_the_named_zone)
{
    const char *local = write_file("local.csv", "time;temperature\n"
                                                "2026-06-01 10:00;4,5\n"
                                                "2026-06-01 10:10;4,7\n");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", local, "+02:00", &r));
    ck_assert_int_eq(r.first_us, 1780308000000000LL - 2 * 3600 * 1000000LL);
    ck_assert_int_eq(count("SELECT min(temp_mc) FROM readings"), 4500);
    char *zone = tu_sql_text(db_path, "SELECT zone FROM logger_files");
    ck_assert_str_eq(zone, "+02:00");
    free(zone);
}
END_TEST

/* A logger on Swedish wall-clock time across the autumn change: the repeated hour is taken in
 * order; in spring a time the clocks skip refuses the file. */
START_TEST(a_named_zone_takes_daylight_saving_time_into_account)
{
    setenv("TZDIR", tu_data_path("tz"), 1); /* the zone files the tests carry */
    const char *autumn = write_file("autumn.csv", "2024-10-27 01:50,4.1\n"
                                                  "2024-10-27 02:10,4.2\n"
                                                  "2024-10-27 02:50,4.3\n"
                                                  "2024-10-27 02:10,4.4\n"
                                                  "2024-10-27 02:50,4.5\n"
                                                  "2024-10-27 03:10,4.6\n");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", autumn, "Europe/Stockholm", &r));
    ck_assert_uint_eq(r.added, 6);
    ctm_query *q = NULL;
    tu_ok(ctm_temp_list(&q, db, "FRIDGE1", NULL, NULL));
    static const char *const utc[] = {"2024-10-26T23:50:00Z", "2024-10-27T00:10:00Z",
                                      "2024-10-27T00:50:00Z", "2024-10-27T01:10:00Z",
                                      "2024-10-27T01:50:00Z", "2024-10-27T02:10:00Z"};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
        ck_assert_str_eq(ctm_query_text(q, 0), utc[i]);
    }
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    uint64_t before = audit_size();
    const char *spring = write_file("spring.csv", "2024-03-31 01:50,4.1\n2024-03-31 02:30,4.2\n");
    ck_assert_int_eq(import("FRIDGE1", spring, "Europe/Stockholm", &r), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "line 2") != NULL && strstr(ctm_errmsg(), "02:30") != NULL,
                  "%s", ctm_errmsg());
    ck_assert_int_eq(import("FRIDGE1", spring, "Europe/Atlantis", &r), CTM_ENOTFOUND);
    ck_assert_uint_eq(audit_size(), before);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* Whole seconds after the shipment was registered (readings keep seconds), as
 * "YYYY-MM-DDThh:mm:ssZ", once that instant has passed: the kit's stay runs until now. */
static void at(int64_t registered_us, int seconds, char out[40])
{
    int64_t us = (registered_us / 1000000 + seconds) * 1000000;
    while (ctm_version_number() >= 0) { /* wait until that instant has passed */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 > us)
            break;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A kit's exposure: the readings of its location while it is there, against its kit type's range
 * and budget; a reading above the budget's temperature flags it. */
START_TEST(a_kits_exposure_follows_its_stays)
{
    ctm_logout(db);
    tu_login(db, "pia", PW);
    static const char manifest[] = "kit_number,kit_type,lot,expiry\n"
                                   "K1,KT,L1,2030-01-31\nK2,NB,L2,2030-01-31\n";
    tu_ok(ctm_receive(db, "OPEN-1", "SH1", manifest, sizeof manifest - 1, "FRIDGE2", NULL));
    tu_ok(ctm_receive_confirm(db, "SH1", 1));
    int64_t reg = count("SELECT registered_us FROM shipments");
    ctm_exposure_result e = CTM_EXPOSURE_RESULT_INIT;
    tu_ok(ctm_kit_exposure(db, "OPEN-1", "K1", &e));
    ck_assert_uint_eq(e.readings, 0); /* no logger file yet: nothing known */
    ck_assert(isnan(e.max_c) && isnan(e.mkt_c));
    ck_assert_int_eq(e.over_budget, 0);
    ck_assert_int_eq(e.has_budget, 1);
    ck_assert_int_eq(e.budget_minutes, 60);
    ck_assert_double_eq_tol(e.budget_max_c, 15.0, 1e-9);
    /* readings 1, 2 and 3 s after the receipt: 5.0, 9.0 (above 8 for a second), 5.0 */
    char t1[40], t2[40], t3[40], text[256];
    at(reg, 1, t1);
    at(reg, 2, t2);
    at(reg, 3, t3);
    snprintf(text, sizeof text, "%s,5.0\n%s,9.0\n%s,5.0\n", t1, t2, t3);
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    ctm_logout(db);
    tu_login(db, "ted", PW);
    tu_ok(import("FRIDGE2", write_file("f2.csv", text), NULL, &r));
    /* readings of the other fridge do not count */
    tu_ok(import("FRIDGE1", write_file("f1.csv", text), NULL, &r));
    tu_ok(ctm_kit_exposure(db, "OPEN-1", "K1", &e));
    ck_assert_uint_eq(e.readings, 3);
    ck_assert_int_eq(e.minutes_high, 1); /* a minute begun out of range counts */
    ck_assert_int_eq(e.minutes_low, 0);
    ck_assert_double_eq_tol(e.max_c, 9.0, 1e-9);
    ck_assert_double_eq_tol(e.min_c, 5.0, 1e-9);
    ck_assert_int_eq(e.over_budget, 0); /* 1 of 60 minutes, below 15 C */
    /* without a budget, any time out of range flags the kit */
    tu_ok(ctm_kit_exposure(db, NULL, "K2", &e));
    ck_assert_int_eq(e.has_budget, 0);
    ck_assert_int_eq(e.over_budget, 1);
    /* above the budget's highest temperature */
    char t4[40];
    at(reg, 4, t4);
    snprintf(text, sizeof text, "%s,16.0\n", t4);
    tu_ok(import("FRIDGE2", write_file("f3.csv", text), NULL, &r));
    tu_ok(ctm_kit_exposure(db, "OPEN-1", "K1", &e));
    ck_assert_int_eq(e.over_budget, 1);
    ck_assert_double_eq_tol(e.max_c, 16.0, 1e-9);
    /* once moved to the other fridge, its readings count from then on */
    ctm_logout(db);
    tu_login(db, "pia", PW);
    const char *kits[] = {"K1"};
    tu_ok(ctm_transfer(db, "OPEN-1", kits, 1, "FRIDGE1", NULL));
    tu_ok(ctm_kit_exposure(db, "OPEN-1", "K1", &e));
    ck_assert_uint_eq(e.readings, 4);
    ck_assert_int_eq(ctm_kit_exposure(db, "OPEN-1", "K9", &e), CTM_ENOTFOUND);
}
END_TEST

/* A header that names the fridge ("F1") does not say Fahrenheit: the readings stay Celsius.
 * "(F)" alone does. */
START_TEST(a_header_naming_a_fridge_f1_is_not_fahrenheit)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", write_file("f1.csv", "time,F1\n2026-06-01T10:00:00Z,4.5\n"), NULL,
                 &r));
    tu_ok(import("FRIDGE1",
                 write_file("f2.csv", "time,Fridge F2 temperature\n2026-06-01T10:10:00Z,4.6\n"),
                 NULL, &r));
    tu_ok(import("FRIDGE1", write_file("f.csv", "time,Temp (F)\n2026-06-01T10:20:00Z,40.1\n"),
                 NULL, &r));
    ck_assert_int_eq(count("SELECT temp_mc FROM readings WHERE t_us = 1780308000000000"), 4500);
    ck_assert_int_eq(count("SELECT temp_mc FROM readings WHERE t_us = 1780308600000000"), 4600);
    ck_assert_int_eq(count("SELECT temp_mc FROM readings WHERE t_us = 1780309200000000"), 4500);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files WHERE unit = 'C'"), 2);
}
END_TEST

typedef struct progress_seen {
    uint64_t calls, last, total;
    int backwards;
} progress_seen;

static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_seen *p = ctx;
    p->backwards |= done < p->last || total != (p->total ? p->total : total);
    p->calls++;
    p->last = done;
    p->total = total;
    return 0;
}

/* Stops the import once it is storing (past the first pass). */
static int stop_when_storing(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    return done * 2 > total;
}

/* A long file: the readings go into several entries, all committed together. */
START_TEST(a_long_file_spans_entries_of_one_transaction)
{
    size_t n = 20000, cap = n * 32 + 64, o = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < n; i++) /* a reading a minute from 2026-06-01 00:00 (13.9 days) */
        o += (size_t)snprintf(text + o, cap - o, "2026-06-%02zuT%02zu:%02zu:00Z,%d.%d\n",
                              1 + i / 1440, i / 60 % 24, i % 60, 3 + (int)(i % 5), (int)(i % 10));
    const char *path = write_file("long.csv", text);
    free(text);
    uint64_t before = audit_size();
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    ctm_temp_import_options opts = CTM_TEMP_IMPORT_OPTIONS_INIT;
    progress_seen p = {0, 0, 0, 0};
    opts.progress = on_progress;
    opts.progress_ctx = &p;
    tu_ok(ctm_temp_import(db, "FRIDGE1", path, &opts, &r));
    ck_assert_uint_eq(r.readings, n);
    ck_assert_uint_eq(r.added, n);
    /* 20,000 readings: the import's entry and two of readings (8,192 at most each) */
    ck_assert_uint_eq(audit_size(), before + 3);
    ctm_query *q = tu_log_entry(db, before + 2);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "action")), "temp.readings");
    ctm_query_free(q);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), (int64_t)n);
    /* progress: forward only, ending at the total (the file's size, read twice) */
    ck_assert_uint_gt(p.calls, 1);
    ck_assert_int_eq(p.backwards, 0);
    ck_assert_uint_eq(p.last, p.total);
    tu_assert_verifies_all(db, NULL);
    /* a caller that stops a long import midway changes nothing */
    uint64_t size = audit_size();
    opts.progress = stop_when_storing;
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE2", path, &opts, &r), CTM_ECANCELED);
    ck_assert_uint_eq(audit_size(), size);
    ck_assert_int_eq(count("SELECT count(*) FROM readings WHERE location_id = 2"), 0);
}
END_TEST

/* What the progress callback does to the file once the first pass has read it all. */
typedef struct between_passes {
    const char *path;
    int what; /* 0: a FIFO takes its name, 1: a new file takes its name, 2: cut to half */
    int done;
} between_passes;

static int change_between_passes(void *ctx, uint64_t done, uint64_t total)
{
    between_passes *b = ctx;
    if (b->done || done * 2 != total)
        return 0;
    b->done = 1;
    char moved[4200];
    snprintf(moved, sizeof moved, "%s.moved", b->path);
    if (b->what == 0) {
        ck_assert_int_eq(rename(b->path, moved), 0);
        ck_assert_int_eq(mkfifo(b->path, 0600), 0);
    } else if (b->what == 1) {
        ck_assert_int_eq(rename(b->path, moved), 0);
        write_file(strrchr(b->path, '/') + 1, "time,temperature\n2026-06-01T10:00:00Z,9.9\n");
    } else {
        ck_assert_int_eq(truncate(b->path, (off_t)(total / 4)), 0);
    }
    return 0;
}

/* The file is opened once: what the second pass stores is what the first checked, whatever
 * takes the file's name meanwhile (a FIFO no longer hangs the import); a file cut short
 * meanwhile is CTM_EIO, "changed while it was imported", and stores nothing. */
START_TEST(a_file_swapped_or_cut_between_the_passes)
{
    ctm_temp_import_options o = CTM_TEMP_IMPORT_OPTIONS_INIT;
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    between_passes b = {NULL, 0, 0};
    o.progress = change_between_passes;
    o.progress_ctx = &b;
    b.path = write_file("fifo.csv", DAY1);
    tu_ok(ctm_temp_import(db, "FRIDGE1", b.path, &o, &r));
    ck_assert_int_eq(b.done, 1);
    ck_assert_uint_eq(r.added, 5);
    b = (between_passes){write_file("swapped.csv", DAY1), 1, 0};
    tu_ok(ctm_temp_import(db, "FRIDGE2", b.path, &o, &r));
    ck_assert_int_eq(b.done, 1);
    ck_assert_uint_eq(r.added, 5);
    ck_assert_int_eq(count("SELECT count(*) FROM readings WHERE temp_mc = 9900"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 10);
    uint64_t before = audit_size();
    b = (between_passes){write_file("cut.csv", "time,temperature\n"
                                               "2026-06-02T10:00:00Z,4.5\n"
                                               "2026-06-02T10:10:00Z,4.6\n"),
                         2, 0};
    ck_assert_int_eq(ctm_temp_import(db, "FRIDGE1", b.path, &o, &r), CTM_EIO);
    ck_assert_msg(strstr(ctm_errmsg(), "changed while it was imported") != NULL, "%s",
                  ctm_errmsg());
    ck_assert_uint_eq(audit_size(), before);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_files"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 10);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A file with bytes that are not UTF-8 in its name and header is recorded all the same. */
START_TEST(text_from_the_file_is_recorded_as_valid_text)
{
    const char *path = write_file("caf\xe9-\x01.csv", "time,temperature \xb0" "C\n"
                                                      "2026-06-01T10:00:00Z,4.5\n");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", path, NULL, &r));
    char *name = tu_sql_text(db_path, "SELECT name FROM logger_files");
    ck_assert_str_eq(name, "caf?-?.csv");
    free(name);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* The Berlinger Q-tag sample: its readings in the device's zone, its serial, limits, the device's
 * MKT and its certificate and signature lines kept with the file. */
START_TEST(a_qtag_report_is_imported_with_its_evidence)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", tu_data_path("loggers/berlinger-qtag-RCPJ00010-run2.txt"), NULL, &r));
    ck_assert_str_eq(r.format, "berlinger");
    ck_assert_str_eq(r.serial, "RCPJ00010");
    ck_assert_uint_eq(r.readings, 124);
    ck_assert_uint_eq(r.added, 124);
    ck_assert_int_eq(count("SELECT temp_mc FROM readings ORDER BY t_us LIMIT 1"), 4400);
    ck_assert_int_eq(count("SELECT max(temp_mc) FROM readings"), 24300);
    ck_assert_int_eq(count("SELECT interval_s FROM logger_files"), 600);
    ck_assert_int_eq(count("SELECT device_mkt_mc FROM logger_files"), 10500);
    ck_assert_int_eq(count("SELECT device_energy_j FROM logger_files"), 83000);
    ck_assert_int_eq(count("SELECT high_mc FROM logger_files"), 8000);
    ck_assert_int_eq(count("SELECT low_mc FROM logger_files"), 2000);
    char *evidence = tu_sql_text(db_path, "SELECT evidence FROM logger_files");
    ck_assert_msg(strncmp(evidence, "Cert:", 5) == 0 && strstr(evidence, "Sig") != NULL, "%s",
                  evidence);
    free(evidence);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* The MKT of the Q-tag's readings at the device's activation energy is the device's figure once
 * truncated to 0.1 C, as the device does. */
START_TEST(the_mkt_of_a_qtag_report_matches_the_device)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", tu_data_path("loggers/berlinger-qtag-RCPJ00010-run2.txt"), NULL, &r));
    ctm_mkt_options o = CTM_MKT_OPTIONS_INIT;
    o.energy_kj = 83.0;
    ctm_mkt_result m = CTM_MKT_RESULT_INIT;
    tu_ok(ctm_temp_mkt(db, "FRIDGE1", NULL, NULL, &o, &m));
    ck_assert_uint_eq(m.readings, 124);
    ck_assert_uint_eq(m.gaps, 0);
    ck_assert_msg(fabs(m.mkt_c - 10.5841) < 0.0005, "MKT %.4f", m.mkt_c);
    ck_assert_double_eq_tol(floor(m.mkt_c * 10) / 10, 10.5, 1e-9);
    ck_assert_double_eq_tol(m.energy_kj, 83.0, 1e-9);
    ck_assert_double_eq_tol(m.min_c, 0.9, 1e-9);
    ck_assert_double_eq_tol(m.max_c, 24.3, 1e-9);
    ck_assert_int_eq(m.first_us, r.first_us);
    ck_assert_int_eq(m.last_us, r.last_us);
    /* the default: dH/R = 10,000 K */
    tu_ok(ctm_temp_mkt(db, "FRIDGE1", NULL, NULL, NULL, &m));
    ck_assert_double_eq_tol(m.energy_kj, 83.144626, 1e-5);
    ck_assert_msg(m.mkt_c > 10.5 && m.mkt_c < 10.7, "MKT %.4f", m.mkt_c);
    /* a period without readings */
    tu_ok(ctm_temp_mkt(db, "FRIDGE1", "2030-01-01", NULL, &o, &m));
    ck_assert_uint_eq(m.readings, 0);
    ck_assert(isnan(m.mkt_c));
    o.energy_kj = 5000;
    ck_assert_int_eq(ctm_temp_mkt(db, "FRIDGE1", NULL, NULL, &o, &m), CTM_EINVAL);
    ck_assert_int_eq(ctm_temp_mkt(db, "FREEZER9", NULL, NULL, NULL, &m), CTM_ENOTFOUND);
}
END_TEST

/* A reading holds until the next one, at most the longest hold: a gap beyond it is reported and
 * not taken as the temperature before it. */
START_TEST(the_mkt_does_not_count_a_gap_as_the_reading_before_it)
{
    const char *f = write_file("gap.csv", "2026-06-01T10:00:00Z,5.0\n"
                                          "2026-06-01T10:10:00Z,5.0\n"
                                          "2026-06-01T10:20:00Z,25.0\n"
                                          "2026-06-01T13:20:00Z,5.0\n"
                                          "2026-06-01T13:30:00Z,5.0\n");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(import("FRIDGE1", f, NULL, &r));
    ctm_mkt_result m = CTM_MKT_RESULT_INIT;
    ctm_mkt_options o = CTM_MKT_OPTIONS_INIT;
    o.max_gap_minutes = 10;
    tu_ok(ctm_temp_mkt(db, "FRIDGE1", NULL, NULL, &o, &m));
    ck_assert_uint_eq(m.gaps, 1);
    ck_assert_int_eq(m.gap_us, 170LL * 60 * 1000000);
    /* five readings of ten minutes each, one at 25 C */
    double k = 10000.0, e5 = exp(-k / 278.15), e25 = exp(-k / 298.15);
    double expect = k / -log((4 * e5 + e25) / 5) - 273.15;
    ck_assert_double_eq_tol(m.mkt_c, expect, 1e-9);
    /* with the default longest hold (60 minutes) the 25 C reading weighs an hour */
    tu_ok(ctm_temp_mkt(db, "FRIDGE1", NULL, NULL, NULL, &m));
    expect = k / -log((40 * e5 + 60 * e25) / 100) - 273.15;
    ck_assert_double_eq_tol(m.mkt_c, expect, 1e-9);
    ck_assert_uint_eq(m.gaps, 1);
}
END_TEST

/* A Fridge-tag keeps days, not readings: each day's summary is stored, once. */
START_TEST(a_fridgetag_report_is_imported_as_days)
{
    const char *path = tu_data_path("loggers/berlinger-fridgetag2-130400191544.txt");
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    uint64_t before = audit_size();
    tu_ok(import("FRIDGE2", path, NULL, &r));
    ck_assert_uint_eq(r.readings, 0);
    ck_assert_uint_eq(r.days, 4);
    ck_assert_uint_eq(r.added, 4);
    /* the entry says what it stored: the four days; the next records the two days with
     * minutes beyond the alarm limits as excursions */
    ck_assert_uint_eq(r.excursions, 2);
    ck_assert_uint_eq(audit_size(), before + 2);
    ctm_query *q = tu_log_entry(db, before);
    const char *params = ctm_query_text(q, ctm_query_column_index(q, "params"));
    ck_assert_msg(strstr(params, "\"days\":\"4\"") != NULL &&
                      strstr(params, "\"stored\":\"4\"") != NULL,
                  "%s", params);
    ctm_query_free(q);
    ck_assert_int_eq(count("SELECT count(*) FROM logger_days WHERE location_id = 2"), 4);
    ck_assert_int_eq(count("SELECT minutes_high FROM logger_days WHERE day = '2023-04-17'"), 8);
    ck_assert_int_eq(count("SELECT minutes_high FROM logger_days WHERE day = '2023-04-18'"), 2);
    ck_assert_int_eq(count("SELECT sum(minutes_high + minutes_low) FROM logger_days"), 10);
    ck_assert_int_eq(count("SELECT count(*) FROM readings"), 0);
    ck_assert_int_eq(count("SELECT days FROM logger_files"), 4);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

static Suite *temp_suite(void)
{
    Suite *s = suite_create("temp");
    TCase *tc = tu_tcase(s, "import", setup, teardown, 120);
    tcase_add_test(tc, imports_a_file_and_lists_its_readings);
    tcase_add_test(tc, the_same_file_again_changes_nothing);
    tcase_add_test(tc, overlapping_files_merge_without_duplicates);
    tcase_add_test(tc, a_contradicting_reading_refuses_the_file);
    tcase_add_test(tc, a_refusal_names_a_long_file_name_in_whole_characters);
    tcase_add_test(tc, bad_files_and_calls_are_refused_and_change_nothing);
    tcase_add_test(tc, local_times_take_the_named_zone);
    tcase_add_test(tc, a_named_zone_takes_daylight_saving_time_into_account);
    tcase_add_test(tc, a_header_naming_a_fridge_f1_is_not_fahrenheit);
    tcase_add_test(tc, a_long_file_spans_entries_of_one_transaction);
    tcase_add_test(tc, a_file_swapped_or_cut_between_the_passes);
    tcase_add_test(tc, text_from_the_file_is_recorded_as_valid_text);
    tcase_add_test(tc, a_qtag_report_is_imported_with_its_evidence);
    tcase_add_test(tc, a_fridgetag_report_is_imported_as_days);
    tcase_add_test(tc, the_mkt_of_a_qtag_report_matches_the_device);
    tcase_add_test(tc, the_mkt_does_not_count_a_gap_as_the_reading_before_it);
    tcase_add_test(tc, a_kits_exposure_follows_its_stays);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(temp_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
