"""db_instance_differs: the RDS instance goes to the module when it is missing, busy or differs."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.filter.rds import db_instance_differs

WANT: dict[str, Any] = {
    "engine": "mysql",
    "engine_version": "8.4.3",
    "db_instance_class": "db.t4g.micro",
    "allocated_storage": 20,
    "storage_type": "gp3",
    "storage_encrypted": True,
    "username": "stockroom_admin",
    "db_name": "stockroom",
    "port": 3306,
    "db_subnet_group_name": "s-db",
    "db_parameter_group_name": "s-db-mysql8-4",
    "vpc_security_group_ids": ["sg-db"],
    "publicly_accessible": False,
    "multi_az": False,
    "backup_retention_period": 7,
    "deletion_protection": False,
    "copy_tags_to_snapshot": True,
    "auto_minor_version_upgrade": True,
    "tags": {"Project": "stockroom", "Name": "s-db"},
}
# describe_db_instances through stockroom.aws.describe (snake_case, TagList as a dict): the fields
# named as the options hold the same values.
SAME = ("engine", "engine_version", "db_instance_class", "allocated_storage", "storage_type")
SAME += ("storage_encrypted", "db_name", "publicly_accessible", "multi_az")
SAME += ("backup_retention_period", "deletion_protection", "copy_tags_to_snapshot")
SAME += ("auto_minor_version_upgrade",)
READ: dict[str, Any] = {
    **{k: WANT[k] for k in SAME},
    "db_instance_status": "available",
    "master_username": "stockroom_admin",
    "endpoint": {"address": "s-db.x.rds.amazonaws.com", "port": 3306},
    "db_subnet_group": {"db_subnet_group_name": "s-db"},
    "db_parameter_groups": [
        {"db_parameter_group_name": "s-db-mysql8-4", "parameter_apply_status": "in-sync"}
    ],
    "vpc_security_groups": [{"vpc_security_group_id": "sg-db", "status": "active"}],
    "pending_modified_values": {},
    "tag_list": {"Project": "stockroom", "Name": "s-db"},
}


def test_the_instance_as_wanted_does_not_differ() -> None:
    assert db_instance_differs(READ, WANT) is False


def test_a_missing_instance_differs() -> None:
    assert db_instance_differs(None, WANT) is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("db_instance_status", "modifying"),
        ("pending_modified_values", {"db_instance_class": "db.t4g.small"}),
        ("backup_retention_period", 1),
        ("multi_az", True),
        ("db_instance_class", "db.t4g.small"),
        ("deletion_protection", True),
        ("endpoint", {"address": "x", "port": 3307}),
        ("db_parameter_groups", [{"db_parameter_group_name": "default.mysql8.4"}]),
        ("vpc_security_groups", [{"vpc_security_group_id": "sg-other"}]),
        ("tag_list", {"Project": "stockroom", "Name": "s-db", "Stray": "by hand"}),
    ],
)
def test_a_field_changed_by_hand_or_in_flight_differs(field: str, value: Any) -> None:
    assert db_instance_differs({**READ, field: value}, WANT) is True
