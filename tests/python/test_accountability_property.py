"""A property test of accountability (hypothesis, Debian's python3-hypothesis): random sequences
of receipts, randomizations, dispensings, returns, losses, status changes by hand, kits mislaid
and found again, transfers,
temperature excursions (with the sponsor's release), witnessed destructions and returns to the
sponsor, invalid operations mixed in, run against a model of what each kit's status and place
must be.

After every step:
- every kit is where the model says, in the status the model says (an operation the model
  predicts to succeed succeeds, one it predicts to be refused is refused);
- a refused operation changed nothing: the ledger has as many entries as before, every kit its
  status and location, the returns their rows;
- the balance equation holds: the kits received are the kits in every status, each kit in one,
  and in units the units dispensed are the units returned + consumed + lost (returned units never
  above a kit's units);
- a returned kit never went back to stock (its history, kit_events, never leaves returned for
  available or quarantined);
- the library's own reconciliation (now and as of today) is balanced, names no kit, and counts
  every status and the units as the model does; the DARF log's balance ends at the kits the
  model has in stock;
- the DARF log's lines (darf_lines), written with each change, are the rows that the upgrade to
  schema version 10 derives from the whole history (the same rule, two ways).
At the end the whole ledger verifies.

The number of examples is small for the CI (CTM_PROPERTY_EXAMPLES, default 8, 2 on PostgreSQL, of
CTM_PROPERTY_STEPS operations each, default 30, derandomized so that a CI run is repeatable); run
it longer with, for example, CTM_PROPERTY_EXAMPLES=200 (docs/testing.md).
"""
import datetime
import os
import pathlib
import random
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import backends  # noqa: E402
import ctm  # noqa: E402
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path, raw_sql  # noqa: E402

PW = "property-password-1"
TRIAL = "CT-PROP"
ARMS = ("QZACT", "QZPLA")
UNITS = 30
VISITS = ("V1", "V2", "V3")
STATUSES = ("available", "quarantined", "damaged", "missing", "expired", "pending_destruction",
            "destroyed", "returned_to_sponsor", "dispensed", "returned", "lost_by_subject")
# The changes a pharmacist may make by hand (libctm/src/domain/stock.c, docs/cli.md).
BY_HAND = {("available", "quarantined"), ("available", "damaged"), ("available", "missing"),
           ("available", "expired"), ("quarantined", "available"),
           ("quarantined", "pending_destruction"), ("quarantined", "damaged"),
           ("quarantined", "missing"), ("quarantined", "expired"), ("missing", "available"),
           ("missing", "quarantined"), ("damaged", "pending_destruction"),
           ("expired", "pending_destruction"), ("returned", "pending_destruction")}
SHIPPABLE = {"returned", "expired", "damaged", "pending_destruction"}
ON_SITE = {"received", "available", "quarantined", "damaged", "expired", "returned",
           "pending_destruction", "not_dispensed"}
# A PostgreSQL server commits each step over a socket, several times slower than a SQLite file:
# fewer runs there by default (the same operations run on SQLite in full).
EXAMPLES = int(os.environ.get("CTM_PROPERTY_EXAMPLES", "2" if backends.POSTGRES else "8"))
UTC = datetime.timezone.utc


class Kit:
    def __init__(self, number, arm):
        self.number, self.arm = number, arm
        self.status, self.location = "available", "FRIDGE-1"
        self.ever_dispensed = False
        self.left_its_place = False  # dispensed since it came to its location: no stay there
        self.units_returned = None


