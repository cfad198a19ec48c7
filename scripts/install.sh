#!/usr/bin/env bash
# Install Ledgergate and everything its tests start (system packages and Python packages),
# then run a real scan of the bundled non-compliant fixture repo.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(git chromium fonts-liberation openssl docker-registry apache2-utils gnupg openssh-client prometheus softhsm2 poppler-utils zsh fish mmdebstrap skopeo)  # prometheus: promtool; mmdebstrap, skopeo: the nightly image
# Kustomize rendering uses `kubectl kustomize` (Kustomize v5, kubectl >= 1.27), which the
# machine image ships. Debian's own package (kubernetes-client, kubectl 1.20 with
# Kustomize v2) is too old for origin annotations, so it is not installed here.
command -v kubectl >/dev/null 2>&1 || echo "warning: kubectl not found: kustomizations are reported as not rendered" >&2
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# Exact, tested versions (pyproject.toml states ranges); LEDGERGATE_CONSTRAINTS= skips them.
constraints=(-c "${LEDGERGATE_CONSTRAINTS-.ci/constraints.txt}")
[ -n "${LEDGERGATE_CONSTRAINTS-.ci/constraints.txt}" ] || constraints=()
python3 -m pip install --quiet --disable-pip-version-check "${constraints[@]}" -e '.[dev]'

if [ "${LEDGERGATE_SKIP_DEMO:-}" != 1 ]; then
  echo "== ledgergate scan repo fixtures/repos/odoo-finance-noncompliant (exit 1 = violations found, as planted)"
  ledgergate scan repo fixtures/repos/odoo-finance-noncompliant || [ $? -eq 1 ]
fi
