/* test_dispensing.c - kits to subjects: the kit is drawn uniformly among the eligible kits and
 * only among them; scan-to-verify refuses any other kit and changes nothing; one kit goes to one
 * subject once; the visit window, dose hold and titration rules; "no eligible kit" says why and
 * never the arm; replacements, reversals, dispensings recorded afterwards; emergency
 * unblinding; and nothing a blinded user reads holds an arm.  Runs on both back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "dispensing-pw-1"
#define TRIAL "EU-CT-2026-900001"
#define DOSE_TRIAL "EU-CT-2026-900002"
#define OTHER_TRIAL "EU-CT-2026-900003"
#define PACK_GTIN "05909990329717"
#define ARM_A "QZACTIVE"
#define ARM_B "QZPLACEBO"
#define KITS_PER_ARM 6

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void day(int days, char out[11])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Per arm X: X1..X6 available, X7 quarantined, X8 expiring within the do-not-dispense days. */
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
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, NULL), "open");
    tu_must(ctm_login(h, "pia", PW), "login");
    tu_must(ctm_trial_add(h, TRIAL, "Blinded", "Sponsor", 1, ARM_A ":1," ARM_B ":1"), "trial");
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.dispensing_days = 28;
    tu_must(ctm_kittype_add(h, TRIAL, "KT", "Drug X or placebo", 30, 2, 8, 30, &ko), "kit type");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    char far[11], near[11], m[4096];
    day(400, far);
    day(20, near);
    size_t len = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    const char *arms[2] = {ARM_A, ARM_B}, *prefix[2] = {"A", "B"};
    for (int a = 0; a < 2; a++)
        for (int i = 1; i <= KITS_PER_ARM + 2; i++)
            len += (size_t)snprintf(m + len, sizeof m - len, "%s%d,KT,%s,%s,%s\n", prefix[a], i,
                                    i == KITS_PER_ARM + 2 ? "LNEAR" : "LFAR",
                                    i == KITS_PER_ARM + 2 ? near : far, arms[a]);
    /* arrived yesterday: the dispensings recorded on paper a moment ago come after the receipt */
    char yesterday[11];
    day(-1, yesterday);
    ctm_receive_options rec = CTM_RECEIVE_OPTIONS_INIT;
    rec.date_received = yesterday;
    tu_must(ctm_receive(h, TRIAL, "SH1", m, len, "FRIDGE1", &rec), "receive");
    tu_must(ctm_receive_confirm(h, "SH1", 1), "confirm");
    tu_must(ctm_kit_set_status(h, TRIAL, "A7", "quarantined", "temperature"), "quarantine A7");
    tu_must(ctm_kit_set_status(h, TRIAL, "B7", "quarantined", "temperature"), "quarantine B7");
    tu_must(ctm_visit_add(h, TRIAL, "V1", 0, "randomization", "-0..+3", "KT:1"), "visit 1");
    tu_must(ctm_visit_add(h, TRIAL, "V2", 28, "previous", "-3..+3", "KT:1"), "visit 2");
    ctm_random_options ro = CTM_RANDOM_OPTIONS_INIT;
    tu_must(ctm_random_generate(h, TRIAL, 8, "2", &ro), "list");
    /* a trial with two dose levels, D1 and D2, kits of each for both arms */
    tu_must(ctm_trial_add(h, DOSE_TRIAL, "Titration", "Sponsor", 1, ARM_A ":1," ARM_B ":1"),
            "dose trial");
    tu_must(ctm_kittype_add(h, DOSE_TRIAL, "D1", "5 mg or placebo", 30, 2, 8, 0, NULL), "D1");
    tu_must(ctm_kittype_add(h, DOSE_TRIAL, "D2", "10 mg or placebo", 30, 2, 8, 0, NULL), "D2");
    len = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 0; i < 8; i++)
        len += (size_t)snprintf(m + len, sizeof m - len, "T%d,D%d,LT%d,%s,%s\n", i, 1 + i / 4,
                                1 + i / 4, far, arms[i % 2]);
    tu_must(ctm_receive(h, DOSE_TRIAL, "SH2", m, len, "FRIDGE1", NULL), "receive dose kits");
    tu_must(ctm_receive_confirm(h, "SH2", 1), "confirm dose kits");
    tu_must(ctm_dose_levels(h, DOSE_TRIAL, "D1,D2", 1, 0, 1), "dose levels");
    tu_must(ctm_visit_add(h, DOSE_TRIAL, "V1", 0, "randomization", "0..+3", "DOSE:1"), "dose V1");
    tu_must(ctm_visit_add(h, DOSE_TRIAL, "V2", 0, "previous", "0..+3", "DOSE:1"), "dose V2");
    tu_must(ctm_visit_add(h, DOSE_TRIAL, "V3", 0, "previous", "0..+3", "DOSE:1"), "dose V3");
    tu_must(ctm_random_generate(h, DOSE_TRIAL, 4, "2", &ro), "dose list");
    ctm_randomization dr = CTM_RANDOMIZATION_INIT;
    tu_must(ctm_subject_add(h, DOSE_TRIAL, "T-1", NULL), "dose subject");
    tu_must(ctm_randomize(h, DOSE_TRIAL, "T-1", &dr), "dose randomize");
    for (int i = 1; i <= 4; i++) {
        char s[8];
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        snprintf(s, sizeof s, "S%d", i);
        tu_must(ctm_subject_add(h, TRIAL, s, NULL), "subject");
        tu_must(ctm_randomize(h, TRIAL, s, &r), "randomize");
    }
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
    ck_assert_int_ge(c, 0);
    return c;
}

