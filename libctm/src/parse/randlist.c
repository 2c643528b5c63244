/* randlist.c - randomization lists (CSV) parsed into rows, every field and every block checked.
 *
 * One pass, line by line (csv.c).  Each data line is decoded into one buffer sized from the text
 * up front (a decoded line never outgrows its text plus one byte), so a list costs that buffer,
 * the row array and two transient hash sets: numbers, and blockrand's blocks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "csv.h"
#include "randlist.h"

#define RL_MAX_LINE 4096
#define RL_MAX_ROWS 1000000
#define RL_MAX_NUMBER 40
#define RL_MAX_STRATUM 200
#define RL_MAX_ARM 32
#define RL_MAX_BLOCK_ID 9007199254740992LL /* 2^53: exact in a double, as R writes it */
#define RL_MAX_BLOCK_SIZE 1000
#define RL_HEADER_KEEP 16                  /* header fields looked at; more are refused anyway */

enum role { ROLE_NUMBER, ROLE_STRATUM, ROLE_ARM, ROLE_BLOCK_ID, ROLE_BLOCK_SIZE, NROLES,
            ROLE_IGNORED = NROLES };

typedef struct column_def {
    const char *name;
    enum role role;
    int optional;
} column_def;

typedef struct format_def {
    const char *name;      /* "a sponsor list" */
    const char *expected;  /* the header, for messages */
    column_def cols[5];
    int ncols;
} format_def;

static const format_def formats[] = {
    [CTM__RANDLIST_SPONSOR] = {"a sponsor list", "randomization_number, stratum, arm",
                               {{"randomization_number", ROLE_NUMBER, 0},
                                {"stratum", ROLE_STRATUM, 0},
                                {"arm", ROLE_ARM, 0}}, 3},
    [CTM__RANDLIST_BLOCKRAND] = {"a blockrand list", "id, stratum, block.id, block.size, treatment",
                                 {{"id", ROLE_NUMBER, 0},
                                  {"stratum", ROLE_STRATUM, 1},
                                  {"block.id", ROLE_BLOCK_ID, 0},
                                  {"block.size", ROLE_BLOCK_SIZE, 0},
                                  {"treatment", ROLE_ARM, 0}}, 5},
    [CTM__RANDLIST_KITS] = {"a kits list", "kit_number, arm",
                            {{"kit_number", ROLE_NUMBER, 0}, {"arm", ROLE_ARM, 0}}, 2},
};

/* An entry of a hash set of rows: (hash << 32) | (row index + 1); 0 is empty. */
typedef struct rowset {
    uint64_t *e;
    size_t cap, n;
} rowset;

typedef struct parser {
    ctm__randlist *l;
    const format_def *fmt;
    uint64_t line;
    size_t ncols;
    enum role role_at[RL_HEADER_KEEP];   /* role of each field position */
    const char *name_at[RL_HEADER_KEEP]; /* its header name, for messages */
    char *buf;                           /* decoded fields of every data line */
    size_t buf_used, buf_cap;
    size_t expect_rows, rows_cap;
    rowset numbers, blocks;
    size_t block_first;                  /* blockrand: the current block's first row */
} parser;

/* ---- messages: the line and the field, never a byte of a data line ---- */

static int field_error(const parser *p, size_t pos, const char *why)
{
    if (pos >= p->ncols)
        return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ": field %zu beyond the "
                        "header's %zu: %s", p->line, pos + 1, p->ncols, why);
    return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ", field %s: %s", p->line,
                    p->name_at[pos], why);
}

/* ---- header ---- */

static const char *const expected_all =
    "expected the columns randomization_number, stratum, arm (sponsor); id, stratum, block.id, "
    "block.size, treatment (blockrand); or kit_number, arm (kits)";

static int col_lookup(const format_def *f, const ctm__csv_field *field)
{
    for (int c = 0; c < f->ncols; c++)
        if (strlen(f->cols[c].name) == field->len &&
            memcmp(f->cols[c].name, field->s, field->len) == 0)
            return c;
    return -1;
}

