"""Effective-dated list prices for every model seen in telemetry, written to `raw.model_prices`.

Source: the data snapshot bundled with (or auto-updated by) the `genai-prices` package, matched
with that package's own provider and model lookup, so provider aliases resolve as it resolves
them (`azure.ai.openai` -> openai, `aws.bedrock` -> aws, `gcp.vertex_ai` -> google, dated
snapshots such as `gpt-4o-2024-08-06` -> gpt-4o, and its fallbacks such as Azure -> OpenAI).

What one row means (dbt prices calls from these rows in `int_calls_priced.sql`, the only
place the estimated-cost rule is written; `tests/test_pricing_rule.py` holds it against
genai-prices' own `calc_price`):

- One row per (provider, model) as telemetry names them and per period [effective_from,
  effective_to) in UTC; the open ends are 1970-01-01 and 9999-12-31. A price change in the data
  (a `StartDateConstraint`) starts at 00:00 UTC of its date, as genai-prices applies it.
- Prices are dollars per million tokens, exact Decimals copied from the data (rounded to the
  column's 9 decimals; only a few float artefacts in the data such as 0.18000000000000002 change).
- `input_tokens` and `output_tokens` in telemetry are totals. Cache reads and writes are part of
  input, reasoning part of output. A NULL `cache_read_mtok`, `cache_write_mtok` or
  `reasoning_mtok` means those tokens are billed at the plain input (or output) price, which is
  what genai-prices does when a model has no separate price for them (e.g. OpenAI has no
  cache-write price, and almost no model prices reasoning apart from output).
- Long context: genai-prices' `TieredPrices` are cliffs on the request's total input tokens
  (cache included): when a call's `input_tokens > long_context_threshold`, every component of
  that call (input, cache reads and writes, output) is priced at its `*_long` price, not only
  the tokens above the threshold (Anthropic's and Google's >200k pricing). When a threshold is
  set every `*_long` column holds that component's full price, equal to the base price for
  components that are not tiered, so the SQL never needs to fall back. A model with several
  tiers (a handful of OpenRouter models) keeps only its first tier; a note says so. Reasoning
  tokens of a long-context call are billed at `output_mtok_long`.

Service tiers: genai-prices lists some tiers' own per-model rates as request-context variants
(`price_variants`, e.g. `service_tier=flex|priority|fast` for OpenAI, `processing=batch` for
OpenAI, Anthropic, Google, `speed=fast` for Anthropic), each in force from its own start date.
Each becomes rows of the same shape with `service_tier` set to costline's tier name
(`TIER_OF_VARIANT`: `batch`, `flex`, `priority`, `fast`, ...), holding the whole price the tier
pays as genai-prices resolves it (`ModelInfo.get_prices` with that price context: the variant's
components over the standard ones), and only for the periods where the variant is in force.
The standard rows have `service_tier = 'standard'`. A tier with no row for a call's date is
priced by dbt as the standard price times the seed `service_tier_multipliers`. `OpenAI
service_tier=default` is the standard tier and gets no rows; variants keyed on anything else
(OpenRouter routes, search types) are not tiers and are left out with a note.

Not representable in these columns, so the base price is used and a note is returned:
time-of-day prices (`TimeOfDateConstraint`, e.g. DeepSeek off-peak; we take the price in force
outside every time window), one-hour cache writes (`cache_write_1h_mtok`; the five-minute
`cache_write_mtok` is used), per-request fees, web searches and other non-token units.

A model genai-prices does not know gets no row: the SQL prices its calls at zero and a check
flags them. `refresh_model_prices` returns those pairs in `PriceRefresh.unpriced`.

User overrides: when the caller passes `overrides_csv` (the orchestration passes
`$COSTLINE_INPUT_DIR/prices.csv` when it exists) its rows win over genai-prices for those
models. Columns: `provider,model,effective_from,input_mtok,output_mtok,cache_read_mtok,
cache_write_mtok` (the two cache columns optional, empty = billed at the input price;
`effective_from` a date or an ISO timestamp in UTC, empty = 1970-01-01). Provider and model are
compared case-insensitively with telemetry's names, exactly (no alias matching, so a
fine-tuned or self-hosted model can be priced). Each override row is in force from its
`effective_from` until the next override row of the same model; before the first one, the
genai-prices rows (if the model is known there) still apply. Rows that break these rules are not
applied: they go to `raw.quarantine` (input `prices`) with their line and reason.

Replace semantics: every call recomputes the whole table (delete + insert in one transaction),
so a newer price-data version reprices history on the next dbt rebuild. `price_data_version`
(package version plus a short hash of the snapshot) is stored on every row; rows from the
override file carry `prices.csv sha256:<hash of the file>` instead.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path

import duckdb
from genai_prices import __version__ as GENAI_PRICES_VERSION
from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, StartDateConstraint, TieredPrices, TimeOfDateConstraint

from ingestion.ledger import transaction
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad

log = logging.getLogger("costline.ingestion")

OPEN_START = datetime(1970, 1, 1)
OPEN_END = datetime(9999, 12, 31)
QUARANTINE_INPUT = "prices"
OVERRIDE_COLUMNS = (
    "provider",
    "model",
    "effective_from",
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
)
REQUIRED_OVERRIDE_COLUMNS = OVERRIDE_COLUMNS[:5]

# raw.model_prices stores DECIMAL(18, 9); DuckDB rounds half away from zero when casting.
_RATE_QUANTUM = Decimal("0.000000001")
_PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok")
_IGNORED_TOKEN_KEYS = ("cache_write_1h_mtok",)
STANDARD_TIER = "standard"
# genai-prices price-context key and value -> costline's service tier (telemetry's
# `service_tier` after dbt's seed service_tier_names). `service_tier=default` is standard.
TIER_OF_VARIANT = {
    ("service_tier", "flex"): "flex",
    ("service_tier", "priority"): "priority",
    ("service_tier", "fast"): "fast",
    ("service_tier", "ultrafast"): "ultrafast",
    ("processing", "batch"): "batch",
    ("speed", "fast"): "fast",
}


@dataclass(frozen=True)
class PriceRefresh:
    models_seen: int
    models_priced: int
    unpriced: tuple[tuple[str, str], ...]
    price_data_version: str
    overridden: tuple[tuple[str, str], ...] = ()
    quarantined: int = 0
    # Approximations made for seen models, e.g. "openai/gpt-4o: request variants (...) not represented".
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelPricePeriod:
    """One `raw.model_prices` row: the prices of one telemetry (provider, model) in one period."""

    provider: str
    model: str
    price_model_id: str
    effective_from: datetime
    effective_to: datetime
    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    reasoning_mtok: Decimal | None = None
    long_context_threshold: int | None = None
    input_mtok_long: Decimal | None = None
    output_mtok_long: Decimal | None = None
    cache_read_mtok_long: Decimal | None = None
    cache_write_mtok_long: Decimal | None = None
    price_data_version: str = ""
    service_tier: str = STANDARD_TIER


# --- genai-prices -----------------------------------------------------------------------------

_version_cache: tuple[object, str] | None = None


def price_data_version() -> str:
    """`genai-prices <version>+<hash>`: the package version and a short hash of its price data.

    The hash covers the snapshot in use (bundled or auto-updated), so new data under the same
    package version still changes the version and reprices history.
    """
    global _version_cache
    snapshot = data_snapshot.get_snapshot()
    if _version_cache is None or _version_cache[0] is not snapshot:
        digest = hashlib.sha256(repr(snapshot.providers).encode()).hexdigest()[:12]
        _version_cache = (snapshot, f"genai-prices {GENAI_PRICES_VERSION}+{digest}")
    return _version_cache[1]


def _genai_periods(provider: str, model: str) -> tuple[tuple[ModelPricePeriod, ...], tuple[str, ...]]:
    snapshot = data_snapshot.get_snapshot()
    try:
        price_provider, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        return (), ()
    version = price_data_version()
    price_model_id = f"{price_provider.id}/{info.id}"
    notes: list[str] = []
    rows: list[ModelPricePeriod] = []
    label = f"{provider}/{model}"
    for start, end, model_price in _dated_prices(info, label, notes):
        columns = _price_columns(model_price, label, notes)
        if columns is None:
            notes.append(f"{label}: {price_model_id} has no token prices; left unpriced")
            return (), tuple(dict.fromkeys(notes))
        row = ModelPricePeriod(
            provider=provider,
            model=model,
            price_model_id=price_model_id,
            effective_from=start,
            effective_to=end,
            price_data_version=version,
            **columns,
        )
        if rows and _same_prices(rows[-1], row):
            rows[-1] = dataclasses.replace(rows[-1], effective_to=end)
        else:
            rows.append(row)
    rows.extend(_tier_periods(info, rows, label, notes))
    return tuple(rows), tuple(dict.fromkeys(notes))


def _tier_periods(
    info: ModelInfo, standard: list[ModelPricePeriod], label: str, notes: list[str]
) -> list[ModelPricePeriod]:
    """Rows of each service tier genai-prices lists a rate for, in the periods it is in force."""
    tiers: dict[str, dict[str, str]] = {}
    for variant in info.price_variants or ():
        key = tuple(variant.when.items())
        tier = TIER_OF_VARIANT.get(key[0]) if len(key) == 1 else None
        if tier is None:
            if key != (("service_tier", "default"),):
                notes.append(f"{label}: request variant {dict(variant.when)} is not a service tier; not represented")
            continue
        if isinstance(variant.constraint, TimeOfDateConstraint):
            notes.append(f"{label}: time-of-day {tier} prices not represented")
            continue
        tiers.setdefault(tier, dict(variant.when))
    if not tiers:
        return []
    # A variant comes into force at 00:00 UTC of its start date, like any dated price.
    variant_starts = {
        v.constraint.start_date for v in info.price_variants or () if isinstance(v.constraint, StartDateConstraint)
    }
    bounds = sorted(
        {p.effective_from for p in standard}
        | {p.effective_to for p in standard}
        | {datetime.combine(d, time()) for d in variant_starts if d > OPEN_START.date()}
    )
    prices = info.prices
    if isinstance(prices, list):  # time-of-day prices are left out, as for the standard rows
        dated = [c for c in prices if not isinstance(c.constraint, TimeOfDateConstraint)]
        prices = dated or [dataclasses.replace(prices[0], constraint=None)]
    timeless = dataclasses.replace(info, prices=prices)
    rows: list[ModelPricePeriod] = []
    for tier, context in sorted(tiers.items()):
        for start, end in pairwise(bounds):
            at = start.replace(tzinfo=UTC)
            resolved = timeless.get_prices(at, context)
            if resolved == timeless.get_prices(at):
                continue  # the variant is not in force here (or changes nothing): the multiplier applies
            base = next((p for p in standard if p.effective_from <= start < p.effective_to), None)
            columns = _price_columns(resolved, f"{label} ({tier})", notes)
            if base is None or columns is None:
                continue
            row = dataclasses.replace(
                base, effective_from=start, effective_to=end, service_tier=tier, **_blank_long(columns)
            )
            if (
                rows
                and rows[-1].service_tier == tier
                and rows[-1].effective_to == start
                and _same_prices(rows[-1], row)
            ):
                rows[-1] = dataclasses.replace(rows[-1], effective_to=end)
            else:
                rows.append(row)
    return rows


def _blank_long(columns: dict) -> dict:
    """Every price column, the long-context ones None when the tier's price has no tiers."""
    keys = (
        "long_context_threshold",
        "input_mtok_long",
        "output_mtok_long",
        "cache_read_mtok_long",
        "cache_write_mtok_long",
    )
    return {key: None for key in keys} | columns


