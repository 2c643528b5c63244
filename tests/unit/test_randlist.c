/* test_randlist.c - randomization lists (CSV): the three formats and their detection, every
 * rejection with its line and field, blockrand's blocks, limits, and arms never in a message. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "randlist.h"
#include "testutil.h"

#define SP "randomization_number,stratum,arm\n"
#define BR "id,stratum,block.id,block.size,treatment\n"
#define KT "kit_number,arm\n"

/* ---- helpers ---------------------------------------------------------------------------- */

static void parse_ok(ctm__randlist *l, enum ctm__randlist_format fmt, const char *text)
{
    int rc = ctm__randlist_parse(l, fmt, text, strlen(text));
    ck_assert_msg(rc == CTM_OK, "rc %d: %s", rc, ctm_errmsg());
}

static void expect_fmt_len(enum ctm__randlist_format fmt, const char *text, size_t len,
                           const char *message)
{
    ctm__randlist l;
    int rc = ctm__randlist_parse(&l, fmt, text, len);
    ck_assert_msg(rc == CTM_EINVAL, "rc %d for: %s", rc, text);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_ptr_null(l.rows);
    ck_assert_ptr_null(l.arena_);
    ctm__randlist_free(&l);
}

/* Refused with this message, whether the format is given or detected. */
static void expect(enum ctm__randlist_format fmt, const char *text, const char *message)
{
    expect_fmt_len(fmt, text, strlen(text), message);
    expect_fmt_len(CTM__RANDLIST_DETECT, text, strlen(text), message);
}

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (t->cap - t->n < 2) {
            t->cap = t->cap * 2 + 4096;
            t->p = realloc(t->p, t->cap);
            ck_assert_ptr_nonnull(t->p);
        }
        va_start(ap, fmt);
        int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(k, 0);
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = t->cap * 2 + (size_t)k;
        t->p = realloc(t->p, t->cap);
        ck_assert_ptr_nonnull(t->p);
    }
}

/* ---- good lists ------------------------------------------------------------------------- */

START_TEST(test_sponsor)
{
    ctm__randlist l;
    parse_ok(&l, CTM__RANDLIST_SPONSOR,
             SP "R001,sex=M,A\nR002,\"sex=F, age 65+\",B_2\nR-3/x.y,,PLACEBO\n");
    ck_assert_int_eq(l.format, CTM__RANDLIST_SPONSOR);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_uint_eq(l.rows[0].line, 2);
    ck_assert_str_eq(l.rows[0].number, "R001");
    ck_assert_str_eq(l.rows[0].stratum, "sex=M");
    ck_assert_str_eq(l.rows[0].arm, "A");
    ck_assert_int_eq(l.rows[0].block_id, 0);
    ck_assert_int_eq(l.rows[0].block_size, 0);
    ck_assert_str_eq(l.rows[1].stratum, "sex=F, age 65+"); /* not trimmed, not split */
    ck_assert_str_eq(l.rows[1].arm, "B_2");
    ck_assert_uint_eq(l.rows[2].line, 4);
    ck_assert_str_eq(l.rows[2].number, "R-3/x.y");
    ck_assert_str_eq(l.rows[2].stratum, ""); /* empty, not NULL */
    ctm__randlist_free(&l);
    /* Any column order, CRLF, a byte order mark, no final line end. */
    parse_ok(&l, CTM__RANDLIST_DETECT, "\xef\xbb\xbf" "arm,randomization_number,stratum\r\nA,1, x \r\nB,2,x");
    ck_assert_int_eq(l.format, CTM__RANDLIST_SPONSOR);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.rows[0].number, "1");
    ck_assert_str_eq(l.rows[0].stratum, " x ");
    ck_assert_str_eq(l.rows[1].arm, "B");
    ctm__randlist_free(&l);
}
END_TEST

