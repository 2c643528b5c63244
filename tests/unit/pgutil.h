/* pgutil.h - PostgreSQL databases for tests that need a server of their own choosing (test_seam, test_verify_engines, test_server,
 * test_migrate): the server the environment names, fresh databases on it, and their removal. */
#ifndef CTM_PGUTIL_H
#define CTM_PGUTIL_H

#include <stddef.h>

/* The server the environment names (CTM_TEST_PG, else "postgresql://" when PGHOST is set, as
 * pg_virtualenv sets it), or NULL when none is named or this libctm has no PostgreSQL engine
 * (then a line on stderr, starting with who, says so). */
const char *pu_server(const char *who);
/* A new empty database on the server, named prefix + "_" + random hex; its connection string
 * into out.  Asserts. */
void pu_new_database(const char *server, const char *prefix, char *out, size_t len);
/* Drop every database whose name starts with prefix + "_" (tests that failed included).  Prints
 * what it could not drop; makes no assertion. */
void pu_drop_databases(const char *server, const char *prefix);

#endif
