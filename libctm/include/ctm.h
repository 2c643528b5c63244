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
 *   - Each function's "Errors:" line names the codes particular to it.  Besides those:
 *       every call may return CTM_ENOMEM, and CTM_ERROR for an unexpected SQLite, file system or
 *       crypto failure;
 *       a call that needs a logged-in user returns CTM_EMISUSE when nobody is logged in (or db is
 *       NULL), and CTM_EDISABLED or CTM_EAUTH when the account was disabled, removed or given a
 *       new key since the login;
 *       a call that writes may return CTM_EBUSY (another writer held the database beyond the busy
 *       timeout), CTM_EMISUSE (a read-only handle, or a batch whose action failed and which must
 *       be rolled back), CTM_EIO (the site key file, read at the first signature, is missing,
 *       readable by others or another site's) and CTM_EINTEGRITY (the ledger's stored tree state
 *       does not add up: run ctm_audit_verify()).
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
#define CTM_ECANCELED -17 /* the caller's progress callback asked to stop: nothing was changed */

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
 * are applied (not by a CTM_OPEN_READONLY handle, which reads an older schema as it is).  Moving
 * an initialised site to a newer schema version appends a signed "ledger.upgrade" entry, which
 * needs the site key.  opts may be NULL for the defaults (no create).
 *
 * Errors: CTM_EINVAL (out or path NULL, opts->struct_size too small), CTM_EIO (no such file
 * without CTM_OPEN_CREATE, unreadable; the site key missing or wrong when the site must be
 * migrated: the site is then left unchanged), CTM_ERROR (a migration failed, e.g. a kit status
 * written by hand outside the ones schema version 4 allows: the site is left unchanged),
 * CTM_ENOTDB (not SQLite, or SQLite but not libctm),
 * CTM_EVERSION (written by a newer libctm).
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

/* Copy the site open on db into target, an empty database on either back end (a PostgreSQL
 * connection string, or a file path that does not exist yet), so that the site can move: from
 * one pharmacy's SQLite file to a regional PostgreSQL server, or back.  Every row is copied as it
 * is, the ledger's included: the copy holds the same entries, roots and checkpoints, so a
 * checkpoint held before the move proves that the copy's log extends it.  Writers on db wait
 * while the copy runs (it holds db's write lock); the copy is one transaction on target, which
 * holds all of it or nothing.  db is not changed; no ledger entry is written on either side.
 * Afterwards open target with ctm_open() and the same site key (opts.key_path or site_seed).
 *
 * Needs an unblinded administrator logged in on db (the copy holds every kit's arm), and db at
 * this libctm's schema version (open it for writing once).  Errors: CTM_EDENIED (not an
 * administrator), CTM_EBLINDED (a blinded administrator), CTM_EMISUSE (nobody logged in),
 * CTM_EINVAL (target missing or the same as db), CTM_EEXISTS (target already holds a site or
 * rows), CTM_ENOTDB (target holds something else), CTM_EVERSION (db at an older version),
 * CTM_EIO / CTM_EBUSY (the target cannot be reached or written; nothing is left there). */
CTM_API CTM_WARN_UNUSED int ctm_migrate_to(ctm_db *db, const char *target);

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
 * A successful login after failures resets the count ("auth.reset").  A disabled (or locked)
 * account answers CTM_EDISABLED whatever the password, right or wrong, records nothing and takes
 * as long as any other attempt.  An empty password is a mistake of the caller (CTM_EINVAL), not
 * a failed login: nothing is recorded.  Refused while a batch is open on the handle
 * (CTM_EMISUSE).  A failed login leaves nobody logged in.
 * After an administrator reset the password (ctm_user_passwd()), the login succeeds without a
 * signing key, and the session may do nothing but choose a new password with
 * ctm_user_passwd(db, NULL, ...); see ctm_must_change_password().
 * Errors: CTM_EAUTH (unknown user or wrong password), CTM_EDISABLED (disabled account, whatever
 * the password), CTM_EINVAL (bad user name; password NULL, empty or longer than 1024 bytes),
 * CTM_EMISUSE, CTM_EINTEGRITY (the sealed key does not open: the credentials were altered).
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
 * 1 when the logged-in user's password was reset by an administrator and the session may do
 * nothing but choose the user's own password (ctm_user_passwd(db, NULL, new_password)); every
 * other call, e-signatures included, fails with CTM_EDENIED until then.  0 otherwise, also with
 * nobody logged in or a NULL handle.  As of the login or the last call that re-checked the
 * account.
 */
CTM_API int ctm_must_change_password(const ctm_db *db);

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
 * Change a password.
 *
 * For oneself (user NULL or the logged-in user): the new password must differ from the current
 * one, and the user gets a new signing key, sealed with it; the entry ("user.passwd", parameter
 * new_signing_key "yes") is e-signed with the new key, meaning "password changed".  Earlier
 * signatures stay verifiable: the ledger keeps the old key.  Other sessions of the user must log
 * in again.
 *
 * For another user (admins only): a reset.  The user's password becomes new_password, their
 * sealed key is destroyed (the administrator knows the password, so no key may be sealed with
 * it), and the account may do nothing but choose its own password, which gives it a new key.
 * Audited "user.reset", e-signed by the admin ("authorized account change").  Sessions the user
 * opened before the reset fail with CTM_EAUTH.
 *
 * Errors: CTM_EINVAL (user name; new password not 8-1024 bytes, or one's own unchanged),
 * CTM_EDENIED (another user's password without the admin role, or an admin whose own password
 * was reset), CTM_ENOTFOUND, CTM_EDISABLED, CTM_EAUTH (the session's key or password is no longer
 * current), CTM_EMISUSE (no login).
 */
CTM_API CTM_WARN_UNUSED int ctm_user_passwd(ctm_db *db, const char *user, const char *new_password);

/* ---------------------------------------------------------------------------------------------
 * Result sets.  Every listing and report is a ctm_query: step with ctm_query_next(), read columns
 * by index (ctm_query_column_index() finds one by name), free with ctm_query_free().  Values are
 * NULL, integer, real or text.
 *
 * Lifetime: a query holds a prepared statement on its handle's connection and nothing else
 * of the handle.  It may outlive the handle: after ctm_close() it can still be stepped to its end
 * and must still be freed; the connection (and its file descriptors) is released when the last
 * open query is freed.  Closing a handle rolls back its open batch, and its queries then show
 * nothing of it.  What a query shows was decided when it was made: the rights of the user
 * logged in then (a blinded user's query stays blinded), and, from its first ctm_query_next(), one
 * snapshot of what other handles commit, which it keeps (holding back WAL checkpointing) until it
 * returns CTM_DONE or is freed; writes made on its own handle meanwhile may or may not appear.
 * Rows are read as they are stepped, so a listing of any length read to its end holds one row at
 * a time.  On PostgreSQL, calling anything else on the handle while a query is part-read first
 * reads that query's remaining rows into memory (the connection carries one thing at a time).
 * Free queries promptly; a query is used by one thread at a time, like its handle.
 * ------------------------------------------------------------------------------------------- */

typedef struct ctm_query ctm_query;

#define CTM_NULL 0
#define CTM_INTEGER 1
#define CTM_REAL 2
#define CTM_TEXT 3

/**
 * Advance to the next row: CTM_ROW, CTM_DONE (and CTM_DONE again on every later call), or a
 * negative error.
 * Errors: CTM_EMISUSE (q NULL), CTM_EBUSY (the snapshot could not be read within the busy
 * timeout), CTM_EINTEGRITY (ctm_audit_log(): a ledger entry does not decode), CTM_ENOMEM,
 * CTM_ERROR (SQLite).
 */
CTM_API CTM_WARN_UNUSED int ctm_query_next(ctm_query *q);
/** Number of columns (fixed for the life of the query); 0 for NULL. */
CTM_API int ctm_query_column_count(const ctm_query *q);
/** Column name; borrowed, valid until ctm_query_free().  NULL for an index out of range. */
CTM_API const char *ctm_query_column_name(const ctm_query *q, int col);
/**
 * The index of the column called name (exact, case-sensitive, as ctm_query_column_name() gives
 * it), for reading a listing by name rather than by position.  Usable before the first
 * ctm_query_next().  Returns the index (>= 0) or a negative code.
 * Errors: CTM_EINVAL (q or name NULL), CTM_ENOTFOUND (no such column in this result).
 * Exported in the symbol version CTM_1.1.
 */
CTM_API int ctm_query_column_index(const ctm_query *q, const char *name);
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
 * time), public_key (hex), must_change (0/1: the password was reset and the user has not chosen
 * their own yet).  Any logged-in user may list users.
 * Errors: CTM_EINVAL (out NULL).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_user_list(ctm_query **out, ctm_db *db);

/* ---------------------------------------------------------------------------------------------
 * The audit ledger
 * ------------------------------------------------------------------------------------------- */

/**
 * Record a free-text note in the audit trail (a monitor visit, a phone instruction).  meaning
 * non-NULL makes it e-signed by the logged-in user with that meaning (1-100 characters).
 * Any logged-in user may add notes.  Audited "audit.note".
 * Errors: CTM_EINVAL (note or meaning missing, empty, too long, not UTF-8, with control
 * characters or surrounding blanks).
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
 * may not see are shown as "(blinded)".  leaf_hash is NULL for a blinded user on the unsalted
 * (version-1) entries that begin a site migrated from schema version 1 or 2: their hashes could
 * be tested against guessed arms (docs/audit-format.md section 12).
 * Errors: CTM_EINVAL (out NULL).  On failure *out is NULL.  An entry that does not decode fails
 * its ctm_query_next() with CTM_EINTEGRITY.
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_log(ctm_query **out, ctm_db *db, uint64_t from_seq,
                                          uint64_t limit);

/**
 * Which ledger entries ctm_audit_query() returns.  Initialise with CTM_AUDIT_FILTER_INIT; a NULL
 * or zero field does not filter, and the filters given combine (an entry must pass them all).
 *
 * Every filter looks only at what the reader is shown: a blinded user's filter never matches on,
 * or against, a value the log shows them as "(blinded)", so the entries it selects are the same
 * whatever the arms are.
 */
typedef struct ctm_audit_filter {
    size_t struct_size;
    uint64_t from_seq;   /* entries with seq >= from_seq */
    uint64_t limit;      /* at most this many entries, the oldest that match (0: all) */
    uint64_t last;       /* only the newest this many entries that match, still returned oldest
                            first (0: all); not together with limit */
    const char *by;      /* the acting user's name, exactly (the entry's "user") */
    const char *action;  /* an action name exactly ("kit.status"), or a family written "NAME.*"
                            ("shipment.*": every action whose name starts with "shipment.") */
    const char *since;   /* ISO 8601 UTC: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.ffffff]]", with an
                            optional "Z" or "+00:00"; entries at or after its first instant */
    const char *until;   /* the same; entries up to and including the last instant it names (a
                            date: its whole day; "...T12:00": up to 12:00:59.999999) */
    const char *trial;   /* a trial code: entries about the trial, its kit types, lots,
                            shipments or kits (a "trial" parameter, or a row change of one of
                            them or referring to one of them) */
    const char *kit;     /* a kit number: entries about a kit of that number in any trial (a
                            "kit" or "scanned" parameter, a row change of the kit or referring to
                            it, or a kit_number value); add trial to name one trial's kit.  A
                            scan of the pack (GS1 element string) names its kit, as for
                            ctm_kit_show() */
} ctm_audit_filter;

#define CTM_AUDIT_FILTER_INIT \
    { sizeof(ctm_audit_filter), 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL }

/**
 * Ledger entries that pass filter (NULL: all), oldest first: the columns of ctm_audit_log(),
 * then changes_summary, the row changes for a person to read: one line per row change ("kits
 * id=7 updated: status received -> available"; an inserted or deleted row's columns as
 * name=value, NULL ones left out; lines separated by "\n") when the entry changes at most 5 rows, else one line of counts per table in order of appearance ("kits: 10,000
 * inserted; shipments: 1 inserted"); "" when it changes none.  Values hidden from a blinded user
 * read "(blinded)" there too.
 *
 * Tests on seq, user, action and time read the entry's first fields only; trial and kit decode
 * the entry.  last reads from the newest entry back until it has its count.  Trial and kit are
 * resolved against the tables as they are now (their rows' ids).  Needs a logged-in user.
 *
 * Errors: CTM_EINVAL (out NULL, a filter field malformed, named; last with limit, or a
 * struct_size too small), CTM_ENOTFOUND (no trial of that code, no kit of that number),
 * CTM_EMISUSE (no handle, nobody logged in), CTM_EDISABLED and CTM_EAUTH (the account was
 * disabled or replaced meanwhile), CTM_ENOMEM, CTM_ERROR (SQLite); ctm_query_next() may return
 * CTM_EINTEGRITY for an entry that cannot be decoded.  On failure *out is NULL.  Free the result with
 * ctm_query_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_query(ctm_query **out, ctm_db *db,
                                            const ctm_audit_filter *filter);

/**
 * The number of entries in the ledger (the tree size); inside a batch, with the batch's entries.
 * Needs no login.  Errors: CTM_EINVAL (db or size NULL), CTM_EINTEGRITY (the stored tree state
 * is damaged).
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_size(ctm_db *db, uint64_t *size);

/**
 * The latest signed checkpoint: a C2SP signed note whose body is "<origin>\n<size>\n<base64 root>\n".
 * The caller frees *note with ctm_free().  Needs no login.
 * Errors: CTM_EINVAL (note or db NULL), CTM_ENOTFOUND (no checkpoint yet: the site is not
 * initialised).  On failure *note is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_checkpoint(char **note, ctm_db *db);

/**
 * The site's verifier key "<origin>+<key id hex>+<base64(0x01||public key)>".  Free with
 * ctm_free().  Needs no login.
 * Errors: CTM_EINVAL (vkey or db NULL), CTM_EMISUSE (the site is not initialised).  On failure
 * *vkey is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_vkey(char **vkey, ctm_db *db);

/**
 * An inclusion proof for entry seq in the tree of the latest checkpoint, as text:
 * "seq N\nsize S\nleaf <hex>\nroot <hex>\nproof <hex>\n..." (one proof line per hash).
 * The proof is checked before it is returned.  Free with ctm_free().  Needs no login, except on
 * a ledger that begins with unsalted (version-1) entries, a site migrated from schema version 1 or
 * 2: there every proof reaches hashes that could be tested against guessed arms, so only a
 * logged-in unblinded user gets one.
 * Errors: CTM_EINVAL (proof or db NULL), CTM_EBLINDED (that case), CTM_ENOTFOUND (seq not in the
 * signed log, or no checkpoint yet), CTM_EMISUSE (the site is not initialised), CTM_EINTEGRITY
 * (an entry is missing, or the checkpoint's signature, root or the proof do not check: run
 * ctm_audit_verify()).  On failure *proof is NULL.
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
    /* Since CTM_1.2 (struct_size covers them): the cosignatures of the site's checkpoints
     * (schema version 8, ctm_audit_witness()). */
    uint64_t cosignatures;   /* cosignatures counted: the note verifies with the site key and
                                with the witness's verifier key stored beside it */
    uint64_t witnessed_size; /* the largest size a counted cosignature covers (0: none) */
    char witness[128];       /* the name of that cosignature's witness key, or "" */
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
 * Works alike on a site in an SQLite file and on a PostgreSQL server, reading the site through db's
 * own connection in one read transaction, in bounded memory.
 * Errors: CTM_EINTEGRITY (the ledger or the tables were altered), CTM_EINVAL (vkey not a verifier
 * key; held_checkpoint not a checkpoint signed by that key), CTM_EMISUSE (db NULL; no vkey and
 * the site is not initialised; a batch is open on db), CTM_EIO (the database cannot be read).
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_verify(ctm_db *db, const char *vkey,
                                             const char *held_checkpoint,
                                             ctm_verify_result *result);

