"""The cluster source: read-only lists of the kinds the rules need, from a live API server.

Discovery first, then one paged list per kind. Whatever cannot be read (403, timeout,
server errors after retries) becomes a :class:`CoverageEntry` naming the kinds, and the
pipeline turns it into an ``error`` finding for every rule that judges those kinds.
Secrets are read only when asked, and then only as metadata: their values never
leave the API server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from scanner.model import (
    CoverageCategory,
    CoverageEntry,
    Finding,
    Origin,
    Resource,
    ResourceRef,
)
from scanner.redaction import strip_userinfo
from scanner.sources.base import Source, SourceItem
from scanner.sources.kubeclient import JSON, METADATA_ONLY, KubeClient, KubeRequestError
from scanner.sources.kubeplan import (
    CONTEXT_KINDS,
    SECRET,
    UNFILTERED,
    KindIndex,
    RuleKinds,
    plan,
)

SOURCE = "cluster"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE = "app.kubernetes.io/instance"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Served:
    """A kind as this cluster serves it (version and plural from discovery)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """``group/version`` or ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """``group/Kind`` (``Kind`` for core), the form coverage entries carry."""
        return f"{self.group}/{self.kind}" if self.group else self.kind

    def path(self, namespace: str | None = None) -> str:
        """The list URL path, cluster-wide or in one namespace."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if namespace is not None:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


def git_source(meta: Mapping[str, Any]) -> str:
    """Where GitOps says an object comes from: Argo CD tracking or Flux labels ('' if none)."""
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    tracking = annotations.get(ARGO_TRACKING)
    if tracking:
        return f"argocd:{str(tracking).split(':', 1)[0]}"
    for group, kind in ((FLUX_KUSTOMIZE, "Kustomization"), (FLUX_HELM, "HelmRelease")):
        name = labels.get(f"{group}/name")
        if name:
            ns = labels.get(f"{group}/namespace", "")
            return f"flux:{kind}/{ns}/{name}" if ns else f"flux:{kind}/{name}"
    if labels.get("argocd.argoproj.io/instance"):
        return f"argocd:{labels['argocd.argoproj.io/instance']}"
    return ""


