"""The application factory: configuration, extensions, blueprints, error mapping, CLI."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, g, has_request_context, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from stockroom import __version__, caches, request_log, security
from stockroom.api import bp as api_bp
from stockroom.config import flask_config, load_settings
from stockroom.db import (
    LOCK_CODES,
    READER,
    create_reader,
    install_fast_handshake,
    install_idle_ping,
    is_mysql,
    is_unavailable,
    mysql_code,
)
from stockroom.errors import Conflict, DatabaseUnavailable, StockroomError, ValidationFailed
from stockroom.extensions import csrf, db
from stockroom.health import bp as health_bp
from stockroom.health import ready_probe
from stockroom.node import node_ip, node_name
from stockroom.services import stock_alerts
from stockroom.services.page_cache import count_item_changes
from stockroom.web import bp as web_bp

log = logging.getLogger("stockroom")
JSON_PREFIXES = ("/api/", "/openapi.json", "/healthz", "/readyz")


class _WebSessions(SecureCookieSessionInterface):
    """The web UI's signed-cookie session. API, health and OpenAPI requests authenticate with
    bearer tokens or not at all, so they skip decoding the cookie (about 7% of an API request's
    CPU in a py-spy profile)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(JSON_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure whenever the request came over HTTPS (through the trusted proxy hop).
        secure = has_request_context() and request.is_secure
        return secure or super().get_cookie_secure(app)


def create_app(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Flask:
    """Build the app. ``env`` replaces os.environ (tests); ``overrides`` patch the Flask config."""
    settings = load_settings(env)
    app = Flask(__name__)
    app.session_interface = _WebSessions()
    app.config.from_mapping(flask_config(settings, overrides))
    settings = app.config["STOCKROOM_SETTINGS"]
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    app.config["NODE_NAME"] = node_name(settings.node_name)
    app.config["NODE_IP"] = node_ip(settings.node_ip)
    app.config["VERSION"] = __version__
    request_log.init_app(app)  # first: times every request, whatever answers it

    caches.init_app(app, settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep field order, skip sorting
    db.init_app(app)
    security.init_app(app, settings)
    csrf.init_app(app)
    with app.app_context():
        count_item_changes(db.engine)  # the list page cache sees every write (page_cache.py)
        stock_alerts.init_app(app, settings, db.engine)  # low-stock events, with a topic only
        if is_mysql(db.engine.dialect):
            reader = create_reader(db.engine, app.config["SQLALCHEMY_ENGINE_OPTIONS"])
            app.extensions[READER] = reader
            for engine in (db.engine, reader):
                install_fast_handshake(engine, settings.db_connect_timeout)
                install_idle_ping(engine, settings.db_ping_idle_seconds)

    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(web_bp)
    _register_errors(app)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {
            "node_name": app.config["NODE_NAME"],
            "node_ip": app.config["NODE_IP"],
            "app_version": __version__,
            "current_user": g.get("user"),
        }

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("X-Served-By", app.config["NODE_NAME"])
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not request.path.startswith(JSON_PREFIXES):
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app


def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _error_response(err: StockroomError) -> Any:
    if _wants_json():
        resp = jsonify(err.to_dict())
        resp.status_code = err.status
        if err.status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        return resp
    return render_template("error.html", error=err), err.status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(StockroomError)
    def _domain(err: StockroomError) -> Any:
        return _error_response(err)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        code = (err.name or "error").lower().replace(" ", "_").replace("'", "")
        mapped = StockroomError(err.description or err.name or "error")
        mapped.status, mapped.code = err.code or 500, code
        if err.code == 400 and "CSRF" in (err.description or ""):
            mapped.code = "csrf_failed"
        resp = _error_response(mapped)
        if err.code == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            resp = app.make_response(resp)
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.errorhandler(SQLAlchemyError)
    def _database(err: SQLAlchemyError) -> Any:
        db.session.rollback()
        if is_unavailable(err):
            log.warning("database unavailable: %s", str(err).splitlines()[0])
            ready_probe(app).forget()  # /readyz reports the outage at once, not a second later
            return _error_response(DatabaseUnavailable("the database is unavailable, try again"))
        if mysql_code(err) in LOCK_CODES:
            return _error_response(Conflict("the item is busy, try again"))
        if isinstance(err, IntegrityError):
            return _error_response(Conflict("the change conflicts with existing data"))
        if isinstance(err, DataError):
            return _error_response(ValidationFailed("a value is out of range for the database"))
        log.exception("database error")
        return _internal()

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        log.exception("unhandled error")
        return _internal()


def _internal() -> Any:
    err = StockroomError("internal error")
    err.status, err.code = 500, "internal_error"
    return _error_response(err)
