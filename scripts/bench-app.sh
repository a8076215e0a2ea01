#!/usr/bin/env bash
# make bench-app: the app benchmark (bench/app_bench.py) against a throw-away MariaDB database.
# Extra arguments go to the script, e.g. scripts/bench-app.sh --seconds 30 --note "..."
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench-app: wrk is missing (scripts/bootstrap.sh installs it)" >&2; exit 1; }
scripts/services.sh mariadb-up
exec .venv/bin/python bench/app_bench.py "$@"
