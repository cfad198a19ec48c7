"""Command line: the only place that prints, and the only place that exits.

Exit codes (``cli.util.EXIT_CODES``, the README's table): 0 nothing at or above the
threshold; 1 findings at or above ``--fail-on`` or any ``error`` result; 2 usage or
configuration error; 3 internal error (a bug: please report it); 4 scan incomplete
(a coverage gap).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from scanner import __version__
from scanner.cli.util import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    ExitGroup,
    fail,
    load_scan_config,
)


@click.group(
    cls=ExitGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="ledgergate")
@click.option(
    "--no-color",
    is_flag=True,
    help="No colour on the terminal (also when NO_COLOR is set); files are never coloured.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="For CI logs: no progress lines, and of the terminal table only the summary line "
    "(--output, --sarif and --json files are complete).",
)
def cli(no_color: bool, quiet: bool) -> None:
    """Ledgergate: finance-control compliance checks for Kubernetes estates.

    Judges Git repositories (the pre-merge gate), live clusters (the nightly audit,
    read-only) and container images against declarative rules for RBAC separation of
    duties, secrets, image integrity, encryption, backup retention and Traefik TLS, and
    writes table, JSON, SARIF, HTML and Markdown reports and signed evidence bundles.

    \b
    Examples:
      ledgergate scan repo .                         # table, exit 1 on high+ findings
      ledgergate scan repo . --base origin/main --sarif out.sarif
      ledgergate scan cluster --context prod --evidence audit.zip
      ledgergate scan changes . --range origin/main~200..origin/main --approvals reviews.json
      ledgergate scan image registry.example/odoo:17 --key release.pub
      ledgergate rbac who-can create pods/exec -n finance-prod .
      ledgergate rules list --framework pci-dss-4.0
      ledgergate evidence verify audit.zip --key signer.pub
      ledgergate --quiet --no-color scan repo .      # CI logs: the summary line only
    """
    from scanner.terminal import TERMINAL

    TERMINAL.no_color, TERMINAL.quiet = no_color, quiet


@cli.group()
def scan() -> None:
    """Scan a target: a repository, a live cluster, container images or a change history."""


@cli.group()
def rules() -> None:
    """List, show and test rules."""


def _ruleset(config_path: Path | None, extra: tuple[Path, ...] = ()) -> Any:
    from scanner.rules import load_rules
    from scanner.shipped import rules_dir

    config = load_scan_config(Path.cwd(), config_path)
    folders = list(extra) or [rules_dir(), *config.rule_paths]
    loaded = load_rules(
        folders,
        severity_overrides=config.severity_overrides,
        control_map=config.control_map,
    )
    return loaded, config


@rules.command("list")
@click.option("--framework", help="Only rules mapped to this framework (e.g. pci-dss-4.0).")
@click.option("--family", help="Only rules of this family (e.g. rbac, traefik-tls).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--config", "config_path", type=click.Path(path_type=Path))
def rules_list(
    framework: str | None, family: str | None, fmt: str, config_path: Path | None
) -> None:
    """List the loaded rules with severity, family and controls."""
    import json

    ruleset, _ = _ruleset(config_path)
    selected = [
        r
        for r in ruleset
        if (not framework or any(c.framework == framework for c in r.controls))
        and (not family or r.family == family)
    ]
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.value,
                "family": r.family,
                "controls": [{"framework": c.framework, "id": c.id} for c in r.controls],
            }
            for r in selected
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for r in selected:
        click.echo(f"{r.id:<14} {r.severity.value:<9} {r.family:<12} {r.title}")
    click.echo(f"{len(selected)} rule(s)")


@rules.command("show")
@click.argument("rule_id")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
def rules_show(rule_id: str, config_path: Path | None) -> None:
    """Show one rule: rationale, controls, assertion and remediation."""
    from scanner.catalogue import describe

    ruleset, _ = _ruleset(config_path)
    rule = ruleset.get(rule_id)
    if rule is None:
        fail(f"no rule {rule_id!r} (see `ledgergate rules list`)")
    kinds = ", ".join(f"{g}/{k}" if g not in ("", "*") else k for g, k in rule.match.kinds)
    click.echo(f"{rule.id}  [{rule.severity.value}]  {rule.title}")
    click.echo(f"family:      {rule.family}")
    click.echo(
        f"applies to:  {kinds}"
        + ("  (production namespaces)" if rule.match.production_only else "")
    )
    click.echo("controls:")
    for c in rule.controls:
        info = describe(c.framework, c.id)
        click.echo(f"  {c.framework} {c.id}" + (f"  {info.title}" if info else ""))
    if rule.rationale:
        click.echo(f"\nrationale:\n  {rule.rationale}")
    if rule.procedure:
        click.echo(f"\ntest procedure:\n  {rule.procedure}")
    for variable in rule.source.get("variables") or ():
        click.echo(f"\nvariables.{variable['name']} (CEL):\n  {variable['expression'].strip()}")
    click.echo(f"\nassert (CEL):\n  {rule.assertion.source.strip()}")
    click.echo(f"\nremediation:\n  {rule.remediation}")
    if rule.help_url:
        click.echo(f"\nmore: {rule.help_url}")
    click.echo(f"\nfile: {rule.path}")


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Print passing checks too.")
def rules_test(paths: tuple[Path, ...], config_path: Path | None, verbose: bool) -> None:
    """Run each rule against its pass.*/fail.* fixtures (default: the shipped rules).

    Fixtures live in a folder named after the rule, beside the rule file:
    <pack>/<ID>.yaml with <pack>/<ID>/pass.<case>.yaml and fail.<case>.yaml.
    """
    from scanner.ruletest import run_all

    ruleset, config = _ruleset(config_path, paths)
    passed = failed = 0
    for outcome in run_all(ruleset, config.params):
        if outcome.ok:
            passed += 1
        else:
            failed += 1
        if verbose or not outcome.ok:
            mark = "ok  " if outcome.ok else "FAIL"
            click.echo(f"{mark} {outcome.rule_id} {outcome.fixture.name}: {outcome.detail}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def main() -> None:
    """Console-script entry point; turns an unexpected crash into exit 3 with a short note.

    A :class:`~scanner.errors.ScannerError` never gets here: the root group
    (:class:`~scanner.cli.util.ExitGroup`) maps its class to the exit code.
    """
    try:
        cli.main(prog_name="ledgergate", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort: a short message, never a traceback
        click.echo(f"ledgergate: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


def _register_subcommands() -> None:
    """Command groups that live in their own modules (one module per capability)."""
    from scanner.cli.baseline import baseline
    from scanner.cli.change import changes
    from scanner.cli.cluster import cluster
    from scanner.cli.evidence import evidence_group, report_cmd
    from scanner.cli.image import scan_image_cmd
    from scanner.cli.init import init_cmd
    from scanner.cli.rbac import rbac
    from scanner.cli.repo import scan_repo_cmd

    scan.add_command(scan_repo_cmd)
    scan.add_command(cluster)
    scan.add_command(changes)
    scan.add_command(scan_image_cmd)
    cli.add_command(rbac)
    cli.add_command(evidence_group)
    cli.add_command(report_cmd)
    cli.add_command(init_cmd)
    cli.add_command(baseline)


_register_subcommands()
