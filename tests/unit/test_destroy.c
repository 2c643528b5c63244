/* test_destroy.c - kits leaving the site for good.  Destruction: kits pending destruction become
 * destroyed with their method, certificate and witness, in two entries (the pharmacist's
 * "destroyed", the witness's own "witnessed destruction") that verify checks as a pair; the
 * witness is a second user, authenticated in the call (the actor, a wrong password, a role that
 * may not witness, a kit not pending, a partly bad list: refused, nothing changed; the witness's
 * account is refused for its state only after its right password).  Return to
 * the sponsor: a shipback packed, its manifest (exact CSV, no arm), its e-signed dispatch, its
 * cancellation, and what a packed kit may not do.  Runs on both back ends. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "internal.h"
#include "store.h"
#include "testutil.h"

#define PW "destroy-pw-1234"
#define TRIAL "EU-CT-2026-900020"

static char *template_dir;
static char *vkey;
static char *dir;
static char db_path[4096];
static ctm_db *db;
static char returned_kit[48]; /* the kit subject S1 brought back, 12 units in it */

/* A blinded trial, kit type KT of 30 units; A1..A6, B1..B6 received in FRIDGE1.  S1 got A1 or B1
 * (its arm's) on paper 28 days ago and brought it back with 12 units.  A2, A3, A4 are damaged then
 * pending destruction, A5 expired; the rest available. */
static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"phil", "pharmacist", 0, "Phil Pharm", PW},
        {"tom", "technician", 0, "Tom Tech", PW},
        {"mona", "monitor", 0, "Mona Monitor", PW},
        {"ivy", "investigator", 0, "Ivy Invest", PW},
    };
    static const struct tu_visit visits[] = {{"V1", 0, "randomization", "-30..+3"}};
    char kits[1024];
    tu_kit_pairs(kits, sizeof kits, 6);
    char arrived[11]; /* the kits came before the dispensings on paper */
    tu_day(-30, arrived);
    struct tu_trial_site site = {
        .password = PW, .users = users, .nusers = 5, .trial = TRIAL, .sponsor = "Acme Pharma",
        .arms = "ACT:1,PLA:1", .kits = kits, .visits = visits, .nvisits = 1, .list_size = 8,
        .subjects = 1, .date_received = arrived,
    };
    ctm_db *h = NULL;
    template_dir = tu_build_trial_site(&site, &h);
    tu_must(ctm_audit_vkey(&vkey, h), "vkey");
    char when[32], ago[11];
    tu_day(-28, ago);
    snprintf(when, sizeof when, "%sT10:00:00Z", ago);
    const char *kit = strcmp(site.arm[0], "ACT") == 0 ? "A1" : "B1";
    snprintf(returned_kit, sizeof returned_kit, "%s", kit);
    tu_must(ctm_dispense_record(h, TRIAL, "S1", "V1", &kit, 1, when, "system down"), "dispense");
    tu_must(ctm_return(h, TRIAL, kit, 12, NULL, "opened"), "return");
    for (int i = 2; i <= 4; i++) {
        char k[8];
        snprintf(k, sizeof k, "A%d", i);
        tu_must(ctm_kit_set_status(h, TRIAL, k, "damaged", "box crushed"), "damaged");
        tu_must(ctm_kit_set_status(h, TRIAL, k, "pending_destruction", "to destroy"), "pending");
    }
    tu_must(ctm_kit_set_status(h, TRIAL, "A5", "expired", "past its date"), "expired");
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

static char *kit_sql(const char *what, const char *kit)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM kits WHERE kit_number = '%s'", what, kit);
    return tu_sql_text(db_path, sql);
}

static void assert_status(const char *kit, const char *want)
{
    char *got = kit_sql("status", kit);
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "kit %s: %s, not %s", kit,
                  got ? got : "(null)", want);
    free(got);
}

static int64_t count(const char *sql)
{
    return tu_sql_int(db_path, sql, NULL);
}

/* The column `col` of entry seq's line in the audit log (malloc'd). */
static char *log_field(uint64_t seq, const char *col)
{
    ctm_query *q = tu_log_entry(db, seq);
    const char *v = ctm_query_text(q, ctm_query_column_index(q, col));
    char *out = strdup(v != NULL ? v : "(null)");
    ctm_query_free(q);
    return out;
}

