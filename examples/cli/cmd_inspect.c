/*
 * cmd_inspect.c - looking ahead and looking back: `ctm forecast` (the kits the visits falling due
 * need, per kit type, against the stock that can meet them) and `ctm self-inspection` (every
 * finding of a yearly inspection: discrepancies, overdue returns, expired stock on hand, open
 * excursions, missing signatures, stale accounts).
 *
 * Both are listings of the library (ctm_forecast, ctm_self_inspection); what a blinded user sees
 * is decided there.
 */
#include <stdio.h>

#include "cli.h"

/* An optional day count of option `name`, 1 to 3650, else `def`. */
static int days_arg(const struct cli_args *a, const char *name, int def, int *days)
{
    const char *text = cli_arg(a, name);
    uint64_t n = 0;
    if (text == NULL) {
        *days = def;
        return CLI_OK;
    }
    if (cli_number(text, &n) != 0 || n < 1 || n > 3650)
        return cli_usage(a->cmd, "--%s: give a number of days from 1 to 3650", name);
    *days = (int)n;
    return CLI_OK;
}

int cmd_forecast(struct cli_session *s, const struct cli_args *a)
{
    int days = 0;
    int rc = days_arg(a, "days", 28, &days);
    if (rc != CLI_OK)
        return rc;
    ctm_query *q = NULL;
    return cli_print_listing(ctm_forecast(&q, s->db, a->pos[0], days), &q, a);
}

int cmd_self_inspection(struct cli_session *s, const struct cli_args *a)
{
    int days = 0;
    int rc = days_arg(a, "stale-days", 90, &days);
    if (rc != CLI_OK)
        return rc;
    ctm_query *q = NULL;
    return cli_print_listing(ctm_self_inspection(&q, s->db, a->npos > 0 ? a->pos[0] : NULL, days),
                             &q, a);
}
