"""RAM-counter backends: where the numbers of a migration come from.

``model`` (the default) is closed-form and deterministic, ``faker`` makes up
reproducible workloads from a seed, and ``replay`` plays a recorded migration back.
See :mod:`fakeqemu.backends.interface` for what a backend is, and
:mod:`fakeqemu.backends.registry` for how one is chosen.
"""

from fakeqemu.backends.interface import (
    BackendFactory,
    BackendInputs,
    Limits,
    RamBackend,
    RamCounters,
    ReceiveBackend,
    ReceivedPages,
    ThrottleSettings,
    XbzrleCounters,
)
from fakeqemu.backends.options import BackendError
from fakeqemu.backends.registry import (
    ENTRY_POINT_GROUP,
    BackendChoice,
    known_backends,
    load_backend,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendChoice",
    "BackendError",
    "BackendFactory",
    "BackendInputs",
    "Limits",
    "RamBackend",
    "RamCounters",
    "ReceiveBackend",
    "ReceivedPages",
    "ThrottleSettings",
    "XbzrleCounters",
    "known_backends",
    "load_backend",
]
