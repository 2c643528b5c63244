/* test_randomization.c - randomization lists and subjects: generated lists balanced, reproducible
 * and extensible; imported lists checked whole; allocation in list order per stratum, once per
 * subject; minimization replayed exactly from the audit log, and the published case end to end;
 * every refusal changes nothing; blinded users learn no arm, list, seed, block size, draw or
 * minimization parameter through any call or the audit log; the ledger verifies.  Runs on both
 * back ends. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctm.h"
#include "minimize.h"
#include "strata.h"
#include "testutil.h"

#define PW "randomization-pw"
#define TRIAL "EU-CT-2026-800001"
#define OPEN_TRIAL "EU-CT-2026-800002"
/* Arm codes no other text contains, so that a search for them finds only a leak. */
#define ARM_A "QZVERUM"
#define ARM_B "QZSHAM"
#define SEED "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define STRATA "sex=M,F;age=lt65,ge65"

static char *template_dir;
static char *dir;
static char db_path[4096];
static ctm_db *db;

static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pia", "pharmacist", 1, "Pia Pharm", PW},
        {"bob", "pharmacist", 0, "Bob Blind", PW},
        {"ivy", "investigator", 0, "Ivy Invest", PW},
    };
    template_dir = tu_build_template("admin", "Ada Admin", PW, users, 3);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TU_SITE_DB, template_dir);
    ctm_db *h = NULL;
    tu_must(tu_open_rc(&h, path, NULL), "open");
    tu_must(ctm_login(h, "pia", PW), "login");
    tu_must(ctm_trial_add(h, TRIAL, "A blinded trial", "Sponsor", 1, ARM_A ":2," ARM_B ":1"),
            "trial");
    tu_must(ctm_trial_add(h, OPEN_TRIAL, "An open trial", "Sponsor", 0, ARM_A ":1," ARM_B ":1"),
            "open trial");
    tu_must(ctm_kittype_add(h, TRIAL, "KT", "Drug X or placebo", 30, 2, 8, 0, NULL), "kit type");
    tu_must(ctm_location_add(h, "FRIDGE1", "fridge", 2, 8), "location");
    ctm_close(h);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/" TU_SITE_DB, dir);
    db = tu_open(db_path, NULL);
    tu_login(db, "pia", PW);
}

static void teardown(void)
{
    tu_teardown(&dir, &db, NULL);
}

static ctm_random_options opts(const char *strata, const char *seed, int extend)
{
    ctm_random_options o = CTM_RANDOM_OPTIONS_INIT;
    o.strata = strata;
    o.seed = seed;
    o.extend = extend;
    return o;
}

static int col(ctm_query *q, const char *name)
{
    int c = ctm_query_column_index(q, name);
    ck_assert_int_ge(c, 0);
    return c;
}

/* The list as "stratum|position|number|block|block_size|arm|subject" lines (malloc'd). */
static char *list_text(ctm_db *h, const char *trial)
{
    ctm_query *q = NULL;
    tu_ok(ctm_random_list(&q, h, trial));
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *subject = ctm_query_text(q, col(q, "subject"));
        const char *block = ctm_query_text(q, col(q, "block"));
        const char *bs = ctm_query_text(q, col(q, "block_size"));
        n += (size_t)snprintf(out + n, cap - n, "%s|%s|%s|%s|%s|%s|%s\n",
                              ctm_query_text(q, col(q, "stratum")),
                              ctm_query_text(q, col(q, "position")),
                              ctm_query_text(q, col(q, "number")), block ? block : "-",
                              bs ? bs : "-", ctm_query_text(q, col(q, "arm")),
                              subject ? subject : "-");
        ck_assert_uint_lt(n, cap);
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    return out;
}

static int64_t scheme_int(ctm_db *h, const char *trial, const char *name)
{
    ctm_query *q = NULL;
    tu_ok(ctm_random_scheme(&q, h, trial));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    int64_t v = ctm_query_int64(q, col(q, name));
    ctm_query_free(q);
    return v;
}

/* ---- generated lists ---- */

START_TEST(generated_blocks_balanced_and_sizes_from_the_set)
{
    ctm_random_options o = opts(STRATA, SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 60, "3,6", &o));
    ck_assert_int_eq(scheme_int(db, TRIAL, "rows"), 4 * 60);
    ctm_query *q = NULL;
    tu_ok(ctm_random_list(&q, db, TRIAL));
    char stratum[64] = "";
    int64_t block = 0, block_size = 0, in_block = 0, a = 0, b = 0, rows = 0, strata = 0;
    int seen3 = 0, seen6 = 0;
    while (ctm_query_next(q) == CTM_ROW) {
        const char *s = ctm_query_text(q, col(q, "stratum"));
        int64_t blk = ctm_query_int64(q, col(q, "block"));
        if (strcmp(s, stratum) != 0 || blk != block) {
            /* the block before ended whole (a stratum's last may be cut at 60) */
            if (in_block == block_size)
                ck_assert_int_eq(a, 2 * b);
            if (strcmp(s, stratum) != 0) {
                strata++;
                ck_assert_int_eq(ctm_query_int64(q, col(q, "position")), 1);
            }
            snprintf(stratum, sizeof stratum, "%s", s);
            block = blk;
            block_size = ctm_query_int64(q, col(q, "block_size"));
            ck_assert(block_size == 3 || block_size == 6);
            seen3 |= block_size == 3;
            seen6 |= block_size == 6;
            in_block = a = b = 0;
        }
        in_block++;
        const char *arm = ctm_query_text(q, col(q, "arm"));
        if (strcmp(arm, ARM_A) == 0)
            a++;
        else if (strcmp(arm, ARM_B) == 0)
            b++;
        else
            ck_abort_msg("not an arm: %s", arm);
        rows++;
    }
    ctm_query_free(q);
    ck_assert_int_eq(rows, 240);
    ck_assert_int_eq(strata, 4);
    ck_assert(seen3 && seen6);
}
END_TEST

