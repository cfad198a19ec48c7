"""Loading a repository costs one parse per text and holds no node trees (issue 13)."""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.config import Config, default_params
from scanner.model import Status
from scanner.pipeline import scan_repo
from scanner.sources import kubeyaml
from scanner.sources.repo import RepoSource

RBAC_AND_SCRIPT = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: everything
rules:
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["*"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: script
data:
  run.sh: make && make install && echo '*done*'
"""

DEPLOYMENT_IN_LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: prod
    spec:
      template:
        spec:
          containers:
            - name: web
              image: nginx:1.27
              securityContext:
                privileged: true
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: api:1.0
          securityContext:
            privileged: true
"""


def _count_graph_walks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    real = kubeyaml._check_graph

    def counted(root: yaml.Node) -> Any:
        calls["walks"] += 1
        return real(root)

    monkeypatch.setattr(kubeyaml, "_check_graph", counted)
    return calls


def test_star_and_ampersand_without_an_alias_skip_the_graph_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RBAC ``"*"`` beside a shell ``&&`` holds no alias: the walk (7 s of a corpus scan
    for 165 documents) is spared, and the values are the same."""
    calls = _count_graph_walks(monkeypatch)
    docs = [d for d in kubeyaml.parse_yaml(RBAC_AND_SCRIPT) if isinstance(d, kubeyaml.Document)]
    assert calls["walks"] == 0
    assert [d.data["metadata"]["name"] for d in docs] == ["everything", "script"]
    assert docs[0].data["rules"][0]["verbs"] == ["*"]


def test_a_real_alias_is_still_walked_and_a_bomb_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_graph_walks(monkeypatch)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)
    )
    errors = [d for d in kubeyaml.parse_yaml(bomb) if isinstance(d, kubeyaml.DocumentError)]
    assert calls["walks"] == 1
    assert [e.code for e in errors] == ["alias-bomb"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x 1\nb: *x\n", True),
        ("a: &x-1 [1]\nb: [*x-1]\n", True),
        ('verbs: ["*"]\ncmd: a && b\n', False),
        ("cron: '*/5 * * * *'\nurl: http://h/?a=1&b=2\n", False),
        ("host: '*.example.com'\nq: a&name\n", False),
        ("q: '&name'\nr: '*name'\n", True),  # inside quotes counts too: never a miss
    ],
)
def test_may_alias(text: str, expected: bool) -> None:
    assert kubeyaml.may_alias(text) is expected


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_collected_repo_holds_no_node_trees(tmp_path: Path) -> None:
    """The trees took ~7x the memory of the values (720 -> 427 MiB peak on the corpus)."""
    source = RepoSource(_write(tmp_path, {"app.yaml": DEPLOYMENT_IN_LIST}))
    gc.collect()
    before = sum(isinstance(o, yaml.Node) for o in gc.get_objects())
    items = list(source.collect())
    gc.collect()
    alive = sum(isinstance(o, yaml.Node) for o in gc.get_objects()) - before
    assert len(items) == 2
    assert alive <= 0


def test_evidence_lines_are_placed_from_nodes_composed_again(tmp_path: Path) -> None:
    """A List item and a plain document both get their field's line, as when nodes were
    kept, and each document is composed once for all its findings."""
    root = _write(tmp_path, {"app.yaml": DEPLOYMENT_IN_LIST})
    result = scan_repo(root, Config(params=default_params()))
    lines = {
        f.resource.name: e.line
        for f in result.findings
        if f.rule_id == "LG-WKL-001" and f.status is Status.FAIL and f.resource is not None
        for e in f.evidence
    }
    assert lines == {"web": 16, "api": 30}


def test_a_text_the_renderers_read_is_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Argo CD Application beside a chart is read by the Helm consumer search and by
    the repo source: one parse, not two (the corpus's install.yaml files, 14 MB)."""
    application = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  source:
    path: chart
  destination:
    namespace: prod
"""
    root = _write(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
            "chart/values.yaml": "replicas: 1\n",
            "apps/web.yaml": application,
        },
    )
    parsed: Counter[str] = Counter()
    real = kubeyaml.parse_yaml

    def counted(text: str, **kw: Any) -> Any:
        parsed[text] += 1
        return real(text, **kw)

    monkeypatch.setattr("scanner.sources.parsecache.parse_yaml", counted)
    items = list(RepoSource(root).collect())
    assert parsed[application] == 1
    assert any(getattr(i, "ref", None) and i.ref.kind == "Application" for i in items)


def test_a_file_that_grows_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file is read to the size fstat gave and past it only while under the limit: one
    that fstat saw small but that holds more than the limit is ``too-large``, not read
    whole (and one that fstat saw over the limit is refused unread, as before)."""
    import os

    from scanner.sources import repo as repo_module
    from scanner.sources.base import InputProblem

    root = _write(tmp_path, {"small.yaml": "a: 1\n", "grown.yaml": "b: " + "x" * 5000 + "\n"})
    real_fstat = os.fstat

    def shrunk(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        fields = list(info)
        fields[6] = min(info.st_size, 10)  # st_size as if taken before the file grew
        return os.stat_result(fields)

    monkeypatch.setattr(repo_module.os, "fstat", shrunk)
    source = RepoSource(root, max_file_size=1000)
    grown = source._read_file("grown.yaml")
    assert isinstance(grown, InputProblem) and grown.code == "too-large", grown
    assert source._read_file("small.yaml") == "a: 1\n"
    monkeypatch.setattr(repo_module.os, "fstat", real_fstat)
    refused = source._read_file("grown.yaml")
    assert isinstance(refused, InputProblem) and "5,004 bytes" in refused.message
