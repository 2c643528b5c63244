"""The blinding attack on the audit ledger, mounted as a blinded user would mount it.

A blinded technician may read the audit log (with arms shown as "(blinded)"), its leaf hashes,
inclusion proofs, the newest checkpoint and the log's size.  Everything else in an entry is
either shown or public (the arm codes of the trial are in the trial.add entry), so the attacker
rebuilds the bytes of the shipment.receive entry for every assignment of arms to its kits, with an
encoder of their own written from docs/audit-format.md (not libctm's), and compares each
candidate's hash with every hash, proof root and checkpoint root offered.

- tests/data/legacy-v2 is a site written before entries were salted (entry version 1).  What the
  library offered every reader then (the leaf hashes and proofs that only an unblinded user gets
  now) gives the true arms away: the test proves that it detects a leak.
- On a site written by this library, and on a copy of the legacy site after its migration, the
  blinded user gets no salt, no raw entry and no entry size, and none of the 256 assignments
  matches anything.
"""
import base64
import datetime
import hashlib
import itertools
import json
import os
import shutil

import pytest

import backends
import ctm
from conftest import ctm_init, ctm_open, new_site_path, raw_sql

HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY = os.path.join(HERE, "..", "data", "legacy-v2")
LEGACY_VKEY = "libctm/legacy-site+487693ac+AbrRCyTSuZbfRS2GtfyEMUFq4/IuNO732M56V0KzSS0f"
TECH, TECH_PW = "tom", "tom-password-12"
PHARM, PHARM_PW = "petra", "petra-password-1"
ADMIN, ADMIN_PW = "alice", "alice-password-1"
TRUE_ARMS = ["ACTIVE", "PLACEBO", "PLACEBO", "ACTIVE", "PLACEBO", "ACTIVE", "ACTIVE", "PLACEBO"]
MANIFEST = "kit_number,kit_type,lot,expiry,arm\n" + "".join(
    "K%03d,DX10,L1,2028-06-30,%s\n" % (i + 1, arm) for i, arm in enumerate(TRUE_ARMS))
LOG_COLUMNS = {"seq", "time", "user", "action", "reason", "params", "changes", "esig_user",
               "esig_name", "esig_meaning", "esig_time", "leaf_hash", "changes_summary"}


# ---- the attacker's encoder, from docs/audit-format.md sections 2 and 3 ---------------------

def u32(n):
    return n.to_bytes(4, "big")


def text(s):
    b = s.encode("utf-8")
    return u32(len(b)) + b


def enc_value(v):
    """A value as the log's JSON shows it, in its canonical encoding (section 2.1)."""
    if v is None:
        return b"\x01"
    if isinstance(v, bool):
        raise ValueError("no booleans in the ledger")
    if isinstance(v, int):
        n = 1
        while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
            n += 1
        return b"\x02" + bytes([n]) + v.to_bytes(n, "big", signed=True)
    if isinstance(v, float):
        return b"\x03" + __import__("struct").pack(">d", v)
    if v.startswith("sha256:") and len(v) == 71:
        return b"\x06" + bytes.fromhex(v[7:])
    if v.startswith("hex:"):
        b = bytes.fromhex(v[4:])
        return b"\x05" + u32(len(b)) + b
    return b"\x04" + text(v)


def time_us(t):
    if isinstance(t, str):
        t = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def table_columns(events):
    """Each table's columns (name, is_pk) in table order, learnt from a whole row of it in the
    log (an insert or delete lists every column; key columns come first in every table)."""
    cols = {}
    for ev in events:
        for c in ev["changes"]:
            if c["op"] != "update" and c["table"] not in cols:
                cols[c["table"]] = ([(k, 1) for k in c["key"]] +
                                    [(k, 0) for k in c["columns"]])
    return cols


