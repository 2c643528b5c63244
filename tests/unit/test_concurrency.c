/* test_concurrency.c - many workstations writing one site at once: nothing lost, nothing doubled,
 * entries in commit order, and the ledger verifies. */
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

#define PW "correct horse 1"
#define TRIAL "CONC-1"
#define WRITERS 8
#define ACTIONS 50
#define SCANS ((ACTIONS + 2) / 3)     /* actions 0, 3, 6, ...: a receipt scan */
#define MOVES ((ACTIONS + 1) / 3)     /* actions 1, 4, 7, ...: a transfer */
#define NOTES (ACTIONS / 3)           /* actions 2, 5, 8, ...: a note */
#define MAX_BUSY_RETRIES 200
#define RAND_TRIAL_CODE "CONC-R"
#define DISP_TRIAL_CODE "CONC-D"
#define RAND_TRIAL_ID "(SELECT id FROM trials WHERE code = 'CONC-R')"
/* Kits of each arm for every subject, and some to spare: the list's blocks leave at most a few
 * more subjects in one arm than in the other. */
#define DISP_KITS (2 * WRITERS * ACTIONS + 64)
/* Writers 2k and 2k + 1 both try to randomize subjects k * ACTIONS .. (k + 1) * ACTIONS - 1. */
#define SUBJECTS (WRITERS / 2 * ACTIONS)
/* Minimization: writers 2k and 2k + 1 both try subjects k * MIN_EACH .. (k + 1) * MIN_EACH - 1. */
#define MIN_TRIAL_CODE "CONC-M"
#define MIN_EACH 10
#define MIN_SUBJECTS (WRITERS / 2 * MIN_EACH)

static char *template_dir;
static char *vkey;
static uint64_t template_size;

static char *dir;
static char db_path[4096];

