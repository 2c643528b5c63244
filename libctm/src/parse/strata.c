/* strata.c - stratification factors: the spec, a subject's values, stratum labels, weights.
 *
 * Every text is a list of items separated by one character, each item a name, a separator and
 * the rest; spans (pointer and length) walk it without copying. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "csv.h"
#include "strata.h"

typedef struct span {
    const char *s;
    size_t n;
} span;

/* The next item of *rest up to sep (or the end) into *item; the rest after sep.  Zero when
 * nothing is left at all. */
static int next_item(span *rest, char sep, span *item)
{
    if (rest->s == NULL)
        return 0;
    const char *at = memchr(rest->s, sep, rest->n);
    item->s = rest->s;
    if (at == NULL) {
        item->n = rest->n;
        rest->s = NULL;
        rest->n = 0;
    } else {
        item->n = (size_t)(at - rest->s);
        rest->n -= item->n + 1;
        rest->s = at + 1;
    }
    return 1;
}

/* Split item at the first sep: *head before it, *tail after.  Zero without sep. */
static int split_at(span item, char sep, span *head, span *tail)
{
    const char *at = memchr(item.s, sep, item.n);
    if (at == NULL)
        return 0;
    head->s = item.s;
    head->n = (size_t)(at - item.s);
    tail->s = at + 1;
    tail->n = item.n - head->n - 1;
    return 1;
}

static span whole(const char *s)
{
    span r = {s, s == NULL ? 0 : strlen(s)};
    return r;
}

static int span_is(span a, const char *b)
{
    return strlen(b) == a.n && memcmp(a.s, b, a.n) == 0;
}

/* NULL when a is a good name or level; else what is wrong. */
static const char *name_problem(span a)
{
    if (a.n == 0)
        return "empty";
    if (!ctm__alnum_or(a.s, a.n, "._-"))
        return "character outside [A-Za-z0-9._-]";
    return a.n > CTM__STRATA_MAX_NAME ? "longer than 32 characters" : NULL;
}

static int find_factor(const ctm__strata *s, span name)
{
    for (int i = 0; i < s->nfactors; i++)
        if (span_is(name, s->f[i].name))
            return i;
    return -1;
}

static int find_level(const ctm__factor *f, span level)
{
    for (int i = 0; i < f->nlevels; i++)
        if (span_is(level, f->levels[i]))
            return i;
    return -1;
}

/* A parsed strata: counts within their limits (what the other functions index by). */
static int sane(const ctm__strata *s)
{
    if (s == NULL || s->nfactors < 0 || s->nfactors > CTM__STRATA_MAX_FACTORS)
        return 0;
    for (int i = 0; i < s->nfactors; i++)
        if (s->f[i].nlevels < CTM__STRATA_MIN_LEVELS || s->f[i].nlevels > CTM__STRATA_MAX_LEVELS)
            return 0;
    return 1;
}

/* ---- the spec ---- */

static int parse_factor(ctm__strata *s, int index, span item)
{
    char q[CTM__CSV_QUOTE_SIZE];
    span name, levels, level;
    const char *why;

    if (item.n == 0)
        return ctm__err(CTM_EINVAL, "strata: factor %d: empty", index + 1);
    if (!split_at(item, '=', &name, &levels)) {
        ctm__csv_quote(q, item.s, item.n);
        return ctm__err(CTM_EINVAL, "strata: factor %d %s: no '=' between the name and the levels",
                        index + 1, q);
    }
    if ((why = name_problem(name)) != NULL) {
        ctm__csv_quote(q, name.s, name.n);
        return ctm__err(CTM_EINVAL, "strata: factor %d: name %s: %s", index + 1, q, why);
    }
    if (find_factor(s, name) >= 0) {
        ctm__csv_quote(q, name.s, name.n);
        return ctm__err(CTM_EINVAL, "strata: factor %s given twice", q);
    }
    if (s->nfactors == CTM__STRATA_MAX_FACTORS)
        return ctm__err(CTM_EINVAL, "strata: more than %d factors", CTM__STRATA_MAX_FACTORS);
    ctm__factor *f = &s->f[s->nfactors];
    memcpy(f->name, name.s, name.n);
    for (int k = 0; next_item(&levels, ',', &level); k++) {
        if ((why = name_problem(level)) != NULL) {
            ctm__csv_quote(q, level.s, level.n);
            return ctm__err(CTM_EINVAL, "strata: factor '%s': level %d %s: %s", f->name, k + 1, q,
                            why);
        }
        if (find_level(f, level) >= 0) {
            ctm__csv_quote(q, level.s, level.n);
            return ctm__err(CTM_EINVAL, "strata: factor '%s': level %s given twice", f->name, q);
        }
        if (f->nlevels == CTM__STRATA_MAX_LEVELS)
            return ctm__err(CTM_EINVAL, "strata: factor '%s': more than %d levels", f->name,
                            CTM__STRATA_MAX_LEVELS);
        memcpy(f->levels[f->nlevels++], level.s, level.n);
    }
    if (f->nlevels < CTM__STRATA_MIN_LEVELS)
        return ctm__err(CTM_EINVAL, "strata: factor '%s': %d level (at least %d)", f->name,
                        f->nlevels, CTM__STRATA_MIN_LEVELS);
    s->nfactors++;
    return CTM_OK;
}

