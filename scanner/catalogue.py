"""The control catalogue (``rules/controls.yaml``): framework editions and control objectives.

Rules cite ``{framework, id}``; titles and objectives come only from here, so one id
has one title everywhere. An organisation's own risk-and-control-matrix ids
(``controls.map`` in ``ledgergate.yaml``) are a framework of their own, ``rcm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from scanner import shipped, yamlutil

CATALOGUE_FILE = "controls.yaml"
#: Framework id of the organisation's own control ids (``controls.map``).
RCM = "rcm"


@dataclass(frozen=True)
class ControlInfo:
    """One control of one framework edition."""

    framework: str
    id: str
    title: str
    objective: str


@dataclass(frozen=True)
class Framework:
    """One framework as the catalogue names it."""

    id: str
    name: str
    version: str
    id_pattern: str
    controls: Mapping[str, ControlInfo]


@cache
def catalogue() -> Mapping[str, Framework]:
    """Every framework of the shipped catalogue, by framework id."""
    data, _ = yamlutil.load_file(shipped.rules_dir() / CATALOGUE_FILE)
    out: dict[str, Framework] = {}
    for fid, entry in sorted((data or {}).get("frameworks", {}).items()):
        controls = {
            str(cid): ControlInfo(fid, str(cid), str(c["title"]), " ".join(c["objective"].split()))
            for cid, c in (entry.get("controls") or {}).items()
        }
        out[fid] = Framework(
            fid, str(entry["name"]), str(entry["version"]), str(entry["idPattern"]), controls
        )
    return out


def describe(framework: str, control: str) -> ControlInfo | None:
    """Title and objective of a control, or None when the catalogue does not know it."""
    found = catalogue().get(framework)
    return found.controls.get(control) if found else None


def framework_label(framework: str, rcm_name: str = "") -> str:
    """``PCI DSS v4.0.1 (June 2024)``: the framework's name with its edition."""
    if framework == RCM:
        return rcm_name or "Organisation risk and control matrix"
    found = catalogue().get(framework)
    return f"{found.name} {found.version}" if found else framework


def catalogue_doc(used: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The catalogue as plain data (only the controls in ``used`` when given)."""
    frameworks: dict[str, Any] = {}
    for fid, fw in catalogue().items():
        controls = {
            cid: {"title": c.title, "objective": c.objective}
            for cid, c in sorted(fw.controls.items())
            if used is None or (fid, cid) in used
        }
        if controls or used is None:
            frameworks[fid] = {"name": fw.name, "version": fw.version, "controls": controls}
    return {"schemaVersion": "1.0", "frameworks": frameworks}
