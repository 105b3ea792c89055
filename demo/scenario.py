"""The demo company: its teams, features, models, provider projects and the story of the month.

Everything the generator needs to know that is not random lives here, so a reader can see the
whole scenario (and what the mart should find in it) in one place.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

OPENAI = "openai"
ANTHROPIC = "anthropic"
# Claude on AWS Bedrock, invoiced by AWS (its FOCUS export), not by Anthropic.
BEDROCK = "aws.bedrock"

GPT_4O = "gpt-4o-2024-08-06"
GPT_4O_MINI = "gpt-4o-mini-2024-07-18"
EMBEDDING = "text-embedding-3-small"
SONNET = "claude-sonnet-4-20250514"
HAIKU = "claude-3-5-haiku-20241022"
BEDROCK_SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
PROVIDER_OF = {
    GPT_4O: OPENAI,
    GPT_4O_MINI: OPENAI,
    EMBEDDING: OPENAI,
    SONNET: ANTHROPIC,
    HAIKU: ANTHROPIC,
    BEDROCK_SONNET: BEDROCK,
}
# Providers whose Claude models read and write the prompt cache.
CLAUDE_PROVIDERS = (ANTHROPIC, BEDROCK)


@dataclass(frozen=True)
class Feature:
    name: str
    workspace: str
    share: float  # of the day's requests
    operation: str
    models: dict[str, float]  # model -> share of the feature's requests
    input_median: int
    output_median: int
    duration_ms_median: float
    outcome: str | None  # resolution, thumbs, eval or None
    outcome_coverage: float  # share of requests that get an outcome
    success: dict[str, float]  # model -> probability a request succeeds
    prompt_version: str | None
    input_sigma: float = 0.4
    output_sigma: float = 0.35
    flat_traffic: bool = False  # background jobs that ignore office hours
    # The tier that serves the feature's calls: its telemetry reports it (`service_tier`) and the
    # provider bills it at that tier's rates (demo/rates.csv).
    service_tier: str = "standard"


FEATURES: tuple[Feature, ...] = (
    Feature(
        "ticket-triage",
        "support",
        0.24,
        "chat",
        # gpt-4o until the model switch (MODEL_SWITCH_*), gpt-4o-mini after.
        {GPT_4O_MINI: 0.85, HAIKU: 0.15},
        2200,
        150,
        700,
        "resolution",
        0.95,
        {GPT_4O_MINI: 0.86, HAIKU: 0.87, GPT_4O: 0.87},
        "v7",
    ),
    Feature(
        "reply-drafting",
        "support",
        0.16,
        "chat",
        {SONNET: 0.6, GPT_4O: 0.4},
        4800,
        520,
        4200,
        "resolution",
        0.95,
        {SONNET: 0.83, GPT_4O: 0.82},
        "v1",
    ),
    Feature(
        "onboarding-emails",
        "growth",
        0.10,
        "chat",
        {GPT_4O: 0.65, GPT_4O_MINI: 0.35},
        1400,
        650,
        3500,
        "thumbs",
        0.9,
        {GPT_4O: 0.76, GPT_4O_MINI: 0.75},
        "v3",
        # Onboarding emails are not urgent: they go through OpenAI's Batch API.
        service_tier="batch",
    ),
    Feature(
        "search-rerank",
        "growth",
        0.22,
        "chat",
        {GPT_4O_MINI: 1.0},
        3600,
        40,
        600,
        "thumbs",
        0.9,
        {GPT_4O_MINI: 0.9},
        "v12",
        input_sigma=0.25,
    ),
    Feature(
        "code-review-agent",
        "platform",
        0.09,
        "chat",
        {SONNET: 1.0},
        14000,
        1000,
        9000,
        "thumbs",
        0.9,
        {SONNET: 0.7},
        "v4",
        input_sigma=0.3,
        output_sigma=0.3,
    ),
    Feature(
        "doc-embeddings",
        "platform",
        0.12,
        "embeddings",
        {EMBEDDING: 1.0},
        900,
        0,
        120,
        None,
        0.0,
        {EMBEDDING: 1.0},
        None,
        input_sigma=0.6,
        flat_traffic=True,
    ),
    Feature(
        "eval-harness",
        "research",
        0.06,
        "chat",
        # research runs its Claude evals on AWS Bedrock, in its own AWS account.
        {GPT_4O: 0.5, BEDROCK_SONNET: 0.5},
        2600,
        450,
        3000,
        "eval",
        1.0,
        {GPT_4O: 0.8, BEDROCK_SONNET: 0.84},
        "v2",
    ),
)
WORKSPACES = ("support", "growth", "platform", "research")

# Provider-side ids as the admin APIs show them; workspaces.csv maps them to costline workspaces.
PROJECT_IDS: dict[tuple[str, str], str] = {
    (OPENAI, "support"): "proj_Kx3mP9qRt2VbN7wLs4Hd8FjA",
    (OPENAI, "growth"): "proj_Gr8wT5nYc1ZeQ6vMb3Xk9LpD",
    (OPENAI, "platform"): "proj_Pl4tF0rMa7SuH2jWq8Ny5RcE",
    (OPENAI, "research"): "proj_Rs9eA1rCh6TgB4kVz2Mx7QwF",
    (ANTHROPIC, "support"): "wrkspc_01JH8QK2M4N6P8R0T2V4X6Z8",
    (ANTHROPIC, "platform"): "wrkspc_01JH8QK9B1D3F5H7K9M1P3R5",
    (BEDROCK, "research"): "210987654321",  # the AWS account (FOCUS SubAccountId)
}
# Growth's analysts call the API from notebooks under their own project and send no telemetry:
# billed spend that can only be attributed through workspaces.csv.
UNTRACKED_PROJECT = (OPENAI, "proj_Nb2kD7sGh4LwE9aXr1Tc6YmJ", "growth", GPT_4O)

# What the bills know and telemetry does not, each measured by billing_gap_explained:
# - this feature's service runs an older SDK whose tracing reports the total input tokens but
#   not the prompt-cache breakdown, so the estimate prices its cache reads and writes as plain
#   input while the provider bills them at the cache rates (its usage report counts them);
CACHE_BREAKDOWN_UNREPORTED_FEATURE = "reply-drafting"
# - a timeout on the provider APIs is a request the provider kept serving after the client gave
#   up: billed (and in the usage report) with the request's tokens, while telemetry records an
#   error call with none;
BILLED_ERROR_TYPE = "timeout"
TIMEOUT_BILLED_PROVIDERS = (OPENAI, ANTHROPIC)
# - a promotional credit on the OpenAI invoice, org-level (no project), a week before the
#   window's last day: larger than that day's spend at the demo's default size.
PROMOTIONAL_CREDIT = (OPENAI, "Promotional credit", Decimal("-25.000000"))
PROMOTIONAL_CREDIT_DAYS_BEFORE_END = 7
# Workspaces whose services sometimes omit project_id, so the warehouse must fall back to the
# workspace's only id in workspaces.csv (never a workspace with two ids for one provider).
PROJECT_ID_OPTIONAL = ("support", "platform")
# research's eval runner writes only non-default fields; growth's service logs New York time.
SPARSE_WRITER_WORKSPACE = "research"
LOCAL_TIME_WORKSPACE, LOCAL_UTC_OFFSET_HOURS = "growth", -5

RETRY_PROBABILITY = 0.02  # first attempt fails (rate_limit/timeout) and is retried
THIRD_ATTEMPT_PROBABILITY = 0.15  # of retried requests, the second attempt fails too
HARD_FAILURE_PROBABILITY = 0.005  # single attempt that fails for good (500, invalid_request)
STAGING_SHARE = 0.03
LATE_CUTOFF = time(23, 50)  # records after this are written after midnight: next folder
MALFORMED_SHARE = 0.001
# Weekly shape (Monday first) and the office-hours curve over UTC hours: Europe's morning and
# the US's, overlapping in the early UTC afternoon.
WEEKDAY_FACTORS = (1.06, 1.10, 1.08, 1.05, 0.96, 0.42, 0.33)

PROMPT_CHANGE_FEATURE = "reply-drafting"
PROMPT_CHANGE_TOKEN_FACTOR = 1.4  # v2 adds the ticket thread and a tone guide to every prompt
PROMPT_CHANGE_SUCCESS_DELTA = -0.01
# Triage ran on gpt-4o and moved to gpt-4o-mini at midnight of the switch day: the realised
# saving the mart measures (realised_savings).
MODEL_SWITCH_FEATURE, MODEL_SWITCH_FROM, MODEL_SWITCH_TO = "ticket-triage", GPT_4O, GPT_4O_MINI
# What an outcome is worth: a resolved triage ticket saves an agent's minutes; some onboarding
# emails convert, and billing sends the revenue as an outcome of the email's request.
TRIAGE_RESOLUTION_VALUE_USD = "0.50"
REVENUE_FEATURE, REVENUE_SHARE, REVENUE_RANGE_USD = "onboarding-emails", 0.01, (10, 90)
SPIKE_WORKSPACE, SPIKE_FEATURE, SPIKE_MODEL = "platform", "code-review-agent", SONNET
SPIKE_HOURS = (14, 15, 16)
EXHAUSTED_WORKSPACE = "growth"
BUDGET_HEADROOM = {"support": 1.5, "growth": 1.6, "platform": 1.25, "research": 2.0}


@dataclass(frozen=True)
class Timeline:
    """Where the scenario's events fall for a window of `days` ending on `end`."""

    start: date
    end: date
    prompt_change_at: datetime  # naive UTC
    model_switch_at: datetime  # naive UTC, midnight
    spike_day: date
    otlp_day: date
    parquet_day: date
    gzip_day: date
    resend_day: date  # a file re-sent whole into the same folder
    overlap_day: date  # part of a file re-sent into the next day's folder
    late_upload_day: date  # one file of this day lands two folders later
    budget_month: str  # YYYY-MM of the month-specific budget row
    budget_exhausted_by: date  # the exhausted workspace's spend reaches its budget by then

    @classmethod
    def for_window(cls, end: date, days: int) -> Timeline:
        if days < 1:
            raise ValueError(f"days must be >= 1, got {days}")
        start = end - timedelta(days=days - 1)

        def day(index: int) -> date:
            # Scenario days are pinned for the 30-day demo and squeezed into shorter windows.
            return start + timedelta(days=min(index, days - 1))

        prompt_day = day(11 if days >= 14 else days // 2)
        month, exhausted_by = _budget_month(start, end)
        return cls(
            start=start,
            end=end,
            prompt_change_at=datetime.combine(prompt_day, time(10, 0)),
            model_switch_at=datetime.combine(day(13 if days >= 14 else days // 2), time(0, 0)),
            spike_day=day(19 if days >= 21 else days - 1),
            otlp_day=day(3),
            parquet_day=day(6),
            gzip_day=day(9),
            resend_day=day(4),
            overlap_day=day(14),
            late_upload_day=day(8),
            budget_month=month,
            budget_exhausted_by=exhausted_by,
        )

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def _budget_month(start: date, end: date) -> tuple[str, date]:
    """The month whose budget runs out, and the day (before the 20th) its spend reaches it.

    The latest month in the window with at least five days up to the 15th (the budget then
    runs out on the last of them); in short windows, the month with the most days before the 20th.
    """
    best: tuple[int, str, date] | None = None
    month_start = end.replace(day=1)
    while month_start >= start.replace(day=1):
        last_day = month_start.replace(day=calendar.monthrange(month_start.year, month_start.month)[1])
        first, last = max(month_start, start), min(last_day, end)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        early = [d for d in days if d.day <= 15]
        if len(early) >= 5:
            return month_start.strftime("%Y-%m"), early[-1]
        before_20 = [d for d in days if d.day < 20]
        if before_20 and (best is None or len(before_20) > best[0]):
            best = (len(before_20), month_start.strftime("%Y-%m"), before_20[-1])
        month_start = (month_start - timedelta(days=1)).replace(day=1)
    if best is not None:
        return best[1], best[2]
    return end.strftime("%Y-%m"), end
