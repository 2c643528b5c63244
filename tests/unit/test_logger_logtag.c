/* test_logger_logtag.c - LogTag Analyzer exports (logger_logtag.c): the header's keys, the
 * column header row, date orders from the user or the file, units, gaps, refusals naming their
 * line, and the reader choosing the format from the first line.  The samples under
 * tests/data/loggers were written by us after the layout the format's header describes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "logger.h"
#include "testutil.h"

/* What the sink was given: "<UTC seconds>=<temperature to 0.01>" per reading, space-separated. */
typedef struct got {
    char text[4096];
    int n;
} got;

static int on_reading(void *ctx, const ctm__logger_reading *r)
{
    got *g = ctx;
    g->n++;
    size_t used = strlen(g->text);
    snprintf(g->text + used, sizeof g->text - used, "%s%lld=%.2f", used > 0 ? " " : "",
             (long long)(r->t_us / 1000000), r->temp_c);
    return CTM_OK;
}

/* Read len bytes of text as `format` (NULL: chosen by the reader) fed in chunks of `chunk`
 * bytes (0: whole); the status, with g and (when not NULL) info filled. */
static int read_as(const char *format, const char *text, size_t len, size_t chunk,
                   const ctm__logger_opts *o, got *g, ctm__logger_info *info)
{
    memset(g, 0, sizeof *g);
    ctm__logger_sink sink = {g, on_reading, NULL};
    ctm__logger *lg = NULL;
    int rc = ctm__logger_open(&lg, format, o, &sink);
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
        info->evidence = NULL; /* freed with the reader */
    }
    ctm__logger_free(lg);
    return rc;
}

/* text read as logtag, whole and in chunks of 1, 2 and 7 bytes, gives want. */
static void expect(const char *text, const ctm__logger_opts *o, const char *want)
{
    size_t chunks[] = {0, 1, 2, 7};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        got g;
        int rc = read_as("logtag", text, strlen(text), chunks[c], o, &g, NULL);
        ck_assert_msg(rc == CTM_OK, "chunks of %zu: %s", chunks[c], ctm_errmsg());
        ck_assert_str_eq(g.text, want);
    }
}

/* text read as logtag, whole and in chunks of 1 and 3 bytes, is refused with message. */
static void refused(const char *text, const ctm__logger_opts *o, const char *message)
{
    size_t chunks[] = {0, 1, 3};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        got g;
        ck_assert_int_eq(read_as("logtag", text, strlen(text), chunks[c], o, &g, NULL),
                         CTM_EINVAL);
        ck_assert_str_eq(ctm_errmsg(), message);
    }
}

/* A sample of tests/data/loggers read whole and byte by byte: both give want and the same info. */
static void expect_sample(const char *name, const ctm__logger_opts *o, const char *want,
                          ctm__logger_info *info)
{
    char path[256];
    snprintf(path, sizeof path, "loggers/%s", name);
    char *text = tu_read_data(path);
    size_t len = strlen(text);
    got whole, bytes;
    ctm__logger_info by_byte;
    ck_assert_msg(read_as("logtag", text, len, 0, o, &whole, info) == CTM_OK, "%s: %s", name,
                  ctm_errmsg());
    ck_assert_msg(read_as("logtag", text, len, 1, o, &bytes, &by_byte) == CTM_OK, "%s: %s", name,
                  ctm_errmsg());
    ck_assert_str_eq(whole.text, want);
    ck_assert_str_eq(bytes.text, want);
    ck_assert_str_eq(by_byte.serial, info->serial);
    ck_assert_int_eq(by_byte.interval_s, info->interval_s);
    free(text);
}

START_TEST(test_trix8_sample)
{
    /* 10:00 at +02:00 is 08:00 UTC; the paused reading at 10:15 (empty cell) is passed over */
    ctm__logger_opts o = {.tz = "+02:00"};
    ctm__logger_info info;
    expect_sample("logtag-trix8-dmy.csv", &o,
                  "1714550400=4.50 1714550700=4.70 1714551000=5.10 1714551600=8.60 "
                  "1714551900=-0.30",
                  &info);
    ck_assert_str_eq(info.format, "logtag");
    ck_assert_str_eq(info.serial, "1000123456");
    ck_assert_str_eq(info.model, "TRIX-8");
    ck_assert_int_eq(info.interval_s, 300);
    ck_assert_int_eq(info.unit, 'C');
    ck_assert_int_eq(info.readings, 5);
    ck_assert_int_eq(info.first_us, 1714550400LL * 1000000);
    ck_assert_int_eq(info.last_us, 1714551900LL * 1000000);
}
END_TEST

