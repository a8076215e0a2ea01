"""Configuration from environment variables (STOCKROOM_*).

Production mode is ``STOCKROOM_ENV=production``: the secret key must then be set explicitly, and a
missing key is a configuration error (the process refuses to start with a one-line message).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from stockroom.db import is_mysql

# Longest GROUP_CONCAT result a MySQL connection may build. A list page is at most 200 items of
# at most ~14 kB of JSON each; a longer result means rows written around the API's limits, and
# services.item_list.list_item_docs then takes its row-by-row path.
GROUP_CONCAT_MAX_LEN = 8 * 1024 * 1024
# Password hashing: OWASP's scrypt minimum (N=2^17, r=8, p=1). Only STOCKROOM_ENV=testing may use
# a cheaper N (STOCKROOM_PASSWORD_SCRYPT_N), so test suites that create many users stay fast.
SCRYPT_MIN_N = 2**17
PASSWORD_METHOD = f"scrypt:{SCRYPT_MIN_N}:8:1"


class ConfigError(Exception):
    """Invalid or missing configuration; the message is shown to the operator as one line."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    log_level: str
    node_name: str | None
    node_ip: str | None
    db_connect_timeout: float
    db_read_timeout: float
    db_pool_size: int
    token_cache_seconds: float
    db_ping_idle_seconds: float
    count_cache_seconds: float
    list_cache_mb: float
    list_cache_seconds: float
    # Security (docs/security.md).
    proxy_hops: int = 1
    session_hours: float = 12.0
    max_body_bytes: int = 1024 * 1024
    import_max_bytes: int = 64 * 1024 * 1024
    password_method: str = PASSWORD_METHOD
    ready_cache_seconds: float = 1.0
    # PEM bundle of the CAs that may sign the database server's certificate (RDS's bundle on
    # AWS): when set, every connection is TLS, verified, and the certificate must name the host.
    database_ca: str | None = None
    # Low-stock events (services/stock_alerts.py): none are written or published without a topic.
    stock_topic_arn: str | None = None
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    stock_poll_seconds: float = 10.0
    stock_retry_max_seconds: float = 60.0

    @property
    def production(self) -> bool:
        return self.env == "production"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {raw!r}")
    return value


# arn:<partition>:sns:<region>:<12-digit account>:<topic name>
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")


