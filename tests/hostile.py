"""Hypothesis strategies for hostile repositories, shared by the property suite and
``bench/fuzz.py``: manifests, config files and odd shapes, each with planted secrets."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

#: Text that breaks renderers and parsers: Rich markup, Markdown, HTML, control bytes.
NASTY = st.sampled_from(
    [
        "[/oops]",
        "[bold red]x",
        ":smile:",
        "![i](https://evil/p.png)",
        "[l](https://evil)",
        "@org/team",
        "#12",
        "<script>x</script>",
        "**b**",
        "a|b",
        "\x1b[31m",
        "é ü 漢",
        "",
        "-",
        "~",
        "${X}",
        "$(Y)",
        "{{ .v }}",
    ]
)
SECRET = st.text(string.ascii_letters + string.digits, min_size=8, max_size=12).map(
    lambda s: "Pl4nt" + s
)
NAME = st.one_of(
    st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12), NASTY
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), NAME, st.lists(NAME, max_size=2))


@dataclass
class HostileRepo:
    """Files to write (path -> text) and the secrets planted in them."""

    files: dict[str, str]
    secrets: set[str]

    def write(self, root: Path) -> None:
        for name, text in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def _q(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


@st.composite
def manifest(draw: st.DrawFn, secret: str) -> str:
    """One YAML document: a known or unknown kind, odd field types, a planted secret."""
    kind = draw(st.sampled_from(["ConfigMap", "Secret", "Deployment", "Namespace", "Widget"]))
    name = draw(NAME)
    labels = draw(st.one_of(st.dictionaries(NAME, NAME, max_size=2), SCALAR))
    meta = draw(st.sampled_from(["map", "scalar"]))
    metadata = (
        f"{{name: {_q(name)}, namespace: finance-prod, labels: {_q(labels)}}}"
        if meta == "map"
        else _q(draw(SCALAR))
    )
    body = {
        "ConfigMap": f"data: {{DB_PASSWORD: {_q(secret)}, note: {_q(draw(NAME))}}}",
        "Secret": f"stringData: {{password: {_q(secret)}}}",
        "Deployment": (
            "spec: {template: {spec: {containers: [{name: c, image: "
            f"{_q(draw(NAME))}, env: [{{name: API_TOKEN, value: {_q(secret)}}}], "
            f"args: [--password, {_q(secret)}]}}]}}}}"
        ),
        "Namespace": f"spec: {_q(draw(SCALAR))}",
        "Widget": f"spec: {{token: {_q(secret)}}}",
    }[kind]
    version = "apps/v1" if kind == "Deployment" else "example.com/v1" if kind == "Widget" else "v1"
    return f"apiVersion: {version}\nkind: {kind}\nmetadata: {metadata}\n{body}\n"


@st.composite
def config_file(draw: st.DrawFn, secret: str) -> tuple[str, str]:
    """An estate config file, well formed or not, holding the secret."""
    name = draw(st.sampled_from(["odoo.conf", "postgresql.conf", "redis.conf", "traefik.toml"]))
    broken = draw(st.booleans())
    lines = {
        "odoo.conf": ["[options]", f"db_password = {secret}", f"admin_passwd {secret}"],
        "postgresql.conf": ["ssl = on", f"{secret}"],
        "redis.conf": ["port 0", f"requirepass {secret}", f"user app on >{secret} ~* +@all"],
        "traefik.toml": ["[api]", f"{secret}"],
    }[name]
    if not broken:
        lines = lines[:2] if name != "redis.conf" else lines
    if name in ("postgresql.conf", "traefik.toml") and not broken:
        lines = lines[:1]
    return name, "\n".join(lines) + "\n"


@st.composite
def odd_file(draw: st.DrawFn) -> tuple[str, str]:
    """Shapes that crash or hang naive readers."""
    shape = draw(
        st.sampled_from(["deep-json", "nan-json", "dup-json", "deep-yaml", "bomb", "junk"])
    )
    depth = draw(st.integers(90, 400))
    head = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}'
    return {
        "deep-json": ("deep.json", "[" * depth + "]" * depth),
        "nan-json": ("nan.json", head + ', "x": NaN}'),
        "dup-json": ("dup.json", head + ', "kind": "Secret"}'),
        "deep-yaml": ("deep.yaml", "a: " + "[" * depth + "]" * depth + "\n"),
        "bomb": (
            "bomb.yaml",
            "\n".join(
                ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
                + [
                    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]"
                    for i in range(7)
                ]
            ),
        ),
        "junk": ("junk.yaml", draw(st.text(max_size=60))),
    }[shape]


@st.composite
def hostile_repo(draw: st.DrawFn) -> HostileRepo:
    """A small repository of hostile files, each holding a planted secret."""
    files: dict[str, str] = {}
    secrets: set[str] = set()
    for i in range(draw(st.integers(1, 4))):
        secret = draw(SECRET)
        secrets.add(secret)
        files[f"m{i}.yaml"] = "---\n".join(draw(st.lists(manifest(secret), min_size=1, max_size=3)))
    for i in range(draw(st.integers(0, 2))):
        secret = draw(SECRET)
        secrets.add(secret)
        name, text = draw(config_file(secret))
        files[f"c{i}/{name}"] = text
    for i in range(draw(st.integers(0, 2))):
        name, text = draw(odd_file())
        files[f"o{i}/{name}"] = text
    return HostileRepo(files, secrets)
