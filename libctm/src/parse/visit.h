/* visit.h - the texts of a visit schedule and of dose titration (visit.c): a visit's window, the
 * kits a visit dispenses and a trial's dose levels.
 *
 * Window: "-3..+3": the days a visit may come before its target day, "..", the days after it.
 *   The first part is "0" or "-N", the second "N" or "+N"; N is 1 to 3 decimal digits, 0 to 365.
 *   Nothing is trimmed.  "-3..3", "0..+7" and "-0..0" are fine; "3..5", "-3..-1", "-3" are not.
 * Kits: "KITTYPE:N[,KITTYPE:N]...": at most CTM__VISIT_MAX_KITS items separated by ','; a kit
 *   type code (1-64 of [A-Za-z0-9._@-], case-sensitive), ':', and how many kits of it, 1 to 100
 *   (1 to 3 digits).  No kit type twice.  The word DOSE (CTM__VISIT_DOSE) in place of a kit type
 *   means the kit type of the subject's dose level at the visit (dose titration), so no kit type
 *   coded DOSE can be named in a schedule.
 * Levels: "KT5,KT10,KT20": 1 to CTM__DOSE_MAX_LEVELS kit type codes separated by ',', lowest dose
 *   first, no code twice, never DOSE; level 1 is the first.
 *
 * Messages begin with the field ("window: ", "kits: ", "dose levels: "), name the item and the
 * position (1-based byte offset in the text) of what is wrong, and quote at most
 * CTM__CSV_QUOTE_MAX bytes of it as ctm__csv_quote does.  Nothing here is secret.
 */
#ifndef CTM_VISIT_H
#define CTM_VISIT_H

#include <stddef.h>

#define CTM__VISIT_MAX_WINDOW 365
#define CTM__VISIT_MAX_KITS 8
#define CTM__VISIT_MAX_COUNT 100
#define CTM__DOSE_MAX_LEVELS 16
#define CTM__KIT_CODE_MAX 64
#define CTM__VISIT_DOSE "DOSE"
/* Bytes (NUL included) that always hold ctm__kits_format's text and a ctm__window_format. */
#define CTM__KITS_TEXT_MAX (CTM__VISIT_MAX_KITS * (CTM__KIT_CODE_MAX + 5))
#define CTM__WINDOW_TEXT_MAX 12

/* One item of a kits text: a kit type code, or dose set and code "DOSE". */
typedef struct ctm__kit_item {
    char code[CTM__KIT_CODE_MAX + 1];
    int count;
    int dose;
} ctm__kit_item;

/* The items in text order; zero beyond them, so that two parses of one text compare equal. */
typedef struct ctm__kit_spec {
    int n;
    ctm__kit_item item[CTM__VISIT_MAX_KITS];
} ctm__kit_spec;

/* Parse a window into *before and *after (days, each 0..365).  CTM_OK or CTM_EINVAL naming the
 * part and position; NULL or "" is refused ("window: missing").  On failure both are 0. */
int ctm__window_parse(const char *text, int *before, int *after);
/* The canonical text "-B..+A" of a window ("-0..+0" for none) into out; CTM_EINVAL when a value
 * is outside 0..365 (out is then ""). */
int ctm__window_format(int before, int after, char out[CTM__WINDOW_TEXT_MAX]);

/* Parse a kits text into *s (overwritten).  CTM_OK or CTM_EINVAL naming the item and position;
 * NULL or "" is refused.  On failure *s is zeroed (n 0). */
int ctm__kits_parse(ctm__kit_spec *s, const char *text);
/* The canonical text of s ("KT10:1,DOSE:2", items in order, counts without leading zeros) into
 * out (n bytes; CTM__KITS_TEXT_MAX always suffice).  CTM_EINVAL when out is too small or s is
 * not a parsed spec; out is then "" when n > 0. */
int ctm__kits_format(const ctm__kit_spec *s, char *out, size_t n);

/* Parse a levels text into codes[0..*n), lowest dose first.  CTM_OK or CTM_EINVAL naming the
 * level and position; NULL or "" is refused.  On failure *n is 0 and codes are zeroed. */
int ctm__levels_parse(const char *text, char codes[CTM__DOSE_MAX_LEVELS][CTM__KIT_CODE_MAX + 1],
                      int *n);

#endif
