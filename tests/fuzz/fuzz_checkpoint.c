/* fuzz_checkpoint.c - libFuzzer target for checkpoint bodies, verifier keys and signed notes. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"

/* The C2SP signed-note example key: notes that claim it reach the signature check. */
static const char example_name[] = "example.com/foo";
static const uint8_t example_pub[32] = {
    0xe9, 0x32, 0x79, 0x1a, 0xe6, 0xe7, 0xa8, 0x40, 0xa4, 0x61, 0x64, 0xc9, 0x04, 0x78, 0x64, 0x26,
    0xd5, 0xe7, 0x82, 0x1d, 0xd8, 0xb2, 0x9a, 0x00, 0xd6, 0x1c, 0xae, 0x72, 0xaf, 0xdd, 0x4d, 0xa4,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static void fuzz_checkpoint(const char *s)
{
    char *origin = NULL;
    uint64_t size;
    ctm_hash root;

    if (ctm__checkpoint_parse(s, &origin, &size, root) == 0) {
        /* What parses must re-encode to a prefix of the input (extensions are dropped). */
        char *again = ctm__checkpoint_body(origin, size, root, -1);
        if (again == NULL || strncmp(again, s, strlen(again)) != 0)
            abort();
        free(again);
    }
    free(origin);
}

static void fuzz_vkey(const char *s)
{
    char *name = NULL;
    uint8_t pub[32];

    if (ctm__note_vkey_parse(s, &name, pub) == 0) {
        /* Parsing is strict, so a key that parses is in its one canonical form. */
        char *again = ctm__note_vkey(name, pub);
        if (again == NULL || strcmp(again, s) != 0)
            abort();
        free(again);
    }
    free(name);
}

static void fuzz_note(const char *s)
{
    char *text = NULL;

    if (ctm__note_verify(s, example_name, example_pub, &text) == 0) {
        char *origin = NULL;
        uint64_t size;
        ctm_hash root;
        if (ctm__checkpoint_parse(text, &origin, &size, root) == 0)
            free(origin);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    fuzz_checkpoint(s);
    fuzz_vkey(s);
    fuzz_note(s);
    free(s);
    return 0;
}
