/* test_signing_policy.c - every action libctm always signs fails verification without its
 * e-signature, and a checkpoint signed by another key under the site's name, or naming a
 * checkpoint before it that the ledger lacks, fails too.
 *
 * The forgeries are made as someone holding the site's key would make them, so that nothing but
 * the rule under test can catch them: the entry is re-encoded without its signature, and every
 * checkpoint from there on is re-signed with the genuine site key over the changed tree. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "entry.h"
#include "merkle.h"
#include "note.h"
#include "store.h"
#include "testutil.h"

#define PW "signing-policy-pw"
#define OWN_PW "signing-policy-own"
#define TRIAL "EU-CT-2026-500077"
#define OPEN "OPEN-7"

static char *template_dir;
static char *vkey;
static char *dir;
static char db_path[4096];

/* The site's signing key, from the key file beside the test's database. */
static void site_key(unsigned char pub[32], unsigned char sk[64])
{
    char path[4200];
    snprintf(path, sizeof path, "%s.key", db_path);
    char *line = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(line);
    static const char prefix[] = "libctm-site-key-v1 ";
    ck_assert_int_eq(strncmp(line, prefix, strlen(prefix)), 0);
    unsigned char seed[32];
    size_t n = 0;
    ck_assert_int_eq(sodium_base642bin(seed, sizeof seed, line + strlen(prefix),
                                       strcspn(line + strlen(prefix), "\n"), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ck_assert_uint_eq(n, 32);
    crypto_sign_seed_keypair(pub, sk, seed);
    sodium_memzero(seed, sizeof seed);
    free(line);
}

/* One entry of every action the signing policy names, and a signed note, which it does not. */
static void build_template(void)
{
    template_dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, &o), "open");
    tu_must(ctm_init(h, "Signing Policy Pharmacy", NULL, "admin", "Ada Admin", PW), "init");
    tu_must(ctm_audit_vkey(&vkey, h), "vkey");
    tu_must(ctm_user_add(h, "pia", "pharmacist", 1, "Pia Pharm", PW), "user add");
    tu_must(ctm_user_add(h, "ted", "technician", 0, "Ted Tech", PW), "user add");
    tu_must(ctm_user_set_role(h, "ted", "monitor", 0, "moved to monitoring"), "user role");
    tu_must(ctm_user_disable(h, "ted", "on leave"), "user disable");
    tu_must(ctm_user_enable(h, "ted", "back"), "user enable");
    tu_must(ctm_user_passwd(h, "ted", "reset-by-admin"), "user reset");
    tu_must(ctm_trial_add(h, TRIAL, "A trial", "Sponsor", 0, "ACTIVE:1"), "trial");
    tu_must(ctm_trial_add(h, OPEN, "An open trial", "Sponsor", 0, "ACTIVE:1"), "open trial");
    tu_must(ctm_kittype_add(h, TRIAL, "KT", "Drug X", 30, 2, 8, 0, NULL), "kit type");
    tu_must(ctm_kittype_add(h, OPEN, "BOX", "Drug Y", 100, 15, 25, 0, NULL), "open kit type");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    tu_must(ctm_location_add(h, "SHELF1", "room", 15, 25), "location");
    tu_must(ctm_login(h, "ted", "reset-by-admin"), "login after reset");
    tu_must(ctm_user_passwd(h, NULL, OWN_PW), "own password");
    tu_must(ctm_login(h, "pia", PW), "login pharmacist");
    const char *manifest = "kit_number,kit_type,lot,expiry\nK001,KT,LOT1,2030-01-31\n";
    tu_must(ctm_receive(h, TRIAL, "SH1", manifest, strlen(manifest), "FRIDGE1", NULL), "receive");
    tu_must(ctm_receive_confirm(h, "SH1", 1), "confirm");
    tu_must(ctm_bulk_receive(h, OPEN, "B1", "BOX", "BLOT1", "2030-01-31", 500, "SHELF1", NULL),
         "bulk receipt");
    tu_must(ctm_expiry_extend(h, TRIAL, "LOT1", NULL, 0, "2030-06-30", "Sponsor letter 1"), "extend");
    const char *mistake = "kit_number,kit_type,lot,expiry\nK101,KT,LOT2,2030-01-31\n";
    tu_must(ctm_receive(h, TRIAL, "SH2", mistake, strlen(mistake), "FRIDGE1", NULL), "receive");
    tu_must(ctm_receive_void(h, "SH2", "registered under the wrong trial"), "void");
    tu_must(ctm_audit_note(h, "count checked", "reviewed"), "signed note");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/" TU_SITE_DB, dir);
}

static void teardown(void)
{
    tu_teardown(&dir, NULL, NULL);
}

