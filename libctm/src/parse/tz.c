/* tz.c - time zones (tz.h).  This first version knows UTC and fixed offsets; IANA zone names
 * (TZif files) are refused with CTM_ENOTFOUND until their reader lands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "tz.h"

struct ctm__tz {
    char name[256];
    int32_t offset_s;
};

static int two(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return 0;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* "+01:00", "-0530", "+01": the offset in seconds; 0 when s is none of them. */
static int fixed_offset(const char *s, int32_t *off)
{
    size_t n = strlen(s);
    int h = 0, m = 0;
    if (n < 3 || (s[0] != '+' && s[0] != '-') || !two(s + 1, &h))
        return 0;
    if (n == 6 && s[3] == ':' && two(s + 4, &m)) {
    } else if (n == 5 && two(s + 3, &m)) {
    } else if (n != 3) {
        return 0;
    }
    if (h > 14 || m > 59)
        return 0;
    *off = (h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1);
    return 1;
}

int ctm__tz_open(ctm__tz **out, const char *name)
{
    *out = NULL;
    int32_t off = 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return ctm__err(CTM_EINVAL, "zone: give UTC, an offset such as +01:00, or a zone name");
    if ((name[0] == '+' || name[0] == '-') && !fixed_offset(name, &off))
        return ctm__err(CTM_EINVAL, "zone '%.16s': an offset is +hh:mm, +hhmm or +hh, at most 14 "
                                    "hours",
                        name);
    if (strcmp(name, "UTC") != 0 && strcmp(name, "Z") != 0 && !fixed_offset(name, &off))
        return ctm__err(CTM_ENOTFOUND, "zone '%.64s': zone names are not supported yet; give the "
                                       "logger's offset, such as +01:00",
                        name);
    ctm__tz *z = calloc(1, sizeof *z);
    if (z == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    snprintf(z->name, sizeof z->name, "%s", name);
    z->offset_s = off;
    *out = z;
    return CTM_OK;
}

int ctm__tz_parse(ctm__tz **out, const char *name, const uint8_t *text, size_t len)
{
    (void)text;
    (void)len;
    *out = NULL;
    return ctm__err(CTM_EINVAL, "zone '%.64s': TZif files are not read yet", name);
}

void ctm__tz_free(ctm__tz *z)
{
    free(z);
}

const char *ctm__tz_name(const ctm__tz *z)
{
    return z->name;
}

int32_t ctm__tz_offset(const ctm__tz *z, int64_t utc_s)
{
    (void)utc_s;
    return z->offset_s;
}

int ctm__tz_to_utc(const ctm__tz *z, int64_t local_s, int64_t utc[2], int *n)
{
    utc[0] = utc[1] = local_s - z->offset_s;
    *n = 1;
    return CTM_OK;
}
