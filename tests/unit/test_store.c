/* test_store.c - opening databases, telling libctm files from others, site init and the site key. */
#include "ctm.h"
#include "entry.h"
#include "schema.h"
#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN "admin"
#define ADMIN_PW "admin-password"
#define ORIGIN "example.org/pharmacy-1"

/* ---- per-test state: a fresh directory; handles are closed by the teardown even when a test
 * fails half-way ---- */

static char *tdir;
static char dbpath[4096];
static char keypath[4200];
static ctm_db *db_a, *db_b;

static void setup(void)
{
    tdir = tu_test_dir(NULL, NULL);
    snprintf(dbpath, sizeof dbpath, "%s/site.db", tdir);
    snprintf(keypath, sizeof keypath, "%s.key", dbpath);
    db_a = db_b = NULL;
}

static void teardown(void)
{
    tu_teardown(&tdir, &db_a, &db_b);
}

/* ---- helpers ---- */

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    ck_assert_int_eq(close(fd), 0);
}

static char *read_all(const char *path, size_t *len)
{
    char *p = tu_read_file(path, len);
    ck_assert_msg(p != NULL, "cannot read %s", path);
    return p;
}

static void assert_file_is(const char *path, const char *bytes, size_t len)
{
    size_t n = 0;
    char *now = read_all(path, &n);
    ck_assert_msg(n == len && memcmp(now, bytes, len) == 0, "%s was changed", path);
    free(now);
}

static ctm_db *open_with(const char *path, unsigned flags, const unsigned char *seed)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = flags;
    o.site_seed = seed;
    ctm_db *h = tu_open(path, &o);
    ck_assert_ptr_nonnull(h);
    return h;
}

static void init_site(ctm_db *h, const char *origin)
{
    int rc = ctm_init(h, "St Example Pharmacy", origin, ADMIN, "Ada Admin", ADMIN_PW);
    ck_assert_msg(rc == CTM_OK, "init: %s", ctm_errmsg());
}

/* A created and initialised site at path; returns with the handle closed. */
static void make_site(const char *path)
{
    ctm_db *h = open_with(path, CTM_OPEN_CREATE, NULL);
    init_site(h, ORIGIN);
    ctm_close(h);
}

/* The C2SP verifier key for an Ed25519 public key, computed here independently of the library:
 * "<name>+<hex of SHA-256(name || '\n' || 0x01 || pub)[:4]>+<base64(0x01 || pub)>". */
static char *expected_vkey(const char *name, const uint8_t pub[32])
{
    size_t nlen = strlen(name);
    uint8_t *msg = malloc(nlen + 2 + 32), h[crypto_hash_sha256_BYTES], key[33];
    ck_assert_ptr_nonnull(msg);
    memcpy(msg, name, nlen);
    msg[nlen] = '\n';
    msg[nlen + 1] = 0x01;
    memcpy(msg + nlen + 2, pub, 32);
    crypto_hash_sha256(h, msg, nlen + 2 + 32);
    free(msg);
    key[0] = 0x01;
    memcpy(key + 1, pub, 32);
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(nlen + 1 + 8 + 1 + sizeof b64);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "%s+%02x%02x%02x%02x+%s", name, h[0], h[1], h[2], h[3], b64);
    return out;
}

static char *last_action(ctm_db *h, char **esig_meaning)
{
    ctm_query *q = tu_log_entry(h, tu_audit_size(h) - 1);
    ck_assert_str_eq(ctm_query_column_name(q, 3), "action");
    ck_assert_str_eq(ctm_query_column_name(q, 9), "esig_meaning");
    char *action = strdup(ctm_query_text(q, 3));
    const char *m = ctm_query_text(q, 9);
    *esig_meaning = m != NULL ? strdup(m) : NULL;
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    return action;
}

/* ---- opening: arguments and files that are not libctm databases ---- */