def enc_entry(ev, cols, fill, layout):
    """The bytes of a logged entry without an e-signature.  fill maps each "(blinded)" slot, in
    order, to a guess.  layout: 1 (no salt) or 2 with the 32-byte salt the attacker assumes."""
    version, salt = layout
    out = bytes([version]) + ev["seq"].to_bytes(8, "big") + \
        time_us(ev["time"]).to_bytes(8, "big", signed=True)
    if version == 2:
        out += salt
    params = ev["params"]
    out += text(ev["user"]) + text(ev["action"]) + text(ev["reason"]) + u32(len(params))
    for k, v in params.items():
        out += text(k) + text(v)
    groups = []
    for c in ev["changes"]:
        if groups and groups[-1][0] == c["table"]:
            groups[-1][1].append(c)
        else:
            groups.append((c["table"], [c]))
    out += u32(len(groups))
    guesses = iter(fill)

    def val(v):
        return enc_value(next(guesses) if v == "(blinded)" else v)

    for table, rows in groups:
        out += text(table) + u32(len(cols[table]))
        for name, is_pk in cols[table]:
            out += text(name) + bytes([is_pk])
        out += u32(len(rows))
        for c in rows:
            out += {"insert": b"I", "update": b"U", "delete": b"D"}[c["op"]]
            for name, is_pk in cols[table]:
                if is_pk:
                    k = val(c["key"][name])
                    out += k + k if c["op"] == "update" else k
                elif name not in c["columns"]:
                    out += b"\x00\x00"  # an update's unchanged column
                else:
                    old, new = c["columns"][name]
                    if c["op"] != "insert":
                        out += val(old)
                    if c["op"] != "delete":
                        out += val(new)
    return out + b"\x00"