def _dated_prices(info: ModelInfo, label: str, notes: list[str]) -> list[tuple[datetime, datetime, ModelPrice]]:
    """Split a model's prices into periods at each start date, using genai-prices' own selection."""
    if isinstance(info.prices, ModelPrice):
        return [(OPEN_START, OPEN_END, info.prices)]
    dated = [c for c in info.prices if not isinstance(c.constraint, TimeOfDateConstraint)]
    if len(dated) < len(info.prices):
        notes.append(f"{label}: time-of-day prices not represented; the price outside those hours is used")
    if not dated:
        dated = [dataclasses.replace(info.prices[0], constraint=None)]
    # get_prices without a price context ignores variants; without time-of-day entries it is a
    # pure function of the UTC date, so evaluating it at each boundary gives every period.
    by_date = dataclasses.replace(info, prices=dated, price_variants=None)
    starts = sorted({c.constraint.start_date for c in dated if isinstance(c.constraint, StartDateConstraint)})
    bounds = [OPEN_START, *(datetime.combine(d, time()) for d in starts if d > OPEN_START.date()), OPEN_END]
    return [(start, end, by_date.get_prices(start.replace(tzinfo=UTC))) for start, end in pairwise(bounds)]


def _price_columns(model_price: ModelPrice, label: str, notes: list[str]) -> dict | None:
    values = {key: getattr(model_price, key, None) for key in _PRICE_KEYS}
    if values["input_mtok"] is None and values["output_mtok"] is None:
        return None
    if any(getattr(model_price, key, None) is not None for key in _IGNORED_TOKEN_KEYS):
        notes.append(f"{label}: one-hour cache writes not represented; the five-minute cache-write price is used")
    tiered = {key: v for key, v in values.items() if isinstance(v, TieredPrices)}
    thresholds = sorted({v.tiers[0].start for v in tiered.values() if v.tiers})
    if any(len(v.tiers) > 1 for v in tiered.values()) or len(thresholds) > 1:
        notes.append(f"{label}: several price tiers; only the first, above {thresholds[0]} input tokens, is kept")

    def base(key: str) -> Decimal | None:
        value = values[key]
        return _rate(value.base if isinstance(value, TieredPrices) else value)

    def long(key: str) -> Decimal | None:
        value = values[key]
        if isinstance(value, TieredPrices) and value.tiers:
            return _rate(value.tiers[0].price)
        return base(key)

    # A model priced only for output (or input) bills the other side at zero, as genai-prices does.
    columns = dict(
        input_mtok=base("input_mtok") or Decimal(0),
        output_mtok=base("output_mtok") or Decimal(0),
        cache_read_mtok=base("cache_read_mtok"),
        cache_write_mtok=base("cache_write_mtok"),
        reasoning_mtok=base("output_reasoning_mtok"),
    )
    if thresholds:
        columns.update(
            long_context_threshold=thresholds[0],
            input_mtok_long=long("input_mtok") or Decimal(0),
            output_mtok_long=long("output_mtok") or Decimal(0),
            cache_read_mtok_long=long("cache_read_mtok"),
            cache_write_mtok_long=long("cache_write_mtok"),
        )
    return columns


