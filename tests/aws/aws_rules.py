"""AWS rules the emulator (moto 5.2.5) lacks and the playbooks depend on, added through moto's own
extension points: each rule patches one moto backend (or response) method, then the patched moto is
served in this process by moto's ThreadedMotoServer.

Only rules AWS has, each with the AWS documentation it follows. To add one: write a function that
patches moto, decorate it with @rule(...) naming the API action and the AWS page it follows, and the
server (and `python tests/aws/aws_rules.py --list`) picks it up.

Run: `python tests/aws/aws_rules.py --port 5000` (what tests/aws/awsstack.py and
scripts/services.sh start instead of plain `moto_server`).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import re
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto import settings as moto_settings
from moto.acm import models as acm_models
from moto.autoscaling import models as autoscaling_models
from moto.autoscaling import responses as autoscaling_responses
from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.cloudwatch import models as cloudwatch_models
from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
from moto.ec2.models import launch_templates as ec2_launch_template_models
from moto.ec2.responses import launch_templates as ec2_launch_template_responses
from moto.elbv2 import models as elbv2_models
from moto.elbv2.exceptions import ELBClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.rds import models as rds_models
from moto.rds.exceptions import (
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    InvalidParameterValue,
)
from moto.route53 import models as route53_models
from moto.wafv2 import models as wafv2_models
from moto.wafv2 import responses as wafv2_responses
from moto.wafv2.exceptions import WAFNonexistentItemException, WAFv2ClientError


@dataclass(frozen=True)
class Rule:
    action: str  # the API action(s) the rule applies to
    summary: str  # what AWS does that moto does not
    doc: str  # the AWS documentation page it follows (title, URL)
    install: Callable[[], None]


RULES: list[Rule] = []
_installed = False


def rule(action: str, summary: str, doc: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a function that patches moto as one AWS rule."""

    def register(install: Callable[[], None]) -> Callable[[], None]:
        RULES.append(Rule(action, summary, doc, install))
        return install

    return register


def install() -> None:
    """Apply every rule once (safe to call again)."""
    global _installed  # noqa: PLW0603 - patches are process-wide, applied once
    if not _installed:
        for r in RULES:
            r.install()
        _installed = True


# --- Elastic Load Balancing ----------------------------------------------------------------------


class OperationNotPermittedError(ELBClientError):
    def __init__(self, message: str) -> None:
        super().__init__("OperationNotPermitted", message)


@rule(
    action="elasticloadbalancing:DeleteLoadBalancer",
    summary="a load balancer with deletion protection on cannot be deleted (OperationNotPermitted)",
    doc=(
        "Application Load Balancers, 'Deletion protection': https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#deletion-protection"
        " ; API_DeleteLoadBalancer (error OperationNotPermitted): https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/APIReference/API_DeleteLoadBalancer.html"
    ),
)
def _deletion_protection() -> None:
    original = elbv2_models.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        lb = self.load_balancers.get(arn)
        if lb is not None and lb.attrs.get("deletion_protection.enabled") == "true":
            raise OperationNotPermittedError(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        original(self, arn)

    elbv2_models.ELBv2Backend.delete_load_balancer = delete_load_balancer


# What an ALB reports before anyone set its attributes (AWS defaults); moto returns only five.
_ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}


@rule(
    action="elasticloadbalancing:DescribeLoadBalancerAttributes",
    summary="an Application Load Balancer reports every attribute, its default until set",
    doc=(
        "Application Load Balancers, 'Load balancer attributes' (each attribute and its default): "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
        "application-load-balancers.html#load-balancer-attributes"
    ),
)
def _alb_attribute_defaults() -> None:
    original = elbv2_models.FakeLoadBalancer.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.type == "application":
            for key, value in _ALB_DEFAULT_ATTRIBUTES.items():
                self.attrs.setdefault(key, value)

    elbv2_models.FakeLoadBalancer.__init__ = __init__


# --- ACM, Route 53 and WAF (HTTPS, DNS and the web ACL of roles/aws_compute) ---------------------

_ACM_DOC = "https://docs.aws.amazon.com/acm/latest/"


class ResourceInUseError(AWSError):
    TYPE = "ResourceInUseException"


class UnsupportedCertificateError(ELBClientError):
    def __init__(self, arn: str) -> None:
        super().__init__(
            "UnsupportedCertificate",
            f"The certificate '{arn}' must have a fully-qualified domain name, a supported "
            "signature, and a supported key size.",
        )


