/* site.c - opening a site: its database, its schema version, its signing key. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blinding.h"
#include "internal.h"
#include "note.h"

static int migrate(ctm_db *db, int version)
{
    if (version == CTM_SCHEMA_VERSION)
        return CTM_OK;
    /* A read-only handle cannot migrate: it reads an older site as it is (its ledger, its
     * checkpoints, verification).  Schema versions 3 and 4 added no table or column (4 a CHECK
     * on kits.status), so every read works on versions 1 to 3 alike; a version that adds some
     * must say how reads meet their absence. */
    if (db->readonly)
        return CTM_OK;
    int rc = ctm__store_begin(db->store);
    if (rc != CTM_OK)
        return ctm__store_fail(rc, "schema migration");
    /* Another process may have migrated between our look and the lock. */
    int now = 0;
    rc = ctm__store_schema_version(db->store, &now);
    if (rc == CTM_OK && now < CTM_SCHEMA_VERSION)
        rc = ctm__schema_apply(db->store, now, CTM_SCHEMA_VERSION);
    /* The move to a newer schema is recorded in the ledger, signed into a new checkpoint: the
     * audit trail shows when the site's tables changed.  For a site with unsalted entries
     * (versions 1 and 2) it is also the salted entry on top, so that the newest root no longer
     * covers only entries whose hashes can be tested against guessed arms.  Without the site key
     * it cannot be signed: the open fails and the site stays as it was. */
    if (rc == CTM_OK && now > 0 && now < CTM_SCHEMA_VERSION)
        rc = ctm__ledger_upgrade(db, now, CTM_SCHEMA_VERSION);
    if (rc == CTM_OK && (rc = ctm__store_commit(db->store)) == CTM_OK) {
        db->schema_version = CTM_SCHEMA_VERSION;
        return CTM_OK;
    }
    ctm__store_rollback(db->store);
    return rc;
}

/* The site key part: where the key comes from (ctm_open), the key once loaded, and what is
 * wiped with it (ctm_close). */