class Accountability:
    """The pharmacy and its model; each operation predicts its outcome, calls libctm and checks
    it, then the invariants are checked."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = new_site_path(self.tmp.name)
        with ctm_init(self.path, SITE, ADMIN, ADMIN_PW) as admin:
            admin.user_add("paula", "pharmacist", PW, unblinded=True, printed_name="Paula")
            admin.user_add("mona", "technician", PW, printed_name="Mona")  # witnesses
        self.db = ctm_open(self.path, "paula", PW)
        db = self.db
        db.trial_add(TRIAL, "Property", "Sponsor", {ARMS[0]: 1, ARMS[1]: 1}, blinded=True)
        db.kittype_add(TRIAL, "KT", "Drug or placebo", UNITS, (2, 8), dispensing_days=28)
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.location_add("FRIDGE-2", (2, 8), kind="fridge")
        db.location_alarm("FRIDGE-2", 0, 600)
        db.visit_add(TRIAL, "V1", 0, "0..+3", "KT:1")
        db.visit_add(TRIAL, "V2", 0, "0..+3", "KT:1", anchor="previous")
        db.visit_add(TRIAL, "V3", 0, "0..+3", "KT:1", anchor="previous")
        db.random_generate(TRIAL, 40, [2])
        self.kits = {}          # number -> Kit
        self.subjects = {}      # screening -> [arm, visits done]
        self.excursions = {}    # id -> {"kits": set, "quarantined": set, "open": bool}
        self.shipments = 0
        self.hours = 0          # the next logger file starts this many hours ahead
        self.shipbacks = 0
        self.refusals = 0
        # every run starts from a working pharmacy: kits of both arms in stock, subjects with
        # their first kit (hypothesis keeps runs short; this puts returns and losses in reach)
        self.receive([ARMS[0], ARMS[1]] * 4)
        for _ in range(4):
            self.randomize()
        for screening in sorted(self.subjects)[:3]:
            self.dispense_to(screening)

    def teardown(self):
        try:
            result = self.db.verify()  # raises IntegrityError on any failure
            assert result["failed_seq"] == -1 and result["entries"] == self.db.size, result
        finally:
            self.db.close()
            self.tmp.cleanup()

    # ---- what the library holds ----

    def snapshot(self):
        kits = {r["kit_number"]: (r["status"], r["location"]) for r in self.db.kits(TRIAL)}
        returns = raw_sql(self.path, "SELECT count(*), COALESCE(sum(units), 0) FROM kit_returns")
        return self.db.size, kits, tuple(returns[0])

    def refused(self, call, *args, **kw):
        """Call must raise a libctm error and change nothing."""
        before = self.snapshot()
        with pytest.raises(ctm.Error):
            call(*args, **kw)
        assert self.snapshot() == before
        self.refusals += 1

    def pick(self, r, relevant):
        """A kit: mostly one the operation applies to (relevant), sometimes any kit, so that
        valid and invalid operations both come often."""
        numbers = sorted(k.number for k in self.kits.values() if relevant(k))
        if not numbers or r.random() < 0.3:
            numbers = sorted(self.kits)
        return self.kits[r.choice(numbers)]

    def held(self, number):
        return any(number in e["kits"] for e in self.excursions.values() if e["open"])

    # ---- operations ----

    def receive(self, arms):
        self.shipments += 1
        first = len(self.kits) + 1
        rows = ["K%04d,KT,L1,2031-01-31,%s" % (first + i, arm) for i, arm in enumerate(arms)]
        shipment = "SH-%03d" % self.shipments
        self.db.receive(TRIAL, shipment, "kit_number,kit_type,lot,expiry,arm\n" +
                        "\n".join(rows) + "\n", "FRIDGE-1")
        self.db.confirm(shipment, unchecked_present=True)
        for i, arm in enumerate(arms):
            self.kits["K%04d" % (first + i)] = Kit("K%04d" % (first + i), arm)

    def randomize(self):
        screening = "S-%03d" % (len(self.subjects) + 1)
        self.db.subject_add(TRIAL, screening)
        arm = self.db.randomize(TRIAL, screening)["arm"]
        assert arm in ARMS
        self.subjects[screening] = [arm, 0]

    def dispense(self, r):
        self.dispense_to(r.choice(sorted(self.subjects)))

    def dispense_to(self, screening):
        arm, done = self.subjects[screening]
        eligible = [k for k in self.kits.values() if k.status == "available" and k.arm == arm]
        if done == len(VISITS):
            return self.refused(self.db.dispense_assign, TRIAL, screening, "V4")
        if not eligible:
            return self.refused(self.db.dispense_assign, TRIAL, screening, VISITS[done])
        number = self.db.dispense_assign(TRIAL, screening, VISITS[done])[0]["kit_number"]
        assert number in [k.number for k in eligible]
        self.db.dispense_confirm(TRIAL, screening, [number])
        kit = self.kits[number]
        kit.status, kit.ever_dispensed, kit.left_its_place = "dispensed", True, True
        self.subjects[screening][1] += 1

    def return_kit(self, r):
        units = r.randint(-1, UNITS + 3)
        kit = self.pick(r, lambda k: k.status == "dispensed")
        if kit.status != "dispensed" or not 0 <= units <= UNITS:
            return self.refused(self.db.return_kit, TRIAL, kit.number, units)
        self.db.return_kit(TRIAL, kit.number, units, condition="counted")
        kit.status, kit.units_returned = "returned", units

    def lose(self, r):
        reason = r.choice(["lost on holiday", "lost on holiday", ""])
        kit = self.pick(r, lambda k: k.status == "dispensed")
        if kit.status != "dispensed" or not reason:
            return self.refused(self.db.lost, TRIAL, kit.number, reason)
        self.db.lost(TRIAL, kit.number, reason)
        kit.status = "lost_by_subject"

    def set_status(self, r):
        kit = self.pick(r, lambda k: any(k.status == a for a, _ in BY_HAND))
        reachable = sorted(b for a, b in BY_HAND if a == kit.status)
        to = r.choice(reachable if reachable and r.random() < 0.6 else STATUSES)
        allowed = (kit.status, to) in BY_HAND and not (to == "available" and self.held(kit.number))
        if not allowed:
            return self.refused(self.db.kit_set_status, TRIAL, kit.number, to, "property")
        self.db.kit_set_status(TRIAL, kit.number, to, "property")
        if to == "quarantined":  # by hand: no excursion's release puts it back
            for e in self.excursions.values():
                e["quarantined"].discard(kit.number)
        kit.status = to

    def mislay(self, r):
        """A kit in stock is not on its shelf: missing, a line of the DARF log that takes it off."""
        kit = self.pick(r, lambda k: k.status in ("available", "quarantined"))
        if (kit.status, "missing") not in BY_HAND:
            return self.refused(self.db.kit_set_status, TRIAL, kit.number, "missing", "mislaid")
        self.db.kit_set_status(TRIAL, kit.number, "missing", "mislaid")
        kit.status = "missing"

    def find(self, r):
        """A kit reported missing is found again: back in stock (available, or quarantined to be
        checked), a line of the DARF log that adds it back."""
        kit = self.pick(r, lambda k: k.status == "missing")
        to = r.choice(["available", "quarantined"])
        if kit.status != "missing" or (to == "available" and self.held(kit.number)):
            return self.refused(self.db.kit_set_status, TRIAL, kit.number, to, "found")
        self.db.kit_set_status(TRIAL, kit.number, to, "found")
        kit.status = to

    def transfer(self, r):
        to = r.choice(["FRIDGE-1", "FRIDGE-2", "FRIDGE-2"])
        kit = self.pick(r, lambda k: k.status in ON_SITE and k.location != to)
        if kit.status not in ON_SITE or kit.location == to:
            return self.refused(self.db.transfer, TRIAL, [kit.number], to)
        self.db.transfer(TRIAL, [kit.number], to)
        kit.location, kit.left_its_place = to, False

    def destroy(self, r):
        """Destroy one or two kits under a witness: only kits pending destruction, witnessed by
        another user (sometimes the pharmacist herself, which is refused)."""
        rejectable = {a for a, b in BY_HAND if b == "pending_destruction"}
        kits = sorted({self.pick(r, lambda k: k.status in rejectable | {"pending_destruction"}).number
                       for _ in range(r.randint(1, 2))})
        # as at the pharmacy: a kit to destroy is rejected (sent to pending destruction) first
        for n in kits:
            if self.kits[n].status in rejectable and r.random() < 0.8:
                self.db.kit_set_status(TRIAL, n, "pending_destruction", "to destroy")
                self.kits[n].status = "pending_destruction"
        witness = "mona" if r.random() < 0.85 else "paula"
        ok = witness != "paula" and all(self.kits[n].status == "pending_destruction"
                                        for n in kits)
        args = (TRIAL, kits, "incineration", "DC-%d" % r.randint(1, 999))
        if not ok:
            return self.refused(self.db.destroy, *args, witness=witness, witness_password=PW)
        self.db.destroy(*args, witness=witness, witness_password=PW)
        for n in kits:
            self.kits[n].status, self.kits[n].location = "destroyed", None

    def ship_back(self, r):
        """Pack kits for the sponsor and dispatch them: returned, expired, damaged or pending
        destruction kits only."""
        kits = sorted({self.pick(r, lambda k: k.status in SHIPPABLE).number
                       for _ in range(r.randint(1, 2))})
        self.shipbacks += 1
        number = "RTS-%03d" % self.shipbacks
        if not all(self.kits[n].status in SHIPPABLE for n in kits):
            return self.refused(self.db.shipback, TRIAL, number, kits)
        self.db.shipback(TRIAL, number, kits)
        self.db.shipback_dispatch(TRIAL, number, "AWB %d" % self.shipbacks)
        for n in kits:
            self.kits[n].status, self.kits[n].location = "returned_to_sponsor", None

    def excursion(self):
        """FRIDGE-2's logger shows an hour above 8 C, hours from now (after every kit's move so
        far): the kits staying there are recorded (those not dispensed since they came: a kit
        brought back and moved there again stays there anew), the available ones quarantined."""
        start = (datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) +
                 datetime.timedelta(hours=2 + self.hours))
        self.hours += 4
        temps = [5.0, 9.5, 9.5, 9.5, 9.5, 9.5, 9.5, 5.0]
        lines = ["time,temperature"] + [
            "%s,%.1f" % ((start + datetime.timedelta(minutes=10 * i)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"), t) for i, t in enumerate(temps)]
        path = pathlib.Path(self.tmp.name) / ("fridge-2-%d.csv" % self.hours)
        path.write_text("\n".join(lines) + "\n")
        before = {e["excursion"] for e in self.db.excursions("FRIDGE-2")}
        result = self.db.temp_import("FRIDGE-2", path)
        assert result["excursions"] == 1
        new, = [e["excursion"] for e in self.db.excursions("FRIDGE-2")
                if e["excursion"] not in before]
        there = {k.number for k in self.kits.values()
                 if k.location == "FRIDGE-2" and not k.left_its_place}
        quarantined = {n for n in there if self.kits[n].status == "available"}
        for n in quarantined:
            self.kits[n].status = "quarantined"
        self.excursions[new] = {"kits": there, "quarantined": quarantined, "open": True}
        recorded = {r["kit_number"] for r in self.db.excursion_kits(new)}
        assert recorded == there, {n: (vars(self.kits[n]), self.db.kit_history(TRIAL, n).fetchall())
                                   for n in recorded ^ there}

    def release(self, r):
        number = r.choice(sorted(n for n, e in self.excursions.items() if e["open"]))
        e = self.excursions[number]
        self.db.excursion_decide(number, "release", "SPONSOR-%d" % number)
        e["open"] = False
        # back to available: each kit of it in quarantine that an excursion (this one or an
        # earlier) put there, none quarantined it by hand since, and no other holds
        for n in e["kits"]:
            kit = self.kits[n]
            others = any(n in x["kits"] for x in self.excursions.values() if x["open"])
            ever = any(n in x["quarantined"] for x in self.excursions.values())
            if kit.status == "quarantined" and not others and ever:
                kit.status = "available"

    # ---- what must hold after every step ----

    def check(self):
        self.kits_are_as_the_model_says()
        self.the_balance_holds_in_kits_and_units()
        self.a_returned_kit_never_goes_back_to_stock()
        self.the_library_reconciles_as_the_model_does()
        self.the_darf_lines_are_the_history_rows_that_may_be_lines()

    def kits_are_as_the_model_says(self):
        got = {r["kit_number"]: (r["status"], r["location"]) for r in self.db.kits(TRIAL)}
        want = {k.number: (k.status, k.location) for k in self.kits.values()}
        assert got == want, {n: (got.get(n), want.get(n), vars(self.kits[n]))
                             for n in set(got) | set(want) if got.get(n) != want.get(n)}

    def the_balance_holds_in_kits_and_units(self):
        counts = {}
        for r in self.db.kits(TRIAL):
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        assert sum(counts.values()) == len(self.kits)  # received = the sum over the statuses
        rows = raw_sql(self.path, "SELECT r.lost, r.units, k.units FROM kit_returns r"
                                  " JOIN kits k ON k.id = r.kit_id")
        dispensed = sum(1 for k in self.kits.values() if k.ever_dispensed) * UNITS
        returned = sum(u for lost, u, _ in rows if not lost)
        lost = sum(ku for lost, _, ku in rows if lost)
        consumed = dispensed - returned - lost
        assert all(u is None or 0 <= u <= ku for _, u, ku in rows)
        assert returned == sum(k.units_returned or 0 for k in self.kits.values())
        assert dispensed == returned + consumed + lost and consumed >= 0

    def the_library_reconciles_as_the_model_does(self):
        """ctm_reconciliation() now and as of today: balanced, no kit breaking it, each status
        counted as the model has it, the units dispensed and returned as the model's; no kit in
        the listing of breaks; the DARF log's balance ends at the kits the model has in stock
        (never handed out, in a stock status)."""
        column = {"received": "receiving", "lost_by_subject": "lost"}
        want = {}
        for k in self.kits.values():
            want[column.get(k.status, k.status)] = want.get(column.get(k.status, k.status), 0) + 1
        handed = sum(1 for k in self.kits.values() if k.ever_dispensed)
        returned = sum(k.units_returned or 0 for k in self.kits.values())
        today = datetime.datetime.now(UTC).date()
        for as_of in (None, today):
            [total] = [r for r in self.db.reconciliation(TRIAL, as_of=as_of)
                       if r["kit_type"] is None]
            assert (total["received"], total["breaks"], total["balanced"]) == (
                len(self.kits), 0, True), (as_of, total)
            assert {c: total[c] for c in want} == want, (as_of, total)
            assert (total["dispensed_units"], total["returned_units"]) == (
                handed * UNITS, returned), (as_of, total)
        assert self.db.reconciliation_breaks(TRIAL).fetchall() == []
        in_stock = sum(1 for k in self.kits.values() if not k.ever_dispensed and k.status in (
            "received", "available", "quarantined", "expired", "damaged",
            "pending_destruction", "not_dispensed"))
        lines = self.db.darf(TRIAL).fetchall()
        assert lines[-1]["balance"] == in_stock, (lines[-1], in_stock)

    def the_darf_lines_are_the_history_rows_that_may_be_lines(self):
        written = raw_sql(self.path, "SELECT id, kit_type_id, kit_id, status, at_us, by_user"
                                     " FROM darf_lines ORDER BY id")
        derived = raw_sql(self.path, DERIVED_LINES)
        assert [tuple(r) for r in written] == [tuple(r) for r in derived]

    def a_returned_kit_never_goes_back_to_stock(self):
        back = raw_sql(self.path,
                       "SELECT count(*) FROM kit_events a JOIN kit_events b"
                       " ON b.kit_id = a.kit_id AND b.id > a.id"
                       " WHERE a.status = 'returned' AND b.status IN ('available', 'quarantined')")
        assert back[0][0] == 0


# The lines of the history as the upgrade to schema version 10 derives them (schema.c,
# audit-format.md section 4.3): each row but a status inside the stock that follows another row of
# its kit other than missing or in transit.
DERIVED_LINES = (
    "SELECT w.id, k.kit_type_id, w.kit_id, w.status, w.at_us, w.by_user"
    " FROM (SELECT e.id, e.kit_id, e.status, e.at_us, e.by_user, LAG(e.status)"
    "  OVER (PARTITION BY e.kit_id ORDER BY e.at_us, e.id) AS prev FROM kit_events e) w"
    " JOIN kits k ON k.id = w.kit_id WHERE w.status NOT IN ('available', 'quarantined',"
    " 'expired', 'damaged', 'pending_destruction') OR w.prev IS NULL"
    " OR w.prev IN ('missing', 'in_transit') ORDER BY w.id")


# The operations and when each applies; every step picks one that applies, then the invariants
# are checked.
OPERATIONS = (
    ("receive", lambda m: True,
     lambda m, r: m.receive([r.choice(ARMS) for _ in range(r.randint(1, 4))])),
    ("randomize", lambda m: len(m.subjects) < 40, lambda m, r: m.randomize()),
    ("dispense", lambda m: m.subjects, lambda m, r: m.dispense(r)),
    ("return", lambda m: m.kits, lambda m, r: m.return_kit(r)),
    ("lose", lambda m: m.kits, lambda m, r: m.lose(r)),
    ("status", lambda m: m.kits, lambda m, r: m.set_status(r)),
    ("transfer", lambda m: m.kits, lambda m, r: m.transfer(r)),
    ("mislay", lambda m: m.kits, lambda m, r: m.mislay(r)),
    ("find", lambda m: any(k.status == "missing" for k in m.kits.values()),
     lambda m, r: m.find(r)),
    ("excursion", lambda m: True, lambda m, r: m.excursion()),
    ("destroy", lambda m: m.kits, lambda m, r: m.destroy(r)),
    ("ship back", lambda m: m.kits, lambda m, r: m.ship_back(r)),
    ("release", lambda m: any(e["open"] for e in m.excursions.values()),
     lambda m, r: m.release(r)),
)
STEPS = int(os.environ.get("CTM_PROPERTY_STEPS", "30"))


# Hypothesis draws the seed of each run's sequence (a falsifying example names it, so a failure
# replays with random.Random(seed)); the choices within a run are uniform, not biased towards the
# first operation as drawn values would be.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_operations_keep_the_balance(seed):
    r = random.Random(seed)
    m = Accountability()
    try:
        m.check()
        for _ in range(STEPS):
            name, applies, run = r.choice([op for op in OPERATIONS if op[1](m)])
            run(m, r)
            m.check()
    finally:
        m.teardown()
