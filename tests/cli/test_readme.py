"""README.md's "Using it" section, run as written.

The commands, the manifest and the Python snippet are read from README.md itself, so the test
breaks when the README and the program part ways.  The commands run as one bash script on a
pseudo-terminal, as a person would type them: the test answers each password prompt with the
acting user's password and, at `ctm receive scan`, types the kit numbers of the manifest and
Ctrl-D.  Only `ctm` (first in $PATH) and the Python package come from the build.
"""
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import backends

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("CTM_CLI") or str(ROOT / "build" / "examples" / "cli" / "ctm")
PASSWORDS = {"astrid": "astrid-long-secret-1", "petra": "petra-long-secret-2"}
TRACE = "+README+ "  # bash's PS4: marks each command as it starts


def using_it():
    """The section's indented blocks (commands, manifest) and its Python snippet."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Using it\n(.*?)^## ", text, re.M | re.S)
    assert section, "README.md has no 'Using it' section"
    body = section.group(1)
    blocks, current = [], None
    for line in body.split("\n"):
        if line.startswith("    "):
            current = current if current is not None else []
            current.append(line[4:])
        elif line.strip() == "" and current is not None:
            current.append("")
        else:
            if current is not None:
                blocks.append("\n".join(current).strip("\n"))
            current = None
    if current is not None:
        blocks.append("\n".join(current).strip("\n"))
    python = re.search(r"^```python\n(.*?)^```", body, re.M | re.S)
    commands = [b for b in blocks if b.lstrip().startswith("ctm ")]
    manifests = [b for b in blocks if b.startswith("kit_number,")]
    assert len(commands) == 1 and len(manifests) == 1 and python, "README layout changed"
    return commands[0], manifests[0], python.group(1)


class Terminal:
    """A bash script on a pseudo-terminal, its prompts answered as a person would."""

    def __init__(self, script, cwd, env, scans):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(["bash", "-e", script], cwd=cwd, env=env, stdin=slave,
                                     stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.scans = scans
        self.out = ""
        self.user = None
        self.repeat = None
        self.command = ""

    def send(self, text):
        os.write(self.master, text.encode())

    def run(self, timeout=180):
        deadline = time.monotonic() + timeout
        pending = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            chunk = ""
            if ready:
                try:
                    chunk = os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # EIO: every process holding the terminal has gone
                    chunk = ""
            if chunk:
                self.out += chunk
                pending = self.answer(pending + chunk)
            elif self.proc.poll() is not None:
                return self.proc.returncode
            elif ready:
                time.sleep(0.1)
        self.proc.kill()
        pytest.fail("README commands still running after %d s:\n%s" % (timeout, self.out))

    def answer(self, pending):
        """Follow the trace, answer a password prompt; returns what is left unread."""
        lines = pending.split("\n")
        for line in lines[:-1]:
            line = line.rstrip("\r")
            if line.startswith(TRACE):
                self.command = line[len(TRACE):]
                who = re.search(r"\bCTM_USER=(\S+)", self.command)
                admin = re.search(r"--admin (\S+)", self.command)
                if who:
                    self.user = who.group(1)
                elif admin and self.user is None:
                    self.user = admin.group(1)
        last = lines[-1]
        prompt = re.search(r"[Pp]assword[^\n]*: ?$", last)
        if not prompt:
            return last
        named = re.search(r"(?:[Pp]assword for|New password for) (\S+?):", last)
        who = named.group(1) if named else self.user
        if "Repeat" in last:
            who = self.repeat
        assert who in PASSWORDS, "prompt %r: whose password?" % last
        if "New password" in last:  # also "Signing: site initialised. New password for ..."
            self.repeat = who
        self.send(PASSWORDS[who] + "\n")
        if " receive scan " in " %s " % self.command and "New password" not in last and "Repeat" not in last:
            self.send("".join(k + "\n" for k in self.scans) + "\x04")
        return ""


@pytest.mark.skipif(backends.POSTGRES, reason="the README's commands make an SQLite site")
def test_readme_using_it_runs_as_written(tmp_path):
    commands, manifest, python = using_it()
    manifest_name = re.search(r"--manifest (\S+)", commands)
    assert manifest_name, "README: the receive command names no manifest"
    (tmp_path / manifest_name.group(1)).write_text(manifest + "\n", encoding="utf-8")
    kits = [line.split(",")[0] for line in manifest.splitlines()[1:]]
    assert kits

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ctm").symlink_to(CLI)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTM_")}
    env["PATH"] = "%s:%s" % (bindir, env.get("PATH", "/usr/bin:/bin"))
    script = tmp_path / "using-it.sh"
    # PS4 is set in the script: bash ignores it in the environment when run as root.
    script.write_text("PS4=%s\nset -x\n%s\n" % (shlex.quote(TRACE), commands), encoding="utf-8")

    term = Terminal(str(script), tmp_path, env, kits)
    rc = term.run()
    out = term.out.replace("\r\n", "\n")
    for secret in PASSWORDS.values():
        assert secret not in out, "a password was echoed"
    assert rc == 0, "README commands failed (exit %s):\n%s" % (rc, out)

    # What the section promises: the pharmacist received every kit, and the log verifies.
    available = out.split("--status available", 1)[1]
    for kit in kits:
        assert kit in available, "kit %s not listed as available:\n%s" % (kit, out)
    vkey = (tmp_path / "site.vkey").read_text().strip()
    assert vkey.count("+") >= 2
    assert re.search(r"^OK: \d+ entries", out.rsplit("audit verify", 1)[1], re.M), out

    # The Python snippet, with the pharmacist's password as `secret`.
    snippet = "secret = %r\n%s" % (PASSWORDS["petra"], python)
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["0", "site.init", "astrid"]
    assert any(line.split()[1:] == ["shipment.confirm", "petra"] for line in lines[:-1])
    assert "'failed_seq': -1" in lines[-1]


def test_readme_commands_are_quoted_as_a_shell_reads_them():
    """Every command line of the section parses as shell words (no stray quotes)."""
    commands, _, _ = using_it()
    for line in commands.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        assert not words or words[0] in ("ctm", "export"), line
