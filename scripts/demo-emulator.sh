#!/usr/bin/env bash
# The demo's own AWS emulator (moto server on a free loopback port), kept apart from the one
# scripts/services.sh starts for the test suites.
#   demo-emulator.sh up     start it unless it runs; prints its URL
#   demo-emulator.sh down   stop it and remove its files
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.run/demo-emulator
mkdir -p "$dir"

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

case "${1:-}" in
  up)
    if ! running; then
      port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
      # moto plus the AWS rules it lacks (tests/aws/aws_rules.py), as in the AWS tests.
      MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup .venv/bin/python tests/aws/aws_rules.py --port "$port" \
        >"$dir/moto.log" 2>&1 &
      echo $! >"$dir/pid"
      echo "http://127.0.0.1:$port" >"$dir/url"
      for _ in $(seq 1 60); do
        curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
        sleep 0.5
      done
      curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null || { echo "demo: emulator did not start (see $dir/moto.log)" >&2; exit 1; }
      echo "demo: emulator started at $(cat "$dir/url")" >&2
    fi
    cat "$dir/url"
    ;;
  down)
    if running; then
      pid="$(cat "$dir/pid")"
      kill "$pid"
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