def _rate(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    # Through str, never float: the data holds Decimals and must stay exact.
    return Decimal(str(value)).quantize(_RATE_QUANTUM, rounding=ROUND_HALF_UP)


def _same_prices(a: ModelPricePeriod, b: ModelPricePeriod) -> bool:
    skip = {"effective_from", "effective_to"}
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(a) if f.name not in skip)


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


# --- user overrides ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Override:
    provider: str
    model: str
    effective_from: datetime
    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None
    cache_write_mtok: Decimal | None
    line: int


@dataclass(frozen=True)
class _Problem:
    line: int | None
    key: str | None
    reason: str


def _read_overrides(path: Path) -> tuple[list[_Override], list[_Problem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [_Problem(None, None, f"cannot read the price override file: {exc}")]
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_OVERRIDE_COLUMNS if c not in header]
    if missing:
        return [], [_Problem(1, None, f"header lacks {', '.join(missing)}; expected {','.join(OVERRIDE_COLUMNS)}")]
    reader.fieldnames = header
    overrides: list[_Override] = []
    problems: list[_Problem] = []
    seen: dict[tuple[str, str, datetime], int] = {}
    for record in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in record.items() if k is not None}
        if not any(values.values()):
            continue
        key = f"{values.get('provider', '')}/{values.get('model', '')}"
        try:
            override = _parse_override(values, line)
        except ValueError as exc:
            problems.append(_Problem(line, key, str(exc)))
            continue
        ident = (override.provider, override.model, override.effective_from)
        if ident in seen:
            problems.append(
                _Problem(
                    line,
                    key,
                    f"duplicate of line {seen[ident]} (same provider, model and "
                    f"effective_from); line {seen[ident]} is used",
                )
            )
            continue
        seen[ident] = line
        overrides.append(override)
    return overrides, problems