/* The subject's arm as the unblinded pharmacist sees it: "A" or "B", the kits' prefix. */
static const char *prefix_of(const char *screening)
{
    ctm_query *q = NULL;
    tu_ok(ctm_subject_show(&q, db, TRIAL, screening));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    const char *p = strcmp(ctm_query_text(q, col(q, "arm")), ARM_A) == 0 ? "A" : "B";
    ctm_query_free(q);
    return p;
}

/* Assign the subject's visit and return the one kit number (static buffer). */
static const char *assign_one(const char *screening, const char *visit)
{
    static char kit[48];
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_assign(&q, db, TRIAL, screening, visit, NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(kit, sizeof kit, "%s", ctm_query_text(q, col(q, "kit_number")));
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    return kit;
}

static void confirm(const char *screening, const char *kit)
{
    const char *scans[] = {kit};
    tu_ok(ctm_dispense_confirm(db, TRIAL, screening, scans, 1));
}

/* ---- which kit ---- */

START_TEST(kit_drawn_uniformly_among_the_eligible_only)
{
    const char *x = prefix_of("S1");
    enum { DRAWS = 300 };
    int counts[KITS_PER_ARM + 1] = {0};
    tu_ok(ctm_batch_begin(db));
    for (int i = 0; i < DRAWS; i++) {
        const char *kit = assign_one("S1", "V1");
        int n = atoi(kit + 1);
        /* the subject's arm, available (not X7, quarantined) and lasting (not X8) */
        ck_assert_msg(kit[0] == x[0] && n >= 1 && n <= KITS_PER_ARM, "kit %s chosen", kit);
        counts[n]++;
        tu_ok(ctm_dispense_cancel(db, TRIAL, "S1", "test draw"));
    }
    tu_ok(ctm_batch_commit(db));
    /* chi-square over six equally likely kits, 5 degrees of freedom: above 40 happens with a
     * uniform choice about once in ten million runs; the lowest number every time gives 1500 */
    double chi2 = 0, expected = (double)DRAWS / KITS_PER_ARM;
    for (int k = 1; k <= KITS_PER_ARM; k++)
        chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
    ck_assert_msg(chi2 < 40.0, "chi-square %.1f: the choice is not uniform", chi2);
}
END_TEST

START_TEST(no_eligible_kit_says_why_never_the_arm)
{
    const char *x = prefix_of("S1");
    for (int i = 1; i <= KITS_PER_ARM; i++) {
        char kit[8];
        snprintf(kit, sizeof kit, "%s%d", x, i);
        tu_ok(ctm_kit_set_status(db, TRIAL, kit, "damaged", "crushed"));
    }
    as("bob");
    uint64_t before = tu_audit_size(db);
    ctm_query *q = NULL;
    const char *whys[] = {"expire too soon", "quarantined", "none is left"};
    for (int step = 0; step < 3; step++) {
        ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S1", "V1", NULL), CTM_ERULE);
        ck_assert_ptr_null(q);
        ck_assert_msg(strstr(ctm_errmsg(), whys[step]) != NULL, "step %d: %s", step,
                      ctm_errmsg());
        ck_assert_ptr_null(strstr(ctm_errmsg(), ARM_A));
        ck_assert_ptr_null(strstr(ctm_errmsg(), ARM_B));
        ck_assert_uint_eq(tu_audit_size(db), before);
        char kit[8];
        as("pia");
        if (step == 0) {
            snprintf(kit, sizeof kit, "%s8", x); /* the expiring kit: quarantined too */
            tu_ok(ctm_kit_set_status(db, TRIAL, kit, "quarantined", "check"));
        } else if (step == 1) {
            for (int i = 7; i <= 8; i++) {
                snprintf(kit, sizeof kit, "%s%d", x, i);
                tu_ok(ctm_kit_set_status(db, TRIAL, kit, "damaged", "crushed"));
            }
        }
        as("bob");
        before = tu_audit_size(db);
    }
}
END_TEST

/* ---- scan-to-verify ---- */

START_TEST(only_the_assigned_kit_is_dispensed_and_only_once)
{
    const char *x = prefix_of("S1");
    char kit[48], wrong[8];
    as("bob"); /* blinded pharmacists dispense */
    snprintf(kit, sizeof kit, "%s", assign_one("S1", "V1"));
    snprintf(wrong, sizeof wrong, "%s%d", x, atoi(kit + 1) % KITS_PER_ARM + 1);
    uint64_t before = tu_audit_size(db);
    const char *scans[] = {wrong};
    ck_assert_int_eq(ctm_dispense_confirm(db, TRIAL, "S1", scans, 1), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "not a kit assigned"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    confirm("S1", kit);
    ctm_query *q = tu_log_entry(db, before);
    ck_assert_str_eq(ctm_query_text(q, col(q, "action")), "dispense.confirm");
    ck_assert_str_eq(ctm_query_text(q, col(q, "esig_meaning")), "dispensed");
    ctm_query_free(q);
    /* once: not again to this subject, nor to anyone */
    const char *again[] = {kit};
    ck_assert_int_eq(ctm_dispense_confirm(db, TRIAL, "S1", again, 1), CTM_ERULE);
    q = NULL;
    ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S1", "V1", NULL), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "already"));
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.trial = TRIAL;
    f.status = "dispensed";
    tu_ok(ctm_kits(&q, db, &f));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "kit_number")), kit);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    for (int i = 2; i <= 4; i++) { /* the other subjects of the arm never get it */
        char s[8];
        snprintf(s, sizeof s, "S%d", i);
        if (strcmp(prefix_of(s), x) != 0)
            continue;
        ck_assert_str_ne(assign_one(s, "V1"), kit);
    }
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- the visit window, hold, titration ---- */

