"""Synthetic GitOps repositories of N Kubernetes objects, for benchmarks."""

from __future__ import annotations

from pathlib import Path

DOCS_PER_FILE = 50

_TEMPLATES = (
    """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: {ns}
  labels: {{app: app-{i}, tier: backend}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      serviceAccountName: app-{i}
      automountServiceAccountToken: false
      containers:
        - name: app
          image: registry.finance.internal/erp/app-{i}:1.{i}{digest}
          env:
            - {{name: PGSSLMODE, value: verify-full}}
            - {{name: LOG_LEVEL, value: info}}
          resources: {{limits: {{cpu: 500m, memory: 512Mi}}}}
""",
    """apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: {ns}}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
""",
    """apiVersion: v1
kind: ConfigMap
metadata: {{name: cm-{i}, namespace: {ns}}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
""",
    """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rb-{i}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects:
  - {{kind: Group, name: "oidc:team-{i}", apiGroup: rbac.authorization.k8s.io}}
""",
    """apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {{name: route-{i}, namespace: {ns}}}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(`app-{i}.finance.example`)
      kind: Rule
      services: [{{name: svc-{i}, port: 80}}]
  tls: {{secretName: tls-{i}}}
""",
)


def generate(root: Path, count: int) -> int:
    """Write ``count`` objects under ``root``; returns the number of files."""
    root.mkdir(parents=True, exist_ok=True)
    files = 0
    docs: list[str] = []
    for i in range(count):
        ns = "finance-prod" if i % 3 == 0 else f"team-{i % 40}"
        digest = "@sha256:" + f"{i:064x}" if i % 7 else ""
        docs.append(_TEMPLATES[i % len(_TEMPLATES)].format(i=i, ns=ns, digest=digest))
        if len(docs) == DOCS_PER_FILE or i == count - 1:
            folder = root / f"apps/group-{files // 100}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"manifests-{files}.yaml").write_text("---\n".join(docs))
            files += 1
            docs = []
    return files
