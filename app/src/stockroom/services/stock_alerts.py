"""Low-stock events on SNS: the outbox (table stock_events) and the publisher that empties it.

Written: a movement that takes an item from above its reorder level to at or below it inserts one
row, in the movement's own transaction (services/movements.py finds the crossing in its UPDATE).
Movements of one item are serialised by the item's row lock, so each sees the quantity the one
before it left: of 32 clients shipping the same item at once, exactly one crosses. A rollback
takes the event back with the movement; a committed movement's event is never lost.

Published: after the commit the request wakes its process's publisher thread (started on the
first request; it also polls every STOCKROOM_STOCK_POLL_SECONDS). The thread claims due rows with
one UPDATE that moves their next_attempt_at a lease (LEASE) into the future under a claim token of
its own - on several nodes at once each row goes to one of them - publishes each to SNS and
deletes it. A failed publish puts the claimed rows back with an exponential backoff (at most
STOCKROOM_STOCK_RETRY_MAX_SECONDS); nothing gives up. A process that dies between a publish and
its delete leaves the row to be claimed again once the lease ran out: the one way a subscriber
sees an event twice, with the same event_id (message attribute and body field) to drop it by.

Without STOCKROOM_STOCK_TOPIC_ARN nothing is written to the outbox and nothing is published.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import unicodedata
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import bindparam, delete, func, insert, literal_column, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from stockroom.config import Settings
from stockroom.db import LOCK_CODES, mysql_code, run
from stockroom.models import StockEvent, utcnow
from stockroom.services.items import iso, items_t

log = logging.getLogger("stockroom.stock_alerts")
KEY = "stockroom.stock_alerts"
EVENT_TYPE = "stock.low"
BATCH = 10  # rows per claim
# A claim's lease: longer than a batch can take (each publish is bounded by the client's timeouts
# and stops the batch when it fails), so only a dead publisher's rows are claimed again.
LEASE = timedelta(seconds=300)
events_t = StockEvent.__table__

# The event row, copied from the item row the movement holds locked (one round trip).
OUTBOX_INSERT = insert(events_t).from_select(
    [
        "event_id", "item_id", "movement_id", "sku", "name", "location", "quantity",
        "reorder_level", "node", "created_at", "attempts", "next_attempt_at", "claimed_by",
        "last_error",
    ],
    select(
        bindparam("e_id"), items_t.c.id, bindparam("e_move"), items_t.c.sku, items_t.c.name,
        items_t.c.location, items_t.c.quantity, items_t.c.reorder_level, bindparam("e_node"),
        bindparam("b_now"), literal_column("0"), bindparam("b_now"), literal_column("''"),
        literal_column("''"),
    ).where(items_t.c.id == bindparam("b_id")),
)  # fmt: skip
_DUE = events_t.c.next_attempt_at <= bindparam("c_now")
# The inner SELECT is a derived table (LIMIT keeps MySQL from merging it), and the outer WHERE
# repeats the condition: an UPDATE that waited for another node's claim re-reads the row and
# leaves it alone.
_DUE_IDS = select(events_t.c.id).where(_DUE).order_by(events_t.c.id).limit(BATCH).subquery("due")
_CLAIM = (
    update(events_t)
    .where(_DUE, events_t.c.id.in_(select(_DUE_IDS.c.id)))
    .values(claimed_by=bindparam("c_token"), next_attempt_at=bindparam("c_until"))
)
_CLAIMED = select(events_t).where(events_t.c.claimed_by == bindparam("c_token"))
_DONE = delete(events_t).where(
    events_t.c.id == bindparam("c_id"), events_t.c.claimed_by == bindparam("c_token")
)
_RETRY = (
    update(events_t)
    .where(events_t.c.claimed_by == bindparam("c_token"))
    .values(
        claimed_by="",
        attempts=events_t.c.attempts + 1,
        next_attempt_at=bindparam("c_next"),
        last_error=bindparam("c_error"),
    )
)
_NEXT_DUE = select(func.min(events_t.c.next_attempt_at))


def message(row: Any) -> dict[str, Any]:
    """The SNS publish arguments of one event row."""
    body = {
        "type": EVENT_TYPE,
        "event_id": row.event_id,
        "item_id": int(row.item_id),
        "sku": row.sku,
        "name": row.name,
        "quantity": int(row.quantity),
        "reorder_level": int(row.reorder_level),
        "location": row.location,
        "movement_id": int(row.movement_id),
        "node": row.node,
        "time": iso(row.created_at),
    }
    where = f" at {row.location}" if row.location else ""
    subject = (
        f"Low stock: {row.sku} {row.name}{where} - {int(row.quantity)} left"
        f" (reorder level {int(row.reorder_level)})"
    )
    return {
        "Message": json.dumps(body, ensure_ascii=False),
        "Subject": mail_subject(subject),
        "MessageAttributes": {
            "event_id": {"DataType": "String", "StringValue": row.event_id},
            "event_type": {"DataType": "String", "StringValue": EVENT_TYPE},
        },
    }


def mail_subject(text: str) -> str:
    """What SNS accepts as a Subject: ASCII, no control characters, under 100 characters."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    ascii_text = plain.encode("ascii", "replace").decode()
    clean = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", ascii_text)).strip()
    return clean if len(clean) < 100 else clean[:96] + "..."


