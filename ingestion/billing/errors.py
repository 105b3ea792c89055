"""Billing failures, each with a one-line message that says what to do.

Messages never contain the API key, request headers or full request URLs: they are shown in
Dagster, CI logs and tickets. Raise them with `from None` when the cause could carry a request.
"""


class BillingError(Exception):
    """Base of every billing failure; catch this to treat billing as optional."""


class BillingConfigError(BillingError):
    """The call itself is wrong: unknown provider, empty window, bad base URL."""


class BillingAuthError(BillingError):
    """The provider refused the key (401/403). Retrying cannot help."""


class BillingRequestError(BillingError):
    """The provider rejected the request (a 4xx other than auth and rate limits)."""


class BillingNotFoundError(BillingRequestError):
    """HTTP 404: the server has no such endpoint (an older API version, or a wrong base URL)."""


class BillingRetryError(BillingError):
    """Transient failures (429, 5xx, timeouts, truncated bodies) outlasted the retry budget."""


class BillingResponseError(BillingError):
    """A 200 response that is not a page of the documented shape."""


class BillingPaginationError(BillingError):
    """The page chain misbehaves: a cursor repeats, has_more without a cursor, too many pages."""
