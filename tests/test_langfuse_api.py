"""Langfuse's public API (a local fake speaking the fern shapes, tests/langfuse_server.py)
through the real source into a real DuckDB warehouse: mapping, token normalisation, errors,
untagged spend, cost 0 priced by costline, legacy servers, scores, retries, refused keys,
the ledger and reloads; and once end to end through `costline run`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import run_costline
from genai_prices import Usage, calc_price
from langfuse_server import CANARY_PROMPT, PUBLIC_KEY, SECRET_KEY, FakeLangfuse

from ingestion.langfuse.client import HOST_ENV, PUBLIC_KEY_ENV, SECRET_KEY_ENV
from ingestion.settings import Paths
from ingestion.sources.langfuse_api import LangfuseApi
from ingestion.warehouse import connect

DAY1, DAY2 = date(2026, 11, 2), date(2026, 11, 3)
FAST_RETRIES = {
    "COSTLINE_BILLING_MAX_ATTEMPTS": "3",
    "COSTLINE_BILLING_BACKOFF_INITIAL_S": "0.01",
    "COSTLINE_BILLING_BACKOFF_MAX_S": "0.02",
}


def _populate(api: FakeLangfuse) -> None:
    api.trace("t1", "2026-11-02T09:59:59Z", name="support_bot", tags=["workspace:support", "prod"], user_id="u-42")
    api.trace("t2", "2026-11-01T23:59:00Z", name="nightly_batch", tags=["workspace:research"])
    api.trace("t3", "2026-11-02T12:00:00Z")  # no name, no tags
    api.trace("t4", "2026-11-03T08:00:00Z", name="search", tags=["workspace:growth", "feature:docs_search"])
    # OpenAI through Langfuse's server: input/output exclude the details, which are own keys.
    api.generation(
        "g1", "t1", "2026-11-02T10:00:00.123Z", "gpt-4o-2024-08-06",
        {"input": 200, "input_cached_tokens": 1000, "output": 50, "output_reasoning_tokens": 100, "total": 1350},
        cost=0.0041, promptName="support-answer", promptVersion=3, environment="production",
    )  # fmt: skip
    # Anthropic-style keys, started on day 1 in a trace of the day before; Langfuse had no price.
    api.generation(
        "g2", "t2", "2026-11-02T00:00:10Z", "claude-sonnet-4-20250514",
        {"input": 100, "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 500, "output": 400, "total": 4000},
        cost=0,
    )  # fmt: skip
    api.generation(
        "g3", "t3", "2026-11-02T12:00:01Z", None, {}, level="ERROR",
        statusMessage="RateLimitError: 429 Too Many Requests\nTraceback ...",
    )  # fmt: skip
    # A router's `provider/model` string, no tags: untagged, never quarantined.
    api.generation(
        "g4", "t3", "2026-11-02T12:00:02Z", "openai/gpt-4o-mini", {"input": 1000, "output": 100, "total": 1100},
        cost=None,
    )  # fmt: skip
    api.generation(
        "g5", "t4", "2026-11-03T08:00:01Z", "gpt-4o-mini", {"input": 300, "output": 30, "total": 330}, cost=0.000063
    )
    api.generation("g6", "t4", "2026-11-03T08:00:02Z", "gpt-4o-mini", {"input": 10, "output": 1}, cost=0.000003)
    api.generation(
        "e1", "t4", "2026-11-03T08:00:03Z", "text-embedding-3-small", {"input": 800, "total": 800}, cost=0.000016,
        type="EMBEDDING",
    )  # fmt: skip
    api.generation("g0", "t4", "2026-11-04T00:00:00Z", "gpt-4o-mini", {"input": 1, "output": 1}, cost=0.5)  # next day
    api.score("s1", "t1", "2026-11-02T10:05:00Z", "user-feedback", "BOOLEAN", True)
    api.score("s2", "t3", "2026-11-02T12:05:00Z", "user-feedback", "BOOLEAN", False)
    api.score("s3", "t1", "2026-11-02T10:06:00Z", "thumbs", "CATEGORICAL", "👍")
    api.score("s4", "t1", "2026-11-02T10:07:00Z", "helpfulness", "NUMERIC", 0.8, observationId="g1")
    api.score("s5", "t2", "2026-11-02T10:08:00Z", "latency-rating", "NUMERIC", 7)
    api.score("s6", "t2", "2026-11-02T10:09:00Z", "comment", "TEXT", "great answer")
    api.score("s7", "t4", "2026-11-03T09:00:00Z", "resolution", "CATEGORICAL", "resolved")
    api.score("s8", None, "2026-11-02T11:00:00Z", "session-rating", "NUMERIC", 0.5)  # a session's: no trace


@pytest.fixture
def api(httpserver, monkeypatch) -> FakeLangfuse:
    fake = FakeLangfuse(httpserver)
    _populate(fake)
    monkeypatch.setenv(PUBLIC_KEY_ENV, PUBLIC_KEY)
    monkeypatch.setenv(SECRET_KEY_ENV, SECRET_KEY)
    monkeypatch.setenv(HOST_ENV, fake.host)
    for name, value in FAST_RETRIES.items():
        monkeypatch.setenv(name, value)
    yield fake
    assert fake.violations == []


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")


def _rows(paths: Paths, sql: str) -> list[dict]:
    with connect(paths.warehouse_db, read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _calls(paths: Paths) -> dict[str, dict]:
    return {r["call_id"]: r for r in _rows(paths, "select * from raw.telemetry_calls")}


def _load(paths: Paths, days=(DAY1, DAY2), load_id="run-1"):
    with connect(paths.warehouse_db) as con:
        return LangfuseApi().load(con, paths, list(days), load_id)


def test_generations_become_calls_as_costline_counts_them(api, paths):
    loaded = _load(paths)
    assert (loaded.rows, loaded.warnings, loaded.metadata["api"]) == (7, (), "observations v2, scores v3")
    calls = _calls(paths)
    assert set(calls) == {"g1", "g2", "g3", "g4", "g5", "g6", "e1"}, "g0 started on the day after the window"
    g1, g2, g3, g4, e1 = (calls[k] for k in ("g1", "g2", "g3", "g4", "e1"))
    assert (g1["provider"], g1["model"], g1["request_id"], g1["workspace"], g1["feature"]) == (
        "openai",
        "gpt-4o-2024-08-06",
        "t1",
        "support",
        "support_bot",
    )
    # costline's input includes the cache, output the reasoning.
    assert (g1["input_tokens"], g1["output_tokens"], g1["cache_read_input_tokens"], g1["reasoning_output_tokens"]) == (
        1200,
        150,
        1000,
        100,
    )
    assert (g1["cost_usd"], g1["prompt_version"], g1["environment"]) == (
        Decimal("0.004100"),
        "support-answer@3",
        "production",
    )
    assert g1["started_at"] == datetime(2026, 11, 2, 10, 0, 0, 123000) and g1["duration_ms"] == 59377
    assert (
        g2["input_tokens"],
        g2["cache_read_input_tokens"],
        g2["cache_creation_input_tokens"],
        g2["output_tokens"],
    ) == (
        3600,
        3000,
        500,
        400,
    )
    assert (g2["provider"], g2["cost_usd"], g2["workspace"], g2["environment"]) == (
        "anthropic",
        None,
        "research",
        "production",
    ), "a cost of 0 is no price; Langfuse's 'default' environment is costline's default"
    assert (g3["status"], g3["error_type"], g3["model"], g3["input_tokens"], g3["output_tokens"]) == (
        "error",
        "RateLimitError: 429 Too Many Requests",
        "(unknown)",
        0,
        0,
    )
    # No tag: the project's name is the workspace, and no dollar is dropped for a missing feature.
    assert (g4["provider"], g4["model"], g4["workspace"], g4["feature"], g4["cost_usd"]) == (
        "openai",
        "gpt-4o-mini",
        "support-app",
        "(untagged)",
        None,
    )
    assert (e1["operation"], e1["input_tokens"], e1["output_tokens"], e1["feature"]) == (
        "embeddings",
        800,
        0,
        "search",
    )
    assert calls["g5"]["feature"] == "search", "trace name before the feature: tag"
    assert "user_segment" in g1 and g1["user_segment"] is None, "a user id is a person, not a segment"
    ledger = _rows(
        paths,
        "select input, source_file, records_read, accepted, quarantined, duplicates from raw.source_files order by all",
    )
    assert [tuple(r.values()) for r in ledger if r["input"] == "langfuse"] == [
        ("langfuse", "landing/langfuse/2026-11-02/calls/generations.jsonl", 4, 4, 0, 0),
        ("langfuse", "landing/langfuse/2026-11-03/calls/generations.jsonl", 3, 3, 0, 0),
    ]
    for r in ledger:
        assert r["records_read"] == r["accepted"] + r["quarantined"] + r["duplicates"]
    pages = sorted(p.name for p in (paths.landing_dir / "langfuse" / "2026-11-02" / "pages").iterdir())
    assert pages[:2] == ["observations-v2-EMBEDDING-0001.json", "observations-v2-GENERATION-0001.json"]
    assert "observations-v2-GENERATION-0002.json" in pages, "four generations at two a page"
    v2 = [q for path, q in api.seen if path == "/api/public/v2/observations"]
    assert any("cursor" in q for q in v2), "the second page was asked for with the first page's cursor"
    assert {(q["fromStartTime"][0], q["toStartTime"][0]) for q in v2} == {
        ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"),
        ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
    }


def test_scores_become_outcomes_and_the_rest_is_quarantined_with_a_reason(api, paths):
    _load(paths)
    outcomes = _rows(paths, "select request_id, kind, value, source from raw.outcomes order by recorded_at")
    assert [tuple(o.values()) for o in outcomes] == [
        ("t1", "thumbs", "up", "langfuse:user-feedback"),
        ("t1", "thumbs", "up", "langfuse:thumbs"),
        ("t1", "eval", "0.8", "langfuse:helpfulness"),
        ("t3", "thumbs", "down", "langfuse:user-feedback"),
        ("t4", "resolution", "resolved", "langfuse:resolution"),
    ]
    quarantined = _rows(paths, "select input, reason from raw.quarantine order by reason")
    assert [q["input"] for q in quarantined] == ["langfuse_scores"] * 3
    assert quarantined[0]["reason"].startswith("invalid_value: an eval value must be a JSON number from 0 to 1")
    assert quarantined[1]["reason"].startswith("missing_field: request_id")
    assert quarantined[2]["reason"].startswith(
        'unknown_kind: kind must be thumbs, resolution, eval or revenue, got "text"'
    )
    ledger = _rows(
        paths, "select records_read, accepted, quarantined from raw.source_files where input = 'langfuse_scores'"
    )
    assert [tuple(r.values()) for r in ledger] == [(7, 4, 3), (1, 1, 0)]


def test_reload_replaces_never_duplicates(api, paths):
    _load(paths)
    first = _calls(paths)
    again = _load(paths, load_id="run-2")
    assert again.rows == 7 and _calls(paths).keys() == first.keys()
    assert len(_rows(paths, "select * from raw.outcomes")) == 5
    api.observations = [o for o in api.observations if o["id"] != "g4"]
    _load(paths, load_id="run-3")
    assert set(_calls(paths)) == set(first) - {"g4"}, "a generation gone from Langfuse goes on reload"
    assert len(_rows(paths, "select * from raw.source_files where input = 'langfuse'")) == 2


def test_a_500_is_retried_and_then_loads(api, paths):
    api.fail("/api/public/v2/observations", 500, times=2)
    loaded = _load(paths, days=(DAY1,))
    assert (loaded.rows, loaded.warnings) == (4, ())
    assert sum(1 for p, _ in api.seen if p == "/api/public/v2/observations") >= 3


def test_a_refused_key_warns_in_one_line_without_the_key_and_keeps_what_was_loaded(api, paths, monkeypatch, caplog):
    _load(paths, days=(DAY1,))
    monkeypatch.setenv(SECRET_KEY_ENV, "sk-lf-WRONG-secret-0000")
    caplog.set_level(logging.DEBUG)
    failed = _load(paths, days=(DAY1,), load_id="run-2")
    assert failed.rows == 0 and len(failed.warnings) == 1
    warning = failed.warnings[0]
    assert warning.startswith("langfuse: langfuse observations-v2-GENERATION page 1: HTTP 401") and "\n" not in warning
    assert PUBLIC_KEY_ENV in warning and SECRET_KEY_ENV in warning
    assert len(_calls(paths)) == 4, "the day loaded before stays"
    # Still down after the retries: a warning too, not a failed run.
    monkeypatch.setenv(SECRET_KEY_ENV, SECRET_KEY)
    api.fail("/api/public/v2/observations", 503, times=3)
    down = _load(paths, days=(DAY1,), load_id="run-3")
    assert "gave up after 3 attempts" in down.warnings[0] and len(_calls(paths)) == 4
    for secret in (SECRET_KEY, "sk-lf-WRONG-secret-0000"):
        assert secret not in caplog.text
        assert secret not in " ".join(failed.warnings + down.warnings)
        hits = [p for p in paths.warehouse_dir.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert hits == []


def test_without_keys_the_source_is_skipped(paths, monkeypatch):
    monkeypatch.delenv(PUBLIC_KEY_ENV, raising=False)
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    monkeypatch.setenv(HOST_ENV, "http://127.0.0.1:9")
    loaded = _load(paths)
    assert (loaded.rows, loaded.metadata["source"], loaded.warnings) == (0, "skipped", ())


def test_an_older_server_is_read_through_the_legacy_apis_without_landing_prompts(api, paths):
    api.legacy = True
    loaded = _load(paths)
    assert (loaded.rows, loaded.warnings, loaded.metadata["api"]) == (6, (), "observations v1, scores v2")
    calls = _calls(paths)
    assert "e1" not in calls, "the legacy API is asked for generations only"
    g1, g2 = calls["g1"], calls["g2"]
    assert (g1["workspace"], g1["feature"], g1["input_tokens"], g1["output_tokens"], g1["cost_usd"]) == (
        "support",
        "support_bot",
        1200,
        150,
        Decimal("0.004100"),
    ), "tags and trace name joined from /api/public/traces"
    assert (g2["workspace"], g2["feature"]) == ("research", "nightly_batch"), "a trace of the day before"
    assert len(_rows(paths, "select * from raw.outcomes")) == 5
    pages = {p.name for p in (paths.landing_dir / "langfuse" / "2026-11-02" / "pages").iterdir()}
    assert {
        "observations-v1-0001.json",
        "observations-v1-0002.json",
        "traces-0001.json",
        "scores-v2-0001.json",
    } <= pages
    hits = [p for p in paths.warehouse_dir.rglob("*") if p.is_file() and CANARY_PROMPT.encode() in p.read_bytes()]
    assert hits == [], "legacy pages are landed without input and output"


def test_workspace_and_feature_come_from_the_configured_list(api, paths, monkeypatch):
    monkeypatch.setenv("COSTLINE_LANGFUSE_WORKSPACE_FROM", "environment,tag:workspace")
    monkeypatch.setenv("COSTLINE_LANGFUSE_FEATURE_FROM", "tag:feature")
    _load(paths)
    calls = _calls(paths)
    assert (calls["g1"]["workspace"], calls["g1"]["feature"]) == ("production", "(untagged)")
    assert (calls["g5"]["workspace"], calls["g5"]["feature"]) == ("default", "docs_search")
    monkeypatch.setenv("COSTLINE_LANGFUSE_FEATURE_FROM", "tags:feature")
    bad = _load(paths, load_id="run-2")
    assert bad.warnings and "COSTLINE_LANGFUSE_FEATURE_FROM" in bad.warnings[0]


def _genai_price(provider: str, model: str, when: datetime, **tokens) -> Decimal:
    price = calc_price(Usage(**tokens), model, provider_id=provider, genai_request_timestamp=when).total_price
    return Decimal(price).quantize(Decimal("0.000001"), ROUND_HALF_UP)


@pytest.mark.pipeline
def test_costline_run_puts_langfuse_spend_in_the_mart_to_the_cent(api, paths, tmp_path):
    env = {PUBLIC_KEY_ENV: PUBLIC_KEY, SECRET_KEY_ENV: SECRET_KEY, HOST_ENV: api.host, **FAST_RETRIES}
    paths.input_dir.mkdir(parents=True)
    run_costline(
        "run", "--date", DAY1.isoformat(), input_dir=paths.input_dir, warehouse_dir=paths.warehouse_dir, env=env,
        check=True,
    )  # fmt: skip
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        spend = dict(
            con.execute("select model, sum(cost_usd) from daily_spend where day = ? group by 1", [DAY1]).fetchall()
        )
    # g1 carries Langfuse's cost; g2 (cost 0) and g4 (no cost) are priced by costline from tokens.
    g2 = _genai_price(
        "anthropic", "claude-sonnet-4-20250514", datetime(2026, 11, 2, 0, 0, 10, tzinfo=UTC),
        input_tokens=3600, output_tokens=400, cache_read_tokens=3000, cache_write_tokens=500,
    )  # fmt: skip
    g4 = _genai_price(
        "openai", "gpt-4o-mini", datetime(2026, 11, 2, 12, 0, 2, tzinfo=UTC), input_tokens=1000, output_tokens=100
    )
    assert spend["gpt-4o-2024-08-06"] == Decimal("0.004100")
    assert spend["claude-sonnet-4-20250514"] == g2 and g2 > 0
    assert spend["gpt-4o-mini"] == g4 and g4 > 0
    assert sum(spend.values()) == Decimal("0.004100") + g2 + g4 + spend.get("(unknown)", 0)
    status = run_costline("status", input_dir=paths.input_dir, warehouse_dir=paths.warehouse_dir, env=env, check=True)
    assert "calls loaded: 4" in status.stdout
    # The ledger per input names the source: 4 generations read, 4 accepted.
    [ledger] = [line.split() for line in status.stdout.splitlines() if line.split()[:1] == ["langfuse"]]
    assert ledger[1:] == ["1", "4", "4", "0", "0"], status.stdout


def test_landed_scores_and_calls_are_plain_jsonl(api, paths):
    _load(paths, days=(DAY1,))
    folder = paths.landing_dir / "langfuse" / "2026-11-02"
    lines = [json.loads(x) for x in (folder / "calls" / "generations.jsonl").read_text().splitlines()]
    assert [x["call_id"] for x in lines] == ["g1", "g2", "g3", "g4"]
    assert lines[0]["cost_usd"] == "0.004100000000" and "input" not in lines[0]
    assert not (folder / ".incoming").exists()
    assert Path(folder / "scores" / "scores.jsonl").is_file()


def test_a_call_also_sent_as_a_file_counts_once_and_file_reloads_leave_langfuse_alone(api, paths):
    from ingestion.sources.telemetry_files import TelemetryFiles

    folder = paths.telemetry_dir / DAY2.isoformat()
    folder.mkdir(parents=True)
    record = {
        "call_id": "g5",
        "request_id": "t4",
        "started_at": "2026-11-03T08:00:01Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 300,
        "output_tokens": 30,
        "workspace": "growth",
        "feature": "search",
    }
    (folder / "app.jsonl").write_text(json.dumps(record) + "\n")
    with connect(paths.warehouse_db) as con:
        TelemetryFiles().load(con, paths, [DAY2], "run-0")
    _load(paths, days=(DAY2,))
    calls = _rows(paths, "select call_id, source_file from raw.telemetry_calls where call_id = 'g5'")
    assert calls == [{"call_id": "g5", "source_file": "telemetry/2026-11-03/app.jsonl"}], "the first loaded counts"
    [ledger] = _rows(
        paths, "select records_read, accepted, quarantined, duplicates from raw.source_files where input = 'langfuse'"
    )
    assert ledger["records_read"] == 3 and ledger["accepted"] == 2
    assert ledger["quarantined"] + ledger["duplicates"] == 1
    with connect(paths.warehouse_db) as con:
        TelemetryFiles().load(con, paths, [DAY2], "run-2")
    assert {"g6", "e1"} <= set(_calls(paths)), "a file reload leaves Langfuse's rows alone"
