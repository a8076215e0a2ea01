"""Checks that the project's entry points and pins hold together."""

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme


def test_requirements_pin_the_bundled_collection_versions() -> None:
    """requirements.yml must match what the pinned ansible package ships."""
    out = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-galaxy"), "collection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed: dict[str, str] = {}
    for path_entries in yaml.safe_load(out).values():
        for name, meta in path_entries.items():
            installed.setdefault(name, meta["version"])
    pinned = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert pinned, "requirements.yml lists no collections"
    for entry in pinned:
        assert installed.get(entry["name"]) == entry["version"], entry["name"]


def test_default_inventory_is_real_aws() -> None:
    cfg = (ROOT / "ansible.cfg").read_text()
    assert re.search(r"^inventory = inventory/aws$", cfg, re.M)
    local = yaml.safe_load((ROOT / "inventory/local/group_vars/all.yml").read_text())
    assert "aws_endpoint_url" in local
    real = yaml.safe_load((ROOT / "inventory/aws/group_vars/all.yml").read_text())
    assert "aws_endpoint_url" not in real


def test_site_playbook_runs_against_the_local_inventory() -> None:
    result = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "--list-hosts",
            "-i",
            "inventory/local",
            "site.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "localhost" in result.stdout
