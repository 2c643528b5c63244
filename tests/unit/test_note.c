/* test_note.c - C2SP signed notes, verifier keys, tlog checkpoints, Ed25519 vectors. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "testutil.h"

/* The note texts of notes.txt, given there in its comment headers. */
static const char c2sp_text[] = "This is an example message.\n";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";

/* ---- helpers ---------------------------------------------------------------------------- */

/* Copy of the rest of the line that starts with prefix (prefix excluded); malloc'd. */
static char *find_line(const char *text, const char *prefix)
{
    size_t plen = strlen(prefix);

    for (const char *line = text; line != NULL; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, prefix, plen) != 0)
            continue;
        size_t len = strcspn(line + plen, "\n");
        char *out = malloc(len + 1);
        ck_assert_ptr_nonnull(out);
        memcpy(out, line + plen, len);
        out[len] = '\0';
        return out;
    }
    ck_abort_msg("no line starting with %s", prefix);
    return NULL;
}

/* The line after the one starting with prefix; malloc'd. */
static char *line_after(const char *text, const char *prefix)
{
    char *line = find_line(text, prefix);
    const char *at = strstr(text, line);
    char *out;

    ck_assert_ptr_nonnull(at);
    at += strcspn(at, "\n") + 1;
    out = strndup(at, strcspn(at, "\n"));
    ck_assert_ptr_nonnull(out);
    free(line);
    return out;
}

/* "pub <64 hex>..." into pub. */
static void parse_pub(const char *line, uint8_t pub[32])
{
    char hex[65];

    ck_assert(strncmp(line, "pub ", 4) == 0);
    memcpy(hex, line + 4, 64);
    hex[64] = '\0';
    ck_assert_int_eq(tu_hex_decode(hex, pub, 32), 32);
}

/* The quoted signature line of signer `name`, with its '\n'; malloc'd. */
static char *sigline_of(const char *notes, const char *name)
{
    char prefix[128];
    char *rest, *out;
    size_t len;

    snprintf(prefix, sizeof prefix, "sigline \"\xe2\x80\x94 %s ", name);
    rest = find_line(notes, prefix);
    len = strcspn(rest, "\"");
    out = malloc(strlen(prefix) - 9 + len + 2);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "%s%.*s\n", prefix + 9, (int)len, rest);
    free(rest);
    return out;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *out = malloc(la + lb + lc + 1);

    ck_assert_ptr_nonnull(out);
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc + 1);
    return out;
}

/* A signature line over arbitrary bytes, bypassing ctm__note_sign's checks. */
static char *raw_sigline(const char *text, size_t len, const char *name, uint32_t keyid,
                         const uint8_t sk[64])
{
    uint8_t blob[68];
    char b64[sodium_base64_ENCODED_LEN(68, sodium_base64_VARIANT_ORIGINAL)];
    char *out;

    blob[0] = (uint8_t)(keyid >> 24);
    blob[1] = (uint8_t)(keyid >> 16);
    blob[2] = (uint8_t)(keyid >> 8);
    blob[3] = (uint8_t)keyid;
    crypto_sign_detached(blob + 4, NULL, (const uint8_t *)text, len, sk);
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    out = malloc(strlen(name) + strlen(b64) + 8);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "\xe2\x80\x94 %s %s\n", name, b64);
    return out;
}

struct key {
    uint8_t pk[32], sk[64];
};

static void new_key(struct key *k)
{
    crypto_sign_keypair(k->pk, k->sk);
}

/* ---- C2SP / Go vectors ------------------------------------------------------------------ */

