"""The effective scope of a scan: what it judged, with what, and what it left out.

A clean report means little unless it says which rules ran, which paths and inputs were
left out and which parameters applied. Every output carries this record, and a control
no selected rule evaluated is listed as *not evaluated* with the reason, never as a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.config import Config
from scanner.model import Finding, Status
from scanner.rules import Rule, RuleSet

IMAGES_OFF = "images (image scanning not enabled: --images)"


def _inputs_not_enabled(params: Mapping[str, Any]) -> list[str]:
    scan = params.get("imageScan") or {}
    return [] if scan.get("enabled") else [IMAGES_OFF]


def not_evaluated(
    selected: Iterable[Rule], excluded: Iterable[Rule], findings: Iterable[Finding]
) -> list[dict[str, Any]]:
    """Controls no selected rule judged (pass, fail or waived), each with the reason."""
    judged: set[str] = set()
    errors: dict[str, str] = {}
    for f in findings:
        if f.status is Status.ERROR:
            errors.setdefault(f.rule_id, f.message)
        else:
            judged.add(f.rule_id)
    by_control: dict[tuple[str, str], dict[str, list[str]]] = {}
    for state, group in (("selected", selected), ("excluded", excluded)):
        for rule in group:
            for c in rule.controls:
                entry = by_control.setdefault((c.framework, c.id), {"selected": [], "excluded": []})
                entry[state].append(rule.id)
    out: list[dict[str, Any]] = []
    for (framework, control), rules in sorted(by_control.items()):
        if any(r in judged for r in rules["selected"]):
            continue
        failing = [r for r in sorted(rules["selected"]) if r in errors]
        if failing:
            reason = f"input missing: {errors[failing[0]]}"
        elif rules["selected"]:
            reason = "no resource in scope for " + ", ".join(sorted(rules["selected"]))
        else:
            reason = "rule excluded: " + ", ".join(sorted(rules["excluded"]))
        out.append(
            {
                "framework": framework,
                "control": control,
                "rules": sorted(rules["selected"] + rules["excluded"]),
                "reason": reason,
            }
        )
    return out


def effective_scope(
    config: Config,
    ruleset: RuleSet,
    findings: Iterable[Finding],
    source_scope: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON-ready scope record of one scan."""
    found = list(findings)
    return {
        "configFile": config.path.name if config.path is not None else None,
        "params": dict(config.params),
        "excludedPaths": list(config.exclude_paths),
        "rules": {
            "include": list(config.include),
            "exclude": list(config.exclude_rules),
            "selected": [r.id for r in ruleset.rules],
            "excluded": [r.id for r in ruleset.excluded],
        },
        "severityOverrides": {k: v.value for k, v in sorted(config.severity_overrides.items())},
        "failOn": config.fail_on.value,
        "namespaceFilter": list((source_scope or {}).get("namespaces", [])),
        "inputsNotEnabled": _inputs_not_enabled(config.params),
        "notEvaluated": not_evaluated(ruleset.rules, ruleset.excluded, found),
    }
