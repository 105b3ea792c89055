"""A provider's bill as a source: its admin API when the key is set, else its saved pages.

One `BillingApi` per provider in the registry. The provider's API shape (endpoints, auth,
buckets, record parsing) is its module in `ingestion/billing/` (`openai.py`, `anthropic.py`);
fetching, saving, restatements and quarantine are generic (`ingestion/billing/load.py`).
Adding a billing provider = one `Provider` module there + one registry line.

The key is read from its environment variable when the source loads, so it never enters run
config, metadata, logs or the warehouse. A provider that cannot be reached does not fail the
run: the mart is published with estimates for those days, the source's WARN check says why,
and the next run's lookback fetches the days again.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta

import duckdb

from ingestion.billing import BillingError, HttpSettings, load_billing
from ingestion.billing.http import SETTINGS_ENV_PREFIX
from ingestion.billing.provider import Provider
from ingestion.clock import open_day
from ingestion.ledger import write_fetch_row
from ingestion.settings import Paths
from ingestion.sources.base import Source, SourceLoad

log = logging.getLogger("costline.billing")

# Providers restate recent days: every run re-reads this many days before its window.
LOOKBACK_DAYS = 3
BILLING_FETCHED = "billing_fetched"


class BillingApi(Source):
    kind = "billing"
    tables = ("billing_costs", "billing_usage")
    asset_kinds = ("api",)
    warning_check = BILLING_FETCHED

    def __init__(self, provider: Provider, lookback_days: int = LOOKBACK_DAYS):
        self.provider = provider
        self.lookback_days = lookback_days
        self.name = f"{provider.name}_billing"
        self.settings_env = (provider.key_env, provider.base_url_env, f"{SETTINGS_ENV_PREFIX}*")
        self.description = (
            f"{provider.name} cost and usage for the run window plus {lookback_days} days of "
            f"lookback (providers restate recent days), from its admin API when "
            f"{provider.key_env} is set, else saved pages in billing/{provider.name}/."
        )

    def load(self, con: duckdb.DuckDBPyConnection, paths: Paths, days: list[date], load_id: str) -> SourceLoad:
        provider = self.provider.name
        # The day still running is never billed: a provider's bucket for it is incomplete, so
        # today's cost stays the estimate (cost_basis 'estimate') until the day is over. An
        # hourly run still fetches the lookback days, so yesterday's bill lands when published.
        start, end = days[0] - timedelta(days=self.lookback_days), min(days[-1], open_day() - timedelta(days=1))
        try:
            loaded = load_billing(
                con,
                paths,
                provider,
                start,
                end,
                api_key=os.environ.get(self.provider.key_env) or None,
                base_url=os.environ.get(self.provider.base_url_env) or None,
                load_id=load_id,
                http_settings=HttpSettings.from_env(),
            )
        except BillingError as error:
            # Telemetry still gets processed and published with estimates; the next run's
            # lookback re-reads these days once the provider answers again.
            log.warning("%s billing not loaded: %s", provider, error)
            return SourceLoad(rows=0, metadata={"source": "failed"}, warnings=(f"{provider}: {error}",))
        # A ledger row so the dbt step rebuilds every day whose bill this run loaded or restated.
        write_fetch_row(
            con,
            f"billing_{provider}",
            f"billing/{provider}",
            loaded.source,
            loaded.cost_rows + loaded.usage_rows,
            loaded.days,
            load_id,
        )
        if loaded.source != "skipped":  # the loader already said why it skipped
            log.info(
                "%s billing from %s: %d pages, %d cost rows, $%s billed over %d days",
                provider,
                loaded.source,
                loaded.pages,
                loaded.cost_rows,
                loaded.billed_usd,
                len(loaded.days),
            )
        return SourceLoad(
            rows=loaded.cost_rows + loaded.usage_rows,
            quarantined=loaded.quarantined,
            metadata={
                "source": loaded.source,
                "pages": loaded.pages,
                "cost_rows": loaded.cost_rows,
                "usage_rows": loaded.usage_rows,
                "billed_usd": str(loaded.billed_usd),
            },
        )
