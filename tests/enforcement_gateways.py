"""A LiteLLM proxy's admin API and a signed-webhook receiver, on a local HTTP server.

The LiteLLM side answers with the shapes litellm 1.110.2's proxy produces, built from its own
types: `/team/block` and `/team/unblock` (`BlockTeamRequest` body `{"team_id": ...}`, the
`Authorization: Bearer <key>` header `user_api_key_auth` reads) return the team record
(`LiteLLM_TeamTable`, `blocked` set); a wrong key gets its auth error (`ProxyException`
`auth_error`, 401, rendered as the proxy's exception handler does: `{"error": {...}}`); an
unknown team gets `_set_team_blocked`'s 404 (`HTTPException` detail, rendered by FastAPI as
`{"detail": {...}}`). The webhook side verifies `X-Costline-Signature` before accepting.
"""

import hashlib
import hmac
import json
import os

from werkzeug import Request, Response

for _local in ("LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS"):
    os.environ.setdefault(_local, "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

from litellm.proxy._types import BlockTeamRequest, LiteLLM_TeamTable, ProxyException  # noqa: E402

ADMIN_KEY = "sk-litellm-CANARY-enforce-admin-7f3c"
WEBHOOK_SECRET = "whsec-CANARY-enforce-signing-91ab"


class FakeLiteLLM:
    """Teams by id, with their `blocked` flag; `fail_with` makes every call answer that status."""

    def __init__(self, teams: list[str]):
        self.blocked = dict.fromkeys(teams, False)
        self.calls: list[tuple[str, dict, str | None]] = []
        self.fail_with: int | None = None

    def handler(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        self.calls.append((request.path, body, request.headers.get("Authorization")))
        if self.fail_with:
            error = ProxyException(message="No DB Connected.", type="internal_server_error", param="None", code=500)
            return _json({"error": error.to_dict()}, self.fail_with)
        if request.headers.get("Authorization") != f"Bearer {ADMIN_KEY}":
            # Echo what was sent, the worst a server could do: costline must not repeat it.
            sent = request.headers.get("Authorization", "")
            error = ProxyException(
                message=f"Authentication Error, Invalid proxy server token passed. Received={sent}",
                type="auth_error",
                param="None",
                code=401,
            )
            return _json({"error": error.to_dict()}, 401)
        team_id = BlockTeamRequest(**body).team_id
        if team_id not in self.blocked:
            return _json({"detail": {"error": f"Team not found, passed team_id={team_id}"}}, 404)
        self.blocked[team_id] = request.path.endswith("/team/block")
        return _json(LiteLLM_TeamTable(team_id=team_id, blocked=self.blocked[team_id]).model_dump(mode="json"), 200)

    def install(self, httpserver) -> None:
        for route in ("/team/block", "/team/unblock"):
            httpserver.expect_request(route, method="POST").respond_with_handler(self.handler)


class SignedReceiver:
    """Accepts a body only with a valid signature; `fail_with` answers that status instead."""

    def __init__(self, secret: str = WEBHOOK_SECRET):
        self.secret = secret
        self.accepted: list[dict] = []
        self.rejected = 0
        self.attempts = 0
        self.fail_with: int | None = None

    def handler(self, request: Request) -> Response:
        self.attempts += 1
        body = request.get_data()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Costline-Signature", ""), expected):
            self.rejected += 1
            return Response("bad signature", 401)
        if self.fail_with:
            return Response("upstream down", self.fail_with)
        payload = json.loads(body)
        assert request.headers["X-Costline-Decision"] == str(payload["decision_id"])
        self.accepted.append(payload)
        return Response("ok", 200)

    def install(self, httpserver, path: str = "/gateway") -> None:
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handler)


def _json(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
