/* actions.h - the registry of every action libctm writes to its ledger.
 *
 * One row per action (actions.c): its name as entries record it, the roles that may perform it,
 * and its e-signature policy with the signature's meaning.  The write path refuses a name that is
 * not in the table and takes the meaning from it, and verification asks it which entries must be
 * signed, so the two cannot disagree.  docs/audit-format.md (4.3, 4.4), docs/c-api.md,
 * docs/cli.md, docs/python.md and examples/python/verify_ledger.py list the same actions;
 * tests/actions checks them against this table. */
#ifndef CTM_ACTIONS_H
#define CTM_ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

/* The roles of users, as bits of a role mask (users.role holds the name). */
#define CTM_ROLEBIT_ADMIN 0x1
#define CTM_ROLEBIT_PHARMACIST 0x2
#define CTM_ROLEBIT_TECHNICIAN 0x4
#define CTM_ROLEBIT_INVESTIGATOR 0x8
#define CTM_ROLEBIT_MONITOR 0x10

typedef enum ctm__esig_policy {
    CTM_ESIG_NEVER,  /* never e-signed */
    CTM_ESIG_ALWAYS, /* always e-signed, with the registry's meaning */
    CTM_ESIG_PARAM,  /* e-signed, with the registry's meaning, exactly when the action's first
                      * parameter named esig_param has the value "yes" */
    CTM_ESIG_CALLER  /* e-signed when the caller gives a meaning, with that meaning (a note) */
} ctm__esig_policy;

typedef enum ctm__actor {
    CTM_ACTOR_ROLES, /* a logged-in user of one of `roles` */
    CTM_ACTOR_ANY,   /* any logged-in user */
    CTM_ACTOR_OWN,   /* a logged-in user, on their own account only, even one whose password
                      * was reset and must be changed */
    CTM_ACTOR_SYSTEM /* libctm itself: no logged-in user (a site's creation, logins, upgrades) */
} ctm__actor;

typedef struct ctm__action_def {
    const char *name;       /* "user.add", as entries record it */
    ctm__actor actor;
    unsigned roles;         /* CTM_ROLEBIT_* for CTM_ACTOR_ROLES, else 0 */
    ctm__esig_policy esig;
    const char *meaning;    /* CTM_ESIG_ALWAYS and CTM_ESIG_PARAM: the signature's meaning */
    const char *esig_param; /* CTM_ESIG_PARAM: the parameter that decides */
} ctm__action_def;

/* The row of the action `name`; NULL for a name libctm does not write (an entry written by a
 * later version, or a programming error on the write path). */
const ctm__action_def *ctm__action_find(const char *name);

/* The whole table, in the order of docs/audit-format.md 4.3; *n gets its length. */
const ctm__action_def *ctm__action_table(size_t *n);

/* Non-zero when an entry of `action` with these parameters must carry an e-signature
 * (audit-format.md 4.4): an ALWAYS action, or a PARAM action whose first parameter named
 * esig_param is "yes".  0 for CTM_ESIG_CALLER, CTM_ESIG_NEVER and unknown actions. */
int ctm__action_needs_esig(const char *action, const ctm__param *params, uint32_t nparams);

#endif