static void build_template(void)
{
    static const struct tu_user users[] = {
        {"pete", "pharmacist", 1, "Pete Ström", PW},
    };
    template_dir = tu_build_template("anna", "Anna Berg", PW, users, 1);
    if (template_dir == NULL)
        exit(EXIT_FAILURE);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", template_dir, TU_SITE_DB);
    ctm_db *db = NULL;
    tu_must(tu_open_rc(&db, path, NULL), "open");
    tu_must(ctm_login(db, "anna", PW), "login anna");
    tu_must(ctm_trial_add(db, TRIAL, "Concurrency trial", "Sponsor", 1, "A:1,B:1"), "trial");
    tu_must(ctm_trial_add(db, RAND_TRIAL_CODE, "Randomization race", "Sponsor", 1, "A:2,B:1"),
            "randomization trial");
    tu_must(ctm_trial_add(db, DISP_TRIAL_CODE, "Dispensing race", "Sponsor", 1, "A:1,B:1"),
            "dispensing trial");
    tu_must(ctm_kittype_add(db, TRIAL, "KT", "Drug", 30, 2, 8, 30, NULL), "kit type");
    tu_must(ctm_location_add(db, "FRIDGE1", "fridge", 2, 8), "fridge 1");
    tu_must(ctm_location_add(db, "FRIDGE2", "fridge", 2, 8), "fridge 2");
    tu_must(ctm_login(db, "pete", PW), "login pete");
    /* one shipment whose kits the writers scan, one confirmed kit per writer to move */
    char m[16384];
    size_t at = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    for (int w = 0; w < WRITERS; w++)
        for (int k = 0; k < SCANS; k++)
            at += (size_t)snprintf(m + at, sizeof m - at, "S%d-%02d,KT,L1,2030-01-31,%s\n", w, k,
                                   k % 2 ? "A" : "B");
    tu_must(ctm_receive(db, TRIAL, "SCAN", m, at, "FRIDGE1", NULL), "receive SCAN");
    at = (size_t)snprintf(m, sizeof m, "kit_number,kit_type,lot,expiry,arm\n");
    for (int w = 0; w < WRITERS; w++)
        at += (size_t)snprintf(m + at, sizeof m - at, "T%d,KT,L1,2030-01-31,%s\n", w,
                               w % 2 ? "A" : "B");
    tu_must(ctm_receive(db, TRIAL, "STOCK", m, at, "FRIDGE1", NULL), "receive STOCK");
    tu_must(ctm_receive_confirm(db, "STOCK", 1), "confirm STOCK");
    /* a list in one stratum, and the subjects that pairs of writers race to randomize */
    ctm_random_options ro = CTM_RANDOM_OPTIONS_INIT;
    tu_must(ctm_random_generate(db, RAND_TRIAL_CODE, 2 * SUBJECTS, "3,6", &ro), "list");
    tu_must(ctm_batch_begin(db), "batch");
    for (int i = 0; i < SUBJECTS; i++) {
        char screening[16];
        snprintf(screening, sizeof screening, "S-%03d", i);
        tu_must(ctm_subject_add(db, RAND_TRIAL_CODE, screening, NULL), "subject");
    }
    tu_must(ctm_batch_commit(db), "batch commit");
    tu_must(ctm_trial_add(db, MIN_TRIAL_CODE, "Minimization race", "Sponsor", 1, "A:1,B:1"),
            "minimization trial");
    tu_must(ctm_random_minimization(db, MIN_TRIAL_CODE, "sex=M,F;age=lt65,ge65",
                                    "sex:1,age:1", 0.8, NULL),
            "minimization");
    tu_must(ctm_batch_begin(db), "batch");
    for (int i = 0; i < MIN_SUBJECTS; i++) {
        char screening[16];
        snprintf(screening, sizeof screening, "M-%03d", i);
        tu_must(ctm_subject_add(db, MIN_TRIAL_CODE, screening,
                                i % 3 ? "sex=F,age=ge65" : "sex=M,age=ge65"),
                "subject");
    }
    tu_must(ctm_batch_commit(db), "batch commit");
    /* every writer's subjects randomized, kits of both arms for all of them and to spare */
    tu_must(ctm_kittype_add(db, DISP_TRIAL_CODE, "KT", "Drug", 30, 2, 8, 0, NULL), "kit type");
    tu_must(ctm_visit_add(db, DISP_TRIAL_CODE, "V1", 0, "randomization", "0..+3", "KT:1"), "visit");
    tu_must(ctm_random_generate(db, DISP_TRIAL_CODE, WRITERS * ACTIONS, "2,4", &ro), "list");
    size_t cap = 64 + (size_t)DISP_KITS * 40;
    char *kits = malloc(cap);
    if (kits == NULL)
        exit(EXIT_FAILURE);
    size_t klen = (size_t)snprintf(kits, cap, "kit_number,kit_type,lot,expiry,arm\n");
    for (int k = 0; k < DISP_KITS; k++)
        klen += (size_t)snprintf(kits + klen, cap - klen, "D%04d,KT,L1,2030-01-31,%s\n", k,
                                 k % 2 ? "A" : "B");
    tu_must(ctm_receive(db, DISP_TRIAL_CODE, "DISP", kits, klen, "FRIDGE1", NULL),
            "receive DISP");
    free(kits);
    tu_must(ctm_receive_confirm(db, "DISP", 1), "confirm DISP");
    tu_must(ctm_batch_begin(db), "batch");
    for (int i = 0; i < WRITERS * ACTIONS; i++) {
        char screening[16];
        ctm_randomization r = CTM_RANDOMIZATION_INIT;
        snprintf(screening, sizeof screening, "D-%03d", i);
        tu_must(ctm_subject_add(db, DISP_TRIAL_CODE, screening, NULL), "subject");
        tu_must(ctm_randomize(db, DISP_TRIAL_CODE, screening, &r), "randomize");
    }
    tu_must(ctm_batch_commit(db), "batch commit");
    tu_must(ctm_audit_vkey(&vkey, db), "vkey");
    tu_must(ctm_audit_size(db, &template_size), "size");
    ctm_close(db);
}

