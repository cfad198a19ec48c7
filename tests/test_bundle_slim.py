"""The bundle's findings.json lists problems only and counts passes; the population still
holds every tested item, pointing at what exists in the bundle, with what each recorded;
and bundles written the old way (every pass listed) still read everywhere."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.evidence import archive, population
from scanner.evidence.population import Resolver, read_population
from scanner.evidence.verify import verify_files
from scanner.model import Status
from scanner.reporters import bundle as bundle_module
from scanner.reporters.json import listed, result_to_dict
from scanner.reporters.templating import stamp_unverified

from .conftest import copy_fixture_repo

EPOCH = "1767225600"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: finance-prod
  labels: {{app: app-{i}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      containers:
        - name: app
          image: registry.example/app@sha256:{digest}
          resources: {{limits: {{memory: 1Gi}}}}
"""


def _cli(*args: str) -> Result:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        return CliRunner().invoke(cli, list(args))


def _scan(repo: Path, out: Path) -> Path:
    done = _cli("scan", "repo", str(repo), "--evidence", str(out))
    assert done.exit_code in (0, 1), done.output
    return out


def _every(_f: Any) -> bool:
    return True


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same repo as a bundle written now and one written the old way (every pass
    listed in findings.json, every population row pointing into it)."""
    base = tmp_path_factory.mktemp("slim")
    repo = copy_fixture_repo(base / "repo")
    new = _scan(repo, base / "new")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bundle_module, "report_doc", lambda r: result_to_dict(r, full=True))
        mp.setattr(bundle_module, "lister", lambda r: _every)
        old = _scan(repo, base / "old")
    return new, old


def _doc(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "findings.json").read_text())


def test_the_old_way_really_lists_every_pass(bundles: tuple[Path, Path]) -> None:
    new, old = bundles
    assert "passes" not in _doc(old) and "passes" in _doc(new)
    passes = [f for f in _doc(old)["findings"] if f["status"] == "pass"]
    assert passes and not [f for f in _doc(new)["findings"] if f["status"] == "pass"]


def test_findings_json_does_not_grow_with_passes(tmp_path: Path) -> None:
    """Ten times the compliant objects: findings.json stays the same size, the population
    grows tenfold (the old findings.json grew with every pass)."""
    sizes, rows = [], []
    for count in (20, 200):
        repo = tmp_path / f"repo{count}"
        (repo / "apps").mkdir(parents=True)
        for i in range(count):
            text = DEPLOYMENT.format(i=i, digest=f"{i:064x}")
            (repo / "apps" / f"app{i}.yaml").write_text(text)
        out = _scan(repo, tmp_path / f"b{count}")
        doc = _doc(out)
        assert not [f for f in doc["findings"] if f["status"] == "pass"]
        counted = sum(p["count"] for p in doc["passes"])
        assert counted >= count  # at least one rule passed on every object
        pop = read_population(archive.read(out))
        assert len({r["name"] for r in pop if r["result"] == "pass"}) == count
        sizes.append((out / "findings.json").stat().st_size)
        rows.append(len(pop))
    assert rows[1] > 9 * rows[0]
    problems_growth = sizes[1] / sizes[0]
    assert problems_growth < 12, "findings.json grows with the problems only"
    listed_new = len(_doc(tmp_path / "b200")["findings"])
    assert sizes[1] < 6000 * max(listed_new, 1) + 100_000


def test_population_rows_and_order_are_those_of_every_finding(
    bundles: tuple[Path, Path],
) -> None:
    """The same rows in the same order as the old population; only the evidence pointer
    of a counted pass changed, and each pointer resolves to what the row says."""
    new, old = bundles
    new_rows = read_population(archive.read(new))
    old_rows = read_population(archive.read(old))
    strip = [{k: v for k, v in r.items() if k != "evidence"} for r in new_rows]
    assert strip == [{k: v for k, v in r.items() if k != "evidence"} for r in old_rows]
    resolve = Resolver(archive.read(new))
    for row in new_rows:
        found = resolve(row["evidence"])
        if row["evidence"].startswith("findings.json#/findings/"):
            assert (found["ruleId"], found["fingerprint"]) == (row["rule"], row["fingerprint"])
        else:
            assert row["result"] == "pass"
            assert (found["kind"], found["name"]) == (row["kind"], row["name"])


def test_result_rows_match_the_document_rows() -> None:
    from .conftest import scanned_fixture_repo

    result = scanned_fixture_repo()
    full = result_to_dict(result, full=True)
    got = list(population.result_rows(result.findings, lambda i, f: f"#/{i}"))
    want = [[*r[:-2], f"#/{r[-2].rsplit('/', 1)[1]}", r[-1]] for r in population.ordered_rows(full)]
    assert got == want and got
    assert any(not listed(f) for f in result.findings)
    assert any(f.status is Status.PASS for f in result.findings)


def test_zip_bundle_stores_gzipped_members_and_verifies(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    for i in range(400):  # enough rows for the population to be gzipped
        (repo / "apps" / f"a{i}.yaml").write_text(DEPLOYMENT.format(i=i, digest=f"{i:064x}"))
    first = _scan(repo, tmp_path / "one" / "audit.zip")  # apart: no series between them
    second = _scan(repo, tmp_path / "two" / "audit.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as z:
        kinds = {i.filename: i.compress_type for i in z.infolist()}
    assert kinds["population.csv.gz"] == zipfile.ZIP_STORED
    assert kinds["findings.json"] == zipfile.ZIP_DEFLATED
    assert verify_files(archive.read(first)).ok


def test_old_bundles_still_sample_report_diff_and_give_oscal(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    new, old = bundles
    for bundle in (new, old):
        assert verify_files(archive.read(bundle)).ok
        record = tmp_path / f"{bundle.name}.json"
        done = _cli("evidence", "sample", str(bundle), "--control", "AC-5", "--size", "50",
                    "--seed", "3", "-o", str(record))  # fmt: skip
        assert done.exit_code == 0, done.output
        selection = json.loads(record.read_text())["selection"]
        assert selection and all(i["finding"]["ruleId"] == i["rule"] for i in selection)
    # the same control verdicts from either bundle, at write time and re-rendered
    csvs = []
    for bundle in (new, old):
        done = _cli("report", str(bundle), "--format", "csv", "--unverified")
        assert done.exit_code == 0, done.output
        csvs.append(done.output)
        assert (bundle / "controls.csv").read_text() in done.output
    assert csvs[0] == csvs[1]
    counts = list(csv.DictReader(io.StringIO((new / "controls.csv").read_text())))
    assert any(int(r["pass"]) for r in counts)
    # the same OSCAL verdicts and one observation per tested item either way
    docs = []
    for bundle in (new, old):
        done = _cli("report", str(bundle), "--format", "oscal", "--unverified")
        assert done.exit_code == 0, done.output
        docs.append(json.loads(done.output[done.output.index("{") :]))
    results = [d["assessment-results"]["results"][0] for d in docs]
    verdicts = [
        {f["target"]["target-id"]: f["target"]["status"]["state"] for f in r["findings"]}
        for r in results
    ]
    assert verdicts[0] == verdicts[1]
    assert len(results[0]["observations"]) == len(results[1]["observations"])
    # old and new bundle of the same scan: nothing new, nothing fixed
    done = _cli("evidence", "diff", str(old), str(new), "--format", "json", "--unverified")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output[done.output.index("{") :])["summary"]
    assert summary["new"] == 0 and summary["fixed"] == 0 and summary["stillOpen"] > 0


def test_report_rerendered_from_the_bundle_is_the_report_it_holds(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    new, _old = bundles
    out = tmp_path / "again.html"
    done = _cli("report", str(new), "-o", str(out), "--unverified")
    assert done.exit_code == 0, done.output
    page = (new / "report.html").read_text()
    again = out.read_text()
    assert "item(s) passed (listed in" in page
    # the re-render is stamped UNVERIFIED (no key given); otherwise the same page
    assert stamp_unverified(page, "html") == again


def test_report_doc_is_built_once_per_result_and_released_with_it() -> None:
    import gc

    from scanner.findings import ScanResult
    from scanner.reporters import json as json_reporter

    from .conftest import scanned_fixture_repo

    base = scanned_fixture_repo()
    result = ScanResult.build(base.findings, base.rules, target={"type": "repo"})
    first = json_reporter.report_doc(result)
    assert json_reporter.report_doc(result) is first
    other = ScanResult.build(base.findings[:3], base.rules, target={"type": "repo"})
    assert json_reporter.report_doc(other) is not first
    assert json_reporter.report_doc(other)["summary"] != first["summary"]
    del result, first
    gc.collect()
    assert json_reporter.report_doc(other) is json_reporter.report_doc(other)
    del other
    gc.collect()
    assert json_reporter._last == []
