/* users.c - the site, users, roles, passwords, sealed signing keys and sessions. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "note.h"

#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE
#define SEALED_BYTES (crypto_sign_SEEDBYTES + crypto_secretbox_MACBYTES)

/* The Argon2id hash of a random password nobody kept, with the limits every stored hash has: a
 * login as an unknown user checks against it, so that it costs what any other login costs. */
static const char nobody_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$OiqgZ4uxXe6qosKVChXWKQ$b7Nw2PHnEHjgfZKIeQSF3M3GBlmaXqBCnXqvvbGdbGg";

typedef struct user_row {
    int64_t id;
    char role[16];
    int unblinded;
    int disabled;
    int failed_logins;
    int must_change;   /* reset by an administrator: no sealed key until the user's own password */
    uint8_t public_key[32];
    char *printed_name;
    char password_hash[crypto_pwhash_STRBYTES];
    uint8_t salt[crypto_pwhash_SALTBYTES];
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    uint8_t sealed[SEALED_BYTES];
    unsigned long long opslimit;
    size_t memlimit;
} user_row;

/* One Argon2id check whose answer is not wanted: it is there for its cost (ctm_login). */
static void spend_check(const char *hash, const char *password)
{
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return; /* right or wrong, the cost is the point */
}

static void user_row_free(user_row *u)
{
    free(u->printed_name);
    sodium_memzero(u, sizeof *u);
}

static int copy_blob(ctm__st *st, int col, uint8_t *out, size_t n)
{
    if (ctm__st_bytes(st, col) != n)
        return -1;
    memcpy(out, ctm__st_blob(st, col), n);
    return 0;
}

/* Load a user with credentials; CTM_ENOTFOUND when there is no such user. */
static int load_user(ctm_db *db, const char *name, user_row *u)
{
    memset(u, 0, sizeof *u);
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT u.id, u.role, u.unblinded, u.disabled, u.failed_logins, u.public_key,"
        " u.printed_name, c.password_hash, c.key_salt, c.key_nonce, c.sealed_key, c.opslimit,"
        " c.memlimit, length(c.sealed_key) = 0 FROM users u JOIN credentials c ON c.user_id = u.id"
        " WHERE u.username = ?1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "reading users");
    ctm__st_bind_text(st, 1, name);
    rc = ctm__st_step(st);
    int out = CTM_OK;
    if (rc == CTM_ROW) {
        u->id = ctm__st_int(st, 0);
        snprintf(u->role, sizeof u->role, "%s", ctm__st_text(st, 1));
        u->unblinded = (int)ctm__st_int(st, 2);
        u->disabled = (int)ctm__st_int(st, 3);
        u->failed_logins = (int)ctm__st_int(st, 4);
        u->printed_name = ctm__strdup(ctm__st_text(st, 6));
        snprintf(u->password_hash, sizeof u->password_hash, "%s",
                 ctm__st_text(st, 7));
        u->opslimit = (unsigned long long)ctm__st_int(st, 11);
        u->memlimit = (size_t)ctm__st_int(st, 12);
        u->must_change = (int)ctm__st_int(st, 13);
        if (u->printed_name == NULL)
            out = ctm__err(CTM_ENOMEM, "out of memory");
        else if (copy_blob(st, 5, u->public_key, 32) ||
                 (!u->must_change && (copy_blob(st, 8, u->salt, sizeof u->salt) ||
                                      copy_blob(st, 9, u->nonce, sizeof u->nonce) ||
                                      copy_blob(st, 10, u->sealed, sizeof u->sealed))))
            out = ctm__err(CTM_EINTEGRITY, "user '%s': damaged credentials", name);
    } else if (rc == CTM_OK) {
        out = ctm__err(CTM_ENOTFOUND, "user '%s' does not exist", name);
    } else {
        out = ctm__store_fail(rc, "reading users");
    }
    ctm__st_finalize(st);
    if (out != CTM_OK)
        user_row_free(u);
    return out;
}

/* Seal a signing-key seed with a key derived from the password (Argon2id). */
static int seal_seed(const char *password, const unsigned char *seed, uint8_t *salt, uint8_t *nonce,
                     uint8_t *sealed)
{
    unsigned char *key = sodium_malloc(crypto_secretbox_KEYBYTES);
    if (key == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    randombytes_buf(salt, crypto_pwhash_SALTBYTES);
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    int bad = crypto_pwhash(key, crypto_secretbox_KEYBYTES, password, strlen(password), salt,
                            PW_OPSLIMIT, PW_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13);
    if (!bad)
        crypto_secretbox_easy(sealed, seed, crypto_sign_SEEDBYTES, nonce, key);
    sodium_free(key);
    return bad ? ctm__err(CTM_ENOMEM, "password hashing: out of memory") : CTM_OK;
}

/* Unseal a user's signing key into sodium memory (*sk, 64 bytes) with the key the password
 * derives (Argon2id), and check it matches the public key.  The seal is authenticated, so it
 * opens only with the right password: CTM_EAUTH when it does not open (the password is wrong, or
 * the sealed key was damaged: the caller tells the two apart), CTM_EINTEGRITY when it opens on a
 * key that is not the user's. */
static int unseal_key(const user_row *u, const char *password, unsigned char **sk)
{
    unsigned char *key = sodium_malloc(crypto_secretbox_KEYBYTES);
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *out = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = CTM_OK;
    if (key == NULL || seed == NULL || out == NULL) {
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto done;
    }
    if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, password, strlen(password), u->salt,
                      u->opslimit, u->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = ctm__err(CTM_ENOMEM, "password hashing: out of memory");
        goto done;
    }
    if (crypto_secretbox_open_easy(seed, u->sealed, sizeof u->sealed, u->nonce, key) != 0) {
        rc = CTM_EAUTH;
        goto done;
    }
    uint8_t pub[32];
    crypto_sign_seed_keypair(pub, out, seed);
    if (sodium_memcmp(pub, u->public_key, 32) != 0) {
        rc = ctm__err(CTM_EINTEGRITY, "the sealed signing key does not match the user's public key");
        goto done;
    }
    *sk = out;
    out = NULL;
done:
    sodium_free(key);
    sodium_free(seed);
    sodium_free(out);
    return rc;
}