int ctm__strata_parse(ctm__strata *s, const char *spec)
{
    span rest = whole(spec), item;
    int rc = CTM_OK;

    if (s == NULL)
        return ctm__err(CTM_EINVAL, "strata: no strata to fill");
    memset(s, 0, sizeof *s);
    if (rest.n == 0)
        return CTM_OK;
    for (int i = 0; rc == CTM_OK && next_item(&rest, ';', &item); i++)
        rc = parse_factor(s, i, item);
    if (rc == CTM_OK && ctm__strata_count(s) > CTM__STRATA_MAX_STRATA)
        rc = ctm__err(CTM_EINVAL, "strata: %zu strata (the product of the level counts), more "
                      "than %d", ctm__strata_count(s), CTM__STRATA_MAX_STRATA);
    if (rc != CTM_OK)
        memset(s, 0, sizeof *s);
    return rc;
}

/* ---- writing text ---- */

typedef struct out {
    char *p;
    size_t n, k;
    int full;
} out;

static void put(out *o, const char *s)
{
    size_t len = strlen(s);
    if (o->full || o->n - o->k <= len) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->k, s, len + 1);
    o->k += len;
}

static int finish(out *o, const char *what)
{
    if (!o->full)
        return CTM_OK;
    if (o->n > 0)
        o->p[0] = '\0';
    return ctm__err(CTM_EINVAL, "%s: the text does not fit in %zu bytes", what, o->n);
}

int ctm__strata_format(const ctm__strata *s, char *buf, size_t n)
{
    out o = {buf, n, 0, buf == NULL || n == 0};

    if (!sane(s)) {
        if (buf != NULL && n > 0)
            buf[0] = '\0';
        return ctm__err(CTM_EINVAL, "strata: not a parsed strata");
    }
    if (!o.full)
        buf[0] = '\0';
    for (int i = 0; i < s->nfactors; i++) {
        if (i > 0)
            put(&o, ";");
        put(&o, s->f[i].name);
        put(&o, "=");
        for (int k = 0; k < s->f[i].nlevels; k++) {
            if (k > 0)
                put(&o, ",");
            put(&o, s->f[i].levels[k]);
        }
    }
    return finish(&o, "strata");
}

int ctm__strata_label(const ctm__strata *s, const int level[], char *buf, size_t n)
{
    out o = {buf, n, 0, buf == NULL || n == 0};

    if (buf != NULL && n > 0)
        buf[0] = '\0';
    if (!sane(s) || (level == NULL && s->nfactors > 0))
        return ctm__err(CTM_EINVAL, "strata: not a parsed strata");
    for (int i = 0; i < s->nfactors; i++)
        if (level[i] < 0 || level[i] >= s->f[i].nlevels)
            return ctm__err(CTM_EINVAL, "strata: factor '%s': no level (index %d of %d levels)",
                            s->f[i].name, level[i], s->f[i].nlevels);
    for (int i = 0; i < s->nfactors; i++) {
        if (i > 0)
            put(&o, ",");
        put(&o, s->f[i].name);
        put(&o, "=");
        put(&o, s->f[i].levels[level[i]]);
    }
    return finish(&o, "strata");
}