START_TEST(test_semicolon_decimal_comma_sample)
{
    /* ';', quoted fields, decimal commas, "\xb0C" of a Windows code page, 12-hour times across
     * midnight; the file gives no date order, the user does */
    ctm__logger_opts o = {.tz = "UTC", .order = CTM__DATE_DMY};
    ctm__logger_info info;
    expect_sample("logtag-semicolon-decimal-comma.csv", &o,
                  "1712188500=2.50 1712188800=2.75 1712189100=-1.00 1712189400=3.00", &info);
    ck_assert_str_eq(info.serial, "1000654321");
    ck_assert_str_eq(info.model, "TRIX-8");
    ck_assert_int_eq(info.interval_s, 300);
    ck_assert_int_eq(info.unit, 'C');
}
END_TEST

START_TEST(test_fahrenheit_mdy_sample)
{
    /* tabs, one date and time column, the date order from the header's pattern, Fahrenheit */
    ctm__logger_opts o = {.tz = "-04:00"};
    ctm__logger_info info;
    expect_sample("logtag-utrix16-mdy-fahrenheit.txt", &o,
                  "1714568400=4.00 1714573800=5.00 1714579200=8.00", &info);
    ck_assert_str_eq(info.serial, "1000777888");
    ck_assert_str_eq(info.model, "UTRIX-16");
    ck_assert_int_eq(info.interval_s, 5400);
    ck_assert_int_eq(info.unit, 'F');
}
END_TEST

#define ROWS "No.,Date,Time,Temperature\n1,03/04/2024,10:00:00,4.5\n2,03/04/2024,10:05:00,5\n"

START_TEST(test_date_order)
{
    /* 2024-04-03 10:00 UTC and 2024-03-04 10:00 UTC */
    const char *april = "1712138400=4.50 1712138700=5.00";
    const char *march = "1709546400=4.50 1709546700=5.00";
    ctm__logger_opts utc = {.tz = "UTC"};
    ctm__logger_opts dmy = {.tz = "UTC", .order = CTM__DATE_DMY};
    ctm__logger_opts mdy = {.tz = "UTC", .order = CTM__DATE_MDY};
    /* the header says it (a pattern, words, letters; in the key or the date column's title) */
    expect("Serial #,1\nDate format,DD/MM/YYYY\n" ROWS, &utc, april);
    expect("Serial #,1\nDate format,dd.MM.yyyy HH:mm:ss\n" ROWS, &utc, april);
    expect("Serial #,1\nDate format,MM/DD/YYYY\n" ROWS, &utc, march);
    expect("Serial #,1\nDate order,Month/Day/Year\n" ROWS, &utc, march);
    expect("Serial #,1\nDate order,DMY\n" ROWS, &utc, april);
    expect("Serial #,1\nNo.,Date (MM/DD/YYYY),Time,Temperature\n1,03/04/2024,10:00:00,4.5\n", &utc,
           "1709546400=4.50");
    /* the user says it, and the user's order wins over the header's */
    expect("Serial #,1\n" ROWS, &dmy, april);
    expect("Serial #,1\n" ROWS, &mdy, march);
    expect("Serial #,1\nDate format,DD/MM/YYYY\n" ROWS, &mdy, march);
    /* nobody says it: refused, even where the numbers could tell */
    refused("Serial #,1\n" ROWS, &utc,
            "line 3: Date: '03/04/2024' could be day/month/year or month/day/year: name the date "
            "order (DMY or MDY)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,25/04/2024,10:00:00,4.5\n", &utc,
            "line 3: Date: '25/04/2024' could be day/month/year or month/day/year: name the date "
            "order (DMY or MDY)");
    /* a date that starts with the year needs no order */
    expect("Serial #,1\nNo.,Date,Time,Temperature\n1,2024-04-03,10:00:00,4.5\n", &utc,
           "1712138400=4.50");
    refused("Serial #,1\nDate format,DD/MM/YYYY\nDate order,MDY\n" ROWS, &utc,
            "line 3: date order: MDY, where the header said DMY before");
    refused("Serial #,1\nDate format,DD/MM/YYYY\nNo.,Date (MM/DD/YYYY),Time,Temperature\n", &utc,
            "line 3: date order: MDY, where the header said DMY before");
    expect("Serial #,1\nDate format,DD/MM/YYYY\nDate order,DMY\n" ROWS, &utc, april);
    refused("Serial #,1\nDate format,as usual\n" ROWS, &utc,
            "line 2: Date format: 'as usual' is not an order of day, month and year (such as "
            "DD/MM/YYYY)");
}
END_TEST

