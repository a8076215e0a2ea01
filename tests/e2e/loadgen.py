"""Constant-rate HTTP load on loopback, for the rolling-release and node-failure tests.

A scheduler releases one request slot every 1/rate seconds; worker threads with keep-alive
sessions take the slots. The rate is bounded (never above `rate`), and the achieved rate is
reported so a test can check the load really was there for the whole run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests


@dataclass
class LoadResult:
    duration: float
    total: int
    failed: int
    by_node: Counter[str]
    failures: list[str] = field(default_factory=list)
    # Requests started in each one-second window since the start (the offered load).
    per_second: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.total / self.duration if self.duration else 0.0


class ConstantLoad:
    """GET `url` at `rate` requests/s until stop(); a non-200 or an exception is a failure."""

    def __init__(self, url: str, rate: float = 60.0, workers: int = 32, timeout: float = 10.0):
        self.url, self.rate, self.timeout = url, rate, timeout
        self._slots: queue.Queue[float | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done: list[float] = []
        self._failures: list[str] = []
        self._nodes: Counter[str] = Counter()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        self._scheduler = threading.Thread(target=self._schedule, daemon=True)
        self._started = 0.0

    def __enter__(self) -> ConstantLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            self.stop()

    def start(self) -> None:
        self._started = time.monotonic()
        for t in self._threads:
            t.start()
        self._scheduler.start()

    def _schedule(self) -> None:
        interval, n = 1.0 / self.rate, 0
        while not self._stop.is_set():
            due = self._started + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._slots.put(due)
            n += 1

    def _work(self) -> None:
        session = requests.Session()
        while True:
            slot = self._slots.get()
            if slot is None:
                return
            began = time.monotonic()
            outcome, node = self._one(session)
            with self._lock:
                self._done.append(began)
                if outcome:
                    self._failures.append(outcome)
                else:
                    self._nodes[node] += 1

    def _one(self, session: requests.Session) -> tuple[str, str]:
        try:
            resp = session.get(self.url, timeout=self.timeout)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}", ""
        if resp.status_code != 200:
            return f"HTTP {resp.status_code}", ""
        try:
            return "", str(resp.json().get("node", ""))
        except ValueError:
            return "", ""

    def snapshot(self) -> tuple[int, int]:
        """(completed, failed) so far."""
        with self._lock:
            return len(self._done), len(self._failures)

    def stop(self) -> LoadResult:
        self._stop.set()
        self._scheduler.join()
        for _ in self._threads:
            self._slots.put(None)
        for t in self._threads:
            t.join()
        duration = time.monotonic() - self._started
        seconds = [0] * (int(duration) + 1)
        for t in self._done:
            seconds[min(int(t - self._started), len(seconds) - 1)] += 1
        return LoadResult(
            duration=duration,
            total=len(self._done),
            failed=len(self._failures),
            by_node=self._nodes,
            failures=self._failures[:20],
            per_second=seconds,
        )
