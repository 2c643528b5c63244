/* temp.c - storage temperatures: logger files imported for a location (ctm_temp_import), and
 * their readings and files listed.
 *
 * An import reads the file twice through the logger reader (parse/logger.h).  The first pass
 * checks all of it and computes its SHA-256 without writing anything: a malformed file is
 * refused before the database is touched, and a file imported before for the location is known
 * by its digest and changes nothing.  The second pass stores it inside one transaction (a batch
 * of the ledger): the file's record and its first readings in the entry "temp.import", then
 * "temp.readings" entries of at most ENTRY_ROWS readings, so that no entry, and no buffer of
 * change capture, grows with the file.  The digest is computed again on the way and must match,
 * or the file changed between the passes and nothing is kept.  The file is opened once, for both
 * passes: a file renamed over it meanwhile changes nothing, and a FIFO put in its place cannot
 * make the import wait.
 *
 * Readings go in INSERT_ROWS to a statement.  When the file's span meets the span of the
 * readings the location has, the location's stored readings in each group's time span are read
 * first (an index range): a reading already stored with the same temperature is left out, one
 * stored with another refuses the file.  A file that meets none (the usual next file of a
 * logger) needs no such reads. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger.h"
#include "mkt.h"
#include "stock.h"
#include "temp.h"

#define READ_CHUNK 65536
#define INSERT_ROWS 128  /* readings per INSERT: one round trip to a server per group */
#define ENTRY_ROWS 8192  /* readings per ledger entry */

typedef struct pending {
    int64_t t_us, mc;
    uint64_t line;
    int skip; /* stored already, with the same temperature */
} pending;

typedef struct importer {
    ctm_db *db;
    int shipment;          /* the readings belong to a shipment, not a location */
    const char *location;  /* the location's or the shipment's name, for parameters */
    const char *place;     /* "location FRIDGE1", "shipment SH-7", for messages */
    int64_t location_id;   /* the location's or the shipment's id */
    int64_t file_id;
    char sha256[65];
    pending rows[INSERT_ROWS];
    size_t n;
    ctm__st *insert_full;  /* the INSERT of INSERT_ROWS readings, kept between groups */
    int overlaps;          /* the file's span meets the location's stored readings' */
    ctm__excursion_scan *scan; /* the search for excursions, given the readings of a file that
                                * meets none stored */
    ctm__action a;
    int action_open;
    uint64_t in_entry;     /* readings (or days) recorded in the open action */
    uint64_t added;        /* readings and days stored */
    /* the texts of the open action's parameters, which the entry borrows until its commit */
    char p_name[201], p_serial[65], p_readings[24], p_days[24], p_first[32], p_last[32];
    char p_stored[24];
} importer;

/* ---- values from a file, made fit for the ledger ---- */

/* s (n bytes) as entries may record text: well-formed UTF-8 without control characters (a line
 * end kept where keep_newline); any other byte becomes '?'.  malloc'd. */
static char *clean_text(const char *s, size_t n, int keep_newline)
{
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o++] = (c >= 0x20 && c != 0x7f) || (keep_newline && c == '\n') ? (char)c : '?';
            i++;
            continue;
        }
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        /* one character at a time, so that a C1 control (U+0080..U+009F) is replaced too */
        if (len > 1 && i + len <= n && ctm__utf8_valid((const uint8_t *)s + i, len) &&
            !(len == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0)) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static int64_t mc_of(double c)
{
    return (int64_t)llround(c * 1000.0);
}

int ctm__prepare_owned(ctm_db *db, int shipment, ctm__st **st, const char *sql)
{
    if (!shipment)
        return ctm__prepare(db, st, sql);
    char *owned = ctm__strdup(sql);
    if (owned == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    for (char *p = owned; (p = strstr(p, "location_id")) != NULL; p += 11)
        memcpy(p, "shipment_id", 11);
    int rc = ctm__prepare(db, st, owned);
    free(owned);
    return rc;
}

static int prepare_owned(importer *im, ctm__st **st, const char *sql)
{
    return ctm__prepare_owned(im->db, im->shipment, st, sql);
}

/* ---- reading the file ---- */

static int nothing_reading(void *ctx, const ctm__logger_reading *r)
{
    (void)ctx;
    (void)r;
    return CTM_OK;
}

static int nothing_day(void *ctx, const ctm__logger_day *d)
{
    (void)ctx;
    (void)d;
    return CTM_OK;
}

static int parse_options(const ctm_temp_import_options *o, ctm__logger_opts *lo)
{
    memset(lo, 0, sizeof *lo);
    lo->tz = o->tz;
    if (o->unit != NULL) {
        if (strcmp(o->unit, "C") == 0 || strcmp(o->unit, "F") == 0)
            lo->unit = o->unit[0];
        else
            return ctm__err(CTM_EINVAL, "unit: '%.20s' is neither C nor F", o->unit);
    }
    if (o->date_order != NULL) {
        if (strcmp(o->date_order, "YMD") == 0)
            lo->order = CTM__DATE_YMD;
        else if (strcmp(o->date_order, "DMY") == 0)
            lo->order = CTM__DATE_DMY;
        else if (strcmp(o->date_order, "MDY") == 0)
            lo->order = CTM__DATE_MDY;
        else
            return ctm__err(CTM_EINVAL, "date order: '%.20s' is none of YMD, DMY, MDY",
                            o->date_order);
    }
    return CTM_OK;
}

/* The regular file at path, opened for reading without waiting (a FIFO is refused, not waited
 * on); *sb is its state. */
static int open_file(const char *path, FILE **out, struct stat *sb)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return ctm__err(CTM_EIO, "logger file: cannot open '%s': %s", path, strerror(errno));
    int rc = CTM_OK;
    if (fstat(fd, sb) != 0)
        rc = ctm__err(CTM_EIO, "logger file: cannot open '%s': %s", path, strerror(errno));
    else if (!S_ISREG(sb->st_mode))
        rc = ctm__err(CTM_EIO, "logger file: '%s' is not a regular file", path);
    else if ((*out = fdopen(fd, "rb")) == NULL)
        rc = ctm__err(CTM_EIO, "logger file: cannot open '%s': %s", path, strerror(errno));
    if (rc != CTM_OK)
        close(fd);
    return rc;
}

