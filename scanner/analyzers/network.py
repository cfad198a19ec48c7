"""NetworkPolicy facts: whether each namespace isolates all of its pods by default.

"Default deny" is a property of the set of policies in a namespace, not of one object,
so it is answered once here: every Namespace (declared or synthesised by the backup
analyzer) gets ``facts.networkPolicy``:

- ``policies``: names of the NetworkPolicies in the namespace;
- ``isolated``: ``{Ingress: bool, Egress: bool}``: some policy selects every pod
  (empty ``podSelector``) for that direction and none of its rules allows everything
  (an empty rule ``{}`` admits every peer and port);
- ``isolatingPolicies``: per direction, the policies that give that isolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory

NETWORKING = ("networking.k8s.io",)
DIRECTIONS = ("Ingress", "Egress")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _selects_all(spec: Mapping[str, Any]) -> bool:
    """An empty (or absent) podSelector selects every pod of the namespace."""
    selector = _mapping(spec.get("podSelector"))
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def _policy_types(spec: Mapping[str, Any]) -> set[str]:
    """Kubernetes' default: Ingress always, Egress when an egress section is present."""
    declared = spec.get("policyTypes")
    if isinstance(declared, list):
        return {str(t) for t in declared}
    return {"Ingress", "Egress"} if "egress" in spec else {"Ingress"}


def _allows_everything(rules: object) -> bool:
    """A rule without peers and ports admits all traffic in its direction."""
    if not isinstance(rules, list):
        return False
    for rule in rules:
        body = _mapping(rule)
        peers = body.get("from", body.get("to"))
        if not peers and not body.get("ports"):
            return True
    return False


def isolation(policies: list[tuple[str, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """Per direction, the policies that isolate every pod of their namespace."""
    found: dict[str, list[str]] = {d: [] for d in DIRECTIONS}
    for name, spec in policies:
        if not _selects_all(spec):
            continue
        types = _policy_types(spec)
        for direction in DIRECTIONS:
            rules = spec.get(direction.lower())
            if direction in types and not _allows_everything(rules):
                found[direction].append(name)
    return found


class NetworkPolicyAnalyzer(Analyzer):
    """``facts.networkPolicy`` on every Namespace."""

    name = "network"
    provides = ("networkPolicy",)
    reads = (("networking.k8s.io", "NetworkPolicy"),)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Group policies by namespace, then describe each namespace's isolation."""
        by_namespace: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for i in inventory.of_kind("NetworkPolicy", groups=NETWORKING):
            resource = inventory.resources[i]
            spec = _mapping(resource.body.get("spec"))
            by_namespace.setdefault(resource.ref.namespace, []).append((resource.ref.name, spec))
        result = AnalyzerResult()
        for i in inventory.of_kind("Namespace", groups=("",)):
            name = inventory.resources[i].ref.name
            policies = sorted(by_namespace.get(name, []), key=lambda p: p[0])
            isolating = isolation(policies)
            result.facts[i] = {
                "networkPolicy": {
                    "policies": [p[0] for p in policies],
                    "isolated": {d: bool(isolating[d]) for d in DIRECTIONS},
                    "isolatingPolicies": isolating,
                }
            }
        return result
