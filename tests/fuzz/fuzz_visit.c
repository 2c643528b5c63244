/* fuzz_visit.c - libFuzzer target: the input, as text, is tried as a visit window, as a visit's
 * kits and as dose levels.  A window parsed is within 0..365 on each side and formats to a text
 * that parses back to it; kits parsed obey every limit (1 to 8 items, codes of the allowed
 * characters and each once, counts 1 to 100, the DOSE flag exactly on the word) and their
 * canonical text parses back to the same spec; levels parsed are 1 to 16 distinct codes, never
 * DOSE.  A failure leaves its outputs empty and says why.  No crash, no leak either way. */
#include "ctm.h"
#include "visit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int code_ok(const char *s)
{
    size_t n = strnlen(s, CTM__KIT_CODE_MAX + 1);
    if (n < 1 || n > CTM__KIT_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

static void check_window(const char *text)
{
    int b = -1, a = -1, b2 = -1, a2 = -1;
    char canon[CTM__WINDOW_TEXT_MAX];
    if (ctm__window_parse(text, &b, &a) != CTM_OK) {
        if (b != 0 || a != 0 || ctm_errmsg()[0] == '\0')
            abort();
        return;
    }
    if (b < 0 || b > CTM__VISIT_MAX_WINDOW || a < 0 || a > CTM__VISIT_MAX_WINDOW)
        abort();
    if (ctm__window_format(b, a, canon) != CTM_OK || ctm__window_parse(canon, &b2, &a2) != CTM_OK ||
        b2 != b || a2 != a)
        abort();
}

static void check_kits(const char *text)
{
    ctm__kit_spec s, t, zero;
    static char canon[CTM__KITS_TEXT_MAX];
    memset(&zero, 0, sizeof zero);
    if (ctm__kits_parse(&s, text) != CTM_OK) {
        if (memcmp(&s, &zero, sizeof s) != 0 || ctm_errmsg()[0] == '\0')
            abort();
        return;
    }
    if (s.n < 1 || s.n > CTM__VISIT_MAX_KITS)
        abort();
    for (int i = 0; i < s.n; i++) {
        const ctm__kit_item *it = &s.item[i];
        if (!code_ok(it->code) || it->count < 1 || it->count > CTM__VISIT_MAX_COUNT ||
            it->dose != (strcmp(it->code, CTM__VISIT_DOSE) == 0))
            abort();
        for (int j = 0; j < i; j++)
            if (strcmp(s.item[j].code, it->code) == 0)
                abort();
    }
    if (ctm__kits_format(&s, canon, sizeof canon) != CTM_OK || ctm__kits_parse(&t, canon) != CTM_OK ||
        memcmp(&s, &t, sizeof s) != 0)
        abort();
}

static void check_levels(const char *text)
{
    char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1];
    int n = -1;
    if (ctm__levels_parse(text, codes, &n) != CTM_OK) {
        if (n != 0 || ctm_errmsg()[0] == '\0')
            abort();
        for (int i = 0; i < CTM__DOSE_MAX_LEVELS; i++)
            if (codes[i][0] != '\0')
                abort();
        return;
    }
    if (n < 1 || n > CTM__DOSE_MAX_LEVELS)
        abort();
    for (int i = 0; i < n; i++) {
        if (!code_ok(codes[i]) || strcmp(codes[i], CTM__VISIT_DOSE) == 0)
            abort();
        for (int j = 0; j < i; j++)
            if (strcmp(codes[j], codes[i]) == 0)
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
    check_window(text);
    check_kits(text);
    check_levels(text);
    free(text);
    return 0;
}