class WAFAssociatedItemError(WAFv2ClientError):
    def __init__(self) -> None:
        super().__init__(
            "WAFAssociatedItemException",
            "AWS WAF couldn't perform the operation because your resource is being used by "
            "another resource or it's associated with another resource.",
        )


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _validation_records_written(cert: Any) -> bool:
    """Whether every CNAME the certificate's DNS validation asks for is in a Route 53 zone of
    the account (the zone's name servers answer it)."""
    account = cert.arn.split(":")[4]
    wanted = {
        (_fqdn(o["ResourceRecord"]["Name"]), _fqdn(o["ResourceRecord"]["Value"]))
        for o in cert.describe()["Certificate"].get("DomainValidationOptions", [])
    }
    written = {
        (_fqdn(r.name), _fqdn(value))
        for zone in route53_models.route53_backends[account]["aws"].zones.values()
        for r in zone.rrsets
        if r.type == "CNAME"
        for value in r.records
    }
    return wanted <= written


@rule(
    action="acm:DescribeCertificate, acm:ListCertificates",
    summary=(
        "a certificate requested with DNS validation stays PENDING_VALIDATION until its "
        "validation CNAME records are in DNS, then becomes ISSUED (moto issues it after "
        "MOTO_ACM_VALIDATION_WAIT seconds whatever DNS holds; here: once the records are in a "
        "Route 53 zone of the account and that wait - 2 s unless the variable is set - passed)"
    ),
    doc=(
        f"'DNS validation' (ACM validates once it finds the CNAME record): {_ACM_DOC}userguide/"
        f"dns-validation.html ; API_RequestCertificate: {_ACM_DOC}APIReference/"
        "API_RequestCertificate.html"
    ),
)
def _acm_dns_validation() -> None:
    if "MOTO_ACM_VALIDATION_WAIT" not in os.environ:
        moto_settings.ACM_VALIDATION_WAIT = 2
    original = acm_models.CertBundle.check

    def check(self: Any) -> None:
        pending = self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION"
        if pending and not _validation_records_written(self):
            return
        original(self)

    acm_models.CertBundle.check = check


@rule(
    action="acm:DeleteCertificate",
    summary=(
        "a certificate a load balancer's listener uses cannot be deleted (ResourceInUseException); "
        "moto deletes it"
    ),
    doc=(
        "API_DeleteCertificate ('You cannot delete an ACM certificate that is being used by "
        f"another AWS service'; error ResourceInUseException): {_ACM_DOC}APIReference/"
        "API_DeleteCertificate.html"
    ),
)
def _certificate_in_use() -> None:
    original = acm_models.AWSCertificateManagerBackend.delete_certificate

    def delete_certificate(self: Any, arn: str) -> None:
        elbv2 = elbv2_models.elbv2_backends[self.account_id][self.region_name]
        for lb in elbv2.load_balancers.values():
            for listener in lb.listeners.values():
                if arn in (listener.certificates or []) or listener.certificate == arn:
                    raise ResourceInUseError(
                        f"Certificate {arn} is in use by {lb.arn}", "ResourceInUseException"
                    )
        original(self, arn)

    acm_models.AWSCertificateManagerBackend.delete_certificate = delete_certificate


def _require_issued(backend: Any, certificates: list[str]) -> None:
    acm = acm_models.acm_backends[backend.account_id][backend.region_name]
    for arn in certificates:
        if arn in acm._certificates and acm.get_certificate(arn).status != "ISSUED":
            raise UnsupportedCertificateError(arn)


@rule(
    action="elasticloadbalancing:CreateListener, elasticloadbalancing:ModifyListener",
    summary=(
        "an HTTPS listener takes only an ACM certificate that is ISSUED (a pending one: "
        "UnsupportedCertificate); moto takes any certificate that exists"
    ),
    doc=(
        "API_CreateListener (error UnsupportedCertificate): https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/APIReference/API_CreateListener.html ; 'SSL certificates for "
        "your Application Load Balancer' (ACM certificates once issued): https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/application/https-listener-certificates.html"
    ),
)
def _listener_needs_an_issued_certificate() -> None:
    create = elbv2_models.ELBv2Backend.create_listener
    modify = elbv2_models.ELBv2Backend.modify_listener

    def create_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
        certificate = kwargs.get("certificate", args[4] if len(args) > 4 else None)
        _require_issued(self, [certificate] if certificate else [])
        return create(self, *args, **kwargs)

    def modify_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
        certificates = kwargs.get("certificates", args[4] if len(args) > 4 else None) or []
        _require_issued(self, [c.get("CertificateArn", "") for c in certificates])
        return modify(self, *args, **kwargs)

    elbv2_models.ELBv2Backend.create_listener = create_listener
    elbv2_models.ELBv2Backend.modify_listener = modify_listener


_WAF_DOC = "https://docs.aws.amazon.com/waf/latest/APIReference/"


