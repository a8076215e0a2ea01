"""Assertions on the provisioned stack, read back through boto3 from the emulator."""

from __future__ import annotations

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
