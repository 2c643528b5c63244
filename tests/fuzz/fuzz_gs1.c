/* fuzz_gs1.c - libFuzzer target for GS1 element strings: any bytes either fail with a message free
 * of control bytes, or parse to fields whose JSON is valid and whose bracketed rendering parses
 * back to the same fields and expiry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctm.h"

/* ---- a small JSON validator: enough to show the rendering is never broken ---- */

static const char *json_value(const char *s, int depth);

static const char *json_string(const char *s)
{
    if (*s++ != '"')
        return NULL;
    for (; *s != '"'; s++) {
        if ((unsigned char)*s < 0x20)
            return NULL; /* includes the end of the text */
        if (*s != '\\')
            continue;
        s++;
        if (*s == 'u') {
            for (int i = 1; i <= 4; i++) {
                if (s[i] == '\0' || strchr("0123456789abcdefABCDEF", s[i]) == NULL)
                    return NULL;
            }
            s += 4;
        } else if (*s == '\0' || strchr("\"\\/bfnrt", *s) == NULL) {
            return NULL;
        }
    }
    return s + 1;
}

/* Members of an object or array after its opening bracket, through the closing one. */
static const char *json_members(const char *s, char close, int depth)
{
    if (*s == close)
        return s + 1;
    for (;;) {
        if (close == '}') {
            s = json_string(s);
            if (s == NULL || *s++ != ':')
                return NULL;
        }
        s = json_value(s, depth + 1);
        if (s == NULL)
            return NULL;
        if (*s == close)
            return s + 1;
        if (*s++ != ',')
            return NULL;
    }
}

static const char *json_value(const char *s, int depth)
{
    if (depth > 32)
        return NULL;
    switch (*s) {
    case '{': return json_members(s + 1, '}', depth);
    case '[': return json_members(s + 1, ']', depth);
    case '"': return json_string(s);
    case 'n': return strncmp(s, "null", 4) == 0 ? s + 4 : NULL;
    default: return NULL; /* the GS1 rendering has no numbers or booleans */
    }
}

static void assert_json(const char *s)
{
    const char *end = s ? json_value(s, 0) : NULL;
    if (end == NULL || *end != '\0')
        abort();
}

/* ---- the target ---- */

/* "(AI)value..." with '(' in values written "\(", as the bracketed form wants; malloc'd. */
static char *bracketed(const ctm_gs1 *g)
{
    size_t cap = 1;
    for (int i = 0; i < ctm_gs1_count(g); i++)
        cap += strlen(ctm_gs1_ai(g, i)) + 2 * strlen(ctm_gs1_value(g, i)) + 2;
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        abort();
    for (int i = 0; i < ctm_gs1_count(g); i++) {
        *o++ = '(';
        for (const char *p = ctm_gs1_ai(g, i); *p; p++)
            *o++ = *p;
        *o++ = ')';
        for (const char *p = ctm_gs1_value(g, i); *p; p++) {
            if (*p == '(')
                *o++ = '\\';
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void assert_same(const ctm_gs1 *a, const ctm_gs1 *b)
{
    if (ctm_gs1_count(a) != ctm_gs1_count(b) || !same_text(ctm_gs1_expiry(a), ctm_gs1_expiry(b)))
        abort();
    for (int i = 0; i < ctm_gs1_count(a); i++) {
        if (!same_text(ctm_gs1_ai(a, i), ctm_gs1_ai(b, i)) ||
            !same_text(ctm_gs1_value(a, i), ctm_gs1_value(b, i)))
            abort();
    }
}

static void assert_clean_message(void)
{
    for (const unsigned char *p = (const unsigned char *)ctm_errmsg(); *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = malloc(size + 1);
    ctm_gs1 *g = NULL, *again = NULL;
    char *json = NULL;

    if (input == NULL)
        abort();
    memcpy(input, data, size);
    input[size] = '\0'; /* bytes after a NUL are simply not seen, as for any C string */
    if (ctm_gs1_parse(&g, input) != CTM_OK) {
        if (g != NULL || ctm_errmsg()[0] == '\0')
            abort();
        assert_clean_message();
        free(input);
        return 0;
    }
    if (ctm_gs1_json(&json, g) != CTM_OK)
        abort();
    assert_json(json);
    char *text = bracketed(g);
    /* Brackets and escapes make the rendering longer than the scan; past the limit it is
     * rightly refused. */
    if (strlen(text) <= 512) {
        if (ctm_gs1_parse(&again, text) != CTM_OK)
            abort();
        assert_same(g, again);
    }
    ctm_free(json);
    free(text);
    ctm_gs1_free(again);
    ctm_gs1_free(g);
    free(input);
    return 0;
}
