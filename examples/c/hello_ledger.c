/*
 * hello_ledger.c - a small program that embeds libctm.
 *
 * It creates a site database (or opens an existing one), logs in, records two notes in one
 * batch, prints the audit trail, and verifies the whole database against the site's verifier key.
 *
 *   gcc -Wall -Wextra -Ilibctm/include examples/c/hello_ledger.c -Lbuild/libctm -lctm -o /tmp/hello_ledger
 *   CTM_PASSWORD='a long password' LD_LIBRARY_PATH=build/libctm /tmp/hello_ledger /tmp/hello.db
 *
 * Against an installed libctm: gcc hello_ledger.c $(pkg-config --cflags --libs libctm)
 */
#include <ctm.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print what failed, with the library's message for the calling thread, and return 1. */
static int fail(const char *what, int rc)
{
    fprintf(stderr, "hello_ledger: %s: %s (%s, %d)\n", what, ctm_errmsg(), ctm_errstr(rc), rc);
    return 1;
}

/* The index of the column called name, or -1: result sets are read by column name, so a
 * column added to a listing in a later release does not disturb the program. */
static int column(const ctm_query *q, const char *name)
{
    for (int i = 0; i < ctm_query_column_count(q); i++)
        if (strcmp(ctm_query_column_name(q, i), name) == 0)
            return i;
    return -1;
}

/* Print seq, time, user, action and e-signature meaning of each audit entry. */
static int print_entries(ctm_query *q)
{
    const char *names[] = { "seq", "time", "user", "action", "esig_meaning" };
    int cols[5];
    for (int i = 0; i < 5; i++)
        cols[i] = column(q, names[i]);
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        for (int i = 0; i < 5; i++) {
            const char *text = ctm_query_text(q, cols[i]); /* borrowed until the next row */
            printf("%s%s", i ? "  " : "", text ? text : "-");
        }
        putchar('\n');
    }
    return rc == CTM_DONE ? CTM_OK : rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hello_ledger DATABASE   (password in $CTM_PASSWORD)\n");
        return 2;
    }
    const char *path = argv[1];
    const char *password = getenv("CTM_PASSWORD");
    if (password == NULL) {
        fprintf(stderr, "hello_ledger: set CTM_PASSWORD (8 to 1024 bytes)\n");
        return 2;
    }
    printf("libctm %s (built against %s)\n", ctm_version(), CTM_VERSION_STRING);

    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    opts.flags = CTM_OPEN_CREATE;
    ctm_db *db = NULL;
    int rc = ctm_open(&db, path, &opts);
    if (rc != CTM_OK)
        return fail("open", rc);

    /* A new file needs a site; ctm_init() logs the first administrator in.  An existing site
     * refuses with CTM_EEXISTS, and then we log in instead. */
    rc = ctm_init(db, "Hello Trial Pharmacy", NULL, "admin", "Ada Admin", password);
    if (rc == CTM_EEXISTS)
        rc = ctm_login(db, "admin", password);
    if (rc != CTM_OK) {
        int status = fail("init or login", rc);
        ctm_close(db);
        return status;
    }
    printf("logged in as %s\n", ctm_current_user(db));

    /* Two actions, one transaction and one signed checkpoint. */
    rc = ctm_batch_begin(db);
    if (rc == CTM_OK)
        rc = ctm_audit_note(db, "Fridge 1 checked: 4.2 C", NULL);
    if (rc == CTM_OK)
        rc = ctm_audit_note(db, "Stock count of kit type A done", "performed");
    if (rc == CTM_OK) {
        rc = ctm_batch_commit(db);
    } else {
        int failed = rc;
        fail("note", failed); /* report before the rollback replaces the message */
        ctm_batch_rollback(db);
        ctm_close(db);
        return 1;
    }
    if (rc != CTM_OK) {
        int status = fail("batch commit", rc);
        ctm_close(db);
        return status;
    }

    /* The last three entries of the audit trail. */
    uint64_t size = 0;
    ctm_query *q = NULL;
    rc = ctm_audit_size(db, &size);
    if (rc == CTM_OK)
        rc = ctm_audit_log(&q, db, size > 3 ? size - 3 : 0, 3);
    if (rc == CTM_OK)
        rc = print_entries(q);
    if (rc != CTM_OK) {
        int status = fail("audit log", rc);
        ctm_query_free(q);
        ctm_close(db);
        return status;
    }
    ctm_query_free(q);

    /* A real monitor keeps the verifier key (and checkpoints) outside the database; here we
     * fetch it from the same file only to show the call. */
    char *vkey = NULL, *checkpoint = NULL;
    rc = ctm_audit_vkey(&vkey, db);
    if (rc == CTM_OK)
        rc = ctm_audit_checkpoint(&checkpoint, db);
    ctm_verify_result result = { .struct_size = sizeof result };
    if (rc == CTM_OK)
        rc = ctm_audit_verify(db, vkey, checkpoint, &result);
    if (rc == CTM_OK)
        printf("verified: %" PRIu64 " entries, %" PRIu64 " checkpoints, %" PRIu64
               " e-signatures, %" PRIu64 " rows, root %s\n",
               result.entries, result.checkpoints, result.esignatures, result.rows,
               result.root_hex);
    else if (rc == CTM_EINTEGRITY)
        fprintf(stderr, "hello_ledger: NOT verified at seq %" PRId64 " table '%s' key '%s': %s\n",
                result.failed_seq, result.failed_table, result.failed_key, ctm_errmsg());
    else
        fail("verify", rc);
    ctm_free(vkey);
    ctm_free(checkpoint);
    ctm_close(db); /* logs out and wipes the keys it held */
    return rc == CTM_OK ? 0 : 1;
}
