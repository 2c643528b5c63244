/* test_tz.c - time zones (tz.h): UTC and fixed offsets; zone names checked before any file is
 * opened; real zones (the copies in tests/data/tz through TZDIR, and the system's zoneinfo) with
 * their gaps, ambiguous times, half-hour and negative daylight saving time, and years after the
 * files' last transition through the footer's rule; every POSIX TZ rule form; and TZif files
 * cut short, corrupted, or of version 1 only, each refused cleanly or read as RFC 8536 says. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "ctm.h"
#include "testutil.h"
#include "tz.h"

/* A wall-clock time as tz.h counts it: seconds since 1970-01-01 00:00 of the clock. */
static int64_t wall(int y, int mo, int d, int h, int mi)
{
    return ctm__days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void use_test_zones(void)
{
    ck_assert_int_eq(setenv("TZDIR", tu_data_path("tz"), 1), 0);
}

static void use_system_zones(void)
{
    ck_assert_int_eq(unsetenv("TZDIR"), 0);
}

static ctm__tz *open_ok(const char *name)
{
    ctm__tz *z = NULL;
    int rc = ctm__tz_open(&z, name);
    ck_assert_msg(rc == CTM_OK, "%s: %s", name, ctm_errmsg());
    ck_assert_str_eq(ctm__tz_name(z), name);
    return z;
}

static ctm__tz *parse_ok(const uint8_t *text, size_t len)
{
    ctm__tz *z = NULL;
    int rc = ctm__tz_parse(&z, "test", text, len);
    ck_assert_msg(rc == CTM_OK, "%s", ctm_errmsg());
    return z;
}

/* local is the one instant want. */
static void unique(const ctm__tz *z, int64_t local, int64_t want)
{
    int64_t utc[2];
    int n = 0;
    int rc = ctm__tz_to_utc(z, local, utc, &n);
    ck_assert_msg(rc == CTM_OK, "%s", ctm_errmsg());
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(utc[0], want);
}

/* local happens twice: at first and at second. */
static void twice(const ctm__tz *z, int64_t local, int64_t first, int64_t second)
{
    int64_t utc[2];
    int n = 0;
    int rc = ctm__tz_to_utc(z, local, utc, &n);
    ck_assert_msg(rc == CTM_OK, "%s", ctm_errmsg());
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(utc[0], first);
    ck_assert_int_eq(utc[1], second);
}

/* local never happens; the message is msg. */
static void gap(const ctm__tz *z, int64_t local, const char *msg)
{
    int64_t utc[2];
    int n = -1;
    ck_assert_int_eq(ctm__tz_to_utc(z, local, utc, &n), CTM_ERULE);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(ctm_errmsg(), msg);
}

static void refused(const char *name, int code, const char *in_msg)
{
    ctm__tz *z = (ctm__tz *)1;
    ck_assert_int_eq(ctm__tz_open(&z, name), code);
    ck_assert_ptr_null(z);
    ck_assert_msg(strstr(ctm_errmsg(), in_msg) != NULL, "%s: '%s' lacks '%s'", name,
                  ctm_errmsg(), in_msg);
}

/* ---- names ---- */

START_TEST(test_utc_and_fixed_offsets)
{
    const struct {
        const char *name;
        int32_t off;
    } cases[] = {{"UTC", 0},          {"Z", 0},         {"+01:00", 3600}, {"-05:30", -19800},
                 {"+0100", 3600},     {"+01", 3600},    {"+14:00", 50400}, {"-00:00", 0},
                 {"+05:45", 20700}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctm__tz *z = open_ok(cases[i].name);
        ck_assert_int_eq(ctm__tz_offset(z, 0), cases[i].off);
        ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 7, 1, 0, 0)), cases[i].off);
        unique(z, wall(2024, 3, 31, 2, 30), wall(2024, 3, 31, 2, 30) - cases[i].off);
        ctm__tz_free(z);
    }
    refused("+15:00", CTM_EINVAL, "at most 14 hours");
    refused("+01:60", CTM_EINVAL, "an offset is +hh:mm");
    refused("+1", CTM_EINVAL, "an offset is +hh:mm");
    refused("-01:00:00", CTM_EINVAL, "an offset is +hh:mm");
    ctm__tz_free(NULL);
}
END_TEST

