"""The README's install line and quick starts work as written (copied, then run or validated)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .cirunner import DEPLOYMENT, base_env, git, make_pull_request
from .conftest import ROOT
from .test_github_action import ACTION, pr_event, run_action
from .test_gitlab_template import CI, gitlab_schema

README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


def section(title: str, level: str = "##") -> str:
    body = README.split(f"\n{level} {title}\n", 1)[1]
    return re.split(rf"\n{level} ", body, maxsplit=1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


QUICK = section("Integrations: quick starts")


def quick(title: str, language: str) -> str:
    assert f"\n### {title}\n" in QUICK, title
    (block,) = blocks(section(title, "###"), language)
    return block


def test_user_install_is_one_command_of_this_package() -> None:
    """One command of this package's source (it is not on PyPI yet, and the README says
    so); the wheel it names is the one ``pip wheel`` builds (``tests/test_wheel.py``
    installs both ways for real)."""
    lines = blocks(section("Install (users)"), "bash")[0].splitlines()
    commands = [shlex.split(line.split("#", 1)[0]) for line in lines]
    assert commands[0] == ["pipx", "install", "./ledgergate"]
    name = PYPROJECT["project"]["name"]
    assert ["pipx", "install", f"dist/{name}-{VERSION}-py3-none-any.whl"] in commands
    assert ["ledgergate", "--version"] in commands
    assert "not on PyPI" in section("Install (users)")
    assert README.index("## Install (users)") < README.index("## Set-up (two commands)")


def test_runtime_dependencies_hold_no_test_tools() -> None:
    runtime = {
        re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower()
        for d in PYPROJECT["project"]["dependencies"]
    }
    dev = {
        re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower()
        for d in PYPROJECT["project"]["optional-dependencies"]["dev"]
    }
    assert {"pytest", "ruff", "mypy", "pre-commit", "check-jsonschema", "hypothesis"} <= dev
    assert not runtime & dev


def test_integrations_pin_the_released_version() -> None:
    # the action installs its own checkout (the version in its pyproject.toml) by default
    assert ACTION["inputs"]["version"]["default"] == ""
    assert "$GITHUB_ACTION_PATH/pyproject.toml" in ACTION["runs"]["steps"][0]["run"]
    assert CI["variables"]["LEDGERGATE_VERSION"] == VERSION
    assert CI["variables"]["LEDGERGATE_PACKAGE"] == ""  # set it until the package is on PyPI


def workflow() -> dict[str, Any]:
    flow: dict[Any, Any] = yaml.safe_load(quick("GitHub Action", "yaml"))
    if True in flow:  # YAML 1.1 reads the key `on` as a bool; GitHub reads it as a string
        flow["on"] = flow.pop(True)
    return flow


def test_github_workflow_is_valid_and_uses_the_actions_inputs_and_outputs() -> None:
    from importlib import resources

    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    import json

    schema = json.loads((vendor / "github-workflows.json").read_text(encoding="utf-8"))
    flow = workflow()
    jsonschema.Draft7Validator(schema).validate(flow)
    steps = flow["jobs"]["gate"]["steps"]
    gate = next(s for s in steps if s.get("id") == "ledgergate")
    assert set(gate["with"]) <= set(ACTION["inputs"])
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/"))
    used = re.findall(r"steps\.ledgergate\.outputs\.([a-z-]+)", yaml.safe_dump(upload))
    assert used and set(used) <= set(ACTION["outputs"])
    assert "!cancelled()" in upload["if"]  # uploads also when the gate fails
    assert flow["permissions"]["security-events"] == "write"


def test_github_workflow_inputs_run_the_action(tmp_path: Path) -> None:
    gate = next(s for s in workflow()["jobs"]["gate"]["steps"] if s.get("id") == "ledgergate")
    pr = make_pull_request(tmp_path, latest_image=True, depth=1)
    given = {k: str(v) for k, v in gate["with"].items()}
    run = run_action(tmp_path, pr.clone, given, pr_event(pr.base_sha, pr.head_sha))
    assert run.outputs["exit-reason"] == "findings"
    assert (pr.clone / run.outputs["sarif-file"]).is_file()  # what upload-sarif is handed
    assert run.outputs["category"] == given["category"]


def test_gitlab_include_names_the_template_and_its_variables() -> None:
    snippet = yaml.safe_load(quick("GitLab CI", "yaml"))
    jsonschema.Draft7Validator(gitlab_schema()).validate(snippet)
    (include,) = snippet["include"]
    assert (ROOT / include["file"].lstrip("/")).is_file()
    assert set(snippet["variables"]) <= set(CI["variables"])
    merged = {**CI, **snippet, "variables": {**CI["variables"], **snippet["variables"]}}
    del merged["include"]
    jsonschema.Draft7Validator(gitlab_schema()).validate(merged)


def test_precommit_config_is_valid_for_pre_commit() -> None:
    pytest.importorskip("pre_commit")
    import cfgv
    from pre_commit.clientlib import CONFIG_SCHEMA

    config = yaml.safe_load(quick("pre-commit", "yaml"))
    cfgv.validate(config, CONFIG_SCHEMA)
    ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in config["repos"][0]["hooks"]} <= ids


@pytest.mark.slow
def test_precommit_config_runs_with_pre_commit(tmp_path: Path) -> None:
    """The README's config with its repo pointed at a clone of this project: pre-commit
    builds the hook's own environment (a pip install of the package) and blocks the
    staged violation."""
    pytest.importorskip("pre_commit")
    hooks = tmp_path / "ledgergate"
    git(tmp_path, "clone", "-q", "--depth=1", ROOT.as_uri(), str(hooks))
    config = yaml.safe_load(quick("pre-commit", "yaml"))
    config["repos"][0].update(repo=str(hooks), rev=git(hooks, "rev-parse", "HEAD"))
    repo = tmp_path / "estate"
    pr = make_pull_request(tmp_path / "pr", latest_image=False)
    shutil.copytree(pr.clone, repo)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    text = (repo / DEPLOYMENT).read_text(encoding="utf-8")
    (repo / DEPLOYMENT).write_text(re.sub(r"odoo:17\.0\S*", "odoo:latest", text), encoding="utf-8")
    git(repo, "add", "-A")
    env = base_env(tmp_path, {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")})
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LG-IMG-002" in done.stdout


def test_nightly_quick_start_renders() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    lines = blocks(section("Nightly audit", "###"), "bash")[0].splitlines()
    words = shlex.split(
        next(ln for ln in lines if ln.startswith("kubectl kustomize")).split("|")[0]
    )
    done = subprocess.run(
        [kubectl, *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "kind: CronJob" in done.stdout