def _topic_arn(env: Mapping[str, str]) -> str | None:
    raw = env.get("STOCKROOM_STOCK_TOPIC_ARN", "").strip()
    if raw and not _TOPIC_ARN.fullmatch(raw):
        raise ConfigError(
            "STOCKROOM_STOCK_TOPIC_ARN must be an SNS topic ARN"
            f" (arn:aws:sns:<region>:<account>:<name>), got {raw!r}"
        )
    return raw or None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    mode = env.get("STOCKROOM_ENV", "development").strip().lower() or "development"
    if mode not in ("development", "production", "testing"):
        raise ConfigError(f"STOCKROOM_ENV must be development, testing or production, got {mode!r}")
    secret = env.get("STOCKROOM_SECRET_KEY", "")
    if mode == "production" and len(secret) < 16:
        raise ConfigError(
            "STOCKROOM_SECRET_KEY must be set (at least 16 characters)"
            " when STOCKROOM_ENV=production"
        )
    url = env.get("STOCKROOM_DATABASE_URL", "")
    if not url:
        if mode == "production":
            raise ConfigError("STOCKROOM_DATABASE_URL must be set when STOCKROOM_ENV=production")
        # Local development only: a SQLite file in the working directory.
        url = "sqlite:///" + str(Path.cwd() / "stockroom-dev.sqlite3")
    level = env.get("STOCKROOM_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"STOCKROOM_LOG_LEVEL must be DEBUG/INFO/WARNING/ERROR, got {level!r}")
    pool = int(_float(env, "STOCKROOM_DB_POOL_SIZE", 10)) or 1
    scrypt_n = int(_float(env, "STOCKROOM_PASSWORD_SCRYPT_N", SCRYPT_MIN_N))
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1) or (scrypt_n < SCRYPT_MIN_N and mode != "testing"):
        raise ConfigError(
            f"STOCKROOM_PASSWORD_SCRYPT_N must be a power of two >= {SCRYPT_MIN_N}"
            " (lower only when STOCKROOM_ENV=testing)"
        )
    database_ca = env.get("STOCKROOM_DATABASE_CA", "").strip() or None
    if database_ca is not None and not Path(database_ca).is_file():
        raise ConfigError(f"STOCKROOM_DATABASE_CA names {database_ca!r}, which is not a file")
    return Settings(
        env=mode,
        database_url=url,
        # Development without a key: a random one per process (sessions do not survive restarts).
        secret_key=secret or secrets.token_hex(32),
        log_level=level,
        node_name=env.get("STOCKROOM_NODE_NAME") or None,
        node_ip=env.get("STOCKROOM_NODE_IP") or None,
        db_connect_timeout=_float(env, "STOCKROOM_DB_CONNECT_TIMEOUT", 1.0) or 1.0,
        db_read_timeout=_float(env, "STOCKROOM_DB_READ_TIMEOUT", 15.0) or 15.0,
        db_pool_size=pool,
        token_cache_seconds=_float(env, "STOCKROOM_TOKEN_CACHE_SECONDS", 5.0),
        db_ping_idle_seconds=_float(env, "STOCKROOM_DB_PING_IDLE_SECONDS", 1.0),
        count_cache_seconds=_float(env, "STOCKROOM_COUNT_CACHE_SECONDS", 5.0),
        # GET /items pages kept per process (services/page_cache.py); 0 turns the cache off.
        list_cache_mb=_float(env, "STOCKROOM_LIST_CACHE_MB", 16.0),
        # ... and how long at most, for changes made outside the app (SQL by hand).
        list_cache_seconds=_float(env, "STOCKROOM_LIST_CACHE_SECONDS", 5.0),
        # Proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted (ALB or HAProxy).
        proxy_hops=int(_float(env, "STOCKROOM_PROXY_HOPS", 1)),
        session_hours=_float(env, "STOCKROOM_SESSION_HOURS", 12.0) or 12.0,
        max_body_bytes=int(_float(env, "STOCKROOM_MAX_BODY_BYTES", 1024 * 1024)),
        import_max_bytes=int(_float(env, "STOCKROOM_IMPORT_MAX_BYTES", 64 * 1024 * 1024)),
        password_method=f"scrypt:{scrypt_n}:8:1",
        ready_cache_seconds=_float(env, "STOCKROOM_READY_CACHE_SECONDS", 1.0),
        database_ca=database_ca,
        stock_topic_arn=_topic_arn(env),
        # Default: the topic's own region; an endpoint only for an emulator.
        aws_region=env.get("STOCKROOM_AWS_REGION") or None,
        aws_endpoint_url=env.get("STOCKROOM_AWS_ENDPOINT_URL") or None,
        stock_poll_seconds=_float(env, "STOCKROOM_STOCK_POLL_SECONDS", 10.0) or 10.0,
        stock_retry_max_seconds=_float(env, "STOCKROOM_STOCK_RETRY_MAX_SECONDS", 60.0) or 60.0,
    )


def tls_connect_args(ca_file: str | None) -> dict[str, Any]:
    """PyMySQL's arguments for TLS that verifies the server: its certificate must chain to a CA in
    ca_file and name the host connected to. None: PyMySQL's default (TLS if the server offers it,
    unverified), which is what the local fleet uses over loopback."""
    if ca_file is None:
        return {}
    return {"ssl_ca": ca_file, "ssl_verify_cert": True, "ssl_verify_identity": True}


def flask_config(settings: Settings, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if is_mysql(settings.database_url):
        engine_options.update(
            # Pre-ping is done by db.install_idle_ping (only connections idle >= 1 s are pinged).
            pool_pre_ping=False,
            # Session and Connection always end their own transaction (commit or rollback), so
            # the pool's extra ROLLBACK on every checkin is a wasted round trip.
            pool_reset_on_return=None,
            pool_recycle=280,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=2,
            # Each statement sees the latest committed data; writes rely on row locks anyway.
            isolation_level="READ COMMITTED",
            connect_args={
                "charset": "utf8mb4",
                "connect_timeout": settings.db_connect_timeout,
                "read_timeout": settings.db_read_timeout,
                "write_timeout": settings.db_read_timeout,
                # GET /items has the database join a page's JSON objects into one text (MySQL's
                # default limit, 1024 bytes, would cut it short).
                "init_command": f"SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}",
                **tls_connect_args(settings.database_ca),
            },
        )
    cfg: dict[str, Any] = {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The cookie expires with the session; web/views.py also ends a session that is older.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=settings.session_hours),
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,
        # The CSV import routes raise their own request's limit to import_max_bytes.
        "MAX_CONTENT_LENGTH": settings.max_body_bytes,
        "STOCKROOM_SETTINGS": settings,
        "TESTING": settings.env == "testing",
    }
    if overrides:
        cfg.update(overrides)
    return cfg
