"""site.yml against the emulator: create, check every property, rerun, --check, teardown, crash.

The tests run in file order and share one emulator; each phase starts from what the previous left.
Timings go to reports/aws-timings.json (docs/benchmarks.md quotes them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import checks
import pytest
from awsstack import ENV, NAME, ROOT, Emulator, Run, base_args, playbook_env, run_playbook

TIMINGS: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def record_timings() -> Any:
    yield
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "aws-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="module")
def fresh(emulator: Emulator) -> Run:
    # -vvv: every task's arguments and results are printed, so a leaked secret would show.
    run = run_playbook(emulator, "site.yml", "-vvv")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["fresh"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    return run


def test_fresh_run_builds_the_whole_stack(emulator: Emulator, fresh: Run) -> None:
    assert fresh.recap["changed"] > 0
    net = checks.network(emulator)
    checks.database(emulator, net)
    checks.compute(emulator, net)
    checks.monitoring(emulator)
    # Issue 17: no domain outside prod - the summary gives the ALB's address and says plain HTTP.
    assert "Stockroom: http://" in fresh.output and "plain HTTP (no TLS)" in fresh.output
    # Issue 17: the dashboard, the log groups with the 5xx filter and alarm, the agent's groups.
    checks.dashboard(emulator)
    checks.logs(emulator)
    checks.node_logging(emulator)


def test_the_db_password_never_appears_in_the_output(emulator: Emulator, fresh: Run) -> None:
    password = checks.secret_value(emulator)["password"]
    assert len(password) >= 32
    assert password not in fresh.output, "the DB password leaked into -vvv output"
    # Issue 16 item 12: nor the app's and the migrations' passwords, nor the secret key; nor the
    # first administrator's (issue 20 item 2).
    for name, value in checks.own_secrets(emulator).items():
        secret = json.loads(value)["password"] if "/db-" in name else value
        assert secret not in fresh.output, f"{name} leaked into -vvv output"


def test_rerun_changes_nothing_and_keeps_the_password(emulator: Emulator, fresh: Run) -> None:
    before = checks.secret_value(emulator)
    own_before = checks.own_secrets(emulator)
    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["rerun"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert run.recap["changed"] == 0, changed_tasks(run)
    assert checks.secret_value(emulator) == before, "the password must be generated only once"
    assert checks.own_secrets(emulator) == own_before, "the app's secrets are generated once"


def test_check_mode_reports_no_changes(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "site.yml", "--check")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["check"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert run.recap["changed"] == 0, changed_tasks(run)


def test_the_dashboard_shows_the_waf_when_it_is_on(emulator: Emulator, fresh: Run) -> None:
    """aws_compute_waf (prod) adds the web ACL's widgets; turned off again, they go."""
    run = run_playbook(emulator, "playbooks/monitoring.yml", "-e", "aws_compute_waf=true")
    assert run.rc == 0, run.output[-4000:]
    assert changed_task_names(run) == [
        "aws_monitoring : Dashboard | One page for the fleet (skipped when it matches)"
    ]
    cw = emulator.client("cloudwatch")
    body = json.loads(cw.get_dashboard(DashboardName=NAME)["DashboardBody"])
    waf = [m for m in checks.dashboard_metrics(body) if m[0] == "AWS/WAFV2"]
    assert {(m[1], m[2]["Rule"]) for m in waf} == {
        ("AllowedRequests", "ALL"),
        ("BlockedRequests", "ALL"),
        ("BlockedRequests", f"{NAME}-common"),
        ("BlockedRequests", f"{NAME}-bad-inputs"),
        ("BlockedRequests", f"{NAME}-login-rate"),
    }
    assert all(m[2]["WebACL"] == NAME and m[2]["Region"] == "eu-west-1" for m in waf), waf
    run = run_playbook(emulator, "playbooks/monitoring.yml")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap["changed"] == 1, changed_tasks(run)
    checks.dashboard(emulator)


