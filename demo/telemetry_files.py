"""Lay the demo calls out as telemetry file drops, with the mess real drops have.

Per folder (the UTC day the file was written): one file per workspace service, records after
23:50 in the next folder, one late upload two folders on, re-sent records, ~0.1% malformed
lines, one day gzip-compressed, one day as Parquet and a small OTLP/JSON export.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from demo import scenario as sc
from demo.otlp_export import export_lines

CANARY_PREFIX = "CANARY-"
# Fields the contract drops at the door; the canary proves they never reach the warehouse.
CONTENT_FIELDS = ("prompt", "completion", "messages")
MALFORMED_KINDS = (
    "bad_json",
    "negative_tokens",
    "cache_above_input",
    "missing_model",
    "bad_time",
    "unknown_status",
    "fractional_tokens",
)
# Parquet columns are typed: only these breakages can exist in a Parquet file.
PARQUET_MALFORMED_KINDS = ("negative_tokens", "cache_above_input", "missing_model", "unknown_status")
RESENT_RECORDS = 30
_encode = json.JSONEncoder(separators=(",", ":")).encode
REUPLOADED_RECORDS = 25


@dataclass
class TelemetryDrop:
    """What was written, for the summary and the tests."""

    files: list[Path] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    canaries: list[str] = field(default_factory=list)


def _present(value) -> bool:
    return value is not None and value == value


def write_telemetry(
    rng: np.random.Generator, calls: pd.DataFrame, timeline: sc.Timeline, telemetry_dir: Path
) -> TelemetryDrop:
    drop = TelemetryDrop()
    folder, stem = _placement(calls, timeline)
    otlp = _otlp_requests(calls, timeline)
    canary_rows = _canary_rows(rng, calls, timeline, otlp)
    records = _records(calls, canary_rows)
    drop.canaries = [records[i][k] for i in canary_rows for k in ("prompt",) if k in records[i]]

    files: dict[tuple[date, str], list] = {}
    keep = ~otlp
    for i in np.flatnonzero(keep):
        files.setdefault((folder[i], stem[i]), []).append(records[i])

    _add_duplicates(files, timeline, drop)
    _add_malformed(rng, files, timeline, drop)

    for (day, name), entries in sorted(files.items()):
        directory = telemetry_dir / day.isoformat()
        directory.mkdir(parents=True, exist_ok=True)
        regular = not name.endswith(("-resend", "-reupload", "-late"))
        if day == timeline.parquet_day and regular:
            path = directory / f"{name}.parquet"
            _write_parquet(path, entries)
        elif day == timeline.gzip_day:
            path = directory / f"{name}.jsonl.gz"
            _write_gzip(path, _lines(entries))
        else:
            path = directory / f"{name}.jsonl"
            path.write_text(_lines(entries), encoding="utf-8")
        drop.files.append(path)

    if otlp.any():
        otlp_calls = calls[otlp]
        day = timeline.otlp_day
        canary = f"{CANARY_PREFIX}OTLP-{rng.integers(10**6, 10**7)}: user asked for the refund policy"
        path = telemetry_dir / day.isoformat() / f"eval-runner-{day.isoformat()}.otlp.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(export_lines(rng, otlp_calls, canary)) + "\n", encoding="utf-8")
        drop.files.append(path)
        drop.canaries.append(canary)
    return drop


def _placement(calls: pd.DataFrame, timeline: sc.Timeline) -> tuple[np.ndarray, np.ndarray]:
    """The folder (write day) and file stem of every call."""
    started = calls["started_at"]
    day = started.dt.date.to_numpy()
    late_in_day = (started.dt.hour * 60 + started.dt.minute).to_numpy() >= (
        sc.LATE_CUTOFF.hour * 60 + sc.LATE_CUTOFF.minute
    )
    folder = np.where(late_in_day, day + timedelta(days=1), day)
    folder = np.minimum(folder, timeline.end)
    workspace = calls["workspace"].to_numpy(dtype=object)
    stem = np.array([f"{w}-{d.isoformat()}" for w, d in zip(workspace, folder, strict=True)], dtype=object)
    late = (workspace == sc.SPARSE_WRITER_WORKSPACE) & (folder == timeline.late_upload_day)
    late_folder = min(timeline.late_upload_day + timedelta(days=2), timeline.end)
    if late.any() and late_folder != timeline.late_upload_day:
        folder[late] = late_folder
        stem[late] = f"{sc.SPARSE_WRITER_WORKSPACE}-{timeline.late_upload_day.isoformat()}-late"
    return folder, stem


def _otlp_requests(calls: pd.DataFrame, timeline: sc.Timeline) -> np.ndarray:
    """Calls of the eval runner's OTLP export: whole requests that started 10:00-11:59 that day."""
    first = calls.groupby("request_id")["started_at"].transform("min")
    on_day = (first.dt.date == timeline.otlp_day) & (calls["workspace"] == sc.SPARSE_WRITER_WORKSPACE)
    chosen = on_day & first.dt.hour.isin([10, 11])
    if not chosen.any():
        ids = calls.loc[on_day, "request_id"].drop_duplicates().head(3)
        chosen = calls["request_id"].isin(ids)
    return chosen.to_numpy()


