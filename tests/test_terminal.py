"""Terminal behaviour on a real pseudo-terminal: colour, ``NO_COLOR``, ``--no-color``,
``--quiet``; and shell completion through click's own mechanism, run by the real shells."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURE_REPOS, ROOT

NONCOMPLIANT = str(FIXTURE_REPOS / "odoo-finance-noncompliant")
ESC = "\x1b["


def on_tty(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; its exit code and output."""
    leader, follower = pty.openpty()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", *args],
        stdout=follower,
        stderr=follower,
        env=full_env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=300)
    os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_tty_gets_colour() -> None:
    code, out = on_tty("scan", "repo", NONCOMPLIANT)
    assert code == 1
    assert ESC in out


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--no-color",), {}), ((), {"NO_COLOR": "1"})],
    ids=["--no-color", "NO_COLOR"],
)
def test_no_color_is_honoured(args: tuple[str, ...], env: dict[str, str]) -> None:
    code, out = on_tty(*args, "scan", "repo", NONCOMPLIANT, env=env)
    assert code == 1
    assert ESC not in out
    assert "LG-" in out


def test_quiet_prints_only_the_summary_line(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "--quiet",
            "scan",
            "repo",
            NONCOMPLIANT,
            *("--json", str(report)),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "failed" in lines[0], done.stdout
    assert '"findings"' in report.read_text(encoding="utf-8")  # files stay complete


def completion_env(shell_var: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "_LEDGERGATE_COMPLETE": shell_var}


def ledgergate_on_path(tmp: Path) -> dict[str, str]:
    from .cirunner import ledgergate_bin

    return {**os.environ, "PATH": f"{ledgergate_bin(tmp)}{os.pathsep}{os.environ['PATH']}"}


def test_bash_completion_completes_subcommands(tmp_path: Path) -> None:
    env = ledgergate_on_path(tmp_path)
    script = (
        'eval "$(_LEDGERGATE_COMPLETE=bash_source ledgergate)"\n'
        "COMP_WORDS=(ledgergate scan r); COMP_CWORD=2\n"
        "_ledgergate_completion ledgergate\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "repo" in done.stdout.split()


SOURCES = [("zsh", "compdef _ledgergate_completion ledgergate"), ("fish", "complete")]


@pytest.mark.parametrize(("shell", "marker"), SOURCES)
def test_zsh_and_fish_completion_scripts_load(shell: str, marker: str, tmp_path: Path) -> None:
    source = subprocess.run(
        [sys.executable, "-m", "scanner"],
        env=completion_env(f"{shell}_source"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert marker in source.stdout
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} not installed (scripts/install.sh installs it)")
    path = tmp_path / f"ledgergate.{shell}"
    path.write_text(source.stdout, encoding="utf-8")
    # parse only: zsh's compdef needs compinit, fish's --no-execute is its syntax check
    check = [program, "-n" if shell == "zsh" else "--no-execute", str(path)]
    done = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if shell == "fish":  # and it completes, for real
        env = ledgergate_on_path(tmp_path)
        run = subprocess.run(
            [program, "--no-config", "-c", f"source {path}; complete -C 'ledgergate sc'"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "scan" in run.stdout, run.stderr


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough workloads that judging them takes well over a second: cold, since a warm
    cache now reads and judges all of them in under one (its scans pass ``--no-cache``)."""
    repo = tmp_path_factory.mktemp("slow")
    for i in range(1500):
        (repo / f"d{i}.yaml").write_text(
            "apiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: app{i}, namespace: team}}\n"
            "spec:\n  template:\n    spec:\n      containers:\n"
            "        - {name: app, image: nginx:1.25}\n",
            encoding="utf-8",
        )
    return repo


def test_a_long_scan_on_a_tty_shows_progress(slow_repo: Path) -> None:
    code, out = on_tty("scan", "repo", str(slow_repo), "--no-cache")
    assert code == 1
    assert "ledgergate: judging 1500 resources" in out
    # stopped before the report: no spinner frame after the table starts
    assert out.rindex("ledgergate: judging") < out.index("Severity") < out.index("Gate failed")


def test_progress_is_not_shown_off_a_tty_or_with_quiet(slow_repo: Path) -> None:
    piped = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "repo", str(slow_repo), "--no-cache"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert piped.returncode == 1 and "1501 resources, " in piped.stdout
    assert "ledgergate: judging" not in piped.stdout + piped.stderr
    code, out = on_tty("--quiet", "scan", "repo", str(slow_repo), "--no-cache")
    assert code == 1
    assert "ledgergate: judging" not in out and "1501 resources, " in out


def test_progress_without_colour_has_no_escape_codes(slow_repo: Path) -> None:
    code, out = on_tty("--no-color", "scan", "repo", str(slow_repo), "--no-cache")
    assert code == 1
    assert "ledgergate: judging 1500 resources with" in out
    assert ESC not in out


def test_progress_waits_for_its_delay() -> None:
    import time

    from scanner.terminal import Spinner

    fast = Spinner(enabled=True, delay=0.3)
    fast("reading repo")
    fast.stop()  # the scan ended before the delay: nothing is ever shown
    time.sleep(0.6)
    fast("judging")
    assert fast._status is None

    slow = Spinner(enabled=True, delay=0.05)
    slow("reading repo")
    deadline = time.monotonic() + 10
    while slow._status is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow._status is not None
    slow.stop()
    assert slow._status is None


def test_quiet_keeps_the_coverage_gaps_that_make_a_scan_incomplete() -> None:
    """A nightly log under ``--quiet`` still says why the job exited 4."""
    from scanner.terminal import quiet_text

    table = (
        "┃ status ┃ rule ┃\n"
        "│ fail   │ LG-X │\n"
        "COVERAGE note cluster Secret: not requested\n"
        "COVERAGE gap cluster rbac.authorization.k8s.io/RoleBinding: 403 Forbidden\n"
        "\n"
        "3 resources, 2 rules: 1 failed, 0 errors, 0 waived, 1 passed\n"
    )
    assert quiet_text(table) == (
        "COVERAGE gap cluster rbac.authorization.k8s.io/RoleBinding: 403 Forbidden\n"
        "3 resources, 2 rules: 1 failed, 0 errors, 0 waived, 1 passed\n"
    )
    assert quiet_text("") == ""
