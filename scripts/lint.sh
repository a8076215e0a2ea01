#!/usr/bin/env bash
# make lint: zero warnings tolerated.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "=== yamllint"; yamllint --strict .
echo "=== ruff"; ruff check . && ruff format --check .
echo "=== syntax-check"
for pb in site.yml playbooks/*.yml; do
  [ -f "$pb" ] || continue
  ansible-playbook --syntax-check -i inventory/local "$pb" >/dev/null
  echo "  ok $pb"
done
echo "=== ansible-lint (production profile)"; ansible-lint --strict
