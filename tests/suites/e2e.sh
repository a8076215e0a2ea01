#!/usr/bin/env bash
# make test-e2e: the local fleet end to end.
#   make demo (bake + fleet) → make demo again (must change nothing) → tests through the load
#   balancer (spread, Chromium, rolling release and rollback under load, hard node failure) →
#   make demo-down → nothing left. Figures go to reports/e2e-results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export CONTAINERS_CONF="$PWD/molecule/containers.conf"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-stockroom-e2e}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-stockroom-e2e}"
mkdir -p reports
rm -f reports/e2e-results.json
down_done=0
# Whatever happens, leave the machine clean.
trap '[ "$down_done" = 1 ] || scripts/demo-down.sh >reports/e2e-demo-down.log 2>&1 || true' EXIT

stamp() { date +%s; }
record() { .venv/bin/python -c 'import sys; sys.path.insert(0, "."); from tests.e2e.conftest import record; record(sys.argv[1], int(sys.argv[2]))' "$1" "$2"; }

echo "--- make demo (1st run: bake + fleet)"
t=$(stamp)
scripts/demo.sh >reports/e2e-demo-1.log 2>&1 || { tail -n 60 reports/e2e-demo-1.log; exit 1; }
record demo_first_run_seconds $(($(stamp) - t))
record bake_seconds "$(.venv/bin/python tests/e2e/timings.py bake reports/e2e-demo-1.log)"
sed -n '/Show how to reach the fleet/,/^$/p' reports/e2e-demo-1.log

echo "--- make demo (2nd run: must change nothing)"
t=$(stamp)
scripts/demo.sh >reports/e2e-demo-2.log 2>&1 || { tail -n 60 reports/e2e-demo-2.log; exit 1; }
record demo_second_run_seconds $(($(stamp) - t))
.venv/bin/python tests/e2e/timings.py recap reports/e2e-demo-2.log \
  || { grep -B3 -E '^changed:' reports/e2e-demo-2.log | head -40; exit 1; }

echo "--- tests through the load balancer"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e --ignore=tests/e2e/after_down

echo "--- make demo-down, then nothing may be left"
t=$(stamp)
scripts/demo-down.sh >reports/e2e-demo-down.log 2>&1 || { tail -n 40 reports/e2e-demo-down.log; exit 1; }
down_done=1
record demo_down_seconds $(($(stamp) - t))
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e/after_down
cat reports/e2e-results.json
