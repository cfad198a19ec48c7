"""Effective RBAC permissions against the cases of the Kubernetes RBAC documentation.

https://kubernetes.io/docs/reference/access-authn-authz/rbac/ -- each manifest below is the
documentation's example (or the smallest change to it), read through the real repo source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.inventory import Inventory
from scanner.rbac.effective import RbacIndex, Request, selector_matches
from scanner.rbac.model import PolicyRule, Subject
from scanner.sources.repo import RepoSource

JANE = Subject("User", "jane")
DAVE = Subject("User", "dave")
MANAGER = Subject("Group", "manager")


def index_of(tmp_path: Path, text: str) -> RbacIndex:
    """Write one multi-document manifest and index it as a scan would."""
    (tmp_path / "rbac.yaml").write_text(text)
    return RbacIndex.build(Inventory.from_items(RepoSource(tmp_path).collect()))


def allowed(index: RbacIndex, request: Request) -> set[str]:
    return {s.id for s, _ in index.who_can(request)}


def can(
    index: RbacIndex, subject: Subject, verb: str, resource: str, ns: str = "", **kw: str
) -> bool:
    """Does some grant of the subject allow the request in namespace ``ns``?"""
    res, _, sub = resource.partition("/")
    group = kw.get("group", "")
    name = kw.get("name", "")
    for g in index.grants(subject):
        if ns and not g.covers_namespace(ns):
            continue
        if not ns and not g.binding.cluster_wide:
            continue
        if g.rule.allows(verb, group, res, sub, name):
            return True
    return False


DOCS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  namespace: default
  name: pod-reader
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
  namespace: default
subjects:
- kind: User
  name: jane
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role
  name: pod-reader
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: secret-reader
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-secrets
  namespace: development
subjects:
- kind: User
  name: dave
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: ClusterRole
  name: secret-reader
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: read-secrets-global
subjects:
- kind: Group
  name: manager
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: ClusterRole
  name: secret-reader
  apiGroup: rbac.authorization.k8s.io
"""


def test_role_binding_grants_only_in_its_namespace(tmp_path: Path) -> None:
    index = index_of(tmp_path, DOCS)
    assert can(index, JANE, "get", "pods", "default")
    assert not can(index, JANE, "get", "pods", "kube-system")
    assert not can(index, JANE, "delete", "pods", "default")
    assert not can(index, JANE, "get", "pods")  # not cluster-wide


def test_role_binding_to_cluster_role_grants_only_in_the_binding_namespace(tmp_path: Path) -> None:
    index = index_of(tmp_path, DOCS)
    assert can(index, DAVE, "get", "secrets", "development")
    assert not can(index, DAVE, "get", "secrets", "default")
    assert allowed(index, Request("get", "secrets", namespace="development")) == {
        "User/dave",
        "Group/manager",
    }
    assert allowed(index, Request("get", "secrets", namespace="default")) == {"Group/manager"}
    assert allowed(index, Request("get", "secrets")) == {"User/dave", "Group/manager"}


def test_cluster_role_binding_grants_everywhere(tmp_path: Path) -> None:
    index = index_of(tmp_path, DOCS)
    assert can(index, MANAGER, "list", "secrets", "any-namespace")
    assert can(index, MANAGER, "list", "secrets")
    assert not can(index, MANAGER, "get", "pods", "default")


def test_chain_names_binding_role_and_rule(tmp_path: Path) -> None:
    index = index_of(tmp_path, DOCS)
    chains = sorted(
        g.chain() for _, g in index.who_can(Request("watch", "secrets", namespace="development"))
    )
    assert chains == [
        "ClusterRoleBinding read-secrets-global -> ClusterRole secret-reader -> rule[0]",
        "RoleBinding development/read-secrets -> ClusterRole secret-reader -> rule[0]",
    ]


