"""Demo provider bills: saved API pages, shaped as OpenAI and Anthropic return them.

From the demo's daily usage (per day, provider, scope, model, service tier) this writes what the daily job
would have saved the morning after each day, under `billing/<provider>/<day + 1>/`:

- costs at the rate card for what the provider served (the true cache breakdown, timeouts
  served to the end: demo/usage.py), a fraction of a percent above it (`markup`, rounding and
  the like), and an org-level promotional credit (`credits`);
- scopes that appear on the bill but in no telemetry (`unbilled_scopes`: billed spend nobody
  instrumented), which attribution sends to `(unattributed)` or workspace `unattributed`;
- one restated day: a preliminary cost page saved the next morning and a corrected page for
  the same bucket saved two days later, so the loader's "latest page wins" rule is exercised;
- some fetches that span two buckets and come back as two pages joined by has_more/next_page.

Amounts are exact: each (day, scope, model, tier) is billed `round(list x markup, 6)` split over its
line items with the remainder on the last one, so the pages sum to the cent to what tests
compute from the same usage.
"""

import base64
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from functools import partial
from pathlib import Path
from typing import Protocol

MICRO = Decimal("0.000001")
BILLED_PROVIDERS = ("openai", "anthropic")
# What the bill adds to the rate card beyond the causes the demo models (cache tokens telemetry
# does not report, billed timeouts, credits, billed scopes without telemetry): rounding and the
# like, a fraction of a percent. billing_gap_explained leaves it as its residual.
DEFAULT_MARKUP = Decimal("1.004")
# Relative cost of a token kind, used only to split a billed amount over line items.
_LINE_WEIGHTS = {
    "input": Decimal("1"),
    "cache_read": Decimal("0.1"),
    "cache_write": Decimal("1.25"),
    "output": Decimal("4"),
}
_OPENAI_LINES = {"input": "input", "cache_read": "cached input", "cache_write": "cache write input", "output": "output"}
_ANTHROPIC_LINES = {
    "input": ("Input Tokens", "uncached_input_tokens"),
    "cache_read": ("Input Tokens, Cache Read", "cache_read_input_tokens"),
    "cache_write": ("Input Tokens, Cache Write", "cache_creation.ephemeral_5m_input_tokens"),
    "output": ("Output Tokens", "output_tokens"),
}
# A preliminary page states this share of the final amount (the correction adds the rest).
_PRELIMINARY_SHARE = Decimal("0.94")


class DailyUsage(Protocol):
    """One day of telemetry spend for a provider scope and model (see demo/inputs.py)."""

    day: date
    provider: str
    scope_id: str | None
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    list_cost_usd: Decimal


@dataclass(frozen=True)
class BilledScope:
    """A scope on the bill with no telemetry: a typical day of its spend and tokens."""

    provider: str
    scope_id: str | None
    model: str
    daily_usd: Decimal
    requests: int
    input_tokens: int
    output_tokens: int


# A workspace on the bill that workspaces.csv does not know (-> workspace "unattributed"),
# small next to the metered spend. The demo's mapped-but-untracked project comes with the
# generator's usage (demo/usage.py), so it is not repeated here.
DEFAULT_UNBILLED_SCOPES: tuple[BilledScope, ...] = (
    BilledScope(
        "anthropic",
        "wrkspc_01UnmappedResearchLab",
        "claude-3-5-haiku-20241022",
        Decimal("0.310000"),
        80,
        170_000,
        28_000,
    ),
)
_AUTO = object()