START_TEST(same_seed_same_list_and_extension_keeps_rows)
{
    ctm_random_options o = opts(STRATA, SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 20, "3,6", &o));
    char *first = list_text(db, TRIAL);
    /* No allocations yet: generating again replaces the list, with the same rows. */
    tu_ok(ctm_random_generate(db, TRIAL, 20, "3,6", &o));
    char *again = list_text(db, TRIAL);
    ck_assert_str_eq(first, again);
    /* Another seed gives another list. */
    ctm_random_options other = opts(STRATA, NULL, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 20, "3,6", &other));
    char *fresh = list_text(db, TRIAL);
    ck_assert_str_ne(first, fresh);
    /* Back to SEED, allocate one, extend to 30: the first 20 of each stratum are kept. */
    tu_ok(ctm_random_generate(db, TRIAL, 20, "3,6", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-001", "sex=F,age=lt65"));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S-001", &r));
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 30, "3,6", &o), CTM_ERULE);
    ctm_random_options ext = opts(NULL, NULL, 1);
    tu_ok(ctm_random_generate(db, TRIAL, 30, "3,6", &ext));
    ck_assert_int_eq(scheme_int(db, TRIAL, "rows"), 4 * 30);
    ck_assert_int_eq(scheme_int(db, TRIAL, "allocated"), 1);
    /* Every old row is still there, unchanged but for the allocation. */
    char *extended = list_text(db, TRIAL);
    for (char *line = first; *line;) {
        char *end = strchr(line, '\n');
        *end = '\0';
        char prefix[256];
        /* strip the subject column: S-001's row now names S-001 */
        snprintf(prefix, sizeof prefix, "%.*s", (int)(strrchr(line, '|') - line), line);
        ck_assert_msg(strstr(extended, prefix) != NULL, "row lost: %s", line);
        line = end + 1;
    }
    /* An extension keeps the seed and the block sizes. */
    ctm_random_options bad_seed = opts(NULL, "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 40, "3,6", &bad_seed), CTM_ERULE);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 40, "3,9", &ext), CTM_ERULE);
    tu_ok(ctm_random_generate(db, TRIAL, 40, "6,3", &ext)); /* the same set */
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 40, "3,6", &ext), CTM_ERULE);
    free(first);
    free(again);
    free(fresh);
    free(extended);
}
END_TEST

START_TEST(bad_generation_refused_naming_the_field)
{
    uint64_t before = tu_audit_size(db);
    ctm_random_options o = opts(STRATA, SEED, 0);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 20, "4,6", &o), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "block sizes: 4 is not a multiple of 3"));
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 0, "3", &o), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "size"));
    ctm_random_options bad = opts("sex=M", SEED, 0);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 20, "3", &bad), CTM_EINVAL);
    ctm_random_options badseed = opts(STRATA, "abc", 0);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 20, "3", &badseed), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "seed"));
    ck_assert_int_eq(ctm_random_generate(db, "NO-SUCH", 20, "3", &o), CTM_ENOTFOUND);
    /* names the parser allows whose stratum names would not fit ctm_randomization.stratum */
    char spec[1024] = "";
    for (int f = 0; f < 8; f++)
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%sfactor%026d=a%031d,b%031d",
                 f ? ";" : "", f, 1, 2);
    ctm_random_options wide = opts(spec, SEED, 0);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 2, "3", &wide), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "stratum's name"));
    static const char one[] = "randomization_number,stratum,arm\nR-1,a/a/a/a/a/a/a/a," ARM_A "\n";
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, one, sizeof one - 1, &wide), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "stratum's name"));
    ck_assert_uint_eq(tu_audit_size(db), before);
}
END_TEST

/* ---- imported lists ---- */

static const char sponsor_list[] = "randomization_number,stratum,arm\n"
                                   "R-101,M/lt65," ARM_A "\n"
                                   "R-102,sex=F;age=lt65," ARM_B "\n" /* not canonical: refused */
                                   "R-103,M/lt65," ARM_B "\n";

START_TEST(import_checks_the_whole_file_first)
{
    uint64_t before = tu_audit_size(db);
    ctm_random_options o = opts(STRATA, NULL, 0);
    ck_assert_int_eq(ctm_random_import(db, TRIAL, "sponsor", sponsor_list, strlen(sponsor_list),
                                       &o),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "line 3"));
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "stratum"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    ck_assert_int_eq(ctm_random_scheme(NULL, db, TRIAL), CTM_EINVAL);
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_random_scheme(&q, db, TRIAL), CTM_ENOTFOUND);
    /* An arm that is not the trial's: named by line and field, never by value. */
    static const char bad_arm[] = "randomization_number,stratum,arm\nR-1,M/lt65,QZOTHER\n";
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, bad_arm, strlen(bad_arm), &o),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "line 2, field arm"));
    ck_assert_ptr_null(strstr(ctm_errmsg(), "QZOTHER"));
    ck_assert_uint_eq(tu_audit_size(db), before);
}
END_TEST

START_TEST(import_allocates_in_file_order_per_stratum)
{
    static const char list[] = "randomization_number,stratum,arm\n"
                               "R-201,F/ge65," ARM_B "\n"
                               "R-101,M/lt65," ARM_A "\n"
                               "R-202,\"sex=F,age=ge65\"," ARM_A "\n"
                               "R-102,M/lt65," ARM_B "\n";
    ctm_random_options o = opts(STRATA, NULL, 0);
    tu_ok(ctm_random_import(db, TRIAL, NULL, list, sizeof list - 1, &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S1", "sex=F,age=ge65"));
    tu_ok(ctm_subject_add(db, TRIAL, "S2", "age=ge65,sex=F"));
    tu_ok(ctm_subject_add(db, TRIAL, "S3", "sex=F,age=ge65"));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S1", &r));
    ck_assert_str_eq(r.number, "R-201");
    ck_assert_str_eq(r.arm, ARM_B);
    ck_assert_str_eq(r.stratum, "sex=F,age=ge65");
    tu_ok(ctm_randomize(db, TRIAL, "S2", &r));
    ck_assert_str_eq(r.number, "R-202");
    ck_assert_str_eq(r.arm, ARM_A);
    /* The stratum's list is used up: refused, nothing changed. */
    uint64_t before = tu_audit_size(db);
    ck_assert_int_eq(ctm_randomize(db, TRIAL, "S3", &r), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "used up"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* Replacing a list with allocations is refused; extending it is allowed and audited. */
    static const char more[] = "randomization_number,stratum,arm\nR-203,F/ge65," ARM_B "\n";
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, more, sizeof more - 1, &o), CTM_ERULE);
    ctm_random_options ext = opts(NULL, NULL, 1);
    tu_ok(ctm_random_import(db, TRIAL, NULL, more, sizeof more - 1, &ext));
    tu_ok(ctm_randomize(db, TRIAL, "S3", &r));
    ck_assert_str_eq(r.number, "R-203");
    /* A number already in the trial is refused on extension. */
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, more, sizeof more - 1, &ext), CTM_EEXISTS);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

