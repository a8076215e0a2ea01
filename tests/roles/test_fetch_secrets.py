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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_emulator import REGION, client, moto_server
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles/stockroom_app/files/stockroom_fetch_secrets.py"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


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
    """The two values as a POSIX shell reads the file (the same quoting systemd parses)."""
    script = '. "$1"; printf "%s\\0%s" "$STOCKROOM_DATABASE_URL" "$STOCKROOM_SECRET_KEY"'
    out = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(path)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    ).stdout.decode()
    url, key = out.split("\0")
    return {"STOCKROOM_DATABASE_URL": url, "STOCKROOM_SECRET_KEY": key}


def ssm_source(
    moto_url: str, db: tuple[str, str], key: tuple[str, str] | None = None
) -> dict[str, str]:
    """Store the SSM parameters (name, value) and return the unit's environment naming them."""
    ssm = client("ssm", moto_url)
    env = {
        "STOCKROOM_SECRETS_SOURCE": "ssm",
        "STOCKROOM_AWS_REGION": REGION,
        "STOCKROOM_AWS_ENDPOINT_URL": moto_url,
    }
    for var, param in (("STOCKROOM_DB_SECRET_ID", db), ("STOCKROOM_SECRET_KEY_SECRET_ID", key)):
        if param:
            ssm.put_parameter(Name=param[0], Value=param[1], Type="SecureString", Overwrite=True)
            env[var] = param[0]
    return env


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
    assert oct(out.parent.stat().st_mode & 0o777) == "0o750"
    values = read_env(out)
    url = "mysql+pymysql://admin:p%40ss%2Fw%3Ard%251@db.example:3306/stockroom?charset=utf8mb4"
    assert values["STOCKROOM_DATABASE_URL"] == url
    derived = hmac.new(password.encode(), b"stockroom secret key v1", hashlib.sha256).hexdigest()
    assert values["STOCKROOM_SECRET_KEY"] == derived
    # aws.env's stack name never becomes the app's mode.
    assert "STOCKROOM_ENV=" not in out.read_text()
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


# The attacks below are the app user's (it owned /run/stockroom, where the file used to be): plant
# a link where root writes, or put shell in a value that root then sources.


def test_a_planted_link_is_replaced_not_followed(tmp_path: Path, moto_url: str) -> None:
    env = ssm_source(moto_url, ("/stockroom-test/link", "linkpw"))
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o750)
    victims = [tmp_path / "victim-final", tmp_path / "victim-tmp"]
    for victim in victims:
        victim.write_text("untouched\n")
    (run_dir / "secrets.env").symlink_to(victims[0])
    (run_dir / "secrets.tmp").symlink_to(victims[1])  # the old code's fixed temporary name
    result = run(tmp_path, env, None)
    assert result.returncode == 0, result.stderr
    assert [v.read_text() for v in victims] == ["untouched\n", "untouched\n"]
    out = run_dir / "secrets.env"
    assert not out.is_symlink()
    assert "linkpw" in read_env(out)["STOCKROOM_DATABASE_URL"]
    leftovers = {p.name for p in run_dir.iterdir()} - {"secrets.env", "secrets.tmp"}
    assert leftovers == set()  # no temporary file left behind


@pytest.mark.parametrize("kind", ["foreign owner", "group-writable", "symlink"])
def test_a_directory_someone_else_controls_is_refused(
    tmp_path: Path, moto_url: str, kind: str
) -> None:
    env = ssm_source(moto_url, ("/stockroom-test/dir", "dirpw"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o750)
    run_dir = tmp_path / "run"
    if kind == "symlink":
        run_dir.symlink_to(elsewhere)
    else:
        run_dir.mkdir(mode=0o750)
        if kind == "foreign owner":
            os.chown(run_dir, 65534, 65534)  # nobody: stands in for the app user
        else:
            run_dir.chmod(0o770)
    result = run(tmp_path, env, None)
    assert result.returncode == 1
    assert "stockroom-fetch-secrets: not written:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(elsewhere.iterdir()) == []
    if kind != "symlink":
        assert list(run_dir.iterdir()) == []


def test_shell_in_a_secret_stays_data(tmp_path: Path, moto_url: str) -> None:
    marker = tmp_path / "pwned"
    password = f"a'b\"c$(touch {marker})`touch {marker}`\\d\nline2 $HOME"
    key = f"k'$(touch {marker})'\"\n\\\"$PATH`id`" + "x" * 16
    env = ssm_source(
        moto_url, ("/stockroom-test/evil-db", password), ("/stockroom-test/evil-key", key)
    )
    result = run(tmp_path, env, None)
    assert result.returncode == 0, result.stderr
    # Sourcing it, as the old unit and config check did as root, must run nothing.
    values = read_env(tmp_path / "run" / "secrets.env")
    assert not marker.exists()
    assert values["STOCKROOM_SECRET_KEY"] == key
    url = make_url(values["STOCKROOM_DATABASE_URL"])
    assert (url.password, url.host, url.database) == (password, "127.0.0.1", "stockroom")
