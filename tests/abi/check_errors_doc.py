#!/usr/bin/python3
"""Every status-returning function of ctm.h documents its codes: its doc comment (the comment
just before it, which a group of declarations may share) has an "Errors:" line naming only codes
the header defines.

    check_errors_doc.py ctm.h
"""
import re
import sys

# int-returning functions whose int is a value, not a status
VALUES = {"ctm_version_number", "ctm_errcode", "ctm_query_column_count", "ctm_query_column_type",
          "ctm_gs1_count", "ctm_must_change_password"}


def main(path):
    text = open(path, encoding="utf-8").read()
    codes = set(re.findall(r"^#define (CTM_E[A-Z]+|CTM_ERROR) ", text, re.M))
    problems = []
    functions = re.findall(r"CTM_API (?:CTM_WARN_UNUSED )?int (ctm_\w+)\(", text)
    for m in re.finditer(r"CTM_API (?:CTM_WARN_UNUSED )?int (ctm_\w+)\(", text):
        name = m.group(1)
        if name in VALUES:
            continue
        end = text.rfind("*/", 0, m.start())
        comment = text[text.rfind("/*", 0, end):end]
        errors = re.search(r"Errors:(.*?)(?:\.\s|$)", comment, re.S)
        if errors is None:
            problems.append("%s: no \"Errors:\" line" % name)
            continue
        named = set(re.findall(r"\bCTM_E[A-Z]+\b|\bCTM_ERROR\b", comment[errors.start():]))
        if not named:
            problems.append("%s: its \"Errors:\" line names no code" % name)
        for code in sorted(named - codes):
            problems.append("%s: %s is not a status code" % (name, code))
    for p in problems:
        print(p)
    print("%d functions, %d without documented errors" % (len(functions), len(problems)))
    return 1 if problems or not functions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