static void check_vkey_round_trip(const char *notes, const char *vkey_prefix)
{
    char *vkey, *pub_line, *name = NULL, *again;
    char prefix[64];
    uint8_t pub[32], want_pub[32];
    unsigned long id;

    snprintf(prefix, sizeof prefix, "vkey %s", vkey_prefix);
    vkey = find_line(notes, prefix);
    /* find_line strips the prefix: put the name back. */
    again = concat3(vkey_prefix, vkey, "");
    free(vkey);
    vkey = again;
    pub_line = line_after(notes, prefix);
    parse_pub(pub_line, want_pub);
    ck_assert_int_eq(ctm__note_vkey_parse(vkey, &name, pub), 0);
    ck_assert_mem_eq(pub, want_pub, 32);
    ck_assert_uint_eq(strlen(name) + 1, strlen(vkey_prefix));
    ck_assert(strncmp(name, vkey_prefix, strlen(name)) == 0);
    id = strtoul(vkey + strlen(vkey_prefix), NULL, 16);
    ck_assert_uint_eq(ctm__note_keyid(name, pub), id);
    again = ctm__note_vkey(name, pub);
    ck_assert_str_eq(again, vkey);
    free(again);
    free(name);
    free(pub_line);
    free(vkey);
}

START_TEST(test_vectors_vkeys)
{
    char *notes = tu_read_data("signed-note/notes.txt");
    char *pub_line = line_after(notes, "vkey example.com/foo+");
    uint8_t pub[32];

    check_vkey_round_trip(notes, "example.com/foo+");
    check_vkey_round_trip(notes, "PeterNeumann+");
    check_vkey_round_trip(notes, "EnochRoot+");
    /* The C2SP example also states the key id next to the key. */
    parse_pub(pub_line, pub);
    ck_assert(strstr(pub_line, "keyid 530d903a") != NULL);
    ck_assert_uint_eq(ctm__note_keyid("example.com/foo", pub), 0x530d903au);
    free(pub_line);
    free(notes);
}
END_TEST

