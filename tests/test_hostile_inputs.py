"""Hostile inputs (issue 5, item 1): every kind of bad telemetry, outcome and budget input is
either loaded or quarantined with a reason that says what to fix, the good records next to it
still load, and per file records read = accepted + quarantined + duplicates, where "read" is
counted here, independently of the loader (from the bytes written).

Most cases are loader-level (fast); `test_a_hostile_day_still_runs_and_publishes` sends a mix
through a real `costline run` to prove the run succeeds, publishes and flags what it must.
"""

import gzip
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_costline
from ingestion_helpers import (
    DAY,
    assert_ledger_reconciles,
    call,
    call_span,
    export_request,
    make_paths,
    outcomes_folder,
    rows,
    telemetry_folder,
)

from ingestion.fields import TELEMETRY_FIELDS
from ingestion.readers import EXTRACTED, extract_arrow, extract_file_lines, python_lines_table
from ingestion.sources.outcome_files import load_outcomes_folder
from ingestion.sources.reference_files import load_reference_inputs
from ingestion.sources.telemetry_files import load_telemetry_folder
from ingestion.warehouse import connect

GOOD = [call("good-first"), call("good-last")]
GOOD_IDS = {"good-first", "good-last"}


def jsonl(*items) -> bytes:
    """Items as lines: dicts as JSON, bytes/str verbatim."""
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(json.dumps(item).encode())
        elif isinstance(item, str):
            out.append(item.encode())
        else:
            out.append(item)
    return b"".join(line + b"\n" for line in out)


def raw_call(call_id: str, **raw_values: str) -> bytes:
    """A call line whose named fields are spliced in as raw JSON text (NaN, 1e308, ...)."""
    record = call(call_id)
    for key in raw_values:
        record[key] = f"@@{key}@@"
    text = json.dumps(record)
    for key, raw in raw_values.items():
        text = text.replace(f'"@@{key}@@"', raw)
    return text.encode()


def with_good(*bad) -> bytes:
    return jsonl(GOOD[0], *bad, GOOD[1])


def records_in(data: bytes) -> int:
    """Independent count of JSONL records: non-blank lines, split on \\n as `wc -l` does."""
    return sum(1 for line in data.split(b"\n") if line.strip(b" \t\r"))


def truncated_gzip() -> bytes:
    whole = gzip.compress(jsonl(*[call(f"gz-{i}") for i in range(300)]))
    return whole[: len(whole) // 2]


def corrupt_parquet() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"call_id": ["p1", "p2"], "input_tokens": [1, 2]}), buffer)
    data = bytearray(buffer.getvalue())
    data[8:40] = b"\x00" * 32  # the column chunk and its page header
    return bytes(data[: len(data) - 20]) + b"PAR1"


def binary_garbage() -> bytes:
    noise = random.Random(5).randbytes(4000)
    return jsonl(GOOD[0]) + noise + b"\n" + jsonl(GOOD[1])


