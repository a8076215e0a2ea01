#!/usr/bin/env bash
# make demo: MariaDB (the RDS stand-in) + the AWS emulator + site.yml on inventory/local.
# Ends with a 3-node fleet behind HAProxy on http://127.0.0.1:8080 and prints how to log in.
# The emulator keeps running afterwards so it can be inspected; `make demo-down` removes it all.
# Extra arguments go to ansible-playbook (e.g. -v, --check).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
# podman settings this machine needs (runc, ulimits); the connection plugin inherits them too.
export CONTAINERS_CONF="$PWD/molecule/containers.conf"
# The emulator accepts any credentials; real ones are never needed (or used) here.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-stockroom-demo}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-stockroom-demo}"

scripts/services.sh mariadb-up
# The demo has its own emulator (not services.sh's), so test runs that stop theirs leave it alone.
STOCKROOM_AWS_ENDPOINT="$(scripts/demo-emulator.sh up)"
export STOCKROOM_AWS_ENDPOINT

start=$(date +%s)
ansible-playbook site.yml -i inventory/local "$@" | tee .run/demo-last.log
echo
echo "demo: site.yml took $(($(date +%s) - start)) s (full output in .run/demo-last.log)"
# The fleet play's summary (URL, admin user, where the password is, what the emulator holds) again at the end.
sed -n '/Show how to reach the fleet/,/^}/p' .run/demo-last.log | sed -n 's/^ *"\(.*\)",\{0,1\}$/  \1/p'
echo "  make demo-down removes everything the demo made"
