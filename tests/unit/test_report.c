/* test_report.c - reports as a pharmacy prints and files them: the inventory of kits on hand with
 * their days to expiry, the audit trail for people, each in text, CSV, JSON and HTML with the
 * signed checkpoint it was drawn from; blinded readers get blinded reports; every refusal names
 * its field. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "testutil.h"

#define PW "report-pw-1234"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_report: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* A pharmacist (unblinded), a technician (blinded); one fridge; an open and a blinded trial. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/r.db", template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    must(tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR, "open");
    must(ctm_init(h, "Report Test Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "add pharmacist");
    must(ctm_user_add(h, "ted", "technician", 0, "Ted Tech", PW), "add technician");
    must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    must(ctm_trial_add(h, "OPEN-1", "An open trial", "Sponsor AB", 0, "ACTIVE:1"), "trial");
    must(ctm_kittype_add(h, "OPEN-1", "KT", "Drug X", 30, 2, 8, 0, NULL), "kit type");
    must(ctm_kittype_add(h, "OPEN-1", "KU", "Drug Y", 10, 2, 8, 0, NULL), "kit type 2");
    must(ctm_trial_add(h, "BLIND-1", "A blinded trial", "Sponsor AB", 1, "ARMALPHA:1,ARMBETA:1"),
         "blinded trial");
    must(ctm_kittype_add(h, "BLIND-1", "BKT", "Drug Z or placebo", 30, 2, 8, 0, NULL),
         "blinded kit type");
    ctm_close(h);
}

/* OPEN-1: K1 expires in 10 days, K2 in 100 (then quarantined), K3 today, K4 (missing), K5 three
 * days ago, K6 of kit type KU in 200 days; BLIND-1: B1 and B2, one per arm. */
