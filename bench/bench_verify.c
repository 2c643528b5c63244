/* bench_verify.c - ctm_audit_verify's peak memory and time as a site grows.
 *
 *   build/bench/bench_verify [--sizes N,N,...] [--one-receipt [--unconfirmed]] [--keep] [DIR]
 *
 * Builds one site by receiving and confirming shipments of up to 100,000 kits (each receipt is one
 * ledger entry holding every kit row) or, with --one-receipt, a fresh site per size whose kits all
 * come in one receipt (with --unconfirmed, left unconfirmed), and at each size verifies it in a fresh process (this program run again
 * with --child), so that the peak resident set size (getrusage ru_maxrss) is that of verification
 * alone.  Prints, per size, the peak RSS, the time and the time per 100,000
 * kits, then the ratios of the largest size to the smallest.  Targets (docs/performance.md): peak
 * RSS flat within 1.5x from 100,000 to 1,000,000 kits and under 300 MB at 1,000,000.
 *
 * The default sizes (20,000 and 100,000 kits) take seconds; `--sizes 100000,1000000` measures the
 * figures of docs/performance.md and takes minutes.  --keep leaves the largest database in DIR
 * (ctm-bench-verify.db), so that another build can be measured on it:
 * `bench_verify --child DIR/ctm-bench-verify.db` prints its time, entries and rows.  Not part of
 * the test suite.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "ctm.h"

#define TRIAL BENCH_TRIAL
#define MAX_SIZES 8

static int unconfirmed; /* --unconfirmed: receipts are not confirmed */

/* The child: verify path, print "<seconds> <entries> <rows>" on stdout. */
static int child(const char *path)
{
    if (sodium_init() < 0)
        return 2;
    ctm_verify_result r;
    double t = bench_verify(path, CTM_OPEN_READONLY, &r);
    printf("%.3f %llu %llu\n", t, (unsigned long long)r.entries, (unsigned long long)r.rows);
    return 0;
}

/* Run this program as the child on path; its peak RSS in MB and its verify time in seconds. */
static void measure(const char *path, double *rss_mb, double *seconds, unsigned long long *rows)
{
    int out[2];
    if (pipe(out) != 0)
        bench_die("pipe", -1);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork", -1);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl("/proc/self/exe", "bench_verify", "--child", path, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[128] = "";
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        n <= 0)
        bench_die("the verifying child", status);
    unsigned long long entries = 0;
    if (sscanf(buf, "%lf %llu %llu", seconds, &entries, rows) != 3)
        bench_die("reading the child's figures", -1);
    *rss_mb = (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long bytes = 0;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (f != NULL)
        fclose(f);
    return bytes;
}

static ctm_db *make_site(const char *path)
{
    return bench_stock_site(path, "Verify Benchmark");
}

/* Receive and confirm kits up to `target`, in shipments of at most `shipment` kits. */
static void grow(ctm_db *db, long *have, long target, long shipment, int *shipments)
{
    while (*have < target) {
        long n = target - *have > shipment ? shipment : target - *have;
        char name[32];
        snprintf(name, sizeof name, "V%d", (*shipments)++);
        size_t len = 0;
        char *m = bench_manifest(*have, n, &len);
        int rc = ctm_receive(db, TRIAL, name, m, len, "FRIDGE1", NULL);
        free(m);
        if (rc == CTM_OK && !unconfirmed)
            rc = ctm_receive_confirm(db, name, 1);
        if (rc != CTM_OK)
            bench_die("receiving", rc);
        *have += n;
    }
}

static int parse_sizes(const char *s, long *sizes)
{
    int n = 0;
    while (*s != '\0' && n < MAX_SIZES) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || (n > 0 && v <= sizes[n - 1]))
            return 0;
        sizes[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return 0;
    }
    return *s == '\0' ? n : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child(argv[2]);
    long sizes[MAX_SIZES] = {20000, 100000};
    int nsizes = 2;
    const char *dir = "/tmp";
    int keep = 0, one_receipt = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0) {
            keep = 1;
        } else if (strcmp(argv[i], "--one-receipt") == 0) {
            one_receipt = 1;
        } else if (strcmp(argv[i], "--unconfirmed") == 0) {
            unconfirmed = 1;
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = parse_sizes(argv[++i], sizes);
            if (nsizes == 0) {
                fprintf(stderr, "bench_verify: --sizes takes increasing kit counts: 100000,1000000\n");
                return 2;
            }
        } else {
            dir = argv[i];
        }
    }
    if (sodium_init() < 0)
        bench_die("sodium_init", -1);
    char path[4096], wal[4200];
    snprintf(path, sizeof path, "%s/ctm-bench-verify.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);  /* the database is its file and its WAL */
    printf("libctm %s verify benchmark, database in %s, %s%s\n\n", ctm_version(), dir,
           one_receipt ? "all kits in one receipt" : "receipts of up to 100,000 kits",
           unconfirmed ? ", not confirmed" : ", confirmed");
    printf("%-10s %10s %10s %12s %14s %10s\n", "kits", "db MB", "peak MB", "verify s",
           "s/100k kits", "rows");

    ctm_db *db = make_site(path);
    long have = 0;
    int shipments = 0;
    double rss[MAX_SIZES], secs[MAX_SIZES];
    for (int k = 0; k < nsizes; k++) {
        if (one_receipt && have > 0) {
            ctm_close(db);
            db = make_site(path);
            have = 0;
        }
        grow(db, &have, sizes[k], one_receipt ? sizes[k] : 100000L, &shipments);
        long bytes = file_size(path) + file_size(wal);
        unsigned long long rows = 0;
        measure(path, &rss[k], &secs[k], &rows);
        printf("%-10ld %10.1f %10.1f %12.2f %14.2f %10llu\n", sizes[k], bytes / 1048576.0, rss[k],
               secs[k], secs[k] / (sizes[k] / 100000.0), rows);
        fflush(stdout);
    }
    ctm_close(db);
    if (nsizes > 1) {
        int last = nsizes - 1;
        double rss_ratio = rss[last] / rss[0];
        double time_ratio = (secs[last] / sizes[last]) / (secs[0] / sizes[0]);
        printf("\npeak RSS %ld kits / %ld kits: %.2f", sizes[last], sizes[0], rss_ratio);
        if (sizes[0] >= 100000)
            printf("   target <= 1.50  %s", rss_ratio <= 1.5 ? "ok" : "ABOVE TARGET");
        printf("\n");
        printf("time per kit %ld kits / %ld kits: %.2f   (1.00 is linear)\n", sizes[last], sizes[0],
               time_ratio);
        if (sizes[last] >= 1000000)
            printf("peak RSS at %ld kits: %.1f MB   target < 300  %s\n", sizes[last], rss[last],
                   rss[last] < 300 ? "ok" : "ABOVE TARGET");
    }
    char key[4200];
    snprintf(key, sizeof key, "%s.key", path);
    if (!keep) {
        remove(path);
        remove(key);
    }
    return 0;
}
