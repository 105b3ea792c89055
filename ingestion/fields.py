"""The field registry: every telemetry and outcome field, named once.

A field's contract name, the aliases accepted for it (flat JSONL keys first, then the
OpenTelemetry GenAI names), whether a record without it is quarantined, its warehouse type and
the default a missing value takes. Everything else is derived from these tuples: the raw
table DDL (`warehouse.RAW_TABLES`), the staging temp-table columns, the column lists the
loaders insert, the OTLP attribute map and the SQL checks. `tests/test_fields.py` holds them
against dbt's sources and staging models, so a field added here and nowhere else fails a test
instead of silently vanishing.

To add a field: one `Field(...)` line here, then the dbt source column and the staging model
(the test names what is missing).
"""

from dataclasses import dataclass

# How a JSON value is read and checked (`ingestion/json_sql.py` has one reader per kind).
TEXT, INTEGER, TIMESTAMP, NUMBER, MONEY, TAGS, ANY = ("text", "integer", "timestamp", "number", "money", "tags", "any")

# Keys that carry prompt or completion text. They are never extracted, and never kept as tags.
CONTENT_KEYS = (
    "prompt",
    "completion",
    "messages",
    "input",
    "output",
    "system_prompt",
    "system_instructions",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
)
CONTENT_KEY_PREFIXES = ("gen_ai.prompt", "gen_ai.completion")
# The workspace or feature of a call that names none (priced and counted all the same).
UNTAGGED = "(untagged)"
# The service tier of a call whose telemetry names none. Kept apart from `standard` so that
# dbt can tell "served by the standard tier" from "not reported" (int_calls_priced prices
# both as standard; billing_gap_explained measures the second). dbt var
# `service_tier_unreported_label` holds the same text (tests/test_fields.py).
UNREPORTED_TIER = "(not reported)"
# `costline.tag.<key>` attributes become entries of `tags` (OTel has no map-valued attribute).
TAG_ALIAS_PREFIX = "costline.tag."


@dataclass(frozen=True)
class Field:
    """One record field: its contract name first, then the aliases accepted for it."""

    name: str
    kind: str
    keys: tuple[str, ...]
    required: bool = False
    sql_type: str = "VARCHAR"
    # SQL giving the stored value from the typed one (defaults applied). A field with a
    # default is NOT NULL in the raw table, like a required one.
    stored: str | None = None

    @property
    def not_null(self) -> bool:
        return self.required or self.stored is not None

    @property
    def stored_sql(self) -> str:
        return self.stored or self.name


def _zero(name: str) -> str:
    return f"coalesce({name}, 0)"


