/* trial.c - trials with their arms, kit types and storage locations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stock.h"
#include "temp.h"


int ctm__trial_lookup(ctm_db *db, const char *code, ctm__trial *t)
{
    int rc = ctm__check_code("trial", code, CTM_MAX_NAME);
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    if ((rc = ctm__prepare(db, &st, "SELECT id, blinded FROM trials WHERE code = ?1")) != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, code);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        t->id = ctm__st_int(st, 0);
        t->blinded = (int)ctm__st_int(st, 1);
        rc = CTM_OK;
    } else {
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "trial '%s' does not exist", code)
                                : ctm__store_fail(src, "reading trials");
    }
    ctm__st_finalize(st);
    return rc;
}

int ctm__location_lookup(ctm_db *db, const char *name, int64_t *id)
{
    int rc = ctm__check_code("location", name, CTM_MAX_NAME);
    if (rc != CTM_OK)
        return rc;
    ctm__st *st = NULL;
    if ((rc = ctm__prepare(db, &st, "SELECT id FROM locations WHERE name = ?1")) != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, name);
    int src = ctm__st_step(st);
    if (src == CTM_ROW) {
        *id = ctm__st_int(st, 0);
        rc = CTM_OK;
    } else {
        rc = src == CTM_OK ? ctm__err(CTM_ENOTFOUND, "location '%s' does not exist", name)
                                : ctm__store_fail(src, "reading locations");
    }
    ctm__st_finalize(st);
    return rc;
}

int ctm__listing_begin(ctm_query **out, ctm_db *db, const char *what, const char *trial,
                       ctm__trial *t)
{
    ctm__clear_error();
    memset(t, 0, sizeof *t);
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "out: NULL");
    *out = NULL;
    int rc = ctm__require_user(db, 0, what);
    if (rc == CTM_OK && trial != NULL)
        rc = ctm__trial_lookup(db, trial, t);
    return rc;
}


/* ---- trials ---- */

typedef struct arm_spec {
    char code[33];
    int ratio;
} arm_spec;

/* "A:1,B:1" -> arms; codes 1-32 of [A-Za-z0-9._-], ratios 1-100, no repeats. */
static int parse_arms(const char *arms, arm_spec *out, int max, int *n)
{
    if (arms == NULL || arms[0] == '\0')
        return ctm__err(CTM_EINVAL, "arms: missing (give them as A:1,B:1)");
    *n = 0;
    const char *p = arms;
    while (*p) {
        const char *colon = strchr(p, ':');
        const char *comma = strchr(p, ',');
        if (comma == NULL)
            comma = p + strlen(p);
        if (colon == NULL || colon > comma || colon == p || colon - p > 32)
            return ctm__err(CTM_EINVAL, "arms: '%.*s' is not CODE:RATIO", (int)(comma - p), p);
        if (*n == max)
            return ctm__err(CTM_EINVAL, "arms: more than %d arms", max);
        arm_spec *a = &out[*n];
        memcpy(a->code, p, (size_t)(colon - p));
        a->code[colon - p] = '\0';
        for (const char *c = a->code; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                  *c == '.' || *c == '_' || *c == '-'))
                return ctm__err(CTM_EINVAL, "arms: arm code '%s' has a character not allowed",
                                a->code);
        char *end = NULL;
        long ratio = strtol(colon + 1, &end, 10);
        if (end != comma || ratio < 1 || ratio > 100)
            return ctm__err(CTM_EINVAL, "arms: the ratio of arm '%s' must be 1 to 100", a->code);
        a->ratio = (int)ratio;
        for (int i = 0; i < *n; i++)
            if (strcmp(out[i].code, a->code) == 0)
                return ctm__err(CTM_EINVAL, "arms: arm '%s' given twice", a->code);
        (*n)++;
        p = *comma ? comma + 1 : comma;
        if (*comma && *p == '\0')
            return ctm__err(CTM_EINVAL, "arms: ends with a comma");
    }
    return CTM_OK;
}

