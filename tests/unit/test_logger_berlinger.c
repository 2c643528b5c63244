/* test_logger_berlinger.c - the Berlinger text reports (logger_berlinger.c): a real Q-tag report
 * read whole and byte by byte, the device's header (zone, interval, alarm limits, MKT) and its
 * signature kept as evidence, the MKT recomputed from its readings, a Fridge-tag's days in date
 * order, and each refusal naming its line, field and value. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "logger.h"
#include "mkt.h"
#include "testutil.h"

#define QTAG "loggers/berlinger-qtag-RCPJ00010-run2.txt"
#define FRIDGETAG "loggers/fridgetag2-sample.txt"
#define FRIDGETAG_REAL "loggers/berlinger-fridgetag2-130400191544.txt"

/* 2022-11-08 04:49 and 2022-11-09 01:19 UTC (the Q-tag's Zone is 0.00) */
#define QTAG_FIRST 1667882940LL
#define QTAG_LAST 1667956740LL

typedef struct got {
    size_t n, ndays;
    int64_t t_us[200];
    double temp[200];
    uint64_t line[200];
    ctm__logger_day days[20];
} got;

static int on_reading(void *ctx, const ctm__logger_reading *r)
{
    got *g = ctx;
    ck_assert_uint_lt(g->n, 200);
    g->t_us[g->n] = r->t_us;
    g->temp[g->n] = r->temp_c;
    g->line[g->n++] = r->line;
    return CTM_OK;
}

static int on_day(void *ctx, const ctm__logger_day *d)
{
    got *g = ctx;
    ck_assert_uint_lt(g->ndays, 20);
    g->days[g->ndays++] = *d;
    return CTM_OK;
}

/* Read text (len bytes) in chunks of `chunk` bytes (0: whole); the status, with g and info
 * filled (info->evidence: a copy the caller frees, or NULL). */
static int read_report(const char *text, size_t len, size_t chunk, const ctm__logger_opts *o,
                       got *g, ctm__logger_info *info)
{
    memset(g, 0, sizeof *g);
    ctm__logger_sink sink = {g, on_reading, on_day};
    ctm__logger *lg = NULL;
    int rc = ctm__logger_open(&lg, "berlinger", o, &sink);
    if (rc != CTM_OK)
        return rc;
    if (chunk == 0)
        chunk = len > 0 ? len : 1;
    for (size_t i = 0; rc == CTM_OK && i < len; i += chunk)
        rc = ctm__logger_feed(lg, text + i, len - i < chunk ? len - i : chunk);
    if (rc == CTM_OK)
        rc = ctm__logger_finish(lg);
    if (info != NULL) {
        *info = *ctm__logger_info_of(lg);
        info->evidence = info->evidence != NULL ? strdup(info->evidence) : NULL;
    }
    ctm__logger_free(lg);
    return rc;
}

/* text with the first `from` replaced by `to` (the result is the caller's). */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' is not in the text", from);
    size_t a = (size_t)(at - text), fl = strlen(from), tl = strlen(to), n = strlen(text);
    char *out = malloc(n - fl + tl + 1);
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, at + fl, n - a - fl + 1);
    return out;
}

/* The text refused with exactly `message`, read whole and byte by byte. */
static void refused(const char *text, size_t len, const char *message)
{
    size_t chunks[] = {0, 1};
    for (size_t c = 0; c < 2; c++) {
        got g;
        ck_assert_int_eq(read_report(text, len, chunks[c], NULL, &g, NULL), CTM_EINVAL);
        ck_assert_str_eq(ctm_errmsg(), message);
    }
}

static void refused_text(const char *text, const char *message)
{
    refused(text, strlen(text), message);
}

