/* test_witness.c - a monitor witnesses the site's checkpoints: each cosignature extends the one
 * before, a rewound or rewritten site is refused, verification reports the largest witnessed size
 * and fails, naming it, when the ledger no longer extends it; forged cosignatures count for
 * nothing. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctm.h"
#include "note.h"
#include "testutil.h"

#define PW "witness-pw-1234"

static char *template_dir;
static char *dir;
static char db_path[4096];
static char key_path[4200];
static ctm_db *db;
static char *site_vkey;
static char *witness_vkey;

static void must(int rc, const char *what)
{
    if (rc != CTM_OK) {
        fprintf(stderr, "test_witness: %s failed (%d): %s\n", what, rc, ctm_errmsg());
        exit(EXIT_FAILURE);
    }
}

/* The site once: an administrator, a monitor and a pharmacist, and a note. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.db", template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    must(tu_create_site(path) == 0 ? tu_open_rc(&h, path, &o) : CTM_ERROR, "open");
    must(ctm_init(h, "Witness Test Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    must(ctm_user_add(h, "mona", "monitor", 0, "Mona Monitor", PW), "add monitor");
    must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "add pharmacist");
    must(ctm_audit_note(h, "set up", NULL), "note");
    must(ctm_audit_vkey(&site_vkey, h), "vkey");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, "t.db");
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    snprintf(key_path, sizeof key_path, "%s/monitor.key", dir);
    tu_ok(ctm_witness_key_create(&witness_vkey, key_path, "monitor.example.org/mona"));
    db = tu_open(db_path, NULL);
    tu_login(db, "mona", PW);
}

static void teardown(void)
{
    ctm_free(witness_vkey);
    witness_vkey = NULL;
    tu_teardown(&dir, &db, NULL);
}

static int64_t count(const char *sql)
{
    return tu_sql_int(db_path, sql, NULL);
}

/* The note's signature by the key vkey names, checked as any note verifier would. */
static int signed_by(const char *note, const char *vkey)
{
    char *name = NULL;
    uint8_t pub[32];
    int ok = ctm__note_vkey_parse(vkey, &name, pub) == 0 &&
             ctm__note_verify(note, name, pub, NULL) == 0;
    free(name);
    return ok;
}

static ctm_verify_result verify_rc(ctm_db *h, int want)
{
    ctm_verify_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    int rc = ctm_audit_verify(h, site_vkey, NULL, &r);
    ck_assert_msg(rc == want, "verify gave %d, not %d: %s", rc, want, ctm_errmsg());
    return r;
}

/* A second site directory holding a copy of this one as it is now (a backup). */
static char *backup(void)
{
    ctm_close(db);
    db = NULL;
    char *b = tu_test_dir(dir, "t.db");
    db = tu_open(db_path, NULL);
    tu_login(db, "mona", PW);
    return b;
}

/* The cosignatures row of the newest cosignature of `from`, copied into the site at path as an
 * intruder would. */
static void copy_cosignatures(const char *path)
{
    char *rows = tu_sql_text(db_path, "SELECT 'INSERT INTO cosignatures(id, size, witness, vkey,"
                                      " note, stored_us, stored_by) VALUES (' || id || ', ' ||"
                                      " size || ', ''' || witness || ''', ''' || vkey || ''', '''"
                                      " || note || ''', ' || stored_us || ', ''' || stored_by ||"
                                      " ''')' FROM cosignatures ORDER BY id DESC LIMIT 1");
    ck_assert_ptr_nonnull(rows);
    tu_sql_exec(path, rows);
    free(rows);
}

