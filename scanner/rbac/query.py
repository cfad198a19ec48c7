"""Questions a person asks about RBAC, answered as plain data from any inventory.

``who_can`` (every subject allowed a request, and why) and ``describe_subject`` (a subject's
duties, conflicts and permissions) back ``ledgergate rbac``; they take an Inventory so the
same answers come from a repository, a live cluster or a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner import kinds
from scanner.inventory import Inventory
from scanner.rbac.analysis import SubjectReport, subject_report
from scanner.rbac.duties import DutyConfig, DutyEvaluator
from scanner.rbac.effective import RbacIndex, Request
from scanner.rbac.model import Grant, PolicyRule, Subject

#: Resources kubectl users name bare that the kinds table does not hold: (group, plural, kind).
WELL_KNOWN = (
    ("", "nodes", "Node"),
    ("", "events", "Event"),
    ("", "endpoints", "Endpoints"),
    ("", "persistentvolumes", "PersistentVolume"),
    ("", "resourcequotas", "ResourceQuota"),
    ("", "limitranges", "LimitRange"),
    ("coordination.k8s.io", "leases", "Lease"),
    ("velero.io", "schedules", "Schedule"),
    ("velero.io", "backups", "Backup"),
    ("velero.io", "restores", "Restore"),
    ("velero.io", "backupstoragelocations", "BackupStorageLocation"),
    ("argoproj.io", "applications", "Application"),
    ("argoproj.io", "applicationsets", "ApplicationSet"),
    ("argoproj.io", "appprojects", "AppProject"),
    ("kustomize.toolkit.fluxcd.io", "kustomizations", "Kustomization"),
    ("helm.toolkit.fluxcd.io", "helmreleases", "HelmRelease"),
)


def _names(inventory: Inventory) -> dict[str, list[tuple[str, str]]]:
    """Resource name (plural, singular, kind or short name) -> (group, plural), core first."""
    found: dict[str, list[tuple[str, str]]] = {}

    def add(group: str, plural: str, *names: str) -> None:
        for name in (plural, *names):
            pairs = found.setdefault(name.lower(), [])
            if name and (group, plural) not in pairs:
                pairs.append((group, plural))

    for k in kinds.KINDS:
        if k.plural:
            add(k.group, k.plural, k.kind)
    for group, plural, kind in WELL_KNOWN:
        add(group, plural, kind)
    for i in inventory.of_kind("CustomResourceDefinition"):
        spec = inventory.resources[i].body.get("spec")
        names = spec.get("names") if isinstance(spec, Mapping) else None
        if isinstance(spec, Mapping) and isinstance(names, Mapping) and names.get("plural"):
            short = names.get("shortNames")
            extra = [str(names.get(k) or "") for k in ("kind", "singular")]
            extra += [str(n) for n in short] if isinstance(short, list) else []
            add(str(spec.get("group", "")), str(names["plural"]), *[e for e in extra if e])
    for pairs in found.values():
        pairs.sort(key=lambda gp: (gp[0] != "", gp))
    return found


def parse_request(verb: str, resource: str, namespace: str | None, inventory: Inventory) -> Request:
    """Read RESOURCE as kubectl writes it: ``pods/exec``, ``schedules.velero.io``, ``/healthz``.

    A bare name resolves like kubectl's discovery: the core group first, then the kinds
    table, well-known CRDs and the CRDs in the inventory; unknown names are taken as core.
    """
    if resource.startswith("/"):
        return Request(verb, url=resource)
    main, _, sub = resource.partition("/")
    name, dot, group = main.partition(".")
    if not dot:
        group, name = _names(inventory).get(name.lower(), [("", name)])[0]
    return Request(verb, name, group, sub, namespace)


def rule_data(rule: PolicyRule) -> dict[str, Any]:
    """A PolicyRule as Kubernetes writes it (empty fields left out)."""
    data: dict[str, Any] = {"verbs": list(rule.verbs)}
    if rule.api_groups:
        data["apiGroups"] = list(rule.api_groups)
    if rule.resources:
        data["resources"] = list(rule.resources)
    if rule.resource_names:
        data["resourceNames"] = list(rule.resource_names)
    if rule.non_resource_urls:
        data["nonResourceURLs"] = list(rule.non_resource_urls)
    return data


def grant_data(grant: Grant, holder: Subject | None = None) -> dict[str, Any]:
    """One grant: where it applies, the chain that gives it, and the rule."""
    return {
        "scope": grant.scope(),
        "namespace": grant.namespace,
        "chain": grant.chain(holder),
        "binding": grant.binding.display(),
        "role": grant.binding.role.display(),
        "ruleSource": grant.source.display(),
        "ruleIndex": grant.rule_index,
        "rule": rule_data(grant.rule),
    }


def who_can(
    inventory: Inventory, verb: str, resource: str, namespace: str | None = None
) -> dict[str, Any]:
    """Every subject a binding names that is allowed the request, with each grant that does."""
    index = RbacIndex.build(inventory)
    request = parse_request(verb, resource, namespace, inventory)
    subjects: dict[Subject, list[dict[str, Any]]] = {}
    for subject, grant in index.who_can(request):
        subjects.setdefault(subject, []).append(grant_data(grant, subject))
    return {
        "request": {
            "verb": request.verb,
            "resource": request.resource,
            "apiGroup": request.group,
            "subresource": request.subresource,
            "nonResourceURL": request.url,
            "namespace": request.namespace,
            "display": request.display(),
        },
        "subjects": [
            {
                "subject": s.id,
                "kind": s.kind,
                "name": s.name,
                "namespace": s.namespace,
                "grants": grants,
            }
            for s, grants in sorted(subjects.items())
        ],
        "problems": list(index.problems),
        "notes": list(index.unmodelled),
    }


def _report_data(report: SubjectReport) -> dict[str, Any]:
    return {
        "subject": report.subject.id,
        "kind": report.subject.kind,
        "name": report.subject.name,
        "namespace": report.subject.namespace,
        "duties": [
            {"name": d.name, "impliedBy": d.implied_by, "chains": report.chains_of(d)}
            for d in report.duties
        ],
        "conflicts": [
            {
                "duties": list(conflict.duties),
                "reason": conflict.reason,
                "chains": {h.name: report.chains_of(h) for h in held},
            }
            for conflict, held in report.conflicts
        ],
        "permissions": [grant_data(g, report.subject) for g in report.grants],
        "problems": list(report.problems),
    }


def describe_subject(
    inventory: Inventory, subject: Subject, params: Mapping[str, Any]
) -> dict[str, Any]:
    """A subject's duties (with chains), conflicts and every permission that reaches it."""
    config = DutyConfig.from_params(params)
    index = RbacIndex.build(inventory)
    evaluator = DutyEvaluator(config, params)
    data = _report_data(subject_report(inventory, index, evaluator, subject))
    data["notes"] = list(index.unmodelled)
    data["known"] = subject in set(index.subjects())
    data["memberOf"] = [m.id for m in index.memberships(subject)[1:]]
    return data
