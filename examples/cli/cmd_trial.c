/*
 * cmd_trial.c - `ctm trial ...`, `ctm kittype ...` and `ctm location ...`: setting up trials, their
 * products and the site's storage places; and the checks of the option values (temperatures,
 * dates, counts) that the set-up and stock commands share.
 *
 * Those checks run before the database is opened or a password asked (cli_check_values(), called
 * by ctm.c), so that a typing mistake costs no login; the run functions parse the same text
 * again, knowing it is good.
 */
#include "cli.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- temperatures: decimals with a dot, "2..8", "-25..-15" ---- */

#define MAX_DECIMALS 3 /* the library keeps temperatures to the milli-degree */

/* NULL when text is a temperature in degrees Celsius, else why it is not one. */
static const char *parse_celsius(const char *text, double *out)
{
    const char *p = text;
    size_t digits = 0, decimals = 0;
    if (*p == '-' || *p == '+')
        p++;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == ',')
        return "uses a decimal comma; write temperatures with a dot (2.5, not 2,5)";
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, decimals++;
        if (decimals == 0)
            return "expected digits after the decimal point";
    }
    if (digits == 0)
        return "expected a temperature in degrees Celsius such as 8, -20 or 2.5";
    if (*p == ',')
        return "uses a comma; write temperatures with a dot (2.5, not 2,5)";
    if (*p != '\0')
        return "expected a temperature in degrees Celsius such as 8, -20 or 2.5";
    if (decimals > MAX_DECIMALS)
        return "at most 3 decimals (temperatures are kept to the milli-degree)";
    if (digits > 6)
        return "out of range";
    *out = strtod(text, NULL); /* the grammar above is all strtod sees; ctm never sets a locale */
    return NULL;
}

/* NULL when text is "MIN..MAX", else why it is not. */
static const char *parse_range(const char *text, double *min, double *max)
{
    char low[32];
    const char *dots = strstr(text, "..");
    if (!dots)
        return strchr(text, ',') && !strchr(text, '.')
                   ? "expected MIN..MAX such as 2..8 (decimals take a dot, not a comma)"
                   : "expected MIN..MAX such as 2..8 or -25..-15";
    size_t n = (size_t)(dots - text);
    if (n == 0 || n >= sizeof low)
        return "expected MIN..MAX such as 2..8 or -25..-15";
    memcpy(low, text, n);
    low[n] = '\0';
    const char *why = parse_celsius(low, min);
    if (!why)
        why = parse_celsius(dots + 2, max);
    return why;
}

/* NULL when text is "MINUTES@MAXC" ("1440@15"), else why it is not. */
static const char *parse_budget(const char *text, int *minutes, double *max_c)
{
    char count[24];
    uint64_t n = 0;
    const char *at = strchr(text, '@');
    size_t len = at ? (size_t)(at - text) : 0;
    if (!at || len == 0 || len >= sizeof count)
        return "expected MINUTES@MAXC such as 1440@15 (24 h cumulative, at most 15 C)";
    memcpy(count, text, len);
    count[len] = '\0';
    if (cli_number(count, &n) != 0 || n > INT_MAX)
        return "expected a number of minutes before the @, such as 1440@15";
    *minutes = (int)n;
    return parse_celsius(at + 1, max_c);
}

/* ---- dates: YYYY-MM-DD, a real day ---- */

static int days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static const char *check_date_text(const char *text)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen(text) != sizeof shape - 1)
        return "expected a date as YYYY-MM-DD";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)text[i]) : text[i] != shape[i])
            return "expected a date as YYYY-MM-DD";
    }
    int year = atoi(text), month = atoi(text + 5), day = atoi(text + 8);
    if (year < 1900 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return "no such day";
    return NULL;
}

/* ---- what the commands call ---- */

int cli_opt_range(const struct cli_args *a, const char *opt, double *min, double *max)
{
    const char *text = cli_arg(a, opt);
    const char *why = text ? parse_range(text, min, max) : "missing";
    return why ? cli_usage(a->cmd, "--%s '%s': %s", opt, text ? text : "", why) : CLI_OK;
}