START_TEST(test_bad_names_open_nothing)
{
    use_test_zones();
    const char *bad[] = {"../etc/passwd", "Europe/../../etc/passwd", "/etc/passwd",
                         "/usr/share/zoneinfo/Europe/Stockholm", "Europe//Stockholm",
                         "Europe/", "Europe/./Stockholm", "./Europe/Stockholm", ".", "..",
                         "Europe/Stock holm", "Europe\\Stockholm", "Europe/Stockholm\n",
                         "Europe/St\303\266ckholm"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(bad[i], CTM_EINVAL, "not a zone name");
    refused("", CTM_EINVAL, "give UTC, an offset such as +01:00, or a zone name");
    refused(NULL, CTM_EINVAL, "give UTC");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    refused(longname, CTM_EINVAL, "give UTC");
    /* 255 bytes is a name; there is no such zone */
    longname[255] = '\0';
    refused(longname, CTM_ENOTFOUND, "no such zone");
}
END_TEST

START_TEST(test_missing_and_unreadable_zones)
{
    use_test_zones();
    refused("Mars/Olympus_Mons", CTM_ENOTFOUND, "zone 'Mars/Olympus_Mons': no such zone");
    refused("Europe/Stockholm/x", CTM_ENOTFOUND, "no such zone");
    refused("Europe", CTM_ENOTFOUND, "is not a file");
    /* a file of the directory that is not TZif */
    refused("PROVENANCE.md", CTM_EINVAL, "zone 'PROVENANCE.md': not a valid TZif file: no \"TZif\"");
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/Big", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    static char chunk[65536];
    for (int i = 0; i < 17; i++) /* 1 MiB and 64 KiB */
        ck_assert_uint_eq(fwrite(chunk, 1, sizeof chunk, f), sizeof chunk);
    fclose(f);
    ck_assert_int_eq(setenv("TZDIR", dir, 1), 0);
    refused("Big", CTM_EINVAL, "is larger than 1 MiB");
    refused("Europe/Stockholm", CTM_ENOTFOUND, "no such zone");
    /* the zone where TZDIR names it */
    snprintf(path, sizeof path, "%s/Stockholm", dir);
    char *from = strdup(tu_data_path("tz/Europe/Stockholm"));
    ck_assert_int_eq(tu_copy_file(from, path), 0);
    free(from);
    ctm__tz *z = open_ok("Stockholm");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 0, 0)), 7200);
    ctm__tz_free(z);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- real zones ---- */

