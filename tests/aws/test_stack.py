"""site.yml against the emulator: create, check every property, rerun, --check, drill, teardown.

The tests run in file order and share one stack (module-scoped state).
"""

from __future__ import annotations

from typing import Any

import checks
import pytest
from awsstack import Emulator, Run, run_playbook

STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def fresh(emulator: Emulator) -> Run:
    # -vvv: every task's arguments and results are printed, so a leaked secret would show.
    run = run_playbook(emulator, "site.yml", "-vvv")
    assert run.rc == 0, run.output[-4000:]
    STATE["fresh_seconds"] = run.seconds
    return run


def test_fresh_run_creates_the_network(emulator: Emulator, fresh: Run) -> None:
    assert fresh.recap["changed"] > 0
    STATE["network"] = checks.network(emulator)


def test_rerun_changes_nothing(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap["changed"] == 0, run.output[-6000:]
    STATE["rerun_seconds"] = run.seconds


def test_check_mode_reports_no_changes(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "site.yml", "--check")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap["changed"] == 0, run.output[-6000:]
