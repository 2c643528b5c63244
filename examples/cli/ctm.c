/*
 * ctm.c - the `ctm` command: global options, the table of commands, help, and the steps every
 * command shares (open the database, log in, report failures as one line on stderr).
 *
 *   ctm [--db PATH] [--user NAME] COMMAND ...
 *
 * Exit status: 0 on success, 1 on failure, 2 on wrong usage.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GLOBAL_SYNOPSIS "ctm [--db PATH] [--user NAME] COMMAND ..."

/* ---- the commands ---- */

static int cmd_help(struct cli_session *s, const struct cli_args *a);

#define END_OPTS { NULL, OPT_FLAG, 0, NULL }
static const struct cli_opt no_opts[] = { END_OPTS };
static const struct cli_opt init_opts[] = {
    { "site", OPT_VALUE, 1, NULL }, { "admin", OPT_VALUE, 1, NULL },
    { "name", OPT_VALUE, 0, NULL }, { "origin", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt user_add_opts[] = {
    { "role", OPT_VALUE, 1, NULL }, { "unblinded", OPT_FLAG, 0, NULL },
    { "name", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt listing_opts[] = {
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt reason_opts[] = { { "reason", OPT_VALUE, 1, NULL }, END_OPTS };
static const struct cli_opt user_role_opts[] = {
    { "role", OPT_VALUE, 1, NULL }, { "unblinded", OPT_FLAG, 0, "blinded" },
    { "blinded", OPT_FLAG, 0, NULL }, { "reason", OPT_VALUE, 1, NULL }, END_OPTS
};
static const struct cli_opt audit_log_opts[] = {
    { "from", OPT_NUMBER, 0, NULL }, { "limit", OPT_NUMBER, 0, NULL },
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt audit_note_opts[] = { { "sign", OPT_VALUE, 0, NULL }, END_OPTS };
static const struct cli_opt audit_verify_opts[] = {
    { "checkpoint", OPT_VALUE, 0, NULL }, { "key", OPT_VALUE, 0, "key-file" },
    { "key-file", OPT_VALUE, 0, NULL }, END_OPTS
};

static const struct cli_command commands[] = {
    { "init", "--site NAME --admin USER [--name \"PRINTED NAME\"] [--origin ORIGIN]",
      "Create a database, its site signing key and the first administrator",
      "The database file is created if needed; the site's signing key is written beside it as\n"
      "<database>.key (mode 0600).  The administrator's password comes from $CTM_NEW_PASSWORD,\n"
      "else $CTM_PASSWORD, else it is asked twice on the terminal.  --origin sets the checkpoint\n"
      "origin line (default: libctm/<site name>).  Prints the site's verifier key: keep a copy\n"
      "of it outside this machine, so that `ctm audit verify --key` can check the ledger\n"
      "against a key nobody with access to the database can change.",
      init_opts, NULL, 0, 0, 0, ACCESS_CREATE, cmd_init },
    { "user add", "NAME --role ROLE [--unblinded] [--name \"PRINTED NAME\"]",
      "Add a user (administrators only)",
      "ROLE is one of admin, pharmacist, technician, investigator, monitor.  --unblinded lets\n"
      "the user see treatment arms.  The new user's password comes from $CTM_NEW_PASSWORD or\n"
      "is asked twice on the terminal.  The change is e-signed by the administrator.",
      user_add_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_add },
    { "user list", "[--json|--csv]", "List the users", NULL,
      listing_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_user_list },
    { "user disable", "NAME --reason TEXT", "Disable a user account (administrators only)", NULL,
      reason_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_disable },
    { "user enable", "NAME --reason TEXT", "Re-enable a user account (administrators only)", NULL,
      reason_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_enable },
    { "user role", "NAME --role ROLE [--unblinded|--blinded] --reason TEXT",
      "Change a user's role (administrators only)",
      "Without --unblinded or --blinded the user's blinding stays as it is.",
      user_role_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_role },
    { "user passwd", "[NAME]", "Change your password, or reset another user's (administrators)",
      "The new password comes from $CTM_NEW_PASSWORD or is asked twice on the terminal.\n"
      "Changing your own password keeps your e-signature key; an administrator resetting\n"
      "another user's password gives that user a new key.",
      no_opts, "NAME", 0, 1, 0, ACCESS_LOGIN, cmd_user_passwd },
    { "audit log", "[--from SEQ] [--limit N] [--json|--csv]", "Show the audit trail",
      "One block per entry, oldest first, from entry SEQ on (default: all), at most N entries.",
      audit_log_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_audit_log },
    { "audit note", "TEXT [--sign MEANING]", "Record a note in the audit trail",
      "With --sign the note carries your e-signature with that meaning\n"
      "(for example \"reviewed and approved\").",
      audit_note_opts, "TEXT", 1, 1, 0, ACCESS_LOGIN, cmd_audit_note },
    { "audit verify", "[--checkpoint FILE] [--key VKEY|--key-file FILE]",
      "Verify the ledger, its signatures and every table (no login)",
      "Recomputes every entry, tree root, checkpoint signature and e-signature and replays the\n"
      "ledger against the live tables.  --key (or --key-file) gives the site's verifier key\n"
      "held outside the database; without it the key stored in the database is trusted.\n"
      "--checkpoint gives a checkpoint saved earlier (`ctm audit checkpoint`): the ledger must\n"
      "have only grown since.  Exits 1 and names the first failing entry on any mismatch.",
      audit_verify_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_verify },
    { "audit checkpoint", "", "Print the latest signed checkpoint, for a monitor to keep (no login)",
      NULL, no_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_checkpoint },
    { "audit pubkey", "", "Print the site's verifier key (no login)", NULL,
      no_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_pubkey },
    { "audit prove", "SEQ", "Print an inclusion proof of entry SEQ (no login)", NULL,
      no_opts, "SEQ", 1, 1, 1, ACCESS_READ, cmd_audit_prove },
    { "version", "", "Print the versions of ctm and libctm", NULL,
      no_opts, NULL, 0, 0, 0, ACCESS_NONE, cmd_version },
    { "help", "[COMMAND]", "Show help for all commands or one", NULL,
      no_opts, "COMMAND", 0, 2, 0, ACCESS_NONE, cmd_help },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* ---- messages ---- */

static void put_one_line(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
}

int cli_usage(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("ctm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "; usage: ctm %s%s%s (see 'ctm help %s')\n", cmd->name,
                cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->name);
    else
        fputs("; usage: " GLOBAL_SYNOPSIS " (see 'ctm help')\n", stderr);
    return CLI_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("ctm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

/* The library's own message for a failure: it names the field, line or value at fault. */
int cli_fail_ctm(int rc)
{
    const char *msg = ctm_errmsg();
    fputs("ctm: ", stderr);
    put_one_line(stderr, msg && msg[0] ? msg : ctm_errstr(rc));
    fputc('\n', stderr);
    return CLI_FAIL;
}

/* ---- finding commands ---- */

static size_t word_len(const char *name)
{
    const char *space = strchr(name, ' ');
    return space ? (size_t)(space - name) : strlen(name);
}

/* Whether word names a group of commands ("user", "audit"). */
static int is_group(const char *word)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i].name;
        size_t n = word_len(name);
        if (name[n] == ' ' && strlen(word) == n && strncmp(name, word, n) == 0)
            return 1;
    }
    return 0;
}

/* The command named by the first one or two words; *words says how many it took. */
static const struct cli_command *find_command(int argc, char **argv, int *words)
{
    char name[64];
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (argc >= 2) {
            snprintf(name, sizeof name, "%s %s", argv[0], argv[1]);
            if (strcmp(commands[i].name, name) == 0) {
                *words = 2;
                return &commands[i];
            }
        }
        if (strcmp(commands[i].name, argv[0]) == 0) {
            *words = 1;
            return &commands[i];
        }
    }
    return NULL;
}

/* ---- help ---- */

static void print_command_line(FILE *out, const struct cli_command *cmd)
{
    fprintf(out, "  %-18s %s\n", cmd->name, cmd->summary);
}

static void print_overview(FILE *out)
{
    fputs("usage: " GLOBAL_SYNOPSIS "\n\n"
          "Keep a clinical-trial pharmacy's records and check their signed audit ledger.\n\n"
          "Commands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        print_command_line(out, &commands[i]);
    fputs("\nEnvironment:\n"
          "  CTM_DB             the database, when --db is not given\n"
          "  CTM_USER           the acting user, when --user is not given\n"
          "  CTM_PASSWORD       the acting user's password (else asked on the terminal)\n"
          "  CTM_NEW_PASSWORD   a new password for init, user add and user passwd\n"
          "                     (else asked twice on the terminal)\n\n"
          "Run 'ctm help COMMAND' or 'ctm COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 failure, 2 wrong usage.\n", out);
}

static void print_group(FILE *out, const char *group)
{
    size_t n = strlen(group);
    fprintf(out, "usage: ctm %s COMMAND ...\n\nCommands:\n", group);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i].name;
        if (strncmp(name, group, n) == 0 && name[n] == ' ')
            fprintf(out, "  ctm %s %s\n      %s\n", name, commands[i].synopsis, commands[i].summary);
    }
}

static int print_command_help(const struct cli_command *cmd)
{
    printf("usage: ctm %s%s%s\n\n%s.\n", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis,
           cmd->summary);
    if (cmd->details)
        printf("\n%s\n", cmd->details);
    if (cmd->access != ACCESS_NONE)
        printf("\nAlso takes --db PATH and --user NAME (or $CTM_DB and $CTM_USER).\n");
    return CLI_OK;
}

static int cmd_help(struct cli_session *s, const struct cli_args *a)
{
    (void)s;
    int words = 0;
    if (a->npos == 0) {
        print_overview(stdout);
        return CLI_OK;
    }
    const struct cli_command *cmd = find_command(a->npos, (char **)a->pos, &words);
    if (cmd && words == a->npos)
        return print_command_help(cmd);
    if (a->npos == 1 && is_group(a->pos[0])) {
        print_group(stdout, a->pos[0]);
        return CLI_OK;
    }
    return cli_usage(a->cmd, "no command '%s%s%s'", a->pos[0], a->npos > 1 ? " " : "",
                     a->npos > 1 ? a->pos[1] : "");
}

/* ---- the steps every command shares ---- */

static int login(struct cli_session *s, const struct cli_command *cmd)
{
    struct cli_secret pw;
    if (!s->user || !s->user[0])
        return cli_usage(cmd, "no user: give --user NAME or set CTM_USER");
    int rc = cli_secret_get(&pw, "CTM_PASSWORD", s->user);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_login(s->db, s->user, pw.text);
    cli_secret_wipe(&pw);
    return rc == CTM_OK ? CLI_OK : cli_fail_ctm(rc);
}

static int open_database(struct cli_session *s, const struct cli_command *cmd)
{
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    if (!s->db_path || !s->db_path[0])
        return cli_usage(cmd, "no database: give --db PATH or set CTM_DB");
    if (cmd->access == ACCESS_CREATE)
        opts.flags = CTM_OPEN_CREATE;
    else if (cmd->access == ACCESS_READ)
        opts.flags = CTM_OPEN_READONLY;
    int rc = ctm_open(&s->db, s->db_path, &opts);
    return rc == CTM_OK ? CLI_OK : cli_fail_ctm(rc);
}

static int run_command(struct cli_session *s, const struct cli_args *a)
{
    const struct cli_command *cmd = a->cmd;
    int rc = CLI_OK;
    if (cmd->access != ACCESS_NONE)
        rc = open_database(s, cmd);
    if (rc == CLI_OK && cmd->access == ACCESS_LOGIN)
        rc = login(s, cmd);
    if (rc == CLI_OK)
        rc = cmd->run(s, a);
    ctm_close(s->db);
    s->db = NULL;
    return rc;
}

/* A failed write to stdout (a full disk, a closed pipe) is a failure of the command. */
static int finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_OK)
            return cli_fail("cannot write the output: %s", strerror(errno));
    }
    return rc;
}

/* ---- global options ---- */

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Options before the command; *i ends on the command's first word.  -1: help was printed. */
static int parse_global(struct cli_session *s, int argc, char **argv, int *i)
{
    for (*i = 1; *i < argc && argv[*i][0] == '-'; ++*i) {
        const char *arg = argv[*i];
        const char **target = NULL;
        size_t n = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_overview(stdout);
            return -1;
        }
        if (strcmp(arg, "--version") == 0) {
            cmd_version(s, NULL);
            return -1;
        }
        if (strncmp(arg, "--db", 4) == 0 && (arg[4] == '\0' || arg[4] == '='))
            target = &s->db_path, n = 4;
        else if (strncmp(arg, "--user", 6) == 0 && (arg[6] == '\0' || arg[6] == '='))
            target = &s->user, n = 6;
        else
            return cli_usage(NULL, "unknown option %s", arg);
        if (arg[n] == '=')
            *target = arg + n + 1;
        else if (*i + 1 < argc)
            *target = argv[++*i];
        else
            return cli_usage(NULL, "option %s needs a value", arg);
    }
    return CLI_OK;
}

