"""The provider a model name belongs to, for telemetry that names a model and no provider.

Langfuse generations and some OpenTelemetry spans name only the model; prices are keyed by
provider and model, so the provider is read off the model's name. One table, used from Python
(OTLP spans) and SQL (Langfuse pages); a name it does not know stays without a provider.
"""

from typing import Any

from ingestion.json_sql import sql_str

MODEL_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-3", "text-embedding-ada", "davinci",
            "babbage", "whisper", "tts-", "dall-e", "omni-moderation",
        ),
        "openai",
    ),
    (("claude",), "anthropic"),
    (("gemini", "text-embedding-00", "gemma", "text-bison", "chat-bison"), "google"),
    (
        ("mistral", "mixtral", "codestral", "ministral", "magistral", "devstral", "pixtral", "open-mistral"),
        "mistral",
    ),
    (("command",), "cohere"),
)  # fmt: skip


def _bare(model: str) -> str:
    """The model without a `provider/` route prefix, lower-cased."""
    return model.lower().rsplit("/", 1)[-1]


def provider_of_model(model: Any) -> str | None:
    if not isinstance(model, str):
        return None
    name = _bare(model)
    for prefixes, provider in MODEL_PREFIXES:
        if name.startswith(prefixes):
            return provider
    return None


def provider_of_model_sql(model: str) -> str:
    """The same rule as a SQL expression over the text column `model` (NULL when unknown)."""
    bare = f"lower(regexp_replace({model}, '^.*/', ''))"
    whens = " ".join(
        f"when {' or '.join(f'starts_with({bare}, {sql_str(p)})' for p in prefixes)} then {sql_str(provider)}"
        for prefixes, provider in MODEL_PREFIXES
    )
    return f"(case {whens} end)"
