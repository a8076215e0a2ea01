#!/usr/bin/env bash
# make lint: zero warnings tolerated.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
echo "=== yamllint"; yamllint --strict .
echo "=== ruff"; ruff check . && ruff format --check .
# ansible-lint's syntax-check rule runs `ansible-playbook --syntax-check` on site.yml and every playbook
# (a loop of our own doing the same again cost 11 CPU-s).
echo "=== ansible-lint (production profile, syntax-check included)"; ansible-lint --strict