/* seq of the first entry whose action is `action` and whose parameter `key` (if not NULL) has
 * `value`. */
static int64_t seq_of(const char *action, const char *key, const char *value)
{
    ctm__store *s = tu_store(db_path, 0);
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT seq, entry FROM ledger ORDER BY seq"), CTM_OK);
    int64_t found = -1;
    while (found < 0 && ctm__st_step(st) == CTM_ROW) {
        ctm__entry e;
        ck_assert_int_eq(ctm__entry_decode(&e, ctm__st_blob(st, 1), ctm__st_bytes(st, 1), NULL, 0),
                         0);
        int match = strcmp(e.action, action) == 0;
        if (match && key != NULL) {
            match = 0;
            for (uint32_t i = 0; i < e.nparams; i++)
                if (strcmp(e.params[i].key, key) == 0)
                    match = strcmp(e.params[i].value, value) == 0;
        }
        if (match)
            found = ctm__st_int(st, 0);
        ctm__entry_free(&e);
    }
    ctm__st_finalize(st);
    ctm__store_close(s);
    ck_assert_msg(found >= 0, "no %s entry in the template", action);
    return found;
}

/* Re-sign every checkpoint and rewrite the stored tree state over the ledger as it now stands,
 * with the genuine site key: what someone holding the key file could do. */
static void reseal(ctm__store *s)
{
    unsigned char pub[32], sk[64];
    site_key(pub, sk);
    ctm__st *st = NULL, *up = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT origin FROM site"), CTM_OK);
    ck_assert_int_eq(ctm__st_step(st), CTM_ROW);
    char *origin = strdup(ctm__st_text(st, 0));
    ctm__st_finalize(st);
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT seq, entry, checkpoint IS NOT NULL,"
                                             " frontier IS NOT NULL FROM ledger ORDER BY seq"),
                     CTM_OK);
    ck_assert_int_eq(ctm__st_prepare(s, &up, "UPDATE ledger SET checkpoint = coalesce(?2, checkpoint),"
                                             " frontier = coalesce(?3, frontier) WHERE seq = ?1"),
                     CTM_OK);
    ctm__frontier f;
    ctm__frontier_init(&f);
    uint64_t previous = 0; /* the size of the checkpoint before, named in each new one */
    while (ctm__st_step(st) == CTM_ROW) {
        ctm_hash leaf, root;
        ctm__leaf_hash(ctm__st_blob(st, 1), ctm__st_bytes(st, 1), leaf);
        ctm__frontier_append(&f, leaf);
        if (!ctm__st_int(st, 2) && !ctm__st_int(st, 3))
            continue;
        char *note = NULL;
        uint8_t fr[8 + 64 * 32];
        ctm__st_bind_int(up, 1, ctm__st_int(st, 0));
        ctm__st_bind_null(up, 2);
        ctm__st_bind_null(up, 3);
        if (ctm__st_int(st, 2)) {
            ctm__frontier_root(&f, root);
            char *body = ctm__checkpoint_body(origin, f.size, root, (int64_t)previous);
            previous = f.size;
            note = ctm__note_sign(body, origin, sk);
            free(body);
            ck_assert_ptr_nonnull(note);
            ctm__st_bind_text_copy(up, 2, note);
        }
        if (ctm__st_int(st, 3))
            ctm__st_bind_blob_copy(up, 3, fr, ctm__frontier_encode(&f, fr));
        ck_assert_msg(ctm__st_run(up) == CTM_OK, "%s", ctm_errmsg());
        ctm__st_reset(up);
        free(note);
    }
    ctm__st_finalize(st);
    ctm__st_finalize(up);
    free(origin);
    sodium_memzero(sk, sizeof sk);
}

/* Entry seq re-encoded without its e-signature, the ledger re-sealed around it. */
static void strip_esig(int64_t seq)
{
    ctm__store *s = tu_store(db_path, 1);
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT entry FROM ledger WHERE seq = ?1"), CTM_OK);
    ctm__st_bind_int(st, 1, seq);
    ck_assert_int_eq(ctm__st_step(st), CTM_ROW);
    ctm__entry e;
    ck_assert_int_eq(ctm__entry_decode(&e, ctm__st_blob(st, 0), ctm__st_bytes(st, 0), NULL, 0), 0);
    ck_assert_msg(e.has_esig, "entry %lld (%s) carries no e-signature to strip", (long long)seq,
                  e.action);
    e.has_esig = 0;
    ctm__buf b;
    ctm__buf_init(&b);
    ck_assert_int_eq(ctm__entry_encode(&b, &e), 0);
    ctm__entry_free(&e);
    ctm__st_finalize(st);
    ck_assert_int_eq(ctm__st_prepare(s, &st, "UPDATE ledger SET entry = ?2 WHERE seq = ?1"), CTM_OK);
    ctm__st_bind_int(st, 1, seq);
    ctm__st_bind_blob(st, 2, b.p, b.n);
    ck_assert_msg(ctm__st_run(st) == CTM_OK, "%s", ctm_errmsg());
    ctm__st_finalize(st);
    ctm__buf_free(&b);
    reseal(s);
    ctm__store_close(s);
}