static int store_credentials(ctm_db *db, int64_t user_id, const char *password,
                             const unsigned char *seed, int replace)
{
    char hash[crypto_pwhash_STRBYTES];
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_secretbox_NONCEBYTES], sealed[SEALED_BYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT) != 0)
        return ctm__err(CTM_ENOMEM, "password hashing: out of memory");
    /* No seed: an administrator's reset, which leaves no key sealed with a password the
     * administrator knows.  The empty sealed key is what marks the account as reset: every read
     * of must_change tests it. */
    int rc = seed != NULL ? seal_seed(password, seed, salt, nonce, sealed) : CTM_OK;
    if (rc != CTM_OK)
        return rc;
    int keyed = seed != NULL; /* else the three key columns are empty BLOBs */
    ctm__st *st = NULL;
    const char *sql = replace
        ? "UPDATE credentials SET password_hash = ?2, key_salt = ?3, key_nonce = ?4,"
          " sealed_key = ?5, opslimit = ?6, memlimit = ?7 WHERE user_id = ?1"
        : "INSERT INTO credentials(user_id, password_hash, key_salt, key_nonce, sealed_key,"
          " opslimit, memlimit) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    int src = ctm__st_prepare(db->store, &st, sql);
    if (src != CTM_OK)
        return ctm__store_fail(src, "storing credentials");
    ctm__st_bind_int(st, 1, user_id);
    ctm__st_bind_text_copy(st, 2, hash);
    ctm__st_bind_blob_copy(st, 3, salt, (size_t)(keyed ? (int)sizeof salt : 0));
    ctm__st_bind_blob_copy(st, 4, nonce, (size_t)(keyed ? (int)sizeof nonce : 0));
    ctm__st_bind_blob_copy(st, 5, sealed, (size_t)(keyed ? (int)sizeof sealed : 0));
    ctm__st_bind_int(st, 6, (int64_t)PW_OPSLIMIT);
    ctm__st_bind_int(st, 7, (int64_t)PW_MEMLIMIT);
    sodium_memzero(hash, sizeof hash);
    return ctm__step_done(db, st, "storing credentials");
}

static int user_exists(ctm_db *db, const char *user, int *exists)
{
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT 1 FROM users WHERE username = ?1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "reading users");
    ctm__st_bind_text(st, 1, user);
    rc = ctm__st_step(st);
    ctm__st_finalize(st);
    if (rc != CTM_ROW && rc != CTM_OK)
        return ctm__store_fail(rc, "reading users");
    *exists = rc == CTM_ROW;
    return CTM_OK;
}

