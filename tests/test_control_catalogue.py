"""Meta-test of the control catalogue: every cited control is known, once, with its edition."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from scanner.catalogue import catalogue, describe
from scanner.errors import RulePackError
from scanner.rules import load_rules, rule_files

from .conftest import ROOT

RULE_FILES = rule_files([ROOT / "rules"])


def _cited() -> set[tuple[str, str]]:
    cited = set()
    for path in RULE_FILES:
        for c in yaml.safe_load(path.read_text())["controls"]:
            cited.add((c["framework"], str(c["id"])))
    return cited


def test_catalogue_covers_exactly_the_frameworks_rules_may_cite() -> None:
    schema = json.loads((ROOT / "rules/schema/rule.schema.json").read_text())
    allowed = schema["properties"]["controls"]["items"]["properties"]["framework"]["enum"]
    assert sorted(catalogue()) == sorted(allowed)
    for fw in catalogue().values():
        assert fw.version and fw.name and fw.version != fw.name


def test_every_cited_control_is_catalogued_and_every_entry_cited() -> None:
    cited = _cited()
    known = {(fid, cid) for fid, fw in catalogue().items() for cid in fw.controls}
    assert sorted(cited - known) == [], "controls cited by rules but not in rules/controls.yaml"
    assert sorted(known - cited) == [], "catalogue entries no rule cites"


@pytest.mark.parametrize("framework", sorted(catalogue()))
def test_one_id_one_title(framework: str) -> None:
    fw = catalogue()[framework]
    titles = [c.title for c in fw.controls.values()]
    assert len(titles) == len(set(titles)), "two ids share a title"
    for cid, control in fw.controls.items():
        assert re.fullmatch(fw.id_pattern, cid), f"{cid}: id carries more than the id"
        assert control.objective and control.objective != control.title
    # A rule's control id is the bare id: the title lives only in the catalogue.
    for fid, cid in _cited():
        if fid == framework:
            assert re.fullmatch(fw.id_pattern, cid), f"a rule cites {fid} {cid!r}"


def test_describe_names_the_edition() -> None:
    info = describe("pci-dss-4.0", "7.2.2")
    assert info is not None and "privilege" in info.title.lower()
    assert catalogue()["pci-dss-4.0"].version.startswith("v4.0.1")
    assert describe("pci-dss-4.0", "99.9.9") is None


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_every_rule_states_its_test_procedure(path: Path) -> None:
    text = yaml.safe_load(path.read_text())["procedure"]
    assert "pass" in text.lower(), "say what passes"
    assert text.strip() not in (yaml.safe_load(path.read_text()).get("rationale") or "")


def test_a_rule_without_procedure_does_not_load(tmp_path: Path) -> None:
    source = (ROOT / "rules/traefik-tls/LG-TLS-001.yaml").read_text()
    text = re.sub(r"\nprocedure: >\n(  .*\n)+", "\n", source)
    assert "procedure" not in text
    (tmp_path / "LG-TLS-001.yaml").write_text(text)
    with pytest.raises(RulePackError) as caught:
        load_rules([tmp_path])
    assert "procedure" in caught.value.diagnostics()