/* What 2024 was in each zone (it will not change with new tz data). */
static void check_2024(void)
{
    ctm__tz *z = open_ok("Europe/Stockholm");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 1, 15, 12, 0)), 3600);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 12, 0)), 7200);
    ck_assert_int_eq(ctm__tz_offset(z, wall(1970, 7, 1, 12, 0)), 3600); /* no DST before 1980 */
    gap(z, wall(2024, 3, 31, 2, 30),
        "2024-03-31 02:30 does not exist in Europe/Stockholm: the clocks went forward");
    gap(z, wall(2024, 3, 31, 2, 0) + 59 * 60 + 59,
        "2024-03-31 02:59:59 does not exist in Europe/Stockholm: the clocks went forward");
    unique(z, wall(2024, 3, 31, 1, 59), wall(2024, 3, 31, 0, 59));
    unique(z, wall(2024, 3, 31, 3, 0), wall(2024, 3, 31, 1, 0));
    twice(z, wall(2024, 10, 27, 2, 30), wall(2024, 10, 27, 0, 30), wall(2024, 10, 27, 1, 30));
    twice(z, wall(2024, 10, 27, 2, 0), wall(2024, 10, 27, 0, 0), wall(2024, 10, 27, 1, 0));
    unique(z, wall(2024, 10, 27, 3, 0), wall(2024, 10, 27, 2, 0));
    unique(z, wall(2024, 7, 1, 12, 0), wall(2024, 7, 1, 10, 0));
    ctm__tz_free(z);

    z = open_ok("America/New_York");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 1, 15, 12, 0)), -18000);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 12, 0)), -14400);
    gap(z, wall(2024, 3, 10, 2, 30),
        "2024-03-10 02:30 does not exist in America/New_York: the clocks went forward");
    twice(z, wall(2024, 11, 3, 1, 30), wall(2024, 11, 3, 5, 30), wall(2024, 11, 3, 6, 30));
    ctm__tz_free(z);

    /* half an hour of DST: +10:30 in winter, +11 in summer */
    z = open_ok("Australia/Lord_Howe");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 0, 0)), 37800);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 1, 1, 0, 0)), 39600);
    gap(z, wall(2024, 10, 6, 2, 15),
        "2024-10-06 02:15 does not exist in Australia/Lord_Howe: the clocks went forward");
    unique(z, wall(2024, 10, 6, 2, 30), wall(2024, 10, 5, 15, 30));
    twice(z, wall(2024, 4, 7, 1, 45), wall(2024, 4, 6, 14, 45), wall(2024, 4, 6, 15, 15));
    unique(z, wall(2024, 4, 7, 2, 0), wall(2024, 4, 6, 15, 30));
    ctm__tz_free(z);

    /* Irish Standard Time is summer's: GMT is the "daylight saving" of winter */
    z = open_ok("Europe/Dublin");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 1, 15, 12, 0)), 0);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 12, 0)), 3600);
    gap(z, wall(2024, 3, 31, 1, 30),
        "2024-03-31 01:30 does not exist in Europe/Dublin: the clocks went forward");
    twice(z, wall(2024, 10, 27, 1, 30), wall(2024, 10, 27, 0, 30), wall(2024, 10, 27, 1, 30));
    ctm__tz_free(z);
}

START_TEST(test_zones_of_the_test_directory)
{
    use_test_zones();
    check_2024();
}
END_TEST

START_TEST(test_zones_of_the_system)
{
    use_system_zones();
    check_2024();
}
END_TEST

/* After 2037 the files hold no transitions: the footer's rule decides, to 2199 and beyond. */
START_TEST(test_years_after_the_last_transition)
{
    use_test_zones();
    ctm__tz *z = open_ok("Europe/Stockholm");
    gap(z, wall(2150, 3, 29, 2, 30),
        "2150-03-29 02:30 does not exist in Europe/Stockholm: the clocks went forward");
    twice(z, wall(2150, 10, 25, 2, 30), wall(2150, 10, 25, 0, 30), wall(2150, 10, 25, 1, 30));
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 7, 1, 10, 0)), 7200);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2199, 12, 31, 11, 0)), 3600);
    unique(z, wall(2199, 12, 31, 23, 59), wall(2199, 12, 31, 22, 59));
    /* around the last transition of the file (2037-10-25 01:00 UTC) and the rule's first */
    ck_assert_int_eq(ctm__tz_offset(z, wall(2037, 10, 25, 0, 59)), 7200);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2037, 10, 25, 1, 0)), 3600);
    gap(z, wall(2038, 3, 28, 2, 30),
        "2038-03-28 02:30 does not exist in Europe/Stockholm: the clocks went forward");
    ctm__tz_free(z);

    z = open_ok("America/New_York");
    gap(z, wall(2150, 3, 8, 2, 30),
        "2150-03-08 02:30 does not exist in America/New_York: the clocks went forward");
    twice(z, wall(2150, 11, 1, 1, 30), wall(2150, 11, 1, 5, 30), wall(2150, 11, 1, 6, 30));
    ctm__tz_free(z);

    z = open_ok("Australia/Lord_Howe");
    gap(z, wall(2150, 10, 4, 2, 15),
        "2150-10-04 02:15 does not exist in Australia/Lord_Howe: the clocks went forward");
    twice(z, wall(2150, 4, 5, 1, 45), wall(2150, 4, 4, 14, 45), wall(2150, 4, 4, 15, 15));
    unique(z, wall(2150, 4, 6, 1, 45), wall(2150, 4, 5, 15, 15));
    ctm__tz_free(z);

    z = open_ok("Europe/Dublin");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 1, 15, 12, 0)), 0);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 7, 1, 11, 0)), 3600);
    gap(z, wall(2150, 3, 29, 1, 30),
        "2150-03-29 01:30 does not exist in Europe/Dublin: the clocks went forward");
    twice(z, wall(2150, 10, 25, 1, 30), wall(2150, 10, 25, 0, 30), wall(2150, 10, 25, 1, 30));
    ctm__tz_free(z);
}
END_TEST

