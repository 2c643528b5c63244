/*
 * cmd_excursion.c - temperature excursions: `ctm location alarm` (when a location's readings
 * make one), `ctm excursions`, `ctm excursion show|decide|report`; and the checks of their
 * option values (and of `receive`'s logger options) made before the login.
 *
 * The library records excursions as it imports logger files and quarantines the kits that were
 * there; here they are listed, shown with their kits, decided on the sponsor's word (e-signed:
 * the prompt names "excursion released" or "excursion rejected", see password.c) and reported.
 * Excursions hold no arm, so nothing here can show one.  The table of `ctm excursions` words
 * its columns for people (the place, "ongoing"); --json and --csv print the listing itself.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* ---- the checks made before the login ---- */

/* An excursion's number: a decimal number that fits an int64_t. */
static int parse_id(const char *text, int64_t *id)
{
    uint64_t n = 0;
    if (cli_number(text, &n) != 0 || n > (uint64_t)INT64_MAX)
        return -1;
    *id = (int64_t)n;
    return 0;
}

/* An OPT_NUMBER option within lo..hi. */
static int check_minutes(const struct cli_args *a, const char *opt, uint64_t lo, uint64_t hi)
{
    const char *text = cli_arg(a, opt);
    uint64_t n = 0;
    if (text && (cli_number(text, &n) != 0 || n < lo || n > hi))
        return cli_usage(a->cmd, "--%s: give %" PRIu64 " to %" PRIu64 " minutes, not '%s'", opt,
                         lo, hi, text);
    return CLI_OK;
}

static int check_decide(const struct cli_args *a)
{
    int64_t id;
    if (a->npos > 0 && parse_id(a->pos[0], &id) != 0)
        return cli_usage(a->cmd, "ID: expected an excursion's number, got '%s'", a->pos[0]);
    if (!cli_flag(a, "release") && !cli_flag(a, "reject"))
        return cli_usage(a->cmd, "give the sponsor's decision: --release or --reject");
    if (a->npos > 1 && !cli_arg(a, "kit"))
        return cli_usage(a->cmd, "unexpected argument '%s' (kits follow --kit)", a->pos[1]);
    return CLI_OK;
}

/* `receive`: how to read a logger file means nothing without one. */
static int check_receive(const struct cli_args *a)
{
    static const char *const how[] = { "logger-format", "logger-tz", "logger-date-order",
                                       "logger-unit" };
    for (size_t i = 0; i < sizeof how / sizeof how[0] && !cli_arg(a, "logger"); i++) {
        if (cli_arg(a, how[i]))
            return cli_usage(a->cmd, "--%s without --logger FILE", how[i]);
    }
    return CLI_OK;
}

int cli_check_excursion(const struct cli_args *a, const char *opt)
{
    (void)opt;
    const char *name = a->cmd->name;
    if (strcmp(name, "receive") == 0)
        return check_receive(a);
    if (strcmp(name, "location alarm") == 0) {
        int rc = check_minutes(a, "delay", 0, 1440);
        return rc != CLI_OK ? rc : check_minutes(a, "max-gap", 1, 10080);
    }
    if (strcmp(name, "excursion decide") == 0)
        return check_decide(a);
    if (strcmp(name, "excursion report") == 0) {
        const char *format = cli_arg(a, "format");
        if (format && strcmp(format, "text") != 0 && strcmp(format, "csv") != 0 &&
            strcmp(format, "json") != 0)
            return cli_usage(a->cmd, "--format: give text, csv or json, not '%s'", format);
    }
    return CLI_OK;
}

/* ---- location alarm ---- */

int cmd_location_alarm(struct cli_session *s, const struct cli_args *a)
{
    int delay = 0, gap = 0;
    int rc = cli_opt_int(a, "delay", 0, &delay);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "max-gap", 0, &gap);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_location_alarm(s->db, a->pos[0], delay, gap);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (delay == 0)
        printf("Location %s: any reading out of range is an excursion", a->pos[0]);
    else
        printf("Location %s: %d minute%s out of range make an excursion", a->pos[0], delay,
               plural((uint64_t)delay));
    printf("; a gap of more than %d minute%s between readings is one of unknown temperature.  "
           "From the next import on.\n", gap, plural((uint64_t)gap));
    return CLI_OK;
}

