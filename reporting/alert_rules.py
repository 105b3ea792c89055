"""Which alerts the published mart calls for. Pure decisions: nothing is sent or stored here.

Every alert has a deterministic key, so the same fact seen by a re-run (or by the next day's
run, while it is still inside the lookback window) is recognised and not sent twice:

| kind              | key                                              | from                         |
|-------------------|--------------------------------------------------|------------------------------|
| budget_threshold  | budget_threshold|<workspace>|<month>|<threshold>  | budget_burn, latest day      |
| budget_at_risk    | budget_status|<workspace>|<month>|at_risk         | budget_burn.status           |
| budget_exceeded   | budget_status|<workspace>|<month>|exceeded        | budget_burn.status           |
| cost_spike, retry_rate, token_inflation | anomaly|<kind>|<workspace>|<feature>|<detected_at> | cost_anomalies |
| gate_failure, run_failure | run_failure|<run_id>                      | the failed run               |

One alert per fact at its strongest: a workspace first seen at 90% gets the 85% alert, and
the 50% key is recorded as superseded so it never fires later; `exceeded` supersedes
`at_risk`; a threshold of 100% or more stands in for `exceeded`.

Only facts inside the lookback window (default 7 days before the mart's latest day) alert:
a first backfill of a year must not post a year of history into a channel.
"""
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import duckdb

log = logging.getLogger("costline.alerts")

THRESHOLDS_ENV = "COSTLINE_BUDGET_ALERT_THRESHOLDS"
LOOKBACK_ENV = "COSTLINE_ALERT_LOOKBACK_DAYS"
DEFAULT_THRESHOLDS = (Decimal("0.5"), Decimal("0.85"), Decimal("1.0"))
DEFAULT_LOOKBACK_DAYS = 7

# What usually causes each anomaly (the pitfalls the demo seeds), so the reader knows where to look.
HINTS = {
    "cost_spike": "Usually an agent stuck in a loop or a batch job run twice: look for requests with "
                  "many calls in that hour, or a new caller.",
    "retry_rate": "Usually a retry storm: rate limits (429) or timeouts retried without backoff; check "
                  "error types and the client's retry settings.",
    "token_inflation": "Usually a prompt change: a longer system prompt, more retrieved context or a "
                       "higher max_tokens; compare prompt_versions before and after.",
    "budget": "Check cost_anomalies and model_comparison for this workspace: fixing loops and retries "
              "and moving to cheaper models are the usual levers.",
}

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    severity: str               # critical | warning | info
    title: str                  # one short line
    text: str                   # the numbers, one or two lines
    hint: str | None = None
    facts: dict = field(default_factory=dict)   # JSON-ready values (money as exact strings)
    supersedes: tuple[str, ...] = ()            # weaker alerts this one makes redundant

    @property
    def summary(self) -> str:
        return f"{self.title}: {self.text}"


def alert_key(*parts: object) -> str:
    return "|".join(str(p).replace("\\", "\\\\").replace("|", "\\|") for p in parts)


def thresholds_from_env(environ=os.environ) -> tuple[Decimal, ...]:
    """`COSTLINE_BUDGET_ALERT_THRESHOLDS="0.5,0.85,1.0"` (fractions of the budget)."""
    raw = environ.get(THRESHOLDS_ENV, "").strip()
    if not raw:
        return DEFAULT_THRESHOLDS
    try:
        values = tuple(sorted({Decimal(part.strip()) for part in raw.split(",") if part.strip()}))
        if not values or any(not (Decimal(0) < v <= Decimal(10)) for v in values):
            raise InvalidOperation
        return values
    except InvalidOperation:
        log.error("%s=%r is not a comma-separated list of fractions like 0.5,0.85,1.0; using the "
                  "defaults %s", THRESHOLDS_ENV, raw, ",".join(map(str, DEFAULT_THRESHOLDS)))
        return DEFAULT_THRESHOLDS


def lookback_from_env(environ=os.environ) -> int:
    raw = environ.get(LOOKBACK_ENV, "").strip()
    if not raw:
        return DEFAULT_LOOKBACK_DAYS
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    log.error("%s=%r is not a whole number of days >= 1; using %d", LOOKBACK_ENV, raw, DEFAULT_LOOKBACK_DAYS)
    return DEFAULT_LOOKBACK_DAYS


def mart_alerts(con: duckdb.DuckDBPyConnection, thresholds: tuple[Decimal, ...],
                lookback_days: int) -> list[Alert]:
    """Budget and anomaly alerts for the facts in the published mart's lookback window."""
    latest = con.execute("select max(day) from daily_spend").fetchone()[0]
    if latest is None:
        return []
    since = latest - timedelta(days=lookback_days - 1)
    alerts = _budget_alerts(con, since, thresholds) + _anomaly_alerts(con, since)
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER[a.severity], a.key))


# The latest budget_burn row per workspace and month in the window, with every threshold its
# spend has reached (compared in exact decimals: 85.000000 of 100 is 85%, not 84.99999%).
BUDGET_SQL = """
with latest as (
    select *, row_number() over (partition by workspace, month order by day desc) as newest
    from budget_burn where day >= ?
), thresholds as (
    select unnest(cast(? as decimal(9, 4)[])) as threshold
)
select l.workspace, l.month, l.day, l.monthly_budget_usd, l.spend_to_date_usd, l.consumed_pct,
       l.expected_pct, l.projected_month_end_usd, l.status,
       list(t.threshold order by t.threshold) filter (where t.threshold is not null) as crossed
from latest l
left join thresholds t on l.spend_to_date_usd >= t.threshold * l.monthly_budget_usd
where l.newest = 1 and l.monthly_budget_usd > 0
group by all
order by l.workspace, l.month
"""


