"""Every scan records its effective scope; unevaluated controls are never a pass."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from .conftest import copy_fixture_repo


def test_scope_is_recorded_in_json_sarif_bundle_and_html(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = copy_fixture_repo(tmp_path / "repo", "odoo-finance-compliant")
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text() + "  severity: {LG-TLS-001: critical}\n")
    out, sarif, bundle = tmp_path / "o.json", tmp_path / "o.sarif", tmp_path / "b.zip"
    html = tmp_path / "r.html"
    result = run_cli(
        "scan",
        "repo",
        str(repo),
        "--json",
        str(out),
        "--sarif",
        str(sarif),
        "--evidence",
        str(bundle),
        "--format",
        "html",
        "-o",
        str(html),
    )
    assert result.exit_code == 0, result.output
    scope = json.loads(out.read_text())["scope"]
    assert scope["rules"]["excluded"] == ["LG-IMG-050", "LG-IMG-051", "LG-IMG-052"]
    assert scope["severityOverrides"] == {"LG-TLS-001": "critical"}
    assert scope["excludedPaths"] == ["docs/"]
    assert scope["params"]["productionNamespaces"] == ["finance-prod"]
    assert scope["inputsNotEnabled"] == ["images (image scanning not enabled: --images)"]
    unevaluated = {(c["framework"], c["control"]): c["reason"] for c in scope["notEvaluated"]}
    assert unevaluated[("pci-dss-4.0", "6.3.3")] == "rule excluded: LG-IMG-051"
    assert json.loads(sarif.read_text())["runs"][0]["properties"]["scope"] == scope
    with zipfile.ZipFile(bundle) as archive:
        assert json.loads(archive.read("manifest.json"))["scope"] == scope
    page = html.read_text()
    assert "Scope of this scan" in page and "rule excluded: LG-IMG-051" in page


def test_cluster_scope_names_the_namespace_filter() -> None:
    from scanner.config import load_config
    from scanner.pipeline import load_ruleset
    from scanner.scope import effective_scope

    config = load_config(None)
    scope = effective_scope(config, load_ruleset(config), [], {"namespaces": ["finance-*"]})
    assert scope["namespaceFilter"] == ["finance-*"]
    assert all(c["reason"].startswith("no resource") for c in scope["notEvaluated"])
