"""``ledgergate scan cluster``: the nightly audit of a live cluster (read-only).

Attached under the ``scan`` group in cli.py; exit codes and outputs are the same as
``scan repo`` (it reuses their helpers), so a CronJob and a CI gate read them alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli_evidence import AuditOptions, audit_options
from scanner.cli_image import ImageFlags, image_options
from scanner.cliutil import (
    OutputOptions,
    fail,
    finish_scan,
    load_scan_config,
    output_options,
    progress,
)


@click.command("cluster")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Kubeconfig file [default: $KUBECONFIG, ~/.kube/config, or in-cluster].",
)
@click.option("--context", help="Kubeconfig context [default: the current context].")
@click.option(
    "--certificate-authority",
    "ca_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CA bundle to trust for the API server (overrides the kubeconfig's).",
)
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    metavar="GLOB",
    help="Only these namespaces (repeatable, globs allowed); cluster-scoped kinds are still read.",
)
@click.option(
    "--include-secrets",
    is_flag=True,
    help="Also read Secrets, as metadata only (their values are never requested).",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="ledgergate.yaml.")
@output_options
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    metavar="S",
    help="Seconds to wait for each API request.",
)
@click.option("--page-size", type=click.IntRange(min=1), default=500, show_default=True)
@audit_options
@image_options()
def cluster(
    kubeconfig: Path | None,
    context: str | None,
    ca_file: Path | None,
    namespaces: tuple[str, ...],
    include_secrets: bool,
    config_path: Path | None,
    outputs: OutputOptions,
    request_timeout: float,
    page_size: int,
    audit: AuditOptions,
    image_flags: ImageFlags,
) -> None:
    """Audit a live cluster, read-only, against the rules.

    Lists only the kinds the selected rules judge (plus Namespaces). A kind that
    cannot be read (forbidden, timed out) is listed as a coverage gap and every rule
    that judges it reports `error`, so the exit code is 1: a control that could not
    be checked has not passed. A CRD that is not installed is only a note.
    """
    from scanner.analyzers import kinds_read_by_analyzers
    from scanner.errors import ScannerError
    from scanner.pipeline import load_ruleset, run_scan
    from scanner.sources.kube import KubeSource
    from scanner.sources.kubeclient import KubeClient, connect

    tty = sys.stderr.isatty()
    try:
        config = image_flags.apply(load_scan_config(Path.cwd(), config_path))
        ruleset = load_ruleset(config)
        conn = connect(kubeconfig, context, ca_file=ca_file)
        client = KubeClient(conn, timeout_s=request_timeout)
        if audit.evidence is not None:  # who the API server says we are, for the manifest
            from scanner.sources.kubeidentity import who_am_i

            audit.authenticated["cluster"] = who_am_i(client)
        source = KubeSource(
            client,
            ruleset,
            namespaces=namespaces,
            include_secrets=include_secrets,
            page_size=page_size,
            progress=progress(tty),
            context_kinds=kinds_read_by_analyzers(),
        )
        result = run_scan(
            source,
            config,
            rules=ruleset,
            progress=progress(tty),
            waivers=audit.load_register(None),
            on_inventory=audit.keep_inventory,
        )
    except ScannerError as exc:
        fail(exc.diagnostics())
    finish_scan(result, config, outputs, bundle=audit.write_bundle)