static void setup(void)
{
    dir = tu_test_dir(template_dir, "r.db");
    snprintf(db_path, sizeof db_path, "%s/r.db", dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
    char d10[11], d100[11], d0[11], dm3[11], d200[11], m[1024];
    tu_day(10, d10);
    tu_day(100, d100);
    tu_day(0, d0);
    tu_day(-3, dm3);
    tu_day(200, d200);
    int n = snprintf(m, sizeof m,
                     "kit_number,kit_type,lot,expiry\nK1,KT,L1,%s\nK2,KT,L2,%s\nK3,KT,L3,%s\n"
                     "K4,KT,L1,%s\nK5,KT,L5,%s\nK6,KU,L6,%s\n",
                     d10, d100, d0, d10, dm3, d200);
    tu_ok(ctm_receive(db, "OPEN-1", "SH1", m, (size_t)n, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SH1", 1));
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K2", "quarantined", "dropped on the floor"));
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K4", "missing", "=HYPERLINK(\"x\") <b>gone</b>"));
    /* one kit per shipment: the audit trail then shows each kit's row, arm included */
    n = snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\nB1,BKT,LB,%s,ARMALPHA\n", d100);
    tu_ok(ctm_receive(db, "BLIND-1", "SHB", m, (size_t)n, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SHB", 1));
    n = snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\nB2,BKT,LB,%s,ARMBETA\n", d100);
    tu_ok(ctm_receive(db, "BLIND-1", "SHC", m, (size_t)n, "FRIDGE1", NULL));
    tu_ok(ctm_receive_confirm(db, "SHC", 1));
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

/* The rows of a report, one line per row of "col=value|col=value...". */
static char *rows_of(const char *report, const ctm_report_options *o)
{
    ctm_query *q = NULL;
    tu_ok(ctm_report(&q, db, report, o));
    size_t cap = 8192, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        for (int c = 0; c < ctm_query_column_count(q); c++) {
            const char *v = ctm_query_text(q, c);
            size_t need = len + strlen(ctm_query_column_name(q, c)) + (v ? strlen(v) : 4) + 4;
            if (need >= cap) {
                cap = 2 * need;
                out = realloc(out, cap);
                ck_assert_ptr_nonnull(out);
            }
            len += (size_t)sprintf(out + len, "%s%s=%s", c ? "|" : "",
                                   ctm_query_column_name(q, c), v ? v : "NULL");
        }
        out[len++] = '\n';
        out[len] = '\0';
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

static char *render(const char *report, const ctm_report_options *o, const char *format)
{
    char *text = NULL;
    int rc = ctm_report_render(&text, db, report, o, format);
    ck_assert_msg(rc == CTM_OK, "render %s %s: %d %s", report, format, rc, ctm_errmsg());
    return text;
}

static void assert_has(const char *text, const char *part)
{
    ck_assert_msg(strstr(text, part) != NULL, "missing \"%s\" in:\n%.3000s", part, text);
}

static void assert_lacks(const char *text, const char *part)
{
    ck_assert_msg(strstr(text, part) == NULL, "\"%s\" should not be in:\n%.3000s", part, text);
}

START_TEST(the_inventory_lists_kits_on_hand_with_days_to_expiry)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    char *rows = rows_of("inventory", &o);
    char d10[11], d100[11], d0[11], dm3[11], d200[11], want[2048];
    tu_day(10, d10);
    tu_day(100, d100);
    tu_day(0, d0);
    tu_day(-3, dm3);
    tu_day(200, d200);
    snprintf(want, sizeof want,
             "trial=OPEN-1|kit_number=K1|kit_type=KT|lot=L1|expiry=%s|status=available|"
             "location=FRIDGE1|units=30|days_to_expiry=10|expiring_soon=1|expired=0|arm=ACTIVE\n"
             "trial=OPEN-1|kit_number=K2|kit_type=KT|lot=L2|expiry=%s|status=quarantined|"
             "location=FRIDGE1|units=30|days_to_expiry=100|expiring_soon=0|expired=0|arm=ACTIVE\n"
             "trial=OPEN-1|kit_number=K3|kit_type=KT|lot=L3|expiry=%s|status=available|"
             "location=FRIDGE1|units=30|days_to_expiry=0|expiring_soon=1|expired=0|arm=ACTIVE\n"
             "trial=OPEN-1|kit_number=K5|kit_type=KT|lot=L5|expiry=%s|status=available|"
             "location=FRIDGE1|units=30|days_to_expiry=-3|expiring_soon=0|expired=1|arm=ACTIVE\n"
             "trial=OPEN-1|kit_number=K6|kit_type=KU|lot=L6|expiry=%s|status=available|"
             "location=FRIDGE1|units=10|days_to_expiry=200|expiring_soon=0|expired=0|arm=ACTIVE\n",
             d10, d100, d0, dm3, d200);
    ck_assert_str_eq(rows, want);
    free(rows);
    /* a wider window flags K2; a kit type narrows */
    o.days = 100;
    o.kit_type = "KT";
    rows = rows_of("inventory", &o);
    assert_has(rows, "kit_number=K2|kit_type=KT|lot=L2|expiry=");
    assert_has(rows, "days_to_expiry=100|expiring_soon=1|expired=0");
    assert_lacks(rows, "K6");
    free(rows);
}
END_TEST

START_TEST(the_inventory_shows_arms_only_to_unblinded_readers)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "BLIND-1";
    char *rows = rows_of("inventory", &o);
    assert_has(rows, "kit_number=B1|kit_type=BKT|lot=LB|");
    assert_has(rows, "|arm=ARMALPHA\n");
    assert_has(rows, "|arm=ARMBETA\n");
    free(rows);
    rows = rows_of("audit", &o);
    assert_has(rows, "arm=ARMALPHA");
    free(rows);
    tu_as(db, "ted", PW);
    rows = rows_of("audit", &o);
    assert_lacks(rows, "arm=ARMALPHA");
    assert_lacks(rows, "arm=ARMBETA");
    assert_has(rows, "arm=(blinded)");
    free(rows);
    rows = rows_of("inventory", &o);
    assert_has(rows, "kit_number=B1|kit_type=BKT|lot=LB|");
    assert_has(rows, "kit_number=B2|kit_type=BKT|lot=LB|");
    assert_lacks(rows, "ARMALPHA");
    assert_lacks(rows, "ARMBETA");
    assert_has(rows, "|arm=(blinded)\n");
    free(rows);
    static const char *const formats[] = {"text", "csv", "json", "html"};
    for (int i = 0; i < 4; i++) {
        char *text = render("inventory", NULL, formats[i]);
        assert_lacks(text, "ARMALPHA");
        assert_lacks(text, "ARMBETA");
        assert_has(text, "(blinded)");
        ctm_free(text);
        /* the trial's arm codes are no secret (its definition); a kit's arm is */
        text = render("audit", NULL, formats[i]);
        assert_lacks(text, "arm=ARMALPHA");
        assert_lacks(text, "arm=ARMBETA");
        assert_has(text, "arm=(blinded)");
        ctm_free(text);
    }
}
END_TEST

/* The third line of the newest checkpoint's note: its root as base64. */
static void checkpoint_root(char *root, size_t len, uint64_t *size)
{
    char *note = NULL;
    tu_ok(ctm_audit_checkpoint(&note, db));
    const char *p = strchr(note, '\n');
    *size = strtoull(p + 1, NULL, 10);
    p = strchr(p + 1, '\n') + 1;
    snprintf(root, len, "%.*s", (int)strcspn(p, "\n"), p);
    ctm_free(note);
}

START_TEST(json_names_the_site_the_period_and_the_checkpoint)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    char *json = render("inventory", &o, "json");
    char root[64], want[256], today[11];
    uint64_t size;
    checkpoint_root(root, sizeof root, &size);
    ck_assert_uint_eq(size, tu_audit_size(db));
    tu_day(0, today);
    static const char head[] = "{\n  \"report\": \"inventory\",\n"
                               "  \"title\": \"Inventory of kits on hand\",\n"
                               "  \"site\": \"Report Test Pharmacy\",\n"
                               "  \"trial\": \"OPEN-1\",\n  \"as_of\": null,\n"
                               "  \"from\": null,\n  \"to\": null,\n  \"generated_at\": \"";
    ck_assert_msg(strncmp(json, head, sizeof head - 1) == 0, "%s", json);
    snprintf(want, sizeof want, "\"size\": %llu, \"root\": \"%s\", \"root_hex\": \"",
             (unsigned long long)size, root);
    assert_has(json, want);
    snprintf(want, sizeof want,
             "\"date\": \"%s\",\n  \"days\": 30,\n  \"kits\": 5,\n  \"units\": 130,\n"
             "  \"expiring_soon\": 2,\n  \"expired\": 1,\n  \"rows\": [\n    {\"trial\": \"OPEN-1\", "
             "\"kit_number\": \"K1\", \"kit_type\": \"KT\", \"lot\": \"L1\", ", today);
    assert_has(json, want);
    assert_has(json, "\"units\": 30, \"days_to_expiry\": 10, \"expiring_soon\": 1, "
                     "\"expired\": 0, \"arm\": \"ACTIVE\"}");
    ck_assert_str_eq(json + strlen(json) - 8, "}\n  ]\n}\n");
    ctm_free(json);
}
END_TEST

START_TEST(text_aligns_columns_under_a_header)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    o.kit_type = "KU";
    char *text = render("inventory", &o, "text");
    char root[64], want[1024], d200[11];
    uint64_t size;
    checkpoint_root(root, sizeof root, &size);
    tu_day(200, d200);
    assert_has(text, "Inventory of kits on hand\n\nSite:          Report Test Pharmacy\n"
                     "Trial:         OPEN-1 (An open trial)\n"
                     "Period:        as of now (");
    snprintf(want, sizeof want, "Checkpoint:    size %llu, root %s (hex ",
             (unsigned long long)size, root);
    assert_has(text, want);
    assert_has(text, "\nkits:          1\nunits:         10\nexpiring_soon: 0\n");
    snprintf(want, sizeof want,
             "\ntrial   kit_number  kit_type  lot  expiry      status     location  units"
             "  days_to_expiry  expiring_soon  expired  arm\n"
             "OPEN-1  K6          KU        L6   %s  available  FRIDGE1      10"
             "             200              0        0  ACTIVE\n(1 row)\n", d200);
    assert_has(text, want);
    ctm_free(text);
}
END_TEST

START_TEST(the_audit_trail_for_people)
{
    tu_ok(ctm_audit_note(db, "monitor visit, all accounted for", "reviewed"));
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    char *rows = rows_of("audit", &o);
    assert_has(rows, "|user=pia|printed_name=Pia Pharm|action=kit.status|"
                     "reason=dropped on the floor|changes=kits id=2 updated: status available -> "
                     "quarantined\nkit_events id=");
    assert_has(rows, "|user=admin|printed_name=Ada Admin|action=trial.add|");
    assert_lacks(rows, "audit.note");
    assert_lacks(rows, "BLIND-1");
    ck_assert_msg(strncmp(rows, "seq=", 4) == 0, "%s", rows);
    free(rows);
    /* every trial: the signed note shows its manifestation */
    rows = rows_of("audit", NULL);
    const char *line = strstr(rows, "action=audit.note");
    ck_assert_ptr_nonnull(line);
    assert_has(line, "|esig_name=Pia Pharm|esig_time=");
    assert_has(line, "|esig_meaning=reviewed\n");
    free(rows);
    /* a period that ended yesterday holds nothing; one from today holds it all */
    char yesterday[11], today[11];
    tu_day(-1, yesterday);
    tu_day(0, today);
    o.to = yesterday;
    rows = rows_of("audit", &o);
    ck_assert_str_eq(rows, "");
    free(rows);
    o.to = NULL;
    o.as_of = yesterday;
    rows = rows_of("audit", &o);
    ck_assert_str_eq(rows, "");
    free(rows);
    o.as_of = NULL;
    o.from = today;
    rows = rows_of("audit", &o);
    assert_has(rows, "action=kit.status");
    free(rows);
}
END_TEST

START_TEST(csv_and_html_escape_what_people_typed)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    char *csv = render("audit", &o, "csv");
    static const char head[] = "seq,time,user,printed_name,action,reason,changes,esig_name,"
                               "esig_time,esig_meaning\r\n";
    ck_assert_msg(strncmp(csv, head, sizeof head - 1) == 0, "%s", csv);
    assert_has(csv, ",pia,Pia Pharm,kit.status,\"'=HYPERLINK(\"\"x\"\") <b>gone</b>\",");
    ctm_free(csv);
    char *html = render("audit", &o, "html");
    assert_has(html, "<!DOCTYPE html>");
    assert_has(html, "@page");
    assert_has(html, "=HYPERLINK(&quot;x&quot;) &lt;b&gt;gone&lt;/b&gt;");
    assert_lacks(html, "<b>gone");
    assert_lacks(html, "<script");
    assert_lacks(html, "http");
    assert_lacks(html, " src=");
    assert_has(html, "<b>Site:</b> Report Test Pharmacy</p>");
    assert_has(html, "<b>Trial:</b> OPEN-1 (An open trial)</p>");
    assert_has(html, "<b>Ledger checkpoint:</b> size ");
    ctm_free(html);
}
END_TEST

static void assert_refused(const char *report, const ctm_report_options *o, const char *format,
                           int code, const char *message)
{
    char *text = NULL;
    int rc = format != NULL ? ctm_report_render(&text, db, report, o, format)
                            : ctm_report(&(ctm_query *){NULL}, db, report, o);
    ck_assert_msg(rc == code, "%s: %d, not %d (%s)", report, rc, code, ctm_errmsg());
    ck_assert_msg(strstr(ctm_errmsg(), message) != NULL, "message \"%s\" lacks \"%s\"",
                  ctm_errmsg(), message);
    ck_assert_ptr_null(text);
}

START_TEST(refusals_name_the_field)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    assert_refused("stock", NULL, NULL, CTM_EINVAL,
                   "report: no report 'stock' (the reports are inventory, audit, subjects,"
                   " reconciliation, darf, forecast, self-inspection)");
    assert_refused("inventory", NULL, "pdf", CTM_EINVAL,
                   "format: 'pdf' is none of text, csv, json, html");
    o.as_of = "2026-01-01";
    assert_refused("inventory", &o, NULL, CTM_EINVAL, "as_of: the inventory report does not take it");
    o.as_of = "2026-02-30";
    assert_refused("audit", &o, NULL, CTM_EINVAL, "as_of");
    o.as_of = "1.1.2026";
    assert_refused("audit", &o, NULL, CTM_EINVAL, "as_of: '1.1.2026' is not a date YYYY-MM-DD");
    o.as_of = "2026-01-01";
    o.to = "2026-01-02";
    assert_refused("audit", &o, NULL, CTM_EINVAL, "as_of: not together with from or to");
    o.as_of = NULL;
    o.from = "2026-01-03";
    assert_refused("audit", &o, NULL, CTM_EINVAL, "from: 2026-01-03 is after to 2026-01-02");
    o = (ctm_report_options)CTM_REPORT_OPTIONS_INIT;
    o.days = 5;
    assert_refused("audit", &o, NULL, CTM_EINVAL, "days: the audit report does not take it");
    o.days = -2;
    assert_refused("inventory", &o, NULL, CTM_EINVAL, "days: -2 is not a number of days");
    o.days = -1;
    o.trial = "NOPE";
    assert_refused("inventory", &o, NULL, CTM_ENOTFOUND, "NOPE");
    assert_refused("inventory", &o, "json", CTM_ENOTFOUND, "NOPE");
    o.trial = "OPEN-1";
    o.kit_type = "ZZ";
    assert_refused("inventory", &o, NULL, CTM_ENOTFOUND, "kit_type: no kit type 'ZZ' in this trial");
    /* inside a batch nothing is under a checkpoint yet */
    tu_ok(ctm_batch_begin(db));
    assert_refused("inventory", NULL, "text", CTM_EMISUSE, "a batch is open");
    ck_assert_int_eq(ctm_batch_rollback(db), CTM_OK);
    ctm_logout(db);
    assert_refused("inventory", NULL, NULL, CTM_EMISUSE, "nobody is logged in");
}
END_TEST

