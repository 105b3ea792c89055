"""Secrets and privacy: no API key and no prompt text in any file costline writes or logs it
prints, and every warehouse file readable by its owner only.

Canary keys come from the outage scenario (tests/test_reliability_outages.py): real runs with
OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY set to canaries against the fake admin APIs, one of
them refused with a 401 whose body echoes the key. Canary prompts come from that scenario's
telemetry and from the session demo's CANARY- records.
"""

import stat
from pathlib import Path

import pytest
from billing_server import billing_http_server  # noqa: F401
from conftest import REPO
from test_reliability_outages import outage_world

from demo.telemetry_files import CANARY_PREFIX

pytestmark = pytest.mark.pipeline

DBT_DIR = REPO / "dbt_project"


@pytest.fixture(scope="module")
def outage(tmp_path_factory, billing_http_server):  # noqa: F811
    return outage_world(tmp_path_factory, billing_http_server)


def _needles(secrets: tuple[str, ...]) -> list[bytes]:
    """Each canary whole, and its unique tail: a scrubber that keeps half a key still leaks."""
    needles = []
    for secret in secrets:
        needles.append(secret.encode())
        needles.append(secret.split("CANARY-", 1)[1].encode())
    return needles


def _files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:  # dbt's target dir is shared with other runs that clean it
        return b""


def _hits(files: list[Path], texts: dict[str, str], needles: list[bytes]) -> list[str]:
    found = []
    for path in files:
        content = _read(path)
        found += [f"{path}: {needle.decode()}" for needle in needles if needle in content]
    found += [
        f"{name}: {needle.decode()}" for name, text in texts.items() for needle in needles if needle.decode() in text
    ]
    return found


def test_canary_keys_and_prompts_appear_in_no_file_and_no_log(outage):
    # The canaries were really in play: prompts in the inputs, keys accepted by the fake API
    # (day 2 loaded bills from it and saved the pages it returned).
    assert outage.prompt_canary.encode() in b"".join(p.read_bytes() for p in _files_under(outage.input_dir))
    assert outage.runs[1].returncode == 0
    landed = _files_under(outage.warehouse_dir / "landing")
    assert len(landed) >= 4
    dagster_files = _files_under(outage.warehouse_dir / "dagster")
    assert any(p.suffix == ".db" for p in dagster_files), "Dagster storage must be scanned"

    files = _files_under(outage.warehouse_dir, DBT_DIR / "logs", DBT_DIR / "target")
    texts = {
        f"run {n} {stream}": getattr(run, stream)
        for n, run in enumerate(outage.runs)
        for stream in ("stdout", "stderr")
    }
    hits = _hits(files, texts, _needles(outage.canary_keys) + [outage.prompt_canary.encode()])
    assert hits == [], hits


def test_demo_prompt_canaries_appear_in_no_file_and_no_log(demo_mart):
    inputs = b"".join(p.read_bytes() for p in _files_under(demo_mart["input_dir"] / "telemetry"))
    assert inputs.count(CANARY_PREFIX.encode()) >= 10
    result = demo_mart["result"]
    files = _files_under(demo_mart["warehouse_dir"])
    assert any("dagster" in p.parts for p in files) and any(p.name == "last_run.log" for p in files)
    hits = _hits(files, {"demo stdout": result.stdout, "demo stderr": result.stderr}, [CANARY_PREFIX.encode()])
    assert hits == [], hits


@pytest.mark.parametrize("which", ["outage", "demo"])
def test_every_warehouse_file_is_readable_by_its_owner_only(which, request):
    warehouse = (
        request.getfixturevalue("outage").warehouse_dir
        if which == "outage"
        else request.getfixturevalue("demo_mart")["warehouse_dir"]
    )
    entries = [warehouse, *(p for p in warehouse.rglob("*") if not p.is_symlink())]
    kinds = {p.suffix for p in entries if p.is_file()}
    # Every kind the brief names is covered: DuckDB, Parquet, logs, Dagster storage, report.
    assert {".duckdb", ".parquet", ".log", ".db"} <= kinds, kinds
    if which == "outage":
        assert ".json" in kinds  # landing pages
    else:
        assert ".html" in kinds
    loose = [f"{p} {stat.filemode(p.stat().st_mode)}" for p in entries if p.stat().st_mode & 0o077]
    assert loose == [], loose
