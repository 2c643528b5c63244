/* stock.h - what the trial, stock and receipt modules share (internal). */
#ifndef CTM_STOCK_H
#define CTM_STOCK_H

#include "internal.h"

typedef struct ctm__trial {
    int64_t id;
    int blinded;
} ctm__trial;

/* Look a trial or location up by its code; CTM_ENOTFOUND names it. */
int ctm__trial_lookup(ctm_db *db, const char *code, ctm__trial *t);
int ctm__location_lookup(ctm_db *db, const char *name, int64_t *id);

/* The opening every listing shares: *out cleared, a logged-in user, and the trial looked up
 * when one is named (t zeroed otherwise). */
int ctm__listing_begin(ctm_query **out, ctm_db *db, const char *what, const char *trial,
                       ctm__trial *t);


/* Kit statuses and the one transition table (stock.c), which alone writes kits.status.  A
 * status is valid when the table names it. */
int ctm__status_valid(const char *status);
/* The table's statuses, each once, in the order the table first names them: the i-th, or NULL
 * past the last. */
const char *ctm__kit_status(size_t i);
/* Non-zero when a kit may go from one status to another; by_hand limits it to the changes
 * ctm_kit_set_status() makes (the others belong to receipt, dispensing, returns...). */
int ctm__transition_allowed(const char *from, const char *to, int by_hand);
/* The status a kit is inserted with, at receipt. */
#define CTM__KIT_FIRST_STATUS "received"
/* Confirm a shipment's received kits: damaged (checked 3), quarantined (checked 2, or an
 * excursion), missing when unchecked (unless unchecked_present: the pharmacist confirms the
 * unchecked kits are here), else available. */
int ctm__kits_confirm(ctm_db *db, int64_t shipment_id, int excursion, int unchecked_present);

/* Excursions (excursion.c) and their kits: quarantine the available kits recorded with
 * excursion `excursion` as quarantined by it; after a decision at decided_us, send its rejected
 * kits in quarantine to pending_destruction, or its released kits back to available when they
 * were quarantined by an excursion and no other excursion still holds them (not decided, or
 * rejected).  The receipt's confirmation quarantines a kit such an excursion holds. */
int ctm__kits_quarantine(ctm_db *db, int64_t excursion);
int ctm__kits_decided(ctm_db *db, int64_t excursion, int64_t decided_us, int release);

/* Move kit `id` (number `number`, for messages) from status `from` to `to` at at_us, as the transition
 * table allows for the calls that are not by hand (dispensing, its reversal, replacements); a kit
 * whose status changed since it was read is refused.  The one writer of kits.status outside
 * stock.c's own calls goes through here. */
int ctm__kit_status_move(ctm_db *db, int64_t id, const char *number, const char *from,
                         const char *to, int64_t at_us);
/* Kit `id` (number `number`) leaves the site from status `from` for `to` (destroyed, returned to
 * the sponsor), as the table allows for the calls not by hand: its location becomes NULL, with a
 * row of kit_moves to nowhere giving `reason`, so that its history shows where it was until then. */
int ctm__kit_leave(ctm_db *db, int64_t id, const char *number, const char *from,
                   const char *to, const char *reason);
/* The kits' history (kit_events): after a statement that changed the status of many kits, a row
 * for each kit of `scope` (SQL over kits k, with ?1 bound to scope_id) whose status is not the one
 * its newest row records, dated now.  ctm__kit_status_move and the other writers of kits.status
 * in stock.c record their own; at_us 0 there means now (a change recorded after the fact, such as
 * a dispensing on paper, gives the time it happened). */
int ctm__kit_events_sync(ctm_db *db, const char *scope, int64_t scope_id);
/* The same for kits the calling action has just registered: their first row each, written
 * without looking for one (a receipt's kits), dated at_us (0: now).  Being each kit's first, it
 * may be dated in the past (a receipt of an earlier day) without breaking the history's order. */
