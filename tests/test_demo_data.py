"""The demo generator: every scenario the mart must find is really in the files it writes.

The files are read back independently of the generator (DuckDB for JSONL/gzip/Parquet, json
for OTLP), validated with the contract's rules, and checked against the summary it returns.
"""

import csv
import gzip
import json
import os
import re
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from genai_prices import Usage, calc_price

from demo import scenario as sc
from demo.inputs import generate_demo_inputs
from demo.rates import rate_on

os.environ.setdefault("DO_NOT_TRACK", "1")

END = date(2026, 11, 27)
DAYS = 30
CONTENT_FIELDS = {"prompt", "completion", "messages", "input", "output"}
NUMERIC = ("attempt", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


# --- reading the drop back ---------------------------------------------------------------------


def _otlp_records(path: Path) -> list[dict]:
    """Flatten OTLP spans that are calls (carry gen_ai.operation.name) by the contract aliases."""

    def value(v: dict):
        ((kind, raw),) = v.items()
        return int(raw) if kind == "intValue" else raw

    records = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            resource = {a["key"]: value(a["value"]) for a in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    attrs = {**resource, **{a["key"]: value(a["value"]) for a in span["attributes"]}}
                    if "gen_ai.operation.name" not in attrs:
                        continue
                    start = int(span["startTimeUnixNano"])
                    records.append(
                        {
                            "call_id": attrs.get("gen_ai.response.id") or span["spanId"],
                            "request_id": attrs.get("costline.request_id") or span["traceId"],
                            "attempt": attrs.get("costline.attempt", 1),
                            "started_at": datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
                            "provider": attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
                            "model": attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
                            "input_tokens": attrs.get("gen_ai.usage.input_tokens"),
                            "output_tokens": attrs.get("gen_ai.usage.output_tokens"),
                            "cache_read_input_tokens": attrs.get("gen_ai.usage.cache_read.input_tokens", 0),
                            "cache_creation_input_tokens": attrs.get("gen_ai.usage.cache_creation.input_tokens", 0),
                            "status": "error" if "error.type" in attrs else "ok",
                            "error_type": attrs.get("error.type"),
                            "workspace": attrs.get("costline.workspace"),
                            "feature": attrs.get("costline.feature"),
                            "prompt_version": attrs.get("costline.prompt_version"),
                            "project_id": attrs.get("costline.project_id"),
                            "source_file": str(path),
                        }
                    )
    return records


def load_drop(input_dir: Path) -> duckdb.DuckDBPyConnection:
    """raw_calls (every parseable record, with its file), calls (valid, first per call_id), outcomes."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    telemetry = input_dir / "telemetry"
    columns = {c: "DOUBLE" for c in NUMERIC} | {
        c: "VARCHAR"
        for c in (
            "call_id",
            "request_id",
            "started_at",
            "provider",
            "model",
            "operation",
            "status",
            "error_type",
            "service_tier",
            "workspace",
            "feature",
            "environment",
            "prompt_version",
            "project_id",
        )
    }
    spec = "{" + ", ".join(f"{k}: '{v}'" for k, v in columns.items()) + "}"
    names = ", ".join(columns)
    con.execute(f"""create table raw_calls as
        select {names}, filename as source_file from read_json(
            ['{telemetry}/*/*.jsonl', '{telemetry}/*/*.jsonl.gz'], format='newline_delimited',
            ignore_errors=true, filename=true, columns={spec})
        where filename not like '%.otlp.jsonl'
        union all by name
        select {", ".join(f"{c}::{t} as {c}" for c, t in columns.items())}, filename as source_file
        from read_parquet('{telemetry}/*/*.parquet', filename=true, union_by_name=true)""")
    otlp = [r for p in sorted(telemetry.glob("*/*.otlp.jsonl")) for r in _otlp_records(p)]
    if otlp:
        con.executemany(
            f"insert into raw_calls by name select * from (select {', '.join('?::' + columns.get(k, 'VARCHAR') + ' as ' + k for k in otlp[0])})",
            [list(r.values()) for r in otlp],
        )
    con.execute("""create table calls as
        with parsed as (
            select *, try_cast(started_at as timestamptz) as ts,
                   regexp_extract(source_file, '(\\d{4}-\\d{2}-\\d{2})/[^/]+$', 1)::date as folder
            from raw_calls)
        select * exclude (ts, started_at), ts::timestamp as started_at, coalesce(attempt, 1)::int as attempt_no
        from parsed
        where call_id is not null and request_id is not null and ts is not null and provider is not null
          and model is not null and workspace is not null and feature is not null
          and input_tokens >= 0 and output_tokens >= 0 and input_tokens = floor(input_tokens)
          and output_tokens = floor(output_tokens)
          and coalesce(cache_read_input_tokens, 0) + coalesce(cache_creation_input_tokens, 0) <= input_tokens
          and coalesce(status, 'ok') in ('ok', 'error')
        qualify row_number() over (partition by call_id order by source_file) = 1""")
    con.execute(f"""create table outcomes as
        select *, regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})/[^/]+$', 1)::date as folder,
               try_cast(recorded_at as timestamptz)::timestamp as recorded
        from read_json('{input_dir}/outcomes/*/*.jsonl', format='newline_delimited', ignore_errors=true,
                       filename=true, columns={{request_id: 'VARCHAR', recorded_at: 'VARCHAR', kind: 'VARCHAR',
                                               value: 'VARCHAR', source: 'VARCHAR', value_usd: 'VARCHAR'}})
        where kind in ('thumbs', 'resolution', 'eval', 'revenue')""")
    return con


def price_table(con: duckdb.DuckDBPyConnection) -> None:
    """List prices of the demo's models from genai-prices, for hourly cost checks."""
    rows = []
    for provider, model in con.execute("select distinct provider, model from calls").fetchall():
        p = rate_on(provider, model, END)
        rows.append(
            (
                provider,
                model,
                str(p.input_mtok),
                str(p.output_mtok),
                str(p.cache_read_mtok or p.input_mtok),
                str(p.cache_write_mtok or p.input_mtok),
            )
        )
    con.execute(
        "create table prices (provider varchar, model varchar, i decimal(18,9), o decimal(18,9), "
        "cr decimal(18,9), cw decimal(18,9))"
    )
    con.executemany("insert into prices values (?, ?, ?, ?, ?, ?)", rows)
    con.execute("""create table hourly as
        select date_trunc('hour', started_at) as hour, workspace,
               sum(((input_tokens - coalesce(cache_read_input_tokens, 0) - coalesce(cache_creation_input_tokens, 0)) * i
                    + coalesce(cache_read_input_tokens, 0) * cr + coalesce(cache_creation_input_tokens, 0) * cw
                    + output_tokens * o) / 1000000) as cost
        from calls join prices using (provider, model) group by all""")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    input_dir = tmp_path_factory.mktemp("demo") / "input"
    started = time.perf_counter()
    summary = generate_demo_inputs(input_dir, END, days=DAYS, calls_per_day=4000, seed=7)
    elapsed = time.perf_counter() - started
    print(f"\ngenerate_demo_inputs: {summary.calls} calls, {summary.files} files in {elapsed:.2f} s")
    con = load_drop(input_dir)
    price_table(con)
    yield input_dir, summary, con, elapsed
    con.close()


