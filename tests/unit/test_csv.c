/* test_csv.c - the CSV line reader and field splitter the parsers share: quoting, positions of
 * errors, line ends, the byte order mark, blank lines, line checks, quoting for messages. */
#include <check.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"
#include "csv.h"
#include "testutil.h"

/* ---- splitting ---------------------------------------------------------------------------- */

#define MAXF 8

typedef struct split {
    int rc;
    size_t nf;
    ctm__csv_field f[MAXF];
    ctm__csv_bad bad;
    char out[256];
} split;

static void do_split(split *sp, const char *line, size_t maxf)
{
    size_t n = strlen(line);
    memset(sp, 0x5a, sizeof *sp);
    ck_assert_uint_lt(n, sizeof sp->out);
    sp->rc = ctm__csv_split(line, n, sp->out, sp->f, maxf, &sp->nf, &sp->bad);
}

START_TEST(test_split_plain_and_quoted)
{
    split sp;
    do_split(&sp, "a,bc,,\"d,e\",\"\"\"x\"\"\",\"\"", MAXF);
    ck_assert_int_eq(sp.rc, 0);
    ck_assert_uint_eq(sp.nf, 6);
    ck_assert_str_eq(sp.f[0].s, "a");
    ck_assert_str_eq(sp.f[1].s, "bc");
    ck_assert_uint_eq(sp.f[1].len, 2);
    ck_assert_str_eq(sp.f[2].s, "");
    ck_assert_uint_eq(sp.f[2].len, 0);
    ck_assert_str_eq(sp.f[3].s, "d,e");
    ck_assert_str_eq(sp.f[4].s, "\"x\"");
    ck_assert_uint_eq(sp.f[4].len, 3);
    ck_assert_str_eq(sp.f[5].s, "");
    /* Fields are not trimmed; a lone CR is an ordinary byte. */
    do_split(&sp, " a , b\r", MAXF);
    ck_assert_int_eq(sp.rc, 0);
    ck_assert_uint_eq(sp.nf, 2);
    ck_assert_str_eq(sp.f[0].s, " a ");
    ck_assert_str_eq(sp.f[1].s, " b\r");
    /* An empty line is one empty field; a trailing comma adds an empty field. */
    do_split(&sp, "", MAXF);
    ck_assert_int_eq(sp.rc, 0);
    ck_assert_uint_eq(sp.nf, 1);
    ck_assert_uint_eq(sp.f[0].len, 0);
    do_split(&sp, "a,", MAXF);
    ck_assert_uint_eq(sp.nf, 2);
    ck_assert_uint_eq(sp.f[1].len, 0);
}
END_TEST

START_TEST(test_split_counts_beyond_maxf)
{
    split sp;
    do_split(&sp, "a,b,c,d,\"e\"", 2);
    ck_assert_int_eq(sp.rc, 0);
    ck_assert_uint_eq(sp.nf, 5);
    ck_assert_str_eq(sp.f[0].s, "a");
    ck_assert_str_eq(sp.f[1].s, "b");
    /* A quoting error past maxf is still found, with its field. */
    do_split(&sp, "a,b,c,d\"", 2);
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.field, 3);
    ck_assert_uint_eq(sp.bad.offset, 7);
}
END_TEST

START_TEST(test_split_errors_and_positions)
{
    split sp;
    do_split(&sp, "a,\"bc", MAXF);
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.field, 1);
    ck_assert_uint_eq(sp.bad.offset, 2); /* the opening quote */
    ck_assert_str_eq(sp.bad.why, "quoted field not closed on its line (no line breaks inside quotes)");
    do_split(&sp, "\"a\"\"\"", MAXF); /* "a"" then the closing quote: fine */
    ck_assert_int_eq(sp.rc, 0);
    ck_assert_str_eq(sp.f[0].s, "a\"");
    do_split(&sp, "\"a\"\"", MAXF); /* the escaped quote leaves the field open */
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.field, 0);
    do_split(&sp, "x,y,\"ab\"c,d", MAXF);
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.field, 2);
    ck_assert_uint_eq(sp.bad.offset, 8);
    ck_assert_str_eq(sp.bad.why, "text after the closing quote");
    do_split(&sp, "x,a\"b", MAXF);
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.field, 1);
    ck_assert_uint_eq(sp.bad.offset, 3);
    ck_assert_str_eq(sp.bad.why, "quote character inside an unquoted field");
    do_split(&sp, "\"a\" ,b", MAXF); /* a space after the closing quote is text */
    ck_assert_int_eq(sp.rc, -1);
    ck_assert_uint_eq(sp.bad.offset, 3);
}
END_TEST

