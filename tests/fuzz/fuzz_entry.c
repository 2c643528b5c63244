/* fuzz_entry.c - libFuzzer target: the decoder is strict and canonical (decode(encode(x)) == x byte for
 * byte) for entry versions 1 and 2, the streaming decoder (verify's, for large entries) gives the
 * same verdict and reason on every input, and both JSON renderings of any decoded entry are valid
 * JSON. */
#include "entry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A minimal RFC 8259 validator: just enough to prove the renderer never emits broken JSON. */
struct json_cursor {
    const char *s;
    int depth;
};

static int json_element(struct json_cursor *c);

static int json_string_ok(struct json_cursor *c)
{
    const unsigned char *s = (const unsigned char *)c->s;
    if (*s++ != '"')
        return 0;
    while (*s != '"') {
        if (*s < 0x20)
            return 0;
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (strchr("0123456789abcdefABCDEF", s[i]) == NULL || s[i] == '\0')
                        return 0;
                s += 4;
            } else if (*s == '\0' || strchr("\"\\/bfnrt", *s) == NULL) {
                return 0;
            }
        }
        s++;
    }
    c->s = (const char *)s + 1;
    return 1;
}

static int json_number_ok(struct json_cursor *c)
{
    const char *s = c->s;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        if (*++s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    c->s = s;
    return 1;
}

/* Object (close '}') or array (close ']') members, after the opening bracket. */
static int json_members(struct json_cursor *c, char close)
{
    if (++c->depth > 64)
        return 0;
    if (*c->s == close) {
        c->s++;
        c->depth--;
        return 1;
    }
    for (;;) {
        if (close == '}' && (!json_string_ok(c) || *c->s++ != ':'))
            return 0;
        if (!json_element(c))
            return 0;
        if (*c->s == close) {
            c->s++;
            c->depth--;
            return 1;
        }
        if (*c->s++ != ',')
            return 0;
    }
}

static int json_element(struct json_cursor *c)
{
    switch (*c->s) {
    case '{':
        c->s++;
        return json_members(c, '}');
    case '[':
        c->s++;
        return json_members(c, ']');
    case '"':
        return json_string_ok(c);
    case 'n':
        if (strncmp(c->s, "null", 4) != 0)
            return 0;
        c->s += 4;
        return 1;
    default:
        return json_number_ok(c);
    }
}

static void assert_json(const char *s)
{
    struct json_cursor c = {s, 0};
    if (s == NULL || !json_element(&c) || *c.s != '\0')
        abort();
}

/* Blinds every other column so both rendering paths run. */
static int redact_odd(const char *table, const char *column, void *ctx)
{
    (void)ctx;
    return (strlen(table) + strlen(column)) % 2 == 1;
}

/* The input served to the streaming decoder as from storage. */
struct source {
    const uint8_t *p;
    size_t n;
};

static int source_fill(void *ctx, uint8_t *buf, size_t n, size_t offset)
{
    const struct source *s = ctx;
    if (offset > s->n || n > s->n - offset)
        abort(); /* the decoder asked for bytes the entry does not have */
    memcpy(buf, s->p + offset, n);
    return 0;
}

static int counted(void *ctx, const ctm__row_change *c)
{
    (void)c;
    ++*(uint32_t *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctm__entry e;
    ctm__buf b;
    char why[128];

    /* The header reader the log's filters use reads any bytes safely, and what it reads of a
     * valid entry is what the decoder reads. */
    ctm__entry_head h;
    int head = ctm__entry_head_read(data, size, &h);
    int whole = ctm__entry_decode(&e, data, size, why, sizeof why);
    char why_streamed[128];
    struct source src = {data, size};
    uint32_t seen = 0;
    ctm__entry streamed;
    int stream = ctm__entry_decode_stream(&streamed, size, source_fill, &src, counted, &seen,
                                          why_streamed, sizeof why_streamed);
    if (stream != whole || (whole != 0 && strcmp(why, why_streamed) != 0) ||
        (whole == 0 && (seen != e.nchanges || streamed.nchanges != e.nchanges ||
                        streamed.has_esig != e.has_esig || strcmp(streamed.user, e.user) != 0)))
        abort();
    ctm__entry_free(&streamed);
    if (whole != 0)
        return 0;
    if (head != 0 || h.version != e.version || h.time_us != e.time_us ||
        h.user_len != strlen(e.user) || memcmp(h.user, e.user, h.user_len) != 0 ||
        h.action_len != strlen(e.action) || memcmp(h.action, e.action, h.action_len) != 0)
        abort();
    ctm__buf_init(&b);
    if (ctm__entry_encode(&b, &e) != 0 || b.n != size || memcmp(b.p, data, size) != 0)
        abort();
    /* The same entry in the other version (1 without a salt, 2 with one) must encode and decode
     * back to itself: both layouts are exercised whichever one the input has. */
    ctm__entry other = e, back;
    other.version = e.version == CTM_ENTRY_VERSION ? CTM_ENTRY_VERSION_LEGACY : CTM_ENTRY_VERSION;
    ctm__buf ob;
    ctm__buf_init(&ob);
    if (ctm__entry_encode(&ob, &other) != 0 ||
        ob.n != (other.version == CTM_ENTRY_VERSION ? size + CTM_ENTRY_SALT_LEN : size - CTM_ENTRY_SALT_LEN) ||
        ctm__entry_decode(&back, ob.p, ob.n, why, sizeof why) != 0 || back.version != other.version ||
        back.nchanges != e.nchanges || back.nparams != e.nparams || back.has_esig != e.has_esig ||
        strcmp(back.action, e.action) != 0)
        abort();
    ctm__entry_free(&back);
    ctm__buf_free(&ob);
    char *params = ctm__entry_params_json(&e);
    char *changes = ctm__entry_changes_json(&e, redact_odd, NULL);
    assert_json(params);
    assert_json(changes);
    free(params);
    free(changes);
    ctm__buf_free(&b);
    ctm__entry_free(&e);
    return 0;
}
