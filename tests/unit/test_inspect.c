/* test_inspect.c - the supply forecast and the self-inspection.  Forecast: exact figures per kit
 * type and per arm (the visits due, kits needed, available, still dispensable at the end, the
 * shortfall when kits expire too soon or an arm runs out), a blinded user's rows identical on two
 * sites that differ only in the kits' arms, the horizon, an assignment, refusals.
 * Self-inspection: one row per finding with exact sentences (a receipt discrepancy, an overdue
 * return, expired stock on hand, an open excursion, an account that never acted, an entry an
 * intruder stripped of its e-signature), the same for a blinded user.  Runs on both back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "entry.h"
#include "internal.h" /* white-box: an entry stripped of its e-signature, as an intruder would */
#include "testutil.h"

#define PW "inspect-pw-1234"
#define TRIAL "EU-CT-2026-900011"

static char *template_dir[2]; /* 1: the kits' arms swapped */
static char *dir;
static char db_path[4096];
static ctm_db *db;

/* A blinded trial (ACT:1, PLA:1); kit type KT (do-not-dispense 10 days, 14 dispensing days);
 * visits V1 (day 0, window -30..+3), V2 and V3 (14 days after the previous, -2..+2); subjects S1
 * and S2 randomized today, one of each arm (blocks of 2), nothing dispensed.  In FRIDGE1, arm ACT:
 * A1, A2, A4 expiring in 400 days, A3 in 20; arm PLA: B1 in 400 days, B2 in 20, B3 in 5, and Q1
 * (400 days) quarantined by hand.  With swap, the arms of the kits are the other way round. */
static char *build_template(int swap)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"tom", "technician", 0, "Tom Tech", PW},
    };
    static const struct tu_visit visits[] = {
        {"V1", 0, "randomization", "-30..+3"},
        {"V2", 14, "previous", "-2..+2"},
        {"V3", 14, "previous", "-2..+2"},
    };
    char far[11], d20[11], d5[11], kits[1024];
    tu_day(400, far);
    tu_day(20, d20);
    tu_day(5, d5);
    const char *act = swap ? "PLA" : "ACT", *pla = swap ? "ACT" : "PLA";
    snprintf(kits, sizeof kits,
             "A1,KT,L1,%s,%s\nA2,KT,L1,%s,%s\nA3,KT,L2,%s,%s\nA4,KT,L1,%s,%s\n"
             "B1,KT,L1,%s,%s\nB2,KT,L2,%s,%s\nB3,KT,L3,%s,%s\nQ1,KT,L1,%s,%s\n",
             far, act, far, act, d20, act, far, act, far, pla, d20, pla, d5, pla, far, pla);
    char arrived[11]; /* the kits came before the dispensings on paper */
    tu_day(-30, arrived);
    struct tu_trial_site site = {
        .password = PW, .users = users, .nusers = 2, .trial = TRIAL, .sponsor = "Sponsor",
        .arms = "ACT:1,PLA:1", .dnd_days = 10, .dispensing_days = 14, .kits = kits,
        .visits = visits, .nvisits = 3, .list_size = 8, .subjects = 2, .date_received = arrived,
    };
    ctm_db *h = NULL;
    char *tdir = tu_build_trial_site(&site, &h);
    tu_must(ctm_kit_set_status(h, TRIAL, "Q1", "quarantined", "label check"), "quarantine");
    ctm_close(h);
    return tdir;
}

static void setup_site(int which)
{
    db = tu_site_open(template_dir[which], &dir, db_path, "pia", PW);
}

static void setup(void)
{
    setup_site(0);
}

