"""Assertions on the provisioned stack, read back through boto3 from the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

from awsstack import NAME, TAGS, Emulator, tag_filter


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def assert_tagged(resource: dict[str, Any], what: str) -> None:
    tags = tags_of(resource)
    for key, value in TAGS.items():
        assert tags.get(key) == value, f"{what} lacks tag {key}={value}: {tags}"


def one(items: list[Any], what: str) -> Any:
    assert len(items) == 1, f"expected exactly one {what}, found {len(items)}"
    return items[0]


def network(emu: Emulator) -> dict[str, Any]:
    """Check the VPC tier; return ids the other checks need."""
    ec2 = emu.client("ec2")
    vpc = one(ec2.describe_vpcs(Filters=tag_filter(Name=NAME))["Vpcs"], "VPC")
    assert_tagged(vpc, "VPC")
    vpc_id = vpc["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]

    subnets = ec2.describe_subnets(Filters=in_vpc)["Subnets"]
    assert len(subnets) == 6, [s["CidrBlock"] for s in subnets]
    by_tier: dict[str, list[dict[str, Any]]] = {}
    for s in subnets:
        assert_tagged(s, f"subnet {s['CidrBlock']}")
        assert not s["MapPublicIpOnLaunch"], f"{s['CidrBlock']} gives public IPs"
        by_tier.setdefault(tags_of(s)["Tier"], []).append(s)
    for tier in ("public", "app", "db"):
        zones = {s["AvailabilityZone"] for s in by_tier[tier]}
        assert len(zones) == 2, f"{tier} subnets must span 2 zones: {zones}"

    igw = one(
        ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
            "InternetGateways"
        ],
        "internet gateway",
    )
    assert_tagged(igw, "internet gateway")
    nats = [
        n
        for n in ec2.describe_nat_gateways(Filters=in_vpc)["NatGateways"]
        if n["State"] in ("pending", "available")
    ]
    nat = one(nats, "NAT gateway")
    public_ids = {s["SubnetId"] for s in by_tier["public"]}
    assert nat["SubnetId"] in public_ids, "the NAT gateway must live in a public subnet"
    nat_tags = ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [nat["NatGatewayId"]]}]
    )["Tags"]
    assert {t["Key"]: t["Value"] for t in nat_tags}.get("Project") == "stockroom"

    tables = {
        tags_of(rt).get("Name"): rt
        for rt in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
        if not any(a.get("Main") for a in rt.get("Associations", []))
    }
    assert set(tables) == {f"{NAME}-public", f"{NAME}-app", f"{NAME}-db"}, set(tables)

    def routes(name: str) -> dict[str, str]:
        out = {}
        for r in tables[name]["Routes"]:
            out[r.get("DestinationCidrBlock", "")] = r.get("GatewayId") or r.get("NatGatewayId", "")
        return out

    def associated(name: str) -> set[str]:
        return {a["SubnetId"] for a in tables[name]["Associations"] if a.get("SubnetId")}

    assert routes(f"{NAME}-public")["0.0.0.0/0"] == igw["InternetGatewayId"]
    assert routes(f"{NAME}-app")["0.0.0.0/0"] == nat["NatGatewayId"]
    assert "0.0.0.0/0" not in routes(f"{NAME}-db"), "DB subnets must not route out"
    for tier in ("public", "app", "db"):
        assert associated(f"{NAME}-{tier}") == {s["SubnetId"] for s in by_tier[tier]}

    groups = {
        g["GroupName"]: g for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
    }
    default = groups["default"]
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == [], (
        "the default security group must have no rules"
    )
    alb, app, db = groups[f"{NAME}-alb"], groups[f"{NAME}-app"], groups[f"{NAME}-db"]
    for g in (alb, app, db):
        assert_tagged(g, g["GroupName"])
    assert rules(alb["IpPermissions"]) == {
        ("tcp", 80, 80, "0.0.0.0/0"),
        ("tcp", 443, 443, "0.0.0.0/0"),
    }
    app_cidrs = {s["CidrBlock"] for s in by_tier["app"]}
    assert rules(alb["IpPermissionsEgress"]) == {("tcp", 8000, 8000, c) for c in app_cidrs}
    # App port only from the ALB's group: no CIDR source at all, and no SSH anywhere.
    assert rules(app["IpPermissions"]) == {("tcp", 8000, 8000, alb["GroupId"])}
    assert rules(db["IpPermissions"]) == {("tcp", 3306, 3306, app["GroupId"])}
    assert rules(db["IpPermissionsEgress"]) == set()
    for g in groups.values():
        for _proto, low, high, _src in rules(g["IpPermissions"]):
            assert not (low <= 22 <= high), f"{g['GroupName']} opens SSH"
    return {
        "vpc_id": vpc_id,
        "subnets": {t: sorted(s["SubnetId"] for s in v) for t, v in by_tier.items()},
        "sg": {"alb": alb["GroupId"], "app": app["GroupId"], "db": db["GroupId"]},
    }


def rules(permissions: list[dict[str, Any]]) -> set[tuple[str, int, int, str]]:
    """Flatten IpPermissions into (proto, from, to, source) tuples."""
    out = set()
    for p in permissions:
        key = (p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1))
        for r in p.get("IpRanges", []):
            out.add((*key, r["CidrIp"]))
        for g in p.get("UserIdGroupPairs", []):
            out.add((*key, g["GroupId"]))
    return out


# The DB parameter group of the engine family (mysql8.4) that requires TLS.
PARAMETER_GROUP = f"{NAME}-db-mysql8-4"


def database(emu: Emulator, net: dict[str, Any]) -> None:
    rds = emu.client("rds")
    db = one(
        rds.describe_db_instances(DBInstanceIdentifier=f"{NAME}-db")["DBInstances"], "DB instance"
    )
    assert db["Engine"] == "mysql" and db["EngineVersion"].startswith("8.")
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True
    assert db["BackupRetentionPeriod"] >= 1
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [net["sg"]["db"]]
    subnet_ids = sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"])
    assert subnet_ids == net["subnets"]["db"], "the DB must live in the private DB subnets"
    tags = {t["Key"]: t["Value"] for t in db.get("TagList", [])}
    assert tags.get("Project") == "stockroom" and tags.get("Environment") == "local"
    sm = emu.client("secretsmanager")
    secret = sm.describe_secret(SecretId=f"{NAME}/db-master")
    assert_tagged(secret, "secret")
    # Issue 16 item 12: the app's own database users and secret key, each its own secret.
    for name, value in own_secrets(emu).items():
        assert_tagged(sm.describe_secret(SecretId=name), name)
        if name.endswith("/app-secret-key"):
            assert len(value) == 64 and int(value, 16) >= 0, "the secret key is 64 hex digits"
        elif name.endswith("/first-admin"):  # issue 20 item 2
            assert len(value) == 24 and value.isalnum(), "the first admin's password"
        else:
            doc = json.loads(value)
            assert set(doc) == {"username", "password"} and len(doc["password"]) == 32, name
    users = [json.loads(v)["username"] for n, v in own_secrets(emu).items() if "/db-" in n]
    assert sorted(users) == ["stockroom_app", "stockroom_migrate"]
    assert secret_value(emu)["username"] not in users, "the app never uses the master user"
    # Item 13: the instance runs with a parameter group that requires TLS.
    groups = [g["DBParameterGroupName"] for g in db["DBParameterGroups"]]
    assert groups == [PARAMETER_GROUP], groups
    params = rds.describe_db_parameters(DBParameterGroupName=groups[0])["Parameters"]
    tls = one([p for p in params if p["ParameterName"] == "require_secure_transport"], "param")
    assert tls["ParameterValue"] == "1", tls


OWN_SECRETS = ("db-app", "db-migrate", "app-secret-key", "first-admin")


def own_secrets(emu: Emulator) -> dict[str, str]:
    """The app's own secrets (name -> value) besides the master one."""
    sm = emu.client("secretsmanager")
    return {
        f"{NAME}/{s}": sm.get_secret_value(SecretId=f"{NAME}/{s}")["SecretString"]
        for s in OWN_SECRETS
    }