def leaf(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def proof_root(seq, size, h, path):
    """RFC 9162 2.1.3.2, as audit-format.md section 9 gives it."""
    fn, sn, r = seq, size - 1, h
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# ---- what a blinded user is offered, and the attack on it -----------------------------------

def observe(db):
    """Everything the API offers the logged-in user about the ledger."""
    events = list(db.events())
    proofs = {}
    for ev in events:
        try:
            proofs[ev["seq"]] = db.prove(ev["seq"])
        except ctm.BlindingError:
            pass
    note = db.checkpoint()
    lines = note.split("\n")
    return {"events": events, "proofs": proofs, "size": db.size, "checkpoint": note,
            "checkpoint_size": int(lines[1]), "checkpoint_root": base64.b64decode(lines[2])}


def parse_proof(text_):
    fields = [line.split(" ", 1) for line in text_.strip("\n").split("\n")]
    get = {k: v for k, v in fields if k != "proof"}
    return (int(get["seq"]), int(get["size"]), bytes.fromhex(get["leaf"]),
            bytes.fromhex(get["root"]), [bytes.fromhex(v) for k, v in fields if k == "proof"])


def blinded_target(events, action=None):
    """The first entry (of `action`, when given) holding blinded values, its number of slots,
    and the arm codes (public: the trial.add entry lists them in the arms table)."""
    codes = sorted({c["columns"]["code"][1] for ev in events for c in ev["changes"]
                    if c["table"] == "arms" and c["op"] == "insert"})
    for ev in events:
        if action is not None and ev["action"] != action:
            continue
        slots = sum((c["op"] != "insert" and old == "(blinded)") +
                    (c["op"] != "delete" and new == "(blinded)")
                    for c in ev["changes"] for old, new in c["columns"].values())
        if slots:
            return ev, slots, codes
    raise AssertionError("no blinded value in the log")


def attack(obs, layouts, action=None, alphabet_extra=()):
    """Every (assignment, what it matched) for the blinded entry, trying each layout (entry
    version, assumed salt).  A slot is guessed among the arm codes and alphabet_extra (None for
    an arm column's old value before it was set)."""
    events = obs["events"]
    cols = table_columns(events)
    target, slots, codes = blinded_target(events, action)
    codes = list(codes) + list(alphabet_extra)
    assert target["esig_user"] is None  # receipt is not e-signed: every other byte is shown
    known = {}
    for ev in events:
        if ev["leaf_hash"] is not None:
            known[ev["seq"]] = bytes.fromhex(ev["leaf_hash"])
        elif ev["esig_user"] is None and ev["seq"] != target["seq"]:
            known[ev["seq"]] = {lay: leaf(enc_entry(ev, cols, [], lay)) for lay in layouts}
    proofs = [parse_proof(p) for p in obs["proofs"].values()]
    matches = []
    assert len(codes) ** slots <= 256
    for guess in itertools.product(codes, repeat=slots):
        for lay in layouts:
            h = leaf(enc_entry(target, cols, guess, lay))
            if target["leaf_hash"] is not None and h == bytes.fromhex(target["leaf_hash"]):
                matches.append((list(guess), "leaf_hash"))
            for seq, size, _, root, path in proofs:
                if seq == target["seq"] and proof_root(seq, size, h, path) == root:
                    matches.append((list(guess), "proof"))
            leaves = []
            for seq in range(obs["checkpoint_size"]):
                k = h if seq == target["seq"] else known.get(seq)
                leaves.append(k[lay] if isinstance(k, dict) else k)
            if None not in leaves and mth(leaves) == obs["checkpoint_root"]:
                matches.append((list(guess), "checkpoint"))
    return matches


def ledger_rows(path):
    """As the holder of the database (not the attacker): every (seq, entry) of the ledger."""
    return [(seq, bytes(entry)) for seq, entry in raw_sql(path, "SELECT seq, entry FROM ledger")]


def stored_salts(path):
    """As the holder of the database (not the attacker): every version-2 entry's salt."""
    return {seq: e[17:49] for seq, e in ledger_rows(path) if e[:1] == b"\x02"}


def assert_nothing_secret_offered(obs, path):
    """No salt, no raw entry, no entry size anywhere in what the blinded user was given."""
    for ev in obs["events"]:
        assert LOG_COLUMNS <= set(ev)
        assert not {"entry", "salt", "size", "length", "bytes"} & set(ev)
    seen = json.dumps([obs["events"], obs["proofs"], obs["checkpoint"], obs["size"]],
                      default=str).lower()
    salts = stored_salts(path)
    assert salts
    for salt in salts.values():
        for form in (salt.hex(), base64.b64encode(salt).decode().lower(), salt[:8].hex()):
            assert form not in seen
    for seq, entry in ledger_rows(path):
        assert entry.hex() not in seen


LAYOUTS_GUESSED = [(1, None), (2, bytes(32))]


def copy_legacy(tmp_path):
    for name in ("site.db", "site.db.key"):
        shutil.copyfile(os.path.join(LEGACY, name), tmp_path / name)
    os.chmod(tmp_path / "site.db.key", 0o600)
    return str(tmp_path / "site.db")


# ---- the legacy site: the attack works on what the library used to offer --------------------

@backends.sqlite_only  # the legacy site is an SQLite file
def test_attack_finds_the_arms_of_unsalted_entries(tmp_path):
    path = copy_legacy(tmp_path)
    with ctm.open(path, readonly=True, user=TECH, password=TECH_PW) as db:
        blinded = observe(db)
        assert db.verify(vkey=LEGACY_VKEY)["entries"] == 16
    # Today a blinded user gets none of the unsalted entries' hashes and no proof ...
    assert all(ev["leaf_hash"] is None for ev in blinded["events"])
    assert blinded["proofs"] == {}
    assert attack(blinded, LAYOUTS_GUESSED) == []
    # ... which before salted entries every reader got (an unblinded user still does): with
    # them, the attack finds the true arms, and only them, through each of the three channels.
    with ctm.open(path, readonly=True, user=PHARM, password=PHARM_PW) as db:
        unblinded = observe(db)
    exposed = dict(blinded)
    exposed["proofs"] = unblinded["proofs"]
    exposed["events"] = [dict(ev, leaf_hash=u["leaf_hash"])
                         for ev, u in zip(blinded["events"], unblinded["events"])]
    found = attack(exposed, LAYOUTS_GUESSED)
    assert sorted(found) == sorted([(TRUE_ARMS, "checkpoint"), (TRUE_ARMS, "leaf_hash"),
                                    (TRUE_ARMS, "proof")])


# ---- salted entries: nothing matches --------------------------------------------------------

def build_new_site(path):
    with ctm_init(path, "New Site", ADMIN, ADMIN_PW, printed_name="Alice Admin") as db:
        db.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True, printed_name="Petra Lind")
        db.user_add(TECH, "technician", TECH_PW, printed_name="Tom Tech")
        db.login(PHARM, PHARM_PW)
        db.trial_add("BLIND-1", "Drug X vs placebo", "Nordic Cardio AB", "ACTIVE:1,PLACEBO:1",
                     blinded=True)
        db.kittype_add("BLIND-1", "DX10", "Drug X 10 mg or placebo", 30, (2, 8))
        db.location_add("FRIDGE-1", (2, 8), kind="fridge")
        db.receive("BLIND-1", "SH-1", MANIFEST, "FRIDGE-1", date_received="2026-11-30")
        for i in range(8):
            db.scan("SH-1", "K%03d" % (i + 1))
        db.confirm("SH-1")