START_TEST(test_open_null_or_empty_path)
{
    ctm_db *h = (ctm_db *)&h; /* any non-NULL value: a failed open must reset it */
    ck_assert_int_eq(ctm_open(&h, NULL, NULL), CTM_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_str_ne(ctm_errmsg(), "");
    h = (ctm_db *)&h;
    ck_assert_int_eq(ctm_open(&h, "", NULL), CTM_EINVAL);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(ctm_errcode(), CTM_EINVAL);
    ck_assert_int_eq(ctm_open(NULL, dbpath, NULL), CTM_EINVAL);
    ck_assert(!exists(dbpath));
}
END_TEST

START_TEST(test_open_missing_without_create)
{
    ctm_db *h = (ctm_db *)&h;
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_EIO);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(ctm_errmsg(), dbpath) != NULL, "message names the file: %s", ctm_errmsg());
    ck_assert(!exists(dbpath));

    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    ck_assert_int_eq(ctm_open(&h, dbpath, &o), CTM_EIO);
    ck_assert(!exists(dbpath));

    /* Create cannot make a missing directory either. */
    char deep[4300];
    snprintf(deep, sizeof deep, "%s/no/such/dir.db", tdir);
    o.flags = CTM_OPEN_CREATE;
    ck_assert_int_eq(ctm_open(&h, deep, &o), CTM_EIO);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_open_text_file_is_not_db)
{
    static const char text[] = "patient list\nthis is not a database, just some text\n";
    write_file(dbpath, text, sizeof text - 1, 0600);
    ctm_db *h = (ctm_db *)&h;
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_ENOTDB);
    ck_assert_ptr_null(h);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ck_assert_int_eq(ctm_open(&h, dbpath, &o), CTM_ENOTDB);
    ck_assert_ptr_null(h);
    ck_assert_str_ne(ctm_errmsg(), "");
    assert_file_is(dbpath, text, sizeof text - 1);
}
END_TEST

START_TEST(test_open_random_bytes_is_not_db)
{
    unsigned char junk[8192];
    randombytes_buf(junk, sizeof junk);
    junk[0] = 'X'; /* never the SQLite magic, however the dice fall */
    write_file(dbpath, junk, sizeof junk, 0600);
    ctm_db *h = (ctm_db *)&h;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ck_assert_int_eq(ctm_open(&h, dbpath, &o), CTM_ENOTDB);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_ENOTDB);
    assert_file_is(dbpath, (const char *)junk, sizeof junk);
}
END_TEST

START_TEST(test_open_foreign_sqlite_db_untouched)
{
    tu_sql_exec(dbpath, "CREATE TABLE patients(id INTEGER PRIMARY KEY, name TEXT);"
                        "INSERT INTO patients(name) VALUES ('someone else''s data');");
    size_t before_len = 0;
    char *before = read_all(dbpath, &before_len);
    ctm_db *h = (ctm_db *)&h;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ck_assert_int_eq(ctm_open(&h, dbpath, &o), CTM_ENOTDB);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_ENOTDB);
    assert_file_is(dbpath, before, before_len);
    free(before);
    char wal[4300];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    ck_assert_msg(!exists(wal), "the other application's database was switched to WAL");
    char *mode = tu_sql_text(dbpath, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "delete");
    free(mode);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM sqlite_master", NULL), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM patients", NULL), 1);
}
END_TEST

START_TEST(test_open_newer_version_refused)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    ctm_close(db_a);
    db_a = NULL;
    tu_sql_exec(dbpath, "PRAGMA user_version = 99");
    ctm_db *h = (ctm_db *)&h;
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_EVERSION);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(ctm_errmsg(), "99") != NULL, "message names the version: %s", ctm_errmsg());
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_READONLY;
    ck_assert_int_eq(ctm_open(&h, dbpath, &o), CTM_EVERSION);
    /* Nothing was migrated or rewritten. */
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), 99);
}
END_TEST

/* ---- creating ---- */

START_TEST(test_create_sets_wal_and_identity)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    char *mode = tu_sql_text(dbpath, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA application_id", NULL), 0x43544d31);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), CTM_SCHEMA_VERSION);
    /* Not initialised yet: no site, no ledger, no key file. */
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM site", NULL), 0);
    ck_assert_uint_eq(tu_audit_size(db_a), 0);
    ck_assert(!exists(keypath));
    ctm_close(db_a);
    db_a = NULL;
    /* Reopening without CTM_OPEN_CREATE accepts the file it created. */
    db_a = open_with(dbpath, 0, NULL);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), CTM_SCHEMA_VERSION);
    /* A site never initialised has no ledger to upgrade: its first entry will be salted. */
    ck_assert_uint_eq(tu_audit_size(db_a), 0);
}
END_TEST

/* A site made by the first release (schema 1) gains the stock tables when a newer libctm opens
 * it, and its ledger still verifies against the migrated schema. */
START_TEST(test_schema_1_site_migrates_on_open)
{
    make_site(dbpath);
    tu_sql_exec(dbpath, TU_DROP_SCHEMA_5
                        " DROP TABLE discrepancies; DROP TABLE bulk_stock; DROP TABLE kit_moves; DROP TABLE kits;"
                        " DROP TABLE shipments; DROP TABLE lots; DROP TABLE locations;"
                        " DROP TABLE kit_types; DROP TABLE arms; DROP TABLE trials;"
                        " PRAGMA user_version = 1");
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM sqlite_master WHERE name = 'kits'",
                                NULL),
                     0);
    db_a = open_with(dbpath, 0, NULL);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), CTM_SCHEMA_VERSION);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM sqlite_master WHERE name = 'kits'",
                                NULL),
                     1);
    tu_assert_verifies(db_a, NULL);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_location_add(db_a, "FRIDGE1", "fridge", 2, 8), CTM_OK);
    tu_assert_verifies(db_a, NULL);
}
END_TEST

