/* manifest.c - a shipment manifest (RFC 4180 CSV) parsed into kits, every field checked.
 *
 * One pass over the text, line by line.  Each data line is decoded straight into an arena block
 * (fields NUL-terminated in place), so a manifest costs one block chain, one row array and a
 * transient hash set of kit numbers and serials, never an allocation per field. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "csv.h"
#include "gs1.h"
#include "manifest.h"

#define MANIFEST_MAX_LINE 4096     /* bytes per line, line end excluded */
#define MANIFEST_MAX_KITS 1000000  /* data lines */
#define ARENA_BLOCK_MIN (256 * 1024)

enum column { COL_KIT_NUMBER, COL_KIT_TYPE, COL_LOT, COL_EXPIRY, COL_ARM, COL_GTIN, COL_SERIAL,
              NCOLUMNS };

static const char *const column_names[NCOLUMNS] = {
    "kit_number", "kit_type", "lot", "expiry", "arm", "gtin", "serial",
};

static int column_required(enum column c)
{
    return c <= COL_EXPIRY;
}

/* ---- arena: a chain of blocks, newest first; strings are bumped out of the newest ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

/* At least n free bytes at the end of the newest block (committed later by arena_commit). */
static char *arena_reserve(arena_block **head, size_t n, size_t first_cap)
{
    arena_block *b = *head;
    if (b != NULL && b->cap - b->used >= n)
        return b->data + b->used;
    size_t cap = b == NULL ? first_cap : ARENA_BLOCK_MIN;
    if (cap < n)
        cap = n;
    b = malloc(sizeof *b + cap);
    if (b == NULL)
        return NULL;
    b->next = *head;
    b->used = 0;
    b->cap = cap;
    *head = b;
    return b->data;
}

static void arena_commit(arena_block *head, size_t n)
{
    head->used += n;
}

static void arena_free(arena_block *b)
{
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- the parser's state ---- */

typedef struct parser {
    ctm__manifest *m;
    arena_block *arena;
    size_t first_block;
    size_t expect_rows;            /* lines in the text, capped: the first size of rows and set */
    size_t rows_cap;
    uint64_t line;                 /* the line being parsed, 1-based */
    size_t ncols;
    enum column col_at[NCOLUMNS];  /* column of each field position */
    int pos_of[NCOLUMNS];          /* field position of each column, -1 when absent */
    /* Kit numbers and serials seen (see set_add). */
    uint64_t *set;
    size_t set_cap, set_n;
} parser;

/* ---- messages ---- */

/* A bad field.  Values are quoted only in manifests without an arm column: a blinded manifest's
 * lines all may carry an arm, and no part of such a line may reach a message. */
static int field_error(const parser *p, enum column c, const char *s, size_t n, const char *why)
{
    char q[CTM__CSV_QUOTE_SIZE];

    if (c == COL_ARM)
        return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ", field arm: not a valid arm code",
                        p->line);
    if (p->m->has_arm || n == 0)
        return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ", field %s: %s", p->line,
                        column_names[c], why);
    ctm__csv_quote(q, s, n);
    return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ", field %s: %s (%s)", p->line,
                    column_names[c], why, q);
}

/* ---- header ---- */

static int header_error_split(size_t pos, const char *why)
{
    return ctm__err(CTM_EINVAL, "manifest line 1, column %zu: %s", pos + 1, why);
}

static int column_lookup(const ctm__csv_field *f)
{
    for (int c = 0; c < NCOLUMNS; c++)
        if (strlen(column_names[c]) == f->len && memcmp(column_names[c], f->s, f->len) == 0)
            return c;
    return -1;
}

