#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.iam_role_policies: a role's inline policies in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_role_policies
short_description: Write several inline policies of one IAM role in one run
description:
  - Reads each named inline policy of the role (GetRolePolicy) and writes (PutRolePolicy) only those
    whose document differs, compared the way C(amazon.aws.iam_policy) compares them (statement,
    action and principal order, and a one-element list against a plain string, do not count).
    Reruns report changed=0.
  - The same job as one C(amazon.aws.iam_policy) task per policy, in one Python process instead of
    one per policy (a module run costs 0.7-1 s here, see docs/benchmarks.md).
  - Inline policies not named in I(policies) are left as they are (deleting the role deletes them).
  - Supports check mode. Takes the same connection options as every amazon.aws module, and
    C(module_defaults) C(group/aws) reaches it.
options:
  role_name:
    description: The role (it must exist).
    type: str
    required: true
  policies:
    description: Policy documents by inline policy name.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - The Stockroom authors
"""

EXAMPLES = r"""
- name: The app role may publish to one topic
  stockroom.aws.iam_role_policies:
    role_name: stockroom-prod-app
    policies:
      publish-stock-events:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: sns:Publish
            Resource: arn:aws:sns:eu-west-1:123456789012:stockroom-prod-stock
"""

RETURN = r"""
written:
  description: Names of the policies created or updated (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import json
from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def stored(client: Any, role: str, name: str) -> dict[str, Any] | None:
    """The inline policy's document as IAM holds it, or None when the role has no such policy."""
    try:
        return client.get_role_policy(aws_retry=True, RoleName=role, PolicyName=name)[
            "PolicyDocument"
        ]
    except is_boto3_error_code("NoSuchEntity"):
        return None


def ensure(
    client: Any,
    role: str,
    policies: dict[str, dict[str, Any]],
    check_mode: bool,
) -> dict[str, Any]:
    """Make the role's named inline policies match; returns the module result (changed, written)."""
    written = []
    for name, document in policies.items():
        have = stored(client, role, name)
        if have is None or compare_policies(have, document):
            written.append(name)
            if not check_mode:
                client.put_role_policy(
                    aws_retry=True,
                    RoleName=role,
                    PolicyName=name,
                    PolicyDocument=json.dumps(document),
                )
    return {"changed": bool(written), "written": written}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "role_name": {"type": "str", "required": True},
            "policies": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    params = module.params
    try:
        result = ensure(client, params["role_name"], params["policies"], module.check_mode)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(
            exc, msg=f"Could not write the inline policies of {params['role_name']}"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