def share_strings(root: Any, table: dict[str, str]) -> None:
    """Replace, in place, every string value in ``root`` by the one equal copy in ``table``.

    Each list page is decoded on its own, so 50,000 workloads carried 50,000 copies of
    ``RuntimeDefault``, ``IfNotPresent`` and their image references: about a fifth of the
    inventory held for the whole scan (and copied again by every forked worker that reads
    it). Keys are left alone: the decoder already shares them within a page.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                if type(value) is str:
                    node[key] = table.setdefault(value, value)
                elif type(value) is dict or type(value) is list:
                    stack.append(value)
        elif type(node) is list:
            for index, value in enumerate(node):
                if type(value) is str:
                    node[index] = table.setdefault(value, value)
                elif type(value) is dict or type(value) is list:
                    stack.append(value)


def _controller(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """(apiVersion, kind) of the controlling owner, if any."""
    for owner in meta.get("ownerReferences") or ():
        if isinstance(owner, Mapping) and owner.get("controller"):
            return str(owner.get("apiVersion", "")), str(owner.get("kind", ""))
    return None


class KubeSource(Source):
    """Reads a live cluster through an injected :class:`KubeClient`."""

    name = SOURCE
    observes_state = True

    def __init__(
        self,
        client: KubeClient,
        rules: RuleKinds,
        *,
        namespaces: Iterable[str] = (),
        include_secrets: bool = False,
        page_size: int = 500,
        progress: Progress | None = None,
        context_kinds: Iterable[tuple[str, str]] = (),
        synthesised_kinds: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.client = client
        #: The selected rules as data (``kubeplan.matched_kinds``): what to list, and
        #: which rules judge each kind.
        self.rules = KindIndex(rules)
        #: Kinds analyzers read as context: listed cluster-wide even when --namespace limits
        #: what is judged (a Schedule in velero covers finance-prod).
        self.context = frozenset(context_kinds) | frozenset(CONTEXT_KINDS)
        self.plan = plan(rules, self.context, synthesised_kinds)
        self.namespaces = tuple(namespaces)
        self.include_secrets = include_secrets
        self.page_size = page_size
        self.progress = progress or (lambda _m: None)
        self.conn = client.connection
        #: One copy of each string value read, while a scan lists (see :func:`share_strings`).
        self._strings: dict[str, str] = {}

    def scope(self) -> dict[str, Any]:
        """The ``--namespace`` filter (empty: every namespace)."""
        return {"namespaces": list(self.namespaces)}

    def target(self) -> dict[str, str]:
        """Cluster identity for reports, with the namespace filter when one was given."""
        server = strip_userinfo(self.conn.server)
        found = {"type": "cluster", "server": server, "context": self.conn.context}
        if self.namespaces:
            found["namespaces"] = ",".join(self.namespaces)
        return found

    def select(self, findings: list[Finding]) -> list[Finding]:
        """Only findings on the selected namespaces (and cluster-scoped objects): context
        read from other namespaces informed the rules but is not judged itself."""
        if not self.namespaces:
            return findings
        return [f for f in findings if self._in_scope(f.resource)]

    def _in_scope(self, ref: ResourceRef | None) -> bool:
        if ref is None:
            return True
        scope = ref.name if ref.kind == "Namespace" and not ref.group else ref.namespace
        return not scope or any(fnmatchcase(scope, p) for p in self.namespaces)

    def origin(self) -> Origin:
        """Where kind-level findings (a kind that could not be read) point."""
        return Origin(cluster=self.conn.server, context=self.conn.context)

    def collect(self) -> Iterator[SourceItem]:
        """Discover, then list each wanted kind; gaps become coverage entries."""
        self._strings = {}
        yield from self._file_only_notes()
        served, gaps = self._discover()
        yield from gaps
        for served_kind in served:
            if (served_kind.group, served_kind.kind) == SECRET and not self.include_secrets:
                yield CoverageEntry(
                    SOURCE,
                    served_kind.path(),
                    "Secrets not read: pass --include-secrets to read their metadata "
                    "(values are never read)",
                )
                continue
            yield from self._read_kind(served_kind)
        self._strings = {}

    def _file_only_notes(self) -> Iterator[CoverageEntry]:
        for group, kind in self.plan.file_only:
            yield CoverageEntry(
                SOURCE,
                f"{group}/{kind}",
                f"{kind} is read from configuration files only "
                "(`ledgergate scan repo`); a cluster has no such objects",
            )

    def _discover(self) -> tuple[list[Served], list[CoverageEntry]]:
        """Match wanted kinds against what the server serves; missing CRDs are notes."""
        groups = sorted({k.group for k in self.plan.wanted} | {g for g, _ in self.plan.unknown})
        found: dict[tuple[str, str], Served] = {}
        gaps: list[CoverageEntry] = []
        try:
            served_groups = self._group_versions()
        except KubeRequestError as exc:
            keys = tuple(sorted(_key(g, k) for g, k in self._readable()))
            reason = f"discovery failed: {exc.describe()}"
            return [], [CoverageEntry(SOURCE, "/apis", reason, keys, CoverageCategory.GAP)]
        for group in groups:
            if group == "*":
                continue
            for version in served_groups.get(group, ()):
                try:
                    found.update(self._resources(group, version, found))
                except KubeRequestError as exc:
                    kinds_here = tuple(
                        sorted(_key(g, k) for g, k in self._readable() if g == group)
                    )
                    gaps.append(
                        CoverageEntry(
                            SOURCE,
                            _discovery_path(group, version),
                            f"discovery failed: {exc.describe()}",
                            kinds_here,
                            CoverageCategory.GAP,
                        )
                    )
        wanted = [(k.group, k.kind) for k in self.plan.wanted] + list(self.plan.unknown)
        result: list[Served] = []
        for group, kind in sorted(set(wanted)):
            if (group, kind) in found:
                result.append(found[(group, kind)])
            elif not any(g.kinds and _key(group, kind) in g.kinds for g in gaps):
                gaps.append(
                    CoverageEntry(
                        SOURCE,
                        _key(group, kind),
                        f"{kind} ({group or 'core'}) is not served by this cluster "
                        "(CRD not installed); nothing to judge",
                        category=CoverageCategory.NOT_INSTALLED,
                    )
                )
        return result, gaps

    def _readable(self) -> list[tuple[str, str]]:
        """(group, kind) pairs this scan would list (Secrets only when asked)."""
        pairs = [(k.group, k.kind) for k in self.plan.wanted] + list(self.plan.unknown)
        return [p for p in pairs if p != SECRET or self.include_secrets]

    def _group_versions(self) -> dict[str, list[str]]:
        """Group -> served versions, preferred first ('' is the core group)."""
        out: dict[str, list[str]] = {"": ["v1"]}
        listing = self.client.get("/apis")
        for group in listing.get("groups") or ():
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v.get("version") for v in group.get("versions") or () if v.get("version")]
            versions.sort(key=lambda v: v != preferred)
            out[str(group.get("name"))] = versions
        return out

    def _resources(
        self, group: str, version: str, found: Mapping[tuple[str, str], Served]
    ) -> dict[tuple[str, str], Served]:
        listing = self.client.get(_discovery_path(group, version))
        new: dict[tuple[str, str], Served] = {}
        for res in listing.get("resources") or ():
            name = str(res.get("name", ""))
            if "/" in name or "list" not in (res.get("verbs") or ["list"]):
                continue
            key = (group, str(res.get("kind")))
            if key not in found and key not in new:
                new[key] = Served(group, version, key[1], name, bool(res.get("namespaced")))
        return new

    def _read_kind(self, served: Served) -> Iterator[SourceItem]:
        secret = (served.group, served.kind) == SECRET
        accept = METADATA_ONLY if secret else JSON
        started = time.monotonic()
        items: list[dict[str, Any]] = []
        try:
            for path in self._paths(served):
                got, _pages = self.client.list_items(path, accept=accept, limit=self.page_size)
                items.extend(got)
        except KubeRequestError as exc:
            self.progress(f"{served.key}: not read ({exc.describe()})")
            yield CoverageEntry(
                SOURCE,
                served.path(),
                f"could not list {served.plural}: {exc.describe()}",
                (served.key,),
                CoverageCategory.GAP,
            )
            return
        owned = 0
        kept = 0
        for item in items:
            meta = item.get("metadata") or {}
            context = False
            if not self._namespace_selected(served, meta):
                if (served.group, served.kind) not in UNFILTERED:
                    continue
                context = True  # read for provenance, not judged (outside --namespace)
            if self._judged_through_owner(served, meta):
                owned += 1
                continue
            kept += 1
            resource = self._resource(served, item, metadata_only=secret)
            yield resource.with_facts({"outsideSelection": True}) if context else resource
        if owned:
            yield CoverageEntry(
                SOURCE,
                served.path(),
                f"{owned} {served.plural} owned by controllers were judged through their owners",
            )
        self.progress(f"{served.key}: {kept} read in {time.monotonic() - started:.1f}s")

    def _judged_through_owner(self, served: Served, meta: Mapping[str, Any]) -> bool:
        """True when the controlling owner meets every rule this object would: judging the
        object too would only repeat the owner's findings (a Pod of a Deployment's ReplicaSet)."""
        owner = _controller(meta)
        if owner is None:
            return False
        mine = self.rules.rule_ids(served.api_version, served.kind)
        theirs = self.rules.rule_ids(*owner)
        return bool(mine) and mine <= theirs

    def _is_context(self, served: Served) -> bool:
        return (served.group, served.kind) in self.context

    def _paths(self, served: Served) -> list[str]:
        """One cluster-wide list, or one per namespace when every pattern is a plain name
        (context kinds and GitOps owners are always listed cluster-wide)."""
        if (served.group, served.kind) in UNFILTERED:
            return [served.path()]
        if (
            served.namespaced
            and self.namespaces
            and not self._is_context(served)
            and not any(_is_glob(p) for p in self.namespaces)
        ):
            return [served.path(ns) for ns in self.namespaces]
        return [served.path()]

    def _namespace_selected(self, served: Served, meta: Mapping[str, Any]) -> bool:
        if not self.namespaces or self._is_context(served):
            return True
        if served.namespaced:
            ns = str(meta.get("namespace", ""))
        elif served.kind == "Namespace":
            ns = str(meta.get("name", ""))
        else:
            return True  # cluster-scoped objects (bindings, classes) concern every namespace
        return any(fnmatchcase(ns, p) for p in self.namespaces)

    def _resource(self, served: Served, item: dict[str, Any], *, metadata_only: bool) -> Resource:
        meta = item.get("metadata") or {}
        if isinstance(meta, dict):
            # Server-side apply's field ownership: often a third of an object, read by no rule,
            # and hidden by ``kubectl get -o yaml`` since 1.21; the snapshot matches kubectl.
            meta.pop("managedFields", None)
        share_strings(item, self._strings)
        if metadata_only:
            body: dict[str, Any] = {"metadata": meta}
        else:
            body = item
        body["apiVersion"] = served.api_version
        body["kind"] = served.kind
        namespace = str(meta.get("namespace", "")) if served.namespaced else ""
        ref = ResourceRef(served.api_version, served.kind, namespace, str(meta.get("name", "")))
        origin = Origin(
            cluster=self.conn.server,
            context=self.conn.context,
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            git_source=git_source(meta),
        )
        facts = {"metadataOnly": True} if metadata_only else {}
        return Resource(ref, body, origin, facts)


def _discovery_path(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def _key(group: str, kind: str) -> str:
    return f"{group}/{kind}" if group else kind


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