static void setup(void)
{
    dir = tu_test_dir(template_dir, TU_SITE_DB);
    snprintf(db_path, sizeof db_path, "%s/%s", dir, TU_SITE_DB);
}

static void teardown(void)
{
    tu_teardown(&dir, NULL, NULL);
}

/* The start line: every writer logs in first (Argon2id takes long enough to spread them out),
 * says it is ready, and waits until the parent has heard from all of them, so that their actions
 * overlap.  Set by run_writers before it forks. */
static int ready_pipe[2], go_pipe[2];

static void await_start(void)
{
    char c = 'r';
    close(ready_pipe[0]);
    close(go_pipe[1]);
    if (write(ready_pipe[1], &c, 1) != 1 || read(go_pipe[0], &c, 1) != 0)
        _exit(101);
}

/* One workstation: its own handle, 50 actions; a busy site is retried as a client would.  Exits
 * 0, or the number of the action that failed plus 1 (the error on stderr). */
static void writer(int w)
{
    ctm_db *db = NULL;
    if (tu_open_rc(&db, db_path, NULL) != CTM_OK || ctm_login(db, "pete", PW) != CTM_OK) {
        fprintf(stderr, "writer %d: %s\n", w, ctm_errmsg());
        _exit(100);
    }
    await_start();
    for (int j = 0; j < ACTIONS; j++) {
        int rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < MAX_BUSY_RETRIES; tries++) {
            char text[64], kit[16];
            if (j % 3 == 0) {
                ctm_scan_result r = {.struct_size = sizeof r};
                snprintf(kit, sizeof kit, "S%d-%02d", w, j / 3);
                rc = ctm_receive_scan(db, "SCAN", kit, 0, &r);
            } else if (j % 3 == 1) {
                snprintf(kit, sizeof kit, "T%d", w);
                const char *kits[] = {kit};
                rc = ctm_transfer(db, TRIAL, kits, 1, (j / 3) % 2 ? "FRIDGE1" : "FRIDGE2",
                                  "rebalancing");
            } else {
                snprintf(text, sizeof text, "writer %d action %02d", w, j);
                rc = ctm_audit_note(db, text, NULL);
            }
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc != CTM_OK) {
            fprintf(stderr, "writer %d action %d: %d %s\n", w, j, rc, ctm_errmsg());
            _exit(j + 1);
        }
    }
    ctm_close(db);
    _exit(0);
}

/* A workstation randomizing its pair's subjects: each attempt randomizes the subject or finds
 * it randomized by the other writer (CTM_ERULE); anything else fails the writer. */
static void randomizer(int w)
{
    ctm_db *db = NULL;
    if (tu_open_rc(&db, db_path, NULL) != CTM_OK || ctm_login(db, "pete", PW) != CTM_OK) {
        fprintf(stderr, "randomizer %d: %s\n", w, ctm_errmsg());
        _exit(100);
    }
    await_start();
    for (int j = 0; j < ACTIONS; j++) {
        char screening[16];
        /* the pair goes through its subjects in opposite orders, to meet in the middle */
        int k = w / 2 * ACTIONS + (w % 2 ? ACTIONS - 1 - j : j);
        snprintf(screening, sizeof screening, "S-%03d", k);
        int rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < MAX_BUSY_RETRIES; tries++) {
            ctm_randomization r = CTM_RANDOMIZATION_INIT;
            rc = ctm_randomize(db, RAND_TRIAL_CODE, screening, &r);
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc != CTM_OK && rc != CTM_ERULE) {
            fprintf(stderr, "randomizer %d subject %s: %d %s\n", w, screening, rc, ctm_errmsg());
            _exit(j + 1);
        }
    }
    ctm_close(db);
    _exit(0);
}

