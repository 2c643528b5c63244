#!/usr/bin/env python3
"""The documents and the independent verifier agree with libctm's action registry.

The registry (libctm/src/ledger/actions.c) is printed by print_actions; this script compares it with

- docs/audit-format.md 4.3: the tables of actions (every action, and its e-signature column),
- docs/audit-format.md 4.4: the signing policy's lists,
- examples/python/verify_ledger.py: SIGNED_ACTIONS and needs_esig (read, never imported: the
  verifier stays independent of libctm),
- docs/c-api.md: the e-signature table (call | action | meaning), and every table with an
  "audit action" column (its actions, and its "who" column where there is one),
- docs/cli.md: the table of actions (every action, and its e-signature column),
- docs/python.md: the action names of an audit entry's `action` key.

Prints every disagreement with the file it is in; exits 1 if any.

    check_actions.py PRINT_ACTIONS SOURCE_ROOT
"""
import ast
import os
import re
import subprocess
import sys

NAME = re.compile(r"`([a-z_]+\.[a-z_]+)`")
ROLE_WORDS = {"administrators": "admin", "pharmacists": "pharmacist", "technicians": "technician",
              "investigators": "investigator", "monitors": "monitor"}


def registry(program):
    out = subprocess.run([program], check=True, capture_output=True, text=True).stdout
    actions = {}
    for line in out.splitlines():
        name, actor, roles, esig, meaning, param = line.split("\t")
        actions[name] = {"actor": actor, "roles": set() if roles == "-" else set(roles.split(",")),
                         "esig": esig, "meaning": None if meaning == "-" else meaning,
                         "param": None if param == "-" else param}
    return actions