START_TEST(the_monitor_cosigns_and_verify_reports_the_witnessed_size)
{
    uint64_t n = tu_audit_size(db);
    char *note = NULL, *checkpoint = NULL;
    tu_ok(ctm_audit_checkpoint(&checkpoint, db));
    tu_ok(ctm_audit_witness(&note, db, key_path, site_vkey, NULL));
    /* the site's checkpoint, with one more signature line: the witness's */
    ck_assert_uint_eq(strncmp(note, checkpoint, strlen(checkpoint)), 0);
    const char *added = note + strlen(checkpoint);
    ck_assert_ptr_eq(strchr(added, '\n'), added + strlen(added) - 1);
    ck_assert(strncmp(added, "\xe2\x80\x94 monitor.example.org/mona ",
                      strlen("\xe2\x80\x94 monitor.example.org/mona ")) == 0);
    ck_assert(signed_by(note, witness_vkey));
    ck_assert(signed_by(note, site_vkey));
    /* stored as the monitor's audited action, one entry */
    ck_assert_uint_eq(tu_audit_size(db), n + 1);
    ck_assert_int_eq(count("SELECT count(*) FROM cosignatures"), 1);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT size FROM cosignatures WHERE vkey = ?1",
                                witness_vkey), (int64_t)n);
    char *by = tu_sql_text(db_path, "SELECT stored_by || ' ' || witness FROM cosignatures");
    ck_assert_str_eq(by, "mona monitor.example.org/mona");
    free(by);
    ctm_query *q = tu_log_entry(db, n);
    ck_assert_str_eq(ctm_query_text(q, 3), "audit.cosign");
    ck_assert_str_eq(ctm_query_text(q, 2), "mona");
    char params[200];
    snprintf(params, sizeof params, "{\"witness\":\"monitor.example.org/mona\",\"size\":\"%llu\"}",
             (unsigned long long)n);
    ck_assert_str_eq(ctm_query_text(q, 5), params);
    ctm_query_free(q);
    ctm_verify_result r = verify_rc(db, CTM_OK);
    ck_assert_uint_eq(r.cosignatures, 1);
    ck_assert_uint_eq(r.witnessed_size, n);
    ck_assert_str_eq(r.witness, "monitor.example.org/mona");
    /* the cosigned note is a checkpoint held outside like any other */
    tu_ok(ctm_audit_verify(db, site_vkey, note, NULL));

    /* the next witnessing extends the last: the previous note is the one just made */
    tu_ok(ctm_audit_note(db, "visit", NULL));
    char *next = NULL;
    tu_ok(ctm_audit_witness(&next, db, key_path, NULL, note));
    ck_assert(signed_by(next, witness_vkey));
    r = verify_rc(db, CTM_OK);
    ck_assert_uint_eq(r.cosignatures, 2);
    ck_assert_uint_eq(r.witnessed_size, n + 2);
    ctm_free(next);
    ctm_free(note);
    ctm_free(checkpoint);
}
END_TEST

START_TEST(only_a_monitor_witnesses_and_nothing_is_stored_on_refusal)
{
    uint64_t n = tu_audit_size(db);
    char *note = NULL;
    ctm_logout(db);
    tu_login(db, "pia", PW);
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, NULL, NULL), CTM_EDENIED);
    ck_assert_ptr_null(note);
    ctm_logout(db);
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, NULL, NULL), CTM_EMISUSE);
    tu_login(db, "mona", PW);
    /* a key file others can read is not a key */
    chmod(key_path, 0644);
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, NULL, NULL), CTM_EIO);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "readable by others"));
    chmod(key_path, 0600);
    /* another site's verifier key: the checkpoint does not verify with it */
    char *other = NULL;
    char other_path[4300];
    snprintf(other_path, sizeof other_path, "%s/other.key", dir);
    tu_ok(ctm_witness_key_create(&other, other_path, TU_ORIGIN));
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, other, NULL), CTM_EINTEGRITY);
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, "not a key", NULL), CTM_EINVAL);
    /* a previous checkpoint that is not the site's */
    ck_assert_int_eq(ctm_audit_witness(&note, db, key_path, NULL, "x\n1\nAAAA\n\n"), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "previous checkpoint"));
    ck_assert_uint_eq(tu_audit_size(db), n);
    ck_assert_int_eq(count("SELECT count(*) FROM cosignatures"), 0);
    ctm_free(other);
}
END_TEST

