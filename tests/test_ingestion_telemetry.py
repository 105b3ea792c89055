"""Telemetry ingestion against real DuckDB files: validation, quarantine, dedup, the ledger,
reloads, every input format, and prompt text never reaching the warehouse."""

import dataclasses
import gzip
import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from ingestion_helpers import (
    CANARY,
    DAY,
    assert_ledger_reconciles,
    call,
    call_span,
    export_request,
    files_containing,
    make_paths,
    rows,
    telemetry_folder,
    write_lines,
    write_parquet,
)

from ingestion import day_folders
from ingestion.day_folders import RELOAD_ENV, load_day_folder, load_day_folders
from ingestion.fields import TELEMETRY_FIELDS, UNREPORTED_TIER
from ingestion.otel.spans import MalformedExport, flatten_export_request
from ingestion.readers import extract_file_lines
from ingestion.settings import Paths
from ingestion.sources.telemetry_files import TELEMETRY_LOADER, load_telemetry_folder
from ingestion.warehouse import connect

NEXT_DAY = DAY + timedelta(days=1)
SOURCE_COLUMNS = {"source_folder", "source_file", "source_line", "load_id", "loaded_at"}
CALL_COLUMNS = (
    "call_id, request_id, attempt, started_at, duration_ms, provider, model, operation, "
    "input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, "
    "reasoning_output_tokens, status, error_type, service_tier, workspace, feature, "
    "environment, user_segment, prompt_version, project_id, cost_usd, tags"
)


@pytest.fixture
def paths(tmp_path):
    return make_paths(tmp_path)


def load(paths, day=DAY, load_id="load-1"):
    with connect(paths.warehouse_db) as con:
        return load_telemetry_folder(con, paths, day, load_id)


def query(paths, sql, params=None):
    with connect(paths.warehouse_db, read_only=True) as con:
        return rows(con, sql, params)


def calls_by_id(paths) -> dict[str, dict]:
    with connect(paths.warehouse_db, read_only=True) as con:
        cur = con.execute(f"select {CALL_COLUMNS} from raw.telemetry_calls order by call_id")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def quarantine(paths) -> list[tuple]:
    return query(
        paths,
        "select source_file, source_line, record_key, reason from raw.quarantine "
        "where input = 'telemetry' order by source_file, source_line",
    )


# --------------------------------------------------------------------------------------------
# Accepted records
# --------------------------------------------------------------------------------------------


def test_valid_record_gets_contract_defaults_utc_time_and_exact_cost(paths):
    folder = telemetry_folder(paths)
    write_lines(
        folder / "app.jsonl",
        [
            call("minimal"),
            call(
                "full",
                attempt=2,
                started_at="2026-10-01T14:30:00.123456+02:00",
                operation="embeddings",
                cache_read_input_tokens=200,
                cache_creation_input_tokens=100,
                reasoning_output_tokens=50,
                error_type="rate_limit",
                service_tier="batch",
                environment="staging",
                user_segment="pro",
                prompt_version="answer@v3",
                project_id="proj_1",
                cost_usd="0.012345",
                tags={"region": "eu", "retries": 3, "zone": "b"},
            ),
            call("number-cost", cost_usd=1.1, started_at="2026-10-01T00:30:00-05:30"),
            call("status-given", error_type="timeout", status="OK"),
        ],
    )
    result = load(paths)

    got = calls_by_id(paths)
    minimal = got["minimal"]
    assert (
        minimal["attempt"],
        minimal["operation"],
        minimal["status"],
        minimal["service_tier"],
        minimal["environment"],
    ) == (1, "chat", "ok", UNREPORTED_TIER, "production")
    assert (
        minimal["cache_read_input_tokens"],
        minimal["cache_creation_input_tokens"],
        minimal["reasoning_output_tokens"],
    ) == (0, 0, 0)
    assert minimal["started_at"] == datetime(2026, 10, 1, 12, 0, 0, 250000)
    assert minimal["cost_usd"] is None and minimal["tags"] is None and minimal["error_type"] is None

    full = got["full"]
    assert full["started_at"] == datetime(2026, 10, 1, 12, 30, 0, 123456)  # +02:00 to UTC
    assert full["status"] == "error"  # error_type given, status absent
    assert full["cost_usd"] == Decimal("0.012345")
    assert json.loads(full["tags"]) == {"region": "eu", "zone": "b"}  # the number is not a tag
    assert (full["attempt"], full["operation"], full["service_tier"], full["environment"]) == (
        2,
        "embeddings",
        "batch",
        "staging",
    )

    assert got["number-cost"]["cost_usd"] == Decimal("1.100000")
    assert got["number-cost"]["started_at"] == datetime(2026, 10, 1, 6, 0)  # -05:30 to UTC
    assert got["status-given"]["status"] == "ok"  # an explicit status wins over error_type

    (f,) = result.files
    assert (f.source_file, f.file_format, f.records_read, f.accepted) == (
        "telemetry/2026-10-01/app.jsonl",
        "jsonl",
        4,
        4,
    )
    assert query(paths, "select distinct source_file, source_folder from raw.telemetry_calls") == [
        ("telemetry/2026-10-01/app.jsonl", DAY)
    ]
    assert query(paths, "select source_line from raw.telemetry_calls order by source_line") == [(1,), (2,), (3,), (4,)]


