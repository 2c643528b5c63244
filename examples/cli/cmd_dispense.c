/*
 * cmd_dispense.c - `ctm dispense ...`, `ctm dispensations` and `ctm codebreak`: kits to subjects
 * at their visits, scan-to-verify with the pharmacist's e-signature, and emergency unblinding.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The kits of a command: --scan CODE and the positional arguments after `first`, with the GS
 * separator typed as <GS> or \x1d turned into the byte (malloc'd copies, NULL-terminated). */
static int scan_args(const struct cli_args *a, int first, char ***out, size_t *n)
{
    const char *scan = cli_arg(a, "scan");
    size_t count = (scan ? 1 : 0) + (size_t)(a->npos > first ? a->npos - first : 0);
    char **kits = calloc(count + 1, sizeof *kits);
    if (!kits)
        return cli_fail("out of memory");
    size_t k = 0;
    if (scan)
        kits[k++] = strdup(scan);
    for (int i = first; i < a->npos; i++)
        kits[k++] = strdup(a->pos[i]);
    for (size_t i = 0; i < count; i++) {
        if (!kits[i]) {
            for (size_t j = 0; j < count; j++)
                free(kits[j]);
            free(kits);
            return cli_fail("out of memory");
        }
        cli_unescape_gs(kits[i]);
    }
    *out = kits;
    *n = count;
    return count ? CLI_OK : cli_usage(a->cmd, "give the kits handed over: --scan CODE [CODE...]");
}

static void free_scans(char **kits, size_t n)
{
    for (size_t i = 0; kits && i < n; i++)
        free(kits[i]);
    free(kits);
}

static int print_assigned(int rc, ctm_query **q, const struct cli_args *a, const char *screening)
{
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (cli_format_of(a) == FORMAT_TABLE)
        printf("Assigned to subject %s (scan each kit with 'ctm dispense confirm'):\n",
               screening);
    rc = cli_print_query(stdout, *q, cli_format_of(a));
    ctm_query_free(*q);
    return rc;
}

int cmd_dispense_assign(struct cli_session *s, const struct cli_args *a)
{
    ctm_dispense_options o = CTM_DISPENSE_OPTIONS_INIT;
    const char *titrate = cli_arg(a, "titrate");
    o.override_reason = cli_arg(a, "override");
    if (titrate && strcmp(titrate, "up") == 0)
        o.titrate = 1;
    else if (titrate && strcmp(titrate, "down") == 0)
        o.titrate = -1;
    else if (titrate && strcmp(titrate, "keep") != 0)
        return cli_usage(a->cmd, "--titrate: give up, down or keep");
    ctm_query *q = NULL;
    int rc = ctm_dispense_assign(&q, s->db, a->pos[0], a->pos[1], cli_arg(a, "visit"), &o);
    return print_assigned(rc, &q, a, a->pos[1]);
}

int cmd_dispense_confirm(struct cli_session *s, const struct cli_args *a)
{
    char **kits = NULL;
    size_t n = 0;
    int rc = scan_args(a, 2, &kits, &n);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_dispense_confirm(s->db, a->pos[0], a->pos[1], (const char *const *)kits, n);
    free_scans(kits, n);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Dispensed to subject %s: %zu kit%s, e-signed.\n", a->pos[1], n, n == 1 ? "" : "s");
    return CLI_OK;
}

int cmd_dispense_cancel(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_dispense_cancel(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("The kits assigned to subject %s are free again.\n", a->pos[1]);
    return CLI_OK;
}

int cmd_dispense_replace(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    const char *how = cli_flag(a, "lost") ? "lost" : "damaged";
    char *kit = strdup(a->pos[2]);
    if (!kit)
        return cli_fail("out of memory");
    cli_unescape_gs(kit);
    int rc = ctm_dispense_replace(&q, s->db, a->pos[0], a->pos[1], kit, how,
                                  cli_arg(a, "reason"));
    free(kit);
    return print_assigned(rc, &q, a, a->pos[1]);
}

int cmd_dispense_reverse(struct cli_session *s, const struct cli_args *a)
{
    char *kit = strdup(a->pos[2]);
    if (!kit)
        return cli_fail("out of memory");
    cli_unescape_gs(kit);
    int rc = ctm_dispense_reverse(s->db, a->pos[0], a->pos[1], kit, cli_arg(a, "reason"));
    free(kit);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Dispensing of kit %s to subject %s reversed, e-signed; the kit is not_dispensed.\n",
           a->pos[2], a->pos[1]);
    return CLI_OK;
}

int cmd_dispense_record(struct cli_session *s, const struct cli_args *a)
{
    char **kits = NULL;
    size_t n = 0;
    int rc = scan_args(a, 2, &kits, &n);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_dispense_record(s->db, a->pos[0], a->pos[1], cli_arg(a, "visit"),
                             (const char *const *)kits, n, cli_arg(a, "at"), cli_arg(a, "reason"));
    free_scans(kits, n);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Recorded: %zu kit%s dispensed to subject %s at %s, e-signed.\n", n,
           n == 1 ? "" : "s", a->pos[1], cli_arg(a, "at"));
    return CLI_OK;
}

int cmd_dispensations(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_dispensations(&q, s->db, a->pos[0], cli_arg(a, "subject")), &q,
                             a);
}

/* The code break asks for the password again, whatever the login took: a deliberate second
 * entry for this one subject. */
int cmd_codebreak(struct cli_session *s, const struct cli_args *a)
{
    struct cli_secret pw;
    char prompt[200];
    snprintf(prompt, sizeof prompt, "Emergency unblinding of subject %.40s. Password for %s again: ",
             a->pos[1], s->user);
    int rc = cli_secret_ask(&pw, "CTM_PASSWORD", prompt);
    if (rc != CLI_OK)
        return rc;
    char *arm = NULL;
    rc = ctm_codebreak(&arm, s->db, a->pos[0], a->pos[1], pw.text, cli_arg(a, "reason"));
    cli_secret_wipe(&pw);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s: arm %s\n", a->pos[1], a->pos[0], arm);
    printf("The code break is recorded with your e-signature (emergency unblinding).\n");
    ctm_free(arm);
    return CLI_OK;
}