/* Verify text + "\n" + sigline with signer `name`'s key from notes.txt; check the sig bytes. */
static void check_given_signature(const char *notes, const char *text, const char *name)
{
    char prefix[64], *pub_line, *sigline, *note, *out = NULL, *sig_hex;
    uint8_t pub[32];

    snprintf(prefix, sizeof prefix, "vkey %s+", name);
    pub_line = line_after(notes, prefix);
    parse_pub(pub_line, pub);
    sigline = sigline_of(notes, name);
    note = concat3(text, "\n", sigline);
    ck_assert_int_eq(ctm__note_verify(note, name, pub, &out), 0);
    ck_assert_str_eq(out, text);
    free(out);
    /* The base64 blob is key id || the "sig" line that follows. */
    snprintf(prefix, sizeof prefix, "sigline \"\xe2\x80\x94 %s ", name);
    if (strcmp(name, "EnochRoot") != 0) {
        uint8_t blob[68], sig[64];
        size_t blen;
        const char *b64 = strrchr(sigline, ' ') + 1;
        sig_hex = line_after(notes, prefix);
        ck_assert(strncmp(sig_hex, "sig ", 4) == 0);
        ck_assert_int_eq(tu_hex_decode(sig_hex + 4, sig, sizeof sig), 64);
        ck_assert_int_eq(sodium_base642bin(blob, sizeof blob, b64, strlen(b64) - 1, NULL, &blen,
                                           NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        ck_assert_uint_eq(blen, 68);
        ck_assert_mem_eq(blob + 4, sig, 64);
        ck_assert_uint_eq((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
                              (uint32_t)blob[2] << 8 | blob[3],
                          ctm__note_keyid(name, pub));
        free(sig_hex);
    }
    free(note);
    free(sigline);
    free(pub_line);
}

START_TEST(test_vectors_verify)
{
    char *notes = tu_read_data("signed-note/notes.txt");

    check_given_signature(notes, c2sp_text, "example.com/foo");
    check_given_signature(notes, go_text, "PeterNeumann");
    check_given_signature(notes, go_text, "EnochRoot");
    free(notes);
}
END_TEST

START_TEST(test_vectors_cosigned)
{
    char *notes = tu_read_data("signed-note/notes.txt");
    char *peter = sigline_of(notes, "PeterNeumann"), *enoch = sigline_of(notes, "EnochRoot");
    char *pl = line_after(notes, "vkey PeterNeumann+"), *el = line_after(notes, "vkey EnochRoot+");
    char *both = concat3(go_text, "\n", peter), *note = concat3(both, enoch, "");
    char *only_enoch = concat3(go_text, "\n", enoch);
    uint8_t ppub[32], epub[32];

    parse_pub(pl, ppub);
    parse_pub(el, epub);
    /* Either signer's key accepts the cosigned note; the other line is ignored. */
    ck_assert_int_eq(ctm__note_verify(note, "PeterNeumann", ppub, NULL), 0);
    ck_assert_int_eq(ctm__note_verify(note, "EnochRoot", epub, NULL), 0);
    /* But a note not signed by the key is refused. */
    ck_assert_int_eq(ctm__note_verify(only_enoch, "PeterNeumann", ppub, NULL), -1);
    /* Right name, wrong key: the key id differs, so the line is not ours. */
    ck_assert_int_eq(ctm__note_verify(only_enoch, "EnochRoot", ppub, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(note, "EnochRoot", ppub, NULL), -1);
    free(only_enoch);
    free(note);
    free(both);
    free(pl);
    free(el);
    free(peter);
    free(enoch);
    free(notes);
}
END_TEST

START_TEST(test_vectors_deterministic_sign)
{
    char *notes = tu_read_data("signed-note/notes.txt");
    char *seed_hex = find_line(notes, "seed "), *skey = find_line(notes, "skey PRIVATE+KEY+");
    char *pl = line_after(notes, "vkey PeterNeumann+"), *sigline = sigline_of(notes, "PeterNeumann");
    char *want = concat3(go_text, "\n", sigline), *got;
    uint8_t seed[32], pk[32], sk[64], want_pub[32], skey_bin[34];
    size_t n;
    const char *b64;

    ck_assert_int_eq(tu_hex_decode(seed_hex, seed, sizeof seed), 32);
    /* The Go skey string carries 0x01 || seed. */
    ck_assert(strncmp(skey, "PeterNeumann+c74f20a3+", 22) == 0);
    b64 = skey + 22;
    ck_assert_int_eq(sodium_base642bin(skey_bin, sizeof skey_bin, b64, strlen(b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ck_assert_uint_eq(n, 33);
    ck_assert_uint_eq(skey_bin[0], CTM_NOTE_ALG_ED25519);
    ck_assert_mem_eq(skey_bin + 1, seed, 32);
    ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
    parse_pub(pl, want_pub);
    ck_assert_mem_eq(pk, want_pub, 32);
    got = ctm__note_sign(go_text, "PeterNeumann", sk);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    free(sigline);
    free(pl);
    free(skey);
    free(seed_hex);
    free(notes);
}
END_TEST

/* seed pub msg sig per line, msg "-" for empty. */
START_TEST(test_rfc8032_vectors)
{
    char *text = tu_read_data("ed25519/rfc8032.txt");
    int vectors = 0;

    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char seed_hex[65], pub_hex[65], msg_hex[4096], sig_hex[129];
        uint8_t seed[32], pub[32], sk[64], pk[32], want_sig[64], sig[64], msg[2048];
        int mlen = 0;

        if (line[0] == '#')
            continue;
        ck_assert_int_eq(sscanf(line, "%64s %64s %4095s %128s", seed_hex, pub_hex, msg_hex,
                                sig_hex),
                         4);
        ck_assert_int_eq(tu_hex_decode(seed_hex, seed, 32), 32);
        ck_assert_int_eq(tu_hex_decode(pub_hex, pub, 32), 32);
        ck_assert_int_eq(tu_hex_decode(sig_hex, want_sig, 64), 64);
        if (strcmp(msg_hex, "-") != 0)
            mlen = tu_hex_decode(msg_hex, msg, sizeof msg);
        ck_assert_int_ge(mlen, 0);
        ck_assert_int_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
        ck_assert_mem_eq(pk, pub, 32);
        ck_assert_int_eq(crypto_sign_detached(sig, NULL, msg, (size_t)mlen, sk), 0);
        ck_assert_mem_eq(sig, want_sig, 64);
        ck_assert_int_eq(crypto_sign_verify_detached(sig, msg, (size_t)mlen, pub), 0);
        vectors++;
    }
    ck_assert_int_eq(vectors, 4);
    free(text);
}
END_TEST

/* ---- names and verifier keys ------------------------------------------------------------ */

START_TEST(test_name_validity)
{
    static const char *good[] = {"example.com/foo", "PeterNeumann", "a", "caf\xc3\xa9/log",
                                 "x-y_z:1"};
    static const char *bad[] = {"", "a b", "a+b", "a\n", "a\tb", "\xc2\xa0", "a\xe2\x80\x83",
                                "\xff", "\xc3", "\xc0\xaf", "a\x7f"};

    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(ctm__note_name_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t pub[32] = {0};
        ck_assert_msg(!ctm__note_name_valid(bad[i]), "bad[%zu]", i);
        ck_assert_ptr_null(ctm__note_vkey(bad[i], pub));
    }
    ck_assert(!ctm__note_name_valid(NULL));
}
END_TEST

START_TEST(test_vkey_parse_rejects)
{
    static const char *bad[] = {
        "",
        "example.com/foo",
        "example.com/foo+530d903a",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* key id */
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* upper hex */
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",   /* 7 digits */
        "example.com/fox+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* name */
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* alg 0x02 */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",   /* no pad */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2kAA==", /* long */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k ",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\n",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+x",
        "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrn\xe2\x80\x94U2k",
    };
    char *name = (char *)"sentinel";
    uint8_t pub[32];

    ck_assert_int_eq(ctm__note_vkey_parse(
                         "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                         &name, pub),
                     0);
    free(name);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        name = (char *)"sentinel";
        ck_assert_msg(ctm__note_vkey_parse(bad[i], &name, pub) == -1, "bad[%zu]", i);
        ck_assert_ptr_null(name);
    }
}
END_TEST

/* ---- sign and verify -------------------------------------------------------------------- */

START_TEST(test_checkpoint_sign_verify_round_trip)
{
    static const uint64_t sizes[] = {0, 1, 12345, UINT64_MAX};
    struct key k;

    new_key(&k);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        ctm_hash root, got_root;
        char *body, *note, *text = NULL, *origin = NULL;
        uint64_t size = 0;

        randombytes_buf(root, sizeof root);
        body = ctm__checkpoint_body("pharmacy.example/ledger", sizes[i], root, -1);
        ck_assert_ptr_nonnull(body);
        note = ctm__note_sign(body, "pharmacy.example/ledger", k.sk);
        ck_assert_ptr_nonnull(note);
        ck_assert_int_eq(ctm__note_verify(note, "pharmacy.example/ledger", k.pk, &text), 0);
        ck_assert_str_eq(text, body);
        ck_assert_int_eq(ctm__checkpoint_parse(text, &origin, &size, got_root), 0);
        ck_assert_str_eq(origin, "pharmacy.example/ledger");
        ck_assert_uint_eq(size, sizes[i]);
        ck_assert_mem_eq(got_root, root, sizeof root);
        free(origin);
        free(text);
        free(note);
        free(body);
    }
}
END_TEST

START_TEST(test_tampering_rejected)
{
    struct key k, other;
    ctm_hash root = {0};
    char *body, *note;
    size_t len;

    new_key(&k);
    new_key(&other);
    body = ctm__checkpoint_body("log.example", 42, root, -1);
    note = ctm__note_sign(body, "log.example", k.sk);
    ck_assert_ptr_nonnull(note);
    len = strlen(note);
    /* Any single changed byte, in the text, the separator, the name or the signature. */
    for (size_t i = 0; i < len; i++) {
        note[i] ^= 0x01;
        ck_assert_msg(ctm__note_verify(note, "log.example", k.pk, NULL) == -1, "byte %zu", i);
        note[i] ^= 0x01;
    }
    ck_assert_int_eq(ctm__note_verify(note, "log.example", k.pk, NULL), 0);
    ck_assert_int_eq(ctm__note_verify(note, "log.example", other.pk, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(note, "log.example2", k.pk, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(note, "log.exampl", k.pk, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(note, "bad name", k.pk, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(NULL, "log.example", k.pk, NULL), -1);
    free(note);
    free(body);
}
END_TEST

/* A note with our valid line and `extra` other lines around it. */
static char *note_with_lines(const char *text, const char *ours, const char *extra,
                             unsigned nextra)
{
    size_t cap = strlen(text) + 2 + strlen(ours) + (size_t)nextra * strlen(extra) + 1;
    char *note = malloc(cap);

    ck_assert_ptr_nonnull(note);
    strcpy(note, text);
    strcat(note, "\n");
    for (unsigned i = 0; i < nextra; i++)
        strcat(note, extra);
    strcat(note, ours);
    return note;
}

START_TEST(test_signature_lines)
{
    struct key k, other;
    const char *text = "hello\n";
    char *ours, *theirs, *forged, *note, *wrong_id;
    char *signed_note;

    new_key(&k);
    new_key(&other);
    signed_note = ctm__note_sign(text, "k", k.sk);
    ours = strdup(signed_note + strlen(text) + 1);
    theirs = raw_sigline(text, strlen(text), "other", ctm__note_keyid("other", other.pk), other.sk);
    /* Our name and key id over a signature by another key. */
    forged = raw_sigline(text, strlen(text), "k", ctm__note_keyid("k", k.pk), other.sk);
    /* Our name, a key id of another key of ours (rotation): ignored, not ours. */
    wrong_id = raw_sigline(text, strlen(text), "k", ctm__note_keyid("k", other.pk), other.sk);

    note = note_with_lines(text, ours, theirs, 99);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), 0);
    free(note);
    note = note_with_lines(text, ours, theirs, 100);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1); /* 101 lines */
    free(note);
    note = note_with_lines(text, ours, wrong_id, 1);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), 0);
    free(note);
    note = note_with_lines(text, "", wrong_id, 1);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    ck_assert_int_eq(ctm__note_verify(note, "k", other.pk, NULL), 0);
    free(note);
    note = note_with_lines(text, ours, forged, 1);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    free(note);
    note = note_with_lines(text, "", theirs, 1);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    free(note);
    free(wrong_id);
    free(forged);
    free(theirs);
    free(ours);
    free(signed_note);
}
END_TEST

START_TEST(test_malformed_notes)
{
    struct key k;
    const char *text = "hello\n";
    char *sl, *note;
    static const char *bad_lines[] = {
        "-- k AAAA\n",                       /* not an em dash */
        "\xe2\x80\x94k AAAAAAAA\n",          /* no space after the dash */
        "\xe2\x80\x94 k\n",                  /* no signature */
        "\xe2\x80\x94 k \n",                 /* empty signature */
        "\xe2\x80\x94  AAAAAAAA\n",          /* empty name */
        "\xe2\x80\x94 k AAAA\n",             /* 3-byte blob: no signature byte */
        "\xe2\x80\x94 k AAAA AAAA\n",        /* space in the base64 */
        "\xe2\x80\x94 k AAAA!AAA\n",         /* not base64 */
        "\xe2\x80\x94 k AAAAAAA\n",          /* unpadded */
        "\xe2\x80\x94 a+b AAAAAAAA\n",       /* invalid name */
        "just text\n",
    };

    new_key(&k);
    sl = raw_sigline(text, strlen(text), "k", ctm__note_keyid("k", k.pk), k.sk);
    /* Well-formed first. */
    note = concat3(text, "\n", sl);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), 0);
    /* A signature block not ending in a newline. */
    note[strlen(note) - 1] = '\0';
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    free(note);
    /* No blank line between text and signatures. */
    note = concat3(text, "", sl);
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    free(note);
    /* A blank line but no signatures. */
    note = concat3(text, "\n", "");
    ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, NULL), -1);
    free(note);
    /* A malformed line condemns the note even next to a good one. */
    for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
        char *both = concat3(sl, bad_lines[i], "");
        note = concat3(text, "\n", both);
        ck_assert_msg(ctm__note_verify(note, "k", k.pk, NULL) == -1, "bad_lines[%zu]", i);
        free(note);
        free(both);
    }
    free(sl);
}
END_TEST

