"""One JSON line per request on stdout: time, method, path, status, duration, node, request id.

The line is the whole event (no logging prefix), so CloudWatch Logs can read it as JSON: the
metric filter ``{ $.status >= 500 }`` counts the 5xx answers (roles/aws_monitoring). On an AWS node
stdout goes to /var/log/stockroom/requests.log, which the CloudWatch agent ships to the
``/<stockroom_name>/app`` group; on the local fleet it stays in the container's journal
(``make logs``). Everything else the app logs goes to stderr, the journal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

LOGGER_NAME = "stockroom.request"
HEADER = "X-Request-Id"
# A request id handed in by a proxy is kept when it is short and plain; anything else is replaced.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:=-]{1,128}$")


class _StdoutHandler(logging.Handler):
    """Writes the bare message to whatever sys.stdout is at the time (gunicorn workers, tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(record.getMessage() + "\n")
            sys.stdout.flush()
        except Exception:  # logging must never break a request
            self.handleError(record)


def request_logger() -> logging.Logger:
    """The request logger, with its one stdout handler (set up once per process)."""
    log = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in log.handlers):
        log.addHandler(_StdoutHandler())
        log.setLevel(logging.INFO)
        log.propagate = False  # not again on stderr with the root logger's prefix
    return log


def request_id(incoming: str | None) -> str:
    """The caller's request id when it is a plain token, otherwise a new one."""
    if incoming and _INCOMING_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def line(
    *,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    node: str,
    rid: str,
    when: datetime | None = None,
) -> str:
    """One request as a compact JSON object (status and duration_ms are numbers)."""
    stamp = (when or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields: dict[str, Any] = {
        "time": stamp,
        "method": method,
        "path": path,
        "status": int(status),
        "duration_ms": round(duration_ms, 1),
        "node": node,
        "request_id": rid,
    }
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def init_app(app: Flask) -> None:
    """Time every request, hand its id back in X-Request-Id and log its line."""
    log = request_logger()
    node = str(app.config.get("NODE_NAME", ""))

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id(request.headers.get(HEADER))

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("request_started")
        rid = g.get("request_id") or request_id(None)
        response.headers.setdefault(HEADER, rid)
        elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        log.info(
            line(
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=elapsed,
                node=node,
                rid=rid,
            )
        )
        return response
