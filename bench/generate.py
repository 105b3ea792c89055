"""Large, realistic telemetry written by DuckDB itself (no per-row Python), for benchmarks.

Calls spread over workspaces, features and models of both providers, a diurnal curve, ~3%
retries, outcomes on ~80% of requests and cache tokens on Anthropic calls.
"""

from datetime import date
from pathlib import Path

import duckdb

WORKSPACES = ["support", "growth", "platform", "research", "finance"]
FEATURES = [
    "ticket-triage",
    "reply-drafting",
    "onboarding-emails",
    "search-rerank",
    "code-review-agent",
    "doc-embeddings",
    "invoice-extraction",
    "sales-notes",
]
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-20250514"),
    ("anthropic", "claude-3-5-haiku-20241022"),
]


def _calls_sql(day: date, calls: int, seed: int) -> str:
    workspaces = "[" + ",".join(f"'{w}'" for w in WORKSPACES) + "]"
    features = "[" + ",".join(f"'{f}'" for f in FEATURES) + "]"
    providers = "[" + ",".join(f"'{p}'" for p, _ in MODELS) + "]"
    models = "[" + ",".join(f"'{m}'" for _, m in MODELS) + "]"
    return f"""
    with base as (
        select i,
               hash(i, {seed}) as h,
               -- a diurnal curve: more calls in UTC business hours
               (greatest(0, least(86399999, cast(43200000 + 14400000 * (
                    (hash(i, {seed}, 1) % 1000) / 1000.0 + (hash(i, {seed}, 2) % 1000) / 1000.0
                    + (hash(i, {seed}, 3) % 1000) / 1000.0 - 1.5) * 2 as bigint)))) as ms
        from range({calls}) t(i)
    ), shaped as (
        select i, h, ms,
               cast((h % {len(MODELS)}) + 1 as bigint) as m,
               cast(((h // 7) % {len(WORKSPACES)}) + 1 as bigint) as w,
               cast(((h // 11) % {len(FEATURES)}) + 1 as bigint) as f,
               (h // 13) % 100 < 3 as is_retry,
               100 + (h // 17) % 3000 as input_tokens,
               20 + (h // 19) % 800 as output_tokens
        from base
    )
    select 'call-{day:%Y%m%d}-' || i as call_id,
           'req-{day:%Y%m%d}-' || (case when is_retry and i > 0 then i - 1 else i end) as request_id,
           case when is_retry and i > 0 then 2 else 1 end as attempt,
           strftime(timestamp '{day}' + to_milliseconds(ms), '%Y-%m-%dT%H:%M:%S.%gZ') as started_at,
           cast(200 + (h // 23) % 5000 as double) as duration_ms,
           {providers}[m] as provider,
           {models}[m] as model,
           input_tokens,
           output_tokens,
           case when {providers}[m] = 'anthropic' then input_tokens // 3 else input_tokens // 5 end
               as cache_read_input_tokens,
           case when {providers}[m] = 'anthropic' then input_tokens // 10 else 0 end as cache_creation_input_tokens,
           case when (h // 29) % 100 < 2 then 'error' else 'ok' end as status,
           {workspaces}[w] as workspace,
           {features}[f] as feature,
           'v' || (1 + (h // 31) % 2) as prompt_version,
           case when {providers}[m] = 'openai' then 'proj_' else 'wrkspc_' end || {workspaces}[w] as project_id
    from shaped
    """


def write_calls(path: Path, day: date, calls: int, fmt: str = "jsonl", seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = "(format json)" if fmt == "jsonl" else "(format parquet)"
    with duckdb.connect() as con:
        con.execute(f"copy ({_calls_sql(day, calls, seed)}) to '{path}' {options}")
    return path


def write_outcomes(path: Path, day: date, calls: int, seed: int = 1) -> Path:
    """Thumbs on ~80% of the day's requests, recorded an hour after the day's noon."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"""copy (
            select 'req-{day:%Y%m%d}-' || i as request_id,
                   '{day}T23:00:00Z' as recorded_at,
                   'thumbs' as kind,
                   case when hash(i, {seed}, 9) % 100 < 85 then 'up' else 'down' end as value
            from range({calls}) t(i) where hash(i, {seed}, 8) % 100 < 80
        ) to '{path}' (format json)""")
    return path


def write_day(input_dir: Path, day: date, calls: int, fmt: str = "jsonl", seed: int = 1) -> None:
    suffix = "jsonl" if fmt == "jsonl" else "parquet"
    write_calls(input_dir / "telemetry" / day.isoformat() / f"calls.{suffix}", day, calls, fmt, seed)
    write_outcomes(input_dir / "outcomes" / day.isoformat() / "outcomes.jsonl", day, calls, seed)


def write_hour(input_dir: Path, day: date, hour: int, calls_per_day: int, seed: int = 1) -> Path:
    """The calls of one UTC hour of a generated day, as the hourly drop `calls-HH.jsonl`."""
    path = input_dir / "telemetry" / day.isoformat() / f"calls-{hour:02d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from ({_calls_sql(day, calls_per_day, seed)}) "
            f"where substr(started_at, 12, 2) = '{hour:02d}') to '{path}' (format json)"
        )
    return path
