"""The Jinja2 environment for report templates shipped in ``reports/templates``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from scanner.shipped import reports_dir


def location(finding: Mapping[str, Any]) -> str:
    """``path:line`` (files), ``context uid`` (clusters) or the image, from a finding dict."""
    loc = finding.get("location") or {}
    if loc.get("path"):
        return f"{loc['path']}:{loc['startLine']}" if loc.get("startLine") else str(loc["path"])
    if loc.get("cluster"):
        return f"{loc.get('context') or loc['cluster']} uid={loc.get('uid', '')}"
    return str(loc.get("image", ""))


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (no pipes, HTML or line breaks)."""
    text = " ".join(str(value).split())
    for raw, safe in (("\\", "\\\\"), ("|", "\\|"), ("`", "'"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, safe)
    return text


@cache
def environment(autoescape: bool) -> jinja2.Environment:
    """Strict undefined, autoescape for HTML, the shared filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(reports_dir() / "templates")),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["location"] = location
    env.filters["md"] = markdown_cell
    from scanner.reporters import auditview

    env.globals["control_info"] = auditview.control_info
    env.globals["framework_tree"] = auditview.framework_tree
    env.globals["severity_counts"] = auditview.severity_counts
    env.globals["status_words"] = auditview.STATUS_WORDS
    return env
