# Stockroom — every command a user or CI needs. Each target installs what it is
# missing first (scripts/bootstrap.sh is idempotent and fast when all is there).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help setup demo demo-down test lint test-smoke test-app test-molecule test-aws test-e2e bench-app drill images clean logs

help: ## list every target with what it does
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## install Debian packages, the virtualenv and the app (idempotent)
	@scripts/bootstrap.sh

demo: setup ## emulator + site.yml on inventory/local: a 3-node fleet behind HAProxy on :8080
	@scripts/demo.sh

demo-down: setup ## remove everything make demo created
	@scripts/demo-down.sh

test: setup ## every suite; non-zero when anything fails
	@scripts/test-all.sh

lint: setup ## ansible-lint (production), yamllint, ruff, syntax-check
	@scripts/lint.sh

test-smoke: setup ## repository and toolchain smoke tests
	@scripts/test-suite.sh smoke

test-app: setup ## app tests on real MariaDB (+ schemathesis, Chromium)
	@scripts/test-suite.sh app

test-molecule: setup ## molecule test for every scenario (podman + systemd)
	@scripts/test-suite.sh molecule

test-aws: setup ## site.yml against the AWS emulator, idempotence, teardown, drill
	@scripts/test-suite.sh aws

test-e2e: setup ## local fleet: load balancer, rolling release, node failure
	@scripts/test-suite.sh e2e

bench-app: setup ## gunicorn + MariaDB benchmark vs a raw PyMySQL baseline
	@scripts/bench-app.sh

drill: setup ## scaling drill on the emulator (simulated trigger)
	@scripts/drill.sh

images: setup ## the project's AMIs, newest first, current/previous marked (ARGS='-i inventory/local' for the emulator)
	@ansible-playbook playbooks/images.yml $(ARGS)

logs: ## the local fleet's journals merged by time (ARGS='-u stockroom --since -10min'; ARGS=-f follows)
	@scripts/logs.sh $(ARGS)

clean: ## remove caches (not .venv)
	rm -rf .run .pytest_cache .ruff_cache reports
