/* test_audit.c - reading the audit log with filters (ctm_audit_query), as a pharmacy searches it. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "audit-test-pass"
#define TRIAL "EU-CT-2026-500002"
#define OPEN "OPEN-2"
#define ARM1 "ARMALPHA"
#define ARM2 "ARMBETA"
#define MAX_SEQS 256

static char *template_dir;
static char *dir;
static ctm_db *db;

static void ok(int rc)
{
    ck_assert_msg(rc == CTM_OK, "status %d: %s", rc, ctm_errmsg());
}

static int build(ctm_db *h)
{
    ctm_kittype_options ko = CTM_KITTYPE_OPTIONS_INIT;
    int rc = ctm_login(h, "admin", PW);
    if (rc == CTM_OK)
        rc = ctm_trial_add(h, TRIAL, "A blinded trial", "Sponsor AB", 1, ARM1 ":1," ARM2 ":1");
    if (rc == CTM_OK)
        rc = ctm_trial_add(h, OPEN, "An open trial", "Sponsor AB", 0, "ACTIVE:1");
    if (rc == CTM_OK)
        rc = ctm_kittype_add(h, TRIAL, "KT", "Drug X 10 mg", 30, 2, 8, 0, &ko);
    if (rc == CTM_OK)
        rc = ctm_kittype_add(h, OPEN, "BOX", "Drug Y", 100, 15, 25, 0, NULL);
    if (rc == CTM_OK)
        rc = ctm_location_add(h, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_location_add(h, "FRIDGE2", "fridge", 2, 8);
    return rc;
}

/* The site once: an administrator, an unblinded pharmacist, a blinded technician, a blinded
 * trial, an open one, their kit types and two fridges. */
static int build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"ted", "technician", 0, "Ted Tech", PW},
    };
    template_dir = tu_build_template("admin", "Ada Admin", PW, users, 2);
    if (template_dir == NULL)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", template_dir, TU_SITE_DB);
    ctm_db *h = NULL;
    int rc = tu_open_rc(&h, path, NULL);
    if (rc == CTM_OK)
        rc = build(h);
    if (rc != CTM_OK)
        fprintf(stderr, "test_audit: building the site failed: %s\n", ctm_errmsg());
    ctm_close(h);
    return rc == CTM_OK ? 0 : -1;
}

static ctm_db *open_site(const char *d, const char *user)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d, TU_SITE_DB);
    ctm_db *h = tu_open(path, NULL);
    tu_login(h, user, PW);
    return h;
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    db = open_site(dir, "pia");
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

static int receive_on(ctm_db *h, const char *trial, const char *shipment, const char *manifest)
{
    return ctm_receive(h, trial, shipment, manifest, strlen(manifest), "FRIDGE1", NULL);
}

/* The seqs of the entries the filter selects, in the order returned. */
static size_t seqs_of(ctm_db *h, const ctm_audit_filter *f, uint64_t *seqs)
{
    ctm_query *q = NULL;
    size_t n = 0;
    int rc;
    ok(ctm_audit_query(&q, h, f));
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        ck_assert_uint_lt(n, MAX_SEQS);
        seqs[n++] = (uint64_t)ctm_query_int64(q, 0);
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return n;
}

/* The filter must select exactly these seqs (an array ended by UINT64_MAX). */
static void assert_seqs(ctm_db *h, const ctm_audit_filter *f, const uint64_t *expect)
{
    uint64_t got[MAX_SEQS];
    size_t n = seqs_of(h, f, got), k = 0;
    while (expect[k] != UINT64_MAX)
        k++;
    ck_assert_msg(n == k, "%zu entries selected, expected %zu", n, k);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == expect[i], "entry %zu is seq %llu, expected %llu", i,
                      (unsigned long long)got[i], (unsigned long long)expect[i]);
}

static int col(ctm_query *q, const char *name)
{
    for (int i = 0; i < ctm_query_column_count(q); i++)
        if (strcmp(ctm_query_column_name(q, i), name) == 0)
            return i;
    ck_abort_msg("no column %s", name);
    return -1;
}

