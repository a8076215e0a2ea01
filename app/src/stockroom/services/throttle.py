"""Sign-in throttling shared by every node: failures are rows in login_failures.

Per subject (the username, and separately the client address) the first ``free`` failures within
``window`` cost nothing; after that each attempt must wait 2^(failures - free) seconds after the
latest failure (1, 2, 4 ... s), at most ``max_wait``: first slowed down, then refused for a while.
A refused attempt checks no password and records nothing. A successful sign-in clears the
username's failures, not the address's (one's own account must not reset a guessing address).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from stockroom.models import LoginFailure, utcnow

failures_t = LoginFailure.__table__


@dataclass(frozen=True)
class Limit:
    free: int
    window: timedelta = timedelta(minutes=15)
    max_wait: timedelta = timedelta(minutes=15)

    def wait(self, failures: int, latest: datetime | None, now: datetime) -> float:
        """Seconds until the next attempt is allowed (0 = now)."""
        if latest is None or failures < self.free:
            return 0.0
        delay = min(2.0 ** (failures - self.free), self.max_wait.total_seconds())
        return max(0.0, delay - (now - latest).total_seconds())


# A shared office address sees several people's typos, so it gets more free failures.
USER_LIMIT = Limit(free=5)
ADDRESS_LIMIT = Limit(free=20)


def subjects(username: str, address: str | None) -> dict[str, Limit]:
    # Usernames compare case-insensitively on MariaDB: lower-case them so SQLite agrees.
    return {
        "u:" + username.lower()[:90]: USER_LIMIT,
        "ip:" + (address or "unknown").lower()[:90]: ADDRESS_LIMIT,
    }


def retry_after(session: Session, username: str, address: str | None) -> int:
    """Whole seconds the caller must wait before this sign-in may be checked (0 = go ahead)."""
    now = utcnow()
    limits = subjects(username, address)
    cutoff = now - max(limit.window for limit in limits.values())
    rows = session.execute(
        select(failures_t.c.subject, func.count(), func.max(failures_t.c.failed_at))
        .where(failures_t.c.subject.in_(list(limits)), failures_t.c.failed_at > cutoff)
        .group_by(failures_t.c.subject)
    ).all()
    session.rollback()  # end the read transaction; nothing to keep locked
    wait = 0.0
    for subject, count, latest in rows:
        if (limit := limits.get(subject)) is not None:
            wait = max(wait, limit.wait(count, latest, now))
    return math.ceil(wait)


def record_failure(session: Session, username: str, address: str | None) -> None:
    now = utcnow()
    limits = subjects(username, address)
    session.execute(insert(failures_t), [{"subject": s, "failed_at": now} for s in limits])
    # Keep the table small: rows older than every window count for nothing.
    oldest = now - max(limit.window for limit in limits.values())
    session.execute(delete(failures_t).where(failures_t.c.failed_at < oldest))
    session.commit()


def record_success(session: Session, username: str) -> None:
    user_subject = next(iter(subjects(username, None)))
    session.execute(delete(failures_t).where(failures_t.c.subject == user_subject))
    session.commit()
