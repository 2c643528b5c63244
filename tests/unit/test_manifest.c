/* test_manifest.c - shipment manifests (CSV): good texts, every rejection with its line and field,
 * blinding of arm values in messages, duplicates and limits at scale, binary junk. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctm.h"
#include "manifest.h"
#include "testutil.h"

#define HDR "kit_number,kit_type,lot,expiry\n"
#define HDR_ALL "kit_number,kit_type,lot,expiry,arm,gtin,serial\n"
#define GTIN "09506000134352" /* valid GS1 check digit */

/* ---- helpers ---------------------------------------------------------------------------- */

static void parse_ok(ctm__manifest *m, const char *text)
{
    int rc = ctm__manifest_parse(m, text, strlen(text));
    ck_assert_msg(rc == CTM_OK, "rc %d: %s", rc, ctm_errmsg());
}

/* The parse fails with CTM_EINVAL and exactly this message. */
static void expect_error(const char *text, size_t len, const char *message)
{
    ctm__manifest m;
    int rc = ctm__manifest_parse(&m, text, len);
    ck_assert_msg(rc == CTM_EINVAL, "rc %d for: %s", rc, text);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert_uint_eq(m.n, 0);
    ck_assert_ptr_null(m.rows);
    ctm__manifest_free(&m);
}

static void expect(const char *text, const char *message)
{
    expect_error(text, strlen(text), message);
}

/* A growable text buffer for large manifests. */
typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->cap == 0) {
        t->cap = 4096;
        t->p = malloc(t->cap);
        ck_assert_ptr_nonnull(t->p);
    }
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(k, 0);
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = t->cap * 2 + (size_t)k + 64;
        t->p = realloc(t->p, t->cap);
        ck_assert_ptr_nonnull(t->p);
    }
}

/* header + n kits K0000001.. with lot and expiry; every kit on its own line. */
static void text_kits(text *t, size_t n)
{
    text_add(t, "%s", HDR);
    for (size_t i = 1; i <= n; i++)
        text_add(t, "K%07zu,TYPE-A,LOT%zu,2027-%02zu-15\n", i, i % 97, i % 12 + 1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- good manifests --------------------------------------------------------------------- */

START_TEST(test_minimal)
{
    ctm__manifest m;
    parse_ok(&m, HDR "K0001,TYPE-A,LOT1,2027-03-31\nK0002,TYPE_B@x,L-2/x,20280229\n");
    ck_assert_uint_eq(m.n, 2);
    ck_assert(!m.has_arm && !m.has_gtin && !m.has_serial);
    ck_assert_uint_eq(m.rows[0].line, 2);
    ck_assert_str_eq(m.rows[0].kit_number, "K0001");
    ck_assert_str_eq(m.rows[0].kit_type, "TYPE-A");
    ck_assert_str_eq(m.rows[0].lot, "LOT1");
    ck_assert_str_eq(m.rows[0].expiry, "2027-03-31");
    ck_assert_ptr_null(m.rows[0].arm);
    ck_assert_ptr_null(m.rows[0].gtin);
    ck_assert_ptr_null(m.rows[0].serial);
    ck_assert_uint_eq(m.rows[1].line, 3);
    ck_assert_str_eq(m.rows[1].kit_type, "TYPE_B@x");
    ck_assert_str_eq(m.rows[1].lot, "L-2/x");
    ck_assert_str_eq(m.rows[1].expiry, "2028-02-29"); /* normalised, leap year */
    ctm__manifest_free(&m);
}
END_TEST

START_TEST(test_column_orders)
{
    ctm__manifest m;
    parse_ok(&m, "serial,expiry,arm,lot,gtin,kit_type,kit_number\n"
                 "S1,20000229,A,L1," GTIN ",T,K/1.a_b-c\n");
    ck_assert(m.has_arm && m.has_gtin && m.has_serial);
    ck_assert_str_eq(m.rows[0].kit_number, "K/1.a_b-c");
    ck_assert_str_eq(m.rows[0].kit_type, "T");
    ck_assert_str_eq(m.rows[0].lot, "L1");
    ck_assert_str_eq(m.rows[0].expiry, "2000-02-29");
    ck_assert_str_eq(m.rows[0].arm, "A");
    ck_assert_str_eq(m.rows[0].gtin, GTIN);
    ck_assert_str_eq(m.rows[0].serial, "S1");
    ctm__manifest_free(&m);

    parse_ok(&m, "lot,kit_number,gtin,expiry,kit_type\nL,K,,2099-12-31,T\n");
    ck_assert(!m.has_arm && m.has_gtin && !m.has_serial);
    ck_assert_ptr_null(m.rows[0].gtin); /* present column, empty field */
    ck_assert_str_eq(m.rows[0].expiry, "2099-12-31");
    ctm__manifest_free(&m);
}
END_TEST

START_TEST(test_quoting)
{
    ctm__manifest m;
    parse_ok(&m, "\"kit_number\",\"kit_type\",lot,\"expiry\",serial,arm\n"
                 "\"K1\",\"T\",\"A\"\"B,C\",\"2027-01-01\",\"\",\"\"\n"
                 "K2,T,\"\"\"\",2027-01-01,\"S,1\",ARM-2\n");
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.rows[0].kit_number, "K1");
    ck_assert_str_eq(m.rows[0].lot, "A\"B,C");
    ck_assert_ptr_null(m.rows[0].serial);
    ck_assert_ptr_null(m.rows[0].arm);
    ck_assert_str_eq(m.rows[1].lot, "\"");
    ck_assert_str_eq(m.rows[1].serial, "S,1");
    ck_assert_str_eq(m.rows[1].arm, "ARM-2");
    ctm__manifest_free(&m);
}
END_TEST

START_TEST(test_line_ends_and_bom)
{
    ctm__manifest m;
    parse_ok(&m, "kit_number,kit_type,lot,expiry\r\nK1,T,L,2027-01-01\r\nK2,T,L,2027-01-01\r\n");
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.rows[1].expiry, "2027-01-01");
    ctm__manifest_free(&m);
    /* Mixed line ends, no final one. */
    parse_ok(&m, HDR "K1,T,L,2027-01-01\r\nK2,T,L,2027-01-02");
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.rows[1].expiry, "2027-01-02");
    ctm__manifest_free(&m);
    /* Trailing blank lines are ignored. */
    parse_ok(&m, HDR "K1,T,L,2027-01-01\n\n\r\n\n");
    ck_assert_uint_eq(m.n, 1);
    ctm__manifest_free(&m);
    /* A byte order mark before the header. */
    parse_ok(&m, "\xef\xbb\xbf" HDR "K1,T,L,2027-01-01\n");
    ck_assert_uint_eq(m.n, 1);
    ck_assert_uint_eq(m.rows[0].line, 2);
    ctm__manifest_free(&m);
    /* The text need not be NUL-terminated: only len bytes are read. */
    const char *t = HDR "K1,T,L,2027-01-01\nK2,T,L,2027-01-01\n";
    ck_assert_int_eq(ctm__manifest_parse(&m, t, strlen(HDR) + 18), CTM_OK);
    ck_assert_uint_eq(m.n, 1);
    ctm__manifest_free(&m);
}
END_TEST

