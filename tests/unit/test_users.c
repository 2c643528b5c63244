/* test_users.c - logins and lockout, accounts, roles, passwords and the audit of all of them. */
#include "ctm.h"
#include "schema.h"
#include "testutil.h"

#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADMIN "admin"
#define ADMIN_PW "admin-password"
#define ADMIN_NAME "Ada Admin"
#define PHARM "pharm"
#define PHARM_PW "pharm-password"
#define TECH "tech"
#define TECH_PW "tech-password"
#define MEANING_ACCOUNT "authorized account change"

/* Argon2id makes every user and login cost a tenth of a second, so the site with its three users
 * is built once (template_dir) and each test gets its own copy of the files. */
static char *template_dir;
static char *tdir;
static char dbpath[4096];
static ctm_db *db_a, *db_b;

/* ---- per-test fixture: a copy of the template, opened on db_a with the admin logged in ---- */

static ctm_db *open_db(void)
{
    return tu_open(dbpath, NULL);
}

/* Logs in, and the handle then acts as that user. */
static void login(ctm_db *h, const char *user, const char *pw)
{
    tu_login(h, user, pw);
    ck_assert_str_eq(ctm_current_user(h), user);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(template_dir);
    tdir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(dbpath, sizeof dbpath, "%s/" TU_SITE_DB, tdir);
    db_b = NULL;
    db_a = open_db();
    login(db_a, ADMIN, ADMIN_PW);
}

static void teardown(void)
{
    tu_teardown(&tdir, &db_a, &db_b);
}

/* ---- inspection ---- */

static int64_t sql_int(const char *query, const char *arg)
{
    return tu_sql_int(dbpath, query, arg);
}

static int64_t failed_logins(const char *user)
{
    return sql_int("SELECT failed_logins FROM users WHERE username = ?1", user);
}

static int64_t is_disabled(const char *user)
{
    return sql_int("SELECT disabled FROM users WHERE username = ?1", user);
}

static int query_col(ctm_query *q, const char *name)
{
    for (int i = 0; i < ctm_query_column_count(q); i++)
        if (strcmp(ctm_query_column_name(q, i), name) == 0)
            return i;
    ck_abort_msg("no column %s", name);
    return -1;
}

/* A column of the ledger entry seq as ctm_audit_log shows it (malloc'd; NULL for NULL). */
static char *log_field(ctm_db *h, uint64_t seq, const char *col)
{
    ctm_query *q = tu_log_entry(h, seq);
    ck_assert_int_eq(ctm_query_int64(q, query_col(q, "seq")), (int64_t)seq);
    const char *v = ctm_query_text(q, query_col(q, col));
    char *out = v != NULL ? strdup(v) : NULL;
    ctm_query_free(q);
    return out;
}

static void assert_log_field(ctm_db *h, uint64_t seq, const char *col, const char *want)
{
    char *got = log_field(h, seq, col);
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "entry %llu %s: '%s', want '%s'",
                  (unsigned long long)seq, col, got != NULL ? got : "(null)", want);
    free(got);
}

static void assert_log_field_has(ctm_db *h, uint64_t seq, const char *col, const char *part)
{
    char *got = log_field(h, seq, col);
    ck_assert_msg(got != NULL && strstr(got, part) != NULL, "entry %llu %s: '%s' lacks '%s'",
                  (unsigned long long)seq, col, got != NULL ? got : "(null)", part);
    free(got);
}

/* A column of a user's row in ctm_user_list (malloc'd), or NULL when the user is not listed. */
static char *user_field(ctm_db *h, const char *user, const char *col)
{
    ctm_query *q = NULL;
    int rc = ctm_user_list(&q, h);
    ck_assert_msg(rc == CTM_OK, "user list: %s", ctm_errmsg());
    char *out = NULL;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        if (strcmp(ctm_query_text(q, query_col(q, "user")), user) == 0) {
            const char *v = ctm_query_text(q, query_col(q, col));
            out = strdup(v != NULL ? v : "(null)");
        }
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

static void assert_user_field(ctm_db *h, const char *user, const char *col, const char *want)
{
    char *got = user_field(h, user, col);
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "user %s %s: '%s', want '%s'", user, col,
                  got != NULL ? got : "(not listed)", want);
    free(got);
}

/* ---- login ---- */

START_TEST(test_login_ok_and_logout)
{
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    ck_assert_ptr_null(ctm_current_user(db_a));
    login(db_a, PHARM, PHARM_PW);
    /* A clean login records nothing. */
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(ctm_audit_note(db_a, "pharmacist was here", NULL), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "user", PHARM);
    ctm_logout(db_a);
    ck_assert_ptr_null(ctm_current_user(db_a));
    ctm_logout(db_a); /* twice is harmless */
    ck_assert_ptr_null(ctm_current_user(db_a));
}
END_TEST

