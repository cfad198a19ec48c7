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
from scanner.inventory import Inventory
from scanner.model import SYNTHETIC_GROUP, Origin, Resource, ResourceRef
from scanner.rbac.effective import RBAC_GROUP

SUBJECT_KIND = "RbacSubject"
SUBJECT_API_VERSION = f"{SYNTHETIC_GROUP}/v1"


class RbacAnalyzer(Analyzer):
    """``facts.rbacSubject`` (duties, conflicts, grant chains) and ``facts.rbacBinding``."""

    name = "rbac"
    provides = ("rbacSubject", "rbacBinding")
    reads = (
        *(
            ("rbac.authorization.k8s.io", kind)
            for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
        ),
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
                    "subjects": [s.id for s in binding.subjects] if binding else [],
                    "problems": analysis.index.problems_by_binding.get(i, []),
                    "subjectsWithConflicts": sorted(conflicted.get(i, ())),
                }
            }
        return result
