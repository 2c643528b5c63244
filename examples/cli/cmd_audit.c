/*
 * cmd_audit.c - `ctm audit ...`: reading, annotating and verifying the signed audit ledger.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- audit log: one block per entry in the human view ---- */

enum log_field {
    F_SEQ, F_TIME, F_USER, F_ACTION, F_REASON, F_PARAMS, F_CHANGES,
    F_ESIG_USER, F_ESIG_NAME, F_ESIG_MEANING, F_ESIG_TIME, F_SUMMARY, N_LOG_FIELDS
};
static const char *const log_field_names[N_LOG_FIELDS] = {
    "seq", "time", "user", "action", "reason", "params", "changes",
    "esig_user", "esig_name", "esig_meaning", "esig_time", "changes_summary",
};

static const char *field_text(ctm_query *q, const int *col, enum log_field f)
{
    const char *text = col[f] >= 0 ? ctm_query_text(q, col[f]) : NULL;
    return text ? text : "";
}

static void put_field_line(ctm_query *q, const int *col, enum log_field f)
{
    if (col[f] < 0)
        return;
    const char *text = ctm_query_text(q, col[f]);
    printf("  %-8s ", log_field_names[f]);
    cli_put_display(stdout, text && text[0] ? text : "-");
    putchar('\n');
}

/* The summary, one row change (or one line of counts) per line, under "changes". */
static void put_changes_lines(ctm_query *q, const int *col)
{
    const char *text = field_text(q, col, F_SUMMARY);
    printf("  %-8s ", "changes");
    if (!text[0])
        fputs("-", stdout);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char *one = strndup(line, n);
        if (one)
            cli_put_display(stdout, one);
        free(one);
        if (!end)
            break;
        printf("\n  %-8s ", "");
        line = end + 1;
    }
    putchar('\n');
}

static void put_esig_line(ctm_query *q, const int *col)
{
    const char *signer = field_text(q, col, F_ESIG_USER);
    if (!signer[0])
        return;
    fputs("  signed by ", stdout);
    cli_put_display(stdout, field_text(q, col, F_ESIG_NAME));
    fputs(" (", stdout);
    cli_put_display(stdout, signer);
    fputs(") at ", stdout);
    cli_put_display(stdout, field_text(q, col, F_ESIG_TIME));
    fputs(": ", stdout);
    cli_put_display(stdout, field_text(q, col, F_ESIG_MEANING));
    putchar('\n');
}

static void put_entry_block(ctm_query *q, const int *col, int first)
{
    if (!first)
        putchar('\n');
    fputs("seq ", stdout);
    cli_put_display(stdout, field_text(q, col, F_SEQ));
    putchar('\n');
    for (int f = F_TIME; f < F_CHANGES; f++)
        put_field_line(q, col, (enum log_field)f);
    put_changes_lines(q, col);
    put_esig_line(q, col);
}

static int print_log_blocks(ctm_query *q)
{
    int col[N_LOG_FIELDS];
    int rc;
    int first = 1;
    for (int f = 0; f < N_LOG_FIELDS; f++)
        col[f] = cli_query_column(q, log_field_names[f]);
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        put_entry_block(q, col, first);
        first = 0;
    }
    if (rc == CTM_DONE && first)
        puts("No entries match.");
    return rc == CTM_DONE ? CLI_OK : cli_fail_ctm(rc);
}

/* The parser has checked that the numeric options are numbers. */
static uint64_t number_arg(const struct cli_args *a, const char *name)
{
    uint64_t n = 0;
    const char *text = cli_arg(a, name);
    if (text)
        cli_number(text, &n);
    return n;
}

int cmd_audit_log(struct cli_session *s, const struct cli_args *a)
{
    enum cli_format format = cli_format_of(a);
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    ctm_query *q = NULL;
    f.from_seq = number_arg(a, "from");
    f.limit = number_arg(a, "limit");
    f.last = number_arg(a, "last");
    f.by = cli_arg(a, "by");
    f.action = cli_arg(a, "action");
    f.since = cli_arg(a, "since");
    f.until = cli_arg(a, "until");
    f.trial = cli_arg(a, "trial");
    f.kit = cli_arg(a, "kit");
    int rc = ctm_audit_query(&q, s->db, &f);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    rc = format == FORMAT_TABLE ? print_log_blocks(q) : cli_print_query(stdout, q, format);
    ctm_query_free(q);
    return rc;
}