/* Every year from 1996 (the EU's rules) to 2199: in the last weeks of March and of October one
 * hour that never happens and one that happens twice, both from 02:00 on a Sunday. */
static void changes_of(const ctm__tz *z, int y, int month, int want_n)
{
    int hits = 0, wrong = 0; /* one assertion per call: Check's are slow */
    int64_t first = 0;
    for (int64_t t = wall(y, month, 24, 0, 0); t < wall(y, month + 1, 1, 0, 0); t += 1800) {
        int64_t utc[2];
        int n = 0;
        int rc = ctm__tz_to_utc(z, t, utc, &n);
        if (rc == CTM_ERULE ? want_n == 0 : n == want_n) {
            if (hits++ == 0)
                first = t;
        }
        for (int i = 0; i < n; i++)
            wrong += utc[i] + ctm__tz_offset(z, utc[i]) != t;
    }
    int64_t day = first / 86400;
    ck_assert_msg(hits == 2 && wrong == 0 && (day + 4) % 7 == 0 && first % 86400 == 7200,
                  "%d-%02d: %d times, %d wrong, the first at %lld", y, month, hits, wrong,
                  (long long)first);
}

START_TEST(test_every_year_has_its_changes)
{
    use_test_zones();
    ctm__tz *z = open_ok("Europe/Stockholm");
    for (int y = 1996; y < 2200; y++) {
        changes_of(z, y, 3, 0);
        changes_of(z, y, 10, 2);
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 2, 1, 0, 0)), 3600);
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 7, 1, 0, 0)), 7200);
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 12, 1, 0, 0)), 3600);
    }
    ctm__tz_free(z);
}
END_TEST

/* ---- TZif files ---- */

typedef struct tzif {
    uint8_t b[8192];
    size_t n;
} tzif;

