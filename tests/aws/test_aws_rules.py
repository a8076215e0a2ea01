"""The emulator refuses what AWS refuses (tests/aws/aws_rules.py) and allows what AWS allows."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from awsstack import AMI, Emulator
from botocore.exceptions import ClientError


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture
def subnets(emulator: Emulator) -> list[str]:
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=z)["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate(zones)
    ]


def mysql_instance(rds: Any, name: str, **extra: Any) -> dict[str, Any]:
    """A small MySQL instance on the emulator, with the given extra CreateDBInstance settings."""
    return rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="mysql",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        **extra,
    )["DBInstance"]


def test_a_protected_load_balancer_is_not_deleted(emulator: Emulator, subnets: list[str]) -> None:
    elb = emulator.client("elbv2")
    arn = elb.create_load_balancer(Name="rules-protected", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    protect = [{"Key": "deletion_protection.enabled", "Value": "true"}]
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=protect)
    with pytest.raises(ClientError) as refused:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    code, message = error_of(refused)
    assert code == "OperationNotPermitted" and "deletion protection" in message
    assert elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]

    protect[0]["Value"] = "false"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=protect)
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert not [
        lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerArn"] == arn
    ]


def test_a_lower_engine_version_is_refused(emulator: Emulator) -> None:
    rds = emulator.client("rds")
    mysql_instance(rds, "rules-db", EngineVersion="8.0.41")
    with pytest.raises(ClientError) as refused:
        rds.modify_db_instance(DBInstanceIdentifier="rules-db", EngineVersion="8.0.40")
    assert error_of(refused) == (
        "InvalidParameterCombination",
        "Cannot upgrade mysql from 8.0.41 to 8.0.40",
    )
    # The same major version alone and a higher minor are upgrades AWS accepts.
    rds.modify_db_instance(DBInstanceIdentifier="rules-db", EngineVersion="8.0")
    rds.modify_db_instance(DBInstanceIdentifier="rules-db", EngineVersion="8.0.42")
    db = rds.describe_db_instances(DBInstanceIdentifier="rules-db")["DBInstances"][0]
    assert db["EngineVersion"] == "8.0.42"
    rds.delete_db_instance(DBInstanceIdentifier="rules-db", SkipFinalSnapshot=True)


def test_desired_capacity_outside_min_max_is_refused(
    emulator: Emulator, subnets: list[str]
) -> None:
    ec2, asg = emulator.client("ec2"), emulator.client("autoscaling")
    ec2.create_launch_template(
        LaunchTemplateName="rules-lt",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    group: dict[str, Any] = {"AutoScalingGroupName": "rules-asg"}
    asg.create_auto_scaling_group(
        **group,
        LaunchTemplate={"LaunchTemplateName": "rules-lt"},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
        VPCZoneIdentifier=",".join(subnets),
    )
    for desired in (4, 0):
        with pytest.raises(ClientError) as refused:
            asg.set_desired_capacity(**group, DesiredCapacity=desired)
        assert error_of(refused)[0] == "ValidationError", desired
        with pytest.raises(ClientError) as refused:
            asg.update_auto_scaling_group(**group, DesiredCapacity=desired)
        assert error_of(refused)[0] == "ValidationError", desired
    with pytest.raises(ClientError) as refused:
        asg.update_auto_scaling_group(**group, MinSize=4)
    assert error_of(refused)[0] == "ValidationError"

    asg.set_desired_capacity(**group, DesiredCapacity=3)
    # A new max alone below the current size moves the desired capacity down (AWS and moto).
    asg.update_auto_scaling_group(**group, MaxSize=2)
    now = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["rules-asg"])
    assert now["AutoScalingGroups"][0]["DesiredCapacity"] == 2
    asg.delete_auto_scaling_group(**group, ForceDelete=True)
    ec2.delete_launch_template(LaunchTemplateName="rules-lt")


def test_a_new_load_balancer_reports_every_attribute(
    emulator: Emulator, subnets: list[str]
) -> None:
    elb = emulator.client("elbv2")
    arn = elb.create_load_balancer(Name="rules-attributes", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    found = {a["Key"]: a["Value"] for a in attrs}
    assert found["routing.http.drop_invalid_header_fields.enabled"] == "false"
    assert (found["routing.http2.enabled"], found["idle_timeout.timeout_seconds"]) == ("true", "60")
    elb.delete_load_balancer(LoadBalancerArn=arn)


def test_a_gp3_instance_reports_its_baseline_throughput_and_iops(emulator: Emulator) -> None:
    rds = emulator.client("rds")
    db = mysql_instance(rds, "rules-gp3", StorageType="gp3")
    assert (db["StorageThroughput"], db["Iops"]) == (125, 3000)
    rds.delete_db_instance(DBInstanceIdentifier="rules-gp3", SkipFinalSnapshot=True)


def test_a_parameter_group_lists_its_family_defaults_and_refuses_unknown_ones(
    emulator: Emulator,
) -> None:
    rds = emulator.client("rds")
    with pytest.raises(ClientError) as missing:
        rds.describe_db_parameter_groups(DBParameterGroupName="rules-pg")
    assert error_of(missing)[0] == "DBParameterGroupNotFound"
    rds.create_db_parameter_group(
        DBParameterGroupName="rules-pg", DBParameterGroupFamily="mysql8.4", Description="rules"
    )
    params = rds.describe_db_parameters(DBParameterGroupName="rules-pg")["Parameters"]
    tls = [p for p in params if p["ParameterName"] == "require_secure_transport"]
    assert tls and "ParameterValue" not in tls[0] and tls[0]["IsModifiable"], params
    with pytest.raises(ClientError) as unknown:
        rds.modify_db_parameter_group(
            DBParameterGroupName="rules-pg",
            Parameters=[
                {"ParameterName": "no_such", "ParameterValue": "1", "ApplyMethod": "immediate"}
            ],
        )
    assert error_of(unknown)[0] == "InvalidParameterValue"
    rds.modify_db_parameter_group(
        DBParameterGroupName="rules-pg",
        Parameters=[
            {
                "ParameterName": "require_secure_transport",
                "ParameterValue": "1",
                "ApplyMethod": "immediate",
            }
        ],
    )
    params = rds.describe_db_parameters(DBParameterGroupName="rules-pg")["Parameters"]
    assert [
        p["ParameterValue"] for p in params if p["ParameterName"] == "require_secure_transport"
    ] == ["1"]
    rds.delete_db_parameter_group(DBParameterGroupName="rules-pg")


def validation_record(emulator: Emulator, arn: str) -> dict[str, str]:
    cert = emulator.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    return dict(cert["DomainValidationOptions"][0]["ResourceRecord"])


def write_cname(emulator: Emulator, zone: str, record: dict[str, str], action: str) -> None:
    emulator.client("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": action,
                    "ResourceRecordSet": {
                        "Name": record["Name"],
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": record["Value"]}],
                    },
                }
            ]
        },
    )


def wait_issued(acm: Any, arn: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while True:
        status = str(acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"])
        if status == "ISSUED" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def test_acm_issues_once_the_record_is_in_the_zone_and_a_listener_needs_it_issued(
    emulator: Emulator, subnets: list[str]
) -> None:
    """A pending certificate stays pending without its CNAME (moto would issue it after a wait
    whatever DNS holds), a listener refuses it (UnsupportedCertificate); once the record is in the
    zone it is issued, and then a listener uses it, which ACM refuses to delete
    (ResourceInUseException) until the listener is gone."""
    acm, elb = emulator.client("acm"), emulator.client("elbv2")
    zone = emulator.client("route53").create_hosted_zone(
        Name="rules.example.net", CallerReference="rules-acm"
    )["HostedZone"]["Id"]
    arn = acm.request_certificate(DomainName="rules.example.net", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    lb = elb.create_load_balancer(Name="rules-https", Subnets=subnets)["LoadBalancers"][0]
    vpc = emulator.client("ec2").describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    tg = elb.create_target_group(Name="rules-https", Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    https = {
        "LoadBalancerArn": lb["LoadBalancerArn"],
        "Protocol": "HTTPS",
        "Port": 443,
        "Certificates": [{"CertificateArn": arn}],
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}],
    }
    record = validation_record(emulator, arn)
    try:
        assert wait_issued(acm, arn, seconds=4) == "PENDING_VALIDATION"
        with pytest.raises(ClientError) as refused:
            elb.create_listener(**https)
        assert error_of(refused)[0] == "UnsupportedCertificate"

        write_cname(emulator, zone, record, "UPSERT")
        assert wait_issued(acm, arn) == "ISSUED"
        listener = elb.create_listener(**https)["Listeners"][0]["ListenerArn"]
        with pytest.raises(ClientError) as in_use:
            acm.delete_certificate(CertificateArn=arn)
        assert error_of(in_use)[0] == "ResourceInUseException"
        elb.delete_listener(ListenerArn=listener)
        acm.delete_certificate(CertificateArn=arn)
    finally:
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
        elb.delete_target_group(TargetGroupArn=tg)
        write_cname(emulator, zone, record, "DELETE")
        emulator.client("route53").delete_hosted_zone(Id=zone)
        with contextlib.suppress(ClientError):
            acm.delete_certificate(CertificateArn=arn)


def test_an_associated_web_acl_is_not_deleted_and_lists_its_resources(
    emulator: Emulator, subnets: list[str]
) -> None:
    """DeleteWebACL refuses a web ACL still on a load balancer (WAFAssociatedItemException);
    ListResourcesForWebACL (missing in moto) names the load balancer, once however often it
    was associated."""
    waf, elb = emulator.client("wafv2"), emulator.client("elbv2")
    lb = elb.create_load_balancer(Name="rules-waf", Subnets=subnets)["LoadBalancers"][0]
    visibility = {
        "SampledRequestsEnabled": False,
        "CloudWatchMetricsEnabled": False,
        "MetricName": "rules-waf",
    }
    acl = waf.create_web_acl(
        Name="rules-waf",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        Rules=[],
        VisibilityConfig=visibility,
    )["Summary"]
    try:
        for _ in range(2):
            waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb["LoadBalancerArn"])
        listed = waf.list_resources_for_web_acl(WebACLArn=acl["ARN"])["ResourceArns"]
        assert listed == [lb["LoadBalancerArn"]]
        token = waf.get_web_acl(Name="rules-waf", Scope="REGIONAL", Id=acl["Id"])["LockToken"]
        with pytest.raises(ClientError) as refused:
            waf.delete_web_acl(Name="rules-waf", Scope="REGIONAL", Id=acl["Id"], LockToken=token)
        assert error_of(refused)[0] == "WAFAssociatedItemException"
        waf.disassociate_web_acl(ResourceArn=lb["LoadBalancerArn"])
        assert waf.list_resources_for_web_acl(WebACLArn=acl["ARN"])["ResourceArns"] == []
        waf.delete_web_acl(Name="rules-waf", Scope="REGIONAL", Id=acl["Id"], LockToken=token)
    finally:
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
