"""Pre-merge mode: judge what a change does, with the merge base's (trusted) configuration.

The merge-base tree is extracted with ``git archive`` into a temporary folder and scanned
with the same rules as the change. The gate then fails only on findings that are new
at HEAD (by fingerprint, following git's rename detection) or got worse (severity up,
``pass`` to ``fail``, ``fail`` to ``error``); findings that disappeared are reported as
fixed. The configuration, waiver register and custom rule folders come from the merge
base (or from ``--config``/``--waivers``); the change's own versions are compared with
them and every weakening becomes an LG-GATE-001 finding. Any git failure is a
configuration error, never an empty comparison.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scanner import yamlutil
from scanner.analyzers import Analyzer, default_analyzers
from scanner.config import Config, confined_file, find_config, load_config
from scanner.errors import ConfigError
from scanner.findings import Comparison, ScanResult
from scanner.inventory import Inventory
from scanner.model import SYNTHETIC_GROUP, Finding, Origin, Resource, ResourceRef, Status
from scanner.pipeline import (
    HISTORY_FAMILIES,
    load_ruleset,
    no_cyclic_gc,
    repo_source,
    run_scan,
)
from scanner.rules import RuleSet, rule_files
from scanner.sources.base import Source, SourceItem
from scanner.sources.repo import RepoSource, run_git
from scanner.waivers import WaiverRegister, find_waivers, load_waivers

GIT_TIMEOUT_S = 120
#: Largest merge-base tree extracted (bytes of tar stream).
MAX_BASE_TREE = 2 * 1024 * 1024 * 1024
OPEN = (Status.FAIL, Status.ERROR)


def git(root: Path, *args: str) -> bytes:
    """Run git; any failure is a ConfigError naming the command and git's own message."""
    try:
        done = run_git(root, *args, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"--base: cannot run git {args[0]}: {exc}") from exc
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(
            f"--base: git {' '.join(args[:2])} failed in {root}: {why[-1] if why else 'no output'} "
            "(is it a git repository, and is the base ref fetched?)"
        )
    return done.stdout


@dataclass(frozen=True)
class Revisions:
    """The two commits compared, and how the scanned folder sits in the repository."""

    base: str
    head: str
    prefix: str
    renames: Mapping[str, str]
    changed: frozenset[str]


def revisions(root: Path, base_ref: str) -> Revisions:
    """Merge base, HEAD, the folder's prefix and the renames between them."""
    head = git(root, "rev-parse", "--verify", "HEAD^{commit}").decode().strip()
    base = git(root, "merge-base", base_ref, "HEAD").decode().strip()
    prefix = git(root, "rev-parse", "--show-prefix").decode().strip()
    out = git(root, "diff", "-M", "--name-status", "-z", "--relative", base, "--", ".")
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    renames: dict[str, str] = {}
    changed: set[str] = set()
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        if status[:1] in "RC":
            old, new = fields[i + 1], fields[i + 2]
            if status[0] == "R":
                renames[old] = new
            changed.update((old, new))
            i += 3
        else:
            changed.add(fields[i + 1])
            i += 2
    untracked = git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
    changed.update(n for n in untracked.decode("utf-8", "surrogateescape").split("\0") if n)
    return Revisions(base, head, prefix, renames, frozenset(changed))


def extract_base(root: Path, revs: Revisions, into: Path) -> None:
    """The merge base's files of the scanned folder, via ``git archive`` (no checkout)."""
    treeish = f"{revs.base}:{revs.prefix}" if revs.prefix else revs.base
    # from the top level: inside a subfolder git archive resolves paths against the
    # working directory, which the tree-ish base:prefix no longer contains
    top = Path(git(root, "rev-parse", "--show-toplevel").decode().strip())
    data = git(top, "archive", "--format=tar", treeish)
    if len(data) > MAX_BASE_TREE:
        raise ConfigError(f"--base: the merge-base tree is over {MAX_BASE_TREE:,} bytes")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(into, filter="data")


@dataclass(frozen=True)
class TrustedInputs:
    """What the gate runs with: configuration, waivers and rules from the merge base."""

    config: Config
    register: WaiverRegister | None
    waivers_path: Path | None
    rules: RuleSet


def trusted_inputs(
    base_dir: Path,
    cli_config: Path | None,
    cli_waivers: Path | None,
    adjust: Callable[[Config], Config],
) -> TrustedInputs:
    """``--config``/``--waivers`` when given (they replace the repo's), else the base's."""
    if cli_config is not None:
        config = load_config(find_config(base_dir, cli_config))
    else:
        config = load_config(find_config(base_dir, None), confine=base_dir)
    config = adjust(config)
    waivers_path = find_waivers(base_dir, cli_waivers)
    register = None
    if waivers_path is not None:
        shown = waivers_path.name if cli_waivers is None else str(waivers_path)
        register = load_waivers(waivers_path, shown, config=config)
    return TrustedInputs(config, register, waivers_path, load_ruleset(config))


