/*
 * password.c - passwords from the environment or from a no-echo prompt on the terminal, and the
 * login every command that changes or lists records starts with.
 *
 * Passwords are never printed.  They are read byte by byte with read(2) so that no copy stays in
 * a stdio buffer, and every buffer that held one is wiped before it is released.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/*
 * The terminal settings to restore if a signal arrives while echo is off.  A signal handler can
 * reach nothing else, which is why this one piece of state is file-wide.
 */
static struct termios saved_termios;
static volatile sig_atomic_t echo_is_off;

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define N_RESTORE_SIGNALS (sizeof restore_signals / sizeof restore_signals[0])

static void restore_and_reraise(int sig)
{
    if (echo_is_off)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void cli_secret_wipe(struct cli_secret *sec)
{
    wipe(sec->text, sizeof sec->text);
}

/* Read one line from the terminal into buf (without the newline).  -1 on EOF, error or overflow. */
static int read_line(char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t got = read(STDIN_FILENO, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (n == 0)
                return -1;
            break;
        }
        if (c == '\n' || c == '\r')
            break;
        if (n + 1 >= size)
            return -1;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

static int prompt_no_echo(char *buf, size_t size, const char *prompt)
{
    struct sigaction act, old[N_RESTORE_SIGNALS];
    struct termios quiet;

    if (tcgetattr(STDIN_FILENO, &saved_termios) != 0)
        return -1;
    memset(&act, 0, sizeof act);
    act.sa_handler = restore_and_reraise;
    for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
        sigaction(restore_signals[i], &act, &old[i]);
    quiet = saved_termios;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo goes off before the prompt shows, so nothing typed after the prompt is echoed;
     * a terminal that cannot stop echoing gets no password typed into it. */
    int rc = -1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) {
        echo_is_off = 1;
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        rc = read_line(buf, size);
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        echo_is_off = 0;
    }
    for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
        sigaction(restore_signals[i], &old[i], NULL);
    return rc;
}

static int from_env(struct cli_secret *sec, const char *env)
{
    const char *value = env ? getenv(env) : NULL;
    if (!value)
        return 0;
    size_t len = strlen(value);
    if (len == 0) {
        /* a mistake in the script, not a password to try (and count as a failed login) */
        fprintf(stderr, "ctm: $%s is set but empty: give the password in it, or unset it to be "
                        "asked on the terminal\n", env);
        return -2;
    }
    if (len > CLI_SECRET_MAX) {
        cli_fail("$%s: longer than %d bytes", env, CLI_SECRET_MAX);
        return -1;
    }
    memcpy(sec->text, value, len + 1);
    return 1;
}

/* What from_env() found, as an exit status: CLI_OK, or why there is no password. */
static int env_status(int got)
{
    return got > 0 ? CLI_OK : got == -2 ? CLI_USAGE : CLI_FAIL;
}

static int need_terminal(const char *env)
{
    if (isatty(STDIN_FILENO))
        return CLI_OK;
    return cli_fail("no password: set $%s or run ctm on a terminal to be asked",
                    env ? env : "CTM_PASSWORD");
}

/* The password from $env, else asked once on the terminal with this prompt. */
static int secret_get(struct cli_secret *sec, const char *env, const char *prompt)
{
    int got = from_env(sec, env);
    if (got != 0)
        return env_status(got);
    if (need_terminal(env))
        return CLI_FAIL;
    if (prompt_no_echo(sec->text, sizeof sec->text, prompt) != 0) {
        cli_secret_wipe(sec);
        return cli_fail("no password read from the terminal");
    }
    return CLI_OK;
}

/*
 * A new password for `who`: $env, else $fallback_env (may be NULL), else asked twice on the
 * terminal; both answers must match.  signing names the e-signature the new password makes at
 * once (ctm init's "site initialised"), NULL when none.
 */
int cli_secret_new(struct cli_secret *sec, const char *env, const char *fallback_env,
                   const char *who, const char *signing)
{
    char prompt[256];
    struct cli_secret again;
    int got = from_env(sec, env);
    if (got == 0)
        got = from_env(sec, fallback_env);
    if (got != 0)
        return env_status(got);
    if (need_terminal(env))
        return CLI_FAIL;
    if (signing != NULL)
        snprintf(prompt, sizeof prompt, "Signing: %s. New password for %s: ", signing, who);
    else
        snprintf(prompt, sizeof prompt, "New password for %s: ", who);
    int rc = prompt_no_echo(sec->text, sizeof sec->text, prompt);
    if (rc == 0)
        rc = prompt_no_echo(again.text, sizeof again.text, "Repeat the new password: ");
    int same = rc == 0 && strcmp(sec->text, again.text) == 0;
    cli_secret_wipe(&again);
    if (same)
        return CLI_OK;
    cli_secret_wipe(sec);
    if (rc != 0)
        return cli_fail("no password read from the terminal");
    return cli_fail("the two passwords do not match; nothing was changed");
}

/* ---- logging in ---- */

/*
 * The meaning of the e-signature the command makes, or NULL when it signs nothing.  The password
 * typed at the login unseals the key that signs, so its prompt says what is being signed: the
 * typing is then knowingly a signature.  A command that signs needs its line here.
 */
static const char *signing_meaning(const struct cli_args *a, const char *me)
{
    static const struct {
        const char *command, *meaning;
    } signs[] = {
        {"user add", "authorized account change"},   {"user disable", "authorized account change"},
        {"user enable", "authorized account change"}, {"user role", "authorized account change"},
        {"receive confirm", "receipt confirmed"},     {"receive bulk", "receipt confirmed"},
        {"expiry extend", "expiry extended"},         {"receive void", "shipment voided"},
        {"dispense confirm", "dispensed"},            {"dispense record", "dispensed"},
        {"dispense reverse", "dispensing reversed"},  {"codebreak", "emergency unblinding"},
        {"destroy", "destroyed"},                     {"shipback dispatch", "returned to sponsor"},
        {"signoff", "reconciliation reviewed"},
    };
    const char *name = a->cmd->name;
    if (strcmp(name, "user passwd") == 0)
        return a->npos > 0 && strcmp(a->pos[0], me) != 0 ? "authorized account change"
                                                          : "password changed";
    if (strcmp(name, "audit note") == 0)
        return cli_arg(a, "sign");
    if (strcmp(name, "excursion decide") == 0)
        return cli_flag(a, "reject") ? "excursion rejected" : "excursion released";
    for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++)
        if (strcmp(name, signs[i].command) == 0)
            return signs[i].meaning;
    return NULL;
}

