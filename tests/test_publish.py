"""Publishing replaces the mart atomically: readers see the old or the new mart, never a mix."""

from decimal import Decimal

import duckdb
import pyarrow.parquet as pq
import pytest
from mart_fixture import two_table_warehouse

from ingestion.settings import Paths
from orchestration.publish import PUBLICATION_TABLE, publish_mart


def test_publish_writes_duckdb_and_parquet_with_exact_types(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    two_table_warehouse(paths, "12.345678")
    publication = publish_mart(paths, ["daily_spend", "hourly_spend"], run_id="run-1")
    # enforcement_log is always published, empty until enforcement has logged something.
    assert publication.rows == {"daily_spend": 1, "hourly_spend": 1, "enforcement_log": 0}
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        value, dtype = con.execute("select cost_usd, typeof(cost_usd) from daily_spend").fetchone()
        assert value == Decimal("12.345678") and dtype == "DECIMAL(18,6)"
        assert con.execute(f"select run_id from {PUBLICATION_TABLE}").fetchone() == ("run-1",)
    table = pq.read_table(paths.mart_parquet_dir / "daily_spend.parquet")
    assert str(table.schema.field("cost_usd").type) == "decimal128(18, 6)"
    assert paths.mart_parquet_dir.is_symlink()
    assert oct(paths.mart_db.stat().st_mode & 0o777) == "0o600"


def test_reader_of_old_mart_keeps_a_consistent_snapshot(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    two_table_warehouse(paths, "1.00")
    publish_mart(paths, ["daily_spend", "hourly_spend"], run_id="run-1")
    reader = duckdb.connect(str(paths.mart_db), read_only=True)
    old_parquet = open(paths.mart_parquet_dir / "daily_spend.parquet", "rb")
    try:
        two_table_warehouse(paths, "2.00")
        publish_mart(paths, ["daily_spend", "hourly_spend"], run_id="run-2")
        # The open reader still sees the complete old mart ...
        assert reader.execute("select cost_usd from daily_spend").fetchone()[0] == Decimal("1.00")
        assert reader.execute("select cost_usd from hourly_spend").fetchone()[0] == Decimal("1.00")
        assert pq.read_table(old_parquet).column("cost_usd")[0].as_py() == Decimal("1.00")
    finally:
        reader.close()
        old_parquet.close()
    # ... and new readers see the new one.
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        assert con.execute("select cost_usd from daily_spend").fetchone()[0] == Decimal("2.00")
    assert pq.read_table(paths.mart_parquet_dir / "daily_spend.parquet").column("cost_usd")[0].as_py() == Decimal(
        "2.00"
    )


def test_failed_publish_leaves_previous_mart_and_no_leftovers(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    two_table_warehouse(paths, "1.00")
    publish_mart(paths, ["daily_spend"], run_id="run-1")
    before = sorted(p.name for p in paths.warehouse_dir.iterdir())
    with pytest.raises(duckdb.CatalogException):
        publish_mart(paths, ["daily_spend", "no_such_table"], run_id="run-2")
    assert sorted(p.name for p in paths.warehouse_dir.iterdir()) == before
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        assert con.execute(f"select run_id from {PUBLICATION_TABLE}").fetchone() == ("run-1",)


def test_old_parquet_versions_are_pruned(tmp_path):
    paths = Paths(tmp_path / "in", tmp_path / "wh")
    two_table_warehouse(paths, "1.00")
    for n in range(4):
        publish_mart(paths, ["daily_spend"], run_id=f"run-{n}")
    versions = [p for p in paths.warehouse_dir.glob("mart-*") if p.is_dir()]
    assert len(versions) == 2
    assert paths.mart_parquet_dir.resolve() in [v.resolve() for v in versions]
