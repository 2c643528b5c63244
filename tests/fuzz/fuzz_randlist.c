/* fuzz_randlist.c - libFuzzer target: any bytes, in every format and detected, either parse into
 * a list whose every row obeys its format's rules (numbers unique, blockrand's blocks whole and
 * consecutive), or fail with a message that never holds the arm "SECRETARM" unless line 1 does
 * (only a header's unknown column names are ever quoted); no crash, no leak either way. */
#include "ctm.h"
#include "randlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int only(const char *s, size_t min, size_t max, const char *extra)
{
    size_t n = s == NULL ? 0 : strlen(s);
    if (s == NULL || n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr(extra, c) == NULL)
            return 0;
    }
    return 1;
}

static int stratum_ok(const char *s)
{
    if (s == NULL || strlen(s) > 200)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"')
            return 0;
    return 1;
}

static void check_list(const ctm__randlist *l, enum ctm__randlist_format asked)
{
    if (l->n == 0 || l->rows == NULL || l->format < CTM__RANDLIST_SPONSOR ||
        l->format > CTM__RANDLIST_KITS || (asked != CTM__RANDLIST_DETECT && l->format != asked))
        abort();
    for (size_t i = 0; i < l->n; i++) {
        const ctm__randlist_row *r = &l->rows[i];
        if (r->line < 2 || (i > 0 && r->line <= l->rows[i - 1].line))
            abort();
        if (!only(r->number, 1, 40, "._/-") || !only(r->arm, 1, 32, "._-"))
            abort();
        if (l->format == CTM__RANDLIST_KITS ? r->stratum != NULL : !stratum_ok(r->stratum))
            abort();
        if (l->format == CTM__RANDLIST_BLOCKRAND) {
            if (r->block_id < 1 || r->block_id > 9007199254740992LL || r->block_size < 1 ||
                r->block_size > 1000)
                abort();
        } else if (r->block_id != 0 || r->block_size != 0) {
            abort();
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(l->rows[j].number, r->number) == 0)
                abort();
    }
    if (l->format != CTM__RANDLIST_BLOCKRAND)
        return;
    /* Blocks: runs of equal (stratum, block.id), each exactly block.size long, none twice. */
    for (size_t i = 0; i < l->n;) {
        const ctm__randlist_row *b = &l->rows[i];
        size_t k = (size_t)b->block_size;
        if (i + k > l->n)
            abort();
        for (size_t j = i; j < i + k; j++)
            if (l->rows[j].block_id != b->block_id || l->rows[j].block_size != b->block_size ||
                strcmp(l->rows[j].stratum, b->stratum) != 0)
                abort();
        for (size_t j = 0; j < i; j++)
            if (l->rows[j].block_id == b->block_id && strcmp(l->rows[j].stratum, b->stratum) == 0)
                abort();
        i += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = size > 0 ? memchr(text, '\n', size) : NULL;
    size_t header = nl != NULL ? (size_t)(nl - text) : size;
    int secret_in_header = memmem(text, header, "SECRETARM", 9) != NULL;

    for (int fmt = CTM__RANDLIST_DETECT; fmt <= CTM__RANDLIST_KITS; fmt++) {
        ctm__randlist l;
        int rc = ctm__randlist_parse(&l, (enum ctm__randlist_format)fmt, text, size);
        if (rc == CTM_OK) {
            check_list(&l, (enum ctm__randlist_format)fmt);
        } else {
            if (rc != CTM_EINVAL && rc != CTM_ENOMEM)
                abort();
            if (l.n != 0 || l.rows != NULL || l.arena_ != NULL)
                abort();
            if (ctm_errmsg()[0] == '\0')
                abort();
            if (!secret_in_header && strstr(ctm_errmsg(), "SECRETARM") != NULL)
                abort();
        }
        ctm__randlist_free(&l);
    }
    return 0;
}
