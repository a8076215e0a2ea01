"""Filter route_table_differs: would amazon.aws.ec2_vpc_route_table change this table?

The role finds a table by its Name tag (lookup: tag) and gives the module its tags, subnets and
routes with purge on, so the module changes the table unless its tags are exactly these, the routes
it made (origin CreateRoute) are exactly the wanted ones and the subnets associated with it are
exactly the wanted ones. The routes AWS adds itself (the VPC's local route) are not compared.
"""

from __future__ import annotations

from typing import Any


def _routes(routes: list[dict[str, Any]] | None) -> list[tuple[str, str, str]]:
    return sorted(
        (
            str(r.get("destination_cidr_block") or r.get("dest")),
            str(r.get("gateway_id") or ""),
            str(r.get("nat_gateway_id") or ""),
        )
        for r in routes or []
    )


def route_table_differs(tables: list[dict[str, Any]] | None, want: dict[str, Any]) -> bool:
    """Whether the VPC's tables (as stockroom.aws.describe reads them) lack `want` exactly.

    `want` is the module's arguments: tags (with the Name that finds the table), subnets, routes
    (dest plus gateway_id or nat_gateway_id). Two tables with that Name count as differing, so
    the module runs and reports the ambiguity.
    """
    name = (want.get("tags") or {}).get("Name")
    found = [t for t in tables or [] if (t.get("tags") or {}).get("Name") == name]
    if len(found) != 1:
        return True
    table = found[0]
    subnets = sorted(
        a["subnet_id"]
        for a in table.get("associations") or []
        if not a.get("main") and a.get("subnet_id")
    )
    made = [
        r
        for r in table.get("routes") or []
        if r.get("origin") == "CreateRoute" and r.get("destination_cidr_block")
    ]
    return (
        (table.get("tags") or {}) != (want.get("tags") or {})
        or subnets != sorted(want.get("subnets") or [])
        or _routes(made) != _routes(want.get("routes"))
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"route_table_differs": route_table_differs}
