/* store.c - opening a database: pragmas, the schema and its migrations, the site key. */
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

/* Each migration takes the schema from version i to i + 1.  Shipped migrations never change:
 * a new version appends one.  verify builds its replay copy from the same list, so the replay
 * schema is always the live schema. */
static const char *const migrations[] = {
    /* 0 -> 1: site, users and the ledger */
    "CREATE TABLE site("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  name TEXT NOT NULL,"
    "  origin TEXT NOT NULL,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  printed_name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','pharmacist','technician','investigator','monitor')),"
    "  unblinded INTEGER NOT NULL CHECK (unblinded IN (0, 1)),"
    "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    "  failed_logins INTEGER NOT NULL DEFAULT 0,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE credentials("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id),"
    "  password_hash TEXT NOT NULL,"
    "  key_salt BLOB NOT NULL,"
    "  key_nonce BLOB NOT NULL,"
    "  sealed_key BLOB NOT NULL,"
    "  opslimit INTEGER NOT NULL,"
    "  memlimit INTEGER NOT NULL);"
    "CREATE TABLE ledger("
    "  seq INTEGER PRIMARY KEY,"
    "  entry BLOB NOT NULL,"
    /* The signed checkpoint of the tree of seq + 1 entries, on each transaction's last entry,
     * and the tree's compact frontier on the newest entry only: one row, one page per commit. */
    "  checkpoint TEXT,"
    "  frontier BLOB);"
    "CREATE VIEW checkpoints AS"
    "  SELECT seq + 1 AS size, checkpoint AS note FROM ledger WHERE checkpoint IS NOT NULL;",
    /* 1 -> 2: trials, storage, stock and receipt.  Temperatures in milli-degrees Celsius, dates
     * as "YYYY-MM-DD", times as UTC microseconds. */
    "CREATE TABLE trials("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  title TEXT NOT NULL,"
    "  sponsor TEXT NOT NULL,"
    "  blinded INTEGER NOT NULL CHECK (blinded IN (0, 1)),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE arms("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  code TEXT NOT NULL,"
    "  ratio INTEGER NOT NULL CHECK (ratio BETWEEN 1 AND 100),"
    "  UNIQUE (trial_id, code));"
    "CREATE TABLE kit_types("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  code TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  dose_form TEXT,"
    "  strength TEXT,"
    "  units INTEGER NOT NULL CHECK (units > 0),"
    "  storage_min_mc INTEGER NOT NULL,"
    "  storage_max_mc INTEGER NOT NULL,"
    "  dnd_days INTEGER NOT NULL CHECK (dnd_days >= 0),"
    "  budget_minutes INTEGER,"
    "  budget_max_mc INTEGER,"
    "  dispensing_days INTEGER,"
    "  UNIQUE (trial_id, code));"
    "CREATE TABLE locations("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  min_mc INTEGER NOT NULL,"
    "  max_mc INTEGER NOT NULL);"
    "CREATE TABLE lots("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
    "  batch TEXT NOT NULL,"
    "  expiry TEXT NOT NULL,"
    "  gtin TEXT,"
    "  UNIQUE (trial_id, batch));"
    "CREATE TABLE shipments("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  number TEXT NOT NULL,"
    "  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),"
    "  origin TEXT,"
    "  destination TEXT,"
    "  date_received TEXT,"
    "  registered_us INTEGER NOT NULL,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  excursion INTEGER NOT NULL DEFAULT 0 CHECK (excursion IN (0, 1)),"
    "  status TEXT NOT NULL CHECK (status IN ('receiving', 'confirmed', 'sent')),"
    "  UNIQUE (direction, number));"
    "CREATE TABLE kits("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_number TEXT NOT NULL,"
    "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
    "  lot_id INTEGER NOT NULL REFERENCES lots(id),"
    "  arm TEXT,"
    "  status TEXT NOT NULL,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  units INTEGER NOT NULL CHECK (units >= 0),"
    "  expiry TEXT,"
    "  gtin TEXT,"
    "  serial TEXT,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  checked INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (trial_id, kit_number));"
    "CREATE INDEX kits_by_shipment ON kits(shipment_id);"
    "CREATE INDEX kits_by_status ON kits(status);"
    "CREATE TABLE kit_moves("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  from_location_id INTEGER REFERENCES locations(id),"
    "  to_location_id INTEGER REFERENCES locations(id),"
    "  moved_us INTEGER NOT NULL,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  reason TEXT);"
    "CREATE INDEX kit_moves_by_kit ON kit_moves(kit_id);"
    /* open-label bulk supply: units of a lot at a location, counted per lot, no kit numbers */
    "CREATE TABLE bulk_stock("
    "  id INTEGER PRIMARY KEY,"
    "  lot_id INTEGER NOT NULL REFERENCES lots(id),"
    "  location_id INTEGER NOT NULL REFERENCES locations(id),"
    "  units INTEGER NOT NULL CHECK (units >= 0),"
    "  UNIQUE (lot_id, location_id));"
    "CREATE TABLE discrepancies("
    "  id INTEGER PRIMARY KEY,"
    "  shipment_id INTEGER NOT NULL REFERENCES shipments(id),"
    "  kit_number TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN ('missing', 'extra', 'damaged', 'lot_mismatch',"
    "    'expiry_mismatch')),"
    "  detail TEXT NOT NULL,"
    "  recorded_us INTEGER NOT NULL,"
    "  recorded_by TEXT NOT NULL);",
    /* 2 -> 3 */
    /* Salted ledger entries (entry version 2) need no table change: opening an older site for
     * writing appends a ledger.upgrade entry in the same transaction (migrate()).  An account
     * whose password an administrator reset is one whose credentials hold no sealed key: no
     * column records it, since entries written before this version could not name one. */
    "",
};

int ctm__table_is_secret(const char *table)
{
    return strcmp(table, "credentials") == 0;
}

int ctm__exec(sqlite3 *sql, const char *sqltext, const char *doing)
{
    int rc = sqlite3_exec(sql, sqltext, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CTM_OK : ctm__sqlerr(sql, rc, doing);
}

_Static_assert(sizeof migrations / sizeof migrations[0] == CTM_SCHEMA_VERSION,
               "one migration per schema version");

/* Takes the schema from version `from` to version `to`. */
static int apply_migrations(sqlite3 *sql, int from, int to)
{
    for (int v = from; v < to; v++) {
        int rc = ctm__exec(sql, migrations[v], "schema migration");
        if (rc != CTM_OK)
            return rc;
    }
    char pragma[96];
    snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             CTM_APPLICATION_ID, to);
    return ctm__exec(sql, pragma, "schema version");
}

int ctm__schema_create_like(sqlite3 *sql, ctm_db *db)
{
    int64_t version = 0;
    sqlite3_stmt *st = NULL;
    int rc = ctm__prepare(db, &st, "PRAGMA user_version");
    if (rc != CTM_OK)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* ctm_open() let in nothing else; a handle's file changed under it is verified as it is now */
    if (version < 1 || version > CTM_SCHEMA_VERSION)
        return ctm__err(CTM_EVERSION, "%s: schema version %lld is unknown to this libctm",
                        db->path, (long long)version);
    return apply_migrations(sql, 0, (int)version);
}

/* A value as SQLite holds it, by storage class (audit-format.md 2.1). */
static void sql_value(sqlite3_value *sv, ctm__value *v)
{
    memset(v, 0, sizeof *v);
    switch (sqlite3_value_type(sv)) {
    case SQLITE_INTEGER:
        v->tag = CTM_V_INT;
        v->i = sqlite3_value_int64(sv);
        break;
    case SQLITE_FLOAT:
        v->tag = CTM_V_REAL;
        v->r = sqlite3_value_double(sv);
        break;
    case SQLITE_TEXT:
        v->tag = CTM_V_TEXT;
        v->p = sqlite3_value_text(sv);
        v->n = (uint32_t)sqlite3_value_bytes(sv);
        break;
    case SQLITE_BLOB:
        v->tag = CTM_V_BLOB;
        v->p = sqlite3_value_blob(sv);
        v->n = (uint32_t)sqlite3_value_bytes(sv);
        break;
    default:
        v->tag = CTM_V_NULL;
        break;
    }
}

static void digest_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    ctm__value v;
    sql_value(argv[0], &v);
    uint8_t d[32];
    ctm__value_digest(&v, d);
    sqlite3_result_blob(ctx, d, sizeof d, SQLITE_TRANSIENT);
}

