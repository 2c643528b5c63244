/* fuzz_manifest.c - libFuzzer target: any bytes either parse into a manifest whose every row obeys
 * the field rules and whose serials each name one kit, or fail with a message that never quotes
 * the arm "SECRETARM" when the text has an arm column; no crash, no leak either way. */
#include "internal.h"
#include "manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int only(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = s == NULL ? 0 : strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr(extra, c) == NULL)
            return 0;
    }
    return 1;
}

static const char cset82_extra[] = "!\"%&'()*+,-./:;<=>?_";

static int date_ok(const char *s)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || strncmp(s, "20", 2) != 0)
        return 0;
    int mo = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

static void check_row(const ctm__manifest *m, const ctm__manifest_row *r)
{
    if (!only(r->kit_number, 1, 40, "._/-") || !only(r->kit_type, 1, 64, "._@-") ||
        !only(r->lot, 1, 20, cset82_extra) || !date_ok(r->expiry) || r->line < 2)
        abort();
    if ((r->arm != NULL && (!m->has_arm || !only(r->arm, 1, 32, "._-"))) ||
        (r->gtin != NULL && (!m->has_gtin || !only(r->gtin, 14, 14, ""))) ||
        (r->serial != NULL && (!m->has_serial || !only(r->serial, 1, 20, cset82_extra))))
        abort();
}

/* Every identifier names one kit: no serial repeats another row's serial or kit number. */
static void check_identifiers(const ctm__manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *s = m->rows[i].serial;
        for (size_t j = 0; s != NULL && j < m->n; j++) {
            if (j == i)
                continue;
            if (strcmp(s, m->rows[j].kit_number) == 0 ||
                (m->rows[j].serial != NULL && strcmp(s, m->rows[j].serial) == 0))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctm__manifest m;
    const char *text = (const char *)data;
    int rc = ctm__manifest_parse(&m, text, size);
    if (rc == CTM_OK) {
        if (m.n == 0 || m.rows == NULL)
            abort();
        for (size_t i = 0; i < m.n; i++)
            check_row(&m, &m.rows[i]);
        check_identifiers(&m);
    } else {
        if (rc != CTM_EINVAL && rc != CTM_ENOMEM)
            abort();
        if (m.n != 0 || m.rows != NULL || m.arena_ != NULL)
            abort();
        if (ctm_errmsg()[0] == '\0')
            abort();
        /* A valid header holding "arm" has the arm column (no other name contains it), and
         * then no message quotes a data line: an arm found only after line 1 never leaks. */
        const char *nl = size > 0 ? memchr(text, '\n', size) : NULL;
        size_t header = nl != NULL ? (size_t)(nl - text) : size;
        if (memmem(text, header, "arm", 3) != NULL &&
            memmem(text, header, "SECRETARM", 9) == NULL &&
            strstr(ctm_errmsg(), "SECRETARM") != NULL)
            abort();
    }
    ctm__manifest_free(&m);
    return 0;
}
