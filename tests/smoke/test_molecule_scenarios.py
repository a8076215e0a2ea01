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


# The drill is an action: a second run drills again (molecule/README.md), so it has neither step.
ACTIONS = {"aws_drill"}


def test_every_role_s_scenario_proves_idempotence_and_check_mode() -> None:
    for path in sorted((ROOT / "molecule").glob("*/molecule.yml")):
        if path.parent.name in ACTIONS:
            continue
        sequence = yaml.safe_load(path.read_text())["scenario"]["test_sequence"]
        steps = [s for s in sequence if s in ("converge", "idempotence", "check", "verify")]
        assert steps == ["converge", "idempotence", "check", "verify"], (path.parent.name, steps)
