"""iam_role_differs and policy_differs: documents compared as amazon.aws compares them."""

from __future__ import annotations

from typing import Any

from ansible_collections.stockroom.aws.plugins.filter.iam import iam_role_differs, policy_differs

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
SSM = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
WANT: dict[str, Any] = {
    "name": "s-app",
    "description": "Stockroom app instances",
    "assume_role_policy_document": TRUST,
    "tags": {"Project": "stockroom"},
    "managed_policies": [SSM],
}
ROLE: dict[str, Any] = {
    "role_name": "s-app",
    "description": "Stockroom app instances",
    "assume_role_policy_document": TRUST,
    "tags": {"Project": "stockroom"},
}


def differs(role: dict[str, Any] | None, **kw: Any) -> bool:
    return iam_role_differs(role, WANT, kw.get("attached", [SSM]), kw.get("profiles", ["s-app"]))


def test_the_role_as_wanted_does_not_differ() -> None:
    assert differs(ROLE) is False


def test_a_missing_role_differs() -> None:
    assert differs(None) is True


def test_trust_policy_as_aws_may_return_it_is_the_same() -> None:
    listed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": ["sts:AssumeRole"],
                "Principal": {"Service": ["ec2.amazonaws.com"]},
                "Effect": "Allow",
            }
        ],
    }
    assert differs({**ROLE, "assume_role_policy_document": listed}) is False


def test_another_principal_description_tags_policies_or_profile_differ() -> None:
    other = {
        **TRUST,
        "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ecs.amazonaws.com"}}],
    }
    assert differs({**ROLE, "assume_role_policy_document": other}) is True
    assert differs({**ROLE, "description": "hand-edited"}) is True
    assert differs({**ROLE, "tags": {}}) is True
    assert differs(ROLE, attached=[SSM, "arn:aws:iam::aws:policy/AdministratorAccess"]) is True
    assert differs(ROLE, attached=[]) is True
    assert differs(ROLE, profiles=[]) is True


def test_policy_differs() -> None:
    wanted = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["a:B", "a:C"], "Resource": "arn:x"}],
    }
    reordered = {
        "Version": "2012-10-17",
        "Statement": [{"Resource": ["arn:x"], "Action": ["a:C", "a:B"], "Effect": "Allow"}],
    }
    assert policy_differs(reordered, wanted) is False
    assert policy_differs(None, wanted) is True
    widened = {**reordered, "Statement": [{**reordered["Statement"][0], "Resource": "*"}]}
    assert policy_differs(widened, wanted) is True
