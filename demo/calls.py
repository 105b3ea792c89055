"""Vectorised generation of the demo's API calls and logical requests (numpy, no per-call loop)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from demo import scenario as sc

_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
_HOURS = np.arange(24)
_OFFICE_CURVE = 0.12 + np.exp(-0.5 * ((_HOURS - 10) / 2.2) ** 2) + 1.2 * np.exp(-0.5 * ((_HOURS - 16) / 2.8) ** 2)
_OFFICE_HOURS = _OFFICE_CURVE / _OFFICE_CURVE.sum()
_FLAT_CURVE = 0.6 + 0.4 * _OFFICE_CURVE / _OFFICE_CURVE.max()
_FLAT_HOURS = _FLAT_CURVE / _FLAT_CURVE.sum()
_MS_PER_HOUR = 3_600_000


def random_ids(rng: np.random.Generator, prefix: str | np.ndarray, n: int, length: int = 24) -> np.ndarray:
    """`n` random base62 ids behind `prefix` (one prefix, or one per id)."""
    if n == 0:
        return np.array([], dtype=object)
    chars = _ALPHABET[rng.integers(0, len(_ALPHABET), size=(n, length))]
    body = chars.view(f"<U{length}").ravel()
    return np.char.add(np.asarray(prefix, dtype=str), body).astype(object)


def generate(rng: np.random.Generator, timeline: sc.Timeline, calls_per_day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All calls (one row per API call attempt) and requests (one row per logical request)."""
    requests = pd.concat(
        [_day_requests(rng, timeline, day, calls_per_day) for day in timeline.days]
        + [_agent_loop_requests(rng, timeline, calls_per_day)],
        ignore_index=True,
    )
    requests["request_id"] = random_ids(rng, "req_", len(requests), 20)
    calls = _expand_attempts(rng, requests)
    requests = _final_attempts(requests, calls)
    calls = calls.sort_values(["started_at", "call_id"], kind="stable", ignore_index=True)
    return calls, requests


