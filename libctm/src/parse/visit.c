/* visit.c - a visit's window, the kits a visit dispenses, a trial's dose levels (visit.h).
 *
 * Each text is walked in place by offsets, so that a message can say where in it (1-based
 * position) the fault lies. */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "csv.h"
#include "visit.h"

/* NULL when s[0..n) is a kit type code; else what is wrong. */
static const char *code_problem(const char *s, size_t n)
{
    if (n == 0)
        return "empty";
    if (n > CTM__KIT_CODE_MAX)
        return "longer than 64 characters";
    if (!ctm__alnum_or(s, n, "._@-"))
        return "character outside [A-Za-z0-9._@-]";
    return NULL;
}

/* 1 to 3 decimal digits, all of s[0..n), into *v; -1 when they are not that. */
static int small_number(const char *s, size_t n, int *v)
{
    if (n < 1 || n > 3)
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* ---- the window ---- */

/* One side of a window: s[0..n) at 1-based position pos; sign the one sign it may carry ('-'
 * before, '+' after), which the days before need unless they are 0. */
static int window_side(const char *s, size_t n, size_t pos, char sign, const char *which,
                       int *days)
{
    char q[CTM__CSV_QUOTE_SIZE];
    int signed_ = n > 0 && s[0] == sign;
    if (n == 0)
        return ctm__err(CTM_EINVAL, "window: position %zu: the days %s are missing (give the "
                                    "window as -3..+3)", pos, which);
    if (n > 0 && (s[0] == '-' || s[0] == '+') && !signed_)
        return ctm__err(CTM_EINVAL, "window: position %zu: the days %s must be 0 or %s ('%c3')",
                        pos, which, sign == '-' ? "negative" : "positive", sign);
    ctm__csv_quote(q, s + signed_, n - (size_t)signed_);
    if (small_number(s + signed_, n - (size_t)signed_, days) != 0)
        return ctm__err(CTM_EINVAL, "window: position %zu: the days %s, %s, are not 1 to 3 digits",
                        pos + (size_t)signed_, which, q);
    if (*days > CTM__VISIT_MAX_WINDOW)
        return ctm__err(CTM_EINVAL, "window: position %zu: %d days %s; at most %d",
                        pos + (size_t)signed_, *days, which, CTM__VISIT_MAX_WINDOW);
    if (sign == '-' && !signed_ && *days != 0)
        return ctm__err(CTM_EINVAL, "window: position %zu: the days before must be 0 or "
                                    "negative ('-%d')", pos, *days);
    return CTM_OK;
}

int ctm__window_parse(const char *text, int *before, int *after)
{
    *before = *after = 0;
    if (text == NULL || text[0] == '\0')
        return ctm__err(CTM_EINVAL, "window: missing (give it as -3..+3: days before and after "
                                    "the target day)");
    const char *dots = strstr(text, "..");
    if (dots == NULL) {
        char q[CTM__CSV_QUOTE_SIZE];
        ctm__csv_quote(q, text, strlen(text));
        return ctm__err(CTM_EINVAL, "window: %s has no '..' between the days before and after "
                                    "(give it as -3..+3)", q);
    }
    size_t n1 = (size_t)(dots - text), start2 = n1 + 2;
    int b = 0, a = 0;
    int rc = window_side(text, n1, 1, '-', "before", &b);
    if (rc == CTM_OK)
        rc = window_side(text + start2, strlen(text + start2), start2 + 1, '+', "after", &a);
    if (rc != CTM_OK)
        return rc;
    *before = b;
    *after = a;
    return CTM_OK;
}

int ctm__window_format(int before, int after, char out[CTM__WINDOW_TEXT_MAX])
{
    out[0] = '\0';
    if (before < 0 || before > CTM__VISIT_MAX_WINDOW || after < 0 ||
        after > CTM__VISIT_MAX_WINDOW)
        return ctm__err(CTM_EINVAL, "window: %d days before, %d after: each must be 0 to %d",
                        before, after, CTM__VISIT_MAX_WINDOW);
    snprintf(out, CTM__WINDOW_TEXT_MAX, "-%d..+%d", before, after);
    return CTM_OK;
}

/* ---- kits ---- */

/* The next item of text from *at (an offset) up to ',' or the end: its offset and length; *at
 * moves past the ','.  Zero when the text is used up. */
static int next_item(const char *text, size_t len, size_t *at, int *ended, size_t *off, size_t *n)
{
    if (*ended)
        return 0;
    const char *comma = memchr(text + *at, ',', len - *at);
    *off = *at;
    if (comma == NULL) {
        *n = len - *at;
        *ended = 1;
    } else {
        *n = (size_t)(comma - (text + *at));
        *at += *n + 1;
    }
    return 1;
}

static int kit_item(ctm__kit_spec *s, int k, const char *it, size_t n, size_t pos)
{
    char q[CTM__CSV_QUOTE_SIZE];
    const char *why;
    if (n == 0)
        return ctm__err(CTM_EINVAL, "kits: item %d at position %zu: empty (give the kits as "
                                    "KITTYPE:N,...)", k, pos);
    const char *colon = memchr(it, ':', n);
    if (colon == NULL) {
        ctm__csv_quote(q, it, n);
        return ctm__err(CTM_EINVAL, "kits: item %d at position %zu, %s: no ':' between the kit "
                                    "type and the number of kits", k, pos, q);
    }
    size_t cn = (size_t)(colon - it);
    if ((why = code_problem(it, cn)) != NULL) {
        ctm__csv_quote(q, it, cn);
        return ctm__err(CTM_EINVAL, "kits: item %d at position %zu: kit type %s: %s", k, pos, q,
                        why);
    }
    int count = 0;
    if (small_number(colon + 1, n - cn - 1, &count) != 0 || count < 1 ||
        count > CTM__VISIT_MAX_COUNT) {
        ctm__csv_quote(q, colon + 1, n - cn - 1);
        return ctm__err(CTM_EINVAL, "kits: item %d at position %zu: the number of kits, %s, "
                                    "must be 1 to %d", k, pos + cn + 1, q, CTM__VISIT_MAX_COUNT);
    }
    for (int i = 0; i < s->n; i++)
        if (strlen(s->item[i].code) == cn && memcmp(s->item[i].code, it, cn) == 0) {
            ctm__csv_quote(q, it, cn);
            return ctm__err(CTM_EINVAL, "kits: item %d at position %zu: %s given twice", k, pos,
                            q);
        }
    if (s->n == CTM__VISIT_MAX_KITS)
        return ctm__err(CTM_EINVAL, "kits: item %d at position %zu: more than %d items", k, pos,
                        CTM__VISIT_MAX_KITS);
    ctm__kit_item *item = &s->item[s->n++];
    memcpy(item->code, it, cn);
    item->count = count;
    item->dose = strcmp(item->code, CTM__VISIT_DOSE) == 0;
    return CTM_OK;
}

int ctm__kits_parse(ctm__kit_spec *s, const char *text)
{
    if (s == NULL)
        return ctm__err(CTM_EINVAL, "kits: no spec to fill");
    memset(s, 0, sizeof *s);
    if (text == NULL || text[0] == '\0')
        return ctm__err(CTM_EINVAL, "kits: missing (give them as KITTYPE:N,... or DOSE:N)");
    size_t len = strlen(text), at = 0, off = 0, n = 0;
    int ended = 0, rc = CTM_OK;
    for (int k = 1; rc == CTM_OK && next_item(text, len, &at, &ended, &off, &n); k++)
        rc = kit_item(s, k, text + off, n, off + 1);
    if (rc != CTM_OK)
        memset(s, 0, sizeof *s);
    return rc;
}

int ctm__kits_format(const ctm__kit_spec *s, char *out, size_t n)
{
    size_t k = 0;
    int ok = s != NULL && s->n >= 1 && s->n <= CTM__VISIT_MAX_KITS;
    for (int i = 0; ok && i < s->n; i++) {
        const ctm__kit_item *it = &s->item[i];
        size_t cl = strnlen(it->code, sizeof it->code);
        ok = cl < sizeof it->code && code_problem(it->code, cl) == NULL && it->count >= 1 &&
             it->count <= CTM__VISIT_MAX_COUNT;
        int w = ok ? snprintf(out + k, n - k, "%s%s:%d", i ? "," : "", it->code, it->count) : -1;
        if (w < 0 || (size_t)w >= n - k)
            ok = 0;
        else
            k += (size_t)w;
    }
    if (ok)
        return CTM_OK;
    if (n > 0)
        out[0] = '\0';
    return ctm__err(CTM_EINVAL, "kits: not a parsed spec, or more than %zu bytes", n);
}

/* ---- dose levels ---- */

int ctm__levels_parse(const char *text, char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1],
                      int *n)
{
    char q[CTM__CSV_QUOTE_SIZE];
    *n = 0;
    memset(codes, 0, sizeof(codes[0]) * CTM__DOSE_MAX_LEVELS);
    if (text == NULL || text[0] == '\0')
        return ctm__err(CTM_EINVAL, "dose levels: missing (give the kit types, lowest dose "
                                    "first, as KT5,KT10,KT20)");
    size_t len = strlen(text), at = 0, off = 0, cn = 0;
    int ended = 0, rc = CTM_OK, count = 0;
    const char *why;
    for (int k = 1; rc == CTM_OK && next_item(text, len, &at, &ended, &off, &cn); k++) {
        const char *it = text + off;
        ctm__csv_quote(q, it, cn);
        if ((why = code_problem(it, cn)) != NULL) {
            rc = ctm__err(CTM_EINVAL, "dose levels: level %d at position %zu: kit type %s: %s",
                          k, off + 1, q, why);
            break;
        }
        if (cn == strlen(CTM__VISIT_DOSE) && memcmp(it, CTM__VISIT_DOSE, cn) == 0) {
            rc = ctm__err(CTM_EINVAL, "dose levels: level %d at position %zu: DOSE names no kit "
                                      "type (it stands for a subject's dose level in a visit)",
                          k, off + 1);
            break;
        }
        for (int i = 0; rc == CTM_OK && i < count; i++)
            if (strlen(codes[i]) == cn && memcmp(codes[i], it, cn) == 0)
                rc = ctm__err(CTM_EINVAL, "dose levels: level %d at position %zu: %s is level "
                                          "%d already", k, off + 1, q, i + 1);
        if (rc == CTM_OK && count == CTM__DOSE_MAX_LEVELS)
            rc = ctm__err(CTM_EINVAL, "dose levels: level %d at position %zu: more than %d "
                                      "levels", k, off + 1, CTM__DOSE_MAX_LEVELS);
        if (rc == CTM_OK)
            memcpy(codes[count++], it, cn);
    }
    if (rc != CTM_OK) {
        memset(codes, 0, sizeof(codes[0]) * CTM__DOSE_MAX_LEVELS);
        return rc;
    }
    *n = count;
    return CTM_OK;
}