START_TEST(test_qtag_sample)
{
    char *text = tu_read_data(QTAG);
    got g;
    ctm__logger_info in;
    ck_assert_int_eq(read_report(text, strlen(text), 0, NULL, &g, &in), CTM_OK);
    ck_assert_uint_eq(g.n, 124);
    ck_assert_int_eq(g.t_us[0], QTAG_FIRST * 1000000);
    ck_assert_double_eq_tol(g.temp[0], 4.4, 1e-9);
    ck_assert_uint_eq(g.line[0], 72);
    ck_assert_int_eq(g.t_us[123], QTAG_LAST * 1000000);
    ck_assert_double_eq_tol(g.temp[123], 24.1, 1e-9);
    ck_assert_uint_eq(g.line[123], 195);
    /* every ten minutes, none missing */
    for (size_t i = 1; i < g.n; i++)
        ck_assert_int_eq(g.t_us[i] - g.t_us[i - 1], INT64_C(600000000));
    ck_assert_str_eq(in.format, "berlinger");
    ck_assert_str_eq(in.model, "Q-tag CLm doc LR");
    ck_assert_str_eq(in.serial, "RCPJ00010");
    ck_assert_int_eq(in.interval_s, 600);
    ck_assert_int_eq(in.unit, 'C');
    /* hot single 8.0/30 and hot cumulative 8.0/60: the strictest is 8.0 for 30 minutes; cold
     * likewise 2.0 for 30; alarm 3 (type 0) is off */
    ck_assert_int_eq(in.has_high, 1);
    ck_assert_double_eq_tol(in.high_c, 8.0, 1e-9);
    ck_assert_int_eq(in.high_minutes, 30);
    ck_assert_int_eq(in.has_low, 1);
    ck_assert_double_eq_tol(in.low_c, 2.0, 1e-9);
    ck_assert_int_eq(in.low_minutes, 30);
    ck_assert_int_eq(in.has_device_mkt, 1);
    ck_assert_double_eq_tol(in.device_mkt_c, 10.5, 1e-9);
    ck_assert_double_eq_tol(in.device_energy_kj, 83.0, 1e-9);
    ck_assert_uint_eq(in.readings, 124);
    ck_assert_uint_eq(in.days, 0);
    ck_assert_int_eq(in.first_us, QTAG_FIRST * 1000000);
    ck_assert_int_eq(in.last_us, QTAG_LAST * 1000000);
    /* the certificate and the signatures, verbatim, without the CR of the file's lines */
    ck_assert_ptr_nonnull(in.evidence);
    ck_assert(strncmp(in.evidence, "Cert:\n Vers: 1.0\n Lot: 26102012\n Issuer: Qtag AG\n", 48) == 0);
    ck_assert(strstr(in.evidence, "\nSig Cert: 1c5530d70568a306") != NULL);
    ck_assert(strstr(in.evidence, "\nSig: 719c4f6bb685dcf1428aa91f1002f423f33b0ae3f39a3a6648ad693a401119"
                                  "56d9ddab8a79aec04d79062dfac55f61667c336dbd5a912fdb14e0d9e1cc2bb0e4\n") !=
              NULL);
    ck_assert_uint_eq(in.evidence_len, strlen(in.evidence));
    ck_assert_ptr_null(strchr(in.evidence, '\r'));
    ck_assert_int_eq(in.evidence[in.evidence_len - 1], '\n');
    free(in.evidence);
    free(text);
}
END_TEST

/* Fed byte by byte, or in chunks of 7, the report gives what it gives whole. */
START_TEST(test_qtag_in_chunks)
{
    char *text = tu_read_data(QTAG);
    got whole, part;
    ctm__logger_info a, b;
    ck_assert_int_eq(read_report(text, strlen(text), 0, NULL, &whole, &a), CTM_OK);
    size_t chunks[] = {1, 7};
    for (size_t c = 0; c < 2; c++) {
        ck_assert_int_eq(read_report(text, strlen(text), chunks[c], NULL, &part, &b), CTM_OK);
        ck_assert_int_eq(memcmp(&whole, &part, sizeof whole), 0);
        ck_assert_str_eq(a.evidence, b.evidence);
        ck_assert_str_eq(a.serial, b.serial);
        ck_assert_uint_eq(a.readings, b.readings);
        free(b.evidence);
    }
    free(a.evidence);
    free(text);
}
END_TEST