static void setup_swapped(void)
{
    setup_site(1);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

/* A listing as text: one line per row, cells "|"-separated, NULL as "-". */
static char *listing_text(ctm_query *q)
{
    size_t cap = 8192, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    int cols = ctm_query_column_count(q), rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        for (int c = 0; c < cols; c++) {
            const char *v = ctm_query_column_type(q, c) == CTM_NULL ? "-" : ctm_query_text(q, c);
            size_t need = strlen(v) + 4;
            if (n + need >= cap) {
                cap = (cap + need) * 2;
                out = realloc(out, cap);
                ck_assert_ptr_nonnull(out);
            }
            n += (size_t)snprintf(out + n, cap - n, "%s%s", c ? "|" : "", v);
        }
        out[n++] = '\n';
        out[n] = '\0';
    }
    ck_assert_int_eq(rc, CTM_DONE);
    return out;
}

static char *forecast_text(int days)
{
    ctm_query *q = NULL;
    tu_ok(ctm_forecast(&q, db, TRIAL, days));
    ck_assert_str_eq(ctm_query_column_name(q, 0), "kit_type");
    ck_assert_str_eq(ctm_query_column_name(q, 9), "first_shortfall");
    char *text = listing_text(q);
    ctm_query_free(q);
    return text;
}

START_TEST(the_forecast_counts_needs_against_stock_that_lasts)
{
    char d28[11], want[1024];
    tu_day(28, d28);
    char *text = forecast_text(28);
    /* pooled: V1 x2 take the kits expiring in 20 days, V2 and V3 x2 four of the five lasting;
     * ACT: enough; PLA: B3 expires within the do-not-dispense days of any visit, B2 serves V1,
     * B1 V2, and nothing is left for V3 on day 28 */
    snprintf(want, sizeof want,
             "KT|-|%s|6|6|7|4|1|0|-\n"
             "KT|ACT|%s|3|3|4|3|-|0|-\n"
             "KT|PLA|%s|3|3|3|1|-|1|%s\n",
             d28, d28, d28, d28);
    ck_assert_str_eq(text, want);
    free(text);
    /* over 13 days only the V1 visits are due; still dispensable on day 13: the 400-day kits */
    char d13[11];
    tu_day(13, d13);
    text = forecast_text(13);
    snprintf(want, sizeof want,
             "KT|-|%s|2|2|7|4|1|0|-\n"
             "KT|ACT|%s|1|1|4|3|-|0|-\n"
             "KT|PLA|%s|1|1|3|1|-|0|-\n",
             d13, d13, d13);
    ck_assert_str_eq(text, want);
    free(text);
}
END_TEST

START_TEST(the_swapped_site_shows_the_other_arm_short)
{
    char d28[11], want[1024];
    tu_day(28, d28);
    char *text = forecast_text(28);
    snprintf(want, sizeof want,
             "KT|-|%s|6|6|7|4|1|0|-\n"
             "KT|ACT|%s|3|3|3|1|-|1|%s\n"
             "KT|PLA|%s|3|3|4|3|-|0|-\n",
             d28, d28, d28, d28);
    ck_assert_str_eq(text, want);
    free(text);
}
END_TEST

/* Two sites that differ only in the kits' arms: a blinded user reads the same forecast. */
START_TEST(a_blinded_user_reads_the_same_forecast_whatever_the_arms)
{
    char *seen[2];
    for (int i = 0; i < 2; i++) {
        setup_site(i);
        tu_as(db, "tom", PW);
        seen[i] = forecast_text(28);
        teardown();
    }
    char d28[11], want[256];
    tu_day(28, d28);
    snprintf(want, sizeof want, "KT|-|%s|6|6|7|4|1|0|-\n", d28);
    ck_assert_str_eq(seen[0], want);
    ck_assert_str_eq(seen[1], want);
    free(seen[0]);
    free(seen[1]);
}
END_TEST

START_TEST(an_assigned_visit_is_no_longer_due_and_its_kit_not_available)
{
    ctm_query *q = NULL;
    tu_ok(ctm_dispense_assign(&q, db, TRIAL, "S1", "V1", NULL));
    ctm_query_free(q);
    tu_ok(ctm_forecast(&q, db, TRIAL, 28));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_int_eq(ctm_query_int64(q, 3), 5); /* visits_due */
    ck_assert_int_eq(ctm_query_int64(q, 4), 5); /* kits_needed */
    ck_assert_int_eq(ctm_query_int64(q, 5), 6); /* kits_available */
    ctm_query_free(q);
}
END_TEST

