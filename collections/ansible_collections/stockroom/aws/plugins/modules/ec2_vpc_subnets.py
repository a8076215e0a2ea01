#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.ec2_vpc_subnets: create a VPC's missing subnets in one run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_vpc_subnets
short_description: Create the missing subnets of a VPC in one run
description:
  - For each subnet given, looks for a subnet with that CIDR in the VPC; creates the missing ones
    (CreateSubnet with their tags), then waits until every new subnet is available. Reruns report
    changed=0.
  - A subnet that exists is left as it is, whatever its tags or attributes; repair one that differs
    with C(amazon.aws.ec2_vpc_subnet) (the Stockroom network role does).
  - New subnets get AWS's defaults for a non-default VPC - no public IP on launch, no IPv6.
  - Why a module of its own - a new stack has six subnets, and one C(amazon.aws.ec2_vpc_subnet) run
    each costs a Python process of 0.7-1 s here (docs/benchmarks.md); this is one.
  - Supports check mode. Takes the same connection options as every amazon.aws module, and
    C(module_defaults) C(group/aws) reaches it.
options:
  vpc_id:
    description: The VPC.
    type: str
    required: true
  subnets:
    description: The subnets the VPC must have.
    type: list
    elements: dict
    required: true
    suboptions:
      cidr:
        description: The subnet's IPv4 CIDR block.
        type: str
        required: true
      az:
        description: Its availability zone.
        type: str
        required: true
      tags:
        description: Tags of a new subnet.
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
- name: Two public subnets
  stockroom.aws.ec2_vpc_subnets:
    vpc_id: vpc-0123456789abcdef0
    subnets:
      - {cidr: 10.40.0.0/24, az: eu-west-1a, tags: {Name: stockroom-public-a}}
      - {cidr: 10.40.1.0/24, az: eu-west-1b, tags: {Name: stockroom-public-b}}
"""

RETURN = r"""
subnets:
  description: Every subnet given, in order, with its id (none where check mode would create it).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The subnet id.
      type: str
    cidr_block:
      description: Its CIDR block.
      type: str
    availability_zone:
      description: Its zone.
      type: str
    created:
      description: Whether this run created it (or would, in check mode).
      type: bool
"""

from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
)


def existing(client: Any, vpc_id: str) -> dict[str, dict[str, Any]]:
    """The VPC's subnets by CIDR block."""
    pages = client.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    return {s["CidrBlock"]: s for s in pages.build_full_result().get("Subnets", [])}


def ensure(
    client: Any, vpc_id: str, subnets: list[dict[str, Any]], check_mode: bool
) -> dict[str, Any]:
    """Create the subnets that are missing; returns the module result (changed, subnets)."""
    have = existing(client, vpc_id)
    result = []
    for want in subnets:
        found = have.get(want["cidr"])
        if found is None and not check_mode:
            found = client.create_subnet(
                aws_retry=True,
                VpcId=vpc_id,
                CidrBlock=want["cidr"],
                AvailabilityZone=want["az"],
                TagSpecifications=[
                    {"ResourceType": "subnet", "Tags": ansible_dict_to_boto3_tag_list(want["tags"])}
                ],
            )["Subnet"]
        result.append(
            {
                "id": found["SubnetId"] if found else None,
                "cidr_block": want["cidr"],
                "availability_zone": found["AvailabilityZone"] if found else want["az"],
                "created": want["cidr"] not in have,
            }
        )
    made = [s["id"] for s in result if s["created"] and s["id"]]
    if made:
        client.get_waiter("subnet_available").wait(SubnetIds=made)
    return {"changed": any(s["created"] for s in result), "subnets": result}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "vpc_id": {"type": "str", "required": True},
            "subnets": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "cidr": {"type": "str", "required": True},
                    "az": {"type": "str", "required": True},
                    "tags": {"type": "dict", "default": {}},
                },
            },
        },
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    params = module.params
    try:
        result = ensure(client, params["vpc_id"], params["subnets"], module.check_mode)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"Could not create the subnets of {params['vpc_id']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
