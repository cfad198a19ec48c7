"""Benchmark: RBAC separation-of-duties analysis of a large synthetic estate.

Generates (seeded, so runs compare) 2,000 roles (Roles in 100 namespaces, ClusterRoles,
aggregated ClusterRoles) and 5,000 RoleBindings/ClusterRoleBindings naming Users, Groups
and ServiceAccounts, then times the full analysis (index, every subject's grants, duties
and conflicts: what the analyzer does in a scan) and a who-can query, printing seconds and
the peak memory traced by ``tracemalloc``.

    python -m bench.bench_rbac [--roles 2000] [--bindings 5000]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from typing import Any

from scanner.analyzers import default_analyzers
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef
from scanner.rbac.analysis import analyze
from scanner.rbac.query import who_can
from scanner.rules import RuleSet, load_rules
from scanner.shipped import rules_dir

RBAC_V1 = "rbac.authorization.k8s.io/v1"
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "*"]
RESOURCES = [
    ("", "pods"),
    ("", "pods/exec"),
    ("", "pods/log"),
    ("", "secrets"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("velero.io", "schedules"),
    ("velero.io", "backups"),
    ("argoproj.io", "applications"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("monitoring.coreos.com", "servicemonitors"),
    ("*", "*"),
]


def _resource(kind: str, name: str, namespace: str, body: dict[str, Any], n: int) -> Resource:
    body = {"apiVersion": RBAC_V1, "kind": kind, **body}
    body["metadata"] = {
        "name": name,
        **({"namespace": namespace} if namespace else {}),
        **body.get("metadata", {}),
    }
    ref = ResourceRef(RBAC_V1, kind, namespace, name)
    return Resource(ref, body, Origin(path=f"rbac/{n // 50:04d}.yaml", start_line=n % 50 * 20 + 1))


def _rules(rng: random.Random) -> list[dict[str, Any]]:
    rules = []
    for _ in range(rng.randint(1, 5)):
        group, res = rng.choice(RESOURCES[:-1] if rng.random() > 0.02 else RESOURCES)
        rule: dict[str, Any] = {
            "apiGroups": [group],
            "resources": [res],
            "verbs": rng.sample(VERBS[:-1], rng.randint(1, 4)) if rng.random() > 0.05 else ["*"],
        }
        if rng.random() < 0.1:
            rule["resourceNames"] = [f"obj-{rng.randint(0, 9)}"]
        rules.append(rule)
    return rules


def synthetic_inventory(roles: int, bindings: int, seed: int = 7) -> Inventory:
    """A seeded estate of ``roles`` roles and ``bindings`` bindings."""
    rng = random.Random(seed)
    namespaces = [f"finance-prod-{i}" for i in range(20)] + [f"team-{i}" for i in range(80)]
    inv = Inventory()
    n = 0
    cluster_roles, ns_roles = [], []
    for i in range(roles):
        n += 1
        if i % 4 == 0:
            name = f"cr-{i}"
            meta: dict[str, Any] = {}
            body: dict[str, Any] = {"rules": _rules(rng)}
            if i % 100 == 0:
                body = {
                    "aggregationRule": {
                        "clusterRoleSelectors": [
                            {"matchLabels": {"bench/aggregate-to": f"agg-{i % 7}"}}
                        ]
                    }
                }
            elif rng.random() < 0.3:
                meta = {"labels": {"bench/aggregate-to": f"agg-{rng.randint(0, 6)}"}}
            inv.add(_resource("ClusterRole", name, "", {**body, "metadata": meta}, n))
            cluster_roles.append(name)
        else:
            ns = rng.choice(namespaces)
            inv.add(_resource("Role", f"role-{i}", ns, {"rules": _rules(rng)}, n))
            ns_roles.append((ns, f"role-{i}"))
    for i in range(bindings):
        n += 1
        subjects = []
        for _ in range(rng.randint(1, 3)):
            pick = rng.random()
            if pick < 0.02:
                ns = rng.choice(namespaces)
                subjects.append({"kind": "Group", "name": f"system:serviceaccounts:{ns}"})
            elif pick < 0.5:
                subjects.append({"kind": "User", "name": f"user-{rng.randint(0, 1999)}"})
            elif pick < 0.8:
                subjects.append({"kind": "Group", "name": f"oidc:group-{rng.randint(0, 299)}"})
            else:
                subjects.append(
                    {
                        "kind": "ServiceAccount",
                        "name": f"sa-{rng.randint(0, 49)}",
                        "namespace": rng.choice(namespaces),
                    }
                )
        if i % 5 == 0:
            role = {"kind": "ClusterRole", "name": rng.choice(cluster_roles)}
            inv.add(
                _resource(
                    "ClusterRoleBinding", f"crb-{i}", "", {"roleRef": role, "subjects": subjects}, n
                )
            )
        else:
            ns, name = rng.choice(ns_roles)
            role = {"kind": "Role", "name": name}
            if rng.random() < 0.3:
                role = {"kind": "ClusterRole", "name": rng.choice(cluster_roles)}
            inv.add(
                _resource("RoleBinding", f"rb-{i}", ns, {"roleRef": role, "subjects": subjects}, n)
            )
    return inv


def main() -> None:
    """Time the analysis and print seconds and peak traced memory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--bindings", type=int, default=5000)
    args = parser.parse_args()
    params = {**default_params(), "productionNamespaces": ["finance-prod-*"]}
    inventory = synthetic_inventory(args.roles, args.bindings)
    start, cpu = time.perf_counter(), time.process_time()
    analysis = analyze(inventory, params)
    analyzed, analyzed_cpu = time.perf_counter() - start, time.process_time() - cpu
    tracemalloc.start()  # a second, traced run: tracing slows Python down several times
    analyze(inventory, params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = time.perf_counter()
    answer = who_can(inventory, "create", "pods/exec", "finance-prod-3")
    queried = time.perf_counter() - start
    start = time.perf_counter()
    rules = RuleSet(load_rules([rules_dir()], include=["LG-RBAC-*"]))
    findings, _ = Engine(rules, params, default_analyzers()).run(inventory)
    engine = time.perf_counter() - start
    conflicted = sum(1 for r in analysis.subjects if r.conflicts)
    print(
        f"roles={args.roles} bindings={args.bindings} subjects={len(analysis.subjects)} "
        f"with-conflicts={conflicted}"
    )
    print(
        f"analysis: {analyzed:.2f} s wall, {analyzed_cpu:.2f} s CPU; "
        f"peak allocated (tracemalloc) {peak / 2**20:.1f} MiB"
    )
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(
        f"engine, every analyzer + {len(rules)} LG-RBAC rules: {engine:.2f} s, "
        f"{len(findings)} findings"
    )
    print(
        f"who-can create pods/exec -n finance-prod-3: {queried:.2f} s, "
        f"{len(answer['subjects'])} subjects"
    )


if __name__ == "__main__":
    main()
