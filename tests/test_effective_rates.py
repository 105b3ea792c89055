"""Learned effective prices on a real dbt build: a provider that bills 20% below list.

OpenAI bills this org 20% under list price (a negotiated discount that no telemetry says);
Anthropic bills list. Four days are billed; the fifth is not yet. With COSTLINE_EFFECTIVE_RATES
on, the fifth day's cost (and every aggregate that reads it: hourly_spend, daily_spend,
month_to_date) is the list estimate times the month's billed / list ratio, and lands within 1%
of what the bill says once it arrives; with it off the day stays at list. Billed days are the
bill to the micro-dollar either way.
"""

import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from dbt_fixtures import bill, call, create_warehouse, insert_rows, price, query, run_dbt

from ingestion.warehouse import connect

pytestmark = pytest.mark.pipeline

DAYS = [date(2026, 11, 2) + timedelta(days=n) for n in range(5)]
UNBILLED = DAYS[-1]
DISCOUNT = {"openai": Decimal("0.80"), "anthropic": Decimal("1")}
MODELS = {
    ("openai", "gpt-4o"): ("2.5", "10"),
    ("openai", "gpt-4o-mini"): ("0.15", "0.6"),
    ("anthropic", "claude-sonnet-4-5"): ("3", "15"),
}
SCOPES = {"openai": "proj_a", "anthropic": "wrkspc_a"}
MICRO = Decimal("0.000001")


def scenario_calls() -> list[dict]:
    """Each day a different mix: 40 calls per model, token counts drawn from a fixed seed."""
    rng = random.Random(17)
    rows = []
    for day in DAYS:
        for (provider, model), _ in MODELS.items():
            for n in range(40):
                at = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60))
                rows.append(
                    call(
                        f"{provider}-{model}-{day}-{n}",
                        f"r-{provider}-{model}-{day}-{n}",
                        at.isoformat(),
                        provider=provider,
                        model=model,
                        project_id=SCOPES[provider],
                        input_tokens=rng.randrange(500, 20_000),
                        output_tokens=rng.randrange(50, 2_000),
                    )
                )
    return rows


def list_estimate(row: dict) -> Decimal:
    input_mtok, output_mtok = (Decimal(v) for v in MODELS[(row["provider"], row["model"])])
    raw = row["input_tokens"] * input_mtok + row["output_tokens"] * output_mtok
    return (raw / 1_000_000).quantize(MICRO, ROUND_HALF_UP)  # as DuckDB rounds


def bills_for(day: date, calls: list[dict]) -> list[dict]:
    """What the provider bills for the day: per model, list x its discount (to the micro-dollar)."""
    lines = []
    for provider, model in MODELS:
        listed = sum(
            list_estimate(c)
            for c in calls
            if (c["provider"], c["model"], c["started_at"].date()) == (provider, model, day)
        )
        amount = (listed * DISCOUNT[provider]).quantize(MICRO, ROUND_HALF_EVEN)
        lines.append(bill(provider, day.isoformat(), SCOPES[provider], str(amount), model=model))
    return lines


def daily_cost(db, day: date) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    rows = query(
        db,
        "select provider, sum(cost_usd), sum(estimated_cost_usd), sum(billed_cost_usd) from marts.daily_spend "
        "where day = ? group by provider",
        [day],
    )
    return {provider: (cost, estimated, billed) for provider, cost, estimated, billed in rows}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("effective-rates")
    db = create_warehouse(warehouse)
    calls = scenario_calls()
    with connect(db) as con:
        insert_rows(con, "telemetry_calls", calls)
        insert_rows(
            con,
            "model_prices",
            [price(p, m, "1970-01-01", "9999-12-31", input_mtok=i, output_mtok=o) for (p, m), (i, o) in MODELS.items()],
        )
        insert_rows(con, "billing_costs", [line for day in DAYS[:-1] for line in bills_for(day, calls)])
    return warehouse, db, calls


def build(warehouse, tmp_path, *, on: bool, window: date | None = None):
    env = {"COSTLINE_EFFECTIVE_RATES": "1" if on else "0"}
    if window:
        env |= {"COSTLINE_RUN_START_DAY": window.isoformat(), "COSTLINE_RUN_END_DAY": window.isoformat()}
    run_dbt(["build", "--exclude", "test_type:unit"], warehouse, tmp_path, env_extra=env)


def test_an_unbilled_day_tracks_a_discounted_bill_only_with_the_switch_on(scenario, tmp_path):
    warehouse, db, calls = scenario
    listed = {
        provider: sum(
            list_estimate(c) for c in calls if c["provider"] == provider and c["started_at"].date() == UNBILLED
        )
        for provider in DISCOUNT
    }

    # Off (the default): the unbilled day is at list; billed days are the bill.
    build(warehouse, tmp_path / "off", on=False)
    off = daily_cost(db, UNBILLED)
    assert {p: off[p][0] for p in off} == listed
    assert {p: off[p][2] for p in off} == {"openai": 0, "anthropic": 0}
    billed_days_off = {day: daily_cost(db, day) for day in DAYS[:-1]}

    # On, in a windowed run of the unbilled day: the rate comes from the stored billed days.
    build(warehouse, tmp_path / "on", on=True, window=UNBILLED)
    on = daily_cost(db, UNBILLED)
    rates = dict(
        query(
            db,
            "select provider, min(effective_rate) from intermediate.int_calls_attributed "
            "where day = ? group by provider",
            [UNBILLED],
        )
    )
    assert rates["openai"] == pytest.approx(0.8, abs=1e-6)
    assert rates["anthropic"] == pytest.approx(1.0, abs=1e-6)
    # The whole chain reads the learned estimate: hourly_spend and month_to_date agree with daily_spend.
    [(hourly,)] = query(
        db, "select sum(cost_usd) from marts.hourly_spend where day = ? and provider = 'openai'", [UNBILLED]
    )
    assert hourly == on["openai"][0]
    # The list estimate itself is untouched.
    assert {p: on[p][1] for p in on} == listed

    # Then the bill for the day arrives.
    with connect(db) as con:
        insert_rows(con, "billing_costs", bills_for(UNBILLED, calls))
    build(warehouse, tmp_path / "billed", on=True, window=UNBILLED)
    billed = daily_cost(db, UNBILLED)
    for provider in DISCOUNT:
        bill_total = billed[provider][0]
        assert billed[provider][2] == bill_total  # billed in full
        assert abs(on[provider][0] - bill_total) / bill_total < Decimal("0.01"), provider
    # Off, the same day was 25% above the discounted bill (1 / 0.8).
    assert off["openai"][0] / billed["openai"][0] == pytest.approx(1.25, rel=1e-3)
    # Billed days never take a learned rate: the same to the micro-dollar with the switch on.
    assert {day: daily_cost(db, day) for day in DAYS[:-1]} == billed_days_off
