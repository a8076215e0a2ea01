#!/usr/bin/env bash
# Installs everything Stockroom's commands need, idempotently: Debian packages,
# the controller virtualenv (.venv) from pinned requirements, and the app itself.
# Fast when everything is already there (a stamp file records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  python3-venv git make curl ca-certificates
  podman runc debootstrap zstd uidmap
  chromium chromium-driver
  wrk haproxy
  mariadb-server mariadb-client
  nftables  # tests/roles/test_imds_guard.py loads the node's metadata guard in a namespace
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp_input() { cat requirements-dev.in constraints.txt app/pyproject.toml 2>/dev/null || true; }
want="$(stamp_input | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: preparing .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q -U pip wheel
  .venv/bin/pip install -q -r requirements-dev.in -c constraints.txt
  if [ -f app/pyproject.toml ]; then
    .venv/bin/pip install -q -c constraints.txt -e './app[dev]' 2>/dev/null \
      || .venv/bin/pip install -q -c constraints.txt -e ./app
  fi
  echo "$want" > .venv/.stamp
fi
echo "bootstrap: ready"