START_TEST(test_field_limits_accepted)
{
    char buf[1024];
    ctm__manifest m;
    /* The lot holds a comma and a quote: quote it. */
    snprintf(buf, sizeof buf,
             "kit_number,kit_type,lot,expiry,arm,serial\n%s,%s,\"%s\",2027-01-01,%s,%s\n",
             "K234567890123456789012345678901234567890",
             "T234567890123456789012345678901234567890123456789012345678901234",
             "!\"\"%&'()*+,-./:;<=>?_", "A2345678901234567890123456789012",
             "S23456789_123456789z");
    parse_ok(&m, buf);
    ck_assert_uint_eq(strlen(m.rows[0].kit_number), 40);
    ck_assert_uint_eq(strlen(m.rows[0].kit_type), 64);
    ck_assert_str_eq(m.rows[0].lot, "!\"%&'()*+,-./:;<=>?_");
    ck_assert_uint_eq(strlen(m.rows[0].arm), 32);
    ck_assert_uint_eq(strlen(m.rows[0].serial), 20);
    ctm__manifest_free(&m);
}
END_TEST

START_TEST(test_free_is_harmless)
{
    ctm__manifest m;
    memset(&m, 0, sizeof m);
    ctm__manifest_free(&m);
    ctm__manifest_free(NULL);
    ck_assert_int_eq(ctm__manifest_parse(&m, "junk", 4), CTM_EINVAL);
    ctm__manifest_free(&m);
    ctm__manifest_free(&m);
    ck_assert_int_eq(ctm__manifest_parse(NULL, HDR, strlen(HDR)), CTM_EINVAL);
    ck_assert_int_eq(ctm__manifest_parse(&m, NULL, 3), CTM_EINVAL);
}
END_TEST

/* ---- header ----------------------------------------------------------------------------- */

