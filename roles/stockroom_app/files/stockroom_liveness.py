#!/usr/bin/python3
"""Liveness check of the Stockroom app on this node, run by stockroom-liveness.timer (as root).

systemd's Restart= brings back an app process that exits; a process that hangs (deadlocked
threads, a stopped process, a full accept queue) stays "active" and needs this check. It asks the
app's liveness path (/healthz: no database, so a database outage never counts) and, after
STOCKROOM_LIVENESS_FAILURES failures in a row, once the service has been active for
STOCKROOM_LIVENESS_GRACE seconds:
- action "restart" (the default; the local fleet): restart stockroom.service on this node;
- action "asg" (AWS; the instance's user data sets it in /etc/stockroom/aws.env): mark this
  instance unhealthy in its Auto Scaling Group, which replaces it (docs/aws.md, "Health checks").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVICE = "stockroom.service"
COUNT = Path(os.environ.get("STOCKROOM_LIVENESS_STATE", "/run/stockroom-liveness.failures"))


def settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("STOCKROOM_")}


def answers(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our loopback URL
            return bool(response.status == 200)
    except OSError:  # refused, reset, timed out, HTTP error status
        return False


def active_seconds() -> float | None:
    """Seconds since the service last became active, None when it is not active (starting,
    stopping, failed: systemd is already handling it)."""
    out = subprocess.run(
        ["systemctl", "show", SERVICE, "-p", "ActiveState,ActiveEnterTimestampMonotonic"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if props.get("ActiveState") != "active":
        return None
    return time.monotonic() - int(props["ActiveEnterTimestampMonotonic"]) / 1e6


def imds(path: str) -> str:
    token_request = urllib.request.Request(
        "http://169.254.169.254/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    token = urllib.request.urlopen(token_request, timeout=2).read().decode()  # noqa: S310
    request = urllib.request.Request(
        f"http://169.254.169.254/latest/{path}", headers={"X-aws-ec2-metadata-token": token}
    )
    return str(urllib.request.urlopen(request, timeout=2).read().decode())  # noqa: S310


def mark_unhealthy(conf: dict[str, str]) -> None:
    import boto3  # noqa: PLC0415 - Debian's python3-boto3, only needed on AWS

    boto3.client("autoscaling", region_name=conf["STOCKROOM_AWS_REGION"]).set_instance_health(
        InstanceId=imds("meta-data/instance-id"),
        HealthStatus="Unhealthy",
        ShouldRespectGracePeriod=True,
    )


def main() -> int:
    conf = settings()
    url = conf.get("STOCKROOM_LIVENESS_URL", "http://127.0.0.1:8000/healthz")
    limit = int(conf.get("STOCKROOM_LIVENESS_FAILURES", "3"))
    grace = float(conf.get("STOCKROOM_LIVENESS_GRACE", "60"))
    action = conf.get("STOCKROOM_LIVENESS_ACTION", "restart")
    if action not in ("restart", "asg"):
        print(f"STOCKROOM_LIVENESS_ACTION={action!r}: expected restart or asg", file=sys.stderr)
        return 2
    up = active_seconds()
    if up is None or up < grace or answers(url, float(conf.get("STOCKROOM_LIVENESS_TIMEOUT", "5"))):
        COUNT.write_text("0")
        return 0
    failures = (int(COUNT.read_text() or 0) if COUNT.exists() else 0) + 1
    COUNT.write_text(str(failures))
    print(f"{url} did not answer ({failures} of {limit})", flush=True)
    if failures < limit:
        return 0
    if action == "asg":
        mark_unhealthy(conf)
        print("instance marked unhealthy: its Auto Scaling Group replaces it", flush=True)
    else:
        subprocess.run(["systemctl", "restart", "--no-block", SERVICE], check=True)
        print(f"{SERVICE} restarted", flush=True)
    COUNT.write_text("0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
