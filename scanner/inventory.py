"""The inventory: every resource a source produced, indexed for analyzers and the engine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scanner import kinds
from scanner.environment import CLUSTER_WIDE, Environment, EnvStatus, classify, fail_closed
from scanner.imageref import ImageRefError
from scanner.imageref import parse as parse_image
from scanner.model import SYNTHETIC_GROUP, CoverageEntry, Resource
from scanner.redaction import SecretHit
from scanner.sources.base import InputProblem, Skipped, SourceItem


@dataclass
class Inventory:
    """Resources with their problems and skips, plus kind and namespace indexes."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    coverage: list[CoverageEntry] = field(default_factory=list)
    #: Secret-looking values per resource index (found by the secrets analyzer); used
    #: only to redact outputs.
    secrets: dict[int, list[SecretHit]] = field(default_factory=dict)
    _by_kind: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[SourceItem]) -> Inventory:
        """Sort a source's stream into resources, problems, skips and coverage."""
        inv = cls()
        for item in items:
            if isinstance(item, Resource):
                inv.add(item)
            elif isinstance(item, InputProblem):
                inv.problems.append(item)
            elif isinstance(item, Skipped):
                inv.skipped.append(item)
            else:
                inv.coverage.append(item)
        return inv

    def add(self, resource: Resource) -> int:
        """Append a resource; returns its index."""
        self.resources.append(resource)
        index = len(self.resources) - 1
        self._by_kind.setdefault(resource.ref.kind, []).append(index)
        return index

    def of_kind(self, *kind_names: str, groups: Sequence[str] | None = None) -> Iterator[int]:
        """Indexes of resources of the given kinds (optionally restricted to API groups)."""
        for name in kind_names:
            for index in self._by_kind.get(name, ()):
                if groups is None or self.resources[index].ref.group in groups:
                    yield index

    def namespace_names(self) -> list[str]:
        """Every namespace declared or used, sorted."""
        names = {r.ref.namespace for r in self.resources if r.ref.namespace}
        names.update(self.resources[i].ref.name for i in self.of_kind("Namespace"))
        return sorted(names)

    def namespace_labels(self) -> dict[str, Mapping[str, str]]:
        """Labels of declared Namespace objects."""
        found: dict[str, Mapping[str, str]] = {}
        for i in self.of_kind("Namespace"):
            meta = self.resources[i].body.get("metadata")
            labels = meta.get("labels") if isinstance(meta, Mapping) else None
            found[self.resources[i].ref.name] = dict(labels) if isinstance(labels, Mapping) else {}
        return found


def namespace_scope(resource: Resource) -> str:
    """The namespace a resource lives in; a Namespace object is judged as its own namespace."""
    ref = resource.ref
    return ref.name if ref.kind == "Namespace" and not ref.group else ref.namespace


def environment_of(
    resource: Resource, params: Mapping[str, Any], ns_labels: Mapping[str, Mapping[str, str]]
) -> Environment:
    """Production or not, and why (one classification for every scan; see ``environment``)."""
    scope = namespace_scope(resource)
    ref = resource.ref
    if not scope and (
        ref.group == SYNTHETIC_GROUP or not kinds.is_namespaced(ref.api_version, ref.kind)
    ):
        return CLUSTER_WIDE
    return classify(scope, params, labels=ns_labels.get(scope), path=resource.origin.path)


def environment_coverage(inventory: Inventory, params: Mapping[str, Any]) -> list[CoverageEntry]:
    """Coverage notes for objects judged as production only because nothing classified them."""
    labels = inventory.namespace_labels()
    counts: dict[tuple[EnvStatus, str], int] = {}
    for resource in inventory.resources:
        env = environment_of(resource, params, labels)
        if env.status in (EnvStatus.UNCLASSIFIED, EnvStatus.UNRESOLVED):
            key = (env.status, namespace_scope(resource))
            counts[key] = counts.get(key, 0) + 1
    notes: list[CoverageEntry] = []
    as_what = (
        "production (fail closed)"
        if fail_closed(params)
        else "non-production (params.unclassifiedIs)"
    )
    for (status, namespace), count in sorted(counts.items()):
        what = (
            "namespace unresolved" if status is EnvStatus.UNRESOLVED else "environment unclassified"
        )
        target = namespace or "(no namespace)"
        notes.append(
            CoverageEntry("environment", target, f"{what}: {count} object(s) judged as {as_what}")
        )
    if not fail_closed(params):
        notes.append(
            CoverageEntry(
                "environment",
                "params.unclassifiedIs",
                "unclassified and unresolved namespaces are judged as non-production",
            )
        )
    return notes


def containers_of(pod_spec: Mapping[str, Any] | None, prefix: str = "") -> list[dict[str, Any]]:
    """All containers of a pod spec (init, regular, ephemeral), each with its ``_path``.

    ``_path`` is the field path from the object root (``prefix`` is where the pod spec
    sits), so evidence points at the exact line.
    """
    if not pod_spec:
        return []
    lead = f"{prefix}." if prefix else ""
    found: list[dict[str, Any]] = []
    for section in ("initContainers", "containers", "ephemeralContainers"):
        items = pod_spec.get(section)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, Mapping):
                    found.append(
                        {
                            **c,
                            "_section": section,
                            "_path": f"{lead}{section}[{i}]",
                            "_image": image_facts(c.get("image")),
                            "_effective": effective_security(pod_spec, c),
                            "_env": literal_env(c.get("env")),
                        }
                    )
    return found