/* The format whose own column (one no other format has) comes first, or DETECT for none. */
static enum ctm__randlist_format detect(const ctm__csv_field *f, size_t nf)
{
    for (size_t i = 0; i < nf; i++)
        for (int t = CTM__RANDLIST_SPONSOR; t <= CTM__RANDLIST_KITS; t++) {
            int c = col_lookup(&formats[t], &f[i]);
            if (c < 0)
                continue;
            int shared = 0;
            for (int u = CTM__RANDLIST_SPONSOR; u <= CTM__RANDLIST_KITS; u++)
                shared += u != t && col_lookup(&formats[u], &f[i]) >= 0;
            if (!shared)
                return (enum ctm__randlist_format)t;
        }
    return CTM__RANDLIST_DETECT;
}

static int parse_header(parser *p, enum ctm__randlist_format fmt, const char *s, size_t n)
{
    char buf[RL_MAX_LINE + 1];
    char q[CTM__CSV_QUOTE_SIZE];
    ctm__csv_field f[RL_HEADER_KEEP];
    ctm__csv_bad bad;
    size_t nf, first = 0;
    int pos_of[5];

    if (ctm__csv_split(s, n, buf, f, RL_HEADER_KEEP, &nf, &bad) != 0)
        return ctm__err(CTM_EINVAL, "randomization list line 1, column %zu: %s", bad.field + 1,
                        bad.why);
    size_t kept = nf < RL_HEADER_KEEP ? nf : RL_HEADER_KEEP;
    /* R's write.csv: a first column of row names under an empty name. */
    if (kept > 1 && f[0].len == 0)
        first = 1;
    if (fmt == CTM__RANDLIST_DETECT) {
        fmt = detect(f + first, kept - first);
        if (fmt == CTM__RANDLIST_DETECT)
            return ctm__err(CTM_EINVAL, "randomization list line 1: not a known header (%s)",
                            expected_all);
    }
    const format_def *d = &formats[fmt];
    size_t known = 0;
    for (size_t i = first; i < kept; i++)
        known += col_lookup(d, &f[i]) >= 0;
    /* A line without one column name is data, not a header: it may hold an arm, so nothing of
     * it is quoted. */
    if (known == 0)
        return ctm__err(CTM_EINVAL, "randomization list line 1: not a header (%s has the columns "
                        "%s)", d->name, d->expected);
    if (nf > RL_HEADER_KEEP)
        return ctm__err(CTM_EINVAL, "randomization list line 1: %zu columns (%s has the columns "
                        "%s)", nf, d->name, d->expected);
    for (int c = 0; c < d->ncols; c++)
        pos_of[c] = -1;
    if (first) {
        p->role_at[0] = ROLE_IGNORED;
        p->name_at[0] = "1 (row names)";
    }
    for (size_t i = first; i < nf; i++) {
        int c = col_lookup(d, &f[i]);
        if (c < 0) {
            ctm__csv_quote(q, f[i].s, f[i].len);
            return ctm__err(CTM_EINVAL, "randomization list line 1, column %zu: unknown column "
                            "name %s (%s has the columns %s)", i + 1, q, d->name, d->expected);
        }
        if (pos_of[c] >= 0)
            return ctm__err(CTM_EINVAL, "randomization list line 1, column %zu: column %s repeats "
                            "column %d", i + 1, d->cols[c].name, pos_of[c] + 1);
        pos_of[c] = (int)i;
        p->role_at[i] = d->cols[c].role;
        p->name_at[i] = d->cols[c].name;
    }
    for (int c = 0; c < d->ncols; c++)
        if (pos_of[c] < 0 && !d->cols[c].optional)
            return ctm__err(CTM_EINVAL, "randomization list line 1: missing column %s (%s has "
                            "the columns %s)", d->cols[c].name, d->name, d->expected);
    p->ncols = nf;
    p->fmt = d;
    p->l->format = fmt;
    return CTM_OK;
}

