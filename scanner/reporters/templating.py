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
        line = loc.get("line") or loc.get("startLine")  # the offending field, else the object
        return f"{loc['path']}:{line}" if line else str(loc["path"])
    if loc.get("cluster"):
        return f"{loc.get('context') or loc['cluster']} uid={loc.get('uid', '')}"
    return str(loc.get("image", ""))


#: Characters GitHub Markdown gives a meaning to inside a table cell: emphasis, links,
#: images, code, strike-through, math, HTML. Each is backslash-escaped in data fields.
_MD_PUNCTUATION = set("\\`*_{}[]()#!|~<>$")
#: ``@user`` and ``#123`` notify people and link issues; a word joiner after the sign
#: keeps the text readable but inert.
_WORD_JOINER = "\u2060"


def markdown_cell(value: Any) -> str:
    """Data safe as text inside a Markdown table cell: no markup, links, images,
    mentions, HTML or line breaks survive, whatever the scanned tree put there."""
    text = " ".join(str(value).split())
    out = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch in _MD_PUNCTUATION:
            out.append("\\" + ch)
        elif ch == "@" and not (out and out[-1][-1:].isalnum()):  # ``a@b.c`` is an address
            out.append(ch + _WORD_JOINER)
        else:
            out.append(ch)
    # ``#12`` links an issue; ``https://`` and ``www.`` become links by themselves
    return (
        "".join(out)
        .replace("\\#", "\\#" + _WORD_JOINER)
        .replace("://", ":" + _WORD_JOINER + "//")
        .replace("www.", "www" + _WORD_JOINER + ".")
    )


def markdown_code(value: Any) -> str:
    """Data safe inside a Markdown code span in a table cell (backslashes show literally
    there, so only the span's own delimiter and the cell separator are replaced)."""
    text = " ".join(str(value).split())
    return text.replace("`", "'").replace("|", "\\|")


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
    env.filters["mdcode"] = markdown_code
    from scanner.reporters import auditview

    env.globals["control_info"] = auditview.control_info
    env.globals["framework_tree"] = auditview.framework_tree
    env.globals["severity_counts"] = auditview.severity_counts
    env.globals["status_words"] = auditview.STATUS_WORDS
    env.globals["not_evaluated_word"] = auditview.not_evaluated_word
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
    if fmt in ("json", "oscal"):
        return text  # a JSON document: a prefix would break it (JSON: "verified": false)
    prefix = "# " if fmt in ("csv", "text") else "> **"
    suffix = "" if fmt in ("csv", "text") else "**"
    return (
        f"{prefix}{UNVERIFIED}{suffix}\n\n{text}"
        if fmt == "md"
        else f"{prefix}{UNVERIFIED}\n{text}"
    )
