"""Command line for audit evidence: scan options, ``evidence verify|diff`` and ``report``.

``audit_options`` adds ``--waivers``, ``--evidence`` and ``--sign-key`` to any scan
command and hands it one :class:`AuditOptions` value, so the repo, cluster and image
scans share one implementation. Like ``cli/__init__.py``, only this module prints or exits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.util import (
    EXIT_FINDINGS,
    ExitCommand,
    ExitGroup,
    F,
    fail,
    options_into,
    write_file,
)

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.findings import ScanResult
    from scanner.inventory import Inventory
    from scanner.waivers import WaiverRegister


@dataclass
class AuditOptions:
    """What ``--waivers``, ``--evidence`` and ``--sign-key`` asked for, and run state for them."""

    waivers: Path | None = None
    evidence: Path | str | None = None
    sign_key: Path | str | None = None
    sign_sigstore: bool = False
    inventory: Inventory | None = field(default=None, repr=False)
    register: WaiverRegister | None = None
    waivers_file: Path | None = None
    #: Files a scan kind adds to the bundle (e.g. the change log).
    extra_files: dict[str, bytes] = field(default_factory=dict)
    #: Identity claims proved by an authenticated source (e.g. ``cluster``).
    authenticated: dict[str, Any] = field(default_factory=dict)
    #: ``--previous``: the bundle this one follows (default: the latest beside it).
    previous: Path | None = None
    sigstore_trust_config: Path | None = None

    def load_register(
        self, root: Path | None, config: Config | None = None
    ) -> WaiverRegister | None:
        """``--waivers`` (replaces the repo's), or ``waivers.yaml`` at the scanned root.

        ``config`` sets the waiver limits; raises ConfigError for an invalid register.
        """
        from scanner.waivers import find_waivers, load_waivers

        path = find_waivers(root, self.waivers) if root else self.waivers
        if path is None:
            return None
        display = str(path)
        if root is not None:
            try:
                display = path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                display = str(path)
        self.waivers_file = path
        self.register = load_waivers(path, display, config=config)
        return self.register

    def keep_inventory(self, inventory: Inventory) -> None:
        """Remember what the rules saw (a scan outcome's), for the bundle's inventory snapshot."""
        self.inventory = inventory

    def write_bundle(self, result: ScanResult, config: Config) -> None:
        """Write ``--evidence`` if asked; raises ScannerError on a bad key or write error."""
        if self.evidence is None:
            return
        from dataclasses import replace

        from scanner.evidence.settings import from_config
        from scanner.reporters.bundle import BundleInputs, write_bundle

        base = config.path.parent if config.path else None
        audit = from_config(
            config.params, config.control_map_name, config.evidence, base, self.previous
        )
        audit = replace(audit, authenticated=dict(self.authenticated))
        inputs = BundleInputs(
            result=result,
            config_path=config.path,
            waivers_path=self.waivers_file,
            register=self.register,
            inventory=self.inventory,
            sign_key=self.sign_key,
            sign_sigstore=self.sign_sigstore,
            extra=self.extra_files,
            sigstore_trust_config=self.sigstore_trust_config,
            audit=audit,
        )
        if isinstance(self.evidence, str):  # s3://bucket/prefix/
            from scanner.reporters.bundle_s3 import write_bundle_s3

            uploaded = write_bundle_s3(inputs, self.evidence)
            for problem in uploaded.unreadable:
                click.echo(
                    f"ledgergate: warning: {self.evidence}{problem}; not taken as the previous "
                    "bundle",
                    err=True,
                )
            click.echo(
                f"ledgergate: evidence bundle uploaded to {self.evidence}{uploaded.key}", err=True
            )
            return
        write_bundle(inputs, self.evidence)


def _evidence_target(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """An ``s3://`` URL stays text (a Path would fold its ``//``); anything else is a Path."""
    if value is None or value.startswith("s3://"):
        return value
    return Path(value)


def _sign_key(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """A PKCS#11 URI stays text; anything else must be an existing key file."""
    if value is None or value.startswith("pkcs11:"):
        return value
    path = Path(value)
    if not path.is_file():
        raise click.BadParameter(f"key file {value!r} does not exist")
    return path


def _checked_audit(audit: AuditOptions) -> AuditOptions:
    """The flags that only make sense with a bundle, refused without one."""
    if audit.sigstore_trust_config is not None and not audit.sign_sigstore:
        fail("--sigstore-trust-config needs --sign-sigstore")
    for flag, given in (
        ("--sign-key", audit.sign_key is not None),
        ("--sign-sigstore", audit.sign_sigstore),
        ("--previous", audit.previous is not None),
    ):
        if given and audit.evidence is None:
            fail(f"{flag} needs --evidence")
    return audit


#: Add ``--waivers``, ``--evidence``, ``--sign-key``...; the command receives ``audit``.
audit_options = options_into(
    AuditOptions,
    "audit",
    click.option(
        "--waivers",
        type=click.Path(path_type=Path),
        help="Waiver register (default: waivers.yaml at the scanned root).",
    ),
    click.option(
        "--evidence",
        callback=_evidence_target,
        help="Write an audit-evidence bundle here: a folder, a .zip file, or s3://BUCKET/PREFIX/ "
        "(uploaded as a zip under S3 Object Lock, compliance mode, until retainUntil; a "
        "bucket without Object Lock is refused).",
    ),
    click.option(
        "--sign-key",
        callback=_sign_key,
        help="Key that signs the bundle manifest: a PEM private key file (ECDSA P-256/P-384, "
        "RSA >= 2048 or Ed25519; encrypted PKCS#8 with its passphrase in "
        "LEDGERGATE_SIGN_KEY_PASSPHRASE or the file LEDGERGATE_SIGN_KEY_PASSPHRASE_FILE "
        "names), or an HSM key as a PKCS#11 URI "
        "'pkcs11:token=LABEL;object=LABEL?module-path=LIB.so&pin-source=file:PIN'.",
    ),
    click.option(
        "--sign-sigstore",
        is_flag=True,
        help="Also sign the manifest keylessly with the CI job's ambient OIDC identity "
        "(Sigstore; needs network access to Fulcio and Rekor).",
    ),
    click.option(
        "--sigstore-trust-config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="ClientTrustConfig JSON of a private Sigstore instance for --sign-sigstore "
        "(its Fulcio, Rekor and trusted root; default: the public-good instance).",
    ),
    click.option(
        "--previous",
        type=click.Path(exists=True, path_type=Path),
        help="The bundle this one follows in its series (default: the latest bundle of the "
        "same target beside --evidence).",
    ),
    then=_checked_audit,
)


@click.group("evidence", cls=ExitGroup)
def evidence_group() -> None:
    """Verify audit-evidence bundles and compare two scans."""


@dataclass(frozen=True)
class TrustFlags:
    """Who must have signed a bundle (``--key``, ``--identity``...), and what to do if unsure."""

    key: Path | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    trusted_root: str | None = None
    #: ``--tsa-ca``: the time-stamping authority's CA; manifest.tsr must chain to it.
    tsa_ca: Path | None = None
    #: ``verify --integrity-only`` / ``report|diff --unverified``: go on without authenticity.
    lenient: bool = False

    @property
    def authenticates(self) -> bool:
        """A key or a keyless identity was given."""
        return self.key is not None or bool(self.identity or self.identity_regexp or self.issuer)

    def signer(self) -> Any:
        """The keyless signer, or None; a half-given identity is a usage error."""
        from scanner.evidence.verify import SignerIdentity

        if not (self.identity or self.identity_regexp or self.issuer):
            return None
        if not self.issuer or not (self.identity or self.identity_regexp):
            fail("keyless verification needs --issuer and --identity (or --identity-regexp)")
        return SignerIdentity(
            self.issuer, self.identity or "", self.identity_regexp or "", self.trusted_root
        )


def trust_options(lenient_flag: str, lenient_help: str) -> Callable[[F], F]:
    """Add the signer flags plus ``lenient_flag``; the command receives ``trust``."""
    return options_into(
        TrustFlags,
        "trust",
        click.option(
            "--key",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="PEM public key that must have signed manifest.json.",
        ),
        click.option("--identity", help="Keyless signer that must have signed (certificate SAN)."),
        click.option("--identity-regexp", help="Keyless signer, as a regular expression."),
        click.option("--issuer", help="OIDC issuer of the keyless signer (with --identity)."),
        click.option(
            "--trusted-root",
            type=click.Path(exists=True, dir_okay=False),
            help="Sigstore trusted_root.json (default: the production root in sigstore).",
        ),
        click.option(
            "--tsa-ca",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="PEM CA certificate(s) of the time-stamping authority: manifest.tsr must "
            "chain to it.",
        ),
        click.option(lenient_flag, "lenient", is_flag=True, help=lenient_help),
    )


@evidence_group.command("verify")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@trust_options(
    "--integrity-only",
    "Check only that every file matches manifest.json, without a key: says so in words, "
    "since anyone who can rewrite the bundle can rewrite its manifest too.",
)
def verify_cmd(bundle: Path, trust: TrustFlags) -> None:
    """Check every file's sha256 against manifest.json and the manifest's signature.

    With --key the PEM signature (manifest.sig.json) must verify; with --identity (or
    --identity-regexp) and --issuer the Sigstore bundle (manifest.sigstore.json) must;
    with --tsa-ca the RFC 3161 timestamp (manifest.tsr) must. A manifest that asked for
    a timestamp fails without one.
    Exit 0 when everything matches and a signature was verified (or --integrity-only
    was given and the hashes match); 1 when a file or signature does not match, or no
    --key/--identity was given; 2 when the bundle or key cannot be read or is malformed.
    """
    from scanner.evidence.verify import verify_bundle

    signer = trust.signer()
    outcome = verify_bundle(bundle, trust.key, signer, trust.tsa_ca)
    for problem in outcome.problems:
        click.echo(f"FAILED {problem}")
    for name in outcome.checked:
        click.echo(f"ok     {name}")
    if not outcome.signature_failed:
        click.echo(f"signature: {outcome.signature}")
    click.echo(f"timestamp: {outcome.timestamp}")
    if not outcome.ok:
        click.echo(f"{bundle}: verification FAILED ({len(outcome.problems)} problem(s))")
        sys.exit(EXIT_FINDINGS)
    if not trust.authenticates:
        if trust.lenient:
            click.echo(
                f"{bundle}: integrity only ({len(outcome.checked)} files match manifest.json); "
                "authenticity NOT checked: without --key or --identity anyone could have "
                "rewritten the bundle and its manifest"
            )
            return
        click.echo(
            f"{bundle}: NOT VERIFIED: authenticity not checked; give --key (or --identity "
            "and --issuer), or --integrity-only to check the hashes alone"
        )
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{bundle}: verified ({len(outcome.checked)} files)")


def checked_bundle(path: Path, trust: TrustFlags) -> bool:
    """Verify ``path`` before it is rendered; True when authentic, False when --unverified.

    Refuses (exit 1) a bundle that fails verification, and anything that cannot be
    authenticated (no key given, a loose findings.json) unless --unverified.
    """
    from scanner.evidence import archive
    from scanner.evidence.verify import verify_bundle

    hint = "; pass --unverified to render it anyway, stamped UNVERIFIED"
    if path.is_file() and not archive.is_zip_path(path):
        if not trust.lenient:
            fail(f"{path}: a findings.json carries no signature and cannot be verified{hint}", 1)
        return False
    if not trust.authenticates and not trust.lenient:
        fail(f"{path}: give --key (or --identity and --issuer) to verify the bundle{hint}", 1)
    outcome = verify_bundle(path, trust.key, trust.signer(), trust.tsa_ca)
    for problem in outcome.problems:
        click.echo(f"ledgergate: {'warning: ' if trust.lenient else ''}{problem}", err=True)
    if not outcome.ok and not trust.lenient:
        fail(f"{path}: verification FAILED; refusing to render it{hint}", 1)
    return outcome.ok and trust.authenticates


UNVERIFIED_HELP = (
    "Render even what cannot be verified (no key, failed verification, a findings.json); "
    "every page is then stamped UNVERIFIED."
)


@evidence_group.command("verify-series")
@click.argument("location")
@trust_options(
    "--integrity-only",
    "Check hashes and the chain without a key: says so in words, since whoever can "
    "rewrite the bundles can rewrite their manifests too.",
)
@click.option(
    "--max-interval-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=26.0,
    show_default=True,
    help="Longest pause between two scans of a series before it counts as a gap.",
)
def verify_series_cmd(location: str, trust: TrustFlags, max_interval_hours: float) -> None:
    """Verify every bundle in LOCATION and the chain their manifests form.

    LOCATION is a folder of bundles (zips or bundle folders) or s3://BUCKET/PREFIX/.
    Each bundle must verify as with `evidence verify`; per target, each manifest must
    name the digest of the one before. Gaps (a missing bundle, a restart, a pause
    longer than --max-interval-hours), forks and re-runs (two bundles after the same
    one) are reported. Exit 0 when all is whole, 1 naming each problem (or when no
    --key/--identity was given, unless --integrity-only), 2 when the location or a key
    cannot be read.
    """
    from datetime import timedelta

    from scanner.evidence import signing
    from scanner.evidence.store import read_series
    from scanner.evidence.timestamp import load_certificates
    from scanner.evidence.verify_series import verify_series

    if not trust.authenticates and not trust.lenient:
        fail(
            f"{location}: give --key (or --identity and --issuer) to verify the series, or "
            "--integrity-only to check hashes and the chain alone",
            EXIT_FINDINGS,
        )
    signer = trust.signer()
    public = signing.load_public_key(trust.key) if trust.key is not None else None
    roots = load_certificates(trust.tsa_ca) if trust.tsa_ca is not None else None
    bundles = read_series(location)
    report = verify_series(bundles, public, signer, roots, timedelta(hours=max_interval_hours))
    for chain in report.chains.values():
        click.echo(f"series {chain[0].target if chain else '?'}: {len(chain)} bundle(s)")
        for link in chain:
            click.echo(
                f"  {link.finished or '-':<20} {link.name}  manifest {link.digest[:16]}  "
                f"signature: {link.signature}; timestamp: {link.timestamp}"
            )
    for problem in report.problems:
        click.echo(f"FAILED {problem}")
    if not bundles:
        click.echo(f"{location}: no evidence bundles found")
        sys.exit(EXIT_FINDINGS)
    if not report.ok:
        click.echo(f"{location}: series verification FAILED ({len(report.problems)} problem(s))")
        sys.exit(EXIT_FINDINGS)
    if not trust.authenticates:
        click.echo(f"{location}: integrity only: hashes and chain match; authenticity NOT checked")
        return
    click.echo(f"{location}: series verified ({len(bundles)} bundles)")


@evidence_group.command("diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md"]),
    default="text",
    show_default=True,
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write here, not stdout.")
@trust_options("--unverified", UNVERIFIED_HELP)
def diff_cmd(old: Path, new: Path, fmt: str, output: Path | None, trust: TrustFlags) -> None:
    """New, fixed and still-open findings and waivers that expired between two scans.

    OLD and NEW are evidence bundles (folders or .zip), verified first with --key or
    --identity/--issuer (both must verify), or findings.json files with --unverified.
    Findings are matched by fingerprint, not by line number; changes of scope (rules,
    paths, inputs) are listed apart from fixes.
    """
    import json

    from scanner.evidence.diff import diff, load_findings
    from scanner.reporters.scandiff import render_markdown, render_text
    from scanner.reporters.templating import stamp_unverified

    verified = checked_bundle(old, trust) & checked_bundle(new, trust)
    result = diff(load_findings(old), load_findings(new))
    if fmt == "json":
        doc = result.to_dict()
        if not verified:
            doc["verified"] = False
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    else:
        text = render_markdown(result) if fmt == "md" else render_text(result)
    _emit(text if verified else stamp_unverified(text, fmt), output)


@evidence_group.command("sample")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--control", required=True, help="Control id, e.g. AC-5 or pci-dss-4.0:7.2.2.")
@click.option("--framework", help="Framework of the control when the id is in several.")
@click.option("--size", type=click.IntRange(min=1), required=True, help="Items to draw.")
@click.option("--seed", help="Seed of the draw (default: a new random one, printed).")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Also write the sample record (JSON)."
)
def sample_cmd(
    bundle: Path,
    control: str,
    framework: str | None,
    size: int,
    seed: str | None,
    output: Path | None,
) -> None:
    """Draw a reproducible random sample of a control's tested population.

    Rows are ranked by sha256("SEED:EVIDENCE-POINTER") and the first SIZE taken, so the
    same seed always gives the same items, with any sha256 tool (a pass findings.json
    only counts points at the object it judged in inventory.json and is ranked by
    sha256("SEED:EVIDENCE-POINTER:FINGERPRINT")). Each item is printed with its
    finding's evidence; --output records seed, method and selection as JSON, with the
    judged object of each counted pass.
    """
    import json
    import secrets

    from scanner.evidence import archive
    from scanner.evidence.manifest import MANIFEST, sha256
    from scanner.evidence.sample import draw
    from scanner.evidence.verify import verify_files

    seed = seed if seed is not None else str(secrets.randbelow(2**32))
    files = archive.read(bundle)
    for problem in verify_files(files).problems:
        click.echo(f"ledgergate: warning: unverified bundle: {problem}", err=True)
    drawn = draw(files, control, size, seed, framework)
    click.echo(
        f"{drawn.framework} {drawn.control}: {len(drawn.items)} of {drawn.population_size} "
        f"items, seed {drawn.seed}"
    )
    for item in drawn.items:
        f = item["finding"]
        where = item["location"] or "-"
        name = f"{item['namespace']}/{item['name']}" if item["namespace"] else item["name"]
        click.echo(
            f"- {item['result']:<6} {item['rule']} {item['kind']} {name} at {where} "
            f"({item['evidence']})"
        )
        if "judged" in item:
            click.echo(f"    passed; the object as judged is in the bundle at {item['evidence']}")
        else:
            click.echo(f"    {f.get('message', '')}")
        for e in f.get("evidence", ()):
            value = f" = {e['value']}" if e.get("value") else ""
            click.echo(f"    evidence: {e.get('path', '')}{value}")
    if output is not None:
        record = drawn.record(sha256(files.get(MANIFEST, b"")))
        write_file(output, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _emit(text: str, output: Path | None) -> None:
    write_file(output if output is not None else Path("-"), text)


@click.command("report", cls=ExitCommand)
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "csv", "oscal"]),
    default="html",
    show_default=True,
    help="html/md: the report; csv: controls.csv; oscal: an OSCAL 1.1.2 assessment-results "
    "JSON document (needs a bundle).",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write here, not stdout.")
