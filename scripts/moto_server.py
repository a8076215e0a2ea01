"""The AWS emulator: moto server, with two RDS answers made the way AWS gives them.

Every place that starts the emulator runs this instead of .venv/bin/moto_server (same arguments):
tests/aws (awsstack.emulator_server), scripts/services.sh, scripts/demo-emulator.sh.
amazon.aws.rds_instance_param_group cannot create or fill a DB parameter group on plain moto 5.2:

- DescribeDBParameterGroups for a name that does not exist answers an empty list; AWS answers
  DBParameterGroupNotFound, and the module reads the first group of the list (IndexError).
- A new group has no parameters at all; on AWS it lists every parameter of its family (engine
  defaults, with DataType and IsModifiable). The module sets only parameters listed there.

Both are patched here, for a few MySQL 8 parameters only (ENGINE_DEFAULTS); docs/aws.md says so.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.rds.exceptions import DBParameterGroupNotFoundError
from moto.rds.models import RDSBackend
from moto.server import main


def _boolean(name: str, description: str) -> dict[str, Any]:
    return {
        "ParameterName": name,
        "Description": description,
        "Source": "engine-default",
        "ApplyType": "dynamic",
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "IsModifiable": True,
    }


def _other(name: str, data_type: str, allowed: str, description: str) -> dict[str, Any]:
    return {**_boolean(name, description), "DataType": data_type, "AllowedValues": allowed}


# As DescribeDBParameters lists them for a new mysql8.0 group (engine defaults carry no value).
ENGINE_DEFAULTS = (
    _boolean(
        "log_bin_trust_function_creators",
        "Enforces restrictions on creating stored functions and triggers with binary logging on.",
    ),
    _boolean("slow_query_log", "Enables the slow query log."),
    _other("long_query_time", "float", "0-31536000", "Seconds a query must take to be slow."),
    _other("max_connections", "integer", "1-100000", "Permitted simultaneous client connections."),
    _other("character_set_server", "string", "utf8mb3,utf8mb4,latin1", "Server character set."),
    _other("collation_server", "string", "", "Server collation."),
    _other("time_zone", "string", "", "Server time zone."),
)

_describe = RDSBackend.describe_db_parameter_groups
_create = RDSBackend.create_db_parameter_group


def describe_db_parameter_groups(self: RDSBackend, kwargs: dict[str, Any]) -> list[Any]:
    groups = _describe(self, kwargs)
    name = kwargs.get("db_parameter_group_name")
    if name and not groups:
        raise DBParameterGroupNotFoundError(name)
    return groups


def create_db_parameter_group(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
    group = _create(self, kwargs)
    if str(group.family or "").startswith("mysql8"):
        group.update_parameters([dict(p) for p in ENGINE_DEFAULTS])
    return group


RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups  # type: ignore[method-assign]
RDSBackend.create_db_parameter_group = create_db_parameter_group  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