/* ctm_canon(x): the canonical encoding of x; ctm_canon(x, 1): that of the DIGEST of x, as a
 * secret value is recorded.  Verification compares values by these bytes, never by SQL's
 * comparison, which would take INT 1 for REAL 1.0. */
static void canon_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    ctm__value v;
    uint8_t d[32];
    sql_value(argv[0], &v);
    if (argc == 2 && sqlite3_value_int(argv[1]) != 0) {
        ctm__value_digest(&v, d);
        v = (ctm__value){.tag = CTM_V_DIGEST, .p = d};
    }
    ctm__buf b;
    ctm__buf_init(&b);
    ctm__buf_value(&b, &v);
    if (b.oom)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_blob(ctx, b.p, (int)b.n, SQLITE_TRANSIENT);
    ctm__buf_free(&b);
}

int ctm__register_functions(sqlite3 *sql)
{
    int rc = sqlite3_create_function(sql, "ctm_digest", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, digest_fn, NULL, NULL);
    for (int argc = 1; rc == SQLITE_OK && argc <= 2; argc++)
        rc = sqlite3_create_function(sql, "ctm_canon", argc, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, canon_fn, NULL, NULL);
    return rc == SQLITE_OK ? CTM_OK : ctm__sqlerr(sql, rc, "registering SQL functions");
}