/* Whether the open file changed since the first pass: its size is no longer the bytes that
 * pass read, or its times are not those it had after that pass (*was). */
static int file_changed(FILE *f, const struct stat *was, uint64_t bytes)
{
    struct stat now;
    return fstat(fileno(f), &now) != 0 || (uint64_t)now.st_size != bytes ||
           now.st_mtime != was->st_mtime || now.st_ctime != was->st_ctime;
}

/* Read the whole file, from its start, through a reader with this sink; *sha gets its digest.
 * progress counts on from *done. */
static int read_file(FILE *f, const char *path, const char *format, const ctm__logger_opts *lo,
                     const ctm__logger_sink *sink, const ctm_temp_import_options *o,
                     uint64_t *done, uint64_t total, uint8_t sha[32], ctm__logger **out)
{
    *out = NULL;
    if (fseek(f, 0, SEEK_SET) != 0)
        return ctm__err(CTM_EIO, "logger file: reading '%s' failed: %s", path, strerror(errno));
    clearerr(f);
    ctm__logger *lg = NULL;
    int rc = ctm__logger_open(&lg, format, lo, sink);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *buf = malloc(READ_CHUNK);
    if (rc == CTM_OK && buf == NULL)
        rc = ctm__err(CTM_ENOMEM, "out of memory");
    while (rc == CTM_OK) {
        size_t n = fread(buf, 1, READ_CHUNK, f);
        if (n == 0) {
            if (ferror(f))
                rc = ctm__err(CTM_EIO, "logger file: reading '%s' failed", path);
            break;
        }
        crypto_hash_sha256_update(&st, buf, n);
        rc = ctm__logger_feed(lg, buf, n);
        *done += n;
        if (o->progress != NULL && o->progress(o->progress_ctx, *done < total ? *done : total,
                                               total) != 0)
            rc = ctm__err(CTM_ECANCELED, "temp import: canceled; nothing was stored");
    }
    if (rc == CTM_OK)
        rc = ctm__logger_finish(lg);
    crypto_hash_sha256_final(&st, sha);
    free(buf);
    if (rc != CTM_OK) {
        ctm__logger_free(lg);
        return rc;
    }
    *out = lg;
    return CTM_OK;
}

/* ---- storing ---- */

static int begin_entry(importer *im, const char *action)
{
    int rc = ctm__action_begin(&im->a, im->db, action, "");
    if (rc != CTM_OK)
        return rc;
    im->action_open = 1;
    im->in_entry = 0;
    ctm__action_param(&im->a, im->shipment ? "shipment" : "location", im->location);
    ctm__action_param(&im->a, "sha256", im->sha256);
    return CTM_OK;
}

static int end_entry(importer *im)
{
    snprintf(im->p_stored, sizeof im->p_stored, "%llu", (unsigned long long)im->in_entry);
    ctm__action_param(&im->a, "stored", im->p_stored);
    im->action_open = 0;
    return ctm__action_commit(&im->a);
}

static char *insert_sql(size_t n)
{
    /* prepare_owned makes its location_id a shipment's */
    static const char head[] = "INSERT INTO readings(file_id, location_id, t_us, temp_mc) VALUES ";
    size_t cap = sizeof head + n * 32;
    char *sql = malloc(cap);
    if (sql == NULL)
        return NULL;
    size_t o = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(sql + o, cap - o, "%s(?%zu, ?%zu, ?%zu, ?%zu)", i > 0 ? ", " : "",
                              4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4);
    return sql;
}

/* Mark the group's readings the location has already; refuse one it has with another
 * temperature. */
static int check_stored(importer *im)
{
    ctm__st *st = NULL;
    int rc = prepare_owned(im, &st,
                          "SELECT r.t_us, r.temp_mc, f.name FROM readings r"
                          " JOIN logger_files f ON f.id = r.file_id"
                          " WHERE r.location_id = ?1 AND r.t_us BETWEEN ?2 AND ?3 ORDER BY r.t_us");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, im->location_id);
    ctm__st_bind_int(st, 2, im->rows[0].t_us);
    ctm__st_bind_int(st, 3, im->rows[im->n - 1].t_us);
    size_t i = 0;
    int src;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW) {
        int64_t t = ctm__st_int(st, 0), mc = ctm__st_int(st, 1);
        while (i < im->n && im->rows[i].t_us < t)
            i++;
        if (i == im->n || im->rows[i].t_us != t)
            continue;
        if (im->rows[i].mc == mc) {
            im->rows[i].skip = 1;
            continue;
        }
        char when[32];
        ctm__format_time_seconds(t, when, sizeof when);
        /* the earlier file's name, cut to 60 bytes between characters: messages are UTF-8 */
        const char *name = ctm__st_text(st, 2);
        int name_n = (int)strlen(name);
        if (name_n > 60)
            for (name_n = 60; name_n > 0 && ((unsigned char)name[name_n] & 0xc0) == 0x80;)
                name_n--;
        rc = ctm__err(CTM_ERULE,
                      "line %llu: %s: %.3f C, but %s has %.3f C at that instant"
                      " (from logger file '%.*s')",
                      (unsigned long long)im->rows[i].line, when, (double)im->rows[i].mc / 1000.0,
                      im->place, (double)mc / 1000.0, name_n, name);
    }
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the location's readings");
    ctm__st_finalize(st);
    return rc;
}

