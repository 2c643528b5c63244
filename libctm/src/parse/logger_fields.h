/* logger_fields.h - the fields of a delimited line, as the logger file formats that are exported
 * by spreadsheets and vendor software read them (logger_fields.c; used by logger_csv.c and
 * logger_logtag.c).
 *
 * The rules they share:
 *   - A line's separator is a tab if it has one, else ';' if it has one, else ',' (the generic
 *     CSV takes its first line's for the whole file, a LogTag export its column header row's).
 *   - A field may be enclosed in double quotes (then it may hold the separator: "4,5" with ','),
 *     without quotes inside; text after the closing quote, or a quote inside an unquoted field,
 *     breaks the line.  Blanks around a field are not part of it.
 *   - A unit is named by a degree sign before C or F (UTF-8, or a Windows code page's \xb0), or
 *     by a word: C, degC, Celsius, F, degF, Fahrenheit (any case).  Letters and digits make a
 *     word: "F1" or "C2" (a fridge's name) names no unit.
 */
#ifndef CTM_LOGGER_FIELDS_H
#define CTM_LOGGER_FIELDS_H

#include <stddef.h>

/* n bytes at s, inside the line (not NUL-terminated). */
typedef struct ctm__logger_field {
    const char *s;
    size_t n;
} ctm__logger_field;

/* The separator of the line s (n bytes). */
char ctm__logger_separator(const char *s, size_t n);

/* f without the blanks (space, tab, CR) at either end. */
void ctm__logger_trim(ctm__logger_field *f);

/* Up to max fields of the line into f; the count of fields (max + 1 when there are more), or -1
 * for a broken quote. */
int ctm__logger_split(const char *s, size_t n, char sep, ctm__logger_field *f, int max);

/* 1 when s (n bytes) is word, in any case (word in lower case). */
int ctm__logger_ieq(const char *s, size_t n, const char *word);

/* 'C', 'F' or 0: the unit the text names (a column's title, a header's value). */
char ctm__logger_unit_named(const char *s, size_t n);

#endif
