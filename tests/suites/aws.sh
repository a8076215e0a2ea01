#!/usr/bin/env bash
# AWS provisioning against the emulator (moto server started and stopped by the tests):
# the stockroom.aws plugins' unit tests, input validation, site.yml, properties through boto3, idempotence, --check, drill, teardown.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/aws \
  collections/ansible_collections/stockroom/aws/tests/unit "$@"
