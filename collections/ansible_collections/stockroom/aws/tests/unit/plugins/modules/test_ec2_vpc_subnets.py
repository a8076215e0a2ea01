"""stockroom.aws.ec2_vpc_subnets against a real moto server (in-process, free port)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.ec2_vpc_subnets import ensure

WANTED = [
    {
        "cidr": "10.9.0.0/24",
        "az": "eu-west-1a",
        "tags": {"Name": "unit-public-a", "Tier": "public"},
    },
    {
        "cidr": "10.9.1.0/24",
        "az": "eu-west-1b",
        "tags": {"Name": "unit-public-b", "Tier": "public"},
    },
]


@pytest.fixture()
def ec2(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("ec2")


@pytest.fixture()
def vpc_id(ec2: Any) -> str:
    return str(ec2.client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"])


def subnets(ec2: Any, vpc_id: str) -> dict[str, dict[str, Any]]:
    found = ec2.client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {s["CidrBlock"]: s for s in found["Subnets"]}


def test_check_mode_reports_the_subnets_and_creates_none(ec2: Any, vpc_id: str) -> None:
    result = ensure(ec2, vpc_id, WANTED, check_mode=True)
    assert result["changed"] is True
    assert [(s["id"], s["created"]) for s in result["subnets"]] == [(None, True), (None, True)]
    assert subnets(ec2, vpc_id) == {}


def test_missing_subnets_are_made_available_with_their_tags_then_left(
    ec2: Any, vpc_id: str
) -> None:
    first = ensure(ec2, vpc_id, WANTED, check_mode=False)
    made = subnets(ec2, vpc_id)
    assert [s["id"] for s in first["subnets"]] == [made[w["cidr"]]["SubnetId"] for w in WANTED]
    public_b = made["10.9.1.0/24"]
    assert public_b["State"] == "available" and public_b["AvailabilityZone"] == "eu-west-1b"
    assert {t["Key"]: t["Value"] for t in public_b["Tags"]} == WANTED[1]["tags"]
    assert public_b["MapPublicIpOnLaunch"] is False
    again = ensure(ec2, vpc_id, WANTED, check_mode=False)
    assert again["changed"] is False
    assert [s["id"] for s in again["subnets"]] == [s["id"] for s in first["subnets"]]


def test_only_the_missing_one_is_created_and_an_existing_one_is_not_touched(
    ec2: Any, vpc_id: str
) -> None:
    kept = ec2.client.create_subnet(
        VpcId=vpc_id, CidrBlock="10.9.0.0/24", AvailabilityZone="eu-west-1a"
    )
    result = ensure(ec2, vpc_id, WANTED, check_mode=False)
    assert [s["created"] for s in result["subnets"]] == [False, True]
    assert result["subnets"][0]["id"] == kept["Subnet"]["SubnetId"]
    # Its tags are ec2_vpc_subnet's to put back (the role runs it for a subnet that differs).
    assert subnets(ec2, vpc_id)["10.9.0.0/24"].get("Tags", []) == []
