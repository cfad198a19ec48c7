"""``ledgergate scan cluster``: the nightly audit of a live cluster (read-only).

Attached under the ``scan`` group in cli/__init__.py; exit codes and outputs are the same as
``scan repo`` (it reuses their helpers), so a CronJob and a CI gate read them alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli.change import trust_options
from scanner.cli.evidence import AuditOptions, audit_options
from scanner.cli.image import ImageFlags, image_options
from scanner.cli.nightly import RunOptions, nightly_options
from scanner.cli.util import (
    ExitCommand,
    OutputOptions,
    finish_scan,
    load_scan_config,
    output_options,
    progress,
)


@click.command("cluster", cls=ExitCommand)
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
    help="Judge only these namespaces (repeatable, globs allowed). Cluster-scoped objects and "
    "the context rules need (Schedules, TLSOptions, Middlewares, RBAC) are still read.",
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
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The GitOps repository production syncs from: each synced revision must be a "
    "commit on a protected branch that passes the change rules (LG-GITOPS-004).",
)
@trust_options
@audit_options
@image_options()
@nightly_options
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
    repo: Path | None,
    keyrings: tuple[Path, ...],
    allowed_signers: Path | None,
    approvals: Path | None,
    audit: AuditOptions,
    image_flags: ImageFlags,
    run: RunOptions,
) -> None:
    """Audit a live cluster, read-only, against the rules.

    Lists only the kinds the selected rules judge (plus Namespaces and the context
    analyzers read). A kind that cannot be read (forbidden, timed out) is a coverage
    gap: every rule that judges it, or needs it as context, reports `error`, and the
    exit code is 4 (scan incomplete). A CRD that is not installed is "not installed",
    not a gap. --namespace limits what is judged; context (Velero Schedules, Traefik
    TLSOptions and Middlewares, RBAC) is still read cluster-wide.

    \b
    Exit codes: 0 clean, 1 findings at/above --fail-on, 2 usage, 3 internal, 4 incomplete.
    A nightly job that should fail only on 3 and 4:  --fail-on none

    Production objects must be owned by Argo CD or Flux; with --repo (and the trust
    options of `scan changes`) each revision they run is traced to its commit, ticket
    and approvers.
    """
    from scanner.analyzers import (
        kinds_read_by_analyzers,
        kinds_synthesised_by_analyzers,
    )
    from scanner.pipeline import load_ruleset, run_scan
    from scanner.sources.kube import KubeSource
    from scanner.sources.kubeclient import KubeClient, connect
    from scanner.sources.kubeplan import matched_kinds

    tty = sys.stderr.isatty()
    outputs = run.outputs(outputs)
    audit.evidence = run.evidence(audit.evidence)
    config = image_flags.apply(load_scan_config(Path.cwd(), config_path))
    ruleset = load_ruleset(config)
    ledger = None
    if repo is not None:
        from scanner.changes import TrustSet, load_approvals
        from scanner.changescan import ChangeLedger

        reviews = load_approvals(approvals) if approvals else []
        trust = TrustSet(keyrings, allowed_signers)
        ledger = ChangeLedger(repo.resolve(), config, trust=trust, approvals=reviews)
    analyzers = image_flags.analyzers(config, ledger=ledger)
    conn = connect(kubeconfig, context, ca_file=ca_file)
    client = KubeClient(conn, timeout_s=request_timeout)
    if audit.evidence is not None:  # who the API server says we are, for the manifest
        from scanner.sources.kubeidentity import who_am_i

        audit.authenticated["cluster"] = who_am_i(client)
    source = KubeSource(
        client,
        matched_kinds(ruleset),
        namespaces=namespaces,
        include_secrets=include_secrets,
        page_size=page_size,
        progress=progress(tty),
        context_kinds=kinds_read_by_analyzers(),
        synthesised_kinds=kinds_synthesised_by_analyzers(),
    )
    outcome = run_scan(
        source,
        config,
        rules=ruleset,
        progress=progress(tty),
        waivers=audit.load_register(None, config),
        analyzers=analyzers,
    )
    audit.keep_inventory(outcome.inventory)
    result = outcome.result
    finish_scan(
        result, config, outputs, bundle=audit.write_bundle, after=run.reporter(audit.evidence)
    )
