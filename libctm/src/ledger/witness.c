/* witness.c - witnessing: a monitor checks that the site's newest checkpoint extends the one it
 * witnessed last, and cosigns it with its own key (docs/audit-format.md 6.5).
 *
 * The rules:
 * - A witness key is an Ed25519 key with a C2SP key name, kept in its own file
 *   ("libctm-witness-key-v1 <name> <base64 seed>\n", mode 0600, never overwritten), away from the
 *   site: a witness that the site can sign for witnesses nothing.
 * - A cosignature is a plain C2SP note signature line of that key (algorithm 0x01) added to the
 *   site's checkpoint note, so that any note verifier checks it with the witness's verifier key.
 * - Witnessing refuses a site whose newest checkpoint does not extend the previous witnessed one:
 *   smaller (rewound or truncated), or of the same or a larger size with another root at the
 *   previous size (rewritten).  The check hashes every entry up to the newest checkpoint, in
 *   bounded memory, which is what a consistency proof between the two establishes.
 * - The cosigned checkpoint is stored in `cosignatures` by the logged-in monitor, audited
 *   "audit.cosign"; that and the reconciliation sign-off are the only writes of a monitor.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "note.h"

#define KEY_PREFIX "libctm-witness-key-v1 "
#define KEY_PREFIX_LEN (sizeof KEY_PREFIX - 1)
/* A key line: the prefix, a name of at most MAX_NAME bytes, a space, 44 base64 digits, '\n'. */
#define MAX_NAME 256
#define KEY_LINE_MAX (KEY_PREFIX_LEN + MAX_NAME + 1 + 44 + 2)

/* A witness key loaded from its file: the name and the libsodium secret key (sodium_malloc'd). */
typedef struct witness_key {
    char name[MAX_NAME + 1];
    unsigned char *sk;
} witness_key;

static void witness_key_free(witness_key *k)
{
    sodium_free(k->sk);
    k->sk = NULL;
}

static int check_name(const char *name)
{
    if (name == NULL || strlen(name) > MAX_NAME || !ctm__note_name_valid(name))
        return ctm__err(CTM_EINVAL, "witness name: '%s' is not a key name (1-%d bytes of UTF-8, "
                                    "no spaces, controls or '+'; e.g. monitor.example.org/anna)",
                        name != NULL ? name : "(null)", MAX_NAME);
    return CTM_OK;
}

