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

Split users (what site.yml sets up on AWS, docs/security.md): when STOCKROOM_DB_APP_SECRET_ID is
set, STOCKROOM_DB_SECRET_ID names the master secret, which only this root step reads. With it the
step makes sure the app user (SELECT, INSERT, UPDATE, DELETE on the schema) and the migration user
(DDL on the schema) exist with the passwords of their own secrets (CREATE USER IF NOT EXISTS,
ALTER USER, GRANT; privileges beyond those are revoked), runs the migrations as the migration user
(the app's CLI, as the service user, the credentials in its environment only), and writes only the
app user's URL and the secret key (STOCKROOM_SECRET_KEY_SECRET_ID, required then) for the service.
With STOCKROOM_ADMIN_SECRET_ID it also creates the first administrator (STOCKROOM_ADMIN_USER, admin)
with that secret's password when the database has no user at all.
STOCKROOM_DATABASE_CA (a CA bundle) makes its own connection verify the server as the app does.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import hmac
import json
import os
import pwd
import secrets
import stat
import subprocess
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
# Privileges on the schema: the app changes rows only; migrations change the schema too.
APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# The same lists as roles/local_fleet (tasks/database.yml) gives its two users on MariaDB.
MIGRATE_PRIVILEGES = (*APP_PRIVILEGES, "CREATE", "ALTER", "INDEX", "DROP", "REFERENCES")


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


def credentials(raw: str, settings: dict[str, str], user_default: str = "") -> dict[str, str]:
    """username, password, host, port, dbname from a secret's value and the configured defaults."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    creds = doc if isinstance(doc, dict) else {"password": raw.strip()}
    user = user_default or settings.get("STOCKROOM_DB_USER", "stockroom")
    return {
        "password": str(creds["password"]),
        "username": str(creds.get("username") or user),
        "host": str(creds.get("host") or settings.get("STOCKROOM_DB_HOST", "127.0.0.1")),
        "port": str(creds.get("port") or settings.get("STOCKROOM_DB_PORT", "3306")),
        "dbname": str(creds.get("dbname") or settings.get("STOCKROOM_DB_NAME", "stockroom")),
    }


def url_of(creds: dict[str, str]) -> tuple[str, str]:
    """(SQLAlchemy URL, user@host:port/db for the journal)."""
    user, host, port, name = creds["username"], creds["host"], creds["port"], creds["dbname"]
    auth = f"{quote(user, safe='')}:{quote(creds['password'], safe='')}"
    return (
        f"mysql+pymysql://{auth}@{host}:{port}/{name}?charset=utf8mb4",
        f"{user}@{host}:{port}/{name}",
    )


def database_url(raw: str, settings: dict[str, str]) -> tuple[str, str, str]:
    """(url, password, where) from the secret's value and the configured defaults."""
    creds = credentials(raw, settings)
    url, where = url_of(creds)
    return url, creds["password"], where


def quote_name(name: str) -> str:
    """A schema name as a MySQL identifier (backquotes doubled)."""
    return "`" + name.replace("`", "``") + "`"


def ensure_user(
    cur: Any, *, user: str, host: str, password: str, schema: str, privs: tuple[str, ...]
) -> None:
    """The user exists with this password and exactly these privileges on the schema (and none
    elsewhere). Repeating it changes nothing; privileges added by hand are revoked."""
    cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password))
    cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
    cur.execute(f"GRANT {', '.join(privs)} ON {quote_name(schema)}.* TO %s@%s", (user, host))
    cur.execute("SHOW GRANTS FOR %s@%s", (user, host))
    grants = [row[0] for row in cur.fetchall()]
    wanted_on = f" ON {quote_name(schema)}.* TO "
    extra = [
        g for g in grants
        if not g.startswith("GRANT USAGE ON *.* TO ")
        and not (wanted_on in g and _privileges(g) == set(privs) and "WITH GRANT OPTION" not in g)
    ]  # fmt: skip
    if extra:  # only after a change by hand: start from nothing, then grant again
        cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (user, host))
        cur.execute(f"GRANT {', '.join(privs)} ON {quote_name(schema)}.* TO %s@%s", (user, host))


def _privileges(grant: str) -> set[str]:
    listed = grant.removeprefix("GRANT ").split(" ON ", 1)[0]
    return {p.strip().upper() for p in listed.split(",")}


def provision(
    master: dict[str, str], app: dict[str, str], migrate: dict[str, str], settings: dict[str, str]
) -> None:
    """As the master user: the app and migration users, exactly as wanted."""
    import pymysql  # noqa: PLC0415 - Debian's python3-pymysql, only needed here

    tls = tls_args(settings)
    conn = pymysql.connect(
        host=master["host"], port=int(master["port"]), user=master["username"],
        password=master["password"], connect_timeout=10, autocommit=True, **tls,
    )  # fmt: skip
    host = settings.get("STOCKROOM_DB_USER_HOST", "%")
    try:
        with conn.cursor() as cur:
            for creds, privs in ((app, APP_PRIVILEGES), (migrate, MIGRATE_PRIVILEGES)):
                ensure_user(
                    cur, user=creds["username"], host=host, password=creds["password"],
                    schema=master["dbname"], privs=privs,
                )  # fmt: skip
    finally:
        conn.close()


def tls_args(settings: dict[str, str]) -> dict[str, Any]:
    ca = settings.get("STOCKROOM_DATABASE_CA", "")
    return {"ssl_ca": ca, "ssl_verify_cert": True, "ssl_verify_identity": True} if ca else {}


