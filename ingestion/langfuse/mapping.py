"""Landed Langfuse pages -> flat costline telemetry and outcome records, in DuckDB SQL.

Every element of a page's `data` list becomes exactly one record (a broken one is then
quarantined by the telemetry or outcome checks, never dropped here).

Tokens. Langfuse's `usageDetails.input` / `output` EXCLUDE their breakdowns: the server turns
OpenAI's `prompt_tokens_details` / `completion_tokens_details` into `input_<key>` /
`output_<key>` and subtracts each from `input` / `output`
(packages/shared/src/server/ingestion/types.ts, OpenAICompletionUsageSchema), and Anthropic
integrations send `cache_read_input_tokens` / `cache_creation_input_tokens` (or
`input_cache_read` / `input_cache_creation`) beside an `input` without them. Costline's
input_tokens include cache reads and writes and output_tokens include reasoning, so:
input_tokens = input + every `input_*` key + `cache_read_input_tokens` +
`cache_creation_input_tokens`; output_tokens = output + every `output_*` key. A usage without
`input` (raw OpenAI `prompt_tokens` / `completion_tokens`, which already include the details,
or the deprecated `usage` {input, output}) is taken as it is.
"""

from __future__ import annotations

from ingestion.billing.errors import BillingConfigError
from ingestion.json_sql import json_path, sql_str
from ingestion.litellm_payloads import PROVIDERS as ROUTE_PROVIDERS
from ingestion.model_providers import provider_of_model_sql

WORKSPACE_FROM_ENV = "COSTLINE_LANGFUSE_WORKSPACE_FROM"
FEATURE_FROM_ENV = "COSTLINE_LANGFUSE_FEATURE_FROM"
DEFAULT_WORKSPACE_FROM = "tag:workspace,metadata:workspace,project"
DEFAULT_FEATURE_FROM = "trace_name,tag:feature"
ERROR_TYPE_CHARS = 80

# Route prefixes (`openai/gpt-4o`) and LangChain's `ls_provider` -> costline's provider names.
PROVIDER_NAMES = {
    **ROUTE_PROVIDERS,
    "google_genai": "google",
    "google_vertexai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "azure_openai": "azure.ai.openai",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral",
}
# Model name -> provider when nothing names it (checked in this order).
THUMBS_UP = ("up", "thumbs up", "thumbs_up", "thumbsup", "👍", "true", "yes", "positive", "good", "helpful")
THUMBS_DOWN = ("down", "thumbs down", "thumbs_down", "thumbsdown", "👎", "false", "no", "negative", "bad", "unhelpful")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(sql_str(v) for v in values)


def _mapped(expr: str, table: dict[str, str]) -> str:
    whens = " ".join(f"when {sql_str(k)} then {sql_str(v)}" for k, v in table.items())
    return f"(case lower({expr}) {whens} else nullif(lower({expr}), '') end)"


def _source_sql(item: str, env: str) -> str:
    """One item of a WORKSPACE_FROM / FEATURE_FROM list as SQL over the `calls` CTE."""
    kind, _, arg = item.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if kind == "tag" and arg:
        prefix = sql_str(arg + ":")
        return f"nullif(trim(substr(list_filter(tags, lambda t: starts_with(t, {prefix}))[1], {len(arg) + 2})), '')"
    if kind == "metadata" and arg:
        path = json_path(arg)
        return f"nullif(trim(coalesce(json_extract_string(metadata, {path}), json_extract_string(trace_metadata, {path}))), '')"
    simple = {
        "trace_name": "trace_name",
        "name": "nullif(trim(o ->> 'name'), '')",
        "project": "project",
        "environment": "nullif(o ->> 'environment', '')",
        "user": "nullif(coalesce(o ->> 'userId', trace_user), '')",
    }
    if kind in simple and not arg:
        return simple[kind]
    raise BillingConfigError(
        f"{env}: {item!r} is not tag:<prefix>, metadata:<key>, trace_name, name, project, environment or user"
    )


def from_list_sql(spec: str, env: str) -> str:
    items = [i for i in (spec or "").split(",") if i.strip()]
    if not items:
        raise BillingConfigError(f"{env} is empty; unset it for the default or name where the value comes from")
    return f"coalesce({', '.join(_source_sql(i, env) for i in items)}, '(untagged)')"


def _ud(key: str) -> str:
    return f"ud[{sql_str(key)}]"


