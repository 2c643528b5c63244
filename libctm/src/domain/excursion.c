/* excursion.c - excursions: found in a location's or a shipment's readings and days as each
 * logger file is imported, recorded with the kits they affect (quarantined), decided by the
 * sponsor (released or rejected), listed and reported.
 *
 * Detection walks the stored readings around the file's span, from the last reading in range
 * before it (so that a run of readings out of range that the file continues is seen whole) to
 * the first reading in range after it.  The rules (ctm.h, "Excursions"; docs/temperatures.md):
 *   - a reading out of range starts a run; each reading holds until the next, at most the
 *     allowed gap; the run ends at the first reading in range, and is an excursion when it lasted
 *     at least the alarm delay;
 *   - a gap longer than the allowed gap is an excursion of unknown temperature from where the
 *     reading before it stopped holding to the next reading; a run it interrupts ends there;
 *   - a run that the newest reading has not ended is recorded as ongoing;
 *   - a day of a daily-summary logger with minutes beyond its alarm limits is an excursion of
 *     that many minutes in that day.
 * What a walk finds is matched with what is recorded: an open excursion of the same class
 * (readings, gap, day) that it overlaps is updated (a file that continues an ongoing run), one
 * already decided that it equals is left alone, anything else is recorded anew, so that evidence
 * found after a decision gets a decision of its own.  Recorded excursions are never removed.
 *
 * Kits: a location's excursion affects every kit whose stays there (from its receipt or move
 * there until it left: a move, its dispensing) meet it; a shipment's affects the shipment's kits.
 * Available kits are quarantined at once; kits under receipt are quarantined by the receipt's
 * confirmation (stock.c, ctm__kits_confirm) while an excursion holds them. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "mkt.h"
#include "temp.h"

#define MAX_FOUND 10000        /* excursions one import may find: more is a wrong allowed gap */
#define WALK_ROWS 8192         /* readings read per statement */
#define US_PER_MIN 60000000LL

/* An excursion as the readings show it. */
typedef struct found {
    const char *kind;  /* "high", "low", "mixed", "unknown" */
    int daily, ongoing;
    int64_t start, end, minutes, readings;
    int has_dm, has_minmax;
    int64_t dm;        /* milli-degree-minutes */
    int64_t min_mc, min_us, max_mc, max_us;
    double dm_acc;     /* while a run lasts */
    int high, low;
} found;

/* Where an owner's excursions are judged: its range and alarm settings. */
typedef struct judge {
    int shipment;
    int64_t owner_id;
    int64_t lo_mc, hi_mc;
    int64_t delay_min, gap_min;
} judge;

typedef struct detector {
    const judge *j;
    found *list;
    size_t n, cap;
    ctm__hold hold;    /* how long each reading holds: mkt.h's rule, capped at the allowed gap */
    int active;
    found run;
} detector;

static int64_t minutes_up(int64_t us)
{
    return (us + US_PER_MIN - 1) / US_PER_MIN;
}

static int push(detector *d, const found *f)
{
    if (d->n == MAX_FOUND)
        return ctm__err(CTM_ERULE,
                        "more than %d excursions in the readings around this file: is the"
                        " location's allowed gap (%" PRId64 " minutes) shorter than the logger's"
                        " interval? (ctm_location_alarm)",
                        MAX_FOUND, d->j->gap_min);
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        found *grown = realloc(d->list, cap * sizeof *grown);
        if (grown == NULL)
            return ctm__err(CTM_ENOMEM, "out of memory");
        d->list = grown;
        d->cap = cap;
    }
    d->list[d->n++] = *f;
    return CTM_OK;
}

/* A reading of the run (mc) held held_us: its share of the run's degree-minutes. */
static void run_hold(detector *d, int64_t mc, int64_t held_us)
{
    int64_t excess = mc > d->j->hi_mc ? mc - d->j->hi_mc : d->j->lo_mc - mc;
    d->run.dm_acc += (double)excess * (double)held_us / (double)US_PER_MIN;
}

static int run_close(detector *d, int64_t end, int ongoing)
{
    d->active = 0;
    found *r = &d->run;
    r->end = end;
    r->ongoing = ongoing;
    if (end - r->start < d->j->delay_min * US_PER_MIN)
        return CTM_OK;
    r->minutes = minutes_up(end - r->start);
    r->kind = r->high && r->low ? "mixed" : r->high ? "high" : "low";
    r->has_dm = 1;
    r->dm = (int64_t)llround(r->dm_acc);
    return push(d, r);
}

static int det_reading(detector *d, int64_t t, int64_t mc)
{
    int rc = CTM_OK;
    ctm__held h; /* the reading before this one, and how long it held */
    if (ctm__hold_next(&d->hold, t, mc, &h)) {
        if (d->active)
            run_hold(d, h.mc, h.held_us);
        if (h.gap_us > 0) {
            /* it stopped holding before this reading: a run ends there, the rest is unknown */
            int64_t from = h.t_us + h.held_us;
            if (d->active)
                rc = run_close(d, from, 0);
            found u;
            memset(&u, 0, sizeof u);
            u.kind = "unknown";
            u.start = from;
            u.end = t;
            u.minutes = minutes_up(t - from);
            if (rc == CTM_OK)
                rc = push(d, &u);
        }
    }
    if (rc != CTM_OK)
        return rc;
    int out = mc > d->j->hi_mc || mc < d->j->lo_mc;
    if (!out && d->active)
        rc = run_close(d, t, 0);
    if (out) {
        found *r = &d->run;
        if (!d->active) {
            memset(r, 0, sizeof *r);
            r->start = t;
            r->has_minmax = 1;
            r->min_mc = r->max_mc = mc;
            r->min_us = r->max_us = t;
            d->active = 1;
        }
        if (mc < r->min_mc) {
            r->min_mc = mc;
            r->min_us = t;
        }
        if (mc > r->max_mc) {
            r->max_mc = mc;
            r->max_us = t;
        }
        r->readings++;
        r->high |= mc > d->j->hi_mc;
        r->low |= mc < d->j->lo_mc;
    }
    return rc;
}

static int prepare_for(ctm_db *db, const judge *j, ctm__st **st, const char *sql)
{
    return ctm__prepare_owned(db, j->shipment, st, sql);
}

/* The owner's stored readings from `from` on and before `before`, in time order, through the
 * detector, WALK_ROWS to a statement; past last_us the walk stops once no run is open (nothing
 * after that can have changed).  *newest: it read the newest reading there is. */
static int walk_stored(ctm_db *db, detector *d, int64_t from, int64_t before, int64_t last_us,
                       int *newest)
{
    ctm__st *st = NULL;
    int rc = prepare_for(db, d->j, &st,
                         "SELECT t_us, temp_mc FROM readings WHERE location_id = ?1"
                         " AND t_us >= ?2 AND t_us < ?3 ORDER BY t_us LIMIT 8192");
    int more = 1, stopped = 0;
    while (rc == CTM_OK && more && !stopped) {
        ctm__st_reset(st);
        ctm__st_bind_int(st, 1, d->j->owner_id);
        ctm__st_bind_int(st, 2, from);
        ctm__st_bind_int(st, 3, before);
        int64_t rows = 0;
        int src;
        while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
            int64_t t = ctm__st_int(st, 0);
            rows++;
            from = t + 1;
            if (stopped)
                continue;
            rc = det_reading(d, t, ctm__st_int(st, 1));
            if (t > last_us && !d->active)
                stopped = 1;
        }
        if (rc == CTM_OK && src != CTM_OK)
            rc = ctm__store_fail(src, "reading the readings");
        more = rows == WALK_ROWS;
    }
    ctm__st_finalize(st);
    *newest = !stopped && before == INT64_MAX;
    return rc;
}

