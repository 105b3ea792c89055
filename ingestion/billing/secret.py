"""An API key that cannot leak through repr, str, logging or pickling by accident."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiKey:
    """Holds an admin key; only `reveal()` returns it, and only the auth hook calls that."""

    _value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self._value, str) or not self._value.strip():
            raise ValueError("an API key must be a non-empty string")

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """Remove the key from text that may echo it (provider error bodies, exception text)."""
        return text.replace(self._value, "***") if text else text

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__

    def __reduce__(self):
        # Pickling would write the key into run storage (Dagster, multiprocessing): refuse.
        raise TypeError("ApiKey cannot be pickled")