static int flush(importer *im)
{
    if (im->n == 0)
        return CTM_OK;
    int rc = im->overlaps ? check_stored(im) : CTM_OK;
    size_t k = 0;
    for (size_t i = 0; i < im->n; i++)
        k += !im->rows[i].skip;
    if (rc == CTM_OK && k > 0 && im->in_entry + k > ENTRY_ROWS) {
        if ((rc = end_entry(im)) == CTM_OK)
            rc = begin_entry(im, "temp.readings");
    }
    ctm__st *st = NULL;
    if (rc == CTM_OK && k > 0) {
        if (k == INSERT_ROWS && im->insert_full != NULL) {
            st = im->insert_full;
            ctm__st_reset(st);
        } else {
            char *sql = insert_sql(k);
            rc = sql == NULL ? ctm__err(CTM_ENOMEM, "out of memory") : prepare_owned(im, &st, sql);
            free(sql);
            if (rc == CTM_OK && k == INSERT_ROWS)
                im->insert_full = st;
        }
    }
    if (rc == CTM_OK && k > 0) {
        int p = 0;
        for (size_t i = 0; i < im->n; i++) {
            if (im->rows[i].skip)
                continue;
            ctm__st_bind_int(st, p + 1, im->file_id);
            ctm__st_bind_int(st, p + 2, im->location_id);
            ctm__st_bind_int(st, p + 3, im->rows[i].t_us);
            ctm__st_bind_int(st, p + 4, im->rows[i].mc);
            p += 4;
        }
        rc = ctm__step(im->db, st, "storing readings");
        im->in_entry += k;
        im->added += k;
    }
    if (st != im->insert_full)
        ctm__st_finalize(st);
    im->n = 0;
    return rc;
}

static int store_reading(void *ctx, const ctm__logger_reading *r)
{
    importer *im = ctx;
    pending *p = &im->rows[im->n++];
    p->t_us = r->t_us;
    p->line = r->line;
    p->skip = 0;
    p->mc = mc_of(r->temp_c);
    if (im->scan != NULL && !im->overlaps) {
        int rc = ctm__excursion_scan_reading(im->scan, p->t_us, p->mc);
        if (rc != CTM_OK)
            return rc;
    }
    return im->n == INSERT_ROWS ? flush(im) : CTM_OK;
}

/* v, or NULL when the file does not give it (has 0). */
static void bind_opt(ctm__st *st, int i, int has, int64_t v)
{
    if (has)
        ctm__st_bind_int(st, i, v);
    else
        ctm__st_bind_null(st, i);
}

/* A day as stored: the same values as d (a summary imported before), or none. */
static int day_stored(importer *im, const char *day, const ctm__logger_day *d, int *same,
                      int *found)
{
    ctm__st *st = NULL;
    int rc = prepare_owned(im, &st,
                          "SELECT min_mc, max_mc, avg_mc, minutes_high, minutes_low"
                          " FROM logger_days WHERE location_id = ?1 AND day = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, im->location_id);
    ctm__st_bind_text(st, 2, day);
    int src = ctm__st_step(st);
    *found = src == CTM_ROW;
    if (*found) {
        const int has[3] = {d->has_min, d->has_max, d->has_avg};
        const double c[3] = {d->min_c, d->max_c, d->avg_c};
        *same = ctm__st_int(st, 3) == d->minutes_high && ctm__st_int(st, 4) == d->minutes_low;
        for (int i = 0; i < 3; i++) {
            int null = ctm__st_type(st, i) == CTM_V_NULL;
            *same = *same && (has[i] ? !null && ctm__st_int(st, i) == mc_of(c[i]) : null);
        }
    } else if (src != CTM_OK) {
        rc = ctm__store_fail(src, "reading the location's days");
    }
    ctm__st_finalize(st);
    return rc;
}

static int store_day(void *ctx, const ctm__logger_day *d)
{
    importer *im = ctx;
    char day[11];
    ctm__format_date(d->date, day);
    int same = 0, found = 0;
    int rc = day_stored(im, day, d, &same, &found);
    if (rc != CTM_OK)
        return rc;
    if (found)
        return same ? CTM_OK
                    : ctm__err(CTM_ERULE,
                               "line %llu: %s: %s has another summary of that day"
                               " (from an earlier logger file)",
                               (unsigned long long)d->line, day, im->place);
    ctm__st *st = NULL;
    rc = prepare_owned(im, &st,
                      "INSERT INTO logger_days(file_id, location_id, day, start_us, end_us,"
                      " min_mc, min_us, max_mc, max_us, avg_mc, minutes_high, minutes_low)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, im->file_id);
    ctm__st_bind_int(st, 2, im->location_id);
    ctm__st_bind_text(st, 3, day);
    ctm__st_bind_int(st, 4, d->start_us);
    ctm__st_bind_int(st, 5, d->end_us);
    bind_opt(st, 6, d->has_min, mc_of(d->min_c));
    bind_opt(st, 7, d->has_min && d->min_us != 0, d->min_us);
    bind_opt(st, 8, d->has_max, mc_of(d->max_c));
    bind_opt(st, 9, d->has_max && d->max_us != 0, d->max_us);
    bind_opt(st, 10, d->has_avg, mc_of(d->avg_c));
    ctm__st_bind_int(st, 11, d->minutes_high);
    ctm__st_bind_int(st, 12, d->minutes_low);
    rc = ctm__step_done(im->db, st, "storing a day's summary");
    if (rc == CTM_OK) {
        im->in_entry++; /* the entry's "stored" counts days too */
        im->added++;
    }
    return rc;
}

/* The file's record, from what the first pass found (serial: the file's, as clean_text made
 * it). */
static int insert_file(importer *im, const char *path, const ctm__logger_info *info,
                       const char *serial, const ctm_temp_import_options *o)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t blen = strlen(base);
    char *name = clean_text(base, blen > 200 ? 200 : blen, 0);
    char *model = clean_text(info->model, strlen(info->model), 0);
    char *evidence = info->evidence != NULL
                         ? clean_text(info->evidence, info->evidence_len, 1) : NULL;
    int rc = name == NULL || model == NULL || (info->evidence != NULL && evidence == NULL)
                 ? ctm__err(CTM_ENOMEM, "out of memory") : CTM_OK;
    char unit[2] = {info->unit != 0 ? info->unit : 'C', '\0'};
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = prepare_owned(im, &st,
                          "INSERT INTO logger_files(location_id, sha256, name, format, serial,"
                          " model, interval_s, unit, zone, readings, days, first_us, last_us,"
                          " high_mc, high_minutes, low_mc, low_minutes, device_mkt_mc,"
                          " device_energy_j, evidence, imported_us, imported_by)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                          " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) RETURNING id");
    if (rc == CTM_OK) {
        int any = info->readings + info->days > 0;
        ctm__st_bind_int(st, 1, im->location_id);
        ctm__st_bind_text(st, 2, im->sha256);
        ctm__st_bind_text(st, 3, name);
        ctm__st_bind_text(st, 4, info->format);
        ctm__st_bind_text(st, 5, serial);
        ctm__st_bind_text(st, 6, model);
        ctm__st_bind_int(st, 7, info->interval_s);
        ctm__st_bind_text(st, 8, unit);
        ctm__st_bind_text(st, 9, o->tz != NULL ? o->tz : "");
        ctm__st_bind_int(st, 10, (int64_t)info->readings);
        ctm__st_bind_int(st, 11, (int64_t)info->days);
        bind_opt(st, 12, any, info->first_us);
        bind_opt(st, 13, any, info->last_us);
        bind_opt(st, 14, info->has_high, mc_of(info->high_c));
        bind_opt(st, 15, info->has_high, info->high_minutes);
        bind_opt(st, 16, info->has_low, mc_of(info->low_c));
        bind_opt(st, 17, info->has_low, info->low_minutes);
        bind_opt(st, 18, info->has_device_mkt, mc_of(info->device_mkt_c));
        bind_opt(st, 19, info->has_device_mkt, (int64_t)llround(info->device_energy_kj * 1000.0));
        ctm__st_bind_text(st, 20, evidence); /* NULL binds NULL */
        ctm__st_bind_int(st, 21, ctm__now_us());
        ctm__st_bind_text(st, 22, im->db->session.user);
        rc = ctm__insert_id(im->db, st, &im->file_id, "recording the logger file");
    }
    if (rc == CTM_OK) {
        snprintf(im->p_name, sizeof im->p_name, "%s", name);
        snprintf(im->p_serial, sizeof im->p_serial, "%s", serial);
        ctm__action_param(&im->a, "file", im->p_name);
        ctm__action_param(&im->a, "format", info->format);
        ctm__action_param(&im->a, "serial", im->p_serial);
        snprintf(im->p_readings, sizeof im->p_readings, "%llu",
                 (unsigned long long)info->readings);
        ctm__action_param(&im->a, "readings", im->p_readings);
        snprintf(im->p_days, sizeof im->p_days, "%llu", (unsigned long long)info->days);
        ctm__action_param(&im->a, "days", im->p_days);
        if (info->readings + info->days > 0) {
            ctm__format_time_seconds(info->first_us, im->p_first, sizeof im->p_first);
            ctm__action_param(&im->a, "first", im->p_first);
            ctm__format_time_seconds(info->last_us, im->p_last, sizeof im->p_last);
            ctm__action_param(&im->a, "last", im->p_last);
        }
    }
    free(name);
    free(model);
    free(evidence);
    return rc;
}

static int find_file(importer *im, const char *sha, int64_t *id)
{
    ctm__st *st = NULL;
    *id = 0;
    int rc = prepare_owned(im, &st,
                           "SELECT id FROM logger_files WHERE location_id = ?1 AND sha256 = ?2");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, im->location_id);
    ctm__st_bind_text(st, 2, sha);
    int src = ctm__st_step(st);
    if (src == CTM_ROW)
        *id = ctm__st_int(st, 0);
    else if (src != CTM_OK)
        rc = ctm__store_fail(src, "reading logger files");
    ctm__st_finalize(st);
    return rc;
}