/* What R's blockrand() with write.csv() writes: row names under an empty name, strings quoted. */
START_TEST(test_blockrand_r_output)
{
    ctm__randlist l;
    const char *t = "\"\",\"id\",\"stratum\",\"block.id\",\"block.size\",\"treatment\"\r\n"
                    "\"1\",1,\"Male\",1,2,\"A\"\r\n"
                    "\"2\",2,\"Male\",1,2,\"B\"\r\n"
                    "\"3\",3,\"Male\",2,4,\"B\"\r\n"
                    "\"4\",4,\"Male\",2,4,\"A\"\r\n"
                    "\"5\",5,\"Male\",2,4,\"A\"\r\n"
                    "\"6\",6,\"Male\",2,4,\"B\"\r\n"
                    "\"7\",7,\"Female\",1,2,\"B\"\r\n"
                    "\"8\",8,\"Female\",1,2,\"A\"\r\n";
    parse_ok(&l, CTM__RANDLIST_DETECT, t);
    ck_assert_int_eq(l.format, CTM__RANDLIST_BLOCKRAND);
    ck_assert_uint_eq(l.n, 8);
    ck_assert_str_eq(l.rows[0].number, "1");
    ck_assert_str_eq(l.rows[0].stratum, "Male");
    ck_assert_str_eq(l.rows[0].arm, "A");
    ck_assert_int_eq(l.rows[0].block_id, 1);
    ck_assert_int_eq(l.rows[0].block_size, 2);
    ck_assert_int_eq(l.rows[5].block_id, 2);
    ck_assert_int_eq(l.rows[5].block_size, 4);
    ck_assert_str_eq(l.rows[6].stratum, "Female"); /* block.id 1 again: another stratum */
    ck_assert_int_eq(l.rows[6].block_id, 1);
    ck_assert_uint_eq(l.rows[7].line, 9);
    ctm__randlist_free(&l);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_BLOCKRAND, t, strlen(t)), CTM_OK);
    ctm__randlist_free(&l);
    /* Unstratified blockrand() writes no stratum column: one stratum, "". */
    parse_ok(&l, CTM__RANDLIST_BLOCKRAND,
             "id,block.id,block.size,treatment\n1,1,2,A\n2,1,2,B\n3,2,1,A\n");
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.rows[2].stratum, "");
    ck_assert_int_eq(l.rows[2].block_id, 2);
    ctm__randlist_free(&l);
    /* Leading zeros and the largest block.id and block.size. */
    parse_ok(&l, CTM__RANDLIST_BLOCKRAND, BR "x1,s,9007199254740992,1,A\nx2,s,007,1,A\n");
    ck_assert_int_eq(l.rows[0].block_id, 9007199254740992LL);
    ck_assert_int_eq(l.rows[1].block_id, 7);
    ctm__randlist_free(&l);
    text big = {0};
    text_add(&big, BR);
    for (int i = 0; i < 1000; i++)
        text_add(&big, "N%d,s,1,1000,A\n", i);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_BLOCKRAND, big.p, big.n), CTM_OK);
    ck_assert_int_eq(l.rows[999].block_size, 1000);
    ctm__randlist_free(&l);
    free(big.p);
}
END_TEST

START_TEST(test_kits)
{
    ctm__randlist l;
    parse_ok(&l, CTM__RANDLIST_DETECT, "arm,kit_number\nA,K0001\nB,K0002\n");
    ck_assert_int_eq(l.format, CTM__RANDLIST_KITS);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.rows[1].number, "K0002");
    ck_assert_str_eq(l.rows[1].arm, "B");
    ck_assert_ptr_null(l.rows[1].stratum);
    ck_assert_int_eq(l.rows[1].block_id, 0);
    ctm__randlist_free(&l);
    /* Row names from R's write.csv in any format. */
    parse_ok(&l, CTM__RANDLIST_KITS, "\"\",\"kit_number\",\"arm\"\n\"1\",\"K1\",\"A\"\n");
    ck_assert_str_eq(l.rows[0].number, "K1");
    ctm__randlist_free(&l);
}
END_TEST

START_TEST(test_limits_accepted)
{
    ctm__randlist l;
    char buf[1024], stratum[201];
    for (int i = 0; i < 200; i++)
        stratum[i] = (char)(0x20 + i % 95 == '"' ? 'x' : 0x20 + i % 95);
    stratum[200] = '\0';
    /* A stratum with ',' must be quoted; printable ASCII but '"' is fine. */
    snprintf(buf, sizeof buf, SP "%s,\"%s\",%s\n", "K234567890123456789012345678901234567890",
             stratum, "A2345678901234567890123456789012");
    parse_ok(&l, CTM__RANDLIST_SPONSOR, buf);
    ck_assert_uint_eq(strlen(l.rows[0].number), 40);
    ck_assert_str_eq(l.rows[0].stratum, stratum);
    ck_assert_uint_eq(strlen(l.rows[0].arm), 32);
    ctm__randlist_free(&l);
}
END_TEST

