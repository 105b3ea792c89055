"""Which alerts the published mart calls for. Pure decisions: nothing is sent or stored here.

Every alert has a deterministic key, so the same fact seen by a re-run (or by the next day's
run, while it is still inside the lookback window) is recognised and not sent twice:

| kind              | key                                              | from                         |
|-------------------|--------------------------------------------------|------------------------------|
| budget_threshold  | budget_threshold|<workspace>|<month>|<threshold>  | budget_month_status          |
| budget_at_risk    | budget_status|<workspace>|<month>|at_risk         | budget_month_status.status   |
| budget_exceeded   | budget_status|<workspace>|<month>|exceeded        | budget_month_status.status   |
| cost_spike        | anomaly|cost_spike|<workspace>|<feature>|<episode_started_at> | cost_anomalies, cost_spike_requests |
| retry_rate, token_inflation | anomaly|<kind>|<workspace>|<feature>|<detected_at> | cost_anomalies |
| gate_failure, run_failure | run_failure|<run_id>                      | the failed run               |
| enforcement_failed | enforcement_failed|<decision_id>                 | enforcement_log              |

A gateway call that failed (after its retries) alerts once per decision: the next runs retry
it under the same decision_id, so a gateway down for a day is one alert, not one per run. Only
a decision whose newest row is still `failed` alerts (one that went through on a retry before
delivery ran is not news).

A cost spike alerts once per episode: consecutive spike hours of a workspace are one episode
(cost_anomalies.episode_started_at, its first hour), so a loop that spikes every hour until it
is fixed posts one alert, not one an hour. The key is the one the episode's first hour had
when every spike hour alerted, so alerts sent before that change are not repeated. The
numbers are the first hour's, with how many hours the episode has lasted so far and the top
request chains of that hour (cost_spike_requests). The hourly run judges closed hours only;
the later hours of the episode, and the daily run recomputing it, share its key and are
recognised as delivered. `<feature>` is `(all)` for a cost spike. (A recomputation that
turns the hour before into a spike too, e.g. once the bill is loaded, starts the episode an
hour earlier: a new key, so one more alert.)

One alert per fact at its strongest: a workspace first seen at 90% gets the 85% alert, and
the 50% key is recorded as superseded so it never fires later; `exceeded` supersedes
`at_risk`; a threshold of 100% or more stands in for `exceeded`.

Only facts inside the lookback window (default 7 days before the mart's latest day) alert:
a first backfill of a year must not post a year of history into a channel.

A threshold at or above the mart's `budget_at_risk_pct` (rule_thresholds) is a warning, 100%
is critical, below is info; the default thresholds are 50%, budget_at_risk_pct and 100%.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import duckdb

from reporting.formatting import count, pct, usd
from reporting.rule_thresholds import rule_threshold
from reporting.run_summary import RunSummary

log = logging.getLogger("costline.alerts")

THRESHOLDS_ENV = "COSTLINE_BUDGET_ALERT_THRESHOLDS"
LOOKBACK_ENV = "COSTLINE_ALERT_LOOKBACK_DAYS"
# The early heads-up and the budget itself; the middle default is the mart's at-risk share.
FIRST_THRESHOLD, FULL_BUDGET = Decimal("0.5"), Decimal("1.0")
DEFAULT_LOOKBACK_DAYS = 7

# What usually causes each anomaly (the pitfalls the demo seeds), so the reader knows where to look.
HINTS = {
    "cost_spike": "Usually an agent stuck in a loop or a batch job run twice: look for requests with "
    "many calls in that hour, or a new caller.",
    "retry_rate": "Usually a retry storm: rate limits (429) or timeouts retried without backoff; check "
    "error types and the client's retry settings.",
    "token_inflation": "Usually a prompt change: a longer system prompt, more retrieved context or a "
    "higher max_tokens; compare prompt_versions before and after.",
    "enforcement_failed": "costline tries the call again on every run until the gateway accepts it; check "
    "the gateway's URL, its admin key and that the team exists (enforcement_log has each attempt).",
    "budget": "Check cost_anomalies and model_comparison for this workspace: fixing loops and retries "
    "and moving to cheaper models are the usual levers.",
}

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    severity: str  # critical | warning | info
    title: str  # one short line
    text: str  # the numbers, one or two lines
    hint: str | None = None
    facts: dict = field(default_factory=dict)  # JSON-ready values (money as exact strings)
    supersedes: tuple[str, ...] = ()  # weaker alerts this one makes redundant

    @property
    def summary(self) -> str:
        return f"{self.title}: {self.text}"


def alert_key(*parts: object) -> str:
    return "|".join(str(p).replace("\\", "\\\\").replace("|", "\\|") for p in parts)


def default_thresholds(at_risk_pct: Decimal) -> tuple[Decimal, ...]:
    return tuple(sorted({FIRST_THRESHOLD, Decimal(at_risk_pct), FULL_BUDGET}))


def thresholds_from_env(at_risk_pct: Decimal, environ=os.environ) -> tuple[Decimal, ...]:
    """`COSTLINE_BUDGET_ALERT_THRESHOLDS="0.5,0.85,1.0"` (fractions of the budget)."""
    defaults = default_thresholds(at_risk_pct)
    raw = environ.get(THRESHOLDS_ENV, "").strip()
    if not raw:
        return defaults
    try:
        values = tuple(sorted({Decimal(part.strip()) for part in raw.split(",") if part.strip()}))
        if not values or any(not (Decimal(0) < v <= Decimal(10)) for v in values):
            raise InvalidOperation
        return values
    except InvalidOperation:
        log.error(
            "%s=%r is not a comma-separated list of fractions like 0.5,0.85,1.0; using the defaults %s",
            THRESHOLDS_ENV,
            raw,
            ",".join(_fraction(t) for t in defaults),
        )
        return defaults


def lookback_from_env(environ=os.environ) -> int:
    raw = environ.get(LOOKBACK_ENV, "").strip()
    if not raw:
        return DEFAULT_LOOKBACK_DAYS
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    log.error("%s=%r is not a whole number of days >= 1; using %d", LOOKBACK_ENV, raw, DEFAULT_LOOKBACK_DAYS)
    return DEFAULT_LOOKBACK_DAYS


def mart_alerts(
    con: duckdb.DuckDBPyConnection, thresholds: tuple[Decimal, ...] | None, lookback_days: int
) -> list[Alert]:
    """Budget and anomaly alerts for the facts in the published mart's lookback window;
    thresholds None: COSTLINE_BUDGET_ALERT_THRESHOLDS, else the defaults."""
    latest = con.execute("select max(day) from daily_spend").fetchone()[0]
    if latest is None:
        return []
    at_risk_pct = rule_threshold(con, "budget_at_risk_pct")
    since = latest - timedelta(days=lookback_days - 1)
    alerts = (
        _budget_alerts(con, since, thresholds or thresholds_from_env(at_risk_pct), at_risk_pct)
        + _anomaly_alerts(con, since)
        + _enforcement_alerts(con, since)
    )
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER[a.severity], a.key))


# Each workspace-month's budget as of its last loaded day in the window, with every threshold
# its spend has reached (compared in exact decimals: 85.000000 of 100 is 85%, not 84.99999%).
BUDGET_SQL = """
with thresholds as (
    select unnest(cast(? as decimal(9, 4)[])) as threshold
)
select b.workspace, b.month, b.as_of_day, b.monthly_budget_usd, b.spend_to_date_usd, b.consumed_pct,
       b.expected_pct, b.projected_month_end_usd, b.status, b.forecast_method, b.forecast_month_end_usd,
       b.forecast_low_usd, b.forecast_high_usd,
       list(t.threshold order by t.threshold) filter (where t.threshold is not null) as crossed
