/* internal.h - what the library's modules share; never installed. */
#ifndef CTM_INTERNAL_H
#define CTM_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "actions.h"
#include "blinding.h"
#include "core.h"
#include "entry.h"
#include "merkle.h"
#include "schema.h"
#include "query.h"
#include "store.h"

/* ---- db.c: statements ---- */
/* Statements of the hot write path, prepared once per handle (db.c). */
enum ctm__stmt_id {
    CTM_ST_LEDGER_INSERT,
    CTM_ST_LEDGER_TAIL,
    CTM_ST_LEDGER_CLEAR_FRONTIER,
    CTM_ST_LEDGER_SEAL,
    CTM_ST_LEDGER_INSERT_SEALED,
    CTM_ST_USER_CHECK,
    CTM_ST_COUNT
};
/* The handle's statement part: the write path's statements, prepared on first use and kept
 * until ctm_close.  Written by db.c alone. */
typedef struct ctm__stmt_cache {
    ctm__st *st[CTM_ST_COUNT];
} ctm__stmt_cache;
void ctm__stmts_init(ctm_db *db);
void ctm__stmts_free(ctm_db *db);
/* The statement, reset and unbound, ready to bind and step; borrowed from the handle. */
int ctm__stmt(ctm_db *db, enum ctm__stmt_id id, ctm__st **st);
/* The statement as it stands, not reset: a run begun with ctm__store_begin_read goes on (NULL
 * when it was never prepared). */
ctm__st *ctm__stmt_as_is(ctm_db *db, enum ctm__stmt_id id);
/* Prepare a one-off statement; step one to the end and finalize it (CTM_OK when done). */
int ctm__prepare(ctm_db *db, ctm__st **st, const char *sql);
int ctm__step_done(ctm_db *db, ctm__st *st, const char *doing);
/* As ctm__step_done, and *changed gets the rows the statement changed (0 on failure): for the
 * guarded UPDATE that finds its row changed by another writer since it was read. */
int ctm__step_changed(ctm_db *db, ctm__st *st, const char *doing, int64_t *changed);
/* The integer that a statement without parameters gives in its one row (an aggregate). */
int ctm__query_int(ctm_db *db, const char *sql, const char *doing, int64_t *out);
/* Step a statement without result rows (a cached one or not); CTM_OK when done. */
int ctm__step(ctm_db *db, ctm__st *st, const char *doing);
/* Step an INSERT ... RETURNING id once, put the id in *id and finalize the statement. */
int ctm__insert_id(ctm_db *db, ctm__st *st, int64_t *id, const char *doing);

/* ---- hasher.c ---- */
/* A one-worker pipeline: records pushed in order are consumed in order on another thread. */
typedef struct ctm__pipe ctm__pipe;
typedef void (*ctm__pipe_fn)(void *ctx, const uint8_t *record, size_t len);
int ctm__pipe_start(ctm__pipe **out, ctm__pipe_fn consume, void *ctx);
/* Queue one record made of nparts pieces (copied); blocks while the queue is full. */
int ctm__pipe_push(ctm__pipe *p, const void *const *parts, const size_t *lens, int nparts);
/* Wait until every record was consumed, then free the pipe. */
void ctm__pipe_finish(ctm__pipe *p);
/* Drop what is still queued, stop, free (NULL is fine). */
void ctm__pipe_abort(ctm__pipe *p);
/* The handle's hasher part: the open batch's tree on the pipe.  Written by hasher.c alone. */
typedef struct ctm__hasher {
    ctm__pipe *pipe;             /* hashes a batch's entries on another thread; NULL when idle */
    ctm__frontier frontier;      /* the worker's tree while the batch is open */
} ctm__hasher;
void ctm__hasher_init(ctm_db *db);
/* Start from the transaction's frontier, push entries, finish into *into (or abort). */
int ctm__hasher_start(ctm_db *db);
int ctm__hasher_push(ctm_db *db, const uint8_t *entry, size_t len);
void ctm__hasher_finish(ctm_db *db, ctm__frontier *into);
void ctm__hasher_abort(ctm_db *db);
/* Abort whatever is under way (ctm_close). */
void ctm__hasher_free(ctm_db *db);

