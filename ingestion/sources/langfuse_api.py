"""Langfuse generations and scores from its public API, daily, as telemetry and outcomes.

With `COSTLINE_LANGFUSE_PUBLIC_KEY` and `COSTLINE_LANGFUSE_SECRET_KEY` set (host
`COSTLINE_LANGFUSE_HOST`, default Langfuse Cloud EU), every run fetches, per UTC day of its
window: the generations (and embeddings) that started that day from the cursor-paged
`/api/public/v2/observations`, or on older self-hosted servers (v2 answers 404) from the
page-based `/api/public/observations` joined with `/api/public/traces` for tags and trace
names; and the day's scores from `/api/public/v3/scores` (else `/api/public/v2/scores`).
`ingestion/langfuse/client.py` names the definitions and parameters followed.

Each page is landed as fetched under `<warehouse>/landing/langfuse/<day>/pages/` before it
is parsed (legacy observation pages without `input` / `output`: prompt text never lands);
DuckDB SQL (`ingestion/langfuse/mapping.py`) turns them into one JSONL page of flat calls
(`calls/generations.jsonl`) and one of flat outcomes (`scores/scores.jsonl`), which go
through exactly the checks, dedup, quarantine and ledger of dropped files. Mapping:

- call_id = observation id, request_id = traceId, started_at = startTime, duration from
  endTime; the model is the observation's (a `provider/model` route prefix removed);
  provider from metadata `provider` / `ls_provider`, modelParameters, the route prefix, else
  guessed from the model name, else `(unknown)` (counted, unpriced);
- tokens normalised to costline's meaning (input includes cache reads and writes, output
  includes reasoning; see mapping.py); level ERROR is an error call (error_type = the first
  line of statusMessage, cut to 80 characters);
- cost_usd = costDetails.total, else totalCost / calculatedTotalCost; 0 or missing is no
  price, so costline prices the call;
- workspace / feature from `COSTLINE_LANGFUSE_WORKSPACE_FROM` / `_FEATURE_FROM` (defaults
  `tag:workspace,metadata:workspace,project` and `trace_name,tag:feature`), `(untagged)` when
  none; prompt name/version -> prompt_version `name@version`; environment as sent
  (Langfuse's `default` means unset); userId is a person, not a segment, and is not loaded;
- scores: BOOLEAN and thumbs-like CATEGORICAL -> thumbs up/down, resolved/unresolved ->
  resolution, NUMERIC -> eval (outside 0..1 quarantined by the outcome checks), TEXT /
  CORRECTION / other categories -> quarantined as an unknown kind; source `langfuse:<name>`.

A day is replaced only when all its pages were fetched. A host that cannot be reached, a
refused key, or a 5xx outlasting the retries does not fail the run: the WARN check
`langfuse_fetched` says why in one line (never a key) and the next run fetches the day again.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb

from ingestion.billing.errors import BillingError
from ingestion.billing.http import HttpSettings
from ingestion.day_folders import WindowLoad, load_day_folder
from ingestion.json_sql import sql_str
from ingestion.langfuse.client import DEFAULT_HOST, HOST_ENV, PUBLIC_KEY_ENV, SECRET_KEY_ENV, LangfuseClient
from ingestion.langfuse.mapping import (
    DEFAULT_FEATURE_FROM,
    DEFAULT_WORKSPACE_FROM,
    FEATURE_FROM_ENV,
    WORKSPACE_FROM_ENV,
    calls_sql,
    outcomes_sql,
)
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad
from ingestion.sources.outcome_files import landed_outcomes_loader
from ingestion.sources.telemetry_files import landed_calls_loader

log = logging.getLogger("costline.ingestion")

LANDING = "langfuse"
CALLS_FILE = "generations.jsonl"
SCORES_FILE = "scores.jsonl"
LANGFUSE_FETCHED = "langfuse_fetched"

LANGFUSE_LOADER = landed_calls_loader("langfuse", LANDING, CALLS_FILE)
LANGFUSE_SCORES_LOADER = landed_outcomes_loader("langfuse_scores", LANDING, SCORES_FILE)


def _read_text(files: list[Path]) -> str:
    if not files:
        return "(select null::varchar as filename, null::varchar as content where false)"
    quoted = ", ".join(sql_str(str(f)) for f in files)
    return f"read_text([{quoted}])"


def _copy_jsonl(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """The query's rows as JSON lines at `target`, never half-written (temp file, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = target.parent / f".{target.name}.tmp"
    path = str(temp).replace("'", "''")
    con.execute(f"copy ({query}) to '{path}' (format json)")
    os.chmod(temp, 0o600)
    os.replace(temp, target)


