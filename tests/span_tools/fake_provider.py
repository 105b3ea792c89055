"""A local fake of the OpenAI and Anthropic HTTP APIs, answering scripted calls.

Standard library only: it runs inside costline's test process and inside the span tool
environment alike. The response bodies follow the SDK types of the pinned packages
(openai 3.x `ChatCompletion` / `CompletionUsage` / `CreateEmbeddingResponse`, anthropic 2.x
`Message` / `Usage` / `OutputTokensDetails`, and both SDKs' error envelopes).

A request picks its scenario by the text of its last message (or the embedding input): the
text is a key of `SCENARIOS`. Each scenario says what the provider answers; the token counts
in it are what the tests price independently with genai_prices.

    OpenAI usage:    prompt_tokens INCLUDES cached_tokens; completion_tokens INCLUDES reasoning_tokens.
    Anthropic usage: input_tokens EXCLUDES cache_creation_input_tokens and cache_read_input_tokens;
                     output_tokens INCLUDES output_tokens_details.thinking_tokens.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scenario:
    provider: str  # "openai" | "anthropic"
    operation: str  # "chat" | "embeddings": the operation costline records
    request_model: str
    response_model: str | None = None  # None for the error scenarios
    response_id: str | None = None
    # OpenAI: prompt (incl. cached), cached, completion (incl. reasoning), reasoning.
    # Anthropic: input (excl. cache), cache_creation, cache_read, output (incl. thinking), thinking.
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    error_status: int | None = None  # an HTTP error answered for every attempt
    error_type: str | None = None
    workspace: str | None = None  # costline.workspace the caller tags the call with
    feature: str | None = None  # costline.feature the caller tags the call with
    api: str = ""  # "responses": the OpenAI Responses API instead of Chat Completions

    @property
    def total_input_tokens(self) -> int:
        """Input as costline counts it: including cache reads and writes."""
        if self.provider == "anthropic":
            return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens
        return self.input_tokens

    @property
    def uncached_input_tokens(self) -> int:
        return self.total_input_tokens - self.cache_read_tokens - self.cache_creation_tokens


SCENARIOS: dict[str, Scenario] = {
    # ---------------------------------------------------------------- OpenAI
    "openai-cached": Scenario(
        "openai",
        "chat",
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "chatcmpl-costline0001",
        input_tokens=1200,
        cache_read_tokens=1024,
        output_tokens=300,
        workspace="search",
        feature="answer",
    ),
    "openai-reasoning": Scenario(
        "openai",
        "chat",
        "o3-mini",
        "o3-mini-2025-01-31",
        "chatcmpl-costline0002",
        input_tokens=500,
        output_tokens=900,
        reasoning_tokens=600,
        workspace="search",
        feature="rerank",
    ),
    "openai-untagged": Scenario(
        "openai",
        "chat",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "chatcmpl-costline0003",
        input_tokens=2000,
        cache_read_tokens=1536,
        output_tokens=50,
    ),
    "openai-responses": Scenario(
        "openai",
        "chat",
        "o4-mini",
        "o4-mini-2025-04-16",
        "resp_costline0005",
        input_tokens=3000,
        cache_read_tokens=2048,
        output_tokens=700,
        reasoning_tokens=400,
        workspace="search",
        feature="plan",
        api="responses",
    ),
    "openai-embedding": Scenario(
        "openai",
        "embeddings",
        "text-embedding-3-small",
        "text-embedding-3-small",
        None,
        input_tokens=42,
        workspace="search",
        feature="index",
    ),
    "openai-bad-request": Scenario(
        "openai",
        "chat",
        "gpt-4o",
        error_status=400,
        error_type="invalid_request_error",
        workspace="search",
        feature="answer",
    ),
    "openai-overloaded": Scenario(
        "openai",
        "chat",
        "gpt-4o",
        error_status=429,
        error_type="rate_limit_error",
        workspace="search",
        feature="answer",
    ),
    # ---------------------------------------------------------------- Anthropic
    "anthropic-cache-write": Scenario(
        "anthropic",
        "chat",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "msg_costline0001",
        input_tokens=300,
        cache_creation_tokens=2000,
        output_tokens=400,
        workspace="support",
        feature="triage",
    ),
    "anthropic-cache-read-thinking": Scenario(
        "anthropic",
        "chat",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "msg_costline0002",
        input_tokens=100,
        cache_read_tokens=2000,
        output_tokens=1200,
        reasoning_tokens=800,
        workspace="support",
        feature="draft",
    ),
    "anthropic-untagged": Scenario(
        "anthropic",
        "chat",
        "claude-haiku-4-5",
        "claude-haiku-4-5-20251001",
        "msg_costline0003",
        input_tokens=800,
        output_tokens=60,
    ),
    "anthropic-bad-request": Scenario(
        "anthropic",
        "chat",
        "claude-sonnet-4-5",
        error_status=400,
        error_type="invalid_request_error",
        workspace="support",
        feature="triage",
    ),
    "anthropic-overloaded": Scenario(
        "anthropic",
        "chat",
        "claude-sonnet-4-5",
        error_status=500,
        error_type="api_error",
        workspace="support",
        feature="triage",
    ),
}


def scenarios_for(provider: str) -> list[tuple[str, Scenario]]:
    return [(name, s) for name, s in SCENARIOS.items() if s.provider == provider]


def _openai_chat(s: Scenario) -> dict[str, Any]:
    return {
        "id": s.response_id,
        "object": "chat.completion",
        "created": 1765094400,
        "model": s.response_model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": s.input_tokens,
            "completion_tokens": s.output_tokens,
            "total_tokens": s.input_tokens + s.output_tokens,
            "prompt_tokens_details": {"cached_tokens": s.cache_read_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": s.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_costline",
    }


def _openai_response(s: Scenario) -> dict[str, Any]:
    return {
        "id": s.response_id,
        "object": "response",
        "created_at": 1765094400,
        "status": "completed",
        "model": s.response_model,
        "output": [
            {
                "type": "message",
                "id": "msg_costline_out",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok", "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": s.input_tokens,
            "input_tokens_details": {"cached_tokens": s.cache_read_tokens, "cache_write_tokens": 0},
            "output_tokens": s.output_tokens,
            "output_tokens_details": {"reasoning_tokens": s.reasoning_tokens},
            "total_tokens": s.input_tokens + s.output_tokens,
        },
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "service_tier": "default",
    }


def _openai_embeddings(s: Scenario) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}],
        "model": s.response_model,
        "usage": {"prompt_tokens": s.input_tokens, "total_tokens": s.input_tokens},
    }


def _anthropic_message(s: Scenario) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": s.input_tokens,
        "cache_creation_input_tokens": s.cache_creation_tokens,
        "cache_read_input_tokens": s.cache_read_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": s.cache_creation_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": s.output_tokens,
        "service_tier": "standard",
    }
    if s.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": s.reasoning_tokens}
    return {
        "id": s.response_id,
        "type": "message",
        "role": "assistant",
        "model": s.response_model,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def _error_body(s: Scenario) -> dict[str, Any]:
    message = f"scripted {s.error_status} from the costline fake provider"
    if s.provider == "anthropic":
        return {"type": "error", "error": {"type": s.error_type, "message": message}, "request_id": "req_costline"}
    return {"error": {"message": message, "type": s.error_type, "param": None, "code": None}}


def _scenario_key(body: dict[str, Any]) -> str | None:
    if "input" in body:  # embeddings, responses
        value = body["input"]
        return value[0] if isinstance(value, list) else value
    messages = body.get("messages") or []
    if not messages:
        return None
    content = messages[-1].get("content")
    if isinstance(content, list):  # Anthropic content blocks
        content = next((b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"), None)
    return content


class _Handler(BaseHTTPRequestHandler):
    server_version = "costline-fake-provider/1"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_costline")
        self.send_header("request-id", "req_costline")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"error": {"message": "not JSON", "type": "invalid_request_error"}})
        key = _scenario_key(body)
        s = SCENARIOS.get(key or "")
        # A client whose base URL has a first path segment before /v1 (make_spans uses the
        # dialect) gets response ids ending in it, so the files of several runs can share a
        # warehouse without their calls looking like the same call.
        parts = self.path.strip("/").split("/")
        run = parts[0] if parts and parts[0] != "v1" else None
        self.server.requests.append((self.path, key))  # type: ignore[attr-defined]
        if s is None:
            return self._send(404, {"error": {"message": f"no scenario {key!r}", "type": "not_found_error"}})
        if s.error_status is not None:
            # retry-after-ms keeps the SDKs' retry of a 429/5xx fast (both SDKs read it).
            return self._send(s.error_status, _error_body(s), {"retry-after-ms": "10"})
        if s.response_id and run:
            s = dataclasses.replace(s, response_id=f"{s.response_id}-{run}")
        if self.path.endswith("/v1/chat/completions"):
            return self._send(200, _openai_chat(s))
        if self.path.endswith("/v1/responses"):
            return self._send(200, _openai_response(s))
        if self.path.endswith("/v1/embeddings"):
            return self._send(200, _openai_embeddings(s))
        if self.path.endswith("/v1/messages"):
            return self._send(200, _anthropic_message(s))
        return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found_error"}})


class FakeProvider:
    """`with FakeProvider() as url:` serves on 127.0.0.1 on a free port; `.requests` lists (path, scenario)."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        return self.server.requests  # type: ignore[attr-defined]

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    with FakeProvider() as provider:
        print(provider.url, flush=True)
        threading.Event().wait()
