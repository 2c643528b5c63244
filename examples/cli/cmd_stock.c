/*
 * cmd_stock.c - receipt of shipments (`ctm receive ...`, `ctm shipments`) and the stock of kits
 * (`ctm kits`, `ctm kit ...`, `ctm expiry extend`, `ctm transfer ...`).  `ctm receive logger`
 * is an import of a logger file, in cmd_temp.c.
 *
 * Nothing here prints an arm: the library blinds what blinded users may not see, and the messages
 * written here name kits, lots and counts only.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */


static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* What the shipment list says about one shipment. */
struct shipment_info {
    char trial[80];
    int64_t kits;
    int64_t checked;
};

/* Look up incoming shipment number (an outgoing one may have the same number); CLI_OK, or an
 * exit status after printing why. */
static int find_shipment(ctm_db *db, const char *number, struct shipment_info *info)
{
    ctm_query *q = NULL;
    int found = 0;
    int rc = ctm_shipment_list(&q, db, NULL);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    int col_number = cli_query_column(q, "number");
    int col_direction = cli_query_column(q, "direction");
    int col_trial = cli_query_column(q, "trial");
    int col_kits = cli_query_column(q, "kits");
    int col_checked = cli_query_column(q, "checked");
    memset(info, 0, sizeof *info);
    while (col_number >= 0 && !found && (rc = ctm_query_next(q)) == CTM_ROW) {
        const char *n = ctm_query_text(q, col_number);
        const char *direction = col_direction >= 0 ? ctm_query_text(q, col_direction) : NULL;
        const char *trial = col_trial >= 0 ? ctm_query_text(q, col_trial) : NULL;
        if (!n || strcmp(n, number) != 0 || (direction && strcmp(direction, "in") != 0))
            continue;
        found = 1;
        snprintf(info->trial, sizeof info->trial, "%s", trial ? trial : "");
        info->kits = col_kits >= 0 ? ctm_query_int64(q, col_kits) : -1;
        info->checked = col_checked >= 0 ? ctm_query_int64(q, col_checked) : -1;
    }
    /* Report before ctm_query_free(), which may replace the library's last message. */
    if (found)
        rc = CLI_OK;
    else if (col_number < 0)
        rc = cli_fail("the shipment list has no number column");
    else if (rc != CTM_DONE)
        rc = cli_fail_ctm(rc);
    else
        rc = cli_fail("shipment %s: no such shipment", number);
    ctm_query_free(q);
    return rc;
}

/* ---- receive: register a shipment from its manifest ---- */

#define MANIFEST_LIMIT ((size_t)256 << 20)

int cli_read_file(const char *what, const char *path, char **out, size_t *len)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    const char *name = from_stdin ? "standard input" : path;
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int rc = CLI_OK;
    *out = NULL;
    *len = 0;
    if (!f)
        return cli_fail("%s %s: %s", what, path, strerror(errno));
    for (;;) {
        if (n == cap) {
            size_t grown = cap ? cap * 2 : 64 * 1024;
            char *bigger = cap >= MANIFEST_LIMIT ? NULL : realloc(buf, grown + 1);
            if (!bigger) {
                rc = cli_fail("%s %s: %s", what, name,
                              cap >= MANIFEST_LIMIT ? "larger than 256 MiB" : "out of memory");
                break;
            }
            buf = bigger;
            cap = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = cli_fail("%s %s: cannot read it: %s", what, name, strerror(errno));
            break;
        }
    }
    if (!from_stdin)
        fclose(f);
    if (rc != CLI_OK) {
        free(buf);
        return rc;
    }
    if (buf)
        buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_OK;
}

/* How many excursions the shipment's logger showed (the kits are quarantined when the
 * receipt is confirmed); -1 after printing a failure. */
static int64_t shipment_excursions(ctm_db *db, const char *shipment)
{
    ctm_query *q = NULL;
    int64_t n = 0;
    int rc = ctm_excursions(&q, db, NULL, 0);
    if (rc != CTM_OK) {
        cli_fail_ctm(rc);
        return -1;
    }
    int col = cli_query_column(q, "shipment");
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *number = col >= 0 ? ctm_query_text(q, col) : NULL;
        if (number && strcmp(number, shipment) == 0)
            n++;
    }
    if (rc != CTM_DONE) {
        cli_fail_ctm(rc);
        n = -1;
    }
    ctm_query_free(q);
    return n;
}