/* The time of the owner's last reading in range before t (INT64_MIN: none): where a walk that
 * must see whole any run going on at t begins. */
static int last_in_range(ctm_db *db, const judge *j, int64_t t, int64_t *from)
{
    ctm__st *st = NULL;
    *from = INT64_MIN;
    int rc = prepare_for(db, j, &st,
                         "SELECT MAX(t_us) FROM readings WHERE location_id = ?1 AND t_us < ?2"
                         " AND temp_mc BETWEEN ?3 AND ?4");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, j->owner_id);
    ctm__st_bind_int(st, 2, t);
    ctm__st_bind_int(st, 3, j->lo_mc);
    ctm__st_bind_int(st, 4, j->hi_mc);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL)
        *from = ctm__st_int(st, 0);
    else if (src != CTM_ROW && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the readings");
    ctm__st_finalize(st);
    return rc;
}

/* A daily-summary logger's days in the file's span with minutes beyond its alarm limits. */
static int walk_days(ctm_db *db, detector *d, int64_t first_us, int64_t last_us)
{
    ctm__st *st = NULL;
    int rc = prepare_for(db, d->j, &st,
                         "SELECT start_us, end_us, min_mc, min_us, max_mc, max_us, minutes_high,"
                         " minutes_low FROM logger_days WHERE location_id = ?1"
                         " AND start_us <= ?3 AND end_us >= ?2"
                         " AND minutes_high + minutes_low > 0 ORDER BY start_us");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, d->j->owner_id);
    ctm__st_bind_int(st, 2, first_us);
    ctm__st_bind_int(st, 3, last_us);
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        found f;
        memset(&f, 0, sizeof f);
        int64_t high = ctm__st_int(st, 6), low = ctm__st_int(st, 7);
        f.kind = high > 0 && low > 0 ? "mixed" : high > 0 ? "high" : "low";
        f.daily = 1;
        f.start = ctm__st_int(st, 0);
        f.end = ctm__st_int(st, 1);
        f.minutes = high + low;
        f.has_minmax = ctm__st_type(st, 2) != CTM_V_NULL && ctm__st_type(st, 4) != CTM_V_NULL;
        if (f.has_minmax) {
            f.min_mc = ctm__st_int(st, 2);
            f.min_us = ctm__st_type(st, 3) != CTM_V_NULL ? ctm__st_int(st, 3) : 0;
            f.max_mc = ctm__st_int(st, 4);
            f.max_us = ctm__st_type(st, 5) != CTM_V_NULL ? ctm__st_int(st, 5) : 0;
        }
        rc = push(d, &f);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the days");
    ctm__st_finalize(st);
    return rc;
}

/* ---- the owner's range and settings ---- */

static int alarm_settings(ctm_db *db, int64_t location_id, int64_t *delay, int64_t *gap)
{
    *delay = CTM__ALARM_DELAY_MINUTES;
    *gap = CTM__ALARM_GAP_MINUTES;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT delay_minutes, max_gap_minutes FROM location_alarms"
                          " WHERE location_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, location_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        *delay = ctm__st_int(st, 0);
        *gap = ctm__st_int(st, 1);
    } else if (src != CTM_OK) {
        rc = ctm__store_fail(src, "reading the location's alarm settings");
    }
    ctm__st_finalize(st);
    return rc;
}

/* A location's range and settings; a shipment's: the narrowest range of its kits' types, no
 * delay, the default gap. */
static int judge_of(ctm_db *db, int shipment, int64_t owner_id, judge *j)
{
    memset(j, 0, sizeof *j);
    j->shipment = shipment;
    j->owner_id = owner_id;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          shipment ? "SELECT MAX(kt.storage_min_mc), MIN(kt.storage_max_mc)"
                                     " FROM kits k JOIN kit_types kt ON kt.id = k.kit_type_id"
                                     " WHERE k.shipment_id = ?1"
                                   : "SELECT min_mc, max_mc FROM locations WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, owner_id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW && ctm__st_type(st, 0) != CTM_V_NULL) {
        j->lo_mc = ctm__st_int(st, 0);
        j->hi_mc = ctm__st_int(st, 1);
        /* one logger, one journey: kits that share no storage range did not travel together */
        if (j->lo_mc > j->hi_mc)
            rc = ctm__err(CTM_ERULE,
                          "the shipment's kit types share no storage range (%.1f C is above"
                          " %.1f C): one logger cannot show their journey; receive them as"
                          " shipments of their own", (double)j->lo_mc / 1000.0,
                          (double)j->hi_mc / 1000.0);
    } else if (src == CTM_ROW || src == CTM_OK) {
        rc = ctm__err(CTM_ERULE, "the shipment has no kits whose storage range would judge its"
                                 " logger");
    } else {
        rc = ctm__store_fail(src, "reading the storage range");
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK && shipment) {
        j->delay_min = 0;
        j->gap_min = CTM__ALARM_GAP_MINUTES;
    } else if (rc == CTM_OK) {
        rc = alarm_settings(db, owner_id, &j->delay_min, &j->gap_min);
    }
    return rc;
}

/* ---- recording ---- */

typedef struct recorder {
    ctm_db *db;
    const judge *j;
    const char *name;
    ctm__action a;
    int open;
    uint64_t recorded, quarantined;
    int64_t kits_added; /* rows of excursion_kits written */
    char p_recorded[24], p_quarantined[24];
} recorder;

static int begin(recorder *r)
{
    if (r->open)
        return CTM_OK;
    int rc = ctm__action_begin(&r->a, r->db, "temp.excursions", "");
    if (rc != CTM_OK)
        return rc;
    r->open = 1;
    ctm__action_param(&r->a, r->j->shipment ? "shipment" : "location", r->name);
    return CTM_OK;
}

/* The recorded excursion f continues or repeats: *id of an open one of its class that it
 * overlaps (*same: with the same figures), else 0 and *same whether a decided one equals it.
 * One with a kit decided already counts as decided: growing it would leave that kit's decision
 * standing on less than the readings now show, so a worse finding is recorded anew. */
