#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.cloudwatch_metric_alarms: many metric alarms in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_metric_alarms
short_description: Create, update or delete several CloudWatch metric alarms in one run
description:
  - Reads the named alarms once (DescribeAlarms) and writes (PutMetricAlarm) only those that differ
    from what is given, then deletes (DeleteAlarms) those listed in I(absent) that exist; reruns
    report changed=0.
  - The same job as one C(amazon.aws.cloudwatch_metric_alarm) task per alarm, in one Python process
    instead of one per alarm (a module run costs 0.7-1 s here, see docs/benchmarks.md).
  - Each alarm is given in the form DescribeAlarms returns it, in snake_case, so a play can compare
    what it wants with what its own read returned. Keys left out are neither compared nor sent.
  - Supports check mode. Takes the same connection options as every amazon.aws module, and
    C(module_defaults) C(group/aws) reaches it.
options:
  alarms:
    description:
      - The alarms that must exist as given; matched by C(alarm_name).
      - Keys are the snake_case names of PutMetricAlarm's parameters (C(alarm_description),
        C(namespace), C(metric_name), C(statistic), C(dimensions) as a list of C(name)/C(value),
        C(comparison_operator), C(threshold), C(period), C(evaluation_periods),
        C(treat_missing_data), C(alarm_actions), C(ok_actions), C(insufficient_data_actions)).
    type: list
    elements: dict
    default: []
  absent:
    description: Names of alarms that must not exist.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - The Stockroom authors
"""

EXAMPLES = r"""
- name: CPU alarm to a scaling policy, the old 5xx alarm gone
  stockroom.aws.cloudwatch_metric_alarms:
    alarms:
      - alarm_name: stockroom-prod-cpu-high
        alarm_description: Average CPU above 70 % - add one instance
        namespace: AWS/EC2
        metric_name: CPUUtilization
        statistic: Average
        dimensions: [{name: AutoScalingGroupName, value: stockroom-prod-app}]
        comparison_operator: GreaterThanThreshold
        threshold: 70.0
        period: 60
        evaluation_periods: 2
        treat_missing_data: missing
        alarm_actions: [arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:example]
    absent: [stockroom-prod-old-5xx]
"""

RETURN = r"""
written:
  description: Names of the alarms created or updated (or that would be, in check mode).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the alarms deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible.module_utils.common.dict_transformations import (
    camel_dict_to_snake_dict,
    snake_dict_to_camel_dict,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# DescribeAlarms and DeleteAlarms take at most 100 names per call.
_PAGE = 100


def stored(client: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """The named metric alarms as CloudWatch holds them, snake_case, by name."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), _PAGE):
        pages = client.get_paginator("describe_alarms").paginate(
            AlarmNames=names[start : start + _PAGE], AlarmTypes=["MetricAlarm"]
        )
        for alarm in pages.build_full_result().get("MetricAlarms", []):
            found[alarm["AlarmName"]] = camel_dict_to_snake_dict(alarm)
    return found


def differs(want: dict[str, Any], have: dict[str, Any] | None) -> bool:
    """Whether the stored alarm differs from the wanted one in any key the wanted one gives."""
    if have is None:
        return True
    # An empty list (no dimensions, no actions) may be left out of the answer altogether.
    return any(
        have.get(key, [] if isinstance(value, list) else None) != value
        for key, value in want.items()
    )


def put_params(want: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's parameters from the snake_case alarm (dimensions' keys included)."""
    params = snake_dict_to_camel_dict(want, capitalize_first=True)
    # The one parameter whose snake_case name does not camel-case back into PutMetricAlarm's.
    if "OkActions" in params:
        params["OKActions"] = params.pop("OkActions")
    return params


def ensure(
    client: Any, alarms: list[dict[str, Any]], absent: list[str], check_mode: bool
) -> dict[str, Any]:
    """Make the alarms match; returns the module result (changed, written, deleted)."""
    wanted = [normalised(a) for a in alarms]
    have = stored(client, [a["alarm_name"] for a in wanted] + list(absent))
    written = [a for a in wanted if differs(a, have.get(a["alarm_name"]))]
    deleted = [name for name in absent if name in have]
    if not check_mode:
        for alarm in written:
            client.put_metric_alarm(aws_retry=True, **put_params(alarm))
        for start in range(0, len(deleted), _PAGE):
            client.delete_alarms(aws_retry=True, AlarmNames=deleted[start : start + _PAGE])
    return {
        "changed": bool(written or deleted),
        "written": [a["alarm_name"] for a in written],
        "deleted": deleted,
    }


def normalised(alarm: dict[str, Any]) -> dict[str, Any]:
    """The alarm with the types CloudWatch answers with (a float threshold, integer periods)."""
    if "alarm_name" not in alarm:
        raise ValueError("every alarm needs an alarm_name")
    out = dict(alarm)
    if "threshold" in out:
        out["threshold"] = float(out["threshold"])
    for key in ("period", "evaluation_periods", "datapoints_to_alarm"):
        if key in out:
            out[key] = int(out[key])
    return out


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "alarms": {"type": "list", "elements": "dict", "default": []},
            "absent": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(client, module.params["alarms"], module.params["absent"], module.check_mode)
    except (ValueError, TypeError, KeyError) as exc:
        module.fail_json(msg=f"alarms: {exc}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not write the CloudWatch alarms")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