static void assert_log(uint64_t seq, const char *col, const char *want)
{
    char *got = log_field(seq, col);
    ck_assert_msg(strcmp(got, want) == 0, "entry %llu %s: '%s', not '%s'",
                  (unsigned long long)seq, col, got, want);
    free(got);
}

static int destroy(const char *const *kits, size_t n, const char *witness, const char *pw)
{
    return ctm_destroy(db, TRIAL, kits, n, "incineration", "CERT-2026-7", witness, pw);
}

/* ---- destruction ---- */

START_TEST(two_kits_destroyed_and_witnessed)
{
    uint64_t before = tu_audit_size(db);
    const char *kits[] = {"A2", "A3"};
    tu_ok(destroy(kits, 2, "mona", PW));
    assert_status("A2", "destroyed");
    assert_status("A3", "destroyed");
    assert_status("A4", "pending_destruction");
    ck_assert_int_eq(count("SELECT count(*) FROM kits WHERE kit_number IN ('A2', 'A3')"
                           " AND location_id IS NULL"), 2);
    /* the history: destroyed, by the pharmacist */
    ck_assert_int_eq(count("SELECT count(*) FROM kit_events e JOIN kits k ON k.id = e.kit_id"
                           " WHERE e.status = 'destroyed' AND e.by_user = 'pia'"), 2);
    ctm_query *q = NULL;
    tu_ok(ctm_destructions(&q, db, TRIAL));
    const char *want[][2] = {{"A2", "mona"}, {"A3", "mona"}};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "kit_number")), want[i][0]);
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "lot")), "L1");
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "method")), "incineration");
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "certificate")),
                         "CERT-2026-7");
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "destroyed_by")), "pia");
        ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "witness")), want[i][1]);
        ck_assert_int_eq((int)strlen(ctm_query_text(q, ctm_query_column_index(q, "destroyed"))),
                         20);
    }
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    /* two entries: the pharmacist's with the changes, the witness's own */
    ck_assert_uint_eq(tu_audit_size(db), before + 2);
    assert_log(before, "action", "kit.destroy");
    assert_log(before, "user", "pia");
    assert_log(before, "esig_user", "pia");
    assert_log(before, "esig_meaning", "destroyed");
    assert_log(before + 1, "action", "kit.destroy_witness");
    assert_log(before + 1, "user", "mona");
    assert_log(before + 1, "esig_user", "mona");
    assert_log(before + 1, "esig_name", "Mona Monitor");
    assert_log(before + 1, "esig_meaning", "witnessed destruction");
    /* the pharmacist is still the one logged in */
    ck_assert_str_eq(ctm_current_user(db), "pia");
    ctm_verify_result r = tu_assert_verifies(db, vkey);
    ck_assert_uint_eq(r.entries, before + 2);
}
END_TEST

START_TEST(a_technician_or_a_second_pharmacist_witnesses)
{
    const char *a2 = "A2", *a3 = "A3";
    tu_ok(destroy(&a2, 1, "tom", PW));
    tu_ok(destroy(&a3, 1, "phil", PW));
    ck_assert_int_eq(count("SELECT count(*) FROM destructions WHERE witness IN ('tom', 'phil')"), 2);
    tu_assert_verifies_all(db, vkey);
}
END_TEST