/* As randomizer, for the minimization trial's subjects. */
static void minimizer(int w)
{
    ctm_db *db = NULL;
    if (tu_open_rc(&db, db_path, NULL) != CTM_OK || ctm_login(db, "pete", PW) != CTM_OK) {
        fprintf(stderr, "minimizer %d: %s\n", w, ctm_errmsg());
        _exit(100);
    }
    await_start();
    for (int j = 0; j < MIN_EACH; j++) {
        char screening[16];
        int k = w / 2 * MIN_EACH + (w % 2 ? MIN_EACH - 1 - j : j);
        snprintf(screening, sizeof screening, "M-%03d", k);
        int rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < MAX_BUSY_RETRIES; tries++) {
            ctm_randomization r = CTM_RANDOMIZATION_INIT;
            rc = ctm_randomize(db, MIN_TRIAL_CODE, screening, &r);
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc != CTM_OK && rc != CTM_ERULE) {
            fprintf(stderr, "minimizer %d subject %s: %d %s\n", w, screening, rc, ctm_errmsg());
            _exit(j + 1);
        }
    }
    ctm_close(db);
    _exit(0);
}

/* A workstation dispensing its 50 subjects: each the kit the library chooses among those all
 * the writers draw from, then its scan-to-verify, e-signed. */
static void dispenser(int w)
{
    ctm_db *db = NULL;
    if (tu_open_rc(&db, db_path, NULL) != CTM_OK || ctm_login(db, "pete", PW) != CTM_OK) {
        fprintf(stderr, "dispenser %d: %s\n", w, ctm_errmsg());
        _exit(100);
    }
    await_start();
    for (int j = 0; j < ACTIONS; j++) {
        char screening[16], kit[48] = "";
        snprintf(screening, sizeof screening, "D-%03d", w * ACTIONS + j);
        int rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < MAX_BUSY_RETRIES; tries++) {
            ctm_query *q = NULL;
            rc = ctm_dispense_assign(&q, db, DISP_TRIAL_CODE, screening, "V1", NULL);
            if (rc == CTM_OK && ctm_query_next(q) == CTM_ROW)
                snprintf(kit, sizeof kit, "%s", ctm_query_text(q, 0));
            ctm_query_free(q);
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        const char *scans[] = {kit};
        if (rc == CTM_OK)
            rc = CTM_EBUSY;
        for (int tries = 0; rc == CTM_EBUSY && tries < MAX_BUSY_RETRIES; tries++) {
            rc = ctm_dispense_confirm(db, DISP_TRIAL_CODE, screening, scans, 1);
            if (rc == CTM_EBUSY)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc != CTM_OK) {
            fprintf(stderr, "dispenser %d subject %s: %d %s\n", w, screening, rc, ctm_errmsg());
            _exit(j + 1);
        }
    }
    ctm_close(db);
    _exit(0);
}

static void run_writers(void (*fn)(int))
{
    pid_t pids[WRITERS];
    ck_assert_int_eq(pipe(ready_pipe), 0);
    ck_assert_int_eq(pipe(go_pipe), 0);
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0)
            fn(w);
    }
    close(ready_pipe[1]);
    close(go_pipe[0]);
    char c;
    for (int w = 0; w < WRITERS; w++)
        if (read(ready_pipe[0], &c, 1) != 1)
            break; /* a writer failed before the start: waitpid below says which */
    close(go_pipe[1]); /* every writer's read returns 0: go */
    close(ready_pipe[0]);
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "writer %d failed (status %d): see its message above", w, status);
    }
}

static int field_index(ctm_query *q, const char *name)
{
    int i = ctm_query_column_index(q, name);
    ck_assert_msg(i >= 0, "no column %s", name);
    return i;
}