/* ---- ledger.c: the transaction part ---- */
/* The transaction under way on the handle, a single action's or a batch's, and the salts of the
 * next entries.  Written by ledger.c alone: the batch calls (audit.c) go through ctm__txn_batch_*. */
typedef struct ctm__txn {
    int batch;                   /* inside ctm_batch_begin */
    int batch_entries;
    int batch_broken;            /* an entry of the open batch missed the tree: roll back only */
    int open;                    /* a transaction with ledger appends is under way */
    ctm__frontier frontier;      /* the tree as of the open transaction */
    int frontier_loaded;
    uint64_t start_size;         /* tree size when the transaction's first entry was appended */
    uint64_t next_seq;           /* seq of the next entry in the open transaction */
    /* Salts for the next entries, drawn from randombytes_buf() many at a time: one system call
     * per entry would cost more than a batched entry's whole write. */
    uint8_t salt_pool[64 * CTM_ENTRY_SALT_LEN];
    size_t salts_left;
    /* Moves on when an action changed rows and when a batch ends: a check of the session's
     * account made inside a batch holds while it stays the same (users.c). */
    uint64_t epoch;
} ctm__txn;
void ctm__txn_init(ctm_db *db);
/* Wipe the salts not drawn yet (ctm_close). */
void ctm__txn_free(ctm_db *db);
/* The batch calls: the store's transaction is open (start); before its COMMIT, the batch's
 * entries hashed and its checkpoint written (seal, CTM_OK or why not); after its COMMIT or
 * ROLLBACK (end). */
void ctm__txn_batch_start(ctm_db *db);
int ctm__txn_batch_seal(ctm_db *db);
void ctm__txn_batch_end(ctm_db *db);

/* The capture part: the column lists of audited tables, loaded on a table's first change and
 * kept until ctm_close (the schema is fixed for a schema version).  Written by ledger.c alone. */
typedef struct ctm__capture {
    struct ctm__tinfo *tables;
} ctm__capture;
void ctm__capture_init(ctm_db *db);
void ctm__capture_free(ctm_db *db);

/* ---- domain/site.c: the site key part ---- */
/* Where the site's signing key comes from and the key once loaded.  Written by site.c alone:
 * set up by ctm_open, loaded by ctm__site_info and ctm__site_key, wiped by ctm_close; ctm_init
 * (users.c) hands a new site's key over with ctm__site_key_adopt.  Declared here, below the
 * domain, because struct ctm_db holds it. */
typedef struct ctm__sitekey {
    char *key_path;              /* the key file; NULL for a server site without one named */
    unsigned char *seed;         /* sodium_malloc'd 32 bytes when supplied by the application */
    unsigned char *sk;           /* sodium_malloc'd 64-byte signing key once loaded */
    char *origin;                /* checkpoint origin and key name, once loaded */
    uint8_t pub[32];
} ctm__sitekey;
/* A new site's origin, public key and secret key (taken over, also on failure) as the handle's;
 * ctm__site_key_forget drops the origin and wipes the key (a failed init). */
int ctm__site_key_adopt(ctm_db *db, const char *origin, const uint8_t pub[32], unsigned char *sk);
void ctm__site_key_forget(ctm_db *db);

/* ---- domain/users.c: the session part ---- */
/* Who is logged in on the handle.  Written by users.c alone (login, the re-check of
 * ctm__require_user, the user's own password change, logout); the ledger reads the name, printed
 * name and key to sign entries, and only blinding.c reads the unblinded flag.  Declared here,
 * below the domain, because struct ctm_db holds it. */
typedef struct ctm__session {
    int64_t id;
    char *user;                  /* NULL: nobody is logged in */
    char *printed;
    char *role;
    int unblinded;
    unsigned char *sk;           /* sodium_malloc'd 64-byte e-signature key while logged in */
    int must_change;             /* the password was reset: no key, only its own change allowed */
    int checked;                 /* the account was re-checked inside the open batch ... */
    uint64_t checked_epoch;      /* ... at this tx.epoch */
} ctm__session;
void ctm__session_init(ctm_db *db);
/* Wipe and free the session's key and names: nobody is logged in (ctm_logout, ctm_close). */
void ctm__session_free(ctm_db *db);