/* Texts that are validly signed bytes but not note text. */
START_TEST(test_invalid_text)
{
    /* every control character but '\n': C0, DEL and C1 (U+0085 NEL, U+009F) alike */
    static const char *bad[] = {"", "no newline", "tab\there\n", "bell\a\n", "del\x7f\n",
                                "bad utf8 \xff\n", "overlong \xc0\xaf\n", "cr\r\n",
                                "nel \xc2\x85\n", "apc \xc2\x9f\n"};
    struct key k;

    new_key(&k);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *sl = raw_sigline(bad[i], strlen(bad[i]), "k", ctm__note_keyid("k", k.pk), k.sk);
        char *note = concat3(bad[i], "\n", sl);
        ck_assert_msg(ctm__note_sign(bad[i], "k", k.sk) == NULL, "bad[%zu] signed", i);
        ck_assert_msg(ctm__note_verify(note, "k", k.pk, NULL) == -1, "bad[%zu] verified", i);
        free(note);
        free(sl);
    }
    /* Blank lines and non-ASCII inside the text are fine: the split is at the last one. */
    {
        const char *text = "para one\n\npara \xc3\xa9 two\n\n";
        char *note = ctm__note_sign(text, "k", k.sk), *out = NULL;
        ck_assert_ptr_nonnull(note);
        ck_assert_int_eq(ctm__note_verify(note, "k", k.pk, &out), 0);
        ck_assert_str_eq(out, text);
        free(out);
        free(note);
    }
    ck_assert_ptr_null(ctm__note_sign("ok\n", "bad name", k.sk));
}
END_TEST