START_TEST(test_free_and_arguments)
{
    ctm__randlist l;
    memset(&l, 0, sizeof l);
    ctm__randlist_free(&l);
    ctm__randlist_free(NULL);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_DETECT, "junk", 4), CTM_EINVAL);
    ctm__randlist_free(&l);
    ck_assert_int_eq(ctm__randlist_parse(NULL, CTM__RANDLIST_DETECT, KT, strlen(KT)), CTM_EINVAL);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_KITS, NULL, 3), CTM_EINVAL);
    ck_assert_int_eq(ctm__randlist_parse(&l, (enum ctm__randlist_format)4, KT "K,A\n", 8),
                     CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "randomization list: unknown format 4");
    ck_assert_int_eq(ctm__randlist_parse(&l, (enum ctm__randlist_format)-1, KT "K,A\n", 8),
                     CTM_EINVAL);
    /* Only len bytes are read: the second row is cut off. */
    const char *t = KT "K1,A\nK2,B\n";
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_KITS, t, strlen(KT) + 5), CTM_OK);
    ck_assert_uint_eq(l.n, 1);
    ctm__randlist_free(&l);
}
END_TEST

/* ---- header and detection --------------------------------------------------------------- */

START_TEST(test_detection)
{
    static const char *const all =
        "expected the columns randomization_number, stratum, arm (sponsor); id, stratum, "
        "block.id, block.size, treatment (blockrand); or kit_number, arm (kits)";
    char msg[512];
    snprintf(msg, sizeof msg, "randomization list line 1: not a known header (%s)", all);
    /* Only names that several formats share, or none at all: no format. */
    expect_fmt_len(CTM__RANDLIST_DETECT, "stratum,arm\nx,A\n", strlen("stratum,arm\nx,A\n"), msg);
    expect_fmt_len(CTM__RANDLIST_DETECT, "number,group\n1,A\n", strlen("number,group\n1,A\n"), msg);
    expect_fmt_len(CTM__RANDLIST_DETECT, "R1,A\n", 5, msg);
    /* The first own column decides; the rest must then fit that format. */
    expect_fmt_len(CTM__RANDLIST_DETECT, "kit_number,arm,id\nK,A,1\n", 23,
                   "randomization list line 1, column 3: unknown column name 'id' (a kits list has "
                   "the columns kit_number, arm)");
    expect_fmt_len(CTM__RANDLIST_DETECT, "arm,stratum,id\nA,s,1\n", 21,
                   "randomization list line 1, column 1: unknown column name 'arm' (a blockrand "
                   "list has the columns id, stratum, block.id, block.size, treatment)");
    /* A format given is not second-guessed. */
    expect_fmt_len(CTM__RANDLIST_SPONSOR, KT "K,A\n", strlen(KT "K,A\n"),
                   "randomization list line 1, column 1: unknown column name 'kit_number' (a "
                   "sponsor list has the columns randomization_number, stratum, arm)");
    expect_fmt_len(CTM__RANDLIST_KITS, BR "1,s,1,1,A\n", strlen(BR "1,s,1,1,A\n"),
                   "randomization list line 1: not a header (a kits list has the columns "
                   "kit_number, arm)");
}
END_TEST

