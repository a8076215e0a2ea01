"""Bad inputs fail in the validation play, naming the variable, before any AWS call."""

from __future__ import annotations

import pytest
from awsstack import Emulator, run_playbook

CASES = [
    ("aws_network_vpc_cidr=10.0.0.0/33", "aws_network_vpc_cidr"),
    (
        '{"aws_network_alb_ingress_cidrs": ["0.0.0.0/0", "300.1.1.1/8"]}',
        "aws_network_alb_ingress_cidrs",
    ),
    ('{"aws_network_azs": ["eu-west-1a"]}', "aws_network_azs"),
    ("stockroom_domain=stock_example!", "stockroom_domain"),
    ("stockroom_hosted_zone_id=not-a-zone", "stockroom_hosted_zone_id"),
]


@pytest.mark.parametrize(("extra", "variable"), CASES, ids=[c[1] for c in CASES])
def test_bad_input_fails_before_touching_aws(emulator: Emulator, extra: str, variable: str) -> None:
    # A distinct environment name: anything created by mistake would be found by its tag.
    run = run_playbook(emulator, "site.yml", "-e", "stockroom_env=badinput", "-e", extra)
    assert run.rc != 0, run.output[-2000:]
    assert variable in run.output, run.output[-2000:]
    assert "PLAY [Stockroom network]" not in run.output, "the network play must not start"
    ec2 = emulator.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": ["badinput"]}])["Vpcs"]
    assert vpcs == [], "validation must fail before any resource is created"


def test_check_mode_on_a_new_stack_plans_without_creating(emulator: Emulator) -> None:
    run = run_playbook(emulator, "site.yml", "--check", "-e", "stockroom_env=plan")
    assert run.rc == 0, run.output[-3000:]
    assert run.recap["changed"] >= 1, "the VPC would be created"
    ec2 = emulator.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": ["plan"]}])["Vpcs"]
    assert vpcs == [], "--check must not create anything"


def test_prod_refuses_plain_http_naming_the_variables(emulator: Emulator) -> None:
    """Issue 16 item 14: production without a certificate ARN or a domain stops in validation."""
    run = run_playbook(emulator, "site.yml", "-e", "stockroom_env=prod")
    assert run.rc != 0, run.output[-2000:]
    assert "refuses to serve plain HTTP" in run.output, run.output[-2000:]
    assert "stockroom_domain" in run.output and "aws_compute_certificate_arn" in run.output
    assert "PLAY [Stockroom network]" not in run.output, "the network play must not start"


def test_other_environments_may_run_plain_http(emulator: Emulator) -> None:
    """Without a domain outside prod validation passes; the summary (tests/aws/test_stack.py)
    says the site is plain HTTP."""
    run = run_playbook(emulator, "playbooks/validate.yml", "-e", "stockroom_env=staging")
    assert run.rc == 0, run.output[-2000:]