def secret_value(emu: Emulator) -> dict[str, Any]:

    value = emu.client("secretsmanager").get_secret_value(SecretId=f"{NAME}/db-master")
    return json.loads(value["SecretString"])


def compute(emu: Emulator, net: dict[str, Any], versions: int = 1) -> dict[str, Any]:
    """The app tier as the role makes it; `versions`: the launch template's (a rerun adds none)."""

    ec2, asg_api, elb = emu.client("ec2"), emu.client("autoscaling"), emu.client("elbv2")
    lt = one(
        ec2.describe_launch_templates(LaunchTemplateNames=[f"{NAME}-app"])["LaunchTemplates"],
        "launch template",
    )
    # The emulator leaves tags out of DescribeLaunchTemplates; DescribeTags has them.
    lt_tags = ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [lt["LaunchTemplateId"]]}]
    )["Tags"]
    assert_tagged({"Tags": lt_tags}, "launch template")
    data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])[
        "LaunchTemplateVersions"
    ]
    assert len(data) == versions, "reruns must not add launch template versions"
    spec = max(data, key=lambda v: v["VersionNumber"])["LaunchTemplateData"]
    meta = spec["MetadataOptions"]
    assert meta["HttpTokens"] == "required" and int(meta["HttpPutResponseHopLimit"]) == 1
    nic = one(spec["NetworkInterfaces"], "network interface")
    assert nic["AssociatePublicIpAddress"] is False
    assert nic["Groups"] == [net["sg"]["app"]]
    root = one(spec["BlockDeviceMappings"], "block device")["Ebs"]
    assert root["Encrypted"] is True and root["VolumeType"] == "gp3"
    profile = spec["IamInstanceProfile"]
    assert profile.get("Name") == f"{NAME}-app" or profile.get("Arn", "").endswith(f"/{NAME}-app")
    user_data = base64.b64decode(spec["UserData"]).decode()
    assert "password" not in user_data.lower()
    # Issue 15 item 9: 1-minute metrics, as the 60-s CPU alarms need.
    assert spec["Monitoring"] == {"Enabled": True}
    # Item 5: the node's liveness check (/healthz, no database) is what reports a dead app.
    # The image's liveness timer (role stockroom_app) is switched to marking the instance unhealthy.
    assert "STOCKROOM_LIVENESS_URL=http://127.0.0.1:8000/healthz" in user_data
    assert "STOCKROOM_LIVENESS_ACTION=asg" in user_data

    group = one(
        asg_api.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{NAME}-app"])[
            "AutoScalingGroups"
        ],
        "Auto Scaling Group",
    )
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (3, 5, 3)
    # Item 5: EC2 health - a database outage (every /readyz failing) never replaces the fleet.
    assert group["HealthCheckType"] == "EC2" and group["HealthCheckGracePeriod"] > 0
    assert sorted(group["VPCZoneIdentifier"].split(",")) == net["subnets"]["app"]
    tg = one(elb.describe_target_groups(Names=[f"{NAME}-app"])["TargetGroups"], "target group")
    assert group["TargetGroupARNs"] == [tg["TargetGroupArn"]]
    assert tg["HealthCheckPath"] == "/readyz" and tg["VpcId"] == net["vpc_id"]
    lb = one(elb.describe_load_balancers(Names=[NAME])["LoadBalancers"], "load balancer")
    assert lb["Scheme"] == "internet-facing" and lb["SecurityGroups"] == [net["sg"]["alb"]]
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == net["subnets"]["public"]
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    http = one([li for li in listeners if li["Port"] == 80], "HTTP listener")
    assert http["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    for arn in (lb["LoadBalancerArn"], tg["TargetGroupArn"]):
        tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]
        assert_tagged(tags, arn)

    iam = emu.client("iam")
    role = f"{NAME}-app"
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonSSMManagedInstanceCore"]
    health = iam.get_role_policy(RoleName=role, PolicyName="report-own-health")["PolicyDocument"]
    allowed = one(health["Statement"], "health policy statement")
    assert allowed["Action"] == "autoscaling:SetInstanceHealth"
    assert allowed["Resource"].endswith(f":autoScalingGroupName/{NAME}-app")
    profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]
    policy = iam.get_role_policy(RoleName=role, PolicyName="read-db-secret")["PolicyDocument"]
    statement = one(policy["Statement"], "policy statement")
    assert sorted(statement["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    # Exactly the node's five secrets (issue 16 item 12, issue 20 item 2), each by name plus AWS's
    # random suffix.
    resources = sorted(r.split(":secret:")[1] for r in statement["Resource"])
    names = ["db-master", *OWN_SECRETS]
    assert resources == sorted(f"{NAME}/{s}-??????" for s in names), resources
    assert all(r.startswith("arn:aws:secretsmanager:") for r in statement["Resource"])
    # Issue 17: the app may publish its low-stock events to the stock topic and to nothing else,
    # and the user data hands the topic's ARN to the app.
    stock = iam.get_role_policy(RoleName=role, PolicyName="publish-stock-events")["PolicyDocument"]
    allowed = one(stock["Statement"], "stock policy statement")
    assert allowed["Action"] == "sns:Publish" and allowed["Resource"] == stock_topic_arn(emu)
    assert f"Environment=STOCKROOM_STOCK_TOPIC_ARN={stock_topic_arn(emu)}\n" in user_data
    return {"asg": group["AutoScalingGroupName"], "tg": tg["TargetGroupArn"]}


def stock_topic_arn(emu: Emulator) -> str:
    """The ARN the stack's low-stock topic has (or will have: compute runs before monitoring)."""
    account = emu.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:sns:{emu.region}:{account}:{NAME}-stock"


def alerts_topic(emu: Emulator) -> str:
    """The ARN of the stack's one alerts topic."""
    topics = [t["TopicArn"] for t in emu.client("sns").list_topics()["Topics"]]
    return one([t for t in topics if t.endswith(f":{NAME}-alerts")], "alerts topic")


def monitoring(emu: Emulator) -> dict[str, Any]:
    sns, cw, asg_api = emu.client("sns"), emu.client("cloudwatch"), emu.client("autoscaling")
    topic = alerts_topic(emu)
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]}
    assert tags.get("Project") == "stockroom"
    policies = {
        p["PolicyName"]: p
        for p in asg_api.describe_policies(AutoScalingGroupName=f"{NAME}-app")["ScalingPolicies"]
    }
    out, into = policies[f"{NAME}-scale-out"], policies[f"{NAME}-scale-in"]
    assert (out["ScalingAdjustment"], into["ScalingAdjustment"]) == (1, -1)
    alarms = {
        a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=f"{NAME}-")["MetricAlarms"]
    }
    high, low = alarms[f"{NAME}-cpu-high"], alarms[f"{NAME}-cpu-low"]
    assert (high["Threshold"], high["EvaluationPeriods"], high["Period"]) == (70, 2, 60)
    assert high["ComparisonOperator"] == "GreaterThanThreshold"
    assert (low["Threshold"], low["Period"] * low["EvaluationPeriods"]) == (30, 600)
    assert low["ComparisonOperator"] == "LessThanThreshold"
    assert sorted(high["AlarmActions"]) == sorted([out["PolicyARN"], topic])
    # Item 13: cpu-low scales in and mails nobody (it flips on every idle swing).
    assert (low["AlarmActions"], low["OKActions"]) == ([into["PolicyARN"]], [])
    for name in ("alb-5xx", "unhealthy-hosts", "rds-cpu", "rds-free-storage", "cpu-high"):
        alarm = alarms[f"{NAME}-{name}"]
        assert topic in alarm["AlarmActions"] and alarm["OKActions"] == [topic], name
    unhealthy = alarms[f"{NAME}-unhealthy-hosts"]
    assert unhealthy["MetricName"] == "UnHealthyHostCount" and unhealthy["Threshold"] == 0
    topic_publishers_scoped(emu, topic, NAME)
    # Issue 17: the low-stock topic, with the warehouse mailbox subscribed (pending confirmation).
    stock = stock_topic_arn(emu)
    subs = sns.list_subscriptions_by_topic(TopicArn=stock)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "warehouse@example.com")]
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=stock)["Tags"]}
    assert tags.get("Project") == "stockroom"
    events = emu.client("events")
    rule = events.describe_rule(Name=f"{NAME}-asg-events")
    assert "aws.autoscaling" in rule["EventPattern"] and "Launch" in rule["EventPattern"]
    targets = events.list_targets_by_rule(Rule=f"{NAME}-asg-events")["Targets"]
    assert [t["Arn"] for t in targets] == [topic]
    return {"topic": topic, "scale_out": out["PolicyARN"], "scale_in": into["PolicyARN"]}