/* A handle is made of parts.  Each part is written by one module alone, its owner, which sets
 * it up with its _init (called by ctm_open) and tears it down with its _free (called by ctm_close,
 * and where the part is reset: ctm_logout frees the session).  Every other module reads a part's
 * fields and changes them only by calling the owner; tests/layers/check_owners.py fails on a
 * write anywhere else (docs/internals.md). */
struct ctm_db {
    /* the handle's own fields: domain/site.c (ctm_open, the migration, ctm_close) */
    ctm__store *store;
    char *path;
    unsigned flags;
    int readonly;
    int schema_version;          /* the site's, as opened (older on a read-only handle) */
    ctm__sitekey site;           /* domain/site.c: the site key */
    ctm__session session;        /* domain/users.c: who is logged in */
    ctm__txn tx;                 /* ledger/ledger.c: the transaction, its tree, the salts */
    ctm__hasher hasher;          /* ledger/hasher.c: a batch's hashing thread */
    ctm__stmt_cache stmts;       /* ledger/db.c: the write path's statements */
    ctm__capture capture;        /* ledger/ledger.c: the audited tables' columns */
};


/* The ledger's own table (ledger) and SQLite's (sqlite_*): every other table is
 * row-audited, its changes recorded in entries and replayed by verify. */
int ctm__table_is_internal(const char *table);
/* Run SQL with no result rows; a failure says what was being done. */
int ctm__exec(ctm_db *db, const char *sqltext, const char *doing);
/* The site's Ed25519 secret key, loaded from the seed or key file on first use. */
int ctm__site_key(ctm_db *db, const unsigned char **sk);
int ctm__site_info(ctm_db *db, char **origin, uint8_t pub[32]);
/* The site key file is written in two steps so that an interrupted init leaves either no site or
 * a site with its key: ctm__write_key_file writes "<path>.pending" (mode 0600, refusing when
 * <path> exists); after the site is committed ctm__commit_key_file renames it into place (and
 * opening a site whose key is still pending finishes that); ctm__drop_key_file removes it when
 * init fails. */
int ctm__write_key_file(const char *path, const unsigned char *seed);
int ctm__commit_key_file(const char *path);
void ctm__drop_key_file(const char *path);

/* ---- ledger.c: the write path ----
 * ctm__action_begin opens a transaction (or a savepoint inside a batch) and starts capturing row
 * changes; ctm__action_commit appends the entry and, outside a batch, signs the checkpoint and
 * commits; ctm__action_rollback undoes everything since begin. */
/* A second user who signs an entry of their own inside another user's call (a destruction's
 * witness, users.c's ctm__signer_open): their name, printed name and unsealed key. */
typedef struct ctm__signer {
    int64_t id;
    char *user;
    char *printed;
    unsigned char *sk;           /* sodium_malloc'd 64-byte e-signature key */
} ctm__signer;

typedef struct ctm__action {
    ctm_db *db;
    const char *name;           /* "user.add" */
    const ctm__action_def *def; /* its row in the registry (actions.h) */
    const char *user;           /* acting user name ("" for system actions) */
    const char *reason;
    ctm__param params[16];
    uint32_t nparams;
    /* CTM_ESIG_CALLER actions only (a note): non-NULL, e-sign with the logged-in user's key and
     * this meaning.  Every other action's signature and meaning come from the registry. */
    const char *caller_meaning;
    /* Non-NULL: the entry is this signer's, done and e-signed by them (not the logged-in user);
     * set before ctm__action_commit. */
    const ctm__signer *signer;
    int capture;                 /* row changes are recorded (not for entry-only actions) */
    ctm__changes changes;        /* the recorded change groups, in statement order */
    int capture_rc;              /* first failure inside the pre-update hook (CTM_OK if none) */
    int open;
    int savepoint;               /* a savepoint was taken inside a batch */
} ctm__action;

/* `name` must be in the registry (actions.h): any other is refused with CTM_EMISUSE before
 * anything is opened. */
int ctm__action_begin(ctm__action *a, ctm_db *db, const char *name, const char *reason);
/* The same for an action whose only write is its own entry (a note): no change capture, and in
 * a batch no savepoint, since a single INSERT is atomic on its own. */
int ctm__action_begin_entry_only(ctm__action *a, ctm_db *db, const char *name, const char *reason);
void ctm__action_param(ctm__action *a, const char *key, const char *value);
int ctm__action_commit(ctm__action *a);
void ctm__action_rollback(ctm__action *a);
/* Sign the checkpoint of the current tree and store it, with the frontier, on the newest entry
 * (inside the open transaction, before COMMIT). */
