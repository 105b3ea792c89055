"""Talking to an admin API: one session per source, retries, timeouts, pagination.

Retries use tenacity: 408, 409, 429, 5xx (529 included), timeouts, dropped connections and
bodies that are not JSON (cut off in transit) are tried again with exponential backoff and
jitter, or after the server's `retry-after-ms` / `Retry-After` when it sends one (capped).
401/403 fail at once: retrying a wrong key only delays the message that says so.

The key travels only in headers added by `_KeyAuth`; redirects are refused so no header
follows a `Location` to another host. Messages are built from status codes and provider
error text with the key scrubbed, never from request objects.
"""

import email.utils
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from ingestion.billing.errors import (
    BillingAuthError,
    BillingConfigError,
    BillingNotFoundError,
    BillingPaginationError,
    BillingRequestError,
    BillingResponseError,
    BillingRetryError,
)
from ingestion.billing.pages import InvalidJson, PageFormatError, ParsedPage, parse_page
from ingestion.billing.provider import Endpoint, Provider
from ingestion.billing.secret import ApiKey

log = logging.getLogger("costline.billing")

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
USER_AGENT = "costline-billing/0.1"
SETTINGS_ENV_PREFIX = "COSTLINE_BILLING_"


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retry budget; tests shrink the waits, nothing else changes."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0  # per socket read, not for the whole body
    max_attempts: int = 6  # per page, first try included
    max_elapsed_s: float = 300.0  # per page: no new wait starts past this
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0  # a server hint above this is cut to it
    max_pages: int = 1000  # per endpoint and window

    @classmethod
    def from_env(cls, environ: "dict[str, str] | None" = None) -> "HttpSettings":
        """Defaults, overridden by COSTLINE_BILLING_<FIELD> variables (e.g. _MAX_ATTEMPTS=3).

        Operators tune the retry budget to their schedule; tests make outages fail in seconds.
        """
        environ = os.environ if environ is None else environ
        overrides = {}
        for name, spec in cls.__dataclass_fields__.items():
            variable = f"{SETTINGS_ENV_PREFIX}{name.upper()}"
            text = environ.get(variable, "").strip()
            if not text:
                continue
            try:
                value = spec.type(text) if spec.type in (int, float) else float(text)
            except ValueError:
                raise BillingConfigError(f"{variable}={text!r} is not a number; fix or unset it") from None
            if value <= 0:
                raise BillingConfigError(f"{variable}={text!r} must be above zero; fix or unset it")
            overrides[name] = value
        return cls(**overrides)


@dataclass(frozen=True)
class FetchedPage:
    number: int  # 1-based position in the chain
    source_page: str  # where the exact bytes were saved
    parsed: ParsedPage


class _Transient(Exception):
    """One failed attempt worth repeating."""

    def __init__(self, reason: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class _KeyAuth(AuthBase):
    """Adds the provider's auth headers to each request; holds the key only as ApiKey."""

    def __init__(self, provider: Provider, key: ApiKey):
        self._provider = provider
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._provider.auth_headers(self._key.reveal()))
        return request

    def __repr__(self) -> str:
        return f"_KeyAuth({self._provider.name}, ***)"