START_TEST(test_nobody_logged_in_cannot_act)
{
    ctm_logout(db_a);
    uint64_t n = tu_audit_size(db_a);
    ctm_query *q = (ctm_query *)&q;
    ck_assert_int_eq(ctm_audit_note(db_a, "anonymous", NULL), CTM_EMISUSE);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_int_eq(ctm_user_add(db_a, "ghost", "technician", 0, NULL, "ghost-password"),
                     CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "no reason"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_enable(db_a, PHARM, "no reason"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "admin", 1, "no reason"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_passwd(db_a, PHARM, "new-password"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_passwd(db_a, NULL, "new-password"), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_list(&q, db_a), CTM_EMISUSE);
    ck_assert_ptr_null(q);
    q = (ctm_query *)&q;
    ck_assert_int_eq(ctm_audit_log(&q, db_a, 0, 0), CTM_EMISUSE);
    ck_assert_ptr_null(q);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users", NULL), 3);
}
END_TEST

START_TEST(test_wrong_password_recorded)
{
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    ck_assert_int_eq(ctm_login(db_a, PHARM, "not-the-password"), CTM_EAUTH);
    ck_assert_int_eq(ctm_errcode(), CTM_EAUTH);
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    ck_assert_int_eq(failed_logins(PHARM), 1);
    ck_assert_int_eq(is_disabled(PHARM), 0);
    login(db_a, ADMIN, ADMIN_PW);
    assert_log_field(db_a, n, "action", "auth.failed");
    assert_log_field_has(db_a, n, "params", "\"" PHARM "\"");
    assert_user_field(db_a, PHARM, "failed_logins", "1");
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_unknown_user_recorded)
{
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    ck_assert_int_eq(ctm_login(db_a, "mallory", "some-password"), CTM_EAUTH);
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users", NULL), 3);
    login(db_a, ADMIN, ADMIN_PW);
    assert_log_field(db_a, n, "action", "auth.failed");
    assert_log_field_has(db_a, n, "params", "\"mallory\"");
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_success_resets_failures)
{
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    ck_assert_int_eq(ctm_login(db_a, PHARM, "wrong-one-1"), CTM_EAUTH);
    ck_assert_int_eq(ctm_login(db_a, PHARM, "wrong-one-2"), CTM_EAUTH);
    ck_assert_int_eq(failed_logins(PHARM), 2);
    login(db_a, PHARM, PHARM_PW);
    ck_assert_int_eq(failed_logins(PHARM), 0);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 3);
    assert_log_field(db_a, n + 2, "action", "auth.reset");
    assert_log_field(db_a, n + 2, "user", PHARM);
    /* The count is of consecutive failures: four more do not lock the account. */
    ctm_logout(db_a);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ctm_login(db_a, PHARM, "wrong-again"), CTM_EAUTH);
    ck_assert_int_eq(failed_logins(PHARM), 4);
    ck_assert_int_eq(is_disabled(PHARM), 0);
    login(db_a, PHARM, PHARM_PW);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_five_failures_lock_account)
{
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ctm_login(db_a, PHARM, "guessing-123"), CTM_EAUTH);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 5);
    ck_assert_int_eq(is_disabled(PHARM), 1);
    /* Even the right password no longer opens the account.  Right and wrong get the same
     * answer, so guessing on tells nothing, and nothing more is recorded. */
    ck_assert_int_eq(ctm_login(db_a, PHARM, PHARM_PW), CTM_EDISABLED);
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_int_eq(ctm_login(db_a, PHARM, "guessing-456"), CTM_EDISABLED);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 5);
    ck_assert_int_eq(failed_logins(PHARM), 5);

    login(db_a, ADMIN, ADMIN_PW);
    assert_user_field(db_a, PHARM, "disabled", "1");
    /* The fifth failure's entry records the lock. */
    char *action = log_field(db_a, n + 4, "action"), *params = log_field(db_a, n + 4, "params");
    ck_assert_msg(strcmp(action, "auth.failed") == 0 && strstr(params, "\"locked\"") != NULL,
                  "lockout not in the ledger: %s %s", action, params);
    free(action);
    free(params);
    /* An administrator re-enables the account, which resets the count. */
    uint64_t m = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_enable(db_a, PHARM, "identity confirmed by phone"), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), m + 1);
    assert_log_field(db_a, m, "action", "user.enable");
    ck_assert_int_eq(failed_logins(PHARM), 0);
    ck_assert_int_eq(is_disabled(PHARM), 0);
    login(db_a, PHARM, PHARM_PW);
    ck_assert_uint_eq(tu_audit_size(db_a), m + 1);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_login_bad_arguments)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_login(db_a, NULL, PHARM_PW), CTM_EINVAL);
    ck_assert_int_eq(ctm_login(db_a, "", PHARM_PW), CTM_EINVAL);
    ck_assert_int_eq(ctm_login(db_a, PHARM, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_login(NULL, PHARM, PHARM_PW), CTM_EMISUSE);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(failed_logins(PHARM), 0);
}
END_TEST