/* Every refusal: the status, a message naming what is wrong, and nothing changed. */
static void refused(int rc, int want, const char *says, uint64_t size)
{
    ck_assert_msg(rc == want, "returned %d, not %d: %s", rc, want, ctm_errmsg());
    ck_assert_msg(strstr(ctm_errmsg(), says) != NULL, "'%s' does not say '%s'", ctm_errmsg(), says);
    ck_assert_uint_eq(tu_audit_size(db), size);
    ck_assert_int_eq(count("SELECT count(*) FROM destructions"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM kits WHERE status = 'pending_destruction'"), 3);
}

START_TEST(nobody_witnesses_their_own_destruction)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2"};
    refused(destroy(kits, 1, "pia", PW), CTM_ERULE, "witness 'pia' is the user acting", size);
}
END_TEST

START_TEST(a_wrong_witness_password_is_refused_and_counted_against_the_witness)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2"};
    int rc = destroy(kits, 1, "mona", "not-her-password");
    ck_assert_int_eq(rc, CTM_EAUTH);
    ck_assert_str_eq(ctm_errmsg(), "destroy: unknown user or wrong password for witness 'mona'");
    /* recorded as a failed login of the witness's account, nothing else */
    ck_assert_uint_eq(tu_audit_size(db), size + 1);
    assert_log(size, "action", "auth.failed");
    ck_assert_int_eq(count("SELECT failed_logins FROM users WHERE username = 'mona'"), 1);
    ck_assert_int_eq(count("SELECT failed_logins FROM users WHERE username = 'pia'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM destructions"), 0);
    assert_status("A2", "pending_destruction");
    /* an unknown witness reads the same */
    ck_assert_int_eq(destroy(kits, 1, "nobody", PW), CTM_EAUTH);
    ck_assert_str_eq(ctm_errmsg(), "destroy: unknown user or wrong password for witness 'nobody'");
    /* the pharmacist's session goes on */
    ck_assert_str_eq(ctm_current_user(db), "pia");
    tu_ok(destroy(kits, 1, "mona", PW));
    assert_status("A2", "destroyed");
}
END_TEST

/* A refusal for the witness's account (its role, disabled, a password reset by an administrator)
 * comes only with the witness's right password: with a wrong one, the pharmacist reads what any
 * wrong password reads, and the attempt is counted against the witness's account. */
static void refused_for_the_password(const char *witness, uint64_t *size)
{
    const char *kits[] = {"A2"};
    char want[128], sql[128];
    snprintf(sql, sizeof sql, "SELECT failed_logins FROM users WHERE username = '%s'", witness);
    int64_t failed = count(sql);
    ck_assert_int_eq(destroy(kits, 1, witness, "not-the-password"), CTM_EAUTH);
    snprintf(want, sizeof want, "destroy: unknown user or wrong password for witness '%s'",
             witness);
    ck_assert_str_eq(ctm_errmsg(), want);
    ck_assert_uint_eq(tu_audit_size(db), *size + 1);
    assert_log(*size, "action", "auth.failed");
    assert_log(*size, "user", witness);
    ck_assert_int_eq(count(sql), failed + 1);
    ck_assert_int_eq(count("SELECT count(*) FROM destructions"), 0);
    assert_status("A2", "pending_destruction");
    *size += 1;
}

START_TEST(the_witness_account_is_refused_only_after_its_password)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2"};
    /* a role that may not witness */
    refused_for_the_password("ivy", &size);
    refused(destroy(kits, 1, "ivy", PW), CTM_EDENIED, "witness 'ivy' has the role 'investigator'",
            size);
    /* a disabled account */
    ctm_logout(db);
    tu_login(db, "admin", PW);
    tu_ok(ctm_user_disable(db, "tom", "left the site"));
    tu_ok(ctm_user_passwd(db, "phil", "reset-by-admin-1"));
    ctm_logout(db);
    tu_login(db, "pia", PW);
    size = tu_audit_size(db);
    refused_for_the_password("tom", &size);
    refused(destroy(kits, 1, "tom", PW), CTM_EDISABLED, "witness 'tom' is disabled", size);
    /* a password reset by an administrator: no key of its own yet */
    refused_for_the_password("phil", &size);
    refused(destroy(kits, 1, "phil", "reset-by-admin-1"), CTM_EDENIED,
            "witness 'phil' must first replace the password an administrator set", size);
    /* the pharmacist as her own witness: refused first, whatever the password, and not counted */
    refused(destroy(kits, 1, "pia", "not-the-password"), CTM_ERULE,
            "witness 'pia' is the user acting", size);
    ck_assert_int_eq(count("SELECT failed_logins FROM users WHERE username = 'pia'"), 0);
    tu_assert_verifies_all(db, vkey);
}
END_TEST

