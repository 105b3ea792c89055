"""Realistic demo inputs: a month of a small company's LLM traffic, with the problems costline finds.

`generate_demo_inputs` writes an input directory exactly per docs/CONTRACT.md section 1 (telemetry,
outcomes, deployments.csv, budgets.csv, workspaces.csv) and returns what the providers would
bill for it (`DemoSummary.usage`, priced at genai-prices list prices with the warehouse's rule),
from which the billing module saves provider API pages. Deterministic for a seed: the same
arguments give byte-identical files.

The story (all dates relative to the window; see `demo/scenario.py`):
- four workspaces (support, growth, platform, research), seven features, OpenAI and Anthropic
  models, and Claude on AWS Bedrock for research's evals (billed by AWS's FOCUS export,
  `demo/focus_exports.py`), cache reads and writes on Claude calls (and OpenAI's automatic cache reads), office-
  hours traffic peaking in the UTC afternoon and quiet weekends;
- ~2% of requests retried after a rate limit or timeout (some twice), ~0.5% failing for good;
- day 12, 10:00 UTC: reply-drafting ships prompt v2 (a deployments.csv row), +40% tokens per
  request, no success gain;
- day 20, 14:00-17:00 UTC: platform's code-review-agent loops, re-sending a growing transcript
  dozens of times per request (an hourly cost spike and a retry-rate spike);
- growth has a month-specific budget below what it spends by mid-month (exceeded before day 20),
  and an OpenAI project that bills spend but sends no telemetry;
- the mess of real file drops: records near midnight and a late upload in later folders, re-sent
  files (duplicate call_ids), ~0.1% malformed lines, prompt content that must be dropped, one
  day gzip-compressed, one day as Parquet, one OTLP/JSON export.

numpy draws everything column-wise; the only per-record Python is JSON serialisation.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from demo import calls as demo_calls
from demo import outcomes as demo_outcomes
from demo import reference_files
from demo import scenario as sc
from demo.telemetry_files import write_telemetry
from demo.usage import DailyUsage, daily_usage, untracked_project_usage

__all__ = ["DailyUsage", "DemoSummary", "generate_demo_inputs"]

_OWNED = ("telemetry", "outcomes", "billing", "deployments.csv", "budgets.csv", "workspaces.csv")


@dataclass(frozen=True)
class DemoSummary:
    start: date
    end: date
    calls: int  # distinct valid call records written (what the warehouse should accept)
    requests: int  # distinct logical requests among them
    files: int  # telemetry, outcome and reference files written
    usage: tuple[DailyUsage, ...]
    # What the mess in the drop should produce, for pipeline tests and the demo report.
    malformed_telemetry: int = 0
    duplicate_records: int = 0
    outcomes: int = 0
    malformed_outcomes: int = 0
    prompt_change_at: datetime | None = None  # naive UTC
    spike_hours: tuple[datetime, ...] = ()  # naive UTC hour starts
    spike_workspace: str = ""
    exhausted_workspace: str = ""
    budget_month: str = ""
    untracked_scope: str = ""  # billed project with no telemetry
    # (day, provider, line item, amount): credit lines the demo's bills carry (billing_pages.py)
    credits: tuple[tuple[date, str, str, Decimal], ...] = ()
    canaries: tuple[str, ...] = ()  # prompt content written to raw files only


def generate_demo_inputs(
    input_dir: Path, end: date, days: int = 30, calls_per_day: int = 4000, seed: int = 7, *, overwrite: bool = False
) -> DemoSummary:
    """Write demo inputs for the `days` UTC days ending on `end` into `input_dir`.

    Refuses a directory that already holds inputs unless `overwrite`, which first deletes the
    input folders and files a demo writes (telemetry/, outcomes/, billing/ and the three CSVs):
    stale billing pages from an older demo would not reconcile with new telemetry.
    """
    if calls_per_day < 1:
        raise ValueError(f"calls_per_day must be >= 1, got {calls_per_day}")
    input_dir = Path(input_dir)
    _prepare(input_dir, overwrite)
    rng = np.random.default_rng(seed)
    timeline = sc.Timeline.for_window(end, days)

    calls, requests = demo_calls.generate(rng, timeline, calls_per_day)
    window_end = np.datetime64(timeline.end + timedelta(days=1), "ms")
    outcomes = demo_outcomes.generate(rng, requests, window_end)

    drop = write_telemetry(rng, reported_calls(calls), timeline, input_dir / "telemetry")
    outcome_files, malformed_outcomes = demo_outcomes.write_outcomes(outcomes, timeline, input_dir / "outcomes")
    usage = daily_usage(calls, untracked_project_usage(rng, timeline))
    reference = [
        reference_files.write_workspaces(input_dir),
        reference_files.write_deployments(input_dir, timeline),
        reference_files.write_budgets(input_dir, reference_files.budgets(usage, timeline)),
    ]
    spike_day = datetime.combine(timeline.spike_day, datetime.min.time())
    return DemoSummary(
        start=timeline.start,
        end=timeline.end,
        calls=len(calls),
        requests=int(calls["request_id"].nunique()),
        files=len(drop.files) + len(outcome_files) + len(reference),
        usage=usage,
        malformed_telemetry=sum(drop.malformed.values()),
        duplicate_records=drop.duplicates,
        outcomes=len(outcomes),
        malformed_outcomes=malformed_outcomes,
        prompt_change_at=timeline.prompt_change_at,
        spike_hours=tuple(spike_day + timedelta(hours=h) for h in sc.SPIKE_HOURS),
        spike_workspace=sc.SPIKE_WORKSPACE,
        exhausted_workspace=sc.EXHAUSTED_WORKSPACE,
        budget_month=timeline.budget_month,
        untracked_scope=sc.UNTRACKED_PROJECT[1],
        credits=_credits(timeline),
        canaries=tuple(drop.canaries),
    )


def _credits(timeline: sc.Timeline) -> tuple[tuple[date, str, str, Decimal], ...]:
    day = timeline.end - timedelta(days=sc.PROMOTIONAL_CREDIT_DAYS_BEFORE_END)
    if day < timeline.start:
        return ()
    provider, line_item, amount = sc.PROMOTIONAL_CREDIT
    return ((day, provider, line_item, amount),)


def reported_calls(calls: pd.DataFrame) -> pd.DataFrame:
    """The calls as telemetry reports them: one feature's tracing drops the prompt-cache
    breakdown (scenario.CACHE_BREAKDOWN_UNREPORTED_FEATURE; its input total stays whole)."""
    reported = calls.copy()
    unreported = reported["feature"] == sc.CACHE_BREAKDOWN_UNREPORTED_FEATURE
    reported.loc[unreported, ["cache_read_input_tokens", "cache_creation_input_tokens"]] = 0
    return reported


def _prepare(input_dir: Path, overwrite: bool) -> None:
    existing = [input_dir / name for name in _OWNED if (input_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{input_dir} already holds inputs ({', '.join(p.name for p in existing)}); "
            "use an empty directory or overwrite=True"
        )
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    input_dir.mkdir(parents=True, exist_ok=True)