TELEMETRY_FIELDS: tuple[Field, ...] = (
    Field("call_id", TEXT, ("call_id", "gen_ai.response.id"), True),
    Field("request_id", TEXT, ("request_id", "costline.request_id"), True),
    # Guarded: an out-of-range attempt is quarantined, but the cast runs on every row.
    Field(
        "attempt",
        INTEGER,
        ("attempt", "costline.attempt"),
        sql_type="INTEGER",
        stored="coalesce(case when attempt between 1 and 2147483647 then attempt end, 1)::integer",
    ),
    Field("started_at", TIMESTAMP, ("started_at",), True, sql_type="TIMESTAMP"),
    Field("duration_ms", NUMBER, ("duration_ms",), sql_type="DOUBLE"),
    Field("provider", TEXT, ("provider", "gen_ai.provider.name", "gen_ai.system"), True),
    Field("model", TEXT, ("model", "gen_ai.response.model", "gen_ai.request.model"), True),
    Field("operation", TEXT, ("operation", "gen_ai.operation.name"), stored="coalesce(operation, 'chat')"),
    Field(
        "input_tokens",
        INTEGER,
        ("input_tokens", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        True,
        sql_type="BIGINT",
    ),
    Field(
        "output_tokens",
        INTEGER,
        ("output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        True,
        sql_type="BIGINT",
    ),
    Field(
        "cache_read_input_tokens",
        INTEGER,
        ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        sql_type="BIGINT",
        stored=_zero("cache_read_input_tokens"),
    ),
    Field(
        "cache_creation_input_tokens",
        INTEGER,
        ("cache_creation_input_tokens", "gen_ai.usage.cache_creation.input_tokens"),
        sql_type="BIGINT",
        stored=_zero("cache_creation_input_tokens"),
    ),
    Field(
        "reasoning_output_tokens",
        INTEGER,
        ("reasoning_output_tokens", "gen_ai.usage.reasoning.output_tokens"),
        sql_type="BIGINT",
        stored=_zero("reasoning_output_tokens"),
    ),
    Field(
        "status",
        TEXT,
        ("status",),
        stored="coalesce(lower(status), case when error_type is not null then 'error' else 'ok' end)",
    ),
    Field("error_type", TEXT, ("error_type", "error.type")),
    Field(
        "service_tier",
        TEXT,
        # The tier that served the call (the response's), else the one the request asked for;
        # dbt's seed service_tier_names says what each provider's values mean.
        ("service_tier", "openai.response.service_tier", "openai.request.service_tier"),
        stored=f"coalesce(lower(service_tier), '{UNREPORTED_TIER}')",
    ),
    # No spend is dropped for a missing tag: an unnamed workspace or feature is `(untagged)`.
    Field("workspace", TEXT, ("workspace", "costline.workspace"), stored=f"coalesce(workspace, '{UNTAGGED}')"),
    Field("feature", TEXT, ("feature", "costline.feature"), stored=f"coalesce(feature, '{UNTAGGED}')"),
    Field(
        "environment",
        TEXT,
        ("environment", "deployment.environment.name", "deployment.environment"),
        stored="coalesce(environment, 'production')",
    ),
    Field("user_segment", TEXT, ("user_segment", "costline.user_segment")),
    Field("prompt_version", TEXT, ("prompt_version", "costline.prompt_version")),
    Field("project_id", TEXT, ("project_id", "costline.project_id")),
    Field("cost_usd", MONEY, ("cost_usd", "gen_ai.usage.cost"), sql_type="DECIMAL(18, 6)"),
    Field("tags", TAGS, ("tags",)),
)
TOKEN_FIELDS = tuple(f.name for f in TELEMETRY_FIELDS if f.name.endswith("_tokens"))

OUTCOME_FIELDS: tuple[Field, ...] = (
    Field("request_id", TEXT, ("request_id", "costline.request_id"), True),
    Field("recorded_at", TIMESTAMP, ("recorded_at",), True, sql_type="TIMESTAMP"),
    Field("kind", TEXT, ("kind",), True),
    Field("value", ANY, ("value",), True),
    Field("source", TEXT, ("source",)),
    # What the outcome was worth, in dollars: optional on a `resolution`; a `revenue` record's
    # amount (its `value`) is stored here too, so dbt reads value from one column.
    Field("value_usd", MONEY, ("value_usd",), sql_type="DECIMAL(18, 6)"),
)
OUTCOME_VALUES = {"thumbs": ("up", "down"), "resolution": ("resolved", "unresolved")}
# Outcome kinds: the first three decide success (1.3); `revenue` only carries value.
OUTCOME_KINDS = ("thumbs", "resolution", "eval", "revenue")


def column_names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


def raw_columns_ddl(fields: tuple[Field, ...]) -> str:
    """The raw table's field columns: `name TYPE [NOT NULL]`, in registry order."""
    return ",\n".join(f"{f.name} {f.sql_type}{' NOT NULL' if f.not_null else ''}" for f in fields)


# Staging temp tables: where a record came from, then its fields, then the checks' verdict.
_STAGE_HEAD = "file_seq INTEGER, source_line BIGINT, sub_seq INTEGER, is_blank BOOLEAN"


def stage_columns(fields: tuple[Field, ...], tail: str) -> str:
    body = ", ".join(f"{f.name} {f.sql_type}" for f in fields)
    return f"{_STAGE_HEAD}, {body}, {tail}"


TELEMETRY_STAGE_COLUMNS = stage_columns(
    TELEMETRY_FIELDS, "reason VARCHAR, record_key VARCHAR, call_key BIGINT, request_key BIGINT"
)
OUTCOME_STAGE_COLUMNS = stage_columns(OUTCOME_FIELDS, "reason VARCHAR, record_key VARCHAR")
