"""One enforcement pass: the published decision against what is in place, then the calls.

1. Read `hard_limit_status` and `gateway_teams` from the published mart (read-only).
2. The targets that should be blocked: for each workspace whose `gateway_action` is `block`,
   its LiteLLM teams (when LiteLLM is configured) and the webhook (when configured); a
   workspace with neither is the one target `none/<workspace>`, so the decision is still
   recorded.
3. What is in place comes from the enforcement log (log.py). A target to block that is not
   blocked is blocked; a blocked target that no longer should be is unblocked (the month
   turned, the limit was raised or removed, the spend was restated below it). Anything else
   writes nothing.
4. `dry-run` records each such decision as `dry_run` and calls nothing; `on` calls the gateway
   (retried with backoff, http_calls.py) and records `sent` or `failed`. A failed call is
   tried again by the next run under the same decision_id, and alerted from the published
   log (reporting/alert_rules.py); nothing here raises into the run.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
from filelock import Timeout

from enforcement import log as enforcement_log
from enforcement.gateways import BLOCK, LITELLM, NONE, UNBLOCK, WEBHOOK, Call, configured, send
from enforcement.http_calls import CallResult, scrub
from enforcement.settings import DRY_RUN, EnforceSettings
from ingestion.clock import open_day, utc_now
from ingestion.settings import Paths
from reporting.formatting import usd

log = logging.getLogger("costline.enforcement")

LOCK_WAIT_S = 30.0


@dataclass
class EnforcementSummary:
    mode: str
    over_limit: list[str] = field(default_factory=list)  # workspaces at or over their hard limit
    decided: int = 0  # rows written: changes of what should be in place
    dry_run: int = 0
    sent: int = 0
    failed: int = 0
    unchanged: int = 0  # targets already as they should be
    gateways: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # why nothing was enforced, when that happened

    @property
    def logged(self) -> bool:
        return self.decided > 0


@dataclass(frozen=True)
class _Status:
    month: str
    workspace: str
    as_of_day: object
    is_partial: bool
    hard_limit_usd: Decimal
    spend_to_date_usd: Decimal
    gateway_action: str


def enforce(
    paths: Paths,
    settings: EnforceSettings,
    *,
    run_id: str,
    now: datetime | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> EnforcementSummary:
    """Never raises: what went wrong is in the summary (and, for calls, in the log)."""
    summary = EnforcementSummary(mode=settings.mode, gateways=sorted(configured(settings)))
    summary.problems.extend(settings.problems)
    for problem in settings.problems:
        log.error("enforcement: %s", problem)
    try:
        now = now or utc_now()
        if not paths.mart_db.exists():
            summary.error = f"no published mart at {paths.mart_db}; nothing to enforce"
            return summary
        with duckdb.connect(str(paths.mart_db), read_only=True) as con:
            statuses, teams = _read_mart(con)
        summary.over_limit = sorted(s.workspace for s in statuses if s.gateway_action == BLOCK)
        lock = enforcement_log.enforcement_lock(paths.warehouse_dir, lock_wait_s)
        try:
            lock.acquire()
        except Timeout:
            summary.error = f"enforcement log busy for {lock_wait_s:.0f}s; enforced by the next run"
            return summary
        try:
            with enforcement_log.open_log(paths.warehouse_dir) as con:
                _enforce_locked(con, statuses, teams, settings, run_id, now, summary)
        finally:
            lock.release()
    except Exception as exc:  # enforcement never fails the run
        summary.error = f"not enforced: {type(exc).__name__}: {scrub(str(exc), settings.secrets)}"
    if summary.error:
        log.error("enforcement: %s", summary.error)
    return summary


def _read_mart(con: duckdb.DuckDBPyConnection) -> tuple[list[_Status], dict[str, list[str]]]:
    statuses = [
        _Status(*row)
        for row in con.execute(
            "select month, workspace, as_of_day, is_partial, hard_limit_usd, spend_to_date_usd, gateway_action "
            "from hard_limit_status order by workspace"
        ).fetchall()
    ]
    teams: dict[str, list[str]] = {}
    for workspace, team_id in con.execute(
        "select workspace, team_id from gateway_teams where gateway = ? order by team_id", [LITELLM]
    ).fetchall():
        teams.setdefault(workspace, []).append(team_id)
    return statuses, teams


def _targets(workspace: str, teams: dict[str, list[str]], gateways: set[str]) -> list[tuple[str, str]]:
    out = [(LITELLM, team) for team in teams.get(workspace, [])] if LITELLM in gateways else []
    if WEBHOOK in gateways:
        out.append((WEBHOOK, workspace))
    return out or [(NONE, workspace)]


def _enforce_locked(con, statuses, teams, settings: EnforceSettings, run_id, now, summary) -> None:
    gateways = configured(settings)
    by_workspace = {s.workspace: s for s in statuses}
    month = statuses[0].month if statuses else f"{open_day(now):%Y-%m}"
    wanted = {
        target: status
        for status in statuses
        if status.gateway_action == BLOCK
        for target in _targets(status.workspace, teams, gateways)
    }
    placed = enforcement_log.in_place(con, settings.mode)
    retrying = enforcement_log.pending(con)
    entry_id = enforcement_log.next_entry_id(con)

    changes: list[tuple[tuple[str, str], str, str, str, _Status | None, str]] = []
    for target, status in wanted.items():
        current = placed.get(target)
        if current is not None and current.action == BLOCK:
            summary.unchanged += 1
            continue
        reason = (
            f"month-to-date spend {usd(status.spend_to_date_usd)} reached the hard limit "
            f"{usd(status.hard_limit_usd)} of {status.month} (as of {status.as_of_day}"
            f"{', today so far, estimates included' if status.is_partial else ''})"
        )
        changes.append((target, BLOCK, "hard_limit_reached", reason, status, status.workspace))
    for target, current in sorted(placed.items()):
        if current.action != BLOCK or target in wanted:
            continue
        if target[0] not in gateways | {NONE}:
            summary.problems.append(
                f"{target[0]} target {target[1]} is blocked but {target[0]} is not configured; not unblocked"
            )
            log.warning("enforcement: %s", summary.problems[-1])
            continue
        status = by_workspace.get(current.workspace)
        code, reason = _unblock_reason(current, status, month)
        changes.append((target, UNBLOCK, code, reason, status, current.workspace))

    for (gateway, target), action, code, reason, status, workspace in changes:
        previous = retrying.get((gateway, target))
        decision_id = previous.decision_id if previous and previous.action == action else entry_id
        call = Call(
            gateway=gateway,
            target=target,
            action=action,
            workspace=workspace,
            month=status.month if status else month,
            reason_code=code,
            reason=reason,
            spend_to_date_usd=str(status.spend_to_date_usd) if status else None,
            hard_limit_usd=str(status.hard_limit_usd) if status else None,
            decision_id=decision_id,
        )
        if gateway == NONE:
            result, outcome = CallResult(True, 0), ("dry_run" if settings.mode == DRY_RUN else "no_gateway")
            if action == BLOCK:
                summary.problems.append(
                    f"workspace {workspace} is over its hard limit but has no gateway target: map it to a "
                    "LiteLLM team (workspaces.csv, provider litellm) or set COSTLINE_ENFORCE_WEBHOOK_URL"
                )
        elif settings.mode == DRY_RUN:
            result, outcome = CallResult(True, 0), "dry_run"
        else:
            result = send(call, settings, now)
            outcome = "sent" if result.ok else "failed"
        enforcement_log.append(
            con,
            {
                "entry_id": entry_id,
                "logged_at": now.astimezone(UTC).replace(tzinfo=None, microsecond=0),
                "run_id": run_id,
                "decision_id": decision_id,
                "month": call.month,
                "workspace": workspace,
                "gateway": gateway,
                "target": target,
                "action": action,
                "reason_code": code,
                "reason": reason,
                "mode": settings.mode,
                "result": outcome,
                "attempts": result.attempts,
                "http_status": result.status_code,
                "error": scrub(result.error, settings.secrets) if result.error else None,
                "spend_to_date_usd": call.spend_to_date_usd,
                "hard_limit_usd": call.hard_limit_usd,
            },
        )
        entry_id += 1
        summary.decided += 1
        summary.dry_run += outcome == "dry_run"
        summary.sent += outcome == "sent"
        summary.failed += outcome == "failed"
        line = f"{action} {gateway}/{target} (workspace {workspace}): {outcome}; {reason}"
        if outcome == "failed":
            log.error("enforcement: %s; %s; tried again next run", line, scrub(result.error or "", settings.secrets))
        else:
            log.warning("enforcement: %s", line)


def _unblock_reason(current, status: _Status | None, month: str) -> tuple[str, str]:
    if current.month != month:
        spent = f": {usd(status.spend_to_date_usd)} of {usd(status.hard_limit_usd)} so far" if status else ""
        return "month_turned", f"the month turned ({current.month} to {month}){spent}"
    if status is None:
        return "no_hard_limit", f"no hard limit in force for {current.workspace} in {month}"
    if current.hard_limit_usd is not None and status.hard_limit_usd > Decimal(current.hard_limit_usd):
        return (
            "limit_raised",
            f"hard limit raised from {usd(current.hard_limit_usd)} to {usd(status.hard_limit_usd)}; "
            f"month-to-date spend {usd(status.spend_to_date_usd)} is under it",
        )
    return (
        "under_limit",
        f"month-to-date spend {usd(status.spend_to_date_usd)} is under the hard limit {usd(status.hard_limit_usd)}",
    )
