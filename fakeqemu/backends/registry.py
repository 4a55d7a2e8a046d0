"""Finding a backend by name, by ``module:Class``, or through the ``fakeqemu.backends`` group.

Names resolve in this order: the built-ins (``model``, ``faker``, ``replay``), then
entry points of the group ``fakeqemu.backends`` from installed distributions, so a
third party ships a backend with one line of packaging metadata::

    [project.entry-points."fakeqemu.backends"]
    mybackend = "mypackage.ram:MyBackend"

``NAME:ARGUMENT`` passes ARGUMENT to a named backend (``replay:PATH``); anything
else with a colon is ``module:attribute``, imported as is.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from fakeqemu.backends.interface import (
    BackendFactory,
    BackendInputs,
    RamBackend,
    ReceiveBackend,
    ReceivedPages,
)
from fakeqemu.backends.options import BackendError
from fakeqemu.vocabulary import Role

if TYPE_CHECKING:
    from importlib import metadata

ENTRY_POINT_GROUP = "fakeqemu.backends"
DEFAULT_BACKEND = "model"

#: The backends fakeqemu ships, also declared as entry points in pyproject.toml; listed
#: here too so that they resolve from a source checkout that was never installed.
BUILTIN: dict[str, str] = {
    "model": "fakeqemu.backends.model:model_backend",
    "faker": "fakeqemu.backends.faker_backend:faker_backend",
    "replay": "fakeqemu.backends.replay:replay_backend",
}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    # Imported here: scanning installed distributions is only needed for a name that is
    # not built in, and `fakeqemu serve` should not pay for it otherwise.
    from importlib import metadata

    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_backends() -> dict[str, str]:
    """Every backend name, with where it comes from (``module:attribute``)."""
    known = {name: ep.value for name, ep in _entry_points().items()}
    known.update(BUILTIN)
    return dict(sorted(known.items()))


def _import(target: str, spec: str) -> BackendFactory:
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise BackendError(f"cannot load backend {spec!r}: {error}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise BackendError(
                f"cannot load backend {spec!r}: module {module_name!r} has no {attribute!r}"
            ) from None
    if not callable(found):
        raise BackendError(f"backend {spec!r} is not callable: {found!r}")
    return cast(BackendFactory, found)


def _named(name: str, spec: str) -> BackendFactory | None:
    if name in BUILTIN:
        return _import(BUILTIN[name], spec)
    entry = _entry_points().get(name)
    if entry is None:
        return None
    try:
        loaded = entry.load()
    except Exception as error:
        raise BackendError(f"cannot load backend {name!r} ({entry.value}): {error}") from error
    return cast(BackendFactory, loaded)


def load_backend(spec: str) -> tuple[BackendFactory, str | None]:
    """The factory ``spec`` names, and the argument after ``NAME:`` if any."""
    factory = _named(spec, spec)
    if factory is not None:
        return factory, None
    head, colon, tail = spec.partition(":")
    if colon:
        factory = _named(head, spec)
        if factory is not None:
            return factory, tail
        if head and tail:
            return _import(spec, spec), None
    names = ", ".join(known_backends())
    raise BackendError(f"unknown backend {spec!r}; known backends: {names} (or module:Class)")


@dataclass(frozen=True)
class BackendChoice:
    """A backend with its options: what a fake uses for every migration it runs."""

    factory: BackendFactory
    options: Mapping[str, str] = field(default_factory=dict)
    seed: int | None = None
    argument: str | None = None
    #: How it was asked for, for messages.
    spec: str = ""

    @classmethod
    def from_spec(
        cls, spec: str, options: Mapping[str, str] | None = None, seed: int | None = None
    ) -> BackendChoice:
        factory, argument = load_backend(spec)
        return cls(factory, dict(options or {}), seed, argument, spec)

    def _make(self, inputs: BackendInputs) -> object:
        inputs = replace(inputs, options=self.options, seed=self.seed, argument=self.argument)
        try:
            return self.factory(inputs)
        except BackendError:
            raise
        except (TypeError, ValueError, OSError) as error:
            raise BackendError(f"backend {self.spec or self.factory!r}: {error}") from error

    def source(self, inputs: BackendInputs) -> RamBackend:
        """The source's backend for ``inputs`` (what the machine knows), with my options."""
        backend = self._make(replace(inputs, role=Role.SOURCE))
        missing = [name for name in SOURCE_MEMBERS if not hasattr(backend, name)]
        if missing:
            raise BackendError(
                f"backend {self.spec or self.factory!r} lacks {', '.join(missing)}"
                " (see fakeqemu.backends.RamBackend)"
            )
        return cast(RamBackend, backend)

    def destination(self, inputs: BackendInputs) -> ReceiveBackend:
        """The destination's backend; one without ``receive`` counts what arrives."""
        backend = self._make(replace(inputs, role=Role.DESTINATION))
        if isinstance(backend, ReceiveBackend):
            return backend
        return ReceivedPages()


#: What a source backend must have (a plain class is checked by name, not by type).
SOURCE_MEMBERS = (
    "total",
    "page_size",
    "sync",
    "transfer",
    "converged",
    "stop",
    "finish",
    "counters",
)


def default_backend() -> BackendChoice:
    from fakeqemu.backends.model import model_backend

    return BackendChoice(model_backend, spec=DEFAULT_BACKEND)
