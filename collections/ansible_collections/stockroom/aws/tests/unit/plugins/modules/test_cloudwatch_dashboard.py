"""stockroom.aws.cloudwatch_dashboard against a real moto server (in-process, free port)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.cloudwatch_dashboard import ensure

BODY: dict[str, Any] = {
    "widgets": [
        {
            "type": "metric",
            "x": 0,
            "y": 0,
            "width": 12,
            "height": 6,
            "properties": {
                "title": "ALB requests",
                "region": "eu-west-1",
                "metrics": [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "app/x/1"]],
            },
        }
    ]
}


@pytest.fixture(scope="module")
def cloudwatch(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("cloudwatch")


def names(cloudwatch: Any) -> list[str]:
    return [d["DashboardName"] for d in cloudwatch.client.list_dashboards()["DashboardEntries"]]


def test_check_mode_reports_a_change_and_creates_nothing(cloudwatch: Any) -> None:
    result = ensure(cloudwatch, "check-only", BODY, "present", check_mode=True)
    assert result["changed"] is True and "dashboard_arn" not in result
    assert "check-only" not in names(cloudwatch)


def test_create_then_rerun_is_unchanged_whatever_the_key_order(cloudwatch: Any) -> None:
    created = ensure(cloudwatch, "fleet", BODY, "present", check_mode=False)
    assert created["changed"] is True and created["dashboard_arn"].endswith("dashboard/fleet")
    reordered = {"widgets": [dict(reversed(list(BODY["widgets"][0].items())))]}
    again = ensure(cloudwatch, "fleet", reordered, "present", check_mode=False)
    assert again["changed"] is False


def test_a_changed_body_is_written(cloudwatch: Any) -> None:
    ensure(cloudwatch, "edited", BODY, "present", check_mode=False)
    wider = {"widgets": [{**BODY["widgets"][0], "width": 24}]}
    assert ensure(cloudwatch, "edited", wider, "present", check_mode=True)["changed"] is True
    assert ensure(cloudwatch, "edited", wider, "present", check_mode=False)["changed"] is True
    stored = cloudwatch.client.get_dashboard(DashboardName="edited")["DashboardBody"]
    assert '"width": 24' in stored
    assert ensure(cloudwatch, "edited", wider, "present", check_mode=False)["changed"] is False


def test_absent_deletes_once(cloudwatch: Any) -> None:
    ensure(cloudwatch, "gone", BODY, "present", check_mode=False)
    assert ensure(cloudwatch, "gone", None, "absent", check_mode=True)["changed"] is True
    assert "gone" in names(cloudwatch)
    assert ensure(cloudwatch, "gone", None, "absent", check_mode=False)["changed"] is True
    assert "gone" not in names(cloudwatch)
    assert ensure(cloudwatch, "gone", None, "absent", check_mode=False)["changed"] is False