START_TEST(test_header_rejections)
{
    expect("kit_number,kit_type,lot,expiry,colour\nK1,T,L,2027-01-01,red\n",
           "manifest line 1, column 5: unknown column name 'colour'");
    expect("Kit_Number,kit_type,lot,expiry\nK1,T,L,2027-01-01\n",
           "manifest line 1, column 1: unknown column name 'Kit_Number'");
    expect("kit_number, kit_type,lot,expiry\nK1,T,L,2027-01-01\n",
           "manifest line 1, column 2: unknown column name ' kit_type'");
    expect("kit_number,kit_type,lot,expiry,\nK1,T,L,2027-01-01,\n",
           "manifest line 1, column 5: unknown column name ''");
    expect("kit_number,kit_type,lot,expiry,lot\nK1,T,L,2027-01-01,L\n",
           "manifest line 1, column 5: column lot repeats column 3");
    expect("kit_number,kit_type,lot,expiry,arm,gtin,serial,arm\n",
           "manifest line 1, column 8: column arm repeats column 5");
    expect("kit_number,kit_type,lot\nK1,T,L\n", "manifest line 1: missing column expiry");
    expect("kit_type,lot,expiry\nT,L,2027-01-01\n", "manifest line 1: missing column kit_number");
    expect("K1,T,L,2027-01-01\n",
           "manifest line 1: not a header (no known column name; expected kit_number, kit_type, "
           "lot, expiry and optionally arm, gtin, serial)");
    expect("kit_number,\"kit_type\"x,lot,expiry\n",
           "manifest line 1, column 2: text after the closing quote");
    /* A BOM is skipped only at the very start. */
    expect("\n\xef\xbb\xbf" HDR, "manifest line 1: blank where the header belongs");
    expect("", "manifest: empty (no header)");
    expect(HDR, "manifest: no kits");
    expect("kit_number,kit_type,lot,expiry", "manifest: no kits");
    expect(HDR "\n\n", "manifest: no kits");
    expect("\xef\xbb\xbf", "manifest: empty (no header)");
}
END_TEST

/* ---- CSV structure ---------------------------------------------------------------------- */

START_TEST(test_structure_rejections)
{
    expect(HDR "K1,T,\"LOT\n1\",2027-01-01\n",
           "manifest line 2, field lot: quoted field not closed on its line (no line breaks "
           "inside quotes)");
    expect(HDR "K1,T,\"LOT\r\n1\",2027-01-01\n",
           "manifest line 2, field lot: quoted field not closed on its line (no line breaks "
           "inside quotes)");
    expect(HDR "K1,T,\"LOT\"1,2027-01-01\n", "manifest line 2, field lot: text after the closing quote");
    expect(HDR "K1,T,LO\"T,2027-01-01\n",
           "manifest line 2, field lot: quote character inside an unquoted field");
    expect(HDR "K1,T,L,2027-01-01,\"x\n",
           "manifest line 2: field 5 beyond the header's 4: quoted field not closed on its line "
           "(no line breaks inside quotes)");
    expect(HDR "K1,T,L,2027-01-01\n\nK2,T,L,2027-01-01\n",
           "manifest line 3: blank line inside the manifest");
    expect(HDR "\r\nK2,T,L,2027-01-01\n", "manifest line 2: blank line inside the manifest");
    expect(HDR "K1,T,L\n", "manifest line 2: 3 fields, the header has 4");
    expect(HDR "K1,T,L,2027-01-01,\n", "manifest line 2: 5 fields, the header has 4");
    expect(HDR "K1,T,L,2027-01-01\nK2,T,L,2027-01-01,x,y,z,1,2,3,4,5\n",
           "manifest line 3: 12 fields, the header has 4");
    /* A lone CR is not a line end: it stays in the field. */
    expect(HDR "K1,T,L,2027-01-01\rK2,T,L,2027-01-01\n",
           "manifest line 2: 7 fields, the header has 4");
    expect(HDR "K1,T,L,2027-01-01\r",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD "
           "('2027-01-01\\x0d')");
}
END_TEST

/* ---- field rules ------------------------------------------------------------------------ */