static void put(tzif *t, const void *p, size_t n)
{
    ck_assert_uint_le(t->n + n, sizeof t->b);
    if (n > 0) /* p may be NULL then */
        memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put32(tzif *t, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(t, b, 4);
}

static void put64(tzif *t, int64_t v)
{
    put32(t, (uint32_t)((uint64_t)v >> 32));
    put32(t, (uint32_t)v);
}

static void header(tzif *t, char version, uint32_t leaps, uint32_t times, uint32_t types)
{
    put(t, "TZif", 4);
    put(t, &version, 1);
    put(t, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
    uint32_t counts[] = {0, 0, leaps, times, types, 4};
    for (int i = 0; i < 6; i++)
        put32(t, counts[i]);
}

/* A version 2 file: a one-type version 1 block, then transitions at[i] to types idx[i] of the
 * offsets off[], two leap-second records when leaps, and the footer. */
static void build(tzif *t, size_t n, const int64_t *at, const uint8_t *idx, size_t ntypes,
                  const int32_t *off, int leaps, const char *footer)
{
    t->n = 0;
    header(t, '2', 0, 0, 1);
    put(t, "\0\0\0\0\0\0", 6);
    put(t, "UTC", 4);
    header(t, '2', leaps ? 2 : 0, (uint32_t)n, (uint32_t)ntypes);
    for (size_t i = 0; i < n; i++)
        put64(t, at[i]);
    put(t, idx, n);
    for (size_t i = 0; i < ntypes; i++) {
        put32(t, (uint32_t)off[i]);
        put(t, "\0\0", 2);
    }
    put(t, "ABC", 4);
    for (int i = 0; leaps && i < 2; i++) {
        put64(t, 78796800 + i * 15724801);
        put32(t, (uint32_t)i + 1);
    }
    put(t, "\n", 1);
    put(t, footer, strlen(footer));
    put(t, "\n", 1);
}

/* A zone that is only its footer (no transitions: the rule holds at every instant). */
static ctm__tz *rule_zone(const char *footer)
{
    tzif t;
    int32_t off = 0;
    build(&t, 0, NULL, NULL, 1, &off, 0, footer);
    return parse_ok(t.b, t.n);
}

static void rule_refused(const char *footer, const char *in_msg)
{
    tzif t;
    int32_t off = 0;
    build(&t, 0, NULL, NULL, 1, &off, 0, footer);
    ctm__tz *z = (ctm__tz *)1;
    ck_assert_int_eq(ctm__tz_parse(&z, "Test/Zone", t.b, t.n), CTM_EINVAL);
    ck_assert_ptr_null(z);
    ck_assert_msg(strstr(ctm_errmsg(), in_msg) != NULL, "%s: '%s' lacks '%s'", footer,
                  ctm_errmsg(), in_msg);
}

START_TEST(test_footer_rules)
{
    /* quoted names, offsets with minutes, no DST */
    ctm__tz *z = rule_zone("<+0330>-3:30");
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 6, 1, 0, 0)), 12600);
    unique(z, wall(2024, 3, 21, 0, 0), wall(2024, 3, 20, 20, 30));
    ctm__tz_free(z);
    /* DST without dates: the US rules */
    z = rule_zone("EST5EDT");
    gap(z, wall(2024, 3, 10, 2, 30),
        "2024-03-10 02:30 does not exist in test: the clocks went forward");
    twice(z, wall(2024, 11, 3, 1, 30), wall(2024, 11, 3, 5, 30), wall(2024, 11, 3, 6, 30));
    ctm__tz_free(z);
    /* Jn never counts February 29: J60 is March 1, J300 October 27, leap year or not */
    z = rule_zone("AAA-1BBB,J60/2,J300/3");
    for (int y = 2023; y <= 2024; y++) {
        int64_t utc[2];
        int n = 0;
        ck_assert_int_eq(ctm__tz_to_utc(z, wall(y, 3, 1, 2, 30), utc, &n), CTM_ERULE);
        unique(z, wall(y, 2, 29 - (y == 2023), 2, 30), wall(y, 2, 29 - (y == 2023), 1, 30));
        twice(z, wall(y, 10, 27, 2, 30), wall(y, 10, 27, 0, 30), wall(y, 10, 27, 1, 30));
    }
    ctm__tz_free(z);
    /* n counts from 0 with February 29: day 59 is February 29 in 2024, March 1 in 2023 */
    z = rule_zone("AAA-1BBB,59/2,299/3");
    gap(z, wall(2024, 2, 29, 2, 30),
        "2024-02-29 02:30 does not exist in test: the clocks went forward");
    gap(z, wall(2023, 3, 1, 2, 30),
        "2023-03-01 02:30 does not exist in test: the clocks went forward");
    ctm__tz_free(z);
    /* a negative time of day (America/Nuuk): the change is on the Saturday, 23:00 */
    z = rule_zone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    gap(z, wall(2100, 3, 27, 23, 30),
        "2100-03-27 23:30 does not exist in test: the clocks went forward");
    unique(z, wall(2100, 3, 27, 22, 30), wall(2100, 3, 28, 0, 30));
    twice(z, wall(2100, 10, 30, 23, 30), wall(2100, 10, 31, 0, 30), wall(2100, 10, 31, 1, 30));
    ctm__tz_free(z);
    /* 167 hours after the first Sunday of March 2024 (the 3rd): Saturday the 9th, 23:00 */
    z = rule_zone("AAA0BBB,M3.1.0/167,M10.1.0");
    gap(z, wall(2024, 3, 9, 23, 30),
        "2024-03-09 23:30 does not exist in test: the clocks went forward");
    ctm__tz_free(z);
    /* DST all year round: the end (December 31, 25:00) is the next start */
    z = rule_zone("EST5EDT,0/0,J365/25");
    for (int y = 2024; y <= 2026; y++) {
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 1, 1, 4, 59)), -14400);
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 1, 1, 5, 0)), -14400);
        ck_assert_int_eq(ctm__tz_offset(z, wall(y, 7, 1, 0, 0)), -14400);
        unique(z, wall(y, 1, 1, 0, 30), wall(y, 1, 1, 4, 30));
    }
    ctm__tz_free(z);
}
END_TEST