static int site_key_init(ctm_db *db, const char *key_path, const unsigned char *seed)
{
    memset(&db->site, 0, sizeof db->site);
    /* A site on a server has no file to put a key file next to: its key file is named, or the
     * application supplies the seed (docs/deployment.md). */
    int wanted = key_path != NULL || !ctm__store_is_server(db->path);
    if (key_path != NULL)
        db->site.key_path = ctm__strdup(key_path);
    else if (wanted && (db->site.key_path = malloc(strlen(db->path) + 5)) != NULL)
        sprintf(db->site.key_path, "%s.key", db->path);
    if (wanted && db->site.key_path == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    if (seed != NULL) {
        db->site.seed = sodium_malloc(crypto_sign_SEEDBYTES);
        if (db->site.seed == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        memcpy(db->site.seed, seed, crypto_sign_SEEDBYTES);
    }
    return CTM_OK;
}

void ctm__site_key_forget(ctm_db *db)
{
    free(db->site.origin);
    db->site.origin = NULL;
    sodium_free(db->site.sk);
    db->site.sk = NULL;
}

int ctm__site_key_adopt(ctm_db *db, const char *origin, const uint8_t pub[32], unsigned char *sk)
{
    ctm__site_key_forget(db);
    db->site.sk = sk;
    memcpy(db->site.pub, pub, 32);
    db->site.origin = ctm__strdup(origin);
    return db->site.origin == NULL ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
}

static void site_key_free(ctm_db *db)
{
    ctm__site_key_forget(db);
    sodium_free(db->site.seed);
    free(db->site.key_path);
    memset(&db->site, 0, sizeof db->site);
}

static int open_options(ctm_db *db, const ctm_open_options *opts, int *busy_ms)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    if (opts != NULL) {
        size_t n = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
        if (n < sizeof(size_t))
            return ctm__err(CTM_EINVAL, "options: struct_size is %zu; use CTM_OPEN_OPTIONS_INIT",
                            opts->struct_size);
        memcpy(&o, opts, n);
    }
    db->flags = o.flags;
    db->readonly = (o.flags & CTM_OPEN_READONLY) != 0;
    *busy_ms = o.busy_timeout_ms;
    return site_key_init(db, o.key_path, o.site_seed);
}

int ctm_open(ctm_db **out, const char *path, const ctm_open_options *opts)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return ctm__err(CTM_EINVAL, "database path: missing");
    if (sodium_init() < 0)
        return ctm__err(CTM_ERROR, "libsodium could not be initialised");
    ctm_db *db = calloc(1, sizeof *db);
    if (db == NULL || (db->path = ctm__strdup(path)) == NULL) {
        free(db);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    ctm__stmts_init(db);
    ctm__hasher_init(db);
    ctm__txn_init(db);
    ctm__capture_init(db);
    ctm__session_init(db);
    int busy_ms = 0, version = 0;
    int rc = open_options(db, opts, &busy_ms);
    if (rc != CTM_OK)
        goto fail;
    unsigned sflags = db->readonly ? CTM__STORE_READONLY : 0;
    if (db->flags & CTM_OPEN_CREATE)
        sflags |= CTM__STORE_CREATE;
    rc = ctm__store_open(&db->store, path, sflags);
    if (rc == CTM_OK) {
        /* messages name the site without a password a connection string may hold */
        char *name = ctm__strdup(ctm__store_name(db->store));
        if (name == NULL) {
            rc = ctm__err(CTM_ENOMEM, "out of memory");
            goto fail;
        }
        free(db->path);
        db->path = name;
        path = db->path;
        ctm__store_busy_timeout(db->store, busy_ms);
        rc = ctm__store_schema_version(db->store, &version);
    }
    if (rc == CTM_OK && version > CTM_SCHEMA_VERSION)
        rc = ctm__err(CTM_EVERSION,
                      "%s: schema version %d comes from a newer libctm (this one knows %d)", path,
                      version, CTM_SCHEMA_VERSION);
    if (rc == CTM_OK && version == 0 && !(db->flags & CTM_OPEN_CREATE))
        rc = ctm__err(CTM_ENOTDB, "%s: empty %s, not a libctm database (create it with init)",
                      path, ctm__store_engine(db->store) == CTM__ENGINE_SQLITE ? "file" : "database");
    db->schema_version = version;
    if (rc == CTM_OK)
        rc = migrate(db, version);
    if (rc != CTM_OK)
        goto fail;
    *out = db;
    return CTM_OK;
fail:
    ctm_close(db);
    return rc;
}

void ctm_close(ctm_db *db)
{
    if (db == NULL)
        return;
    ctm__session_free(db);
    if (db->store != NULL) {
        ctm__hasher_free(db);
        ctm__store_rollback(db->store);
        ctm__stmts_free(db);
        ctm__capture_free(db);
        ctm__store_close(db->store);
    }
    ctm__txn_free(db);
    site_key_free(db);
    free(db->path);
    free(db);
}

int ctm__site_info(ctm_db *db, char **origin, uint8_t pub[32])
{
    if (db->site.origin == NULL) {
        ctm__st *st = NULL;
        int rc = ctm__st_prepare(db->store, &st, "SELECT origin, public_key FROM site WHERE id = 1");
        if (rc != CTM_OK)
            return ctm__store_fail(rc, "reading the site");
        rc = ctm__st_step(st);
        if (rc != CTM_ROW || (int)ctm__st_bytes(st, 1) != 32) {
            ctm__st_finalize(st);
            if (rc == CTM_ROW || rc == CTM_OK)
                return ctm__err(CTM_EMISUSE, "%s: the site is not initialised (run init first)",
                                db->path);
            return ctm__store_fail(rc, "reading the site");
        }
        db->site.origin = ctm__strdup(ctm__st_text(st, 0));
        memcpy(db->site.pub, ctm__st_blob(st, 1), 32);
        ctm__st_finalize(st);
        if (db->site.origin == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (origin != NULL)
        *origin = db->site.origin;
    if (pub != NULL)
        memcpy(pub, db->site.pub, 32);
    return CTM_OK;
}

static void pending_key_path(const char *key_path, char *out, size_t len)
{
    snprintf(out, len, "%s.pending", key_path);
}

/* Init writes the key as "<key>.pending" and renames it once the site is committed.  A site whose
 * key is still pending was interrupted between the two: finish the rename. */
static int no_key_file(void)
{
    return ctm__err(CTM_EIO, "site key: a site on a server has no default key file; name one "
                             "(ctm_open_options.key_path, ctm --site-key FILE or CTM_SITE_KEY) "
                             "or supply the seed (site_seed)");
}

static void finish_pending_key(ctm_db *db)
{
    char pending[4200];
    pending_key_path(db->site.key_path, pending, sizeof pending);
    if (access(db->site.key_path, F_OK) != 0 && errno == ENOENT && access(pending, F_OK) == 0)
        ctm__commit_key_file(db->site.key_path);
}

/* The key file holds one line: "libctm-site-key-v1 <base64 seed>". */
static int read_key_file(ctm_db *db, unsigned char *seed)
{
    if (db->site.key_path == NULL)
        return no_key_file();
    finish_pending_key(db);
    int fd = open(db->site.key_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctm__err(CTM_EIO, "site key file %s: %s", db->site.key_path, strerror(errno));
    struct stat stbuf;
    if (fstat(fd, &stbuf) != 0 || (stbuf.st_mode & 077) != 0) {
        close(fd);
        return ctm__err(CTM_EIO, "site key file %s: readable by others (mode %03o); chmod 600 it",
                        db->site.key_path, (unsigned)(stbuf.st_mode & 0777));
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    static const char prefix[] = "libctm-site-key-v1 ";
    size_t plen = sizeof prefix - 1, seedlen = 0;
    if (n <= (ssize_t)plen || memcmp(buf, prefix, plen) != 0) {
        sodium_memzero(buf, sizeof buf);
        return ctm__err(CTM_EIO, "site key file %s: not a libctm key file", db->site.key_path);
    }
    buf[n] = '\0';
    int bad = sodium_base642bin(seed, crypto_sign_SEEDBYTES, buf + plen, (size_t)n - plen, "\n",
                                &seedlen, NULL, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(buf, sizeof buf);
    if (bad != 0 || seedlen != crypto_sign_SEEDBYTES)
        return ctm__err(CTM_EIO, "site key file %s: damaged key", db->site.key_path);
    return CTM_OK;
}

int ctm__write_key_file(const char *path, const unsigned char *seed)
{
    if (path == NULL)
        return no_key_file();
    if (access(path, F_OK) == 0)
        return ctm__err(CTM_EEXISTS, "site key file %s: exists (refusing to overwrite a key)", path);
    char pending[4200];
    pending_key_path(path, pending, sizeof pending);
    /* A pending key left by an init that never committed belongs to no site. */
    unlink(pending);
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, seed, crypto_sign_SEEDBYTES, sodium_base64_VARIANT_ORIGINAL);
    int fd = open(pending, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        sodium_memzero(b64, sizeof b64);
        return ctm__err(CTM_EIO, "site key file %s: %s", pending, strerror(e));
    }
    char line[128];
    int len = snprintf(line, sizeof line, "libctm-site-key-v1 %s\n", b64);
    sodium_memzero(b64, sizeof b64);
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    sodium_memzero(line, sizeof line);
    if (close(fd) != 0)
        ok = 0;
    if (!ok) {
        unlink(pending);
        return ctm__err(CTM_EIO, "site key file %s: cannot write: %s", pending, strerror(errno));
    }
    return CTM_OK;
}

void ctm__drop_key_file(const char *path)
{
    char pending[4200];
    pending_key_path(path, pending, sizeof pending);
    unlink(pending);
}

int ctm__commit_key_file(const char *path)
{
    char pending[4200];
    pending_key_path(path, pending, sizeof pending);
    if (rename(pending, path) != 0)
        return ctm__err(CTM_EIO, "site key file %s: cannot put it in place: %s", path,
                        strerror(errno));
    /* make the rename itself durable */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return CTM_OK;
}

int ctm__site_key(ctm_db *db, const unsigned char **sk)
{
    if (db->site.sk == NULL) {
        uint8_t pub[32], derived[32];
        int rc = ctm__site_info(db, NULL, pub);
        if (rc != CTM_OK)
            return rc;
        unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
        unsigned char *skbuf = sodium_malloc(crypto_sign_SECRETKEYBYTES);
        if (seed == NULL || skbuf == NULL) {
            sodium_free(seed);
            sodium_free(skbuf);
            return ctm__err(CTM_ENOMEM, "out of memory");
        }
        if (db->site.seed != NULL)
            memcpy(seed, db->site.seed, crypto_sign_SEEDBYTES);
        else
            rc = read_key_file(db, seed);
        if (rc == CTM_OK) {
            crypto_sign_seed_keypair(derived, skbuf, seed);
            if (sodium_memcmp(derived, pub, 32) != 0)
                rc = ctm__err(CTM_EIO, "site key %s does not belong to this database's site",
                              db->site.seed != NULL ? "(supplied by the application)" : db->site.key_path);
        }
        sodium_free(seed);
        if (rc != CTM_OK) {
            sodium_free(skbuf);
            return rc;
        }
        db->site.sk = skbuf;
    }
    *sk = db->site.sk;
    return CTM_OK;
}

int ctm_migrate_to(ctm_db *db, const char *target)
{
    ctm__clear_error();
    int rc = ctm__require_user(db, CTM_ROLEBIT_ADMIN, "migrate");
    if (rc != CTM_OK)
        return rc;
    /* the copy holds every kit's arm, in a database the caller chooses and can read */
    if (!ctm__blind_sees_all(db))
        return ctm__err(CTM_EBLINDED, "migrate: user '%s' is blinded; the copy would hold the "
                                      "treatment arms", db->session.user);
    if (target == NULL || target[0] == '\0')
        return ctm__err(CTM_EINVAL, "migrate: target: missing");
    if (strcmp(target, db->path) == 0)
        return ctm__err(CTM_EINVAL, "migrate: target: the site's own database");
    if (db->schema_version != CTM_SCHEMA_VERSION)
        return ctm__err(CTM_EVERSION, "migrate: %s is at schema version %d; open it for writing "
                                      "once to bring it to version %d", db->path,
                        db->schema_version, CTM_SCHEMA_VERSION);
    if (ctm__store_in_transaction(db->store))
        return ctm__err(CTM_EMISUSE, "migrate: a batch is open on the handle");
    /* A file target must be new: copying into an existing file could meet another's site. */
    if (!ctm__store_is_server(target) && access(target, F_OK) == 0)
        return ctm__err(CTM_EEXISTS, "migrate: %s: exists (the target must be a new file)", target);
    ctm__store *dst = NULL;
    int version = 0;
    rc = ctm__store_open(&dst, target, CTM__STORE_CREATE);
    if (rc == CTM_OK)
        rc = ctm__store_schema_version(dst, &version);
    if (rc == CTM_OK && version != 0)
        rc = ctm__err(CTM_EEXISTS, "migrate: %s: already holds a libctm site", ctm__store_name(dst));
    int src_open = 0, dst_open = 0;
    /* db's write lock first: no writer changes the site while it is copied */
    if (rc == CTM_OK && (rc = ctm__store_begin(db->store)) == CTM_OK)
        src_open = 1;
    if (rc == CTM_OK && (rc = ctm__store_begin(dst)) == CTM_OK)
        dst_open = 1;
    if (rc == CTM_OK)
        rc = ctm__schema_apply(dst, 0, CTM_SCHEMA_VERSION);
    if (rc == CTM_OK)
        rc = ctm__store_copy(db->store, dst);
    if (rc == CTM_OK)
        rc = ctm__store_commit(dst);
    else if (dst_open)
        ctm__store_rollback(dst);
    if (src_open)
        ctm__store_rollback(db->store);
    int created = dst != NULL && !ctm__store_is_server(target);
    ctm__store_close(dst);
    if (rc != CTM_OK) {
        if (created) {
            /* a file this call created and left empty */
            char side[4200];
            unlink(target);
            snprintf(side, sizeof side, "%s-wal", target);
            unlink(side);
            snprintf(side, sizeof side, "%s-shm", target);
            unlink(side);
        }
        return rc == CTM_EEXISTS || rc == CTM_EINVAL || rc == CTM_ENOTDB || rc == CTM_EVERSION
                   ? rc
                   : ctm__store_fail(rc, "migrate");
    }
    return CTM_OK;
}
