"""Split database users on a node (issue #16 item 12), for real: MariaDB on 127.0.0.1:3306 stands in
for RDS and the AWS emulator (moto server) for Secrets Manager.

roles/stockroom_app's boot-time step (stockroom-fetch-secrets, run by root before the service)
reads the master secret, creates the app's user (rows only) and the migrations' user (schema), runs
the migrations as the latter with the app's own CLI under an unprivileged uid, and hands the service
only the app user's URL and the secret key. The test's master is a throw-away MariaDB user with the
privileges of RDS's master user (every privilege, WITH GRANT OPTION).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from moto_emulator import REGION, client, moto_server
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles/stockroom_app/files/stockroom_fetch_secrets.py"
CLI = ROOT / ".venv/bin/stockroom"
ROOT_LOGIN = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
# The node runs the app's CLI as the service user; this test's interpreter lives in root's home,
# which no other user may enter, so the real migrations run as root here and the switch of user is
# shown with a stand-in CLI (test_the_cli_runs_as_the_service_user_with_only_its_url).
RUN_AS = "root"


@dataclass(frozen=True)
class Stack:
    moto: str
    schema: str
    master: dict[str, str]
    app: dict[str, str]
    migrate: dict[str, str]
    secret_key: str
    ids: dict[str, str]  # the unit's STOCKROOM_*_SECRET_ID settings


def login(user: str, password: str, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1", port=3306, user=user, password=password, database=database,
        autocommit=True, connect_timeout=3,
    )  # fmt: skip


def sql(statement: str, args: tuple[str, ...] = ()) -> list[tuple[object, ...]]:
    """One statement as MariaDB's root (the stand-in for the AWS console and RDS itself)."""
    with closing(pymysql.connect(**ROOT_LOGIN, autocommit=True)) as conn, conn.cursor() as cur:
        cur.execute(statement, args)
        return list(cur.fetchall())


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    tag = secrets.token_hex(3)
    schema = f"srusers_{os.getpid()}_{tag}"
    master = {"username": f"srmaster_{tag}", "password": secrets.token_urlsafe(18)}
    app = {"username": f"srapp_{tag}", "password": secrets.token_urlsafe(18)}
    migrate = {"username": f"srmig_{tag}", "password": secrets.token_urlsafe(18)}
    key = secrets.token_hex(32)
    # RDS creates the schema and the master user with the instance; the playbooks do nothing more.
    sql(f"CREATE DATABASE `{schema}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    sql("CREATE USER %s@'%%' IDENTIFIED BY %s", (master["username"], master["password"]))
    sql("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (master["username"],))
    try:
        with moto_server() as url:
            sm = client("secretsmanager", url)
            place = {"host": "127.0.0.1", "port": 3306, "dbname": schema, "engine": "mysql"}
            ids = {
                "STOCKROOM_DB_SECRET_ID": f"{tag}/db-master",
                "STOCKROOM_DB_APP_SECRET_ID": f"{tag}/db-app",
                "STOCKROOM_DB_MIGRATE_SECRET_ID": f"{tag}/db-migrate",
                "STOCKROOM_SECRET_KEY_SECRET_ID": f"{tag}/app-secret-key",
            }
            values = [master | place, app, migrate, key]
            for secret_id, value in zip(ids.values(), values, strict=True):
                text = value if isinstance(value, str) else json.dumps(value)
                sm.create_secret(Name=secret_id, SecretString=text)
            yield Stack(url, schema, master, app, migrate, key, ids)
    finally:
        sql(f"DROP DATABASE IF EXISTS `{schema}`")
        for user in (master, app, migrate):
            sql("DROP USER IF EXISTS %s@'%%'", (user["username"],))


def run(tmp_path: Path, stack: Stack, **extra: str) -> subprocess.CompletedProcess[str]:
    """The script as the unit runs it as root: settings from stockroom.env + aws.env."""
    (tmp_path / "aws.env").write_text(
        "".join(f"{k}={v}\n" for k, v in stack.ids.items()) + f"STOCKROOM_AWS_REGION={REGION}\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STOCKROOM_SECRETS_SOURCE": "secretsmanager",
        "STOCKROOM_AWS_ENDPOINT_URL": stack.moto,
        "STOCKROOM_AWS_ENV_FILE": str(tmp_path / "aws.env"),
        "STOCKROOM_SECRETS_FILE": str(tmp_path / "run" / "secrets.env"),
        "STOCKROOM_SECRETS_GROUP": grp.getgrgid(os.getgid()).gr_name,
        "STOCKROOM_APP_USER": RUN_AS,
        "STOCKROOM_APP_CLI": str(CLI),
        **extra,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )


def service_env(tmp_path: Path) -> str:
    return (tmp_path / "run" / "secrets.env").read_text()


def app_url(tmp_path: Path) -> object:
    line = next(li for li in service_env(tmp_path).splitlines() if li.startswith("STOCKROOM_DATA"))
    return make_url(line.split("=", 1)[1].strip('"'))


def grants(user: str) -> list[str]:
    return sorted(str(row[0]) for row in sql("SHOW GRANTS FOR %s@'%%'", (user,)))


def denied(conn: pymysql.Connection, statement: str) -> int:
    with conn.cursor() as cur:
        try:
            cur.execute(statement)
        except pymysql.MySQLError as exc:
            return int(exc.args[0])
    return 0


def test_first_boot_creates_the_users_migrates_and_hands_on_only_the_app_user(
    tmp_path: Path, stack: Stack
) -> None:
    result = run(tmp_path, stack)
    assert result.returncode == 0, result.stderr
    assert "upgraded empty ->" in result.stdout, result.stdout
    # What the service gets: its own user's URL and the key; no other password is anywhere in it.
    text = service_env(tmp_path)
    url = app_url(tmp_path)
    assert (url.username, url.password, url.database) == (  # type: ignore[attr-defined]
        stack.app["username"], stack.app["password"], stack.schema,
    )  # fmt: skip
    assert f'STOCKROOM_SECRET_KEY="{stack.secret_key}"' in text
    for other in (stack.master, stack.migrate):
        assert other["password"] not in text and other["username"] not in text
    for password in (stack.master["password"], stack.migrate["password"], stack.app["password"]):
        assert password not in result.stdout + result.stderr
    # The migrations ran (as the migrations' user): the schema is at head.
    assert sql(f"SELECT version_num FROM `{stack.schema}`.alembic_version")  # noqa: S608
    # Exactly these privileges, on the schema only.
    schema = f"`{stack.schema}`.*"
    app_grants = grants(stack.app["username"])
    assert [g for g in app_grants if " ON *.* " not in g] == [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema} TO `{stack.app['username']}`@`%`"
    ], app_grants
    assert all("USAGE" in g for g in app_grants if " ON *.* " in g), app_grants


def test_the_app_user_changes_rows_never_the_schema(tmp_path: Path, stack: Stack) -> None:
    assert run(tmp_path, stack).returncode == 0
    app = login(stack.app["username"], stack.app["password"], stack.schema)
    try:
        with app.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items")
            cur.execute("DELETE FROM items WHERE id = -1")
        # 1142: command denied to user for table; 1044: access denied to database.
        assert denied(app, "CREATE TABLE stolen (id INT)") in (1142, 1044)
        assert denied(app, "DROP TABLE items") == 1142
        assert denied(app, "ALTER TABLE items ADD COLUMN x INT") == 1142
        assert denied(app, "CREATE USER evil IDENTIFIED BY 'x'") == 1227
        assert denied(app, "SELECT * FROM mysql.user") == 1142
    finally:
        app.close()
    migrate = login(stack.migrate["username"], stack.migrate["password"], stack.schema)
    try:
        assert denied(migrate, "CREATE TABLE probe (id INT)") == 0
        assert denied(migrate, "DROP TABLE probe") == 0
        assert denied(migrate, "CREATE USER evil IDENTIFIED BY 'x'") == 1227
    finally:
        migrate.close()


def test_a_restart_changes_nothing_and_privileges_added_by_hand_go(
    tmp_path: Path, stack: Stack
) -> None:
    assert run(tmp_path, stack).returncode == 0
    before = {u: grants(stack.__dict__[u]["username"]) for u in ("app", "migrate")}
    again = run(tmp_path, stack)
    assert again.returncode == 0, again.stderr
    assert "already at" in again.stdout
    assert {u: grants(stack.__dict__[u]["username"]) for u in ("app", "migrate")} == before
    # Someone widens the app's user by hand; the next start puts it back.
    sql(f"GRANT DROP, ALTER ON `{stack.schema}`.* TO %s@'%%'", (stack.app["username"],))
    sql("GRANT SELECT ON mysql.* TO %s@'%%'", (stack.app["username"],))
    assert run(tmp_path, stack).returncode == 0
    assert grants(stack.app["username"]) == before["app"]


def test_a_wrong_master_password_fails_in_one_line_without_writing(
    tmp_path: Path, stack: Stack
) -> None:
    sm = client("secretsmanager", stack.moto)
    wrong = stack.master | {"password": "not-the-password-0123"}
    wrong |= {"host": "127.0.0.1", "port": 3306, "dbname": stack.schema}
    sm.create_secret(Name=f"{stack.schema}/wrong-master", SecretString=json.dumps(wrong))
    ids = dict(stack.ids, STOCKROOM_DB_SECRET_ID=f"{stack.schema}/wrong-master")
    bad = Stack(stack.moto, stack.schema, wrong, stack.app, stack.migrate, stack.secret_key, ids)
    out = tmp_path / "bad"
    out.mkdir()
    failed = run(out, bad)
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "Access denied" in failed.stderr
    assert wrong["password"] not in failed.stderr
    assert not (out / "run" / "secrets.env").exists()


def test_split_users_need_the_migration_secret_and_the_key(tmp_path: Path, stack: Stack) -> None:
    ids = {k: v for k, v in stack.ids.items() if k != "STOCKROOM_SECRET_KEY_SECRET_ID"}
    partial = Stack(stack.moto, stack.schema, stack.master, stack.app, stack.migrate, "", ids)
    result = run(tmp_path, partial)
    assert result.returncode == 1
    assert "STOCKROOM_SECRET_KEY_SECRET_ID not set" in result.stderr


def test_the_cli_runs_as_the_service_user_with_only_its_url(tmp_path: Path, stack: Stack) -> None:
    """The migrations run under the service's uid, not root's, and their process gets the migration
    user's URL and nothing of root's environment (no AWS credentials, no master password)."""
    shared = Path(tempfile.mkdtemp(prefix="srcli-"))
    try:
        shared.chmod(0o777)
        fake = shared / "stockroom"
        script = f'#!/bin/sh\nid -u > {shared}/uid\nenv > {shared}/env\necho "already at x"\n'
        fake.write_text(script)
        fake.chmod(0o755)
        result = run(tmp_path, stack, STOCKROOM_APP_USER="nobody", STOCKROOM_APP_CLI=str(fake))
        assert result.returncode == 0, result.stderr
        assert int((shared / "uid").read_text()) == pwd.getpwnam("nobody").pw_uid
        lines = (shared / "env").read_text().splitlines()
        env = dict(li.split("=", 1) for li in lines if "=" in li)
        url = make_url(env["STOCKROOM_DATABASE_URL"])
        assert url.username == stack.migrate["username"]
        assert not [k for k in env if k.startswith("AWS_")], "root's AWS settings leaked"
        assert stack.master["password"] not in (shared / "env").read_text()
    finally:
        shutil.rmtree(shared)
