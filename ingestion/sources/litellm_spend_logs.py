"""LiteLLM proxy spend logs as telemetry: `"LiteLLM_SpendLogs"` of the proxy's Postgres database.

LiteLLM's proxy writes one row per call into `"LiteLLM_SpendLogs"` (its `schema.prisma`:
request_id, call_type, spend, prompt/completion tokens, startTime/endTime, model, model_group,
custom_llm_provider, team_id, metadata with the key and team aliases and LiteLLM's usage
object, request_tags, status). With `COSTLINE_LITELLM_DATABASE_URL` set, every run reads the
rows that started on the run's days.

Postgres turns each row into one flat costline record (`spend_log_sql`, set-based; the rules are shared with the payload files, `ingestion/litellm_payloads.py`), the page
of a day is landed as `<warehouse>/landing/litellm/<day>/spend_logs.jsonl` before parsing, and
that file goes through exactly the checks, dedup, quarantine and ledger a dropped telemetry
file gets (`telemetry_files.py`). Mapping:

- the model is the one that answered (`model`, a `provider/model` route prefix removed), never
  the proxy's alias (`model_group`); a failed call without one is `(unknown)`;
- `custom_llm_provider` names the provider as costline does (`azure` -> `azure.ai.openai`,
  `bedrock` -> `aws.bedrock`, `vertex_ai` -> `gcp.vertex_ai`, `gemini` -> `google`);
- LiteLLM's `spend` is the caller cost; 0 means LiteLLM had no price, so the call is priced by
  costline instead;
- workspace = the team alias, else the team id; feature = the first request tag, else the key
  alias; neither present: `(untagged)`, so no dollar is dropped for a missing tag;
- `startTime` / `endTime` are UTC wall times stored without a zone: formatted as text on the
  server, they are read as UTC whatever the session's time zone;
- cache and reasoning tokens come from LiteLLM's usage object in `metadata`; `status`
  `failure` is an error call.

A database that cannot be reached does not fail the run: the WARN check `litellm_fetched`
says why and the next run reads the days again. The URL (it holds a password) is never
logged, stored or put in a message.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta

import duckdb

from ingestion.day_folders import WindowLoad, load_day_folder
from ingestion.files import write_atomic
from ingestion.litellm_payloads import (
    FEATURE_FROM_ENV,
    WORKSPACE_FROM_ENV,
    attribution_sql,
    model_sql,
    operation_sql,
    provider_sql,
)
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad
from ingestion.sources.telemetry_files import landed_calls_loader

log = logging.getLogger("costline.ingestion")

DATABASE_URL_ENV = "COSTLINE_LITELLM_DATABASE_URL"
LANDING = "litellm"
PAGE_FILE = "spend_logs.jsonl"
LITELLM_FETCHED = "litellm_fetched"
CONNECT_TIMEOUT_S = 10


def _usage_int(*path: str) -> str:
    """An integer of LiteLLM's usage object in metadata, NULL when absent or not an integer."""
    text = "metadata -> 'usage_object' " + " ".join(f"-> '{p}'" for p in path[:-1]) + f" ->> '{path[-1]}'"
    return f"(case when ({text}) ~ '^[0-9]{{1,18}}$' then ({text})::bigint end)"


_FAILED = "status = 'failure'"