class _RetryAfterOrBackoff(wait_base):
    """The server's hint when it gave one, else exponential backoff with jitter."""

    def __init__(self, backoff: wait_base, cap_s: float):
        self._backoff = backoff
        self._cap_s = cap_s

    def __call__(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(failure, "retry_after_s", None)
        if hint is not None:
            return min(max(hint, 0.0), self._cap_s)
        return self._backoff(retry_state)


def retry_after_s(headers: requests.structures.CaseInsensitiveDict | dict) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class PageClient:
    """One provider source: a session, its key and the retry policy. Use as a context manager."""

    def __init__(
        self,
        provider: Provider,
        key: ApiKey,
        base_url: str,
        settings: HttpSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BillingConfigError(
                f"{provider.name} base URL {base_url!r} is not an http(s) URL; fix {provider.base_url_env} or unset it"
            )
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self._key = key
        self._sleep = sleep
        self._session = requests.Session()
        self._session.auth = _KeyAuth(provider, key)  # also stops requests reading ~/.netrc
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def __enter__(self) -> "PageClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"PageClient({self.provider.name}, {self.base_url})"

    def fetch_pages(
        self, endpoint: Endpoint, start: date, end: date, save: Callable[[int, bytes], str]
    ) -> Iterator[FetchedPage]:
        """Every page of buckets [start, end], following next_page; `save(n, body)` stores each
        body before it is parsed and returns where."""
        params = [*self.provider.window_params(start, end), *endpoint.params]
        seen: set[str] = set()
        cursor: str | None = None
        for number in range(1, self.settings.max_pages + 1):
            page_params = params + ([("page", cursor)] if cursor else [])
            page = self._fetch_page(endpoint, number, page_params, save)
            yield page
            if not page.parsed.has_more:
                return
            cursor = page.parsed.next_page
            if cursor is None:
                raise BillingPaginationError(
                    f"{self._what(endpoint, number)} says has_more but gives no next_page; "
                    f"the page is saved at {page.source_page}: report it to {self.provider.name}"
                )
            if cursor in seen:
                raise BillingPaginationError(
                    f"{self._what(endpoint, number)} returned a next_page cursor it already gave; "
                    f"the API is looping, so costline stopped: retry later or load a shorter window"
                )
            seen.add(cursor)
        raise BillingPaginationError(
            f"{self.provider.name} {endpoint.name} still has more after {self.settings.max_pages} pages; "
            f"load a shorter window or raise HttpSettings.max_pages"
        )

    def get_json(self, what: str, path: str, params: list[tuple[str, str]], save: Callable[[bytes], str]) -> object:
        """One GET of `path` under the base URL with the retry policy of every page: `save(body)`
        stores the exact bytes before they are parsed; the JSON value (numbers that are not
        integers as Decimal) is returned. A body that is not JSON is fetched again."""

        def attempt() -> object:
            body = self._get(what, path, params)
            source_page = save(body)
            try:
                value = json.loads(body, parse_float=Decimal)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _Transient(f"not valid JSON ({len(body)} bytes, truncated?); saved at {source_page}") from None
            log.info("%s: %d bytes, saved at %s", what, len(body), source_page)
            return value

        return self._with_retries(what, attempt)

    def _fetch_page(
        self, endpoint: Endpoint, number: int, params: list[tuple[str, str]], save: Callable[[int, bytes], str]
    ) -> FetchedPage:
        return self._with_retries(self._what(endpoint, number), lambda: self._attempt(endpoint, number, params, save))

    def _with_retries(self, what: str, attempt: Callable[[], object]):
        s = self.settings
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(s.max_attempts) | stop_before_delay(s.max_elapsed_s),
            wait=_RetryAfterOrBackoff(
                wait_exponential_jitter(initial=s.backoff_initial_s, max=s.backoff_max_s, jitter=s.backoff_initial_s),
                cap_s=s.max_retry_after_s,
            ),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "%s: %s; retry %d/%d in %.2fs",
                what,
                state.outcome.exception(),
                state.attempt_number,
                s.max_attempts - 1,
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        started = time.monotonic()
        try:
            return retrying(attempt)
        except _Transient as last:
            raise BillingRetryError(
                f"{what}: gave up after {retrying.statistics.get('attempt_number', '?')} "
                f"attempts in {time.monotonic() - started:.1f}s, last: {last.reason}; the provider may be down "
                f"or rate limiting: run again later (the lookback window re-reads these days)"
            ) from None

    def _get(self, what: str, path: str, params: list[tuple[str, str]]) -> bytes:
        """The body of one 200 response; transient failures raise _Transient, others their error."""
        timeout = (self.settings.connect_timeout_s, self.settings.read_timeout_s)
        try:
            response = self._session.get(self.base_url + path, params=params, timeout=timeout, allow_redirects=False)
            body = response.content
        except requests.Timeout:
            raise _Transient(f"no response within {timeout[0]:g}s connect / {timeout[1]:g}s read") from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise _Transient(f"connection failed ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise BillingConfigError(
                f"{what}: cannot send the request ({type(exc).__name__}); check {self.provider.base_url_env}"
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise BillingAuthError(f"{what}: HTTP {status}, {self.provider.key_advice}")
        if status in RETRYABLE_STATUS:
            raise _Transient(f"HTTP {status}{self._error_text(body)}", retry_after_s(response.headers))
        if 300 <= status < 400:
            raise BillingRequestError(
                f"{what}: HTTP {status} redirect refused (the key would follow it); "
                f"set {self.provider.base_url_env} to the API's final URL"
            )
        if status != 200:
            error = BillingNotFoundError if status == 404 else BillingRequestError
            raise error(
                f"{what}: HTTP {status}{self._error_text(body)}; check "
                f"{self.provider.base_url_env} and that this costline version matches the API"
            )
        return body

    def _attempt(
        self, endpoint: Endpoint, number: int, params: list[tuple[str, str]], save: Callable[[int, bytes], str]
    ) -> FetchedPage:
        what = self._what(endpoint, number)
        body = self._get(what, endpoint.path, params)
        source_page = save(number, body)
        try:
            parsed = parse_page(self.provider, endpoint, body)
        except InvalidJson as exc:
            raise _Transient(str(exc)) from None
        except PageFormatError as exc:
            raise BillingResponseError(f"{what}: {exc}; the body is saved at {source_page}") from None
        log.info(
            "%s: %d bytes, %d buckets, %d lines, saved at %s",
            what,
            len(body),
            len(parsed.days),
            len(parsed.lines),
            source_page,
        )
        return FetchedPage(number, source_page, parsed)

    def _what(self, endpoint: Endpoint, number: int) -> str:
        return f"{self.provider.name} {endpoint.name} page {number}"

    def _error_text(self, body: bytes) -> str:
        """The provider's own error message, one line, at most 200 characters, key removed."""
        try:
            error = json.loads(body).get("error")
            message = error.get("message") if isinstance(error, dict) else error
        except (ValueError, AttributeError):
            return ""
        if not isinstance(message, str) or not message.strip():
            return ""
        return ": " + " ".join(self._key.scrub(message).split())[:200]