/* An empty password (an empty CTM_PASSWORD) is the caller's mistake, not a guess: it is not
 * counted, not recorded, and the message names the field. */
START_TEST(test_empty_password_is_a_usage_error)
{
    uint64_t n = tu_audit_size(db_a);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(ctm_login(db_a, PHARM, ""), CTM_EINVAL);
        ck_assert_msg(strncmp(ctm_errmsg(), "password:", 9) == 0, "%s", ctm_errmsg());
        ck_assert_ptr_null(ctm_current_user(db_a));
    }
    ck_assert_int_eq(ctm_login(db_a, "mallory", ""), CTM_EINVAL);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(failed_logins(PHARM), 0);
    ck_assert_int_eq(is_disabled(PHARM), 0);
    login(db_a, PHARM, PHARM_PW);
}
END_TEST

/* A disabled account says so whatever the password: the answer, the ledger and the failure count
 * are the same for the right password and a wrong one. */
START_TEST(test_disabled_account_is_no_password_oracle)
{
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "on leave"), CTM_OK);
    uint64_t n = tu_audit_size(db_a);
    ctm_logout(db_a);
    char right_msg[256];
    ck_assert_int_eq(ctm_login(db_a, PHARM, PHARM_PW), CTM_EDISABLED);
    snprintf(right_msg, sizeof right_msg, "%s", ctm_errmsg());
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(ctm_login(db_a, PHARM, "a-wrong-guess"), CTM_EDISABLED);
        ck_assert_str_eq(ctm_errmsg(), right_msg);
    }
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(failed_logins(PHARM), 0);
    login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_user_enable(db_a, PHARM, "back from leave"), CTM_OK);
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
}
END_TEST

static double seconds_of_login(ctm_db *h, const char *user, const char *pw, int want)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ck_assert_int_eq(ctm_login(h, user, pw), want);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Nor does the time of the answer tell: a disabled account costs one Argon2id check whether the
 * password is right or wrong, and an unknown user costs what a wrong password for an enabled
 * account costs (two checks), while a successful login costs one.  (One Argon2id check with
 * libsodium's interactive limits takes tens of milliseconds; skipping it answers in well under
 * one.) */
START_TEST(test_login_answers_take_one_password_check)
{
    char hash[crypto_pwhash_STRBYTES];
    ck_assert_int_eq(crypto_pwhash_str(hash, "x-password", 10, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE),
                     0);
    double check = 1e9;
    for (int i = 0; i < 3; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ck_assert_int_eq(crypto_pwhash_str_verify(hash, "y-password", 10), -1);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        check = t < check ? t : check;
    }
    double wrong_enabled = seconds_of_login(db_a, PHARM, "a-wrong-guess", CTM_EAUTH);
    double unknown = seconds_of_login(db_a, "nobody-here", "a-wrong-guess", CTM_EAUTH);
    ck_assert_msg(wrong_enabled > 1.5 * check && unknown > 1.5 * check,
                  "one password check takes %.4f s; wrong password %.4f s, unknown user %.4f s",
                  check, wrong_enabled, unknown);
    login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "on leave"), CTM_OK);
    ctm_logout(db_a);
    double right = seconds_of_login(db_a, PHARM, PHARM_PW, CTM_EDISABLED);
    double wrong = seconds_of_login(db_a, PHARM, "a-wrong-guess", CTM_EDISABLED);
    ck_assert_msg(right > check / 3 && wrong > check / 3,
                  "one password check takes %.4f s; disabled+right %.4f s, disabled+wrong %.4f s",
                  check, right, wrong);
}
END_TEST

/* A damaged sealed key is not taken for a wrong password: the right password still logs in to
 * nothing, and the answer says the key cannot be unsealed. */
START_TEST(test_login_damaged_sealed_key)
{
    ctm_logout(db_a);
    tu_sql_exec(dbpath, "UPDATE credentials SET sealed_key = (SELECT c.sealed_key FROM"
                        " credentials c JOIN users u ON u.id = c.user_id WHERE u.username = 'admin')"
                        " WHERE user_id = (SELECT id FROM users WHERE username = 'pharm')");
    ck_assert_int_eq(ctm_login(db_a, PHARM, PHARM_PW), CTM_EINTEGRITY);
    ck_assert_msg(strstr(ctm_errmsg(), "cannot be unsealed") != NULL, "%s", ctm_errmsg());
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_int_eq(ctm_login(db_a, PHARM, "a-wrong-guess"), CTM_EAUTH);
}
END_TEST

