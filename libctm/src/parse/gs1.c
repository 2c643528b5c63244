/*
 * gs1.c - GS1 element strings as scanners deliver them and as people type them.
 *
 * One pass over the input: each element is an AI (bare digits, or in brackets in the
 * human-readable form) and its value.  The AIs whose first two digits are in the GS1 table of
 * predefined lengths (00-04, 11-20, 31-36, 41) take exactly their length; every other value runs
 * to the next GS (FNC1), or to the next '(' in the bracketed form, or to the end, and is then held
 * to its AI's lengths.  Checks that need the whole string (companion AIs, the expiry) come last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs1.h"
#include "core.h"

#define GS1_GS 0x1d
#define GS1_MAX_INPUT 512
/* An element takes at least three bytes (two-digit AI, one character). */
#define GS1_MAX_FIELDS (GS1_MAX_INPUT / 3 + 1)

enum gs1_kind {
    GS1_NUM,      /* digits */
    GS1_CHECKED,  /* digits, the last a GS1 mod-10 check digit */
    GS1_CSET82,   /* GS1 AI encodable character set 82 */
    GS1_DATE,     /* YYMMDD, DD 00 when there is no day (the last day of the month for an expiry) */
    GS1_DATETIME, /* YYMMDDhhmm */
};

struct gs1_ai {
    char ai[5];
    unsigned char kind;
    unsigned char min, max; /* value lengths */
};

/* The AIs a pharmacy meets on packs, cases and pallets (GS1 General Specifications, section 3).
 * No AI is a prefix of another, which is what lets bare AIs be read without a separator. */
static const struct gs1_ai ai_table[] = {
    { "00", GS1_CHECKED, 18, 18 },  /* SSCC */
    { "01", GS1_CHECKED, 14, 14 },  /* GTIN */
    { "02", GS1_CHECKED, 14, 14 },  /* GTIN of contained trade items */
    { "03", GS1_CHECKED, 14, 14 },  /* GTIN of a made-to-order item */
    { "10", GS1_CSET82, 1, 20 },    /* batch or lot */
    { "11", GS1_DATE, 6, 6 },       /* production date */
    { "12", GS1_DATE, 6, 6 },       /* due date */
    { "13", GS1_DATE, 6, 6 },       /* packaging date */
    { "15", GS1_DATE, 6, 6 },       /* best before */
    { "16", GS1_DATE, 6, 6 },       /* sell by */
    { "17", GS1_DATE, 6, 6 },       /* expiry */
    { "20", GS1_NUM, 2, 2 },        /* internal product variant */
    { "21", GS1_CSET82, 1, 20 },    /* serial number */
    { "22", GS1_CSET82, 1, 20 },    /* consumer product variant */
    { "235", GS1_CSET82, 1, 28 },   /* third-party serial extension */
    { "240", GS1_CSET82, 1, 30 },   /* additional product identification */
    { "241", GS1_CSET82, 1, 30 },   /* customer part number */
    { "242", GS1_NUM, 1, 6 },       /* made-to-order variation */
    { "243", GS1_CSET82, 1, 20 },   /* packaging component number */
    { "250", GS1_CSET82, 1, 30 },   /* secondary serial number */
    { "251", GS1_CSET82, 1, 30 },   /* reference to source entity */
    { "254", GS1_CSET82, 1, 20 },   /* GLN extension */
    { "30", GS1_NUM, 1, 8 },        /* variable count */
    { "37", GS1_NUM, 1, 8 },        /* count of trade items */
    { "400", GS1_CSET82, 1, 30 },   /* customer's purchase order number */
    { "401", GS1_CSET82, 1, 30 },   /* consignment number */
    { "402", GS1_CHECKED, 17, 17 }, /* shipment identification */
    { "403", GS1_CSET82, 1, 30 },   /* routing code */
    { "410", GS1_CHECKED, 13, 13 }, /* ship to GLN */
    { "411", GS1_CHECKED, 13, 13 }, /* bill to GLN */
    { "412", GS1_CHECKED, 13, 13 }, /* purchased from GLN */
    { "413", GS1_CHECKED, 13, 13 }, /* ship for GLN */
    { "414", GS1_CHECKED, 13, 13 }, /* physical location GLN */
    { "415", GS1_CHECKED, 13, 13 }, /* invoicing party GLN */
    { "416", GS1_CHECKED, 13, 13 }, /* production or service location GLN */
    { "417", GS1_CHECKED, 13, 13 }, /* party GLN */
    { "420", GS1_CSET82, 1, 20 },   /* ship to postal code */
    { "422", GS1_NUM, 3, 3 },       /* country of origin */
    { "7003", GS1_DATETIME, 10, 10 }, /* expiry date and time */
    { "7240", GS1_CSET82, 1, 20 },  /* protocol */
    { "8004", GS1_CSET82, 1, 30 },  /* GIAI */
    { "8020", GS1_CSET82, 1, 25 },  /* payment slip reference */
    { "90", GS1_CSET82, 1, 30 },    /* mutually agreed between trading partners */
    { "91", GS1_CSET82, 1, 90 },    /* 91-99: company internal */
    { "92", GS1_CSET82, 1, 90 },
    { "93", GS1_CSET82, 1, 90 },
    { "94", GS1_CSET82, 1, 90 },
    { "95", GS1_CSET82, 1, 90 },
    { "96", GS1_CSET82, 1, 90 },
    { "97", GS1_CSET82, 1, 90 },
    { "98", GS1_CSET82, 1, 90 },
    { "99", GS1_CSET82, 1, 90 },
};
#define N_AIS (sizeof ai_table / sizeof ai_table[0])

