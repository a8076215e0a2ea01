"""Fixtures for the whole-stack tests: the fleet `make demo` brought up (tests/suites/e2e.sh)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("STOCKROOM_DEMO_STATE", "/var/lib/stockroom-demo"))
LB_URL = os.environ.get("STOCKROOM_LB_URL", "http://127.0.0.1:8080")
SOCKET = STATE_DIR / "haproxy" / "admin.sock"
REPORT = ROOT / "reports" / "e2e-results.json"


def haproxy(command: str) -> str:
    """One command on HAProxy's admin socket (the runtime API)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(SOCKET))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def server_states() -> dict[str, str]:
    """HAProxy's view of each node: UP, DOWN, MAINT, DRAIN ..."""
    lines = haproxy("show stat").lstrip("# ").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {
        r["svname"]: r["status"]
        for r in rows
        if r["pxname"] == "stockroom_nodes" and r["svname"] not in ("FRONTEND", "BACKEND")
    }


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition") -> float:
    """Polls until predicate() is true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def record(key: str, value: object) -> None:
    """Adds a measured figure to reports/e2e-results.json (docs/benchmarks.md quotes it)."""
    REPORT.parent.mkdir(exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[key] = value
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(ROOT / "molecule" / "containers.conf")}
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, env=env)


@pytest.fixture(scope="session")
def lb_url() -> str:
    resp = requests.get(f"{LB_URL}/healthz", timeout=5)
    assert resp.status_code == 200, "the fleet is not up: run make demo first"
    return LB_URL


@pytest.fixture(scope="session")
def nodes() -> list[str]:
    names = sorted(server_states())
    assert len(names) >= 3, f"HAProxy lists {names}"
    return names


@pytest.fixture(scope="session")
def admin_password() -> str:
    return (STATE_DIR / "secrets" / "admin.password").read_text().strip()


@pytest.fixture(scope="session")
def emulator_url() -> str:
    return (ROOT / ".run" / "demo-emulator" / "url").read_text().strip()


@pytest.fixture()
def all_up(nodes: list[str]) -> Iterator[list[str]]:
    """Every node UP before and after a test that disturbs the fleet."""
    wait_for(lambda: all(s == "UP" for s in server_states().values()), 120, what="all nodes UP")
    yield nodes
