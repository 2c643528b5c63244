/* bench_temp.c - importing a temperature logger file against raw SQLite inserts in the same run.
 *
 *   build/bench/bench_temp [--quick] [DIR]
 *
 *   import   ctm_temp_import() of a generic CSV logger file of N readings (N = 10,000,000;
 *            --quick 1,000,000): read twice (checked whole, then stored), SHA-256, the readings
 *            checked against those stored, 8,192 readings an entry, every row change recorded,
 *            the excursions found and recorded (one a week of readings), one transaction,
 *            signed checkpoint  vs  the same readings INSERTed raw in one
 *            transaction into a table of the same shape (rowid key, unique (location, time)
 *            index), the values already in memory
 *   memory   the peak resident set of the process after a file of N/10 readings and after one
 *            of N: an import holds one INSERT group and one entry at a time, so the second
 *            should not grow with the file
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "ctm.h"

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static ctm_db *make_site(const char *path)
{
    ctm_db *db = bench_create(path);
    int rc = ctm_init(db, "Benchmark Pharmacy", NULL, "admin", "Ada Admin", BENCH_PW);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE1", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_location_add(db, "FRIDGE2", "fridge", 2, 8);
    if (rc == CTM_OK)
        rc = ctm_user_add(db, "tom", "technician", 0, "Tom Tech", BENCH_PW);
    if (rc == CTM_OK)
        rc = ctm_login(db, "tom", BENCH_PW);
    if (rc != CTM_OK)
        bench_die("site", rc);
    return db;
}

static double ours(ctm_db *db, const char *location, const char *file, long n)
{
    ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
    double t0 = bench_now();
    int rc = ctm_temp_import(db, location, file, NULL, &r);
    double t = bench_now() - t0;
    if (rc != CTM_OK)
        bench_die("ctm_temp_import", rc);
    if (r.added != (uint64_t)n)
        bench_die("readings stored", (int)r.added);
    if (r.excursions != (uint64_t)((n + BENCH_EXCURSION_EVERY - 5045) / BENCH_EXCURSION_EVERY))
        bench_die("excursions found", (int)r.excursions);
    return n / t;
}

static double raw(const char *path, long n)
{
    sqlite3 *s = bench_raw_sqlite(path,
                 "CREATE TABLE readings(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL,"
                 " location_id INTEGER, shipment_id INTEGER, t_us INTEGER NOT NULL,"
                 " temp_mc INTEGER NOT NULL);"
                 "CREATE UNIQUE INDEX readings_by_location ON readings(location_id, t_us)"
                 "  WHERE location_id IS NOT NULL;");
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(s,
                       "INSERT INTO readings(file_id, location_id, t_us, temp_mc)"
                       " VALUES (1, 1, ?1, ?2)",
                       -1, &st, NULL);
    double t0 = bench_now();
    sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, (BENCH_T0 + i * 60) * 1000000LL);
        sqlite3_bind_int64(st, 2, bench_logger_mc(i));
        if (sqlite3_step(st) != SQLITE_DONE)
            bench_die("raw insert", -1);
        sqlite3_reset(st);
    }
    sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
    double t = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(s);
    return n / t;
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = bench_args(argc, argv, &quick);
    long n = quick ? 1000000 : 10000000, small = n / 10;
    char path[4096], rawpath[4096], file[4096], smallfile[4096];
    snprintf(path, sizeof path, "%s/ctm-bench-temp.db", dir);
    snprintf(rawpath, sizeof rawpath, "%s/ctm-bench-temp-raw.db", dir);
    snprintf(file, sizeof file, "%s/ctm-bench-temp.csv", dir);
    snprintf(smallfile, sizeof smallfile, "%s/ctm-bench-temp-small.csv", dir);
    bench_logger_file(smallfile, small);
    bench_logger_file(file, n);

    ctm_db *db = make_site(path);
    ours(db, "FRIDGE2", smallfile, small);
    long after_small = peak_kb();
    double o = ours(db, "FRIDGE1", file, n);
    long after_large = peak_kb();
    ctm_close(db);
    double r = raw(rawpath, n);

    printf("%-30s %10.0f readings/s   raw %10.0f rows/s   ratio %5.2f   target >= 0.50  %s\n",
           "import a logger file", o, r, o / r, o / r >= 0.5 ? "met" : "NOT MET");
    printf("%-30s %ld readings: peak %ld MB;  %ld readings: peak %ld MB (+%ld MB)  %s\n",
           "peak memory", small, after_small / 1024, n, after_large / 1024, (after_large - after_small) / 1024,
           after_large - after_small < 32 * 1024 ? "flat" : "GROWS");
    remove(file);
    remove(smallfile);
    remove(rawpath);
    remove(path);
    char aux[4200];
    snprintf(aux, sizeof aux, "%s.key", path);
    remove(aux);
    snprintf(aux, sizeof aux, "%s-wal", rawpath);
    remove(aux);
    snprintf(aux, sizeof aux, "%s-shm", rawpath);
    remove(aux);
    return 0;
}
