"""Issue 16 item 12 on the local fleet: the nodes' app runs as its own database user that changes
rows and never the schema; migrations ran as the separate migration user; no password but its own
is in the app's environment.

Runs against what `make demo` built. MariaDB on the host stands in for RDS; the fleet's two users
are roles/local_fleet's (tasks/database.yml), with the privileges stockroom-fetch-secrets gives them
on AWS (tests/roles/test_db_users.py runs that node step against MariaDB and the emulator).
"""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.engine import URL, make_url

from .conftest import STATE_DIR, podman


def service_environment(node: str) -> dict[str, str]:
    """The running gunicorn master's environment on the node (what the app can see)."""
    pid = podman("exec", node, "systemctl", "show", "-P", "MainPID", "stockroom.service")
    # As the service's own user: the container's root lacks CAP_SYS_PTRACE, which reading
    # another user's /proc/<pid>/environ needs.
    raw = podman(
        "exec", "--user", "stockroom", node, "cat", f"/proc/{pid.stdout.strip()}/environ"
    ).stdout
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


@pytest.fixture(scope="module")
def app_url(nodes: list[str]) -> URL:
    env = service_environment(nodes[0])
    return make_url(env["STOCKROOM_DATABASE_URL"])


def test_the_app_environment_holds_only_its_own_password(nodes: list[str]) -> None:
    others = [
        (STATE_DIR / "secrets" / name).read_text().strip()
        for name in ("db-migrate.password", "admin.password")
    ]
    for node in nodes:
        env = service_environment(node)
        url = make_url(env["STOCKROOM_DATABASE_URL"])
        assert url.username == "stockroom_demo_app", url.username
        blob = "\0".join(f"{k}={v}" for k, v in env.items())
        for secret in others:
            assert secret not in blob, f"{node}: another password is in the app's environment"
        assert "stockroom_demo_migrate" not in blob


def test_the_app_user_cannot_change_the_schema_and_migrations_ran(app_url: URL) -> None:
    conn = pymysql.connect(
        host=app_url.host, port=app_url.port or 3306, user=app_url.username,
        password=app_url.password, database=app_url.database, autocommit=True,
    )  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            assert cur.fetchone(), "the migrations did not run"
            for statement in (
                "CREATE TABLE stolen (id INT)",
                "DROP TABLE items",
                "ALTER TABLE items ADD COLUMN x INT",
            ):
                with pytest.raises(pymysql.MySQLError) as denied:
                    cur.execute(statement)
                assert denied.value.args[0] in (1142, 1044), (statement, denied.value)
    finally:
        conn.close()
