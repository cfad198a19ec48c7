"""The fixture API server speaks the real protocol: checked with kubectl (client-go) and the
official Python client as independent clients."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.kubeapi.fixtures import LIMITED_TOKEN, KubeTarget
from tests.kubeapi.server import FixtureApiServer, kubeconfig
from tests.kubeapi.store import Store, field_matcher, label_matcher

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl(target: KubeTarget, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not Path(KUBECTL).exists():
        pytest.skip("kubectl not installed")
    cache = target.folder / "kubectl-cache"
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(cfg), "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubectl_get_deployments_all_namespaces(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    done = kubectl(kube_target, kube_target.kubeconfig, "get", "deploy", "-A", "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    names = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in doc["items"]}
    assert names == {
        ("finance-prod", "odoo"),
        ("finance-prod", "odoo-worker"),
        ("finance-staging", "odoo"),
        ("traefik", "traefik"),
    }


def test_kubectl_get_secrets_prints_a_table(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    done = kubectl(kube_target, kube_target.kubeconfig, "get", "secrets", "-A")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert {tuple(r[:2]) for r in rows[1:]} == {
        ("finance-prod", "odoo-db"),
        ("finance-prod", "redis-auth"),
    }


def test_kubectl_chunked_list(kube_server: FixtureApiServer, kube_target: KubeTarget) -> None:
    start = len(kube_server.log)
    done = kubectl(
        kube_target, kube_target.kubeconfig, "get", "deploy", "-A", "--chunk-size=1", "-o", "name"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "deployment.apps/odoo",
        "deployment.apps/odoo-worker",
        "deployment.apps/odoo",
        "deployment.apps/traefik",
    ]
    lists = [r for r in kube_server.log[start:] if r.path == "/apis/apps/v1/deployments"]
    assert [r.query.get("limit") for r in lists] == ["1"] * 4
    assert sum("continue" in r.query for r in lists) == 3


def test_kubectl_reads_a_custom_resource(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    done = kubectl(
        kube_target,
        kube_target.kubeconfig,
        "get",
        "schedules.velero.io",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.spec.template.ttl} {end}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["finance-daily=2160h0m0s", "finance-hourly=72h0m0s"]
    routes = kubectl(
        kube_target,
        kube_target.kubeconfig,
        "get",
        "ingressroutes",
        "-n",
        "finance-prod",
        "-o",
        "name",
    )
    assert routes.stdout.split() == [
        "ingressroute.traefik.io/odoo",
        "ingressroute.traefik.io/odoo-legacy",
    ]


def test_kubectl_forbidden_message(kube_server: FixtureApiServer, kube_target: KubeTarget) -> None:
    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited")
    done = kubectl(kube_target, limited, "get", "clusterrolebindings")
    assert done.returncode == 1
    assert (
        "clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "
        '"system:serviceaccount:ledgergate:limited" cannot list resource "clusterrolebindings" '
        'in API group "rbac.authorization.k8s.io" at the cluster scope'
    ) in done.stderr


def test_kubectl_wrong_token_is_unauthorized(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    bad = kube_target.kubeconfig_for("not-a-token", "bad")
    done = kubectl(kube_target, bad, "get", "deploy", "-A")
    assert done.returncode == 1
    assert "must be logged in" in done.stderr or "Unauthorized" in done.stderr


def test_python_client_typed_paging_and_selectors(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    from kubernetes import client, config

    api = client.AppsV1Api(config.new_client_from_config(str(kube_target.kubeconfig)))
    first = api.list_deployment_for_all_namespaces(limit=3)
    assert first.kind == "DeploymentList" and first.api_version == "apps/v1"
    assert first.metadata.remaining_item_count == 1 and first.metadata.resource_version
    rest = api.list_deployment_for_all_namespaces(limit=3, _continue=first.metadata._continue)
    assert [d.metadata.name for d in first.items + rest.items] == [
        "odoo",
        "odoo-worker",
        "odoo",
        "traefik",
    ]
    assert rest.metadata._continue is None
    sel = api.list_deployment_for_all_namespaces(
        label_selector="tier in (frontend,cache),tier!=cache"
    )
    assert {(d.metadata.namespace, d.metadata.name) for d in sel.items} == {
        ("finance-prod", "odoo"),
        ("finance-staging", "odoo"),
    }
    by_field = api.list_deployment_for_all_namespaces(
        field_selector="metadata.namespace=finance-prod,metadata.name!=odoo"
    )
    assert [d.metadata.name for d in by_field.items] == ["odoo-worker"]
    uids = {d.metadata.uid for d in first.items + rest.items}
    assert len(uids) == 4


def test_python_client_errors(kube_server: FixtureApiServer, kube_target: KubeTarget) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api_client = config.new_client_from_config(str(kube_target.kubeconfig))
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "finance-prod")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"
    with pytest.raises(ApiException) as bad_token:
        client.CoreV1Api(
            config.new_client_from_config(str(kube_target.kubeconfig_for("x", "x")))
        ).list_namespace()
    assert bad_token.value.status == 401
    with pytest.raises(ApiException) as write:
        core.delete_namespace("finance-prod")
    assert write.value.status == 405
    with pytest.raises(ApiException) as bad_continue:
        core.list_namespace(limit=1, _continue="not-base64!")
    assert bad_continue.value.status == 400


def test_custom_objects_api_and_metadata_only(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(kube_target.kubeconfig))
    routes = client.CustomObjectsApi(api_client).list_cluster_custom_object(
        "traefik.io", "v1alpha1", "ingressroutes"
    )
    assert routes["kind"] == "IngressRouteList"
    assert [r["metadata"]["name"] for r in routes["items"]] == ["odoo", "odoo-legacy"]
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    raw = client.CoreV1Api(api_client).list_secret_for_all_namespaces(
        _headers={"Accept": accept}, _preload_content=False
    )
    doc = json.loads(raw.data)
    assert doc["kind"] == "PartialObjectMetadataList"
    assert all(set(i) == {"apiVersion", "kind", "metadata"} for i in doc["items"])
    assert b"UGxhbnRlZFNlY3JldFZhbHVl" not in raw.data


def test_tls_rejects_an_untrusted_client(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    ctx = ssl.create_default_context()  # system CAs only, not the session CA
    with pytest.raises(urllib.request.URLError):
        urllib.request.urlopen(f"{kube_server.url}/version", context=ctx, timeout=5)


def test_discovery_group_versions(kube_server: FixtureApiServer, kube_target: KubeTarget) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(kube_target.kubeconfig))
    core = client.CoreApi(api_client).get_api_versions()
    assert core.versions == ["v1"]
    groups = {
        g.name: g.preferred_version.group_version
        for g in client.ApisApi(api_client).get_api_versions().groups
    }
    assert groups["velero.io"] == "velero.io/v1" and groups["traefik.io"] == "traefik.io/v1alpha1"
    resources = client.CoreV1Api(api_client).get_api_resources()
    assert resources.group_version == "v1"


def test_expired_continue_token_is_410(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(config.new_client_from_config(str(kube_target.kubeconfig)))
    page = core.list_namespace(limit=1)
    kube_server.api.expire_continue_tokens()
    with pytest.raises(ApiException) as gone:
        core.list_namespace(limit=1, _continue=page.metadata._continue)
    assert gone.value.status == 410 and json.loads(gone.value.body)["reason"] == "Expired"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": "x"}, False),
        ("a,!b", {"a": "x"}, True),
    ],
)
def test_label_selector_semantics(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_matcher(selector)(labels) is expected


def test_field_selector_rejects_unsupported_fields() -> None:
    with pytest.raises(ValueError):
        field_matcher("spec.nodeName=x")


def test_unknown_kind_without_crd_is_a_load_error() -> None:
    from tests.kubeapi.store import LoadError

    with pytest.raises(LoadError, match="missing CRD"):
        Store().add(
            {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": "x"}}
        )


def test_kubeconfig_shape() -> None:
    cfg = kubeconfig("https://127.0.0.1:1", b"PEM", "tok")
    assert yaml.safe_load(yaml.safe_dump(cfg))["users"][0]["user"]["token"] == "tok"


def test_dynamic_client_discovers_and_lists(
    kube_server: FixtureApiServer,
    kube_target: KubeTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kubernetes import config, dynamic

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # its discovery cache file
    dyn = dynamic.DynamicClient(config.new_client_from_config(str(kube_target.kubeconfig)))
    schedules = dyn.resources.get(api_version="velero.io/v1", kind="Schedule").get()
    assert sorted(s.metadata.name for s in schedules.items) == ["finance-daily", "finance-hourly"]
    bindings = dyn.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding")
    assert {b.metadata.name for b in bindings.get(namespace="finance-prod").items} == {
        "finance-admins",
        "odoo-reader",
    }
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace").get()
    assert namespaces.kind == "NamespaceList"
    assert {n.metadata.name for n in namespaces.items} == {
        "finance-prod",
        "finance-staging",
        "traefik",
        "velero",
        "ledgergate",
        "argocd",  # GitOps controllers (gitops.yaml)
        "flux-system",
    }
