"""stockroom.aws.acm_certificate_request against a real moto server (in-process, free port).

moto issues a DNS-validated certificate MOTO_ACM_VALIDATION_WAIT seconds after the request (its
settings.ACM_VALIDATION_WAIT, read at each describe): the tests set it per test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.acm_certificate_request import (
    CertificateError,
    ensure_absent,
    ensure_present,
)
from moto import settings

TAGS = {"Project": "stockroom", "Environment": "unit"}


@pytest.fixture(scope="module")
def acm(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("acm")


@pytest.fixture
def never_issued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 10_000)


@pytest.fixture
def issued_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", -1)


def arns(acm: Any, domain: str) -> list[str]:
    found = acm.client.list_certificates()["CertificateSummaryList"]
    return [c["CertificateArn"] for c in found if c["DomainName"] == domain]


def test_check_mode_reports_a_request_and_requests_nothing(acm: Any, never_issued: None) -> None:
    result = ensure_present(acm, "plan.example.com", "s-plan", TAGS, check_mode=True)
    assert result["changed"] is True and "certificate_arn" not in result
    assert arns(acm, "plan.example.com") == []


def test_request_returns_the_validation_records_and_a_rerun_finds_it(
    acm: Any, never_issued: None
) -> None:
    first = ensure_present(acm, "stock.example.com", "s-prod", TAGS, check_mode=False)
    assert first["changed"] is True and first["status"] == "PENDING_VALIDATION"
    ((record),) = first["validation_records"]
    assert record["type"] == "CNAME" and record["name"].endswith("stock.example.com.")
    assert record["value"].endswith(".acm-validations.aws.")
    again = ensure_present(acm, "stock.example.com", "s-prod", TAGS, check_mode=False)
    assert again == {**first, "changed": False}
    assert arns(acm, "stock.example.com") == [first["certificate_arn"]]
    tags = acm.client.list_tags_for_certificate(CertificateArn=first["certificate_arn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Name": "s-prod", **TAGS}


def test_another_name_is_another_certificate(acm: Any, never_issued: None) -> None:
    prod = ensure_present(acm, "shared.example.com", "s-prod", TAGS, check_mode=False)
    staging = ensure_present(acm, "shared.example.com", "s-staging", TAGS, check_mode=False)
    assert prod["certificate_arn"] != staging["certificate_arn"]


def test_wait_fails_clearly_when_it_is_not_issued_in_time(acm: Any, never_issued: None) -> None:
    ensure_present(acm, "slow.example.com", "s-slow", TAGS, check_mode=False)
    with pytest.raises(CertificateError, match="still PENDING_VALIDATION after 0 s"):
        ensure_present(
            acm, "slow.example.com", "s-slow", TAGS, check_mode=False, wait=True, wait_timeout=0
        )


def test_wait_returns_the_issued_certificate(acm: Any, issued_at_once: None) -> None:
    result = ensure_present(
        acm, "fast.example.com", "s-fast", TAGS, check_mode=False, wait=True, wait_timeout=30
    )
    assert result["status"] == "ISSUED" and result["changed"] is True
    rerun = ensure_present(acm, "fast.example.com", "s-fast", TAGS, check_mode=False, wait=True)
    assert rerun["changed"] is False and rerun["certificate_arn"] == result["certificate_arn"]


def test_absent_lists_in_check_mode_then_deletes_once(acm: Any, never_issued: None) -> None:
    made = ensure_present(acm, "gone.example.com", "s-gone", TAGS, check_mode=False)
    planned = ensure_absent(acm, "gone.example.com", "s-gone", check_mode=True)
    assert planned == {
        "changed": True,
        "certificates": [
            {"arn": made["certificate_arn"], "validation_records": made["validation_records"]}
        ],
    }
    assert arns(acm, "gone.example.com") == [made["certificate_arn"]]
    assert ensure_absent(acm, "gone.example.com", "s-gone", check_mode=False)["changed"] is True
    assert arns(acm, "gone.example.com") == []
    assert ensure_absent(acm, "gone.example.com", "s-gone", check_mode=False) == {
        "changed": False,
        "certificates": [],
    }


def test_after_a_deletion_the_next_request_gets_a_new_certificate(
    acm: Any, never_issued: None
) -> None:
    """A teardown then site.yml again within the hour: a new certificate, not the deleted one."""
    first = ensure_present(acm, "again.example.com", "s-again", TAGS, check_mode=False)
    ensure_absent(acm, "again.example.com", "s-again", check_mode=False)
    second = ensure_present(acm, "again.example.com", "s-again", TAGS, check_mode=False)
    assert second["changed"] is True
    assert second["certificate_arn"] != first["certificate_arn"]
    assert arns(acm, "again.example.com") == [second["certificate_arn"]]