START_TEST(eight_workstations_lose_nothing)
{
    run_writers(writer);

    ctm_db *db = tu_open(db_path, NULL);
    tu_login(db, "anna", PW);
    /* nothing lost, nothing doubled: one entry per action, and the ledger verifies (at the end) */
    ck_assert_uint_eq(tu_audit_size(db), template_size + WRITERS * ACTIONS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kits k JOIN shipments s"
                                         " ON s.id = k.shipment_id WHERE s.number = 'SCAN'"
                                         " AND k.checked = 1", NULL),
                     WRITERS * SCANS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM kit_moves WHERE reason = ?1",
                                "rebalancing"),
                     WRITERS * MOVES);

    /* entries in commit order: times never go back along the log, each writer's notes appear
     * once each and in the order it wrote them */
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, template_size, 0));
    int time_col = field_index(q, "time"), action_col = field_index(q, "action"),
        params_col = field_index(q, "params");
    char last_time[40] = "";
    int next_note[WRITERS] = {0}, rows = 0, rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        rows++;
        const char *t = ctm_query_text(q, time_col);
        ck_assert_msg(strcmp(t, last_time) >= 0, "entry at %s after one at %s", t, last_time);
        snprintf(last_time, sizeof last_time, "%s", t);
        if (strcmp(ctm_query_text(q, action_col), "audit.note") != 0)
            continue;
        const char *p = strstr(ctm_query_text(q, params_col), "writer ");
        int w = -1, j = -1;
        ck_assert_msg(p != NULL && sscanf(p, "writer %d action %d", &w, &j) == 2 && w >= 0 &&
                          w < WRITERS,
                      "note params: %s", ctm_query_text(q, params_col));
        ck_assert_int_eq(j, 3 * next_note[w] + 2);
        next_note[w]++;
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ck_assert_int_eq(rows, WRITERS * ACTIONS);
    for (int w = 0; w < WRITERS; w++)
        ck_assert_int_eq(next_note[w], NOTES);
    ctm_query_free(q);
    tu_assert_verifies_all(db, vkey);
    ctm_close(db);
}
END_TEST

/* Eight workstations randomize at once, two racing for each subject and all for the list's next
 * row: every subject is randomized once, every row goes to one subject, the rows are taken in
 * list order without a gap, and each subject holds its row's number and arm. */
START_TEST(no_subject_randomized_twice_no_row_given_twice)
{
    run_writers(randomizer);
    ctm_db *db = tu_open(db_path, NULL);
    ck_assert_uint_eq(tu_audit_size(db), template_size + SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM subjects WHERE status = 'randomized'"
                                         " AND trial_id = " RAND_TRIAL_ID, NULL),
                     SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(DISTINCT subject_id) FROM rand_list"
                                         " WHERE trial_id = " RAND_TRIAL_ID, NULL),
                     SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM subjects s JOIN rand_list l"
                                         " ON l.subject_id = s.id AND l.number = s.rand_number"
                                         " AND l.arm = s.arm WHERE s.trial_id = " RAND_TRIAL_ID, NULL),
                     SUBJECTS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT max(position) FROM rand_list"
                                         " WHERE subject_id IS NOT NULL AND trial_id = " RAND_TRIAL_ID,
                                NULL),
                     SUBJECTS);
    tu_assert_verifies_all(db, vkey);
    ctm_close(db);
}
END_TEST

/* Eight workstations randomize by minimization at once, two racing for each subject: every
 * subject is randomized once, the numbers are 1..N without a gap or a repeat in ledger order,
 * and each assignment is the minimizer's from the counts of every subject before it in the
 * ledger (replayed from the audit log): none was computed from a stale history. */