START_TEST(forecast_refusals)
{
    ctm_query *q = (ctm_query *)&q;
    ck_assert_int_eq(ctm_forecast(&q, db, TRIAL, 0), CTM_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "days: 0; give 1 to 3650"));
    ck_assert_int_eq(ctm_forecast(&q, db, TRIAL, 3651), CTM_EINVAL);
    ck_assert_int_eq(ctm_forecast(&q, db, NULL, 28), CTM_EINVAL);
    ck_assert_int_eq(ctm_forecast(&q, db, "NO-SUCH", 28), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_forecast(NULL, db, TRIAL, 28), CTM_EINVAL);
    ctm_logout(db);
    ck_assert_int_eq(ctm_forecast(&q, db, TRIAL, 28), CTM_EMISUSE);
    ck_assert_int_eq(ctm_self_inspection(&q, db, TRIAL, 90), CTM_EMISUSE);
    tu_login(db, "pia", PW);
    ck_assert_int_eq(ctm_self_inspection(&q, db, TRIAL, 0), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "stale days: 0"));
    ck_assert_int_eq(ctm_self_inspection(&q, db, "NO-SUCH", 90), CTM_ENOTFOUND);
}
END_TEST

/* ---- self-inspection ---- */

static char *inspection_text(const char *trial)
{
    ctm_query *q = NULL;
    tu_ok(ctm_self_inspection(&q, db, trial, 90));
    ck_assert_str_eq(ctm_query_column_name(q, 5), "since");
    char *text = listing_text(q);
    ctm_query_free(q);
    return text;
}

