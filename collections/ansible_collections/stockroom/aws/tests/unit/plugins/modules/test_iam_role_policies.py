"""stockroom.aws.iam_role_policies against a real moto server (in-process, free port)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.iam_role_policies import ensure

# The role's trust policy does not matter to the module; any valid one will do.
EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [EC2]})


def allow(action: str, resource: str | list[str]) -> dict[str, Any]:
    statement = {"Sid": "One", "Effect": "Allow", "Action": action, "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


POLICIES = {
    "publish": allow("sns:Publish", "arn:aws:sns:eu-west-1:123456789012:unit-stock"),
    "health": allow("autoscaling:SetInstanceHealth", ["arn:aws:autoscaling:eu-west-1:1:group"]),
}


@pytest.fixture()
def iam(aws_client: Callable[[str], Any], request: pytest.FixtureRequest) -> Any:
    client = aws_client("iam")
    client.client.create_role(RoleName=request.node.name[:60], AssumeRolePolicyDocument=TRUST)
    return client


def stored(iam: Any, role: str) -> dict[str, Any]:
    names = iam.client.list_role_policies(RoleName=role)["PolicyNames"]
    return {
        n: iam.client.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names
    }


def test_check_mode_reports_the_policies_and_writes_none(
    iam: Any, request: pytest.FixtureRequest
) -> None:
    role = request.node.name[:60]
    assert ensure(iam, role, POLICIES, check_mode=True) == {
        "changed": True,
        "written": ["publish", "health"],
    }
    assert stored(iam, role) == {}


def test_written_in_one_run_then_a_rerun_is_unchanged(
    iam: Any, request: pytest.FixtureRequest
) -> None:
    role = request.node.name[:60]
    assert ensure(iam, role, POLICIES, check_mode=False)["written"] == ["publish", "health"]
    assert stored(iam, role) == POLICIES
    # IAM may answer a one-element list as a plain string: no difference (compare_policies).
    same = {
        **POLICIES,
        "health": allow("autoscaling:SetInstanceHealth", "arn:aws:autoscaling:eu-west-1:1:group"),
    }
    assert ensure(iam, role, same, check_mode=False) == {"changed": False, "written": []}


def test_only_the_policy_that_differs_is_written_and_others_are_left(
    iam: Any, request: pytest.FixtureRequest
) -> None:
    role = request.node.name[:60]
    ensure(iam, role, POLICIES, check_mode=False)
    iam.client.put_role_policy(
        RoleName=role, PolicyName="publish", PolicyDocument=json.dumps(allow("sns:*", "*"))
    )
    iam.client.put_role_policy(
        RoleName=role, PolicyName="by-hand", PolicyDocument=json.dumps(allow("s3:List*", "*"))
    )
    assert ensure(iam, role, POLICIES, check_mode=False)["written"] == ["publish"]
    now = stored(iam, role)
    assert now["publish"] == POLICIES["publish"] and "by-hand" in now
