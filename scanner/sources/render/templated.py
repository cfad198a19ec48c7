"""Spot Go/Helm template syntax in a plain YAML file (one that no chart renders).

``name: {{ .Values.name }}`` is valid YAML by accident: a flow mapping whose key is a
flow mapping, which would reach the rules as an object named by a Python repr. The
YAML scanner tells structure from text, so a ``{{`` it reads as two flow-mapping
openings is template structure; one inside a quoted string, a block scalar (``|``) or
the middle of a plain scalar (``summary: {{ $labels.instance }} down``) is data.
"""

from __future__ import annotations

import re

import yaml

try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


#: A line where ``{{`` could start a plain scalar: cheap, over-eager candidate finder.
_CANDIDATE = re.compile(r"^[ \t]*(?:-[ \t]+)*(?:[^'\"\s#{][^#\n]*?:[ \t]+)?\{\{", re.MULTILINE)
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def template_line(text: str) -> int | None:
    """1-based line of the first ``{{`` the YAML scanner reads as structure, or None.

    Only documents with a candidate line are scanned, so big files stay cheap.
    """
    if "{{" not in text:
        return None
    bounds = [0, *(m.end() for m in _SEPARATOR.finditer(text)), len(text)]
    scanned = -1
    for candidate in _CANDIDATE.finditer(text):
        start = max(b for b in bounds if b <= candidate.start())
        if start == scanned:
            continue
        scanned = start
        end = min(b for b in bounds if b > candidate.start())
        found = _structural(text[start:end])
        if found is not None:
            return text.count("\n", 0, start) + found
    return None


def _structural(text: str) -> int | None:
    previous: yaml.Token | None = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if (
                isinstance(token, yaml.FlowMappingStartToken)
                and isinstance(previous, yaml.FlowMappingStartToken)
                and token.start_mark.index == previous.end_mark.index
            ):
                return int(previous.start_mark.line) + 1
            previous = token
    except yaml.YAMLError:
        return None
    return None


def _odd_keys(node: object) -> bool:
    """Whether parsed data has a mapping key that is not a scalar (a parsed ``{{ x }}``)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(isinstance(k, (frozenset, tuple, dict, list)) for k in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def templated(text: str, parsed: list[object]) -> int | None:
    """Line of template structure in a file whose parse already looked wrong, or None.

    ``parsed`` holds each document's data, or None for one that did not parse; only
    then is the (slower) token scan run.
    """
    if "{{" not in text or not any(d is None or _odd_keys(d) for d in parsed):
        return None
    return template_line(text)