/* Insert a user with a fresh signing key.  *sk_out (optional) receives the secret key. */
static int create_user(ctm_db *db, const char *user, const char *role, int unblinded,
                       const char *printed_name, const char *password, unsigned char **sk_out,
                       int64_t *id_out)
{
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    uint8_t pub[32];
    int rc = CTM_OK;
    if (seed == NULL || sk == NULL) {
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto done;
    }
    randombytes_buf(seed, crypto_sign_SEEDBYTES);
    crypto_sign_seed_keypair(pub, sk, seed);
    ctm__st *st = NULL;
    int src = ctm__st_prepare(db->store, &st, "INSERT INTO users(username, printed_name, role, unblinded,"
                                 " public_key, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
    if (src != CTM_OK) {
        rc = ctm__store_fail(src, "adding the user");
        goto done;
    }
    ctm__st_bind_text(st, 1, user);
    ctm__st_bind_text(st, 2, printed_name);
    ctm__st_bind_text(st, 3, role);
    ctm__st_bind_int(st, 4, unblinded ? 1 : 0);
    ctm__st_bind_blob(st, 5, pub, (size_t)(sizeof pub));
    ctm__st_bind_int(st, 6, ctm__now_us());
    int64_t id = 0;
    rc = ctm__insert_id(db, st, &id, "adding the user");
    if (rc == CTM_OK)
        rc = store_credentials(db, id, password, seed, 0);
    if (rc == CTM_OK && id_out != NULL)
        *id_out = id;
    if (rc == CTM_OK && sk_out != NULL) {
        *sk_out = sk;
        sk = NULL;
    }
done:
    sodium_free(seed);
    sodium_free(sk);
    return rc;
}

static void set_session(ctm_db *db, int64_t id, const char *user, const char *printed,
                        const char *role, int unblinded, unsigned char *sk, int must_change)
{
    ctm__session_free(db);
    db->session.must_change = must_change;
    db->session.id = id;
    db->session.user = ctm__strdup(user);
    db->session.printed = ctm__strdup(printed);
    db->session.role = ctm__strdup(role);
    db->session.unblinded = unblinded;
    db->session.sk = sk;
}

void ctm__session_init(ctm_db *db)
{
    memset(&db->session, 0, sizeof db->session);
}

void ctm__session_free(ctm_db *db)
{
    sodium_free(db->session.sk);
    free(db->session.user);
    free(db->session.printed);
    free(db->session.role);
    ctm__session_init(db);
}

void ctm_logout(ctm_db *db)
{
    if (db != NULL)
        ctm__session_free(db);
}

const char *ctm_current_user(const ctm_db *db)
{
    return db != NULL ? db->session.user : NULL;
}

int ctm_must_change_password(const ctm_db *db)
{
    return db != NULL && db->session.user != NULL && db->session.must_change;
}

static int check_origin(const char *origin)
{
    size_t n = strlen(origin);
    if (n == 0 || n > 128)
        return ctm__err(CTM_EINVAL, "origin: must be 1 to 128 characters, got %zu", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)origin[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._/:-", c) != NULL))
            return ctm__err(CTM_EINVAL, "origin: character %zu (0x%02x) is not allowed", i + 1, c);
    }
    return CTM_OK;
}

/* "libctm/<slug of the site name>": lower-case letters and digits, runs of others as one '-'. */
static void derive_origin(const char *site, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "libctm/");
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)site; *p && n + 2 < len; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[n++] = (char)c;
            dash = 0;
        } else if (c >= 'A' && c <= 'Z') {
            out[n++] = (char)(c - 'A' + 'a');
            dash = 0;
        } else if (!dash && n > 7) {
            out[n++] = '-';
            dash = 1;
        }
    }
    while (n > 7 && out[n - 1] == '-')
        n--;
    if (n == 7)
        n += (size_t)snprintf(out + n, len - n, "site");
    out[n] = '\0';
}

static int check_init_args(const char *site, const char *origin, const char *admin,
                           const char *printed, const char *password)
{
    int rc = ctm__check_text("site name", site, CTM_MAX_TEXT);
    if (rc == CTM_OK && origin != NULL)
        rc = check_origin(origin);
    if (rc == CTM_OK)
        rc = ctm__check_name("admin user", admin);
    if (rc == CTM_OK && printed != NULL)
        rc = ctm__check_text("printed name", printed, CTM_MAX_TEXT);
    if (rc == CTM_OK)
        rc = ctm__check_password("password", password);
    return rc;
}

static int insert_site(ctm_db *db, const char *site, const char *origin, const uint8_t pub[32])
{
    ctm__st *st = NULL;
    int src = ctm__st_prepare(db->store, &st, "INSERT INTO site(id, name, origin, public_key, created_us)"
                                 " VALUES (1, ?1, ?2, ?3, ?4)");
    if (src != CTM_OK)
        return ctm__store_fail(src, "creating the site");
    ctm__st_bind_text(st, 1, site);
    ctm__st_bind_text(st, 2, origin);
    ctm__st_bind_blob(st, 3, pub, 32);
    ctm__st_bind_int(st, 4, ctm__now_us());
    return ctm__step_done(db, st, "creating the site");
}

static int site_exists(ctm_db *db, int *exists)
{
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT count(*) FROM site");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "reading the site");
    rc = ctm__st_step(st);
    *exists = rc == CTM_ROW && (int)ctm__st_int(st, 0) > 0;
    ctm__st_finalize(st);
    return rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc, "reading the site");
}

/* Create site + first admin in one action, signed by the new admin. */
static int init_action(ctm_db *db, const char *site, const char *origin, const uint8_t pub[32],
                       const char *admin, const char *printed, const char *password)
{
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "site.init", "");
    if (rc != CTM_OK)
        return rc;
    a.user = admin;
    ctm__action_param(&a, "site", site);
    ctm__action_param(&a, "origin", origin);
    ctm__action_param(&a, "admin", admin);
    unsigned char *sk = NULL;
    int64_t admin_id = 0;
    rc = insert_site(db, site, origin, pub);
    if (rc == CTM_OK)
        rc = create_user(db, admin, "admin", 1, printed, password, &sk, &admin_id);
    if (rc != CTM_OK) {
        ctm__action_rollback(&a);
        return rc;
    }
    set_session(db, admin_id, admin, printed, "admin", 1, sk, 0);
    rc = ctm__action_commit(&a);
    if (rc != CTM_OK)
        ctm_logout(db);
    return rc;
}

