/*
 * ctm.h - the public interface of libctm, the clinical trial medication library.
 *
 * libctm manages investigational medicinal products at a trial site pharmacy and keeps a signed,
 * tamper-evident audit ledger of every change.  This header is the whole API and its reference manual:
 * each function is documented where it is declared.
 *
 * Conventions
 *   - Every function that can fail returns an int status: CTM_OK (0) on success, a negative CTM_E*
 *     code on failure.  Codes never change meaning.  ctm_errmsg() gives a message for the calling
 *     thread that names the offending field, line or value; ctm_errstr() gives static text per code.
 *   - Out-parameters come first.  What comes back through a ** out-parameter belongs to the caller
 *     and is released with the matching _free function (ctm_free for strings).
 *   - Handles are opaque.  ctm_close(NULL), ctm_query_free(NULL) and ctm_free(NULL) do nothing.
 *   - One handle is used by one thread at a time; distinct handles may be used concurrently.
 *   - Times are UTC.  Inside: microseconds since 1970-01-01T00:00:00Z.  At the edges: ISO 8601,
 *     e.g. "2026-11-23T06:01:02.123456Z".
 *   - Every change of state is one SQLite transaction that also appends its entry to the ledger and
 *     signs a new checkpoint.  On any failure the transaction is rolled back and nothing changes.
 *
 * Copyright (c) libctm authors.  MIT licence: see LICENSE.
 */
#ifndef CTM_H
#define CTM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions and export
 * ------------------------------------------------------------------------------------------- */

#define CTM_VERSION_MAJOR 0
#define CTM_VERSION_MINOR 1
#define CTM_VERSION_PATCH 0
#define CTM_VERSION_STRING "0.1.0"
/** A single number that grows with each release: major * 10000 + minor * 100 + patch. */
#define CTM_VERSION_NUMBER (CTM_VERSION_MAJOR * 10000 + CTM_VERSION_MINOR * 100 + CTM_VERSION_PATCH)

#if defined(CTM_BUILDING_LIBRARY) && defined(__GNUC__)
#define CTM_API __attribute__((visibility("default")))
#else
#define CTM_API
#endif

#if defined(__GNUC__) && !defined(CTM_NO_WARN_UNUSED)
#define CTM_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CTM_WARN_UNUSED
#endif

/** The version of the library in use at run time ("0.1.0"); compare with CTM_VERSION_STRING. */
CTM_API const char *ctm_version(void);
/** The run-time twin of CTM_VERSION_NUMBER. */
CTM_API int ctm_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes.  The values are part of the ABI and never change.
 * ------------------------------------------------------------------------------------------- */

#define CTM_OK 0          /* success */
#define CTM_ROW 100       /* ctm_query_next(): a row is ready */
#define CTM_DONE 101      /* ctm_query_next(): no more rows */

#define CTM_ERROR -1      /* internal or unexpected failure (SQLite, file system, crypto) */
#define CTM_EINVAL -2     /* bad input: a name, value or argument is not acceptable */
#define CTM_ENOMEM -3     /* out of memory */
#define CTM_EIO -4        /* a file could not be read or written (database, key file) */
#define CTM_ENOTDB -5     /* the file is not a libctm database */
#define CTM_EVERSION -6   /* the database comes from a newer libctm */
#define CTM_EAUTH -7      /* authentication failed: unknown user or wrong password */
#define CTM_EDENIED -8    /* the user's role does not allow this action */
#define CTM_EBLINDED -9   /* the action would reveal blinded information to a blinded user */
#define CTM_ENOTFOUND -10 /* the named record does not exist */
#define CTM_EEXISTS -11   /* a record with that name or number already exists */
#define CTM_ERULE -12     /* a rule of the trade refuses the action in the current state */
#define CTM_EINTEGRITY -13 /* verification failed: the ledger or the tables were altered */
#define CTM_EBUSY -14     /* the database is locked by another writer beyond the busy timeout */
#define CTM_EMISUSE -15   /* the API was used out of order (no login, no site, closed handle) */
#define CTM_EDISABLED -16 /* the user account is disabled */

/** Static English text for a status code; never NULL. */
CTM_API const char *ctm_errstr(int code);

/**
 * The message of the last failure on the calling thread, naming what was wrong and where
 * ("user name: must be 1 to 64 characters, got 0").  Never NULL ("" when there was none).
 * The pointer is valid until the next libctm call on the same thread.
 */