class Publisher:
    """One per app (process): writes the outbox rows' parameters and sends due rows to SNS."""

    def __init__(self, engine: Engine, settings: Settings, node: str) -> None:
        if not settings.stock_topic_arn:
            raise ValueError("a Publisher needs STOCKROOM_STOCK_TOPIC_ARN")
        self.engine = engine
        self.topic = settings.stock_topic_arn
        self.region = settings.aws_region or self.topic.split(":")[3]
        self.endpoint = settings.aws_endpoint_url
        self.poll = settings.stock_poll_seconds
        self.retry_max = settings.stock_retry_max_seconds
        self.node = node[:255]
        self.published = 0  # this process's count, for tests and logs
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def outbox_params(self, params: dict[str, Any], movement_id: int) -> dict[str, Any]:
        return params | {"e_id": str(uuid.uuid4()), "e_move": movement_id, "e_node": self.node}

    def ensure_running(self) -> None:
        """Start this process's publisher thread (again after a fork: threads do not survive it)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._client = os.getpid(), None
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="stock-alerts", daemon=True)
                self._thread.start()

    def kick(self) -> None:
        """A movement committed an event: publish it now rather than at the next poll."""
        self.ensure_running()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop this process's thread after its current publish (tests; a process exit kills it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.ident != threading.get_ident():
            self._thread.join(timeout)
        self._thread, self._pid = None, 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a kick from now on wakes the wait below
            try:
                wait = self.drain()
            except Exception as exc:  # the database is away: try again at the next poll
                log.warning("stock alerts: outbox not read: %s", str(exc).splitlines()[0])
                wait = self.poll
            self._wake.wait(wait)

    def _sns(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 - only processes with a topic pay for the import
            from botocore.config import Config  # noqa: PLC0415

            config = Config(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2}
            )
            self._client = boto3.session.Session().client(
                "sns", region_name=self.region, endpoint_url=self.endpoint, config=config
            )
        return self._client

    def drain(self) -> float:
        """Publish every due event; the seconds until the next one is due (at most the poll)."""
        while self._publish_batch():
            pass
        with self.engine.connect() as conn:
            due = run(conn, _NEXT_DUE, {}).scalar()
        if due is None:
            return self.poll
        return min(self.poll, max(0.05, (due - utcnow()).total_seconds()))

    def _publish_batch(self) -> bool:
        """Claim, publish and delete up to BATCH due events; False if none was due or SNS failed."""
        token, now = uuid.uuid4().hex, utcnow()
        claim = {"c_token": token, "c_now": now, "c_until": now + LEASE}
        try:
            with self.engine.begin() as conn:
                if run(conn, _CLAIM, claim).rowcount == 0:
                    return False
        except OperationalError as exc:
            if mysql_code(exc) in LOCK_CODES:  # two nodes' claims crossed: claim again
                return True
            raise
        with self.engine.connect() as conn:
            rows = conn.execute(_CLAIMED.order_by(events_t.c.id), {"c_token": token}).all()
        for row in rows:
            try:
                self._sns().publish(TopicArn=self.topic, **message(row))
            except Exception as exc:  # SNS unreachable, throttled, refused: retry them later
                self._retry(token, row.attempts, exc)
                return False
            with self.engine.begin() as conn:
                run(conn, _DONE, {"c_id": row.id, "c_token": token})
            self.published += 1
            log.info("stock alert %s published (%s, %s left)", row.event_id, row.sku, row.quantity)
        return True

    def _retry(self, token: str, attempts: int, exc: Exception) -> None:
        delay = min(self.retry_max, 2.0 ** min(attempts, 20))
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("stock alerts: publish failed, retry in %.0f s: %s", delay, error)
        params = {"c_token": token, "c_next": utcnow() + timedelta(seconds=delay), "c_error": error}
        with self.engine.begin() as conn:
            run(conn, _RETRY, params)


def init_app(app: Flask, settings: Settings, engine: Engine) -> None:
    """With a topic: the app's publisher, started by the first request of each process."""
    if not settings.stock_topic_arn:
        return
    pub = Publisher(engine, settings, app.config["NODE_NAME"])
    app.extensions[KEY] = pub
    app.before_request(pub.ensure_running)


def publisher() -> Publisher | None:
    """The current app's publisher; None without a topic (no outbox rows are written then)."""
    return current_app.extensions.get(KEY) if has_app_context() else None
