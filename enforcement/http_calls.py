"""One POST to a gateway, through the shared `reporting.webhook.post`.

That does the work (retries timeouts, dropped connections, 408/425/429 and 5xx with backoff,
Retry-After honoured up to a cap; no retry of any other 4xx, since a wrong key or an unknown
team will not fix itself; never raising). What is particular to enforcement: its User-Agent,
and error texts that carry the first bytes of the response body (every secret replaced by
`***`) on retried failures too, not only on the final status.
"""

from reporting.webhook import Delivery, RetryPolicy, scrub
from reporting.webhook import post as _post

__all__ = ["USER_AGENT", "CallResult", "post", "scrub"]

USER_AGENT = "costline-enforcement/0.1"

CallResult = Delivery  # ok, attempts, status_code, error, body (the response's JSON)


def post(url: str, data: bytes, headers: dict[str, str], policy: RetryPolicy, secrets: tuple[str, ...]) -> CallResult:
    return _post(url, data, headers, policy, secrets, USER_AGENT, excerpt_transient=True)