/* ---- sites from before salted entries (tests/data/legacy-v2: schema 2, entry version 1) ---- */

#define LEGACY_ENTRIES 16
#define TECH "tom"
#define TECH_PW "tom-password-12"
#define PHARM "petra"
#define PHARM_PW "petra-password-1"

static void copy_legacy_site(void)
{
    ck_assert_int_eq(tu_copy_site(tu_data_path("legacy-v2"), tdir, "site.db"), 0);
}

/* The audit log as the logged-in user reads it: no leaf_hash below seq hidden_below, one from
 * there on. */
static void assert_leaf_hashes(ctm_db *h, uint64_t hidden_below)
{
    ctm_query *q = NULL;
    uint64_t seq = 0;
    tu_ok(ctm_audit_log(&q, h, 0, 0));
    for (; ctm_query_next(q) == CTM_ROW; seq++)
        ck_assert_int_eq(ctm_query_column_type(q, 11), seq < hidden_below ? CTM_NULL : CTM_TEXT);
    ctm_query_free(q);
    ck_assert_uint_eq(seq, tu_audit_size(h));
}

static char *ledger_bytes(uint64_t below)
{
    char q[128];
    snprintf(q, sizeof q, "SELECT group_concat(hex(entry), '.') FROM"
                          " (SELECT entry FROM ledger WHERE seq < %llu ORDER BY seq)",
             (unsigned long long)below);
    return tu_sql_text(dbpath, q);
}

START_TEST(test_legacy_site_upgrades_with_one_salted_entry)
{
    copy_legacy_site();
    char *before = ledger_bytes(LEGACY_ENTRIES);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), 2);
    db_a = open_with(dbpath, 0, NULL);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), CTM_SCHEMA_VERSION);
    ck_assert_uint_eq(tu_audit_size(db_a), LEGACY_ENTRIES + 1);
    /* old entries are never rewritten: they are signed, and monitors hold checkpoints over them */
    char *after = ledger_bytes(LEGACY_ENTRIES);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* the new entry: version 2, salted, a system action with its own signed checkpoint */
    char *hexentry = tu_sql_text(dbpath, "SELECT hex(entry) FROM ledger WHERE seq = 16");
    int n = (int)(strlen(hexentry) / 2);
    uint8_t *bytes = malloc((size_t)n);
    ck_assert_int_eq(tu_hex_decode(hexentry, bytes, (size_t)n), n);
    ctm__entry e;
    char why[128];
    ck_assert_msg(ctm__entry_decode(&e, bytes, (size_t)n, why, sizeof why) == 0, "%s", why);
    ck_assert_uint_eq(e.version, CTM_ENTRY_VERSION);
    ck_assert_uint_eq(e.seq, LEGACY_ENTRIES);
    ck_assert_str_eq(e.user, "");
    ck_assert_str_eq(e.action, "ledger.upgrade");
    ck_assert_uint_eq(e.nparams, 2);
    ck_assert_str_eq(e.params[0].key, "from");
    ck_assert_str_eq(e.params[0].value, "2");
    ck_assert_str_eq(e.params[1].key, "to");
    char to[8];
    snprintf(to, sizeof to, "%d", CTM_SCHEMA_VERSION);
    ck_assert_str_eq(e.params[1].value, to);
    ck_assert_uint_eq(e.nchanges, 0);
    ck_assert_int_eq(e.has_esig, 0);
    static const uint8_t zero[CTM_ENTRY_SALT_LEN];
    ck_assert(memcmp(e.salt, zero, sizeof zero) != 0);
    ctm__entry_free(&e);
    free(bytes);
    free(hexentry);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM checkpoints WHERE size = 17", NULL), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT seq FROM ledger WHERE frontier IS NOT NULL", NULL), 16);
    tu_assert_verifies_all(db_a, "libctm/legacy-site+487693ac+AbrRCyTSuZbfRS2GtfyEMUFq4/IuNO732M56V0KzSS0f");
    /* opening again upgrades nothing more, and writing goes on with salted entries */
    ctm_close(db_a);
    db_a = open_with(dbpath, 0, NULL);
    ck_assert_uint_eq(tu_audit_size(db_a), LEGACY_ENTRIES + 1);
    tu_login(db_a, PHARM, PHARM_PW);
    tu_ok(ctm_audit_note(db_a, "after the upgrade", NULL));
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM ledger WHERE substr(entry, 1, 1) = x'02'",
                                NULL), 2);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* Without its key the upgrade cannot be signed: the open fails, naming the key, and the site is
 * left exactly as it was; it can still be read. */