static int match(recorder *r, const found *f, int64_t *id, int *same)
{
    *id = 0;
    *same = 0;
    ctm__st *st = NULL;
    int rc = prepare_for(r->db, r->j, &st,
                         "SELECT id, CASE WHEN status = 'open' AND NOT EXISTS (SELECT 1"
                         " FROM excursion_kits x WHERE x.excursion_id = excursions.id"
                         " AND x.decision IS NOT NULL) THEN 0 ELSE 1 END AS decided,"
                         " start_us, end_us, ongoing, minutes, kind, readings"
                         " FROM excursions WHERE location_id = ?1 AND daily = ?2"
                         " AND CASE WHEN kind = 'unknown' THEN 1 ELSE 0 END = ?3"
                         " AND start_us <= ?5 AND end_us >= ?4 ORDER BY decided, start_us");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, r->j->owner_id);
    ctm__st_bind_int(st, 2, f->daily);
    ctm__st_bind_int(st, 3, strcmp(f->kind, "unknown") == 0);
    ctm__st_bind_int(st, 4, f->start);
    ctm__st_bind_int(st, 5, f->end);
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        int equal = ctm__st_int(st, 2) == f->start && ctm__st_int(st, 3) == f->end &&
                    ctm__st_int(st, 4) == f->ongoing && ctm__st_int(st, 5) == f->minutes &&
                    strcmp(ctm__st_text(st, 6), f->kind) == 0 &&
                    ctm__st_int(st, 7) == f->readings;
        if (ctm__st_int(st, 1) == 0) {
            *id = ctm__st_int(st, 0);
            *same = equal;
            break;
        }
        if (equal) {
            *same = 1;
            break;
        }
    }
    if (src != CTM_ROW && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the excursions");
    ctm__st_finalize(st);
    return rc;
}

static void bind_found(ctm__st *st, const found *f)
{
    ctm__st_bind_text(st, 2, f->kind);
    ctm__st_bind_int(st, 3, f->daily);
    ctm__st_bind_int(st, 4, f->start);
    ctm__st_bind_int(st, 5, f->end);
    ctm__st_bind_int(st, 6, f->ongoing);
    ctm__st_bind_int(st, 7, f->minutes);
    if (f->has_dm)
        ctm__st_bind_int(st, 8, f->dm);
    else
        ctm__st_bind_null(st, 8);
    if (f->has_minmax) {
        ctm__st_bind_int(st, 9, f->min_mc);
        ctm__st_bind_int(st, 11, f->max_mc);
        if (f->min_us != 0)
            ctm__st_bind_int(st, 10, f->min_us);
        else
            ctm__st_bind_null(st, 10);
        if (f->max_us != 0)
            ctm__st_bind_int(st, 12, f->max_us);
        else
            ctm__st_bind_null(st, 12);
    } else {
        for (int i = 9; i <= 12; i++)
            ctm__st_bind_null(st, i);
    }
    ctm__st_bind_int(st, 13, f->readings);
}

static int write_found(recorder *r, const found *f, int64_t id, int64_t *out)
{
    ctm__st *st = NULL;
    int rc;
    if (id != 0) {
        rc = ctm__prepare(r->db, &st,
                          "UPDATE excursions SET kind = ?2, daily = ?3, start_us = ?4, end_us = ?5,"
                          " ongoing = ?6, minutes = ?7, degree_mc_minutes = ?8, min_mc = ?9,"
                          " min_us = ?10, max_mc = ?11, max_us = ?12, readings = ?13"
                          " WHERE id = ?1 AND status = 'open'");
        if (rc != CTM_OK)
            return rc;
        ctm__st_bind_int(st, 1, id);
        bind_found(st, f);
        *out = id;
        return ctm__step_done(r->db, st, "recording an excursion");
    }
    rc = prepare_for(r->db, r->j, &st,
                     "INSERT INTO excursions(location_id, kind, daily, start_us, end_us, ongoing,"
                     " minutes, degree_mc_minutes, min_mc, min_us, max_mc, max_us, readings,"
                     " range_min_mc, range_max_mc, delay_minutes, max_gap_minutes, status,"
                     " detected_us, detected_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                     " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, 'open', ?18, ?19) RETURNING id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, r->j->owner_id);
    bind_found(st, f);
    ctm__st_bind_int(st, 14, r->j->lo_mc);
    ctm__st_bind_int(st, 15, r->j->hi_mc);
    ctm__st_bind_int(st, 16, r->j->delay_min);
    ctm__st_bind_int(st, 17, r->j->gap_min);
    ctm__st_bind_int(st, 18, ctm__now_us());
    ctm__st_bind_text(st, 19, r->db->session.user);
    return ctm__insert_id(r->db, st, out, "recording an excursion");
}

/* The kits of a location whose stays there meet [?3, ?4]: from the shipment that brought them
 * (since its registration) or a move there, until their next move or their dispensing. */
#define STAYS_MEETING_SQL                                                                     \
    "WITH cand(kit_id) AS ("                                                                  \
    "  SELECT k.id FROM kits k JOIN shipments s ON s.id = k.shipment_id"                      \
    "  WHERE s.location_id = ?2 UNION SELECT kit_id FROM kit_moves WHERE to_location_id = ?2)," \
    " ev(kit_id, loc, t, n) AS ("                                                             \
    "  SELECT k.id, s.location_id, s.registered_us, 0 FROM kits k"                            \
    "  JOIN shipments s ON s.id = k.shipment_id WHERE k.id IN (SELECT kit_id FROM cand)"      \
    "  UNION ALL SELECT kit_id, to_location_id, moved_us, id FROM kit_moves"                  \
    "  WHERE kit_id IN (SELECT kit_id FROM cand)"                                             \
    "  UNION ALL SELECT kit_id, NULL, dispensed_us, id FROM dispensations"                    \
    "  WHERE dispensed_us IS NOT NULL AND status <> 'reversed'"                               \
    "  AND kit_id IN (SELECT kit_id FROM cand)),"                                             \
    " sp(kit_id, loc, since, until) AS (SELECT kit_id, loc, t,"                               \
    "  LEAD(t) OVER (PARTITION BY kit_id ORDER BY t, n) FROM ev) "

static int count_quarantined(ctm_db *db, int64_t id, int64_t *n)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT COUNT(*) FROM excursion_kits WHERE excursion_id = ?1"
                          " AND quarantined = 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    int src = ctm__st_step(st);
    *n = src == CTM_ROW ? ctm__st_int(st, 0) : 0;
    if (src != CTM_ROW)
        rc = ctm__store_fail(src, "counting kits");
    ctm__st_finalize(st);
    return rc;
}