/* ---- values and labels: "factor=level" items ---- */

/* Items "factor=level" separated by ',' into level[] (already all -1).  what starts the
 * messages; quote says whether they may quote the text. */
static int assignments(const ctm__strata *s, const char *text, int level[], const char *what,
                       int quote)
{
    char q[CTM__CSV_QUOTE_SIZE];
    span rest = whole(text), item, name, value;

    if (rest.n == 0)
        return CTM_OK;
    for (int k = 1; next_item(&rest, ',', &item); k++) {
        if (!split_at(item, '=', &name, &value)) {
            if (!quote)
                return ctm__err(CTM_EINVAL, "%s: item %d: no '='", what, k);
            ctm__csv_quote(q, item.s, item.n);
            return ctm__err(CTM_EINVAL, "%s: item %d %s: no '='", what, k, q);
        }
        int f = find_factor(s, name);
        if (f < 0) {
            if (!quote)
                return ctm__err(CTM_EINVAL, "%s: item %d: not a factor of the strata", what, k);
            ctm__csv_quote(q, name.s, name.n);
            return ctm__err(CTM_EINVAL, "%s: unknown factor %s", what, q);
        }
        if (level[f] >= 0)
            return ctm__err(CTM_EINVAL, "%s: factor '%s' given twice", what, s->f[f].name);
        level[f] = find_level(&s->f[f], value);
        if (level[f] < 0) {
            if (!quote)
                return ctm__err(CTM_EINVAL, "%s: factor '%s': not a level of the factor", what,
                                s->f[f].name);
            ctm__csv_quote(q, value.s, value.n);
            return ctm__err(CTM_EINVAL, "%s: factor '%s': unknown level %s", what, s->f[f].name,
                            q);
        }
    }
    return CTM_OK;
}

int ctm__strata_values(const ctm__strata *s, const char *values, int level[CTM__STRATA_MAX_FACTORS])
{
    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
        level[i] = -1;
    if (!sane(s))
        return ctm__err(CTM_EINVAL, "strata values: not a parsed strata");
    int rc = assignments(s, values, level, "strata values", 1);
    if (rc != CTM_OK)
        for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
            level[i] = -1;
    return rc;
}

/* The levels alone, in spec order, joined by '/'. */
static int match_levels(const ctm__strata *s, const char *label, int level[])
{
    span rest = whole(label), part;
    int k = 0;

    while (k <= s->nfactors && next_item(&rest, '/', &part)) {
        if (k < s->nfactors) {
            level[k] = find_level(&s->f[k], part);
            if (level[k] < 0)
                return ctm__err(CTM_EINVAL, "stratum label: part %d: not a level of factor '%s'",
                                k + 1, s->f[k].name);
        }
        k++;
    }
    if (k != s->nfactors) {
        size_t parts = 1;
        for (const char *c = label; *c != '\0'; c++)
            parts += *c == '/';
        return ctm__err(CTM_EINVAL, "stratum label: %zu part%s separated by '/', the strata have "
                        "%d factor%s", parts, parts == 1 ? "" : "s", s->nfactors,
                        s->nfactors == 1 ? "" : "s");
    }
    return CTM_OK;
}

int ctm__strata_match(const ctm__strata *s, const char *label, int level[])
{
    int rc;

    if (!sane(s) || (level == NULL && s->nfactors > 0))
        return ctm__err(CTM_EINVAL, "stratum label: not a parsed strata");
    for (int i = 0; i < s->nfactors; i++)
        level[i] = -1;
    if (label == NULL)
        return ctm__err(CTM_EINVAL, "stratum label: none");
    if (s->nfactors == 0) {
        if (label[0] != '\0')
            return ctm__err(CTM_EINVAL, "stratum label: not empty, and the strata have no factor");
        return CTM_OK;
    }
    if (strchr(label, '=') != NULL) {
        rc = assignments(s, label, level, "stratum label", 0);
        for (int i = 0; rc == CTM_OK && i < s->nfactors; i++)
            if (level[i] < 0)
                rc = ctm__err(CTM_EINVAL, "stratum label: factor '%s' missing", s->f[i].name);
    } else {
        rc = match_levels(s, label, level);
    }
    if (rc != CTM_OK)
        for (int i = 0; i < s->nfactors; i++)
            level[i] = -1;
    return rc;
}