static int insert_trial(ctm_db *db, const char *code, const char *title, const char *sponsor,
                        int blinded, const arm_spec *arms, int narms)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "INSERT INTO trials(code, title, sponsor, blinded, created_us)"
                          " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, code);
    ctm__st_bind_text(st, 2, title);
    ctm__st_bind_text(st, 3, sponsor);
    ctm__st_bind_int(st, 4, blinded ? 1 : 0);
    ctm__st_bind_int(st, 5, ctm__now_us());
    int64_t trial_id = 0;
    if ((rc = ctm__insert_id(db, st, &trial_id, "adding the trial")) != CTM_OK)
        return rc;
    for (int i = 0; rc == CTM_OK && i < narms; i++) {
        if ((rc = ctm__prepare(db, &st, "INSERT INTO arms(trial_id, code, ratio) VALUES (?1, ?2, ?3)")) !=
            CTM_OK)
            break;
        ctm__st_bind_int(st, 1, trial_id);
        ctm__st_bind_text(st, 2, arms[i].code);
        ctm__st_bind_int(st, 3, arms[i].ratio);
        rc = ctm__step_done(db, st, "adding the arms");
    }
    return rc;
}

static int exists(ctm_db *db, const char *sql, const char *a, int64_t b, int *found)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, sql);
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_text(st, 1, a);
    ctm__st_bind_int(st, 2, b);
    int src = ctm__st_step(st);
    ctm__st_finalize(st);
    if (src != CTM_ROW && src != CTM_OK)
        return ctm__store_fail(src, "reading");
    *found = src == CTM_ROW;
    return CTM_OK;
}

int ctm_trial_add(ctm_db *db, const char *code, const char *title, const char *sponsor,
                  int blinded, const char *arms)
{
    ctm__clear_error();
    arm_spec spec[32];
    int narms = 0, found = 0;
    int rc = ctm__require_action(db, "trial.add", "trial add");
    if (rc == CTM_OK)
        rc = ctm__check_code("trial code", code, CTM_MAX_NAME);
    if (rc == CTM_OK)
        rc = ctm__check_text("title", title, CTM_MAX_TEXT);
    if (rc == CTM_OK)
        rc = ctm__check_text("sponsor", sponsor, CTM_MAX_TEXT);
    if (rc == CTM_OK)
        rc = parse_arms(arms, spec, 32, &narms);
    if (rc == CTM_OK && blinded && narms < 2)
        rc = ctm__err(CTM_EINVAL, "arms: a blinded trial needs two or more arms");
    if (rc == CTM_OK)
        rc = exists(db, "SELECT 1 FROM trials WHERE code = ?1 AND ?2 = ?2", code, 0, &found);
    if (rc == CTM_OK && found)
        rc = ctm__err(CTM_EEXISTS, "trial code: '%s' already exists", code);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "trial.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", code);
    ctm__action_param(&a, "blinded", blinded ? "yes" : "no");
    rc = insert_trial(db, code, title, sponsor, blinded, spec, narms);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* The trial list's arms column, "A:2,B:1" with the arms in the order the trial gave them (NULL
 * for none), is made here from the arms' rows: a string aggregate is engine-specific SQL. */
#define TRIAL_LIST_CODE_COL 0
#define TRIAL_LIST_ARMS_COL 4

static void trial_list_ctx_free(void *ctx)
{
    ctm__st_finalize(ctx);
}

static int trial_list_row(ctm__st *st, ctm__row *row, void *ctx)
{
    ctm__st *arms = ctx;
    int rc = ctm__row_copy(st, row);
    if (rc != CTM_OK)
        return rc;
    ctm__st_reset(arms);
    ctm__st_bind_text(arms, 1, row->texts[TRIAL_LIST_CODE_COL]);
    ctm__buf text;
    ctm__buf_init(&text);
    while ((rc = ctm__st_step(arms)) == CTM_ROW) {
        char ratio[24];
        snprintf(ratio, sizeof ratio, ":%lld", (long long)ctm__st_int(arms, 1));
        if (text.n > 0)
            ctm__buf_put(&text, ",", 1);
        ctm__buf_put(&text, ctm__st_text(arms, 0), ctm__st_bytes(arms, 0));
        ctm__buf_put(&text, ratio, strlen(ratio));
    }
    ctm__buf_u8(&text, 0);
    if (rc != CTM_OK)
        rc = ctm__store_fail(rc, "reading the trial's arms");
    else if (text.oom)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    else
        rc = ctm__row_set_text(row, TRIAL_LIST_ARMS_COL, text.n > 1 ? (char *)text.p : NULL);
    ctm__buf_free(&text);
    ctm__st_reset(arms);
    return rc;
}