/* ---- adding users ---- */

START_TEST(test_user_add_by_admin)
{
    uint64_t n = tu_audit_size(db_a);
    int rc = ctm_user_add(db_a, "nina", "technician", 1, "Nina Nurse", "nina-password");
    ck_assert_msg(rc == CTM_OK, "user add: %s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.add");
    assert_log_field(db_a, n, "user", ADMIN);
    assert_log_field(db_a, n, "esig_user", ADMIN);
    assert_log_field(db_a, n, "esig_name", ADMIN_NAME);
    assert_log_field(db_a, n, "esig_meaning", MEANING_ACCOUNT);
    assert_log_field_has(db_a, n, "params", "\"nina\"");
    assert_user_field(db_a, "nina", "printed_name", "Nina Nurse");
    assert_user_field(db_a, "nina", "role", "technician");
    assert_user_field(db_a, "nina", "unblinded", "1");
    assert_user_field(db_a, "nina", "disabled", "0");
    /* No password in the clear anywhere in the trail. */
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_audit_log(&q, db_a, n, 1), CTM_OK);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    for (int i = 0; i < ctm_query_column_count(q); i++) {
        const char *v = ctm_query_text(q, i);
        ck_assert_msg(v == NULL || strstr(v, "nina-password") == NULL, "password in column %s",
                      ctm_query_column_name(q, i));
    }
    ctm_query_free(q);
    ctm_logout(db_a);
    login(db_a, "nina", "nina-password");
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_user_add_printed_name_defaults)
{
    ck_assert_int_eq(ctm_user_add(db_a, "monty", "monitor", 0, NULL, "monty-password"), CTM_OK);
    assert_user_field(db_a, "monty", "printed_name", "monty");
    assert_user_field(db_a, "monty", "role", "monitor");
    assert_user_field(db_a, "monty", "unblinded", "0");
}
END_TEST

START_TEST(test_user_add_refusals)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_add(db_a, PHARM, "technician", 0, NULL, "another-password"),
                     CTM_EEXISTS);
    ck_assert_int_eq(ctm_user_add(db_a, ADMIN, "admin", 1, NULL, "another-password"), CTM_EEXISTS);
    ck_assert_int_eq(ctm_user_add(db_a, "neo", "superuser", 0, NULL, "neo-password"), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "role") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(ctm_user_add(db_a, "neo", "", 0, NULL, "neo-password"), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_add(db_a, "neo", NULL, 0, NULL, "neo-password"), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_add(db_a, "n e o", "technician", 0, NULL, "neo-password"),
                     CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "user name") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(ctm_user_add(db_a, NULL, "technician", 0, NULL, "neo-password"), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_add(db_a, "neo", "technician", 0, NULL, "short"), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "password") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(ctm_user_add(db_a, "neo", "technician", 0, "Neo\x01", "neo-password"),
                     CTM_EINVAL);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users", NULL), 3);
    assert_user_field(db_a, PHARM, "role", "pharmacist");
}
END_TEST

START_TEST(test_user_add_by_pharmacist_denied)
{
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_add(db_a, "sneaky", "admin", 1, NULL, "sneaky-password"),
                     CTM_EDENIED);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM users WHERE username = 'sneaky'", NULL), 0);
}
END_TEST

/* ---- disabling and enabling ---- */

START_TEST(test_disable_blocks_login)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "left the site"), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.disable");
    assert_log_field(db_a, n, "reason", "left the site");
    assert_log_field(db_a, n, "esig_meaning", MEANING_ACCOUNT);
    assert_user_field(db_a, PHARM, "disabled", "1");
    /* Disabling twice is refused, and changes nothing. */
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "again"), CTM_ERULE);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);

    db_b = open_db();
    ck_assert_int_eq(ctm_login(db_b, PHARM, PHARM_PW), CTM_EDISABLED);
    ck_assert_ptr_null(ctm_current_user(db_b));
    ck_assert_int_eq(failed_logins(PHARM), 0);

    ck_assert_int_eq(ctm_user_enable(db_a, PHARM, "came back"), CTM_OK);
    assert_user_field(db_a, PHARM, "disabled", "0");
    login(db_b, PHARM, PHARM_PW);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_disabled_while_logged_in)
{
    db_b = open_db();
    login(db_b, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_audit_note(db_b, "before", NULL), CTM_OK);
    ck_assert_int_eq(ctm_user_disable(db_a, PHARM, "suspended pending review"), CTM_OK);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_audit_note(db_b, "after", NULL), CTM_EDISABLED);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_user_list(&q, db_b), CTM_EDISABLED);
    ck_assert_ptr_null(q);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_admin_cannot_disable_self)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_disable(db_a, ADMIN, "taking a break"), CTM_ERULE);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(is_disabled(ADMIN), 0);
    ck_assert_int_eq(ctm_audit_note(db_a, "still here", NULL), CTM_OK);
}
END_TEST

