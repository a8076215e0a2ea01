#!/usr/bin/env bash
# make test-molecule: `molecule test` for every scenario under molecule/ (podman + systemd as PID 1,
# Debian 12 and 13 in each), one after the other; exits non-zero when any scenario fails.
#   MOLECULE_SCENARIOS="common node"  runs only those.
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
read -r -a scenarios <<<"${MOLECULE_SCENARIOS:-common stockroom_app node}"
failed=()
for scenario in "${scenarios[@]}"; do
  [ -f "molecule/$scenario/molecule.yml" ] || { echo "no scenario molecule/$scenario" >&2; exit 2; }
  log="reports/molecule/$scenario.log"
  start=$(date +%s)
  echo "--- molecule test -s $scenario (log: $log)"
  if molecule test -s "$scenario" >"$log" 2>&1; then
    echo "    passed in $(( $(date +%s) - start )) s"
  else
    echo "    FAILED after $(( $(date +%s) - start )) s; the end of $log:"
    grep -E 'fatal:|FAILED!|ERROR|msg' "$log" | tail -n 20 | sed 's/^/    /'
    failed+=("$scenario")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "molecule: failed scenarios: ${failed[*]}"
  exit 1
fi
echo "molecule: all ${#scenarios[@]} scenarios passed"
