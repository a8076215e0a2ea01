#!/usr/bin/env bash
# The AWS emulator of a Molecule scenario (create/destroy of the delegated platform):
#   emulator.sh start DIR   moto + the project's AWS rules (tests/aws/aws_rules.py) on a free loopback
#                           port; writes DIR/emulator_url (read by inventory/group_vars) and DIR/emulator.pid
#   emulator.sh stop DIR    stops that process (by its pid), removes both files
# DIR is the scenario's ephemeral directory, so scenarios run in parallel each with their own emulator.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
action="$1" dir="$2"
case "$action" in
  start)
    mkdir -p "$dir"
    port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # setsid: the emulator outlives the create playbook's task.
    MOTO_IAM_LOAD_MANAGED_POLICIES=true setsid "$root/.venv/bin/python" "$root/tests/aws/aws_rules.py" \
      --port "$port" >"$dir/emulator.log" 2>&1 </dev/null &
    echo $! >"$dir/emulator.pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 150); do
      if curl -fsS -o /dev/null "$url/moto-api/"; then
        echo "$url" >"$dir/emulator_url"
        echo "emulator on $url (pid $(cat "$dir/emulator.pid"))"
        exit 0
      fi
      kill -0 "$(cat "$dir/emulator.pid")" 2>/dev/null || break
      sleep 0.2
    done
    echo "the emulator did not start, see $dir/emulator.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/emulator.pid" ]; then
      pid=$(cat "$dir/emulator.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true  # moto's server can take long to stop; its state is thrown away anyway
      rm -f "$dir/emulator.pid"
    fi
    rm -f "$dir/emulator_url"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
