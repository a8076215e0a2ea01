"""Helpers shared by the AWS tests (and bench/aws_runs.py): the emulator, playbook runs, recaps."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
ENV = "local"
NAME = f"stockroom-{ENV}"
TAGS = {"Project": "stockroom", "Environment": ENV}
# The AMI moto ships in every region; the bake is tested in its own suite.
AMI = "ami-03cf127a"
# moto plus the AWS rules it lacks, served in one process.
RULES = Path(__file__).resolve().with_name("aws_rules.py")


@dataclass
class Emulator:
    url: str
    log: Path
    region: str = REGION
    # Any key works until IAM access control is on (tests/aws/iam_emulator.py); then a user's.
    access_key: str = "testing"
    secret_key: str = "testing"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@contextlib.contextmanager
def emulator_server(
    log: Path, script: Path = RULES, env: dict[str, str] | None = None
) -> Iterator[Emulator]:
    """A moto server of our own on a free loopback port, stopped (by its pid) afterwards. It is moto
    with the AWS rules moto lacks (tests/aws/aws_rules.py): a call AWS refuses fails here too.
    `script` serves another variant (tests/aws/iam_emulator.py), `env` adds to its environment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        # Without it, attaching an AWS-managed policy (AmazonSSMManagedInstanceCore) fails.
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        **(env or {}),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), str(script), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)  # noqa: S310 - loopback only
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto server did not start, see {log}") from None
                time.sleep(0.2)
        yield Emulator(url=url, log=log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Run:
    rc: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counters of localhost (ok, changed, failed, ...)."""
        m = re.search(r"^localhost\s+:\s+(.*)$", self.output, re.M)
        assert m, f"no PLAY RECAP in output:\n{self.output[-3000:]}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def playbook_env(emulator: Emulator) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "AWS_ACCESS_KEY_ID": emulator.access_key,
        "AWS_SECRET_ACCESS_KEY": emulator.secret_key,
        "STOCKROOM_AWS_ENDPOINT": emulator.url,
    }


def base_args(playbook: str, *extra: str) -> list[str]:
    return [
        str(ROOT / ".venv/bin/ansible-playbook"),
        "-i",
        "inventory/local",
        playbook,
        "-e",
        f"stockroom_ami_id={AMI}",
        "-e",
        "stockroom_local_fleet=false",
        *extra,
    ]


# A fresh site.yml took 3-5 min (not 40 s) while other suites loaded the shared 2 cores to 15-20:
# the timeout is a hang guard, the timing targets are measured separately.
def run_playbook(emulator: Emulator, playbook: str, *extra: str, timeout: int = 900) -> Run:
    return run_args(emulator, base_args(playbook, *extra), timeout)


# Production's own settings: a copy of inventory/aws whose group_vars add the emulator's endpoint.
# Every prod run is given the AMI, the alert address and the domain, as an operator gives them.
PROD_DOMAIN = "stock.example.com"


def run_prod(
    emulator: Emulator, inventory: Path, playbook: str, *extra: str, timeout: int = 900
) -> Run:
    args = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inventory), playbook]
    args += ["-e", f"stockroom_ami_id={AMI}", "-e", "stockroom_alert_email=ops@example.com"]
    return run_args(emulator, [*args, "-e", f"stockroom_domain={PROD_DOMAIN}", *extra], timeout)


def run_args(emulator: Emulator, args: list[str], timeout: int) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        args,
        cwd=ROOT,
        env=playbook_env(emulator),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)


def tag_filter(**extra: str) -> list[dict[str, Any]]:
    tags = {**TAGS, **extra}
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