int cmd_receive(struct cli_session *s, const struct cli_args *a)
{
    ctm_receive_options opts = CTM_RECEIVE_OPTIONS_INIT;
    ctm_temp_import_options logger = CTM_TEMP_IMPORT_OPTIONS_INIT;
    struct shipment_info info;
    const char *shipment = cli_arg(a, "shipment");
    const char *location = cli_arg(a, "location");
    char *manifest = NULL;
    size_t len = 0;
    int rc = cli_read_file("manifest", cli_arg(a, "manifest"), &manifest, &len);
    if (rc != CLI_OK)
        return rc;
    opts.origin = cli_arg(a, "origin");
    opts.date_received = cli_arg(a, "date");
    opts.excursion = cli_flag(a, "excursion");
    opts.logger = cli_arg(a, "logger");
    cli_logger_options(a, "logger-", &logger);
    opts.logger_options = &logger;
    rc = ctm_receive(s->db, a->pos[0], shipment, manifest ? manifest : "", len, location, &opts);
    free(manifest);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = find_shipment(s->db, shipment, &info);
    if (rc != CLI_OK)
        return rc;
    printf("Received shipment %s: %" PRId64 " kit%s at %s, awaiting checks and confirmation\n",
           shipment, info.kits, plural((uint64_t)info.kits), location);
    if (opts.excursion)
        printf("The logger showed an excursion: the kits will be quarantined on confirmation.\n");
    if (!opts.logger)
        return CLI_OK;
    int64_t excursions = shipment_excursions(s->db, shipment);
    if (excursions < 0)
        return CLI_FAIL;
    if (excursions == 0)
        printf("Logger file %s imported: no time out of range in transit.\n", opts.logger);
    else
        printf("Logger file %s imported: %" PRId64 " excursion%s in transit, the kits will be "
               "quarantined on confirmation: see 'ctm excursions --open'.\n", opts.logger,
               excursions, plural((uint64_t)excursions));
    return CLI_OK;
}

int cmd_receive_bulk(struct cli_session *s, const struct cli_args *a)
{
    ctm_receive_options opts = CTM_RECEIVE_OPTIONS_INIT;
    int units = 0;
    int rc = cli_opt_int(a, "units", 0, &units);
    if (rc != CLI_OK)
        return rc;
    opts.origin = cli_arg(a, "origin");
    opts.date_received = cli_arg(a, "date");
    rc = ctm_bulk_receive(s->db, a->pos[0], cli_arg(a, "shipment"), cli_arg(a, "kittype"),
                          cli_arg(a, "lot"), cli_arg(a, "expiry"), units, cli_arg(a, "location"),
                          &opts);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Received shipment %s: %d units of lot %s at %s, e-signed by %s.\n",
           cli_arg(a, "shipment"), units, cli_arg(a, "lot"), cli_arg(a, "location"),
           ctm_current_user(s->db));
    return CLI_OK;
}

int cmd_lots(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_lot_list(&q, s->db, a->npos > 0 ? a->pos[0] : NULL), &q, a);
}

/* ---- receive scan: check kits one line at a time ---- */

#define SCAN_BATCH 200      /* scans per transaction when reading a file or a pipe */
#define SCAN_LINE_MAX 4096  /* no barcode comes near this */

struct scan_session {
    ctm_db *db;
    const char *shipment;
    int damaged;
    int live_line;     /* stdout is a terminal and stdin is not: one line updated in place */
    int line_showing;  /* the updated line is on the screen, not ended */
    size_t batch_size; /* scans per transaction */
    size_t in_batch;   /* scans in the open transaction */
    size_t batch_first_line;
    size_t line;       /* input line number */
    uint64_t outcomes[4], unreadable, checked, expected;
};

static int batch_open(struct scan_session *ss)
{
    if (ss->in_batch > 0 || ss->batch_size <= 1)
        return CLI_OK;
    int rc = ctm_batch_begin(ss->db);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    ss->batch_first_line = ss->line;
    return CLI_OK;
}

static void end_live_line(struct scan_session *ss)
{
    if (ss->line_showing) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
        ss->line_showing = 0;
    }
}

