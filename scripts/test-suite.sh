#!/usr/bin/env bash
# Runs one suite by name. A suite lives in tests/suites/NAME.sh (owned by the
# piece of the project it tests); a suite that does not exist yet says so and passes.
set -euo pipefail
cd "$(dirname "$0")/.."
name="$1"
suite="tests/suites/$name.sh"
if [ ! -f "$suite" ]; then
  echo "suite '$name': not written yet (nothing to run)"
  exit 0
fi
echo "=== suite '$name' ($(date -u +%H:%M:%S))"
exec bash "$suite"
