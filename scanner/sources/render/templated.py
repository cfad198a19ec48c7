"""Spot Go/Helm template syntax in a plain YAML file (one that no chart renders).

``name: {{ .Values.name }}`` is valid YAML by accident: a flow mapping whose key is a
flow mapping, which would reach the rules as an object named by a Python repr. A
``{{`` that *starts* a plain scalar or a line is template structure; one inside a
quoted string, a block scalar (``|``) or the middle of a plain scalar
(``summary: {{ $labels.instance }} down`` is a string) is data and stays allowed.
"""

from __future__ import annotations

import re

_BLOCK_START = re.compile(r"""^[^#'"]*?(?::|^\s*-)\s*[|>][-+0-9]*\s*(?:#.*)?$""")
_VALUE_TEMPLATE = re.compile(r"""^\s*(?:-\s+)*(?:[^'"\s#{][^#]*?:\s+|-\s+)?\{\{""")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def template_line(text: str) -> int | None:
    """1-based line of the first template construct outside strings, or None."""
    if "{{" not in text:
        return None
    block_indent: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if block_indent is not None:
            if not stripped or _indent(line) > block_indent:
                continue
            block_indent = None
        if not stripped or stripped.startswith("#"):
            continue
        if "{{" in line and _VALUE_TEMPLATE.match(line):
            return number
        if _BLOCK_START.match(line):
            block_indent = _indent(line)
    return None