# kind -> (file name, bytes, records read (None: count the lines), accepted ids,
#          {reason code: count} expected in quarantine, duplicates)
CASES = {
    "truncated_gzip": ("calls.jsonl.gz", truncated_gzip(), 1, set(), {"unreadable_file": 1}, 0),
    "corrupt_parquet": ("calls.parquet", corrupt_parquet(), 1, set(), {"unreadable_file": 1}, 0),
    "binary_garbage": ("calls.jsonl", binary_garbage(), None, GOOD_IDS, None, 0),
    "empty_file": ("calls.jsonl", b"", 0, set(), {}, 0),
    "ten_mb_single_line": (
        "calls.jsonl",
        with_good(call("huge", blob="x" * (10 << 20))),
        None,
        GOOD_IDS | {"huge"},
        {},
        0,
    ),
    "utf8_bom": ("calls.jsonl", b"\xef\xbb\xbf" + jsonl(*GOOD), None, GOOD_IDS, {}, 0),
    "crlf_line_ends": ("calls.jsonl", jsonl(*GOOD).replace(b"\n", b"\r\n"), None, GOOD_IDS, {}, 0),
    "invalid_utf8": ("calls.jsonl", with_good(b'{"call_id": "bad-\xff\xfe"}'), None, GOOD_IDS, {"invalid_utf8": 1}, 0),
    "nan_infinity_tokens": (
        "calls.jsonl",
        with_good(
            raw_call("nan", input_tokens="NaN"),
            raw_call("inf", output_tokens="Infinity"),
            raw_call("ninf", output_tokens="-Infinity"),
        ),
        None,
        GOOD_IDS,
        {"invalid_tokens": 3},
        0,
    ),
    "huge_float_tokens": (
        "calls.jsonl",
        with_good(raw_call("e308", input_tokens="1e308")),
        None,
        GOOD_IDS,
        {"invalid_tokens": 1},
        0,
    ),
    "tokens_as_strings": (
        "calls.jsonl",
        with_good(call("str", input_tokens="12")),
        None,
        GOOD_IDS,
        {"invalid_tokens": 1},
        0,
    ),
    "fractional_tokens": (
        "calls.jsonl",
        with_good(call("frac", output_tokens=12.5)),
        None,
        GOOD_IDS,
        {"invalid_tokens": 1},
        0,
    ),
    "two_pow_63_tokens": (
        "calls.jsonl",
        with_good(call("big", input_tokens=2**63)),
        None,
        GOOD_IDS,
        {"invalid_tokens": 1},
        0,
    ),
    "timestamp_without_offset": (
        "calls.jsonl",
        with_good(call("naive", started_at="2026-10-01T12:00:00")),
        None,
        GOOD_IDS,
        {"invalid_timestamp": 1},
        0,
    ),
    "timestamp_far_future": (
        "calls.jsonl",
        with_good(call("future", started_at="2999-01-01T00:00:00Z")),
        None,
        GOOD_IDS,
        {"invalid_timestamp": 1},
        0,
    ),
    "timestamp_before_2020": (
        "calls.jsonl",
        with_good(call("old", started_at="2019-06-30T12:00:00Z")),
        None,
        GOOD_IDS,
        {"invalid_timestamp": 1},
        0,
    ),
    "cache_above_input": (
        "calls.jsonl",
        with_good(call("cache", input_tokens=100, cache_read_input_tokens=90, cache_creation_input_tokens=20)),
        None,
        GOOD_IDS,
        {"cache_exceeds_input": 1},
        0,
    ),
    "duplicate_call_id_conflict": (
        "calls.jsonl",
        with_good(call("good-first", model="gpt-4o"), call("good-first")),
        None,
        GOOD_IDS,
        {"duplicate_conflict": 1},
        1,
    ),
    "truncated_last_line": (
        "calls.jsonl",
        jsonl(*GOOD) + json.dumps(call("cut")).encode()[:60],
        None,
        GOOD_IDS,
        {"malformed_json": 1},
        0,
    ),
    "json_but_not_an_object": (
        "calls.jsonl",
        with_good("[1, 2]", '"text"', "42", "null"),
        None,
        GOOD_IDS,
        {"malformed_json": 4},
        0,
    ),
    "blank_and_whitespace_lines": ("calls.jsonl", jsonl(GOOD[0], "", "   ", "\t", GOOD[1]), None, GOOD_IDS, {}, 0),
    # A text column of tokens: every row says what to fix, none is guessed at.
    "parquet_tokens_as_text": ("calls.parquet", None, 3, set(), {"invalid_tokens": 3}, 0),
}


