/*
 * cmd_destroy.c - kits leaving the site for good: `ctm destroy` (witnessed), `ctm destructions`,
 * `ctm shipback` (pack, manifest, dispatch, cancel) and `ctm shipbacks`.
 *
 * The rules (only kits pending destruction are destroyed; the witness is a second user; which
 * kits go back to the sponsor) are the library's.  The witness's password comes from
 * $CTM_WITNESS_PASSWORD or a no-echo prompt naming the witness, never from $CTM_PASSWORD (the
 * acting user's), and is wiped once the call returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

int cmd_destroy(struct cli_session *s, const struct cli_args *a)
{
    const char *witness = cli_arg(a, "witness");
    size_t nkits = 0;
    char **kits = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kits, &nkits);
    if (rc != CLI_OK)
        return rc;
    if (strcmp(witness, s->user) == 0) {
        cli_kit_args_free(kits);
        return cli_usage(a->cmd, "--witness: a second user witnesses, not %s", s->user);
    }
    struct cli_secret pw;
    char prompt[200];
    snprintf(prompt, sizeof prompt,
             "Witnessing the destruction of %zu kit%s (witnessed destruction). Password for %.64s: ",
             nkits, plural(nkits), witness);
    rc = cli_secret_ask(&pw, "CTM_WITNESS_PASSWORD", prompt);
    if (rc != CLI_OK) {
        cli_kit_args_free(kits);
        return rc;
    }
    rc = ctm_destroy(s->db, a->pos[0], (const char *const *)kits, nkits, cli_arg(a, "method"),
                     cli_arg(a, "certificate"), witness, pw.text);
    cli_secret_wipe(&pw);
    cli_kit_args_free(kits);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Destroyed %zu kit%s of trial %s (certificate ", nkits, plural(nkits), a->pos[0]);
    cli_put_display(stdout, cli_arg(a, "certificate"));
    printf("), e-signed by %s and witnessed by %s.\n", ctm_current_user(s->db), witness);
    return CLI_OK;
}

int cmd_destructions(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_destructions(&q, s->db, a->npos > 0 ? a->pos[0] : NULL), &q, a);
}

int cmd_shipback(struct cli_session *s, const struct cli_args *a)
{
    const char *shipment = cli_arg(a, "shipment");
    size_t nkits = 0;
    char **kits = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kits, &nkits);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_shipback(s->db, a->pos[0], shipment, cli_arg(a, "destination"),
                      (const char *const *)kits, nkits);
    cli_kit_args_free(kits);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Packed %zu kit%s of trial %s for the sponsor in shipback %s; 'ctm shipback dispatch'"
           " sends them.\n", nkits, plural(nkits), a->pos[0], shipment);
    return CLI_OK;
}

int cmd_shipback_manifest(struct cli_session *s, const struct cli_args *a)
{
    const char *output = cli_arg(a, "output");
    char *csv = NULL;
    int rc = ctm_shipback_manifest(&csv, s->db, a->pos[0], a->pos[1]);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (output) {
        rc = cli_write_file(output, csv, "the manifest");
        if (rc == CLI_OK)
            printf("Wrote the manifest of shipback %s to %s.\n", a->pos[1], output);
    } else {
        fputs(csv, stdout);
    }
    ctm_free(csv);
    return rc;
}

int cmd_shipback_dispatch(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_shipback_dispatch(s->db, a->pos[0], a->pos[1], cli_arg(a, "reference"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Shipback %s of trial %s is dispatched (reference ", a->pos[1], a->pos[0]);
    cli_put_display(stdout, cli_arg(a, "reference"));
    printf("), e-signed by %s; its kits are returned to the sponsor.\n", ctm_current_user(s->db));
    return CLI_OK;
}

int cmd_shipback_cancel(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_shipback_cancel(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Shipback %s of trial %s is cancelled; its kits are unpacked.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_shipbacks(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_shipbacks(&q, s->db, a->npos > 0 ? a->pos[0] : NULL), &q, a);
}
