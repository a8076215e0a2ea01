#!/usr/bin/env bash
# Runs one suite by name: tests/suites/NAME.sh (owned by the piece of the project it tests).
# An unknown name is an error, so a typo in a make target or CI job cannot pass silently.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/test-suite.sh SUITE (one of: $(cd tests/suites && ls -- *.sh | sed 's/\.sh$//' | xargs))}"
suite="tests/suites/$name.sh"
if [ ! -f "$suite" ]; then
  echo "test-suite: no suite '$name' (tests/suites/$name.sh does not exist)" >&2
  exit 2
fi
echo "=== suite '$name' ($(date -u +%H:%M:%S))"
exec bash "$suite"
