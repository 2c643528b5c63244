/* test_strata.c - stratification factors: the spec and its canonical text, every rejection
 * naming its factor and level, subject values, stratum labels in both forms, the enumeration of
 * strata, minimization weights. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ctm.h"
#include "strata.h"
#include "testutil.h"

#define SPEC "sex=M,F;age=lt65,ge65"

static void parse_ok(ctm__strata *s, const char *spec)
{
    int rc = ctm__strata_parse(s, spec);
    ck_assert_msg(rc == CTM_OK, "%s: %s", spec, ctm_errmsg());
}

static void expect_spec(const char *spec, const char *message)
{
    ctm__strata s, zero;
    memset(&s, 0x5a, sizeof s);
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(ctm__strata_parse(&s, spec), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    ck_assert(memcmp(&s, &zero, sizeof s) == 0);
}

/* ---- the spec --------------------------------------------------------------------------- */

START_TEST(test_parse_and_format)
{
    ctm__strata s, t;
    char buf[CTM__STRATA_TEXT_MAX];
    parse_ok(&s, SPEC);
    ck_assert_int_eq(s.nfactors, 2);
    ck_assert_str_eq(s.f[0].name, "sex");
    ck_assert_int_eq(s.f[0].nlevels, 2);
    ck_assert_str_eq(s.f[0].levels[0], "M");
    ck_assert_str_eq(s.f[0].levels[1], "F");
    ck_assert_str_eq(s.f[1].name, "age");
    ck_assert_str_eq(s.f[1].levels[1], "ge65");
    ck_assert_int_eq(ctm__strata_format(&s, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, SPEC);
    parse_ok(&t, buf);
    ck_assert(memcmp(&s, &t, sizeof s) == 0);
    /* No factor. */
    parse_ok(&s, NULL);
    ck_assert_int_eq(s.nfactors, 0);
    parse_ok(&s, "");
    ck_assert_int_eq(s.nfactors, 0);
    ck_assert_int_eq(ctm__strata_format(&s, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, "");
    /* The same level in two factors; names of every allowed character; case matters. */
    parse_ok(&s, "a=x,y;b=x,y,X;Site_1.b-c=s1,S1");
    ck_assert_int_eq(s.nfactors, 3);
    ck_assert_int_eq(s.f[1].nlevels, 3);
    ck_assert_str_eq(s.f[2].name, "Site_1.b-c");
}
END_TEST

START_TEST(test_limits_accepted)
{
    /* 8 factors of 2 levels, names and levels of 32 characters, and 16 levels x 16 levels x 16. */
    char spec[CTM__STRATA_TEXT_MAX], buf[CTM__STRATA_TEXT_MAX];
    size_t k = 0;
    for (int f = 0; f < 8; f++)
        k += (size_t)snprintf(spec + k, sizeof spec - k, "%sF%031d=%s%031d,L%031d", f ? ";" : "",
                              f, "L", 0, 1);
    ctm__strata s;
    parse_ok(&s, spec);
    ck_assert_int_eq(s.nfactors, 8);
    ck_assert_uint_eq(strlen(s.f[7].name), 32);
    ck_assert_uint_eq(ctm__strata_count(&s), 256);
    ck_assert_int_eq(ctm__strata_format(&s, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, spec);
    /* The largest text of all fits CTM__STRATA_TEXT_MAX; 4096 strata is the most. */
    k = 0;
    for (int f = 0; f < 3; f++) {
        k += (size_t)snprintf(spec + k, sizeof spec - k, "%sF%031d=", f ? ";" : "", f);
        for (int l = 0; l < 16; l++)
            k += (size_t)snprintf(spec + k, sizeof spec - k, "%sL%031d", l ? "," : "", l);
    }
    parse_ok(&s, spec);
    ck_assert_uint_eq(ctm__strata_count(&s), 4096);
    ck_assert_int_eq(ctm__strata_format(&s, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, spec);
}
END_TEST

START_TEST(test_spec_rejections)
{
    expect_spec("sex", "strata: factor 1 'sex': no '=' between the name and the levels");
    expect_spec("sex=M,F;age", "strata: factor 2 'age': no '=' between the name and the levels");
    expect_spec("sex=M,F;", "strata: factor 2: empty");
    expect_spec(";sex=M,F", "strata: factor 1: empty");
    expect_spec("=M,F", "strata: factor 1: name '': empty");
    expect_spec("se x=M,F", "strata: factor 1: name 'se x': character outside [A-Za-z0-9._-]");
    expect_spec("sex =M,F", "strata: factor 1: name 'sex ': character outside [A-Za-z0-9._-]");
    expect_spec("a=x,y;s\xc3\xa9x=M,F",
                "strata: factor 2: name 's\\xc3\\xa9x': character outside [A-Za-z0-9._-]");
    expect_spec("F23456789012345678901234567890123=a,b",
                "strata: factor 1: name 'F23456789012345678901234567890123': longer than 32 "
                "characters");
    expect_spec("sex=M,F;age=a,b;sex=X,Y", "strata: factor 'sex' given twice");
    expect_spec("sex=M", "strata: factor 'sex': 1 level (at least 2)");
    expect_spec("sex=", "strata: factor 'sex': level 1 '': empty");
    expect_spec("sex=M,", "strata: factor 'sex': level 2 '': empty");
    expect_spec("sex=M,,F", "strata: factor 'sex': level 2 '': empty");
    expect_spec("sex=M,F ", "strata: factor 'sex': level 2 'F ': character outside [A-Za-z0-9._-]");
    expect_spec("sex=M,F=G", "strata: factor 'sex': level 2 'F=G': character outside [A-Za-z0-9._-]");
    expect_spec("sex=M,F/G", "strata: factor 'sex': level 2 'F/G': character outside [A-Za-z0-9._-]");
    expect_spec("a=x,y;age=lt65,ge65,ge65", "strata: factor 'age': level 'ge65' given twice");
    expect_spec("a=x,L23456789012345678901234567890123",
                "strata: factor 'a': level 2 'L23456789012345678901234567890123': longer than 32 "
                "characters");
    expect_spec("a=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
                "strata: factor 'a': more than 16 levels");
    expect_spec("a=x,y;b=x,y;c=x,y;d=x,y;e=x,y;f=x,y;g=x,y;h=x,y;i=x,y", "strata: more than 8 factors");
    /* 16 x 16 x 16 x 2 = 8192 strata */
    expect_spec("a=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15;b=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15;"
                "c=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15;d=x,y",
                "strata: 8192 strata (the product of the level counts), more than 4096");
    ck_assert_int_eq(ctm__strata_parse(NULL, SPEC), CTM_EINVAL);
}
END_TEST

START_TEST(test_format_buffer)
{
    ctm__strata s;
    char buf[64];
    parse_ok(&s, SPEC);
    size_t need = strlen(SPEC) + 1;
    ck_assert_int_eq(ctm__strata_format(&s, buf, need), CTM_OK);
    ck_assert_str_eq(buf, SPEC);
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(ctm__strata_format(&s, buf, need - 1), CTM_EINVAL);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(ctm__strata_format(&s, NULL, 0), CTM_EINVAL);
    s.f[1].nlevels = 17; /* not what any parse gives */
    ck_assert_int_eq(ctm__strata_format(&s, buf, sizeof buf), CTM_EINVAL);
    ck_assert_int_eq(ctm__strata_format(NULL, buf, sizeof buf), CTM_EINVAL);
}
END_TEST

/* ---- values ------------------------------------------------------------------------------ */

static void expect_values(const ctm__strata *s, const char *values, const char *message)
{
    int level[CTM__STRATA_MAX_FACTORS];
    ck_assert_int_eq(ctm__strata_values(s, values, level), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
        ck_assert_int_eq(level[i], -1);
}

START_TEST(test_values)
{
    ctm__strata s;
    int level[CTM__STRATA_MAX_FACTORS];
    parse_ok(&s, SPEC);
    ck_assert_int_eq(ctm__strata_values(&s, "sex=F,age=lt65", level), CTM_OK);
    ck_assert_int_eq(level[0], 1);
    ck_assert_int_eq(level[1], 0);
    for (int i = 2; i < CTM__STRATA_MAX_FACTORS; i++)
        ck_assert_int_eq(level[i], -1);
    ck_assert_int_eq(ctm__strata_values(&s, "age=ge65", level), CTM_OK); /* any order, partial */
    ck_assert_int_eq(level[0], -1);
    ck_assert_int_eq(level[1], 1);
    ck_assert_int_eq(ctm__strata_values(&s, "", level), CTM_OK);
    ck_assert_int_eq(level[0], -1);
    ck_assert_int_eq(level[1], -1);
    ck_assert_int_eq(ctm__strata_values(&s, NULL, level), CTM_OK);
    ck_assert_int_eq(level[0], -1);

    expect_values(&s, "sex=M,site=1", "strata values: unknown factor 'site'");
    expect_values(&s, "Sex=M", "strata values: unknown factor 'Sex'");
    expect_values(&s, "sex=M,age=ge65,sex=F", "strata values: factor 'sex' given twice");
    expect_values(&s, "sex=M,sex=M", "strata values: factor 'sex' given twice");
    expect_values(&s, "sex=X", "strata values: factor 'sex': unknown level 'X'");
    expect_values(&s, "sex=m", "strata values: factor 'sex': unknown level 'm'");
    expect_values(&s, "sex=", "strata values: factor 'sex': unknown level ''");
    expect_values(&s, "age=ge65,sex", "strata values: item 2 'sex': no '='");
    expect_values(&s, "sex=M,", "strata values: item 2 '': no '='");
    expect_values(&s, "sex=M;age=lt65", "strata values: factor 'sex': unknown level 'M;age=lt65'");
    expect_values(&s, " sex=M", "strata values: unknown factor ' sex'");
    /* No factor: only nothing. */
    parse_ok(&s, "");
    ck_assert_int_eq(ctm__strata_values(&s, "", level), CTM_OK);
    expect_values(&s, "sex=M", "strata values: unknown factor 'sex'");
}
END_TEST

/* ---- labels ------------------------------------------------------------------------------ */

static void expect_match(const ctm__strata *s, const char *label, const char *message)
{
    int level[CTM__STRATA_MAX_FACTORS];
    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
        level[i] = 7;
    ck_assert_int_eq(ctm__strata_match(s, label, level), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    for (int i = 0; i < s->nfactors; i++)
        ck_assert_int_eq(level[i], -1);
}

START_TEST(test_label_and_match)
{
    ctm__strata s;
    char buf[CTM__STRATA_LABEL_MAX];
    int level[CTM__STRATA_MAX_FACTORS], back[CTM__STRATA_MAX_FACTORS];
    parse_ok(&s, SPEC);
    level[0] = 0;
    level[1] = 1;
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, "sex=M,age=ge65");
    ck_assert_int_eq(ctm__strata_match(&s, buf, back), CTM_OK);
    ck_assert_int_eq(back[0], 0);
    ck_assert_int_eq(back[1], 1);
    ck_assert_int_eq(ctm__strata_match(&s, "age=lt65,sex=F", back), CTM_OK);
    ck_assert_int_eq(back[0], 1);
    ck_assert_int_eq(back[1], 0);
    ck_assert_int_eq(ctm__strata_match(&s, "F/ge65", back), CTM_OK);
    ck_assert_int_eq(back[0], 1);
    ck_assert_int_eq(back[1], 1);

    /* Every factor needs a valid level; the buffer must hold the label. */
    level[1] = -1;
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, sizeof buf), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), "strata: factor 'age': no level (index -1 of 2 levels)");
    ck_assert_str_eq(buf, "");
    level[1] = 2;
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, sizeof buf), CTM_EINVAL);
    level[1] = 1;
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, strlen("sex=M,age=ge65")), CTM_EINVAL);
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, strlen("sex=M,age=ge65") + 1), CTM_OK);

    /* Rejections name the factor or the part, and never quote the label. */
    expect_match(&s, "ge65/M", "stratum label: part 1: not a level of factor 'sex'");
    expect_match(&s, "M/X", "stratum label: part 2: not a level of factor 'age'");
    expect_match(&s, "M", "stratum label: 1 part separated by '/', the strata have 2 factors");
    expect_match(&s, "M/ge65/x", "stratum label: 3 parts separated by '/', the strata have 2 factors");
    expect_match(&s, "M/ge65/", "stratum label: 3 parts separated by '/', the strata have 2 factors");
    expect_match(&s, "", "stratum label: part 1: not a level of factor 'sex'");
    expect_match(&s, "sex=M", "stratum label: factor 'age' missing");
    expect_match(&s, "sex=M,age=ge65,sex=M", "stratum label: factor 'sex' given twice");
    expect_match(&s, "sex=M,SECRET=ge65", "stratum label: item 2: not a factor of the strata");
    expect_match(&s, "sex=SECRET,age=ge65", "stratum label: factor 'sex': not a level of the factor");
    expect_match(&s, "sex=M,SECRET", "stratum label: item 2: no '='");
    expect_match(&s, "sex=M/age=ge65", "stratum label: factor 'sex': not a level of the factor");
    ck_assert_int_eq(ctm__strata_match(&s, NULL, back), CTM_EINVAL);

    /* One factor: the level alone. */
    parse_ok(&s, "site=S01,S02,S03");
    ck_assert_int_eq(ctm__strata_match(&s, "S03", back), CTM_OK);
    ck_assert_int_eq(back[0], 2);
    ck_assert_int_eq(ctm__strata_match(&s, "site=S02", back), CTM_OK);
    ck_assert_int_eq(back[0], 1);
    expect_match(&s, "S01/S02", "stratum label: 2 parts separated by '/', the strata have 1 factor");

    /* No factor: the one stratum's label is "". */
    parse_ok(&s, NULL);
    ck_assert_int_eq(ctm__strata_label(&s, level, buf, sizeof buf), CTM_OK);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(ctm__strata_label(&s, NULL, buf, 1), CTM_OK);
    ck_assert_int_eq(ctm__strata_match(&s, "", back), CTM_OK);
    expect_match(&s, "M", "stratum label: not empty, and the strata have no factor");
}
END_TEST

