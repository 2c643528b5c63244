"""Randomization and subjects through the ctm Python bindings: a generated list allocated to
subjects, listings as dicts and DataFrames, a sponsor's list imported from a file, minimization
replayed from the audit log by this file's own reading of docs/randomization.md, and what a
blinded investigator sees (no arm, no list, no seed, no draw), through every read the package
offers.

One module-scoped site; each test uses its own trial, so the order does not matter.
"""
import pathlib

import pytest

import ctm
from conftest import ADMIN, ADMIN_PW, SITE, ctm_init, ctm_open, new_site_path

PHARM, PHARM_PW = "pia", "pia-password-12"
INV, INV_PW = "ivy", "ivy-password-12"
ARM_A, ARM_B = "QZVERUM", "QZSHAM"  # found in no other text, so a search finds only a leak
SEED = "5eed" * 16
STRATA = "sex=M,F;age=lt65,ge65"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("rand")
    path = new_site_path(d)
    with ctm_init(path, SITE, ADMIN, ADMIN_PW) as db:
        db.user_add(PHARM, "pharmacist", PHARM_PW, unblinded=True)
        db.user_add(INV, "investigator", INV_PW)
    return path


@pytest.fixture(scope="module")
def pharm(site):
    with ctm_open(site, PHARM, PHARM_PW) as db:
        yield db


@pytest.fixture(scope="module")
def inv(site):
    with ctm_open(site, INV, INV_PW) as db:
        yield db


def test_generated_list_allocates_in_order_and_replays(pharm):
    pharm.trial_add("PY-GEN", "Generated", "Sponsor", {ARM_A: 2, ARM_B: 1}, blinded=True)
    pharm.random_generate("PY-GEN", 9, [3, 6], strata=STRATA, seed=SEED)
    scheme = pharm.random_scheme("PY-GEN")
    assert scheme["rows"] == 36 and scheme["allocated"] == 0
    assert scheme["seed"] == SEED and scheme["block_sizes"] == "3,6"
    rows = list(pharm.random_list("PY-GEN"))
    assert [r["position"] for r in rows[:9]] == list(range(1, 10))
    first_stratum = [r for r in rows if r["stratum"] == "sex=F,age=ge65"]
    pharm.subject_add("PY-GEN", "S-1", {"sex": "F", "age": "ge65"})
    pharm.subject_add("PY-GEN", "S-2", "sex=F")
    with pytest.raises(ctm.RuleError, match="age"):
        pharm.randomize("PY-GEN", "S-2")
    pharm.subject_set_strata("PY-GEN", "S-2", {"age": "ge65"})
    got = [pharm.randomize("PY-GEN", s) for s in ("S-1", "S-2")]
    assert [g["rand_number"] for g in got] == [r["number"] for r in first_stratum[:2]]
    assert [g["arm"] for g in got] == [r["arm"] for r in first_stratum[:2]]
    with pytest.raises(ctm.RuleError):
        pharm.randomize("PY-GEN", "S-1")
    df = pharm.subjects("PY-GEN").to_pandas()
    assert list(df["screening"]) == ["S-1", "S-2"]
    assert set(df["status"]) == {"randomized"}
    assert df["randomized"].notna().all()
    # the same seed again on a trial of the same arms gives the same list
    pharm.trial_add("PY-GEN2", "Generated again", "Sponsor", {ARM_A: 2, ARM_B: 1}, blinded=True)
    pharm.random_generate("PY-GEN2", 9, "3,6", strata=STRATA, seed=SEED)
    again = [(r["stratum"], r["arm"], r["block_size"]) for r in pharm.random_list("PY-GEN2")]
    assert again == [(r["stratum"], r["arm"], r["block_size"]) for r in rows]