def _gate_object(name: str, kind: str, base: Any, head: Any, extra: Mapping[str, Any]) -> Resource:
    body = {
        "apiVersion": f"{SYNTHETIC_GROUP}/v1",
        "kind": "GateConfig",
        "metadata": {"name": name},
        "spec": {"type": kind, "base": base, "head": head, **extra},
    }
    ref = ResourceRef(f"{SYNTHETIC_GROUP}/v1", "GateConfig", "", name)
    return Resource(ref, body, Origin(path=name, start_line=1, end_line=1))


def _raw_config(path: Path | None, root: Path) -> dict[str, Any]:
    """A configuration document as written plus merged params (validated, confined)."""
    if path is None:
        config = load_config(None)
        return {"params": dict(config.params)}
    config = load_config(path, confine=root)
    return {**config.raw, "params": dict(config.params)}


def _raw_waivers(root: Path) -> tuple[str, Any]:
    path = find_waivers(root, None)
    if path is None:
        return "waivers.yaml", None
    data, _ = yamlutil.load_file(path)
    return path.name, _plain(data)


def _plain(node: Any) -> Any:
    """YAML dates as text, so the two documents compare (and serialise) alike."""
    import datetime as dt

    if isinstance(node, dt.date):
        return node.isoformat()
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _rule_digests(root: Path, folders: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for folder in folders:
        full = root / folder
        if not full.is_dir():
            continue
        for path in rule_files([confined_file(root, full, "rule folder")]):
            rel = path.relative_to(root).as_posix()
            out[rel] = hashlib.sha256(
                confined_file(root, path, "rule file").read_bytes()
            ).hexdigest()
    return out


def shipped_severities(rules: RuleSet) -> dict[str, str]:
    """Every loaded rule's severity as written, selected or not and before the config's
    overrides: what the gate compares a loosened selection or severity against (read from
    the rules already loaded, not by loading the packs a second time)."""
    every = (*rules.rules, *rules.excluded)
    return {
        r.id: str(r.source.get("severity", r.severity.value))
        for r in sorted(every, key=lambda r: r.id)
        if r.family not in HISTORY_FAMILIES
    }


def gate_objects(
    base_dir: Path, head_dir: Path, trusted: TrustedInputs, cli_config: bool, cli_waivers: bool
) -> list[Resource]:
    """One GateConfig per trusted input the change could weaken (none for CLI-given ones)."""
    out: list[Resource] = []
    if not cli_config:
        base_path = find_config(base_dir, None)
        head_path = find_config(head_dir, None)
        base_doc = _raw_config(base_path, base_dir)
        head_doc = _raw_config(head_path, head_dir)
        catalogue = shipped_severities(trusted.rules)
        name = (head_path or base_path or Path("ledgergate.yaml")).name
        out.append(_gate_object(name, "config", base_doc, head_doc, {"catalogue": catalogue}))
        folders = [str(p) for p in (base_doc.get("rules") or {}).get("paths", [])]
        if folders:
            out.append(
                _gate_object(
                    "rules:" + ",".join(folders),
                    "rules",
                    _rule_digests(base_dir, folders),
                    _rule_digests(head_dir, folders),
                    {},
                )
            )
    if not cli_waivers:
        name, base_w = _raw_waivers(base_dir)
        head_name, head_w = _raw_waivers(head_dir)
        out.append(
            _gate_object(head_name if head_w is not None else name, "waivers", base_w, head_w, {})
        )
    return out


class _WithGate(Source):
    """The change's tree plus the synthesised GateConfig objects."""

    name = "repo"

    def __init__(self, inner: RepoSource, extra: list[Resource]) -> None:
        self.inner = inner
        self.extra = extra

    def collect(self) -> Iterator[SourceItem]:
        yield from self.inner.collect()
        yield from self.extra

    def locate(self, findings: list[Finding]) -> list[Finding]:
        return self.inner.locate(findings)

    def origin(self) -> Origin:
        return self.inner.origin()

    def target(self) -> dict[str, str]:
        return self.inner.target()


def _identity(f: Finding, path: str) -> str:
    ref = f.resource
    who = (ref.group, ref.kind, ref.namespace, ref.name) if ref else ("", "", "", f.fingerprint)
    parts = [f.rule_id, *who, path, *sorted(e.path for e in f.evidence)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _coarse(f: Finding, path: str) -> tuple[str, ...]:
    ref = f.resource
    who = (ref.group, ref.kind, ref.namespace, ref.name) if ref else ("", "", "", f.fingerprint)
    return (f.rule_id, *who, path)


def compare(base: ScanResult, head: ScanResult, revs: Revisions) -> Comparison:
    """New, worse, unchanged (head fingerprints) and fixed (base findings)."""
    mapped = {id(f): revs.renames.get(f.origin.path, f.origin.path) for f in base.findings}
    base_open = {_identity(f, mapped[id(f)]): f for f in base.findings if f.status in OPEN}
    base_coarse: dict[tuple[str, ...], list[Finding]] = {}
    for f in base.findings:
        base_coarse.setdefault(_coarse(f, mapped[id(f)]), []).append(f)
    new: list[str] = []
    worse: dict[str, str] = {}
    unchanged: list[str] = []
    seen: set[str] = set()
    for f in head.findings:
        if f.status not in OPEN:
            continue
        key = _identity(f, f.origin.path)
        seen.add(key)
        was = base_open.get(key)
        if was is None:
            earlier = base_coarse.get(_coarse(f, f.origin.path), [])
            if f.status is Status.FAIL and any(b.status is Status.PASS for b in earlier):
                worse[f.fingerprint] = "pass → fail"
            elif f.status is Status.ERROR and any(b.status is Status.FAIL for b in earlier):
                worse[f.fingerprint] = "fail → error"
            else:
                new.append(f.fingerprint)
        elif was.status is Status.FAIL and f.status is Status.ERROR:
            worse[f.fingerprint] = "fail → error"
        elif f.severity.rank > was.severity.rank:
            worse[f.fingerprint] = f"severity {was.severity.value} → {f.severity.value}"
        else:
            unchanged.append(f.fingerprint)
    fixed = tuple(f for key, f in sorted(base_open.items()) if key not in seen)
    return Comparison(
        base=revs.base,
        head=revs.head,
        new=tuple(sorted(set(new))),
        worse=dict(sorted(worse.items())),
        unchanged=tuple(sorted(set(unchanged))),
        fixed=tuple(sorted(fixed, key=lambda f: f.sort_key())),
    )


@dataclass(frozen=True)
class PremergeOutcome:
    """The change's scan (with its comparison), what it ran with, and the changed files."""

    result: ScanResult
    trusted: TrustedInputs
    changed: frozenset[str]
    #: What the rules saw in the change, for the evidence bundle's snapshot.
    inventory: Inventory


def scan_premerge(
    root: Path,
    base_ref: str,
    *,
    cli_config: Path | None = None,
    cli_waivers: Path | None = None,
    adjust: Callable[[Config], Config] = lambda c: c,
    analyzers: Callable[[Config], Sequence[Analyzer]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PremergeOutcome:
    """Scan the merge base and the change with the base's configuration; compare them.

    ``analyzers`` builds each scan's analyzers from the trusted configuration (the CLI's
    image settings); a bad entry raises before either tree is scanned.
    """
    head_dir = root.resolve()
    revs = revisions(head_dir, base_ref)
    # Kept until exit: the evidence bundle copies the trusted config and waivers from here.
    base_dir = Path(tempfile.mkdtemp(prefix="ledgergate-base-")).resolve()
    atexit.register(shutil.rmtree, base_dir, ignore_errors=True)
    extract_base(head_dir, revs, base_dir)
    trusted = trusted_inputs(base_dir, cli_config, cli_waivers, adjust)
    gate = gate_objects(
        base_dir, head_dir, trusted, cli_config is not None, cli_waivers is not None
    )
    config = trusted.config
    build = analyzers or (lambda _config: default_analyzers())
    build(config)  # validate before scanning: a bad setting is exit 2, not an analyzer error
    # the trusted configuration's exclusions, size limit and rendering, as a plain scan has
    base_source = repo_source(base_dir, config)
    base = run_scan(
        base_source,
        config,
        rules=trusted.rules,
        waivers=trusted.register,
        analyzers=build(config),
    ).result
    head_source = repo_source(head_dir, config)
    head = run_scan(
        _WithGate(head_source, gate),
        config,
        rules=trusted.rules,
        progress=progress,
        waivers=trusted.register,
        analyzers=build(config),
    )
    # comparing allocates a key per finding, and with both scans' objects alive each full
    # collection walked both inventories: 10 s of CPU on the shared corpus (profiled)
    with no_cyclic_gc():
        comparison = compare(base, head.result, revs)
    result = replace(head.result, comparison=comparison)
    return PremergeOutcome(result, trusted, revs.changed, head.inventory)