START_TEST(test_header_rejections)
{
    expect(CTM__RANDLIST_SPONSOR, "randomization_number,stratum,arm,colour\n1,s,A,red\n",
           "randomization list line 1, column 4: unknown column name 'colour' (a sponsor list "
           "has the columns randomization_number, stratum, arm)");
    expect(CTM__RANDLIST_SPONSOR, "randomization_number,Stratum,arm\n1,s,A\n",
           "randomization list line 1, column 2: unknown column name 'Stratum' (a sponsor list "
           "has the columns randomization_number, stratum, arm)");
    expect(CTM__RANDLIST_KITS, "kit_number, arm\nK,A\n",
           "randomization list line 1, column 2: unknown column name ' arm' (a kits list has the "
           "columns kit_number, arm)");
    /* An empty name is row names only in the first column. */
    expect(CTM__RANDLIST_KITS, "kit_number,,arm\nK,1,A\n",
           "randomization list line 1, column 2: unknown column name '' (a kits list has the "
           "columns kit_number, arm)");
    expect(CTM__RANDLIST_KITS, "kit_number,arm,arm\nK,A,A\n",
           "randomization list line 1, column 3: column arm repeats column 2");
    expect(CTM__RANDLIST_BLOCKRAND, "id,stratum,block.id,block.size,treatment,block.id\n",
           "randomization list line 1, column 6: column block.id repeats column 3");
    expect(CTM__RANDLIST_SPONSOR, "randomization_number,arm\n1,A\n",
           "randomization list line 1: missing column stratum (a sponsor list has the columns "
           "randomization_number, stratum, arm)");
    expect(CTM__RANDLIST_BLOCKRAND, "id,stratum,block.size,treatment\n1,s,1,A\n",
           "randomization list line 1: missing column block.id (a blockrand list has the columns "
           "id, stratum, block.id, block.size, treatment)");
    expect(CTM__RANDLIST_KITS, "kit_number\nK\n",
           "randomization list line 1: missing column arm (a kits list has the columns "
           "kit_number, arm)");
    expect(CTM__RANDLIST_KITS, "kit_number,\"arm\"x\n", "randomization list line 1, column 2: "
           "text after the closing quote");
    expect(CTM__RANDLIST_KITS, "kit_number,arm,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o\n",
           "randomization list line 1: 17 columns (a kits list has the columns kit_number, arm)");
    expect(CTM__RANDLIST_KITS, "", "randomization list: empty (no header)");
    expect(CTM__RANDLIST_KITS, "\xef\xbb\xbf", "randomization list: empty (no header)");
    expect(CTM__RANDLIST_KITS, KT, "randomization list: no rows");
    expect(CTM__RANDLIST_KITS, KT "\n\r\n", "randomization list: no rows");
    expect(CTM__RANDLIST_KITS, "\n" KT "K,A\n",
           "randomization list line 1: blank where the header belongs");
}
END_TEST

/* ---- CSV structure and fields ----------------------------------------------------------- */

START_TEST(test_structure_rejections)
{
    expect(CTM__RANDLIST_KITS, KT "K1,A\n\nK2,B\n",
           "randomization list line 3: blank line inside the randomization list");
    expect(CTM__RANDLIST_KITS, KT "K1\n", "randomization list line 2: 1 fields, the header has 2");
    expect(CTM__RANDLIST_KITS, KT "K1,A,\n", "randomization list line 2: 3 fields, the header has 2");
    expect(CTM__RANDLIST_KITS, KT "K1,\"A\n",
           "randomization list line 2, field arm: quoted field not closed on its line (no line "
           "breaks inside quotes)");
    expect(CTM__RANDLIST_KITS, KT "K\"1,A\n",
           "randomization list line 2, field kit_number: quote character inside an unquoted field");
    expect(CTM__RANDLIST_KITS, KT "K1,A,\"x\"y\n",
           "randomization list line 2: field 3 beyond the header's 2: text after the closing "
           "quote");
    expect(CTM__RANDLIST_KITS, "\"\",kit_number,arm\n\"1\"x,K1,A\n",
           "randomization list line 2, field 1 (row names): text after the closing quote");
}
END_TEST

