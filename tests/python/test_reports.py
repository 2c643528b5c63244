"""Reports through the Python package: db.report() gives a report's rows as a Query (to_pandas()
included), db.report_render() the whole report with the checkpoint it was drawn from; blinded
users get blinded reports; mistakes raise InvalidError naming the option."""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PW = "report-password-1"
TRIAL = "REP-1"
ARMS = ("QXACTIVE", "QXPLACEBO")


def day(n):
    return datetime.date.today() + datetime.timedelta(days=n)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("reports"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add("pia", "pharmacist", PW, unblinded=True, printed_name="Pia Pharm")
        db.user_add("tess", "technician", PW)
    with ctm_open(path, "pia", PW) as db:
        db.trial_add(TRIAL, "Reports", "Sponsor", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8))
        db.location_add("FRIDGE-1", (2, 8))
        lines = ["kit_number,kit_type,lot,expiry,arm",
                 "K1,KT,L1,%s,%s" % (day(5), ARMS[0]), "K2,KT,L2,%s,%s" % (day(60), ARMS[1]),
                 "K3,KT,L3,%s,%s" % (day(-1), ARMS[0])]
        db.receive(TRIAL, "SH1", "\n".join(lines) + "\n", "FRIDGE-1")
        db.confirm("SH1", unchecked_present=True)
        db.kit_set_status(TRIAL, "K2", "quarantined", "=1+1 typed by hand")
    return path


def test_inventory_rows_typed_and_as_a_dataframe(site):
    with ctm_open(site, "pia", PW) as db:
        rows = db.report("inventory", TRIAL).fetchall()
        assert [(r["kit_number"], r["status"], r["expiry"], r["days_to_expiry"],
                 r["expiring_soon"], r["expired"], r["arm"]) for r in rows] == [
            ("K1", "available", day(5), 5, True, False, ARMS[0]),
            ("K2", "quarantined", day(60), 60, False, False, ARMS[1]),
            ("K3", "available", day(-1), -1, False, True, ARMS[0])]
        assert [r["expiring_soon"] for r in db.report("inventory", TRIAL, days=60)] == [
            True, True, False]
        frame = db.report("inventory", TRIAL).to_pandas()
        assert list(frame["kit_number"]) == ["K1", "K2", "K3"]
        assert list(frame["units"]) == [30, 30, 30]
        assert str(frame["expiring_soon"].dtype) == "bool"


def test_blinded_users_get_blinded_reports(site):
    with ctm_open(site, "tess", PW) as db:
        rows = db.report("inventory").fetchall()
        assert {r["arm"] for r in rows} == {"(blinded)"}
        for fmt in ("text", "csv", "html"):
            text = db.report_render("inventory", TRIAL, fmt)
            assert "(blinded)" in text and not any(arm in text for arm in ARMS)
        trail = [e for e in db.report("audit", TRIAL) if e["action"] != "trial.add"]
        assert trail and not any(arm in repr(trail) for arm in ARMS)


def test_audit_trail_rows_and_period(site):
    with ctm_open(site, "pia", PW) as db:
        trail = db.report("audit", TRIAL).fetchall()
        status = [e for e in trail if e["action"] == "kit.status"]
        assert len(status) == 1
        e = status[0]
        assert (e["user"], e["printed_name"], e["reason"]) == ("pia", "Pia Pharm",
                                                               "=1+1 typed by hand")
        assert e["changes"].startswith("kits id=2 updated: status available -> quarantined")
        assert isinstance(e["time"], datetime.datetime) and e["time"].tzinfo is not None
        confirm = [e for e in trail if e["action"] == "shipment.confirm"][0]
        assert (confirm["esig_name"], confirm["esig_meaning"]) == ("Pia Pharm",
                                                                   "receipt confirmed")
        assert db.report("audit", TRIAL, to_date=day(-1)).fetchall() == []
        assert db.report("audit", TRIAL, as_of=day(-1)).fetchall() == []
        assert len(db.report("audit", TRIAL, from_date=day(0)).fetchall()) == len(trail)


def test_render_json_ties_to_the_checkpoint(site):
    with ctm_open(site, "pia", PW) as db:
        report = db.report_render("inventory", TRIAL, "json")
        note = db.checkpoint()
        size, root = note.split("\n")[1:3]
        assert report["checkpoint"]["size"] == int(size) == db.size
        assert report["checkpoint"]["root"] == root
        assert (report["report"], report["site"], report["trial"]) == ("inventory", SITE, TRIAL)
        assert (report["kits"], report["units"], report["expiring_soon"],
                report["expired"]) == (3, 90, 1, 1)
        assert [r["kit_number"] for r in report["rows"]] == ["K1", "K2", "K3"]
        csv_text = db.report_render("audit", TRIAL, "csv")
        assert "'=1+1 typed by hand" in csv_text


@pytest.mark.parametrize("call,message", [
    (lambda db: db.report("stock"), "no report 'stock' (the reports are inventory, audit"),
    (lambda db: db.report("inventory", as_of=day(0)), "as_of: the inventory report does not"),
    (lambda db: db.report("audit", from_date="2026-02-02", to_date="2026-02-01"),
     "from: 2026-02-02 is after to 2026-02-01"),
    (lambda db: db.report("audit", as_of="2026-13-01"), "as_of"),
    (lambda db: db.report_render("inventory", format="pdf"), "format: 'pdf' is none of"),
])
def test_mistakes_raise_invalid_error_naming_the_option(site, call, message):
    with ctm_open(site, "pia", PW) as db:
        with pytest.raises(ctm.InvalidError, match=None) as err:
            call(db)
        assert message in str(err.value)


def test_no_render_inside_a_batch(site):
    with ctm_open(site, "pia", PW) as db:
        with pytest.raises(ctm.MisuseError, match="a batch is open"):
            with db.batch():
                db.report_render("inventory", TRIAL)
        with pytest.raises(ctm.NotFoundError, match="NOPE"):
            db.report("inventory", "NOPE")
