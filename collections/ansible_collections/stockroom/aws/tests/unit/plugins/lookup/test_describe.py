"""stockroom.aws.describe against a real moto server (in-process, free port, IAM auth on).

The lookup is evaluated the way the roles write it - through the templar, with the project's one
connection dict `aws_connection` from group_vars/all.yml - so what the roles see is what is tested.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from moto import settings as moto_settings
from moto.iam import responses as iam_responses
from moto.iam.exceptions import IAMException
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[8]
ROLE = "stockroom-unit-app"
READ_ROLES = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


class Account:
    """Users and a role made with auth off; then moto checks every request's credentials."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        root = {"aws_access_key_id": "root", "aws_secret_access_key": "root"}
        iam = boto3.client("iam", region_name="eu-west-1", endpoint_url=url, **root)
        sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=url, **root)
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.put_role_policy(
            RoleName="reader", PolicyName="read", PolicyDocument=json.dumps(READ_ROLES)
        )
        self.keys = {}
        for user, policy in (("nobody", None), ("ops", READ_ROLES)):
            iam.create_user(UserName=user)
            if policy:
                iam.put_user_policy(
                    UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy)
                )
            key = iam.create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = (key["AccessKeyId"], key["SecretAccessKey"], None)
        creds = sts.assume_role(
            RoleArn="arn:aws:iam::123456789012:role/reader", RoleSessionName="unit"
        )["Credentials"]
        self.keys["assumed"] = (
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            creds["SessionToken"],
        )
        self.keys["default"] = self.keys["nobody"]
        self.keys["root"] = ("root", "root", None)
        lines = []
        for name, (key_id, secret, token) in self.keys.items():
            lines += [
                f"[{name}]",
                f"aws_access_key_id = {key_id}",
                f"aws_secret_access_key = {secret}",
            ]
            if token:
                lines.append(f"aws_session_token = {token}")
        self.credentials = home / "credentials"
        self.credentials.write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def credentials(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the test's credentials file: no keys in the environment, no profile chosen."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(account.credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(account.credentials.with_name("config")))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield Account(f"http://127.0.0.1:{port}", tmp_path_factory.mktemp("aws"))
    finally:
        server.stop()


@pytest.fixture
def as_user(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    """Requests now need valid credentials; the default profile is that of `nobody`."""
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield account


def read_role(account: Account, role: str, **variables: Any) -> Any:
    """The role as the roles read it: lookup(..., missing='none', **aws_connection)."""
    loader = DataLoader()
    project = loader.load_from_file(str(ROOT / "group_vars/all.yml"), trusted_as_template=True)
    variables = {
        "aws_region": "eu-west-1",
        "aws_endpoint_url": account.url,
        **project,
        **variables,
    }
    templar = Templar(loader=loader, variables=variables)
    # What a play's lazy variables do: the dict's own templates resolved first.
    variables["aws_connection"] = templar.template(variables["aws_connection"])
    templar = Templar(loader=loader, variables=variables)
    variables["role_name"] = role
    templar = Templar(loader=loader, variables=variables)
    expression = (
        "{{ lookup('stockroom.aws.describe', 'iam', 'get_role', params={'RoleName': role_name},"
        " missing='none', **aws_connection) }}"
    )
    return templar.template(trust_as_template(expression))


def test_access_denied_fails_the_run_instead_of_reading_as_missing(as_user: Account) -> None:
    with pytest.raises(AnsibleError, match="AccessDenied"):
        read_role(as_user, ROLE)


def test_a_profile_given_to_the_modules_reaches_the_reads(as_user: Account) -> None:
    role = read_role(as_user, ROLE, aws_profile="ops")
    assert role["role"]["role_name"] == ROLE


def test_an_assumed_role_session_token_reaches_the_reads(as_user: Account) -> None:
    role = read_role(as_user, ROLE, aws_profile="assumed")
    assert role["role"]["role_name"] == ROLE


def test_a_missing_resource_reads_as_none(as_user: Account) -> None:
    assert read_role(as_user, "no-such-role", aws_profile="ops") is None


class Throttling(IAMException):
    code = "Throttling"


def test_throttling_is_retried_like_the_modules(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More throttled answers than botocore's own retries take: AWSRetry waits and tries again."""
    original = iam_responses.IamResponse.get_role
    calls = {"n": 0}

    def throttled(self: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 6:
            raise Throttling("Rate exceeded")
        return original(self)

    monkeypatch.setattr(iam_responses.IamResponse, "get_role", throttled)
    role = read_role(account, ROLE, aws_profile="root")
    assert role["role"]["role_name"] == ROLE
    assert calls["n"] == 7