/* ---- excursions: the table for people ---- */

/* The columns of ctm_excursions() the table reads, by name. */
struct excursion_columns {
    int excursion, location, shipment, kind, daily, start, end, ongoing, minutes, min, max,
        status, kits, quarantined;
};

static void find_columns(const ctm_query *q, struct excursion_columns *c)
{
    c->excursion = cli_query_column(q, "excursion");
    c->location = cli_query_column(q, "location");
    c->shipment = cli_query_column(q, "shipment");
    c->kind = cli_query_column(q, "kind");
    c->daily = cli_query_column(q, "daily");
    c->start = cli_query_column(q, "start");
    c->end = cli_query_column(q, "end");
    c->ongoing = cli_query_column(q, "ongoing");
    c->minutes = cli_query_column(q, "minutes");
    c->min = cli_query_column(q, "min");
    c->max = cli_query_column(q, "max");
    c->status = cli_query_column(q, "status");
    c->kits = cli_query_column(q, "kits");
    c->quarantined = cli_query_column(q, "quarantined");
}

/* A column's text in the current row; NULL for a NULL or a column the listing lacks. */
static const char *text_at(ctm_query *q, int col)
{
    return col >= 0 && ctm_query_column_type(q, col) != CTM_NULL ? ctm_query_text(q, col) : NULL;
}

static int flag_at(ctm_query *q, int col)
{
    return col >= 0 && ctm_query_column_type(q, col) != CTM_NULL && ctm_query_int64(q, col) != 0;
}

/* A number as the table shows it (format "%.0f" for minutes, "%.1f" for degrees), in buf;
 * NULL for none. */
static const char *number_at(ctm_query *q, int col, const char *format, char *buf, size_t size)
{
    if (!text_at(q, col))
        return NULL;
    snprintf(buf, size, format, ctm_query_double(q, col));
    return buf;
}

static const char *const table_names[] = {
    "excursion", "place", "kind", "start", "end", "minutes", "min", "max", "status", "kits",
    "quarantined",
};
#define N_TABLE_COLUMNS ((int)(sizeof table_names / sizeof table_names[0]))

static int add_excursion_row(struct cli_table *t, ctm_query *q, const struct excursion_columns *c)
{
    char place[160], kind[48], minutes[32], min[32], max[32];
    const char *location = text_at(q, c->location), *shipment = text_at(q, c->shipment);
    const char *kind_text = text_at(q, c->kind);
    if (location)
        snprintf(place, sizeof place, "%s", location);
    else
        snprintf(place, sizeof place, "shipment %s", shipment ? shipment : "?");
    /* a daily summary's minutes fell at times the logger does not tell */
    snprintf(kind, sizeof kind, "%s%s", kind_text ? kind_text : "",
             flag_at(q, c->daily) ? " (daily)" : "");
    const char *cells[N_TABLE_COLUMNS] = {
        text_at(q, c->excursion),
        place,
        kind,
        text_at(q, c->start),
        flag_at(q, c->ongoing) ? "ongoing" : text_at(q, c->end),
        number_at(q, c->minutes, "%.0f", minutes, sizeof minutes),
        number_at(q, c->min, "%.1f", min, sizeof min),
        number_at(q, c->max, "%.1f", max, sizeof max),
        text_at(q, c->status),
        text_at(q, c->kits),
        text_at(q, c->quarantined),
    };
    return cli_table_add(t, cells);
}

static int print_excursion_table(ctm_query *q)
{
    struct excursion_columns c;
    struct cli_table *t = cli_table_new(table_names, N_TABLE_COLUMNS);
    if (!t)
        return cli_fail("out of memory");
    find_columns(q, &c);
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        if (add_excursion_row(t, q, &c) != CLI_OK) {
            cli_table_free(t);
            return CLI_FAIL;
        }
    }
    if (rc != CTM_DONE) {
        cli_table_free(t);
        return cli_fail_ctm(rc);
    }
    return cli_table_print(stdout, t);
}