int ctm__kit_events_first(ctm_db *db, const char *scope, int64_t scope_id, int64_t at_us);

/* An incoming shipment by its number (receipt.c); CTM_ENOTFOUND names it. */
typedef struct shipment_row {
    int64_t id;
    char status[16];
    int excursion;
} shipment_row;
int ctm__shipment_lookup(ctm_db *db, const char *number, shipment_row *s);

/* What a scan or a typed kit number says (stock.c).  A GS1 element string (see ctm_gs1_parse)
 * names its kit by the (21) serial in id and carries the pack's lot, expiry and GTIN when it has
 * them (empty strings otherwise); gs1 is the parse, freed with ctm_gs1_free.  Anything else is a
 * typed kit number, copied to id, with gs1 NULL. */
typedef struct ctm__scan {
    char id[48];
    char lot[24];
    char expiry[11];
    char gtin[16];
    ctm_gs1 *gs1;
} ctm__scan;

/* Read one scan into *out (zeroed first).  CTM_EINVAL names what is wrong: empty, an unreadable
 * barcode, a barcode without a serial, a kit number of more than 40 characters. */
int ctm__scan_read(const char *scan, ctm__scan *out);

/* A kit's stays in locations, as the CTE h(location_id, since_us, n) over kit ?1: where its
 * shipment brought it (since the shipment was registered), then each move; n orders moves at
 * one instant.  `select` is the query over h. */
#define CTM__KIT_STAYS_SQL(select)                                                            \
    "WITH h(location_id, since_us, n) AS ("                                                   \
    "  SELECT s.location_id, s.registered_us, 0 FROM kits k"                                  \
    "  JOIN shipments s ON s.id = k.shipment_id WHERE k.id = ?1"                              \
    "  UNION ALL SELECT to_location_id, moved_us, id FROM kit_moves WHERE kit_id = ?1) " select

/* The id and kit number of a kit named by its number or by a scan of its pack, in the trial named
 * (NULL: any trial); CTM_ENOTFOUND names what was not found. */
int ctm__kit_find(ctm_db *db, const char *trial, const char *kit, int64_t *id, char number[48]);

/* A call's list of kits (numbers or scans), resolved before anything is written, for the calls
 * that take several kits at once.  *rows is an array of n rows of `size` bytes, the caller's row
 * type, freed by the caller (NULL on failure).  In the order named, find(db, kit, i, row, arg,
 * &ref) finds entry i into its row and checks it, giving back its id and number (which may point
 * into the row); then a kit named before is refused.  The first refusal wins, so that a list is
 * refused the same way whatever its length.  Errors: CTM_EINVAL "kits: name at least one kit"
 * for none, "kits: K named twice", CTM_ENOMEM, and whatever find returns. */
typedef struct ctm__kit_ref {
    int64_t id;
    const char *number;
} ctm__kit_ref;
typedef int (*ctm__kit_finder)(ctm_db *db, const char *kit, size_t i, void *row, void *arg,
                               ctm__kit_ref *ref);
int ctm__kits_resolve(ctm_db *db, const char *const *kits, size_t n, size_t size,
                      ctm__kit_finder find, void *arg, void **rows);

/* The kit number of a kit named by its number or by a scan of its pack, in trial trial_id (0: in
 * any trial, where two trials' kits of one number make the name ambiguous).  A call that names
 * its trial resolves there: trials may number their kits alike.  CTM_ENOTFOUND, or CTM_EINVAL
 * when two kits answer. */
int ctm__kit_number(ctm_db *db, int64_t trial_id, const char *kit_or_scan, char number[48]);

/* A kit back from its subject (returns.c): the row of kit_returns closing dispensation
 * `dispensation_id`, lost or returned with `units` (-1: not counted), on `day` (days since
 * 1970-01-01), with its condition (NULL: not given).  The caller moves the kit's status. */
int ctm__return_record(ctm_db *db, int64_t kit_id, int64_t dispensation_id, int lost,
                       int64_t units, int64_t day, const char *condition);

#endif
