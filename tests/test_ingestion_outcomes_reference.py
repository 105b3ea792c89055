"""Outcomes and reference-file ingestion against real DuckDB files."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from ingestion_helpers import (
    DAY,
    assert_ledger_reconciles,
    call,
    make_paths,
    outcomes_folder,
    rows,
    telemetry_folder,
    write_lines,
)

from ingestion.sources.outcome_files import load_outcomes_folder
from ingestion.sources.reference_files import load_reference_inputs
from ingestion.sources.telemetry_files import load_telemetry_folder
from ingestion.warehouse import connect

NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture
def paths(tmp_path):
    return make_paths(tmp_path)


def outcome(request_id="req-1", kind="thumbs", value="up", recorded_at="2026-10-01T12:05:00Z", **extra):
    record = {"request_id": request_id, "recorded_at": recorded_at, "kind": kind, "value": value, **extra}
    return {k: v for k, v in record.items() if v is not None}


def query(paths, sql, params=None):
    with connect(paths.warehouse_db, read_only=True) as con:
        return rows(con, sql, params)


def load_outcomes(paths, day=DAY, load_id="load-1"):
    with connect(paths.warehouse_db) as con:
        return load_outcomes_folder(con, paths, day, load_id)


def load_reference(paths, load_id="load-1"):
    with connect(paths.warehouse_db) as con:
        return load_reference_inputs(con, paths, load_id)


def quarantine(paths, input_name):
    return query(
        paths,
        "select source_file, source_line, reason from raw.quarantine where input = ? order by source_file, source_line",
        [input_name],
    )


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------

BAD_OUTCOMES = [
    ("{truncated", "malformed_json", "not valid JSON"),
    (outcome(request_id=None), "missing_field", "request_id is required"),
    (outcome(recorded_at=None), "missing_field", "recorded_at is required"),
    (outcome(value=None), "missing_field", "value is required"),
    (outcome(request_id=["a"]), "invalid_field", "request_id must be a string, got an array"),
    (outcome(recorded_at="2026-10-01T12:05:00"), "invalid_timestamp", "with a UTC offset"),
    (outcome(recorded_at="2026-10-05T00:00:00Z"), "invalid_timestamp", "is after 2026-10-02"),
    (outcome(kind="stars", value=5), "unknown_kind", 'got "stars"'),
    (outcome(kind="thumbs", value="sideways"), "invalid_value", "thumbs value must be up or down"),
    (outcome(kind="resolution", value="maybe"), "invalid_value", "resolved or unresolved"),
    (outcome(kind="eval", value=1.5), "invalid_value", "eval value must be a JSON number from 0 to 1, got 1.5"),
    (outcome(kind="eval", value="0.9"), "invalid_value", 'got "0.9"'),
]


def test_outcomes_are_normalised_and_bad_ones_quarantined_with_line(paths):
    lines = [
        outcome("r1", "thumbs", "UP"),
        outcome("r2", "resolution", "unresolved", source="zendesk"),
        outcome("r3", "eval", 0.85, recorded_at="2026-10-01T14:05:00+02:00", source="judge"),
        outcome("r4", "eval", 1),
    ]
    for content, _, _ in BAD_OUTCOMES:
        lines += [content, ""]
    write_lines(outcomes_folder(paths) / "feedback.jsonl", lines)
    result = load_outcomes(paths)

    assert query(
        paths, "select request_id, recorded_at, kind, value, source, source_line from raw.outcomes order by request_id"
    ) == [
        ("r1", datetime(2026, 10, 1, 12, 5), "thumbs", "up", None, 1),
        ("r2", datetime(2026, 10, 1, 12, 5), "resolution", "unresolved", "zendesk", 2),
        ("r3", datetime(2026, 10, 1, 12, 5), "eval", "0.85", "judge", 3),
        ("r4", datetime(2026, 10, 1, 12, 5), "eval", "1.0", None, 4),
    ]
    held = quarantine(paths, "outcomes")
    assert len(held) == len(BAD_OUTCOMES)
    for (content, code, fragment), (source_file, line, reason) in zip(BAD_OUTCOMES, held, strict=True):
        assert source_file == "outcomes/2026-10-01/feedback.jsonl"
        assert lines[line - 1] is content, reason
        assert reason.startswith(code + ": ") and fragment in reason, reason
    (f,) = result.files
    assert (f.records_read, f.accepted, f.quarantined, f.duplicates) == (4 + len(BAD_OUTCOMES), 4, len(BAD_OUTCOMES), 0)
    with connect(paths.warehouse_db, read_only=True) as con:
        assert_ledger_reconciles(con, "outcomes", "raw.outcomes")


def test_outcome_event_days_follow_the_first_call_of_their_request(paths):
    write_lines(
        telemetry_folder(paths, DAY) / "calls.jsonl",
        [
            call("c1", request_id="known", started_at="2026-09-30T23:59:00Z"),
            call("c2", request_id="known", attempt=2, started_at="2026-10-01T00:00:30Z"),
        ],
    )
    write_lines(outcomes_folder(paths, NEXT_DAY) / "a.jsonl", [outcome("known", recorded_at="2026-10-02T09:00:00Z")])
    write_lines(
        outcomes_folder(paths, NEXT_DAY) / "b.jsonl", [outcome("not-yet-seen", recorded_at="2026-10-02T10:00:00Z")]
    )
    with connect(paths.warehouse_db) as con:
        load_telemetry_folder(con, paths, DAY, "load-1")
        result = load_outcomes_folder(con, paths, NEXT_DAY, "load-1")
    days = {f.source_file.rsplit("/", 1)[1]: (f.min_event_day, f.max_event_day) for f in result.files}
    assert days == {"a.jsonl": (DAY - timedelta(days=1),) * 2, "b.jsonl": (NEXT_DAY, NEXT_DAY)}
    # An outcome for a request with no call yet is kept: feedback can arrive first.
    assert query(paths, "select count(*) from raw.outcomes where request_id = 'not-yet-seen'") == [(1,)]


def test_outcome_duplicates_count_once_and_reload_changes_nothing(paths):
    same = outcome("r1", "thumbs", "down", source="widget")
    write_lines(outcomes_folder(paths, DAY) / "a.jsonl", [same, same, outcome("r1", "thumbs", "up")])
    write_lines(outcomes_folder(paths, NEXT_DAY) / "a.jsonl", [same, outcome("r2")])
    first = load_outcomes(paths, DAY)
    second = load_outcomes(paths, NEXT_DAY)
    assert [(f.accepted, f.duplicates) for f in first.files] == [(2, 1)]
    assert [(f.accepted, f.duplicates) for f in second.files] == [(1, 1)]

    snapshot_sql = "select * exclude (load_id, loaded_at) from raw.{} order by all"
    before = [query(paths, snapshot_sql.format(t)) for t in ("outcomes", "quarantine", "source_files")]
    load_outcomes(paths, DAY, load_id="load-2")
    load_outcomes(paths, NEXT_DAY, load_id="load-2")
    assert [query(paths, snapshot_sql.format(t)) for t in ("outcomes", "quarantine", "source_files")] == before
    assert load_outcomes(paths, DAY + timedelta(days=7)).files == ()


BAD_VALUES = [
    (outcome(kind="revenue", value=-5), "invalid_value", "revenue value must be a non-negative dollar amount"),
    (outcome(kind="revenue", value="lots"), "invalid_value", 'got "lots"'),
    (outcome(kind="revenue", value=12, value_usd=12), "invalid_value_usd", "carries its amount in value"),
    (
        outcome(kind="thumbs", value="up", value_usd=3),
        "invalid_value_usd",
        'resolution records only, got it on kind "thumbs"',
    ),
    (outcome(kind="resolution", value="resolved", value_usd="-1.50"), "invalid_value_usd", 'got "-1.50"'),
    (outcome(kind="resolution", value="resolved", value_usd=True), "invalid_value_usd", "got true"),
]


def test_outcome_values_are_exact_dollars_and_bad_ones_quarantined(paths):
    lines = [
        outcome("r1", "resolution", "resolved", value_usd="12.345678"),
        outcome("r2", "resolution", "resolved", value_usd=40),
        outcome("r3", "revenue", "199.990001", source="stripe"),
        outcome("r4", "revenue", 0.1),
        outcome("r5", "resolution", "unresolved"),
    ]
    lines += [content for content, _, _ in BAD_VALUES]
    write_lines(outcomes_folder(paths) / "values.jsonl", lines)
    result = load_outcomes(paths)

    assert query(paths, "select request_id, kind, value, value_usd from raw.outcomes order by request_id") == [
        ("r1", "resolution", "resolved", Decimal("12.345678")),
        ("r2", "resolution", "resolved", Decimal("40")),
        ("r3", "revenue", "199.990001", Decimal("199.990001")),
        ("r4", "revenue", "0.100000", Decimal("0.1")),
        ("r5", "resolution", "unresolved", None),
    ]
    held = quarantine(paths, "outcomes")
    assert len(held) == len(BAD_VALUES)
    for (content, code, fragment), (_, line, reason) in zip(BAD_VALUES, held, strict=True):
        assert lines[line - 1] is content, reason
        assert reason.startswith(code + ": ") and fragment in reason, reason
    (f,) = result.files
    assert (f.records_read, f.accepted, f.quarantined, f.duplicates) == (5 + len(BAD_VALUES), 5, len(BAD_VALUES), 0)
    with connect(paths.warehouse_db, read_only=True) as con:
        assert_ledger_reconciles(con, "outcomes", "raw.outcomes")


def test_a_warehouse_from_before_values_gains_the_column_and_keeps_loading(paths):
    # An outcomes table as costline created it before value_usd existed.
    paths.warehouse_db.parent.mkdir(parents=True, exist_ok=True)
    import duckdb

    con = duckdb.connect(str(paths.warehouse_db))
    con.execute("create schema raw")
    con.execute(
        "create table raw.outcomes (request_id VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL, "
        "kind VARCHAR NOT NULL, value VARCHAR NOT NULL, source VARCHAR, source_folder DATE NOT NULL, "
        "source_file VARCHAR NOT NULL, source_line BIGINT NOT NULL, load_id VARCHAR NOT NULL, "
        "loaded_at TIMESTAMP NOT NULL)"
    )
    con.close()
    write_lines(outcomes_folder(paths) / "a.jsonl", [outcome("r1", "resolution", "resolved", value_usd=7)])
    load_outcomes(paths)
    assert query(paths, "select request_id, value, value_usd, source_line from raw.outcomes") == [
        ("r1", "resolved", Decimal("7"), 1)
    ]


# --------------------------------------------------------------------------------------------
# Reference files
# --------------------------------------------------------------------------------------------


def write_reference(paths, deployments=None, budgets=None, workspaces=None, deployments_jsonl=None):
    paths.input_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("deployments.csv", deployments), ("budgets.csv", budgets), ("workspaces.csv", workspaces)):
        target = paths.input_dir / name
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if deployments_jsonl is not None:
        write_lines(paths.input_dir / "deployments" / "markers.jsonl", deployments_jsonl)


def test_reference_files_load_with_exact_budgets(paths):
    write_reference(
        paths,
        deployments="deployed_at,scope,version,description\n"
        '2026-10-12T10:00:00Z,reply-drafting,v2,"longer prompt, with examples"\n'
        "2026-10-13T09:00:00+02:00,*,2026.10.13,\n",
        budgets="\ufeffworkspace, month ,monthly_budget_usd,hard_limit\n"
        "growth,2026-10,1234.567891,yes\n"
        "growth,*,1000,\n"
        "support,*,99999999999.999999,TRUE\n"
        "research,2026-11,0.10,0\n",
        workspaces="provider,project_id,workspace\nopenai,proj_abc,growth\nanthropic,wrkspc_1,support\n",
        deployments_jsonl=[{"deployed_at": "2026-10-20T14:00:00Z", "scope": "platform", "version": "v7"}],
    )
    result = load_reference(paths)
    assert (result.deployments, result.budgets, result.workspaces, result.quarantined) == (3, 4, 2, 0)
    assert query(paths, "select * from raw.deployments order by deployed_at") == [
        (datetime(2026, 10, 12, 10), "reply-drafting", "v2", "longer prompt, with examples", "deployments.csv", 2),
        (datetime(2026, 10, 13, 7), "*", "2026.10.13", None, "deployments.csv", 3),
        (datetime(2026, 10, 20, 14), "platform", "v7", None, "deployments/markers.jsonl", 1),
    ]
    assert query(paths, "select * from raw.budgets order by source_line") == [
        ("growth", "2026-10", Decimal("1234.567891"), True, 2),
        ("growth", "*", Decimal("1000"), False, 3),
        ("support", "*", Decimal("99999999999.999999"), True, 4),
        ("research", "2026-11", Decimal("0.1"), False, 5),
    ]
    assert query(paths, "select * from raw.workspaces order by source_line") == [
        ("openai", "proj_abc", "growth", 2),
        ("anthropic", "wrkspc_1", "support", 3),
    ]
    assert query(
        paths, "select input, source_file, records_read, accepted from raw.source_files order by input, source_file"
    ) == [
        ("budgets", "budgets.csv", 4, 4),
        ("deployments", "deployments.csv", 2, 2),
        ("deployments", "deployments/markers.jsonl", 1, 1),
        ("workspaces", "workspaces.csv", 2, 2),
    ]


def test_bad_reference_rows_are_quarantined_with_file_line_and_reason(paths):
    write_reference(
        paths,
        deployments="deployed_at,scope,version,description\n"
        "2026-10-12 10:00,search,v2,no offset\n"
        ",search,v3,\n"
        "2026-10-12T10:00:00Z,search,,\n"
        "2026-10-12T10:00:00Z,search,v4,ok\n"
        "2026-10-12T10:00:00Z,search,v4,same marker again\n",
        budgets="workspace,month,monthly_budget_usd,hard_limit\n"
        "growth,2026-13,10,no\n"
        "growth,October,10,no\n"
        "growth,2026-10,$1000,no\n"
        "growth,2026-10,-5,no\n"
        "growth,2026-10,1.0000001,no\n"
        "growth,2026-10,10,sometimes\n"
        ",2026-10,10,no\n"
        "growth,2026-10,10,no\n"
        "growth,2026-10,20,no\n",
        workspaces=b"provider,project_id,workspace\nopenai,proj_1,growth\nopenai,proj_1,support\n"
        b"openai,,growth\nopenai,proj_\xff,growth\n",
        deployments_jsonl=[
            "not json",
            json.dumps({"deployed_at": 1790000000, "scope": "x", "version": "v"}),
            json.dumps({"deployed_at": "2026-10-01T00:00:00Z", "scope": 5, "version": "v"}),
        ],
    )
    result = load_reference(paths)
    got = {
        (i, f, line): reason
        for i, f, line, reason in query(paths, "select input, source_file, source_line, reason from raw.quarantine")
    }
    expected = {
        ("deployments", "deployments.csv", 2): "invalid_timestamp: deployed_at must be an RFC 3339",
        ("deployments", "deployments.csv", 3): "missing_field: deployed_at is required and was empty",
        ("deployments", "deployments.csv", 4): "missing_field: version is required",
        ("deployments", "deployments.csv", 6): "duplicate_deployment: the same key was already given in "
        "deployments.csv line 5",
        ("deployments", "deployments/markers.jsonl", 1): "malformed_json: ",
        ("deployments", "deployments/markers.jsonl", 2): "invalid_field: deployed_at must be a string",
        ("deployments", "deployments/markers.jsonl", 3): "invalid_field: scope must be a string",
        ("budgets", "budgets.csv", 2): 'invalid_month: month must be YYYY-MM or *, got "2026-13"',
        ("budgets", "budgets.csv", 3): "invalid_month: ",
        ("budgets", "budgets.csv", 4): "invalid_number: monthly_budget_usd must be a non-negative dollar "
        'amount with at most 6 decimals, below 10^12, got "$1000"',
        ("budgets", "budgets.csv", 5): "invalid_number: ",
        ("budgets", "budgets.csv", 6): "invalid_number: ",
        ("budgets", "budgets.csv", 7): "invalid_boolean: hard_limit must be true/false",
        ("budgets", "budgets.csv", 8): "missing_field: workspace is required",
        ("budgets", "budgets.csv", 10): "duplicate_budget: the same key was already given in budgets.csv line 9",
        ("workspaces", "workspaces.csv", 3): "duplicate_mapping: ",
        ("workspaces", "workspaces.csv", 4): "missing_field: project_id is required",
        ("workspaces", "workspaces.csv", 5): "invalid_utf8: ",
    }
    assert set(got) == set(expected)
    for key, prefix in expected.items():
        assert got[key].startswith(prefix), (key, got[key])
    assert (result.deployments, result.budgets, result.workspaces, result.quarantined) == (1, 1, 1, len(expected))
    assert query(paths, "select version from raw.deployments") == [("v4",)]
    assert query(paths, "select monthly_budget_usd from raw.budgets") == [(Decimal("10"),)]
    ledger = query(
        paths,
        "select source_file, records_read, accepted, quarantined, duplicates "
        "from raw.source_files order by source_file",
    )
    assert all(read == acc + q + d for _, read, acc, q, d in ledger)
    assert ledger == [
        ("budgets.csv", 9, 1, 8, 0),
        ("deployments.csv", 5, 1, 4, 0),
        ("deployments/markers.jsonl", 3, 0, 3, 0),
        ("workspaces.csv", 4, 1, 3, 0),
    ]


def test_missing_header_column_quarantines_the_file(paths):
    write_reference(paths, budgets="workspace,monthly_budget_usd\ngrowth,10\n")
    load_reference(paths)
    ((source_file, line, reason),) = quarantine(paths, "budgets")
    assert (source_file, line) == ("budgets.csv", 1)
    assert reason.startswith(
        "missing_column: budgets.csv needs the columns workspace, month, "
        "monthly_budget_usd, hard_limit; missing month, hard_limit"
    )


def test_reference_load_replaces_everything_and_missing_files_mean_empty_tables(paths):
    write_reference(
        paths,
        deployments="deployed_at,scope,version,description\n2026-10-12T10:00:00Z,*,v1,x\n",
        budgets="workspace,month,monthly_budget_usd,hard_limit\ngrowth,*,10,no\nbad,*,x,no\n",
        workspaces="provider,project_id,workspace\nopenai,p,growth\n",
    )
    load_reference(paths)
    assert query(paths, "select count(*) from raw.quarantine") == [(1,)]

    write_reference(paths, budgets="workspace,month,monthly_budget_usd,hard_limit\nsupport,*,20,no\n")
    result = load_reference(paths, load_id="load-2")
    assert (result.deployments, result.budgets, result.workspaces, result.quarantined) == (0, 1, 0, 0)
    assert query(paths, "select workspace from raw.budgets") == [("support",)]
    assert query(paths, "select count(*) from raw.deployments") == [(0,)]
    assert query(paths, "select count(*) from raw.workspaces") == [(0,)]
    assert query(paths, "select count(*) from raw.quarantine") == [(0,)]
    assert query(paths, "select input, source_file from raw.source_files") == [("budgets", "budgets.csv")]
