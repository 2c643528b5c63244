/* test_migrate.c - a site moving between databases (ctm_migrate_to): the copy holds the same
 * entries, roots and checkpoints, a checkpoint held from before the move still proves the copy
 * extends it, new rows get fresh ids, and every refusal leaves the target as it was.
 * SQLite to SQLite always; SQLite to PostgreSQL and back when the environment names a server
 * (CTM_TEST_PG, or PGHOST as pg_virtualenv sets it; each run gets databases of its own). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctm.h"
#include "store.h"
#include "pgutil.h"
#include "testutil.h"

#define PW "correct horse 1"

static char *template_dir;
static const char *pg_base; /* a server the environment names, or NULL */
static char run_prefix[64];

static char *dir;
static ctm_db *src;
static char src_path[4200], key_path[4200];

static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pete", "pharmacist", 1, "Pete Ström", PW},
    };
    template_dir = tu_build_template("anna", "Anna Berg", PW, users, 1);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *db = NULL;
    tu_must(ctm_open(&db, path, NULL), "open");
    tu_must(ctm_login(db, "anna", PW), "login anna");
    tu_must(ctm_trial_add(db, "MIG-1", "Migration trial", "Sponsor", 1, "A:1,B:1"), "trial");
    tu_must(ctm_kittype_add(db, "MIG-1", "KT", "Drug", 30, 2, 8, 30, NULL), "kit type");
    tu_must(ctm_location_add(db, "FRIDGE1", "fridge", 2, 8), "fridge");
    tu_must(ctm_login(db, "pete", PW), "login pete");
    static const char manifest[] = "kit_number,kit_type,lot,expiry,arm\n"
                                   "K1,KT,L1,2030-01-31,A\nK2,KT,L1,2030-01-31,B\n";
    tu_must(ctm_receive(db, "MIG-1", "SH1", manifest, sizeof manifest - 1, "FRIDGE1", NULL),
            "receive");
    tu_must(ctm_audit_note(db, "before the move", NULL), "note");
    ctm_close(db);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(src_path, sizeof src_path, "%s/" TU_SITE_DB, dir);
    snprintf(key_path, sizeof key_path, "%s/" TU_SITE_DB ".key", dir);
    src = tu_open(src_path, NULL);
    tu_login(src, "anna", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &src, NULL);
}

static ctm_db *open_copy(const char *target, unsigned flags)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = flags;
    o.key_path = key_path;
    return tu_open(target, &o);
}

static char *checkpoint(ctm_db *h)
{
    char *c = NULL;
    tu_ok(ctm_audit_checkpoint(&c, h));
    return c;
}

/* The copy has the site's checkpoint word for word, verifies against the site's key with a
 * checkpoint held from before the move, accepts new actions with fresh ids, and the site is
 * unchanged. */
static void assert_same_site(const char *target)
{
    char *vkey = NULL, *held = checkpoint(src);
    tu_ok(ctm_audit_vkey(&vkey, src));
    uint64_t size = tu_audit_size(src);
    ctm_db *copy = open_copy(target, 0);
    char *theirs = checkpoint(copy);
    ck_assert_str_eq(theirs, held);
    ck_assert_uint_eq(tu_audit_size(copy), size);
    tu_login(copy, "pete", PW);
    tu_ok(ctm_location_add(copy, "FRIDGE2", "fridge", 2, 8));
    tu_ok(ctm_audit_note(copy, "after the move", NULL));
    ck_assert_uint_eq(tu_audit_size(copy), size + 2);
    ctm_verify_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    int rc = ctm_audit_verify(copy, vkey, held, &r);
    ck_assert_msg(rc == CTM_OK, "verify the copy: %s", ctm_errmsg());
    ck_assert_uint_eq(r.entries, size + 2);
    ck_assert_uint_eq(tu_audit_size(src), size);
    ctm_close(copy);
    ctm_free(theirs);
    ctm_free(held);
    ctm_free(vkey);
}

START_TEST(test_file_to_file)
{
    char target[4300];
    snprintf(target, sizeof target, "%s/copy.db", dir);
    tu_ok(ctm_migrate_to(src, target));
    assert_same_site(target);
}
END_TEST

