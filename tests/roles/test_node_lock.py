"""roles/stockroom_app/files/requirements.lock: what nodes install with pip --require-hashes.

Offline checks against the sources it is generated from (tests/roles/node_lock.py rewrites it):
the app's dependencies at their pins, constraints.txt's versions, a hash on every entry, and no
dependency of a locked package missing (pip's hash-checking mode would refuse the install on the
node). Molecule's stockroom_app scenario installs from it and shows a tampered hash fails there.
"""

from __future__ import annotations

import sys
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_lock import CONSTRAINTS, LOCK, TARGETS, app_dependencies, canonical, read_lock

REGENERATE = "regenerate it: .venv/bin/python tests/roles/node_lock.py"


def locked() -> dict[str, tuple[str, set[str]]]:
    assert LOCK.is_file(), f"{LOCK} is missing; {REGENERATE}"
    return read_lock(LOCK.read_text())


def test_every_entry_is_pinned_and_hashed() -> None:
    entries = locked()
    assert entries
    for name, (version, hashes) in entries.items():
        assert version and hashes, f"{name} has no version or no --hash"


def test_app_dependencies_are_locked_at_their_pins() -> None:
    entries = locked()
    for spec in app_dependencies():
        req = Requirement(spec)
        key = canonical(req.name)
        assert key in entries, f"{req.name} (app/pyproject.toml) is not in the lock; {REGENERATE}"
        assert entries[key][0] in req.specifier, (
            f"{req.name}: lock has {entries[key][0]}, app wants {req.specifier}"
        )


def test_versions_match_constraints() -> None:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonical(name)] = version.strip()
    for key, (version, _) in locked().items():
        if key in pins:
            assert version == pins[key], (
                f"{key}: lock {version}, constraints.txt {pins[key]}; {REGENERATE}"
            )


def test_the_lock_is_closed_under_dependencies() -> None:
    """Every requirement of every locked package (on each node's Python) is locked too."""
    entries = locked()
    for key in entries:
        for spec in distribution(key).requires or []:
            req = Requirement(spec)
            for python, _ in TARGETS:
                env = {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}
                if req.marker is None or req.marker.evaluate(env):
                    dep = canonical(req.name)
                    assert dep in entries, (
                        f"{key} needs {req.name} on Python {python}; {REGENERATE}"
                    )
                    assert entries[dep][0] in req.specifier, (
                        f"{key} needs {spec}, lock has {entries[dep][0]}"
                    )
