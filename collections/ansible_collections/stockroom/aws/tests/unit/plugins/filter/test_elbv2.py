"""target_group_differs and load_balancer_differs: what the ELBv2 modules would change."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.filter.elbv2 import (
    load_balancer_differs,
    target_group_differs,
)

TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/s-app/0123456789abcdef"
TG_WANT: dict[str, Any] = {
    "protocol": "HTTP",
    "port": "8000",  # as templated from a variable
    "vpc_id": "vpc-1",
    "target_type": "instance",
    "health_check_protocol": "HTTP",
    "health_check_port": "traffic-port",
    "health_check_path": "/readyz",
    "health_check_interval": 15,
    "health_check_timeout": 5,
    "healthy_threshold_count": 2,
    "unhealthy_threshold_count": 2,
    "successful_response_codes": "200",
    "deregistration_delay_timeout": 30,
    "tags": {"Project": "stockroom"},
}
TG_READ: dict[str, Any] = {
    "target_group_arn": TG_ARN,
    "protocol": "HTTP",
    "port": 8000,
    "vpc_id": "vpc-1",
    "target_type": "instance",
    "health_check_protocol": "HTTP",
    "health_check_port": "traffic-port",
    "health_check_path": "/readyz",
    "health_check_interval_seconds": 15,
    "health_check_timeout_seconds": 5,
    "healthy_threshold_count": 2,
    "unhealthy_threshold_count": 2,
    "matcher": {"http_code": "200"},
}
TG_ATTRIBUTES = [
    {"key": "deregistration_delay.timeout_seconds", "value": "30"},
    {"key": "stickiness.enabled", "value": "false"},
]


def tg_differs(group: dict[str, Any] | None, **kw: Any) -> bool:
    return target_group_differs(
        group, TG_WANT, kw.get("attributes", TG_ATTRIBUTES), kw.get("tags", TG_WANT["tags"])
    )


def test_the_target_group_as_wanted_does_not_differ() -> None:
    assert tg_differs(TG_READ) is False


def test_a_missing_target_group_differs() -> None:
    assert tg_differs(None) is True


@pytest.mark.parametrize(
    ("field", "value"),
    [("health_check_path", "/by-hand"), ("health_check_interval_seconds", 30), ("port", 80)],
)
def test_a_changed_health_check_or_port_differs(field: str, value: Any) -> None:
    assert tg_differs({**TG_READ, field: value}) is True


def test_another_matcher_delay_or_tag_differs() -> None:
    assert tg_differs({**TG_READ, "matcher": {"http_code": "200-399"}}) is True
    delay = [{"key": "deregistration_delay.timeout_seconds", "value": "300"}]
    assert tg_differs(TG_READ, attributes=delay) is True
    assert tg_differs(TG_READ, tags={"Project": "stockroom", "Stray": "x"}) is True


LB_FORWARD = [
    {
        "Protocol": "HTTP",
        "Port": 80,
        "DefaultActions": [{"Type": "forward", "TargetGroupName": "s-app"}],
    }
]
LB_HTTPS = [
    {
        "Protocol": "HTTP",
        "Port": 80,
        "DefaultActions": [
            {
                "Type": "redirect",
                "RedirectConfig": {
                    "Protocol": "HTTPS",
                    "Port": "443",
                    "Host": "#{host}",
                    "Path": "/#{path}",
                    "Query": "#{query}",
                    "StatusCode": "HTTP_301",
                },
            }
        ],
    },
    {
        "Protocol": "HTTPS",
        "Port": 443,
        "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "Certificates": [{"CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/c"}],
        "DefaultActions": [{"Type": "forward", "TargetGroupName": "s-app"}],
    },
]
FORWARD_READ = {"type": "forward", "target_group_arn": TG_ARN}
REDIRECT_READ = {
    "type": "redirect",
    "redirect_config": {
        "protocol": "HTTPS",
        "port": "443",
        "host": "#{host}",
        "path": "/#{path}",
        "query": "#{query}",
        "status_code": "HTTP_301",
    },
}
HTTPS_READ = [
    {"port": 80, "protocol": "HTTP", "default_actions": [REDIRECT_READ]},
    {
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificates": [{"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/c"}],
        "default_actions": [FORWARD_READ],
    },
]
LB_WANT: dict[str, Any] = {
    "scheme": "internet-facing",
    "subnets": ["subnet-a", "subnet-b"],
    "security_groups": ["sg-alb"],
    "listeners": LB_FORWARD,
    "tags": {"Project": "stockroom"},
    "attributes": {"deletion_protection.enabled": "false"},
}
LB_READ: dict[str, Any] = {
    "load_balancer_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/s/1",
    "scheme": "internet-facing",
    "availability_zones": [{"subnet_id": "subnet-b"}, {"subnet_id": "subnet-a"}],
    "security_groups": ["sg-alb"],
}
LB_ATTRIBUTES = [
    {"key": "deletion_protection.enabled", "value": "false"},
    {"key": "idle_timeout.timeout_seconds", "value": "60"},
]


def lb_differs(balancer: dict[str, Any] | None, want: dict[str, Any] = LB_WANT, **kw: Any) -> bool:
    return load_balancer_differs(
        balancer,
        want,
        kw.get("attributes", LB_ATTRIBUTES),
        kw.get("listeners", [{"port": 80, "protocol": "HTTP", "default_actions": [FORWARD_READ]}]),
        kw.get("tags", {"Project": "stockroom"}),
    )


def test_the_load_balancer_as_wanted_does_not_differ() -> None:
    assert lb_differs(LB_READ) is False
    https = {**LB_WANT, "listeners": LB_HTTPS}
    assert lb_differs(LB_READ, https, listeners=HTTPS_READ) is False


def test_a_missing_load_balancer_differs() -> None:
    assert lb_differs(None) is True


def test_subnets_groups_attributes_or_tags_changed_by_hand_differ() -> None:
    assert lb_differs({**LB_READ, "availability_zones": [{"subnet_id": "subnet-a"}]}) is True
    assert lb_differs({**LB_READ, "security_groups": ["sg-alb", "sg-x"]}) is True
    on = [{"key": "deletion_protection.enabled", "value": "true"}]
    assert lb_differs(LB_READ, attributes=on) is True
    assert lb_differs(LB_READ, tags={"Project": "stockroom", "Stray": "by hand"}) is True


def test_an_attribute_the_module_is_not_given_is_left_alone() -> None:
    idle = [*LB_ATTRIBUTES, {"key": "idle_timeout.timeout_seconds", "value": "300"}]
    assert lb_differs(LB_READ, attributes=idle) is False


def test_listeners_are_compared_as_the_module_would_purge_and_change_them() -> None:
    https = {**LB_WANT, "listeners": LB_HTTPS}
    # HTTP-only on the balancer while HTTPS is wanted: 443 is missing.
    assert lb_differs(LB_READ, https) is True
    # An extra listener (purge_listeners) or another target group.
    extra = [*HTTPS_READ, {"port": 8080, "protocol": "HTTP", "default_actions": [FORWARD_READ]}]
    assert lb_differs(LB_READ, https, listeners=extra) is True
    other = copy.deepcopy(HTTPS_READ)
    other[1]["default_actions"][0]["target_group_arn"] = TG_ARN.replace("/s-app/", "/s-old/")
    assert lb_differs(LB_READ, https, listeners=other) is True


@pytest.mark.parametrize(
    ("listener", "path", "value"),
    [
        (1, ("ssl_policy",), "ELBSecurityPolicy-2016-08"),
        (1, ("certificates", 0, "certificate_arn"), "arn:aws:acm:eu-west-1:1:certificate/old"),
        (0, ("default_actions", 0, "redirect_config", "status_code"), "HTTP_302"),
        (0, ("default_actions", 0, "type"), "forward"),
    ],
)
def test_a_changed_policy_certificate_or_redirect_differs(
    listener: int, path: tuple[Any, ...], value: str
) -> None:
    read = copy.deepcopy(HTTPS_READ)
    node: Any = read[listener]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert lb_differs(LB_READ, {**LB_WANT, "listeners": LB_HTTPS}, listeners=read) is True