CTM_API const char *ctm_errmsg(void);

/** The status code of the last failure on the calling thread (CTM_OK when there was none). */
CTM_API int ctm_errcode(void);

/** Free a string or buffer that libctm returned through an out-parameter.  NULL is fine. */
CTM_API void ctm_free(void *p);

/* ---------------------------------------------------------------------------------------------
 * Opening a database
 * ------------------------------------------------------------------------------------------- */

typedef struct ctm_db ctm_db;

#define CTM_OPEN_CREATE 0x1   /* create the file when it does not exist */
#define CTM_OPEN_READONLY 0x2 /* open for reading and verification only */

/**
 * Options for ctm_open().  Initialise with CTM_OPEN_OPTIONS_INIT; fields are only ever appended,
 * and struct_size tells the library which fields the caller knows.
 */
typedef struct ctm_open_options {
    size_t struct_size;          /* sizeof(ctm_open_options) */
    unsigned flags;              /* CTM_OPEN_* */
    const char *key_path;        /* site key file; NULL: "<database path>.key" beside the database */
    const unsigned char *site_seed; /* 32-byte Ed25519 seed supplied by the embedding application
                                       instead of a key file; NULL to use the key file.  Copied. */
    int busy_timeout_ms;         /* how long to wait for another writer; 0: 5000 ms */
} ctm_open_options;

#define CTM_OPEN_OPTIONS_INIT { sizeof(ctm_open_options), 0, NULL, NULL, 0 }

/**
 * Open (and with CTM_OPEN_CREATE, create) a libctm database.
 *
 * The file is put in WAL mode with synchronous=FULL and foreign keys on; pending schema migrations
 * are applied.  opts may be NULL for the defaults (no create).
 *
 * Errors: CTM_EINVAL (NULL path), CTM_EIO (no such file without CTM_OPEN_CREATE, unreadable),
 * CTM_ENOTDB (not SQLite, or SQLite but not libctm), CTM_EVERSION (written by a newer libctm).
 * On failure *out is NULL.  Close the handle with ctm_close().
 */
CTM_API CTM_WARN_UNUSED int ctm_open(ctm_db **out, const char *path, const ctm_open_options *opts);

/** Close a handle, wiping any key material it held.  NULL is fine. */
CTM_API void ctm_close(ctm_db *db);

/**
 * Initialise the site in a freshly created database: its name, its Ed25519 signing key and the
 * first administrator.  The signing key comes from opts->site_seed if ctm_open() was given one,
 * otherwise a new key is generated and written to the key file (mode 0600; the call refuses to
 * overwrite an existing key file).  The first ledger entry ("site.init") records all of this.
 * On success the administrator is logged in on this handle.
 *
 * site_name: 1-200 printable characters.  origin: the checkpoint origin line, 1-128 characters
 * of [A-Za-z0-9._/:-], or NULL to derive "libctm/<site name slug>".  admin_user: 1-64 characters of
 * [A-Za-z0-9._@-].  printed_name: 1-200 printable characters.  password: 8-1024 bytes.
 *
 * Errors: CTM_EINVAL (a field, named in the message), CTM_EEXISTS (site already initialised or key
 * file exists), CTM_EIO (key file cannot be written), CTM_EMISUSE (read-only handle).
 */
CTM_API CTM_WARN_UNUSED int ctm_init(ctm_db *db, const char *site_name, const char *origin,
                                     const char *admin_user, const char *printed_name,
                                     const char *password);

/* ---------------------------------------------------------------------------------------------
 * Users, roles and sessions
 *
 * Roles (as text): "admin", "pharmacist", "technician", "investigator", "monitor".
 * Each user has an Ed25519 key for e-signatures, sealed with the password (Argon2id +
 * XSalsa20-Poly1305); the password itself is kept as an Argon2id hash.  A handle has at most one
 * logged-in user, who is the acting user of every write made through it.
 * ------------------------------------------------------------------------------------------- */

/**
 * Log a user in on this handle (the two components of the first signing of a session).
 * Unseals the user's signing key into protected memory until ctm_logout() or ctm_close().
 * A wrong password or unknown user is recorded in the ledger ("auth.failed"); the fifth
 * consecutive failure also disables the account (that entry carries the parameter "locked").
 * A successful login after failures resets the count ("auth.reset").  Refused while a batch is
 * open on the handle (CTM_EMISUSE).  A failed login leaves nobody logged in.
 * Errors: CTM_EAUTH (unknown user or wrong password), CTM_EDISABLED (right password, disabled
 * account), CTM_EINVAL, CTM_EMISUSE, CTM_EINTEGRITY (the sealed key does not open: the credentials
 * were altered).
 */
