"""Which span/resource attributes name a call's workspace and feature (configurable)."""

import os
from dataclasses import dataclass

WORKSPACE_ATTRIBUTES_ENV = "COSTLINE_WORKSPACE_ATTRIBUTES"
FEATURE_ATTRIBUTES_ENV = "COSTLINE_FEATURE_ATTRIBUTES"
DEFAULT_WORKSPACE_ATTRIBUTES = ("costline.workspace", "service.namespace", "service.name")
DEFAULT_FEATURE_ATTRIBUTES = ("costline.feature", "gen_ai.agent.name", "langfuse.trace.name")


def _names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None or not text.strip():
        return default
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip())) or default


@dataclass(frozen=True)
class Tagging:
    """Which attributes name a call's workspace and feature, in order (span, then resource)."""

    workspace: tuple[str, ...] = DEFAULT_WORKSPACE_ATTRIBUTES
    feature: tuple[str, ...] = DEFAULT_FEATURE_ATTRIBUTES

    @classmethod
    def from_env(cls) -> "Tagging":
        return cls(
            workspace=_names(os.environ.get(WORKSPACE_ATTRIBUTES_ENV), DEFAULT_WORKSPACE_ATTRIBUTES),
            feature=_names(os.environ.get(FEATURE_ATTRIBUTES_ENV), DEFAULT_FEATURE_ATTRIBUTES),
        )