/* Record the kits excursion id affects, those available quarantined. */
static int record_kits(recorder *r, int64_t id, const found *f)
{
    ctm__st *st = NULL;
    int64_t before = 0, after = 0;
    int rc = count_quarantined(r->db, id, &before);
    if (rc != CTM_OK)
        return rc;
    if (r->j->shipment)
        rc = ctm__prepare(r->db, &st,
                          "INSERT INTO excursion_kits(excursion_id, kit_id, status_was, quarantined)"
                          " SELECT ?1, k.id, k.status, CASE WHEN k.status IN ('available',"
                          " 'received') THEN 1 ELSE 0 END FROM kits k WHERE k.shipment_id = ?2"
                          " AND ?3 <= ?4 AND NOT EXISTS (SELECT 1 FROM excursion_kits x"
                          " WHERE x.excursion_id = ?1 AND x.kit_id = k.id) ORDER BY k.id");
    else
        rc = ctm__prepare(r->db, &st,
                          STAYS_MEETING_SQL
                          "INSERT INTO excursion_kits(excursion_id, kit_id, status_was, quarantined)"
                          " SELECT ?1, k.id, k.status, CASE WHEN k.status IN ('available',"
                          " 'received') THEN 1 ELSE 0 END FROM kits k WHERE k.id IN"
                          " (SELECT kit_id FROM sp WHERE loc = ?2 AND since <= ?4"
                          "  AND (until IS NULL OR until > ?3))"
                          " AND NOT EXISTS (SELECT 1 FROM excursion_kits x"
                          " WHERE x.excursion_id = ?1 AND x.kit_id = k.id) ORDER BY k.id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    ctm__st_bind_int(st, 2, r->j->owner_id);
    ctm__st_bind_int(st, 3, f->start);
    ctm__st_bind_int(st, 4, f->ongoing ? INT64_MAX : f->end);
    int64_t added = 0;
    rc = ctm__step_changed(r->db, st, "recording the kits an excursion affects", &added);
    r->kits_added += added;
    if (rc == CTM_OK)
        rc = ctm__kits_quarantine(r->db, id);
    if (rc == CTM_OK)
        rc = count_quarantined(r->db, id, &after);
    if (rc == CTM_OK)
        r->quarantined += (uint64_t)(after - before);
    return rc;
}

static int record(recorder *r, const found *f)
{
    int64_t id = 0;
    int same = 0;
    int rc = match(r, f, &id, &same);
    if (rc != CTM_OK || (same && id == 0))
        return rc; /* decided already, and nothing new */
    if ((rc = begin(r)) != CTM_OK)
        return rc;
    int64_t written = id;
    if (!same) {
        rc = write_found(r, f, id, &written);
        r->recorded++;
    }
    /* an open excursion seen again still takes the kits that came since (an ongoing one) */
    if (rc == CTM_OK)
        rc = record_kits(r, written, f);
    return rc;
}

/* ---- one import's scan ----
 *
 * The stored readings before the file (from the last one in range) are walked when the scan
 * begins; a file that meets none of the stored readings then hands its own readings to the scan
 * as they are stored, so they are not read back; any other file's readings are read back from
 * its first on.  The readings after the file are walked at the end. */

struct ctm__excursion_scan {
    ctm_db *db;
    judge j;
    detector d;
    int64_t first_us;
    int fed;
};

int ctm__excursion_scan_begin(ctm__excursion_scan **out, ctm_db *db, int shipment,
                              int64_t owner_id, const ctm__logger_info *info)
{
    *out = NULL;
    ctm__excursion_scan *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    s->db = db;
    s->d.j = &s->j;
    s->first_us = info->first_us;
    int rc = judge_of(db, shipment, owner_id, &s->j);
    ctm__hold_init(&s->d.hold, s->j.gap_min * US_PER_MIN);
    int64_t from = INT64_MIN;
    int newest = 0;
    if (rc == CTM_OK && info->readings > 0)
        rc = last_in_range(db, &s->j, info->first_us, &from);
    if (rc == CTM_OK && info->readings > 0)
        rc = walk_stored(db, &s->d, from, info->first_us, INT64_MAX, &newest);
    if (rc != CTM_OK) {
        ctm__excursion_scan_free(s);
        return rc;
    }
    *out = s;
    return CTM_OK;
}

int ctm__excursion_scan_reading(ctm__excursion_scan *s, int64_t t_us, int64_t mc)
{
    s->fed = 1;
    return det_reading(&s->d, t_us, mc);
}

void ctm__excursion_scan_free(ctm__excursion_scan *s)
{
    if (s != NULL)
        free(s->d.list);
    free(s);
}

int ctm__excursion_scan_end(ctm__excursion_scan *s, const char *name,
                            const ctm__logger_info *info, uint64_t *recorded,
                            uint64_t *quarantined)
{
    *recorded = *quarantined = 0;
    ctm_db *db = s->db;
    detector *d = &s->d;
    int rc = CTM_OK, newest = 0;
    if (info->readings > 0) {
        rc = walk_stored(db, d, s->fed ? info->last_us + 1 : info->first_us, INT64_MAX,
                         info->last_us, &newest);
        /* a location's next file may continue a run: it goes on.  A shipment's journey ends
         * with its file: the run ends there, its last reading holding as long as the one
         * before it (so it can be decided) */
        ctm__held h;
        if (rc == CTM_OK && newest && d->active && s->j.shipment &&
            ctm__hold_end(&d->hold, 0, &h)) {
            run_hold(d, h.mc, h.held_us);
            rc = run_close(d, h.t_us + h.held_us, 0);
        } else if (rc == CTM_OK && newest && d->active) {
            rc = run_close(d, d->hold.prev_t, 1);
        }
    }
    if (rc == CTM_OK && info->days > 0)
        rc = walk_days(db, d, info->first_us, info->last_us);
    recorder r;
    memset(&r, 0, sizeof r);
    r.db = db;
    r.j = &s->j;
    r.name = name;
    for (size_t i = 0; rc == CTM_OK && i < d->n; i++)
        rc = record(&r, &d->list[i]);
    if (r.open) {
        /* an open excursion seen again, and no kit came since: nothing to record */
        if (rc == CTM_OK && r.recorded == 0 && r.kits_added == 0) {
            ctm__action_rollback(&r.a);
        } else if (rc == CTM_OK) {
            snprintf(r.p_recorded, sizeof r.p_recorded, "%" PRIu64, r.recorded);
            snprintf(r.p_quarantined, sizeof r.p_quarantined, "%" PRIu64, r.quarantined);
            ctm__action_param(&r.a, "excursions", r.p_recorded);
            ctm__action_param(&r.a, "quarantined", r.p_quarantined);
            rc = ctm__action_commit(&r.a);
        } else {
            ctm__action_rollback(&r.a);
        }
    }
    if (rc == CTM_OK) {
        *recorded = r.recorded;
        *quarantined = r.quarantined;
    }
    return rc;
}

/* ---- alarm settings ---- */

int ctm_location_alarm(ctm_db *db, const char *location, int delay_minutes, int max_gap_minutes)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "location.alarm", "location alarm");
    if (rc == CTM_OK && (delay_minutes < 0 || delay_minutes > 1440))
        rc = ctm__err(CTM_EINVAL, "delay: %d minutes is outside 0..1440", delay_minutes);
    if (rc == CTM_OK && (max_gap_minutes < 1 || max_gap_minutes > 10080))
        rc = ctm__err(CTM_EINVAL, "max gap: %d minutes is outside 1..10080", max_gap_minutes);
    int64_t location_id = 0;
    if (rc == CTM_OK)
        rc = ctm__location_lookup(db, location, &location_id);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "location.alarm", "")) != CTM_OK)
        return rc;
    char p_delay[16], p_gap[16];
    snprintf(p_delay, sizeof p_delay, "%d", delay_minutes);
    snprintf(p_gap, sizeof p_gap, "%d", max_gap_minutes);
    ctm__action_param(&a, "location", location);
    ctm__action_param(&a, "delay_minutes", p_delay);
    ctm__action_param(&a, "max_gap_minutes", p_gap);
    ctm__st *st = NULL;
    int64_t changed = 0;
    rc = ctm__prepare(db, &st,
                      "UPDATE location_alarms SET delay_minutes = ?2, max_gap_minutes = ?3"
                      " WHERE location_id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, location_id);
        ctm__st_bind_int(st, 2, delay_minutes);
        ctm__st_bind_int(st, 3, max_gap_minutes);
        rc = ctm__step_changed(db, st, "setting the alarm", &changed);
    }
    if (rc == CTM_OK && changed == 0 &&
        (rc = ctm__prepare(db, &st,
                           "INSERT INTO location_alarms(location_id, delay_minutes,"
                           " max_gap_minutes) VALUES (?1, ?2, ?3)")) == CTM_OK) {
        ctm__st_bind_int(st, 1, location_id);
        ctm__st_bind_int(st, 2, delay_minutes);
        ctm__st_bind_int(st, 3, max_gap_minutes);
        rc = ctm__step_done(db, st, "setting the alarm");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- decisions ---- */

typedef struct excursion_row {
    int64_t id;
    char status[16];
    int ongoing;
} excursion_row;

static int excursion_lookup(ctm_db *db, int64_t id, excursion_row *e)
{
    memset(e, 0, sizeof *e);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT id, status, ongoing FROM excursions WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        e->id = ctm__st_int(st, 0);
        snprintf(e->status, sizeof e->status, "%s", ctm__st_text(st, 1));
        e->ongoing = (int)ctm__st_int(st, 2);
    } else if (src == CTM_OK) {
        rc = ctm__err(CTM_ENOTFOUND, "excursion %" PRId64 ": no such excursion", id);
    } else {
        rc = ctm__store_fail(src, "reading the excursion");
    }
    ctm__st_finalize(st);
    return rc;
}

