"""RBAC separation of duties as facts: one synthetic ``RbacSubject`` resource per subject.

Subjects are not objects in any manifest, so the analyzer synthesises one resource per
User, Group and ServiceAccount, located at the first binding (by file and line) that grants
it, carrying ``facts.rbacSubject``. Each binding gets ``facts.rbacBinding``; a rule that
matches bindings only when that fact is missing turns an analyzer failure into ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, pod_spec_of
from scanner.model import SYNTHETIC_GROUP, Origin, Resource, ResourceRef
from scanner.rbac.builtin import BOOTSTRAP_LABEL, BOOTSTRAP_ROLE_NAMES
from scanner.rbac.effective import RBAC_GROUP
from scanner.rbac.model import RoleKey

SUBJECT_KIND = "RbacSubject"
SUBJECT_API_VERSION = f"{SYNTHETIC_GROUP}/v1"


class RbacAnalyzer(Analyzer):
    """``facts.rbacSubject`` (duties, conflicts, grant chains) and ``facts.rbacBinding``."""

    name = "rbac"
    provides = ("rbacSubject", "rbacBinding", "rbacRole", "serviceAccount")
    reads = (
        *(
            ("rbac.authorization.k8s.io", kind)
            for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
        ),
        ("", "ServiceAccount"),
        # Argo CD's own RBAC: argocd-rbac-cm, AppProject roles, the apps they act on
        ("", "ConfigMap"),
        ("argoproj.io", "AppProject"),
        ("argoproj.io", "Application"),
    )
    synthesises = ((SYNTHETIC_GROUP, SUBJECT_KIND),)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Compute every subject's duties once; raises on malformed duty parameters."""
        from scanner.rbac.analysis import analyze

        analysis = analyze(inventory, params)
        result = AnalyzerResult()
        conflicted: dict[int, set[str]] = {}
        for report in analysis.subjects:
            fact = report.to_fact()
            if report.conflicts:
                for grant in report.grants:
                    conflicted.setdefault(grant.binding.index, set()).add(report.subject.id)
            origin = (
                inventory.resources[report.origin_index].origin
                if report.origin_index >= 0
                else Origin()
            )
            subject = report.subject
            ref = ResourceRef(SUBJECT_API_VERSION, SUBJECT_KIND, subject.namespace, subject.id)
            body = {
                "apiVersion": SUBJECT_API_VERSION,
                "kind": SUBJECT_KIND,
                "metadata": {"name": subject.id, "namespace": subject.namespace},
                "subject": {"kind": subject.kind, "name": subject.name},
            }
            result.resources.append(Resource(ref, body, origin, {"rbacSubject": fact}))
        described = {b.index: b for b in analysis.index.bindings}
        kinds = ("RoleBinding", "ClusterRoleBinding")
        for i in inventory.of_kind(*kinds, groups=[RBAC_GROUP]):
            binding = described.get(i)
            result.facts[i] = {
                "rbacBinding": {
                    "role": binding.role.display() if binding else "",
                    "clusterAdmin": bool(binding and analysis.index.is_cluster_admin(binding.role)),
                    "subjects": [s.id for s in binding.subjects] if binding else [],
                    "problems": analysis.index.problems_by_binding.get(i, []),
                    "subjectsWithConflicts": sorted(conflicted.get(i, ())),
                }
            }
        for i in inventory.of_kind("Role", "ClusterRole", groups=[RBAC_GROUP]):
            resource = inventory.resources[i]
            key = RoleKey(
                resource.ref.kind,
                resource.ref.name,
                resource.ref.namespace if resource.ref.kind == "Role" else "",
            )
            result.facts[i] = {
                "rbacRole": {
                    "bootstrap": is_bootstrap_role(resource),
                    "clusterAdmin": analysis.index.is_cluster_admin(key),
                }
            }
        result.facts.update(service_account_facts(inventory))
        return result


def is_bootstrap_role(resource: Resource) -> bool:
    """Kubernetes' own roles: the bootstrapping label, or a ClusterRole of the fixed list
    the authorizer creates. Never the ``system:`` prefix alone: anyone can use it."""
    meta = resource.body.get("metadata")
    labels = (meta.get("labels") if isinstance(meta, Mapping) else None) or {}
    if isinstance(labels, Mapping) and labels.get(BOOTSTRAP_LABEL) == "rbac-defaults":
        return True
    return resource.ref.kind == "ClusterRole" and resource.ref.name in BOOTSTRAP_ROLE_NAMES


def service_account_facts(inventory: Inventory) -> dict[int, dict[str, Any]]:
    """``facts.serviceAccount`` on every workload: the account it runs as and whether a token
    is actually mounted (the pod's field, else the ServiceAccount's, else true)."""
    accounts: dict[tuple[str, str], Mapping[str, Any]] = {}
    for i in inventory.of_kind("ServiceAccount", groups=[""]):
        ref = inventory.resources[i].ref
        accounts[(ref.namespace, ref.name)] = inventory.resources[i].body
    found: dict[int, dict[str, Any]] = {}
    for i, resource in enumerate(inventory.resources):
        pod = pod_spec_of(resource)
        if pod is None:
            continue
        name = str(pod.get("serviceAccountName") or pod.get("serviceAccount") or "default")
        account = accounts.get((resource.ref.namespace, name))
        pod_field = pod.get("automountServiceAccountToken")
        sa_field = account.get("automountServiceAccountToken") if account else None
        if isinstance(pod_field, bool):
            mounted, source = pod_field, "pod spec"
        elif isinstance(sa_field, bool):
            mounted, source = sa_field, f"ServiceAccount {name}"
        else:
            mounted, source = True, "Kubernetes default"
        found[i] = {
            "serviceAccount": {
                "name": name,
                "declared": account is not None,
                "tokenMounted": mounted,
                "tokenSource": source,
                "explicitOptIn": pod_field is True or (pod_field is None and sa_field is True),
            }
        }
    return found
