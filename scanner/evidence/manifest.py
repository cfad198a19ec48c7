"""The bundle manifest: what ran, on what, by whom, and the sha256 of every file."""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from scanner import jsontext
from scanner.findings import ScanResult
from scanner.outputs import member_pieces, member_size
from scanner.redaction import strip_userinfo
from scanner.rules import Rule

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig.json"
MANIFEST_KIND = "ledgergate-evidence-bundle"
MANIFEST_VERSION = "1.0"


def sha256(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def _digest(files: Mapping[str, bytes], name: str) -> str:
    """A member's sha256, read in pieces (a nightly population is 170 MB)."""
    digest = hashlib.sha256()
    for piece in member_pieces(files, name):
        digest.update(piece)
    return digest.hexdigest()


def canonical(data: Any) -> bytes:
    """Sorted, indented JSON with a trailing newline: the bytes every bundle file uses
    (``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``, written by orjson)."""
    return jsontext.dumpb_utf8(data) + b"\n"


def _file_digest(path: Path) -> str:
    try:
        return sha256(path.read_bytes())
    except OSError:
        return ""


def ruleset_identity(rules: Iterable[Rule]) -> dict[str, Any]:
    """sha256 of the rule set (over each rule id and its file's sha256) and per-rule detail."""
    entries = [
        {
            "id": r.id,
            "title": r.title,
            "severity": r.severity.value,
            "sha256": _file_digest(r.path),
            "controls": [{"framework": c.framework, "id": c.id} for c in r.controls],
        }
        for r in sorted(rules, key=lambda r: r.id)
    ]
    joined = "".join(f"{e['id']}\x1f{e['sha256']}\n" for e in entries)
    return {"sha256": sha256(joined.encode()), "rules": entries}


def file_identity(path: Path | None, display: str | None = None) -> dict[str, Any] | None:
    """Name and sha256 of an input file (config, waiver register), or None if absent."""
    if path is None:
        return None
    return {"path": display or path.name, "sha256": _file_digest(path)}


def run_by(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Who ran the scan: the user, and the CI job when one is detected."""
    env = os.environ if env is None else env
    try:
        user = env.get("LEDGERGATE_USER") or getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    ci: dict[str, str] | None = None
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        ci = {
            "provider": "github-actions",
            "jobUrl": strip_userinfo(
                f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
            ),
            "runId": env["GITHUB_RUN_ID"],
            "actor": env.get("GITHUB_ACTOR", ""),
            "sha": env.get("GITHUB_SHA", ""),
        }
    elif env.get("CI_JOB_URL"):
        ci = {
            "provider": "gitlab-ci",
            "jobUrl": strip_userinfo(env["CI_JOB_URL"]),
            "runId": env.get("CI_JOB_ID", ""),
        }
    elif env.get("BUILD_URL"):
        ci = {
            "provider": "jenkins",
            "jobUrl": strip_userinfo(env["BUILD_URL"]),
            "runId": env.get("BUILD_ID", ""),
        }
    return {"user": user, "ci": ci}


def build_manifest(
    result: ScanResult,
    files: Mapping[str, bytes],
    *,
    config: dict[str, Any] | None,
    waivers: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest document (validated by reports/evidence-manifest.schema.json)."""
    counts = result.counts()
    return {
        "kind": MANIFEST_KIND,
        "schemaVersion": MANIFEST_VERSION,
        "tool": {"name": "ledgergate", "version": result.tool_version},
        # every recorded URL without ``user:token@`` (a CI clone URL carries the job token)
        "target": {
            k: strip_userinfo(v) if isinstance(v, str) else v for k, v in result.target.items()
        },
        "scan": {"started": result.started, "finished": result.finished},
        "runBy": run_by(),
        "ruleSet": ruleset_identity(result.rules),
        "config": config,
        "waivers": waivers,
        "summary": {
            "resources": result.resources_scanned,
            **{s: counts.get(s, 0) for s in ("fail", "error", "waived", "pass")},
        },
        "files": [
            {"path": name, "sha256": _digest(files, name), "size": member_size(files, name)}
            for name in sorted(files)
        ],
        "scope": dict(result.scope),
    }