int cmd_excursions(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    int rc = ctm_excursions(&q, s->db, a->npos > 0 ? a->pos[0] : NULL, cli_flag(a, "open"));
    if (cli_format_of(a) != FORMAT_TABLE)
        return cli_print_listing(rc, &q, a);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = print_excursion_table(q);
    ctm_query_free(q);
    return rc;
}

/* ---- excursion show ---- */

/* Step q (every excursion) onto excursion id: CTM_ROW, CTM_DONE when it is not there, or a
 * failure. */
static int seek_excursion(ctm_query *q, int64_t id)
{
    int col = cli_query_column(q, "excursion");
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        if (col >= 0 && ctm_query_int64(q, col) == id)
            return CTM_ROW;
    }
    return rc;
}

int cmd_excursion_show(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL, *kits = NULL;
    int64_t id = 0;
    if (parse_id(a->pos[0], &id) != 0)
        return cli_usage(a->cmd, "ID: expected an excursion's number, got '%s'", a->pos[0]);
    /* the kits first: an unknown number gets the library's own message */
    int rc = ctm_excursion_kits(&kits, s->db, id);
    if (rc == CTM_OK)
        rc = ctm_excursions(&q, s->db, NULL, 0);
    if (rc == CTM_OK)
        rc = seek_excursion(q, id);
    if (rc == CTM_ROW)
        rc = cli_print_record_as(stdout, "excursion", q, "kits", kits, cli_format_of(a));
    else
        rc = rc == CTM_DONE ? cli_fail("excursion %s: no such excursion", a->pos[0])
                            : cli_fail_ctm(rc);
    ctm_query_free(kits);
    ctm_query_free(q);
    return rc;
}

/* ---- excursion decide ---- */

/* The kits of an excursion not decided yet, as "trial\nkit" keys (malloc'd, NULL-terminated),
 * so that what a decision did can be told from what was decided before. */
struct undecided {
    char **keys;
    size_t n, cap;
};

static void undecided_free(struct undecided *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->keys[i]);
    free(u->keys);
    memset(u, 0, sizeof *u);
}

static int undecided_add(struct undecided *u, const char *trial, const char *kit)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        char **keys = realloc(u->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        u->keys = keys;
        u->cap = cap;
    }
    size_t len = strlen(trial) + strlen(kit) + 2;
    if (!(u->keys[u->n] = malloc(len)))
        return -1;
    snprintf(u->keys[u->n++], len, "%s\n%s", trial, kit);
    return 0;
}

static int undecided_has(const struct undecided *u, const char *trial, const char *kit)
{
    size_t tlen = strlen(trial);
    for (size_t i = 0; i < u->n; i++) {
        if (strncmp(u->keys[i], trial, tlen) == 0 && u->keys[i][tlen] == '\n' &&
            strcmp(u->keys[i] + tlen + 1, kit) == 0)
            return 1;
    }
    return 0;
}

/* One row of ctm_excursion_kits() read for a decision's summary. */
struct kit_row {
    const char *trial, *kit, *decision, *status;
};

struct kit_columns {
    int trial, kit, decision, status;
};

static void kit_columns_of(const ctm_query *q, struct kit_columns *c)
{
    c->trial = cli_query_column(q, "trial");
    c->kit = cli_query_column(q, "kit_number");
    c->decision = cli_query_column(q, "decision");
    c->status = cli_query_column(q, "status");
}

static void kit_row_of(ctm_query *q, const struct kit_columns *c, struct kit_row *r)
{
    r->trial = text_at(q, c->trial);
    r->kit = text_at(q, c->kit);
    r->decision = text_at(q, c->decision);
    r->status = text_at(q, c->status);
    if (!r->trial)
        r->trial = "";
    if (!r->kit)
        r->kit = "";
}

/* Before a decision: the kits it may cover.  CLI_OK, or an exit status after printing why (an
 * unknown excursion is the library's message, as the decision would give it). */
