"""A local fake of Langfuse's public API on pytest-httpserver (a threaded werkzeug server).

It speaks the shapes of langfuse/langfuse `fern/apis/server/definition/`: ObservationV2 pages
with `meta.cursor` (observations.yml), ObservationsView pages with `meta.totalPages`
(legacy/observations-v1.yml), TraceWithDetails pages (trace.yml), ScoreV3 pages with
`meta.cursor` (scores-v3.yml) and v2 score pages (scores.yml), and the key's project
(projects.yml). It checks basic auth on every request and the window parameters, pages a few
items at a time so every chain has several pages, and can be told to answer a status once
(`fail`) or to be an older server without the v2 observations / v3 scores (`legacy`).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PUBLIC_KEY = "pk-lf-CANARY-public-1a2b3c"
SECRET_KEY = "sk-lf-CANARY-secret-9f8e7d6c5b"
PROJECT_ID = "cm-proj-7x"
CANARY_PROMPT = "CANARY-PROMPT-langfuse-4471"

PATHS = (
    "/api/public/v2/observations",
    "/api/public/observations",
    "/api/public/traces",
    "/api/public/v3/scores",
    "/api/public/v2/scores",
    "/api/public/projects",
)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeLangfuse:
    server: HTTPServer
    page_size: int = 2  # items per page whatever `limit` says: every chain pages
    legacy: bool = False  # an older self-hosted server: no v2 observations, no v3 scores
    observations: list[dict] = field(default_factory=list)  # canonical generations (see `generation`)
    traces: dict[str, dict] = field(default_factory=dict)
    scores: list[dict] = field(default_factory=list)
    faults: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    seen: list[tuple[str, dict]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        for path in PATHS:
            self.server.expect_request(path, method="GET").respond_with_handler(self._handle)

    @property
    def host(self) -> str:
        return self.server.url_for("/").rstrip("/")

    # --- data ------------------------------------------------------------------------
    def trace(self, trace_id: str, timestamp: str, name: str | None = None, tags=(), user_id=None) -> None:
        self.traces[trace_id] = {
            "id": trace_id,
            "timestamp": timestamp,
            "name": name,
            "tags": list(tags),
            "userId": user_id,
        }

    def generation(self, obs_id: str, trace_id: str, start: str, model: str | None, usage: dict, cost=None, **extra):
        """`usage` is the usageDetails map; `cost` the costDetails total (None: no cost)."""
        self.observations.append(
            {"id": obs_id, "traceId": trace_id, "startTime": start, "model": model, "usageDetails": usage, "cost": cost}
            | extra
        )

    def score(self, score_id: str, trace_id: str | None, timestamp: str, name: str, data_type: str, value, **extra):
        self.scores.append(
            {
                "id": score_id,
                "traceId": trace_id,
                "timestamp": timestamp,
                "name": name,
                "dataType": data_type,
                "value": value,
            }
            | extra
        )

    def fail(self, path: str, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.faults[path].append(status)

    # --- shapes ----------------------------------------------------------------------
    def _end(self, o: dict) -> str:
        return o.get("endTime") or o["startTime"].replace("Z", "").split(".")[0][:-2] + "59.500Z"

    def _v2(self, o: dict, fields: set[str]) -> dict:
        trace = self.traces.get(o["traceId"], {})
        out = {
            "id": o["id"],
            "traceId": o["traceId"],
            "startTime": o["startTime"],
            "endTime": self._end(o),
            "projectId": PROJECT_ID,
            "parentObservationId": None,
            "type": o.get("type", "GENERATION"),
            # Always present on v2 responses (null unless `model` is asked for).
            "modelId": None,
            "inputPrice": None,
            "outputPrice": None,
            "totalPrice": None,
        }
        if "basic" in fields:
            out |= {
                "name": o.get("name", "chat"),
                "level": o.get("level", "DEFAULT"),
                "statusMessage": o.get("statusMessage"),
                "version": None,
                "environment": o.get("environment", "default"),
                "bookmarked": False,
                "public": False,
                "userId": trace.get("userId"),
                "sessionId": None,
                "isRootObservation": False,
            }
        if "io" in fields:
            out |= {"input": CANARY_PROMPT, "output": "answer"}
        if "metadata" in fields:
            out["metadata"] = o.get("metadata", {})
        if "model" in fields:
            out |= {"providedModelName": o["model"], "internalModelId": None, "modelParameters": {"temperature": 0}}
        if "usage" in fields:
            cost = o["cost"]
            out |= {
                "usageDetails": o["usageDetails"],
                "costDetails": {} if cost is None else {"input": cost, "total": cost},
                "totalCost": 0 if cost is None else cost,
                "usagePricingTierName": None,
            }
        if "prompt" in fields:
            out |= {"promptId": None, "promptName": o.get("promptName"), "promptVersion": o.get("promptVersion")}
        if "trace_context" in fields:
            out |= {"traceName": trace.get("name"), "tags": trace.get("tags", []), "release": None}
        return out

    def _v1(self, o: dict) -> dict:
        cost = o["cost"]
        ud = o["usageDetails"]
        return {
            "id": o["id"],
            "traceId": o["traceId"],
            "type": "GENERATION",
            "name": o.get("name", "chat"),
            "startTime": o["startTime"],
            "endTime": self._end(o),
            "completionStartTime": None,
            "model": o["model"],
            "modelParameters": {},
            "input": [{"role": "user", "content": CANARY_PROMPT}],
            "version": None,
            "metadata": o.get("metadata", {}),
            "output": {"role": "assistant", "content": "answer " + CANARY_PROMPT},
            "usage": {
                "input": ud.get("input", 0),
                "output": ud.get("output", 0),
                "total": ud.get("total", 0),
                "unit": "TOKENS",
            },
            "level": o.get("level", "DEFAULT"),
            "statusMessage": o.get("statusMessage"),
            "parentObservationId": None,
            "promptId": None,
            "usageDetails": ud,
            "costDetails": {} if cost is None else {"total": cost},
            "environment": o.get("environment", "default"),
            "promptName": o.get("promptName"),
            "promptVersion": o.get("promptVersion"),
            "modelId": None,
            "inputPrice": None,
            "outputPrice": None,
            "totalPrice": None,
            "calculatedInputCost": None,
            "calculatedOutputCost": None,
            "calculatedTotalCost": 0 if cost is None else cost,
            "latency": 1.5,
            "timeToFirstToken": None,
        }

    def _score_base(self, s: dict) -> dict:
        return {
            "id": s["id"],
            "name": s["name"],
            "source": s.get("source", "API"),
            "timestamp": s["timestamp"],
            "createdAt": s["timestamp"],
            "updatedAt": s["timestamp"],
            "environment": "default",
            "dataType": s["dataType"],
        }

    def _v3_score(self, s: dict, fields: set[str]) -> dict:
        out = self._score_base(s) | {"projectId": PROJECT_ID, "value": s["value"]}
        if "subject" in fields:
            if s.get("observationId"):
                out["subject"] = {"kind": "observation", "id": s["observationId"], "traceId": s["traceId"]}
            elif s["traceId"]:
                out["subject"] = {"kind": "trace", "id": s["traceId"]}
            else:
                out["subject"] = {"kind": "session", "id": "session-1"}
        return out

    def _v2_score(self, s: dict) -> dict:
        out = self._score_base(s) | {
            "traceId": s["traceId"],
            "sessionId": None,
            "observationId": s.get("observationId"),
            "datasetRunId": None,
            "authorUserId": None,
            "comment": None,
            "metadata": {},
            "configId": None,
            "queueId": None,
        }
        value = s["value"]
        if s["dataType"] == "BOOLEAN":
            out |= {"value": 1 if value else 0, "stringValue": "True" if value else "False"}
        elif s["dataType"] in ("CATEGORICAL", "TEXT"):
            out |= {"value": 0, "stringValue": value}
        else:
            out["value"] = value
        return out

    # --- requests --------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        path = request.path
        args = request.args
        with self._lock:
            self.seen.append((path, args.to_dict(flat=False)))
            expected = "Basic " + base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return self._json(
                    {"message": "Invalid credentials. Confirm that you've configured the correct host."}, 401
                )
            if self.faults[path]:
                return self._json({"message": "Internal Server Error", "error": "boom"}, self.faults[path].popleft())
        if self.legacy and path in ("/api/public/v2/observations", "/api/public/v3/scores"):
            return Response("Not Found", 404)
        if path == "/api/public/projects":
            return self._json(
                {
                    "data": [
                        {
                            "id": PROJECT_ID,
                            "name": "support-app",
                            "organization": {"id": "o1", "name": "Acme"},
                            "metadata": {},
                        }
                    ]
                }
            )
        if path.endswith("observations"):
            lo, hi = _ts(args["fromStartTime"]), _ts(args["toStartTime"])
            rows = [
                o
                for o in self.observations
                if lo <= _ts(o["startTime"]) < hi and o.get("type", "GENERATION") == args.get("type")
            ]
            if path.startswith("/api/public/v2/"):
                fields = set(args.get("fields", "core,basic").split(","))
                if "io" in fields:
                    self.violations.append("v2 observations asked for io (prompt text)")
                return self._cursor_page([self._v2(o, fields) for o in rows], args)
            return self._numbered_page([self._v1(o) for o in rows], args)
        if path == "/api/public/traces":
            lo, hi = _ts(args["fromTimestamp"]), _ts(args["toTimestamp"])
            rows = [
                t
                | {
                    "htmlPath": f"/trace/{t['id']}",
                    "public": False,
                    "environment": "default",
                    "release": None,
                    "version": None,
                    "sessionId": None,
                    "metadata": {},
                }
                for t in self.traces.values()
                if lo <= _ts(t["timestamp"]) < hi
            ]
            return self._numbered_page(rows, args)
        lo, hi = _ts(args["fromTimestamp"]), _ts(args["toTimestamp"])
        rows = [s for s in self.scores if lo <= _ts(s["timestamp"]) < hi]
        if path == "/api/public/v3/scores":
            fields = set(args.get("fields", "").split(","))
            return self._cursor_page([self._v3_score(s, fields) for s in rows], args)
        return self._numbered_page([self._v2_score(s) for s in rows], args)

    def _cursor_page(self, rows: list[dict], args) -> Response:
        start = int(base64.urlsafe_b64decode(args["cursor"]).decode()) if "cursor" in args else 0
        size = min(int(args.get("limit", 50)), self.page_size)
        meta = {}
        if start + size < len(rows):
            meta["cursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return self._json({"data": rows[start : start + size], "meta": meta})

    def _numbered_page(self, rows: list[dict], args) -> Response:
        page = int(args.get("page", 1))
        size = min(int(args.get("limit", 50)), self.page_size)
        total_pages = (len(rows) + size - 1) // size
        meta = {"page": page, "limit": size, "totalItems": len(rows), "totalPages": total_pages}
        return self._json({"data": rows[(page - 1) * size : page * size], "meta": meta})

    @staticmethod
    def _json(body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")
