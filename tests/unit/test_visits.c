/* test_visits.c - the visit schedule, dose levels, dose holds and a subject's visit dates:
 * what is accepted is listed as given, every refusal names its field and changes nothing, holds
 * follow the subject's state, dates count from the randomization or from the previous visit's
 * dispensing; and the helpers the dispensing code calls (visits.h): a visit's window, the
 * titration rules and a visit's kits.  Dispensations do not exist in the API yet, so the helper
 * tests (TCase "helpers") write them, and the subject's titration columns, as an intruder would
 * (tu_sql_exec) and do not verify the ledger.  Runs on both back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "core.h"
#include "testutil.h"
#include "visits.h"

#define PW "visits-pw-1234"
#define TRIAL "EU-CT-2026-900001"
#define OTHER "EU-CT-2026-900002"
#define SEED "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"ivy", "investigator", 0, "Ivy Invest", PW},
        {"tom", "technician", 0, "Tom Tech", PW},
    };
    template_dir = tu_build_template("admin", "Ada Admin", PW, users, 3);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, NULL), "open");
    tu_must(ctm_login(h, "pia", PW), "login");
    tu_must(ctm_trial_add(h, TRIAL, "Titrated", "Sponsor", 0, "A:1,B:1"), "trial");
    tu_must(ctm_trial_add(h, OTHER, "Fixed dose", "Sponsor", 0, "A:1,B:1"), "other trial");
    tu_must(ctm_kittype_add(h, TRIAL, "KT5", "Drug X 5 mg", 30, 2, 8, 0, NULL), "KT5");
    tu_must(ctm_kittype_add(h, TRIAL, "KT10", "Drug X 10 mg", 30, 2, 8, 0, NULL), "KT10");
    tu_must(ctm_kittype_add(h, TRIAL, "KT20", "Drug X 20 mg", 30, 2, 8, 0, NULL), "KT20");
    tu_must(ctm_kittype_add(h, OTHER, "KTO", "Drug Y", 30, 2, 8, 0, NULL), "KTO");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    ctm_random_options o = CTM_RANDOM_OPTIONS_INIT;
    o.seed = SEED;
    tu_must(ctm_random_generate(h, TRIAL, 20, "2,4", &o), "list");
    tu_must(ctm_random_generate(h, OTHER, 20, "2,4", &o), "other list");
    /* kits for the dispensations the helper tests write */
    static const char m[] = "kit_number,kit_type,lot,expiry,arm\n1001,KT10,L1,2030-12-31,A\n"
                            "1002,KT20,L2,2030-12-31,A\n1003,KT10,L1,2030-12-31,B\n"
                            "1004,KT20,L2,2030-12-31,B\n";
    tu_must(ctm_receive(h, TRIAL, "SH1", m, sizeof m - 1, "FRIDGE1", NULL), "receive");
    tu_must(ctm_receive_confirm(h, "SH1", 1), "confirm");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/" TU_SITE_DB, dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

static void as(const char *user)
{
    ctm_logout(db);
    tu_login(db, user, PW);
}

static int col(ctm_query *q, const char *name)
{
    int c = ctm_query_column_index(q, name);
    ck_assert_msg(c >= 0, "no column %s", name);
    return c;
}

static const char *text_or_dash(ctm_query *q, const char *name)
{
    const char *t = ctm_query_text(q, col(q, name));
    return t != NULL ? t : "-";
}

/* The trial's schedule as "position|code|day|anchor|before|after|kits" lines (malloc'd). */
static char *schedule_text(const char *trial)
{
    ctm_query *q = NULL;
    tu_ok(ctm_visit_list(&q, db, trial));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        ck_assert_int_eq(ctm_query_column_type(q, col(q, "position")), CTM_INTEGER);
        n += (size_t)snprintf(out + n, cap - n, "%s|%s|%s|%s|%s|%s|%s\n",
                              text_or_dash(q, "position"), text_or_dash(q, "code"),
                              text_or_dash(q, "day"), text_or_dash(q, "anchor"),
                              text_or_dash(q, "window_before"), text_or_dash(q, "window_after"),
                              text_or_dash(q, "kits"));
        ck_assert_uint_lt(n, cap);
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

/* A subject's visits as "visit|due|from|to|dispensed|on_hold|dose_level" lines (malloc'd). */
static char *visits_text(const char *trial, const char *screening)
{
    ctm_query *q = NULL;
    tu_ok(ctm_subject_visits(&q, db, trial, screening));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW)
        n += (size_t)snprintf(out + n, cap - n, "%s|%s|%s|%s|%s|%s|%s\n",
                              text_or_dash(q, "visit"), text_or_dash(q, "due"),
                              text_or_dash(q, "window_from"), text_or_dash(q, "window_to"),
                              text_or_dash(q, "dispensed"), text_or_dash(q, "on_hold"),
                              text_or_dash(q, "dose_level"));
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

/* The dose levels and a schedule with a visit of each kind. */
static void titrated_schedule(void)
{
    tu_ok(ctm_dose_levels(db, TRIAL, "KT5,KT10,KT20", 2, 14, 2));
    tu_ok(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "KT10:1"));
    tu_ok(ctm_visit_add(db, TRIAL, "V2", 14, "randomization", "-3..+3", "KT10:2,KT20:1"));
    tu_ok(ctm_visit_add(db, TRIAL, "V3", 28, "previous", "0..+7", "DOSE:1,KT20:1"));
}