static int read_undecided(ctm_db *db, int64_t id, struct undecided *u)
{
    ctm_query *q = NULL;
    struct kit_columns c;
    struct kit_row r;
    int rc = ctm_excursion_kits(&q, db, id);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    kit_columns_of(q, &c);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        kit_row_of(q, &c, &r);
        if (!r.decision && undecided_add(u, r.trial, r.kit) != 0) {
            ctm_query_free(q);
            return cli_fail("out of memory");
        }
    }
    rc = rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
    ctm_query_free(q);
    return rc;
}

/* After a decision: each kit it decided with its status now, and how many are still to
 * decide. */
static int print_kit_outcomes(ctm_db *db, int64_t id, const struct undecided *before)
{
    ctm_query *q = NULL;
    struct kit_columns c;
    struct kit_row r;
    uint64_t undecided = 0;
    int rc = ctm_excursion_kits(&q, db, id);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    kit_columns_of(q, &c);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        kit_row_of(q, &c, &r);
        if (!r.decision) {
            undecided++;
            continue;
        }
        if (!undecided_has(before, r.trial, r.kit))
            continue; /* decided before this decision */
        fputs("  kit ", stdout);
        cli_put_display(stdout, r.kit);
        fputs(" of trial ", stdout);
        cli_put_display(stdout, r.trial);
        printf(": %s, now %s\n", r.decision, r.status ? r.status : "?");
    }
    rc = rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
    ctm_query_free(q);
    if (rc == CLI_OK && undecided > 0)
        printf("%" PRIu64 " kit%s of excursion %" PRId64 " still to decide.\n", undecided,
               plural(undecided), id);
    return rc;
}

int cmd_excursion_decide(struct cli_session *s, const struct cli_args *a)
{
    int64_t id = 0;
    const char *reference = cli_arg(a, "reference");
    int release = cli_flag(a, "release");
    char **kits = NULL;
    size_t n = 0;
    if (parse_id(a->pos[0], &id) != 0)
        return cli_usage(a->cmd, "ID: expected an excursion's number, got '%s'", a->pos[0]);
    struct undecided before = { NULL, 0, 0 };
    int rc = read_undecided(s->db, id, &before);
    if (rc == CLI_OK)
        rc = cli_arg(a, "kit") != NULL ? cli_kit_args(a, cli_arg(a, "kit"), 1, &kits, &n)
                                       : CLI_OK;
    if (rc != CLI_OK) {
        undecided_free(&before);
        return rc;
    }
    rc = ctm_excursion_decide(s->db, id, release ? "release" : "reject", reference,
                              n > 0 ? (const char *const *)kits : NULL, n);
    cli_kit_args_free(kits);
    if (rc != CTM_OK) {
        undecided_free(&before);
        return cli_fail_ctm(rc);
    }
    if (n == 0)
        printf("%s excursion %" PRId64 " on the sponsor's reference ", release ? "Released"
                                                                                : "Rejected", id);
    else
        printf("%s %zu kit%s of excursion %" PRId64 " on the sponsor's reference ",
               release ? "Released" : "Rejected", n, plural(n), id);
    cli_put_display(stdout, reference);
    printf(", e-signed by %s.\n", ctm_current_user(s->db));
    /* The decision is recorded; a failure below only spoils the summary. */
    rc = print_kit_outcomes(s->db, id, &before);
    undecided_free(&before);
    return rc;
}

/* ---- excursion report ---- */

int cmd_excursion_report(struct cli_session *s, const struct cli_args *a)
{
    int64_t id = 0;
    const char *format = cli_arg(a, "format"), *output = cli_arg(a, "output");
    char *text = NULL;
    if (parse_id(a->pos[0], &id) != 0)
        return cli_usage(a->cmd, "ID: expected an excursion's number, got '%s'", a->pos[0]);
    int rc = ctm_excursion_report(&text, s->db, id, format ? format : "text");
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (output) {
        rc = cli_write_file(output, text, "the report");
        if (rc == CLI_OK)
            printf("Wrote the %s report of excursion %" PRId64 " to %s.\n",
                   format ? format : "text", id, output);
    } else {
        size_t len = strlen(text);
        fputs(text, stdout);
        if (len > 0 && text[len - 1] != '\n')
            fputc('\n', stdout);
    }
    ctm_free(text);
    return rc;
}