def test_subresources_need_their_own_rule() -> None:
    rule = PolicyRule(verbs=("get", "list"), api_groups=("",), resources=("pods", "pods/log"))
    assert rule.allows("get", "", "pods", "log")
    assert rule.allows("get", "", "pods")
    assert not rule.allows("get", "", "pods", "exec")
    exec_only = PolicyRule(verbs=("create",), api_groups=("",), resources=("pods/exec",))
    assert exec_only.allows("create", "", "pods", "exec")
    assert not exec_only.allows("create", "", "pods")
    star_scale = PolicyRule(verbs=("update",), api_groups=("apps",), resources=("*/scale",))
    assert star_scale.allows("update", "apps", "deployments", "scale")
    assert not star_scale.allows("update", "apps", "deployments")


def test_resource_names_restrict_and_never_allow_create() -> None:
    rule = PolicyRule(
        verbs=("update", "get", "create"),
        api_groups=("",),
        resources=("configmaps",),
        resource_names=("my-configmap",),
    )
    assert rule.allows("get", "", "configmaps", name="my-configmap")
    assert not rule.allows("get", "", "configmaps", name="other")
    assert rule.allows_some_name("update", "", "configmaps")
    assert not rule.allows_some_name("create", "", "configmaps")
    assert not rule.allows_some_name("deletecollection", "", "configmaps")


def test_wildcards() -> None:
    rule = PolicyRule(verbs=("*",), api_groups=("example.com",), resources=("*",))
    assert rule.allows("delete", "example.com", "widgets")
    assert rule.allows("get", "example.com", "widgets", "status")
    assert not rule.allows("get", "", "pods")
    everything = PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",))
    assert everything.allows("escalate", "rbac.authorization.k8s.io", "clusterroles")
    assert not everything.allows_url("get", "/healthz")


def test_non_resource_urls_with_trailing_star() -> None:
    rule = PolicyRule(verbs=("get", "post"), non_resource_urls=("/healthz", "/healthz/*"))
    assert rule.allows_url("get", "/healthz")
    assert rule.allows_url("post", "/healthz/ready")
    assert not rule.allows_url("get", "/healthzfoo")
    assert not rule.allows_url("delete", "/healthz")
    assert not rule.allows("get", "", "healthz")


NON_RESOURCE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: health-reader}
rules:
- nonResourceURLs: ["/healthz", "/healthz/*"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring-health}
subjects: [{kind: Group, name: oidc:sre, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: health-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: health-in-ns, namespace: team-a}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: health-reader, apiGroup: rbac.authorization.k8s.io}
"""


def test_non_resource_urls_only_through_cluster_role_bindings(tmp_path: Path) -> None:
    index = index_of(tmp_path, NON_RESOURCE)
    assert allowed(index, Request("get", url="/healthz/etcd")) == {"Group/oidc:sre"}
    assert allowed(index, Request("get", url="/metrics")) == set()


AGGREGATION = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      rbac.example.com/aggregate-to-monitoring: "true"
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring-endpoints
  labels:
    rbac.example.com/aggregate-to-monitoring: "true"
rules:
- apiGroups: [""]
  resources: ["services", "endpointslices", "pods"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aggregate-cron-tabs-edit
  labels:
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
rules:
- apiGroups: ["stable.example.com"]
  resources: ["crontabs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aggregate-cron-tabs-view
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["stable.example.com"]
  resources: ["crontabs"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring}
subjects: [{kind: Group, name: oidc:monitoring, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: monitoring, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewers, namespace: team-a}
subjects: [{kind: Group, name: oidc:viewers, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: editors, namespace: team-a}
subjects: [{kind: Group, name: oidc:editors, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: edit, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: admins, namespace: team-a}
subjects: [{kind: Group, name: oidc:admins, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: admin, apiGroup: rbac.authorization.k8s.io}
"""


