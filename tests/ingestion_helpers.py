"""Builders for ingestion tests: input files written the way producers write them."""

import gzip
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.settings import Paths

# A string that must never reach the warehouse: it stands for prompt and completion text.
CANARY = "CANARY-PROMPT-7f3a9c"

TELEMETRY_ENV = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}

DAY = date(2026, 10, 1)


def make_paths(tmp_path: Path) -> Paths:
    return Paths.from_env(tmp_path / "input", tmp_path / "warehouse")


def call(call_id: str = "call-1", **overrides: Any) -> dict:
    """A valid flat telemetry record (canonical names) carrying prompt text to be dropped."""
    record = {
        "call_id": call_id,
        "request_id": f"req-{call_id}",
        "started_at": "2026-10-01T12:00:00.250Z",
        "duration_ms": 812.5,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 1200,
        "output_tokens": 300,
        "workspace": "search",
        "feature": "answer",
        "prompt": f"{CANARY} tell me a secret",
        "completion": f"{CANARY} here it is",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def late_call(call_id: str, request_id: str, started_at: str) -> dict:
    """A gpt-4o-mini call of feature `late-feature` ($0.00021 at list price) delivered after its day."""
    return {
        "call_id": call_id,
        "request_id": request_id,
        "started_at": started_at,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 1000,
        "output_tokens": 100,
        "workspace": "support",
        "feature": "late-feature",
    }


def telemetry_folder(paths: Paths, day: date = DAY) -> Path:
    folder = paths.telemetry_dir / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def outcomes_folder(paths: Paths, day: date = DAY) -> Path:
    folder = paths.outcomes_dir / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def line_of(item: dict | str | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return json.dumps(item).encode("utf-8")


def write_lines(path: Path, items: Iterable[dict | str | bytes], newline: bytes = b"\n") -> Path:
    """One item per line (dicts as JSON, str/bytes verbatim); gzip when the name ends in .gz."""
    data = b"".join(line_of(i) + newline for i in items)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_parquet(path: Path, records: list[dict], types: dict[str, pa.DataType] | None = None) -> Path:
    """Records as Parquet columns (the union of their keys); `types` pins column types."""
    names = list(dict.fromkeys(k for r in records for k in r))
    types = types or {}
    table = pa.table({n: pa.array([r.get(n) for r in records], type=types.get(n)) for n in names})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def to_nanos(rfc3339: str) -> int:
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def otlp_value(value: Any) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # proto3 JSON writes int64 as a string
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def otlp_attrs(attrs: dict) -> list[dict]:
    return [{"key": k, "value": otlp_value(v)} for k, v in attrs.items()]


def call_span(record: dict, span_id: str, trace_id: str, extra_attrs: dict | None = None) -> dict:
    """The span an OTel GenAI instrumentation would emit for a flat record."""
    start = to_nanos(record["started_at"])
    attrs = {
        "gen_ai.operation.name": record.get("operation", "chat"),
        "gen_ai.response.id": record["call_id"],
        "costline.request_id": record["request_id"],
        "gen_ai.provider.name": record["provider"],
        "gen_ai.response.model": record["model"],
        "gen_ai.usage.input_tokens": record["input_tokens"],
        "gen_ai.usage.output_tokens": record["output_tokens"],
        "costline.feature": record["feature"],
        "gen_ai.input.messages": f'[{{"role": "user", "content": "{CANARY}"}}]',
    }
    for flat, alias in (
        ("attempt", "costline.attempt"),
        ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        ("error_type", "error.type"),
        ("cost_usd", "gen_ai.usage.cost"),
        ("prompt_version", "costline.prompt_version"),
    ):
        if flat in record:
            attrs[alias] = record[flat]
    for key, value in record.get("tags", {}).items():
        attrs[f"costline.tag.{key}"] = value
    attrs.update(extra_attrs or {})
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "attributes": otlp_attrs(attrs),
        "status": {},
    }
    if "duration_ms" in record:
        span["endTimeUnixNano"] = str(start + round(record["duration_ms"] * 1_000_000))
    return span


def export_request(spans: list[dict], resource_attrs: dict) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attrs(resource_attrs)},
                "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}],
            }
        ]
    }


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def assert_ledger_reconciles(con: duckdb.DuckDBPyConnection, input_name: str, fact_table: str) -> None:
    """Every ledger row adds up, and its counts match the rows actually stored."""
    ledger = rows(
        con,
        """select source_file, records_read, accepted, quarantined, duplicates
                          from raw.source_files where input = ?""",
        [input_name],
    )
    assert ledger, "no ledger rows"
    for source_file, read, accepted, quarantined, duplicates in ledger:
        assert read == accepted + quarantined + duplicates, source_file
        stored = rows(con, f"select count(*) from {fact_table} where source_file = ?", [source_file])
        assert stored[0][0] == accepted, source_file
        held = rows(
            con, "select count(*) from raw.quarantine where input = ? and source_file = ?", [input_name, source_file]
        )
        assert held[0][0] == quarantined, source_file


def files_containing(root: Path, needle: str) -> list[Path]:
    data = needle.encode("utf-8")
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]