/**
 * Make a witness key: a new Ed25519 key with the C2SP key name `name` (1-256 bytes of UTF-8
 * without spaces, control characters or '+', e.g. "monitor.example.org/anna"), written to a new
 * file at path as the one line "libctm-witness-key-v1 <name> <base64 of the 32-byte seed>\n",
 * mode 0600.  An existing file is never overwritten.  *vkey gets the key's verifier key
 * ("<name>+<key id>+<base64(0x01 || public key)>"), to hand to whoever checks cosignatures.
 * Needs no database.  Keep the file away from the site: a witness the site can sign for witnesses
 * nothing.  Use the key for witnessing only (its signatures are plain note signatures).
 * Errors: CTM_EINVAL (an argument NULL, name not a key name), CTM_EEXISTS (path exists), CTM_EIO
 * (the file cannot be written).  On failure *vkey is NULL and no file is left.  Free *vkey with
 * ctm_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_witness_key_create(char **vkey, const char *path,
                                                   const char *name);

/**
 * The verifier key of the witness key file at path (as ctm_witness_key_create() gave it).
 * Errors: CTM_EINVAL (an argument NULL), CTM_EIO (the file is missing, readable by group or
 * others, or not a witness key file).  On failure *vkey is NULL.  Free *vkey with ctm_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_witness_key_vkey(char **vkey, const char *path);

/**
 * Witness the site's newest checkpoint (docs/audit-format.md 6.5): check that it is signed by the
 * site and that it extends `previous`, the checkpoint this witness witnessed last (NULL: none yet),
 * then cosign it with the witness key in the file key_path and store the cosigned note in the
 * site's cosignatures, audited "audit.cosign" by the logged-in monitor.  *cosigned gets the
 * note: the site's checkpoint with one more signature line, by the witness key, which any C2SP
 * note verifier checks with the witness's verifier key.  Keep it: it is `previous` next time.
 *   site_vkey: the site's verifier key held outside; NULL trusts the key stored in the database
 *   (a changed site key is still caught once there is a previous checkpoint, which then does not
 *   verify).  previous: a checkpoint of this site signed by its key (extra signature lines, such
 *   as the witness's own, are allowed).
 * It extends previous (size m, root R) when the newest checkpoint's size n >= m and the first m
 * entries of the ledger still make R; every entry up to n is hashed (in bounded memory) and must
 * make the newest checkpoint's root.  Witnessing again at a size already cosigned by this key
 * stores nothing and returns the stored note.  Needs a logged-in monitor and the site key (the
 * stored cosignature is a ledger entry).
 * Errors: CTM_EINVAL (an argument NULL; site_vkey malformed; previous not a checkpoint of the site
 * signed by its key, or of size 0), CTM_EIO (the witness key file or the site key cannot be
 * used), CTM_EMISUSE (nobody logged in), CTM_EDENIED (not a monitor), CTM_ENOTFOUND (no checkpoint
 * yet), CTM_EINTEGRITY (the newest checkpoint does not verify or its entries do not make its root;
 * the ledger is smaller than previous: rolled back or truncated; or its first m entries differ:
 * rewritten), CTM_EBUSY.  Nothing is stored on failure.  On failure *cosigned is NULL; free it with
 * ctm_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_audit_witness(char **cosigned, ctm_db *db, const char *key_path,
                                              const char *site_vkey, const char *previous);

/* ---------------------------------------------------------------------------------------------
 * Trials and set-up (admins and pharmacists; each call one audited action)
 *
 * Codes (trial, arm, kit type, location) are 1-64 characters of [A-Za-z0-9._@-] (arms 1-32 of
 * [A-Za-z0-9._-]); temperatures are in degrees Celsius and kept to the milli-degree.
 * ------------------------------------------------------------------------------------------- */

/**
 * Add a trial.  arms: "A:1,B:1" or "ACTIVE:2,PLACEBO:1" (code:ratio, ratio 1-100, at least one
 * arm; a blinded trial needs two or more).  Audited "trial.add".
 * Errors: CTM_EINVAL (the field named), CTM_EEXISTS, CTM_EDENIED, CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_trial_add(ctm_db *db, const char *code, const char *title,
                                          const char *sponsor, int blinded, const char *arms);

/** Trials: code, title, sponsor, blinded (0/1), arms ("A:1,B:1"), created.  Any logged-in user.
 *  Errors: CTM_EINVAL (out NULL).  On failure *out is NULL. */
CTM_API CTM_WARN_UNUSED int ctm_trial_list(ctm_query **out, ctm_db *db);

/** Optional properties of a kit type.  Initialise with CTM_KITTYPE_OPTIONS_INIT. */
typedef struct ctm_kittype_options {
    size_t struct_size;
    const char *dose_form;        /* "tablet"; NULL: none */
    const char *strength;         /* "10 mg"; NULL: none */
    int excursion_budget_minutes; /* cumulative time allowed out of range; -1: none given */
    double excursion_max_c;       /* the highest temperature that budget allows; ignored at -1 */
    int dispensing_days;          /* days one kit covers; 0: not given */
} ctm_kittype_options;

#define CTM_KITTYPE_OPTIONS_INIT { sizeof(ctm_kittype_options), NULL, NULL, -1, 0.0, 0 }

/**
 * Add a kit type (product) to a trial: what a kit holds (name, units per kit), its storage range
 * and its do-not-dispense window in days before expiry.  opts may be NULL.  Audited "kittype.add".
 * Errors: CTM_EINVAL, CTM_ENOTFOUND (trial), CTM_EEXISTS, CTM_EDENIED, CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_kittype_add(ctm_db *db, const char *trial, const char *code,
                                            const char *name, int units, double storage_min_c,
                                            double storage_max_c, int dnd_days,
                                            const ctm_kittype_options *opts);

/** Kit types of a trial (NULL: all): trial, code, name, dose_form, strength, units, storage_min,
 *  storage_max, dnd_days, excursion_budget_minutes, excursion_max, dispensing_days.  Any
 *  logged-in user.  Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On
 *  failure *out is NULL. */
CTM_API CTM_WARN_UNUSED int ctm_kittype_list(ctm_query **out, ctm_db *db, const char *trial);

/**
 * Add a storage location (fridge, freezer, room, cabinet...) with its temperature range.
 * kind: 1-32 printable characters.  Audited "location.add".  Admins and pharmacists.
 * Errors: CTM_EINVAL (name, kind, a range whose minimum is not below its maximum), CTM_EEXISTS,
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_location_add(ctm_db *db, const char *name, const char *kind,
                                             double min_c, double max_c);

/** Locations: name, kind, min, max, kits (number of kits there now), alarm_delay_minutes,
 *  max_gap_minutes (ctm_location_alarm()).  Any logged-in user.
 *  Errors: CTM_EINVAL (out NULL).  On failure *out is NULL. */
CTM_API CTM_WARN_UNUSED int ctm_location_list(ctm_query **out, ctm_db *db);

/* ---------------------------------------------------------------------------------------------
 * Receipt of shipments
 *
 * ctm_receive() registers an arrived shipment from its manifest: every kit is created in status
 * "received" at the location and stays there, unusable, until the receipt is confirmed.  Kits
 * are checked one by one with ctm_receive_scan() (a GS1 string or a kit number); what does not
 * match is recorded as a discrepancy.  ctm_receive_confirm(), e-signed, ends the receipt: checked
 * kits become "available" (or "quarantined" when the shipment's logger showed an excursion, or
 * when their lot or expiry did not match), damaged ones "damaged", unchecked ones "missing".
 *
 * The manifest is CSV with the header kit_number,kit_type,lot,expiry and optional columns arm,
 * gtin, serial; any order; expiry as YYYY-MM-DD.  A kit on the trial's kit list (imported with
 * ctm_random_import(), format "kits") takes its arm from the list when the manifest gives none,
 * and must agree with it when it does; a user blinded to the trial may give none for it (the
 * answer would tell whether a guessed arm is right).  A malformed manifest is refused whole, with its line and
 * field; no message ever shows an arm.
 * ------------------------------------------------------------------------------------------- */

/** Options of a receipt.  Initialise with CTM_RECEIVE_OPTIONS_INIT. */
typedef struct ctm_receive_options {
    size_t struct_size;
    const char *origin;        /* depot or sponsor; NULL: not given */
    const char *date_received; /* when it arrived, "YYYY-MM-DD" (may be before today) or
                                * "YYYY-MM-DDTHH:MM[:SS]Z" (not in the future); NULL: now.  The
                                * kits' history (their status "received") begins at that time,
                                * or at the start of that day (UTC) when only a day before
                                * today is given, so that dispensings recorded afterwards from
                                * then on come after it; the shipment's registration keeps the
                                * time it was made */
    int excursion;             /* non-zero: the shipment's logger showed an excursion */
    const char *logger;        /* the path of the logger file that travelled with the shipment:
                                * imported with it as ctm_shipment_logger() does, in the same
                                * transaction (ctm_receive() only); NULL: none */
    const struct ctm_temp_import_options *logger_options; /* how to read it; NULL: defaults */
} ctm_receive_options;

#define CTM_RECEIVE_OPTIONS_INIT { sizeof(ctm_receive_options), NULL, NULL, 0, NULL, NULL }

/**
 * Register an arrived shipment of a trial from its manifest (manifest_len bytes of CSV) at a
 * location, in one audited action "shipment.receive", however many kits.  Shipment numbers are
 * unique per site.  Pharmacists and technicians.
 * Errors: CTM_EINVAL (manifest line and field; unknown kit type; arm not in the trial; a kit number
 * already in the trial), CTM_ENOTFOUND (trial, location), CTM_EEXISTS (shipment), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive(ctm_db *db, const char *trial, const char *shipment,
                                        const char *manifest, size_t manifest_len,
                                        const char *location, const ctm_receive_options *opts);

#define CTM_SCAN_OK 0       /* the kit is on the manifest and matches it */
#define CTM_SCAN_REPEAT 1   /* the kit was already checked: nothing recorded */
#define CTM_SCAN_MISMATCH 2 /* on the manifest, but the scanned lot or expiry differs (recorded) */
#define CTM_SCAN_EXTRA 3    /* not on the manifest (recorded as a discrepancy; no kit is made) */

/** What one scan found.  Initialise struct_size = sizeof(ctm_scan_result). */
typedef struct ctm_scan_result {
    size_t struct_size;
    int outcome;            /* CTM_SCAN_* */
    char kit_number[48];    /* the kit matched, or what was scanned for an extra */
    char detail[160];       /* a sentence for the pharmacist; never shows an arm */
    uint64_t checked;       /* kits of the shipment checked so far */
    uint64_t expected;      /* kits on the manifest */
} ctm_scan_result;

