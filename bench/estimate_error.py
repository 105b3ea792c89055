"""Estimate error per provider on the demo: what an unbilled day was estimated at vs its bill.

    python -m bench.estimate_error generate --inputs DIR [--end 2026-11-28 --days 14 --calls 2000]
    python -m bench.estimate_error measure --inputs DIR --code ROOT --work DIR [--effective-rates]

`generate` writes the demo's inputs with a negotiated discount on the bill (OpenAI billed 20%
under list, Anthropic 3% above, where `costline demo` bills both 0.4% above). `measure` runs the
costline at ROOT (a checkout: this tree, or an export of another commit) over a copy of them
through the real CLI: a backfill of every day with the last day's bills held back (the last
day is "today, not billed yet"), then the bills arrive and the last day is run again. It prints
one JSON line per provider: the unbilled day's cost_usd (the estimate the marts showed), its
bill, and the error (estimate - bill) / bill; and over the billed days, the list estimate
against the bill (billing_reconciliation).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

DISCOUNTED = {"openai": Decimal("0.80"), "anthropic": Decimal("1.03")}


def generate(inputs: Path, end: date, days: int, calls: int) -> None:
    from demo.billing_pages import write_demo_billing_pages
    from demo.focus_exports import write_demo_focus_exports
    from demo.inputs import generate_demo_inputs

    summary = generate_demo_inputs(inputs, end=end, days=days, calls_per_day=calls, overwrite=True)
    write_demo_billing_pages(inputs / "billing", summary.usage, markup=DISCOUNTED)
    write_demo_focus_exports(inputs / "billing", summary.usage)
    print(json.dumps({"start": str(summary.start), "end": str(summary.end), "calls": summary.calls}))


def _cli(code: Path, work: Path, *args: str, env: dict) -> None:
    full = {
        **os.environ,
        "PYTHONPATH": str(code),
        "COSTLINE_INPUT_DIR": str(work / "input"),
        "COSTLINE_WAREHOUSE_DIR": str(work / "warehouse"),
        **env,
    }
    full.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], cwd=code, env=full, text=True, capture_output=True
    )
    if done.returncode != 0:
        raise SystemExit(
            f"costline {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def _day_costs(work: Path, day: date) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    with duckdb.connect(str(work / "warehouse" / "mart.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select provider, sum(cost_usd), sum(estimated_cost_usd), sum(billed_cost_usd) from daily_spend "
            "where day = ? group by provider order by provider",
            [day],
        ).fetchall()
    return {p: (c, e, b) for p, c, e, b in rows}


def _billed_days(work: Path, last: date) -> dict[str, tuple[Decimal, Decimal]]:
    with duckdb.connect(str(work / "warehouse" / "mart.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select provider, sum(billed_cost_usd), sum(estimated_cost_usd) from billing_reconciliation "
            "where day < ? and billed_cost_usd > 0 group by provider order by provider",
            [last],
        ).fetchall()
    return {p: (b, e) for p, b, e in rows}


def measure(inputs: Path, code: Path, work: Path, effective_rates: bool) -> None:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(inputs, work / "input")
    telemetry_days = sorted(date.fromisoformat(p.name) for p in (work / "input" / "telemetry").iterdir())
    first, last = telemetry_days[0], telemetry_days[-1]
    # The last day's bill is saved the morning after (billing/<provider>/<last + 1>/): not yet.
    held = work / "held"
    for provider in ("openai", "anthropic"):
        folder = work / "input" / "billing" / provider / (last + timedelta(days=1)).isoformat()
        if folder.exists():
            (held / provider).mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), held / provider / folder.name)
    env = {"COSTLINE_EFFECTIVE_RATES": "1" if effective_rates else "0", "COSTLINE_DUCKDB_THREADS": "2"}
    _cli(code, work, "backfill", "--start", first.isoformat(), "--end", last.isoformat(), env=env)
    estimated = _day_costs(work, last)
    for provider_dir in held.iterdir() if held.exists() else ():
        for folder in provider_dir.iterdir():
            shutil.move(str(folder), work / "input" / "billing" / provider_dir.name / folder.name)
    _cli(code, work, "run", "--date", last.isoformat(), "--force", env=env)
    billed = _day_costs(work, last)
    history = _billed_days(work, last)
    for provider in sorted(estimated):
        cost, listed, was_billed = estimated[provider]
        bill, _, billed_part = billed[provider]
        if was_billed or billed_part != bill:
            continue  # a provider whose bill was not held back (cloud FOCUS exports)
        hist_bill, hist_est = history.get(provider, (None, None))
        print(
            json.dumps(
                {
                    "code": str(code),
                    "effective_rates": effective_rates,
                    "provider": provider,
                    "unbilled_day": str(last),
                    "estimate_usd": str(cost),
                    "list_estimate_usd": str(listed),
                    "bill_usd": str(bill),
                    "unbilled_day_error": float((cost - bill) / bill) if bill else None,
                    "billed_days_list_error": float((hist_est - hist_bill) / hist_bill) if hist_bill else None,
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--inputs", type=Path, required=True)
    gen.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 28))
    gen.add_argument("--days", type=int, default=14)
    gen.add_argument("--calls", type=int, default=2000)
    run = sub.add_parser("measure")
    run.add_argument("--inputs", type=Path, required=True)
    run.add_argument("--code", type=Path, required=True)
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--effective-rates", action="store_true")
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.inputs, args.end, args.days, args.calls)
    else:
        measure(args.inputs, args.code.resolve(), args.work, args.effective_rates)


if __name__ == "__main__":
    main()