int ctm_init(ctm_db *db, const char *site_name, const char *origin, const char *admin_user,
             const char *printed_name, const char *password)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "init: no database handle");
    if (printed_name == NULL)
        printed_name = admin_user;
    int rc = check_init_args(site_name, origin, admin_user, printed_name, password);
    if (rc != CTM_OK)
        return rc;
    if (db->readonly)
        return ctm__err(CTM_EMISUSE, "init: the database is open read-only");
    int exists = 0;
    if ((rc = site_exists(db, &exists)) != CTM_OK)
        return rc;
    if (exists)
        return ctm__err(CTM_EEXISTS, "%s: the site is already initialised", db->path);
    char derived[160];
    if (origin == NULL) {
        derive_origin(site_name, derived, sizeof derived);
        origin = derived;
    }
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    uint8_t pub[32];
    int wrote_key = 0;
    if (seed == NULL || sk == NULL) {
        rc = ctm__err(CTM_ENOMEM, "out of memory");
        goto done;
    }
    if (db->site.seed != NULL)
        memcpy(seed, db->site.seed, crypto_sign_SEEDBYTES);
    else
        randombytes_buf(seed, crypto_sign_SEEDBYTES);
    crypto_sign_seed_keypair(pub, sk, seed);
    if (db->site.seed == NULL) {
        if ((rc = ctm__write_key_file(db->site.key_path, seed)) != CTM_OK)
            goto done;
        wrote_key = 1;
    }
    rc = ctm__site_key_adopt(db, origin, pub, sk);
    sk = NULL;
    if (rc == CTM_OK)
        rc = init_action(db, site_name, origin, pub, admin_user, printed_name, password);
    if (rc == CTM_OK && wrote_key)
        ctm__commit_key_file(db->site.key_path); /* if this fails, the next open finishes it */
    if (rc != CTM_OK) {
        ctm__site_key_forget(db);
        if (wrote_key)
            ctm__drop_key_file(db->site.key_path);
    }
done:
    sodium_free(seed);
    sodium_free(sk);
    return rc;
}

static unsigned role_bit(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return CTM_ROLEBIT_ADMIN;
    if (strcmp(role, "pharmacist") == 0)
        return CTM_ROLEBIT_PHARMACIST;
    if (strcmp(role, "technician") == 0)
        return CTM_ROLEBIT_TECHNICIAN;
    if (strcmp(role, "investigator") == 0)
        return CTM_ROLEBIT_INVESTIGATOR;
    if (strcmp(role, "monitor") == 0)
        return CTM_ROLEBIT_MONITOR;
    return 0;
}

/* Every password change of the user's own gives a new key: a session that unsealed the old one
 * must not sign with it any more. */
static int session_key_current(ctm_db *db, ctm__st *st)
{
    uint8_t pub[32];
    if (db->session.sk == NULL || (int)ctm__st_bytes(st, 3) != 32)
        return 0;
    crypto_sign_ed25519_sk_to_pk(pub, db->session.sk);
    return sodium_memcmp(pub, ctm__st_blob(st, 3), 32) == 0;
}

/* Re-read the account: another administrator may have disabled it, reset its password or changed
 * its role.  Inside a batch this handle holds the write lock, so nobody else can have changed it
 * since the first check.  own_password: the action is the user's own password change, the one
 * thing an account with a reset password may do. */
static int refresh_user(ctm_db *db, const char *action, int own_password)
{
    if (db->tx.batch && db->session.checked && db->session.checked_epoch == db->tx.epoch)
        return CTM_OK;
    ctm__st *st = NULL;
    int rc = ctm__stmt(db, CTM_ST_USER_CHECK, &st);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, db->session.id);
    int src = ctm__st_step(st);
    if (src != CTM_ROW) {
        rc = src == CTM_OK ? ctm__err(CTM_EAUTH, "%s: user '%s' no longer exists", action,
                                           db->session.user)
                                : ctm__store_fail(src, action);
    } else if ((int)ctm__st_int(st, 0) != 0) {
        rc = ctm__err(CTM_EDISABLED, "%s: user '%s' is disabled", action, db->session.user);
    } else if ((int)ctm__st_int(st, 4) != 0 && !db->session.must_change) {
        /* A session opened with the old password may be the very reason for the reset. */
        rc = ctm__err(CTM_EAUTH, "%s: the password of user '%s' was reset by an administrator; "
                                 "log in again", action, db->session.user);
    } else if ((int)ctm__st_int(st, 4) != 0 && !own_password) {
        rc = ctm__err(CTM_EDENIED, "%s: user '%s' must first replace the password an "
                                   "administrator set with a password of their own",
                      action, db->session.user);
    } else if ((int)ctm__st_int(st, 4) == 0 && !session_key_current(db, st)) {
        rc = ctm__err(CTM_EAUTH, "%s: the signing key of user '%s' was replaced (password changed); "
                                 "log in again", action, db->session.user);
    } else if (strcmp(ctm__st_text(st, 1), db->session.role) != 0) {
        char *role = ctm__strdup(ctm__st_text(st, 1));
        if (role == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
        } else {
            free(db->session.role);
            db->session.role = role;
        }
    }
    if (rc == CTM_OK) {
        db->session.unblinded = (int)ctm__st_int(st, 2);
        db->session.checked = db->tx.batch;
        db->session.checked_epoch = db->tx.epoch;
    }
    ctm__st_reset(st);
    return rc;
}

