/*
 * cmd_report.c - `ctm report NAME [TRIAL]`: a report of the library's (inventory, audit, ...) as
 * text, CSV, JSON or one HTML page to print, to standard output or a file.
 *
 * The library renders the report and decides everything in it, blinding included; here the
 * options become a ctm_report_options.  The report's name and options are checked before the
 * login (the library checks them without a handle), so a mistyped name costs no password and
 * its message lists the reports there are.
 *
 * The reconciliation report exits 1 when the reconciliation does not balance, after printing or
 * writing it, as `ctm reconcile` does: a monitor's script stops on either.  Whether it balances is
 * the summary the library drew for the report it rendered (ctm_report_render_summary()), not a
 * second reconciliation: that would cost as much again, and could disagree with the report under
 * concurrent writes.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

static const char *format_of(const struct cli_args *a)
{
    return cli_flag(a, "json") ? "json" : cli_flag(a, "csv") ? "csv"
                                      : cli_flag(a, "html") ? "html" : "text";
}

/* The options given; CLI_OK or an exit status (--days not a number). */
static int options_of(const struct cli_args *a, ctm_report_options *o)
{
    ctm_report_options init = CTM_REPORT_OPTIONS_INIT;
    *o = init;
    o->trial = a->npos > 1 ? a->pos[1] : NULL;
    o->as_of = cli_arg(a, "as-of");
    o->from = cli_arg(a, "from");
    o->to = cli_arg(a, "to");
    o->kit_type = cli_arg(a, "kit-type");
    return cli_opt_int(a, "days", -1, &o->days);
}

/* The library names an option by its field ("as_of: ..."); the command's is "--as-of". */
static const struct {
    const char *field, *option;
} option_names[] = {
    { "as_of", "--as-of" }, { "from", "--from" }, { "to", "--to" }, { "days", "--days" },
    { "kit_type", "--kit-type" }, { "trial", "TRIAL" }, { "report", "NAME" },
};

static const char *field_end(const char *msg)
{
    const char *colon = strchr(msg, ':');
    return colon ? colon : msg;
}

static const char *option_of(const char *msg)
{
    size_t n = (size_t)(field_end(msg) - msg);
    for (size_t i = 0; i < sizeof option_names / sizeof option_names[0]; i++)
        if (strlen(option_names[i].field) == n && strncmp(msg, option_names[i].field, n) == 0)
            return option_names[i].option;
    return "";
}

/* What follows the field when option_of() renamed it, else the whole message. */
static const char *message_rest(const char *msg)
{
    return option_of(msg)[0] ? field_end(msg) : msg;
}

/* Before the login: the report's name and whether it takes the options given.  The library's
 * message names the option as its field ("as_of"); the command's is "--as-of". */
int cli_check_report(const struct cli_args *a, const char *opt)
{
    (void)opt;
    ctm_report_options o;
    int rc = options_of(a, &o);
    if (rc != CLI_OK)
        return rc;
    ctm_query *q = NULL;
    rc = ctm_report(&q, NULL, a->pos[0], &o);
    ctm_query_free(q);
    if (rc == CTM_EINVAL)
        return cli_usage(a->cmd, "%s%s", option_of(ctm_errmsg()), message_rest(ctm_errmsg()));
    return CLI_OK;
}

/* Whether the report's summary says "balanced: true" (the reconciliation's does); the summary
 * is freed.  CLI_OK or an exit status. */
static int summary_balanced(ctm_query *summary, const char *name, int *balanced)
{
    int rc, found = 0;
    while ((rc = ctm_query_next(summary)) == CTM_ROW) {
        const char *key = ctm_query_text(summary, 0), *value = ctm_query_text(summary, 1);
        if (key != NULL && strcmp(key, "balanced") == 0) {
            found = 1;
            *balanced = value != NULL && strcmp(value, "true") == 0;
        }
    }
    ctm_query_free(summary);
    if (rc != CTM_DONE)
        return cli_fail_ctm(rc);
    return found ? CLI_OK : cli_fail("report %s: its summary does not say 'balanced'", name);
}

int cmd_report(struct cli_session *s, const struct cli_args *a)
{
    ctm_report_options o;
    int rc = options_of(a, &o);
    if (rc != CLI_OK)
        return rc;
    const char *format = format_of(a), *output = cli_arg(a, "output");
    char *text = NULL;
    ctm_query *summary = NULL;
    rc = ctm_report_render_summary(&text, &summary, s->db, a->pos[0], &o, format);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (output) {
        rc = cli_write_file(output, text, "the report");
        if (rc == CLI_OK)
            printf("Wrote the %s report (%s) to %s.\n", a->pos[0], format, output);
    } else {
        size_t len = strlen(text);
        fputs(text, stdout);
        if (len > 0 && text[len - 1] != '\n')
            fputc('\n', stdout);
    }
    ctm_free(text);
    if (rc != CLI_OK || strcmp(a->pos[0], "reconciliation") != 0) {
        ctm_query_free(summary);
        return rc;
    }
    int balanced = 0;
    if ((rc = summary_balanced(summary, a->pos[0], &balanced)) != CLI_OK)
        return rc;
    if (!balanced) {
        fprintf(stderr, "ctm: the reconciliation of %s does not balance%s%s\n", o.trial,
                o.as_of ? " as of " : "", o.as_of ? o.as_of : "");
        return CLI_FAIL;
    }
    return CLI_OK;
}