static int verify(const char *key, ctm_verify_result *r)
{
    ctm_db *h = NULL;
    tu_ok(tu_open_rc(&h, db_path, NULL));
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    int rc = ctm_audit_verify(h, key, NULL, r);
    ctm_close(h);
    return rc;
}

/* ---- the signing policy (audit-format.md 4.4), one row per rule ---- */

static const struct must_sign {
    const char *action, *param, *value;
} policy[] = {
    {"site.init", NULL, NULL},
    {"user.add", NULL, NULL},
    {"user.disable", NULL, NULL},
    {"user.enable", NULL, NULL},
    {"user.role", NULL, NULL},
    {"user.reset", NULL, NULL},
    {"user.passwd", "new_signing_key", "yes"},
    {"shipment.confirm", NULL, NULL},
    {"shipment.receive_bulk", NULL, NULL},
    {"expiry.extend", NULL, NULL},
    {"shipment.void", NULL, NULL},
};

START_TEST(template_verifies)
{
    ctm_verify_result r;
    tu_ok(verify(vkey, &r));
    ck_assert_uint_ge(r.esignatures, sizeof policy / sizeof policy[0] + 1);
}
END_TEST

START_TEST(unsigned_entry_of_a_signed_action_fails)
{
    const struct must_sign *p = &policy[_i];
    int64_t seq = seq_of(p->action, p->param, p->value);
    strip_esig(seq);
    ctm_verify_result r;
    int rc = verify(vkey, &r);
    ck_assert_msg(rc == CTM_EINTEGRITY, "%s without its e-signature: verify returned %d (%s)",
                  p->action, rc, ctm_errmsg());
    ck_assert_msg(r.failed_seq == seq, "%s at seq %lld: failure named seq %lld: %s", p->action,
                  (long long)seq, (long long)r.failed_seq, ctm_errmsg());
    ck_assert_msg(strstr(ctm_errmsg(), "e-signature") != NULL, "%s", ctm_errmsg());
}
END_TEST

/* The control: the same forgery of a note, which may be signed or not, verifies.  So the
 * failures above come from the policy, not from the way the forgery was made. */
START_TEST(unsigned_note_is_allowed)
{
    strip_esig(seq_of("audit.note", NULL, NULL));
    ctm_verify_result r;
    int rc = verify(vkey, &r);
    ck_assert_msg(rc == CTM_OK, "verify: %s", ctm_errmsg());
}
END_TEST

/* ---- checkpoints signed by another key under the site's name ---- */

/* The first ("ASC") or newest ("DESC") checkpoint: its seq, note and the site's origin (malloc'd). */
static int64_t read_checkpoint(ctm__store *s, const char *order, char **note, char **origin)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT seq, checkpoint, (SELECT origin FROM site) FROM ledger"
             " WHERE checkpoint IS NOT NULL ORDER BY seq %s LIMIT 1", order);
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, sql), CTM_OK);
    ck_assert_int_eq(ctm__st_step(st), CTM_ROW);
    int64_t seq = ctm__st_int(st, 0);
    *note = strdup(ctm__st_text(st, 1));
    *origin = strdup(ctm__st_text(st, 2));
    ctm__st_finalize(st);
    return seq;
}

/* Store the forged note on row seq, close the database and free what read_checkpoint gave. */
static void store_checkpoint(ctm__store *s, int64_t seq, char *forged, char *note, char *origin)
{
    ctm__st *st = NULL;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "UPDATE ledger SET checkpoint = ?2 WHERE seq = ?1"),
                     CTM_OK);
    ctm__st_bind_int(st, 1, seq);
    ctm__st_bind_text(st, 2, forged);
    ck_assert_msg(ctm__st_run(st) == CTM_OK, "%s", ctm_errmsg());
    ctm__st_finalize(st);
    ctm__store_close(s);
    free(forged);
    free(note);
    free(origin);
}

/* Replace the signature line of the newest checkpoint: signed by a key the site never had, under
 * the site's own name, with that key's id or with the genuine key's id. */
