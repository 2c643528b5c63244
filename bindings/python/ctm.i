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
 *   ctm_audit_query(db, filter)       -> [status, ctm_query or None]
 *       filter: None or a dict with any of from_seq, limit, last, by, action, since, until,
 *       trial, kit (the ctm_audit_filter fields)
 *   ctm_audit_size(db)                -> [status, int]
 *   ctm_audit_checkpoint(db)          -> [status, str or None]
 *       (ctm_audit_vkey(db) and ctm_audit_prove(db, seq) alike)
 *   ctm_audit_verify(db, vkey, held)  -> [status, dict]          (the ctm_verify_result fields)
 *   ctm_witness_key_create(path, name), ctm_witness_key_vkey(path) -> [status, str or None]
 *   ctm_audit_witness(db, key_path, site_vkey, previous) -> [status, str or None]
 *   ctm_trial_list(db), ctm_kittype_list(db, trial), ctm_location_list(db), ctm_kits(db, filter),
 *   ctm_receive_discrepancies(db, shipment), ctm_shipment_list(db, trial),
 *   ctm_kit_history(db, trial, kit), ctm_kit_show(db, trial, kit),
 *   ctm_receive_status(db, shipment)  -> [status, ctm_query or None]
 *   ctm_kittype_add(db, trial, code, name, units, min, max, dnd_days, opts) -> status
 *       opts: None or a dict with any of dose_form, strength, excursion_budget_minutes,
 *       excursion_max_c, dispensing_days (the ctm_kittype_options fields)
 *   ctm_receive(db, trial, shipment, manifest, location, opts) -> status
 *       manifest: bytes or str (its length is passed along);
 *       opts: None or a dict with any of origin, date_received, excursion, logger (a path),
 *       logger_options (None or a dict as ctm_temp_import's opts, progress included)
 *   ctm_receive_scan(db, shipment, scan, damaged) -> [status, dict]
 *       (outcome (CTM_SCAN_*), kit_number, detail, checked, expected)
 *   ctm_kits(db, filter): filter None or a dict with any of trial, status, location, lot,
 *       expiring_within_days (-1: no filter), shipment
 *   ctm_expiry_extend(db, trial, lot, kits, new_expiry, reference), ctm_transfer(db, trial, kits,
 *   location, reason), ctm_transfer_out(db, trial, kits, destination, shipment, reason)
 *       kits: None or a list/tuple of str (passed as const char *const *kits, size_t nkits)
 *   ctm_random_generate(db, trial, size, block_sizes, opts), ctm_random_import(db, trial, format,
 *   text, opts) -> status
 *       opts: None or a dict with any of strata, seed, extend; text as a manifest
 *   ctm_random_minimization(db, trial, strata, factors, p, method) -> status  (as declared)
 *   ctm_random_scheme(db, trial), ctm_random_list(db, trial), ctm_subject_list(db, trial),
 *   ctm_subject_show(db, trial, screening) -> [status, ctm_query or None]
 *   ctm_randomize(db, trial, screening) -> [status, dict]  (rand_number, arm, stratum)
 *   ctm_visit_list(db, trial), ctm_subject_visits(db, trial, screening)
 *                                     -> [status, ctm_query or None]
 *   ctm_dispense_assign(db, trial, screening, visit, opts), ctm_dispense_replace(db, trial,
 *   screening, kit, how, reason), ctm_dispensations(db, trial, screening)
 *       -> [status, ctm_query or None]; opts: None or a dict with override_reason, titrate
 *   ctm_dispense_confirm(db, trial, screening, scans), ctm_dispense_record(db, trial, screening,
 *   visit, scans, when, reason) -> status   (scans as kits)
 *   ctm_codebreak(db, trial, screening, password, reason) -> [status, str or None]
 *   ctm_temp_import(db, location, path, opts) -> [status, dict]  (the ctm_temp_import_result
 *       fields); opts: None or a dict with any of format, tz, date_order, unit, progress (a
 *       callable progress(done, total), or None; an exception it raises stops the import,
 *       which changes nothing, and is raised again)
 *   ctm_shipment_logger(db, shipment, path, opts) -> [status, dict]  (as ctm_temp_import)
 *   ctm_temp_mkt(db, location, from, to, opts) -> [status, dict]  (the ctm_mkt_result fields);
 *       opts: None or a dict with any of energy_kj, max_gap_minutes
 *   ctm_kit_exposure(db, trial, kit) -> [status, dict]  (the ctm_exposure_result fields)
 *   ctm_temp_list(db, location, from, to), ctm_temp_files(db, location)
 *                                     -> [status, ctm_query or None]
 *   ctm_location_alarm(db, location, delay_minutes, max_gap_minutes) -> status
 *   ctm_excursions(db, location, open_only), ctm_excursion_kits(db, excursion)
 *                                     -> [status, ctm_query or None]
 *   ctm_excursion_decide(db, excursion, decision, reference, kits) -> status  (kits as above)
 *   ctm_excursion_report(db, excursion, format) -> [status, str or None]
 *   ctm_report(db, report, opts)      -> [status, ctm_query or None]
 *   ctm_report_render(db, report, opts, format) -> [status, str or None]
 *       opts: None or a dict with any of trial, as_of, from, to, days (-1: the report's
 *       default), kit_type (the ctm_report_options fields)
 *   ctm_return(db, trial, kit, units, returned_on, condition), ctm_lost(db, trial, kit,
 *   reported_on, reason), ctm_compliance_limits(db, trial, low, high) -> status  (as declared)
 *   ctm_compliance(db, trial, screening) -> [status, ctm_query or None]
 *   ctm_destroy(db, trial, kits, method, certificate, witness, witness_password),
 *   ctm_shipback(db, trial, shipment, destination, kits), ctm_shipback_dispatch(db, trial,
 *   shipment, reference), ctm_shipback_cancel(db, trial, shipment, reason) -> status  (kits as
 *   above)
 *   ctm_destructions(db, trial), ctm_shipbacks(db, trial), ctm_shipback_kits(db, trial, shipment)
 *                                     -> [status, ctm_query or None]
 *   ctm_shipback_manifest(db, trial, shipment) -> [status, str or None]
 *   ctm_reconciliation(db, trial, as_of), ctm_reconciliation_breaks(db, trial, as_of),
 *   ctm_darf(db, trial, kit_type), ctm_signoffs(db, trial) -> [status, ctm_query or None]
 *   ctm_signoff_reconciliation(db, trial, as_of, comment) -> status
 *   ctm_forecast(db, trial, days), ctm_self_inspection(db, trial, stale_days)
 *                                     -> [status, ctm_query or None]
 *   ctm_export(db, format, trial, opts) -> [status, str or None]
 *       opts: None or a dict with any of from, to (the ctm_export_options fields)
 *   ctm_gs1_parse(text)               -> [status, str or None]  (the ctm_gs1_json() text; the
 *                                        ctm_gs1 handle is freed inside the wrapper)
 *   Unknown keys in an options dict raise TypeError; every struct gets its struct_size.
 *
 * SWIG names the compiled extension after the module with one more underscore: the generated
 * shadow module is ctm/_ctm.py and the extension is ctm/__ctm.<ext-suffix>.
 *
 * Copyright (c) libctm authors.  MIT licence: see LICENSE.
 */
%module(package="ctm") _ctm

%{
#include <limits.h>
#include <string.h>
#include "ctm.h"
%}

%include <stdint.i>

/* The C structs are not wrapped as classes: the typemaps below convert them. */
%ignore ctm_open_options;
%ignore ctm_verify_result;
%ignore ctm_kittype_options;
%ignore ctm_receive_options;
%ignore ctm_scan_result;
%ignore ctm_random_options;
%ignore ctm_randomization;
%ignore ctm_dispense_options;
%ignore ctm_kit_filter;
%ignore ctm_audit_filter;
%ignore ctm_temp_import_options;
%ignore ctm_temp_import_result;
%ignore ctm_mkt_options;
%ignore ctm_mkt_result;
%ignore ctm_exposure_result;
%ignore ctm_report_options;
%ignore ctm_export_options;

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

/* A C string the library filled in (a fixed-size array, NUL-terminated by the caller) as str. */
static PyObject *ctm_py_str(const char *s)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

/* Options dicts: check that every key is one of keys (NULL-terminated); TypeError otherwise. */
static int ctm_py_opt_keys(PyObject *d, const char *what, const char *const *keys)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s: expected None or a dict", what);
        return 0;
    }
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *name;
        const char *const *p;
        if (!PyUnicode_Check(k)) {
            PyErr_Format(PyExc_TypeError, "%s: keys must be str", what);
            return 0;
        }
        name = PyUnicode_AsUTF8(k);
        if (name == NULL)
            return 0;
        for (p = keys; *p != NULL; p++)
            if (strcmp(*p, name) == 0)
                break;
        if (*p == NULL) {
            PyErr_Format(PyExc_TypeError, "%s: unknown field '%s'", what, name);
            return 0;
        }
    }
    return 1;
}

