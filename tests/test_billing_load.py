"""load_billing into a real DuckDB warehouse: API mode, file-drop mode, restatements, quarantine."""

import logging
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from billing_server import ANTHROPIC_KEY, OPENAI_KEY, Fault, billing_http_server, fake_api  # noqa: F401

from demo.billing_pages import DEFAULT_UNBILLED_SCOPES, to_json_bytes, write_demo_billing_pages
from demo.inputs import DailyUsage
from ingestion.billing import BillingAuthError, BillingConfigError, HttpSettings, load_billing
from ingestion.settings import Paths
from ingestion.warehouse import connect

D = date(2025, 6, 2)
NOW = datetime(2025, 6, 9, 6, 30, tzinfo=UTC)
FAST = HttpSettings(connect_timeout_s=2, read_timeout_s=2, max_attempts=4, backoff_initial_s=0.001, backoff_max_s=0.01)
COLUMNS = {
    "billing_costs": "provider, bucket_day, scope_id, model, line_item, amount_usd",
    "billing_usage": "provider, bucket_day, scope_id, model, api_key_id, requests, input_tokens, output_tokens, "
    "cache_read_input_tokens, cache_creation_input_tokens",
}


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths.from_env(tmp_path / "input", tmp_path / "warehouse")


@pytest.fixture(autouse=True)
def quiet(monkeypatch, caplog):
    for name, value in dict(DO_NOT_TRACK="1", OPENAI_BASE_URL="", ANTHROPIC_BASE_URL="").items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)


def load(paths, provider, start, end, key=None, base_url=None, **kwargs):
    with connect(paths.warehouse_db) as con:
        return load_billing(
            con,
            paths,
            provider,
            start,
            end,
            api_key=key,
            base_url=base_url,
            now=NOW,
            load_id="test-run",
            http_settings=FAST,
            **kwargs,
        )


def rows(paths, table, where="true"):
    with connect(paths.warehouse_db, read_only=True) as con:
        return con.execute(f"select {COLUMNS[table]} from raw.{table} where {where} order by all").fetchall()


def query(paths, sql):
    with connect(paths.warehouse_db, read_only=True) as con:
        return con.execute(sql).fetchall()


def save_page(paths, provider, folder: date, name: str, page: dict) -> Path:
    target = paths.billing_dir / provider / folder.isoformat() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(to_json_bytes(page))
    return target


def openai_costs_page(day: date, lines: list[tuple[str | None, str, str]], has_more=False, cursor=None) -> dict:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    return {
        "object": "page",
        "has_more": has_more,
        "next_page": cursor,
        "data": [
            {
                "object": "bucket",
                "start_time": start,
                "end_time": start + 86400,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": Decimal(v), "currency": "usd"},
                        "line_item": item,
                        "project_id": project,
                    }
                    for project, item, v in lines
                ],
            }
        ],
    }


def seed_both_providers(api):
    """Five days of bills and usage with float-noise dollars and cent strings."""
    api.max_buckets_per_page = 2
    for n in range(5):
        day = D + timedelta(days=n)
        api.openai_cost(day, "proj_support", "gpt-4o-2024-08-06, input", "0.30000000000000004")
        api.openai_cost(day, "proj_support", "gpt-4o-2024-08-06, output", f"1.{n}99999999")
        api.openai_cost(day, None, "web search tool calls", "0.1")
        api.openai_usage(
            day,
            "proj_support",
            "gpt-4o-2024-08-06",
            "key_a",
            input_tokens=1000 + n,
            output_tokens=50,
            cached=400,
            requests=7,
        )
        api.anthropic_cost(
            day, "wrkspc_1", "Claude Sonnet 4 Usage - Input Tokens", f"12{n}.4567", model="claude-sonnet-4-20250514"
        )
        api.anthropic_cost(day, None, "Web Search", "1")
        api.anthropic_usage(
            day,
            "wrkspc_1",
            "claude-sonnet-4-20250514",
            uncached=300,
            output=40,
            cache_read=500,
            cache_5m=60,
            cache_1h=6,
        )