START_TEST(blockrand_blocks_must_hold_the_ratio)
{
    /* R's write.csv: a row-name column and every field quoted. */
    static const char good[] = "\"\",\"id\",\"stratum\",\"block.id\",\"block.size\",\"treatment\"\n"
                               "\"1\",1,\"all\",1,3,\"" ARM_A "\"\n"
                               "\"2\",2,\"all\",1,3,\"" ARM_B "\"\n"
                               "\"3\",3,\"all\",1,3,\"" ARM_A "\"\n";
    static const char unbalanced[] = "id,stratum,block.id,block.size,treatment\n"
                                     "1,all,1,3," ARM_A "\n"
                                     "2,all,1,3," ARM_B "\n"
                                     "3,all,1,3," ARM_B "\n";
    ctm_random_options o = opts(NULL, NULL, 0);
    ck_assert_int_eq(ctm_random_import(db, TRIAL, "blockrand", unbalanced, sizeof unbalanced - 1,
                                       &o),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "not balanced"));
    tu_ok(ctm_random_import(db, TRIAL, NULL, good, sizeof good - 1, &o));
    ck_assert_int_eq(scheme_int(db, TRIAL, "rows"), 3);
    char *list = list_text(db, TRIAL);
    ck_assert_str_eq(list, "|1|1|1|3|" ARM_A "|-\n|2|2|1|3|" ARM_B "|-\n|3|3|1|3|" ARM_A "|-\n");
    free(list);
}
END_TEST

/* The arm of kit K as the unblinded pharmacist's kit listing shows it (static buffer). */
static const char *kit_arm(const char *kit)
{
    static char arm[40];
    ctm_kit_filter f = CTM_KIT_FILTER_INIT;
    f.trial = TRIAL;
    ctm_query *q = NULL;
    tu_ok(ctm_kits(&q, db, &f));
    arm[0] = '\0';
    while (ctm_query_next(q) == CTM_ROW)
        if (strcmp(ctm_query_text(q, col(q, "kit_number")), kit) == 0)
            snprintf(arm, sizeof arm, "%s", ctm_query_text(q, col(q, "arm")));
    ctm_query_free(q);
    return arm;
}

START_TEST(kit_list_gives_the_arms_of_a_manifest_without_them)
{
    static const char list[] = "kit_number,arm\nK1," ARM_A "\nK2," ARM_B "\n";
    tu_ok(ctm_random_import(db, TRIAL, "kits", list, sizeof list - 1, NULL));
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, list, sizeof list - 1, NULL),
                     CTM_EEXISTS);
    static const char no_arms[] = "kit_number,kit_type,lot,expiry\nK1,KT,L1,2030-01-31\n"
                                  "K2,KT,L1,2030-01-31\n";
    tu_ok(ctm_receive(db, TRIAL, "SH1", no_arms, sizeof no_arms - 1, "FRIDGE1", NULL));
    ck_assert_str_eq(kit_arm("K1"), ARM_A);
    ck_assert_str_eq(kit_arm("K2"), ARM_B);
    /* a kit the list does not know still needs its arm; one the list knows must agree */
    uint64_t before = tu_audit_size(db);
    static const char unknown[] = "kit_number,kit_type,lot,expiry\nK3,KT,L1,2030-01-31\n";
    ck_assert_int_eq(ctm_receive(db, TRIAL, "SH2", unknown, sizeof unknown - 1, "FRIDGE1", NULL),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "not on the trial's kit list"));
    static const char differs[] = "kit_number,kit_type,lot,expiry,arm\n"
                                  "K4,KT,L1,2030-01-31," ARM_A "\n";
    static const char list2[] = "kit_number,arm\nK4," ARM_B "\n";
    tu_ok(ctm_random_import(db, TRIAL, "kits", list2, sizeof list2 - 1, NULL));
    before = tu_audit_size(db);
    ck_assert_int_eq(ctm_receive(db, TRIAL, "SH2", differs, sizeof differs - 1, "FRIDGE1", NULL),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "line 2, field arm: differs from the trial's kit list"));
    ck_assert_ptr_null(strstr(ctm_errmsg(), ARM_A));
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* a kit list that disagrees with a kit received from a manifest with arms is refused */
    static const char arms[] = "kit_number,kit_type,lot,expiry,arm\nK5,KT,L1,2030-01-31," ARM_A "\n";
    tu_ok(ctm_receive(db, TRIAL, "SH3", arms, sizeof arms - 1, "FRIDGE1", NULL));
    static const char list3[] = "kit_number,arm\nK5," ARM_B "\n";
    before = tu_audit_size(db);
    ck_assert_int_eq(ctm_random_import(db, TRIAL, "kits", list3, sizeof list3 - 1, NULL),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "line 2, field arm: kit K5 was received"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* the kit list is the unblinded pharmacist's to import */
    ctm_logout(db);
    tu_login(db, "bob", PW);
    ck_assert_int_eq(ctm_random_import(db, TRIAL, "kits", list2, sizeof list2 - 1, NULL),
                     CTM_EBLINDED);
}
END_TEST

/* A blinded receiver's manifest may not test guessed arms against the kit list: whatever arm a
 * line gives a listed kit, the answer is the same (and nothing is written), so no probe with a
 * bad line after it tells the kit's arm. */