int ctm__require_user(ctm_db *db, unsigned role_mask, const char *action)
{
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "%s: no database handle", action);
    if (db->session.user == NULL)
        return ctm__err(CTM_EMISUSE, "%s: nobody is logged in", action);
    int rc = refresh_user(db, action, 0);
    if (rc == CTM_OK && role_mask != 0 && (role_bit(db->session.role) & role_mask) == 0)
        rc = ctm__err(CTM_EDENIED, "%s: not allowed for the role '%s' of user '%s'", action,
                      db->session.role, db->session.user);
    return rc;
}

int ctm__require_action(ctm_db *db, const char *name, const char *what)
{
    const ctm__action_def *d = ctm__action_find(name);
    if (d == NULL || (d->actor != CTM_ACTOR_ROLES && d->actor != CTM_ACTOR_ANY))
        return ctm__err(CTM_EMISUSE, "%s: '%s' is not an action a user is allowed by role",
                        what, name != NULL ? name : "(null)");
    return ctm__require_user(db, d->actor == CTM_ACTOR_ROLES ? d->roles : 0, what);
}

/* A wrong password or unknown user: record it, and lock the account after too many. */
static int record_failure(ctm_db *db, const char *user, const user_row *u)
{
    if (db->readonly)
        return CTM_OK;
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "auth.failed", "");
    if (rc != CTM_OK)
        return rc;
    ctm__action_param(&a, "user", user);
    if (u != NULL) {
        a.user = user;
        int lock = u->failed_logins + 1 >= CTM_LOCKOUT_FAILURES;
        ctm__st *st = NULL;
        int src = ctm__st_prepare(db->store, &st, "UPDATE users SET failed_logins = failed_logins + 1,"
                                     " disabled = CASE WHEN ?2 THEN 1 ELSE disabled END WHERE id = ?1");
        if (src == CTM_OK) {
            ctm__st_bind_int(st, 1, u->id);
            ctm__st_bind_int(st, 2, lock);
            rc = ctm__step_done(db, st, "recording the failed login");
        } else {
            rc = ctm__store_fail(src, "recording the failed login");
        }
        if (lock)
            ctm__action_param(&a, "locked", "account disabled after repeated failures");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

static int reset_failures(ctm_db *db)
{
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "auth.reset", "successful login after failed attempts");
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    int src = ctm__st_prepare(db->store, &st, "UPDATE users SET failed_logins = 0 WHERE id = ?1");
    if (src != CTM_OK) {
        ctm__action_rollback(&a);
        return ctm__store_fail(src, "resetting failed logins");
    }
    ctm__st_bind_int(st, 1, db->session.id);
    rc = ctm__step_done(db, st, "resetting failed logins");
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_login(ctm_db *db, const char *user, const char *password)
{
    ctm__clear_error();
    if (db == NULL)
        return ctm__err(CTM_EMISUSE, "login: no database handle");
    /* A failed attempt must be recorded for good, which an open batch could roll back. */
    if (db->tx.batch)
        return ctm__err(CTM_EMISUSE, "login: a batch is open on this handle; commit or roll it back first");
    ctm_logout(db);
    int rc = ctm__check_name("user", user);
    if (rc != CTM_OK)
        return rc;
    /* An empty password is a mistake of the caller (an empty CTM_PASSWORD), not a guess. */
    if (password == NULL || password[0] == '\0')
        return ctm__err(CTM_EINVAL, "password: empty");
    if (strlen(password) > CTM_MAX_PASSWORD)
        return ctm__err(CTM_EINVAL, "password: longer than %d bytes", CTM_MAX_PASSWORD);
    user_row u;
    rc = load_user(db, user, &u);
    if (rc != CTM_OK && rc != CTM_ENOTFOUND)
        return rc;
    int known = rc == CTM_OK;
    /* What an attempt costs must tell no one whether the user exists nor, for a disabled
     * account, whether the password was right.  A disabled account costs one Argon2id check
     * whatever the password, then answers "disabled" and the attempt is not counted: it is no
     * oracle, and no one can guess on against it.  Any other attempt that fails costs two, as an
     * unknown user does; one that succeeds costs one: the key sealed with the password opens
     * only with the right one, so unsealing it is the password check (an account reset by an
     * administrator, which has no sealed key, checks the stored hash instead). */
    if (known && u.disabled) {
        spend_check(u.password_hash, password);
        user_row_free(&u);
        return ctm__err(CTM_EDISABLED, "login: user '%s' is disabled", user);
    }
    unsigned char *sk = NULL;
    int right = 0;
    if (!known) {
        spend_check(nobody_hash, password);
    } else if (u.must_change) {
        right = crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) == 0;
    } else {
        rc = unseal_key(&u, password, &sk);
        right = rc == CTM_OK;
        if (rc == CTM_EAUTH) {
            /* The password is wrong, or the sealed key is damaged: the stored hash tells. */
            if (crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) == 0)
                rc = ctm__err(CTM_EINTEGRITY, "the signing key of this user cannot be unsealed");
            else
                rc = CTM_OK;
        }
        if (rc != CTM_OK) {
            user_row_free(&u);
            return rc;
        }
    }
    if (!right) {
        if (!known || u.must_change) /* the second check a wrong password of a keyed account costs */
            spend_check(nobody_hash, password);
        record_failure(db, user, known ? &u : NULL);
        if (known)
            user_row_free(&u);
        return ctm__err(CTM_EAUTH, "login: unknown user or wrong password for '%s'", user);
    }
    set_session(db, u.id, user, u.printed_name, u.role, u.unblinded, sk, u.must_change);
    rc = CTM_OK;
    if (u.failed_logins > 0 && !db->readonly)
        rc = reset_failures(db);
    if (rc != CTM_OK)
        ctm_logout(db);
    user_row_free(&u);
    return rc;
}

