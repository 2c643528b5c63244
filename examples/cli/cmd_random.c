/*
 * cmd_random.c - `ctm random ...`, `ctm subject ...` and `ctm randomize`: a trial's
 * randomization list, its subjects and their allocation.  What a blinded user may see is
 * decided by the library; these commands print what it gives.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void options_from(const struct cli_args *a, ctm_random_options *o)
{
    ctm_random_options def = CTM_RANDOM_OPTIONS_INIT;
    *o = def;
    o->strata = cli_arg(a, "strata");
    o->seed = cli_arg(a, "seed");
    o->extend = cli_flag(a, "extend");
}

/* The scheme's summary line after a change: rows, strata, allocations. */
static void print_summary(struct cli_session *s, const char *trial)
{
    ctm_query *q = NULL;
    if (ctm_random_scheme(&q, s->db, trial) == CTM_OK && ctm_query_next(q) == CTM_ROW) {
        const char *strata = ctm_query_text(q, cli_query_column(q, "strata"));
        printf("Trial %s: a %s list of %s rows (%s allocated), %s.\n", trial,
               ctm_query_text(q, cli_query_column(q, "source")),
               ctm_query_text(q, cli_query_column(q, "rows")),
               ctm_query_text(q, cli_query_column(q, "allocated")),
               strata && strata[0] ? strata : "unstratified");
    }
    ctm_query_free(q);
}

int cmd_random_generate(struct cli_session *s, const struct cli_args *a)
{
    ctm_random_options o;
    int size = 0;
    int rc = cli_opt_int(a, "size", 0, &size);
    if (rc != CLI_OK)
        return rc;
    options_from(a, &o);
    rc = ctm_random_generate(s->db, a->pos[0], size, cli_arg(a, "blocks"), &o);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    print_summary(s, a->pos[0]);
    if (!o.seed)
        printf("The seed is kept with the list: 'ctm random show %s' shows it.\n", a->pos[0]);
    return CLI_OK;
}

int cmd_random_import(struct cli_session *s, const struct cli_args *a)
{
    ctm_random_options o;
    char *text = NULL;
    size_t len = 0;
    int rc = cli_read_file("list", a->pos[1], &text, &len);
    if (rc != CLI_OK)
        return rc;
    options_from(a, &o);
    const char *format = cli_arg(a, "format");
    rc = ctm_random_import(s->db, a->pos[0], format, text ? text : "", len, &o);
    free(text);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (format && strcmp(format, "kits") == 0)
        printf("Trial %s: kit list imported.\n", a->pos[0]);
    else
        print_summary(s, a->pos[0]);
    return CLI_OK;
}

/* The probability of the best arm when --p is not given: the value most trials use (a random
 * element, as ICH E9 asks of dynamic allocation, yet mostly to the best arm). */
#define DEFAULT_P 0.8

int cmd_random_minimization(struct cli_session *s, const struct cli_args *a)
{
    double p = DEFAULT_P;
    const char *text = cli_arg(a, "p");
    if (text != NULL) {
        char *end = NULL;
        p = strtod(text, &end);
        if (text[0] == '\0' || *end != '\0' || !isfinite(p))
            return cli_usage(a->cmd, "--p: expected a number above 0 and at most 1, got '%s'",
                             text);
    }
    int rc = ctm_random_minimization(s->db, a->pos[0], cli_arg(a, "strata"),
                                     cli_arg(a, "factors"), p, cli_arg(a, "method"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Trial %s: randomized by minimization (%s, p = %g), %s.\n", a->pos[0],
           cli_arg(a, "method") ? cli_arg(a, "method") : "range", p, cli_arg(a, "strata"));
    return CLI_OK;
}

/* The scheme, then the list itself for an unblinded user; a blinded one is told why not. */
int cmd_random_show(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL, *list = NULL;
    int rc = ctm_random_scheme(&q, s->db, a->pos[0]);
    if (rc == CTM_OK)
        rc = ctm_query_next(q);
    if (rc != CTM_ROW) {
        ctm_query_free(q);
        return cli_fail_ctm(rc == CTM_DONE ? CTM_ENOTFOUND : rc);
    }
    const char *method = ctm_query_text(q, cli_query_column(q, "method"));
    int minimization = method != NULL && strcmp(method, "minimization") == 0;
    /* Minimization keeps no list: the subjects are the record ('ctm subject list'). */
    int lrc = minimization ? CTM_OK : ctm_random_list(&list, s->db, a->pos[0]);
    if (lrc != CTM_OK && lrc != CTM_EBLINDED) {
        ctm_query_free(q);
        return cli_fail_ctm(lrc);
    }
    rc = cli_print_record(stdout, q, minimization ? NULL : "list", list, cli_format_of(a));
    if (lrc == CTM_EBLINDED && cli_format_of(a) != FORMAT_JSON)
        printf("\nThe list itself is shown to unblinded users only.\n");
    ctm_query_free(list);
    ctm_query_free(q);
    return rc;
}

int cmd_subject_add(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_add(s->db, a->pos[0], a->pos[1], cli_arg(a, "strata"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s enrolled in trial %s.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_subject_strata(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_set_strata(s->db, a->pos[0], a->pos[1], a->pos[2]);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s: strata set.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_subject_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_subject_list(&q, s->db, a->npos ? a->pos[0] : NULL), &q, a);
}

int cmd_subject_show(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    int rc = ctm_subject_show(&q, s->db, a->pos[0], a->pos[1]);
    if (rc == CTM_OK && (rc = ctm_query_next(q)) == CTM_ROW)
        rc = cli_print_record(stdout, q, NULL, NULL, cli_format_of(a));
    else
        rc = cli_fail_ctm(rc == CTM_DONE ? CTM_ENOTFOUND : rc);
    ctm_query_free(q);
    return rc;
}

int cmd_subject_withdraw(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_withdraw(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s withdrawn.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_subject_complete(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_complete(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s completed the trial.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_randomize(struct cli_session *s, const struct cli_args *a)
{
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    int rc = ctm_randomize(s->db, a->pos[0], a->pos[1], &r);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (cli_flag(a, "json")) {
        /* Codes and numbers are of [A-Za-z0-9._/-] and strata of those and = ,: no escaping. */
        printf("{\"trial\": \"%s\", \"subject\": \"%s\", \"rand_number\": \"%s\", \"arm\": \"%s\","
               " \"stratum\": \"%s\"}\n",
               a->pos[0], a->pos[1], r.number, r.arm, r.stratum);
        return CLI_OK;
    }
    printf("Subject %s randomized: number %s, arm %s%s%s.\n", a->pos[1], r.number, r.arm,
           r.stratum[0] ? ", stratum " : "", r.stratum);
    return CLI_OK;
}
