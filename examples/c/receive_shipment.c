/*
 * receive_shipment.c - the receipt of a shipment of trial kits, from a program.
 *
 * On a fresh database it creates a site, adds an unblinded pharmacist, sets up a blinded trial
 * with one kit type and a fridge, registers a shipment of four kits from its manifest, checks the
 * kits one scan at a time, confirms the receipt with the pharmacist's e-signature, lists what did
 * not match and the kits, and verifies the whole database.
 *
 *   gcc -Wall -Wextra -Ilibctm/include examples/c/receive_shipment.c -Lbuild/libctm -lctm -o /tmp/receive_shipment
 *   rm -f /tmp/receipt.db*; CTM_PASSWORD='a long password' LD_LIBRARY_PATH=build/libctm /tmp/receive_shipment /tmp/receipt.db
 *
 * Against an installed libctm: gcc receive_shipment.c $(pkg-config --cflags --libs libctm)
 */
#include <ctm.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print what failed, with the library's message for the calling thread, and return 1. */
static int fail(const char *what, int rc)
{
    fprintf(stderr, "receive_shipment: %s: %s (%s, %d)\n", what, ctm_errmsg(), ctm_errstr(rc), rc);
    return 1;
}

/* The index of the column called name, or -1 (listings are read by column name). */
static int column(const ctm_query *q, const char *name)
{
    for (int i = 0; i < ctm_query_column_count(q); i++)
        if (strcmp(ctm_query_column_name(q, i), name) == 0)
            return i;
    return -1;
}

/* Print the named columns (at most 16) of every row, indented; CTM_OK or a negative status. */
static int print_columns(ctm_query *q, const char *const *names, int n)
{
    int cols[16];
    for (int i = 0; i < n && i < 16; i++)
        cols[i] = column(q, names[i]);
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        for (int i = 0; i < n && i < 16; i++) {
            const char *text = ctm_query_text(q, cols[i]); /* borrowed until the next row */
            printf("  %s", text ? text : "-");
        }
        putchar('\n');
    }
    return rc == CTM_DONE ? CTM_OK : rc;
}

/* The depot's manifest, as the CSV file would hold it: a blinded trial needs the arm column. */
static const char manifest[] =
    "kit_number,kit_type,lot,expiry,arm\n"
    "104417,NRD-10,L2401,2027-03-31,ACTIVE\n"
    "108392,NRD-10,L2401,2027-03-31,PLACEBO\n"
    "113075,NRD-10,L2401,2027-03-31,PLACEBO\n"
    "117736,NRD-10,L2401,2027-03-31,ACTIVE\n";

/* What the barcode scanner at the counter delivered, one kit at a time.  "\x1d" is the GS byte
 * that ends a variable-length field (here the lot) in a DataMatrix. */
static const char *const scans[] = {
    "]d2010590999032971717270331" "10L2401\x1d" "21104417", /* as the scanner sends it */
    "(01)05909990329717(17)270331(10)L2401(21)108392",      /* the bracketed form */
    "(01)05909990329717(17)270331(10)L2401(21)104417",      /* the same kit again */
    "(01)05909990329717(17)270331(10)L2409(21)113075",      /* another lot on the pack */
    "(01)05909990329717(17)270331(10)L2401(21)199999",      /* not on the manifest */
};

static const char *const outcome_names[] = { "ok", "repeat", "mismatch", "extra" };

/* Set up the site: trial, kit type and location (administrators and pharmacists may). */
static int set_up(ctm_db *db, const char *password)
{
    int rc = ctm_user_add(db, "phil", "pharmacist", 1, "Phil Lund", password);
    if (rc != CTM_OK)
        return fail("user add", rc);
    rc = ctm_trial_add(db, "NORD-301", "Nordaxin versus placebo in chronic migraine",
                       "Nordax Pharma AB", 1, "ACTIVE:1,PLACEBO:1");
    if (rc != CTM_OK)
        return fail("trial add", rc);
    ctm_kittype_options kt = CTM_KITTYPE_OPTIONS_INIT;
    kt.dose_form = "tablet";
    kt.strength = "10 mg";
    kt.excursion_budget_minutes = 1440; /* 24 h cumulative ... */
    kt.excursion_max_c = 15.0;          /* ... up to 15 C */
    rc = ctm_kittype_add(db, "NORD-301", "NRD-10", "Nordaxin 10 mg or placebo, tablets", 28,
                         2.0, 8.0, 30, &kt);
    if (rc != CTM_OK)
        return fail("kit type add", rc);
    rc = ctm_location_add(db, "FRIDGE-1", "fridge", 2.0, 8.0);
    return rc == CTM_OK ? 0 : fail("location add", rc);
}