START_TEST(test_field_rejections)
{
    /* numbers, in each format */
    expect(CTM__RANDLIST_SPONSOR, SP ",s,A\n",
           "randomization list line 2, field randomization_number: empty");
    expect(CTM__RANDLIST_SPONSOR, SP "1,s,A\nR 2,s,A\n",
           "randomization list line 3, field randomization_number: character outside "
           "[A-Za-z0-9._/-]");
    expect(CTM__RANDLIST_BLOCKRAND, BR "1@,s,1,1,A\n",
           "randomization list line 2, field id: character outside [A-Za-z0-9._/-]");
    expect(CTM__RANDLIST_KITS, KT "K2345678901234567890123456789012345678901,A\n",
           "randomization list line 2, field kit_number: longer than 40 characters");
    expect(CTM__RANDLIST_KITS, KT "K\xc3\xa9,A\n",
           "randomization list line 2, field kit_number: character outside [A-Za-z0-9._/-]");
    /* stratum */
    expect(CTM__RANDLIST_SPONSOR, SP "1,\"a\"\"b\",A\n",
           "randomization list line 2, field stratum: character outside printable ASCII, or a "
           "'\"'");
    expect(CTM__RANDLIST_SPONSOR, SP "1,a\tb,A\n",
           "randomization list line 2, field stratum: character outside printable ASCII, or a "
           "'\"'");
    expect(CTM__RANDLIST_SPONSOR, SP "1,\xc3\xa9,A\n",
           "randomization list line 2, field stratum: character outside printable ASCII, or a "
           "'\"'");
    char buf[512];
    snprintf(buf, sizeof buf, SP "1,%0201d,A\n", 0);
    expect(CTM__RANDLIST_SPONSOR, buf,
           "randomization list line 2, field stratum: longer than 200 bytes");
    /* arm */
    expect(CTM__RANDLIST_SPONSOR, SP "1,s,\n", "randomization list line 2, field arm: empty");
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,1,\n",
           "randomization list line 2, field treatment: empty");
    /* block.id and block.size */
    static const char *const bad_id[] = {"0", "-1", "+1", "1.0", " 1", "1 ", "", "x",
                                         "9007199254740993", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_id / sizeof bad_id[0]; i++) {
        snprintf(buf, sizeof buf, BR "1,s,%s,1,A\n", bad_id[i]);
        expect(CTM__RANDLIST_BLOCKRAND, buf, "randomization list line 2, field block.id: not a "
               "whole number from 1 to 9007199254740992 (2^53)");
    }
    static const char *const bad_size[] = {"0", "1001", "-4", "4.0", "", "4 ", "1e3"};
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++) {
        snprintf(buf, sizeof buf, BR "1,s,1,%s,A\n", bad_size[i]);
        expect(CTM__RANDLIST_BLOCKRAND, buf,
               "randomization list line 2, field block.size: not a whole number from 1 to 1000");
    }
    /* The first bad field in line order is reported. */
    expect(CTM__RANDLIST_BLOCKRAND, "block.size,id,stratum,block.id,treatment\n0,,s,0,A\n",
           "randomization list line 2, field block.size: not a whole number from 1 to 1000");
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
        snprintf(buf, sizeof buf, SP "1,s,A\n2,s,B\n3,s,\"%s\"\n", bad[i]);
        expect(CTM__RANDLIST_SPONSOR, buf, "randomization list line 4, field arm: not a valid arm code");
        snprintf(buf, sizeof buf, KT "K1,A\nK2,%s\n", bad[i]);
        expect(CTM__RANDLIST_KITS, buf, "randomization list line 3, field arm: not a valid arm code");
        snprintf(buf, sizeof buf, BR "1,s,1,2,A\n2,s,1,2,%s\n", bad[i]);
        expect(CTM__RANDLIST_BLOCKRAND, buf,
               "randomization list line 3, field treatment: not a valid arm code");
    }
}
END_TEST

START_TEST(test_duplicates)
{
    expect(CTM__RANDLIST_SPONSOR, SP "R1,s,A\nR2,s,A\nR3,s,B\nR2,t,B\n",
           "randomization list line 5, field randomization_number: repeats line 3");
    expect(CTM__RANDLIST_KITS, KT "K1,A\n\"K1\",B\n",
           "randomization list line 3, field kit_number: repeats line 2");
    /* Unique in the whole list, not per stratum; case-sensitive. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,M,1,1,A\n1,F,1,1,A\n",
           "randomization list line 3, field id: repeats line 2");
    ctm__randlist l;
    parse_ok(&l, CTM__RANDLIST_KITS, KT "K1,A\nk1,A\n");
    ctm__randlist_free(&l);
    /* At scale. */
    text t = {0};
    text_add(&t, KT);
    for (int i = 1; i <= 100000; i++)
        text_add(&t, "K%07d,A\n", i);
    text_add(&t, "K0050000,B\n");
    expect_fmt_len(CTM__RANDLIST_KITS, t.p, t.n,
                   "randomization list line 100002, field kit_number: repeats line 50001");
    free(t.p);
}
END_TEST

/* ---- blockrand's blocks ----------------------------------------------------------------- */

