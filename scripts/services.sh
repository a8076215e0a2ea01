#!/usr/bin/env bash
# Starts/stops the local services the tests and the demo need.
#   services.sh mariadb-up     start MariaDB on 127.0.0.1:3306 unless it already answers
#   services.sh moto-up        start the AWS emulator on a free loopback port (.run/moto.url)
#   services.sh moto-down      stop the emulator this script started
#   services.sh down           stop everything this script started (never a MariaDB it found running)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run

mariadb_alive() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot status >/dev/null 2>&1; }

mariadb_up() {
  if mariadb_alive; then return 0; fi
  echo "services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  touch .run/mariadb.started-by-us
  for _ in $(seq 1 60); do mariadb_alive && return 0; sleep 0.5; done
  echo "services: MariaDB did not answer on 127.0.0.1:3306 within 30 s" >&2
  return 1
}

mariadb_down() {
  if [ -f .run/mariadb.started-by-us ]; then
    start-stop-daemon --stop --oknodo --retry 30 --exec /usr/sbin/mariadbd || true
    rm -f .run/mariadb.started-by-us
  fi
}

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

moto_up() {
  if [ -f .run/moto.pid ] && kill -0 "$(cat .run/moto.pid)" 2>/dev/null; then return 0; fi
  port="${MOTO_PORT:-$(free_port)}"
  # moto plus the AWS rules it lacks (tests/aws/aws_rules.py), as in the AWS tests.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup .venv/bin/python tests/aws/aws_rules.py --port "$port" \
    >.run/moto.log 2>&1 &
  echo $! > .run/moto.pid
  echo "http://127.0.0.1:$port" > .run/moto.url
  for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && { echo "services: emulator at $(cat .run/moto.url)"; return 0; }
    sleep 0.5
  done
  echo "services: the AWS emulator did not start (see .run/moto.log)" >&2
  return 1
}

moto_down() {
  if [ -f .run/moto.pid ]; then
    kill "$(cat .run/moto.pid)" 2>/dev/null || true
    rm -f .run/moto.pid .run/moto.url
  fi
}

case "${1:-}" in
  mariadb-up) mariadb_up ;;
  mariadb-down) mariadb_down ;;
  moto-up) moto_up ;;
  moto-down) moto_down ;;
  down) moto_down; mariadb_down ;;
  *) echo "usage: $0 mariadb-up|mariadb-down|moto-up|moto-down|down" >&2; exit 2 ;;
esac
