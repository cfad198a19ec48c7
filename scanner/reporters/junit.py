"""JUnit XML for CI systems that read test reports (Jenkins, GitLab, Azure, CircleCI).

One ``<testsuite>`` per rule; one ``<testcase>`` per rule x resource that failed
(``<failure>``) or could not be checked (``<error>``); the rule's passes are one passing
test case that says how many objects passed (a report of 50k passing cases helps no
one); a rule whose input was not enabled is one ``<skipped>`` case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from scanner.findings import ScanResult
from scanner.model import Finding, Status
from scanner.reporters.base import Reporter, finding_line, repo_path, repository_root


def _case_name(f: Finding, prefix: str) -> str:
    ref = f.resource
    what = f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}" if ref else ""
    where = f.origin.display() if not f.origin.path else repo_path(f, prefix)
    if f.origin.path and finding_line(f):
        where += f":{finding_line(f)}"
    return " ".join(p for p in (what, f"({where})" if where else "") if p) or f.rule_id


def _detail(f: Finding) -> str:
    lines = [f.message]
    lines += [f"{e.path}={e.value}" if e.value else e.path for e in f.evidence]
    lines += [f"control: {c.framework} {c.id}" for c in f.controls]
    return "\n".join(lines)


def build_tree(result: ScanResult) -> ET.Element:
    """The ``<testsuites>`` element of a scan."""
    root = repository_root(result)
    prefix = root[1] if root else ""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[f.rule_id].append(f)
    top = ET.Element("testsuites", name="ledgergate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for rule_id in sorted(by_rule):
        findings = by_rule[rule_id]
        suite = ET.SubElement(top, "testsuite", name=rule_id)
        if result.started:
            suite.set("timestamp", result.started.removesuffix("Z"))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        passed = sum(1 for f in findings if f.status is Status.PASS)
        for f in findings:
            if f.status is Status.PASS:
                continue
            case = ET.SubElement(suite, "testcase", classname=rule_id, name=_case_name(f, prefix))
            if f.origin.path:
                case.set("file", repo_path(f, prefix))
                if finding_line(f):
                    case.set("line", str(finding_line(f)))
            counts["tests"] += 1
            if f.status is Status.FAIL:
                tag, key = "failure", "failures"
            elif f.status is Status.ERROR:
                tag, key = "error", "errors"
            else:  # waived (an approved exception) and not-evaluated are not run as tests
                tag, key = "skipped", "skipped"
            element = ET.SubElement(case, tag, message=f.message, type=f.severity.value)
            if f.status is Status.WAIVED and f.waiver:
                element.set("message", f"waived ({f.waiver.get('ticket', '')}): {f.message}")
            element.text = _detail(f)
            counts[key] += 1
        if passed:
            ET.SubElement(suite, "testcase", classname=rule_id, name=f"{passed} object(s) passed")
            counts["tests"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        top.set(key, str(value))
    return top


class JunitReporter(Reporter):
    """Deterministic JUnit XML."""

    name = "junit"

    def render(self, result: ScanResult) -> str:
        """The XML document with its declaration."""
        tree = build_tree(result)
        ET.indent(tree)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, "unicode") + "\n"
