"""Unit tests of the stockroom.aws plugins: plain pytest, no Ansible run.

The collection is found the way ansible.cfg's collections_path finds it, so filters import as
ansible_collections.stockroom.aws.plugins.filter.* and lookups load by FQCN with their options.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible.plugins.loader import init_plugin_loader
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

COLLECTIONS = Path(__file__).resolve().parents[5]
init_plugin_loader([str(COLLECTIONS)])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server of the test module's own, in this process on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
