"""``ImageScanSettings``: how images are checked, typed and validated once, at start-up.

The CLI builds it from ``params.imageScan``/``params.imageTrust`` in ``ledgergate.yaml``
plus the image flags, and hands it to the image analyzer. A bad entry (a key file that
does not load, an identity regexp that does not compile) is then a configuration error
(exit 2) before anything is read, not an analyzer failure halfway through the scan; and
the flags (trivy path, registry CA, key paths) never reach the ``params`` CEL rules see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner import clock
from scanner.errors import ConfigError
from scanner.images.checks import ScanSettings
from scanner.images.registry import RegistryOptions


@dataclass(frozen=True)
class ImageScanSettings:
    """Whether registries are read at all, what is checked, and how registries are reached."""

    enabled: bool = False
    scan: ScanSettings = field(default_factory=ScanSettings)
    registry: RegistryOptions = field(default_factory=RegistryOptions)


def _section(params: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = params.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"params.{name} must be a mapping")
    return value


def _number(section: str, scan: Mapping[str, Any], key: str, default: float) -> float:
    value = scan.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"params.{section}.{key}: expected a positive number, got {value!r}")
    return float(value)


def registry_options(params: Mapping[str, Any]) -> RegistryOptions:
    """Registry options from ``params.imageTrust.registries`` (``ca``, ``insecure``, ...)."""
    registries = _section(_section(params, "imageTrust"), "registries")
    insecure = registries.get("insecure") or ()
    if isinstance(insecure, str) or not all(isinstance(h, str) for h in insecure):
        raise ConfigError("params.imageTrust.registries.insecure: expected a list of HOST:PORT")
    retries = registries.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError(f"params.imageTrust.registries.retries: expected 0-10, got {retries!r}")
    return RegistryOptions(
        ca_file=registries.get("ca") or None,
        insecure=frozenset(insecure),
        docker_config=registries.get("dockerConfig") or None,
        timeout=_number("imageTrust.registries", registries, "timeoutSeconds", 10),
        retries=retries,
    )


def image_settings(params: Mapping[str, Any], base: Path | None = None) -> ImageScanSettings:
    """Typed settings from ``params``; raises :class:`ConfigError` for anything unusable."""
    from scanner.images import trivy
    from scanner.images.sigstore_bundle import verifier_for
    from scanner.images.trust import policy_from

    scan = _section(params, "imageScan")
    trust = policy_from(params, base)
    workers = scan.get("workers", 4)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 16:
        raise ConfigError(f"params.imageScan.workers: expected 1-16, got {workers!r}")
    extra = verifier_for(trust)
    checks = ScanSettings(
        trust=trust,
        platform=str(scan.get("platform", "linux/amd64")),
        vulnerabilities=bool(scan.get("vulnerabilities", True)),
        trivy=trivy.TrivyOptions(
            binary=scan.get("trivy") or None,
            cache_dir=scan.get("trivyCacheDir") or None,
            timeout=_number("imageScan", scan, "trivyTimeoutSeconds", trivy.DEFAULT_TIMEOUT),
        ),
        workers=workers,
        now=clock.now(),  # vulnerability ages: SOURCE_DATE_EPOCH makes them reproducible
        extra_verifiers=(extra,) if extra else (),
        evidence_dir=scan.get("evidenceDir") or None,
    )
    return ImageScanSettings(bool(scan.get("enabled")), checks, registry_options(params))