/* The file's one line, parsed: the name and the 32-byte seed.  The buffer is wiped. */
static int parse_key_line(char *buf, size_t n, const char *path, witness_key *k,
                          unsigned char *seed)
{
    char *space = n > KEY_PREFIX_LEN && memcmp(buf, KEY_PREFIX, KEY_PREFIX_LEN) == 0
                      ? memchr(buf + KEY_PREFIX_LEN, ' ', n - KEY_PREFIX_LEN)
                      : NULL;
    size_t seedlen = 0;
    int rc = CTM_OK;
    if (space == NULL || buf[n - 1] != '\n' || (size_t)(space - buf) - KEY_PREFIX_LEN > MAX_NAME) {
        rc = ctm__err(CTM_EIO, "witness key file %s: not a libctm witness key file", path);
    } else {
        size_t nlen = (size_t)(space - buf) - KEY_PREFIX_LEN;
        memcpy(k->name, buf + KEY_PREFIX_LEN, nlen);
        k->name[nlen] = '\0';
        const char *b64 = space + 1;
        size_t blen = n - 1 - (size_t)(b64 - buf);
        const char *end = NULL;
        if (!ctm__note_name_valid(k->name) ||
            sodium_base642bin(seed, crypto_sign_SEEDBYTES, b64, blen, NULL, &seedlen, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != b64 + blen || seedlen != crypto_sign_SEEDBYTES)
            rc = ctm__err(CTM_EIO, "witness key file %s: damaged key", path);
    }
    sodium_memzero(buf, n);
    return rc;
}

/* Read the key file at path; the file must be the owner's alone, as the site key's. */
static int witness_key_load(witness_key *k, const char *path)
{
    memset(k, 0, sizeof *k);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctm__err(CTM_EIO, "witness key file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        close(fd);
        return ctm__err(CTM_EIO, "witness key file %s: readable by others (mode %03o); chmod 600 it",
                        path, (unsigned)(st.st_mode & 0777));
    }
    char buf[KEY_LINE_MAX + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = seed != NULL && k->sk != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
    if (rc == CTM_OK && (n <= 0 || (size_t)n > KEY_LINE_MAX))
        rc = ctm__err(CTM_EIO, "witness key file %s: not a libctm witness key file", path);
    if (rc == CTM_OK)
        rc = parse_key_line(buf, (size_t)n, path, k, seed);
    sodium_memzero(buf, sizeof buf);
    if (rc == CTM_OK) {
        uint8_t pub[crypto_sign_PUBLICKEYBYTES];
        crypto_sign_seed_keypair(pub, k->sk, seed);
    }
    sodium_free(seed);
    if (rc != CTM_OK)
        witness_key_free(k);
    return rc;
}

/* The verifier key of a loaded key: libsodium's secret key ends with the public key. */
static int witness_vkey(char **vkey, const witness_key *k)
{
    *vkey = ctm__note_vkey(k->name, k->sk + crypto_sign_SEEDBYTES);
    return *vkey != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

int ctm_witness_key_create(char **vkey, const char *path, const char *name)
{
    ctm__clear_error();
    if (vkey == NULL || path == NULL)
        return ctm__err(CTM_EINVAL, "witness key: NULL argument");
    *vkey = NULL;
    int rc = check_name(name);
    if (rc != CTM_OK)
        return rc;
    if (sodium_init() < 0)
        return ctm__err(CTM_ERROR, "libsodium could not be initialised");
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    if (seed == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    randombytes_buf(seed, crypto_sign_SEEDBYTES);
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, seed, crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL);
    uint8_t pub[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pub, sk, seed);
    sodium_memzero(sk, sizeof sk);
    sodium_free(seed);
    char line[KEY_LINE_MAX + 1];
    int len = snprintf(line, sizeof line, KEY_PREFIX "%s %s\n", name, b64);
    sodium_memzero(b64, sizeof b64);
    /* O_EXCL: a key, once made, is never replaced by mistake */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        sodium_memzero(line, sizeof line);
        return ctm__err(e == EEXIST ? CTM_EEXISTS : CTM_EIO, "witness key file %s: %s%s", path,
                        strerror(e), e == EEXIST ? " (refusing to overwrite a key)" : "");
    }
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    sodium_memzero(line, sizeof line);
    if (close(fd) != 0)
        ok = 0;
    if (!ok) {
        unlink(path);
        return ctm__err(CTM_EIO, "witness key file %s: cannot write: %s", path, strerror(e));
    }
    *vkey = ctm__note_vkey(name, pub);
    return *vkey != NULL ? CTM_OK : ctm__err(CTM_ENOMEM, "out of memory");
}

int ctm_witness_key_vkey(char **vkey, const char *path)
{
    ctm__clear_error();
    if (vkey == NULL || path == NULL)
        return ctm__err(CTM_EINVAL, "witness key: NULL argument");
    *vkey = NULL;
    if (sodium_init() < 0)
        return ctm__err(CTM_ERROR, "libsodium could not be initialised");
    witness_key k;
    int rc = witness_key_load(&k, path);
    if (rc == CTM_OK)
        rc = witness_vkey(vkey, &k);
    witness_key_free(&k);
    return rc;
}

/* ---- the site's checkpoints ---- */

/* The site's key: the verifier key given (held outside), else the site row's. */
typedef struct site_key {
    char *origin;
    uint8_t pub[32];
} site_key;

static int site_key_load(site_key *s, ctm_db *db, const char *site_vkey)
{
    s->origin = NULL;
    if (site_vkey != NULL) {
        if (ctm__note_vkey_parse(site_vkey, &s->origin, s->pub) != 0)
            return ctm__err(CTM_EINVAL, "site verifier key: not a valid Ed25519 verifier key "
                                        "(expected <name>+<key id>+<base64 key>)");
        return CTM_OK;
    }
    char *origin;
    int rc = ctm__site_info(db, &origin, s->pub);
    if (rc == CTM_OK && (s->origin = ctm__strdup(origin)) == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    return rc;
}

/* A checkpoint note signed by the site: its size and root, 0; -1 when it is not one. */
static int open_checkpoint(const site_key *s, const char *note, uint64_t *size, ctm_hash root)
{
    char *body = NULL, *origin = NULL;
    int ok = ctm__note_verify(note, s->origin, s->pub, &body) == 0 &&
             ctm__checkpoint_parse(body, &origin, size, root) == 0 &&
             strcmp(origin, s->origin) == 0;
    free(body);
    free(origin);
    return ok ? 0 : -1;
}

/* ---- the roots at two sizes, from the entries ----
 *
 * Every entry below `n` is hashed in seq order into a frontier: its root at `m` and at `n` are the
 * roots of the first m and n leaves.  Entries are read a page at a time; one larger than
 * READ_WHOLE is read through the store's blob reads in windows, so memory stays bounded. */
#define READ_WHOLE ((size_t)1 << 20)
#define WINDOW ((size_t)1 << 20)

static const char *const page_sql[2] = {
    "SELECT seq, CASE WHEN length(entry) > ?3 THEN NULL ELSE entry END, length(entry) > ?3"
    " FROM ledger WHERE seq >= ?1 AND seq < ?2 ORDER BY seq LIMIT 64",
    "SELECT seq, CASE WHEN octet_length(entry) > ?3 THEN NULL ELSE entry END,"
    " CASE WHEN octet_length(entry) > ?3 THEN 1 ELSE 0 END"
    " FROM ledger WHERE seq >= ?1 AND seq < ?2 ORDER BY seq LIMIT 64"};

static int hash_large(ctm_db *db, int64_t seq, ctm_hash leaf)
{
    ctm__blob *blob = NULL;
    size_t size = 0;
    int rc = ctm__blob_open(db->store, "ledger", "entry", "seq", seq, &blob, &size);
    uint8_t *buf = rc == CTM_OK ? malloc(WINDOW) : NULL;
    if (rc == CTM_OK && buf == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t[]){0x00}, 1);
    for (size_t off = 0; rc == CTM_OK && off < size; off += WINDOW) {
        size_t n = size - off < WINDOW ? size - off : WINDOW;
        if ((rc = ctm__blob_read(blob, buf, n, off)) == CTM_OK)
            crypto_hash_sha256_update(&h, buf, n);
    }
    crypto_hash_sha256_final(&h, leaf);
    free(buf);
    ctm__blob_close(blob);
    return rc;
}

static int roots_at(ctm_db *db, uint64_t m, uint64_t n, ctm_hash root_m, ctm_hash root_n)
{
    ctm__frontier f;
    ctm__frontier_init(&f);
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st,
                             page_sql[ctm__store_engine(db->store) == CTM__ENGINE_POSTGRES]);
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "audit witness: reading the ledger");
    int rows = 64;
    while (rc == CTM_OK && f.size < n && rows == 64) {
        ctm__st_reset(st);
        ctm__st_bind_int(st, 1, (int64_t)f.size);
        ctm__st_bind_int(st, 2, (int64_t)n);
        ctm__st_bind_int(st, 3, (int64_t)READ_WHOLE);
        rows = 0;
        while (rc == CTM_OK && (rc = ctm__st_step(st)) == CTM_ROW) {
            rc = CTM_OK;
            rows++;
            int64_t seq = ctm__st_int(st, 0);
            ctm_hash leaf;
            if ((uint64_t)seq != f.size) {
                rc = ctm__err(CTM_EINTEGRITY, "audit witness: ledger seq %llu is missing (run "
                                              "verify)", (unsigned long long)f.size);
                break;
            }
            if (ctm__st_int(st, 2) != 0)
                rc = hash_large(db, seq, leaf);
            else
                ctm__leaf_hash(ctm__st_blob(st, 1), ctm__st_bytes(st, 1), leaf);
            ctm__frontier_append(&f, leaf);
            if (f.size == m)
                ctm__frontier_root(&f, root_m);
        }
        if (rc != CTM_OK && rc != CTM_EINTEGRITY)
            rc = ctm__store_fail(rc, "audit witness: reading the ledger");
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK && f.size != n)
        rc = ctm__err(CTM_EINTEGRITY, "audit witness: ledger seq %llu is missing (run verify)",
                      (unsigned long long)f.size);
    if (rc == CTM_OK)
        ctm__frontier_root(&f, root_n);
    return rc;
}