/* The text of d[key] (absent or None: *out unchanged).  Borrowed from the dict's value. */
static int ctm_py_opt_text(PyObject *d, const char *key, const char **out)
{
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL || v == Py_None)
        return 1;
    return ctm_py_borrow_text(v, key, out);
}

/* The int d[key] (absent or None: *out unchanged); bool counts as 0/1. */
static int ctm_py_opt_int(PyObject *d, const char *key, int *out)
{
    long n;
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL || v == Py_None)
        return 1;
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: expected int", key);
        return 0;
    }
    n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred())
        return 0;
    if (n < INT_MIN || n > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s: out of range", key);
        return 0;
    }
    *out = (int)n;
    return 1;
}

/* The unsigned 64-bit int d[key] (absent or None: *out unchanged). */
static int ctm_py_opt_u64(PyObject *d, const char *key, uint64_t *out)
{
    unsigned long long n;
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL || v == Py_None)
        return 1;
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: expected int", key);
        return 0;
    }
    n = PyLong_AsUnsignedLongLong(v);
    if (n == (unsigned long long)-1 && PyErr_Occurred())
        return 0;
    *out = (uint64_t)n;
    return 1;
}

/* The float d[key] (absent or None: *out unchanged); int and float accepted. */
static int ctm_py_opt_double(PyObject *d, const char *key, double *out)
{
    double x;
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL || v == Py_None)
        return 1;
    if (!PyLong_Check(v) && !PyFloat_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a number", key);
        return 0;
    }
    x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred())
        return 0;
    *out = x;
    return 1;
}