START_TEST(blinded_receiver_cannot_test_arms_against_the_kit_list)
{
    static const char list[] = "kit_number,arm\nK1," ARM_A "\n";
    tu_ok(ctm_random_import(db, TRIAL, "kits", list, sizeof list - 1, NULL));
    ctm_logout(db);
    tu_login(db, "bob", PW);
    uint64_t before = tu_audit_size(db);
    static const char right[] = "kit_number,kit_type,lot,expiry,arm\n"
                                "K1,KT,L1,2030-01-31," ARM_A "\nK2,NOTYPE,L1,2030-01-31,\n";
    static const char wrong[] = "kit_number,kit_type,lot,expiry,arm\n"
                                "K1,KT,L1,2030-01-31," ARM_B "\nK2,NOTYPE,L1,2030-01-31,\n";
    int rc_right = ctm_receive(db, TRIAL, "SH1", right, sizeof right - 1, "FRIDGE1", NULL);
    char msg_right[512];
    snprintf(msg_right, sizeof msg_right, "%s", ctm_errmsg());
    int rc_wrong = ctm_receive(db, TRIAL, "SH1", wrong, sizeof wrong - 1, "FRIDGE1", NULL);
    ck_assert_int_eq(rc_right, rc_wrong);
    ck_assert_str_eq(msg_right, ctm_errmsg());
    ck_assert_int_eq(rc_wrong, CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "line 2, field arm"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* without the arm the kit list gives it, and blinded staff receive the kit */
    static const char none[] = "kit_number,kit_type,lot,expiry,arm\nK1,KT,L1,2030-01-31,\n";
    tu_ok(ctm_receive(db, TRIAL, "SH1", none, sizeof none - 1, "FRIDGE1", NULL));
    ctm_logout(db);
    tu_login(db, "pia", PW);
    ck_assert_str_eq(kit_arm("K1"), ARM_A);
}
END_TEST

/* ---- subjects ---- */

START_TEST(randomization_needs_every_factor_and_happens_once)
{
    ctm_random_options o = opts(STRATA, SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 12, "3,6", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-001", "sex=M"));
    ck_assert_int_eq(ctm_subject_add(db, TRIAL, "S-001", NULL), CTM_EEXISTS);
    ck_assert_int_eq(ctm_subject_add(db, TRIAL, "S-002", "sex=X"), CTM_EINVAL);
    ck_assert_int_eq(ctm_subject_add(db, TRIAL, "bad number!", NULL), CTM_EINVAL);
    /* a control character is not echoed raw into the message (logs, terminals) */
    ck_assert_int_eq(ctm_subject_add(db, TRIAL, "S\n\033[2J", NULL), CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "'S\\x0a\\x1b[2J'"));
    uint64_t before = tu_audit_size(db);
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    ck_assert_int_eq(ctm_randomize(db, TRIAL, "S-001", &r), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "age"));
    ck_assert_uint_eq(tu_audit_size(db), before);
    tu_ok(ctm_subject_set_strata(db, TRIAL, "S-001", "age=ge65"));
    tu_ok(ctm_randomize(db, TRIAL, "S-001", &r));
    ck_assert_str_eq(r.stratum, "sex=M,age=ge65");
    /* M/ge65 is the second stratum, the first factor slowest: 2 * 100000 + position */
    ck_assert_str_eq(r.number, "200001");
    before = tu_audit_size(db);
    ck_assert_int_eq(ctm_randomize(db, TRIAL, "S-001", &r), CTM_ERULE);
    ck_assert_int_eq(ctm_subject_set_strata(db, TRIAL, "S-001", "sex=F"), CTM_ERULE);
    ck_assert_uint_eq(tu_audit_size(db), before);
    ck_assert_int_eq(scheme_int(db, TRIAL, "allocated"), 1);
    /* the end of participation follows the status table */
    ck_assert_int_eq(ctm_subject_withdraw(db, TRIAL, "S-001", NULL), CTM_EINVAL);
    tu_ok(ctm_subject_complete(db, TRIAL, "S-001", NULL));
    ck_assert_int_eq(ctm_subject_withdraw(db, TRIAL, "S-001", "moved away"), CTM_ERULE);
    tu_ok(ctm_subject_add(db, TRIAL, "S-003", NULL));
    ck_assert_int_eq(ctm_subject_complete(db, TRIAL, "S-003", NULL), CTM_ERULE);
    tu_ok(ctm_subject_withdraw(db, TRIAL, "S-003", "screening failure"));
    ck_assert_int_eq(ctm_randomize(db, TRIAL, "S-003", &r), CTM_ERULE);
    ctm_query *q = NULL;
    tu_ok(ctm_subject_show(&q, db, TRIAL, "S-003"));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    ck_assert_str_eq(ctm_query_text(q, col(q, "status")), "withdrawn");
    ck_assert_ptr_nonnull(ctm_query_text(q, col(q, "ended")));
    ctm_query_free(q);
    tu_assert_verifies_all(db, NULL);
}
END_TEST


/* ---- minimization ---- */

#define MIN_STRATA "site=SE1,SE2,SE3;sex=M,F;age=lt65,ge65"

static const char *scheme_text(ctm_db *h, const char *trial, const char *name, char *out,
                               size_t n)
{
    ctm_query *q = NULL;
    tu_ok(ctm_random_scheme(&q, h, trial));
    ck_assert_int_eq(ctm_query_next(q), CTM_ROW);
    const char *v = ctm_query_text(q, col(q, name));
    snprintf(out, n, "%s", v ? v : "(null)");
    ctm_query_free(q);
    return out;
}

START_TEST(minimization_scheme_checked_and_replaced_only_while_unused)
{
    uint64_t before = tu_audit_size(db);
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:1,sex:1", 0.0, NULL),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "p:"));
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:1,sex:1", 1.5, NULL),
                     CTM_EINVAL);
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:1", 0.8, "median"),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "method"));
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, "weight:1", 0.8, NULL),
                     CTM_EINVAL);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "strata weights"));
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, NULL, 0.8, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, NULL, "site:1", 0.8, NULL), CTM_EINVAL);
    ck_assert_int_eq(ctm_random_minimization(db, "NO-SUCH", MIN_STRATA, "site:1", 0.8, NULL),
                     CTM_ENOTFOUND);
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* An unused list is replaced by minimization, and minimization by another. */
    ctm_random_options o = opts(STRATA, SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 6, "3", &o));
    tu_ok(ctm_random_minimization(db, TRIAL, MIN_STRATA, "sex:2,site:1.50", 0.8, NULL));
    ck_assert_int_eq(scheme_int(db, TRIAL, "rows"), 0);
    char v[128];
    ck_assert_str_eq(scheme_text(db, TRIAL, "weights", v, sizeof v), "site:1.5,sex:2");
    /* ... and an unused minimization scheme by a list, and back */
    tu_ok(ctm_random_generate(db, TRIAL, 6, "3", &o));
    ck_assert_str_eq(scheme_text(db, TRIAL, "method", v, sizeof v), "list");
    tu_ok(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:1,sex:2,age:0.125", 0.75,
                                  "variance"));
    ck_assert_str_eq(scheme_text(db, TRIAL, "method", v, sizeof v), "minimization");
    ck_assert_str_eq(scheme_text(db, TRIAL, "source", v, sizeof v), "minimization");
    ck_assert_str_eq(scheme_text(db, TRIAL, "strata", v, sizeof v), MIN_STRATA);
    ck_assert_str_eq(scheme_text(db, TRIAL, "weights", v, sizeof v), "site:1,sex:2,age:0.125");
    ck_assert_str_eq(scheme_text(db, TRIAL, "imbalance", v, sizeof v), "variance");
    ck_assert_str_eq(scheme_text(db, TRIAL, "p", v, sizeof v), "0.75");
    /* A list cannot be extended from it; once a subject is randomized nothing replaces it. */
    ctm_random_options ext = opts(NULL, NULL, 1);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 6, "3", &ext), CTM_ERULE);
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", "site=SE2,sex=F,age=ge65"));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S-1", &r));
    ck_assert_str_eq(r.number, "1");
    ck_assert_str_eq(r.stratum, "site=SE2,sex=F,age=ge65");
    ck_assert(strcmp(r.arm, ARM_A) == 0 || strcmp(r.arm, ARM_B) == 0);
    ck_assert_int_eq(scheme_int(db, TRIAL, "allocated"), 1);
    before = tu_audit_size(db);
    ck_assert_int_eq(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:1", 0.8, NULL),
                     CTM_ERULE);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 6, "3", &o), CTM_ERULE);
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* who may: unblinded administrators and pharmacists */
    ctm_logout(db);
    tu_login(db, "bob", PW);
    ck_assert_int_eq(ctm_random_minimization(db, OPEN_TRIAL, MIN_STRATA, "site:1", 0.8, NULL),
                     CTM_EBLINDED);
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    ck_assert_int_eq(ctm_random_minimization(db, OPEN_TRIAL, MIN_STRATA, "site:1", 0.8, NULL),
                     CTM_EDENIED);
    ck_assert_uint_eq(tu_audit_size(db), before);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* The value after `key` in a JSON text, up to the next '"' (a string value) or ']' / ',' (a
 * number): enough for the flat objects of params and the [old,new] pairs of changes. */