@rule(
    action="wafv2:DeleteWebACL",
    summary=(
        "a web ACL still associated with a resource (a load balancer) cannot be deleted "
        "(WAFAssociatedItemException); moto deletes it"
    ),
    doc=(
        f"API_DeleteWebACL ('Before deleting any web ACL, first disassociate it from all "
        f"resources'; error WAFAssociatedItemException): {_WAF_DOC}API_DeleteWebACL.html"
    ),
)
def _web_acl_in_use() -> None:
    original = wafv2_models.WAFV2Backend.delete_web_acl

    def delete_web_acl(self: Any, name: str, scope: str, _id: str, lock_token: str) -> None:
        for acl in self.wacls.values():
            if acl.name == name and acl.id == _id and acl.associated_resources:
                raise WAFAssociatedItemError()
        original(self, name, scope, _id, lock_token)

    wafv2_models.WAFV2Backend.delete_web_acl = delete_web_acl


@rule(
    action="wafv2:ListResourcesForWebACL, wafv2:AssociateWebACL",
    summary=(
        "lists the resources a web ACL protects (of ResourceType, APPLICATION_LOAD_BALANCER when "
        "omitted; moto lacks the action: HTTP 500); associating a resource moves it from any "
        "other web ACL, and associating it again changes nothing (moto lists it twice)"
    ),
    doc=(
        f"API_ListResourcesForWebACL: {_WAF_DOC}API_ListResourcesForWebACL.html ; "
        f"API_AssociateWebACL (one web ACL per resource): {_WAF_DOC}API_AssociateWebACL.html"
    ),
)
def _list_resources_for_web_acl() -> None:
    associate = wafv2_models.WAFV2Backend.associate_web_acl
    kinds = {
        "APPLICATION_LOAD_BALANCER": ":elasticloadbalancing:",
        "API_GATEWAY": ":apigateway:",
        "APPSYNC": ":appsync:",
        "COGNITO_USER_POOL": ":cognito-idp:",
        "APP_RUNNER_SERVICE": ":apprunner:",
        "VERIFIED_ACCESS_INSTANCE": ":ec2:",
    }

    def associate_web_acl(self: Any, web_acl_arn: str, resource_arn: str) -> None:
        if web_acl_arn in self.wacls:
            for acl in self.wacls.values():
                while resource_arn in acl.associated_resources:
                    acl.associated_resources.remove(resource_arn)
        associate(self, web_acl_arn, resource_arn)

    def list_resources_for_web_acl(self: Any) -> Any:
        body = json.loads(self.body)
        acl = self.wafv2_backend.wacls.get(body["WebACLArn"])
        if acl is None:
            raise WAFNonexistentItemException()
        mark = kinds.get(body.get("ResourceType") or "APPLICATION_LOAD_BALANCER", ":")
        found = [arn for arn in acl.associated_resources if mark in arn]
        return 200, {"Content-Type": "application/json"}, json.dumps({"ResourceArns": found})

    wafv2_models.WAFV2Backend.associate_web_acl = associate_web_acl
    wafv2_responses.WAFV2Response.list_resources_for_web_acl = list_resources_for_web_acl


# --- RDS -----------------------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    """'8.0.41' -> (8, 0, 41); a suffix such as '-rds.2025' is ignored."""
    return tuple(int(n) for n in re.findall(r"\d+", text.split("-", maxsplit=1)[0]))


@rule(
    action="rds:ModifyDBInstance",
    summary=(
        "EngineVersion lower than the running one is refused (InvalidParameterCombination "
        "'Cannot upgrade mysql from 8.0.41 to 8.0.40'); a major version alone ('8.4') is accepted"
    ),
    doc=(
        "API_ModifyDBInstance, EngineVersion ('The version number of the database engine to "
        "upgrade to ... If you specify only a major version, Amazon RDS updates the DB instance to "
        "the default minor version if the current minor version is lower'): "
        "https://docs.aws.amazon.com/AmazonRDS/"
        "latest/APIReference/API_ModifyDBInstance.html ; 'Upgrading the MySQL DB engine': "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.MySQL.html"
    ),
)
def _no_engine_downgrade() -> None:
    original = rds_models.RDSBackend.modify_db_instance

    def modify_db_instance(self: Any, db_id: str, db_kwargs: dict[str, Any]) -> Any:
        wanted = db_kwargs.get("engine_version")
        if wanted:
            db = self.describe_db_instances(db_id)[0]
            now, new = _version(db.engine_version), _version(wanted)
            major_only = len(new) == 2 and now[:2] == new
            if new < now and not major_only:
                raise InvalidParameterCombination(
                    f"Cannot upgrade {db.engine} from {db.engine_version} to {wanted}"
                )
            if major_only:
                db_kwargs = {k: v for k, v in db_kwargs.items() if k != "engine_version"}
        return original(self, db_id, db_kwargs)

    rds_models.RDSBackend.modify_db_instance = modify_db_instance


