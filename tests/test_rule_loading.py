"""Rule load errors name the file, the line and what is wrong; a bad rule rejects the pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import RulePackError
from scanner.rules import load_rules

from .conftest import ROOT

_SHIPPED = (ROOT / "rules/traefik-tls/LG-TLS-001.yaml").read_text()
#: The shipped rule with a self-contained assertion (no facts, no message expression), so
#: these tests do not follow every change of the shipped rule's expressions.
GOOD = (
    _SHIPPED[: _SHIPPED.index("requires:")].replace(
        "kinds: [IngressRoute, IngressRouteTCP]", "kinds: [IngressRoute]"
    )
    + "assert: has(object.spec) && has(object.spec.tls) && object.spec.tls != null\n"
    + "message: IngressRoute serves without TLS\n"
    + _SHIPPED[_SHIPPED.index("remediation:") :]
)


def _pack(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "custom"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return tmp_path


def _error(tmp_path: Path) -> str:
    with pytest.raises(RulePackError) as caught:
        load_rules([tmp_path])
    return caught.value.diagnostics()


def test_cel_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    text = GOOD.replace("has(object.spec.tls) &&", "has(object.spec.tls) && &&")
    _pack(tmp_path, "LG-TLS-001.yaml", text)
    message = _error(tmp_path)
    line = next(i for i, raw in enumerate(text.splitlines(), 1) if raw.startswith("assert:"))
    assert f"LG-TLS-001.yaml:{line}" in message
    assert "assert: CEL does not compile" in message and "^" in message


def test_schema_error_names_the_field(tmp_path: Path) -> None:
    _pack(tmp_path, "LG-TLS-001.yaml", GOOD.replace("severity: high", "severity: urgent"))
    message = _error(tmp_path)
    assert "LG-TLS-001.yaml:3" in message and "severity" in message and "urgent" in message


def test_missing_field_and_unknown_function(tmp_path: Path) -> None:
    _pack(tmp_path, "LG-TLS-001.yaml", GOOD.replace("remediation:", "remedy:"))
    assert "remedy" in _error(tmp_path) or "remediation" in _error(tmp_path)
    _pack(tmp_path, "LG-TLS-001.yaml", GOOD.replace("has(object.spec.tls)", "hasTls(object)"))
    assert "undeclared reference to 'hasTls'" in _error(tmp_path)


def test_file_name_must_be_the_id(tmp_path: Path) -> None:
    _pack(tmp_path, "LG-TLS-999.yaml", GOOD)
    assert "file name must be LG-TLS-001.yaml" in _error(tmp_path)


def test_duplicate_ids_and_yaml_errors_are_all_reported(tmp_path: Path) -> None:
    _pack(tmp_path, "LG-TLS-001.yaml", GOOD)
    other = tmp_path / "other"
    other.mkdir()
    (other / "LG-TLS-001.yaml").write_text(GOOD)
    (other / "LG-TLS-002.yaml").write_text("id: [\n")
    message = _error(tmp_path)
    assert "duplicate id" in message and "LG-TLS-002.yaml:" in message


def test_rule_that_errors_at_runtime_gives_error_not_pass(tmp_path: Path) -> None:
    from scanner.config import load_config
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.model import Status
    from scanner.sources.repo import RepoSource

    # no has() guard: a route without entryPoints makes the expression fail
    _pack(
        tmp_path,
        "LG-TLS-001.yaml",
        GOOD.replace(
            "assert: has(object.spec) && has(object.spec.tls) && object.spec.tls != null",
            "assert: object.spec.entryPoints.all(e, e != 'web')",
        ),
    )
    rules = load_rules([tmp_path])
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "r.yaml").write_text(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: r}\n"
        "spec: {tls: {}, routes: []}\n"
    )
    inv = Inventory.from_items(RepoSource(repo).collect())
    findings, _ = Engine(rules, load_config(None).params, []).run(inv)
    assert [(f.status, f.origin.path) for f in findings] == [(Status.ERROR, "r.yaml")]
    assert "entryPoints" in findings[0].message


def test_integers_beyond_int64_are_judged_as_the_floats_kubernetes_stores(
    tmp_path: Path,
) -> None:
    from scanner.config import load_config
    from scanner.model import Status
    from scanner.pipeline import scan_repo

    (tmp_path / "r.yaml").write_text(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\n"
        "metadata: {name: r, namespace: web-dev}\n"
        "spec: {tls: {}, routes: [], weight: 100000000000000000000000000000}\n"
    )
    findings = scan_repo(tmp_path, load_config(None)).findings
    assert {(f.rule_id, f.status) for f in findings} == {("LG-TLS-001", Status.PASS)}


def test_one_pack_folder_loads_without_its_fixtures(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("rules", "test", str(ROOT / "rules" / "backup"))
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_error_function_reports_the_reason() -> None:
    from scanner import celrt

    program = celrt.compile_expression("object.n > 1 ? true : error('cannot judge n')")
    with pytest.raises(celrt.CelEvalError, match=r"^cannot judge n$"):
        program.evaluate(celrt.activation({"object": {"n": 0}}))


def test_a_namespace_object_is_judged_as_its_own_namespace(tmp_path: Path) -> None:
    from scanner.config import load_config
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.sources.repo import RepoSource

    rule = GOOD.replace("kinds: [IngressRoute]", "kinds: [Namespace]").replace(
        "apiGroups: [traefik.io, traefik.containo.us]", 'apiGroups: [""]'
    )
    rule = rule.replace("match:\n", "match:\n  production: true\n", 1)
    rule = rule.replace(
        rule[rule.index("assert:") : rule.index("message:")],
        "assert: namespaceObject.production && namespaceObject.name == object.metadata.name\n",
    )
    rules_root = _pack(tmp_path / "rules", "LG-TLS-001.yaml", rule)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ns.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: finance-prod}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-sandbox}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: sandbox}\n"
    )
    inv = Inventory.from_items(RepoSource(repo).collect())
    findings, _ = Engine(load_rules([rules_root]), load_config(None).params, []).run(inv)
    # team-sandbox matches nonProductionNamespaces; plain "sandbox" matches no pattern and
    # is judged as production (fail closed).
    assert [(f.resource.name, f.status.value) for f in findings if f.resource] == [
        ("finance-prod", "pass"),
        ("sandbox", "pass"),
    ]


def _judge(tmp_path: Path, rule: str, manifest: str) -> list[tuple[str, str]]:
    from scanner.config import load_config
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.sources.repo import RepoSource

    root = _pack(tmp_path / "rules", "LG-TLS-001.yaml", rule)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "r.yaml").write_text(manifest)
    inv = Inventory.from_items(RepoSource(repo).collect())
    findings, _ = Engine(load_rules([root]), load_config(None).params, []).run(inv)
    return [(f.status.value, f.message) for f in findings]


ROUTE = (
    "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: r}\n"
    "spec: {entryPoints: [web, websecure], routes: []}\n"
)


def _with_variables(expressions: str) -> str:
    start, end = GOOD.index("assert:"), GOOD.index("remediation:")
    return GOOD[:start] + expressions + GOOD[end:]


def test_variables_are_said_once_and_read_by_assert_message_and_evidence(
    tmp_path: Path,
) -> None:
    rule = _with_variables(
        "variables:\n"
        "  - name: plain\n"
        "    expression: object.spec.entryPoints.filter(e, e == 'web')\n"
        "  - name: shown\n"
        "    expression: variables.plain.join(', ')\n"
        "assert: size(variables.plain) == 0\n"
        "message: plain entry points\n"
        "messageExpression: \"'plain: ' + variables.shown + ' (variables.plain)'\"\n"
        "evidence: \"variables.plain.map(e, {'path': 'spec.entryPoints', 'value': e})\"\n"
    )
    # the literal 'variables.plain' inside a string stays text
    assert _judge(tmp_path, rule, ROUTE) == [("fail", "plain: web (variables.plain)")]


def test_a_variable_is_lazy_and_errors_only_where_it_is_read(tmp_path: Path) -> None:
    rule = _with_variables(
        "variables:\n"
        "  - name: missing\n"
        "    expression: object.spec.nothing.here\n"
        'assert: "has(object.spec.tls) ? variables.missing : true"\n'
        "message: m\n"
    )
    # pass: the variable was never read
    assert [s for s, _ in _judge(tmp_path, rule, ROUTE)] == ["pass"]
    (tmp_path / "repo" / "r.yaml").unlink()
    (tmp_path / "repo").rmdir()
    statuses = _judge(tmp_path, rule, ROUTE.replace("routes: []", "routes: [], tls: {}"))
    assert [s for s, _ in statuses] == ["error"]


@pytest.mark.parametrize(
    ("variables", "read", "problem"),
    [
        ("", "variables.nope", "variables.nope is not declared before it is read"),
        (
            "  - name: a\n    expression: variables.b\n  - name: b\n    expression: 'true'\n",
            "variables.a",
            "variables.b is not declared before it is read",
        ),
        (
            "  - name: a\n    expression: 'true'\n  - name: a\n    expression: 'false'\n",
            "variables.a",
            "a is declared twice",
        ),
    ],
)
def test_undeclared_late_or_duplicate_variables_reject_the_rule(
    tmp_path: Path, variables: str, read: str, problem: str
) -> None:
    declared = f"variables:\n{variables}" if variables else ""
    rule = _with_variables(f"{declared}assert: {read}\nmessage: m\n")
    _pack(tmp_path, "LG-TLS-001.yaml", rule)
    assert problem in _error(tmp_path)


def test_optional_syntax_reads_absent_fields(tmp_path: Path) -> None:
    rule = _with_variables(
        "assert: object.?spec.?tls.hasValue() || "
        "object.?spec.?entryPoints.orValue([]).all(e, e == 'websecure')\n"
        "message: m\n"
    )
    assert [s for s, _ in _judge(tmp_path, rule, ROUTE)] == ["fail"]