/* ---- checkpoint bodies ------------------------------------------------------------------ */

#define ROOT_B64 "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="

START_TEST(test_checkpoint_parse_accepts)
{
    static const struct {
        const char *body;
        uint64_t size;
    } good[] = {
        {"example.com/behind-the-sofa\n20852163\n" ROOT_B64 "\n", 20852163},
        {"o\n0\n" ROOT_B64 "\n", 0},
        {"o\n18446744073709551615\n" ROOT_B64 "\n", UINT64_MAX},
        {"o\n7\n" ROOT_B64 "\nextension one\nextension two\n", 7},
        {"origin with spaces \xc3\xa9\n1\n" ROOT_B64 "\n", 1},
    };

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char *origin = NULL, *again;
        uint64_t size = 1;
        ctm_hash root;
        ck_assert_msg(ctm__checkpoint_parse(good[i].body, &origin, &size, root) == 0, "good[%zu]",
                      i);
        ck_assert_uint_eq(size, good[i].size);
        ck_assert_uint_eq(strlen(origin), strcspn(good[i].body, "\n"));
        again = ctm__checkpoint_body(origin, size, root, -1);
        ck_assert_ptr_nonnull(again);
        ck_assert(strncmp(again, good[i].body, strlen(again)) == 0);
        free(again);
        free(origin);
    }
}
END_TEST

