/* randlist.h - an imported randomization list (randlist.c): the sequence of arms a trial's
 * randomization hands out, as a sponsor, R's blockrand package or a kit list provides it.
 *
 * The text is CSV in the dialect of csv.h (RFC 4180, one record per line, LF or CRLF, a UTF-8
 * byte order mark skipped, blank lines only at the end): line 1 is the header, one row per data
 * line after it.
 *   - Formats, by their header's column names (exactly these, lower case, in any order; unknown
 *     or repeated names are refused, and so is a header missing one of them):
 *       sponsor:   randomization_number, stratum, arm
 *       blockrand: id, stratum, block.id, block.size, treatment   (stratum may be absent: an
 *                  unstratified blockrand() call writes none; every row's stratum is then "")
 *       kits:      kit_number, arm
 *     R's write.csv adds a first column whose header name is empty, holding row names: a first
 *     column with an empty name is accepted in every format and its fields are ignored unread.
 *     With CTM__RANDLIST_DETECT the format is the one of the first column name that only one
 *     format has (randomization_number; id, block.id, block.size, treatment; kit_number); a
 *     header with none of them is refused naming the three expected headers.
 *   - Every data line has exactly as many fields as the header.  Fields are not trimmed.
 *   - randomization_number, id, kit_number (the row's number): 1-40 of [A-Za-z0-9._/-],
 *     unique in the list.  stratum: 0-200 bytes of printable ASCII but '"' (not trimmed).
 *     arm, treatment: 1-32 of [A-Za-z0-9._-].  block.id: a decimal integer 1..2^53 (leading
 *     zeros allowed: 01 and 1 are one block).  block.size: a decimal integer 1..1000.
 *   - blockrand: the rows of one block (same stratum and block.id) are consecutive, all give
 *     the same block.size, and there are exactly block.size of them (the last block of a stratum
 *     and of the list too); a block.id that comes back later in the same stratum is refused.  The
 *     same block.id in different strata are different blocks.
 *   - At most 4096 bytes per line (line end excluded) and 1,000,000 data lines; no NUL byte,
 *     valid UTF-8 throughout; at least one data line.
 *
 * Blinding: every data line carries an arm, secret in blinded trials.  No message quotes any
 * byte of a data line, nor a whole line: messages name the line and the field only ("randomization
 * list line 7, field arm: not a valid arm code", "randomization list line 9, field
 * randomization_number: repeats line 3").  Only unknown column names of a header are quoted (at
 * most 40 bytes, escaped as ctm__csv_quote does), and only when the line has at least one known
 * column name, so that a list without its header (line 1 holding an arm) shows nothing.
 */
#ifndef CTM_RANDLIST_H
#define CTM_RANDLIST_H

#include <stddef.h>
#include <stdint.h>

enum ctm__randlist_format {
    CTM__RANDLIST_DETECT = 0,    /* to ctm__randlist_parse only: take the format from the header */
    CTM__RANDLIST_SPONSOR = 1,
    CTM__RANDLIST_BLOCKRAND = 2,
    CTM__RANDLIST_KITS = 3,
};

/* One row.  The strings are NUL-terminated and owned by the list (valid until
 * ctm__randlist_free). */
typedef struct ctm__randlist_row {
    uint32_t line;          /* line in the text, header is line 1 */
    const char *number;     /* sponsor: randomization_number; blockrand: id; kits: kit_number */
    const char *stratum;    /* sponsor/blockrand: the stratum label as given ("" allowed); kits: NULL */
    const char *arm;        /* sponsor: arm; blockrand: treatment; kits: arm */
    int64_t block_id;       /* blockrand: block.id (>= 1); else 0 */
    int block_size;         /* blockrand: block.size (1..1000); else 0 */
} ctm__randlist_row;

/* A parsed list: n >= 1 rows in the order of the text.  arena_ is private. */
typedef struct ctm__randlist {
    enum ctm__randlist_format format;  /* the format parsed (detected when asked) */
    size_t n;
    ctm__randlist_row *rows;
    void *arena_;
} ctm__randlist;

/* Parse len bytes of text (not necessarily NUL-terminated; NULL only with len 0) in format fmt
 * (or the header's with CTM__RANDLIST_DETECT) into *l, which is overwritten.  The list keeps its
 * own copies: text may be freed afterwards.  On failure *l is left zeroed and holds nothing.
 * Returns CTM_OK, CTM_EINVAL (ctm_errmsg() names the line and, where it applies, the field:
 * "randomization list line 7, field arm: not a valid arm code"; "randomization list: no rows" for
 * a header alone; "randomization list: empty (no header)"; an fmt outside the enum) or
 * CTM_ENOMEM. */
int ctm__randlist_parse(ctm__randlist *l, enum ctm__randlist_format fmt, const char *text,
                        size_t len);

/* Release everything the list holds and zero it.  Harmless on NULL, on a zeroed list and on one
 * whose parse failed. */
void ctm__randlist_free(ctm__randlist *l);

#endif
