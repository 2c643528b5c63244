/* sqlite_value.h - an SQLite value as libctm's value type (internal; for the SQLite engine and
 * verify.c's own replay connection, the two users of sqlite3.h). */
#ifndef CTM_SQLITE_VALUE_H
#define CTM_SQLITE_VALUE_H

#include <sqlite3.h>

#include "value.h"

/* A value as SQLite holds it, by storage class (audit-format.md 2.1); texts and blobs borrowed. */
void ctm__sqlite_value(sqlite3_value *sv, ctm__value *v);

#endif
