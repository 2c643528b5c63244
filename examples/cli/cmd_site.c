/*
 * cmd_site.c - `ctm init` and `ctm version`.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The target as printed: a password in a postgresql:// URL becomes "***". */
static void print_target(const char *target)
{
    const char *scheme = strstr(target, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at != NULL && colon != NULL && colon < at)
        printf("%.*s:***%s", (int)(colon - target), target, at);
    else
        fputs(target, stdout);
}

static void print_key_advice(ctm_db *db, const struct cli_session *s)
{
    char *vkey = NULL;
    if (ctm_audit_vkey(&vkey, db) != CTM_OK) {
        /* The site exists; only the courtesy print failed. */
        printf("Run 'ctm audit pubkey' to see the site's verifier key.\n");
        return;
    }
    printf("Verifier key: %s\nSite signing key file: ", vkey);
    if (s->site_key != NULL)
        printf("%s", s->site_key);
    else
        printf("%s.key", s->db_path);
    printf("\n\n"
           "Keep a copy of the verifier key outside this machine (for example with the trial\n"
           "monitor): 'ctm audit verify --key VKEY' then checks the ledger against a key that\n"
           "nobody with access to the database can change.  Back up the key file with the\n"
           "database: without it no further change can be signed.\n");
    ctm_free(vkey);
}

int cmd_init(struct cli_session *s, const struct cli_args *a)
{
    struct cli_secret pw;
    const char *admin = cli_arg(a, "admin");
    const char *site = cli_arg(a, "site");
    const char *printed = cli_arg(a, "name");
    int rc = cli_secret_new(&pw, "CTM_NEW_PASSWORD", "CTM_PASSWORD", admin, "site initialised");
    if (rc != CLI_OK)
        return rc;
    rc = ctm_init(s->db, site, cli_arg(a, "origin"), admin, printed ? printed : admin, pw.text);
    cli_secret_wipe(&pw);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Initialised site \"%s\" in ", site);
    print_target(s->db_path);
    printf(" with administrator %s.\n", admin);
    print_key_advice(s->db, s);
    return CLI_OK;
}

int cmd_migrate(struct cli_session *s, const struct cli_args *a)
{
    const char *to = cli_arg(a, "to");
    int rc = ctm_migrate_to(s->db, to);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    /* The copy's newest checkpoint must be the site's, word for word. */
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    opts.flags = CTM_OPEN_READONLY;
    ctm_db *copy = NULL;
    char *mine = NULL, *theirs = NULL;
    uint64_t size = 0;
    rc = ctm_audit_checkpoint(&mine, s->db);
    if (rc == CTM_OK)
        rc = ctm_audit_size(s->db, &size);
    if (rc == CTM_OK)
        rc = ctm_open(&copy, to, &opts);
    if (rc == CTM_OK)
        rc = ctm_audit_checkpoint(&theirs, copy);
    ctm_close(copy);
    if (rc == CTM_OK && strcmp(mine, theirs) != 0)
        rc = cli_fail("migrate: the copy's checkpoint differs from the site's");
    else if (rc != CTM_OK)
        rc = cli_fail_ctm(rc);
    if (rc == CTM_OK) {
        printf("Copied the site into ");
        print_target(to);
        printf(": %llu ledger entries, the same signed checkpoint:\n\n%s\n"
               "Workstations now use --db with the new target and the site key file%s%s.\n",
               (unsigned long long)size, mine, s->site_key ? " " : " (",
               s->site_key ? s->site_key : "the database's .key file: give it with --site-key)");
    }
    ctm_free(mine);
    ctm_free(theirs);
    return rc;
}

int cmd_version(struct cli_session *s, const struct cli_args *a)
{
    (void)s;
    (void)a;
    printf("ctm %s (libctm %s)\n", CTM_VERSION_STRING, ctm_version());
    return CLI_OK;
}