/* The file's Zone converts its local times when the user names no zone; the user's zone wins. */
START_TEST(test_qtag_zone)
{
    char *text = tu_read_data(QTAG);
    char *plus1 = replaced(text, " Zone: 0.00", " Zone: +1.00");
    got g;
    ck_assert_int_eq(read_report(plus1, strlen(plus1), 0, NULL, &g, NULL), CTM_OK);
    ck_assert_int_eq(g.t_us[0], (QTAG_FIRST - 3600) * 1000000);
    char *india = replaced(text, " Zone: 0.00", " Zone: 5.50");
    ck_assert_int_eq(read_report(india, strlen(india), 0, NULL, &g, NULL), CTM_OK);
    ck_assert_int_eq(g.t_us[0], (QTAG_FIRST - 5 * 3600 - 1800) * 1000000);
    ctm__logger_opts o = {"-03:00", CTM__DATE_AS_FILE, 0};
    ck_assert_int_eq(read_report(plus1, strlen(plus1), 0, &o, &g, NULL), CTM_OK);
    ck_assert_int_eq(g.t_us[0], (QTAG_FIRST + 3 * 3600) * 1000000);
    /* without a Zone and without the user's, local times are refused */
    char *none = replaced(text, " Zone: 0.00\r\n", "");
    refused_text(none, "line 71: the file gives local times without a zone; name the logger's zone");
    free(none);
    free(india);
    free(plus1);
    free(text);
}
END_TEST

/* The MKT of the readings, with the device's activation energy, is what the device reports
 * (10.58 C, which the device truncates to 10.5). */
START_TEST(test_qtag_mkt_matches_the_device)
{
    char *text = tu_read_data(QTAG);
    got g;
    ctm__logger_info in;
    ck_assert_int_eq(read_report(text, strlen(text), 0, NULL, &g, &in), CTM_OK);
    double mkt = ctm__mkt_series(g.t_us, g.temp, g.n, 0, ctm__mkt_dhr(in.device_energy_kj));
    ck_assert_msg(fabs(mkt - 10.58) < 0.005, "MKT %.4f", mkt);
    ck_assert_double_eq_tol(floor(mkt * 10) / 10, in.device_mkt_c, 1e-9);
    free(in.evidence);
    free(text);
}
END_TEST

/* The Fridge-tag's days come in date order whatever the file's (newest first), each with its
 * line, its min and max times in UTC (Zone +1.00) and its minutes beyond each limit. */