struct gs1_field {
    char ai[5];
    const char *value; /* into ctm_gs1.text */
};

struct ctm_gs1 {
    int n;
    struct gs1_field f[GS1_MAX_FIELDS];
    char expiry[11]; /* "YYYY-MM-DD" or "" */
    size_t used;
    char text[GS1_MAX_INPUT + 1]; /* the values, each NUL-terminated: never more than the input */
};

/* ---- the AI table ---- */

/* Trade measures 31nn-36nn (n: decimals, 0-5): six digits, predefined length. */
static int is_measure(const char *ai)
{
    static const char *const families[] = { "310", "311", "312", "313", "314", "315", "316",
                                            "320", "321", "322", "323", "324", "325", "326",
                                            "327", "328", "329", "330", "331", "332", "333",
                                            "334", "335", "336", "337", "340", "341", "342",
                                            "343", "344", "345", "346", "347", "348", "349",
                                            "350", "351", "352", "353", "354", "355", "356",
                                            "357", "360", "361", "362", "363", "364", "365",
                                            "366", "367", "368", "369" };
    if (strlen(ai) != 4 || ai[3] < '0' || ai[3] > '5')
        return 0;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (strncmp(ai, families[i], 3) == 0)
            return 1;
    }
    return 0;
}

/* The AI spelled by the n digits at p, into *out; 0 when there is none. */
static int ai_find(const char *p, size_t n, struct gs1_ai *out)
{
    char ai[5];
    if (n < 2 || n > 4)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
    }
    memcpy(ai, p, n);
    ai[n] = '\0';
    for (size_t i = 0; i < N_AIS; i++) {
        if (strcmp(ai_table[i].ai, ai) == 0) {
            *out = ai_table[i];
            return 1;
        }
    }
    if (is_measure(ai)) {
        memcpy(out->ai, ai, sizeof ai);
        out->kind = GS1_NUM;
        out->min = out->max = 6;
        return 1;
    }
    if (n == 4 && (strncmp(ai, "390", 3) == 0 || strncmp(ai, "392", 3) == 0)) {
        memcpy(out->ai, ai, sizeof ai); /* amount payable, in the local or one currency */
        out->kind = GS1_NUM;
        out->min = 1;
        out->max = 15;
        return 1;
    }
    return 0;
}

/* Whether the AI's first two digits are in the GS1 table of predefined lengths: such a value
 * needs no separator after it. */
static int ai_predefined(const char *ai)
{
    static const char *const prefixes[] = { "00", "01", "02", "03", "04", "11", "12", "13",
                                            "14", "15", "16", "17", "18", "19", "20", "31",
                                            "32", "33", "34", "35", "36", "41" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(ai, prefixes[i], 2) == 0)
            return 1;
    }
    return 0;
}

/* ---- messages ---- */

#define SHOWN_MAX 200 /* 40 characters of at most 4 bytes each, and "..." */

/* Text for a message: at most 40 characters of p[0..n), GS as <GS>, other non-printable bytes
 * as \xNN, so that a message never carries control bytes. */
