#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.cloudwatch_dashboard (amazon.aws has no dashboard module)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_dashboard
short_description: Create, update or delete a CloudWatch dashboard
description:
  - Writes the dashboard only when its body differs from what CloudWatch holds (compared as JSON, so
    key order and whitespace do not count), which keeps reruns at changed=0.
  - Supports check mode. Takes the same connection options as every amazon.aws module, and
    C(module_defaults) C(group/aws) reaches it.
options:
  name:
    description: Dashboard name (letters, digits, C(-) and C(_), up to 255 characters).
    type: str
    required: true
  body:
    description:
      - The dashboard body (a dict with C(widgets), see the CloudWatch dashboard body structure).
      - Required when I(state=present).
    type: dict
  state:
    description: Whether the dashboard should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - The Stockroom authors
"""

EXAMPLES = r"""
- name: One page for the fleet
  stockroom.aws.cloudwatch_dashboard:
    name: stockroom-prod
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: ALB requests
            region: eu-west-1
            metrics: [[AWS/ApplicationELB, RequestCount, LoadBalancer, app/stockroom/123]]
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard (absent when it was deleted or never created in check mode).
  returned: when the dashboard exists
  type: str
body:
  description: The body the dashboard has after the run.
  returned: when I(state=present)
  type: dict
"""

import json
from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def current_body(client: Any, name: str) -> dict[str, Any] | None:
    """The dashboard's body as CloudWatch holds it, or None when there is no such dashboard."""
    try:
        found = client.get_dashboard(aws_retry=True, DashboardName=name)
    except is_boto3_error_code("ResourceNotFound"):
        return None
    return json.loads(found["DashboardBody"])


def ensure(
    client: Any, name: str, body: dict[str, Any] | None, state: str, check_mode: bool
) -> dict[str, Any]:
    """Make the dashboard match; returns the module result (changed, dashboard_arn, body)."""
    have = current_body(client, name)
    if state == "absent":
        if have is not None and not check_mode:
            client.delete_dashboards(aws_retry=True, DashboardNames=[name])
        return {"changed": have is not None}
    # A JSON round trip gives the wanted body the shape CloudWatch returns (lists, not tuples).
    want = json.loads(json.dumps(body))
    changed = have != want
    if changed and not check_mode:
        answer = client.put_dashboard(
            aws_retry=True, DashboardName=name, DashboardBody=json.dumps(want)
        )
        problems = answer.get("DashboardValidationMessages") or []
        if problems:
            raise ValueError(
                "; ".join(f"{p.get('DataPath', '')}: {p.get('Message', '')}" for p in problems)
            )
    result: dict[str, Any] = {"changed": changed, "body": want}
    if have is not None or not check_mode:
        result["dashboard_arn"] = client.get_dashboard(aws_retry=True, DashboardName=name)[
            "DashboardArn"
        ]
    return result


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "body": {"type": "dict"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    params = module.params
    try:
        result = ensure(client, params["name"], params["body"], params["state"], module.check_mode)
    except ValueError as exc:
        module.fail_json(msg=f"CloudWatch refused dashboard {params['name']}: {exc}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"Could not manage dashboard {params['name']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