@trust_options("--unverified", UNVERIFIED_HELP)
def report_cmd(bundle: Path, fmt: str, output: Path | None, trust: TrustFlags) -> None:
    """Re-render a verified bundle as HTML, Markdown or the controls CSV.

    The bundle is verified first (--key, or --identity and --issuer) and refused if it
    does not verify; --unverified renders it (or a loose findings.json) anyway, stamped
    UNVERIFIED. Rules are never re-evaluated.
    """
    from scanner.reporters.templating import stamp_unverified

    verified = checked_bundle(bundle, trust)
    if fmt == "oscal":
        _emit(_oscal(bundle), output)
        return
    view = _load_view(bundle)
    if fmt == "html":
        from scanner.reporters.html import render_html

        text = render_html(view)
    elif fmt == "md":
        from scanner.reporters.markdown import render_markdown

        text = render_markdown(view)
    else:
        from scanner.reporters.view import controls_csv

        text = controls_csv(view)
    _emit(text if verified else stamp_unverified(text, fmt), output)


def _oscal(path: Path) -> str:
    """OSCAL assessment results of a bundle (verified, or warned about)."""
    import json

    from scanner.errors import ReportError
    from scanner.evidence import archive
    from scanner.evidence.manifest import MANIFEST
    from scanner.evidence.population import iter_population
    from scanner.evidence.verify import verify_files
    from scanner.reporters.oscal import render_oscal

    if path.is_file() and not archive.is_zip_path(path):
        raise ReportError(f"{path}: --format oscal needs an evidence bundle (folder or .zip)")
    files = archive.read(path)
    for problem in verify_files(files).problems:
        click.echo(f"ledgergate: warning: unverified bundle: {problem}", err=True)
    try:
        doc = json.loads(files["findings.json"])
        # a findings.json that counts its passes: their observations come from the population
        rows = iter_population(files) if doc.get("passes") else iter(())
        return render_oscal(doc, json.loads(files[MANIFEST]), rows)
    except (KeyError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: not a readable evidence bundle: {exc}") from exc


def _load_view(path: Path) -> Any:
    import json

    from scanner.errors import ReportError
    from scanner.evidence import archive
    from scanner.evidence.findings_doc import load_findings
    from scanner.evidence.manifest import MANIFEST
    from scanner.reporters.bundle import bundle_view
    from scanner.reporters.view import build_view

    doc = load_findings(path)
    if path.is_file() and not archive.is_zip_path(path):
        return build_view(doc)
    files = archive.read(path)
    if MANIFEST not in files:
        return build_view(doc)
    try:
        manifest = json.loads(files[MANIFEST])
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: manifest.json is not valid JSON: {exc}") from exc
    return bundle_view(doc, manifest, files)