START_TEST(test_field_rejections)
{
    /* empty required fields */
    expect(HDR ",T,L,2027-01-01\n", "manifest line 2, field kit_number: empty");
    expect(HDR "K1,\"\",L,2027-01-01\n", "manifest line 2, field kit_type: empty");
    expect(HDR "K1,T,,2027-01-01\n", "manifest line 2, field lot: empty");
    expect(HDR "K1,T,L,\n", "manifest line 2, field expiry: empty");
    /* spaces are not trimmed, and said so */
    expect(HDR "K1 ,T,L,2027-01-01\n",
           "manifest line 2, field kit_number: begins or ends with a space ('K1 ')");
    expect(HDR "K1,\" T\",L,2027-01-01\n",
           "manifest line 2, field kit_type: begins or ends with a space (' T')");
    expect(HDR "K1,T,L ,2027-01-01\n", "manifest line 2, field lot: begins or ends with a space ('L ')");
    expect(HDR "K1,T,L, 2027-01-01\n",
           "manifest line 2, field expiry: begins or ends with a space (' 2027-01-01')");
    expect("kit_number,kit_type,lot,expiry,serial\nK1,T,L,2027-01-01,S1 \n",
           "manifest line 2, field serial: begins or ends with a space ('S1 ')");
    expect("kit_number,kit_type,lot,expiry,gtin\nK1,T,L,2027-01-01, " GTIN "\n",
           "manifest line 2, field gtin: begins or ends with a space (' " GTIN "')");
    /* character sets */
    expect(HDR "K1,T,L,2027-01-01\nK 2,T,L,2027-01-01\n",
           "manifest line 3, field kit_number: character outside [A-Za-z0-9._/-] ('K 2')");
    expect(HDR "K@1,T,L,2027-01-01\n",
           "manifest line 2, field kit_number: character outside [A-Za-z0-9._/-] ('K@1')");
    expect(HDR "K1,T/1,L,2027-01-01\n",
           "manifest line 2, field kit_type: character outside [A-Za-z0-9._@-] ('T/1')");
    expect(HDR "K1,T,L#1,2027-01-01\n",
           "manifest line 2, field lot: character outside GS1 character set 82 ('L#1')");
    expect(HDR "K1,T,L\xc3\xa9,2027-01-01\n",
           "manifest line 2, field lot: character outside GS1 character set 82 ('L\\xc3\\xa9')");
    expect(HDR "K\x01,T,L,2027-01-01\n",
           "manifest line 2, field kit_number: character outside [A-Za-z0-9._/-] ('K\\x01')");
    expect(HDR "K1,T,L\\',2027-01-01\n",
           "manifest line 2, field lot: character outside GS1 character set 82 ('L\\x5c\\x27')");
    expect("kit_number,kit_type,lot,expiry,serial\nK1,T,L,2027-01-01,S~1\n",
           "manifest line 2, field serial: character outside GS1 character set 82 ('S~1')");
    /* lengths */
    expect(HDR "K2345678901234567890123456789012345678901,T,L,2027-01-01\n",
           "manifest line 2, field kit_number: longer than 40 characters "
           "('K234567890123456789012345678901234567890'...)");
    expect(HDR "K1,T2345678901234567890123456789012345678901234567890123456789012345,L,2027-01-01\n",
           "manifest line 2, field kit_type: longer than 64 characters "
           "('T234567890123456789012345678901234567890'...)");
    expect(HDR "K1,T,L23456789012345678901,2027-01-01\n",
           "manifest line 2, field lot: longer than 20 characters ('L23456789012345678901')");
    expect("kit_number,kit_type,lot,expiry,serial\nK1,T,L,2027-01-01,S23456789012345678901\n",
           "manifest line 2, field serial: longer than 20 characters ('S23456789012345678901')");
    /* expiry */
    expect(HDR "K1,T,L,2027-1-01\n",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD "
           "('2027-1-01')");
    expect(HDR "K1,T,L,2027/01/01\n",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD "
           "('2027/01/01')");
    expect(HDR "K1,T,L,270101\n",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD ('270101')");
    expect(HDR "K1,T,L,2027-0a-01\n",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD "
           "('2027-0a-01')");
    expect(HDR "K1,T,L,+2027101\n",
           "manifest line 2, field expiry: not a date in the form YYYY-MM-DD or YYYYMMDD "
           "('+2027101')");
    expect(HDR "K1,T,L,1999-12-31\n", "manifest line 2, field expiry: year outside 2000-2099 ('1999-12-31')");
    expect(HDR "K1,T,L,21000101\n", "manifest line 2, field expiry: year outside 2000-2099 ('21000101')");
    expect(HDR "K1,T,L,2027-02-29\n", "manifest line 2, field expiry: not a real calendar date ('2027-02-29')");
    expect(HDR "K1,T,L,2027-04-31\n", "manifest line 2, field expiry: not a real calendar date ('2027-04-31')");
    expect(HDR "K1,T,L,2027-13-01\n", "manifest line 2, field expiry: not a real calendar date ('2027-13-01')");
    expect(HDR "K1,T,L,2027-00-10\n", "manifest line 2, field expiry: not a real calendar date ('2027-00-10')");
    expect(HDR "K1,T,L,20270100\n", "manifest line 2, field expiry: not a real calendar date ('20270100')");
    /* gtin */
    expect("kit_number,kit_type,lot,expiry,gtin\nK1,T,L,2027-01-01,09506000134353\n",
           "manifest line 2, field gtin: wrong check digit ('09506000134353')");
    expect("kit_number,kit_type,lot,expiry,gtin\nK1,T,L,2027-01-01,9506000134352\n",
           "manifest line 2, field gtin: not 14 digits ('9506000134352')");
    expect("kit_number,kit_type,lot,expiry,gtin\nK1,T,L,2027-01-01,0950600013435X\n",
           "manifest line 2, field gtin: not 14 digits ('0950600013435X')");
    /* the first bad field in line order is reported */
    expect(HDR "K 1,T,L,2099-99-99\n",
           "manifest line 2, field kit_number: character outside [A-Za-z0-9._/-] ('K 1')");
    expect("expiry,kit_number,kit_type,lot\n2099-99-99,K 1,T,L\n",
           "manifest line 2, field expiry: not a real calendar date ('2099-99-99')");
}
END_TEST

START_TEST(test_arm_rejections)
{
    static const char *const bad[] = {
        "ARM 1", " ARM1", "ARM1 ", "ARM/1", "ARM@1", "A\xc3\xa9",
        "A23456789012345678901234567890123", /* 33 */
    };
    char buf[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf,
                 "kit_number,kit_type,lot,expiry,arm\nK1,T,L,2027-01-01,A\nK2,T,L,2027-01-01,A\n"
                 "K3,T,L,2027-01-01,B\nK4,T,L,2027-01-01,A\nK5,T,L,2027-01-01,B\n"
                 "K6,T,L,2027-01-01,A\nK7,T,L,2027-01-01,%s\n",
                 bad[i]);
        expect(buf, "manifest line 8, field arm: not a valid arm code");
    }
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

START_TEST(test_line_length)
{
    /* A 4096-byte line gets past the length check (and fails on its kit number); 4097 does not. */
    for (size_t len = 4095; len <= 4098; len++) {
        text t = {0};
        text_add(&t, "%sK1,T,L,2027-01-01\n", HDR);
        char *line = malloc(len + 1);
        ck_assert_ptr_nonnull(line);
        memset(line, 'K', len);
        memcpy(line + len - 15, ",T,L,2027-01-01", 15);
        line[len] = '\0';
        text_add(&t, "%s\r\n", line);
        ctm__manifest m;
        ck_assert_int_eq(ctm__manifest_parse(&m, t.p, t.n), CTM_EINVAL);
        if (len <= 4096)
            ck_assert_msg(strstr(ctm_errmsg(), "manifest line 3, field kit_number: longer than 40") ==
                              ctm_errmsg(), "%s", ctm_errmsg());
        else
            ck_assert_str_eq(ctm_errmsg(), "manifest line 3: longer than 4096 bytes");
        free(line);
        free(t.p);
    }
    /* The header is a line like the others. */
    text t = {0};
    text_add(&t, "kit_number,kit_type,lot,expiry,\"");
    for (int i = 0; i < 4100; i++)
        text_add(&t, "x");
    text_add(&t, "\"\nK1,T,L,2027-01-01,x\n");
    expect_error(t.p, t.n, "manifest line 1: longer than 4096 bytes");
    free(t.p);
}
END_TEST

START_TEST(test_kit_count_limit)
{
    text t = {0};
    ctm__manifest m;
    text_kits(&t, 1000000);
    ck_assert_int_eq(ctm__manifest_parse(&m, t.p, t.n), CTM_OK);
    ck_assert_uint_eq(m.n, 1000000);
    ck_assert_uint_eq(m.rows[999999].line, 1000001);
    ck_assert_str_eq(m.rows[999999].kit_number, "K1000000");
    ctm__manifest_free(&m);
    text_add(&t, "K1000001,T,L,2027-01-01\n\n\n");
    expect_error(t.p, t.n, "manifest line 1000002: more than 1000000 kits");
    free(t.p);
}
END_TEST

START_TEST(test_nul_and_utf8)
{
    static const char nul[] = HDR "K1,T,L,2027-01-01\nK2,T,L\0,2027-01-01\n";
    expect_error(nul, sizeof nul - 1, "manifest line 3: NUL byte");
    static const char nul_tail[] = HDR "K1,T,L,2027-01-01\n\n\0";
    expect_error(nul_tail, sizeof nul_tail - 1, "manifest line 4: NUL byte");
    static const char nul_header[] = "kit_number,kit_type,lot\0,expiry\n";
    expect_error(nul_header, sizeof nul_header - 1, "manifest line 1: NUL byte");
    expect(HDR "K1,T,L,2027-01-01\nK2,T,L\xff,2027-01-01\n", "manifest line 3: not valid UTF-8");
    expect(HDR "K1,T,L\xc0\xaf,2027-01-01\n", "manifest line 2: not valid UTF-8");        /* overlong */
    expect(HDR "K1,T,L\xed\xa0\x80,2027-01-01\n", "manifest line 2: not valid UTF-8");    /* surrogate */
    expect(HDR "K1,T,L\xe2\x82,2027-01-01\n", "manifest line 2: not valid UTF-8");        /* cut */
    expect(HDR "K1,T,L,2027-01-01\n\n\xf4\x90\x80\x80", "manifest line 4: not valid UTF-8");
    expect("\xef\xbb" HDR, "manifest line 1: not valid UTF-8");
}
END_TEST

START_TEST(test_binary_junk)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned char buf[600];
    size_t ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        if (iter % 2 == 1) {
            memcpy(buf, HDR_ALL, strlen(HDR_ALL));
            n = strlen(HDR_ALL);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t extra = x % (sizeof buf - n);
        for (size_t i = 0; i < extra; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Bias towards the bytes the grammar cares about. */
            static const char interesting[] = ",\"\n\r0123456789-KTL A";
            buf[n++] = (x >> 8) % 3 == 0 ? (unsigned char)interesting[(x >> 16) % 20]
                                         : (unsigned char)(x >> 24);
        }
        ctm__manifest m;
        int rc = ctm__manifest_parse(&m, (const char *)buf, n);
        ck_assert(rc == CTM_OK || rc == CTM_EINVAL);
        if (rc == CTM_OK) {
            ok++;
            ck_assert_uint_gt(m.n, 0);
        } else {
            ck_assert_uint_gt(strlen(ctm_errmsg()), 0);
            ck_assert_ptr_null(m.rows);
        }
        ctm__manifest_free(&m);
    }
    (void)ok;
}
END_TEST

