"""The composite GitHub Action (``action.yml``): valid metadata, and its steps run for real.

The runner is replaced by what it documents for composite actions: each ``run:`` step is
written to a file and run with ``bash --noprofile --norc -eo pipefail``; ``${{ }}``
expressions in ``env:`` and ``outputs:`` are looked up in the ``inputs``, ``github`` and
``steps`` contexts; each step gets a fresh ``$GITHUB_OUTPUT`` file whose ``name=value``
lines become ``steps.<id>.outputs``; the first failing step fails the action.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .cirunner import DEPLOYMENT, base_env, git, make_pull_request, run_bash
from .conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
#: What GitHub runs for ``shell: bash`` (the "{0}" is the script file).
BASH_FLAGS = ("-eo", "pipefail")


def action_schema() -> dict[str, Any]:
    """SchemaStore's github-action.json, as check-jsonschema vendors it (with its licence)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "github-actions.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_action_metadata_validates_against_the_published_schema() -> None:
    schema = action_schema()
    assert schema["$id"] == "https://json.schemastore.org/github-action.json"
    jsonschema.Draft7Validator(schema).validate(ACTION)


def test_the_schema_check_can_fail() -> None:
    """A composite step without ``shell`` is invalid metadata: the check is not vacuous."""
    broken = copy.deepcopy(ACTION)
    del broken["runs"]["steps"][0]["shell"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(action_schema()).validate(broken)


def test_inputs_reach_scripts_only_through_env() -> None:
    """No expression inside a script (injection); every expression is a plain context path."""
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
        for value in step.get("env", {}).values():
            for expr in EXPRESSION.findall(value):
                assert re.fullmatch(r"(inputs|github|steps)(\.[A-Za-z0-9_-]+)+", expr), expr
    for output in ACTION["outputs"].values():
        assert re.fullmatch(r"\$\{\{ steps\.scan\.outputs\.[a-z-]+ \}\}", output["value"])


def read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` lines: ``name=value`` and the ``name<<DELIM`` block form."""
    found: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            for part in lines:
                if part == delim:
                    break
                body.append(part)
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


@dataclass
class Run:
    """What one run of the action left: per-step outputs and exit codes, action outputs."""

    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    codes: list[int] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


def lookup(expr: str, contexts: dict[str, Any]) -> str:
    node: Any = contexts
    for part in expr.split("."):
        node = node.get(part, "") if isinstance(node, dict) else ""
    return "" if node is None else str(node)


def substitute(text: str, contexts: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: lookup(m.group(1), contexts), text)


def run_action(tmp: Path, workspace: Path, with_: dict[str, str], event: dict[str, Any]) -> Run:
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    inputs.update(with_)
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir()
    summary = tmp / "step-summary.md"
    summary.touch()
    github = {"event": event, "workspace": str(workspace), "action_path": str(ROOT)}
    run = Run()
    for number, step in enumerate(ACTION["runs"]["steps"]):
        contexts = {"inputs": inputs, "github": github, "steps": run.steps}
        out_file = tmp / f"output-{number}"
        out_file.touch()
        env = base_env(
            tmp,
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_ACTION_PATH": str(ROOT),
                "GITHUB_OUTPUT": str(out_file),
                "GITHUB_STEP_SUMMARY": str(summary),
                "RUNNER_TEMP": str(runner_temp),
            },
        )
        env.update({k: substitute(v, contexts) for k, v in step.get("env", {}).items()})
        assert step["shell"] == "bash"
        done = run_bash(step["run"], workspace, env, flags=BASH_FLAGS)
        run.codes.append(done.returncode)
        run.logs.append(done.stdout + done.stderr)
        if "id" in step:
            run.steps[step["id"]] = {"outputs": read_outputs(out_file)}  # type: ignore[dict-item]
        if done.returncode != 0:
            break
    contexts = {"inputs": inputs, "github": github, "steps": run.steps}
    run.outputs = {k: substitute(v["value"], contexts) for k, v in ACTION["outputs"].items()}
    return run


def pr_event(base_sha: str, head_sha: str) -> dict[str, Any]:
    return {"pull_request": {"number": 7, "base": {"sha": base_sha}, "head": {"sha": head_sha}}}


def test_a_pull_request_adding_a_violation_fails_the_job(tmp_path: Path) -> None:
    pr = make_pull_request(tmp_path, latest_image=True, depth=1)
    assert git(pr.clone, "rev-parse", "--is-shallow-repository") == "true"
    run = run_action(tmp_path, pr.clone, {"category": "gitops"}, pr_event(pr.base_sha, pr.head_sha))
    names = [s["name"] for s in ACTION["runs"]["steps"]]
    assert run.codes == [0, 0, 0, 1], dict(zip(names, run.logs, strict=False))
    # fetch depth handled: the base was fetched into the one-commit clone
    assert run.steps["base"]["outputs"]["base"] == pr.base_sha  # type: ignore[index]
    git(pr.clone, "merge-base", pr.base_sha, "HEAD")
    assert run.outputs["exit-code"] == "1"
    assert run.outputs["exit-reason"] == "findings"
    assert int(run.outputs["failed"]) >= 1
    assert run.outputs["category"] == "gitops"
    assert run.outputs["sarif-file"] == "ledgergate.sarif"
    sarif = json.loads((pr.clone / "ledgergate.sarif").read_text(encoding="utf-8"))
    hits = [
        r
        for r in sarif["runs"][0]["results"]
        if r["ruleId"] == "LG-IMG-002" and r.get("level") == "error"
    ]
    assert hits, "the unpinned image is a code-scanning result"
    uri = hits[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == DEPLOYMENT
    summary = (tmp_path / "step-summary.md").read_text(encoding="utf-8")
    assert "LG-IMG-002" in summary
    assert "gate failed: findings (exit 1)" in run.logs[-1]


def test_a_pull_request_without_new_violations_passes(tmp_path: Path) -> None:
    pr = make_pull_request(tmp_path, latest_image=False, depth=1)
    run = run_action(tmp_path, pr.clone, {}, pr_event(pr.base_sha, pr.head_sha))
    assert run.codes == [0, 0, 0, 0], run.logs
    assert run.outputs["exit-code"] == "0"
    assert run.outputs["exit-reason"] == "pass"
    assert run.outputs["failed"] == "0"
    assert (tmp_path / "step-summary.md").read_text(encoding="utf-8").strip()


def test_a_bad_input_is_a_usage_error_with_its_reason(tmp_path: Path) -> None:
    pr = make_pull_request(tmp_path, latest_image=False, depth=1)
    event = pr_event(pr.base_sha, pr.head_sha)
    run = run_action(tmp_path, pr.clone, {"fail-on": "severe"}, event)
    assert run.codes[-1] == 2
    assert run.outputs["exit-reason"] == "usage-error"
    assert "No report" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")