/* ---- field rules ---- */

/* A decimal integer in 0..max (digits only, leading zeros allowed), or -1. */
static int64_t positive(const char *s, size_t n, int64_t max)
{
    int64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    return v;
}

/* NULL when the field of role r is good (filling r's part of row); else what is wrong. */
static const char *field_problem(enum role r, const char *s, size_t n, ctm__randlist_row *row)
{
    switch (r) {
    case ROLE_NUMBER:
        if (n == 0)
            return "empty";
        if (!ctm__alnum_or(s, n, "._/-"))
            return "character outside [A-Za-z0-9._/-]";
        if (n > RL_MAX_NUMBER)
            return "longer than 40 characters";
        row->number = s;
        return NULL;
    case ROLE_STRATUM:
        if (n > RL_MAX_STRATUM)
            return "longer than 200 bytes";
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"')
                return "character outside printable ASCII, or a '\"'";
        row->stratum = s;
        return NULL;
    case ROLE_ARM:
        if (n == 0)
            return "empty";
        if (n > RL_MAX_ARM || !ctm__alnum_or(s, n, "._-"))
            return "not a valid arm code";
        row->arm = s;
        return NULL;
    case ROLE_BLOCK_ID:
        row->block_id = positive(s, n, RL_MAX_BLOCK_ID);
        return row->block_id > 0 ? NULL : "not a whole number from 1 to 9007199254740992 (2^53)";
    case ROLE_BLOCK_SIZE:
        row->block_size = (int)positive(s, n, RL_MAX_BLOCK_SIZE);
        return row->block_size > 0 ? NULL : "not a whole number from 1 to 1000";
    default:
        return NULL;
    }
}

/* ---- sets of rows: numbers, and blocks (stratum and block.id) ---- */

static uint32_t fnv(uint32_t h, const char *s)
{
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static uint32_t number_hash(const ctm__randlist_row *r)
{
    return fnv(2166136261u, r->number);
}

static int number_same(const ctm__randlist_row *a, const ctm__randlist_row *b)
{
    return strcmp(a->number, b->number) == 0;
}

static uint32_t block_hash(const ctm__randlist_row *r)
{
    uint64_t id = (uint64_t)r->block_id;
    uint32_t h = fnv(2166136261u, r->stratum);
    for (int i = 0; i < 8; i++, id >>= 8)
        h = (h ^ (uint32_t)(id & 0xff)) * 16777619u;
    return h;
}

static int block_same(const ctm__randlist_row *a, const ctm__randlist_row *b)
{
    return a->block_id == b->block_id && strcmp(a->stratum, b->stratum) == 0;
}

static int rowset_grow(rowset *s, size_t expect)
{
    size_t cap = s->cap * 2;
    if (cap == 0)
        for (cap = 64; cap < expect * 2; cap *= 2)
            ;
    uint64_t *e = calloc(cap, sizeof *e);
    if (e == NULL)
        return CTM_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->e[i] == 0)
            continue;
        size_t j = (size_t)(s->e[i] >> 32) & (cap - 1);
        while (e[j] != 0)
            j = (j + 1) & (cap - 1);
        e[j] = s->e[i];
    }
    free(s->e);
    s->e = e;
    s->cap = cap;
    return CTM_OK;
}

/* Add row (already appended) to s.  When a row that is the same by same() is there already,
 * nothing is added and *dup is that row's index + 1; else *dup is 0. */
static int rowset_add(parser *p, rowset *s, size_t row, uint32_t (*hash)(const ctm__randlist_row *),
                      int (*same)(const ctm__randlist_row *, const ctm__randlist_row *),
                      size_t *dup)
{
    const ctm__randlist_row *rows = p->l->rows;
    *dup = 0;
    if ((s->n + 1) * 2 > s->cap && rowset_grow(s, p->expect_rows) != CTM_OK)
        return ctm__err(CTM_ENOMEM, "randomization list: out of memory");
    uint32_t h = hash(&rows[row]);
    size_t j = h & (s->cap - 1);
    for (; s->e[j] != 0; j = (j + 1) & (s->cap - 1)) {
        uint64_t e = s->e[j];
        if ((uint32_t)(e >> 32) == h && same(&rows[(e & 0xffffffffu) - 1], &rows[row])) {
            *dup = (size_t)(e & 0xffffffffu);
            return CTM_OK;
        }
    }
    s->e[j] = ((uint64_t)h << 32) | (uint64_t)(row + 1);
    s->n++;
    return CTM_OK;
}