def _parse_override(values: dict[str, str], line: int) -> _Override:
    provider, model = values.get("provider", ""), values.get("model", "")
    if not provider or not model:
        raise ValueError("provider and model are required")
    raw_from = values.get("effective_from", "")
    try:
        effective_from = _naive_utc(datetime.fromisoformat(raw_from)) if raw_from else OPEN_START
    except ValueError:
        raise ValueError(f"effective_from {raw_from!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None

    def rate(column: str, required: bool) -> Decimal | None:
        raw = values.get(column, "")
        if not raw:
            if required:
                raise ValueError(f"{column} is required")
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{column} {raw!r} is not a decimal number (dollars per million tokens)") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"{column} {raw!r} must be a finite number >= 0")
        if value >= Decimal(10) ** 9:
            raise ValueError(f"{column} {raw!r} is too large for dollars per million tokens")
        return _rate(value)

    return _Override(
        provider=provider.lower(),
        model=model.lower(),
        effective_from=effective_from,
        input_mtok=rate("input_mtok", True),
        output_mtok=rate("output_mtok", True),
        cache_read_mtok=rate("cache_read_mtok", False),
        cache_write_mtok=rate("cache_write_mtok", False),
        line=line,
    )


def _apply_overrides(
    provider: str, model: str, genai: tuple[ModelPricePeriod, ...], overrides: list[_Override], version: str
) -> tuple[ModelPricePeriod, ...]:
    mine = sorted(
        (o for o in overrides if (o.provider, o.model) == (provider.lower(), model.lower())),
        key=lambda o: o.effective_from,
    )
    if not mine:
        return genai
    first = mine[0].effective_from
    before = [
        dataclasses.replace(p, effective_to=min(p.effective_to, first)) for p in genai if p.effective_from < first
    ]
    ends = [o.effective_from for o in mine[1:]] + [OPEN_END]
    after = [
        ModelPricePeriod(
            provider=provider,
            model=model,
            price_model_id="prices.csv",
            effective_from=o.effective_from,
            effective_to=end,
            input_mtok=o.input_mtok,
            output_mtok=o.output_mtok,
            cache_read_mtok=o.cache_read_mtok,
            cache_write_mtok=o.cache_write_mtok,
            price_data_version=version,
        )
        for o, end in zip(mine, ends, strict=True)
    ]
    return tuple(before + after)


# --- refresh ----------------------------------------------------------------------------------

_INSERT_PRICE = f"""
    insert into raw.model_prices values (?, ?, ?, ?, ?,
        {", ".join(["cast(? as decimal(18, 9))"] * 5)}, ?,
        {", ".join(["cast(? as decimal(18, 9))"] * 4)}, ?, ?, ?)
"""


def refresh_model_prices(
    con: duckdb.DuckDBPyConnection, overrides_csv: Path | None = None, load_id: str | None = None
) -> PriceRefresh:
    """Rewrite `raw.model_prices` for every (provider, model) in `raw.telemetry_calls`.

    `overrides_csv`: a user price file whose rows win (see the module docstring); None = none.
    `load_id` tags quarantine rows for bad override lines (default `model_prices`).
    """
    version = price_data_version()
    seen = [
        (p, m)
        for p, m in con.execute(
            "select distinct provider, model from raw.telemetry_calls order by provider, model"
        ).fetchall()
    ]
    overrides, problems = _read_overrides(Path(overrides_csv)) if overrides_csv is not None else ([], [])
    override_version = ""
    if overrides_csv is not None and Path(overrides_csv).is_file():
        override_version = f"prices.csv sha256:{hashlib.sha256(Path(overrides_csv).read_bytes()).hexdigest()[:12]}"

    rows: list[ModelPricePeriod] = []
    unpriced: list[tuple[str, str]] = []
    overridden: list[tuple[str, str]] = []
    notes: list[str] = []
    for provider, model in seen:
        genai, model_notes = _genai_periods(provider, model)
        periods = _apply_overrides(provider, model, genai, overrides, override_version)
        if periods is not genai:
            overridden.append((provider, model))
        else:
            notes.extend(model_notes)
        if periods:
            rows.extend(periods)
        else:
            unpriced.append((provider, model))

    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    load_id = load_id or "model_prices"
    with transaction(con):
        con.execute("delete from raw.model_prices")
        con.execute("delete from raw.quarantine where input = ?", [QUARANTINE_INPUT])
        if rows:
            con.executemany(_INSERT_PRICE, [_row_values(r, loaded_at) for r in rows])
        if problems:
            con.executemany(
                "insert into raw.quarantine values (?, null, ?, ?, ?, ?, ?, ?)",
                [(QUARANTINE_INPUT, str(overrides_csv), p.line, p.key, p.reason, load_id, loaded_at) for p in problems],
            )
    return PriceRefresh(
        models_seen=len(seen),
        models_priced=len(seen) - len(unpriced),
        unpriced=tuple(unpriced),
        price_data_version=version,
        overridden=tuple(overridden),
        quarantined=len(problems),
        notes=tuple(dict.fromkeys(notes)),
    )


def _row_values(row: ModelPricePeriod, loaded_at: datetime) -> tuple:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return (
        row.provider,
        row.model,
        row.price_model_id,
        row.effective_from,
        row.effective_to,
        text(row.input_mtok),
        text(row.output_mtok),
        text(row.cache_read_mtok),
        text(row.cache_write_mtok),
        text(row.reasoning_mtok),
        row.long_context_threshold,
        text(row.input_mtok_long),
        text(row.output_mtok_long),
        text(row.cache_read_mtok_long),
        text(row.cache_write_mtok_long),
        row.price_data_version,
        loaded_at,
        row.service_tier,
    )


class ModelPrices(Source):
    name = "model_prices"
    kind = "prices"
    tables = ("model_prices",)
    # Prices are looked up for every (provider, model) telemetry has seen.
    after = ("telemetry_files",)
    description = "Effective-dated list prices (genai-prices data) for every model seen in telemetry."

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        overrides = paths.input_dir / "prices.csv"
        refresh = refresh_model_prices(con, overrides if overrides.exists() else None, load_id=load_id)
        unpriced = ", ".join(f"{p}/{m}" for p, m in refresh.unpriced)
        if refresh.unpriced:
            log.warning("no price for %s: priced at zero until prices.csv or genai-prices knows them", unpriced)
        return SourceLoad(
            rows=refresh.models_priced,
            quarantined=refresh.quarantined,
            metadata={
                "models_seen": refresh.models_seen,
                "models_priced": refresh.models_priced,
                "unpriced": unpriced or "none",
                "price_data_version": refresh.price_data_version,
            },
        )
