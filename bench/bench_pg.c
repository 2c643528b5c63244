/* bench_pg.c - libctm on PostgreSQL against raw libpq baselines on the same server, same run.
 *
 *   pg_virtualenv -v 15 build/bench/bench_pg [--quick] [--receipt | --dispense]
 *   CTM_TEST_PG=postgresql://... build/bench/bench_pg [--quick] [--receipt]
 *
 * The server is the one the environment names (CTM_TEST_PG, else libpq's PG* variables); the
 * benchmark makes databases of its own there and drops them.  Figures:
 *   durable single actions   ctm_audit_note, one transaction each  vs  one-row INSERT (autocommit,
 *                            synchronous_commit on) of a row the size of the entry
 *   C clients at once        C processes, each its own connection, writing notes to one site  vs
 *                            C processes inserting rows into one table (C = 1, 4, 16)
 *   receive one shipment     ctm_receive of a 100,000-kit manifest (10,000 with --quick)  vs
 *                            the same rows (shipment, lots, kits) into the site's own tables,
 *                            created by libctm's migrations without libctm's triggers, in one
 *                            transaction: kits by COPY (the target's baseline); for comparison
 *                            also by multi-row INSERTs, and by COPY into a bare table of kits'
 *                            columns with no foreign key and no index but its keys
 * The receipt runs three interleaved rounds (one with --quick) and reports the median ratio.
 *   dispenses                one dispense (assign + confirm, e-signed) after another on a site of
 *                            20,000 kits  vs  one-row durable INSERTs of a confirmation's entry
 *                            size; and 8 clients dispensing to their own subjects at once  vs
 *                            8 clients inserting such rows
 *   logger file import       ctm_temp_import of a CSV logger file of 1,000,000 readings (10,000,000 with --full; 100,000
 *                            with --quick)  vs  the same readings into the site's own readings
 *                            table (libctm's migrations, no triggers) by multi-row INSERTs of 128
 *                            rows, one transaction
 * --receipt runs the receipt figure alone, --dispense the dispensing figures alone, --temp the
 * import alone; --full imports 10,000,000 readings.
 * docs/performance.md keeps the figures.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "schema.h"

static const char *server;
static char prefix[64];
static char key_dir[4096];

static void report(const char *name, double ours, double raw, const char *unit, double target)
{
    double ratio = ours / raw;
    printf("%-30s %10.0f %-9s raw %10.0f   ratio %5.2f   target >= %.2f  %s\n", name, ours, unit,
           raw, ratio, target, ratio >= target ? "ok" : "BELOW TARGET");
    fflush(stdout);
}

/* The index of the median of n values (the round whose ratio is reported). */
static int median_index(const double *v, int n)
{
    int mid = 0;
    for (int i = 0; i < n; i++) {
        int below = 0;
        for (int j = 0; j < n; j++)
            below += v[j] < v[i];
        if (below == n / 2)
            mid = i;
    }
    return mid;
}

static PGconn *connect_to(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench: %s: %s", conninfo, PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void sql(PGconn *c, const char *text)
{
    PGresult *r = PQexec(c, text);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s: %s", text, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

/* A new database; its connection string into out. */
static void new_database(const char *name, char *out, size_t len)
{
    PGconn *c = connect_to(server);
    char text[256];
    snprintf(text, sizeof text, "DROP DATABASE IF EXISTS %s_%s WITH (FORCE)", prefix, name);
    sql(c, text);
    snprintf(text, sizeof text, "CREATE DATABASE %s_%s", prefix, name);
    sql(c, text);
    PQfinish(c);
    snprintf(out, len, "dbname=%s_%s", prefix, name);
}

static void drop_databases(void)
{
    static const char *const names[] = {"site",     "raw",       "multi",  "rawmulti",
                                        "stock",    "rawstock",  "rawinsert", "rawbare",
                                        "disp",     "rawdisp",   "temp",   "rawtemp"};
    PGconn *c = connect_to(server);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "DROP DATABASE IF EXISTS %s_%s WITH (FORCE)", prefix, names[i]);
        sql(c, text);
    }
    PQfinish(c);
}