/* The same bytes imported again: nothing to do when they were read the same way; refused when
 * the zone or the unit asked now differs from the earlier import's (its readings would differ:
 * a file imported with the wrong zone is not corrected by importing it again). */
static int same_reading(ctm_db *db, int64_t file_id, const char *place, const char *tz,
                        char unit)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, "SELECT zone, unit, imported_us FROM logger_files WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, file_id);
    if (ctm__st_step(st) == CTM_ROW) {
        const char *zone = ctm__st_text(st, 0), *was = ctm__st_text(st, 1);
        char when[32];
        ctm__format_time_seconds(ctm__st_int(st, 2), when, sizeof when);
        if (strcmp(zone != NULL ? zone : "", tz != NULL ? tz : "") != 0)
            rc = ctm__err(CTM_EEXISTS,
                          "logger file: imported for %s at %s as logger file %lld with zone '%s';"
                          " the same file is not imported again with zone '%s'",
                          place, when, (long long)file_id, zone != NULL ? zone : "",
                          tz != NULL ? tz : "");
        else if (was != NULL && unit != 0 && was[0] != unit)
            rc = ctm__err(CTM_EEXISTS,
                          "logger file: imported for %s at %s as logger file %lld in degrees %s;"
                          " the same file is not imported again in degrees %c",
                          place, when, (long long)file_id, was, unit);
    }
    ctm__st_finalize(st);
    return rc;
}

static void fill_result(ctm_temp_import_result *r, const ctm__logger_info *info, const char *sha)
{
    r->readings = info->readings;
    r->days = info->days;
    r->first_us = info->readings + info->days > 0 ? info->first_us : 0;
    r->last_us = info->readings + info->days > 0 ? info->last_us : 0;
    snprintf(r->format, sizeof r->format, "%s", info->format != NULL ? info->format : "");
    char *serial = clean_text(info->serial, strlen(info->serial), 0);
    snprintf(r->serial, sizeof r->serial, "%s", serial != NULL ? serial : "");
    free(serial); /* the record takes r->serial: cleaning cannot lengthen, so it fits */
    snprintf(r->sha256, sizeof r->sha256, "%s", sha);
}

