/* randomization.c - a trial's randomization scheme and list: generated from a seed or imported,
 * extended, shown to unblinded users only.  Allocation from the list is subjects.c's. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "randgen.h"
#include "randlist.h"
#include "randomization.h"

/* Rows per stratum of a generated list: its numbers are k * STRATUM_SPAN + n. */
#define STRATUM_SPAN 100000
#define MAX_BLOCK_SIZES 16

int ctm__arms_load(ctm_db *db, int64_t trial_id, ctm__arms *arms)
{
    memset(arms, 0, sizeof *arms);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT code, ratio FROM arms WHERE trial_id = ?1 ORDER BY id");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    while ((rc = ctm__st_step(st)) == CTM_ROW && arms->n < CTM__MAX_ARMS) {
        snprintf(arms->code[arms->n], sizeof arms->code[0], "%s", ctm__st_text(st, 0));
        arms->ratio[arms->n++] = (int)ctm__st_int(st, 1);
    }
    ctm__st_finalize(st);
    return rc == CTM_OK || rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc, "reading the arms");
}

int ctm__arms_find(const ctm__arms *arms, const char *code)
{
    for (int i = 0; i < arms->n; i++)
        if (strcmp(arms->code[i], code) == 0)
            return i;
    return -1;
}

int ctm__scheme_load(ctm_db *db, int64_t trial_id, ctm__scheme *s)
{
    memset(s, 0, sizeof *s);
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT method, source, strata, weights, imbalance, p FROM rand_schemes"
                          " WHERE trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        s->exists = 1;
        snprintf(s->method, sizeof s->method, "%s", ctm__st_text(st, 0));
        snprintf(s->source, sizeof s->source, "%s", ctm__st_text(st, 1));
        rc = ctm__strata_parse(&s->strata, ctm__st_text(st, 2));
        if (rc != CTM_OK)
            rc = ctm__err(CTM_EINTEGRITY, "the trial's stored strata do not parse");
        if (rc == CTM_OK && strcmp(s->method, "minimization") == 0) {
            const char *imbalance = ctm__st_text(st, 4);
            s->p = ctm__st_real(st, 5);
            s->imbalance = imbalance == NULL                   ? 0
                           : strcmp(imbalance, "range") == 0    ? CTM__IMBALANCE_RANGE
                           : strcmp(imbalance, "variance") == 0 ? CTM__IMBALANCE_VARIANCE
                                                                : 0;
            if (ctm__strata_weights(&s->strata, ctm__st_text(st, 3), s->weight) != CTM_OK ||
                s->imbalance == 0 || !(s->p > 0.0 && s->p <= 1.0))
                rc = ctm__err(CTM_EINTEGRITY, "the trial's stored minimization scheme is not valid");
        }
    } else if (rc != CTM_OK) {
        rc = ctm__store_fail(rc, "reading the randomization scheme");
    }
    ctm__st_finalize(st);
    return rc;
}

/* ---- checks ---- */

/* "4,6" -> sizes, each a multiple of the ratio sum, 2 to 1000, no repeats. */
static int parse_block_sizes(const char *text, const ctm__arms *arms, int *sizes, int *n)
{
    int sum = 0;
    for (int i = 0; i < arms->n; i++)
        sum += arms->ratio[i];
    *n = 0;
    if (text == NULL || text[0] == '\0')
        return ctm__err(CTM_EINVAL, "block sizes: missing (give them as 4,6)");
    const char *p = text;
    for (;;) {
        char *end = NULL;
        if (*p < '0' || *p > '9')
            return ctm__err(CTM_EINVAL, "block sizes: expected numbers separated by commas");
        long v = strtol(p, &end, 10);
        if (v < 2 || v > 1000)
            return ctm__err(CTM_EINVAL, "block sizes: %ld is not 2 to 1000", v);
        if (v % sum != 0)
            return ctm__err(CTM_EINVAL,
                            "block sizes: %ld is not a multiple of %d, the sum of the trial's "
                            "arm ratios",
                            v, sum);
        for (int i = 0; i < *n; i++)
            if (sizes[i] == v)
                return ctm__err(CTM_EINVAL, "block sizes: %ld given twice", v);
        if (*n == MAX_BLOCK_SIZES)
            return ctm__err(CTM_EINVAL, "block sizes: more than %d", MAX_BLOCK_SIZES);
        sizes[(*n)++] = (int)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return ctm__err(CTM_EINVAL, "block sizes: expected numbers separated by commas");
        p = end + 1;
    }
    /* A set: kept sorted, as the generator draws from it, so "6,3" is the list's "3,6". */
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && sizes[j - 1] > sizes[j]; j--) {
            int t = sizes[j];
            sizes[j] = sizes[j - 1];
            sizes[j - 1] = t;
        }
    return CTM_OK;
}

static void format_block_sizes(const int *sizes, int n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", sizes[i]);
}

static int parse_seed(const char *hex, uint8_t seed[32])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (strlen(hex) != 64 || sodium_hex2bin(seed, 32, hex, 64, NULL, &bin_len, &end) != 0 ||
        bin_len != 32 || *end != '\0')
        return ctm__err(CTM_EINVAL, "seed: expected 64 hex digits");
    return CTM_OK;
}

