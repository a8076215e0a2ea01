"""Which node is serving: shown by /healthz and in the web UI footer ("served by")."""

from __future__ import annotations

import socket
from functools import lru_cache


@lru_cache(maxsize=1)
def detect_ip() -> str:
    # A UDP "connect" sends nothing; it only asks the kernel which source address it would use.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
    except OSError:
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"


def node_name(override: str | None) -> str:
    return override or socket.gethostname()


def node_ip(override: str | None) -> str:
    return override or detect_ip()
