"""What time it is for costline: the one clock every rule about "today" reads.

`COSTLINE_NOW` (an ISO timestamp, UTC when it has no offset) makes a run behave as if it
started at that moment: for replaying a day hour by hour and for tests. Unset, the system
clock. The UTC day that contains "now" is the open day: it has not ended, so whatever a run
publishes about it is partial.
"""

import os
from datetime import UTC, date, datetime, timedelta

NOW_ENV = "COSTLINE_NOW"


class BadClock(ValueError):
    pass


def utc_now(environ=os.environ) -> datetime:
    raw = environ.get(NOW_ENV, "").strip()
    if not raw:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadClock(
            f"{NOW_ENV}={raw!r} is not a timestamp like 2026-10-31T10:05:00Z; unset it to use the clock"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def open_day(now: datetime | None = None) -> date:
    """The UTC day that has not ended yet."""
    return (now or utc_now()).date()


def open_hour(now: datetime | None = None) -> datetime:
    """The start of the UTC hour that has not ended yet (naive UTC, as the warehouse stores)."""
    current = now or utc_now()
    return current.replace(minute=0, second=0, microsecond=0, tzinfo=None)


def last_closed_hour(now: datetime | None = None) -> datetime:
    """The start of the hour that ended most recently: what an hourly run judges."""
    return open_hour(now) - timedelta(hours=1)
