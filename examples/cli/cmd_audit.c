/*
 * cmd_audit.c - `ctm audit ...`: reading, annotating, verifying and witnessing the signed audit
 * ledger.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (r->cosignatures > 0) {
        fputs("Witnessed up to size ", stdout);
        printf("%" PRIu64 " by ", r->witnessed_size);
        cli_put_display(stdout, r->witness);
        printf(" (%" PRIu64 " cosignature%s counted)\n", r->cosignatures,
               r->cosignatures == 1 ? "" : "s");
    }
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

/* ---- witnessing: witness-key, witness ---- */

int cmd_audit_witness_key(struct cli_session *s, const struct cli_args *a)
{
    char *vkey = NULL;
    (void)s;
    int rc = ctm_witness_key_create(&vkey, cli_arg(a, "out"), cli_arg(a, "name"));
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    /* the verifier key alone on stdout, for whoever checks the cosignatures */
    printf("%s\n", vkey);
    fprintf(stderr, "ctm: wrote the witness key to %s (mode 0600); keep it away from the site, "
                    "and give the verifier key above to whoever checks cosignatures\n",
            cli_arg(a, "out"));
    ctm_free(vkey);
    return CLI_OK;
}

/* The state file of a site in DIR: "<origin>.checkpoint", the origin's bytes other than letters,
 * digits, '-', '_' and '.' (and a leading '.') written %XX, so that no origin ("libctm/demo",
 * "../x") names a path outside DIR or a hidden file. */
static char *state_path(const char *dir, const char *origin)
{
    size_t n = strlen(origin), dlen = strlen(dir);
    char *path = malloc(dlen + 1 + 3 * n + sizeof ".checkpoint");
    if (!path)
        return NULL;
    char *p = path + sprintf(path, "%s/", dir);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)origin[i];
        if (isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    strcpy(p, ".checkpoint");
    return path;
}

/* The name part of a verifier key ("<name>+<id>+<key>"), malloc'd. */
static char *vkey_name(const char *vkey)
{
    const char *plus = strchr(vkey, '+');
    return plus ? strndup(vkey, (size_t)(plus - vkey)) : NULL;
}

/* Replace path with text so that a crash leaves the old file or the new one, whole. */
static int write_atomically(const char *dir, const char *path, const char *text)
{
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp)
        return cli_fail("out of memory");
    sprintf(tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return cli_fail("%s: cannot write it: %s", path, strerror(e));
    }
    free(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CLI_OK;
}

/* The previous witnessed checkpoint in path, or NULL the first time (no file). */
static int read_state(char **note, const char *path)
{
    *note = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return CLI_OK;
    return read_small_file(note, path);
}

/* The size line of a checkpoint note (its second line). */
static uint64_t note_size(const char *note)
{
    const char *line = strchr(note, '\n');
    return line ? strtoull(line + 1, NULL, 10) : 0;
}

int cmd_audit_witness(struct cli_session *s, const struct cli_args *a)
{
    const char *dir = cli_arg(a, "state");
    char *site_vkey = NULL, *origin = NULL, *path = NULL, *previous = NULL, *note = NULL;
    int rc = CLI_OK, status;
    if (cli_arg(a, "site-vkey") && !(site_vkey = strdup(cli_arg(a, "site-vkey"))))
        return cli_fail("out of memory");
    if (site_vkey) {
        trim(site_vkey);
        origin = vkey_name(site_vkey);
    } else {
        char *db_vkey = NULL;
        if ((status = ctm_audit_vkey(&db_vkey, s->db)) != CTM_OK) {
            rc = cli_fail_ctm(status);
            goto out;
        }
        origin = vkey_name(db_vkey);
        ctm_free(db_vkey);
    }
    if (!origin) {
        rc = cli_fail("--site-vkey: not a verifier key (expected <name>+<key id>+<base64 key>)");
        goto out;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = cli_fail("%s: %s", dir, strerror(errno));
        goto out;
    }
    if (!(path = state_path(dir, origin))) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if ((rc = read_state(&previous, path)) != CLI_OK)
        goto out;
    if ((status = ctm_audit_witness(&note, s->db, cli_arg(a, "key-file"), site_vkey, previous)) !=
        CTM_OK) {
        rc = cli_fail_ctm(status);
        goto out;
    }
    if ((rc = write_atomically(dir, path, note)) != CLI_OK)
        goto out;
    printf("Witnessed %s at size %" PRIu64, origin, note_size(note));
    if (previous)
        printf(" (it extends size %" PRIu64 ", witnessed before)", note_size(previous));
    else
        fputs(" (the first witnessed here)", stdout);
    printf("; cosignature stored; kept in %s\n", path);
    if (!site_vkey)
        fputs("ctm: warning: no --site-vkey was given, so the site key stored in the database was "
              "trusted\n", stderr);
out:
    ctm_free(note);
    free(previous);
    free(path);
    free(origin);
    free(site_vkey);
    return rc;
}