START_TEST(test_blocks)
{
    /* A block shorter than its block.size: in the middle, and last. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,4,A\n2,s,1,4,B\n3,s,1,4,A\n4,s,2,2,B\n5,s,2,2,A\n",
           "randomization list line 2, field block.size: 4, but the block has 3 rows (lines 2-4)");
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,2,A\n2,s,1,2,B\n3,s,2,2,A\n",
           "randomization list line 4, field block.size: 2, but the block has 1 row (lines 4-4)");
    /* The last block of a stratum, before the next stratum begins. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,M,1,2,A\n2,M,1,2,B\n3,M,2,2,A\n4,F,1,2,A\n5,F,1,2,B\n",
           "randomization list line 4, field block.size: 2, but the block has 1 row (lines 4-4)");
    /* Longer than its block.size. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,2,A\n2,s,1,2,B\n3,s,1,2,A\n",
           "randomization list line 4, field block.id: one row more than the block.size 2 of the "
           "block that begins on line 2");
    /* block.size must agree within the block. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,2,A\n2,s,1,4,B\n",
           "randomization list line 3, field block.size: differs from line 2, the first of its "
           "block");
    /* A block.id back later in its stratum, consecutive or not. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,1,A\n2,s,2,1,B\n3,s,1,1,A\n",
           "randomization list line 4, field block.id: the block of line 2 again (same stratum "
           "and block.id; a block's rows are consecutive)");
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,M,1,2,A\n2,F,1,2,A\n3,M,1,2,B\n",
           "randomization list line 2, field block.size: 2, but the block has 1 row (lines 2-2)");
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,M,1,1,A\n2,F,1,1,A\n3,M,1,1,B\n",
           "randomization list line 4, field block.id: the block of line 2 again (same stratum "
           "and block.id; a block's rows are consecutive)");
    /* 01 and 1 are the same block. */
    expect(CTM__RANDLIST_BLOCKRAND, BR "1,s,1,1,A\n2,s,01,1,B\n",
           "randomization list line 3, field block.id: one row more than the block.size 1 of the "
           "block that begins on line 2");
    /* Strata differ by any byte: "M" and "M " are two strata. */
    ctm__randlist l;
    parse_ok(&l, CTM__RANDLIST_BLOCKRAND, BR "1,M,1,1,A\n2,M ,1,1,A\n3,m,1,1,B\n");
    ck_assert_uint_eq(l.n, 3);
    ctm__randlist_free(&l);
    /* Many blocks: every stratum reuses block.ids 1..n. */
    text t = {0};
    text_add(&t, BR);
    int id = 0;
    for (int s = 0; s < 50; s++)
        for (int b = 1; b <= 100; b++)
            for (int k = 0; k < 4; k++)
                text_add(&t, "%d,S%d,%d,4,%c\n", ++id, s, b, "ABBA"[k]);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_BLOCKRAND, t.p, t.n), CTM_OK);
    ck_assert_uint_eq(l.n, 20000);
    ctm__randlist_free(&l);
    /* ... and one stratum's block 7 once more at the end. */
    text_add(&t, "%d,S3,7,4,A\n", ++id);
    expect_fmt_len(CTM__RANDLIST_BLOCKRAND, t.p, t.n,
                   "randomization list line 20002, field block.id: the block of line 1226 again "
                   "(same stratum and block.id; a block's rows are consecutive)");
    free(t.p);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

START_TEST(test_line_length)
{
    for (size_t len = 4095; len <= 4097; len++) {
        text t = {0};
        text_add(&t, SP "R1,s,A\nR2,\"");
        for (size_t i = strlen("R2,\"\",A"); i < len; i++)
            text_add(&t, "x");
        text_add(&t, "\",A\r\n");
        ctm__randlist l;
        ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_SPONSOR, t.p, t.n), CTM_EINVAL);
        ck_assert_str_eq(ctm_errmsg(), len <= 4096 ? "randomization list line 3, field stratum: "
                                                     "longer than 200 bytes"
                                                   : "randomization list line 3: longer than 4096 "
                                                     "bytes");
        free(t.p);
    }
}
END_TEST

START_TEST(test_row_limit)
{
    text t = {0};
    ctm__randlist l;
    text_add(&t, KT);
    for (int i = 1; i <= 1000000; i++)
        text_add(&t, "%d,A\n", i);
    ck_assert_int_eq(ctm__randlist_parse(&l, CTM__RANDLIST_KITS, t.p, t.n), CTM_OK);
    ck_assert_uint_eq(l.n, 1000000);
    ck_assert_uint_eq(l.rows[999999].line, 1000001);
    ck_assert_str_eq(l.rows[999999].number, "1000000");
    ctm__randlist_free(&l);
    text_add(&t, "1000001,A\n\n");
    expect_fmt_len(CTM__RANDLIST_KITS, t.p, t.n, "randomization list line 1000002: more than "
                   "1000000 rows");
    free(t.p);
}
END_TEST