def topic_publishers_scoped(emu: Emulator, topic: str, name: str) -> None:
    """Issue 15 item 13: AWS services may publish to the topic only for this account and the
    stack's own event rule and alarms (aws:SourceAccount and aws:SourceArn conditions)."""
    attributes = emu.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    account = topic.split(":")[4]
    services = [
        st for st in json.loads(attributes["Policy"])["Statement"] if "Service" in st["Principal"]
    ]
    assert {st["Principal"]["Service"] for st in services} == {
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }
    for st in services:
        assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": account}, st
        (source,) = [v["aws:SourceArn"] for v in st["Condition"].values() if "aws:SourceArn" in v]
        assert source.split(":")[4] == account and f"{name}-" in source, st


def leftovers(emu: Emulator) -> list[str]:
    """Everything of this environment still present (tagged, or named with the stack's prefix)."""
    found: list[str] = []
    ec2 = emu.client("ec2")
    env = [{"Name": "tag:Environment", "Values": ["local"]}]
    for call, key, idkey in (
        (ec2.describe_vpcs, "Vpcs", "VpcId"),
        (ec2.describe_subnets, "Subnets", "SubnetId"),
        (ec2.describe_security_groups, "SecurityGroups", "GroupId"),
        (ec2.describe_route_tables, "RouteTables", "RouteTableId"),
        (ec2.describe_internet_gateways, "InternetGateways", "InternetGatewayId"),
        (ec2.describe_addresses, "Addresses", "AllocationId"),
        (ec2.describe_launch_templates, "LaunchTemplates", "LaunchTemplateId"),
    ):
        found += [r[idkey] for r in call(Filters=env)[key]]
    found += [
        n["NatGatewayId"]
        for n in ec2.describe_nat_gateways()["NatGateways"]
        if n["State"] in ("pending", "available")
    ]
    running = ec2.describe_instances(
        Filters=[*env, {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    found += [i["InstanceId"] for r in running for i in r["Instances"]]
    found += [
        d["DBInstanceIdentifier"] for d in emu.client("rds").describe_db_instances()["DBInstances"]
    ]
    found += [
        g["DBSubnetGroupName"]
        for g in emu.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]
    ]
    found += [s["Name"] for s in emu.client("secretsmanager").list_secrets()["SecretList"]]
    found += [
        g["DBParameterGroupName"]
        for g in emu.client("rds").describe_db_parameter_groups()["DBParameterGroups"]
        if g["DBParameterGroupName"].startswith(NAME)
    ]
    elb = emu.client("elbv2")
    found += [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    found += [tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"]]
    found += [
        g["AutoScalingGroupName"]
        for g in emu.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    ]
    found += [t["TopicArn"] for t in emu.client("sns").list_topics()["Topics"]]
    found += [
        a["AlarmName"]
        for a in emu.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{NAME}-")[
            "MetricAlarms"
        ]
    ]
    found += [r["Name"] for r in emu.client("events").list_rules(NamePrefix=NAME)["Rules"]]
    cw = emu.client("cloudwatch")
    found += [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]]
    found += [
        g["logGroupName"]
        for g in emu.client("logs").describe_log_groups(logGroupNamePrefix=f"/{NAME}/")["logGroups"]
    ]
    iam = emu.client("iam")
    found += [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(NAME)]
    found += [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(NAME)
    ]
    tagging = emu.client("resourcegroupstaggingapi")
    tagged = [
        r["ResourceARN"]
        for r in tagging.get_resources(TagFilters=[{"Key": "Environment", "Values": ["local"]}])[
            "ResourceTagMappingList"
        ]
    ]
    # Terminated instances and deleted NAT gateways stay listed (with their tags) for a while, on
    # AWS as on the emulator: they are gone, not left over.
    instances = [a.rsplit("/", 1)[1] for a in tagged if ":instance/" in a]
    gone = set()
    if instances:
        for r in ec2.describe_instances(InstanceIds=instances)["Reservations"]:
            gone |= {i["InstanceId"] for i in r["Instances"] if i["State"]["Name"] == "terminated"}
    gone |= {
        n["NatGatewayId"]
        for n in ec2.describe_nat_gateways()["NatGateways"]
        if n["State"] in ("deleting", "deleted")
    }
    found += [a for a in tagged if a.rsplit("/", 1)[-1] not in gone]
    return sorted(set(found))


def counts(emu: Emulator) -> dict[str, int]:
    """How many of each resource the stack has (a rerun after a crash must not duplicate any)."""
    ec2 = emu.client("ec2")
    env = [{"Name": "tag:Environment", "Values": ["local"]}]
    return {
        "vpcs": len(ec2.describe_vpcs(Filters=env)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=env)["Subnets"]),
        "security_groups": len(ec2.describe_security_groups(Filters=env)["SecurityGroups"]),
        "route_tables": len(ec2.describe_route_tables(Filters=env)["RouteTables"]),
        "internet_gateways": len(ec2.describe_internet_gateways(Filters=env)["InternetGateways"]),
        "nat_gateways": len(
            [
                n
                for n in ec2.describe_nat_gateways()["NatGateways"]
                if n["State"] in ("pending", "available")
            ]
        ),
        "addresses": len(ec2.describe_addresses()["Addresses"]),
        "db_instances": len(emu.client("rds").describe_db_instances()["DBInstances"]),
        "secrets": len(emu.client("secretsmanager").list_secrets()["SecretList"]),
        "load_balancers": len(emu.client("elbv2").describe_load_balancers()["LoadBalancers"]),
        "asgs": len(emu.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]),
        "topics": len(emu.client("sns").list_topics()["Topics"]),
    }