int ctm__session_reauth(ctm_db *db, const char *password, const char *what)
{
    int rc = ctm__check_password("password", password);
    user_row u;
    if (rc == CTM_OK)
        rc = load_user(db, db->session.user, &u);
    if (rc != CTM_OK)
        return rc;
    if (crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) != 0) {
        /* counted like a failed login: re-entry is no way round the lockout */
        rc = record_failure(db, db->session.user, &u);
        if (rc == CTM_OK)
            rc = ctm__err(CTM_EAUTH, "%s: wrong password for '%s'", what, db->session.user);
    }
    user_row_free(&u);
    return rc;
}

/* ---- a second user's signature (a destruction's witness) ----
 * The witness signs with their own key, unsealed with their password inside the call, as a login
 * would, but without a session: the logged-in user stays who they are, and a wrong password is
 * counted against the witness's account, as at a login, so that the call is no way round the
 * lockout. */

void ctm__signer_free(ctm__signer *s)
{
    free(s->user);
    free(s->printed);
    sodium_free(s->sk); /* wipes */
    memset(s, 0, sizeof *s);
}

/* What refuses a second user who gave their right password: their account's state and role. */
static int signer_refuse(const char *what, const char *field, const char *user, const user_row *u,
                         unsigned role_mask)
{
    if (u->disabled)
        return ctm__err(CTM_EDISABLED, "%s: %s '%s' is disabled", what, field, user);
    if (u->must_change)
        return ctm__err(CTM_EDENIED, "%s: %s '%s' must first replace the password an administrator"
                                     " set", what, field, user);
    if ((role_bit(u->role) & role_mask) == 0)
        return ctm__err(CTM_EDENIED, "%s: %s '%s' has the role '%s', which may not sign this",
                        what, field, user, u->role);
    return CTM_OK;
}

int ctm__signer_open(ctm_db *db, const char *user, const char *password, unsigned role_mask,
                     const char *what, const char *field, ctm__signer *out)
{
    memset(out, 0, sizeof *out);
    if (db->tx.batch || db->tx.open)
        return ctm__err(CTM_EMISUSE, "%s: not inside a batch: a wrong %s password is recorded for"
                                     " good", what, field);
    int rc = ctm__check_name(field, user);
    if (rc == CTM_OK && (password == NULL || password[0] == '\0'))
        rc = ctm__err(CTM_EINVAL, "%s password: empty", field);
    if (rc == CTM_OK && strlen(password) > CTM_MAX_PASSWORD)
        rc = ctm__err(CTM_EINVAL, "%s password: longer than %d bytes", field, CTM_MAX_PASSWORD);
    if (rc != CTM_OK)
        return rc;
    user_row u;
    rc = load_user(db, user, &u);
    if (rc == CTM_ENOTFOUND) {
        /* what an unknown name costs and says is what a wrong password costs and says */
        spend_check(nobody_hash, password);
        spend_check(nobody_hash, password);
        record_failure(db, user, NULL);
        return ctm__err(CTM_EAUTH, "%s: unknown user or wrong password for %s '%s'", what, field,
                        user);
    }
    if (rc != CTM_OK)
        return rc;
    /* The acting user as their own witness is refused first: it tells nothing they do not know.
     * Then the password, before anything about the account (disabled, reset, its role): a
     * refusal for those would tell the acting user the state of another's account without its
     * password.  A wrong password costs what it costs at a login (two Argon2id checks) and is
     * counted against the witness's account, disabled or not. */
    unsigned char *sk = NULL;
    int right = 0;
    if (db->session.user != NULL && strcmp(user, db->session.user) == 0) {
        rc = ctm__err(CTM_ERULE, "%s: %s '%s' is the user acting; a second user witnesses", what,
                      field, user);
    } else if (u.must_change) {
        /* no sealed key until the user's own password: the stored hash is the check */
        right = crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) == 0;
        if (!right)
            spend_check(nobody_hash, password);
    } else {
        rc = unseal_key(&u, password, &sk);
        right = rc == CTM_OK;
        if (rc == CTM_EAUTH)
            rc = crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) == 0
                     ? ctm__err(CTM_EINTEGRITY, "%s: the signing key of %s '%s' cannot be"
                                                " unsealed", what, field, user)
                     : CTM_OK;
    }
    if (rc == CTM_OK && !right) {
        rc = record_failure(db, user, &u);
        if (rc == CTM_OK)
            rc = ctm__err(CTM_EAUTH, "%s: unknown user or wrong password for %s '%s'", what,
                          field, user);
    }
    if (rc == CTM_OK)
        rc = signer_refuse(what, field, user, &u, role_mask);
    if (rc == CTM_OK) {
        out->id = u.id;
        out->user = ctm__strdup(user);
        out->printed = ctm__strdup(u.printed_name);
        out->sk = sk;
        if (out->user == NULL || out->printed == NULL) {
            ctm__signer_free(out);
            rc = ctm__err(CTM_ENOMEM, "out of memory");
        }
    } else {
        sodium_free(sk);
    }
    user_row_free(&u);
    return rc;
}

