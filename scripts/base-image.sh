#!/usr/bin/env bash
# Ensures the local podman image localhost/stockroom-base:SUITE exists: a Debian
# minbase root filesystem with systemd as init, for Molecule and the local fleet.
#
# Interface (stable — the Molecule suite, the local fleet and the image bake use it):
#   scripts/base-image.sh SUITE            SUITE = bookworm | trixie
#   scripts/base-image.sh SUITE --rebuild  drop the cached tarball and the image, build again
# On success the last line on stdout is the image name (localhost/stockroom-base:SUITE).
# It also makes two package cache directories that containers of this suite may bind-mount
# (Molecule does; each must be used by one container at a time):
#   CACHE/apt-SUITE   -> /var/cache/apt/archives   (downloaded .debs)
#   CACHE/lists-SUITE -> /var/lib/apt/lists        (package indexes; apt refreshes them when stale)
# Environment (all optional):
#   STOCKROOM_BASE_CACHE    cache directory, outside the repo   (default /var/cache/stockroom)
#   STOCKROOM_DEBIAN_MIRROR Debian mirror for debootstrap        (default http://deb.debian.org/debian)
#   STOCKROOM_DEBIAN_SECURITY_MIRROR                             (default http://deb.debian.org/debian-security)
#   CONTAINERS_CONF         passed through to podman (molecule/containers.conf in our runs)
#
# What it does: debootstrap (≈ 1 min, once) → tarball cache/base-SUITE.tar.zst → `podman import`
# when the image is missing (≈ 2 s). The tarball, not podman's storage, is the cache, so a
# `podman system reset` costs seconds. A flock per suite lets concurrent callers wait for one build.
# Needs root (debootstrap, chroot), debootstrap and zstd.
set -euo pipefail

usage() { echo "usage: $0 bookworm|trixie [--rebuild]" >&2; exit 2; }
suite="${1:-}"
case "$suite" in bookworm | trixie) ;; *) usage ;; esac
rebuild="${2:-}"
[ -z "$rebuild" ] || [ "$rebuild" = --rebuild ] || usage

cache="${STOCKROOM_BASE_CACHE:-/var/cache/stockroom}"
mirror="${STOCKROOM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${STOCKROOM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
image="localhost/stockroom-base:$suite"
tarball="$cache/base-$suite.tar.zst"
# What goes in: systemd as PID 1, what Ansible needs (python3, python3-apt, sudo) and what the
# roles use on every run (python3-venv and python3-packaging for ansible.builtin.pip, procps).
packages="systemd-sysv,dbus,python3,python3-apt,python3-venv,python3-packaging,iproute2,sudo,ca-certificates,procps"

mkdir -p "$cache"
exec 9>"$cache/base-$suite.lock"
flock 9 # held until exit: one build/import per suite at a time

if [ "$rebuild" = --rebuild ]; then
  rm -f "$tarball"
  podman image rm -f "$image" >/dev/null 2>&1 || true
fi

if [ ! -s "$tarball" ]; then
  echo "base-image: building $suite rootfs with debootstrap (once; cached in $tarball)" >&2
  rootfs="$(mktemp -d "$cache/rootfs-$suite.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap-$suite.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap-$suite.log" >&2; exit 1; }
  # Updates and security suites too, so unattended-upgrades has a security origin to follow.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  # An old index date, so `apt: update_cache=true cache_valid_time=N` refreshes on first use.
  touch -d @0 "$rootfs/var/lib/apt/lists"
  : >"$rootfs/etc/machine-id" # empty: systemd makes one per container at boot
  chmod 755 "$rootfs"         # mktemp made it 0700, which breaks every non-root user inside
  tar --zstd -C "$rootfs" --numeric-owner -cpf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
fi

for dir in "$cache/apt-$suite" "$cache/lists-$suite"; do
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir/partial"
    touch -d @0 "$dir" # "never updated": the first apt run refreshes the indexes
  fi
done

if ! podman image exists "$image"; then
  echo "base-image: importing $tarball as $image" >&2
  podman import -q --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    "$tarball" "$image" >/dev/null
fi
echo "$image"
