"""The dialect tables: spans as each tracing library writes them become the same calls.

Hand-built spans here pin the mapping rules one by one (fast, no dbt). The spans the real
libraries write are ingested in tests/test_otel_real_spans.py.
"""

import json
import re
from pathlib import Path

import pytest
from ingestion_helpers import DAY, assert_ledger_reconciles, make_paths, otlp_attrs, rows, telemetry_folder

from ingestion.otel.dialects import COSTLINE, DIALECTS, TOTAL_TOKEN_ATTRIBUTES
from ingestion.otel.spans import flatten_export_request
from ingestion.otel.tagging import Tagging
from ingestion.sources.telemetry_files import load_telemetry_folder
from ingestion.warehouse import connect

REPO = Path(__file__).resolve().parents[1]
T0 = 1_790_856_000_000_000_000  # 2026-10-01T12:00:00Z


def span(span_id: str, attrs: dict, *, trace: str = "a" * 32, parent: str = "", start: int = T0, ms: int = 800,
         status: dict | None = None) -> dict:  # fmt: skip
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + ms * 1_000_000),
        "attributes": otlp_attrs(attrs),
        "status": status or {},
    }


def request(*scopes: tuple[str, list[dict]], resource: dict | None = None) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attrs(resource or {"service.name": "search-api"})},
                "scopeSpans": [{"scope": {"name": name}, "spans": spans} for name, spans in scopes],
            }
        ]
    }


def one(attrs: dict, scope: str = "opentelemetry.instrumentation.openai_v2", **kw) -> dict:
    [record] = flatten_export_request(request((scope, [span("b" * 16, attrs, **kw)])))
    return {k: v for k, v in record.items() if not k.startswith("_")}


# --- one dialect at a time ------------------------------------------------------------------


def test_current_otel_genai():
    r = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 1024,
            "gen_ai.usage.reasoning.output_tokens": 120,
            "openai.response.service_tier": "default",
        }
    )
    assert r["call_id"] == "chatcmpl-1" and r["model"] == "gpt-4o-2024-08-06" and r["provider"] == "openai"
    assert (r["input_tokens"], r["output_tokens"], r["cache_read_input_tokens"], r["reasoning_output_tokens"]) == (
        1200,
        300,
        1024,
        120,
    )
    assert r["workspace"] == "search-api" and "feature" not in r  # service.name; no feature -> (untagged) in SQL
    assert r["request_id"] == "a" * 32 and r["duration_ms"] == 800.0


def test_the_served_tier_wins_over_the_requested_one_which_stands_in_without_it():
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-5",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 1,
    }
    assert one({**base, "openai.request.service_tier": "flex"})["service_tier"] == "flex"
    both = {**base, "openai.request.service_tier": "auto", "openai.response.service_tier": "priority"}
    assert one(both)["service_tier"] == "priority"
    assert "service_tier" not in one(base)  # not reported: ingestion stores UNREPORTED_TIER


def test_older_semantic_conventions():
    r = one(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 50,
            "gen_ai.usage.completion_tokens": 7,
        }
    )
    assert (r["provider"], r["model"], r["input_tokens"], r["output_tokens"]) == ("openai", "gpt-4o-mini", 50, 7)
    assert r["call_id"] == "b" * 16  # no response id: the span id


def test_anthropic_sdk_cache_writes_and_attempts():
    r = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.response.id": "msg_01",
            "gen_ai.usage.input_tokens": 5300,  # 100 + 200 read + 5000 written: already summed
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.cache_read.input_tokens": 200,
            "gen_ai.usage.cache_write.input_tokens": 5000,
            "anthropic.workspace.id": "wrkspc_01",
            "http.request.resend_count": 2,
        },
        scope="com.anthropic.sdk.python",
    )
    assert (r["input_tokens"], r["cache_read_input_tokens"], r["cache_creation_input_tokens"]) == (5300, 200, 5000)
    assert r["project_id"] == "wrkspc_01" and r["attempt"] == 3


def test_old_openllmetry_anthropic():
    r = one(
        {
            "gen_ai.system": "Anthropic",
            "llm.request.type": "chat",
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.usage.prompt_tokens": 900,
            "gen_ai.usage.completion_tokens": 40,
            "gen_ai.usage.cache_read_input_tokens": 600,
            "gen_ai.usage.cache_creation_input_tokens": 200,
            "llm.usage.total_tokens": 940,
        },
        scope="opentelemetry.instrumentation.anthropic",
    )
    assert r["provider"] == "anthropic" and r["operation"] == "chat"
    assert (r["input_tokens"], r["cache_read_input_tokens"], r["cache_creation_input_tokens"]) == (900, 600, 200)