/* "ctm user", "ctm user --help", "ctm user frobnicate". */
static int group_without_command(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_group(stdout, argv[0]);
        return CLI_OK;
    }
    if (argc < 2)
        fprintf(stderr, "ctm: '%s' needs a command", argv[0]);
    else
        fprintf(stderr, "ctm: no command '%s %s'", argv[0], argv[1]);
    fprintf(stderr, "; usage: ctm %s COMMAND ... (see 'ctm help %s')\n", argv[0], argv[0]);
    return CLI_USAGE;
}

static int dispatch(struct cli_session *s, int argc, char **argv)
{
    struct cli_args a;
    int words = 0;
    if (argc < 1)
        return cli_usage(NULL, "no command given");
    const struct cli_command *cmd = find_command(argc, argv, &words);
    if (!cmd && is_group(argv[0]))
        return group_without_command(argc, argv);
    if (!cmd)
        return cli_usage(NULL, "no command '%s'", argv[0]);
    int rc = cli_parse_args(&a, s, cmd, argc - words, argv + words);
    if (rc != CLI_OK)
        return rc;
    if (a.help)
        return print_command_help(cmd);
    return run_command(s, &a);
}

int main(int argc, char **argv)
{
    struct cli_session s = { env_or_null("CTM_DB"), env_or_null("CTM_USER"), NULL };
    int i;
    int rc = parse_global(&s, argc, argv, &i);
    if (rc < 0)
        return finish_output(CLI_OK);
    if (rc != CLI_OK)
        return rc;
    return finish_output(dispatch(&s, argc - i, argv + i));
}
