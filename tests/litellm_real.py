"""Payloads and spend-log rows made by the real `litellm` package, offline.

Every call runs through litellm's own code paths: `litellm.completion` / `litellm.embedding`
with `mock_response` (OpenAI chat shapes, a failure raised as a litellm exception), and an
Anthropic call and an OpenAI embedding answered by a local HTTP server speaking those APIs, so
litellm's own provider code turns the provider's usage into its own (Anthropic's cache
tokens; litellm's mock embedding would always say 10 tokens). A `CustomLogger` captures the
`standard_logging_object` (the StandardLoggingPayload) of each success and failure, with the
kwargs litellm hands its loggers. Then:

- `payload_lines` writes the payloads as LiteLLM's S3 logger writes a batch file
  (`s3_batch_file_upload`: its own `_build_batch_file_element`, `safe_dumps` per line);
- `spend_log_rows` turns the same kwargs and responses into `"LiteLLM_SpendLogs"` rows with the
  proxy's own `get_logging_payload` (spend_tracking_utils), as the proxy does before its insert.

litellm never reaches the network: its cost map is the local copy bundled in the package
(`LITELLM_LOCAL_MODEL_COST_MAP`), telemetry is off, and every call is mocked or local.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Every remote file litellm would fetch at import or on first use: read its bundled copy.
for _local in (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS",
    "LITELLM_LOCAL_BLOG_POSTS",
    "LITELLM_LOCAL_POLICY_TEMPLATES",
):
    os.environ.setdefault(_local, "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")  # catalogs, checks, tokenizers: bundled or skipped
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
os.environ.setdefault("LITELLM_LOG", "ERROR")
os.environ.setdefault("DO_NOT_TRACK", "1")

# litellm's TypedDicts use ReadOnly items, which pydantic warns about once per class.
warnings.filterwarnings("ignore", message=".*ReadOnly.*", category=UserWarning)

import litellm  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

litellm.telemetry = False
litellm.suppress_debug_info = True

# The proxy's metadata keys, as its auth layer stamps them on every request.
SUPPORT = {
    "user_api_key_team_alias": "support",
    "user_api_key_team_id": "team-1",
    "user_api_key_alias": "prod-key",
    "tags": ["support_bot"],
}
BATCH = {"user_api_key_team_id": "team-42", "user_api_key_alias": "nightly-batch"}
UNTAGGED: dict = {}

ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
ANTHROPIC_USAGE = {
    "input_tokens": 1000,
    "cache_creation_input_tokens": 500,
    "cache_read_input_tokens": 3000,
    "output_tokens": 400,
}


@dataclass
class Call:
    """One logged call: what litellm handed its loggers."""

    kind: str  # "success" or "failure"
    kwargs: dict
    response: object
    start_time: datetime
    end_time: datetime

    @property
    def payload(self) -> dict:
        return self.kwargs["standard_logging_object"]

    @property
    def key(self) -> tuple[str, str, bool]:
        """(kind, model, served from litellm's cache): names each of the calls. (litellm logs
        a cache hit's model as the `openai/gpt-4.1-mini` route.)"""
        model = self.payload["model"].removeprefix(f"{self.payload['custom_llm_provider']}/")
        return (self.kind, model, bool(self.payload["cache_hit"]))


class Capture(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.calls.append(Call("success", kwargs, response_obj, start_time, end_time))

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self.calls.append(Call("failure", kwargs, response_obj, start_time, end_time))


EMBEDDING_TOKENS = 4000
CALLS = 7


class _ProviderHandler(BaseHTTPRequestHandler):
    """Answers as Anthropic's Messages API and OpenAI's embeddings API do."""

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.endswith("/embeddings"):
            body = json.dumps(
                {
                    "object": "list",
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                    "model": request.get("model"),
                    "usage": {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS},
                }
            ).encode()
        else:
            body = self._message(request)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    @staticmethod
    def _message(request: dict) -> bytes:
        return json.dumps(
            {
                "id": "msg_01costlinecache",
                "type": "message",
                "role": "assistant",
                "model": request.get("model", ANTHROPIC_MODEL),
                "content": [{"type": "text", "text": "Here is the summary."}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": ANTHROPIC_USAGE,
            }
        ).encode()

    def log_message(self, *args):
        pass


def _chat_response(rid: str, model: str, usage: dict) -> dict:
    return {
        "id": rid,
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
        "usage": usage,
    }


@functools.cache
def make_calls() -> tuple[Call, ...]:
    """Seven calls through litellm: OpenAI chat with cached and reasoning tokens, Anthropic with
    cache writes and reads, an embedding, an untagged chat, a rate-limited failure, and a request
    made twice with litellm's cache on (the second answered from the cache).

    Made once per process (litellm keeps its callback state globally): every test reads the
    same calls."""
    capture = Capture()
    saved = litellm.callbacks
    litellm.callbacks = [capture]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProviderHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    messages = [{"role": "user", "content": "Summarise the ticket."}]
    try:
        litellm.completion(
            model="openai/o3-mini",
            messages=messages,
            metadata=dict(SUPPORT),
            mock_response=_chat_response(
                "chatcmpl-costline-1",
                "o3-mini-2025-01-31",
                {
                    "prompt_tokens": 1200,
                    "completion_tokens": 300,
                    "total_tokens": 1500,
                    "prompt_tokens_details": {"cached_tokens": 1024},
                    "completion_tokens_details": {"reasoning_tokens": 120},
                },
            ),
        )
        litellm.completion(
            model=f"anthropic/{ANTHROPIC_MODEL}",
            messages=messages,
            metadata=dict(BATCH),
            api_base=f"http://127.0.0.1:{server.server_address[1]}",
            api_key="sk-ant-costline-test",
        )
        litellm.embedding(
            model="text-embedding-3-small",
            input=["Refunds are issued within 14 days of a return."],
            metadata=dict(SUPPORT),
            api_base=f"http://127.0.0.1:{server.server_address[1]}/v1",
            api_key="sk-costline-test",
        )
        litellm.completion(
            model="gpt-4o-mini",
            messages=messages,
            metadata=dict(UNTAGGED),
            mock_response=_chat_response(
                "chatcmpl-costline-4",
                "gpt-4o-mini-2024-07-18",
                {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
            ),
        )
        try:
            litellm.completion(
                model="gpt-4o-mini",
                messages=messages,
                metadata=dict(SUPPORT),
                num_retries=0,
                mock_response=litellm.exceptions.RateLimitError(
                    "slow down", llm_provider="openai", model="gpt-4o-mini"
                ),
            )
        except litellm.exceptions.RateLimitError:
            pass
        # The same request twice with litellm's own cache on: the second is a cache hit.
        litellm.cache = litellm.Cache(type="local")
        try:
            for _ in range(2):
                litellm.completion(
                    model="gpt-4.1-mini",
                    messages=[{"role": "user", "content": "What is the refund window?"}],
                    caching=True,
                    metadata=dict(SUPPORT),
                    mock_response=_chat_response(
                        "chatcmpl-costline-cached",
                        "gpt-4.1-mini-2025-04-14",
                        {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
                    ),
                )
        finally:
            litellm.cache = None
        # Success and failure handlers run on litellm's logging threads: wait for all of them.
        for _ in range(200):
            if len(capture.calls) >= CALLS:
                break
            threading.Event().wait(0.05)
    finally:
        litellm.callbacks = saved
        server.shutdown()
        server.server_close()
    assert len(capture.calls) == CALLS, f"litellm logged {len(capture.calls)} of {CALLS} calls"
    return tuple(sorted(capture.calls, key=lambda c: c.payload["startTime"]))


def payload_lines(calls: list[Call]) -> str:
    """The payloads as one `.jsonl` batch file of LiteLLM's S3 logger (s3_batch_file_upload)."""
    from litellm.integrations.s3_v2 import S3Logger
    from litellm.types.integrations.s3_v2 import s3BatchLoggingElement

    elements = tuple(
        s3BatchLoggingElement(
            payload=dict(c.payload), s3_object_key=f"logs/{c.payload['id']}.json", s3_object_download_filename="x"
        )
        for c in calls
    )
    # Its own batch builder (it reads nothing of the logger's state).
    element = S3Logger._build_batch_file_element(None, elements, "logs", datetime.now(UTC))
    assert element.s3_object_key.endswith(".jsonl")
    return element.body + "\n"


def spend_log_rows(calls: list[Call]) -> list[dict]:
    """`"LiteLLM_SpendLogs"` rows from the proxy's own `get_logging_payload`."""
    from litellm.proxy.spend_tracking.spend_tracking_utils import get_logging_payload

    rows = []
    for c in calls:
        kwargs = c.kwargs
        if c.kind == "failure":
            # The proxy's failure hook (proxy_track_cost_callback) stamps these before it builds the row.
            params = dict(kwargs["litellm_params"])
            params["metadata"] = {
                **(params.get("metadata") or {}),
                "status": "failure",
                "error_information": c.payload["error_information"],
            }
            kwargs = {**kwargs, "litellm_params": params}
        rows.append(dict(get_logging_payload(kwargs, c.response, c.start_time, c.end_time)))
    return rows


SPEND_LOG_COLUMNS = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "organization_id",
    "end_user",
    "requester_ip_address",
    "session_id",
    "request_duration_ms",
    "status",
)


def insert_spend_logs(pg, rows: list[dict]) -> None:
    """Insert the rows the way the proxy's writer does: its payload keys are the columns;
    metadata and request_tags are JSON text; times are UTC wall times."""
    names = ", ".join(f'"{c}"' for c in SPEND_LOG_COLUMNS)
    marks = ", ".join("%s" for _ in SPEND_LOG_COLUMNS)
    for row in rows:
        values = []
        for c in SPEND_LOG_COLUMNS:
            v = row.get(c)
            if isinstance(v, datetime):
                v = v.astimezone(UTC).replace(tzinfo=None)
            values.append(v)
        pg.execute(f'insert into "LiteLLM_SpendLogs" ({names}) values ({marks})', values)