/* Register the shipment, check its kits, confirm: the pharmacist is logged in. */
static int receive(ctm_db *db)
{
    ctm_receive_options ro = CTM_RECEIVE_OPTIONS_INIT;
    ro.origin = "Nordax depot Uppsala";
    int rc = ctm_receive(db, "NORD-301", "SH-2026-0142", manifest, strlen(manifest), "FRIDGE-1",
                         &ro);
    if (rc != CTM_OK)
        return fail("receive", rc);

    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        ctm_scan_result r = { .struct_size = sizeof r };
        rc = ctm_receive_scan(db, "SH-2026-0142", scans[i], 0, &r);
        if (rc == CTM_EINVAL) { /* an unreadable barcode: say why, and scan the next kit */
            fprintf(stderr, "scan %zu: %s\n", i + 1, ctm_errmsg());
            continue;
        }
        if (rc != CTM_OK)
            return fail("receive scan", rc);
        printf("checked %" PRIu64 "/%" PRIu64 "  %-8s  %s\n", r.checked, r.expected,
               outcome_names[r.outcome], r.detail);
    }

    /* Kit 117736 was never scanned: without unchecked_present it becomes "missing". */
    rc = ctm_receive_confirm(db, "SH-2026-0142", 0);
    if (rc != CTM_OK)
        return fail("receive confirm", rc);
    printf("confirmed by %s\n", ctm_current_user(db));

    ctm_query *q = NULL;
    static const char *const dcols[] = { "kit_number", "kind", "detail" };
    rc = ctm_receive_discrepancies(&q, db, "SH-2026-0142");
    if (rc == CTM_OK) {
        printf("discrepancies:\n");
        rc = print_columns(q, dcols, 3);
    }
    ctm_query_free(q);
    if (rc != CTM_OK)
        return fail("discrepancies", rc);

    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.trial = "NORD-301";
    static const char *const kcols[] = { "kit_number", "lot", "expiry", "status", "arm",
                                         "dispensable" };
    q = NULL;
    rc = ctm_kits(&q, db, &f);
    if (rc == CTM_OK) {
        printf("kits:\n");
        rc = print_columns(q, kcols, 6);
    }
    ctm_query_free(q);
    return rc == CTM_OK ? 0 : fail("kits", rc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: receive_shipment NEW-DATABASE   (password in $CTM_PASSWORD)\n");
        return 2;
    }
    const char *password = getenv("CTM_PASSWORD");
    if (password == NULL) {
        fprintf(stderr, "receive_shipment: set CTM_PASSWORD (8 to 1024 bytes)\n");
        return 2;
    }
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    opts.flags = CTM_OPEN_CREATE;
    ctm_db *db = NULL;
    int rc = ctm_open(&db, argv[1], &opts);
    if (rc != CTM_OK)
        return fail("open", rc);

    /* The administrator sets up the site; the pharmacist receives.  One password serves both
     * accounts here only to keep the example short: at a site each person has their own. */
    int status;
    rc = ctm_init(db, "Receipt Example Pharmacy", NULL, "admin", "Ada Admin", password);
    if (rc != CTM_OK)
        status = fail("init (the example needs a new database)", rc);
    else
        status = set_up(db, password);
    if (status == 0 && (rc = ctm_login(db, "phil", password)) != CTM_OK)
        status = fail("login", rc);
    if (status == 0)
        status = receive(db);

    if (status == 0) {
        ctm_verify_result v = { .struct_size = sizeof v };
        rc = ctm_audit_verify(db, NULL, NULL, &v); /* a monitor passes the key held outside */
        if (rc == CTM_OK)
            printf("verified: %" PRIu64 " entries, %" PRIu64 " e-signatures, %" PRIu64 " rows\n",
                   v.entries, v.esignatures, v.rows);
        else
            status = fail("verify", rc);
    }
    ctm_close(db);
    return status;
}