/* The list as it stands: rows, allocations; and the subjects randomized in the trial by any
 * scheme (a minimization scheme has no list). */
typedef struct list_state {
    int64_t rows, allocated, randomized;
} list_state;

static int list_state_load(ctm_db *db, int64_t trial_id, list_state *ls)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT (SELECT count(*) FROM rand_list WHERE trial_id = ?1),"
                          " (SELECT count(subject_id) FROM rand_list WHERE trial_id = ?1),"
                          " (SELECT count(*) FROM subjects WHERE trial_id = ?1"
                          " AND rand_number IS NOT NULL)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    rc = ctm__st_step(st);
    if (rc == CTM_ROW) {
        ls->rows = ctm__st_int(st, 0);
        ls->allocated = ctm__st_int(st, 1);
        ls->randomized = ctm__st_int(st, 2);
        rc = CTM_OK;
    } else {
        rc = ctm__store_fail(rc == CTM_OK ? CTM_ERROR : rc, "reading the randomization list");
    }
    ctm__st_finalize(st);
    return rc;
}

/* The options in force for a write on a trial that may already have a scheme: a replacement
 * only of a list without allocations, an extension only of a list of the same kind and strata. */
static int check_scheme_change(const ctm__scheme *old, const list_state *ls, const char *source,
                               const ctm_random_options *o, const ctm__strata *strata)
{
    if (!o->extend) {
        if (old->exists && strcmp(old->method, "list") != 0 && ls->randomized > 0)
            return ctm__err(CTM_ERULE,
                            "%lld subjects were randomized by the trial's %s scheme: it cannot be"
                            " replaced",
                            (long long)ls->randomized, old->method);
        if (ls->allocated > 0)
            return ctm__err(CTM_ERULE,
                            "the trial's list has %lld allocations: it cannot be replaced, only "
                            "extended",
                            (long long)ls->allocated);
        return CTM_OK;
    }
    if (!old->exists || strcmp(old->method, "list") != 0)
        return ctm__err(CTM_ERULE, "the trial has no list to extend%s",
                        old->exists ? ": it is randomized by minimization" : "");
    int old_generated = strcmp(old->source, "generated") == 0;
    if (strcmp(old->method, "list") != 0 || old_generated != (strcmp(source, "generated") == 0))
        return ctm__err(CTM_ERULE, "a %s list can only be extended by %s", old->source,
                        old_generated ? "generating more rows" : "importing more rows");
    char a[1024], b[1024];
    if (ctm__strata_format(&old->strata, a, sizeof a) != CTM_OK ||
        ctm__strata_format(strata, b, sizeof b) != CTM_OK || strcmp(a, b) != 0)
        return ctm__err(CTM_ERULE, "strata: an extension keeps the list's strata (%s)",
                        a[0] ? a : "none");
    return CTM_OK;
}

/* What the tables and ctm_randomization keep of strata: the spec in 1024 bytes (write_scheme),
 * a stratum's name in 400 (ctm_randomization.stratum, the labels of a list's rows).  The spec
 * parser allows more (8 factors with 32-character names and levels): refused here, naming the
 * limit, rather than midway through a generation with a message about a buffer. */
#define STRATA_SPEC_MAX 1024
#define STRATUM_NAME_MAX 400

static int check_strata_fit(const ctm__strata *s)
{
    char spec[STRATA_SPEC_MAX];
    if (ctm__strata_format(s, spec, sizeof spec) != CTM_OK)
        return ctm__err(CTM_EINVAL, "strata: the spec is longer than %d characters",
                        STRATA_SPEC_MAX - 1);
    size_t longest = 0;
    for (int f = 0; f < s->nfactors; f++) {
        size_t level = 0;
        for (int l = 0; l < s->f[f].nlevels; l++)
            if (strlen(s->f[f].levels[l]) > level)
                level = strlen(s->f[f].levels[l]);
        longest += (f > 0) + strlen(s->f[f].name) + 1 + level;
    }
    if (longest >= STRATUM_NAME_MAX)
        return ctm__err(CTM_EINVAL,
                        "strata: a stratum's name (factor=level,...) would be up to %zu "
                        "characters, more than %d; use shorter names",
                        longest, STRATUM_NAME_MAX - 1);
    return CTM_OK;
}

/* The options, the reader's right to the list, the trial and its arms: what no other writer
 * changes.  The strata given are parsed here too (a pure check); *given_strata says whether
 * there were any to parse, or the list's own are meant (extending without strata). */