START_TEST(test_checkpoint_parse_rejects)
{
    static const char *bad[] = {
        "",
        "\n1\n" ROOT_B64 "\n",                                 /* empty origin */
        "o\n01\n" ROOT_B64 "\n",                               /* leading zero */
        "o\n00\n" ROOT_B64 "\n",
        "o\n-1\n" ROOT_B64 "\n",                               /* sign */
        "o\n+1\n" ROOT_B64 "\n",
        "o\n 1\n" ROOT_B64 "\n",
        "o\n1 \n" ROOT_B64 "\n",
        "o\n\n" ROOT_B64 "\n",                                 /* no size */
        "o\n0x10\n" ROOT_B64 "\n",
        "o\n18446744073709551616\n" ROOT_B64 "\n",             /* 2^64 */
        "o\n99999999999999999999\n" ROOT_B64 "\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", /* 31-byte root */
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n", /* 33-byte root */
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  /* unpadded */
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", /* non-canonical */
        "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", /* URL alphabet */
        /* Non-ASCII bytes that libsodium 1.0.18 would decode (found by fuzz_checkpoint). */
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB\xe2\x80\x94" "03j2jxq2I=\n",
        "o\n1\n" ROOT_B64,                                     /* missing final newline */
        "o\n1\n" ROOT_B64 "\next",                             /* extension without one */
        "o\n1\n" ROOT_B64 "\n\n",                              /* empty extension line */
        "o\n1\n" ROOT_B64 "\na\n\nb\n",
        "o\n1\n",
        "o\n1",
        "o\n",
        "o",
        "o\r\n1\n" ROOT_B64 "\n",                              /* control character */
        "o\n1\n" ROOT_B64 " \n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *origin = (char *)"sentinel";
        uint64_t size;
        ctm_hash root;
        ck_assert_msg(ctm__checkpoint_parse(bad[i], &origin, &size, root) == -1, "bad[%zu]", i);
        ck_assert_ptr_null(origin);
    }
}
END_TEST

