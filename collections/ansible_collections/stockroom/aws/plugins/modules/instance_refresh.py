#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.instance_refresh: a guarded release that really rolls back."""

from __future__ import annotations

DOCUMENTATION = r"""
module: instance_refresh
short_description: Roll a group onto a launch template version, rolling back on failure
description:
  - Starts an instance refresh of the group onto the numbered launch template version I(version)
    (a desired configuration, which amazon.aws.autoscaling_instance_refresh cannot give), with
    auto rollback and the CloudWatch alarms I(alarms) - AWS rolls the refresh back by itself when
    one of them goes to ALARM or the refresh fails - and waits until it has ended.
  - AWS rolls back only a group that uses a numbered version (not C($Latest) or C($Default)); a
    group on one of those is first pinned to the version it resolves to now (which changes nothing
    it launches).
  - A refresh that was cancelled (by an operator, half way) or did not end within I(timeout) is
    rolled back too - RollbackInstanceRefresh while it is active, otherwise a refresh back onto
    the group's previous version - so the instances already replaced are replaced back.
  - After a rollback the launch template's default version is the group's previous one again.
  - Returns C(outcome) C(released), C(unchanged) or C(rolled_back) and the reason; fails only when
    AWS could not roll back. Supports check mode (reports what it would start).
options:
  name:
    description: Name of the Auto Scaling group.
    type: str
    required: true
  version:
    description: The launch template version (a number) to roll out.
    type: str
    required: true
  min_healthy_percentage:
    description: Share of the group kept in service while instances are replaced.
    type: int
    default: 90
  instance_warmup:
    description: Seconds a new instance gets before it counts as healthy.
    type: int
    default: 120
  alarms:
    description: CloudWatch alarms that, in ALARM, fail the refresh (and roll it back).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the refresh (and again for a rollback).
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two reads of the refresh.
    type: float
    default: 30
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - The Stockroom authors
"""

EXAMPLES = r"""
- name: Roll out launch template version 7, rolling back when the 5xx alarm fires
  stockroom.aws.instance_refresh:
    name: stockroom-prod-app
    version: "7"
    alarms: [stockroom-prod-alb-5xx]
  register: release
"""

RETURN = r"""
outcome:
  description: C(released), C(unchanged) (the group already runs I(version)) or C(rolled_back).
  returned: always
  type: str
reason:
  description: Why the refresh was rolled back (AWS's status reason, or cancelled / timed out).
  returned: when rolled back
  type: str
previous_version:
  description: The numbered version the group ran before.
  returned: always
  type: str
instance_refresh_id:
  description: The refresh started (the rollback's refresh, when one had to be started).
  returned: when a refresh was started
  type: str
status:
  description: The final status of the refresh (Successful, RollbackSuccessful, ...).
  returned: when a refresh was started
  type: str
"""

import time
from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

TERMINAL = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")


class Refresh:
    """One group's refresh, read and steered through the Auto Scaling API."""

    def __init__(self, client: Any, group: str, poll: float, timeout: int) -> None:
        self.client, self.group, self.poll, self.timeout = client, group, poll, timeout

    def read_group(self) -> dict[str, Any]:
        found = self.client.describe_auto_scaling_groups(
            aws_retry=True, AutoScalingGroupNames=[self.group]
        )["AutoScalingGroups"]
        if not found or "LaunchTemplate" not in found[0]:
            raise LookupError(f"no Auto Scaling group {self.group} with a launch template")
        return found[0]

    def start(self, template: str, version: str, prefs: dict[str, Any]) -> str:
        return self.client.start_instance_refresh(
            aws_retry=True,
            AutoScalingGroupName=self.group,
            Strategy="Rolling",
            DesiredConfiguration={
                "LaunchTemplate": {"LaunchTemplateName": template, "Version": version}
            },
            Preferences=prefs,
        )["InstanceRefreshId"]

    def wait(self, refresh_id: str) -> dict[str, Any]:
        """The refresh once it has ended, or as it is when the timeout passed."""
        deadline = time.monotonic() + self.timeout
        while True:
            refresh = self.client.describe_instance_refreshes(
                aws_retry=True, AutoScalingGroupName=self.group, InstanceRefreshIds=[refresh_id]
            )["InstanceRefreshes"][0]
            if refresh["Status"] in TERMINAL or time.monotonic() > deadline:
                return refresh
            time.sleep(self.poll)