static PyObject *ctm_py_scan_dict(const ctm_scan_result *r)
{
    return Py_BuildValue("{s:i,s:N,s:N,s:K,s:K}",
                         "outcome", r->outcome,
                         "kit_number", ctm_py_str(r->kit_number),
                         "detail", ctm_py_str(r->detail),
                         "checked", (unsigned long long)r->checked,
                         "expected", (unsigned long long)r->expected);
}

static PyObject *ctm_py_randomization_dict(const ctm_randomization *r)
{
    return Py_BuildValue("{s:N,s:N,s:N}",
                         "rand_number", ctm_py_str(r->number),
                         "arm", ctm_py_str(r->arm),
                         "stratum", ctm_py_str(r->stratum));
}

static PyObject *ctm_py_verify_dict(const ctm_verify_result *r)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:L,s:s,s:s,s:s,s:O,s:K,s:K,s:s}",
                         "entries", (unsigned long long)r->entries,
                         "checkpoints", (unsigned long long)r->checkpoints,
                         "esignatures", (unsigned long long)r->esignatures,
                         "rows", (unsigned long long)r->rows,
                         "failed_seq", (long long)r->failed_seq,
                         "failed_table", r->failed_table,
                         "failed_key", r->failed_key,
                         "root_hex", r->root_hex,
                         "key_from_database", r->key_from_database ? Py_True : Py_False,
                         "cosignatures", (unsigned long long)r->cosignatures,
                         "witnessed_size", (unsigned long long)r->witnessed_size,
                         "witness", r->witness);
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
/* ctm_report_render_summary(db, report, opts, format) -> [status, str or None, ctm_query or None] */
%apply ctm_query **out { ctm_query **summary };

