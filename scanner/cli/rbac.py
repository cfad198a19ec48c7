"""``ledgergate rbac``: who can do what, and which duties a subject holds.

Registered by ``cli/__init__.py`` with ``cli.add_command(rbac)``. Answers come from
:mod:`scanner.rbac.query`, which takes an Inventory; here the inventory is read from a
repository. Files that cannot be read are listed on stderr (and under ``incomplete`` in
JSON): the answer may then miss a binding, and the command says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.cli.util import ExitGroup, fail, options_into

if TYPE_CHECKING:  # the inventory (sources, redaction) loads only when a command runs
    from scanner.inventory import Inventory

FORMATS = ("table", "json")


@dataclass(frozen=True)
class Target:
    """Where the RBAC objects come from: a repository folder, or the live cluster."""

    path: Path
    cluster: bool = False
    kubeconfig: Path | None = None
    context: str | None = None


def _load(target: Target, config_path: Path | None) -> tuple[Inventory, Any]:
    from scanner.config import find_config, load_config
    from scanner.inventory import Inventory

    if target.cluster:
        config = load_config(find_config(Path.cwd(), config_path))
        return Inventory.from_items(_cluster_source(target).collect()), config
    config = load_config(find_config(target.path, config_path))
    from scanner.sources.repo import RepoSource

    source = RepoSource(
        target.path,
        excludes=config.exclude_paths,
        max_file_size=config.max_file_size,
        render=config.render,
    )
    return Inventory.from_items(source.collect()), config


def _cluster_source(target: Target) -> Any:
    """A read-only cluster source that lists exactly the RBAC kinds (and Namespaces)."""
    from scanner.analyzers.rbac import RbacAnalyzer
    from scanner.sources.kube import KubeSource
    from scanner.sources.kubeclient import KubeClient, connect

    conn = connect(target.kubeconfig, target.context)
    return KubeSource(KubeClient(conn), {}, context_kinds=RbacAnalyzer.reads)


def _incomplete(inventory: Inventory) -> list[str]:
    unread = [f"{p.origin.display()}: {p.message}" for p in inventory.problems]
    unread += [f"{c.target}: {c.reason}" for c in inventory.coverage if c.kinds]
    return unread


def _warn(data: dict[str, Any]) -> None:
    for line in data["incomplete"]:
        click.echo(f"warning: not read, the answer may be incomplete: {line}", err=True)
    for line in data["problems"]:
        click.echo(f"warning: {line}", err=True)
    for line in data["notes"]:
        click.echo(f"note: {line}", err=True)


def _emit(data: dict[str, Any], fmt: str, table: str) -> None:
    _warn(data)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(table, nl=False)


#: PATH (a repository), or ``--cluster`` with ``--kubeconfig``/``--context``: ``target``.
_target_options = options_into(
    Target,
    "target",
    click.argument(
        "path", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
    ),
    click.option(
        "--cluster",
        is_flag=True,
        help="Read RBAC from the live cluster (read-only) instead of PATH.",
    ),
    click.option(
        "--kubeconfig", type=click.Path(path_type=Path, dir_okay=False), help="Kubeconfig."
    ),
    click.option("--context", help="Kubeconfig context [default: the current context]."),
)


_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Configuration file (default: ledgergate.yaml at PATH); duties come from its params.",
)


@click.group(cls=ExitGroup)
def rbac() -> None:
    """Effective RBAC permissions, duties and separation-of-duties conflicts.

    \b
    Examples:
      ledgergate rbac who-can create pods/exec -n finance-prod .
      ledgergate rbac who-can delete schedules.velero.io .
      ledgergate rbac subject Group/oidc:finance-dba . --format json
      ledgergate rbac who-can get secrets -n finance-prod --cluster --context prod
    """


@rbac.command("who-can")
@click.argument("verb")
@click.argument("resource")
@_target_options
@click.option(
    "-n", "--namespace", help="Only grants that apply in this namespace (default: anywhere)."
)
@_FORMAT
@_CONFIG
def who_can_cmd(
    verb: str,
    resource: str,
    target: Target,
    namespace: str | None,
    fmt: str,
    config_path: Path | None,
) -> None:
    """List every subject allowed VERB on RESOURCE, and the binding -> role -> rule why.

    RESOURCE is written as for kubectl: secrets, pods/exec, schedules.velero.io,
    deployments.apps/scale, or a non-resource URL such as /metrics. Subjects are those
    bindings name; a Group stands for all its members, and members the repository knows
    (ServiceAccounts, subjects named elsewhere) are listed too, "via Group ...".
    """
    from scanner.rbac.query import who_can

    inventory, _ = _load(target, config_path)
    data = who_can(inventory, verb, resource, namespace)
    data["incomplete"] = _incomplete(inventory)
    _emit(data, fmt, _who_can_table(data))


def _who_can_table(data: dict[str, Any]) -> str:
    lines = [f"who can {data['request']['display']}:"]
    if not data["subjects"]:
        lines.append("  nobody")
    for s in data["subjects"]:
        lines.append(f"  {s['subject']}")
        for g in s["grants"]:
            lines.append(f"    {g['scope']:<28} {g['chain']}")
            lines.append(f"    {'':<28}   {_rule_text(g['rule'])}")
    return "\n".join(lines) + "\n"


def _rule_text(rule: dict[str, Any]) -> str:
    parts = [f"{k}={','.join(v or chr(34) * 2 for v in rule[k])}" for k in sorted(rule)]
    return " ".join(parts)


@rbac.command("subject")
@click.argument("subject")
@_target_options
@_FORMAT
@_CONFIG
def subject_cmd(subject: str, target: Target, fmt: str, config_path: Path | None) -> None:
    """Show a subject's duties (with grant chains), conflicts and permissions.

    SUBJECT is User/NAME, Group/NAME or ServiceAccount/NAMESPACE/NAME.
    """
    from scanner.rbac.model import Subject
    from scanner.rbac.query import describe_subject

    try:
        who = Subject.parse(subject)
    except ValueError as exc:
        fail(str(exc))
    inventory, config = _load(target, config_path)
    data = describe_subject(inventory, who, config.params)
    data["incomplete"] = _incomplete(inventory)
    _emit(data, fmt, _subject_table(data))


def _subject_table(data: dict[str, Any]) -> str:
    lines = [data["subject"]]
    if not data["known"]:
        lines.append("  (no binding names this subject; only group grants apply)")
    lines.append(f"  member of: {', '.join(data['memberOf']) or '-'}")
    lines.append("duties:")
    if not data["duties"]:
        lines.append("  none")
    for d in data["duties"]:
        lines.append(f"  {d['name']}")
        lines.extend(f"    {c}" for c in d["chains"])
    lines.append("conflicts:")
    if not data["conflicts"]:
        lines.append("  none")
    for c in data["conflicts"]:
        lines.append(f"  {' + '.join(c['duties'])}: {c['reason']}")
    lines.append("permissions:")
    if not data["permissions"]:
        lines.append("  none")
    for g in data["permissions"]:
        lines.append(f"  {g['scope']:<28} {_rule_text(g['rule'])}")
        lines.append(f"  {'':<28} from {g['chain']}")
    return "\n".join(lines) + "\n"
