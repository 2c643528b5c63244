/*
 * ctm.i - SWIG interface for the low-level Python module ctm._ctm.
 *
 * This layer is deliberately thin: it exposes ctm.h as it is, with typemaps that turn the C
 * out-parameters into extra return values.  Every function that returns an int status still
 * returns it (first), so the hand-written Pythonic layer (ctm/__init__.py) decides what becomes an
 * exception.  Nothing here raises for a libctm failure; Python exceptions come only from bad
 * argument types.
 *
 *   ctm_open(path, opts)              -> [status, ctm_db or None]
 *       opts: None or a tuple (flags, key_path or None, site_seed bytes or None, busy_timeout_ms)
 *   ctm_user_list(db)                 -> [status, ctm_query or None]
 *   ctm_audit_log(db, from_seq, limit)-> [status, ctm_query or None]
 *   ctm_audit_size(db)                -> [status, int]
 *   ctm_audit_checkpoint(db)          -> [status, str or None]
 *       (ctm_audit_vkey(db) and ctm_audit_prove(db, seq) alike)
 *   ctm_audit_verify(db, vkey, held)  -> [status, dict]          (the ctm_verify_result fields)
 *
 * SWIG names the compiled extension after the module with one more underscore: the generated
 * shadow module is ctm/_ctm.py and the extension is ctm/__ctm.<ext-suffix>.
 *
 * Copyright (c) libctm authors.  MIT licence: see LICENSE.
 */
%module(package="ctm") _ctm

%{
#include <string.h>
#include "ctm.h"
%}

%include <stdint.i>

/* The C structs are not wrapped as classes: the typemaps below convert them. */
%ignore ctm_open_options;
%ignore ctm_verify_result;

/* ---- helpers -------------------------------------------------------------------------------- */

%{
/* Borrow UTF-8 text from a str (or None -> NULL).  Returns 0 and sets a Python exception on a bad
 * type or an embedded NUL.  The pointer lives as long as obj. */
static int ctm_py_borrow_text(PyObject *obj, const char *what, const char **out)
{
    Py_ssize_t len = 0;
    const char *s;
    if (obj == Py_None) {
        *out = NULL;
        return 1;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected str or None", what);
        return 0;
    }
    s = PyUnicode_AsUTF8AndSize(obj, &len);
    if (s == NULL)
        return 0;
    if ((size_t)len != strlen(s)) {
        PyErr_Format(PyExc_ValueError, "%s: contains a NUL character", what);
        return 0;
    }
    *out = s;
    return 1;
}

/* Append obj (a new reference, stolen) to the result list; NULL obj means an error is set. */
static PyObject *ctm_py_append(PyObject *result, PyObject *obj)
{
    if (obj == NULL) {
        Py_XDECREF(result);
        return NULL;
    }
    return SWIG_Python_AppendOutput(result, obj);
}

static PyObject *ctm_py_verify_dict(const ctm_verify_result *r)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:L,s:s,s:s,s:s,s:O}",
                         "entries", (unsigned long long)r->entries,
                         "checkpoints", (unsigned long long)r->checkpoints,
                         "esignatures", (unsigned long long)r->esignatures,
                         "rows", (unsigned long long)r->rows,
                         "failed_seq", (long long)r->failed_seq,
                         "failed_table", r->failed_table,
                         "failed_key", r->failed_key,
                         "root_hex", r->root_hex,
                         "key_from_database", r->key_from_database ? Py_True : Py_False);
}
%}

/* ---- strict text arguments ------------------------------------------------------------------ */

/* Reject embedded NULs here too (the Python layer checks first and names the argument). */
%typemap(in) const char * {
    if (!ctm_py_borrow_text($input, "$1_name", (const char **)&$1))
        SWIG_fail;
}
%typemap(freearg) const char * "";
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const char * {
    $1 = ($input == Py_None || PyUnicode_Check($input)) ? 1 : 0;
}

/* ---- handles through ** out-parameters ------------------------------------------------------ */

%typemap(in, numinputs=0) ctm_db **out (ctm_db *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) ctm_db **out {
    PyObject *h = Py_None;
    if (tmp$argnum)
        h = SWIG_NewPointerObj(SWIG_as_voidptr(tmp$argnum), $descriptor(ctm_db *), 0);
    else
        Py_INCREF(Py_None);
    $result = ctm_py_append($result, h);
    if ($result == NULL) {
        ctm_close(tmp$argnum);
        SWIG_fail;
    }
}

