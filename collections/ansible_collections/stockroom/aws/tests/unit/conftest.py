"""Unit tests of the stockroom.aws plugins: plain pytest, no Ansible run.

The collection is found the way ansible.cfg's collections_path finds it, so filters import as
ansible_collections.stockroom.aws.plugins.filter.* and lookups load by FQCN with their options.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ansible.plugins.loader import init_plugin_loader
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

COLLECTIONS = Path(__file__).resolve().parents[5]
init_plugin_loader([str(COLLECTIONS)])
# Only once the collection loader is in place.
from ansible_collections.amazon.aws.plugins.module_utils.retries import (  # noqa: E402
    AWSRetry,
    RetryingBotoClientWrapper,
)


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


@pytest.fixture(scope="module")
def aws_client(moto_endpoint: str) -> Callable[[str], Any]:
    """Makes boto3 clients of the moto server, with the retry module.client() gives a module."""

    def make(service: str) -> Any:
        client = boto3.client(
            service,
            region_name="eu-west-1",
            endpoint_url=moto_endpoint,
            aws_access_key_id="unit",
            aws_secret_access_key="unit",
        )
        return RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff())

    return make