START_TEST(who_may_destroy_and_witness)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2"};
    refused(destroy(kits, 1, "ivy", PW), CTM_EDENIED, "witness 'ivy' has the role 'investigator'",
            size);
    refused(destroy(kits, 1, "admin", PW), CTM_EDENIED, "role 'admin'", size);
    ctm_logout(db);
    tu_login(db, "tom", PW);
    size = tu_audit_size(db);
    refused(destroy(kits, 1, "mona", PW), CTM_EDENIED, "not allowed for the role 'technician'",
            size);
}
END_TEST

START_TEST(a_kit_not_pending_destruction_is_named_and_nothing_changes)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2", "A3", "B2"};
    refused(destroy(kits, 3, "mona", PW), CTM_ERULE,
            "kit B2: available; only a kit pending destruction is destroyed", size);
    const char *expired[] = {"A5"};
    refused(destroy(expired, 1, "mona", PW), CTM_ERULE, "kit A5: expired", size);
    const char *returned[] = {returned_kit};
    refused(destroy(returned, 1, "mona", PW), CTM_ERULE, "returned", size);
    const char *twice[] = {"A2", "A2"};
    refused(destroy(twice, 2, "mona", PW), CTM_EINVAL, "kits: A2 named twice", size);
    const char *unknown[] = {"A2", "Z9"};
    refused(destroy(unknown, 2, "mona", PW), CTM_ENOTFOUND, "kit 'Z9'", size);
    refused(ctm_destroy(db, TRIAL, kits, 2, "", "CERT", "mona", PW), CTM_EINVAL, "method", size);
    refused(ctm_destroy(db, TRIAL, kits, 2, "incineration", NULL, "mona", PW), CTM_EINVAL,
            "certificate", size);
    refused(ctm_destroy(db, TRIAL, kits, 2, "incineration", "C", NULL, PW), CTM_EINVAL, "witness",
            size);
    /* a destroyed kit is not destroyed twice */
    tu_ok(destroy(kits, 1, "mona", PW));
    ck_assert_int_eq(destroy(kits, 1, "mona", PW), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "kit A2: destroyed; only a kit pending destruction is destroyed");
}
END_TEST

START_TEST(a_returned_kit_is_sent_to_pending_destruction_by_hand_first)
{
    tu_ok(ctm_kit_set_status(db, TRIAL, returned_kit, "pending_destruction", "not reusable"));
    const char *kits[] = {returned_kit};
    tu_ok(destroy(kits, 1, "mona", PW));
    assert_status(returned_kit, "destroyed");
}
END_TEST

START_TEST(not_inside_a_batch)
{
    const char *kits[] = {"A2"};
    tu_ok(ctm_batch_begin(db));
    ck_assert_int_eq(destroy(kits, 1, "mona", PW), CTM_EMISUSE);
    tu_ok(ctm_batch_rollback(db));
    assert_status("A2", "pending_destruction");
}
END_TEST

/* ---- verification of the pair ---- */

static int verify_fails_at(uint64_t seq, const char *says)
{
    ctm_verify_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    int rc = ctm_audit_verify(db, vkey, NULL, &r);
    ck_assert_msg(rc == CTM_EINTEGRITY, "verify returned %d: %s", rc, ctm_errmsg());
    ck_assert_msg(r.failed_seq == (int64_t)seq, "failed at seq %lld, not %llu: %s",
                  (long long)r.failed_seq, (unsigned long long)seq, ctm_errmsg());
    if (says != NULL)
        ck_assert_msg(strstr(ctm_errmsg(), says) != NULL, "'%s' does not say '%s'", ctm_errmsg(),
                      says);
    return rc;
}

/* Entry seq with the bytes `from` replaced by `to` (as long), as an intruder would. */
static void tamper(uint64_t seq, const char *from, const char *to)
{
    ctm__store *s = tu_store(db_path, 1);
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT entry FROM ledger WHERE seq = ?1"), CTM_OK);
    ctm__st_bind_int(st, 1, (int64_t)seq);
    ck_assert_int_eq(ctm__st_step(st), CTM_ROW);
    size_t n = ctm__st_bytes(st, 0);
    unsigned char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    memcpy(p, ctm__st_blob(st, 0), n);
    ctm__st_finalize(st);
    unsigned char *at = memmem(p, n, from, strlen(from));
    ck_assert_ptr_nonnull(at);
    memcpy(at, to, strlen(to));
    ck_assert_int_eq(ctm__st_prepare(s, &st, "UPDATE ledger SET entry = ?2 WHERE seq = ?1"), CTM_OK);
    ctm__st_bind_int(st, 1, (int64_t)seq);
    ctm__st_bind_blob(st, 2, p, n);
    ck_assert_msg(ctm__st_run(st) == CTM_OK, "%s", ctm_errmsg());
    ctm__st_finalize(st);
    ctm__store_close(s);
    free(p);
}

