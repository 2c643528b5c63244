/* note.c - C2SP signed-note and tlog-checkpoint with Ed25519 keys. */
#include "note.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Go's sumdb/note refuses more; a cap keeps verification cost bounded for hostile input. */
#define MAX_SIGNATURES 100
#define SIG_BLOB_SIZE (4 + crypto_sign_BYTES)
/* "— " opens every signature line: U+2014 EM DASH then a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN (sizeof sig_prefix - 1)
/* The extension line by which a checkpoint names the one before it (docs/audit-format.md 6.1). */
#define PREVIOUS_PREFIX "previous "
#define PREVIOUS_PREFIX_LEN (sizeof PREVIOUS_PREFIX - 1)

/* ---- text validation -------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (code point in *cp), 0 if ill-formed. */
static size_t utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2, c = s[0] & 0x1fu, min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3, c = s[0] & 0x0fu, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4, c = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
    if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        return 0;
    *cp = c;
    return n;
}

/* Control characters are Unicode's (general category Cc): C0, DEL and C1, U+0000-U+001F and
 * U+007F-U+009F; the one definition for note text and key names (docs/audit-format.md 6.2). */
static int is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

static int is_unicode_space(uint32_t c)
{
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Key names: well-formed UTF-8 without spaces, controls or '+' (which delimits vkey fields). */
static int name_valid_n(const char *name, size_t len)
{
    const uint8_t *s = (const uint8_t *)name;
    size_t i = 0, n;
    uint32_t c;

    if (len == 0)
        return 0;
    while (i < len) {
        n = utf8_next(s + i, len - i, &c);
        if (n == 0 || is_control(c) || c == ' ' || c == '+' || is_unicode_space(c))
            return 0;
        i += n;
    }
    return 1;
}

int ctm__note_name_valid(const char *name)
{
    return name != NULL && name_valid_n(name, strlen(name));
}

/* Note text: non-empty well-formed UTF-8 ending in '\n', no control character but '\n'. */
static int text_valid_n(const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, n;
    uint32_t c;

    if (len == 0 || text[len - 1] != '\n')
        return 0;
    while (i < len) {
        n = utf8_next(s + i, len - i, &c);
        if (n == 0 || (is_control(c) && c != '\n'))
            return 0;
        i += n;
    }
    return 1;
}

/* ---- keys ------------------------------------------------------------------------------- */

static uint32_t keyid_n(const char *name, size_t len, const uint8_t pub[32])
{
    static const uint8_t sep[2] = {'\n', CTM_NOTE_ALG_ED25519};
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, len);
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pub, crypto_sign_PUBLICKEYBYTES);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

uint32_t ctm__note_keyid(const char *name, const uint8_t pub[32])
{
    return keyid_n(name, strlen(name), pub);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int b64_alphabet_only(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return 0;
    }
    return 1;
}

