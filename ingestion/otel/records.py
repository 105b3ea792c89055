"""A span a dialect recognised, as a contract record: fields mapped, tokens in costline's
semantics, a cost of 0 dropped, errors made error calls, workspace and feature tagged."""

import re
from collections.abc import Mapping
from typing import Any

from ingestion.model_providers import provider_of_model
from ingestion.otel.dialects import (
    LANGFUSE,
    OPENINFERENCE,
    OPENLIT,
    Dialect,
    SpanView,
    first_present,
    map_fields,
    provider_from_scope,
    recognising,
)
from ingestion.otel.tagging import Tagging
from ingestion.otel.usage_json import json_object, plain_int

# openai-v2 2.4b0 writes error.type as str() of the exception class: "<class 'openai.RateLimitError'>".
_CLASS_REPR = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")


def _error_type(value: Any) -> Any:
    if isinstance(value, str) and (m := _CLASS_REPR.fullmatch(value.strip())):
        return m.group(1)
    return value


def normalise_tokens(record: dict[str, Any], dialects: tuple[Dialect, ...]) -> None:
    """Make the token fields costline's: input includes cache reads and writes, output reasoning."""
    provider = str(record.get("provider") or "").lower()
    if OPENLIT in dialects and dialects[0] is OPENLIT and provider.startswith("anthropic"):
        # openlit records Anthropic's own input_tokens, which leave the cached tokens out.
        base = plain_int(record.get("input_tokens"))
        if base is not None:
            cached = (plain_int(record.get("cache_read_input_tokens")) or 0) + (
                plain_int(record.get("cache_creation_input_tokens")) or 0
            )
            record["input_tokens"] = base + cached
    total = plain_int(record.get("_total_tokens"))
    record.pop("_total_tokens", None)
    if record.get("input_tokens") is None and total is not None and plain_int(record.get("output_tokens")) is not None:
        record["input_tokens"] = total - record["output_tokens"]


def drop_zero_cost(record: dict[str, Any]) -> None:
    """A cost of 0 from an instrumentation means it had no price, not that the call was free."""
    cost = record.get("cost_usd")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost == 0:
        record.pop("cost_usd")
    elif isinstance(cost, str) and cost.strip() in ("0", "0.0", "0.00", ""):
        record.pop("cost_usd")


UNKNOWN = "(unknown)"
ERROR_TYPE_MAX = 200


def call_record(view: SpanView, status: Mapping[str, Any], tagging: Tagging) -> dict[str, Any] | None:
    """A span's contract fields when a dialect takes it for a provider call, else None.

    `_dialect` and `_rank` name the dialect that read it (for merging two spans of one call);
    they are not contract fields and are taken off before the record is checked.
    """
    dialects = recognising(view)
    if not dialects:
        return None
    record = map_fields(view, dialects)
    for name, keys in (("workspace", tagging.workspace), ("feature", tagging.feature)):
        value = first_present(view.attrs, keys)
        if value is not None:
            record[name] = value
    normalise_tokens(record, dialects)
    drop_zero_cost(record)
    if record.get("model") is None and OPENINFERENCE in dialects:
        # A failed OpenInference span names its model only inside the invocation parameters.
        model = json_object(view.get("llm.invocation_parameters")).get("model")
        record["model"] = model if isinstance(model, str) and model else None
    if record.get("provider") is None:
        record["provider"] = provider_of_model(record.get("model")) or provider_from_scope(view.scope)
    if isinstance(record.get("provider"), str):
        # gen_ai.system was free text ("Anthropic" in older OpenLLMetry); prices are keyed lower-case.
        record["provider"] = record["provider"].strip().lower()
    if record.get("output_tokens") is None and str(record.get("operation") or "").lower() == "embeddings":
        record["output_tokens"] = 0  # an embedding produces no tokens; no library writes the 0
    if view.failed:
        # A failed call still happened: it counts in error, retry and waste figures, with the
        # tokens it reported (none, usually) and `(unknown)` for what it does not name.
        record["status"] = "error"
        record.setdefault("input_tokens", 0)
        record.setdefault("output_tokens", 0)
        if record.get("model") is None:
            record["model"] = UNKNOWN
        if record.get("provider") is None:
            record["provider"] = UNKNOWN
        if record.get("error_type") is None and LANGFUSE in dialects:
            record["error_type"] = view.get("langfuse.observation.status_message")
        if record.get("error_type") is None:
            message = status.get("message")
            record["error_type"] = message[:ERROR_TYPE_MAX] if isinstance(message, str) and message else "error"
    if record.get("error_type") is not None:
        record["error_type"] = _error_type(record["error_type"])
    record["_dialect"] = dialects[0].name
    record["_rank"] = dialects[0].rank
    return {k: v for k, v in record.items() if v is not None}
