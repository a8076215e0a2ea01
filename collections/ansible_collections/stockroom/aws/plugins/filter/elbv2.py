"""Filters target_group_differs and load_balancer_differs: would the ELBv2 modules change anything?

The roles read a target group or load balancer in-process (stockroom.aws.describe, snake_case) and
run community.aws.elb_target_group or amazon.aws.elb_application_lb only when these answer true: on
a rerun that saves a module process each (2026-12-06: 0.7 s and 1.0 s of a 12.7 s rerun). They
compare at least what the modules compare, so a resource changed by hand is still put back; where
they are stricter the module runs and finds nothing to do, which costs time but never a change.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict


def _attributes(read: list[dict[str, str]] | None) -> dict[str, str]:
    """Describe*Attributes' [{key, value}] as a dict."""
    return {a["key"]: a["value"] for a in read or []}


def _name_in_arn(arn: str | None) -> str:
    """The name in a target group's ARN (...:targetgroup/<name>/<id>)."""
    return (arn or "").split(":")[-1].split("/")[1] if "/" in (arn or "") else ""


def target_group_differs(
    group: dict[str, Any] | None,
    want: dict[str, Any],
    attributes: list[dict[str, str]] | None = None,
    tags: dict[str, str] | None = None,
) -> bool:
    """Whether community.aws.elb_target_group (purge_tags) would create or change the group.

    `group` is one of describe_target_groups' target_groups (none: not there), `attributes` its
    describe_target_group_attributes list, `tags` its tags; `want` holds the module's options.
    """
    if not group:
        return True
    now = {
        "protocol": group.get("protocol"),
        "port": group.get("port"),
        "vpc_id": group.get("vpc_id"),
        "target_type": group.get("target_type"),
        "health_check_protocol": group.get("health_check_protocol"),
        "health_check_port": group.get("health_check_port"),
        "health_check_path": group.get("health_check_path"),
        "health_check_interval": group.get("health_check_interval_seconds"),
        "health_check_timeout": group.get("health_check_timeout_seconds"),
        "healthy_threshold_count": group.get("healthy_threshold_count"),
        "unhealthy_threshold_count": group.get("unhealthy_threshold_count"),
        "successful_response_codes": (group.get("matcher") or {}).get("http_code"),
    }
    return (
        any(str(now[k]) != str(want[k]) for k in now)
        or _attributes(attributes).get("deregistration_delay.timeout_seconds")
        != str(want["deregistration_delay_timeout"])
        or (tags or {}) != (want.get("tags") or {})
    )


def _action_differs(now: dict[str, Any], want: dict[str, Any]) -> bool:
    """A listener's default action as read (snake_case) against one given to the module."""
    if now.get("type") != want["Type"]:
        return True
    if want["Type"] == "forward":
        return _name_in_arn(now.get("target_group_arn")) != want["TargetGroupName"]
    if want["Type"] == "redirect":
        read = now.get("redirect_config") or {}
        given = camel_dict_to_snake_dict(dict(want["RedirectConfig"]))
        return any(str(read.get(key)) != str(value) for key, value in given.items())
    return True  # an action kind the roles do not use: let the module decide


def _listener_differs(now: dict[str, Any], want: dict[str, Any]) -> bool:
    certificates = [c.get("certificate_arn") for c in now.get("certificates") or []]
    actions = now.get("default_actions") or []
    return (
        now.get("protocol") != want["Protocol"]
        or ("SslPolicy" in want and now.get("ssl_policy") != want["SslPolicy"])
        or (
            "Certificates" in want
            and certificates[:1] != [c["CertificateArn"] for c in want["Certificates"]][:1]
        )
        or len(actions) != len(want["DefaultActions"])
        or any(_action_differs(n, w) for n, w in zip(actions, want["DefaultActions"], strict=True))
    )


def load_balancer_differs(
    balancer: dict[str, Any] | None,
    want: dict[str, Any],
    attributes: list[dict[str, str]] | None = None,
    listeners: list[dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
) -> bool:
    """Whether amazon.aws.elb_application_lb (purge_listeners, purge_tags) would make or change it.

    `balancer` is one of describe_load_balancers' load_balancers (none: not there), `attributes`
    its describe_load_balancer_attributes list, `listeners` its describe_listeners list, `tags`
    its tags. `want` holds the module's subnets, security_groups, scheme, listeners (CamelCase, as
    the module takes them), tags, and `attributes`: the attribute values the module would set
    (only those it is given: it leaves the others alone).
    """
    if not balancer:
        return True
    subnets = [z.get("subnet_id") for z in balancer.get("availability_zones") or []]
    read_attributes = _attributes(attributes)
    by_port = {listener.get("port"): listener for listener in listeners or []}
    wanted_ports = {int(listener["Port"]) for listener in want["listeners"]}
    return (
        balancer.get("scheme") != want["scheme"]
        or sorted(subnets) != sorted(want["subnets"])
        or sorted(balancer.get("security_groups") or []) != sorted(want["security_groups"])
        or any(read_attributes.get(k) != v for k, v in want["attributes"].items())
        or set(by_port) != wanted_ports
        or any(_listener_differs(by_port[int(w["Port"])], w) for w in want["listeners"])
        or (tags or {}) != (want.get("tags") or {})
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "target_group_differs": target_group_differs,
            "load_balancer_differs": load_balancer_differs,
        }