/* The kit of the excursion that `kit` (a kit number or a scan of its pack) names, not decided
 * yet: looked for among the excursion's own kits, so that a kit number another trial uses too
 * is no ambiguity unless both kits are the excursion's (CTM_EINVAL).  CTM_ERULE for a kit not
 * recorded with it or decided already, CTM_ENOTFOUND for no such kit. */
static int kit_of(ctm_db *db, int64_t excursion, const char *kit, int64_t *kit_id)
{
    ctm__scan sc;
    int rc = ctm__scan_read(kit, &sc);
    ctm_gs1_free(sc.gs1);
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    if ((rc = ctm__prepare(db, &st,
                           "SELECT x.kit_id, x.decision, k.kit_number, t.code"
                           " FROM excursion_kits x JOIN kits k ON k.id = x.kit_id"
                           " JOIN trials t ON t.id = k.trial_id WHERE x.excursion_id = ?1"
                           " AND (k.kit_number = ?2 OR k.serial = ?2) ORDER BY t.code")) != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, excursion);
    ctm__st_bind_text(st, 2, sc.id);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        *kit_id = ctm__st_int(st, 0);
        char number[48], trial[48], decision[16] = "";
        snprintf(number, sizeof number, "%s", ctm__st_text(st, 2));
        snprintf(trial, sizeof trial, "%s", ctm__st_text(st, 3));
        if (ctm__st_type(st, 1) != CTM_V_NULL)
            snprintf(decision, sizeof decision, "%s", ctm__st_text(st, 1));
        src = ctm__st_step(st);
        if (src == CTM_ROW)
            rc = ctm__err(CTM_EINVAL,
                          "kit '%.40s': excursion %" PRId64 " has two such kits (trials %s and"
                          " %s); decide the whole excursion, or one of them by a scan of its"
                          " pack", sc.id, excursion, trial, ctm__st_text(st, 3));
        else if (decision[0] != '\0')
            rc = ctm__err(CTM_ERULE, "kit %s: excursion %" PRId64 " was decided for it already"
                                     " (%s)", number, excursion, decision);
        else if (src != CTM_OK)
            rc = ctm__store_fail(src, "reading the excursion's kits");
    } else if (src == CTM_OK) {
        char number[48];
        int64_t id = 0;
        rc = ctm__kit_find(db, NULL, kit, &id, number);
        if (rc == CTM_OK || rc == CTM_EINVAL)
            rc = ctm__err(CTM_ERULE, "kit '%.40s' is not recorded with excursion %" PRId64,
                          sc.id, excursion);
    } else {
        rc = ctm__store_fail(src, "reading the excursion's kits");
    }
    ctm__st_finalize(st);
    return rc;
}

/* Decide the excursion's undecided kit rows (kit_id 0: all of them). */
static int decide_rows(ctm_db *db, int64_t excursion, int64_t kit_id, const char *decision,
                       const char *reference, int64_t now)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "UPDATE excursion_kits SET decision = ?3, decided_us = ?4,"
                          " decided_by = ?5, reference = ?6 WHERE excursion_id = ?1"
                          " AND (?2 = 0 OR kit_id = ?2) AND decision IS NULL");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, excursion);
    ctm__st_bind_int(st, 2, kit_id);
    ctm__st_bind_text(st, 3, decision);
    ctm__st_bind_int(st, 4, now);
    ctm__st_bind_text(st, 5, db->session.user);
    ctm__st_bind_text(st, 6, reference);
    return ctm__step_done(db, st, "recording the decision");
}

