"""Filters hosted_zone_for and records_to_write: Route 53 read once, written only where it differs.

Both take what the stockroom.aws.describe lookup returns (route53 list_hosted_zones and
list_resource_record_sets, in snake_case), so a rerun reads the zone in one call and runs no module.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def _fqdn(name: str) -> str:
    """'Stock.Example.com' -> 'stock.example.com.' (Route 53 answers with the final dot)."""
    return name.strip().lower().rstrip(".") + "."


def hosted_zone_for(
    zones: list[dict[str, Any]],
    domain: str,
    zone_id: str = "",
    variable: str = "stockroom_domain",
    required: bool = True,
) -> dict[str, Any]:
    """The public hosted zone that serves `domain` ({id, name}): the one with `zone_id` when given,
    else the one with the longest name the domain ends with. Fails naming the variable when there
    is none (with required=False, e.g. in a teardown: {}) or several of that name."""
    want = _fqdn(domain)
    public = [z for z in zones if not (z.get("config") or {}).get("private_zone")]
    if zone_id:
        candidates = [
            z for z in public if z["id"].split("/")[-1] == zone_id.rsplit("/", maxsplit=1)[-1]
        ]
        for zone in candidates:
            if not (want == _fqdn(zone["name"]) or want.endswith("." + _fqdn(zone["name"]))):
                raise AnsibleFilterError(
                    f"{variable} {domain} is not in hosted zone {zone_id} ({_fqdn(zone['name'])})"
                )
    else:
        matching = [
            z for z in public if want == _fqdn(z["name"]) or want.endswith("." + _fqdn(z["name"]))
        ]
        longest = max((len(_fqdn(z["name"])) for z in matching), default=0)
        candidates = [z for z in matching if len(_fqdn(z["name"])) == longest]
    if not candidates and not required:
        return {}
    if not candidates:
        raise AnsibleFilterError(
            f"no public Route 53 hosted zone serves {variable} {domain}"
            + (f" (stockroom_hosted_zone_id {zone_id} not found)" if zone_id else "")
            + ": create it, or set aws_compute_certificate_arn and point the name at the load"
            " balancer yourself"
        )
    if len(candidates) > 1:
        ids = ", ".join(z["id"].split("/")[-1] for z in candidates)
        raise AnsibleFilterError(
            f"several public hosted zones named {_fqdn(candidates[0]['name'])} ({ids}) could serve "
            f"{variable} {domain}: name the one to use with stockroom_hosted_zone_id"
        )
    zone = candidates[0]
    return {"id": zone["id"].split("/")[-1], "name": _fqdn(zone["name"])}


def _alias_target(name: str) -> str:
    fqdn = _fqdn(name)
    return fqdn.removeprefix("dualstack.")


def _matches(have: dict[str, Any], want: dict[str, Any]) -> bool:
    if want.get("alias"):
        target = have.get("alias_target") or {}
        return (
            _alias_target(target.get("dns_name", "")) == _alias_target(want["value"])
            and target.get("hosted_zone_id") == want["alias_hosted_zone_id"]
            and bool(target.get("evaluate_target_health"))
            == bool(want.get("alias_evaluate_target_health"))
        )
    values = sorted(r.get("value", "").lower() for r in have.get("resource_records") or [])
    return values == [want["value"].lower()] and int(have.get("ttl") or 0) == int(
        want.get("ttl", 0)
    )


def records_to_write(
    rrsets: list[dict[str, Any]], wanted: list[dict[str, Any]], ttl: int | None = None
) -> list[dict[str, Any]]:
    """The wanted records that the zone does not hold as wanted yet, as amazon.aws.route53 takes
    them (record, type, value, ttl or alias...). A wanted record may name itself `record` or `name`
    (as stockroom.aws.acm_certificate_request returns its validation records); `ttl` is the TTL of
    those without one."""
    index = {(_fqdn(r["name"]), r["type"]): r for r in rrsets}
    out = []
    for w in wanted:
        item = {k: v for k, v in w.items() if k != "name"}
        item["record"] = _fqdn(w.get("record") or w["name"])
        if not item.get("alias") and "ttl" not in item and ttl is not None:
            item["ttl"] = ttl
        have = index.get((item["record"], item["type"]))
        if not have or not _matches(have, item):
            out.append(item)
    return out


def records_present(
    rrsets: list[dict[str, Any]], names: list[str], types: list[str]
) -> list[dict[str, Any]]:
    """The record sets of the zone with one of `names` and one of `types` (what a teardown removes),
    as amazon.aws.route53 state=absent takes them."""
    wanted = {_fqdn(n) for n in names}
    out = []
    for r in rrsets:
        if _fqdn(r["name"]) in wanted and r["type"] in types:
            item: dict[str, Any] = {"record": _fqdn(r["name"]), "type": r["type"]}
            if r.get("alias_target"):
                item.update(
                    alias=True,
                    value=r["alias_target"]["dns_name"],
                    alias_hosted_zone_id=r["alias_target"]["hosted_zone_id"],
                    alias_evaluate_target_health=bool(
                        r["alias_target"].get("evaluate_target_health")
                    ),
                )
            else:
                item.update(
                    value=[v["value"] for v in r.get("resource_records") or []], ttl=r.get("ttl")
                )
            out.append(item)
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "hosted_zone_for": hosted_zone_for,
            "records_to_write": records_to_write,
            "records_present": records_present,
        }
