"""The audit-evidence bundle: findings, SARIF, coverage, controls, inventory, HTML, manifest.

Every file is rendered from the scan result, hashed into ``manifest.json`` and, with a
key, covered by a DSSE signature in ``manifest.sig.json``. A bundle that would contain
a detected secret value is refused (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.errors import ReportError
from scanner.evidence import archive, signing
from scanner.evidence.attest import manifest_extras
from scanner.evidence.auditor import auditor_files
from scanner.evidence.leaks import find_leak
from scanner.evidence.manifest import (
    MANIFEST,
    SIGNATURE,
    build_manifest,
    canonical,
    file_identity,
    sha256,
)
from scanner.evidence.members import Members
from scanner.evidence.series import PreviousBundle, find_previous, read_previous
from scanner.evidence.settings import AuditSettings
from scanner.evidence.snapshot import secret_values, snapshot_parts
from scanner.findings import ScanResult
from scanner.inventory import Inventory
from scanner.reporters.base import coverage_to_list, skipped_to_list
from scanner.reporters.html import render_html
from scanner.reporters.json import encode_json, lister, report_doc
from scanner.reporters.sarif import SarifReporter
from scanner.reporters.view import NOT_EVALUATED, ReportView, build_view, controls_csv
from scanner.waivers import EXPIRED_RULE_ID, STALE_RULE_ID, WaiverRegister

REPORT = "report.html"


@dataclass(frozen=True)
class BundleInputs:
    """What a bundle is made of: the result plus the inputs whose identity it records."""

    result: ScanResult
    config_path: Path | None = None
    waivers_path: Path | None = None
    register: WaiverRegister | None = None
    inventory: Inventory | None = None
    #: A PEM key file or a PKCS#11 URI (``pkcs11:token=...;object=...``).
    sign_key: Path | str | None = None
    #: Also sign keylessly with the ambient CI identity (Sigstore).
    sign_sigstore: bool = False
    #: Files a scan kind adds (e.g. ``changelog.json``), hashed and signed like the rest.
    extra: Mapping[str, bytes] = field(default_factory=dict)
    #: A private Sigstore instance's ClientTrustConfig (default: the public-good instance).
    sigstore_trust_config: Path | None = None
    #: Auditor-facing inputs: parameters in force, RCM name, TSA, retention, series.
    audit: AuditSettings = field(default_factory=AuditSettings)


def coverage_doc(result: ScanResult, view: ReportView) -> dict[str, Any]:
    """``coverage.json``: what could not be read, what was skipped, what no rule judged."""
    judged = {f.rule_id for f in result.findings}
    return {
        "schemaVersion": "1.0",
        "resourcesScanned": result.resources_scanned,
        "coverage": coverage_to_list(result),
        "skipped": skipped_to_list(result),
        "rulesWithoutFindings": sorted(r.id for r in result.rules if r.id not in judged),
        "controlsNotEvaluated": [
            {"framework": r.framework, "id": r.control, "rules": list(r.rules)}
            for r in view.controls
            if r.status == NOT_EVALUATED
        ],
    }


def waivers_doc(register: WaiverRegister | None, result: ScanResult) -> dict[str, Any]:
    """``waivers.json``: the whole register as applied, including waivers that matched nothing."""
    expired = {
        (f.origin.path, f.origin.start_line)
        for f in result.findings
        if f.rule_id == EXPIRED_RULE_ID
    }
    stale = {
        (f.origin.path, f.origin.start_line) for f in result.findings if f.rule_id == STALE_RULE_ID
    }
    covered: dict[str, int] = {}
    for f in result.findings:
        if f.waiver:
            covered[f.waiver.get("source", "")] = covered.get(f.waiver.get("source", ""), 0) + 1
    entries = []
    for w in register.waivers if register else ():
        where = f"{w.source}:{w.line}"
        entries.append(
            {
                **w.record(),
                "resource": {
                    "kind": w.selector.kind,
                    "namespace": w.selector.namespace,
                    "name": w.selector.name,
                    "path": w.selector.path,
                },
                "state": "expired"
                if (w.source, w.line) in expired
                else "stale"
                if (w.source, w.line) in stale
                else "active",
                "findingsWaived": covered.get(where, 0),
            }
        )
    return {
        "schemaVersion": "1.0",
        "register": register.path if register else None,
        "waivers": entries,
    }


def bundle_identity(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the report shows of a bundle's manifest (its own file and the report omitted)."""
    shown = [f for f in manifest.get("files", []) if f["path"] not in (REPORT, MANIFEST)]
    identity = {
        key: manifest.get(key)
        for key in (
            "target",
            "tool",
            "scan",
            "runBy",
            "config",
            "waivers",
            "time",
            "identity",
            "series",
            "retainUntil",
        )
    }
    identity["ruleSet"] = {"sha256": manifest.get("ruleSet", {}).get("sha256", "")}
    identity["files"] = shown
    return identity


def bundle_view(
    doc: Mapping[str, Any],
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes] | None = None,
) -> ReportView:
    """The report view of a bundle: the findings document plus the manifest's identity.

    Used both when the bundle is written and when ``ledgergate report`` re-renders it,
    so both give the same HTML.
    """
    catalogue = manifest.get("ruleSet", {}).get("rules", [])
    view = build_view(doc, catalogue, bundle_identity(manifest))
    if files is None:
        return view
    from scanner.reporters.auditview import with_audit

    return with_audit(view, files)


