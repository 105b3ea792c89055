"""LiteLLM as telemetry: the rules both LiteLLM inputs share, and its logging payload file.

LiteLLM reaches costline two ways: the proxy's `"LiteLLM_SpendLogs"` table
(`sources/litellm_spend_logs.py`, mapped in Postgres SQL) and the per-call logging payload
(`StandardLoggingPayload`) that LiteLLM's bucket loggers write as JSON lines, dropped as
`telemetry/<day>/*.litellm.jsonl` (mapped here in DuckDB SQL over the whole file, then checked
by the telemetry rules like any flat JSONL record). One mapping for both:

- the model is the one LiteLLM called (`model`, a `provider/model` route prefix removed), never
  the proxy's alias (`model_group`); a failed call without one is `(unknown)`;
- `custom_llm_provider` is named as costline names providers (`PROVIDERS`);
- `call_type` gives the operation: completions are `chat`, embeddings `embeddings`;
- LiteLLM's cost (`response_cost`, the spend log's `spend`) is the caller cost; 0 means LiteLLM
  had no price, so costline prices the call from its tokens instead;
- a response served from LiteLLM's own cache (`cache_hit` true) reached no provider: it is a
  call with its tokens and a caller cost of exactly 0 (LiteLLM logs it under an id of its own,
  `<id>_cache_hit<time>`);
- workspace and feature: the first non-empty of an ordered list of LiteLLM attributes,
  `COSTLINE_LITELLM_WORKSPACE_FROM` (default `team_alias,team_id`) and
  `COSTLINE_LITELLM_FEATURE_FROM` (default `tag,key_alias`); none present: `(untagged)`, so no
  dollar is dropped for a missing tag;
- input tokens are LiteLLM's `prompt_tokens` (cache reads and writes included), output tokens
  its `completion_tokens` (reasoning included); cache and reasoning counts come from its usage
  object; `status` `failure` is an error call, its error class the error type;
- times are cut to milliseconds and call_id / request_id are LiteLLM's request id, as the
  proxy stores them, so a call that arrives both as a payload and as a spend-log row is the
  same record and counts once (a duplicate, not a conflict). Not a cache hit: LiteLLM suffixes
  its id with `time.time()` once for the payload and again for the spend-log row, so logged
  both ways it counts twice, at $0 both times.

Prompt and response text in the payload never leave the mapping.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ingestion.fields import TELEMETRY_FIELDS
from ingestion.readers import EXTRACTED, READ_LINES_SQL, extract_sql, python_lines_table, scan_bytes

# LiteLLM's provider names -> costline's (the names genai-prices resolves).
PROVIDERS = {"azure": "azure.ai.openai", "bedrock": "aws.bedrock", "vertex_ai": "gcp.vertex_ai", "gemini": "google"}
CHAT_CALL_TYPES = ("completion", "acompletion", "text_completion", "atext_completion", "anthropic_messages")
EMBEDDING_CALL_TYPES = ("embedding", "aembedding")

WORKSPACE_FROM_ENV = "COSTLINE_LITELLM_WORKSPACE_FROM"
FEATURE_FROM_ENV = "COSTLINE_LITELLM_FEATURE_FROM"
WORKSPACE_FROM_DEFAULT = ("team_alias", "team_id")
FEATURE_FROM_DEFAULT = ("tag", "key_alias")
# The LiteLLM attributes workspace and feature may come from.
ATTRIBUTES = ("team_alias", "team_id", "key_alias", "tag", "user_id")
UNTAGGED = "(untagged)"


def attribute_order(env: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The ordered attribute list of a `*_FROM` setting; a name costline does not know is an error."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in ATTRIBUTES]
    if unknown or not names:
        raise ValueError(f"{env}={raw!r}: use a comma-separated list of {', '.join(ATTRIBUTES)}")
    return names


def attribution_sql(exprs: dict[str, str]) -> tuple[str, str]:
    """SQL for workspace and feature given one SQL text expression per attribute (both dialects)."""

    def pick(order: tuple[str, ...]) -> str:
        return "coalesce(" + ", ".join(f"nullif({exprs[n]}, '')" for n in order) + f", '{UNTAGGED}')"

    return (
        pick(attribute_order(WORKSPACE_FROM_ENV, WORKSPACE_FROM_DEFAULT)),
        pick(attribute_order(FEATURE_FROM_ENV, FEATURE_FROM_DEFAULT)),
    )


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def provider_sql(provider: str) -> str:
    whens = " ".join(f"when '{k}' then '{v}'" for k, v in PROVIDERS.items())
    return f"case {provider} {whens} else nullif({provider}, '') end"


def model_sql(model: str, provider: str, failed: str) -> str:
    """The model LiteLLM called, its `provider/` route prefix removed; `(unknown)` for a failure without one."""
    return (
        f"coalesce(case when {provider} <> '' and starts_with({model}, {provider} || '/') "
        f"then substr({model}, length({provider}) + 2) else nullif({model}, '') end, "
        f"case when {failed} then '(unknown)' end)"
    )


def operation_sql(call_type: str) -> str:
    return (
        f"case when {call_type} in ({_sql_list(CHAT_CALL_TYPES)}) then 'chat' "
        f"when {call_type} in ({_sql_list(EMBEDDING_CALL_TYPES)}) then 'embeddings' "
        f"else nullif({call_type}, '') end"
    )


# --- The payload file (DuckDB) ---------------------------------------------------------------

LINES = "_cl_litellm_lines"


def _text(path: str) -> str:
    return f"(j ->> '$.{path}')"


def _count(path: str) -> str:
    """A non-negative integer of the payload, NULL when absent or not an integer."""
    v = f"json_extract(j, '$.{path}')"
    return f"(case when json_type({v}) in ('UBIGINT', 'BIGINT') then try_cast({v}::varchar as bigint) end)"


def _usage(path: str) -> str:
    """A usage count from LiteLLM's usage object (metadata first, then hidden_params)."""
    return f"coalesce({_count('metadata.usage_object.' + path)}, {_count('hidden_params.usage_object.' + path)})"


