"""Real instrumentation libraries tracing scripted calls to the fake provider, written as OTLP/JSON.

    python make_spans.py <dialect> <out.otlp.jsonl> <provider-url>

Runs in the span tool environment (tests/span_tools/requirements.txt, installed --no-deps),
never in costline's own. Every export batch becomes one line: an ExportTraceServiceRequest
encoded by opentelemetry-exporter-otlp-proto-common, turned into proto3 JSON by
`google.protobuf.json_format.MessageToDict`, with the trace and span ids as lowercase hex the
way the Collector's file exporter writes them (MessageToDict writes bytes as base64).

The caller tags a call with `costline.workspace` / `costline.feature` through OTel baggage,
copied onto every span that starts under it by `BaggageToAttributes` (what the contrib
BaggageSpanProcessor does): it works the same whichever library makes the span. The
`*-untagged` scenarios carry no baggage.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence

# Nothing leaves the machine: no library telemetry, no content capture.
os.environ.setdefault("TRACELOOP_TELEMETRY", "false")
os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT")
os.environ.setdefault("OPENINFERENCE_HIDE_INPUTS", "true")
os.environ.setdefault("OPENINFERENCE_HIDE_OUTPUTS", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "false")
os.environ["OTEL_TRACES_EXPORTER"] = "none"
os.environ["OTEL_METRICS_EXPORTER"] = "none"
os.environ["OTEL_LOGS_EXPORTER"] = "none"
os.environ.setdefault("OPENAI_API_KEY", "sk-costline-fake")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-costline-fake")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_provider import SCENARIOS, Scenario, scenarios_for  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from opentelemetry import baggage, context, trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402

TAG_KEYS = ("costline.workspace", "costline.feature")


class BaggageToAttributes(SpanProcessor):
    """Copies the costline.* baggage entries onto each span as it starts."""

    def on_start(self, span, parent_context=None):
        for key in TAG_KEYS:
            value = baggage.get_baggage(key, parent_context)
            if value is not None:
                span.set_attribute(key, str(value))


def _hex_ids(obj):
    """Collector style: traceId / spanId / parentSpanId as lowercase hex, not base64."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = base64.b64decode(value).hex()
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