START_TEST(window_hold_and_override)
{
    confirm("S1", assign_one("S1", "V1"));
    ctm_query *q = NULL;
    /* V2 is due 28 days after V1's dispensing: today is outside its window */
    ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S1", "V2", NULL), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "outside its window"));
    ctm_dispense_options o = CTM_DISPENSE_OPTIONS_INIT;
    o.override_reason = "travelling abroad for a month";
    as("bob");
    ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S1", "V2", &o), CTM_EBLINDED);
    as("ivy");
    tu_ok(ctm_subject_hold(db, TRIAL, "S1", "liver enzymes raised"));
    as("pia");
    ck_assert_int_eq(ctm_dispense_assign(&q, db, TRIAL, "S1", "V2", &o), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "hold"));
    tu_ok(ctm_subject_resume(db, TRIAL, "S1", "enzymes normal"));
    uint64_t seq = tu_audit_size(db);
    tu_ok(ctm_dispense_assign(&q, db, TRIAL, "S1", "V2", &o));
    ctm_query_free(q);
    q = tu_log_entry(db, seq);
    ck_assert_ptr_nonnull(strstr(ctm_query_text(q, col(q, "params")), "travelling abroad"));
    ctm_query_free(q);
}
END_TEST

/* The kit type of the kit the dose trial's subject is assigned at visit (static buffer). */
static const char *dose_assign(const char *visit, int titrate, int expect)
{
    static char type[16];
    ctm_dispense_options o = CTM_DISPENSE_OPTIONS_INIT;
    o.titrate = titrate;
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_dispense_assign(&q, db, DOSE_TRIAL, "T-1", visit, &o), expect);
    if (expect != CTM_OK)
        return NULL;
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(type, sizeof type, "%s", ctm_query_text(q, col(q, "kit_type")));
    const char *scans[] = {ctm_query_text(q, col(q, "kit_number"))};
    tu_ok(ctm_dispense_confirm(db, DOSE_TRIAL, "T-1", scans, 1));
    ctm_query_free(q);
    return type;
}

