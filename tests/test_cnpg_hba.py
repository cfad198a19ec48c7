"""CloudNativePG pg_hba: which line first admits a client that does not use TLS (LG-ENC-003).

The operator closes the user's lines with ``host all all all <method>``, so a list of
``hostssl`` lines alone still admits clear text; only a ``hostnossl ... reject`` for every
address before any admitting line refuses it.
"""

from __future__ import annotations

import pytest

from scanner.analyzers.postgres import CNPG_CLOSING_RULE, cnpg_plain_hba


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], (CNPG_CLOSING_RULE, -1)),
        (["hostssl all all all scram-sha-256"], (CNPG_CLOSING_RULE, -1)),
        (["hostnossl all all all reject", "host all all all md5"], ("", -1)),
        (["hostnossl all all 0.0.0.0/0 reject"], (CNPG_CLOSING_RULE, -1)),  # IPv6 still open
        (["hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"], ("", -1)),
        (["hostnossl all all 0.0.0.0 0.0.0.0 reject", "hostnossl all all ::/0 reject"], ("", -1)),
        (
            ["host all all 10.0.0.0/8 trust", "hostnossl all all all reject"],
            ("host all all 10.0.0.0/8 trust", 0),
        ),
        # a narrower reject refuses only part of the plain connections
        (["hostnossl ledger all all reject"], (CNPG_CLOSING_RULE, -1)),
        (
            ["local all all peer", "hostssl all all all cert clientcert=verify-full"],
            (CNPG_CLOSING_RULE, -1),
        ),
        (["hostnossl all all all reject  # refuse clear text"], ("", -1)),
    ],
)
def test_first_line_admitting_clear_text(lines: list[str], expected: tuple[str, int]) -> None:
    assert cnpg_plain_hba(lines) == expected