def run_cli(
    args: list[str], url: str, secret_key: str, settings: dict[str, str], stdin: str = ""
) -> str:
    """The app's CLI with this URL, as the service user (never root); its stdout, or RuntimeError
    with its last line. The credentials live in that one process's environment only."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "STOCKROOM_ENV": "production",
        "STOCKROOM_DATABASE_URL": url,
        "STOCKROOM_SECRET_KEY": secret_key,
        "STOCKROOM_LOG_LEVEL": "WARNING",
    }
    if settings.get("STOCKROOM_DATABASE_CA"):
        env["STOCKROOM_DATABASE_CA"] = settings["STOCKROOM_DATABASE_CA"]
    user = settings.get("STOCKROOM_APP_USER", "stockroom")
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0 and user != "root":
        entry = pwd.getpwnam(user)
        as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    cli = settings.get("STOCKROOM_APP_CLI", "/opt/stockroom/venv/bin/stockroom")
    done = subprocess.run(
        [cli, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        **as_user,
    )
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"stockroom {' '.join(args)} failed ({done.returncode}): {last[0]}")
    return done.stdout.strip()


def has_users(master: dict[str, str], settings: dict[str, str]) -> bool:
    import pymysql  # noqa: PLC0415 - Debian's python3-pymysql, only needed here

    conn = pymysql.connect(
        host=master["host"],
        port=int(master["port"]),
        user=master["username"],
        password=master["password"],
        database=master["dbname"],
        connect_timeout=10,
        **tls_args(settings),
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT EXISTS (SELECT 1 FROM users)")
            return bool(cur.fetchone()[0])
    finally:
        conn.close()


def first_admin(
    service: str, master: dict[str, str], app_url: str, secret_key: str, settings: dict[str, str]
) -> str:
    """A database without any user gets the administrator whose password site.yml generated
    (STOCKROOM_ADMIN_SECRET_ID); a journal line either way. Never fatal: nodes that boot together
    race for it, and the loser finds it made."""
    name = settings.get("STOCKROOM_ADMIN_USER", "admin")
    try:
        if has_users(master, settings):
            return "users exist, no first administrator needed"
        password = fetch(service, settings["STOCKROOM_ADMIN_SECRET_ID"], settings).strip()
        args = ["user", "create", name, "--role=admin", "--password-stdin", "--exist-ok"]
        return run_cli(args, app_url, secret_key, settings, stdin=password + "\n")
    except Exception as exc:  # the service still starts; the next start tries again
        return f"first administrator not created: {type(exc).__name__}: {exc}"


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


def split_users(service: str, settings: dict[str, str]) -> dict[str, str]:
    """Master secret -> users and migrations; returns what the service may see."""
    needed = ("STOCKROOM_DB_MIGRATE_SECRET_ID", "STOCKROOM_SECRET_KEY_SECRET_ID")
    missing = [k for k in needed if not settings.get(k)]
    if missing:
        raise SettingMissing(
            f"{', '.join(missing)} not set (STOCKROOM_DB_APP_SECRET_ID needs them)"
        )

    def secret(var: str) -> str:
        return fetch(service, settings[var], settings)

    master = credentials(secret("STOCKROOM_DB_SECRET_ID"), settings)
    app = credentials(secret("STOCKROOM_DB_APP_SECRET_ID"), settings)
    migrate = credentials(secret("STOCKROOM_DB_MIGRATE_SECRET_ID"), settings)
    secret_key = secret("STOCKROOM_SECRET_KEY_SECRET_ID").strip()
    # Where the database is comes from the master secret (site.yml writes the endpoint there).
    place = {k: master[k] for k in ("host", "port", "dbname")}
    app, migrate = app | place, migrate | place
    provision(master, app, migrate, settings)
    migrate_url, _ = url_of(migrate)
    print(
        f"stockroom-fetch-secrets: {run_cli(['db', 'upgrade'], migrate_url, secret_key, settings)}"
    )
    app_url, where = url_of(app)
    if settings.get("STOCKROOM_ADMIN_SECRET_ID"):
        made = first_admin(service, master, app_url, secret_key, settings)
        print(f"stockroom-fetch-secrets: {made}")
    return {"STOCKROOM_DATABASE_URL": app_url, "STOCKROOM_SECRET_KEY": secret_key, "": where}


class SettingMissing(Exception):
    """A setting the chosen mode needs is not there."""


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
    if settings.get("STOCKROOM_DB_APP_SECRET_ID"):
        try:
            values = split_users(service, settings)
        except Exception as exc:  # one line for the journal; systemd retries (Restart=on-failure)
            print(f"stockroom-fetch-secrets: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        where = values.pop("")
    else:
        try:
            raw = fetch(service, settings["STOCKROOM_DB_SECRET_ID"], settings)
            key_id = settings.get("STOCKROOM_SECRET_KEY_SECRET_ID", "")
            secret_key = fetch(service, key_id, settings).strip() if key_id else ""
        except Exception as exc:  # one line for the journal; systemd retries (Restart=on-failure)
            print(f"stockroom-fetch-secrets: {service}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 1
        url, password, where = database_url(raw, settings)
        if not secret_key:
            secret_key = hmac.new(password.encode(), KEY_CONTEXT, hashlib.sha256).hexdigest()
        values = {"STOCKROOM_DATABASE_URL": url, "STOCKROOM_SECRET_KEY": secret_key}
    try:
        write_secrets(values)
    except (UnsafeTarget, ValueError) as exc:
        print(f"stockroom-fetch-secrets: not written: {exc}", file=sys.stderr)
        return 1
    print(f"stockroom-fetch-secrets: database {where} from {service}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