START_TEST(titration_moves_the_dose_level_by_the_rules)
{
    ck_assert_ptr_null(dose_assign("V1", 1, CTM_ERULE)); /* never at the first dispensation */
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "first"));
    ck_assert_str_eq(dose_assign("V1", 0, CTM_OK), "D1");
    ck_assert_str_eq(dose_assign("V2", 1, CTM_OK), "D2");
    ck_assert_ptr_null(dose_assign("V3", -1, CTM_ERULE)); /* at most one titration */
    ck_assert_str_eq(dose_assign("V3", 0, CTM_OK), "D2");
    ctm_query *q = NULL;
    tu_ok(ctm_dispensations(&q, db, DOSE_TRIAL, "T-1"));
    int levels[3], n = 0;
    while (ctm_query_next(q) == CTM_ROW && n < 3)
        levels[n++] = (int)ctm_query_int64(q, col(q, "dose_level"));
    ctm_query_free(q);
    ck_assert_int_eq(n, 3);
    ck_assert(levels[0] == 1 && levels[1] == 2 && levels[2] == 2);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- replacements, reversals, records ---- */

START_TEST(replace_reverse_and_record_afterwards)
{
    const char *x = prefix_of("S1");
    char first[48], second[48];
    snprintf(first, sizeof first, "%s", assign_one("S1", "V1"));
    /* damaged at the counter, before it was handed over: damaged, another kit assigned */
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_replace(&q, db, TRIAL, "S1", first, "damaged", "pack crushed"));
    ctm_query_free(q);
    tu_ok(ctm_dispensations(&q, db, TRIAL, "S1"));
    int rows = 0;
    while (ctm_query_next(q) == CTM_ROW) {
        rows++;
        const char *kit = ctm_query_text(q, col(q, "kit_number"));
        const char *status = ctm_query_text(q, col(q, "status"));
        if (strcmp(kit, first) == 0) {
            ck_assert_str_eq(status, "replaced");
        } else {
            ck_assert_str_eq(status, "assigned");
            ck_assert_str_eq(ctm_query_text(q, col(q, "replaces")), first);
            snprintf(second, sizeof second, "%s", kit);
        }
    }
    ctm_query_free(q);
    ck_assert_int_eq(rows, 2);
    ck_assert_int_eq(second[0], x[0]);
    confirm("S1", second);
    /* dispensed in error: not_dispensed, never chosen again */
    tu_ok(ctm_dispense_reverse(db, TRIAL, "S1", second, "given to the wrong subject"));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM kits WHERE kit_number = '%s' AND status ="
                              " 'not_dispensed'", second);
    ck_assert_int_eq(tu_sql_int(db_path, sql, NULL), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM kits WHERE kit_number = '%s' AND status ="
                              " 'damaged'", first);
    ck_assert_int_eq(tu_sql_int(db_path, sql, NULL), 1);
    /* recorded afterwards, by an unblinded pharmacist only, with both times */
    char kit[16], when[40];
    int free_kit = 1; /* an available kit of the arm: neither of the two above */
    while (free_kit == atoi(first + 1) || free_kit == atoi(second + 1))
        free_kit++;
    snprintf(kit, sizeof kit, "%s%d", x, free_kit);
    time_t now = time(NULL) - 2;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *scans[] = {kit};
    as("bob");
    ck_assert_int_eq(ctm_dispense_record(db, TRIAL, "S2", "V1", scans, 1, when, "network down"),
                     CTM_EBLINDED);
    as("pia");
    const char *other = strcmp(prefix_of("S2"), x) == 0 ? "S3" : "S2";
    if (strcmp(prefix_of(other), x) != 0) { /* a subject of the other arm: the kit is refused */
        uint64_t before = tu_audit_size(db);
        ck_assert_int_eq(ctm_dispense_record(db, TRIAL, other, "V1", scans, 1, when, "down"),
                         CTM_ERULE);
        ck_assert_uint_eq(tu_audit_size(db), before);
    }
    const char *same = strcmp(prefix_of("S2"), x) == 0 ? "S2" : strcmp(prefix_of("S3"), x) == 0
                                                                   ? "S3" : "S4";
    tu_ok(ctm_dispense_record(db, TRIAL, same, "V1", scans, 1, when, "network down"));
    tu_ok(ctm_dispensations(&q, db, TRIAL, same));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "status")), "dispensed");
    ck_assert_str_eq(ctm_query_text(q, col(q, "dispensed")), when);
    ck_assert_str_ge(ctm_query_text(q, col(q, "recorded")), when);
    ctm_query_free(q);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- trials that number their kits alike ---- */