int ctm_excursion_decide(ctm_db *db, int64_t excursion, const char *decision,
                         const char *reference, const char *const *kits, size_t nkits)
{
    ctm__clear_error();
    int release = decision != NULL && strcmp(decision, "release") == 0;
    int reject = decision != NULL && strcmp(decision, "reject") == 0;
    const char *action = reject ? "excursion.reject" : "excursion.release";
    int rc = ctm__require_action(db, action, "excursion decide");
    if (rc == CTM_OK && !release && !reject)
        rc = ctm__err(CTM_EINVAL, "decision: '%.20s' is neither release nor reject",
                      decision != NULL ? decision : "");
    if (rc == CTM_OK)
        rc = ctm__check_text("reference", reference, 200);
    if (rc == CTM_OK && nkits > 0 && kits == NULL)
        rc = ctm__err(CTM_EINVAL, "kits: NULL");
    excursion_row e;
    if (rc == CTM_OK)
        rc = excursion_lookup(db, excursion, &e);
    if (rc == CTM_OK && strcmp(e.status, "open") != 0)
        rc = ctm__err(CTM_ERULE, "excursion %" PRId64 " is %s already", excursion, e.status);
    if (rc == CTM_OK && e.ongoing)
        rc = ctm__err(CTM_ERULE, "excursion %" PRId64 " is still going on at the newest reading:"
                                 " import the logger file that shows its end first", excursion);
    int64_t *ids = nkits > 0 ? calloc(nkits, sizeof *ids) : NULL;
    if (rc == CTM_OK && nkits > 0 && ids == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    for (size_t i = 0; rc == CTM_OK && i < nkits; i++) {
        rc = kit_of(db, excursion, kits[i], &ids[i]);
        for (size_t k = 0; rc == CTM_OK && k < i; k++)
            if (ids[k] == ids[i])
                rc = ctm__err(CTM_EINVAL, "kits: '%.40s' is named twice", kits[i]);
    }
    if (rc != CTM_OK) {
        free(ids);
        return rc;
    }
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, action, "")) != CTM_OK) {
        free(ids);
        return rc;
    }
    char p_id[24], p_kits[24];
    snprintf(p_id, sizeof p_id, "%" PRId64, excursion);
    snprintf(p_kits, sizeof p_kits, "%zu", nkits);
    ctm__action_param(&a, "excursion", p_id);
    ctm__action_param(&a, "reference", reference);
    ctm__action_param(&a, "kits", nkits == 0 ? "all" : p_kits);
    const char *verdict = release ? "released" : "rejected";
    int64_t now = ctm__now_us();
    for (size_t i = 0; rc == CTM_OK && i < (nkits == 0 ? 1 : nkits); i++)
        rc = decide_rows(db, excursion, nkits == 0 ? 0 : ids[i], verdict, reference, now);
    if (rc == CTM_OK)
        rc = ctm__kits_decided(db, excursion, now, release);
    /* the excursion itself: decided whole, or once its last kit is */
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "UPDATE excursions SET status = CASE WHEN ?2 = 1 AND NOT EXISTS"
                          " (SELECT 1 FROM excursion_kits WHERE excursion_id = ?1"
                          " AND decision <> ?3) THEN ?3 ELSE 'decided' END,"
                          " decided_us = ?4, decided_by = ?5,"
                          " reference = CASE WHEN ?2 = 1 THEN ?6 ELSE NULL END"
                          " WHERE id = ?1 AND (?2 = 1 OR NOT EXISTS (SELECT 1 FROM excursion_kits"
                          " WHERE excursion_id = ?1 AND decision IS NULL))");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, excursion);
        ctm__st_bind_int(st, 2, nkits == 0 ? 1 : 0);
        ctm__st_bind_text(st, 3, verdict);
        ctm__st_bind_int(st, 4, now);
        ctm__st_bind_text(st, 5, db->session.user);
        ctm__st_bind_text(st, 6, reference);
        rc = ctm__step_done(db, st, "recording the decision");
    }
    free(ids);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- listings ---- */

/* An excursion's row as ctm_excursions() lists it; the WHERE clause follows. */
#define EXCURSION_ROW_SQL                                                                     \
    "SELECT e.id AS excursion, l.name AS location, s.number AS shipment, e.kind AS kind,"    \
    " e.daily AS daily, e.start_us AS start, e.end_us AS \"end\", e.ongoing AS ongoing,"     \
    " e.minutes AS minutes, e.degree_mc_minutes / 1000.0 AS degree_minutes,"                \
    " e.min_mc / 1000.0 AS min, e.min_us AS min_time, e.max_mc / 1000.0 AS max,"             \
    " e.max_us AS max_time, e.readings AS readings, e.range_min_mc / 1000.0 AS range_min,"   \
    " e.range_max_mc / 1000.0 AS range_max, e.delay_minutes AS delay_minutes,"               \
    " e.status AS status,"                                                                   \
    " (SELECT COUNT(*) FROM excursion_kits x WHERE x.excursion_id = e.id) AS kits,"         \
    " (SELECT COUNT(*) FROM excursion_kits x WHERE x.excursion_id = e.id"                   \
    "  AND x.quarantined = 1) AS quarantined,"                                               \
    " e.detected_us AS detected, e.detected_by AS detected_by, e.decided_us AS decided,"     \
    " e.decided_by AS decided_by, e.reference AS reference"                                 \
    " FROM excursions e LEFT JOIN locations l ON l.id = e.location_id"                      \
    " LEFT JOIN shipments s ON s.id = e.shipment_id "

static int show_excursion_times(ctm_query **out)
{
    return ctm__query_show(out, CTM__SHOW_TIME, "start", "end", "min_time", "max_time",
                           "detected", "decided", NULL);
}

int ctm_excursions(ctm_query **out, ctm_db *db, const char *location, int open_only)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "excursions", NULL, &t);
    int64_t location_id = 0;
    if (rc == CTM_OK && location != NULL)
        rc = ctm__location_lookup(db, location, &location_id);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          EXCURSION_ROW_SQL
                          "WHERE (?1 = 0 OR e.location_id = ?1) AND (?2 = 0 OR e.status = 'open')"
                          " ORDER BY e.id DESC");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, location_id);
    ctm__st_bind_int(st, 2, open_only ? 1 : 0);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    return rc == CTM_OK ? show_excursion_times(out) : rc;
}

/* The kits' exposure columns, computed as each row is read (the statement holds the kit's id
 * and number in them). */
static int kit_exposure_row(ctm__st *st, ctm__row *row, void *ctx)
{
    ctm_db *db = ctx;
    int rc = ctm__row_copy(st, row);
    if (rc != CTM_OK)
        return rc;
    int col = row->ncols - 2;
    ctm_exposure_result x = CTM_EXPOSURE_RESULT_INIT;
    char number[48];
    snprintf(number, sizeof number, "%s", ctm__st_text(st, 1));
    rc = ctm__kit_exposure_of(db, ctm__st_int(st, col), number, &x);
    if (rc != CTM_OK)
        return rc;
    ctm__row_set_int(row, col, x.minutes_high + x.minutes_low);
    ctm__row_set_int(row, col + 1, x.over_budget);
    return CTM_OK;
}

#define EXCURSION_KITS_SQL                                                                    \
    "SELECT t.code AS trial, k.kit_number AS kit_number, kt.code AS kit_type, l.batch AS lot," \
    " x.status_was AS status_was, x.quarantined AS quarantined, k.status AS status,"         \
    " x.decision AS decision, x.decided_us AS decided, x.decided_by AS decided_by,"          \
    " x.reference AS reference, kt.budget_minutes AS budget_minutes,"                       \
    " kt.budget_max_mc / 1000.0 AS budget_max, k.id AS minutes_out, k.id AS over_budget"    \
    " FROM excursion_kits x JOIN kits k ON k.id = x.kit_id"                                  \
    " JOIN trials t ON t.id = k.trial_id JOIN kit_types kt ON kt.id = k.kit_type_id"         \
    " JOIN lots l ON l.id = k.lot_id WHERE x.excursion_id = ?1"                             \
    " ORDER BY t.code, k.kit_number"

int ctm_excursion_kits(ctm_query **out, ctm_db *db, int64_t excursion)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "excursion kits", NULL, &t);
    excursion_row e;
    if (rc == CTM_OK)
        rc = excursion_lookup(db, excursion, &e);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, EXCURSION_KITS_SQL);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, excursion);
    rc = ctm__query_new(out, st, NULL, 0, kit_exposure_row, db, NULL);
    return rc == CTM_OK ? ctm__query_show(out, CTM__SHOW_TIME, "decided", NULL) : rc;
}

/* ---- the report ---- */

static void put(ctm__buf *b, const char *s)
{
    ctm__buf_put(b, s, strlen(s));
}

