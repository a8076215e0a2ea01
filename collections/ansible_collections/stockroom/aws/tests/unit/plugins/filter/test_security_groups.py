"""security_group_differs against groups as stockroom.aws.describe reads them."""

from __future__ import annotations

from typing import Any

from ansible_collections.stockroom.aws.plugins.filter.security_groups import (
    security_group_differs,
    sg_expand,
    sg_flatten,
)

WANT: dict[str, Any] = {
    "description": "Stockroom load balancer",
    "tags": {"Name": "s-alb", "Project": "stockroom"},
    "rules": [
        {"proto": "tcp", "ports": [80, 443], "cidr_ip": ["0.0.0.0/0"], "rule_desc": "HTTP(S)"}
    ],
    "rules_egress": [
        {"proto": "tcp", "ports": ["8000"], "cidr_ip": ["10.0.1.0/24", "10.0.2.0/24"]}
    ],
}


def permission(port: int, cidrs: list[str], desc: str | None = None) -> dict[str, Any]:
    ranges = [{"cidr_ip": c, **({"description": desc} if desc else {})} for c in cidrs]
    return {"ip_protocol": "tcp", "from_port": port, "to_port": port, "ip_ranges": ranges}


def group(**changes: Any) -> dict[str, Any]:
    now = {
        "group_id": "sg-1",
        "description": "Stockroom load balancer",
        "tags": {"Name": "s-alb", "Project": "stockroom"},
        "ip_permissions": [
            permission(443, ["0.0.0.0/0"], "HTTP(S)"),
            permission(80, ["0.0.0.0/0"], "HTTP(S)"),
        ],
        "ip_permissions_egress": [permission(8000, ["10.0.2.0/24", "10.0.1.0/24"])],
    }
    return {**now, **changes}


def test_the_same_rules_in_another_order_do_not_differ() -> None:
    assert security_group_differs(group(), WANT) is False


def test_a_missing_group_differs() -> None:
    assert security_group_differs(None, WANT) is True
    assert security_group_differs({}, WANT) is True


def test_an_extra_rule_a_missing_rule_or_another_description_differ() -> None:
    extra = group(ip_permissions=[*group()["ip_permissions"], permission(22, ["0.0.0.0/0"])])
    assert security_group_differs(extra, WANT) is True
    assert security_group_differs(group(ip_permissions_egress=[]), WANT) is True
    reworded = group(ip_permissions=[permission(p, ["0.0.0.0/0"], "web") for p in (80, 443)])
    assert security_group_differs(reworded, WANT) is True


def test_tags_and_group_description_must_match_exactly() -> None:
    assert security_group_differs(group(tags={"Name": "s-alb"}), WANT) is True
    assert security_group_differs(group(description="other"), WANT) is True


def test_port_ranges_protocol_all_and_group_sources_expand_like_the_module() -> None:
    rules = [
        {"proto": "tcp", "ports": ["1000-1002"], "group_id": "sg-9"},
        {"proto": "all", "cidr_ip": "0.0.0.0/0"},
    ]
    assert sg_expand(rules) == [
        ["-1", None, None, "ipv4", "0.0.0.0/0", None],
        ["tcp", 1000, 1002, "group", "sg-9", None],
    ]
    perms = [
        {"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}]},
        {
            "ip_protocol": "tcp",
            "from_port": 1000,
            "to_port": 1002,
            "user_id_group_pairs": [{"group_id": "sg-9", "user_id": "123"}],
        },
    ]
    assert sg_flatten(perms) == sg_expand(rules)


def test_a_rule_naming_a_group_by_name_never_matches_so_the_module_decides() -> None:
    want = {**WANT, "rules": [{"proto": "tcp", "ports": [80], "group_name": "x"}]}
    assert security_group_differs(group(), want) is True