/* ---- enumeration ------------------------------------------------------------------------- */

START_TEST(test_count_and_nth)
{
    ctm__strata s;
    int level[CTM__STRATA_MAX_FACTORS], back[CTM__STRATA_MAX_FACTORS];
    char buf[CTM__STRATA_LABEL_MAX];

    parse_ok(&s, "sex=M,F;age=lt65,ge65,ge80;site=A,B");
    ck_assert_uint_eq(ctm__strata_count(&s), 12);
    /* First factor slowest, last fastest. */
    static const char *const want[12] = {
        "sex=M,age=lt65,site=A", "sex=M,age=lt65,site=B", "sex=M,age=ge65,site=A",
        "sex=M,age=ge65,site=B", "sex=M,age=ge80,site=A", "sex=M,age=ge80,site=B",
        "sex=F,age=lt65,site=A", "sex=F,age=lt65,site=B", "sex=F,age=ge65,site=A",
        "sex=F,age=ge65,site=B", "sex=F,age=ge80,site=A", "sex=F,age=ge80,site=B",
    };
    for (size_t i = 0; i < 12; i++) {
        ctm__strata_nth(&s, i, level);
        ck_assert_int_eq(ctm__strata_label(&s, level, buf, sizeof buf), CTM_OK);
        ck_assert_str_eq(buf, want[i]);
        ck_assert_int_eq(ctm__strata_match(&s, buf, back), CTM_OK);
        ck_assert(memcmp(level, back, 3 * sizeof level[0]) == 0);
    }
    ctm__strata_nth(&s, 12, level);
    ck_assert_int_eq(level[0], -1);
    ck_assert_int_eq(level[1], -1);
    ck_assert_int_eq(level[2], -1);
    ctm__strata_nth(&s, (size_t)-1, level);
    ck_assert_int_eq(level[0], -1);

    parse_ok(&s, "");
    ck_assert_uint_eq(ctm__strata_count(&s), 1);
    ctm__strata_nth(&s, 0, level); /* writes nothing: no factor */
}
END_TEST

