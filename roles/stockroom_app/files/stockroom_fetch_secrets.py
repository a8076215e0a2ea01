#!/usr/bin/python3
"""Fetch the database password (and the app's secret key) at service start, with the instance role.

Installed as /usr/local/libexec/stockroom-fetch-secrets; stockroom.service runs it as root
(ExecStartPre=+) when the secrets source is secretsmanager or ssm. Settings come from the unit's
environment (/etc/stockroom/stockroom.env) and, when present, from /etc/stockroom/aws.env written
by the instance's user data (region, secret id), which wins. It writes /run/stockroom/secrets.env
(tmpfs, 0640 root:stockroom) with STOCKROOM_DATABASE_URL and STOCKROOM_SECRET_KEY: nothing secret
ever lands on the image's disk.

A Secrets Manager secret may be RDS-style JSON (username, password, host, port, dbname) or a plain
password; an SSM parameter (SecureString) holds the plain password. Without a separate secret-key
secret, the key is derived from the database password (HMAC-SHA256), so every node agrees on it.
"""

from __future__ import annotations

import grp
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3  # Debian's python3-boto3, installed by the role with these sources

# The unit passes these (from the role's variables); the defaults match the role's defaults.
AWS_ENV = Path(os.environ.get("STOCKROOM_AWS_ENV_FILE", "/etc/stockroom/aws.env"))
OUT = Path(os.environ.get("STOCKROOM_SECRETS_FILE", "/run/stockroom/secrets.env"))
GROUP = os.environ.get("STOCKROOM_SECRETS_GROUP", "stockroom")
KEY_CONTEXT = b"stockroom secret key v1"


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip("'\"")
    return values


def load_settings() -> dict[str, str]:
    settings = {k: v for k, v in os.environ.items() if k.startswith("STOCKROOM_")}
    # The user data knows the stack (region, secret id); it wins over baked defaults. Its
    # STOCKROOM_ENV names the stack, not the app's mode, so it is not taken.
    aws = read_env_file(AWS_ENV)
    settings.update({k: v for k, v in aws.items() if v and k != "STOCKROOM_ENV"})
    return settings


def fetch(service: str, secret_id: str, settings: dict[str, str]) -> str:
    kwargs: dict[str, Any] = {"region_name": settings["STOCKROOM_AWS_REGION"]}
    if settings.get("STOCKROOM_AWS_ENDPOINT_URL"):
        kwargs["endpoint_url"] = settings["STOCKROOM_AWS_ENDPOINT_URL"]
    client = boto3.client(service, **kwargs)
    if service == "secretsmanager":
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    return str(client.get_parameter(Name=secret_id, WithDecryption=True)["Parameter"]["Value"])


def database_url(raw: str, settings: dict[str, str]) -> tuple[str, str, str]:
    """(url, password, where) from the secret's value and the configured defaults."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    creds = doc if isinstance(doc, dict) else {"password": raw.strip()}
    password = str(creds["password"])
    user = str(creds.get("username") or settings.get("STOCKROOM_DB_USER", "stockroom"))
    host = str(creds.get("host") or settings.get("STOCKROOM_DB_HOST", "127.0.0.1"))
    port = str(creds.get("port") or settings.get("STOCKROOM_DB_PORT", "3306"))
    name = str(creds.get("dbname") or settings.get("STOCKROOM_DB_NAME", "stockroom"))
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
    url = f"mysql+pymysql://{auth}@{host}:{port}/{name}?charset=utf8mb4"
    return url, password, f"{user}@{host}:{port}/{name}"


def write_secrets(url: str, secret_key: str) -> None:
    OUT.parent.mkdir(mode=0o750, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"STOCKROOM_DATABASE_URL='{url}'\nSTOCKROOM_SECRET_KEY='{secret_key}'\n")
    os.chown(tmp, os.geteuid(), grp.getgrnam(GROUP).gr_gid)
    tmp.replace(OUT)  # atomic: the service never reads half a file


def main() -> int:
    settings = load_settings()
    source = settings.get("STOCKROOM_SECRETS_SOURCE", "secretsmanager")
    service = "ssm" if source == "ssm" else "secretsmanager"
    missing = [k for k in ("STOCKROOM_DB_SECRET_ID", "STOCKROOM_AWS_REGION") if not settings.get(k)]
    if missing:
        print(
            f"stockroom-fetch-secrets: {', '.join(missing)} not set (user data not run yet?)",
            file=sys.stderr,
        )
        return 1
    try:
        raw = fetch(service, settings["STOCKROOM_DB_SECRET_ID"], settings)
        key_id = settings.get("STOCKROOM_SECRET_KEY_SECRET_ID", "")
        secret_key = fetch(service, key_id, settings).strip() if key_id else ""
    except Exception as exc:  # one line for the journal; systemd retries (Restart=on-failure)
        print(f"stockroom-fetch-secrets: {service}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    url, password, where = database_url(raw, settings)
    if not secret_key:
        secret_key = hmac.new(password.encode(), KEY_CONTEXT, hashlib.sha256).hexdigest()
    write_secrets(url, secret_key)
    print(f"stockroom-fetch-secrets: database {where} from {service}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
