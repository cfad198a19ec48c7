"""Kinds as descriptors: group, plural, scope and where the pod spec lives.

Rules and sources read this table instead of re-deriving kind facts, so a new
workload kind is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KindInfo:
    """What the scanner knows about one kind."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    pod_spec_path: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``group/version`` or ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version


_TEMPLATE = ("spec", "template", "spec")

KINDS: tuple[KindInfo, ...] = (
    KindInfo("", "v1", "Namespace", "namespaces", namespaced=False),
    KindInfo("", "v1", "Pod", "pods", pod_spec_path=("spec",)),
    KindInfo("", "v1", "Service", "services"),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts"),
    KindInfo("", "v1", "ConfigMap", "configmaps"),
    KindInfo("", "v1", "Secret", "secrets"),
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    KindInfo("", "v1", "ReplicationController", "replicationcontrollers", pod_spec_path=_TEMPLATE),
    KindInfo("", "v1", "PodTemplate", "podtemplates", pod_spec_path=("template", "spec")),
    KindInfo("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False),
    KindInfo("apps", "v1", "Deployment", "deployments", pod_spec_path=_TEMPLATE),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", pod_spec_path=_TEMPLATE),
    KindInfo("apps", "v1", "DaemonSet", "daemonsets", pod_spec_path=_TEMPLATE),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", pod_spec_path=_TEMPLATE),
    KindInfo("batch", "v1", "Job", "jobs", pod_spec_path=_TEMPLATE),
    KindInfo(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        pod_spec_path=("spec", "jobTemplate", "spec", "template", "spec"),
    ),
    # Platform deployment kinds and rollout CRDs: a pod template makes them workloads.
    KindInfo("argoproj.io", "v1alpha1", "Rollout", "rollouts", pod_spec_path=_TEMPLATE),
    KindInfo(
        "apps.openshift.io", "v1", "DeploymentConfig", "deploymentconfigs", pod_spec_path=_TEMPLATE
    ),
    KindInfo(
        "serving.knative.dev",
        "v1",
        "Service",
        "services",
        pod_spec_path=("spec", "template", "spec"),
    ),
    KindInfo("apps.kruise.io", "v1alpha1", "CloneSet", "clonesets", pod_spec_path=_TEMPLATE),
    KindInfo("apps.kruise.io", "v1beta1", "StatefulSet", "statefulsets", pod_spec_path=_TEMPLATE),
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses"),
    KindInfo("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    KindInfo("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False),
    KindInfo("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    KindInfo("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    KindInfo(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    KindInfo(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
    ),
    KindInfo("apiserver.config.k8s.io", "v1", "EncryptionConfiguration", "", namespaced=False),
    KindInfo("traefik.io", "v1alpha1", "IngressRoute", "ingressroutes"),
    KindInfo("traefik.io", "v1alpha1", "TLSOption", "tlsoptions"),
    KindInfo("traefik.io", "v1alpha1", "Middleware", "middlewares"),
    KindInfo("traefik.io", "v1alpha1", "ServersTransport", "serverstransports"),
    KindInfo("traefik.containo.us", "v1alpha1", "IngressRoute", "ingressroutes"),
    KindInfo("traefik.containo.us", "v1alpha1", "TLSOption", "tlsoptions"),
    KindInfo("traefik.containo.us", "v1alpha1", "Middleware", "middlewares"),
    KindInfo("traefik.containo.us", "v1alpha1", "ServersTransport", "serverstransports"),
    KindInfo("velero.io", "v1", "Schedule", "schedules"),
    KindInfo("velero.io", "v1", "Backup", "backups"),
    KindInfo("velero.io", "v1", "BackupStorageLocation", "backupstoragelocations"),
    KindInfo("velero.io", "v1", "Backup", "backups"),
    KindInfo("velero.io", "v1", "Restore", "restores"),
    KindInfo("postgresql.cnpg.io", "v1", "Cluster", "clusters"),
    KindInfo("postgresql.cnpg.io", "v1", "ScheduledBackup", "scheduledbackups"),
    KindInfo("postgresql.cnpg.io", "v1", "Backup", "backups"),
    KindInfo("external-secrets.io", "v1beta1", "ExternalSecret", "externalsecrets"),
    KindInfo("bitnami.com", "v1alpha1", "SealedSecret", "sealedsecrets"),
    KindInfo("argoproj.io", "v1alpha1", "Application", "applications"),
    KindInfo("argoproj.io", "v1alpha1", "AppProject", "appprojects"),
    KindInfo("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
    KindInfo("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
    KindInfo("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
)

_BY_GROUP_KIND: dict[tuple[str, str], KindInfo] = {(k.group, k.kind): k for k in KINDS}


WORKLOAD_KINDS: tuple[tuple[str, str], ...] = tuple(
    (k.group, k.kind) for k in KINDS if k.pod_spec_path
)
"""(API group, kind) of every kind with a pod template: what ``match.workloads`` selects."""


def group_of(api_version: str) -> str:
    """The API group of an ``apiVersion`` ('' for core)."""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def lookup(api_version: str, kind: str) -> KindInfo | None:
    """The descriptor for a kind, whatever its version."""
    return _BY_GROUP_KIND.get((group_of(api_version), kind))


def is_namespaced(api_version: str, kind: str) -> bool:
    """Unknown kinds are assumed namespaced, as most custom resources are."""
    info = lookup(api_version, kind)
    return info.namespaced if info else True


def is_workload(api_version: str, kind: str) -> bool:
    """A kind with a pod template in the kinds table."""
    info = lookup(api_version, kind)
    return info is not None and bool(info.pod_spec_path)


def carries_containers(body: Mapping[str, Any], depth: int = 6) -> bool:
    """Whether an object of an unknown kind holds a ``containers`` list somewhere in its spec.

    Such an object is probably a workload the kinds table does not know; the engine lists
    it as skipped with a warning instead of letting workload rules silently miss it.
    """
    if depth <= 0:
        return False
    items = body.get("containers")
    if isinstance(items, list) and any(isinstance(c, Mapping) and "image" in c for c in items):
        return True
    return any(
        isinstance(v, Mapping) and carries_containers(v, depth - 1)
        for k, v in body.items()
        if k not in ("metadata", "status")
    )


def delegates_pod_template(body: Mapping[str, Any]) -> bool:
    """An Argo Rollout with ``workloadRef`` runs the pod template of another object,
    which is judged in its own right."""
    spec = body.get("spec")
    return isinstance(spec, Mapping) and isinstance(spec.get("workloadRef"), Mapping)


def pod_spec(api_version: str, kind: str, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload, or None for kinds that have none."""
    info = lookup(api_version, kind)
    if info is None or not info.pod_spec_path:
        return None
    node: Any = body
    for key in info.pod_spec_path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None
