"""OTLP/JSON trace exports to flat costline telemetry records.

One line of a `*.otlp.jsonl` file is one `ExportTraceServiceRequest` as the OpenTelemetry
Collector's file exporter writes it (proto3 JSON: int64 as strings, ids as hex). A span is a
call when it carries `gen_ai.operation.name`. Attributes are mapped to contract fields by the
same alias table the flat JSONL reader uses (`fields.TELEMETRY_FIELDS`), and the flat
records then go through the same SQL checks, so nothing here validates business rules:
values that cannot be converted are passed on as they are, for SQL to quarantine with a reason.
"""

import re
from datetime import UTC, datetime
from typing import Any

from ingestion.fields import TAG_ALIAS_PREFIX, TELEMETRY_FIELDS

CALL_MARKER = "gen_ai.operation.name"
STATUS_CODE_ERROR = (2, "2", "STATUS_CODE_ERROR")
INT_TEXT = re.compile(r"-?[0-9]+")


class MalformedExport(ValueError):
    """The line is JSON but not shaped like an ExportTraceServiceRequest."""


def attribute_value(value: Any) -> Any:
    """An OTLP AnyValue to a plain value; arrays, maps and bytes are not costline fields."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        # proto3 JSON writes int64 as a string; anything else is passed on as it is, so SQL
        # can say what was wrong (int() would silently truncate 12.7).
        if isinstance(raw, str) and INT_TEXT.fullmatch(raw):
            return int(raw)
        return raw
    if "doubleValue" in value:
        raw = value["doubleValue"]
        try:
            return float(raw)  # also "NaN"/"Infinity", which SQL then refuses
        except (TypeError, ValueError):
            return raw
    if "boolValue" in value:
        return value["boolValue"]
    return None


def attributes(obj: Any) -> dict[str, Any]:
    items = obj.get("attributes") if isinstance(obj, dict) else None
    if items is None:
        return {}
    if not isinstance(items, list):
        raise MalformedExport("attributes must be a list of {key, value}")
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = attribute_value(item.get("value"))
    return out


def _nanos(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def rfc3339_from_nanos(nanos: int) -> str:
    """UTC text with microseconds (the warehouse precision), truncating the nanoseconds."""
    micros = nanos // 1000
    seconds, micro = divmod(micros, 1_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return str(nanos)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{micro:06d}Z"


def _list(obj: dict, *keys: str) -> list:
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise MalformedExport(f"{key} must be a list")
        return value
    return []


def flatten_span(span: dict, resource_attrs: dict[str, Any]) -> dict[str, Any] | None:
    """One call span to a flat record by the contract aliases, or None when it is not a call."""
    attrs = {**resource_attrs, **attributes(span)}  # span attributes override resource ones
    if attrs.get(CALL_MARKER) is None:
        return None
    record: dict[str, Any] = {}
    for field in TELEMETRY_FIELDS:
        # keys[0] is the flat name; OTLP speaks only the OTel aliases.
        for key in field.keys[1:]:
            if attrs.get(key) is not None:
                record[field.name] = attrs[key]
                break
    if record.get("call_id") is None and span.get("spanId"):
        record["call_id"] = span["spanId"]
    if record.get("request_id") is None and span.get("traceId"):
        record["request_id"] = span["traceId"]

    start, end = _nanos(span.get("startTimeUnixNano")), _nanos(span.get("endTimeUnixNano"))
    if start is not None and start > 0:
        record["started_at"] = rfc3339_from_nanos(start)
    elif span.get("startTimeUnixNano") not in (None, "", 0, "0"):
        record["started_at"] = str(span["startTimeUnixNano"])[:64]
    if start is not None and end is not None and start > 0 and end > 0:
        record["duration_ms"] = (end - start) / 1e6

    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    if attrs.get("error.type") is not None or status.get("code") in STATUS_CODE_ERROR:
        record["status"] = "error"

    tags = {
        key[len(TAG_ALIAS_PREFIX) :]: value
        for key, value in attrs.items()
        if key.startswith(TAG_ALIAS_PREFIX) and len(key) > len(TAG_ALIAS_PREFIX) and isinstance(value, str)
    }
    if tags:
        record["tags"] = dict(sorted(tags.items()))
    return record


def flatten_export_request(obj: dict) -> list[dict]:
    """One OTLP/JSON ExportTraceServiceRequest -> the flat contract records of its call spans.

    Raises MalformedExport when the object is not shaped like an export request.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
        raise MalformedExport("no resourceSpans list; expected one OTLP/JSON ExportTraceServiceRequest per line")
    records: list[dict] = []
    for resource_spans in obj["resourceSpans"]:
        if not isinstance(resource_spans, dict):
            raise MalformedExport("resourceSpans entries must be objects")
        resource_attrs = attributes(resource_spans.get("resource") or {})
        # instrumentationLibrarySpans is the pre-1.0 name of scopeSpans, still in old exports.
        for scope_spans in _list(resource_spans, "scopeSpans", "instrumentationLibrarySpans"):
            if not isinstance(scope_spans, dict):
                raise MalformedExport("scopeSpans entries must be objects")
            for span in _list(scope_spans, "spans"):
                if not isinstance(span, dict):
                    raise MalformedExport("spans entries must be objects")
                record = flatten_span(span, resource_attrs)
                if record is not None:
                    records.append(record)
    return records


def count_spans(obj: object) -> int:
    """How many spans an export request line holds, calls or not (0 when it is not one)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
        return 0
    total = 0
    for resource_spans in obj["resourceSpans"]:
        if not isinstance(resource_spans, dict):
            continue
        for key in ("scopeSpans", "instrumentationLibrarySpans"):
            for scope_spans in resource_spans.get(key) or []:
                if isinstance(scope_spans, dict) and isinstance(scope_spans.get("spans"), list):
                    total += len(scope_spans["spans"])
    return total