/* The newest checkpoint extends the previous witnessed one (m, root_m): n >= m and the first m
 * entries still make root_m, and the entries make the newest checkpoint's root. */
static int check_extends(ctm_db *db, uint64_t m, const ctm_hash root_m, uint64_t n,
                         const ctm_hash root_n)
{
    if (m > n)
        return ctm__err(CTM_EINTEGRITY,
                        "audit witness: the site's newest checkpoint has size %llu, but size %llu "
                        "was witnessed before: the ledger was rolled back or truncated",
                        (unsigned long long)n, (unsigned long long)m);
    ctm_hash at_m, at_n;
    int rc = roots_at(db, m, n, at_m, at_n);
    if (rc != CTM_OK)
        return rc;
    if (sodium_memcmp(at_n, root_n, CTM_HASH_SIZE) != 0)
        return ctm__err(CTM_EINTEGRITY, "audit witness: the entries do not make the root of the "
                                        "newest checkpoint (size %llu): run verify",
                        (unsigned long long)n);
    if (m > 0 && sodium_memcmp(at_m, root_m, CTM_HASH_SIZE) != 0)
        return ctm__err(CTM_EINTEGRITY,
                        "audit witness: the ledger at size %llu differs from the checkpoint "
                        "witnessed before: entries up to it were rewritten",
                        (unsigned long long)m);
    return CTM_OK;
}