static ctm_db *open_site(const char *target, const char *key, unsigned flags)
{
    ctm_db *db = NULL;
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = flags;
    o.key_path = key;
    int rc = ctm_open(&db, target, &o);
    if (rc != CTM_OK)
        bench_die("ctm_open", rc);
    return db;
}

/* A site in database `name` (bench_stock_setup); its target and key file into target/key. */
static ctm_db *new_site(const char *name, char *target, size_t tlen, char *key, size_t klen)
{
    new_database(name, target, tlen);
    snprintf(key, klen, "%s/%s.key", key_dir, name);
    remove(key);
    ctm_db *db = open_site(target, key, CTM_OPEN_CREATE);
    bench_stock_setup(db, "Bench Region");
    return db;
}

/* n one-row INSERTs of size-byte rows, each its own transaction: rows/s. */
static double raw_rows(PGconn *c, int n, size_t size)
{
    char *data = bench_text(size);
    const char *params[1] = {data};
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        PGresult *r = PQexecParams(c, "INSERT INTO t(data) VALUES ($1)", 1, NULL, params, NULL,
                                   NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench: raw insert: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    }
    double rate = n / (bench_now() - t0);
    free(data);
    return rate;
}

/* The entry size of one note: what the raw baseline writes per row. */
static size_t entry_bytes(const char *target)
{
    PGconn *c = connect_to(target);
    PGresult *r = PQexec(c, "SELECT octet_length(entry) FROM ledger ORDER BY seq DESC LIMIT 1");
    size_t n = PQntuples(r) == 1 ? (size_t)atol(PQgetvalue(r, 0, 0)) : 300;
    PQclear(r);
    PQfinish(c);
    return n;
}

/* C processes at once, each doing n/C writes of its own on a connection (and a login) made before
 * the clock starts: total writes/s over the wall time.  The writes are notes of text, or with
 * visit non-NULL the dispensings of the client's own subjects at that visit (client k: subjects
 * k * n/C on), or with key NULL raw rows of size bytes. */