/* ---- strings the library allocates: returned as str, freed with ctm_free --------------------- */

%typemap(in, numinputs=0) char **note (char *tmp = NULL), char **vkey (char *tmp = NULL),
                          char **proof (char *tmp = NULL), char **json (char *tmp = NULL),
                          char **arm (char *tmp = NULL), char **out (char *tmp = NULL),
                          char **cosigned (char *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) char **note, char **vkey, char **proof, char **json, char **arm, char **out,
                  char **cosigned {
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
%typemap(freearg) char **note, char **vkey, char **proof, char **json, char **arm,
                   char **out, char **cosigned {
    ctm_free(tmp$argnum); /* only non-NULL when we failed before argout */
}
%apply char **out { char **csv };

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

/* ---- const ctm_kittype_options *opts: None or a dict of its fields ------------------------ */

%typemap(in) const ctm_kittype_options *opts (ctm_kittype_options tmp) {
    static const char *const keys[] = {"dose_form", "strength", "excursion_budget_minutes",
                                       "excursion_max_c", "dispensing_days", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        tmp.excursion_budget_minutes = -1;
        if (!ctm_py_opt_keys($input, "kittype options", keys)
            || !ctm_py_opt_text($input, "dose_form", &tmp.dose_form)
            || !ctm_py_opt_text($input, "strength", &tmp.strength)
            || !ctm_py_opt_int($input, "excursion_budget_minutes", &tmp.excursion_budget_minutes)
            || !ctm_py_opt_double($input, "excursion_max_c", &tmp.excursion_max_c)
            || !ctm_py_opt_int($input, "dispensing_days", &tmp.dispensing_days))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_random_options *opts: None or a dict of its fields -------------------------- */

%typemap(in) const ctm_random_options *opts (ctm_random_options tmp) {
    static const char *const keys[] = {"strata", "seed", "extend", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!ctm_py_opt_keys($input, "randomization options", keys)
            || !ctm_py_opt_text($input, "strata", &tmp.strata)
            || !ctm_py_opt_text($input, "seed", &tmp.seed)
            || !ctm_py_opt_int($input, "extend", &tmp.extend))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_dispense_options *opts: None or a dict of its fields ------------------------ */

%typemap(in) const ctm_dispense_options *opts (ctm_dispense_options tmp) {
    static const char *const keys[] = {"override_reason", "titrate", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!ctm_py_opt_keys($input, "dispense options", keys)
            || !ctm_py_opt_text($input, "override_reason", &tmp.override_reason)
            || !ctm_py_opt_int($input, "titrate", &tmp.titrate))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_temp_import_options *opts: None or a dict of its fields --------------------- */

%{
/* The progress callback of an import: a Python callable called as progress(done, total).  An
 * exception it raises (KeyboardInterrupt from Ctrl-C too) stops the import, which changes
 * nothing, and is raised again once the call has returned. */
typedef struct ctm_py_progress_ctx {
    PyObject *fn;
    PyObject *type, *value, *tb;
} ctm_py_progress_ctx;

static int ctm_py_progress(void *ctx, uint64_t done, uint64_t total)
{
    ctm_py_progress_ctx *c = ctx;
    PyObject *r = PyObject_CallFunction(c->fn, "KK", (unsigned long long)done,
                                        (unsigned long long)total);
    if (r == NULL) {
        PyErr_Fetch(&c->type, &c->value, &c->tb);
        return 1;
    }
    Py_DECREF(r);
    return 0;
}

/* The fields of an import options dict (what: its name in messages) into *o, with its progress
 * callback through *pctx (zeroed here).  The callable is borrowed from the dict. */
static int ctm_py_import_opts(PyObject *d, const char *what, ctm_temp_import_options *o,
                              ctm_py_progress_ctx *pctx)
{
    static const char *const keys[] = {"format", "tz", "date_order", "unit", "progress", NULL};
    PyObject *fn;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    memset(pctx, 0, sizeof *pctx);
    if (!ctm_py_opt_keys(d, what, keys)
        || !ctm_py_opt_text(d, "format", &o->format)
        || !ctm_py_opt_text(d, "tz", &o->tz)
        || !ctm_py_opt_text(d, "date_order", &o->date_order)
        || !ctm_py_opt_text(d, "unit", &o->unit))
        return 0;
    fn = PyDict_GetItemString(d, "progress"); /* borrowed */
    if (fn != NULL && fn != Py_None) {
        if (!PyCallable_Check(fn)) {
            PyErr_SetString(PyExc_TypeError, "progress: expected a callable or None");
            return 0;
        }
        pctx->fn = fn; /* the dict holds it for the call */
        o->progress = ctm_py_progress;
        o->progress_ctx = pctx;
    }
    return 1;
}
%}

%typemap(in) const ctm_temp_import_options *opts (ctm_temp_import_options tmp,
                                                 ctm_py_progress_ctx pctx) {
    memset(&pctx, 0, sizeof pctx);
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        if (!ctm_py_import_opts($input, "import options", &tmp, &pctx))
            SWIG_fail;
        $1 = &tmp;
    }
}
%typemap(argout) const ctm_temp_import_options *opts {
    if (pctx$argnum.type != NULL) { /* the callback's exception, raised again */
        PyErr_Restore(pctx$argnum.type, pctx$argnum.value, pctx$argnum.tb);
        Py_XDECREF($result);
        $result = NULL;
        SWIG_fail;
    }
}

/* ---- const ctm_receive_options *opts: None or a dict of its fields ------------------------- */

/* logger_options: None or a dict as an import's options (progress included). */
%typemap(in) const ctm_receive_options *opts (ctm_receive_options tmp,
                                             ctm_temp_import_options itmp,
                                             ctm_py_progress_ctx pctx) {
    static const char *const keys[] = {"origin", "date_received", "excursion", "logger",
                                       "logger_options", NULL};
    memset(&pctx, 0, sizeof pctx);
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        PyObject *lo;
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!ctm_py_opt_keys($input, "receive options", keys)
            || !ctm_py_opt_text($input, "origin", &tmp.origin)
            || !ctm_py_opt_text($input, "date_received", &tmp.date_received)
            || !ctm_py_opt_int($input, "excursion", &tmp.excursion)
            || !ctm_py_opt_text($input, "logger", &tmp.logger))
            SWIG_fail;
        lo = PyDict_GetItemString($input, "logger_options"); /* borrowed */
        if (lo != NULL && lo != Py_None) {
            if (!ctm_py_import_opts(lo, "logger options", &itmp, &pctx))
                SWIG_fail;
            tmp.logger_options = &itmp;
        }
        $1 = &tmp;
    }
}
%typemap(argout) const ctm_receive_options *opts {
    if (pctx$argnum.type != NULL) { /* the logger's progress callback's exception, again */
        PyErr_Restore(pctx$argnum.type, pctx$argnum.value, pctx$argnum.tb);
        Py_XDECREF($result);
        $result = NULL;
        SWIG_fail;
    }
}

/* ---- ctm_temp_import_result *: returned as a dict ------------------------------------------- */

%typemap(in, numinputs=0) ctm_temp_import_result *result (ctm_temp_import_result tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    $1 = &tmp;
}
%typemap(argout) ctm_temp_import_result *result {
    $result = ctm_py_append($result,
        Py_BuildValue("{s:O,s:L,s:K,s:K,s:K,s:L,s:L,s:s,s:s,s:s,s:K,s:K}",
                      "duplicate", tmp$argnum.duplicate ? Py_True : Py_False,
                      "file", (long long)tmp$argnum.file_id,
                      "readings", (unsigned long long)tmp$argnum.readings,
                      "days", (unsigned long long)tmp$argnum.days,
                      "added", (unsigned long long)tmp$argnum.added,
                      "first_us", (long long)tmp$argnum.first_us,
                      "last_us", (long long)tmp$argnum.last_us,
                      "format", tmp$argnum.format,
                      "serial", tmp$argnum.serial,
                      "sha256", tmp$argnum.sha256,
                      "excursions", (unsigned long long)tmp$argnum.excursions,
                      "quarantined", (unsigned long long)tmp$argnum.quarantined));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- const ctm_export_options *opts: None or a dict of its fields --------------------------- */

%typemap(in) const ctm_export_options *opts (ctm_export_options tmp) {
    static const char *const keys[] = {"from", "to", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!ctm_py_opt_keys($input, "export options", keys)
            || !ctm_py_opt_text($input, "from", &tmp.from)
            || !ctm_py_opt_text($input, "to", &tmp.to))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_mkt_options *opts and ctm_mkt_result *result ------------------------------- */

%typemap(in) const ctm_mkt_options *opts (ctm_mkt_options tmp) {
    static const char *const keys[] = {"energy_kj", "max_gap_minutes", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        if (!ctm_py_opt_keys($input, "mkt options", keys)
            || !ctm_py_opt_double($input, "energy_kj", &tmp.energy_kj)
            || !ctm_py_opt_int($input, "max_gap_minutes", &tmp.max_gap_minutes))
            SWIG_fail;
        $1 = &tmp;
    }
}

%typemap(in, numinputs=0) ctm_mkt_result *result (ctm_mkt_result tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    $1 = &tmp;
}
%typemap(argout) ctm_mkt_result *result {
    $result = ctm_py_append($result,
        Py_BuildValue("{s:d,s:d,s:K,s:L,s:L,s:d,s:d,s:K,s:L}",
                      "mkt", tmp$argnum.mkt_c,
                      "energy_kj", tmp$argnum.energy_kj,
                      "readings", (unsigned long long)tmp$argnum.readings,
                      "first_us", (long long)tmp$argnum.first_us,
                      "last_us", (long long)tmp$argnum.last_us,
                      "min", tmp$argnum.min_c,
                      "max", tmp$argnum.max_c,
                      "gaps", (unsigned long long)tmp$argnum.gaps,
                      "gap_us", (long long)tmp$argnum.gap_us));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- ctm_exposure_result *: returned as a dict -------------------------------------------- */

%typemap(in, numinputs=0) ctm_exposure_result *result (ctm_exposure_result tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    $1 = &tmp;
}
%typemap(argout) ctm_exposure_result *result {
    $result = ctm_py_append($result,
        Py_BuildValue("{s:K,s:L,s:L,s:L,s:d,s:d,s:d,s:O,s:L,s:d,s:O}",
                      "readings", (unsigned long long)tmp$argnum.readings,
                      "minutes_high", (long long)tmp$argnum.minutes_high,
                      "minutes_low", (long long)tmp$argnum.minutes_low,
                      "minutes_unknown", (long long)tmp$argnum.minutes_unknown,
                      "min", tmp$argnum.min_c,
                      "max", tmp$argnum.max_c,
                      "mkt", tmp$argnum.mkt_c,
                      "has_budget", tmp$argnum.has_budget ? Py_True : Py_False,
                      "budget_minutes", (long long)tmp$argnum.budget_minutes,
                      "budget_max", tmp$argnum.budget_max_c,
                      "over_budget", tmp$argnum.over_budget ? Py_True : Py_False));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- ctm_randomization *: returned as a dict ------------------------------------------------ */

%typemap(in, numinputs=0) ctm_randomization *result (ctm_randomization tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    $1 = &tmp;
}
%typemap(argout) ctm_randomization *result {
    $result = ctm_py_append($result, ctm_py_randomization_dict(&tmp$argnum));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- const ctm_kit_filter *filter: None or a dict of its fields ---------------------------- */

%typemap(in) const ctm_kit_filter *filter (ctm_kit_filter tmp) {
    static const char *const keys[] = {"trial", "status", "location", "lot",
                                       "expiring_within_days", "shipment", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        memset(&tmp, 0, sizeof tmp);
        tmp.struct_size = sizeof tmp;
        tmp.expiring_within_days = -1;
        if (!ctm_py_opt_keys($input, "kit filter", keys)
            || !ctm_py_opt_text($input, "trial", &tmp.trial)
            || !ctm_py_opt_text($input, "status", &tmp.status)
            || !ctm_py_opt_text($input, "location", &tmp.location)
            || !ctm_py_opt_text($input, "lot", &tmp.lot)
            || !ctm_py_opt_int($input, "expiring_within_days", &tmp.expiring_within_days)
            || !ctm_py_opt_text($input, "shipment", &tmp.shipment))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_audit_filter *filter: None or a dict of its fields -------------------------- */

%typemap(in) const ctm_audit_filter *filter (ctm_audit_filter tmp) {
    static const char *const keys[] = {"from_seq", "limit", "last", "by", "action", "since",
                                       "until", "trial", "kit", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        ctm_audit_filter init = CTM_AUDIT_FILTER_INIT;
        tmp = init;
        if (!ctm_py_opt_keys($input, "audit filter", keys)
            || !ctm_py_opt_u64($input, "from_seq", &tmp.from_seq)
            || !ctm_py_opt_u64($input, "limit", &tmp.limit)
            || !ctm_py_opt_u64($input, "last", &tmp.last)
            || !ctm_py_opt_text($input, "by", &tmp.by)
            || !ctm_py_opt_text($input, "action", &tmp.action)
            || !ctm_py_opt_text($input, "since", &tmp.since)
            || !ctm_py_opt_text($input, "until", &tmp.until)
            || !ctm_py_opt_text($input, "trial", &tmp.trial)
            || !ctm_py_opt_text($input, "kit", &tmp.kit))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- const ctm_report_options *opts: None or a dict of its fields -------------------------- */

%typemap(in) const ctm_report_options *opts (ctm_report_options tmp) {
    static const char *const keys[] = {"trial", "as_of", "from", "to", "days", "kit_type", NULL};
    if ($input == Py_None) {
        $1 = NULL;
    } else {
        ctm_report_options init = CTM_REPORT_OPTIONS_INIT;
        tmp = init;
        if (!ctm_py_opt_keys($input, "report options", keys)
            || !ctm_py_opt_text($input, "trial", &tmp.trial)
            || !ctm_py_opt_text($input, "as_of", &tmp.as_of)
            || !ctm_py_opt_text($input, "from", &tmp.from)
            || !ctm_py_opt_text($input, "to", &tmp.to)
            || !ctm_py_opt_int($input, "days", &tmp.days)
            || !ctm_py_opt_text($input, "kit_type", &tmp.kit_type))
            SWIG_fail;
        $1 = &tmp;
    }
}

/* ---- (const char *manifest, size_t manifest_len): bytes, bytearray or str (UTF-8) ------------ */

%typemap(in) (const char *manifest, size_t manifest_len) {
    char *buf = NULL;
    Py_ssize_t len = 0;
    if (PyBytes_Check($input)) {
        if (PyBytes_AsStringAndSize($input, &buf, &len) < 0)
            SWIG_fail;
    } else if (PyByteArray_Check($input)) {
        buf = PyByteArray_AS_STRING($input);
        len = PyByteArray_GET_SIZE($input);
    } else if (PyUnicode_Check($input)) {
        const char *s = PyUnicode_AsUTF8AndSize($input, &len);
        if (s == NULL)
            SWIG_fail;
        buf = (char *)s;
    } else {
        PyErr_SetString(PyExc_TypeError, "manifest: expected bytes or str");
        SWIG_fail;
    }
    /* The argument tuple keeps the object (and so its buffer) alive during the call. */
    $1 = buf;
    $2 = (size_t)len;
}

/* A randomization list's text, as a manifest's. */
%apply (const char *manifest, size_t manifest_len) { (const char *text, size_t len) };

/* ---- (const char *const *kits, size_t nkits): None or a list/tuple of str ------------------ */

%typemap(in) (const char *const *kits, size_t nkits)
    (PyObject *fast = NULL, const char **arr = NULL) {
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        Py_ssize_t i, n;
        if (!PyList_Check($input) && !PyTuple_Check($input)) {
            PyErr_SetString(PyExc_TypeError, "kits: expected None or a list of str");
            SWIG_fail;
        }
        fast = PySequence_Fast($input, "kits: expected a list of str");
        if (fast == NULL)
            SWIG_fail;
        n = PySequence_Fast_GET_SIZE(fast);
        arr = (const char **)PyMem_Malloc((size_t)(n + 1) * sizeof *arr);
        if (arr == NULL) {
            PyErr_NoMemory();
            SWIG_fail;
        }
        for (i = 0; i < n; i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
            if (item == Py_None) {
                PyErr_SetString(PyExc_TypeError, "kits: expected str items, got None");
                SWIG_fail;
            }
            if (!ctm_py_borrow_text(item, "kits", &arr[i]))
                SWIG_fail;
        }
        arr[n] = NULL;
        $1 = ($1_ltype)arr;
        $2 = (size_t)n;
    }
}
%typemap(freearg) (const char *const *kits, size_t nkits) {
    PyMem_Free((void *)arr$argnum);
    Py_XDECREF(fast$argnum);
}

/* Scans of kits handed over, as the kits of a transfer. */
%apply (const char *const *kits, size_t nkits) { (const char *const *scans, size_t nscans) };

/* ---- ctm_scan_result *: returned as a dict -------------------------------------------------- */

%typemap(in, numinputs=0) ctm_scan_result *result (ctm_scan_result tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.struct_size = sizeof tmp;
    $1 = &tmp;
}
%typemap(argout) ctm_scan_result *result {
    tmp$argnum.kit_number[sizeof tmp$argnum.kit_number - 1] = '\0';
    tmp$argnum.detail[sizeof tmp$argnum.detail - 1] = '\0';
    $result = ctm_py_append($result, ctm_py_scan_dict(&tmp$argnum));
    if ($result == NULL)
        SWIG_fail;
}

/* ---- ctm_gs1 **out: the parse comes back as its ctm_gs1_json() text; the handle is freed ----- */

%typemap(in, numinputs=0) ctm_gs1 **out (ctm_gs1 *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) ctm_gs1 **out {
    PyObject *s = NULL;
    if (tmp$argnum) {
        char *js = NULL;
        /* On failure (CTM_ENOMEM) None comes back with status CTM_OK: the Python layer raises
         * from ctm_errcode()/ctm_errmsg(), which ctm_gs1_free() leaves alone. */
        if (ctm_gs1_json(&js, tmp$argnum) == CTM_OK && js != NULL)
            s = ctm_py_str(js);
        ctm_free(js);
        ctm_gs1_free(tmp$argnum);
        tmp$argnum = NULL;
        if (s == NULL && PyErr_Occurred()) {
            Py_XDECREF($result);
            $result = NULL;
            SWIG_fail;
        }
    }
    if (s == NULL) {
        Py_INCREF(Py_None);
        s = Py_None;
    }
    $result = ctm_py_append($result, s);
    if ($result == NULL)
        SWIG_fail;
}
%typemap(freearg) ctm_gs1 **out {
    if (tmp$argnum) /* only when we failed before argout; keep ctm_errmsg() untouched otherwise */
        ctm_gs1_free(tmp$argnum);
}

%include "ctm.h"