START_TEST(test_units)
{
    ctm__logger_opts utc = {.tz = "UTC"};
    ctm__logger_opts f = {.tz = "UTC", .unit = 'F'};
    const char *rows = "1,2024-05-01,10:00,32\n2,2024-05-01,10:01,46.4\n";
    char text[512];
    /* the header's key, the column's title, or the user */
    snprintf(text, sizeof text, "Serial #,1\nTemperature unit,Fahrenheit\nNo.,Date,Time,Temp\n%s",
             rows);
    expect(text, &utc, "1714557600=0.00 1714557660=8.00");
    snprintf(text, sizeof text, "Serial #,1\nNo.,Date,Time,Temperature [\xc2\xb0" "F]\n%s", rows);
    expect(text, &utc, "1714557600=0.00 1714557660=8.00");
    snprintf(text, sizeof text, "Serial #,1\nNo.,Date,Time,Temperature\n%s", rows);
    expect(text, &f, "1714557600=0.00 1714557660=8.00");
    expect(text, &utc, "1714557600=32.00 1714557660=46.40");
    /* contradictions */
    snprintf(text, sizeof text,
             "Serial #,1\nTemperature unit,\xb0" "C\nNo.,Date,Time,Temperature (\xb0" "F)\n%s",
             rows);
    refused(text, &utc, "line 3: unit: the file says both Celsius and Fahrenheit");
    snprintf(text, sizeof text, "Serial #,1\nTemperature unit,C\nNo.,Date,Time,Temp\n%s", rows);
    refused(text, &f, "line 2: unit: the file says Celsius, the import was asked for Fahrenheit");
    refused("Serial #,1\nTemperature unit,Kelvin\n", &utc,
            "line 2: Temperature unit: 'Kelvin' names neither Celsius nor Fahrenheit");
}
END_TEST

START_TEST(test_header_keys)
{
    ctm__logger_opts utc = {.tz = "UTC"};
    const char *rows = "Date,Time,Temperature\n2024-05-01,10:00,4\n";
    static const struct {
        const char *interval;
        int64_t secs;
    } intervals[] = {
        {"00:05:00", 300},     {"5 Minutes", 300},   {"1 Hour 30 Minutes", 5400},
        {"30 s", 30},          {"2 hrs", 7200},      {"24:00:00", 86400},
        {"\"1 minute, 30 seconds\"", 90},
    };
    for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "Serial Number: 77\nLogging interval,%s\n%s",
                 intervals[i].interval, rows);
        got g;
        ctm__logger_info info;
        ck_assert_msg(read_as("logtag", text, strlen(text), 0, &utc, &g, &info) == CTM_OK, "%s",
                      ctm_errmsg());
        ck_assert_int_eq(info.interval_s, intervals[i].secs);
        ck_assert_str_eq(info.serial, "77");
    }
    /* titles and keys this format does not read are passed over; the first model is kept */
    got g;
    ctm__logger_info info;
    const char *text = "LogTag Analyzer export\nSerial #,A1\nUser ID,\"fridge, room 2\"\n"
                       "Product Name,TRIX-8\nModel,something else\nAlarms,\"Upper, 8.0\"\n"
                       "Serial #,A1\n\n,,,\nDate,Time,Temperature\n2024-05-01,10:00,4\n";
    ck_assert_int_eq(read_as("logtag", text, strlen(text), 0, &utc, &g, &info), CTM_OK);
    ck_assert_str_eq(info.serial, "A1");
    ck_assert_str_eq(info.model, "TRIX-8");
    ck_assert_int_eq(info.interval_s, 0);
    ck_assert_str_eq(g.text, "1714557600=4.00");
    /* refused */
    refused("Serial #,1\nReading interval,5 fortnights\n", &utc,
            "line 2: Reading interval: '5 fortnights' is not an interval (hh:mm:ss, or a number of "
            "seconds, minutes or hours up to 24 hours)");
    refused("Serial #,1\nReading interval,00:00:00\n", &utc,
            "line 2: Reading interval: '00:00:00' is not an interval (hh:mm:ss, or a number of "
            "seconds, minutes or hours up to 24 hours)");
    refused("Serial #,1\nReading interval,5:5:5\n", &utc,
            "line 2: Reading interval: '5:5:5' is not an interval (hh:mm:ss, or a number of "
            "seconds, minutes or hours up to 24 hours)");
    refused("Serial #,1\nReading interval,5 min\nInterval,10 min\n", &utc,
            "line 3: Interval: '10 min' is a second reading interval");
    refused("Serial #,1\nSerial #,2\n", &utc, "line 2: Serial #: '2' is a second serial number");
    refused("Serial #,12345678901234567890123456789012345678901234567890123456789012345\n", &utc,
            "line 1: Serial #: '1234567890123456789012345678901234567890'... is longer than 64 "
            "bytes");
}
END_TEST

