"""stockroom.aws.cloudwatch_metric_alarms against a real moto server (in-process, free port)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.cloudwatch_metric_alarms import ensure


def alarm(name: str, **changes: Any) -> dict[str, Any]:
    """An alarm as a play gives it: snake_case, a threshold given as text like Jinja renders it."""
    return {
        "alarm_name": name,
        "alarm_description": "Average CPU above 70 %",
        "namespace": "AWS/EC2",
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "dimensions": [{"name": "AutoScalingGroupName", "value": "unit-app"}],
        "comparison_operator": "GreaterThanThreshold",
        "threshold": "70",
        "period": 60,
        "evaluation_periods": "2",
        "treat_missing_data": "missing",
        "alarm_actions": ["arn:aws:sns:eu-west-1:123456789012:unit"],
        "insufficient_data_actions": [],
        "ok_actions": ["arn:aws:sns:eu-west-1:123456789012:unit"],
        **changes,
    }


@pytest.fixture(scope="module")
def cloudwatch(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("cloudwatch")


def stored(cloudwatch: Any, name: str) -> dict[str, Any] | None:
    found = cloudwatch.client.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found[0] if found else None


def test_check_mode_reports_the_alarms_and_writes_none(cloudwatch: Any) -> None:
    result = ensure(cloudwatch, [alarm("check-a"), alarm("check-b")], [], check_mode=True)
    assert result == {"changed": True, "written": ["check-a", "check-b"], "deleted": []}
    assert stored(cloudwatch, "check-a") is None


def test_written_in_one_run_then_a_rerun_is_unchanged(cloudwatch: Any) -> None:
    first = ensure(cloudwatch, [alarm("one"), alarm("two", threshold=5)], [], check_mode=False)
    assert first["written"] == ["one", "two"]
    two = stored(cloudwatch, "two")
    assert two is not None and two["Threshold"] == 5.0 and two["EvaluationPeriods"] == 2
    assert two["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": "unit-app"}]
    assert two["OKActions"] == ["arn:aws:sns:eu-west-1:123456789012:unit"]
    again = ensure(cloudwatch, [alarm("one"), alarm("two", threshold=5)], [], check_mode=False)
    assert again == {"changed": False, "written": [], "deleted": []}


def test_only_the_alarm_that_differs_is_written(cloudwatch: Any) -> None:
    ensure(cloudwatch, [alarm("same"), alarm("edited")], [], check_mode=False)
    cloudwatch.client.put_metric_alarm(
        AlarmName="edited",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=2,
        Threshold=95.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    result = ensure(cloudwatch, [alarm("same"), alarm("edited")], [], check_mode=False)
    assert result["written"] == ["edited"]
    edited = stored(cloudwatch, "edited")
    assert edited is not None and edited["Threshold"] == 70.0
    assert edited["TreatMissingData"] == "missing"


def test_absent_deletes_only_what_exists(cloudwatch: Any) -> None:
    ensure(cloudwatch, [alarm("old")], [], check_mode=False)
    assert ensure(cloudwatch, [], ["old", "never-made"], check_mode=True)["deleted"] == ["old"]
    assert stored(cloudwatch, "old") is not None
    assert ensure(cloudwatch, [], ["old", "never-made"], check_mode=False)["deleted"] == ["old"]
    assert stored(cloudwatch, "old") is None
    assert ensure(cloudwatch, [], ["old"], check_mode=False)["changed"] is False


def test_an_alarm_without_a_name_is_refused(cloudwatch: Any) -> None:
    nameless = alarm("x")
    del nameless["alarm_name"]
    with pytest.raises(ValueError, match="alarm_name"):
        ensure(cloudwatch, [nameless], [], check_mode=False)