CTM_API CTM_WARN_UNUSED int ctm_login(ctm_db *db, const char *user, const char *password);

/** Forget the logged-in user and wipe the unsealed key.  Harmless when nobody is logged in. */
CTM_API void ctm_logout(ctm_db *db);

/**
 * The logged-in user's name, or NULL when nobody is logged in.  Borrowed: valid until the next
 * ctm_login()/ctm_logout()/ctm_close() on the handle.
 */
CTM_API const char *ctm_current_user(const ctm_db *db);

/**
 * Add a user (admins only).  unblinded: non-zero lets the user see treatment arms.  printed_name:
 * NULL uses the user name.  Audited as "user.add"; the entry carries the admin's e-signature with
 * the meaning "authorized account change".
 * Errors: CTM_EINVAL, CTM_EEXISTS, CTM_EDENIED, CTM_EMISUSE (no login).
 */
CTM_API CTM_WARN_UNUSED int ctm_user_add(ctm_db *db, const char *user, const char *role,
                                         int unblinded, const char *printed_name,
                                         const char *password);

/**
 * Disable a user (admins only; not oneself); reason is mandatory.  Audited "user.disable", e-signed
 * "authorized account change".  Errors: CTM_EDENIED, CTM_EINVAL (name, reason), CTM_ENOTFOUND,
 * CTM_ERULE (oneself, or already disabled), CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_disable(ctm_db *db, const char *user, const char *reason);

/**
 * Re-enable a user (admins only); reason is mandatory; the failed-login count starts again.
 * Audited "user.enable", e-signed.  Errors: CTM_EDENIED, CTM_EINVAL, CTM_ENOTFOUND, CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_enable(ctm_db *db, const char *user, const char *reason);

/**
 * Change a user's role and unblinded flag (admins only; reason mandatory).  Audited "user.role",
 * e-signed.  Errors: CTM_EDENIED, CTM_EINVAL, CTM_ENOTFOUND, CTM_ERULE (the last enabled
 * administrator would lose the role), CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_set_role(ctm_db *db, const char *user, const char *role,
                                              int unblinded, const char *reason);

/**
 * Change a password.  For oneself (user NULL or the logged-in user), the signing key is re-sealed
 * with the new password and stays the same.  An admin resetting another user's password gives that
 * user a new signing key (earlier signatures stay verifiable: the ledger keeps the old key).
 * Audited "user.passwd".  Errors: CTM_EINVAL, CTM_EDENIED, CTM_ENOTFOUND, CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_passwd(ctm_db *db, const char *user, const char *new_password);

/* ---------------------------------------------------------------------------------------------
 * Result sets.  Every listing and report is a ctm_query: step with ctm_query_next(), read columns
 * by index, free with ctm_query_free().  Values are NULL, integer, real or text.
 * ------------------------------------------------------------------------------------------- */

typedef struct ctm_query ctm_query;

#define CTM_NULL 0
#define CTM_INTEGER 1
#define CTM_REAL 2
#define CTM_TEXT 3

/** Advance to the next row: CTM_ROW, CTM_DONE, or a negative error. */
CTM_API CTM_WARN_UNUSED int ctm_query_next(ctm_query *q);
/** Number of columns (fixed for the life of the query). */
CTM_API int ctm_query_column_count(const ctm_query *q);
/** Column name; borrowed, valid until ctm_query_free().  NULL for an index out of range. */
CTM_API const char *ctm_query_column_name(const ctm_query *q, int col);
/** Type of a column in the current row: CTM_NULL, CTM_INTEGER, CTM_REAL, CTM_TEXT. */
CTM_API int ctm_query_column_type(const ctm_query *q, int col);
/** Text of a column in the current row (numbers converted); NULL for NULL.  Borrowed until the next
 *  ctm_query_next() or ctm_query_free(). */
CTM_API const char *ctm_query_text(ctm_query *q, int col);
/** Integer value of a column in the current row (0 for NULL). */
CTM_API int64_t ctm_query_int64(const ctm_query *q, int col);
/** Real value of a column in the current row (0.0 for NULL). */
CTM_API double ctm_query_double(const ctm_query *q, int col);
/** Free a result set.  NULL is fine. */
CTM_API void ctm_query_free(ctm_query *q);

