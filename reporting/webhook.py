"""POSTing to a webhook or gateway, with retries, and never raising.

`post` is the one implementation (enforcement's gateway calls use it too): it sends the bytes
it is given, retries timeouts, dropped connections, 408/425/429 and 5xx with backoff (Retry-After
is honoured up to a cap), refuses redirects, and does not retry any other 4xx. `post_json` is
the alerts' wrapper around it.

Alerts must never block the pipeline, so every outcome (including a malformed URL) comes
back as a `Delivery`. Slack incoming-webhook URLs are secrets (the path is the credential),
so no message built here contains the URL or any other secret the caller names: errors name
the exception type or the HTTP status and the first bytes of the response body with every
secret replaced by `***`, never `str(exception)` (requests puts the URL there).
"""

import json
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
    body: object = None  # the response's JSON, when it had one


class _Transient(Exception):
    def __init__(self, reason: str, status_code: int | None = None, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after_s = retry_after_s


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def post_json(url: str, body: dict, policy: RetryPolicy = RetryPolicy()) -> Delivery:
    """POST body as JSON; retry 408/425/429/5xx, timeouts and dropped connections with backoff."""
    try:
        data = json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        # What requests' own json= gave here (one attempt, nothing sent); TypeError used to raise.
        return Delivery(False, 1, None, "request not sent: InvalidJSONError")
    return post(url, data, {"Content-Type": "application/json"}, policy, (url,), USER_AGENT, redirect_unsent=True)


def post(
    url: str,
    data: bytes,
    headers: dict[str, str],
    policy: RetryPolicy,
    secrets: tuple[str, ...],
    user_agent: str,
    excerpt_transient: bool = False,
    redirect_unsent: bool = False,
) -> Delivery:
    """POST data, retried; never raises, and no redirect is followed.

    `excerpt_transient`: retried failures carry the response excerpt too (not only the final
    status). `redirect_unsent`: a 3xx reads "request not sent: TooManyRedirects" (the alerts'
    text) rather than "HTTP 3xx: ..." with its status code.
    """
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
                url,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=(policy.connect_timeout_s, policy.read_timeout_s),
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(type(exc).__name__) from None
        if response.status_code in RETRYABLE_STATUS:
            raise _Transient(
                f"HTTP {response.status_code}" + (_excerpt(response, secrets) if excerpt_transient else ""),
                response.status_code,
                _retry_after_s(response.headers.get("Retry-After")),
            )
        return response

    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = user_agent
            # A redirect would carry the body (and any key) elsewhere: a 3xx is a failed call,
            # a config error (a webhook that moved).
            if redirect_unsent:
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
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if 200 <= response.status_code < 300:
        return Delivery(True, attempts, response.status_code, None, parsed)
    return Delivery(
        False, attempts, response.status_code, f"HTTP {response.status_code}{_excerpt(response, secrets)}", parsed
    )


def _excerpt(response: requests.Response, secrets: tuple[str, ...]) -> str:
    text = scrub((response.text or "").strip(), secrets)[:200]
    return f": {text}" if text else ""


def _retry_after_s(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
