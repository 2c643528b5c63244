/* blinding.c - what a session is shown of treatment arms (see blinding.h). */
#include <string.h>

#include "blinding.h"
#include "internal.h"

int ctm__blind_sees_all(const ctm_db *db)
{
    return db != NULL && db->session.user != NULL && db->session.unblinded;
}

int ctm__blind_sees_trial(const ctm_db *db, int trial_blinded)
{
    return !trial_blinded || ctm__blind_sees_all(db);
}

/* Besides arms: what would let a reader predict or reconstruct allocations.  A generated list's
 * seed regenerates it; its block structure tells where a block ends, so that the last
 * allocations of a block follow from the first; minimization's draw, with the history, replays
 * every choice. */
static const char *const secret_columns[] = { "seed", "block", "block_size", "block_sizes",
                                              "draw" };

/* Minimization's weights, imbalance method and p tell, with the subjects' strata and (in an
 * open trial) their arms, which arm the next subject most likely gets: hidden like a list's
 * block sizes.  Named by table: "p" is too short a name to hide everywhere. */
static const char *const scheme_columns[] = { "weights", "imbalance", "p" };

int ctm__blind_column(const char *table, const char *column)
{
    size_t n = strlen(column);
    if (strcmp(column, "arm") == 0 || (n > 4 && strcmp(column + n - 4, "_arm") == 0))
        return 1;
    for (size_t i = 0; i < sizeof secret_columns / sizeof secret_columns[0]; i++)
        if (strcmp(column, secret_columns[i]) == 0)
            return 1;
    if (table != NULL && strcmp(table, "rand_schemes") == 0)
        for (size_t i = 0; i < sizeof scheme_columns / sizeof scheme_columns[0]; i++)
            if (strcmp(column, scheme_columns[i]) == 0)
                return 1;
    return 0;
}
