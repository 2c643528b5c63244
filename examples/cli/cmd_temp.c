/*
 * cmd_temp.c - storage temperatures: `ctm temp import`, `ctm temp list`, `ctm temp files`,
 * `ctm temp mkt`, and `ctm receive logger` (the logger file that travelled with a shipment,
 * read and reported as an import is).
 *
 * An import's result says how many excursions it recorded and kits it quarantined, so that
 * whoever imports sees at once that the sponsor must be asked.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The progress bar of an import on a terminal (stderr), redrawn at most every 100 ms. */
struct bar {
    struct timespec last;
    int shown;
};

static int draw(void *ctx, uint64_t done, uint64_t total)
{
    struct bar *b = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (long)(now.tv_sec - b->last.tv_sec) * 1000 + (now.tv_nsec - b->last.tv_nsec) / 1000000;
    if (b->shown && ms < 100 && done < total)
        return 0;
    b->last = now;
    b->shown = 1;
    int width = 30, filled = total > 0 ? (int)(done * (uint64_t)width / total) : width;
    unsigned pct = total > 0 ? (unsigned)(done * 100 / total) : 100;
    fprintf(stderr, "\r%s [", done * 2 <= total ? "checking" : "storing ");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3u%%", pct);
    fflush(stderr);
    return 0;
}

static void put_time(FILE *out, int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, out);
}

void cli_logger_options(const struct cli_args *a, const char *prefix,
                        ctm_temp_import_options *o)
{
    char name[32];
    snprintf(name, sizeof name, "%sformat", prefix);
    o->format = cli_arg(a, name);
    snprintf(name, sizeof name, "%stz", prefix);
    o->tz = cli_arg(a, name);
    snprintf(name, sizeof name, "%sdate-order", prefix);
    o->date_order = cli_arg(a, name);
    snprintf(name, sizeof name, "%sunit", prefix);
    o->unit = cli_arg(a, name);
}

static void print_json(const ctm_temp_import_result *r)
{
    printf("{\"duplicate\":%s,\"file\":%" PRId64 ",\"readings\":%" PRIu64 ",\"days\":%" PRIu64
           ",\"added\":%" PRIu64 ",\"first\":",
           r->duplicate ? "true" : "false", r->file_id, r->readings, r->days, r->added);
    int span = r->readings + r->days > 0;
    if (span) {
        putchar('"');
        put_time(stdout, r->first_us);
        fputs("\",\"last\":\"", stdout);
        put_time(stdout, r->last_us);
        putchar('"');
    } else {
        fputs("null,\"last\":null", stdout);
    }
    fputs(",\"format\":", stdout);
    cli_put_json_string(stdout, r->format);
    fputs(",\"serial\":", stdout);
    cli_put_json_string(stdout, r->serial);
    fputs(",\"sha256\":", stdout);
    cli_put_json_string(stdout, r->sha256);
    printf(",\"excursions\":%" PRIu64 ",\"quarantined\":%" PRIu64 "}\n", r->excursions,
           r->quarantined);
}

/* What the import found out of range, when anything: a shipment's kits are quarantined only
 * when its receipt is confirmed. */
static void print_excursions(const ctm_temp_import_result *r, int shipment)
{
    if (r->excursions == 0 && r->quarantined == 0)
        return;
    printf("%" PRIu64 " excursion%s recorded", r->excursions, r->excursions == 1 ? "" : "s");
    if (r->quarantined > 0)
        printf(", %" PRIu64 " kit%s %s", r->quarantined, r->quarantined == 1 ? "" : "s",
               shipment ? "to be quarantined on confirmation" : "quarantined");
    puts(": see 'ctm excursions --open'");
}

/* place: the location, or "shipment NO". */
static void print_text(const char *place, const char *file, const ctm_temp_import_result *r,
                       int shipment)
{
    if (r->duplicate) {
        printf("%s was imported for %s before (logger file %" PRId64 "): nothing changed\n", file,
               place, r->file_id);
        return;
    }
    uint64_t n = r->readings > 0 ? r->readings : r->days;
    printf("imported %s for %s: %" PRIu64 " %s", file, place, n,
           r->readings > 0 ? (n == 1 ? "reading" : "readings") : (n == 1 ? "day" : "days"));
    if (r->readings + r->days > 0) {
        fputs(" from ", stdout);
        put_time(stdout, r->first_us);
        fputs(" to ", stdout);
        put_time(stdout, r->last_us);
    }
    printf(", %" PRIu64 " new\n", r->added);
    printf("logger file %" PRId64 ": format %s, serial %s, sha256 %s\n", r->file_id, r->format,
           r->serial[0] ? r->serial : "(none given)", r->sha256);
    print_excursions(r, shipment);
}