/* Commit the open transaction, if any. */
static int batch_close(struct scan_session *ss)
{
    if (ss->in_batch == 0)
        return CLI_OK;
    size_t first = ss->batch_first_line;
    ss->in_batch = 0;
    if (ss->batch_size <= 1)
        return CLI_OK;
    int rc = ctm_batch_commit(ss->db);
    if (rc == CTM_OK)
        return CLI_OK;
    end_live_line(ss);
    fprintf(stderr, "ctm: the scans of lines %zu to %zu were not saved: ", first, ss->line);
    cli_put_display(stderr, ctm_errmsg());
    fputc('\n', stderr);
    ctm_batch_rollback(ss->db);
    return CLI_FAIL;
}

static const char *outcome_text(const ctm_scan_result *r)
{
    if (r->detail[0])
        return r->detail;
    switch (r->outcome) {
    case CTM_SCAN_REPEAT: return "already checked";
    case CTM_SCAN_MISMATCH: return "lot or expiry differs from the manifest";
    case CTM_SCAN_EXTRA: return "not on the manifest";
    default: return "ok";
    }
}

static void show_result(struct scan_session *ss, const ctm_scan_result *r)
{
    int ok = r->outcome == CTM_SCAN_OK;
    if (ss->live_line)
        fputs("\r", stdout);
    const char *text = ok ? (ss->damaged ? "ok, recorded as damaged" : "ok") : outcome_text(r);
    size_t kit_len = strlen(r->kit_number);
    printf("checked %" PRIu64 "/%" PRIu64 ": ", r->checked, r->expected);
    /* The library's sentences name the kit already ("K0004: lot on the pack ..."). */
    if (ok || kit_len == 0 || strncmp(text, r->kit_number, kit_len) != 0) {
        cli_put_display(stdout, r->kit_number);
        fputc(' ', stdout);
    }
    cli_put_display(stdout, text);
    if (ss->live_line && ok) {
        /* Updated in place until something needs to stay on the screen. */
        fputs("\033[K", stdout);
        ss->line_showing = 1;
    } else {
        fputs(ss->live_line ? "\033[K\n" : "\n", stdout);
        ss->line_showing = 0;
    }
    if (ss->live_line)
        fflush(stdout);
}

/* One line of input: CLI_OK (even for an unreadable barcode, counted), or a failure to stop on. */
static int scan_one(struct scan_session *ss, char *text)
{
    ctm_scan_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    cli_unescape_gs(text);
    int rc = batch_open(ss);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_receive_scan(ss->db, ss->shipment, text, ss->damaged, &r);
    ss->in_batch++;
    if (rc == CTM_EINVAL) {
        end_live_line(ss);
        fprintf(stderr, "ctm: line %zu: ", ss->line);
        cli_put_display(stderr, ctm_errmsg()[0] ? ctm_errmsg() : ctm_errstr(rc));
        fputc('\n', stderr);
        ss->unreadable++;
    } else if (rc != CTM_OK) {
        /* No such shipment, already confirmed, not allowed: every further line would fail too. */
        end_live_line(ss);
        fprintf(stderr, "ctm: line %zu: ", ss->line);
        cli_put_display(stderr, ctm_errmsg()[0] ? ctm_errmsg() : ctm_errstr(rc));
        fputc('\n', stderr);
        return CLI_FAIL;
    } else {
        if (r.outcome >= 0 && r.outcome < 4)
            ss->outcomes[r.outcome]++;
        ss->checked = r.checked;
        ss->expected = r.expected;
        show_result(ss, &r);
    }
    return ss->in_batch >= ss->batch_size ? batch_close(ss) : CLI_OK;
}

/* Read the next line without its line end into *line; 0 at the end of input. */
static ssize_t next_line(char **line, size_t *cap)
{
    ssize_t n = getline(line, cap, stdin);
    if (n <= 0)
        return 0;
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = '\0';
    return n + 1; /* > 0 even for an empty line */
}

static int scan_lines(struct scan_session *ss)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CLI_OK;
    while (rc == CLI_OK && (n = next_line(&line, &cap)) > 0) {
        size_t len = (size_t)n - 1;
        ss->line++;
        if (len == 0)
            continue;
        if (strlen(line) != len || len > SCAN_LINE_MAX) {
            end_live_line(ss);
            fprintf(stderr, "ctm: line %zu: %s\n", ss->line,
                    len > SCAN_LINE_MAX ? "longer than 4096 bytes" : "holds a NUL byte");
            ss->unreadable++;
            continue;
        }
        rc = scan_one(ss, line);
    }
    int read_error = ferror(stdin);
    free(line);
    /* Whatever was scanned before a failure is kept. */
    int closed = batch_close(ss);
    if (rc == CLI_OK && read_error)
        rc = cli_fail("cannot read standard input: %s", strerror(errno));
    return rc != CLI_OK ? rc : closed;
}

