#!/usr/bin/python3
"""Fetch the database password (and the app's secret key) at service start, with the instance role.

Installed as /usr/local/libexec/stockroom-fetch-secrets; stockroom.service runs it as root
(ExecStartPre=+) when the secrets source is secretsmanager or ssm. Settings come from the unit's
environment (/etc/stockroom/stockroom.env) and, when present, from /etc/stockroom/aws.env written
by the instance's user data (region, secret id), which wins. It writes
/run/stockroom-secrets/secrets.env (tmpfs; directory 0750 and file 0640, both root:stockroom) with
STOCKROOM_DATABASE_URL and STOCKROOM_SECRET_KEY: nothing secret ever lands on the image's disk.

The file is for systemd's EnvironmentFile= only (systemd parses it; nothing runs it as shell). It
lives in a directory of root's, not in the app user's /run/stockroom, and is written without
following links: a new file under a random name (O_CREAT|O_EXCL|O_NOFOLLOW), then an atomic rename
over the old one. Values are written in systemd's own quoting (double quotes; backslash before
" \\ ` $), which a POSIX shell reads the same way, so no value can become a command.

A Secrets Manager secret may be RDS-style JSON (username, password, host, port, dbname) or a plain
password; an SSM parameter (SecureString) holds the plain password. Without a separate secret-key
secret, the key is derived from the database password (HMAC-SHA256), so every node agrees on it.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

# The unit passes these (from the role's variables); the defaults match the role's defaults.
AWS_ENV = Path(os.environ.get("STOCKROOM_AWS_ENV_FILE", "/etc/stockroom/aws.env"))
OUT = Path(os.environ.get("STOCKROOM_SECRETS_FILE", "/run/stockroom-secrets/secrets.env"))
GROUP = os.environ.get("STOCKROOM_SECRETS_GROUP", "stockroom")
KEY_CONTEXT = b"stockroom secret key v1"
# Characters systemd's env-file parser (and a shell) treats specially inside double quotes.
NEEDS_ESCAPE = '"\\`$'


class UnsafeTarget(Exception):
    """The secrets directory is not a plain directory of ours: writing there could be redirected."""


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
    # Debian's python3-boto3, imported here so the writer can be used (and tested) without it.
    import boto3  # noqa: PLC0415

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


def env_line(key: str, value: str) -> str:
    """KEY="value" as systemd writes env files itself; a newline stays literal inside the quotes."""
    if "\0" in value:
        raise ValueError(f"{key} contains a NUL byte, which no environment can hold")
    escaped = "".join("\\" + c if c in NEEDS_ESCAPE else c for c in value)
    return f'{key}="{escaped}"\n'


def open_private_dir(path: Path, gid: int) -> int:
    """A directory fd on path (made 0750 root:gid if missing); refuses links and others' dirs."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        raise UnsafeTarget(
            f"{path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):04o}; "
            f"it must be a directory of uid {os.geteuid()} that nobody else can write"
        )
    os.fchown(fd, -1, gid)
    os.fchmod(fd, 0o750)
    return fd


def write_secrets(values: dict[str, str]) -> None:
    body = "".join(env_line(k, v) for k, v in values.items())
    gid = grp.getgrnam(GROUP).gr_gid
    try:
        dir_fd = open_private_dir(OUT.parent, gid)
    except OSError as exc:  # ELOOP: the directory itself is a symbolic link
        raise UnsafeTarget(f"{OUT.parent}: {exc.strerror}") from exc
    tmp = f".{OUT.name}.{secrets.token_hex(8)}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
        try:
            os.fchown(fd, -1, gid)
            os.fchmod(fd, 0o640)
            os.write(fd, body.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        # Atomic, and a link planted under the final name is replaced, never followed.
        os.replace(tmp, OUT.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    finally:
        os.close(dir_fd)


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
    try:
        write_secrets({"STOCKROOM_DATABASE_URL": url, "STOCKROOM_SECRET_KEY": secret_key})
    except (UnsafeTarget, ValueError) as exc:
        print(f"stockroom-fetch-secrets: not written: {exc}", file=sys.stderr)
        return 1
    print(f"stockroom-fetch-secrets: database {where} from {service}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