/* The decoded fields fit in n + 1 bytes, whatever the line: out is never overrun. */
START_TEST(test_split_output_bound)
{
    static const char *const lines[] = {"", ",", ",,,,", "\"\"", "\"\",\"\"", "a", "\"\"\"\""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        size_t n = strlen(lines[i]);
        char *out = malloc(n + 1); /* exactly the promised room: ASan catches an overrun */
        ctm__csv_field f[MAXF];
        size_t nf;
        ctm__csv_bad bad;
        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(ctm__csv_split(lines[i], n, out, f, MAXF, &nf, &bad), 0);
        ck_assert_uint_eq(f[nf - 1].s + f[nf - 1].len + 1 - out <= (ptrdiff_t)(n + 1), 1);
        free(out);
    }
}
END_TEST

/* ---- reading lines ------------------------------------------------------------------------ */

/* All lines of text joined by '|', or the error message prefixed with "ERR ". */
static const char *read_all(const char *text, size_t len, size_t max_line)
{
    static char buf[1024];
    ctm__csv_reader r;
    const char *s;
    size_t n, k = 0;

    ctm__csv_init(&r, "list", text, len, max_line);
    buf[0] = '\0';
    for (;;) {
        if (ctm__csv_next(&r, &s, &n) != CTM_OK) {
            snprintf(buf, sizeof buf, "ERR %s", ctm_errmsg());
            return buf;
        }
        if (s == NULL)
            break;
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%" PRIu64 ":%.*s", k ? "|" : "", r.line,
                              (int)n, s);
    }
    if (r.line == 0)
        return "EMPTY";
    return buf;
}

static const char *read_str(const char *text)
{
    return read_all(text, strlen(text), 100);
}

START_TEST(test_lines_and_ends)
{
    ck_assert_str_eq(read_str("h\na\nb\n"), "1:h|2:a|3:b");
    ck_assert_str_eq(read_str("h\r\na\r\nb"), "1:h|2:a|3:b");
    ck_assert_str_eq(read_str("h\na\rb\r"), "1:h|2:a\rb\r"); /* CR alone is data */
    ck_assert_str_eq(read_str("h\r\r\n"), "1:h\r");
    ck_assert_str_eq(read_str("\xef\xbb\xbfh\na"), "1:h|2:a");
    ck_assert_str_eq(read_str("h\n\xef\xbb\xbf"), "1:h|2:\xef\xbb\xbf"); /* only at the start */
    ck_assert_str_eq(read_str(""), "EMPTY");
    ck_assert_str_eq(read_str("\xef\xbb\xbf"), "EMPTY");
    ck_assert_str_eq(read_all(NULL, 0, 100), "EMPTY");
    /* Only len bytes are read. */
    ck_assert_str_eq(read_all("h\nabc\n", 4, 100), "1:h|2:ab");
    /* Quotes do not join lines: a record is one line. */
    ck_assert_str_eq(read_str("h\n\"a\nb\"\n"), "1:h|2:\"a|3:b\"");
}
END_TEST

START_TEST(test_blank_lines)
{
    ck_assert_str_eq(read_str("h\na\n\n\r\n\n"), "1:h|2:a");
    ck_assert_str_eq(read_str("h\n\n"), "1:h");
    ck_assert_str_eq(read_str("\nh\n"), "ERR list line 1: blank where the header belongs");
    ck_assert_str_eq(read_str("\r\nh\n"), "ERR list line 1: blank where the header belongs");
    ck_assert_str_eq(read_str("h\na\n\n\r\nb\n"), "ERR list line 3: blank line inside the list");
    ck_assert_str_eq(read_str("h\n\na\n"), "ERR list line 2: blank line inside the list");
}
END_TEST

