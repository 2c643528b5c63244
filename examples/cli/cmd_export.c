/*
 * cmd_export.c - `ctm export fhir|sdtm-da TRIAL`: a trial's receipts, dispensings and returns as
 * a FHIR R4 Bundle (JSON) or an SDTM DA CSV, for hospital systems and the sponsor's data
 * management (docs/exports.md).
 *
 * The library writes the text; here it goes to standard output or to --output FILE.  An export
 * holds no arm for any user, so nothing here can show one.  The format and the dates are checked
 * before the login (cli_check_export).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_check_export(const struct cli_args *a, const char *opt)
{
    (void)opt;
    if (a->npos >= 1 && strcmp(a->pos[0], "fhir") != 0 && strcmp(a->pos[0], "sdtm-da") != 0)
        return cli_usage(a->cmd, "FORMAT: give fhir or sdtm-da, not '%s'", a->pos[0]);
    return CLI_OK;
}

int cmd_export(struct cli_session *s, const struct cli_args *a)
{
    const char *format = a->pos[0], *trial = a->pos[1], *output = cli_arg(a, "output");
    ctm_export_options o = CTM_EXPORT_OPTIONS_INIT;
    o.from = cli_arg(a, "from");
    o.to = cli_arg(a, "to");
    char *text = NULL;
    int rc = ctm_export(&text, s->db, format, trial, &o);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (output) {
        rc = cli_write_file(output, text, "the export");
        if (rc == CLI_OK)
            printf("Wrote the %s export of trial %s to %s.\n", format, trial, output);
    } else {
        fputs(text, stdout);
    }
    ctm_free(text);
    return rc;
}