static int json_after(const char *json, const char *key, char *out, size_t n)
{
    const char *p = strstr(json, key);
    if (p == NULL)
        return 0;
    int string = key[strlen(key) - 1] == '"';
    p += strlen(key);
    size_t i = 0;
    while (p[i] != '\0' && p[i] != '"' && (string || (p[i] != ']' && p[i] != ',')) && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
    return 1;
}

/* Randomize subjects of random strata by minimization, withdrawing and completing some on the
 * way; then, from the unblinded audit log alone (each subject.randomize entry's stratum
 * parameter and its subjects row change: arm and draw), replay every assignment through the
 * minimizer in ledger order: each gives the recorded arm, and every prior subject counts. */
START_TEST(minimization_replays_exactly_from_the_audit_log)
{
    enum { N = 100 };
    const char *weights = "site:1,sex:2,age:0.5";
    const double p = 0.8;
    tu_ok(ctm_random_minimization(db, TRIAL, MIN_STRATA, weights, p, "range"));
    uint64_t start = tu_audit_size(db);
    static const char *const sites[] = { "SE1", "SE2", "SE3" };
    for (int i = 0; i < N; i++) {
        char screening[16], strata[64];
        uint32_t r = randombytes_uniform(12);
        snprintf(screening, sizeof screening, "S-%03d", i + 1);
        snprintf(strata, sizeof strata, "age=%s,site=%s,sex=%s", r & 1 ? "ge65" : "lt65",
                 sites[r / 4], r & 2 ? "F" : "M");
        tu_ok(ctm_subject_add(db, TRIAL, screening, strata));
        ctm_randomization res = CTM_RANDOMIZATION_INIT;
        tu_ok(ctm_randomize(db, TRIAL, screening, &res));
        char number[16];
        snprintf(number, sizeof number, "%d", i + 1);
        ck_assert_str_eq(res.number, number);
        if (i % 9 == 4)
            tu_ok(ctm_subject_withdraw(db, TRIAL, screening, "moved away"));
        else if (i % 11 == 7)
            tu_ok(ctm_subject_complete(db, TRIAL, screening, NULL));
    }
    ck_assert_int_eq(scheme_int(db, TRIAL, "allocated"), N);

    ctm__strata spec;
    double w[CTM__STRATA_MAX_FACTORS];
    tu_ok(ctm__strata_parse(&spec, MIN_STRATA));
    tu_ok(ctm__strata_weights(&spec, weights, w));
    static const int ratios[2] = { 2, 1 }; /* ARM_A:2, ARM_B:1 */
    ctm__minim m = { 2, ratios, spec.nfactors, w, CTM__IMBALANCE_RANGE, p };
    int counts[2 * CTM__STRATA_MAX_FACTORS * CTM__STRATA_MAX_LEVELS] = { 0 };
    int replayed = 0, arm_count[2] = { 0, 0 }, draws_differ = 0;
    int64_t first_draw = -1;
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, start, 0));
    int rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        if (strcmp(ctm_query_text(q, col(q, "action")), "subject.randomize") != 0)
            continue;
        const char *params = ctm_query_text(q, col(q, "params"));
        const char *changes = ctm_query_text(q, col(q, "changes"));
        char stratum[128], arm[40], draw_text[24];
        ck_assert(json_after(params, "\"stratum\":\"", stratum, sizeof stratum));
        ck_assert(json_after(changes, "\"arm\":[null,\"", arm, sizeof arm));
        ck_assert(json_after(changes, "\"draw\":[null,", draw_text, sizeof draw_text));
        int64_t draw = strtoll(draw_text, NULL, 10);
        ck_assert(draw >= 0 && draw <= 0xffffffffLL);
        if (first_draw < 0)
            first_draw = draw;
        else if (draw != first_draw)
            draws_differ = 1;
        int level[CTM__STRATA_MAX_FACTORS];
        tu_ok(ctm__strata_values(&spec, stratum, level));
        int expected = -1;
        tu_ok(ctm__minimize(&m, counts, CTM__STRATA_MAX_LEVELS, level, (uint32_t)draw, &expected,
                            NULL, NULL));
        const char *expected_arm = expected == 0 ? ARM_A : ARM_B;
        ck_assert_msg(strcmp(arm, expected_arm) == 0, "subject %d: recorded %s, replay gives %s",
                      replayed + 1, arm, expected_arm);
        for (int f = 0; f < spec.nfactors; f++)
            counts[(expected * spec.nfactors + f) * CTM__STRATA_MAX_LEVELS + level[f]]++;
        arm_count[expected]++;
        replayed++;
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    ck_assert_int_eq(replayed, N);
    ck_assert(draws_differ);
    /* Not a proof of balance, but a 2:1 design ends far from 1:1 or all to one arm. */
    ck_assert_int_gt(arm_count[0], arm_count[1]);
    ck_assert_int_gt(arm_count[1], N / 5);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* The published case (tests/data/randomization/minimization.tsv, PMC6547231 Table 4) through
 * ctm_randomize: 1:1, site, sex and age weighted 1, range, p = 1.  The prior subjects are chosen
 * so that every assignment after the first is forced (no tie: the draw does not matter), and they
 * leave at the new subject's levels (site 2, female, >= 65) the published counts: control 3, 3,
 * 3; treatment 5, 3, 3.  The first subject ties (empty trial), so "control" is whichever arm it
 * got; the design is symmetric in the arms.  Site 3 exists only to reach those counts with forced
 * steps; the range method reads counts at the subject's levels alone. */