static int prepare_write(ctm_db *db, const char *action, const char *what, const char *trial,
                         const ctm_random_options *opts, ctm_random_options *o, ctm__trial *t,
                         ctm__arms *arms, ctm__strata *strata)
{
    ctm_random_options def = CTM_RANDOM_OPTIONS_INIT;
    *o = def;
    if (opts != NULL)
        memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
    int rc = ctm__require_action(db, action, what);
    if (rc == CTM_OK && !ctm__blind_sees_all(db))
        rc = ctm__err(CTM_EBLINDED, "%s: a randomization list is for unblinded users only", what);
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, t);
    if (rc == CTM_OK)
        rc = ctm__arms_load(db, t->id, arms);
    if (rc == CTM_OK && !(o->extend && o->strata == NULL))
        rc = ctm__strata_parse(strata, o->strata);
    if (rc == CTM_OK && !(o->extend && o->strata == NULL))
        rc = check_strata_fit(strata);
    return rc;
}

/* The list as it stands, read inside the write's transaction (under the writer lock): checked
 * before it, a replacement could wipe out an allocation another writer committed meanwhile, or
 * an extension continue a list that another writer replaced.  Extending without strata takes
 * the list's own. */
static int load_state(ctm_db *db, int64_t trial_id, const ctm_random_options *o,
                      ctm__scheme *old, list_state *ls, ctm__strata *strata)
{
    int rc = ctm__scheme_load(db, trial_id, old);
    if (rc == CTM_OK)
        rc = list_state_load(db, trial_id, ls);
    if (rc == CTM_OK && o->extend && o->strata == NULL) {
        if (old->exists)
            *strata = old->strata;
        else
            memset(strata, 0, sizeof *strata);
    }
    return rc;
}

/* ---- writing ---- */

static int write_scheme(ctm_db *db, int64_t trial_id, const char *source, const ctm__strata *strata,
                        const uint8_t *seed, const char *block_sizes)
{
    char spec[1024];
    int rc = ctm__strata_format(strata, spec, sizeof spec);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "DELETE FROM rand_schemes WHERE trial_id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, trial_id);
        rc = ctm__step_done(db, st, "replacing the randomization scheme");
    }
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO rand_schemes(trial_id, method, source, strata, seed,"
                          " block_sizes, created_us) VALUES (?1, 'list', ?2, ?3, ?4, ?5, ?6)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, source);
    ctm__st_bind_text(st, 3, spec);
    if (seed != NULL)
        ctm__st_bind_blob(st, 4, seed, 32);
    ctm__st_bind_text(st, 5, block_sizes);
    ctm__st_bind_int(st, 6, ctm__now_us());
    return ctm__step_done(db, st, "recording the randomization scheme");
}

static int delete_list(ctm_db *db, int64_t trial_id)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "DELETE FROM rand_list WHERE trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    return ctm__step_done(db, st, "replacing the randomization list");
}

typedef struct row_writer {
    ctm_db *db;
    ctm__st *st;
    int64_t trial_id;
} row_writer;

static int row_writer_open(row_writer *w, ctm_db *db, int64_t trial_id)
{
    w->db = db;
    w->trial_id = trial_id;
    return ctm__prepare(db, &w->st,
                        "INSERT INTO rand_list(trial_id, stratum, position, number, block,"
                        " block_size, arm) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
}

static int row_write(row_writer *w, const char *stratum, int64_t position, const char *number,
                     int64_t block, int block_size, const char *arm)
{
    ctm__st_reset(w->st);
    ctm__st_bind_int(w->st, 1, w->trial_id);
    ctm__st_bind_text(w->st, 2, stratum);
    ctm__st_bind_int(w->st, 3, position);
    ctm__st_bind_text(w->st, 4, number);
    if (block > 0) {
        ctm__st_bind_int(w->st, 5, block);
        ctm__st_bind_int(w->st, 6, block_size);
    }
    ctm__st_bind_text(w->st, 7, arm);
    int rc = ctm__step(w->db, w->st, "adding to the randomization list");
    if (rc == CTM_EEXISTS)
        rc = ctm__err(CTM_EEXISTS, "randomization number %s is already in the trial", number);
    return rc;
}

/* The rows a stratum has now (the next position is one more). */
static int stratum_rows(ctm_db *db, int64_t trial_id, const char *stratum, int64_t *rows)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT count(*) FROM rand_list WHERE trial_id = ?1 AND stratum = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, trial_id);
    ctm__st_bind_text(st, 2, stratum);
    rc = ctm__st_step(st);
    *rows = rc == CTM_ROW ? ctm__st_int(st, 0) : 0;
    ctm__st_finalize(st);
    return rc == CTM_ROW ? CTM_OK : ctm__store_fail(rc == CTM_OK ? CTM_ERROR : rc, "reading");
}

/* ---- generate ---- */