/* ---- weights ----------------------------------------------------------------------------- */

static void expect_weights(const ctm__strata *s, const char *text, const char *message)
{
    double w[CTM__STRATA_MAX_FACTORS];
    ck_assert_int_eq(ctm__strata_weights(s, text, w), CTM_EINVAL);
    ck_assert_str_eq(ctm_errmsg(), message);
    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
        ck_assert(w[i] == 0);
}

START_TEST(test_weights)
{
    ctm__strata s;
    double w[CTM__STRATA_MAX_FACTORS];
    parse_ok(&s, "site=A,B;sex=M,F;age=lt65,ge65");
    ck_assert_int_eq(ctm__strata_weights(&s, "site:1,sex:2,age:0.5", w), CTM_OK);
    ck_assert(w[0] == 1.0 && w[1] == 2.0 && w[2] == 0.5);
    for (int i = 3; i < CTM__STRATA_MAX_FACTORS; i++)
        ck_assert(w[i] == 0);
    ck_assert_int_eq(ctm__strata_weights(&s, "age:100,sex:0.001", w), CTM_OK);
    ck_assert(w[0] == 0 && w[1] == 0.001 && w[2] == 100.0);
    ck_assert_int_eq(ctm__strata_weights(&s, "sex:007.250", w), CTM_OK);
    ck_assert(w[1] == 7.25);

    static const char *const bad[] = {"0", "0.000", "100.001", "101", "-1", "+1", "1.", ".5",
                                      "1.2345", "1e2", "", " 1", "1 ", "1,5", "inf", "nan",
                                      "99999999999999999999"};
    char text[64], msg[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "site:1,sex:%s", bad[i]);
        if (strcmp(bad[i], "1,5") == 0) {
            expect_weights(&s, text, "strata weights: item 3 '5': no ':'");
            continue;
        }
        snprintf(msg, sizeof msg, "strata weights: factor 'sex': weight '%s' is not a number > 0 "
                 "and <= 100 with at most 3 decimals", bad[i]);
        expect_weights(&s, text, msg);
    }
    expect_weights(&s, "", "strata weights: none given (at least one factor)");
    expect_weights(&s, NULL, "strata weights: none given (at least one factor)");
    expect_weights(&s, "site:1,colour:2", "strata weights: unknown factor 'colour'");
    expect_weights(&s, "site:1,site:2", "strata weights: factor 'site' given twice");
    expect_weights(&s, "site=1", "strata weights: item 1 'site=1': no ':'");
    expect_weights(&s, "site:1,", "strata weights: item 2 '': no ':'");
    parse_ok(&s, "");
    expect_weights(&s, "site:1", "strata weights: unknown factor 'site'");
}
END_TEST

static Suite *strata_suite(void)
{
    Suite *s = suite_create("strata");
    TCase *tc;

    tc = tcase_create("spec");
    tcase_add_test(tc, test_parse_and_format);
    tcase_add_test(tc, test_limits_accepted);
    tcase_add_test(tc, test_spec_rejections);
    tcase_add_test(tc, test_format_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("use");
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_label_and_match);
    tcase_add_test(tc, test_count_and_nth);
    tcase_add_test(tc, test_weights);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(strata_suite());
}
