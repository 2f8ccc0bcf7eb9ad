#!/usr/bin/python3
"""Counts the end-to-end cases a run really executed, from pytest's JUnit
report, and prints one closing line: "e2e: N passed, N failed, N skipped".

Exit status 1 when the report is missing, when no case ran, or when any case
failed, so that a run in which BPF (or anything else) kept every case from
running can never pass.

  e2e_summary.py REPORT.xml
"""
import sys
import xml.etree.ElementTree as ET


def counts(report):
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = failed = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total, failed, skipped


def main():
    report = sys.argv[1]
    try:
        total, failed, skipped = counts(report)
    except (OSError, ET.ParseError) as e:
        print(f"e2e: no report of the end-to-end run ({e}): the suite did not run", file=sys.stderr)
        return 1
    ran = total - skipped
    passed = ran - failed
    print(f"e2e: {ran} of {total} cases ran")
    print(f"e2e: {passed} passed, {failed} failed, {skipped} skipped")
    if ran == 0:
        print("e2e: FAILED: no end-to-end case was executed", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
