/* test_logger.c - the logger file reader every format shares (logger.h), through the generic
 * CSV: lines in chunks of any size, zones, units, time order, and each refusal naming its line. */
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
    int fail_at; /* the sink refuses reading number fail_at (1-based); 0: never */
} got;

static int on_reading(void *ctx, const ctm__logger_reading *r)
{
    got *g = ctx;
    if (++g->n == g->fail_at)
        return CTM_EBUSY;
    size_t used = strlen(g->text);
    snprintf(g->text + used, sizeof g->text - used, "%s%lld=%.2f", used > 0 ? " " : "",
             (long long)(r->t_us / 1000000), r->temp_c);
    ck_assert_int_eq(r->t_us % 1000000, 0);
    return CTM_OK;
}

/* Read text fed in chunks of `chunk` bytes (0: whole); the status, with g filled. */
static int read_text(const char *text, size_t len, size_t chunk, const ctm__logger_opts *o, got *g,
                     ctm__logger_info *info)
{
    ctm__logger_sink sink = {g, on_reading, NULL};
    ctm__logger *lg = NULL;
    int rc = ctm__logger_open(&lg, "csv", o, &sink);
    if (rc != CTM_OK)
        return rc;
    if (chunk == 0)
        chunk = len > 0 ? len : 1;
    for (size_t i = 0; rc == CTM_OK && i < len; i += chunk)
        rc = ctm__logger_feed(lg, text + i, len - i < chunk ? len - i : chunk);
    if (rc == CTM_OK)
        rc = ctm__logger_finish(lg);
    if (info != NULL)
        *info = *ctm__logger_info_of(lg);
    if (info != NULL)
        info->evidence = NULL; /* freed with the reader */
    ctm__logger_free(lg);
    return rc;
}

static void expect(const char *text, const ctm__logger_opts *o, const char *want)
{
    size_t chunks[] = {0, 1, 2, 7};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        got g = {{0}, 0, 0};
        int rc = read_text(text, strlen(text), chunks[c], o, &g, NULL);
        ck_assert_msg(rc == CTM_OK, "chunks of %zu: %s", chunks[c], ctm_errmsg());
        ck_assert_str_eq(g.text, want);
    }
}

static void refused(const char *text, const ctm__logger_opts *o, const char *message)
{
    size_t chunks[] = {0, 1, 3};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        got g = {{0}, 0, 0};
        ck_assert_int_eq(read_text(text, strlen(text), chunks[c], o, &g, NULL), CTM_EINVAL);
        ck_assert_str_eq(ctm_errmsg(), message);
    }
}

/* 2024-05-01 10:00:00 UTC */
#define T0 1714557600LL

START_TEST(test_iso_times_with_offsets)
{
    char want[256];
    snprintf(want, sizeof want, "%lld=4.50 %lld=5.00 %lld=-18.25", T0, T0 + 600, T0 + 1200);
    expect("timestamp,temperature\n"
           "2024-05-01T10:00:00Z,4.5\n"
           "2024-05-01T12:10:00+02:00,5\n"
           "2024-05-01 07:20-0300,-18.25\n",
           NULL, want);
    /* no header, CRLF, a byte order mark, blank lines, no last line end */
    expect("\xef\xbb\xbf"
           "2024-05-01T10:00:00Z,4.5\r\n\r\n"
           "2024-05-01T12:10:00+02:00,5\r\n"
           "2024-05-01 07:20-0300,-18.25",
           NULL, want);
}
END_TEST

START_TEST(test_local_times_in_the_named_zone)
{
    ctm__logger_opts o = {.tz = "+01:00"};
    char want[256];
    snprintf(want, sizeof want, "%lld=4.50 %lld=3.75", T0, T0 + 60);
    /* semicolons and decimal commas, as a European spreadsheet writes them */
    expect("Zeit;Temperatur (\xc2\xb0"
           "C)\n"
           "2024-05-01 11:00;4,5\n"
           "2024-05-01 11:01:00;3,75\n",
           &o, want);
    /* tabs; a quoted decimal comma with commas between fields */
    expect("time\ttemp\n2024-05-01 11:00\t4.5\n2024-05-01 11:01\t3.75\n", &o, want);
    expect("time,temp\n2024-05-01 11:00,\"4,5\"\n2024-05-01 11:01,\"3,75\"\n", &o, want);
    refused("time,temp\n2024-05-01 11:00,4.5\n", NULL,
            "line 2: the file gives local times without a zone; name the logger's zone");
    ctm__logger_opts bad = {.tz = "+15:00"};
    got g = {{0}, 0, 0};
    ck_assert_int_eq(read_text("x", 1, 0, &bad, &g, NULL), CTM_EINVAL);
}
END_TEST

START_TEST(test_units)
{
    char want[256];
    snprintf(want, sizeof want, "%lld=0.00 %lld=8.00", T0, T0 + 60);
    expect("time,temperature (F)\n2024-05-01T10:00Z,32\n2024-05-01T10:01Z,46.4\n", NULL, want);
    expect("time,temp \xb0"
           "F\n2024-05-01T10:00Z,32\n2024-05-01T10:01Z,46.4\n",
           NULL, want);
    ctm__logger_opts f = {.unit = 'F'};
    expect("2024-05-01T10:00Z,32\n2024-05-01T10:01Z,46.4\n", &f, want);
    refused("time,temperature (C)\n2024-05-01T10:00Z,32\n", &f,
            "line 1: unit: the file says Celsius, the import was asked for Fahrenheit");
    got g = {{0}, 0, 0};
    ctm__logger_info info;
    ck_assert_int_eq(read_text("2024-05-01T10:00Z,5\n", 20, 0, NULL, &g, &info), CTM_OK);
    ck_assert_int_eq(info.unit, 'C');
    ck_assert_str_eq(info.format, "csv");
    ck_assert_int_eq(info.readings, 1);
    ck_assert_int_eq(info.first_us, T0 * 1000000);
}
END_TEST

