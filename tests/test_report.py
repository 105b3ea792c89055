"""The stakeholder report: numbers read back from the HTML equal the mart; text is escaped;
the file is self-contained. (tests/test_report_browser.py opens it in a real browser.)"""

import html
import re

import duckdb
import markupsafe
import pytest
from mart_fixture import HOSTILE_WORKSPACE, assert_headline_matches, build_mart_fixture, expected_headline

from reporting.report import ReportError, write_report
from reporting.success_names import cost_per_success_label, success_name

METRIC_RE = re.compile(
    r'data-metric="([^"]*)" data-value="([^"]*)">\s*<div class="label">(.*?)</div>\s*'
    r'<div class="value">(.*?)</div>',
    re.S,
)
CHART_IDS = {
    "daily_spend",
    "workspace_budget",
    "model_provider",
    "cost_per_success",
    "model_comparison",
    "billed_vs_estimated",
    "gap_waterfall",
}


@pytest.fixture(scope="module")
def mart(tmp_path_factory):
    return build_mart_fixture(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(mart, tmp_path_factory):
    out = write_report(mart.paths, tmp_path_factory.mktemp("out") / "report.html")
    return out.read_text(encoding="utf-8")


def metrics(page: str) -> dict[str, tuple[str, str, str]]:
    """metric id -> (exact value, label, displayed text), as a scraper would read them."""
    return {
        html.unescape(m): (html.unescape(v), html.unescape(label), html.unescape(shown))
        for m, v, label, shown in METRIC_RE.findall(page)
    }


def test_headline_numbers_match_the_mart(report, mart):
    assert_headline_matches(metrics(report), expected_headline(mart.paths.mart_db, mart.latest_month))
    assert "LLM spend report · October 2026" in report


def test_cost_per_success_is_named_per_feature(report):
    found = metrics(report)
    assert found["cost_per_success_usd:support_bot"][1] == "Cost per resolved ticket"
    assert found["cost_per_success_usd:doc_search"][1] == "Cost per successful search"
    assert found["cost_per_success_usd:code_review"][1] == "Cost per accepted code review"


@pytest.mark.parametrize(
    "feature, name",
    [
        ("support_bot", "resolved ticket"),
        ("helpdeskTriage", "resolved ticket"),
        ("doc-search", "successful search"),
        ("meeting_summarizer", "accepted summary"),
        ("pull_request_review", "accepted code review"),
        ("invoice_extraction", "correct extraction"),
        ("sales_copilot", "successful conversation"),
        ("pricing", "successful pricing request"),
        ("ticket-triage", "resolved ticket"),
        ("reply-drafting", "accepted draft"),
        ("onboarding-emails", "accepted email"),
        ("search-rerank", "successful search"),
        ("code-review-agent", "accepted code review"),
        ("doc-embeddings", "embedded document"),
        ("eval-harness", "passing evaluation"),
    ],
)
def test_success_names(feature, name):
    assert success_name(feature) == name
    assert cost_per_success_label(feature) == f"Cost per {name}"


def test_explicit_month_and_default_latest(mart, tmp_path):
    september = write_report(mart.paths, tmp_path / "sep.html", month=mart.previous_month).read_text()
    assert_headline_matches(metrics(september), expected_headline(mart.paths.mart_db, mart.previous_month))
    assert "September 2026" in september


def test_every_section_is_present(report):
    assert set(re.findall(r'data-chart="([^"]+)"', report)) == CHART_IDS
    for chart in CHART_IDS:
        assert f'id="chart-{chart}"' in report
    for section in ("anomalies", "budgets", "alternatives", "cost-per-result"):
        assert f'id="{section}"' in report
    # every anomaly of the month, with its explanation
    assert report.count("Usually a retry storm") == 1 and report.count("Usually a prompt change") == 1
    assert report.count("Usually an agent stuck in a loop") == 1
    statuses = re.findall(r'data-workspace-status="([^"]+)"', report)
    assert sorted(statuses) == ["at_risk", "exceeded", "ok"]


def test_credits_and_net_bill_get_a_sentence(report, mart):
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        net = con.execute("select net_spend_usd from executive_summary where month = ?", [mart.latest_month]).fetchone()
    headline = html.unescape(re.search(r'<p class="lead" id="headline">(.*?)</p>', report, re.S).group(1))
    assert f"Provider credits of $25.00 bring the net bill to ${net[0]:,.2f}." in headline


def test_gap_waterfall_runs_from_the_estimate_through_each_cause_to_the_net_bill(report, mart):
    with duckdb.connect(str(mart.paths.mart_db), read_only=True) as con:
        estimated, residual, billed = con.execute(
            "select sum(estimated_cost_usd), sum(residual_usd), sum(billed_cost_usd) from billing_gap_explained "
            "where strftime(day, '%Y-%m') = ?",
            [mart.latest_month],
        ).fetchone()
    figure = re.search(r'id="chart-gap_waterfall".*?</script>', report, re.S).group(0)
    assert '"type":"waterfall"' in figure
    for label in ("Estimate", "Billed scopes without telemetry", "Error calls billed", "Residual", "Net bill"):
        assert label in figure
    texts = re.search(r'"text":\[(.*?)\]', figure).group(1)
    for amount in (estimated, residual, billed):
        assert f"{'-' if amount < 0 else ''}${abs(amount):,.2f}" in texts


def test_text_from_data_is_escaped(report):
    assert HOSTILE_WORKSPACE not in report
    assert "<script>alert(" not in report and "<b>bold</b>" not in report
    assert str(markupsafe.escape(HOSTILE_WORKSPACE)) in report  # the tables show it literally
    scripts = re.findall(r"<script[^>]*>", report)
    # plotly.js, one per chart, the resize hook: nothing injected by data
    assert len(scripts) == 1 + len(CHART_IDS) + 1


def test_report_is_self_contained(report):
    assert len(report) > 3_000_000 and "Plotly" in report  # plotly.js embedded
    assert "Content-Security-Policy" in report and "default-src 'none'" in report
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", report)
    assert "cdn.plot.ly/plotly" not in report.split("</script>", 1)[1]


def test_report_without_billing_or_anomalies_still_has_every_chart(tmp_path):
    mart = build_mart_fixture(tmp_path)
    with duckdb.connect(str(mart.paths.mart_db)) as con:
        con.execute("delete from billing_reconciliation; delete from cost_anomalies; delete from deployment_impact")
    page = write_report(mart.paths, tmp_path / "r.html").read_text()
    assert set(re.findall(r'data-chart="([^"]+)"', page)) == CHART_IDS
    assert "No provider bills loaded this month" in page and "No anomalies detected this month" in page


def test_bad_month_and_missing_mart_give_one_line_reasons(mart, tmp_path):
    with pytest.raises(ReportError, match="must look like 2026-10"):
        write_report(mart.paths, tmp_path / "r.html", month="October")
    with pytest.raises(ReportError, match="2026-09, 2026-10"):
        write_report(mart.paths, tmp_path / "r.html", month="2025-01")
    from ingestion.settings import Paths

    with pytest.raises(ReportError, match="no published mart"):
        write_report(Paths(tmp_path / "in", tmp_path / "nowhere"), tmp_path / "r.html")
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".r.html*"))