START_TEST(a_tampered_witness_entry_fails_verification)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A2"};
    tu_ok(destroy(kits, 1, "mona", PW));
    tu_assert_verifies(db, vkey);
    /* the certificate's reference changed in the witness's entry, byte for byte as long */
    tamper(size + 1, "CERT-2026-7", "CERT-2026-8");
    verify_fails_at(size + 1, NULL);
}
END_TEST

/* White box: entries libctm itself would never write, written through its own write path, so
 * that nothing but the pairing rule can catch them. */
START_TEST(a_destruction_without_its_witness_fails_verification)
{
    uint64_t size = tu_audit_size(db);
    ctm__action a;
    tu_ok(ctm__action_begin(&a, db, "kit.destroy", ""));
    ctm__action_param(&a, "trial", TRIAL);
    ctm__action_param(&a, "kits", "0");
    ctm__action_param(&a, "method", "incineration");
    ctm__action_param(&a, "certificate", "C-1");
    ctm__action_param(&a, "witness", "mona");
    tu_ok(ctm__action_commit(&a));
    verify_fails_at(size + 1, "the destruction at seq");
}
END_TEST

static void forged_pair(const char *witnessed_certificate, const char *destroyed_by)
{
    ctm__signer self = {db->session.id, db->session.user, db->session.printed, db->session.sk};
    ctm__action a;
    tu_ok(ctm_batch_begin(db));
    tu_ok(ctm__action_begin(&a, db, "kit.destroy", ""));
    ctm__action_param(&a, "trial", TRIAL);
    ctm__action_param(&a, "kits", "0");
    ctm__action_param(&a, "method", "incineration");
    ctm__action_param(&a, "certificate", "C-1");
    ctm__action_param(&a, "witness", "pia");
    tu_ok(ctm__action_commit(&a));
    tu_ok(ctm__action_begin_entry_only(&a, db, "kit.destroy_witness", ""));
    ctm__action_param(&a, "trial", TRIAL);
    ctm__action_param(&a, "kits", "0");
    ctm__action_param(&a, "method", "incineration");
    ctm__action_param(&a, "certificate", witnessed_certificate);
    ctm__action_param(&a, "destroyed_by", destroyed_by);
    a.signer = &self;
    tu_ok(ctm__action_commit(&a));
    tu_ok(ctm_batch_commit(db));
}

START_TEST(a_destroyer_witnessing_themselves_fails_verification)
{
    uint64_t size = tu_audit_size(db);
    forged_pair("C-1", "pia");
    verify_fails_at(size + 1, "pia witnessed their own destruction");
}
END_TEST

START_TEST(a_witness_entry_of_another_destruction_fails_verification)
{
    uint64_t size = tu_audit_size(db);
    forged_pair("C-2", "pia");
    verify_fails_at(size + 1, "names another destruction");
}
END_TEST

/* ---- return to the sponsor ---- */