static void iso(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Stale access: an enabled account with no action for more than the stale days, counted from
 * its newest action or, when it has none, from its creation.  tom (technician) never acted. */
START_TEST(a_clean_site_shows_only_the_stale_accounts)
{
    /* created today: not stale, though it never acted */
    char *text = inspection_text(TRIAL);
    ck_assert_str_eq(text, "");
    free(text);
    /* created 89 days ago: not yet; 91 days ago: stale, since its creation */
    char ago[11], want[512];
    tu_sql_exec(db_path, "UPDATE users SET created_us = created_us - 89 * 86400000000"
                         " WHERE username = 'tom'");
    text = inspection_text(TRIAL);
    ck_assert_str_eq(text, "");
    free(text);
    tu_sql_exec(db_path, "UPDATE users SET created_us = created_us - 2 * 86400000000"
                         " WHERE username = 'tom'");
    tu_day(-91, ago);
    text = inspection_text(TRIAL);
    snprintf(want, sizeof want,
             "stale_access|-|tom|-|user tom (technician) is enabled and has recorded no action"
             " since the account was created on %s|%s\n", ago, ago);
    ck_assert_str_eq(text, want);
    free(text);
    /* an action today: not stale */
    tu_as(db, "tom", PW);
    tu_ok(ctm_audit_note(db, "fridge door checked", NULL));
    text = inspection_text(TRIAL);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(the_self_inspection_lists_each_finding)
{
    char today[11], ago20[11], back[11], after[11], want[4096];
    tu_day(0, today);
    tu_day(-20, ago20);
    tu_day(-4, back);
    tu_day(-3, after);
    /* a receipt with a missing kit (X2) and a kit that expired in 2025 (E1) */
    char m[512];
    snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\nX1,KT,L9,2099-01-01,ACT\n"
                          "X2,KT,L9,2099-01-01,ACT\nE1,KT,L0,2025-06-30,PLA\n");
    tu_ok(ctm_receive(db, TRIAL, "SH2", m, strlen(m), "FRIDGE1", NULL));
    tu_ok(ctm_receive_scan(db, "SH2", "X1", 0, NULL));
    tu_ok(ctm_receive_scan(db, "SH2", "E1", 0, NULL));
    tu_ok(ctm_receive_confirm(db, "SH2", 0));
    /* S1's V1 kit handed over on paper 20 days ago: V2's window ended 4 days ago */
    char *arm = tu_sql_text(db_path, "SELECT arm FROM subjects WHERE screening = 'S1'");
    const char *kit = strcmp(arm, "ACT") == 0 ? "A1" : "B1";
    free(arm);
    char when[32];
    snprintf(when, sizeof when, "%sT10:00:00Z", ago20);
    tu_ok(ctm_dispense_record(db, TRIAL, "S1", "V1", &kit, 1, when, "system down"));
    /* an hour from now, FRIDGE1 60 minutes above its range */
    time_t start = (time(NULL) / 60 + 60) * 60;
    char logger[4200], at[40];
    snprintf(logger, sizeof logger, "%s/fridge1.csv", dir);
    FILE *f = fopen(logger, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "time,temperature\n");
    for (int i = 0; i < 10; i++) {
        iso(start + (time_t)i * 600, at);
        fprintf(f, "%s,%.1f\n", at, i >= 2 && i < 8 ? 9.5 : 5.0);
    }
    fclose(f);
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    tu_ok(ctm_temp_import(db, "FRIDGE1", logger, NULL, &r));
    ck_assert_int_eq(r.excursions, 1);
    char exc_start[40], exc_day[11];
    iso(start + 1200, exc_start);
    memcpy(exc_day, exc_start, 10);
    exc_day[10] = '\0';
    int64_t kits = tu_sql_int(db_path, "SELECT count(*) FROM excursion_kits", NULL);

    char *text = inspection_text(TRIAL);
    snprintf(want, sizeof want,
             "discrepancy|" TRIAL "|shipment SH2|-|shipment SH2: kit X2 missing at receipt: X2 was"
             " not found in the shipment|%s\n"
             "overdue_return|" TRIAL "|%s|S1|kit %s (KT) dispensed to subject S1 at visit V1 on %s"
             " was due back by %s (the end of visit V2's window); no return or loss is"
             " recorded|%s\n"
             "expired_on_hand|" TRIAL "|E1|-|kit E1 (KT, lot L0) expired on 2025-06-30 and is"
             " still quarantined at FRIDGE1|2025-07-01\n"
             "open_excursion|" TRIAL "|excursion 1|-|excursion 1 at FRIDGE1 (high, 60 minutes"
             " from %s) awaits the sponsor's decision; %lld kits recorded with it|%s\n",
             today, kit, kit, ago20, back, after, exc_start, (long long)kits, exc_day);
    ck_assert_str_eq(text, want);
    /* the whole site: the same findings, a location's excursion of no one trial */
    char *all = inspection_text(NULL), want_all[4096];
    const char *exc = strstr(want, "open_excursion|" TRIAL "|");
    ck_assert_ptr_nonnull(exc);
    snprintf(want_all, sizeof want_all, "%.*sopen_excursion|-|%s", (int)(exc - want), want,
             exc + strlen("open_excursion|" TRIAL "|"));
    ck_assert_str_eq(all, want_all);
    free(all);
    /* a blinded technician: the same rows */
    tu_as(db, "tom", PW);
    char *blinded = inspection_text(TRIAL);
    ck_assert_str_eq(blinded, want);
    free(blinded);
    free(text);
    /* once returned, the kit is no longer overdue */
    tu_as(db, "pia", PW);
    tu_ok(ctm_return(db, TRIAL, kit, 10, NULL, NULL));
    text = inspection_text(TRIAL);
    ck_assert_ptr_null(strstr(text, "overdue_return"));
    free(text);
    tu_assert_verifies_all(db, NULL);
}
END_TEST


/* An intruder rewrites the signed entry of the receipt's confirmation without its e-signature:
 * the self-inspection names it (verification refuses the ledger too). */
START_TEST(an_entry_without_its_required_signature_is_a_finding)
{
    ctm__store *s = tu_store(db_path, 1);
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT seq, entry FROM ledger ORDER BY seq"),
                     CTM_OK);
    int64_t seq = -1, time_us = 0;
    ctm__buf b;
    ctm__buf_init(&b);
    while (seq < 0 && ctm__st_step(st) == CTM_ROW) {
        ctm__entry e;
        char why[128];
        ck_assert_int_eq(ctm__entry_decode(&e, ctm__st_blob(st, 1), ctm__st_bytes(st, 1), why,
                                           sizeof why), 0);
        if (strcmp(e.action, "shipment.confirm") == 0) {
            ck_assert(e.has_esig);
            e.has_esig = 0;
            ck_assert_int_eq(ctm__entry_encode(&b, &e), 0);
            seq = ctm__st_int(st, 0);
            time_us = e.time_us;
        }
        ctm__entry_free(&e);
    }
    ctm__st_finalize(st);
    ck_assert_int_ge(seq, 0);
    ck_assert_int_eq(ctm__st_prepare(s, &st, "UPDATE ledger SET entry = ?1 WHERE seq = ?2"), CTM_OK);
    ctm__st_bind_blob(st, 1, b.p, b.n);
    ctm__st_bind_int(st, 2, seq);
    ck_assert_int_eq(ctm__st_run(st), CTM_OK);
    ctm__st_finalize(st);
    ctm__buf_free(&b);
    ctm__store_close(s);

    char when[32], on[11], want[1024];
    ctm__format_time_seconds(time_us, when, sizeof when);
    memcpy(on, when, 10);
    on[10] = '\0';
    snprintf(want, sizeof want,
             "missing_signature|-|seq %lld|-|ledger entry %lld (shipment.confirm by pia at %s)"
             " needs an e-signature (\"%s\") and has none|%s\n",
             (long long)seq, (long long)seq, when, ctm__action_find("shipment.confirm")->meaning,
             on);
    ctm_query *q = NULL;
    tu_ok(ctm_self_inspection(&q, db, NULL, 90));
    char *text = listing_text(q);
    ctm_query_free(q);
    ck_assert_msg(strncmp(text, want, strlen(want)) == 0, "%s\nwant\n%s", text, want);
    ck_assert_ptr_null(strstr(text, "stale_access")); /* tom, created today, is not stale */
    free(text);
}
END_TEST

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    template_dir[0] = build_template(0);
    template_dir[1] = build_template(1);
    Suite *s = suite_create("inspect");
    TCase *tc = tu_tcase(s, "forecast", setup, teardown, 60);
    tcase_add_test(tc, the_forecast_counts_needs_against_stock_that_lasts);
    tcase_add_test(tc, an_assigned_visit_is_no_longer_due_and_its_kit_not_available);
    tcase_add_test(tc, forecast_refusals);
    tc = tu_tcase(s, "forecast-swapped", setup_swapped, teardown, 60);
    tcase_add_test(tc, the_swapped_site_shows_the_other_arm_short);
    tc = tu_tcase(s, "forecast-blinded", NULL, NULL, 60);
    tcase_add_test(tc, a_blinded_user_reads_the_same_forecast_whatever_the_arms);
    tc = tu_tcase(s, "self-inspection", setup, teardown, 60);
    tcase_add_test(tc, a_clean_site_shows_only_the_stale_accounts);
    tcase_add_test(tc, the_self_inspection_lists_each_finding);
    tcase_add_test(tc, an_entry_without_its_required_signature_is_a_finding);
    int rc = tu_run_suite(s);
    for (int i = 0; i < 2; i++) {
        tu_rmtree(template_dir[i]);
        free(template_dir[i]);
    }
    return rc;
}