/* ---- duplicates and speed --------------------------------------------------------------- */

START_TEST(test_duplicates)
{
    expect(HDR "K0011,T,L,2027-01-01\nK0012,T,L,2027-01-01\nK0013,T,L,2027-01-01\n"
               "K0014,T,L,2027-01-01\nK0015,T,L,2027-01-01\nK0016,T,L,2027-01-01\n"
               "K0017,T,L,2027-01-01\n\"K0012\",T2,L2,20280101\n",
           "manifest line 9, field kit_number: 'K0012' repeats line 3");
    /* Kit numbers are case-sensitive: K1 and k1 are different kits. */
    ctm__manifest m;
    parse_ok(&m, HDR "K1,T,L,2027-01-01\nk1,T,L,2027-01-01\n");
    ck_assert_uint_eq(m.n, 2);
    ctm__manifest_free(&m);

    text t = {0};
    text_kits(&t, 100000);
    text_add(&t, "K0050000,TYPE-B,LOT9,2028-01-01\n");
    expect_error(t.p, t.n, "manifest line 100002, field kit_number: 'K0050000' repeats line 50001");
    free(t.p);
}
END_TEST

/* A scan names a kit by kit number or serial: no identifier may name two kits. */
START_TEST(test_duplicate_serials)
{
#define SHDR "kit_number,kit_type,lot,expiry,serial\n"
    expect(SHDR "K1,T,L,2027-01-01,S1\nK2,T,L,2027-01-01,S2\nK3,T,L,2027-01-01,S1\n",
           "manifest line 4, field serial: 'S1' repeats line 2");
    expect(SHDR "K1,T,L,2027-01-01,S1\nK2,T,L,2027-01-01,K1\n",
           "manifest line 3, field serial: 'K1' is the kit number of line 2");
    expect(SHDR "K1,T,L,2027-01-01,S1\nS1,T,L,2027-01-01,S9\n",
           "manifest line 3, field kit_number: 'S1' is the serial of line 2");
    /* serial before kit number in the header changes nothing */
    expect("serial,kit_number,kit_type,lot,expiry\nK2,K1,T,L,2027-01-01\n,K2,T,L,2027-01-01\n",
           "manifest line 3, field kit_number: 'K2' is the serial of line 2");
    /* A serial equal to its own kit number, and empty serials, are fine. */
    ctm__manifest m;
    parse_ok(&m, SHDR "K1,T,L,2027-01-01,K1\nK2,T,L,2027-01-01,\nK3,T,L,2027-01-01,\n"
                      "K4,T,L,2027-01-01,S4\n");
    ck_assert_uint_eq(m.n, 4);
    ck_assert_str_eq(m.rows[0].serial, "K1");
    ck_assert_ptr_null(m.rows[1].serial);
    ctm__manifest_free(&m);
    /* With an arm column the line and field are named, nothing quoted. */
    expect("kit_number,kit_type,lot,expiry,serial,arm\nK1,T,L,2027-01-01,S1,A\n"
           "K2,T,L,2027-01-01,S1,B\n",
           "manifest line 3, field serial: repeats line 2");
    expect("kit_number,kit_type,lot,expiry,serial,arm\nK1,T,L,2027-01-01,S1,A\n"
           "K2,T,L,2027-01-01,K1,B\n",
           "manifest line 3, field serial: is the kit number of line 2");
    /* At scale: the last of 100,000 serials repeats the 50,000th. */
    text t = {0};
    text_add(&t, SHDR);
    for (size_t i = 1; i <= 100000; i++)
        text_add(&t, "K%07zu,T,L,2027-01-01,S%07zu\n", i, i);
    text_add(&t, "K9999999,T,L,2027-01-01,S0050000\n");
    expect_error(t.p, t.n, "manifest line 100002, field serial: 'S0050000' repeats line 50001");
    free(t.p);
#undef SHDR
}
END_TEST