@rule(
    action="rds:DescribeDBInstances",
    summary=(
        "a gp3 instance reports its baseline StorageThroughput and Iops (125 MiBps / 3000 below "
        "400 GiB, 500 / 12000 from 400 GiB for MySQL); moto reports neither"
    ),
    doc=(
        "Amazon RDS DB instance storage, 'gp3 storage' (baseline performance by engine and size): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage"
    ),
)
def _gp3_baseline() -> None:
    stored = rds_models.DBInstance.storage_throughput

    def baseline(db: Any) -> tuple[int, int]:
        return (500, 12000) if int(db.allocated_storage or 0) >= 400 else (125, 3000)

    def get_throughput(self: Any) -> int | None:
        value = stored.fget(self)
        if value is None and self.storage_type == "gp3":
            return baseline(self)[0]
        return value

    rds_models.DBInstance.storage_throughput = property(get_throughput, stored.fset)
    original = rds_models.DBInstance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.storage_type == "gp3" and not self.iops:
            self.iops = baseline(self)[1]

    rds_models.DBInstance.__init__ = __init__


# Engine defaults of the MySQL families' parameters the playbooks set (AWS lists every parameter of
# the family; these are the ones roles/aws_database reads, as DescribeDBParameters reports them).
_MYSQL_DEFAULT_PARAMETERS = {
    "require_secure_transport": {
        "ParameterName": "require_secure_transport",
        "Description": "Connections using insecure transport are rejected when enabled.",
        "Source": "engine-default",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "IsModifiable": True,
        "ApplyMethod": "pending-reboot",
    },
}


@rule(
    action=(
        "rds:CreateDBParameterGroup, rds:DescribeDBParameterGroups, rds:DescribeDBParameters, "
        "rds:ModifyDBParameterGroup"
    ),
    summary=(
        "a new MySQL parameter group lists its family's parameters at their engine defaults (no "
        "ParameterValue, Source engine-default); modifying a parameter the family lacks is refused "
        "(InvalidParameterValue); describing a missing group is DBParameterGroupNotFound; moto "
        "starts a group empty, accepts any name and describes a missing group as no groups"
    ),
    doc=(
        "Working with DB parameter groups, 'Creating a DB parameter group' and "
        "API_ModifyDBParameterGroup: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
        "USER_WorkingWithParamGroups.html"
    ),
)
def _parameter_group_defaults() -> None:
    create = rds_models.RDSBackend.create_db_parameter_group
    modify = rds_models.RDSBackend.modify_db_parameter_group

    def create_db_parameter_group(self: Any, kwargs: dict[str, Any]) -> Any:
        group = create(self, kwargs)
        if (group.family or "").startswith("mysql"):
            for name, param in _MYSQL_DEFAULT_PARAMETERS.items():
                group.parameters[name] = copy.deepcopy(param)
        return group

    def modify_db_parameter_group(self: Any, name: str, parameters: Any) -> Any:
        parameters = list(parameters)
        group = self.db_parameter_groups.get(name)
        if group is not None and (group.family or "").startswith("mysql"):
            for p in parameters:
                if p["ParameterName"] not in group.parameters:
                    raise InvalidParameterValue(
                        f"Could not find parameter with name: {p['ParameterName']}"
                    )
                p["Source"] = "user"  # a value set on the group, no longer the engine's default
        return modify(self, name, parameters)

    describe = rds_models.RDSBackend.describe_db_parameter_groups

    def describe_db_parameter_groups(self: Any, kwargs: dict[str, Any]) -> Any:
        found = describe(self, kwargs)
        name = kwargs.get("db_parameter_group_name")
        if name and not found:
            raise DBParameterGroupNotFoundError(name)
        return found

    rds_models.RDSBackend.create_db_parameter_group = create_db_parameter_group
    rds_models.RDSBackend.modify_db_parameter_group = modify_db_parameter_group
    rds_models.RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups


# --- Auto Scaling --------------------------------------------------------------------------------


