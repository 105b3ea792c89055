"""Reference inputs: deploy markers, monthly budgets, the provider workspace map, exchange rates.

Each load fully replaces raw.deployments, raw.budgets, raw.workspaces and raw.fx_rates (a
missing file means an empty table), their quarantine rows and their ledger rows, in one
transaction. The files are a few hundred rows at most, so they are parsed in Python; bad rows
go to raw.quarantine with input 'deployments' / 'budgets' / 'workspaces' / 'fx_rates', the
file, the line and a reason.

Ledger rows (raw.source_files) have no folder and no event days: reference data is not
partitioned by day, and the marts that use it are rebuilt whole on every run.
"""

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from ingestion.json_sql import MAX_ECHO
from ingestion.ledger import FileLoad, transaction, utc_now, write_ledger_rows
from ingestion.readers import NOT_JSON
from ingestion.rules.record_checks import EARLIEST_EVENT
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad

log = logging.getLogger("costline.ingestion")

RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}
MAX_BUDGET = Decimal(10) ** 12
INVALID_UTF8 = "invalid_utf8: row is not valid UTF-8 text; save the file as UTF-8"


@dataclass(frozen=True)
class ReferenceLoad:
    """Rows loaded from the reference files (each fully replaced on every load)."""

    deployments: int
    budgets: int
    workspaces: int
    quarantined: int
    fx_rates: int = 0


class BadRow(ValueError):
    """A row that breaks a rule; the message is the quarantine reason."""


def echo(value: str) -> str:
    return value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "..."


def parse_rfc3339(name: str, text: str) -> datetime:
    """RFC 3339 with an offset to naive UTC, by the same rules as the telemetry SQL."""
    m = RFC3339.match(text)
    parsed = None
    if m and m.group(2) < "24":
        # Microseconds are the warehouse precision: longer fractions are truncated.
        fraction = (m.group(3) or "")[:7].ljust(7, "0") if m.group(3) else ""
        try:
            local = datetime.fromisoformat(f"{m.group(1)} {m.group(2)}{fraction}")
            if m.group(4) in ("Z", "z"):
                parsed = local
            elif int(m.group(6)) <= 23 and int(m.group(7)) <= 59:
                sign = -1 if m.group(5) == "-" else 1
                parsed = local - sign * timedelta(hours=int(m.group(6)), minutes=int(m.group(7)))
        except ValueError:
            parsed = None
    if parsed is None:
        raise BadRow(
            f"invalid_timestamp: {name} must be an RFC 3339 time with a UTC offset "
            f'(e.g. 2026-10-01T12:00:00Z or +02:00), got "{echo(text)}"'
        )
    if parsed < datetime.fromisoformat(EARLIEST_EVENT):
        raise BadRow(f'invalid_timestamp: {name} "{echo(text)}" is before {EARLIEST_EVENT}')
    return parsed


def required(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None or not str(value).strip():
        raise BadRow(f"missing_field: {name} is required and was {'absent' if value is None else 'empty'}")
    if not isinstance(value, str):
        raise BadRow(f"invalid_field: {name} must be a string, got {type(value).__name__}")
    return value.strip()


def optional(row: dict, name: str) -> str | None:
    value = row.get(name)
    if value is None or not str(value).strip():
        return None
    if not isinstance(value, str):
        raise BadRow(f"invalid_field: {name} must be a string, got {type(value).__name__}")
    return value.strip()


def parse_budget(text: str) -> Decimal:
    problem = "must be a non-negative dollar amount with at most 6 decimals, below 10^12"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadRow(f'invalid_number: monthly_budget_usd {problem}, got "{echo(text)}"') from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_BUDGET:
        raise BadRow(f'invalid_number: monthly_budget_usd {problem}, got "{echo(text)}"')
    if amount != amount.quantize(Decimal("0.000001")):
        # Rounding a budget would change money silently: refuse it instead.
        raise BadRow(f'invalid_number: monthly_budget_usd {problem}, got "{echo(text)}"')
    return amount.quantize(Decimal("0.000001"))


# --------------------------------------------------------------------------------------------
# Reading rows
# --------------------------------------------------------------------------------------------


@dataclass
class Rows:
    """Rows read from one file: (line, dict) to check, and rows already refused."""

    source_file: str
    file_format: str
    file_bytes: int
    rows: list[tuple[int, dict]] = field(default_factory=list)
    refused: list[tuple[int | None, str | None, str]] = field(default_factory=list)


def read_csv_rows(path: Path, source_file: str, columns: tuple[str, ...]) -> Rows:
    data = path.read_bytes()
    out = Rows(source_file, "csv", len(data))
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    previous_end = 0
    for cells in reader:
        line, previous_end = previous_end + 1, reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue  # blank lines are not records
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in columns if c not in header]
            if missing:
                found = ", ".join(echo(h) for h in header)
                out.refused.append(
                    (
                        line,
                        None,
                        f"missing_column: {path.name} needs the columns "
                        f"{', '.join(columns)}; missing {', '.join(missing)} "
                        f"(header: {found})",
                    )
                )
                return out
            continue
        if any(_has_surrogates(c) for c in cells):
            out.refused.append((line, None, INVALID_UTF8))
            continue
        out.rows.append((line, {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(header)}))
    return out


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_jsonl_rows(path: Path, source_file: str) -> Rows:
    data = path.read_bytes()
    out = Rows(source_file, "jsonl", len(data))
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.refused.append((number, None, INVALID_UTF8))
            continue
        except ValueError:
            out.refused.append((number, None, NOT_JSON))
            continue
        if not isinstance(obj, dict):
            out.refused.append(
                (number, None, "malformed_json: line is JSON but not an object; write one JSON object per record")
            )
            continue
        out.rows.append((number, obj))
    return out