def test_aggregated_cluster_role_is_the_union_of_selected_roles(tmp_path: Path) -> None:
    index = index_of(tmp_path, AGGREGATION)
    assert allowed(index, Request("list", "endpointslices")) == {"Group/oidc:monitoring"}
    (grant,) = [g for _, g in index.who_can(Request("watch", "pods", namespace="x"))]
    assert grant.chain() == (
        "ClusterRoleBinding monitoring -> ClusterRole monitoring "
        "(aggregates ClusterRole monitoring-endpoints) -> rule[0]"
    )


def test_builtin_roles_aggregate_labelled_roles_transitively(tmp_path: Path) -> None:
    index = index_of(tmp_path, AGGREGATION)
    # view <- aggregate-to-view; edit <- aggregate-to-edit + view;
    # admin <- aggregate-to-admin + edit
    assert allowed(index, Request("get", "crontabs", "stable.example.com", namespace="team-a")) == {
        "Group/oidc:viewers",
        "Group/oidc:editors",
        "Group/oidc:admins",
    }
    assert allowed(
        index, Request("delete", "crontabs", "stable.example.com", namespace="team-a")
    ) == {"Group/oidc:editors", "Group/oidc:admins"}
    assert allowed(index, Request("create", "rolebindings", RBAC, namespace="team-a")) == {
        "Group/oidc:admins"
    }
    assert allowed(index, Request("get", "secrets", namespace="team-a")) == {
        "Group/oidc:editors",
        "Group/oidc:admins",
    }
    assert allowed(index, Request("get", "crontabs", "stable.example.com", namespace="b")) == set()


RBAC = "rbac.authorization.k8s.io"

GROUPS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: configmap-reader}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: qa-service-accounts, namespace: qa}
subjects:
- kind: Group
  name: system:serviceaccounts:qa
  apiGroup: rbac.authorization.k8s.io
roleRef: {kind: ClusterRole, name: configmap-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-reader}
rules:
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-service-accounts}
subjects:
- kind: Group
  name: system:serviceaccounts
  apiGroup: rbac.authorization.k8s.io
roleRef: {kind: ClusterRole, name: node-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: event-reader}
rules:
- apiGroups: [""]
  resources: ["events"]
  verbs: ["watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone-authenticated}
subjects:
- kind: Group
  name: system:authenticated
  apiGroup: rbac.authorization.k8s.io
roleRef: {kind: ClusterRole, name: event-reader, apiGroup: rbac.authorization.k8s.io}
---
# The docs' cross-namespace example: the default SA of kube-system bound in finance-prod,
# and a SA named by its username, and one with its namespace left out.
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cross-namespace, namespace: finance-prod}
subjects:
- kind: ServiceAccount
  name: default
  namespace: kube-system
- kind: User
  name: system:serviceaccount:ci:deployer
  apiGroup: rbac.authorization.k8s.io
- kind: ServiceAccount
  name: local