def test_api_mode_loads_both_providers_to_the_cent(fake_api, paths):
    seed_both_providers(fake_api)
    fake_api.fail_next("costs", Fault(429, headers={"retry-after-ms": "10"}))
    end = D + timedelta(days=4)
    openai = load(paths, "openai", D, end, OPENAI_KEY, fake_api.openai_base_url)
    anthropic = load(paths, "anthropic", D, end, ANTHROPIC_KEY, fake_api.anthropic_base_url)

    assert (openai.source, openai.pages, openai.cost_rows, openai.usage_rows) == ("api", 6, 15, 5)
    assert openai.days == tuple(D + timedelta(days=n) for n in range(5))
    # day n: 0.30000000000000004 -> 0.3, 1.n99999999 -> 1.(n+1), plus 0.1: 5 * 1.5 + (0+1+2+3+4)/10
    assert openai.billed_usd == Decimal("8.500000")
    assert anthropic.billed_usd == sum(Decimal(f"12{n}.4567") / 100 + Decimal("0.01") for n in range(5))
    assert anthropic.billed_usd == Decimal("6.172835")  # 612.2835 cents + 5 x 1 cent
    assert query(paths, "select sum(amount_usd) from raw.billing_costs where provider = 'openai'") == [
        (Decimal("8.500000"),)
    ]
    assert rows(paths, "billing_usage", f"provider = 'anthropic' and bucket_day = '{D}'") == [
        ("anthropic", D, "wrkspc_1", "claude-sonnet-4-20250514", None, None, 866, 40, 500, 66)
    ]
    assert rows(paths, "billing_costs", f"provider = 'openai' and bucket_day = '{D}'") == [
        ("openai", D, "proj_support", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06, input", Decimal("0.300000")),
        ("openai", D, "proj_support", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06, output", Decimal("1.100000")),
        ("openai", D, None, None, "web search tool calls", Decimal("0.100000")),  # org-level: no scope
    ]
    landing = sorted(p.relative_to(paths.landing_dir).as_posix() for p in paths.landing_dir.rglob("*.json"))
    assert landing[:3] == [
        "anthropic/2025-06-09/cost_report-2025-06-02-1.json",
        "anthropic/2025-06-09/cost_report-2025-06-02-2.json",
        "anthropic/2025-06-09/cost_report-2025-06-02-3.json",
    ]
    assert len(landing) == 12
    assert query(paths, "select distinct fetched_at from raw.billing_costs") == [(datetime(2025, 6, 9, 6, 30),)]


def test_file_drop_mode_equals_api_mode_for_the_same_pages(fake_api, paths, tmp_path):
    seed_both_providers(fake_api)
    end = D + timedelta(days=4)
    for provider, key, url in (
        ("openai", OPENAI_KEY, fake_api.openai_base_url),
        ("anthropic", ANTHROPIC_KEY, fake_api.anthropic_base_url),
    ):
        load(paths, provider, D, end, key, url)
    files = Paths.from_env(tmp_path / "drop", tmp_path / "warehouse-files")
    shutil.copytree(paths.landing_dir, files.billing_dir)
    results = [load(files, provider, D, end) for provider in ("openai", "anthropic")]
    assert [r.source for r in results] == ["files", "files"]
    for table in COLUMNS:
        assert rows(files, table) == rows(paths, table) != []
    assert query(files, "select count(*) from raw.quarantine") == [(0,)]


def test_the_key_never_reaches_logs_errors_pages_or_the_warehouse(fake_api, paths, caplog):
    seed_both_providers(fake_api)
    fake_api.fail_next("usage_report_messages", Fault(500), Fault(truncate=True))
    load(paths, "openai", D, D + timedelta(days=4), OPENAI_KEY, fake_api.openai_base_url)
    load(paths, "anthropic", D, D + timedelta(days=4), ANTHROPIC_KEY, fake_api.anthropic_base_url)
    fake_api.expected_violations = 1
    with pytest.raises(BillingAuthError) as caught:
        load(paths, "anthropic", D, D, OPENAI_KEY, fake_api.anthropic_base_url)  # a key the server echoes back

    import traceback

    error_text = "".join(traceback.format_exception(caught.value))
    files = [p for p in paths.warehouse_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any(p.suffix == ".json" for p in files)
    for secret in (OPENAI_KEY, ANTHROPIC_KEY):
        assert secret not in caplog.text
        assert secret not in error_text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_a_restated_page_replaces_the_earlier_version(paths):
    save_page(
        paths,
        "openai",
        D + timedelta(days=1),
        "costs-2025-06-02-1.json",
        openai_costs_page(
            D, [("proj_a", "gpt-4o, input", "1.00"), ("proj_a", "gpt-4o, output", "2.00"), ("proj_b", "o3, input", "5")]
        ),
    )
    first = load(paths, "openai", D, D)
    assert first.billed_usd == Decimal("8.000000") and first.cost_rows == 3

    # Two days later the provider restates the day: input and proj_b change, output is unchanged.
    save_page(
        paths,
        "openai",
        D + timedelta(days=3),
        "costs-2025-06-02-1.json",
        openai_costs_page(D, [("proj_a", "gpt-4o, input", "1.25"), ("proj_b", "o3, input", "4.5")]),
    )
    second = load(paths, "openai", D - timedelta(days=2), D)
    assert second.billed_usd == Decimal("7.750000")
    assert rows(paths, "billing_costs") == [
        ("openai", D, "proj_a", "gpt-4o", "gpt-4o, input", Decimal("1.250000")),
        ("openai", D, "proj_a", "gpt-4o", "gpt-4o, output", Decimal("2.000000")),
        ("openai", D, "proj_b", "o3", "o3, input", Decimal("4.500000")),
    ]
    assert query(paths, "select source_page from raw.billing_costs where line_item = 'o3, input'") == [
        ("billing/openai/2025-06-05/costs-2025-06-02-1.json",)
    ]
    again = load(paths, "openai", D - timedelta(days=2), D)  # re-running changes nothing
    assert again == second
    assert len(rows(paths, "billing_costs")) == 3


def test_an_api_fetch_replaces_the_days_it_states_and_only_those(fake_api, paths):
    save_page(
        paths,
        "openai",
        D + timedelta(days=1),
        "costs-2025-06-02-1.json",
        openai_costs_page(D, [("proj_a", "gpt-4o, input", "9.99")]),
    )
    save_page(
        paths,
        "openai",
        D + timedelta(days=2),
        "costs-2025-06-03-1.json",
        openai_costs_page(D + timedelta(days=1), [("proj_a", "gpt-4o, input", "3.33")]),
    )
    load(paths, "openai", D, D + timedelta(days=1))
    # The provider now says day D had no spend at all (an empty bucket): the day is emptied.
    fake_api.openai_usage(D, "proj_a", "gpt-4o", "key_a", input_tokens=5, output_tokens=5)
    result = load(paths, "openai", D, D, OPENAI_KEY, fake_api.openai_base_url)
    assert (result.days, result.cost_rows, result.billed_usd) == ((D,), 0, Decimal("0"))
    assert rows(paths, "billing_costs") == [
        ("openai", D + timedelta(days=1), "proj_a", "gpt-4o", "gpt-4o, input", Decimal("3.330000"))
    ]
    assert len(rows(paths, "billing_usage")) == 1


def test_buckets_outside_the_window_are_left_to_their_own_runs(paths):
    page = openai_costs_page(D, [("proj_a", "gpt-4o, input", "1")])
    page["data"].append(openai_costs_page(D + timedelta(days=1), [("proj_a", "gpt-4o, input", "2")])["data"][0])
    save_page(paths, "openai", D + timedelta(days=2), "costs-2025-06-02-1.json", page)
    result = load(paths, "openai", D + timedelta(days=1), D + timedelta(days=1))
    assert result.days == (D + timedelta(days=1),) and result.billed_usd == Decimal("2")
    # Folders before the window's first day cannot hold its buckets, and are not read.
    assert load(paths, "openai", D + timedelta(days=3), D + timedelta(days=4)).pages == 0


def test_bad_pages_and_records_are_quarantined_with_reasons(paths):
    folder = D + timedelta(days=1)
    save_page(
        paths,
        "openai",
        folder,
        "costs-2025-06-02-1.json",
        openai_costs_page(D, [("proj_a", "gpt-4o, input", "1.5")], has_more=True, cursor="page_x"),
    )
    bad = openai_costs_page(D, [("proj_b", "gpt-4o, input", "2")])
    bad["data"][0]["results"].append(
        {
            "object": "organization.costs.result",
            "amount": {"value": "n/a"},
            "project_id": "proj_c",
            "line_item": "gpt-4o, input",
        }
    )
    save_page(paths, "openai", folder, "costs-2025-06-02-extra.json", bad)
    cut = paths.billing_dir / "openai" / folder.isoformat() / "usage_completions-2025-06-02-1.json"
    cut.write_bytes(b'{"object": "page", "data": [{"object": "bu')
    (cut.parent / "invoice-june.json").write_bytes(b"{}")
    (cut.parent / "notes.txt").write_text("not a page")

    result = load(paths, "openai", D, D)
    assert (result.cost_rows, result.billed_usd, result.quarantined) == (2, Decimal("3.500000"), 4)
    reasons = query(paths, "select source_file, record_key, reason from raw.quarantine order by all")
    assert [(Path(f).name, k) for f, k, _ in reasons] == [
        ("costs-2025-06-02-1.json", "has_more"),
        ("costs-2025-06-02-extra.json", "data[0].results[1] bucket 2025-06-02"),
        ("invoice-june.json", "file"),
        ("usage_completions-2025-06-02-1.json", "file"),
    ]
    assert "costs-2025-06-02-2.json is not in this folder" in reasons[0][2]
    assert "amount.currency is None" in reasons[1][2]
    assert "does not start with a openai endpoint (costs, usage_completions)" in reasons[2][2]
    assert "not valid JSON" in reasons[3][2]
    load(paths, "openai", D, D)
    assert query(paths, "select count(*), min(load_id) from raw.quarantine") == [(4, "test-run")]


def test_no_key_and_no_pages_is_skipped_not_an_error(paths):
    for key in (None, "", "  "):
        result = load(paths, "anthropic", D, D, key)
        assert (result.source, result.pages, result.days, result.billed_usd) == ("skipped", 0, (), Decimal(0))
    assert query(paths, "select count(*) from raw.billing_costs") == [(0,)]


def test_bad_calls_raise_config_errors(paths):
    with pytest.raises(BillingConfigError, match="unknown billing provider 'azure'"):
        load(paths, "azure", D, D)
    with pytest.raises(BillingConfigError, match="ends .* before it starts"):
        load(paths, "openai", D, D - timedelta(days=1))


# The demo generator's own row type: the pages must reconcile with what it produces.
Usage = DailyUsage


def test_demo_pages_reconcile_to_list_times_markup(paths):
    days = [D + timedelta(days=n) for n in range(6)]
    usage = [
        Usage(
            day,
            "openai",
            "proj_support",
            "gpt-4o-2024-08-06",
            120,
            400_000,
            50_000,
            100_000,
            0,
            Decimal("1.234567") + n,
        )
        for n, day in enumerate(days)
    ]
    usage += [
        Usage(day, "openai", "proj_support", "gpt-4o-2024-08-06", 3, 1_000, 100, 0, 0, Decimal("0.010001"))
        for day in days
    ]  # a second feature of the same scope and model: summed before billing
    usage += [
        Usage(day, "anthropic", None, "claude-sonnet-4-20250514", 40, 90_000, 8_000, 30_000, 5_000, Decimal("0.987654"))
        for day in days
    ]
    usage += [Usage(days[0], "aws.bedrock", None, "claude", 1, 1, 1, 0, 0, Decimal("9"))]
    written = write_demo_billing_pages(paths.billing_dir, usage, markup=Decimal("1.05"), restated_day=days[2])
    assert written == len(list(paths.billing_dir.rglob("*.json")))
    assert not (paths.billing_dir / "aws.bedrock").exists()

    for provider in ("openai", "anthropic"):
        result = load(paths, provider, days[0], days[-1])
        assert result.days == tuple(days) and result.quarantined == 0
        extras = [s.scope_id for s in DEFAULT_UNBILLED_SCOPES if s.provider == provider]
        metered = "".join(f" and scope_id is distinct from '{scope}'" for scope in extras)
        for day in days:
            listed = sum((u.list_cost_usd for u in usage if u.provider == provider and u.day == day), Decimal(0))
            billed = query(
                paths,
                f"select sum(amount_usd) from raw.billing_costs where provider = '{provider}' "
                f"and bucket_day = '{day}'{metered}",
            )[0][0]
            assert billed == (listed * Decimal("1.05")).quantize(Decimal("0.000001")), (provider, day)
        for scope in extras:  # a scope on the bill that sends no telemetry, billed every day
            unattributed = query(
                paths,
                f"select count(distinct bucket_day), min(amount_usd) > 0 "
                f"from raw.billing_costs where scope_id = '{scope}'",
            )
            assert unattributed == [(len(days), True)]
    # The restated day was first saved lower, then corrected two days later: the correction won.
    restated = paths.billing_dir / "openai" / (days[2] + timedelta(days=3)).isoformat()
    assert (restated / f"costs-{days[2]}-1.json").exists()
    assert query(
        paths,
        f"select distinct source_page from raw.billing_costs where provider = 'openai' and bucket_day = '{days[2]}'",
    ) == [(f"billing/openai/{restated.name}/costs-{days[2]}-1.json",)]
    # Some fetches were saved as two pages joined by has_more/next_page.
    assert list(paths.billing_dir.glob("anthropic/*/cost_report-*-2.json"))
    usage_row = rows(
        paths, "billing_usage", f"provider = 'anthropic' and bucket_day = '{days[0]}' and scope_id is null"
    )
    assert usage_row == [
        ("anthropic", days[0], None, "claude-sonnet-4-20250514", None, None, 90_000, 8_000, 30_000, 5_000)
    ]


def test_the_day_still_running_is_never_billed_only_the_days_that_ended(paths, monkeypatch):
    """A provider's bucket for today is incomplete: today stays the estimate until it ends."""
    from ingestion.billing.openai import OPENAI
    from ingestion.sources.billing_api import BillingApi

    today = D + timedelta(days=1)
    page = openai_costs_page(D, [("proj_a", "gpt-4o, input", "5")])
    page["data"].append(openai_costs_page(today, [("proj_a", "gpt-4o, input", "0.40")])["data"][0])
    save_page(paths, "openai", today, "costs-today.json", page)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    monkeypatch.setenv("COSTLINE_NOW", f"{today}T10:05:00Z")
    with connect(paths.warehouse_db) as con:
        BillingApi(OPENAI).load(con, paths, [today], "hourly-run")
    assert query(paths, "select distinct bucket_day from raw.billing_costs") == [(D,)]
    # The next morning the day has ended and its bill is loaded.
    monkeypatch.setenv("COSTLINE_NOW", f"{today + timedelta(days=1)}T02:00:00Z")
    with connect(paths.warehouse_db) as con:
        BillingApi(OPENAI).load(con, paths, [today], "daily-run")
    assert query(paths, "select distinct bucket_day from raw.billing_costs order by 1") == [(D,), (today,)]


def test_usage_is_split_by_tier_context_window_and_inference_geo(fake_api, paths):
    # OpenAI: one model's day on the standard (`default`), flex and Batch API tiers; Anthropic:
    # batch, long context and US-only inference, each its own result as the APIs group them.
    fake_api.openai_usage(D, "proj_a", "gpt-5", "key_a", input_tokens=100, output_tokens=10)
    fake_api.openai_usage(D, "proj_a", "gpt-5", "key_a", input_tokens=200, output_tokens=20, service_tier="flex")
    fake_api.openai_usage(
        D, "proj_a", "gpt-5", "key_a", input_tokens=300, output_tokens=30, batch=True, service_tier="default"
    )
    fake_api.anthropic_usage(D, "wrkspc_1", "claude-sonnet-4-5", uncached=10, output=1)
    fake_api.anthropic_usage(D, "wrkspc_1", "claude-sonnet-4-5", uncached=20, output=2, service_tier="batch")
    fake_api.anthropic_usage(
        D, "wrkspc_1", "claude-sonnet-4-5", uncached=250_000, output=3, context_window="200k-1M", inference_geo="us"
    )
    load(paths, "openai", D, D, OPENAI_KEY, fake_api.openai_base_url)
    load(paths, "anthropic", D, D, ANTHROPIC_KEY, fake_api.anthropic_base_url)
    assert query(
        paths,
        "select provider, input_tokens, service_tier, context_window, inference_geo from raw.billing_usage order by all",
    ) == [
        ("anthropic", 10, "standard", "0-200k", "not_available"),
        ("anthropic", 20, "batch", "0-200k", "not_available"),
        ("anthropic", 250_000, "standard", "200k-1M", "us"),
        ("openai", 100, "default", None, None),
        ("openai", 200, "flex", None, None),
        ("openai", 300, "batch", None, None),  # the Batch API, whatever tier it names
    ]
    # The requests asked the APIs for those splits.
    assert fake_api.requests_to("usage_completions")[0].params["group_by[]"][-2:] == ["batch", "service_tier"]
    assert fake_api.requests_to("usage_report_messages")[0].params["group_by[]"][-3:] == [
        "service_tier",
        "context_window",
        "inference_geo",
    ]