static void print_scan_summary(const struct scan_session *ss)
{
    uint64_t scanned = ss->outcomes[CTM_SCAN_OK] + ss->outcomes[CTM_SCAN_REPEAT] +
                       ss->outcomes[CTM_SCAN_MISMATCH] + ss->outcomes[CTM_SCAN_EXTRA];
    printf("Shipment %s: %" PRIu64 " of %" PRIu64 " kits checked.  This session: %" PRIu64
           " scan%s, %" PRIu64 " ok, %" PRIu64 " repeated, %" PRIu64 " mismatched, %" PRIu64
           " extra, %" PRIu64 " unreadable.\n",
           ss->shipment, ss->checked, ss->expected, scanned, plural(scanned),
           ss->outcomes[CTM_SCAN_OK], ss->outcomes[CTM_SCAN_REPEAT],
           ss->outcomes[CTM_SCAN_MISMATCH], ss->outcomes[CTM_SCAN_EXTRA], ss->unreadable);
}

/* A shipment still under receipt, checked before a line is read: a wrong number or a confirmed
 * receipt would otherwise only show after the whole file was typed or scanned. */
static int shipment_receiving(struct scan_session *ss)
{
    ctm_query *q = NULL;
    int rc = ctm_receive_status(&q, ss->db, ss->shipment);
    if (rc == CTM_OK)
        rc = ctm_query_next(q);
    if (rc == CTM_ROW) {
        int col_status = cli_query_column(q, "status");
        const char *status = col_status >= 0 ? ctm_query_text(q, col_status) : NULL;
        int col_kits = cli_query_column(q, "kits"), col_checked = cli_query_column(q, "checked");
        ss->expected = col_kits >= 0 ? (uint64_t)ctm_query_int64(q, col_kits) : 0;
        ss->checked = col_checked >= 0 ? (uint64_t)ctm_query_int64(q, col_checked) : 0;
        rc = status && strcmp(status, "receiving") == 0
                 ? CLI_OK
                 : cli_fail("shipment %s: the receipt is %s; nothing was read", ss->shipment,
                            status ? status : "not open");
    } else {
        rc = rc == CTM_DONE ? cli_fail("shipment %s: no such shipment", ss->shipment)
                            : cli_fail_ctm(rc);
    }
    ctm_query_free(q);
    return rc;
}

int cmd_receive_scan(struct cli_session *s, const struct cli_args *a)
{
    struct scan_session ss;
    memset(&ss, 0, sizeof ss);
    ss.db = s->db;
    ss.shipment = a->pos[0];
    int rc = shipment_receiving(&ss);
    if (rc != CLI_OK)
        return rc;
    ss.damaged = cli_flag(a, "damaged");
    /* Someone scanning at the terminal wants each scan kept at once; a file is read fast. */
    ss.batch_size = isatty(STDIN_FILENO) ? 1 : SCAN_BATCH;
    ss.live_line = isatty(STDOUT_FILENO) && !isatty(STDIN_FILENO);
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "Scan or type kits of shipment %s, one per line; end with Ctrl-D.\n",
                ss.shipment);
    rc = scan_lines(&ss);
    end_live_line(&ss);
    /* What was saved before a failure counts: the summary comes either way. */
    print_scan_summary(&ss);
    if (rc != CLI_OK)
        return rc;
    if (ss.unreadable > 0)
        return cli_fail("%" PRIu64 " line%s could not be read (see above); scan those kits again "
                        "or type their numbers", ss.unreadable, plural(ss.unreadable));
    return CLI_OK;
}

/* ---- receive status, unscan, void ---- */

int cmd_receive_status(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    int rc = ctm_receive_status(&q, s->db, a->pos[0]);
    if (rc == CTM_OK)
        rc = ctm_query_next(q);
    if (rc == CTM_ROW)
        rc = cli_print_record(stdout, q, NULL, NULL, cli_format_of(a));
    else
        rc = rc == CTM_DONE ? cli_fail("shipment %s: no such shipment", a->pos[0])
                            : cli_fail_ctm(rc);
    ctm_query_free(q);
    return rc;
}

