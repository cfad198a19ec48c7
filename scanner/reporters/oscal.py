"""An OSCAL 1.1.2 assessment-results document from an evidence bundle.

One result per scan: the NIST SP 800-53 r5 controls reviewed (OSCAL control ids such
as ``ac-6.1``), one observation per tested item (method ``TEST``, subject the
resource, evidence the finding in ``findings.json``, or for a pass that document only
counts the population row's pointer to the judged object), one finding per control with
``satisfied`` / ``not-satisfied``, a risk per failing rule, and what was not
evaluated. Controls of other frameworks ride along as properties, because OSCAL
control ids must name a catalogue's controls. UUIDs are derived from the content
(uuid5), so the same bundle always gives the same document.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from scanner import jsontext
from scanner.evidence.population import FINDINGS, location_text
from scanner.reporters.view import NOT_EVALUATED, control_rows

OSCAL_VERSION = "1.1.2"
NS = "https://ledgergate.dev/ns/oscal"
NIST = "nist-800-53-r5"
_ROOT = uuid.UUID("6f1c1d7e-8e2a-5b0e-9a51-6c0a1e0b7a11")


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_ROOT, "\x1f".join(str(p) for p in parts)))


def oscal_control_id(control: str) -> str:
    """``AC-6(1)`` -> ``ac-6.1``: the id NIST's OSCAL catalogue gives the control."""
    match = re.fullmatch(r"([A-Z]{2})-(\d+)(?:\((\d+)\))?", control)
    if not match:
        return ""
    family, number, enhancement = match.groups()
    return f"{family.lower()}-{number}" + (f".{enhancement}" if enhancement else "")


def _time(text: str) -> str:
    return text if text else "1970-01-01T00:00:00Z"


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": value}