static const char *shown(char *buf, size_t size, const char *p, size_t n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at + 8 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        if (i == 40) {
            snprintf(buf + at, size - at, "...");
            break;
        }
        if (c == GS1_GS)
            at += (size_t)snprintf(buf + at, size - at, "<GS>");
        else if (c < 0x20 || c >= 0x7f)
            at += (size_t)snprintf(buf + at, size - at, "\\x%02x", c);
        else
            at += (size_t)snprintf(buf + at, size - at, "%c", c);
    }
    return buf;
}

/* A rejection that shows the input from p on. */
static int reject_at(const char *what, const char *p)
{
    char s[SHOWN_MAX];
    return ctm__err(CTM_EINVAL, "GS1: %s at %s", what, shown(s, sizeof s, p, strlen(p)));
}

static int reject_value(const struct gs1_ai *ai, const char *v, size_t n, const char *reason)
{
    char s[SHOWN_MAX];
    return ctm__err(CTM_EINVAL, "GS1 (%s): %s in %s", ai->ai, reason, shown(s, sizeof s, v, n));
}

/* ---- values ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t ctm__gs1_cset82_bad(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ctm__gs1_cset82_char((unsigned char)s[i]))
        i++;
    return i;
}

int ctm__gs1_cset82_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!\"%&'()*+,-./:;<=>?_", c) != NULL);
}

static int two_digits(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* GS1 General Specifications 7.12: the century that puts a two-digit year within
 * reference - 49 .. reference + 50. */
static int full_year(int yy, int reference)
{
    int century = reference - reference % 100;
    int diff = yy - reference % 100;
    if (diff >= 51)
        century -= 100;
    else if (diff <= -50)
        century += 100;
    return century + yy;
}

/* Check YYMMDD at v (digits already checked) and give the date it stands for; day 00 is the
 * last day of the month where the AI allows it. */
static int check_date(const struct gs1_ai *ai, const char *v, size_t n, int day00_ok,
                      int reference, int *year, int *month, int *day)
{
    char why[96];
    *year = full_year(two_digits(v), reference);
    *month = two_digits(v + 2);
    *day = two_digits(v + 4);
    if (*month < 1 || *month > 12) {
        snprintf(why, sizeof why, "month %02d", *month);
        return reject_value(ai, v, n, why);
    }
    int last = ctm__days_in_month(*year, *month);
    if (*day == 0 && day00_ok) {
        *day = last;
        return CTM_OK;
    }
    if (*day < 1 || *day > last) {
        snprintf(why, sizeof why, "day %02d (%04d-%02d has %d days)", *day, *year, *month, last);
        return reject_value(ai, v, n, why);
    }
    return CTM_OK;
}

int ctm__gs1_check_digit(const char *v, size_t n, char *expected)
{
    int sum = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        int weight = (n - 1 - i) % 2 == 1 ? 3 : 1; /* 3 on the digit next to the check digit */
        sum += (v[i] - '0') * weight;
    }
    *expected = (char)('0' + (10 - sum % 10) % 10);
    return v[n - 1] == *expected;
}

static int check_length(const struct gs1_ai *ai, const char *v, size_t n)
{
    char why[96];
    const char *unit = ai->kind == GS1_CSET82 ? "characters" : "digits";
    if (n == 0)
        return ctm__err(CTM_EINVAL, "GS1 (%s): no value", ai->ai);
    if (n >= ai->min && n <= ai->max)
        return CTM_OK;
    if (ai->min == ai->max)
        snprintf(why, sizeof why, "%zu %s where %u are needed", n, unit, ai->max);
    else if (n > ai->max)
        snprintf(why, sizeof why, "too long: %zu %s, at most %u allowed", n, unit, ai->max);
    else
        snprintf(why, sizeof why, "too short: %zu %s, at least %u needed", n, unit, ai->min);
    return reject_value(ai, v, n, why);
}

static int check_characters(const struct gs1_ai *ai, const char *v, size_t n)
{
    char why[96], c[SHOWN_MAX];
    for (size_t i = 0; i < n; i++) {
        int ok = ai->kind == GS1_CSET82 ? ctm__gs1_cset82_char((unsigned char)v[i]) : is_digit(v[i]);
        if (ok)
            continue;
        snprintf(why, sizeof why, "'%s' is %s", shown(c, sizeof c, v + i, 1),
                 ai->kind == GS1_CSET82 ? "outside the GS1 character set 82" : "not a digit");
        return reject_value(ai, v, n, why);
    }
    return CTM_OK;
}