/* SQLite to PostgreSQL, actions there, and back to a file: the ledger is the same throughout. */
START_TEST(test_file_to_server_and_back)
{
    char target[256];
    pu_new_database(pg_base, run_prefix, target, sizeof target);
    tu_ok(ctm_migrate_to(src, target));
    ctm_db *server = open_copy(target, 0);
    char *held = checkpoint(src), *there = checkpoint(server);
    ck_assert_str_eq(there, held);
    tu_login(server, "pete", PW);
    tu_ok(ctm_location_add(server, "FRIDGE2", "fridge", 2, 8));
    const char *kits[] = {"K1"};
    tu_ok(ctm_transfer(server, "MIG-1", kits, 1, "FRIDGE2", NULL));
    tu_login(server, "anna", PW);
    char back[4300];
    snprintf(back, sizeof back, "%s/back.db", dir);
    tu_ok(ctm_migrate_to(server, back));
    char *now = checkpoint(server);
    ctm_close(server);
    ctm_db *b = open_copy(back, 0);
    char *b_now = checkpoint(b);
    ck_assert_str_eq(b_now, now);
    char *vkey = NULL;
    tu_ok(ctm_audit_vkey(&vkey, src));
    ctm_verify_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    int rc = ctm_audit_verify(b, vkey, held, &r);
    ck_assert_msg(rc == CTM_OK, "verify: %s", ctm_errmsg());
    ck_assert_uint_eq(r.entries, tu_audit_size(src) + 2);
    ctm_close(b);
    ctm_free(vkey);
    ctm_free(held);
    ctm_free(there);
    ctm_free(now);
    ctm_free(b_now);
}
END_TEST

START_TEST(test_refusals_leave_nothing)
{
    char target[4300];
    snprintf(target, sizeof target, "%s/copy.db", dir);
    /* only an administrator */
    tu_login(src, "pete", PW);
    ck_assert_int_eq(ctm_migrate_to(src, target), CTM_EDENIED);
    ck_assert_int_eq(access(target, F_OK), -1);
    tu_login(src, "anna", PW);
    /* a blinded administrator would get every kit's arm in a database of their choosing */
    tu_ok(ctm_user_add(src, "bea", "admin", 0, "Bea Blind", PW));
    tu_login(src, "bea", PW);
    ck_assert_int_eq(ctm_migrate_to(src, target), CTM_EBLINDED);
    ck_assert_int_eq(access(target, F_OK), -1);
    tu_login(src, "anna", PW);
    ck_assert_int_eq(ctm_migrate_to(src, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_migrate_to(src, src_path), CTM_EINVAL);
    /* an existing file is never written */
    tu_ok(ctm_migrate_to(src, target));
    ck_assert_int_eq(ctm_migrate_to(src, target), CTM_EEXISTS);
    ck_assert(strstr(ctm_errmsg(), "exists") != NULL);
    /* a directory that does not exist: an error, and no file */
    char nowhere[4300];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/x.db", dir);
    int rc = ctm_migrate_to(src, nowhere);
    ck_assert_int_ne(rc, CTM_OK);
    ck_assert_int_eq(access(nowhere, F_OK), -1);
    /* inside a batch the handle's transaction is the caller's */
    tu_ok(ctm_batch_begin(src));
    char other[4300];
    snprintf(other, sizeof other, "%s/other.db", dir);
    ck_assert_int_eq(ctm_migrate_to(src, other), CTM_EMISUSE);
    tu_ok(ctm_batch_rollback(src));
    ck_assert_int_eq(access(other, F_OK), -1);
    /* nobody logged in */
    ctm_logout(src);
    ck_assert_int_eq(ctm_migrate_to(src, other), CTM_EMISUSE);
}
END_TEST

START_TEST(test_server_refusals)
{
    char target[256];
    pu_new_database(pg_base, run_prefix, target, sizeof target);
    tu_ok(ctm_migrate_to(src, target));
    /* a second copy into a database that holds a site */
    ck_assert_int_eq(ctm_migrate_to(src, target), CTM_EEXISTS);
    /* a database that holds something else */
    char other[256];
    pu_new_database(pg_base, run_prefix, other, sizeof other);
    ctm__store *s = NULL;
    ck_assert_int_eq(ctm__store_open(&s, other, 0), CTM_OK);
    ck_assert_int_eq(ctm__store_exec(s, "CREATE TABLE invoices(id int)"), CTM_OK);
    ctm__store_close(s);
    int rc = ctm_migrate_to(src, other);
    ck_assert_int_eq(rc, CTM_ENOTDB);
    /* a server nobody listens on: a clear error naming it */
    rc = ctm_migrate_to(src, "postgresql://127.0.0.1:1/nowhere?connect_timeout=2");
    ck_assert_int_eq(rc, CTM_EIO);
    ck_assert(strstr(ctm_errmsg(), "127.0.0.1") != NULL);
}
END_TEST

static Suite *migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tu_tcase(s, "copies", setup, teardown, 120);
    tcase_add_test(tc, test_file_to_file);
    if (pg_base != NULL)
        tcase_add_test(tc, test_file_to_server_and_back);
    tc = tu_tcase(s, "refusals", setup, teardown, 120);
    tcase_add_test(tc, test_refusals_leave_nothing);
    if (pg_base != NULL)
        tcase_add_test(tc, test_server_refusals);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    pg_base = pu_server("migrate");
    snprintf(run_prefix, sizeof run_prefix, "ctm_migrate_%ld", (long)getpid());
    build_template();
    int rc = tu_run_suite(migrate_suite());
    if (pg_base != NULL)
        pu_drop_databases(pg_base, run_prefix);
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