def _day_requests(rng: np.random.Generator, timeline: sc.Timeline, day: date, calls_per_day: int) -> pd.DataFrame:
    factor = sc.WEEKDAY_FACTORS[day.weekday()] / np.mean(sc.WEEKDAY_FACTORS)
    expected_calls_per_request = 1 + sc.RETRY_PROBABILITY * (1 + sc.THIRD_ATTEMPT_PROBABILITY)
    n = max(1, int(round(calls_per_day * factor * rng.normal(1.0, 0.04) / expected_calls_per_request)))
    features = sc.FEATURES
    shares = np.array([f.share for f in features])
    fi = rng.choice(len(features), size=n, p=shares / shares.sum())

    model = np.empty(n, dtype=object)
    input_tokens = np.zeros(n, dtype=np.int64)
    output_tokens = np.zeros(n, dtype=np.int64)
    duration = np.zeros(n)
    p_success = np.zeros(n)
    for i, f in enumerate(features):
        mask = fi == i
        k = int(mask.sum())
        names = list(f.models)
        which = rng.choice(len(names), size=k, p=list(f.models.values()))
        model[mask] = np.array(names, dtype=object)[which]
        p_success[mask] = np.array([f.success[name] for name in names])[which]
        input_tokens[mask] = np.maximum(1, np.round(rng.lognormal(np.log(f.input_median), f.input_sigma, k)))
        if f.output_median:
            output_tokens[mask] = np.maximum(1, np.round(rng.lognormal(np.log(f.output_median), f.output_sigma, k)))
        duration[mask] = rng.lognormal(np.log(f.duration_ms_median), 0.45, k)

    flat = np.array([f.flat_traffic for f in features])[fi]
    hour = np.where(flat, rng.choice(24, size=n, p=_FLAT_HOURS), rng.choice(24, size=n, p=_OFFICE_HOURS))
    ms = hour * _MS_PER_HOUR + rng.integers(0, _MS_PER_HOUR, size=n)
    started = np.datetime64(day, "ms") + ms.astype("timedelta64[ms]")

    feature = np.array([f.name for f in features], dtype=object)[fi]
    before_switch = (
        (feature == sc.MODEL_SWITCH_FEATURE)
        & (model == sc.MODEL_SWITCH_TO)
        & (started < np.datetime64(timeline.model_switch_at, "ms"))
    )
    model[before_switch] = sc.MODEL_SWITCH_FROM
    switched_feature = next(f for f in features if f.name == sc.MODEL_SWITCH_FEATURE)
    p_success[before_switch] = switched_feature.success[sc.MODEL_SWITCH_FROM]
    prompt_version = np.array([f.prompt_version for f in features], dtype=object)[fi]
    changed = (feature == sc.PROMPT_CHANGE_FEATURE) & (started >= np.datetime64(timeline.prompt_change_at, "ms"))
    prompt_version[changed] = "v2"
    input_tokens[changed] = np.round(input_tokens[changed] * sc.PROMPT_CHANGE_TOKEN_FACTOR)
    output_tokens[changed] = np.round(output_tokens[changed] * sc.PROMPT_CHANGE_TOKEN_FACTOR)
    p_success[changed] += sc.PROMPT_CHANGE_SUCCESS_DELTA

    workspace = np.array([f.workspace for f in features], dtype=object)[fi]
    u = rng.random(n)
    attempts = 1 + (u < sc.RETRY_PROBABILITY) + (u < sc.RETRY_PROBABILITY * sc.THIRD_ATTEMPT_PROBABILITY)
    hard_failure = (u >= sc.RETRY_PROBABILITY) & (u < sc.RETRY_PROBABILITY + sc.HARD_FAILURE_PROBABILITY)
    return pd.DataFrame(
        {
            "workspace": workspace,
            "feature": feature,
            "model": model,
            "operation": np.array([f.operation for f in features], dtype=object)[fi],
            "service_tier": np.array([f.service_tier for f in features], dtype=object)[fi],
            "started_at": started,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "duration_ms": duration,
            "prompt_version": prompt_version,
            "attempts": attempts.astype(np.int64),
            "hard_failure": hard_failure,
            "success_draw": rng.random(n) < p_success,
            "environment": np.where(rng.random(n) < sc.STAGING_SHARE, "staging", "production").astype(object),
            "user_segment": np.where(
                feature == "doc-embeddings",
                None,
                np.array(["free", "pro", "enterprise"], dtype=object)[rng.choice(3, size=n, p=[0.5, 0.35, 0.15])],
            ),
            "loop": np.zeros(n, dtype=bool),
        }
    )


def _agent_loop_requests(rng: np.random.Generator, timeline: sc.Timeline, calls_per_day: int) -> pd.DataFrame:
    """code-review-agent stuck re-reviewing its own output for three afternoon hours."""
    n = max(8, int(round(calls_per_day / 100)))
    hour = rng.choice(np.array(sc.SPIKE_HOURS), size=n)
    ms = hour * _MS_PER_HOUR + rng.integers(0, 40 * 60_000, size=n)
    started = np.datetime64(timeline.spike_day, "ms") + ms.astype("timedelta64[ms]")
    return pd.DataFrame(
        {
            "workspace": sc.SPIKE_WORKSPACE,
            "feature": sc.SPIKE_FEATURE,
            "model": sc.SPIKE_MODEL,
            "operation": "chat",
            "service_tier": "standard",
            "started_at": started,
            "input_tokens": np.full(n, 20_000, dtype=np.int64),
            "output_tokens": rng.integers(700, 1500, size=n).astype(np.int64),
            "duration_ms": rng.lognormal(np.log(9000), 0.3, n),
            "prompt_version": "v4",
            "attempts": rng.integers(10, 21, size=n).astype(np.int64),
            "hard_failure": False,
            "success_draw": rng.random(n) < 0.25,
            "environment": "production",
            "user_segment": np.array(["pro", "enterprise"], dtype=object)[rng.choice(2, size=n)],
            "loop": np.ones(n, dtype=bool),
        }
    )


