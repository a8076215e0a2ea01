"""After `make demo-down`: nothing the demo made is left (run by tests/suites/e2e.sh)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[3]
STATE_DIR = Path(os.environ.get("STOCKROOM_DEMO_STATE", "/var/lib/stockroom-demo"))


def podman_lines(*args: str) -> list[str]:
    out = subprocess.run(["podman", *args], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_no_containers_left() -> None:
    for label in ("io.stockroom.fleet=local", "io.stockroom.role=image-builder"):
        assert podman_lines("ps", "--all", "--quiet", "--filter", f"label={label}") == [], label


def test_no_baked_images_left() -> None:
    assert podman_lines("images", "--quiet", "--filter", "reference=localhost/stockroom") == []


def test_no_load_balancer_left() -> None:
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 8080)) != 0, "something still listens on 127.0.0.1:8080"
    pgrep = ["pgrep", "-f", str(STATE_DIR)]
    pids = subprocess.run(pgrep, check=False, capture_output=True, text=True).stdout
    assert pids.strip() == "", f"processes still use {STATE_DIR}: {pids}"


def test_no_files_left() -> None:
    assert not STATE_DIR.exists(), f"{STATE_DIR} still exists"
    assert not (ROOT / ".run" / "demo-last.log").exists(), "the demo's log is still there"
    assert not (ROOT / ".run" / "demo-emulator").exists(), (
        "the demo emulator's files are still there"
    )


def test_no_database_or_users_left() -> None:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.schemata"
                " WHERE schema_name = 'stockroom_demo'"
            )
            assert cur.fetchone() == (0,)
            cur.execute("SELECT user, host FROM mysql.user WHERE user LIKE 'stockroom\\_demo\\_%'")
            assert cur.fetchall() == ()
    finally:
        conn.close()
