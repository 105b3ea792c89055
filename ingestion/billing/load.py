"""Provider bills into `raw.billing_costs` / `raw.billing_usage`, from the API or saved pages.

With a key, every page is fetched, saved under `landing/<provider>/<fetch UTC date>/` and
parsed. Without one, saved pages are read from `$COSTLINE_INPUT_DIR/billing/<provider>/<day>/`.

Restatements: pages are taken in order (day folders ascending, file names in natural order
so `-10` follows `-9`, API pages in chain order) and for each (bucket day, group) the last
version wins. Then, in one transaction, every raw row of the provider for the bucket days the
pages state is deleted and the winners inserted. A day whose bucket is present with no
results is stated as zero and is emptied; a day no page mentions is left as it was.

Which folders are read: pages for bucket day X are saved on day X or later (the daily job
fetches the morning after and re-fetches its lookback window), so a window [start, end]
reads folders from `start` to `end + horizon_days` (default 31). Reading past `end` means a
re-run of an old window sees the restatements saved after it and never puts an older
version back. Only buckets inside [start, end] are loaded; the rest belong to other windows.
"""

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.billing.errors import BillingConfigError
from ingestion.billing.http import HttpSettings, PageClient
from ingestion.billing.pages import PROVIDERS, PageFormatError, ParsedPage, Problem, parse_page
from ingestion.billing.provider import Provider
from ingestion.billing.records import CostLine, UsageLine
from ingestion.billing.secret import ApiKey
from ingestion.files import write_atomic
from ingestion.settings import Paths, pause_for_test
from ingestion.warehouse import ensure_raw_schema

log = logging.getLogger("costline.billing")

QUARANTINE_INPUT = "billing"
DEFAULT_HORIZON_DAYS = 31
_CHAIN_NAME = re.compile(r"^(?P<prefix>.+)-(?P<n>\d+)\.json$")


@dataclass(frozen=True)
class BillingLoad:
    provider: str
    source: str  # 'api' | 'files' | 'skipped'
    pages: int
    cost_rows: int
    usage_rows: int
    days: tuple[date, ...]  # bucket days whose raw rows were replaced: rebuild these downstream
    billed_usd: Decimal  # sum of the cost rows now loaded for those days
    quarantined: int = 0  # bad pages and results, in raw.quarantine with reasons


@dataclass(frozen=True)
class _PageRead:
    source_page: str
    source_folder: date
    fetched_at: datetime  # naive UTC, as the warehouse stores times
    parsed: ParsedPage | None  # None: the whole page was unreadable (see problems)
    problems: tuple[Problem, ...]


