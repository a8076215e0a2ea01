"""boto3 clients for the collection's controller plugins, from one botocore session per profile.

ansible-playbook runs every task in a worker forked from its main process, and whatever a worker
caches dies with it. A client made from a new session loads its service model and builds its client
class: 2026-12-06, an EC2 client 0.15-0.23 s, most others about 0.05 s; profiled, client creation
was 30 % of a rerun's CPU (site.yml, 40 tasks that read). From a session whose loader already holds
the model (botocore caches models per session) a forked worker makes an EC2 client in about 0.04 s:
the callback stockroom.aws.warm_sessions makes the default session and loads the model of each
service the roles read before the first task is forked (`warm`), then freezes the collector
(gc.freeze): without that the models made every worker's garbage collections slower, and a fresh
site.yml took 3 CPU-s more instead of 2 less (bench/aws_runs.py, same run).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
import botocore.config
import botocore.session

_SESSIONS: dict[str | None, botocore.session.Session] = {}


def _session(profile: str | None) -> boto3.session.Session:
    if profile not in _SESSIONS:
        _SESSIONS[profile] = botocore.session.Session(profile=profile)
    return boto3.session.Session(botocore_session=_SESSIONS[profile])


def client(
    service: str, region: str | None, endpoint_url: str | None, params: dict[str, Any]
) -> Any:
    """A client with amazon.aws's connection settings (get_aws_connection_info's region, endpoint
    and parameters: profile_name, credentials, verify, aws_config), like its boto3_conn makes."""
    params = dict(params)
    profile = params.pop("profile_name", None)
    config = params.pop("aws_config", None)
    if isinstance(config, dict):
        config = botocore.config.Config(**config)
    return _session(profile).client(
        service, region_name=region, endpoint_url=endpoint_url, config=config, **params
    )


def warm(services: Iterable[str]) -> None:
    """Load each service's model (and the endpoint data) into the default session by making a client
    of it. Credentials and region are given, so nothing is resolved and no call is made; the clients
    themselves are thrown away."""
    for service in services:
        client(
            service,
            "us-east-1",
            None,
            {"aws_access_key_id": "warm", "aws_secret_access_key": "warm"},
        )