/* ---- enumerating strata ---- */

size_t ctm__strata_count(const ctm__strata *s)
{
    size_t count = 1;
    if (!sane(s))
        return 0;
    for (int i = 0; i < s->nfactors; i++)
        count *= (size_t)s->f[i].nlevels; /* at most 16^8: no overflow */
    return count;
}

void ctm__strata_nth(const ctm__strata *s, size_t i, int level[])
{
    if (!sane(s))
        return;
    int valid = i < ctm__strata_count(s);
    for (int k = s->nfactors - 1; k >= 0; k--) {
        level[k] = valid ? (int)(i % (size_t)s->f[k].nlevels) : -1;
        i /= (size_t)s->f[k].nlevels;
    }
}

/* ---- minimization weights ---- */

/* A weight in thousandths: digits, optionally '.' and 1-3 digits; -1 if not that form or
 * above 100. */
static int64_t thousandths(span v)
{
    int64_t whole_part = 0, frac = 0;
    size_t i = 0, digits = 0;

    for (; i < v.n && v.s[i] >= '0' && v.s[i] <= '9'; i++, digits++) {
        whole_part = whole_part * 10 + (v.s[i] - '0');
        if (whole_part > 100)
            return -1;
    }
    if (digits == 0)
        return -1;
    if (i < v.n) {
        if (v.s[i++] != '.')
            return -1;
        size_t places = v.n - i;
        if (places < 1 || places > 3)
            return -1;
        for (size_t p = 0; p < 3; p++) {
            int d = 0;
            if (p < places) {
                if (v.s[i + p] < '0' || v.s[i + p] > '9')
                    return -1;
                d = v.s[i + p] - '0';
            }
            frac = frac * 10 + d;
        }
    }
    int64_t t = whole_part * 1000 + frac;
    return t > 100000 ? -1 : t;
}

int ctm__strata_weights(const ctm__strata *s, const char *text,
                        double weight[CTM__STRATA_MAX_FACTORS])
{
    char q[CTM__CSV_QUOTE_SIZE];
    span rest = whole(text), item, name, value;
    int given[CTM__STRATA_MAX_FACTORS] = {0};
    int rc = CTM_OK;

    for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
        weight[i] = 0;
    if (!sane(s))
        return ctm__err(CTM_EINVAL, "strata weights: not a parsed strata");
    if (rest.n == 0)
        return ctm__err(CTM_EINVAL, "strata weights: none given (at least one factor)");
    for (int k = 1; rc == CTM_OK && next_item(&rest, ',', &item); k++) {
        if (!split_at(item, ':', &name, &value)) {
            ctm__csv_quote(q, item.s, item.n);
            rc = ctm__err(CTM_EINVAL, "strata weights: item %d %s: no ':'", k, q);
            break;
        }
        int f = find_factor(s, name);
        if (f < 0) {
            ctm__csv_quote(q, name.s, name.n);
            rc = ctm__err(CTM_EINVAL, "strata weights: unknown factor %s", q);
        } else if (given[f]) {
            rc = ctm__err(CTM_EINVAL, "strata weights: factor '%s' given twice", s->f[f].name);
        } else {
            int64_t t = thousandths(value);
            if (t <= 0) {
                ctm__csv_quote(q, value.s, value.n);
                rc = ctm__err(CTM_EINVAL, "strata weights: factor '%s': weight %s is not a number "
                              "> 0 and <= 100 with at most 3 decimals", s->f[f].name, q);
            }
            given[f] = 1;
            weight[f] = (double)t / 1000.0;
        }
    }
    if (rc != CTM_OK)
        for (int i = 0; i < CTM__STRATA_MAX_FACTORS; i++)
            weight[i] = 0;
    return rc;
}
