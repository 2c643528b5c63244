"""Tests of the ctm Python bindings (the Pythonic layer over the SWIG module ctm._ctm).

Run with /usr/bin/python3 -m pytest and PYTHONPATH=<builddir>/bindings/python (meson test does).
"""
import csv
import datetime
import gc
import inspect
import io
import pathlib
import re
import typing

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, TECH, TECH_PW, ctm_init, ctm_open
from conftest import raw_sql as _sql


def test_version():
    assert ctm.version() == ctm.__version__
    assert ctm.__version__.count(".") == 2
    assert ctm._ctm.ctm_version_number() == ctm._ctm.CTM_VERSION_NUMBER


def test_init_open_login(db_path):
    with ctm_init(db_path, SITE, ADMIN, ADMIN_PW) as db:
        assert db.current_user == ADMIN
        assert db.size >= 1
    with ctm_open(db_path) as db:
        assert db.current_user is None
        db.login(ADMIN, ADMIN_PW)
        assert db.current_user == ADMIN
        db.logout()
        assert db.current_user is None
    with ctm_open(db_path, user=ADMIN, password=ADMIN_PW) as db:
        assert db.current_user == ADMIN
        assert [u["user"] for u in db.users()] == [ADMIN]


def test_context_manager_closes(db):
    with db as same:
        assert same is db
    assert db.closed
    db.close()  # twice is harmless


def test_wrong_password_is_audited(db_path):
    ctm_init(db_path, SITE, ADMIN, ADMIN_PW).close()
    with pytest.raises(ctm.AuthError) as excinfo:
        ctm_open(db_path, user=ADMIN, password="wrong-password")
    assert excinfo.value.code == ctm._ctm.CTM_EAUTH
    assert excinfo.value.message
    with ctm_open(db_path, user=ADMIN, password=ADMIN_PW) as db:
        failed = [e for e in db.events() if e["action"] == "auth.failed"]
    assert len(failed) == 1


def test_user_add_by_non_admin_denied(db):
    db.user_add(TECH, "technician", TECH_PW)
    db.logout()
    db.login(TECH, TECH_PW)
    with pytest.raises(ctm.PermissionDenied):
        db.user_add("eve", "pharmacist", "eve-password-1")


def test_duplicate_user(db):
    db.user_add(TECH, "technician", TECH_PW)
    with pytest.raises(ctm.ExistsError):
        db.user_add(TECH, "pharmacist", TECH_PW)
    assert sorted(u["user"] for u in db.users()) == [ADMIN, TECH]


@pytest.mark.parametrize("name", ["", "x" * 65, "bo\0b"], ids=["empty", "65chars", "nul"])
def test_bad_user_name(shared_db, name):
    size = shared_db.size
    with pytest.raises(ctm.InvalidError) as excinfo:
        shared_db.user_add(name, "technician", TECH_PW)
    assert "name" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert shared_db.size == size


def test_nul_in_password_is_refused_before_c(shared_db):
    with pytest.raises(ctm.InvalidError) as excinfo:
        shared_db.login(ADMIN, "secret\0tail")
    assert "password" in str(excinfo.value)
    assert "secret" not in str(excinfo.value)
    with pytest.raises(ctm.InvalidError):
        shared_db.note(42)


def test_events(db):
    db.user_add(TECH, "technician", TECH_PW, printed_name="Tom Tech")
    db.note("monitor visit", meaning="reviewed")
    q = db.events()
    assert "seq" in q.columns and "esig_meaning" in q.columns
    events = list(q)
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert len(events) == db.size
    assert events[0]["action"] == "site.init"
    add = [e for e in events if e["action"] == "user.add"]
    assert len(add) == 1
    assert add[0]["esig_meaning"] == "authorized account change"
    assert add[0]["esig_user"] == ADMIN
    assert add[0]["user"] == ADMIN
    assert isinstance(add[0]["params"], dict)
    assert isinstance(add[0]["changes"], list)
    assert any(c["table"] == "users" for c in add[0]["changes"])
    note = events[-1]
    assert note["action"] == "audit.note" and note["esig_meaning"] == "reviewed"
    window = list(db.events(from_seq=1, limit=1))
    assert [e["seq"] for e in window] == [1]