static int query_int(sqlite3 *sql, const char *q, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(sql, q, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Decide what the file is before touching it: libctm (maybe older), empty, or something else. */
static int check_identity(ctm_db *db, int *needs_schema, int *version)
{
    int64_t app = 0, ver = 0, objects = 0;
    int rc = query_int(db->sql, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = query_int(db->sql, "PRAGMA user_version", &ver);
    if (rc == SQLITE_OK)
        rc = query_int(db->sql, "SELECT count(*) FROM sqlite_master", &objects);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return ctm__err(CTM_ENOTDB, "%s: not a libctm database (not an SQLite file)", db->path);
    if (rc != SQLITE_OK)
        return ctm__sqlerr(db->sql, rc, db->path);
    *needs_schema = 0;
    *version = (int)ver;
    if (app == 0 && ver == 0 && objects == 0) {
        if (!(db->flags & CTM_OPEN_CREATE))
            return ctm__err(CTM_ENOTDB, "%s: empty file, not a libctm database (create it with init)",
                            db->path);
        *needs_schema = 1;
        return CTM_OK;
    }
    if (app != CTM_APPLICATION_ID)
        return ctm__err(CTM_ENOTDB, "%s: not a libctm database (application id 0x%08llx)", db->path,
                        (unsigned long long)app);
    if (ver > CTM_SCHEMA_VERSION)
        return ctm__err(CTM_EVERSION,
                        "%s: schema version %lld comes from a newer libctm (this one knows %d)",
                        db->path, (long long)ver, CTM_SCHEMA_VERSION);
    return CTM_OK;
}

static int configure(ctm_db *db, int busy_ms)
{
    sqlite3_busy_timeout(db->sql, busy_ms > 0 ? busy_ms : 5000);
    sqlite3_extended_result_codes(db->sql, 1);
    int rc = CTM_OK;
    if (!db->readonly)
        rc = ctm__exec(db->sql, "PRAGMA journal_mode = WAL", "setting WAL mode");
    if (rc == CTM_OK)
        rc = ctm__exec(db->sql, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                       "setting pragmas");
    if (rc == CTM_OK)
        rc = ctm__register_functions(db->sql);
    return rc;
}

/* The first schema version whose entries are salted (entry version 2). */
#define CTM_SCHEMA_SALTED 3

static int migrate(ctm_db *db, int needs_schema, int version)
{
    if (!needs_schema && version == CTM_SCHEMA_VERSION)
        return CTM_OK;
    /* A read-only handle cannot migrate: it reads an older site as it is (its ledger, its
     * checkpoints, verification).  Schema version 3 added no table or column, so every read
     * works on versions 1 and 2 alike; a version that adds some must say how reads meet their
     * absence. */
    if (db->readonly)
        return CTM_OK;
    int rc = ctm__exec(db->sql, "BEGIN IMMEDIATE", "schema migration");
    if (rc != CTM_OK)
        return rc;
    /* Another process may have migrated between our look and the lock. */
    int64_t now = 0;
    if (query_int(db->sql, "PRAGMA user_version", &now) == SQLITE_OK && now >= CTM_SCHEMA_VERSION)
        return ctm__exec(db->sql, "COMMIT", "schema migration");
    rc = apply_migrations(db->sql, (int)now, CTM_SCHEMA_VERSION);
    /* A site with unsalted entries gets a salted one on top, signed into a new checkpoint, so
     * that the newest root no longer covers only entries whose hashes can be tested against
     * guessed arms.  Without the site key that cannot be signed: the open fails and the site
     * stays as it was. */
    if (rc == CTM_OK && now < CTM_SCHEMA_SALTED)
        rc = ctm__ledger_upgrade(db, (int)now, CTM_SCHEMA_VERSION);
    if (rc == CTM_OK)
        return ctm__exec(db->sql, "COMMIT", "schema migration");
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return rc;
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
    if (o.key_path != NULL)
        db->key_path = ctm__strdup(o.key_path);
    else if ((db->key_path = malloc(strlen(db->path) + 5)) != NULL)
        sprintf(db->key_path, "%s.key", db->path);
    if (db->key_path == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    if (o.site_seed != NULL) {
        db->site_seed = sodium_malloc(crypto_sign_SEEDBYTES);
        if (db->site_seed == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        memcpy(db->site_seed, o.site_seed, crypto_sign_SEEDBYTES);
    }
    return CTM_OK;
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
    int busy_ms = 0, needs_schema = 0, version = 0;
    int rc = open_options(db, opts, &busy_ms);
    if (rc != CTM_OK)
        goto fail;
    int flags = db->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!db->readonly && (db->flags & CTM_OPEN_CREATE))
        flags |= SQLITE_OPEN_CREATE;
    /* One handle is used by one thread at a time (ctm.h), so SQLite need not lock each call. */
    int src = sqlite3_open_v2(path, &db->sql, flags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = ctm__err(CTM_EIO, "%s: cannot open: %s%s", path,
                      db->sql != NULL ? sqlite3_errmsg(db->sql) : sqlite3_errstr(src),
                      (flags & SQLITE_OPEN_CREATE) ? "" : " (no such database?)");
        goto fail;
    }
    rc = check_identity(db, &needs_schema, &version);
    /* A new database holds password hashes and sealed keys: private to its owner, like the
     * key file.  SQLite gives its -wal and -shm files the database file's mode. */
    if (rc == CTM_OK && needs_schema && chmod(path, 0600) != 0)
        rc = ctm__err(CTM_EIO, "%s: cannot make the new database private: %s", path, strerror(errno));
    if (rc == CTM_OK)
        rc = configure(db, busy_ms);
    if (rc == CTM_OK)
        rc = migrate(db, needs_schema, version);
    if (rc != CTM_OK)
        goto fail;
    *out = db;
    return CTM_OK;
fail:
    ctm_close(db);
    return rc;
}

static const char *const stmt_sql[CTM_ST_COUNT] = {
    [CTM_ST_BEGIN] = "BEGIN IMMEDIATE",
    [CTM_ST_COMMIT] = "COMMIT",
    [CTM_ST_SAVEPOINT] = "SAVEPOINT ctm_action",
    [CTM_ST_RELEASE] = "RELEASE ctm_action",
    [CTM_ST_LEDGER_INSERT] = "INSERT INTO ledger(seq, entry) VALUES (?1, ?2)",
    [CTM_ST_LEDGER_TAIL] = "SELECT seq, frontier FROM ledger ORDER BY seq DESC LIMIT 1",
    [CTM_ST_LEDGER_CLEAR_FRONTIER] = "UPDATE ledger SET frontier = NULL WHERE seq = ?1",
    [CTM_ST_LEDGER_SEAL] = "UPDATE ledger SET checkpoint = ?2, frontier = ?3 WHERE seq = ?1",
    [CTM_ST_LEDGER_INSERT_SEALED] =
        "INSERT INTO ledger(seq, entry, checkpoint, frontier) VALUES (?1, ?2, ?3, ?4)",
    [CTM_ST_USER_CHECK] = ("SELECT u.disabled, u.role, u.unblinded, u.public_key,"
                           " length(c.sealed_key) = 0 FROM users u"
                           " JOIN credentials c ON c.user_id = u.id WHERE u.id = ?1"),
    [CTM_ST_COLUMNS] = "SELECT name, pk FROM pragma_table_info(?1, 'main') ORDER BY cid",
};

int ctm__prepare(ctm_db *db, sqlite3_stmt **st, const char *sql)
{
    int rc = sqlite3_prepare_v2(db->sql, sql, -1, st, NULL);
    return rc == SQLITE_OK ? CTM_OK : ctm__sqlerr(db->sql, rc, "preparing a statement");
}

int ctm__step_done(ctm_db *db, sqlite3_stmt *st, const char *doing)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? CTM_OK : ctm__sqlerr(db->sql, rc, doing);
}

int ctm__stmt(ctm_db *db, enum ctm__stmt_id id, sqlite3_stmt **st)
{
    if (db->stmts[id] == NULL) {
        int rc = sqlite3_prepare_v3(db->sql, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &db->stmts[id], NULL);
        if (rc != SQLITE_OK)
            return ctm__sqlerr(db->sql, rc, stmt_sql[id]);
    } else {
        sqlite3_reset(db->stmts[id]);
        sqlite3_clear_bindings(db->stmts[id]);
    }
    *st = db->stmts[id];
    return CTM_OK;
}

int ctm__step(ctm_db *db, sqlite3_stmt *st, const char *doing)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CTM_OK : ctm__sqlerr(db->sql, rc, doing);
}

void ctm_close(ctm_db *db)
{
    if (db == NULL)
        return;
    ctm_logout(db);
    if (db->sql != NULL) {
        ctm__hasher_abort(db);
        if (db->tx_open || db->batch)
            sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
        for (int i = 0; i < CTM_ST_COUNT; i++)
            sqlite3_finalize(db->stmts[i]);
        ctm__capture_free(db);
        /* close_v2: result sets still open keep the connection alive until they are freed. */
        sqlite3_close_v2(db->sql);
    }
    sodium_memzero(db->salt_pool, sizeof db->salt_pool);
    sodium_free(db->site_seed);
    sodium_free(db->site_sk);
    free(db->origin);
    free(db->path);
    free(db->key_path);
    free(db);
}

int ctm__site_info(ctm_db *db, char **origin, uint8_t pub[32])
{
    if (db->origin == NULL) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db->sql, "SELECT origin, public_key FROM site WHERE id = 1",
                                    -1, &st, NULL);
        if (rc != SQLITE_OK)
            return ctm__sqlerr(db->sql, rc, "reading the site");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 1) != 32) {
            sqlite3_finalize(st);
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                return ctm__err(CTM_EMISUSE, "%s: the site is not initialised (run init first)",
                                db->path);
            return ctm__sqlerr(db->sql, rc, "reading the site");
        }
        db->origin = ctm__strdup((const char *)sqlite3_column_text(st, 0));
        memcpy(db->site_pub, sqlite3_column_blob(st, 1), 32);
        sqlite3_finalize(st);
        if (db->origin == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (origin != NULL)
        *origin = db->origin;
    if (pub != NULL)
        memcpy(pub, db->site_pub, 32);
    return CTM_OK;
}

