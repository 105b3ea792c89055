"""The gateways costline can stop: each turns one block or unblock into one HTTP call.

**LiteLLM proxy** (its admin API, as in litellm 1.110's
`proxy/management_endpoints/team_endpoints.py`): `POST {COSTLINE_LITELLM_URL}/team/block`
and `/team/unblock` with body `{"team_id": "<id>"}` and header
`Authorization: Bearer <COSTLINE_LITELLM_ADMIN_KEY>`. The proxy answers with the team record
(`blocked` true or false); from then on every key of the team is refused until unblocked.
Errors: 401 `{"error": {"message": "Authentication Error, ...", "type": "auth_error", ...}}`,
404 `{"detail": {"error": "Team not found, passed team_id=..."}}`, 500 when its database is
down. costline blocks the team rather than lowering its `max_budget` (`/team/update`):
LiteLLM's budget counts LiteLLM's own spend, costline's limit counts the attributed bill, and
a block is lifted exactly, without restoring a budget someone may have changed since.

**Signed webhook** (any other gateway): `POST {COSTLINE_ENFORCE_WEBHOOK_URL}` with a JSON body
(`source`, `action`, `workspace`, `month`, `reason_code`, `reason`, `spend_to_date_usd`,
`hard_limit_usd`, `decision_id`, `sent_at`) and the header
`X-Costline-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, key = the secret>`;
`X-Costline-Decision` repeats the decision_id (retries of one decision share it, so a
receiver can drop duplicates). Any 2xx is success.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from enforcement.http_calls import CallResult, post
from enforcement.settings import EnforceSettings

LITELLM, WEBHOOK, NONE = "litellm", "webhook", "none"
BLOCK, UNBLOCK = "block", "unblock"
SIGNATURE_HEADER = "X-Costline-Signature"
DECISION_HEADER = "X-Costline-Decision"


@dataclass(frozen=True)
class Call:
    """What one gateway call is about (also the log row's facts)."""

    gateway: str
    target: str  # LiteLLM team id; the workspace for the webhook
    action: str  # block | unblock
    workspace: str
    month: str
    reason_code: str
    reason: str
    spend_to_date_usd: str | None
    hard_limit_usd: str | None
    decision_id: int


def signature(secret: str, body: bytes) -> str:
    """The `X-Costline-Signature` value a receiver recomputes to trust the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(call: Call, settings: EnforceSettings, now: datetime) -> CallResult:
    if call.gateway == LITELLM:
        return _litellm(call, settings)
    if call.gateway == WEBHOOK:
        return _webhook(call, settings, now)
    raise ValueError(f"no gateway {call.gateway!r}")


def configured(settings: EnforceSettings) -> set[str]:
    return {g for g, on in ((LITELLM, settings.litellm_url), (WEBHOOK, settings.webhook_url)) if on}


def _litellm(call: Call, settings: EnforceSettings) -> CallResult:
    body = json.dumps({"team_id": call.target}).encode()
    headers = {"Authorization": f"Bearer {settings.litellm_admin_key}", "Content-Type": "application/json"}
    result = post(f"{settings.litellm_url}/team/{call.action}", body, headers, settings.retry, settings.secrets)
    if result.ok and isinstance(result.body, dict) and result.body.get("blocked") is not None:
        # The proxy returns the team as it now is: believe that over the status code.
        if bool(result.body["blocked"]) != (call.action == BLOCK):
            return CallResult(
                False,
                result.attempts,
                result.status_code,
                "LiteLLM answered with blocked=" + str(result.body["blocked"]).lower(),
            )
    return result


def _webhook(call: Call, settings: EnforceSettings, now: datetime) -> CallResult:
    body = json.dumps(
        {
            "source": "costline",
            "action": call.action,
            "workspace": call.workspace,
            "month": call.month,
            "reason_code": call.reason_code,
            "reason": call.reason,
            "spend_to_date_usd": call.spend_to_date_usd,
            "hard_limit_usd": call.hard_limit_usd,
            "decision_id": call.decision_id,
            "sent_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(settings.webhook_secret or "", body),
        DECISION_HEADER: str(call.decision_id),
    }
    return post(settings.webhook_url or "", body, headers, settings.retry, settings.secrets)
