"""Image settings are typed and validated at start-up, and injected into the analyzer
instead of riding in the ``params`` every CEL rule sees."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from scanner.errors import ConfigError

from .conftest import write_tree

DIGEST = "sha256:" + "0" * 64
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: a, namespace: finance-prod}}
spec:
  template:
    spec:
      containers:
        - name: a
          image: registry.finance.internal/a@{DIGEST}
"""
BAD_KEY = "params:\n  imageTrust:\n    keys: [missing.pem]\n"


def test_a_bad_image_key_in_the_config_exits_2_before_the_scan(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    """It used to surface as an analyzer failure (exit 4) after the tree was read."""
    write_tree(tmp_path, {"ledgergate.yaml": BAD_KEY, "deploy.yaml": DEPLOYMENT})
    result = run_cli("scan", "repo", str(tmp_path), "--images", "--format", "json")
    assert result.exit_code == 2, result.output
    assert "params.imageTrust.keys" in result.stderr
    assert result.stdout == ""  # no report: nothing was scanned


def test_a_bad_image_key_at_the_merge_base_exits_2(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    write_tree(tmp_path, {"ledgergate.yaml": BAD_KEY, "deploy.yaml": DEPLOYMENT})
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", "base"], check=True, timeout=60)
    result = run_cli("scan", "repo", str(tmp_path), "--base", "main", "--images")
    assert result.exit_code == 2, result.output
    assert "params.imageTrust.keys" in result.stderr


def test_cli_flags_do_not_reach_the_params_rules_see(tmp_path: Path) -> None:
    from scanner.cli.image import ImageFlags
    from scanner.config import load_config

    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    flags = ImageFlags(enabled=True, registry_ca=str(ca), trivy="/opt/trivy")
    config = load_config(None)
    params = flags.apply(config).params
    assert "/opt/trivy" not in repr(params) and str(ca) not in repr(params)
    settings = flags.settings(config)
    assert settings.scan.trivy.binary == "/opt/trivy"
    assert settings.registry.ca_file == str(ca.resolve())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"imageScan": {"workers": 0}}, "params.imageScan.workers"),
        ({"imageScan": {"trivyTimeoutSeconds": "soon"}}, "params.imageScan.trivyTimeoutSeconds"),
        ({"imageTrust": {"registries": {"retries": 99}}}, "params.imageTrust.registries.retries"),
        ({"imageTrust": {"registries": {"insecure": "h:1"}}}, "registries.insecure"),
        ({"imageTrust": "yes"}, "params.imageTrust must be a mapping"),
    ],
)
def test_each_bad_setting_is_a_config_error_naming_its_field(
    params: dict[str, object], field: str
) -> None:
    from scanner.images.settings import image_settings

    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        image_settings(params)


def test_the_injected_settings_decide_whether_registries_are_read(tmp_path: Path) -> None:
    from scanner.analyzers.image_report import NOT_ENABLED, ImageAnalyzer
    from scanner.images.settings import ImageScanSettings
    from scanner.inventory import Inventory
    from scanner.sources.repo import RepoSource

    write_tree(tmp_path, {"deploy.yaml": DEPLOYMENT})
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    off = ImageAnalyzer(settings=ImageScanSettings(enabled=False))
    # params say "on", the injected settings say "off": the settings win
    facts = off.analyze(inventory, {"imageScan": {"enabled": True}}).facts
    assert [f["imageReport"] for f in facts.values()] == [{"_error": NOT_ENABLED}]
