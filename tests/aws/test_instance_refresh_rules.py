"""The emulator's instance refresh (tests/aws/aws_rules.py) answers as AWS's API reference says."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from awsstack import AMI, Emulator
from botocore.exceptions import ClientError

_names = itertools.count()
ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress")


@pytest.fixture(autouse=True, scope="module")
def _remove_groups(emulator: Emulator) -> Iterator[None]:
    """The session's emulator is shared: the stack tests count every group in the region."""
    yield
    asg = emulator.client("autoscaling")
    for group in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if group["AutoScalingGroupName"].startswith("refresh-"):
            asg.delete_auto_scaling_group(
                AutoScalingGroupName=group["AutoScalingGroupName"], ForceDelete=True
            )


class Group:
    """A launch template with two versions (AMI a, AMI b) and a group of 3 pinned to version 1."""

    def __init__(self, emulator: Emulator, version: str = "1") -> None:
        self.asg = emulator.client("autoscaling")
        self.ec2 = emulator.client("ec2")
        self.cw = emulator.client("cloudwatch")
        self.name = f"refresh-{next(_names)}"
        self.old = AMI
        images = self.ec2.describe_images()["Images"]
        self.new = next(i["ImageId"] for i in images if i["ImageId"] != AMI)
        data: dict[str, Any] = {"ImageId": self.old, "InstanceType": "t3.micro"}
        self.ec2.create_launch_template(LaunchTemplateName=self.name, LaunchTemplateData=data)
        self.ec2.create_launch_template_version(
            LaunchTemplateName=self.name,
            SourceVersion="1",
            LaunchTemplateData={"ImageId": self.new},
        )
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=self.name,
            LaunchTemplate={"LaunchTemplateName": self.name, "Version": version},
            MinSize=3,
            MaxSize=5,
            DesiredCapacity=3,
            AvailabilityZones=["eu-west-1a"],
        )

    def start(self, **kw: Any) -> str:
        return self.asg.start_instance_refresh(AutoScalingGroupName=self.name, **kw)[
            "InstanceRefreshId"
        ]

    def describe(self) -> dict[str, Any]:
        return self.asg.describe_instance_refreshes(AutoScalingGroupName=self.name)[
            "InstanceRefreshes"
        ][0]

    def until_done(self) -> dict[str, Any]:
        for _ in range(20):
            refresh = self.describe()
            if refresh["Status"] not in (
                "Pending",
                "InProgress",
                "Cancelling",
                "RollbackInProgress",
            ):
                return refresh
        raise AssertionError(f"refresh still {refresh['Status']}")

    def images(self) -> list[str]:
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])
        ids = [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]
        reservations = self.ec2.describe_instances(InstanceIds=ids)["Reservations"]
        return sorted(i["ImageId"] for r in reservations for i in r["Instances"])

    def version(self) -> str:
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])
        return str(group["AutoScalingGroups"][0]["LaunchTemplate"]["Version"])

    def to_version_2(self, **prefs: Any) -> dict[str, Any]:
        return {
            "DesiredConfiguration": {
                "LaunchTemplate": {"LaunchTemplateName": self.name, "Version": "2"}
            },
            "Preferences": {"SkipMatching": True, **prefs},
        }


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_a_refresh_replaces_every_instance_and_saves_the_desired_version(
    emulator: Emulator,
) -> None:
    g = Group(emulator)
    rid = g.start(**g.to_version_2())
    assert g.describe()["InstanceRefreshId"] == rid
    done = g.until_done()
    assert (done["Status"], done["PercentageComplete"]) == ("Successful", 100)
    assert g.images() == [g.new] * 3
    assert g.version() == "2"


def test_only_one_refresh_at_a_time(emulator: Emulator) -> None:
    g = Group(emulator)
    g.start(**g.to_version_2())
    with pytest.raises(ClientError) as refused:
        g.start(**g.to_version_2())
    assert code_of(refused) == "InstanceRefreshInProgress"