def _budget_alerts(con: duckdb.DuckDBPyConnection, since, thresholds: tuple[Decimal, ...]) -> list[Alert]:
    rows = con.execute(BUDGET_SQL, [since, [str(t) for t in thresholds]]).fetchall()
    alerts = []
    for (workspace, month, day, budget, spend, consumed, expected, projected, status, crossed) in rows:
        facts = {"workspace": workspace, "month": month, "as_of": day.isoformat(),
                 "monthly_budget_usd": str(budget), "spend_to_date_usd": str(spend),
                 "consumed_pct": consumed, "expected_pct": expected,
                 "projected_month_end_usd": str(projected), "status": status}
        numbers = (f"{usd(spend)} of {usd(budget)} spent by {day.isoformat()} ({pct(consumed)}; "
                   f"{pct(expected)} of the month elapsed), projected {usd(projected)} at month end.")
        status_keys = {s: alert_key("budget_status", workspace, month, s) for s in ("at_risk", "exceeded")}
        # A threshold of 100% or more already says "exceeded": one message, not two.
        said_exceeded = bool(crossed) and crossed[-1] >= 1 and status == "exceeded"
        if crossed:
            top = crossed[-1]
            severity = "critical" if top >= 1 else "warning" if top >= Decimal("0.85") else "info"
            alerts.append(Alert(
                key=alert_key("budget_threshold", workspace, month, _fraction(top)),
                kind="budget_threshold", severity=severity,
                title=f"Budget {_percent_label(top)} reached: {workspace} ({month})",
                text=numbers, hint=HINTS["budget"], facts={**facts, "threshold": _fraction(top)},
                supersedes=tuple(alert_key("budget_threshold", workspace, month, _fraction(t))
                                 for t in crossed[:-1])
                + (tuple(status_keys.values()) if said_exceeded else ())))
        if status in ("at_risk", "exceeded") and not said_exceeded:
            alerts.append(Alert(
                key=alert_key("budget_status", workspace, month, status),
                kind=f"budget_{status}", severity="critical" if status == "exceeded" else "warning",
                title=(f"Budget exceeded: {workspace} ({month})" if status == "exceeded"
                       else f"Budget at risk: {workspace} ({month})"),
                text=numbers, hint=HINTS["budget"], facts=facts,
                supersedes=(status_keys["at_risk"],) if status == "exceeded" else ()))
    return alerts


def _anomaly_alerts(con: duckdb.DuckDBPyConnection, since) -> list[Alert]:
    rows = con.execute("""
        select detected_at, kind, workspace, feature, observed, baseline, increase_pct, detail
        from cost_anomalies where detected_at >= ? order by detected_at, kind, workspace, feature""",
                       [since]).fetchall()
    alerts = []
    for detected_at, kind, workspace, feature, observed, baseline, increase, detail in rows:
        when = detected_at.strftime("%Y-%m-%d %H:%M UTC") if kind == "cost_spike" \
            else detected_at.strftime("%Y-%m-%d")
        alerts.append(Alert(
            key=alert_key("anomaly", kind, workspace, feature, detected_at.isoformat()),
            kind=kind, severity="warning",
            title=f"{ANOMALY_TITLES.get(kind, kind)}: {workspace} / {feature} ({when})",
            text=_anomaly_numbers(kind, observed, baseline, increase) + (f" Detail: {detail}" if detail else ""),
            hint=HINTS.get(kind),
            facts={"detected_at": detected_at.isoformat(), "workspace": workspace, "feature": feature,
                   "observed": _json_number(observed), "baseline": _json_number(baseline),
                   "increase_pct": _json_number(increase), "detail": detail}))
    return alerts


ANOMALY_TITLES = {"cost_spike": "Cost spike", "retry_rate": "High retry rate",
                  "token_inflation": "Token inflation"}


def _anomaly_numbers(kind: str, observed, baseline, increase) -> str:
    change = f" ({increase:+.0%})" if increase is not None else ""
    if kind == "cost_spike":
        return f"{usd(observed)} in the hour vs a baseline of {usd(baseline)}{change}."
    if kind == "retry_rate":
        return f"retry rate {pct(observed)} vs {pct(baseline)}{change}."
    if kind == "token_inflation":
        return f"{_num(observed)} tokens per request vs {_num(baseline)}{change}."
    return f"observed {_num(observed)} vs baseline {_num(baseline)}{change}."


def run_failure_alert(run_id: str, failed_checks: list[str], failed_steps: list[str],
                      publication: str) -> Alert:
    """A run that did not publish; `publication` says what readers see now."""
    if failed_checks:
        title = "Quality gate failed: the new mart was not published"
        what = "Blocking checks failed: " + "; ".join(failed_checks)
    else:
        title = "Daily run failed"
        what = "Failed steps: " + ("; ".join(failed_steps) or "unknown")
    return Alert(
        key=alert_key("run_failure", run_id), kind="gate_failure" if failed_checks else "run_failure",
        severity="critical", title=title, text=f"{what}. {publication} (run {run_id})",
        hint="Fix the input or the rule named above, then re-run the day (`costline run --date ...`); "
             "costline status shows the checks of the last runs.",
        facts={"run_id": run_id, "failed_checks": list(failed_checks), "failed_steps": list(failed_steps),
               "publication": publication})


def usd(value) -> str:
    if value is None:
        return "n/a"
    return f"${Decimal(str(value)):,.2f}"


def pct(value) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"


def _num(value) -> str:
    return "n/a" if value is None else f"{float(value):,.0f}"


def _fraction(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _percent_label(value: Decimal) -> str:
    return format((value * 100).normalize(), "f") + "%"


def _json_number(value):
    if value is None:
        return None
    return str(value) if isinstance(value, Decimal) else float(value)