def resolve(ec2: Any, template: str, version: str) -> str:
    """A version as its number ($Latest and $Default resolved)."""
    found = ec2.describe_launch_template_versions(
        aws_retry=True, LaunchTemplateName=template, Versions=[version]
    )["LaunchTemplateVersions"]
    return str(found[0]["VersionNumber"])


def roll_back(
    refresh: Refresh, ec2: Any, ended: dict[str, Any], template: str, previous: str
) -> tuple[str, str]:
    """Put the group back on `previous`, replacing what the refresh replaced; (status, id)."""
    if ended["Status"] in ("Pending", "InProgress"):  # timed out: AWS's own rollback
        refresh.client.rollback_instance_refresh(aws_retry=True, AutoScalingGroupName=refresh.group)
        back = refresh.wait(ended["InstanceRefreshId"])
        status, refresh_id = back["Status"], back["InstanceRefreshId"]
    elif ended["Status"] in ("Cancelled", "Failed"):  # over: refresh back onto the old version
        refresh_id = refresh.start(template, previous, {"SkipMatching": True})
        back = refresh.wait(refresh_id)
        status = "RollbackSuccessful" if back["Status"] == "Successful" else back["Status"]
    else:
        status, refresh_id = ended["Status"], ended["InstanceRefreshId"]
    if status == "RollbackSuccessful":
        ec2.modify_launch_template(
            aws_retry=True, LaunchTemplateName=template, DefaultVersion=previous
        )
    return status, refresh_id


def release(module: AnsibleAWSModule, refresh: Refresh, ec2: Any) -> dict[str, Any]:
    p = module.params
    if not str(p["version"]).isdigit():
        module.fail_json(
            msg=f"version must be a launch template version number, got {p['version']}"
        )
    group = refresh.read_group()
    template = group["LaunchTemplate"]["LaunchTemplateName"]
    previous = resolve(ec2, template, group["LaunchTemplate"].get("Version") or "$Default")
    result: dict[str, Any] = {"previous_version": previous, "changed": previous != p["version"]}
    if previous == p["version"]:
        return {**result, "outcome": "unchanged"}
    if module.check_mode:
        return {**result, "outcome": "released"}
    if group["LaunchTemplate"].get("Version") != previous:
        # AWS rolls back only a group on a numbered version: pin it to what it launches now.
        refresh.client.update_auto_scaling_group(
            aws_retry=True,
            AutoScalingGroupName=refresh.group,
            LaunchTemplate={"LaunchTemplateName": template, "Version": previous},
        )
    prefs: dict[str, Any] = {
        "MinHealthyPercentage": p["min_healthy_percentage"],
        "InstanceWarmup": p["instance_warmup"],
        "SkipMatching": True,
        "AutoRollback": True,
    }
    if p["alarms"]:
        prefs["AlarmSpecification"] = {"Alarms": p["alarms"]}
    refresh_id = refresh.start(template, p["version"], prefs)
    ended = refresh.wait(refresh_id)
    if ended["Status"] == "Successful":
        done = {"status": "Successful", "instance_refresh_id": refresh_id}
        return {**result, "outcome": "released", **done}
    reason = ended.get("StatusReason") or ended["Status"]
    if ended["Status"] in ("Pending", "InProgress"):
        reason = f"not finished after {p['timeout']} s"
    status, back_id = roll_back(refresh, ec2, ended, template, previous)
    if status != "RollbackSuccessful":
        module.fail_json(
            msg=f"release of version {p['version']} to {refresh.group} failed ({reason}) and "
            f"the rollback to version {previous} ended {status}",
            **result,
        )
    back = {"reason": reason, "status": status, "instance_refresh_id": back_id}
    return {**result, "outcome": "rolled_back", **back}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "version": {"type": "str", "required": True},
            "min_healthy_percentage": {"type": "int", "default": 90},
            "instance_warmup": {"type": "int", "default": 120},
            "alarms": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "int", "default": 3600},
            "poll_interval": {"type": "float", "default": 30},
        },
        supports_check_mode=True,
    )
    retry = AWSRetry.jittered_backoff(catch_extra_error_codes=["ResourceContention"])
    client = module.client("autoscaling", retry_decorator=retry)
    ec2 = module.client("ec2", retry_decorator=retry)
    p = module.params
    refresh = Refresh(client, p["name"], p["poll_interval"], p["timeout"])
    try:
        result = release(module, refresh, ec2)
    except LookupError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"Could not refresh {p['name']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
