"""The clouds' FOCUS cost exports as a source: Bedrock, Vertex AI and Azure OpenAI spend.

Each run looks at every delivery folder under `billing/focus/` (not only the run's window: a
cloud re-delivers a month days or weeks later, and a backfill must see the latest delivery of
its months). Folders loaded before and unchanged are skipped by the ledger, so a daily run
reads only the day's new delivery. The rows are the billed truth for the cloud providers, as
the provider APIs' pages are for OpenAI and Anthropic (see `ingestion/focus/load.py`).
"""

from __future__ import annotations

import logging
from datetime import date

import duckdb

from ingestion.focus.load import FEATURE_TAGS_ENV, INPUT, WORKSPACE_TAGS_ENV, load_focus_folder
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad

log = logging.getLogger("costline.billing")

FOCUS_LOADED = "focus_exports_readable"


class FocusExports(Source):
    name = "focus_exports"
    kind = "billing"
    tables = ("focus_costs",)
    asset_kinds = ("csv", "parquet")
    warning_check = FOCUS_LOADED
    settings_env = (WORKSPACE_TAGS_ENV, FEATURE_TAGS_ENV)
    description = (
        "Cloud-billed model spend (AWS Bedrock, Google Vertex AI, Azure OpenAI) from FOCUS 1.0-1.3 cost "
        "exports dropped under billing/focus/<day>/ (CSV, CSV.gz or Parquet); the latest delivery of a "
        "billing period replaces the earlier ones."
    )

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        root = paths.billing_dir / "focus"
        if not root.is_dir():
            return SourceLoad(rows=0, metadata={"source": "skipped"})
        warnings: list[str] = []
        loaded = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                warnings.append(
                    f"billing/focus/{folder.name}: not a YYYY-MM-DD delivery folder; its files are not read"
                )
                continue
            result = load_focus_folder(con, paths.input_dir, folder, day, load_id)
            if result is not None:
                loaded.append(result)
        rows = sum(f.accepted for r in loaded for f in r.files)
        quarantined = sum(f.quarantined for r in loaded for f in r.files)
        for r in loaded:
            accepted = sum(f.accepted for f in r.files)
            log.info(
                "focus %s: %d files, %d export rows, %d model-service rows loaded, %d quarantined, billed %s",
                r.day,
                len(r.files),
                r.export_rows,
                accepted,
                sum(f.quarantined for f in r.files),
                ", ".join(f"{amount} {currency}" for currency, amount in r.billed.items()) or "nothing",
            )
            if r.unreadable_tags:
                warnings.append(
                    f"billing/focus/{r.day}: {r.unreadable_tags} rows have Tags that are not a JSON object; "
                    "their spend is loaded without workspace or feature tags"
                )
        if quarantined:
            warnings.append(f"FOCUS exports: {quarantined} rows quarantined (see raw.quarantine, input '{INPUT}')")
        return SourceLoad(
            rows=rows,
            quarantined=quarantined,
            metadata={"source": "files" if loaded else "unchanged", "deliveries": len(loaded), "rows": rows},
            warnings=tuple(warnings),
        )