int ctm__checkpoint_write(ctm_db *db);
/* The leaf hashes of seq 0..size-1 as stored (malloc'd array). */
int ctm__load_leaves(ctm_db *db, uint64_t size, ctm_hash **leaves);
/* Current tree size and frontier. */
int ctm__ledger_state(ctm_db *db, ctm__frontier *f);
/* Inside the open migration transaction of a site whose schema version was `from`: append the
 * system entry ledger.upgrade (params from, to; salted like every new entry) with its signed
 * checkpoint.  Nothing when the ledger is empty.  Needs the site key (CTM_EIO without it). */
int ctm__ledger_upgrade(ctm_db *db, int from, int to);
/* Non-zero when the ledger starts with an unsalted (version-1) entry, a site from before schema
 * version 3: its old hashes can be tested against guessed arms (audit.c hides them). */
int ctm__ledger_legacy(ctm_db *db, int *legacy);

/* ---- users.c ---- */
/* Require a logged-in, enabled user; with role_mask (CTM_ROLEBIT_*, actions.h) non-zero require
 * one of those roles. */
int ctm__require_user(ctm_db *db, unsigned role_mask, const char *action);
/* ctm__require_user with the roles the registry gives the action `name` (a CTM_ACTOR_ROLES or
 * CTM_ACTOR_ANY action; any other, or a name not in the registry, is CTM_EMISUSE); `what` names
 * the call in messages ("user add"). */
int ctm__require_action(ctm_db *db, const char *name, const char *what);
/* A second user's signature inside the logged-in user's call (a destruction's witness): load
 * `user`, who must be enabled, hold one of role_mask's roles, not be the logged-in user, and have
 * a key of their own (not a password reset by an administrator), and unseal their key with
 * `password`.  A wrong password (or an unknown user) is CTM_EAUTH after recording it as a failed
 * login of that account (auth.failed, counted toward its lockout; never the logged-in user's);
 * so never inside a batch.  The order of the refusals: the logged-in user as `user` first (it
 * tells nothing), then the password, and only for the right one the account's state and role,
 * so that the caller learns nothing of another's account without its password.  `what` names the call and `field` the argument in messages.
 * ctm__signer_free wipes the key; ctm__signer_check re-reads the account under the writer lock
 * (still enabled, the same key). */
int ctm__signer_open(ctm_db *db, const char *user, const char *password, unsigned role_mask,
                     const char *what, const char *field, ctm__signer *out);
int ctm__signer_check(ctm_db *db, const ctm__signer *s, const char *what);
void ctm__signer_free(ctm__signer *s);
/* The logged-in user's password entered again (an emergency unblinding): CTM_OK, or CTM_EAUTH
 * after recording the failure as a failed login (auth.failed, which counts toward the lockout);
 * `what` names the call in messages. */
int ctm__session_reauth(ctm_db *db, const char *password, const char *what);

/* ---- audit.c: the newest checkpoint note as stored (not verified) and its size; CTM_ENOTFOUND
 * before the site's first (witness.c reads it too) ---- */
int ctm__latest_checkpoint(ctm_db *db, char **note, uint64_t *size);

/* ---- audit.c: a call that opened its own batch (an import) and failed inside it ---- */
/* Roll the batch back and return rc, the failure's message kept (ctm_batch_rollback clears
 * it). */
int ctm__batch_abort(ctm_db *db, int rc);

/* ---- audit.c: the log listing, shared with audit_query.c ---- */
/* ctm_audit_log()'s column names (static); the context that decides what db's logged-in reader
 * is shown (malloc'd, freed with free()); and the row for the entry of a "SELECT seq, entry". */
const char *const *ctm__audit_log_columns(int *ncols);
int ctm__audit_log_ctx(void **ctx, ctm_db *db);
int ctm__audit_log_row(ctm__st *st, ctm__row *row, void *ctx);

/* ---- audit_query.c ---- */
/* ctm_audit_query() with the kit filter a kit number (the domain resolves a scan first). */
int ctm__audit_query(ctm_query **out, ctm_db *db, const ctm_audit_filter *filter);

#endif