static void putf(ctm__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(ctm__buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        ctm__buf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* ---- JSON ---- */

static void json_row(ctm__buf *b, const ctm__table *t, size_t row)
{
    put(b, "{");
    for (int c = 0; c < t->ncols; c++) {
        size_t i = row * (size_t)t->ncols + (size_t)c;
        if (c > 0)
            put(b, ", ");
        ctm__json_string(b, t->names[c]);
        put(b, ": ");
        if (t->cells[i] == NULL)
            put(b, "null");
        else if (t->num[i])
            put(b, t->cells[i]);
        else
            ctm__json_string(b, t->cells[i]);
    }
    put(b, "}");
}

static void json_rows(ctm__buf *b, const char *key, const ctm__table *t)
{
    put(b, ",\n  ");
    ctm__json_string(b, key);
    put(b, ": [");
    for (size_t r = 0; r < t->nrows; r++) {
        put(b, r > 0 ? ",\n    " : "\n    ");
        json_row(b, t, r);
    }
    put(b, t->nrows > 0 ? "\n  ]" : "]");
}

/* ---- CSV (RFC 4180) ---- */

typedef struct report {
    ctm__table ex, loggers, kits, signatures;
    double mkt_c, energy_kj;
    int has_mkt;
} report;

static void report_csv(ctm__buf *b, const report *r)
{
    /* one row per kit (one without a kit when none), the excursion's figures repeated */
    for (int c = 0; c < r->ex.ncols; c++) {
        ctm__csv_cell(b, r->ex.names[c], 1);
        put(b, ",");
    }
    put(b, "serials,mkt,energy_kj");
    for (int c = 0; c < r->kits.ncols; c++) {
        put(b, ",kit_");
        ctm__csv_cell(b, r->kits.names[c], 1);
    }
    put(b, "\r\n");
    char serials[512] = "";
    for (size_t i = 0; i < r->loggers.nrows; i++) {
        const char *s = ctm__table_cell(&r->loggers, i, "serial");
        size_t n = strlen(serials);
        snprintf(serials + n, sizeof serials - n, "%s%s", n > 0 ? " " : "", s != NULL ? s : "");
    }
    size_t rows = r->kits.nrows > 0 ? r->kits.nrows : 1;
    for (size_t k = 0; k < rows; k++) {
        for (int c = 0; c < r->ex.ncols; c++) {
            ctm__csv_cell(b, r->ex.cells[c], !r->ex.num[c]);
            put(b, ",");
        }
        ctm__csv_cell(b, serials, 1);
        put(b, ",");
        if (r->has_mkt)
            putf(b, "%.2f,%.3f", r->mkt_c, r->energy_kj);
        else
            put(b, ",");
        for (int c = 0; c < r->kits.ncols; c++) {
            put(b, ",");
            if (k < r->kits.nrows)
                ctm__csv_cell(b, r->kits.cells[k * (size_t)r->kits.ncols + (size_t)c],
                          !r->kits.num[k * (size_t)r->kits.ncols + (size_t)c]);
        }
        put(b, "\r\n");
    }
}

static void report_json(ctm__buf *b, const report *r)
{
    put(b, "{\n  \"excursion\": ");
    json_row(b, &r->ex, 0);
    put(b, ",\n  \"mkt\": ");
    if (r->has_mkt)
        putf(b, "{\"mkt\": %.2f, \"energy_kj\": %.3f}", r->mkt_c, r->energy_kj);
    else
        put(b, "null");
    json_rows(b, "loggers", &r->loggers);
    json_rows(b, "kits", &r->kits);
    json_rows(b, "signatures", &r->signatures);
    put(b, "\n}\n");
}

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

/* The kits as a table whose columns are as wide as their widest cell (in bytes: the texts
 * here are codes and numbers). */
static void kits_table(ctm__buf *b, const ctm__table *kits)
{
    static const char *const cols[] = {"trial", "kit_number", "kit_type", "lot", "status_was",
                                       "status", "decision", "minutes_out", "budget_minutes",
                                       "budget_max", "over_budget"};
    static const char *const heads[] = {"trial", "kit", "type", "lot", "status then",
                                        "status now", "decision", "minutes out",
                                        "budget min", "up to C", "over budget"};
    enum { NCOLS = sizeof cols / sizeof cols[0] };
    if (kits->nrows == 0)
        return;
    size_t width[NCOLS];
    for (size_t c = 0; c < NCOLS; c++) {
        width[c] = strlen(heads[c]);
        for (size_t i = 0; i < kits->nrows; i++) {
            size_t n = strlen(or_dash(ctm__table_cell(kits, i, cols[c])));
            width[c] = n > width[c] ? n : width[c];
        }
    }
    for (size_t i = 0; i <= kits->nrows; i++) {
        put(b, " ");
        for (size_t c = 0; c < NCOLS; c++) {
            const char *v = i == 0 ? heads[c] : or_dash(ctm__table_cell(kits, i - 1, cols[c]));
            if (i > 0 && strcmp(cols[c], "over_budget") == 0)
                v = strcmp(v, "1") == 0 ? "yes: flagged for rejection" : "no";
            putf(b, " %-*s", (int)width[c], v);
        }
        /* no trailing blanks */
        while (b->n > 0 && b->p[b->n - 1] == ' ')
            b->n--;
        put(b, "\n");
    }
}

static void report_text(ctm__buf *b, const report *r)
{
    const ctm__table *e = &r->ex;
    const char *loc = ctm__table_cell(e, 0, "location"), *ship = ctm__table_cell(e, 0, "shipment");
    putf(b, "Temperature excursion %s\n\n", or_dash(ctm__table_cell(e, 0, "excursion")));
    if (loc != NULL)
        putf(b, "Location:         %s\n", loc);
    else
        putf(b, "Shipment:         %s (in transit)\n", or_dash(ship));
    putf(b, "Allowed range:    %s to %s C, alarm delay %s minutes\n", or_dash(ctm__table_cell(e, 0, "range_min")),
         or_dash(ctm__table_cell(e, 0, "range_max")), or_dash(ctm__table_cell(e, 0, "delay_minutes")));
    for (size_t i = 0; i < r->loggers.nrows; i++) {
        const char *serial = ctm__table_cell(&r->loggers, i, "serial");
        putf(b, "Logger:           serial %s, file %s (SHA-256 %.16s...)\n",
             serial != NULL && serial[0] != '\0' ? serial : "(none given)",
             or_dash(ctm__table_cell(&r->loggers, i, "name")), or_dash(ctm__table_cell(&r->loggers, i, "sha256")));
    }
    const char *kind = or_dash(ctm__table_cell(e, 0, "kind"));
    int daily = ctm__table_cell(e, 0, "daily") != NULL && strcmp(ctm__table_cell(e, 0, "daily"), "1") == 0;
    putf(b, "Kind:             %s%s\n", strcmp(kind, "unknown") == 0
                                            ? "unknown (no readings: a gap in the logger's record)"
                                            : kind,
         daily ? " (a daily summary: the minutes fall somewhere in that day)" : "");
    const char *ongoing = ctm__table_cell(e, 0, "ongoing");
    putf(b, "Period (UTC):     %s to %s%s\n", or_dash(ctm__table_cell(e, 0, "start")), or_dash(ctm__table_cell(e, 0, "end")),
         ongoing != NULL && strcmp(ongoing, "1") == 0 ? " (still out of range at the newest reading)"
                                                      : "");
    putf(b, "Duration:         %s minutes\n", or_dash(ctm__table_cell(e, 0, "minutes")));
    if (ctm__table_cell(e, 0, "min") != NULL) {
        putf(b, "Minimum:          %s C at %s\n", ctm__table_cell(e, 0, "min"), or_dash(ctm__table_cell(e, 0, "min_time")));
        putf(b, "Maximum:          %s C at %s\n", or_dash(ctm__table_cell(e, 0, "max")),
             or_dash(ctm__table_cell(e, 0, "max_time")));
    }
    if (ctm__table_cell(e, 0, "degree_minutes") != NULL)
        putf(b, "Degree-minutes:   %s C x min beyond the range\n", ctm__table_cell(e, 0, "degree_minutes"));
    if (r->has_mkt)
        putf(b, "MKT:              %.2f C over the period (dH/R 10,000 K, %.2f kJ/mol)\n",
             r->mkt_c, r->energy_kj);
    putf(b, "Status:           %s\n", or_dash(ctm__table_cell(e, 0, "status")));
    putf(b, "Detected:         %s by %s\n", or_dash(ctm__table_cell(e, 0, "detected")),
         or_dash(ctm__table_cell(e, 0, "detected_by")));
    putf(b, "\nKits affected: %zu (%s put in quarantine by this excursion)\n", r->kits.nrows,
         or_dash(ctm__table_cell(e, 0, "quarantined")));
    kits_table(b, &r->kits);
    put(b, "\nDecisions and signatures:\n");
    if (r->signatures.nrows == 0)
        put(b, "  none yet: the excursion is open\n");
    for (size_t i = 0; i < r->signatures.nrows; i++)
        putf(b, "  %s (%s), %s, \"%s\", sponsor reference %s, %s kit(s)\n",
             or_dash(ctm__table_cell(&r->signatures, i, "printed_name")),
             or_dash(ctm__table_cell(&r->signatures, i, "username")),
             or_dash(ctm__table_cell(&r->signatures, i, "signed")),
             or_dash(ctm__table_cell(&r->signatures, i, "meaning")),
             or_dash(ctm__table_cell(&r->signatures, i, "reference")),
             or_dash(ctm__table_cell(&r->signatures, i, "kits")));
}

/* A listing of sql with the excursion's id as ?1, its named time columns shown as times. */
static int report_listing(ctm_db *db, int64_t id, const char *sql, ctm__table *t, const char *time1,
                          const char *time2)
{
    ctm__st *st = NULL;
    ctm_query *q = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, id);
        rc = ctm__query_new(&q, st, NULL, 0, NULL, NULL, NULL);
    }
    if (rc == CTM_OK && time1 != NULL)
        rc = ctm__query_show(&q, CTM__SHOW_TIME, time1, time2, NULL);
    return ctm__table_read(q, rc, t);
}

