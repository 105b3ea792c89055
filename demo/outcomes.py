"""Outcome records (resolutions, thumbs, eval scores) for the demo's logical requests."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from demo import scenario as sc

_FEATURES = {f.name: f for f in sc.FEATURES}
SOURCES = {"resolution": "helpdesk", "thumbs": "feedback-widget", "eval": "eval-harness", "revenue": "billing"}
JUDGE_SOURCE = "llm-judge"
_encode = json.JSONEncoder(separators=(",", ":")).encode


def generate(rng: np.random.Generator, requests: pd.DataFrame, window_end: np.datetime64) -> pd.DataFrame:
    """One row per outcome record, recorded before `window_end` (later ones have not happened yet).

    Columns: request_id, recorded_at (datetime64[ms], UTC), kind, value (str, or float for eval),
    source. A failed request that gets an outcome gets a negative one; eval scores straddle the
    0.7 success threshold by at least 0.02 so the verdict never hangs on rounding.
    """
    n = len(requests)
    feature = requests["feature"].to_numpy()
    kind = np.array([_FEATURES[f].outcome for f in feature], dtype=object)
    coverage = np.array([_FEATURES[f].outcome_coverage for f in feature])
    covered = (rng.random(n) < coverage) & (kind != None)  # noqa: E711 (element-wise)
    succeeded = requests["succeeded"].to_numpy()
    failed_call = requests["status"].to_numpy() == "error"
    ended = requests["ended_at"].to_numpy().astype("datetime64[ms]")
    rid = requests["request_id"].to_numpy()
    parts: list[pd.DataFrame] = []

    def add(
        mask: np.ndarray, kind_name: str, delay_ms: np.ndarray, value: np.ndarray, source: str, value_usd=None
    ) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "request_id": rid[mask],
                    "recorded_at": ended[mask] + delay_ms.astype(np.int64).astype("timedelta64[ms]"),
                    "kind": kind_name,
                    "value": value,
                    "source": source,
                    "value_usd": value_usd,
                }
            )
        )

    resolution = covered & (kind == "resolution")
    k = int(resolution.sum())
    # A resolved triage ticket carries what it saved (value_usd); other resolutions carry none.
    valued = succeeded[resolution] & (feature[resolution] == sc.MODEL_SWITCH_FEATURE)
    add(
        resolution,
        "resolution",
        np.minimum(rng.exponential(2 * 3_600_000, k), 20 * 3_600_000),
        np.where(succeeded[resolution], "resolved", "unresolved").astype(object),
        SOURCES["resolution"],
        np.where(valued, sc.TRIAGE_RESOLUTION_VALUE_USD, None).astype(object),
    )
    # Some successful onboarding emails convert: billing reports the revenue a day or two later.
    revenue = (feature == sc.REVENUE_FEATURE) & succeeded & ~failed_call & (rng.random(n) < sc.REVENUE_SHARE)
    k = int(revenue.sum())
    low, high = sc.REVENUE_RANGE_USD
    add(
        revenue,
        "revenue",
        rng.uniform(3_600_000, 48 * 3_600_000, k),
        np.array([f"{v:.2f}" for v in rng.uniform(low, high, k)], dtype=object),
        SOURCES["revenue"],
    )
    # Support agents also click thumbs on some drafts; the resolution outranks it.
    extra_thumbs = resolution & (rng.random(n) < 0.3)
    agree = rng.random(int(extra_thumbs.sum())) < 0.85
    add(
        extra_thumbs,
        "thumbs",
        rng.uniform(10_000, 600_000, int(extra_thumbs.sum())),
        np.where(succeeded[extra_thumbs] == agree, "up", "down").astype(object),
        SOURCES["thumbs"],
    )

    thumbs = covered & (kind == "thumbs")
    k = int(thumbs.sum())
    delay = rng.uniform(5_000, 1_200_000, k)
    add(thumbs, "thumbs", delay, np.where(succeeded[thumbs], "up", "down").astype(object), SOURCES["thumbs"])
    # Users who change their mind: an earlier opposite vote; the latest one counts.
    flipped = rng.random(k) < 0.04
    mask = thumbs.copy()
    mask[thumbs] = flipped
    add(
        mask,
        "thumbs",
        delay[flipped] * rng.uniform(0.1, 0.9, int(flipped.sum())),
        np.where(succeeded[mask], "down", "up").astype(object),
        SOURCES["thumbs"],
    )

    evals = covered & (kind == "eval") & ~failed_call
    judged = (feature == sc.PROMPT_CHANGE_FEATURE) & ~failed_call & (rng.random(n) < 0.2)
    for mask, source in ((evals, SOURCES["eval"]), (judged, JUDGE_SOURCE)):
        k = int(mask.sum())
        score = np.where(succeeded[mask], rng.uniform(0.72, 1.0, k), rng.uniform(0.1, 0.68, k))
        add(mask, "eval", rng.uniform(1_000, 120_000, k), np.round(score, 3), source)

    outcomes = pd.concat(parts, ignore_index=True)
    outcomes = outcomes[outcomes["recorded_at"] < window_end]
    return outcomes.sort_values(["recorded_at", "request_id", "kind"], kind="stable", ignore_index=True)


def write_outcomes(outcomes: pd.DataFrame, timeline: sc.Timeline, outcomes_dir: Path) -> tuple[list[Path], int]:
    """One file per source and folder; records after 23:50 land in the next folder.

    Two folders also get a truncated line and an unknown kind, so the quarantine has outcome
    rows too. Returns the files written and the number of malformed lines.
    """
    recorded = outcomes["recorded_at"]
    day = recorded.dt.date.to_numpy()
    late = (recorded.dt.hour * 60 + recorded.dt.minute).to_numpy() >= (sc.LATE_CUTOFF.hour * 60 + sc.LATE_CUTOFF.minute)
    folder = np.minimum(np.where(late, day + timedelta(days=1), day), timeline.end)
    stamps = np.char.add(np.datetime_as_string(recorded.to_numpy().astype("datetime64[ms]"), unit="ms"), "Z")
    files: dict[tuple[date, str], list[str]] = {}
    for f, rid, at, kind, value, source, value_usd in zip(
        folder,
        outcomes["request_id"].tolist(),
        stamps.tolist(),
        outcomes["kind"].tolist(),
        outcomes["value"].tolist(),
        outcomes["source"].tolist(),
        outcomes["value_usd"].tolist(),
        strict=True,
    ):
        record = {"request_id": rid, "recorded_at": at, "kind": kind, "value": value, "source": source}
        if isinstance(value_usd, str):
            record["value_usd"] = value_usd
        files.setdefault((f, source), []).append(_encode(record))

    malformed = 0
    for f in sorted({timeline.resend_day, timeline.overlap_day}):
        lines = files.setdefault((f, SOURCES["thumbs"]), [])
        lines.append('{"request_id":"req_truncated","recorded_at":"' + f.isoformat())
        lines.append(
            json.dumps(
                {
                    "request_id": "req_stars",
                    "recorded_at": f"{f.isoformat()}T12:00:00Z",
                    "kind": "stars",
                    "value": "5",
                    "source": SOURCES["thumbs"],
                },
                separators=(",", ":"),
            )
        )
        malformed += 2

    written: list[Path] = []
    for (f, source), lines in sorted(files.items()):
        path = outcomes_dir / f.isoformat() / f"{source}-{f.isoformat()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written, malformed