def _sum_prefix(prefix: str, exclude: str) -> str:
    return (
        f"coalesce(list_sum(list_transform(list_filter(map_entries(ud), lambda e: starts_with(e.key, {sql_str(prefix)}) "
        f"and e.key <> {sql_str(exclude)}), lambda e: coalesce(e.value, 0))), 0)"
    )


def calls_sql(workspace_from: str, feature_from: str) -> str:
    """Flat telemetry records of the observation pages `$observations`, with the legacy trace
    pages `$traces` and the project page `$project` (lists of files; may be empty)."""
    workspace = from_list_sql(workspace_from, WORKSPACE_FROM_ENV)
    feature = from_list_sql(feature_from, FEATURE_FROM_ENV)
    cache_read = (
        f"coalesce({_ud('input_cached_tokens')}, {_ud('input_cache_read')}, {_ud('cache_read_input_tokens')}, 0)"
    )
    cache_write = f"coalesce({_ud('input_cache_creation')}, {_ud('cache_creation_input_tokens')}, 0)"
    reasoning = f"coalesce({_ud('output_reasoning_tokens')}, {_ud('output_reasoning')}, {_ud('reasoning_tokens')}, 0)"
    return f"""
    with pages as (
        select filename, content::json as j from read_text($observations)
    ),
    obs as (
        select filename, unnest(coalesce(json_extract(j, '$.data[*]'), [])) as o from pages
    ),
    traces as (
        select t ->> 'id' as trace_id, nullif(trim(t ->> 'name'), '') as trace_name,
               try_cast(t -> 'tags' as varchar[]) as trace_tags, t -> 'metadata' as trace_metadata,
               t ->> 'userId' as trace_user
        from (select unnest(coalesce(json_extract(content::json, '$.data[*]'), [])) as t from read_text($traces))
        qualify row_number() over (partition by t ->> 'id' order by t ->> 'timestamp') = 1
    ),
    project as (
        select any_value(nullif(trim(json_extract_string(content::json, '$.data[0].name')), '')) as project
        from read_text($project)
    ),
    typed as (
        select o, t.trace_metadata, t.trace_user,
               coalesce(nullif(trim(o ->> 'traceName'), ''), t.trace_name) as trace_name,
               coalesce(try_cast(o -> 'tags' as varchar[]), t.trace_tags, []) as tags,
               case when json_type(o -> 'metadata') = 'OBJECT' then o -> 'metadata'
                    when json_type(o -> 'metadata') = 'VARCHAR' and json_valid(o ->> 'metadata')
                    then (o ->> 'metadata')::json end as metadata,
               coalesce(try_cast(o -> 'usageDetails' as map(varchar, bigint)), map()) as ud,
               try_cast(o -> 'usage' ->> 'input' as bigint) as legacy_in,
               try_cast(o -> 'usage' ->> 'output' as bigint) as legacy_out,
               nullif(trim(coalesce(o ->> 'providedModelName', o ->> 'model')), '') as route,
               coalesce(p.project, nullif(o ->> 'projectId', '')) as project
        from obs
        left join traces t on t.trace_id = obs.o ->> 'traceId'
        cross join project p
    ),
    routed as (
        select *,
               case when regexp_matches(route, '^[A-Za-z0-9_.-]+/.') then split_part(route, '/', 1) end as route_prefix,
               case when regexp_matches(route, '^[A-Za-z0-9_.-]+/.') then substr(route, strpos(route, '/') + 1)
                    else route end as model
        from typed
    ),
    calls as (
        select *,
               case when map_contains(ud, 'input') then
                        coalesce(ud['input'], 0) + {_sum_prefix("input_", "input_tokens")}
                        + coalesce({_ud("cache_read_input_tokens")}, 0) + coalesce({_ud("cache_creation_input_tokens")}, 0)
                    when map_contains(ud, 'prompt_tokens') then ud['prompt_tokens']
                    when map_contains(ud, 'input_tokens') then ud['input_tokens']
                        + coalesce({_ud("cache_read_input_tokens")}, 0) + coalesce({_ud("cache_creation_input_tokens")}, 0)
                    else legacy_in end as input_tokens,
               case when map_contains(ud, 'output') then coalesce(ud['output'], 0) + {_sum_prefix("output_", "output_tokens")}
                    when map_contains(ud, 'completion_tokens') then ud['completion_tokens']
                    when map_contains(ud, 'output_tokens') then ud['output_tokens']
                    else legacy_out end as output_tokens,
               coalesce(try_cast(o -> 'costDetails' ->> 'total' as decimal(38, 12)),
                        try_cast(o ->> 'totalCost' as decimal(38, 12)),
                        try_cast(o ->> 'calculatedTotalCost' as decimal(38, 12))) as cost
        from routed
    )
    select o ->> 'id' as call_id,
           coalesce(o ->> 'traceId', o ->> 'id') as request_id,
           o ->> 'startTime' as started_at,
           case when o ->> 'endTime' is not null then greatest(
               epoch_ms(try_cast(o ->> 'endTime' as timestamptz)) - epoch_ms(try_cast(o ->> 'startTime' as timestamptz)),
               0) end as duration_ms,
           coalesce({_mapped("json_extract_string(metadata, '$.provider')", PROVIDER_NAMES)},
                    {_mapped("json_extract_string(metadata, '$.ls_provider')", PROVIDER_NAMES)},
                    {_mapped("json_extract_string(o, '$.modelParameters.provider')", PROVIDER_NAMES)},
                    {_mapped("route_prefix", PROVIDER_NAMES)},
                    {provider_of_model_sql("model")}, '(unknown)') as provider,
           coalesce(nullif(model, ''), '(unknown)') as model,
           case when o ->> 'type' = 'EMBEDDING' then 'embeddings' else 'chat' end as operation,
           coalesce(input_tokens, 0) as input_tokens,
           coalesce(output_tokens, 0) as output_tokens,
           {cache_read} as cache_read_input_tokens,
           {cache_write} as cache_creation_input_tokens,
           {reasoning} as reasoning_output_tokens,
           case when o ->> 'level' = 'ERROR' then 'error' else 'ok' end as status,
           case when o ->> 'level' = 'ERROR' then left(coalesce(nullif(trim(split_part(o ->> 'statusMessage', chr(10), 1)), ''),
                                                                'error'), {ERROR_TYPE_CHARS}) end as error_type,
           {workspace} as workspace,
           {feature} as feature,
           nullif(nullif(o ->> 'environment', ''), 'default') as environment,
           nullif(trim(json_extract_string(metadata, '$.user_segment')), '') as user_segment,
           case when nullif(o ->> 'promptName', '') is not null
                then (o ->> 'promptName') || coalesce('@' || (o ->> 'promptVersion'), '') end as prompt_version,
           case when cost > 0 then cost::varchar end as cost_usd
    from calls
    order by call_id
    """