START_TEST(witness_keys)
{
    char *again = NULL;
    tu_ok(ctm_witness_key_vkey(&again, key_path));
    ck_assert_str_eq(again, witness_vkey);
    ctm_free(again);
    struct stat st;
    ck_assert_int_eq(stat(key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    char *text = tu_read_file(key_path, NULL);
    ck_assert(strncmp(text, "libctm-witness-key-v1 monitor.example.org/mona ", 47) == 0);
    ck_assert_uint_eq(strlen(text), 47 + 44 + 1);
    free(text);
    /* the verifier key: name, key id, base64 of 0x01 and the key, as note.c makes */
    ck_assert(strncmp(witness_vkey, "monitor.example.org/mona+", 25) == 0);
    ck_assert_uint_eq(strlen(witness_vkey), 25 + 8 + 1 + 44);
    /* never overwritten; names are key names */
    ck_assert_int_eq(ctm_witness_key_create(&again, key_path, "x"), CTM_EEXISTS);
    ck_assert_ptr_null(again);
    char p[4300];
    snprintf(p, sizeof p, "%s/bad.key", dir);
    ck_assert_int_eq(ctm_witness_key_create(&again, p, "two words"), CTM_EINVAL);
    ck_assert_int_eq(ctm_witness_key_create(&again, p, "a+b"), CTM_EINVAL);
    ck_assert_int_eq(ctm_witness_key_vkey(&again, p), CTM_EIO);
    FILE *f = fopen(p, "w");
    fputs("libctm-site-key-v1 AAAA\n", f);
    fclose(f);
    chmod(p, 0600);
    ck_assert_int_eq(ctm_witness_key_vkey(&again, p), CTM_EIO);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "not a libctm witness key file"));
}
END_TEST

