/*
 * cli.h - the pieces of the `ctm` command shared between its files.
 *
 * The command uses nothing but the public API in ctm.h.  Every command is described by a
 * struct cli_command (its words, synopsis, options and what access it needs); ctm.c finds the
 * command, args.c parses its options, ctm.c opens the database and logs in as the command needs,
 * and the command's run function does the rest.  Run functions return a process exit status.
 */
#ifndef CTM_CLI_H
#define CTM_CLI_H

#include <ctm.h>

#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#define CLI_MAX_OPTS 16
#define CLI_MAX_POS 1024 /* kit numbers of a transfer are arguments */

enum cli_opt_kind {
    OPT_FLAG,   /* "--name" */
    OPT_VALUE,  /* "--name VALUE" or "--name=VALUE" */
    OPT_NUMBER, /* an OPT_VALUE that must be a decimal unsigned number */
};

/* Mistakes in options are all found before the database is opened or a password asked. */
struct cli_opt {
    const char *name;     /* without the leading "--" */
    enum cli_opt_kind kind;
    int required;         /* the command refuses to run without it */
    const char *excludes; /* another option of the command that may not be given with it */
};

/* What a command needs before it runs. */
enum cli_access {
    ACCESS_NONE,   /* no database (help, version) */
    ACCESS_CREATE, /* open, creating the file (init) */
    ACCESS_READ,   /* open read-only, no login (verification) */
    ACCESS_READ_AS, /* open read-only; log in when a user is given (--user or $CTM_USER) */
    ACCESS_LOGIN,  /* open and log in as the acting user */
};

struct cli_session;
struct cli_args;

typedef int (*cli_run_fn)(struct cli_session *s, const struct cli_args *a);

struct cli_command {
    const char *name;        /* "user add" */
    const char *synopsis;    /* what follows the name in a usage line */
    const char *summary;     /* one line for `ctm help` */
    const char *details;     /* further paragraphs for `ctm help COMMAND`, or NULL */
    const struct cli_opt *opts; /* terminated by { NULL } */
    const char *pos_name;    /* name of the positional argument(s) in messages, or NULL */
    int min_pos, max_pos;
    int numeric_pos;         /* the positional arguments must be decimal unsigned numbers */
    enum cli_access access;
    cli_run_fn run;
};

struct cli_args {
    const struct cli_command *cmd;
    const char *value[CLI_MAX_OPTS]; /* by index into cmd->opts; flags given are "" */
    const char *pos[CLI_MAX_POS];
    int npos;
    int help;                        /* --help or -h was given */
};

struct cli_session {
    const char *db_path;  /* --db or $CTM_DB */
    const char *user;     /* --user or $CTM_USER */
    const char *site_key; /* --site-key or $CTM_SITE_KEY: the site key file (default <db>.key) */
    ctm_db *db;           /* open once the command's access is granted */
};

/* args.c */
int cli_parse_args(struct cli_args *a, struct cli_session *s, const struct cli_command *cmd,
                   int argc, char **argv);
const char *cli_arg(const struct cli_args *a, const char *name);
int cli_flag(const struct cli_args *a, const char *name);
int cli_number(const char *text, uint64_t *out);

