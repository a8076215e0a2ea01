#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.secretsmanager_secrets: several string secrets in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: secretsmanager_secrets
short_description: Create or update several Secrets Manager string secrets in one run
description:
  - For each secret given, creates it when it is missing; otherwise writes only what differs - the
    description and the value (UpdateSecret; a new value becomes the current version) and the tags
    (TagResource, UntagResource for keys not given). Reruns report changed=0.
  - A secret scheduled for deletion is restored first (RestoreSecret), then compared like any other.
  - The same job as one C(community.aws.secretsmanager_secret) task per secret (its options
    C(name), C(description), C(secret) with C(secret_type=string), C(tags)), in one Python process
    instead of one per secret (a module run costs 0.7-1 s here, see docs/benchmarks.md).
  - Values are never returned; the task should still set C(no_log).
  - Supports check mode. Takes the same connection options as every amazon.aws module, and
    C(module_defaults) C(group/aws) reaches it.
options:
  secrets:
    description: The secrets that must exist as given.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The secret's name.
        type: str
        required: true
      description:
        description: Its description.
        type: str
        default: ""
      value:
        description: Its value (SecretString).
        type: str
        required: true
      tags:
        description: Its tags; keys not given are removed.
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
- name: Two secrets of the app
  stockroom.aws.secretsmanager_secrets:
    secrets:
      - {name: stockroom-prod/secret-key, description: Flask secret key, value: "{{ key }}"}
      - {name: stockroom-prod/first-admin, description: First admin's password, value: "{{ pw }}"}
  no_log: true
"""

RETURN = r"""
secrets:
  description: Every secret given, in order (never its value).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The secret's name.
      type: str
    arn:
      description: Its ARN (none for one that check mode would create).
      type: str
    changed:
      description: Whether this run created or changed it (or would, in check mode).
      type: bool
"""

from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)


def described(client: Any, name: str) -> dict[str, Any] | None:
    """DescribeSecret's answer, or None when there is no such secret."""
    try:
        return dict(client.describe_secret(aws_retry=True, SecretId=name))
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def ensure_one(client: Any, want: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Make one secret match; returns its name, ARN and whether it changed."""
    name = want["name"]
    have = described(client, name)
    if have is None:
        arn = None
        if not check_mode:
            arn = client.create_secret(
                aws_retry=True,
                Name=name,
                Description=want["description"],
                SecretString=want["value"],
                Tags=ansible_dict_to_boto3_tag_list(want["tags"]),
            )["ARN"]
        return {"name": name, "arn": arn, "changed": True}
    changed = False
    if "DeletedDate" in have:
        changed = True
        if check_mode:  # a secret scheduled for deletion cannot be read; it would be restored
            return {"name": name, "arn": have["ARN"], "changed": True}
        client.restore_secret(aws_retry=True, SecretId=name)
    # One UpdateSecret for both (a new value becomes the current version), as community.aws does.
    update = {}
    if have.get("Description", "") != want["description"]:
        update["Description"] = want["description"]
    if client.get_secret_value(aws_retry=True, SecretId=name).get("SecretString") != want["value"]:
        update["SecretString"] = want["value"]
    if update:
        changed = True
        if not check_mode:
            client.update_secret(aws_retry=True, SecretId=name, **update)
    tags = boto3_tag_list_to_ansible_dict(have.get("Tags", []))
    add, remove = compare_aws_tags(tags, want["tags"], purge_tags=True)
    if add or remove:
        changed = True
        if not check_mode and add:
            client.tag_resource(
                aws_retry=True, SecretId=name, Tags=ansible_dict_to_boto3_tag_list(add)
            )
        if not check_mode and remove:
            client.untag_resource(aws_retry=True, SecretId=name, TagKeys=remove)
    return {"name": name, "arn": have["ARN"], "changed": changed}


def ensure(client: Any, secrets: list[dict[str, Any]], check_mode: bool) -> dict[str, Any]:
    """Make every secret match; returns the module result (changed, secrets)."""
    results = [ensure_one(client, want, check_mode) for want in secrets]
    return {"changed": any(r["changed"] for r in results), "secrets": results}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "secrets": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "description": {"type": "str", "default": ""},
                    "value": {"type": "str", "required": True, "no_log": True},
                    "tags": {"type": "dict", "default": {}},
                },
            },
        },
        supports_check_mode=True,
    )
    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(client, module.params["secrets"], module.check_mode)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not write the secrets")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
