"""GitOps provenance of live objects: who owns each one, and which revision it runs.

An object is owned by GitOps when Argo CD tracks it (``argocd.argoproj.io/tracking-id``
annotation naming this very object, or the ``app.kubernetes.io/instance`` label naming
an Application that exists), when Flux labels it (``kustomize.toolkit.fluxcd.io/*`` or
``helm.toolkit.fluxcd.io/*``) for a Kustomization or HelmRelease that exists, or when an
``ownerReferences`` chain leads to such an object. A claim to an owner that does not
exist is not ownership: anyone can type an annotation. Owners record the revision they
last synced (Argo CD ``status.sync.revision``, Flux ``status.lastAppliedRevision``); with
a change ledger (``scan cluster --repo``) that revision is looked up in change control.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Protocol

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.environment import is_production
from scanner.inventory import Inventory
from scanner.model import Resource
from scanner.yamlutil import mapping

ARGO = "argoproj.io"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
FLUX_SOURCE = "source.toolkit.fluxcd.io"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE_LABELS = ("argocd.argoproj.io/instance", "app.kubernetes.io/instance")
_OWNER_KINDS = {"Application": ARGO, "Kustomization": FLUX_KUSTOMIZE, "HelmRelease": FLUX_HELM}


class ChangeLookup(Protocol):
    """Answers whether a synced revision passed change control (see ``changescan``)."""

    def lookup(self, revision: str) -> Mapping[str, Any]:
        """``{passed, protected, branch, failedRules, ticket, approvers, reason}``."""


def _meta(resource: Resource) -> Mapping[str, Any]:
    meta = resource.body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _status(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(body.get("status"))


class _Owners:
    """The GitOps owner objects of the inventory, and what each last synced."""

    def __init__(self, inventory: Inventory, params: Mapping[str, Any]) -> None:
        self.inventory = inventory
        self.params = params
        self.index: dict[tuple[str, str, str], int] = {}
        self.apps: dict[str, int] = {}
        for kind, group in _OWNER_KINDS.items():
            for i in inventory.of_kind(kind, groups=[group]):
                ref = inventory.resources[i].ref
                self.index[(kind, ref.namespace, ref.name)] = i
                if kind == "Application":
                    self.apps.setdefault(ref.name, i)
        self.sources = {
            (r.ref.namespace, r.ref.name): r.body
            for r in (
                inventory.resources[i]
                for i in inventory.of_kind("GitRepository", groups=[FLUX_SOURCE])
            )
        }
        self.unread = {k for entry in inventory.coverage for k in entry.kinds}

    def sync(self, index: int) -> dict[str, Any]:
        """``facts.gitopsSync`` of one Application, Kustomization or HelmRelease."""
        res = self.inventory.resources[index]
        body, status = res.body, _status(res.body)
        spec = mapping(body.get("spec"))
        if res.ref.kind == "Application":
            source = mapping(spec.get("source") or next(iter(spec.get("sources") or ()), {}))
            sync = mapping(status.get("sync"))
            revision = str(sync.get("revision") or next(iter(sync.get("revisions") or ()), ""))
            branch = str(source.get("targetRevision") or "HEAD")
            destination = str(mapping(spec.get("destination")).get("namespace") or "")
            state = str(sync.get("status") or "Unknown")
            repo = str(source.get("repoURL") or "")
            return self._sync(res, "argocd", state, revision, branch, repo, destination)
        applied = str(status.get("lastAppliedRevision") or "")
        branch, _, sha = applied.rpartition("@") if "@" in applied else ("", "", applied)
        sha = sha.removeprefix("sha1:").removeprefix("sha256:")
        branch = str(self._flux_source(res, spec).get("branch") or branch)
        conditions = [mapping(c) for c in status.get("conditions") or ()]
        ready = next((c for c in conditions if c.get("type") == "Ready"), {})
        state = {"True": "Synced", "False": "OutOfSync"}.get(str(ready.get("status")), "Unknown")
        target = str(spec.get("targetNamespace") or "")
        return self._sync(res, "flux", state, sha, branch, "", target)

    def _flux_source(self, res: Resource, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = mapping(
            spec.get("sourceRef")
            or mapping(mapping(spec.get("chart")).get("spec")).get("sourceRef")
        )
        key = (str(ref.get("namespace") or res.ref.namespace), str(ref.get("name") or ""))
        return mapping(mapping(self.sources.get(key, {}).get("spec")).get("ref"))

    def _sync(
        self, res: Resource, tool: str, state: str, revision: str, branch: str, repo: str, dest: str
    ) -> dict[str, Any]:
        protected = [str(b) for b in self.params.get("protectedBranches") or ()]
        name = branch.removeprefix("refs/heads/")
        return {
            "tool": tool,
            "owner": owner_id(res),
            "syncStatus": state,
            "revision": revision,
            "branch": branch,
            "protectedBranch": name in protected,
            "repoURL": repo,
            "destinationNamespace": dest,
            "production": is_production(dest, self.params),
        }

    def claimed(self, res: Resource) -> tuple[str, str, str] | None:
        """The owner an object's GitOps metadata names, as an index key."""
        meta = _meta(res)
        annotations = mapping(meta.get("annotations"))
        labels = mapping(meta.get("labels"))
        tracking = str(annotations.get(ARGO_TRACKING) or "")
        if tracking:
            app, _, rest = tracking.partition(":")
            if rest == _tracked_self(res):
                return self._app_key(app)
            return ("Application", "?", f"{app} (tracking-id names another object: {rest})")
        for group, kind in ((FLUX_KUSTOMIZE, "Kustomization"), (FLUX_HELM, "HelmRelease")):
            name = labels.get(f"{group}/name")
            if name:
                return (kind, str(labels.get(f"{group}/namespace") or res.ref.namespace), str(name))
        for label in ARGO_INSTANCE_LABELS:
            instance = str(labels.get(label) or "")
            if instance and (instance in self.apps or label.startswith("argocd")):
                return self._app_key(instance)
        return None

    def _app_key(self, app: str) -> tuple[str, str, str]:
        i = self.apps.get(app)
        return (
            "Application",
            self.inventory.resources[i].ref.namespace if i is not None else "?",
            app,
        )


