"""TLS to the database (issue #16 item 13): with STOCKROOM_DATABASE_CA the app verifies the server.

A throw-away MariaDB (its own datadir, a free loopback port) runs with require_secure_transport=ON
and a server certificate for 127.0.0.1 signed by a CA the test makes with openssl, as RDS runs with
the parameter group's require_secure_transport=ON and a certificate from the RDS CA. The app
connects, migrates and answers /readyz with that CA; it refuses the same server when given a CA
that did not sign its certificate, or a host name the certificate does not hold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from conftest import app_env, free_port
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from stockroom.app import create_app
from stockroom.config import ConfigError, load_settings
from stockroom.extensions import db
from stockroom.migrate import upgrade

MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
INSTALL_DB = shutil.which("mariadb-install-db")
USER, PASSWORD, DB = "tls_app", "tls-app-password-0123", "stockroom_tls"


@dataclass(frozen=True)
class TlsServer:
    port: int
    ca: Path  # signed the server's certificate
    other_ca: Path  # a CA that did not

    def url(self, host: str = "127.0.0.1") -> str:
        return f"mysql+pymysql://{USER}:{PASSWORD}@{host}:{self.port}/{DB}?charset=utf8mb4"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", f"/CN=Stockroom test {name}", cwd=d,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    if not (MARIADBD and INSTALL_DB):  # a missing server is a failure here, never a skip
        pytest.fail("mariadbd and mariadb-install-db are required (apt-get install mariadb-server)")
    d = tmp_path_factory.mktemp("dbtls")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d,
    )  # fmt: skip
    datadir, sock, port = d / "data", d / "mysqld.sock", free_port()
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [INSTALL_DB, "--no-defaults", f"--datadir={datadir}", "--skip-test-db",
         "--auth-root-authentication-method=normal", *as_root],
        check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [MARIADBD, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin",
         "--innodb-buffer-pool-size=16M", f"--pid-file={d / 'mysqld.pid'}",
         f"--ssl-ca={d / 'ca.pem'}", f"--ssl-cert={d / 'server.pem'}",
         f"--ssl-key={d / 'server.key'}", "--require-secure-transport=ON", *as_root],
        stdout=subprocess.DEVNULL, stderr=(d / "mysqld.err").open("w"),
    )  # fmt: skip
    try:
        admin = None
        deadline = time.monotonic() + 15
        while admin is None:
            try:
                admin = pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)
            except pymysql.MySQLError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mariadbd did not start: {(d / 'mysqld.err').read_text()[-2000:]}")
                time.sleep(0.1)
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL ON {DB}.* TO '{USER}'@'127.0.0.1'")
        admin.close()
        yield TlsServer(port=port, ca=d / "ca.pem", other_ca=d / "other-ca.pem")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_server_refuses_plain_tcp(tls_server: TlsServer) -> None:
    """require_secure_transport=ON holds (what the parameter group sets on RDS): the same user and
    password are refused without TLS (MariaDB answers 1045 access denied, MySQL 3159) and accepted
    with it."""
    login = {"host": "127.0.0.1", "port": tls_server.port, "user": USER, "password": PASSWORD}
    with pytest.raises(pymysql.OperationalError) as refused:
        pymysql.connect(**login, database=DB, ssl_disabled=True, connect_timeout=3)
    assert refused.value.args[0] in (1045, 3159), refused.value
    pymysql.connect(**login, database=DB, ssl_ca=str(tls_server.ca), connect_timeout=3).close()


def test_the_app_connects_migrates_and_serves_over_verified_tls(tls_server: TlsServer) -> None:
    app = create_app(env=app_env(tls_server.url(), STOCKROOM_DATABASE_CA=str(tls_server.ca)))
    with app.app_context():
        upgrade(db.engine)
        with db.engine.connect() as conn:
            cipher = conn.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
            verified = conn.connection.dbapi_connection._sock.getpeercert()  # type: ignore[union-attr]
    assert cipher, "the connection is not encrypted"
    assert verified, "the server's certificate was not verified (no peer certificate kept)"
    assert app.test_client().get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("why", "host", "ca_name"),
    [
        ("a CA that did not sign the server's certificate", "127.0.0.1", "other_ca"),
        ("a host name the certificate does not hold", "localhost", "ca"),
    ],
)
def test_the_app_refuses_a_server_it_cannot_verify(
    tls_server: TlsServer, why: str, host: str, ca_name: str
) -> None:
    ca = getattr(tls_server, ca_name)
    app = create_app(env=app_env(tls_server.url(host), STOCKROOM_DATABASE_CA=str(ca)))
    with app.app_context(), pytest.raises(OperationalError) as refused:
        db.engine.connect().close()
    message = str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message or "match" in message, (why, message)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503, why


def test_a_missing_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    env = app_env("mysql+pymysql://u:p@127.0.0.1/x", STOCKROOM_DATABASE_CA=str(tmp_path / "no.pem"))
    with pytest.raises(ConfigError, match="STOCKROOM_DATABASE_CA"):
        load_settings(env)
