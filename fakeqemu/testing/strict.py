"""Strict mode: every message a fake sends is held against its own contract.

    monitor = attach_strict_contracts(fake)   # raises ContractError on a bad message

watches the sessions ``fake`` opens from now on, through the fake's own
``session_observers``: nothing outside that fake changes.  One monitor may watch
many fakes: :meth:`ContractMonitor.attach` is a hook for the helpers that create
them (the fixtures take it from ``fakeqemu_hooks``; fakeqemu's own suite holds
every fake to its contract so, in ``tests/conftest.py``), and with ``collect`` it
keeps violations instead of raising them inside the server, so a test can fail
with all of them at its end.

Greetings, replies and events are checked against their envelopes;
``query-migrate`` replies against the fake's profile, shape and role (a fake
started with ``incoming`` is a destination, any other a source), and
``MIGRATION``/``MIGRATION_PASS`` against their event schemas.  A message a fault made
on purpose (an injected error, ``query-migrate`` without ``ram``, an injected event:
``fake.faults.deliberate(message)``) is let through; every other is still checked.
A session whose
messages drift (:class:`fakeqemu.drift.transform.Drift` among its transforms) is held
to the mutated contract instead, which knows what each mutation changes.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from fakeqemu.contracts.errors import ContractError
from fakeqemu.contracts.validator import problems
from fakeqemu.drift.transform import Drift
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.protocol.encoder import encode_value
from fakeqemu.protocol.session import QmpSession


def role_of(fake: FakeQemu) -> str:
    return "destination" if fake.config.incoming is not None else "source"


class ContractMonitor:
    """Checks messages; raises at once, or collects when ``collect`` is set."""

    def __init__(self, *, collect: bool = False) -> None:
        self.collect = collect
        #: Off for tests that send broken messages on purpose.
        self.enabled = True
        self.violations: list[ContractError] = []
        self._lock = threading.Lock()  # threaded fakes report from their own thread
        #: A fake's greeting never changes: check it once per fake, not per session.
        self._greeted: weakref.WeakSet[FakeQemu] = weakref.WeakSet()

    def check(
        self,
        fake: FakeQemu,
        name: str | None,
        message: dict[str, Any],
        session: QmpSession | None = None,
    ) -> None:
        if not self.enabled or fake.faults.deliberate(message) is not None:
            return  # off, or a fault broke the contract on purpose (this message only)
        config = fake.config
        transforms = () if session is None else session.message_transforms
        drift = next((t for t in transforms if isinstance(t, Drift)), None)
        if drift is not None:
            found = drift.problems(message, command=name)
        else:
            found = problems(
                message,
                profile=config.profile,
                shape=config.shape,
                command=name,
                role=role_of(fake) if name == "query-migrate" else None,
            )
        if not found:
            return
        what = name or "message"
        contract = f"{config.profile}/{config.shape}"
        if drift is not None:
            contract += f" drifted by {' + '.join(map(str, drift.mutations))}"
        error = ContractError(
            [f"fakeqemu {contract} sent a {what} that breaks its contract:"]
            + [f"  {problem}" for problem in found]
            # The message as the fake would print it: repr() recurses, and an echoed id
            # may nest 1,023 levels deep.
            + [f"  message: {encode_value(message)}"]
        )
        if not self.collect:
            raise error
        with self._lock:
            self.violations.append(error)

    def watch(self, fake: FakeQemu, session: QmpSession) -> None:
        """Check ``session``'s messages from now on, and ``fake``'s greeting once."""
        if self.enabled and fake not in self._greeted:
            self.check(fake, None, fake.greeting(session.oob_offered))
            self._greeted.add(fake)
        session.message_observers.append(
            lambda name, message: self.check(fake, name, message, session)
        )

    def attach(self, fake: FakeQemu) -> None:
        """Watch every session ``fake`` opens from now on (a hook for fake factories)."""
        fake.session_observers.append(lambda session: self.watch(fake, session))

    def take(self) -> list[ContractError]:
        """The violations collected so far; the list is emptied."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken


def attach_strict_contracts(
    fake: FakeQemu, monitor: ContractMonitor | None = None
) -> ContractMonitor:
    """Watch every session ``fake`` opens from now on; returns the monitor."""
    monitor = monitor or ContractMonitor()
    monitor.attach(fake)
    return monitor