def _canary_rows(rng: np.random.Generator, calls: pd.DataFrame, timeline: sc.Timeline, otlp: np.ndarray) -> list[int]:
    """A handful of ordinary, valid calls whose raw records also carry prompt content."""
    ok = (calls["status"] == "ok").to_numpy() & ~otlp & (calls["operation"] == "chat").to_numpy()
    days = calls["started_at"].dt.date.to_numpy()
    rows: list[int] = []
    for day in sorted({timeline.start, timeline.parquet_day, timeline.gzip_day, timeline.end}):
        candidates = np.flatnonzero(ok & (days == day))
        if len(candidates):
            rows += sorted(rng.choice(candidates, size=min(2, len(candidates)), replace=False).tolist())
    return rows


def _timestamps(started: pd.Series, offset_hours: int = 0) -> np.ndarray:
    values = (started + pd.Timedelta(hours=offset_hours)).to_numpy().astype("datetime64[ms]")
    return np.datetime_as_string(values, unit="ms")


def _records(calls: pd.DataFrame, canary_rows: list[int]) -> list[dict]:
    """One JSON-ready dict per call, in contract field order, as each team's service writes it."""
    utc = np.char.add(_timestamps(calls["started_at"]).astype(str), "Z")
    offset = sc.LOCAL_UTC_OFFSET_HOURS
    local = np.char.add(_timestamps(calls["started_at"], offset).astype(str), f"{offset:+03d}:00")
    utc, local = utc.tolist(), local.tolist()
    names = (
        "call_id",
        "request_id",
        "attempt",
        "duration_ms",
        "provider",
        "model",
        "operation",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "status",
        "error_type",
        "service_tier",
        "workspace",
        "feature",
        "environment",
        "user_segment",
        "prompt_version",
        "project_id",
        "tags",
    )
    records: list[dict] = []
    for i, values in enumerate(zip(*(calls[c].tolist() for c in names), strict=True)):
        (
            call_id,
            request_id,
            attempt,
            duration_ms,
            provider,
            model,
            operation,
            input_tokens,
            output_tokens,
            cache_read,
            cache_creation,
            status,
            error_type,
            service_tier,
            workspace,
            feature,
            environment,
            user_segment,
            prompt_version,
            project_id,
            tags,
        ) = values
        sparse = workspace == sc.SPARSE_WRITER_WORKSPACE
        local_time = workspace == sc.LOCAL_TIME_WORKSPACE
        record = {"call_id": call_id, "request_id": request_id}
        if not (sparse and attempt == 1):
            record["attempt"] = attempt
        record["started_at"] = local[i] if local_time else utc[i]
        record.update(
            duration_ms=duration_ms,
            provider=provider,
            model=model,
            operation=operation,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        if not (sparse and cache_read == 0):
            record["cache_read_input_tokens"] = cache_read
        if not (sparse and cache_creation == 0):
            record["cache_creation_input_tokens"] = cache_creation
        if not (sparse and status == "ok"):
            record["status"] = status
        if _present(error_type):
            record["error_type"] = error_type
        if not sparse or service_tier != "standard":
            record["service_tier"] = service_tier
        record["workspace"] = workspace
        record["feature"] = feature
        if not (sparse and environment == "production"):
            record["environment"] = environment
        if _present(user_segment):
            record["user_segment"] = user_segment
        if _present(prompt_version):
            record["prompt_version"] = prompt_version
        if _present(project_id):
            record["project_id"] = project_id
        if isinstance(tags, dict):
            record["tags"] = tags
        if local_time:
            record["sdk"] = "growth-api/2.14.0"  # an unknown extra field: ignored
        records.append(record)
    for n, i in enumerate(canary_rows):
        records[i] = {
            **records[i],
            "prompt": f"{CANARY_PREFIX}PROMPT-{n}: Summarise ticket #{40000 + n} for the customer",
            "completion": f"{CANARY_PREFIX}COMPLETION-{n}: Dear customer, your refund is on its way",
            "messages": [{"role": "user", "content": f"{CANARY_PREFIX}MESSAGES-{n}"}],
        }
    return records


def _add_duplicates(files: dict[tuple[date, str], list], timeline: sc.Timeline, drop: TelemetryDrop) -> None:
    """A client re-sends a whole file, and another re-uploads the tail of yesterday's file."""
    plans = [
        (timeline.resend_day, "support", "resend", timeline.resend_day, RESENT_RECORDS, False),
        (
            timeline.overlap_day,
            "growth",
            "reupload",
            min(timeline.overlap_day + timedelta(days=1), timeline.end),
            REUPLOADED_RECORDS,
            True,
        ),
    ]
    for day, workspace, suffix, target, count, tail in plans:
        source = files.get((day, f"{workspace}-{day.isoformat()}")) or next(
            (v for (d, _), v in sorted(files.items()) if d == day), []
        )
        valid = [r for r in source if isinstance(r, dict)]
        copies = valid[-count:] if tail else valid[:count]
        if copies:
            files[(target, f"{workspace}-{day.isoformat()}-{suffix}")] = [dict(r) for r in copies]
            drop.duplicates += len(copies)


def _add_malformed(
    rng: np.random.Generator, files: dict[tuple[date, str], list], timeline: sc.Timeline, drop: TelemetryDrop
) -> None:
    by_folder: dict[date, list[str]] = {}
    for day, name in sorted(files):
        if not name.endswith(("-resend", "-reupload")):
            by_folder.setdefault(day, []).append(name)
    counter = 0
    for day, names in sorted(by_folder.items()):
        total = sum(len(files[(day, n)]) for n in names)
        kinds = PARQUET_MALFORMED_KINDS if day == timeline.parquet_day else MALFORMED_KINDS
        for _ in range(max(1, int(round(total * sc.MALFORMED_SHARE)))):
            name = names[int(rng.integers(0, len(names)))]
            entries = files[(day, name)]
            kind = kinds[counter % len(kinds)]
            counter += 1
            records = [e for e in entries if isinstance(e, dict)]  # not an earlier broken line
            template = records[int(rng.integers(0, len(records)))]
            bad = {**template, "call_id": f"bad-{counter:05d}", "request_id": f"req_bad{counter:05d}"}
            for key in CONTENT_FIELDS:
                bad.pop(key, None)
            entries.insert(int(rng.integers(0, len(entries) + 1)), _break(bad, kind))
            drop.malformed[kind] = drop.malformed.get(kind, 0) + 1


def _break(record: dict, kind: str) -> dict | str:
    record = dict(record)
    if kind == "bad_json":
        text = json.dumps(record, separators=(",", ":"))
        return text[: len(text) // 2]
    if kind == "negative_tokens":
        record["input_tokens"] = -max(1, int(record.get("input_tokens", 1)))
    elif kind == "cache_above_input":
        record["cache_read_input_tokens"] = int(record.get("input_tokens", 0)) + 100
    elif kind == "missing_model":
        # Not a missing workspace: that call is kept under (untagged). Without a model it cannot be priced.
        del record["model"]
    elif kind == "bad_time":
        record["started_at"] = "13/11/2026 25:61"
    elif kind == "unknown_status":
        record["status"] = "pending"
    elif kind == "fractional_tokens":
        record["output_tokens"] = 12.5
    return record


def _lines(entries: list) -> str:
    return "".join((e if isinstance(e, str) else _encode(e)) + "\n" for e in entries)


def _write_gzip(path: Path, text: str) -> None:
    # mtime=0 and no file name in the header keep the bytes identical for a seed.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.encode("utf-8"))


_PARQUET_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("request_id", pa.string()),
        ("attempt", pa.int64()),
        ("started_at", pa.timestamp("ms", tz="UTC")),
        ("duration_ms", pa.float64()),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("operation", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_input_tokens", pa.int64()),
        ("cache_creation_input_tokens", pa.int64()),
        ("status", pa.string()),
        ("error_type", pa.string()),
        ("service_tier", pa.string()),
        ("workspace", pa.string()),
        ("feature", pa.string()),
        ("environment", pa.string()),
        ("user_segment", pa.string()),
        ("prompt_version", pa.string()),
        ("project_id", pa.string()),
        ("tags", pa.map_(pa.string(), pa.string())),
        ("prompt", pa.string()),
    ]
)


def _write_parquet(path: Path, entries: list) -> None:
    """Typed columns as an analytics export writes them: UTC timestamps, tags as a string map."""
    rows = [e for e in entries if isinstance(e, dict)]
    table = {name: [r.get(name) for r in rows] for name in _PARQUET_SCHEMA.names}
    table["started_at"] = list(pd.to_datetime(table["started_at"], utc=True, format="ISO8601"))
    table["tags"] = [
        None if not isinstance(t, dict) else [(k, v) for k, v in t.items() if isinstance(v, str)] for t in table["tags"]
    ]
    buffer = io.BytesIO()
    pq.write_table(pa.table(table, schema=_PARQUET_SCHEMA), buffer)
    path.write_bytes(buffer.getvalue())
