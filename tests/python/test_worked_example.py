"""The worked example of docs/audit-format.md (section 10) agrees with the format it illustrates:
its entry dump decodes to the leaf hash it states, its checkpoint notes verify with the verifier
key it shows and carry the lines the format requires, its roots follow from its leaf hashes, and
the byte count it gives for a signed body is that body's.  A format change that leaves the example
stale (a new checkpoint line, a new entry field) fails here until the example is regenerated
(scripts/audit_example.py prints its values from a real database)."""
import base64
import importlib.util
import pathlib
import re

import pytest

pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "audit-format.md"
SCRIPT = ROOT / "examples" / "python" / "verify_ledger.py"


@pytest.fixture(scope="module")
def vl():
    spec = importlib.util.spec_from_file_location("verify_ledger", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def section():
    text = DOC.read_text("utf-8")
    start = text.index("## 10. Worked example")
    return text[start:text.index("\n## ", start + 1)]


def blocks(section):
    return re.findall(r"```[a-z]*\n(.*?)```", section, re.S)


def key_of(vl, section):
    vkey = re.search(r"`([^`\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+)`", section).group(1)
    return vl.parse_vkey(vkey)


def test_checkpoints_verify_and_chain(vl, section):
    name, pub = key_of(vl, section)
    notes = [b for b in blocks(section) if b.startswith(name + "\n")]
    assert len(notes) >= 2
    hexes = {bytes.fromhex(h) for h in re.findall(r"\b[0-9a-f]{64}\b", section)}
    for note in notes:
        size, root, previous = vl.open_checkpoint(note, name, pub)
        # each command of the example is one transaction: one checkpoint per entry
        assert previous == size - 1, note
        assert root in hexes, "the root of size %d is not among the example's hashes" % size
        if size > 1:
            assert any(vl.H(b"\x01", a, b) == root for a in hexes for b in hexes), size


def test_signed_byte_count_and_key_id(vl, section):
    name, pub = key_of(vl, section)
    m = re.search(r"decodes to `([0-9a-f ]+)` \(the key id\).*?over the (\d+) bytes", section, re.S)
    assert bytes.fromhex(m.group(1).replace(" ", "")) == vl.keyid(name, pub)
    size2 = next(b for b in blocks(section) if b.startswith(name + "\n2\n"))
    assert len(size2[:size2.rindex("\n\n") + 1].encode()) == int(m.group(2))


def test_entry_dump_is_the_entry_it_hashes(vl, section):
    m = re.search(r"Entry seq 1 .*?, (\d+) bytes.*?```\n(.*?)```\n\nIts leaf hash .*?`([0-9a-f]{64})`",
                  section, re.S)
    entry = bytearray()
    for line in m.group(2).splitlines():
        offset, _, rest = line.partition("  ")
        assert int(offset, 16) == len(entry), line
        for token in rest.split():
            if not re.fullmatch(r"[0-9a-f]{2}", token):
                break
            entry.append(int(token, 16))
    assert len(entry) == int(m.group(1))
    decoded = vl.decode_entry(bytes(entry))
    assert decoded["seq"] == 1 and decoded["action"] == "audit.note"
    assert vl.H(b"\x00", bytes(entry)).hex() == m.group(3)
