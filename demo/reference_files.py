"""workspaces.csv, deployments.csv and budgets.csv for the demo."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from demo import scenario as sc
from demo.usage import DailyUsage

DEPLOYMENT_HEADER = ("deployed_at", "scope", "version", "description")
BUDGET_HEADER = ("workspace", "month", "monthly_budget_usd", "hard_limit")
WORKSPACE_HEADER = ("provider", "project_id", "workspace")


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def scope_workspaces() -> dict[tuple[str, str], str]:
    """(provider, project/workspace id) -> costline workspace, as workspaces.csv states it."""
    mapping = {(provider, project): workspace for (provider, workspace), project in sc.PROJECT_IDS.items()}
    provider, project, workspace, _ = sc.UNTRACKED_PROJECT
    mapping[(provider, project)] = workspace
    return mapping


def write_workspaces(input_dir: Path) -> Path:
    rows = sorted((provider, project, workspace) for (provider, project), workspace in scope_workspaces().items())
    return _write_csv(input_dir / "workspaces.csv", WORKSPACE_HEADER, rows)


def deployments(timeline: sc.Timeline) -> list[tuple[datetime, str, str, str]]:
    rows = [
        (
            datetime.combine(
                timeline.start + timedelta(days=min(4, (timeline.end - timeline.start).days)), time(9, 30)
            ),
            "*",
            "gateway-2.31.0",
            "Shared LLM gateway release: connection pooling",
        ),
        (
            timeline.prompt_change_at,
            sc.PROMPT_CHANGE_FEATURE,
            "v2",
            "Reply drafting prompt v2: full ticket thread and tone guide in context",
        ),
        (
            datetime.combine(
                timeline.start + timedelta(days=min(16, (timeline.end - timeline.start).days)), time(15, 0)
            ),
            "growth",
            "rerank-cfg-7",
            "Search rerank: top-k 20 -> 25, same model",
        ),
    ]
    return sorted(rows)


def write_deployments(input_dir: Path, timeline: sc.Timeline) -> Path:
    rows = [
        (at.strftime("%Y-%m-%dT%H:%M:%SZ"), scope, version, description)
        for at, scope, version, description in deployments(timeline)
    ]
    return _write_csv(input_dir / "deployments.csv", DEPLOYMENT_HEADER, rows)


def budgets(usage: tuple[DailyUsage, ...], timeline: sc.Timeline) -> list[tuple[str, str, Decimal, bool]]:
    """A standing (`*`) budget per workspace sized from its list spend, and one month where the
    exhausted workspace's budget is below what it spends by `timeline.budget_exhausted_by`."""
    workspace_of = scope_workspaces()
    daily: dict[str, Decimal] = defaultdict(Decimal)
    month_to_date: dict[str, Decimal] = defaultdict(Decimal)
    month_start = datetime.strptime(timeline.budget_month, "%Y-%m").date()
    for row in usage:
        workspace = workspace_of[(row.provider, row.scope_id)]
        daily[workspace] += row.list_cost_usd
        if month_start <= row.day <= timeline.budget_exhausted_by:
            month_to_date[workspace] += row.list_cost_usd
    days = len(timeline.days)
    rows: list[tuple[str, str, Decimal, bool]] = []
    for workspace in sc.WORKSPACES:
        monthly = daily[workspace] / days * Decimal("30.4") * Decimal(str(sc.BUDGET_HEADROOM[workspace]))
        rows.append((workspace, "*", (monthly / 100).to_integral_value(ROUND_CEILING) * 100, False))
    # Billed cost runs a few percent above list, so 97% of list spend is reached by that day.
    tight = (month_to_date[sc.EXHAUSTED_WORKSPACE] * Decimal("0.97")).quantize(Decimal("0.01"), ROUND_FLOOR)
    rows.append((sc.EXHAUSTED_WORKSPACE, timeline.budget_month, max(tight, Decimal("0.01")), True))
    return rows


def write_budgets(input_dir: Path, rows: list[tuple[str, str, Decimal, bool]]) -> Path:
    return _write_csv(
        input_dir / "budgets.csv",
        BUDGET_HEADER,
        [(w, m, f"{amount:.2f}", str(hard).lower()) for w, m, amount, hard in rows],
    )