def load_billing(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    provider: str,
    start: date,
    end: date,
    *,
    api_key: str | None,
    base_url: str | None = None,
    now: datetime | None = None,
    load_id: str | None = None,
    http_settings: HttpSettings | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> BillingLoad:
    """Load one provider's bills for bucket days [start, end] (inclusive).

    `api_key` None or blank reads saved pages; no pages means source 'skipped', not an error.
    `base_url` None uses the provider's env var (OPENAI_BASE_URL / ANTHROPIC_BASE_URL), else
    its public URL. Raises a `BillingError` subclass with a one-line, key-free message.
    """
    spec = PROVIDERS.get(provider)
    if spec is None:
        raise BillingConfigError(f"unknown billing provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    if end < start:
        raise BillingConfigError(f"billing window ends ({end}) before it starts ({start})")
    now = _utc_naive(now or datetime.now(UTC))
    load_id = load_id or f"billing-{provider}-{now:%Y%m%dT%H%M%S}"

    if api_key and api_key.strip():
        url = base_url or os.environ.get(spec.base_url_env) or spec.default_base_url
        pages = _fetch_from_api(spec, ApiKey(api_key.strip()), url, paths, start, end, now, http_settings)
        source = "api"
    else:
        pages = _read_saved_pages(spec, paths, start, end + timedelta(days=horizon_days))
        source = "files"
        if not pages:
            log.info(
                "%s billing: no key (%s) and no saved pages under %s; skipped",
                provider,
                spec.key_env,
                paths.billing_dir / provider,
            )
            return BillingLoad(provider, "skipped", 0, 0, 0, (), Decimal("0.000000"))
    result = _store(con, spec, start, end, pages, load_id, now, source)
    log.debug(
        "%s billing from %s: %d pages, %d cost rows ($%s), %d usage rows, %d quarantined, days %s",
        provider,
        source,
        result.pages,
        result.cost_rows,
        result.billed_usd,
        result.usage_rows,
        result.quarantined,
        ", ".join(d.isoformat() for d in result.days) or "none",
    )
    return result


# --- reading --------------------------------------------------------------------------


def _fetch_from_api(
    spec: Provider,
    key: ApiKey,
    base_url: str,
    paths: Paths,
    start: date,
    end: date,
    now: datetime,
    settings: HttpSettings | None,
) -> list[_PageRead]:
    folder = paths.landing_dir / spec.name / now.date().isoformat()
    pages: list[_PageRead] = []
    with PageClient(spec, key, base_url, settings) as client:
        for endpoint in spec.endpoints:

            def save(number: int, body: bytes, _endpoint=endpoint) -> str:
                target = folder / f"{_endpoint.name}-{start.isoformat()}-{number}.json"
                write_atomic(target, body)
                return target.relative_to(paths.warehouse_dir).as_posix()

            for page in client.fetch_pages(endpoint, start, end, save):
                pages.append(_PageRead(page.source_page, now.date(), now, page.parsed, tuple(page.parsed.problems)))
    return pages


def _read_saved_pages(spec: Provider, paths: Paths, first_folder: date, last_folder: date) -> list[_PageRead]:
    root = paths.billing_dir / spec.name
    if not root.is_dir():
        return []
    pages: list[_PageRead] = []
    for folder, day in _day_folders(root):
        if not first_folder <= day <= last_folder:
            continue
        files = sorted(
            (f for f in folder.iterdir() if f.is_file() and f.suffix == ".json"), key=lambda f: _natural(f.name)
        )
        names = {f.name for f in files}
        for path in files:
            pages.append(_read_page(spec, paths, path, day, names))
    return pages


def _read_page(spec: Provider, paths: Paths, path: Path, day: date, folder_names: set[str]) -> _PageRead:
    source_page = path.relative_to(paths.input_dir).as_posix()
    fetched_at = datetime.combine(day, time())  # saved that day; the hour is not known
    endpoint = spec.endpoint_for_file(path.name)
    if endpoint is None:
        names = ", ".join(e.name for e in spec.endpoints)
        return _PageRead(
            source_page,
            day,
            fetched_at,
            None,
            (
                Problem(
                    "file",
                    f"name does not start with a {spec.name} endpoint ({names}): rename it after the endpoint "
                    f"it came from, or move it to the right provider folder",
                ),
            ),
        )
    try:
        parsed = parse_page(spec, endpoint, path.read_bytes())
    except PageFormatError as exc:
        return _PageRead(
            source_page,
            day,
            fetched_at,
            None,
            (Problem("file", f"{exc}: save the page again exactly as the API returned it"),),
        )
    problems = list(parsed.problems)
    chain = _CHAIN_NAME.match(path.name)
    if parsed.has_more and chain:
        following = f"{chain['prefix']}-{int(chain['n']) + 1}.json"
        if following not in folder_names:
            problems.append(
                Problem(
                    "has_more",
                    f"the page says has_more but {following} is not in this folder: "
                    f"save the remaining pages (request again with page=next_page)",
                )
            )
    return _PageRead(source_page, day, fetched_at, parsed, tuple(problems))


def _day_folders(root: Path) -> list[tuple[Path, date]]:
    folders = []
    for entry in root.iterdir():
        if not entry.is_dir():
            continue
        try:
            folders.append((entry, date.fromisoformat(entry.name)))
        except ValueError:
            log.warning("billing: ignoring folder %s: not a YYYY-MM-DD day folder", entry)
    return sorted(folders, key=lambda pair: pair[1])


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


# --- storing ----------------------------------------------------------------------------

_COST_STAGE = pa.schema(
    [
        ("version", pa.int64()),
        ("bucket_day", pa.date32()),
        ("group_key", pa.string()),
        ("scope_id", pa.string()),
        ("model", pa.string()),
        ("line_item", pa.string()),
        ("amount_usd", pa.decimal128(18, 6)),
        ("source_page", pa.string()),
        ("fetched_at", pa.timestamp("us")),
    ]
)
_USAGE_STAGE = pa.schema(
    [
        ("version", pa.int64()),
        ("bucket_day", pa.date32()),
        ("group_key", pa.string()),
        ("scope_id", pa.string()),
        ("model", pa.string()),
        ("api_key_id", pa.string()),
        ("requests", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_input_tokens", pa.int64()),
        ("cache_creation_input_tokens", pa.int64()),
        ("source_page", pa.string()),
        ("fetched_at", pa.timestamp("us")),
        ("service_tier", pa.string()),
        ("context_window", pa.string()),
        ("inference_geo", pa.string()),
    ]
)
_QUARANTINE_STAGE = pa.schema(
    [
        ("source_folder", pa.date32()),
        ("source_file", pa.string()),
        ("record_key", pa.string()),
        ("reason", pa.string()),
    ]
)
_DAYS = pa.schema([("day", pa.date32())])


def _store(
    con: duckdb.DuckDBPyConnection,
    spec: Provider,
    start: date,
    end: date,
    pages: list[_PageRead],
    load_id: str,
    now: datetime,
    source: str,
) -> BillingLoad:
    costs: dict[str, list] = {name: [] for name in _COST_STAGE.names}
    usage: dict[str, list] = {name: [] for name in _USAGE_STAGE.names}
    quarantine: dict[str, list] = {name: [] for name in _QUARANTINE_STAGE.names}
    cost_days: set[date] = set()
    usage_days: set[date] = set()
    version = 0
    for page in pages:
        for problem in page.problems:
            for column, value in zip(
                _QUARANTINE_STAGE.names,
                (page.source_folder, page.source_page, problem.record_key, problem.reason),
                strict=True,
            ):
                quarantine[column].append(value)
        if page.parsed is None:
            continue
        kind = page.parsed.endpoint.kind
        (cost_days if kind == "costs" else usage_days).update(d for d in page.parsed.days if start <= d <= end)
        for located in page.parsed.lines:
            if not start <= located.bucket_day <= end:
                continue
            version += 1
            line = located.line
            common = (version, located.bucket_day, line.group_key, line.scope_id, line.model)
            if isinstance(line, CostLine):
                row = (*common, line.line_item, line.amount_usd, page.source_page, page.fetched_at)
                target = costs
            else:
                assert isinstance(line, UsageLine)
                row = (
                    *common,
                    line.api_key_id,
                    line.requests,
                    line.input_tokens,
                    line.output_tokens,
                    line.cache_read_input_tokens,
                    line.cache_creation_input_tokens,
                    page.source_page,
                    page.fetched_at,
                    line.service_tier,
                    line.context_window,
                    line.inference_geo,
                )
                target = usage
            for column, value in zip(target, row, strict=True):
                target[column].append(value)

    ensure_raw_schema(con)
    staged = {
        "_billing_cost_stage": pa.table(costs, schema=_COST_STAGE),
        "_billing_usage_stage": pa.table(usage, schema=_USAGE_STAGE),
        "_billing_quarantine_stage": pa.table(quarantine, schema=_QUARANTINE_STAGE),
        "_billing_cost_days": pa.table({"day": sorted(cost_days)}, schema=_DAYS),
        "_billing_usage_days": pa.table({"day": sorted(usage_days)}, schema=_DAYS),
        "_billing_pages_read": pa.table({"source_file": [p.source_page for p in pages]}),
    }
    for name, table in staged.items():
        con.register(name, table)
    try:
        con.execute("begin transaction")
        try:
            # Last version of each (bucket day, group) wins: the restatement rule.
            con.execute("""
                create or replace temp table _billing_costs_new as
                select bucket_day, scope_id, model, line_item, amount_usd, source_page, fetched_at
                from _billing_cost_stage
                qualify row_number() over (partition by bucket_day, group_key order by version desc) = 1""")
            con.execute("""
                create or replace temp table _billing_usage_new as
                select bucket_day, scope_id, model, api_key_id, requests, input_tokens, output_tokens,
                       cache_read_input_tokens, cache_creation_input_tokens, source_page, fetched_at,
                       service_tier, context_window, inference_geo
                from _billing_usage_stage
                qualify row_number() over (partition by bucket_day, group_key order by version desc) = 1""")
            con.execute(
                "delete from raw.billing_costs where provider = ? and bucket_day in "
                "(select day from _billing_cost_days)",
                [spec.name],
            )
            pause_for_test("billing-store")  # a kill here, days deleted, must lose no bill
            con.execute("insert into raw.billing_costs select ?, * from _billing_costs_new", [spec.name])
            con.execute(
                "delete from raw.billing_usage where provider = ? and bucket_day in "
                "(select day from _billing_usage_days)",
                [spec.name],
            )
            con.execute("insert into raw.billing_usage select ?, * from _billing_usage_new", [spec.name])
            # Reading a page again replaces what it quarantined before, so re-runs add nothing.
            con.execute(
                "delete from raw.quarantine where input = ? and source_file in "
                "(select source_file from _billing_pages_read)",
                [QUARANTINE_INPUT],
            )
            con.execute(
                """
                insert into raw.quarantine (input, source_folder, source_file, source_line, record_key, reason,
                                            load_id, loaded_at)
                select ?, source_folder, source_file, null, record_key, reason, ?, ?
                from _billing_quarantine_stage""",
                [QUARANTINE_INPUT, load_id, now],
            )
            cost_rows, billed = con.execute(
                "select count(*), coalesce(sum(amount_usd), 0) from _billing_costs_new"
            ).fetchone()
            usage_rows = con.execute("select count(*) from _billing_usage_new").fetchone()[0]
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        for name in staged:
            con.unregister(name)
        con.execute("drop table if exists _billing_costs_new")
        con.execute("drop table if exists _billing_usage_new")
    return BillingLoad(
        provider=spec.name,
        source=source,
        pages=len(pages),
        cost_rows=cost_rows,
        usage_rows=usage_rows,
        days=tuple(sorted(cost_days | usage_days)),
        billed_usd=Decimal(billed).quantize(Decimal("0.000001")),
        quarantined=len(quarantine["reason"]),
    )


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