int cli_opt_budget(const struct cli_args *a, const char *opt, int *minutes, double *max_c)
{
    const char *text = cli_arg(a, opt);
    const char *why = text ? parse_budget(text, minutes, max_c) : "missing";
    return why ? cli_usage(a->cmd, "--%s '%s': %s", opt, text ? text : "", why) : CLI_OK;
}

/* An OPT_NUMBER option as an int, or fallback when it was not given. */
int cli_opt_int(const struct cli_args *a, const char *opt, int fallback, int *out)
{
    const char *text = cli_arg(a, opt);
    uint64_t n = 0;
    *out = fallback;
    if (!text)
        return CLI_OK;
    if (cli_number(text, &n) != 0 || n > INT_MAX)
        return cli_usage(a->cmd, "--%s: expected a number up to %d, got '%s'", opt, INT_MAX, text);
    *out = (int)n;
    return CLI_OK;
}

static int check_date(const struct cli_args *a, const char *opt)
{
    const char *text = cli_arg(a, opt);
    const char *why = text ? check_date_text(text) : NULL;
    return why ? cli_usage(a->cmd, "--%s '%s': %s", opt, text, why) : CLI_OK;
}

/* A day, or a day and a time ("YYYY-MM-DDTHH:MM[:SS]Z"): the day checked here, the time by
 * libctm, which names the field. */
static int check_date_or_time(const struct cli_args *a, const char *opt)
{
    const char *text = cli_arg(a, opt);
    if (text == NULL || strlen(text) <= 10 || (text[10] != 'T' && text[10] != ' '))
        return check_date(a, opt);
    char day[11];
    memcpy(day, text, 10);
    day[10] = '\0';
    const char *why = check_date_text(day);
    return why ? cli_usage(a->cmd, "--%s '%s': %s", opt, text, why) : CLI_OK;
}

static int check_range(const struct cli_args *a, const char *opt)
{
    double min, max;
    return cli_arg(a, opt) ? cli_opt_range(a, opt, &min, &max) : CLI_OK;
}

static int check_budget(const struct cli_args *a, const char *opt)
{
    int minutes;
    double max_c;
    return cli_arg(a, opt) ? cli_opt_budget(a, opt, &minutes, &max_c) : CLI_OK;
}

static int check_int(const struct cli_args *a, const char *opt)
{
    int ignored;
    return cli_opt_int(a, opt, 0, &ignored);
}

/* The kit statuses of ctm.h; a mistyped filter would otherwise list nothing, silently. */
static const char *const kit_statuses[] = {
    "in_transit", "received", "available", "dispensed", "returned", "pending_destruction",
    "destroyed", "returned_to_sponsor", "quarantined", "damaged", "missing", "lost_by_subject",
    "expired", "not_dispensed", NULL
};

static int check_status_text(const struct cli_args *a, const char *what, const char *text)
{
    for (int i = 0; kit_statuses[i]; i++) {
        if (strcmp(kit_statuses[i], text) == 0)
            return CLI_OK;
    }
    return cli_usage(a->cmd, "%s: no kit status '%s' (one of available, quarantined, damaged, "
                     "missing, expired, pending_destruction, ...; see 'ctm help kits')", what, text);
}

static int check_status(const struct cli_args *a, const char *opt)
{
    const char *text = cli_arg(a, opt);
    return text ? check_status_text(a, "--status", text) : CLI_OK;
}

/* `kit status TRIAL KIT STATUS`: the third argument. */
static int check_status_pos(const struct cli_args *a, const char *opt)
{
    (void)opt;
    return a->npos >= 3 ? check_status_text(a, "STATUS", a->pos[2]) : CLI_OK;
}

struct value_rule {
    const char *command;
    const char *option;
    int (*check)(const struct cli_args *a, const char *opt);
};