class OtlpJsonLinesExporter(SpanExporter):
    """One ExportTraceServiceRequest (proto3 JSON) per export batch, one per line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        open(path, "w").close()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        request = encode_spans(spans)
        line = json.dumps(_hex_ids(MessageToDict(request, use_integers_for_enums=True)), separators=(",", ":"))
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


# ---------------------------------------------------------------------------- the calls


def openai_client(url: str):
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-costline-fake", max_retries=1, timeout=10)


def anthropic_client(url: str, sdk_tracing: bool, provider: TracerProvider):
    import anthropic

    option = {"tracer_provider": provider} if sdk_tracing else False
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-fake", max_retries=1, timeout=10, open_telemetry=option)


def call_openai(client, name: str, s: Scenario) -> None:
    if s.operation == "embeddings":
        client.embeddings.create(model=s.request_model, input=name)
    elif s.api == "responses":
        client.responses.create(model=s.request_model, input=name)
    else:
        client.chat.completions.create(model=s.request_model, messages=[{"role": "user", "content": name}])


def call_anthropic(client, name: str, s: Scenario) -> None:
    kwargs = {}
    if s.reasoning_tokens:
        kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    client.messages.create(
        model=s.request_model, max_tokens=2048, messages=[{"role": "user", "content": name}], **kwargs
    )


def run_scenarios(provider_name: str, call: Callable[[str, Scenario], None]) -> list[str]:
    outcomes = []
    for name, s in scenarios_for(provider_name):
        ctx = context.get_current()
        if s.workspace:
            ctx = baggage.set_baggage("costline.workspace", s.workspace, ctx)
        if s.feature:
            ctx = baggage.set_baggage("costline.feature", s.feature, ctx)
        token = context.attach(ctx)
        try:
            call(name, s)
            outcomes.append(f"{name}: ok")
        except Exception as err:  # the scripted errors
            if s.error_status is None:
                raise
            outcomes.append(f"{name}: {type(err).__name__}")
        finally:
            context.detach(token)
    return outcomes


# ---------------------------------------------------------------------------- instrumentors


def instrument_openai_v2(provider):
    # 2.4b0 writes the same attributes without this opt-in (chat goes through util-genai).
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=provider)


def instrument_openinference_openai(provider):
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=provider)


def instrument_traceloop_anthropic(provider):
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=provider)


def instrument_traceloop_openai_old(provider):
    # opentelemetry-instrumentation-openai 0.40.14 (May 2025): the pre-1.28 GenAI names.
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor(enrich_token_usage=False).instrument(tracer_provider=provider)


def instrument_openlit(provider, which: str):
    # openlit.init() would fetch a price list over the network and set up its own exporters;
    # its instrumentors take the same arguments directly. openlit tracers come from the global
    # provider (trace.get_tracer), which main() sets.
    kwargs = dict(
        environment="test",
        application_name="costline-span-tools",
        pricing_info={},
        capture_message_content=False,
        disable_metrics=True,
    )
    from openlit._config import OpenlitConfig

    OpenlitConfig()  # the singleton's first construction sets its defaults (metrics_dict, ...)
    if which == "openai":
        from openlit.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(**kwargs)
    else:
        from openlit.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument(**kwargs)


def dialect_plan(dialect: str, provider: TracerProvider, url: str):
    """(provider name, instrument(), client factory) for a dialect."""
    if dialect == "otel_genai_openai":
        return "openai", lambda: instrument_openai_v2(provider), lambda: openai_client(url)
    if dialect == "openinference_openai":
        return "openai", lambda: instrument_openinference_openai(provider), lambda: openai_client(url)
    if dialect == "openllmetry_openai_legacy":
        return "openai", lambda: instrument_traceloop_openai_old(provider), lambda: openai_client(url)
    if dialect == "openlit_openai":
        return "openai", lambda: instrument_openlit(provider, "openai"), lambda: openai_client(url)
    if dialect == "double_openai":

        def both():
            instrument_openai_v2(provider)
            instrument_openinference_openai(provider)

        return "openai", both, lambda: openai_client(url)
    if dialect == "anthropic_sdk":
        return "anthropic", lambda: None, lambda: anthropic_client(url, True, provider)
    if dialect == "openllmetry_anthropic":
        return (
            "anthropic",
            lambda: instrument_traceloop_anthropic(provider),
            lambda: anthropic_client(url, False, provider),
        )
    if dialect == "openlit_anthropic":
        return (
            "anthropic",
            lambda: instrument_openlit(provider, "anthropic"),
            lambda: anthropic_client(url, False, provider),
        )
    if dialect == "double_anthropic":
        return (
            "anthropic",
            lambda: instrument_traceloop_anthropic(provider),
            lambda: anthropic_client(url, True, provider),
        )
    raise SystemExit(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")


DIALECTS = (
    "otel_genai_openai",
    "anthropic_sdk",
    "openllmetry_anthropic",
    "openinference_openai",
    "openllmetry_openai_legacy",
    "openlit_openai",
    "openlit_anthropic",
    "double_anthropic",
    "double_openai",
)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dialect, out, url = argv
    url = f"{url.rstrip('/')}/{dialect}"  # the fake provider ends its response ids with the dialect
    resource = Resource.create(
        {"service.name": f"costline-span-tools-{dialect}", "deployment.environment.name": "test"}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BaggageToAttributes())
    provider.add_span_processor(BatchSpanProcessor(OtlpJsonLinesExporter(out)))
    trace.set_tracer_provider(provider)

    provider_name, instrument, make_client = dialect_plan(dialect, provider, url)
    instrument()
    client = make_client()
    call = call_openai if provider_name == "openai" else call_anthropic
    outcomes = run_scenarios(provider_name, lambda name, s: call(client, name, s))
    provider.force_flush()
    provider.shutdown()
    for line in outcomes:
        print(line)
    assert all(name in SCENARIOS for name, _ in scenarios_for(provider_name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
