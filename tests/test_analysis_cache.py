"""Per-object analyzer results kept between runs (``scanner/analyzers/cached.py``): the
secret detector runs only on resources the cache has no result for, and a served result
equals what the detector itself gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner import cache, redaction
from scanner.analyzers import default_analyzers
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.analyzers.cached import PerObjectCached
from scanner.analyzers.secrets import SecretLiteralsAnalyzer
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef

PASSWORD = "Zq7!mV2#rT9p"


def _inventory(password: str = PASSWORD, count: int = 3) -> Inventory:
    inventory = Inventory()
    for n in range(count):
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"db-{n}", "namespace": "ledger"},
            "stringData": {"password": password if n == 0 else f"{password}-{n}"},
        }
        ref = ResourceRef("v1", "Secret", "ledger", f"db-{n}")
        inventory.add(Resource(ref, body, Origin(path=f"apps/db-{n}.yaml", start_line=1)))
    return inventory


def _plain(result: AnalyzerResult) -> tuple[Any, Any]:
    return result.facts, {
        i: [(h.path, h.kind, h.value, h.forms) for h in v] for i, v in result.secrets.items()
    }


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(redaction.FINGERPRINT_KEY_ENV, raising=False)
    redaction.set_fingerprint_key(None)
    yield
    redaction.set_fingerprint_key(None)


def test_the_secret_detector_is_wrapped_in_the_default_analyzers() -> None:
    wrapped = [a for a in default_analyzers() if isinstance(a, PerObjectCached)]
    assert [type(a.inner) for a in wrapped] == [SecretLiteralsAnalyzer]
    assert wrapped[0].name == "secrets" and wrapped[0].always_runs


def test_a_second_run_is_served_and_equals_the_detector(tmp_path: Path) -> None:
    cache.configure(tmp_path)
    analyzer = PerObjectCached(SecretLiteralsAnalyzer())
    truth = _plain(SecretLiteralsAnalyzer().analyze(_inventory(), {}))
    assert PASSWORD in str(truth[1])  # the detector finds it: the test has something to keep
    assert _plain(analyzer.analyze(_inventory(), {})) == truth
    assert (analyzer.hits, analyzer.misses) == (0, 3)
    assert _plain(analyzer.analyze(_inventory(), {})) == truth
    assert (analyzer.hits, analyzer.misses) == (3, 0)


def test_a_changed_resource_alone_is_analyzed_again(tmp_path: Path) -> None:
    cache.configure(tmp_path)
    analyzer = PerObjectCached(SecretLiteralsAnalyzer())
    analyzer.analyze(_inventory(), {})
    changed = _inventory(password="Another!Secret42")
    assert _plain(analyzer.analyze(changed, {})) == _plain(
        SecretLiteralsAnalyzer().analyze(_inventory(password="Another!Secret42"), {})
    )
    # db-0 holds the new password itself; db-1 and db-2 hold it with a suffix: all differ
    assert (analyzer.hits, analyzer.misses) == (0, 3)
    assert _plain(analyzer.analyze(_inventory(), {})) == _plain(
        SecretLiteralsAnalyzer().analyze(_inventory(), {})
    )
    assert (analyzer.hits, analyzer.misses) == (3, 0)


@pytest.mark.parametrize("change", ["params", "fingerprint key", "tool code"])
def test_run_inputs_make_every_resource_a_miss(
    change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.configure(tmp_path)
    analyzer = PerObjectCached(SecretLiteralsAnalyzer())
    analyzer.analyze(_inventory(), {})
    params: dict[str, Any] = {}
    if change == "params":
        params = {"anything": 1}
    elif change == "fingerprint key":
        redaction.set_fingerprint_key(b"the organisation's key")
    else:
        monkeypatch.setattr(cache, "code_digest", lambda: "an edited detector")
    served = _plain(analyzer.analyze(_inventory(), params))
    assert (analyzer.hits, analyzer.misses) == (0, 3)
    assert served == _plain(SecretLiteralsAnalyzer().analyze(_inventory(), params))


def test_a_corrupt_entry_is_analyzed_again(tmp_path: Path) -> None:
    cache.configure(tmp_path)
    analyzer = PerObjectCached(SecretLiteralsAnalyzer())
    analyzer.analyze(_inventory(), {})
    for entry in (p for p in tmp_path.rglob("*") if p.is_file()):
        entry.write_bytes(entry.read_bytes()[:-3])
    assert _plain(analyzer.analyze(_inventory(), {})) == _plain(
        SecretLiteralsAnalyzer().analyze(_inventory(), {})
    )
    assert (analyzer.hits, analyzer.misses) == (0, 3)


def test_no_secret_is_readable_in_the_cache(tmp_path: Path) -> None:
    cache.configure(tmp_path)
    PerObjectCached(SecretLiteralsAnalyzer()).analyze(_inventory(), {})
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 3
    written = b"".join(p.read_bytes() + str(p).encode() for p in files)
    assert PASSWORD.encode() not in written and b"stringData" not in written


class Synthesising(Analyzer):
    """Not per object after all: seeing ``db-2`` it makes a resource from the whole set."""

    name = "synth"

    def analyze(self, inventory: Inventory, params: Any) -> AnalyzerResult:
        result = AnalyzerResult()
        if any(r.ref.name == "db-2" for r in inventory.resources):
            ref = ResourceRef("v1", "Namespace", "", f"made-from-{len(inventory.resources)}")
            result.resources.append(Resource(ref, {"kind": "Namespace"}, Origin()))
        return result


def test_an_analyzer_that_synthesises_sees_the_whole_inventory(tmp_path: Path) -> None:
    cache.configure(tmp_path)
    analyzer = PerObjectCached(Synthesising())
    analyzer.analyze(_inventory(count=2), {})  # db-0 and db-1 stored
    result = analyzer.analyze(_inventory(count=3), {})
    assert [r.ref.name for r in result.resources] == ["made-from-3"]