START_TEST(test_refusals_name_the_line)
{
    refused("time,temp\n2024-05-01T10:00Z,4.5\n2024-05-01T10:00Z,4.6\n", NULL,
            "line 3: 2024-05-01T10:00:00Z is not after the previous reading (line 2)");
    refused("time,temp\n2024-05-01T10:00Z,4.5\n2024-05-01T09:59Z,4.6\n", NULL,
            "line 3: 2024-05-01T09:59:00Z is not after the previous reading (line 2)");
    refused("time,temp\n2024-05-01T10:00Z,four\n", NULL,
            "line 2: temperature: 'four' is not a temperature");
    refused("time,temp\n2024-05-01T10:00Z,4.5.1\n", NULL,
            "line 2: temperature: '4.5.1' is not a temperature");
    refused("time,temp\n2024-05-01T10:00Z,1e3\n", NULL,
            "line 2: temperature: '1e3' is not a temperature");
    refused("time,temp\n2024-05-01T10:00Z,250\n", NULL,
            "line 2: temperature: '250' is outside -200..200 C");
    refused("time,temp\n2024-02-30T10:00Z,4\n", NULL,
            "line 2: time: '2024-02-30T10:00Z' is not a calendar date and time");
    refused("time,temp\n01/05/2024 10:00,4\n", NULL,
            "line 2: time: '01/05/2024 10:00' is not a date and time (YYYY-MM-DD hh:mm[:ss] with an "
            "optional offset)");
    refused("time,temp\n2024-05-01T10:00Z,4,5\n", NULL,
            "line 2: 3 fields or more where a time and a temperature belong (separator ',')");
    refused("time,temp\n2024-05-01T10:00Z\n", NULL,
            "line 2: 1 field where a time and a temperature belong (separator ',')");
    refused("time,temp\n2024-05-01T10:00Z,\"4.5\n", NULL,
            "line 2: a quote that does not close its field");
    refused("", NULL, "the logger file is empty");
    refused("time,temp\n\n", NULL, "the logger file holds no readings");
}
END_TEST

START_TEST(test_hostile_bytes)
{
    /* a NUL byte: binary */
    static const char bin[] = "time,temp\n2024-05-01T10:00Z,4\0\x01\x02\n";
    got g = {{0}, 0, 0};
    ck_assert_int_eq(read_text(bin, sizeof bin - 1, 0, NULL, &g, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "line 2: a NUL byte: not a text file");
    /* an enormous line, refused as it grows, without holding it */
    size_t big = 1 << 20;
    char *text = malloc(big);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "time,temp\n", 10);
    memset(text + 10, '7', big - 10);
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(read_text(text, big, 65536, NULL, &g, NULL), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "line 2: longer than 4096 bytes");
    free(text);
    /* a line of exactly 4096 bytes is fine, CRLF or not */
    char line[4200];
    memset(line, ' ', sizeof line);
    memcpy(line, "2024-05-01T10:00Z,4", 19);
    line[4096] = '\r';
    line[4097] = '\n';
    memset(&g, 0, sizeof g);
    ck_assert_int_eq(read_text(line, 4098, 0, NULL, &g, NULL), CTM_OK);
    ck_assert_int_eq(g.n, 1);
    /* the sink's failure stops the file and is what comes back */
    memset(&g, 0, sizeof g);
    g.fail_at = 2;
    ck_assert_int_eq(read_text("2024-05-01T10:00Z,4\n2024-05-01T10:01Z,4\n2024-05-01T10:02Z,4\n",
                               60, 0, NULL, &g, NULL),
                     CTM_EBUSY);
    ck_assert_int_eq(g.n, 2);
}
END_TEST

START_TEST(test_formats_named)
{
    ctm__logger *lg = NULL;
    ctm__logger_sink sink = {NULL, on_reading, NULL};
    ck_assert_int_eq(ctm__logger_open(&lg, "tinytag", NULL, &sink), CTM_EINVAL);
    ck_assert_ptr_null(lg);
    ck_assert(strstr(ctm_errmsg(), "'tinytag' is not a logger file format") != NULL);
    /* no format named: the first line chooses; a plain CSV is read as csv */
    ck_assert_int_eq(ctm__logger_open(&lg, NULL, NULL, &sink), CTM_OK);
    got g = {{0}, 0, 0};
    sink.ctx = &g;
    ctm__logger_free(lg);
    ck_assert_int_eq(ctm__logger_open(&lg, NULL, NULL, &sink), CTM_OK);
    ck_assert_int_eq(ctm__logger_feed(lg, "2024-05-01T10:00Z,4\n", 20), CTM_OK);
    ck_assert_int_eq(ctm__logger_finish(lg), CTM_OK);
    ck_assert_str_eq(ctm__logger_info_of(lg)->format, "csv");
    /* nothing more after the end */
    ck_assert_int_eq(ctm__logger_feed(lg, "x", 1), CTM_EMISUSE);
    ctm__logger_free(lg);
}
END_TEST

static Suite *logger_suite(void)
{
    Suite *s = suite_create("logger");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, test_iso_times_with_offsets);
    tcase_add_test(tc, test_local_times_in_the_named_zone);
    tcase_add_test(tc, test_units);
    tcase_add_test(tc, test_refusals_name_the_line);
    tcase_add_test(tc, test_hostile_bytes);
    tcase_add_test(tc, test_formats_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(logger_suite());
}
