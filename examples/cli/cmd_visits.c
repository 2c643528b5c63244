/*
 * cmd_visits.c - `ctm visit ...`, `ctm dose levels`, `ctm subject hold|resume|visits`: a trial's
 * visit schedule and dose titration, and a subject's dose hold and visit dates.  The library
 * checks every value (the window, the kits, the levels) and names what is wrong.
 */
#include "cli.h"

#include <string.h>

int cmd_visit_add(struct cli_session *s, const struct cli_args *a)
{
    int day = 0;
    int rc = cli_opt_int(a, "day", 0, &day);
    if (rc != CLI_OK)
        return rc;
    const char *anchor = cli_arg(a, "from");
    rc = ctm_visit_add(s->db, a->pos[0], a->pos[1], day, anchor, cli_arg(a, "window"),
                       cli_arg(a, "kits"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Visit %s added to the schedule of trial %s: day %d after %s, window %s, kits %s.\n",
           a->pos[1], a->pos[0], day,
           anchor && strcmp(anchor, "previous") == 0 ? "the previous visit" : "randomization",
           cli_arg(a, "window"), cli_arg(a, "kits"));
    return CLI_OK;
}

int cmd_visit_list(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_visit_list(&q, s->db, a->pos[0]), &q, a);
}

int cmd_dose_levels(struct cli_session *s, const struct cli_args *a)
{
    int start = 0, interval = 0, max = 0;
    int rc = cli_opt_int(a, "start", 0, &start);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "min-interval", 0, &interval);
    if (rc == CLI_OK)
        rc = cli_opt_int(a, "max-titrations", 0, &max);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_dose_levels(s->db, a->pos[0], cli_arg(a, "levels"), start, interval, max);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Trial %s: dose levels %s (lowest first), start at level %d, at least %d days between "
           "changes, at most %d changes.\n",
           a->pos[0], cli_arg(a, "levels"), start, interval, max);
    return CLI_OK;
}

int cmd_subject_hold(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_hold(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s: dispensing on hold.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_subject_resume(struct cli_session *s, const struct cli_args *a)
{
    int rc = ctm_subject_resume(s->db, a->pos[0], a->pos[1], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Subject %s of trial %s: dispensing resumed.\n", a->pos[1], a->pos[0]);
    return CLI_OK;
}

int cmd_subject_visits(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_subject_visits(&q, s->db, a->pos[0], a->pos[1]), &q, a);
}
