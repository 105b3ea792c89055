"""How a provider's admin API is shaped: endpoints, auth headers, time windows, buckets.

`openai.py` and `anthropic.py` each build one `Provider`; everything else (HTTP, pages,
loading) is generic over it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from ingestion.billing.records import CostLine, UsageLine

Kind = Literal["costs", "usage"]


@dataclass(frozen=True)
class Endpoint:
    name: str  # file-name prefix of saved pages, e.g. "costs"
    path: str  # appended to the base URL
    kind: Kind
    params: tuple[tuple[str, str], ...]  # fixed query parameters (grouping, bucket width, limit)
    parse_result: Callable[[dict], CostLine | UsageLine]


@dataclass(frozen=True)
class Provider:
    name: str
    key_env: str
    base_url_env: str
    default_base_url: str
    endpoints: tuple[Endpoint, ...]
    # Query parameters selecting buckets [start, end] (days, both included).
    window_params: Callable[[date, date], list[tuple[str, str]]]
    # (start, end) of one bucket object as aware UTC datetimes.
    bucket_bounds: Callable[[dict], tuple[datetime, datetime]]
    auth_headers: Callable[[str], dict[str, str]]
    # What to do when the key is refused; names the env var, never the key.
    key_advice: str

    def endpoint(self, name: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(name)

    def endpoint_for_file(self, file_name: str) -> Endpoint | None:
        """The endpoint a saved page belongs to: its file name starts with the endpoint name."""
        matches = [e for e in self.endpoints if file_name.startswith(e.name)]
        return max(matches, key=lambda e: len(e.name)) if matches else None
