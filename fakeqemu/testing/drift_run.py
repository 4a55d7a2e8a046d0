"""One run under schema drift: the hook that mutates each fake a test (or a command) gets.

    run = DriftRun([Mutation.parse("drop:ram.dirty-sync-count")])
    ThreadedFakeQemu(config, hooks=[run.attach])      # the fixtures do this per test

Each fake gets a :class:`~fakeqemu.drift.transform.Drift` on every session it opens
(the sessions' ``message_transforms``), and a ``shape`` mutation switches its machine
to the other shape (its configuration, which the test sees, stays as it was).
Every message is held to the mutated contract by a strict-mode monitor of the run's
own, so a broken message is reported as the fake's mistake, not the tool's.
``record=True`` keeps what each fake sent, for deciding later which mutations could
have changed anything in this run.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from fakeqemu.contracts.errors import ContractError
from fakeqemu.drift.mutation import Mutation
from fakeqemu.drift.paths import copy_message, target_of
from fakeqemu.drift.transform import SCHEMA_COMMAND, Drift
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.protocol.session import QmpSession
from fakeqemu.testing.strict import ContractMonitor, role_of

#: What a run records of each message: which fake, its role, the name, the message.
Traced = tuple[str, str, str | None, dict[str, Any]]


class DriftRun:
    """The mutations of one run, over every fake it makes; what they changed, and where."""

    def __init__(self, mutations: Sequence[Mutation] = (), *, record: bool = False) -> None:
        self.mutations = tuple(mutations)
        self.record = record
        self._lock = threading.Lock()  # threaded fakes report from their own thread
        #: Mutation -> where it changed a message (``destination completed``...).
        self.exercised: dict[Mutation, set[str]] = {}
        #: With ``record``: what each fake sent, in order (messages drift may change).
        self.trace: list[Traced] = []
        self.monitor = ContractMonitor(collect=True)
        self._fakes = 0

    def attach(self, fake: FakeQemu) -> None:
        """A hook for fake factories: mutate what ``fake`` sends from now on."""
        with self._lock:
            self._fakes += 1
            key = f"fake-{self._fakes}"
        role = role_of(fake)
        if self.record:
            fake.session_observers.append(lambda session: self._trace(session, key, role))
        if not self.mutations:
            return
        for mutation in self.mutations:
            if mutation.kind == "shape":
                # The machine answers in the other shape; the configuration the test reads
                # (and its handles report) stays the one the test asked for.
                fake.vm.shape = mutation.ends[1]
        drift = Drift(
            self.mutations,
            profile=fake.config.profile,
            shape=fake.config.shape,
            role=role,
            on_change=self._changed,
        )
        fake.session_observers.append(lambda session: session.message_transforms.append(drift))
        self.monitor.attach(fake)

    def _changed(self, mutation: Mutation, context: str) -> None:
        with self._lock:
            self.exercised.setdefault(mutation, set()).add(context)

    def _trace(self, session: QmpSession, key: str, role: str) -> None:
        def keep(name: str | None, message: dict[str, Any]) -> None:
            target = target_of(name, message)
            if target is not None:
                kept = copy_message(target, message)
            elif name == SCHEMA_COMMAND and "return" in message:
                kept = {"return": []}  # only that it was asked matters (shape mutations)
            else:
                return
            with self._lock:
                self.trace.append((key, role, name, kept))

        session.message_observers.append(keep)

    def violations(self) -> list[ContractError]:
        """Messages that broke the mutated contract (the fake's mistakes), once."""
        return self.monitor.take()
