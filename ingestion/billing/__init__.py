"""Provider billing: OpenAI and Anthropic admin APIs, or their saved pages, into raw.billing_*.

`load_billing` is the entry point; it raises only `BillingError` subclasses, whose messages
never contain the key.
"""

from ingestion.billing.errors import (
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPaginationError,
    BillingRequestError,
    BillingResponseError,
    BillingRetryError,
)
from ingestion.billing.http import HttpSettings
from ingestion.billing.load import BillingLoad, load_billing
from ingestion.billing.pages import PROVIDERS

__all__ = [
    "BillingAuthError",
    "BillingConfigError",
    "BillingError",
    "BillingLoad",
    "BillingPaginationError",
    "BillingRequestError",
    "BillingResponseError",
    "BillingRetryError",
    "HttpSettings",
    "PROVIDERS",
    "load_billing",
]
