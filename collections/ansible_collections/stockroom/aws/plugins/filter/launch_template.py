"""Filter launch_template_differs: would amazon.aws.ec2_launch_template add a version or a default?

The module turns its options into LaunchTemplateData (snake_case to CamelCase, the instance
profile's name to its ARN), adds a version when that differs from the newest version's data or
description, and makes the newest version the default (default_version: latest). asg.yml reads the
newest and default versions in-process and runs the module only when this answers true (2026-12-06:
0.9 s of a 12.7 s rerun).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.dict_transformations import (
    camel_dict_to_snake_dict,
    snake_dict_to_camel_dict,
)


def _plain(value: Any) -> Any:
    """Plain dicts and lists: the converters below cannot copy ansible's lazy templated ones."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _as_read(data: dict[str, Any]) -> dict[str, Any]:
    """The options as the read answers them: CamelCase as the module sends them, then snake_case."""
    return camel_dict_to_snake_dict(snake_dict_to_camel_dict(_plain(data), capitalize_first=True))


def launch_template_differs(versions: list[dict[str, Any]] | None, want: dict[str, Any]) -> bool:
    """Whether the module would create the template, add a version or change the default version.

    `versions` is describe_launch_template_versions' list for `$Latest` and `$Default` (empty: no
    template); `want` holds the module's launch template options, with iam_instance_profile a name.
    """
    if not versions:
        return True
    newest = max(versions, key=lambda v: v["version_number"])
    if not newest.get("default_version") or (newest.get("version_description") or "") != "":
        return True
    data = _plain(newest.get("launch_template_data") or {})
    profile = (data.pop("iam_instance_profile", None) or {}).get("arn", "").split("/")[-1]
    wanted = {k: v for k, v in want.items() if k != "iam_instance_profile" and v is not None}
    return profile != want.get("iam_instance_profile") or data != _as_read(wanted)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"launch_template_differs": launch_template_differs}
