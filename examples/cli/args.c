/*
 * args.c - parsing a command's options and arguments.
 *
 * A small parser instead of getopt_long: it keeps no global state, lets options and arguments
 * mix in any order ("user add bob --role pharmacist"), and reports every mistake as one usage line.
 * Every command also accepts the global --db and --user after its name.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int find_opt(const struct cli_opt *opts, const char *name, size_t len)
{
    for (int i = 0; opts[i].name; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

/* --db, --user and --site-key may follow the command too; they land in the session. */
static const char **global_target(struct cli_session *s, const char *name, size_t len)
{
    if (len == 2 && strncmp(name, "db", 2) == 0)
        return &s->db_path;
    if (len == 8 && strncmp(name, "site-key", 8) == 0)
        return &s->site_key;
    if (len == 4 && strncmp(name, "user", 4) == 0)
        return &s->user;
    return NULL;
}

/* Fetch the value of "--name=value" or "--name value"; advances *i past a separate value. */
static int take_value(const struct cli_command *cmd, const char *name, size_t len,
                      const char *eq, int argc, char **argv, int *i, const char **out)
{
    if (eq) {
        *out = eq + 1;
        return CLI_OK;
    }
    if (*i + 1 >= argc)
        return cli_usage(cmd, "option --%.*s needs a value", (int)len, name);
    *out = argv[++*i];
    return CLI_OK;
}

static int store_opt(struct cli_args *a, int idx, const char *value)
{
    const struct cli_opt *o = &a->cmd->opts[idx];
    if (a->value[idx])
        return cli_usage(a->cmd, "option --%s given twice", o->name);
    a->value[idx] = value;
    return CLI_OK;
}

static int parse_long(struct cli_args *a, struct cli_session *s, int argc, char **argv, int *i)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = NULL;

    if (len == 4 && strncmp(name, "help", 4) == 0) {
        a->help = 1;
        return CLI_OK;
    }
    const char **global = global_target(s, name, len);
    if (global)
        return take_value(a->cmd, name, len, eq, argc, argv, i, global);
    int idx = find_opt(a->cmd->opts, name, len);
    if (idx < 0)
        return cli_usage(a->cmd, "unknown option --%.*s", (int)len, name);
    if (a->cmd->opts[idx].kind == OPT_FLAG) {
        if (eq)
            return cli_usage(a->cmd, "option --%s takes no value", a->cmd->opts[idx].name);
        return store_opt(a, idx, "");
    }
    int rc = take_value(a->cmd, name, len, eq, argc, argv, i, &value);
    return rc ? rc : store_opt(a, idx, value);
}

static int add_positional(struct cli_args *a, const char *arg)
{
    if (a->npos >= a->cmd->max_pos)
        return cli_usage(a->cmd, "unexpected argument '%s'", arg);
    a->pos[a->npos++] = arg;
    return CLI_OK;
}

static int check_option(const struct cli_args *a, int i)
{
    const struct cli_opt *o = &a->cmd->opts[i];
    uint64_t ignored;
    if (!a->value[i])
        return o->required ? cli_usage(a->cmd, "missing --%s", o->name) : CLI_OK;
    if (o->kind == OPT_NUMBER && cli_number(a->value[i], &ignored) != 0)
        return cli_usage(a->cmd, "--%s: expected a number, got '%s'", o->name, a->value[i]);
    if (o->excludes && cli_arg(a, o->excludes))
        return cli_usage(a->cmd, "--%s and --%s exclude each other", o->name, o->excludes);
    return CLI_OK;
}

static int check_complete(const struct cli_args *a)
{
    const struct cli_command *cmd = a->cmd;
    const char *what = cmd->pos_name ? cmd->pos_name : "argument";
    uint64_t ignored;
    if (a->npos < cmd->min_pos)
        return cli_usage(cmd, "missing %s", what);
    for (int i = 0; cmd->numeric_pos && i < a->npos; i++) {
        if (cli_number(a->pos[i], &ignored) != 0)
            return cli_usage(cmd, "%s: expected a number, got '%s'", what, a->pos[i]);
    }
    for (int i = 0; cmd->opts[i].name; i++) {
        int rc = check_option(a, i);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/*
 * Parse argv[0..argc) (the words after the command's name).  Returns CLI_OK, or CLI_USAGE after
 * printing the usage line.  With --help, a->help is set and nothing else is checked.
 */
int cli_parse_args(struct cli_args *a, struct cli_session *s, const struct cli_command *cmd,
                   int argc, char **argv)
{
    int only_positional = 0;
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc && !a->help; i++) {
        const char *arg = argv[i];
        int rc = CLI_OK;
        if (only_positional || arg[0] != '-' || arg[1] == '\0')
            rc = add_positional(a, arg);
        else if (strcmp(arg, "--") == 0)
            only_positional = 1;
        else if (strcmp(arg, "-h") == 0)
            a->help = 1;
        else if (arg[1] == '-')
            rc = parse_long(a, s, argc, argv, &i);
        else
            rc = cli_usage(cmd, "unknown option %s", arg);
        if (rc)
            return rc;
    }
    return a->help ? CLI_OK : check_complete(a);
}

/* The value of a value option, or NULL when not given. */
const char *cli_arg(const struct cli_args *a, const char *name)
{
    int idx = find_opt(a->cmd->opts, name, strlen(name));
    return idx < 0 ? NULL : a->value[idx];
}

/* Whether a flag was given. */
int cli_flag(const struct cli_args *a, const char *name)
{
    return cli_arg(a, name) != NULL;
}

/* A decimal unsigned number, all of the text: 0, or -1 when it is not one. */
int cli_number(const char *text, uint64_t *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}
