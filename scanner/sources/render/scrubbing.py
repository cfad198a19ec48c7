"""Keep secret values out of Helm and Kustomize error texts.

A failed render is reported with the engine's own message, and engines quote what they
choke on: Kustomize echoes a malformed generator literal whole (``invalid literal source
<value>``), a chart's ``fail`` or ``required`` can print any value. The files behind a
failed render are judged raw later, but a chart's values files are no manifests, so the
scan-wide scrubber may never learn their secrets. So each message is scrubbed here, with
the secrets found in the files the render read.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scanner.redaction import assignments, find_secrets, scrub
from scanner.sources.kubeyaml import Document, parse_yaml

ReadText = Callable[[str], str | None]
#: Most files read to scrub one message (only a failed render pays this).
MAX_FILES = 2000


def secrets_in(documents: Iterable[Any], texts: Iterable[str] = ()) -> set[str]:
    """Every secret spelling in parsed documents and in free text (``password=...``)."""
    found: set[str] = set()
    for data in documents:
        if isinstance(data, Mapping):
            kind = str(data.get("kind") or "")
            found.update(s for hit in find_secrets(kind, data) for s in hit.spellings())
    for text in texts:
        found.update(value for _, value in assignments(text))
    return found


def secrets_of_files(paths: Iterable[str], read_text: ReadText) -> set[str]:
    """The secrets in the YAML documents and ``key=value`` lines of these files."""
    documents: list[Any] = []
    texts: list[str] = []
    for count, path in enumerate(sorted(set(paths))):
        if count >= MAX_FILES:
            break
        text = read_text(path)
        if text is None:
            continue
        texts.append(text)
        if path.lower().endswith((".yaml", ".yml", ".json")) or "." not in path.rsplit("/", 1)[-1]:
            documents.extend(d.data for d in parse_yaml(text) if isinstance(d, Document))
    return secrets_in(documents, texts)


def generator_secrets(data: Mapping[str, Any], folder: str, read_text: ReadText) -> set[str]:
    """Every ``secretGenerator`` literal and env-file line, whole and its value: a literal
    Kustomize could not split is echoed whole, and all of it may be the secret."""
    lines: list[str] = []
    for item in data.get("secretGenerator") or ():
        if not isinstance(item, Mapping):
            continue
        lines.extend(x for x in _list(item.get("literals")) if isinstance(x, str))
        for env in [*_list(item.get("envs")), item.get("env")]:
            if isinstance(env, str):
                lines.extend((read_text(posixpath.join(folder, env)) or "").splitlines())
    found: set[str] = set()
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            found.add(line.strip())
            found.add(line.partition("=")[2].strip().strip("'\""))
    return {s for s in found if s}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def scrub_message(message: str, secrets: Iterable[str]) -> str:
    """The message with each secret (and any ``password=...`` in it) redacted."""
    return scrub(message, {*secrets, *(v for _, v in assignments(message))})
