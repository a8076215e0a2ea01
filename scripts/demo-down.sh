#!/usr/bin/env bash
# make demo-down: removes everything `make demo` made — node and builder containers, the baked
# images, the HAProxy process, the database and its users, the state directory (secrets), and the
# demo's emulator (with everything recorded in it). Kept: MariaDB itself (shared, started by
# scripts/services.sh) and the Debian base image cache (scripts/base-image.sh; shared with Molecule).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export CONTAINERS_CONF="$PWD/molecule/containers.conf"

scripts/services.sh mariadb-up
ansible-playbook playbooks/fleet.yml -i inventory/local -e local_fleet_state=absent "$@"
scripts/demo-emulator.sh down
rm -f .run/demo-last.log
echo "demo-down: done"