def spend_log_sql() -> str:
    """The query of one day's rows as flat costline records (the shared rules of `litellm_payloads`)."""
    workspace, feature = attribution_sql(
        {
            "team_alias": "(metadata ->> 'user_api_key_team_alias')",
            "team_id": "coalesce(nullif(team_id, ''), metadata ->> 'user_api_key_team_id')",
            "key_alias": "(metadata ->> 'user_api_key_alias')",
            "tag": "(case when jsonb_typeof(request_tags) = 'array' then request_tags ->> 0 end)",
            "user_id": '"user"',
        }
    )
    cache_hit = "(cache_hit = 'True')"
    return f"""
select json_build_object(
    'call_id', request_id,
    'request_id', request_id,
    'started_at', to_char("startTime", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'duration_ms', coalesce(request_duration_ms, extract(epoch from ("endTime" - "startTime")) * 1000),
    'provider', {provider_sql("custom_llm_provider")},
    'model', {model_sql("model", "custom_llm_provider", _FAILED)},
    'operation', {operation_sql("call_type")},
    'input_tokens', prompt_tokens,
    'output_tokens', completion_tokens,
    'cache_read_input_tokens', coalesce({_usage_int("cache_read_input_tokens")},
                                        {_usage_int("prompt_tokens_details", "cached_tokens")}, 0),
    'cache_creation_input_tokens', coalesce({_usage_int("cache_creation_input_tokens")},
                                            {_usage_int("prompt_tokens_details", "cache_creation_tokens")}, 0),
    'reasoning_output_tokens', coalesce({_usage_int("completion_tokens_details", "reasoning_tokens")}, 0),
    'status', case when {_FAILED} then 'error' else 'ok' end,
    'error_type', case when {_FAILED} then coalesce(nullif(metadata -> 'error_information' ->> 'error_class', ''),
                                                    nullif(metadata -> 'error_information' ->> 'error_code', '')) end,
    'workspace', {workspace},
    'feature', {feature},
    'cost_usd', case when {cache_hit} then '0' when spend > 0 then round(spend::numeric, 9)::text end
)::text
from "LiteLLM_SpendLogs"
where "startTime" >= %s and "startTime" < %s
order by "startTime", request_id
"""


LITELLM_LOADER = landed_calls_loader("litellm", LANDING, PAGE_FILE)


class LiteLLMSpendLogs(Source):
    name = "litellm_spend_logs"
    kind = "telemetry"
    tables = ("telemetry_calls",)
    # Telemetry files load first: a call both sent as a file and logged by the proxy counts once.
    after = ("telemetry_files",)
    settings_env = (DATABASE_URL_ENV, WORKSPACE_FROM_ENV, FEATURE_FROM_ENV)
    warning_check = LITELLM_FETCHED
    asset_kinds = ("postgres",)
    description = (
        f'LiteLLM proxy spend logs ("LiteLLM_SpendLogs") of the run\'s days, from the database at '
        f"{DATABASE_URL_ENV} (skipped when unset), checked and deduplicated like telemetry files."
    )

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        url = os.environ.get(DATABASE_URL_ENV, "").strip()
        if not url:
            return SourceLoad(rows=0, metadata={"source": "skipped"})
        window = WindowLoad()
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="costline-litellm") as pg:
                for day in days:
                    rows = pg.execute(spend_log_sql(), [day, day + timedelta(days=1)]).fetchall()
                    folder = paths.landing_dir / LANDING / day.isoformat()
                    write_atomic(folder / PAGE_FILE, "".join(f"{text}\n" for (text,) in rows).encode())
                    loaded = load_day_folder(con, LITELLM_LOADER, paths.warehouse_dir, folder, day, load_id)
                    window.add(loaded)
                    log.info(
                        "litellm %s: %d spend log rows (%d accepted, %d quarantined, %d duplicates)",
                        day,
                        loaded.records_read,
                        loaded.accepted,
                        loaded.quarantined,
                        loaded.duplicates,
                    )
        except ImportError:
            problem = "psycopg is not installed; pip install 'costline[postgres]'"
        except Exception as exc:  # psycopg.Error and friends: the run goes on without these days
            problem = f"{type(exc).__name__}: {_scrub(str(exc).strip().splitlines()[0] if str(exc) else '', url)}"
        else:
            return SourceLoad(
                rows=window.accepted,
                quarantined=window.quarantined,
                metadata={"source": "database", **window.metadata()},
            )
        log.warning("litellm spend logs not loaded: %s", problem)
        return SourceLoad(
            rows=window.accepted,
            quarantined=window.quarantined,
            metadata={"source": "failed", **window.metadata()},
            warnings=(f"litellm: {problem}; the next run reads these days again",),
        )


def _scrub(text: str, url: str) -> str:
    """The URL and its password never leave in a message."""
    from urllib.parse import urlsplit

    secrets = [url]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        secrets.append(password)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:300]
