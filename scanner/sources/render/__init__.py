"""Rendering: turn kustomizations and Helm charts into the objects that will be deployed.

The repo source calls :func:`render_repo` once; it returns the rendered objects (each
with an origin pointing at the line a reviewer edits), the raw files those renders
stand for (not judged again), and one problem per render that could not be done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from scanner.config import RenderOptions
from scanner.sources.render.base import FieldMap, Location, RenderedObject, RenderOutput

__all__ = ["FieldMap", "Location", "RenderOutput", "RenderedObject", "render_repo"]


def render_repo(
    root: Path,
    paths: Iterable[str],
    options: RenderOptions,
    read_text: Callable[[str], str | None],
) -> RenderOutput:
    """Render every root kustomization and every chart under ``root``."""
    out = RenderOutput()
    if not options.enabled:
        return out
    listed = list(paths)
    from scanner.sources.render.kustomize import Kustomize

    out.extend(Kustomize(root, options, read_text).render(listed))
    from scanner.sources.render.consumers import find_consumers
    from scanner.sources.render.helm import Helm, find_charts

    charts = {c.folder for c in find_charts(listed, read_text)}
    if charts:
        consumers = find_consumers(listed, read_text, charts)
        out.extend(Helm(root, options, read_text).render(listed, consumers))
    return out