static int generate_rows(ctm_db *db, int64_t trial_id, const ctm__strata *strata,
                         const ctm__arms *arms, const int *sizes, int nsizes, const uint8_t seed[32],
                         int size)
{
    row_writer w;
    int rc = row_writer_open(&w, db, trial_id);
    size_t nstrata = ctm__strata_count(strata);
    for (size_t k = 0; rc == CTM_OK && k < nstrata; k++) {
        int level[CTM__STRATA_MAX_FACTORS];
        char label[400];
        int64_t have = 0;
        ctm__strata_nth(strata, k, level);
        rc = ctm__strata_label(strata, level, label, sizeof label);
        if (rc == CTM_OK)
            rc = stratum_rows(db, trial_id, label, &have);
        ctm__block_row *rows = NULL;
        size_t n = 0;
        if (rc == CTM_OK)
            rc = ctm__blocks_generate(seed, label, arms->ratio, arms->n, sizes, nsizes,
                                      (size_t)size, &rows, &n);
        for (int64_t i = have; rc == CTM_OK && i < size; i++) {
            char number[24];
            snprintf(number, sizeof number, "%lld",
                     (long long)((int64_t)(k + 1) * STRATUM_SPAN + i + 1));
            rc = row_write(&w, label, i + 1, number, rows[i].block, rows[i].block_size,
                           arms->code[rows[i].arm]);
        }
        free(rows);
    }
    ctm__st_finalize(w.st);
    return rc;
}

/* The checks of a generation that depend on the list as it stands, and for an extension the
 * list's seed: run inside the write's transaction. */
static int generate_check_state(ctm_db *db, const ctm__trial *t, const ctm_random_options *o,
                                int size, const char *sizes_text, ctm__strata *strata,
                                uint8_t seed[32])
{
    ctm__scheme old;
    list_state ls = { 0, 0, 0 };
    int rc = load_state(db, t->id, o, &old, &ls, strata);
    /* as an import: one entry holds every row, and every reader of the audit log decodes it */
    if (rc == CTM_OK && ctm__strata_count(strata) * (size_t)size > 1000000)
        rc = ctm__err(CTM_EINVAL, "size: %d rows in each of %zu strata is more than 1,000,000",
                      size, ctm__strata_count(strata));
    if (rc == CTM_OK)
        rc = check_scheme_change(&old, &ls, "generated", o, strata);
    if (rc != CTM_OK || !o->extend)
        return rc;
    /* The list's own seed and block sizes: an extension continues its streams. */
    ctm__st *st = NULL;
    char stored_sizes[128] = "";
    int64_t largest = 0;
    rc = ctm__prepare(db, &st,
                      "SELECT seed, block_sizes, (SELECT max(position) FROM rand_list"
                      " WHERE trial_id = ?1) FROM rand_schemes WHERE trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t->id);
    if ((rc = ctm__st_step(st)) == CTM_ROW && ctm__st_bytes(st, 0) == 32) {
        memcpy(seed, ctm__st_blob(st, 0), 32);
        snprintf(stored_sizes, sizeof stored_sizes, "%s", ctm__st_text(st, 1));
        largest = ctm__st_int(st, 2);
        rc = CTM_OK;
    } else {
        rc = ctm__err(CTM_EINTEGRITY, "the generated list's seed is missing");
    }
    ctm__st_finalize(st);
    uint8_t given[32];
    if (rc == CTM_OK && o->seed != NULL &&
        ((rc = parse_seed(o->seed, given)) != CTM_OK || sodium_memcmp(given, seed, 32) != 0))
        rc = rc != CTM_OK ? rc : ctm__err(CTM_ERULE, "seed: an extension keeps the list's seed");
    if (rc == CTM_OK && strcmp(stored_sizes, sizes_text) != 0)
        rc = ctm__err(CTM_ERULE, "block sizes: an extension keeps the list's (%s)", stored_sizes);
    if (rc == CTM_OK && size <= largest)
        rc = ctm__err(CTM_ERULE, "size: %d rows per stratum is not more than the list has (%lld)",
                      size, (long long)largest);
    return rc;
}

int ctm_random_generate(ctm_db *db, const char *trial, int size, const char *block_sizes,
                        const ctm_random_options *opts)
{
    ctm__clear_error();
    ctm_random_options o;
    ctm__trial t;
    ctm__arms arms;
    ctm__strata strata;
    memset(&strata, 0, sizeof strata);
    int sizes[MAX_BLOCK_SIZES], nsizes = 0;
    uint8_t seed[32];
    int rc = prepare_write(db, "random.generate", "random generate", trial, opts, &o, &t, &arms,
                           &strata);
    if (rc == CTM_OK && (size < 1 || size >= STRATUM_SPAN))
        rc = ctm__err(CTM_EINVAL, "size: %d rows per stratum; give 1 to %d", size,
                      STRATUM_SPAN - 1);
    if (rc == CTM_OK)
        rc = parse_block_sizes(block_sizes, &arms, sizes, &nsizes);
    if (rc == CTM_OK && !o.extend && o.seed != NULL)
        rc = parse_seed(o.seed, seed);
    if (rc != CTM_OK)
        return rc;
    if (!o.extend && o.seed == NULL)
        randombytes_buf(seed, sizeof seed);
    char sizes_text[MAX_BLOCK_SIZES * 6];
    format_block_sizes(sizes, nsizes, sizes_text, sizeof sizes_text);
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "random.generate", "")) != CTM_OK) {
        sodium_memzero(seed, sizeof seed);
        return rc;
    }
    rc = generate_check_state(db, &t, &o, size, sizes_text, &strata, seed);
    char rows_text[24], strata_text[24];
    snprintf(rows_text, sizeof rows_text, "%d", size);
    snprintf(strata_text, sizeof strata_text, "%zu", ctm__strata_count(&strata));
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "rows_per_stratum", rows_text);
    ctm__action_param(&a, "strata", strata_text);
    ctm__action_param(&a, "extend", o.extend ? "yes" : "no");
    if (rc == CTM_OK && !o.extend) {
        rc = delete_list(db, t.id);
        if (rc == CTM_OK)
            rc = write_scheme(db, t.id, "generated", &strata, seed, sizes_text);
    }
    if (rc == CTM_OK)
        rc = generate_rows(db, t.id, &strata, &arms, sizes, nsizes, seed, size);
    sodium_memzero(seed, sizeof seed);
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- import ---- */

