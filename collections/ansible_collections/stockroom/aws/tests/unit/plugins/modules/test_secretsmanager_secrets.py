"""stockroom.aws.secretsmanager_secrets against a real moto server (in-process, free port)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.stockroom.aws.plugins.modules.secretsmanager_secrets import ensure


def secret(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "unit secret",
        "value": "s3cret-" + name,
        "tags": {"Project": "stockroom", "Name": name},
        **changes,
    }


@pytest.fixture(scope="module")
def sm(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("secretsmanager")


def value(sm: Any, name: str) -> str:
    return str(sm.client.get_secret_value(SecretId=name)["SecretString"])


def names(sm: Any) -> set[str]:
    return {s["Name"] for s in sm.client.list_secrets()["SecretList"]}


def test_check_mode_reports_new_secrets_and_stores_none(sm: Any) -> None:
    result = ensure(sm, [secret("check/a")], check_mode=True)
    assert result == {
        "changed": True,
        "secrets": [{"name": "check/a", "arn": None, "changed": True}],
    }
    assert "check/a" not in names(sm)


def test_created_in_one_run_then_a_rerun_is_unchanged(sm: Any) -> None:
    first = ensure(sm, [secret("made/a"), secret("made/b")], check_mode=False)
    assert [s["changed"] for s in first["secrets"]] == [True, True]
    assert first["secrets"][1]["arn"].split(":secret:")[1].startswith("made/b-")
    assert value(sm, "made/b") == "s3cret-made/b"
    described = sm.client.describe_secret(SecretId="made/a")
    assert described["Description"] == "unit secret"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == secret("made/a")["tags"]
    again = ensure(sm, [secret("made/a"), secret("made/b")], check_mode=False)
    assert again["changed"] is False
    assert [s["arn"] for s in again["secrets"]] == [s["arn"] for s in first["secrets"]]


def test_only_what_differs_is_written(sm: Any) -> None:
    ensure(sm, [secret("edit/a"), secret("edit/b")], check_mode=False)
    sm.client.update_secret(SecretId="edit/a", Description="by hand")
    sm.client.tag_resource(SecretId="edit/a", Tags=[{"Key": "Extra", "Value": "by hand"}])
    wanted = [secret("edit/a"), secret("edit/b", value="rotated")]
    assert [s["changed"] for s in ensure(sm, wanted, check_mode=True)["secrets"]] == [True, True]
    assert value(sm, "edit/b") == "s3cret-edit/b"
    result = ensure(sm, wanted, check_mode=False)
    assert [s["changed"] for s in result["secrets"]] == [True, True]
    described = sm.client.describe_secret(SecretId="edit/a")
    assert described["Description"] == "unit secret"
    assert "Extra" not in {t["Key"] for t in described["Tags"]}
    assert value(sm, "edit/b") == "rotated"
    assert ensure(sm, wanted, check_mode=False)["changed"] is False


def test_a_secret_scheduled_for_deletion_is_restored(sm: Any) -> None:
    ensure(sm, [secret("gone/a")], check_mode=False)
    sm.client.delete_secret(SecretId="gone/a", RecoveryWindowInDays=7)
    result = ensure(sm, [secret("gone/a")], check_mode=False)
    assert result["secrets"][0]["changed"] is True
    assert "DeletedDate" not in sm.client.describe_secret(SecretId="gone/a")
    assert value(sm, "gone/a") == "s3cret-gone/a"
