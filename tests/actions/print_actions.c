/* print_actions.c - libctm's action registry (ledger/actions.c), one action a line, for
 * check_actions.py to compare with the documents that list the actions:
 *
 *     name <TAB> actor <TAB> roles <TAB> esig <TAB> meaning <TAB> esig_param
 *
 * actor: roles, any, own or system; roles: role names joined by ","; esig: never, always, param
 * or caller; "-" for an empty field. */
#include <stdio.h>
#include <stdlib.h>

#include "actions.h"

static const char *actor_name(ctm__actor a)
{
    switch (a) {
    case CTM_ACTOR_ROLES: return "roles";
    case CTM_ACTOR_ANY: return "any";
    case CTM_ACTOR_OWN: return "own";
    case CTM_ACTOR_SYSTEM: return "system";
    }
    return "?";
}

static const char *esig_name(ctm__esig_policy p)
{
    switch (p) {
    case CTM_ESIG_NEVER: return "never";
    case CTM_ESIG_ALWAYS: return "always";
    case CTM_ESIG_PARAM: return "param";
    case CTM_ESIG_CALLER: return "caller";
    }
    return "?";
}

static void print_roles(unsigned roles)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CTM_ROLEBIT_ADMIN, "admin"},
                 {CTM_ROLEBIT_PHARMACIST, "pharmacist"},
                 {CTM_ROLEBIT_TECHNICIAN, "technician"},
                 {CTM_ROLEBIT_INVESTIGATOR, "investigator"},
                 {CTM_ROLEBIT_MONITOR, "monitor"}};
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (roles & names[i].bit) {
            printf("%s%s", sep, names[i].name);
            sep = ",";
        }
    if (*sep == '\0')
        printf("-");
}

int main(void)
{
    size_t n = 0;
    const ctm__action_def *t = ctm__action_table(&n);
    for (size_t i = 0; i < n; i++) {
        printf("%s\t%s\t", t[i].name, actor_name(t[i].actor));
        print_roles(t[i].roles);
        printf("\t%s\t%s\t%s\n", esig_name(t[i].esig), t[i].meaning ? t[i].meaning : "-",
               t[i].esig_param ? t[i].esig_param : "-");
    }
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