START_TEST(a_shipback_is_packed_listed_and_dispatched)
{
    const char *kits[] = {"A5", returned_kit, "A4"};
    tu_ok(ctm_shipback(db, TRIAL, "RTS-1", NULL, kits, 3));
    /* packed: the kits keep their status and place */
    assert_status("A5", "expired");
    assert_status("A4", "pending_destruction");
    char *csv = NULL;
    tu_ok(ctm_shipback_manifest(&csv, db, TRIAL, "RTS-1"));
    char want[1024];
    snprintf(want, sizeof want,
             "shipment,kit_number,kit_type,lot,expiry,status,units_left\r\n"
             "%s", "");
    char far[11];
    tu_day(400, far);
    /* kit numbers in order: A1 (or B1) is S1's, A4, A5 */
    const char *first = strcmp(returned_kit, "A1") == 0 ? returned_kit : "A4";
    const char *second = strcmp(returned_kit, "A1") == 0 ? "A4" : "A5";
    const char *third = strcmp(returned_kit, "A1") == 0 ? "A5" : returned_kit;
    size_t n = strlen(want);
    const char *names[] = {first, second, third};
    for (int i = 0; i < 3; i++) {
        int is_returned = strcmp(names[i], returned_kit) == 0;
        n += (size_t)snprintf(want + n, sizeof want - n, "RTS-1,%s,KT,L1,%s,%s,%s\r\n", names[i],
                              far,
                              is_returned                      ? "returned"
                              : strcmp(names[i], "A4") == 0 ? "pending_destruction"
                                                             : "expired",
                              is_returned ? "12" : "30");
    }
    ck_assert_str_eq(csv, want);
    ctm_free(csv);
    /* a packed kit is neither destroyed nor packed again */
    uint64_t size = tu_audit_size(db);
    const char *a4 = "A4";
    ck_assert_int_eq(destroy(&a4, 1, "mona", PW), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "kit A4: packed in shipback RTS-1 for the sponsor; cancel that"
                                   " first");
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-2", NULL, &a4, 1), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "kit A4: packed in shipback RTS-1 already");
    ck_assert_uint_eq(tu_audit_size(db), size);
    ctm_query *q = NULL;
    tu_ok(ctm_shipbacks(&q, db, TRIAL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "shipment")), "RTS-1");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "destination")), "Acme Pharma");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "status")), "packed");
    ck_assert_int_eq(ctm_query_int64(q, ctm_query_column_index(q, "kits")), 3);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "packed_by")), "pia");
    ck_assert_int_eq(ctm_query_column_type(q, ctm_query_column_index(q, "dispatched")), CTM_NULL);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    /* the dispatch, e-signed */
    tu_ok(ctm_shipback_dispatch(db, TRIAL, "RTS-1", "AWB 123-456"));
    assert_log(size, "action", "shipback.dispatch");
    assert_log(size, "esig_meaning", "returned to sponsor");
    ck_assert_int_eq(count("SELECT count(*) FROM kits WHERE status = 'returned_to_sponsor'"
                           " AND location_id IS NULL"), 3);
    ck_assert_int_eq(count("SELECT count(*) FROM kit_events WHERE status = 'returned_to_sponsor'"),
                     3);
    /* the manifest after the dispatch shows the status each kit had when packed */
    tu_ok(ctm_shipback_manifest(&csv, db, TRIAL, "RTS-1"));
    ck_assert_str_eq(csv, want);
    ctm_free(csv);
    tu_ok(ctm_shipbacks(&q, db, TRIAL));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "status")), "dispatched");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "reference")), "AWB 123-456");
    ck_assert_str_eq(ctm_query_text(q, ctm_query_column_index(q, "dispatched_by")), "pia");
    ctm_query_free(q);
    ck_assert_int_eq(ctm_shipback_dispatch(db, TRIAL, "RTS-1", "again"), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "shipback RTS-1: dispatched already");
    ck_assert_int_eq(ctm_shipback_cancel(db, TRIAL, "RTS-1", "oops"), CTM_ERULE);
    tu_assert_verifies_all(db, vkey);
}
END_TEST

START_TEST(refused_shipbacks_change_nothing)
{
    uint64_t size = tu_audit_size(db);
    const char *kits[] = {"A5", "B2"};
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-1", NULL, kits, 2), CTM_ERULE);
    ck_assert_str_eq(ctm_errmsg(), "kit B2: available; only returned, expired, damaged kits and"
                                   " kits pending destruction go back to the sponsor");
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS 1", NULL, kits, 1), CTM_EINVAL);
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-1", NULL, kits, 0), CTM_EINVAL);
    ck_assert_int_eq(ctm_shipback_dispatch(db, TRIAL, "RTS-9", "AWB"), CTM_ENOTFOUND);
    ck_assert_uint_eq(tu_audit_size(db), size);
    ck_assert_int_eq(count("SELECT count(*) FROM shipbacks"), 0);
    tu_ok(ctm_shipback(db, TRIAL, "RTS-1", "Depot Basel", kits, 1));
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-1", NULL, kits + 0, 1), CTM_ERULE);
    const char *a4 = "A4";
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-1", NULL, &a4, 1), CTM_EEXISTS);
    /* technicians may not pack */
    ctm_logout(db);
    tu_login(db, "tom", PW);
    ck_assert_int_eq(ctm_shipback(db, TRIAL, "RTS-2", NULL, &a4, 1), CTM_EDENIED);
    ck_assert_int_eq(ctm_shipback_dispatch(db, TRIAL, "RTS-1", "AWB"), CTM_EDENIED);
}
END_TEST

