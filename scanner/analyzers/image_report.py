"""``facts.imageReport``: per container, the image's digest, signature, vulnerabilities, user.

Reads registries only when image scanning is enabled (``params.imageScan.enabled``, or
``--images``). The CLI injects the validated
:class:`~scanner.images.settings.ImageScanSettings`; without them (rule fixtures, library
use) they are built from ``params``. Otherwise each workload's ``imageReport`` is
``{"_error": reason}``, so every rule that requires it reports ``error`` saying scanning
is off, instead of passing unchecked, and scans that exclude the image rules carry no noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, containers_of_resource, pod_spec_of
from scanner.model import Resource

if TYPE_CHECKING:
    from scanner.images.settings import ImageScanSettings

NOT_ENABLED = (
    "image scanning not enabled: run with --images (or set params.imageScan.enabled: true) "
    "so image signatures, vulnerabilities and users are checked, or exclude these rules "
    "under rules.exclude in ledgergate.yaml"
)
#: Workload-level aspects; a rule requires ``imageReport.<aspect>`` to read one.
ASPECTS = ("signatures", "vulnerabilities", "config")


class ImageAnalyzer(Analyzer):
    """One report per unique image digest, attached to every workload that runs it."""

    name = "images"
    provides = ("imageReport",)

    def __init__(
        self,
        reports: Mapping[str, Mapping[str, Any]] | None = None,
        client: Any = None,
        settings: ImageScanSettings | None = None,
    ) -> None:
        #: Precomputed reports by image string (rule fixtures); None means use the registry.
        self.static = reports
        self.client = client
        self.settings = settings
        self.scanner: Any = None

    def _settings(self, params: Mapping[str, Any]) -> ImageScanSettings:
        if self.settings is not None:
            return self.settings
        from scanner.images.settings import image_settings

        return image_settings(params)

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
        enabled = self.settings.enabled if self.settings else _enabled_in(params)
        if self.static is None and not enabled:
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
        from scanner.images.checks import ImageScanner
        from scanner.images.registry import RegistryClient

        settings = self._settings(params)
        client = self.client or RegistryClient(settings.registry)
        self.scanner = ImageScanner(client, settings.scan)
        reports: dict[str, Any] = self.scanner.reports(images)
        return reports


def _enabled_in(params: Mapping[str, Any]) -> bool:
    scan = params.get("imageScan") or {}
    return isinstance(scan, Mapping) and bool(scan.get("enabled"))


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
    from scanner.images.checks import error_report

    return error_report(image, why)


def workload_fact(
    containers: list[dict[str, Any]], reports: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Per-container entries plus, per aspect, ``_error`` when any image could not be judged."""
    from scanner.images.checks import summary_errors

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