START_TEST(minimization_published_case_end_to_end)
{
    tu_ok(ctm_random_minimization(db, OPEN_TRIAL, "site=1,2,3;sex=male,female;age=lt65,ge65",
                                  "site:1,sex:1,age:1", 1.0, NULL));
    static const struct {
        const char *strata;
        int control; /* 1: the arm of the first subject, 0: the other */
    } prior[] = {
        { "site=1,sex=male,age=lt65", 1 },   { "site=2,sex=male,age=lt65", 0 },
        { "site=2,sex=male,age=lt65", 1 },   { "site=2,sex=male,age=ge65", 0 },
        { "site=2,sex=female,age=ge65", 1 }, { "site=2,sex=female,age=ge65", 0 },
        { "site=2,sex=female,age=ge65", 1 }, { "site=2,sex=female,age=ge65", 0 },
        { "site=3,sex=female,age=ge65", 1 }, { "site=2,sex=female,age=lt65", 0 },
        { "site=2,sex=female,age=ge65", 1 }, /* the new subject: control */
    };
    char control[40] = "";
    for (size_t i = 0; i < sizeof prior / sizeof prior[0]; i++) {
        char screening[16];
        snprintf(screening, sizeof screening, "P-%02zu", i + 1);
        tu_ok(ctm_subject_add(db, OPEN_TRIAL, screening, prior[i].strata));
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        tu_ok(ctm_randomize(db, OPEN_TRIAL, screening, &r));
        if (i == 0)
            snprintf(control, sizeof control, "%s", r.arm);
        ck_assert_msg((strcmp(r.arm, control) == 0) == prior[i].control,
                      "subject %zu (%s) went to %s", i + 1, prior[i].strata, r.arm);
    }
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* A list replaced, before anyone was randomized, by one of other strata: a subject enrolled under
 * the old ones is not stuck; the values of factors the list no longer has are not known. */
START_TEST(subjects_enrolled_under_replaced_strata_can_be_stratified_again)
{
    ctm_random_options o = opts("sex=M,F", SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 4, "3", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", "sex=M"));
    o = opts("age=lt65,ge65", SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 4, "3", &o));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    ck_assert_int_eq(ctm_randomize(db, TRIAL, "S-1", &r), CTM_ERULE);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "not known yet: age"));
    tu_ok(ctm_subject_set_strata(db, TRIAL, "S-1", "age=ge65"));
    tu_ok(ctm_randomize(db, TRIAL, "S-1", &r));
    ck_assert_str_eq(r.stratum, "age=ge65");
}
END_TEST

/* ---- concurrent writers ---- */

#define RACERS 4
#define RACE_SUBJECTS 12

/* One workstation: randomizes every subject, starting at its own offset; exits with how many
 * it randomized (the others are taken: CTM_ERULE), or 100 + an unexpected status. */
static void racer(int w)
{
    ctm_db *h = NULL;
    if (tu_open_rc(&h, db_path, NULL) != CTM_OK || ctm_login(h, "ivy", PW) != CTM_OK)
        _exit(99);
    int won = 0;
    for (int i = 0; i < RACE_SUBJECTS; i++) {
        char subject[16];
        snprintf(subject, sizeof subject, "S-%02d", (i + w * 3) % RACE_SUBJECTS);
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        int rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < 200; tries++) {
            rc = ctm_randomize(h, TRIAL, subject, &r);
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc == CTM_OK)
            won++;
        else if (rc != CTM_ERULE) {
            fprintf(stderr, "racer %d, %s: %d %s\n", w, subject, rc, ctm_errmsg());
            _exit(100 + (rc < 0 ? -rc : rc) % 100);
        }
    }
    ctm_close(h);
    _exit(won);
}

START_TEST(concurrent_randomizations_take_each_row_and_subject_once)
{
    /* two strata, so that rows of one stratum are never taken by the other's subjects */
    ctm_random_options o = opts("sex=M,F", SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 10, "3,6", &o));
    for (int i = 0; i < RACE_SUBJECTS; i++) {
        char subject[16];
        snprintf(subject, sizeof subject, "S-%02d", i);
        tu_ok(ctm_subject_add(db, TRIAL, subject, i % 2 ? "sex=M" : "sex=F"));
    }
    uint64_t before = tu_audit_size(db);
    pid_t pids[RACERS];
    for (int w = 0; w < RACERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0)
            racer(w);
    }
    int won = 0;
    for (int w = 0; w < RACERS; w++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) <= RACE_SUBJECTS,
                      "racer %d failed (status %d): see its message above", w, status);
        won += WEXITSTATUS(status);
    }
    /* every subject once, one entry each; each stratum's first rows, each to one subject */
    ck_assert_int_eq(won, RACE_SUBJECTS);
    ck_assert_uint_eq(tu_audit_size(db), before + RACE_SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(DISTINCT subject_id) FROM rand_list", NULL),
                     RACE_SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM rand_list WHERE subject_id IS NOT"
                                         " NULL AND position > 6", NULL),
                     0);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM subjects s JOIN rand_list l ON"
                                         " l.subject_id = s.id AND l.number = s.rand_number AND"
                                         " l.arm = s.arm AND l.stratum = s.strata"
                                         " WHERE s.status = 'randomized'", NULL),
                     RACE_SUBJECTS);
    tu_assert_verifies_all(db, NULL);
}
END_TEST

/* What a racer does while the parent holds the writer lock in a batch. */
enum race_call { RACE_GENERATE, RACE_RANDOMIZE, RACE_RECEIVE };

/* A second workstation that makes its checks while the parent's batch holds the writer lock,
 * then waits for the lock: its call must still judge by what the batch committed.  Returns the
 * racer's status (the child exits with its negation).  The child is forked before the batch
 * begins: SQLite's locks are per process, and a child forked while its parent holds one would
 * inherit the parent's view of it. */