START_TEST(test_fridgetag_days)
{
    char *text = tu_read_data(FRIDGETAG);
    size_t chunks[] = {0, 1};
    for (size_t c = 0; c < 2; c++) {
        got g;
        ctm__logger_info in;
        ck_assert_int_eq(read_report(text, strlen(text), chunks[c], NULL, &g, &in), CTM_OK);
        ck_assert_uint_eq(g.n, 0);
        ck_assert_uint_eq(g.ndays, 10);
        ck_assert_str_eq(in.model, "Q-tag Fridge-tag 2");
        ck_assert_str_eq(in.serial, "130400190001");
        ck_assert_int_eq(in.interval_s, 0);
        ck_assert_int_eq(in.has_high, 1);
        ck_assert_double_eq_tol(in.high_c, 8.0, 1e-9);
        ck_assert_int_eq(in.high_minutes, 600);
        ck_assert_int_eq(in.has_low, 1);
        ck_assert_double_eq_tol(in.low_c, -0.5, 1e-9);
        ck_assert_int_eq(in.low_minutes, 60);
        ck_assert_int_eq(in.has_device_mkt, 0);
        ck_assert_uint_eq(in.days, 10);
        ck_assert_uint_eq(in.readings, 0);
        /* 2024-03-01 00:00 +01:00 .. 2024-03-11 00:00 +01:00 */
        ck_assert_int_eq(in.first_us, INT64_C(1709247600) * 1000000);
        ck_assert_int_eq(in.last_us, INT64_C(1710111600) * 1000000);
        ck_assert(strncmp(in.evidence, "Cert:\n", 6) == 0);
        for (size_t i = 0; i < 10; i++) {
            const ctm__logger_day *d = &g.days[i];
            ck_assert_int_eq(d->date, 19783 + (int64_t)i); /* 2024-03-01 ... */
            ck_assert_int_eq(d->start_us, (INT64_C(1709247600) + (int64_t)i * 86400) * 1000000);
            ck_assert_int_eq(d->end_us - d->start_us, INT64_C(86400000000));
            ck_assert_uint_eq(d->line, 153 - 13 * i - (i >= 4 ? 2 : 0));
            ck_assert(d->has_min && d->has_max && d->has_avg);
            ck_assert_int_eq(d->minutes_high, i == 4 ? 95 : 0);
            ck_assert_int_eq(d->minutes_low, i == 6 ? 12 : 0);
        }
        /* 2024-03-05: Max T +11.4 at 10:47 local, 09:47 UTC */
        ck_assert_double_eq_tol(g.days[4].max_c, 11.4, 1e-9);
        ck_assert_int_eq(g.days[4].max_us, INT64_C(1709632020) * 1000000);
        ck_assert_double_eq_tol(g.days[4].avg_c, 6.3, 1e-9);
        /* 2024-03-07: Min T -1.2 at 07:21 local */
        ck_assert_double_eq_tol(g.days[6].min_c, -1.2, 1e-9);
        ck_assert_int_eq(g.days[6].min_us, INT64_C(1709792460) * 1000000);
        /* 2024-03-09: the min at 00:00, the first instant of the day */
        ck_assert_int_eq(g.days[8].min_us, g.days[8].start_us);
        free(in.evidence);
    }
    free(text);
}
END_TEST

/* A real Fridge-tag 2 report (CRLF, an external sensor's keys, a key twice in a record). */
START_TEST(test_fridgetag_real)
{
    char *text = tu_read_data(FRIDGETAG_REAL);
    got g;
    ctm__logger_info in;
    ck_assert_int_eq(read_report(text, strlen(text), 0, NULL, &g, &in), CTM_OK);
    ck_assert_str_eq(in.model, "Q-tag Fridge-tag 2");
    ck_assert_str_eq(in.serial, "130400191544");
    ck_assert_uint_eq(g.ndays, 4);
    /* 2023-04-17 (line 81): activated 16:43; Max T +20.8 at 19:41, 8 minutes above +8.0 */
    const ctm__logger_day *d = &g.days[0];
    ck_assert_int_eq(d->date, 19464);
    ck_assert_uint_eq(d->line, 81);
    ck_assert_int_eq(d->start_us, INT64_C(1681689600) * 1000000);
    ck_assert_double_eq_tol(d->min_c, 2.3, 1e-9);
    ck_assert_int_eq(d->min_us, INT64_C(1681762260) * 1000000);
    ck_assert_double_eq_tol(d->max_c, 20.8, 1e-9);
    ck_assert_int_eq(d->max_us, INT64_C(1681760460) * 1000000);
    ck_assert_double_eq_tol(d->avg_c, 4.4, 1e-9);
    ck_assert_int_eq(d->minutes_high, 8);
    ck_assert_int_eq(d->minutes_low, 0);
    ck_assert_int_eq(g.days[1].minutes_high, 2);
    /* 2023-04-20 (line 34), the report's first record */
    d = &g.days[3];
    ck_assert_int_eq(d->date, 19467);
    ck_assert_uint_eq(d->line, 34);
    ck_assert_double_eq_tol(d->min_c, 2.0, 1e-9);
    ck_assert_double_eq_tol(d->max_c, 8.0, 1e-9);
    ck_assert_int_eq(d->max_us, INT64_C(1682001180) * 1000000);
    ck_assert_int_eq(in.first_us, INT64_C(1681689600) * 1000000);
    ck_assert_int_eq(in.last_us, INT64_C(1682035200) * 1000000);
    ck_assert(strstr(in.evidence, "\nSig: 83847cd9b0766014") != NULL);
    free(in.evidence);
    free(text);
}
END_TEST

