"""The report's seven plotly charts, each rendered to an HTML fragment (plotly.js is added once).

Plotly reads a subset of HTML in labels (`<b>`, `<a>`, `<br>`), so every text from data goes
in entity-escaped; plotly turns the entities back into the literal characters when it draws.
A chart with no data still renders (an empty plot with a note) so the page never has holes.
"""

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio

from reporting.formatting import usd
from reporting.report_data import GAP_CAUSES, ReportData
from reporting.success_names import success_name

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
COLORS = ["#2563eb", "#f97316", "#10b981", "#a855f7", "#ef4444", "#0ea5e9", "#eab308", "#64748b"]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    html: str


def t(text) -> str:
    """Data text for plotly: literal, never markup."""
    return html.escape(str(text), quote=False)


def build_charts(data: ReportData) -> list[Chart]:
    return [
        _chart(
            "daily_spend",
            "Daily spend and deployments",
            _daily_spend(data),
            "Spend per day, stacked by workspace; dotted lines are deployments (hover for scope and version).",
        ),
        _chart(
            "workspace_budget",
            "Spend by workspace vs budget",
            _workspace_budget(data),
            "Month to date, the month-end projection at the current pace, and the monthly budget.",
        ),
        _chart(
            "model_provider",
            "Spend by model and provider",
            _model_provider(data),
            "Where the money went, by the model that answered.",
        ),
        _chart(
            "cost_per_success",
            "Cost per successful completion, by feature",
            _success_trend(data),
            "Daily cost of all calls divided by successful requests; a rising line means paying more per result.",
        ),
        _chart(
            "model_comparison",
            "Model comparison and cheaper alternatives",
            _model_comparison(data),
            "Cost per success per model; the orange bar is what switching to the cheaper alternative of "
            "equal quality would have saved this month.",
        ),
        _chart(
            "billed_vs_estimated",
            "Billed vs estimated",
            _billed_vs_estimated(data),
            "Provider bills against costline's estimate from token prices; a gap means unpriced or untracked usage.",
        ),
        _chart(
            "gap_waterfall",
            "Why the bill differs from the estimate",
            _gap_waterfall(data),
            _gap_caption(data),
        ),
    ]


def _chart(chart_id: str, title: str, figure: go.Figure, caption: str) -> Chart:
    figure.update_layout(
        template="plotly_white",
        height=360,
        margin=dict(l=60, r=20, t=20, b=50),
        font=dict(family="system-ui, -apple-system, Segoe UI, sans-serif", size=12),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        hoverlabel=dict(namelength=-1),
    )
    fragment = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{chart_id}",
        config=PLOT_CONFIG,
        default_width="100%",
        default_height="360px",
    )
    return Chart(chart_id, title, caption, fragment)


