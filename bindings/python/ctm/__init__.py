"""libctm for Python: clinical trial medication management with a signed audit ledger.

This is the Pythonic layer over the SWIG-generated low-level module ``ctm._ctm`` (which mirrors
``ctm.h`` one to one).  Here every libctm failure becomes an exception (a subclass of
:class:`ctm.Error`), handles are objects with context managers, and result sets are iterators of
dicts::

    import ctm

    with ctm.init("site.db", site="Hospital Pharmacy", admin="alice",
                  password="correct horse battery") as db:
        db.user_add("bob", "pharmacist", "another long password", printed_name="Bob Smith")
        db.note("monitor visit", meaning="reviewed")

    with ctm.open("site.db", user="alice", password="correct horse battery") as db:
        for event in db.events():
            print(event["seq"], event["action"], event["user"])
        print(db.verify())

Stock at the trial pharmacy (a pharmacist logged in)::

    db.trial_add("CT-1", "A blinded trial", "Sponsor AB", {"ACTIVE": 1, "PLACEBO": 1},
                 blinded=True)
    db.kittype_add("CT-1", "KT-10", "Product 10 mg tablets", 30, storage=(2, 8), dnd_days=30)
    db.location_add("FRIDGE-1", (2, 8), kind="fridge")
    db.receive("CT-1", "SHIP-1", pathlib.Path("manifest.csv"), "FRIDGE-1")
    print(db.scan("SHIP-1", scanned_text)["outcome"])      # "ok", "repeat", "mismatch", "extra"
    db.confirm("SHIP-1")
    db.kits(trial="CT-1", status="available").to_csv("available.csv")
    print(ctm.gs1_parse("(01)05909990329717(10)NE76571(17)270430")["expiry"])  # 2027-04-30

Objects from one :class:`Database` (its :class:`Query` results) keep the database alive, and
everything refuses use after :meth:`Database.close` with :class:`MisuseError` instead of crashing.
One Database is meant for one thread at a time, like the C handle it wraps.
"""

import collections.abc
import contextlib
import csv
import datetime
import itertools
import json
import math
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from . import _ctm as _c

__all__ = [
    "Error", "InvalidError", "NoMemoryError", "FileError", "NotADatabaseError", "VersionError",
    "AuthError", "PermissionDenied", "BlindingError", "NotFoundError", "ExistsError", "RuleError",
    "IntegrityError", "BusyError", "MisuseError", "DisabledError", "CanceledError",
    "Database", "Query", "open", "init", "version", "gs1_parse", "ROLES", "KIT_STATUSES",
    "SCAN_OUTCOMES", "csv_safe", "witness_key_create", "witness_key_vkey",
]

__version__ = _c.ctm_version()

#: A row of a listing: column name -> value (None, int, float, str, bool, datetime.date or a
#: timezone-aware datetime.datetime in UTC, as each listing documents).
Row = Dict[str, Any]
#: A file name: str, bytes or os.PathLike.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: A date: a datetime.date (a datetime gives its date) or "YYYY-MM-DD" text.
DateLike = Union[datetime.date, str]

#: The roles libctm knows, as accepted by :meth:`Database.user_add`.
ROLES = ("admin", "pharmacist", "technician", "investigator", "monitor")

#: The kit statuses libctm knows (stable names), as accepted by :meth:`Database.kit_set_status`
#: and the ``status`` filter of :meth:`Database.kits`.
KIT_STATUSES = ("in_transit", "received", "available", "dispensed", "returned",
                "pending_destruction", "destroyed", "returned_to_sponsor", "quarantined", "damaged",
                "missing", "lost_by_subject", "expired", "not_dispensed")

#: The outcomes of :meth:`Database.scan`, by ``CTM_SCAN_*`` code.
SCAN_OUTCOMES = {
    _c.CTM_SCAN_OK: "ok",
    _c.CTM_SCAN_REPEAT: "repeat",
    _c.CTM_SCAN_MISMATCH: "mismatch",
    _c.CTM_SCAN_EXTRA: "extra",
}


def version() -> str:
    """Return the version of the libctm shared library in use, e.g. ``"0.1.0"``."""
    return _c.ctm_version()


# ---------------------------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------------------------

class Error(Exception):
    """A libctm failure.

    Attributes:
        code: the libctm status code (a negative ``CTM_E*`` value).
        message: the message from ``ctm_errmsg()``, naming the offending field or value (or the
            static text for the code when the library gave none).
    """

    code = _c.CTM_ERROR

    def __init__(self, message: str = "", code: Optional[int] = None) -> None:
        if code is None:
            code = type(self).code
        self.code = code
        self.message = message or _c.ctm_errstr(code)
        super().__init__(self.message)


class InvalidError(Error, ValueError):
    """Bad input: a name, value or argument is not acceptable (``CTM_EINVAL``)."""
    code = _c.CTM_EINVAL


class NoMemoryError(Error, MemoryError):
    """Out of memory (``CTM_ENOMEM``)."""
    code = _c.CTM_ENOMEM


class FileError(Error):
    """A file (database, key file) could not be read or written (``CTM_EIO``)."""
    code = _c.CTM_EIO


class NotADatabaseError(Error):
    """The file is not a libctm database (``CTM_ENOTDB``)."""
    code = _c.CTM_ENOTDB


class VersionError(Error):
    """The database was written by a newer libctm (``CTM_EVERSION``)."""
    code = _c.CTM_EVERSION


class AuthError(Error):
    """Authentication failed: unknown user or wrong password (``CTM_EAUTH``)."""
    code = _c.CTM_EAUTH


class PermissionDenied(Error):
    """The user's role does not allow the action (``CTM_EDENIED``)."""
    code = _c.CTM_EDENIED


class BlindingError(Error):
    """The action would reveal blinded information to a blinded user (``CTM_EBLINDED``)."""
    code = _c.CTM_EBLINDED


class NotFoundError(Error, LookupError):
    """The named record does not exist (``CTM_ENOTFOUND``)."""
    code = _c.CTM_ENOTFOUND


class ExistsError(Error):
    """A record with that name or number already exists (``CTM_EEXISTS``)."""
    code = _c.CTM_EEXISTS


class RuleError(Error):
    """A rule of the trade refuses the action in the current state (``CTM_ERULE``)."""
    code = _c.CTM_ERULE


class IntegrityError(Error):
    """Verification failed: the ledger or the tables were altered (``CTM_EINTEGRITY``).

    Attributes:
        result: the verification result dict (see :meth:`Database.verify`) when raised by
            verify(), with ``failed_seq``, ``failed_table`` and ``failed_key``; otherwise None.
    """
    code = _c.CTM_EINTEGRITY

    def __init__(self, message: str = "", code: Optional[int] = None,
                 result: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, code)
        self.result = result


class BusyError(Error):
    """The database is locked by another writer beyond the busy timeout (``CTM_EBUSY``)."""
    code = _c.CTM_EBUSY


class MisuseError(Error):
    """The API was used out of order: no login, no site, or a closed handle (``CTM_EMISUSE``)."""
    code = _c.CTM_EMISUSE


class DisabledError(Error):
    """The user account is disabled (``CTM_EDISABLED``)."""
    code = _c.CTM_EDISABLED


class CanceledError(Error):
    """A progress callback asked a long call to stop; nothing was changed (``CTM_ECANCELED``)."""
    code = _c.CTM_ECANCELED


_ERRORS = {cls.code: cls for cls in (
    InvalidError, NoMemoryError, FileError, NotADatabaseError, VersionError, AuthError,
    PermissionDenied, BlindingError, NotFoundError, ExistsError, RuleError, IntegrityError,
    BusyError, MisuseError, DisabledError, CanceledError)}


def _error(rc):
    """The exception for status rc, with the calling thread's last libctm message."""
    message = _c.ctm_errmsg()  # first: it is only valid until the next libctm call
    return _ERRORS.get(rc, Error)(message, rc)


def _check(rc):
    """Raise the exception for a negative status; return rc otherwise."""
    if rc < 0:
        raise _error(rc)
    return rc


# ---------------------------------------------------------------------------------------------
# Argument checks (before anything reaches C)
# ---------------------------------------------------------------------------------------------

def _text(name, value, optional=False):
    """Check that value is a str fit for C (no NUL, encodable as UTF-8); None only if optional."""
    if value is None:
        if optional:
            return None
        raise InvalidError("%s: required, got None" % name)
    if not isinstance(value, str):
        raise InvalidError("%s: expected str, got %s" % (name, type(value).__name__))
    nul = value.find("\0")
    if nul >= 0:
        raise InvalidError("%s: contains a NUL character at index %d" % (name, nul))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidError("%s: not encodable as UTF-8 at index %d" % (name, exc.start)) from None
    return value


def _path(name, value, optional=False):
    """Accept str, bytes or os.PathLike as a file name and return it as checked str."""
    if value is None and optional:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        value = os.fsdecode(os.fspath(value))
    return _text(name, value, optional)


def _count(name, value):
    """Check a non-negative integer that fits uint64_t."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidError("%s: expected int, got %s" % (name, type(value).__name__))
    if value < 0 or value >= 1 << 64:
        raise InvalidError("%s: must be between 0 and 2**64-1, got %d" % (name, value))
    return value


def _seed(value):
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidError("site_seed: expected 32 bytes, got %s" % type(value).__name__)
    value = bytes(value)
    if len(value) != 32:
        raise InvalidError("site_seed: expected 32 bytes, got %d" % len(value))
    return value


def _int(name, value, minimum=None):
    """Check an int that fits a C int (bool is refused), at least minimum when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidError("%s: expected int, got %s" % (name, type(value).__name__))
    if value < -(1 << 31) or value >= 1 << 31:
        raise InvalidError("%s: out of range, got %d" % (name, value))
    if minimum is not None and value < minimum:
        raise InvalidError("%s: must be at least %d, got %d" % (name, minimum, value))
    return value


def _record(name, value):
    """Check a record number (an excursion's, a file's): an int that fits int64_t."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidError("%s: expected int, got %s" % (name, type(value).__name__))
    if value < -(1 << 63) or value >= 1 << 63:
        raise InvalidError("%s: out of range, got %d" % (name, value))
    return value


def _import_options(format=None, tz=None, date_order=None, unit=None, progress=None):
    """The options of a logger file import, checked, as the dict the low-level module takes."""
    opts = {"format": _text("format", format, optional=True),
            "tz": _text("tz", tz, optional=True),
            "date_order": _text("date_order", date_order, optional=True),
            "unit": _text("unit", unit, optional=True)}
    if progress is not None:
        if not callable(progress):
            raise InvalidError("progress: expected a callable or None")
        opts["progress"] = progress
    return opts


_IMPORT_OPTIONS = frozenset(("format", "tz", "date_order", "unit", "progress"))


def _import_result(result):
    """An import's result dict with its span as UTC datetimes (None for an empty span)."""
    first, last = result.pop("first_us"), result.pop("last_us")
    span = result["readings"] + result["days"] > 0
    result["first"] = _from_us(first) if span else None
    result["last"] = _from_us(last) if span else None
    return result


def _number(name, value):
    """Check a finite real number (int or float; bool is refused) and return it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidError("%s: expected a number, got %s" % (name, type(value).__name__))
    value = float(value)
    if not math.isfinite(value):
        raise InvalidError("%s: must be a finite number" % name)
    return value


def _pair(name, value, first="min", second="max"):
    """Check a (min, max) pair of numbers, e.g. a temperature range in degrees Celsius."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidError("%s: expected a (%s, %s) pair, got %s"
                           % (name, first, second, type(value).__name__))
    return (_number("%s %s" % (name, first), value[0]),
            _number("%s %s" % (name, second), value[1]))


def _date(name, value, optional=False):
    """Accept a datetime.date (or datetime: its date) or a str and return "YYYY-MM-DD" text.

    Strings are passed on as they are: the library checks the format and names the field.
    """
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _text(name, value, optional)


def _instant(name, value):
    """A time bound for the audit log as the ISO 8601 text libctm reads (None: no bound)."""
    if value is None or isinstance(value, str):
        return _text(name, value, optional=True)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise InvalidError("%s: expected datetime, date or str, got %s" % (name, type(value).__name__))


def _kits(value, optional=False):
    """Check a list (or any iterable but a bare str) of kit numbers and return it as a list."""
    if value is None:
        if optional:
            return None
        raise InvalidError("kits: required, got None")
    if isinstance(value, (str, bytes)) or not isinstance(value, collections.abc.Iterable):
        raise InvalidError("kits: expected a list of str, got %s" % type(value).__name__)
    kits = list(value)
    for i, kit in enumerate(kits):
        _text("kits[%d]" % i, kit)
    return kits


def _arms(value):
    """Turn arms given as "A:1,B:1" or {"A": 1, "B": 1} into the text the library takes.

    Only the types are checked here; the library checks codes and ratios and names the field.
    Messages never repeat an arm code.
    """
    if isinstance(value, collections.abc.Mapping):
        if not value:
            raise InvalidError("arms: at least one arm is required")
        parts = []
        for i, (code, ratio) in enumerate(value.items()):
            if not isinstance(code, str):
                raise InvalidError("arms: arm %d: code must be str, got %s"
                                   % (i + 1, type(code).__name__))
            if isinstance(ratio, bool) or not isinstance(ratio, int):
                raise InvalidError("arms: arm %d: ratio must be int, got %s"
                                   % (i + 1, type(ratio).__name__))
            if any(c in code for c in ":,"):
                raise InvalidError("arms: arm %d: code must not contain ':' or ','" % (i + 1))
            parts.append("%s:%d" % (code, ratio))
        value = ",".join(parts)
    return _text("arms", value)