def _expand_attempts(rng: np.random.Generator, requests: pd.DataFrame) -> pd.DataFrame:
    attempts = requests["attempts"].to_numpy()
    owner = np.repeat(np.arange(len(requests)), attempts)
    first = np.cumsum(attempts) - attempts
    attempt = np.arange(len(owner)) - first[owner] + 1
    n = len(owner)
    req = requests.iloc[owner].reset_index(drop=True)
    loop = req["loop"].to_numpy()
    final = attempt == attempts[owner]

    # Failed attempts: retries after rate limits and timeouts, or a hard failure that stays failed.
    retried_failure = ~final & ~loop
    hard = final & req["hard_failure"].to_numpy()
    error = retried_failure | hard
    error_type = np.full(n, None, dtype=object)
    error_type[retried_failure] = np.where(rng.random(int(retried_failure.sum())) < 0.65, "rate_limit", "timeout")
    error_type[hard] = np.where(rng.random(int(hard.sum())) < 0.6, "500", "invalid_request")

    input_tokens = req["input_tokens"].to_numpy().copy()
    output_tokens = req["output_tokens"].to_numpy().copy()
    # The stuck agent re-sends a growing transcript on every turn.
    input_tokens[loop] += 2_600 * (attempt[loop] - 1) + rng.integers(0, 1_500, size=int(loop.sum()))
    provider = req["model"].map(sc.PROVIDER_OF).to_numpy()
    # What the provider served: a timeout on the provider APIs ran to the end after the client
    # gave up (scenario.BILLED_ERROR_TYPE); every other failed call served nothing.
    billed_error = (error_type == sc.BILLED_ERROR_TYPE) & np.isin(provider, sc.TIMEOUT_BILLED_PROVIDERS)
    served_input_tokens = np.where(billed_error, input_tokens, 0)
    served_output_tokens = np.where(billed_error, output_tokens, 0)
    input_tokens[error] = 0
    output_tokens[error] = 0
    served_input_tokens = np.where(error, served_input_tokens, input_tokens)
    served_output_tokens = np.where(error, served_output_tokens, output_tokens)

    duration = req["duration_ms"].to_numpy().copy()
    duration[error_type == "rate_limit"] = rng.uniform(20, 200, size=int((error_type == "rate_limit").sum()))
    duration[error_type == "timeout"] = 30_000.0
    duration[error_type == "500"] = rng.uniform(100, 2_000, size=int((error_type == "500").sum()))
    duration[error_type == "invalid_request"] = rng.uniform(50, 300, size=int((error_type == "invalid_request").sum()))
    duration = np.round(duration, 1)

    # Each attempt starts after the previous one ended plus a backoff (or the agent's think time).
    backoff = np.where(loop, rng.uniform(15_000, 45_000, n), rng.uniform(500, 4_000, n) * 2.0 ** (attempt - 1))
    step = duration + backoff
    before = np.cumsum(step) - step
    offset_ms = np.round(before - before[first[owner]]).astype(np.int64)
    started = req["started_at"].to_numpy() + offset_ms.astype("timedelta64[ms]")

    cache_read, cache_creation = _cache_tokens(rng, provider, req["operation"].to_numpy(), input_tokens, loop)
    workspace = req["workspace"].to_numpy()
    project_id = mapped_project_ids(provider, workspace)
    request_drops_project = rng.random(len(requests)) < 0.05
    optional = np.isin(workspace, sc.PROJECT_ID_OPTIONAL) & request_drops_project[owner]
    project_id[optional] = None

    call_prefix = np.where(
        np.isin(provider, sc.CLAUDE_PROVIDERS),
        "msg_",
        np.where(req["operation"].to_numpy() == "embeddings", "emb-", "chatcmpl-"),
    )
    return pd.DataFrame(
        {
            "call_id": random_ids(rng, call_prefix, n, 24),
            "request_id": req["request_id"].to_numpy(),
            "attempt": attempt.astype(np.int64),
            "started_at": started,
            "duration_ms": duration,
            "provider": provider,
            "model": req["model"].to_numpy(),
            "operation": req["operation"].to_numpy(),
            "service_tier": req["service_tier"].to_numpy(),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_creation,
            "status": np.where(error, "error", "ok").astype(object),
            "error_type": error_type,
            "workspace": workspace,
            "feature": req["feature"].to_numpy(),
            "environment": req["environment"].to_numpy(),
            "user_segment": req["user_segment"].to_numpy(),
            "prompt_version": req["prompt_version"].to_numpy(),
            "project_id": project_id,
            "tags": _tags(rng, req["feature"].to_numpy(), len(requests), owner),
            "loop": loop,
            # Not telemetry: what the provider bills (demo/usage.py), beside what was reported.
            "billed_error": billed_error,
            "served_input_tokens": served_input_tokens.astype(np.int64),
            "served_output_tokens": served_output_tokens.astype(np.int64),
        }
    )


