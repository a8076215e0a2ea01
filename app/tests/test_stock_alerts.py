"""Low-stock events on SNS (services/stock_alerts.py), read back through an SQS queue subscribed to
the topic on an in-process moto server: one message per crossing, also under 32 concurrent ships
on MariaDB; none without a crossing or when the item is already low; a message written while SNS
is unreachable arrives once it is back; rows are claimed by one publisher each."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest
import requests
from conftest import Api, app_env, free_port, gunicorn, mariadb_url, new_sku
from flask import Flask
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from sqlalchemy import select, text
from tcpproxy import TcpProxy

from stockroom.app import create_app
from stockroom.config import ConfigError, load_settings
from stockroom.extensions import db
from stockroom.migrate import upgrade
from stockroom.models import utcnow
from stockroom.services import stock_alerts, users
from stockroom.services.stock_alerts import Publisher, events_t, mail_subject

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
FAST = {"STOCKROOM_STOCK_POLL_SECONDS": "0.5", "STOCKROOM_STOCK_RETRY_MAX_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


class Subscriber:
    """A topic of its own and an SQS queue subscribed to it."""

    def __init__(self, url: str) -> None:
        kw = {"region_name": REGION, "endpoint_url": url, **_lower(CREDENTIALS)}
        self.sns, self.sqs = boto3.client("sns", **kw), boto3.client("sqs", **kw)
        name = f"stock-{uuid.uuid4().hex[:8]}"
        self.topic = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.received: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for m in batch:
                self.received.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return self.received

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.poll()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received

    def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """What arrived, after watching for ``seconds`` more (a late duplicate would show)."""
        time.sleep(seconds)
        return self.poll()


def _lower(env: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in env.items()}


@pytest.fixture
def subscriber(moto_url: str) -> Subscriber:
    return Subscriber(moto_url)


def alert_env(db_name: str, topic: str, endpoint: str, **extra: str) -> dict[str, str]:
    env = app_env(mariadb_url(db_name), STOCKROOM_STOCK_TOPIC_ARN=topic, **FAST, **extra)
    return env | {"STOCKROOM_AWS_ENDPOINT_URL": endpoint}


@pytest.fixture
def outbox_app(app: Flask, db_name: str) -> Iterator[Any]:
    """Apps with a topic, made by the test; their publishers stop and the outbox is emptied after
    (``app``: the session's database exists and is migrated)."""
    made: list[Flask] = []

    def make(topic: str, endpoint: str, **extra: str) -> Flask:
        made.append(
            create_app(
                {"WTF_CSRF_ENABLED": False}, env=alert_env(db_name, topic, endpoint, **extra)
            )
        )
        return made[-1]

    yield make
    for a in made:
        a.extensions[stock_alerts.KEY].stop()
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(events_t.delete())


def outbox_rows(app: Flask) -> list[Any]:
    with app.app_context(), db.engine.connect() as conn:
        return list(conn.execute(select(events_t).order_by(events_t.c.id)))


def create_item(api: Api, quantity: int, reorder_level: int) -> dict[str, Any]:
    body = {"sku": new_sku(), "name": "Widget ✓", "quantity": quantity}
    body |= {"reorder_level": reorder_level, "location": "A-01"}
    resp = api.post("/items", json=body)
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def move(api: Api, item_id: int, delta: int) -> dict[str, Any]:
    reason = "ship" if delta < 0 else "receive"
    resp = api.post(f"/items/{item_id}/movements", json={"delta": delta, "reason": reason})
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def event_of(envelope: dict[str, Any]) -> dict[str, Any]:
    body = dict(json.loads(envelope["Message"]))
    assert envelope["MessageAttributes"]["event_id"]["Value"] == body["event_id"]
    return body


def test_concurrent_ships_that_cross_once_publish_one_message(
    app: Flask, db_name: str, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    """32 clients ship 1 each from 40 at once through gunicorn (2 processes, 2 publishers) on
    MariaDB: the item crosses its reorder level of 20 once, and one message says so."""
    env = alert_env(db_name, subscriber.topic, moto_url, **CREDENTIALS)
    for key in ("STOCKROOM_DATABASE_URL", "STOCKROOM_ENV"):  # gunicorn(): production mode
        env.pop(key)
    with gunicorn(mariadb_url(db_name), **env) as base:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {tokens['editor']}"
        body = {"sku": new_sku(), "name": "Contended", "quantity": 40, "reorder_level": 20}
        item = s.post(f"{base}/api/v1/items", json=body | {"location": "B-7"}).json()
        url = f"{base}/api/v1/items/{item['id']}/movements"
        start = threading.Barrier(32)

        def ship(_: int) -> dict[str, Any]:
            c = requests.Session()
            c.headers["Authorization"] = s.headers["Authorization"]
            start.wait()
            resp = c.post(url, json={"delta": -1, "reason": "ship"}, timeout=30)
            assert resp.status_code == 201, resp.text
            return dict(resp.json())

        with ThreadPoolExecutor(32) as pool:
            moves = list(pool.map(ship, range(32)))
        crossing = [m for m in moves if m["quantity_after"] == 20]
        assert len(crossing) == 1 and sorted(m["quantity_after"] for m in moves) == list(
            range(8, 40)
        )
        messages = subscriber.wait_for(1)
        assert len(subscriber.quiet_for(1.5)) == 1, messages
        event = event_of(messages[0])
        assert event["type"] == "stock.low" and event["item_id"] == item["id"]
        assert (event["sku"], event["name"], event["location"]) == (body["sku"], "Contended", "B-7")
        assert (event["quantity"], event["reorder_level"]) == (20, 20)
        assert event["movement_id"] == crossing[0]["id"]
        assert event["node"] == "test-node" and event["time"].endswith("Z")
        uuid.UUID(event["event_id"])
        assert (
            messages[0]["Subject"]
            == f"Low stock: {body['sku']} Contended at B-7 - 20 left (reorder level 20)"
        )

        # Already below: further ships write no event and publish nothing.
        assert s.post(url, json={"delta": -3, "reason": "ship"}).status_code == 201
        assert len(subscriber.quiet_for(1.5)) == 1
    assert outbox_rows(app) == []


def test_message_written_while_sns_is_down_arrives_when_it_is_back(
    outbox_app: Any, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    proxy = TcpProxy(("127.0.0.1", int(moto_url.rsplit(":", 1)[1])))
    try:
        app = outbox_app(subscriber.topic, f"http://127.0.0.1:{proxy.port}")
        api = Api(app.test_client(), tokens["editor"])
        item = create_item(api, 10, 5)
        proxy.down("refuse")
        crossed = move(api, item["id"], -6)  # 10 -> 4: crosses 5 while SNS is unreachable
        deadline = time.monotonic() + 10
        while not (rows := outbox_rows(app)) or rows[0].attempts < 2:
            assert time.monotonic() < deadline, rows
            time.sleep(0.1)
        assert len(rows) == 1 and rows[0].last_error and rows[0].movement_id == crossed["id"]
        assert subscriber.poll() == []
        proxy.up()
        messages = subscriber.wait_for(1)
        assert len(subscriber.quiet_for(1.0)) == 1
        assert event_of(messages[0])["event_id"] == rows[0].event_id
        assert outbox_rows(app) == []
    finally:
        proxy.close()


def test_no_crossing_no_message(
    outbox_app: Any, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    app = outbox_app(subscriber.topic, moto_url)
    api = Api(app.test_client(), tokens["editor"])
    item = create_item(api, 10, 5)
    move(api, item["id"], -4)  # 10 -> 6: still above
    move(api, item["id"], 20)
    low = create_item(api, 3, 5)  # created low: no movement crossed
    move(api, low["id"], -1)
    move(api, low["id"], 1)  # 2 -> 3, still at or below
    assert outbox_rows(app) == []
    assert subscriber.quiet_for(1.0) == []
    # Back above, then down again: a second crossing, a second event.
    move(api, item["id"], -21)  # 26 -> 5
    move(api, low["id"], 10)  # 3 -> 13
    move(api, low["id"], -8)  # 13 -> 5
    assert len(subscriber.wait_for(2)) == 2
    assert sorted(event_of(m)["item_id"] for m in subscriber.quiet_for(1.0)) == sorted(
        [item["id"], low["id"]]
    )


def test_a_csv_import_that_crosses_publishes_one_message(
    outbox_app: Any, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    """An import's 'count' movements are movements: crossing ones publish, the others do not."""
    app = outbox_app(subscriber.topic, moto_url)
    api = Api(app.test_client(), tokens["editor"])
    crosses, stays, level_only = (create_item(api, 10, 5) for _ in range(3))
    rows = [
        f"{crosses['sku']},Widget,,,A-01,pcs,3,,",  # 10 -> 3 at level 5
        f"{stays['sku']},Widget,,,A-01,pcs,6,,",  # 10 -> 6: still above
        f"{level_only['sku']},Widget,,,A-01,pcs,,20,",  # level raised, no movement
    ]
    header = "sku,name,description,category,location,unit,quantity,reorder_level,unit_cost"
    resp = api.post(
        "/import/items", data="\n".join([header, *rows]) + "\n", content_type="text/csv"
    )
    assert resp.status_code == 200, resp.get_json()
    (message,) = subscriber.wait_for(1)
    event = event_of(message)
    assert (event["item_id"], event["quantity"], event["reorder_level"]) == (crosses["id"], 3, 5)
    moves = api.get(f"/items/{crosses['id']}/movements").get_json()["movements"]
    assert event["movement_id"] == moves[0]["id"] and moves[0]["reason"] == "count"
    assert len(subscriber.quiet_for(1.0)) == 1
    assert outbox_rows(app) == []


def test_without_a_topic_nothing_is_written(app: Flask, api: Api) -> None:
    assert stock_alerts.KEY not in app.extensions
    item = create_item(api, 10, 5)
    move(api, item["id"], -9)
    assert outbox_rows(app) == []


def test_publishers_on_several_nodes_claim_each_event_once(
    outbox_app: Any, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    """30 events waiting (SNS was away), then four publishers drain at once: 30 messages."""
    app = outbox_app(subscriber.topic, "http://127.0.0.1:9")  # nothing listens: publishes fail
    api = Api(app.test_client(), tokens["editor"])
    items = [create_item(api, 2, 1) for _ in range(30)]
    for item in items:
        move(api, item["id"], -1)
    app.extensions[stock_alerts.KEY].stop()
    with app.app_context(), db.engine.begin() as conn:  # all due now, unclaimed
        due = utcnow() - timedelta(seconds=1)
        conn.execute(events_t.update().values(next_attempt_at=due, claimed_by=""))
    settings = load_settings(alert_env("unused", subscriber.topic, moto_url))
    with app.app_context():
        publishers = [Publisher(db.engine, settings, f"node-{n}") for n in range(4)]
        start = threading.Barrier(4)

        def drain(p: Publisher) -> int:
            start.wait()
            p.drain()
            return p.published

        with ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(drain, publishers))
    assert sum(counts) == 30, counts
    messages = subscriber.wait_for(30)
    ids = [event_of(m)["item_id"] for m in subscriber.quiet_for(0.5)]
    assert sorted(ids) == sorted(i["id"] for i in items), len(messages)
    assert outbox_rows(app) == []


def test_sqlite_path_finds_the_crossing(
    tmp_path: Any, tokens: dict[str, str], subscriber: Subscriber, moto_url: str
) -> None:
    env = app_env(f"sqlite:///{tmp_path}/alerts.db", STOCKROOM_STOCK_TOPIC_ARN=subscriber.topic)
    app = create_app(
        {"WTF_CSRF_ENABLED": False}, env=env | FAST | {"STOCKROOM_AWS_ENDPOINT_URL": moto_url}
    )
    try:
        with app.app_context():
            upgrade(db.engine)
            users.create_user(db.session, "sq-editor", "editor", "password-123")
            token = users.create_token(db.session, "sq-editor", "tests")
        api = Api(app.test_client(), token)
        item = create_item(api, 10, 5)
        move(api, item["id"], -4)  # 6: above
        move(api, item["id"], -1)  # 5: crossed
        move(api, item["id"], -1)  # 4: already low
        (message,) = subscriber.wait_for(1)
        event = event_of(message)
        assert (event["quantity"], event["reorder_level"], event["item_id"]) == (5, 5, item["id"])
        assert len(subscriber.quiet_for(1.0)) == 1
        with app.app_context():
            assert db.session.execute(text("SELECT COUNT(*) FROM stock_events")).scalar() == 0
    finally:
        app.extensions[stock_alerts.KEY].stop()


def test_bad_topic_arn_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="STOCKROOM_STOCK_TOPIC_ARN"):
        load_settings({"STOCKROOM_STOCK_TOPIC_ARN": "stockroom-stock"})
    settings = load_settings(
        {"STOCKROOM_STOCK_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:s-stock"}
    )
    assert settings.stock_topic_arn and settings.aws_region is None


def test_mail_subject_is_what_sns_accepts() -> None:
    subject = mail_subject("Low stock: Café\nglaçé ✓ " + "x" * 200)
    assert subject.isascii() and len(subject) < 100 and "\n" not in subject
    assert subject.startswith("Low stock: Cafe glace ?")