/**
 * Check one kit of a shipment under receipt.  scan: a GS1 element string (see ctm_gs1_parse()),
 * whose (21) serial or the manifest's serial identifies the kit, or a typed kit number.  A scan
 * fills in a GTIN or serial the manifest lacked but never erases a known value.  damaged: the
 * pack is damaged (recorded; a kit checked before may be scanned again as damaged).  Audited "shipment.scan" unless the outcome is CTM_SCAN_REPEAT.
 * Errors: CTM_EINVAL (an unreadable barcode, with the reason), CTM_ENOTFOUND (shipment), CTM_ERULE
 * (the receipt is already confirmed), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_scan(ctm_db *db, const char *shipment, const char *scan,
                                             int damaged, ctm_scan_result *result);

/**
 * Undo a wrong scan of a shipment under receipt: the kit (a kit number or a scan of its pack,
 * as ctm_receive_scan() takes it) is unchecked again and the discrepancies its scans recorded
 * (damaged, lot or expiry mismatch) are removed; for a scan that was recorded as extra, that
 * extra discrepancy is removed.  reason is mandatory (1-2000 characters).  The removed rows stay
 * in the ledger, in the entry "shipment.unscan" that names the kit, what the scan had found
 * ("was": ok, mismatch, damaged, extra) and the reason.  Pharmacists and technicians.
 * Errors: CTM_EINVAL (reason, an unreadable scan), CTM_ENOTFOUND (shipment; a kit neither on the
 * manifest nor recorded as extra), CTM_ERULE (the receipt is confirmed; the kit was not
 * scanned), CTM_EDENIED, CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_unscan(ctm_db *db, const char *shipment, const char *kit,
                                               const char *reason);

/**
 * Void a shipment registered by mistake (wrong trial, location or manifest), before its receipt
 * is confirmed: e-signed by the logged-in pharmacist ("shipment voided") with a mandatory
 * reason, audited "shipment.void".  Everything the registration and its scans made is removed:
 * the shipment, its kits (which leave stock), their moves between locations, its discrepancies,
 * its logger file with its readings and the excursions found in them, the rows that excursions
 * of a location recorded for its kits, and the lots left without kits, so the shipment can be
 * registered again under its number.
 * The ledger keeps every removed row in the entries that made it and in this one.
 * Errors: CTM_EINVAL (reason), CTM_ENOTFOUND (shipment), CTM_ERULE (the receipt is confirmed),
 * CTM_EDENIED (pharmacists only), CTM_EMISUSE.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_void(ctm_db *db, const char *shipment, const char *reason);

/**
 * Confirm a receipt, e-signed by the logged-in pharmacist ("receipt confirmed").  unchecked_present:
 * non-zero declares that the kits not scanned were checked by hand and are present; zero makes
 * them "missing".  Audited "shipment.confirm" as one action.
 * Errors: CTM_EINVAL (shipment number), CTM_ENOTFOUND, CTM_ERULE (already confirmed),
 * CTM_EDENIED (pharmacists only).
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_confirm(ctm_db *db, const char *shipment,
                                                int unchecked_present);

/**
 * Where the receipt of an incoming shipment stands, as one row, to look at before confirming:
 * shipment, trial, status (receiving, confirmed), kits (on the manifest), unchecked, checked,
 * ok, mismatched (lot or expiry differed), damaged, extra (scans not on the manifest),
 * discrepancies (all recorded so far).  Counts over the whole shipment only, never per arm.
 * Any logged-in user.
 * Errors: CTM_EINVAL (shipment number), CTM_ENOTFOUND, CTM_EMISUSE.  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_status(ctm_query **out, ctm_db *db, const char *shipment);

/**
 * Discrepancies of an incoming shipment, or of every shipment when shipment is NULL, in the order
 * recorded: kit_number, kind (missing, extra, damaged, lot_mismatch, expiry_mismatch), detail,
 * recorded (ISO time), recorded_by, shipment (its number).  Any logged-in user.
 * Errors: CTM_EINVAL (shipment not a valid number), CTM_ENOTFOUND (no incoming shipment of that
 * number), CTM_EMISUSE (no login), CTM_ERROR.  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_receive_discrepancies(ctm_query **out, ctm_db *db,
                                                      const char *shipment);

/** Shipments: number, trial, direction (in/out), origin, destination, date_received, status
 *  (receiving, confirmed, sent), kits, checked.  trial NULL: all.  Any logged-in user.
 *  Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On failure *out is NULL. */
CTM_API CTM_WARN_UNUSED int ctm_shipment_list(ctm_query **out, ctm_db *db, const char *trial);

/**
 * Receive open-label bulk supply counted per lot, not per kit: units of a lot of a kit type
 * (made when new; a known lot's expiry must agree) at a location, as an incoming shipment
 * confirmed at once and e-signed by the pharmacist ("receipt confirmed").  Refused in a blinded
 * trial (CTM_ERULE): blinded supply comes as numbered kits; refused too when opts->excursion is
 * set (CTM_ERULE): bulk supply is not quarantined by this release, so such a shipment is kept
 * apart until the sponsor decides.  Audited "shipment.receive_bulk".
 * Errors: CTM_EINVAL (units 1 to 10,000,000; expiry), CTM_ENOTFOUND, CTM_EEXISTS (shipment),
 * CTM_ERULE, CTM_EDENIED (pharmacists only).
 */
CTM_API CTM_WARN_UNUSED int ctm_bulk_receive(ctm_db *db, const char *trial, const char *shipment,
                                             const char *kit_type, const char *lot,
                                             const char *expiry, int64_t units,
                                             const char *location,
                                             const ctm_receive_options *opts);

/**
 * Lots of a trial (NULL: all): trial, lot, kit_type, expiry, gtin, kits (numbered kits of the lot on
 * site: received, available or quarantined), bulk_units (units of bulk supply on site), and
 * dispensable (1 when the lot is outside its do-not-dispense window today).  Any logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_lot_list(ctm_query **out, ctm_db *db, const char *trial);

/* ---------------------------------------------------------------------------------------------
 * Stock
 *
 * Kit statuses (stable names): in_transit, received, available, dispensed, returned,
 * pending_destruction, destroyed, returned_to_sponsor, quarantined, damaged, missing,
 * lost_by_subject, expired, not_dispensed.  One transition table in the library decides which
 * changes are allowed.  A kit's arm is secret in a blinded trial: blinded users see "(blinded)".
 * ------------------------------------------------------------------------------------------- */

/** Which kits ctm_kits() lists.  Initialise with CTM_KIT_FILTER_INIT; NULL fields do not filter. */
typedef struct ctm_kit_filter {
    size_t struct_size;
    const char *trial;
    const char *status;
    const char *location;
    const char *lot;
    int expiring_within_days; /* >= 0: only kits whose expiry falls within that many days (or has
                                 passed); -1: no filter */
    const char *shipment;     /* the kits registered by this incoming shipment (an unknown number
                                 is CTM_ENOTFOUND); appended last, so read only when
                                 struct_size covers it */
} ctm_kit_filter;

#define CTM_KIT_FILTER_INIT { sizeof(ctm_kit_filter), NULL, NULL, NULL, NULL, -1, NULL }

/**
 * Kits: trial, kit_number, kit_type, lot, expiry (the kit's own after relabelling, else the lot's),
 * status, location, units, arm, dispensable (1 when available, not expired and outside the
 * do-not-dispense window today), shipment.  Ordered by trial and kit number.  Any logged-in user.
 * Errors: CTM_EINVAL (out NULL; a filter field: trial code, an unknown status, a lot longer than
 * 20 characters, location name), CTM_ENOTFOUND (trial, location).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_kits(ctm_query **out, ctm_db *db, const ctm_kit_filter *filter);

/**
 * Change a kit's status by hand, with a mandatory reason (quarantine, release from quarantine,
 * damaged, missing, found, expired, reject to pending_destruction, a subject's return to
 * pending_destruction).  The transition table refuses
 * the rest (CTM_ERULE naming both statuses); dispensing, returns and destruction have their own
 * calls.  kit: its number or a scan of its pack (see ctm_kit_show()); the entry records the kit
 * number.  A kit an excursion holds (ctm_excursion_kits(): not decided, or rejected) leaves
 * quarantine only by the sponsor's decision (ctm_excursion_decide()), not by hand (CTM_ERULE).
 * Pharmacists (technicians may quarantine and report damaged or missing kits).
 * Audited "kit.status".
 * Errors: CTM_EINVAL (not a kit status; reason; trial or kit number), CTM_ENOTFOUND (trial, kit),
 * CTM_ERULE (the transition table refuses it), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_kit_set_status(ctm_db *db, const char *trial, const char *kit,
                                               const char *status, const char *reason);

/**
 * Extend the expiry of kits on the sponsor's written instruction (relabelling): the kits of a lot
 * in stock (lot non-NULL, kits NULL: the lot itself then carries the new date, so later receipts
 * of it match, while its kits no longer here keep the date their label showed) or the listed kits
 * (numbers or scans, see ctm_kit_show(); each in stock: received, available, quarantined or
 * expired, else CTM_ERULE), to new_expiry
 * ("YYYY-MM-DD", later than the current one), with the sponsor's reference; e-signed by the
 * pharmacist ("expiry extended").  Expired kits become available, or quarantined when an
 * excursion holds them (a new date is no release).  Audited "expiry.extend".
 * Errors: CTM_EINVAL (new_expiry not a date, or not later than a covered kit's current expiry;
 * reference; both or neither of lot and kits; a kit listed twice), CTM_ENOTFOUND (trial, a kit, a
 * lot with no kits in stock), CTM_ERULE (a listed kit not in stock), CTM_EDENIED (pharmacists
 * only).
 */
CTM_API CTM_WARN_UNUSED int ctm_expiry_extend(ctm_db *db, const char *trial, const char *lot,
                                              const char *const *kits, size_t nkits,
                                              const char *new_expiry, const char *reference);

/**
 * Move kits of a trial (numbers or scans, see ctm_kit_show()) to another storage location of
 * the site (the location history keeps the times).  reason may be NULL.  Audited "kit.transfer" as one action.  Pharmacists and
 * technicians.  Errors: CTM_ENOTFOUND (kit, location), CTM_ERULE (a kit not on site).
 */
CTM_API CTM_WARN_UNUSED int ctm_transfer(ctm_db *db, const char *trial, const char *const *kits,
                                         size_t nkits, const char *location, const char *reason);

/**
 * Send kits of a trial (numbers or scans, see ctm_kit_show()) to another site as an outgoing
 * shipment: the kits become "in_transit" and leave the site's stock.  Audited "shipment.send".  Pharmacists.
 * Errors: CTM_EINVAL (destination, shipment number, reason, no kits, a kit named twice),
 * CTM_ENOTFOUND (trial, kit), CTM_ERULE (a kit not on site or not in a status that may be sent),
 * CTM_EEXISTS (an outgoing shipment of that number), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_transfer_out(ctm_db *db, const char *trial, const char *const *kits,
                                             size_t nkits, const char *destination,
                                             const char *shipment, const char *reason);

/**
 * A kit's locations over time: location, since, until (NULL while it is there).  trial may be
 * NULL when the kit number is unique across trials.  kit: as for ctm_kit_show().
 * Errors: CTM_EINVAL (kit in several trials, an unreadable scan), CTM_ENOTFOUND (trial, kit),
 * CTM_EMISUSE (no login).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_kit_history(ctm_query **out, ctm_db *db, const char *trial,
                                            const char *kit);

/**
 * Everything about one kit, as a result set of exactly one row: trial, kit_number, kit_type,
 * kit_type_name, lot, expiry (the kit's own after relabelling, else the lot's), status,
 * location (NULL when not on site), units, arm ("(blinded)" for a blinded user in a blinded
 * trial), dispensable (as in ctm_kits()), shipment (the incoming shipment that brought it),
 * shipment_status (receiving, confirmed), date_received, checked (at receipt: "no", "ok",
 * "mismatch", "damaged"; NULL without a shipment), gtin, serial.  Its locations over time come
 * from ctm_kit_history().
 *
 * kit: the kit number, or a scan of the pack: a GS1 element string (as for ctm_gs1_parse()) whose
 * (21) serial is the kit number or the kit's serial, and whose (01) GTIN, if any, agrees with the
 * kit's.  Every call of this header that takes a kit number takes such a scan too.  trial may be
 * NULL: the kit is then looked for in every trial and must be in one only.  Any logged-in user.
 * Errors: CTM_EINVAL (kit in several trials, an unreadable scan or one without (21)),
 * CTM_ENOTFOUND (trial, kit), CTM_EMISUSE (no login).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_kit_show(ctm_query **out, ctm_db *db, const char *trial,
                                         const char *kit);

/* ---------------------------------------------------------------------------------------------
 * Randomization and subjects
 *
 * Each trial has at most one randomization scheme.  A list scheme allocates from a
 * randomization list, one independent list per stratum: generated by libctm (permuted blocks,
 * reproducible from a recorded seed) or imported from the sponsor's file.  Strata are the
 * combinations of the levels of the trial's stratification factors, given as a factor spec
 * "sex=M,F;age=lt65,ge65" (names and levels 1-32 of [A-Za-z0-9._-], up to 8 factors of 2 to 16
 * levels; the spec at most 1023 characters and a stratum's name at most 399, to fit
 * ctm_randomization.stratum); a subject's values as "sex=M,age=ge65", which is also how a
 * stratum is named.
 *
 * The list, its seed and its block sizes are secret from blinded users, and so is every arm of
 * a blinded trial: the calls that show a list need an unblinded user (CTM_EBLINDED otherwise),
 * and everything else shows "(blinded)" in place of a hidden value.  docs/randomization.md
 * gives the rules and how a generated list is reproduced from its seed.
 * ------------------------------------------------------------------------------------------- */

/** Options of ctm_random_generate() and ctm_random_import().  Initialise with
 *  CTM_RANDOM_OPTIONS_INIT. */
typedef struct ctm_random_options {
    size_t struct_size;
    const char *strata; /* the factor spec; NULL or "": unstratified.  When extending, NULL keeps
                           the list's strata, anything else must equal them */
    const char *seed;   /* ctm_random_generate(): 64 hex digits; NULL: a fresh random seed.  When
                           extending, NULL or the list's own seed */
    int extend;         /* non-zero: add rows to the trial's list rather than make its first one */
} ctm_random_options;

#define CTM_RANDOM_OPTIONS_INIT { sizeof(ctm_random_options), NULL, NULL, 0 }

