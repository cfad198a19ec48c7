"""Benchmark: list and judge 50,000 objects from the fixture API server over TLS.

The server runs in a child process; the scan runs through the CLI exactly as the nightly
CronJob runs it (``--fail-on=none``, a signed ``--evidence`` bundle), as a process of its
own, and is measured whole: wall, CPU and the peak RSS of its process tree (forked workers
included). It also writes the JSON report (``--json``) and measures every output: the
bundle's files, and the time headless Chromium takes to render the bundle's HTML report.
Targets (issue 13.3 and 13.4): <= 120 s and <= 1 GiB on 2 cores; JSON <= 20 MB, HTML
<= 5 MB rendered in <= 5 s.

    python -m bench.bench_cluster [--objects 50000] [--page-size 500] [--chromium chromium]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
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
    parser.add_argument("--rss-limit-mib", type=float, default=4096, help="stop the scan here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
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
                f"--json={Path(workdir) / 'report.json'}",
                f"--sign-key={_sign_key(Path(workdir))}",
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGERGATE_RUN_ID": "bench"}
            run_load = os.getloadavg()
            run = measure(
                argv, env=env, cwd=Path(workdir), label="ledgergate",
                rss_limit_mib=args.rss_limit_mib,
            )  # fmt: skip
        finally:
            parent.send("stop")
            proc.join(30)
        sizes, render_s = _outputs(Path(workdir), bundle, args.chromium)
    print(f"scan cluster, {args.objects:,} objects, page size {args.page_size}, signed bundle")
    print(f"load average before/after: {run_load[0]:.2f} / {os.getloadavg()[0]:.2f}")
    print(HEADER)
    print(run.line("ledgergate"))
    print(f"objects/s: {args.objects / run.wall_s:,.0f}")
    for name, size in sizes.items():
        print(f"  {name:<28} {size / 1e6:>10.2f} MB")
    json_mb, html_mb = sizes.get("report.json", 0) / 1e6, sizes.get("bundle:report.html", 0) / 1e6
    render = f"{render_s:.1f}/5 s ({render_s / 5:.2f}x)" if render_s >= 0 else "not measured"
    print(
        f"targets: wall {run.wall_s:.0f}/120 s ({run.wall_s / 120:.2f}x), peak RSS of the "
        f"process tree {run.peak_rss_mib:,.0f}/1024 MiB ({run.peak_rss_mib / 1024:.2f}x), "
        f"JSON {json_mb:.1f}/20 MB ({json_mb / 20:.2f}x), HTML {html_mb:.1f}/5 MB "
        f"({html_mb / 5:.2f}x), Chromium render {render}"
    )


def _outputs(workdir: Path, bundle: Path, chromium: str) -> tuple[dict[str, int], float]:
    """Sizes of the outputs (the bundle's files one by one) and Chromium's render time of
    the bundle's HTML report (-1 when Chromium is not installed or there is no report)."""
    import zipfile

    from bench.bench_outputs import chromium_seconds

    sizes = {p.name: p.stat().st_size for p in (workdir / "report.json", workdir / "table.txt")}
    sizes = {k: v for k, v in sizes.items() if v}
    if not bundle.exists():
        return sizes, -1.0
    sizes["bundle (zip)"] = bundle.stat().st_size
    with zipfile.ZipFile(bundle) as archive:
        infos = sorted(archive.infolist(), key=lambda i: -i.file_size)
        # the six largest, and always the HTML report (a target of its own)
        for info in [*infos[:6], *(i for i in infos[6:] if i.filename == "report.html")]:
            sizes[f"bundle:{info.filename}"] = info.file_size
        report = workdir / "report.html"
        report.write_bytes(archive.read("report.html"))
    if not shutil.which(chromium):
        return sizes, -1.0
    return sizes, chromium_seconds(chromium, report, workdir / "chromium-profile")


if __name__ == "__main__":
    main()
