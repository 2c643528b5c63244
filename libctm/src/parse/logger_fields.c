/* logger_fields.c - the fields of a delimited logger file's line (logger_fields.h says the
 * rules). */
#include <ctype.h>
#include <string.h>

#include "logger_fields.h"

char ctm__logger_separator(const char *s, size_t n)
{
    return memchr(s, '\t', n) != NULL ? '\t' : memchr(s, ';', n) != NULL ? ';' : ',';
}

void ctm__logger_trim(ctm__logger_field *f)
{
    while (f->n > 0 && (f->s[0] == ' ' || f->s[0] == '\t' || f->s[0] == '\r'))
        f->s++, f->n--;
    while (f->n > 0 && (f->s[f->n - 1] == ' ' || f->s[f->n - 1] == '\t' || f->s[f->n - 1] == '\r'))
        f->n--;
}

/* A blank before a field or after its closing quote; a tab is one unless it separates. */
static int blank(char c, char sep)
{
    return c == ' ' || (c == '\t' && sep != '\t');
}

int ctm__logger_split(const char *s, size_t n, char sep, ctm__logger_field *f, int max)
{
    int k = 0;
    size_t i = 0;
    for (;;) {
        size_t a = i;
        while (a < n && blank(s[a], sep))
            a++;
        ctm__logger_field cur;
        if (a < n && s[a] == '"') {
            size_t b = a + 1;
            while (b < n && s[b] != '"')
                b++;
            if (b == n)
                return -1;
            cur.s = s + a + 1;
            cur.n = b - a - 1;
            i = b + 1;
            while (i < n && blank(s[i], sep))
                i++;
            if (i < n && s[i] != sep)
                return -1;
        } else {
            size_t b = a;
            while (b < n && s[b] != sep) {
                if (s[b] == '"')
                    return -1;
                b++;
            }
            cur.s = s + a;
            cur.n = b - a;
            i = b;
        }
        ctm__logger_trim(&cur);
        if (k < max)
            f[k] = cur;
        k++;
        if (k > max)
            return k;
        if (i >= n)
            return k;
        i++; /* the separator */
    }
}

int ctm__logger_ieq(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    if (n != w)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != word[i])
            return 0;
    return 1;
}

char ctm__logger_unit_named(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t rest = n - i;
        char c = 0;
        if (rest >= 3 && memcmp(s + i, "\xc2\xb0", 2) == 0) /* a degree sign in UTF-8 */
            c = (char)toupper((unsigned char)s[i + 2]);
        else if (rest >= 2 && (unsigned char)s[i] == 0xb0) /* ... in a Windows code page */
            c = (char)toupper((unsigned char)s[i + 1]);
        if (c == 'C' || c == 'F')
            return c;
    }
    /* a word: (F), [F], degF, Fahrenheit, and the same for C; digits belong to a word, so that
     * a fridge named F1 is not Fahrenheit */
    size_t i = 0;
    while (i < n) {
        while (i < n && !isalnum((unsigned char)s[i]))
            i++;
        size_t a = i;
        while (i < n && isalnum((unsigned char)s[i]))
            i++;
        const char *w = s + a;
        size_t wn = i - a;
        if (ctm__logger_ieq(w, wn, "f") || ctm__logger_ieq(w, wn, "degf") ||
            ctm__logger_ieq(w, wn, "fahrenheit"))
            return 'F';
        if (ctm__logger_ieq(w, wn, "c") || ctm__logger_ieq(w, wn, "degc") ||
            ctm__logger_ieq(w, wn, "celsius"))
            return 'C';
    }
    return 0;
}
