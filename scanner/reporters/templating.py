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
    return env


UNVERIFIED = (
    "UNVERIFIED: this bundle's signature was not checked or did not verify; "
    "nothing on this page can be relied on"
)


def stamp_unverified(text: str, fmt: str) -> str:
    """Mark a rendering of an unverified bundle on its first line (HTML: a banner)."""
    if fmt == "html":
        banner = (
            '<div id="unverified" style="background:#b00020;color:#fff;padding:1em;'
            f'font-weight:bold;font-size:1.3em">{UNVERIFIED}</div>'
        )
        head, sep, rest = text.partition("<body>")
        return f"{head}{sep}\n{banner}{rest}" if sep else banner + text
    if fmt == "json":
        return text  # the caller adds "verified": false to the document
    prefix = "# " if fmt in ("csv", "text") else "> **"
    suffix = "" if fmt in ("csv", "text") else "**"
    return (
        f"{prefix}{UNVERIFIED}{suffix}\n\n{text}"
        if fmt == "md"
        else f"{prefix}{UNVERIFIED}\n{text}"
    )
