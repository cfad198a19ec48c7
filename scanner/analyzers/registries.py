"""``facts.imageRegistry``: which containers' images come from no approved registry.

An entry of ``params.approvedRegistries`` is a registry host or a path prefix
(``registry.finance.internal``, ``ghcr.io/ledgergate-demo/``). It approves an image
reference *as written* that starts with it on a path boundary: the entry ends in ``/``, or
the reference goes on with ``/``, ``:`` or ``@`` (or ends), so ``registry.finance.internal``
does not approve ``registry.finance.internal.evil.example/app``. Decided here once, not in
CEL string arithmetic; a container without an image (injected later) is not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.errors import AnalyzerError
from scanner.inventory import Inventory, containers_of_resource
from scanner.kinds import WORKLOAD_KINDS

#: What may follow an approved entry that does not end in ``/`` (a path, tag or digest).
_BOUNDARY = ("/", ":", "@")


def approved_registries(params: Mapping[str, Any]) -> tuple[str, ...]:
    """``params.approvedRegistries`` as strings; anything else fails the rules requiring it
    (an unreadable allow-list must not approve, nor silently approve nothing)."""
    entries = params.get("approvedRegistries")
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise AnalyzerError("params.approvedRegistries must be a list of registry prefixes")
    if not all(isinstance(e, str) and e for e in entries):
        raise AnalyzerError("params.approvedRegistries entries must be non-empty strings")
    return tuple(entries)


def is_approved(image: str, approved: Sequence[str]) -> bool:
    """Whether ``image`` (as written) starts with an entry of ``approved`` on a boundary."""
    return any(
        image.startswith(entry)
        and (entry.endswith("/") or image[len(entry) : len(entry) + 1] in ("", *_BOUNDARY))
        for entry in approved
    )


class RegistryApprovalAnalyzer(Analyzer):
    """Judges every container image reference against the approved registries once."""

    name = "registries"
    provides = ("imageRegistry",)
    #: Nothing beyond the workload itself.
    reads = ()

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """``imageRegistry.unapproved`` (name, path, image) on every workload."""
        approved = approved_registries(params)
        result = AnalyzerResult()
        workload_kinds = set(WORKLOAD_KINDS)
        for index, resource in enumerate(inventory.resources):
            if (resource.ref.group, resource.ref.kind) not in workload_kinds:
                continue
            unapproved = [
                {"name": str(c.get("name", "")), "path": c["_path"], "image": c["image"]}
                for c in containers_of_resource(resource)
                if c["_image"]["present"] and not is_approved(c["image"], approved)
            ]
            result.facts[index] = {"imageRegistry": {"unapproved": unapproved}}
        return result