START_TEST(test_nul_and_utf8)
{
    static const char nul[] = KT "K1,A\nK2\0,A\n";
    expect_fmt_len(CTM__RANDLIST_KITS, nul, sizeof nul - 1, "randomization list line 3: NUL byte");
    expect(CTM__RANDLIST_KITS, KT "K1,A\xff\n", "randomization list line 2: not valid UTF-8");
    expect(CTM__RANDLIST_KITS, KT "K1,A\n\n\xed\xa0\x80", "randomization list line 4: not valid UTF-8");
}
END_TEST

START_TEST(test_binary_junk)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned char buf[400];
    static const char *const hdr[] = {"", SP, BR, KT};
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = strlen(hdr[iter % 4]);
        memcpy(buf, hdr[iter % 4], n);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t extra = x % (sizeof buf - n);
        for (size_t i = 0; i < extra; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            static const char interesting[] = ",\"\n\r0123456789-KsA1";
            buf[n++] = (x >> 8) % 3 != 0 ? (unsigned char)interesting[(x >> 16) % 19]
                                         : (unsigned char)(x >> 24);
        }
        ctm__randlist l;
        int rc = ctm__randlist_parse(&l, CTM__RANDLIST_DETECT, (const char *)buf, n);
        ck_assert(rc == CTM_OK || rc == CTM_EINVAL);
        if (rc == CTM_OK)
            ck_assert_uint_gt(l.n, 0);
        else
            ck_assert_ptr_null(l.rows);
        ctm__randlist_free(&l);
    }
}
END_TEST

/* ---- blinding --------------------------------------------------------------------------- */

static void expect_blind(enum ctm__randlist_format fmt, const char *text, size_t len)
{
    ctm__randlist l;
    int rc = ctm__randlist_parse(&l, fmt, text, len);
    ck_assert_msg(rc == CTM_EINVAL, "accepted: %s", text);
    const char *msg = ctm_errmsg();
    ck_assert_msg(strstr(msg, "SECRET") == NULL && strstr(msg, "ETARM") == NULL &&
                      strstr(msg, "ECRE") == NULL,
                  "arm leaked: %s", msg);
    ck_assert_msg(strstr(msg, "NUMX") == NULL && strstr(msg, "STRX") == NULL,
                  "part of an arm's line leaked: %s", msg);
    ck_assert_msg(strncmp(msg, "randomization list line ", 24) == 0, "no line named: %s", msg);
    ctm__randlist_free(&l);
}