def test_otel_alias_names_give_the_same_row_as_contract_names(paths):
    canonical = call(
        "c-1",
        attempt=2,
        operation="chat",
        cache_read_input_tokens=10,
        cache_creation_input_tokens=5,
        reasoning_output_tokens=7,
        error_type="timeout",
        service_tier="priority",
        environment="staging",
        user_segment="pro",
        prompt_version="v2",
        project_id="proj_9",
        cost_usd=0.5,
        tags={"team": "a"},
    )
    aliased = {
        "gen_ai.response.id": "c-2",
        "costline.request_id": canonical["request_id"],
        "costline.attempt": 2,
        "started_at": canonical["started_at"],
        "duration_ms": canonical["duration_ms"],
        "gen_ai.system": "openai",
        "gen_ai.request.model": "ignored-when-response-model-given",
        "gen_ai.response.model": canonical["model"],
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 10,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 7,
        "error.type": "timeout",
        "openai.response.service_tier": "priority",
        "costline.workspace": "search",
        "costline.feature": "answer",
        "deployment.environment.name": "staging",
        "costline.user_segment": "pro",
        "costline.prompt_version": "v2",
        "costline.project_id": "proj_9",
        "gen_ai.usage.cost": 0.5,
        "costline.tag.team": "a",
        "gen_ai.prompt": CANARY,
    }
    # The contract name wins over its alias when both are present.
    both = {**call("c-3", workspace="canonical-ws"), "costline.workspace": "alias-ws"}
    write_lines(telemetry_folder(paths) / "a.jsonl", [canonical, aliased, both])
    load(paths)
    got = calls_by_id(paths)
    first, second = got["c-1"], got["c-2"]
    assert {k: v for k, v in second.items() if k != "call_id"} == {k: v for k, v in first.items() if k != "call_id"}
    assert got["c-3"]["workspace"] == "canonical-ws"


def test_integral_floats_count_as_integer_tokens(paths):
    write_lines(telemetry_folder(paths) / "a.jsonl", [call("a", input_tokens=1200.0), call("b", input_tokens=1.2e3)])
    load(paths)
    assert [c["input_tokens"] for c in calls_by_id(paths).values()] == [1200, 1200]


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------

BAD_LINES = [
    # (line content, reason code, a fragment the reason must contain)
    ("this is not json", "malformed_json", "not valid JSON"),
    ("[1, 2, 3]", "malformed_json", "an array, not an object"),
    (call(None), "missing_field", "call_id is required"),
    (call("b-prov", provider=""), "missing_field", "provider is required"),
    (call("b-model", model={"name": "x"}), "invalid_field", "model must be a string, got an object"),
    (call("b-time", started_at="2026-10-01 12:00"), "invalid_timestamp", 'got "2026-10-01 12:00"'),
    (call("b-date", started_at="2026-02-30T00:00:00Z"), "invalid_timestamp", "RFC 3339"),
    (call("b-epoch", started_at=1790000000), "invalid_timestamp", "got 1790000000"),
    (call("b-old", started_at="2019-12-31T23:59:59Z"), "invalid_timestamp", "is before 2020-01-01"),
    (
        call("b-future", started_at="2026-10-03T00:00:00Z"),
        "invalid_timestamp",
        "is after 2026-10-02, the day after its folder",
    ),
    (call("b-neg", output_tokens=-3), "invalid_tokens", "output_tokens must be a non-negative integer, got -3"),
    (call("b-str", input_tokens="12"), "invalid_tokens", 'input_tokens must be a non-negative integer, got "12"'),
    (call("b-frac", output_tokens=12.5), "invalid_tokens", "got 12.5"),
    (call("b-huge", input_tokens=1e308), "invalid_tokens", "input_tokens must be a non-negative integer"),
    (call("b-big", input_tokens=2**63), "invalid_tokens", "got 9223372036854775808"),
    (
        call("b-cache", input_tokens=500, cache_read_input_tokens=600, cache_creation_input_tokens=300),
        "cache_exceeds_input",
        "(900) exceed input_tokens (500)",
    ),
    (
        call("b-reason", output_tokens=10, reasoning_output_tokens=11),
        "reasoning_exceeds_output",
        "reasoning_output_tokens (11) exceed output_tokens (10)",
    ),
    (call("b-attempt", attempt=0), "invalid_attempt", "attempt must be an integer >= 1"),
    (call("b-dur", duration_ms=-5), "invalid_number", "duration_ms must be a non-negative number"),
    (call("b-cost", cost_usd="abc"), "invalid_number", "cost_usd must be a non-negative dollar amount"),
    (call("b-status", status="maybe"), "unknown_status", 'status must be ok or error, got "maybe"'),
    (call("b-long", status="x" * 500), "unknown_status", "x" * 40 + "..."),
    # Values that casts alone would get wrong or crash on.
    (call("b-attempt-big", attempt=2**40), "invalid_attempt", "got 1099511627776"),
    (call("b-dur-bool", duration_ms=True), "invalid_number", "got true"),
    (call("b-tok-bool", input_tokens=True), "invalid_tokens", "got true"),
    (call("b-hour", started_at="2026-10-01T24:00:00Z"), "invalid_timestamp", "RFC 3339"),
    ("null", "malformed_json", "line is JSON but null"),
]