/* Whether readings from first_us to last_us meet the span of those the location has. */
static int span_overlaps(importer *im, int64_t first_us, int64_t last_us, int *overlaps)
{
    ctm__st *st = NULL;
    int rc = prepare_owned(im, &st,
                          "SELECT 1 FROM readings WHERE location_id = ?1"
                          " AND t_us BETWEEN ?2 AND ?3 LIMIT 1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, im->location_id);
    ctm__st_bind_int(st, 2, first_us);
    ctm__st_bind_int(st, 3, last_us);
    int src = ctm__st_step(st);
    *overlaps = src == CTM_ROW;
    if (src != CTM_ROW && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the location's readings");
    ctm__st_finalize(st);
    return rc;
}

/* The second pass, inside the open batch. */
static int store_file(importer *im, FILE *f, const struct stat *was, uint64_t bytes,
                      const char *path, const char *format, const ctm__logger_opts *lo,
                      const ctm_temp_import_options *o, const ctm__logger_info *info,
                      const char *serial, uint64_t *done, uint64_t total, int *duplicate)
{
    int64_t earlier = 0;
    int rc = find_file(im, im->sha256, &earlier);
    if (rc != CTM_OK || earlier != 0) {
        *duplicate = earlier != 0; /* imported meanwhile by another workstation */
        im->file_id = earlier;
        return rc;
    }
    if (info->readings > 0 &&
        (rc = span_overlaps(im, info->first_us, info->last_us, &im->overlaps)) != CTM_OK)
        return rc;
    if ((rc = ctm__excursion_scan_begin(&im->scan, im->db, im->shipment, im->location_id,
                                        info)) != CTM_OK)
        return rc;
    if ((rc = begin_entry(im, im->shipment ? "shipment.logger" : "temp.import")) != CTM_OK)
        return rc;
    rc = insert_file(im, path, info, serial, o);
    ctm__logger *lg = NULL;
    uint8_t sha[32];
    ctm__logger_sink sink = {im, store_reading, store_day};
    int changed = rc == CTM_OK && file_changed(f, was, bytes);
    if (rc == CTM_OK && !changed)
        rc = read_file(f, path, format, lo, &sink, o, done, total, sha, &lg);
    if (rc == CTM_OK && !changed)
        rc = flush(im);
    if (rc == CTM_OK && !changed) {
        char hex[65];
        ctm__hex(sha, 32, hex);
        changed = strcmp(hex, im->sha256) != 0;
    }
    /* a file changed meanwhile may fail the second pass as a bad line: say what happened */
    if (changed || (rc == CTM_EINVAL && file_changed(f, was, bytes)))
        rc = ctm__err(CTM_EIO, "logger file: '%s' changed while it was imported", path);
    ctm__logger_free(lg);
    if (rc == CTM_OK)
        rc = end_entry(im);
    if (im->action_open) {
        ctm__action_rollback(&im->a);
        im->action_open = 0;
    }
    return rc;
}

/* Import a logger file for its owner (a location, or a shipment: shipment non-zero), by id;
 * name is the owner's, for the entries.  in_batch: inside the caller's open batch (a receipt
 * that brings its logger), which commits or rolls back; else in a batch of its own.  After the
 * readings, the excursions they show are recorded (excursion.c), in the same transaction. */
int ctm__temp_import_owned(ctm_db *db, int shipment, int64_t owner_id, const char *name,
                           const char *path, const ctm_temp_import_options *opts,
                           ctm_temp_import_result *result, int in_batch)
{
    ctm_temp_import_options o = CTM_TEMP_IMPORT_OPTIONS_INIT;
    if (opts != NULL)
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    ctm_temp_import_result res = CTM_TEMP_IMPORT_RESULT_INIT;
    int rc = path == NULL ? ctm__err(CTM_EINVAL, "logger file: NULL") : CTM_OK;
    ctm__logger_opts lo;
    if (rc == CTM_OK)
        rc = parse_options(&o, &lo);
    struct stat sb;
    FILE *f = NULL;
    if (rc == CTM_OK)
        rc = open_file(path, &f, &sb);
    if (rc != CTM_OK)
        return rc;

    /* first pass: the whole file checked, nothing written */
    uint64_t total = 2 * (uint64_t)sb.st_size, done = 0;
    uint8_t sha[32];
    ctm__logger *lg = NULL;
    ctm__logger_sink counter = {NULL, nothing_reading, nothing_day};
    rc = read_file(f, path, o.format, &lo, &counter, &o, &done, total, sha, &lg);
    if (rc == CTM_OK && fstat(fileno(f), &sb) != 0)
        rc = ctm__err(CTM_EIO, "logger file: reading '%s' failed: %s", path, strerror(errno));
    if (rc != CTM_OK) {
        fclose(f);
        return rc;
    }
    const ctm__logger_info *info = ctm__logger_info_of(lg);
    /* the second pass reads the file as the first found it */
    const char *format = info->format;
    importer *im = calloc(1, sizeof *im);
    char place[96];
    snprintf(place, sizeof place, "%s %s", shipment ? "shipment" : "location", name);
    if (im == NULL) {
        ctm__logger_free(lg);
        fclose(f);
        return ctm__err(CTM_ENOMEM, "out of memory");
    }
    im->db = db;
    im->shipment = shipment;
    im->location = name;
    im->place = place;
    im->location_id = owner_id;
    ctm__hex(sha, 32, im->sha256);
    fill_result(&res, info, im->sha256);
    rc = find_file(im, im->sha256, &res.file_id);
    int duplicate = res.file_id != 0;
    if (rc == CTM_OK && duplicate)
        rc = same_reading(db, res.file_id, place, o.tz, info->unit);

    if (rc == CTM_OK && !duplicate && (in_batch || (rc = ctm_batch_begin(db)) == CTM_OK)) {
        rc = store_file(im, f, &sb, done, path, format, &lo, &o, info, res.serial, &done, total,
                        &duplicate);
        if (rc == CTM_OK && !duplicate)
            rc = ctm__excursion_scan_end(im->scan, name, info, &res.excursions,
                                         &res.quarantined);
        if (in_batch) {
            res.file_id = im->file_id;
            res.added = im->added;
        } else if (rc == CTM_OK && !duplicate) {
            rc = ctm_batch_commit(db);
            res.file_id = im->file_id;
            res.added = im->added;
        } else {
            rc = ctm__batch_abort(db, rc);
            res.file_id = im->file_id; /* a duplicate: the earlier file's */
        }
    }
    ctm__st_finalize(im->insert_full);
    ctm__excursion_scan_free(im->scan);
    free(im);
    ctm__logger_free(lg);
    fclose(f);
    res.duplicate = duplicate;
    if (rc == CTM_OK && result != NULL) {
        size_t n = result->struct_size < sizeof res ? result->struct_size : sizeof res;
        res.struct_size = result->struct_size;
        memcpy(result, &res, n);
    }
    return rc;
}

int ctm_temp_import(ctm_db *db, const char *location, const char *path,
                    const ctm_temp_import_options *opts, ctm_temp_import_result *result)
{
    ctm__clear_error();
    int rc = ctm__require_action(db, "temp.import", "temp import");
    if (rc == CTM_OK && (db->tx.batch || db->tx.open))
        rc = ctm__err(CTM_EMISUSE, "temp import: not inside a batch: an import is its own"
                                   " transaction");
    int64_t location_id = 0;
    if (rc == CTM_OK)
        rc = ctm__location_lookup(db, location, &location_id);
    if (rc != CTM_OK)
        return rc;
    return ctm__temp_import_owned(db, 0, location_id, location, path, opts, result, 0);
}

/* ---- reading ---- */

/* A location and a period of its readings: from and to as instants (NULL: open), to taken as
 * the last microsecond it names. */
static int period_of(ctm_db *db, const char *location, const char *from, const char *to,
                     int64_t *location_id, int64_t *lo, int64_t *hi)
{
    int rc = ctm__location_lookup(db, location, location_id);
    if (rc == CTM_OK && from != NULL)
        rc = ctm__parse_instant("from", from, 0, lo);
    if (rc == CTM_OK && to != NULL)
        rc = ctm__parse_instant("to", to, 1, hi);
    return rc;
}

int ctm_temp_list(ctm_query **out, ctm_db *db, const char *location, const char *from,
                  const char *to)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "temp list", NULL, &t);
    int64_t location_id = 0, lo = INT64_MIN, hi = INT64_MAX;
    if (rc == CTM_OK)
        rc = period_of(db, location, from, to, &location_id, &lo, &hi);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT r.t_us AS time, r.temp_mc / 1000.0 AS temp, f.serial AS serial,"
                          " r.file_id AS file FROM readings r"
                          " JOIN logger_files f ON f.id = r.file_id"
                          " WHERE r.location_id = ?1 AND r.t_us BETWEEN ?2 AND ?3 ORDER BY r.t_us");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, location_id);
    ctm__st_bind_int(st, 2, lo);
    ctm__st_bind_int(st, 3, hi);
    ctm__st_stream(st);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "time", NULL);
    return rc;
}

