"""Benchmark: list and judge 50,000 objects from the fixture API server over TLS.

The server runs in a child process; the scan runs through the CLI exactly as the nightly
CronJob runs it (``--fail-on=none``, a signed ``--evidence`` bundle), as a process of its
own, and is measured whole: wall, CPU and the peak RSS of its process tree (forked workers
included). It also writes the JSON report (``--json``) and measures every output: the
bundle's files, and the time headless Chromium takes to render the bundle's HTML report.
Targets (issue 13.3 and 13.4): <= 120 s and <= 1 GiB on 2 cores; JSON <= 20 MB, HTML
<= 5 MB rendered in <= 5 s.

    python -m bench.bench_cluster [--objects 50000] [--estate realistic|failing]
        [--page-size 500] [--chromium chromium]

The realistic estate (the default) is what a finance platform under change control runs:
compliant with the shipped rules by construction, 5 % of the objects with one or two
violations. The failing estate is the stress case: every Deployment fails about eight rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
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


def _crd(group: str, kind: str, plural: str, version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural},
            "versions": [{"name": version, "served": True, "storage": True}],
        },
    }


#: Share of the realistic estate's objects carrying a violation (one, or two for a tenth
#: of them): what a finance platform under change control is left with on a given night.
VIOLATING = 0.05
ESTATES = ("realistic", "failing")


def objects(total: int, estate: str = "failing") -> list[dict[str, Any]]:
    """A synthetic estate: 80 % Deployments, 10 % RoleBindings, 10 % IngressRoutes.

    ``failing``: every Deployment fails about eight rules (no securityContext, probes,
    service account...), the stress case. ``realistic``: compliant with the shipped rules
    by construction (GitOps-owned, hardened workloads, backed-up and isolated production
    namespaces), except :data:`VIOLATING` of the objects with one or two violations."""
    if estate == "realistic":
        return _realistic(total)
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
            container = {
                "name": "app",
                "image": image,
                "env": [{"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"limits": {"memory": "1Gi"}},
            }
            docs.append(_workload(meta, {"app": meta["name"]}, {"containers": [container]}))
    return docs


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _platform(prod: list[str], staging: list[str]) -> list[dict[str, Any]]:
    """What a compliant production cluster runs beside the workloads: GitOps owners,
    Velero with recent backups and a restore drill, default-deny network policies,
    service accounts without tokens, TLS options and HSTS middlewares. Backup times are
    relative to now, so the estate stays compliant whenever the bench runs; with
    ``SOURCE_DATE_EPOCH`` set, "now" is that moment (the scan's clock reads it too), so two
    runs serve the same estate and their outputs can be compared byte for byte."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    now = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch.isdigit()
        else dt.datetime.now(dt.UTC).replace(microsecond=0)
    )
    docs: list[dict[str, Any]] = [
        CRD,
        _crd("traefik.io", "TLSOption", "tlsoptions", "v1alpha1"),
        _crd("traefik.io", "Middleware", "middlewares", "v1alpha1"),
        _crd("argoproj.io", "Application", "applications", "v1alpha1"),
        _crd("argoproj.io", "AppProject", "appprojects", "v1alpha1"),
        _crd("velero.io", "Schedule", "schedules"),
        _crd("velero.io", "Backup", "backups"),
        _crd("velero.io", "Restore", "restores"),
        _crd("velero.io", "BackupStorageLocation", "backupstoragelocations"),
    ]
    for name in ("argocd", "velero"):  # unclassified: judged as production, isolated too
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": name},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
    repo = "https://git.finance.example/platform/estate.git"
    docs.append(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "finance", "namespace": "argocd"},
            "spec": {"sourceRepos": [repo]},
        }
    )
    for ns in prod + staging:
        env = "production" if ns in prod else "staging"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"environment": env}},
            }
        )
        docs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": f"apps-{ns}", "namespace": "argocd"},
                "spec": {
                    "project": "finance",
                    "source": {"repoURL": repo, "targetRevision": "main", "path": f"apps/{ns}"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
                "status": {
                    "sync": {
                        "status": "Synced",
                        "revision": "3f1c9a7b2e4d6f8091a2b3c4d5e6f708192a3b4c",
                    },
                    "health": {"status": "Healthy"},
                },
            }
        )
        owned = {"app.kubernetes.io/instance": f"apps-{ns}"}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "app", "namespace": ns, "labels": owned},
                "automountServiceAccountToken": False,
            }
        )
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns, "labels": owned},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
        docs.append(
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "TLSOption",
                "metadata": {"name": "finance-tls", "namespace": ns, "labels": owned},
                "spec": {"minVersion": "VersionTLS12", "sniStrict": True},
            }
        )
        docs.append(
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "Middleware",
                "metadata": {"name": "hsts", "namespace": ns, "labels": owned},
                "spec": {
                    "headers": {
                        "stsSeconds": 63072000,
                        "stsIncludeSubdomains": True,
                        "stsPreload": True,
                    }
                },
            }
        )
    docs.append(
        {
            "apiVersion": "velero.io/v1",
            "kind": "BackupStorageLocation",
            "metadata": {"name": "default", "namespace": "velero"},
            "spec": {
                "provider": "aws",
                "default": True,
                "objectStorage": {"bucket": "finance-prod-backups", "prefix": "velero"},
                "config": {
                    "region": "eu-central-1",
                    "serverSideEncryption": "aws:kms",
                    "kmsKeyId": "arn:aws:kms:eu-central-1:111122223333:key/7c8d9e0f",
                },
            },
            "status": {"phase": "Available", "lastValidationTime": _iso(now)},
        }
    )
    docs.append(
        {
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": {"name": "finance-daily", "namespace": "velero"},
            "spec": {
                "schedule": "0 1 * * *",
                "template": {
                    "includedNamespaces": prod,
                    "ttl": "2160h0m0s",
                    "storageLocation": "default",
                },
            },
        }
    )
    backups = []
    for days in (0, 1, 2, 10):
        done = now - dt.timedelta(days=days, hours=2)
        name = f"finance-daily-{done:%Y%m%d%H%M%S}"
        backups.append(name)
        docs.append(
            {
                "apiVersion": "velero.io/v1",
                "kind": "Backup",
                "metadata": {
                    "name": name,
                    "namespace": "velero",
                    "labels": {
                        "velero.io/schedule-name": "finance-daily",
                        "velero.io/storage-location": "default",
                    },
                },
                "spec": {
                    "includedNamespaces": prod,
                    "storageLocation": "default",
                    "ttl": "2160h0m0s",
                },
                "status": {
                    "phase": "Completed",
                    "startTimestamp": _iso(done - dt.timedelta(minutes=15)),
                    "completionTimestamp": _iso(done),
                },
            }
        )
    drill = now - dt.timedelta(days=9)
    docs.append(
        {
            "apiVersion": "velero.io/v1",
            "kind": "Restore",
            "metadata": {"name": "finance-drill", "namespace": "velero"},
            "spec": {
                "backupName": backups[-1],
                # into non-production namespaces ("*-test"), as a drill must
                "namespaceMapping": {ns: f"drill-{ns[-2:]}-test" for ns in prod},
            },
            "status": {
                "phase": "Completed",
                "startTimestamp": _iso(drill),
                "completionTimestamp": _iso(drill + dt.timedelta(minutes=20)),
            },
        }
    )
    return docs


