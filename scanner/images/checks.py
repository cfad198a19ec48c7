"""One report per image digest: signature, vulnerabilities and the image config's user.

Reports are built once per (repository, digest) and cached for the run; tags are
resolved once per reference string. Nothing here raises for a bad image: every
problem becomes an explicit ``error``/``reason`` in the report.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from scanner import imageref as refs
from scanner.images import cosign, trivy
from scanner.images.registry import Manifest, RegistryClient, RegistryError
from scanner.images.trust import TrustPolicy
from scanner.images.verdict import SignatureVerdict, combine

#: A verifier checks one (host, repository, digest) and says what it found.
Verifier = Callable[[RegistryClient, str, str, str], SignatureVerdict]

ROOT_USERS = {"", "0", "root"}


def runs_as_root(user: str) -> bool:
    """Docker's rule: an empty user, ``root`` or uid 0 (``0:0``, ``root:wheel``) is root."""
    return user.split(":", 1)[0].strip() in ROOT_USERS


@dataclass
class ScanSettings:
    """What to check and how; built from params and CLI flags."""

    trust: TrustPolicy = field(default_factory=TrustPolicy)
    platform: str = "linux/amd64"
    vulnerabilities: bool = True
    trivy: trivy.TrivyOptions = field(default_factory=trivy.TrivyOptions)
    workers: int = 4
    now: datetime | None = None
    extra_verifiers: tuple[Verifier, ...] = ()
    #: When set, raw trivy JSON and a CycloneDX SBOM per digest are written here.
    evidence_dir: str | None = None


