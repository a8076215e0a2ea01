#!/usr/bin/env bash
# The app's pytest suite: unit tests (SQLite) and everything else against the real MariaDB
# (each run creates and drops its own uniquely named databases), gunicorn, schemathesis and
# headless Chromium. Never skips: a missing dependency is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/services.sh mariadb-up
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$tool" ] || { echo "app suite: $tool is missing (scripts/bootstrap.sh installs it)" >&2; exit 1; }
done
# The app must be installed in the venv (bootstrap does it; this makes a stale install current).
.venv/bin/python -c 'import stockroom' 2>/dev/null || .venv/bin/pip install -q -c constraints.txt -e ./app
mkdir -p reports
cd app
exec ../.venv/bin/python -m pytest -q -p no:cacheprovider tests \
  --junitxml=../reports/app-junit.xml "$@"
