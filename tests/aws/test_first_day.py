"""The first day on AWS (issue 20): docs/aws.md's runbook, run as written, as the operator it makes
with docs/iam/operator-policy.json, on an emulator with moto's IAM access control on.

Every ```sh runbook block, top to bottom, in one bash shell (the last block, the teardown, in a
second one after the test has read what the stack made) - a command in the doc that breaks fails
here. The runbook creates the operator user with the policy and switches to it (AWS_PROFILE), so
everything after step 2 - site.yml with inventory/aws's production settings, the bake, the list of
AMIs, a release and a rollback read from the SSM parameters, scaling by hand, reading the logs, the
drill (simulated), the teardown of prod, and after it the teardown's option the doc names
(stockroom_teardown_images=true) - runs with exactly the policy's permissions. Every
action the emulator checked is recorded (tests/aws/iam_emulator.py): none was denied, and the
policy holds exactly the recorded actions plus the ones listed in NOT_ON_EMULATOR (each with why
the emulator run cannot reach it). A user whose policy lacks one action fails, and the error
names that action.

What differs from an operator's shell, and nothing else:
- the endpoint: AWS_ENDPOINT_URL for the AWS CLI, and inventory/aws copied with `aws_endpoint_url`
  added (ANSIBLE_INVENTORY points at the copy; the doc's commands give no -i);
- HOME is the test's own, so the settings file and `aws configure set --profile stockroom` write
  there; the administrator's default profile holds the key of an administrator the test made
  (AdministratorAccess) in the emulator's first NO_AUTH_REQUESTS requests;
- the bake: building the image needs the podman base image and minutes of configuration, so
  `ansible-playbook` is a shell function that adds `-e stockroom_ami_id=<the emulator's AMI>` to
  site.yml and runs the bake's AWS steps (roles/image_bake: identify, clean-up, builder subnet,
  remember, retention) for a second emulator AMI instead of image.yml. The test writes, as the
  administrator, the SSM parameter a bake before it would have left (current = the site's AMI).
- moto evaluates actions only: a statement's Resource is compared with `*` for nearly every call and
  Conditions are always met (see iam_emulator.py). So the emulator stores the operator's policy as
  "moto's view" (every Resource `*`, no Condition; STOCKROOM_MOTO_VIEW_POLICIES), and the resource
  ARNs are checked separately against the ARNs of what the lifecycle created
  (test_the_policy_s_resources_cover_what_the_stack_creates).
"""

from __future__ import annotations

import configparser
import dataclasses
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awsstack import AMI, ROOT, Emulator, emulator_server, run_prod
from iam_emulator import moto_view

DOC = ROOT / "docs/aws.md"
BLOCK = re.compile(r"^```sh runbook\n(.*?)^```$", re.M | re.S)
POLICY = ROOT / "docs/iam/operator-policy.json"
IAM_EMULATOR = Path(__file__).resolve().with_name("iam_emulator.py")
# The requests made before moto switches access control on: the administrator (see `first_day`).
NO_AUTH_REQUESTS = 3
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
            "autoscaling:UpdateAutoScalingGroup",
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
    "ssm:SendCommand": "the live drill's CPU stress (Run Command)",
}
# AWS answers it for any caller ("No permissions are required", GetCallerIdentity's reference).
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


def runbook_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


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
        policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
        arn = policy["Policy"]["Arn"]
    else:
        arn = managed
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@dataclasses.dataclass
class FirstDay:
    admin: Emulator
    operator_key: str
    inventory: Path
    actions: Path
    output: str
    arns: list[str]


BAKE_STEPS = ("identify", "cleanup", "subnet", "remember", "retention")


def bake_steps_playbook(path: Path) -> Path:
    """The bake's AWS steps as image.yml runs them (roles/image_bake task files)."""
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
    path.write_text(json.dumps(play))
    return path


def prologue(steps: Path, second: str) -> list[str]:
    """The one override of the doc's commands: the bake (see the module docstring)."""
    bake = (
        f"-e @{ROOT / 'group_vars/all.yml'} -e image_bake_app_dir={ROOT / 'app'} "
        f"-e image_bake_repo_dir={ROOT} -e image_bake_ami_id={second}"
    )
    # "${@/playbooks\/image.yml/STEPS}": the doc's arguments with the bake steps' playbook instead.
    image = '"${@/playbooks\\/image.yml/' + str(steps) + '}"'
    return [
        "set -euo pipefail",
        "ansible-playbook() {",
        '  case " $* " in',
        f'  *" site.yml "*) command ansible-playbook "$@" -e stockroom_ami_id={AMI} ;;',
        f'  *" playbooks/image.yml "*) ANSIBLE_ROLES_PATH={ROOT / "roles"} '
        f"command ansible-playbook {image} {bake} ;;",
        '  *) command ansible-playbook "$@" ;;',
        "  esac",
        "}",
        "export -f ansible-playbook",
    ]