@rule(
    action="autoscaling:SetDesiredCapacity",
    summary="a desired capacity outside [MinSize, MaxSize] is refused (ValidationError)",
    doc=(
        "API_SetDesiredCapacity: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/"
        "API_SetDesiredCapacity.html ; 'Set scaling limits for your Auto Scaling group' (the "
        "desired capacity must be within the minimum and maximum): "
        "https://docs.aws.amazon.com/autoscaling/"
        "ec2/userguide/asg-capacity-limits.html"
    ),
)
def _set_desired_within_limits() -> None:
    # The API action only: moto's own scaling paths (ExecutePolicy, deleting a group) call the
    # backend method too, and AWS clamps those instead of refusing them.
    original = autoscaling_responses.AutoScalingResponse.set_desired_capacity

    def set_desired_capacity(self: Any) -> Any:
        name = self._get_param("AutoScalingGroupName")
        desired = self._get_int_param("DesiredCapacity")
        group = self.autoscaling_backend.autoscaling_groups.get(name)
        if group is not None and desired is not None:
            if desired > group.max_size:
                raise AutoScalingValidationError(
                    f"New SetDesiredCapacity value {desired} is above max value "
                    f"{group.max_size} for the AutoScalingGroup."
                )
            if desired < group.min_size:
                raise AutoScalingValidationError(
                    f"New SetDesiredCapacity value {desired} is below min value "
                    f"{group.min_size} for the AutoScalingGroup."
                )
        return original(self)

    autoscaling_responses.AutoScalingResponse.set_desired_capacity = set_desired_capacity


@rule(
    action="autoscaling:UpdateAutoScalingGroup",
    summary=(
        "the resulting MinSize <= DesiredCapacity <= MaxSize must hold (ValidationError); a new "
        "min or max alone moves the desired capacity into the range (moto already does that part)"
    ),
    doc=(
        "API_UpdateAutoScalingGroup ('DesiredCapacity ... must be greater than or equal to the "
        "minimum size of the group and less than or equal to the maximum size'): "
        "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html"
    ),
)
def _update_within_limits() -> None:
    original = autoscaling_models.AutoScalingBackend.update_auto_scaling_group

    def update_auto_scaling_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        group = self.autoscaling_groups.get(name)
        if group is not None:
            low = kwargs.get("min_size")
            high = kwargs.get("max_size")
            desired = kwargs.get("desired_capacity")
            low = group.min_size if low is None else low
            high = group.max_size if high is None else high
            if low > high:
                raise AutoScalingValidationError(
                    f"Max bound, {high}, must be greater than or equal to min bound, {low}"
                )
            if desired is not None and not low <= desired <= high:
                raise AutoScalingValidationError(
                    f"Desired capacity:{desired} must be between the specified min size:{low} "
                    f"and max size:{high}"
                )
        return original(self, name, *args, **kwargs)

    autoscaling_models.AutoScalingBackend.update_auto_scaling_group = update_auto_scaling_group


# --- EC2 launch templates ------------------------------------------------------------------------

_SOURCE = threading.local()


@rule(
    action="ec2:CreateLaunchTemplateVersion",
    summary=(
        "a version made with SourceVersion inherits the source version's launch parameters, the "
        "ones given in LaunchTemplateData replacing them (moto keeps only the ones given)"
    ),
    doc=(
        "API_CreateLaunchTemplateVersion, SourceVersion ('The new version inherits the same launch "
        "parameters as the source version, except for parameters that you specify in "
        "LaunchTemplateData'): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
        "API_CreateLaunchTemplateVersion.html"
    ),
)
def _launch_template_source_version() -> None:
    respond = ec2_launch_template_responses.LaunchTemplates.create_launch_template_version
    create = ec2_launch_template_models.LaunchTemplate.create_version

    def create_launch_template_version(self: Any) -> Any:
        _SOURCE.version = self._get_param("SourceVersion")
        try:
            return respond(self)
        finally:
            _SOURCE.version = None

    def create_version(self: Any, data: dict[str, Any], description: str) -> Any:
        source = getattr(_SOURCE, "version", None)
        if source:
            data = {**copy.deepcopy(self.get_version(source).data), **data}
        number = self.versions[-1].number + 1 if self.versions else 1
        version = create(self, data, description)
        version.number = number  # numbers go on after deleted versions, as on AWS
        return version

    ec2_launch_template_responses.LaunchTemplates.create_launch_template_version = (
        create_launch_template_version
    )
    ec2_launch_template_models.LaunchTemplate.create_version = create_version


