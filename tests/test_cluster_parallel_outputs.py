"""A cluster scan judged by forked workers writes the very bytes one process writes: the
JSON report, SARIF and every member of the signed evidence bundle."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bench.bench_cluster import _sign_key, objects
from scanner import parallel
from scanner.cli import cli
from tests.kubeapi.pki import make_pki
from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
from tests.kubeapi.store import Store

OBJECTS = 900
#: The signature is ECDSA (a fresh nonce each time); what it signs is compared.
RANDOMISED = {"manifest.sig.json"}


def _outputs(config: Path, key: Path, out: Path) -> dict[str, bytes]:
    out.mkdir()
    bundle = out / "audit.zip"
    done = CliRunner().invoke(
        cli,
        ["--quiet", "scan", "cluster", "--kubeconfig", str(config), "--fail-on=none",
         f"--evidence={bundle}", f"--json={out / 'report.json'}",
         f"--sarif={out / 'report.sarif'}", f"--sign-key={key}"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    found = {name: (out / name).read_bytes() for name in ("report.json", "report.sarif")}
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            found[f"bundle:{info.filename}"] = archive.read(info)
    return found


def test_two_workers_write_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796000000")
    monkeypatch.setenv("LEDGERGATE_RUN_ID", "parallel-outputs")
    monkeypatch.chdir(tmp_path)
    # small enough to fork at this size, with several batches and drains each
    monkeypatch.setattr(parallel, "MIN_PARALLEL_RESOURCES", 100)
    monkeypatch.setattr(parallel, "BATCH", 40)
    monkeypatch.setattr(parallel, "DRAIN_EVERY", 7)
    forks: list[str] = []
    real_forked = parallel._forked

    def counted(*args: Any) -> Any:
        forks.append(args[0].__name__)
        return real_forked(*args)

    monkeypatch.setattr(parallel, "_forked", counted)
    store = Store()
    store.add_all(objects(OBJECTS, "realistic"))
    server = FixtureApiServer(store, Authz({"bench": "bench"}), make_pki(tmp_path / "pki")).start()
    try:
        assert server.pki is not None
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), "bench")))
        key = _sign_key(tmp_path)
        monkeypatch.setenv(parallel.WORKERS_ENV, "1")
        serial = _outputs(config, key, tmp_path / "serial")
        assert not forks
        monkeypatch.setenv(parallel.WORKERS_ENV, "2")
        forked = _outputs(config, key, tmp_path / "forked")
        assert "_stream_work" in forks, "the judging was not forked"
    finally:
        server.stop()
    assert sorted(forked) == sorted(serial)
    assert b'"status": "fail"' in serial["report.json"]
    assert "bundle:population.csv.gz" in serial
    differing = sorted(n for n in serial if serial[n] != forked[n])
    assert set(differing) <= {f"bundle:{n}" for n in RANDOMISED}, differing