/* A report with both Hist and Data (a Fridge-tag 2 L) is read for its readings; "--.-" is no
 * measurement; a row's flag is "x" or nothing. */
START_TEST(test_hist_and_data)
{
    const char *text = "Device: Q-tag Fridge-tag 2 L\n"
                       "Conf:\n"
                       " Serial: 130500100001\n"
                       " Zone: 0.00\n"
                       " Temp unit: C\n"
                       " Alarm:\n"
                       "  0:\n"
                       "   T AL: +2.0, t AL: 60\n"
                       "  1:\n"
                       "   T AL: +8.0, t AL: 60\n"
                       " Logging Interval: 5\n"
                       "Hist:\n"
                       " 1:\n"
                       "  Date: 2022-05-02\n"
                       "  Min T: +3.5, TS Min T: 23:53\n"
                       "  Max T: +27.5, TS Max T: 10:36\n"
                       "  Alarm:\n"
                       "   1:\n"
                       "    t Acc: 42\n"
                       "Data:\n"
                       "\tyyyy-MM-dd hh:mm\tT\tOut of limits\n"
                       "\t2022-05-02 10:36\t--.-\tx\n"
                       "\t2022-05-02 10:41\t26.8\tx\n"
                       "\t2022-05-02 10:46\t7.3\n"
                       "\t2022-05-02 10:51\t-0.5\t\n"
                       "Cert:\n"
                       " Vers: 1.0\n"
                       "Sig: 00\n";
    got g;
    ctm__logger_info in;
    ck_assert_int_eq(read_report(text, strlen(text), 0, NULL, &g, &in), CTM_OK);
    ck_assert_uint_eq(g.n, 3);
    ck_assert_uint_eq(g.ndays, 0);
    ck_assert_int_eq(g.t_us[0], INT64_C(1651488060) * 1000000); /* 2022-05-02 10:41Z */
    ck_assert_double_eq_tol(g.temp[0], 26.8, 1e-9);
    ck_assert_double_eq_tol(g.temp[2], -0.5, 1e-9);
    ck_assert_int_eq(in.interval_s, 300);
    ck_assert_str_eq(in.evidence, "Cert:\n Vers: 1.0\nSig: 00\n");
    free(in.evidence);
    /* the format is chosen from the first line when none is named */
    ctm__logger_sink sink = {&g, on_reading, on_day};
    ctm__logger *lg = NULL;
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(ctm__logger_open(&lg, NULL, NULL, &sink), CTM_OK);
    ck_assert_int_eq(ctm__logger_feed(lg, text, strlen(text)), CTM_OK);
    ck_assert_int_eq(ctm__logger_finish(lg), CTM_OK);
    ck_assert_str_eq(ctm__logger_info_of(lg)->format, "berlinger");
    ck_assert_uint_eq(g.n, 3);
    ctm__logger_free(lg);
}
END_TEST