def _epoch(path: str) -> str:
    v = f"json_extract(j, '$.{path}')"
    return f"(case when json_type({v}) in ('DOUBLE', 'UBIGINT', 'BIGINT') then try_cast({v}::varchar as double) end)"


def payload_sql(lines: str = LINES) -> str:
    """Each payload line of `lines` (source_line, sub_seq, line, pre_reason) as a flat costline
    record; a line that is not a JSON object passes unchanged, so the checks name it."""
    failed = f"{_text('status')} = 'failure'"
    provider = f"coalesce({_text('custom_llm_provider')}, '')"
    workspace, feature = attribution_sql(
        {
            "team_alias": f"coalesce(nullif({_text('metadata.user_api_key_team_alias')}, ''), {_text('metadata.team_alias')})",
            "team_id": f"coalesce(nullif({_text('metadata.user_api_key_team_id')}, ''), {_text('metadata.team_id')})",
            "key_alias": _text("metadata.user_api_key_alias"),
            "tag": "(case when json_type(j, '$.request_tags') = 'ARRAY' then j ->> '$.request_tags[0]' end)",
            "user_id": _text("metadata.user_api_key_user_id"),
        }
    )
    cache_hit = "coalesce(try_cast(json_extract(j, '$.cache_hit') as boolean), false)"
    start, end = _epoch("startTime"), _epoch("endTime")
    start_us = f"round({start} * 1000)::bigint * 1000"
    cost = f"try_cast({_text('response_cost')} as double)"
    record = f"""json_object(
        'call_id', {_text("id")},
        'request_id', {_text("id")},
        'started_at', case when {start} between 0 and 32503680000
                           then to_json(strftime(make_timestamp({start_us}), '%Y-%m-%dT%H:%M:%S.%fZ'))
                           else json_extract(j, '$.startTime') end,
        'duration_ms', case when {end} >= {start} then floor(round(({end} - {start}) * 1000000) / 1000) end,
        'provider', {provider_sql(provider)},
        'model', {model_sql(f"coalesce({_text('model')}, '')", provider, failed)},
        'operation', {operation_sql(_text("call_type"))},
        'input_tokens', json_extract(j, '$.prompt_tokens'),
        'output_tokens', json_extract(j, '$.completion_tokens'),
        'cache_read_input_tokens', coalesce({_usage("cache_read_input_tokens")},
                                            {_usage("prompt_tokens_details.cached_tokens")}, 0),
        'cache_creation_input_tokens', coalesce({_usage("cache_creation_input_tokens")},
                                                {_usage("prompt_tokens_details.cache_creation_tokens")}, 0),
        'reasoning_output_tokens', coalesce({_usage("completion_tokens_details.reasoning_tokens")}, 0),
        'status', case when {failed} then 'error' else 'ok' end,
        'error_type', case when {failed} then coalesce(nullif({_text("error_information.error_class")}, ''),
                                                       nullif({_text("error_information.error_code")}, '')) end,
        'workspace', {workspace},
        'feature', {feature},
        'cost_usd', case when {cache_hit} then '0'
                         when {cost} > 0 then coalesce(try_cast({cost} as decimal(18, 9))::varchar,
                                                       {_text("response_cost")}) end
    )::varchar"""
    return f"""
    with src as (
        select source_line, sub_seq, line, pre_reason,
               case when json_valid(line) and json_type(line) = 'OBJECT' then line::json end as j
        from {lines}
    )
    select source_line, sub_seq, case when j is not null then {record} else line end as line, pre_reason
    from src"""


def extract_payload_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Pass 1 for a `.litellm.jsonl` file: its lines (DuckDB's line reader, or the careful
    Python reader when that cannot number them exactly), mapped in one query into EXTRACTED."""
    scan = scan_bytes(path)
    fast = scan.bare_cr == 0 and scan.ctrl_a == 0 and not any(c in path.name for c in "*?[{")
    if fast:
        try:
            con.execute(f"create or replace temp table {LINES} as {READ_LINES_SQL}", {"path": str(path)})
            rows = con.execute(f"select count(*) from {LINES}").fetchone()[0]
            rejects = con.execute("select count(*) from _cl_rejects").fetchone()[0]
            fast = rows == scan.lines and rejects == 0
        except (duckdb.IOException, duckdb.InvalidInputException):
            fast = False
        finally:
            # The rejects table holds raw line text: never keep it around.
            con.execute("drop table if exists _cl_rejects")
            con.execute("drop table if exists _cl_reject_scans")
    try:
        if not fast:
            con.register("_cl_litellm_arrow", python_lines_table(path))
            try:
                con.execute(f"create or replace temp table {LINES} as select * from _cl_litellm_arrow")
            finally:
                con.unregister("_cl_litellm_arrow")
        con.execute(f"create or replace temp table {EXTRACTED} as {extract_sql(TELEMETRY_FIELDS, payload_sql())}")
    finally:
        con.execute(f"drop table if exists {LINES}")