START_TEST(test_speed_100k)
{
    text t = {0};
    ctm__manifest m;
    text_kits(&t, 100000);
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        double t0 = now_ms();
        ck_assert_int_eq(ctm__manifest_parse(&m, t.p, t.n), CTM_OK);
        double dt = now_ms() - t0;
        best = dt < best ? dt : best;
        ck_assert_uint_eq(m.n, 100000);
        ctm__manifest_free(&m);
    }
    /* A loose bound (sanitizers, valgrind): it catches quadratic behaviour, not slow machines. */
    ck_assert_msg(best < 2000, "100,000 rows took %.1f ms", best);
    fprintf(stderr, "manifest: 100,000 rows (%zu bytes) parsed in %.1f ms\n", t.n, best);
    free(t.p);
}
END_TEST

/* ---- blinding --------------------------------------------------------------------------- */

/* No message may hold the arm value, nor any piece of it, nor other parts of its line. */
static void expect_blind(const char *text, size_t len)
{
    ctm__manifest m;
    int rc = ctm__manifest_parse(&m, text, len);
    ck_assert_msg(rc == CTM_EINVAL, "accepted: %s", text);
    const char *msg = ctm_errmsg();
    ck_assert_msg(strstr(msg, "SECRET") == NULL && strstr(msg, "ETARM") == NULL &&
                      strstr(msg, "secret") == NULL && strstr(msg, "ECRE") == NULL,
                  "arm leaked: %s", msg);
    ck_assert_msg(strstr(msg, "KITX") == NULL && strstr(msg, "LOTX") == NULL,
                  "part of an arm's line leaked: %s", msg);
    ck_assert_msg(strncmp(msg, "manifest line ", 14) == 0, "no line named: %s", msg);
    ctm__manifest_free(&m);
}