/* Strict standard base64 of exactly [b64, b64 + len) into out; decoded length or -1. */
static long b64_decode(uint8_t *out, size_t cap, const char *b64, size_t len)
{
    const char *end = NULL;
    size_t n = 0;

    /* libsodium 1.0.18 decodes some bytes >= 0x80 as base64 digits (found by fuzzing), so the
     * alphabet is checked here first. */
    if (len == 0 || !b64_alphabet_only(b64, len) ||
        sodium_base642bin(out, cap, b64, len, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + len)
        return -1;
    return (long)n;
}

char *ctm__note_vkey(const char *name, const uint8_t pub[32])
{
    uint8_t key[1 + crypto_sign_PUBLICKEYBYTES];
    char b64[sodium_base64_ENCODED_LEN(sizeof key, sodium_base64_VARIANT_ORIGINAL)];
    static const char hex[] = "0123456789abcdef";
    uint32_t id;
    size_t nlen, blen;
    char *out, *p;

    if (!ctm__note_name_valid(name))
        return NULL;
    key[0] = CTM_NOTE_ALG_ED25519;
    memcpy(key + 1, pub, crypto_sign_PUBLICKEYBYTES);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    nlen = strlen(name);
    blen = strlen(b64);
    out = malloc(nlen + 1 + 8 + 1 + blen + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, name, nlen);
    p = out + nlen;
    *p++ = '+';
    id = keyid_n(name, nlen, pub);
    for (int shift = 28; shift >= 0; shift -= 4)
        *p++ = hex[(id >> shift) & 0xf];
    *p++ = '+';
    memcpy(p, b64, blen + 1);
    return out;
}

/* Exactly 8 lowercase hex digits, the only form ctm__note_vkey writes (as Go's %08x). */
static int parse_hex32(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;

    if (len != 8)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint32_t)(c - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

int ctm__note_vkey_parse(const char *vkey, char **name, uint8_t pub[32])
{
    uint8_t key[1 + crypto_sign_PUBLICKEYBYTES + 1];
    const char *plus1, *plus2;
    uint32_t id;
    size_t nlen;

    *name = NULL;
    if (vkey == NULL || (plus1 = strchr(vkey, '+')) == NULL ||
        (plus2 = strchr(plus1 + 1, '+')) == NULL)
        return -1;
    nlen = (size_t)(plus1 - vkey);
    if (!name_valid_n(vkey, nlen) || parse_hex32(plus1 + 1, (size_t)(plus2 - plus1 - 1), &id) != 0)
        return -1;
    /* One spare byte in key[] so that an over-long key is seen rather than truncated. */
    if (b64_decode(key, sizeof key, plus2 + 1, strlen(plus2 + 1)) != 1 + crypto_sign_PUBLICKEYBYTES ||
        key[0] != CTM_NOTE_ALG_ED25519 || keyid_n(vkey, nlen, key + 1) != id)
        return -1;
    *name = malloc(nlen + 1);
    if (*name == NULL)
        return -1;
    memcpy(*name, vkey, nlen);
    (*name)[nlen] = '\0';
    memcpy(pub, key + 1, crypto_sign_PUBLICKEYBYTES);
    return 0;
}

/* ---- signing ---------------------------------------------------------------------------- */

char *ctm__note_sign(const char *text, const char *name, const uint8_t sk[64])
{
    uint8_t blob[SIG_BLOB_SIZE];
    char b64[sodium_base64_ENCODED_LEN(SIG_BLOB_SIZE, sodium_base64_VARIANT_ORIGINAL)];
    size_t tlen, nlen, blen;
    char *note;

    if (text == NULL || !ctm__note_name_valid(name))
        return NULL;
    tlen = strlen(text);
    if (!text_valid_n(text, tlen))
        return NULL;
    nlen = strlen(name);
    /* libsodium's secret key is seed || public key. */
    put_be32(blob, keyid_n(name, nlen, sk + crypto_sign_SEEDBYTES));
    if (crypto_sign_detached(blob + 4, NULL, (const uint8_t *)text, tlen, sk) != 0)
        return NULL;
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    blen = strlen(b64);
    note = malloc(tlen + 1 + SIG_PREFIX_LEN + nlen + 1 + blen + 2);
    if (note == NULL)
        return NULL;
    memcpy(note, text, tlen);
    note[tlen] = '\n';
    memcpy(note + tlen + 1, sig_prefix, SIG_PREFIX_LEN);
    memcpy(note + tlen + 1 + SIG_PREFIX_LEN, name, nlen);
    note[tlen + 1 + SIG_PREFIX_LEN + nlen] = ' ';
    memcpy(note + tlen + 2 + SIG_PREFIX_LEN + nlen, b64, blen);
    memcpy(note + tlen + 2 + SIG_PREFIX_LEN + nlen + blen, "\n", 2);
    return note;
}

char *ctm__note_cosign(const char *note, const char *name, const uint8_t sk[64])
{
    char *text = ctm__note_text(note);
    if (text == NULL)
        return NULL;
    size_t tlen = strlen(text), nlen = strlen(note);
    unsigned lines = 0;
    /* the signature block: after the text and the blank line, whole lines only */
    for (size_t i = tlen + 1; i < nlen; i++)
        lines += note[i] == '\n';
    char *signed_text = NULL, *out = NULL;
    if (nlen > tlen + 1 && note[nlen - 1] == '\n' && lines < MAX_SIGNATURES)
        signed_text = ctm__note_sign(text, name, sk);
    if (signed_text != NULL) {
        /* ctm__note_sign made text "\n" line: keep the line only */
        const char *line = signed_text + tlen + 1;
        size_t llen = strlen(line);
        out = malloc(nlen + llen + 1);
        if (out != NULL) {
            memcpy(out, note, nlen);
            memcpy(out + nlen, line, llen + 1);
        }
    }
    free(signed_text);
    free(text);
    return out;
}

/* ---- verification ----------------------------------------------------------------------- */

struct verify_ctx {
    const char *text;        /* signed text, [text, text + text_len) */
    size_t text_len;
    const char *name;        /* the key we check */
    size_t name_len;
    uint32_t keyid;
    const uint8_t *pub;
    uint8_t *scratch;        /* decoded signature blobs; as large as the signature block */
    size_t scratch_cap;
    int verified;            /* a line of our key checked out */
};

/*
 * One signature line, without its '\n'.  0 if well-formed (whether or not it is ours), -1 if
 * malformed or if it claims to be ours and does not verify: a forged line for a trusted key
 * condemns the note even when another line is good.
 */
static int check_sig_line(struct verify_ctx *v, const char *line, size_t len)
{
    const char *name, *space;
    size_t name_len;
    long n;

    if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
        return -1;
    name = line + SIG_PREFIX_LEN;
    space = memchr(name, ' ', len - SIG_PREFIX_LEN);
    if (space == NULL)
        return -1;
    name_len = (size_t)(space - name);
    if (!name_valid_n(name, name_len))
        return -1;
    n = b64_decode(v->scratch, v->scratch_cap, space + 1, len - SIG_PREFIX_LEN - name_len - 1);
    /* A key id and at least one byte of signature, whatever the other signer's algorithm. */
    if (n < 5)
        return -1;
    if (name_len != v->name_len || memcmp(name, v->name, name_len) != 0 ||
        get_be32(v->scratch) != v->keyid)
        return 0; /* another signer, or another key of the same name (rotation) */
    if (n != SIG_BLOB_SIZE ||
        crypto_sign_verify_detached(v->scratch + 4, (const uint8_t *)v->text, v->text_len,
                                    v->pub) != 0)
        return -1;
    v->verified = 1;
    return 0;
}

/* The signature block: 1..MAX_SIGNATURES lines, each ending in '\n'. */
static int check_sig_block(struct verify_ctx *v, const char *sigs, size_t len)
{
    unsigned lines = 0;
    const char *end = sigs + len;

    if (len == 0 || sigs[len - 1] != '\n')
        return -1;
    while (sigs < end) {
        const char *nl = memchr(sigs, '\n', (size_t)(end - sigs));
        if (++lines > MAX_SIGNATURES || check_sig_line(v, sigs, (size_t)(nl - sigs)) != 0)
            return -1;
        sigs = nl + 1;
    }
    return v->verified ? 0 : -1;
}

/* Start of the last "\n\n" in note[0, len), or NULL. */
static const char *last_blank_line(const char *note, size_t len)
{
    for (size_t i = len; i >= 2; i--)
        if (note[i - 2] == '\n' && note[i - 1] == '\n')
            return note + i - 2;
    return NULL;
}

int ctm__note_verify(const char *note, const char *name, const uint8_t pub[32], char **text_out)
{
    struct verify_ctx v;
    const char *split;
    size_t len;
    int rc = -1;

    if (text_out != NULL)
        *text_out = NULL;
    if (note == NULL || !ctm__note_name_valid(name))
        return -1;
    len = strlen(note);
    /* Signature lines never hold a blank line, so the last one separates text from them. */
    split = last_blank_line(note, len);
    if (split == NULL)
        return -1;
    memset(&v, 0, sizeof v);
    v.text = note;
    v.text_len = (size_t)(split - note) + 1;
    v.name = name;
    v.name_len = strlen(name);
    v.keyid = keyid_n(name, v.name_len, pub);
    v.pub = pub;
    if (!text_valid_n(v.text, v.text_len))
        return -1;
    v.scratch_cap = len - v.text_len;
    v.scratch = malloc(v.scratch_cap);
    if (v.scratch == NULL)
        return -1;
    if (check_sig_block(&v, split + 2, len - v.text_len - 1) != 0)
        goto out;
    if (text_out != NULL) {
        *text_out = malloc(v.text_len + 1);
        if (*text_out == NULL)
            goto out;
        memcpy(*text_out, v.text, v.text_len);
        (*text_out)[v.text_len] = '\0';
    }
    rc = 0;
out:
    free(v.scratch);
    return rc;
}

char *ctm__note_text(const char *note)
{
    const char *split = note != NULL ? last_blank_line(note, strlen(note)) : NULL;
    if (split == NULL)
        return NULL;
    size_t n = (size_t)(split - note) + 1;
    char *text = malloc(n + 1);
    if (text != NULL) {
        memcpy(text, note, n);
        text[n] = '\0';
    }
    return text;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Canonical decimal of v into the end of digits[21]; returns the number of digits. */
static size_t put_decimal(char digits[21], uint64_t v)
{
    size_t n = 0;
    do {
        digits[20 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return n;
}

char *ctm__checkpoint_body(const char *origin, uint64_t size, const ctm_hash root, int64_t previous)
{
    char b64[sodium_base64_ENCODED_LEN(CTM_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL)];
    char digits[21];
    size_t olen, dlen = 0, blen;
    char *body, *p;

    if (origin == NULL)
        return NULL;
    olen = strlen(origin);
    /* The origin line alone must already be valid note text. */
    if (olen == 0 || memchr(origin, '\n', olen) != NULL)
        return NULL;
    dlen = put_decimal(digits, size);
    sodium_bin2base64(b64, sizeof b64, root, CTM_HASH_SIZE, sodium_base64_VARIANT_ORIGINAL);
    blen = strlen(b64);
    char prev[9 + 21 + 1] = "";
    if (previous >= 0) {
        char pd[21];
        size_t pn = put_decimal(pd, (uint64_t)previous);
        memcpy(prev, PREVIOUS_PREFIX, PREVIOUS_PREFIX_LEN);
        memcpy(prev + PREVIOUS_PREFIX_LEN, pd + sizeof pd - pn, pn);
        prev[PREVIOUS_PREFIX_LEN + pn] = '\n';
    }
    size_t plen = strlen(prev);
    body = malloc(olen + 1 + dlen + 1 + blen + 1 + plen + 1);
    if (body == NULL)
        return NULL;
    p = body;
    memcpy(p, origin, olen);
    p += olen;
    *p++ = '\n';
    memcpy(p, digits + sizeof digits - dlen, dlen);
    p += dlen;
    *p++ = '\n';
    memcpy(p, b64, blen);
    p += blen;
    *p++ = '\n';
    memcpy(p, prev, plen + 1);
    if (!text_valid_n(body, (size_t)(p + plen - body))) {
        free(body);
        return NULL;
    }
    return body;
}

/* Canonical decimal: digits only, no sign, no leading zero unless "0", fits uint64_t. */
static int parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Extension lines: any number of non-empty lines, each ending in '\n'. */
static int extensions_valid(const char *s, size_t len)
{
    if (len == 0)
        return 1;
    return s[0] != '\n' && s[len - 1] == '\n' && last_blank_line(s, len) == NULL;
}

int ctm__checkpoint_parse(const char *body, char **origin, uint64_t *size, ctm_hash root)
{
    uint8_t hash[CTM_HASH_SIZE + 1];
    const char *l2, *l3, *rest;
    size_t len;
    uint64_t n;

    *origin = NULL;
    if (body == NULL)
        return -1;
    len = strlen(body);
    if (!text_valid_n(body, len) || body[0] == '\n')
        return -1;
    l2 = strchr(body, '\n') + 1;
    if ((l3 = strchr(l2, '\n')) == NULL || parse_size(l2, (size_t)(l3 - l2), &n) != 0)
        return -1;
    l3++;
    if ((rest = strchr(l3, '\n')) == NULL)
        return -1;
    /* A spare byte so that a longer hash is seen, not cut to 32 bytes. */
    if (b64_decode(hash, sizeof hash, l3, (size_t)(rest - l3)) != CTM_HASH_SIZE)
        return -1;
    rest++;
    if (!extensions_valid(rest, len - (size_t)(rest - body)))
        return -1;
    *origin = malloc((size_t)(l2 - body));
    if (*origin == NULL)
        return -1;
    memcpy(*origin, body, (size_t)(l2 - body) - 1);
    (*origin)[l2 - body - 1] = '\0';
    *size = n;
    memcpy(root, hash, CTM_HASH_SIZE);
    return 0;
}

int ctm__checkpoint_previous(const char *body, uint64_t *previous)
{
    const char *line = body;
    int found = 0;
    /* the extension lines follow the origin, size and root lines */
    for (int skip = 0; line != NULL && skip < 3; skip++)
        line = (line = strchr(line, '\n')) != NULL ? line + 1 : NULL;
    for (; line != NULL && *line != '\0'; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            return -1;
        if (strncmp(line, PREVIOUS_PREFIX, PREVIOUS_PREFIX_LEN) != 0)
            continue;
        if (found++ ||
            parse_size(line + PREVIOUS_PREFIX_LEN, (size_t)(end - line) - PREVIOUS_PREFIX_LEN,
                       previous) != 0)
            return -1;
    }
    return found;
}