static int parse_format(const char *format, enum ctm__randlist_format *f)
{
    static const struct {
        const char *name;
        enum ctm__randlist_format f;
    } formats[] = { { "sponsor", CTM__RANDLIST_SPONSOR },
                    { "blockrand", CTM__RANDLIST_BLOCKRAND },
                    { "kits", CTM__RANDLIST_KITS } };
    *f = CTM__RANDLIST_DETECT;
    if (format == NULL)
        return CTM_OK;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(format, formats[i].name) == 0) {
            *f = formats[i].f;
            return CTM_OK;
        }
    return ctm__err(CTM_EINVAL, "format: '%.32s' is not sponsor, blockrand or kits", format);
}

/* The stratum of every row as its canonical label, checked whole before anything is written:
 * labels[i] points into the returned block, which holds one label per stratum (not per row: a
 * list of a million rows would take 400 MB). */
static int map_strata(const ctm__randlist *l, const ctm__strata *strata, char **block,
                      const char ***labels)
{
    *block = NULL;
    *labels = NULL;
    size_t each = STRATUM_NAME_MAX, nstrata = ctm__strata_count(strata);
    char *b = calloc(nstrata, each);
    const char **lab = malloc(l->n * sizeof *lab + 1);
    if (b == NULL || lab == NULL) {
        free(b);
        free(lab);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    int rc = CTM_OK;
    for (size_t i = 0; rc == CTM_OK && i < l->n; i++) {
        if (strata->nfactors == 0) {
            lab[i] = b; /* the one stratum, the empty label */
            if (strcmp(l->rows[i].stratum, l->rows[0].stratum) != 0)
                rc = ctm__err(CTM_EINVAL,
                              "randomization list line %u, field stratum: differs from line %u's,"
                              " but the list has no strata (give them with --strata)",
                              l->rows[i].line, l->rows[0].line);
            continue;
        }
        int level[CTM__STRATA_MAX_FACTORS];
        rc = ctm__strata_match(strata, l->rows[i].stratum, level);
        /* stratum k, the first factor slowest (as ctm__strata_nth counts them) */
        size_t k = 0;
        for (int f = 0; rc == CTM_OK && f < strata->nfactors; f++)
            k = k * (size_t)strata->f[f].nlevels + (size_t)level[f];
        char *out = b + k * each;
        if (rc == CTM_OK && out[0] == '\0')
            rc = ctm__strata_label(strata, level, out, each);
        lab[i] = out;
        if (rc != CTM_OK)
            rc = ctm__err(CTM_EINVAL,
                          "randomization list line %u, field stratum: not a stratum of %s "
                          "(write it as %s or by its levels joined with '/')",
                          l->rows[i].line, "the strata given", "sex=M,age=ge65");
    }
    if (rc != CTM_OK) {
        free(b);
        free(lab);
        return rc;
    }
    *block = b;
    *labels = lab;
    return CTM_OK;
}

/* A blockrand block holds the arms in the trial's ratio (the parser checked its size). */
static int check_blocks(const ctm__randlist *l, const ctm__arms *arms, const int *arm_of)
{
    int sum = 0;
    for (int i = 0; i < arms->n; i++)
        sum += arms->ratio[i];
    size_t start = 0;
    while (start < l->n) {
        const ctm__randlist_row *r = &l->rows[start];
        size_t n = (size_t)r->block_size;
        int count[CTM__MAX_ARMS] = { 0 };
        for (size_t i = start; i < start + n && i < l->n; i++)
            count[arm_of[i]]++;
        if (r->block_size % sum != 0)
            return ctm__err(CTM_EINVAL,
                            "randomization list line %u, field block.size: %d is not a multiple "
                            "of %d, the sum of the trial's arm ratios",
                            r->line, r->block_size, sum);
        for (int a = 0; a < arms->n; a++)
            if (count[a] != r->block_size / sum * arms->ratio[a])
                return ctm__err(CTM_EINVAL,
                                "randomization list line %u, field treatment: block %lld is not "
                                "balanced to the trial's ratio",
                                r->line, (long long)r->block_id);
        start += n;
    }
    return CTM_OK;
}

/* A kit list row for a kit already received must give the arm the kit has: a receipt from a
 * manifest with arms may come before the sponsor's kit list. */
static int check_received_kits(ctm_db *db, int64_t trial_id, const ctm__randlist *l,
                               const int *arm_of, const ctm__arms *arms)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT arm FROM kits WHERE trial_id = ?1 AND kit_number = ?2");
    for (size_t i = 0; rc == CTM_OK && i < l->n; i++) {
        ctm__st_reset(st);
        ctm__st_bind_int(st, 1, trial_id);
        ctm__st_bind_text(st, 2, l->rows[i].number);
        int src = ctm__st_step(st);
        if (src == CTM_ROW && strcmp(ctm__st_text(st, 0), arms->code[arm_of[i]]) != 0)
            rc = ctm__err(CTM_EINVAL,
                          "randomization list line %u, field arm: kit %s was received with "
                          "another arm",
                          l->rows[i].line, l->rows[i].number);
        else if (src != CTM_ROW && src != CTM_OK)
            rc = ctm__store_fail(src, "reading kits");
    }
    ctm__st_finalize(st);
    return rc;
}