/* ---- blockrand's blocks ---- */

/* The block that begins at row p->block_first and ends before row end has all its rows. */
static int block_complete(const parser *p, size_t end)
{
    const ctm__randlist_row *first = &p->l->rows[p->block_first];
    size_t count = end - p->block_first;
    if (count == (size_t)first->block_size)
        return CTM_OK;
    return ctm__err(CTM_EINVAL, "randomization list line %" PRIu32 ", field block.size: %d, but "
                    "the block has %zu row%s (lines %" PRIu32 "-%" PRIu32 ")", first->line,
                    first->block_size, count, count == 1 ? "" : "s", first->line,
                    p->l->rows[end - 1].line);
}

/* Row (the newest) continues the current block or begins a new one. */
static int block_row(parser *p, size_t row)
{
    const ctm__randlist_row *rows = p->l->rows, *r = &rows[row];
    if (row > 0 && block_same(&rows[row - 1], r)) {
        const ctm__randlist_row *first = &rows[p->block_first];
        if (r->block_size != first->block_size)
            return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ", field block.size: "
                            "differs from line %" PRIu32 ", the first of its block", p->line,
                            first->line);
        if (row - p->block_first == (size_t)first->block_size)
            return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ", field block.id: "
                            "one row more than the block.size %d of the block that begins on "
                            "line %" PRIu32, p->line, first->block_size, first->line);
        return CTM_OK;
    }
    if (row > 0) {
        int rc = block_complete(p, row);
        if (rc != CTM_OK)
            return rc;
    }
    size_t dup;
    int rc = rowset_add(p, &p->blocks, row, block_hash, block_same, &dup);
    if (rc != CTM_OK)
        return rc;
    if (dup != 0)
        return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ", field block.id: the "
                        "block of line %" PRIu32 " again (same stratum and block.id; a block's "
                        "rows are consecutive)", p->line, rows[dup - 1].line);
    p->block_first = row;
    return CTM_OK;
}

/* ---- data lines ---- */

static int row_append(parser *p, const ctm__randlist_row *r)
{
    ctm__randlist *l = p->l;
    if (l->n == p->rows_cap) {
        size_t cap = p->rows_cap == 0 ? p->expect_rows : p->rows_cap * 2;
        ctm__randlist_row *rows = realloc(l->rows, cap * sizeof *rows);
        if (rows == NULL)
            return ctm__err(CTM_ENOMEM, "randomization list: out of memory");
        l->rows = rows;
        p->rows_cap = cap;
    }
    l->rows[l->n++] = *r;
    return CTM_OK;
}

