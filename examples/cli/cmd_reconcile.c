/*
 * cmd_reconcile.c - accountability: `ctm reconcile` (the reconciliation per kit type and lot, now
 * or as of a day, with the kits that break it), `ctm darf` (the DARF-style log), `ctm signoff
 * --reconciliation` (a monitor's e-signed sign-off) and `ctm signoffs`.
 *
 * The library draws the figures (docs/reconciliation.md); here they are printed.  `ctm reconcile`
 * exits 1 when the reconciliation does not balance, after printing it and the kits that break it,
 * so a monitor's script can stop on it; --json says "balanced": true|false.  Nothing here holds
 * an arm: the rows are per kit type and lot.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Whether the reconciliation balances: its last row (the total) says so. */
static int read_balanced(ctm_db *db, const char *trial, const char *as_of, int *balanced)
{
    ctm_query *q = NULL;
    int rc = ctm_reconciliation(&q, db, trial, as_of);
    int col = rc == CTM_OK ? cli_query_column(q, "balanced") : -1;
    if (rc == CTM_OK)
        while ((rc = ctm_query_next(q)) == CTM_ROW)
            *balanced = col >= 0 && ctm_query_int64(q, col) != 0;
    ctm_query_free(q);
    return rc == CTM_DONE ? CTM_OK : rc;
}

static int print_json_report(struct cli_session *s, const char *trial, const char *as_of,
                             int balanced)
{
    ctm_query *q = NULL;
    fputs("{\"trial\": ", stdout);
    cli_put_json_string(stdout, trial);
    fputs(", \"as_of\": ", stdout);
    if (as_of != NULL)
        cli_put_json_string(stdout, as_of);
    else
        fputs("null", stdout);
    printf(", \"balanced\": %s,\n\"rows\": ", balanced ? "true" : "false");
    int rc = ctm_reconciliation(&q, s->db, trial, as_of);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = cli_print_query(stdout, q, FORMAT_JSON);
    ctm_query_free(q);
    if (rc != CLI_OK)
        return rc;
    fputs(", \"breaks\": ", stdout);
    if ((rc = ctm_reconciliation_breaks(&q, s->db, trial, as_of)) != CTM_OK)
        return cli_fail_ctm(rc);
    rc = cli_print_query(stdout, q, FORMAT_JSON);
    ctm_query_free(q);
    fputs("}\n", stdout);
    return rc;
}

int cmd_reconcile(struct cli_session *s, const struct cli_args *a)
{
    const char *trial = a->pos[0], *as_of = cli_arg(a, "as-of");
    enum cli_format format = cli_format_of(a);
    int balanced = 0;
    int rc = read_balanced(s->db, trial, as_of, &balanced);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (format == FORMAT_JSON)
        rc = print_json_report(s, trial, as_of, balanced);
    else {
        ctm_query *q = NULL;
        rc = cli_print_listing(ctm_reconciliation(&q, s->db, trial, as_of), &q, a);
        if (rc == CLI_OK && format == FORMAT_TABLE && !balanced) {
            printf("\nKits that break it:\n");
            rc = cli_print_listing(ctm_reconciliation_breaks(&q, s->db, trial, as_of), &q, a);
        }
    }
    if (rc != CLI_OK)
        return rc;
    if (!balanced) {
        fprintf(stderr, "ctm: the reconciliation of %s does not balance%s%s\n", trial,
                as_of ? " as of " : "", as_of ? as_of : "");
        return CLI_FAIL;
    }
    if (format == FORMAT_TABLE)
        printf("\nBalanced%s%s.\n", as_of ? " as of " : "", as_of ? as_of : "");
    return CLI_OK;
}

int cmd_darf(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_darf(&q, s->db, a->pos[0], cli_arg(a, "kit-type")), &q, a);
}

int cmd_signoff(struct cli_session *s, const struct cli_args *a)
{
    const char *trial = a->pos[0], *as_of = cli_arg(a, "as-of");
    if (!cli_flag(a, "reconciliation"))
        return cli_usage(a->cmd, "say what is signed off: --reconciliation");
    int rc = ctm_signoff_reconciliation(s->db, trial, as_of, cli_arg(a, "comment"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    /* the row just written: the newest of the trial's sign-offs */
    ctm_query *q = NULL;
    int balanced = -1;
    char day[16] = "";
    int64_t size = 0;
    if ((rc = ctm_signoffs(&q, s->db, trial)) == CTM_OK) {
        while (ctm_query_next(q) == CTM_ROW) {
            balanced = (int)ctm_query_int64(q, cli_query_column(q, "balanced"));
            size = ctm_query_int64(q, cli_query_column(q, "ledger_size"));
            const char *d = ctm_query_text(q, cli_query_column(q, "as_of"));
            snprintf(day, sizeof day, "%s", d != NULL ? d : "");
        }
    }
    ctm_query_free(q);
    printf("Signed off the reconciliation of ");
    cli_put_display(stdout, trial);
    printf(" as of %s: %s (ledger size %" PRId64 "), e-signed by %s.\n", day,
           balanced == 1 ? "balanced" : "does not balance", size, ctm_current_user(s->db));
    return CLI_OK;
}

int cmd_signoffs(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_signoffs(&q, s->db, a->pos[0]), &q, a);
}