@rule(
    action="ec2:DeleteLaunchTemplateVersions",
    summary=(
        "deletes the given versions of a launch template, except its default version (which is "
        "listed as not deleted); version numbers are not reused (moto lacks the action: HTTP 500)"
    ),
    doc=(
        "API_DeleteLaunchTemplateVersions ('You can't delete the default version of a launch "
        "template'): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
        "API_DeleteLaunchTemplateVersions.html"
    ),
)
def _delete_launch_template_versions() -> None:
    template_class = ec2_launch_template_models.LaunchTemplate

    def get_version(self: Any, num: Any) -> Any:
        if str(num).lower() == "$latest":
            return self.versions[-1]
        wanted = self.default_version_number if str(num).lower() == "$default" else int(num)
        for version in self.versions:
            if version.number == wanted:
                return version
        raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)

    def default_version(self: Any) -> Any:
        return get_version(self, self.default_version_number)

    template_class.get_version = get_version
    template_class.default_version = default_version

    def delete_launch_template_versions(self: Any) -> Any:
        name = self._get_param("LaunchTemplateName")
        template = (
            self.ec2_backend.get_launch_template_by_name(name)
            if name
            else self.ec2_backend.get_launch_template(self._get_param("LaunchTemplateId"))
        )
        deleted, kept = [], []
        for number in self._get_param("Versions", []):
            entry = {
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionNumber": int(number),
            }
            found = [v for v in template.versions if v.number == int(number)]
            if found and int(number) != template.default_version_number:
                template.versions.remove(found[0])
                deleted.append(entry)
            else:
                code = "unexpectedError" if found else "launchTemplateVersionDoesNotExist"
                message = "the default version" if found else "no such version"
                kept.append({**entry, "ResponseError": {"Code": code, "Message": message}})
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": deleted,
                "UnsuccessfullyDeletedLaunchTemplateVersions": kept,
            }
        )

    ec2_launch_template_responses.LaunchTemplates.delete_launch_template_versions = (
        delete_launch_template_versions
    )


# --- Auto Scaling instance refresh ---------------------------------------------------------------
# moto 5.2.5 has no instance refresh at all (StartInstanceRefresh answers HTTP 500). These four
# actions keep refreshes per group, with AWS's statuses. AWS replaces instances as time passes;
# the emulator has no clock, so each DescribeInstanceRefreshes of a group moves its active refresh
# one step on (Pending -> InProgress, then one instance replaced per call; a rollback likewise).

_REFRESH_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/"
_REFRESH_ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
_REFRESHES: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
_REFRESH_LOCK = threading.RLock()


def _pinned_version(group: Any) -> str | None:
    """The group's launch template version as a number, None for $Latest/$Default/unset."""
    version = str(group.provided_launch_template_version or "")
    return version if version.isdigit() else None


def _replace_one(backend: Any, group: Any, instance_id: str, version: str) -> str:
    """Terminate one instance of the group; the group launches its replacement from `version`."""
    kept = (group.launch_template_version, group.provided_launch_template_version)
    before = {s.instance.id for s in group.instance_states}
    group.launch_template_version = version
    try:
        backend.terminate_instance(instance_id, should_decrement=False)
    finally:
        group.launch_template_version = kept[0]
    new = [s.instance.id for s in group.instance_states if s.instance.id not in before]
    return new[0] if new else ""


def _alarms_firing(account: str, region: str, refresh: dict[str, Any]) -> list[str]:
    names = refresh["Preferences"].get("AlarmSpecification", {}).get("Alarms", [])
    alarms = cloudwatch_models.cloudwatch_backends[account][region].alarms
    return [n for n in names if n in alarms and alarms[n].state_value == "ALARM"]


def _start_rollback(refresh: dict[str, Any], reason: str) -> None:
    refresh["Status"] = "RollbackInProgress"
    refresh["StatusReason"] = reason
    refresh["RollbackDetails"] = {
        "RollbackReason": reason,
        "RollbackStartTime": datetime.datetime.now(datetime.UTC),
        "PercentageCompleteOnRollback": 0,
        "InstancesToUpdateOnRollback": len(refresh["_replaced"]),
    }


def _finish(refresh: dict[str, Any], status: str, reason: str) -> None:
    refresh["Status"] = status
    refresh["StatusReason"] = reason
    refresh["EndTime"] = datetime.datetime.now(datetime.UTC)


def _forward(response: Any, group: Any, refresh: dict[str, Any]) -> None:
    """Replace the next instance; stop on an alarm of the refresh's AlarmSpecification."""
    firing = _alarms_firing(response.current_account, response.region, refresh)
    if firing:
        reason = f"Alarms {', '.join(firing)} are in ALARM state."
        if refresh["Preferences"].get("AutoRollback"):
            _start_rollback(refresh, reason)
        else:
            _finish(refresh, "Failed", reason)
        return
    live = [s.instance.id for s in group.instance_states]
    refresh["_old"] = todo = [i for i in refresh["_old"] if i in live]
    if todo:
        new = _replace_one(response.autoscaling_backend, group, todo[0], refresh["_to"])
        todo.remove(todo[0])
        refresh["_replaced"].append(new)
    total = refresh["InstancesToUpdate"] or 1
    refresh["PercentageComplete"] = 100 * len(refresh["_replaced"]) // total
    if not todo:
        if refresh["_to"] != refresh["_from"]:
            # AWS saves the desired configuration to the group when the refresh succeeds.
            group.launch_template_version = refresh["_to"]
            group.provided_launch_template_version = refresh["_to"]
        refresh["PercentageComplete"] = 100
        _finish(refresh, "Successful", "")