static int check_value(const struct gs1_ai *ai, const char *v, size_t n, int reference)
{
    int rc = check_length(ai, v, n);
    if (rc == CTM_OK)
        rc = check_characters(ai, v, n);
    if (rc != CTM_OK)
        return rc;
    int year, month, day;
    char expected, why[96];
    switch (ai->kind) {
    case GS1_CHECKED:
        if (ctm__gs1_check_digit(v, n, &expected))
            return CTM_OK;
        snprintf(why, sizeof why, "bad check digit %c (expected %c)", v[n - 1], expected);
        return reject_value(ai, v, n, why);
    case GS1_DATE:
        return check_date(ai, v, n, 1, reference, &year, &month, &day);
    case GS1_DATETIME:
        rc = check_date(ai, v, n, 0, reference, &year, &month, &day);
        if (rc == CTM_OK && two_digits(v + 6) > 23) {
            snprintf(why, sizeof why, "hour %02d", two_digits(v + 6));
            rc = reject_value(ai, v, n, why);
        }
        if (rc == CTM_OK && two_digits(v + 8) > 59) {
            snprintf(why, sizeof why, "minute %02d", two_digits(v + 8));
            rc = reject_value(ai, v, n, why);
        }
        return rc;
    default:
        return CTM_OK;
    }
}

/* ---- the element string ---- */

struct gs1_cursor {
    const char *p;
    int bracketed; /* the human-readable form: '(' starts an AI, "\(" is a '(' in a value */
    int reference; /* year around which two-digit years are resolved */
};

/* Whether the value being read ends at p. */
static int ends_value(const struct gs1_cursor *c, const char *p)
{
    return *p == '\0' || *p == GS1_GS || (c->bracketed && *p == '(');
}

/* "(01)": the AI in brackets. */
static int read_bracketed_ai(struct gs1_cursor *c, struct gs1_ai *ai)
{
    const char *start = c->p + 1;
    size_t n = strcspn(start, ")");
    if (start[n] != ')' || n < 2 || n > 4 || strspn(start, "0123456789") != n)
        return reject_at("no AI in brackets", c->p);
    if (!ai_find(start, n, ai))
        return ctm__err(CTM_EINVAL, "GS1 (%.*s): unknown AI", (int)n, start);
    c->p = start + n + 1;
    c->bracketed = 1; /* from here on '(' starts the next AI */
    return CTM_OK;
}

/* A bare AI: GS1 AIs are two to four digits and none is a prefix of another. */
static int read_bare_ai(struct gs1_cursor *c, struct gs1_ai *ai)
{
    size_t digits = strspn(c->p, "0123456789");
    for (size_t n = 2; n <= digits && n <= 4; n++) {
        if (ai_find(c->p, n, ai)) {
            c->p += n;
            return CTM_OK;
        }
    }
    if (*c->p == GS1_GS)
        return reject_at("an empty element (two separators)", c->p);
    if (digits < 2)
        return reject_at("no AI", c->p);
    return ctm__err(CTM_EINVAL, "GS1 (%.*s): unknown AI", digits < 4 ? (int)digits : 4, c->p);
}

/* Copy the value at the cursor into g->text: at most max characters when the AI's length is
 * predefined, else up to its end.  In the bracketed form "\(" stands for '('. */
static const char *read_value(struct gs1_cursor *c, ctm_gs1 *g, size_t max, size_t *len)
{
    char *out = g->text + g->used;
    size_t n = 0;
    while (n < max && !ends_value(c, c->p)) {
        if (c->bracketed && c->p[0] == '\\' && c->p[1] == '(')
            c->p++;
        out[n++] = *c->p++;
    }
    out[n] = '\0';
    g->used += n + 1;
    *len = n;
    return out;
}

static const char *field_get(const ctm_gs1 *g, const char *ai)
{
    for (int i = 0; i < g->n; i++) {
        if (strcmp(g->f[i].ai, ai) == 0)
            return g->f[i].value;
    }
    return NULL;
}