def map_day(con: duckdb.DuckDBPyConnection, folder: Path, workspace_from: str, feature_from: str) -> None:
    """The landed pages of `folder/pages` -> `calls/generations.jsonl` and `scores/scores.jsonl`."""
    pages = folder / "pages"
    observations = sorted(pages.glob("observations-*.json"))
    query = (
        calls_sql(workspace_from, feature_from)
        .replace("read_text($observations)", _read_text(observations))
        .replace("read_text($traces)", _read_text(sorted(pages.glob("traces-*.json"))))
        .replace("read_text($project)", _read_text(sorted(pages.glob("project.json"))))
    )
    _copy_jsonl(con, query, folder / "calls" / CALLS_FILE)
    scores = outcomes_sql().replace("read_text($scores)", _read_text(sorted(pages.glob("scores-*.json"))))
    _copy_jsonl(con, scores, folder / "scores" / SCORES_FILE)


def _replace_dir(new: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    new.rename(target)


class LangfuseApi(Source):
    name = "langfuse_api"
    kind = "telemetry"
    tables = ("telemetry_calls", "outcomes")
    # Telemetry files load first: a call both sent as a file and traced in Langfuse counts once.
    after = ("telemetry_files",)
    settings_env = (PUBLIC_KEY_ENV, SECRET_KEY_ENV, HOST_ENV, WORKSPACE_FROM_ENV, FEATURE_FROM_ENV)
    warning_check = LANGFUSE_FETCHED
    asset_kinds = ("langfuse",)
    description = (
        f"Langfuse generations and scores of the run's days from the public API of {HOST_ENV} "
        f"(skipped without {PUBLIC_KEY_ENV} / {SECRET_KEY_ENV}), checked and deduplicated like telemetry "
        f"and outcome files."
    )

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        public = os.environ.get(PUBLIC_KEY_ENV, "").strip()
        secret = os.environ.get(SECRET_KEY_ENV, "").strip()
        if not public or not secret:
            return SourceLoad(rows=0, metadata={"source": "skipped"})
        host = os.environ.get(HOST_ENV, "").strip() or DEFAULT_HOST
        workspace_from = os.environ.get(WORKSPACE_FROM_ENV, "").strip() or DEFAULT_WORKSPACE_FROM
        feature_from = os.environ.get(FEATURE_FROM_ENV, "").strip() or DEFAULT_FEATURE_FROM
        calls, scores = WindowLoad(), WindowLoad()
        api = ""
        try:
            calls_sql(workspace_from, feature_from)  # a bad setting stops before any request
            with LangfuseClient(host, public, secret, HttpSettings.from_env()) as client:
                for day in days:
                    folder = paths.landing_dir / LANDING / day.isoformat()
                    incoming = folder / ".incoming"
                    if incoming.exists():
                        shutil.rmtree(incoming)
                    incoming.mkdir(parents=True, mode=0o700)
                    pages = client.fetch_day(day, incoming)
                    api = f"observations {client.observations_api}, scores {client.scores_api}"
                    _replace_dir(incoming, folder / "pages")  # the day is complete: it replaces the last
                    map_day(con, folder, workspace_from, feature_from)
                    loaded = load_day_folder(con, LANGFUSE_LOADER, paths.warehouse_dir, folder / "calls", day, load_id)
                    calls.add(loaded)
                    outcomes = load_day_folder(
                        con, LANGFUSE_SCORES_LOADER, paths.warehouse_dir, folder / "scores", day, load_id
                    )
                    scores.add(outcomes)
                    log.info(
                        "langfuse %s (%s): %d pages, %d generations (%d accepted, %d quarantined, %d duplicates), "
                        "%d scores (%d accepted, %d quarantined)",
                        day,
                        api,
                        sum(pages.values()),
                        loaded.records_read,
                        loaded.accepted,
                        loaded.quarantined,
                        loaded.duplicates,
                        outcomes.records_read,
                        outcomes.accepted,
                        outcomes.quarantined,
                    )
        except BillingError as exc:
            problem = " ".join(_scrub(str(exc), public, secret).split())[:300]
        else:
            return SourceLoad(
                rows=calls.accepted,
                quarantined=calls.quarantined + scores.quarantined,
                metadata={"source": "api", "api": api, **calls.metadata(), "scores_accepted": scores.accepted},
            )
        log.warning("langfuse not loaded: %s", problem)
        return SourceLoad(
            rows=calls.accepted,
            quarantined=calls.quarantined + scores.quarantined,
            metadata={"source": "failed", **calls.metadata(), "scores_accepted": scores.accepted},
            warnings=(f"langfuse: {problem}; the next run fetches these days again",),
        )


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