START_TEST(test_legacy_site_without_key_is_left_alone)
{
    copy_legacy_site();
    ck_assert_int_eq(unlink(keypath), 0);
    char *before = ledger_bytes(100);
    ctm_db *h = (ctm_db *)&h;
    ck_assert_int_eq(ctm_open(&h, dbpath, NULL), CTM_EIO);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(ctm_errmsg(), "site key") != NULL && strstr(ctm_errmsg(), "ledger.upgrade"),
                  "message: %s", ctm_errmsg());
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), 2);
    char *after = ledger_bytes(100);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    ck_assert_uint_eq(tu_audit_size(db_a), LEGACY_ENTRIES);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* A read-only handle reads an older site as it is. */
START_TEST(test_legacy_site_read_only_is_not_migrated)
{
    copy_legacy_site();
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), 2);
    ck_assert_uint_eq(tu_audit_size(db_a), LEGACY_ENTRIES);
    tu_login(db_a, TECH, TECH_PW);
    assert_leaf_hashes(db_a, LEGACY_ENTRIES);
}
END_TEST

/* Verification of an older site on a read-only handle checks it against its own version's
 * schema, built from the migrations up to that version. */
START_TEST(test_schema_1_site_verifies_read_only)
{
    make_site(dbpath);
    tu_sql_exec(dbpath, TU_DROP_SCHEMA_5
                        " DROP TABLE discrepancies; DROP TABLE bulk_stock; DROP TABLE kit_moves; DROP TABLE kits;"
                        " DROP TABLE shipments; DROP TABLE lots; DROP TABLE locations;"
                        " DROP TABLE kit_types; DROP TABLE arms; DROP TABLE trials;"
                        " PRAGMA user_version = 1");
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    tu_assert_verifies_all(db_a, NULL);
    ck_assert_int_eq(tu_sql_int(dbpath, "PRAGMA user_version", NULL), 1);
    /* a table of version 2 under version 1's number is not version 1's schema */
    ctm_close(db_a);
    db_a = NULL;
    tu_sql_exec(dbpath, "CREATE TABLE trials(id INTEGER PRIMARY KEY)");
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    ctm_verify_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db_a, NULL, NULL, &r), CTM_EINTEGRITY);
    ck_assert_str_eq(r.failed_table, "schema");
}
END_TEST

/* Which hashes each reader gets: the unsalted entries' hashes and every proof only an unblinded
 * user who is logged in; the salted entry's hash everyone who may read the log. */
START_TEST(test_legacy_hashes_only_for_unblinded_readers)
{
    copy_legacy_site();
    db_a = open_with(dbpath, 0, NULL);
    char *proof = (char *)&proof;
    ck_assert_int_eq(ctm_audit_prove(&proof, db_a, 16), CTM_EBLINDED);
    ck_assert_ptr_null(proof);
    ck_assert_msg(strstr(ctm_errmsg(), "unblinded") != NULL, "message: %s", ctm_errmsg());
    ck_assert(strstr(ctm_errmsg(), "ACTIVE") == NULL && strstr(ctm_errmsg(), "PLACEBO") == NULL);
    tu_login(db_a, TECH, TECH_PW);
    ck_assert_int_eq(ctm_audit_prove(&proof, db_a, 6), CTM_EBLINDED);
    ck_assert_int_eq(ctm_audit_prove(&proof, db_a, 16), CTM_EBLINDED);
    assert_leaf_hashes(db_a, LEGACY_ENTRIES);
    ctm_logout(db_a);
    tu_login(db_a, PHARM, PHARM_PW);
    assert_leaf_hashes(db_a, 0);
    tu_ok(ctm_audit_prove(&proof, db_a, 6));
    ck_assert(strncmp(proof, "seq 6\nsize 17\n", 14) == 0);
    ctm_free(proof);
}
END_TEST

/* A site that starts salted keeps proofs and hashes open to everyone, login or not. */
START_TEST(test_new_site_proofs_for_everyone)
{
    make_site(dbpath);
    db_a = open_with(dbpath, 0, NULL);
    char *proof = NULL;
    tu_ok(ctm_audit_prove(&proof, db_a, 0));
    ctm_free(proof);
    tu_login(db_a, ADMIN, ADMIN_PW);
    tu_ok(ctm_user_add(db_a, TECH, "technician", 0, "Tom Tech", TECH_PW));
    ctm_logout(db_a);
    tu_login(db_a, TECH, TECH_PW);
    assert_leaf_hashes(db_a, 0);
    tu_ok(ctm_audit_prove(&proof, db_a, 1));
    ctm_free(proof);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM ledger WHERE substr(entry, 1, 1) != x'02'",
                                NULL), 0);
}
END_TEST

