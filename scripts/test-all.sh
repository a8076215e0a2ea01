#!/usr/bin/env bash
# make test: lint and every suite, each one run even when an earlier one failed;
# prints a summary and exits non-zero when any failed. Services that the suites
# start are stopped again on exit.
#
# molecule and aws run side by side: each starts emulators on ports of its own and names its
# containers, databases and stacks apart, and together they keep both cores busy where one alone
# waits (podman, apt, the emulator's waits). Their output goes to reports/<suite>.log, and the end
# of each is shown. e2e runs alone after them: its clean-up (make demo-down) removes every
# container of the local fleet's label, which the molecule fleet scenarios also carry.
set -uo pipefail
cd "$(dirname "$0")/.."

# lint (ansible-lint keeps one core busy) beside the app suite (pytest, MariaDB, gunicorn, Chromium:
# about one core); molecule beside aws; e2e alone.
steps=(smoke "lint app" "molecule aws" e2e)
state=$(mktemp -d)
trap 'rm -rf "$state"; scripts/services.sh down >/dev/null 2>&1 || true' EXIT

run() {
  local s=$1 start rc
  start=$(date +%s)
  if [ "$s" = lint ]; then scripts/lint.sh; else scripts/test-suite.sh "$s"; fi
  rc=$?
  echo "$rc" >"$state/$s.rc"
  echo $(( $(date +%s) - start )) >"$state/$s.seconds"
  # CPU seconds of the suite's own processes (user+sys of waited-for children; containers' processes
  # belong to conmon and are not counted): with 2 cores, wall time near CPU/2 means the suite is CPU-bound.
  # (`times` into a file: in a pipe it would run in a subshell of its own and report nothing.)
  times >"$state/$s.times"
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, y, /[ms]/); printf "%d\n", u[1]*60 + u[2] + y[1]*60 + y[2] }' \
    "$state/$s.times" >"$state/$s.cpu"
}

suites=()
mkdir -p reports
for step in "${steps[@]}"; do
  read -r -a group <<<"$step"
  suites+=("${group[@]}")
  if [ "${#group[@]}" -eq 1 ]; then
    (run "${group[0]}")  # a subshell of its own, so `times` counts this suite only
    continue
  fi
  echo "=== ${group[*]} side by side (output in reports/<suite>.log)"
  for s in "${group[@]}"; do run "$s" >"reports/$s.log" 2>&1 & done
  wait
  for s in "${group[@]}"; do
    echo "=== $s: exit $(cat "$state/$s.rc") after $(cat "$state/$s.seconds") s; the end of reports/$s.log:"
    tail -n 60 "reports/$s.log"
  done
done

echo
echo "=== make test summary"
passed=0 failed=0
for s in "${suites[@]}"; do
  rc=$(cat "$state/$s.rc")
  if [ "$rc" -eq 0 ]; then res=passed; passed=$((passed + 1)); else res="FAILED (exit $rc)"; failed=$((failed + 1)); fi
  printf '  %-10s %-18s %4ss  (%s CPU-s)\n' "$s" "$res" "$(cat "$state/$s.seconds")" "$(cat "$state/$s.cpu")"
done
echo "suites: $passed passed, $failed failed"
exit $(( failed > 0 ? 1 : 0 ))
