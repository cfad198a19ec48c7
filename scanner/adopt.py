"""``ledgergate init``: a starting ``ledgergate.yaml`` drawn from what the repository holds.

Adopting a gate on an existing repository starts with its facts: which namespaces its
objects land in and whether each counts as production (by the one classifier every scan
uses, so the file says what the gate will do), which registries its images come from,
and whether the image rules need registry access (``--images``). Every line is
commented, so the reviewer who approves the file knows what each one decides.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from scanner.config import Config
from scanner.environment import Environment, classify
from scanner.imageref import ImageRefError, parse
from scanner.inventory import Inventory, containers_of_resource, namespace_scope
from scanner.sources.repo import RepoSource

IMAGE_RULES = "LG-IMG-05*"


@dataclass(frozen=True)
class Survey:
    """What ``init`` found: namespaces with their classification, registries, images."""

    namespaces: dict[str, tuple[Environment, int]]
    registries: dict[str, list[str]]
    images: int


def survey(root: Path, config: Config) -> Survey:
    """Read the repository as a scan does (rendering included) and summarise it."""
    source = RepoSource(
        root,
        excludes=config.exclude_paths,
        max_file_size=config.max_file_size,
        render=config.render,
    )
    inventory = Inventory.from_items(list(source.collect()))
    labels = inventory.namespace_labels()
    counts: Counter[str] = Counter()
    registries: defaultdict[str, set[str]] = defaultdict(set)
    images: set[str] = set()
    for resource in inventory.resources:
        scope = namespace_scope(resource)
        if scope:
            counts[scope] += 1
        for container in containers_of_resource(resource):
            text = container.get("image")
            if not isinstance(text, str):
                continue
            images.add(text)
            try:
                ref = parse(text)
            except ImageRefError:
                continue
            # approvedRegistries match the reference as written: only a named registry counts
            named = text.strip().lower().startswith(ref.registry + "/")
            registries[ref.registry if named else ""].add(text.split("@", 1)[0])
    namespaces = {
        name: (classify(name, config.params, labels=labels.get(name, {})), count)
        for name, count in sorted(counts.items())
    }
    return Survey(
        namespaces,
        {reg: sorted(refs) for reg, refs in sorted(registries.items())},
        len(images),
    )


def _q(text: str) -> str:
    """A YAML scalar that is always a plain string (JSON strings are valid YAML)."""
    return json.dumps(text)


def render_config(found: Survey) -> str:
    """The commented ``ledgergate.yaml`` for a survey."""
    prod = [(n, e, c) for n, (e, c) in found.namespaces.items() if e.production]
    other = [(n, e, c) for n, (e, c) in found.namespaces.items() if not e.production]
    lines = [
        "# ledgergate.yaml, started by `ledgergate init`: review each line before approving it.",
        "# In the pre-merge gate this file is read from the merge base (a PR cannot loosen it).",
        "params:",
        "  # Production namespaces: the production-only rules judge their objects. Each was",
        "  # classified by the scanner's own rules; the comment says why.",
        "  productionNamespaces:" + ("" if prod else " []"),
    ]
    for name, env, count in prod:
        why = "unclassified, so production (fail closed): move it below if it is not"
        why = why if env.fail_closed else env.reason
        lines.append(f"    - {_q(name)}  # {count} object(s); {why}")
    lines.append("  # Namespaces that are not production (dev, test, staging, platform tooling).")
    lines.append("  nonProductionNamespaces:" + ("" if other else " []"))
    for name, env, count in other:
        lines.append(f"    - {_q(name)}  # {count} object(s); {env.reason}")
    lines.append("  # An unlisted namespace found later is judged as production (fail closed).")
    lines.append("  unclassifiedIs: production")
    named = {reg: refs for reg, refs in found.registries.items() if reg}
    lines.append("  # Registries this repository's images come from (prefix of the reference as")
    lines.append("  # written): listing one approves it; any other registry fails LG-IMG-003.")
    lines.append("  approvedRegistries:" + ("" if named else " []"))
    for registry, refs in named.items():
        lines.append(f"    - {_q(registry + '/')}  # {len(refs)} image(s), e.g. {refs[0]}")
    bare = found.registries.get("", [])
    if bare:
        lines.append(
            f"  # {len(bare)} image(s) name no registry (Docker Hub), e.g. {bare[0]}: they"
        )
        lines.append("  # fail LG-IMG-003 until they name an approved registry (a mirror).")
    if found.images:
        lines += [
            "rules:",
            f"  # {found.images} image reference(s) found: their signature, vulnerability and",
            f"  # user rules ({IMAGE_RULES}) read the registry and run only with `--images`.",
            "  # Remove this exclusion once the gate runs with --images (registry access).",
            f"  exclude: [{_q(IMAGE_RULES)}]",
        ]
    else:
        lines.append("# No image references found: `--images` is not needed.")
    return "\n".join(lines) + "\n"
