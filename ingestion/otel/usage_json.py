"""Usage and cost objects carried as JSON text in span attributes (Langfuse's OTel spans).

Whichever shape the SDK passed on: OpenAI's usage (prompt_tokens with nested details, or the
Responses API's input_tokens_details), Anthropic's (input_tokens excluding the cache), or
Langfuse's own keys. Returned in costline's token semantics.
"""

import json
from collections.abc import Mapping
from typing import Any


def plain_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_object(text: Any) -> dict:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _num(d: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = d.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if plain_int(value) is not None:
            return value
    return None


def langfuse_usage(text: Any) -> dict[str, Any]:
    """Langfuse usage_details (JSON) to costline token fields, whichever shape it carries.

    The Langfuse SDK passes OpenAI's usage object as it is (prompt_tokens with nested details,
    or the Responses API's input_tokens with input_tokens_details), Anthropic's (input_tokens
    EXCLUDING cache_read/creation_input_tokens), or Langfuse's own keys, where `input` and
    `output` exclude the other `input_*` / `output_*` keys (cached, reasoning, audio tokens).
    """
    d = json_object(text)
    if not d:
        return {}
    out: dict[str, Any] = {}
    if "prompt_tokens" in d or "completion_tokens" in d:
        prompt, completion = (
            json_object(d.get("prompt_tokens_details")),
            json_object(d.get("completion_tokens_details")),
        )
        out = {
            "input_tokens": _num(d, "prompt_tokens"),
            "output_tokens": _num(d, "completion_tokens"),
            "cache_read_input_tokens": _num(prompt, "cached_tokens"),
            "reasoning_output_tokens": _num(completion, "reasoning_tokens"),
        }
    elif "input_tokens_details" in d or "output_tokens_details" in d:
        inp, outp = json_object(d.get("input_tokens_details")), json_object(d.get("output_tokens_details"))
        out = {
            "input_tokens": _num(d, "input_tokens"),
            "output_tokens": _num(d, "output_tokens"),
            "cache_read_input_tokens": _num(inp, "cached_tokens"),
            "reasoning_output_tokens": _num(outp, "reasoning_tokens"),
        }
    elif "input_tokens" in d:  # Anthropic's usage: input_tokens leaves the cached tokens out
        read = _num(d, "cache_read_input_tokens") or 0
        write = _num(d, "cache_creation_input_tokens") or 0
        base = _num(d, "input_tokens")
        out = {
            "input_tokens": None if base is None else base + read + write,
            "output_tokens": _num(d, "output_tokens"),
            "cache_read_input_tokens": read or None,
            "cache_creation_input_tokens": write or None,
        }
    elif "input" in d or "output" in d:
        extra_in = sum(v for k, v in d.items() if k.startswith("input_") and plain_int(v) is not None)
        extra_in += sum(_num(d, k) or 0 for k in ("cache_read_input_tokens", "cache_creation_input_tokens"))
        extra_out = sum(v for k, v in d.items() if k.startswith("output_") and plain_int(v) is not None)
        base_in, base_out = _num(d, "input"), _num(d, "output")
        out = {
            "input_tokens": None if base_in is None else base_in + extra_in,
            "output_tokens": None if base_out is None else base_out + extra_out,
            "cache_read_input_tokens": _num(d, "input_cached_tokens", "input_cache_read", "cache_read_input_tokens"),
            "cache_creation_input_tokens": _num(
                d, "input_cache_creation", "input_cache_write", "cache_creation_input_tokens"
            ),
            "reasoning_output_tokens": _num(d, "output_reasoning_tokens", "output_reasoning"),
        }
    return {k: v for k, v in out.items() if v is not None}


def langfuse_cost(text: Any) -> float | None:
    d = json_object(text)
    total = d.get("total")
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        return float(total) or None
    parts = [v for v in d.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return float(sum(parts)) if parts and sum(parts) else None
