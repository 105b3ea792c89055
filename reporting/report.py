"""The stakeholder report: one self-contained HTML file a CFO reads in two minutes.

`write_report(paths, out, month)` reads the published mart only (never the warehouse, so it
can run while a pipeline writes), for the given month or the latest one in the mart. All
JavaScript (plotly.js, embedded once) and CSS are inline and a Content-Security-Policy forbids
any fetch, so the file opens the same offline, from an email attachment or a file share.

Every headline number is in an element `[data-metric=<id>]` whose `data-value` is the exact
mart value (Decimal text for money) next to the rounded figure the reader sees; tests and
scrapers read those instead of parsing prose. Metric ids: month_spend_usd, budget_usd,
consumed_pct, projected_month_end_usd, avg_cost_per_request_usd, cost_per_success_usd,
cost_per_success_usd:<feature>, retry_waste_usd, retry_cost_share, anomalies,
savings_opportunity_usd.
"""

import calendar
import logging
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2
import plotly
import plotly.offline
from markupsafe import Markup

from ingestion.settings import Paths
from reporting.alert_rules import HINTS
from reporting.formatting import count, pct, usd
from reporting.report_charts import build_charts
from reporting.report_data import ReportData, ReportError, load_report_data
from reporting.success_names import cost_per_success_label

log = logging.getLogger("costline.report")

TEMPLATES = Path(__file__).parent / "templates"
KIND_NAMES = {"cost_spike": "cost spike", "retry_rate": "retry rate", "token_inflation": "token inflation"}

__all__ = ["write_report", "render_report", "ReportError", "Metric"]


@dataclass(frozen=True)
class Metric:
    id: str
    label: str
    value: object  # the exact mart value: Decimal, float, int or None
    display: str  # what the reader sees
    note: str = ""
    tone: str = ""  # "", "good", "bad": a colour cue, never the only signal

    @property
    def data_value(self) -> str:
        if self.value is None:
            return ""
        return format(self.value, "f") if isinstance(self.value, Decimal) else repr(self.value)


def write_report(paths: Paths, out: Path, month: str | None = None) -> Path:
    """Write the report for `month` (YYYY-MM; default the latest in the mart) to `out`."""
    if not paths.mart_db.exists():
        raise ReportError(
            f"no published mart at {paths.mart_db}; run `costline run --date ...` or `costline demo` first"
        )
    with duckdb.connect(str(paths.mart_db), read_only=True) as con:
        data = load_report_data(con, month)
    page = render_report(data, mart_path=paths.mart_db)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader (or a mail job) never picks up half a file.
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}-", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.chmod(temporary, 0o600)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    log.info("report for %s written to %s (%d KB)", data.month, out, len(page) // 1024)
    return out


def render_report(data: ReportData, mart_path: Path | None = None) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(usd=usd, pct=pct, count=count)
    template = environment.get_template("report.html.j2")
    return template.render(
        data=data,
        month_name=_month_name(data.month),
        headline=headline_sentence(data),
        metrics=headline_metrics(data),
        feature_metrics=feature_metrics(data),
        charts=build_charts(data),
        anomalies=_anomaly_rows(data),
        budgets=data.budgets,
        comparison=data.comparison,
        value=data.value,
        value_features=data.value_features,
        realised=[(saving_sentence(row), row) for row in data.realised],
        mart_path=str(mart_path) if mart_path else None,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        plotly_version=plotly.__version__,
        markup=Markup,
        usd=usd,
    )