# Issue 17: the dashboard, the log groups, the 5xx metric filter and its alarm, the instance role's
# write access to the groups and the agent configuration in the user data.
DASHBOARD_METRICS = {
    "AWS/ApplicationELB": {
        "RequestCount",
        "HTTPCode_Target_4XX_Count",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_4XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "UnHealthyHostCount",
    },
    "AWS/AutoScaling": {"GroupDesiredCapacity", "GroupInServiceInstances"},
    "AWS/EC2": {"CPUUtilization"},
    "AWS/RDS": {
        "CPUUtilization",
        "DatabaseConnections",
        "FreeStorageSpace",
        "ReadLatency",
        "WriteLatency",
    },
    f"Stockroom/{NAME}": {"App5xxCount"},
}
LOG_GROUPS = {"app": f"/{NAME}/app", "system": f"/{NAME}/system"}
APP_5XX_PATTERN = "{ $.status >= 500 }"


def dashboard_metrics(body: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, stat) of every metric line of the dashboard."""
    out = []
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            options = line[-1] if isinstance(line[-1], dict) else {}
            plain = [x for x in line if not isinstance(x, dict)]
            dims = dict(zip(plain[2::2], plain[3::2], strict=True))
            stat = options.get("stat", widget["properties"].get("stat", ""))
            out.append((plain[0], plain[1], dims, stat))
    return out


def dashboard(emu: Emulator) -> dict[str, Any]:
    """The dashboard <name>: every widget issue 17 asks for, on this stack's resources."""
    cw, elb = emu.client("cloudwatch"), emu.client("elbv2")
    body = json.loads(cw.get_dashboard(DashboardName=NAME)["DashboardBody"])
    lb = one(elb.describe_load_balancers(Names=[NAME])["LoadBalancers"], "load balancer")
    tg = one(elb.describe_target_groups(Names=[f"{NAME}-app"])["TargetGroups"], "target group")
    lb_dim = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    tg_dim = tg["TargetGroupArn"].split(":")[-1]
    metrics = dashboard_metrics(body)
    found: dict[str, set[str]] = {}
    for namespace, metric, dims, _stat in metrics:
        found.setdefault(namespace, set()).add(metric)
        if namespace == "AWS/ApplicationELB":
            assert dims["LoadBalancer"] == lb_dim, (metric, dims)
            if "Host" in metric:
                assert dims["TargetGroup"] == tg_dim, (metric, dims)
        if namespace in ("AWS/AutoScaling", "AWS/EC2"):
            assert dims == {"AutoScalingGroupName": f"{NAME}-app"}, (metric, dims)
        if namespace == "AWS/RDS":
            assert dims == {"DBInstanceIdentifier": f"{NAME}-db"}, (metric, dims)
    assert found == DASHBOARD_METRICS, found
    response = {s for _n, m, _d, s in metrics if m == "TargetResponseTime"}
    assert response == {"p50", "p99"}
    cpu = next(
        w
        for w in body["widgets"]
        if any(line[1] == "CPUUtilization" for line in w["properties"].get("metrics", []))
        and w["properties"]["metrics"][0][0] == "AWS/EC2"
    )
    assert [a["value"] for a in cpu["properties"]["annotations"]["horizontal"]] == [70]
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = alarm_widget["properties"]["alarms"]
    names = [a.split(":alarm:")[1] for a in alarms]
    assert set(names) == {
        f"{NAME}-{n}"
        for n in (
            "cpu-high",
            "cpu-low",
            "alb-5xx",
            "unhealthy-hosts",
            "app-5xx",
            "rds-cpu",
            "rds-free-storage",
        )
    }
    existing = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(a["AlarmArn"] for a in existing) == sorted(alarms), "alarm widget ARNs"
    assert not [w for w in body["widgets"] if "WAF" in w["properties"].get("title", "")]
    return body


