"""Lookup plugin: wait for background (async, poll: 0) tasks, return their results, in-process."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: async_results
short_description: Wait for background tasks of the controller and return their results
description:
  - Takes what an C(async) task with C(poll=0) registered (one result per job, loop items or not),
    waits until every job has finished and returns the jobs' module results, in the same order.
  - Reads each job's C(results_file) (the documented return value of the async start) on the
    controller, every C(interval) seconds. This is what C(ansible.builtin.async_status) reads too,
    but async_status is a module (every poll a new Python process, about 0.3 s of CPU here) and
    its retries cannot be closer than 1 s.
  - Only for tasks that run on the controller itself (local connection), as the Stockroom AWS
    plays do.
  - Fails naming the task's message when a job failed, or when C(timeout) seconds pass.
options:
  _terms:
    description: Registered async results (dicts with C(ansible_job_id) and C(results_file)).
    required: true
  timeout:
    description: Seconds to wait for all of them.
    type: int
    default: 300
  interval:
    description: Seconds between two reads of an unfinished job's file.
    type: float
    default: 0.1
"""

EXAMPLES = r"""
- name: Wait for the route tables
  ansible.builtin.set_fact:
    route_tables: "{{ query('stockroom.aws.async_results', *jobs) }}"
  vars:
    jobs: "{{ started.results | selectattr('ansible_job_id', 'defined') }}"
"""

RETURN = r"""
_raw:
  description: One module result per job, with C(finished) true and C(ansible_job_id).
  type: list
  elements: dict
"""


def _read(path: str) -> dict[str, Any] | None:
    """The job's result once it has finished, None while it runs (same test as async_status)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise AnsibleLookupError(f"no such background job file: {path}") from None
    except ValueError:
        return None  # being written
    if not isinstance(data, dict) or "started" in data:
        return None
    return data


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        timeout = float(self.get_option("timeout"))
        interval = float(self.get_option("interval"))
        jobs = []
        for term in terms:
            if not isinstance(term, dict) or "results_file" not in term:
                raise AnsibleLookupError("async_results takes what async tasks registered")
            path = os.path.expanduser(str(term["results_file"]))
            jobs.append((str(term["ansible_job_id"]), path))
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while True:
            for jid, path in jobs:
                if jid not in done and (result := _read(path)) is not None:
                    done[jid] = {**result, "finished": True, "ansible_job_id": jid}
            if len(done) == len(jobs):
                break
            if time.monotonic() > deadline:
                waiting = sorted({j for j, _ in jobs} - set(done))
                raise AnsibleLookupError(f"jobs still running after {timeout:.0f} s: {waiting}")
            time.sleep(interval)
        results = [done[jid] for jid, _ in jobs]
        failed = [r for r in results if r.get("failed")]
        if failed:
            msgs = "; ".join(str(r.get("msg", "failed")) for r in failed)
            raise AnsibleLookupError(f"{len(failed)} background job(s) failed: {msgs}")
        return results
