"""route_table_differs against route tables as stockroom.aws.describe reads them."""

from __future__ import annotations

from typing import Any

from ansible_collections.stockroom.aws.plugins.filter.route_tables import route_table_differs

TAGS = {"Name": "s-public", "Project": "stockroom"}
WANT: dict[str, Any] = {
    "tags": TAGS,
    "subnets": ["subnet-2", "subnet-1"],
    "routes": [{"dest": "0.0.0.0/0", "gateway_id": "igw-1"}],
}


def table(**changes: Any) -> dict[str, Any]:
    now = {
        "route_table_id": "rtb-1",
        "tags": dict(TAGS),
        "associations": [
            {"main": False, "subnet_id": "subnet-1"},
            {"main": False, "subnet_id": "subnet-2"},
        ],
        "routes": [
            {
                "destination_cidr_block": "10.0.0.0/16",
                "gateway_id": "local",
                "origin": "CreateRouteTable",
            },
            {"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-1", "origin": "CreateRoute"},
        ],
    }
    return {**now, **changes}


MAIN = {"route_table_id": "rtb-main", "associations": [{"main": True}], "routes": []}


def test_the_wanted_table_does_not_differ_whatever_the_order() -> None:
    assert route_table_differs([MAIN, table()], WANT) is False


def test_no_table_or_two_tables_of_that_name_differ() -> None:
    assert route_table_differs([MAIN], WANT) is True
    assert route_table_differs([table(), table(route_table_id="rtb-2")], WANT) is True


def test_a_stray_route_or_a_route_to_another_gateway_differs() -> None:
    stray = {
        "destination_cidr_block": "192.168.0.0/16",
        "gateway_id": "igw-1",
        "origin": "CreateRoute",
    }
    assert route_table_differs([table(routes=[*table()["routes"], stray])], WANT) is True
    moved = {
        "destination_cidr_block": "0.0.0.0/0",
        "nat_gateway_id": "nat-1",
        "origin": "CreateRoute",
    }
    assert route_table_differs([table(routes=[moved])], WANT) is True


def test_a_subnet_unassociated_or_a_stray_tag_differs() -> None:
    one = table(associations=[{"main": False, "subnet_id": "subnet-1"}])
    assert route_table_differs([one], WANT) is True
    assert route_table_differs([table(tags={**TAGS, "Owner": "me"})], WANT) is True


def test_a_table_with_no_routes_wanted_ignores_the_local_route() -> None:
    want = {"tags": TAGS, "subnets": ["subnet-1", "subnet-2"], "routes": []}
    local_only = table(routes=table()["routes"][:1])
    assert route_table_differs([local_only], want) is False
    assert route_table_differs([table()], want) is True