# Tasks that skip a resource when what was read already matches, and the hand-made change each one
# must notice. The run after the changes reports exactly these tasks as changed, nothing else.
DRIFT_TASKS = (
    "VPC | Create the VPC",
    "Gateways | Attach an internet gateway",
    "Gateways | Tag the NAT gateways and their elastic IPs",
    "Subnets | Put back a subnet that differs",
    "Security groups | Wait for the groups written first",
    "Security groups | Wait for the rules that name another group",
    "Routes | Wait for the route tables",
    "Instance | DB subnet group over the private DB subnets",
    "Instance | DB parameter group",
    "Instance | RDS MySQL 8",
    "Load balancer | Target group with the /readyz health check",
    "Load balancer | Internet-facing ALB",
    "ASG | Launch template - IMDSv2 only",
    "ASG | Tag the launch template",
    "ASG | Auto Scaling Group over the private app subnets",
    "Scaling | Simple policies",
    "Alarms | Every alarm to the topic, the CPU ones to the scaling policies",
    "Secret | Store the master credentials",
    "IAM | Instance role",
    "IAM | Inline policies",
    "Notifications | Alerts topic with the e-mail subscription",
    "Notifications | Instance launch/terminate events",
    "Logs | Log groups with their retention and tags",
    "Logs | Metric filter counting the app's 5xx request lines",
    "Dashboard | One page for the fleet",
)


def test_hand_made_drift_is_found_by_check_and_put_back(emulator: Emulator, fresh: Run) -> None:
    """The roles read what exists and skip what already matches: a hand-made change must still be
    seen - by --check, which leaves it - and put back by the next run, and nothing else touched."""
    ec2 = emulator.client("ec2")
    net = checks.network(emulator)
    in_vpc = [{"Name": "vpc-id", "Values": [net["vpc_id"]]}]
    drift_network(emulator, net)
    drift_other_tiers(emulator)

    check = run_playbook(emulator, "site.yml", "--check")
    assert check.rc == 0, check.output[-4000:]
    assert check.recap["changed"] >= len(DRIFT_TASKS) - 2, changed_tasks(check)
    with pytest.raises(AssertionError):
        checks.network(emulator)  # --check changed nothing

    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    changed = changed_task_names(run)
    unexpected = [t for t in changed if not any(d in t for d in DRIFT_TASKS)]
    missed = [d for d in DRIFT_TASKS if not any(d in t for t in changed)]
    assert (unexpected, missed) == ([], []), changed_tasks(run)

    net = checks.network(emulator)  # rules, routes, associations and NAT tags exact again
    vpc = ec2.describe_vpcs(VpcIds=[net["vpc_id"]])["Vpcs"][0]
    assert "Stray" not in checks.tags_of(vpc)
    hostnames = ec2.describe_vpc_attribute(VpcId=net["vpc_id"], Attribute="enableDnsHostnames")
    assert hostnames["EnableDnsHostnames"]["Value"] is True
    for kind, items in (
        ("groups", ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]),
        ("tables", ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]),
        ("subnets", ec2.describe_subnets(Filters=in_vpc)["Subnets"]),
        ("gateways", ec2.describe_internet_gateways(Filters=stray_filter())["InternetGateways"]),
    ):
        assert all("Stray" not in checks.tags_of(i) for i in items), kind
    assert not any(
        s["MapPublicIpOnLaunch"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    )
    eips = ec2.describe_addresses()["Addresses"]
    assert all(checks.tags_of(a).get("Project") == "stockroom" for a in eips), eips
    template = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["launch-template"]}])
    assert {t["Key"]: t["Value"] for t in template["Tags"]}.get("Name") == f"{NAME}-app"
    newest = ec2.describe_launch_template_versions(
        LaunchTemplateName=f"{NAME}-app", Versions=["$Latest"]
    )["LaunchTemplateVersions"][0]
    assert newest["DefaultVersion"] and newest["LaunchTemplateData"]["InstanceType"] != "t3.2xlarge"
    elb = emulator.client("elbv2")
    target_group = elb.describe_target_groups(Names=[f"{NAME}-app"])["TargetGroups"][0]
    assert target_group["HealthCheckPath"] == "/readyz"
    balancer = elb.describe_load_balancers(Names=[NAME])["LoadBalancers"][0]
    tags = elb.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]
    assert "Stray" not in {t["Key"] for t in tags["Tags"]}
    rds = emulator.client("rds")
    instance = rds.describe_db_instances(DBInstanceIdentifier=f"{NAME}-db")["DBInstances"][0]
    assert instance["BackupRetentionPeriod"] != 1
    checks.database(emulator, net)  # require_secure_transport back at 1, and the rest as made
    group = rds.describe_db_subnet_groups(DBSubnetGroupName=f"{NAME}-db")["DBSubnetGroups"][0]
    assert group["DBSubnetGroupDescription"] == "Stockroom private DB subnets"
    tags = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
    assert "Stray" not in {t["Key"] for t in tags}
    autoscaling = emulator.client("autoscaling")
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{NAME}-app"])
    assert group["AutoScalingGroups"][0]["HealthCheckGracePeriod"] != 999
    policy = autoscaling.describe_policies(PolicyNames=[f"{NAME}-scale-out"])
    assert policy["ScalingPolicies"][0]["Cooldown"] == 300
    secret = emulator.client("secretsmanager").describe_secret(SecretId=f"{NAME}/db-master")
    assert secret["Description"].startswith("Stockroom RDS master credentials")
    iam = emulator.client("iam")
    assert iam.get_role(RoleName=f"{NAME}-app")["Role"]["Description"] == "Stockroom app instances"
    # The role's policy reads only the secret again; the template: its first version, the one made
    # by hand, and the one put back after it.
    checks.compute(emulator, net, versions=3)
    topic = checks.monitoring(emulator)["topic"]  # alarms, subscription, rule target
    sns = emulator.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["DisplayName"] == f"Stockroom {ENV} alerts"
    rule = emulator.client("events").describe_rule(Name=f"{NAME}-asg-events")
    assert rule["Description"] == "Stockroom ASG launch/terminate notifications"
    checks.dashboard(emulator)  # widgets, positions and alarm states as the role writes them
    checks.logs(emulator)  # retention 30 again, the metric filter back

    again = run_playbook(emulator, "site.yml")
    assert again.rc == 0, again.output[-4000:]
    assert again.recap["changed"] == 0, changed_tasks(again)


