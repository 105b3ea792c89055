"""Idempotency and order: the mart depends on what was loaded, not on the order or how often.

The session demo (one uninterrupted backfill of 2026-10-01 .. 2026-10-30) is the reference.
Here the same inputs go into a fresh warehouse out of order, the later half first, with files
sent twice: a copy of a 10-14 telemetry file re-sent in the 10-16 folder (so the copy is
loaded before its original), and same-folder copies of a Parquet telemetry file and an outcomes file.
The published mart must equal the reference number for number.

Also proven elsewhere: re-running a day (tests/test_pipeline.py), re-running a backfill
(tests/test_reliability_crashes.py, whose recovery run re-runs 10-28 .. 10-30).
"""

import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import run_costline
from test_reliability_crashes import published

pytestmark = pytest.mark.pipeline

TELEMETRY_LEDGER_SQL = """select sum(records_read), sum(accepted), sum(quarantined), sum(duplicates)
                          from raw.source_files where input = 'telemetry'"""
RAW_SQL = {
    "telemetry": "select count(*), count(distinct call_id), sum(input_tokens), sum(output_tokens) "
    "from raw.telemetry_calls",
    "outcomes": "select count(*), count(distinct (request_id, recorded_at, kind, value)) from raw.outcomes",
}


def _clean_file(warehouse_dir: Path, input: str, folder: str, suffix: str) -> tuple[str, int]:
    """A file of the reference load with no quarantined or duplicate records, and its size."""
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            """select source_file, records_read from raw.source_files
                              where input = ? and source_folder = ? and source_file like ?
                                and quarantined = 0 and duplicates = 0 and records_read > 0
                              order by source_file limit 1""",
            [input, folder, f"%{suffix}"],
        ).fetchone()


def _query(warehouse_dir: Path, sql: str) -> tuple:
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchone()


@pytest.fixture(scope="module")
def out_of_order(demo_mart, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("order")
    input_dir, warehouse_dir = root / "input", root / "warehouse"
    shutil.copytree(demo_mart["input_dir"], input_dir)
    reference = demo_mart["warehouse_dir"]
    resent, resent_n = _clean_file(reference, "telemetry", "2026-10-14", ".jsonl")
    twice, twice_n = _clean_file(reference, "telemetry", "2026-10-07", ".parquet")
    outcome, _ = _clean_file(reference, "outcomes", "2026-10-05", ".jsonl")
    resent_path, twice_path, outcome_path = (input_dir / name for name in (resent, twice, outcome))
    shutil.copy(resent_path, input_dir / "telemetry" / "2026-10-16" / f"resent-{resent_path.name}")
    shutil.copy(twice_path, twice_path.with_name(f"again-{twice_path.name}"))
    shutil.copy(outcome_path, outcome_path.with_name(f"again-{outcome_path.name}"))
    extra_records = resent_n + twice_n

    later = run_costline(
        "backfill",
        "--start",
        "2026-10-16",
        "--end",
        "2026-10-30",
        input_dir=input_dir,
        warehouse_dir=warehouse_dir,
        check=True,
    )
    earlier = run_costline(
        "backfill",
        "--start",
        "2026-10-01",
        "--end",
        "2026-10-15",
        input_dir=input_dir,
        warehouse_dir=warehouse_dir,
        check=True,
    )
    return {"warehouse_dir": warehouse_dir, "extra_records": extra_records, "runs": (later, earlier)}


def test_out_of_order_runs_with_files_sent_twice_publish_the_reference_mart(out_of_order, demo_mart):
    reference = published(demo_mart["warehouse_dir"])
    mart = published(out_of_order["warehouse_dir"])
    assert mart["tables"].keys() == reference["tables"].keys()
    differing = [t for t in reference["tables"] if mart["tables"][t] != reference["tables"][t]]
    assert differing == [], f"tables that depend on run order or on files sent twice: {differing}"
    assert mart["parquet_rows"] == reference["parquet_rows"]


def test_files_sent_twice_count_as_duplicates_not_as_spend(out_of_order, demo_mart):
    ours, theirs = out_of_order["warehouse_dir"], demo_mart["warehouse_dir"]
    for name, sql in RAW_SQL.items():
        assert _query(ours, sql) == _query(theirs, sql), name
    read, accepted, quarantined, duplicates = _query(ours, TELEMETRY_LEDGER_SQL)
    ref_read, ref_accepted, ref_quarantined, ref_duplicates = _query(theirs, TELEMETRY_LEDGER_SQL)
    extra = out_of_order["extra_records"]
    assert extra > 0
    assert (read, accepted, quarantined) == (ref_read + extra, ref_accepted, ref_quarantined)
    assert duplicates == ref_duplicates + extra
    assert read == accepted + quarantined + duplicates
