"""Demo calls as the OpenTelemetry Collector's file exporter writes them: OTLP/JSON, one
`ExportTraceServiceRequest` per line, GenAI semantic-convention attributes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from demo import scenario as sc

SPANS_PER_EXPORT = 8
STATUS_CODE_ERROR = 2
SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL = 3, 1


def _attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, (int, np.integer)):
        # OTLP/JSON encodes 64-bit integers as strings.
        return {"key": key, "value": {"intValue": str(int(value))}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _present(value) -> bool:
    return value is not None and value == value


def export_lines(rng: np.random.Generator, calls: pd.DataFrame, canary: str) -> list[str]:
    """Serialise `calls` (all attempts of whole requests) to OTLP/JSON lines.

    Each request becomes a trace: an internal `eval case` span (no gen_ai attributes, so it is
    not a call) and one client span per attempt. The first span carries prompt content under
    `gen_ai.input.messages`, which the warehouse must drop.
    """
    calls = calls.sort_values(["started_at", "call_id"], kind="stable")
    request_ids = list(dict.fromkeys(calls["request_id"]))
    trace_ids = {r: "".join(rng.choice(list("0123456789abcdef"), 32)) for r in request_ids}
    lines: list[str] = []
    for start in range(0, len(request_ids), SPANS_PER_EXPORT):
        batch = request_ids[start : start + SPANS_PER_EXPORT]
        chunk = calls[calls["request_id"].isin(batch)]
        spans = []
        for request_id in batch:
            attempts = chunk[chunk["request_id"] == request_id]
            parent = "".join(rng.choice(list("0123456789abcdef"), 16))
            first_ns = int(attempts["started_at"].min().value)
            last = attempts.iloc[-1]
            end_ns = int(last["started_at"].value) + int(round(last["duration_ms"] * 1_000_000))
            spans.append(
                {
                    "traceId": trace_ids[request_id],
                    "spanId": parent,
                    "name": "eval case",
                    "kind": SPAN_KIND_INTERNAL,
                    "startTimeUnixNano": str(first_ns),
                    "endTimeUnixNano": str(end_ns),
                    "attributes": [_attr("costline.request_id", request_id)],
                    "status": {},
                }
            )
            for call in attempts.itertuples(index=False):
                spans.append(
                    _call_span(
                        rng, call, trace_ids[request_id], parent, canary if not lines and len(spans) == 1 else None
                    )
                )
        resource = [
            _attr("service.name", "eval-runner"),
            _attr("deployment.environment.name", "production"),
            _attr("costline.workspace", sc.SPARSE_WRITER_WORKSPACE),
        ]
        request = {
            "resourceSpans": [
                {
                    "resource": {"attributes": resource},
                    "scopeSpans": [
                        {"scope": {"name": "opentelemetry.instrumentation.genai", "version": "0.4b0"}, "spans": spans}
                    ],
                }
            ]
        }
        lines.append(json.dumps(request, separators=(",", ":")))
    return lines


def _call_span(rng: np.random.Generator, call, trace_id: str, parent: str, canary: str | None) -> dict:
    start_ns = int(pd.Timestamp(call.started_at).value)
    end_ns = start_ns + int(round(call.duration_ms * 1_000_000))
    request_model = call.model.rsplit("-20", 1)[0]
    # Newer instrumentations write gen_ai.provider.name, older ones gen_ai.system: both are aliases.
    provider_key = "gen_ai.provider.name" if call.provider == sc.OPENAI else "gen_ai.system"
    attributes = [
        _attr("gen_ai.operation.name", call.operation),
        _attr(provider_key, call.provider),
        _attr("gen_ai.request.model", request_model),
        _attr("gen_ai.response.model", call.model),
        _attr("gen_ai.response.id", call.call_id),
        _attr("gen_ai.usage.input_tokens", int(call.input_tokens)),
        _attr("gen_ai.usage.output_tokens", int(call.output_tokens)),
        _attr("costline.request_id", call.request_id),
        _attr("costline.attempt", int(call.attempt)),
        _attr("costline.feature", call.feature),
    ]
    if call.cache_read_input_tokens:
        attributes.append(_attr("gen_ai.usage.cache_read.input_tokens", int(call.cache_read_input_tokens)))
    if call.cache_creation_input_tokens:
        attributes.append(_attr("gen_ai.usage.cache_creation.input_tokens", int(call.cache_creation_input_tokens)))
    for key, column in (
        ("costline.prompt_version", "prompt_version"),
        ("costline.project_id", "project_id"),
        ("costline.user_segment", "user_segment"),
    ):
        value = getattr(call, column)
        if _present(value):
            attributes.append(_attr(key, value))
    if isinstance(call.tags, dict):
        attributes += [_attr(f"costline.tag.{k}", v) for k, v in call.tags.items() if isinstance(v, str)]
    status: dict = {}
    if call.status == "error":
        attributes.append(_attr("error.type", call.error_type))
        status = {"code": STATUS_CODE_ERROR, "message": str(call.error_type)}
    if canary:
        attributes.append(
            _attr(
                "gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": canary}]}])
            )
        )
    return {
        "traceId": trace_id,
        "spanId": "".join(rng.choice(list("0123456789abcdef"), 16)),
        "parentSpanId": parent,
        "name": f"{call.operation} {request_model}",
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": attributes,
        "status": status,
    }