@dataclass
class BillLine:
    """Tokens and billed dollars of one (day, provider, scope, model)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    list_usd: Decimal = Decimal(0)
    billed_usd: Decimal | None = None  # set directly for scopes without telemetry


def write_demo_billing_pages(
    billing_dir: Path,
    usage: Iterable[DailyUsage],
    *,
    markup: Decimal | Mapping[str, Decimal] = DEFAULT_MARKUP,
    unbilled_scopes: Sequence[BilledScope] = DEFAULT_UNBILLED_SCOPES,
    restated_day: "date | None | object" = _AUTO,
    credits: Sequence[tuple[date, str, str, Decimal]] = (),
) -> int:
    """Write saved pages for every day of `usage`; returns the number of page files written.

    `markup` is billed / list, one factor or one per provider (e.g. `{"openai": Decimal("0.80")}`
    for a negotiated 20% discount; a provider not in the mapping is billed at list).
    `restated_day` defaults to the second day of the range; None writes no restatement.
    Providers other than OpenAI and Anthropic have no billing API here and are ignored.
    `credits` (day, provider, line item, amount) are extra org-level cost lines of OpenAI's
    pages (a promotional credit), in every page that states their day.
    """
    lines: dict[str, dict[date, dict[tuple[str | None, str, str], BillLine]]] = defaultdict(lambda: defaultdict(dict))
    for row in usage:
        if row.provider not in BILLED_PROVIDERS:
            continue
        key = (row.scope_id, row.model, getattr(row, "service_tier", "standard"))
        line = lines[row.provider][row.day].setdefault(key, BillLine())
        line.requests += row.requests
        line.input_tokens += row.input_tokens
        line.output_tokens += row.output_tokens
        line.cache_read += row.cache_read_input_tokens
        line.cache_write += row.cache_creation_input_tokens
        line.list_usd += Decimal(row.list_cost_usd)
    all_days = sorted({day for per_day in lines.values() for day in per_day})
    if not all_days:
        return 0
    days = [all_days[0] + timedelta(days=n) for n in range((all_days[-1] - all_days[0]).days + 1)]
    if restated_day is _AUTO:
        restated_day = days[1] if len(days) > 1 else days[0]

    for provider, per_day in lines.items():
        for scope in unbilled_scopes:
            if scope.provider != provider:
                continue
            for day in days:
                factor = Decimal(90 + (day.toordinal() * 37) % 21) / 100  # 0.90..1.10, steady per day
                per_day[day][(scope.scope_id, scope.model, "standard")] = BillLine(
                    requests=int(scope.requests * factor),
                    input_tokens=int(scope.input_tokens * factor),
                    output_tokens=int(scope.output_tokens * factor),
                    billed_usd=(scope.daily_usd * factor).quantize(MICRO, ROUND_HALF_EVEN),
                )
        provider_markup = markup.get(provider, Decimal(1)) if isinstance(markup, Mapping) else markup
        for line in (line for day_lines in per_day.values() for line in day_lines.values()):
            if line.billed_usd is None:
                line.billed_usd = (line.list_usd * provider_markup).quantize(MICRO, ROUND_HALF_EVEN)

    written = 0
    for provider in sorted(lines):
        per_day = lines[provider]
        # Only OpenAI's pages carry credit lines here (Anthropic's would be cost_report rows).
        day_credits = defaultdict(list)
        for day, credit_provider, item, amount in credits:
            if credit_provider == provider == "openai":
                day_credits[day].append((item, amount))
        write = partial(_write_openai, credits=day_credits) if provider == "openai" else _write_anthropic
        for day in days:
            # Every third day the job re-fetched the day before too, in two pages of one bucket.
            window = [day - timedelta(days=1), day] if day.toordinal() % 3 == 0 and day != days[0] else [day]
            folder = billing_dir / provider / (day + timedelta(days=1)).isoformat()
            preliminary = day == restated_day
            written += write(folder, window, per_day, preliminary=preliminary)
            if preliminary:
                written += write(
                    billing_dir / provider / (day + timedelta(days=3)).isoformat(), [day], per_day, preliminary=False
                )
    return written


# --- page shapes ------------------------------------------------------------------------


def _write_openai(folder: Path, window: list[date], per_day, *, preliminary: bool, credits: dict | None = None) -> int:
    def costs(day: date) -> list[dict]:
        return [
            {
                "object": "organization.costs.result",
                "amount": {"value": amount, "currency": "usd"},
                # A Batch API line is its own line item ("gpt-4o-2024-08-06, batch input").
                "line_item": f"{model}, {'batch ' if tier == 'batch' else ''}{_OPENAI_LINES[kind]}",
                "project_id": scope,
            }
            for (scope, model, tier), line in sorted(per_day.get(day, {}).items(), key=_scope_order)
            for kind, amount in split_billed(line, preliminary and day == window[-1])
        ] + [
            {
                "object": "organization.costs.result",
                "amount": {"value": amount, "currency": "usd"},
                "line_item": item,
                "project_id": None,
            }
            for item, amount in (credits or {}).get(day, [])
        ]

    def usage(day: date) -> list[dict]:
        results = []
        for (scope, model, tier), line in sorted(per_day.get(day, {}).items(), key=_scope_order):
            result = {
                "object": "organization.usage.completions.result",
                "input_tokens": line.input_tokens,
                "output_tokens": line.output_tokens,
                "input_cached_tokens": line.cache_read,
                "input_audio_tokens": 0,
                "output_audio_tokens": 0,
                "num_model_requests": line.requests,
                "project_id": scope,
                "user_id": None,
                "api_key_id": _api_key_id(scope),
                "model": model,
                "batch": tier == "batch",
                "service_tier": "default",
            }
            if line.cache_write:
                result["input_cache_write_tokens"] = line.cache_write
            results.append(result)
        return results

    def bucket(day: date, results: list[dict]) -> dict:
        return {
            "object": "bucket",
            "start_time": _unix(day),
            "end_time": _unix(day + timedelta(days=1)),
            "results": results,
        }

    def envelope(buckets: list[dict], has_more: bool, cursor: str | None) -> dict:
        return {"object": "page", "data": buckets, "has_more": has_more, "next_page": cursor}

    return _write_chain(folder, "costs", window, costs, bucket, envelope) + _write_chain(
        folder, "usage_completions", window, usage, bucket, envelope
    )


def _write_anthropic(folder: Path, window: list[date], per_day, *, preliminary: bool) -> int:
    def costs(day: date) -> list[dict]:
        return [
            {
                "currency": "USD",
                "amount": _cents(amount),
                "workspace_id": scope,
                "description": f"{model} Usage - {_ANTHROPIC_LINES[kind][0]}",
                "cost_type": "tokens",
                "context_window": "0-200k",
                "model": model,
                "service_tier": "standard",
                "token_type": _ANTHROPIC_LINES[kind][1],
            }
            for (scope, model, _tier), line in sorted(per_day.get(day, {}).items(), key=_scope_order)
            for kind, amount in split_billed(line, preliminary and day == window[-1])
        ]

    def usage(day: date) -> list[dict]:
        return [
            {
                "uncached_input_tokens": line.input_tokens - line.cache_read - line.cache_write,
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": line.cache_write},
                "cache_read_input_tokens": line.cache_read,
                "output_tokens": line.output_tokens,
                "server_tool_use": {"web_search_requests": 0},
                "api_key_id": None,
                "workspace_id": scope,
                "model": model,
                "service_tier": "standard",
                "context_window": "0-200k",
                "inference_geo": "not_available",
            }
            for (scope, model, _tier), line in sorted(per_day.get(day, {}).items(), key=_scope_order)
        ]

    def bucket(day: date, results: list[dict]) -> dict:
        return {"starting_at": _rfc3339(day), "ending_at": _rfc3339(day + timedelta(days=1)), "results": results}

    def envelope(buckets: list[dict], has_more: bool, cursor: str | None) -> dict:
        return {"data": buckets, "has_more": has_more, "next_page": cursor}

    return _write_chain(folder, "cost_report", window, costs, bucket, envelope) + _write_chain(
        folder, "usage_report_messages", window, usage, bucket, envelope
    )


def _write_chain(folder: Path, endpoint: str, window: list[date], results, bucket, envelope) -> int:
    """One fetch of `window`, one bucket per page (limit=1), as the job would have saved it."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, day in enumerate(window, start=1):
        last = n == len(window)
        cursor = None if last else "page_" + base64.b64encode(_rfc3339(window[n]).encode()).decode()
        page = envelope([bucket(day, results(day))], not last, cursor)
        (folder / f"{endpoint}-{window[0].isoformat()}-{n}.json").write_bytes(to_json_bytes(page))
    return len(window)