int ctm__signer_check(ctm_db *db, const ctm__signer *s, const char *what)
{
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st,
                             "SELECT disabled, public_key FROM users WHERE id = ?1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "reading users");
    ctm__st_bind_int(st, 1, s->id);
    int src = ctm__st_step(st);
    uint8_t pub[32];
    crypto_sign_ed25519_sk_to_pk(pub, s->sk);
    if (src != CTM_ROW)
        rc = src == CTM_OK ? ctm__err(CTM_EAUTH, "%s: user '%s' no longer exists", what, s->user)
                           : ctm__store_fail(src, what);
    else if (ctm__st_int(st, 0) != 0)
        rc = ctm__err(CTM_EDISABLED, "%s: user '%s' is disabled", what, s->user);
    else if (ctm__st_bytes(st, 1) != 32 || sodium_memcmp(ctm__st_blob(st, 1), pub, 32) != 0)
        rc = ctm__err(CTM_EAUTH, "%s: the signing key of user '%s' was replaced meanwhile", what,
                      s->user);
    ctm__st_finalize(st);
    return rc;
}

static int check_reason(const char *reason)
{
    return ctm__check_text("reason", reason, CTM_MAX_REASON);
}

int ctm_user_add(ctm_db *db, const char *user, const char *role, int unblinded,
                 const char *printed_name, const char *password)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "user.add", "user add");
    if (rc != CTM_OK)
        return rc;
    if (printed_name == NULL)
        printed_name = user;
    if ((rc = ctm__check_name("user name", user)) != CTM_OK ||
        (rc = ctm__check_role(role)) != CTM_OK ||
        (rc = ctm__check_text("printed name", printed_name, CTM_MAX_TEXT)) != CTM_OK ||
        (rc = ctm__check_password("password", password)) != CTM_OK)
        return rc;
    int exists = 0;
    if ((rc = user_exists(db, user, &exists)) != CTM_OK)
        return rc;
    if (exists)
        return ctm__err(CTM_EEXISTS, "user name: '%s' already exists", user);
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "user.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "user", user);
    ctm__action_param(&a, "role", role);
    ctm__action_param(&a, "unblinded", unblinded ? "yes" : "no");
    rc = create_user(db, user, role, unblinded, printed_name, password, NULL, NULL);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* Shared shape of the admin's account changes: checks, then one UPDATE in one signed action. */
static int account_change(ctm_db *db, const char *action, const char *user, const char *reason,
                          const char *sql, const char *role, int flag, user_row *target)
{
    memset(target, 0, sizeof *target);
    int rc = ctm__require_action(db, action, action);
    if (rc == CTM_OK)
        rc = ctm__check_name("user name", user);
    if (rc == CTM_OK)
        rc = check_reason(reason);
    if (rc == CTM_OK)
        rc = load_user(db, user, target);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, action, reason)) != CTM_OK)
        return rc;
    ctm__action_param(&a, "user", user);
    if (role != NULL) {
        ctm__action_param(&a, "role", role);
        ctm__action_param(&a, "unblinded", flag ? "yes" : "no");
    }
    ctm__st *st = NULL;
    int src = ctm__st_prepare(db->store, &st, sql);
    if (src != CTM_OK) {
        ctm__action_rollback(&a);
        return ctm__store_fail(src, action);
    }
    ctm__st_bind_int(st, 1, target->id);
    if (role != NULL) {
        ctm__st_bind_text(st, 2, role);
        ctm__st_bind_int(st, 3, flag ? 1 : 0);
    }
    rc = ctm__step_done(db, st, action);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_user_disable(ctm_db *db, const char *user, const char *reason)
{
    ctm__clear_error();
    user_row u;
    memset(&u, 0, sizeof u);
    int rc = ctm__require_action(db, "user.disable", "user disable");
    if (rc == CTM_OK && user != NULL && strcmp(user, db->session.user) == 0)
        return ctm__err(CTM_ERULE, "user disable: an administrator cannot disable their own account");
    if (rc == CTM_OK && ctm__check_name("user name", user) == CTM_OK &&
        load_user(db, user, &u) == CTM_OK && u.disabled)
        rc = ctm__err(CTM_ERULE, "user disable: '%s' is already disabled", user);
    user_row_free(&u);
    if (rc != CTM_OK)
        return rc;
    rc = account_change(db, "user.disable", user, reason,
                        "UPDATE users SET disabled = 1 WHERE id = ?1", NULL, 0, &u);
    user_row_free(&u);
    return rc;
}

int ctm_user_enable(ctm_db *db, const char *user, const char *reason)
{
    ctm__clear_error();
    user_row u;
    int rc = account_change(db, "user.enable", user, reason,
                            "UPDATE users SET disabled = 0, failed_logins = 0 WHERE id = ?1", NULL,
                            0, &u);
    user_row_free(&u);
    return rc;
}