@pytest.mark.parametrize("char", ["\x07", "\x7f", "\x85", "\x9f"])
def test_texts_refuse_every_control_character(db, char):
    """audit-format.md conventions: C0, DEL and C1 are control characters, in what libctm writes
    as in what it verifies; newline and tab stay allowed in free text."""
    with pytest.raises(ctm.InvalidError) as e:
        db.note("count" + char + "done")
    assert "control character" in str(e.value)
    db.note("count\tdone\nsigned off \u00a0 \u00e9")
    assert db.verify()["entries"] == db.size


def test_batch_groups_notes(db, db_path):
    def checkpoints():
        return _sql(db_path, "SELECT count(*) FROM checkpoints")[0][0]

    size, cps = db.size, checkpoints()
    with db.batch():
        for i in range(3):
            db.note("note %d" % i)
    assert db.size == size + 3
    assert checkpoints() == cps + 1
    assert ("\n%d\n" % (size + 3)) in db.checkpoint()


def test_batch_rolls_back_on_exception(db):
    size = db.size
    with pytest.raises(RuntimeError):
        with db.batch():
            db.note("dropped")
            raise RuntimeError("boom")
    assert db.size == size
    with db.batch():  # no batch was left open
        db.note("kept")
    assert db.size == size + 1


def test_verify_ok(db):
    db.user_add(TECH, "technician", TECH_PW)
    result = db.verify()
    assert result["entries"] == db.size
    assert result["checkpoints"] >= 1
    assert result["esignatures"] >= 1
    assert result["rows"] >= 2
    assert result["failed_seq"] == -1
    assert result["failed_table"] == ""
    assert len(result["root_hex"]) == 64
    assert result["key_from_database"] is True
    held = db.checkpoint()
    db.note("after the held checkpoint")
    result = db.verify(vkey=db.vkey(), checkpoint=held)
    assert result["key_from_database"] is False
    assert db.prove(1).startswith("seq 1\n")


def test_tamper_detected(db, db_path):
    db.user_add(TECH, "technician", TECH_PW)
    db.close()
    _sql(db_path, "UPDATE users SET printed_name = 'X'")
    with ctm_open(db_path) as db2:
        with pytest.raises(ctm.IntegrityError) as excinfo:
            db2.verify()
    exc = excinfo.value
    assert "users" in str(exc)
    assert exc.result["failed_table"] == "users"
    assert exc.code == ctm._ctm.CTM_EINTEGRITY


def test_to_pandas(shared_db):
    pandas = pytest.importorskip("pandas")
    q = shared_db.events()
    df = q.to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert list(df.columns) == list(q.columns)
    assert len(df) == shared_db.size


def test_users_and_events_are_typed(db):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    db.note("typed", meaning="reviewed")
    after = datetime.datetime.now(datetime.timezone.utc)
    admin = list(db.users())[0]
    assert admin["unblinded"] is True and admin["disabled"] is False
    assert isinstance(admin["failed_logins"], int) and admin["failed_logins"] == 0
    assert isinstance(admin["created"], datetime.datetime)
    assert admin["created"].tzinfo == datetime.timezone.utc
    note = list(db.events())[-1]
    assert note["action"] == "audit.note" and isinstance(note["seq"], int)
    # times to the microsecond, in UTC, and the e-signature's time is the entry's
    assert note["time"].tzinfo == datetime.timezone.utc
    assert before <= note["time"] <= after
    assert note["esig_time"] == note["time"]
    db.note("not signed")
    assert list(db.events())[-1]["esig_time"] is None


def test_to_pandas_dtypes(db):
    pandas = pytest.importorskip("pandas")
    db.user_add(TECH, "technician", TECH_PW)
    users = db.users().to_pandas()
    assert str(users["created"].dtype) == "datetime64[ns, UTC]"
    assert users["unblinded"].dtype == bool and users["disabled"].dtype == bool
    assert list(users["unblinded"]) == [True, False]
    assert str(users["failed_logins"].dtype) == "int64"
    events = db.events().to_pandas()
    assert str(events["time"].dtype) == "datetime64[ns, UTC]"
    assert str(events["seq"].dtype) == "int64"
    empty = db.events(from_seq=10**6).to_pandas()
    assert len(empty) == 0 and list(empty.columns) == list(db.events().columns)


def test_to_csv(shared_db, tmp_path):
    buf = io.StringIO()
    n = shared_db.users().to_csv(buf)
    lines = buf.getvalue().splitlines()
    assert n == 1 and len(lines) == 2
    assert lines[0].startswith("user,")
    # the library's text, not Python's renderings: ISO times, 0/1 flags
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["created"]), row["created"]
    assert row["unblinded"] == "1" and row["disabled"] == "0"
    path = tmp_path / "events.csv"
    assert shared_db.events().to_csv(path) == shared_db.size


