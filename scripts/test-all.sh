#!/usr/bin/env bash
# make test: lint and every suite, each one run even when an earlier one failed;
# prints a summary and exits non-zero when any failed. Services that the suites
# start are stopped again on exit.
#
# Side by side, in lanes: each lane's output goes to reports/<suite>.log, and the end of each is shown.
# molecule and aws start emulators on ports of their own and name their containers, databases and
# stacks apart; the aws suite alone takes as long as molecule and e2e one after the other, so e2e
# follows molecule in the same lane - never beside it: its clean-up (make demo-down) removes every
# container of the local fleet's label, which the molecule fleet scenarios also carry.
set -uo pipefail
cd "$(dirname "$0")/.."

# A step is one or more lanes side by side (space), a lane one or more suites one after the other (+):
# lint (ansible-lint keeps one core busy) beside the app suite (pytest, MariaDB, gunicorn, Chromium:
# about one core); then molecule and e2e beside aws (one ansible-playbook or pytest at a time).
steps=(smoke "lint app" "molecule+e2e aws")
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
  read -r -a lanes <<<"$step"
  if [ "${#lanes[@]}" -eq 1 ] && [[ "${lanes[0]}" != *+* ]]; then
    suites+=("${lanes[0]}")
    (run "${lanes[0]}")  # a subshell of its own, so `times` counts this suite only
    continue
  fi
  echo "=== ${step// / beside } (output in reports/<suite>.log)"
  step_suites=()
  for lane in "${lanes[@]}"; do
    IFS=+ read -r -a members <<<"$lane"
    step_suites+=("${members[@]}")
    (for s in "${members[@]}"; do (run "$s" >"reports/$s.log" 2>&1); done) &
  done
  wait
  suites+=("${step_suites[@]}")
  for s in "${step_suites[@]}"; do
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