START_TEST(test_line_checks)
{
    /* max_line counts the bytes before the line end, CR of CRLF excluded. */
    ck_assert_str_eq(read_str("h\n" "0123456789" "0123456789" "0123456789" "0123456789"
                              "0123456789" "0123456789" "0123456789" "0123456789"
                              "0123456789" "0123456789\r\n"),
                     "1:h|2:0123456789012345678901234567890123456789012345678901234567890123456789"
                     "012345678901234567890123456789");
    ck_assert_str_eq(read_all("h\n12345\r\n", 9, 5), "1:h|2:12345");
    ck_assert_str_eq(read_all("h\n123456\r\n", 10, 5), "ERR list line 2: longer than 5 bytes");
    ck_assert_str_eq(read_all("h\n1\r2345", 8, 5), "ERR list line 2: longer than 5 bytes");
    static const char nul[] = "h\na\0b\n";
    ck_assert_str_eq(read_all(nul, sizeof nul - 1, 100), "ERR list line 2: NUL byte");
    static const char nul_blank[] = "h\n\n\0";
    ck_assert_str_eq(read_all(nul_blank, sizeof nul_blank - 1, 100), "ERR list line 3: NUL byte");
    ck_assert_str_eq(read_str("h\na\xff\n"), "ERR list line 2: not valid UTF-8");
    ck_assert_str_eq(read_str("h\n\n\xc0\xaf"), "ERR list line 3: not valid UTF-8");
    ck_assert_str_eq(read_str("\xef\xbb"), "ERR list line 1: not valid UTF-8");
    ck_assert_str_eq(read_str("h\na\xc3\xa9\n"), "1:h|2:a\xc3\xa9");
}
END_TEST

START_TEST(test_count_lines)
{
    ck_assert_uint_eq(ctm__csv_count_lines("", 0, 10), 1);
    ck_assert_uint_eq(ctm__csv_count_lines(NULL, 0, 10), 1);
    ck_assert_uint_eq(ctm__csv_count_lines("a", 1, 10), 1);
    ck_assert_uint_eq(ctm__csv_count_lines("a\nb\n", 4, 10), 3);
    ck_assert_uint_eq(ctm__csv_count_lines("\n\n\n\n\n\n", 6, 3), 4); /* stops above the cap */
}
END_TEST

START_TEST(test_quote)
{
    char q[CTM__CSV_QUOTE_SIZE];
    ctm__csv_quote(q, "K 1", 3);
    ck_assert_str_eq(q, "'K 1'");
    ctm__csv_quote(q, "a'\\\x01\xc3\xa9", 6);
    ck_assert_str_eq(q, "'a\\x27\\x5c\\x01\\xc3\\xa9'");
    ctm__csv_quote(q, "", 0);
    ck_assert_str_eq(q, "''");
    char big[100];
    memset(big, 0xff, sizeof big);
    ctm__csv_quote(q, big, sizeof big); /* the worst case fills the documented room */
    ck_assert_uint_eq(strlen(q), 2 + 40 * 4 + 3);
    ck_assert_str_eq(q + strlen(q) - 4, "'...");
    memset(big, 'x', sizeof big);
    ctm__csv_quote(q, big, 40);
    ck_assert_uint_eq(strlen(q), 42);
    ctm__csv_quote(q, big, 41);
    ck_assert_uint_eq(strlen(q), 45);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc;

    tc = tcase_create("split");
    tcase_add_test(tc, test_split_plain_and_quoted);
    tcase_add_test(tc, test_split_counts_beyond_maxf);
    tcase_add_test(tc, test_split_errors_and_positions);
    tcase_add_test(tc, test_split_output_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("reader");
    tcase_add_test(tc, test_lines_and_ends);
    tcase_add_test(tc, test_blank_lines);
    tcase_add_test(tc, test_line_checks);
    tcase_add_test(tc, test_count_lines);
    tcase_add_test(tc, test_quote);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(csv_suite());
}
