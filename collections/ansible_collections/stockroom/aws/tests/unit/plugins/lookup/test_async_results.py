"""The stockroom.aws.async_results lookup on job files as async_wrapper writes them."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader


def wait(*jobs: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    plugin = lookup_loader.get("stockroom.aws.async_results")
    assert plugin is not None
    return plugin.run(list(jobs), variables={}, **options)


def job(tmp_path: Path, jid: str, content: dict[str, Any] | None) -> dict[str, Any]:
    """What an async start registers; the file as async_wrapper leaves it (None: not written)."""
    path = tmp_path / jid
    if content is not None:
        path.write_text(json.dumps(content))
    return {"ansible_job_id": jid, "results_file": str(path), "started": 1, "finished": 0}


RUNNING = {"started": 1, "finished": 0, "ansible_job_id": "x"}


def test_waits_for_every_job_and_keeps_their_order(tmp_path: Path) -> None:
    first = job(tmp_path, "j1", RUNNING)
    second = job(tmp_path, "j2", {"changed": False, "group_id": "sg-2"})
    done_later = {"changed": True, "group_id": "sg-1"}
    timer = threading.Timer(0.3, Path(first["results_file"]).write_text, [json.dumps(done_later)])
    timer.start()
    try:
        results = wait(first, second, timeout=10)
    finally:
        timer.cancel()
    assert [r["group_id"] for r in results] == ["sg-1", "sg-2"]
    assert [r["ansible_job_id"] for r in results] == ["j1", "j2"]
    assert all(r["finished"] for r in results)
    assert results[0]["changed"] is True


def test_a_failed_job_fails_with_its_message(tmp_path: Path) -> None:
    failed = job(tmp_path, "j3", {"failed": True, "msg": "InvalidSubnetID.NotFound"})
    with pytest.raises(AnsibleLookupError, match=r"InvalidSubnetID\.NotFound"):
        wait(failed, job(tmp_path, "j4", {"changed": False}), timeout=5)


def test_a_job_that_does_not_finish_times_out(tmp_path: Path) -> None:
    with pytest.raises(AnsibleLookupError, match="j5"):
        wait(job(tmp_path, "j5", RUNNING), timeout=1)


def test_a_missing_job_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AnsibleLookupError, match="no such background job file"):
        wait(job(tmp_path, "j6", None), timeout=1)


def test_nothing_to_wait_for(tmp_path: Path) -> None:
    assert wait(timeout=1) == []
