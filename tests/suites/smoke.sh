#!/usr/bin/env bash
# Repository and toolchain smoke tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m pytest -q tests/smoke