def split_billed(line: BillLine, preliminary: bool) -> list[tuple[str, Decimal]]:
    """The billed amount over its token kinds by weight; the last kind takes the remainder."""
    total = line.billed_usd if not preliminary else (line.billed_usd * _PRELIMINARY_SHARE).quantize(MICRO)
    counts = {
        "input": line.input_tokens - line.cache_read - line.cache_write,
        "cache_read": line.cache_read,
        "cache_write": line.cache_write,
        "output": line.output_tokens,
    }
    kinds = [kind for kind, count in counts.items() if count > 0] or ["input"]
    weights = {kind: _LINE_WEIGHTS[kind] * max(counts[kind], 1) for kind in kinds}
    whole = sum(weights.values())
    parts = [(kind, (total * weights[kind] / whole).quantize(MICRO, ROUND_DOWN)) for kind in kinds[:-1]]
    parts.append((kinds[-1], total - sum((amount for _, amount in parts), Decimal(0))))
    return parts


def _scope_order(item) -> tuple:
    (scope, model, tier), _ = item
    return (scope or "", model, tier)


def _api_key_id(scope: str | None) -> str:
    return "key_" + hashlib.sha256(f"demo:{scope}".encode()).hexdigest()[:16]


def _cents(dollars: Decimal) -> str:
    return format((dollars * 100).normalize(), "f")


def _unix(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


_DECIMAL_TOKEN = re.compile(r'"@@decimal:([-+0-9.eE]+)@@"')


def to_json_bytes(page: dict) -> bytes:
    """Pretty JSON in which Decimal values are written as JSON numbers with their exact digits."""

    def tag(value):
        if isinstance(value, Decimal):
            return f"@@decimal:{value}@@"
        if isinstance(value, dict):
            return {k: tag(v) for k, v in value.items()}
        if isinstance(value, list):
            return [tag(v) for v in value]
        return value

    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(tag(page), indent=2)).encode() + b"\n"
