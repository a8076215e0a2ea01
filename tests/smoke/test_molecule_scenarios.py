"""Issue 18: an auditor's `molecule test` covers every role - one scenario per role in roles/."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_role_has_a_molecule_scenario() -> None:
    roles = {p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/main.yml")}
    scenarios = {p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml")}
    assert roles - scenarios == set(), f"roles without a scenario: {sorted(roles - scenarios)}"


def test_every_scenario_runs_create_converge_verify_destroy() -> None:
    for path in sorted((ROOT / "molecule").glob("*/molecule.yml")):
        sequence = yaml.safe_load(path.read_text())["scenario"]["test_sequence"]
        for step in ("create", "converge", "verify", "destroy"):
            assert step in sequence, f"{path.parent.name}: no {step} step"
        assert sequence[-1] == "destroy", f"{path.parent.name}: does not end with destroy"