static int race_against_batch(enum race_call call, void (*in_batch)(void))
{
    int ready[2], go[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ctm_db *h = NULL;
        char c;
        if (tu_open_rc(&h, db_path, NULL) != CTM_OK || ctm_login(h, "pia", PW) != CTM_OK ||
            write(ready[1], "x", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(99);
        int rc;
        if (call == RACE_GENERATE) {
            ctm_random_options o = opts("sex=M,F", NULL, 0);
            rc = ctm_random_generate(h, TRIAL, 4, "3", &o);
        } else if (call == RACE_RANDOMIZE) {
            ctm_randomization r = CTM_RANDOMIZATION_INIT;
            rc = ctm_randomize(h, TRIAL, "S-1", &r);
        } else {
            static const char m[] = "kit_number,kit_type,lot,expiry,arm\n"
                                    "K1,KT,L1,2030-01-31," ARM_B "\n";
            rc = ctm_receive(h, TRIAL, "SH1", m, sizeof m - 1, "FRIDGE1", NULL);
        }
        ctm_close(h);
        _exit(-rc); /* statuses are 0 or negative */
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    tu_ok(ctm_batch_begin(db));
    in_batch();
    ck_assert_int_eq(write(go[1], "x", 1), 1);
    /* the racer's checks take milliseconds; then it waits for the lock */
    nanosleep(&(struct timespec){0, 150000000}, NULL);
    tu_ok(ctm_batch_commit(db));
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 99);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    return -WEXITSTATUS(status);
}

static void randomize_s1(void)
{
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S-1", &r));
}

static void s1_becomes_female(void)
{
    tu_ok(ctm_subject_set_strata(db, TRIAL, "S-1", "sex=F"));
}

START_TEST(a_list_replaced_while_a_subject_is_randomized_keeps_the_allocation)
{
    ctm_random_options o = opts("sex=M,F", SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 4, "3", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", "sex=M"));
    int rc = race_against_batch(RACE_GENERATE, randomize_s1);
    ck_assert_int_eq(rc, CTM_ERULE);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM subjects s JOIN rand_list l ON"
                                         " l.subject_id = s.id AND l.number = s.rand_number",
                                NULL),
                     1);
    ck_assert_int_eq(scheme_int(db, TRIAL, "allocated"), 1);
}
END_TEST

static void import_kit_list(void)
{
    static const char list[] = "kit_number,arm\nK1," ARM_A "\n";
    tu_ok(ctm_random_import(db, TRIAL, "kits", list, sizeof list - 1, NULL));
}

START_TEST(a_receipt_checks_the_kit_list_imported_meanwhile)
{
    ck_assert_int_eq(race_against_batch(RACE_RECEIVE, import_kit_list), CTM_EINVAL);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kits", NULL), 0);
}
END_TEST

START_TEST(strata_changed_while_randomizing_give_the_new_stratum)
{
    ctm_random_options o = opts("sex=M,F", SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 4, "3", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", "sex=M"));
    int rc = race_against_batch(RACE_RANDOMIZE, s1_becomes_female);
    ck_assert_int_eq(rc, CTM_OK);
    /* the subject's row is of the stratum the subject is in */
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM subjects s JOIN rand_list l ON"
                                         " l.subject_id = s.id AND l.stratum = s.strata"
                                         " WHERE s.strata = 'sex=F'",
                                NULL),
                     1);
}
END_TEST

/* ---- blinding ---- */

/* Every row of q, all columns, as one text (malloc'd). */
static char *query_dump(ctm_query *q)
{
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    while (ctm_query_next(q) == CTM_ROW)
        for (int c = 0; c < ctm_query_column_count(q); c++) {
            const char *t = ctm_query_text(q, c);
            n += (size_t)snprintf(out + n, cap - n, "%s|", t ? t : "");
            ck_assert_uint_lt(n, cap);
        }
    ctm_query_free(q);
    return out;
}

static void assert_no_arm(const char *what, const char *text)
{
    ck_assert_msg(strstr(text, ARM_A) == NULL && strstr(text, ARM_B) == NULL,
                  "%s shows an arm to a blinded user", what);
    ck_assert_msg(strstr(text, SEED) == NULL, "%s shows the seed to a blinded user", what);
}

START_TEST(blinded_users_learn_no_arm_list_or_seed)
{
    /* The arm codes themselves are public (the trial's entry lists them): what must stay hidden
     * is which arm each list row, subject and block has, from here on. */
    uint64_t start = tu_audit_size(db);
    ctm_random_options o = opts(STRATA, SEED, 0);
    tu_ok(ctm_random_generate(db, TRIAL, 6, "3,6", &o));
    tu_ok(ctm_subject_add(db, TRIAL, "S-001", "sex=F,age=lt65"));
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S-001", &r));
    ck_assert_str_eq(r.arm, "(blinded)");
    ck_assert_str_eq(r.number, "300001"); /* F/lt65: the third stratum */
    /* the calls that show a list are refused, changing nothing */
    ctm_query *q = NULL;
    ck_assert_int_eq(ctm_random_list(&q, db, TRIAL), CTM_EBLINDED);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 6, "3", &o), CTM_EDENIED);
    ctm_logout(db);
    tu_login(db, "bob", PW);
    uint64_t before = tu_audit_size(db);
    ck_assert_int_eq(ctm_random_generate(db, TRIAL, 6, "3", &o), CTM_EBLINDED);
    static const char list[] = "randomization_number,stratum,arm\nR-1,M/lt65," ARM_A "\n";
    ck_assert_int_eq(ctm_random_import(db, TRIAL, NULL, list, sizeof list - 1, &o), CTM_EBLINDED);
    ck_assert_uint_eq(tu_audit_size(db), before);
    /* every read call as the blinded pharmacist: no arm, no seed, no block size */
    tu_ok(ctm_random_scheme(&q, db, TRIAL));
    char *text = query_dump(q);
    assert_no_arm("ctm_random_scheme", text);
    ck_assert_ptr_nonnull(strstr(text, "(blinded)"));
    ck_assert_ptr_null(strstr(text, "3,6"));
    free(text);
    tu_ok(ctm_subject_list(&q, db, NULL));
    text = query_dump(q);
    assert_no_arm("ctm_subject_list", text);
    free(text);
    tu_ok(ctm_subject_show(&q, db, TRIAL, "S-001"));
    text = query_dump(q);
    assert_no_arm("ctm_subject_show", text);
    free(text);
    tu_ok(ctm_audit_log(&q, db, start, 0));
    text = query_dump(q);
    assert_no_arm("ctm_audit_log", text);
    free(text);
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.trial = TRIAL;
    f.from_seq = start;
    tu_ok(ctm_audit_query(&q, db, &f));
    text = query_dump(q);
    assert_no_arm("ctm_audit_query", text);
    free(text);
    /* The unblinded pharmacist sees them: the test above could fail. */
    ctm_logout(db);
    tu_login(db, "pia", PW);
    tu_ok(ctm_audit_log(&q, db, start, 0));
    text = query_dump(q);
    ck_assert_ptr_nonnull(strstr(text, ARM_A));
    free(text);
    tu_ok(ctm_random_scheme(&q, db, TRIAL));
    text = query_dump(q);
    ck_assert_ptr_nonnull(strstr(text, SEED));
    free(text);
}
END_TEST

START_TEST(open_trial_arms_shown_to_blinded_users_but_not_its_list)
{
    ctm_random_options o = opts(NULL, SEED, 0);
    tu_ok(ctm_random_generate(db, OPEN_TRIAL, 4, "2,4", &o));
    tu_ok(ctm_subject_add(db, OPEN_TRIAL, "S-9", NULL));
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, OPEN_TRIAL, "S-9", &r));
    ck_assert(strcmp(r.arm, ARM_A) == 0 || strcmp(r.arm, ARM_B) == 0);
    ck_assert_str_eq(r.stratum, "");
    ck_assert_str_eq(r.number, "100001");
    ctm_query *q = NULL;
    /* allocation concealment: the next allocations stay hidden in an open trial too */
    ck_assert_int_eq(ctm_random_list(&q, db, OPEN_TRIAL), CTM_EBLINDED);
}
END_TEST