def owner_id(res: Resource) -> str:
    """``argocd:<app>`` or ``flux:<Kind>/<ns>/<name>``, the form findings' gitSource uses."""
    if res.ref.kind == "Application":
        return f"argocd:{res.ref.name}"
    return f"flux:{res.ref.kind}/{res.ref.namespace}/{res.ref.name}"


def _tracked_self(res: Resource) -> str:
    """Argo CD's tracking-id suffix for this object: ``group/Kind:namespace/name``."""
    return f"{res.ref.group}/{res.ref.kind}:{res.ref.namespace}/{res.ref.name}"


class ProvenanceAnalyzer(Analyzer):
    """``facts.provenance`` on live objects; ``facts.gitopsSync`` on their GitOps owners."""

    name = "provenance"
    provides = ("provenance", "gitopsSync")
    reads = (
        (ARGO, "Application"),
        (FLUX_KUSTOMIZE, "Kustomization"),
        (FLUX_HELM, "HelmRelease"),
        (FLUX_SOURCE, "GitRepository"),
    )

    def __init__(self, ledger: ChangeLookup | None = None, *, all_live: bool = False) -> None:
        self.ledger = ledger
        #: Treat every object as read from a cluster (rule fixtures are files).
        self.all_live = all_live

    def for_fixture(self, facts: Mapping[str, Any]) -> Analyzer:
        """A fixture's sidecar: ``liveObjects: true`` and ``changeLedger: {revision: answer}``."""
        answers = facts.get("changeLedger")
        ledger = _RecordedLedger(answers) if isinstance(answers, Mapping) else self.ledger
        return ProvenanceAnalyzer(ledger, all_live=bool(facts.get("liveObjects")))

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Resolve every cluster object's owner once (chains memoised)."""
        owners = _Owners(inventory, params)
        result = AnalyzerResult()
        syncs = {i: owners.sync(i) for i in owners.index.values()}
        chains = _Chains(owners, syncs)
        for index, res in enumerate(inventory.resources):
            if not (res.origin.cluster or self.all_live):
                result.facts[index] = {"provenance": {"applies": False}}
                continue
            fact = chains.resolve(index)
            key = f"{res.ref.kind}/{res.ref.namespace}/{res.ref.name}"
            exempt = any(fnmatchcase(key, str(p)) for p in params.get("gitopsExemptObjects") or ())
            result.facts[index] = {"provenance": {"applies": True, **fact, "exempt": exempt}}
        # owners of at least one production object, in one pass (not one per owner)
        sync_owners = {sync["owner"] for sync in syncs.values()}
        producing: set[str] = set()
        for i, f in result.facts.items():
            owned_by = f.get("provenance", {}).get("owner")
            namespace = inventory.resources[i].ref.namespace
            if (
                owned_by in sync_owners
                and owned_by not in producing
                and is_production(namespace, params)
            ):
                producing.add(owned_by)
        for index, sync in syncs.items():
            owned_production = sync["owner"] in producing
            owner = inventory.resources[index]
            live = bool(owner.origin.cluster) or self.all_live
            # an owner read only for provenance (outside --namespace) is not judged itself
            live = live and not owner.facts.get("outsideSelection")
            sync = {**sync, "production": sync["production"] or owned_production, "live": live}
            if self.ledger is not None and sync["revision"]:
                sync["change"] = dict(self.ledger.lookup(sync["revision"]))
            result.facts.setdefault(index, {})["gitopsSync"] = sync
        return result


