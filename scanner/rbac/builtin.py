"""The default ClusterRoles every Kubernetes cluster bootstraps (``cluster-admin``, ``admin``,
``edit``, ``view`` and the ``system:aggregate-to-*`` roles they aggregate).

A repository binds ``cluster-admin`` or ``edit`` without defining them; without this table the
scanner would think such a binding grants nothing. Definitions follow the bootstrap policy of
Kubernetes 1.30 (``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``); a ClusterRole
of the same name in the inventory (e.g. read from a live cluster) always wins.
"""

from __future__ import annotations

from typing import Any

#: Kubernetes' own bootstrap ClusterRoles that this table does not model (the fixed list the
#: authorizer creates; not the ``system:`` prefix, which anyone may use in a role's name).
#: A binding to one that the inventory does not define is noted, not a problem.
KUBERNETES_SYSTEM_ROLES = frozenset(
    {
        "system:auth-delegator",
        "system:basic-user",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "system:certificates.k8s.io:kube-apiserver-client-approver",
        "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
        "system:certificates.k8s.io:kubelet-serving-approver",
        "system:certificates.k8s.io:legacy-unknown-approver",
        "system:discovery",
        "system:heapster",
        "system:kube-aggregator",
        "system:kube-controller-manager",
        "system:kube-dns",
        "system:kube-scheduler",
        "system:kubelet-api-admin",
        "system:monitoring",
        "system:node",
        "system:node-bootstrapper",
        "system:node-problem-detector",
        "system:node-proxier",
        "system:persistent-volume-provisioner",
        "system:public-info-viewer",
        "system:service-account-issuer-discovery",
        "system:volume-scheduler",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
    }
    | {
        f"system:controller:{name}"
        for name in [
            "attachdetach-controller",
            "certificate-controller",
            "clusterrole-aggregation-controller",
            "cronjob-controller",
            "daemon-set-controller",
            "deployment-controller",
            "disruption-controller",
            "endpoint-controller",
            "endpointslice-controller",
            "endpointslicemirroring-controller",
            "ephemeral-volume-controller",
            "expand-controller",
            "generic-garbage-collector",
            "horizontal-pod-autoscaler",
            "job-controller",
            "legacy-service-account-token-cleaner",
            "namespace-controller",
            "node-controller",
            "persistent-volume-binder",
            "pod-garbage-collector",
            "pv-protection-controller",
            "pvc-protection-controller",
            "replicaset-controller",
            "replication-controller",
            "resourcequota-controller",
            "root-ca-cert-publisher",
            "route-controller",
            "service-account-controller",
            "service-controller",
            "statefulset-controller",
            "ttl-after-finished-controller",
            "ttl-controller",
            "validatingadmissionpolicy-status-controller",
            "bootstrap-signer",
            "token-cleaner",
        ]
    }
)

_RW = ["create", "delete", "deletecollection", "patch", "update"]
_RO = ["get", "list", "watch"]
_AGG = "rbac.authorization.k8s.io/aggregate-to-"


def _role(
    name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None, agg: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "rules": rules,
    }
    body["metadata"]["labels"].update(labels or {})
    if agg:
        body["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {_AGG + agg: "true"}}]}
        body["rules"] = []
    return body


_VIEW_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
            "namespaces",
        ],
        "verbs": _RO,
    },
    {
        "apiGroups": ["apps"],
        "resources": [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        "verbs": _RO,
    },
    {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
        "verbs": _RO,
    },
    {
        "apiGroups": ["batch"],
        "resources": ["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        "verbs": _RO,
    },
    {
        "apiGroups": ["policy"],
        "resources": ["poddisruptionbudgets", "poddisruptionbudgets/status"],
        "verbs": _RO,
    },
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses", "ingresses/status", "networkpolicies"],
        "verbs": _RO,
    },
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _RO},
]

_EDIT_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ],
        "verbs": _RO,
    },
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
    {
        "apiGroups": [""],
        "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
        "verbs": _RW,
    },
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {
        "apiGroups": [""],
        "resources": [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        "verbs": _RW,
    },
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {
        "apiGroups": ["apps"],
        "resources": [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        "verbs": _RW,
    },
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _RW},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": _RW},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _RW},
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses", "networkpolicies"],
        "verbs": _RW,
    },
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": [*_RO, *_RW]},
]

_ADMIN_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["localsubjectaccessreviews"],
        "verbs": ["create"],
    },
    {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["rolebindings", "roles"],
        "verbs": [*_RW, *_RO],
    },
]

BUILTIN_CLUSTER_ROLES: tuple[dict[str, Any], ...] = (
    _role(
        "cluster-admin",
        [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    ),
    _role("admin", [], agg="admin"),
    _role("edit", [], {_AGG + "admin": "true"}, agg="edit"),
    _role("view", [], {_AGG + "edit": "true"}, agg="view"),
    _role("system:aggregate-to-admin", _ADMIN_RULES, {_AGG + "admin": "true"}),
    _role("system:aggregate-to-edit", _EDIT_RULES, {_AGG + "edit": "true"}),
    _role("system:aggregate-to-view", _VIEW_RULES, {_AGG + "view": "true"}),
)


#: The label Kubernetes puts on the roles it bootstraps.
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
#: Every bootstrap ClusterRole name, modelled or not.
BOOTSTRAP_ROLE_NAMES = KUBERNETES_SYSTEM_ROLES | {
    str(body["metadata"]["name"]) for body in BUILTIN_CLUSTER_ROLES
}
