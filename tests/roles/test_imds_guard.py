"""The node's instance-metadata guard (roles/stockroom_app, templates/imds-guard.nft.j2), for real.

stockroom.service loads the rule set before every start so that the service user cannot reach the
instance metadata service, hence never the instance role's credentials (which may read the master
secret). The test renders the template for the user `nobody`, loads it twice with nft in a network
namespace of its own (where 169.254.169.254 is a local listener), and connects as root and as that
user: root gets through, the user is refused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles/stockroom_app/templates/imds-guard.nft.j2"
PROBE = """
import socket, subprocess, sys, threading
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("169.254.169.254", 80))
listener.listen(8)
threading.Thread(target=lambda: [listener.accept() for _ in range(8)], daemon=True).start()
connect = (
    "import socket\\n"
    "try:\\n"
    "    socket.create_connection(('169.254.169.254', 80), timeout=2)\\n"
    "    print('connected')\\n"
    "except OSError as exc:\\n"
    "    print(type(exc).__name__)\\n"
)
as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
for who, prefix in (("root", []), ("nobody", as_user)):
    out = subprocess.run([*prefix, sys.executable, "-c", connect], capture_output=True, text=True)
    print(who, out.stdout.strip() or out.stderr.strip())
"""


def render(user: str) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - not HTML
    env.filters["comment"] = lambda text: f"# {text}"
    return env.from_string(TEMPLATE.read_text()).render(
        stockroom_app_user=user, ansible_managed="Ansible managed"
    )


def test_the_service_user_cannot_reach_the_metadata_service(tmp_path: Path) -> None:
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    if nft is None:  # a missing tool is a failure here, never a skip
        pytest.fail("nft is required (apt-get install nftables; scripts/bootstrap.sh installs it)")
    rules = tmp_path / "imds-guard.nft"
    rules.write_text(render("nobody"))
    python = "/usr/bin/python3"  # readable by nobody (the test's venv may live in root's home)
    script = (
        "set -e; ip link set lo up; ip addr add 169.254.169.254/32 dev lo; "
        f"{nft} -f {rules}; {nft} -f {rules}; {nft} list ruleset; "
        f'{python} -c "$PROBE"'
    )
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PROBE": PROBE},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Loaded twice, the table holds its two rules once (reloading replaces, never adds).
    assert out.count("reject") == 2, out
    assert "meta skuid 65534 ip daddr 169.254.169.254 reject" in out, out  # nobody's uid
    assert "root connected" in out, out
    assert "nobody ConnectionRefusedError" in out, out


def test_the_template_names_the_service_user_for_both_addresses() -> None:
    text = render("stockroom")
    assert text.count('meta skuid "stockroom"') == 2
    assert "169.254.169.254" in text and "fd00:ec2::254" in text
