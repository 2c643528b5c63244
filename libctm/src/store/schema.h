/* schema.h - the tables of a libctm site and how each schema version is reached (internal). */
#ifndef CTM_SCHEMA_H
#define CTM_SCHEMA_H

#include "store.h"

#define CTM_SCHEMA_VERSION 10

/* The SQL of migration v (from schema version v to v + 1), or NULL.  Shipped migrations never
 * change: a new version appends one.  verify builds its replay copy from the same list, so the
 * replay schema is always the live schema. */
const char *ctm__schema_migration(int v);
/* The SQL that writes the rows migration v derives from the site's existing rows (NULL: none),
 * run by the upgrade's ledger entry with its changes captured (ctm__ledger_upgrade); the same
 * text on every engine. */
const char *ctm__schema_derivation(int v);
/* Migration SQL in PostgreSQL's type names (malloc'ed; NULL when out of memory). */
char *ctm__schema_postgres(const char *sql);
/* The SQL PostgreSQL runs for migration v: its own text where schema.c gives one (version 4's
 * ALTER TABLE), else the translated one (malloc'ed; NULL when out of memory or v is none). */
char *ctm__schema_postgres_migration(int v);
/* Take s's schema from version `from` to `to` and record the new version (inside the caller's
 * transaction).  PostgreSQL runs a migration's own PostgreSQL text where schema.c gives one
 * (version 4's ALTER TABLE), else the translated SQL. */
int ctm__schema_apply(ctm__store *s, int from, int to);
/* Non-zero when a table's non-key values are secrets recorded only as digests. */
int ctm__table_is_secret(const char *table);

#endif
