"""A signal whose exception CPython swallows (raised inside a weakref callback or a
``__del__``, where an exception is only printed as "Exception ignored in ...") still ends
the scan with 130/143: CI once saw a SIGINT land in an import lock's weakref callback,
and the scan ran on, wrote its reports and exited 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The signal is sent from inside a weakref callback, so its handler runs there and its
# exception is swallowed by CPython; the code after it must never run.
_PROGRAM = """
import os, signal, sys, time, weakref
from pathlib import Path
from scanner.cli.util import interruptible

class Thing:
    pass

marker = Path(sys.argv[1])
signum = int(sys.argv[2])
with interruptible():
    thing = Thing()
    ref = weakref.ref(thing, lambda _ref: [os.kill(os.getpid(), signum), sum(range(1000))])
    del thing
    time.sleep(float(sys.argv[3]))  # the rest of the scan (none: the block ends at once)
    marker.write_text("the scan ran on after the signal")
"""


@pytest.mark.parametrize("rest", ["5", "0"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_swallowed_in_a_callback_still_ends_the_scan(
    tmp_path: Path, signum: int, code: int, rest: str
) -> None:
    marker = tmp_path / "ran-on"
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(marker), str(int(signum)), rest],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert not marker.exists() or rest == "0"  # no rest: the block's last line has run
    assert "no report written" in done.stderr
    assert "Exception ignored" not in done.stderr