static int parse_header(parser *p, const char *s, size_t n)
{
    char buf[MANIFEST_MAX_LINE + 1];
    char q[CTM__CSV_QUOTE_SIZE];
    ctm__csv_field f[NCOLUMNS + 1];
    size_t nf, known = 0;
    ctm__csv_bad bad;

    if (ctm__csv_split(s, n, buf, f, NCOLUMNS + 1, &nf, &bad) != 0)
        return header_error_split(bad.field, bad.why);
    size_t kept = nf < NCOLUMNS + 1 ? nf : NCOLUMNS + 1;
    for (size_t i = 0; i < kept; i++)
        known += column_lookup(&f[i]) >= 0;
    /* A first line without a single column name is data, not a header; it may hold an arm, so
     * nothing of it is quoted. */
    if (known == 0)
        return ctm__err(CTM_EINVAL, "manifest line 1: not a header (no known column name; "
                                    "expected kit_number, kit_type, lot, expiry and optionally "
                                    "arm, gtin, serial)");
    for (int c = 0; c < NCOLUMNS; c++)
        p->pos_of[c] = -1;
    /* Eight fields cannot all be distinct known names, so the loop fails before running out. */
    for (size_t i = 0; i < kept; i++) {
        int c = column_lookup(&f[i]);
        if (c < 0) {
            ctm__csv_quote(q, f[i].s, f[i].len);
            return ctm__err(CTM_EINVAL, "manifest line 1, column %zu: unknown column name %s",
                            i + 1, q);
        }
        if (p->pos_of[c] >= 0)
            return ctm__err(CTM_EINVAL, "manifest line 1, column %zu: column %s repeats column %d",
                            i + 1, column_names[c], p->pos_of[c] + 1);
        p->pos_of[c] = (int)i;
        p->col_at[i] = (enum column)c;
    }
    for (int c = 0; c < NCOLUMNS; c++)
        if (column_required((enum column)c) && p->pos_of[c] < 0)
            return ctm__err(CTM_EINVAL, "manifest line 1: missing column %s", column_names[c]);
    p->ncols = nf;
    p->m->has_arm = p->pos_of[COL_ARM] >= 0;
    p->m->has_gtin = p->pos_of[COL_GTIN] >= 0;
    p->m->has_serial = p->pos_of[COL_SERIAL] >= 0;
    return CTM_OK;
}

/* ---- field rules ---- */

/* NULL and "YYYY-MM-DD" in out when s is a good expiry; otherwise what is wrong. */
static const char *expiry_problem(const char *s, size_t n, char out[11])
{
    static const char *const form = "not a date in the form YYYY-MM-DD or YYYYMMDD";
    char d[8];

    if (n == 10 && s[4] == '-' && s[7] == '-') {
        memcpy(d, s, 4);
        memcpy(d + 4, s + 5, 2);
        memcpy(d + 6, s + 8, 2);
    } else if (n == 8) {
        memcpy(d, s, 8);
    } else {
        return form;
    }
    for (int i = 0; i < 8; i++)
        if (d[i] < '0' || d[i] > '9')
            return form;
    int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    int mo = (d[4] - '0') * 10 + (d[5] - '0');
    int dd = (d[6] - '0') * 10 + (d[7] - '0');
    if (y < 2000 || y > 2099)
        return "year outside 2000-2099";
    if (mo < 1 || mo > 12 || dd < 1 || dd > ctm__days_in_month(y, mo))
        return "not a real calendar date";
    memcpy(out, d, 4);
    out[4] = '-';
    memcpy(out + 5, d + 4, 2);
    out[7] = '-';
    memcpy(out + 8, d + 6, 2);
    out[10] = '\0';
    return NULL;
}

/* NULL when the non-empty field s (NUL-terminated, n bytes) is a good value of column c. */
static const char *field_problem(enum column c, const char *s, size_t n, char expiry[11])
{
    if (s[0] == ' ' || s[n - 1] == ' ')
        return "begins or ends with a space";
    switch (c) {
    case COL_KIT_NUMBER:
        if (!ctm__alnum_or(s, n, "._/-"))
            return "character outside [A-Za-z0-9._/-]";
        return n > 40 ? "longer than 40 characters" : NULL;
    case COL_KIT_TYPE:
        if (!ctm__alnum_or(s, n, "._@-"))
            return "character outside [A-Za-z0-9._@-]";
        return n > 64 ? "longer than 64 characters" : NULL;
    case COL_LOT:
    case COL_SERIAL:
        if (ctm__gs1_cset82_bad(s, n) != n)
            return "character outside GS1 character set 82";
        return n > 20 ? "longer than 20 characters" : NULL;
    case COL_EXPIRY:
        return expiry_problem(s, n, expiry);
    case COL_ARM:
        return n <= 32 && ctm__alnum_or(s, n, "._-") ? NULL : "not a valid arm code";
    case COL_GTIN:
        if (n != 14 || strspn(s, "0123456789") != n)
            return "not 14 digits";
        char expected;
        return ctm__gs1_check_digit(s, n, &expected) ? NULL : "wrong check digit";
    default:
        return "unknown column";
    }
}

/* ---- the set of identifiers: kit numbers and serials ----
 *
 * A scan names a kit by its kit number or by its serial, so no identifier may name two kits:
 * kit numbers and serials share one set.  An entry is (hash << 32) | tag, 0 = empty; the tag
 * is the row index + 1, with ID_SERIAL set when the identifier is that row's serial.  Open
 * addressing. */