static void pending_key_path(const char *key_path, char *out, size_t len)
{
    snprintf(out, len, "%s.pending", key_path);
}

/* Init writes the key as "<key>.pending" and renames it once the site is committed.  A site whose
 * key is still pending was interrupted between the two: finish the rename. */
static void finish_pending_key(ctm_db *db)
{
    char pending[4200];
    pending_key_path(db->key_path, pending, sizeof pending);
    if (access(db->key_path, F_OK) != 0 && errno == ENOENT && access(pending, F_OK) == 0)
        ctm__commit_key_file(db->key_path);
}

/* The key file holds one line: "libctm-site-key-v1 <base64 seed>". */
static int read_key_file(ctm_db *db, unsigned char *seed)
{
    finish_pending_key(db);
    int fd = open(db->key_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctm__err(CTM_EIO, "site key file %s: %s", db->key_path, strerror(errno));
    struct stat stbuf;
    if (fstat(fd, &stbuf) != 0 || (stbuf.st_mode & 077) != 0) {
        close(fd);
        return ctm__err(CTM_EIO, "site key file %s: readable by others (mode %03o); chmod 600 it",
                        db->key_path, (unsigned)(stbuf.st_mode & 0777));
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    static const char prefix[] = "libctm-site-key-v1 ";
    size_t plen = sizeof prefix - 1, seedlen = 0;
    if (n <= (ssize_t)plen || memcmp(buf, prefix, plen) != 0) {
        sodium_memzero(buf, sizeof buf);
        return ctm__err(CTM_EIO, "site key file %s: not a libctm key file", db->key_path);
    }
    buf[n] = '\0';
    int bad = sodium_base642bin(seed, crypto_sign_SEEDBYTES, buf + plen, (size_t)n - plen, "\n",
                                &seedlen, NULL, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(buf, sizeof buf);
    if (bad != 0 || seedlen != crypto_sign_SEEDBYTES)
        return ctm__err(CTM_EIO, "site key file %s: damaged key", db->key_path);
    return CTM_OK;
}

int ctm__write_key_file(const char *path, const unsigned char *seed)
{
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
    if (db->site_sk == NULL) {
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
        if (db->site_seed != NULL)
            memcpy(seed, db->site_seed, crypto_sign_SEEDBYTES);
        else
            rc = read_key_file(db, seed);
        if (rc == CTM_OK) {
            crypto_sign_seed_keypair(derived, skbuf, seed);
            if (sodium_memcmp(derived, pub, 32) != 0)
                rc = ctm__err(CTM_EIO, "site key %s does not belong to this database's site",
                              db->site_seed != NULL ? "(supplied by the application)" : db->key_path);
        }
        sodium_free(seed);
        if (rc != CTM_OK) {
            sodium_free(skbuf);
            return rc;
        }
        db->site_sk = skbuf;
    }
    *sk = db->site_sk;
    return CTM_OK;
}