START_TEST(test_blinding)
{
    /* Broken variants of a sponsor line that carries the arm SECRETARM. */
    static const char *const lines[] = {
        "NUMX 1,STRX,SECRETARM",         "NUMX@1,STRX,SECRETARM",
        ",STRX,SECRETARM",               "NUMX1234567890123456789012345678901234567,STRX,SECRETARM",
        "NUMX1,STRX\t,SECRETARM",        "NUMX1,\"STRX\"\"\",SECRETARM",
        "NUMX0,STRX,SECRETARM",          /* duplicate number */
        "NUMX1,STRX,SECRETARM ",         "NUMX1,STRX, SECRETARM",
        "NUMX1,STRX,SECRETARM!",         "NUMX1,STRX,SECRETARMSECRETARMSECRETARMSECRETARM",
        "NUMX1,STRX,SECRET\xc3\xa9",     "NUMX1,STRX,SECRET\xff",
        "NUMX1,STRX,\"SECRETARM",        "NUMX1,STRX,\"SECRETARM\"x",
        "NUMX1,STRX,SECR\"ETARM",        "NUMX1,STRX,SECRETARM,extra",
        "NUMX1,SECRETARM",               "SECRETARM,STRX,SECRETARM x",
        "NUMX1,STRX,SECRETARM\r\r",      "NUMX1,STRX,SECRETARM,\"SECRETARM",
        "NUMX1,STRX,\"SECRETARM\"\"\"",
    };
    char buf[8192];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        int n = snprintf(buf, sizeof buf, SP "NUMX0,STRX,SECRETARM\n%s\nNUMX9,STRX,SECRETARM\n",
                         lines[i]);
        expect_blind(CTM__RANDLIST_SPONSOR, buf, (size_t)n);
        expect_blind(CTM__RANDLIST_DETECT, buf, (size_t)n);
        /* arm first: the same line with the last field moved to the front */
        const char *comma = strrchr(lines[i], ',');
        n = snprintf(buf, sizeof buf, "arm,randomization_number,stratum\nSECRETARM,NUMX0,STRX\n"
                     "%s,%.*s\n", comma + 1, (int)(comma - lines[i]), lines[i]);
        expect_blind(CTM__RANDLIST_SPONSOR, buf, (size_t)n);
    }
    /* blockrand: broken blocks around the arm, and kits. */
    static const char *const br[] = {
        BR "NUMX1,STRX,1,2,SECRETARM\nNUMX2,STRX,1,3,SECRETARM\n",
        BR "NUMX1,STRX,1,2,SECRETARM\nNUMX2,STRX,1,2,SECRETARM\nNUMX3,STRX,1,2,SECRETARM\n",
        BR "NUMX1,STRX,1,2,SECRETARM\nNUMX2,STRX,2,1,SECRETARM\n",
        BR "NUMX1,STRX,1,1,SECRETARM\nNUMX2,STRX,2,1,SECRETARM\nNUMX3,STRX,1,1,SECRETARM\n",
        BR "NUMX1,STRX,0,1,SECRETARM\n",
        BR "NUMX1,STRX,1,SECRETARM,SECRETARM\n",
        BR "NUMX1,SECRETARM,1,1,SECRETARM\nNUMX1,SECRETARM,2,1,SECRETARM\n",
        BR "NUMX1,STRX,1,2,SECRETARM",
        KT "NUMX1,SECRETARM\nNUMX1,SECRETARM\n",
        KT "NUMX1,SECRETARM\nNUMX2,SECRETARM?\n",
        "\"\",kit_number,arm\n\"SECRETARM\"x,NUMX1,SECRETARM\n",
    };
    for (size_t i = 0; i < sizeof br / sizeof br[0]; i++)
        expect_blind(CTM__RANDLIST_DETECT, br[i], strlen(br[i]));
    static const char nul[] = SP "NUMX1,STRX\0,SECRETARM\n";
    expect_blind(CTM__RANDLIST_SPONSOR, nul, sizeof nul - 1);
    text t = {0};
    text_add(&t, SP "NUMX1,STRX,");
    for (int i = 0; i < 500; i++)
        text_add(&t, "SECRETARM");
    expect_blind(CTM__RANDLIST_SPONSOR, t.p, t.n);
    free(t.p);
    /* A list without its header: line 1 holds an arm and is not quoted. */
    ctm__randlist l;
    static const char *const headless[] = {"NUMX1,STRX,SECRETARM\n", "NUMX1,SECRETARM\n",
                                           "SECRETARM,STRX,NUMX1\n"};
    for (size_t i = 0; i < sizeof headless / sizeof headless[0]; i++)
        for (int fmt = CTM__RANDLIST_DETECT; fmt <= CTM__RANDLIST_KITS; fmt++) {
            ck_assert_int_eq(ctm__randlist_parse(&l, (enum ctm__randlist_format)fmt, headless[i],
                                                 strlen(headless[i])),
                             CTM_EINVAL);
            ck_assert_ptr_null(strstr(ctm_errmsg(), "SECRET"));
            ck_assert_ptr_null(strstr(ctm_errmsg(), "NUMX"));
        }
}
END_TEST

static Suite *randlist_suite(void)
{
    Suite *s = suite_create("randlist");
    TCase *tc;

    tc = tcase_create("good");
    tcase_add_test(tc, test_sponsor);
    tcase_add_test(tc, test_blockrand_r_output);
    tcase_add_test(tc, test_kits);
    tcase_add_test(tc, test_limits_accepted);
    tcase_add_test(tc, test_free_and_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("rejections");
    tcase_add_test(tc, test_detection);
    tcase_add_test(tc, test_header_rejections);
    tcase_add_test(tc, test_structure_rejections);
    tcase_add_test(tc, test_field_rejections);
    tcase_add_test(tc, test_arm_rejections);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_blocks);
    tcase_add_test(tc, test_nul_and_utf8);
    tcase_add_test(tc, test_binary_junk);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_line_length);
    tcase_add_test(tc, test_row_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("blinding");
    tcase_add_test(tc, test_blinding);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(randlist_suite());
}