int ctm_excursion_report(char **out, ctm_db *db, int64_t excursion, const char *format)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "excursion report: out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, "excursion report");
    int fmt = format == NULL ? -1 : strcmp(format, "text") == 0 ? 0
                                  : strcmp(format, "csv") == 0  ? 1
                                  : strcmp(format, "json") == 0 ? 2 : -1;
    if (rc == CTM_OK && fmt < 0)
        rc = ctm__err(CTM_EINVAL, "format: '%.20s' is none of text, csv, json",
                      format != NULL ? format : "");
    excursion_row e;
    if (rc == CTM_OK)
        rc = excursion_lookup(db, excursion, &e);
    report r;
    memset(&r, 0, sizeof r);
    ctm__st *st = NULL;
    ctm_query *q = NULL;
    if (rc == CTM_OK && (rc = ctm__prepare(db, &st, EXCURSION_ROW_SQL "WHERE e.id = ?1")) == CTM_OK) {
        ctm__st_bind_int(st, 1, excursion);
        rc = ctm__query_new(&q, st, NULL, 0, NULL, NULL, NULL);
        if (rc == CTM_OK)
            rc = show_excursion_times(&q);
        rc = ctm__table_read(q, rc, &r.ex);
    }
    if (rc == CTM_OK)
        rc = report_listing(
            db, excursion,
            "SELECT f.id AS file, f.name AS name, f.serial AS serial, f.model AS model,"
            " f.sha256 AS sha256, f.first_us AS first, f.last_us AS last"
            " FROM excursions e JOIN logger_files f ON (f.location_id = e.location_id"
            " OR f.shipment_id = e.shipment_id) AND f.first_us <= e.end_us"
            " AND f.last_us >= CASE WHEN e.kind = 'unknown'"
            " THEN e.start_us - e.max_gap_minutes * 60000000 ELSE e.start_us END"
            " WHERE e.id = ?1 ORDER BY f.id",
            &r.loggers, "first", "last");
    if (rc == CTM_OK) {
        q = NULL;
        rc = ctm_excursion_kits(&q, db, excursion);
        rc = ctm__table_read(q, rc, &r.kits);
    }
    if (rc == CTM_OK)
        rc = report_listing(
            db, excursion,
            "SELECT u.printed_name AS printed_name, d.decided_by AS username,"
            " d.decided_us AS signed, CASE d.decision WHEN 'released' THEN 'excursion released'"
            " ELSE 'excursion rejected' END AS meaning, d.reference AS reference,"
            " COUNT(*) AS kits FROM (SELECT decided_us, decided_by, decision, reference"
            "  FROM excursion_kits WHERE excursion_id = ?1 AND decision IS NOT NULL"
            "  UNION ALL SELECT decided_us, decided_by,"
            "  CASE status WHEN 'released' THEN 'released' ELSE 'rejected' END, reference"
            "  FROM excursions WHERE id = ?1 AND status IN ('released', 'rejected')"
            "  AND NOT EXISTS (SELECT 1 FROM excursion_kits WHERE excursion_id = ?1)) d"
            " JOIN users u ON u.username = d.decided_by"
            " GROUP BY d.decided_us, d.decided_by, u.printed_name, d.decision, d.reference"
            " ORDER BY d.decided_us",
            &r.signatures, "signed", NULL);
    if (rc == CTM_OK)
        rc = ctm__excursion_mkt(db, excursion, &r.mkt_c, &r.energy_kj, &r.has_mkt);
    if (rc == CTM_OK && r.ex.nrows != 1)
        rc = ctm__err(CTM_ERROR, "excursion %" PRId64 ": not read back", excursion);
    ctm__buf b;
    ctm__buf_init(&b);
    if (rc == CTM_OK) {
        if (fmt == 0)
            report_text(&b, &r);
        else if (fmt == 1)
            report_csv(&b, &r);
        else
            report_json(&b, &r);
        ctm__buf_u8(&b, 0);
        if (b.oom)
            rc = ctm__err(CTM_ENOMEM, "out of memory");
    }
    if (rc == CTM_OK) {
        *out = (char *)b.p;
        b.p = NULL;
    }
    ctm__buf_free(&b);
    ctm__table_free(&r.ex);
    ctm__table_free(&r.loggers);
    ctm__table_free(&r.kits);
    ctm__table_free(&r.signatures);
    return rc;
}