static int import_kits(ctm_db *db, int64_t trial_id, const ctm__randlist *l, const int *arm_of,
                       const ctm__arms *arms)
{
    ctm__st *st = NULL;
    int rc = check_received_kits(db, trial_id, l, arm_of, arms);
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO kit_list(trial_id, kit_number, arm) VALUES (?1, ?2, ?3)");
    for (size_t i = 0; rc == CTM_OK && i < l->n; i++) {
        ctm__st_reset(st);
        ctm__st_bind_int(st, 1, trial_id);
        ctm__st_bind_text(st, 2, l->rows[i].number);
        ctm__st_bind_text(st, 3, arms->code[arm_of[i]]);
        rc = ctm__step(db, st, "adding to the kit list");
        if (rc == CTM_EEXISTS)
            rc = ctm__err(CTM_EEXISTS,
                          "randomization list line %u, field kit_number: %s is already in the "
                          "trial's kit list",
                          l->rows[i].line, l->rows[i].number);
    }
    ctm__st_finalize(st);
    return rc;
}

static int import_rows(ctm_db *db, int64_t trial_id, const ctm__randlist *l, const int *arm_of,
                       const ctm__arms *arms, const char **labels)
{
    row_writer w;
    int rc = row_writer_open(&w, db, trial_id);
    /* Positions continue each stratum; strata are few, rows are many: a small cache. */
    enum { CACHE = 64 };
    const char *cached[CACHE];
    int64_t next[CACHE];
    int ncached = 0;
    for (size_t i = 0; rc == CTM_OK && i < l->n; i++) {
        int c = 0;
        while (c < ncached && strcmp(cached[c], labels[i]) != 0)
            c++;
        if (c == ncached) {
            int64_t have = 0;
            rc = stratum_rows(db, trial_id, labels[i], &have);
            if (rc != CTM_OK)
                break;
            if (ncached == CACHE)
                c = 0; /* evict the first; it is read again if it comes back */
            else
                ncached++;
            cached[c] = labels[i];
            next[c] = have;
        }
        const ctm__randlist_row *r = &l->rows[i];
        rc = row_write(&w, labels[i], ++next[c], r->number, r->block_id, r->block_size,
                       arms->code[arm_of[i]]);
        if (rc == CTM_EEXISTS)
            rc = ctm__err(CTM_EEXISTS,
                          "randomization list line %u, field %s: %s is already in the trial",
                          r->line, l->format == CTM__RANDLIST_BLOCKRAND ? "id"
                                                                         : "randomization_number",
                          r->number);
    }
    ctm__st_finalize(w.st);
    return rc;
}