int ctm_temp_files(ctm_query **out, ctm_db *db, const char *location)
{
    ctm__trial t;
    int rc = ctm__listing_begin(out, db, "temp files", NULL, &t);
    int64_t location_id = 0;
    if (rc == CTM_OK && location != NULL)
        rc = ctm__location_lookup(db, location, &location_id);
    ctm__st *st = NULL;
    if (rc == CTM_OK)
        rc = ctm__prepare(db, &st,
                          "SELECT f.id AS file, l.name AS location, f.name AS name,"
                          " f.sha256 AS sha256, f.format AS format, f.serial AS serial,"
                          " f.model AS model, f.interval_s AS interval_s, f.unit AS unit,"
                          " f.zone AS zone, f.readings AS readings, f.days AS days,"
                          " f.first_us AS first, f.last_us AS last, f.imported_us AS imported,"
                          " f.imported_by AS imported_by"
                          " FROM logger_files f JOIN locations l ON l.id = f.location_id"
                          " WHERE ?1 = 0 OR f.location_id = ?1 ORDER BY f.id DESC");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, location_id);
    rc = ctm__query_new(out, st, NULL, 0, NULL, NULL, NULL);
    if (rc == CTM_OK)
        rc = ctm__query_show(out, CTM__SHOW_TIME, "first", "last", "imported", NULL);
    return rc;
}

/* ---- walking a location's readings ---- */

typedef int (*hold_fn)(void *ctx, const ctm__held *r);

/* The readings of location_id (shipment: of that shipment) from lo to hi (both included), in
 * time order, each handed to fn once with the time it held (mkt.h's rule: until the next
 * reading, at most max_hold; the last until end, or, end 0, as long as the one before it). */
static int walk_readings(ctm_db *db, int shipment, int64_t location_id, int64_t lo, int64_t hi,
                         int64_t end, int64_t max_hold, hold_fn fn, void *ctx)
{
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          shipment ? "SELECT t_us, temp_mc FROM readings WHERE shipment_id = ?1"
                                     " AND t_us BETWEEN ?2 AND ?3 ORDER BY t_us"
                                   : "SELECT t_us, temp_mc FROM readings WHERE location_id = ?1"
                                     " AND t_us BETWEEN ?2 AND ?3 ORDER BY t_us");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, location_id);
    ctm__st_bind_int(st, 2, lo);
    ctm__st_bind_int(st, 3, hi);
    ctm__st_stream(st);
    ctm__hold h;
    ctm__hold_init(&h, max_hold);
    ctm__held r;
    int src = CTM_OK;
    while (rc == CTM_OK && (src = ctm__st_step(st)) == CTM_ROW)
        if (ctm__hold_next(&h, ctm__st_int(st, 0), ctm__st_int(st, 1), &r))
            rc = fn(ctx, &r);
    ctm__st_finalize(st);
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the location's readings");
    if (rc == CTM_OK && ctm__hold_end(&h, end, &r))
        rc = fn(ctx, &r);
    return rc;
}

/* What MKT and exposure both keep of the readings they see. */
typedef struct seen {
    ctm__mkt m;
    uint64_t readings;
    int64_t first_us, last_us;
    double min_c, max_c;
} seen;

static void see(seen *x, const ctm__held *r)
{
    double c = (double)r->mc / 1000.0;
    if (x->readings == 0) {
        x->first_us = r->t_us;
        x->min_c = x->max_c = c;
    }
    x->min_c = c < x->min_c ? c : x->min_c;
    x->max_c = c > x->max_c ? c : x->max_c;
    x->last_us = r->t_us;
    x->readings++;
    ctm__mkt_add(&x->m, c, (double)r->held_us);
}

/* ---- mean kinetic temperature ---- */

typedef struct mkt_ctx {
    seen seen;
    uint64_t gaps;
    int64_t gap_us;
} mkt_ctx;

