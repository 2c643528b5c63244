/*
 * cmd_scan.c - `ctm scan`: what the library reads in a GS1 element string (no database, no login).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* What a pharmacist calls the AIs on a pack; other AIs show their number only. */
static const struct {
    const char *ai, *name;
} ai_names[] = {
    { "00", "SSCC" },           { "01", "GTIN" },             { "02", "contained GTIN" },
    { "03", "GTIN (to order)" }, { "10", "batch/lot" },       { "11", "production date" },
    { "12", "due date" },       { "13", "packaging date" },   { "15", "best before" },
    { "16", "sell by" },        { "17", "expiry" },           { "20", "variant" },
    { "21", "serial" },         { "22", "consumer variant" }, { "240", "additional ID" },
    { "241", "customer part" }, { "250", "secondary serial" }, { "30", "count" },
    { "37", "count of items" }, { "400", "order number" },    { "7003", "expiry date/time" },
    { "7240", "protocol" },
};

static const char *ai_name(const char *ai)
{
    for (size_t i = 0; i < sizeof ai_names / sizeof ai_names[0]; i++) {
        if (strcmp(ai_names[i].ai, ai) == 0)
            return ai_names[i].name;
    }
    return "";
}

/*
 * Scanners in keyboard mode cannot type the GS separator (0x1D), so people write it as "<GS>" or
 * "\x1d": turn those into the byte, in place (`ctm scan` and `ctm receive scan`).
 */
void cli_unescape_gs(char *text)
{
    char *out = text;
    for (const char *p = text; *p;) {
        if (strncmp(p, "<GS>", 4) == 0 || strncmp(p, "\\x1d", 4) == 0 ||
            strncmp(p, "\\x1D", 4) == 0) {
            *out++ = 0x1d;
            p += 4;
        } else {
            *out++ = *p++;
        }
    }
    *out = '\0';
}

int cli_kit_args(const struct cli_args *a, const char *first, int from, char ***out, size_t *n)
{
    size_t rest = a->npos > from ? (size_t)(a->npos - from) : 0;
    size_t count = (first != NULL) + rest;
    char **kits = calloc(count + 1, sizeof *kits);
    if (!kits)
        return cli_fail("out of memory");
    for (size_t i = 0; i < count; i++) {
        const char *arg = first == NULL ? a->pos[from + (int)i]
                          : i == 0    ? first
                                      : a->pos[from + (int)i - 1];
        if (!(kits[i] = strdup(arg))) {
            cli_kit_args_free(kits);
            return cli_fail("out of memory");
        }
        cli_unescape_gs(kits[i]);
    }
    *out = kits;
    if (n)
        *n = count;
    return CLI_OK;
}

void cli_kit_args_free(char **kits)
{
    for (size_t i = 0; kits && kits[i]; i++)
        free(kits[i]);
    free(kits);
}

static void print_fields(const ctm_gs1 *g)
{
    for (int i = 0; i < ctm_gs1_count(g); i++) {
        char ai[8];
        snprintf(ai, sizeof ai, "(%s)", ctm_gs1_ai(g, i));
        printf("%-6s  %-17s  ", ai, ai_name(ctm_gs1_ai(g, i)));
        cli_put_display(stdout, ctm_gs1_value(g, i));
        putchar('\n');
    }
    const char *expiry = ctm_gs1_expiry(g);
    printf("\nExpiry: %s\n", expiry ? expiry : "none in the barcode");
}

int cmd_scan(struct cli_session *s, const struct cli_args *a)
{
    (void)s;
    ctm_gs1 *g = NULL;
    char *input = strdup(a->pos[0]);
    if (input != NULL)
        cli_unescape_gs(input);
    if (input == NULL)
        return cli_fail("out of memory");
    int rc = ctm_gs1_parse(&g, input);
    free(input);
    if (rc != CTM_OK)
        return cli_fail_ctm(rc);
    if (cli_flag(a, "json")) {
        char *json = NULL;
        rc = ctm_gs1_json(&json, g);
        if (rc == CTM_OK)
            printf("%s\n", json);
        ctm_free(json);
    } else {
        print_fields(g);
    }
    ctm_gs1_free(g);
    return rc == CTM_OK ? CLI_OK : cli_fail_ctm(rc);
}
