"""Helpers shared by the AWS tests: running playbooks and reading their recap."""

from __future__ import annotations

import os
import re
import subprocess
import time
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


@dataclass
class Emulator:
    url: str
    log: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


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
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
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


def run_playbook(emulator: Emulator, playbook: str, *extra: str, timeout: int = 300) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        base_args(playbook, *extra),
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
