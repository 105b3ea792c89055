"""Fetching one UTC day of a Langfuse project: generations, their traces' tags, scores.

Definitions followed (langfuse/langfuse, `fern/apis/server/definition/`, snapshot 6275144):

- `observations.yml` `GET /api/public/v2/observations` (GetObservationsV2Request):
  `type`, `fromStartTime` (inclusive), `toStartTime` (exclusive), `fields`, `limit` (max
  1000), `cursor`; response `{data: ObservationV2[], meta: {cursor}}`, no `meta.cursor` on the
  last page. Field groups asked: core, basic, metadata, model, usage, prompt, trace_context
  (never `io`: prompt text is not fetched).
- `legacy/observations-v1.yml` `GET /api/public/observations` (deprecated, older self-hosted
  servers): `page` (from 1), `limit`, `type`, `fromStartTime`, `toStartTime`; response
  `{data: ObservationsView[], meta: MetaResponse}` with `meta.totalPages`
  (`utils/pagination.yml`). It has no field selection, so `input` / `output` are removed
  from each page before it is landed.
- `trace.yml` `GET /api/public/traces`: `page`, `limit`, `fromTimestamp`, `toTimestamp`,
  `fields` ('core'); `data: TraceWithDetails[]` gives the tags and name the legacy
  observations lack.
- `scores-v3.yml` `GET /api/public/v3/scores`: `limit` (max 100), `cursor`, `fields`
  ('subject'), `fromTimestamp`, `toTimestamp`; `data: ScoreV3[]`, `meta.cursor`. Falls back to
  `scores.yml` `GET /api/public/v2/scores` (`page`, `limit`, `fromTimestamp`, `toTimestamp`,
  `fields`='score'; `meta.totalPages`) when v3 answers 404.
- `projects.yml` `GET /api/public/projects`: the key's project (`data[0].name`).

Auth is HTTP basic, public key as user and secret key as password (`api.yml` auth: basic).
Requests go through `ingestion.billing.http.PageClient`: the same retries, timeouts, refused
redirects and scrubbed messages as the billing APIs. The secret is only in an `ApiKey`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb

from ingestion.billing.errors import (
    BillingNotFoundError,
    BillingPaginationError,
    BillingRequestError,
    BillingResponseError,
)
from ingestion.billing.http import HttpSettings, PageClient
from ingestion.billing.provider import Provider
from ingestion.billing.secret import ApiKey
from ingestion.files import write_atomic

PUBLIC_KEY_ENV = "COSTLINE_LANGFUSE_PUBLIC_KEY"
SECRET_KEY_ENV = "COSTLINE_LANGFUSE_SECRET_KEY"
HOST_ENV = "COSTLINE_LANGFUSE_HOST"
DEFAULT_HOST = "https://cloud.langfuse.com"

V2_OBSERVATIONS = "/api/public/v2/observations"
V1_OBSERVATIONS = "/api/public/observations"
TRACES = "/api/public/traces"
V3_SCORES = "/api/public/v3/scores"
V2_SCORES = "/api/public/v2/scores"
PROJECTS = "/api/public/projects"

V2_FIELDS = "core,basic,metadata,model,usage,prompt,trace_context"
V2_TYPES = ("GENERATION", "EMBEDDING")
V2_LIMIT = 1000
PAGE_LIMIT = 100  # legacy observations, traces, scores (the score APIs refuse more than 100)
# Prompt and completion text of legacy observations: never landed.
STRIP_CONTENT_SQL = """
select to_json(json_merge_patch(j, json_object('data', list_transform(
    coalesce(json_extract(j, '$.data[*]'), []),
    lambda o: json_merge_patch(o, '{"input": null, "output": null}')))))
