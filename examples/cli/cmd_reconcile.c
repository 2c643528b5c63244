/*
 * cmd_reconcile.c - accountability: `ctm reconcile` (the reconciliation per kit type and lot, now
 * or as of a day, with the kits that break it), `ctm darf` (the DARF-style log), `ctm signoff
 * --reconciliation` (a monitor's e-signed sign-off) and `ctm signoffs`.
 *
 * The library draws the figures (docs/reconciliation.md); here they are printed.  `ctm reconcile`
 * exits 1 when the reconciliation does not balance, after printing it and the kits that break it,
 * so a monitor's script can stop on it; --json says "balanced": true|false.  Both come from the
 * rows printed: the reconciliation is drawn once (twice would cost a large trial double, and
 * could disagree with itself under concurrent writes).  Nothing here holds
 * an arm: the rows are per kit type and lot.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The rows of the reconciliation q, printed in format, and whether it balances: its last row (the
 * total) says so.  The reconciliation is drawn once, and what decides the exit status is what was
 * printed.  For --json, "balanced" comes before the rows: they are written to memory first. */
static int print_rows(ctm_query *q, enum cli_format format, int64_t *balanced, char **json)
{
    if (format != FORMAT_JSON)
        return cli_print_query_last(stdout, q, format, "balanced", balanced);
    size_t len = 0;
    FILE *mem = open_memstream(json, &len);
    if (mem == NULL)
        return cli_fail("out of memory");
    int rc = cli_print_query_last(mem, q, format, "balanced", balanced);
    if (fclose(mem) != 0 && rc == CLI_OK)
        rc = cli_fail("out of memory");
    return rc;
}

static int print_json_report(struct cli_session *s, const char *trial, const char *as_of,
                             int balanced, const char *rows)
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
    fputs(rows, stdout);
    fputs(", \"breaks\": ", stdout);
    int rc = ctm_reconciliation_breaks(&q, s->db, trial, as_of);
    if (rc != CTM_OK)
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
    ctm_query *q = NULL;
    int rc = ctm_reconciliation(&q, s->db, trial, as_of);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    int64_t balanced = 0;
    char *rows = NULL;
    rc = print_rows(q, format, &balanced, &rows);
    ctm_query_free(q);
    if (rc == CLI_OK && format == FORMAT_JSON)
        rc = print_json_report(s, trial, as_of, balanced != 0, rows);
    free(rows);
    if (rc == CLI_OK && format == FORMAT_TABLE && !balanced) {
        printf("\nKits that break it:\n");
        rc = cli_print_listing(ctm_reconciliation_breaks(&q, s->db, trial, as_of), &q, a);
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