START_TEST(test_refusals_in_data)
{
    char *text = tu_read_data(QTAG);
    char *bad = replaced(text, "\t2022-11-08 04:59\t3.2\t", "\t2022-11-08 04:59\t3.2.1\t");
    refused_text(bad, "line 73: T: '3.2.1' is not a temperature");
    free(bad);
    bad = replaced(text, "\t2022-11-08 04:59\t3.2\t", "\t2022-11-08 04:39\t3.2\t");
    refused_text(bad, "line 73: 2022-11-08T04:39:00Z is not after the previous reading (line 72)");
    free(bad);
    bad = replaced(text, "\t2022-11-08 04:59\t3.2\t", "\t2022-11-08 4:59\t3.2\t");
    refused_text(bad, "line 73: time: '2022-11-08 4:59' is not yyyy-MM-dd hh:mm");
    free(bad);
    bad = replaced(text, "\t2022-11-08 04:59\t3.2\t", "\t2022-11-08 04:59 3.2\t");
    refused_text(bad, "line 73: Data: '2022-11-08 04:59 3.2' is not a row time<TAB>T[<TAB>x]");
    free(bad);
    bad = replaced(text, "\t2022-11-08 04:59\t3.2\t", "\t2022-11-08 04:59\t3.2\tyes");
    refused_text(bad, "line 73: Data: '2022-11-08 04:59\\x093.2\\x09yes' is not a row "
                      "time<TAB>T[<TAB>x]");
    free(bad);
    bad = replaced(text, "\tyyyy-MM-dd hh:mm\tT\tOut", "\tdd.MM.yyyy hh:mm\tT\tOut");
    refused_text(bad, "line 71: Data: the header 'dd.MM.yyyy hh:mm\\x09T\\x09Out of limits' is not "
                      "yyyy-MM-dd hh:mm<TAB>T (a layout this reader does not know)");
    free(bad);
    /* a Data row before Data: */
    bad = replaced(text, " Serial: RCPJ00010\r\n", " Serial: RCPJ00010\r\n\t2022-11-08 04:49\t4.4\t\r\n");
    refused_text(bad, "line 8: a Data row '\\x092022-11-08 04:49\\x094.4\\x09' outside the Data: section");
    free(bad);
    free(text);
}
END_TEST

/* A report cut short: in its Data, before its signature, or with readings that stop before the
 * logger did. */
START_TEST(test_refusals_truncated)
{
    char *text = tu_read_data(QTAG);
    /* cut after line 100, in the middle of Data */
    const char *p = text;
    for (int i = 0; i < 100; i++)
        p = strchr(p, '\n') + 1;
    refused(text, (size_t)(p - text),
            "line 100: the report ends before its signature (Sig:): it is cut short");
    /* cut in the middle of line 100: the partial row is refused */
    refused(text, (size_t)(p - text) - 8,
            "line 100: Data: '2022-11-08 09:2' is not a row time<TAB>T[<TAB>x]");
    /* Data without rows, then the certificate and the signature */
    const char *data = strstr(text, "Data:\r\n\tyyyy");
    const char *cert = strstr(text, "Cert:\r\n");
    size_t head = (size_t)(strchr(data + 7, '\n') + 1 - text);
    char *empty = malloc(strlen(text) + 1);
    memcpy(empty, text, head);
    strcpy(empty + head, cert);
    refused_text(empty, "line 80: Data: no readings: the report is cut short");
    /* rows missing at the end of Data: the readings stop an hour before TS Stop */
    const char *cut = strstr(text, "\t2022-11-09 00:29\t");
    size_t keep = (size_t)(cut - text);
    memcpy(empty, text, keep);
    strcpy(empty + keep, cert);
    refused_text(empty, "line 198: Data: the readings end at 2022-11-09 00:19, not in the last "
                        "logging interval before TS Stop 2022-11-09 01:28: the report is cut "
                        "short");
    free(empty);
    /* a file cut in the middle of its tree */
    const char *alarm = strstr(text, "   Type: 2, T AL: 8.0");
    refused(text, (size_t)(alarm - text) + 15, "line 34: Alarm Type: '2, T A' is not a whole "
                                               "number up to 99");
    refused(text, (size_t)(alarm - text),
            "line 33: the report ends before its signature (Sig:): it is cut short");
    free(text);
}
END_TEST