def test_every_bad_record_is_quarantined_with_code_file_and_line(paths):
    folder = telemetry_folder(paths)
    lines = [call("good-1")]
    for content, _, _ in BAD_LINES:
        lines += [content, ""]  # blank lines in between are not records
    lines.append(call("good-2"))
    write_lines(folder / "mixed.jsonl", lines)
    result = load(paths)

    held = quarantine(paths)
    assert len(held) == len(BAD_LINES)
    for (content, code, fragment), (source_file, line, record_key, reason) in zip(BAD_LINES, held, strict=True):
        assert source_file == "telemetry/2026-10-01/mixed.jsonl"
        assert lines[line - 1] is content, reason  # the line number points at the bad line
        assert reason.startswith(code + ": "), reason
        assert fragment in reason, reason
        if isinstance(content, dict) and isinstance(content.get("call_id"), str):
            assert record_key == content["call_id"]
    assert set(calls_by_id(paths)) == {"good-1", "good-2"}
    (f,) = result.files
    assert (f.records_read, f.accepted, f.quarantined, f.duplicates) == (len(BAD_LINES) + 2, 2, len(BAD_LINES), 0)
    assert_ledger_reconciles_with_connection(paths)


def assert_ledger_reconciles_with_connection(paths):
    with connect(paths.warehouse_db, read_only=True) as con:
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")


def test_invalid_utf8_and_raw_control_characters_use_the_careful_reader(paths):
    folder = telemetry_folder(paths)
    good = json.dumps(call("ok-1")).encode()
    sneaky = json.dumps(call("cut-here")).encode() + b"\x01" + b'{"junk": true}'
    bad_utf8 = json.dumps(call("latin1", feature="caf\u00e9")).encode().replace(b"caf\\u00e9", b"caf\xe9")
    bare_cr = json.dumps(call("cr-inside")).encode().replace(b", ", b",\r", 1)
    write_lines(folder / "a.jsonl", [good, bad_utf8, b"", sneaky, bare_cr, json.dumps(call("ok-2")).encode()])
    load(paths)

    assert set(calls_by_id(paths)) == {"ok-1", "ok-2", "cr-inside"}  # a raw CR is JSON whitespace
    held = quarantine(paths)
    assert [(line, reason.split(":")[0]) for _, line, _, reason in held] == [(2, "invalid_utf8"), (4, "malformed_json")]
    assert query(paths, "select source_line from raw.telemetry_calls where call_id = 'ok-2'") == [(6,)]
    assert_ledger_reconciles_with_connection(paths)


def test_fast_reader_numbers_lines_exactly_and_falls_back_when_it_cannot(tmp_path):
    clean = write_lines(
        tmp_path / "clean.jsonl", [call(f"c{i}") if i % 5 else "" for i in range(1, 2001)], newline=b"\r\n"
    )
    broken = write_lines(tmp_path / "broken.jsonl", [call("a"), b"\xff\xfe", call("b")])
    with connect(tmp_path / "w.duckdb") as con:
        assert extract_file_lines(con, clean, TELEMETRY_FIELDS) == "duckdb"
        numbered = rows(con, "select source_line, call_id_j from _cl_extracted where not is_blank order by 1")
        assert numbered == [(i, f'"c{i}"') for i in range(1, 2001) if i % 5]
        assert extract_file_lines(con, broken, TELEMETRY_FIELDS) == "python"
        assert rows(con, "select source_line, pre_reason is not null from _cl_extracted order by 1") == [
            (1, False),
            (2, True),
            (3, False),
        ]