int ctm_random_import(ctm_db *db, const char *trial, const char *format, const char *text,
                      size_t len, const ctm_random_options *opts)
{
    ctm__clear_error();
    ctm_random_options o;
    ctm__trial t;
    ctm__arms arms;
    ctm__scheme old;
    list_state ls = { 0, 0, 0 };
    ctm__strata strata;
    enum ctm__randlist_format f;
    ctm__randlist l;
    memset(&l, 0, sizeof l);
    int rc = prepare_write(db, "random.import", "random import", trial, opts, &o, &t, &arms,
                           &strata);
    if (rc == CTM_OK)
        rc = parse_format(format, &f);
    if (rc == CTM_OK && text == NULL && len > 0)
        rc = ctm__err(CTM_EINVAL, "text: NULL");
    if (rc == CTM_OK)
        rc = ctm__randlist_parse(&l, f, text, len);
    if (rc != CTM_OK)
        return rc;
    int kits = l.format == CTM__RANDLIST_KITS;
    const char *source = l.format == CTM__RANDLIST_BLOCKRAND ? "blockrand" : "sponsor";
    int *arm_of = malloc(l.n * sizeof *arm_of + 1);
    char *label_block = NULL;
    const char **labels = NULL;
    if (arm_of == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    for (size_t i = 0; rc == CTM_OK && i < l.n; i++)
        if ((arm_of[i] = ctm__arms_find(&arms, l.rows[i].arm)) < 0)
            rc = ctm__err(CTM_EINVAL, "randomization list line %u, field %s: not an arm of trial %s",
                          l.rows[i].line, l.format == CTM__RANDLIST_BLOCKRAND ? "treatment" : "arm",
                          trial);
    if (rc == CTM_OK && l.format == CTM__RANDLIST_BLOCKRAND)
        rc = check_blocks(&l, &arms, arm_of);
    ctm__action a;
    if (rc == CTM_OK && (rc = ctm__action_begin(&a, db, "random.import", "")) == CTM_OK) {
        char rows_text[24];
        snprintf(rows_text, sizeof rows_text, "%zu", l.n);
        ctm__action_param(&a, "trial", trial);
        ctm__action_param(&a, "format", kits ? "kits" : source);
        ctm__action_param(&a, "rows", rows_text);
        ctm__action_param(&a, "extend", o.extend ? "yes" : "no");
        /* the list as it stands, under the writer lock (see load_state) */
        if (!kits)
            rc = load_state(db, t.id, &o, &old, &ls, &strata);
        if (rc == CTM_OK && !kits)
            rc = check_scheme_change(&old, &ls, source, &o, &strata);
        if (rc == CTM_OK && !kits)
            rc = map_strata(&l, &strata, &label_block, &labels);
        if (rc == CTM_OK && kits)
            rc = import_kits(db, t.id, &l, arm_of, &arms);
        if (rc == CTM_OK && !kits && !o.extend)
            rc = delete_list(db, t.id);
        if (rc == CTM_OK && !kits && !o.extend)
            rc = write_scheme(db, t.id, source, &strata, NULL, NULL);
        if (rc == CTM_OK && !kits)
            rc = import_rows(db, t.id, &l, arm_of, &arms, labels);
        if (rc == CTM_OK)
            rc = ctm__action_commit(&a);
        else
            ctm__action_rollback(&a);
    }
    free(arm_of);
    free(label_block);
    free(labels);
    ctm__randlist_free(&l);
    return rc;
}

/* ---- minimization ---- */

/* "site:1,sex:0.5" in the spec's factor order, weights as the parser reads them back (at most
 * three decimals, trailing zeros dropped): the canonical text kept in rand_schemes.weights. */
static int format_weights(const ctm__strata *strata, const double *weight, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int f = 0; f < strata->nfactors; f++) {
        if (weight[f] <= 0.0)
            continue;
        char num[32];
        snprintf(num, sizeof num, "%.3f", weight[f]);
        char *end = num + strlen(num) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
        int w = snprintf(out + o, cap - o, "%s%s:%s", o ? "," : "", strata->f[f].name, num);
        if (w < 0 || (size_t)w >= cap - o)
            return ctm__err(CTM_EINVAL, "strata weights: too long");
        o += (size_t)w;
    }
    return CTM_OK;
}

int ctm_random_minimization(ctm_db *db, const char *trial, const char *strata,
                            const char *factors, double p, const char *method)
{
    ctm__clear_error();
    ctm__trial t;
    ctm__arms arms;
    ctm__strata spec;
    double weight[CTM__STRATA_MAX_FACTORS];
    int imbalance = CTM__IMBALANCE_RANGE;
    int rc = ctm__require_action(db, "random.minimization", "random minimization");
    if (rc == CTM_OK && !ctm__blind_sees_all(db))
        rc = ctm__err(CTM_EBLINDED,
                      "random minimization: a randomization scheme is for unblinded users only");
    if (rc == CTM_OK)
        rc = ctm__trial_lookup(db, trial, &t);
    if (rc == CTM_OK)
        rc = ctm__arms_load(db, t.id, &arms);
    if (rc == CTM_OK)
        rc = ctm__strata_parse(&spec, strata);
    if (rc == CTM_OK && spec.nfactors == 0)
        rc = ctm__err(CTM_EINVAL, "strata: minimization needs at least one factor");
    if (rc == CTM_OK)
        rc = check_strata_fit(&spec);
    if (rc == CTM_OK)
        rc = ctm__strata_weights(&spec, factors, weight);
    if (rc == CTM_OK && method != NULL) {
        if (strcmp(method, "variance") == 0)
            imbalance = CTM__IMBALANCE_VARIANCE;
        else if (strcmp(method, "range") != 0)
            rc = ctm__err(CTM_EINVAL, "method: '%.32s' is not range or variance", method);
    }
    if (rc == CTM_OK && !(p > 0.0 && p <= 1.0))
        rc = ctm__err(CTM_EINVAL, "p: %g is not above 0 and at most 1", p);
    if (rc == CTM_OK && arms.n < 2)
        rc = ctm__err(CTM_ERULE, "trial %s has one arm: there is nothing to minimize", trial);
    /* The trial's arms and ratios against the minimizer's limits, now rather than at the first
     * subject: the first subject's assignment, from empty counts. */
    if (rc == CTM_OK) {
        static const int zero[CTM__MAX_ARMS * CTM__STRATA_MAX_FACTORS * CTM__STRATA_MAX_LEVELS];
        int levels[CTM__STRATA_MAX_FACTORS] = { 0 }, arm = 0;
        ctm__minim m = { arms.n, arms.ratio, spec.nfactors, weight, imbalance, p };
        rc = ctm__minimize(&m, zero, CTM__STRATA_MAX_LEVELS, levels, 0, &arm, NULL, NULL);
    }
    char spec_text[1024], weights_text[600];
    if (rc == CTM_OK)
        rc = ctm__strata_format(&spec, spec_text, sizeof spec_text);
    if (rc == CTM_OK)
        rc = format_weights(&spec, weight, weights_text, sizeof weights_text);
    if (rc != CTM_OK)
        return rc;
    ctm__action a;
    if ((rc = ctm__action_begin(&a, db, "random.minimization", "")) != CTM_OK)
        return rc;
    char nfactors[16];
    snprintf(nfactors, sizeof nfactors, "%d", spec.nfactors);
    ctm__action_param(&a, "trial", trial);
    ctm__action_param(&a, "factors", nfactors);
    /* Under the write lock, so that no subject is randomized between the check and the
     * replacement. */
    list_state ls = { 0, 0, 0 };
    rc = list_state_load(db, t.id, &ls);
    if (rc == CTM_OK && ls.randomized > 0)
        rc = ctm__err(CTM_ERULE,
                      "%lld subjects were randomized by the trial's scheme: it cannot be replaced",
                      (long long)ls.randomized);
    if (rc == CTM_OK)
        rc = delete_list(db, t.id);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st, "DELETE FROM rand_schemes WHERE trial_id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        rc = ctm__step_done(db, st, "replacing the randomization scheme");
    }
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "INSERT INTO rand_schemes(trial_id, method, source, strata, weights,"
                          " imbalance, p, created_us) VALUES (?1, 'minimization', 'minimization',"
                          " ?2, ?3, ?4, ?5, ?6)");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, t.id);
        ctm__st_bind_text(st, 2, spec_text);
        ctm__st_bind_text(st, 3, weights_text);
        ctm__st_bind_text(st, 4, imbalance == CTM__IMBALANCE_VARIANCE ? "variance" : "range");
        ctm__st_bind_real(st, 5, p);
        ctm__st_bind_int(st, 6, ctm__now_us());
        rc = ctm__step_done(db, st, "recording the randomization scheme");
    }
    if (rc == CTM_OK)
        return ctm__action_commit(&a);
    ctm__action_rollback(&a);
    return rc;
}