def run_script(lines: list[str], path: Path, env: dict[str, str]) -> tuple[int, str]:
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        ["bash", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def first_day() -> Iterator[FirstDay]:
    """The IAM emulator, an administrator made in its first NO_AUTH_REQUESTS requests, then the
    runbook: every block but the last, the ARNs of what the stack made, then the last (teardown)."""
    # Not under pytest's basetemp: other sessions' pytest runs prune old basetemps while this runs.
    tmp = Path(tempfile.mkdtemp(prefix="stockroom-first-day-"))
    actions = tmp / "actions.log"
    env = {
        "INITIAL_NO_AUTH_ACTION_COUNT": str(NO_AUTH_REQUESTS),
        "STOCKROOM_ACTION_LOG": str(actions),
        "STOCKROOM_MOTO_VIEW_POLICIES": "stockroom-operator",
    }
    with emulator_server(tmp / "moto.log", script=IAM_EMULATOR, env=env) as emu:
        key = make_user(
            emu.client("iam"), "test-admin", None, "arn:aws:iam::aws:policy/AdministratorAccess"
        )  # 3 requests: access control is on from here
        admin = dataclasses.replace(emu, access_key=key[0], secret_key=key[1])
        ec2 = admin.client("ec2")
        second = sorted(
            i["ImageId"] for i in ec2.describe_images()["Images"] if i["ImageId"] != AMI
        )[0]
        # What the bake before this one left (image_bake remember.yml: its description and tags).
        admin.client("ssm").put_parameter(
            Name="/stockroom-prod/ami/current",
            Value=AMI,
            Type="String",
            Description="The AMI of the newest bake (playbooks/release.yml rolls it out)",
            Tags=[
                {"Key": k, "Value": v}
                for k, v in (("Project", "stockroom"), ("Environment", "prod"))
            ],
        )
        inventory = tmp / "inventory"
        (inventory / "group_vars").mkdir(parents=True)
        shutil.copy(ROOT / "inventory/aws/hosts.yml", inventory / "hosts.yml")
        settings = (ROOT / "inventory/aws/group_vars/all.yml").read_text()
        (inventory / "group_vars/all.yml").write_text(settings + f"aws_endpoint_url: {emu.url}\n")
        home = tmp / "home"
        (home / ".aws").mkdir(parents=True)
        (home / ".aws/credentials").write_text(
            f"[default]\naws_access_key_id = {key[0]}\naws_secret_access_key = {key[1]}\n"
        )
        path = [p for p in os.environ["PATH"].split(":") if not p.startswith(str(ROOT / ".venv"))]
        shell_env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AWS_", "ANSIBLE_", "VIRTUAL_ENV"))
            },
            "PATH": ":".join(path),  # the doc must put ansible-playbook on it
            "HOME": str(home),  # the doc's settings file and the AWS CLI's files go there
            "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
            "AWS_ENDPOINT_URL": emu.url,
            "ANSIBLE_INVENTORY": str(inventory),
            "ANSIBLE_NOCOLOR": "1",
        }
        blocks = runbook_blocks()
        head = prologue(bake_steps_playbook(tmp / "bake-steps.yml"), second)
        script = [*head]
        for n, block in enumerate(blocks[:-1], 1):
            script += [f"echo '### runbook block {n}' >&2", block]
        # The shell's exported settings (AWS_PROFILE, STOCKROOM_SETTINGS, ...) for the last block.
        script.append(f"export -p >{tmp / 'exported.sh'}")
        start = time.monotonic()
        rc, output = run_script(script, tmp / "runbook.sh", shell_env)
        done = re.findall(r"^### runbook block (\d+)$", output, re.M)
        last = int(done[-1]) if done else 0
        failed = f"block {last}: {shlex.quote(blocks[last - 1][:200]) if last else ''}"
        assert rc == 0, f"{failed}\n{output[-5000:]}"
        arns = created_arns(admin)
        n = len(blocks)
        teardown = [
            *head,
            f". {tmp / 'exported.sh'}",
            f"echo '### runbook block {n}' >&2",
            blocks[-1],
            # The option the doc names after step 10: the AMIs and their parameters go too.
            "echo '### stockroom_teardown_images=true' >&2",
            'ansible-playbook playbooks/teardown.yml -e @"$STOCKROOM_SETTINGS"'
            " -e stockroom_teardown_confirm=prod -e stockroom_teardown_images=true",
        ]
        rc, rest = run_script(teardown, tmp / "teardown.sh", shell_env)
        output += rest
        assert rc == 0, f"block {n}: {shlex.quote(blocks[-1][:200])}\n{rest[-5000:]}"
        print(f"runbook: {n} blocks in {time.monotonic() - start:.0f} s")
        credentials = configparser.ConfigParser()
        credentials.read(home / ".aws/credentials")
        yield FirstDay(
            admin=admin,
            operator_key=credentials["stockroom"]["aws_access_key_id"],
            inventory=inventory,
            actions=actions,
            output=output,
            arns=arns,
        )
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "runbook.log").write_text(output)
    if actions.exists():
        shutil.copy(actions, out / "iam-actions.log")
    shutil.rmtree(tmp, ignore_errors=True)