static int enabled_admins_other_than(ctm_db *db, int64_t id, int *count)
{
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
                                " AND id != ?1");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "counting administrators");
    ctm__st_bind_int(st, 1, id);
    rc = ctm__st_step(st);
    *count = (int)ctm__st_int(st, 0);
    ctm__st_finalize(st);
    return rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc, "counting administrators");
}

int ctm_user_set_role(ctm_db *db, const char *user, const char *role, int unblinded,
                      const char *reason)
{
    ctm__clear_error();
    int rc = ctm__check_role(role);
    if (rc != CTM_OK)
        return rc;
    user_row u;
    memset(&u, 0, sizeof u);
    rc = ctm__require_action(db, "user.role", "user role");
    if (rc == CTM_OK && strcmp(role, "admin") != 0 && ctm__check_name("user name", user) == CTM_OK &&
        load_user(db, user, &u) == CTM_OK && strcmp(u.role, "admin") == 0) {
        int others = 0;
        rc = enabled_admins_other_than(db, u.id, &others);
        if (rc == CTM_OK && others == 0)
            rc = ctm__err(CTM_ERULE, "user role: '%s' is the last enabled administrator", user);
    }
    user_row_free(&u);
    if (rc != CTM_OK)
        return rc;
    rc = account_change(db, "user.role", user, reason,
                        "UPDATE users SET role = ?2, unblinded = ?3 WHERE id = ?1", role, unblinded,
                        &u);
    user_row_free(&u);
    return rc;
}

/* The user's own password change.  It always gives a new key: whoever learnt the old password
 * (an administrator who reset it, or whoever made the change necessary) may also have unsealed
 * the old key from a copy of the database.  The entry is signed with the new key, which the
 * ledger gives the user from this entry on. */
static int own_passwd(ctm_db *db, const user_row *u, const char *password)
{
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (seed == NULL || sk == NULL) {
        sodium_free(seed);
        sodium_free(sk);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    uint8_t pub[32];
    randombytes_buf(seed, crypto_sign_SEEDBYTES);
    crypto_sign_seed_keypair(pub, sk, seed);
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "user.passwd", "");
    if (rc == CTM_OK) {
        ctm__action_param(&a, "user", db->session.user);
        ctm__action_param(&a, "new_signing_key", "yes");
        ctm__st *st = NULL;
        rc = ctm__prepare(db, &st, "UPDATE users SET public_key = ?2 WHERE id = ?1");
        if (rc == CTM_OK) {
            ctm__st_bind_int(st, 1, u->id);
            ctm__st_bind_blob_copy(st, 2, pub, 32);
            rc = ctm__step_done(db, st, "user passwd");
        }
        if (rc == CTM_OK)
            rc = store_credentials(db, u->id, password, seed, 1);
        unsigned char *old = db->session.sk;
        db->session.sk = sk;
        rc = rc == CTM_OK ? ctm__action_commit(&a) : (ctm__action_rollback(&a), rc);
        if (rc == CTM_OK) {
            sk = old;
            db->session.must_change = 0;
        } else {
            db->session.sk = old;
        }
    }
    sodium_free(seed);
    sodium_free(sk);
    return rc;
}

/* An administrator's reset: the account keeps no usable key (the administrator knows the new
 * password) and may do nothing but choose its own password, which gives it a new key. */
static int reset_passwd(ctm_db *db, const user_row *u, const char *user, const char *password)
{
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "user.reset", "password reset by administrator");
    if (rc != CTM_OK)
        return rc;
    ctm__action_param(&a, "user", user);
    rc = store_credentials(db, u->id, password, NULL, 1);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_user_passwd(ctm_db *db, const char *user, const char *new_password)
{
    ctm__clear_error();
    if (db == NULL || db->session.user == NULL)
        return ctm__require_user(db, 0, "user passwd");
    int self = user == NULL || strcmp(user, db->session.user) == 0;
    /* one's own password: the one action open to an account whose password was reset */
    int rc = self ? refresh_user(db, "user passwd", 1)
                  : ctm__require_action(db, "user.reset", "user passwd");
    if (rc != CTM_OK)
        return rc;
    if (self)
        user = db->session.user;
    if ((rc = ctm__check_name("user name", user)) != CTM_OK ||
        (rc = ctm__check_password("new password", new_password)) != CTM_OK)
        return rc;
    user_row u;
    if ((rc = load_user(db, user, &u)) != CTM_OK)
        return rc;
    if (self && crypto_pwhash_str_verify(u.password_hash, new_password, strlen(new_password)) == 0)
        rc = ctm__err(CTM_EINVAL, "new password: the same as the current one; choose another");
    if (rc == CTM_OK)
        rc = self ? own_passwd(db, &u, new_password) : reset_passwd(db, &u, user, new_password);
    user_row_free(&u);
    return rc;
}

int ctm_user_list(ctm_query **out, ctm_db *db)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, "user list");
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    int src = ctm__st_prepare(db->store, &st, "SELECT username AS user, printed_name, role, unblinded, disabled, failed_logins,"
        " created_us AS created, public_key,"
        " (SELECT length(sealed_key) = 0 FROM credentials WHERE user_id = users.id) AS must_change"
        " FROM users ORDER BY username");
    if (src != CTM_OK)
        return ctm__store_fail(src, "user list");
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "created", NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_HEX, "public_key", NULL);
    return rc;
}
