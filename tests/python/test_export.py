"""Database.export(): the FHIR R4 Bundle checked element by element against the R4 cardinalities
and types of tests/data/fhir-r4/cardinality.tsv (every element known to R4, every required one
there, no list where R4 allows one value, the primitive formats, contained resources referenced),
its content against the site's own listings, and the SDTM DA CSV's layout; on a blinded trial,
the same text for every user.
"""
import csv
import datetime
import io
import json
import pathlib
import re

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

TABLE_PATH = pathlib.Path(__file__).resolve().parent.parent / "data" / "fhir-r4" / "cardinality.tsv"
ARMS = ("QZVERUM", "QZSHAM")
TRIAL = "EXPORT-1"
PW = "export-password-1"
PHARM, BLIND, INV = "pia", "bert", "ivan"
TODAY = datetime.datetime.now(datetime.timezone.utc).date()
RECEIVED = (TODAY - datetime.timedelta(days=1)).isoformat()
EXPIRY = (TODAY + datetime.timedelta(days=400)).isoformat()


def load_table():
    table = {}
    for line in TABLE_PATH.read_text().splitlines():
        if line and not line.startswith("#"):
            path, low, high, types = line.split("\t")
            table[path] = (int(low), None if high == "*" else int(high), types.split("|"))
    return table


TABLE = load_table()

# R4's regular expressions of the primitive types used (datatypes.html)
PRIMITIVES = {
    "id": r"[A-Za-z0-9\-\.]{1,64}",
    "code": r"[^\s]+(\s[^\s]+)*",
    "uri": r"\S*",
    "string": r"[\s\S]+",
    "dateTime": r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|"
                r"[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|"
                r"(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
}
# the required bindings of the codes written
CODES = {
    "Bundle.type": {"document", "message", "transaction", "transaction-response", "batch",
                    "batch-response", "history", "searchset", "collection"},
    "MedicationDispense.status": {"preparation", "in-progress", "cancelled", "on-hold",
                                  "completed", "entered-in-error", "stopped", "declined",
                                  "unknown"},
    "SupplyDelivery.status": {"in-progress", "completed", "abandoned", "entered-in-error"},
}


def children(prefix):
    """The elements directly under prefix: name -> (min, max, types)."""
    n = len(prefix) + 1
    return {p[n:]: spec for p, spec in TABLE.items()
            if p.startswith(prefix + ".") and "." not in p[n:]}


def element_of(key, elements):
    """The element a JSON key names (a choice element by its type suffix) and its type."""
    if key in elements:
        return key, elements[key][2][0]
    for name, (_, _, types) in elements.items():
        if name.endswith("[x]"):
            for t in types:
                if key == name[:-3] + t[0].upper() + t[1:]:
                    return name, t
    return None, None


def check_value(value, type_, path, where):
    if type_ == "Resource":
        check_resource(value, where)
    elif type_ in PRIMITIVES:
        assert isinstance(value, str), (where, value)
        assert re.fullmatch(PRIMITIVES[type_], value), (where, type_, value)
        if path in CODES:
            assert value in CODES[path], (where, value)
    elif type_ == "decimal":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (where, value)
    elif type_ == "boolean":
        assert isinstance(value, bool), (where, value)
    elif type_ == "BackboneElement":
        check_object(value, children(path), path, where)
    else:
        assert children(type_), "%s: type %s is not in the table" % (where, type_)
        check_object(value, children(type_), type_, where)


def check_object(obj, elements, prefix, where):
    """Every key an R4 element of prefix, each within its cardinality, every required one there."""
    assert isinstance(obj, dict) and obj, (where, obj)  # FHIR JSON has no empty objects
    seen = set()
    for key, value in obj.items():
        if key == "resourceType":
            continue
        name, type_ = element_of(key, elements)
        assert name is not None, "%s.%s is no R4 element of %s" % (where, key, prefix)
        assert name not in seen, "%s: %s given twice" % (where, name)
        seen.add(name)
        low, high, _ = elements[name]
        if high == 1:
            assert not isinstance(value, list), "%s.%s: at most one" % (where, key)
            values = [value]
        else:
            assert isinstance(value, list) and value, "%s.%s: a non-empty list" % (where, key)
            assert high is None or len(value) <= high
            values = value
        path = prefix + "." + name
        for i, v in enumerate(values):
            check_value(v, type_, path, "%s.%s[%d]" % (where, key, i))
    for name, (low, _, _) in elements.items():
        assert low == 0 or name in seen, "%s: %s is required (min %d)" % (where, name, low)


