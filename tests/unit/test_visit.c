/* test_visit.c - the texts of a visit schedule: windows, a visit's kits and dose levels, each
 * accepted in its documented forms, refused with the field, item and position named, and left
 * empty on failure. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ctm.h"
#include "testutil.h"
#include "visit.h"

/* ---- windows ---------------------------------------------------------------------------- */

static void window_ok(const char *text, int before, int after)
{
    int b = -1, a = -1;
    ck_assert_msg(ctm__window_parse(text, &b, &a) == CTM_OK, "%s: %s", text, ctm_errmsg());
    ck_assert_int_eq(b, before);
    ck_assert_int_eq(a, after);
}

static void window_bad(const char *text, const char *message)
{
    int b = -1, a = -1;
    ck_assert_int_eq(ctm__window_parse(text, &b, &a), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(a, 0);
}

START_TEST(test_window_forms)
{
    window_ok("-3..+3", 3, 3);
    window_ok("-3..3", 3, 3);
    window_ok("0..+7", 0, 7);
    window_ok("-0..0", 0, 0);
    window_ok("-2..+0", 2, 0);
    window_ok("-365..+365", 365, 365);
    window_ok("-007..+1", 7, 1);
    char text[CTM__WINDOW_TEXT_MAX];
    ck_assert_int_eq(ctm__window_format(3, 7, text), CTM_OK);
    ck_assert_str_eq(text, "-3..+7");
    window_ok(text, 3, 7);
    ck_assert_int_eq(ctm__window_format(366, 0, text), CTM_EINVAL);
    ck_assert_str_eq(text, "");
}
END_TEST

START_TEST(test_window_refusals)
{
    window_bad(NULL, "window: missing (give it as -3..+3: days before and after the target day)");
    window_bad("", "window: missing (give it as -3..+3: days before and after the target day)");
    window_bad("-3", "window: '-3' has no '..' between the days before and after (give it as "
                     "-3..+3)");
    window_bad("3..5", "window: position 1: the days before must be 0 or negative ('-3')");
    window_bad("+3..+5", "window: position 1: the days before must be 0 or negative ('-3')");
    window_bad("-3..-1", "window: position 5: the days after must be 0 or positive ('+3')");
    window_bad("..+3", "window: position 1: the days before are missing (give the window as "
                       "-3..+3)");
    window_bad("-3..", "window: position 5: the days after are missing (give the window as "
                       "-3..+3)");
    window_bad("-366..+1", "window: position 2: 366 days before; at most 365");
    window_bad("-1..+400", "window: position 6: 400 days after; at most 365");
    window_bad("-1000..+1", "window: position 2: the days before, '1000', are not 1 to 3 digits");
    window_bad("-a..+1", "window: position 2: the days before, 'a', are not 1 to 3 digits");
    window_bad("-3..+3..+4", "window: position 6: the days after, '3..+4', are not 1 to 3 "
                             "digits");
    window_bad("- 3..+3", "window: position 2: the days before, ' 3', are not 1 to 3 digits");
    window_bad("-3...+3", "window: position 5: the days after, '.+3', are not 1 to 3 digits");
}
END_TEST

/* ---- kits ------------------------------------------------------------------------------- */

static void kits_bad(const char *text, const char *message)
{
    ctm__kit_spec s, zero;
    memset(&s, 0x5a, sizeof s);
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(ctm__kits_parse(&s, text), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert(memcmp(&s, &zero, sizeof s) == 0);
}

START_TEST(test_kits_forms)
{
    ctm__kit_spec s, t;
    char text[CTM__KITS_TEXT_MAX];
    ck_assert_int_eq(ctm__kits_parse(&s, "KT10:1,KT20:2"), CTM_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.item[0].code, "KT10");
    ck_assert_int_eq(s.item[0].count, 1);
    ck_assert_int_eq(s.item[0].dose, 0);
    ck_assert_str_eq(s.item[1].code, "KT20");
    ck_assert_int_eq(s.item[1].count, 2);
    ck_assert_int_eq(ctm__kits_parse(&s, "DOSE:1"), CTM_OK);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.item[0].dose, 1);
    /* dose is the exact word: case matters, as for every code */
    ck_assert_int_eq(ctm__kits_parse(&s, "dose:1,DOSE:3,a.b_c@d-e:100"), CTM_OK);
    ck_assert_int_eq(s.item[0].dose, 0);
    ck_assert_int_eq(s.item[1].dose, 1);
    ck_assert_int_eq(s.item[2].count, 100);
    /* the canonical text parses back to the same spec */
    ck_assert_int_eq(ctm__kits_parse(&s, "KT:007,DOSE:010"), CTM_OK);
    ck_assert_int_eq(ctm__kits_format(&s, text, sizeof text), CTM_OK);
    ck_assert_str_eq(text, "KT:7,DOSE:10");
    ck_assert_int_eq(ctm__kits_parse(&t, text), CTM_OK);
    ck_assert(memcmp(&s, &t, sizeof s) == 0);
    ck_assert_int_eq(ctm__kits_format(&s, text, 5), CTM_EINVAL);
    ck_assert_str_eq(text, "");
    /* 8 items are fine */
    char many[400] = "";
    for (int i = 0; i < 8; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sK%d:1", i ? "," : "", i);
    ck_assert_int_eq(ctm__kits_parse(&s, many), CTM_OK);
    ck_assert_int_eq(s.n, 8);
}
END_TEST

START_TEST(test_kits_refusals)
{
    kits_bad(NULL, "kits: missing (give them as KITTYPE:N,... or DOSE:N)");
    kits_bad("", "kits: missing (give them as KITTYPE:N,... or DOSE:N)");
    kits_bad("KT10", "kits: item 1 at position 1, 'KT10': no ':' between the kit type and the "
                     "number of kits");
    kits_bad("KT10:1,KT20", "kits: item 2 at position 8, 'KT20': no ':' between the kit type "
                            "and the number of kits");
    kits_bad("KT10:0", "kits: item 1 at position 6: the number of kits, '0', must be 1 to 100");
    kits_bad("KT10:101", "kits: item 1 at position 6: the number of kits, '101', must be 1 to "
                         "100");
    kits_bad("KT10:1x", "kits: item 1 at position 6: the number of kits, '1x', must be 1 to 100");
    kits_bad("KT10:-1", "kits: item 1 at position 6: the number of kits, '-1', must be 1 to 100");
    kits_bad("KT10:", "kits: item 1 at position 6: the number of kits, '', must be 1 to 100");
    kits_bad("KT10:1,KT10:2", "kits: item 2 at position 8: 'KT10' given twice");
    kits_bad("DOSE:1,DOSE:2", "kits: item 2 at position 8: 'DOSE' given twice");
    kits_bad("KT10:1,", "kits: item 2 at position 8: empty (give the kits as KITTYPE:N,...)");
    kits_bad(",KT10:1", "kits: item 1 at position 1: empty (give the kits as KITTYPE:N,...)");
    kits_bad(":1", "kits: item 1 at position 1: kit type '': empty");
    kits_bad("K T:1", "kits: item 1 at position 1: kit type 'K T': character outside "
                      "[A-Za-z0-9._@-]");
    kits_bad("A:1,B;C:2", "kits: item 2 at position 5: kit type 'B;C': character outside "
                          "[A-Za-z0-9._@-]");
    char longcode[80];
    memset(longcode, 'K', 65);
    strcpy(longcode + 65, ":1");
    kits_bad(longcode, "kits: item 1 at position 1: kit type 'KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK"
                       "KKKKKKK'...: longer than 64 characters");
    char many[400] = "";
    for (int i = 0; i < 9; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sK%d:1", i ? "," : "", i);
    kits_bad(many, "kits: item 9 at position 41: more than 8 items");
}
END_TEST

/* ---- dose levels ------------------------------------------------------------------------ */

static void levels_bad(const char *text, const char *message)
{
    char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1];
    int n = -1;
    memset(codes, 0x5a, sizeof codes);
    ck_assert_int_eq(ctm__levels_parse(text, codes, &n), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert_int_eq(n, 0);
    for (int i = 0; i < CTM__DOSE_MAX_LEVELS; i++)
        ck_assert_str_eq(codes[i], "");
}

START_TEST(test_levels)
{
    char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1];
    int n = 0;
    ck_assert_int_eq(ctm__levels_parse("KT5,KT10,KT20", codes, &n), CTM_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(codes[0], "KT5");
    ck_assert_str_eq(codes[2], "KT20");
    ck_assert_int_eq(ctm__levels_parse("ONE", codes, &n), CTM_OK);
    ck_assert_int_eq(n, 1);
    levels_bad(NULL, "dose levels: missing (give the kit types, lowest dose first, as "
                     "KT5,KT10,KT20)");
    levels_bad("KT5,KT10,KT5", "dose levels: level 3 at position 10: 'KT5' is level 1 already");
    levels_bad("KT5,DOSE", "dose levels: level 2 at position 5: DOSE names no kit type (it "
                           "stands for a subject's dose level in a visit)");
    levels_bad("KT5,,KT10", "dose levels: level 2 at position 5: kit type '': empty");
    levels_bad("KT5:1", "dose levels: level 1 at position 1: kit type 'KT5:1': character outside "
                        "[A-Za-z0-9._@-]");
    char many[400] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sK%d", i ? "," : "", i);
    levels_bad(many, "dose levels: level 17 at position 55: more than 16 levels");
}
END_TEST

static Suite *visit_suite(void)
{
    Suite *s = suite_create("visit");
    TCase *tc = tu_tcase(s, "window", NULL, NULL, 0);
    tcase_add_test(tc, test_window_forms);
    tcase_add_test(tc, test_window_refusals);
    tc = tu_tcase(s, "kits", NULL, NULL, 0);
    tcase_add_test(tc, test_kits_forms);
    tcase_add_test(tc, test_kits_refusals);
    tc = tu_tcase(s, "levels", NULL, NULL, 0);
    tcase_add_test(tc, test_levels);
    return s;
}

int main(void)
{
    return tu_run_suite(visit_suite());
}
