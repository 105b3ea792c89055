"""A local fake of the OpenAI and Anthropic admin billing APIs, on pytest-httpserver.

It speaks the real shapes (buckets, results, has_more/next_page), paginates `limit` buckets
per page with opaque cursors, checks every request's auth headers and parameters, and can be
told to misbehave: a status with Retry-After, a slow answer, a truncated body, a cursor loop.
Requests that break the rules are recorded in `violations`; the fixture fails the test on
any that the test did not expect.
"""

import base64
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from demo.billing_pages import to_json_bytes

OPENAI_KEY = "sk-admin-CANARY-openai-7f3a9c1e5b"
ANTHROPIC_KEY = "sk-ant-admin01-CANARY-anthropic-2d8e4f"

ENDPOINTS = {
    "/v1/organization/costs": ("openai", "costs", ["project_id", "line_item"]),
    "/v1/organization/usage/completions": (
        "openai",
        "usage_completions",
        ["project_id", "model", "api_key_id", "batch", "service_tier"],
    ),
    "/v1/organizations/cost_report": ("anthropic", "cost_report", ["workspace_id", "description"]),
    "/v1/organizations/usage_report/messages": (
        "anthropic",
        "usage_report_messages",
        ["workspace_id", "model", "service_tier", "context_window", "inference_geo"],
    ),
}