def test_attack_fails_on_a_new_site(tmp_path):
    path = new_site_path(tmp_path, "new.db")
    build_new_site(path)
    with ctm_open(path, user=TECH, password=TECH_PW) as db:
        obs = observe(db)
    assert all(ev["leaf_hash"] is not None for ev in obs["events"])
    assert len(obs["proofs"]) == len(obs["events"])  # a salted log keeps its proofs open
    assert_nothing_secret_offered(obs, path)
    assert attack(obs, LAYOUTS_GUESSED) == []
    # The salt is all that stands between the attacker and the arms: the database holder, who
    # knows it, finds them with the very same encoder (so the encoder above is right).
    target, _, _ = blinded_target(obs["events"])
    salt = stored_salts(path)[target["seq"]]
    found = attack(obs, [(2, salt)])
    assert (TRUE_ARMS, "leaf_hash") in found and (TRUE_ARMS, "proof") in found
    assert {tuple(g) for g, _ in found} == {tuple(TRUE_ARMS)}


@backends.sqlite_only  # the legacy site is an SQLite file
def test_attack_fails_on_a_migrated_legacy_site(tmp_path):
    path = copy_legacy(tmp_path)
    with ctm.open(path) as db:  # opening for writing migrates
        assert db.size == 17
    with ctm.open(path, user=TECH, password=TECH_PW) as db:
        obs = observe(db)
        with pytest.raises(ctm.BlindingError):
            db.prove(16)
    assert [ev["leaf_hash"] is None for ev in obs["events"]] == [True] * 16 + [False]
    assert obs["events"][16]["action"] == "ledger.upgrade"
    assert obs["proofs"] == {}
    assert obs["checkpoint_size"] == 17
    assert_nothing_secret_offered(obs, path)
    assert attack(obs, LAYOUTS_GUESSED) == []
    # No login at all: no proof either (the CLI's `ctm audit prove` reads without one).
    with ctm.open(path, readonly=True) as db:
        with pytest.raises(ctm.BlindingError):
            db.prove(6)


def test_attack_fails_on_a_randomization(tmp_path):
    """The entry that randomizes a subject holds the subject's arm (old NULL, new the arm), hidden
    from the blinded technician: neither guess of the arm matches a hash, a proof or the
    checkpoint, and the holder of the salt finds the true one with the same encoder.  The
    dispensing that follows writes no arm."""
    path = new_site_path(tmp_path, "rand.db")
    build_new_site(path)
    with ctm_open(path, user=PHARM, password=PHARM_PW) as db:
        db.random_generate("BLIND-1", 4, [2])
        db.subject_add("BLIND-1", "S-1")
        db.randomize("BLIND-1", "S-1")
        truth = db.subject("BLIND-1", "S-1")["arm"]
        db.visit_add("BLIND-1", "V1", 0, "-0..+3", "DX10:1")
        kit = db.dispense_assign("BLIND-1", "S-1", "V1")[0]["kit_number"]
        db.dispense_confirm("BLIND-1", "S-1", [kit])
    with ctm_open(path, user=TECH, password=TECH_PW) as db:
        obs = observe(db)
    assert_nothing_secret_offered(obs, path)
    # dispensing writes no arm at all: its entries hold nothing hidden to guess
    dispensing = [ev for ev in obs["events"] if ev["action"].startswith("dispense.")]
    assert len(dispensing) == 2 and "(blinded)" not in repr(dispensing)
    assert attack(obs, LAYOUTS_GUESSED, "subject.randomize", [None]) == []
    target, slots, _ = blinded_target(obs["events"], "subject.randomize")
    assert slots == 2  # subjects.arm, before (NULL) and after
    salt = stored_salts(path)[target["seq"]]
    found = attack(obs, [(2, salt)], "subject.randomize", [None])
    assert {tuple(g) for g, _ in found} == {(None, truth)}