def _subject(f: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    res = f.get("resource") or {}
    where = f"{res.get('namespace', '')}/{res.get('name', '')}".strip("/")
    title = f"{res.get('kind') or 'input'} {where}".strip()
    text = str(f.get("where") or location_text(f))  # a counted pass: its row's location
    item_id = _uuid("item", title, text)
    item = {"uuid": item_id, "description": title, "props": [_prop("location", text or "-")]}
    return item_id, item


def counted_passes(
    population: Iterable[Mapping[str, str]], catalogue: Iterable[Mapping[str, Any]]
) -> list[tuple[dict[str, Any], str]]:
    """The passes a findings document only counts, one per tested item, from the
    population rows (one per control): (finding-shaped record, evidence pointer)."""
    titles = {str(r.get("id")): str(r.get("title", "")) for r in catalogue}
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in population:
        if row["evidence"].startswith(f"{FINDINGS}#/findings/"):
            continue
        key = (row["evidence"], row["rule"], row["fingerprint"])
        item = items.get(key)
        if item is None:
            item = items[key] = {
                "ruleId": row["rule"],
                "status": row["result"],
                "title": titles.get(row["rule"], ""),
                "message": "",
                "resource": {
                    "kind": row["kind"],
                    "namespace": row["namespace"],
                    "name": row["name"],
                },
                "where": row["location"],
                "fingerprint": row["fingerprint"],
                "controls": [],
            }
        item["controls"].append({"framework": row["framework"], "id": row["control"]})
    return [(items[k], k[0]) for k in sorted(items)]


def assessment_results(
    doc: Mapping[str, Any],
    manifest: Mapping[str, Any],
    population: Iterable[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The OSCAL document (a plain dict, ``{"assessment-results": ...}``).

    ``population`` (the bundle's rows) gives the passes a slim ``findings.json`` only
    counts their observations; the control verdicts count them either way."""
    findings = list(doc.get("findings", ()))
    catalogue = manifest.get("ruleSet", {}).get("rules", [])
    tested = [(f, f"{FINDINGS}#/findings/{i}") for i, f in enumerate(findings)]
    tested += counted_passes(population, catalogue) if doc.get("passes") else []
    started, finished = _time(str(doc.get("started", ""))), _time(str(doc.get("finished", "")))
    digest = json.dumps(manifest.get("files", []), sort_keys=True)
    rules_resource = _uuid("rules.json", digest)
    items: dict[str, dict[str, Any]] = {}
    observations: list[dict[str, Any]] = []
    by_control: dict[str, list[str]] = {}
    risks: dict[str, dict[str, Any]] = {}
    for f, href in tested:
        item_id, item = _subject(f)
        items.setdefault(item_id, item)
        obs_id = _uuid("observation", href, f.get("fingerprint", ""), f.get("ruleId"))
        props = [_prop("rule", str(f["ruleId"])), _prop("result", str(f["status"]))]
        props += [
            _prop("framework-control", f"{c['framework']} {c['id']}") for c in f.get("controls", ())
        ]
        observations.append(
            {
                "uuid": obs_id,
                "title": f"{f['ruleId']}: {f.get('title', '')}",
                "description": str(f.get("message") or f.get("title") or f["ruleId"]),
                "props": props,
                "methods": ["TEST"],
                "types": ["finding" if f["status"] in ("fail", "error") else "control-objective"],
                "subjects": [{"subject-uuid": item_id, "type": "inventory-item"}],
                "collected": finished,
                "relevant-evidence": [
                    {
                        "href": href,
                        "description": "the finding" if "where" not in f else "the object judged",
                    }
                ],
            }
        )
        for c in f.get("controls", ()):
            if c["framework"] == NIST and oscal_control_id(str(c["id"])):
                by_control.setdefault(oscal_control_id(str(c["id"])), []).append(obs_id)
        if f["status"] in ("fail", "error") and f["ruleId"] not in risks:
            risks[f["ruleId"]] = {
                "uuid": _uuid("risk", f["ruleId"]),
                "title": str(f.get("title") or f["ruleId"]),
                "description": f"Rule {f['ruleId']} did not pass ({f['status']}).",
                "statement": str(f.get("message", "")),
                "status": "open",
            }
    every_row = control_rows(findings, catalogue, doc.get("passes", ()))
    rows = [r for r in every_row if r.framework == NIST]
    reviewed = sorted({oscal_control_id(r.control) for r in rows} - {""})
    oscal_findings = []
    for row in rows:
        cid = oscal_control_id(row.control)
        if not cid:
            continue
        satisfied = row.status in ("pass", "waived")
        status: dict[str, Any] = {"state": "satisfied" if satisfied else "not-satisfied"}
        if row.status == NOT_EVALUATED:
            status |= {"reason": "other", "remarks": "not evaluated: no resource matched its rules"}
        else:
            status["reason"] = "pass" if satisfied else "fail"
        related = [{"observation-uuid": o} for o in sorted(set(by_control.get(cid, [])))]
        oscal_findings.append(
            {
                "uuid": _uuid("finding", cid),
                "title": f"{row.control}: {row.status}",
                "description": f"{row.control} judged by {', '.join(row.rules)}: "
                + ", ".join(f"{k} {v}" for k, v in sorted(row.counts.items())),
                "props": [_prop("ledgergate-status", row.status)],
                "target": {"type": "objective-id", "target-id": f"{cid}_obj", "status": status},
            }
            # OSCAL wants at least one related observation, or none named at all
            | ({"related-observations": related} if related else {})
        )
    not_evaluated = [f"{r.framework} {r.control}" for r in every_row if r.status == NOT_EVALUATED]
    target = ", ".join(f"{k}={v}" for k, v in sorted((doc.get("target") or {}).items()))
    selection: dict[str, Any] = (
        {"include-controls": [{"control-id": c} for c in reviewed]}
        if reviewed
        else {"include-all": {}}
    )
    result: dict[str, Any] = {
        "uuid": _uuid("result", digest),
        "title": f"Ledgergate scan of {target or 'a target'}",
        "description": f"Scope: {target}. Not evaluated: {', '.join(not_evaluated) or 'none'}. "
        f"Time {((manifest.get('time') or {}).get('source')) or 'asserted'}.",
        "start": started,
        "end": finished,
        "props": [_prop("not-evaluated", c) for c in not_evaluated][:200] or None,
        "local-definitions": {"inventory-items": sorted(items.values(), key=lambda i: i["uuid"])}
        if items
        else None,
        "reviewed-controls": {"control-selections": [selection]},
        "observations": observations or None,
        "risks": sorted(risks.values(), key=lambda r: r["uuid"]) or None,
        "findings": oscal_findings or None,
    }
    tool = doc.get("tool") or {}
    return {
        "assessment-results": {
            "uuid": _uuid("assessment-results", digest),
            "metadata": {
                "title": "Ledgergate assessment results",
                "last-modified": finished,
                "version": str(tool.get("version", "")) or "0",
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": f"#{rules_resource}"},
            "results": [{k: v for k, v in result.items() if v is not None}],
            "back-matter": {
                "resources": [
                    {
                        "uuid": rules_resource,
                        "title": "Rules as evaluated (the assessment method)",
                        "rlinks": [{"href": "rules.json"}],
                    }
                ]
            },
        }
    }


def render_oscal(
    doc: Mapping[str, Any],
    manifest: Mapping[str, Any],
    population: Iterable[Mapping[str, str]] = (),
) -> str:
    """Pretty, sorted JSON with a trailing newline."""
    return jsontext.dumps(assessment_results(doc, manifest, population)) + "\n"