def _manifest(value, name="manifest"):
    """A file's content as bytes: from str (UTF-8), a bytes-like object, or a path-like (read)."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidError("%s: not encodable as UTF-8 at index %d"
                               % (name, exc.start)) from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        try:
            with builtin_open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise FileError("%s: cannot read %r: %s" % (name, os.fsdecode(path), exc.strerror),
                            _c.CTM_EIO) from exc
    raise InvalidError("%s: expected str, bytes or a path-like, got %s"
                       % (name, type(value).__name__))


def _window(value):
    """A visit window as "-3..+3" text, from that text or a (before, after) pair of days."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidError("window: expected a (before, after) pair of days")
        before, after = (_int("window before", value[0], 0), _int("window after", value[1], 0))
        value = "-%d..+%d" % (before, after)
    return _text("window", value)


def _visit_kits(value):
    """A visit's kits as "KT10:1,DOSE:1" text, from that text or a mapping {"KT10": 1}."""
    if isinstance(value, collections.abc.Mapping):
        parts = []
        for kit_type, count in value.items():
            if not isinstance(kit_type, str):
                raise InvalidError("kits: kit types must be str")
            parts.append("%s:%d" % (kit_type, _int("kits: " + kit_type, count)))
        value = ",".join(parts)
    return _text("kits", value)


def _strata(name, value, optional=True):
    """Strata values as "sex=M,age=ge65" text, from that text or a mapping {"sex": "M"}."""
    if isinstance(value, collections.abc.Mapping):
        parts = []
        for factor, level in value.items():
            if not isinstance(factor, str) or not isinstance(level, str):
                raise InvalidError("%s: factors and levels must be str" % name)
            parts.append("%s=%s" % (factor, level))
        value = ",".join(parts)
    return _text(name, value, optional)


# ---------------------------------------------------------------------------------------------
# GS1 barcodes
# ---------------------------------------------------------------------------------------------

def gs1_parse(text: str) -> Dict[str, Any]:
    """Parse a scanned or typed GS1 element string and return what it carries as a dict.

    text: scanner output (an optional symbology identifier ``]d2``, ``]Q3`` or ``]C1``;
    variable-length fields ended by the GS character ``"\x1d"``) or the bracketed
    human-readable form ``"(01)05909990329717(10)NE76571(17)270430"``.

    Returns ``{"ai": {"01": ..., "10": ..., ...}, "gtin": ..., "lot": ..., "serial": ...,
    "expiry": datetime.date(...)}`` with None for absent fields (the ``ctm_gs1_json()`` form;
    the raw values under ``"ai"`` stay text as scanned).
    Needs no database.  Raises :class:`InvalidError` with the reason and the AI (a bad check
    digit, an impossible date, a field too long, a bad character, an unknown AI...).
    """
    text = _text("text", text)
    rc, js = _c.ctm_gs1_parse(text)
    _check(rc)
    if js is None:
        raise _error(_c.ctm_errcode() or _c.CTM_ENOMEM)
    parsed = json.loads(js)
    parsed["expiry"] = _as_date(parsed.get("expiry"))
    return parsed


# ---------------------------------------------------------------------------------------------
# Witness keys
# ---------------------------------------------------------------------------------------------

def witness_key_create(path: PathLike, name: str) -> str:
    """Make a monitor's witness key: a new Ed25519 key named name (a C2SP key name such as
    ``"monitor.example.org/anna"``: no spaces, control characters or ``+``) written to a new file
    at path (mode 0600; an existing file is never overwritten).  Returns its verifier key, for
    whoever checks the cosignatures.  Needs no database; keep the file away from the site.
    Raises InvalidError (a bad name), ExistsError (path exists), FileError.
    """
    path = _path("path", path)
    name = _text("name", name)
    rc, vkey = _c.ctm_witness_key_create(path, name)
    _check(rc)
    return vkey


def witness_key_vkey(path: PathLike) -> str:
    """The verifier key of the witness key file at path.  Raises FileError (missing, readable
    by others, not a witness key file)."""
    path = _path("path", path)
    rc, vkey = _c.ctm_witness_key_vkey(path)
    _check(rc)
    return vkey


# ---------------------------------------------------------------------------------------------
# Result sets
# ---------------------------------------------------------------------------------------------

def _as_time(value: Any) -> Any:
    """An ISO 8601 UTC time from the library ("2026-11-23T06:01:02.123456Z") as an aware
    datetime in UTC; anything else (None, "(blinded)") as it is."""
    if not isinstance(value, str):
        return value
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.astimezone(datetime.timezone.utc)


def _as_date(value: Any) -> Any:
    """A "YYYY-MM-DD" date from the library as a datetime.date; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return value


def _as_bool(value: Any) -> Any:
    """A 0/1 flag as a bool; None stays None."""
    return value if value is None else bool(value)


def _as_json(value: Any) -> Any:
    """A JSON column parsed; text that is not JSON (e.g. "(blinded)") stays text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# What each listing's columns become in Python, beyond the library's int, float and str; the
# kind also chooses the pandas dtype in Query.to_pandas().
def _from_us(us):
    """UTC microseconds since 1970 as a timezone-aware datetime."""
    return (datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            + datetime.timedelta(microseconds=us))


_TIME, _DATE, _BOOL, _JSON = "time", "date", "bool", "json"
_CONVERT = {_TIME: _as_time, _DATE: _as_date, _BOOL: _as_bool, _JSON: _as_json}
_USERS = {"unblinded": _BOOL, "disabled": _BOOL, "must_change": _BOOL, "created": _TIME}
_EVENTS = {"time": _TIME, "esig_time": _TIME, "params": _JSON, "changes": _JSON}
_TRIALS = {"blinded": _BOOL, "created": _TIME}
_SHIPMENTS = {"date_received": _DATE}
_DISCREPANCIES = {"recorded": _TIME}
_LOTS = {"expiry": _DATE, "dispensable": _BOOL}
_KITS = {"expiry": _DATE, "dispensable": _BOOL}
_HISTORY = {"since": _TIME, "until": _TIME}
_KIT = dict(_KITS, date_received=_DATE)  # ctm_kit_show: a kit listing row and more
_SUBJECTS = {"enrolled": _TIME, "randomized": _TIME, "ended": _TIME}
_SUBJECT_VISITS = {"due": _DATE, "window_from": _DATE, "window_to": _DATE, "dispensed": _DATE,
                   "on_hold": _BOOL}
_ASSIGNED = {"expiry": _DATE}
_DISPENSATIONS = {"assigned": _TIME, "dispensed": _TIME, "recorded": _TIME}
_READINGS = {"time": _TIME}
_LOGGER_FILES = {"first": _TIME, "last": _TIME, "imported": _TIME}
_EXCURSIONS = {"daily": _BOOL, "start": _TIME, "end": _TIME, "ongoing": _BOOL,
               "min_time": _TIME, "max_time": _TIME, "detected": _TIME, "decided": _TIME}
_EXCURSION_KITS = {"quarantined": _BOOL, "decided": _TIME, "over_budget": _BOOL}
_COMPLIANCE = {"dispensed_on": _DATE, "returned_on": _DATE}
_DESTRUCTIONS = {"expiry": _DATE, "destroyed": _TIME}
_SHIPBACKS = {"packed": _TIME, "dispatched": _TIME}
_SHIPBACK_KITS = {"expiry": _DATE}
_RECONCILIATION = {"balanced": _BOOL, "as_of": _DATE}
_DARF = {"date": _TIME}
_SIGNOFFS = {"as_of": _DATE, "balanced": _BOOL, "signed": _TIME}
_FORECAST = {"through": _DATE, "first_shortfall": _DATE}
_INSPECTION = {"since": _DATE}
# The parts of an excursion's JSON report, typed as the listings they come from.
_REPORT_PARTS = {"loggers": {"first": _TIME, "last": _TIME}, "kits": _EXCURSION_KITS,
                 "signatures": {"signed": _TIME}}
# The typed columns of each report of ctm_report() (docs/reports.md).
_REPORTS = {"inventory": {"expiry": _DATE, "expiring_soon": _BOOL, "expired": _BOOL},
            "audit": {"time": _TIME, "esig_time": _TIME},
            "subjects": _COMPLIANCE, "reconciliation": _RECONCILIATION, "darf": _DARF,
            "forecast": _FORECAST, "self-inspection": _INSPECTION}


def _typed(row, kinds):
    """A row (dict) from JSON with its columns converted as a Query converts them."""
    for name, kind in kinds.items():
        if name in row:
            row[name] = _CONVERT[kind](row[name])
    return row


class Query:
    """A libctm result set: an iterator of dicts mapping column names to values.

    Values are typed: None, int, float and str as the library gives them, and, as each listing
    documents, bool for flags (``dispensable``, ``blinded``...), :class:`datetime.date` for
    dates (``expiry``, ``date_received``) and timezone-aware :class:`datetime.datetime` in UTC
    for times (``created``, ``recorded``, ``time``...).  A Query is a single-pass cursor like a
    DB-API cursor: once iterated to the end it yields nothing more.  It keeps its Database
    alive, is freed when exhausted, closed or garbage-collected, and raises
    :class:`MisuseError` when used after its Database was closed.
    """

    def __init__(self, db: "Database", handle: Any,
                 kinds: Optional[Mapping[str, str]] = None) -> None:
        self._db = db
        self._token = db._register(handle)
        self._done = False
        n = _c.ctm_query_column_count(handle)
        self._columns = tuple(_c.ctm_query_column_name(handle, i) for i in range(n))
        # The typed columns this listing has, found by name (a listing may lack one).
        self._kinds: Dict[str, str] = {}
        for name, kind in (kinds or {}).items():
            if _c.ctm_query_column_index(handle, name) >= 0:
                self._kinds[name] = kind

    @property
    def columns(self) -> Tuple[str, ...]:
        """The column names, in order (a tuple of str)."""
        return self._columns

    def _handle(self):
        self._db._handle()  # MisuseError once the database is closed
        return self._db._live.get(self._token)

    def _next_raw(self) -> Row:
        q = self._handle()
        if q is None or self._done:
            raise StopIteration
        rc = _c.ctm_query_next(q)
        if rc == _c.CTM_DONE:
            self._done = True
            self.close()
            raise StopIteration
        if rc != _c.CTM_ROW:
            _check(rc)
            raise Error("ctm_query_next: unexpected status %d" % rc)
        row = {}
        for i, name in enumerate(self._columns):
            kind = _c.ctm_query_column_type(q, i)
            if kind == _c.CTM_NULL:
                value = None
            elif kind == _c.CTM_INTEGER:
                value = _c.ctm_query_int64(q, i)
            elif kind == _c.CTM_REAL:
                value = _c.ctm_query_double(q, i)
            else:
                value = _c.ctm_query_text(q, i)
            row[name] = value
        return row

    def __iter__(self) -> "Query":
        return self

    def __next__(self) -> Row:
        row = self._next_raw()
        for name, kind in self._kinds.items():
            row[name] = _CONVERT[kind](row[name])
        return row

    def fetchall(self) -> List[Row]:
        """Return the remaining rows as a list of dicts."""
        return list(self)

    def close(self) -> None:
        """Free the result set now (also done at exhaustion and by the garbage collector)."""
        self._done = True
        db = self.__dict__.get("_db")
        if db is not None:
            db._unregister(self.__dict__.get("_token"))

    def __enter__(self) -> "Query":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def to_pandas(self) -> Any:
        """Return the remaining rows as a pandas DataFrame with :attr:`columns` as its columns.

        Columns get their dtypes: times ``datetime64[ns, UTC]``, dates ``datetime64[ns]``
        (midnight of the day; pandas has no date dtype), flags ``bool`` (``boolean`` when a
        value is missing), whole numbers ``int64`` (``Int64`` when a value is missing), other
        numbers ``float64``; text stays ``object``.  JSON columns hold dicts and lists.
        pandas is imported only here; it is optional (Debian: python3-pandas).  The frame holds
        the values as they are: ``DataFrame.to_csv`` does not neutralise spreadsheet formulas,
        so write CSV for people with :meth:`to_csv`, or pass the frame through
        ``df.applymap(ctm.csv_safe)`` first.
        """
        try:
            import pandas
        except ImportError as exc:
            raise ImportError("ctm.Query.to_pandas() needs pandas, which is not installed "
                              "(Debian: apt install python3-pandas)") from exc
        rows = list(self)
        frame = pandas.DataFrame.from_records(rows, columns=list(self._columns))
        for name in self._columns:
            kind = self._kinds.get(name)
            values = [row[name] for row in rows]
            present = [v for v in values if v is not None]
            if kind == _TIME and all(isinstance(v, datetime.datetime) for v in present):
                frame[name] = pandas.to_datetime(frame[name], utc=True)
            elif kind == _DATE and all(isinstance(v, datetime.date) for v in present):
                frame[name] = pandas.to_datetime(frame[name])
            elif kind == _BOOL:
                frame[name] = frame[name].astype("boolean" if len(present) < len(values)
                                                 else "bool")
            elif kind is None and present and len(present) < len(values) and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in present):
                frame[name] = frame[name].astype("Int64")
        return frame

    def to_csv(self, path_or_file: Union[PathLike, Any]) -> int:
        """Write the remaining rows as CSV (a header line, then one line per row).

        path_or_file: a file name (str or os.PathLike; written as UTF-8) or an open text file.
        Values are written as the library returns them: times as ISO 8601 text
        ("2026-11-23T06:01:02Z"), dates as "YYYY-MM-DD", flags as 0/1, JSON columns as JSON
        text, except that a text value a spreadsheet would run as a formula gets a leading
        single quote (see :func:`csv_safe`); numbers stay numbers.  Returns the number of rows
        written.
        """
        if hasattr(path_or_file, "write"):
            return self._write_csv(path_or_file)
        with builtin_open(os.fspath(path_or_file), "w", newline="", encoding="utf-8") as f:
            return self._write_csv(f)

    def _write_csv(self, f: Any) -> int:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([csv_safe(c) for c in self._columns])
        n = 0
        while True:
            try:
                row = self._next_raw()
            except StopIteration:
                return n
            writer.writerow(["" if row[c] is None else csv_safe(row[c]) for c in self._columns])
            n += 1

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        return "<ctm.Query %s columns=%r>" % (state, list(self._columns))