def _back(response: Any, group: Any, refresh: dict[str, Any]) -> None:
    """Replace the next instance the refresh launched from the group's own version."""
    live = {s.instance.id for s in group.instance_states}
    todo = [i for i in refresh["_replaced"] if i in live]
    if todo:
        _replace_one(response.autoscaling_backend, group, todo[0], refresh["_from"])
    refresh["_replaced"] = todo[1:]
    details = refresh["RollbackDetails"]
    total = details["InstancesToUpdateOnRollback"] or 1
    details["PercentageCompleteOnRollback"] = 100 * (total - len(todo[1:])) // total
    if not refresh["_replaced"]:
        _finish(refresh, "RollbackSuccessful", refresh["StatusReason"])


def _step(response: Any, refresh: dict[str, Any]) -> None:
    """One step of an active refresh, the way AWS moves it on over time."""
    group = response.autoscaling_backend.autoscaling_groups.get(refresh["AutoScalingGroupName"])
    status = refresh["Status"]
    if group is None:
        _finish(refresh, "Failed", "The Auto Scaling group was deleted.")
    elif status == "Pending":
        refresh["Status"] = "InProgress"
    elif status == "Cancelling":
        _finish(refresh, "Cancelled", "The instance refresh was cancelled.")
    elif status == "InProgress":
        _forward(response, group, refresh)
    elif status == "RollbackInProgress":
        _back(response, group, refresh)


def _public(refresh: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refresh.items() if not k.startswith("_")}


@rule(
    action="autoscaling:StartInstanceRefresh",
    summary=(
        "starts a refresh (Pending); refused while one is active (InstanceRefreshInProgress); "
        "SkipMatching leaves instances already on the desired version; AutoRollback needs a "
        "DesiredConfiguration and a numbered launch template version (ValidationError)"
    ),
    doc=(
        f"API_StartInstanceRefresh: {_REFRESH_DOC}API_StartInstanceRefresh.html ; "
        f"RefreshPreferences (AutoRollback, AlarmSpecification, SkipMatching): "
        f"{_REFRESH_DOC}API_RefreshPreferences.html ; 'Undo changes with a manual or auto "
        "rollback' (rollback only to a specific numbered version): https://docs.aws.amazon.com/"
        "autoscaling/ec2/userguide/instance-refresh-rollback.html"
    ),
)
def _start_instance_refresh() -> None:
    def start_instance_refresh(self: Any) -> Any:
        params = self._get_params()
        name = params.get("AutoScalingGroupName", "")
        group = self.autoscaling_backend.autoscaling_groups.get(name)
        if group is None:
            raise AutoScalingValidationError(f"AutoScalingGroup name not found - {name}")
        key = (self.current_account, self.region, name)
        prefs = params.get("Preferences") or {}
        desired = (params.get("DesiredConfiguration") or {}).get("LaunchTemplate") or {}
        pinned = _pinned_version(group)
        if prefs.get("AutoRollback") and not (desired and pinned):
            raise AutoScalingValidationError(
                "AutoRollback requires a DesiredConfiguration and an Auto Scaling group that "
                "uses a specific launch template version (not $Latest or $Default)."
            )
        with _REFRESH_LOCK:
            history = _REFRESHES.setdefault(key, [])
            if any(r["Status"] in _REFRESH_ACTIVE for r in history):
                raise AutoscalingClientError(
                    "InstanceRefreshInProgress",
                    f"An Instance Refresh is already in progress for {name}.",
                )
            version_now = group.ec2_launch_template.get_version(group.launch_template_version)
            source = str(version_now.number)
            target = str(desired.get("Version") or source)
            target = str(group.ec2_launch_template.get_version(target).number)
            old = [s.instance.id for s in group.instance_states]
            if prefs.get("SkipMatching"):
                image = group.ec2_launch_template.get_version(target).image_id
                old = [s.instance.id for s in group.instance_states if s.instance.image_id != image]
            refresh = {
                "InstanceRefreshId": str(uuid.uuid4()),
                "AutoScalingGroupName": name,
                "Status": "Pending",
                "StatusReason": "",
                "StartTime": datetime.datetime.now(datetime.UTC),
                "PercentageComplete": 0,
                "InstancesToUpdate": len(old),
                "Preferences": prefs,
                "Strategy": params.get("Strategy") or "Rolling",
                "_from": source,
                "_to": target,
                "_old": old,
                "_replaced": [],
            }
            if desired:
                refresh["DesiredConfiguration"] = {"LaunchTemplate": desired}
            history.insert(0, refresh)
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    autoscaling_responses.AutoScalingResponse.start_instance_refresh = start_instance_refresh