def canary_id(text: str) -> str:
    return re.search(r"CANARY-[A-Z]+-\d+", text).group(0)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def scalar(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()[0]


# --- tests --------------------------------------------------------------------------------------


def test_generation_is_fast_and_the_summary_matches_the_files(demo):
    input_dir, summary, con, elapsed = demo
    # A sanity bound only (the figure is bench/run.py's): a shared CI machine varies 2x.
    assert elapsed < 30, f"generation took {elapsed:.1f} s"
    assert (summary.start, summary.end) == (END - timedelta(days=DAYS - 1), END)
    assert summary.calls == scalar(con, "select count(*) from calls") > 100_000
    assert summary.requests == scalar(con, "select count(distinct request_id) from calls")
    assert summary.files == sum(1 for p in input_dir.rglob("*") if p.is_file())
    days = {d for (d,) in con.execute("select distinct started_at::date from calls").fetchall()}
    assert days == {END - timedelta(days=i) for i in range(DAYS)}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a, b, c = (
        generate_demo_inputs(tmp_path / name, END, days=21, calls_per_day=150, seed=seed)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    )
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert a == b
    assert a.usage != c.usage
    assert (tmp_path / "a/workspaces.csv").read_bytes() == (tmp_path / "c/workspaces.csv").read_bytes()


def test_workspaces_features_providers_models_and_cache(demo):
    input_dir, summary, con, _ = demo
    assert scalar(con, "select count(distinct workspace) from calls") >= 3
    assert scalar(con, "select count(distinct feature) from calls") >= 5
    models = con.execute("select distinct provider, model from calls").fetchall()
    assert {p for p, _ in models} == {"openai", "anthropic", "aws.bedrock"}
    assert all(rate_on(p, m, date(2026, 11, 1)) for p, m in models), "demo models are on the rate card"
    cache = con.execute(
        """select provider, count(*) filter (cache_read_input_tokens > 0),
                  count(*) filter (cache_creation_input_tokens > 0), count(*)
           from calls where input_tokens > 0 and provider <> 'aws.bedrock' and feature <> ?
           group by 1 order by 1""",
        [sc.CACHE_BREAKDOWN_UNREPORTED_FEATURE],
    ).fetchall()
    (_, a_read, a_write, a_all), (_, o_read, o_write, _) = cache
    assert a_read > 0.5 * a_all and a_write > 0.1 * a_all
    assert o_read > 0 and o_write == 0  # OpenAI bills no cache writes
    # One feature's tracing drops the cache breakdown (its bill does not: billing_gap_explained).
    unreported = con.execute(
        """select count(*), count(*) filter (coalesce(cache_read_input_tokens, 0) + coalesce(cache_creation_input_tokens, 0) > 0)
           from calls where feature = ?""",
        [sc.CACHE_BREAKDOWN_UNREPORTED_FEATURE],
    ).fetchone()
    assert unreported[0] > 0 and unreported[1] == 0


def test_project_ids_map_to_workspaces_and_one_project_has_no_telemetry(demo):
    input_dir, summary, con, _ = demo
    mapping = {(r["provider"], r["project_id"]): r["workspace"] for r in read_csv(input_dir / "workspaces.csv")}
    seen = con.execute(
        "select distinct provider, project_id, workspace from calls where project_id is not null"
    ).fetchall()
    assert all(mapping[(p, pid)] == w for p, pid, w in seen)
    prefixes = {"openai": "proj_", "anthropic": "wrkspc_", "aws.bedrock": ""}
    assert all(pid.startswith(prefixes[p]) for p, pid, _ in seen)
    assert all(pid.isdigit() and len(pid) == 12 for p, pid, _ in seen if p == "aws.bedrock")  # an AWS account
    untracked = [(p, pid) for (p, pid) in mapping if (p, pid, mapping[(p, pid)]) not in seen]
    assert untracked == [("openai", summary.untracked_scope)]
    assert any(u.scope_id == summary.untracked_scope for u in summary.usage)
    # Calls without a project_id come from workspaces with one id per provider, so the scope is clear.
    missing = con.execute("select distinct provider, workspace from calls where project_id is null").fetchall()
    assert missing
    for provider, workspace in missing:
        assert sum(1 for (p, _), w in mapping.items() if p == provider and w == workspace) == 1


def test_office_hours_and_weekends_shape_the_traffic(demo):
    _, summary, con, _ = demo
    night, afternoon = con.execute("""
        select avg(n) filter (h between 0 and 5), avg(n) filter (h between 13 and 17)
        from (select hour(started_at) h, started_at::date d, count(*) n from calls group by all)""").fetchone()
    assert afternoon > 4 * night
    weekday, weekend = con.execute(
        """
        select avg(n) filter (dow not in (0, 6)), avg(n) filter (dow in (0, 6))
        from (select dayofweek(started_at) dow, started_at::date d, count(*) n from calls
              where started_at::date <> ? group by all)""",
        [summary.spike_hours[0].date()],
    ).fetchone()
    assert weekday > 2 * weekend


def test_retries_share_a_request_and_follow_a_failed_attempt(demo):
    _, summary, con, _ = demo
    spike_day = summary.spike_hours[0].date()
    retry_share = scalar(con, "select avg((attempt_no > 1)::int) from calls where started_at::date <> ?", spike_day)
    assert 0.01 < retry_share < 0.05
    first_attempts = con.execute(
        """
        select c1.status, c1.error_type, count(*) from calls c1
        join calls c2 on c1.request_id = c2.request_id and c2.attempt_no = 2 and c1.attempt_no = 1
        where c1.started_at::date <> ? group by all""",
        [spike_day],
    ).fetchall()
    assert {(s, e) for s, e, _ in first_attempts} == {("error", "rate_limit"), ("error", "timeout")}
    assert scalar(con, "select count(*) from calls where attempt_no = 3") > 0
    assert (
        scalar(
            con,
            "select count(*) from calls where status = 'error' and attempt_no = 1 and request_id not in "
            "(select request_id from calls where attempt_no > 1)",
        )
        > 0
    )  # failed for good


def test_prompt_change_ships_with_a_deployment_and_inflates_tokens(demo):
    input_dir, summary, con, _ = demo
    [deploy] = [r for r in read_csv(input_dir / "deployments.csv") if r["scope"] == "reply-drafting"]
    deployed_at = datetime.fromisoformat(deploy["deployed_at"]).replace(tzinfo=None)
    assert deployed_at == summary.prompt_change_at and (deployed_at.date() - summary.start).days == 11
    assert deploy["version"] == "v2"
    versions = dict(
        con.execute(
            """
        select prompt_version, list(distinct started_at >= ?) from calls
        where feature = 'reply-drafting' and attempt_no = 1 group by 1""",
            [deployed_at],
        ).fetchall()
    )
    assert versions == {"v1": [False], "v2": [True]}
    v1, v2 = (
        scalar(
            con,
            """select avg(input_tokens + output_tokens) from calls
                             where feature = 'reply-drafting' and status = 'ok' and prompt_version = ?""",
            v,
        )
        for v in ("v1", "v2")
    )
    assert 1.3 < v2 / v1 < 1.5
    success = dict(
        con.execute("""
        select c.prompt_version, avg((o.value = 'resolved')::int) from outcomes o
        join (select distinct request_id, prompt_version from calls where feature = 'reply-drafting') c using (request_id)
        where o.kind = 'resolution' group by 1""").fetchall()
    )
    assert success["v2"] - success["v1"] < 0.02


def test_agent_loop_spikes_one_workspace_for_a_few_hours(demo):
    _, summary, con, _ = demo
    flagged = con.execute(
        """
        with base as (
            select h.hour, h.workspace, h.cost,
                   (select median(b.cost) from hourly b where b.workspace = h.workspace
                      and hour(b.hour) = hour(h.hour) and b.hour::date between h.hour::date - 7 and h.hour::date - 1)
                   as baseline
            from hourly h where h.hour::date >= ?)
        select hour, workspace from base where cost > 1.3 * baseline and cost - baseline > 1 order by 1, 2
        """,
        [summary.start + timedelta(days=7)],
    ).fetchall()
    spikes = [(h, w) for h, w in flagged if w == summary.spike_workspace and h.date() == summary.spike_hours[0].date()]
    assert [h for h, _ in spikes] == list(summary.spike_hours)
    assert len(flagged) <= len(spikes) + 3, f"too many incidental spikes: {flagged}"
    loop_attempts = scalar(
        con,
        """select max(attempt_no) from calls where workspace = ? and feature = 'code-review-agent'
                                   and started_at::date = ?""",
        summary.spike_workspace,
        summary.spike_hours[0].date(),
    )
    assert loop_attempts >= 10


def test_outcomes_cover_most_requests_by_feature_kind(demo):
    _, summary, con, _ = demo
    coverage = scalar(
        con,
        "select count(distinct request_id) / (select count(distinct request_id) from calls)::double "
        "from outcomes where request_id in (select request_id from calls)",
    )
    assert 0.75 < coverage < 0.88
    kinds = dict(
        con.execute("""
        select c.feature, list(distinct o.kind order by o.kind) from outcomes o
        join (select distinct request_id, feature from calls) c using (request_id) group by 1""").fetchall()
    )
    assert kinds["ticket-triage"] == ["resolution", "thumbs"] and kinds["search-rerank"] == ["thumbs"]
    assert kinds["eval-harness"] == ["eval"] and "doc-embeddings" not in kinds
    # Values: resolved triage tickets carry value_usd; revenue comes from onboarding emails only.
    assert kinds["onboarding-emails"] == ["revenue", "thumbs"]
    valued = con.execute("""
        select c.feature, o.kind, o.value, count(*) from outcomes o
        join (select distinct request_id, feature from calls) c using (request_id)
        where o.value_usd is not null group by all""").fetchall()
    assert [(f, k, v) for f, k, v, _ in valued] == [("ticket-triage", "resolution", "resolved")]
    scores = [float(v) for (v,) in con.execute("select value from outcomes where kind = 'eval'").fetchall()]
    assert all(0 <= s <= 1 for s in scores) and any(s >= 0.7 for s in scores) and any(s < 0.7 for s in scores)
    assert scalar(con, "select count(*) from outcomes where recorded::date < folder") > 0  # late uploads
    assert scalar(con, "select count(*) from outcomes where recorded::date > folder") == 0
    assert summary.outcomes == scalar(con, "select count(*) from outcomes")


def test_late_records_and_resent_duplicates(demo):
    _, summary, con, _ = demo
    late = con.execute("select started_at::date, folder from calls where folder > started_at::date").fetchall()
    assert any((f - d).days == 1 for d, f in late) and any((f - d).days == 2 for d, f in late)
    assert scalar(con, "select count(*) from calls where folder < started_at::date") == 0
    dupes = con.execute("""select call_id, count(distinct source_file), count(distinct (input_tokens, started_at))
                           from raw_calls where call_id in (select call_id from calls)
                           group by 1 having count(*) > 1""").fetchall()
    assert len(dupes) == summary.duplicate_records > 0
    assert all(files == 2 and variants == 1 for _, files, variants in dupes)
    across_folders = scalar(
        con,
        """select count(distinct call_id) from raw_calls r
        where call_id in (select call_id from raw_calls group by 1
                          having count(distinct regexp_extract(source_file, '(\\d{4}-\\d{2}-\\d{2})/', 1)) > 1)""",
    )
    assert across_folders > 0


def test_about_one_in_a_thousand_records_is_malformed(demo):
    input_dir, summary, con, _ = demo
    bad_json = 0
    lines = 0
    for path in (input_dir / "telemetry").rglob("*.jsonl*"):
        if path.name.endswith(".otlp.jsonl"):
            continue
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            lines += 1
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad_json += 1
    # The ledger the loader must keep: records read = accepted + quarantined + duplicates.
    parquet_rows = scalar(con, f"select count(*) from read_parquet('{input_dir}/telemetry/*/*.parquet')")
    otlp_calls = scalar(con, "select count(*) from raw_calls where source_file like '%.otlp.jsonl'")
    records_read = lines + parquet_rows + otlp_calls
    assert records_read == summary.calls + summary.duplicate_records + summary.malformed_telemetry
    assert summary.calls == scalar(con, "select count(*) from calls")
    assert bad_json > 0
    assert 0.0005 < summary.malformed_telemetry / (summary.calls + summary.malformed_telemetry) < 0.002
    assert scalar(con, "select count(*) from raw_calls where input_tokens < 0") > 0
    # Every folder has some, so each daily load exercises the quarantine.
    assert (
        scalar(
            con,
            "select count(distinct folder) from (select regexp_extract(source_file, '(\\d{4}-\\d{2}-\\d{2})/', 1) "
            "folder from raw_calls where call_id like 'bad-%')",
        )
        >= DAYS - 3
    )
    assert summary.malformed_outcomes > 0


def test_file_formats_gzip_parquet_and_otlp(demo):
    input_dir, summary, con, _ = demo
    telemetry = input_dir / "telemetry"
    gz_days = {p.parent.name for p in telemetry.rglob("*.jsonl.gz")}
    parquet_days = {p.parent.name for p in telemetry.rglob("*.parquet")}
    assert len(gz_days) == 1 and len(parquet_days) == 1
    assert scalar(con, "select count(*) from calls where source_file like '%.parquet'") > 1000
    assert scalar(con, "select count(*) from calls where source_file like '%.jsonl.gz'") > 1000
    [otlp] = list(telemetry.rglob("*.otlp.jsonl"))
    requests = [json.loads(line) for line in otlp.read_text().splitlines()]
    spans = [s for r in requests for rs in r["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    keys = {a["key"] for s in spans for a in s["attributes"]}
    assert {
        "gen_ai.operation.name",
        "gen_ai.response.id",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.model",
        "costline.request_id",
        "costline.feature",
    } <= keys
    assert "gen_ai.provider.name" in keys or "gen_ai.system" in keys
    assert any("gen_ai.operation.name" not in {a["key"] for a in s["attributes"]} for s in spans)
    assert 0 < scalar(con, "select count(*) from calls where source_file like '%.otlp.jsonl'") < 200
    assert all(
        s["startTimeUnixNano"].isdigit() and int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) for s in spans
    )


def test_budgets_one_workspace_exhausts_its_month_before_day_20(demo):
    input_dir, summary, con, _ = demo
    rows = read_csv(input_dir / "budgets.csv")
    workspaces = {w for (w,) in con.execute("select distinct workspace from calls").fetchall()}
    assert {r["workspace"] for r in rows if r["month"] == "*"} == workspaces
    [month_row] = [r for r in rows if r["month"] != "*"]
    assert (month_row["workspace"], month_row["month"]) == (summary.exhausted_workspace, summary.budget_month)
    mapping = {(r["provider"], r["project_id"]): r["workspace"] for r in read_csv(input_dir / "workspaces.csv")}
    spend: dict[date, Decimal] = defaultdict(Decimal)
    for u in summary.usage:
        if (
            mapping[(u.provider, u.scope_id)] == month_row["workspace"]
            and u.day.strftime("%Y-%m") == month_row["month"]
        ):
            spend[u.day] += u.list_cost_usd
    to_date, exhausted_on = Decimal(0), None
    for day in sorted(spend):
        to_date += spend[day]
        if to_date >= Decimal(month_row["monthly_budget_usd"]) and exhausted_on is None:
            exhausted_on = day
    assert exhausted_on is not None and exhausted_on.day < 20
    standing = {r["workspace"]: Decimal(r["monthly_budget_usd"]) for r in rows if r["month"] == "*"}
    assert all(amount > 0 for amount in standing.values())


def test_prompt_content_canaries_sit_only_under_dropped_field_names(demo):
    input_dir, summary, con, _ = demo
    assert len(summary.canaries) >= 3
    found: dict[str, set[str]] = defaultdict(set)

    def walk(obj, key=None):
        if isinstance(obj, dict):
            if set(obj) == {"key", "value"}:  # an OTLP attribute: its key names the content
                walk(obj["value"], obj["key"])
                return
            for k, v in obj.items():
                walk(v, key if k == "stringValue" else k)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, str) and "CANARY-" in obj:
            found[canary_id(obj)].add(key)

    for path in (input_dir / "telemetry").rglob("*.jsonl*"):
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            try:
                walk(json.loads(line))
            except json.JSONDecodeError:
                pass
    for (prompt,) in con.execute(
        f"select prompt from read_parquet('{input_dir}/telemetry/*/*.parquet') where prompt is not null"
    ).fetchall():
        found[canary_id(prompt)].add("prompt")
    fields = set().union(*found.values())
    top_level_content = {"prompt", "completion", "messages", "content"}
    assert fields <= top_level_content | {"gen_ai.input.messages"}, fields
    assert "gen_ai.input.messages" in fields and "prompt" in fields
    assert {canary_id(c) for c in summary.canaries} <= set(found)


def test_usage_equals_the_files_priced_by_genai_prices(demo):
    _, summary, con, _ = demo
    con.execute("create temp table scope_map (provider varchar, workspace varchar, scope varchar)")
    mapped = con.execute("""select provider, workspace, any_value(project_id) from calls
                            where project_id is not null group by all""").fetchall()
    con.executemany("insert into scope_map values (?, ?, ?)", mapped)
    # What the provider bills differs from the files by what the scenario says telemetry misses:
    # timeouts served to the end (tokens the files report as 0) and one feature's cache breakdown.
    grouped = con.execute(
        """
        select c.started_at::date, c.provider, coalesce(c.project_id, m.scope), c.model,
               coalesce(c.service_tier, 'standard'), count(*) filter (coalesce(status, 'ok') = 'ok'),
               sum(input_tokens)::bigint, sum(output_tokens)::bigint,
               sum(coalesce(cache_read_input_tokens, 0))::bigint, sum(coalesce(cache_creation_input_tokens, 0))::bigint,
               count(*) filter (error_type = ? and provider in ?), count(*) filter (feature = ?)
        from calls c left join scope_map m using (provider, workspace) group by all""",
        [sc.BILLED_ERROR_TYPE, list(sc.TIMEOUT_BILLED_PROVIDERS), sc.CACHE_BREAKDOWN_UNREPORTED_FEATURE],
    ).fetchall()
    by_key = {row[:5]: row[5:] for row in grouped}
    tracked = [u for u in summary.usage if u.scope_id != summary.untracked_scope]
    keys = {(u.day, u.provider, u.scope_id, u.model, u.service_tier) for u in tracked}
    assert keys == {k for k, v in by_key.items() if any(v)}
    assert any(u.service_tier == "batch" for u in tracked)  # onboarding emails on OpenAI's Batch API
    served_timeouts = unreported_cache = 0
    for u in tracked:
        key = (u.day, u.provider, u.scope_id, u.model, u.service_tier)
        requests, tin, tout, cread, cwrite, timeouts, unreported = by_key[key]
        assert u.requests == requests + timeouts
        if timeouts:
            assert u.input_tokens > tin and u.output_tokens >= tout  # embeddings have no output
            served_timeouts += 1
        else:
            assert (u.input_tokens, u.output_tokens) == (tin, tout)
        if unreported:
            assert u.cache_read_input_tokens >= cread and u.cache_creation_input_tokens >= cwrite
            unreported_cache += u.cache_read_input_tokens + u.cache_creation_input_tokens > cread + cwrite
        else:
            assert (u.cache_read_input_tokens, u.cache_creation_input_tokens) == (cread, cwrite)
        # Independent of ingestion.sources.model_prices: genai-prices itself prices the billed token sums.
        usage = Usage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_input_tokens,
            cache_write_tokens=u.cache_creation_input_tokens,
        )
        # A tier at genai-prices' rate for it (its price variant): batch is `processing=batch`.
        context = {"processing": "batch"} if u.service_tier == "batch" else None
        expected = calc_price(
            usage,
            u.model,
            provider_id=u.provider,
            genai_request_timestamp=datetime(u.day.year, u.day.month, u.day.day, 12),
            price_context=context,
        ).total_price
        assert u.list_cost_usd == expected.quantize(Decimal("0.000001"), ROUND_HALF_UP)
    assert sum(u.list_cost_usd for u in summary.usage) > 500
    assert served_timeouts > 10 and unreported_cache > 10


def test_refuses_a_directory_with_inputs_unless_overwrite(tmp_path):
    generate_demo_inputs(tmp_path, END, days=2, calls_per_day=50)
    with pytest.raises(FileExistsError):
        generate_demo_inputs(tmp_path, END, days=2, calls_per_day=50)
    (tmp_path / "billing" / "openai").mkdir(parents=True)
    summary = generate_demo_inputs(tmp_path, END, days=2, calls_per_day=50, seed=9, overwrite=True)
    assert not (tmp_path / "billing").exists()
    assert summary.files == sum(1 for p in tmp_path.rglob("*") if p.is_file())
