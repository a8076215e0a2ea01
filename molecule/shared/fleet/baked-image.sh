#!/usr/bin/env bash
# The baked node image that the fleet scenarios (local_fleet, release) run, baked once per content:
#   baked-image.sh key               what a bake would put in the image now (app + node roles), as a short hash
#   baked-image.sh get               prints localhost/stockroom-mol-baked:KEY for the current content,
#                                    baking it first (playbooks/image.yml on an emulator of its own) when missing
#   baked-image.sh offer IMAGE KEY   keeps an image baked elsewhere (the image_bake scenario's, verified) as that
#                                    cache entry, so the fleet scenarios after it in `make test-molecule` bake nothing
# Only the newest cache entry is kept (like the base image it outlives the scenarios; `podman rmi` removes it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cache=localhost/stockroom-mol-baked
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/molecule/containers.conf}"

key() {
  (cd "$root" && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --exclude=__pycache__ --exclude='*.egg-info' -cf - \
    app/pyproject.toml app/src roles/common roles/stockroom_app | sha256sum | cut -c1-12)
}

# Tag IMAGE as the cache entry KEY and drop the older entries.
keep() {
  local image=$1 k=$2 old
  podman tag "$image" "$cache:$k"
  # (podman lists every name of an image the filter matches: keep only this repository's rows.)
  for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$cache" | grep "^$cache:"); do
    [ "$old" = "$cache:$k" ] || podman rmi "$old" >/dev/null
  done
}

# One bake or cache change at a time (scenarios in two lanes may ask at once; the second then finds the image).
lock() { mkdir -p "$root/.run"; exec 9>"$root/.run/baked-image.lock"; flock 9; }

case "${1:-}" in
  key) key ;;
  offer) lock; keep "$2" "$3" ;;
  get)
    lock
    k=$(key)
    if ! podman image exists "$cache:$k"; then
      work=$(mktemp -d)
      repo=localhost/stockroom-mol-cachebake
      trap '"$root/molecule/shared/aws/emulator.sh" stop "$work" >/dev/null; rm -rf "$work"' EXIT
      # A snapshot of the app, so the bake builds what the key names even while app/ is edited.
      mkdir -p "$work/app"
      cp -a "$root/app/pyproject.toml" "$root/app/src" "$work/app/"
      cp "$root/roles/stockroom_app/files/requirements.lock" "$work/requirements.lock"
      "$root/molecule/shared/aws/emulator.sh" start "$work" >&2
      echo "baking the node image $cache:$k (log: $work/bake.log)" >&2
      if ! STOCKROOM_AWS_ENDPOINT="$(cat "$work/emulator_url")" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        ANSIBLE_CONFIG="$root/ansible.cfg" "$root/.venv/bin/ansible-playbook" -i "$root/inventory/local" \
        "$root/playbooks/image.yml" -e stockroom_env=molcache -e "image_bake_local_repository=$repo" \
        -e "image_bake_app_dir=$work/app" -e "stockroom_app_source_dir=$work/app" \
        -e "stockroom_app_requirements_lock_file=$work/requirements.lock" >"$work/bake.log" 2>&1; then
        tail -n 40 "$work/bake.log" >&2
        exit 1
      fi
      id=$(podman images --quiet --filter "reference=$repo" | head -n 1)
      keep "$id" "$k"
      podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo" | { grep "^$repo:" || true; } \
        | xargs -r podman rmi >/dev/null
    fi
    echo "$cache:$k"
    ;;
  *)
    echo "usage: $0 key|get|offer IMAGE KEY" >&2
    exit 2
    ;;
esac