/* ctm.c: messages.  Each prints exactly one line on stderr and returns the exit status. */
int cli_usage(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail_ctm(int rc);

/* ctm.c: where the acting user's password comes from.  $CTM_PASSWORD is $CTM_USER's, so it is
 * never tried for another name given with --user (a mistaken `audit log --user tim` would
 * otherwise count failed logins against tim until his account locks): *env is "CTM_PASSWORD",
 * or NULL to ask on the terminal.  Without a terminal to ask on, returns CLI_USAGE after saying
 * that no login was tried; else CLI_OK. */
int cli_password_env(const struct cli_session *s, const struct cli_command *cmd,
                     const char **env);

/* password.c: passwords from the environment or a no-echo prompt on the terminal. */
#define CLI_SECRET_MAX 4096
struct cli_secret {
    char text[CLI_SECRET_MAX + 1];
};
int cli_secret_new(struct cli_secret *sec, const char *env, const char *fallback_env,
                   const char *who, const char *signing);
void cli_secret_wipe(struct cli_secret *sec);
/* One secret from $env when set, else asked once without echo with prompt (a re-entry). */
int cli_secret_ask(struct cli_secret *sec, const char *env, const char *prompt);
/* Log the acting user in for the command, naming what its e-signature means in the prompt. */
int cli_login(struct cli_session *s, const struct cli_args *a);

/* output.c: printing a ctm_query as a table, JSON or CSV. */
enum cli_format { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };
enum cli_format cli_format_of(const struct cli_args *a);
int cli_print_query(FILE *out, ctm_query *q, enum cli_format format);
/* The same, and *last gets the integer value of `column` on the last row printed (unchanged
 * without rows): what a command decides from the rows it prints, read with them, not again.
 * A query without that column prints nothing and fails. */
int cli_print_query_last(FILE *out, ctm_query *q, enum cli_format format, const char *column,
                         int64_t *last);
/* Print the result set a listing call made (rc its status), then free it; used as
 *   return cli_print_listing(ctm_kits(&q, db, &f), &q, a); */
int cli_print_listing(int rc, ctm_query **q, const struct cli_args *a);
int cli_query_column(const ctm_query *q, const char *name);
/* One row (q stepped onto it) as "name  value" lines or a JSON object, followed by the rows of
 * children (NULL: none) as a table under "child:" or as the object's member child. */
int cli_print_record(FILE *out, ctm_query *q, const char *child, ctm_query *children,
                     enum cli_format format);
/* As cli_print_record(), but the JSON keeps the row apart from its children, under the name
 * member: {"excursion": {...}, "kits": [...]}.  member NULL: as cli_print_record(). */
int cli_print_record_as(FILE *out, const char *member, ctm_query *q, const char *child,
                        ctm_query *children, enum cli_format format);
/* A table of cells the command composes, for a view that picks, joins or words a listing's
 * columns (its --json and --csv print the listing itself).  Columns whose cells all read as
 * numbers align right.  new: NULL when out of memory; add: CLI_OK or an exit status (a NULL
 * cell is empty); print frees the table. */
struct cli_table;
struct cli_table *cli_table_new(const char *const *names, int ncols);
int cli_table_add(struct cli_table *t, const char *const *cells);
int cli_table_print(FILE *out, struct cli_table *t);
void cli_table_free(struct cli_table *t);
void cli_put_display(FILE *out, const char *text);
/* Write text to the file at path (made or emptied); CLI_OK, or a failure naming the path and what
 * could not be written ("the report", "the manifest"...). */
int cli_write_file(const char *path, const char *text, const char *what);
/* text as a JSON string (bytes that are not UTF-8 as U+FFFD). */
void cli_put_json_string(FILE *out, const char *text);

/* cmd_trial.c: option values of the set-up and stock commands (temperatures with a dot,
 * "MIN..MAX" ranges, dates, counts), checked by cli_check_values() before the database is opened.
 * Each returns CLI_OK, or CLI_USAGE after printing the usage line. */
int cli_check_values(const struct cli_args *a);
int cli_opt_range(const struct cli_args *a, const char *opt, double *min, double *max);
int cli_opt_budget(const struct cli_args *a, const char *opt, int *minutes, double *max_c);
int cli_opt_int(const struct cli_args *a, const char *opt, int fallback, int *out);
/* cmd_stock.c */
int cli_check_expiry_extend(const struct cli_args *a, const char *opt);
/* cmd_excursion.c: the values of the excursion commands (an excursion's number, one decision,
 * a report's format, alarm minutes) and receive's --logger-* options given without --logger,
 * checked before the login as cli_check_values() does. */
int cli_check_excursion(const struct cli_args *a, const char *opt);
/* cmd_export.c: the export's format word, checked before the login. */
int cli_check_export(const struct cli_args *a, const char *opt);
/* cmd_temp.c: a logger file's options as `temp import` takes them, each option's name after
 * prefix ("" or "logger-": --logger-tz); the strings are a's. */
void cli_logger_options(const struct cli_args *a, const char *prefix,
                        ctm_temp_import_options *o);
/* The whole of a file (or standard input for "-"), bytes as they are, up to 256 MiB: the library
 * judges them.  what names the file in messages ("manifest").  *out is malloc'd (NULL when
 * empty). */
int cli_read_file(const char *what, const char *path, char **out, size_t *len);

/* The commands, by file. */
int cmd_init(struct cli_session *s, const struct cli_args *a);
int cmd_version(struct cli_session *s, const struct cli_args *a);
int cmd_migrate(struct cli_session *s, const struct cli_args *a);
int cmd_scan(struct cli_session *s, const struct cli_args *a);
/* "<GS>" and "\\x1d" typed for the GS separator become the byte 0x1D, in place (cmd_scan.c). */
void cli_unescape_gs(char *text);
/* Kits named by number or by a scan of the pack (a scan's "<GS>" made the byte): first, when
 * not NULL, then the arguments from..npos-1, as malloc'd copies in a NULL-terminated *out (free
 * with cli_kit_args_free); their number in *n when n is not NULL.  CLI_OK or an exit status. */
int cli_kit_args(const struct cli_args *a, const char *first, int from, char ***out, size_t *n);
void cli_kit_args_free(char **kits);
int cmd_user_add(struct cli_session *s, const struct cli_args *a);
int cmd_user_list(struct cli_session *s, const struct cli_args *a);
int cmd_user_disable(struct cli_session *s, const struct cli_args *a);
int cmd_user_enable(struct cli_session *s, const struct cli_args *a);
int cmd_user_role(struct cli_session *s, const struct cli_args *a);
int cmd_user_passwd(struct cli_session *s, const struct cli_args *a);
int cmd_audit_log(struct cli_session *s, const struct cli_args *a);
int cmd_audit_note(struct cli_session *s, const struct cli_args *a);
int cmd_audit_verify(struct cli_session *s, const struct cli_args *a);
int cmd_audit_checkpoint(struct cli_session *s, const struct cli_args *a);
int cmd_audit_pubkey(struct cli_session *s, const struct cli_args *a);
int cmd_audit_prove(struct cli_session *s, const struct cli_args *a);
int cmd_audit_witness_key(struct cli_session *s, const struct cli_args *a);
int cmd_audit_witness(struct cli_session *s, const struct cli_args *a);
int cmd_trial_add(struct cli_session *s, const struct cli_args *a);
int cmd_trial_list(struct cli_session *s, const struct cli_args *a);
int cmd_kittype_add(struct cli_session *s, const struct cli_args *a);
int cmd_kittype_list(struct cli_session *s, const struct cli_args *a);
int cmd_location_add(struct cli_session *s, const struct cli_args *a);
int cmd_location_list(struct cli_session *s, const struct cli_args *a);
int cmd_receive(struct cli_session *s, const struct cli_args *a);
int cmd_receive_scan(struct cli_session *s, const struct cli_args *a);
int cmd_receive_confirm(struct cli_session *s, const struct cli_args *a);
int cmd_receive_discrepancies(struct cli_session *s, const struct cli_args *a);
int cmd_shipments(struct cli_session *s, const struct cli_args *a);
int cmd_receive_bulk(struct cli_session *s, const struct cli_args *a);
int cmd_lots(struct cli_session *s, const struct cli_args *a);
int cmd_kits(struct cli_session *s, const struct cli_args *a);
int cmd_kit_status(struct cli_session *s, const struct cli_args *a);
int cmd_kit_history(struct cli_session *s, const struct cli_args *a);
int cmd_kit_show(struct cli_session *s, const struct cli_args *a);
int cmd_kit_exposure(struct cli_session *s, const struct cli_args *a);
int cmd_receive_status(struct cli_session *s, const struct cli_args *a);
int cmd_receive_unscan(struct cli_session *s, const struct cli_args *a);
int cmd_receive_void(struct cli_session *s, const struct cli_args *a);
int cmd_expiry_extend(struct cli_session *s, const struct cli_args *a);
int cmd_transfer(struct cli_session *s, const struct cli_args *a);
int cmd_transfer_out(struct cli_session *s, const struct cli_args *a);
int cmd_random_generate(struct cli_session *s, const struct cli_args *a);
int cmd_random_import(struct cli_session *s, const struct cli_args *a);
int cmd_random_minimization(struct cli_session *s, const struct cli_args *a);
int cmd_random_show(struct cli_session *s, const struct cli_args *a);
int cmd_subject_add(struct cli_session *s, const struct cli_args *a);
int cmd_subject_strata(struct cli_session *s, const struct cli_args *a);
int cmd_subject_list(struct cli_session *s, const struct cli_args *a);
int cmd_subject_show(struct cli_session *s, const struct cli_args *a);
int cmd_subject_withdraw(struct cli_session *s, const struct cli_args *a);
int cmd_subject_complete(struct cli_session *s, const struct cli_args *a);
int cmd_randomize(struct cli_session *s, const struct cli_args *a);
/* cmd_temp.c: storage temperatures */
int cmd_temp_import(struct cli_session *s, const struct cli_args *a);
int cmd_temp_list(struct cli_session *s, const struct cli_args *a);
int cmd_temp_files(struct cli_session *s, const struct cli_args *a);
int cmd_temp_mkt(struct cli_session *s, const struct cli_args *a);
int cmd_receive_logger(struct cli_session *s, const struct cli_args *a);
/* cmd_excursion.c: excursions and the sponsor's decisions */
int cmd_location_alarm(struct cli_session *s, const struct cli_args *a);
int cmd_excursions(struct cli_session *s, const struct cli_args *a);
/* cmd_compliance.c */
int cmd_return(struct cli_session *s, const struct cli_args *a);
int cmd_lost(struct cli_session *s, const struct cli_args *a);
int cmd_compliance(struct cli_session *s, const struct cli_args *a);
int cmd_compliance_limits(struct cli_session *s, const struct cli_args *a);
/* cmd_destroy.c: destruction and return to the sponsor */
int cmd_destroy(struct cli_session *s, const struct cli_args *a);
int cmd_destructions(struct cli_session *s, const struct cli_args *a);
int cmd_shipback(struct cli_session *s, const struct cli_args *a);
int cmd_shipback_manifest(struct cli_session *s, const struct cli_args *a);
int cmd_shipback_dispatch(struct cli_session *s, const struct cli_args *a);
int cmd_shipback_cancel(struct cli_session *s, const struct cli_args *a);
int cmd_shipbacks(struct cli_session *s, const struct cli_args *a);
/* cmd_inspect.c: supply forecast and self-inspection */
int cmd_forecast(struct cli_session *s, const struct cli_args *a);
int cmd_self_inspection(struct cli_session *s, const struct cli_args *a);
int cmd_excursion_show(struct cli_session *s, const struct cli_args *a);
int cmd_excursion_decide(struct cli_session *s, const struct cli_args *a);
int cmd_excursion_report(struct cli_session *s, const struct cli_args *a);
/* cmd_reconcile.c: reconciliation, the DARF log, sign-offs */
int cmd_reconcile(struct cli_session *s, const struct cli_args *a);
int cmd_darf(struct cli_session *s, const struct cli_args *a);
int cmd_signoff(struct cli_session *s, const struct cli_args *a);
int cmd_signoffs(struct cli_session *s, const struct cli_args *a);
int cmd_export(struct cli_session *s, const struct cli_args *a);
/* cmd_visits.c: visits and dosing */
int cmd_visit_add(struct cli_session *s, const struct cli_args *a);
int cmd_visit_list(struct cli_session *s, const struct cli_args *a);
int cmd_dose_levels(struct cli_session *s, const struct cli_args *a);
int cmd_subject_hold(struct cli_session *s, const struct cli_args *a);
int cmd_subject_resume(struct cli_session *s, const struct cli_args *a);
int cmd_subject_visits(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_assign(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_confirm(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_cancel(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_replace(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_reverse(struct cli_session *s, const struct cli_args *a);
int cmd_dispense_record(struct cli_session *s, const struct cli_args *a);
int cmd_dispensations(struct cli_session *s, const struct cli_args *a);
int cmd_codebreak(struct cli_session *s, const struct cli_args *a);
/* cmd_report.c: reports; the report's name and options checked before the login */
int cli_check_report(const struct cli_args *a, const char *opt);
int cmd_report(struct cli_session *s, const struct cli_args *a);

#endif /* CTM_CLI_H */