/* One column of the entry seq as ctm_audit_query shows it to h's user, malloc'd. */
static char *entry_field(ctm_db *h, uint64_t seq, const char *name)
{
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    ctm_query *q = NULL;
    f.from_seq = seq;
    f.limit = 1;
    ok(ctm_audit_query(&q, h, &f));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_uint_eq((uint64_t)ctm_query_int64(q, 0), seq);
    const char *v = ctm_query_text(q, col(q, name));
    char *copy = strdup(v != NULL ? v : "");
    ctm_query_free(q);
    return copy;
}

static uint64_t log_size(void)
{
    return tu_audit_size(db);
}

/* ---- what a row shows ---- */

/* Every column of ctm_audit_log() must read the same in ctm_audit_query() for the same reader
 * (blinded or not), so that a filter never shows anyone more than the listing does. */
static void assert_same_as_listing(ctm_db *h)
{
    ctm_query *a = NULL, *b = NULL;
    ok(ctm_audit_log(&a, h, 0, 0));
    ok(ctm_audit_query(&b, h, NULL));
    int n = ctm_query_column_count(a), rows = 0;
    ck_assert_int_eq(ctm_query_column_count(b), n + 1);
    ck_assert_str_eq(ctm_query_column_name(b, n), "changes_summary");
    while (ctm_query_next(a) == CTM_ROW) {
        ck_assert_int_eq(ctm_query_next(b), CTM_ROW);
        for (int i = 0; i < n; i++) {
            const char *x = ctm_query_text(a, i), *y = ctm_query_text(b, i);
            ck_assert_str_eq(ctm_query_column_name(a, i), ctm_query_column_name(b, i));
            ck_assert_msg((x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0),
                          "row %d column %s differs", rows, ctm_query_column_name(a, i));
        }
        rows++;
    }
    ck_assert_int_eq(ctm_query_next(b), CTM_DONE);
    ck_assert_uint_eq((uint64_t)rows, tu_audit_size(h));
    ctm_query_free(a);
    ctm_query_free(b);
}

START_TEST(rows_read_as_in_the_listing)
{
    ok(receive_on(db, TRIAL, "SH1",
                  "kit_number,kit_type,lot,expiry,arm\nK001,KT,LOT1,2027-04-30," ARM1 "\n"));
    ok(ctm_receive_confirm(db, "SH1", 1));
    assert_same_as_listing(db);
    ctm_db *ted = open_site(dir, "ted");
    assert_same_as_listing(ted);
    ctm_close(ted);
}
END_TEST

/* ---- the cheap filters: user, action, seq ---- */

START_TEST(user_and_action_filters_combine)
{
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    uint64_t n = log_size();
    const char *receipt = "kit_number,kit_type,lot,expiry,arm\nK001,KT,LOT1,2027-04-30," ARM1 "\n";
    ok(receive_on(db, TRIAL, "SH1", receipt));
    ok(ctm_audit_note(db, "fridge checked", NULL));
    ok(ctm_receive_confirm(db, "SH1", 1));
    /* the template: 0 site.init, 1-2 user.add, then trial.add x2, kittype.add x2, location.add x2 */
    f.by = "admin";
    f.action = "user.add";
    assert_seqs(db, &f, (const uint64_t[]){1, 2, UINT64_MAX});
    f.action = "trial.add";
    assert_seqs(db, &f, (const uint64_t[]){3, 4, UINT64_MAX});
    f.by = "pia";
    f.action = NULL;
    assert_seqs(db, &f, (const uint64_t[]){n, n + 1, n + 2, UINT64_MAX});
    f.action = "shipment.*";
    assert_seqs(db, &f, (const uint64_t[]){n, n + 2, UINT64_MAX});
    f.action = "shipment.confirm";
    assert_seqs(db, &f, (const uint64_t[]){n + 2, UINT64_MAX});
    /* a family is the part before the dot, not any prefix */
    f.action = "shipment";
    assert_seqs(db, &f, (const uint64_t[]){UINT64_MAX});
    f.action = "ship.*";
    assert_seqs(db, &f, (const uint64_t[]){UINT64_MAX});
    f.by = "nobody";
    f.action = NULL;
    assert_seqs(db, &f, (const uint64_t[]){UINT64_MAX});
    /* from and limit count the matching entries, not the rows read */
    f.by = "admin";
    f.from_seq = 2;
    f.limit = 2;
    assert_seqs(db, &f, (const uint64_t[]){2, 3, UINT64_MAX});
}
END_TEST