roleRef: {kind: ClusterRole, name: configmap-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: qa}
"""


def test_service_account_groups_and_authenticated(tmp_path: Path) -> None:
    index = index_of(tmp_path, GROUPS)
    runner = Subject("ServiceAccount", "runner", "qa")
    assert can(index, runner, "get", "configmaps", "qa")
    assert not can(index, runner, "get", "configmaps", "default")
    assert can(index, runner, "list", "nodes")
    assert can(index, runner, "watch", "events", "anywhere")
    other = Subject("ServiceAccount", "runner", "staging")
    assert not can(index, other, "get", "configmaps", "qa")
    assert can(index, other, "list", "nodes")
    assert can(index, JANE, "watch", "events", "default")
    assert not can(index, JANE, "list", "nodes")
    assert not can(index, Subject("User", "system:anonymous"), "watch", "events", "default")
    via = {g.chain(runner) for g in index.grants(runner)}
    assert via == {
        "RoleBinding qa/qa-service-accounts -> ClusterRole configmap-reader -> rule[0]"
        " [via Group system:serviceaccounts:qa]",
        "ClusterRoleBinding all-service-accounts -> ClusterRole node-reader -> rule[0]"
        " [via Group system:serviceaccounts]",
        "ClusterRoleBinding everyone-authenticated -> ClusterRole event-reader -> rule[0]"
        " [via Group system:authenticated]",
    }


def test_service_accounts_bound_across_namespaces(tmp_path: Path) -> None:
    index = index_of(tmp_path, GROUPS)
    assert allowed(index, Request("get", "configmaps", namespace="finance-prod")) == {
        "ServiceAccount/kube-system/default",
        "ServiceAccount/ci/deployer",
        "ServiceAccount/finance-prod/local",
    }
    assert "ServiceAccount/qa/runner" in {s.id for s in index.subjects()}
    # nodes are cluster-scoped: a RoleBinding can never reach them; the members of an
    # allowed group that the inventory knows are listed with the group
    assert {s.id for s, _ in index.who_can(Request("list", "nodes"), members=False)} == {
        "Group/system:serviceaccounts"
    }
    assert allowed(index, Request("list", "nodes", namespace="qa")) == {
        "Group/system:serviceaccounts",
        "Group/system:serviceaccounts:qa",
        "ServiceAccount/qa/runner",
        "ServiceAccount/kube-system/default",
        "ServiceAccount/ci/deployer",
        "ServiceAccount/finance-prod/local",
    }
    members = {
        (s.id, g.chain(s)) for s, g in index.who_can(Request("get", "configmaps", namespace="qa"))
    }
    assert members == {
        (
            "Group/system:serviceaccounts:qa",
            "RoleBinding qa/qa-service-accounts -> ClusterRole configmap-reader -> rule[0]",
        ),
        (
            "ServiceAccount/qa/runner",
            "RoleBinding qa/qa-service-accounts -> ClusterRole configmap-reader -> rule[0]"
            " [via Group system:serviceaccounts:qa]",
        ),
    }


def test_invalid_and_unresolved_bindings_grant_nothing_and_are_reported(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bad-ref}
subjects: [{kind: User, name: eve}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: missing, namespace: ns1}
subjects: [{kind: User, name: eve}, {kind: Robot, name: r2}]
roleRef: {kind: Role, name: not-there, apiGroup: rbac.authorization.k8s.io}
""",
    )
    assert index.grants(Subject("User", "eve")) == []
    assert sorted(index.problems) == [
        "ClusterRoleBinding bad-ref: roleRef kind 'Role' is invalid; grants nothing",
        "RoleBinding ns1/missing: Role ns1/not-there not found; grants nothing",
        "RoleBinding ns1/missing: subject kind 'Robot' name 'r2' is invalid",
    ]


def test_repo_role_overrides_builtin_of_same_name(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
subjects: [{kind: Group, name: oidc:admins}]
roleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}
""",
    )
    assert allowed(index, Request("get", "pods")) == {"Group/oidc:admins"}
    assert allowed(index, Request("delete", "pods")) == set()


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
            {"a": "2"},
            True,
        ),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, {"a": "1"}, False),
    ],
)
def test_label_selectors(selector: dict, labels: dict, expected: bool) -> None:  # type: ignore[type-arg]
    assert selector_matches(selector, labels) is bool(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("User/jane", Subject("User", "jane")),
        ("group/oidc:dba", Subject("Group", "oidc:dba")),
        ("ServiceAccount/finance-prod/odoo", Subject("ServiceAccount", "odoo", "finance-prod")),
        ("ServiceAccount/finance-prod:odoo", Subject("ServiceAccount", "odoo", "finance-prod")),
    ],
)
def test_subject_parse(text: str, expected: Subject) -> None:
    assert Subject.parse(text) == expected


@pytest.mark.parametrize("text", ["jane", "Robot/r2", "ServiceAccount/odoo", "User/"])
def test_subject_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Subject.parse(text)
