"""Filter db_instance_differs: would amazon.aws.rds_instance create or modify the instance?

instance.yml reads the instance in-process (stockroom.aws.describe) and runs the module only when
this answers true (2026-12-06: 0.7 s of a 12.7 s rerun). It compares every option the role gives
the module that RDS can change (the module sends ModifyDBInstance for those), the tags, and the
status: an instance that is not `available` (being created, modified, rebooted) goes to the module,
which waits for it. The password is not compared: the role never re-sends it as a change.
"""

from __future__ import annotations

from typing import Any

# Module option -> the field of describe_db_instances (snake_case) that holds it.
_FIELDS = {
    "engine": "engine",
    "engine_version": "engine_version",
    "db_instance_class": "db_instance_class",
    "allocated_storage": "allocated_storage",
    "storage_type": "storage_type",
    "storage_encrypted": "storage_encrypted",
    "username": "master_username",
    "db_name": "db_name",
    "publicly_accessible": "publicly_accessible",
    "multi_az": "multi_az",
    "backup_retention_period": "backup_retention_period",
    "deletion_protection": "deletion_protection",
    "copy_tags_to_snapshot": "copy_tags_to_snapshot",
    "auto_minor_version_upgrade": "auto_minor_version_upgrade",
}


def db_instance_differs(instance: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    """Whether the instance as read (none: not there) differs from the module's options in `want`.

    `want` holds the options of _FIELDS plus port, db_subnet_group_name, db_parameter_group_name,
    vpc_security_group_ids and tags.
    """
    if not instance:
        return True
    return (
        instance.get("db_instance_status") != "available"
        or bool(instance.get("pending_modified_values"))
        or any(str(instance.get(field)) != str(want[option]) for option, field in _FIELDS.items())
        or str((instance.get("endpoint") or {}).get("port")) != str(want["port"])
        or (instance.get("db_subnet_group") or {}).get("db_subnet_group_name")
        != want["db_subnet_group_name"]
        or [g.get("db_parameter_group_name") for g in instance.get("db_parameter_groups") or []]
        != [want["db_parameter_group_name"]]
        or sorted(g.get("vpc_security_group_id") for g in instance.get("vpc_security_groups") or [])
        != sorted(want["vpc_security_group_ids"])
        or (instance.get("tag_list") or {}) != (want.get("tags") or {})
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"db_instance_differs": db_instance_differs}