START_TEST(test_account_changes_need_admin)
{
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_disable(db_a, TECH, "I said so"), CTM_EDENIED);
    ck_assert_int_eq(ctm_user_enable(db_a, TECH, "I said so"), CTM_EDENIED);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "admin", 1, "I said so"), CTM_EDENIED);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(is_disabled(TECH), 0);
    assert_user_field(db_a, PHARM, "role", "pharmacist");
}
END_TEST

START_TEST(test_unknown_user_not_found)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_disable(db_a, "nobody", "reason"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_user_enable(db_a, "nobody", "reason"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_user_set_role(db_a, "nobody", "technician", 0, "reason"), CTM_ENOTFOUND);
    ck_assert_int_eq(ctm_user_passwd(db_a, "nobody", "new-password"), CTM_ENOTFOUND);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
}
END_TEST

START_TEST(test_reasons_mandatory)
{
    uint64_t n = tu_audit_size(db_a);
    const char *bad[] = {NULL, "", " leading blank", "bell\x07"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ctm_user_disable(db_a, PHARM, bad[i]), CTM_EINVAL);
        ck_assert_msg(strstr(ctm_errmsg(), "reason") != NULL, "%s", ctm_errmsg());
        ck_assert_int_eq(ctm_user_enable(db_a, PHARM, bad[i]), CTM_EINVAL);
        ck_assert_msg(strstr(ctm_errmsg(), "reason") != NULL, "%s", ctm_errmsg());
        ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "technician", 0, bad[i]), CTM_EINVAL);
        ck_assert_msg(strstr(ctm_errmsg(), "reason") != NULL, "%s", ctm_errmsg());
    }
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(is_disabled(PHARM), 0);
    assert_user_field(db_a, PHARM, "role", "pharmacist");
}
END_TEST

/* ---- roles ---- */

START_TEST(test_set_role_audited)
{
    uint64_t n = tu_audit_size(db_a);
    int rc = ctm_user_set_role(db_a, PHARM, "investigator", 1, "became sub-investigator");
    ck_assert_msg(rc == CTM_OK, "set role: %s", ctm_errmsg());
    assert_user_field(db_a, PHARM, "role", "investigator");
    assert_user_field(db_a, PHARM, "unblinded", "1");
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.role");
    assert_log_field(db_a, n, "reason", "became sub-investigator");
    assert_log_field(db_a, n, "user", ADMIN);
    assert_log_field(db_a, n, "esig_user", ADMIN);
    assert_log_field(db_a, n, "esig_name", ADMIN_NAME);
    assert_log_field(db_a, n, "esig_meaning", MEANING_ACCOUNT);
    assert_log_field_has(db_a, n, "params", "\"investigator\"");
    assert_log_field_has(db_a, n, "changes", "\"pharmacist\"");
    assert_log_field_has(db_a, n, "changes", "\"investigator\"");
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "janitor", 0, "why not"), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, NULL, 0, "why not"), CTM_EINVAL);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_last_admin_cannot_be_demoted)
{
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_set_role(db_a, ADMIN, "pharmacist", 0, "stepping down"), CTM_ERULE);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    assert_user_field(db_a, ADMIN, "role", "admin");
    /* With a second administrator the first may step down, and loses the rights at once. */
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "admin", 1, "second administrator"), CTM_OK);
    ck_assert_int_eq(ctm_user_set_role(db_a, ADMIN, "pharmacist", 0, "stepping down"), CTM_OK);
    assert_user_field(db_a, ADMIN, "role", "pharmacist");
    ck_assert_int_eq(ctm_user_add(db_a, "late", "technician", 0, NULL, "late-password"),
                     CTM_EDENIED);
    /* And now pharm is the last one. */
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "monitor", 0, "stepping down too"), CTM_ERULE);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_role_change_applies_to_open_session)
{
    db_b = open_db();
    login(db_b, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_user_add(db_b, "nina", "technician", 0, NULL, "nina-password"),
                     CTM_EDENIED);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "admin", 1, "covering for the admin"), CTM_OK);
    ck_assert_int_eq(ctm_user_add(db_b, "nina", "technician", 0, NULL, "nina-password"), CTM_OK);
    ck_assert_int_eq(ctm_user_set_role(db_a, PHARM, "pharmacist", 0, "cover over"), CTM_OK);
    ck_assert_int_eq(ctm_user_add(db_b, "otto", "technician", 0, NULL, "otto-password"),
                     CTM_EDENIED);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

