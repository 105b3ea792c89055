"""POSTing one JSON body to a webhook, with retries, and never raising.

Alerts must never block the pipeline, so every outcome (including a malformed URL) comes
back as a `Delivery`. Slack incoming-webhook URLs are secrets (the path is the credential),
so no message built here contains the URL: errors name the exception type or the HTTP status
and the first bytes of the response body, never `str(exception)` (requests puts the URL there).
"""

import logging
from dataclasses import dataclass

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger("costline.alerts")

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
USER_AGENT = "costline-alerts/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """Per POST; tests shrink the waits, nothing else changes."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    max_attempts: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 60.0


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


class _Transient(Exception):
    def __init__(self, reason: str, status_code: int | None = None, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after_s = retry_after_s


def post_json(url: str, body: dict, policy: RetryPolicy = RetryPolicy()) -> Delivery:
    """POST body as JSON; retry 408/425/429/5xx, timeouts and dropped connections with backoff."""
    attempts = 0
    backoff = wait_exponential_jitter(
        initial=policy.backoff_initial_s, max=policy.backoff_max_s, jitter=policy.backoff_initial_s
    )

    def wait(retry_state) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(failure, "retry_after_s", None)
        if hint is not None:
            return min(max(hint, 0.0), policy.max_retry_after_s)
        return backoff(retry_state)

    def attempt(session: requests.Session) -> requests.Response:
        nonlocal attempts
        attempts += 1
        try:
            response = session.post(
                url, json=body, allow_redirects=False, timeout=(policy.connect_timeout_s, policy.read_timeout_s)
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(type(exc).__name__) from None
        if response.status_code in RETRYABLE_STATUS:
            raise _Transient(
                f"HTTP {response.status_code}",
                response.status_code,
                _retry_after_s(response.headers.get("Retry-After")),
            )
        return response

    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT
            # A redirect would carry the body elsewhere; a webhook that moved is a config error.
            session.max_redirects = 0
            for retrying in Retrying(
                retry=retry_if_exception_type(_Transient),
                wait=wait,
                stop=stop_after_attempt(policy.max_attempts),
                reraise=True,
            ):
                with retrying:
                    response = attempt(session)
    except _Transient as failure:
        return Delivery(False, attempts, failure.status_code, f"gave up after {attempts} attempts: {failure.reason}")
    except requests.RequestException as exc:
        # Bad scheme, invalid URL, ...: not worth retrying, and str(exc) would print the URL.
        return Delivery(False, attempts, None, f"request not sent: {type(exc).__name__}")
    if 200 <= response.status_code < 300:
        return Delivery(True, attempts, response.status_code)
    reason = (response.text or "").strip().replace(url, "***")[:200]
    return Delivery(
        False, attempts, response.status_code, f"HTTP {response.status_code}" + (f": {reason}" if reason else "")
    )


def _retry_after_s(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
