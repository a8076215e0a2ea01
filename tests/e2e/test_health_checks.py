"""Issue 15 item 5 on the local fleet: a database outage takes nodes out of rotation but never gets
them restarted or replaced; a dead app process is brought back by systemd on its node, a hung one by
the node's liveness timer (stockroom-liveness.timer, which asks /healthz).

HAProxy (the ALB stand-in) checks /readyz, which needs the database: that decides rotation only.
What restarts or replaces a node never looks at the database - systemd's Restart= on the node, and
on AWS the node's /healthz liveness check plus EC2 health checks (docs/aws.md, "Health checks").
The outage is the fleet's database account locked and its connections killed (MariaDB is shared
with other suites on this machine, so it is not stopped).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pymysql
import pytest
import requests

from .conftest import STATE_DIR, podman, record, server_states, wait_for
from .test_fleet import check_interval

DB_USER = "stockroom_demo_app"  # roles/local_fleet: local_fleet_db_user
# roles/stockroom_app defaults: the liveness check every 10 s, 3 failures in a row, 5-s timeout.
LIVENESS_INTERVAL, LIVENESS_FAILURES, LIVENESS_TIMEOUT = 10, 3, 5
DB_HOSTS = ("127.0.0.1", "localhost")


def node_addresses() -> dict[str, str]:
    """Node name -> host:port, from the HAProxy config the play wrote."""
    cfg = (STATE_DIR / "haproxy" / "haproxy.cfg").read_text()
    return dict(re.findall(r"^\s*server (\S+) (\S+:\d+)", cfg, re.M))


def mariadb() -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


def app_process(node: str) -> tuple[str, int, str]:
    """(MainPID, NRestarts, container start time) of the node's app: changes when it is restarted
    by systemd or the container is replaced."""
    shown = podman(
        "exec", node, "systemctl", "show", "-p", "MainPID", "-p", "NRestarts", "stockroom.service"
    ).stdout
    props = dict(line.split("=", 1) for line in shown.split())
    started = podman("container", "inspect", "--format", "{{.State.StartedAt}}", node).stdout
    return props["MainPID"], int(props["NRestarts"]), started.strip()


@pytest.fixture
def database_outage() -> Iterator[None]:
    """The app's database account locked and its connections cut; unlocked again afterwards."""
    with mariadb() as conn, conn.cursor() as cur:
        for host in DB_HOSTS:
            cur.execute(f"ALTER USER '{DB_USER}'@'{host}' ACCOUNT LOCK")
        cur.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (DB_USER,))
        for (conn_id,) in cur.fetchall():
            cur.execute(f"KILL CONNECTION {int(conn_id)}")
    try:
        yield
    finally:
        with mariadb() as conn, conn.cursor() as cur:
            for host in DB_HOSTS:
                cur.execute(f"ALTER USER '{DB_USER}'@'{host}' ACCOUNT UNLOCK")


def test_a_database_outage_takes_nodes_out_of_rotation_but_restarts_none(
    lb_url: str, all_up: list[str], database_outage: None
) -> None:
    inter, fall, _ = check_interval()
    before = {n: app_process(n) for n in all_up}
    down_after = wait_for(
        lambda: all(s != "UP" for s in server_states().values()),
        inter * (fall + 2) + 10,
        what="every node out of rotation during the outage",
    )
    # Liveness does not depend on the database: each node still answers /healthz.
    for node, address in node_addresses().items():
        assert requests.get(f"http://{address}/healthz", timeout=5).status_code == 200, node
        assert requests.get(f"http://{address}/readyz", timeout=5).status_code == 503, node
    # Long enough for HAProxy and for the liveness timer to have acted, had they looked at /readyz.
    time.sleep(max(inter * (fall + 1), LIVENESS_INTERVAL * (LIVENESS_FAILURES + 1)))
    assert {n: app_process(n) for n in all_up} == before, "a database outage restarted a node"
    record("db_outage_out_of_rotation_seconds", round(down_after, 1))


def test_after_the_outage_the_same_processes_come_back_into_rotation(
    lb_url: str, nodes: list[str]
) -> None:
    inter, _, rise = check_interval()
    before = {n: app_process(n) for n in nodes}
    back_after = wait_for(
        lambda: all(s == "UP" for s in server_states().values()),
        inter * (rise + 2) + 30,
        what="every node back in rotation",
    )
    assert {n: app_process(n) for n in nodes} == before
    assert requests.get(f"{lb_url}/readyz", timeout=5).status_code == 200
    record("db_outage_back_in_rotation_seconds", round(back_after, 1))


def test_a_dead_app_process_is_restarted_on_its_node(lb_url: str, all_up: list[str]) -> None:
    victim = all_up[0]
    pid, restarts, started = app_process(victim)
    podman("exec", victim, "systemctl", "kill", "--signal=SIGKILL", "stockroom.service")
    wait_for(
        lambda: app_process(victim)[0] not in ("0", pid),
        60,
        what=f"{victim}'s app restarted by systemd",
    )
    _, new_restarts, new_started = app_process(victim)
    assert new_restarts == restarts + 1 and new_started == started
    back = wait_for(lambda: server_states()[victim] == "UP", 120, what=f"{victim} back")
    record("dead_app_back_in_rotation_seconds", round(back, 1))


def test_a_hung_app_is_restarted_by_the_liveness_check(lb_url: str, all_up: list[str]) -> None:
    """Every process of the service frozen (SIGSTOP): systemd still sees it "active" and its
    Restart= never fires; the liveness check finds /healthz silent and restarts the service. On
    AWS the same check marks the instance unhealthy instead, and the group replaces it."""
    victim = all_up[-1]
    pid, _, started = app_process(victim)
    podman("exec", victim, "systemctl", "kill", "--signal=SIGSTOP", "stockroom.service")
    try:
        restarted = wait_for(
            lambda: app_process(victim)[0] not in ("0", pid),
            LIVENESS_INTERVAL * (LIVENESS_FAILURES + 2) + LIVENESS_TIMEOUT * LIVENESS_FAILURES + 60,
            what=f"{victim}'s hung app restarted by its liveness check",
        )
    except BaseException:
        podman("exec", victim, "systemctl", "kill", "--signal=SIGCONT", "stockroom.service")
        raise
    assert app_process(victim)[2] == started, "the container was replaced, not the app restarted"
    journal = podman(
        "exec", victim, "journalctl", "-u", "stockroom-liveness.service", "-o", "cat"
    ).stdout
    assert "stockroom.service restarted" in journal
    back = wait_for(lambda: server_states()[victim] == "UP", 120, what=f"{victim} back")
    record("hung_app_restarted_seconds", round(restarted, 1))
    record("hung_app_back_in_rotation_seconds", round(back, 1))