/* Minimization: the arm, the draw, the weights and p stay hidden from blinded users in every
 * listing and the audit log; the unblinded pharmacist sees them (so the checks could fail). */
START_TEST(blinded_users_learn_no_minimization_arm_draw_or_weights)
{
    uint64_t start = tu_audit_size(db);
    tu_ok(ctm_random_minimization(db, TRIAL, MIN_STRATA, "site:3,sex:1", 0.65, "variance"));
    tu_ok(ctm_subject_add(db, TRIAL, "S-1", "site=SE1,sex=F,age=lt65"));
    ctm_logout(db);
    tu_login(db, "ivy", PW);
    tu_ok(ctm_subject_add(db, TRIAL, "S-2", "site=SE1,sex=F,age=lt65"));
    ctm_randomization r = CTM_RANDOMIZATION_INIT;
    tu_ok(ctm_randomize(db, TRIAL, "S-1", &r));
    ck_assert_str_eq(r.arm, "(blinded)");
    tu_ok(ctm_randomize(db, TRIAL, "S-2", &r));
    ck_assert_str_eq(r.arm, "(blinded)");
    ck_assert_str_eq(r.number, "2");
    ctm_logout(db);
    tu_login(db, "bob", PW);
    uint64_t before = tu_audit_size(db);
    ck_assert_int_eq(ctm_random_minimization(db, OPEN_TRIAL, MIN_STRATA, "site:1", 0.8, NULL),
                     CTM_EBLINDED);
    ck_assert_uint_eq(tu_audit_size(db), before);
    static const char *const secrets[] = { "site:3", "0.65", "variance" };
    ctm_query *q = NULL;
    char *texts[5];
    tu_ok(ctm_random_scheme(&q, db, TRIAL));
    texts[0] = query_dump(q);
    ck_assert_ptr_nonnull(strstr(texts[0], "minimization"));
    ck_assert_ptr_nonnull(strstr(texts[0], MIN_STRATA));
    tu_ok(ctm_subject_list(&q, db, TRIAL));
    texts[1] = query_dump(q);
    tu_ok(ctm_subject_show(&q, db, TRIAL, "S-1"));
    texts[2] = query_dump(q);
    tu_ok(ctm_audit_log(&q, db, start, 0));
    texts[3] = query_dump(q);
    ck_assert_ptr_nonnull(strstr(texts[3], "\"draw\":[\"(blinded)\",\"(blinded)\"]"));
    ctm_audit_filter f = CTM_AUDIT_FILTER_INIT;
    f.trial = TRIAL;
    f.from_seq = start;
    tu_ok(ctm_audit_query(&q, db, &f));
    texts[4] = query_dump(q);
    ck_assert_ptr_nonnull(strstr(texts[4], "subject.randomize"));
    for (int i = 0; i < 5; i++) {
        assert_no_arm("a listing or the audit log", texts[i]);
        /* every draw a blinded reader meets is "(blinded)", old and new */
        int draws = 0, hidden = 0;
        for (const char *d = texts[i]; (d = strstr(d, "\"draw\":[")) != NULL; d++) {
            draws++;
            hidden += strncmp(d, "\"draw\":[\"(blinded)\",\"(blinded)\"]", 32) == 0;
        }
        ck_assert_int_eq(draws, hidden);
        for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++)
            ck_assert_msg(strstr(texts[i], secrets[k]) == NULL, "text %d shows %s", i,
                          secrets[k]);
        free(texts[i]);
    }
    ctm_logout(db);
    tu_login(db, "pia", PW);
    tu_ok(ctm_audit_log(&q, db, start, 0));
    char *text = query_dump(q);
    ck_assert_ptr_nonnull(strstr(text, "site:3"));
    ck_assert_ptr_nonnull(strstr(text, "\"draw\":[null,"));
    ck_assert(strstr(text, ARM_A) != NULL || strstr(text, ARM_B) != NULL);
    free(text);
    tu_ok(ctm_random_scheme(&q, db, TRIAL));
    text = query_dump(q);
    ck_assert_ptr_nonnull(strstr(text, "site:3,sex:1|variance|0.65|"));
    free(text);
}
END_TEST

static Suite *randomization_suite(void)
{
    Suite *s = suite_create("randomization");
    TCase *tc = tu_tcase(s, "generate", setup, teardown, 30);
    tcase_add_test(tc, generated_blocks_balanced_and_sizes_from_the_set);
    tcase_add_test(tc, same_seed_same_list_and_extension_keeps_rows);
    tcase_add_test(tc, bad_generation_refused_naming_the_field);
    tc = tu_tcase(s, "import", setup, teardown, 30);
    tcase_add_test(tc, import_checks_the_whole_file_first);
    tcase_add_test(tc, import_allocates_in_file_order_per_stratum);
    tcase_add_test(tc, blockrand_blocks_must_hold_the_ratio);
    tcase_add_test(tc, kit_list_gives_the_arms_of_a_manifest_without_them);
    tcase_add_test(tc, blinded_receiver_cannot_test_arms_against_the_kit_list);
    tc = tu_tcase(s, "subjects", setup, teardown, 30);
    tcase_add_test(tc, randomization_needs_every_factor_and_happens_once);
    tcase_add_test(tc, subjects_enrolled_under_replaced_strata_can_be_stratified_again);
    tcase_add_test(tc, concurrent_randomizations_take_each_row_and_subject_once);
    tcase_add_test(tc, a_list_replaced_while_a_subject_is_randomized_keeps_the_allocation);
    tcase_add_test(tc, strata_changed_while_randomizing_give_the_new_stratum);
    tcase_add_test(tc, a_receipt_checks_the_kit_list_imported_meanwhile);
    tc = tu_tcase(s, "minimization", setup, teardown, 60);
    tcase_add_test(tc, minimization_scheme_checked_and_replaced_only_while_unused);
    tcase_add_test(tc, minimization_replays_exactly_from_the_audit_log);
    tcase_add_test(tc, minimization_published_case_end_to_end);
    tc = tu_tcase(s, "blinding", setup, teardown, 30);
    tcase_add_test(tc, blinded_users_learn_no_arm_list_or_seed);
    tcase_add_test(tc, open_trial_arms_shown_to_blinded_users_but_not_its_list);
    tcase_add_test(tc, blinded_users_learn_no_minimization_arm_draw_or_weights);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(randomization_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    return rc;
}