def references(value):
    """The references in a resource, not in the resources it holds."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference":
                yield v
            elif k not in ("contained", "resource"):
                yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)


def check_resource(res, where):
    kind = res.get("resourceType")
    assert kind in ("Bundle", "MedicationDispense", "Medication", "SupplyDelivery"), where
    elements = children(kind)
    if kind != "Bundle":
        elements.update(children("DomainResource"))
    check_object(res, elements, kind, "%s(%s)" % (where, kind))
    contained = {c["id"] for c in res.get("contained", [])}
    local = {r[1:] for r in references(res) if r.startswith("#")}
    assert local <= contained, "%s: a local reference has no contained resource (ref-1)" % where
    assert contained <= local, "%s: a contained resource is not referenced (dom-3)" % where
    for c in res.get("contained", []):
        assert "contained" not in c, "%s: nested contained (dom-2)" % where
    for q in (res.get("quantity"), res.get("suppliedItem", {}).get("quantity")):
        assert q is None or "comparator" not in q  # SimpleQuantity (sqty-1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = new_site_path(tmp_path_factory.mktemp("export"))
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(PHARM, "pharmacist", PW, unblinded=True)
        db.user_add(BLIND, "pharmacist", PW)
        db.user_add(INV, "investigator", PW)
    with ctm_open(path, PHARM, PW) as db:
        db.trial_add(TRIAL, "Export", "Sponsor", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug X 5 mg or placebo", 30, (2, 8), dose_form="capsule")
        db.location_add("FRIDGE-1", (2, 8))
        lines = ["kit_number,kit_type,lot,expiry,arm"] + [
            "K%02d,KT,L%d,%s,%s" % (i, 1 + i // 5, EXPIRY, ARMS[i % 2]) for i in range(10)]
        db.receive(TRIAL, "SH-EXP-1", "\n".join(lines) + "\n", "FRIDGE-1", origin="Depot Nord",
                   date_received=RECEIVED)
        db.confirm("SH-EXP-1", unchecked_present=True)
        db.visit_add(TRIAL, "V1", 0, "-0..+3", "KT:1")
        db.random_generate(TRIAL, 4, [2])
        kits = []
        for s in ("S-1", "S-2", "S-3"):
            db.subject_add(TRIAL, s)
            db.randomize(TRIAL, s)
            kit = db.dispense_assign(TRIAL, s, "V1")[0]["kit_number"]
            db.dispense_confirm(TRIAL, s, [kit])
            kits.append(kit)
    with ctm_open(path, BLIND, PW) as db:
        db.return_kit(TRIAL, kits[0], 4, condition="opened")
        db.lost(TRIAL, kits[1], "left on the bus")
    return path


def test_the_bundle_is_r4_element_by_element(site):
    with ctm_open(site, BLIND, PW) as db:
        bundle = db.export("fhir", TRIAL)
    check_resource(bundle, "Bundle")
    assert bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["SupplyDelivery"] * 2 + ["MedicationDispense"] * 3


def test_the_check_refuses_what_r4_refuses(site):
    with ctm_open(site, BLIND, PW) as db:
        good = db.export("fhir", TRIAL, parse=False)

    def broken(change):
        bundle = json.loads(good)
        change(bundle, bundle["entry"][-1]["resource"], bundle["entry"][0]["resource"])
        with pytest.raises(AssertionError):
            check_resource(bundle, "Bundle")

    broken(lambda b, md, sd: md.pop("status"))                        # min 1
    broken(lambda b, md, sd: md.update(status=["completed"]))         # max 1
    broken(lambda b, md, sd: md.update(status="done"))                # required binding
    broken(lambda b, md, sd: md.update(arm="A"))                      # no such element
    broken(lambda b, md, sd: md.update(medicationCodeableConcept={"text": "x"}))  # [x] twice
    broken(lambda b, md, sd: md.update(whenHandedOver="2026-12-03T10:00:00"))  # no zone
    broken(lambda b, md, sd: md["performer"][0].pop("actor"))         # backbone min 1
    broken(lambda b, md, sd: sd.update(suppliedItem=[sd["suppliedItem"]] * 2))  # R4: 0..1
    broken(lambda b, md, sd: md.update(medicationReference={"reference": "#other"}))  # ref-1
    broken(lambda b, md, sd: b.pop("type"))
    broken(lambda b, md, sd: sd["suppliedItem"]["quantity"].update(comparator="<"))


def test_the_bundle_holds_what_the_site_recorded(site):
    with ctm_open(site, PHARM, PW) as db:
        bundle = db.export("fhir", TRIAL)
        handed = db.dispensations(TRIAL).fetchall()
    resources = [e["resource"] for e in bundle["entry"]]
    deliveries = resources[:2]
    assert [(d["identifier"][0]["value"], d["status"], d["occurrenceDateTime"],
             d["supplier"]["display"], d["suppliedItem"]["quantity"],
             d["contained"][0]["batch"]["lotNumber"]) for d in deliveries] == [
        ("SH-EXP-1", "completed", RECEIVED, "Depot Nord", {"value": 150, "unit": "capsule"}, lot)
        for lot in ("L1", "L2")]
    dispenses = resources[2:]
    assert len(dispenses) == len(handed) == 3
    for d, row in zip(dispenses, handed):
        assert d["identifier"] == [{"value": row["kit_number"]}]
        assert d["status"] == "completed"
        assert d["subject"] == {"identifier": {"value": row["subject"]}}
        assert d["quantity"] == {"value": 30, "unit": "capsule"}
        assert d["performer"] == [{"actor": {"identifier": {"value": PHARM},
                                             "display": "pia"}}]
        handed_over = row["dispensed"].astimezone(datetime.timezone.utc)
        assert d["whenHandedOver"] == handed_over.strftime("%Y-%m-%dT%H:%M:%SZ")
        med = d["contained"][0]
        assert d["medicationReference"] == {"reference": "#" + med["id"]}
        assert med["code"]["text"] == "Drug X 5 mg or placebo"
        assert med["form"] == {"text": "capsule"}
        assert med["batch"] == {"lotNumber": row["lot"], "expirationDate": EXPIRY}


DA_COLUMNS = ["STUDYID", "DOMAIN", "USUBJID", "DASEQ", "DAREFID", "DASPID", "DATESTCD", "DATEST",
              "DAORRES", "DAORRESU", "DASTRESC", "DASTRESN", "DASTRESU", "DASTAT", "DAREASND",
              "VISITNUM", "VISIT", "DADTC"]


def test_the_sdtm_da_rows(site):
    with ctm_open(site, INV, PW) as db:
        text = db.export("sdtm-da", TRIAL)
        handed = db.dispensations(TRIAL).fetchall()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0].keys()) == DA_COLUMNS
    got = [(r["USUBJID"], r["DASEQ"], r["DAREFID"], r["DATESTCD"], r["DAORRES"], r["DASTAT"],
            r["DAREASND"], r["VISIT"]) for r in rows]
    want = []
    for i, row in enumerate(handed):
        usubjid = TRIAL + "-" + row["subject"]
        want.append((usubjid, "1", row["kit_number"], "DISPAMT", "30", "", "", "V1"))
        if i == 0:
            want.append((usubjid, "2", row["kit_number"], "RETAMT", "4", "", "", ""))
        if i == 1:
            want.append((usubjid, "2", row["kit_number"], "RETAMT", "", "NOT DONE",
                         "LOST BY SUBJECT", ""))
    assert got == want
    for r in rows:
        assert r["STUDYID"] == TRIAL and r["DOMAIN"] == "DA"
        assert len(r["DATESTCD"]) <= 8 and len(r["DATEST"]) <= 40
        assert r["DASTRESC"] == r["DASTRESN"] == r["DAORRES"]
        if r["DATESTCD"] == "RETAMT":
            assert r["DADTC"] == TODAY.isoformat()
        else:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["DADTC"])


def test_every_user_gets_the_same_text_and_no_arm(site):
    texts = {}
    for user in (PHARM, BLIND, INV):
        with ctm_open(site, user, PW) as db:
            texts[user] = [db.export(f, TRIAL, parse=False) for f in ("fhir", "sdtm-da")]
    assert texts[BLIND] == texts[PHARM] == texts[INV]
    for text in texts[PHARM]:
        for arm in ARMS:
            assert arm not in text


def test_the_period_and_the_errors(site):
    with ctm_open(site, PHARM, PW) as db:
        assert db.export("fhir", TRIAL, from_date=RECEIVED, to_date=RECEIVED)["entry"][0]["resource"][
            "resourceType"] == "SupplyDelivery"
        assert len(db.export("fhir", TRIAL, from_date=TODAY)["entry"]) == 3
        assert db.export("sdtm-da", TRIAL, to_date=datetime.date(2020, 1, 1)) == (
            ",".join(DA_COLUMNS) + "\r\n")
        with pytest.raises(ctm.InvalidError, match="format"):
            db.export("hl7v2", TRIAL)
        with pytest.raises(ctm.InvalidError, match="after"):
            db.export("fhir", TRIAL, from_date=TODAY,
                      to_date=TODAY - datetime.timedelta(days=2))
        with pytest.raises(ctm.NotFoundError):
            db.export("fhir", "NO-SUCH-TRIAL")
