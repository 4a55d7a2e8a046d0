"""What ``qemu-system-x86_64`` would get on its command line, as one frozen value.

Each field is a row of :data:`fakeqemu.fake.options.CONFIG_OPTIONS`: its default,
help, flag and parser are stated there once, and the field's metadata carries the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.fake.options import OPTIONS
from fakeqemu.vocabulary import SHAPES


def _declared(name: str) -> Any:
    """The dataclass field of the option ``name``: its default and, as metadata, its row."""
    option = OPTIONS[name]
    metadata = {"option": option}
    if isinstance(option.default, Mapping):
        return field(default_factory=lambda: dict(option.default), metadata=metadata)
    return field(default=option.default, metadata=metadata)


@dataclass(frozen=True)
class FakeQemuConfig:
    """What ``qemu-system-x86_64`` would get on its command line.

    The release is checked when a fake is made from it, against that fake's catalog
    of profiles (:class:`~fakeqemu.profiles.catalog.Catalog`).
    """

    #: The QEMU release to imitate: ``7.2``, ``10.0``, ``11.1``.
    profile: str = _declared("profile")
    #: ``old``: today's releases; ``new``: the destination-stats patch.
    shape: str = _declared("shape")
    #: ``-name``
    name: str | None = _declared("name")
    #: ``-S``
    start_paused: bool = _declared("start_paused")
    #: ``-incoming defer`` or ``-incoming URI``
    incoming: str | None = _declared("incoming")
    #: ``-m``: guest RAM in bytes.
    memory: int = _declared("memory")
    #: Where migration numbers come from: ``model``, ``faker``, ``replay:PATH``, any name
    #: in the ``fakeqemu.backends`` entry-point group, or ``module:Class``.
    backend: str = _declared("backend")
    #: ``--backend-opt KEY=VALUE``, for the backend.
    backend_options: Mapping[str, str] = _declared("backend_options")
    #: ``--seed``: for backends that make numbers up (``faker``).
    seed: int | None = _declared("seed")

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {', '.join(SHAPES)}")
        if isinstance(self.memory, bool) or not isinstance(self.memory, int) or self.memory <= 0:
            raise ValueError(f"memory is a positive number of bytes, got {self.memory!r}")