@dataclass
class Fault:
    """One misbehaviour, used once, for the next request to an endpoint."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    sleep_s: float = 0.0  # answer this late (a client with a shorter read timeout gives up)
    truncate: bool = False  # send the first half of a good page
    body: bytes | None = None


@dataclass
class Seen:
    endpoint: str
    params: dict[str, list[str]]
    headers_ok: bool


class FakeBillingApi:
    def __init__(self, server: HTTPServer, *, openai_key: str = OPENAI_KEY, anthropic_key: str = ANTHROPIC_KEY):
        self.server = server
        self.keys = {"openai": openai_key, "anthropic": anthropic_key}
        # (endpoint, day) -> results, in the provider's own shape
        self.results: dict[str, dict[date, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.loop_cursor: set[str] = set()
        # Servers may return fewer buckets than `limit`; a small cap makes short windows paginate.
        self.max_buckets_per_page = 31
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.expected_violations = 0
        self._lock = threading.Lock()
        for path in ENDPOINTS:
            server.expect_request(path, method="GET").respond_with_handler(self._handle)

    @property
    def openai_base_url(self) -> str:
        return self.server.url_for("/v1")

    @property
    def anthropic_base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    # --- data -------------------------------------------------------------------------
    def openai_cost(self, day: date, project_id: str | None, line_item: str | None, value: str) -> None:
        """`value` is the exact JSON number text, e.g. "0.30000000000000004"."""
        self.results["costs"][day].append(
            {
                "object": "organization.costs.result",
                "amount": {"value": Decimal(value), "currency": "usd"},
                "line_item": line_item,
                "project_id": project_id,
            }
        )

    def openai_usage(
        self,
        day: date,
        project_id: str | None,
        model: str,
        api_key_id: str | None,
        *,
        input_tokens: int,
        output_tokens: int,
        cached: int = 0,
        requests: int = 1,
        batch: bool = False,
        service_tier: str = "default",
    ) -> None:
        self.results["usage_completions"][day].append(
            {
                "object": "organization.usage.completions.result",
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "input_cached_tokens": cached,
                "input_audio_tokens": 0,
                "output_audio_tokens": 0,
                "num_model_requests": requests,
                "project_id": project_id,
                "user_id": None,
                "api_key_id": api_key_id,
                "model": model,
                "batch": batch,
                "service_tier": service_tier,
            }
        )

    def anthropic_cost(
        self, day: date, workspace_id: str | None, description: str, cents: str, model: str | None = None
    ) -> None:
        self.results["cost_report"][day].append(
            {
                "currency": "USD",
                "amount": cents,
                "workspace_id": workspace_id,
                "description": description,
                "cost_type": "tokens",
                "context_window": "0-200k",
                "model": model,
                "service_tier": "standard",
                "token_type": "uncached_input_tokens",
            }
        )

    def anthropic_usage(
        self,
        day: date,
        workspace_id: str | None,
        model: str,
        *,
        uncached: int,
        output: int,
        cache_read: int = 0,
        cache_5m: int = 0,
        cache_1h: int = 0,
        service_tier: str = "standard",
        context_window: str = "0-200k",
        inference_geo: str = "not_available",
    ) -> None:
        self.results["usage_report_messages"][day].append(
            {
                "uncached_input_tokens": uncached,
                "cache_creation": {"ephemeral_1h_input_tokens": cache_1h, "ephemeral_5m_input_tokens": cache_5m},
                "cache_read_input_tokens": cache_read,
                "output_tokens": output,
                "server_tool_use": {"web_search_requests": 0},
                "api_key_id": None,
                "workspace_id": workspace_id,
                "model": model,
                "service_tier": service_tier,
                "context_window": context_window,
                "inference_geo": inference_geo,
            }
        )

    def fail_next(self, endpoint: str, *faults: Fault) -> None:
        self.faults[endpoint].extend(faults)

    def requests_to(self, endpoint: str) -> list[Seen]:
        return [s for s in self.seen if s.endpoint == endpoint]

    # --- serving ----------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        provider, endpoint, group_by = ENDPOINTS[request.path]
        params = request.args.to_dict(flat=False)
        headers_ok = self._headers_ok(provider, request)
        with self._lock:
            self.seen.append(Seen(endpoint, params, headers_ok))
            fault = self.faults[endpoint].popleft() if self.faults[endpoint] else None
        key = self.keys[provider]
        if key in request.url:
            self._violation(f"{endpoint}: the key is in the URL")
        if not headers_ok:
            self._violation(f"{endpoint}: missing or wrong auth headers")
            given = request.headers.get("x-api-key") or request.headers.get("Authorization", "")
            # Real APIs echo (part of) a wrong key; the client must scrub it from its errors.
            return _json_response(
                401, {"error": {"type": "authentication_error", "message": f"Incorrect API key provided: {given}"}}
            )
        problem = self._params_problem(provider, params, group_by)
        if problem:
            self._violation(f"{endpoint}: {problem}")
            return _json_response(400, {"error": {"message": problem}})
        if fault and fault.sleep_s:
            time.sleep(fault.sleep_s)
        if fault and (fault.status != 200 or fault.body is not None):
            return Response(
                fault.body or json.dumps({"error": {"message": f"fake {fault.status}"}}).encode(),
                status=fault.status,
                headers=fault.headers,
                content_type="application/json",
            )
        body = to_json_bytes(self._page(provider, endpoint, params))
        if fault and fault.truncate:
            body = body[: len(body) // 2]
        return Response(body, status=200, content_type="application/json")

    def _headers_ok(self, provider: str, request: Request) -> bool:
        key = self.keys[provider]
        if provider == "openai":
            return request.headers.get("Authorization") == f"Bearer {key}"
        return (
            request.headers.get("x-api-key") == key
            and request.headers.get("anthropic-version") == "2023-06-01"
            and "Authorization" not in request.headers
        )

    def _params_problem(self, provider: str, params: dict[str, list[str]], group_by: list[str]) -> str | None:
        if params.get("group_by[]") != group_by:
            return f"group_by[] is {params.get('group_by[]')}, expected {group_by}"
        if params.get("bucket_width") != ["1d"]:
            return f"bucket_width is {params.get('bucket_width')}"
        try:
            self._window(provider, params)
        except (KeyError, ValueError) as exc:
            return f"bad time window: {exc}"
        return None

    def _window(self, provider: str, params: dict[str, list[str]]) -> tuple[date, date]:
        """[first day, day after the last] the request asks for."""
        if provider == "openai":
            start, end = (datetime.fromtimestamp(int(params[p][0]), UTC) for p in ("start_time", "end_time"))
        else:
            start, end = (
                datetime.fromisoformat(params[p][0].replace("Z", "+00:00")) for p in ("starting_at", "ending_at")
            )
        return start.date(), end.date()

    def _page(self, provider: str, endpoint: str, params: dict[str, list[str]]) -> dict:
        first, stop = self._window(provider, params)
        limit = min(int(params.get("limit", ["7"])[0]), self.max_buckets_per_page)
        days = [first + timedelta(days=n) for n in range((stop - first).days)]
        offset = int(base64.b64decode(params["page"][0]).decode().split(":")[1]) if "page" in params else 0
        chunk = days[offset : offset + limit]
        has_more = offset + limit < len(days)
        cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else None
        if endpoint in self.loop_cursor:
            has_more, cursor = True, base64.b64encode(b"offset:0").decode()
        buckets = [self._bucket(provider, endpoint, day) for day in chunk]
        if provider == "openai":
            return {"object": "page", "data": buckets, "has_more": has_more, "next_page": cursor}
        return {"data": buckets, "has_more": has_more, "next_page": cursor}

    def _bucket(self, provider: str, endpoint: str, day: date) -> dict:
        results = list(self.results[endpoint].get(day, []))
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if provider == "openai":
            return {
                "object": "bucket",
                "start_time": int(start.timestamp()),
                "end_time": int((start + timedelta(days=1)).timestamp()),
                "results": results,
            }
        return {
            "starting_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ending_at": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "results": results,
        }

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)


def _json_response(status: int, payload: dict) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


@pytest.fixture(scope="session")
def billing_http_server():
    # Threaded: a handler sleeping past the client's timeout must not block the retry.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def fake_api(billing_http_server):
    billing_http_server.clear()
    api = FakeBillingApi(billing_http_server)
    yield api
    assert len(api.violations) == api.expected_violations, api.violations
    billing_http_server.check_assertions()