def test_openinference_llm_spans_are_calls():
    r = one(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.token_count.prompt": 400,
            "llm.token_count.completion": 60,
            "llm.token_count.prompt_details.cache_read": 256,
            "llm.token_count.completion_details.reasoning": 20,
            "llm.token_count.total": 460,
            "llm.cost.total": 0.0016,
        },
        scope="openinference.instrumentation.openai",
    )
    assert (r["provider"], r["model"], r["input_tokens"], r["output_tokens"]) == (
        "openai",
        "gpt-4o-2024-08-06",
        400,
        60,
    )
    assert r["cache_read_input_tokens"] == 256 and r["reasoning_output_tokens"] == 20
    assert r["cost_usd"] == 0.0016


def test_openinference_input_from_total_when_prompt_count_is_missing():
    r = one(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "llm.token_count.total": 42,
            "llm.token_count.completion": 0,
        },
        scope="openinference.instrumentation.openai",
    )
    assert (r["provider"], r["operation"], r["input_tokens"]) == ("openai", "embeddings", 42)


def test_openlit_zero_cost_is_not_a_price_and_anthropic_input_gets_its_cache_back():
    r = one(
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 100,  # Anthropic's own count: cache excluded
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 2000,
            "gen_ai.usage.cache_creation.input_tokens": 300,
            "gen_ai.usage.cost": 0.0,
        },
        scope="openlit.otel.tracing",
    )
    assert r["input_tokens"] == 2400 and "cost_usd" not in r


def test_openlit_openai_input_is_kept_as_it_is():
    r = one(
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 10,
            "gen_ai.usage.prompt_tokens_details.cached_tokens": 512,
            "gen_ai.usage.cost": 0.0031,
        },
        scope="openlit.otel.tracing",
    )
    assert (r["input_tokens"], r["cache_read_input_tokens"], r["cost_usd"]) == (1000, 512, 0.0031)


def test_langfuse_usage_details_exclude_cached_and_reasoning_keys():
    r = one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.usage_details": json.dumps(
                {"input": 300, "input_cached_tokens": 700, "output": 40, "output_reasoning_tokens": 60}
            ),
            "langfuse.observation.cost_details": json.dumps({"total": 0}),
            "langfuse.observation.prompt.name": "answer",
            "langfuse.observation.prompt.version": 4,
        },
        scope="langfuse-sdk",
    )
    assert (r["input_tokens"], r["output_tokens"]) == (1000, 100)
    assert (r["cache_read_input_tokens"], r["reasoning_output_tokens"]) == (700, 60)
    assert r["provider"] == "openai" and "cost_usd" not in r and r["prompt_version"] == "answer@4"


def test_agent_and_tool_spans_are_not_calls():
    agent = span("c" * 16, {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 9999})
    assert flatten_export_request(request(("x", [agent]))) == []


# --- errors and tags ------------------------------------------------------------------------


def test_an_error_span_is_an_error_call_with_zero_tokens_and_unknown_model():
    r = one({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "error.type": "RateLimitError"})
    assert (r["status"], r["error_type"], r["model"], r["input_tokens"], r["output_tokens"]) == (
        "error",
        "RateLimitError",
        "(unknown)",
        0,
        0,
    )
    by_status = one(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        status={"code": 2, "message": "Connection refused"},
    )
    assert (by_status["status"], by_status["error_type"], by_status["provider"]) == (
        "error",
        "Connection refused",
        "openai",
    )


def test_workspace_and_feature_attributes_are_configurable(monkeypatch):
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "team": "risk", "app.feature": "kyc"}
    monkeypatch.setenv("COSTLINE_WORKSPACE_ATTRIBUTES", "team, service.name")
    monkeypatch.setenv("COSTLINE_FEATURE_ATTRIBUTES", "app.feature")
    [r] = flatten_export_request(request(("s", [span("d" * 16, attrs)])), Tagging.from_env())
    assert (r["workspace"], r["feature"]) == ("risk", "kyc")
    monkeypatch.setenv("COSTLINE_WORKSPACE_ATTRIBUTES", "")  # empty: the defaults
    monkeypatch.delenv("COSTLINE_FEATURE_ATTRIBUTES")
    assert Tagging.from_env() == Tagging()


