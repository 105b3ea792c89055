"""OTLP/JSON trace exports to flat costline telemetry records.

One line of a `*.otlp.jsonl` file is one `ExportTraceServiceRequest` as the OpenTelemetry
Collector's file exporter writes it (proto3 JSON: int64 as strings, ids as hex). A span is a
call when a dialect of `otel_dialects.py` takes it for one (OTel GenAI old and new, the
Anthropic SDK, OpenLLMetry, OpenInference, openlit, Langfuse); its attributes are mapped to
contract fields by that dialect's table, and the flat records then go through the same SQL
checks as flat JSONL, so nothing here validates business rules: values that cannot be
converted are passed on as they are, for SQL to quarantine with a reason.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from ingestion.fields import TAG_ALIAS_PREFIX
from ingestion.otel_dialects import SpanView, Tagging, call_record, is_error

# The span facts a flattened record carries besides its contract fields, for the loader.
SPAN_COLUMNS = (
    "_dialect",
    "_rank",
    "_trace_id",
    "_span_id",
    "_parent_span_id",
    "_scope",
    "_service",
    "_start_ns",
    "_end_ns",
    "_response_id",
)
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


def _scope_name(scope_spans: dict) -> str:
    scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
    name = scope.get("name") if isinstance(scope, dict) else None
    return name if isinstance(name, str) else ""


def flatten_span(
    span: dict, resource_attrs: dict[str, Any], scope: str = "", tagging: Tagging | None = None
) -> dict[str, Any] | None:
    """One call span to a flat record by the dialect tables, or None when it is not a call.

    Besides the contract fields the record carries `_`-prefixed span facts (`SPAN_COLUMNS`) the
    loader uses to count two spans of one call once; they are not stored.
    """
    attrs = {**resource_attrs, **attributes(span)}  # span attributes override resource ones
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    name = span.get("name") if isinstance(span.get("name"), str) else ""
    view = SpanView(attrs=attrs, scope=scope, name=name, failed=is_error(attrs, status))
    record = call_record(view, status, tagging or Tagging())
    if record is None:
        return None
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

    tags = {
        key[len(TAG_ALIAS_PREFIX) :]: value
        for key, value in attrs.items()
        if key.startswith(TAG_ALIAS_PREFIX) and len(key) > len(TAG_ALIAS_PREFIX) and isinstance(value, str)
    }
    if tags:
        record["tags"] = dict(sorted(tags.items()))
    # Ids that are not non-empty strings link nothing (an empty id would join every such span).
    for fact, key in (("_trace_id", "traceId"), ("_span_id", "spanId"), ("_parent_span_id", "parentSpanId")):
        value = span.get(key)
        record[fact] = value if isinstance(value, str) and value else None
    record["_scope"] = scope
    # The process that wrote the span: two libraries in one process trace the same calls.
    service = (
        resource_attrs.get("service.name"),
        resource_attrs.get("service.instance.id"),
        resource_attrs.get("host.name"),
    )
    record["_service"] = json.dumps(service)
    record["_start_ns"], record["_end_ns"] = start, end
    response_id = attrs.get("gen_ai.response.id")
    record["_response_id"] = response_id if isinstance(response_id, str) and response_id else None
    return record


def flatten_export_request(obj: dict, tagging: Tagging | None = None) -> list[dict]:
    """One OTLP/JSON ExportTraceServiceRequest -> the flat contract records of its call spans.

    Raises MalformedExport when the object is not shaped like an export request.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
        raise MalformedExport("no resourceSpans list; expected one OTLP/JSON ExportTraceServiceRequest per line")
    tagging = tagging or Tagging()
    records: list[dict] = []
    for resource_spans in obj["resourceSpans"]:
        if not isinstance(resource_spans, dict):
            raise MalformedExport("resourceSpans entries must be objects")
        resource_attrs = attributes(resource_spans.get("resource") or {})
        # instrumentationLibrarySpans is the pre-1.0 name of scopeSpans, still in old exports.
        for scope_spans in _list(resource_spans, "scopeSpans", "instrumentationLibrarySpans"):
            if not isinstance(scope_spans, dict):
                raise MalformedExport("scopeSpans entries must be objects")
            scope = _scope_name(scope_spans)
            for span in _list(scope_spans, "spans"):
                if not isinstance(span, dict):
                    raise MalformedExport("spans entries must be objects")
                record = flatten_span(span, resource_attrs, scope, tagging)
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