/* ---- storing the cosignature ---- */

/* A cosignature of this key for this size already stored (a repeated run): its note, else NULL. */
static int stored_note(ctm_db *db, const char *vkey, uint64_t size, char **note)
{
    *note = NULL;
    ctm__st *st = NULL;
    int rc = ctm__st_prepare(db->store, &st,
                             "SELECT note FROM cosignatures WHERE vkey = ?1 AND size = ?2");
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "audit witness: reading cosignatures");
    ctm__st_bind_text(st, 1, vkey);
    ctm__st_bind_int(st, 2, (int64_t)size);
    rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        rc = (*note = ctm__strdup(ctm__st_text(st, 0))) != NULL
                 ? CTM_OK
                 : ctm__err(CTM_ENOMEM, "out of memory");
    } else if (rc != CTM_OK) {
        rc = ctm__store_fail(rc, "audit witness: reading cosignatures");
    }
    ctm__st_finalize(st);
    return rc;
}

static int store_cosignature(ctm_db *db, const char *witness, const char *vkey, uint64_t size,
                             const char *note)
{
    ctm__action a;
    int rc = ctm__action_begin(&a, db, "audit.cosign", "");
    if (rc != CTM_OK)
        return rc;
    char p_size[24];
    snprintf(p_size, sizeof p_size, "%llu", (unsigned long long)size);
    ctm__action_param(&a, "witness", witness);
    ctm__action_param(&a, "size", p_size);
    ctm__st *st = NULL;
    if ((rc = ctm__prepare(db, &st,
                           "INSERT INTO cosignatures(size, witness, vkey, note, stored_us,"
                           " stored_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) == CTM_OK) {
        ctm__st_bind_int(st, 1, (int64_t)size);
        ctm__st_bind_text(st, 2, witness);
        ctm__st_bind_text(st, 3, vkey);
        ctm__st_bind_text(st, 4, note);
        ctm__st_bind_int(st, 5, ctm__now_us());
        ctm__st_bind_text(st, 6, db->session.user);
        rc = ctm__step_done(db, st, "storing the cosignature");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* The previous witnessed checkpoint (NULL: none) as (m, root); a checkpoint of the site. */
static int load_previous(const site_key *s, const char *previous, uint64_t *m, ctm_hash root)
{
    *m = 0;
    if (previous == NULL)
        return CTM_OK;
    if (open_checkpoint(s, previous, m, root) != 0)
        return ctm__err(CTM_EINVAL, "previous checkpoint: not a checkpoint signed by %s (another "
                                    "site, an altered note, or the site's key changed)",
                        s->origin);
    if (*m == 0)
        return ctm__err(CTM_EINVAL, "previous checkpoint: the checkpoint of the empty log "
                                    "proves nothing");
    return CTM_OK;
}

/* Check, cosign: the newest checkpoint's cosigned note in *cosigned and its size in *size. */
static int witness_newest(ctm_db *db, const site_key *s, const witness_key *k, uint64_t m,
                          const ctm_hash root_m, char **cosigned, uint64_t *size)
{
    char *note = NULL;
    ctm_hash root_n;
    int rc = ctm__latest_checkpoint(db, &note, size);
    uint64_t csize = 0;
    if (rc == CTM_OK && (open_checkpoint(s, note, &csize, root_n) != 0 || csize != *size))
        rc = ctm__err(CTM_EINTEGRITY, "audit witness: the newest checkpoint (size %llu) does not "
                                      "verify with the site key %s",
                      (unsigned long long)*size, s->origin);
    if (rc == CTM_OK)
        rc = check_extends(db, m, root_m, *size, root_n);
    if (rc == CTM_OK && (*cosigned = ctm__note_cosign(note, k->name, k->sk)) == NULL)
        rc = ctm__err(CTM_EINTEGRITY, "audit witness: the newest checkpoint cannot take another "
                                      "signature line");
    free(note);
    return rc;
}

int ctm_audit_witness(char **cosigned, ctm_db *db, const char *key_path, const char *site_vkey,
                      const char *previous)
{
    ctm__clear_error();
    if (cosigned == NULL || db == NULL || key_path == NULL)
        return ctm__err(CTM_EINVAL, "audit witness: NULL argument");
    *cosigned = NULL;
    int rc = ctm__require_action(db, "audit.cosign", "audit witness");
    if (rc != CTM_OK)
        return rc;
    witness_key k;
    site_key s = {NULL, {0}};
    char *vkey = NULL, *note = NULL, *stored = NULL;
    uint64_t m = 0, n = 0;
    ctm_hash root_m;
    if ((rc = witness_key_load(&k, key_path)) != CTM_OK)
        return rc;
    rc = witness_vkey(&vkey, &k);
    if (rc == CTM_OK)
        rc = site_key_load(&s, db, site_vkey);
    if (rc == CTM_OK)
        rc = load_previous(&s, previous, &m, root_m);
    if (rc == CTM_OK)
        rc = witness_newest(db, &s, &k, m, root_m, &note, &n);
    if (rc == CTM_OK)
        rc = stored_note(db, vkey, n, &stored);
    if (rc == CTM_OK && stored == NULL)
        rc = store_cosignature(db, k.name, vkey, n, note);
    /* a repeated run at the same size hands back the note stored the first time */
    char **keep = stored != NULL ? &stored : &note;
    if (rc == CTM_OK) {
        *cosigned = *keep;
        *keep = NULL;
    }
    free(stored);
    free(note);
    free(vkey);
    free(s.origin);
    witness_key_free(&k);
    return rc;
}