static int parse_row(parser *p, const char *s, size_t n)
{
    ctm__csv_field f[RL_HEADER_KEEP];
    ctm__csv_bad bad;
    size_t nf, dup;
    const char *why;

    if (p->l->n >= RL_MAX_ROWS)
        return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ": more than %d rows",
                        p->line, RL_MAX_ROWS);
    /* The buffer was sized for every line's n + 1 (ctm__randlist_parse); never trust that. */
    if (p->buf_cap - p->buf_used < n + 1)
        return ctm__err(CTM_ENOMEM, "randomization list: out of memory");
    char *out = p->buf + p->buf_used;
    if (ctm__csv_split(s, n, out, f, p->ncols, &nf, &bad) != 0)
        return field_error(p, bad.field, bad.why);
    if (nf != p->ncols)
        return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ": %zu fields, the header "
                        "has %zu", p->line, nf, p->ncols);
    ctm__randlist_row r = {.line = (uint32_t)p->line};
    if (p->l->format != CTM__RANDLIST_KITS)
        r.stratum = ""; /* blockrand without a stratum column: one stratum */
    for (size_t i = 0; i < nf; i++) {
        why = field_problem(p->role_at[i], f[i].s, f[i].len, &r);
        if (why != NULL)
            return field_error(p, i, why);
    }
    p->buf_used += (size_t)(f[nf - 1].s + f[nf - 1].len + 1 - out);
    size_t row = p->l->n;
    int rc = row_append(p, &r);
    if (rc != CTM_OK)
        return rc;
    rc = rowset_add(p, &p->numbers, row, number_hash, number_same, &dup);
    if (rc != CTM_OK)
        return rc;
    if (dup != 0) {
        for (size_t i = 0; i < nf; i++)
            if (p->role_at[i] == ROLE_NUMBER)
                return ctm__err(CTM_EINVAL, "randomization list line %" PRIu64 ", field %s: "
                                "repeats line %" PRIu32, p->line, p->name_at[i],
                                p->l->rows[dup - 1].line);
    }
    if (p->l->format == CTM__RANDLIST_BLOCKRAND)
        return block_row(p, row);
    return CTM_OK;
}

/* ---- the whole text ---- */

static int parse_text(parser *p, enum ctm__randlist_format fmt, const char *text, size_t len)
{
    ctm__csv_reader r;
    const char *s;
    size_t n;

    ctm__csv_init(&r, "randomization list", text, len, RL_MAX_LINE);
    for (;;) {
        int rc = ctm__csv_next(&r, &s, &n);
        if (rc != CTM_OK)
            return rc;
        if (s == NULL)
            break;
        p->line = r.line;
        rc = p->line == 1 ? parse_header(p, fmt, s, n) : parse_row(p, s, n);
        if (rc != CTM_OK)
            return rc;
    }
    if (r.line == 0)
        return ctm__err(CTM_EINVAL, "randomization list: empty (no header)");
    if (p->l->n == 0)
        return ctm__err(CTM_EINVAL, "randomization list: no rows");
    if (p->l->format == CTM__RANDLIST_BLOCKRAND)
        return block_complete(p, p->l->n);
    return CTM_OK;
}

int ctm__randlist_parse(ctm__randlist *l, enum ctm__randlist_format fmt, const char *text,
                        size_t len)
{
    parser p;

    if (l == NULL)
        return ctm__err(CTM_EINVAL, "randomization list: no list to fill");
    memset(l, 0, sizeof *l);
    if ((int)fmt < CTM__RANDLIST_DETECT || (int)fmt > CTM__RANDLIST_KITS)
        return ctm__err(CTM_EINVAL, "randomization list: unknown format %d", (int)fmt);
    if (text == NULL && len > 0)
        return ctm__err(CTM_EINVAL, "randomization list: no text");
    if (len == 0)
        return ctm__err(CTM_EINVAL, "randomization list: empty (no header)");
    memset(&p, 0, sizeof p);
    p.l = l;
    /* A decoded line takes at most its length + 1, so len + lines bytes hold every line; the
     * lines counted are capped just above what the row limit lets through. */
    size_t lines = ctm__csv_count_lines(text, len, RL_MAX_ROWS + 1);
    p.expect_rows = lines;
    p.buf_cap = len + lines + 1;
    p.buf = malloc(p.buf_cap);
    int rc = p.buf == NULL ? ctm__err(CTM_ENOMEM, "randomization list: out of memory")
                           : parse_text(&p, fmt, text, len);
    free(p.numbers.e);
    free(p.blocks.e);
    l->arena_ = p.buf;
    if (rc != CTM_OK)
        ctm__randlist_free(l);
    return rc;
}

void ctm__randlist_free(ctm__randlist *l)
{
    if (l == NULL)
        return;
    free(l->arena_);
    free(l->rows);
    memset(l, 0, sizeof *l);
}
