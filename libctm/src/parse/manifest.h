/* manifest.h - the CSV shipment manifest a depot sends with a shipment (manifest.c).
 *
 * The text is RFC 4180 CSV: line 1 is the header, one kit per data line after it.
 *   - Columns, in any order, named exactly (lower case): kit_number, kit_type, lot, expiry
 *     (required) and arm, gtin, serial (optional).  Unknown or repeated names are refused.
 *     A UTF-8 byte order mark before the header is skipped.
 *   - Fields are separated by ',' and may be quoted with '"' ('""' inside quotes is one '"').
 *     A quoted field may not hold a line break.  Lines end in LF or CRLF; the last line end is
 *     optional; blank lines at the end are ignored, a blank line before a data line is refused.
 *   - Every data line has exactly as many fields as the header.  Fields are not trimmed.
 *   - kit_number: 1-40 of [A-Za-z0-9._/-], unique in the manifest; kit_type: 1-64 of
 *     [A-Za-z0-9._@-]; lot: 1-20 of GS1 character set 82; expiry: YYYY-MM-DD or YYYYMMDD, a
 *     real date in 2000-2099; arm: 1-32 of [A-Za-z0-9._-]; gtin: 14 digits with a valid GS1
 *     check digit; serial: 1-20 of GS1 character set 82.  arm, gtin and serial may be empty.
 *   - A scan names a kit by its kit number or its serial, so every identifier names one kit:
 *     no two lines share a serial, and no line's serial is another line's kit number (a
 *     serial equal to its own line's kit number is fine).  The later line is refused:
 *     "field serial: repeats line 3", "field serial: is the kit number of line 3",
 *     "field kit_number: is the serial of line 3".
 *   - At most 4096 bytes per line (line end excluded) and 1,000,000 data lines; no NUL byte,
 *     valid UTF-8 throughout; at least one kit.
 *
 * Blinding: the arm is secret in blinded trials.  No error message quotes an arm value or any
 * part of a line that carries one; a bad arm is reported only as "not a valid arm code".  On a
 * line without an arm, a message quotes at most 40 bytes of the offending field, with bytes
 * outside printable ASCII (and ' and \) escaped as \xNN.
 */
#ifndef CTM_MANIFEST_H
#define CTM_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

/* One kit of the manifest.  The strings are NUL-terminated and owned by the manifest (valid until
 * ctm__manifest_free).  arm, gtin and serial are NULL when their column is absent or the field
 * is empty; expiry is normalised to "YYYY-MM-DD".  line is the kit's line in the text (the header
 * is line 1). */
typedef struct ctm__manifest_row {
    uint32_t line;
    const char *kit_number, *kit_type, *lot, *expiry, *arm, *gtin, *serial;
} ctm__manifest_row;

/* A parsed manifest: n rows in the order of the text (n >= 1 after a successful parse).  has_arm,
 * has_gtin and has_serial are non-zero when the header has that column.  arena_ is private. */
typedef struct ctm__manifest {
    size_t n;
    ctm__manifest_row *rows;
    int has_arm, has_gtin, has_serial;
    void *arena_;
} ctm__manifest;

/* Parse len bytes of text (not necessarily NUL-terminated; NULL only with len 0) into *m, which is
 * overwritten.  The manifest keeps its own copies: text may be freed afterwards.  On failure *m is
 * left zeroed and holds nothing.
 * Returns CTM_OK, CTM_EINVAL (ctm_errmsg() names the line and, where it applies, the field:
 * "manifest line 7, field expiry: ..."; "manifest: no kits" for a header alone) or CTM_ENOMEM. */
int ctm__manifest_parse(ctm__manifest *m, const char *text, size_t len);

/* Release everything the manifest holds and zero it.  Harmless on NULL, on a zeroed manifest
 * and on one whose parse failed. */
void ctm__manifest_free(ctm__manifest *m);

#endif