/* The status of kit `kit` of trial `trial`, read outside the library (static buffer). */
static const char *status_in(const char *trial, const char *kit)
{
    static char status[32];
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT k.status FROM kits k JOIN trials t ON t.id = k.trial_id"
                              " WHERE t.code = '%s' AND k.kit_number = '%s'", trial, kit);
    char *s = tu_sql_text(db_path, sql);
    snprintf(status, sizeof status, "%s", s);
    free(s);
    return status;
}

/* OTHER_TRIAL's kits are numbered as TRIAL's (A1..A8, B1..B8): every kit-taking call of
 * dispensing resolves the kit in the trial it names, and touches only that trial's kit. */
START_TEST(kits_numbered_alike_in_two_trials)
{
    tu_ok(ctm_trial_add(db, OTHER_TRIAL, "Other", "Sponsor", 1, ARM_A ":1," ARM_B ":1"));
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    ko.dispensing_days = 28;
    tu_ok(ctm_kittype_add(db, OTHER_TRIAL, "KT", "Drug Y or placebo", 30, 2, 8, 30, &ko));
    char far[11], m[2048];
    day(400, far);
    size_t len = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 1; i <= 8; i++)
        len += (size_t)snprintf(m + len, sizeof m - len, "A%d,KT,LOTHER,%s," ARM_A "\n"
                                "B%d,KT,LOTHER,%s," ARM_B "\n", i, far, i, far);
    tu_ok(ctm_receive(db, OTHER_TRIAL, "SH3", m, len, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SH3", 1));
    tu_ok(ctm_visit_add(db, OTHER_TRIAL, "V1", 0, "randomization", "-0..+3", "KT:1"));
    ctm_random_options ro = CTM_RANDOM_OPTIONS_INIT;
    tu_ok(ctm_random_generate(db, OTHER_TRIAL, 4, "2", &ro));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_subject_add(db, OTHER_TRIAL, "O1", NULL));
    tu_ok(ctm_randomize(db, OTHER_TRIAL, "O1", &r));

    /* TRIAL: scan-to-verify by a scan of the pack, then the subject's return */
    char kit[48], scan[80];
    snprintf(kit, sizeof kit, "%s", assign_one("S1", "V1"));
    snprintf(scan, sizeof scan, "(01)" PACK_GTIN "(21)%s", kit);
    const char *scans[] = {scan};
    tu_ok(ctm_dispense_confirm(db, TRIAL, "S1", scans, 1));
    ck_assert_str_eq(status_in(TRIAL, kit), "dispensed");
    ck_assert_str_eq(status_in(OTHER_TRIAL, kit), "available");
    tu_ok(ctm_return(db, TRIAL, kit, 30, NULL, NULL));
    ck_assert_str_eq(status_in(TRIAL, kit), "returned");
    ck_assert_str_eq(status_in(OTHER_TRIAL, kit), "available");

    /* OTHER_TRIAL: a replacement, the new kit confirmed by its number, then reversed */
    char first[48], second[48];
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_assign(&q, db, OTHER_TRIAL, "O1", "V1", NULL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(first, sizeof first, "%s", ctm_query_text(q, col(q, "kit_number")));
    ctm_query_free(q);
    tu_ok(ctm_dispense_replace(&q, db, OTHER_TRIAL, "O1", first, "damaged", "pack crushed"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    snprintf(second, sizeof second, "%s", ctm_query_text(q, col(q, "kit_number")));
    ctm_query_free(q);
    const char *numbers[] = {second};
    tu_ok(ctm_dispense_confirm(db, OTHER_TRIAL, "O1", numbers, 1));
    tu_ok(ctm_dispense_reverse(db, OTHER_TRIAL, "O1", second, "wrong subject"));
    ck_assert_str_eq(status_in(OTHER_TRIAL, first), "damaged");
    ck_assert_str_eq(status_in(OTHER_TRIAL, second), "not_dispensed");
    /* TRIAL's kits of those numbers: as they were (only `kit` was TRIAL's to move) */
    if (strcmp(first, kit) != 0)
        ck_assert_str_eq(status_in(TRIAL, first), first[1] == '7' ? "quarantined" : "available");
    if (strcmp(second, kit) != 0)
        ck_assert_str_eq(status_in(TRIAL, second), second[1] == '7' ? "quarantined" : "available");

    /* recorded afterwards in TRIAL: a kit of subject S2's arm, the same number in both trials */
    char paper[8], when[40];
    snprintf(paper, sizeof paper, "%s%d", prefix_of("S2"), strcmp(kit + 1, "6") == 0 ? 5 : 6);
    time_t now = time(NULL) - 2;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *papers[] = {paper};
    tu_ok(ctm_dispense_record(db, TRIAL, "S2", "V1", papers, 1, when, "network down"));
    ck_assert_str_eq(status_in(TRIAL, paper), "dispensed");
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kits k JOIN trials t ON"
                                         " t.id = k.trial_id WHERE t.code = ?1 AND"
                                         " k.status = 'dispensed'", OTHER_TRIAL), 0);

    /* with no trial named, the audit log's kit filter still finds the number ambiguous; with
     * the trial, a scan of the pack names that trial's kit */
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.kit = scan;
    ck_assert_int_eq(ctm_audit_query(&q, db, &f), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "more than one trial"));
    f.trial = TRIAL;
    tu_ok(ctm_audit_query(&q, db, &f));
    int entries = 0;
    while (ctm_query_next(q) == CTM_ROW)
        entries++;
    ctm_query_free(q);
    ck_assert_int_ge(entries, 3); /* assigned, confirmed, returned */
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* ---- emergency unblinding ---- */

START_TEST(codebreak_gives_the_arm_to_the_asker_only)
{
    uint64_t start = tu_audit_size(db);
    ctm_query *q = NULL;
    tu_ok(ctm_subject_show(&q, db, TRIAL, "S1"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    char truth[40];
    snprintf(truth, sizeof truth, "%s", ctm_query_text(q, col(q, "arm")));
    ctm_query_free(q);
    char *arm = NULL;
    as("bob");
    ck_assert_int_eq(ctm_codebreak(&arm, db, TRIAL, "S1", PW, "emergency"), CTM_EDENIED);
    ck_assert_ptr_null(arm);
    as("ivy");
    ck_assert_int_eq(ctm_codebreak(&arm, db, TRIAL, "S1", "not-my-password", "emergency"),
                     CTM_EAUTH);
    ck_assert_ptr_null(arm);
    ck_assert_int_eq(ctm_codebreak(&arm, db, TRIAL, "S1", PW, NULL), CTM_EINVAL);
    tu_ok(ctm_codebreak(&arm, db, TRIAL, "S1", PW, "anaphylaxis, treating physician asks"));
    ck_assert_str_eq(arm, truth);
    ctm_free(arm);
    /* recorded: the failed attempt as a failed login, the code break e-signed, neither with the
     * arm for a blinded reader */
    tu_ok(ctm_audit_log(&q, db, start, 0));
    int failed = 0, broken = 0;
    while (ctm_query_next(q) == CTM_ROW) {
        const char *action = ctm_query_text(q, col(q, "action"));
        failed += strcmp(action, "auth.failed") == 0;
        if (strcmp(action, "subject.codebreak") == 0) {
            broken++;
            ck_assert_str_eq(ctm_query_text(q, col(q, "esig_meaning")), "emergency unblinding");
        }
        for (int c = 0; c < ctm_query_column_count(q); c++) {
            const char *t = ctm_query_text(q, c);
            ck_assert(t == NULL || (strstr(t, ARM_A) == NULL && strstr(t, ARM_B) == NULL));
        }
    }
    ctm_query_free(q);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(broken, 1);
    /* the investigator's listings stay blinded after the code break */
    tu_ok(ctm_subject_show(&q, db, TRIAL, "S1"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "arm")), "(blinded)");
    ctm_query_free(q);
}
END_TEST

/* A blinded pharmacist's whole day of dispensing shows no arm anywhere it can read. */
START_TEST(blinded_reads_of_dispensing_hold_no_arm)
{
    uint64_t start = tu_audit_size(db);
    as("bob");
    for (int i = 1; i <= 4; i++) {
        char s[8];
        snprintf(s, sizeof s, "S%d", i);
        confirm(s, assign_one(s, "V1"));
    }
    ctm_query *q = NULL;
    ctm_query *reads[3] = {NULL, NULL, NULL};
    tu_ok(ctm_dispensations(&reads[0], db, TRIAL, NULL));
    tu_ok(ctm_audit_log(&reads[1], db, start, 0));
    tu_ok(ctm_subject_list(&reads[2], db, TRIAL));
    for (int r = 0; r < 3; r++) {
        q = reads[r];
        while (ctm_query_next(q) == CTM_ROW)
            for (int c = 0; c < ctm_query_column_count(q); c++) {
                const char *t = ctm_query_text(q, c);
                ck_assert_msg(t == NULL || (strstr(t, ARM_A) == NULL && strstr(t, ARM_B) == NULL),
                              "read %d shows an arm: %s", r, t);
            }
        ctm_query_free(q);
    }
}
END_TEST

static Suite *dispensing_suite(void)
{
    Suite *s = suite_create("dispensing");
    TCase *tc = tu_tcase(s, "choice", setup, teardown, 60);
    tcase_add_test(tc, kit_drawn_uniformly_among_the_eligible_only);
    tcase_add_test(tc, no_eligible_kit_says_why_never_the_arm);
    tc = tu_tcase(s, "scan", setup, teardown, 30);
    tcase_add_test(tc, only_the_assigned_kit_is_dispensed_and_only_once);
    tc = tu_tcase(s, "rules", setup, teardown, 30);
    tcase_add_test(tc, window_hold_and_override);
    tcase_add_test(tc, titration_moves_the_dose_level_by_the_rules);
    tcase_add_test(tc, replace_reverse_and_record_afterwards);
    tc = tu_tcase(s, "trials", setup, teardown, 30);
    tcase_add_test(tc, kits_numbered_alike_in_two_trials);
    tc = tu_tcase(s, "blinding", setup, teardown, 30);
    tcase_add_test(tc, codebreak_gives_the_arm_to_the_asker_only);
    tcase_add_test(tc, blinded_reads_of_dispensing_hold_no_arm);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(dispensing_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
