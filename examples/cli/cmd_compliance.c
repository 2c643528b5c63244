/*
 * cmd_compliance.c - kits coming back from subjects and the compliance they show: `ctm return`,
 * `ctm lost`, `ctm compliance` and `ctm compliance limits`.
 *
 * The rules (a kit comes back once, never to stock; units 0 up to the kit's; the day not before
 * the dispensing nor in the future) are the library's: these commands pass what was typed and
 * say what happened.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_return(struct cli_session *s, const struct cli_args *a)
{
    char **kit = NULL;
    uint64_t units = 0;
    int rc = cli_kit_args(a, NULL, 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    if (cli_number(cli_arg(a, "units"), &units) != 0 || units > 1000000) {
        cli_kit_args_free(kit);
        return cli_usage(a->cmd, "--units: give the units counted in the kit (0 or more)");
    }
    rc = ctm_return(s->db, a->pos[0], kit[0], (int)units, cli_arg(a, "date"),
                    cli_arg(a, "condition"));
    cli_kit_args_free(kit);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    fputs("Kit ", stdout);
    cli_put_display(stdout, a->pos[1]);
    printf(" of trial %s is returned with %llu unit%s; it does not go back to stock.\n", a->pos[0],
           (unsigned long long)units, units == 1 ? "" : "s");
    return CLI_OK;
}

int cmd_lost(struct cli_session *s, const struct cli_args *a)
{
    char **kit = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_lost(s->db, a->pos[0], kit[0], cli_arg(a, "date"), cli_arg(a, "reason"));
    cli_kit_args_free(kit);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    fputs("Kit ", stdout);
    cli_put_display(stdout, a->pos[1]);
    printf(" of trial %s is recorded as lost by its subject.\n", a->pos[0]);
    return CLI_OK;
}

int cmd_compliance(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_compliance(&q, s->db, a->pos[0], cli_arg(a, "subject")), &q, a);
}

int cmd_compliance_limits(struct cli_session *s, const struct cli_args *a)
{
    uint64_t low = 0, high = 0;
    if (cli_number(cli_arg(a, "low"), &low) != 0 || cli_number(cli_arg(a, "high"), &high) != 0 ||
        low > 1000 || high > 1000)
        return cli_usage(a->cmd, "--low and --high: percentages from 0 to 1000");
    int rc = ctm_compliance_limits(s->db, a->pos[0], (int)low, (int)high);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Compliance in trial %s is flagged below %llu%% and above %llu%%.\n", a->pos[0],
           (unsigned long long)low, (unsigned long long)high);
    return CLI_OK;
}
