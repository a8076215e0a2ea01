"""site.yml against the emulator: create, check every property, rerun, --check, teardown, crash.

The tests run in file order and share one emulator; each phase starts from what the previous left.
Timings go to reports/aws-timings.json (docs/benchmarks.md quotes them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import checks
import pytest
from awsstack import ROOT, Emulator, Run, base_args, playbook_env, run_playbook

TIMINGS: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def record_timings() -> Any:
    yield
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "aws-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="module")
def fresh(emulator: Emulator) -> Run:
    # -vvv: every task's arguments and results are printed, so a leaked secret would show.
    run = run_playbook(emulator, "site.yml", "-vvv")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["fresh"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    return run


def test_fresh_run_builds_the_whole_stack(emulator: Emulator, fresh: Run) -> None:
    assert fresh.recap["changed"] > 0
    net = checks.network(emulator)
    checks.database(emulator, net)
    checks.compute(emulator, net)
    checks.monitoring(emulator)


def test_the_db_password_never_appears_in_the_output(emulator: Emulator, fresh: Run) -> None:
    password = checks.secret_value(emulator)["password"]
    assert len(password) >= 32
    assert password not in fresh.output, "the DB password leaked into -vvv output"


def test_rerun_changes_nothing_and_keeps_the_password(emulator: Emulator, fresh: Run) -> None:
    before = checks.secret_value(emulator)
    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["rerun"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert run.recap["changed"] == 0, changed_tasks(run)
    assert checks.secret_value(emulator) == before, "the password must be generated only once"


def test_check_mode_reports_no_changes(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "site.yml", "--check")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["check"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert run.recap["changed"] == 0, changed_tasks(run)


def test_each_playbook_runs_alone(emulator: Emulator, fresh: Run) -> None:
    """Without the facts of earlier plays, each tier finds the others by tag and name."""
    for playbook in ("playbooks/database.yml", "playbooks/compute.yml", "playbooks/monitoring.yml"):
        run = run_playbook(emulator, playbook)
        assert run.rc == 0, run.output[-4000:]
        assert run.recap["changed"] == 0, (playbook, changed_tasks(run))


def test_teardown_removes_everything_and_twice_is_a_noop(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "playbooks/teardown.yml")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["teardown"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert checks.leftovers(emulator) == []
    again = run_playbook(emulator, "playbooks/teardown.yml")
    assert again.rc == 0, again.output[-4000:]
    assert again.recap["changed"] == 0, changed_tasks(again)


def test_a_run_killed_half_way_converges_without_duplicates(emulator: Emulator) -> None:
    proc = subprocess.Popen(
        base_args("site.yml"),
        cwd=ROOT,
        env=playbook_env(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    # Kill it in the middle of the database tier, right after the secret was stored.
    for line in proc.stdout:
        if "Secret | Store the master credentials" in line:
            time.sleep(1.5)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = checks.counts(emulator)
    assert partial["vpcs"] == 1 and partial["asgs"] == 0, partial

    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    expected = {
        "vpcs": 1,
        "subnets": 6,
        "security_groups": 4,
        "route_tables": 3,
        "internet_gateways": 1,
        "nat_gateways": 1,
        "addresses": 1,
        "db_instances": 1,
        "secrets": 1,
        "load_balancers": 1,
        "asgs": 1,
        "topics": 1,
    }
    assert checks.counts(emulator) == expected
    checks.network(emulator)

    down = run_playbook(emulator, "playbooks/teardown.yml")
    assert down.rc == 0, down.output[-4000:]
    assert checks.leftovers(emulator) == []


def changed_tasks(run: Run) -> str:
    """The tasks that reported a change, for a readable failure."""
    lines = run.output.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("changed:"):
            task = next((lines[j] for j in range(i, 0, -1) if lines[j].startswith("TASK [")), "?")
            out.append(f"{task} -> {line[:200]}")
    return "\n".join(out) or run.output[-3000:]