def recorded(day: FirstDay) -> dict[str, set[str]]:
    """The operator's checked actions by outcome, CloudWatch named as IAM names it."""
    found: dict[str, set[str]] = {"allowed": set(), "denied": set()}
    if day.actions.exists():
        for line in day.actions.read_text().splitlines():
            key, action, outcome = line.split(" ")
            if key == day.operator_key:
                found[outcome].add(action.replace("monitoring:", "cloudwatch:", 1))
    return found


def test_the_runbook_has_its_steps_in_order() -> None:
    text = "\n".join(runbook_blocks())
    steps = [
        "make setup",
        ". .venv/bin/activate",
        "--policy-document file://docs/iam/operator-policy.json",
        "export AWS_PROFILE=stockroom",
        "ansible-playbook site.yml",
        "ansible-playbook playbooks/image.yml",
        "make images",
        "ansible-playbook playbooks/release.yml",
        "ansible-playbook playbooks/rollback.yml",
        "set-desired-capacity",
        "ansible-playbook playbooks/drill.yml",
        "ansible-playbook playbooks/teardown.yml",
    ]
    where = [text.find(step) for step in steps]
    assert -1 not in where, dict(zip(steps, where, strict=True))
    assert where == sorted(where), dict(zip(steps, where, strict=True))


def test_every_runbook_command_runs_as_the_operator(first_day: FirstDay) -> None:
    output = first_day.output
    # The bake remembered its AMI; the release rolled it out, the rollback the one before.
    current = re.search(r"release: (ami-\w+) \(from /stockroom-prod/ami/current\)", output)
    assert current and current.group(1) != AMI, output[-3000:]
    assert f"runs {current.group(1)} (was {AMI})" in output
    assert f"rollback: {AMI} (from /stockroom-prod/ami/previous)" in output
    assert f"runs {AMI} (was {current.group(1)})" in output
    assert "stockroom-prod-db-final-" in output, "the teardown kept the final snapshot"
    assert not recorded(first_day)["denied"], recorded(first_day)["denied"]
    assert recorded(first_day)["allowed"], "the operator's calls were recorded"


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


def test_the_policy_s_resources_cover_what_the_stack_creates(first_day: FirstDay) -> None:
    """moto compares no resource ARNs: here each ARN the stack made is matched by a scoped statement
    of its service (when the service has one), and the same ARN of another project by none."""
    arns = first_day.arns
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


def test_the_policy_holds_exactly_the_actions_the_lifecycle_calls(first_day: FirstDay) -> None:
    policy = json.loads(POLICY.read_text())
    called = recorded(first_day)["allowed"] - NEEDS_NO_PERMISSION
    listed = policy_actions(policy)
    assert not called - listed, f"called but not in the policy: {sorted(called - listed)}"
    unused = listed - called - set(NOT_ON_EMULATOR)
    assert not unused, f"in the policy, never called: {sorted(unused)}"
    # The list of exceptions stays true: each is in the policy and really not reached here.
    assert set(NOT_ON_EMULATOR) <= listed, sorted(set(NOT_ON_EMULATOR) - listed)
    assert not set(NOT_ON_EMULATOR) & called, sorted(set(NOT_ON_EMULATOR) & called)


# One action a module calls and one a read (stockroom.aws.describe) makes, both early in site.yml.
@pytest.mark.parametrize("action", ["ec2:CreateVpc", "ec2:DescribeAvailabilityZones"])
def test_without_one_action_the_run_fails_naming_it(first_day: FirstDay, action: str) -> None:
    policy = json.loads(POLICY.read_text())
    assert action in policy_actions(policy)
    name = "without-" + action.replace(":", "-")
    key = make_user(first_day.admin.client("iam"), name, moto_view(policy, without=action))
    user = dataclasses.replace(first_day.admin, access_key=key[0], secret_key=key[1])
    result = run_prod(user, first_day.inventory, "site.yml")
    assert result.rc != 0
    assert f"is not authorized to perform: {action}" in result.output, result.output[-4000:]
