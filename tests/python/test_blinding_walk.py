"""Every read the package offers, walked as each blinded role, on a site that has done a day's
work in a blinded trial: receipt, a randomization list, subjects randomized, kits dispensed and
an emergency unblinding.  No output may hold an arm code, the list's seed or its block sizes,
except where the arm codes are public by design (the trial's own listing and its trial.add
entry).  A read method added to Database without being walked here fails the test, so the walk
keeps covering the whole package (and through it the C calls, which it wraps one to one).
"""
import datetime

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

ARMS = ("QZVERUM", "QZSHAM")
SEED = "7a" * 32
TRIAL = "WALK-1"
PW = "walk-password-1"
BLINDED = {"tess": "technician", "ivan": "investigator", "mona": "monitor", "bert": "pharmacist",
           "abby": "admin"}
UNBLINDED = "pia"
EXPIRY = (datetime.date.today() + datetime.timedelta(days=400)).isoformat()

# What Database offers that changes state, manages the handle or the session: not reads.
WRITES = {"close", "login", "logout", "user_add", "user_disable", "user_enable", "user_set_role",
          "user_passwd", "note", "migrate_to", "batch", "trial_add", "kittype_add",
          "location_add", "receive", "scan", "confirm", "unscan", "void", "bulk_receive",
          "kit_set_status", "expiry_extend", "transfer", "transfer_out", "random_generate",
          "random_import", "random_minimization", "subject_add", "subject_set_strata",
          "randomize", "subject_withdraw", "subject_complete", "visit_add", "dose_levels",
          "subject_hold", "subject_resume", "dispense_assign", "dispense_confirm",
          "dispense_cancel", "dispense_replace", "dispense_reverse", "dispense_record",
          "codebreak", "temp_import", "location_alarm", "excursion_decide", "shipment_logger",
          "return_kit", "lost", "compliance_limits", "destroy", "shipback", "shipback_dispatch",
          "shipback_cancel", "signoff_reconciliation",
          "witness"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("walk"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(UNBLINDED, "pharmacist", PW, unblinded=True)
        for name, role in BLINDED.items():
            db.user_add(name, role, PW)
    with ctm_open(path, UNBLINDED, PW) as db:
        db.trial_add(TRIAL, "Walk", "Sponsor", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", 30, (2, 8), dnd_days=30)
        db.location_add("FRIDGE-1", (2, 8))
        lines = ["kit_number,kit_type,lot,expiry,arm,serial"] + [
            "K%02d,KT,L1,%s,%s,K%02d" % (i, EXPIRY, ARMS[i % 2], i) for i in range(10)]
        db.receive(TRIAL, "SH1", "\n".join(lines) + "\n", "FRIDGE-1")
        db.scan("SH1", "K01")
        db.confirm("SH1", unchecked_present=True)
        db.visit_add(TRIAL, "V1", 0, "-0..+3", "KT:1")
        db.random_generate(TRIAL, 4, [2, 4], strata="sex=M,F", seed=SEED)
        for s, sex in (("S-1", "M"), ("S-2", "F")):
            db.subject_add(TRIAL, s, {"sex": sex})
            db.randomize(TRIAL, s)
            kit = db.dispense_assign(TRIAL, s, "V1")[0]["kit_number"]
            db.dispense_confirm(TRIAL, s, [kit])
        db.return_kit(TRIAL, kit, 12, condition="opened")  # S-2's kit back: compliance rows
        # two kits in stock leave: one destroyed under a blinded witness, the other packed for
        # the sponsor with S-2's returned kit
        gone = [k for k in ("K%02d" % i for i in range(9, -1, -1))
                if db.kit_show(k, TRIAL)["status"] == "available"][:2]
        for k in gone:
            db.kit_set_status(TRIAL, k, "damaged", "crushed")
            db.kit_set_status(TRIAL, k, "pending_destruction", "to destroy")
        db.destroy(TRIAL, gone[:1], "incineration", "DC-1", "mona", PW)
        db.shipback(TRIAL, "RTS-1", [gone[1], kit])
        logger = tmp_path_factory.mktemp("logger") / "fridge-1.csv"
        logger.write_text("time,temperature\n2026-06-01T10:00:00Z,4.5\n2026-06-01T10:10:00Z,9.1\n")
        db.temp_import("FRIDGE-1", logger)
        # an hour from now, after the kits arrived: 60 minutes above range; with the June
        # reading above range (held 60 minutes) and the gap since then (unknown): 3 excursions
        hour = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                                    microsecond=0)
        later = tmp_path_factory.mktemp("logger") / "fridge-1-later.csv"
        later.write_text("".join("%s,%.1f\n" % ((hour + datetime.timedelta(minutes=60 + 10 * i))
                                               .strftime("%Y-%m-%dT%H:%M:%SZ"),
                                               9.5 if 2 <= i < 8 else 5.0) for i in range(10)))
        assert db.temp_import("FRIDGE-1", later)["excursions"] == 3
    with ctm_open(path, "ivan", PW) as db:
        db.codebreak(TRIAL, "S-1", PW, "emergency")
    return path


def reads(db):
    """(name, what the read gave or the exception it raised) for every read of the package."""
    out = []

    def call(name, fn):
        try:
            value = fn()
            if isinstance(value, ctm.Query):
                value = value.fetchall()
            out.append((name, repr(value)))
        except ctm.Error as e:
            out.append((name, "%s: %s" % (type(e).__name__, e)))

    events = [e for e in db.events() if e["action"] != "trial.add"]  # arm codes: public there
    out.append(("events", repr(events)))
    call("closed", lambda: db.closed)
    call("path", lambda: db.path)
    call("readonly", lambda: db.readonly)
    call("current_user", lambda: db.current_user)
    call("must_change_password", lambda: db.must_change_password)
    call("users", db.users)
    call("size", lambda: db.size)
    call("checkpoint", db.checkpoint)
    call("vkey", db.vkey)
    call("prove", lambda: [db.prove(seq) for seq in range(db.size)])
    call("verify", db.verify)
    call("kittypes", db.kittypes)
    call("locations", db.locations)
    call("receive_status", lambda: db.receive_status("SH1"))
    call("discrepancies", db.discrepancies)
    call("lots", db.lots)
    call("shipments", db.shipments)
    call("kits", db.kits)
    call("kit_history", lambda: [db.kit_history(TRIAL, "K%02d" % i).fetchall() for i in range(10)])
    call("kit_show", lambda: [db.kit_show("K%02d" % i) for i in range(10)])
    call("random_scheme", lambda: db.random_scheme(TRIAL))
    call("random_list", lambda: db.random_list(TRIAL))
    call("subjects", db.subjects)
    call("subject", lambda: [db.subject(TRIAL, s) for s in ("S-1", "S-2")])
    call("visits", lambda: db.visits(TRIAL))
    call("subject_visits", lambda: [db.subject_visits(TRIAL, s).fetchall()
                                    for s in ("S-1", "S-2")])
    call("dispensations", lambda: db.dispensations(TRIAL))
    call("temp_list", lambda: db.temp_list("FRIDGE-1"))
    call("temp_files", db.temp_files)
    call("temp_mkt", lambda: db.temp_mkt("FRIDGE-1"))
    call("kit_exposure", lambda: [db.kit_exposure("K%02d" % i, TRIAL) for i in range(10)])
    call("excursions", db.excursions)
    numbers = [e["excursion"] for e in db.excursions()]
    call("excursion_kits", lambda: [db.excursion_kits(n).fetchall() for n in numbers])
    call("excursion_report", lambda: [db.excursion_report(n, f, parse=False) for n in numbers
                                      for f in ("text", "csv", "json")])
    call("compliance", lambda: db.compliance(TRIAL))
    call("destructions", db.destructions)
    call("shipbacks", db.shipbacks)
    call("shipback_kits", lambda: db.shipback_kits(TRIAL, "RTS-1"))
    call("shipback_manifest", lambda: db.shipback_manifest(TRIAL, "RTS-1"))
    call("reconciliation", lambda: db.reconciliation(TRIAL))
    call("reconciliation_breaks", lambda: db.reconciliation_breaks(TRIAL))
    call("darf", lambda: db.darf(TRIAL))
    call("signoffs", lambda: db.signoffs(TRIAL))
    call("forecast", lambda: [db.forecast(TRIAL, days).fetchall() for days in (1, 28, 365)])
    call("self_inspection", lambda: [db.self_inspection(t).fetchall() for t in (TRIAL, None)])
    call("report", lambda: [db.report("inventory").fetchall(), db.report("inventory", TRIAL),
                            [e for e in db.report("audit") if e["action"] != "trial.add"]])
    # the audit trail's trial.add row lists the arm codes (public): walked as JSON without it
    call("report_render", lambda: [db.report_render("inventory", TRIAL, f)
                                   for f in ("text", "csv", "json", "html")] + [
        [e for e in db.report_render("audit", format="json")["rows"]
         if e["action"] != "trial.add"]])
    call("export", lambda: [db.export("fhir", TRIAL), db.export("sdtm-da", TRIAL)])
    return out


def test_the_walk_covers_every_read():
    offered = {n for n in dir(ctm.Database) if not n.startswith("_")}
    walked = {"events", "closed", "path", "readonly", "current_user", "must_change_password",
              "users", "size", "checkpoint", "vkey", "prove", "verify", "kittypes", "locations",
              "receive_status", "discrepancies", "lots", "shipments", "kits", "kit_history",
              "kit_show", "random_scheme", "random_list", "subjects", "subject", "visits",
              "subject_visits", "dispensations", "temp_list", "temp_files", "temp_mkt", "kit_exposure",
              "excursions", "excursion_kits", "excursion_report", "compliance",
              "reconciliation", "reconciliation_breaks", "darf", "signoffs", "report",
              "report_render", "destructions", "shipbacks", "shipback_kits", "shipback_manifest",
              "forecast", "self_inspection", "export"}
    public = {"trials"}  # the arm codes are part of the protocol
    assert offered - WRITES - walked - public == set()


@pytest.mark.parametrize("user", sorted(BLINDED))
def test_no_blinded_role_reads_an_arm_a_seed_or_a_list(site, user):
    with ctm_open(site, user, PW) as db:
        results = reads(db)
    assert ("random_list", "BlindingError: random list: a randomization list is for unblinded "
                           "users only") in results
    for name, text in results:
        for secret in ARMS + (SEED, "'2,4'"):
            assert secret not in text, "%s shows %s to %s" % (name, secret, user)


def test_exports_are_the_same_for_every_user(site):
    """No export holds an arm, so the blinded roles get the unblinded pharmacist's text."""
    with ctm_open(site, UNBLINDED, PW) as db:
        seen = [db.export(f, TRIAL, parse=False) for f in ("fhir", "sdtm-da")]
    assert "MedicationDispense" in seen[0] and "DISPAMT" in seen[1]
    for user in sorted(BLINDED):
        with ctm_open(site, user, PW) as db:
            assert [db.export(f, TRIAL, parse=False) for f in ("fhir", "sdtm-da")] == seen


def test_the_unblinded_walk_finds_them(site):
    """The search above could find them: the unblinded pharmacist's walk holds every one."""
    with ctm_open(site, UNBLINDED, PW) as db:
        text = "\n".join(t for _, t in reads(db))
    for secret in ARMS + (SEED, "'2,4'"):
        assert secret in text