def test_report_command_writes_next_to_the_mart(mart):
    from orchestration.delivery import report_command, report_path

    out = report_command(mart.paths)
    assert out == report_path(mart.paths) == mart.paths.warehouse_dir / "report.html" and out.stat().st_size > 0
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".report.html")]


def test_value_section_shows_value_per_dollar_and_realised_next_to_potential(report):
    section = report.split('<section id="value">', 1)[1].split("</section>", 1)[0]
    assert 'data-figure="value_per_dollar" data-value="2.505"' in section
    assert "$2.50 of value generated per dollar spent" in section
    assert 'data-figure="realised_savings_usd" data-value="11.350000">$11.35' in section
    assert 'data-figure="potential_savings_usd" data-value="3.200000">$3.20' in section
    items = re.findall(r"<li data-saving=\"([^\"]+)\">(.*?)</li>", section, re.S)
    assert [(saving, html.unescape(text).split(" (")[0]) for saving, text in items] == [
        ("12.400000", "saved $12.40 by switching triage to gpt-4o-mini on the 12th"),
        ("-1.050000", "cost $1.05 by moving search to prompt s2 on the 3rd"),
    ]
    assert "$0.0520 → $0.0180 a success, from gpt-4o" in html.unescape(section)
    row = re.search(r'<table id="value-by-feature">.*?</table>', section, re.S).group(0)
    assert re.findall(r'<td class="n">([^<]*)</td>', row) == ["$250.50", "$4.18", "$0.8000"]


def test_a_mart_without_value_tables_reports_no_value(tmp_path):
    fixture = build_mart_fixture(tmp_path)
    with duckdb.connect(str(fixture.paths.mart_db)) as con:
        con.execute("drop table value_summary; drop table value_monthly; drop table realised_savings")
    page = write_report(fixture.paths, tmp_path / "r.html").read_text(encoding="utf-8")
    section = page.split('<section id="value">', 1)[1].split("</section>", 1)[0]
    assert "No measured model or prompt change this month." in section
    assert "value-summary" not in section