START_TEST(test_refusals_of_structure)
{
    /* binary garbage, whatever its first line */
    refused_text("\x89PNG\r\n\x1a\n\x01\x02", "line 1: a Berlinger report starts with 'Device: "
                                            "<model>', not '\\x89PNG'");
    refused_text("Device: Q-tag\r\n\xff\xfe\x80\x81\r\n",
                 "line 2: '\\xff\\xfe\\x80\\x81' is not a 'Key: value' line of a Berlinger report");
    refused("Device: Q-tag\n\0\0\0", 17, "line 2: a NUL byte: not a text file");
    /* the tree: a line goes one level deeper only under one that opens a section */
    refused_text("Device: Q-tag\nConf:\n   Serial: X\n",
                 "line 3: Serial: indented 3, deeper than the line before allows (the report's "
                 "tree is broken)");
    refused_text("Device: Q-tag\nConf:\n Serial: X\n  Zone: 0.00\n",
                 "line 4: Zone: indented 2, deeper than the line before allows (the report's "
                 "tree is broken)");
    /* unknown keys are ignored, unknown values of known keys are not */
    char *text = tu_read_data(QTAG);
    char *bad = replaced(text, " Zone: 0.00", " Zone: CET");
    refused_text(bad, "line 11: Zone: 'CET' is not an offset in hours (such as +1.00)");
    free(bad);
    bad = replaced(text, " Zone: 0.00", " Zone: +15.00");
    refused_text(bad, "line 11: zone: an offset of 54000 s is not a zone");
    free(bad);
    bad = replaced(text, "Type: 2, T AL: 8.0, t AL: 30", "Type: 2, t AL: 30");
    refused_text(bad, "line 43: Conf: alarm 1 (line 33) lacks its T AL or t AL");
    free(bad);
    bad = replaced(text, " Logging Interval: 10", " Logging Interval: 99999999999999999");
    refused_text(bad, "line 28: Logging Interval: '99999999999999999' is not a whole number up "
                      "to 100000");
    free(bad);
    bad = replaced(text, " MKT: 10.5", " MKT: high");
    refused_text(bad, "line 54: MKT: 'high' is not a temperature");
    free(bad);
    bad = replaced(text, " Zone: 0.00", " Zone: 0.00\r\n Firmware Quirk: 7, Other: x\r\n"
                                        " Unknown Section:\r\n  Deeper: 1");
    char *bad2 = replaced(bad, "Res:\r\n", "Unknown Top:\r\n Also: 2\r\nRes:\r\n");
    got g;
    ctm__logger_info in;
    ck_assert_int_eq(read_report(bad2, strlen(bad2), 0, NULL, &g, &in), CTM_OK);
    ck_assert_uint_eq(g.n, 124);
    ck_assert_int_eq(in.interval_s, 600);
    ck_assert_int_eq(in.high_minutes, 30);
    ck_assert_double_eq_tol(in.device_mkt_c, 10.5, 1e-9);
    free(in.evidence);
    free(bad2);
    free(bad);
    /* a signed Fridge-tag report whose Hist holds no day */
    refused_text("Device: Q-tag Fridge-tag 2\nConf:\n Zone: 0.00\nHist:\n TS Actv: 2024-03-01 "
                 "00:02\nSig: 00\n",
                 "the logger file holds no readings");
    /* a Fridge-tag's day twice */
    char *ft = tu_read_data(FRIDGETAG);
    bad = replaced(ft, "  Date: 2024-03-09", "  Date: 2024-03-10");
    refused_text(bad, "line 47: day 2024-03-10 is not after the previous day (line 34)");
    free(bad);
    bad = replaced(ft, "    t Acc: 95", "    t Acc: 1441x");
    refused_text(bad, "line 108: t Acc: '1441x' is not a whole number up to 1500");
    free(bad);
    free(ft);
    free(text);
}
END_TEST

static Suite *berlinger_suite(void)
{
    Suite *s = suite_create("logger_berlinger");
    TCase *q = tcase_create("qtag");
    tcase_add_test(q, test_qtag_sample);
    tcase_add_test(q, test_qtag_in_chunks);
    tcase_add_test(q, test_qtag_zone);
    tcase_add_test(q, test_qtag_mkt_matches_the_device);
    suite_add_tcase(s, q);
    TCase *f = tcase_create("fridgetag");
    tcase_add_test(f, test_fridgetag_days);
    tcase_add_test(f, test_fridgetag_real);
    tcase_add_test(f, test_hist_and_data);
    suite_add_tcase(s, f);
    TCase *r = tcase_create("refusals");
    tcase_add_test(r, test_refusals_in_data);
    tcase_add_test(r, test_refusals_truncated);
    tcase_add_test(r, test_refusals_of_structure);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    return tu_run_suite(berlinger_suite());
}