builtin_open = open  # the module defines its own open()

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A value made safe for a CSV file that a spreadsheet will open.

    A str beginning with = + - @, a tab or a carriage return would be run as a formula; it is
    returned with a leading single quote (OWASP's advice), which spreadsheets show as text.
    Anything else, numbers included (-3 stays -3), is returned unchanged.  :meth:`Query.to_csv`
    applies it to every cell; apply it to a pandas frame with ``df.applymap(ctm.csv_safe)``.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------

class Database:
    """An open libctm database (one ``ctm_db`` handle) with at most one logged-in user.

    Obtain one with :func:`ctm.open` or :func:`ctm.init`.  Use it as a context manager to close
    it on exit.  After :meth:`close`, every method raises :class:`MisuseError`.
    """

    def __init__(self, handle: Any, path: str, readonly: bool = False) -> None:
        self._h = handle
        self._path = path
        self._readonly = readonly
        self._live: Dict[int, Any] = {}  # token -> ctm_query handle of every Query not yet freed
        self._tokens = itertools.count(1)

    # -- handle bookkeeping --------------------------------------------------------------------

    def _handle(self) -> Any:
        h = self.__dict__.get("_h")
        if h is None:
            raise MisuseError("database %r is closed" % self.__dict__.get("_path"))
        return h

    def _register(self, qhandle: Any) -> int:
        token = next(self._tokens)
        self._live[token] = qhandle
        return token

    def _unregister(self, token: Optional[int]) -> None:
        live = self.__dict__.get("_live")
        q = live.pop(token, None) if live is not None else None
        if q is not None:
            _c.ctm_query_free(q)

    def close(self) -> None:
        """Close the database: free its open result sets, log out and wipe key material.

        Closing twice is harmless.
        """
        h = self.__dict__.get("_h")
        if h is None:
            return
        self._h = None
        live, self._live = self._live, {}
        for q in live.values():
            _c.ctm_query_free(q)
        _c.ctm_close(h)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self.__dict__.get("_h") is None

    @property
    def path(self) -> str:
        """The database file name."""
        return self._path

    @property
    def readonly(self) -> bool:
        """True when opened with ``readonly=True``."""
        return self._readonly

    def __enter__(self) -> "Database":
        self._handle()
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self) -> str:
        if self.closed:
            return "<ctm.Database %r closed>" % (self._path,)
        return "<ctm.Database %r user=%r>" % (self._path, self.current_user)

    # -- sessions ------------------------------------------------------------------------------

    def login(self, user: str, password: str) -> None:
        """Log user in on this handle; they become the acting user of every write.

        A wrong password raises :class:`AuthError` and is recorded in the ledger
        ("auth.failed"); five consecutive failures disable the account.  A disabled account
        raises :class:`DisabledError` whatever the password.  An empty password raises
        :class:`InvalidError` and is not counted.  After an administrator reset the password,
        the login succeeds but the session may only choose a new password
        (see :attr:`must_change_password`).
        Raises AuthError, DisabledError, InvalidError.
        """
        user = _text("user", user)
        password = _text("password", password)
        _check(_c.ctm_login(self._handle(), user, password))

    def logout(self) -> None:
        """Forget the logged-in user and wipe their unsealed key (harmless when nobody is)."""
        _c.ctm_logout(self._handle())

    @property
    def current_user(self) -> Optional[str]:
        """The logged-in user's name, or None."""
        return _c.ctm_current_user(self._handle())

    @property
    def must_change_password(self) -> bool:
        """True when an administrator reset the logged-in user's password: until
        ``user_passwd(new_password)`` chooses the user's own, every other call raises
        :class:`PermissionDenied`."""
        return bool(_c.ctm_must_change_password(self._handle()))

    # -- users ---------------------------------------------------------------------------------

    def user_add(self, name: str, role: str, password: str, unblinded: bool = False,
                 printed_name: Optional[str] = None) -> None:
        """Add a user (admins only).

        role: one of :data:`ROLES`.  unblinded: True lets the user see treatment arms.
        printed_name: the name shown on e-signatures (default: the user name).
        Audited as "user.add", e-signed by the admin.
        Raises InvalidError, ExistsError, PermissionDenied, MisuseError (no login).
        """
        name = _text("name", name)
        role = _text("role", role)
        password = _text("password", password)
        printed_name = _text("printed_name", printed_name, optional=True)
        _check(_c.ctm_user_add(self._handle(), name, role, 1 if unblinded else 0, printed_name,
                               password))

    def user_disable(self, name: str, reason: str) -> None:
        """Disable a user (admins only; not oneself).  reason is mandatory."""
        name = _text("name", name)
        reason = _text("reason", reason)
        _check(_c.ctm_user_disable(self._handle(), name, reason))

    def user_enable(self, name: str, reason: str) -> None:
        """Re-enable a disabled user (admins only).  reason is mandatory."""
        name = _text("name", name)
        reason = _text("reason", reason)
        _check(_c.ctm_user_enable(self._handle(), name, reason))

    def user_set_role(self, name: str, role: str, reason: str,
                      unblinded: Optional[bool] = None) -> None:
        """Change a user's role (admins only).  reason is mandatory.

        unblinded: True or False sets the flag; None (the default) keeps the user's current one.
        """
        name = _text("name", name)
        role = _text("role", role)
        reason = _text("reason", reason)
        if unblinded is None:
            current = [u for u in self.users() if u["user"] == name]
            if not current:
                raise NotFoundError("user '%s' does not exist" % name)
            unblinded = bool(current[0]["unblinded"])
        _check(_c.ctm_user_set_role(self._handle(), name, role, 1 if unblinded else 0, reason))

    def user_passwd(self, new_password: str, user: Optional[str] = None) -> None:
        """Change a password: one's own (user None), or as an admin another user's.

        One's own change gives the user a new signing key and is e-signed with it ("password
        changed"); the new password must differ from the current one.  An admin's reset of
        another user ("user.reset") leaves that user no usable key: they may do nothing but
        choose their own password (see :attr:`must_change_password`).
        Raises InvalidError, PermissionDenied, NotFoundError, AuthError, MisuseError.
        """
        new_password = _text("new_password", new_password)
        user = _text("user", user, optional=True)
        _check(_c.ctm_user_passwd(self._handle(), user, new_password))

    def users(self) -> Query:
        """List the users (any logged-in user may).

        Returns a :class:`Query` of dicts with user, printed_name, role, unblinded (bool),
        disabled (bool), failed_logins (int), created (datetime, UTC), public_key (hex) and
        must_change (bool: the password was reset and the user has not chosen their own yet).
        """
        rc, q = _c.ctm_user_list(self._handle())
        _check(rc)
        return Query(self, q, _USERS)

    # -- the audit ledger ----------------------------------------------------------------------

    def note(self, text: str, meaning: Optional[str] = None) -> None:
        """Record a free-text note in the audit trail ("audit.note").

        meaning: when given (1-100 characters), the note is e-signed by the logged-in user with
        that meaning.
        """
        text = _text("text", text)
        meaning = _text("meaning", meaning, optional=True)
        _check(_c.ctm_audit_note(self._handle(), text, meaning))

    def migrate_to(self, target: PathLike) -> None:
        """Copy this site, its ledger byte for byte, into target: an empty PostgreSQL database
        ("postgresql://..." or a libpq "key=value" string) or a file that does not exist yet.

        The copy holds the same entries, roots and checkpoints; this database is not changed.
        Open the copy with ctm.open(target, key_path=...) and the same site key.  Needs an
        unblinded administrator logged in (the copy holds every kit's arm).  Raises
        PermissionDenied (not an administrator), BlindingError (a blinded one), ExistsError
        (target holds a site or rows, or the file exists), NotADatabaseError (target holds
        something else), VersionError (this site is at an older schema version), FileError or
        BusyError (the target cannot be reached or written; nothing is left there).
        """
        _check(_c.ctm_migrate_to(self._handle(), _path("target", target)))

    @contextlib.contextmanager
    def batch(self) -> Iterator["Database"]:
        """Group the actions in a with-block into one transaction and one signed checkpoint.

        Commits when the block ends normally; rolls everything back when an exception leaves it
        (and re-raises).  An action failing inside the block fails alone if you catch its
        exception there.  Batches do not nest (MisuseError).
        """
        _check(_c.ctm_batch_begin(self._handle()))
        try:
            yield self
        except BaseException:
            h = self.__dict__.get("_h")
            if h is not None:
                _c.ctm_batch_rollback(h)
            raise
        rc = _c.ctm_batch_commit(self._handle())
        if rc < 0:
            err = _error(rc)
            _c.ctm_batch_rollback(self._handle())  # leave no batch open behind us
            raise err

    def events(self, from_seq: int = 0, limit: int = 0, *, by: Optional[str] = None,
               action: Optional[str] = None, since: Union[datetime.datetime, datetime.date, str, None] = None,
               until: Union[datetime.datetime, datetime.date, str, None] = None, trial: Optional[str] = None,
               kit: Optional[str] = None, last: Optional[int] = None) -> Query:
        """The audit log, oldest first, as a :class:`Query` of dicts.

        Columns: seq (int), time (datetime, UTC, to the microsecond), user, action, reason,
        params (parsed from JSON into a dict), changes (parsed into a list of {"table", "op",
        "key", "columns"}), esig_user, esig_name, esig_meaning, esig_time (datetime or None),
        leaf_hash and changes_summary (the changes for a person to read: one line per row
        change up to 5, else counts per table such as "kits: 10,000 inserted; shipments: 1
        inserted").  Needs a logged-in user.  leaf_hash is None for a blinded user on the
        unsalted entries that begin a site migrated from an older schema version.

        Filters combine (an entry must pass all given):
        from_seq/limit select a window (limit 0: all); by: the acting user's name; action: an
        action name ("kit.status") or a family ("shipment.*"); since/until: a
        :class:`datetime.datetime` (naive ones are UTC), a :class:`datetime.date` (until
        includes the whole day) or an ISO 8601 str, both bounds included; trial: a trial code;
        kit: a kit number (entries about that kit: its parameters or row changes); last: only
        the newest N matching entries, still oldest first (not with limit).  A blinded user's
        filters never look at values shown to them as "(blinded)".
        Raises InvalidError (a filter named), NotFoundError (no such trial or kit).
        """
        spec = {"from_seq": _count("from_seq", from_seq), "limit": _count("limit", limit)}
        if last is not None:
            spec["last"] = _count("last", last)
        for name, value in (("by", by), ("action", action), ("trial", trial), ("kit", kit)):
            spec[name] = _text(name, value, optional=True)
        spec["since"] = _instant("since", since)
        spec["until"] = _instant("until", until)
        rc, q = _c.ctm_audit_query(self._handle(), spec)
        _check(rc)
        return Query(self, q, _EVENTS)

    @property
    def size(self) -> int:
        """The number of entries in the ledger (the tree size)."""
        rc, n = _c.ctm_audit_size(self._handle())
        _check(rc)
        return n

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note) as a str.  Needs no login."""
        rc, note = _c.ctm_audit_checkpoint(self._handle())
        _check(rc)
        return note

    def vkey(self) -> str:
        """The site's verifier key ("<origin>+<key id>+<base64 key>") as a str."""
        rc, key = _c.ctm_audit_vkey(self._handle())
        _check(rc)
        return key

    def prove(self, seq: int) -> str:
        """An inclusion proof (text) for ledger entry seq in the tree of the latest checkpoint.

        Raises BlindingError on a ledger that begins with unsalted entries (a site migrated from
        an older schema version) unless an unblinded user is logged in, NotFoundError beyond the
        latest checkpoint."""
        seq = _count("seq", seq)
        rc, proof = _c.ctm_audit_prove(self._handle(), seq)
        _check(rc)
        return proof

    def verify(self, vkey: Optional[str] = None,
               checkpoint: Optional[str] = None) -> Dict[str, Any]:
        """Verify the whole database offline (ledger, signatures, e-signatures, live tables).

        vkey: the site's verifier key held outside (recommended); None trusts the key stored in
        the database.  checkpoint: a signed checkpoint held outside; the log must have only grown
        since it.  Needs no login.

        Returns a dict: entries, checkpoints, esignatures, rows, failed_seq (-1), failed_table,
        failed_key, root_hex, key_from_database (bool), cosignatures (the monitors'
        cosignatures counted), witnessed_size (the largest size they cover, 0: none) and witness
        (that cosignature's key name, or "").  Raises :class:`IntegrityError` on failure, with
        this dict as ``exc.result``; also when the ledger no longer extends a witnessed size
        (fewer entries, or another root at that size).
        """
        vkey = _text("vkey", vkey, optional=True)
        checkpoint = _text("checkpoint", checkpoint, optional=True)
        rc, result = _c.ctm_audit_verify(self._handle(), vkey, checkpoint)
        if rc == _c.CTM_EINTEGRITY:
            raise IntegrityError(_c.ctm_errmsg(), rc, result)
        _check(rc)
        return result

    def witness(self, key_file: PathLike, previous: Optional[str] = None,
                site_vkey: Optional[str] = None) -> str:
        """Witness the site's newest checkpoint as the logged-in monitor: check that it is
        signed by the site and extends previous (the note this witness kept last; None the
        first time), cosign it with the witness key in key_file and store the cosignature
        (audited "audit.cosign").  Returns the cosigned note: keep it, it is previous next time.

        site_vkey: the site's verifier key held outside; None trusts the key in the database.
        Raises IntegrityError when the site is smaller than previous (rolled back, truncated)
        or its entries up to it differ (rewritten), and stores nothing; InvalidError (previous
        not a checkpoint of this site), FileError (the key file), PermissionDenied (not a
        monitor), MisuseError (nobody logged in).
        """
        key_file = _path("key_file", key_file)
        previous = _text("previous", previous, optional=True)
        site_vkey = _text("site_vkey", site_vkey, optional=True)
        rc, note = _c.ctm_audit_witness(self._handle(), key_file, site_vkey, previous)
        _check(rc)
        return note


    # -- trials and set-up ---------------------------------------------------------------------

    def trial_add(self, code: str, title: str, sponsor: str, arms: Union[str, Mapping[str, int]],
                  blinded: bool = False) -> None:
        """Add a trial (admins and pharmacists).  Audited "trial.add".

        code: the protocol code (1-64 characters of [A-Za-z0-9._@-]).  arms: the arms with their
        allocation ratio, as text ``"A:1,B:1"`` or a dict ``{"A": 1, "B": 1}`` (ratios 1-100;
        arm codes 1-32 characters of [A-Za-z0-9._-]).  blinded: True hides kits' arms from
        blinded users (a blinded trial needs two or more arms).
        Raises InvalidError (the field named), ExistsError, PermissionDenied, MisuseError.
        """
        code = _text("code", code)
        title = _text("title", title)
        sponsor = _text("sponsor", sponsor)
        arms = _arms(arms)
        _check(_c.ctm_trial_add(self._handle(), code, title, sponsor, 1 if blinded else 0, arms))

    def trials(self) -> Query:
        """The trials as a :class:`Query` of dicts: code, title, sponsor, blinded (bool), arms
        (``"A:1,B:1"``), created (datetime, UTC).  Any logged-in user."""
        rc, q = _c.ctm_trial_list(self._handle())
        _check(rc)
        return Query(self, q, _TRIALS)

    def kittype_add(self, trial: str, code: str, name: str, units: int,
                    storage: Tuple[float, float], dnd_days: int = 0,
                    dose_form: Optional[str] = None, strength: Optional[str] = None,
                    excursion_budget: Optional[Tuple[int, float]] = None,
                    dispensing_days: int = 0) -> None:
        """Add a kit type (product) to a trial.  Audited "kittype.add".

        units: units per kit (e.g. 30 tablets).  storage: the storage range ``(min, max)`` in
        degrees Celsius, e.g. ``(2, 8)``.  dnd_days: the do-not-dispense window in days before
        expiry.  dose_form ("tablet") and strength ("10 mg"): optional text.
        excursion_budget: ``(minutes, max_c)``, the cumulative time allowed out of range up to
        max_c, or None.  dispensing_days: the days one kit covers (0: not given).
        Raises InvalidError, NotFoundError (trial), ExistsError, PermissionDenied, MisuseError.
        """
        trial = _text("trial", trial)
        code = _text("code", code)
        name = _text("name", name)
        units = _int("units", units)
        smin, smax = _pair("storage", storage)
        dnd_days = _int("dnd_days", dnd_days)
        opts = {
            "dose_form": _text("dose_form", dose_form, optional=True),
            "strength": _text("strength", strength, optional=True),
            "dispensing_days": _int("dispensing_days", dispensing_days),
        }
        if excursion_budget is not None:
            if not isinstance(excursion_budget, (tuple, list)) or len(excursion_budget) != 2:
                raise InvalidError("excursion_budget: expected a (minutes, max_c) pair, got %s"
                                   % type(excursion_budget).__name__)
            opts["excursion_budget_minutes"] = _int("excursion_budget minutes",
                                                    excursion_budget[0], minimum=0)
            opts["excursion_max_c"] = _number("excursion_budget max_c", excursion_budget[1])
        _check(_c.ctm_kittype_add(self._handle(), trial, code, name, units, smin, smax, dnd_days,
                                  opts))

    def kittypes(self, trial: Optional[str] = None) -> Query:
        """The kit types of a trial (None: of all trials) as a :class:`Query` of dicts: trial,
        code, name, dose_form, strength, units, storage_min, storage_max, dnd_days,
        excursion_budget_minutes, excursion_max, dispensing_days."""
        trial = _text("trial", trial, optional=True)
        rc, q = _c.ctm_kittype_list(self._handle(), trial)
        _check(rc)
        return Query(self, q)

    def location_add(self, name: str, range: Tuple[float, float], kind: str = "storage") -> None:
        """Add a storage location (fridge, freezer, room...).  Audited "location.add".

        range: its temperature range ``(min, max)`` in degrees Celsius.  kind: 1-32 printable
        characters ("fridge", "freezer", "room"...).
        Raises InvalidError, ExistsError, PermissionDenied, MisuseError.
        """
        name = _text("name", name)
        lo, hi = _pair("range", range)
        kind = _text("kind", kind)
        _check(_c.ctm_location_add(self._handle(), name, kind, lo, hi))

    def locations(self) -> Query:
        """The storage locations as a :class:`Query` of dicts: name, kind, min, max, kits (the
        number of kits there now)."""
        rc, q = _c.ctm_location_list(self._handle())
        _check(rc)
        return Query(self, q)

    # -- storage temperatures ------------------------------------------------------------------

    def temp_import(self, location: str, path: Union[str, bytes, "os.PathLike[Any]"], *,
                    format: Optional[str] = None, tz: Optional[str] = None,
                    date_order: Optional[str] = None, unit: Optional[str] = None,
                    progress: Optional[Any] = None) -> Dict[str, Any]:
        """Import a temperature logger file for a storage location (pharmacists and
        technicians), in one transaction: nothing is stored unless all of it is.

        path: the file (str, bytes or path-like), streamed, never read whole into memory.
        format: "csv", "logtag" or "berlinger" (default: chosen from the file's first line).
        tz: the zone of the file's local times ("Europe/Stockholm", "+01:00", "UTC"; default: the
        zone the file states).  date_order: "YMD", "DMY" or "MDY" for dates like 03/04/2024.
        unit: "C" or "F" (default: as the file says).  progress: a callable progress(done,
        total) called as the file is read (twice: checked, then stored); an exception it raises
        (KeyboardInterrupt from Ctrl-C too) stops the import, which then changes nothing, and is
        raised again.

        Returns a dict: duplicate (True when the same file was imported for this location
        before: nothing changed), file (the file's record), readings, days (in the file), added
        (stored now; the rest were stored already from an overlapping file), first, last
        (datetimes in UTC, None for an empty span), format, serial, sha256, excursions (recorded
        or extended by this import: see :meth:`excursions`) and quarantined (kits this import put
        in quarantine, or will on their receipt's confirmation).  Raises InvalidError (the
        file's line, field and value), RuleError (a reading the location has with another
        temperature), NotFoundError (location, zone), FileError, PermissionDenied, MisuseError
        (inside a batch).
        """
        location = _text("location", location)
        path = _path("path", path)
        opts = _import_options(format, tz, date_order, unit, progress)
        rc, result = _c.ctm_temp_import(self._handle(), location, path, opts)
        _check(rc)
        return _import_result(result)

    def temp_list(self, location: str, start: Optional[Union[str, datetime.date]] = None,
                  end: Optional[Union[str, datetime.date]] = None) -> Query:
        """A location's readings in time order as a :class:`Query` of dicts: time (datetime in
        UTC), temp (degrees Celsius), serial (the logger's), file (the file's record).  start
        and end (both included; None: open) are datetimes, dates (a whole UTC day) or ISO 8601
        text.  Streamed: a listing of any length holds one row at a time."""
        rc, q = _c.ctm_temp_list(self._handle(), _text("location", location),
                                 _instant("start", start), _instant("end", end))
        _check(rc)
        return Query(self, q, _READINGS)

    def temp_mkt(self, location: str, start: Optional[Union[str, datetime.date]] = None,
                 end: Optional[Union[str, datetime.date]] = None, *,
                 energy_kj: Optional[float] = None,
                 max_gap_minutes: Optional[int] = None) -> Dict[str, Any]:
        """The mean kinetic temperature of a location's readings in a period (start, end as for
        :meth:`temp_list`), as a dict: mkt (degrees Celsius, None without readings), energy_kj
        (the activation energy used; default 83.144, dH/R = 10,000 K), readings, first, last
        (datetimes in UTC), min, max, gaps (longer than the longest hold, max_gap_minutes,
        default 60) and gap_minutes (their time not known, not counted)."""
        opts = {}
        if energy_kj is not None:
            if isinstance(energy_kj, bool) or not isinstance(energy_kj, (int, float)):
                raise InvalidError("energy_kj: expected a number")
            opts["energy_kj"] = float(energy_kj)
        if max_gap_minutes is not None:
            if isinstance(max_gap_minutes, bool) or not isinstance(max_gap_minutes, int):
                raise InvalidError("max_gap_minutes: expected int")
            opts["max_gap_minutes"] = max_gap_minutes
        rc, r = _c.ctm_temp_mkt(self._handle(), _text("location", location),
                                _instant("start", start), _instant("end", end), opts)
        _check(rc)
        some = r["readings"] > 0
        first, last, gap_us = r.pop("first_us"), r.pop("last_us"), r.pop("gap_us")
        r["first"] = _from_us(first) if some else None
        r["last"] = _from_us(last) if some else None
        r["gap_minutes"] = gap_us / 60e6
        if not some:
            r["mkt"] = r["min"] = r["max"] = None
        return r

    def kit_exposure(self, kit: str, trial: Optional[str] = None) -> Dict[str, Any]:
        """A kit's time out of its kit type's storage range over its life (its journey, from its
        shipment's logger: see :meth:`shipment_logger`; then its stays in the site's storage
        locations until it left or, for the stay it has not left, every reading since it came),
        from the readings stored, as a dict: readings, minutes_high, minutes_low,
        minutes_unknown (no reading covers them), min, max, mkt (degrees Celsius; None without
        readings), budget_minutes, budget_max (None without a budget) and over_budget (True:
        flag the kit for rejection).  kit: its number or a scan of its pack."""
        rc, e = _c.ctm_kit_exposure(self._handle(), _text("trial", trial, optional=True),
                                    _text("kit", kit))
        _check(rc)
        for key in ("min", "max", "mkt", "budget_max"):
            if isinstance(e[key], float) and math.isnan(e[key]):
                e[key] = None
        if not e.pop("has_budget"):
            e["budget_minutes"] = None
        return e

    def temp_files(self, location: Optional[str] = None) -> Query:
        """The logger files imported (newest first; None: every location's) as a :class:`Query`
        of dicts: file, location, name, sha256, format, serial, model, interval_s, unit, zone
        ("" when the file's own), readings, days, first, last, imported (datetimes in UTC),
        imported_by."""
        rc, q = _c.ctm_temp_files(self._handle(), _text("location", location, optional=True))
        _check(rc)
        return Query(self, q, _LOGGER_FILES)

    # -- excursions ----------------------------------------------------------------------------

    def location_alarm(self, location: str, delay_minutes: int, max_gap_minutes: int) -> None:
        """Set a storage location's alarm settings (admins and pharmacists): an excursion is
        recorded when its readings are out of range for at least delay_minutes (0-1440; 0: any
        reading out of range), and a gap between readings longer than max_gap_minutes
        (1-10080) is an excursion of unknown temperature.  Without settings a location uses 30
        and 60 minutes.  They apply to the imports that follow; excursions recorded before stay
        as they were.  Audited "location.alarm".  Raises InvalidError (a value out of range),
        NotFoundError (location), PermissionDenied."""
        _check(_c.ctm_location_alarm(self._handle(), _text("location", location),
                                     _int("delay_minutes", delay_minutes),
                                     _int("max_gap_minutes", max_gap_minutes)))

    def excursions(self, location: Optional[str] = None, open_only: bool = False) -> Query:
        """The excursions recorded as logger files were imported, newest first, as a
        :class:`Query` of dicts: excursion (its number), location (or None), shipment (the
        incoming shipment's number, or None), kind ("high", "low", "mixed", "unknown"), daily
        (bool: a daily summary's minutes, at times unknown within the day), start, end
        (datetimes in UTC; for an ongoing one the newest reading), ongoing (bool: still out of
        range at the newest reading), minutes, degree_minutes (degrees Celsius x minutes beyond
        the range; None for daily and unknown ones), min, min_time, max, max_time (None for
        unknown ones), readings, range_min, range_max, delay_minutes (what it was judged
        against), status ("open", "released", "rejected", "decided": its kits decided one by
        one), kits (recorded with it), quarantined (of those, put in quarantine by it),
        detected, detected_by, decided, decided_by, reference (the sponsor's, for a decision
        on the whole excursion).  location None: every location's and shipment's; open_only:
        only the excursions no decision closed.  Any logged-in user (no arm is shown).  Raises
        NotFoundError (location)."""
        rc, q = _c.ctm_excursions(self._handle(), _text("location", location, optional=True),
                                  1 if open_only else 0)
        _check(rc)
        return Query(self, q, _EXCURSIONS)

    def excursion_kits(self, excursion: int) -> Query:
        """The kits recorded with an excursion, by trial and kit number, as a :class:`Query` of
        dicts: trial, kit_number, kit_type, lot, status_was (when the excursion was recorded),
        quarantined (bool: put in quarantine by it), status (now), decision ("released",
        "rejected" or None), decided (datetime in UTC), decided_by, reference, minutes_out (the
        kit's time out of its storage range over its life, as :meth:`kit_exposure` counts it)
        and over_budget (bool: flagged for rejection).  Never an arm.  Any logged-in user.
        Raises NotFoundError (excursion)."""
        rc, q = _c.ctm_excursion_kits(self._handle(), _record("excursion", excursion))
        _check(rc)
        return Query(self, q, _EXCURSION_KITS)

    def excursion_decide(self, excursion: int, decision: str, reference: str,
                         kits: Optional[Iterable[str]] = None) -> None:
        """Record the sponsor's decision on an excursion (pharmacists), e-signed ("excursion
        released" or "excursion rejected") and audited "excursion.release" or
        "excursion.reject".

        decision: "release" (a kit in quarantine goes back to available unless another
        excursion not decided holds it) or "reject" (it goes to pending_destruction).
        reference: the sponsor's (1-200 characters).  kits: None for the excursion and every
        kit of it not decided yet; else only those kits (numbers or scans), and the excursion's
        status becomes "decided" once each of its kits is.  An empty list raises InvalidError
        (it is not "all of them").  A kit that left quarantine meanwhile keeps its status, with
        the decision recorded.  Raises InvalidError (decision, reference, a kit), NotFoundError
        (excursion, a kit), RuleError (decided already; still ongoing: import the file that
        shows its end; a kit not recorded with it or decided already), PermissionDenied.
        """
        excursion = _record("excursion", excursion)
        decision = _text("decision", decision)
        reference = _text("reference", reference)
        kits = _kits(kits, optional=True)
        if kits is not None and not kits:
            raise InvalidError("kits: an empty list; give None to decide the whole excursion")
        _check(_c.ctm_excursion_decide(self._handle(), excursion, decision, reference, kits))

    def excursion_report(self, excursion: int, format: str = "json",
                         parse: bool = True) -> Union[str, Dict[str, Any]]:
        """An excursion's report for the sponsor: the location or shipment, its range and alarm
        delay, the logger files and serials whose readings show it, the period, min and max
        with their times, duration, degree-minutes, the MKT over the period, the kits and lots
        affected with their status, exposure and budget, and the decisions with their
        signatures.  Any logged-in user; never an arm.

        format: "text" (a page to print or mail) or "csv" (one row per kit, the excursion's
        figures repeated) come back as str, as libctm writes them.  "json" comes back parsed,
        as a dict: excursion (a row as :meth:`excursions` gives it), mkt (None, or a dict with
        mkt and energy_kj), loggers (file, name, serial, model, sha256, first, last), kits
        (rows as :meth:`excursion_kits` gives them) and signatures (printed_name, username,
        signed, meaning, reference, kits), with times as datetimes in UTC and flags as bool;
        parse=False gives the JSON text itself instead (to attach to a mail).  Raises
        InvalidError (format), NotFoundError (excursion).
        """
        excursion = _record("excursion", excursion)
        format = _text("format", format)
        rc, text = _c.ctm_excursion_report(self._handle(), excursion, format)
        _check(rc)
        if text is None:
            raise _error(_c.ctm_errcode() or _c.CTM_ENOMEM)
        if format != "json" or not parse:
            return text
        report = json.loads(text)
        _typed(report["excursion"], _EXCURSIONS)
        for part, kinds in _REPORT_PARTS.items():
            for row in report.get(part, []):
                _typed(row, kinds)
        return report

    @staticmethod
    def _report_options(trial, as_of, from_date, to_date, days, kit_type):
        return {"trial": _text("trial", trial, optional=True),
                "as_of": _date("as_of", as_of, optional=True),
                "from": _date("from_date", from_date, optional=True),
                "to": _date("to_date", to_date, optional=True),
                "days": -1 if days is None else _int("days", days, minimum=0),
                "kit_type": _text("kit_type", kit_type, optional=True)}

    def report(self, name: str, trial: Optional[str] = None, *,
               as_of: Union[datetime.date, str, None] = None,
               from_date: Union[datetime.date, str, None] = None,
               to_date: Union[datetime.date, str, None] = None,
               days: Optional[int] = None, kit_type: Optional[str] = None) -> Query:
        """The rows of a report as a :class:`Query` of dicts (``to_pandas()`` for a DataFrame).

        name: "inventory" (kits on hand: trial, kit_number, kit_type, lot, expiry (a date),
        status, location, units, days_to_expiry, expiring_soon and expired (bool), arm) or
        "audit" (the audit trail for people: seq, time (datetime, UTC), user, printed_name,
        action, reason, changes (in words), esig_name, esig_time, esig_meaning) or "subjects"
        (accountability and compliance per subject, visit and kit type: the columns of
        :meth:`compliance`); docs/reports.md lists them.  trial: one trial's (None: every trial).  as_of, or from_date and to_date:
        the day or the period (UTC days; a datetime.date or "YYYY-MM-DD"); days: the window of
        "expiring soon" (default 30); kit_type narrows.  A report refuses an option it does not
        read.  A blinded user gets the blinded report.  Raises InvalidError (the report, an
        option, named), NotFoundError (trial, kit type).
        """
        opts = self._report_options(trial, as_of, from_date, to_date, days, kit_type)
        rc, q = _c.ctm_report(self._handle(), _text("name", name), opts)
        _check(rc)
        return Query(self, q, _REPORTS.get(name))

    def report_render(self, name: str, trial: Optional[str] = None, format: str = "text", *,
                      as_of: Union[datetime.date, str, None] = None,
                      from_date: Union[datetime.date, str, None] = None,
                      to_date: Union[datetime.date, str, None] = None,
                      days: Optional[int] = None, kit_type: Optional[str] = None,
                      parse: bool = True) -> Union[str, Dict[str, Any]]:
        """A whole report as libctm renders it, with its header: the site, the trial, the period,
        when it was generated and the signed ledger checkpoint (size and root) its rows were
        read under.  Options as :meth:`report`.

        format: "text" (aligned columns), "csv" (RFC 4180), "html" (one self-contained page to
        print; every printed page repeats the header) come back as str.  "json" comes back
        parsed, a dict with report, title, site, trial, as_of, from, to, generated_at,
        checkpoint {origin, size, root, root_hex}, the report's summary members and rows (a list
        of dicts, values as JSON has them); parse=False gives the JSON text.  Raises as
        :meth:`report`, and InvalidError (format), MisuseError (inside a batch: its changes are
        under no checkpoint yet).
        """
        opts = self._report_options(trial, as_of, from_date, to_date, days, kit_type)
        format = _text("format", format)
        rc, text = _c.ctm_report_render(self._handle(), _text("name", name), opts, format)
        _check(rc)
        if text is None:
            raise _error(_c.ctm_errcode() or _c.CTM_ENOMEM)
        return json.loads(text) if format == "json" and parse else text
    def export(self, format: str, trial: str, *,
               from_date: Optional[Union[str, datetime.date]] = None,
               to_date: Optional[Union[str, datetime.date]] = None,
               parse: bool = True) -> Union[str, Dict[str, Any]]:
        """A trial's receipts, dispensings and returns for the systems around the pharmacy
        (docs/exports.md).  Any logged-in user; no export holds an arm, so every user gets the
        same text.

        format "fhir": a FHIR R4 Bundle (type "collection": a SupplyDelivery per confirmed
        receipt, kit type and lot; a MedicationDispense per kit handed over), parsed into a
        dict, or with parse=False the JSON text itself.  format "sdtm-da": the SDTM DA CSV
        (DISPAMT and RETAMT rows) as str.  from_date and to_date (dates or datetimes, or ISO 8601
        text; None: no bound; both inclusive, a date naming its whole day, UTC), as for
        :meth:`report`, keep what was handed over, received or returned in that period.  Raises
        InvalidError (format, a bound, from_date after to_date), NotFoundError (trial)."""
        format = _text("format", format)
        opts = {"from": _instant("from_date", from_date), "to": _instant("to_date", to_date)}
        rc, text = _c.ctm_export(self._handle(), format, _text("trial", trial), opts)
        _check(rc)
        if text is None:
            raise _error(_c.ctm_errcode() or _c.CTM_ENOMEM)
        if format == "fhir" and parse:
            return json.loads(text)
        return text

    def shipment_logger(self, shipment: str, path: Union[str, bytes, "os.PathLike[Any]"], *,
                        format: Optional[str] = None, tz: Optional[str] = None,
                        date_order: Optional[str] = None, unit: Optional[str] = None,
                        progress: Optional[Any] = None) -> Dict[str, Any]:
        """Import the logger file that travelled with an incoming shipment, before its receipt
        is confirmed (pharmacists and technicians): as :meth:`temp_import` (same options and
        result), its readings belonging to the shipment.  Time out of the narrowest storage
        range of the shipment's kit types, with no alarm delay, is recorded as an excursion
        with every kit of the shipment, which :meth:`confirm` then quarantines.  Raises as
        temp_import, and NotFoundError (shipment), RuleError (the receipt is confirmed
        already)."""
        shipment = _text("shipment", shipment)
        path = _path("path", path)
        opts = _import_options(format, tz, date_order, unit, progress)
        rc, result = _c.ctm_shipment_logger(self._handle(), shipment, path, opts)
        _check(rc)
        return _import_result(result)

    # -- receipt of shipments ------------------------------------------------------------------

    def receive(self, trial: str, shipment: str,
                manifest: Union[str, bytes, bytearray, memoryview, "os.PathLike[Any]"],
                location: str, origin: Optional[str] = None,
                date_received: Optional[DateLike] = None, excursion: bool = False,
                logger: Optional[PathLike] = None,
                logger_options: Optional[Mapping[str, Any]] = None) -> None:
        """Register an arrived shipment from its manifest (pharmacists and technicians).

        Every kit is created in status "received" at location and stays unusable until
        :meth:`confirm`.  One audited action "shipment.receive", however many kits.

        manifest: CSV text with the header ``kit_number,kit_type,lot,expiry`` and optional
        columns ``arm``, ``gtin``, ``serial`` (any order; expiry as YYYY-MM-DD), given as str,
        bytes, or a path-like object (e.g. :class:`pathlib.Path`) whose file is read.  A plain
        str is always the manifest text, never a file name.
        origin: the depot or sponsor.  date_received: when it arrived, a str "YYYY-MM-DD" or
        a datetime.date (the kits' history begins at the start of that day when it was before
        today), or a datetime or a str "YYYY-MM-DDTHH:MM[:SS]Z" (it begins then); default: now.
        A dispensing recorded on paper (:meth:`dispense_record`) may not come before it.
        excursion: True when the shipment's logger showed an excursion (its
        kits are quarantined on confirmation).  logger: the logger file that travelled with
        the shipment (a path), imported with it in the same transaction as
        :meth:`shipment_logger` does; logger_options: how to read it, a dict with any of
        temp_import's format, tz, date_order, unit and progress (None: as the file says).

        A malformed manifest is refused whole (InvalidError naming the line and field) and
        nothing changes; so does a logger file that cannot be imported.  Raises InvalidError,
        NotFoundError (trial, location), ExistsError (shipment), PermissionDenied, FileError
        (an unreadable manifest or logger file), MisuseError (a logger inside a batch).
        """
        trial = _text("trial", trial)
        shipment = _text("shipment", shipment)
        data = _manifest(manifest)
        location = _text("location", location)
        opts = {
            "origin": _text("origin", origin, optional=True),
            "date_received": (_instant("date_received", date_received)
                              if isinstance(date_received, datetime.datetime)
                              else _date("date_received", date_received, optional=True)),
            "excursion": 1 if excursion else 0,
            "logger": _path("logger", logger, optional=True),
        }
        if logger_options is not None:
            if not isinstance(logger_options, collections.abc.Mapping):
                raise InvalidError("logger_options: expected a dict, got %s"
                                   % type(logger_options).__name__)
            unknown = sorted(set(logger_options) - _IMPORT_OPTIONS)
            if unknown:
                raise InvalidError("logger_options: unknown option %r" % unknown[0])
            opts["logger_options"] = _import_options(**logger_options)
        _check(_c.ctm_receive(self._handle(), trial, shipment, data, location, opts))

    def scan(self, shipment: str, barcode: str, damaged: bool = False) -> Dict[str, Any]:
        """Check one kit of a shipment under receipt.  Audited "shipment.scan" (not repeats).

        barcode: a GS1 element string as the scanner delivers it (or bracketed), whose (21)
        serial identifies the kit, or a typed kit number.  damaged: the pack is damaged.

        Returns a dict: outcome ("ok": on the manifest and matching; "repeat": already checked,
        nothing recorded; "mismatch": the scanned lot or expiry differs, recorded; "extra": not
        on the manifest, recorded), kit_number, detail (a sentence for the pharmacist), checked
        and expected (kits of the shipment checked so far, and on the manifest).
        Raises InvalidError (an unreadable barcode, with the reason), NotFoundError (shipment),
        RuleError (already confirmed), PermissionDenied, MisuseError.
        """
        shipment = _text("shipment", shipment)
        barcode = _text("barcode", barcode)
        rc, result = _c.ctm_receive_scan(self._handle(), shipment, barcode, 1 if damaged else 0)
        _check(rc)
        outcome = result["outcome"]
        result["outcome"] = SCAN_OUTCOMES.get(outcome, outcome)
        return result

    def confirm(self, shipment: str, unchecked_present: bool = False) -> None:
        """Confirm a receipt, e-signed by the logged-in pharmacist ("receipt confirmed").

        Checked kits become "available" (or "quarantined" after a logger excursion or a lot or
        expiry mismatch), damaged ones "damaged".  unchecked_present: True declares that the
        kits not scanned were checked by hand and are present; False makes them "missing".
        Audited "shipment.confirm".  Raises NotFoundError, RuleError (already confirmed),
        PermissionDenied (pharmacists only), MisuseError.
        """
        shipment = _text("shipment", shipment)
        _check(_c.ctm_receive_confirm(self._handle(), shipment, 1 if unchecked_present else 0))

    def receive_status(self, shipment: str) -> Dict[str, Any]:
        """Where the receipt of an incoming shipment stands, as a dict, to look at before
        :meth:`confirm`: shipment, trial, status (receiving, confirmed), kits, unchecked,
        checked, ok, mismatched, damaged, extra, discrepancies (counts over the whole shipment,
        never per arm).  Raises NotFoundError, InvalidError, MisuseError."""
        shipment = _text("shipment", shipment)
        rc, q = _c.ctm_receive_status(self._handle(), shipment)
        _check(rc)
        return Query(self, q).fetchall()[0]

    def unscan(self, shipment: str, kit: str, reason: str) -> None:
        """Undo a wrong scan of a shipment under receipt (pharmacists and technicians).

        kit: the kit number or barcode scanned by mistake.  The kit is unchecked again and the
        discrepancies that scan recorded are removed (an extra's too); the ledger keeps them in
        the entry "shipment.unscan" with the reason (mandatory).  Raises NotFoundError (shipment;
        a kit neither on the manifest nor recorded as extra), RuleError (confirmed already; the
        kit was not scanned), InvalidError, PermissionDenied, MisuseError.
        """
        shipment = _text("shipment", shipment)
        kit = _text("kit", kit)
        reason = _text("reason", reason)
        _check(_c.ctm_receive_unscan(self._handle(), shipment, kit, reason))

    def void(self, shipment: str, reason: str) -> None:
        """Void a shipment registered by mistake, before its receipt is confirmed (pharmacists).

        E-signed "shipment voided", audited "shipment.void" with the reason (mandatory).  The
        shipment, its kits (which leave stock), their moves, its discrepancies and the lots left
        without kits are removed, so the shipment can be registered again under its number; the
        ledger keeps every removed row.  Raises NotFoundError, RuleError (confirmed already),
        InvalidError, PermissionDenied, MisuseError.
        """
        shipment = _text("shipment", shipment)
        reason = _text("reason", reason)
        _check(_c.ctm_receive_void(self._handle(), shipment, reason))

    def discrepancies(self, shipment: Optional[str] = None) -> Query:
        """The discrepancies of a shipment (None: of every shipment), in the order recorded, as a
        :class:`Query` of dicts: kit_number, kind (missing, extra, damaged, lot_mismatch,
        expiry_mismatch), detail, recorded (datetime, UTC), recorded_by, shipment (its number).
        Raises NotFoundError (no such incoming shipment)."""
        shipment = _text("shipment", shipment, optional=True)
        rc, q = _c.ctm_receive_discrepancies(self._handle(), shipment)
        _check(rc)
        return Query(self, q, _DISCREPANCIES)

    def bulk_receive(self, trial: str, shipment: str, kit_type: str, lot: str,
                     expiry: DateLike, units: int, location: str, origin: Optional[str] = None,
                     date_received: Optional[DateLike] = None, excursion: bool = False) -> None:
        """Receive open-label bulk supply counted per lot, not per kit (pharmacists).

        units of lot (a kit type of the trial; expiry a str "YYYY-MM-DD" or a datetime.date,
        which must agree with a lot already known) arrive at location.  The receipt is
        confirmed at once with the pharmacist's e-signature ("receipt confirmed").  Audited
        "shipment.receive_bulk".  Raises RuleError for a blinded trial (its supply comes as
        numbered kits) and for excursion=True (bulk units cannot be quarantined: keep such a
        shipment apart until the sponsor decides), InvalidError, NotFoundError, ExistsError
        (shipment), PermissionDenied.
        """
        trial = _text("trial", trial)
        shipment = _text("shipment", shipment)
        kit_type = _text("kit_type", kit_type)
        lot = _text("lot", lot)
        expiry = _date("expiry", expiry)
        location = _text("location", location)
        if isinstance(units, bool) or not isinstance(units, int):
            raise InvalidError("units: a whole number is needed")
        opts = {
            "origin": _text("origin", origin, optional=True),
            "date_received": _date("date_received", date_received, optional=True),
            "excursion": 1 if excursion else 0,
        }
        _check(_c.ctm_bulk_receive(self._handle(), trial, shipment, kit_type, lot, expiry, units,
                                   location, opts))

    def lots(self, trial: Optional[str] = None) -> Query:
        """The lots of a trial (None: all) as a :class:`Query` of dicts: trial, lot, kit_type,
        expiry (datetime.date), gtin, kits (numbered kits on site), bulk_units (units of bulk
        supply on site), dispensable (True when outside the do-not-dispense window today)."""
        trial = _text("trial", trial, optional=True)
        rc, q = _c.ctm_lot_list(self._handle(), trial)
        _check(rc)
        return Query(self, q, _LOTS)

    def shipments(self, trial: Optional[str] = None) -> Query:
        """The shipments of a trial (None: all) as a :class:`Query` of dicts: number, trial,
        direction (in/out), origin, destination, date_received (datetime.date), status
        (receiving, confirmed, sent), kits, checked (None for outgoing shipments)."""
        trial = _text("trial", trial, optional=True)
        rc, q = _c.ctm_shipment_list(self._handle(), trial)
        _check(rc)
        return Query(self, q, _SHIPMENTS)

    # -- stock ---------------------------------------------------------------------------------

    def kits(self, trial: Optional[str] = None, status: Optional[str] = None,
             location: Optional[str] = None, lot: Optional[str] = None,
             expiring_within_days: Optional[int] = None,
             shipment: Optional[str] = None) -> Query:
        """The kits as a :class:`Query` of dicts, ordered by trial and kit number.

        Columns: trial, kit_number, kit_type, lot, expiry (a datetime.date: the kit's own after
        relabelling, else the lot's), status, location, units, arm ("(blinded)" for blinded
        users in a blinded trial), dispensable (True when available, not expired and outside
        the do-not-dispense window today), shipment.  Each argument given filters: status is one of
        :data:`KIT_STATUSES`; expiring_within_days (>= 0) keeps the kits whose expiry falls
        within that many days or has passed; shipment keeps the kits an incoming shipment
        brought (NotFoundError for an unknown number).  Any logged-in user.
        """
        flt = {
            "trial": _text("trial", trial, optional=True),
            "status": _text("status", status, optional=True),
            "location": _text("location", location, optional=True),
            "lot": _text("lot", lot, optional=True),
            "expiring_within_days": -1 if expiring_within_days is None else
            _int("expiring_within_days", expiring_within_days, minimum=0),
            "shipment": _text("shipment", shipment, optional=True),
        }
        rc, q = _c.ctm_kits(self._handle(), flt)
        _check(rc)
        return Query(self, q, _KITS)

    def kit_set_status(self, trial: str, kit: str, status: str, reason: str) -> None:
        """Change a kit's status by hand, with a mandatory reason.  Audited "kit.status".

        For quarantine, release from quarantine, damaged, missing, found, expired, and reject to
        pending_destruction; the library's transition table refuses the rest with
        :class:`RuleError` naming both statuses.  Pharmacists (technicians may quarantine and
        report damaged or missing kits).
        Raises InvalidError, NotFoundError, RuleError, PermissionDenied, MisuseError.
        """
        trial = _text("trial", trial)
        kit = _text("kit", kit)
        status = _text("status", status)
        reason = _text("reason", reason)
        _check(_c.ctm_kit_set_status(self._handle(), trial, kit, status, reason))

    def expiry_extend(self, trial: str, new_expiry: DateLike, reference: str,
                      lot: Optional[str] = None, kits: Optional[Iterable[str]] = None) -> None:
        """Extend the expiry of kits on the sponsor's written instruction (relabelling).

        The kits of lot, or the listed kits (a list of kit numbers), get new_expiry (a str
        "YYYY-MM-DD" or a datetime.date, later than the current one).  reference: the sponsor's
        instruction.  E-signed by the pharmacist ("expiry extended"); audited "expiry.extend"
        as one action.  Raises InvalidError, NotFoundError, RuleError, PermissionDenied,
        MisuseError.
        """
        trial = _text("trial", trial)
        new_expiry = _date("new_expiry", new_expiry)
        reference = _text("reference", reference)
        lot = _text("lot", lot, optional=True)
        kits = _kits(kits, optional=True)
        if lot is None and kits is None:
            raise InvalidError("lot or kits: one of them is required")
        _check(_c.ctm_expiry_extend(self._handle(), trial, lot, kits, new_expiry, reference))

    def transfer(self, trial: str, kits: Iterable[str], location: str,
                 reason: Optional[str] = None) -> None:
        """Move kits (a list of kit numbers) of a trial to another storage location of the site.

        The location history keeps the times (see :meth:`kit_history`).  Audited "kit.transfer"
        as one action.  Pharmacists and technicians.  Raises NotFoundError (kit, location),
        RuleError (a kit not on site), InvalidError, PermissionDenied, MisuseError.
        """
        trial = _text("trial", trial)
        kits = _kits(kits)
        location = _text("location", location)
        reason = _text("reason", reason, optional=True)
        _check(_c.ctm_transfer(self._handle(), trial, kits, location, reason))

    def transfer_out(self, trial: str, kits: Iterable[str], destination: str, shipment: str,
                     reason: Optional[str] = None) -> None:
        """Send kits (a list of kit numbers) of a trial to another site as outgoing shipment.

        The kits become "in_transit" and leave the site's stock.  Audited "shipment.send".
        Pharmacists.  Raises NotFoundError, RuleError, ExistsError (shipment), InvalidError,
        PermissionDenied, MisuseError.
        """
        trial = _text("trial", trial)
        kits = _kits(kits)
        destination = _text("destination", destination)
        shipment = _text("shipment", shipment)
        reason = _text("reason", reason, optional=True)
        _check(_c.ctm_transfer_out(self._handle(), trial, kits, destination, shipment, reason))

    def kit_history(self, trial: Optional[str], kit: str) -> Query:
        """A kit's locations over time as a :class:`Query` of dicts: location, since (datetime,
        UTC), until (datetime, or None while it is there).  kit: a kit number or a scan of its
        pack (see :meth:`kit_show`); trial may be None when the kit is in one trial only."""
        trial = _text("trial", trial, optional=True)
        kit = _text("kit", kit)
        rc, q = _c.ctm_kit_history(self._handle(), trial, kit)
        _check(rc)
        return Query(self, q, _HISTORY)

    def kit_show(self, kit: str, trial: Optional[str] = None) -> Dict[str, Any]:
        """Everything about one kit, as a dict.

        kit: the kit number, or a scan of its pack: a GS1 element string (as the scanner sends
        it, or bracketed) whose (21) serial is the kit number or the kit's serial.  Every method
        that takes a kit number takes such a scan too.  trial: None looks in every trial (the
        kit must be in one only).

        Keys: trial, kit_number, kit_type, kit_type_name, lot, expiry (datetime.date), status,
        location, units, arm ("(blinded)" for a blinded user in a blinded trial), dispensable
        (bool), shipment, shipment_status, date_received (datetime.date), checked ("no", "ok", "mismatch", "damaged"; None without
        a shipment), gtin, serial, and history: the list of :meth:`kit_history` rows.
        Raises NotFoundError (trial, kit), InvalidError (an unreadable scan, a kit in several
        trials), MisuseError.
        """
        trial = _text("trial", trial, optional=True)
        kit = _text("kit", kit)
        rc, q = _c.ctm_kit_show(self._handle(), trial, kit)
        _check(rc)
        row = Query(self, q, _KIT).fetchall()[0]
        row["history"] = self.kit_history(row["trial"], kit).fetchall()
        return row

    # -- randomization and subjects ------------------------------------------------------------

    def random_generate(self, trial: str, size: int, blocks: Union[str, Iterable[int]],
                        strata: Optional[str] = None, seed: Optional[str] = None,
                        extend: bool = False) -> None:
        """Generate the trial's randomization list (unblinded administrators and pharmacists).

        Permuted blocks, their sizes drawn from blocks ("4,6" or [4, 6]; each a multiple of
        the sum of the arm ratios), size rows per stratum.  strata: the factor spec
        "sex=M,F;age=lt65,ge65" (None: unstratified).  seed: 64 hex digits for a reproducible
        list (None: a fresh one, kept with the list).  extend: add rows to the list (size is
        then the new, larger size per stratum; the old rows stay).  Audited "random.generate".
        Raises BlindingError (a blinded user), RuleError (replacing a list with allocations),
        InvalidError, NotFoundError, PermissionDenied.
        """
        trial = _text("trial", trial)
        size = _int("size", size)
        if not isinstance(blocks, str):
            blocks = ",".join("%d" % _int("blocks", b) for b in blocks)
        opts = {"strata": _text("strata", strata, optional=True),
                "seed": _text("seed", seed, optional=True), "extend": 1 if extend else 0}
        _check(_c.ctm_random_generate(self._handle(), trial, size, blocks, opts))

    def random_import(self, trial: str,
                      data: Union[str, bytes, bytearray, memoryview, "os.PathLike[Any]"],
                      format: Optional[str] = None, strata: Optional[str] = None,
                      extend: bool = False) -> None:
        """Import a sponsor's randomization list or kit list (unblinded admins and pharmacists).

        data: CSV as str or bytes, or a path-like whose file is read.  format: "sponsor"
        (randomization_number,stratum,arm), "blockrand" (id,stratum,block.id,block.size,
        treatment), "kits" (kit_number,arm), or None to tell from the header.  strata: the
        factor spec the stratum column names.  extend: add the rows after the list's own.
        The file is checked whole; on an error nothing is imported (InvalidError names the
        line and field).  Audited "random.import".  Raises BlindingError, RuleError,
        ExistsError (a number already in the trial), InvalidError, NotFoundError.
        """
        trial = _text("trial", trial)
        text = _manifest(data, "list")
        opts = {"strata": _text("strata", strata, optional=True), "extend": 1 if extend else 0}
        _check(_c.ctm_random_import(self._handle(), trial, _text("format", format, optional=True),
                                    text, opts))

    def random_minimization(self, trial: str, strata: str,
                            factors: Union[str, Mapping[str, float]], p: float = 0.8,
                            method: str = "range") -> None:
        """Randomize the trial by Pocock-Simon minimization (unblinded administrators and
        pharmacists).

        strata: the factors and their levels, "site=SE1,SE2;sex=M,F;age=lt65,ge65".  factors:
        the weights of the factors used, "site:1,sex:1" or {"site": 1, "sex": 0.5} (above 0, at
        most 100, at most 3 decimals).  p: the probability of the best arm, above 0 and at most
        1.  method: "range" or "variance", how a factor's imbalance is measured.  Each
        randomize() then counts every subject randomized before (withdrawn and completed ones
        too), draws a random number it records, and gives numbers 1, 2, 3...  Replaces a scheme
        nobody was randomized by.  Audited "random.minimization".  Raises BlindingError (a
        blinded user), RuleError (somebody was randomized already), InvalidError,
        NotFoundError, PermissionDenied.
        """
        trial = _text("trial", trial)
        if isinstance(factors, collections.abc.Mapping):
            parts = []
            for factor, weight in factors.items():
                if not isinstance(factor, str):
                    raise InvalidError("factors: factor names must be str")
                text = ("%.3f" % _number("factors " + factor, weight)).rstrip("0").rstrip(".")
                parts.append("%s:%s" % (factor, text))
            factors = ",".join(parts)
        _check(_c.ctm_random_minimization(self._handle(), trial, _text("strata", strata),
                                          _text("factors", factors), _number("p", p),
                                          _text("method", method, optional=True)))

    def random_scheme(self, trial: str) -> Dict[str, Any]:
        """The trial's randomization scheme as a dict: trial, method ("list" or
        "minimization"), source, strata, rows, allocated (subjects randomized), block_sizes,
        seed (hex), weights, imbalance and p (the last five "(blinded)" for a blinded user, None
        where the method has none).  Raises NotFoundError (trial, no scheme)."""
        trial = _text("trial", trial)
        rc, q = _c.ctm_random_scheme(self._handle(), trial)
        _check(rc)
        return Query(self, q).fetchall()[0]

    def random_list(self, trial: str) -> Query:
        """The trial's randomization list as a :class:`Query` of dicts: stratum, position,
        number, block, block_size, arm, subject (None while free).  Unblinded users only
        (BlindingError otherwise)."""
        trial = _text("trial", trial)
        rc, q = _c.ctm_random_list(self._handle(), trial)
        _check(rc)
        return Query(self, q)

    def subject_add(self, trial: str, screening: str,
                    strata: Optional[Union[str, Mapping[str, str]]] = None) -> None:
        """Enrol a subject (investigators and pharmacists).  strata: "sex=M,age=ge65" or
        {"sex": "M", "age": "ge65"}; factors not known yet may be set later with
        :meth:`subject_set_strata`.  Audited "subject.add".  Raises ExistsError, InvalidError,
        RuleError (strata without a scheme), NotFoundError, PermissionDenied."""
        _check(_c.ctm_subject_add(self._handle(), _text("trial", trial),
                                  _text("screening", screening), _strata("strata", strata)))

    def subject_set_strata(self, trial: str, screening: str,
                           strata: Union[str, Mapping[str, str]]) -> None:
        """Set stratification values of a subject not yet randomized; the factors not named
        keep theirs.  Audited "subject.strata".  Raises RuleError (already randomized)."""
        _check(_c.ctm_subject_set_strata(self._handle(), _text("trial", trial),
                                         _text("screening", screening),
                                         _strata("strata", strata, optional=False)))

    def randomize(self, trial: str, screening: str) -> Dict[str, Any]:
        """Randomize an enrolled subject, once (from the list, or by minimization: see
        random_minimization): returns a dict with rand_number, arm ("(blinded)" for a blinded
        user in a blinded trial) and stratum.  Audited "subject.randomize".  Raises RuleError
        (already randomized; a stratification factor unknown; the stratum's list used up),
        NotFoundError, PermissionDenied."""
        rc, result = _c.ctm_randomize(self._handle(), _text("trial", trial),
                                      _text("screening", screening))
        _check(rc)
        return result

    def subject_withdraw(self, trial: str, screening: str, reason: str) -> None:
        """Withdraw a subject, enrolled or randomized (reason required).  Audited
        "subject.withdraw"."""
        _check(_c.ctm_subject_withdraw(self._handle(), _text("trial", trial),
                                       _text("screening", screening), _text("reason", reason)))

    def subject_complete(self, trial: str, screening: str, reason: Optional[str] = None) -> None:
        """Record that a randomized subject completed the trial.  Audited "subject.complete"."""
        _check(_c.ctm_subject_complete(self._handle(), _text("trial", trial),
                                       _text("screening", screening),
                                       _text("reason", reason, optional=True)))

    def subjects(self, trial: Optional[str] = None) -> Query:
        """The subjects of a trial (None: all) as a :class:`Query` of dicts: trial, screening,
        status, strata, rand_number, arm ("(blinded)" for a blinded user in a blinded trial),
        enrolled, randomized, ended (datetime)."""
        rc, q = _c.ctm_subject_list(self._handle(), _text("trial", trial, optional=True))
        _check(rc)
        return Query(self, q, _SUBJECTS)

    def subject(self, trial: str, screening: str) -> Dict[str, Any]:
        """One subject as a dict with the keys of :meth:`subjects`.  Raises NotFoundError."""
        rc, q = _c.ctm_subject_show(self._handle(), _text("trial", trial),
                                    _text("screening", screening))
        _check(rc)
        return Query(self, q, _SUBJECTS).fetchall()[0]

    # -- visits and dosing ---------------------------------------------------------------------

    def visit_add(self, trial: str, code: str, day: int,
                  window: Union[str, Tuple[int, int]],
                  kits: Union[str, Mapping[str, int]],
                  anchor: str = "randomization") -> None:
        """Append a visit to the trial's schedule (pharmacists and administrators).

        day: 0 to 3650 days after the anchor, "randomization" or "previous" (the previous
        visit: the day it was dispensed, else its due day; not for the first visit).  window:
        "-3..+3" or (3, 3), the days the visit may come before and after its day.  kits:
        "KT10:2,KT20:1" or {"KT10": 2, "KT20": 1}; "DOSE" stands for the kit type of the
        subject's dose level (see :meth:`dose_levels`).  Audited "visit.add".  Raises
        InvalidError (the field and position named; a kit type not of the trial), ExistsError
        (the code), RuleError (DOSE without dose levels), NotFoundError, PermissionDenied.
        """
        _check(_c.ctm_visit_add(self._handle(), _text("trial", trial), _text("code", code),
                                _int("day", day), _text("anchor", anchor), _window(window),
                                _visit_kits(kits)))

    def visits(self, trial: str) -> Query:
        """The trial's schedule as a :class:`Query` of dicts: position, code, day, anchor,
        window_before, window_after, kits ("KT10:1,KT20:2", "DOSE:1")."""
        rc, q = _c.ctm_visit_list(self._handle(), _text("trial", trial))
        _check(rc)
        return Query(self, q)

    def dose_levels(self, trial: str, levels: Union[str, Iterable[str]], start_level: int,
                    min_interval_days: int, max_titrations: int) -> None:
        """Set the trial's dose levels and titration rules (pharmacists and administrators).

        levels: kit types of the trial from the lowest dose up, "KT5,KT10,KT20" or a list
        (level 1 is the first).  Subjects start at start_level; a move of one level needs
        min_interval_days days since the last (or the randomization), at most max_titrations
        moves.  A second call replaces them until the trial's first kit is assigned to a
        subject (RuleError from then on).  Audited "dose.levels"."""
        if not isinstance(levels, str):
            levels = ",".join(_text("levels", code) for code in levels)
        _check(_c.ctm_dose_levels(self._handle(), _text("trial", trial),
                                  _text("levels", levels), _int("start_level", start_level),
                                  _int("min_interval_days", min_interval_days),
                                  _int("max_titrations", max_titrations)))

    def subject_hold(self, trial: str, screening: str, reason: str) -> None:
        """Put a randomized subject's dispensing on hold (investigators and pharmacists; reason
        required).  Audited "subject.hold".  Raises RuleError (on hold already, not
        randomized)."""
        _check(_c.ctm_subject_hold(self._handle(), _text("trial", trial),
                                   _text("screening", screening), _text("reason", reason)))

    def subject_resume(self, trial: str, screening: str, reason: str) -> None:
        """Resume the dispensing of a subject on hold (reason required).  Audited
        "subject.resume".  Raises RuleError (not on hold)."""
        _check(_c.ctm_subject_resume(self._handle(), _text("trial", trial),
                                     _text("screening", screening), _text("reason", reason)))

    def subject_visits(self, trial: str, screening: str) -> Query:
        """The subject's visits as a :class:`Query` of dicts: visit, due, window_from,
        window_to, dispensed (datetime.date, or None: the dates are None until the subject is
        randomized; dispensed until the visit is), on_hold (bool), dose_level (None in a trial
        without dose levels)."""
        rc, q = _c.ctm_subject_visits(self._handle(), _text("trial", trial),
                                      _text("screening", screening))
        _check(rc)
        return Query(self, q, _SUBJECT_VISITS)

    # -- dispensing and emergency unblinding ---------------------------------------------------

    def dispense_assign(self, trial: str, screening: str, visit: str,
                        titrate: int = 0, override_reason: Optional[str] = None) -> List[Row]:
        """Choose the kits of a subject's visit at random among the eligible ones (pharmacists).

        Returns the kits assigned as dicts: kit_number, kit_type, lot, expiry, location; hand
        them over and confirm with :meth:`dispense_confirm`.  titrate: -1, 0 or 1 (dose
        titration).  override_reason: dispense outside the visit window (unblinded pharmacists).
        Audited "dispense.assign".  Raises RuleError (outside the window, dose hold, no eligible
        kit: the message says why, never the arm), BlindingError (an override by a blinded
        pharmacist), NotFoundError, PermissionDenied."""
        opts = {"override_reason": _text("override_reason", override_reason, optional=True),
                "titrate": _int("titrate", titrate)}
        rc, q = _c.ctm_dispense_assign(self._handle(), _text("trial", trial),
                                       _text("screening", screening), _text("visit", visit), opts)
        _check(rc)
        return Query(self, q, _ASSIGNED).fetchall()

    def dispense_confirm(self, trial: str, screening: str, scans: Iterable[str]) -> None:
        """Scan-to-verify: the kits handed over (numbers or pack barcodes) must each be assigned
        to the subject, else nothing is recorded (RuleError).  E-signed ("dispensed").  Audited
        "dispense.confirm"."""
        _check(_c.ctm_dispense_confirm(self._handle(), _text("trial", trial),
                                       _text("screening", screening), _kits(scans)))

    def dispense_cancel(self, trial: str, screening: str, reason: str) -> None:
        """Free the kits assigned to the subject and not handed over.  Audited "dispense.cancel"."""
        _check(_c.ctm_dispense_cancel(self._handle(), _text("trial", trial),
                                      _text("screening", screening), _text("reason", reason)))

    def dispense_replace(self, trial: str, screening: str, kit: str, reason: str,
                         lost: bool = False) -> List[Row]:
        """Replace a damaged (or lost) kit of the subject; returns the new assignment as
        :meth:`dispense_assign` does.  Audited "dispense.replace"."""
        rc, q = _c.ctm_dispense_replace(self._handle(), _text("trial", trial),
                                        _text("screening", screening), _text("kit", kit),
                                        "lost" if lost else "damaged", _text("reason", reason))
        _check(rc)
        return Query(self, q, _ASSIGNED).fetchall()

    def dispense_reverse(self, trial: str, screening: str, kit: str, reason: str) -> None:
        """Reverse a dispensing made in error: the kit becomes not_dispensed.  E-signed
        ("dispensing reversed").  Audited "dispense.reverse"."""
        _check(_c.ctm_dispense_reverse(self._handle(), _text("trial", trial),
                                       _text("screening", screening), _text("kit", kit),
                                       _text("reason", reason)))

    def dispense_record(self, trial: str, screening: str, visit: str, scans: Iterable[str],
                        when: Any, reason: str) -> None:
        """Record a dispensing made on paper while the system was down: when it happened (a
        datetime or ISO 8601 text), not before a kit's receipt (RuleError naming the kit and both
        times), and why; the time it is recorded is kept too.  E-signed ("dispensed").  Audited
        "dispense.record"."""
        _check(_c.ctm_dispense_record(self._handle(), _text("trial", trial),
                                      _text("screening", screening), _text("visit", visit),
                                      _kits(scans), _instant("when", when),
                                      _text("reason", reason)))

    def dispensations(self, trial: str, screening: Optional[str] = None) -> Query:
        """Dispensations of a trial (or of one subject) as a :class:`Query` of dicts: subject,
        visit, kit_number, kit_type, lot, status, dose_level, assigned, dispensed, recorded
        (datetimes), replaces, reason.  No arm is shown."""
        rc, q = _c.ctm_dispensations(self._handle(), _text("trial", trial),
                                     _text("screening", screening, optional=True))
        _check(rc)
        return Query(self, q, _DISPENSATIONS)

    def codebreak(self, trial: str, screening: str, password: str, reason: str) -> str:
        """Emergency unblinding of one subject: the logged-in investigator or unblinded
        pharmacist enters the password again; returns the arm.  E-signed ("emergency
        unblinding"); the record shows no arm to blinded readers.  Raises AuthError (wrong
        password, counted as a failed login), PermissionDenied, RuleError."""
        rc, arm = _c.ctm_codebreak(self._handle(), _text("trial", trial),
                                   _text("screening", screening), _text("password", password),
                                   _text("reason", reason))
        _check(rc)
        return arm

    # -- returns from subjects and compliance -------------------------------------------------

    def return_kit(self, trial: str, kit: str, units: int,
                   returned_on: Optional[Union[str, datetime.date]] = None,
                   condition: Optional[str] = None) -> None:
        """Record that a subject brought back a dispensed kit with ``units`` left in it (0 up
        to the kit's units), on ``returned_on`` (a date or "YYYY-MM-DD"; None: today; not before
        the day it was dispensed, not in the future), with its condition as found.  The kit
        becomes "returned" and never goes back to stock.  kit: its number or a scan.
        Pharmacists and technicians; audited "kit.return".  Raises InvalidError (units, date,
        condition), NotFoundError (trial, kit), RuleError (not with a subject, or back
        already), PermissionDenied."""
        _check(_c.ctm_return(self._handle(), _text("trial", trial), _text("kit", kit),
                             _int("units", units), _date("returned_on", returned_on, True),
                             _text("condition", condition, optional=True)))

    def lost(self, trial: str, kit: str, reason: str,
             reported_on: Optional[Union[str, datetime.date]] = None) -> None:
        """Record that a subject lost a dispensed kit (reported on ``reported_on``; None:
        today), with the reason.  The kit becomes "lost_by_subject".  Pharmacists and
        technicians; audited "kit.lost".  Raises as :meth:`return_kit`."""
        _check(_c.ctm_lost(self._handle(), _text("trial", trial), _text("kit", kit),
                           _date("reported_on", reported_on, True), _text("reason", reason)))

    def compliance_limits(self, trial: str, low_pct: int, high_pct: int) -> None:
        """Set a trial's compliance limits in percent (0 <= low <= high <= 1000; default 80
        and 110).  Administrators and pharmacists; audited "trial.compliance"."""
        _check(_c.ctm_compliance_limits(self._handle(), _text("trial", trial),
                                        _int("low_pct", low_pct), _int("high_pct", high_pct)))

    def compliance(self, trial: Optional[str] = None,
                   screening: Optional[str] = None) -> Query:
        """Compliance per subject, visit and kit type as a :class:`Query` of dicts: trial,
        screening, rand_number, visit, kit_type, dispensed_on (a date), kits, units_dispensed,
        kits_returned, units_returned, kits_lost, kits_out (not back yet), returned_on (a date:
        the last one back), days, prescribed_units (float), consumed_units, compliance_pct
        (float, one decimal), low_pct, high_pct and flag ("ok", "low", "high", or why there is
        no figure: "not returned", "lost", "not counted", "no period").  No arm is shown."""
        rc, q = _c.ctm_compliance(self._handle(), _text("trial", trial, optional=True),
                                  _text("screening", screening, optional=True))
        _check(rc)
        return Query(self, q, _COMPLIANCE)
    # -- accountability ------------------------------------------------------------------------

    def reconciliation(self, trial: str, as_of: Union[None, str, datetime.date] = None) -> Query:
        """The reconciliation of a trial (docs/reconciliation.md) as a :class:`Query` of dicts:
        one per kit type and lot, then the total (kit_type and lot None): received, the kits
        per status (receiving, available, quarantined, dispensed, returned,
        pending_destruction, destroyed, returned_to_sponsor, damaged, missing, lost, expired,
        not_dispensed, in_transit, unknown), dispensed_units, with_subjects_units,
        returned_units, consumed_units, lost_units, uncounted_units, breaks, balanced (bool).
        as_of None: now; a date or "YYYY-MM-DD": at the end of that day (UTC), from the kits'
        history.  Any logged-in user (rows are never per arm).  Raises InvalidError (as_of not
        a date, or in the future), NotFoundError (trial)."""
        rc, q = _c.ctm_reconciliation(self._handle(), _text("trial", trial), _day(as_of))
        _check(rc)
        return Query(self, q, _RECONCILIATION)

    def reconciliation_breaks(self, trial: str,
                              as_of: Union[None, str, datetime.date] = None) -> Query:
        """The kits that break the reconciliation (as :meth:`reconciliation` takes trial and
        as_of), by kit number, as a :class:`Query` of dicts: kit, kit_type, lot, status,
        problem (what disagrees, in words)."""
        rc, q = _c.ctm_reconciliation_breaks(self._handle(), _text("trial", trial), _day(as_of))
        _check(rc)
        return Query(self, q)

    def darf(self, trial: str, kit_type: Optional[str] = None) -> Query:
        """The DARF-style accountability log per product (kit type), in time order, as a
        :class:`Query` of dicts: date (datetime in UTC), kit_type, product, dose, lot, kit,
        subject, rand_number, dose_level, event, quantity (+1 received, -1 dispensed or gone,
        0 a return noted: returns are never added back), quantity_units, balance,
        balance_units, returned_units, recorder.  kit_type None: every kit type.  Raises
        NotFoundError (trial, kit type)."""
        rc, q = _c.ctm_darf(self._handle(), _text("trial", trial),
                            _text("kit_type", kit_type, optional=True))
        _check(rc)
        return Query(self, q, _DARF)

    def signoff_reconciliation(self, trial: str, as_of: Union[None, str, datetime.date] = None,
                               comment: Optional[str] = None) -> None:
        """A monitor's sign-off of the trial's reconciliation (now, or as of a day), e-signed
        ("reconciliation reviewed") and audited "signoff.reconciliation": records the day,
        whether it balanced and the ledger size it was drawn from, with the comment (1-500
        characters).  One that does not balance may be signed: the record says so.  Raises
        PermissionDenied (not a monitor), InvalidError, NotFoundError."""
        _check(_c.ctm_signoff_reconciliation(self._handle(), _text("trial", trial), _day(as_of),
                                             _text("comment", comment, optional=True)))

    def signoffs(self, trial: str) -> Query:
        """A trial's sign-offs, oldest first, as a :class:`Query` of dicts: signoff, kind,
        as_of (date), balanced (bool), ledger_size, signed (datetime in UTC), signed_by,
        printed_name, comment."""
        rc, q = _c.ctm_signoffs(self._handle(), _text("trial", trial))
        _check(rc)
        return Query(self, q, _SIGNOFFS)

    # -- destruction and return to the sponsor ------------------------------------------------

    def destroy(self, trial: str, kits: Iterable[str], method: str, certificate: str,
                witness: str, witness_password: str) -> None:
        """Destroy kits pending destruction (numbers or scans), with the method and the
        destruction certificate's reference, witnessed by a second user (an enabled pharmacist,
        technician or monitor, not the logged-in one) who signs with ``witness_password`` here.
        Two e-signed entries in one transaction: "kit.destroy" ("destroyed", the logged-in
        pharmacist) and "kit.destroy_witness" ("witnessed destruction", the witness).  All kits
        or none.  Not inside a batch.  Raises RuleError (a kit not pending destruction or packed
        in a shipback; the witness is oneself), AuthError (wrong witness password, counted as a
        failed login of the witness), PermissionDenied, NotFoundError, InvalidError."""
        _check(_c.ctm_destroy(self._handle(), _text("trial", trial), _kits(kits),
                              _text("method", method), _text("certificate", certificate),
                              _text("witness", witness),
                              _text("witness_password", witness_password)))

    def destructions(self, trial: Optional[str] = None) -> Query:
        """The kits destroyed as a :class:`Query` of dicts: trial, kit_number, kit_type, lot,
        expiry (a date), method, certificate, destroyed (datetime, UTC), destroyed_by, witness.
        No arm is shown."""
        rc, q = _c.ctm_destructions(self._handle(), _text("trial", trial, optional=True))
        _check(rc)
        return Query(self, q, _DESTRUCTIONS)

    def shipback(self, trial: str, shipment: str, kits: Iterable[str],
                 destination: Optional[str] = None) -> None:
        """Pack kits (returned, expired, damaged or pending destruction) to go back to the
        sponsor as shipment ``shipment`` (destination None: the trial's sponsor).  They keep
        their status until :meth:`shipback_dispatch`.  Pharmacists; audited "shipback.pack".
        Raises RuleError (a kit in another status or packed already), ExistsError (shipment),
        NotFoundError, InvalidError, PermissionDenied."""
        _check(_c.ctm_shipback(self._handle(), _text("trial", trial), _text("shipment", shipment),
                               _text("destination", destination, optional=True), _kits(kits)))

    def shipback_dispatch(self, trial: str, shipment: str, reference: str) -> None:
        """Confirm a packed shipback's dispatch with the carrier's reference, e-signed
        ("returned to sponsor"): its kits become "returned_to_sponsor".  Pharmacists."""
        _check(_c.ctm_shipback_dispatch(self._handle(), _text("trial", trial),
                                        _text("shipment", shipment),
                                        _text("reference", reference)))

    def shipback_cancel(self, trial: str, shipment: str, reason: str) -> None:
        """Cancel a shipback not yet dispatched: its kits are unpacked.  Pharmacists."""
        _check(_c.ctm_shipback_cancel(self._handle(), _text("trial", trial),
                                      _text("shipment", shipment), _text("reason", reason)))

    def shipbacks(self, trial: Optional[str] = None) -> Query:
        """The shipbacks as a :class:`Query` of dicts: trial, shipment, destination, status
        ("packed", "dispatched"), kits, packed (datetime), packed_by, dispatched (datetime or
        None), dispatched_by, reference."""
        rc, q = _c.ctm_shipbacks(self._handle(), _text("trial", trial, optional=True))
        _check(rc)
        return Query(self, q, _SHIPBACKS)

    def shipback_kits(self, trial: str, shipment: str) -> Query:
        """A shipback's manifest rows as a :class:`Query` of dicts: shipment, kit_number,
        kit_type, lot, expiry (a date), status (as packed), units_left.  No arm."""
        rc, q = _c.ctm_shipback_kits(self._handle(), _text("trial", trial),
                                     _text("shipment", shipment))
        _check(rc)
        return Query(self, q, _SHIPBACK_KITS)

    def shipback_manifest(self, trial: str, shipment: str) -> str:
        """A shipback's manifest as CSV text (CRLF line ends), as :meth:`shipback_kits`."""
        rc, text = _c.ctm_shipback_manifest(self._handle(), _text("trial", trial),
                                            _text("shipment", shipment))
        _check(rc)
        return text

    # -- supply forecast and self-inspection ---------------------------------------------------

    def forecast(self, trial: str, days: int = 28) -> Query:
        """The supply forecast of a trial over the next ``days`` days (1 to 3650) as a
        :class:`Query` of dicts, one per kit type: kit_type, arm (None: all arms pooled),
        through (a date: today + days), visits_due, kits_needed, kits_available,
        kits_dispensable (still dispensable on the day ``through``), kits_quarantined,
        shortfall (kits the stock cannot give, each visit needing kits that last past its
        do-not-dispense days and to the end of the next visit's window) and first_shortfall
        (the date of the first visit left short, or None).  In an open trial, and for an
        unblinded user, each kit type's row is followed by one row per arm with that arm's own
        figures; a blinded user gets only the pooled rows.  Raises InvalidError (days),
        NotFoundError (trial)."""
        rc, q = _c.ctm_forecast(self._handle(), _text("trial", trial), _int("days", days))
        _check(rc)
        return Query(self, q, _FORECAST)

    def self_inspection(self, trial: Optional[str] = None, stale_days: int = 90) -> Query:
        """The findings of a self-inspection of a trial (None: every trial) as a
        :class:`Query` of dicts: category ("discrepancy", "overdue_return",
        "expired_on_hand", "open_excursion", "missing_signature", "stale_access"), trial,
        reference, subject, detail (a sentence) and since (a date).  An account is stale after
        ``stale_days`` days (1 to 3650) without an action in the ledger.  No arm is shown; an
        empty result is a clean inspection.  Raises InvalidError, NotFoundError (trial)."""
        rc, q = _c.ctm_self_inspection(self._handle(), _text("trial", trial, optional=True),
                                       _int("stale_days", stale_days))
        _check(rc)
        return Query(self, q, _INSPECTION)


