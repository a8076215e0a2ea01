"""The operator's least-privilege IAM policy (docs/iam/operator-policy.json, issue 20 item 1),
proven on the emulator with moto's IAM access control on (tests/aws/iam_emulator.py).

A user holding only that policy runs the lifecycle an operator runs, with inventory/aws's production
settings (only the endpoint changed; the AMI given): site.yml -> the list of AMIs -> a release ->
a rollback -> the drill (simulated) -> teardown of prod with the AMIs; then the bake's AWS steps
(the builder's configuration, which makes no AWS call, needs the podman base image and is left out).
Every action the emulator checked is recorded: none was denied, and the policy holds exactly the
recorded actions plus the ones listed in NOT_ON_EMULATOR (each with why the emulator run cannot
reach it). A user whose policy lacks one action fails, and the error names that action.

moto evaluates actions only: a statement's Resource is compared with `*` for nearly every call and
Conditions are always met (see iam_emulator.py). So the user gets the policy with every Resource
`*` and no Condition ("moto's view"); the resource ARNs are checked separately against the ARNs of
what the lifecycle created (test_the_policy_s_resources_cover_what_the_stack_creates).
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awsstack import AMI, ROOT, Emulator, Run, emulator_server, playbook_env

POLICY = ROOT / "docs/iam/operator-policy.json"
IAM_EMULATOR = Path(__file__).resolve().with_name("iam_emulator.py")
# The requests made before moto switches access control on: see the `iam` fixture.
NO_AUTH_REQUESTS = 8
# Production refuses plain HTTP: each run gets the domain, served by a hosted zone of the account.
DOMAIN = "stock.example.com"
NAME = "stockroom-prod"
# In the policy, not reached by the emulator run - and why. docs/aws.md lists the same.
TAG_ON_CREATE = "AWS authorizes the tags of a create call as this action too; moto does not"
ON_BEHALF = "AWS checks it for the caller of another call; moto does not"
DRIFT = "site.yml putting back a hand-made change (test_stack's drift test makes such changes)"
AWS_BAKE = "the AWS bake's builder and image clean-up (the emulator test has no project image)"
NOT_ON_EMULATOR: dict[str, str] = {
    **dict.fromkeys(
        [
            "iam:TagRole",
            "rds:AddTagsToResource",
            "secretsmanager:TagResource",
            "sns:TagResource",
            "ssm:AddTagsToResource",
            "autoscaling:CreateOrUpdateTags",
            "acm:AddTagsToCertificate",
            "wafv2:TagResource",
            "logs:TagResource",
        ],
        TAG_ON_CREATE,
    ),
    "elasticloadbalancing:SetWebAcl": ON_BEHALF + " (wafv2:AssociateWebACL on the ALB)",
    "ec2:RunInstances": ON_BEHALF + " (an Auto Scaling group with a launch template); the bake",
    "iam:PassRole": ON_BEHALF + " (a launch template naming the instance profile)",
    "iam:CreateServiceLinkedRole": ON_BEHALF + " (the account's first ASG, ALB and RDS)",
    "rds:CreateDBSnapshot": ON_BEHALF + " (DeleteDBInstance with a final snapshot)",
    **dict.fromkeys(
        [
            "ec2:RevokeSecurityGroupIngress",
            "ec2:DeleteRoute",
            "ec2:DeleteTags",
            "autoscaling:DeleteTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyListener",
            "rds:ModifyDBSubnetGroup",
            "rds:RemoveTagsFromResource",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "secretsmanager:UntagResource",
            "sns:UntagResource",
            "ssm:RemoveTagsFromResource",
        ],
        DRIFT,
    ),
    **dict.fromkeys(
        [
            "ec2:CreateKeyPair",
            "ec2:DeleteKeyPair",
            "ec2:TerminateInstances",
            "ec2:CreateImage",
            "ec2:DeregisterImage",
            "ec2:DeleteSnapshot",
        ],
        AWS_BAKE,
    ),
    "autoscaling:CancelInstanceRefresh": "a release that times out (test_release)",
    "autoscaling:RollbackInstanceRefresh": "a release cancelled or timed out (test_release)",
    "secretsmanager:RestoreSecret": "site.yml inside the recovery window (test_production)",
    "autoscaling:SetDesiredCapacity": "scaling by hand (docs/aws.md runbook) and the live drill",
    "logs:FilterLogEvents": "reading the logs (docs/aws.md runbook)",
    "ssm:SendCommand": "the live drill's CPU stress (Run Command)",
}
# AWS answers it for any caller ("No permissions are required", GetCallerIdentity's reference).
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
STATE: dict[str, Any] = {}


def moto_view(policy: dict[str, Any], without: str = "") -> dict[str, Any]:
    """What moto can evaluate: every Resource `*`, no Condition, CloudWatch signed as `monitoring`;
    `without` drops one action."""
    view = copy.deepcopy(policy)
    for statement in view["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        actions = [a for a in actions if a != without]
        statement["Action"] = [a.replace("cloudwatch:", "monitoring:", 1) for a in actions]
        statement["Resource"] = "*"
        statement.pop("Condition", None)
    view["Statement"] = [s for s in view["Statement"] if s["Action"]]
    return view


def policy_actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        found |= set(actions if isinstance(actions, list) else [actions])
    return found


def make_user(
    iam: Any, name: str, document: dict[str, Any] | None, managed: str = ""
) -> tuple[str, str]:
    """A user with one policy (its document, or a managed one) and an access key: 3-4 requests."""
    iam.create_user(UserName=name)
    if document is not None:
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"][
            "Arn"
        ]
    else:
        arn = managed
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@dataclasses.dataclass
class Accounts:
    operator: Emulator
    admin: Emulator
    inventory: Path
    actions: Path


@pytest.fixture(scope="module")
def iam() -> Iterator[Accounts]:
    """The IAM emulator; its first NO_AUTH_REQUESTS requests make the operator (the policy, moto's
    view) and an administrator for the test's own reads; inventory/aws copied, endpoint changed."""
    # Not under pytest's basetemp: other sessions' pytest runs prune old basetemps while this runs.
    tmp = Path(tempfile.mkdtemp(prefix="stockroom-iam-"))
    actions = tmp / "actions.log"
    env = {
        "INITIAL_NO_AUTH_ACTION_COUNT": str(NO_AUTH_REQUESTS),
        "STOCKROOM_ACTION_LOG": str(actions),
    }
    with emulator_server(tmp / "moto.log", script=IAM_EMULATOR, env=env) as emu:
        # The account's public hosted zone (1 request), the operator and an administrator (7).
        emu.client("route53").create_hosted_zone(Name="example.com", CallerReference="iam-zone")
        client = emu.client("iam")
        policy = json.loads(POLICY.read_text())
        op_key = make_user(client, "stockroom-operator", moto_view(policy))  # 4 requests
        admin_key = make_user(
            client, "test-admin", None, "arn:aws:iam::aws:policy/AdministratorAccess"
        )  # 3 requests
        inventory = tmp / "inventory"
        (inventory / "group_vars").mkdir(parents=True)
        shutil.copy(ROOT / "inventory/aws/hosts.yml", inventory / "hosts.yml")
        settings = (ROOT / "inventory/aws/group_vars/all.yml").read_text()
        (inventory / "group_vars" / "all.yml").write_text(
            settings + f"aws_endpoint_url: {emu.url}\n"
        )
        yield Accounts(
            operator=dataclasses.replace(emu, access_key=op_key[0], secret_key=op_key[1]),
            admin=dataclasses.replace(emu, access_key=admin_key[0], secret_key=admin_key[1]),
            inventory=inventory,
            actions=actions,
        )
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    if actions.exists():
        shutil.copy(actions, out / "iam-actions.log")
    shutil.rmtree(tmp, ignore_errors=True)


