/* temp.h - what temperatures (temp.c), excursions (excursion.c) and receipt share (internal). */
#ifndef CTM_TEMP_H
#define CTM_TEMP_H

#include "logger.h"
#include "stock.h"

/* Prepare sql, a statement over a location's readings, days, files or excursions, for a
 * shipment's instead when shipment is non-zero: its column location_id becomes shipment_id (two
 * names of one length). */
int ctm__prepare_owned(ctm_db *db, int shipment, ctm__st **st, const char *sql);

/* Import a logger file for a location (shipment 0) or a shipment (shipment 1) by its id; name
 * is the owner's name (a location's, a shipment's number).  in_batch: inside the caller's open
 * batch, which commits or rolls back; else in a batch of its own.  The readings' excursions are
 * recorded in the same transaction.  As ctm_temp_import() otherwise. */
int ctm__temp_import_owned(ctm_db *db, int shipment, int64_t owner_id, const char *name,
                           const char *path, const ctm_temp_import_options *opts,
                           ctm_temp_import_result *result, int in_batch);

/* An import's search for excursions (excursion.c), inside its open batch.  Begun before the
 * file's readings are stored (info: what the first pass found; the stored readings before the
 * file are walked); given each of the file's readings as it is stored when the file meets none
 * of the stored ones (else they are read back); ended after they are stored: the readings after
 * the file and its days are walked, and what was found is recorded (new excursions, or the
 * ones found again extended), with the kits each affects, the available ones quarantined, in one
 * action "temp.excursions" (none when nothing changed).  *recorded and *quarantined count.
 * Freed with ctm__excursion_scan_free, ended or not. */
typedef struct ctm__excursion_scan ctm__excursion_scan;
int ctm__excursion_scan_begin(ctm__excursion_scan **out, ctm_db *db, int shipment,
                              int64_t owner_id, const ctm__logger_info *info);
int ctm__excursion_scan_reading(ctm__excursion_scan *s, int64_t t_us, int64_t mc);
int ctm__excursion_scan_end(ctm__excursion_scan *s, const char *name,
                            const ctm__logger_info *info, uint64_t *recorded,
                            uint64_t *quarantined);
void ctm__excursion_scan_free(ctm__excursion_scan *s);

/* A kit's exposure by its id (number for messages), as ctm_kit_exposure() reports it. */
int ctm__kit_exposure_of(ctm_db *db, int64_t kit_id, const char *number,
                         ctm_exposure_result *res);

/* The MKT (dH/R 10,000 K) of the readings over excursion id's period, each holding at most its
 * allowed gap: *has 0 when the period holds no reading. */
int ctm__excursion_mkt(ctm_db *db, int64_t id, double *mkt_c, double *energy_kj, int *has);

/* The default alarm settings of a location that has none (ctm_location_alarm). */
#define CTM__ALARM_DELAY_MINUTES 30
#define CTM__ALARM_GAP_MINUTES 60
#define CTM__STR_(x) #x
#define CTM__STR(x) CTM__STR_(x)

#endif