from budget_month_status b
left join thresholds t on b.spend_to_date_usd >= t.threshold * b.monthly_budget_usd
where b.as_of_day >= ? and b.monthly_budget_usd > 0
group by all
order by b.workspace, b.month
"""


def _budget_alerts(
    con: duckdb.DuckDBPyConnection, since, thresholds: tuple[Decimal, ...], at_risk_pct: Decimal
) -> list[Alert]:
    rows = con.execute(BUDGET_SQL, [[str(t) for t in thresholds], since]).fetchall()
    alerts = []
    for row in rows:
        workspace, month, day, budget, spend, consumed, expected, projected, status = row[:9]
        method, forecast, low, high, crossed = row[9:]
        facts = {
            "workspace": workspace,
            "month": month,
            "as_of": day.isoformat(),
            "monthly_budget_usd": str(budget),
            "spend_to_date_usd": str(spend),
            "consumed_pct": consumed,
            "expected_pct": expected,
            "projected_month_end_usd": str(projected),
            "forecast_method": method,
            "forecast_month_end_usd": str(forecast),
            "status": status,
        }
        outlook = f"projected {usd(projected)} at month end."
        if method == "weekday_trend":
            facts |= {"forecast_low_usd": str(low), "forecast_high_usd": str(high)}
            outlook = (
                f"forecast {usd(forecast)} at month end ({usd(low)} to {usd(high)}, by weekday and trend; "
                f"{usd(projected)} at the average daily pace)."
            )
        numbers = (
            f"{usd(spend)} of {usd(budget)} spent by {day.isoformat()} ({pct(consumed)}; "
            f"{pct(expected)} of the month elapsed), {outlook}"
        )
        status_keys = {s: alert_key("budget_status", workspace, month, s) for s in ("at_risk", "exceeded")}
        # A threshold of 100% or more already says "exceeded": one message, not two.
        said_exceeded = bool(crossed) and crossed[-1] >= 1 and status == "exceeded"
        if crossed:
            top = crossed[-1]
            severity = "critical" if top >= FULL_BUDGET else "warning" if top >= at_risk_pct else "info"
            alerts.append(
                Alert(
                    key=alert_key("budget_threshold", workspace, month, _fraction(top)),
                    kind="budget_threshold",
                    severity=severity,
                    title=f"Budget {_percent_label(top)} reached: {workspace} ({month})",
                    text=numbers,
                    hint=HINTS["budget"],
                    facts={**facts, "threshold": _fraction(top)},
                    supersedes=tuple(
                        alert_key("budget_threshold", workspace, month, _fraction(t)) for t in crossed[:-1]
                    )
                    + (tuple(status_keys.values()) if said_exceeded else ()),
                )
            )
        if status in ("at_risk", "exceeded") and not said_exceeded:
            alerts.append(
                Alert(
                    key=alert_key("budget_status", workspace, month, status),
                    kind=f"budget_{status}",
                    severity="critical" if status == "exceeded" else "warning",
                    title=(
                        f"Budget exceeded: {workspace} ({month})"
                        if status == "exceeded"
                        else f"Budget at risk: {workspace} ({month})"
                    ),
                    text=numbers,
                    hint=HINTS["budget"],
                    facts=facts,
                    supersedes=(status_keys["at_risk"],) if status == "exceeded" else (),
                )
            )
    return alerts


# One row per alert: a cost_spike episode (consecutive spike hours of a workspace) is read at
# its first hour, with how many hours it has lasted so far; the other kinds are their own
# episode (episode_started_at = detected_at).
ANOMALY_SQL = """
with episodes as (
    select workspace, episode_started_at, count(*) as hours, max(detected_at) as last_hour
    from cost_anomalies where kind = 'cost_spike'
    group by workspace, episode_started_at
)
select a.detected_at, a.kind, a.workspace, a.feature, a.observed, a.baseline, a.increase_pct, a.detail,
       a.top_feature, a.top_model, coalesce(e.hours, 1) as hours, coalesce(e.last_hour, a.detected_at) as last_hour
