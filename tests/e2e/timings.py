"""Reads ansible-playbook output (profile_tasks timestamps) for the e2e suite.

timings.py recap LOG      exit 1 unless every host in the PLAY RECAP has changed=0 failed=0
timings.py bake LOG       seconds between the first and the last task of the image plays
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\w+ \d+ \w+ \d{4}\s+(\d\d:\d\d:\d\d) \+0000")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def recap(lines: list[str]) -> int:
    hosts = [m.groups() for line in lines if (m := RECAP.match(line))]
    bad = [h for h in hosts if h[1:] != ("0", "0", "0")]
    print(f"recap: {len(hosts)} host lines, not clean: {bad}")
    return 0 if hosts and not bad else 1


def bake_seconds(lines: list[str]) -> int:
    """From the first task stamp after 'PLAY [Image' to the first stamp after the image plays."""
    start = end = None
    in_image = False
    for line in lines:
        if line.startswith("PLAY [") and not line.startswith("PLAY RECAP"):
            in_image = line.startswith("PLAY [Image")
            if not in_image and start and end is None:
                end = "next"
        m = STAMP.match(line)
        if m:
            if in_image and start is None:
                start = m[1]
            if end == "next":
                end = m[1]
    if not start or not end or end == "next":
        raise SystemExit("bake: image plays not found in the log")
    fmt = "%H:%M:%S"
    return int((datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds())


if __name__ == "__main__":
    mode, log = sys.argv[1], Path(sys.argv[2]).read_text().splitlines()
    if mode == "recap":
        sys.exit(recap(log))
    print(bake_seconds(log))
