"""The GitLab CI template (``ci/gitlab/ledgergate.gitlab-ci.yml``): valid, and its script runs.

GitLab's runner joins ``before_script`` and ``script`` into one bash script run with
``-eo pipefail`` in the checked-out project, with the ``CI_*`` variables and the
template's ``variables`` in the environment; the test does the same on a shallow clone
of a merge request. The SAST and Code Quality report contents are the reporters' to
validate (``gitlab-sast``, ``gitlab-codequality``); here: the commands, the base fetch,
and that the artifact paths are the files the commands write.
"""

from __future__ import annotations

import json
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import click
import jsonschema
import yaml

from .cirunner import base_env, git, make_pull_request, run_bash
from .conftest import ROOT

TEMPLATE = ROOT / "ci" / "gitlab" / "ledgergate.gitlab-ci.yml"
CI = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
JOB = CI["ledgergate"]
REPORTS = {"sast": "gl-sast-report.json", "codequality": "gl-code-quality-report.json"}


def gitlab_schema() -> dict[str, Any]:
    """GitLab's own CI schema, as check-jsonschema vendors it (with its licence)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "gitlab-ci.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_template_validates_against_gitlab_ci_schema() -> None:
    validator = jsonschema.Draft7Validator(gitlab_schema())
    validator.validate(CI)
    broken = {**CI, "ledgergate": {**JOB, "artifacts": {**JOB["artifacts"], "when": "sometimes"}}}
    assert not validator.is_valid(broken)  # the check is not vacuous


def test_artifacts_are_the_files_the_script_writes() -> None:
    assert JOB["artifacts"]["when"] == "always"  # reports also when the gate fails
    assert JOB["artifacts"]["reports"] == REPORTS
    script = "\n".join(JOB["script"])
    formats = {"gitlab-sast": REPORTS["sast"], "gitlab-codequality": REPORTS["codequality"]}
    for fmt, report in formats.items():
        assert f"--format {fmt} --output {report}" in " ".join(script.split())
    for kept in JOB["artifacts"]["paths"]:
        assert kept in script


def format_choices() -> set[str]:
    from scanner.cli import cli

    group = cli.commands["scan"]
    assert isinstance(group, click.Group)
    repo = group.commands["repo"]
    option = next(p for p in repo.params if p.name == "fmt")
    assert isinstance(option.type, click.Choice)
    return set(option.type.choices)


def test_merge_request_pipeline_fetches_the_base_and_runs_the_gate(tmp_path: Path) -> None:
    pr = make_pull_request(tmp_path, latest_image=True, depth=1)
    diff_base = git(pr.origin, "merge-base", pr.base_sha, pr.head_sha)
    argv_log = tmp_path / "argv.log"
    env = base_env(
        tmp_path,
        {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": diff_base,
            "CI_PROJECT_DIR": str(pr.clone),
            "LG_ARGV_LOG": str(argv_log),
            **{k: str(v) for k, v in CI["variables"].items()},
        },
    )
    script = "\n".join([*JOB["before_script"], *JOB["script"]])
    done = run_bash(script, pr.clone, env, flags=("-eo", "pipefail"))
    log = done.stdout + done.stderr
    git(pr.clone, "merge-base", diff_base, "HEAD")  # the shallow clone was deepened
    calls = [shlex.split(line) for line in argv_log.read_text(encoding="utf-8").splitlines()]
    scans = [c for c in calls if c[:2] == ["scan", "repo"]]
    assert len(scans) == 2, calls
    for call in scans:
        assert call[call.index("--base") + 1] == diff_base
    assert scans[1][scans[1].index("--fail-on") + 1] == "none"  # only the first one gates
    if {"gitlab-sast", "gitlab-codequality"} <= format_choices():
        assert done.returncode == 1, log
        for report in REPORTS.values():
            json.loads((pr.clone / report).read_text(encoding="utf-8"))
        assert "LG-IMG-002" in (pr.clone / "ledgergate.sarif").read_text(encoding="utf-8")
    else:  # the report formats land with the reporters' branch: a usage error until then
        assert done.returncode == 2, log
        assert "ledgergate exit code 2" in log
