/* fuzz_csv.c - libFuzzer target: the line reader and the field splitter on any bytes.  Every line
 * the reader returns obeys its checks (length, no NUL or line feed, valid UTF-8, numbered in
 * order); every line that splits decodes into at most n + 1 bytes (the exact room given, so
 * AddressSanitizer catches an overrun) and, written back with every field quoted, splits into
 * the same fields again. */
#include "core.h"
#include "csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 512
#define MAX_FIELDS (MAX_LINE + 1)

static void check_line(const char *s, size_t n)
{
    static ctm__csv_field f[MAX_FIELDS], g[MAX_FIELDS];
    static char again[2 * MAX_LINE + 3 * MAX_FIELDS];
    ctm__csv_bad bad;
    size_t nf, ng;
    char *out = malloc(n + 1);
    char *out2 = malloc(sizeof again);

    if (out == NULL || out2 == NULL)
        abort();
    if (ctm__csv_split(s, n, out, f, MAX_FIELDS, &nf, &bad) != 0) {
        if (bad.why == NULL || bad.offset > n || bad.field > n)
            abort();
        free(out);
        free(out2);
        return;
    }
    if (nf < 1 || nf > n + 1)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].s[f[i].len] != '\0' || f[i].s < out || f[i].s + f[i].len + 1 > out + n + 1)
            abort();
        if (i > 0)
            again[k++] = ',';
        again[k++] = '"';
        for (size_t j = 0; j < f[i].len; j++) {
            if (f[i].s[j] == '"')
                again[k++] = '"';
            again[k++] = f[i].s[j];
        }
        again[k++] = '"';
    }
    if (ctm__csv_split(again, k, out2, g, MAX_FIELDS, &ng, &bad) != 0 || ng != nf)
        abort();
    for (size_t i = 0; i < nf; i++)
        if (g[i].len != f[i].len || memcmp(g[i].s, f[i].s, f[i].len) != 0)
            abort();
    free(out);
    free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctm__csv_reader r;
    const char *s;
    size_t n;
    uint64_t last = 0;

    ctm__csv_init(&r, "fuzz", (const char *)data, size, MAX_LINE);
    for (;;) {
        int rc = ctm__csv_next(&r, &s, &n);
        if (rc != CTM_OK) {
            if (rc != CTM_EINVAL || strncmp(ctm_errmsg(), "fuzz", 4) != 0)
                abort();
            break;
        }
        if (s == NULL)
            break;
        if (n < 1 || n > MAX_LINE || r.line <= last || memchr(s, '\0', n) != NULL ||
            memchr(s, '\n', n) != NULL || !ctm__utf8_valid((const uint8_t *)s, n) ||
            s < (const char *)data || s + n > (const char *)data + size)
            abort();
        last = r.line;
        check_line(s, n);
    }
    return 0;
}