START_TEST(test_footer_rules_refused)
{
    const char *bad[] = {"CET",
                         "CE-1",
                         "<AB>-1",
                         "CET-25",
                         "CET-1:60",
                         "CET-1CEST,M3.5.0",
                         "CET-1CEST,M13.5.0,M10.5.0/3",
                         "CET-1CEST,M3.6.0,M10.5.0/3",
                         "CET-1CEST,M3.5.7,M10.5.0/3",
                         "CET-1CEST,M3.5.0/168,M10.5.0/3",
                         "CET-1CEST,J0,J365",
                         "CET-1CEST,J366,J365",
                         "CET-1CEST,366,J365",
                         "CET-1CEST,M3.5.0,M10.5.0/3,",
                         "CET-1CEST,M3.5.0,M10.5.0/3x",
                         "CET-1CEST-25,M3.5.0,M10.5.0",
                         "CET-24:30CEST,M3.5.0,M10.5.0",
                         "CET-1 CEST"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        rule_refused(bad[i], "zone 'Test/Zone': not a valid TZif file: the footer");
    rule_refused("CET\t-1", "byte 3 of the footer is 0x09");
}
END_TEST

/* Leap-second records are skipped; transitions with the footer after them. */
START_TEST(test_transitions_leap_seconds_and_footer)
{
    int64_t at[] = {wall(2000, 1, 1, 0, 0), wall(2000, 6, 1, 0, 0)};
    uint8_t idx[] = {1, 2};
    int32_t off[] = {-3600, 7200, 19800};
    tzif t;
    build(&t, 2, at, idx, 3, off, 1, "<+0530>-5:30");
    ctm__tz *z = parse_ok(t.b, t.n);
    ck_assert_int_eq(ctm__tz_offset(z, at[0] - 1), -3600); /* type 0 before the first */
    ck_assert_int_eq(ctm__tz_offset(z, at[0]), 7200);
    ck_assert_int_eq(ctm__tz_offset(z, at[1] - 1), 7200);
    ck_assert_int_eq(ctm__tz_offset(z, at[1]), 19800);
    /* the clocks went forward 3 h, then 3.5 h */
    unique(z, wall(1999, 12, 31, 22, 59), wall(1999, 12, 31, 23, 59));
    gap(z, wall(2000, 1, 1, 0, 0), "2000-01-01 00:00 does not exist in test: the clocks went forward");
    unique(z, wall(2000, 1, 1, 2, 0), wall(2000, 1, 1, 0, 0));
    ctm__tz_free(z);
    /* an empty footer: the last transition's offset stays */
    build(&t, 2, at, idx, 3, off, 0, "");
    z = parse_ok(t.b, t.n);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 1, 1, 0, 0)), 19800);
    ctm__tz_free(z);
}
END_TEST

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Where the parts of a version 2 file are. */
typedef struct layout {
    size_t v1_end, data, idx, types, footer;
    uint32_t times, ntypes;
} layout;