/* ---- audit note ---- */

int cmd_audit_note(struct cli_session *s, const struct cli_args *a)
{
    const char *meaning = cli_arg(a, "sign");
    int rc = ctm_audit_note(s->db, a->pos[0], meaning);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (meaning)
        printf("Recorded the note, signed by %s: %s\n", ctm_current_user(s->db), meaning);
    else
        printf("Recorded the note.\n");
    return CLI_OK;
}

/* ---- audit verify ---- */

/* Read a whole (small) file into a NUL-terminated string freed with free(). */
static int read_small_file(char **out, const char *path)
{
    enum { LIMIT = 1 << 20 };
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    char *buf = malloc(LIMIT + 1);
    size_t n = buf ? fread(buf, 1, LIMIT + 1, f) : 0;
    int bad = !buf || ferror(f) || n > LIMIT;
    fclose(f);
    if (bad) {
        free(buf);
        return cli_fail("%s: cannot read it (unreadable, or larger than 1 MiB)", path);
    }
    buf[n] = '\0';
    *out = buf;
    return CLI_OK;
}

/* A key file holds the verifier key line; surrounding white space is not part of the key. */
static void trim(char *text)
{
    size_t start = strspn(text, " \t\r\n");
    size_t len = strlen(text + start);
    memmove(text, text + start, len + 1);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
}

/* The external verifier key from --key or --key-file (NULL: none given), freed with free(). */
static int verifier_key(char **vkey, const struct cli_args *a)
{
    const char *key = cli_arg(a, "key");
    const char *key_file = cli_arg(a, "key-file");
    *vkey = NULL;
    if (key) {
        *vkey = strdup(key);
        if (!*vkey)
            return cli_fail("out of memory");
        trim(*vkey);
        return CLI_OK;
    }
    if (!key_file)
        return CLI_OK;
    int rc = read_small_file(vkey, key_file);
    if (rc == CLI_OK && *vkey)
        trim(*vkey);
    return rc;
}

static void print_verified(const ctm_verify_result *r)
{
    printf("OK: %" PRIu64 " entries, %" PRIu64 " checkpoints, %" PRIu64 " e-signatures, %" PRIu64
           " rows; root %s\n", r->entries, r->checkpoints, r->esignatures, r->rows, r->root_hex);
    if (r->key_from_database)
        fputs("ctm: warning: no verifier key was given, so the key stored in the database was "
              "trusted; give --key VKEY or --key-file FILE from a copy kept outside\n", stderr);
}

int cmd_audit_verify(struct cli_session *s, const struct cli_args *a)
{
    ctm_verify_result result;
    char *vkey = NULL, *checkpoint = NULL;
    const char *checkpoint_file = cli_arg(a, "checkpoint");
    int rc = verifier_key(&vkey, a);
    if (rc == CLI_OK && checkpoint_file)
        rc = read_small_file(&checkpoint, checkpoint_file);
    if (rc != CLI_OK)
        goto out;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    result.failed_seq = -1;
    int status = ctm_audit_verify(s->db, vkey, checkpoint, &result);
    if (status == CTM_OK)
        print_verified(&result);
    else
        rc = cli_fail_ctm(status);
out:
    free(vkey);
    free(checkpoint);
    return rc;
}

/* ---- checkpoint, pubkey, prove ---- */

int cmd_audit_checkpoint(struct cli_session *s, const struct cli_args *a)
{
    char *note = NULL;
    (void)a;
    int rc = ctm_audit_checkpoint(&note, s->db);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    /* Exactly as signed: a monitor keeps this text and hands it back to `audit verify`. */
    fputs(note, stdout);
    ctm_free(note);
    return CLI_OK;
}

int cmd_audit_pubkey(struct cli_session *s, const struct cli_args *a)
{
    char *vkey = NULL;
    (void)a;
    int rc = ctm_audit_vkey(&vkey, s->db);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    printf("%s\n", vkey);
    ctm_free(vkey);
    return CLI_OK;
}

int cmd_audit_prove(struct cli_session *s, const struct cli_args *a)
{
    char *proof = NULL;
    uint64_t seq = 0;
    cli_number(a->pos[0], &seq); /* checked by the parser */
    int rc = ctm_audit_prove(&proof, s->db, seq);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    fputs(proof, stdout);
    ctm_free(proof);
    return CLI_OK;
}