@rule(
    action="autoscaling:DescribeInstanceRefreshes",
    summary=(
        "the group's refreshes, newest first, with Status (Pending, InProgress, Successful, "
        "Failed, Cancelling, Cancelled, RollbackInProgress, RollbackFailed, RollbackSuccessful), "
        "PercentageComplete and RollbackDetails; an alarm of AlarmSpecification in ALARM fails the "
        "refresh, or rolls it back with AutoRollback"
    ),
    doc=(
        f"API_DescribeInstanceRefreshes: {_REFRESH_DOC}API_DescribeInstanceRefreshes.html ; "
        f"InstanceRefresh (statuses): {_REFRESH_DOC}API_InstanceRefresh.html ; 'Use alarms with "
        "an instance refresh' (an alarm in ALARM fails it, auto rollback undoes it): "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html"
    ),
)
def _describe_instance_refreshes() -> None:
    def describe_instance_refreshes(self: Any) -> Any:
        params = self._get_params()
        key = (self.current_account, self.region, params.get("AutoScalingGroupName", ""))
        ids = params.get("InstanceRefreshIds") or []
        with _REFRESH_LOCK:
            history = _REFRESHES.get(key, [])
            for refresh in history:
                if refresh["Status"] in _REFRESH_ACTIVE:
                    _step(self, refresh)
            found = [_public(r) for r in history if not ids or r["InstanceRefreshId"] in ids]
        return ActionResult({"InstanceRefreshes": found})

    autoscaling_responses.AutoScalingResponse.describe_instance_refreshes = (
        describe_instance_refreshes
    )


def _active(self: Any) -> dict[str, Any]:
    name = self._get_param("AutoScalingGroupName", "")
    history = _REFRESHES.get((self.current_account, self.region, name), [])
    for refresh in history:
        if refresh["Status"] in ("Pending", "InProgress", "Baking"):
            return refresh
    raise AutoscalingClientError(
        "ActiveInstanceRefreshNotFound", f"No in progress or pending Instance Refresh for {name}."
    )


@rule(
    action="autoscaling:CancelInstanceRefresh",
    summary=(
        "an active refresh goes Cancelling, then Cancelled; instances already replaced stay "
        "replaced; none active: ActiveInstanceRefreshNotFound"
    ),
    doc=f"API_CancelInstanceRefresh: {_REFRESH_DOC}API_CancelInstanceRefresh.html",
)
def _cancel_instance_refresh() -> None:
    def cancel_instance_refresh(self: Any) -> Any:
        with _REFRESH_LOCK:
            refresh = _active(self)
            refresh["Status"] = "Cancelling"
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    autoscaling_responses.AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh


@rule(
    action="autoscaling:RollbackInstanceRefresh",
    summary=(
        "an active refresh goes RollbackInProgress and the instances it replaced are replaced "
        "back from the group's own version, then RollbackSuccessful; refused without a "
        "DesiredConfiguration or with $Latest/$Default (IrreversibleInstanceRefresh), or with "
        "none active (ActiveInstanceRefreshNotFound)"
    ),
    doc=f"API_RollbackInstanceRefresh: {_REFRESH_DOC}API_RollbackInstanceRefresh.html",
)
def _rollback_instance_refresh() -> None:
    def rollback_instance_refresh(self: Any) -> Any:
        with _REFRESH_LOCK:
            refresh = _active(self)
            group = self.autoscaling_backend.autoscaling_groups[refresh["AutoScalingGroupName"]]
            if "DesiredConfiguration" not in refresh or _pinned_version(group) is None:
                raise AutoscalingClientError(
                    "IrreversibleInstanceRefresh",
                    "The instance refresh cannot be rolled back: it has no desired configuration "
                    "or the group uses the launch template's $Latest or $Default version.",
                )
            _start_rollback(refresh, "Rollback started by RollbackInstanceRefresh.")
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    autoscaling_responses.AutoScalingResponse.rollback_instance_refresh = rollback_instance_refresh


# --- Serving -------------------------------------------------------------------------------------


def serve(host: str, port: int) -> None:
    """Moto with the rules above, in this process, until SIGTERM/SIGINT."""
    # Read by moto at request time: without it, attaching an AWS-managed IAM policy
    # (AmazonSSMManagedInstanceCore) fails with NoSuchEntity.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    print(f"moto with {len(RULES)} AWS rules on http://{host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--list", action="store_true", help="print the rules and their AWS docs")
    args = parser.parse_args()
    if args.list:
        for r in RULES:
            print(f"{r.action}: {r.summary}\n    {r.doc}")
        return
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