def _realistic(total: int) -> list[dict[str, Any]]:
    prod = [f"finance-prod-{i:02d}" for i in range(25)]
    staging = [f"finance-{i:02d}-staging" for i in range(25)]
    namespaces = [n for pair in zip(prod, staging, strict=True) for n in pair]
    docs = _platform(prod, staging)
    every = round(1 / VIOLATING)
    for i in range(max(0, total - len(docs) + 1)):
        ns = namespaces[(i // 10) % len(namespaces)]  # every kind in every namespace
        name = f"obj-{i:06d}"
        owned = {"app": f"a{i % 97}", "app.kubernetes.io/instance": f"apps-{ns}"}
        meta = {"name": name, "namespace": ns, "labels": owned}
        # a stated share of each kind violates: one rule, or two for a tenth of them
        group = i // 10
        violations = 0 if group % every else (2 if group % (every * 10) == 0 else 1)
        bucket = i % 10
        if bucket == 8:
            subject = (
                {"kind": "User", "name": f"user{i}@finance.example"}
                if violations
                else {"kind": "Group", "name": f"oidc:team-{i % 40}"}
            )
            docs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": meta if violations < 2 else {**meta, "labels": {}},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "view",
                    },
                    "subjects": [{**subject, "apiGroup": "rbac.authorization.k8s.io"}],
                }
            )
        elif bucket == 9:
            spec: dict[str, Any] = {
                "entryPoints": ["websecure"],
                "routes": [
                    {
                        "match": f"Host(`{name}.finance.example`)",
                        "kind": "Rule",
                        "services": [{"name": name, "port": 8080}],
                        "middlewares": [] if violations else [{"name": "hsts"}],
                    }
                ],
                "tls": {"secretName": f"{name}-tls", "options": {"name": "finance-tls"}},
            }
            if violations > 1:
                spec["tls"] = {"secretName": f"{name}-tls"}
            docs.append(
                {
                    "apiVersion": "traefik.io/v1alpha1",
                    "kind": "IngressRoute",
                    "metadata": meta,
                    "spec": spec,
                }
            )
        else:
            docs.append(_deployment(meta, violations))
    return docs