from (select ?::json as j)"""


def _basic(public_key: str) -> Callable[[str], dict[str, str]]:
    def headers(secret: str) -> dict[str, str]:
        token = base64.b64encode(f"{public_key}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    return headers


def _utc(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


class LangfuseClient:
    """One session against a Langfuse host; remembers which API versions it speaks."""

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        settings: HttpSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        provider = Provider(
            name="langfuse",
            key_env=SECRET_KEY_ENV,
            base_url_env=HOST_ENV,
            default_base_url=DEFAULT_HOST,
            endpoints=(),
            window_params=lambda start, end: [],
            bucket_bounds=lambda bucket: (None, None),
            auth_headers=_basic(public_key),
            key_advice=(
                f"the key pair was refused: check {PUBLIC_KEY_ENV} and {SECRET_KEY_ENV} "
                f"(a project API key pair of the host in {HOST_ENV})"
            ),
        )
        self._http = PageClient(provider, ApiKey(secret_key), host, settings, sleep=sleep)
        self.observations_api: str | None = None  # "v2", or "v1" once v2 answered 404
        self.scores_api: str | None = None  # "v3", or "v2"
        self._project: bytes | None = None
        self._project_fetched = False
        self._strip = duckdb.connect()

    def __enter__(self) -> LangfuseClient:
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()
        self._strip.close()

    # --- one day -------------------------------------------------------------------
    def fetch_day(self, day: date, folder: Path) -> dict[str, int]:
        """Every page of `day` saved into `folder` (exact bytes; legacy pages without content).

        Returns the number of pages per kind. Raises a BillingError subclass on failure.
        """
        window = [("fromStartTime", _utc(day)), ("toStartTime", _utc(day + timedelta(days=1)))]
        pages: dict[str, int] = {}
        if self.observations_api != "v1":
            try:
                for kind in V2_TYPES:
                    params = [("type", kind), *window, ("fields", V2_FIELDS)]
                    pages[kind] = self._cursor_chain(
                        f"observations-v2-{kind}", V2_OBSERVATIONS, params, folder, V2_LIMIT
                    )
                self.observations_api = "v2"
            except BillingNotFoundError:
                if self.observations_api == "v2":
                    raise
                self.observations_api = "v1"
                for stale in folder.glob("observations-v2-*"):
                    stale.unlink()
        if self.observations_api == "v1":
            params = [("type", "GENERATION"), *window]
            pages["GENERATION"] = self._page_chain("observations-v1", V1_OBSERVATIONS, params, folder, strip=True)
            # Traces that started up to a day earlier still own generations of this day.
            trace_window = [
                ("fromTimestamp", _utc(day - timedelta(days=1))),
                ("toTimestamp", _utc(day + timedelta(days=1))),
                ("fields", "core"),
            ]
            pages["traces"] = self._page_chain("traces", TRACES, trace_window, folder)
        score_window = [("fromTimestamp", _utc(day)), ("toTimestamp", _utc(day + timedelta(days=1)))]
        if self.scores_api != "v2":
            try:
                pages["scores"] = self._cursor_chain(
                    "scores-v3", V3_SCORES, [*score_window, ("fields", "subject")], folder, PAGE_LIMIT
                )
                self.scores_api = "v3"
            except BillingNotFoundError:
                if self.scores_api == "v3":
                    raise
                self.scores_api = "v2"
                for stale in folder.glob("scores-v3-*"):
                    stale.unlink()
        if self.scores_api == "v2":
            pages["scores"] = self._page_chain("scores-v2", V2_SCORES, [*score_window, ("fields", "score")], folder)
        project = self._project_page()
        if project is not None:
            write_atomic(folder / "project.json", project)
        return pages

    def _project_page(self) -> bytes | None:
        """The key's project (its name becomes the default workspace); None when not offered."""
        if not self._project_fetched:
            self._project_fetched = True
            saved: list[bytes] = []
            try:
                self._http.get_json("langfuse projects", PROJECTS, [], lambda body: saved.append(body) or "memory")
            except (BillingRequestError, BillingResponseError):
                # Not offered (an older server, an organization key): the workspace falls back to projectId.
                return None
            self._project = saved[-1] if saved else None
        return self._project

    # --- pagination ----------------------------------------------------------------
    def _save(self, folder: Path, name: str, strip: bool) -> Callable[[bytes], str]:
        def save(body: bytes) -> str:
            if strip:
                try:
                    json.loads(body)
                except ValueError:
                    pass  # not JSON: saved as is (no content can be parsed out of it), then retried
                else:
                    body = self._strip.execute(STRIP_CONTENT_SQL, [body.decode()]).fetchone()[0].encode()
            write_atomic(folder / name, body)
            return f"{folder.name}/{name}"

        return save

    def _page(self, what: str, path: str, params: list, folder: Path, name: str, strip: bool = False) -> dict:
        page = self._http.get_json(what, path, params, self._save(folder, name, strip))
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise BillingResponseError(
                f"{what}: a JSON body without a 'data' list (saved as {name}): not a Langfuse list page"
            )
        return page

    def _cursor_chain(self, name: str, path: str, params: list, folder: Path, limit: int) -> int:
        seen: set[str] = set()
        cursor: str | None = None
        for number in range(1, self._http.settings.max_pages + 1):
            page_params = [*params, ("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
            page = self._page(f"langfuse {name} page {number}", path, page_params, folder, f"{name}-{number:04d}.json")
            meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
            cursor = meta.get("cursor")
            if not isinstance(cursor, str) or not cursor:
                return number
            if cursor in seen:
                raise BillingPaginationError(
                    f"langfuse {name} page {number} returned a cursor it already gave; the API is looping, "
                    f"so costline stopped: retry later"
                )
            seen.add(cursor)
        raise BillingPaginationError(f"langfuse {name} still has more after {self._http.settings.max_pages} pages")

    def _page_chain(self, name: str, path: str, params: list, folder: Path, strip: bool = False) -> int:
        for number in range(1, self._http.settings.max_pages + 1):
            page_params = [*params, ("page", str(number)), ("limit", str(PAGE_LIMIT))]
            what = f"langfuse {name} page {number}"
            page = self._page(what, path, page_params, folder, f"{name}-{number:04d}.json", strip)
            meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
            total = meta.get("totalPages")
            if not isinstance(total, int):
                raise BillingResponseError(f"{what}: meta.totalPages is {total!r}, expected an integer")
            if number >= total or not page["data"]:
                return number
        raise BillingPaginationError(f"langfuse {name} still has more after {self._http.settings.max_pages} pages")