def parquet_tokens_as_text() -> bytes:
    records = [call("pq-ok-1"), {**call("pq-bad"), "input_tokens": "lots"}, call("pq-ok-2")]
    names = list(dict.fromkeys(k for r in records for k in r))
    table = pa.table(
        {
            n: pa.array(
                [None if r.get(n) is None else str(r.get(n)) if n == "input_tokens" else r.get(n) for r in records]
            )
            for n in names
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def load_one(tmp_path: Path, name: str, data: bytes):
    paths = make_paths(tmp_path)
    (telemetry_folder(paths) / name).write_bytes(data)
    with connect(paths.warehouse_db) as con:
        folder = load_telemetry_folder(con, paths, DAY, "hostile")
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")
        accepted = {r[0] for r in rows(con, "select call_id from raw.telemetry_calls")}
        reasons = [r[0] for r in rows(con, "select reason from raw.quarantine where input = 'telemetry'")]
    return folder, accepted, reasons


@pytest.mark.parametrize("kind", sorted(CASES))
def test_hostile_telemetry_loses_nothing_and_says_what_to_fix(tmp_path, kind):
    name, data, read, accepted_ids, codes, duplicates = CASES[kind]
    if data is None:
        data = parquet_tokens_as_text()
    folder, accepted, reasons = load_one(tmp_path, name, data)

    (f,) = folder.files
    expected_read = records_in(data) if read is None else read
    assert f.records_read == expected_read, "the loader read a different number of records"
    assert f.records_read == f.accepted + f.quarantined + f.duplicates
    assert accepted == accepted_ids, "good records must load next to bad ones"
    assert f.duplicates == duplicates
    if codes is not None:
        got: dict[str, int] = {}
        for reason in reasons:
            got[reason.split(":")[0]] = got.get(reason.split(":")[0], 0) + 1
        assert got == codes, reasons
    else:  # binary garbage: whatever the lines look like, each one is held with a reason
        assert len(reasons) == expected_read - len(accepted_ids)
        assert all(r.split(":")[0] in ("invalid_utf8", "malformed_json") for r in reasons), reasons
    for reason in reasons:
        code, _, advice = reason.partition(": ")
        assert code and len(advice) > 20, f"reason must say what to fix: {reason!r}"


def test_reasons_name_the_field_and_the_fix(tmp_path):
    data = with_good(
        call("naive", started_at="2026-10-01T12:00:00"),
        call("cache", input_tokens=100, cache_read_input_tokens=90, cache_creation_input_tokens=20),
        call("good-first", model="gpt-4o"),
        call("old", started_at="2019-06-30T12:00:00Z"),
    )
    _, _, reasons = load_one(tmp_path, "calls.jsonl", data)
    text = "\n".join(reasons)
    assert "started_at must be an RFC 3339 string with a UTC offset" in text
    assert "input_tokens must include cached tokens" in text
    assert "before 2020-01-01" in text
    assert (
        "call_id good-first was already loaded from telemetry/2026-10-01/calls.jsonl line 1 with a "
        "different model; the first copy counts"
    ) in text


NAMES = [
    'O\'Brien "team"',
    "x'); drop table raw.telemetry_calls; --",
    "ops 🚀🔥",
    "w" * 500,
    "back\\slash",
    "tab\there",
]


def test_strange_workspace_names_round_trip_exactly(tmp_path):
    data = jsonl(*[call(f"n{i}", workspace=name, feature=name) for i, name in enumerate(NAMES)])
    folder, accepted, reasons = load_one(tmp_path, "calls.jsonl", data)
    assert reasons == [] and len(accepted) == len(NAMES)
    paths = make_paths(tmp_path)
    with connect(paths.warehouse_db, read_only=True) as con:
        got = dict(rows(con, "select call_id, workspace from raw.telemetry_calls"))
        assert rows(con, "select count(*) from raw.telemetry_calls")[0][0] == len(NAMES)  # table intact
    assert got == {f"n{i}": name for i, name in enumerate(NAMES)}


def test_otlp_lines_without_resource_attributes(tmp_path):
    paths = make_paths(tmp_path)
    with_ws = call("o-ok")
    no_ws = call("o-no-ws")
    lines = [
        export_request([call_span(with_ws, "a1", "t1")], {"costline.workspace": "search"}),
        # No resource attributes at all: no workspace, the call counts under (untagged).
        {"resourceSpans": [{"scopeSpans": [{"spans": [call_span(no_ws, "a2", "t2")]}]}]},
        {
            "resourceSpans": [
                {"resource": {}, "scopeSpans": [{"spans": [call_span(no_ws | {"call_id": "o-no-ws2"}, "a3", "t3")]}]}
            ]
        },
    ]
    (telemetry_folder(paths) / "spans.otlp.jsonl").write_bytes(jsonl(*lines))
    with connect(paths.warehouse_db) as con:
        folder = load_telemetry_folder(con, paths, DAY, "otlp")
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")
        workspaces = rows(con, "select call_id, workspace from raw.telemetry_calls order by call_id")
    (f,) = folder.files
    assert (f.records_read, f.accepted, f.quarantined) == (3, 3, 0)  # three call spans were written
    assert workspaces == [("o-no-ws", "(untagged)"), ("o-no-ws2", "(untagged)"), ("o-ok", "search")]


def test_outcomes_for_unknown_requests_are_kept_and_counted(tmp_path):
    paths = make_paths(tmp_path)
    (telemetry_folder(paths) / "calls.jsonl").write_bytes(jsonl(*GOOD))
    data = jsonl(
        {"request_id": "req-good-first", "recorded_at": "2026-10-01T13:00:00Z", "kind": "thumbs", "value": "up"},
        {"request_id": "req-nobody", "recorded_at": "2026-10-01T13:00:00Z", "kind": "thumbs", "value": "up"},
        {"request_id": "req-nobody", "recorded_at": "2026-10-01T13:00:00Z", "kind": "eval", "value": "NaN"},
    )
    (outcomes_folder(paths) / "outcomes.jsonl").write_bytes(data)
    with connect(paths.warehouse_db) as con:
        load_telemetry_folder(con, paths, DAY, "o")
        folder = load_outcomes_folder(con, paths, DAY, "o")
        assert_ledger_reconciles(con, "outcomes", "raw.outcomes")
        kept = rows(con, "select request_id from raw.outcomes order by 1")
    (f,) = folder.files
    # An outcome may arrive before its call: it is kept, so the call finds it when it lands.
    assert (f.records_read, f.accepted, f.quarantined) == (records_in(data), 2, 1)
    assert kept == [("req-good-first",), ("req-nobody",)]


def test_budgets_with_a_bad_number_are_quarantined_the_rest_loads(tmp_path):
    paths = make_paths(tmp_path)
    paths.input_dir.mkdir(parents=True)
    (paths.input_dir / "budgets.csv").write_text(
        "workspace,month,monthly_budget_usd,hard_limit\n"
        "search,*,1000.50,false\n"
        "growth,2026-10,1e3x,false\n"
        "nobody-knows,2026-10,250,false\n"
    )
    with connect(paths.warehouse_db) as con:
        load_reference_inputs(con, paths, "ref")
        budgets = rows(con, "select workspace, monthly_budget_usd from raw.budgets order by 1")
        reasons = rows(con, "select source_line, reason from raw.quarantine where input = 'budgets'")
    # An unknown workspace is not a broken row: it loads, and dbt flags it (see the run test).
    assert budgets == [("nobody-knows", Decimal("250")), ("search", Decimal("1000.5"))]
    assert len(reasons) == 1 and reasons[0][0] == 3
    assert reasons[0][1].startswith("invalid_number: monthly_budget_usd") and '"1e3x"' in reasons[0][1]


VARIED_VALID = [
    call("v1", workspace='é"q\\u/', tags={"team": "a", "n": 5}, cost_usd="0.000001"),
    call("v2", input_tokens=12.0, output_tokens=1e3, attempt=2, duration_ms=1.5e-7),
    call("v3", **{"gen_ai.usage.cost": 1.25, "user_segment": None, "error.type": "timeout"}),
    call("v4", input_tokens=2**63, output_tokens=-0, model={"nested": [1, 2]}, status=True),
    call("v5", started_at="2026-10-01T12:00:00+05:30", feature="  ", environment=12),
    {"call_id": "v6", "Model": "case matters", "tags": {"k": "v"}},
]


def test_json_reader_and_line_reader_extract_identical_values(tmp_path):
    """The fast JSON reader must see exactly what the careful reader sees, value for value."""
    path = tmp_path / "varied.jsonl"
    path.write_bytes(jsonl(*VARIED_VALID))
    with duckdb.connect() as con:
        assert extract_file_lines(con, path, TELEMETRY_FIELDS) == "json"
        fast = con.execute(f"select * from {EXTRACTED} order by source_line").fetchall()
        extract_arrow(con, python_lines_table(path), TELEMETRY_FIELDS)
        careful = con.execute(f"select * from {EXTRACTED} order by source_line").fetchall()
    assert len(fast) == len(VARIED_VALID)
    assert fast == careful


@pytest.mark.parametrize(
    "content",
    [
        b'{"call_id": "a", "call_id": "b"}',  # duplicate key
        b'{"call_id": "x", "costline.tag.team": "t"}',  # alias tags need the whole line
        b"",  # a blank line the JSON reader would skip
    ],
)
def test_json_reader_declines_what_it_cannot_number_or_see(tmp_path, content):
    path = tmp_path / "odd.jsonl"
    path.write_bytes(jsonl(call("c1"), content, call("c2")))
    with duckdb.connect() as con:
        assert extract_file_lines(con, path, TELEMETRY_FIELDS, tag_aliases=True) != "json"


def test_a_hostile_day_still_runs_and_publishes(tmp_path):
    input_dir, warehouse_dir = tmp_path / "input", tmp_path / "warehouse"
    paths = make_paths(tmp_path)
    good = [
        call(f"run-{i}", workspace=NAMES[i % 4], started_at=f"2026-10-01T{10 + i % 8:02d}:00:00Z") for i in range(40)
    ]
    unknown = call("run-unknown", provider="acme-ai", model="mystery-9000")
    bad = [
        raw_call("run-nan", input_tokens="NaN"),
        call("run-naive", started_at="2026-10-01T12:00:00"),
        b"\xff\xfe garbage",
        call("run-0", model="gpt-4o"),
    ]
    data = jsonl(*good, unknown, *bad)
    (telemetry_folder(paths) / "calls.jsonl").write_bytes(data)
    (telemetry_folder(paths) / "broken.jsonl.gz").write_bytes(truncated_gzip())
    (outcomes_folder(paths) / "outcomes.jsonl").write_bytes(
        jsonl(
            {"request_id": "req-run-1", "recorded_at": "2026-10-01T20:00:00Z", "kind": "thumbs", "value": "up"},
            {"request_id": "req-nobody", "recorded_at": "2026-10-01T20:00:00Z", "kind": "thumbs", "value": "up"},
        )
    )
    (input_dir / "budgets.csv").write_text(
        "workspace,month,monthly_budget_usd,hard_limit\n"
        f'"{NAMES[0].replace(chr(34), chr(34) * 2)}",*,100,false\n'
        "ghost-team,*,50,false\nsearch,*,abc,false\n"
    )

    result = run_costline("run", "--date", "2026-10-01", input_dir=input_dir, warehouse_dir=warehouse_dir)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "every_call_priced" in result.stdout + result.stderr  # the unknown model is flagged

    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        assert_ledger_reconciles(con, "telemetry", "raw.telemetry_calls")
        ledger = dict(
            (f, (r, a, q, d))
            for f, r, a, q, d in rows(
                con,
                """
            select source_file, records_read, accepted, quarantined, duplicates from raw.source_files
            where input = 'telemetry'""",
            )
        )
        issues = [r[0] for r in rows(con, "select * from intermediate.int_input_issues_collected")]
    assert ledger["telemetry/2026-10-01/calls.jsonl"] == (records_in(data), 41, 4, 0)
    assert ledger["telemetry/2026-10-01/broken.jsonl.gz"] == (1, 0, 1, 0)
    assert issues  # budgets for an unknown workspace and bad rows are surfaced, not dropped

    with duckdb.connect(str(warehouse_dir / "mart.duckdb"), read_only=True) as con:
        spend = dict(rows(con, "select workspace, sum(api_calls) from daily_spend group by 1"))
        unpriced = rows(con, "select sum(cost_usd) from daily_spend where model = 'mystery-9000'")
    assert {n: spend[n] for n in NAMES[:4]} == {n: 10 for n in NAMES[:4]}
    assert unpriced == [(Decimal("0"),)]  # priced at zero, not dropped
