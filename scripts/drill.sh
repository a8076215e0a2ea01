#!/usr/bin/env bash
# make drill: the scaling drill on the emulator (simulated trigger, see docs/aws.md).
# Starts the emulator if needed, makes sure the stack exists (site.yml is idempotent, so an existing
# stack costs one quick pass), then runs playbooks/drill.yml. The real-AWS drill:
#   ansible-playbook playbooks/drill.yml -i inventory/aws
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
# Dummy credentials for the emulator, unless the caller has some.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
scripts/services.sh moto-up
export STOCKROOM_AWS_ENDPOINT="$(cat .run/moto.url)"
# An AMI the emulator knows, unless one was given (the bake is image.yml's business).
ami="${STOCKROOM_AMI_ID:-ami-03cf127a}"
echo "drill: making sure the stack exists on $STOCKROOM_AWS_ENDPOINT"
ansible-playbook -i inventory/local site.yml -e "stockroom_ami_id=$ami" -e stockroom_local_fleet=false >.run/drill-site.log 2>&1 \
  || { tail -40 .run/drill-site.log; echo "drill: site.yml failed (full log: .run/drill-site.log)" >&2; exit 1; }
echo "drill: running playbooks/drill.yml (simulated trigger)"
exec ansible-playbook -i inventory/local playbooks/drill.yml