int ctm_trial_list(ctm_query **out, ctm_db *db)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "trial list", NULL, &t);
    ctm__st *st = NULL, *arms = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &arms,
                          "SELECT a.code, a.ratio FROM arms a JOIN trials t ON t.id = a.trial_id"
                          " WHERE t.code = ?1 ORDER BY a.id");
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT t.code AS code, t.title AS title, t.sponsor AS sponsor,"
                          " t.blinded AS blinded, NULL AS arms, t.created_us AS created"
                          " FROM trials t ORDER BY t.code");
    if (rc != CTM_OK) {
        ctm__st_finalize(arms);
        return rc;
    }
    rc = ctm__query_new(out, st, NULL, 0, trial_list_row, arms, trial_list_ctx_free);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "created", NULL);
    return rc;
}

/* ---- kit types ---- */

static int check_kittype(const char *code, const char *name, int units, double min_c, double max_c,
                         int dnd_days, const ctm_kittype_options *o, int64_t mc[4])
{
    int rc = ctm__check_code("kit type code", code, CTM_MAX_NAME);
    if (rc == CTM_OK)
        rc = ctm__check_text("name", name, CTM_MAX_TEXT);
    if (rc == CTM_OK && (units < 1 || units > 100000))
        rc = ctm__err(CTM_EINVAL, "units: %d; a kit holds 1 to 100000 units", units);
    if (rc == CTM_OK)
        rc = ctm__temp_mc("storage minimum", min_c, &mc[0]);
    if (rc == CTM_OK)
        rc = ctm__temp_mc("storage maximum", max_c, &mc[1]);
    if (rc == CTM_OK && mc[0] >= mc[1])
        rc = ctm__err(CTM_EINVAL, "storage: the minimum %g must be below the maximum %g", min_c,
                      max_c);
    if (rc == CTM_OK && (dnd_days < 0 || dnd_days > 3650))
        rc = ctm__err(CTM_EINVAL, "do-not-dispense days: %d; give 0 to 3650", dnd_days);
    if (rc == CTM_OK && o->dose_form != NULL)
        rc = ctm__check_text("dose form", o->dose_form, 64);
    if (rc == CTM_OK && o->strength != NULL)
        rc = ctm__check_text("strength", o->strength, 64);
    if (rc == CTM_OK && o->excursion_budget_minutes != -1) {
        if (o->excursion_budget_minutes < 0 || o->excursion_budget_minutes > 525600)
            rc = ctm__err(CTM_EINVAL, "excursion budget: %d minutes; give 0 to 525600",
                          o->excursion_budget_minutes);
        else
            rc = ctm__temp_mc("excursion maximum", o->excursion_max_c, &mc[2]);
        if (rc == CTM_OK && mc[2] <= mc[1])
            rc = ctm__err(CTM_EINVAL, "excursion maximum: %g must be above the storage maximum",
                          o->excursion_max_c);
    }
    if (rc == CTM_OK && (o->dispensing_days < 0 || o->dispensing_days > 3650))
        rc = ctm__err(CTM_EINVAL, "dispensing days: %d; give 0 to 3650", o->dispensing_days);
    return rc;
}

static void bind_text_or_null(ctm__st *st, int i, const char *s)
{
    if (s != NULL)
        ctm__st_bind_text(st, i, s);
    else
        ctm__st_bind_null(st, i);
}