def test_csv_safe_and_to_csv_neutralise_formulas(db):
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert ctm.csv_safe(start + "1+1") == "'" + start + "1+1"
    assert ctm.csv_safe("fine") == "fine" and ctm.csv_safe("") == ""
    assert ctm.csv_safe(-3) == -3 and ctm.csv_safe(-2.5) == -2.5 and ctm.csv_safe(None) is None
    db.location_add("COLD", (-25, -15), kind="=HYPERLINK(\"x\")")
    buf = io.StringIO()
    db.locations().to_csv(buf)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(buf.getvalue()))}
    assert rows["COLD"]["kind"] == "'=HYPERLINK(\"x\")"
    assert float(rows["COLD"]["min"]) == -25.0  # numbers stay numbers
    assert next(iter(db.locations()))["kind"] == "=HYPERLINK(\"x\")"  # rows stay exact


def test_use_after_close(db):
    q = db.events()
    db.close()
    with pytest.raises(ctm.MisuseError):
        db.note("too late")
    with pytest.raises(ctm.MisuseError):
        db.size
    with pytest.raises(ctm.MisuseError):
        next(q)
    with pytest.raises(ctm.MisuseError):
        db.login(ADMIN, ADMIN_PW)


def test_query_keeps_database_alive(db_path):
    ctm_init(db_path, SITE, ADMIN, ADMIN_PW).close()
    q = ctm_open(db_path, user=ADMIN, password=ADMIN_PW).users()  # no other reference to the db
    gc.collect()
    assert [row["user"] for row in q] == [ADMIN]
    assert list(q) == []  # exhausted cursors stay exhausted


def test_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(ctm.NotADatabaseError):
        ctm.open(path)
    with pytest.raises(ctm.FileError):
        ctm.open(tmp_path / "missing.db")


def test_disabled_user(db):
    db.user_add(TECH, "technician", TECH_PW)
    db.user_disable(TECH, "left the trial")
    db.logout()
    with pytest.raises(ctm.DisabledError):
        db.login(TECH, TECH_PW)
    with pytest.raises(ctm.MisuseError):  # nobody logged in
        db.note("anonymous")


def test_public_api_is_typed():
    """Every public function and method carries type hints, and the package says so (PEP 561)."""
    assert (pathlib.Path(ctm.__file__).parent / "py.typed").is_file()
    public = [ctm.open, ctm.init, ctm.version, ctm.gs1_parse]
    for cls in (ctm.Database, ctm.Query):
        public += [f for name, f in vars(cls).items()
                   if callable(f) and (not name.startswith("_") or name in ("__init__",
                                                                            "__next__"))]
        public += [p.fget for p in vars(cls).values() if isinstance(p, property)]
    for f in public:
        f = getattr(f, "__wrapped__", f)  # contextmanager
        hints = typing.get_type_hints(f)
        assert "return" in hints, f.__qualname__
        params = [n for n in inspect.signature(f).parameters if n not in ("self", "exc")]
        assert set(params) <= set(hints), (f.__qualname__, set(params) - set(hints))
    assert typing.get_type_hints(ctm.Database.kits)["return"] is ctm.Query


def test_migrate_to_copies_the_ledger_byte_for_byte(db, db_path, tmp_path):
    """A site moves into a new file (from a file, or from PostgreSQL) with the same entries and
    checkpoint; the copy verifies against the site's key with a checkpoint held before the move,
    and takes new actions; a second move into the same file is refused."""
    from conftest import key_path
    db.user_add(TECH, "technician", TECH_PW)
    db.note("before the move")
    held, vkey, size = db.checkpoint(), db.vkey(), db.size
    target = tmp_path / "moved.db"
    db.migrate_to(target)
    key = key_path(db_path) or db_path + ".key"
    with ctm.open(target, user=ADMIN, password=ADMIN_PW, key_path=key) as copy:
        assert copy.size == size
        assert copy.checkpoint() == held
        copy.note("after the move")
        result = copy.verify(vkey=vkey, checkpoint=held)
        assert result["entries"] == size + 1
    assert db.size == size
    with pytest.raises(ctm.ExistsError, match="exists"):
        db.migrate_to(target)
    db.login(TECH, TECH_PW)
    with pytest.raises(ctm.PermissionDenied):
        db.migrate_to(tmp_path / "other.db")
    assert not (tmp_path / "other.db").exists()