/* ---- passwords ---- */

static char *public_key_of(const char *user)
{
    char *k = user_field(db_a, user, "public_key");
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(strlen(k), 64);
    return k;
}

START_TEST(test_passwd_own_gives_new_key)
{
    char *before = public_key_of(PHARM);
    db_b = open_db();
    login(db_b, PHARM, PHARM_PW); /* another session of the same user */
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_passwd(db_a, NULL, "short"), CTM_EINVAL);
    ck_assert_int_eq(ctm_user_passwd(db_a, NULL, PHARM_PW), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "new password") != NULL, "%s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    int rc = ctm_user_passwd(db_a, NULL, "pharm-new-password");
    ck_assert_msg(rc == CTM_OK, "passwd: %s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.passwd");
    assert_log_field(db_a, n, "user", PHARM);
    assert_log_field_has(db_a, n, "params", "\"new_signing_key\":\"yes\"");
    assert_log_field(db_a, n, "esig_user", PHARM);
    assert_log_field(db_a, n, "esig_meaning", "password changed");
    char *after = public_key_of(PHARM);
    ck_assert_str_ne(after, before);
    /* The session that changed it signs with the new key; the other one must log in again. */
    ck_assert_int_eq(ctm_audit_note(db_a, "signed with the new key", "reviewed"), CTM_OK);
    ck_assert_int_eq(ctm_audit_note(db_b, "signed with the old key", "reviewed"), CTM_EAUTH);
    ctm_logout(db_a);
    ck_assert_int_eq(ctm_login(db_a, PHARM, PHARM_PW), CTM_EAUTH);
    login(db_a, PHARM, "pharm-new-password");
    /* Naming oneself is the same as NULL. */
    ck_assert_int_eq(ctm_user_passwd(db_a, PHARM, "pharm-third-password"), CTM_OK);
    char *third = public_key_of(PHARM);
    ck_assert_str_ne(third, after);
    free(before);
    free(after);
    free(third);
    ck_assert_int_eq(ctm_audit_note(db_a, "signed with the third key", "reviewed"), CTM_OK);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

/* An administrator's reset leaves the user's key unusable and the account good for one thing:
 * choosing its own password.  Whoever knows the reset password (the administrator) can sign
 * nothing as the user, before or after. */
START_TEST(test_passwd_reset_allows_only_own_password)
{
    db_b = open_db();
    login(db_b, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_audit_note(db_b, "count checked", "verified"), CTM_OK);
    ctm_close(db_b);
    db_b = NULL;

    char *before = public_key_of(PHARM);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_passwd(db_a, PHARM, "short"), CTM_EINVAL);
    ck_assert_msg(strstr(ctm_errmsg(), "password") != NULL, "%s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    int rc = ctm_user_passwd(db_a, PHARM, "reset-by-admin-1");
    ck_assert_msg(rc == CTM_OK, "passwd: %s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.reset");
    assert_log_field(db_a, n, "user", ADMIN);
    assert_log_field(db_a, n, "reason", "password reset by administrator");
    assert_log_field(db_a, n, "esig_user", ADMIN);
    assert_log_field(db_a, n, "esig_meaning", MEANING_ACCOUNT);
    assert_log_field_has(db_a, n, "params", "\"" PHARM "\"");
    assert_user_field(db_a, PHARM, "must_change", "1");
    ck_assert_int_eq(sql_int("SELECT length(sealed_key) FROM credentials WHERE user_id ="
                             " (SELECT id FROM users WHERE username = ?1)", PHARM),
                     0);
    ck_assert_str_eq(ctm_current_user(db_a), ADMIN);
    ck_assert_int_eq(ctm_must_change_password(db_a), 0);

    db_b = open_db();
    ck_assert_int_eq(ctm_login(db_b, PHARM, PHARM_PW), CTM_EAUTH);
    login(db_b, PHARM, "reset-by-admin-1");
    ck_assert_int_eq(ctm_must_change_password(db_b), 1);
    n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_audit_note(db_b, "signed by whoever knows the reset password", "verified"),
                     CTM_EDENIED);
    ck_assert_msg(strstr(ctm_errmsg(), "password") != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(ctm_audit_note(db_b, "unsigned", NULL), CTM_EDENIED);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_user_list(&q, db_b), CTM_EDENIED);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_user_passwd(db_b, TECH, "tech-hijacked-pw"), CTM_EDENIED);
    /* The password the administrator knows is no password of the user's own. */
    ck_assert_int_eq(ctm_user_passwd(db_b, NULL, "reset-by-admin-1"), CTM_EINVAL);
    ck_assert_uint_eq(tu_audit_size(db_a), n);

    ck_assert_int_eq(ctm_user_passwd(db_b, NULL, "pharm-own-choice"), CTM_OK);
    ck_assert_int_eq(ctm_must_change_password(db_b), 0);
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    assert_log_field(db_a, n, "action", "user.passwd");
    assert_log_field(db_a, n, "user", PHARM);
    assert_log_field(db_a, n, "esig_user", PHARM);
    assert_log_field_has(db_a, n, "params", "\"new_signing_key\":\"yes\"");
    assert_user_field(db_a, PHARM, "must_change", "0");
    char *after = public_key_of(PHARM);
    ck_assert_str_ne(after, before);
    free(before);
    free(after);
    ck_assert_int_eq(ctm_audit_note(db_b, "signed with the user's own new key", "verified"), CTM_OK);
    ctm_logout(db_b);
    ck_assert_int_eq(ctm_login(db_b, PHARM, "reset-by-admin-1"), CTM_EAUTH);
    login(db_b, PHARM, "pharm-own-choice");
    ck_assert_int_eq(ctm_must_change_password(db_b), 0);
    /* Signatures before the reset and after the user's own change all verify. */
    tu_assert_verifies(db_a, NULL);
}
END_TEST