static layout layout_of(const uint8_t *b)
{
    layout l;
    l.v1_end = 44 + get32(b + 32) * 5 + get32(b + 36) * 6 + get32(b + 40) + get32(b + 28) * 8 +
               get32(b + 24) + get32(b + 20);
    const uint8_t *h = b + l.v1_end;
    l.times = get32(h + 32);
    l.ntypes = get32(h + 36);
    l.data = l.v1_end + 44;
    l.idx = l.data + l.times * 8;
    l.types = l.idx + l.times;
    l.footer = l.types + l.ntypes * 6 + get32(h + 40) + get32(h + 28) * 12 + get32(h + 24) +
               get32(h + 20);
    return l;
}

static void corrupt_refused(const uint8_t *real, size_t len, size_t at, uint8_t byte,
                            const char *in_msg)
{
    uint8_t *b = malloc(len);
    memcpy(b, real, len);
    b[at] = byte;
    ctm__tz *z = (ctm__tz *)1;
    ck_assert_int_eq(ctm__tz_parse(&z, "Europe/Stockholm", b, len), CTM_EINVAL);
    ck_assert_ptr_null(z);
    ck_assert_msg(strstr(ctm_errmsg(), in_msg) != NULL, "byte %zu: '%s' lacks '%s'", at,
                  ctm_errmsg(), in_msg);
    free(b);
}

START_TEST(test_cut_and_corrupted_files_refused)
{
    size_t len = 0;
    uint8_t *real = (uint8_t *)tu_read_file(tu_data_path("tz/Europe/Stockholm"), &len);
    ck_assert_ptr_nonnull(real);
    ck_assert_uint_eq(len, 1909);
    ctm__tz_free(parse_ok(real, len));
    /* cut short anywhere, one byte too many */
    for (size_t cut = 0; cut < len; cut++) {
        ctm__tz *z = (ctm__tz *)1;
        ck_assert_int_eq(ctm__tz_parse(&z, "Europe/Stockholm", real, cut), CTM_EINVAL);
        ck_assert_ptr_null(z);
        ck_assert_msg(strncmp(ctm_errmsg(), "zone 'Europe/Stockholm': not a valid TZif file: ",
                              48) == 0,
                      "%zu: %s", cut, ctm_errmsg());
    }
    ctm__tz *z = (ctm__tz *)1;
    ck_assert_int_eq(ctm__tz_parse(&z, "Europe/Stockholm", NULL, 0), CTM_EINVAL);
    ck_assert_ptr_null(z);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, real, len);
    longer[len] = '\n';
    ck_assert_int_eq(ctm__tz_parse(&z, "Europe/Stockholm", longer, len + 1), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(),
                     "zone 'Europe/Stockholm': not a valid TZif file: 1 bytes after the footer");
    free(longer);

    layout l = layout_of(real);
    ck_assert_uint_eq(l.times, 120);
    ck_assert_uint_eq(l.ntypes, 6);
    corrupt_refused(real, len, 4, '5', "version byte 0x35 is not a version from 1 to 4");
    corrupt_refused(real, len, l.v1_end + 4, '3', "the second header says version 3, the first 2");
    corrupt_refused(real, len, l.v1_end + 3, 'g', "no \"TZif\" at byte 692");
    /* counts that promise more than there is */
    corrupt_refused(real, len, l.v1_end + 28, 0xff, "the 64-bit data");
    corrupt_refused(real, len, 32, 0x7f, "the version 1 data");
    corrupt_refused(real, len, l.v1_end + 39, 0, "0 local time types");
    /* transition 10 no later than transition 9 */
    corrupt_refused(real, len, l.data + 10 * 8, 0x80, "transition 10");
    corrupt_refused(real, len, l.idx + 3, 6, "transition 3 names local time type 6 of 6");
    corrupt_refused(real, len, l.types + 6 + 1, 0x7f, "local time type 1 has the offset");
    corrupt_refused(real, len, l.types + 6 + 4, 2, "local time type 1 has the DST flag 2");
    corrupt_refused(real, len, l.types + 6 + 5, 17, "local time type 1 names designation byte 17");
    corrupt_refused(real, len, l.footer, ' ', "no footer after the 64-bit data");
    corrupt_refused(real, len, len - 1, ' ', "the footer has no closing newline");
    corrupt_refused(real, len, l.footer + 11, 'X', "the footer 'CET-1CEST,X3.5.0,M10.5.0/3'");
    free(real);
}
END_TEST