class _Chains:
    """Resolves each object's owner once: its own GitOps metadata, else its owners' chain."""

    def __init__(self, owners: _Owners, syncs: Mapping[int, Mapping[str, Any]]) -> None:
        self.owners = owners
        self.syncs = syncs
        self.by_uid = {
            str(_meta(r).get("uid")): i
            for i, r in enumerate(owners.inventory.resources)
            if _meta(r).get("uid")
        }
        self.memo: dict[int, dict[str, Any]] = {}

    def resolve(self, index: int, seen: frozenset[int] = frozenset()) -> dict[str, Any]:
        """``{owned, owner, via, revision, syncStatus, reason}`` or ``{_error}``."""
        if index not in self.memo:
            claim = self.owners.claimed(self.owners.inventory.resources[index])
            self.memo[index] = (
                self._claimed(claim) if claim is not None else self._via_owners(index, seen)
            )
        return self.memo[index]

    def _claimed(self, claim: tuple[str, str, str]) -> dict[str, Any]:
        kind, ns, name = claim
        i = self.owners.index.get(claim) if ns != "?" else None
        if i is None:
            if f"{_OWNER_KINDS[kind]}/{kind}" in self.owners.unread:
                return {"_error": f"{kind} objects could not be read to confirm the owner {name}"}
            return _fact(
                False, reason=f"claims GitOps owner {kind} {name}, but no such {kind} exists"
            )
        sync = self.syncs[i]
        return _fact(True, sync["owner"], "metadata", sync["revision"], sync["syncStatus"])

    def _via_owners(self, index: int, seen: frozenset[int]) -> dict[str, Any]:
        meta = _meta(self.owners.inventory.resources[index])
        refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, Mapping)]
        if not refs:
            return _fact(False, reason="no Argo CD tracking or Flux labels, and no owner")
        refs.sort(key=lambda r: not r.get("controller"))
        for ref in refs:
            parent = self.by_uid.get(str(ref.get("uid")))
            label = f"{ref.get('kind')}/{ref.get('name')}"
            if parent is None:
                return {"_error": f"owner {label} was not read: its provenance cannot be followed"}
            if parent in seen:
                continue
            up = self.resolve(parent, seen | {index})
            if up.get("owned"):
                return {**up, "via": f"{label} -> {up['via']}"}
            if up.get("_error"):
                return up
        return _fact(False, reason=f"its owner {label} is not owned by GitOps")


class _RecordedLedger:
    """Change-control answers recorded in a rule fixture's sidecar."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = answers

    def lookup(self, revision: str) -> Mapping[str, Any]:
        """The recorded answer, or "not in the repository"."""
        found = self.answers.get(revision)
        if isinstance(found, Mapping):
            return found
        return {"passed": False, "protected": False, "reason": "not in the repository"}


def _fact(
    owned: bool,
    owner: str = "",
    via: str = "",
    revision: str = "",
    sync: str = "",
    reason: str = "",
) -> dict[str, Any]:
    return {
        "owned": owned,
        "owner": owner,
        "via": via,
        "revision": revision,
        "syncStatus": sync,
        "reason": reason,
    }