/* The "previous" extension line chains checkpoints (docs/audit-format.md 6.1). */
START_TEST(test_checkpoint_previous)
{
    ctm_hash root = {0};
    uint64_t prev = 99, size = 0;
    char *origin = NULL;
    char *body = ctm__checkpoint_body("log.example", 42, root, 17);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body, "log.example\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nprevious 17\n");
    ck_assert_int_eq(ctm__checkpoint_parse(body, &origin, &size, root), 0);
    ck_assert_int_eq(ctm__checkpoint_previous(body, &prev), 1);
    ck_assert_uint_eq(prev, 17);
    free(origin);
    free(body);
    body = ctm__checkpoint_body("log.example", 1, root, 0);
    ck_assert_int_eq(ctm__checkpoint_previous(body, &prev), 1);
    ck_assert_uint_eq(prev, 0);
    free(body);
    body = ctm__checkpoint_body("log.example", 1, root, -1);
    ck_assert_int_eq(ctm__checkpoint_previous(body, &prev), 0);
    free(body);
    static const char *const bad[] = {
        "o\n5\n" ROOT_B64 "\nprevious 01\n",                 /* leading zero */
        "o\n5\n" ROOT_B64 "\nprevious -1\n",                 /* sign */
        "o\n5\n" ROOT_B64 "\nprevious \n",                   /* no number */
        "o\n5\n" ROOT_B64 "\nprevious 18446744073709551616\n", /* past 2^64 - 1 */
        "o\n5\n" ROOT_B64 "\nprevious 1\nprevious 1\n",      /* twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(ctm__checkpoint_previous(bad[i], &prev) == -1, "bad[%zu]", i);
    /* other extension lines are not its business */
    ck_assert_int_eq(ctm__checkpoint_previous("o\n5\n" ROOT_B64 "\nprevious-ish 1\nx\n", &prev), 0);
}
END_TEST

START_TEST(test_checkpoint_body_rejects)
{
    ctm_hash root = {0};

    ck_assert_ptr_null(ctm__checkpoint_body("", 1, root, -1));
    ck_assert_ptr_null(ctm__checkpoint_body("two\nlines", 1, root, -1));
    ck_assert_ptr_null(ctm__checkpoint_body("tab\t", 1, root, -1));
    ck_assert_ptr_null(ctm__checkpoint_body(NULL, 1, root, -1));
}
END_TEST

static Suite *note_suite(void)
{
    Suite *s = suite_create("note");
    TCase *tc;

    tc = tcase_create("published_vectors");
    tcase_add_test(tc, test_vectors_vkeys);
    tcase_add_test(tc, test_vectors_verify);
    tcase_add_test(tc, test_vectors_cosigned);
    tcase_add_test(tc, test_vectors_deterministic_sign);
    tcase_add_test(tc, test_rfc8032_vectors);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, test_name_validity);
    tcase_add_test(tc, test_vkey_parse_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("sign_verify");
    tcase_add_test(tc, test_checkpoint_sign_verify_round_trip);
    tcase_add_test(tc, test_tampering_rejected);
    tcase_add_test(tc, test_signature_lines);
    tcase_add_test(tc, test_malformed_notes);
    tcase_add_test(tc, test_invalid_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_checkpoint_parse_accepts);
    tcase_add_test(tc, test_checkpoint_parse_rejects);
    tcase_add_test(tc, test_checkpoint_body_rejects);
    tcase_add_test(tc, test_checkpoint_previous);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(note_suite());
}
