#!/usr/bin/env bash
# make test: lint and every suite, each one run even when an earlier one failed;
# prints a summary and exits non-zero when any failed. Services that the suites
# start are stopped again on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
trap 'scripts/services.sh down >/dev/null 2>&1 || true' EXIT

suites=(lint smoke app molecule aws e2e)
declare -A result duration
failed=0
for s in "${suites[@]}"; do
  start=$(date +%s)
  if [ "$s" = lint ]; then scripts/lint.sh; else scripts/test-suite.sh "$s"; fi
  rc=$?
  duration[$s]=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then result[$s]=passed; else result[$s]="FAILED (exit $rc)"; failed=$((failed + 1)); fi
done

echo
echo "=== make test summary"
passed=0
for s in "${suites[@]}"; do
  printf '  %-10s %-18s %4ss\n' "$s" "${result[$s]}" "${duration[$s]}"
  [ "${result[$s]}" = passed ] && passed=$((passed + 1))
done
echo "suites: $passed passed, $failed failed"
exit $(( failed > 0 ? 1 : 0 ))