START_TEST(a_rewound_site_is_refused)
{
    char *b = backup();
    uint64_t k = tu_audit_size(db);
    tu_ok(ctm_audit_note(db, "after the backup", NULL));
    char *note = NULL;
    tu_ok(ctm_audit_witness(&note, db, key_path, NULL, NULL));
    /* the site goes back to the backup: smaller than what was witnessed */
    char bpath[4300];
    snprintf(bpath, sizeof bpath, "%s/t.db", b);
    ctm_db *old = tu_open(bpath, NULL);
    tu_login(old, "mona", PW);
    char *again = NULL;
    ck_assert_int_eq(ctm_audit_witness(&again, old, key_path, NULL, note), CTM_EINTEGRITY);
    char want[200];
    snprintf(want, sizeof want, "newest checkpoint has size %llu, but size %llu was witnessed",
             (unsigned long long)k, (unsigned long long)k + 1);
    ck_assert_msg(strstr(ctm_errmsg(), want) != NULL, "%s", ctm_errmsg());
    ck_assert_ptr_null(again);
    ck_assert_uint_eq(tu_audit_size(old), k);
    ck_assert_int_eq(tu_sql_int(bpath, "SELECT count(*) FROM cosignatures", NULL), 0);

    /* and a site whose history was rewritten from there (another entry at the same seq, signed
     * with the site's key) is refused at the same size and beyond */
    tu_ok(ctm_audit_note(old, "another history", NULL));
    ck_assert_int_eq(ctm_audit_witness(&again, old, key_path, NULL, note), CTM_EINTEGRITY);
    snprintf(want, sizeof want, "the ledger at size %llu differs", (unsigned long long)k + 1);
    ck_assert_msg(strstr(ctm_errmsg(), want) != NULL, "%s", ctm_errmsg());
    tu_ok(ctm_audit_note(old, "more", NULL));
    ck_assert_int_eq(ctm_audit_witness(&again, old, key_path, NULL, note), CTM_EINTEGRITY);
    ck_assert_msg(strstr(ctm_errmsg(), want) != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(tu_sql_int(bpath, "SELECT count(*) FROM cosignatures", NULL), 0);
    ctm_close(old);
    ctm_free(note);
    tu_rmtree(b);
    free(b);
}
END_TEST

START_TEST(a_truncated_ledger_fails_verify_naming_the_witnessed_size)
{
    char *b = backup();
    uint64_t k = tu_audit_size(db);
    tu_ok(ctm_audit_note(db, "after the backup", NULL));
    char *note = NULL;
    tu_ok(ctm_audit_witness(&note, db, key_path, NULL, NULL));
    ctm_free(note);
    /* the backup put back in place of the site, with the cosignatures kept */
    char bpath[4300];
    snprintf(bpath, sizeof bpath, "%s/t.db", b);
    copy_cosignatures(bpath);
    ctm_db *old = tu_open(bpath, NULL);
    ctm_verify_result r = verify_rc(old, CTM_EINTEGRITY);
    char want[300];
    snprintf(want, sizeof want,
             "witness monitor.example.org/mona cosigned the checkpoint of size %llu, but the "
             "ledger has %llu entries", (unsigned long long)k + 1, (unsigned long long)k);
    ck_assert_msg(strstr(ctm_errmsg(), want) != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(r.failed_seq, (int64_t)k);
    ck_assert_uint_eq(r.witnessed_size, k + 1);

    /* rewritten instead, to as many entries: the root at the witnessed size differs */
    tu_login(old, "mona", PW);
    tu_ok(ctm_audit_note(old, "another history", NULL));
    r = verify_rc(old, CTM_EINTEGRITY);
    snprintf(want, sizeof want, "the log at size %llu differs from the checkpoint witness "
             "monitor.example.org/mona cosigned", (unsigned long long)k + 1);
    ck_assert_msg(strstr(ctm_errmsg(), want) != NULL, "%s", ctm_errmsg());
    ck_assert_int_eq(r.failed_seq, (int64_t)k);
    ctm_close(old);
    tu_rmtree(b);
    free(b);
}
END_TEST

START_TEST(a_forged_cosignature_is_not_counted)
{
    uint64_t n = tu_audit_size(db);
    char *note = NULL, *other = NULL, *note2 = NULL;
    tu_ok(ctm_audit_witness(&note, db, key_path, NULL, NULL));
    char other_path[4300];
    snprintf(other_path, sizeof other_path, "%s/other.key", dir);
    tu_ok(ctm_witness_key_create(&other, other_path, "sponsor.example.org/cra"));
    tu_ok(ctm_audit_witness(&note2, db, other_path, NULL, NULL));
    ctm_verify_result r = verify_rc(db, CTM_OK);
    ck_assert_uint_eq(r.cosignatures, 2);
    ck_assert_uint_eq(r.witnessed_size, n + 1);
    ck_assert_str_eq(r.witness, "sponsor.example.org/cra");
    /* the second cosignature claimed for the first witness's key, at a size beyond the ledger:
     * not signed by that key, so it counts for nothing (the edit itself is found by the table
     * comparison) */
    char sql[2000];
    snprintf(sql, sizeof sql, "UPDATE cosignatures SET vkey = '%s', size = 1000 WHERE vkey = '%s'",
             witness_vkey, other);
    tu_sql_exec(db_path, sql);
    r = verify_rc(db, CTM_EINTEGRITY);
    ck_assert_uint_eq(r.cosignatures, 1);
    ck_assert_uint_eq(r.witnessed_size, n);
    ck_assert_str_eq(r.witness, "monitor.example.org/mona");
    ck_assert_str_eq(r.failed_table, "cosignatures");
    ctm_free(note);
    ctm_free(note2);
    ctm_free(other);
}
END_TEST

static Suite *witness_suite(void)
{
    Suite *s = suite_create("witness");
    TCase *tc = tu_tcase(s, "witness", setup, teardown, 60);
    tcase_add_test(tc, the_monitor_cosigns_and_verify_reports_the_witnessed_size);
    tcase_add_test(tc, only_a_monitor_witnesses_and_nothing_is_stored_on_refusal);
    tcase_add_test(tc, witness_keys);
    tcase_add_test(tc, a_rewound_site_is_refused);
    tcase_add_test(tc, a_truncated_ledger_fails_verify_naming_the_witnessed_size);
    tcase_add_test(tc, a_forged_cosignature_is_not_counted);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(witness_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    free(site_vkey);
    return rc;
}