/**
 * Users: user, printed_name, role, unblinded (0/1), disabled (0/1), failed_logins, created (ISO
 * time), public_key (hex).  Any logged-in user may list users.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_list(ctm_query **out, ctm_db *db);

/* ---------------------------------------------------------------------------------------------
 * The audit ledger
 * ------------------------------------------------------------------------------------------- */

/**
 * Record a free-text note in the audit trail (a monitor visit, a phone instruction).  meaning
 * non-NULL makes it e-signed by the logged-in user with that meaning (1-100 characters).
 * Any logged-in user may add notes.  Audited "audit.note".
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_note(ctm_db *db, const char *text, const char *meaning);

/**
 * Group several actions into one transaction, committed with one signed checkpoint.  Each action
 * inside still appends its own ledger entry and fails alone (its changes are rolled back to where it
 * began); ctm_batch_commit() makes the rest durable, ctm_batch_rollback() drops all of them.
 * Errors: CTM_EMISUSE (already in a batch, or none open), CTM_EBUSY.
 */
CTM_API CTM_WARN_UNUSED int ctm_batch_begin(ctm_db *db);
CTM_API CTM_WARN_UNUSED int ctm_batch_commit(ctm_db *db);
CTM_API int ctm_batch_rollback(ctm_db *db);

/**
 * Ledger entries, oldest first: seq, time (ISO), user, action, reason, params (JSON object),
 * changes (JSON array of {"table","op","key","columns":{name:[old,new]}}), esig_user,
 * esig_name (printed name), esig_meaning, esig_time (ISO; the entry's time), leaf_hash (hex).
 * from_seq/limit select a window (limit 0: all).  Needs a logged-in user; values a blinded user
 * may not see are shown as "(blinded)".
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_log(ctm_query **out, ctm_db *db, uint64_t from_seq,
                                          uint64_t limit);

/** The number of entries in the ledger (the tree size). */
CTM_API CTM_WARN_UNUSED int ctm_audit_size(ctm_db *db, uint64_t *size);

/**
 * The latest signed checkpoint: a C2SP signed note whose body is "<origin>\n<size>\n<base64 root>\n".
 * The caller frees *note with ctm_free().  Needs no login.
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_checkpoint(char **note, ctm_db *db);

/** The site's verifier key "<origin>+<key id hex>+<base64(0x01||public key)>".  Free with ctm_free(). */
CTM_API CTM_WARN_UNUSED int ctm_audit_vkey(char **vkey, ctm_db *db);

/**
 * An inclusion proof for entry seq in the tree of the latest checkpoint, as text:
 * "seq N\nsize S\nleaf <hex>\nroot <hex>\nproof <hex>\n..." (one proof line per hash).
 * The proof is checked before it is returned.  Free with ctm_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_prove(char **proof, ctm_db *db, uint64_t seq);

/** What ctm_audit_verify() found.  Initialise struct_size = sizeof(ctm_verify_result). */
typedef struct ctm_verify_result {
    size_t struct_size;
    uint64_t entries;        /* entries decoded and hashed */
    uint64_t checkpoints;    /* checkpoint signatures checked */
    uint64_t esignatures;    /* e-signatures checked */
    uint64_t rows;           /* live table rows compared with the replay */
    int64_t failed_seq;      /* first failing entry, or -1 */
    char failed_table[64];   /* table of the first mismatch, or "" */
    char failed_key[128];    /* primary key of the first mismatch, or "" */
    char root_hex[65];       /* root of the whole log */
    int key_from_database;   /* 1 when no external verifier key was given: the site key in the
                                database itself was trusted */
} ctm_verify_result;

/**
 * Verify the whole database offline: decode every entry, recompute every leaf and root, check every
 * checkpoint signature and e-signature, replay every row change into an empty schema and compare it
 * with the live tables.
 *   vkey: the site's verifier key held outside (recommended); NULL trusts the key in the database.
 *   held_checkpoint: a signed checkpoint note held outside (e.g. by a monitor); NULL to skip.  The
 *   log must have only grown since it: same root at that size.
 * Needs no login.  Returns CTM_OK, or CTM_EINTEGRITY with the first failing seq, table and key in
 * the message and in *result (which may be NULL).
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_verify(ctm_db *db, const char *vkey,
                                             const char *held_checkpoint,
                                             ctm_verify_result *result);

#ifdef __cplusplus
}
#endif

#endif /* CTM_H */