int cli_secret_ask(struct cli_secret *sec, const char *env, const char *prompt)
{
    return secret_get(sec, env, prompt);
}

/* The command is the user's own password change: all an account with a reset password may do. */
static int is_own_passwd(const struct cli_args *a, const char *me)
{
    return strcmp(a->cmd->name, "user passwd") == 0 && (a->npos == 0 || strcmp(a->pos[0], me) == 0);
}

/*
 * Log the acting user in on s->db for the command a: the password from $CTM_PASSWORD, else
 * asked on the terminal ("Signing: receipt confirmed. Password for bob: " when the command
 * signs).  Returns CLI_OK, or an exit status after printing the reason.
 */
int cli_login(struct cli_session *s, const struct cli_args *a)
{
    struct cli_secret pw;
    char prompt[300];
    if (!s->user || !s->user[0])
        return cli_usage(a->cmd, "no user: give --user NAME or set CTM_USER");
    const char *meaning = signing_meaning(a, s->user);
    if (meaning != NULL)
        snprintf(prompt, sizeof prompt, "Signing: %s. Password for %s: ", meaning, s->user);
    else
        snprintf(prompt, sizeof prompt, "Password for %s: ", s->user);
    const char *env = NULL;
    int rc = cli_password_env(s, a->cmd, &env);
    if (rc != CLI_OK)
        return rc;
    if (meaning != NULL && (env == NULL || !getenv(env)) && !isatty(STDIN_FILENO))
        return cli_fail("no password to sign \"%s\": set $CTM_PASSWORD or run ctm on a terminal "
                        "to be asked", meaning);
    rc = secret_get(&pw, env, prompt);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_login(s->db, s->user, pw.text);
    cli_secret_wipe(&pw);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (ctm_must_change_password(s->db) && !is_own_passwd(a, s->user))
        return cli_fail("an administrator reset the password of %s: choose your own first with "
                        "'ctm --user %s user passwd'; nothing else is allowed until then",
                        s->user, s->user);
    return CLI_OK;
}