START_TEST(minimization_sees_every_subject_before_it)
{
    run_writers(minimizer);
    ctm_db *db = tu_open(db_path, NULL);
    tu_login(db, "pete", PW);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(DISTINCT s.rand_number) FROM subjects s"
                                         " JOIN trials t ON t.id = s.trial_id WHERE t.code = ?1",
                                MIN_TRIAL_CODE),
                     MIN_SUBJECTS);
    ctm__strata spec;
    double weight[CTM__STRATA_MAX_FACTORS];
    tu_ok(ctm__strata_parse(&spec, "sex=M,F;age=lt65,ge65"));
    tu_ok(ctm__strata_weights(&spec, "sex:1,age:1", weight));
    static const int ratios[2] = { 1, 1 };
    ctm__minim m = { 2, ratios, spec.nfactors, weight, CTM__IMBALANCE_RANGE, 0.8 };
    int counts[2 * CTM__STRATA_MAX_FACTORS * CTM__STRATA_MAX_LEVELS] = { 0 };
    ctm_query *q = NULL;
    tu_ok(ctm_audit_log(&q, db, template_size, 0));
    int action_col = field_index(q, "action"), params_col = field_index(q, "params"),
        changes_col = field_index(q, "changes"), n = 0, rc;
    while ((rc = ctm_query_next(q)) == CTM_ROW) {
        const char *params = ctm_query_text(q, params_col);
        if (strcmp(ctm_query_text(q, action_col), "subject.randomize") != 0 ||
            strstr(params, "\"trial\":\"" MIN_TRIAL_CODE "\"") == NULL)
            continue;
        const char *changes = ctm_query_text(q, changes_col);
#define AFTER(text, key) (strstr(text, key) ? strstr(text, key) + strlen(key) : NULL)
        const char *s = AFTER(params, "\"stratum\":\"");
        const char *num = AFTER(changes, "\"rand_number\":[null,\"");
        const char *arm = AFTER(changes, "\"arm\":[null,\"");
        const char *draw = AFTER(changes, "\"draw\":[null,");
        ck_assert(s && num && arm && draw);
        char stratum[64];
        snprintf(stratum, sizeof stratum, "%.*s", (int)strcspn(s, "\""), s);
        int level[CTM__STRATA_MAX_FACTORS], a = -1;
        tu_ok(ctm__strata_values(&spec, stratum, level));
        tu_ok(ctm__minimize(&m, counts, CTM__STRATA_MAX_LEVELS, level,
                            (uint32_t)strtoll(draw, NULL, 10), &a, NULL, NULL));
        ck_assert_msg(arm[0] == "AB"[a] && arm[1] == '"', "entry %d: arm differs from replay",
                      n + 1);
        ck_assert_int_eq(atoi(num), n + 1);
        for (int f = 0; f < spec.nfactors; f++)
            counts[(a * spec.nfactors + f) * CTM__STRATA_MAX_LEVELS + level[f]]++;
        n++;
    }
    ck_assert_int_eq(rc, CTM_DONE);
    ctm_query_free(q);
    ck_assert_int_eq(n, MIN_SUBJECTS);
    ctm_close(db);
}
END_TEST

/* Eight workstations dispense at once from one fridge: every subject gets one kit, of its own
 * arm, no kit goes to two subjects, two entries per dispensing, and the ledger verifies. */
START_TEST(no_kit_dispensed_twice)
{
    run_writers(dispenser);
    ctm_db *db = tu_open(db_path, NULL);
    ck_assert_uint_eq(tu_audit_size(db), template_size + 2 * WRITERS * ACTIONS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM dispensations"
                                         " WHERE status = 'dispensed'", NULL),
                     WRITERS * ACTIONS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(DISTINCT kit_id) FROM dispensations",
                                NULL),
                     WRITERS * ACTIONS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(DISTINCT subject_id) FROM dispensations",
                                NULL),
                     WRITERS * ACTIONS);
    ck_assert_int_eq(tu_sql_int(db_path, "SELECT count(*) FROM dispensations d"
                                         " JOIN kits k ON k.id = d.kit_id"
                                         " JOIN subjects s ON s.id = d.subject_id"
                                         " WHERE k.arm = s.arm AND k.status = 'dispensed'", NULL),
                     WRITERS * ACTIONS);
    tu_assert_verifies_all(db, vkey);
    ctm_close(db);
}
END_TEST

static Suite *concurrency_suite(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tu_tcase(s, "one site", setup, teardown, 240);
    tcase_add_test(tc, eight_workstations_lose_nothing);
    tcase_add_test(tc, no_subject_randomized_twice_no_row_given_twice);
    tcase_add_test(tc, minimization_sees_every_subject_before_it);
    tcase_add_test(tc, no_kit_dispensed_twice);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    build_template();
    int rc = tu_run_suite(concurrency_suite());
    tu_rmtree(template_dir);
    free(template_dir);
    ctm_free(vkey);
    return rc;
}