class ImageScanner:
    """Builds and caches image reports for one run; safe to call from threads."""

    def __init__(self, client: RegistryClient, settings: ScanSettings) -> None:
        self.client = client
        self.settings = settings
        self._reports: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        #: Raw trivy JSON by digest, kept for evidence.
        self.raw_vulnerabilities: dict[str, dict[str, Any]] = {}
        # Vulnerabilities depend on content only: one trivy run per digest, whatever the repo.
        self._vulns: dict[str, dict[str, Any]] = {}
        self._vuln_locks: dict[str, threading.Lock] = {}

    def reports(self, images: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Report per image string: tags resolved, then one report per unique digest."""
        unique = sorted(set(images))
        with ThreadPoolExecutor(max_workers=max(1, self.settings.workers)) as pool:
            resolved = dict(zip(unique, pool.map(self._resolve, unique), strict=True))
            pinned = sorted({str(r) for r in resolved.values() if isinstance(r, refs.ImageRef)})
            by_pinned = dict(zip(pinned, pool.map(self._digest_report, pinned), strict=True))
        out: dict[str, dict[str, Any]] = {}
        for image, ref in resolved.items():
            if isinstance(ref, str):
                out[image] = error_report(image, ref)
            else:
                report = by_pinned[str(ref)]
                out[image] = {**report, "image": image, "pinned": "@sha256:" in image}
        return out

    def _resolve(self, image: str) -> refs.ImageRef | str:
        """The reference pinned to its current digest, or an error message."""
        try:
            ref = refs.parse(image)
            digest = self.client.resolve(ref)
        except (refs.ImageRefError, RegistryError) as exc:
            return str(exc)
        return refs.ImageRef(ref.registry, ref.repository, None, digest)

    def _digest_report(self, pinned: str) -> dict[str, Any]:
        with self._lock:
            cached = self._reports.get(pinned)
        if cached is not None:
            return cached
        ref = refs.parse(pinned)
        try:
            report = self._build(ref)
        except Exception as exc:  # noqa: BLE001 - one broken image must not sink the others
            report = error_report(pinned, f"image report failed: {type(exc).__name__}: {exc}")
        with self._lock:
            self._reports[pinned] = report
        return report

    def _build(self, ref: refs.ImageRef) -> dict[str, Any]:
        host, repo, digest = ref.api_host, ref.repository, ref.digest or ""
        base = {"registry": ref.registry, "repository": repo, "digest": digest}
        try:
            top = self.client.manifest(host, repo, digest)
            user = self._config_user(host, repo, top)
        except RegistryError as exc:
            return {**error_report(str(ref), str(exc)), **base}
        signature = self._signature(host, repo, digest)
        vulns = self._vulnerabilities(ref)
        return {
            **base,
            "mediaType": top.media_type,
            "multiArch": top.is_index,
            "signature": signature.as_fact(),
            "vulnerabilities": vulns,
            "user": user,
            "runAsRoot": runs_as_root(user),
            "error": "",
        }

    def _config_user(self, host: str, repo: str, top: Manifest) -> str:
        manifest = (
            self.client.platform_manifest(host, repo, top, self.settings.platform)
            if top.is_index
            else top
        )
        config = manifest.data.get("config") or {}
        digest = config.get("digest")
        if not isinstance(digest, str):
            raise RegistryError(f"manifest {manifest.digest} has no config", "integrity")
        blob = self.client.blob(host, repo, digest)
        try:
            data = json.loads(blob)
        except ValueError as exc:
            raise RegistryError(f"image config {digest} is not JSON", "integrity") from exc
        return str(((data.get("config") or {}) if isinstance(data, dict) else {}).get("User") or "")

    def _signature(self, host: str, repo: str, digest: str) -> SignatureVerdict:
        trust = self.settings.trust
        if trust.empty:
            return SignatureVerdict(
                "error",
                reason="no trusted keys or identities configured "
                "(params.imageTrust, or --key / --certificate-identity)",
            )
        verdicts: list[SignatureVerdict] = []
        if trust.keys:
            verdicts.append(cosign.verify_image(self.client, host, repo, digest, trust.keys))
        verdicts.extend(v(self.client, host, repo, digest) for v in self.settings.extra_verifiers)
        return combine(verdicts)

    def _vulnerabilities(self, ref: refs.ImageRef) -> dict[str, Any]:
        digest = ref.digest or ""
        with self._lock:
            lock = self._vuln_locks.setdefault(digest, threading.Lock())
        with lock:
            if digest not in self._vulns:
                self._vulns[digest] = self._scan_vulnerabilities(ref)
            return self._vulns[digest]

    def _scan_vulnerabilities(self, ref: refs.ImageRef) -> dict[str, Any]:
        now = self.settings.now or datetime.now().astimezone()
        options = replace(
            self.settings.trivy,
            insecure=ref.api_host in self.client.options.insecure,
            ca_file=self.settings.trivy.ca_file or self.client.options.ca_file,
        )
        target = f"{ref.api_host}/{ref.repository}@{ref.digest}"
        if not self.settings.vulnerabilities:
            summary = {**trivy.summarize({}, now), "error": "vulnerability scanning disabled"}
            raw = None
        else:
            summary, raw = trivy.scan_vulnerabilities(target, options, now)
        if raw is not None:
            with self._lock:
                self.raw_vulnerabilities[ref.digest or ""] = raw
        if self.settings.evidence_dir:
            self._write_evidence(target, ref.digest or "", raw, options)
        return summary

    def _write_evidence(
        self, target: str, digest: str, raw: dict[str, Any] | None, options: trivy.TrivyOptions
    ) -> None:
        """Keep trivy's raw report and a CycloneDX SBOM beside the scan (evidence)."""
        folder = Path(self.settings.evidence_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        stem = digest.replace(":", "-")
        if raw is not None:
            (folder / f"{stem}.trivy.json").write_text(json.dumps(raw, indent=2, sort_keys=True))
        try:
            bom = trivy.sbom(target, options)
        except trivy.TrivyError as exc:
            (folder / f"{stem}.sbom-error.txt").write_text(f"{exc}\n")
        else:
            (folder / f"{stem}.cdx.json").write_text(json.dumps(bom, indent=2, sort_keys=True))


def error_report(image: str, message: str) -> dict[str, Any]:
    """An image that could not be resolved or read: every aspect is an error."""
    return {
        "image": image,
        "digest": "",
        "registry": "",
        "signature": SignatureVerdict("error", reason=message).as_fact(),
        "vulnerabilities": {"error": message},
        "user": None,
        "runAsRoot": None,
        "error": message,
    }


def summary_errors(report: Mapping[str, Any]) -> dict[str, str]:
    """Per aspect (signatures, vulnerabilities, config), why it could not be judged."""
    errors: dict[str, str] = {}
    if report.get("signature", {}).get("status") == "error":
        errors["signatures"] = str(report["signature"].get("reason"))
    if report.get("vulnerabilities", {}).get("error"):
        errors["vulnerabilities"] = str(report["vulnerabilities"]["error"])
    if report.get("runAsRoot") is None:
        errors["config"] = str(report.get("error") or "image config not read")
    return errors
