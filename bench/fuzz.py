"""Long-running fuzzing of the scan with hostile repositories (the property suite's
strategies, without its example budget). Leave it running; it stops at the first
broken invariant and prints the repository that broke it.

Run: ``python bench/fuzz.py [EXAMPLES]`` (default 5000; 0 runs until interrupted).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the invariants over many generated repositories; exit 1 on a failure."""
    from hypothesis import HealthCheck, given, settings

    from tests.hostile import HostileRepo, hostile_repo
    from tests.test_properties import check_invariants

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    budget = examples or 10**9
    count = [0]
    started = time.monotonic()

    @settings(
        max_examples=budget,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_repo())
    def fuzz(repo: HostileRepo) -> None:
        count[0] += 1
        if count[0] % 100 == 0:
            rate = count[0] / (time.monotonic() - started)
            print(f"{count[0]} repositories, {rate:.1f}/s", flush=True)
        check_invariants(repo)

    try:
        fuzz()
    except KeyboardInterrupt:
        print(f"stopped after {count[0]} repositories, no invariant broken")
        return
    except AssertionError as exc:
        print(f"invariant broken after {count[0]} repositories: {exc}")
        sys.exit(1)
    print(f"{count[0]} repositories, no invariant broken")


if __name__ == "__main__":
    main()