START_TEST(test_new_database_is_private)
{
    /* it holds password hashes and sealed keys, like the key file it is kept beside */
    mode_t old = umask(022);
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    umask(old);
    struct stat st;
    ck_assert_int_eq(stat(dbpath, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(test_empty_log_fails_against_an_outside_key)
{
    /* a database emptied of everything is no proof of anything signed by the site */
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    init_site(db_a, NULL);
    char *vkey = NULL;
    ck_assert_int_eq(ctm_audit_vkey(&vkey, db_a), CTM_OK);
    ctm_close(db_a);
    db_a = NULL;
    char other[4200];
    snprintf(other, sizeof other, "%s/empty.db", tdir);
    db_b = open_with(other, CTM_OPEN_CREATE, NULL);
    ctm_verify_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(ctm_audit_verify(db_b, vkey, NULL, &r), CTM_EINTEGRITY);
    ck_assert_msg(strstr(ctm_errmsg(), "empty") != NULL, "%s", ctm_errmsg());
    ctm_free(vkey);
}
END_TEST

/* ---- status codes, messages, versions ---- */

START_TEST(test_close_null_harmless)
{
    ctm_close(NULL);
    ctm_free(NULL);
    ctm_query_free(NULL);
    ctm_logout(NULL);
    ck_assert_ptr_null(ctm_current_user(NULL));
}
END_TEST

START_TEST(test_errstr_every_code)
{
    static const int codes[] = {CTM_OK,       CTM_ROW,      CTM_DONE,      CTM_ERROR,
                                CTM_EINVAL,   CTM_ENOMEM,   CTM_EIO,       CTM_ENOTDB,
                                CTM_EVERSION, CTM_EAUTH,    CTM_EDENIED,   CTM_EBLINDED,
                                CTM_ENOTFOUND, CTM_EEXISTS, CTM_ERULE,     CTM_EINTEGRITY,
                                CTM_EBUSY,    CTM_EMISUSE,  CTM_EDISABLED, 12345};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = ctm_errstr(codes[i]);
        ck_assert_msg(s != NULL && s[0] != '\0', "errstr(%d) empty", codes[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, ctm_errstr(codes[j])) != 0, "errstr(%d) == errstr(%d): %s",
                          codes[i], codes[j], s);
    }
    /* The codes themselves are ABI. */
    ck_assert_int_eq(CTM_EINVAL, -2);
    ck_assert_int_eq(CTM_EDISABLED, -16);
}
END_TEST

START_TEST(test_errmsg_never_null)
{
    ck_assert_ptr_nonnull(ctm_errmsg());
    ctm_db *h = NULL;
    ck_assert_int_eq(ctm_open(&h, NULL, NULL), CTM_EINVAL);
    ck_assert_ptr_nonnull(ctm_errmsg());
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_int_eq(ctm_errcode(), CTM_EINVAL);
    /* A success clears it. */
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    ck_assert_ptr_nonnull(ctm_errmsg());
    ck_assert_str_eq(ctm_errmsg(), "");
    ck_assert_int_eq(ctm_errcode(), CTM_OK);
}
END_TEST

START_TEST(test_version_matches_macros)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CTM_VERSION_MAJOR, CTM_VERSION_MINOR,
             CTM_VERSION_PATCH);
    ck_assert_str_eq(CTM_VERSION_STRING, want);
    ck_assert_str_eq(ctm_version(), CTM_VERSION_STRING);
    ck_assert_int_eq(ctm_version_number(), CTM_VERSION_NUMBER);
    ck_assert_int_eq(CTM_VERSION_NUMBER,
                     CTM_VERSION_MAJOR * 10000 + CTM_VERSION_MINOR * 100 + CTM_VERSION_PATCH);
}
END_TEST

/* ---- init ---- */