/* A session opened before the reset may belong to whoever made the reset necessary: it can do
 * nothing more, not even choose the password. */
START_TEST(test_passwd_reset_ends_open_sessions)
{
    db_b = open_db();
    login(db_b, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_user_passwd(db_a, PHARM, "reset-by-admin-2"), CTM_OK);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_audit_note(db_b, "signed after the reset", "verified"), CTM_EAUTH);
    ck_assert_int_eq(ctm_user_passwd(db_b, NULL, "taken-over-password"), CTM_EAUTH);
    ck_assert_msg(strstr(ctm_errmsg(), "reset") != NULL, "%s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    assert_user_field(db_a, PHARM, "must_change", "1");
    tu_assert_verifies(db_a, NULL);
}
END_TEST

/* A site of schema version 2 opens at the current version: its users keep their keys and need
 * no change. */
START_TEST(test_schema_2_users_migrate)
{
    ctm_close(db_a);
    db_a = NULL;
    /* version 2's kits.status has no CHECK (SQLite's migration rebuilds the table whatever it holds) */
    tu_sql_exec(dbpath, tu_dialect(TU_DROP_SCHEMA_5 " PRAGMA user_version = 2",
                                   TU_DROP_SCHEMA_5
                                   " ALTER TABLE kits DROP CONSTRAINT kits_status_check;"
                                   " UPDATE ctm__schema SET version = 2"));
    db_a = open_db();
    ck_assert_int_eq(sql_int(tu_dialect("PRAGMA user_version", "SELECT version FROM ctm__schema"), NULL),
                     CTM_SCHEMA_VERSION);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM credentials WHERE length(sealed_key) > 0",
                             NULL),
                     3);
    tu_assert_verifies(db_a, NULL);
    login(db_a, PHARM, PHARM_PW);
    ck_assert_int_eq(ctm_must_change_password(db_a), 0);
    ck_assert_int_eq(ctm_audit_note(db_a, "after the upgrade", "reviewed"), CTM_OK);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

START_TEST(test_passwd_others_needs_admin)
{
    ctm_logout(db_a);
    login(db_a, PHARM, PHARM_PW);
    uint64_t n = tu_audit_size(db_a);
    ck_assert_int_eq(ctm_user_passwd(db_a, TECH, "tech-hijacked-pw"), CTM_EDENIED);
    ck_assert_int_eq(ctm_user_passwd(db_a, ADMIN, "admin-hijacked-pw"), CTM_EDENIED);
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ctm_logout(db_a);
    login(db_a, TECH, TECH_PW);
}
END_TEST

/* ---- listing ---- */