/* Randomize a subject, enrolled first unless it is; the UTC day of its randomization. */
static int64_t randomized(const char *trial, const char *screening)
{
    int rc = ctm_subject_add(db, trial, screening, NULL);
    ck_assert_msg(rc == CTM_OK || rc == CTM_EEXISTS, "%s", ctm_errmsg());
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, trial, screening, &r));
    ctm_query *q = NULL;
    tu_ok(ctm_subject_show(&q, db, trial, screening));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char date[11];
    snprintf(date, sizeof date, "%s", ctm_query_text(q, col(q, "randomized")));
    ctm_query_free(q);
    int64_t day = 0;
    tu_ok(ctm__parse_date("randomized", date, &day));
    return day;
}

static const char *day_text(int64_t day)
{
    static char buf[16][11];
    static int next;
    char *out = buf[next++ % 16];
    ctm__format_date(day, out);
    return out;
}

static int64_t subject_id(const char *trial, const char *screening)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT s.id FROM subjects s JOIN trials t ON t.id = s.trial_id"
             " WHERE t.code = '%s' AND s.screening = ?1", trial);
    return tu_sql_int(db_path, sql, screening);
}

/* The last entry's action and params (JSON) into the buffers. */
static void last_entry(char *action, size_t an, char *params, size_t pn)
{
    ctm_query *q = tu_log_entry(db, tu_audit_size(db) - 1);
    snprintf(action, an, "%s", ctm_query_text(q, col(q, "action")));
    snprintf(params, pn, "%s", ctm_query_text(q, col(q, "params")));
    ctm_query_free(q);
}

/* ---- the schedule ---------------------------------------------------------------------- */

