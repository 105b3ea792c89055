"""One POST to a gateway, retried with backoff, never raising, never echoing a secret.

Retried: timeouts, dropped connections, 408/425/429 and 5xx (Retry-After is honoured up to
a cap). Not retried: any other 4xx (a wrong key or an unknown team will not fix itself).
Error texts name the exception type or the HTTP status and the first bytes of the response
body with every secret replaced by `***`, never `str(exception)` (requests puts the URL there).
"""

from dataclasses import dataclass

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from enforcement.settings import RetryPolicy

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))
USER_AGENT = "costline-enforcement/0.1"


@dataclass(frozen=True)
class CallResult:
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


def post(url: str, data: bytes, headers: dict[str, str], policy: RetryPolicy, secrets: tuple[str, ...]) -> CallResult:
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
                f"HTTP {response.status_code}{_excerpt(response, secrets)}",
                response.status_code,
                _retry_after_s(response.headers.get("Retry-After")),
            )
        return response

    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT
            # A redirect would carry the key elsewhere: a 3xx is a failed call (a config error).
            for retrying in Retrying(
                retry=retry_if_exception_type(_Transient),
                wait=wait,
                stop=stop_after_attempt(policy.max_attempts),
                reraise=True,
            ):
                with retrying:
                    response = attempt(session)
    except _Transient as failure:
        return CallResult(False, attempts, failure.status_code, f"gave up after {attempts} attempts: {failure.reason}")
    except requests.RequestException as exc:
        return CallResult(False, attempts, None, f"request not sent: {type(exc).__name__}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= response.status_code < 300:
        return CallResult(True, attempts, response.status_code, None, body)
    return CallResult(
        False, attempts, response.status_code, f"HTTP {response.status_code}{_excerpt(response, secrets)}", body
    )


def _excerpt(response: requests.Response, secrets: tuple[str, ...]) -> str:
    text = scrub((response.text or "").strip(), secrets)[:200]
    return f": {text}" if text else ""


def _retry_after_s(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