static int mkt_hold(void *ctx, const ctm__held *r)
{
    mkt_ctx *x = ctx;
    see(&x->seen, r);
    x->gaps += r->gap_us > 0;
    x->gap_us += r->gap_us;
    return CTM_OK;
}

int ctm_temp_mkt(ctm_db *db, const char *location, const char *from, const char *to,
                 const ctm_mkt_options *opts, ctm_mkt_result *result)
{
    ctm__clear_error();
    ctm_mkt_options o = CTM_MKT_OPTIONS_INIT;
    if (opts != NULL)
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    int rc = ctm__require_user(db, 0, "temp mkt");
    if (rc == CTM_OK && result == NULL)
        rc = ctm__err(CTM_EINVAL, "temp mkt: result: NULL");
    if (rc == CTM_OK && o.energy_kj != 0.0 && !(o.energy_kj >= 10.0 && o.energy_kj <= 500.0))
        rc = ctm__err(CTM_EINVAL, "energy: %g kJ/mol is outside 10..500", o.energy_kj);
    if (rc == CTM_OK && (o.max_gap_minutes < 0 || o.max_gap_minutes > 10080))
        rc = ctm__err(CTM_EINVAL, "max gap: %d minutes is outside 1..10080", o.max_gap_minutes);
    int64_t location_id = 0, lo = INT64_MIN, hi = INT64_MAX;
    if (rc == CTM_OK)
        rc = period_of(db, location, from, to, &location_id, &lo, &hi);
    double dhr = o.energy_kj != 0.0 ? ctm__mkt_dhr(o.energy_kj) : CTM__MKT_DEFAULT_DHR;
    int64_t max_hold = (int64_t)(o.max_gap_minutes != 0 ? o.max_gap_minutes : 60) * 60000000;
    mkt_ctx x;
    memset(&x, 0, sizeof x);
    ctm__mkt_init(&x.seen.m, dhr);
    if (rc == CTM_OK)
        rc = walk_readings(db, 0, location_id, lo, hi, 0, max_hold, mkt_hold, &x);
    if (rc != CTM_OK)
        return rc;
    ctm_mkt_result res = CTM_MKT_RESULT_INIT;
    res.energy_kj = dhr * CTM__GAS_CONSTANT / 1000.0;
    res.readings = x.seen.readings;
    res.first_us = x.seen.first_us;
    res.last_us = x.seen.last_us;
    res.min_c = res.readings > 0 ? x.seen.min_c : NAN;
    res.max_c = res.readings > 0 ? x.seen.max_c : NAN;
    res.mkt_c = res.readings > 0 ? ctm__mkt_celsius(&x.seen.m) : NAN;
    res.gaps = x.gaps;
    res.gap_us = x.gap_us;
    size_t n = result->struct_size < sizeof res ? result->struct_size : sizeof res;
    res.struct_size = result->struct_size;
    memcpy(result, &res, n);
    return CTM_OK;
}

/* ---- a kit's exposure ---- */

#define EXPOSURE_HOLD_US (60LL * 60 * 1000000) /* a reading holds at most an hour */

typedef struct exposure_ctx {
    seen seen;
    int64_t lo_mc, hi_mc;
    int64_t high_us, low_us, covered_us;
} exposure_ctx;

/* What no reading covers is the stays' time less what the readings cover. */
static int exposure_hold(void *ctx, const ctm__held *r)
{
    exposure_ctx *x = ctx;
    see(&x->seen, r);
    x->covered_us += r->held_us;
    if (r->mc > x->hi_mc)
        x->high_us += r->held_us;
    else if (r->mc < x->lo_mc)
        x->low_us += r->held_us;
    return CTM_OK;
}

/* The time the kit's stays hold from and until ((*stays)[i][0] a location, [1] since, [2] until):
 * its stays as ctm_kit_history lists them, each ended by its dispensing too (a kit with a
 * subject is in no location of the site), those after it left dropped.  A stay it has not left
 * ends at INT64_MAX: every reading stored since it came counts.  *stays is malloc'd: a kit may
 * be moved any number of times, each move an audited action. */
typedef int64_t stay[3];

static int kit_stays(ctm_db *db, int64_t kit_id, stay **stays, int *n)
{
    *n = 0;
    *stays = NULL;
    size_t cap = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st, CTM__KIT_STAYS_SQL(
                                       "SELECT location_id, since_us, LEAD(since_us) OVER"
                                       " (ORDER BY since_us, n), (SELECT MIN(dispensed_us)"
                                       " FROM dispensations WHERE kit_id = ?1 AND status <>"
                                       " 'reversed') FROM h ORDER BY since_us, n"));
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, kit_id);
    int src;
    while ((src = ctm__st_step(st)) == CTM_ROW) {
        if (ctm__st_type(st, 0) == CTM_V_NULL)
            continue; /* sent away: no location of the site */
        int64_t since = ctm__st_int(st, 1);
        int64_t until = ctm__st_type(st, 2) == CTM_V_NULL ? INT64_MAX : ctm__st_int(st, 2);
        if (ctm__st_type(st, 3) != CTM_V_NULL && ctm__st_int(st, 3) < until)
            until = ctm__st_int(st, 3);
        if (until <= since)
            continue;
        if ((size_t)*n == cap) {
            cap = cap ? 2 * cap : 8;
            stay *grown = cap < INT32_MAX ? realloc(*stays, cap * sizeof *grown) : NULL;
            if (grown == NULL) {
                rc = ctm__err(CTM_ENOMEM, "out of memory");
                break;
            }
            *stays = grown;
        }
        (*stays)[*n][0] = ctm__st_int(st, 0);
        (*stays)[*n][1] = since;
        (*stays)[*n][2] = until;
        (*n)++;
    }
    ctm__st_finalize(st);
    if (rc == CTM_OK && src != CTM_OK)
        rc = ctm__store_fail(src, "reading the kit's history");
    if (rc != CTM_OK) {
        free(*stays);
        *stays = NULL;
        *n = 0;
    }
    return rc;
}

