"""The suite's strict contracts: one monitor, and every fake the tests make watched by it.

``tests/conftest.py`` reports what the monitor collects, per test.  A test makes its
fakes with :func:`make_fake`, hands :data:`STRICT_HOOKS` to helpers that make their
own (``ThreadedFakeQemu``, ``fake_machines``), and the fixtures get them from the
``fakeqemu_hooks`` fixture that the conftest overrides; ``test_strict.py`` checks
that no test makes a fake another way.  Nothing global is patched.
"""

from __future__ import annotations

from typing import Any

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.testing.handles import FakeHook
from fakeqemu.testing.strict import ContractMonitor

MONITOR = ContractMonitor(collect=True)
#: For the helpers that create fakes themselves.
STRICT_HOOKS: tuple[FakeHook, ...] = (MONITOR.attach,)


def make_fake(config: FakeQemuConfig | None = None, **options: Any) -> FakeQemu:
    """``FakeQemu(config, **options)``, held to its contract by :data:`MONITOR`."""
    fake = FakeQemu(config or FakeQemuConfig(), **options)
    MONITOR.attach(fake)
    return fake