int ctm_kittype_add(ctm_db *db, const char *trial, const char *code, const char *name, int units,
                    double storage_min_c, double storage_max_c, int dnd_days,
                    const ctm_kittype_options *opts)
{
    ctm__clear_error();
    ctm_kittype_options o = CTM_KITTYPE_OPTIONS_INIT;
    if (opts != NULL)
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    int64_t mc[4] = {0};
    ctm__trial t;
    int found = 0;
    int rc = ctm__require_action(db, "kittype.add", "kittype add");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = check_kittype(code, name, units, storage_min_c, storage_max_c, dnd_days, &o, mc);
    if (rc == CTM_OK)
        rc = exists(db, "SELECT 1 FROM kit_types WHERE code = ?1 AND trial_id = ?2", code, t.id,
                    &found);
    if (rc == CTM_OK && found)
        rc = ctm__err(CTM_EEXISTS, "kit type code: '%s' already exists in trial %s", code, trial);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "kittype.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "kit_type", code);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "INSERT INTO kit_types(trial_id, code, name, dose_form, strength, units,"
                      " storage_min_mc, storage_max_mc, dnd_days, budget_minutes, budget_max_mc,"
                      " dispensing_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_text(st, 2, code);
        ctm__st_bind_text(st, 3, name);
        bind_text_or_null(st, 4, o.dose_form);
        bind_text_or_null(st, 5, o.strength);
        ctm__st_bind_int(st, 6, units);
        ctm__st_bind_int(st, 7, mc[0]);
        ctm__st_bind_int(st, 8, mc[1]);
        ctm__st_bind_int(st, 9, dnd_days);
        if (o.excursion_budget_minutes != -1) {
            ctm__st_bind_int(st, 10, o.excursion_budget_minutes);
            ctm__st_bind_int(st, 11, mc[2]);
        }
        if (o.dispensing_days > 0)
            ctm__st_bind_int(st, 12, o.dispensing_days);
        rc = ctm__step_done(db, st, "adding the kit type");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_kittype_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "kittype list", trial, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT t.code AS trial, k.code AS code, k.name AS name,"
                          " k.dose_form AS dose_form, k.strength AS strength, k.units AS units,"
                          " k.storage_min_mc / 1000.0 AS storage_min,"
                          " k.storage_max_mc / 1000.0 AS storage_max, k.dnd_days AS dnd_days,"
                          " k.budget_minutes AS excursion_budget_minutes,"
                          " k.budget_max_mc / 1000.0 AS excursion_max,"
                          " k.dispensing_days AS dispensing_days"
                          " FROM kit_types k JOIN trials t ON t.id = k.trial_id"
                          " WHERE ?1 IS NULL OR k.trial_id = ?1 ORDER BY t.code, k.code");
    if (rc != CTM_OK)
        return rc;
    if (trial != NULL)
        ctm__st_bind_int(st, 1, t.id);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}

/* ---- locations ---- */

int ctm_location_add(ctm_db *db, const char *name, const char *kind, double min_c, double max_c)
{
    ctm__clear_error();
    int64_t lo = 0, hi = 0;
    int found = 0;
    int rc = ctm__require_action(db, "location.add", "location add");
    if (rc == CTM_OK)
        rc = ctm__check_code("location name", name, CTM_MAX_NAME);
    if (rc == CTM_OK)
        rc = ctm__check_text("kind", kind, 32);
    if (rc == CTM_OK)
        rc = ctm__temp_mc("range minimum", min_c, &lo);
    if (rc == CTM_OK)
        rc = ctm__temp_mc("range maximum", max_c, &hi);
    if (rc == CTM_OK && lo >= hi)
        rc = ctm__err(CTM_EINVAL, "range: the minimum %g must be below the maximum %g", min_c, max_c);
    if (rc == CTM_OK)
        rc = exists(db, "SELECT 1 FROM locations WHERE name = ?1 AND ?2 = ?2", name, 0, &found);
    if (rc == CTM_OK && found)
        rc = ctm__err(CTM_EEXISTS, "location name: '%s' already exists", name);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "location.add", "")) != CTM_OK)
        return rc;
    ctm__action_param(&a, "location", name);
    ctm__st *st = NULL;
    rc = ctm__prepare(db, &st,
                      "INSERT INTO locations(name, kind, min_mc, max_mc) VALUES (?1, ?2, ?3, ?4)");
    if (rc == CTM_OK) {
        ctm__st_bind_text(st, 1, name);
        ctm__st_bind_text(st, 2, kind);
        ctm__st_bind_int(st, 3, lo);
        ctm__st_bind_int(st, 4, hi);
        rc = ctm__step_done(db, st, "adding the location");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

int ctm_location_list(ctm_query **out, ctm_db *db)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "location list", NULL, &t);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT l.name AS name, l.kind AS kind, l.min_mc / 1000.0 AS min,"
                          " l.max_mc / 1000.0 AS max,"
                          " (SELECT count(*) FROM kits k WHERE k.location_id = l.id) AS kits,"
                          " COALESCE(a.delay_minutes, " CTM__STR(CTM__ALARM_DELAY_MINUTES) ")"
                          " AS alarm_delay_minutes,"
                          " COALESCE(a.max_gap_minutes, " CTM__STR(CTM__ALARM_GAP_MINUTES) ")"
                          " AS max_gap_minutes"
                          " FROM locations l LEFT JOIN location_alarms a ON a.location_id = l.id"
                          " ORDER BY l.name");
    return rc == CTM_OK ? ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL) : rc;
}