def test_import_from_a_path_checked_whole(pharm, tmp_path):
    pharm.trial_add("PY-IMP", "Imported", "Sponsor", {ARM_A: 1, ARM_B: 1}, blinded=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("randomization_number,stratum,arm\nR1,M," + ARM_A + "\nR2,M,QZNOPE\n")
    with pytest.raises(ctm.InvalidError, match="line 3, field arm") as exc:
        pharm.random_import("PY-IMP", bad, strata="sex=M,F")
    assert "QZNOPE" not in str(exc.value)
    with pytest.raises(ctm.NotFoundError):
        pharm.random_scheme("PY-IMP")
    good = tmp_path / "good.csv"
    good.write_text("randomization_number,stratum,arm\nR1,M,%s\nR2,F,%s\nR3,M,%s\n"
                    % (ARM_A, ARM_B, ARM_B))
    pharm.random_import("PY-IMP", pathlib.Path(good), strata="sex=M,F")
    assert pharm.random_scheme("PY-IMP")["source"] == "sponsor"
    pharm.subject_add("PY-IMP", "X1", "sex=M")
    assert pharm.randomize("PY-IMP", "X1")["rand_number"] == "R1"


def test_blinded_investigator_sees_no_arm_list_or_seed(pharm, inv):
    pharm.trial_add("PY-BLIND", "Blinded", "Sponsor", {ARM_A: 1, ARM_B: 1}, blinded=True)
    start = pharm.size  # the arm codes are public (the trial's entry); allocations are not
    pharm.random_generate("PY-BLIND", 4, [2, 4], seed=SEED)
    inv.subject_add("PY-BLIND", "B-1")
    result = inv.randomize("PY-BLIND", "B-1")
    assert result["arm"] == "(blinded)" and result["rand_number"] == "100001"
    with pytest.raises(ctm.BlindingError):
        inv.random_list("PY-BLIND")
    with pytest.raises(ctm.PermissionDenied):
        inv.random_generate("PY-BLIND", 4, [2])
    seen = [repr(inv.random_scheme("PY-BLIND")), repr(inv.subject("PY-BLIND", "B-1")),
            repr(inv.subjects().fetchall()), repr(list(inv.events(start)))]
    text = "\n".join(seen)
    for secret in (ARM_A, ARM_B, SEED):
        assert secret not in text
    # the unblinded pharmacist's view holds them: the search above could find them
    assert pharm.subject("PY-BLIND", "B-1")["arm"] in (ARM_A, ARM_B)
    assert SEED in repr(list(pharm.events(start)))


def minimize_range(ratios, weights, counts, levels, draw, p):
    """The arm docs/randomization.md's rule gives (range method), written from the document:
    counts[arm][factor][level] of the subjects before, levels[factor] of the new one."""
    arms = range(len(ratios))
    scores = []
    for a in arms:
        g = 0.0
        for f, w in enumerate(weights):
            y = [(counts[b][f][levels[f]] + (b == a)) / ratios[b] for b in arms]
            g += w * (max(y) - min(y))
        scores.append(g)
    low = min(scores)
    best = [a for a in arms if scores[a] <= low + 1e-9 * (1 + low)]
    if len(best) == len(ratios):
        probs = [r / sum(ratios) for r in ratios]
    else:
        rb = sum(ratios[a] for a in best)
        ro = sum(ratios[a] for a in arms if a not in best)
        probs = [p * ratios[a] / rb if a in best else (1 - p) * ratios[a] / ro for a in arms]
    u, total = draw / 2**32, 0.0
    for a in arms:
        total += probs[a]
        if total > u:
            return a
    return max(a for a in arms if probs[a] > 0)


def test_minimization_replays_from_the_events(pharm, inv):
    pharm.trial_add("PY-MIN", "Minimized", "Sponsor", {ARM_A: 1, ARM_B: 1}, blinded=True)
    spec = "site=SE1,SE2;sex=M,F"
    with pytest.raises(ctm.InvalidError, match="p"):
        pharm.random_minimization("PY-MIN", spec, "site:1", p=0)
    with pytest.raises(ctm.PermissionDenied):
        inv.random_minimization("PY-MIN", spec, "site:1")
    start = pharm.size
    pharm.random_minimization("PY-MIN", spec, {"site": 1, "sex": 0.5}, p=0.7)
    scheme = pharm.random_scheme("PY-MIN")
    assert (scheme["method"], scheme["weights"], scheme["imbalance"], scheme["p"]) == \
        ("minimization", "site:1,sex:0.5", "range", 0.7)
    levels = [{"site": s, "sex": x} for s, x in
              [("SE1", "F"), ("SE1", "F"), ("SE2", "F"), ("SE1", "M"), ("SE1", "F"),
               ("SE2", "M"), ("SE2", "F"), ("SE1", "F")]]
    for i, lv in enumerate(levels, 1):
        inv.subject_add("PY-MIN", "N-%d" % i, lv)
        got = inv.randomize("PY-MIN", "N-%d" % i)
        assert got["rand_number"] == str(i) and got["arm"] == "(blinded)"
    inv.subject_withdraw("PY-MIN", "N-2", "moved away")  # still counts for later subjects
    inv.subject_add("PY-MIN", "N-9", levels[0])
    inv.randomize("PY-MIN", "N-9")
    arms, names = (ARM_A, ARM_B), {"site": ["SE1", "SE2"], "sex": ["M", "F"]}
    counts = [[[0, 0], [0, 0]] for _ in arms]
    replayed = 0
    for e in pharm.events(start, action="subject.randomize"):
        stratum = dict(kv.split("=") for kv in e["params"]["stratum"].split(","))
        lv = [names["site"].index(stratum["site"]), names["sex"].index(stratum["sex"])]
        row = next(c for c in e["changes"] if c["table"] == "subjects" and "draw" in c["columns"])
        draw, arm = row["columns"]["draw"][1], row["columns"]["arm"][1]
        a = minimize_range([1, 1], [1.0, 0.5], counts, lv, draw, 0.7)
        assert arms[a] == arm, "subject %d" % (replayed + 1)
        for f in range(2):
            counts[a][f][lv[f]] += 1
        replayed += 1
    assert replayed == 9
    # the investigator sees the scheme's method but neither weights, p, draws nor arms
    seen = repr(inv.random_scheme("PY-MIN")) + repr(list(inv.events(start)))
    assert "minimization" in seen and "site:1,sex:0.5" not in seen and "0.7" not in seen
    for e in inv.events(start, action="subject.randomize"):
        for c in e["changes"]:
            if "draw" in c["columns"]:
                assert c["columns"]["draw"] == ["(blinded)", "(blinded)"]
    for secret in (ARM_A, ARM_B):
        assert secret not in seen