START_TEST(test_init_writes_private_key_file)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    init_site(db_a, ORIGIN);
    struct stat st;
    ck_assert_int_eq(stat(keypath, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_gt(st.st_size, 0);
    /* The administrator is logged in, and the first entry records the initialisation. */
    ck_assert_str_eq(ctm_current_user(db_a), ADMIN);
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM site", NULL), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM checkpoints", NULL), 1);
    char *meaning = NULL, *action = last_action(db_a, &meaning);
    ck_assert_str_eq(action, "site.init");
    ck_assert_ptr_nonnull(meaning);
    free(action);
    free(meaning);
    char *vkey = NULL;
    ck_assert_int_eq(ctm_audit_vkey(&vkey, db_a), CTM_OK);
    ck_assert_msg(strncmp(vkey, ORIGIN "+", strlen(ORIGIN) + 1) == 0, "vkey %s", vkey);
    tu_assert_verifies_all(db_a, vkey);
    ctm_free(vkey);
    /* A new handle signs with the key file it finds beside the database. */
    ctm_close(db_a);
    db_a = open_with(dbpath, 0, NULL);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_a, "key file is usable", NULL), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), 2);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_init_derives_origin)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    init_site(db_a, NULL);
    char *vkey = NULL;
    ck_assert_int_eq(ctm_audit_vkey(&vkey, db_a), CTM_OK);
    ck_assert_msg(strncmp(vkey, "libctm/", 7) == 0, "derived origin: %s", vkey);
    ck_assert_msg(strchr(vkey, ' ') == NULL, "derived origin has a space: %s", vkey);
    char *note = NULL;
    ck_assert_int_eq(ctm_audit_checkpoint(&note, db_a), CTM_OK);
    ck_assert_msg(strncmp(note, vkey, (size_t)(strchr(vkey, '+') - vkey)) == 0,
                  "checkpoint origin differs from the key name: %s", note);
    ctm_free(note);
    ctm_free(vkey);
}
END_TEST

START_TEST(test_init_twice_refused)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    init_site(db_a, ORIGIN);
    size_t klen = 0;
    char *key = read_all(keypath, &klen);
    ck_assert_int_eq(ctm_init(db_a, "Another Site", NULL, "root", NULL, "another-password"),
                     CTM_EEXISTS);
    ck_assert_str_ne(ctm_errmsg(), "");
    db_b = open_with(dbpath, 0, NULL);
    ck_assert_int_eq(ctm_init(db_b, "Another Site", NULL, "root", NULL, "another-password"),
                     CTM_EEXISTS);
    assert_file_is(keypath, key, klen);
    free(key);
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM users", NULL), 1);
    char *name = tu_sql_text(dbpath, "SELECT name FROM site");
    ck_assert_str_eq(name, "St Example Pharmacy");
    free(name);
}
END_TEST

START_TEST(test_init_refuses_existing_key_file)
{
    static const char precious[] = "libctm-site-key-v1 somebody else's key\n";
    write_file(keypath, precious, sizeof precious - 1, 0600);
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    ck_assert_int_eq(ctm_init(db_a, "St Example Pharmacy", ORIGIN, ADMIN, NULL, ADMIN_PW),
                     CTM_EEXISTS);
    ck_assert_msg(strstr(ctm_errmsg(), keypath) != NULL, "message names the key file: %s",
                  ctm_errmsg());
    assert_file_is(keypath, precious, sizeof precious - 1);
    ck_assert_ptr_null(ctm_current_user(db_a));
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM site", NULL), 0);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM users", NULL), 0);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM ledger", NULL), 0);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM checkpoints", NULL), 0);
    ck_assert_uint_eq(tu_audit_size(db_a), 0);
}
END_TEST

START_TEST(test_init_with_site_seed)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    uint8_t pub[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (unsigned char)(0xa0 + i);
    crypto_sign_seed_keypair(pub, sk, seed);

    db_a = open_with(dbpath, CTM_OPEN_CREATE, seed);
    init_site(db_a, ORIGIN);
    ck_assert_msg(!exists(keypath), "a key file was written although the seed was supplied");
    char *vkey = NULL, *want = expected_vkey(ORIGIN, pub);
    ck_assert_int_eq(ctm_audit_vkey(&vkey, db_a), CTM_OK);
    ck_assert_str_eq(vkey, want);
    /* The checkpoint was signed with that key: it verifies against the vkey held outside. */
    tu_assert_verifies_all(db_a, want);
    ctm_free(vkey);
    free(want);
    ctm_close(db_a);

    /* The same seed next time signs; without it (and no key file) writes fail. */
    db_a = open_with(dbpath, 0, seed);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_a, "signed with the supplied seed", NULL), CTM_OK);
    ctm_close(db_a);
    db_a = open_with(dbpath, 0, NULL);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_a, "no key anywhere", NULL), CTM_EIO);
    ck_assert_uint_eq(tu_audit_size(db_a), 2);
    /* A different seed is not this site's key. */
    seed[0] ^= 1;
    db_b = open_with(dbpath, 0, seed);
    tu_login(db_b, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_b, "wrong seed", NULL), CTM_EIO);
    ck_assert_uint_eq(tu_audit_size(db_b), 2);
    tu_assert_verifies_all(db_b, NULL);
}
END_TEST

/* ---- the key file at work ---- */