# --------------------------------------------------------------------------------------------
# Checking rows
# --------------------------------------------------------------------------------------------


@dataclass
class Checked:
    """Accepted rows ready to insert (each ending with its source line) and refused rows."""

    accepted: list[tuple] = field(default_factory=list)
    ledger: list[tuple[FileLoad, int]] = field(default_factory=list)
    quarantine: list[tuple[str, int | None, str | None, str]] = field(default_factory=list)


def check(
    files: list[Rows],
    check_row: Callable[[dict], tuple],
    key: Callable[[tuple], tuple],
    key_text: Callable[[dict], str | None],
    duplicate: str,
) -> Checked:
    """Apply `check_row` to every row; a later row with an already seen key is refused."""
    out = Checked()
    seen: dict[tuple, tuple[str, int]] = {}
    for f in files:
        accepted = 0
        quarantine = [(f.source_file, line, k, reason) for line, k, reason in f.refused]
        for line, row in f.rows:
            try:
                values = check_row(row)
                first = seen.get(key(values))
                if first is not None:
                    raise BadRow(
                        f"{duplicate}: the same key was already given in {first[0]} line {first[1]}; keep one row"
                    )
            except BadRow as exc:
                quarantine.append((f.source_file, line, key_text(row), str(exc)))
                continue
            seen[key(values)] = (f.source_file, line)
            out.accepted.append((*values, f.source_file, line))
            accepted += 1
        out.quarantine.extend(quarantine)
        records = len(f.rows) + len(f.refused)
        out.ledger.append(
            (FileLoad(f.source_file, f.file_format, records, accepted, records - accepted, 0, None, None), f.file_bytes)
        )
    return out


def deployment_row(row: dict) -> tuple:
    deployed_at = parse_rfc3339("deployed_at", required(row, "deployed_at"))
    return (deployed_at, required(row, "scope"), required(row, "version"), optional(row, "description"))


def budget_row(row: dict) -> tuple:
    workspace = required(row, "workspace")
    month = required(row, "month")
    if month != "*" and not MONTH.match(month):
        raise BadRow(f'invalid_month: month must be YYYY-MM or *, got "{echo(month)}"')
    amount = parse_budget(required(row, "monthly_budget_usd"))
    flag = (row.get("hard_limit") or "").strip().lower()
    if flag not in BOOLEANS:
        raise BadRow(f'invalid_boolean: hard_limit must be true/false, 1/0, yes/no or empty, got "{echo(flag)}"')
    return (workspace, month, amount, BOOLEANS[flag])


def workspace_row(row: dict) -> tuple:
    return (required(row, "provider"), required(row, "project_id"), required(row, "workspace"))


CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def fx_rate_row(row: dict) -> tuple:
    """`currency,date,usd_per_unit`: one unit of `currency` is worth `usd_per_unit` dollars from
    `date` on (until the currency's next row)."""
    currency = required(row, "currency")
    if not CURRENCY.match(currency):
        raise BadRow(f'invalid_currency: currency must be an ISO 4217 code such as EUR, got "{echo(currency)}"')
    text = required(row, "date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadRow(f'invalid_date: date must be YYYY-MM-DD, got "{echo(text)}"') from None
    rate_text = required(row, "usd_per_unit")
    try:
        rate = Decimal(rate_text)
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0 or rate >= MAX_BUDGET:
        raise BadRow(f'invalid_rate: usd_per_unit must be a positive decimal number, got "{echo(rate_text)}"')
    return (currency.upper(), day, rate.quantize(Decimal("1e-12")))


def _text(row: dict, *names: str) -> str | None:
    parts = [str(row.get(n)).strip() for n in names if isinstance(row.get(n), str) and row.get(n).strip()]
    return echo(":".join(parts))[:200] if parts else None


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

DEPLOYMENT_COLUMNS = ("deployed_at", "scope", "version", "description")
BUDGET_COLUMNS = ("workspace", "month", "monthly_budget_usd", "hard_limit")
WORKSPACE_COLUMNS = ("provider", "project_id", "workspace")
FX_RATE_COLUMNS = ("currency", "date", "usd_per_unit")


def _relative(path: Path, paths: Paths) -> str:
    return path.relative_to(paths.input_dir).as_posix()


def deployment_files(paths: Paths) -> Iterator[Rows]:
    csv_path = paths.input_dir / "deployments.csv"
    # The description column is optional in practice; the other three are required.
    if csv_path.is_file():
        yield read_csv_rows(csv_path, _relative(csv_path, paths), DEPLOYMENT_COLUMNS[:3])
    folder = paths.input_dir / "deployments"
    if folder.is_dir():
        for path in sorted(folder.glob("*.jsonl"), key=lambda p: p.name):
            if path.is_file() and not path.name.startswith((".", "_")):
                yield read_jsonl_rows(path, _relative(path, paths))


def single_csv(paths: Paths, name: str, columns: tuple[str, ...]) -> list[Rows]:
    path = paths.input_dir / name
    return [read_csv_rows(path, _relative(path, paths), columns)] if path.is_file() else []


def load_reference_inputs(con: duckdb.DuckDBPyConnection, paths: Paths, load_id: str) -> ReferenceLoad:
    """Replace deployments, budgets and the workspace map with what the input dir holds now."""
    loaded_at = utc_now()
    deployments = check(
        list(deployment_files(paths)),
        deployment_row,
        key=lambda v: (v[0], v[1], v[2]),
        key_text=lambda r: _text(r, "scope", "version"),
        duplicate="duplicate_deployment",
    )
    budgets = check(
        single_csv(paths, "budgets.csv", BUDGET_COLUMNS),
        budget_row,
        key=lambda v: (v[0], v[1]),
        key_text=lambda r: _text(r, "workspace", "month"),
        duplicate="duplicate_budget",
    )
    workspaces = check(
        single_csv(paths, "workspaces.csv", WORKSPACE_COLUMNS),
        workspace_row,
        key=lambda v: (v[0], v[1]),
        key_text=lambda r: _text(r, "provider", "project_id"),
        duplicate="duplicate_mapping",
    )
    fx_rates = check(
        single_csv(paths, "fx_rates.csv", FX_RATE_COLUMNS),
        fx_rate_row,
        key=lambda v: (v[0], v[1]),
        key_text=lambda r: _text(r, "currency", "date"),
        duplicate="duplicate_rate",
    )
    inputs = {"deployments": deployments, "budgets": budgets, "workspaces": workspaces, "fx_rates": fx_rates}

    with transaction(con):
        for name in inputs:
            con.execute(f"delete from raw.{name}")
        names = list(inputs)
        con.execute("delete from raw.quarantine where list_contains($names, input)", {"names": names})
        con.execute("delete from raw.source_files where list_contains($names, input)", {"names": names})
        if deployments.accepted:
            con.executemany("insert into raw.deployments values (?, ?, ?, ?, ?, ?)", deployments.accepted)
        if budgets.accepted:
            # raw.budgets has no source_file column: the file is always budgets.csv.
            con.executemany(
                "insert into raw.budgets values (?, ?, ?, ?, ?)", [(*v[:4], v[5]) for v in budgets.accepted]
            )
        if workspaces.accepted:
            con.executemany(
                "insert into raw.workspaces values (?, ?, ?, ?)", [(*v[:3], v[4]) for v in workspaces.accepted]
            )
        if fx_rates.accepted:
            con.executemany("insert into raw.fx_rates values (?, ?, ?, ?)", [(*v[:3], v[4]) for v in fx_rates.accepted])
        for name, checked in inputs.items():
            if checked.quarantine:
                con.executemany(
                    "insert into raw.quarantine values (?, null, ?, ?, ?, ?, ?, ?)",
                    [(name, f, line, k, reason, load_id, loaded_at) for f, line, k, reason in checked.quarantine],
                )
            write_ledger_rows(con, name, None, checked.ledger, load_id, loaded_at)
    for checked in inputs.values():
        for fl, _ in checked.ledger:
            log.debug(
                "%s: %d records, %d accepted / %d quarantined",
                fl.source_file,
                fl.records_read,
                fl.accepted,
                fl.quarantined,
            )
    return ReferenceLoad(
        deployments=len(deployments.accepted),
        budgets=len(budgets.accepted),
        workspaces=len(workspaces.accepted),
        fx_rates=len(fx_rates.accepted),
        quarantined=sum(len(c.quarantine) for c in inputs.values()),
    )


class ReferenceFiles(Source):
    name = "reference_files"
    kind = "reference"
    tables = ("deployments", "budgets", "workspaces", "fx_rates")
    asset_kinds = ("csv",)
    description = "deployments, budgets.csv, workspaces.csv and fx_rates.csv, replaced whole each run."

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        loaded = load_reference_inputs(con, paths, load_id)
        log.info(
            "reference inputs: %d deployments, %d budgets, %d workspace mappings, %d exchange rates, %d quarantined",
            loaded.deployments,
            loaded.budgets,
            loaded.workspaces,
            loaded.fx_rates,
            loaded.quarantined,
        )
        return SourceLoad(
            rows=loaded.deployments + loaded.budgets + loaded.workspaces,
            quarantined=loaded.quarantined,
            metadata={
                "deployments": loaded.deployments,
                "budgets": loaded.budgets,
                "workspaces": loaded.workspaces,
                "fx_rates": loaded.fx_rates,
                "quarantined": loaded.quarantined,
            },
        )