START_TEST(test_rows)
{
    ctm__logger_opts utc = {.tz = "UTC"};
    /* columns in any order, extra columns not read, gaps passed over, ISO 8601 in one column */
    expect("Serial #,1\nTemperature,Alert,Time,Date,Humidity\n4.5,,10:00,2024-05-01,40\n"
           "--,Paused,10:05,2024-05-01,\n,,10:10,2024-05-01,\n5,x,10:15,2024-05-01,41\n",
           &utc, "1714557600=4.50 1714558500=5.00");
    expect("Serial #,1\nTimestamp,Temperature\n2024-05-01T12:00:00+02:00,4.5\n"
           "2024-05-01 10:05,4.6\n",
           &utc, "1714557600=4.50 1714557900=4.60");
    /* 12-hour times */
    expect("Serial #,1\nDate,Time,Temperature\n2024-05-01,12:00:00 AM,1\n2024-05-01,12:30 am,2\n"
           "2024-05-01,1:00 PM,3\n",
           &utc, "1714521600=1.00 1714523400=2.00 1714568400=3.00");
    /* local times need a zone */
    refused("Serial #,1\nDate,Time,Temperature\n2024-05-01,10:00,4\n", NULL,
            "line 3: the file gives local times without a zone; name the logger's zone");
}
END_TEST

START_TEST(test_refusals_name_the_line)
{
    ctm__logger_opts dmy = {.tz = "UTC", .order = CTM__DATE_DMY};
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,31/02/2024,10:00:00,4.5\n", &dmy,
            "line 3: Date: '31/02/2024' is not a calendar date (read as day/month/year)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,yesterday,10:00:00,4.5\n", &dmy,
            "line 3: Date: 'yesterday' is not a date");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,13:00:00 PM,4.5\n", &dmy,
            "line 3: Time: '13:00:00 PM' is not a time of day");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,warm\n", &dmy,
            "line 3: Temperature: 'warm' is not a temperature");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,4.5 C\n", &dmy,
            "line 3: Temperature: '4.5 C' is not a temperature");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,4.5\n"
            "2,01/05/2024,09:55:00,4.6\n",
            &dmy, "line 4: 2024-05-01T09:55:00Z is not after the previous reading (line 3)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,4.5\n"
            "2,01/05/2024,10:00:00,4.6\n",
            &dmy, "line 4: 2024-05-01T10:00:00Z is not after the previous reading (line 3)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00\n", &dmy,
            "line 3: 3 fields where the column header row's Date, Time and Temperature need 4 "
            "(separator ',')");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,4,5\n", &dmy,
            "line 3: more fields than the column header row's 4 (a decimal comma without "
            "quotes?)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00:00,\"4.5\n", &dmy,
            "line 3: a quote that does not close its field");
    refused("Serial #,1\nDate/Time,Temperature\n01/05/2024,4.5\n", &dmy,
            "line 3: Date/Time: '01/05/2024' is not a date and time (YYYY-MM-DD hh:mm[:ss] with "
            "an optional offset)");
    /* the column header row is missing */
    refused("Serial #,1\nReading interval,00:05:00\n1,01/05/2024,10:00:00,4.5\n", &dmy,
            "line 3: a reading before the column header row (Date, Time and Temperature)");
    refused("Serial #,1\n01/05/2024,10:00:00,4.5\n", &dmy,
            "line 2: a reading before the column header row (Date, Time and Temperature)");
    refused("Serial #,1\nReading interval,00:05:00\n", &dmy,
            "the file has no column header row (Date, Time and Temperature)");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n\n", &dmy, "the logger file holds no readings");
    refused("Serial #,1\nNo.,Date,Time,Temperature\n1,01/05/2024,10:00,--\n", &dmy,
            "the logger file holds no readings");
}
END_TEST