START_TEST(a_packed_shipback_is_cancelled)
{
    const char *kits[] = {"A4"};
    tu_ok(ctm_shipback(db, TRIAL, "RTS-1", NULL, kits, 1));
    ck_assert_int_eq(ctm_shipback_cancel(db, TRIAL, "RTS-1", NULL), CTM_EINVAL);
    tu_ok(ctm_shipback_cancel(db, TRIAL, "RTS-1", "the sponsor asks for destruction on site"));
    ck_assert_int_eq(count("SELECT count(*) FROM shipbacks"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM shipback_kits"), 0);
    assert_status("A4", "pending_destruction");
    tu_ok(destroy(kits, 1, "mona", PW));
    tu_ok(ctm_shipback(db, TRIAL, "RTS-1", NULL, (const char *[]){"A5"}, 1));
    tu_assert_verifies_all(db, vkey);
}
END_TEST

START_TEST(blinded_users_read_destructions_and_shipbacks)
{
    const char *kits[] = {"A2"};
    tu_ok(destroy(kits, 1, "mona", PW));
    const char *a5 = "A5";
    tu_ok(ctm_shipback(db, TRIAL, "RTS-1", NULL, &a5, 1));
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    ctm_query *q = NULL;
    tu_ok(ctm_destructions(&q, db, TRIAL));
    for (int c = 0; c < ctm_query_column_count(q); c++)
        ck_assert_str_ne(ctm_query_column_name(q, c), "arm");
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ctm_query_free(q);
    char *csv = NULL;
    tu_ok(ctm_shipback_manifest(&csv, db, TRIAL, "RTS-1"));
    ck_assert_ptr_null(strstr(csv, "ACT"));
    ck_assert_ptr_null(strstr(csv, "PLA"));
    ctm_free(csv);
}
END_TEST

int main(void)
{
    build_template();
    Suite *s = suite_create("destroy");
    TCase *tc = tu_tcase(s, "destroy", setup, teardown, 60);
    tcase_add_test(tc, two_kits_destroyed_and_witnessed);
    tcase_add_test(tc, a_technician_or_a_second_pharmacist_witnesses);
    tcase_add_test(tc, nobody_witnesses_their_own_destruction);
    tcase_add_test(tc, a_wrong_witness_password_is_refused_and_counted_against_the_witness);
    tcase_add_test(tc, who_may_destroy_and_witness);
    tcase_add_test(tc, the_witness_account_is_refused_only_after_its_password);
    tcase_add_test(tc, a_kit_not_pending_destruction_is_named_and_nothing_changes);
    tcase_add_test(tc, a_returned_kit_is_sent_to_pending_destruction_by_hand_first);
    tcase_add_test(tc, not_inside_a_batch);
    tc = tu_tcase(s, "verify", setup, teardown, 60);
    tcase_add_test(tc, a_tampered_witness_entry_fails_verification);
    tcase_add_test(tc, a_destruction_without_its_witness_fails_verification);
    tcase_add_test(tc, a_destroyer_witnessing_themselves_fails_verification);
    tcase_add_test(tc, a_witness_entry_of_another_destruction_fails_verification);
    tc = tu_tcase(s, "shipback", setup, teardown, 60);
    tcase_add_test(tc, a_shipback_is_packed_listed_and_dispatched);
    tcase_add_test(tc, refused_shipbacks_change_nothing);
    tcase_add_test(tc, a_packed_shipback_is_cancelled);
    tcase_add_test(tc, blinded_users_read_destructions_and_shipbacks);
    int rc = tu_run_suite(s);
    tu_rmtree(template_dir);
    free(template_dir);
    free(vkey);
    return rc;
}