START_TEST(test_blinding)
{
    /* Broken variants of a line that carries the arm SECRETARM, in every arm position. */
    static const char *const lines[] = {
        "KITX 1,T,LOTX,2027-01-01,SECRETARM",          /* kit_number space */
        "KITX1 ,T,LOTX,2027-01-01,SECRETARM",          /* trailing space */
        "KITX@1,T,LOTX,2027-01-01,SECRETARM",          /* charset */
        "KITX12345678901234567890123456789012345678,T,LOTX,2027-01-01,SECRETARM",
        ",T,LOTX,2027-01-01,SECRETARM",                /* empty */
        "KITX1,T/,LOTX,2027-01-01,SECRETARM",
        "KITX1,T,LOTX#,2027-01-01,SECRETARM",
        "KITX1,T,LOTX123456789012345678,2027-01-01,SECRETARM",
        "KITX1,T,LOTX,2027-02-30,SECRETARM",
        "KITX1,T,LOTX,1999-01-01,SECRETARM",
        "KITX1,T,LOTX,SECRETARM,SECRETARM",            /* arm value in another field */
        "KITX1,T,SECRETARM,20270101,SECRETARM x",
        "KITX1,T,LOTX,2027-01-01,SECRETARM ",          /* arm itself broken */
        "KITX1,T,LOTX,2027-01-01, SECRETARM",
        "KITX1,T,LOTX,2027-01-01,SECRETARM!",
        "KITX1,T,LOTX,2027-01-01,SECRETARMSECRETARMSECRETARMSECRETARM",
        "KITX1,T,LOTX,2027-01-01,SECRET\xc3\xa9",
        "KITX1,T,LOTX,2027-01-01,SECRET\xff",          /* invalid UTF-8 */
        "KITX1,T,LOTX,2027-01-01,\"SECRETARM",         /* unclosed quote */
        "KITX1,T,LOTX,2027-01-01,\"SECRETARM\"x",
        "KITX1,T,LOTX,2027-01-01,SECR\"ETARM",
        "KITX1,T,LOTX,2027-01-01,SECRETARM,extra",     /* field count */
        "KITX1,T,LOTX,SECRETARM",
        "KITX1,T,LOTX,2027-01-01,SECRETARM\r\r",
        "KITX1,T,LOTX,2027-01-01,SECRETARM,\"SECRETARM",
        "KITX0,T,LOTX,2027-01-01,SECRETARM",           /* duplicate kit number */
    };
    char buf[8192];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        /* arm last, as written */
        int n = snprintf(buf, sizeof buf,
                         "kit_number,kit_type,lot,expiry,arm\nKITX0,T,LOTX,2027-01-01,SECRETARM\n"
                         "%s\nKITX9,T,LOTX,2027-01-01,SECRETARM\n",
                         lines[i]);
        expect_blind(buf, (size_t)n);
        /* arm first: the same line with the last field moved to the front */
        const char *comma = strrchr(lines[i], ',');
        n = snprintf(buf, sizeof buf,
                     "arm,kit_number,kit_type,lot,expiry\nSECRETARM,KITX0,T,LOTX,2027-01-01\n"
                     "%s,%.*s\n",
                     comma + 1, (int)(comma - lines[i]), lines[i]);
        expect_blind(buf, (size_t)n);
    }
    /* A NUL and an over-long line that carry the arm. */
    static const char nul[] = "kit_number,kit_type,lot,expiry,arm\nKITX1,T,LOTX\0,2027-01-01,SECRETARM\n";
    expect_blind(nul, sizeof nul - 1);
    text t = {0};
    text_add(&t, "kit_number,kit_type,lot,expiry,arm\nKITX1,T,LOTX,2027-01-01,");
    for (int i = 0; i < 500; i++)
        text_add(&t, "SECRETARM");
    expect_blind(t.p, t.n);
    free(t.p);
    /* Broken lines next to an arm: an error on the next line never shows the previous one. */
    expect_blind("kit_number,kit_type,lot,expiry,arm\nKITX1,T,LOTX,2027-01-01,SECRETARM\n,,,,\n",
                 strlen("kit_number,kit_type,lot,expiry,arm\nKITX1,T,LOTX,2027-01-01,SECRETARM\n"
                        ",,,,\n"));
    /* A headerless file that starts with an arm: line 1 is not quoted either. */
    ctm__manifest m;
    const char *headless = "SECRETARM,KITX1,T,LOTX,2027-01-01\nSECRETARM,KITX2,T,LOTX,2027-01-01\n";
    ck_assert_int_eq(ctm__manifest_parse(&m, headless, strlen(headless)), CTM_EINVAL);
    ck_assert_ptr_null(strstr(ctm_errmsg(), "SECRET"));
    const char *half = "SECRETARM,kit_number,kit_type,lot,expiry\n";
    ck_assert_int_eq(ctm__manifest_parse(&m, half, strlen(half)), CTM_EINVAL);
    /* ...but a header with one known name names its unknown columns (that is the point). */
    ck_assert_str_eq(ctm_errmsg(), "manifest line 1, column 1: unknown column name 'SECRETARM'");
}
END_TEST