%typemap(in, numinputs=0) ctm_query **out (ctm_query *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) ctm_query **out {
    PyObject *h = Py_None;
    if (tmp$argnum)
        h = SWIG_NewPointerObj(SWIG_as_voidptr(tmp$argnum), $descriptor(ctm_query *), 0);
    else
        Py_INCREF(Py_None);
    $result = ctm_py_append($result, h);
    if ($result == NULL) {
        ctm_query_free(tmp$argnum);
        SWIG_fail;
    }
}

/* ---- strings the library allocates: returned as str, freed with ctm_free --------------------- */

%typemap(in, numinputs=0) char **note (char *tmp = NULL), char **vkey (char *tmp = NULL),
                          char **proof (char *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) char **note, char **vkey, char **proof {
    PyObject *s;
    if (tmp$argnum) {
        s = PyUnicode_DecodeUTF8(tmp$argnum, (Py_ssize_t)strlen(tmp$argnum), "surrogateescape");
    } else {
        Py_INCREF(Py_None);
        s = Py_None;
    }
    ctm_free(tmp$argnum);
    tmp$argnum = NULL;
    $result = ctm_py_append($result, s);
    if ($result == NULL)
        SWIG_fail;
}
%typemap(freearg) char **note, char **vkey, char **proof {
    ctm_free(tmp$argnum); /* only non-NULL when we failed before argout */
}

/* ---- uint64_t *size ------------------------------------------------------------------------- */

%typemap(in, numinputs=0) uint64_t *size (uint64_t tmp = 0) {
    $1 = &tmp;
}
%typemap(argout) uint64_t *size {
    $result = ctm_py_append($result, PyLong_FromUnsignedLongLong((unsigned long long)tmp$argnum));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- ctm_verify_result *: returned as a dict ------------------------------------------------ */

%typemap(in, numinputs=0) ctm_verify_result *result (ctm_verify_result tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    tmp.failed_seq = -1;
    $1 = &tmp;
}
%typemap(argout) ctm_verify_result *result {
    tmp$argnum.failed_table[sizeof tmp$argnum.failed_table - 1] = '\0';
    tmp$argnum.failed_key[sizeof tmp$argnum.failed_key - 1] = '\0';
    tmp$argnum.root_hex[sizeof tmp$argnum.root_hex - 1] = '\0';
    $result = ctm_py_append($result, ctm_py_verify_dict(&tmp$argnum));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- const ctm_open_options *opts: None or (flags, key_path, site_seed, busy_timeout_ms) -- */

%typemap(in) const ctm_open_options *opts (ctm_open_options tmp) {
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        PyObject *o_flags, *o_key, *o_seed, *o_busy;
        const char *key_path = NULL;
        unsigned long flags;
        long busy;
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!PyTuple_Check($input) || PyTuple_Size($input) != 4) {
            PyErr_SetString(PyExc_TypeError,
                            "opts: expected None or (flags, key_path, site_seed, busy_timeout_ms)");
            SWIG_fail;
        }
        o_flags = PyTuple_GET_ITEM($input, 0);
        o_key = PyTuple_GET_ITEM($input, 1);
        o_seed = PyTuple_GET_ITEM($input, 2);
        o_busy = PyTuple_GET_ITEM($input, 3);
        flags = PyLong_AsUnsignedLong(o_flags);
        if (PyErr_Occurred())
            SWIG_fail;
        busy = PyLong_AsLong(o_busy);
        if (PyErr_Occurred())
            SWIG_fail;
        if (busy < 0 || busy > 0x7fffffffL) {
            PyErr_SetString(PyExc_ValueError, "busy_timeout_ms: out of range");
            SWIG_fail;
        }
        if (!ctm_py_borrow_text(o_key, "key_path", &key_path))
            SWIG_fail;
        tmp.flags = (unsigned)flags;
        tmp.key_path = key_path;
        tmp.busy_timeout_ms = (int)busy;
        if (o_seed != Py_None) {
            if (!PyBytes_Check(o_seed) || PyBytes_GET_SIZE(o_seed) != 32) {
                PyErr_SetString(PyExc_ValueError, "site_seed: expected 32 bytes");
                SWIG_fail;
            }
            /* The tuple keeps the bytes alive during the call; the library copies the seed. */
            tmp.site_seed = (const unsigned char *)PyBytes_AS_STRING(o_seed);
        }
        $1 = &tmp;
    }
}

%include "ctm.h"