int ctm__kit_exposure_of(ctm_db *db, int64_t kit_id, const char *number, ctm_exposure_result *result)
{
    ctm_exposure_result res = CTM_EXPOSURE_RESULT_INIT;
    exposure_ctx x;
    memset(&x, 0, sizeof x);
    ctm__mkt_init(&x.seen.m, CTM__MKT_DEFAULT_DHR);
    ctm__st *st = NULL;
    int64_t shipment_id = 0;
    int rc = ctm__prepare(db, &st,
                          "SELECT kt.storage_min_mc, kt.storage_max_mc, kt.budget_minutes,"
                          " kt.budget_max_mc, k.shipment_id FROM kits k"
                          " JOIN kit_types kt ON kt.id = k.kit_type_id WHERE k.id = ?1");
    if (rc == CTM_OK) {
        ctm__st_bind_int(st, 1, kit_id);
        if (ctm__st_step(st) == CTM_ROW) {
            x.lo_mc = ctm__st_int(st, 0);
            x.hi_mc = ctm__st_int(st, 1);
            res.has_budget = ctm__st_type(st, 2) != CTM_V_NULL;
            res.budget_minutes = res.has_budget ? ctm__st_int(st, 2) : 0;
            res.budget_max_c = res.has_budget && ctm__st_type(st, 3) != CTM_V_NULL
                                   ? (double)ctm__st_int(st, 3) / 1000.0 : NAN;
            shipment_id = ctm__st_type(st, 4) != CTM_V_NULL ? ctm__st_int(st, 4) : 0;
        }
        ctm__st_finalize(st);
        st = NULL;
    }
    (void)number; /* for messages; no limit of stays is left to name it in one */
    stay *stays = NULL;
    int64_t stay_us = 0;
    int n = 0;
    if (rc == CTM_OK)
        rc = kit_stays(db, kit_id, &stays, &n);
    /* the journey first: the shipment's logger, every reading of it, covered time counted as
     * known (the journey's own length is the logger's) */
    if (rc == CTM_OK && shipment_id != 0)
        rc = walk_readings(db, 1, shipment_id, INT64_MIN, INT64_MAX, 0, EXPOSURE_HOLD_US,
                           exposure_hold, &x);
    int64_t journey_us = x.covered_us;
    /* over each stay [since, until) each reading holds no further than the stay */
    int64_t now = ctm__now_us();
    for (int i = 0; rc == CTM_OK && i < n; i++) {
        /* the time a reading should cover: until it left, or until now */
        int64_t until = stays[i][2] != INT64_MAX ? stays[i][2] : now;
        stay_us += until > stays[i][1] ? until - stays[i][1] : 0;
        rc = walk_readings(db, 0, stays[i][0], stays[i][1], stays[i][2] - 1, stays[i][2],
                           EXPOSURE_HOLD_US, exposure_hold, &x);
    }
    free(stays);
    if (rc != CTM_OK)
        return rc;
    res.readings = x.seen.readings;
    /* microseconds into minutes, rounded up: a minute begun out of range counts */
    res.minutes_high = (x.high_us + 59999999) / 60000000;
    res.minutes_low = (x.low_us + 59999999) / 60000000;
    int64_t unknown = stay_us - (x.covered_us - journey_us);
    res.minutes_unknown = unknown > 0 ? unknown / 60000000 : 0;
    res.min_c = res.readings > 0 ? x.seen.min_c : NAN;
    res.max_c = res.readings > 0 ? x.seen.max_c : NAN;
    res.mkt_c = res.readings > 0 ? ctm__mkt_celsius(&x.seen.m) : NAN;
    int64_t out = res.minutes_high + res.minutes_low;
    res.over_budget = res.has_budget
                          ? out > res.budget_minutes ||
                                (!isnan(res.budget_max_c) && res.readings > 0 &&
                                 res.max_c > res.budget_max_c)
                          : out > 0;
    size_t len = result->struct_size < sizeof res ? result->struct_size : sizeof res;
    res.struct_size = result->struct_size;
    memcpy(result, &res, len);
    return CTM_OK;
}

int ctm_kit_exposure(ctm_db *db, const char *trial, const char *kit, ctm_exposure_result *result)
{
    ctm__clear_error();
    int rc = ctm__require_user(db, 0, "kit exposure");
    if (rc == CTM_OK && result == NULL)
        rc = ctm__err(CTM_EINVAL, "kit exposure: result: NULL");
    int64_t kit_id = 0;
    char number[48];
    if (rc == CTM_OK)
        rc = ctm__kit_find(db, trial, kit, &kit_id, number);
    return rc == CTM_OK ? ctm__kit_exposure_of(db, kit_id, number, result) : rc;
}

/* ---- an excursion's MKT ---- */

int ctm__excursion_mkt(ctm_db *db, int64_t id, double *mkt_c, double *energy_kj, int *has)
{
    *has = 0;
    ctm__st *st = NULL;
    int rc = ctm__prepare(db, &st,
                          "SELECT location_id, shipment_id, start_us, end_us, max_gap_minutes"
                          " FROM excursions WHERE id = ?1");
    if (rc != CTM_OK)
        return rc;
    ctm__st_bind_int(st, 1, id);
    int found = ctm__st_step(st) == CTM_ROW;
    int shipment = found && ctm__st_type(st, 0) == CTM_V_NULL;
    int64_t owner = found ? ctm__st_int(st, shipment ? 1 : 0) : 0;
    int64_t lo = found ? ctm__st_int(st, 2) : 0, hi = found ? ctm__st_int(st, 3) : 0;
    int64_t gap = found ? ctm__st_int(st, 4) * 60000000 : 0;
    ctm__st_finalize(st);
    mkt_ctx x;
    memset(&x, 0, sizeof x);
    ctm__mkt_init(&x.seen.m, CTM__MKT_DEFAULT_DHR);
    if (found)
        rc = walk_readings(db, shipment, owner, lo, hi, hi, gap, mkt_hold, &x);
    /* a period whose only reading is at its end (a gap's) weighs nothing: no MKT */
    if (rc == CTM_OK && x.seen.readings > 0 && !isnan(ctm__mkt_celsius(&x.seen.m))) {
        *has = 1;
        *mkt_c = ctm__mkt_celsius(&x.seen.m);
        *energy_kj = CTM__MKT_DEFAULT_DHR * CTM__GAS_CONSTANT / 1000.0;
    }
    return rc;
}
