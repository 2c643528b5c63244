/* csv.c - RFC 4180 lines: the line reader and the field splitter the CSV parsers share. */
#include <inttypes.h>
#include <string.h>

#include "core.h"
#include "csv.h"

int ctm__csv_split(const char *s, size_t n, char *out, ctm__csv_field *f, size_t maxf, size_t *nf,
                   ctm__csv_bad *bad)
{
    size_t i = 0, k = 0, at = 0;

    for (;;) {
        char *start = out;
        if (i < n && s[i] == '"') {
            at = i;
            for (i++;; i++) {
                if (i >= n) {
                    bad->why = "quoted field not closed on its line (no line breaks inside quotes)";
                    goto fail;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"')
                        i++;
                    else
                        break;
                }
                *out++ = s[i];
            }
            i++; /* the closing quote */
            if (i < n && s[i] != ',') {
                at = i;
                bad->why = "text after the closing quote";
                goto fail;
            }
        } else {
            for (; i < n && s[i] != ','; i++) {
                if (s[i] == '"') {
                    at = i;
                    bad->why = "quote character inside an unquoted field";
                    goto fail;
                }
                *out++ = s[i];
            }
        }
        if (k < maxf) {
            f[k].s = start;
            f[k].len = (size_t)(out - start);
            *out++ = '\0';
        } else {
            out = start;
        }
        k++;
        if (i >= n)
            break;
        i++; /* the comma */
    }
    *nf = k;
    return 0;
fail:
    bad->field = k;
    bad->offset = at;
    return -1;
}

void ctm__csv_init(ctm__csv_reader *r, const char *what, const char *text, size_t len,
                   size_t max_line)
{
    memset(r, 0, sizeof *r);
    r->what = what;
    r->text = text;
    r->len = text == NULL ? 0 : len;
    r->max_line = max_line;
    if (r->len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
}

/* Checks that come before any splitting: none of them quotes the line. */
static int line_error(const ctm__csv_reader *r, const char *s, size_t n)
{
    if (n > r->max_line)
        return ctm__err(CTM_EINVAL, "%s line %" PRIu64 ": longer than %zu bytes", r->what, r->line,
                        r->max_line);
    if (memchr(s, '\0', n) != NULL)
        return ctm__err(CTM_EINVAL, "%s line %" PRIu64 ": NUL byte", r->what, r->line);
    if (!ctm__utf8_valid((const uint8_t *)s, n))
        return ctm__err(CTM_EINVAL, "%s line %" PRIu64 ": not valid UTF-8", r->what, r->line);
    return CTM_OK;
}

int ctm__csv_next(ctm__csv_reader *r, const char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    while (r->pos < r->len) {
        const char *s = r->text + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t n = nl != NULL ? (size_t)(nl - s) : r->len - r->pos;
        r->pos += n + (nl != NULL);
        if (nl != NULL && n > 0 && s[n - 1] == '\r')
            n--;
        r->line++;
        int rc = line_error(r, s, n);
        if (rc != CTM_OK)
            return rc;
        if (n == 0) {
            if (r->line == 1)
                return ctm__err(CTM_EINVAL, "%s line 1: blank where the header belongs", r->what);
            if (r->blank_ == 0)
                r->blank_ = r->line;
            continue;
        }
        if (r->blank_ != 0)
            return ctm__err(CTM_EINVAL, "%s line %" PRIu64 ": blank line inside the %s", r->what,
                            r->blank_, r->what);
        *line = s;
        *len = n;
        return CTM_OK;
    }
    return CTM_OK;
}

size_t ctm__csv_count_lines(const char *text, size_t len, size_t cap)
{
    size_t lines = 1;
    if (len == 0)
        return lines; /* text may be NULL, and NULL + 0 is undefined */
    for (const char *at = text, *end = text + len;
         lines <= cap && (at = memchr(at, '\n', (size_t)(end - at))) != NULL; at++)
        lines++;
    return lines;
}

void ctm__csv_quote(char out[CTM__CSV_QUOTE_SIZE], const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, take = n < CTM__CSV_QUOTE_MAX ? n : CTM__CSV_QUOTE_MAX;

    out[k++] = '\'';
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out[k++] = (char)c;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 0xf];
        }
    }
    out[k++] = '\'';
    if (take < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}
