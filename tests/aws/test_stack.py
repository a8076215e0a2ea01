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


def test_drill_scales_out_to_max_and_back_with_alerts(emulator: Emulator, fresh: Run) -> None:
    """Issue 7, simulated trigger: the emulator never evaluates alarms (the drill says so)."""
    run = run_playbook(emulator, "playbooks/drill.yml")
    assert run.rc == 0, run.output[-5000:]
    TIMINGS["drill"] = {"seconds": round(run.seconds, 1)}
    report = json.loads((ROOT / "reports" / "drill-local.json").read_text())
    assert report["outcome"] == "passed" and report["mode"] == "simulated"
    steps = [(e["step"], e["observed"]) for e in report["timeline"]]
    executed = [o for s, o in steps if s.endswith("-scale-out executed")]
    assert executed == ["desired 3 -> 4", "desired 4 -> 5"]
    assert any(s.endswith("-scale-out refused") and "5 -> 6" in o for s, o in steps)
    at_max = next(o for s, o in steps if s == "after scale-out")
    assert (at_max["desired"], at_max["in_service"], at_max["healthy_targets"]) == (5, 5, 5)
    assert [o for s, o in steps if s.endswith("-scale-in executed")] == [
        "desired 5 -> 4",
        "desired 4 -> 3",
    ]
    messages = [o for s, o in steps if s == "SNS messages read from the queue"]
    assert [m["alarm"] for m in messages] == [3, 3], messages
    assert_drill_cleaned_up(emulator)


def test_a_failing_drill_still_cleans_up(emulator: Emulator, fresh: Run) -> None:
    # Pointing the scale-in step at the scale-out alarm makes it fail half-way, with the queue live.
    run = run_playbook(
        emulator, "playbooks/drill.yml", "-e", "aws_drill_low_alarm=stockroom-local-cpu-high"
    )
    assert run.rc != 0
    assert (
        "failed at 'Simulated | Fire the CPU-low alarm until the group is back at its min'"
        in run.output
    )
    assert_drill_cleaned_up(emulator)


def assert_drill_cleaned_up(emulator: Emulator) -> None:
    assert not [
        u for u in emulator.client("sqs").list_queues().get("QueueUrls", []) if "drill" in u
    ], "the drill's queue must be deleted"
    topic = checks.monitoring(emulator)["topic"]
    subs = emulator.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["email"], "the drill's subscription must be removed"
    group = emulator.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["stockroom-local-app"]
    )["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 3
    alarms = emulator.client("cloudwatch").describe_alarms(AlarmNamePrefix="stockroom-local-cpu")
    assert {a["StateValue"] for a in alarms["MetricAlarms"]} == {"OK"}


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
