"""The threaded fake: one :class:`ThreadedFakeQemu` for scripts, plain and asyncio tests.

``with ThreadedFakeQemu(config) as fake:`` serves a fake on a background trio
thread of its own; ``fake.address`` is ready for ``qemu.qmp``'s ``QMPClient`` once
the block is entered.  The fixtures start several on one shared thread (one clock,
so a source and its destination move together): ``fakeqemu_threaded`` and
``fakeqemu_pair`` yield these same objects.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.thread import StartStop, TrioThread
from fakeqemu.testing.handles import FakeHook, FakeQemuHandle, new_fake, short_directory
from fakeqemu.testing.settings import FakeSettings
from fakeqemu.vocabulary import Role

T = TypeVar("T")


class ThreadedFakeQemu(FakeQemuHandle, StartStop):
    """A fake served by a background trio thread; its controls block until done.

    ``endpoints`` default to a unix socket in a new temporary directory (removed on
    :meth:`stop`).  ``loop``: a running :class:`TrioThread` shared with other fakes
    (its owner stops it); without one, the fake gets a thread of its own, whose clock
    runs ``speed`` times faster than real time.  ``hooks`` are called with the new
    :class:`~fakeqemu.fake.qemu.FakeQemu` before it serves.
    """

    def __init__(
        self,
        config: FakeQemuConfig | None = None,
        endpoints: Sequence[Endpoint] | None = None,
        *,
        speed: float = 1.0,
        loop: TrioThread | None = None,
        hooks: Sequence[FakeHook] = (),
    ) -> None:
        config = config or FakeQemuConfig()
        fake, journal = new_fake(config, hooks)
        role = Role.SOURCE if config.incoming is None else Role.DESTINATION
        super().__init__(fake, None, str(role), journal)
        self._owns_loop = loop is None
        self.loop = TrioThread(speed=speed) if loop is None else loop
        self._directory: str | None = None
        if endpoints is None:
            self._directory = short_directory()
            endpoints = [Endpoint("unix", path=os.path.join(self._directory, "qmp.sock"))]
        self._endpoints = list(endpoints)

    def start(self) -> None:
        """Serve (starting the thread, if it is the fake's own); returns once it listens."""
        if self._owns_loop:
            self.loop.start()
        try:
            self.listening = self.loop.serve(self.fake, self._endpoints)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the fake's own thread (socket files are removed); a shared one goes on."""
        try:
            if self._owns_loop:
                self.loop.stop()
        finally:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)

    def _in_loop(self, function: Callable[..., T], *args: Any) -> T:
        return self.loop.run_sync(function, *args)

    def advance(self, seconds: float) -> None:
        """Jump the fake's clock (shared by every fake on its thread) ``seconds`` forward."""
        self.loop.advance(seconds)

    def wait_for_migration(self, *statuses: str, timeout: float = 30.0) -> str:
        """Wait (in real time) until this side's migration reaches one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while (status := self.migration_status) not in statuses:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"fakeqemu {self.role}: migration still {status!r} after {timeout} s, "
                    f"waiting for {' or '.join(statuses)}"
                )
            time.sleep(0.01)
        return status


@dataclass
class FakeQemuPair:
    """A source and a ``--incoming defer`` destination on one background clock."""

    source: ThreadedFakeQemu
    destination: ThreadedFakeQemu

    def advance(self, seconds: float) -> None:
        self.source.advance(seconds)


class ThreadedFakeGroup:
    """Fakes on one background trio thread (one clock), sockets in one directory."""

    def __init__(
        self,
        loop: TrioThread,
        settings: FakeSettings,
        directory: str,
        hooks: Sequence[FakeHook] = (),
    ) -> None:
        self.settings = settings
        self.loop = loop
        self._directory = directory
        self._hooks = tuple(hooks)
        self._started = 0

    def start(self, role: str) -> ThreadedFakeQemu:
        self._started += 1
        endpoint = self.settings.endpoint(self._directory, f"{role}-{self._started}")
        config = self.settings.config(role)
        fake = ThreadedFakeQemu(config, [endpoint], loop=self.loop, hooks=self._hooks)
        fake.start()
        return fake


@contextmanager
def threaded_fakes(
    settings: FakeSettings, hooks: Sequence[FakeHook] = ()
) -> Iterator[ThreadedFakeGroup]:
    directory = short_directory()
    try:
        with TrioThread(speed=settings.speed) as loop:
            yield ThreadedFakeGroup(loop, settings, directory, hooks)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
