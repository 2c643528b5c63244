/* test_gs1.c - GS1 element strings: the shared vectors, each AI's limits, check digits, dates,
 * the input forms, companion and duplicate AIs, and the JSON rendering. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs1.h"
#include "internal.h"
#include "testutil.h"

#define REF_YEAR 2026
#define GTIN "05909990329717"
#define PACK "(01)" GTIN

/* ---- helpers ---------------------------------------------------------------------------- */

/* s with every "<GS>" replaced by the byte 0x1D; malloc'd. */
static char *with_gs(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    while (*s) {
        if (strncmp(s, "<GS>", 4) == 0) {
            *o++ = 0x1d;
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static ctm_gs1 *parse_ok_year(const char *text, int year)
{
    char *input = with_gs(text);
    ctm_gs1 *g = NULL;
    int rc = ctm__gs1_parse_at(&g, input, year);
    ck_assert_msg(rc == CTM_OK, "%s: rejected: %s", text, ctm_errmsg());
    ck_assert_ptr_nonnull(g);
    free(input);
    return g;
}

static ctm_gs1 *parse_ok(const char *text)
{
    return parse_ok_year(text, REF_YEAR);
}

/* Parse text that must be rejected with a message containing `why` (NULL: any); returns
 * nothing, the message stays in ctm_errmsg(). */
static void rejected_year(const char *text, const char *why, int year)
{
    char *input = with_gs(text);
    ctm_gs1 *g = (ctm_gs1 *)1;
    int rc = ctm__gs1_parse_at(&g, input, year);
    ck_assert_msg(rc == CTM_EINVAL, "%s: accepted (rc %d)", text, rc);
    ck_assert_ptr_null(g);
    ck_assert_msg(strncmp(ctm_errmsg(), "GS1", 3) == 0, "%s: message %s", text, ctm_errmsg());
    ck_assert_msg(why == NULL || strstr(ctm_errmsg(), why) != NULL, "%s: message '%s' lacks '%s'",
                  text, ctm_errmsg(), why);
    for (const unsigned char *p = (const unsigned char *)ctm_errmsg(); *p; p++)
        ck_assert_msg(*p >= 0x20 && *p < 0x7f, "%s: raw byte 0x%02x in the message", text, *p);
    free(input);
}

static void rejected(const char *text, const char *why)
{
    rejected_year(text, why, REF_YEAR);
}

static void assert_expiry(const char *text, int year, const char *expiry)
{
    ctm_gs1 *g = parse_ok_year(text, year);
    ck_assert_msg(ctm_gs1_expiry(g) != NULL, "%s: no expiry", text);
    ck_assert_str_eq(ctm_gs1_expiry(g), expiry);
    ctm_gs1_free(g);
}

static void assert_json(const char *text, const char *json)
{
    ctm_gs1 *g = parse_ok(text);
    char *out = NULL;
    ck_assert_int_eq(ctm_gs1_json(&out, g), CTM_OK);
    ck_assert_str_eq(out, json);
    ctm_free(out);
    ctm_gs1_free(g);
}

/* n copies of c; static buffer. */
static const char *repeat(char c, size_t n)
{
    static char buf[128];
    ck_assert_uint_lt(n, sizeof buf);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- the shared vectors ----------------------------------------------------------------- */

/* Check the OK row's expected "AI=value;...;expiry=DATE" against the parse. */
static void check_fields(const char *name, ctm_gs1 *g, char *fields)
{
    const char *expiry = NULL;
    int n = 0;
    for (char *save = NULL, *item = strtok_r(fields, ";", &save); item;
         item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        ck_assert_msg(eq != NULL, "%s: bad field %s", name, item);
        *eq = '\0';
        if (strcmp(item, "expiry") == 0) {
            expiry = eq + 1;
            continue;
        }
        const char *got = ctm_gs1_get(g, item);
        ck_assert_msg(got != NULL, "%s: no (%s)", name, item);
        ck_assert_msg(strcmp(got, eq + 1) == 0, "%s: (%s) is %s, expected %s", name, item, got,
                      eq + 1);
        n++;
    }
    ck_assert_msg(ctm_gs1_count(g) == n, "%s: %d fields, expected %d", name, ctm_gs1_count(g), n);
    if (expiry == NULL)
        ck_assert_msg(ctm_gs1_expiry(g) == NULL, "%s: unexpected expiry", name);
    else
        ck_assert_msg(ctm_gs1_expiry(g) && strcmp(ctm_gs1_expiry(g), expiry) == 0,
                      "%s: expiry %s, expected %s", name, ctm_gs1_expiry(g), expiry);
}

static void run_vector(char *line)
{
    char *col[4] = { NULL, NULL, NULL, (char *)"" };
    int ncol = 0;
    for (char *p = line; ncol < 4; ncol++) {
        col[ncol] = p;
        p = strchr(p, '\t');
        if (p == NULL) {
            ncol++;
            break;
        }
        *p++ = '\0';
    }
    ck_assert_msg(ncol >= 3, "bad vector line %s", line);
    if (ncol == 3)
        col[3] = (char *)"";
    if (strcmp(col[2], "REJECT") == 0) {
        rejected(col[1], NULL);
        return;
    }
    ck_assert_msg(strcmp(col[2], "OK") == 0, "%s: expect %s", col[0], col[2]);
    ctm_gs1 *g = parse_ok(col[1]);
    check_fields(col[0], g, col[3]);
    ctm_gs1_free(g);
}

START_TEST(test_vectors)
{
    char *text = tu_read_file(tu_data_path("gs1/vectors.tsv"), NULL);
    int rows = 0, rejects = 0;
    ck_assert_msg(text != NULL, "cannot read %s", tu_data_path("gs1/vectors.tsv"));
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        rejects += strstr(line, "\tREJECT") != NULL;
        run_vector(line);
        rows++;
    }
    ck_assert_int_ge(rows, 12);
    ck_assert_int_ge(rejects, 5);
    free(text);
}
END_TEST

/* ---- lengths ---------------------------------------------------------------------------- */

/* Variable-length AIs: 1..max accepted, max+1 and empty rejected.  Each goes after the GTIN and
 * before a GS and a (20) (so the value has to end at the separator). */
START_TEST(test_variable_lengths)
{
    static const struct {
        const char *ai;
        char fill;
        size_t max;
    } ais[] = {
        { "10", 'A', 20 },  { "21", 'z', 20 },  { "22", '7', 20 },  { "240", 'B', 30 },
        { "241", 'C', 30 }, { "250", 'D', 30 }, { "400", 'E', 30 }, { "7240", 'P', 20 },
        { "30", '9', 8 },   { "37", '1', 8 },   { "242", '5', 6 },  { "91", 'x', 90 },
    };
    char text[300];
    for (size_t i = 0; i < sizeof ais / sizeof ais[0]; i++) {
        for (size_t n = 1; n <= ais[i].max + 1; n++) {
            snprintf(text, sizeof text, "01" GTIN "%s%s<GS>2012", ais[i].ai,
                     repeat(ais[i].fill, n));
            if (n > ais[i].max) {
                rejected(text, "too long");
                ck_assert_msg(strstr(ctm_errmsg(), ais[i].ai) != NULL, "%s", ctm_errmsg());
                continue;
            }
            ctm_gs1 *g = parse_ok(text);
            ck_assert_str_eq(ctm_gs1_get(g, ais[i].ai), repeat(ais[i].fill, n));
            ck_assert_str_eq(ctm_gs1_get(g, "20"), "12");
            ctm_gs1_free(g);
        }
        snprintf(text, sizeof text, "01" GTIN "%s<GS>2012", ais[i].ai);
        rejected(text, "no value");
    }
}
END_TEST

/* Fixed-length AIs: one short and one long are rejected in the bracketed form (where the value's
 * end is known) and a short one at the end of scanner data. */
START_TEST(test_fixed_lengths)
{
    static const struct {
        const char *ai, *value;
    } ais[] = {
        { "00", "106141411234567897" }, { "01", GTIN },          { "02", "10614141000415" },
        { "11", "260101" },             { "13", "260101" },      { "15", "270101" },
        { "16", "270101" },             { "17", "270101" },      { "20", "42" },
        { "410", "4012345000009" },     { "422", "250" },        { "7003", "2701011200" },
        { "3103", "001250" },           { "3922", "1250" },
    };
    char text[256];
    for (size_t i = 0; i < sizeof ais / sizeof ais[0]; i++) {
        const char *companion = strcmp(ais[i].ai, "01") == 0 ? "" : "(02)10614141000415";
        size_t n = strlen(ais[i].value);
        snprintf(text, sizeof text, "%s(%s)%s", companion, ais[i].ai, ais[i].value);
        ctm_gs1 *g = parse_ok(text);
        ck_assert_str_eq(ctm_gs1_get(g, ais[i].ai), ais[i].value);
        ctm_gs1_free(g);
        if (strcmp(ais[i].ai, "3922") == 0)
            continue; /* variable N..15 */
        snprintf(text, sizeof text, "%s(%s)%.*s", companion, ais[i].ai, (int)n - 1, ais[i].value);
        rejected(text, ais[i].ai);
        snprintf(text, sizeof text, "%s%s%.*s", companion[0] ? "02" "10614141000415" : "",
                 ais[i].ai, (int)n - 1, ais[i].value);
        rejected(text, ais[i].ai);
    }
    /* Longer: predefined lengths run into the next AI, the others are held to their length. */
    rejected("(01)059099903297171", "no AI at 1");
    rejected(PACK "(7003)27010112001", "11 digits where 10 are needed");
    rejected(PACK "(422)2500", "4 digits where 3 are needed");
    rejected("01" GTIN "7003270101120010ABC", "(7003)");
}
END_TEST

START_TEST(test_input_limit)
{
    char text[700];
    /* A GTIN, five 90-character internal fields (91)..(95) and a (97) that brings it to 512. */
    int n = snprintf(text, sizeof text, "01" GTIN);
    for (char ai = '1'; ai <= '5'; ai++)
        n += snprintf(text + n, sizeof text - (size_t)n, "9%c%s<GS>", ai, repeat('Q', 90));
    /* 16 + 5 * (2 + 90 + 4 in the text form, 1 byte as GS) = 16 + 5 * 93 = 481 bytes of input. */
    char *input = with_gs(text);
    size_t len = strlen(input);
    ck_assert_uint_eq(len, 481);
    char big[700];
    memcpy(big, input, len);
    snprintf(big + len, sizeof big - len, "97%s", repeat('R', 512 - len - 2));
    ck_assert_uint_eq(strlen(big), 512);
    ctm_gs1 *g = NULL;
    ck_assert_int_eq(ctm__gs1_parse_at(&g, big, REF_YEAR), CTM_OK);
    ck_assert_int_eq(ctm_gs1_count(g), 7);
    ctm_gs1_free(g);
    strcat(big, "R");
    ck_assert_int_eq(ctm__gs1_parse_at(&g, big, REF_YEAR), CTM_EINVAL);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(ctm_errmsg(), "512"));
    free(input);
}
END_TEST

/* ---- check digits ----------------------------------------------------------------------- */

static const char *const valid_gtins[] = {
    "05909990329717", "09506000134352", "04006381333931", "05901234123457",
    "00614141123452", "00012345600012", "10614141000415", "95012345678903",
    "05012345678900",
};

START_TEST(test_check_digits)
{
    char text[64], gtin[15];
    for (size_t i = 0; i < sizeof valid_gtins / sizeof valid_gtins[0]; i++) {
        snprintf(text, sizeof text, "]d201%s", valid_gtins[i]);
        ctm_gs1 *g = parse_ok(text);
        ck_assert_str_eq(ctm_gs1_get(g, "01"), valid_gtins[i]);
        ctm_gs1_free(g);
        for (int pos = 0; pos < 14; pos++) {
            for (char d = '0'; d <= '9'; d++) {
                if (d == valid_gtins[i][pos])
                    continue;
                memcpy(gtin, valid_gtins[i], sizeof gtin);
                gtin[pos] = d;
                snprintf(text, sizeof text, "]d201%s", gtin);
                rejected(text, "check digit");
                snprintf(text, sizeof text, "(02)%s(37)10", gtin);
                rejected(text, "(02)");
            }
        }
    }
    rejected("(00)106141411234567890", "bad check digit 0 (expected 7)");
    rejected("(410)4012345000008", "(410)");
    rejected("0105909990329718", "GS1 (01): bad check digit 8 (expected 7) in 05909990329718");
    rejected("01059099903297A7", "'A' is not a digit");
}
END_TEST

/* ---- dates ------------------------------------------------------------------------------ */

START_TEST(test_day00_every_month)
{
    static const int common[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    char text[64], expiry[16];
    for (int leap = 0; leap <= 1; leap++) {
        int year = leap ? 2028 : 2027;
        for (int m = 1; m <= 12; m++) {
            int last = common[m - 1] + (leap && m == 2);
            snprintf(text, sizeof text, PACK "(17)%02d%02d00", year % 100, m);
            snprintf(expiry, sizeof expiry, "%04d-%02d-%02d", year, m, last);
            assert_expiry(text, REF_YEAR, expiry);
            snprintf(text, sizeof text, PACK "(17)%02d%02d%02d", year % 100, m, last);
            assert_expiry(text, REF_YEAR, expiry);
            snprintf(text, sizeof text, PACK "(17)%02d%02d%02d", year % 100, m, last + 1);
            rejected(text, "day");
        }
    }
    /* Centuries: 2000 is a leap year, 2100 is not. */
    assert_expiry(PACK "(17)000200", 2026, "2000-02-29");
    assert_expiry(PACK "(17)000229", 2026, "2000-02-29");
    assert_expiry(PACK "(17)000200", 2080, "2100-02-28");
    rejected_year(PACK "(17)000229", "day 29", 2080);
    /* The other dates take day 00 too, and are checked the same way. */
    ctm_gs1 *g = parse_ok(PACK "(11)260200(13)260300(15)270400(16)270500");
    ck_assert_ptr_null(ctm_gs1_expiry(g));
    ctm_gs1_free(g);
    rejected(PACK "(11)260230", "GS1 (11): day 30");
    rejected(PACK "(15)271301", "GS1 (15): month 13");
    rejected(PACK "(17)270001", "GS1 (17): month 00 in 270001");
    rejected(PACK "(17)271301", "GS1 (17): month 13 in 271301");
    rejected(PACK "(17)270431", "GS1 (17): day 31 (2027-04 has 30 days) in 270431");
}
END_TEST

START_TEST(test_year_window)
{
    assert_expiry(PACK "(17)760101", 2026, "2076-01-01"); /* +50 */
    assert_expiry(PACK "(17)770101", 2026, "1977-01-01"); /* -49 */
    assert_expiry(PACK "(17)260101", 2026, "2026-01-01");
    assert_expiry(PACK "(17)000101", 2050, "2100-01-01"); /* +50 */
    assert_expiry(PACK "(17)010101", 2050, "2001-01-01"); /* -49 */
    assert_expiry(PACK "(17)990101", 2050, "2099-01-01");
    assert_expiry(PACK "(17)500101", 2099, "2050-01-01"); /* -49 */
    assert_expiry(PACK "(17)490101", 2099, "2149-01-01"); /* +50 */
    assert_expiry(PACK "(17)510101", 2001, "2051-01-01"); /* +50 */
    assert_expiry(PACK "(17)520101", 2001, "1952-01-01"); /* -49 */
    /* The public entry point resolves against the current year. */
    ctm_gs1 *g = NULL;
    ck_assert_int_eq(ctm_gs1_parse(&g, PACK "(17)270430"), CTM_OK);
    ck_assert_ptr_nonnull(ctm_gs1_expiry(g));
    ck_assert(strcmp(ctm_gs1_expiry(g), "2027-04-30") == 0 ||
              strcmp(ctm_gs1_expiry(g), "1927-04-30") == 0 ||
              strcmp(ctm_gs1_expiry(g), "2127-04-30") == 0);
    ctm_gs1_free(g);
}
END_TEST

START_TEST(test_7003)
{
    ctm_gs1 *g = parse_ok("]d201" GTIN "70032704301230<GS>10NE76571");
    ck_assert_str_eq(ctm_gs1_get(g, "7003"), "2704301230");
    ck_assert_str_eq(ctm_gs1_get(g, "10"), "NE76571");
    ck_assert_str_eq(ctm_gs1_expiry(g), "2027-04-30");
    ctm_gs1_free(g);
    assert_expiry(PACK "(7003)2802292359", REF_YEAR, "2028-02-29");
    /* (17) is the expiry when both are given. */
    assert_expiry(PACK "(17)270400(7003)2704151200", REF_YEAR, "2027-04-30");
    rejected(PACK "(7003)2704302400", "hour 24");
    rejected(PACK "(7003)2704301260", "minute 60");
    rejected(PACK "(7003)2704001200", "day 00");
    rejected(PACK "(7003)2702291200", "day 29");
    rejected(PACK "(7003)270430120", "9 digits");
    rejected(PACK "(7003)27043012300", "11 digits");
    rejected("(7003)2704301230", "(7003)");
}
END_TEST

/* ---- input forms ------------------------------------------------------------------------ */

START_TEST(test_forms)
{
    static const char *const same[] = {
        "(01)05909990329717(17)270430(10)NE76571",
        "01059099903297171727043010NE76571",
        "]d201059099903297171727043010NE76571",
        "]Q301059099903297171727043010NE76571",
        "]C101059099903297171727043010NE76571",
        "<GS>01059099903297171727043010NE76571",
        "]d2<GS>01059099903297171727043010NE76571",
        "0105909990329717<GS>17270430<GS>10NE76571<GS>",
        "(01)0590999032971717270430(10)NE76571",
        "(01)059099903297171727043010NE76571",
        "0105909990329717(17)270430(10)NE76571",
        "010590999032971717270430(10)NE76571",
        "(01)05909990329717<GS>(17)270430<GS>(10)NE76571",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        ctm_gs1 *g = parse_ok(same[i]);
        ck_assert_msg(ctm_gs1_count(g) == 3, "%s: %d fields", same[i], ctm_gs1_count(g));
        ck_assert_str_eq(ctm_gs1_ai(g, 0), "01");
        ck_assert_str_eq(ctm_gs1_value(g, 0), GTIN);
        ck_assert_str_eq(ctm_gs1_ai(g, 1), "17");
        ck_assert_str_eq(ctm_gs1_value(g, 1), "270430");
        ck_assert_str_eq(ctm_gs1_ai(g, 2), "10");
        ck_assert_str_eq(ctm_gs1_value(g, 2), "NE76571");
        ck_assert_str_eq(ctm_gs1_expiry(g), "2027-04-30");
        ctm_gs1_free(g);
    }
    /* In the bracketed form "\(" is a '(' of the value; in scanner data '(' is data. */
    ctm_gs1 *g = parse_ok(PACK "(10)A\\(B)(21)S1");
    ck_assert_str_eq(ctm_gs1_get(g, "10"), "A(B)");
    ck_assert_str_eq(ctm_gs1_get(g, "21"), "S1");
    ctm_gs1_free(g);
    g = parse_ok("01" GTIN "10A(B)");
    ck_assert_str_eq(ctm_gs1_get(g, "10"), "A(B)");
    ctm_gs1_free(g);
    rejected("01" GTIN "10A<GS><GS>21X", "empty element (two separators) at <GS>21X");
    rejected("(01" GTIN, "no AI in brackets");
    rejected("(1)" GTIN, "no AI in brackets");
    rejected("", "no element string");
    rejected("<GS>", "no element string");
    rejected("]d2", "no element string");
    rejected("X01" GTIN, "no AI at X01");
}
END_TEST

START_TEST(test_symbology)
{
    rejected("]E00590999032971", "GS1: symbology identifier ]E0: not a GS1 symbology");
    rejected("]d10105909990329717", "]d1: not a GS1 symbology");
    rejected("]Q1" PACK, "]Q1");
    rejected("]", "not a GS1 symbology");
    rejected("]\x01" "2" PACK, "]\\x012: not a GS1 symbology");
}
END_TEST

START_TEST(test_characters)
{
    rejected(PACK "(10)A^B", "GS1 (10): '^' is outside the GS1 character set 82 in A^B");
    rejected(PACK "(21)A B", "(21): ' ' is outside");
    rejected(PACK "(10)A\x01" "B", "'\\x01' is outside the GS1 character set 82 in A\\x01B");
    rejected(PACK "(10)\xc3\xa9", "'\\xc3'");
    rejected(PACK "(30)1A", "GS1 (30): 'A' is not a digit");
    /* Every character of set 82 is taken. */
    ctm_gs1 *g = parse_ok(PACK "(91)!\"%&'\\()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                          "<GS>92abcdefghijklmnopqrstuvwxyz");
    ck_assert_str_eq(ctm_gs1_get(g, "91"),
                     "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    ck_assert_str_eq(ctm_gs1_get(g, "92"), "abcdefghijklmnopqrstuvwxyz");
    ctm_gs1_free(g);
}
END_TEST

/* ---- AIs -------------------------------------------------------------------------------- */

START_TEST(test_unknown_ai)
{
    rejected(PACK "(23)1", "GS1 (23): unknown AI");
    rejected(PACK "(3106)000100", "GS1 (3106): unknown AI");
    rejected(PACK "(04)1", "GS1 (04): unknown AI");
    rejected("01" GTIN "2312", "GS1 (2312): unknown AI");
    rejected("01" GTIN "9", "no AI at 9");
    ctm_gs1 *g = parse_ok(PACK "(3103)001250(3922)1250(00)106141411234567897(8004)X(401)A");
    ck_assert_int_eq(ctm_gs1_count(g), 6);
    ctm_gs1_free(g);
}
END_TEST

START_TEST(test_duplicate_ai)
{
    rejected(PACK "(10)A(10)B", "GS1 (10): given twice, as A and as B");
    rejected(PACK "(17)270430(17)270429", "GS1 (17): given twice");
    rejected(PACK "(01)05901234123457", "(01): given twice");
    ctm_gs1 *g = parse_ok(PACK "(10)A(17)270430(10)A");
    ck_assert_int_eq(ctm_gs1_count(g), 3);
    ck_assert_str_eq(ctm_gs1_get(g, "10"), "A");
    ctm_gs1_free(g);
}
END_TEST

START_TEST(test_companions)
{
    rejected("(21)123", "GS1 (21): a serial number without the GTIN (01)");
    rejected("(10)ABC", "GS1 (10): a batch without");
    rejected("(17)270430", "GS1 (17): an expiry without");
    rejected("(7240)PROTO-1", "GS1 (7240): a protocol without the GTIN (01)");
    rejected("(02)10614141000415(37)4(7240)P", "(7240)");
    rejected("(02)10614141000415(21)S", "(21)");
    ctm_gs1 *g = parse_ok("(02)10614141000415(37)4(10)L1(17)270400");
    ck_assert_ptr_null(ctm_gs1_get(g, "01"));
    ck_assert_str_eq(ctm_gs1_expiry(g), "2027-04-30");
    ctm_gs1_free(g);
    g = parse_ok(PACK "(7240)NCT01234567(21)S");
    ck_assert_str_eq(ctm_gs1_get(g, "7240"), "NCT01234567");
    ctm_gs1_free(g);
}
END_TEST

/* ---- the parse as data ------------------------------------------------------------------ */

START_TEST(test_json_exact)
{
    assert_json("]d20105909990329717211039520876635<GS>1727043010NE76571",
                "{\"ai\":{\"01\":\"05909990329717\",\"21\":\"1039520876635\",\"17\":\"270430\","
                "\"10\":\"NE76571\"},\"gtin\":\"05909990329717\",\"lot\":\"NE76571\","
                "\"serial\":\"1039520876635\",\"expiry\":\"2027-04-30\"}");
    assert_json("(01)05909990329717(17)270430",
                "{\"ai\":{\"01\":\"05909990329717\",\"17\":\"270430\"},"
                "\"gtin\":\"05909990329717\",\"lot\":null,\"serial\":null,"
                "\"expiry\":\"2027-04-30\"}");
    assert_json("(00)106141411234567897",
                "{\"ai\":{\"00\":\"106141411234567897\"},\"gtin\":null,\"lot\":null,"
                "\"serial\":null,\"expiry\":null}");
    assert_json(PACK "(10)A\"B",
                "{\"ai\":{\"01\":\"05909990329717\",\"10\":\"A\\\"B\"},"
                "\"gtin\":\"05909990329717\",\"lot\":\"A\\\"B\",\"serial\":null,\"expiry\":null}");
}
END_TEST

START_TEST(test_accessors)
{
    ctm_gs1 *g = parse_ok(PACK "(10)L");
    ck_assert_int_eq(ctm_gs1_count(g), 2);
    ck_assert_ptr_null(ctm_gs1_ai(g, 2));
    ck_assert_ptr_null(ctm_gs1_ai(g, -1));
    ck_assert_ptr_null(ctm_gs1_value(g, 2));
    ck_assert_ptr_null(ctm_gs1_get(g, "21"));
    ck_assert_ptr_null(ctm_gs1_get(g, NULL));
    ck_assert_ptr_null(ctm_gs1_expiry(g));
    ctm_gs1_free(g);
    ck_assert_int_eq(ctm_gs1_count(NULL), 0);
    ck_assert_ptr_null(ctm_gs1_ai(NULL, 0));
    ck_assert_ptr_null(ctm_gs1_get(NULL, "01"));
    ck_assert_ptr_null(ctm_gs1_expiry(NULL));
    ctm_gs1_free(NULL);
    char *json = (char *)"x";
    ck_assert_int_eq(ctm_gs1_json(&json, NULL), CTM_EINVAL);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(ctm_gs1_parse(NULL, PACK), CTM_EINVAL);
    ck_assert_int_eq(ctm_gs1_parse(&g, NULL), CTM_EINVAL);
    ck_assert_ptr_null(g);
}
END_TEST

/* Arbitrary bytes: never a crash, and a failure always leaves *out NULL and a clean message. */
START_TEST(test_random_bytes)
{
    static const char alphabet[] = "0123456789()\x1d]dQC1A^\\\x01\xff";
    uint32_t x = 12345;
    char buf[80];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0, len = (size_t)(round % 79);
        for (; n < len; n++) {
            x = x * 1103515245u + 12345u;
            buf[n] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        buf[n] = '\0';
        ctm_gs1 *g = (ctm_gs1 *)1;
        int rc = ctm__gs1_parse_at(&g, buf, REF_YEAR);
        if (rc == CTM_OK) {
            char *json = NULL;
            ck_assert_int_eq(ctm_gs1_json(&json, g), CTM_OK);
            ctm_free(json);
            ctm_gs1_free(g);
            continue;
        }
        ck_assert_int_eq(rc, CTM_EINVAL);
        ck_assert_ptr_null(g);
        for (const unsigned char *p = (const unsigned char *)ctm_errmsg(); *p; p++)
            ck_assert(*p >= 0x20 && *p < 0x7f);
    }
}
END_TEST

static Suite *gs1_suite(void)
{
    Suite *s = suite_create("gs1");
    TCase *tc;

    tc = tcase_create("shared_vectors");
    tcase_add_test(tc, test_vectors);
    suite_add_tcase(s, tc);

    tc = tcase_create("lengths");
    tcase_add_test(tc, test_variable_lengths);
    tcase_add_test(tc, test_fixed_lengths);
    tcase_add_test(tc, test_input_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("check_digits");
    tcase_add_test(tc, test_check_digits);
    suite_add_tcase(s, tc);

    tc = tcase_create("dates");
    tcase_add_test(tc, test_day00_every_month);
    tcase_add_test(tc, test_year_window);
    tcase_add_test(tc, test_7003);
    suite_add_tcase(s, tc);

    tc = tcase_create("forms");
    tcase_add_test(tc, test_forms);
    tcase_add_test(tc, test_symbology);
    tcase_add_test(tc, test_characters);
    suite_add_tcase(s, tc);

    tc = tcase_create("ais");
    tcase_add_test(tc, test_unknown_ai);
    tcase_add_test(tc, test_duplicate_ai);
    tcase_add_test(tc, test_companions);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_json_exact);
    tcase_add_test(tc, test_accessors);
    tcase_add_test(tc, test_random_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(gs1_suite());
}