START_TEST(test_visit_add_and_list)
{
    titrated_schedule();
    char *s = schedule_text(TRIAL);
    ck_assert_str_eq(s, "1|V1|0|randomization|0|0|KT10:1\n"
                        "2|V2|14|randomization|3|3|KT10:2,KT20:1\n"
                        "3|V3|28|previous|0|7|DOSE:1,KT20:1\n");
    free(s);
    /* another trial's schedule is its own, positions from 1 */
    tu_ok(ctm_visit_add(db, OTHER, "V1", 7, NULL, "-2..2", "KTO:3"));
    s = schedule_text(OTHER);
    ck_assert_str_eq(s, "1|V1|7|randomization|2|2|KTO:3\n");
    free(s);
    char action[64], params[512];
    last_entry(action, sizeof action, params, sizeof params);
    ck_assert_str_eq(action, "visit.add");
    ck_assert_msg(strstr(params, "\"visit\"") && strstr(params, "\"-2..+2\"") &&
                      strstr(params, "\"KTO:3\"") && strstr(params, OTHER),
                  "params: %s", params);
    /* any logged-in user reads it */
    as("tom");
    s = schedule_text(TRIAL);
    ck_assert_ptr_nonnull(strstr(s, "3|V3|28|previous|0|7|DOSE:1,KT20:1\n"));
    free(s);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(test_visit_add_refusals)
{
    uint64_t size = tu_audit_size(db);
    /* DOSE before the trial has dose levels */
    ck_assert_int_eq(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "DOSE:1"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "kits: item 1: DOSE needs the dose levels of trial " TRIAL
                                   " (set them first)");
    /* the first visit has no previous one */
    ck_assert_int_eq(ctm_visit_add(db, TRIAL, "V1", 0, "previous", "0..0", "KT10:1"), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "anchor: the first visit of a schedule has no previous visit; "
                                   "anchor it on randomization");
    ck_assert_uint_eq(tu_audit_size(db), size);
    tu_ok(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "KT10:1"));
    size = tu_audit_size(db);
    static const struct {
        const char *code;
        int day;
        const char *anchor, *window, *kits;
        int rc;
        const char *message;
    } bad[] = {
        {"V1", 1, NULL, "0..0", "KT10:1", CTM_EEXISTS,
         "visit code: 'V1' is already a visit of trial " TRIAL},
        {"", 1, NULL, "0..0", "KT10:1", CTM_EINVAL, "visit code: must be 1 to 32 characters"},
        {"V 2", 1, NULL, "0..0", "KT10:1", CTM_EINVAL,
         "visit code: 'V 2' has a character not allowed (letters, digits and . _ -)"},
        {"V@2", 1, NULL, "0..0", "KT10:1", CTM_EINVAL,
         "visit code: 'V@2' has a character not allowed (letters, digits and . _ -)"},
        {"V2", -1, NULL, "0..0", "KT10:1", CTM_EINVAL,
         "day: -1; give 0 to 3650 days after the anchor"},
        {"V2", 3651, NULL, "0..0", "KT10:1", CTM_EINVAL,
         "day: 3651; give 0 to 3650 days after the anchor"},
        {"V2", 1, "screening", "0..0", "KT10:1", CTM_EINVAL,
         "anchor: 'screening'; give randomization or previous"},
        {"V2", 1, NULL, "3..5", "KT10:1", CTM_EINVAL,
         "window: position 1: the days before must be 0 or negative ('-3')"},
        {"V2", 1, NULL, NULL, "KT10:1", CTM_EINVAL,
         "window: missing (give it as -3..+3: days before and after the target day)"},
        {"V2", 1, NULL, "0..0", "KT10:1,KTO:1", CTM_EINVAL,
         "kits: item 2: 'KTO' is not a kit type of trial " TRIAL},
        {"V2", 1, NULL, "0..0", "KT10:1,KT10:2", CTM_EINVAL,
         "kits: item 2 at position 8: 'KT10' given twice"},
        {"V2", 1, NULL, "0..0", NULL, CTM_EINVAL,
         "kits: missing (give them as KITTYPE:N,... or DOSE:N)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ctm_visit_add(db, TRIAL, bad[i].code, bad[i].day, bad[i].anchor, bad[i].window,
                               bad[i].kits);
        ck_assert_msg(rc == bad[i].rc, "case %zu: %d %s", i, rc, ctm_errmsg());
        ck_assert_str_eq(ctm_errmsg(), bad[i].message);
    }
    ck_assert_int_eq(ctm_visit_add(db, "NO-SUCH", "V2", 1, NULL, "0..0", "KT10:1"),
                     CTM_ENOTFOUND);
    /* set-up belongs to pharmacists and administrators */
    as("ivy");
    ck_assert_int_eq(ctm_visit_add(db, TRIAL, "V2", 1, NULL, "0..0", "KT10:1"), CTM_EDENIED);
    as("tom");
    ck_assert_int_eq(ctm_visit_add(db, TRIAL, "V2", 1, NULL, "0..0", "KT10:1"), CTM_EDENIED);
    as("admin");
    tu_ok(ctm_visit_add(db, TRIAL, "V2", 1, NULL, "0..0", "KT10:1"));
    ck_assert_uint_eq(tu_audit_size(db), size + 1);
    char *s = schedule_text(TRIAL);
    ck_assert_str_eq(s, "1|V1|0|randomization|0|0|KT10:1\n2|V2|1|randomization|0|0|KT10:1\n");
    free(s);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_visit_list(&q, db, NULL), CTM_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_visit_list(&q, db, "NO-SUCH"), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
}
END_TEST