def mapped_project_ids(provider: np.ndarray, workspace: np.ndarray) -> np.ndarray:
    """Each (provider, workspace)'s id in workspaces.csv (None where it has none)."""
    ids = pd.DataFrame(
        [(p, w, pid) for (p, w), pid in sc.PROJECT_IDS.items()], columns=["provider", "workspace", "project_id"]
    )
    keys = pd.DataFrame({"provider": provider, "workspace": workspace})
    found = keys.merge(ids, on=["provider", "workspace"], how="left", validate="many_to_one")["project_id"]
    return np.where(found.isna(), None, found.to_numpy(dtype=object))


def _cache_tokens(
    rng: np.random.Generator, provider: np.ndarray, operation: np.ndarray, input_tokens: np.ndarray, loop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(input_tokens)
    read = np.zeros(n, dtype=np.int64)
    write = np.zeros(n, dtype=np.int64)
    u = rng.random(n)
    share = rng.uniform(0.4, 0.85, n)
    anthropic = np.isin(provider, sc.CLAUDE_PROVIDERS) & (input_tokens > 0)
    # Anthropic: most calls read a cached system prompt, some write a fresh cache entry.
    reads = anthropic & (u < 0.7)
    writes = anthropic & (u >= 0.7) & (u < 0.9)
    read[reads] = np.floor(input_tokens[reads] * share[reads])
    write[writes] = np.floor(input_tokens[writes] * rng.uniform(0.1, 0.3, int(writes.sum())))
    # The agent loop re-reads its transcript and caches each new turn.
    read[loop & anthropic] = np.floor(input_tokens[loop & anthropic] * 0.6)
    write[loop & anthropic] = np.minimum(2_600, input_tokens[loop & anthropic] - read[loop & anthropic])
    # OpenAI caches prompts of 1024+ tokens automatically, in 128-token steps.
    openai_cached = (provider == sc.OPENAI) & (operation == "chat") & (input_tokens >= 1024) & (u < 0.45)
    read[openai_cached] = (np.floor(input_tokens[openai_cached] * share[openai_cached] / 128) * 128).astype(np.int64)
    return read, write


_TAG_CHOICES: dict[str, list[dict[str, object]]] = {
    "ticket-triage": [{"channel": "email"}, {"channel": "chat"}, {"channel": "api"}],
    "reply-drafting": [{"channel": "email"}, {"channel": "chat"}],
    "onboarding-emails": [{"campaign": "trial-day-1"}, {"campaign": "trial-day-7"}],
    "eval-harness": [{"suite": "nightly-regression"}, {"suite": "prompt-ab"}],
}


def _tags(rng: np.random.Generator, feature: np.ndarray, n_requests: int, owner: np.ndarray) -> np.ndarray:
    tags = np.full(len(feature), None, dtype=object)
    pick = rng.integers(0, 1_000, size=n_requests)[owner]
    for name, choices in _TAG_CHOICES.items():
        mask = feature == name
        options = np.empty(len(choices), dtype=object)
        options[:] = choices
        tags[mask] = options[pick[mask] % len(choices)]
    # A few callers put a number under tags: not a string, so the warehouse must ignore it.
    odd = (pick % 250 == 0) & (feature == "ticket-triage")
    tags[odd] = [{"channel": "api", "retry_budget": 3}] * int(odd.sum())
    return tags


def _final_attempts(requests: pd.DataFrame, calls: pd.DataFrame) -> pd.DataFrame:
    """Request-level facts the outcomes need: when the last attempt ended and whether it failed."""
    last = calls.sort_values("attempt").groupby("request_id", sort=False).tail(1)
    last = last.assign(ended_at=last["started_at"] + pd.to_timedelta(last["duration_ms"], unit="ms"))
    merged = requests.merge(
        last[["request_id", "ended_at", "status", "model"]].rename(columns={"model": "final_model"}),
        on="request_id",
        how="left",
        validate="one_to_one",
    )
    merged["succeeded"] = merged["success_draw"] & (merged["status"] == "ok")
    return merged
