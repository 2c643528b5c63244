/*
 * cmd_user.c - `ctm user ...`: accounts, roles and passwords.
 */
#include "cli.h"

#include <string.h>

int cmd_user_add(struct cli_session *s, const struct cli_args *a)
{
    struct cli_secret pw;
    const char *user = a->pos[0];
    const char *role = cli_arg(a, "role");
    int unblinded = cli_flag(a, "unblinded");
    int rc = cli_secret_new(&pw, "CTM_NEW_PASSWORD", NULL, user, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_user_add(s->db, user, role, unblinded, cli_arg(a, "name"), pw.text);
    cli_secret_wipe(&pw);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Added user %s (%s, %s).\n", user, role, unblinded ? "unblinded" : "blinded");
    return CLI_OK;
}

int cmd_user_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    int rc = ctm_user_list(&q, s->db);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = cli_print_query(stdout, q, cli_format_of(a));
    ctm_query_free(q);
    return rc;
}

int cmd_user_disable(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_user_disable(s->db, a->pos[0], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Disabled user %s.\n", a->pos[0]);
    return CLI_OK;
}

int cmd_user_enable(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_user_enable(s->db, a->pos[0], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Enabled user %s.\n", a->pos[0]);
    return CLI_OK;
}

/* The user's unblinded flag as it stands, for a role change that leaves blinding alone. */
static int current_unblinded(ctm_db *db, const char *user, int *unblinded)
{
    ctm_query *q = NULL;
    int found = 0;
    int rc = ctm_user_list(&q, db);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    int col_user = cli_query_column(q, "user");
    int col_flag = cli_query_column(q, "unblinded");
    if (col_user < 0 || col_flag < 0) {
        ctm_query_free(q);
        return cli_fail("the user list has no user or unblinded column");
    }
    while (!found && (rc = ctm_query_next(q)) == CTM_ROW) {
        const char *name = ctm_query_text(q, col_user);
        found = name && strcmp(name, user) == 0;
        if (found)
            *unblinded = ctm_query_int64(q, col_flag) != 0;
    }
    /* Report before ctm_query_free(), which may replace the library's last message. */
    if (found)
        rc = CLI_OK;
    else if (rc != CTM_DONE)
        rc = cli_fail_ctm(rc);
    else
        rc = cli_fail("user %s: no such user", user);
    ctm_query_free(q);
    return rc;
}

int cmd_user_role(struct cli_session *s, const struct cli_args *a)
{
    const char *user = a->pos[0];
    const char *role = cli_arg(a, "role");
    int unblinded = cli_flag(a, "unblinded");
    if (!unblinded && !cli_flag(a, "blinded")) {
        int rc = current_unblinded(s->db, user, &unblinded);
        if (rc != CLI_OK)
            return rc;
    }
    int rc = ctm_user_set_role(s->db, user, role, unblinded, cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("User %s is now %s (%s).\n", user, role, unblinded ? "unblinded" : "blinded");
    return CLI_OK;
}

int cmd_user_passwd(struct cli_session *s, const struct cli_args *a)
{
    struct cli_secret pw;
    const char *me = ctm_current_user(s->db);
    if (!me)
        return cli_fail("nobody is logged in");
    const char *user = a->npos > 0 ? a->pos[0] : me;
    int own = strcmp(user, me) == 0;
    int rc = cli_secret_new(&pw, "CTM_NEW_PASSWORD", NULL, user, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_user_passwd(s->db, own ? NULL : user, pw.text);
    cli_secret_wipe(&pw);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Changed the password of %s.\n", user);
    return CLI_OK;
}
