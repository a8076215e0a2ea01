"""Fast tests without MariaDB: configuration, schemas, CSV parsing, services on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from pydantic import ValidationError

from stockroom.app import create_app
from stockroom.config import ConfigError, flask_config, load_settings
from stockroom.db import is_mysql
from stockroom.errors import InsufficientStock, NotFound, ValidationFailed
from stockroom.extensions import db
from stockroom.migrate import upgrade
from stockroom.schemas import ItemCreate, ItemQuery, MovementCreate
from stockroom.services import csvio, item_list, movements
from stockroom.services import items as svc


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    app = create_app(
        {"WTF_CSRF_ENABLED": False},
        env={
            "STOCKROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'unit.db'}",
            "STOCKROOM_ENV": "testing",
        },
    )
    with app.app_context():
        upgrade(db.engine)
    return app


def test_production_requires_secret_key() -> None:
    with pytest.raises(ConfigError, match="STOCKROOM_SECRET_KEY"):
        load_settings(
            {"STOCKROOM_ENV": "production", "STOCKROOM_DATABASE_URL": "mysql+pymysql://x/y"}
        )
    with pytest.raises(ConfigError, match="STOCKROOM_DATABASE_URL"):
        load_settings({"STOCKROOM_ENV": "production", "STOCKROOM_SECRET_KEY": "k" * 32})
    ok = load_settings(
        {
            "STOCKROOM_ENV": "production",
            "STOCKROOM_SECRET_KEY": "k" * 32,
            "STOCKROOM_DATABASE_URL": "mysql+pymysql://x/y",
        }
    )
    assert ok.production and ok.secret_key == "k" * 32


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="STOCKROOM_ENV"):
        load_settings({"STOCKROOM_ENV": "staging"})
    with pytest.raises(ConfigError, match="STOCKROOM_LOG_LEVEL"):
        load_settings({"STOCKROOM_LOG_LEVEL": "loud"})
    with pytest.raises(ConfigError, match="STOCKROOM_DB_CONNECT_TIMEOUT"):
        load_settings({"STOCKROOM_DB_CONNECT_TIMEOUT": "soon"})


def test_healthz_never_touches_the_database() -> None:
    # A database that cannot exist: /healthz must still answer, /readyz must say 503.
    app = create_app(
        env={
            "STOCKROOM_DATABASE_URL": "mysql+pymysql://u@127.0.0.1:1/none",
            "STOCKROOM_NODE_NAME": "n1",
        }
    )
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok", "node": "n1", "version": "1.0.0"}
    assert client.get("/readyz").status_code == 503


def test_schema_rules() -> None:
    assert ItemCreate.model_validate({"sku": "A.b_c-1", "name": "x", "unit_cost": 2}).unit_cost == 2
    for bad in (
        {"sku": "", "name": "x"},
        {"sku": "a/b", "name": "x"},
        {"sku": "a", "name": "x", "unit_cost": "1e3"},
    ):
        with pytest.raises(ValidationError):
            ItemCreate.model_validate(bad)
    with pytest.raises(ValidationError):
        MovementCreate.model_validate({"delta": 0, "reason": "adjust"})
    with pytest.raises(ValidationError):
        MovementCreate.model_validate({"delta": True, "reason": "adjust"})


def test_csv_parse_reports_rows() -> None:
    data = b"\xef\xbb\xbfsku,name,quantity\nA-1,ok,3\n\nA-2,bad qty,x\nA-1,dup,1\n"
    with pytest.raises(ValidationFailed) as info:
        csvio.parse_csv(data)
    rows = info.value.fields["rows"]
    assert set(rows) == {"4", "5"} and "quantity" in rows["4"] and "duplicate" in rows["5"]["sku"]
    items = csvio.parse_csv(b"SKU,Name\nA-1,ok\n")
    assert [(i.sku, i.quantity) for i in items] == [("A-1", 0)]


def test_services_on_sqlite(sqlite_app: Flask) -> None:
    with sqlite_app.app_context():
        item_id = svc.create_item(db.session, ItemCreate(sku="U-1", name="unit", quantity=2), "me")
        move = movements.record_movement(
            db.session, item_id, delta=-2, reason="ship", note="", username="me"
        )
        assert move["quantity_after"] == 0
        with pytest.raises(InsufficientStock):
            movements.record_movement(
                db.session, item_id, delta=-1, reason="ship", note="", username="me"
            )
        with pytest.raises(NotFound):
            movements.record_movement(
                db.session, 999, delta=1, reason="receive", note="", username="me"
            )
        row = svc.get_item(db.session, item_id)
        assert row.quantity == 0 and row.version == 2 and bool(row.low_stock)


def test_list_on_sqlite_encodes_rows_in_python(sqlite_app: Flask) -> None:
    """SQLite (development) has no JSON_OBJECT/GROUP_CONCAT path: the same list, built here."""
    with sqlite_app.app_context():
        for n in (3, 1, 2):
            svc.create_item(db.session, ItemCreate(sku=f"L-{n}", name=f"n{n}", quantity=n), "me")
        query = ItemQuery(q="L-", sort="-quantity", per_page=2)
        docs, total, exact = item_list.list_item_docs(db.session.connection(), query)
        items = json.loads("[" + docs + "]")
        assert [i["sku"] for i in items] == ["L-3", "L-2"] and (total, exact) == (3, True)
        assert items[0] == svc.item_dict(svc.get_item(db.session, items[0]["id"]))


def test_a_mariadb_url_is_served_like_a_mysql_url() -> None:
    """SQLAlchemy names the dialect of mariadb+pymysql:// "mariadb": it must get the same engine
    options (pool, timeouts, group_concat_max_len) as mysql+pymysql://, not SQLite's."""

    def options(scheme: str) -> dict[str, object]:
        env = {"STOCKROOM_DATABASE_URL": f"{scheme}://root@127.0.0.1:3306/stockroom"}
        return flask_config(load_settings(env))["SQLALCHEMY_ENGINE_OPTIONS"]  # type: ignore[no-any-return]

    assert options("mariadb+pymysql") == options("mysql+pymysql")
    assert options("mysql+pymysql")["isolation_level"] == "READ COMMITTED"
    assert is_mysql("mariadb+pymysql://x@h/db") and is_mysql("mysql://x@h/db")
    assert not is_mysql("sqlite:///x.db")