START_TEST(test_hostile_bytes)
{
    ctm__logger_opts utc = {.tz = "UTC"};
    got g;
    static const char bin[] = "Serial #,1\nDate,Time,Temperature\n2024-05-01,10:00,4\0\x01\x02\n";
    ck_assert_int_eq(read_as("logtag", bin, sizeof bin - 1, 0, &utc, &g, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "line 3: a NUL byte: not a text file");
    ck_assert_int_eq(read_as(NULL, bin, sizeof bin - 1, 1, &utc, &g, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "line 3: a NUL byte: not a text file");
    /* an enormous line, refused as it grows */
    size_t big = 1 << 20;
    char *text = malloc(big);
    ck_assert_ptr_nonnull(text);
    const char *head = "Serial #,1\nDate,Time,Temperature\n";
    memcpy(text, head, strlen(head));
    memset(text + strlen(head), ',', big - strlen(head));
    ck_assert_int_eq(read_as("logtag", text, big, 65536, &utc, &g, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "line 3: longer than 4096 bytes");
    free(text);
    /* a line of more than 64 fields */
    char wide[512] = "Serial #,1\nDate,Time,Temperature\n2024-05-01,10:00,4";
    for (int i = 0; i < 70; i++)
        strcat(wide, ",x");
    strcat(wide, "\n");
    refused(wide, &utc, "line 3: more fields than the column header row's 3 (a decimal comma "
                        "without quotes?)");
    /* high bytes in the header and titles are passed over */
    expect("Serial #,\xff\xfe\nComment,\x80\x81\x82\nDate,Time,Temperature \xff\n"
           "2024-05-01,10:00,4\n",
           &utc, "1714557600=4.00");
}
END_TEST

START_TEST(test_format_chosen_from_the_first_line)
{
    ctm__logger_opts o = {.tz = "UTC", .order = CTM__DATE_DMY};
    static const char *samples[] = {
        "loggers/logtag-trix8-dmy.csv",
        "loggers/logtag-semicolon-decimal-comma.csv",
        "loggers/logtag-utrix16-mdy-fahrenheit.txt",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char *text = tu_read_data(samples[i]);
        got g;
        ctm__logger_info info;
        ctm__logger_opts oi = o;
        if (i == 2)
            oi.order = CTM__DATE_AS_FILE;
        ck_assert_msg(read_as(NULL, text, strlen(text), 0, &oi, &g, &info) == CTM_OK, "%s: %s",
                      samples[i], ctm_errmsg());
        ck_assert_str_eq(info.format, "logtag");
        free(text);
    }
    /* the first field tells */
    static const char *firsts[] = {"Serial #,1\n", "\xef\xbb\xbf\"Serial Number\",\"1\"\n",
                                   "Serial No.: 1\n", "Product Name,TRIX-8\n",
                                   "LogTag Analyzer 3.1\n"};
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "%sDate,Time,Temperature\n2024-05-01,10:00,4\n", firsts[i]);
        got g;
        ctm__logger_info info;
        ck_assert_msg(read_as(NULL, text, strlen(text), 0, &o, &g, &info) == CTM_OK, "%s: %s",
                      firsts[i], ctm_errmsg());
        ck_assert_str_eq(info.format, "logtag");
        ck_assert_str_eq(g.text, "1714557600=4.00");
    }
    /* a plain CSV stays csv */
    got g;
    ctm__logger_info info;
    const char *plain = "timestamp,temperature\n2024-05-01T10:00:00Z,4.5\n";
    ck_assert_int_eq(read_as(NULL, plain, strlen(plain), 0, NULL, &g, &info), CTM_OK);
    ck_assert_str_eq(info.format, "csv");
    ck_assert_str_eq(g.text, "1714557600=4.50");
    /* the names of the formats */
    ck_assert(strstr(ctm__logger_format_names, "logtag") != NULL);
}
END_TEST

static Suite *logtag_suite(void)
{
    Suite *s = suite_create("logger_logtag");
    TCase *tc = tcase_create("samples");
    tcase_add_test(tc, test_trix8_sample);
    tcase_add_test(tc, test_semicolon_decimal_comma_sample);
    tcase_add_test(tc, test_fahrenheit_mdy_sample);
    tcase_add_test(tc, test_format_chosen_from_the_first_line);
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_test(tc, test_date_order);
    tcase_add_test(tc, test_units);
    tcase_add_test(tc, test_header_keys);
    tcase_add_test(tc, test_rows);
    suite_add_tcase(s, tc);
    tc = tcase_create("refusals");
    tcase_add_test(tc, test_refusals_name_the_line);
    tcase_add_test(tc, test_hostile_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(logtag_suite());
}
