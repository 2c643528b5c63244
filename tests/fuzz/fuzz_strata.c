/* fuzz_strata.c - libFuzzer target: the input's first line is a strata spec.  A spec that parses
 * obeys every limit and formats to a canonical text that parses back to the same strata and
 * formats the same again; the rest of the input is then tried as a subject's values, as a
 * stratum label and as minimization weights: every result stays within its bounds, a label
 * matched round-trips through ctm__strata_label, and a failure leaves its output empty.  No
 * crash, no leak either way. */
#include "ctm.h"
#include "strata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int name_ok(const char *s)
{
    size_t n = strnlen(s, CTM__STRATA_MAX_NAME + 1);
    if (n < 1 || n > CTM__STRATA_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void check_strata(const ctm__strata *s)
{
    size_t product = 1;
    if (s->nfactors < 0 || s->nfactors > CTM__STRATA_MAX_FACTORS)
        abort();
    for (int i = 0; i < s->nfactors; i++) {
        const ctm__factor *f = &s->f[i];
        if (!name_ok(f->name) || f->nlevels < 2 || f->nlevels > CTM__STRATA_MAX_LEVELS)
            abort();
        for (int j = 0; j < i; j++)
            if (strcmp(s->f[j].name, f->name) == 0)
                abort();
        for (int l = 0; l < f->nlevels; l++) {
            if (!name_ok(f->levels[l]))
                abort();
            for (int m = 0; m < l; m++)
                if (strcmp(f->levels[m], f->levels[l]) == 0)
                    abort();
        }
        product *= (size_t)f->nlevels;
    }
    if (product > CTM__STRATA_MAX_STRATA || product != ctm__strata_count(s))
        abort();
}

static void check_levels(const ctm__strata *s, const int *level, int rc, int all)
{
    for (int i = 0; i < s->nfactors; i++) {
        if (rc != CTM_OK && level[i] != -1)
            abort();
        if (level[i] < -1 || level[i] >= s->f[i].nlevels || (rc == CTM_OK && all && level[i] < 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *rest = strchr(text, '\n');
    if (rest != NULL)
        *rest++ = '\0';
    else
        rest = text + strlen(text);

    ctm__strata s, t;
    static char canon[CTM__STRATA_TEXT_MAX], again[CTM__STRATA_TEXT_MAX];
    if (ctm__strata_parse(&s, text) != CTM_OK) {
        if (s.nfactors != 0 || ctm_errmsg()[0] == '\0')
            abort();
        free(text);
        return 0;
    }
    check_strata(&s);
    if (ctm__strata_format(&s, canon, sizeof canon) != CTM_OK ||
        ctm__strata_parse(&t, canon) != CTM_OK || memcmp(&s, &t, sizeof s) != 0 ||
        ctm__strata_format(&t, again, sizeof again) != CTM_OK || strcmp(canon, again) != 0)
        abort();

    int level[CTM__STRATA_MAX_FACTORS], back[CTM__STRATA_MAX_FACTORS];
    char label[CTM__STRATA_LABEL_MAX];
    int rc = ctm__strata_values(&s, rest, level);
    check_levels(&s, level, rc, 0);
    for (int i = s.nfactors; i < CTM__STRATA_MAX_FACTORS; i++)
        if (level[i] != -1)
            abort();

    rc = ctm__strata_match(&s, rest, level);
    check_levels(&s, level, rc, 1);
    if (rc == CTM_OK) {
        if (ctm__strata_label(&s, level, label, sizeof label) != CTM_OK ||
            ctm__strata_match(&s, label, back) != CTM_OK ||
            memcmp(level, back, (size_t)s.nfactors * sizeof level[0]) != 0)
            abort();
    }

    double w[CTM__STRATA_MAX_FACTORS];
    rc = ctm__strata_weights(&s, rest, w);
    int named = 0;
    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++) {
        if (w[i] < 0 || w[i] > 100 || (rc != CTM_OK && w[i] != 0) ||
            (i >= s.nfactors && w[i] != 0))
            abort();
        named += w[i] > 0;
    }
    if (rc == CTM_OK && named == 0)
        abort();

    /* A stratum picked by the input's length enumerates, labels and matches back. */
    size_t n = ctm__strata_count(&s);
    ctm__strata_nth(&s, size % n, level);
    check_levels(&s, level, CTM_OK, 1);
    if (ctm__strata_label(&s, level, label, sizeof label) != CTM_OK ||
        ctm__strata_match(&s, label, back) != CTM_OK ||
        memcmp(level, back, (size_t)s.nfactors * sizeof level[0]) != 0)
        abort();
    free(text);
    return 0;
}
