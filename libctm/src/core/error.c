/* error.c - status codes and the per-thread last error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* The one piece of mutable state outside a handle: each thread sees its own last error, so
 * handles used on different threads never overwrite each other's messages. */
static _Thread_local char last_msg[1024];
static _Thread_local int last_code;

const char *ctm_errstr(int code)
{
    switch (code) {
    case CTM_OK: return "not an error";
    case CTM_ROW: return "a row is ready";
    case CTM_DONE: return "no more rows";
    case CTM_ERROR: return "internal error";
    case CTM_EINVAL: return "invalid input";
    case CTM_ENOMEM: return "out of memory";
    case CTM_EIO: return "file input/output error";
    case CTM_ENOTDB: return "not a libctm database";
    case CTM_EVERSION: return "database written by a newer libctm";
    case CTM_EAUTH: return "authentication failed";
    case CTM_EDENIED: return "permission denied";
    case CTM_EBLINDED: return "blinded information";
    case CTM_ENOTFOUND: return "not found";
    case CTM_EEXISTS: return "already exists";
    case CTM_ERULE: return "refused by a rule";
    case CTM_EINTEGRITY: return "integrity check failed";
    case CTM_EBUSY: return "database busy";
    case CTM_EMISUSE: return "library misuse";
    case CTM_EDISABLED: return "user disabled";
    case CTM_ECANCELED: return "canceled by the caller";
    default: return "unknown status code";
    }
}

const char *ctm_errmsg(void)
{
    return last_msg;
}

int ctm_errcode(void)
{
    return last_code;
}

void ctm__clear_error(void)
{
    last_msg[0] = '\0';
    last_code = CTM_OK;
}

int ctm__err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}


void ctm_free(void *p)
{
    free(p);
}
