"""One saved or fetched response page -> located cost/usage lines and per-record problems.

The same parser reads pages fresh from the API and saved pages from disk, so file-drop mode
and API mode cannot disagree. A page that is not a page (not JSON, no `data` list) raises
`PageFormatError`; a bad bucket or result inside a good page becomes a `Problem` (quarantined
by the loader) and the rest of the page still loads.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, time, timedelta
from decimal import Decimal

from ingestion.billing.anthropic import ANTHROPIC
from ingestion.billing.openai import OPENAI
from ingestion.billing.provider import Endpoint, Provider
from ingestion.billing.records import Located, RecordError

PROVIDERS: dict[str, Provider] = {p.name: p for p in (OPENAI, ANTHROPIC)}


class PageFormatError(ValueError):
    """The body is not a page of the documented shape; the message says how it differs."""


class InvalidJson(PageFormatError):
    """Not JSON at all: usually a body cut off in transit, so worth fetching again."""


@dataclass(frozen=True)
class Problem:
    record_key: str  # where in the page, and which bucket
    reason: str


@dataclass
class ParsedPage:
    endpoint: Endpoint
    lines: list[Located] = field(default_factory=list)
    # Bucket days the page states, including days whose bucket has no results (billed zero).
    days: set[date] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    has_more: bool = False
    next_page: str | None = None


def decode(body: bytes) -> dict:
    """JSON with every non-integer number as Decimal, so money never touches float."""
    try:
        page = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"not valid JSON ({exc}); the body is {len(body)} bytes, truncated or not JSON") from None
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise PageFormatError("JSON without a 'data' list: not a billing page (an error body or a proxy page?)")
    return page


def parse_page(provider: Provider, endpoint: Endpoint, body: bytes) -> ParsedPage:
    page = decode(body)
    parsed = ParsedPage(endpoint=endpoint, has_more=page.get("has_more") is True)
    next_page = page.get("next_page")
    parsed.next_page = next_page if isinstance(next_page, str) and next_page else None
    for b, bucket in enumerate(page["data"]):
        where = f"data[{b}]"
        if not isinstance(bucket, dict):
            parsed.problems.append(Problem(where, f"bucket is {type(bucket).__name__}, expected an object"))
            continue
        try:
            day = _bucket_day(provider, bucket)
        except RecordError as exc:
            parsed.problems.append(Problem(where, f"{exc}; re-fetch with bucket_width=1d"))
            continue
        results = bucket.get("results")
        if not isinstance(results, list):
            parsed.problems.append(Problem(f"{where} bucket {day}", f"results is {results!r}, expected a list"))
            continue
        parsed.days.add(day)
        for r, result in enumerate(results):
            position = f"{where}.results[{r}]"
            try:
                if not isinstance(result, dict):
                    raise RecordError(f"result is {type(result).__name__}, expected an object")
                parsed.lines.append(Located(day, endpoint.parse_result(result), position))
            except RecordError as exc:
                parsed.problems.append(Problem(f"{position} bucket {day}", str(exc)))
    return parsed


def _bucket_day(provider: Provider, bucket: dict) -> date:
    start, end = (t.astimezone(UTC) for t in provider.bucket_bounds(bucket))
    if start.time() != time(0) or end - start != timedelta(days=1):
        raise RecordError(f"bucket {start.isoformat()}..{end.isoformat()} is not one UTC day")
    return start.date()