from cost_anomalies a
left join episodes e
  on a.kind = 'cost_spike' and e.workspace = a.workspace and e.episode_started_at = a.episode_started_at
where a.detected_at = a.episode_started_at and a.detected_at >= ?
order by a.detected_at, a.kind, a.workspace, a.feature
"""

SPIKE_REQUESTS_SQL = """
select detected_at, workspace, request_id, feature, model, calls, cost_usd, first_started_at, last_started_at
from cost_spike_requests where detected_at >= ? order by detected_at, workspace, request_rank
"""


def _anomaly_alerts(con: duckdb.DuckDBPyConnection, since) -> list[Alert]:
    rows = con.execute(ANOMALY_SQL, [since]).fetchall()
    requests = _spike_requests(con, since)
    alerts = []
    for detected_at, kind, workspace, feature, observed, baseline, increase, detail, *spike in rows:
        top_feature, top_model, hours, last_hour = spike
        spiked = kind == "cost_spike"
        when = detected_at.strftime("%Y-%m-%d %H:%M UTC") if spiked else detected_at.strftime("%Y-%m-%d")
        title = f"{ANOMALY_TITLES.get(kind, kind)}: {workspace} / {(top_feature if spiked else None) or feature}"
        if spiked and top_model:
            title += f" on {top_model}"
        facts = {
            "detected_at": detected_at.isoformat(),
            "workspace": workspace,
            "feature": feature,
            "observed": _json_number(observed),
            "baseline": _json_number(baseline),
            "increase_pct": _json_number(increase),
            "detail": detail,
        }
        text = _anomaly_numbers(kind, observed, baseline, increase)
        if spiked:
            chains = requests.get((workspace, detected_at), [])
            text += f" {_episode_sentence(detected_at, hours, last_hour)}"
            if chains:
                text += " Top requests: " + "; ".join(_chain_words(chain) for chain in chains) + "."
            facts |= {
                "top_feature": top_feature,
                "top_model": top_model,
                "increase_usd": _json_number(_difference(observed, baseline)),
                "episode_started_at": detected_at.isoformat(),
                "episode_hours": hours,
                "episode_last_hour": last_hour.isoformat(),
                "top_requests": [_chain_facts(chain) for chain in chains],
            }
        alerts.append(
            Alert(
                key=alert_key("anomaly", kind, workspace, feature, detected_at.isoformat()),
                kind=kind,
                severity="warning",
                title=f"{title} ({when})",
                text=text + (f" Detail: {detail}" if detail else ""),
                hint=HINTS.get(kind),
                facts=facts,
            )
        )
    return alerts


def _spike_requests(con: duckdb.DuckDBPyConnection, since) -> dict[tuple, list[tuple]]:
    """(workspace, hour) -> its top request chains, costliest first; {} for a mart published
    before cost_spike_requests existed."""
    [(present,)] = con.execute(
        "select count(*) from information_schema.tables where table_name = 'cost_spike_requests'"
    ).fetchall()
    chains: dict[tuple, list[tuple]] = {}
    if present:
        for detected_at, workspace, *chain in con.execute(SPIKE_REQUESTS_SQL, [since]).fetchall():
            chains.setdefault((workspace, detected_at), []).append(tuple(chain))
    return chains


def _episode_sentence(started_at, hours: int, last_hour) -> str:
    if hours <= 1:
        return "First hour of the episode."
    return (
        f"Spiking {hours} consecutive hours so far "
        f"({started_at.strftime('%H:%M')} to {last_hour.strftime('%Y-%m-%d %H:%M UTC')})."
    )


def _chain_words(chain: tuple) -> str:
    request_id, _feature, _model, calls, cost, _first, _last = chain
    return f"{request_id} {count(calls)} call{'s' if calls != 1 else ''} {usd(cost)}"


def _chain_facts(chain: tuple) -> dict:
    request_id, feature, model, calls, cost, first, last = chain
    return {
        "request_id": request_id,
        "feature": feature,
        "model": model,
        "calls": calls,
        "cost_usd": _json_number(cost),
        "first_started_at": first.isoformat() if first else None,
        "last_started_at": last.isoformat() if last else None,
    }


def _difference(observed, baseline):
    if observed is None or baseline is None:
        return None
    return observed - baseline


ANOMALY_TITLES = {"cost_spike": "Cost spike", "retry_rate": "High retry rate", "token_inflation": "Token inflation"}


def _anomaly_numbers(kind: str, observed, baseline, increase) -> str:
    change = f" ({pct(increase, signed=True, places=0)})" if increase is not None else ""
    if kind == "cost_spike":
        above = _difference(observed, baseline)
        more = f", {usd(above)} more" if above is not None else ""
        return f"{usd(observed)} in the hour vs a baseline of {usd(baseline)}{change}{more}."
    if kind == "retry_rate":
        return f"retry rate {pct(observed)} vs {pct(baseline)}{change}."
    if kind == "token_inflation":
        return f"{count(observed)} tokens per request vs {count(baseline)}{change}."
    return f"observed {count(observed)} vs baseline {count(baseline)}{change}."


ENFORCEMENT_FAILED_SQL = """
select decision_id, workspace, gateway, target, action, reason, attempts, http_status, error, logged_at, month
from enforcement_log
where cast(logged_at as date) >= ?
qualify row_number() over (partition by decision_id order by entry_id desc) = 1 and result = 'failed'
order by decision_id
"""


def _enforcement_alerts(con: duckdb.DuckDBPyConnection, since) -> list[Alert]:
    """Gateway calls that failed (enforcement_log); a mart from before the table has none."""
    present = con.execute(
        "select count(*) from information_schema.tables where table_name = 'enforcement_log'"
    ).fetchone()[0]
    if not present:
        return []
    alerts = []
    for decision, workspace, gateway, target, action, reason, attempts, status, error, at, month in con.execute(
        ENFORCEMENT_FAILED_SQL, [since]
    ).fetchall():
        alerts.append(
            Alert(
                key=alert_key("enforcement_failed", decision),
                kind="enforcement_failed",
                severity="critical",
                title=f"Could not {action} workspace {workspace} at {gateway} ({target})",
                text=f"{error or 'no answer'} ({count(attempts)} attempts, {at:%Y-%m-%d %H:%M} UTC). Why: {reason}.",
                hint=HINTS["enforcement_failed"],
                facts={
                    "decision_id": decision,
                    "workspace": workspace,
                    "gateway": gateway,
                    "target": target,
                    "action": action,
                    "month": month,
                    "http_status": status,
                    "attempts": attempts,
                    "error": error,
                    "logged_at": at.isoformat(),
                },
            )
        )
    return alerts


def run_failure_alert(summary: RunSummary, publication: str) -> Alert:
    """A failed run, in RunSummary's words; `publication` says what readers see now."""
    return Alert(
        key=alert_key("run_failure", summary.run_id),
        kind=summary.kind,
        severity="critical",
        title=summary.title(),
        text=summary.failure_message(publication),
        hint="Fix the input or the rule named above, then re-run the day (`costline run --date ...`); "
        "costline status shows the checks of the last runs.",
        facts={
            "run_id": summary.run_id,
            "failed_checks": list(summary.failed_checks),
            "failed_steps": list(summary.failed_steps),
            "publication": publication,
        },
    )


def _fraction(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _percent_label(value: Decimal) -> str:
    return format((value * 100).normalize(), "f") + "%"


def _json_number(value):
    if value is None:
        return None
    return str(value) if isinstance(value, Decimal) else float(value)
