#!/usr/bin/env bash
# make test-molecule: `molecule test` for every scenario under molecule/ (each directory with a
# molecule.yml); exits non-zero when any scenario fails.
#   MOLECULE_SCENARIOS="common node"  runs only those.
# Two lanes side by side (the machine has 2 cores), each running its scenarios one after the other: the
# node scenarios (common, stockroom_app: Debian 12 and 13, systemd as PID 1; they share the apt caches) and local_fleet, and the
# emulator scenarios (image_bake, aws_*: each with an emulator of its own on a free port, molecule/shared/aws)
# and release. The fleet scenarios have names, ports and databases of their own, so they may overlap.
# Base images come from scripts/base-image.sh (built once, cached in /var/cache/stockroom).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
# Podman settings for our runs only (runc, rlimits this machine allows); /etc/containers untouched.
export CONTAINERS_CONF="$PWD/molecule/containers.conf"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

# The roles' boot-time secret fetch against the AWS emulator (seconds; no containers needed).
python -m pytest -q -p no:cacheprovider tests/roles

for suite in bookworm trixie; do
  scripts/base-image.sh "$suite" >/dev/null
done

mkdir -p reports/molecule
default=$(for f in molecule/*/molecule.yml; do basename "$(dirname "$f")"; done | tr '\n' ' ')
read -r -a scenarios <<<"${MOLECULE_SCENARIOS:-$default}"
for scenario in "${scenarios[@]}"; do
  [ -f "molecule/$scenario/molecule.yml" ] || { echo "no scenario molecule/$scenario" >&2; exit 2; }
done

# One lane: its scenarios one after the other; the names of the failed ones go to $failed_dir/LANE
# (this run's own directory: another run's lanes must not mix into it).
failed_dir=$(mktemp -d)
trap 'rm -rf "$failed_dir"' EXIT
lane() {
  local name=$1 scenario log start
  shift
  : >"$failed_dir/$name"
  for scenario in "$@"; do
    log="reports/molecule/$scenario.log"
    start=$(date +%s)
    echo "--- molecule test -s $scenario (log: $log)"
    if molecule test -s "$scenario" >"$log" 2>&1; then
      echo "    $scenario passed in $(( $(date +%s) - start )) s"
    else
      echo "    $scenario FAILED after $(( $(date +%s) - start )) s; the end of $log:"
      grep -a -E 'fatal:|FAILED!|ERROR|msg' "$log" | tail -n 20 | sed 's/^/    /'
      echo "$scenario" >>"$failed_dir/$name"
    fi
  done
}

# Lane "aws": image_bake first (its verified image is the cache the fleet scenarios start from,
# molecule/shared/fleet/baked-image.sh), the aws_* scenarios, then release. Lane "podman": the node
# scenarios, then local_fleet (by then image_bake has long finished; were it still baking, the cache's
# lock makes local_fleet wait for it instead of baking the same image twice).
aws=() podman=()
for scenario in "${scenarios[@]}"; do
  [ "$scenario" = image_bake ] && aws+=("$scenario")
done
for scenario in "${scenarios[@]}"; do
  case "$scenario" in aws_*) aws+=("$scenario") ;; image_bake | release | local_fleet) ;; *) podman+=("$scenario") ;; esac
done
# The fleet scenarios last in their lanes (the names sort local_fleet before the node scenarios).
for scenario in "${scenarios[@]}"; do
  [ "$scenario" = release ] && aws+=("$scenario")
  [ "$scenario" = local_fleet ] && podman+=("$scenario")
done
suite_start=$(date +%s)
lane aws ${aws[@]+"${aws[@]}"} &
aws_lane=$!
lane podman ${podman[@]+"${podman[@]}"}
wait "$aws_lane"
mapfile -t failed < <(cat "$failed_dir/aws" "$failed_dir/podman")

if [ "${#failed[@]}" -gt 0 ]; then
  echo "molecule: failed scenarios: ${failed[*]}"
  exit 1
fi
echo "molecule: all ${#scenarios[@]} scenarios passed in $(( $(date +%s) - suite_start )) s"