START_TEST(test_key_file_mode_checked)
{
    make_site(dbpath);
    ck_assert_int_eq(chmod(keypath, 0644), 0);
    db_a = open_with(dbpath, 0, NULL);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_a, "should not be written", NULL), CTM_EIO);
    ck_assert_msg(strstr(ctm_errmsg(), "644") != NULL, "message names the mode: %s", ctm_errmsg());
    ck_assert_msg(strstr(ctm_errmsg(), keypath) != NULL, "message names the file: %s",
                  ctm_errmsg());
    /* Reads still work. */
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_user_list(&q, db_a), CTM_OK);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, 0), ADMIN);
    ctm_query_free(q);
    char *note = NULL;
    ck_assert_int_eq(ctm_audit_checkpoint(&note, db_a), CTM_OK);
    ctm_free(note);
    tu_assert_verifies_all(db_a, NULL);
    /* Fixing the mode fixes the writes. */
    ck_assert_int_eq(chmod(keypath, 0600), 0);
    ck_assert_int_eq(ctm_audit_note(db_a, "written now", NULL), CTM_OK);
    ck_assert_uint_eq(tu_audit_size(db_a), 2);
}
END_TEST

START_TEST(test_key_file_of_other_site)
{
    char other[4300], otherkey[4400];
    snprintf(other, sizeof other, "%s/other.db", tdir);
    snprintf(otherkey, sizeof otherkey, "%s.key", other);
    make_site(dbpath);
    make_site(other);
    size_t n = 0;
    char *k = read_all(otherkey, &n);
    ck_assert_int_eq(unlink(keypath), 0);
    write_file(keypath, k, n, 0600);
    free(k);

    db_a = open_with(dbpath, 0, NULL);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_int_eq(ctm_audit_note(db_a, "signed by the wrong site?", NULL), CTM_EIO);
    ck_assert_str_ne(ctm_errmsg(), "");
    ck_assert_int_eq(ctm_user_add(db_a, "pat", "pharmacist", 0, NULL, "pat-password"), CTM_EIO);
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM checkpoints", NULL), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM users", NULL), 1);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* ---- read-only ---- */

START_TEST(test_readonly_login_but_no_writes)
{
    make_site(dbpath);
    int64_t ledger_rows = tu_sql_int(dbpath, "SELECT count(*) FROM ledger", NULL);
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    /* A wrong password cannot be recorded in a read-only handle: nothing is written. */
    ck_assert_int_eq(ctm_login(db_a, ADMIN, "wrong-password"), CTM_EAUTH);
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT failed_logins FROM users", NULL), 0);
    tu_login(db_a, ADMIN, ADMIN_PW);
    ck_assert_str_eq(ctm_current_user(db_a), ADMIN);
    ck_assert_int_eq(ctm_audit_note(db_a, "a note", NULL), CTM_EMISUSE);
    ck_assert_int_eq(ctm_user_add(db_a, "pat", "pharmacist", 0, NULL, "pat-password"),
                     CTM_EMISUSE);
    ck_assert_int_eq(ctm_batch_begin(db_a), CTM_EMISUSE);
    ck_assert_int_eq(ctm_init(db_a, "Another", NULL, "root", NULL, "another-password"),
                     CTM_EMISUSE);
    /* Reads and verification work. */
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_audit_log(&q, db_a, 0, 0), CTM_OK);
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_int_eq(ctm_query_next(q), CTM_DONE);
    ctm_query_free(q);
    tu_assert_verifies_all(db_a, NULL);
    ck_assert_uint_eq(tu_audit_size(db_a), 1);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM ledger", NULL), ledger_rows);
}
END_TEST

START_TEST(test_readonly_cannot_init)
{
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    ctm_close(db_a);
    db_a = open_with(dbpath, CTM_OPEN_READONLY, NULL);
    ck_assert_int_eq(ctm_init(db_a, "St Example Pharmacy", ORIGIN, ADMIN, NULL, ADMIN_PW),
                     CTM_EMISUSE);
    ck_assert(!exists(keypath));
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM site", NULL), 0);
}
END_TEST

/* ---- init input validation ---- */

struct bad_init {
    const char *site, *origin, *admin, *printed, *password, *field;
};

