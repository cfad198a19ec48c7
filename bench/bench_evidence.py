"""How much an evidence bundle adds to a scan: ``python -m bench.bench_evidence [COPIES]``.

Copies the non-compliant fixture repo COPIES times into a temporary folder, then times
a plain scan, a scan writing a signed zip bundle, and verifying that bundle.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.config import load_config
from scanner.evidence.verify import verify_bundle
from scanner.pipeline import repo_source, run_scan, scan_repo
from scanner.reporters.bundle import BundleInputs, write_bundle

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures/repos/odoo-finance-noncompliant"


def main(copies: int = 200) -> None:
    """Print seconds for scan, scan + bundle, and verify."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        for i in range(copies):
            team = root / f"team{i:04d}"
            shutil.copytree(FIXTURE, team, ignore=shutil.ignore_patterns("*.conf"))
            secret = team / "apps/odoo/db-secret.yaml"  # a distinct secret per team
            secret.write_text(secret.read_text().replace("pT9wXe4", f"pT9wXe4-{i:05d}"))
        key = ec.generate_private_key(ec.SECP256R1())
        pem = Path(tmp) / "key.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        config = load_config(None)
        started = time.perf_counter()
        scan_repo(root, config)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        outcome = run_scan(repo_source(root, config), config)
        result = outcome.result
        bundle = Path(tmp) / "bundle.zip"
        files = write_bundle(
            BundleInputs(result=result, inventory=outcome.inventory, sign_key=pem), bundle
        )
        with_bundle = time.perf_counter() - started
        started = time.perf_counter()
        outcome = verify_bundle(bundle)
        verify = time.perf_counter() - started
        size = sum(len(v) for v in files.values())
        print(
            f"{result.resources_scanned} resources, {len(result.findings)} findings: "
            f"scan {plain:.2f}s, scan+signed bundle {with_bundle:.2f}s, verify {verify:.2f}s "
            f"({'ok' if outcome.ok else 'FAILED'}); bundle {size / 1e6:.1f} MB raw, "
            f"{bundle.stat().st_size / 1e6:.2f} MB zipped"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
