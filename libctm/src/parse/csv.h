/* csv.h - RFC 4180 CSV lines for the parsers of imported files (csv.c): manifests, randomization
 * lists, and whatever CSV comes next.
 *
 * The dialect every such file shares:
 *   - Fields are separated by ',' and may be quoted with '"' ('""' inside quotes is one '"').
 *     A quoted field may not hold a line break: a record is one line.  A quote inside an
 *     unquoted field, or text after a closing quote, is refused.  Fields are not trimmed.
 *   - Lines end in LF or CRLF (a CR not followed by LF is an ordinary byte of the line); the last
 *     line end is optional.  A UTF-8 byte order mark at the very start of the text is skipped.
 *   - Every line is checked before it is split: at most max_line bytes (line end excluded), no
 *     NUL byte, valid UTF-8.
 *   - Line 1 may not be blank; blank lines at the end are ignored; a blank line followed by a
 *     non-blank one is refused (a file cut and pasted together, or a second table).
 *
 * Blinding: the files may carry secret values (arms).  No message of this module quotes any byte
 * of the text; ctm__csv_split reports the position of a bad field, and the caller decides what,
 * if anything, of a line may be quoted (ctm__csv_quote formats it).
 */
#ifndef CTM_CSV_H
#define CTM_CSV_H

#include <stddef.h>
#include <stdint.h>

/* ---- splitting one line ---- */

/* A decoded field: len bytes at s, NUL-terminated (s[len] == '\0'); it may hold '"' and ','. */
typedef struct ctm__csv_field {
    char *s;
    size_t len;
} ctm__csv_field;

/* Where a line's quoting is broken: the field (0-based), the byte of the line (0-based) where
 * the fault was seen, and a fixed text saying what is wrong (quotes nothing of the line). */
typedef struct ctm__csv_bad {
    size_t field;
    size_t offset;
    const char *why;
} ctm__csv_bad;

/* Split the line s of n bytes (line end removed) into fields decoded into out, which has room
 * for n + 1 bytes (the decoded fields never need more: each drops at least its separator or its
 * quotes for its NUL).  The first maxf fields are described in f; *nf counts all of them (a line
 * has at least one field: "" is one empty field).  Fields past maxf take no room in out.
 * Returns 0, or -1 on a quoting error with *bad set (out and f then hold garbage). */
int ctm__csv_split(const char *s, size_t n, char *out, ctm__csv_field *f, size_t maxf, size_t *nf,
                   ctm__csv_bad *bad);

/* ---- reading lines ---- */

/* A text read line by line.  Set up by ctm__csv_init; the caller reads line (the number of the
 * line last returned, 1-based, 0 before the first) and nothing else. */
typedef struct ctm__csv_reader {
    const char *what;  /* the text's name in messages: "manifest" gives "manifest line 7: ..." */
    const char *text;
    size_t len, pos, max_line;
    uint64_t line;
    uint64_t blank_;   /* the first blank line since the last non-blank one, 0 if none */
} ctm__csv_reader;

/* Read len bytes of text (not NUL-terminated; NULL only with len 0), lines of at most max_line
 * bytes.  what must outlive the reader; text is not copied. */
void ctm__csv_init(ctm__csv_reader *r, const char *what, const char *text, size_t len,
                   size_t max_line);

/* The next non-blank line: CTM_OK with *s and *n (line end removed; n >= 1), or CTM_OK with *s
 * NULL at the end of the text (r->line == 0 then when the text had no line at all, e.g. only a
 * byte order mark).  CTM_EINVAL when the next line breaks a rule above: "<what> line 7: longer
 * than 4096 bytes", "...: NUL byte", "...: not valid UTF-8", "<what> line 1: blank where the
 * header belongs", "<what> line 3: blank line inside the <what>" (naming the first blank line). */
int ctm__csv_next(ctm__csv_reader *r, const char **s, size_t *n);

/* The number of lines of the text (line ends + 1), counting stops above cap: sizing arrays up
 * front spares growing them. */
size_t ctm__csv_count_lines(const char *text, size_t len, size_t cap);

/* ---- quoting a field in a message ---- */

#define CTM__CSV_QUOTE_MAX 40                           /* bytes of a field quoted */
#define CTM__CSV_QUOTE_SIZE (CTM__CSV_QUOTE_MAX * 4 + 8) /* room ctm__csv_quote needs */

/* 'value' for a message: at most CTM__CSV_QUOTE_MAX bytes of s, bytes outside printable ASCII
 * (and ' and \) as \xNN, "..." after the closing quote when cut.  Never for a secret value. */
void ctm__csv_quote(char out[CTM__CSV_QUOTE_SIZE], const char *s, size_t n);

#endif