START_TEST(test_dose_levels_set_and_replaced)
{
    uint64_t size = tu_audit_size(db);
    static const struct {
        const char *levels;
        int start, interval, max, rc;
        const char *message;
    } bad[] = {
        {"KT5,KTO", 1, 14, 2, CTM_EINVAL, "dose levels: level 2: 'KTO' is not a kit type of trial "
                                          TRIAL},
        {"KT5,KT5", 1, 14, 2, CTM_EINVAL, "dose levels: level 2 at position 5: 'KT5' is level 1 "
                                          "already"},
        {"KT5,KT10", 0, 14, 2, CTM_EINVAL, "start level: 0; give 1 to 2 (the levels given)"},
        {"KT5,KT10", 3, 14, 2, CTM_EINVAL, "start level: 3; give 1 to 2 (the levels given)"},
        {"KT5,KT10", 1, -1, 2, CTM_EINVAL, "minimum interval: -1 days; give 0 to 3650"},
        {"KT5,KT10", 1, 14, 101, CTM_EINVAL, "maximum titrations: 101; give 0 to 100"},
        {NULL, 1, 14, 2, CTM_EINVAL, "dose levels: missing (give the kit types, lowest dose "
                                     "first, as KT5,KT10,KT20)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ctm_dose_levels(db, TRIAL, bad[i].levels, bad[i].start, bad[i].interval,
                                 bad[i].max);
        ck_assert_msg(rc == bad[i].rc, "case %zu: %d %s", i, rc, ctm_errmsg());
        ck_assert_str_eq(ctm_errmsg(), bad[i].message);
    }
    as("ivy");
    ck_assert_int_eq(ctm_dose_levels(db, TRIAL, "KT5,KT10", 1, 14, 2), CTM_EDENIED);
    ck_assert_uint_eq(tu_audit_size(db), size);
    as("pia");
    tu_ok(ctm_dose_levels(db, TRIAL, "KT20,KT10", 1, 7, 1));
    /* before any dispensation a second call replaces the first */
    tu_ok(ctm_dose_levels(db, TRIAL, "KT5,KT10,KT20", 2, 14, 2));
    char action[64], params[512];
    last_entry(action, sizeof action, params, sizeof params);
    ck_assert_str_eq(action, "dose.levels");
    ck_assert_msg(strstr(params, "\"KT5,KT10,KT20\"") != NULL, "params: %s", params);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM dose_levels", NULL), 3);
    ck_assert_int_eq(tu_sql_int(db_path,
                                "SELECT l.level FROM dose_levels l JOIN kit_types k"
                                " ON k.id = l.kit_type_id WHERE k.code = ?1", "KT20"), 3);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT start_level * 10000 + min_interval_days * 100"
                                         " + max_titrations FROM titration_rules", NULL),
                     21402);
    /* DOSE may now be used */
    tu_ok(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "DOSE:2"));
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- holds ----------------------------------------------------------------------------- */