int cmd_receive_unscan(struct cli_session *s, const struct cli_args *a)
{
    char **kit = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_receive_unscan(s->db, a->pos[0], kit[0], cli_arg(a, "reason"));
    cli_kit_args_free(kit);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    fputs("Undid the scan of ", stdout);
    cli_put_display(stdout, a->pos[1]);
    printf(" in shipment %s: scan it again if it is there.\n", a->pos[0]);
    return CLI_OK;
}

int cmd_receive_void(struct cli_session *s, const struct cli_args *a)
{
    struct shipment_info info;
    int rc = find_shipment(s->db, a->pos[0], &info);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_receive_void(s->db, a->pos[0], cli_arg(a, "reason"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Voided shipment %s of trial %s: its %" PRId64 " kit%s left stock; e-signed by %s.  "
           "Register it again with 'ctm receive' if it arrived.\n", a->pos[0], info.trial,
           info.kits, plural((uint64_t)info.kits), ctm_current_user(s->db));
    return CLI_OK;
}

/* ---- receive confirm ---- */

static const char *const summary_statuses[] = { "available", "quarantined", "damaged", "missing" };
#define N_SUMMARY (sizeof summary_statuses / sizeof summary_statuses[0])

/* Count the kits of the shipment by status (the four of the summary; the rest as "other"). */
static int count_kits(ctm_db *db, const char *trial, const char *shipment, uint64_t *count,
                      uint64_t *other)
{
    ctm_kit_filter filter = CTM_KIT_FILTER_INIT;
    ctm_query *q = NULL;
    filter.trial = trial;
    int rc = ctm_kits(&q, db, &filter);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    int col_status = cli_query_column(q, "status");
    int col_shipment = cli_query_column(q, "shipment");
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *from = col_shipment >= 0 ? ctm_query_text(q, col_shipment) : NULL;
        const char *status = col_status >= 0 ? ctm_query_text(q, col_status) : NULL;
        if (!from || strcmp(from, shipment) != 0 || !status)
            continue;
        size_t i = 0;
        while (i < N_SUMMARY && strcmp(summary_statuses[i], status) != 0)
            i++;
        if (i < N_SUMMARY)
            count[i]++;
        else
            ++*other;
    }
    rc = rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
    ctm_query_free(q);
    return rc;
}

static int count_extras(ctm_db *db, const char *shipment, uint64_t *extras, uint64_t *all)
{
    ctm_query *q = NULL;
    int rc = ctm_receive_discrepancies(&q, db, shipment);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    int col_kind = cli_query_column(q, "kind");
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *kind = col_kind >= 0 ? ctm_query_text(q, col_kind) : NULL;
        ++*all;
        if (kind && strcmp(kind, "extra") == 0)
            ++*extras;
    }
    rc = rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
    ctm_query_free(q);
    return rc;
}

int cmd_receive_confirm(struct cli_session *s, const struct cli_args *a)
{
    const char *shipment = a->pos[0];
    struct shipment_info info;
    uint64_t count[N_SUMMARY] = { 0 }, other = 0, extras = 0, discrepancies = 0;
    int rc = ctm_receive_confirm(s->db, shipment, cli_flag(a, "unchecked-present"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Confirmed the receipt of shipment %s, e-signed by %s.\n", shipment,
           ctm_current_user(s->db));
    /* The receipt is done; a failure below only spoils the summary. */
    rc = find_shipment(s->db, shipment, &info);
    if (rc == CLI_OK)
        rc = count_kits(s->db, info.trial, shipment, count, &other);
    if (rc == CLI_OK)
        rc = count_extras(s->db, shipment, &extras, &discrepancies);
    if (rc != CLI_OK)
        return rc;
    printf("Kits: %" PRIu64 " available, %" PRIu64 " quarantined, %" PRIu64 " damaged, %" PRIu64
           " missing", count[0], count[1], count[2], count[3]);
    if (other)
        printf(", %" PRIu64 " other", other);
    if (extras)
        printf("; %" PRIu64 " extra kit%s not on the manifest", extras, plural(extras));
    printf(".\n");
    if (discrepancies)
        printf("%" PRIu64 " discrepanc%s recorded: see 'ctm receive discrepancies %s'.\n",
               discrepancies, discrepancies == 1 ? "y" : "ies", shipment);
    return CLI_OK;
}

/* ---- listings ---- */

int cmd_receive_discrepancies(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_receive_discrepancies(&q, s->db, a->pos[0]), &q, a);
}