START_TEST(test_blinded_messages_name_line_and_field)
{
    /* With an arm column, messages still name the line and field but quote nothing. */
    expect("kit_number,kit_type,lot,expiry,arm\nK1,T,L,2027-01-01,A\nK2,T,L,2027-02-30,B\n",
           "manifest line 3, field expiry: not a real calendar date");
    expect("kit_number,kit_type,lot,expiry,arm\nK1,T,L,2027-01-01,A\nK2,T,L,2027-01-01,\n"
           "K1,T,L,2027-01-01,B\n",
           "manifest line 4, field kit_number: repeats line 2");
    expect("arm,kit_number,kit_type,lot,expiry\n,K1,T,L ,2027-01-01\n",
           "manifest line 2, field lot: begins or ends with a space");
}
END_TEST

static Suite *manifest_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc;

    tc = tcase_create("good");
    tcase_add_test(tc, test_minimal);
    tcase_add_test(tc, test_column_orders);
    tcase_add_test(tc, test_quoting);
    tcase_add_test(tc, test_line_ends_and_bom);
    tcase_add_test(tc, test_field_limits_accepted);
    tcase_add_test(tc, test_free_is_harmless);
    suite_add_tcase(s, tc);

    tc = tcase_create("rejections");
    tcase_add_test(tc, test_header_rejections);
    tcase_add_test(tc, test_structure_rejections);
    tcase_add_test(tc, test_field_rejections);
    tcase_add_test(tc, test_arm_rejections);
    tcase_add_test(tc, test_nul_and_utf8);
    tcase_add_test(tc, test_binary_junk);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_line_length);
    tcase_add_test(tc, test_kit_count_limit);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_duplicate_serials);
    tcase_add_test(tc, test_speed_100k);
    suite_add_tcase(s, tc);

    tc = tcase_create("blinding");
    tcase_add_test(tc, test_blinding);
    tcase_add_test(tc, test_blinded_messages_name_line_and_field);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(manifest_suite());
}