#define ID_SERIAL 0x80000000u
#define ID_ROW_MASK 0x7fffffffu

static uint32_t kit_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int set_grow(parser *p)
{
    size_t cap = p->set_cap * 2;
    if (cap == 0)
        for (cap = 1024; cap < p->expect_rows * 2; cap *= 2)
            ;
    uint64_t *set = calloc(cap, sizeof *set);
    if (set == NULL)
        return CTM_ENOMEM;
    for (size_t i = 0; i < p->set_cap; i++) {
        uint64_t e = p->set[i];
        if (e == 0)
            continue;
        size_t j = (size_t)(e >> 32) & (cap - 1);
        while (set[j] != 0)
            j = (j + 1) & (cap - 1);
        set[j] = e;
    }
    free(p->set);
    p->set = set;
    p->set_cap = cap;
    return CTM_OK;
}

/* The identifier an entry stands for. */
static const char *set_entry_text(const parser *p, uint64_t e)
{
    const ctm__manifest_row *r = &p->m->rows[(size_t)(e & ID_ROW_MASK) - 1];
    return (e & ID_SERIAL) ? r->serial : r->kit_number;
}

/* Add identifier id of row (already appended), a serial when serial is non-zero.  When another
 * entry holds the same text, nothing is added and *dup is that entry's tag; else *dup is 0. */
static int set_add(parser *p, const char *id, size_t row, int serial, uint32_t *dup)
{
    *dup = 0;
    if ((p->set_n + 1) * 2 > p->set_cap && set_grow(p) != CTM_OK)
        return CTM_ENOMEM;
    uint32_t h = kit_hash(id);
    size_t j = h & (p->set_cap - 1);
    for (; p->set[j] != 0; j = (j + 1) & (p->set_cap - 1)) {
        uint64_t e = p->set[j];
        if ((uint32_t)(e >> 32) == h && strcmp(set_entry_text(p, e), id) == 0) {
            *dup = (uint32_t)(e & 0xffffffffu);
            return CTM_OK;
        }
    }
    p->set[j] = ((uint64_t)h << 32) | (uint64_t)(row + 1) | (serial ? ID_SERIAL : 0);
    p->set_n++;
    return CTM_OK;
}

/* ---- data lines ---- */

static int row_append(parser *p, const ctm__manifest_row *r)
{
    ctm__manifest *m = p->m;
    if (m->n == p->rows_cap) {
        size_t cap = p->rows_cap == 0 ? p->expect_rows : p->rows_cap * 2;
        ctm__manifest_row *rows = realloc(m->rows, cap * sizeof *rows);
        if (rows == NULL)
            return ctm__err(CTM_ENOMEM, "manifest: out of memory");
        m->rows = rows;
        p->rows_cap = cap;
    }
    m->rows[m->n++] = *r;
    return CTM_OK;
}

static int split_error(const parser *p, size_t pos, const char *why)
{
    if (pos < p->ncols)
        return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ", field %s: %s", p->line,
                        column_names[p->col_at[pos]], why);
    return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ": field %zu beyond the header's %zu: %s",
                    p->line, pos + 1, p->ncols, why);
}

/* An identifier of the row on line p->line (its kit number, or its serial when serial is
 * non-zero) that another line already uses.  Quoted only without an arm column, as in
 * field_error. */
static int duplicate_error(const parser *p, int serial, const char *id, uint32_t other)
{
    char q[CTM__CSV_QUOTE_SIZE];
    const ctm__manifest_row *first = &p->m->rows[(other & ID_ROW_MASK) - 1];
    int same_field = serial == ((other & ID_SERIAL) != 0);
    const char *what = same_field ? "repeats" : serial ? "is the kit number of" : "is the serial of";

    if (p->m->has_arm) {
        q[0] = '\0';
    } else {
        ctm__csv_quote(q, id, strlen(id));
        strcat(q, " ");
    }
    return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ", field %s: %s%s line %" PRIu32,
                    p->line, serial ? "serial" : "kit_number", q, what, first->line);
}