def outcomes_sql() -> str:
    """Flat outcome records of the score pages `$scores` (v3 or v2 shapes)."""
    text = "lower(trim(sv))"
    return f"""
    with scores as (
        select filename, unnest(coalesce(json_extract(content::json, '$.data[*]'), [])) as s from read_text($scores)
    ),
    typed as (
        select filename, s, upper(s ->> 'dataType') as dt,
               coalesce(s ->> 'stringValue', case when json_type(s -> 'value') = 'VARCHAR' then s ->> 'value' end) as sv
        from scores
    ),
    kinds as (
        select *,
               case when dt = 'BOOLEAN' then 'thumbs'
                    when dt = 'CATEGORICAL' and {text} in ({_in(THUMBS_UP + THUMBS_DOWN)}) then 'thumbs'
                    when dt = 'CATEGORICAL' and {text} in ('resolved', 'unresolved') then 'resolution'
                    when dt = 'NUMERIC' then 'eval'
                    else lower(coalesce(dt, 'unknown')) end as kind
        from typed
    )
    select coalesce(s ->> 'traceId',
                    case s -> 'subject' ->> 'kind' when 'trace' then s -> 'subject' ->> 'id'
                                                  when 'observation' then s -> 'subject' ->> 'traceId' end) as request_id,
           s ->> 'timestamp' as recorded_at,
           kind,
           case when kind = 'thumbs' and dt = 'BOOLEAN' then
                     case when s ->> 'value' in ('true', '1', '1.0') then to_json('up')
                          when s ->> 'value' in ('false', '0', '0.0') then to_json('down') else s -> 'value' end
                when kind = 'thumbs' then to_json(case when {text} in ({_in(THUMBS_UP)}) then 'up' else 'down' end)
                when kind = 'resolution' then to_json({text})
                when kind = 'eval' then s -> 'value'
                else coalesce(to_json(sv), s -> 'value') end as value,
           'langfuse:' || coalesce(s ->> 'name', '') as source
    from kinds
    order by filename, s ->> 'id'
    """