START_TEST(last_takes_the_newest_oldest_first)
{
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    for (int i = 0; i < 3; i++)
        ok(ctm_audit_note(db, "a note", NULL));
    uint64_t n = log_size();
    f.last = 2;
    assert_seqs(db, &f, (const uint64_t[]){n - 2, n - 1, UINT64_MAX});
    f.by = "admin";
    f.last = 3;
    assert_seqs(db, &f, (const uint64_t[]){6, 7, 8, UINT64_MAX});
    f.last = 1000; /* more than there are: all of them */
    f.action = "user.add";
    assert_seqs(db, &f, (const uint64_t[]){1, 2, UINT64_MAX});
    f.from_seq = 2;
    assert_seqs(db, &f, (const uint64_t[]){2, UINT64_MAX});
    f.limit = 1;
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_audit_query(&q, db, &f), CTM_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "last"));
}
END_TEST

/* ---- time ---- */

/* The entry's time as written by the library, "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
static void time_of(uint64_t seq, char out[32])
{
    char *t = entry_field(db, seq, "time");
    ck_assert_uint_eq(strlen(t), 27);
    memcpy(out, t, 28);
    free(t);
}

START_TEST(time_bounds_are_inclusive_at_their_precision)
{
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    uint64_t seqs[MAX_SEQS];
    uint64_t n = log_size();
    char t[32], day[11], minute[17], shifted[40];
    time_of(n - 3, t);
    /* exact to the microsecond: since and until both include the instant */
    f.since = t;
    size_t k = seqs_of(db, &f, seqs);
    ck_assert_uint_eq(k, 3);
    ck_assert_uint_eq(seqs[0], n - 3);
    f.since = NULL;
    f.until = t;
    k = seqs_of(db, &f, seqs);
    ck_assert_uint_eq(seqs[k - 1], n - 3);
    ck_assert_uint_eq(k, n - 2);
    f.since = t;
    assert_seqs(db, &f, (const uint64_t[]){n - 3, UINT64_MAX});

    /* a date is its whole day; a minute its whole minute */
    memcpy(day, t, 10);
    day[10] = '\0';
    f.since = day;
    f.until = day;
    ck_assert_uint_ge(seqs_of(db, &f, seqs), 1);
    memcpy(minute, t, 16);
    minute[16] = '\0';
    f.since = NULL;
    f.until = minute;
    k = seqs_of(db, &f, seqs);
    ck_assert_uint_ge(k, n - 2);
    for (size_t i = 0; i < k; i++) {
        char ti[32];
        time_of(seqs[i], ti);
        ck_assert_msg(strncmp(ti, minute, 16) <= 0, "%s is after the minute %s", ti, minute);
    }

    /* the same instant written with an offset */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    ck_assert_ptr_nonnull(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t secs = timegm(&tm) + 5400;
    gmtime_r(&secs, &tm);
    strftime(shifted, sizeof shifted, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(shifted + strlen(shifted), sizeof shifted - strlen(shifted), "%.7s+01:30", t + 19);
    f.since = shifted;
    f.until = t;
    assert_seqs(db, &f, (const uint64_t[]){n - 3, UINT64_MAX});

    f.since = "1999-12-31";
    f.until = "2000-01-01T00:00:00Z";
    assert_seqs(db, &f, (const uint64_t[]){UINT64_MAX});
}
END_TEST

START_TEST(bad_filters_are_named)
{
    static const struct {
        const char *field, *value;
    } bad[] = {
        {"since", "2026-02-30"},        {"since", "yesterday"},      {"until", "2026-11-23T24:00"},
        {"until", "2026-11-23T12"},     {"since", "2026-11-23T12:00:00.1234567"},
        {"since", "2026-11-23T12:00+1"}, {"action", "shipment.**"},  {"action", "kit status"},
        {"by", ""},                     {"trial", "no such;trial"}, {"kit", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
        ctm_query *q = NULL;
        const char **field = strcmp(bad[i].field, "since") == 0   ? &f.since
                             : strcmp(bad[i].field, "until") == 0 ? &f.until
                             : strcmp(bad[i].field, "action") == 0 ? &f.action
                             : strcmp(bad[i].field, "by") == 0    ? &f.by
                             : strcmp(bad[i].field, "trial") == 0 ? &f.trial
                                                                  : &f.kit;
        *field = bad[i].value;
        ck_assert_msg(ctm_audit_query(&q, db, &f) == CTM_EINVAL, "%s '%s' accepted",
                      bad[i].field, bad[i].value);
        ck_assert_ptr_null(q);
        ck_assert_msg(strncmp(ctm_errmsg(), bad[i].field, strlen(bad[i].field)) == 0,
                      "the message does not name %s: %s", bad[i].field, ctm_errmsg());
    }
    ctm_audit_filter small = CTM_AUDIT_FILTER_INIT;
    ctm_query *q = NULL;
    small.struct_size = sizeof(size_t);
    ck_assert_int_eq(ctm_audit_query(&q, db, &small), CTM_EINVAL);
    ck_assert_int_eq(ctm_audit_query(NULL, db, NULL), CTM_EINVAL);
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.trial = "NO-SUCH-TRIAL";
    ck_assert_int_eq(ctm_audit_query(&q, db, &f), CTM_ENOTFOUND);
    f.trial = NULL;
    f.kit = "K404";
    ck_assert_int_eq(ctm_audit_query(&q, db, &f), CTM_ENOTFOUND);
    ck_assert_ptr_null(q);
    ctm_logout(db);
    ck_assert_int_eq(ctm_audit_query(&q, db, NULL), CTM_EMISUSE);
}
END_TEST

/* ---- trial and kit ---- */

START_TEST(trial_and_kit_follow_the_rows)
{
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    uint64_t n = log_size();
    const char *blinded = "kit_number,kit_type,lot,expiry,arm\n"
                          "K001,KT,LOT1,2027-04-30," ARM1 "\n"
                          "K002,KT,LOT1,2027-04-30," ARM2 "\n";
    const char *open = "kit_number,kit_type,lot,expiry\nK001,BOX,LOTY,2027-05-31\n";
    const char *k002[] = {"K002"};
    ctm_scan_result r = {.struct_size = sizeof r};
    ok(receive_on(db, TRIAL, "SH1", blinded));                 /* n */
    ok(receive_on(db, OPEN, "SH2", open));                     /* n + 1 */
    ok(ctm_receive_scan(db, "SH1", "K001", 0, &r));             /* n + 2 */
    ok(ctm_receive_confirm(db, "SH1", 1));                      /* n + 3 */
    ok(ctm_transfer(db, TRIAL, k002, 1, "FRIDGE2", "space"));   /* n + 4: a kit_moves row */
    ok(ctm_kit_set_status(db, TRIAL, "K002", "quarantined", "dropped")); /* n + 5 */
    ok(ctm_audit_note(db, "K002 looked fine", NULL));            /* n + 6: text is not a kit */

    f.kit = "K002";
    assert_seqs(db, &f, (const uint64_t[]){n, n + 3, n + 4, n + 5, UINT64_MAX});
    /* a scan of the pack names the same kit (its serial is the kit number) */
    f.kit = "(01)05909990329717(21)K002";
    assert_seqs(db, &f, (const uint64_t[]){n, n + 3, n + 4, n + 5, UINT64_MAX});
    /* K001 is a kit of both trials */
    f.kit = "K001";
    assert_seqs(db, &f, (const uint64_t[]){n, n + 1, n + 2, n + 3, UINT64_MAX});
    f.trial = OPEN;
    assert_seqs(db, &f, (const uint64_t[]){n + 1, UINT64_MAX});
    f.kit = NULL;
    /* the open trial: its trial.add and kit type (in the template), its shipment */
    assert_seqs(db, &f, (const uint64_t[]){4, 6, n + 1, UINT64_MAX});
    f.trial = TRIAL;
    f.action = "kit.*";
    assert_seqs(db, &f, (const uint64_t[]){n + 4, n + 5, UINT64_MAX});
}
END_TEST

/* ---- summaries ---- */

START_TEST(long_change_lists_are_counted)
{
    uint64_t n = log_size();
    size_t cap = 64 + 1200 * 40;
    char *m = malloc(cap);
    size_t len = (size_t)snprintf(m, cap, "kit_number,kit_type,lot,expiry,arm\n");
    for (int i = 0; i < 1200; i++)
        len += (size_t)snprintf(m + len, cap - len, "B%04d,KT,LOTB,2028-01-31,%s\n", i,
                                i % 2 ? ARM1 : ARM2);
    ok(receive_on(db, TRIAL, "SHBIG", m));
    free(m);
    char *s = entry_field(db, n, "changes_summary");
    ck_assert_str_eq(s, "shipments: 1 inserted; lots: 1 inserted; kits: 1,200 inserted;"
                        " kit_events: 1,200 inserted; darf_lines: 1,200 inserted");
    free(s);
    /* the full list stays in changes */
    s = entry_field(db, n, "changes");
    size_t kits = 0;
    for (const char *p = s; (p = strstr(p, "\"table\":\"kits\"")) != NULL; p++)
        kits++;
    ck_assert_uint_eq(kits, 1200);
    free(s);
    /* confirming: 1,200 kit updates and one shipment update, tables in order of appearance */
    ok(ctm_receive_confirm(db, "SHBIG", 1));
    s = entry_field(db, n + 1, "changes_summary");
    ck_assert_str_eq(s, "kits: 1,200 updated; kit_events: 1,200 inserted; shipments: 1 updated");
    free(s);
}
END_TEST

START_TEST(short_change_lists_are_shown_row_by_row)
{
    uint64_t n = log_size();
    ok(receive_on(db, TRIAL, "SH1",
                  "kit_number,kit_type,lot,expiry,arm\nK001,KT,LOT1,2027-04-30," ARM1 "\n"));
    ok(ctm_receive_confirm(db, "SH1", 1));
    ok(ctm_kit_set_status(db, TRIAL, "K001", "quarantined", "dropped"));
    ok(ctm_audit_note(db, "nothing changed but this note", NULL));
    char *s = entry_field(db, n + 2, "changes_summary");
    /* the kit's change and the row of its history that records it */
    const char *event = "kits id=1 updated: status available -> quarantined\n"
                        "kit_events id=3 inserted: kit_id=1, status=quarantined, at_us=";
    ck_assert_msg(strncmp(s, event, strlen(event)) == 0, "%s", s);
    ck_assert_msg(strstr(s, ", by_user=") != NULL && strchr(s + strlen(event), '\n') == NULL,
                  "%s", s);
    free(s);
    s = entry_field(db, n + 3, "changes_summary");
    ck_assert_str_eq(s, "");
    free(s);
    /* five rows (shipment, lot, kit, its history's first row and that row's DARF line): five
     * lines; NULL columns of an inserted row are left out */
    s = entry_field(db, n, "changes_summary");
    ck_assert_ptr_nonnull(strstr(s, "\nkits id=1 inserted: trial_id=1, kit_number=K001, "));
    ck_assert_ptr_nonnull(strstr(s, "\nkit_events id=1 inserted: kit_id=1, status=received, "));
    ck_assert_ptr_nonnull(strstr(s, "arm=" ARM1 ","));
    ck_assert_ptr_null(strstr(s, "serial"));
    ck_assert_ptr_nonnull(strstr(s, "\ndarf_lines id=1 inserted: kit_type_id=1, kit_id=1,"
                                    " status=received, "));
    const char *fourth = strchr(strchr(strchr(strchr(s, '\n') + 1, '\n') + 1, '\n') + 1, '\n');
    ck_assert_ptr_nonnull(fourth);
    ck_assert_ptr_eq(strchr(fourth + 1, '\n'), NULL);
    free(s);
    /* a blinded reader sees the arm's place, not its value */
    ctm_db *ted = open_site(dir, "ted");
    s = entry_field(ted, n, "changes_summary");
    ck_assert_ptr_nonnull(strstr(s, "arm=(blinded),"));
    ck_assert_ptr_null(strstr(s, ARM1));
    free(s);
    ctm_close(ted);
}
END_TEST

/* ---- blinding ---- */

/*
 * Two sites that differ only in which arm each kit has.  A filter that looked at arms (matched a
 * kit number against any value, say) would select different entries on the two for a blinded
 * user; the kit numbered like an arm code makes that visible.
 */
START_TEST(blinded_filters_select_the_same_whatever_the_arms)
{
    char *other = tu_test_dir(template_dir, TU_SITE_DB);
    ctm_db *sites[2] = {db, open_site(other, "pia")};
    for (int i = 0; i < 2; i++) {
        const char *a = i == 0 ? ARM1 : ARM2, *b = i == 0 ? ARM2 : ARM1;
        char m1[256], m2[256];
        snprintf(m1, sizeof m1, "kit_number,kit_type,lot,expiry,arm\n" ARM2 ",KT,L1,2027-04-30,%s\n"
                 "K010,KT,L1,2027-04-30,%s\n", a, b);
        snprintf(m2, sizeof m2, "kit_number,kit_type,lot,expiry,arm\nK011,KT,L1,2027-04-30,%s\n", b);
        ok(receive_on(sites[i], TRIAL, "SH1", m1));
        ok(receive_on(sites[i], TRIAL, "SH2", m2));
        ok(ctm_receive_confirm(sites[i], "SH1", 1));
        ok(ctm_receive_confirm(sites[i], "SH2", 1));
    }
    ctm_db *blind[2] = {open_site(dir, "ted"), open_site(other, "ted")};
    static const char *kits[] = {ARM2, "K010", "K011"};
    uint64_t base = tu_audit_size(db) - 4;
    for (int k = 0; k < 3; k++) {
        ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
        uint64_t s0[MAX_SEQS], s1[MAX_SEQS];
        f.kit = kits[k];
        size_t n0 = seqs_of(blind[0], &f, s0), n1 = seqs_of(blind[1], &f, s1);
        ck_assert_msg(n0 == n1 && memcmp(s0, s1, n0 * sizeof *s0) == 0,
                      "kit %s: the entries differ with the arms", kits[k]);
        /* and they are the kit's own: the kit numbered ARMBETA is in SH1 only */
        ck_assert_uint_eq(n0, 2);
        ck_assert_uint_eq(s0[0], k == 2 ? base + 1 : base);
    }
    /* an unblinded reader's kit filter does not look at arms either */
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.kit = ARM2;
    assert_seqs(db, &f, (const uint64_t[]){base, base + 2, UINT64_MAX});
    f.kit = ARM1; /* an arm code, and no kit's number */
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_audit_query(&q, blind[0], &f), CTM_ENOTFOUND);
    ctm_close(blind[0]);
    ctm_close(blind[1]);
    tu_teardown(&other, &sites[1], NULL);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tu_tcase(s, "filters", setup, teardown, 60);
    tcase_add_test(tc, rows_read_as_in_the_listing);
    tcase_add_test(tc, user_and_action_filters_combine);
    tcase_add_test(tc, last_takes_the_newest_oldest_first);
    tcase_add_test(tc, time_bounds_are_inclusive_at_their_precision);
    tcase_add_test(tc, bad_filters_are_named);
    tcase_add_test(tc, trial_and_kit_follow_the_rows);
    tc = tu_tcase(s, "summaries", setup, teardown, 60);
    tcase_add_test(tc, long_change_lists_are_counted);
    tcase_add_test(tc, short_change_lists_are_shown_row_by_row);
    tc = tu_tcase(s, "blinding", setup, teardown, 60);
    tcase_add_test(tc, blinded_filters_select_the_same_whatever_the_arms);
    return s;
}

int main(void)
{
    if (sodium_init() < 0 || build_template() != 0)
        return EXIT_FAILURE;
    int rc = tu_run_suite(audit_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