int cmd_shipments(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    return cli_print_listing(ctm_shipment_list(&q, s->db, cli_arg(a, "trial")), &q, a);
}

int cmd_kits(struct cli_session *s, const struct cli_args *a)
{
    ctm_kit_filter filter = CTM_KIT_FILTER_INIT;
    ctm_query *q = NULL;
    int rc = cli_opt_int(a, "expiring", -1, &filter.expiring_within_days);
    if (rc != CLI_OK)
        return rc;
    filter.trial = cli_arg(a, "trial");
    filter.status = cli_arg(a, "status");
    filter.location = cli_arg(a, "location");
    filter.lot = cli_arg(a, "lot");
    filter.shipment = cli_arg(a, "shipment");
    return cli_print_listing(ctm_kits(&q, s->db, &filter), &q, a);
}

int cmd_kit_history(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL;
    char **kit = NULL;
    int one = a->npos == 1; /* KIT alone: looked for in every trial */
    int rc = cli_kit_args(a, NULL, one ? 0 : 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = cli_print_listing(ctm_kit_history(&q, s->db, one ? NULL : a->pos[0], kit[0]), &q, a);
    cli_kit_args_free(kit);
    return rc;
}

/* `kit show [TRIAL] KIT`: the kit's one row, then where it has been. */
int cmd_kit_show(struct cli_session *s, const struct cli_args *a)
{
    ctm_query *q = NULL, *history = NULL;
    char **kit = NULL;
    int one = a->npos == 1;
    const char *trial = one ? NULL : a->pos[0];
    int rc = cli_kit_args(a, NULL, one ? 0 : 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_kit_show(&q, s->db, trial, kit[0]);
    if (rc == CTM_OK)
        rc = ctm_query_next(q);
    if (rc == CTM_ROW) {
        /* the row names the trial, so the history needs no second search */
        int col = cli_query_column(q, "trial");
        rc = ctm_kit_history(&history, s->db, col >= 0 ? ctm_query_text(q, col) : trial, kit[0]);
    }
    if (rc == CTM_OK)
        rc = cli_print_record(stdout, q, "history", history, cli_format_of(a));
    else
        rc = rc == CTM_DONE ? cli_fail("kit show: no row") : cli_fail_ctm(rc);
    ctm_query_free(history);
    ctm_query_free(q);
    cli_kit_args_free(kit);
    return rc;
}

/* ---- changes to kits ---- */

int cmd_kit_status(struct cli_session *s, const struct cli_args *a)
{
    char **kit = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_kit_set_status(s->db, a->pos[0], kit[0], a->pos[2], cli_arg(a, "reason"));
    cli_kit_args_free(kit);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    fputs("Kit ", stdout);
    cli_put_display(stdout, a->pos[1]);
    printf(" of trial %s is now %s.\n", a->pos[0], a->pos[2]);
    return CLI_OK;
}

/* `expiry extend` takes either --lot or kit numbers, never both: checked before the login. */
int cli_check_expiry_extend(const struct cli_args *a, const char *opt)
{
    (void)opt;
    if (cli_arg(a, "lot") && a->npos > 1)
        return cli_usage(a->cmd, "give --lot LOT or kit numbers, not both");
    if (!cli_arg(a, "lot") && a->npos < 2)
        return cli_usage(a->cmd, "give --lot LOT or the kit numbers to extend");
    return CLI_OK;
}

int cmd_expiry_extend(struct cli_session *s, const struct cli_args *a)
{
    const char *lot = cli_arg(a, "lot");
    const char *to = cli_arg(a, "to");
    const char *reference = cli_arg(a, "reference");
    size_t nkits = lot ? 0 : (size_t)a->npos - 1;
    char **kits = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kits, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_expiry_extend(s->db, a->pos[0], lot, lot ? NULL : (const char *const *)kits, nkits,
                           to, reference);
    cli_kit_args_free(kits);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (lot)
        printf("Extended the expiry of lot %s of trial %s to %s (reference %s), e-signed by %s.\n",
               lot, a->pos[0], to, reference, ctm_current_user(s->db));
    else
        printf("Extended the expiry of %zu kit%s of trial %s to %s (reference %s), e-signed by "
               "%s.\n", nkits, plural(nkits), a->pos[0], to, reference, ctm_current_user(s->db));
    return CLI_OK;
}

int cmd_transfer(struct cli_session *s, const struct cli_args *a)
{
    const char *to = cli_arg(a, "to");
    size_t nkits = (size_t)a->npos - 1;
    char **kits = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kits, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_transfer(s->db, a->pos[0], (const char *const *)kits, nkits, to,
                      cli_arg(a, "reason"));
    cli_kit_args_free(kits);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Moved %zu kit%s of trial %s to %s.\n", nkits, plural(nkits), a->pos[0], to);
    return CLI_OK;
}

int cmd_transfer_out(struct cli_session *s, const struct cli_args *a)
{
    const char *site = cli_arg(a, "site");
    const char *shipment = cli_arg(a, "shipment");
    size_t nkits = (size_t)a->npos - 1;
    char **kits = NULL;
    int rc = cli_kit_args(a, NULL, 1, &kits, NULL);
    if (rc != CLI_OK)
        return rc;
    rc = ctm_transfer_out(s->db, a->pos[0], (const char *const *)kits, nkits, site, shipment,
                          cli_arg(a, "reason"));
    cli_kit_args_free(kits);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("Sent %zu kit%s of trial %s to %s in shipment %s; they are in transit.\n", nkits,
           plural(nkits), a->pos[0], site, shipment);
    return CLI_OK;
}

/* A temperature for a line or JSON: "%.1f", or the word for none. */
static void put_temp(double c, const char *none)
{
    if (c != c)
        fputs(none, stdout);
    else
        printf("%.1f", c);
}

int cmd_kit_exposure(struct cli_session *s, const struct cli_args *a)
{
    char **kit = NULL;
    int one = a->npos == 1;
    int rc = cli_kit_args(a, NULL, one ? 0 : 1, &kit, NULL);
    if (rc != CLI_OK)
        return rc;
    ctm_exposure_result e = CTM_EXPOSURE_RESULT_INIT;
    rc = ctm_kit_exposure(s->db, one ? NULL : a->pos[0], kit[0], &e);
    if (rc != CTM_OK) {
        cli_kit_args_free(kit);
        return cli_fail_ctm(rc);
    }
    if (cli_flag(a, "json")) {
        fputs("{\"kit\":", stdout);
        cli_put_json_string(stdout, kit[0]);
        printf(",\"readings\":%llu,\"minutes_high\":%lld,\"minutes_low\":%lld,"
               "\"minutes_unknown\":%lld,\"min\":",
               (unsigned long long)e.readings, (long long)e.minutes_high,
               (long long)e.minutes_low, (long long)e.minutes_unknown);
        put_temp(e.min_c, "null");
        fputs(",\"max\":", stdout);
        put_temp(e.max_c, "null");
        fputs(",\"mkt\":", stdout);
        if (e.mkt_c != e.mkt_c)
            fputs("null", stdout);
        else
            printf("%.2f", e.mkt_c);
        if (e.has_budget) {
            printf(",\"budget_minutes\":%lld,\"budget_max\":", (long long)e.budget_minutes);
            put_temp(e.budget_max_c, "null");
        } else {
            fputs(",\"budget_minutes\":null,\"budget_max\":null", stdout);
        }
        printf(",\"over_budget\":%s}\n", e.over_budget ? "true" : "false");
    } else {
        printf("kit %s: %lld minutes above and %lld below its storage range over %llu readings",
               kit[0], (long long)e.minutes_high, (long long)e.minutes_low,
               (unsigned long long)e.readings);
        if (e.readings > 0) {
            fputs(" (min ", stdout);
            put_temp(e.min_c, "-");
            fputs(" C, max ", stdout);
            put_temp(e.max_c, "-");
            printf(" C, MKT %.2f C)", e.mkt_c);
        }
        printf("; %lld minutes without readings\n", (long long)e.minutes_unknown);
        if (e.has_budget) {
            printf("budget %lld minutes", (long long)e.budget_minutes);
            if (e.budget_max_c == e.budget_max_c)
                printf(" up to %.1f C", e.budget_max_c);
            fputs(": ", stdout);
        } else {
            fputs("no excursion budget: ", stdout);
        }
        puts(e.over_budget ? "OVER BUDGET, flag for rejection" : "within");
    }
    cli_kit_args_free(kit);
    return CLI_OK;
}
