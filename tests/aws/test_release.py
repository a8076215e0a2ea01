"""playbooks/release.yml on the emulator: a guarded release, and rollbacks that really roll back.

The emulator runs instance refreshes as AWS documents them (aws_rules.py): one instance replaced
per DescribeInstanceRefreshes, auto rollback when an alarm of the refresh goes to ALARM. A
watcher thread plays the outside world: it sets the 5xx alarm to ALARM (or cancels the refresh)
as soon as the first instance runs the new image, so each rollback has an instance to put back.
The tests run in file order on their own emulator and stack.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from awsstack import AMI, NAME, Emulator, Run, emulator_server, run_playbook

GROUP = f"{NAME}-app"
ALARM = f"{NAME}-alb-5xx"
FAST = ("-e", "release_poll_interval=0.3")
# Slow enough for the watcher to act between two steps of the refresh.
WATCHED = ("-e", "release_poll_interval=2")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_server(tmp_path_factory.mktemp("release") / "moto.log") as emu:
        run = run_playbook(emu, "site.yml", timeout=900)
        assert run.rc == 0, run.output[-4000:]
        yield emu


@pytest.fixture(scope="module")
def images(stack: Emulator) -> list[str]:
    """Two more AMIs of the emulator's own, for the releases."""
    ids = sorted(i["ImageId"] for i in stack.client("ec2").describe_images()["Images"])
    return [i for i in ids if i != AMI][:2]


def running(emu: Emulator, group: str = GROUP) -> list[str]:
    """The images the group's instances run, sorted."""
    found = emu.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    ids = [i["InstanceId"] for i in found["AutoScalingGroups"][0]["Instances"]]
    found = emu.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return sorted(i["ImageId"] for r in found for i in r["Instances"])


@contextlib.contextmanager
def once_replaced(emu: Emulator, group: str, image: str, act: Callable[[], Any]) -> Iterator[None]:
    """Run `act` once the first instance of `group` runs `image` (the refresh is under way)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            if image in running(emu, group):
                act()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


def launched(emu: Emulator, group: str = GROUP) -> str:
    """The image of the launch template version the group launches."""
    found = emu.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    spec = found["AutoScalingGroups"][0]["LaunchTemplate"]
    assert spec["Version"].isdigit(), spec  # AWS rolls back only a numbered version
    version = emu.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=spec["LaunchTemplateName"], Versions=[spec["Version"]]
    )["LaunchTemplateVersions"][0]
    return str(version["LaunchTemplateData"]["ImageId"])


def versions(emu: Emulator) -> int:
    found = emu.client("ec2").describe_launch_template_versions(LaunchTemplateName=GROUP)
    return len(found["LaunchTemplateVersions"])


def during_release(emu: Emulator, image: str, act: Callable[[], Any]) -> Run:
    """release.yml of `image`; `act` runs once the first instance runs it."""
    with once_replaced(emu, GROUP, image, act):
        return run_playbook(
            emu, "playbooks/release.yml", "-e", f"stockroom_ami_id={image}", *WATCHED
        )


def test_site_yml_never_changes_the_running_image(stack: Emulator, images: list[str]) -> None:
    before = versions(stack)
    run = run_playbook(stack, "site.yml", "-e", f"stockroom_ami_id={images[0]}")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap["changed"] == 0, run.output[-4000:]
    assert f"release.yml -e stockroom_ami_id={images[0]}" in run.output
    assert (versions(stack), launched(stack), running(stack)) == (before, AMI, [AMI] * 3)


def test_a_release_replaces_every_instance(stack: Emulator, images: list[str]) -> None:
    run = run_playbook(stack, "playbooks/release.yml", "-e", f"stockroom_ami_id={images[0]}", *FAST)
    assert run.rc == 0, run.output[-4000:]
    assert f"runs {images[0]} (was {AMI})" in run.output
    assert (launched(stack), running(stack)) == (images[0], [images[0]] * 3)
    again = run_playbook(stack, "site.yml", "-e", f"stockroom_ami_id={images[0]}")
    assert (again.rc, again.recap["changed"]) == (0, 0), again.output[-4000:]


def test_a_release_whose_alarm_fires_is_rolled_back(stack: Emulator, images: list[str]) -> None:
    cloudwatch = stack.client("cloudwatch")

    def alarm() -> None:
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test: 5xx")

    try:
        run = during_release(stack, images[1], alarm)
    finally:
        cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="test: over")
    assert run.rc != 0
    assert f"{images[1]} was rolled back (Alarms {ALARM} are in ALARM state.)" in run.output
    assert f"launches {images[0]}" in run.output
    # The instance already replaced was replaced back; new launches use the previous version.
    assert (launched(stack), running(stack)) == (images[0], [images[0]] * 3)
    template = stack.client("ec2").describe_launch_templates(LaunchTemplateNames=[GROUP])
    default = template["LaunchTemplates"][0]["DefaultVersionNumber"]
    group = stack.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    assert str(default) == group["AutoScalingGroups"][0]["LaunchTemplate"]["Version"]


def test_a_cancelled_release_is_rolled_back(stack: Emulator, images: list[str]) -> None:
    autoscaling = stack.client("autoscaling")
    run = during_release(
        stack,
        images[1],
        lambda: autoscaling.cancel_instance_refresh(AutoScalingGroupName=GROUP),
    )
    assert run.rc != 0
    assert f"{images[1]} was rolled back (The instance refresh was cancelled.)" in run.output
    assert (launched(stack), running(stack)) == (images[0], [images[0]] * 3)


PARAMETERS = {"current": f"/{NAME}/ami/current", "previous": f"/{NAME}/ami/previous"}
NO_ID = ("-e", "stockroom_ami_id=")  # later than base_args' AMI: no id given


def test_without_an_ami_id_and_no_bake_yet_the_release_says_what_to_do(stack: Emulator) -> None:
    run = run_playbook(stack, "playbooks/release.yml", *NO_ID, *FAST)
    assert run.rc != 0
    assert f"the SSM parameter {PARAMETERS['current']} is not set" in " ".join(run.output.split())


def test_an_ami_id_given_wins_over_the_remembered_ones(stack: Emulator, images: list[str]) -> None:
    """With what two bakes leave in SSM (image_bake remember.yml, tested in test_bake.py), an id
    given still wins. (release.yml rolling out /current and rollback.yml going back to /previous
    with no id given are docs/aws.md's runbook steps, run by test_first_day.py.)"""
    ssm = stack.client("ssm")
    ssm.put_parameter(Name=PARAMETERS["previous"], Value=images[1], Type="String")
    ssm.put_parameter(Name=PARAMETERS["current"], Value=images[1], Type="String")
    assert running(stack) == [images[0]] * 3
    given = run_playbook(stack, "playbooks/rollback.yml", "-e", f"stockroom_ami_id={images[0]}")
    assert given.rc == 0 and f"runs {images[0]} (unchanged)" in given.output, given.output[-4000:]
    assert (launched(stack), running(stack)) == (images[0], [images[0]] * 3)


def test_teardown_after_releases(stack: Emulator) -> None:
    """The launch template now has several versions; teardown still removes everything."""
    run = run_playbook(stack, "playbooks/teardown.yml")
    assert run.rc == 0, run.output[-4000:]
    assert not stack.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )["AutoScalingGroups"]