def unreadable_containers(pod_spec: Mapping[str, Any] | None) -> list[str]:
    """Container entries that are no objects (``- "nginx:latest"``): :func:`containers_of`
    leaves them out, so a rule over ``containers`` would judge an emptied list and pass."""
    if not pod_spec:
        return []
    found: list[str] = []
    for section in ("initContainers", "containers", "ephemeralContainers"):
        items = pod_spec.get(section)
        if isinstance(items, list):
            found.extend(
                f"{section}[{i}]" for i, c in enumerate(items) if not isinstance(c, Mapping)
            )
    return found


#: Security settings a container inherits from the pod's securityContext when it sets none.
_INHERITED = ("runAsNonRoot", "runAsUser", "runAsGroup")
#: Container-only settings copied as they are when set.
_OWN = ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "procMount")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _capabilities(values: object) -> list[str]:
    """Capability names as Pod Security Standards compare them (upper case, no ``CAP_``)."""
    if not isinstance(values, list):
        return []
    return sorted({str(v).upper().removeprefix("CAP_") for v in values if isinstance(v, str)})


def literal_env(env: object) -> list[dict[str, str]]:
    """``env`` entries as ``{name[, value]}`` strings: ``value`` only when literal (not
    ``valueFrom``); patch directives and malformed items dropped, so rules need no type
    checks."""
    if not isinstance(env, list):
        return []
    found: list[dict[str, str]] = []
    for e in env:
        if not isinstance(e, Mapping) or not isinstance(e.get("name"), str):
            continue
        entry = {"name": e["name"]}
        if isinstance(e.get("value"), str | int | float | bool):
            entry["value"] = str(e["value"])
        found.append(entry)
    return found


def effective_security(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The security settings that apply to a container: its own, else the pod's.

    Normalised once so that rules never trip over an empty (null) ``securityContext``:
    settings that are unset are absent (rules test them with ``has()``), except
    ``privileged`` (false), ``capAdd``/``capDrop``, ``hostPorts`` and ``limits`` (lists).
    The seccomp profile is reduced to its ``type`` (``seccompProfileType``).
    """
    pod = _mapping(pod_spec.get("securityContext"))
    own = _mapping(container.get("securityContext"))
    found: dict[str, Any] = {"privileged": own.get("privileged") is True}
    for key in _INHERITED:
        value = own.get(key, pod.get(key))
        if value is not None:
            found[key] = value
    for key in _OWN:
        if own.get(key) is not None:
            found[key] = own[key]
    for ctx in (own, pod):
        profile_type = _mapping(ctx.get("seccompProfile")).get("type")
        if isinstance(profile_type, str):
            found["seccompProfileType"] = profile_type
            break
    caps = _mapping(own.get("capabilities"))
    found["capAdd"] = _capabilities(caps.get("add"))
    found["capDrop"] = _capabilities(caps.get("drop"))
    ports = container.get("ports")
    found["hostPorts"] = sorted(
        {
            p["hostPort"]
            for p in (ports if isinstance(ports, list) else [])
            if isinstance(p, Mapping) and isinstance(p.get("hostPort"), int) and p["hostPort"] > 0
        }
    )
    found["limits"] = sorted(
        str(k) for k in _mapping(_mapping(container.get("resources")).get("limits"))
    )
    return found


@lru_cache(maxsize=8192)
def _parsed_image(text: str) -> dict[str, Any]:
    try:
        ref = parse_image(text)
    except ImageRefError:
        return {"valid": False, "registry": "", "repository": "", "tag": "", "digest": ""}
    return {
        "valid": True,
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag or "",
        "digest": ref.digest or "",
    }


def image_facts(image: object) -> dict[str, Any]:
    """A container image reference parsed once, so rules compare fields instead of regexes.

    ``tag`` is ``latest`` for an untagged reference without a digest, as the runtime reads it;
    ``digest`` is set only for a valid digest (``sha256:`` + 64 hex), never a look-alike;
    ``present`` is false for a container without ``image`` and ``valid`` false for a
    reference that does not parse.
    """
    if not isinstance(image, str) or not image:
        # No image yet (a template or an admission webhook injects it): nothing to judge.
        return {
            "present": False,
            "valid": False,
            "registry": "",
            "repository": "",
            "tag": "",
            "digest": "",
        }
    return {"present": True, **_parsed_image(image)}


def pod_spec_of(resource: Resource) -> Mapping[str, Any] | None:
    """The normalised pod spec of a workload (one place knows where it lives)."""
    return kinds.pod_spec(resource.ref.api_version, resource.ref.kind, resource.body)


#: Object id -> (body, apiVersion, kind, containers) while :func:`containers_memo` is active.
_memo: dict[int, tuple[Mapping[str, Any], str, str, list[dict[str, Any]]]] | None = None


@contextmanager
def containers_memo() -> Iterator[None]:
    """Derive each workload's containers once while the analyzers run.

    A dozen analyzers each asked for every workload's containers (image facts, effective
    security, literal env): nine derivations per object, 8 % of a cluster scan's CPU. The
    memo lives only as long as the block, so it never outlives the analyzers; callers
    read the containers and never change them.
    """
    global _memo
    outer, _memo = _memo, {} if _memo is None else _memo
    try:
        yield
    finally:
        _memo = outer


def containers_of_resource(resource: Resource) -> list[dict[str, Any]]:
    """Every container of a workload with field paths from the object root."""
    ref, body = resource.ref, resource.body
    if _memo is not None:
        known = _memo.get(id(body))
        if known is not None and known[0] is body and known[1:3] == (ref.api_version, ref.kind):
            return known[3]
    info = kinds.lookup(ref.api_version, ref.kind)
    prefix = ".".join(info.pod_spec_path) if info else ""
    found = containers_of(pod_spec_of(resource), prefix)
    if _memo is not None:
        _memo[id(body)] = (body, ref.api_version, ref.kind, found)
    return found