def test_a_cancelled_refresh_leaves_replaced_instances_on_the_new_image(
    emulator: Emulator,
) -> None:
    g = Group(emulator)
    g.start(**g.to_version_2())
    g.describe()  # Pending -> InProgress
    g.describe()  # one instance replaced
    g.asg.cancel_instance_refresh(AutoScalingGroupName=g.name)
    assert g.until_done()["Status"] == "Cancelled"
    assert g.images() == sorted([g.old, g.old, g.new])
    assert g.version() == "1"
    with pytest.raises(ClientError) as none_active:
        g.asg.cancel_instance_refresh(AutoScalingGroupName=g.name)
    assert code_of(none_active) == "ActiveInstanceRefreshNotFound"


def test_a_rollback_replaces_the_replaced_instances_back(emulator: Emulator) -> None:
    g = Group(emulator)
    g.start(**g.to_version_2())
    g.describe()
    g.describe()
    g.describe()  # two replaced
    assert g.images() == sorted([g.old, g.new, g.new])
    g.asg.rollback_instance_refresh(AutoScalingGroupName=g.name)
    done = g.until_done()
    assert done["Status"] == "RollbackSuccessful"
    assert done["RollbackDetails"]["InstancesToUpdateOnRollback"] == 2
    assert g.images() == [g.old] * 3
    assert g.version() == "1"


def test_an_alarm_in_alarm_rolls_back_with_auto_rollback(emulator: Emulator) -> None:
    g = Group(emulator)
    g.cw.put_metric_alarm(
        AlarmName=f"{g.name}-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    alarms = {"AutoRollback": True, "AlarmSpecification": {"Alarms": [f"{g.name}-5xx"]}}
    g.start(**g.to_version_2(**alarms))
    g.describe()
    g.describe()
    g.cw.set_alarm_state(AlarmName=f"{g.name}-5xx", StateValue="ALARM", StateReason="test")
    done = g.until_done()
    assert done["Status"] == "RollbackSuccessful"
    assert "ALARM" in done["RollbackDetails"]["RollbackReason"]
    assert g.images() == [g.old] * 3


def test_no_rollback_for_a_group_on_latest(emulator: Emulator) -> None:
    g = Group(emulator, version="$Latest")
    with pytest.raises(ClientError) as refused:
        g.start(**g.to_version_2(AutoRollback=True))
    assert code_of(refused) == "ValidationError"
    g.start(**g.to_version_2())
    g.describe()
    with pytest.raises(ClientError) as irreversible:
        g.asg.rollback_instance_refresh(AutoScalingGroupName=g.name)
    assert code_of(irreversible) == "IrreversibleInstanceRefresh"


def test_a_version_made_from_a_source_version_inherits_its_parameters(emulator: Emulator) -> None:
    """What a release relies on: only the AMI changes in the new launch template version."""
    g = Group(emulator)
    data = g.ec2.describe_launch_template_versions(LaunchTemplateName=g.name, Versions=["2"])
    assert data["LaunchTemplateVersions"][0]["LaunchTemplateData"] == {
        "ImageId": g.new,
        "InstanceType": "t3.micro",
    }


def test_old_launch_template_versions_can_be_deleted_but_not_the_default(
    emulator: Emulator,
) -> None:
    """What teardown needs once releases made several versions."""
    g = Group(emulator)
    g.ec2.modify_launch_template(LaunchTemplateName=g.name, DefaultVersion="2")
    answer = g.ec2.delete_launch_template_versions(LaunchTemplateName=g.name, Versions=["1", "2"])
    assert [v["VersionNumber"] for v in answer["SuccessfullyDeletedLaunchTemplateVersions"]] == [1]
    assert [v["VersionNumber"] for v in answer["UnsuccessfullyDeletedLaunchTemplateVersions"]] == [
        2
    ]
    g.ec2.create_launch_template_version(
        LaunchTemplateName=g.name, SourceVersion="2", LaunchTemplateData={}
    )
    left = g.ec2.describe_launch_template_versions(LaunchTemplateName=g.name)
    assert sorted(v["VersionNumber"] for v in left["LaunchTemplateVersions"]) == [2, 3]