START_TEST(test_init_rejects_bad_inputs)
{
    char long_site[202], long_admin[66], max_site[201], max_admin[65];
    memset(long_site, 'a', 201);
    long_site[201] = '\0';
    memset(long_admin, 'u', 65);
    long_admin[65] = '\0';
    memset(max_site, 's', 200);
    max_site[200] = '\0';
    memset(max_admin, 'm', 64);
    max_admin[64] = '\0';
    const struct bad_init cases[] = {
        {"", ORIGIN, ADMIN, NULL, ADMIN_PW, "site name"},
        {NULL, ORIGIN, ADMIN, NULL, ADMIN_PW, "site name"},
        {long_site, ORIGIN, ADMIN, NULL, ADMIN_PW, "site name"},
        {"Site\x01Name", ORIGIN, ADMIN, NULL, ADMIN_PW, "site name"},
        {"Site\x1b[31mName", ORIGIN, ADMIN, NULL, ADMIN_PW, "site name"},
        {"St Example", "bad origin", ADMIN, NULL, ADMIN_PW, "origin"},
        {"St Example", "", ADMIN, NULL, ADMIN_PW, "origin"},
        {"St Example", ORIGIN, "ad min", NULL, ADMIN_PW, "admin user"},
        {"St Example", ORIGIN, long_admin, NULL, ADMIN_PW, "admin user"},
        {"St Example", ORIGIN, "", NULL, ADMIN_PW, "admin user"},
        {"St Example", ORIGIN, NULL, NULL, ADMIN_PW, "admin user"},
        {"St Example", ORIGIN, ADMIN, "Ada\nAdmin\x07", ADMIN_PW, "printed name"},
        {"St Example", ORIGIN, ADMIN, NULL, "1234567", "password"},
        {"St Example", ORIGIN, ADMIN, NULL, NULL, "password"},
    };
    db_a = open_with(dbpath, CTM_OPEN_CREATE, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_init *c = &cases[i];
        int rc = ctm_init(db_a, c->site, c->origin, c->admin, c->printed, c->password);
        ck_assert_msg(rc == CTM_EINVAL, "case %zu: got %d (%s)", i, rc, ctm_errmsg());
        ck_assert_msg(strstr(ctm_errmsg(), c->field) != NULL, "case %zu: '%s' does not name %s", i,
                      ctm_errmsg(), c->field);
        ck_assert_msg(!exists(keypath), "case %zu: key file written", i);
        ck_assert_ptr_null(ctm_current_user(db_a));
    }
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM site", NULL), 0);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM users", NULL), 0);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM ledger", NULL), 0);
    ck_assert_uint_eq(tu_audit_size(db_a), 0);
    /* The limits themselves are accepted, and the handle is still good for a proper init. */
    int rc = ctm_init(db_a, max_site, ORIGIN, max_admin, NULL, "12345678");
    ck_assert_msg(rc == CTM_OK, "init at the limits: %s", ctm_errmsg());
    ck_assert_str_eq(ctm_current_user(db_a), max_admin);
    ck_assert(exists(keypath));
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tu_tcase(s, "open", setup, teardown, 120);
    tcase_add_test(tc, test_open_null_or_empty_path);
    tcase_add_test(tc, test_open_missing_without_create);
    tcase_add_test(tc, test_open_text_file_is_not_db);
    tcase_add_test(tc, test_open_random_bytes_is_not_db);
    tcase_add_test(tc, test_open_foreign_sqlite_db_untouched);
    tcase_add_test(tc, test_open_newer_version_refused);
    tcase_add_test(tc, test_create_sets_wal_and_identity);
    tcase_add_test(tc, test_schema_1_site_migrates_on_open);
    tcase_add_test(tc, test_new_database_is_private);
    tcase_add_test(tc, test_empty_log_fails_against_an_outside_key);

    tc = tu_tcase(s, "legacy_site", setup, teardown, 120);
    tcase_add_test(tc, test_legacy_site_upgrades_with_one_salted_entry);
    tcase_add_test(tc, test_legacy_site_without_key_is_left_alone);
    tcase_add_test(tc, test_legacy_site_read_only_is_not_migrated);
    tcase_add_test(tc, test_schema_1_site_verifies_read_only);
    tcase_add_test(tc, test_legacy_hashes_only_for_unblinded_readers);
    tcase_add_test(tc, test_new_site_proofs_for_everyone);

    tc = tu_tcase(s, "api_basics", setup, teardown, 0); /* Check's default timeout */
    tcase_add_test(tc, test_close_null_harmless);
    tcase_add_test(tc, test_errstr_every_code);
    tcase_add_test(tc, test_errmsg_never_null);
    tcase_add_test(tc, test_version_matches_macros);

    tc = tu_tcase(s, "init", setup, teardown, 120);
    tcase_add_test(tc, test_init_writes_private_key_file);
    tcase_add_test(tc, test_init_derives_origin);
    tcase_add_test(tc, test_init_twice_refused);
    tcase_add_test(tc, test_init_refuses_existing_key_file);
    tcase_add_test(tc, test_init_with_site_seed);
    tcase_add_test(tc, test_init_rejects_bad_inputs);

    tc = tu_tcase(s, "site_key", setup, teardown, 120);
    tcase_add_test(tc, test_key_file_mode_checked);
    tcase_add_test(tc, test_key_file_of_other_site);

    tc = tu_tcase(s, "readonly", setup, teardown, 120);
    tcase_add_test(tc, test_readonly_login_but_no_writes);
    tcase_add_test(tc, test_readonly_cannot_init);

    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(store_suite());
}
