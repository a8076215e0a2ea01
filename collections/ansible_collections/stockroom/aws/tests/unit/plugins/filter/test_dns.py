"""hosted_zone_for, records_to_write, records_present: Route 53 as the describe lookup reads it."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stockroom.aws.plugins.filter.dns import (
    hosted_zone_for,
    records_present,
    records_to_write,
)


def zone(zid: str, name: str, private: bool = False) -> dict[str, Any]:
    return {"id": f"/hostedzone/{zid}", "name": name, "config": {"private_zone": private}}


ZONES = [
    zone("ZCOM", "example.com."),
    zone("ZSTOCK", "stock.example.com."),
    zone("ZPRIV", "internal.example.com.", private=True),
]


def test_the_longest_public_zone_the_domain_ends_with() -> None:
    assert hosted_zone_for(ZONES, "app.stock.example.com") == {
        "id": "ZSTOCK",
        "name": "stock.example.com.",
    }
    assert hosted_zone_for(ZONES, "Stock.Example.com.")["id"] == "ZSTOCK"
    assert hosted_zone_for(ZONES, "shop.example.com")["id"] == "ZCOM"
    assert hosted_zone_for(ZONES, "x.internal.example.com")["id"] == "ZCOM", "private ignored"
    assert hosted_zone_for(ZONES, "notexample.com", required=False) == {}


def test_a_given_zone_id_wins_and_must_serve_the_domain() -> None:
    assert hosted_zone_for(ZONES, "app.stock.example.com", "ZCOM")["id"] == "ZCOM"
    assert hosted_zone_for(ZONES, "app.stock.example.com", "/hostedzone/ZCOM")["id"] == "ZCOM"
    with pytest.raises(AnsibleFilterError, match="not in hosted zone ZSTOCK"):
        hosted_zone_for(ZONES, "shop.example.com", "ZSTOCK")


def test_no_zone_or_two_of_the_name_fail_naming_the_variable() -> None:
    with pytest.raises(
        AnsibleFilterError, match="no public Route 53 hosted zone serves stockroom_domain"
    ):
        hosted_zone_for(ZONES, "stock.example.org")
    with pytest.raises(AnsibleFilterError, match="stockroom_hosted_zone_id"):
        hosted_zone_for([*ZONES, zone("ZCOM2", "example.com.")], "shop.example.com")


ALB = "stockroom-prod-123.eu-west-1.elb.amazonaws.com"
WANT_ALIAS = {
    "record": "stock.example.com",
    "type": "A",
    "value": ALB,
    "alias": True,
    "alias_hosted_zone_id": "Z32O12XQLNTSW2",
    "alias_evaluate_target_health": False,
}
CNAME = {"name": "_x.stock.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."}


def cname_set(ttl: int) -> dict[str, Any]:
    """The validation record as Route 53 lists it."""
    return {
        "name": "_x.stock.example.com.",
        "type": "CNAME",
        "ttl": ttl,
        "resource_records": [{"value": "_y.acm-validations.aws."}],
    }


def test_records_already_there_as_wanted_are_not_written_again() -> None:
    rrsets = [
        {
            "name": "stock.example.com.",
            "type": "A",
            "alias_target": {
                "dns_name": f"dualstack.{ALB.upper()}.",
                "hosted_zone_id": "Z32O12XQLNTSW2",
                "evaluate_target_health": False,
            },
        },
        cname_set(300),
    ]
    aaaa = {**WANT_ALIAS, "type": "AAAA"}
    assert records_to_write(rrsets, [WANT_ALIAS, aaaa, CNAME], ttl=300) == [
        {**aaaa, "record": "stock.example.com."}
    ]


def test_a_record_that_differs_is_written() -> None:
    rrsets = [
        cname_set(60),
        {
            "name": "stock.example.com.",
            "type": "A",
            "alias_target": {
                "dns_name": "old.elb.amazonaws.com.",
                "hosted_zone_id": "Z32O12XQLNTSW2",
            },
        },
    ]
    written = records_to_write(rrsets, [WANT_ALIAS, CNAME], ttl=300)
    assert [(w["record"], w["type"]) for w in written] == [
        ("stock.example.com.", "A"),
        ("_x.stock.example.com.", "CNAME"),
    ]
    assert written[1]["ttl"] == 300 and "name" not in written[1]


def test_records_present_gives_what_route53_absent_takes() -> None:
    rrsets = [
        {
            "name": "example.com.",
            "type": "NS",
            "ttl": 172800,
            "resource_records": [{"value": "ns."}],
        },
        {
            "name": "stock.example.com.",
            "type": "AAAA",
            "alias_target": {"dns_name": ALB, "hosted_zone_id": "Z32O12XQLNTSW2"},
        },
        cname_set(300),
    ]
    assert records_present(rrsets, ["Stock.example.com"], ["A", "AAAA"]) == [
        {
            "record": "stock.example.com.",
            "type": "AAAA",
            "alias": True,
            "value": ALB,
            "alias_hosted_zone_id": "Z32O12XQLNTSW2",
            "alias_evaluate_target_health": False,
        }
    ]
    assert records_present(rrsets, ["_x.stock.example.com."], ["CNAME"]) == [
        {
            "record": "_x.stock.example.com.",
            "type": "CNAME",
            "value": ["_y.acm-validations.aws."],
            "ttl": 300,
        }
    ]