def _deployment(meta: dict[str, Any], violations: int) -> dict[str, Any]:
    """A hardened Deployment; ``violations`` takes away a read-only root file system, then
    the image's digest."""
    digest = "@sha256:" + "ab" * 32
    container: dict[str, Any] = {
        "name": "app",
        "image": "registry.finance.internal/odoo:17.0" + ("" if violations > 1 else digest),
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
        "ports": [{"containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": not violations,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    pod = {
        "serviceAccountName": "app",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    return _workload(meta, {**meta["labels"], "app": meta["name"]}, pod)


def _workload(meta: dict[str, Any], labels: dict[str, str], pod: dict[str, Any]) -> dict[str, Any]:
    """A two-replica Deployment of ``pod`` whose pods carry ``labels``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": meta["name"]}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def serve(total: int, workdir: str, pipe: Connection, estate: str = "failing") -> None:
    """Child process: build the store, serve it, report the kubeconfig, wait for 'stop'."""
    import yaml

    from tests.kubeapi.pki import make_pki
    from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
    from tests.kubeapi.store import Store

    store = Store()
    store.add_all(objects(total, estate))
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
    parser.add_argument(
        "--estate",
        choices=ESTATES,
        default="realistic",
        help="realistic: compliant but for 5%% of the objects (one or two violations each); "
        "failing: every Deployment fails about eight rules (the stress case)",
    )
    parser.add_argument("--rss-limit-mib", type=float, default=4096, help="stop the scan here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--keep", type=Path, help="copy the report and bundle here to inspect")
    args = parser.parse_args()

    from bench.proctree import HEADER, measure

    with tempfile.TemporaryDirectory() as workdir:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=serve, args=(args.objects, workdir, child, args.estate)
        )
        proc.start()
        kubeconfig = Path(parent.recv())
        bundle = Path(workdir) / "evidence" / "audit.zip"
        try:
            # The CronJob's arguments (deploy/nightly-audit/base/cronjob.yaml), signed bundle.
            argv = [
                sys.executable, "-m", "scanner", "--quiet", "scan", "cluster",
                "--kubeconfig", str(kubeconfig), "--request-timeout=60", "--fail-on=none",
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
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for kept in (Path(workdir) / "report.json", bundle):
                if kept.exists():
                    shutil.copy2(kept, args.keep / kept.name)
    print(
        f"scan cluster, {args.objects:,} objects, {args.estate} estate, page size "
        f"{args.page_size}, signed bundle"
    )
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
        f"process tree {run.peak_rss_mib:,.0f}/1024 MiB ({run.peak_rss_mib / 1024:.2f}x; PSS "
        f"{run.peak_pss_mib:,.0f} MiB, {run.peak_pss_mib / 1024:.2f}x), "
        f"JSON {json_mb:.1f}/20 MB ({json_mb / 20:.2f}x), HTML {html_mb:.1f}/5 MB "
        f"({html_mb / 5:.2f}x), Chromium render {render}"
    )


def _outputs(workdir: Path, bundle: Path, chromium: str) -> tuple[dict[str, int], float]:
    """Sizes of the outputs (the bundle's files one by one) and Chromium's render time of
    the bundle's HTML report (-1 when Chromium is not installed or there is no report)."""
    import zipfile

    from bench.bench_outputs import chromium_seconds

    sizes = {p.name: p.stat().st_size for p in (workdir / "report.json",) if p.exists()}
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
