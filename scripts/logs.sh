#!/usr/bin/env bash
# make logs: the local fleet's journals merged into one, oldest first. The nodes (podman containers
# labelled io.stockroom.fleet=local, made by playbooks/fleet.yml) keep their logs in their own journal -
# the podman bake ships nothing to CloudWatch (docs/fleet.md, "Logs"); this is the local stand-in for
# the /<stockroom_name>/app and /system log groups. Each line: UTC time, node, unit/identifier, message
# (the app's request lines are its JSON, one per request).
#   scripts/logs.sh                      last 200 entries of each node, merged by time
#   scripts/logs.sh -u stockroom         only the app's unit (any journalctl filter works)
#   scripts/logs.sh --since -10min -p warning
#   scripts/logs.sh -f                   follow every node live (interleaved as they arrive)
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/molecule/containers.conf}"

# The fleet's label (playbooks/fleet.yml); STOCKROOM_LOGS_FILTER picks other containers (tests).
mapfile -t nodes < <(podman ps --filter "${STOCKROOM_LOGS_FILTER:-label=io.stockroom.fleet=local}" --format '{{.Names}}' | sort)
if [ "${#nodes[@]}" -eq 0 ]; then
  echo "logs: no local fleet node is running (make demo starts one)" >&2
  exit 1
fi

follow=false
has_count=false
for arg in "$@"; do
  case "$arg" in
    -f | --follow) follow=true ;;
    -n | --lines | --lines=* | -n[0-9]* | --since | --since=* | -S | -b | --boot | --boot=*) has_count=true ;;
  esac
done
args=("$@")
if ! $has_count; then args=(-n 200 "${args[@]}"); fi
# short-iso-precise with --utc: "2026-12-06T04:05:06.123456+00:00 host ident[pid]: message", so a plain
# sort on the first field is a sort by time across nodes (the host name is the node's name).
journal=(journalctl --no-pager --utc -o short-iso-precise "${args[@]}")

if $follow; then
  trap 'kill 0' INT TERM EXIT
  for node in "${nodes[@]}"; do
    podman exec "$node" "${journal[@]}" &
  done
  wait
else
  for node in "${nodes[@]}"; do
    podman exec "$node" "${journal[@]}" | grep -v '^-- ' || true
  done | sort -s -k1,1
fi