def stray_filter() -> list[dict[str, Any]]:
    return [{"Name": "tag-key", "Values": ["Stray"]}]


def drift_network(emulator: Emulator, net: dict[str, Any]) -> None:
    """By hand, as an operator would in the console: one change per kind of network resource."""
    ec2 = emulator.client("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [net["vpc_id"]]}]
    stray = [{"Key": "Stray", "Value": "by hand"}]
    sg = net["sg"]
    # The VPC: a stray tag and DNS host names off.
    ec2.create_tags(Resources=[net["vpc_id"]], Tags=stray)
    ec2.modify_vpc_attribute(VpcId=net["vpc_id"], EnableDnsHostnames={"Value": False})
    # Gateways: a stray tag on the internet gateway, tags gone from the NAT gateway and its EIP.
    igw = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [net["vpc_id"]]}]
    )["InternetGateways"][0]["InternetGatewayId"]
    ec2.create_tags(Resources=[igw], Tags=stray)
    nat = next(
        n
        for n in ec2.describe_nat_gateways(Filters=in_vpc)["NatGateways"]
        if n["State"] in ("pending", "available")
    )
    eip = nat["NatGatewayAddresses"][0]["AllocationId"]
    ec2.delete_tags(Resources=[nat["NatGatewayId"]], Tags=[{"Key": "Name"}])
    ec2.delete_tags(Resources=[eip], Tags=[{"Key": "Project"}])
    # Security groups: extra rules, a lost egress rule, a lost ingress rule, a stray tag.
    # (Not a changed rule description: the emulator accepts that update and ignores it.)
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    default_sg = ec2.describe_security_groups(
        Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg["alb"], IpPermissions=[ssh])
    ec2.authorize_security_group_ingress(GroupId=default_sg, IpPermissions=[ssh])
    ec2.revoke_security_group_egress(
        GroupId=sg["app"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    db_rule = {
        "IpProtocol": "tcp",
        "FromPort": 3306,
        "ToPort": 3306,
        "UserIdGroupPairs": [{"GroupId": sg["app"], "Description": "MySQL from the app instances"}],
    }
    ec2.revoke_security_group_ingress(GroupId=sg["db"], IpPermissions=[db_rule])
    ec2.create_tags(Resources=[sg["db"]], Tags=stray)
    # Route tables: a route out of the DB subnets, an app subnet unassociated, a stray tag.
    tables = {
        checks.tags_of(rt).get("Name"): rt
        for rt in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
    }
    db_table = tables[f"{NAME}-db"]["RouteTableId"]
    ec2.create_route(RouteTableId=db_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assoc = next(
        a["RouteTableAssociationId"]
        for a in tables[f"{NAME}-app"]["Associations"]
        if a.get("SubnetId") == net["subnets"]["app"][0]
    )
    ec2.disassociate_route_table(AssociationId=assoc)
    ec2.create_tags(Resources=[tables[f"{NAME}-public"]["RouteTableId"]], Tags=stray)
    # A subnet: a stray tag and public IPs on.
    subnet = net["subnets"]["db"][0]
    ec2.create_tags(Resources=[subnet], Tags=stray)
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})


def drift_other_tiers(emulator: Emulator) -> None:
    """The DB subnet group, the launch template's tags, the group's health check grace, a scaling
    policy and an alarm (and more below)."""
    rds = emulator.client("rds")
    group = rds.describe_db_subnet_groups(DBSubnetGroupName=f"{NAME}-db")["DBSubnetGroups"][0]
    rds.add_tags_to_resource(
        ResourceName=group["DBSubnetGroupArn"], Tags=[{"Key": "Stray", "Value": "by hand"}]
    )
    # The parameter group lets clients in without TLS; the instance keeps backups for a day.
    rds.modify_db_parameter_group(
        DBParameterGroupName=checks.PARAMETER_GROUP,
        Parameters=[
            {
                "ParameterName": "require_secure_transport",
                "ParameterValue": "0",
                "ApplyMethod": "immediate",
            }
        ],
    )
    rds.modify_db_instance(
        DBInstanceIdentifier=f"{NAME}-db", BackupRetentionPeriod=1, ApplyImmediately=True
    )
    # The target group checks another path; the load balancer gets a stray tag.
    elb = emulator.client("elbv2")
    target_group = elb.describe_target_groups(Names=[f"{NAME}-app"])["TargetGroups"][0]
    elb.modify_target_group(
        TargetGroupArn=target_group["TargetGroupArn"], HealthCheckPath="/by-hand"
    )
    balancer = elb.describe_load_balancers(Names=[NAME])["LoadBalancers"][0]
    elb.add_tags(
        ResourceArns=[balancer["LoadBalancerArn"]], Tags=[{"Key": "Stray", "Value": "by hand"}]
    )
    # The launch template: a newer version by hand (another instance type), its Name tag gone.
    ec2 = emulator.client("ec2")
    template = ec2.describe_launch_templates(LaunchTemplateNames=[f"{NAME}-app"])
    ec2.create_launch_template_version(
        LaunchTemplateName=f"{NAME}-app",
        SourceVersion="$Latest",
        LaunchTemplateData={"InstanceType": "t3.2xlarge"},
    )
    ec2.delete_tags(
        Resources=[template["LaunchTemplates"][0]["LaunchTemplateId"]], Tags=[{"Key": "Name"}]
    )
    autoscaling = emulator.client("autoscaling")
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=f"{NAME}-app", HealthCheckGracePeriod=999
    )
    autoscaling.put_scaling_policy(
        AutoScalingGroupName=f"{NAME}-app",
        PolicyName=f"{NAME}-scale-out",
        PolicyType="SimpleScaling",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1,
        Cooldown=60,
    )
    cw = emulator.client("cloudwatch")
    high = cw.describe_alarms(AlarmNames=[f"{NAME}-cpu-high"])["MetricAlarms"][0]
    keep = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions")
    keep += ("MetricName", "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods")
    keep += ("ComparisonOperator", "TreatMissingData")
    cw.put_metric_alarm(**{k: high[k] for k in keep}, Threshold=95.0)
    emulator.client("secretsmanager").update_secret(
        SecretId=f"{NAME}/db-master", Description="by hand"
    )
    iam = emulator.client("iam")
    iam.update_role(RoleName=f"{NAME}-app", Description="by hand")
    everything = {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}
    iam.put_role_policy(
        RoleName=f"{NAME}-app",
        PolicyName="read-db-secret",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    emulator.client("sns").set_topic_attributes(
        TopicArn=checks.alerts_topic(emulator),
        AttributeName="DisplayName",
        AttributeValue="by hand",
    )
    events = emulator.client("events")
    rule = events.describe_rule(Name=f"{NAME}-asg-events")
    events.put_rule(Name=rule["Name"], EventPattern=rule["EventPattern"], Description="by hand")
    # Issue 17: a dashboard widget dropped, a group's retention changed, the filter deleted.
    body = json.loads(cw.get_dashboard(DashboardName=NAME)["DashboardBody"])
    cw.put_dashboard(
        DashboardName=NAME, DashboardBody=json.dumps({"widgets": body["widgets"][:-1]})
    )
    cwl = emulator.client("logs")
    cwl.put_retention_policy(logGroupName=f"/{NAME}/system", retentionInDays=7)
    cwl.delete_metric_filter(logGroupName=f"/{NAME}/app", filterName=f"{NAME}-app-5xx")


def test_drill_scales_out_to_max_and_back_with_alerts(emulator: Emulator, fresh: Run) -> None:
    """Issue 7, simulated trigger: the emulator never evaluates alarms (the drill says so)."""
    run = run_playbook(emulator, "playbooks/drill.yml")
    assert run.rc == 0, run.output[-5000:]
    TIMINGS["drill"] = {"seconds": round(run.seconds, 1)}
    report = json.loads((ROOT / "reports" / "drill-local.json").read_text())
    assert report["outcome"] == "passed" and report["mode"] == "simulated"
    steps = [(e["step"], e["observed"]) for e in report["timeline"]]
    executed = [o for s, o in steps if s.endswith("-scale-out executed")]
    assert executed == ["desired 3 -> 4", "desired 4 -> 5"]
    assert any(s.endswith("-scale-out refused") and "5 -> 6" in o for s, o in steps)
    at_max = next(o for s, o in steps if s == "after scale-out")
    assert (at_max["desired"], at_max["in_service"], at_max["healthy_targets"]) == (5, 5, 5)
    assert [o for s, o in steps if s.endswith("-scale-in executed")] == [
        "desired 5 -> 4",
        "desired 4 -> 3",
    ]
    messages = [o for s, o in steps if s == "SNS messages read from the queue"]
    # Issue 15 item 13: CPU-high mails (3 times), CPU-low only scales in.
    assert [m["alarm"] for m in messages] == [3, 0], messages
    assert_drill_cleaned_up(emulator)


def test_a_failing_drill_still_cleans_up(emulator: Emulator, fresh: Run) -> None:
    # Pointing the scale-in step at the scale-out alarm makes it fail half-way, with the queue live.
    run = run_playbook(
        emulator, "playbooks/drill.yml", "-e", "aws_drill_low_alarm=stockroom-local-cpu-high"
    )
    assert run.rc != 0
    assert (
        "failed at 'Simulated | Fire the CPU-low alarm until the group is back at its min'"
        in run.output
    )
    assert_drill_cleaned_up(emulator)


def assert_drill_cleaned_up(emulator: Emulator) -> None:
    assert not [
        u for u in emulator.client("sqs").list_queues().get("QueueUrls", []) if "drill" in u
    ], "the drill's queue must be deleted"
    topic = checks.monitoring(emulator)["topic"]
    subs = emulator.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["email"], "the drill's subscription must be removed"
    group = emulator.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["stockroom-local-app"]
    )["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 3
    alarms = emulator.client("cloudwatch").describe_alarms(AlarmNamePrefix="stockroom-local-cpu")
    assert {a["StateValue"] for a in alarms["MetricAlarms"]} == {"OK"}


def test_teardown_removes_everything_and_twice_is_a_noop(emulator: Emulator, fresh: Run) -> None:
    run = run_playbook(emulator, "playbooks/teardown.yml")
    assert run.rc == 0, run.output[-4000:]
    TIMINGS["teardown"] = {"seconds": round(run.seconds, 1), "changed": run.recap["changed"]}
    assert checks.leftovers(emulator) == []
    again = run_playbook(emulator, "playbooks/teardown.yml")
    assert again.rc == 0, again.output[-4000:]
    assert again.recap["changed"] == 0, changed_tasks(again)


def test_a_run_killed_half_way_converges_without_duplicates(emulator: Emulator) -> None:
    proc = subprocess.Popen(
        base_args("site.yml"),
        cwd=ROOT,
        env=playbook_env(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    # Kill it in the middle of the database tier, right after the secret was stored.
    for line in proc.stdout:
        if "Secret | Store the master credentials" in line:
            time.sleep(1.5)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = checks.counts(emulator)
    assert partial["vpcs"] == 1 and partial["asgs"] == 0, partial

    run = run_playbook(emulator, "site.yml")
    assert run.rc == 0, run.output[-4000:]
    expected = {
        "vpcs": 1,
        "subnets": 6,
        "security_groups": 4,
        "route_tables": 3,
        "internet_gateways": 1,
        "nat_gateways": 1,
        "addresses": 1,
        "db_instances": 1,
        "secrets": 5,  # master, app user, migration user, secret key, first admin
        "load_balancers": 1,
        "asgs": 1,
        "topics": 2,  # alerts and low stock
    }
    assert checks.counts(emulator) == expected
    checks.network(emulator)

    down = run_playbook(emulator, "playbooks/teardown.yml")
    assert down.rc == 0, down.output[-4000:]
    assert checks.leftovers(emulator) == []


def changed_task_names(run: Run) -> list[str]:
    """The names of the tasks that reported a change, once each."""
    names: list[str] = []
    task = "?"
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") :].split("]")[0]
        elif line.startswith("changed:") and task not in names:
            names.append(task)
    return names


def changed_tasks(run: Run) -> str:
    """The tasks that reported a change, for a readable failure."""
    lines = run.output.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("changed:"):
            task = next((lines[j] for j in range(i, 0, -1) if lines[j].startswith("TASK [")), "?")
            out.append(f"{task} -> {line[:200]}")
    return "\n".join(out) or run.output[-3000:]