/* A version 1 file (the Stockholm file's first block alone): 32-bit transitions to 2037, then
 * its last offset, as there is no footer. */
START_TEST(test_version_1_file)
{
    size_t len = 0;
    uint8_t *b = (uint8_t *)tu_read_file(tu_data_path("tz/Europe/Stockholm"), &len);
    ck_assert_ptr_nonnull(b);
    layout l = layout_of(b);
    b[4] = 0;
    ctm__tz *z = parse_ok(b, l.v1_end);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 1, 15, 12, 0)), 3600);
    ck_assert_int_eq(ctm__tz_offset(z, wall(2024, 7, 1, 12, 0)), 7200);
    gap(z, wall(2024, 3, 31, 2, 30),
        "2024-03-31 02:30 does not exist in test: the clocks went forward");
    twice(z, wall(2024, 10, 27, 2, 30), wall(2024, 10, 27, 0, 30), wall(2024, 10, 27, 1, 30));
    ck_assert_int_eq(ctm__tz_offset(z, wall(2150, 7, 1, 12, 0)), 3600);
    ctm__tz_free(z);
    /* a version 1 file ends with its data */
    ck_assert_int_eq(ctm__tz_parse(&z, "v1", b, l.v1_end + 1), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "zone 'v1': not a valid TZif file: 1 bytes after the data");
    free(b);
}
END_TEST

START_TEST(test_local_times_out_of_range)
{
    ctm__tz *z = open_ok("UTC");
    int64_t utc[2];
    int n = -1;
    ck_assert_int_eq(ctm__tz_to_utc(z, INT64_MAX, utc, &n), CTM_EINVAL);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(ctm__tz_to_utc(z, INT64_MIN, utc, &n), CTM_EINVAL);
    unique(z, wall(9999, 12, 31, 23, 59), wall(9999, 12, 31, 23, 59));
    unique(z, wall(0, 1, 1, 0, 0), wall(0, 1, 1, 0, 0));
    ctm__tz_free(z);
    use_test_zones();
    z = open_ok("Europe/Stockholm");
    /* beyond 2^42 s (about 139,000 years) the rule holds as at that instant */
    ck_assert_int_eq(ctm__tz_offset(z, INT64_MAX), ctm__tz_offset(z, INT64_C(1) << 42));
    ck_assert_int_eq(ctm__tz_offset(z, INT64_MIN), 4332); /* local mean time before 1879 */
    twice(z, wall(9999, 10, 31, 2, 30), wall(9999, 10, 31, 0, 30), wall(9999, 10, 31, 1, 30));
    ctm__tz_free(z);
}
END_TEST

static Suite *tz_suite(void)
{
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_utc_and_fixed_offsets);
    tcase_add_test(tc, test_bad_names_open_nothing);
    tcase_add_test(tc, test_missing_and_unreadable_zones);
    suite_add_tcase(s, tc);
    tc = tcase_create("zones");
    tcase_add_test(tc, test_zones_of_the_test_directory);
    tcase_add_test(tc, test_zones_of_the_system);
    tcase_add_test(tc, test_years_after_the_last_transition);
    tcase_add_test(tc, test_every_year_has_its_changes);
    tcase_add_test(tc, test_local_times_out_of_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("tzif");
    tcase_add_test(tc, test_footer_rules);
    tcase_add_test(tc, test_footer_rules_refused);
    tcase_add_test(tc, test_transitions_leap_seconds_and_footer);
    tcase_add_test(tc, test_cut_and_corrupted_files_refused);
    tcase_add_test(tc, test_version_1_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(tz_suite());
}
