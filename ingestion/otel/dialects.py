"""OpenTelemetry dialects: which span attributes each tracing library writes for one LLM call.

Teams do not write costline's names: their calls are traced by the OTel GenAI instrumentations,
OpenLLMetry (Traceloop), OpenInference (Arize), openlit, Langfuse or the provider SDK itself,
and each of those spells the same facts its own way. Every dialect is one `Dialect` below: how
to tell its spans are calls (`recognises`) and one table of contract field -> attribute names
(the first present wins). A span is a call when any dialect recognises it; its fields come from
the costline attributes first (`COSTLINE`, the caller's explicit word), then from each
recognising dialect in the order of `DIALECTS` (the most specific first, plain OTel GenAI last).

Each name was read from the library's own source (the comment above each table says where).
Token semantics are then made costline's (`records.normalise_tokens`): input_tokens includes cache reads
and writes, output_tokens includes reasoning. A reported cost of 0 is dropped: an instrumentation
without a price list writes 0, and that is not a price (dbt prices the call instead).

Nothing here validates: values that cannot be converted are passed on as they are, so the SQL
checks quarantine them with a reason (`ingestion/rules/telemetry_rules.py`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ingestion.otel.usage_json import langfuse_cost, langfuse_usage

# --- what is a call ----------------------------------------------------------------------------

# gen_ai.operation.name values that orchestrate calls rather than make one (OTel GenAI agent and
# tool spans; openlit's framework spans): counting their rolled-up tokens would count twice.
NOT_CALL_OPERATIONS = frozenset(
    {
        "invoke_agent",
        "create_agent",
        "execute_tool",
        "invoke_workflow",
        "execute_task",
        "retrieval",
        "vectordb",
        "agent",
        "task",
        "execution",
        "workflow",
        "tool",
    }
)
ERROR_STATUS_CODES = (2, "2", "STATUS_CODE_ERROR")


@dataclass(frozen=True)
class SpanView:
    """What a dialect looks at: the merged attributes (span over resource) and the scope."""

    attrs: Mapping[str, Any]
    scope: str
    name: str
    failed: bool = False  # error.type, status ERROR or a Langfuse level ERROR (`is_error`)

    def get(self, key: str) -> Any:
        return self.attrs.get(key)


def _operation_is_call(view: SpanView) -> bool:
    op = view.get("gen_ai.operation.name")
    return isinstance(op, str) and op.strip().lower() not in NOT_CALL_OPERATIONS


@dataclass(frozen=True)
class Dialect:
    name: str
    source: str  # where the attribute names were read (shown in the docs)
    recognises: Callable[[SpanView], bool]
    fields: Mapping[str, tuple[str, ...]]
    # Fidelity when two spans of one call are merged: the higher value's fields win.
    rank: int = 0


# Total-token attributes: an input count a dialect leaves out is total - output.
TOTAL_TOKEN_ATTRIBUTES = ("llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens")

# The caller's own attributes (costline.*) and the OTel resource conventions: read for every
# call span, before any dialect's names.
COSTLINE: Mapping[str, tuple[str, ...]] = {
    "request_id": ("costline.request_id",),
    "attempt": ("costline.attempt",),
    "user_segment": ("costline.user_segment",),
    "prompt_version": ("costline.prompt_version",),
    "project_id": ("costline.project_id",),
    "cost_usd": ("costline.cost_usd",),
    "environment": ("deployment.environment.name", "deployment.environment"),
}

# OTel GenAI semantic conventions as they are now: open-telemetry/semantic-conventions
# model/gen-ai (moved to semantic-conventions-genai), as opentelemetry-python-contrib's
# instrumentation-genai (openai-v2, util-genai) writes them: gen_ai.operation.name,
# gen_ai.provider.name, gen_ai.request/response.model, gen_ai.response.id, gen_ai.usage.*,
# error.type; the cache-write spelling gen_ai.usage.cache_write.input_tokens of the newer
# registry; openai.response.service_tier (and openai-v2's older gen_ai.openai.response.service_tier),
# else the tier the request asked for (openai.request.service_tier: `auto`, `default`, `flex`, ...).
OTEL_GENAI = Dialect(
    name="otel_genai",
    source="open-telemetry/semantic-conventions model/gen-ai; opentelemetry-python-contrib instrumentation-genai",
    recognises=_operation_is_call,
    fields={
        "call_id": ("gen_ai.response.id",),
        "provider": ("gen_ai.provider.name", "gen_ai.system"),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "operation": ("gen_ai.operation.name",),
        "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cache_read_input_tokens": ("gen_ai.usage.cache_read.input_tokens",),
        "cache_creation_input_tokens": (
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_write.input_tokens",
        ),
        "reasoning_output_tokens": ("gen_ai.usage.reasoning.output_tokens",),
        "error_type": ("error.type",),
        "service_tier": (
            "openai.response.service_tier",
            "gen_ai.openai.response.service_tier",
            "openai.request.service_tier",
            "gen_ai.openai.request.service_tier",
        ),
        "cost_usd": ("gen_ai.usage.cost",),
    },
    rank=3,
)

# Older OTel GenAI (semconv <= 1.27, now in model/gen-ai/deprecated): no gen_ai.operation.name
# yet, gen_ai.system for the provider, gen_ai.usage.prompt_tokens / completion_tokens.
OTEL_GENAI_LEGACY = Dialect(
    name="otel_genai_legacy",
    source="open-telemetry/semantic-conventions model/gen-ai/deprecated/registry-deprecated.yaml",
    recognises=lambda v: (
        v.get("gen_ai.operation.name") is None
        and v.get("gen_ai.system") is not None
        and (v.get("gen_ai.request.model") is not None or v.get("gen_ai.response.model") is not None)
    ),
    fields={
        "call_id": ("gen_ai.response.id",),
        "provider": ("gen_ai.system",),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "input_tokens": ("gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
        "output_tokens": ("gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"),
        "error_type": ("error.type",),
    },
    rank=1,
)

# The Anthropic Python SDK's own tracing (anthropic 2.x, src/anthropic/_tracing.py and
# lib/_tracing/_response.py): scope com.anthropic.sdk.python, one CLIENT span per API call
# over all its retries (http.request.resend_count), gen_ai.usage.input_tokens already the sum
# of input + cache reads + cache writes, cache writes as gen_ai.usage.cache_write.input_tokens,
# thinking tokens as gen_ai.usage.reasoning.output_tokens, the Anthropic workspace id (which
# links the call to its bill) as anthropic.workspace.id, usage.service_tier as
# anthropic.response.service_tier.
ANTHROPIC_SDK = Dialect(
    name="anthropic_sdk",
    source="anthropics/anthropic-sdk-python 2.x src/anthropic/_tracing.py",
    recognises=lambda v: v.scope.startswith("com.anthropic.sdk") and _operation_is_call(v),
    fields={
        "call_id": ("gen_ai.response.id",),
        "provider": ("gen_ai.provider.name",),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "operation": ("gen_ai.operation.name",),
        "input_tokens": ("gen_ai.usage.input_tokens",),
        "output_tokens": ("gen_ai.usage.output_tokens",),
        "cache_read_input_tokens": ("gen_ai.usage.cache_read.input_tokens",),
        "cache_creation_input_tokens": ("gen_ai.usage.cache_write.input_tokens",),
        "reasoning_output_tokens": ("gen_ai.usage.reasoning.output_tokens",),
        "error_type": ("error.type",),
        "service_tier": ("anthropic.response.service_tier",),
        "project_id": ("anthropic.workspace.id",),
    },
    rank=5,
)

# OpenLLMetry / Traceloop (traceloop/openllmetry packages/opentelemetry-semantic-conventions-ai,
# semconv_ai/__init__.py, old and new; instrumentation-openai shared/__init__.py and
# instrumentation-anthropic __init__.py). Old releases: gen_ai.system ("openai", "Anthropic"),
# llm.request.type (chat, completion, embedding, rerank) instead of gen_ai.operation.name,
# gen_ai.usage.prompt_tokens / completion_tokens, gen_ai.usage.cache_read_input_tokens /
# cache_creation_input_tokens, reasoning as gen_ai.usage.reasoning_tokens or
# llm.usage.reasoning_tokens, llm.usage.total_tokens. The Anthropic instrumentation sums input +
# cache reads + cache writes into its input count, like costline. New releases write the OTel
# names (read by OTEL_GENAI) plus gen_ai.usage.reasoning_tokens.
OPENLLMETRY = Dialect(
    name="openllmetry",
    source="traceloop/openllmetry opentelemetry-semantic-conventions-ai semconv_ai/__init__.py",
    recognises=lambda v: (
        v.get("llm.request.type") is not None and str(v.get("llm.request.type")).lower() not in ("unknown",)
    ),
    fields={
        "call_id": ("gen_ai.response.id",),
        "provider": ("gen_ai.system", "gen_ai.provider.name"),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "input_tokens": ("gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"),
        "output_tokens": ("gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"),
        "cache_read_input_tokens": ("gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        "cache_creation_input_tokens": (
            "gen_ai.usage.cache_creation_input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
        ),
        "reasoning_output_tokens": ("gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens"),
        "error_type": ("error.type",),
        "service_tier": (
            "openai.response.service_tier",
            "gen_ai.openai.response.service_tier",
            "openai.request.service_tier",
            "gen_ai.openai.request.service_tier",
        ),
    },
    rank=2,
)
LLM_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}

# OpenInference (Arize-ai/openinference python/openinference-semantic-conventions
# semconv/trace/__init__.py): openinference.span.kind LLM (or EMBEDDING), llm.model_name (and
# llm.response.model_name / llm.request.model_name), llm.provider (openai, azure, anthropic,
# aws, google, ...) and llm.system, llm.token_count.prompt / completion / total,
# llm.token_count.prompt_details.cache_read / cache_write,
# llm.token_count.completion_details.reasoning, llm.cost.total, llm.prompt_template.version.
# Its prompt count includes cached tokens (openinference-instrumentation-anthropic _utils.py
# sums them; OpenAI's prompt_tokens already include them). No response id: the span id is used.
OPENINFERENCE = Dialect(
    name="openinference",
    source="Arize-ai/openinference openinference-semantic-conventions semconv/trace/__init__.py",
    recognises=lambda v: str(v.get("openinference.span.kind") or "").upper() in ("LLM", "EMBEDDING"),
    fields={
        "provider": ("llm.provider", "llm.system"),
        "model": ("llm.response.model_name", "llm.model_name", "embedding.model_name", "llm.request.model_name"),
        "input_tokens": ("llm.token_count.prompt",),
        "output_tokens": ("llm.token_count.completion",),
        "cache_read_input_tokens": ("llm.token_count.prompt_details.cache_read",),
        "cache_creation_input_tokens": ("llm.token_count.prompt_details.cache_write",),
        "reasoning_output_tokens": ("llm.token_count.completion_details.reasoning",),
        "prompt_version": ("llm.prompt_template.version",),
        "cost_usd": ("llm.cost.total",),
    },
    rank=2,
)

# openlit (openlit/openlit sdk/python/src/openlit/semcov/__init__.py, 1.4x;
# instrumentation/anthropic/utils.py): telemetry.sdk.name "openlit" on the span and resource,
# gen_ai.system / gen_ai.provider.name, gen_ai.usage.input_tokens / output_tokens,
# gen_ai.usage.cache_read.input_tokens / cache_creation.input_tokens (older:
# gen_ai.usage.prompt_tokens_details.cached_tokens / cache_creation_tokens),
# gen_ai.usage.reasoning_tokens or gen_ai.usage.completion_tokens_details.reasoning_tokens, and
# gen_ai.usage.cost from its own price list: 0 when it has none. For Anthropic its input tokens
# are Anthropic's own, which EXCLUDE cache reads and writes (normalise_tokens adds them).
OPENLIT = Dialect(
    name="openlit",
    source="openlit/openlit sdk/python/src/openlit/semcov/__init__.py",
    # openlit's failed Anthropic calls carry nothing but the exception: the scope says it all.
    recognises=lambda v: (
        (v.get("telemetry.sdk.name") == "openlit" and _operation_is_call(v))
        or (v.failed and provider_from_scope(v.scope) is not None and v.scope.startswith("openlit.instrumentation."))
    ),
    fields={
        "call_id": ("gen_ai.response.id",),
        "provider": ("gen_ai.provider.name", "gen_ai.system"),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "operation": ("gen_ai.operation.name",),
        "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cache_read_input_tokens": (
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.prompt_tokens_details.cached_tokens",
            "gen_ai.usage.prompt_tokens_details.cache_read",
        ),
        "cache_creation_input_tokens": (
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
            "gen_ai.usage.prompt_tokens_details.cache_write",
        ),
        "reasoning_output_tokens": (
            "gen_ai.usage.reasoning_tokens",
            "gen_ai.usage.completion_tokens_details.reasoning_tokens",
            "gen_ai.usage.completion_tokens_details.reasoning",
        ),
        "error_type": ("error.type",),
        "cost_usd": ("gen_ai.usage.cost",),
    },
    rank=1,
)

# Langfuse's OTel attributes (langfuse/langfuse-python langfuse/_client/attributes.py,
# LangfuseOtelSpanAttributes): langfuse.observation.type generation (or embedding),
# langfuse.observation.model.name, usage and cost as JSON text in
# langfuse.observation.usage_details / cost_details (read by `_langfuse_usage` / `_langfuse_cost`),
# langfuse.observation.level ERROR for a failure, langfuse.environment, prompt name and version.
LANGFUSE = Dialect(
    name="langfuse",
    source="langfuse/langfuse-python langfuse/_client/attributes.py",
    recognises=lambda v: str(v.get("langfuse.observation.type") or "").lower() in ("generation", "embedding"),
    fields={
        "provider": ("gen_ai.provider.name", "gen_ai.system"),
        "model": ("langfuse.observation.model.name", "gen_ai.response.model", "gen_ai.request.model"),
        "environment": ("langfuse.environment",),
    },
    rank=0,
)

# Most specific first: a span of the Anthropic SDK or openlit also carries plain OTel names.
DIALECTS: tuple[Dialect, ...] = (
    ANTHROPIC_SDK,
    OPENLIT,
    LANGFUSE,
    OPENINFERENCE,
    OPENLLMETRY,
    OTEL_GENAI,
    OTEL_GENAI_LEGACY,
)
DIALECT_NAMES = tuple(d.name for d in DIALECTS)

# The provider an instrumentation's scope names (`openlit.instrumentation.anthropic`,
# `openinference.instrumentation.openai`, ...), when its span names none.
SCOPE_PROVIDERS = {
    "openai": "openai",
    "openai_v2": "openai",
    "anthropic": "anthropic",
    "mistralai": "mistral",
    "cohere": "cohere",
    "groq": "groq",
    "bedrock": "aws.bedrock",
    "vertexai": "gcp.vertex_ai",
    "google_genai": "google",
}


def provider_from_scope(scope: str) -> str | None:
    head, _, last = scope.rpartition(".instrumentation.")
    return SCOPE_PROVIDERS.get(last.split(".")[0]) if head else None


def recognising(view: SpanView) -> tuple[Dialect, ...]:
    """The dialects that take this span for a provider call, most specific first."""
    return tuple(d for d in DIALECTS if d.recognises(view))


def is_error(attrs: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    return (
        attrs.get("error.type") is not None
        or status.get("code") in ERROR_STATUS_CODES
        or str(attrs.get("langfuse.observation.level") or "").upper() == "ERROR"
    )


def first_present(attrs: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def map_fields(view: SpanView, dialects: tuple[Dialect, ...]) -> dict[str, Any]:
    """Contract fields from the costline attributes, then each dialect's table in order."""
    record: dict[str, Any] = {}
    for table in (COSTLINE, *(d.fields for d in dialects)):
        for name, keys in table.items():
            if record.get(name) is None:
                value = first_present(view.attrs, keys)
                if value is not None:
                    record[name] = value
    total = first_present(view.attrs, TOTAL_TOKEN_ATTRIBUTES)
    if total is not None:
        record["_total_tokens"] = total
    if record.get("operation") is None:
        kind = str(view.get("openinference.span.kind") or "").upper()
        request_type = view.get("llm.request.type")
        if kind == "EMBEDDING":
            record["operation"] = "embeddings"
        elif isinstance(request_type, str) and request_type.lower() in LLM_REQUEST_TYPES:
            record["operation"] = LLM_REQUEST_TYPES[request_type.lower()]
    if LANGFUSE in dialects:
        for name, value in langfuse_usage(view.get("langfuse.observation.usage_details")).items():
            record.setdefault(name, value)
        if record.get("cost_usd") is None and (cost := langfuse_cost(view.get("langfuse.observation.cost_details"))):
            record["cost_usd"] = cost
        if record.get("prompt_version") is None and view.get("langfuse.observation.prompt.name") is not None:
            version = view.get("langfuse.observation.prompt.version")
            name = view.get("langfuse.observation.prompt.name")
            record["prompt_version"] = f"{name}@{version}" if version is not None else name
    if ANTHROPIC_SDK in dialects and record.get("attempt") is None:
        resends = view.get("http.request.resend_count")
        if isinstance(resends, int) and not isinstance(resends, bool) and resends >= 0:
            record["attempt"] = resends + 1  # the call's last request was its (resends + 1)th try
    return record