# --- two spans of one call ------------------------------------------------------------------

OPENAI_V2 = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 400,
    "gen_ai.usage.output_tokens": 60,
    "costline.feature": "answers",
}
OPENINFERENCE = {
    "openinference.span.kind": "LLM",
    "llm.provider": "openai",
    "llm.model_name": "gpt-4o-2024-08-06",
    "llm.token_count.prompt": 400,
    "llm.token_count.completion": 60,
}
ANTHROPIC_SDK = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.response.id": "msg_01",
    "gen_ai.usage.input_tokens": 5300,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_write.input_tokens": 5000,
}
TRACELOOP = {
    "gen_ai.system": "Anthropic",
    "llm.request.type": "chat",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.response.id": "msg_01",
    "gen_ai.usage.prompt_tokens": 5300,
    "gen_ai.usage.completion_tokens": 80,
    "gen_ai.usage.cache_creation_input_tokens": 5000,
}


def load(tmp_path, *lines) -> tuple[list[tuple], list[tuple], tuple]:
    paths = make_paths(tmp_path)
    (telemetry_folder(paths) / "spans.otlp.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with connect(paths.warehouse_db) as con:
        load_telemetry_folder(con, paths, DAY, "t")
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")
        calls = rows(
            con,
            "select call_id, provider, model, input_tokens, cache_creation_input_tokens, feature "
            "from raw.telemetry_calls order by call_id",
        )
        quarantined = rows(con, "select reason from raw.quarantine")
        ledger = rows(con, "select records_read, accepted, quarantined, duplicates from raw.source_files")[0]
    return calls, quarantined, ledger


def test_the_sdk_span_and_the_instrumentation_span_of_one_call_count_once(tmp_path):
    # Traceloop's span wraps the SDK's: same response id, parent and child.
    outer = span("1" * 16, TRACELOOP)
    inner = span("2" * 16, ANTHROPIC_SDK, parent="1" * 16, start=T0 + 1_000_000, ms=790)
    calls, quarantined, ledger = load(
        tmp_path,
        request(("opentelemetry.instrumentation.anthropic", [outer]), ("com.anthropic.sdk.python", [inner])),
    )
    assert quarantined == []
    # The SDK span ranks higher; the Traceloop span counts as its duplicate.
    assert calls == [("msg_01", "anthropic", "claude-sonnet-4-5-20250929", 5300, 5000, "(untagged)")]
    assert ledger == (2, 1, 0, 1)


def test_overlapping_sibling_spans_of_two_libraries_count_once(tmp_path):
    # openai-v2 and OpenInference both instrument the client: siblings, no shared id.
    a = span("3" * 16, OPENAI_V2, parent="9" * 16)
    b = span("4" * 16, OPENINFERENCE, parent="9" * 16, start=T0 + 2_000_000, ms=795)
    calls, quarantined, ledger = load(
        tmp_path,
        request(("opentelemetry.instrumentation.openai_v2", [a])),
        request(("openinference.instrumentation.openai", [b])),  # another export line
    )
    assert quarantined == [] and ledger == (2, 1, 0, 1)
    assert calls == [("3" * 16, "openai", "gpt-4o-2024-08-06", 400, 0, "answers")]


def test_two_parallel_calls_of_one_library_stay_two_calls(tmp_path):
    a = span("5" * 16, OPENAI_V2, parent="9" * 16)
    b = span("6" * 16, OPENAI_V2, parent="9" * 16, start=T0 + 1_000_000)
    calls, quarantined, ledger = load(tmp_path, request(("opentelemetry.instrumentation.openai_v2", [a, b])))
    assert len(calls) == 2 and quarantined == [] and ledger == (2, 2, 0, 0)


def test_one_response_id_in_two_unrelated_traces_counts_once_without_conflict(tmp_path):
    sdk = span("7" * 16, ANTHROPIC_SDK, trace="c" * 32)
    loop = span("8" * 16, TRACELOOP, trace="d" * 32)
    calls, quarantined, ledger = load(
        tmp_path, request(("opentelemetry.instrumentation.anthropic", [loop]), ("com.anthropic.sdk.python", [sdk]))
    )
    assert quarantined == [] and ledger == (2, 1, 0, 1) and [c[0] for c in calls] == ["msg_01"]


def test_sibling_spans_that_do_not_overlap_are_two_calls(tmp_path):
    a = span("a1" * 8, OPENAI_V2, parent="9" * 16, ms=100)
    b = span("b1" * 8, OPENINFERENCE, parent="9" * 16, start=T0 + 500_000_000, ms=100)
    calls, _, ledger = load(
        tmp_path,
        request(("opentelemetry.instrumentation.openai_v2", [a]), ("openinference.instrumentation.openai", [b])),
    )
    assert len(calls) == 2 and ledger == (2, 2, 0, 0)


# --- the docs list every name ---------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_every_attribute_of_a_dialect_is_documented(dialect):
    doc = (REPO / "docs" / "OTEL_DIALECTS.md").read_text()
    section = re.search(rf"^### {dialect.name}\n(.*?)(?=^### |\Z)", doc, re.S | re.M)
    assert section, f"docs/OTEL_DIALECTS.md has no section for {dialect.name}"
    for field, names in dialect.fields.items():
        for name in names:
            assert f"`{name}`" in section.group(1), f"{dialect.name}: {field} <- {name} is not documented"


def test_costline_attributes_are_documented():
    doc = (REPO / "docs" / "OTEL_DIALECTS.md").read_text()
    for names in (*COSTLINE.values(), TOTAL_TOKEN_ATTRIBUTES, Tagging().workspace, Tagging().feature):
        for name in names:
            assert name in doc, name


def test_the_model_name_rule_is_the_same_in_python_and_sql():
    import duckdb

    from ingestion.model_providers import provider_of_model, provider_of_model_sql

    names = ["gpt-4o", "openai/o3-mini", "Claude-Sonnet-4-5", "gemini-2.5-pro", "mistral-large", "llama-3", ""]
    with duckdb.connect() as con:
        got = con.execute(
            f"select m, {provider_of_model_sql('m')} from unnest($names) t(m) order by m", {"names": names}
        ).fetchall()
    assert got == sorted((n, provider_of_model(n)) for n in names)
    assert dict(got)["openai/o3-mini"] == "openai" and dict(got)["llama-3"] is None


def test_the_winning_span_takes_what_it_lacks_from_its_echo(tmp_path):
    # openai-v2 writes no cached tokens on chat completions; its OpenInference child span does.
    parent = span("c1" * 8, OPENAI_V2)
    child = span("c2" * 8, {**OPENINFERENCE, "llm.token_count.prompt_details.cache_read": 256}, parent="c1" * 8)
    paths = make_paths(tmp_path)
    (telemetry_folder(paths) / "spans.otlp.jsonl").write_text(
        json.dumps(
            request(
                ("opentelemetry.instrumentation.openai_v2", [parent]), ("openinference.instrumentation.openai", [child])
            )
        )
        + "\n"
    )
    with connect(paths.warehouse_db) as con:
        load_telemetry_folder(con, paths, DAY, "t")
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")
        got = rows(con, "select call_id, input_tokens, cache_read_input_tokens, feature from raw.telemetry_calls")
        assert rows(con, "select count(*) from raw.quarantine") == [(0,)]
    assert got == [("c1" * 8, 400, 256, "answers")]


def test_an_embeddings_span_without_output_tokens_has_zero():
    r = one(
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 42,
        }
    )
    assert (r["operation"], r["input_tokens"], r["output_tokens"]) == ("embeddings", 42, 0)


def test_two_root_spans_of_one_failed_call_in_one_process_count_once(tmp_path):
    # The Anthropic SDK's span and Traceloop's are roots of two traces; a failed call has no
    # response id. Same process, model, status and tokens at the same moment: one call.
    failed = {"error.type": "api_error"}
    sdk = span("e1" * 8, {**ANTHROPIC_SDK, **failed, "gen_ai.response.id": ""}, trace="e" * 32)
    loop = span("e2" * 8, {**TRACELOOP, **failed, "gen_ai.response.id": ""}, trace="f" * 32, start=T0 + 1_000_000)
    calls, quarantined, ledger = load(
        tmp_path, request(("opentelemetry.instrumentation.anthropic", [loop]), ("com.anthropic.sdk.python", [sdk]))
    )
    assert quarantined == [] and ledger == (2, 1, 0, 1) and [c[0] for c in calls] == ["e1" * 8]
    # The same two spans from two processes are two calls.
    other = request(("opentelemetry.instrumentation.anthropic", [loop]), resource={"service.name": "billing-api"})
    calls, _, ledger = load(tmp_path / "two", request(("com.anthropic.sdk.python", [sdk])), other)
    assert len(calls) == 2 and ledger == (2, 2, 0, 0)
