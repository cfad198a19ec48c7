"""The inventory snapshot: every resource the rules saw, with secret values redacted.

Redaction is deliberately wider than detection: all Secret data, every value under a
credential-looking key (whatever its entropy), anything detection flagged, and any
string that merely contains a detected value (e.g. last-applied annotations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from scanner import jsontext
from scanner.credentials import is_placeholder
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef
from scanner.redaction import SENSITIVE_KEY, SecretHit, classify, fingerprint, scrub

SNAPSHOT_VERSION = "1.0"


def _mask(value: str, kind: str = "secret") -> str:
    return f"[REDACTED {fingerprint(value, kind)}]"


def public_values(inventory: Inventory) -> set[str]:
    """Strings every output shows by design: names, namespaces, labels, kinds, paths.

    A Secret whose value is ``finance-prod`` does not make the namespace a leak: the
    value is hidden where it is stored, and the same string elsewhere is not a secret.
    """
    found: set[str] = set()
    for res in inventory.resources:
        found |= {res.ref.name, res.ref.namespace, res.ref.kind, res.origin.path}
        found.update(res.origin.path.split("/"))
        meta = res.body.get("metadata")
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        if isinstance(labels, Mapping):
            found |= {str(k) for k in labels} | {str(v) for v in labels.values()}
    found.discard("")
    return found


class _Scrubber:
    """Hides detected secrets: at the path where each was found, and everywhere else.

    A value found in one object (a Secret's data) may also appear in another (a config
    line, an annotation); the snapshot hides it everywhere, as the bundle's leak check
    demands, except where it is a public identity (:func:`public_values`).
    """

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = frozenset(secrets)

    def __call__(self, text: str) -> str:
        return scrub(text, self.secrets) if self.secrets else text


def _at_path(node: str, hits: list[SecretHit]) -> str:
    """A string at a path where the detector found something: masked or scrubbed."""
    for hit in hits:
        if node == hit.value:
            return _mask(node, hit.kind)
    for hit in hits:
        for spelling in sorted(hit.spellings(), key=len, reverse=True):
            node = node.replace(spelling, _mask(spelling, hit.kind))
    return node


def _redact(
    node: Any,
    key: str,
    path: str,
    secrets: _Scrubber,
    hidden: bool,
    flagged: Mapping[str, list[SecretHit]],
) -> Any:
    if isinstance(node, bytes | bytearray):  # YAML !!binary: never shown
        return f"[BINARY {len(node)} bytes]"
    if isinstance(node, dt.date | dt.datetime):
        node = node.isoformat()
    elif not isinstance(node, Mapping | list | str | bool | int | float | type(None)):
        node = str(node)
    if isinstance(node, Mapping):
        name = node.get("name")
        env_secret = "value" in node and isinstance(name, str) and bool(SENSITIVE_KEY.search(name))
        return {
            str(k): _redact(
                v,
                str(k),
                f"{path}.{k}" if path else str(k),
                secrets,
                hidden or (env_secret and k == "value"),
                flagged,
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [
            _redact(v, key, f"{path}[{i}]", secrets, hidden, flagged) for i, v in enumerate(node)
        ]
    if isinstance(node, str):
        sensitive = bool(SENSITIVE_KEY.search(key)) and not is_placeholder(node)
        if hidden or sensitive or classify(key, node):
            return _mask(node) if node else node
        if path in flagged:
            node = _at_path(node, flagged[path])
        return secrets(node)
    if hidden and node is not None and not isinstance(node, bool):
        return _mask(str(node))
    return node


def redacted_body(
    resource: Resource, secrets: _Scrubber, hits: list[SecretHit] | None = None
) -> dict[str, Any]:
    """The resource body with every secret-looking value replaced by its fingerprint.

    ``hits`` are the detector's findings for this object; each is hidden at its path
    (the part before ``:`` for values inside an embedded object).
    """
    flagged: dict[str, list[SecretHit]] = {}
    for hit in hits or ():
        flagged.setdefault(hit.path.split(":", 1)[0], []).append(hit)
    out: dict[str, Any] = {}
    for key, value in resource.body.items():
        hide = resource.ref.kind == "Secret" and key in ("data", "stringData")
        out[str(key)] = _redact(value, str(key), str(key), secrets, hide, flagged)
    return out


#: Where a resource is: the snapshot's sort key, then the cluster uid.
Identity = tuple[str, int, str, str, str, str]


def identity(origin: Origin, ref: ResourceRef) -> Identity:
    """A resource's (or a finding's) place in the snapshot order."""
    return (origin.path, origin.start_line, ref.kind, ref.namespace, ref.name, origin.uid)


def _order(inventory: Inventory) -> list[int]:
    """Inventory indexes in snapshot order (by location and identity, stable)."""
    keys = [identity(r.origin, r.ref)[:5] for r in inventory.resources]
    return sorted(range(len(keys)), key=keys.__getitem__)


def positions(inventory: Inventory | None) -> dict[Identity, int]:
    """Identity -> index in ``inventory.json``'s ``resources`` (the first, if repeated):
    what a population row points at for a pass the findings document only counts."""
    if inventory is None:
        return {}
    out: dict[Identity, int] = {}
    resources = inventory.resources
    for position, index in enumerate(_order(inventory)):
        res = resources[index]
        out.setdefault(identity(res.origin, res.ref), position)
    return out


def snapshot(inventory: Inventory | None) -> dict[str, Any]:
    """The JSON document of the inventory (sorted by location and identity)."""
    if inventory is None:
        return {"schemaVersion": SNAPSHOT_VERSION, "resources": [], "captured": False}
    return {
        "schemaVersion": SNAPSHOT_VERSION,
        "resources": list(_rows(inventory)),
        "captured": True,
    }


def snapshot_parts(inventory: Inventory | None) -> Iterator[bytes]:
    """``manifest.canonical(snapshot(inventory))`` in pieces, one resource at a time: at nightly
    scale the document was a redacted copy of every object (plus its 150 MB of text) held
    at once, the bundle's peak. Each row is written as it sits inside the whole document
    (sorted keys, two-space indent: its lines shifted two levels, which no JSON string can
    tell, since a string holds no raw newline)."""
    if inventory is None:
        yield jsontext.dumpb_utf8(snapshot(None)) + b"\n"
        return
    head = b'{\n  "captured": true,\n  "resources": ['
    first = True
    for row in _rows(inventory):
        text = jsontext.dumpb_utf8(row).replace(b"\n", b"\n    ")
        yield (head if first else b",") + b"\n    " + text
        first = False
    tail = b"]" if first else b"\n  ]"
    version = jsontext.dumpb_utf8(SNAPSHOT_VERSION)
    yield (head if first else b"") + tail + b',\n  "schemaVersion": ' + version + b"\n}\n"


def _rows(inventory: Inventory) -> Iterator[dict[str, Any]]:
    public = public_values(inventory)
    secrets = _Scrubber(
        {s for hits in inventory.secrets.values() for h in hits for s in h.spellings()} - public
    )
    for index in _order(inventory):
        res = inventory.resources[index]
        yield {
            "apiVersion": res.ref.api_version,
            "kind": res.ref.kind,
            "namespace": res.ref.namespace,
            "name": res.ref.name,
            "origin": {
                "path": res.origin.path,
                "startLine": res.origin.start_line,
                "endLine": res.origin.end_line,
                "cluster": res.origin.cluster,
                "uid": res.origin.uid,
                "image": res.origin.image_digest,
            },
            "body": redacted_body(res, secrets, inventory.secrets.get(index)),
        }


def secret_values(inventory: Inventory | None, min_length: int = 8) -> set[str]:
    """Every detected secret spelling long enough to check for leaks in bundle files.

    Public identities (:func:`public_values`) are left out: they appear by design.
    """
    if inventory is None:
        return set()
    found = {
        s
        for hits in inventory.secrets.values()
        for h in hits
        for s in h.spellings()
        if len(s.strip()) >= min_length
    }
    return found - public_values(inventory)