static double clients(int c, int n, const char *target, const char *key, const char *text,
                      size_t size, const char *visit)
{
    int each = n / c;
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0)
        bench_die("pipe", -1);
    for (int k = 0; k < c; k++) {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork", -1);
        if (pid != 0)
            continue;
        close(ready[0]);
        close(go[1]);
        ctm_db *db = NULL;
        PGconn *pc = NULL;
        if (key != NULL) {
            db = open_site(target, key, 0);
            int rc = ctm_login(db, "pharm", BENCH_PW);
            if (rc != CTM_OK)
                bench_die("login", rc);
        } else {
            pc = connect_to(target);
        }
        char byte = 1, start;
        if (write(ready[1], &byte, 1) != 1 || read(go[0], &start, 1) != 0)
            _exit(1); /* the parent closes go: read returns 0 for every child at once */
        if (db != NULL) {
            for (int i = 0; i < each; i++) {
                int rc = visit != NULL ? bench_dispense_one(db, (long)k * each + i, visit, 0)
                                       : ctm_audit_note(db, text, NULL);
                if (rc == CTM_EBUSY) {
                    i--; /* the lock wait outlasted the busy timeout: try again */
                    continue;
                }
                if (rc != CTM_OK)
                    bench_die(visit != NULL ? "dispense" : "ctm_audit_note", rc);
            }
            ctm_close(db);
        } else {
            raw_rows(pc, each, size);
            PQfinish(pc);
        }
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    for (int k = 0; k < c; k++) {
        char byte;
        if (read(ready[0], &byte, 1) != 1)
            bench_die("a client's start", -1);
    }
    double t0 = bench_now();
    close(go[1]);
    int failed = 0;
    for (int k = 0; k < c; k++) {
        int st = 0;
        wait(&st);
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    close(ready[0]);
    if (failed)
        bench_die("a client", -1);
    return each * c / (bench_now() - t0);
}

/* The tables of a site, as libctm's migrations make them (foreign keys, indexes and checks
 * included), without libctm's triggers; and the rows a receipt refers to (trial, kit type,
 * location). */
static void raw_site_schema(PGconn *c);

/* The readings of bench_logger_file's n, into the site's own tables by multi-row INSERTs of 128
 * rows with parameters, one durable transaction: rows/s. */
static double raw_readings(const char *target, long n)
{
    PGconn *c = connect_to(target);
    raw_site_schema(c);
    sql(c, "INSERT INTO logger_files(id, location_id, sha256, name, format, serial, model,"
           " interval_s, unit, zone, readings, days, imported_us, imported_by)"
           " VALUES (1, 1, 'x', 'f.csv', 'csv', '', '', 0, 'C', '', 0, 0, 0, 'bench')");
    enum { CHUNK = 128, COLS = 2 };
    char *text = malloc(256 + CHUNK * 48);
    char (*vals)[24] = malloc(sizeof *vals * CHUNK * COLS);
    const char **params = malloc(sizeof *params * CHUNK * COLS);
    if (text == NULL || vals == NULL || params == NULL)
        bench_die("INSERT", -1);
    double t0 = bench_now();
    sql(c, "BEGIN");
    for (long start = 0; start < n; start += CHUNK) {
        int rows = n - start < CHUNK ? (int)(n - start) : CHUNK;
        int at = sprintf(text, "INSERT INTO readings(file_id, location_id, t_us, temp_mc) VALUES ");
        for (int k = 0; k < rows; k++) {
            long i = start + k;
            int p = k * COLS;
            at += sprintf(text + at, "%s(1, 1, $%d, $%d)", k ? ", " : "", p + 1, p + 2);
            snprintf(vals[p], 24, "%lld", (BENCH_T0 + i * 60) * 1000000LL);
            snprintf(vals[p + 1], 24, "%lld", bench_logger_mc(i));
            params[p] = vals[p];
            params[p + 1] = vals[p + 1];
        }
        PGresult *r = PQexecParams(c, text, rows * COLS, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench: INSERT: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    }
    sql(c, "COMMIT");
    double rate = n / (bench_now() - t0);
    free(text);
    free(vals);
    free(params);
    PQfinish(c);
    return rate;
}

static void raw_site_schema(PGconn *c)
{
    for (int v = 0; ctm__schema_migration(v) != NULL; v++) {
        char *text = ctm__schema_postgres_migration(v);
        if (text == NULL)
            bench_die("schema", -1);
        if (text[0] != '\0')
            sql(c, text);
        free(text);
    }
    sql(c, "INSERT INTO trials(id, code, title, sponsor, blinded, created_us)"
           " VALUES (1, 'T', 'Trial', 'Sponsor', 1, 0);"
           "INSERT INTO kit_types(id, trial_id, code, name, units, storage_min_mc, storage_max_mc,"
           " dnd_days) VALUES (1, 1, 'KT', 'Drug', 30, 2000, 8000, 30);"
           "INSERT INTO locations(id, name, kind, min_mc, max_mc) VALUES (1, 'F', 'fridge', 2000, 8000)");
}

/* The rows ctm_receive writes for bench_manifest's n kits (the shipment, its lots, its kits), in
 * one durable transaction: the lots by one multi-row INSERT, the kits by COPY (copy != 0) or by
 * multi-row INSERTs of 128 rows with parameters.  Into a table of kits' shape alone when
 * bare != 0 (its columns, primary key and unique key; no foreign keys, no other index), else into
 * the site's own tables (raw_site_schema).  Rows/s. */
static double raw_receipt(const char *target, long n, int copy, int bare)
{
    PGconn *c = connect_to(target);
    if (bare)
        sql(c, "CREATE TABLE kits(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
               " trial_id bigint NOT NULL, kit_number text NOT NULL, kit_type_id bigint NOT NULL,"
               " lot_id bigint NOT NULL, arm text, status text NOT NULL, location_id bigint,"
               " units bigint NOT NULL, expiry text, gtin text, serial text, shipment_id bigint,"
               " checked bigint NOT NULL DEFAULT 0, UNIQUE (trial_id, kit_number))");
    else
        raw_site_schema(c);
    long lots = (n + 999) / 1000;
    double t0 = bench_now();
    sql(c, "BEGIN");
    if (!bare) {
        sql(c, "INSERT INTO shipments(id, trial_id, number, direction, date_received,"
               " registered_us, location_id, status)"
               " VALUES (1, 1, 'SH1', 'in', '2026-12-01', 0, 1, 'receiving')");
        char *text = malloc(128 + (size_t)lots * 48);
        if (text == NULL)
            bench_die("lots", -1);
        int at = sprintf(text, "INSERT INTO lots(id, trial_id, kit_type_id, batch, expiry) VALUES ");
        for (long l = 0; l < lots; l++)
            at += sprintf(text + at, "%s(%ld, 1, 1, 'L%05ld', '2029-06-30')", l ? ", " : "", l + 1, l);
        sql(c, text);
        free(text);
    }
    char line[160];
    if (copy) {
        PGresult *r = PQexec(c, "COPY kits(trial_id, kit_number, kit_type_id, lot_id, arm, status,"
                                " location_id, units, shipment_id) FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            fprintf(stderr, "bench: COPY: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
        for (long i = 0; i < n; i++) {
            int len = snprintf(line, sizeof line, "1\tK%07ld\t1\t%ld\t%s\treceived\t1\t30\t1\n", i,
                               i / 1000 + 1, i % 2 ? "A" : "B");
            if (PQputCopyData(c, line, len) != 1)
                bench_die("COPY data", -1);
        }
        if (PQputCopyEnd(c, NULL) != 1)
            bench_die("COPY end", -1);
        r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench: COPY: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
    } else {
        /* 128 rows of 6 parameters per INSERT, as text */
        enum { CHUNK = 128, COLS = 6 };
        char *text = malloc(256 + CHUNK * 64);
        char (*vals)[24] = malloc(sizeof *vals * CHUNK * COLS);
        const char **params = malloc(sizeof *params * CHUNK * COLS);
        if (text == NULL || vals == NULL || params == NULL)
            bench_die("INSERT", -1);
        for (long start = 0; start < n; start += CHUNK) {
            int rows = n - start < CHUNK ? (int)(n - start) : CHUNK;
            int at = sprintf(text, "INSERT INTO kits(trial_id, kit_number, kit_type_id, lot_id, arm,"
                                   " status, location_id, units, shipment_id) VALUES ");
            for (int k = 0; k < rows; k++) {
                long i = start + k;
                int p = k * COLS;
                at += sprintf(text + at, "%s($%d, $%d, $%d, $%d, $%d, 'received', $%d, 30, 1)",
                              k ? ", " : "", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6);
                snprintf(vals[p], 24, "1");
                snprintf(vals[p + 1], 24, "K%07ld", i);
                snprintf(vals[p + 2], 24, "1");
                snprintf(vals[p + 3], 24, "%ld", i / 1000 + 1);
                snprintf(vals[p + 4], 24, "%s", i % 2 ? "A" : "B");
                snprintf(vals[p + 5], 24, "1");
                for (int q = 0; q < COLS; q++)
                    params[p + q] = vals[p + q];
            }
            PGresult *r = PQexecParams(c, text, rows * COLS, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "bench: INSERT: %s", PQerrorMessage(c));
                exit(1);
            }
            PQclear(r);
        }
        free(text);
        free(vals);
        free(params);
    }
    sql(c, "COMMIT");
    double rate = n / (bench_now() - t0);
    PQfinish(c);
    return rate;
}

int main(int argc, char **argv)
{
    int quick = 0, receipt_only = 0, dispense_only = 0, temp_only = 0, full = 0;
    for (int i = 1; i < argc; i++) {
        full |= strcmp(argv[i], "--full") == 0;
        receipt_only |= strcmp(argv[i], "--receipt") == 0;
        dispense_only |= strcmp(argv[i], "--dispense") == 0;
        temp_only |= strcmp(argv[i], "--temp") == 0;
    }
    bench_args(argc, argv, &quick); /* takes "--receipt" for a directory, which it ignores */
    server = getenv("CTM_TEST_PG");
    if (server == NULL || server[0] == '\0')
        server = "";
    if (server[0] == '\0' && getenv("PGHOST") == NULL && getenv("PGPORT") == NULL) {
        fprintf(stderr, "bench_pg: name a PostgreSQL server (CTM_TEST_PG or PGHOST), or run it "
                        "under pg_virtualenv -v 15\n");
        return 2;
    }
    snprintf(prefix, sizeof prefix, "ctm_bench_%ld", (long)getpid());
    snprintf(key_dir, sizeof key_dir, "/tmp/%s", prefix);
    char mk[4200];
    snprintf(mk, sizeof mk, "mkdir -p -m 700 %s", key_dir);
    if (system(mk) != 0)
        bench_die("key directory", -1);

    int n = quick ? 300 : 2000;
    char target[256], key[4200], raw[256];
    char *text = NULL;
    if (temp_only)
        goto temp;
    if (receipt_only)
        goto receipt;
    if (dispense_only)
        goto dispense;
    ctm_db *db = new_site("site", target, sizeof target, key, sizeof key);
    text = bench_text(200);
    bench_notes(db, 20, text); /* warm: statements prepared, capture installed */
    size_t size = entry_bytes(target);
    new_database("raw", raw, sizeof raw);
    PGconn *rc = connect_to(raw);
    sql(rc, "CREATE TABLE t(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, data bytea NOT NULL)");
    raw_rows(rc, 20, size);
    /* interleaved rounds, the median ratio: the server's fsync time drifts */
    double best_ratio[5], ours_r[5], raw_r[5];
    int rounds = quick ? 1 : 5;
    for (int i = 0; i < rounds; i++) {
        ours_r[i] = bench_notes(db, n / rounds, text);
        raw_r[i] = raw_rows(rc, n / rounds, size);
        best_ratio[i] = ours_r[i] / raw_r[i];
    }
    int mid = median_index(best_ratio, rounds);
    printf("server: PostgreSQL (%s), entry %zu bytes, %d actions per figure\n",
           PQparameterStatus(rc, "server_version"), size, n);
    report("durable single actions", ours_r[mid], raw_r[mid], "notes/s", 0.8);
    PQfinish(rc);
    ctm_close(db);

    static const int cs[] = {1, 4, 16};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        double ours = clients(cs[i], n, target, key, text, size, NULL);
        double base = clients(cs[i], n, raw, NULL, text, size, NULL);
        snprintf(name, sizeof name, "%d client%s at once", cs[i], cs[i] > 1 ? "s" : "");
        report(name, ours, base, "notes/s", 0.5);
    }

dispense:;
    {
        /* dispensing: a site of 20,000 kits (2,000 with --quick) and the subjects the figures
         * dispense to; one client dispensing, then 8 at once, each against raw durable commits
         * of rows the size of a confirmation's entry */
        int each = quick ? 25 : 100, nc = 8;
        long kits = quick ? 2000 : 20000;
        char dtarget[256], dkey[4200], draw[256];
        ctm_db *ddb = new_site("disp", dtarget, sizeof dtarget, dkey, sizeof dkey);
        bench_dispensing_setup(ddb, kits, (long)each * (nc + 1));
        for (int i = 0; i < 5; i++) /* warm */
            if (bench_dispense_one(ddb, (long)each * nc + i, "V1", 0) != CTM_OK)
                bench_die("dispense", -1);
        size_t dsize = entry_bytes(dtarget);
        new_database("rawdisp", draw, sizeof draw);
        PGconn *dc = connect_to(draw);
        sql(dc, "CREATE TABLE t(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                " data bytea NOT NULL)");
        double t0 = bench_now();
        for (int i = 5; i < each; i++)
            if (bench_dispense_one(ddb, (long)each * nc + i, "V1", 0) != CTM_OK)
                bench_die("dispense", -1);
        double one = (each - 5) / (bench_now() - t0);
        report("dispenses, one client", one, raw_rows(dc, each, dsize), "disp/s", 0.5);
        PQfinish(dc);
        ctm_close(ddb);
        if (text == NULL)
            text = bench_text(200);
        double ours = clients(nc, each * nc, dtarget, dkey, text, dsize, "V2");
        double base = clients(nc, each * nc, draw, NULL, text, dsize, NULL);
        report("dispenses, 8 clients at once", ours, base, "disp/s", 0.5);
        if (dispense_only)
            goto done;
    }

receipt:;
    /* interleaved rounds (one with --quick), each a new site and a new raw database, the median
     * ratio: the load of a shared machine drifts over the seconds one round takes */
    long kits = quick ? 10000 : 100000;
    int rrounds = quick ? 1 : 3;
    double rours[3], rbase[3], rratio[3];
    char starget[256], skey[4200], sraw[256];
    size_t len = 0;
    char *m = bench_manifest(0, kits, &len);
    for (int i = 0; i < rrounds; i++) {
        ctm_db *sdb = new_site("stock", starget, sizeof starget, skey, sizeof skey);
        double t0 = bench_now();
        int st = ctm_receive(sdb, BENCH_TRIAL, "SH1", m, len, "FRIDGE1", NULL);
        rours[i] = kits / (bench_now() - t0);
        if (st != CTM_OK)
            bench_die("ctm_receive", st);
        ctm_close(sdb);
        /* the same rows by COPY into the site's own tables: the target's baseline */
        new_database("rawstock", sraw, sizeof sraw);
        rbase[i] = raw_receipt(sraw, kits, 1, 0);
        rratio[i] = rours[i] / rbase[i];
    }
    free(m);
    int rmid = median_index(rratio, rrounds);
    double ours = rours[rmid];
    /* for comparison: multi-row INSERTs into the same tables, COPY into a bare table of kits'
     * shape (one round each) */
    new_database("rawinsert", sraw, sizeof sraw);
    double insert = raw_receipt(sraw, kits, 0, 0);
    new_database("rawbare", sraw, sizeof sraw);
    double bare = raw_receipt(sraw, kits, 1, 1);
    char name[64];
    snprintf(name, sizeof name, "receive %ld kits", kits);
    report(name, ours, rbase[rmid], "kits/s", 0.5);
    if (rrounds > 1) {
        printf("%-30s rounds:", "");
        for (int i = 0; i < rrounds; i++)
            printf(" %.0f/%.0f = %.2f", rours[i], rbase[i], rratio[i]);
        printf("\n");
    }
    printf("%-30s %10s %-9s raw %10.0f   ratio %5.2f   (multi-row INSERTs, same tables)\n", "",
           "", "", insert, ours / insert);
    printf("%-30s %10s %-9s raw %10.0f   ratio %5.2f   (COPY into a bare table of kits' shape)\n",
           "", "", "", bare, ours / bare);

temp:;
    if (!temp_only && (receipt_only || dispense_only))
        goto done;
    {
        long readings = full ? 10000000 : quick ? 100000 : 1000000;
        char file[4200], ttarget[256], tkey[4200], traw[256];
        snprintf(file, sizeof file, "%s/logger.csv", key_dir);
        bench_logger_file(file, readings);
        ctm_db *tdb = new_site("temp", ttarget, sizeof ttarget, tkey, sizeof tkey);
        ctm_temp_import_result r = CTM_TEMP_IMPORT_RESULT_INIT;
        double t0 = bench_now();
        int trc = ctm_temp_import(tdb, "FRIDGE1", file, NULL, &r);
        double ours = readings / (bench_now() - t0);
        if (trc != CTM_OK || r.added != (uint64_t)readings ||
            r.excursions != (uint64_t)((readings + BENCH_EXCURSION_EVERY - 5045) /
                                       BENCH_EXCURSION_EVERY))
            bench_die("ctm_temp_import", trc);
        ctm_close(tdb);
        new_database("rawtemp", traw, sizeof traw);
        report("logger file import", ours, raw_readings(traw, readings), "readings/s", 0.5);
        remove(file);
    }

done:
    free(text);
    drop_databases();
    snprintf(mk, sizeof mk, "rm -rf %s", key_dir);
    if (system(mk) != 0)
        fprintf(stderr, "bench_pg: could not remove %s\n", key_dir);
    return 0;
}
