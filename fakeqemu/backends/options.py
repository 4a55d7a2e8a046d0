"""``--backend-opt KEY=VALUE``: typed reads, and a clear error for a key nobody reads."""

from __future__ import annotations

from collections.abc import Mapping

from fakeqemu.errors import FakeQemuError
from fakeqemu.sizes import parse_size


class BackendError(FakeQemuError):
    """A backend cannot be found, loaded or configured as asked."""


class BackendOptions:
    """The options given to one backend, checked against the ones it knows.

    ``known`` maps each option to a one-line description, shown when a key is unknown.
    """

    def __init__(self, backend: str, options: Mapping[str, str], known: Mapping[str, str]):
        unknown = sorted(set(options) - set(known))
        if unknown:
            listing = "; ".join(f"{key}: {text}" for key, text in sorted(known.items()))
            raise BackendError(
                f"backend {backend!r} has no option {', '.join(unknown)}"
                f" (its options: {listing or 'none'})"
            )
        self._backend = backend
        self._options = dict(options)

    def __contains__(self, key: str) -> bool:
        return key in self._options

    def _read(self, key: str, parse: type[float] | type[int], text: str) -> float:
        try:
            return parse(text)
        except ValueError:
            raise BackendError(
                f"backend {self._backend!r}: option {key}={text!r} is not a number"
            ) from None

    def size(self, key: str, default: int) -> int:
        text = self._options.get(key)
        if text is None:
            return default
        try:
            return parse_size(text)
        except ValueError as error:
            raise BackendError(f"backend {self._backend!r}: option {key}: {error}") from None

    def number(
        self, key: str, default: float, low: float = 0.0, high: float | None = None
    ) -> float:
        text = self._options.get(key)
        if text is None:
            return default
        value = self._read(key, float, text)
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise BackendError(f"backend {self._backend!r}: option {key} must be {bounds}")
        return value

    def text(self, key: str) -> str | None:
        return self._options.get(key)