START_TEST(test_hold_and_resume)
{
    tu_ok(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "KT10:1"));
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", NULL));
    uint64_t size = tu_audit_size(db);
    ck_assert_int_eq(ctm_subject_hold(db, TRIAL, "S-1", "rash"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "subject S-1 is enrolled: only a randomized subject's "
                                   "dispensing is held or resumed");
    randomized(TRIAL, "S-1");
    size = tu_audit_size(db);
    as("ivy");
    ck_assert_int_eq(ctm_subject_hold(db, TRIAL, "S-1", NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_subject_hold(db, TRIAL, "S-1", ""), CTM_EINVAL);
    ck_assert_int_eq(ctm_subject_resume(db, TRIAL, "S-1", "fine"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "subject S-1 is not on hold");
    ck_assert_int_eq(ctm_subject_hold(db, TRIAL, "S-9", "rash"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_subject_hold(db, OTHER, "S-1", "rash"), CTM_ENOTFOUND);
    ck_assert_uint_eq(tu_audit_size(db), size);
    tu_ok(ctm_subject_hold(db, TRIAL, "S-1", "grade 3 rash"));
    char action[64], params[512];
    last_entry(action, sizeof action, params, sizeof params);
    ck_assert_str_eq(action, "subject.hold");
    ck_assert_msg(strstr(params, "\"S-1\"") != NULL, "params: %s", params);
    ctm_query *q = tu_log_entry(db, tu_audit_size(db) - 1);
    ck_assert_str_eq(ctm_query_text(q, col(q, "reason")), "grade 3 rash");
    ctm_query_free(q);
    ck_assert_int_eq(ctm_subject_hold(db, TRIAL, "S-1", "again"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "subject S-1 is on hold already");
    char *v = visits_text(TRIAL, "S-1");
    ck_assert_ptr_nonnull(strstr(v, "|-|1|-\n"));
    free(v);
    /* technicians and monitors neither hold nor resume */
    as("tom");
    ck_assert_int_eq(ctm_subject_resume(db, TRIAL, "S-1", "resolved"), CTM_EDENIED);
    as("pia");
    tu_ok(ctm_subject_resume(db, TRIAL, "S-1", "rash resolved"));
    last_entry(action, sizeof action, params, sizeof params);
    ck_assert_str_eq(action, "subject.resume");
    v = visits_text(TRIAL, "S-1");
    ck_assert_ptr_nonnull(strstr(v, "|-|0|-\n"));
    free(v);
    /* a withdrawn subject is neither */
    tu_ok(ctm_subject_hold(db, TRIAL, "S-1", "rash again"));
    tu_ok(ctm_subject_withdraw(db, TRIAL, "S-1", "consent withdrawn"));
    ck_assert_int_eq(ctm_subject_resume(db, TRIAL, "S-1", "x"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "subject S-1 is withdrawn: only a randomized subject's "
                                   "dispensing is held or resumed");
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- a subject's dates ------------------------------------------------------------------ */

START_TEST(test_subject_visit_dates)
{
    titrated_schedule();
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", NULL));
    /* not randomized yet: the visits without dates, at the start level */
    char *v = visits_text(TRIAL, "S-1");
    ck_assert_str_eq(v, "V1|-|-|-|-|0|2\nV2|-|-|-|-|0|2\nV3|-|-|-|-|0|2\n");
    free(v);
    int64_t r = randomized(TRIAL, "S-1");
    char want[512];
    snprintf(want, sizeof want,
             "V1|%s|%s|%s|-|0|2\nV2|%s|%s|%s|-|0|2\nV3|%s|%s|%s|-|0|2\n", day_text(r),
             day_text(r), day_text(r), day_text(r + 14), day_text(r + 11), day_text(r + 17),
             day_text(r + 42), day_text(r + 42), day_text(r + 49));
    as("tom");
    v = visits_text(TRIAL, "S-1");
    ck_assert_str_eq(v, want);
    free(v);
    /* a trial without dose levels has none */
    as("pia");
    tu_ok(ctm_visit_add(db, OTHER, "W1", 3, NULL, "-1..+1", "KTO:1"));
    int64_t o = randomized(OTHER, "S-1");
    v = visits_text(OTHER, "S-1");
    snprintf(want, sizeof want, "W1|%s|%s|%s|-|0|-\n", day_text(o + 3), day_text(o + 2),
             day_text(o + 4));
    ck_assert_str_eq(v, want);
    free(v);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_subject_visits(&q, db, TRIAL, "S-404"), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_subject_visits(&q, db, NULL, "S-1"), CTM_EINVAL);
    ck_assert_int_eq(ctm_subject_visits(NULL, db, TRIAL, "S-1"), CTM_EINVAL);
}
END_TEST

/* With the dispensing calls: a dose hold stops an assignment, and the visit dispensed shows its
 * date, from which the next visit anchored on it counts. */
START_TEST(test_hold_stops_dispensing_and_dates_follow_it)
{
    tu_ok(ctm_visit_add(db, TRIAL, "V1", 0, NULL, "0..0", "KT10:1"));
    tu_ok(ctm_visit_add(db, TRIAL, "V2", 10, "previous", "-2..+2", "KT20:1"));
    int64_t r = randomized(TRIAL, "S-1");
    tu_ok(ctm_subject_hold(db, TRIAL, "S-1", "liver enzymes up"));
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S-1", "V1", NULL), CTM_ERULE);
    ck_assert_ptr_null(q);
    tu_ok(ctm_subject_resume(db, TRIAL, "S-1", "enzymes normal"));
    tu_ok(ctm_dispense_assign(&q, db, TRIAL, "S-1", "V1", NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char kit[48];
    snprintf(kit, sizeof kit, "%s", ctm_query_text(q, col(q, "kit_number")));
    ctm_query_free(q);
    const char *scans[] = {kit};
    tu_ok(ctm_dispense_confirm(db, TRIAL, "S-1", scans, 1));
    int64_t today = ctm__utc_day(ctm__now_us());
    char *v = visits_text(TRIAL, "S-1");
    char want[512];
    snprintf(want, sizeof want, "V1|%s|%s|%s|%s|0|-\nV2|%s|%s|%s|-|0|-\n", day_text(r),
             day_text(r), day_text(r), day_text(today), day_text(today + 10),
             day_text(today + 8), day_text(today + 12));
    ck_assert_str_eq(v, want);
    free(v);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- the helpers of dispensing (white box; dispensations written as an intruder) --------- */

#define TEN_AM INT64_C(36000000000)

static void dispensation(const char *screening, const char *visit, const char *kit,
                         const char *status, int64_t day)
{
    char sql[1024];
    int64_t us = day * CTM__DAY_US + TEN_AM;
    snprintf(sql, sizeof sql,
             "INSERT INTO dispensations(subject_id, visit_id, kit_id, status, assigned_us,"
             " dispensed_us, recorded_us) VALUES ((SELECT s.id FROM subjects s JOIN trials t"
             " ON t.id = s.trial_id WHERE t.code = '%s' AND s.screening = '%s'),"
             " (SELECT v.id FROM visits v JOIN trials t ON t.id = v.trial_id"
             " WHERE t.code = '%s' AND v.code = '%s'), (SELECT id FROM kits WHERE kit_number = '%s'),"
             " '%s', %lld, %lld, %lld)",
             TRIAL, screening, TRIAL, visit, kit, status, (long long)us, (long long)us,
             (long long)us);
    tu_sql_exec(db_path, sql);
}

/* What the dispensing code records at a change of level. */
static void titrated(const char *screening, int level, int titrations, int64_t day)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE subjects SET dose_level = %d, titrations = %d, titrated_us = %lld"
             " WHERE screening = '%s' AND trial_id = (SELECT id FROM trials WHERE code = '%s')",
             level, titrations, (long long)(day * CTM__DAY_US + TEN_AM), screening, TRIAL);
    tu_sql_exec(db_path, sql);
}

/* The subject as the dispensing code reads it, at this moment. */
static ctm__subject subject_now(int64_t id)
{
    ctm__subject s;
    tu_ok(ctm__subject_by_id(db, id, &s));
    return s;
}

/* ctm__visit_window for subject id, read afresh. */
static int window(int64_t id, const char *code, int64_t *visit, int64_t *from, int64_t *to)
{
    ctm__subject s = subject_now(id);
    ctm__visit_when w;
    int rc = ctm__visit_window(db, &s, code, &w);
    *visit = w.visit_id;
    *from = w.from_day;
    *to = w.to_day;
    return rc;
}

START_TEST(test_visit_window_and_previous_anchor)
{
    titrated_schedule();
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", NULL));
    int64_t id = subject_id(TRIAL, "S-1"), visit = 0, from = 0, to = 0;
    ck_assert_int_eq(window(id, "V2", &visit, &from, &to), CTM_ERULE);
    int64_t r = randomized(TRIAL, "S-1");
    tu_ok(window(id, "V2", &visit, &from, &to));
    ck_assert_int_eq(visit, tu_sql_int(db_path, "SELECT id FROM visits WHERE code = ?1", "V2"));
    ck_assert_int_eq(from, r + 11);
    ck_assert_int_eq(to, r + 17);
    /* V3 counts from V2's due day while V2 is not dispensed ... */
    tu_ok(window(id, "V3", &visit, &from, &to));
    ck_assert_int_eq(from, r + 42);
    ck_assert_int_eq(to, r + 49);
    /* ... a kit dispensed in error and reversed does not count ... */
    dispensation("S-1", "V2", "1001", "reversed", r + 16);
    tu_ok(window(id, "V3", &visit, &from, &to));
    ck_assert_int_eq(from, r + 42);
    /* ... and from the day V2 was dispensed once it was (the earliest kit of the visit) */
    dispensation("S-1", "V2", "1002", "dispensed", r + 17);
    dispensation("S-1", "V2", "1001", "replaced", r + 16);
    tu_ok(window(id, "V3", &visit, &from, &to));
    ck_assert_int_eq(from, r + 44);
    ck_assert_int_eq(to, r + 51);
    char *v = visits_text(TRIAL, "S-1");
    char want[512];
    snprintf(want, sizeof want,
             "V1|%s|%s|%s|-|0|2\nV2|%s|%s|%s|%s|0|2\nV3|%s|%s|%s|-|0|2\n", day_text(r),
             day_text(r), day_text(r), day_text(r + 14), day_text(r + 11), day_text(r + 17),
             day_text(r + 16), day_text(r + 44), day_text(r + 44), day_text(r + 51));
    ck_assert_str_eq(v, want);
    free(v);
    ck_assert_int_eq(window(id, "V9", &visit, &from, &to), CTM_ENOTFOUND);
    /* the visit after: V3 counts from V2; none after V3 */
    ctm__subject sub = subject_now(id);
    ctm__visit_when w;
    tu_ok(ctm__visit_window(db, &sub, "V2", &w));
    ck_assert_int_eq(w.has_next, 1);
    ck_assert_int_eq(w.next_from_previous, 1);
    ck_assert_int_eq(w.next_last, 28 + 7);
    tu_ok(ctm__visit_window(db, &sub, "V1", &w));
    ck_assert_int_eq(w.has_next, 1);
    ck_assert_int_eq(w.next_from_previous, 0);
    ck_assert_int_eq(w.next_last, 14 + 3);
    tu_ok(ctm__visit_window(db, &sub, "V3", &w));
    ck_assert_int_eq(w.has_next, 0);
}
END_TEST

static int64_t at(int64_t day)
{
    return day * CTM__DAY_US + TEN_AM;
}

static void titration_refused(int64_t id, int direction, int64_t when, const char *message)
{
    int level = -1;
    ctm__subject s = subject_now(id);
    ck_assert_int_eq(ctm__titration_check(db, &s, direction, when, &level), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert_int_eq(level, 0);
}

static int titration_ok(int64_t id, int direction, int64_t when)
{
    int level = -1;
    ctm__subject s = subject_now(id);
    int rc = ctm__titration_check(db, &s, direction, when, &level);
    ck_assert_msg(rc == CTM_OK, "%d %s", rc, ctm_errmsg());
    return level;
}

START_TEST(test_titration_rules)
{
    titrated_schedule(); /* KT5,KT10,KT20, start 2, at least 14 days apart, at most 2 moves */
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", NULL));
    int64_t id = subject_id(TRIAL, "S-1");
    ck_assert_int_eq(titration_ok(id, 0, at(20000)), 2);
    titration_refused(id, 1, at(20000), "titration: the subject is not randomized");
    int64_t r = randomized(TRIAL, "S-1");
    titration_refused(id, 1, at(r + 30), "titration: never at a subject's first dispensation");
    /* an assignment not handed over is no dispensation */
    dispensation("S-1", "V1", "1001", "assigned", r);
    titration_refused(id, -1, at(r + 30), "titration: never at a subject's first dispensation");
    dispensation("S-1", "V1", "1001", "dispensed", r);
    ck_assert_int_eq(titration_ok(id, 0, at(r)), 2);
    titration_refused(id, 1, at(r + 13) + TEN_AM,
                      "titration: 13 day(s) since the randomization; the trial asks for at "
                      "least 14");
    ck_assert_int_eq(titration_ok(id, 1, at(r + 14) - TEN_AM), 3);
    ck_assert_int_eq(titration_ok(id, -1, at(r + 14)), 1);
    /* the dispensing code moved the subject up at r + 14 */
    titrated("S-1", 3, 1, r + 14);
    ck_assert_int_eq(titration_ok(id, 0, at(r + 14)), 3);
    titration_refused(id, 1, at(r + 40), "titration: the subject is at the highest dose level (3)");
    titration_refused(id, -1, at(r + 27),
                      "titration: 13 day(s) since the last change of dose level; the trial asks "
                      "for at least 14");
    ck_assert_int_eq(titration_ok(id, -1, at(r + 28)), 2);
    titrated("S-1", 2, 2, r + 28);
    titration_refused(id, -1, at(r + 60),
                      "titration: the subject had 2 change(s) of dose level, the most the trial "
                      "allows");
    int level = -1;
    ctm__subject s1 = subject_now(id);
    ck_assert_int_eq(ctm__titration_check(db, &s1, 2, at(r + 60), &level), CTM_EINVAL);
    /* the lowest level */
    int64_t r3 = randomized(TRIAL, "S-3");
    int64_t id3 = subject_id(TRIAL, "S-3");
    dispensation("S-3", "V1", "1002", "dispensed", r3);
    titrated("S-3", 1, 1, r3 + 14);
    titration_refused(id3, -1, at(r3 + 40), "titration: the subject is at the lowest dose level (1)");
    ck_assert_int_eq(titration_ok(id3, 1, at(r3 + 40)), 2);
    /* a trial without dose levels: nothing to move between */
    randomized(OTHER, "S-2");
    int64_t id2 = subject_id(OTHER, "S-2");
    ck_assert_int_eq(titration_ok(id2, 0, at(r + 40)), 0);
    titration_refused(id2, 1, at(r + 40), "titration: the subject's trial has no dose levels");
}
END_TEST

static int kits_of(int64_t id, int64_t visit, int level, ctm__visit_kit *k, int max, int *n)
{
    ctm__subject s = subject_now(id);
    return ctm__visit_kits(db, &s, visit, level, k, max, n);
}

START_TEST(test_visit_kits)
{
    titrated_schedule();
    int64_t r = randomized(TRIAL, "S-1");
    int64_t id = subject_id(TRIAL, "S-1");
    int64_t v2 = tu_sql_int(db_path, "SELECT id FROM visits WHERE code = ?1", "V2");
    int64_t v3 = tu_sql_int(db_path, "SELECT id FROM visits WHERE code = ?1", "V3");
    int64_t kt10 = tu_sql_int(db_path, "SELECT id FROM kit_types WHERE code = ?1", "KT10");
    ctm__visit_kit k[CTM__VISIT_MAX_KITS];
    int n = -1;
    tu_ok(kits_of(id, v2, 0, k, CTM__VISIT_MAX_KITS, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(k[0].kit_type, "KT10");
    ck_assert_int_eq(k[0].kit_type_id, kt10);
    ck_assert_int_eq(k[0].count, 2);
    ck_assert_int_eq(k[0].dose, 0);
    ck_assert_str_eq(k[1].kit_type, "KT20");
    ck_assert_int_eq(k[1].count, 1);
    /* DOSE: the start level's kit type (level 2, KT10) */
    tu_ok(kits_of(id, v3, 0, k, CTM__VISIT_MAX_KITS, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(k[0].kit_type, "KT10");
    ck_assert_int_eq(k[0].kit_type_id, kt10);
    ck_assert_int_eq(k[0].dose, 1);
    ck_assert_int_eq(k[0].count, 1);
    ck_assert_str_eq(k[1].kit_type, "KT20");
    ck_assert_int_eq(k[1].dose, 0);
    /* the level a titration gives: KT20, once, with both counts */
    tu_ok(kits_of(id, v3, 3, k, CTM__VISIT_MAX_KITS, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(k[0].kit_type, "KT20");
    ck_assert_int_eq(k[0].count, 2);
    ck_assert_int_eq(k[0].dose, 1);
    ck_assert_int_eq(kits_of(id, v3, 4, k, CTM__VISIT_MAX_KITS, &n), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "the subject's trial has no dose level 4");
    /* the subject's own level once set */
    titrated("S-1", 1, 1, r + 14);
    tu_ok(kits_of(id, v3, 0, k, CTM__VISIT_MAX_KITS, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(k[0].kit_type, "KT5");
    ck_assert_int_eq(kits_of(id, v2, 0, k, 1, &n), CTM_EINVAL);
    ck_assert_int_eq(n, 0);
    tu_ok(ctm_visit_add(db, OTHER, "W1", 3, NULL, "-1..+1", "KTO:1"));
    int64_t w1 = tu_sql_int(db_path, "SELECT id FROM visits WHERE code = ?1", "W1");
    ck_assert_int_eq(kits_of(id, w1, 0, k, CTM__VISIT_MAX_KITS, &n), CTM_ENOTFOUND);
}
END_TEST

START_TEST(test_dose_levels_fixed_once_kits_are_assigned)
{
    titrated_schedule();
    int64_t r = randomized(TRIAL, "S-1");
    dispensation("S-1", "V1", "1001", "assigned", r);
    ck_assert_int_eq(ctm_dose_levels(db, TRIAL, "KT5,KT10", 1, 7, 1), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "dose levels: kits of trial " TRIAL " were assigned to "
                                   "subjects already; its dose levels and titration rules stay "
                                   "as they are");
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT COUNT(*) FROM dose_levels", NULL), 3);
    /* another trial's are its own */
    tu_ok(ctm_dose_levels(db, OTHER, "KTO", 1, 0, 0));
}
END_TEST

static Suite *visits_suite(void)
{
    Suite *s = suite_create("visits");
    TCase *tc = tu_tcase(s, "schedule", setup, teardown, 30);
    tcase_add_test(tc, test_visit_add_and_list);
    tcase_add_test(tc, test_visit_add_refusals);
    tcase_add_test(tc, test_dose_levels_set_and_replaced);
    tc = tu_tcase(s, "holds", setup, teardown, 30);
    tcase_add_test(tc, test_hold_and_resume);
    tc = tu_tcase(s, "dates", setup, teardown, 30);
    tcase_add_test(tc, test_subject_visit_dates);
    tcase_add_test(tc, test_hold_stops_dispensing_and_dates_follow_it);
    tc = tu_tcase(s, "helpers", setup, teardown, 30);
    tcase_add_test(tc, test_visit_window_and_previous_anchor);
    tcase_add_test(tc, test_titration_rules);
    tcase_add_test(tc, test_visit_kits);
    tcase_add_test(tc, test_dose_levels_fixed_once_kits_are_assigned);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(visits_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