/* ---- reading ---- */

/* The scheme's columns from block_sizes on (block sizes, seed, weights, imbalance, p) tell how
 * allocations are made: a blinded reader's row shows "(blinded)" in each (ctx non-NULL). */
#define SCHEME_FIRST_HIDDEN_COL 6
#define SCHEME_COLS 11

static int scheme_row(ctm__st *st, ctm__row *row, void *blinded)
{
    int rc = ctm__row_copy(st, row);
    for (int c = SCHEME_FIRST_HIDDEN_COL; rc == CTM_OK && blinded != NULL && c < SCHEME_COLS; c++)
        rc = ctm__row_set_text(row, c, CTM__BLINDED);
    return rc;
}

int ctm_random_scheme(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "random scheme", trial, &t);
    ctm__scheme s;
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK)
        rc = ctm__scheme_load(db, t.id, &s);
    if (rc == CTM_OK && !s.exists)
        rc = ctm__err(CTM_ENOTFOUND, "trial %s has no randomization scheme", trial);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(
            db, &st,
            "SELECT t.code AS trial, r.method AS method, r.source AS source, r.strata AS strata,"
            " (SELECT count(*) FROM rand_list l WHERE l.trial_id = t.id) AS rows,"
            " CASE WHEN r.method = 'minimization' THEN (SELECT count(*) FROM subjects s"
            " WHERE s.trial_id = t.id AND s.rand_number IS NOT NULL)"
            " ELSE (SELECT count(subject_id) FROM rand_list l WHERE l.trial_id = t.id)"
            " END AS allocated,"
            " r.block_sizes AS block_sizes, r.seed AS seed, r.weights AS weights,"
            " r.imbalance AS imbalance, r.p AS p"
            " FROM rand_schemes r JOIN trials t ON t.id = r.trial_id WHERE r.trial_id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t.id);
    rc = ctm__query_new(out, st, NULL, 0, scheme_row,
                        ctm__blind_sees_all(db) ? NULL : (void *)CTM__BLINDED, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_HEX, "seed", NULL);
    return rc;
}

int ctm_random_list(ctm_query **out, ctm_db *db, const char *trial)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "random list", trial, &t);
    if (rc == CTM_OK && trial == NULL)
        rc = ctm__err(CTM_EINVAL, "trial: NULL");
    if (rc == CTM_OK && !ctm__blind_sees_all(db))
        rc = ctm__err(CTM_EBLINDED, "random list: a randomization list is for unblinded users only");
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT l.stratum AS stratum, l.position AS position, l.number AS number,"
                          " l.block AS block, l.block_size AS block_size, l.arm AS arm,"
                          " s.screening AS subject"
                          " FROM rand_list l LEFT JOIN subjects s ON s.id = l.subject_id"
                          " WHERE l.trial_id = ?1 ORDER BY l.stratum, l.position");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, t.id);
    ctm__st_stream(st);
    return ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
}
