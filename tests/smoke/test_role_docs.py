"""Every role's README documents exactly the variables its meta/argument_specs.yml declares.

The README lists variables as rows of a Markdown table whose first cell is the variable name in
backticks (`| `role_var` | ... |`); the specs are the source of truth for types and defaults.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").glob("*/") if (p / "tasks").is_dir())
TABLE_ROW = re.compile(r"^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|", re.M)


def spec_variables(role: Path) -> set[str]:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    names: set[str] = set()
    for entry in (specs.get("argument_specs") or {}).values():
        names.update((entry.get("options") or {}).keys())
    return names


def readme_variables(role: Path) -> set[str]:
    return set(TABLE_ROW.findall((role / "README.md").read_text()))


def test_there_are_roles() -> None:
    assert ROLES, "no roles found under roles/"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_specs_meta_and_readme(role: Path) -> None:
    for rel in ("meta/argument_specs.yml", "meta/main.yml", "README.md"):
        assert (role / rel).is_file(), f"{role.name}: {rel} is missing"
    galaxy = yaml.safe_load((role / "meta" / "main.yml").read_text())["galaxy_info"]
    assert galaxy.get("namespace") == "stockroom", f"{role.name}: galaxy_info.namespace"
    assert galaxy.get("role_name") == role.name, f"{role.name}: galaxy_info.role_name"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_readme_lists_exactly_the_spec_variables(role: Path) -> None:
    specs, readme = spec_variables(role), readme_variables(role)
    assert not specs - readme, f"{role.name}: README misses {sorted(specs - readme)}"
    assert not readme - specs, f"{role.name}: README lists unknown {sorted(readme - specs)}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_spec_variable_has_type_description_and_role_prefix(role: Path) -> None:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    for entry in specs["argument_specs"].values():
        for name, opt in (entry.get("options") or {}).items():
            assert name.startswith(f"{role.name}_"), f"{role.name}: {name} lacks the role prefix"
            assert opt.get("type"), f"{role.name}: {name} has no type"
            assert opt.get("description"), f"{role.name}: {name} has no description"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_match_the_specs(role: Path) -> None:
    """A default in defaults/main.yml and in the specs must agree (the README shows the latter)."""
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.is_file() else {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"].get("main", {}).get("options") or {}
    for name, value in (defaults or {}).items():
        assert name in options, f"{role.name}: default {name} is not in the specs"
        if "default" in options[name] and not (isinstance(value, str) and "{{" in value):
            assert options[name]["default"] == value, f"{role.name}: default of {name} differs"
