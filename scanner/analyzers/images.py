"""``facts.imageReport``: per container, the image's digest, signature, vulnerabilities, user.

Reads registries only when image scanning is enabled (``params.imageScan.enabled``, set
by ``--images``). Otherwise each workload's ``imageReport`` is ``{"_error": reason}``,
so every rule that requires it reports ``error`` saying scanning is off, instead of
passing unchecked, and scans that exclude the image rules carry no noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, containers_of_resource, pod_spec_of
from scanner.model import Resource

NOT_ENABLED = (
    "image scanning not enabled: run with --images (or set params.imageScan.enabled: true) "
    "so image signatures, vulnerabilities and users are checked, or exclude these rules "
    "under rules.exclude in ledgergate.yaml"
)
#: Workload-level aspects; a rule requires ``imageReport.<aspect>`` to read one.
ASPECTS = ("signatures", "vulnerabilities", "config")


def now_utc() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` (so vulnerability ages are reproducible)."""
    from scanner import clock

    return clock.now()


def settings_from(params: Mapping[str, Any]) -> Any:
    """Scan settings from ``params.imageScan`` and ``params.imageTrust``."""
    from scanner.images import trivy
    from scanner.images.report import ScanSettings
    from scanner.images.sigstore_bundle import verifier_for
    from scanner.images.trust import policy_from

    scan = params.get("imageScan") or {}
    trust = policy_from(params)
    extra = verifier_for(trust)
    return ScanSettings(
        trust=trust,
        platform=str(scan.get("platform", "linux/amd64")),
        vulnerabilities=bool(scan.get("vulnerabilities", True)),
        trivy=trivy.TrivyOptions(
            binary=scan.get("trivy") or None,
            cache_dir=scan.get("trivyCacheDir") or None,
            timeout=float(scan.get("trivyTimeoutSeconds", trivy.DEFAULT_TIMEOUT)),
        ),
        workers=max(1, min(16, int(scan.get("workers", 4)))),
        now=now_utc(),
        extra_verifiers=(extra,) if extra else (),
        evidence_dir=scan.get("evidenceDir") or None,
    )


class ImageAnalyzer(Analyzer):
    """One report per unique image digest, attached to every workload that runs it."""

    name = "images"
    provides = ("imageReport",)

    def __init__(
        self, reports: Mapping[str, Mapping[str, Any]] | None = None, client: Any = None
    ) -> None:
        #: Precomputed reports by image string (rule fixtures); None means use the registry.
        self.static = reports
        self.client = client
        self.scanner: Any = None

    def for_fixture(self, facts: Mapping[str, Any]) -> Analyzer:
        """Rule fixtures have no registry: read ``imageReports`` from the fixture's sidecar."""
        reports = facts.get("imageReports")
        return ImageAnalyzer(reports) if isinstance(reports, Mapping) else self

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Collect images from workloads, report each digest once, attach per container."""
        workloads: dict[int, list[dict[str, Any]]] = {}
        for index, resource in enumerate(inventory.resources):
            if pod_spec_of(resource) is not None:
                found = [running_image(resource, c) for c in containers_of_resource(resource)]
                workloads[index] = [c for c in found if isinstance(c.get("image"), str)]
        result = AnalyzerResult()
        if self.static is None and not (params.get("imageScan") or {}).get("enabled"):
            result.facts = {index: {"imageReport": {"_error": NOT_ENABLED}} for index in workloads}
            return result
        images = {c["image"] for cs in workloads.values() for c in cs}
        reports = self._reports(images, params)
        for index, containers in workloads.items():
            result.facts[index] = {"imageReport": workload_fact(containers, reports)}
        return result

    def _reports(self, images: set[str], params: Mapping[str, Any]) -> dict[str, Any]:
        if self.static is not None:
            missing = "no precomputed image report in the fixture's .facts.yaml"
            return {i: dict(self.static.get(i) or _missing(i, missing)) for i in images}
        from scanner.images.registry import RegistryClient, options_from
        from scanner.images.report import ImageScanner

        client = self.client or RegistryClient(options_from(params))
        self.scanner = ImageScanner(client, settings_from(params))
        reports: dict[str, Any] = self.scanner.reports(images)
        return reports


def running_image(resource: Resource, container: dict[str, Any]) -> dict[str, Any]:
    """For a live Pod, judge the digest that actually runs (``status...imageID``).

    A tag may have moved since the Pod started; the kubelet records the digest it pulled.
    The spec's image stays in ``declaredImage``.
    """
    status = resource.body.get("status")
    if resource.ref.kind != "Pod" or not isinstance(status, Mapping):
        return container
    for field in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(field) or ():
            if not isinstance(entry, Mapping) or entry.get("name") != container.get("name"):
                continue
            image_id = str(entry.get("imageID") or "")
            ref = image_id.split("://", 1)[-1]
            if "@sha256:" in ref and not ref.startswith("sha256:"):
                return {**container, "image": ref, "declaredImage": container.get("image")}
    return container


def _missing(image: str, why: str) -> dict[str, Any]:
    from scanner.images.report import error_report

    return error_report(image, why)


def workload_fact(
    containers: list[dict[str, Any]], reports: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Per-container entries plus, per aspect, ``_error`` when any image could not be judged."""
    from scanner.images.report import summary_errors

    entries: list[dict[str, Any]] = []
    problems: dict[str, list[str]] = {a: [] for a in ASPECTS}
    for c in containers:
        report = reports[c["image"]]
        entries.append(
            {
                "container": c.get("name", ""),
                "path": c["_path"],
                "image": c["image"],
                "declaredImage": c.get("declaredImage", c["image"]),
                "digest": report.get("digest", ""),
                "pinned": "@sha256:" in c["image"],
                "registry": report.get("registry", ""),
                "signature": report.get("signature", {}),
                "vulnerabilities": report.get("vulnerabilities", {}),
                "user": report.get("user"),
                "runAsRoot": report.get("runAsRoot"),
            }
        )
        for aspect, reason in summary_errors(report).items():
            problems[aspect].append(f"{c['image']}: {reason}")
    fact: dict[str, Any] = {"containers": entries}
    for aspect, reasons in problems.items():
        fact[aspect] = {"_error": "; ".join(sorted(set(reasons)))} if reasons else {"ok": True}
    return fact