static int parse_row(parser *p, const char *s, size_t n)
{
    ctm__csv_field f[NCOLUMNS];
    size_t nf;
    ctm__csv_bad bad;
    uint32_t dup;
    const char *why;
    const char *value[NCOLUMNS] = {NULL};

    if (p->m->n >= MANIFEST_MAX_KITS)
        return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ": more than %d kits", p->line,
                        MANIFEST_MAX_KITS);
    /* The decoded fields take at most n + 1 bytes; 11 more hold a normalised expiry. */
    char *out = arena_reserve(&p->arena, n + 1 + 11, p->first_block);
    if (out == NULL)
        return ctm__err(CTM_ENOMEM, "manifest: out of memory");
    if (ctm__csv_split(s, n, out, f, p->ncols, &nf, &bad) != 0)
        return split_error(p, bad.field, bad.why);
    if (nf != p->ncols)
        return ctm__err(CTM_EINVAL, "manifest line %" PRIu64 ": %zu fields, the header has %zu",
                        p->line, nf, p->ncols);
    char *expiry = f[nf - 1].s + f[nf - 1].len + 1;
    for (size_t i = 0; i < nf; i++) {
        enum column c = p->col_at[i];
        if (f[i].len == 0) {
            if (column_required(c))
                return field_error(p, c, f[i].s, 0, "empty");
            continue;
        }
        why = field_problem(c, f[i].s, f[i].len, expiry);
        if (why != NULL)
            return field_error(p, c, f[i].s, f[i].len, why);
        value[c] = c == COL_EXPIRY ? expiry : f[i].s;
    }
    ctm__manifest_row r = {
        .line = (uint32_t)p->line,
        .kit_number = value[COL_KIT_NUMBER],
        .kit_type = value[COL_KIT_TYPE],
        .lot = value[COL_LOT],
        .expiry = value[COL_EXPIRY],
        .arm = value[COL_ARM],
        .gtin = value[COL_GTIN],
        .serial = value[COL_SERIAL],
    };
    /* Appended first so that the set can compare with this row too; a failure below frees
     * the whole manifest anyway. */
    size_t row = p->m->n;
    int rc = row_append(p, &r);
    if (rc != CTM_OK)
        return rc;
    if (set_add(p, r.kit_number, row, 0, &dup) != CTM_OK)
        return ctm__err(CTM_ENOMEM, "manifest: out of memory");
    if (dup != 0)
        return duplicate_error(p, 0, r.kit_number, dup);
    /* A serial equal to its own kit number names the same kit: nothing to add. */
    if (r.serial != NULL && strcmp(r.serial, r.kit_number) != 0) {
        if (set_add(p, r.serial, row, 1, &dup) != CTM_OK)
            return ctm__err(CTM_ENOMEM, "manifest: out of memory");
        if (dup != 0)
            return duplicate_error(p, 1, r.serial, dup);
    }
    arena_commit(p->arena, (size_t)(expiry - out) + 11);
    return CTM_OK;
}

/* ---- the whole text ---- */

static int parse_text(parser *p, const char *text, size_t len)
{
    ctm__csv_reader r;
    const char *s;
    size_t n;

    ctm__csv_init(&r, "manifest", text, len, MANIFEST_MAX_LINE);
    for (;;) {
        int rc = ctm__csv_next(&r, &s, &n);
        if (rc != CTM_OK)
            return rc;
        if (s == NULL)
            break;
        p->line = r.line;
        rc = p->line == 1 ? parse_header(p, s, n) : parse_row(p, s, n);
        if (rc != CTM_OK)
            return rc;
    }
    if (r.line == 0)
        return ctm__err(CTM_EINVAL, "manifest: empty (no header)");
    if (p->m->n == 0)
        return ctm__err(CTM_EINVAL, "manifest: no kits");
    return CTM_OK;
}

int ctm__manifest_parse(ctm__manifest *m, const char *text, size_t len)
{
    parser p;
    int rc;

    if (m == NULL)
        return ctm__err(CTM_EINVAL, "manifest: no manifest to fill");
    memset(m, 0, sizeof *m);
    if (text == NULL && len > 0)
        return ctm__err(CTM_EINVAL, "manifest: no text");
    if (len == 0)
        return ctm__err(CTM_EINVAL, "manifest: empty (no header)");
    memset(&p, 0, sizeof p);
    p.m = m;
    /* Sizing rows, set and arena from the line count up front spares the rehashing and copying
     * of growth.  A decoded line never outgrows its text by more than its 11-byte expiry, so
     * the first arena block normally holds everything. */
    p.expect_rows = ctm__csv_count_lines(text, len, MANIFEST_MAX_KITS);
    p.first_block = len + 12 * p.expect_rows + 64;
    rc = parse_text(&p, text, len);
    free(p.set);
    m->arena_ = p.arena;
    if (rc != CTM_OK)
        ctm__manifest_free(m);
    return rc;
}

void ctm__manifest_free(ctm__manifest *m)
{
    if (m == NULL)
        return;
    arena_free(m->arena_);
    free(m->rows);
    memset(m, 0, sizeof *m);
}
