/* actions.c - the registry: every action libctm writes, who may perform it, how it is signed. */
#include <string.h>

#include "actions.h"

#define ADMIN CTM_ROLEBIT_ADMIN
#define PHARMACIST CTM_ROLEBIT_PHARMACIST
#define TECHNICIAN CTM_ROLEBIT_TECHNICIAN
#define INVESTIGATOR CTM_ROLEBIT_INVESTIGATOR
#define MONITOR CTM_ROLEBIT_MONITOR

#define MEANING_ACCOUNT "authorized account change"
#define MEANING_RECEIPT "receipt confirmed"
#define MEANING_DISPENSED "dispensed"

/* Adding an action is one row here, plus its rows in the documents tests/actions checks
 * (docs/internals.md, "Actions").  A name, once written to a ledger, keeps its meaning and its
 * signing policy for good: verifiers of old ledgers rely on them. */
static const ctm__action_def actions[] = {
    /* schema version 1 */
    {"site.init", CTM_ACTOR_SYSTEM, 0, CTM_ESIG_ALWAYS, "site initialised", NULL},
    {"user.add", CTM_ACTOR_ROLES, ADMIN, CTM_ESIG_ALWAYS, MEANING_ACCOUNT, NULL},
    {"user.disable", CTM_ACTOR_ROLES, ADMIN, CTM_ESIG_ALWAYS, MEANING_ACCOUNT, NULL},
    {"user.enable", CTM_ACTOR_ROLES, ADMIN, CTM_ESIG_ALWAYS, MEANING_ACCOUNT, NULL},
    {"user.role", CTM_ACTOR_ROLES, ADMIN, CTM_ESIG_ALWAYS, MEANING_ACCOUNT, NULL},
    /* Signed with the user's new key; entries before schema version 3 also hold unsigned own
     * changes (new_signing_key "no"). */
    {"user.passwd", CTM_ACTOR_OWN, 0, CTM_ESIG_PARAM, "password changed", "new_signing_key"},
    {"user.reset", CTM_ACTOR_ROLES, ADMIN, CTM_ESIG_ALWAYS, MEANING_ACCOUNT, NULL},
    {"auth.failed", CTM_ACTOR_SYSTEM, 0, CTM_ESIG_NEVER, NULL, NULL},
    {"auth.reset", CTM_ACTOR_SYSTEM, 0, CTM_ESIG_NEVER, NULL, NULL},
    {"audit.note", CTM_ACTOR_ANY, 0, CTM_ESIG_CALLER, NULL, NULL},
    /* schema version 2 */
    {"trial.add", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"kittype.add", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"location.add", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.receive", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.scan", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.confirm", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, MEANING_RECEIPT, NULL},
    /* Technicians only to quarantined, damaged or missing: a rule of the transition, in stock.c. */
    {"kit.status", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"expiry.extend", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "expiry extended", NULL},
    {"kit.transfer", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.send", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.receive_bulk", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, MEANING_RECEIPT, NULL},
    /* schema version 3 */
    {"ledger.upgrade", CTM_ACTOR_SYSTEM, 0, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.unscan", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"shipment.void", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "shipment voided", NULL},
    /* schema version 5.  Lists and minimization schemes also need an unblinded user: a rule of
     * randomization.c. */
    {"random.generate", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"random.import", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"random.minimization", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.add", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.strata", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.randomize", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.withdraw", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.complete", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    /* schema version 5: visits and dosing */
    {"visit.add", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"dose.levels", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.hold", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    {"subject.resume", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_NEVER, NULL, NULL},
    /* schema version 5: dispensing and emergency unblinding */
    {"dispense.assign", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"dispense.confirm", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, MEANING_DISPENSED, NULL},
    {"dispense.cancel", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"dispense.replace", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"dispense.reverse", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "dispensing reversed",
     NULL},
    {"dispense.record", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, MEANING_DISPENSED, NULL},
    /* Pharmacists only when unblinded: a rule of dispensing.c. */
    {"subject.codebreak", CTM_ACTOR_ROLES, PHARMACIST | INVESTIGATOR, CTM_ESIG_ALWAYS,
     "emergency unblinding", NULL},
    /* schema version 6: temperatures */
    {"temp.import", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"temp.readings", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    /* schema version 7: excursions.  An import's excursions and the quarantine they cause are
     * the importing user's action, in the import's transaction. */
    {"temp.excursions", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"location.alarm", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"excursion.release", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "excursion released",
     NULL},
    {"excursion.reject", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "excursion rejected",
     NULL},
    {"shipment.logger", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    /* schema version 8: returns from subjects */
    {"kit.return", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"kit.lost", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN, CTM_ESIG_NEVER, NULL, NULL},
    {"trial.compliance", CTM_ACTOR_ROLES, ADMIN | PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    /* schema version 8: destruction and return to the sponsor.  kit.destroy_witness is the
     * witness's entry, right after the kit.destroy it witnesses, in its transaction: done and
     * signed by the witness (not the logged-in user), a user of these roles other than the
     * destroyer (disposal.c, verify.c).  Blinded users may witness: no arm is shown. */
    {"kit.destroy", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "destroyed", NULL},
    {"kit.destroy_witness", CTM_ACTOR_ROLES, PHARMACIST | TECHNICIAN | MONITOR, CTM_ESIG_ALWAYS,
     "witnessed destruction", NULL},
    {"shipback.pack", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"shipback.cancel", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_NEVER, NULL, NULL},
    {"shipback.dispatch", CTM_ACTOR_ROLES, PHARMACIST, CTM_ESIG_ALWAYS, "returned to sponsor",
     NULL},
    /* schema version 8: a monitor's sign-off of a reconciliation (the monitor changes nothing
     * else: every other action refuses the role) */
    {"signoff.reconciliation", CTM_ACTOR_ROLES, MONITOR, CTM_ESIG_ALWAYS,
     "reconciliation reviewed", NULL},
    /* schema version 8.  The cosignature is the monitor's own signature, by its witness key, on
     * the checkpoint it stores: no e-signature besides. */
    {"audit.cosign", CTM_ACTOR_ROLES, MONITOR, CTM_ESIG_NEVER, NULL, NULL},
};

const ctm__action_def *ctm__action_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].name, name) == 0)
            return &actions[i];
    return NULL;
}

const ctm__action_def *ctm__action_table(size_t *n)
{
    *n = sizeof actions / sizeof actions[0];
    return actions;
}

int ctm__action_needs_esig(const char *action, const ctm__param *params, uint32_t nparams)
{
    const ctm__action_def *d = ctm__action_find(action);
    if (d == NULL)
        return 0;
    if (d->esig == CTM_ESIG_ALWAYS)
        return 1;
    if (d->esig != CTM_ESIG_PARAM)
        return 0;
    for (uint32_t i = 0; i < nparams; i++)
        if (strcmp(params[i].key, d->esig_param) == 0)
            return strcmp(params[i].value, "yes") == 0;
    return 0;
}
