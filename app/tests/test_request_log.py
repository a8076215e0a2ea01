"""The request log: one bare JSON line per request on stdout (SQLite, no MariaDB needed)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from stockroom import request_log
from stockroom.app import create_app

FIELDS = ["time", "method", "path", "status", "duration_ms", "node", "request_id"]


def _boom() -> Any:
    raise RuntimeError("a bug")


@pytest.fixture
def app() -> Flask:
    """No database needed: liveness, a 404, a 405 and an unhandled error."""
    env = {"STOCKROOM_DATABASE_URL": "sqlite://", "STOCKROOM_ENV": "testing"}
    app = create_app(env={**env, "STOCKROOM_NODE_NAME": "node-7"})
    app.add_url_rule("/api/v1/boom", view_func=_boom)
    return app


def lines(text: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object (nothing else is written there)."""
    return [json.loads(raw) for raw in text.splitlines() if raw]


def test_one_json_line_per_request_with_every_field(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = app.test_client()
    capsys.readouterr()
    first = client.get("/healthz")
    second = client.post("/healthz")
    out = lines(capsys.readouterr().out)
    assert len(out) == 2
    for entry, response in zip(out, (first, second), strict=True):
        assert list(entry) == FIELDS
        assert entry["status"] == response.status_code and isinstance(entry["status"], int)
        assert isinstance(entry["duration_ms"], float) and 0 <= entry["duration_ms"] < 10_000
        assert entry["node"] == "node-7"
        assert entry["request_id"] == response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
        assert entry["time"].endswith("Z")
        datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    assert (out[0]["method"], out[0]["path"], out[0]["status"]) == ("GET", "/healthz", 200)
    assert (out[1]["method"], out[1]["path"], out[1]["status"]) == ("POST", "/healthz", 405)
    assert out[0]["request_id"] != out[1]["request_id"]


def test_unhandled_error_is_logged_as_500(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    client = app.test_client()
    capsys.readouterr()
    response = client.get("/api/v1/boom")
    captured = capsys.readouterr()
    assert response.status_code == 500
    (entry,) = lines(captured.out)
    assert (entry["path"], entry["status"]) == ("/api/v1/boom", 500)
    # The traceback goes to stderr (the journal), never into the JSON stream.
    assert "a bug" not in captured.out


def test_a_callers_request_id_is_kept_and_a_strange_one_replaced(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = app.test_client()
    capsys.readouterr()
    kept = client.get("/healthz", headers={"X-Request-Id": "Root=1-abc-def"})
    replaced = client.get("/healthz", headers={"X-Request-Id": 'x" , "status": 500'})
    out = lines(capsys.readouterr().out)
    assert kept.headers["X-Request-Id"] == out[0]["request_id"] == "Root=1-abc-def"
    assert re.fullmatch(r"[0-9a-f]{32}", out[1]["request_id"])
    assert replaced.headers["X-Request-Id"] == out[1]["request_id"]


def test_line_is_compact_json_with_numbers() -> None:
    when = datetime(2026, 12, 6, 4, 5, 6, 789000, tzinfo=UTC)
    text = request_log.line(
        method="POST",
        path='/api/v1/items/"x"',
        status=503,
        duration_ms=12.345,
        node="n1",
        rid="abc",
        when=when,
    )
    assert "\n" not in text and ", " not in text
    assert json.loads(text) == {
        "time": "2026-12-06T04:05:06.789Z",
        "method": "POST",
        "path": '/api/v1/items/"x"',
        "status": 503,
        "duration_ms": 12.3,
        "node": "n1",
        "request_id": "abc",
    }


def test_the_logger_is_set_up_once_and_does_not_propagate(app: Flask) -> None:
    create_app(env={"STOCKROOM_DATABASE_URL": "sqlite://", "STOCKROOM_ENV": "testing"})  # a 2nd app
    log = request_log.request_logger()
    ours = [h for h in log.handlers if isinstance(h, request_log._StdoutHandler)]
    assert len(ours) == 1 and log.propagate is False
