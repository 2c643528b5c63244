/* note.h - C2SP signed notes and tlog checkpoints with Ed25519 keys (internal). */
#ifndef CTM_NOTE_H
#define CTM_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

#define CTM_NOTE_ALG_ED25519 0x01

/* Key id = SHA-256(name || 0x0A || 0x01 || pub)[0:4], as a 32-bit big-endian number. */
uint32_t ctm__note_keyid(const char *name, const uint8_t pub[32]);

/* A name is valid when non-empty, of printable non-space characters and without '+'. */
int ctm__note_name_valid(const char *name);

/* "<name>+<8 hex key id>+<base64(0x01 || pub)>", malloc'd; NULL on bad name / no memory. */
char *ctm__note_vkey(const char *name, const uint8_t pub[32]);

/* Parse a verifier key: *name malloc'd.  0 on success, -1 if malformed (bad name, bad
 * base64, wrong algorithm byte, key id that does not match). */
int ctm__note_vkey_parse(const char *vkey, char **name, uint8_t pub[32]);

/*
 * Sign text (must be non-empty, end in '\n', per C2SP: any UTF-8 text without
 * control characters other than '\n', ending in '\n') with the Ed25519 secret key sk (libsodium
 * 64-byte form).  Returns the malloc'd note: text "\n" "— <name> <base64(keyid || sig)>\n".
 * NULL on invalid text/name or no memory.
 */
char *ctm__note_sign(const char *text, const char *name, const uint8_t sk[64]);

/*
 * Verify a note against one key.  Splits text and signatures at the last "\n\n"; finds a
 * signature line for (name, key id) and checks it.  Other signers' lines are ignored (they may
 * be cosigners).  On success returns 0 and, if text_out is not NULL, a malloc'd copy of the text.
 * -1 if malformed, unsigned by that key, or the signature does not verify.
 */
int ctm__note_verify(const char *note, const char *name, const uint8_t pub[32], char **text_out);

/* A cosignature: the note with one more signature line, by (name, sk) over the same text, after
 * the lines it has (docs/audit-format.md 6.5).  Malloc'd; NULL when the note is malformed (no
 * text, a signature block not ending in '\n'), already holds MAX signature lines, the name is
 * invalid, or no memory.  The note's own lines are not checked here: the caller has verified
 * the signature it relies on. */
char *ctm__note_cosign(const char *note, const char *name, const uint8_t sk[64]);

/* The text of a note, without checking any signature: a malloc'd copy of what comes before the
 * last "\n\n" (as ctm__note_verify splits it); NULL if there is none, or no memory. */
char *ctm__note_text(const char *note);

/* Checkpoint body "<origin>\n<size>\n<base64 root>\n", then, when previous >= 0, the extension
 * line "previous <size of the checkpoint before it>\n" (docs/audit-format.md 6.1), malloc'd. */
char *ctm__checkpoint_body(const char *origin, uint64_t size, const ctm_hash root, int64_t previous);

/* The size named by a checkpoint body's "previous" extension line: 1 with *previous set, 0 if the
 * body has none, -1 if it has a malformed one or more than one. */
int ctm__checkpoint_previous(const char *body, uint64_t *previous);

/* Parse a checkpoint body (extension lines after the root are allowed and ignored).
 * *origin malloc'd.  0 on success, -1 if malformed (size with leading zeros or sign, bad base64,
 * root not 32 bytes, missing final newline). */
int ctm__checkpoint_parse(const char *body, char **origin, uint64_t *size, ctm_hash root);

#endif