/* Record a field; the same AI again must carry the same value, and is then kept once. */
static int add_field(ctm_gs1 *g, const struct gs1_ai *ai, const char *v, size_t n)
{
    const char *known = field_get(g, ai->ai);
    if (known && strcmp(known, v) != 0) {
        char a[SHOWN_MAX], b[SHOWN_MAX];
        return ctm__err(CTM_EINVAL, "GS1 (%s): given twice, as %s and as %s", ai->ai,
                        shown(a, sizeof a, known, strlen(known)), shown(b, sizeof b, v, n));
    }
    if (known)
        return CTM_OK;
    if (g->n >= GS1_MAX_FIELDS)
        return ctm__err(CTM_EINVAL, "GS1 (%s): too many elements", ai->ai);
    memcpy(g->f[g->n].ai, ai->ai, sizeof ai->ai);
    g->f[g->n].value = v;
    g->n++;
    return CTM_OK;
}

static int parse_element(struct gs1_cursor *c, ctm_gs1 *g)
{
    struct gs1_ai ai = { "", 0, 0, 0 };
    size_t n = 0;
    int rc = *c->p == '(' ? read_bracketed_ai(c, &ai) : read_bare_ai(c, &ai);
    if (rc != CTM_OK)
        return rc;
    const char *v = read_value(c, g, ai_predefined(ai.ai) ? ai.max : (size_t)GS1_MAX_INPUT, &n);
    if (*c->p == GS1_GS)
        c->p++; /* the separator, or one tolerated after a predefined-length value */
    rc = check_value(&ai, v, n, c->reference);
    return rc == CTM_OK ? add_field(g, &ai, v, n) : rc;
}

/* "]d2" (GS1 DataMatrix), "]Q3" (GS1 QR Code), "]C1" (GS1-128) before the data. */
static int skip_symbology(struct gs1_cursor *c)
{
    static const char *const gs1_ids[] = { "]d2", "]Q3", "]C1" };
    char s[SHOWN_MAX];
    if (*c->p != ']')
        return CTM_OK;
    for (size_t i = 0; i < sizeof gs1_ids / sizeof gs1_ids[0]; i++) {
        if (strncmp(c->p, gs1_ids[i], 3) == 0) {
            c->p += 3;
            return CTM_OK;
        }
    }
    return ctm__err(CTM_EINVAL, "GS1: symbology identifier %s: not a GS1 symbology",
                    shown(s, sizeof s, c->p, strnlen(c->p, 3)));
}

/* AIs that only mean something next to another: a batch or expiry of no item is no data. */
static int check_companions(const ctm_gs1 *g)
{
    static const struct {
        const char *ai, *what, *needs[3];
    } rules[] = {
        { "21", "a serial number", { "01", "03", NULL } },
        { "10", "a batch", { "01", "02", "03" } },
        { "17", "an expiry", { "01", "02", "03" } },
        { "7003", "an expiry", { "01", "02", "03" } },
        { "7240", "a protocol", { "01", NULL, NULL } },
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!field_get(g, rules[i].ai))
            continue;
        int found = 0;
        for (int k = 0; k < 3 && rules[i].needs[k]; k++)
            found |= field_get(g, rules[i].needs[k]) != NULL;
        if (!found)
            return ctm__err(CTM_EINVAL, "GS1 (%s): %s without the GTIN (%s) it belongs to",
                            rules[i].ai, rules[i].what, rules[i].needs[0]);
    }
    return CTM_OK;
}

static void put_digits(char *out, int value, int n)
{
    for (int i = n - 1; i >= 0; i--, value /= 10)
        out[i] = (char)('0' + value % 10);
}

/* The expiry as an ISO date, from (17) or else from (7003); values are already checked. */
static void resolve_expiry(ctm_gs1 *g, int reference)
{
    const char *v = field_get(g, "17");
    if (!v)
        v = field_get(g, "7003");
    if (!v)
        return;
    int year = full_year(two_digits(v), reference), month = two_digits(v + 2);
    int day = two_digits(v + 4);
    if (day == 0)
        day = ctm__days_in_month(year, month);
    put_digits(g->expiry, year, 4);
    g->expiry[4] = '-';
    put_digits(g->expiry + 5, month, 2);
    g->expiry[7] = '-';
    put_digits(g->expiry + 8, day, 2);
    g->expiry[10] = '\0';
}