/* The rows and the checkpoint are of one state: a write made while the rows are read by the
 * renderer cannot fall between them, and a rendering after it shows both. */
START_TEST(a_render_after_a_write_names_the_new_checkpoint)
{
    char *before = render("inventory", NULL, "json");
    uint64_t size0 = tu_audit_size(db);
    tu_ok(ctm_kit_set_status(db, "OPEN-1", "K1", "quarantined", "check"));
    char *after = render("inventory", NULL, "json");
    char want[64];
    snprintf(want, sizeof want, "\"size\": %llu,", (unsigned long long)size0);
    assert_has(before, want);
    snprintf(want, sizeof want, "\"size\": %llu,", (unsigned long long)size0 + 1);
    assert_has(after, want);
    assert_has(after, "\"kit_number\": \"K1\", \"kit_type\": \"KT\", \"lot\": \"L1\", ");
    assert_has(strstr(after, "\"kit_number\": \"K1\""), "\"status\": \"quarantined\"");
    ctm_free(before);
    ctm_free(after);
}
END_TEST

/* The summary of a rendered report, "key=value;..." (value NULL as NULL). */
static char *summary_of(const char *report, const ctm_report_options *o, const char *format)
{
    char *text = NULL;
    ctm_query *q = NULL;
    int rc = ctm_report_render_summary(&text, &q, db, report, o, format);
    ck_assert_msg(rc == CTM_OK, "render %s %s: %d %s", report, format, rc, ctm_errmsg());
    ck_assert_ptr_nonnull(text);
    ctm_free(text);
    char *out = calloc(1, 512);
    ck_assert_ptr_nonnull(out);
    size_t len = 0;
    while ((rc = ctm_query_next(q)) == CTM_ROW && len < 400) {
        const char *v = ctm_query_text(q, 1);
        len += (size_t)snprintf(out + len, 512 - len, "%s=%s;", ctm_query_text(q, 0),
                                v != NULL ? v : "NULL");
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

/* The render hands back the summary it drew, in the same snapshot as the rows it shows, so a
 * caller acting on "balanced" reconciles once; a report without a summary gives no rows. */
START_TEST(the_render_hands_back_the_summary_it_drew)
{
    ctm_report_options o = CTM_REPORT_OPTIONS_INIT;
    o.trial = "OPEN-1";
    char *s = summary_of("reconciliation", &o, "csv");
    ck_assert_str_eq(s, "balanced=true;breaks=0;received=6;");
    free(s);
    tu_sql_exec(db_path, "UPDATE kits SET status = 'destroyed' WHERE kit_number = 'K1'");
    s = summary_of("reconciliation", &o, "text");
    ck_assert_str_eq(s, "balanced=false;breaks=1;received=6;");
    free(s);
    char *text = render("reconciliation", &o, "json");
    assert_has(text, "\"balanced\": false,\n  \"breaks\": 1,\n  \"received\": 6,\n");
    ctm_free(text);
    s = summary_of("audit", NULL, "json");
    ck_assert_str_eq(s, "");
    free(s);
    text = (char *)"untouched";
    ck_assert_int_eq(ctm_report_render_summary(&text, NULL, db, "audit", NULL, "json"),
                     CTM_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_str_eq(ctm_errmsg(), "summary: NULL");
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tu_tcase(s, "report", setup, teardown, 120);
    tcase_add_test(tc, the_inventory_lists_kits_on_hand_with_days_to_expiry);
    tcase_add_test(tc, the_inventory_shows_arms_only_to_unblinded_readers);
    tcase_add_test(tc, json_names_the_site_the_period_and_the_checkpoint);
    tcase_add_test(tc, text_aligns_columns_under_a_header);
    tcase_add_test(tc, the_audit_trail_for_people);
    tcase_add_test(tc, csv_and_html_escape_what_people_typed);
    tcase_add_test(tc, refusals_name_the_field);
    tcase_add_test(tc, a_render_after_a_write_names_the_new_checkpoint);
    tcase_add_test(tc, the_render_hands_back_the_summary_it_drew);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(report_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