def test_unreadable_files_are_one_quarantined_record_each(paths):
    folder = telemetry_folder(paths)
    whole = gzip.compress(b"".join(json.dumps(call(f"c{i}")).encode() + b"\n" for i in range(200)))
    (folder / "a-broken.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # an interrupted upload
    (folder / "b-broken.parquet").write_bytes(b"PAR1 this is not parquet")
    write_lines(folder / "c-good.jsonl", [call("fine")])
    result = load(paths)
    by_file = {f.source_file.rsplit("/", 1)[1]: f for f in result.files}
    for name in ("a-broken.jsonl.gz", "b-broken.parquet"):
        assert (by_file[name].records_read, by_file[name].quarantined) == (1, 1)
    reasons = [r for _, _, _, r in quarantine(paths)]
    assert len(reasons) == 2 and all(r.startswith("unreadable_file: ") for r in reasons)
    assert set(calls_by_id(paths)) == {"fine"}


# --------------------------------------------------------------------------------------------
# Dedup, late records, reloads
# --------------------------------------------------------------------------------------------


def test_duplicates_within_a_file_across_files_and_across_folders(paths):
    day1, day2 = telemetry_folder(paths, DAY), telemetry_folder(paths, NEXT_DAY)
    write_lines(day1 / "a.jsonl", [call("c1", model="first"), call("c2"), call("c1", model="second")])
    write_lines(day1 / "b.jsonl", [call("c2", model="from-b"), call("c3")])
    write_lines(day2 / "a.jsonl", [call("c3", model="from-day2"), call("c4", started_at="2026-10-02T01:00:00Z")])

    first = load(paths, DAY)
    second = load(paths, NEXT_DAY)

    # Every repeat here differs from its first copy: a conflict, quarantined (first wins).
    assert [(f.records_read, f.accepted, f.quarantined, f.duplicates) for f in first.files] == [
        (3, 2, 1, 0),
        (2, 1, 1, 0),
    ]
    assert [(f.records_read, f.accepted, f.quarantined, f.duplicates) for f in second.files] == [(2, 1, 1, 0)]
    conflicts = query(paths, "select source_file, source_line, reason from raw.quarantine order by 1, 2")
    assert [(f, n, r.split(":")[0]) for f, n, r in conflicts] == [
        ("telemetry/2026-10-01/a.jsonl", 3, "duplicate_conflict"),
        ("telemetry/2026-10-01/b.jsonl", 1, "duplicate_conflict"),
        ("telemetry/2026-10-02/a.jsonl", 1, "duplicate_conflict"),
    ]
    assert "already loaded from telemetry/2026-10-01/a.jsonl line 1 with a different model" in conflicts[0][2]
    assert "already loaded from telemetry/2026-10-01/b.jsonl line 2 with a different model" in conflicts[2][2]
    got = query(paths, "select call_id, model, source_file, source_line from raw.telemetry_calls order by 1")
    assert got == [
        ("c1", "first", "telemetry/2026-10-01/a.jsonl", 1),
        ("c2", "gpt-4o-mini", "telemetry/2026-10-01/a.jsonl", 2),
        ("c3", "gpt-4o-mini", "telemetry/2026-10-01/b.jsonl", 2),
        ("c4", "gpt-4o-mini", "telemetry/2026-10-02/a.jsonl", 2),
    ]
    # Reloading the first folder keeps the first-loaded copies: nothing moves to day 2.
    load(paths, DAY, load_id="load-2")
    assert query(paths, "select call_id, model, source_file, source_line from raw.telemetry_calls order by 1") == got
    assert_ledger_reconciles_with_connection(paths)


def test_a_warehouse_from_before_call_key_gets_it_and_still_catches_resent_calls(paths):
    telemetry_folder(paths, DAY)
    write_lines(telemetry_folder(paths, DAY) / "a.jsonl", [call("c1"), call("c2")])
    load(paths, DAY)
    with connect(paths.warehouse_db) as con:  # as an older costline left it: no call_key column
        con.execute("alter table raw.telemetry_calls drop column call_key")
        con.execute("alter table raw.telemetry_calls drop column request_key")
        con.execute("drop table raw.key_probe")
    write_lines(telemetry_folder(paths, NEXT_DAY) / "a.jsonl", [call("c2"), call("c1", model="other"), call("c3")])

    second = load(paths, NEXT_DAY)

    assert [(f.records_read, f.accepted, f.quarantined, f.duplicates) for f in second.files] == [(3, 1, 1, 1)]
    keys = query(paths, "select count(*), count(distinct call_key), count(request_key) from raw.telemetry_calls")
    assert keys == [(3, 3, 3)]
    assert query(
        paths,
        "select count(*) from raw.telemetry_calls where call_key is distinct from "
        "cast(hash(call_id) >> 1 as bigint) or request_key is distinct from "
        "cast(hash(request_id) >> 1 as bigint)",
    ) == [(0,)]


def test_keys_are_computed_again_when_the_hash_function_changes(paths):
    write_lines(telemetry_folder(paths, DAY) / "a.jsonl", [call("c1"), call("c2")])
    load(paths, DAY)
    with connect(paths.warehouse_db) as con:  # what a DuckDB with another hash() would have left
        con.execute("update raw.telemetry_calls set call_key = call_key + 1, request_key = 0")
        con.execute("update raw.key_probe set probe = probe + 1")
    write_lines(telemetry_folder(paths, NEXT_DAY) / "a.jsonl", [call("c1"), call("c3")])

    second = load(paths, NEXT_DAY)

    assert [(f.records_read, f.accepted, f.duplicates) for f in second.files] == [(2, 1, 1)]
    assert query(
        paths,
        "select count(*) from raw.telemetry_calls where call_key is distinct from "
        "cast(hash(call_id) >> 1 as bigint) or request_key is distinct from "
        "cast(hash(request_id) >> 1 as bigint)",
    ) == [(0,)]


def test_record_in_next_folder_counts_on_its_own_day(paths):
    write_lines(
        telemetry_folder(paths, NEXT_DAY) / "late.jsonl",
        [
            call("before-midnight", started_at="2026-10-01T23:58:00Z"),
            call("after-midnight", started_at="2026-10-02T00:01:00Z"),
        ],
    )
    result = load(paths, NEXT_DAY)
    assert (result.min_event_day, result.max_event_day) == (DAY, NEXT_DAY)
    assert query(paths, "select min_event_day, max_event_day from raw.source_files") == [(DAY, NEXT_DAY)]
    assert query(paths, "select started_at::date from raw.telemetry_calls where call_id = 'before-midnight'") == [
        (DAY,)
    ]


def snapshot(paths) -> dict[str, list]:
    with connect(paths.warehouse_db, read_only=True) as con:
        return {
            "calls": rows(con, "select * exclude (load_id, loaded_at) from raw.telemetry_calls order by all"),
            "quarantine": rows(con, "select * exclude (load_id, loaded_at) from raw.quarantine order by all"),
            "ledger": rows(con, "select * exclude (load_id, loaded_at) from raw.source_files order by all"),
        }


def test_reloading_a_folder_changes_nothing_and_replaces_edited_files(paths, monkeypatch):
    folder = telemetry_folder(paths)
    write_lines(folder / "a.jsonl", [call("c1"), call("c1"), "broken", call("c2", tags={"k": "v"})])
    write_lines(folder / "b.jsonl.gz", [call("c3"), call("c2")])
    load(paths)
    before = snapshot(paths)
    # Nothing arrived: the folder is not read again.
    again = load(paths, load_id="load-2")
    assert (again.files, again.unchanged) == ((), 2)
    assert snapshot(paths) == before
    assert query(paths, "select distinct load_id from raw.telemetry_calls") == [("load-1",)]
    # Forced, the folder is read again and gives the same rows.
    monkeypatch.setenv(RELOAD_ENV, "1")
    assert len(load(paths, load_id="load-2").files) == 2
    monkeypatch.delenv(RELOAD_ENV)
    assert snapshot(paths) == before
    assert query(paths, "select distinct load_id from raw.telemetry_calls") == [("load-2",)]

    # An edited re-drop replaces what the folder held: c3 is gone, the quarantine row too.
    write_lines(folder / "a.jsonl", [call("c1"), call("c2")])
    (folder / "b.jsonl.gz").unlink()
    load(paths, load_id="load-3")
    assert set(calls_by_id(paths)) == {"c1", "c2"}
    assert quarantine(paths) == []
    assert query(paths, "select source_file from raw.source_files") == [("telemetry/2026-10-01/a.jsonl",)]


def test_hourly_drops_append_only_new_files_and_equal_one_load_of_the_day(paths, tmp_path):
    hours = {
        "calls-08.jsonl": [call("c1"), "broken", call("c2")],
        # c1 again (a duplicate) and c2 with other content (a conflict): first copy wins.
        "calls-09.jsonl": [call("c1"), call("c2", input_tokens=999), call("c3")],
        "calls-10.jsonl": [call("c4"), call("c3")],
    }
    folder = telemetry_folder(paths)
    loads = []
    for n, (name, lines) in enumerate(hours.items()):
        write_lines(folder / name, lines)
        loads.append(load(paths, load_id=f"hour-{n}"))
    # Each run read only the file that arrived.
    assert [[f.source_file.rsplit("/", 1)[1] for f in fl.files] for fl in loads] == [[name] for name in hours]
    assert [fl.unchanged for fl in loads] == [0, 1, 2]
    hourly = snapshot(paths)

    whole = Paths.from_env(paths.input_dir, tmp_path / "whole")
    load(whole)
    assert snapshot(whole) == hourly
    ledger = query(paths, "select source_file, records_read, accepted, quarantined, duplicates from raw.source_files")
    assert sorted(ledger) == [
        ("telemetry/2026-10-01/calls-08.jsonl", 3, 2, 1, 0),
        ("telemetry/2026-10-01/calls-09.jsonl", 3, 1, 1, 1),
        ("telemetry/2026-10-01/calls-10.jsonl", 2, 1, 0, 1),
    ]


def test_a_new_file_named_before_a_loaded_one_or_a_grown_file_reloads_the_folder(paths, tmp_path):
    folder = telemetry_folder(paths)
    write_lines(folder / "b.jsonl", [call("c1")])
    load(paths)
    # A name sorting first would have won duplicates in a whole-folder load: read all again.
    write_lines(folder / "a.jsonl", [call("c1", input_tokens=7), call("c2")])
    assert len(load(paths, load_id="load-2").files) == 2
    whole = Paths.from_env(paths.input_dir, tmp_path / "whole")
    load(whole)
    assert snapshot(whole) == snapshot(paths)
    # A file still being written grows between runs: its new lines are read too.
    write_lines(folder / "b.jsonl", [call("c1"), call("c3")])
    assert len(load(paths, load_id="load-3").files) == 2
    assert set(calls_by_id(paths)) == {"c1", "c2", "c3"}


def test_a_window_loads_the_same_rows_in_one_batch_in_many_and_folder_by_folder(paths, tmp_path, monkeypatch):
    """The batched load (one checks pass and one transaction for many folders) must give
    exactly what loading the folders one by one in day order gives: the clock rule judged
    against each record's own folder, first copy winning across folders, the ledger per file."""
    days = [DAY + timedelta(days=n) for n in range(3)]
    late = "2026-10-03T12:00:00Z"  # from the future in DAY's folder, in time in the third's
    write_lines(telemetry_folder(paths, days[0]) / "a.jsonl", [call("c1"), call("c2", started_at=late), "broken"])
    write_lines(telemetry_folder(paths, days[0]) / "b.jsonl", [call("c3"), call("c1")])
    write_lines(
        telemetry_folder(paths, days[1]) / "a.jsonl",
        [call("c3", model="other"), call("c4", started_at="2026-10-02T01:00:00Z")],
    )
    write_lines(telemetry_folder(paths, days[2]) / "a.parquet.jsonl", [call("c5", started_at=late), call("c4")])
    (telemetry_folder(paths, days[2]) / "z.jsonl.gz").write_bytes(b"not gzip")
    (telemetry_folder(paths, days[1]) / "0-empty.jsonl").write_bytes(b"")

    def load_window(target: Paths) -> list:
        folders = [(day, target.telemetry_dir / day.isoformat()) for day in days]
        with connect(target.warehouse_db) as con:
            return load_day_folders(con, TELEMETRY_LOADER, target.input_dir, folders, "load-1")

    one_batch = load_window(paths)
    by_folder = Paths.from_env(paths.input_dir, tmp_path / "by-folder")
    for day in days:
        load(by_folder, day)
    assert snapshot(paths) == snapshot(by_folder)
    # Every file its own batch, and the checks run after every file.
    monkeypatch.setattr(day_folders, "BATCH_BYTES", 1)
    monkeypatch.setattr(day_folders, "CHECK_ROWS", 1)
    many = Paths.from_env(paths.input_dir, tmp_path / "many")
    assert load_window(many) == one_batch
    assert snapshot(many) == snapshot(paths)

    assert [(fl.day, fl.records_read, fl.accepted, fl.quarantined, fl.duplicates) for fl in one_batch] == [
        (days[0], 5, 2, 2, 1),
        (days[1], 2, 1, 1, 0),
        (days[2], 3, 1, 2, 0),
    ]
    reasons = dict(query(paths, "select source_file || ':' || coalesce(source_line, 0), reason from raw.quarantine"))
    assert reasons["telemetry/2026-10-01/a.jsonl:3"].startswith("malformed_json")
    assert "is after 2026-10-02, the day after its folder" in reasons["telemetry/2026-10-01/a.jsonl:2"]
    assert reasons["telemetry/2026-10-02/a.jsonl:1"].startswith("duplicate_conflict")
    assert reasons["telemetry/2026-10-03/a.parquet.jsonl:2"].startswith("duplicate_conflict")
    assert reasons["telemetry/2026-10-03/z.jsonl.gz:0"].startswith("unreadable_file")
    assert set(calls_by_id(paths)) == {"c1", "c3", "c4", "c5"}
    assert_ledger_reconciles_with_connection(paths)


def test_a_failure_while_publishing_leaves_the_previous_load(paths):
    folder = telemetry_folder(paths)
    write_lines(folder / "a.jsonl", [call("c1"), "broken"])
    load(paths)
    before = snapshot(paths)

    def explode(con, params):
        TELEMETRY_LOADER.insert_facts(con, params)
        raise RuntimeError("disk full")

    write_lines(folder / "a.jsonl", [call("c9")])
    failing = dataclasses.replace(TELEMETRY_LOADER, insert_facts=explode)
    with connect(paths.warehouse_db) as con, pytest.raises(RuntimeError, match="disk full"):
        load_day_folder(con, failing, paths.input_dir, folder, DAY, "load-2")
    assert snapshot(paths) == before


def test_missing_folder_is_an_empty_load_and_other_files_are_skipped(paths):
    result = load(paths)
    assert (result.files, result.records_read, result.min_event_day) == ((), 0, None)
    folder = telemetry_folder(paths)
    write_lines(folder / "_SUCCESS", [])
    write_lines(folder / ".app.jsonl.tmp", [call("partial")])
    write_lines(folder / "notes.txt", ["hello"])
    write_lines(folder / "app.jsonl", [call("c1")])
    assert [f.source_file for f in load(paths).files] == ["telemetry/2026-10-01/app.jsonl"]


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

FORMAT_RECORDS = [
    call("f1", cost_usd=0.25, tags={"team": "a", "tier": "gold"}, cache_read_input_tokens=100),
    call("f2", started_at="2026-10-01T23:59:59.999Z", error_type="rate_limit", attempt=2),
    call("f3", status="error", user_segment="free", duration_ms=3.0),
    call("f1", model="duplicate"),
    call("f4", output_tokens=-1),
]


def load_format(tmp_path, name, write) -> tuple[list, list]:
    paths = make_paths(tmp_path / name)
    write(telemetry_folder(paths) / name)
    load(paths)
    calls = query(paths, f"select {CALL_COLUMNS} from raw.telemetry_calls order by call_id")
    held = query(paths, "select source_line, split_part(reason, ':', 1) from raw.quarantine order by 1")
    return calls, held


def test_gzip_and_parquet_load_the_same_rows_as_plain_jsonl(tmp_path):
    plain = load_format(tmp_path, "calls.jsonl", lambda p: write_lines(p, FORMAT_RECORDS))
    gz = load_format(tmp_path, "calls.jsonl.gz", lambda p: write_lines(p, FORMAT_RECORDS))
    flat_parquet = load_format(tmp_path, "calls.parquet", lambda p: write_parquet(p, FORMAT_RECORDS))

    def typed(p):
        # As analytics exports write it: zoned timestamps, a string map for tags.
        records = [
            {
                **r,
                "started_at": datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")),
                "tags": list(r["tags"].items()) if "tags" in r else None,
            }
            for r in FORMAT_RECORDS
        ]
        write_parquet(
            p, records, {"tags": pa.map_(pa.string(), pa.string()), "started_at": pa.timestamp("us", tz="UTC")}
        )

    typed_parquet = load_format(tmp_path, "typed.parquet", typed)
    assert len(plain[0]) == 3 and plain[1] == [(4, "duplicate_conflict"), (5, "invalid_tokens")]
    assert gz == plain
    assert flat_parquet == plain
    assert typed_parquet == plain


def test_parquet_timestamp_without_zone_is_quarantined(paths):
    write_parquet(
        telemetry_folder(paths) / "naive.parquet", [{**call("n1"), "started_at": datetime(2026, 10, 1, 12, 0)}]
    )
    load(paths)
    ((_, line, _, reason),) = quarantine(paths)
    assert line == 1 and reason.startswith("invalid_timestamp: ") and '"2026-10-01 12:00:00"' in reason


@pytest.mark.parametrize("name", ["export.otlp.jsonl", "export.otlp.jsonl.gz"])
def test_otlp_export_loads_the_same_rows_as_flat_jsonl(tmp_path, name):
    flat_records = [
        call(
            "o1",
            attempt=1,
            cost_usd=0.125,
            tags={"team": "a"},
            cache_read_input_tokens=100,
            prompt_version="v2",
            workspace="eval",
            environment="staging",
        ),
        call(
            "o2",
            attempt=2,
            error_type="rate_limit",
            workspace="eval",
            environment="staging",
            started_at="2026-10-01T12:00:01.123456Z",
            duration_ms=1500.25,
        ),
        call("o3", workspace="override", environment="staging"),
    ]
    flat_paths = make_paths(tmp_path / "flat")
    write_lines(telemetry_folder(flat_paths) / "calls.jsonl", flat_records)
    load(flat_paths)

    otlp_paths = make_paths(tmp_path / "otlp")
    resource = {"service.name": "eval-runner", "costline.workspace": "eval", "deployment.environment.name": "staging"}
    spans = [call_span(r, f"{i:016x}", "ab" * 16) for i, r in enumerate(flat_records)]
    spans[2] = call_span(flat_records[2], "3" * 16, "ab" * 16, {"costline.workspace": "override"})
    not_a_call = {
        "traceId": "ab" * 16,
        "spanId": "f" * 16,
        "name": "eval case",
        "startTimeUnixNano": "1790856000000000000",
        "attributes": [],
    }
    lines = [
        export_request([not_a_call, spans[0], spans[1]], resource),
        "",
        "{not json",
        json.dumps({"resourceLogs": []}),
        export_request([spans[2]], resource),
    ]
    write_lines(telemetry_folder(otlp_paths) / name, lines)
    result = load(otlp_paths)

    columns = f"select {CALL_COLUMNS} from raw.telemetry_calls order by call_id"
    assert query(otlp_paths, columns) == query(flat_paths, columns)
    assert query(otlp_paths, "select call_id, source_line from raw.telemetry_calls order by 1") == [
        ("o1", 1),
        ("o2", 1),
        ("o3", 5),
    ]
    held = quarantine(otlp_paths)
    assert [(line, reason.split(":")[0]) for _, line, _, reason in held] == [
        (3, "malformed_json"),
        (4, "malformed_otlp"),
    ]
    (f,) = result.files
    assert (f.file_format, f.records_read, f.accepted, f.quarantined) == (name[len("export.") :], 5, 3, 2)


def test_flatten_export_request_maps_span_fields():
    record = call("resp-1", attempt=3, error_type="timeout", duration_ms=250.0)
    span = call_span(
        record,
        "00f067aa0ba902b7",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        {"costline.tag.ticket": "T-1", "costline.tag.count": 3},
    )
    del_attrs = [a for a in span["attributes"] if a["key"] != "gen_ai.response.id"]
    no_response_id = {**span, "attributes": del_attrs, "status": {"code": "STATUS_CODE_ERROR"}}
    out = flatten_export_request(export_request([span, no_response_id], {"costline.workspace": "ws"}))
    assert out[0]["call_id"] == "resp-1" and out[0]["request_id"] == record["request_id"]
    assert out[0]["started_at"] == "2026-10-01T12:00:00.250000Z" and out[0]["duration_ms"] == 250.0
    assert out[0]["status"] == "error" and out[0]["error_type"] == "timeout"
    assert out[0]["attempt"] == 3 and out[0]["input_tokens"] == 1200 and out[0]["workspace"] == "ws"
    assert out[0]["tags"] == {"ticket": "T-1"}
    assert out[1]["call_id"] == "00f067aa0ba902b7"  # falls back to the span id
    assert all(CANARY not in json.dumps(r) for r in out)
    with pytest.raises(MalformedExport):
        flatten_export_request({"resourceSpans": "nope"})


# --------------------------------------------------------------------------------------------
# Prompt text
# --------------------------------------------------------------------------------------------


def test_prompt_text_never_reaches_the_warehouse_or_the_logs(paths, caplog):
    folder = telemetry_folder(paths)
    content = {
        "prompt": CANARY,
        "completion": CANARY,
        "messages": [{"role": "user", "content": CANARY}],
        "input": CANARY,
        "output": CANARY,
        "gen_ai.prompt.0.content": CANARY,
        "gen_ai.completion.0.content": CANARY,
        "gen_ai.input.messages": CANARY,
        "gen_ai.output.messages": CANARY,
        "gen_ai.system_instructions": CANARY,
        "costline.tag.prompt": CANARY,
    }
    write_lines(
        folder / "a.jsonl",
        [
            {**call("kept", tags={"prompt": CANARY, "messages": CANARY, "team": "a"}), **content},
            {**call("bad", output_tokens=-1), **content},
            json.dumps(call("truncated"))[:-30] + CANARY,
        ],
    )
    write_lines(folder / "b.jsonl", [json.dumps(call("latin")).encode()[:-1] + CANARY.encode() + b'\xff"}'])
    write_parquet(folder / "c.parquet", [{**call("pq"), "prompt": CANARY, "tags": {"prompt": CANARY}}])
    span = call_span(call("otlp"), "1" * 16, "2" * 32, {"gen_ai.output.messages": CANARY})
    write_lines(folder / "d.otlp.jsonl", [export_request([span], {"costline.workspace": "w"}), "{" + CANARY])
    with caplog.at_level(logging.DEBUG, logger="costline"):
        result = load(paths)

    assert result.accepted == 3 and result.quarantined == 4
    assert json.loads(calls_by_id(paths)["kept"]["tags"]) == {"team": "a"}
    assert files_containing(paths.warehouse_dir, CANARY) == []
    assert CANARY not in caplog.text
    # Reasons echo a value only briefly, so a prompt in a wrong field leaks at most a stub.
    assert all(len(r) < 300 for _, _, _, r in quarantine(paths))
