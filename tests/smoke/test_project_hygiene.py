"""What an adopter checks first: the licence, one version everywhere, every make target listed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def app_version() -> str:
    match = re.search(r'(?m)^version\s*=\s*"([^"]+)"', (ROOT / "app/pyproject.toml").read_text())
    assert match, "app/pyproject.toml has no version"
    return match[1]


def test_license_matches_every_role() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    for meta in sorted(ROOT.glob("roles/*/meta/main.yml")):
        assert yaml.safe_load(meta.read_text())["galaxy_info"]["license"] == "MIT", meta


def test_app_version_package_and_changelog_agree() -> None:
    version = app_version()
    init = (ROOT / "app/src/stockroom/__init__.py").read_text()
    assert f'__version__ = "{version}"' in init
    released = re.findall(
        r"(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text()
    )
    assert released and released[0] == version, (
        f"newest CHANGELOG release {released[:1]} != {version}"
    )


def test_make_help_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"(?m)^\.PHONY:(.*)$", makefile)[1].split())
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    listed = set(re.findall(r"(?m)^\s+make (\S+)", shown.stdout))
    assert phony <= listed, f"make help misses {sorted(phony - listed)}"
