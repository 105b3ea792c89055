"""LiteLLM's spend logs from a real PostgreSQL, with the table as LiteLLM's Prisma schema
creates it (tests/fixtures/litellm_spend_logs.sql), through the real source into a real
DuckDB warehouse: mapping, caller cost, errors, untagged spend, time zones, ledger, reloads."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from postgres_fixtures import pg_database, pg_server  # noqa: F401

from ingestion.settings import Paths
from ingestion.sources.litellm_spend_logs import DATABASE_URL_ENV, LiteLLMSpendLogs
from ingestion.sources.telemetry_files import TelemetryFiles
from ingestion.warehouse import connect

DDL = (Path(__file__).parent / "fixtures" / "litellm_spend_logs.sql").read_text()
DAY = date(2026, 11, 2)
# fmt: off
# (request_id, call_type, provider, model, prompt, completion, spend, start, status, team alias, team_id, tags,
#  key alias, usage object)
ROWS = [
    ("r1", "acompletion", "openai", "gpt-4o-2024-08-06", 1200, 300, 0.006, "2026-11-02 10:00:00.123", "success",
     "support", "team-1", ["support_bot"], "prod-key", {"prompt_tokens_details": {"cached_tokens": 1024}}),
    ("r2", "acompletion", "anthropic", "anthropic/claude-sonnet-4-20250514", 5000, 400, 0.0, "2026-11-02 11:00:00",
     "success", None, "team-42", [], "nightly-batch",
     {"cache_read_input_tokens": 3000, "cache_creation_input_tokens": 500,
      "completion_tokens_details": {"reasoning_tokens": 120}}),
    ("r3", "acompletion", "openai", "", 0, 0, 0.0, "2026-11-02 12:00:00", "failure", None, None, [], None, {}),
    ("r4", "aembedding", "bedrock", "amazon.titan-embed-text-v2:0", 800, 0, 0.000016, "2026-11-02 13:00:00",
     "success", None, None, [], None, {}),
    ("r5", "acompletion", "openai", "gpt-4o-mini", 100, 10, 0.0001, "2026-11-03 00:00:00", "success",
     "support", None, ["support_bot"], None, {}),
    ("r6", "acompletion", "openai", "gpt-4o-mini", 100, 10, 0.0001, "2026-11-02 23:59:59.999", "success",
     "support", None, ["support_bot"], None, {}),
]
# fmt: on


@pytest.fixture
def proxy_db(pg_database):
    with psycopg.connect(pg_database, autocommit=True) as pg:
        pg.execute(DDL)
        # A server whose sessions are far from UTC: the wall times must not move.
        pg.execute(
            f'alter database "{psycopg.conninfo.conninfo_to_dict(pg_database)["dbname"]}" '
            "set timezone to 'Pacific/Kiritimati'"
        )
        for (
            rid,
            call_type,
            provider,
            model,
            prompt,
            completion,
            spend,
            start,
            status,
            alias,
            team,
            tags,
            key,
            usage,
        ) in ROWS:
            pg.execute(
                """insert into "LiteLLM_SpendLogs" (request_id, call_type, spend, total_tokens, prompt_tokens,
                       completion_tokens, "startTime", "endTime", model, model_group, custom_llm_provider, metadata,
                       request_tags, team_id, status)
                   values (%s, %s, %s, %s, %s, %s, %s, %s::timestamp + interval '850 milliseconds', %s, 'gpt-default',
                           %s, %s, %s, %s, %s)""",
                [
                    rid,
                    call_type,
                    spend,
                    prompt + completion,
                    prompt,
                    completion,
                    start,
                    start,
                    model,
                    provider,
                    json.dumps({"user_api_key_team_alias": alias, "user_api_key_alias": key, "usage_object": usage}),
                    json.dumps(tags),
                    team,
                    status,
                ],
            )
    return pg_database


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")


def _calls(paths: Paths) -> dict[str, dict]:
    with connect(paths.warehouse_db, read_only=True) as con:
        cur = con.execute("select * from raw.telemetry_calls order by call_id")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def _load(paths: Paths):
    with connect(paths.warehouse_db) as con:
        return LiteLLMSpendLogs().load(con, paths, [DAY], "run-1")


def test_spend_logs_become_calls_as_costline_counts_them(proxy_db, paths, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV, proxy_db)
    loaded = _load(paths)
    assert (loaded.rows, loaded.quarantined, loaded.warnings) == (5, 0, ())
    calls = _calls(paths)
    assert set(calls) == {"r1", "r2", "r3", "r4", "r6"}, "only the run's day, r5 started on the next"
    r1, r2, r3, r4, r6 = (calls[k] for k in ("r1", "r2", "r3", "r4", "r6"))
    assert (r1["provider"], r1["model"], r1["operation"], r1["workspace"], r1["feature"]) == (
        "openai",
        "gpt-4o-2024-08-06",
        "chat",
        "support",
        "support_bot",
    )
    assert (r1["input_tokens"], r1["output_tokens"], r1["cache_read_input_tokens"]) == (1200, 300, 1024)
    assert r1["cost_usd"] == Decimal("0.006000") and r1["started_at"] == datetime(2026, 11, 2, 10, 0, 0, 123000)
    assert r1["duration_ms"] == 850
    # The model that answered, not the proxy's alias or route; a spend of 0 is no price.
    assert (r2["provider"], r2["model"], r2["cost_usd"]) == ("anthropic", "claude-sonnet-4-20250514", None)
    assert (r2["cache_read_input_tokens"], r2["cache_creation_input_tokens"], r2["reasoning_output_tokens"]) == (
        3000,
        500,
        120,
    )
    assert (r2["workspace"], r2["feature"]) == ("team-42", "nightly-batch")
    # A failed call is an error call, counted, with no model named: nothing is quarantined.
    assert (r3["status"], r3["model"], r3["input_tokens"], r3["workspace"], r3["feature"]) == (
        "error",
        "(unknown)",
        0,
        "(untagged)",
        "(untagged)",
    )
    assert (r4["provider"], r4["operation"], r4["cost_usd"]) == ("aws.bedrock", "embeddings", Decimal("0.000016"))
    assert r6["started_at"] == datetime(2026, 11, 2, 23, 59, 59, 999000), "UTC wall time, whatever the session zone"
    with connect(paths.warehouse_db, read_only=True) as con:
        ledger = con.execute(
            "select source_file, records_read, accepted, quarantined, duplicates from raw.source_files "
            "where input = 'litellm'"
        ).fetchall()
    assert ledger == [("landing/litellm/2026-11-02/spend_logs.jsonl", 5, 5, 0, 0)]
    assert (paths.landing_dir / "litellm" / "2026-11-02" / "spend_logs.jsonl").is_file(), "landed before parsing"


def test_reload_replaces_only_its_own_rows(proxy_db, paths, monkeypatch, tmp_path):
    monkeypatch.setenv(DATABASE_URL_ENV, proxy_db)
    folder = paths.telemetry_dir / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "app.jsonl").write_text(
        json.dumps(
            {
                "call_id": "f1",
                "request_id": "q1",
                "started_at": "2026-11-02T09:00:00Z",
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 10,
                "output_tokens": 2,
                "workspace": "search",
                "feature": "docs",
            }
        )
        + "\n"
    )
    with connect(paths.warehouse_db) as con:
        TelemetryFiles().load(con, paths, [DAY], "run-0")
    _load(paths)
    assert len(_calls(paths)) == 6
    with psycopg.connect(proxy_db, autocommit=True) as pg:
        pg.execute("""delete from "LiteLLM_SpendLogs" where request_id = 'r4'""")
    again = _load(paths)
    calls = _calls(paths)
    assert again.rows == 4 and "r4" not in calls and "f1" in calls, "the file's call stays; the gone row goes"
    with connect(paths.warehouse_db) as con:
        TelemetryFiles().load(con, paths, [DAY], "run-2")
    assert set(_calls(paths)) == {"f1", "r1", "r2", "r3", "r6"}, "a file reload leaves LiteLLM's rows alone"


def test_unset_is_skipped_and_unreachable_is_a_warning_without_the_password(paths, monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    assert _load(paths).metadata["source"] == "skipped"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://litellm:s3cr3t-pw@127.0.0.1:9/litellm?connect_timeout=1")
    failed = _load(paths)
    assert failed.rows == 0 and len(failed.warnings) == 1 and failed.warnings[0].startswith("litellm: ")
    assert "s3cr3t-pw" not in failed.warnings[0]


# --- Rows the proxy itself builds ------------------------------------------------------------


@pytest.fixture(scope="module")
def litellm_calls():
    from litellm_real import make_calls

    return make_calls()


def test_rows_from_the_proxys_own_spend_log_function(pg_database, paths, monkeypatch, litellm_calls):
    """The seven calls litellm made, turned into rows by the proxy's `get_logging_payload` and
    inserted into the table as LiteLLM's schema creates it; and the same calls as a payload file:
    each call counts once, the second copy is a duplicate, never a conflict."""
    from litellm_real import insert_spend_logs, payload_lines, spend_log_rows

    rows = spend_log_rows(litellm_calls)
    with psycopg.connect(pg_database, autocommit=True) as pg:
        pg.execute(DDL)
        insert_spend_logs(pg, rows)
    day = litellm_calls[0].start_time.astimezone(UTC).date()
    monkeypatch.setenv(DATABASE_URL_ENV, pg_database)
    with connect(paths.warehouse_db) as con:
        loaded = LiteLLMSpendLogs().load(con, paths, [day], "run-1")
    assert (loaded.rows, loaded.quarantined, loaded.warnings) == (7, 0, ())
    calls = _calls(paths)
    assert set(calls) == {r["request_id"] for r in rows}
    by_model = {
        (r["status"], r["model"].removeprefix(f"{r['custom_llm_provider']}/"), r["cache_hit"]): calls[r["request_id"]]
        for r in rows
    }
    assert len(by_model) == 7
    by_model = {k[:2] if k[2] != "True" else (*k[:2], "cache_hit"): v for k, v in by_model.items()}
    o3 = by_model["success", "o3-mini"]
    assert (o3["input_tokens"], o3["cache_read_input_tokens"], o3["output_tokens"], o3["reasoning_output_tokens"]) == (
        1200,
        1024,
        300,
        120,
    )
    assert (o3["workspace"], o3["feature"], o3["cost_usd"]) == ("support", "support_bot", Decimal("0.002077"))
    claude = by_model["success", "claude-sonnet-4-5-20250929"]
    assert (claude["provider"], claude["input_tokens"], claude["cache_read_input_tokens"]) == ("anthropic", 4500, 3000)
    assert (claude["cache_creation_input_tokens"], claude["workspace"], claude["feature"]) == (
        500,
        "team-42",
        "nightly-batch",
    )
    failed = by_model["failure", "gpt-4o-mini"]
    assert (failed["status"], failed["error_type"], failed["cost_usd"]) == ("error", "RateLimitError", None)
    untagged = by_model["success", "gpt-4o-mini"]
    assert (untagged["workspace"], untagged["feature"]) == ("(untagged)", "(untagged)")
    first, hit = by_model["success", "gpt-4.1-mini"], by_model["success", "gpt-4.1-mini", "cache_hit"]
    assert first["cost_usd"] > 0 and hit["cost_usd"] == Decimal(0), "a cache hit reached no provider"
    assert hit["model"] == "gpt-4.1-mini", "the model, not the route"

    # The same calls logged as payloads by the bucket logger: the file's records are the same
    # records as the spend-log rows already loaded (duplicates, not conflicting copies, which
    # would be quarantined as duplicate_conflict), and a reload of the rows keeps them.
    folder = paths.telemetry_dir / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "proxy.litellm.jsonl").write_text(payload_lines(litellm_calls))
    with connect(paths.warehouse_db) as con:
        TelemetryFiles().load(con, paths, [day], "run-2")
        again = LiteLLMSpendLogs().load(con, paths, [day], "run-3")
        ledger = con.execute(
            "select input, records_read, accepted, quarantined, duplicates from raw.source_files order by input"
        ).fetchall()
        reasons = con.execute("select reason from raw.quarantine").fetchall()
    assert reasons == []
    # Six of seven are the same records. The cache hit is not: litellm names it
    # `<id>_cache_hit<time.time()>` once in the payload and again, at another instant, in the
    # spend-log row, so it is a second call of cost 0 (its dollars are right, its count is not).
    assert ledger == [("litellm", 7, 7, 0, 0), ("telemetry", 7, 1, 0, 6)], ledger
    extra = set(_calls(paths)) - set(calls)
    assert len(extra) == 1 and "_cache_hit" in extra.pop()
    assert again.rows == 7
