/* testutil.h - small helpers shared by the Check unit tests. */
#ifndef CTM_TESTUTIL_H
#define CTM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under tests/data (static buffer, valid until the next call). */
const char *tu_data_path(const char *name);
/* Read a whole file; malloc'd, NUL-terminated, *len without the NUL.  NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* A fresh empty temporary directory (malloc'd path) and its removal with everything in it. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);
/* Decode hex into out (capacity cap); returns bytes written or -1. */
int tu_hex_decode(const char *hex, uint8_t *out, size_t cap);
/* Run a Check suite in the mode given by CK_FORK (both fork and no-fork are used in CI);
 * returns the process exit status. */
struct Suite;
int tu_run_suite(struct Suite *s);

#endif