def section(text, start, end):
    i = text.index(start)
    return text[i:text.index(end, i)]


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(text):
    """Each markdown table of text as (header cells, [row cells])."""
    found, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-| ]+\|$", lines[i + 1]):
            head, rows, i = cells(lines[i]), [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            found.append((head, rows))
        else:
            i += 1
    return found


def by_policy(reg, *policies):
    return {n for n, a in reg.items() if a["esig"] in policies}


def check_audit_format(reg, text, problems):
    where = "docs/audit-format.md"
    listed = []
    for head, rows in tables(section(text, "### 4.3", "### 4.4")):
        if head[0] != "action" or not head[-1].startswith("e-signed"):
            continue
        for row in rows:
            m = re.fullmatch(r"`([^`]+)`", row[0])
            if m is None:
                problems.append(f"{where} 4.3: a row whose action is not one `name`: {row[0]}")
                continue
            name, signed = m.group(1), row[-1]
            listed.append(name)
            a = reg.get(name)
            if a is None:
                continue
            if a["esig"] == "never" and signed != "no":
                problems.append(f"{where} 4.3: {name} is never e-signed, the table says: {signed}")
            if a["esig"] == "always" and not (signed.startswith("yes")
                                              and f"`{a['meaning']}`" in signed):
                problems.append(f"{where} 4.3: {name} is always e-signed, `{a['meaning']}`; "
                                f"the table says: {signed}")
            if a["esig"] == "param" and not (f"`{a['meaning']}`" in signed
                                             and f"`{a['param']}`" in " ".join(row)):
                problems.append(f"{where} 4.3: {name} is e-signed, `{a['meaning']}`, when "
                                f"`{a['param']}` is yes; the table says: {signed}")
            if a["esig"] == "caller" and not signed.startswith("only if a meaning is given"):
                problems.append(f"{where} 4.3: {name} is e-signed only with the caller's meaning; "
                                f"the table says: {signed}")
    compare_names(reg.keys(), listed, f"{where} 4.3", problems)

    policy = section(text, "### 4.4", "\n## 5.")
    bullets = re.findall(r"^- (every entry whose `action` is .*?)(?=^- |^\n)", policy, re.M | re.S)
    always = [b for b in bullets if "first parameter" not in b]
    param = [b for b in bullets if "first parameter" in b]
    compare_set(by_policy(reg, "always"), set(NAME.findall(" ".join(always))),
                f"{where} 4.4, the actions always e-signed", problems)
    compare_set(by_policy(reg, "param"), set(NAME.findall(" ".join(param))),
                f"{where} 4.4, the actions e-signed by a parameter", problems)
    for name in by_policy(reg, "param"):
        if not any(f"`{reg[name]['param']}` has the value `yes`" in b for b in param):
            problems.append(f"{where} 4.4: no rule \"`{reg[name]['param']}` has the value `yes`\" "
                            f"for {name}")
    m = re.search(r"may be e-signed or not \(([^)]*)\)", policy)
    compare_set(by_policy(reg, "caller"), set(NAME.findall(m.group(1)) if m else []),
                f"{where} 4.4, the actions that may be e-signed or not", problems)


def check_verifier(reg, source, problems):
    where = "examples/python/verify_ledger.py"
    tree = ast.parse(source)
    signed, needs_esig = None, None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SIGNED_ACTIONS"
                                                for t in node.targets):
            signed = ast.literal_eval(node.value)
        if isinstance(node, ast.FunctionDef) and node.name == "needs_esig":
            needs_esig = {n.value for n in ast.walk(node)
                          if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    if signed is None or needs_esig is None:
        problems.append(f"{where}: SIGNED_ACTIONS or needs_esig() not found")
        return
    compare_set(by_policy(reg, "always"), set(signed), f"{where} SIGNED_ACTIONS", problems)
    for name in by_policy(reg, "param"):
        for word in (name, reg[name]["param"], "yes"):
            if word not in needs_esig:
                problems.append(f"{where}: needs_esig() lacks \"{word}\" (the rule for {name})")


def check_c_api(reg, text, problems):
    where = "docs/c-api.md"
    meanings, seen_esig_table = {}, False
    for head, rows in tables(text):
        if head == ["call", "action", "meaning"]:
            seen_esig_table = True
            for row in rows:
                meaning = row[2]
                quoted = re.fullmatch(r'"([^"]*)"', meaning)
                for name in NAME.findall(row[1]):
                    meanings[name] = quoted.group(1) if quoted else None
        elif head[-1] == "audit action":
            who = head.index("who") if "who" in head else None
            for row in rows:
                for name in NAME.findall(row[-1]):
                    if name not in reg:
                        problems.append(f"{where}: {row[0]} writes {name}, not in the registry")
                        continue
                    if who is None or reg[name]["actor"] != "roles":
                        continue
                    said = {ROLE_WORDS[w] for w in re.findall(r"[a-z]+", row[who]) if w in ROLE_WORDS}
                    if said != reg[name]["roles"]:
                        problems.append(f"{where}: {name} may be done by {sorted(reg[name]['roles'])}; "
                                        f"the table says: {row[who]}")
    if not seen_esig_table:
        problems.append(f"{where}: no e-signature table (| call | action | meaning |)")
        return
    compare_set(by_policy(reg, "always", "param", "caller"), set(meanings),
                f"{where}, the e-signature table", problems)
    for name, meaning in meanings.items():
        a = reg.get(name)
        if a is None:
            continue
        if a["esig"] == "caller" and meaning is not None:
            problems.append(f"{where}: {name} is signed with the caller's meaning, not \"{meaning}\"")
        if a["esig"] in ("always", "param") and meaning != a["meaning"]:
            problems.append(f"{where}: {name} is signed \"{a['meaning']}\", the table says {meaning!r}")


def check_cli(reg, text, problems):
    where = "docs/cli.md"
    listed = []
    for head, rows in tables(text):
        if head != ["action", "recorded when", "e-signed"]:
            continue
        for row in rows:
            names = NAME.findall(row[0])
            listed += names
            signed = row[2]
            for name in names:
                a = reg.get(name)
                if a is None:
                    continue
                quoted = f'"{a["meaning"]}"'
                ok = {"never": signed == "no",
                      "always": signed == f"yes, {quoted}",
                      "param": quoted in signed and f"`{a['param']}`" in signed,
                      "caller": signed != "no" and not signed.startswith("yes")}[a["esig"]]
                if not ok:
                    problems.append(f"{where}: {name} is e-signed {a['esig']}"
                                    f"{', ' + quoted if a['meaning'] else ''}; the table says: {signed}")
    compare_names(reg.keys(), listed, f"{where}, the table of actions", problems)


def check_python(reg, text, problems):
    where = "docs/python.md"
    rows = [row for _, rows in tables(text) for row in rows if row[0] == "`action`"]
    if len(rows) != 1:
        problems.append(f"{where}: expected one `action` row in the table of an entry's keys")
        return
    compare_names(reg.keys(), NAME.findall(rows[0][1]), where, problems)


def compare_names(want, listed, where, problems):
    for name in sorted({n for n in listed if listed.count(n) > 1}):
        problems.append(f"{where}: {name} is listed twice")
    compare_set(set(want), set(listed), where, problems)


def compare_set(want, got, where, problems):
    for name in sorted(want - got):
        problems.append(f"{where}: {name} is missing")
    for name in sorted(got - want):
        problems.append(f"{where}: {name} is not an action of the registry")


def main(program, root):
    reg = registry(program)
    problems = []
    for name, a in reg.items():
        if (a["esig"] in ("always", "param")) != (a["meaning"] is not None):
            problems.append(f"registry: {name} has esig {a['esig']} and meaning {a['meaning']!r}")

    def read(path):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            return f.read()

    check_audit_format(reg, read("docs/audit-format.md"), problems)
    check_verifier(reg, read("examples/python/verify_ledger.py"), problems)
    check_c_api(reg, read("docs/c-api.md"), problems)
    check_cli(reg, read("docs/cli.md"), problems)
    check_python(reg, read("docs/python.md"), problems)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} disagreement(s) with the action registry "
              "(libctm/src/ledger/actions.c; docs/internals.md, \"Actions\")")
        return 1
    print(f"{len(reg)} actions: the documents and the independent verifier agree with the registry")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
