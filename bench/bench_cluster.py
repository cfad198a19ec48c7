"""Benchmark: list and judge 50,000 objects from the fixture API server over TLS.

The server runs in a child process; the scan runs through the CLI exactly as the nightly
CronJob runs it (``--fail-on=none``, a signed ``--evidence`` bundle), as a process of its
own, and is measured whole: wall, CPU and the peak RSS of its process tree (forked workers
included). Targets: <= 120 s and <= 1 GiB on 2 cores.

    python -m bench.bench_cluster [--objects 50000] [--page-size 500]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.proctree and tests.kubeapi, run as a script

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


def _sign_key(folder: Path) -> Path:
    """A P-256 signing key for the bundle (what ``--sign-key`` takes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = folder / "sign.pem"
    path.write_bytes(pem)
    return path


def main() -> None:
    """Serve the estate, run the CLI against it as the CronJob does, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    from bench.proctree import HEADER, measure

    with tempfile.TemporaryDirectory() as workdir:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=serve, args=(args.objects, workdir, child))
        proc.start()
        kubeconfig = Path(parent.recv())
        bundle = Path(workdir) / "evidence" / "audit.zip"
        try:
            # The CronJob's arguments (deploy/nightly-audit/base/cronjob.yaml), signed bundle.
            argv = [
                sys.executable, "-m", "scanner", "scan", "cluster",
                "--kubeconfig", str(kubeconfig), "--request-timeout=60", "--fail-on=none",
                "--format=table", "-o", str(Path(workdir) / "table.txt"),
                f"--page-size={args.page_size}", f"--evidence={bundle}",
                f"--sign-key={_sign_key(Path(workdir))}",
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGERGATE_RUN_ID": "bench"}
            run = measure(argv, env=env, cwd=Path(workdir), label="ledgergate")
        finally:
            parent.send("stop")
            proc.join(30)
        size = bundle.stat().st_size if bundle.exists() else 0
    print(f"scan cluster, {args.objects:,} objects, page size {args.page_size}, signed bundle")
    print(HEADER)
    print(run.line("ledgergate"))
    print(f"objects/s: {args.objects / run.wall_s:,.0f}; bundle: {size / 2**20:,.1f} MiB")
    print(
        f"targets: wall {run.wall_s:.0f}/120 s ({run.wall_s / 120:.2f}x), peak RSS of the "
        f"process tree {run.peak_rss_mib:,.0f}/1024 MiB ({run.peak_rss_mib / 1024:.2f}x)"
    )


if __name__ == "__main__":
    main()