def _empty(figure: go.Figure, note: str) -> go.Figure:
    figure.add_annotation(
        text=note, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font=dict(size=14, color="#64748b")
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def _daily_spend(data: ReportData) -> go.Figure:
    figure = go.Figure()
    by_workspace: dict[str, list] = defaultdict(list)
    totals: dict = defaultdict(Decimal)  # money summed exactly; floats only as plot coordinates
    for day, workspace, cost in data.daily:
        by_workspace[workspace].append((day, float(cost)))
        totals[day] += cost
    for i, (workspace, points) in enumerate(sorted(by_workspace.items())):
        figure.add_bar(
            x=[d for d, _ in points],
            y=[c for _, c in points],
            name=t(workspace),
            marker_color=COLORS[i % len(COLORS)],
            hovertemplate="%{x|%b %d}: $%{y:,.2f}<extra>%{fullData.name}</extra>",
        )
    if data.deployments:
        top = float(max(totals.values(), default=Decimal(1))) * 1.08
        for deployed_at, *_ in data.deployments:
            figure.add_shape(
                type="line",
                x0=deployed_at,
                x1=deployed_at,
                yref="paper",
                y0=0,
                y1=1,
                line=dict(color="#475569", width=1, dash="dot"),
            )
        figure.add_scatter(
            x=[d[0] for d in data.deployments],
            y=[top] * len(data.deployments),
            mode="markers",
            name="deployments",
            marker=dict(symbol="triangle-down", size=11, color="#475569"),
            text=[
                t(f"{scope} {version}" + (f" (cost per request {change:+.0%})" if change is not None else ""))
                for _, scope, version, change, _flag in data.deployments
            ],
            hovertemplate="%{x|%b %d %H:%M} deploy: %{text}<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        yaxis=dict(title="USD per day", tickprefix="$"),
        xaxis=dict(range=_month_range(data), type="date"),
    )
    return figure


def _workspace_budget(data: ReportData) -> go.Figure:
    figure = go.Figure()
    names = [t(w) for w, *_ in data.workspaces]
    figure.add_bar(
        y=names,
        x=[float(spend) for _, spend, *_ in data.workspaces],
        orientation="h",
        name="spent",
        marker_color=COLORS[0],
        hovertemplate="spent $%{x:,.2f}<extra></extra>",
    )
    figure.add_bar(
        y=names,
        x=[float(p) if p is not None else None for *_, p, _s in data.workspaces],
        orientation="h",
        name="projected month end",
        marker_color="#93c5fd",
        hovertemplate="projected $%{x:,.2f}<extra></extra>",
    )
    budgeted = [(n, float(b)) for n, (_, _, b, _, _) in zip(names, data.workspaces, strict=True) if b is not None]
    if budgeted:
        figure.add_scatter(
            y=[n for n, _ in budgeted],
            x=[b for _, b in budgeted],
            mode="markers",
            name="budget",
            marker=dict(symbol="line-ns-open", size=26, color="#dc2626", line=dict(width=3, color="#dc2626")),
            hovertemplate="budget $%{x:,.2f}<extra></extra>",
        )
    figure.update_layout(
        barmode="group",
        xaxis=dict(title="USD this month", tickprefix="$"),
        yaxis=dict(
            autorange="reversed",
            automargin=True,
            tickmode="array",
            tickvals=names,
            ticktext=[t(_short(w)) for w, *_ in data.workspaces],
        ),
    )
    return figure


def _model_provider(data: ReportData) -> go.Figure:
    figure = go.Figure()
    providers = sorted({p for p, _, _ in data.models})
    models = [t(m) for m in dict.fromkeys(m for _, m, _ in data.models)]
    for i, provider in enumerate(providers):
        rows = [(t(m), float(c)) for p, m, c in data.models if p == provider]
        figure.add_bar(
            x=[m for m, _ in rows],
            y=[c for _, c in rows],
            name=t(provider),
            marker_color=COLORS[i % len(COLORS)],
            hovertemplate="%{x}: $%{y:,.2f}<extra>%{fullData.name}</extra>",
        )
    figure.update_layout(
        barmode="stack",
        yaxis=dict(title="USD this month", tickprefix="$"),
        xaxis=dict(categoryorder="array", categoryarray=models),
    )
    return figure


def _success_trend(data: ReportData) -> go.Figure:
    figure = go.Figure()
    by_feature: dict[str, list] = defaultdict(list)
    for day, feature, per_success in data.success_trend:
        by_feature[feature].append((day, float(per_success) if per_success is not None else None))
    for i, (feature, points) in enumerate(sorted(by_feature.items())):
        figure.add_scatter(
            x=[d for d, _ in points],
            y=[v for _, v in points],
            mode="lines+markers",
            name=t(f"{feature} (per {success_name(feature)})"),
            line=dict(color=COLORS[i % len(COLORS)], width=2),
            connectgaps=False,
            hovertemplate="%{x|%b %d}: $%{y:,.4f}<extra>%{fullData.name}</extra>",
        )
    if not by_feature:
        return _empty(figure, "No successful requests recorded this month")
    figure.update_layout(
        yaxis=dict(title="USD per success", tickprefix="$", rangemode="tozero"),
        xaxis=dict(range=_month_range(data), type="date"),
    )
    return figure


def _model_comparison(data: ReportData) -> go.Figure:
    figure = go.Figure()
    rows = [r for r in data.comparison if r[4] is not None]
    if not rows:
        return _empty(figure, "No model reached a successful request this month")
    labels = [t(f"{feature} · {model}") for feature, model, *_ in rows]
    # Two y axes: offsetgroups keep the pair of bars side by side instead of drawn over each other.
    figure.add_bar(
        x=labels,
        y=[float(r[4]) for r in rows],
        name="cost per success",
        marker_color=COLORS[0],
        offsetgroup="cost",
        text=[t(f"cheaper: {r[5]}" if r[5] else "") for r in rows],
        hovertemplate="%{x}: $%{y:,.4f} per success<br>%{text}<extra></extra>",
        textposition="none",
    )
    figure.add_bar(
        x=labels,
        y=[float(r[6]) if r[6] is not None else 0.0 for r in rows],
        name="potential savings this month",
        marker_color=COLORS[1],
        yaxis="y2",
        offsetgroup="savings",
        hovertemplate="%{x}: save $%{y:,.2f}<extra></extra>",
    )
    figure.update_layout(
        barmode="group",
        yaxis=dict(title="USD per success", tickprefix="$"),
        yaxis2=dict(
            title="USD saved", tickprefix="$", overlaying="y", side="right", showgrid=False, rangemode="tozero"
        ),
        margin=dict(r=70),
    )
    return figure


def _billed_vs_estimated(data: ReportData) -> go.Figure:
    figure = go.Figure()
    providers = sorted({p for _, p, _, _ in data.billing})
    if not providers:
        return _empty(figure, "No provider bills loaded this month:<br>costs are estimates from telemetry")
    for i, provider in enumerate(providers):
        rows = [r for r in data.billing if r[1] == provider]
        color = COLORS[i % len(COLORS)]
        figure.add_scatter(
            x=[r[0] for r in rows],
            y=[float(r[2]) for r in rows],
            mode="lines+markers",
            name=t(f"{provider} billed"),
            line=dict(color=color, width=2),
            hovertemplate="%{x|%b %d}: billed $%{y:,.2f}<extra></extra>",
        )
        figure.add_scatter(
            x=[r[0] for r in rows],
            y=[float(r[3]) for r in rows],
            mode="lines",
            name=t(f"{provider} estimated"),
            line=dict(color=color, width=2, dash="dash"),
            hovertemplate="%{x|%b %d}: estimated $%{y:,.2f}<extra></extra>",
        )
    figure.update_layout(
        yaxis=dict(title="USD per day", tickprefix="$", rangemode="tozero"),
        xaxis=dict(range=_month_range(data), type="date"),
    )
    return figure


def _gap_totals(data: ReportData) -> tuple[Decimal, list[Decimal], Decimal]:
    """The month's estimate, each cause and the net bill over every provider, summed exactly."""
    estimated = sum((row[1] for row in data.gap), Decimal(0))
    causes = [sum((row[2 + i] for row in data.gap), Decimal(0)) for i in range(len(GAP_CAUSES))]
    billed = sum((row[2 + len(GAP_CAUSES)] for row in data.gap), Decimal(0))
    return estimated, causes, billed


def _gap_waterfall(data: ReportData) -> go.Figure:
    """billing_gap_explained as a waterfall: the estimate, each measured cause, the residual, the bill."""
    figure = go.Figure()
    if not data.gap:
        return _empty(figure, "No provider bills loaded this month:<br>nothing to explain yet")
    estimated, causes, billed = _gap_totals(data)
    labels = ["Estimate", *(label for _, label in GAP_CAUSES), "Net bill"]
    figure.add_trace(
        go.Waterfall(
            x=[t(label) for label in labels],
            y=[float(estimated), *(float(c) for c in causes), float(billed)],
            measure=["absolute", *("relative" for _ in causes), "total"],
            text=[usd(estimated), *(usd(c) for c in causes), usd(billed)],
            textposition="outside",
            hovertemplate="%{x}: %{text}<extra></extra>",
            connector=dict(line=dict(color="#94a3b8", width=1)),
            increasing=dict(marker=dict(color=COLORS[4])),
            decreasing=dict(marker=dict(color=COLORS[2])),
            totals=dict(marker=dict(color=COLORS[0])),
        )
    )
    figure.update_layout(yaxis=dict(title="USD this month", tickprefix="$"), showlegend=False)
    return figure


def _gap_caption(data: ReportData) -> str:
    if not data.gap:
        return "The gap between the bill and the estimate, split into measured causes, once bills are loaded."
    residual = 2 + len(GAP_CAUSES) - 1  # the last cause of a row is the residual
    residuals = ", ".join(f"{row[0]} {usd(row[residual])}" for row in data.gap)
    return (
        "From the estimate to the net bill: each bar is a cause measured from the bills, usage reports and "
        f"telemetry; the residual is what none explains ({residuals})."
    )


def _short(text: str, limit: int = 24) -> str:
    """Axis labels only; the hover and the tables keep the full name."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _month_range(data: ReportData) -> list[datetime]:
    start = datetime.combine(data.first_day.replace(day=1), time()) - timedelta(hours=12)
    end = datetime.combine(data.first_day.replace(day=data.days_in_month), time()) + timedelta(hours=12)
    return [start, end]
