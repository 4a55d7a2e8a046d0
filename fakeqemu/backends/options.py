"""``--backend-opt KEY=VALUE``: typed reads, and a clear error for a key nobody reads."""

from __future__ import annotations

from collections.abc import Mapping

from fakeqemu.errors import FakeQemuError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class BackendError(FakeQemuError):
    """A backend cannot be found, loaded or configured as asked."""


def parse_size(text: str) -> int:
    """``4096``, ``512K``, ``1.5G``, ``2TiB``: bytes (binary units, like QEMU's sizes)."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in "KMGT" else ""
    number = value[: len(value) - len(unit)]
    try:
        size = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"expected a size like 4096, 512K or 1.5G, got {text!r}") from None
    if size < 0:
        raise ValueError(f"a size cannot be negative, got {text!r}")
    return int(size)


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
