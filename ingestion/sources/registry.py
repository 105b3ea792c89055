"""Every source costline loads, in one list: the Dagster wiring makes one asset per entry.

Adding a source is one line here (after its module and tests). `check_registry` runs when the
code location loads, so a name used twice, an unknown `after`, or a raw table nobody declares
fails at start-up with a message, not half-way through a run.
"""

from ingestion.billing.anthropic import ANTHROPIC
from ingestion.billing.openai import OPENAI
from ingestion.sources.base import Source
from ingestion.sources.billing_api import BillingApi
from ingestion.sources.focus_exports import FocusExports
from ingestion.sources.langfuse_api import LangfuseApi
from ingestion.sources.litellm_spend_logs import LiteLLMSpendLogs
from ingestion.sources.model_prices import ModelPrices
from ingestion.sources.outcome_files import OutcomeFiles
from ingestion.sources.reference_files import ReferenceFiles
from ingestion.sources.telemetry_files import TelemetryFiles
from ingestion.warehouse import RAW_TABLES

SOURCES: tuple[Source, ...] = (
    TelemetryFiles(),
    LiteLLMSpendLogs(),
    LangfuseApi(),
    OutcomeFiles(),
    ReferenceFiles(),
    ModelPrices(),
    BillingApi(OPENAI),
    BillingApi(ANTHROPIC),
    FocusExports(),
)


class RegistryError(ValueError):
    """The source list contradicts itself; the message says which source to fix."""


def source_named(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"no source named {name!r}; known: {', '.join(s.name for s in SOURCES)}")


def writers_of(table: str, sources: tuple[Source, ...] = SOURCES) -> tuple[Source, ...]:
    """The sources that write raw table `table` (every file source writes the ledger tables)."""
    return tuple(s for s in sources if table in s.writes)


def check_registry(sources: tuple[Source, ...] = SOURCES) -> None:
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise RegistryError(f"source names must be unique: {names}")
    for source in sources:
        unknown = [a for a in source.after if a not in names]
        if unknown:
            raise RegistryError(f"source {source.name} loads after unknown sources {unknown}")
        undeclared = [t for t in source.writes if t not in RAW_TABLES]
        if undeclared:
            raise RegistryError(f"source {source.name} writes {undeclared}, not in ingestion.warehouse.RAW_TABLES")
