/* test_crash.c - kill the writer at any point: every acknowledged write survives, the interrupted
 * one is complete or absent, and the database verifies. */
#include <check.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctm.h"
#include "testutil.h"

#define PW "correct horse 1"
#define ROUNDS 12

static char *dir;
static char db_path[4096];

/* The writer: log in, then change rows and write notes (single actions and batches) until
 * killed, reporting each acknowledged entry count on the pipe. */
static void writer(int fd, unsigned seed)
{
    ctm_db *db = NULL;
    if (ctm_open(&db, db_path, NULL) != CTM_OK || ctm_login(db, "anna", PW) != CTM_OK)
        _exit(3);
    srand(seed);
    for (unsigned i = 0;; i++) {
        int rc;
        int entries = 1;
        switch (rand() % 4) {
        case 0:
            rc = ctm_user_set_role(db, "bob", (i & 1) ? "pharmacist" : "technician", (int)(i & 1),
                                   "rota change");
            break;
        case 1:
            rc = ctm_batch_begin(db);
            for (int k = 0; rc == CTM_OK && k < 20; k++)
                rc = ctm_audit_note(db, "batched note in a crash test", NULL);
            if (rc == CTM_OK)
                rc = ctm_batch_commit(db);
            entries = 20;
            break;
        default:
            rc = ctm_audit_note(db, "note in a crash test", (i & 1) ? "reviewed" : NULL);
            break;
        }
        if (rc != CTM_OK)
            _exit(4);
        /* acknowledged: the caller has been told it is durable */
        if (write(fd, &entries, sizeof entries) != (ssize_t)sizeof entries)
            _exit(5);
    }
}

static void setup(void)
{
    dir = tu_tmpdir();
    snprintf(db_path, sizeof db_path, "%s/crash.db", dir);
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    tu_ok(ctm_open(&db, db_path, &o));
    tu_ok(ctm_init(db, "Crash Test Pharmacy", NULL, "anna", "Anna Berg", PW));
    tu_ok(ctm_user_add(db, "bob", "pharmacist", 1, "Bob Ek", PW));
    ctm_close(db);
}

static void teardown(void)
{
    tu_teardown(&dir, NULL, NULL);
}

static uint64_t ledger_size(void)
{
    ctm_db *db = NULL;
    tu_ok(ctm_open(&db, db_path, NULL));
    uint64_t size = 0;
    tu_ok(ctm_audit_size(db, &size));
    ctm_close(db);
    return size;
}

START_TEST(killed_writer_loses_nothing_acknowledged)
{
    srand((unsigned)time(NULL));
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t before = ledger_size();
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            writer(fds[1], (unsigned)round * 7919u);
        }
        close(fds[1]);
        /* login takes a few hundred ms (Argon2id); kill somewhere in the writes after it */
        usleep(300000 + (useconds_t)(rand() % 400000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ck_assert_msg(WIFSIGNALED(status), "writer ended by itself (status %d)", status);
        uint64_t acked = 0;
        int n;
        while (read(fds[0], &n, sizeof n) == (ssize_t)sizeof n)
            acked += (uint64_t)n;
        close(fds[0]);

        ctm_db *db = NULL;
        tu_ok(ctm_open(&db, db_path, NULL));
        ctm_verify_result r = {.struct_size = sizeof r};
        int rc = ctm_audit_verify(db, NULL, NULL, &r);
        ck_assert_msg(rc == CTM_OK, "round %d: %s", round, ctm_errmsg());
        uint64_t after = 0;
        tu_ok(ctm_audit_size(db, &after));
        ctm_close(db);
        /* everything acknowledged is there; at most the one transaction in flight beyond it */
        ck_assert_msg(after >= before + acked, "round %d: %llu acknowledged, %llu found", round,
                      (unsigned long long)acked, (unsigned long long)(after - before));
        ck_assert_msg(after <= before + acked + 20, "round %d: %llu more entries than acknowledged",
                      round, (unsigned long long)(after - before - acked));
    }
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tu_tcase(s, "kill -9 during writes", setup, teardown, 240);
    tcase_add_test(tc, killed_writer_loses_nothing_acknowledged);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(crash_suite());
}