int ctm__gs1_parse_at(ctm_gs1 **out, const char *input, int reference_year)
{
    ctm__clear_error();
    if (out == NULL)
        return ctm__err(CTM_EINVAL, "GS1: out: NULL");
    *out = NULL;
    if (input == NULL)
        return ctm__err(CTM_EINVAL, "GS1: no input");
    if (reference_year < 1000 || reference_year > 9899)
        return ctm__err(CTM_EINVAL, "GS1: reference year %d out of range", reference_year);
    if (strnlen(input, GS1_MAX_INPUT + 1) > GS1_MAX_INPUT)
        return ctm__err(CTM_EINVAL, "GS1: more than %d bytes", GS1_MAX_INPUT);
    struct gs1_cursor c = { input, 0, reference_year };
    int rc = skip_symbology(&c);
    if (rc != CTM_OK)
        return rc;
    if (*c.p == GS1_GS)
        c.p++; /* some scanners send the leading FNC1 */
    if (*c.p == '\0')
        return ctm__err(CTM_EINVAL, "GS1: no element string");
    c.bracketed = *c.p == '(';
    ctm_gs1 *g = calloc(1, sizeof *g);
    if (g == NULL)
        return ctm__err(CTM_ENOMEM, "GS1: out of memory");
    while (rc == CTM_OK && *c.p != '\0')
        rc = parse_element(&c, g);
    if (rc == CTM_OK)
        rc = check_companions(g);
    if (rc != CTM_OK) {
        free(g);
        return rc;
    }
    resolve_expiry(g, reference_year);
    *out = g;
    return CTM_OK;
}

int ctm_gs1_parse(ctm_gs1 **out, const char *input)
{
    time_t now = (time_t)(ctm__now_us() / 1000000);
    struct tm tm;
    gmtime_r(&now, &tm);
    return ctm__gs1_parse_at(out, input, tm.tm_year + 1900);
}

/* ---- reading a parse ---- */

int ctm_gs1_count(const ctm_gs1 *g)
{
    return g ? g->n : 0;
}

const char *ctm_gs1_ai(const ctm_gs1 *g, int i)
{
    return g && i >= 0 && i < g->n ? g->f[i].ai : NULL;
}

const char *ctm_gs1_value(const ctm_gs1 *g, int i)
{
    return g && i >= 0 && i < g->n ? g->f[i].value : NULL;
}

const char *ctm_gs1_get(const ctm_gs1 *g, const char *ai)
{
    return g && ai ? field_get(g, ai) : NULL;
}

const char *ctm_gs1_expiry(const ctm_gs1 *g)
{
    return g && g->expiry[0] ? g->expiry : NULL;
}

void ctm_gs1_free(ctm_gs1 *g)
{
    free(g);
}

/* ---- JSON: measured first (out NULL), then written ---- */

static size_t put(char *out, size_t at, const char *s)
{
    size_t n = strlen(s);
    if (out)
        memcpy(out + at, s, n);
    return at + n;
}

static size_t put_string(char *out, size_t at, const char *s)
{
    char esc[8];
    if (s == NULL)
        return put(out, at, "null");
    at = put(out, at, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p, esc[2] = '\0';
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p, esc[1] = '\0';
        }
        at = put(out, at, esc);
    }
    return put(out, at, "\"");
}

static size_t render_json(char *out, const ctm_gs1 *g)
{
    size_t at = put(out, 0, "{\"ai\":{");
    for (int i = 0; i < g->n; i++) {
        at = put(out, at, i ? "," : "");
        at = put_string(out, at, g->f[i].ai);
        at = put(out, at, ":");
        at = put_string(out, at, g->f[i].value);
    }
    at = put(out, at, "},\"gtin\":");
    at = put_string(out, at, field_get(g, "01"));
    at = put(out, at, ",\"lot\":");
    at = put_string(out, at, field_get(g, "10"));
    at = put(out, at, ",\"serial\":");
    at = put_string(out, at, field_get(g, "21"));
    at = put(out, at, ",\"expiry\":");
    at = put_string(out, at, ctm_gs1_expiry(g));
    return put(out, at, "}");
}

int ctm_gs1_json(char **json, const ctm_gs1 *g)
{
    ctm__clear_error();
    if (json == NULL)
        return ctm__err(CTM_EINVAL, "GS1 JSON: json: NULL");
    *json = NULL;
    if (g == NULL)
        return ctm__err(CTM_EINVAL, "GS1 JSON: no parse");
    size_t n = render_json(NULL, g);
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return ctm__err(CTM_ENOMEM, "GS1 JSON: out of memory");
    render_json(buf, g);
    buf[n] = '\0';
    *json = buf;
    return CTM_OK;
}
