"""Outputs are written only where told, atomically, and never left stale (issue 12 §3,
issue 10's output bullet)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.outputs import OutputError, safe_target, write_atomic

from .conftest import ROOT

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: finance-prod}\n"


def _repo(root: Path) -> Path:
    root.mkdir()
    (root / "ns.yaml").write_text(NS)
    return root


def test_symlink_committed_as_the_sarif_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path / "repo")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (repo / "results.sarif").symlink_to(victim)
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["scan", "repo", ".", "--sarif", "results.sarif"])
    assert result.exit_code == 2
    assert "refusing to write through it" in result.output
    assert victim.read_text() == "precious"


def test_symlinked_folder_inside_the_tree_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "reports").symlink_to(outside)
    monkeypatch.chdir(repo)
    for args in (["--json", "reports/o.json"], ["--evidence", "reports/bundle"]):
        result = CliRunner().invoke(cli, ["scan", "repo", ".", *args])
        assert result.exit_code == 2, result.output
        assert "refusing to write through it" in result.output
    assert list(outside.iterdir()) == []


def test_symlinks_that_stay_inside_are_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert safe_target(tmp_path / "link" / "o.json", cwd=tmp_path) == tmp_path / "real/o.json"
    with pytest.raises(OutputError):
        (tmp_path / "real" / "x.json").symlink_to("/etc/passwd")
        safe_target(tmp_path / "real" / "x.json", cwd=tmp_path)


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "o.json"
    threads = [
        threading.Thread(target=write_atomic, args=(target, json.dumps({"n": i}).encode() * 999))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = target.read_text()
    assert text == text[: len(text) // 999] * 999  # one writer's content, whole
    assert [p.name for p in target.parent.iterdir()] == ["o.json"]


def _big_repo(root: Path, objects: int = 6000) -> Path:
    root.mkdir()
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: finance-prod}}\n"
        f"data: {{DB_PASSWORD: pw-{i}}}\n"
        for i in range(objects)
    ]
    (root / "many.yaml").write_text("---\n".join(docs))
    return root


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_scan_exits_by_signal_and_leaves_no_stale_report(
    tmp_path: Path, signum: int, code: int
) -> None:
    repo = _big_repo(tmp_path / "repo")
    sarif, out = tmp_path / "o.sarif", tmp_path / "o.json"
    sarif.write_text('{"stale": "an earlier passing run"}')
    out.write_text('{"stale": "an earlier passing run"}')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGERGATE_WORKERS": "1"}
    args = ["scan", "repo", str(repo), "--sarif", str(sarif), "--json", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", *args, "--format", "json", "-o", os.devnull],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # The stale reports go once the signal handlers are in place and before the scan starts
    # (which takes seconds on 6000 objects): from then on any arrival time must end the same
    # way. No fixed sleep: under load a sleep lands anywhere from start-up to the end.
    deadline = time.monotonic() + 300
    while (sarif.exists() or out.exists()) and proc.poll() is None:
        assert time.monotonic() < deadline, "the stale reports were never removed"
        time.sleep(0.01)
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert not sarif.exists() and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_outputs_inside_the_tree_are_not_scanned_and_not_dirty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path / "repo")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
        check=True,
    )
    monkeypatch.chdir(repo)
    outputs = ["--json", "out.json", "--sarif", "out.sarif.json", "--evidence", "bundle"]
    for fmt, name in (("html", "r.html"), ("md", "r.md")):
        result = CliRunner().invoke(cli, ["scan", "repo", ".", "--format", fmt, "-o", name])
        assert result.exit_code in (0, 1), result.output
    result = CliRunner().invoke(cli, ["scan", "repo", ".", *outputs])
    assert result.exit_code in (0, 1), result.output
    first = json.loads(Path("out.json").read_text())
    result = CliRunner().invoke(cli, ["scan", "repo", ".", "--json", "second.json"])
    second = json.loads(Path("second.json").read_text())
    assert second["target"]["dirty"] == "false"
    assert second["summary"] == first["summary"]
    # the earlier run's reports and every JSON file of its bundle
    own = {"out.json", "out.sarif.json"} | {
        f"bundle/{p.name}" for p in Path("bundle").glob("*.json")
    }
    assert {s["path"] for s in second["skipped"]} == own
    Path("extra.yaml").write_text(NS.replace("finance-prod", "other"))
    result = CliRunner().invoke(cli, ["scan", "repo", ".", "--json", "out.json"])
    assert json.loads(Path("out.json").read_text())["target"]["dirty"] == "true"
