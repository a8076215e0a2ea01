"""The boot-time secret fetch of roles/stockroom_app against the AWS emulator (moto server).

The script runs as a subprocess exactly as the unit runs it (environment + aws.env file), against
a real moto server on a free loopback port; only the output paths point into a temporary directory.
"""

from __future__ import annotations

import grp
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles/stockroom_app/files/stockroom_fetch_secrets.py"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def client(service: str, url: str) -> boto3.client:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run(tmp_path: Path, env: dict[str, str], aws_env: str | None) -> subprocess.CompletedProcess:
    if aws_env is not None:
        (tmp_path / "aws.env").write_text(aws_env)
    full = {
        "PATH": os.environ["PATH"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STOCKROOM_AWS_ENV_FILE": str(tmp_path / "aws.env"),
        "STOCKROOM_SECRETS_FILE": str(tmp_path / "run" / "secrets.env"),
        "STOCKROOM_SECRETS_GROUP": grp.getgrgid(os.getgid()).gr_name,
        **env,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=full, capture_output=True, text=True, check=False
    )


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k: v.strip("'") for k, v in pairs}


def test_rds_style_secret_named_by_user_data(tmp_path: Path, moto_url: str) -> None:
    password = "p@ss/w:rd%1"
    creds = {"username": "admin", "password": password, "host": "db.example", "port": 3306}
    creds["dbname"] = "stockroom"
    client("secretsmanager", moto_url).create_secret(
        Name="stockroom-test/db-master", SecretString=json.dumps(creds)
    )
    # As the role writes stockroom.env for a baked image: source and endpoint, no secret id yet.
    env = {"STOCKROOM_SECRETS_SOURCE": "secretsmanager", "STOCKROOM_AWS_ENDPOINT_URL": moto_url}
    aws_env = (
        f"STOCKROOM_AWS_REGION={REGION}\nSTOCKROOM_DB_SECRET_ID=stockroom-test/db-master\n"
        "STOCKROOM_ENV=prod\n"
    )
    result = run(tmp_path, env, aws_env)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "run" / "secrets.env"
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    values = read_env(out)
    url = "mysql+pymysql://admin:p%40ss%2Fw%3Ard%251@db.example:3306/stockroom?charset=utf8mb4"
    assert values["STOCKROOM_DATABASE_URL"] == url
    derived = hmac.new(password.encode(), b"stockroom secret key v1", hashlib.sha256).hexdigest()
    assert values["STOCKROOM_SECRET_KEY"] == derived
    assert "STOCKROOM_ENV" not in values  # aws.env's stack name never becomes the app's mode
    assert password not in result.stdout + result.stderr


def test_ssm_parameters_with_a_separate_secret_key(tmp_path: Path, moto_url: str) -> None:
    ssm = client("ssm", moto_url)
    ssm.put_parameter(Name="/stockroom-test/db", Value="plainpw", Type="SecureString")
    ssm.put_parameter(Name="/stockroom-test/key", Value="k" * 32, Type="SecureString")
    env = {
        "STOCKROOM_SECRETS_SOURCE": "ssm",
        "STOCKROOM_DB_SECRET_ID": "/stockroom-test/db",
        "STOCKROOM_SECRET_KEY_SECRET_ID": "/stockroom-test/key",
        "STOCKROOM_AWS_REGION": REGION,
        "STOCKROOM_AWS_ENDPOINT_URL": moto_url,
        "STOCKROOM_DB_HOST": "10.0.0.5",
        "STOCKROOM_DB_USER": "app",
        "STOCKROOM_DB_NAME": "inventory",
    }
    result = run(tmp_path, env, None)
    assert result.returncode == 0, result.stderr
    values = read_env(tmp_path / "run" / "secrets.env")
    expected = "mysql+pymysql://app:plainpw@10.0.0.5:3306/inventory?charset=utf8mb4"
    assert values["STOCKROOM_DATABASE_URL"] == expected
    assert values["STOCKROOM_SECRET_KEY"] == "k" * 32


def test_before_the_user_data_it_fails_with_one_line(tmp_path: Path, moto_url: str) -> None:
    env = {"STOCKROOM_SECRETS_SOURCE": "secretsmanager", "STOCKROOM_AWS_ENDPOINT_URL": moto_url}
    result = run(tmp_path, env, None)
    assert result.returncode == 1
    assert "STOCKROOM_DB_SECRET_ID, STOCKROOM_AWS_REGION not set" in result.stderr
    assert not (tmp_path / "run" / "secrets.env").exists()


def test_a_missing_secret_fails_without_writing(tmp_path: Path, moto_url: str) -> None:
    env = {
        "STOCKROOM_DB_SECRET_ID": "stockroom-test/absent",
        "STOCKROOM_AWS_REGION": REGION,
        "STOCKROOM_AWS_ENDPOINT_URL": moto_url,
    }
    result = run(tmp_path, env, None)
    assert result.returncode == 1
    assert "ResourceNotFoundException" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "secrets.env").exists()
