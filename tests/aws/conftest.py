"""Fixtures for the AWS provisioning tests: a real moto server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from awsstack import Emulator, emulator_server


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Start moto server for the whole session and stop it afterwards (it is ours)."""
    with emulator_server(tmp_path_factory.mktemp("moto") / "moto.log") as emu:
        yield emu


@pytest.fixture(scope="session")
def aws(emulator: Emulator) -> boto3.session.Session:
    """A boto3 session whose clients talk to the emulator (via emulator.client)."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