/**
 * Generate a trial's randomization list: for each stratum, permuted blocks whose sizes are drawn
 * from block_sizes ("4,6": each a multiple of the sum of the trial's arm ratios, 2 to 1000),
 * each block holding the arms in the ratio, in random order; `size` rows per stratum (1 to
 * 99,999, and at most 1,000,000 rows in all strata, as an import; the last block may be cut
 * short).  The rows are numbered stratum by stratum
 * (stratum k's row n is k * 100000 + n).  The stream of each stratum comes from the seed and the
 * stratum's name alone, so the same seed always gives the same list, and a list extended to a
 * larger size keeps its rows (opts->extend: `size` is then the new size per stratum, larger than
 * the old one; the new rows are added, the old ones kept whatever their allocations).  Replacing
 * a list that has allocations is refused; a list without any is replaced.  The list is judged
 * as it stands under the writer lock: an allocation another writer committed meanwhile counts.  Unblinded
 * administrators and pharmacists.  Audited "random.generate" (no parameter names an arm, the
 * seed or the block sizes).
 * Errors: CTM_EINVAL (size, block_sizes, strata, seed, named), CTM_ENOTFOUND (trial),
 * CTM_EBLINDED (a blinded user), CTM_ERULE (a list with allocations would be replaced; extending a
 * list that is not a generated one, to a size not larger, with other strata or another seed; a
 * minimization scheme: one nobody was randomized by is replaced, else refused), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_random_generate(ctm_db *db, const char *trial, int size,
                                                const char *block_sizes,
                                                const ctm_random_options *opts);

/**
 * Import a trial's randomization list (or add rows to it with opts->extend) from len bytes of CSV,
 * or the trial's kit list.  format: "sponsor" (randomization_number,stratum,arm), "blockrand"
 * (id,stratum,block.id,block.size,treatment; R's write.csv row-name column is ignored), "kits"
 * (kit_number,arm: the arm of each kit number, which receipts take when a manifest has no arm
 * column), or NULL to tell from the header.  A list's stratum column names a stratum of
 * opts->strata as "sex=M,age=ge65" or by its levels in factor order, "M/ge65"; an unstratified
 * list gives the same stratum text on every row.  Rows are allocated per stratum in file order.
 * Every arm must be an arm of the trial; numbers must be new to the trial.  The file is checked
 * whole first: on any error nothing is imported and the message names the line and field (never
 * an arm).  Replacing a list with allocations is refused, as for ctm_random_generate(); a kit list
 * only adds kit numbers, and must give a kit already received the arm it was received with.  Unblinded administrators and pharmacists.  Audited "random.import".
 * Errors: CTM_EINVAL (the file, format, strata), CTM_ENOTFOUND (trial), CTM_EEXISTS (a number or
 * kit number already in the trial), CTM_EBLINDED, CTM_ERULE (as ctm_random_generate()),
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_random_import(ctm_db *db, const char *trial, const char *format,
                                              const char *text, size_t len,
                                              const ctm_random_options *opts);

/**
 * Make Pocock-Simon minimization the trial's randomization scheme: each subject goes, with
 * probability p, to the arm that leaves the trial least imbalanced over the factors, given every
 * subject randomized in the trial before (withdrawn and completed ones included).  strata: the
 * factor spec with levels ("site=SE1,SE2;sex=M,F", at least one factor); factors: the weights
 * of the factors used ("site:1,sex:1": each a factor of strata, weight above 0 and at most 100
 * with at most 3 decimals; the others are not used, though every factor must be known before a
 * subject is randomized); p: above 0, at most 1 (0.8 is usual; 1 is deterministic but for ties);
 * method: "range" or "variance" (NULL: range), how the imbalance of a factor is measured.  The
 * trial's arm ratios are the allocation ratio.  ctm_randomize() then draws a fresh 32-bit number
 * per subject and records it (hidden from blinded users), so that the history replays exactly;
 * numbers are 1, 2, 3... in order of randomization.  Replaces a scheme (list or minimization)
 * under which nobody was randomized; refused once anybody was.  Unblinded administrators and
 * pharmacists.  Audited "random.minimization" (params: trial, and factors: the number of
 * factors; the weights, method and p only in rand_schemes columns hidden from blinded readers,
 * like ctm_random_scheme()).  docs/randomization.md gives the rule.
 * Errors: CTM_EINVAL (strata, factors, p, method, named; arms or ratios beyond the minimizer's
 * limits), CTM_ENOTFOUND (trial), CTM_EBLINDED (a blinded user), CTM_ERULE (a subject was
 * randomized in the trial; a trial of one arm), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_random_minimization(ctm_db *db, const char *trial,
                                                    const char *strata, const char *factors,
                                                    double p, const char *method);

/**
 * A trial's randomization scheme as one row: trial, method (list, minimization), source
 * (generated, sponsor, blockrand, minimization), strata (the factor spec, "" when unstratified),
 * rows (of the list; 0 for minimization), allocated (subjects randomized), block_sizes, seed
 * (hex), weights ("site:1,sex:1"), imbalance (range, variance) and p: these last five only for
 * an unblinded user (NULL where the method has none), "(blinded)" for others.  Any logged-in
 * user.
 * Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial; a trial without a scheme).
 * On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_random_scheme(ctm_query **out, ctm_db *db, const char *trial);

/**
 * A trial's randomization list: stratum, position (1, 2, ... within the stratum), number, block,
 * block_size (NULL for a sponsor's list), arm, subject (the screening number of the subject it
 * went to, or NULL), ordered by stratum and position.  Unblinded users only (the list is secret
 * in open-label trials too: it tells the next allocation).
 * Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial), CTM_EBLINDED.  On failure *out
 * is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_random_list(ctm_query **out, ctm_db *db, const char *trial);

/**
 * Enrol a subject in a trial under its screening number (1-40 of [A-Za-z0-9._/-], unique in the
 * trial), with stratification values ("sex=M,age=ge65"; NULL or "" for none yet: every factor
 * must be known before randomization, see ctm_subject_set_strata()).  Values need the trial's
 * randomization scheme, whose factors they must name.  Investigators and pharmacists.  Audited
 * "subject.add".
 * Errors: CTM_EINVAL (screening number, strata), CTM_ENOTFOUND (trial), CTM_EEXISTS (screening
 * number), CTM_ERULE (strata given for a trial without a scheme), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_add(ctm_db *db, const char *trial, const char *screening,
                                            const char *strata);

/**
 * Set stratification values of an enrolled subject not yet randomized: the factors named take
 * the values given; the others keep theirs.  After a list was replaced by one of other strata,
 * the values of factors (or levels) the new list does not have are dropped: give the new ones.  Investigators and pharmacists.  Audited
 * "subject.strata".
 * Errors: CTM_EINVAL (strata), CTM_ENOTFOUND (trial, subject), CTM_ERULE (already randomized,
 * withdrawn or completed; no scheme), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_set_strata(ctm_db *db, const char *trial,
                                                   const char *screening, const char *strata);

/** What ctm_randomize() gave.  Initialise with CTM_RANDOMIZATION_INIT. */
typedef struct ctm_randomization {
    size_t struct_size;
    char number[48];  /* the randomization number */
    char arm[40];     /* the arm, or "(blinded)" for a blinded user in a blinded trial */
    char stratum[400];/* the subject's stratum ("sex=M,age=ge65"; "" unstratified) */
} ctm_randomization;

#define CTM_RANDOMIZATION_INIT { sizeof(ctm_randomization), "", "", "" }

/**
 * Randomize an enrolled subject, once: the next free row of the subject's stratum in the list
 * is theirs; under minimization, the arm ctm_random_minimization() describes, from the counts of
 * all subjects randomized before and a fresh 32-bit draw recorded with the subject, and the next
 * number of the trial (1, 2, 3...).  Refused until every stratification factor of the scheme is
 * known.  Safe against concurrent calls on any number of handles and processes: no list row goes
 * to two subjects, no subject is randomized twice, and each minimization sees every subject
 * randomized before it; the subject's status and strata and the trial's scheme are read under the
 * writer lock, so strata another writer set meanwhile decide the stratum.  Investigators and
 * pharmacists.  Audited "subject.randomize" (params: trial, subject, stratum; the arm and draw
 * are recorded only in the secret arm and draw columns).
 * Errors: CTM_ENOTFOUND (trial, subject, no scheme), CTM_ERULE (already randomized, withdrawn or
 * completed; a stratification factor unknown, named; the stratum's list used up: extend it),
 * CTM_EINVAL (result NULL or its struct_size too small), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_randomize(ctm_db *db, const char *trial, const char *screening,
                                          ctm_randomization *result);

/**
 * End a subject's participation: withdrawn (reason mandatory; enrolled or randomized) or
 * completed (randomized only; reason may be NULL).  Investigators and pharmacists.  Audited
 * "subject.withdraw" and "subject.complete".
 * Errors: CTM_EINVAL (reason), CTM_ENOTFOUND, CTM_ERULE (the status does not allow it),
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_withdraw(ctm_db *db, const char *trial,
                                                 const char *screening, const char *reason);
CTM_API CTM_WARN_UNUSED int ctm_subject_complete(ctm_db *db, const char *trial,
                                                 const char *screening, const char *reason);

/**
 * Subjects of a trial (NULL: all): trial, screening, status (enrolled, randomized, withdrawn,
 * completed), strata, rand_number, arm ("(blinded)" for a blinded user in a blinded trial),
 * enrolled, randomized, ended (ISO times); ordered by trial and screening number.  Any logged-in
 * user.  Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On failure *out is
 * NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_list(ctm_query **out, ctm_db *db, const char *trial);

/**
 * One subject, as a result set of one row with the columns of ctm_subject_list().  Any logged-in
 * user.  Errors: CTM_EINVAL (out NULL, trial code, screening number), CTM_ENOTFOUND (trial,
 * subject).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_show(ctm_query **out, ctm_db *db, const char *trial,
                                             const char *screening);

/* ---------------------------------------------------------------------------------------------
 * Visits and dosing
 *
 * A trial's visit schedule is a list of visits in order, each falling a number of days after
 * the subject's randomization or after the previous visit, within a window of days before and
 * after that target day, and dispensing a number of kits of given kit types.  Days are whole
 * UTC days; dates are "YYYY-MM-DD".  A visit anchored on the previous one counts from the day
 * that visit was dispensed, or from its target day while it was not.
 *
 * Dose titration orders kit types of one product as dose levels (level 1 the lowest dose); a
 * visit's kits may name the word DOSE in place of a kit type: the kit type of the subject's
 * dose level at that visit.  Subjects start at the trial's start level; their level moves one
 * step up or down at a dispensation, never at the first one, at least a minimum number of days
 * after the last move (or the randomization), and at most a maximum number of times.
 *
 * A dose hold pauses the dispensing of a randomized subject (for safety) until it is resumed.
 * ------------------------------------------------------------------------------------------- */

/**
 * Append a visit to a trial's schedule (its position is the next).  code: 1-32 of
 * [A-Za-z0-9._-], unique in the trial.  day: 0 to 3650 days after the anchor.  anchor:
 * "randomization" (NULL means it) or "previous" (not for the first visit).  window: "-3..+3",
 * the days the visit may come before and after its target day, each 0 to 365 ("-3..3" and
 * "0..+7" too).  kits: "KITTYPE:N[,KITTYPE:N]", kit types of the trial, each at most once, 1 to
 * 100 kits each, at most 8 items; DOSE:N means N kits of the kit type of the subject's dose
 * level (it needs the trial's dose levels, ctm_dose_levels(); a trial with a kit type coded
 * DOSE cannot use it).  Administrators and pharmacists.  Audited "visit.add".
 * Errors: CTM_EINVAL (code, day, anchor, window, kits: the field and position named; a kit type
 * not of the trial), CTM_ENOTFOUND (trial), CTM_EEXISTS (the code), CTM_ERULE (DOSE in a trial
 * without dose levels), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_visit_add(ctm_db *db, const char *trial, const char *code,
                                          int day, const char *anchor, const char *window,
                                          const char *kits);

/**
 * A trial's schedule, in order: position (1, 2, ...), code, day, anchor (randomization,
 * previous), window_before, window_after (days), kits ("KT10:1,KT20:2", or "DOSE:1").  Any
 * logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial code or NULL), CTM_ENOTFOUND (trial).  On failure *out is
 * NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_visit_list(ctm_query **out, ctm_db *db, const char *trial);

/**
 * Set a trial's dose levels and titration rules.  levels: kit types of the trial in ascending
 * dose, "KT5,KT10,KT20" (1 to 16, each once; level 1 is the first).  start_level: 1 to the number
 * of levels, where every subject starts.  min_interval_days (0 to 3650): the fewest UTC days
 * between two moves of a subject's level (or the randomization and the first move).
 * max_titrations (0 to 100): the most moves a subject may have.  A second call replaces both,
 * until the first kit is assigned to a subject of the trial; from then on they are fixed.
 * Administrators and pharmacists.  Audited "dose.levels".
 * Errors: CTM_EINVAL (levels: position named; a kit type not of the trial; start_level,
 * min_interval_days, max_titrations), CTM_ENOTFOUND (trial), CTM_ERULE (the trial has
 * dispensations), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_dose_levels(ctm_db *db, const char *trial, const char *levels,
                                            int start_level, int min_interval_days,
                                            int max_titrations);

/**
 * Put a randomized subject's dispensing on hold (a dose hold, for safety), or resume it; reason
 * mandatory (1-2000 characters).  Investigators and pharmacists.  Audited "subject.hold" and
 * "subject.resume".
 * Errors: CTM_EINVAL (reason, screening number), CTM_ENOTFOUND (trial, subject), CTM_ERULE
 * (hold: already on hold; resume: not on hold; either: the subject is not randomized, or was
 * withdrawn or completed), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_hold(ctm_db *db, const char *trial,
                                             const char *screening, const char *reason);
CTM_API CTM_WARN_UNUSED int ctm_subject_resume(ctm_db *db, const char *trial,
                                               const char *screening, const char *reason);

/**
 * A subject's visits, one row per visit of the schedule in order: visit (the code), due (the
 * target date), window_from, window_to (the first and last date of the window), dispensed (the
 * date the visit was dispensed, or NULL), on_hold (0/1: the subject's dose hold), dose_level
 * (the subject's dose level, the start level until a dispensation sets it; NULL in a trial
 * without dose levels).  The dates are NULL until the subject is randomized.  A visit anchored
 * on the previous one counts from the date that one was dispensed, else from its due date.  A
 * visit counts as dispensed when a kit was handed over at it (a kit later replaced counts).
 * Any logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial code or NULL, screening number), CTM_ENOTFOUND (trial,
 * subject).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_subject_visits(ctm_query **out, ctm_db *db, const char *trial,
                                               const char *screening);

/* ---------------------------------------------------------------------------------------------
 * Dispensing and emergency unblinding
 *
 * A subject's visit is dispensed in two steps: ctm_dispense_assign() chooses the kits, uniformly
 * at random among the eligible ones so that the choice tells nothing about the arm, and
 * ctm_dispense_confirm() takes the scans of the kits handed over, which must be exactly kits
 * assigned to the subject, with the dispensing pharmacist's e-signature ("dispensed").  An
 * eligible kit is of the trial, the visit's kit type (or the subject's dose level's), the
 * subject's arm, on site, available (not quarantined, damaged, expired...), not assigned to
 * anyone, and good long enough: its expiry is at least its kit type's do-not-dispense days after
 * today, and not before the end of the next visit's window (or, after the last visit, today plus
 * the kit type's dispensing days).  One kit goes to one subject once.
 * ------------------------------------------------------------------------------------------- */

