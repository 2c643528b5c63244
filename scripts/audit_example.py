#!/usr/bin/python3
"""Print the values of docs/audit-format.md section 10 (worked example) from a real database.

    python3 scripts/audit_example.py DB

DB is made exactly as that section's commands say.  Prints the verifier key, every entry field by
field with its offset (as examples/python/verify_ledger.py decodes it), each entry's leaf hash and
the root after it, each checkpoint note with the number of bytes its signature covers, the key id
and signature inside its signature line, and the stored frontier.  Regenerate the section from
this output whenever the entry, checkpoint or note format changes, so that every byte shown there
comes from one database.
"""
import base64
import datetime
import pathlib
import sqlite3
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples" / "python"))
import verify_ledger as vl  # noqa: E402  (the independent decoder, so the dump follows the doc)


class TracingReader(vl.Reader):
    """Records every field the decoder reads: (offset, bytes)."""

    def __init__(self, data):
        super().__init__(data)
        self.fields = []

    def take(self, n):
        start = self.off
        raw = super().take(n)
        self.fields.append((start, raw))
        return raw


def show(raw):
    text = raw.hex(" ")
    if raw and all(0x20 <= c < 0x7f for c in raw) and len(raw) > 1:
        text += '  "%s"' % raw.decode()
    return text


def utc(us):
    t = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1000000)


def main(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    origin, pub = db.execute("SELECT origin, public_key FROM site").fetchone()
    vkey = "%s+%s+%s" % (origin, vl.keyid(origin, pub).hex(),
                         base64.b64encode(b"\x01" + pub).decode())
    print("verifier key", vkey)
    print("site public key", pub.hex())
    frontier = vl.Frontier()
    for seq, entry, note, stored in db.execute(
            "SELECT seq, entry, checkpoint, frontier FROM ledger ORDER BY seq"):
        readers = []
        plain, vl.Reader = vl.Reader, lambda data: readers.append(TracingReader(data)) or readers[-1]
        try:
            decoded = vl.decode_entry(entry)
        finally:
            vl.Reader = plain
        print("\n=== seq %d: %s, %d bytes, entry version %d, time %d us = %s"
              % (seq, decoded["action"], len(entry), decoded["version"], decoded["time"],
                 utc(decoded["time"])))
        for off, raw in (f for f in readers[0].fields if f[1]):
            print("%04x  %s" % (off, show(raw)))
        leaf = vl.H(b"\x00", entry)
        frontier.append(leaf)
        print("leaf hash", leaf.hex())
        print("root of size %d %s = %s" % (frontier.size, frontier.root().hex(),
                                           base64.b64encode(frontier.root()).decode()))
        if note is not None:
            body = note[:note.rindex("\n\n") + 1]
            blob = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
            print("checkpoint (signature over %d bytes of body; key id %s; signature %s):"
                  % (len(body.encode()), blob[:4].hex(), blob[4:].hex(" ")))
            print(note, end="")
        if stored is not None:
            print("frontier (%d bytes) %s" % (len(stored), stored.hex(" ")))
    n, checked, esigs, rows, root, _ = vl.verify(path, vkey)
    print("\nverify_ledger.py: %d entries, %d checkpoints, %d e-signatures, %d rows; root %s"
          % (n, checked, esigs, rows, root))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: audit_example.py DB")
    main(sys.argv[1])
