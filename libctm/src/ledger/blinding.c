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

int ctm__blind_column(const char *table, const char *column)
{
    (void)table;
    size_t n = strlen(column);
    return strcmp(column, "arm") == 0 || (n > 4 && strcmp(column + n - 4, "_arm") == 0);
}
