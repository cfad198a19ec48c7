"""A SoftHSM2 token for tests: a private token folder, initialised with the real
``softhsm2-util``, and ``SOFTHSM2_CONF`` pointing at it while in use."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
MODULE = next((m for m in MODULES if Path(m).is_file()), "")
PIN = "204913"
SO_PIN = "1029384756"


@contextmanager
def softhsm_token(folder: Path, label: str) -> Iterator[None]:
    """Initialise token ``label`` (user PIN :data:`PIN`) in ``folder``; skip without SoftHSM2."""
    if not MODULE or shutil.which("softhsm2-util") is None:
        pytest.skip("needs SoftHSM2 (Debian softhsm2)")
    (folder / "tokens").mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        init = ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN]
        done = subprocess.run(
            [*init, "--so-pin", SO_PIN], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        _reload()
        yield
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
        _reload()


def _reload() -> None:
    """python-pkcs11 keeps one loaded module per process, and SoftHSM2 reads its config
    once at C_Initialize: re-initialise so a token made after an earlier test is seen."""
    try:
        import pkcs11
    except ImportError:
        return
    pkcs11.lib(MODULE).reinitialize()
