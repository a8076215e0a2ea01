"""Filter security_group_differs: would amazon.aws.ec2_security_group change this group?

The module compares rules as (ports, protocol, target, target type, description) tuples after
expanding each `rules` entry into one rule per port and source, and with purge on it reports a
change unless both sides are the same set. sg_expand builds that set from the module's `rules`
argument, sg_flatten from the API's permissions as stockroom.aws.describe returns them, so a role
calls the module only for a group whose rules really differ. Anything these functions do not
understand yields a rule that matches nothing, so the module runs and decides.
"""

from __future__ import annotations

from typing import Any

_UNKNOWN = ["?", None, None, "?", "?", None]
# Module source keys -> the target type the module compares.
_SOURCES = {"cidr_ip": "ipv4", "cidr_ipv6": "ipv6", "ip_prefix": "ip_prefix", "group_id": "group"}


def _proto_ports(proto: Any, from_port: Any, to_port: Any) -> tuple[str, Any, Any]:
    proto = str(proto)
    if proto in ("all", "-1"):
        return "-1", None, None
    if proto.isdigit():  # a numeric protocol takes no ports in the module
        return proto, None, None
    if from_port is None and to_port is None:
        return proto, None, None
    return proto, int(from_port), int(to_port)


def _port_ranges(rule: dict[str, Any]) -> list[tuple[Any, Any]]:
    if rule.get("icmp_type") is not None:
        return [(rule.get("icmp_type"), rule.get("icmp_code"))]
    if rule.get("from_port") is not None or rule.get("to_port") is not None:
        return [(rule.get("from_port"), rule.get("to_port"))]
    if rule.get("ports") is not None:
        out = []
        for port in rule["ports"]:
            text = str(port).strip()
            low, _, high = text.partition("-")
            pair = sorted((int(low), int(high or low)))
            out.append((pair[0], pair[1]))
        return out
    return [(None, None)]


def sg_expand(rules: list[dict[str, Any]] | None) -> list[list[Any]]:
    """The module's `rules` / `rules_egress` argument as the sorted set of rules it would want."""
    out: set[tuple[Any, ...]] = set()
    for rule in rules or []:
        sources = [(k, v) for k, v in rule.items() if k in _SOURCES and v is not None]
        if not sources or rule.get("group_name") is not None:
            out.add(tuple(_UNKNOWN))
            continue
        for port_range in _port_ranges(rule):
            proto, low, high = _proto_ports(rule.get("proto") or "tcp", *port_range)
            for key, value in sources:
                for target in value if isinstance(value, list) else [value]:
                    desc = rule.get("rule_desc") or None
                    out.add((proto, low, high, _SOURCES[key], str(target), desc))
    return _sorted(out)


def sg_flatten(permissions: list[dict[str, Any]] | None) -> list[list[Any]]:
    """ec2_security_group_info's ip_permissions(_egress) as the sorted set of rules they hold."""
    out: set[tuple[Any, ...]] = set()
    for perm in permissions or []:
        proto, low, high = _proto_ports(
            perm.get("ip_protocol"), perm.get("from_port"), perm.get("to_port")
        )
        for key, sub, kind in (
            ("ip_ranges", "cidr_ip", "ipv4"),
            ("ipv6_ranges", "cidr_ipv6", "ipv6"),
            ("prefix_list_ids", "prefix_list_id", "ip_prefix"),
            ("user_id_group_pairs", "group_id", "group"),
        ):
            for entry in perm.get(key) or []:
                target = entry.get(sub)
                out.add((proto, low, high, kind, str(target), entry.get("description") or None))
    return _sorted(out)


def _sorted(rules: set[tuple[Any, ...]]) -> list[list[Any]]:
    return [
        list(r) for r in sorted(rules, key=lambda r: tuple("" if v is None else str(v) for v in r))
    ]


def security_group_differs(now: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    """Whether the group as read (none: not there) differs from `want` in what the module compares.

    `want` holds the module's description, tags, rules and rules_egress (purge on for all three).
    """
    if not now or now.get("group_id") is None:
        return True
    return (
        now.get("description") != want.get("description")
        or (now.get("tags") or {}) != (want.get("tags") or {})
        or sg_flatten(now.get("ip_permissions")) != sg_expand(want.get("rules"))
        or sg_flatten(now.get("ip_permissions_egress")) != sg_expand(want.get("rules_egress"))
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"security_group_differs": security_group_differs}