static const struct value_rule value_rules[] = {
    { "kittype add", "storage", check_range },
    { "kittype add", "budget", check_budget },
    { "kittype add", "units", check_int },
    { "kittype add", "dnd-days", check_int },
    { "kittype add", "dispensing-days", check_int },
    { "location add", "range", check_range },
    { "receive", "date", check_date_or_time },
    { "receive", NULL, cli_check_excursion },
    { "kits", "status", check_status },
    { "kits", "expiring", check_int },
    { "kit status", NULL, check_status_pos },
    { "expiry extend", "to", check_date },
    { "expiry extend", NULL, cli_check_expiry_extend },
    { "visit add", "day", check_int },
    { "dose levels", "start", check_int },
    { "dose levels", "min-interval", check_int },
    { "dose levels", "max-titrations", check_int },
    { "location alarm", NULL, cli_check_excursion },
    { "excursion decide", NULL, cli_check_excursion },
    { "excursion report", NULL, cli_check_excursion },
    { "report", "as-of", check_date },
    { "report", "from", check_date },
    { "report", "to", check_date },
    { "report", NULL, cli_check_report },
    { "export", NULL, cli_check_export },
    { "export", "from", check_date },
    { "export", "to", check_date },
};

/* Check the option values of the set-up and stock commands; CLI_USAGE after the usage line. */
int cli_check_values(const struct cli_args *a)
{
    for (size_t i = 0; i < sizeof value_rules / sizeof value_rules[0]; i++) {
        const struct value_rule *r = &value_rules[i];
        if (strcmp(r->command, a->cmd->name) != 0)
            continue;
        int rc = r->check(a, r->option);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* ---- the commands ---- */


int cmd_trial_add(struct cli_session *s, const struct cli_args *a)
{
    const char *code = a->pos[0];
    int blinded = cli_flag(a, "blinded");
    int rc = ctm_trial_add(s->db, code, cli_arg(a, "title"), cli_arg(a, "sponsor"), blinded,
                           cli_arg(a, "arms"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Added trial %s (%s, arms %s).\n", code, blinded ? "blinded" : "open-label",
           cli_arg(a, "arms"));
    return CLI_OK;
}

int cmd_trial_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_trial_list(&q, s->db), &q, a);
}

int cmd_kittype_add(struct cli_session *s, const struct cli_args *a)
{
    ctm_kittype_options opts = CTM_KITTYPE_OPTIONS_INIT;
    double min = 0, max = 0;
    int units = 0, dnd_days = 0;
    int rc = cli_opt_range(a, "storage", &min, &max);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "units", 0, &units);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "dnd-days", 0, &dnd_days);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "dispensing-days", 0, &opts.dispensing_days);
    if (rc == CLI_OK && cli_arg(a, "budget"))
        rc = cli_opt_budget(a, "budget", &opts.excursion_budget_minutes, &opts.excursion_max_c);
    if (rc != CLI_OK)
        return rc;
    opts.dose_form = cli_arg(a, "dose-form");
    opts.strength = cli_arg(a, "strength");
    rc = ctm_kittype_add(s->db, a->pos[0], a->pos[1], cli_arg(a, "name"), units, min, max,
                         dnd_days, &opts);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Added kit type %s to trial %s: %d units per kit, stored at %s C.\n", a->pos[1],
           a->pos[0], units, cli_arg(a, "storage"));
    return CLI_OK;
}

int cmd_kittype_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_kittype_list(&q, s->db, a->npos > 0 ? a->pos[0] : NULL), &q, a);
}

int cmd_location_add(struct cli_session *s, const struct cli_args *a)
{
    const char *kind = cli_arg(a, "kind");
    double min = 0, max = 0;
    int rc = cli_opt_range(a, "range", &min, &max);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_location_add(s->db, a->pos[0], kind ? kind : "storage", min, max);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Added location %s (%s, %s C).\n", a->pos[0], kind ? kind : "storage",
           cli_arg(a, "range"));
    return CLI_OK;
}

int cmd_location_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_location_list(&q, s->db), &q, a);
}