def headline_metrics(data: ReportData) -> list[Metric]:
    s = data.summary
    over = s.projected_over_budget_usd
    return [
        Metric(
            "month_spend_usd",
            f"Spend, {_month_name(data.month)}",
            s.spend_usd,
            usd(s.spend_usd),
            f"through {data.last_day:%b %d}, {data.loaded_day_of_month} of {data.days_in_month} days",
        ),
        Metric(
            "budget_usd",
            "Budget",
            s.budget_usd,
            usd(s.budget_usd) if s.budget_usd else "no budget",
            f"{pct(s.consumed_pct)} used, {pct(s.month_elapsed_pct)} of the month gone"
            if s.consumed_pct is not None
            else "set budgets in budgets.csv",
        ),
        Metric(
            "consumed_pct",
            "Budget used",
            s.consumed_pct,
            pct(s.consumed_pct),
            "of the monthly budget",
            _tone(s.ahead_of_budget_pace),
        ),
        Metric(
            "projected_month_end_usd",
            "Projected month end",
            s.projected_month_end_usd,
            usd(s.projected_month_end_usd),
            (
                f"{usd(abs(over))} {'over' if over > 0 else 'under'} budget"
                if over is not None
                else "at the current daily pace"
            ),
            _tone(over is not None and over > 0),
        ),
        Metric(
            "avg_cost_per_request_usd",
            "Cost per request",
            s.avg_cost_per_request_usd,
            usd(s.avg_cost_per_request_usd, small=True),
            "all attempts of a request included",
        ),
        Metric(
            "cost_per_success_usd",
            "Cost per successful request",
            s.cost_per_success_usd,
            usd(s.cost_per_success_usd, small=True),
            "all calls / requests with a good outcome",
        ),
        Metric(
            "retry_waste_usd",
            "Retry waste",
            s.retry_cost_usd,
            usd(s.retry_cost_usd),
            f"{pct(s.retry_cost_share)} of spend went to retries and failed calls",
            _tone(s.retry_waste_high),
        ),
        Metric(
            "retry_cost_share",
            "Retry share",
            s.retry_cost_share,
            pct(s.retry_cost_share),
            "retried and failed calls / all spend",
        ),
        Metric(
            "anomalies",
            "Anomalies caught",
            s.anomalies,
            count(s.anomalies),
            "cost spikes, retry storms, token inflation",
            _tone(bool(s.anomalies)),
        ),
        Metric(
            "savings_opportunity_usd",
            "Savings opportunity",
            s.savings_opportunity_usd,
            usd(s.savings_opportunity_usd),
            "this month, with cheaper models of equal success rate",
            "good" if s.savings_opportunity_usd else "",
        ),
    ]


def feature_metrics(data: ReportData) -> list[Metric]:
    return [
        Metric(
            f"cost_per_success_usd:{feature}",
            cost_per_success_label(feature),
            per_success,
            usd(per_success, small=True),
            f"{feature}: {usd(cost)} over {count(successes)} successes"
            if successes
            else f"{feature}: no successful outcome recorded",
        )
        for feature, cost, successes, per_success in data.features
    ]


def headline_sentence(data: ReportData) -> str:
    s = data.summary
    through = f"{data.last_day:%B} {data.last_day.day}"
    text = f"Through {through}, LLM spend was {usd(s.spend_usd)}"
    if s.budget_usd:
        text += f" of a {usd(s.budget_usd)} budget ({pct(s.consumed_pct)})"
        gap = s.projected_over_budget_usd
        if gap is not None:
            text += f"; at this pace the month ends at {usd(s.projected_month_end_usd)}, " + (
                f"{usd(gap)} over budget." if gap > 0 else f"{usd(abs(gap))} under budget."
            )
        else:
            text += "."
    else:
        text += "."
    if s.savings_opportunity_usd:
        text += f" Switching to cheaper models of equal quality would have saved {usd(s.savings_opportunity_usd)}."
    if s.credits_usd:
        # Spend is usage; credits are money the providers gave back, netted on the bill only.
        text += (
            f" Provider credits of {usd(abs(s.credits_usd)) if s.credits_usd < 0 else usd(s.credits_usd)}"
            f" {'bring' if s.credits_usd < 0 else 'raise'} the net bill to {usd(s.net_spend_usd)}."
        )
    return text


def saving_sentence(row: tuple) -> str:
    """One realised_savings row in words: "saved $12.40 by switching triage to gpt-4o-mini on
    the 12th" (or "cost $..." when the change made results dearer)."""
    feature, kind, _, changed_to, changed_at, _, _, saving = row
    verb = "saved" if saving >= 0 else "cost"
    what = "switching" if kind == "model" else "moving"
    to = changed_to if kind == "model" else f"prompt {changed_to}"
    return f"{verb} {usd(abs(saving))} by {what} {feature} to {to} on the {_ordinal(changed_at.day)}"


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _anomaly_rows(data: ReportData) -> list[dict]:
    rows = []
    for detected_at, kind, workspace, feature, observed, baseline, increase, detail in data.anomalies:
        if kind == "cost_spike":
            numbers = f"{usd(observed)} vs {usd(baseline)} per hour"
        elif kind == "retry_rate":
            numbers = f"{pct(observed)} vs {pct(baseline)} retries"
        else:
            numbers = f"{count(observed)} vs {count(baseline)} tokens/request"
        rows.append(
            {
                "when": detected_at.strftime("%b %d %H:%M") if kind == "cost_spike" else detected_at.strftime("%b %d"),
                "kind": KIND_NAMES.get(kind, kind),
                "workspace": workspace,
                "feature": feature,
                "numbers": numbers,
                "increase": pct(increase, signed=True),
                "detail": detail or "",
                "hint": HINTS.get(kind, ""),
            }
        )
    return rows


def _tone(bad: bool) -> str:
    return "bad" if bad else ""


def _month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{calendar.month_name[int(number)]} {year}"
