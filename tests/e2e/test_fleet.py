"""The local fleet through its load balancer: spread, browser, rolling release, node failure.

Runs against what `make demo` built (tests/suites/e2e.sh brings it up first): podman nodes with
systemd, HAProxy on 127.0.0.1:8080, MariaDB on the host, the AWS emulator. What a bake leaves in the
emulator (AMI tags, builder, key pair and security group gone) is checked by molecule/image_bake.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import ROOT, STATE_DIR, podman, record, server_states, wait_for
from .loadgen import ConstantLoad, LoadResult

RATE = 60.0  # requests/s offered during the release and the failure test (spec: >= 50)
MIN_RATE = 50


def node_image(name: str) -> str:
    return podman("container", "inspect", "--format", "{{.ImageName}}", name).stdout.strip()


def node_id(name: str) -> str:
    return podman("container", "inspect", "--format", "{{.Id}}", name).stdout.strip()


def check_interval() -> tuple[int, int, int]:
    """(inter seconds, fall, rise) from the HAProxy config the play wrote."""
    cfg = (STATE_DIR / "haproxy" / "haproxy.cfg").read_text()
    m = re.search(r"default-server check inter (\d+)s fall (\d+) rise (\d+)", cfg)
    assert m, "health check settings not found in haproxy.cfg"
    return int(m[1]), int(m[2]), int(m[3])


def assert_steady_load(result: LoadResult) -> None:
    full_seconds = result.per_second[:-1]  # the last window is partial
    assert result.rate >= MIN_RATE, f"offered only {result.rate:.1f} req/s"
    assert min(full_seconds) >= MIN_RATE, f"a second with < {MIN_RATE} requests: {full_seconds}"


def test_load_balancer_spreads_requests_over_three_nodes(lb_url: str, nodes: list[str]) -> None:
    seen: Counter[str] = Counter()
    session = requests.Session()
    for _ in range(30):
        resp = session.get(f"{lb_url}/healthz", timeout=5)
        assert resp.status_code == 200
        body = resp.json()
        assert body["status"] == "ok"
        seen[body["node"]] += 1
    assert len(seen) >= 3, f"only {dict(seen)} answered"
    assert set(seen) <= set(nodes), f"unknown node names {set(seen) - set(nodes)}"


def test_browser_logs_in_creates_an_item_and_sees_the_node(
    lb_url: str, admin_password: str
) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="stockroom-e2e-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 20)
    try:
        driver.get(f"{lb_url}/login")
        driver.find_element(By.ID, "username").send_keys("admin")
        driver.find_element(By.ID, "password").send_keys(admin_password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(ec.presence_of_element_located((By.XPATH, "//button[text()='Sign out']")))

        sku = f"E2E-{int(time.time() * 1000)}"
        driver.get(f"{lb_url}/items/new")
        driver.find_element(By.ID, "f-sku").send_keys(sku)
        driver.find_element(By.ID, "f-name").send_keys("End-to-end test item")
        quantity = driver.find_element(By.ID, "f-quantity")
        quantity.clear()
        quantity.send_keys("7")
        driver.find_element(By.XPATH, "//button[text()='Create item']").click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), sku))

        served_by = driver.find_element(By.ID, "served-by").text
        assert re.fullmatch(r"stockroom-node-\d+", served_by), f"served by {served_by!r}"
        assert f"Created {sku}." in driver.page_source
    finally:
        driver.quit()


def release(ami_id: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {
        **os.environ,
        "STOCKROOM_AWS_ENDPOINT": (ROOT / ".run" / "demo-emulator" / "url").read_text().strip(),
        "CONTAINERS_CONF": str(ROOT / "molecule" / "containers.conf"),
    }
    start = time.monotonic()
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/release.yml",
            "-i",
            "inventory/local",
            "-e",
            f"stockroom_ami_id={ami_id}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.monotonic() - start, proc


@pytest.fixture(scope="module")
def new_release(nodes: list[str], emulator_url: str) -> tuple[str, str]:
    """A second image to roll out: the baked image plus a release label, recorded as an AMI.

    A second full bake would cost minutes and exercise nothing the release does not; the release
    only needs an image that differs (a new image id) and an AMI id that maps to it.
    """
    current = node_image(nodes[0])
    previous_ami = current.rsplit(":", 1)[1]
    ec2 = boto3.client("ec2", endpoint_url=emulator_url, region_name="eu-west-1")
    image = ec2.describe_images(ImageIds=[previous_ami])["Images"][0]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    new_ami = ec2.register_image(
        Name=f"{image['Name']}-e2e",
        Description="e2e release candidate (relabelled copy of the baked image)",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.create_tags(
        Resources=[new_ami],
        Tags=[
            {"Key": "Project", "Value": "stockroom-e2e"},
            {"Key": "Version", "Value": tags.get("Version", "?") + "+e2e"},
            {"Key": "SourceAMI", "Value": previous_ami},
        ],
    )
    containerfile = f"FROM {current}\nLABEL io.stockroom.release=e2e-{new_ami}\n"
    with tempfile.TemporaryDirectory() as ctx:
        (Path(ctx) / "Containerfile").write_text(containerfile)
        podman("build", "--quiet", "--tag", f"localhost/stockroom:{new_ami}", ctx)
    return previous_ami, new_ami


def test_rolling_release_under_load_has_no_failed_requests(
    lb_url: str, all_up: list[str], new_release: tuple[str, str]
) -> None:
    _, new_ami = new_release
    before = {n: node_id(n) for n in all_up}
    with ConstantLoad(f"{lb_url}/healthz", rate=RATE) as load:
        time.sleep(3)
        seconds, proc = release(new_ami)
        time.sleep(3)
        result = load.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    record("release_seconds", round(seconds, 1))
    record("release_requests", result.total)
    record("release_failed", result.failed)
    record("release_rate", round(result.rate, 1))
    assert result.failed == 0, f"{result.failed} of {result.total} failed: {result.failures}"
    assert_steady_load(result)
    for name in all_up:
        assert node_image(name) == f"localhost/stockroom:{new_ami}", f"{name} not released"
        assert node_id(name) != before[name], f"{name} was not replaced"
    assert len(result.by_node) >= 3


def test_rollback_is_a_release_of_the_previous_ami(
    lb_url: str, all_up: list[str], new_release: tuple[str, str]
) -> None:
    previous_ami, _ = new_release
    with ConstantLoad(f"{lb_url}/healthz", rate=RATE) as load:
        seconds, proc = release(previous_ami)
        result = load.stop()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    record("rollback_seconds", round(seconds, 1))
    record("rollback_requests", result.total)
    record("rollback_failed", result.failed)
    assert result.failed == 0, f"{result.failed} of {result.total} failed: {result.failures}"
    assert_steady_load(result)
    for name in all_up:
        assert node_image(name) == f"localhost/stockroom:{previous_ami}"


def test_hard_stopped_node_leaves_rotation_and_comes_back(lb_url: str, all_up: list[str]) -> None:
    inter, fall, _ = check_interval()
    victim = all_up[1]
    with ConstantLoad(f"{lb_url}/healthz", rate=RATE) as load:
        time.sleep(2)
        podman("kill", "--signal", "KILL", victim)
        # Out of rotation within the health-check window (fall checks, one interval apart, plus
        # the check already under way).
        down_after = wait_for(
            lambda: server_states()[victim] != "UP",
            inter * (fall + 1) + 2,
            what=f"{victim} out of rotation",
        )
        _, failed_at_down = load.snapshot()
        time.sleep(inter * 2)
        total_mid, failed_mid = load.snapshot()
        podman("start", victim)
        up_after = wait_for(lambda: server_states()[victim] == "UP", 120, what=f"{victim} back")
        time.sleep(3)
        result = load.stop()
    record("node_down_detected_seconds", round(down_after, 1))
    record("node_back_in_rotation_seconds", round(up_after, 1))
    record("node_failure_requests", result.total)
    record("node_failure_failed", result.failed)
    record("node_failure_failed_before_detection", failed_at_down)
    assert down_after <= inter * (fall + 1) + 2
    assert failed_mid == failed_at_down, "requests failed after HAProxy had taken the node out"
    assert result.failed == failed_at_down, f"errors after the node came back: {result.failures}"
    assert_steady_load(result)
    # Back in rotation: it answers through the load balancer again.
    seen = {requests.get(f"{lb_url}/healthz", timeout=5).json()["node"] for _ in range(12)}
    assert victim in seen, f"{victim} not answering via the load balancer ({seen})"
    assert total_mid > 0
