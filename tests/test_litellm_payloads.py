"""LiteLLM's logging payload files, made by the real `litellm` package (tests/litellm_real.py),
through the real telemetry loader into a real DuckDB warehouse, and end to end through
`costline run`: mapping, caller cost against genai-prices, errors, attribution settings,
quarantine and the ledger."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest
from conftest import run_costline
from genai_prices import Usage, calc_price
from litellm_real import ANTHROPIC_MODEL, CALLS, EMBEDDING_TOKENS, make_calls, payload_lines

from ingestion.litellm_payloads import FEATURE_FROM_ENV, WORKSPACE_FROM_ENV, attribution_sql
from ingestion.settings import Paths
from ingestion.sources.telemetry_files import TelemetryFiles
from ingestion.warehouse import connect

MICRO = Decimal("0.000001")


@pytest.fixture(scope="module")
def calls():
    return make_calls()


def _day(calls):
    return datetime.fromtimestamp(calls[0].payload["startTime"], UTC).date()


def _drop(paths: Paths, calls, extra: str = "", day: date | None = None) -> str:
    day = day or _day(calls)
    folder = paths.telemetry_dir / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "proxy.litellm.jsonl").write_text(payload_lines(calls) + extra)
    return f"telemetry/{day.isoformat()}/proxy.litellm.jsonl"


def _load(paths: Paths, calls):
    with connect(paths.warehouse_db) as con:
        return TelemetryFiles().load(con, paths, [_day(calls)], "run-1")


def _calls(paths: Paths) -> dict[str, dict]:
    with connect(paths.warehouse_db, read_only=True) as con:
        cur = con.execute("select * from raw.telemetry_calls order by call_id")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")


def _by_model(calls) -> dict:
    named = {c.key: c.payload for c in calls}
    assert len(named) == len(calls) == CALLS
    return {k[:2] if not k[2] else (*k[:2], "cache_hit"): v for k, v in named.items()}


def test_payloads_become_calls_as_costline_counts_them(calls, paths):
    name = _drop(paths, calls, extra="{truncated write\n")
    loaded = _load(paths, calls)
    assert (loaded.rows, loaded.quarantined) == (CALLS, 1)
    got = _calls(paths)
    by = _by_model(calls)
    o3 = got[by["success", "o3-mini"]["id"]]
    assert (o3["provider"], o3["model"], o3["operation"], o3["status"]) == ("openai", "o3-mini", "chat", "ok")
    # Cache reads are part of the input, reasoning part of the output, as LiteLLM counts them.
    assert (o3["input_tokens"], o3["cache_read_input_tokens"], o3["output_tokens"], o3["reasoning_output_tokens"]) == (
        1200,
        1024,
        300,
        120,
    )
    assert (o3["workspace"], o3["feature"]) == ("support", "support_bot")
    claude = got[by["success", ANTHROPIC_MODEL]["id"]]
    assert (claude["provider"], claude["model"]) == ("anthropic", ANTHROPIC_MODEL), "the model, not the route"
    assert (claude["input_tokens"], claude["cache_read_input_tokens"], claude["cache_creation_input_tokens"]) == (
        4500,
        3000,
        500,
    ), "litellm's Anthropic usage: 1000 fresh + 3000 read + 500 written"
    assert (claude["workspace"], claude["feature"]) == ("team-42", "nightly-batch"), "no alias, no tag: id and key"
    emb = got[by["success", "text-embedding-3-small"]["id"]]
    assert (emb["operation"], emb["input_tokens"], emb["output_tokens"]) == ("embeddings", EMBEDDING_TOKENS, 0)
    mini = got[by["success", "gpt-4o-mini"]["id"]]
    assert (mini["workspace"], mini["feature"]) == ("(untagged)", "(untagged)")
    failed = got[by["failure", "gpt-4o-mini"]["id"]]
    assert (failed["status"], failed["error_type"], failed["model"], failed["input_tokens"], failed["cost_usd"]) == (
        "error",
        "RateLimitError",
        "gpt-4o-mini",
        0,
        None,
    ), "a failure is an error call, counted; LiteLLM's cost 0 is no price"
    # Served from litellm's own cache: no provider was called, so it costs exactly 0 (not "no
    # price", which costline would fill in from the tokens); litellm gives it an id of its own.
    first, hit = got[by["success", "gpt-4.1-mini"]["id"]], got[by["success", "gpt-4.1-mini", "cache_hit"]["id"]]
    assert first["call_id"] != hit["call_id"] and (first["input_tokens"], hit["input_tokens"]) == (50, 50)
    assert first["cost_usd"] > 0 and hit["cost_usd"] == Decimal(0)
    assert by["success", "gpt-4.1-mini", "cache_hit"]["model"] == "openai/gpt-4.1-mini", "litellm logs the route"
    assert (first["model"], hit["model"]) == ("gpt-4.1-mini", "gpt-4.1-mini"), "the model, not the route"
    for c in calls:
        row = got[c.payload["id"]]
        assert row["started_at"] == datetime.fromtimestamp(round(c.payload["startTime"] * 1000) / 1000, UTC).replace(
            tzinfo=None
        )
        if c.payload["response_cost"] > 0:
            assert row["cost_usd"] == Decimal(repr(c.payload["response_cost"])).quantize(MICRO, ROUND_HALF_UP)
    with connect(paths.warehouse_db, read_only=True) as con:
        ledger = con.execute(
            "select source_file, records_read, accepted, quarantined, duplicates from raw.source_files"
        ).fetchall()
        reasons = con.execute("select reason from raw.quarantine").fetchall()
        text = json.dumps(con.execute("select * from raw.telemetry_calls").fetchall(), default=str)
    assert ledger == [(name, CALLS + 1, CALLS, 1, 0)]
    assert len(reasons) == 1 and reasons[0][0].startswith("malformed_json")
    assert "Summarise the ticket" not in text and "Here is the summary" not in text, "no prompt or response text"


def test_litellm_cost_against_genai_prices(calls, paths):
    """LiteLLM's own response_cost is the caller cost; genai-prices, computed independently, is
    the yardstick. Differences are reported as figures, not forced to zero."""
    _drop(paths, calls)
    _load(paths, calls)
    got = _calls(paths)
    report = []
    for c in calls:
        if c.kind != "success" or c.payload["cache_hit"]:
            continue
        row = got[c.payload["id"]]
        usage = Usage(
            input_tokens=row["input_tokens"],
            cache_read_tokens=row["cache_read_input_tokens"],
            cache_write_tokens=row["cache_creation_input_tokens"],
            output_tokens=row["output_tokens"],
        )
        theirs = Decimal(
            calc_price(
                usage,
                row["model"],
                provider_id=row["provider"],
                genai_request_timestamp=row["started_at"].replace(tzinfo=UTC),
            ).total_price
        ).quantize(MICRO, ROUND_HALF_UP)
        report.append((row["model"], row["cost_usd"], theirs))
    print("\nmodel, litellm cost, genai-prices cost:", *report, sep="\n  ")
    # litellm 1.110.2's bundled price map and genai-prices agree on all five, cache reads and
    # writes included, to the micro-dollar. Should a later price table differ, this names the
    # calls and both figures.
    mismatched = [(m, ours, theirs, ours - theirs) for m, ours, theirs in report if ours != theirs]
    assert len(report) == 5 and all(theirs > 0 for _, _, theirs in report)
    assert mismatched == [], mismatched


def test_workspace_and_feature_come_from_the_configured_attributes(calls, paths, monkeypatch):
    monkeypatch.setenv(WORKSPACE_FROM_ENV, "key_alias")
    monkeypatch.setenv(FEATURE_FROM_ENV, "team_alias, team_id")
    _drop(paths, calls)
    _load(paths, calls)
    o3 = _calls(paths)[_by_model(calls)["success", "o3-mini"]["id"]]
    assert (o3["workspace"], o3["feature"]) == ("prod-key", "support")
    monkeypatch.setenv(WORKSPACE_FROM_ENV, "team_name")
    with pytest.raises(ValueError, match=WORKSPACE_FROM_ENV):
        attribution_sql({n: "x" for n in ("team_alias", "team_id", "key_alias", "tag", "user_id")})


def test_non_object_lines_and_bad_tokens_are_quarantined(calls, paths):
    bad = dict(calls[0].payload, id="bad-tokens", prompt_tokens="many")
    no_time = dict(calls[1].payload, id="no-time", startTime="yesterday")
    # Values no cast survives: they must reach the checks, never stop the file.
    huge = dict(calls[1].payload, id="huge", response_cost=1e15, endTime=1e300)
    huge["metadata"] = dict(huge["metadata"], usage_object={"cache_read_input_tokens": 2**64})
    lines = [json.dumps(bad), "[1, 2]", "", json.dumps(no_time), json.dumps(huge)]
    _drop(paths, calls[:1], extra="\n".join(lines) + "\n")
    loaded = _load(paths, calls[:1])
    assert (loaded.rows, loaded.quarantined) == (1, 4)
    with connect(paths.warehouse_db, read_only=True) as con:
        reasons = {
            line: reason for line, reason in con.execute("select source_line, reason from raw.quarantine").fetchall()
        }
        ledger = con.execute("select records_read, accepted, quarantined, duplicates from raw.source_files").fetchall()
    assert reasons[2].startswith("invalid_tokens"), reasons
    assert reasons[3].startswith("malformed_json") and "array" in reasons[3], reasons
    assert "started_at" in reasons[5] and "yesterday" in reasons[5], "the check names the value to fix"
    assert reasons[6].startswith("invalid_number: cost_usd"), reasons
    assert ledger == [(5, 1, 4, 0)], "blank lines are not records"


def test_a_file_the_fast_reader_cannot_number_is_read_line_by_line(calls, paths):
    """Invalid UTF-8 on one line: the careful reader numbers the lines, that line is quarantined."""
    name = _drop(paths, calls[:2])
    path = paths.input_dir / name
    path.write_bytes(path.read_bytes() + b'{"id": "x\xff"}\n')
    loaded = _load(paths, calls[:2])
    assert (loaded.rows, loaded.quarantined) == (2, 1)
    with connect(paths.warehouse_db, read_only=True) as con:
        [(line, reason)] = con.execute("select source_line, reason from raw.quarantine").fetchall()
    assert line == 3 and reason.startswith("invalid_utf8")


@pytest.mark.pipeline
def test_costline_run_over_a_payload_file_publishes_litellm_cost_to_the_cent(calls, tmp_path):
    paths = Paths(input_dir=tmp_path / "input", warehouse_dir=tmp_path / "warehouse")
    # litellm stamps today's time and today has no partition yet: the file is dropped in
    # yesterday's folder, as a proxy's upload after midnight would be (calls may start up to the
    # end of the day after their folder's day); the mart holds them on their own day.
    folder_day = _day(calls) - timedelta(days=1)
    _drop(paths, calls, day=folder_day)
    run_costline(
        "run",
        "--date",
        folder_day.isoformat(),
        input_dir=paths.input_dir,
        warehouse_dir=paths.warehouse_dir,
        check=True,
    )
    expected = sum(
        Decimal(repr(c.payload["response_cost"])).quantize(MICRO, ROUND_HALF_UP)
        for c in calls
        if c.payload["response_cost"] > 0
    )
    with duckdb.connect(str(paths.warehouse_dir / "mart.duckdb"), read_only=True) as con:
        total, api_calls, first, last = con.execute(
            "select sum(estimated_cost_usd), sum(api_calls), min(day), max(day) from daily_spend"
        ).fetchone()
    assert (api_calls, first, last) == (CALLS, _day(calls), _day(calls))
    assert total.quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01")) and total == expected