/* `temp import LOCATION FILE` and `receive logger SHIPMENT FILE`: the same options, bar and
 * result. */
static int import(struct cli_session *s, const struct cli_args *a, int shipment)
{
    ctm_temp_import_options o = CTM_TEMP_IMPORT_OPTIONS_INIT;
    cli_logger_options(a, "", &o);
    struct bar b;
    memset(&b, 0, sizeof b);
    if (isatty(STDERR_FILENO)) {
        o.progress = draw;
        o.progress_ctx = &b;
    }
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    int rc = shipment ? ctm_shipment_logger(s->db, a->pos[0], a->pos[1], &o, &r)
                      : ctm_temp_import(s->db, a->pos[0], a->pos[1], &o, &r);
    if (b.shown)
        fputs("\r\033[K", stderr); /* the bar goes; the result stays */
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (cli_flag(a, "json")) {
        print_json(&r);
    } else if (shipment) {
        char place[200];
        snprintf(place, sizeof place, "shipment %s", a->pos[0]);
        print_text(place, a->pos[1], &r, 1);
    } else {
        print_text(a->pos[0], a->pos[1], &r, 0);
    }
    return CLI_OK;
}

int cmd_temp_import(struct cli_session *s, const struct cli_args *a)
{
    return import(s, a, 0);
}

int cmd_receive_logger(struct cli_session *s, const struct cli_args *a)
{
    return import(s, a, 1);
}

int cmd_temp_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_temp_list(&q, s->db, a->pos[0], cli_arg(a, "from"),
                                           cli_arg(a, "to")),
                             &q, a);
}

int cmd_temp_files(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_temp_files(&q, s->db, a->npos > 0 ? a->pos[0] : NULL), &q, a);
}

int cmd_temp_mkt(struct cli_session *s, const struct cli_args *a)
{
    ctm_mkt_options o = CTM_MKT_OPTIONS_INIT;
    const char *energy = cli_arg(a, "energy"), *gap = cli_arg(a, "max-gap");
    if (energy != NULL) {
        char *end = NULL;
        o.energy_kj = strtod(energy, &end);
        if (end == energy || *end != '\0' || !(o.energy_kj > 0))
            return cli_usage(a->cmd, "--energy: '%s' is not a positive number of kJ/mol", energy);
    }
    uint64_t minutes = 0;
    if (gap != NULL && (cli_number(gap, &minutes) != 0 || minutes == 0 || minutes > 10080))
        return cli_usage(a->cmd, "--max-gap: give 1 to 10080 minutes");
    o.max_gap_minutes = (int)minutes;
    ctm_mkt_result r = CTM_MKT_RESULT_INIT;
    int rc = ctm_temp_mkt(s->db, a->pos[0], cli_arg(a, "from"), cli_arg(a, "to"), &o, &r);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (cli_flag(a, "json")) {
        fputs("{\"location\":", stdout);
        cli_put_json_string(stdout, a->pos[0]);
        if (r.readings > 0)
            printf(",\"mkt\":%.4f", r.mkt_c);
        else
            fputs(",\"mkt\":null", stdout);
        printf(",\"energy_kj\":%.3f,\"readings\":%" PRIu64, r.energy_kj, r.readings);
        if (r.readings > 0) {
            fputs(",\"first\":\"", stdout);
            put_time(stdout, r.first_us);
            fputs("\",\"last\":\"", stdout);
            put_time(stdout, r.last_us);
            printf("\",\"min\":%.3f,\"max\":%.3f", r.min_c, r.max_c);
        } else {
            fputs(",\"first\":null,\"last\":null,\"min\":null,\"max\":null", stdout);
        }
        printf(",\"gaps\":%" PRIu64 ",\"gap_minutes\":%.1f}\n", r.gaps, (double)r.gap_us / 6e7);
        return CLI_OK;
    }
    if (r.readings == 0) {
        printf("%s: no readings in the period\n", a->pos[0]);
        return CLI_OK;
    }
    printf("%s: MKT %.2f C over %" PRIu64 " readings from ", a->pos[0], r.mkt_c, r.readings);
    put_time(stdout, r.first_us);
    fputs(" to ", stdout);
    put_time(stdout, r.last_us);
    printf(" (dH %.3f kJ/mol; min %.1f C, max %.1f C)\n", r.energy_kj, r.min_c, r.max_c);
    if (r.gaps > 0)
        printf("%" PRIu64 " gap%s longer than the longest hold: %.0f minutes not known, not counted\n",
               r.gaps, r.gaps == 1 ? "" : "s", (double)r.gap_us / 6e7);
    return CLI_OK;
}
