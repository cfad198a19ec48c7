"""Benchmark: list and judge 50,000 objects from the fixture API server over TLS.

The server runs in a child process (so client and server don't share a GIL); the
parent runs the real cluster source, pipeline and shipped rules, and prints objects
per second and its peak resident memory.

    python -m bench.bench_cluster [--objects 50000] [--page-size 500]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "ingressroutes.traefik.io"},
    "spec": {
        "group": "traefik.io",
        "scope": "Namespaced",
        "names": {"kind": "IngressRoute", "plural": "ingressroutes"},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True}],
    },
}


def objects(total: int) -> list[dict[str, Any]]:
    """A synthetic estate: 80 % Deployments, 10 % RoleBindings, 10 % IngressRoutes."""
    namespaces = [f"finance-prod-{i:02d}" if i % 2 else f"team-{i:02d}" for i in range(50)]
    docs: list[dict[str, Any]] = [CRD]
    docs += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces]
    for i in range(total - len(docs) + 1):
        ns = namespaces[i % len(namespaces)]
        meta = {"name": f"obj-{i:06d}", "namespace": ns, "labels": {"app": f"a{i % 97}"}}
        bucket = i % 10
        if bucket == 8:
            docs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": meta,
                    "roleRef": {
                        "kind": "ClusterRole",
                        "name": "cluster-admin" if i % 7 == 0 else "view",
                    },
                    "subjects": [{"kind": "User", "name": f"user{i}@finance.example"}],
                }
            )
        elif bucket == 9:
            docs.append(
                {
                    "apiVersion": "traefik.io/v1alpha1",
                    "kind": "IngressRoute",
                    "metadata": meta,
                    "spec": {
                        "entryPoints": ["websecure"],
                        "routes": [{"match": "Host(`x`)"}],
                        "tls": {},
                    },
                }
            )
        else:
            image = "registry.finance.internal/odoo:17.0" + (
                "@sha256:" + "ab" * 32 if i % 3 else ""
            )
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": meta,
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": meta["name"]}},
                        "template": {
                            "metadata": {"labels": {"app": meta["name"]}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "image": image,
                                        "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                        "resources": {"limits": {"memory": "1Gi"}},
                                    }
                                ]
                            },
                        },
                    },
                }
            )
    return docs


def serve(total: int, workdir: str, pipe: Connection) -> None:
    """Child process: build the store, serve it, report the kubeconfig, wait for 'stop'."""
    import yaml

    from tests.kubeapi.pki import make_pki
    from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
    from tests.kubeapi.store import Store

    store = Store()
    store.add_all(objects(total))
    pki = make_pki(Path(workdir) / "pki")
    server = FixtureApiServer(store, Authz({"bench": "bench"}), pki).start()
    path = Path(workdir) / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(server.url, pki.ca_pem(), "bench")))
    pipe.send(str(path))
    pipe.recv()
    server.stop()


def main() -> None:
    """Run one benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    from scanner.config import load_config
    from scanner.pipeline import run_scan
    from scanner.rules import load_rules
    from scanner.sources.kube import KubeSource
    from scanner.sources.kubeclient import KubeClient, connect
    from scanner.sources.kubeplan import matched_kinds

    with tempfile.TemporaryDirectory() as workdir:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=serve, args=(args.objects, workdir, child))
        proc.start()
        kubeconfig = Path(parent.recv())
        try:
            rules = load_rules()
            client = KubeClient(connect(kubeconfig), timeout_s=60)
            source = KubeSource(client, matched_kinds(rules), page_size=args.page_size)
            t0 = time.perf_counter()
            items = list(source.collect())
            t1 = time.perf_counter()

            class Replay(KubeSource):
                def collect(self):  # type: ignore[no-untyped-def]
                    return iter(items)

            replay = Replay(client, rules)
            result = run_scan(replay, load_config(None), rules=rules)
            t2 = time.perf_counter()
        finally:
            parent.send("stop")
            proc.join(30)
    n = result.resources_scanned
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = result.counts()
    print(
        f"objects read and judged: {n:,} in {client.requests} requests (page size {args.page_size})"
    )
    print(f"list:  {t1 - t0:6.2f} s  {n / (t1 - t0):8,.0f} objects/s")
    print(f"judge: {t2 - t1:6.2f} s  {n / (t2 - t1):8,.0f} objects/s")
    print(f"total: {t2 - t0:6.2f} s  {n / (t2 - t0):8,.0f} objects/s")
    print(f"findings: {dict(sorted(counts.items()))}")
    print(f"peak RSS of the scanner process: {peak_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