def _day(as_of: Union[None, str, datetime.date]) -> Optional[str]:
    """A day as the library takes it: None, or "YYYY-MM-DD"."""
    if isinstance(as_of, datetime.date):
        return as_of.strftime("%Y-%m-%d")
    return _text("as_of", as_of, optional=True)


# ---------------------------------------------------------------------------------------------
# Opening
# ---------------------------------------------------------------------------------------------

def _open(path: PathLike, flags: int, key_path: Optional[PathLike],
          site_seed: Optional[bytes]) -> Database:
    path = _path("path", path)
    key_path = _path("key_path", key_path, optional=True)
    site_seed = _seed(site_seed)
    rc, h = _c.ctm_open(path, (flags, key_path, site_seed, 0))
    _check(rc)
    if h is None:
        raise Error("ctm_open returned no handle")
    return Database(h, path, bool(flags & _c.CTM_OPEN_READONLY))


def open(path: PathLike, user: Optional[str] = None, password: Optional[str] = None,
         create: bool = False, key_path: Optional[PathLike] = None,
         site_seed: Optional[bytes] = None, readonly: bool = False) -> Database:
    """Open a libctm database and return a :class:`Database` (a context manager).

    path: the database file.  user/password: log in at once when user is given.
    create: create the file when it does not exist (then see :func:`init`).
    key_path: the site key file (default "<path>.key").  site_seed: 32 bytes of Ed25519 seed
    instead of a key file.  readonly: open for reading and verification only.

    Raises FileError (no such file without create), NotADatabaseError, VersionError, and on
    login AuthError/DisabledError (the database is closed again then).
    """
    if user is not None and password is None:
        raise InvalidError("password: required when user is given")
    flags = (_c.CTM_OPEN_CREATE if create else 0) | (_c.CTM_OPEN_READONLY if readonly else 0)
    db = _open(path, flags, key_path, site_seed)
    if user is not None:
        try:
            db.login(user, password)
        except BaseException:
            db.close()
            raise
    return db


def init(path: PathLike, site: str, admin: str, password: str,
         printed_name: Optional[str] = None, origin: Optional[str] = None,
         key_path: Optional[PathLike] = None, site_seed: Optional[bytes] = None) -> Database:
    """Create a database, initialise its site and first administrator, and return it logged in.

    site: the site name (1-200 printable characters).  admin: the administrator's user name.
    printed_name: the administrator's printed name (default: admin).  origin: the checkpoint
    origin line (default "libctm/<site slug>").  The signing key comes from site_seed (32 bytes)
    or is generated into key_path (default "<path>.key"; never overwritten).

    Raises InvalidError (a field, named in the message), ExistsError (already initialised, or the
    key file exists), FileError.
    """
    site = _text("site", site)
    admin = _text("admin", admin)
    password = _text("password", password)
    printed_name = _text("printed_name", printed_name, optional=True)
    origin = _text("origin", origin, optional=True)
    db = _open(path, _c.CTM_OPEN_CREATE, key_path, site_seed)
    try:
        _check(_c.ctm_init(db._handle(), site, origin, admin,
                           admin if printed_name is None else printed_name, password))
    except BaseException:
        db.close()
        raise
    return db