/** Options of ctm_dispense_assign().  Initialise with CTM_DISPENSE_OPTIONS_INIT. */
typedef struct ctm_dispense_options {
    size_t struct_size;
    const char *override_reason; /* dispense outside the visit's window: why (unblinded
                                    pharmacists only); NULL: the window holds */
    int titrate;                 /* dose titration at this visit: -1 down, 0 keep, +1 up */
} ctm_dispense_options;

#define CTM_DISPENSE_OPTIONS_INIT { sizeof(ctm_dispense_options), NULL, 0 }

/**
 * Assign the kits of a randomized subject's visit: for each kit type the visit gives, as many
 * eligible kits as it says, each drawn uniformly at random among those eligible.  Refused for a
 * subject on dose hold, withdrawn, completed or not randomized, for a visit already dispensed or
 * assigned, outside the visit's window (unless opts->override_reason, by an unblinded
 * pharmacist), and when not enough kits are eligible: the message says why (none left, all
 * expiring too soon, all quarantined) and never names the arm.  *out lists the kits assigned:
 * kit_number, kit_type, lot, expiry, location.  Pharmacists.  Audited "dispense.assign".
 * Errors: CTM_EINVAL (trial, subject, visit, opts), CTM_ENOTFOUND (trial, subject, visit),
 * CTM_ERULE (the rules above; a titration the rules refuse), CTM_EDENIED, CTM_EBLINDED (an
 * override by a blinded pharmacist).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_assign(ctm_query **out, ctm_db *db, const char *trial,
                                                const char *screening, const char *visit,
                                                const ctm_dispense_options *opts);

/**
 * Scan-to-verify: the kits handed over (nscans kit numbers or GS1 scans of their packs) must each
 * be a kit assigned to the subject and not yet dispensed, else nothing is recorded (CTM_ERULE
 * naming the kit).  They become "dispensed", e-signed by the logged-in pharmacist ("dispensed").
 * Kits assigned but not scanned stay assigned.  Audited "dispense.confirm".
 * Errors: CTM_EINVAL (no scans, a kit scanned twice, an unreadable scan), CTM_ENOTFOUND,
 * CTM_ERULE, CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_confirm(ctm_db *db, const char *trial,
                                                 const char *screening,
                                                 const char *const *scans, size_t nscans);

/**
 * Cancel the subject's assignments not yet dispensed (the subject did not come, the visit was
 * assigned by mistake): their kits are free again.  reason mandatory.  Pharmacists.  Audited
 * "dispense.cancel".  Errors: CTM_EINVAL (reason), CTM_ENOTFOUND, CTM_ERULE (nothing assigned),
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_cancel(ctm_db *db, const char *trial,
                                                const char *screening, const char *reason);

/**
 * Replace a kit of the subject that is damaged or lost (how: "damaged" or "lost"), with a reason:
 * a kit assigned and not handed over becomes "damaged" or "missing"; a kit dispensed becomes
 * "returned" (damaged, brought back) or "lost_by_subject".  Its dispensation is marked replaced,
 * and a new kit is assigned for the same visit by the same rules (the window aside), to be
 * confirmed with ctm_dispense_confirm().  *out lists the new assignment as ctm_dispense_assign()
 * does.  Pharmacists.  Audited "dispense.replace".
 * Errors: CTM_EINVAL (how, reason), CTM_ENOTFOUND (kit not the subject's), CTM_ERULE (no eligible
 * kit; the kit is neither assigned nor dispensed), CTM_EDENIED.  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_replace(ctm_query **out, ctm_db *db, const char *trial,
                                                 const char *screening, const char *kit,
                                                 const char *how, const char *reason);

/**
 * Reverse a dispensing made in error: the kit's dispensation is marked reversed and the kit
 * becomes "not_dispensed" (never dispensed again; quarantine it by hand to return it to the
 * sponsor's decision).  Reason mandatory; e-signed by the pharmacist ("dispensing reversed").
 * Audited "dispense.reverse".  Errors: CTM_EINVAL (reason), CTM_ENOTFOUND, CTM_ERULE (the kit is
 * not dispensed to the subject), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_reverse(ctm_db *db, const char *trial,
                                                 const char *screening, const char *kit,
                                                 const char *reason);

/**
 * Record a dispensing made while the system was down (the paper fallback), afterwards: the kits
 * (numbers or scans) of the subject's visit, dispensed at `when` (ISO 8601 UTC, in the past),
 * with the reason.  The kits must have been eligible for the subject (arm, kit type, available)
 * and the visit's window is checked at `when`, which may not come before a kit's receipt (the
 * first row of its history, to the second: a shipment registered later than it arrived,
 * ctm_receive_options.date_received, dates it at that time or the start of that day; a kit of a
 * site upgraded from schema version 7, without history, is not checked).  Both times are kept
 * (dispensed and recorded).
 * E-signed by the pharmacist ("dispensed").  In a blinded trial only an unblinded pharmacist
 * records (a kit refused for its arm would tell a blinded one the arm).  Audited
 * "dispense.record".
 * Errors: CTM_EINVAL (when, reason, scans), CTM_ENOTFOUND, CTM_ERULE (a kit not eligible for the
 * subject: the message never names its arm; outside the window; `when` before the kit's receipt,
 * naming the kit and both times), CTM_EBLINDED, CTM_EDENIED.  A refused call records nothing.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispense_record(ctm_db *db, const char *trial,
                                                const char *screening, const char *visit,
                                                const char *const *scans, size_t nscans,
                                                const char *when, const char *reason);

/**
 * Dispensations of a trial (screening NULL: every subject's), in the order made: subject, visit,
 * kit_number, kit_type, lot, status (assigned, dispensed, cancelled, replaced, reversed),
 * dose_level, assigned, dispensed (when it happened), recorded (when it was recorded), replaces
 * (the kit it replaced), reason.  Any logged-in user (no arm is shown).
 * Errors: CTM_EINVAL (out NULL, trial), CTM_ENOTFOUND (trial, subject).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_dispensations(ctm_query **out, ctm_db *db, const char *trial,
                                              const char *screening);

/**
 * Emergency unblinding (code break) of one subject: the logged-in investigator or unblinded
 * pharmacist enters their password again and gives the reason; *arm gets the subject's arm
 * (free with ctm_free()).  E-signed ("emergency unblinding") and audited "subject.codebreak"; the
 * entry and its row in code_breaks hold no arm, so blinded readers of the audit log learn who
 * broke which subject's code, when and why, not the arm.  A wrong password counts as a failed
 * login.  Errors: CTM_EINVAL (reason), CTM_EAUTH (wrong password), CTM_ENOTFOUND,
 * CTM_ERULE (subject not randomized), CTM_EDENIED (not an investigator, or a blinded pharmacist).
 * On failure *arm is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_codebreak(char **arm, ctm_db *db, const char *trial,
                                          const char *screening, const char *password,
                                          const char *reason);

/* ---------------------------------------------------------------------------------------------
 * Storage temperatures
 *
 * A storage location's temperatures come from its data logger's files: ctm_temp_import() reads
 * a file (generic CSV "timestamp,temperature", a LogTag Analyzer export or a Berlinger report),
 * streamed, never loaded whole, and stores its readings in UTC and milli-degrees Celsius, or, for
 * loggers that keep only daily summaries (Berlinger Fridge-tag), its days.  A location's readings
 * are unique by time: a file that overlaps one imported before adds only the readings not stored
 * yet, and a reading that contradicts a stored one (the same instant, another temperature) refuses
 * the file.  The file's SHA-256, format, logger serial, counts and period are recorded with it;
 * importing the same file again for the same location changes nothing.  Temperatures are not
 * secret: every logged-in user may read them.
 * ------------------------------------------------------------------------------------------- */

/** A long-running call's progress: `done` of `total` units of work (bytes of the file read,
 *  twice over for an import: once to check it, once to store it).  Called from the calling
 *  thread; it may not call libctm on the same handle.  Return 0 to go on; anything else stops
 *  the call, which changes nothing and returns CTM_ECANCELED (a user's Ctrl-C, a closing
 *  window). */
