"""The one partitions definition, and pure helpers that turn partition keys into day windows."""

from datetime import date, datetime, timedelta

import dagster as dg

# Daily UTC partitions. The first day is far enough back for a year of history plus slack;
# a partition without input folders is simply empty work. `end_offset=1` makes today a
# partition too: a run of today publishes what has arrived so far, marked partial.
PARTITIONS_START = "2024-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC", end_offset=1)

# Tags that make one run cover a range of partitions (a single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def window_days(window: dg.TimeWindow) -> list[date]:
    """The UTC days of a partition time window (its end is exclusive)."""
    start = _as_date(window.start)
    last = _as_date(window.end - timedelta(microseconds=1))
    return days_between(start, last)


def range_tags(start: date, end: date) -> dict[str, str]:
    """Run tags for one run over [start, end]."""
    return {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}


def _as_date(value: datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