static int64_t forge_last_checkpoint(int genuine_key_id)
{
    unsigned char pub[32], sk[64], site_pub[32], site_sk[64];
    crypto_sign_keypair(pub, sk);
    site_key(site_pub, site_sk);
    ctm__store *s = tu_store(db_path, 1);
    char *note, *origin;
    int64_t seq = read_checkpoint(s, "DESC", &note, &origin);
    const char *end = strstr(note, "\n\n");
    ck_assert_ptr_nonnull(end);
    char body[1024];
    snprintf(body, sizeof body, "%.*s", (int)(end - note) + 1, note);
    char *forged = ctm__note_sign(body, origin, sk);
    ck_assert_ptr_nonnull(forged);
    if (genuine_key_id) {
        /* the signature blob is base64(key id || signature): put the site's key id in front */
        uint8_t blob[68];
        uint32_t id = ctm__note_keyid(origin, site_pub);
        blob[0] = (uint8_t)(id >> 24), blob[1] = (uint8_t)(id >> 16);
        blob[2] = (uint8_t)(id >> 8), blob[3] = (uint8_t)id;
        crypto_sign_detached(blob + 4, NULL, (const uint8_t *)body, strlen(body), sk);
        char b64[128];
        sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
        free(forged);
        size_t n = strlen(body) + strlen(origin) + strlen(b64) + 16;
        forged = malloc(n);
        snprintf(forged, n, "%s\n\xe2\x80\x94 %s %s\n", body, origin, b64);
    }
    store_checkpoint(s, seq, forged, note, origin);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(site_sk, sizeof site_sk);
    return seq;
}

START_TEST(checkpoint_signed_by_another_key_fails)
{
    int64_t seq = forge_last_checkpoint(_i);
    ctm_verify_result r;
    /* with the verifier key held outside, and with the key the database holds */
    const char *keys[] = {vkey, NULL};
    for (int k = 0; k < 2; k++) {
        int rc = verify(keys[k], &r);
        ck_assert_msg(rc == CTM_EINTEGRITY, "key %s: verify returned %d (%s)",
                      keys[k] ? "outside" : "stored", rc, ctm_errmsg());
        ck_assert_msg(r.failed_seq == seq, "failure named seq %lld, not %lld: %s",
                      (long long)r.failed_seq, (long long)seq, ctm_errmsg());
    }
}
END_TEST

/* The first checkpoint, re-signed with the genuine site key, naming a checkpoint before it that
 * the ledger does not have: the sizes a 64-bit signed integer cannot hold included. */
static const char *const wrong_previous[] = {"1", "9223372036854775808", "18446744073709551615"};

START_TEST(checkpoint_naming_a_missing_previous_fails)
{
    unsigned char pub[32], sk[64];
    site_key(pub, sk);
    ctm__store *s = tu_store(db_path, 1);
    char *note, *origin;
    int64_t seq = read_checkpoint(s, "ASC", &note, &origin);
    /* origin, size and root: the three lines before the extension lines */
    const char *end = note;
    for (int line = 0; line < 3; line++)
        end = strchr(end, '\n') + 1;
    char body[1024];
    snprintf(body, sizeof body, "%.*sprevious %s\n", (int)(end - note), note, wrong_previous[_i]);
    char *forged = ctm__note_sign(body, origin, sk);
    ck_assert_ptr_nonnull(forged);
    store_checkpoint(s, seq, forged, note, origin);
    sodium_memzero(sk, sizeof sk);

    ctm_verify_result r;
    int rc = verify(vkey, &r);
    ck_assert_msg(rc == CTM_EINTEGRITY, "previous %s: verify returned %d (%s)", wrong_previous[_i],
                  rc, ctm_errmsg());
    ck_assert_msg(r.failed_seq == seq && strstr(ctm_errmsg(), "a checkpoint was removed") != NULL,
                  "previous %s: failure at seq %lld, not %lld: %s", wrong_previous[_i],
                  (long long)r.failed_seq, (long long)seq, ctm_errmsg());
}
END_TEST

static Suite *signing_suite(void)
{
    Suite *s = suite_create("signing_policy");
    TCase *tc = tu_tcase(s, "policy", setup, teardown, 120);
    tcase_add_test(tc, template_verifies);
    tcase_add_loop_test(tc, unsigned_entry_of_a_signed_action_fails, 0,
                        (int)(sizeof policy / sizeof policy[0]));
    tcase_add_test(tc, unsigned_note_is_allowed);
    tc = tu_tcase(s, "checkpoints", setup, teardown, 120);
    tcase_add_loop_test(tc, checkpoint_signed_by_another_key_fails, 0, 2);
    tcase_add_loop_test(tc, checkpoint_naming_a_missing_previous_fails, 0,
                        (int)(sizeof wrong_previous / sizeof wrong_previous[0]));
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(signing_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    ctm_free(vkey);
    return rc;
}