def run(
    accounts: Accounts,
    user: Emulator,
    playbook: str,
    *extra: str,
    env: dict[str, str] | None = None,
) -> Run:
    args = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(accounts.inventory), playbook]
    args += ["-e", f"stockroom_ami_id={AMI}", "-e", "stockroom_alert_email=ops@example.com"]
    args += ["-e", f"stockroom_domain={DOMAIN}"]
    start = time.monotonic()
    proc = subprocess.run(
        [*args, *extra],
        cwd=ROOT,
        env={**playbook_env(user), **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)


def recorded(accounts: Accounts) -> dict[str, set[str]]:
    """The operator's checked actions by outcome, CloudWatch named as IAM names it."""
    found: dict[str, set[str]] = {"allowed": set(), "denied": set()}
    if accounts.actions.exists():
        for line in accounts.actions.read_text().splitlines():
            key, action, outcome = line.split(" ")
            if key == accounts.operator.access_key:
                found[outcome].add(action.replace("monitoring:", "cloudwatch:", 1))
    return found


BAKE_STEPS = ("identify", "cleanup", "subnet", "remember", "retention")


def bake_steps(accounts: Accounts, user: Emulator, tmp: Path, ami: str) -> Run:
    """The bake's AWS steps as image.yml runs them (roles/image_bake task files) for `ami`."""
    play = [
        {
            "name": "The bake's AWS steps",
            "hosts": "controller",
            "gather_facts": False,
            "module_defaults": {"group/aws": "{{ aws_connection }}"},
            "tasks": [
                {
                    "name": f"image_bake {step}",
                    "ansible.builtin.include_role": {"name": "image_bake", "tasks_from": step},
                }
                for step in BAKE_STEPS
            ],
        }
    ]
    playbook = tmp / "bake-steps.yml"
    playbook.write_text(json.dumps(play))
    return run(
        accounts, user, str(playbook),
        "-e", f"@{ROOT / 'group_vars/all.yml'}", "-e", f"image_bake_app_dir={ROOT / 'app'}",
        "-e", f"image_bake_repo_dir={ROOT}", "-e", f"image_bake_ami_id={ami}",
        env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
    )  # fmt: skip


def test_the_operator_policy_runs_the_whole_lifecycle(iam: Accounts) -> None:
    op = iam.operator
    steps: dict[str, Run] = {}
    steps["site"] = run(iam, op, "site.yml")
    assert steps["site"].rc == 0, steps["site"].output[-5000:]
    images = sorted(i["ImageId"] for i in iam.admin.client("ec2").describe_images()["Images"])
    new = next(i for i in images if i != AMI)
    # Two bakes' AWS steps: the site's AMI, then a new one (current = new, previous = the site's).
    for n, ami in enumerate((AMI, new)):
        steps[f"bake{n}"] = bake_steps(iam, op, iam.actions.parent, ami)
        assert steps[f"bake{n}"].rc == 0, steps[f"bake{n}"].output[-5000:]
    steps["images"] = run(iam, op, "playbooks/images.yml")
    assert steps["images"].rc == 0, steps["images"].output[-3000:]
    no_id = ("-e", "stockroom_ami_id=", "-e", "release_poll_interval=0.3")
    steps["release"] = run(iam, op, "playbooks/release.yml", *no_id)
    assert steps["release"].rc == 0, steps["release"].output[-5000:]
    assert f"runs {new} (was {AMI})" in steps["release"].output
    steps["rollback"] = run(iam, op, "playbooks/rollback.yml", *no_id)
    assert steps["rollback"].rc == 0, steps["rollback"].output[-5000:]
    assert f"runs {AMI} (was {new})" in steps["rollback"].output
    steps["drill"] = run(iam, op, "playbooks/drill.yml")
    assert steps["drill"].rc == 0, steps["drill"].output[-5000:]
    STATE["arns"] = created_arns(iam.admin)
    steps["teardown"] = run(
        iam, op, "playbooks/teardown.yml",
        "-e", "stockroom_teardown_confirm=prod", "-e", "stockroom_teardown_images=true",
    )  # fmt: skip
    assert steps["teardown"].rc == 0, steps["teardown"].output[-5000:]
    STATE["seconds"] = {k: round(v.seconds, 1) for k, v in steps.items()}
    print("lifecycle as the operator:", STATE["seconds"])
    assert not recorded(iam)["denied"], recorded(iam)["denied"]


def created_arns(admin: Emulator) -> list[str]:
    """The ARNs of what the stack (and the bake's parameters) made, read by the administrator."""
    c = admin.client
    role = c("iam").get_role(RoleName=f"{NAME}-app")["Role"]
    profiles = c("iam").list_instance_profiles_for_role(RoleName=role["RoleName"])
    arns = [role["Arn"], *(p["Arn"] for p in profiles["InstanceProfiles"])]
    arns += [s["ARN"] for s in c("secretsmanager").list_secrets()["SecretList"]]
    found = c("ssm").get_parameters_by_path(Path=f"/{NAME}", Recursive=True)["Parameters"]
    arns += [p["ARN"] for p in found]
    arns += [t["TopicArn"] for t in c("sns").list_topics()["Topics"]]
    arns += [a["AlarmArn"] for a in c("cloudwatch").describe_alarms()["MetricAlarms"]]
    arns += [d["DashboardArn"] for d in c("cloudwatch").list_dashboards()["DashboardEntries"]]
    arns += [r["Arn"] for r in c("events").list_rules()["Rules"]]
    arns += [g["arn"] for g in c("logs").describe_log_groups()["logGroups"]]
    rds = c("rds")
    arns += [d["DBInstanceArn"] for d in rds.describe_db_instances()["DBInstances"]]
    arns += [g["DBSubnetGroupArn"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]]
    groups = rds.describe_db_parameter_groups()["DBParameterGroups"]
    arns += [g["DBParameterGroupArn"] for g in groups if g["DBParameterGroupName"].startswith(NAME)]
    found = c("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    arns += [g["AutoScalingGroupARN"] for g in found]
    elb = c("elbv2")
    balancers = [b["LoadBalancerArn"] for b in elb.describe_load_balancers()["LoadBalancers"]]
    arns += balancers + [t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]]
    for balancer in balancers:
        arns += [
            x["ListenerArn"] for x in elb.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
        ]
    return [a for a in arns if NAME in a]


def scoped_statements(policy: dict[str, Any]) -> list[tuple[set[str], list[str]]]:
    """(services of its actions, its Resource patterns) of each statement scoped to resources."""
    found = []
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if resources != ["*"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            found.append(({a.split(":")[0] for a in actions}, resources))
    return found


def test_the_policy_s_resources_cover_what_the_stack_creates(iam: Accounts) -> None:
    """moto compares no resource ARNs: here each ARN the stack made is matched by a scoped statement
    of its service (when the service has one), and the same ARN of another project by none."""
    arns = STATE.get("arns")
    assert arns, "the lifecycle test ran first"
    scoped = scoped_statements(json.loads(POLICY.read_text()))
    services = {service for found, _ in scoped for service in found}
    unmatched, foreign = [], []
    for arn in arns:
        service = arn.split(":")[2]
        if service not in services:
            continue
        patterns = [p for found, resources in scoped if service in found for p in resources]
        if not any(fnmatch.fnmatchcase(arn, p) for p in patterns):
            unmatched.append(arn)
        other = arn.replace(NAME, "other-app")
        if any(fnmatch.fnmatchcase(other, p) for p in patterns):
            foreign.append(other)
    assert not unmatched, f"the policy does not reach these resources of the stack: {unmatched}"
    assert not foreign, f"the policy reaches another project's resources: {foreign}"
    STATE["checked_arns"] = len(arns)


def test_the_policy_holds_exactly_the_actions_the_lifecycle_calls(iam: Accounts) -> None:
    policy = json.loads(POLICY.read_text())
    called = recorded(iam)["allowed"] - NEEDS_NO_PERMISSION
    assert called, "the lifecycle test ran first"
    listed = policy_actions(policy)
    assert not called - listed, f"called but not in the policy: {sorted(called - listed)}"
    unused = listed - called - set(NOT_ON_EMULATOR)
    assert not unused, f"in the policy, never called: {sorted(unused)}"
    # The list of exceptions stays true: each is in the policy and really not reached here.
    assert set(NOT_ON_EMULATOR) <= listed, sorted(set(NOT_ON_EMULATOR) - listed)
    assert not set(NOT_ON_EMULATOR) & called, sorted(set(NOT_ON_EMULATOR) & called)


# One action a module calls and one a read (stockroom.aws.describe) makes, both early in site.yml.
@pytest.mark.parametrize("action", ["ec2:CreateVpc", "ec2:DescribeAvailabilityZones"])
def test_without_one_action_the_run_fails_naming_it(iam: Accounts, action: str) -> None:
    policy = json.loads(POLICY.read_text())
    assert action in policy_actions(policy)
    name = "without-" + action.replace(":", "-")
    key = make_user(iam.admin.client("iam"), name, moto_view(policy, without=action))
    user = dataclasses.replace(iam.operator, access_key=key[0], secret_key=key[1])
    result = run(iam, user, "site.yml")
    assert result.rc != 0
    assert f"is not authorized to perform: {action}" in result.output, result.output[-4000:]
