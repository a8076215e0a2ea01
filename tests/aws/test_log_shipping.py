"""Issue 17, the parts that need no emulator: the CloudWatch agent configuration the nodes get (the
role's template, checked against the agent's schema for what it uses) and the 5xx metric filter
pattern, evaluated on request lines the app itself writes."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from checks import APP_5XX_PATTERN
from stockroom import request_log
from stockroom.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(Path(__file__).with_name("cloudwatch_agent_logs.schema.json").read_text())
TEMPLATE = ROOT / "roles/aws_compute/templates/amazon-cloudwatch-agent.json.j2"


def render_agent_config(**variables: Any) -> dict[str, Any]:
    """The template as Ansible renders it, with the project's group_vars and the role's defaults."""
    loader = DataLoader()
    project = loader.load_from_file(str(ROOT / "group_vars/all.yml"), trusted_as_template=True)
    defaults = loader.load_from_file(
        str(ROOT / "roles/aws_compute/defaults/main.yml"), trusted_as_template=True
    )
    merged = {"aws_region": "eu-west-1", "stockroom_env": "prod", **project, **defaults}
    templar = Templar(loader=loader, variables={**merged, **variables})
    return dict(json.loads(templar.template(trust_as_template(TEMPLATE.read_text()))))


def test_agent_config_ships_the_request_log_and_the_journal_to_the_two_groups() -> None:
    config = render_agent_config()
    jsonschema.validate(config, SCHEMA)
    assert config["agent"] == {"run_as_user": "cwagent", "region": "eu-west-1"}
    collected = config["logs"]["logs_collected"]
    assert collected["files"]["collect_list"] == [
        {
            "file_path": "/var/log/stockroom/requests.log",
            "log_group_name": "/stockroom-prod/app",
            "log_stream_name": "{instance_id}",
            "timezone": "UTC",
        }
    ]
    assert collected["journald"]["collect_list"] == [
        {"log_group_name": "/stockroom-prod/system", "log_stream_name": "{instance_id}"}
    ]
    # No retention here: the agent would need logs:PutRetentionPolicy; site.yml owns the groups.
    assert "retention_in_days" not in json.dumps(config)


def test_agent_config_follows_the_environment_and_the_schema_refuses_a_typo() -> None:
    config = render_agent_config(stockroom_env="staging", aws_region="ap-northeast-1")
    jsonschema.validate(config, SCHEMA)
    groups = [
        entry["log_group_name"]
        for kind in ("files", "journald")
        for entry in config["logs"]["logs_collected"][kind]["collect_list"]
    ]
    assert groups == ["/stockroom-staging/app", "/stockroom-staging/system"]
    config["logs"]["logs_collected"]["files"]["collect_list"][0]["log_group"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="log_group"):
        jsonschema.validate(config, SCHEMA)


# CloudWatch Logs JSON filter patterns, the subset the role uses: { $.a.b OP value } joined by
# && / || (no parentheses). A numeric comparison matches only a number in the event; an event
# that is not a JSON object matches no JSON pattern.
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TERM = re.compile(
    r'^\$\.([A-Za-z0-9_.]+)\s*(>=|<=|!=|=|<|>)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)$'
)


def _term(term: str, event: dict[str, Any]) -> bool:
    m = _TERM.match(term.strip())
    assert m, f"unsupported filter term {term!r}"
    value: Any = event
    for key in m.group(1).split("."):
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    raw = m.group(3)
    if raw.startswith('"'):
        return m.group(2) in ("=", "!=") and _OPS[m.group(2)](value, json.loads(raw))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return _OPS[m.group(2)](value, float(raw))


def matches(pattern: str, event: str) -> bool:
    """Whether a CloudWatch Logs JSON filter pattern matches one log event."""
    pattern = pattern.strip()
    assert pattern.startswith("{") and pattern.endswith("}"), pattern
    try:
        parsed = json.loads(event)
    except ValueError:
        return False
    if not isinstance(parsed, dict):
        return False
    body = pattern[1:-1]
    return any(
        all(_term(t, parsed) for t in alternative.split("&&")) for alternative in body.split("||")
    )


def test_the_evaluator_knows_the_pattern_rules() -> None:
    assert matches('{ $.a.b = 1 && $.c = "x" }', '{"a": {"b": 1}, "c": "x"}')
    assert not matches("{ $.a >= 2 }", '{"a": "3"}')  # a string is no number
    assert matches("{ $.a < 2 || $.a > 8 }", '{"a": 9}')
    assert not matches("{ $.a < 2 }", "a < 2")


def test_role_pattern_is_the_one_the_stack_tests_expect() -> None:
    defaults = yaml.safe_load((ROOT / "roles/aws_monitoring/defaults/main.yml").read_text())
    assert defaults["aws_monitoring_app_5xx_filter_pattern"] == APP_5XX_PATTERN


@pytest.fixture
def request_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """stdout of real requests to the app: 200, 404, 405 and an unhandled error (500)."""
    app = create_app(env={"STOCKROOM_DATABASE_URL": "sqlite://", "STOCKROOM_ENV": "testing"})
    app.add_url_rule("/api/v1/boom", view_func=lambda: 1 / 0)
    capsys.readouterr()
    with app.test_client() as client:
        for method, path in (("GET", "/healthz"), ("GET", "/x"), ("POST", "/healthz")):
            client.open(path, method=method)
        client.get("/api/v1/boom")
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_the_5xx_filter_counts_exactly_the_apps_5xx_lines(request_lines: list[str]) -> None:
    statuses = [json.loads(line)["status"] for line in request_lines]
    assert statuses == [200, 404, 405, 500]
    counted = [
        json.loads(line)["status"] for line in request_lines if matches(APP_5XX_PATTERN, line)
    ]
    assert counted == [500]


@pytest.mark.parametrize(
    ("event", "counted"),
    [
        (
            request_log.line(method="GET", path="/", status=503, duration_ms=1, node="n", rid="r"),
            True,
        ),
        (
            request_log.line(method="GET", path="/", status=499, duration_ms=1, node="n", rid="r"),
            False,
        ),
        ("[2026-12-06 04:05:06 +0000] [7] [ERROR] Worker timeout (pid:9) status 500", False),
        ('{"status": "500", "path": "/"}', False),
        ('{"path": "/", "duration_ms": 900}', False),
    ],
)
def test_the_5xx_filter_on_other_lines(event: str, counted: bool) -> None:
    assert matches(APP_5XX_PATTERN, event) is counted