typedef int (*ctm_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/** Options of a logger file import.  Initialise with CTM_TEMP_IMPORT_OPTIONS_INIT. */
typedef struct ctm_temp_import_options {
    size_t struct_size;
    const char *format;     /* "csv", "logtag" or "berlinger"; NULL: from the file's first line */
    const char *tz;         /* the zone of a file's local times: "Europe/Stockholm", "+01:00",
                             * "UTC"; NULL: the zone the file states (times without one are then
                             * refused) */
    const char *date_order; /* "YMD", "DMY" or "MDY" for dates like 03/04/2024; NULL: as the file
                             * says */
    const char *unit;       /* "C" or "F"; NULL: as the file says (Celsius when it says nothing) */
    ctm_progress_fn progress; /* NULL: none */
    void *progress_ctx;
} ctm_temp_import_options;

#define CTM_TEMP_IMPORT_OPTIONS_INIT { sizeof(ctm_temp_import_options), NULL, NULL, NULL, NULL, NULL, NULL }

/** What an import found and did.  Initialise struct_size (CTM_TEMP_IMPORT_RESULT_INIT). */
typedef struct ctm_temp_import_result {
    size_t struct_size;
    int duplicate;         /* the same file (by SHA-256) was imported for this location before,
                            * read with the same zone and unit: nothing was changed (with
                            * another zone or unit: CTM_EEXISTS) */
    int64_t file_id;       /* the file's record (the earlier one for a duplicate) */
    uint64_t readings;     /* readings in the file */
    uint64_t days;         /* daily summaries in the file */
    uint64_t added;        /* readings and days stored; the others were stored already */
    int64_t first_us;      /* the first and last reading's time (or the days' span), UTC us */
    int64_t last_us;
    char format[16];       /* "csv", "logtag", "berlinger" */
    char serial[65];       /* the logger's serial number; "" when the file gives none */
    char sha256[65];       /* the file's SHA-256 in hex */
    uint64_t excursions;   /* excursions recorded or extended by this import */
    uint64_t quarantined;  /* kits this import put in quarantine (or will, on their receipt's
                            * confirmation) */
} ctm_temp_import_result;

#define CTM_TEMP_IMPORT_RESULT_INIT { sizeof(ctm_temp_import_result), 0, 0, 0, 0, 0, 0, 0, "", "", "", 0, 0 }

/**
 * Import the logger file at `path` for a storage location, in one transaction: nothing is stored
 * unless all of it is.  The file is opened once and read twice (checked whole, then stored) and
 * must not change meanwhile (a file renamed over its name meanwhile is not read).  The ledger
 * records it as one action "temp.import" (the file's record and its first readings) followed,
 * for a long file, by actions "temp.readings" of at most 8,192 readings each, all committed
 * together.  Pharmacists and technicians.  Not inside a batch (ctm_batch_begin): the import is
 * its own transaction.  On failure *result is left as it was.
 * Errors: CTM_EINVAL (the file's line, field and value, a local time the zone skips included;
 * an unknown format; a bad option), CTM_EEXISTS (the same file imported before with another
 * zone or unit), CTM_ERULE (a reading the location already has with another
 * temperature), CTM_ENOTFOUND (location; a zone with no zoneinfo file), CTM_EIO (the file cannot
 * be read, is not a regular file, or changed while it was read), CTM_EDENIED, CTM_EMISUSE
 * (inside a batch), CTM_ECANCELED (the progress callback asked to stop).
 */
CTM_API CTM_WARN_UNUSED int ctm_temp_import(ctm_db *db, const char *location, const char *path,
                                            const ctm_temp_import_options *opts,
                                            ctm_temp_import_result *result);

/**
 * A location's readings in time order: time (UTC, "YYYY-MM-DDTHH:MM:SSZ"), temp (degrees
 * Celsius), serial (the logger's), file (the file's record).  from and to (NULL: open) are
 * instants "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]"; a date alone covers its whole UTC day; both ends
 * are included.  Streamed: a listing of any length holds one row at a time.  Any logged-in user.
 * Errors: CTM_EINVAL (from, to), CTM_ENOTFOUND (location).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_temp_list(ctm_query **out, ctm_db *db, const char *location,
                                          const char *from, const char *to);

/** Options of a mean kinetic temperature.  Initialise with CTM_MKT_OPTIONS_INIT. */
typedef struct ctm_mkt_options {
    size_t struct_size;
    double energy_kj;    /* the activation energy dH in kJ/mol (10-500); 0: dH/R = 10,000 K
                          * (83.144 kJ/mol, as USP <1079.2>) */
    int max_gap_minutes; /* a reading holds until the next one, at most this long (1-10080;
                          * 0: 60): a longer gap is counted in `gaps`, never as the reading
                          * before it */
} ctm_mkt_options;

#define CTM_MKT_OPTIONS_INIT { sizeof(ctm_mkt_options), 0.0, 0 }

/** A mean kinetic temperature and what it was computed from.  Initialise struct_size
 *  (CTM_MKT_RESULT_INIT). */
typedef struct ctm_mkt_result {
    size_t struct_size;
    double mkt_c;        /* degrees Celsius; NaN when the period holds no reading */
    double energy_kj;    /* the activation energy used (kJ/mol) */
    uint64_t readings;
    int64_t first_us;    /* the first and last reading's time (UTC us); 0 when none */
    int64_t last_us;
    double min_c, max_c; /* the lowest and highest reading (NaN when none) */
    uint64_t gaps;       /* gaps between readings longer than the longest hold */
    int64_t gap_us;      /* their time beyond the longest hold: not known, not counted */
} ctm_mkt_result;

#define CTM_MKT_RESULT_INIT { sizeof(ctm_mkt_result), 0.0, 0.0, 0, 0, 0, 0.0, 0.0, 0, 0 }

/**
 * The mean kinetic temperature of a location's readings in a period (from and to as for
 * ctm_temp_list; NULL: open): MKT = (dH/R) / -ln(sum(w_i exp(-(dH/R)/T_i)) / sum(w_i)), T_i in
 * kelvin, each reading weighted by the time it holds: until the next reading, at most the longest
 * hold; the last reading holds as long as the one before it.  Readings evenly spaced weigh
 * alike, so a regular logger's MKT is the textbook formula.  Any logged-in user.
 * Errors: CTM_EINVAL (from, to, an option), CTM_ENOTFOUND (location).
 */
CTM_API CTM_WARN_UNUSED int ctm_temp_mkt(ctm_db *db, const char *location, const char *from,
                                         const char *to, const ctm_mkt_options *opts,
                                         ctm_mkt_result *result);

/** A kit's exposure to temperature over its stays in the site's storage locations.
 *  Initialise struct_size (CTM_EXPOSURE_RESULT_INIT). */
typedef struct ctm_exposure_result {
    size_t struct_size;
    uint64_t readings;         /* readings counted (of the kit's locations during its stays) */
    int64_t minutes_high;      /* time above its kit type's storage range */
    int64_t minutes_low;       /* time below it */
    int64_t minutes_unknown;   /* time of its stays until now that no reading covers (no logger
                                * file yet, gaps) */
    double min_c, max_c;       /* the lowest and highest reading (NaN without readings) */
    double mkt_c;              /* the MKT over those readings, dH/R = 10,000 K (NaN without) */
    int has_budget;            /* the kit type has an excursion budget: */
    int64_t budget_minutes;    /*   cumulative minutes allowed out of range */
    double budget_max_c;       /*   up to this temperature */
    int over_budget;           /* flagged for rejection: more time out of range than the budget
                                * allows, a reading above its highest temperature, or, without
                                * a budget, any time out of range */
} ctm_exposure_result;

#define CTM_EXPOSURE_RESULT_INIT { sizeof(ctm_exposure_result), 0, 0, 0, 0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0 }

/**
 * A kit's exposure over its life (trial NULL: the kit number in any trial; a scan of its pack
 * works too): its journey (every reading of its shipment's logger, ctm_shipment_logger()), then
 * each stay in a storage location, from its receipt or move there until it left (a move, its
 * dispensing; a stay it has not left takes every reading since it came): each reading holds
 * until the next one, at most 60 minutes, and no further than the stay; the time above and below
 * the kit type's storage range is summed, and compared with its excursion budget.  Computed from
 * the readings stored, so a logger file imported later changes the answer.  Any logged-in user;
 * no arm is shown.
 * Errors: CTM_EINVAL (kit), CTM_ENOTFOUND (trial, kit).
 */
CTM_API CTM_WARN_UNUSED int ctm_kit_exposure(ctm_db *db, const char *trial, const char *kit,
                                             ctm_exposure_result *result);

/**
 * The logger files imported, newest first: file (its record), location, name, sha256, format,
 * serial, model, interval_s, unit, zone, readings, days, first, last, imported, imported_by.
 * location NULL: every location's.  Any logged-in user.
 * Errors: CTM_ENOTFOUND (location).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_temp_files(ctm_query **out, ctm_db *db, const char *location);

/* ---------------------------------------------------------------------------------------------
 * Excursions
 *
 * Every import of a logger file looks for excursions in the readings it touched, in the same
 * transaction, and records them (docs/temperatures.md, "Excursions"):
 *   - a run of readings outside the location's range (kind "high", "low", or "mixed" when it
 *     crosses both limits) that lasts at least the location's alarm delay: it starts at the first
 *     reading out of range and ends at the first one in range; each reading holds until the next
 *     one, at most the location's allowed gap;
 *   - a gap between two readings longer than the allowed gap (kind "unknown"): the time after
 *     the reading before it has held for the allowed gap, until the next reading; never taken as
 *     in range, whatever the readings around it say;
 *   - a day of a daily-summary logger (Berlinger Fridge-tag) with minutes beyond its alarm limits
 *     (daily 1): that many minutes somewhere in that day.
 * A location's run still out of range at the newest reading is recorded as ongoing once it has
 * lasted the delay, and extended by the next file; a shipment's ends with its file.  A shipment's logger file (ctm_shipment_logger(), or the
 * logger option of ctm_receive()) is judged against the narrowest storage range of the
 * shipment's kit types (kit types that share no range are refused: one logger cannot show two
 * journeys), with no delay: any time out of range in transit counts.
 *
 * The kits that were in the place during an excursion (for a location: every kit whose stays
 * there meet it; for a shipment: its kits) are recorded with it, in one audited action
 * "temp.excursions" of the import: those available are quarantined at once, those still under
 * receipt are quarantined when it is confirmed, the others (dispensed, already quarantined...)
 * are listed as they were.  A pharmacist records the sponsor's decision, e-signed, for the whole
 * excursion or kit by kit: release (the kit goes back to available unless another excursion
 * still holds it) or reject (the kit goes to pending_destruction).  Excursions and their kits
 * hold no arm: every logged-in user may read them.
 * ------------------------------------------------------------------------------------------- */

/**
 * Set a storage location's alarm settings: an excursion is recorded when its readings are out of
 * range for at least delay_minutes (0-1440; 0: any reading out of range), and a gap between
 * readings longer than max_gap_minutes (1-10080) is an excursion of unknown temperature.  A
 * location without settings uses a delay of 30 minutes and a gap of 60 minutes.  The settings
 * apply to the imports that follow; excursions recorded before are kept as they were.  Audited
 * "location.alarm".  Admins and pharmacists.
 * Errors: CTM_EINVAL (a value out of range), CTM_ENOTFOUND (location), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_location_alarm(ctm_db *db, const char *location,
                                               int delay_minutes, int max_gap_minutes);

/**
 * Excursions, newest first: excursion (its number), location (or NULL), shipment (the incoming
 * shipment's number, or NULL), kind (high, low, mixed, unknown), daily (1: a daily summary's
 * minutes, at times unknown within the day), start, end (UTC; for an ongoing excursion the newest
 * reading), ongoing (1: still out of range at the newest reading), minutes, degree_minutes
 * (the time out of range weighted by how far out, degrees Celsius x minutes; NULL for daily and
 * unknown ones), min, min_time, max, max_time (degrees Celsius; NULL for unknown ones),
 * readings, range_min, range_max, delay_minutes (what it was judged against), status (open,
 * released, rejected, decided: its kits decided one by one), kits (recorded with it),
 * quarantined (of those, put in quarantine by it), detected, detected_by, decided,
 * decided_by, reference (the sponsor's).  location NULL: every location's and shipment's;
 * open_only: only excursions no decision closed.  Any logged-in user.
 * Errors: CTM_ENOTFOUND (location).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_excursions(ctm_query **out, ctm_db *db, const char *location,
                                           int open_only);

/**
 * The kits recorded with an excursion, by trial and kit number: trial, kit_number, kit_type, lot,
 * status_was (when the excursion was recorded), quarantined (1: put in quarantine by it, and
 * not quarantined by hand since: a release then leaves it in quarantine),
 * status (now), decision (released, rejected or NULL), decided, decided_by, reference,
 * budget_minutes, budget_max (its kit type's excursion budget: cumulative minutes out of range
 * allowed, up to that temperature; NULL without one), minutes_out (the kit's time out of its
 * storage range over its life: its shipment's logger and its stays, as ctm_kit_exposure() counts
 * it), over_budget (1: flagged for rejection, as ctm_kit_exposure() decides).  Never an arm.  Any logged-in user.
 * Errors: CTM_ENOTFOUND (excursion).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_excursion_kits(ctm_query **out, ctm_db *db, int64_t excursion);

/**
 * Record the sponsor's decision on an excursion: decision "release" or "reject", with the
 * sponsor's reference (1-200 characters), e-signed by the logged-in pharmacist ("excursion
 * released" or "excursion rejected"), audited "excursion.release" or "excursion.reject".  kits
 * NULL (nkits 0): the excursion and every kit of it not decided yet; else only those kits (numbers
 * or scans), and the excursion is "decided" once each of its kits is.  A released kit in
 * quarantine goes back to available unless another excursion not decided holds it; a rejected
 * one goes to pending_destruction; a kit that was not in quarantine (dispensed before the file
 * came, say) keeps its status, with the decision recorded.  A decision on a kit still under
 * receipt is applied by the receipt's confirmation: released, it becomes available (unless
 * another excursion holds it); rejected, pending_destruction.
 * Errors: CTM_EINVAL (decision, reference, a kit), CTM_ENOTFOUND (excursion, a kit),
 * CTM_ERULE (decided already; still ongoing: import the file that shows its end; a kit not
 * recorded with it or decided already), CTM_EDENIED (pharmacists only).
 */
CTM_API CTM_WARN_UNUSED int ctm_excursion_decide(ctm_db *db, int64_t excursion,
                                                 const char *decision, const char *reference,
                                                 const char *const *kits, size_t nkits);

/**
 * An excursion's report for the sponsor, as "text" (a page to print or mail), "csv" (one row per
 * kit, the excursion's figures repeated) or "json": the location or shipment, its range and alarm
 * delay, the logger files and serials whose readings show it, the period, min and max with their
 * times, duration, degree-minutes, the MKT over the period (dH/R 10,000 K) with the energy, the
 * kits and lots affected with their status, exposure and budget, and the decisions with their
 * signatures (printed name, UTC time, meaning, reference).  *out is malloc'd text (free with
 * ctm_free()).  Any logged-in user; never an arm.
 * Errors: CTM_EINVAL (format), CTM_ENOTFOUND (excursion).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_excursion_report(char **out, ctm_db *db, int64_t excursion,
                                                 const char *format);

/**
 * Import the logger file that travelled with an incoming shipment, before its receipt is
 * confirmed: as ctm_temp_import() (same options, result and errors), its readings belonging to
 * the shipment; time out of the shipment's range (see above) is recorded as an excursion with
 * every kit of the shipment, which its confirmation then quarantines.  Pharmacists and
 * technicians.
 * Errors: those of ctm_temp_import(), and CTM_ENOTFOUND (shipment), CTM_ERULE (the receipt is
 * confirmed already).
 */
CTM_API CTM_WARN_UNUSED int ctm_shipment_logger(ctm_db *db, const char *shipment,
                                                const char *path,
                                                const ctm_temp_import_options *opts,
                                                ctm_temp_import_result *result);

/* ---------------------------------------------------------------------------------------------
 * Accountability: reconciliation, the DARF log and the monitor's sign-off
 *
 * docs/reconciliation.md gives the balance equation, the checks that name the kits breaking it,
 * what "as of" a past day means and the rules of the DARF log.  Rows are per kit type and lot,
 * never per arm: every logged-in user may read them, blinded or not.
 * ------------------------------------------------------------------------------------------- */

/**
 * The reconciliation of a trial: one row per kit type and lot (by kit type code, then batch), and
 * last a total (kit_type and lot NULL).  Columns: kit_type, lot, received (every kit the site
 * registered), then the kits in each status: receiving (received, receipt not confirmed),
 * available, quarantined, dispensed (with subjects), returned, pending_destruction, destroyed,
 * returned_to_sponsor, damaged, missing, lost (lost by their subjects), expired, not_dispensed
 * (a dispensing reversed), in_transit (sent to another site), unknown (as of a day before the
 * kit's history begins); in units of the kits handed to subjects: dispensed_units,
 * with_subjects_units, returned_units, consumed_units (handed out less returned), lost_units,
 * uncounted_units (returned without a count); breaks (the kits whose records disagree, listed by
 * ctm_reconciliation_breaks()); balanced (1 when the statuses add up to received, the units
 * handed out to what became of them, and no kit breaks it; else 0); as_of (the day, or NULL
 * for now).
 * as_of NULL: now, with every cross-check; "YYYY-MM-DD": at the end of that day (UTC), from the
 * kits' history (kit_events).  Any logged-in user.
 * Errors: CTM_EINVAL (trial NULL, as_of not a date or in the future), CTM_ENOTFOUND (trial),
 * CTM_EDENIED (no user logged in).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_reconciliation(ctm_query **out, ctm_db *db, const char *trial,
                                               const char *as_of);

/**
 * The kits that break a trial's reconciliation (now, or as of a day as ctm_reconciliation()
 * takes it), by kit number: kit, kit_type, lot, status (then), problem (the first disagreement
 * found, in words: its history ends in another status, dispensed or returned without a
 * dispensation, a dispensation whose kit is back in stock, returned or lost without a return
 * recorded, returned units above the kit's units, destroyed without a destruction recorded,
 * returned to the sponsor without a dispatched shipback, status unknown on that day).
 * Any logged-in user.
 * Errors: CTM_EINVAL (trial NULL, as_of), CTM_ENOTFOUND (trial), CTM_EDENIED.  On failure
 * *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_reconciliation_breaks(ctm_query **out, ctm_db *db,
                                                      const char *trial, const char *as_of);

/**
 * The DARF-style accountability log of a trial, per product (kit type code) in time order:
 * date (UTC), kit_type, product (its name), dose (its strength), lot, kit, subject (screening
 * number), rand_number, dose_level (for dispensings and returns), event (the status the kit
 * entered), quantity (+1 received or back in stock, -1 dispensed or gone from the stock, 0 a
 * return or loss noted: returns are never added back), quantity_units (quantity x the kit's
 * units), balance and balance_units (the stock on hand after the line, per kit type),
 * returned_units (for a return), recorder (the user).  Changes that leave the balance alone
 * (a kit moving between stock statuses) are not lines.  kit_type NULL: every kit type.  The log
 * reads the kits' history through its lines (darf_lines, schema version 10; a site upgraded
 * from an older version gets the lines of its whole history with the upgrade).  Any logged-in
 * user.
 * Errors: CTM_EINVAL (trial NULL), CTM_ENOTFOUND (trial, kit type), CTM_EDENIED, CTM_ENOMEM,
 * CTM_EVERSION (a read-only handle on a site of an older schema version: open it for writing
 * once).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_darf(ctm_query **out, ctm_db *db, const char *trial,
                                     const char *kit_type);

/**
 * A monitor's sign-off of a trial's reconciliation (now, or as of a day as ctm_reconciliation()
 * takes it): a row of signoffs with the day, whether it balanced and the size of the ledger it
 * was drawn from (both computed in the same transaction), and an optional comment (1-500 bytes
 * of printable UTF-8).  A reconciliation that does not balance may be signed too: the sign-off
 * records it.  Audited "signoff.reconciliation", e-signed with the meaning "reconciliation
 * reviewed".  Monitors only.
 * Errors: CTM_EINVAL (trial NULL, as_of, comment), CTM_ENOTFOUND (trial), CTM_EDENIED (not a
 * monitor, or the e-signature's password is needed), CTM_EBUSY.
 */
CTM_API CTM_WARN_UNUSED int ctm_signoff_reconciliation(ctm_db *db, const char *trial,
                                                       const char *as_of, const char *comment);

/**
 * A trial's sign-offs, oldest first: signoff (its number), kind (reconciliation), as_of,
 * balanced (1/0), ledger_size, signed (UTC), signed_by, printed_name, comment.  Any logged-in
 * user.
 * Errors: CTM_EINVAL (trial NULL), CTM_ENOTFOUND (trial), CTM_EDENIED.  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_signoffs(ctm_query **out, ctm_db *db, const char *trial);

/* ---------------------------------------------------------------------------------------------
 * Reports
 *
 * A report is a named listing with a title, drawn for printing, filing or a spreadsheet:
 * ctm_report() gives its rows as a result set (like any listing), ctm_report_render() the whole
 * report as text, CSV, JSON or one self-contained HTML page whose printed pages each name the
 * site, the trial, the period, when it was generated and the signed ledger checkpoint (size and
 * root hash) it was drawn from.  docs/reports.md lists every report and its columns:
 *   "inventory": kits on hand (received, available, quarantined, damaged, expired, returned,
 *     pending_destruction, not_dispensed) as they are now: trial, kit_number, kit_type, lot,
 *     expiry, status, location, units, days_to_expiry (expiry minus today: 0 on the expiry day,
 *     negative once passed), expiring_soon (1 when 0 <= days_to_expiry <= days, default 30),
 *     expired (1 when days_to_expiry < 0), arm ("(blinded)" for a blinded reader of a blinded
 *     trial); ordered by trial and kit number.  Takes trial (NULL: all), days and kit_type.
 *   "audit": the audit trail for people: seq, time (UTC), user, printed_name (the acting user's,
 *     as the users table holds it now; NULL for a user no longer there), action, reason,
 *     changes (the row changes in words, as ctm_audit_query()'s changes_summary), esig_name,
 *     esig_time, esig_meaning (the e-signature's manifestation; NULL when unsigned).  Takes trial
 *     (NULL: every entry), and either as_of (entries up to the end of that day, UTC) or from and
 *     to (from the start of one day to the end of the other, either may be left NULL).
 *     Values a blinded reader may not see read "(blinded)", as in ctm_audit_log().
 * ------------------------------------------------------------------------------------------- */

/** What a report covers.  Initialise with CTM_REPORT_OPTIONS_INIT; a report refuses an option
 *  it does not read (CTM_EINVAL naming it) rather than ignore it.  Fields are only appended. */
typedef struct ctm_report_options {
    size_t struct_size;
    const char *trial;    /* a trial code; NULL: every trial (a report of one trial refuses it) */
    const char *as_of;    /* "YYYY-MM-DD": as at the end of that day (UTC); NULL: now */
    const char *from;     /* "YYYY-MM-DD": a period from the start of that day (UTC)... */
    const char *to;       /* ...to the end of that day; not together with as_of */
    int days;             /* a window in days (inventory: expiring soon); -1: the default */
    const char *kit_type; /* a kit type code; NULL: all */
} ctm_report_options;

#define CTM_REPORT_OPTIONS_INIT { sizeof(ctm_report_options), NULL, NULL, NULL, NULL, -1, NULL }

/**
 * The rows of the report named report ("inventory", "audit", ...: see above and
 * docs/reports.md) as a result set, for a program to read (Python's to_pandas()).  opts NULL:
 * the defaults.  Any logged-in user; a blinded user gets the blinded report.  With db NULL only
 * the name and the options are checked (CTM_EINVAL as below, else CTM_EMISUSE), so that a
 * program can refuse a mistyped report before it asks for a password.
 * Errors: CTM_EINVAL (out NULL; no report of that name (the message lists them); an option
 * the report does not read, a date not YYYY-MM-DD, from after to, as_of with from or to, days
 * below -1, a struct_size too small: each named with its value), CTM_ENOTFOUND (trial, kit type),
 * CTM_EMISUSE (nobody logged in).  On failure *out is NULL.  Free with ctm_query_free().
 */
CTM_API CTM_WARN_UNUSED int ctm_report(ctm_query **out, ctm_db *db, const char *report,
                                       const ctm_report_options *opts);

/**
 * The whole report as malloc'd text (free with ctm_free()) in format:
 *   "text": the title, a header (site, trial, period or date, generated, checkpoint), the
 *     summary, then the rows as aligned columns (control characters shown as \n, \t, \xNN);
 *   "csv": RFC 4180 (CRLF, quoted fields), a header line of column names then one line per
 *     row; a text cell that a spreadsheet would run as a formula (= + - @, tab, CR first) gets a
 *     leading single quote;
 *   "json": one object: report, title, site, trial, as_of or from/to, generated_at (UTC ISO
 *     8601), checkpoint {origin, size, root (base64, as in the note), root_hex}, the summary's
 *     members, rows (an array of objects, numbers bare);
 *   "html": one self-contained page (no script, no external resource) with print CSS, whose
 *     every printed page repeats a header naming the site, trial, period, generation time and
 *     the checkpoint's size and root; every value escaped.
 * The checkpoint is the newest signed one, read in the same read transaction as the rows (one
 * snapshot: the rows are the state of the site at that checkpoint), so the report ties to the
 * signed log (ctm_audit_checkpoint(), ctm_audit_verify()).  Not inside a batch (its changes are
 * under no checkpoint yet).  The whole report is built in memory (about twice its size): for
 * the audit trail of a large site narrow it by trial and period, or read ctm_report()'s rows,
 * which come one at a time.
 * Errors: those of ctm_report(), and CTM_EINVAL (format none of text, csv, json, html),
 * CTM_EMISUSE (a batch is open on db), CTM_ENOTFOUND (no checkpoint: the site is not
 * initialised).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_report_render(char **out, ctm_db *db, const char *report,
                                              const ctm_report_options *opts,
                                              const char *format);

/**
 * As ctm_report_render(), and *summary gets the summary that rendering drew (from the same
 * snapshot as its rows): a result set of one row per item, in the order the report shows them,
 * with the columns key and value, both text, the value as the "text" format shows it ("true" or
 * "false", a number in decimal; NULL for none); no rows for a report without a summary (see
 * docs/reports.md).  A program that acts on what the report says, such as the reconciliation's
 * "balanced", reads it here rather than drawing the report a second time, which would cost as
 * much and could disagree under concurrent writes.  Free it with ctm_query_free().
 * Errors: those of ctm_report_render(), CTM_EINVAL (summary NULL), CTM_ENOMEM.  On failure
 * *out and *summary are NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_report_render_summary(char **out, ctm_query **summary,
                                                      ctm_db *db, const char *report,
                                                      const ctm_report_options *opts,
                                                      const char *format);

/* ---------------------------------------------------------------------------------------------
 * Exports
 *
 * A trial's receipts, dispensations and returns for the systems around the pharmacy: HL7 FHIR R4
 * JSON for hospital systems, a CDISC SDTM DA-style CSV for the sponsor's data management
 * (docs/exports.md maps every field).  No export holds an arm, for any user: it is the same text
 * whoever asks.  The kit types, lots and kit numbers it names are those every user sees.
 * ------------------------------------------------------------------------------------------- */

/** Which period ctm_export() covers.  Initialise with CTM_EXPORT_OPTIONS_INIT; fields are only
 *  ever appended. */
typedef struct ctm_export_options {
    size_t struct_size; /* sizeof(ctm_export_options) */
    const char *from;   /* "YYYY-MM-DD" or an ISO 8601 time; NULL: from the start */
    const char *to;     /* inclusive: a date names its whole day; NULL: to the end */
} ctm_export_options;

#define CTM_EXPORT_OPTIONS_INIT { sizeof(ctm_export_options), NULL, NULL }

/**
 * Export a trial as format "fhir" or "sdtm-da" into *out, malloc'd NUL-terminated text (free
 * with ctm_free()); opts NULL: everything.
 *
 * "fhir": a FHIR R4 Bundle of type "collection" holding one SupplyDelivery per confirmed receipt,
 * kit type and lot (R4 allows one suppliedItem: identifier the shipment number, status
 * completed, the units that arrived, the kit type and lot as a contained Medication,
 * occurrenceDateTime the date received, supplier the shipment's origin), then one
 * MedicationDispense per kit handed over (identifier the kit number, status completed, or
 * entered-in-error once reversed; the kit type, lot and expiry as a contained Medication;
 * subject the screening number; performer the user who recorded it; quantity the kit's units;
 * whenHandedOver in UTC), in the order they happened.
 *
 * "sdtm-da": CSV (RFC 4180, CRLF) with the header STUDYID, DOMAIN, USUBJID, DASEQ, DAREFID,
 * DASPID, DATESTCD, DATEST, DAORRES, DAORRESU, DASTRESC, DASTRESN, DASTRESU, DASTAT, DAREASND,
 * VISITNUM, VISIT, DADTC: a DISPAMT row per kit handed over (not reversed) and a RETAMT row per
 * kit returned (a kit lost by its subject: no result, DASTAT "NOT DONE"), by subject and date,
 * DASEQ numbering each subject's rows.
 *
 * The period selects by the time handed over and the dates received and returned.  Any
 * logged-in user.
 * Errors: CTM_EINVAL (out NULL, format, trial, opts->struct_size too small, from or to not a
 * date or time, from after to), CTM_ENOTFOUND (trial), CTM_EMISUSE (no user logged in),
 * CTM_ENOMEM.  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_export(char **out, ctm_db *db, const char *format,
                                       const char *trial, const ctm_export_options *opts);

/* ---------------------------------------------------------------------------------------------
 * GS1 barcodes
 *
 * Element strings as scanners deliver them from the DataMatrix on a pack (an optional symbology
 * identifier ]d2, ]Q3 or ]C1, variable-length fields ended by the GS byte 0x1D) and in the
 * bracketed human-readable form "(01)05909990329717(10)NE76571(17)270430".  Parsing needs no
 * database and no login.
 * ------------------------------------------------------------------------------------------- */

typedef struct ctm_gs1 ctm_gs1;

/**
 * Parse a scanned or typed GS1 element string.  Accepted application identifiers: (01) GTIN-14
 * with its check digit, (10) batch/lot, (11) production date, (15) best before, (17) expiry
 * (YYMMDD; day 00 is the last day of the month; the century puts the year within -49..+50 of
 * the current year), (21) serial, (7003) expiry date and time, (7240) protocol; other AIs of the
 * GS1 table are accepted when their syntax is valid.  Rejected, with the reason and the AI named in
 * ctm_errmsg(): a bad check digit, an impossible date, a field too long or too short, characters
 * outside the GS1 set for that AI, a missing companion AI (a (21) serial without (01)), an AI
 * given twice, an unknown AI.  On success the caller frees *out with ctm_gs1_free().
 * Errors: CTM_EINVAL (the string, with the reason), CTM_ENOMEM.
 */
CTM_API CTM_WARN_UNUSED int ctm_gs1_parse(ctm_gs1 **out, const char *input);

/** Number of element strings parsed. */
CTM_API int ctm_gs1_count(const ctm_gs1 *g);
/** The i-th AI ("01") and its raw value, in scan order; borrowed until ctm_gs1_free().  NULL when
 *  i is out of range. */
CTM_API const char *ctm_gs1_ai(const ctm_gs1 *g, int i);
CTM_API const char *ctm_gs1_value(const ctm_gs1 *g, int i);
/** The raw value of an AI ("10"), or NULL when the string did not carry it.  Borrowed. */
CTM_API const char *ctm_gs1_get(const ctm_gs1 *g, const char *ai);
/** The expiry from (17) (or (7003)) as "YYYY-MM-DD", or NULL when there is none.  Borrowed. */
CTM_API const char *ctm_gs1_expiry(const ctm_gs1 *g);
/** The parse as JSON: {"ai":{"01":"...",...},"gtin":..,"lot":..,"serial":..,"expiry":"YYYY-MM-DD"}
 *  (absent fields are null).  Free with ctm_free().
 *  Errors: CTM_EINVAL (json or g NULL), CTM_ENOMEM.  On failure *json is NULL. */
CTM_API CTM_WARN_UNUSED int ctm_gs1_json(char **json, const ctm_gs1 *g);
/** Free a parse.  NULL is fine. */
CTM_API void ctm_gs1_free(ctm_gs1 *g);

/* ---------------------------------------------------------------------------------------------
 * Returns from subjects and compliance
 *
 * A kit dispensed to a subject comes back once: returned with the units left in it, or lost by
 * the subject.  Either way it never re-enters stock ("returned" goes on only to pending
 * destruction or back to the sponsor).  Compliance per subject and visit follows from the
 * returns (docs/returns.md).
 * ------------------------------------------------------------------------------------------- */

/**
 * Record the return of a dispensed kit by its subject: units counted in it (0 up to the kit's
 * units), the day it came back (returned_on "YYYY-MM-DD"; NULL: today; not before the day it was
 * dispensed, not in the future) and its condition as found (NULL: not given; at most 200
 * characters).  The kit becomes "returned" and its return a row of kit_returns.  kit: its number
 * or a scan of its pack.  Pharmacists and technicians.  Audited "kit.return" (params trial, kit,
 * subject, returned_on, units).
 * Errors: CTM_EINVAL (units negative or above the kit's units; returned_on not a date, in the
 * future or before the dispensing; condition; trial code; kit), CTM_ENOTFOUND (trial, kit),
 * CTM_ERULE (the kit is not with a subject, or came back already: the message says when),
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_return(ctm_db *db, const char *trial, const char *kit, int units,
                                       const char *returned_on, const char *condition);

/**
 * Record that a subject lost a dispensed kit, on the day reported (reported_on "YYYY-MM-DD"; NULL:
 * today), with the reason (mandatory).  The kit becomes "lost_by_subject"; its units count as
 * lost.  To give the subject another kit for the visit, use ctm_dispense_replace() instead (it
 * records the loss too).  Pharmacists and technicians.  Audited "kit.lost" (params trial, kit,
 * subject, reported_on).
 * Errors: CTM_EINVAL (reason; reported_on; trial code; kit), CTM_ENOTFOUND (trial, kit),
 * CTM_ERULE (the kit is not with a subject, or came back already), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_lost(ctm_db *db, const char *trial, const char *kit,
                                     const char *reported_on, const char *reason);

/**
 * Set a trial's compliance limits in percent (0 <= low <= high <= 1000; a trial without its own
 * uses 80 and 110).  Administrators and pharmacists.  Audited "trial.compliance".
 * Errors: CTM_EINVAL (a limit out of range, low above high, trial code), CTM_ENOTFOUND (trial),
 * CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_compliance_limits(ctm_db *db, const char *trial, int low_pct,
                                                  int high_pct);

/**
 * Compliance per subject, visit and kit type of a trial (NULL: all trials), of one subject
 * (screening number; NULL: all): trial, screening, rand_number, visit, kit_type, dispensed_on
 * (the day), kits, units_dispensed, kits_returned, units_returned, kits_lost, kits_out (not back
 * yet), returned_on (the day the last came back), days (the period), prescribed_units (a real:
 * days x kits x units per kit / the kit type's dispensing days; the units dispensed when the kit
 * type has none), consumed_units (dispensed - returned), compliance_pct (a real, one decimal:
 * consumed / prescribed), low_pct, high_pct (the trial's limits) and flag: "ok", "low", "high",
 * or why there is no figure: "not returned", "lost", "not counted" (a kit brought back
 * uncounted, such as a damaged kit replaced), "no period" (returned the day it was dispensed).
 * Dispensations reversed or replaced are not counted.  Ordered by trial, screening number, visit
 * and kit type.  Any logged-in user: it shows no arm.
 * Errors: CTM_EINVAL (out NULL, trial code, screening), CTM_ENOTFOUND (trial).  On failure *out
 * is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_compliance(ctm_query **out, ctm_db *db, const char *trial,
                                           const char *screening);

/* ---------------------------------------------------------------------------------------------
 * Destruction and return to the sponsor
 *
 * Kits leave the site for good in two ways: destroyed on site from pending_destruction, with the
 * method, the certificate's reference and a witness's e-signature; or sent back to the sponsor
 * in a "shipback" (returned, expired, damaged kits and kits pending destruction) with its
 * manifest and an e-signed dispatch (docs/returns.md).  No call here shows an arm.
 * ------------------------------------------------------------------------------------------- */

/**
 * Destroy kits of a trial (numbers or scans of their packs; each once), every one of them pending
 * destruction (send returned, expired or damaged kits there first with ctm_kit_set_status()) and
 * not packed in a shipback.  Each becomes "destroyed", leaves its location and gets a row of
 * destructions with the method (e.g. "incineration") and the destruction certificate's reference
 * (each 1 to 200 characters).  A second user witnesses: `witness`, an enabled pharmacist,
 * technician or monitor other than the logged-in user, authenticated here with
 * witness_password (their signing key is unsealed for the call and wiped after; the logged-in
 * user stays logged in).  One transaction writes two entries: "kit.destroy" (params trial, kits
 * (the count), method, certificate, witness; e-signed "destroyed" by the logged-in pharmacist)
 * with the changes, then "kit.destroy_witness" (trial, kits, method, certificate, destroyed_by;
 * done and e-signed "witnessed destruction" by the witness).  Not inside a batch.  A wrong
 * witness password changes nothing but is recorded as a failed login of the witness's account
 * (auth.failed, toward its lockout).  The witness's password is checked before their account's
 * state and role, so that those are refused as such only with the right password (the
 * logged-in user as witness is refused before it).  Pharmacists.
 * Errors: CTM_EINVAL (method, certificate, witness or its password empty or too long; trial
 * code; a kit named twice), CTM_ENOTFOUND (trial, a kit), CTM_ERULE (a kit not pending
 * destruction or packed in a shipback, named in the message; the witness is the logged-in user),
 * CTM_EAUTH (unknown witness or wrong password), CTM_EDISABLED (the witness's account),
 * CTM_EDENIED (not a pharmacist; the witness's role may not witness, or their password was
 * reset), CTM_EMISUSE (inside a batch).  On failure nothing is destroyed.
 */
CTM_API CTM_WARN_UNUSED int ctm_destroy(ctm_db *db, const char *trial, const char *const *kits,
                                        size_t nkits, const char *method, const char *certificate,
                                        const char *witness, const char *witness_password);

/**
 * The destructions of a trial (NULL: all trials), in the order they happened: trial, kit_number,
 * kit_type, lot, expiry, method, certificate, destroyed (UTC time), destroyed_by, witness.  Any
 * logged-in user: it shows no arm.
 * Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_destructions(ctm_query **out, ctm_db *db, const char *trial);

/**
 * Pack a shipback: an outgoing shipment `shipment` (a code, unique in the trial) of kits going
 * back to the sponsor, to `destination` (NULL: the trial's sponsor; at most 200 characters).
 * Each kit (number or scan; each once) is returned, expired, damaged or pending destruction and
 * in no other shipback; it keeps its status and location until the dispatch, and meanwhile
 * cannot be destroyed.  Pharmacists.  Audited "shipback.pack" (params trial, shipment,
 * destination, kits).
 * Errors: CTM_EINVAL (shipment, destination, trial code, a kit named twice or none),
 * CTM_ENOTFOUND (trial, a kit), CTM_EEXISTS (the shipment number), CTM_ERULE (a kit in another
 * status or packed already, named in the message), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipback(ctm_db *db, const char *trial, const char *shipment,
                                         const char *destination, const char *const *kits,
                                         size_t nkits);

/**
 * Confirm a packed shipback's dispatch with the carrier's reference (e.g. an air waybill; 1 to
 * 200 characters): its kits become "returned_to_sponsor" and leave their location, the shipback
 * "dispatched" (time and user recorded).  Pharmacists.  Audited "shipback.dispatch" (params
 * trial, shipment, reference, kits), e-signed "returned to sponsor".
 * Errors: CTM_EINVAL (reference, shipment), CTM_ENOTFOUND (trial, shipment), CTM_ERULE
 * (dispatched already; no kits), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipback_dispatch(ctm_db *db, const char *trial,
                                                  const char *shipment, const char *reference);

/**
 * Cancel a packed shipback (with a reason): its kits are unpacked, as they were, and its number
 * is free again.  Pharmacists.  Audited "shipback.cancel" (params trial, shipment).
 * Errors: CTM_EINVAL (reason, shipment), CTM_ENOTFOUND (trial, shipment), CTM_ERULE (dispatched
 * already), CTM_EDENIED.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipback_cancel(ctm_db *db, const char *trial,
                                                const char *shipment, const char *reason);

/**
 * The shipbacks of a trial (NULL: all trials): trial, shipment, destination, status ("packed",
 * "dispatched"), kits, packed (UTC time), packed_by, dispatched, dispatched_by, reference.  Any
 * logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial code), CTM_ENOTFOUND (trial).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipbacks(ctm_query **out, ctm_db *db, const char *trial);

/**
 * A shipback's manifest rows, by kit number: shipment, kit_number, kit_type, lot, expiry, status
 * (the kit's status when packed), units_left (units a subject brought back, as counted, NULL when
 * not counted; else the kit's units).  No arm, for anyone: the sponsor knows its kits.  Any
 * logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial missing, shipment), CTM_ENOTFOUND (trial, shipment).  On
 * failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipback_kits(ctm_query **out, ctm_db *db, const char *trial,
                                              const char *shipment);

/**
 * The manifest of ctm_shipback_kits() as CSV (RFC 4180, CRLF, a header row; a text cell that a
 * spreadsheet would run as a formula gets a leading single quote).  *csv is malloc'd (free with
 * ctm_free()).
 * Errors: those of ctm_shipback_kits(), CTM_EINVAL (csv NULL), CTM_ENOMEM.  On failure *csv is
 * NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_shipback_manifest(char **csv, ctm_db *db, const char *trial,
                                                  const char *shipment);
/**
 * The supply forecast of a trial over the next `days` days (1 to 3650): per kit type, the kits
 * the subjects' visits falling due need against the stock that can meet them
 * (docs/forecast-and-inspection.md).  A visit is due when its subject is randomized (on hold or
 * not), it is neither dispensed nor assigned, its window has not closed before today and its
 * target day is at most today + days; it is counted as dispensed on its target day, or today
 * when that has passed, with the schedule's kits (DOSE at the subject's current dose level).  A
 * kit can serve it when it could be dispensed then: available at a location, not assigned, and
 * expiring no earlier than the kit type's do-not-dispense days after that day and the end of the
 * next visit's window (after the last visit: the kit type's dispensing days).
 * Columns: kit_type, arm (NULL: all arms), through (today + days, "YYYY-MM-DD"), visits_due,
 * kits_needed, kits_available (available now, not assigned), kits_dispensable (of those, the ones
 * still dispensable on the day `through`), kits_quarantined (all-arms rows only; NULL on per-arm
 * rows), shortfall (kits needed that the stock cannot give, each visit taking the kits that expire
 * first among those it may have), first_shortfall (the day of the first visit left short; NULL:
 * none).  One all-arms row per kit type, in kit type order; the all-arms row pools the arms (a
 * lower bound of the shortfall, as kits go only to subjects of their arm), the same for every
 * reader.  A reader who sees the trial's arms (an open trial, or an unblinded user) gets after
 * each all-arms row one row per arm, in the trial's order, with that arm's true figures; a
 * blinded reader gets only the all-arms rows, which do not change with the arms.  Any logged-in
 * user.
 * Errors: CTM_EINVAL (out NULL, trial NULL or not a code, days out of range), CTM_ENOTFOUND
 * (trial), CTM_EMISUSE (nobody logged in).  On failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_forecast(ctm_query **out, ctm_db *db, const char *trial, int days);

/**
 * The findings of a self-inspection of a trial (NULL: every trial), one row per finding:
 * category, trial (NULL for the site's findings: signatures, accounts, and with trial NULL the
 * excursions of a location, which may hold kits of many trials), reference (a kit
 * number, "lot L", "shipment NO", "excursion N", "seq N" or a user name), subject (the screening
 * number, for an overdue return; else NULL), detail (a sentence naming the facts) and since (the
 * day, "YYYY-MM-DD", the finding began or its last evidence).  Categories, in this order:
 * "discrepancy" (every receipt discrepancy recorded for the trial's shipments), "overdue_return"
 * (a kit with its subject, neither returned nor lost, after the end of the next visit's window,
 * counted from the dispensing when that visit is anchored on it; after the last visit the
 * dispensing day plus the kit type's dispensing days: a kit type without is never overdue),
 * "expired_on_hand" (kits received, available or quarantined, and bulk stock, past their expiry:
 * the kit's own, else the lot's), "open_excursion" (an excursion no decision closed, of the
 * trial's shipments or recording kits of the trial), "missing_signature" (a ledger entry of an
 * action that requires an e-signature without one: ctm_verify() refuses such a ledger too; none
 * under normal operation), "stale_access" (an enabled account whose newest action in the ledger
 * is older than stale_days days (1 to 3650), or that has none and was created longer ago than
 * that: logins are not recorded, so an account that only reads shows here).  No finding names an arm.  Any logged-in user.
 * Errors: CTM_EINVAL (out NULL, trial code, stale_days out of range), CTM_ENOTFOUND (trial),
 * CTM_EMISUSE (nobody logged in), CTM_EINTEGRITY (a ledger entry that cannot be read).  On
 * failure *out is NULL.
 */
CTM_API CTM_WARN_UNUSED int ctm_self_inspection(ctm_query **out, ctm_db *db, const char *trial,
                                                int stale_days);

#ifdef __cplusplus
}
#endif

#endif /* CTM_H */