START_TEST(test_user_list_columns)
{
    static const char *const names[] = {"user",          "printed_name", "role",
                                        "unblinded",     "disabled",     "failed_logins",
                                        "created",       "public_key",   "must_change"};
    static const char *const users[] = {ADMIN, PHARM, TECH};
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_user_list(&q, db_a), CTM_OK);
    ck_assert_int_eq(ctm_query_column_count(q), 9);
    for (int i = 0; i < 9; i++)
        ck_assert_str_eq(ctm_query_column_name(q, i), names[i]);
    ck_assert_ptr_null(ctm_query_column_name(q, 9));
    ck_assert_ptr_null(ctm_query_column_name(q, -1));
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
        ck_assert_str_eq(ctm_query_text(q, 0), users[r]);
        ck_assert_int_eq(ctm_query_column_type(q, 3), CTM_INTEGER);
        ck_assert_int_eq(ctm_query_column_type(q, 4), CTM_INTEGER);
        ck_assert_int_eq(ctm_query_int64(q, 4), 0);
        ck_assert_int_eq(ctm_query_int64(q, 5), 0);
        const char *created = ctm_query_text(q, 6);
        int y, mo, d, h, mi, s;
        char z = 0;
        ck_assert_msg(sscanf(created, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) == 7 &&
                          z == 'Z' && y >= 2024,
                      "created: %s", created);
        const char *pk = ctm_query_text(q, 7);
        ck_assert_int_eq(ctm_query_int64(q, 8), 0);
        ck_assert_uint_eq(strlen(pk), 64);
        ck_assert_uint_eq(strspn(pk, "0123456789abcdef"), 64);
        if (r == 0) {
            ck_assert_str_eq(ctm_query_text(q, 1), ADMIN_NAME);
            ck_assert_str_eq(ctm_query_text(q, 2), "admin");
            ck_assert_int_eq(ctm_query_int64(q, 3), 1);
        } else if (r == 1) {
            ck_assert_str_eq(ctm_query_text(q, 1), "Phil Pharmacist");
            ck_assert_str_eq(ctm_query_text(q, 2), "pharmacist");
            ck_assert_int_eq(ctm_query_int64(q, 3), 0);
        } else {
            ck_assert_str_eq(ctm_query_text(q, 2), "technician");
        }
    }
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    /* Any logged-in user may list. */
    ctm_logout(db_a);
    login(db_a, TECH, TECH_PW);
    q = NULL;
    ck_assert_int_eq(ctm_user_list(&q, db_a), CTM_OK);
    int rows = 0;
    while (ctm_query_next(q) == CTM_ROW)
        rows++;
    ck_assert_int_eq(rows, 3);
    ctm_query_free(q);
}
END_TEST

static Suite *users_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc;

    tc = tu_tcase(s, "login", setup, teardown, 120);
    tcase_add_test(tc, test_login_ok_and_logout);
    tcase_add_test(tc, test_nobody_logged_in_cannot_act);
    tcase_add_test(tc, test_wrong_password_recorded);
    tcase_add_test(tc, test_unknown_user_recorded);
    tcase_add_test(tc, test_success_resets_failures);
    tcase_add_test(tc, test_five_failures_lock_account);
    tcase_add_test(tc, test_login_bad_arguments);
    tcase_add_test(tc, test_empty_password_is_a_usage_error);
    tcase_add_test(tc, test_disabled_account_is_no_password_oracle);
    tcase_add_test(tc, test_login_answers_take_one_password_check);
    tcase_add_test(tc, test_login_damaged_sealed_key);

    tc = tu_tcase(s, "user_add", setup, teardown, 120);
    tcase_add_test(tc, test_user_add_by_admin);
    tcase_add_test(tc, test_user_add_printed_name_defaults);
    tcase_add_test(tc, test_user_add_refusals);
    tcase_add_test(tc, test_user_add_by_pharmacist_denied);

    tc = tu_tcase(s, "disable_enable", setup, teardown, 120);
    tcase_add_test(tc, test_disable_blocks_login);
    tcase_add_test(tc, test_disabled_while_logged_in);
    tcase_add_test(tc, test_admin_cannot_disable_self);
    tcase_add_test(tc, test_account_changes_need_admin);
    tcase_add_test(tc, test_unknown_user_not_found);
    tcase_add_test(tc, test_reasons_mandatory);

    tc = tu_tcase(s, "roles", setup, teardown, 120);
    tcase_add_test(tc, test_set_role_audited);
    tcase_add_test(tc, test_last_admin_cannot_be_demoted);
    tcase_add_test(tc, test_role_change_applies_to_open_session);

    tc = tu_tcase(s, "passwords", setup, teardown, 120);
    tcase_add_test(tc, test_passwd_own_gives_new_key);
    tcase_add_test(tc, test_passwd_reset_allows_only_own_password);
    tcase_add_test(tc, test_passwd_reset_ends_open_sessions);
    tcase_add_test(tc, test_schema_2_users_migrate);
    tcase_add_test(tc, test_passwd_others_needs_admin);

    tc = tu_tcase(s, "list", setup, teardown, 120);
    tcase_add_test(tc, test_user_list_columns);

    return s;
}

int main(void)
{
    static const struct tu_user users[] = {
        {PHARM, "pharmacist", 0, "Phil Pharmacist", PHARM_PW},
        {TECH, "technician", 0, "Tess Technician", TECH_PW},
    };
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    template_dir =
        tu_build_template(ADMIN, ADMIN_NAME, ADMIN_PW, users, sizeof users / sizeof users[0]);
    if (template_dir == NULL)
        return EXIT_FAILURE;
    int rc = tu_run_suite(users_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
