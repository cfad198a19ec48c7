"""Optional inputs the user did not enable: one ``not-evaluated`` entry per rule.

Without ``--images`` the image analyzer marks every workload's ``imageReport`` as
not derivable, and the engine reports one ``error`` per workload and rule (119,880 of
them on a nightly cluster). Those say nothing the user can act on one by one: they are
folded here into one entry per rule, with the number of objects it would have judged
and how to enable the input. Whether a missing input fails the scan is the config's
``requireInputs`` (:func:`missing_required`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner.analyzers.image_report import NOT_ENABLED
from scanner.engine import fingerprint
from scanner.model import Evidence, Finding, Origin, Status
from scanner.rules import Rule


@dataclass(frozen=True)
class OptionalInput:
    """An input a scan reads only when asked to."""

    name: str
    #: The reason its analyzer gives when it is off (appears in the engine's message).
    reason: str
    enable: str


OPTIONAL_INPUTS = (
    OptionalInput(
        "images", NOT_ENABLED, "run with --images (or set params.imageScan.enabled: true)"
    ),
)


def _disabled(finding: Finding) -> OptionalInput | None:
    if finding.status is not Status.ERROR:
        return None
    return next((i for i in OPTIONAL_INPUTS if i.reason in finding.message), None)


def fold_disabled(findings: Sequence[Finding], rules: Iterable[Rule]) -> list[Finding]:
    """``findings`` with each rule's not-enabled errors replaced by one ``not-evaluated``."""
    by_rule: dict[str, tuple[OptionalInput, int]] = {}
    kept: list[Finding] = []
    for f in findings:
        source = _disabled(f)
        if source is None:
            kept.append(f)
            continue
        _, count = by_rule.get(f.rule_id, (source, 0))
        by_rule[f.rule_id] = (source, count + 1)
    if not by_rule:
        return list(findings)
    known = {r.id: r for r in rules}
    for rule_id, (source, count) in sorted(by_rule.items()):
        rule = known.get(rule_id)
        template = next(f for f in findings if f.rule_id == rule_id)
        kept.append(
            Finding(
                rule_id=rule_id,
                status=Status.NOT_EVALUATED,
                severity=template.severity,
                title=rule.title if rule else template.title,
                message=(
                    f"not evaluated: the {source.name} input is not enabled; this rule would "
                    f"have judged {count} object{'s' if count != 1 else ''}. To evaluate it, "
                    f"{source.enable}; to make a missing input fail the scan, set "
                    f"requireInputs: [{source.name}] in ledgergate.yaml"
                ),
                resource=None,
                origin=Origin(),
                evidence=(Evidence("input", source.name), Evidence("objects", str(count))),
                controls=template.controls,
                fingerprint=fingerprint(rule_id, None, Origin(), ["not-evaluated", source.name]),
            )
        )
    return kept


def missing_inputs(findings: Iterable[Finding]) -> set[str]:
    """Optional inputs that some rule needed and the run did not enable."""
    return {
        e.value
        for f in findings
        if f.status is Status.NOT_EVALUATED
        for e in f.evidence
        if e.path == "input"
    }


def missing_required(findings: Iterable[Finding], required: Iterable[str]) -> list[str]:
    """Inputs ``requireInputs`` names that the run left out, sorted."""
    return sorted(missing_inputs(findings) & set(required))
