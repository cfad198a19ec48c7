#!/usr/bin/env bash
# Resolve the comparison base (the `base` input, else the pull request's base SHA) and make
# sure it and its merge base with HEAD are in the clone: actions/checkout makes a shallow
# clone of one commit by default. Writes `base=<sha>` (empty: no base, a full scan) to
# $GITHUB_OUTPUT.
set -euo pipefail

base="${LG_BASE:-${LG_PR_BASE:-}}"
depth="${LG_DEPTH:-50}"
case "$depth" in '' | *[!0-9]*) echo "::error title=Ledgergate::fetch-depth must be a number" >&2; exit 2 ;; esac
if [ -z "$base" ]; then
  echo "No base commit (not a pull request, no 'base' input): scanning the whole tree."
  echo "base=" >>"$GITHUB_OUTPUT"
  exit 0
fi
if ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
  echo "Fetching base ${base} (depth ${depth})"
  git fetch --no-tags --depth="$depth" origin "$base"
fi
sha=$(git rev-parse --verify "${base}^{commit}")
for _ in 1 2 3 4 5; do
  git merge-base "$sha" HEAD >/dev/null 2>&1 && break
  [ "$(git rev-parse --is-shallow-repository)" = true ] || break
  echo "No merge base yet: deepening the clone by ${depth} commits"
  git fetch --no-tags --deepen="$depth" origin "$sha" "$(git rev-parse HEAD)"
done
if ! git merge-base "$sha" HEAD >/dev/null 2>&1 \
  && [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "Still no merge base: fetching the whole history"
  git fetch --no-tags --unshallow origin
fi
git merge-base "$sha" HEAD >/dev/null || {
  echo "::error title=Ledgergate::${sha} and HEAD share no history" >&2
  exit 2
}
echo "base=${sha}" >>"$GITHUB_OUTPUT"
