"""Enforcement configuration, from the environment only.

- `COSTLINE_ENFORCE`: `dry-run` (default: decide and log, call nothing) or `on`.
- `COSTLINE_LITELLM_URL`, `COSTLINE_LITELLM_ADMIN_KEY`: a LiteLLM proxy and its master (or
  an admin) key; both set means the LiteLLM gateway is configured. The key is a secret: it is
  held with `repr=False` and never logged, stored or put in an error message.
- `COSTLINE_ENFORCE_WEBHOOK_URL`, `COSTLINE_ENFORCE_WEBHOOK_SECRET`: any other gateway, a
  JSON POST signed with HMAC-SHA256 of the body under the shared secret (also a secret).
- `COSTLINE_ENFORCE_MAX_ATTEMPTS` (4), `COSTLINE_ENFORCE_BACKOFF_S` (1): the retries of one
  call (exponential backoff from that many seconds, capped at 20 s).
"""

import logging
import os
from dataclasses import dataclass, field

# Shared with the alerts: per call; a failure after the last attempt is a `failed` row and an alert.
from reporting.webhook import RetryPolicy

log = logging.getLogger("costline.enforcement")

MODE_ENV = "COSTLINE_ENFORCE"
LITELLM_URL_ENV = "COSTLINE_LITELLM_URL"
LITELLM_KEY_ENV = "COSTLINE_LITELLM_ADMIN_KEY"
WEBHOOK_URL_ENV = "COSTLINE_ENFORCE_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "COSTLINE_ENFORCE_WEBHOOK_SECRET"
MAX_ATTEMPTS_ENV = "COSTLINE_ENFORCE_MAX_ATTEMPTS"
BACKOFF_ENV = "COSTLINE_ENFORCE_BACKOFF_S"

DRY_RUN, ON = "dry-run", "on"


@dataclass(frozen=True)
class EnforceSettings:
    mode: str = DRY_RUN
    litellm_url: str | None = None
    litellm_admin_key: str | None = field(default=None, repr=False)
    webhook_url: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    retry: RetryPolicy = RetryPolicy()
    problems: tuple[str, ...] = ()  # configuration mistakes, worded without any secret

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value no message may contain (the webhook URL may carry a token too)."""
        return tuple(s for s in (self.litellm_admin_key, self.webhook_secret, self.webhook_url) if s)

    @classmethod
    def from_env(cls, environ=os.environ) -> "EnforceSettings":
        problems: list[str] = []
        mode = environ.get(MODE_ENV, "").strip().lower() or DRY_RUN
        if mode not in (DRY_RUN, ON):
            problems.append(f"{MODE_ENV}={mode!r}: expected dry-run or on; running dry-run")
            mode = DRY_RUN
        litellm_url = environ.get(LITELLM_URL_ENV, "").strip().rstrip("/") or None
        litellm_key = environ.get(LITELLM_KEY_ENV, "").strip() or None
        if bool(litellm_url) != bool(litellm_key):
            problems.append(f"{LITELLM_URL_ENV} and {LITELLM_KEY_ENV} go together; LiteLLM is not called")
            litellm_url = litellm_key = None
        webhook_url = environ.get(WEBHOOK_URL_ENV, "").strip() or None
        webhook_secret = environ.get(WEBHOOK_SECRET_ENV, "").strip() or None
        if bool(webhook_url) != bool(webhook_secret):
            problems.append(f"{WEBHOOK_URL_ENV} and {WEBHOOK_SECRET_ENV} go together; the webhook is not called")
            webhook_url = webhook_secret = None
        retry = RetryPolicy(
            max_attempts=_number(environ, MAX_ATTEMPTS_ENV, 4, int, problems, minimum=1),
            backoff_initial_s=_number(environ, BACKOFF_ENV, 1.0, float, problems, minimum=0),
        )
        return cls(mode, litellm_url, litellm_key, webhook_url, webhook_secret, retry, tuple(problems))


def _number(environ, name: str, default, kind, problems: list[str], minimum):
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
        if value < minimum:
            raise ValueError
        return value
    except ValueError:
        problems.append(f"{name}={raw!r} is not a number >= {minimum}; using {default}")
        return default