def logs(emu: Emulator) -> None:
    """The log groups (retention 30, tags), the 5xx metric filter and the alarm to the topic."""
    cwl = emu.client("logs")
    groups = {
        g["logGroupName"]: g
        for g in cwl.describe_log_groups(logGroupNamePrefix=f"/{NAME}/")["logGroups"]
    }
    assert set(groups) == set(LOG_GROUPS.values()), set(groups)
    for name, group in groups.items():
        assert group.get("retentionInDays") == 30, (name, group)
        tags = cwl.list_tags_log_group(logGroupName=name)["tags"]
        assert {k: tags.get(k) for k in TAGS} == TAGS, (name, tags)
    (metric_filter,) = cwl.describe_metric_filters(logGroupName=LOG_GROUPS["app"])["metricFilters"]
    assert metric_filter["filterName"] == f"{NAME}-app-5xx"
    assert metric_filter["filterPattern"] == APP_5XX_PATTERN
    (transformation,) = metric_filter["metricTransformations"]
    assert (transformation["metricNamespace"], transformation["metricName"]) == (
        f"Stockroom/{NAME}",
        "App5xxCount",
    )
    assert (transformation["metricValue"], transformation.get("defaultValue")) == ("1", 0.0)
    assert cwl.describe_metric_filters(logGroupName=LOG_GROUPS["system"])["metricFilters"] == []
    cw = emu.client("cloudwatch")
    alarm = one(cw.describe_alarms(AlarmNames=[f"{NAME}-app-5xx"])["MetricAlarms"], "app 5xx alarm")
    topic = alerts_topic(emu)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        f"Stockroom/{NAME}",
        "App5xxCount",
        "Sum",
    )
    assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (10, 300, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert (alarm["AlarmActions"], alarm["OKActions"]) == ([topic], [topic])


def agent_config(user_data: str) -> dict[str, Any]:
    """The CloudWatch agent configuration the user data writes (between <<'JSON' and JSON)."""
    start = user_data.index("<<'JSON'\n") + len("<<'JSON'\n")
    end = user_data.index("\nJSON\n", start)
    return dict(json.loads(user_data[start:end]))


def node_logging(emu: Emulator) -> dict[str, Any]:
    """The instance role writes only to the two groups; the user data configures the agent."""
    iam, ec2 = emu.client("iam"), emu.client("ec2")
    policy = iam.get_role_policy(RoleName=f"{NAME}-app", PolicyName="write-logs")["PolicyDocument"]
    statement = one(policy["Statement"], "write-logs statement")
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    resources = statement["Resource"]
    assert sorted(r.split(":log-group:")[1] for r in resources) == sorted(
        f"{g}:*" for g in LOG_GROUPS.values()
    ), resources
    assert all(r.startswith("arn:aws:logs:eu-west-1:") for r in resources), resources
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=f"{NAME}-app")
    newest = max(versions["LaunchTemplateVersions"], key=lambda v: v["VersionNumber"])
    data = newest["LaunchTemplateData"]
    config = agent_config(base64.b64decode(data["UserData"]).decode())
    collected = config["logs"]["logs_collected"]
    (files,) = collected["files"]["collect_list"]
    assert (files["file_path"], files["log_group_name"]) == (
        "/var/log/stockroom/requests.log",
        LOG_GROUPS["app"],
    )
    (journal,) = collected["journald"]["collect_list"]
    assert journal["log_group_name"] == LOG_GROUPS["system"]
    return config