def _display(path: Path | None, root: str) -> str | None:
    if path is None:
        return None
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        return path.name


def build_files(
    inputs: BundleInputs, previous: PreviousBundle | None = None, *, folder: Path | None = None
) -> Members:
    """Every file of the bundle, name -> bytes (deterministic for the same inputs).

    ``previous`` is the bundle this one follows in its series (its manifest digest is
    recorded); the RFC 3161 token, when a TSA is configured, is the only file that
    differs between two runs. With a ``folder``, the large files are held in a temporary
    folder inside it until :meth:`Members.close` (see :mod:`scanner.evidence.members`).
    """
    from scanner.analyzers.secrets import complete_secrets

    if inputs.inventory is not None:  # a path-limited scan searched its judged objects only
        complete_secrets(inputs.inventory)
    result = inputs.result
    doc = report_doc(result)
    files = Members(folder)
    try:
        _build(files, doc, inputs, previous)
    except BaseException:
        files.close()
        raise
    return files


def _build(
    files: Members,
    doc: Mapping[str, Any],
    inputs: BundleInputs,
    previous: PreviousBundle | None,
) -> None:
    result = inputs.result
    files["findings.json"] = encode_json(doc)  # the same bytes as JsonReporter
    files["findings.sarif"] = SarifReporter().render(result).encode()
    files.put_parts("inventory.json", snapshot_parts(inputs.inventory))
    files["waivers.json"] = canonical(waivers_doc(inputs.register, result))
    files.update(inputs.extra)
    root = str(result.target.get("path", "."))
    waivers_path = inputs.waivers_path
    identities = {
        "config": file_identity(inputs.config_path, _display(inputs.config_path, root)),
        "waivers": file_identity(waivers_path, inputs.register.path if inputs.register else None),
    }
    auditor_files(
        files,
        result.findings,
        result.rules,
        listed=lister(result),
        inventory=inputs.inventory,
        params=inputs.audit.params,
        rcm_name=inputs.audit.rcm_name,
    )
    extras = manifest_extras(result, inputs.audit, previous)

    def manifest_of(listed: Mapping[str, bytes]) -> dict[str, Any]:
        return {**build_manifest(result, listed, **identities), **extras}

    view = bundle_view(doc, manifest_of({}), files)
    files["controls.csv"] = controls_csv(view).encode()
    files["coverage.json"] = canonical(coverage_doc(result, view))
    # the same view, now naming every file but the report (the control rows are final)
    view = replace(view, bundle=bundle_identity(manifest_of(files)))
    files[REPORT] = render_html(view).encode()
    manifest = manifest_of(files)
    files[MANIFEST] = canonical(manifest)
    predicate = {
        "tool": manifest["tool"],
        "target": manifest["target"],
        "scan": manifest["scan"],
        "ruleSet": {"sha256": manifest["ruleSet"]["sha256"]},
    }
    stmt = signing.statement(MANIFEST, sha256(files[MANIFEST]), predicate)
    if inputs.sign_key is not None:
        from scanner.evidence.keys import load_signer

        key = load_signer(inputs.sign_key)
        files[SIGNATURE] = canonical(signing.sign_envelope(key, stmt))
    if inputs.sign_sigstore:
        from scanner.evidence import keyless

        files[keyless.SIGSTORE_BUNDLE] = keyless.sign(stmt, inputs.sigstore_trust_config)
    if inputs.audit.tsa is not None:
        from scanner.evidence.timestamp import TOKEN, request_token

        files[TOKEN] = request_token(files[MANIFEST], inputs.audit.tsa)
    _refuse_leaks(files, inputs.inventory, result)


def _vocabulary(result: ScanResult) -> str:
    """The tool's own words (rule titles, messages, remediations), lower-cased.

    A "secret" that is one of them (a Secret holding ``password``) appears in every
    bundle by design; refusing the bundle for it would block the evidence, not a leak.
    """
    return "\n".join(
        f"{r.id} {r.title} {r.message} {r.remediation} {r.rationale}" for r in result.rules
    ).lower()


def _refuse_leaks(
    files: Mapping[str, bytes], inventory: Inventory | None, result: ScanResult
) -> None:
    """Fail closed: no detected secret value may appear in any bundle file."""
    words = _vocabulary(result)
    leaked = find_leak(files, {s for s in secret_values(inventory) if s.lower() not in words})
    if leaked is not None:
        raise ReportError(
            f"evidence bundle not written: {leaked} would contain a secret value "
            "(please report this as a bug)"
        )


def write_bundle(inputs: BundleInputs, path: Path) -> None:
    """Build the bundle and write it as a folder or, for ``*.zip``, an archive; its large
    files wait on disk beside it meanwhile, not in memory."""
    audit = inputs.audit
    if audit.previous is not None:
        previous: PreviousBundle | None = read_previous(audit.previous)
    else:
        previous = find_previous(path, inputs.result.target)
    with build_files(inputs, previous, folder=spill_folder(path)) as files:
        archive.write(files, path)


def spill_folder(path: Path) -> Path | None:
    """Where a bundle's large files wait: the folder the bundle goes to (None, in memory,
    when that is not a plain folder path, e.g. ``/dev/stdout``)."""
    parent = path.absolute().parent
    return None if str(path) == "-" or parent == Path("/dev") else parent
