"""What the pytest fixtures yield: a served fake, where it listens, and controls.

Two flavours share one interface (:class:`FakeQemuHandle`).  :class:`TrioFakeQemuHandle`
lives in a trio test's own nursery and clock: ``await fake.advance(60)`` under
pytest-trio's ``autojump_clock`` takes milliseconds.  The threaded one,
:class:`~fakeqemu.testing.threaded.ThreadedFakeQemu`, runs in a background
:class:`~fakeqemu.server.thread.TrioThread` for plain and asyncio tests, and its
controls are synchronous.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import trio
import trio.testing

from fakeqemu.backends import BackendChoice, BackendFactory
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.journal import Journal
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.server.serve import Listening, serve
from fakeqemu.server.thread import VirtualWallClock, advance_clock
from fakeqemu.testing.settings import FakeSettings

T = TypeVar("T")

#: What QEMU reports when the destination resets the migration connection.
DEFAULT_FAILURE = "Unable to write to socket: Connection reset by peer"
#: How often ``wait_for_migration`` looks at the migration, in the fake's seconds.
POLL_INTERVAL = 0.05
#: A migration that has not got there after an hour of the fake's time never will.
MAX_WAIT = 3600.0


def _migration_status(vm: VirtualMachine, role: str) -> str:
    if role == "destination":
        incoming = vm.incoming_migration
        return "none" if incoming is None else incoming.status
    return vm.source_status


def _fail_migration(vm: VirtualMachine, error: str) -> None:
    outgoing = vm.outgoing
    if outgoing is None or not outgoing.is_running:
        raise RuntimeError(
            f"fakeqemu: no outgoing migration is running (status {vm.source_status!r}); "
            "fail_migration() fails the source, and the destination fails as QEMU's "
            "does when the stream breaks"
        )
    outgoing.fail(vm.clock(), error)
    if vm.transport is not None:
        vm.transport.wake()  # the migration task stops at once, closing the stream


def _set_backend(vm: VirtualMachine, choice: BackendChoice) -> None:
    previous, vm.backend = vm.backend, choice
    try:
        vm.check_backend()  # a backend that cannot start fails here, not at `migrate`
    except Exception:
        vm.backend = previous
        raise


def backend_choice(
    backend: str | BackendFactory | BackendChoice,
    options: Mapping[str, str] | None = None,
    seed: int | None = None,
) -> BackendChoice:
    """A name (``faker``, ``replay:PATH``, ``module:Class``), a factory, or a ready choice."""
    if isinstance(backend, BackendChoice):
        if options is not None or seed is not None:
            raise ValueError("give options and seed in the BackendChoice itself")
        return backend
    if isinstance(backend, str):
        return BackendChoice.from_spec(backend, options, seed)
    name = getattr(backend, "__name__", repr(backend))
    return BackendChoice(backend, dict(options or {}), seed, spec=name)


#: Called with each fake a helper creates, before it serves (strict contracts use it).
FakeHook = Callable[[FakeQemu], None]


def new_fake(config: FakeQemuConfig, hooks: Sequence[FakeHook] = ()) -> tuple[FakeQemu, Journal]:
    """A fake for a test: event times follow its clock, a journal records what it serves."""
    fake = FakeQemu(config, wall_clock=VirtualWallClock())
    journal = Journal.attach(fake)
    for hook in hooks:
        hook(fake)
    return fake, journal


class FakeQemuHandle:
    """One served fake: ``address``, ``profile``, ``shape``, ``role``, ``journal``."""

    def __init__(
        self, fake: FakeQemu, listening: Listening | None, role: str, journal: Journal
    ) -> None:
        self.fake = fake
        #: Where it listens, once it does.
        self.listening = listening
        self.role = role
        self.journal = journal

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.profile}-{self.shape} {self.role} at {self.address!r}>"
        )

    @property
    def address(self) -> str | tuple[str, int]:
        """A unix socket path or (host, port): what ``QMPClient.connect`` takes."""
        assert self.listening is not None, "not started"
        return self.listening.sockets[0]

    @property
    def profile(self) -> str:
        return self.fake.config.profile

    @property
    def shape(self) -> str:
        return self.fake.config.shape

    @property
    def vm(self) -> VirtualMachine:
        """The model behind the monitor; read it from the fake's loop (see ``_in_loop``)."""
        return self.fake.vm

    @property
    def migration_status(self) -> str:
        """This side's migration status as the model has it (``none`` before any)."""
        return self._in_loop(_migration_status, self.vm, self.role)

    @property
    def exit_status(self) -> int | None:
        """Set when the process would have exited (a failed incoming migration: 1)."""
        return self.vm.exit_status

    def set_backend(
        self,
        backend: str | BackendFactory | BackendChoice,
        *,
        options: Mapping[str, str] | None = None,
        seed: int | None = None,
    ) -> None:
        """Use another RAM-counter backend for the migrations that start from now on.

        ``backend`` is what ``fakeqemu serve --backend`` takes (``model``,
        ``faker``, ``replay:PATH``, ``module:Class``) or a backend factory (see
        :mod:`fakeqemu.backends`); ``options`` are its ``--backend-opt`` pairs,
        e.g. ``{"zero-share": "0"}``.
        """
        choice = backend_choice(backend, options, seed)
        self._in_loop(_set_backend, self.vm, choice)

    def fail_migration(self, error: str = DEFAULT_FAILURE) -> None:
        """Fail the running outgoing migration with ``error`` as its ``error-desc``."""
        self._in_loop(_fail_migration, self.vm, error)

    def _in_loop(self, function: Callable[..., T], *args: Any) -> T:
        return function(*args)


class TrioFakeQemuHandle(FakeQemuHandle):
    """A fake served in the current trio run: controls run on the test's own clock."""

    def __init__(
        self,
        fake: FakeQemu,
        listening: Listening,
        role: str,
        journal: Journal,
        group: TrioFakeGroup,
    ) -> None:
        super().__init__(fake, listening, role, journal)
        self._group = group

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of the fake's time pass.

        Under ``autojump_clock`` this is a sleep that the clock skips through
        (every migration window still happens, in virtual time); under a
        ``mock_clock`` that never jumps by itself, jumps from timer to timer;
        otherwise a real sleep.
        """
        clock = trio.lowlevel.current_clock()
        if isinstance(clock, trio.testing.MockClock) and clock.autojump_threshold == math.inf:
            await advance_clock(clock, seconds)
        else:
            await trio.sleep(seconds)

    async def wait_for_migration(self, *statuses: str) -> str:
        """Wait until this side's migration reaches one of ``statuses``; returns it.

        Gives up after an hour of the fake's time (milliseconds under
        ``autojump_clock``); wrap it in ``trio.fail_after`` for a shorter limit.
        """
        with trio.fail_after(MAX_WAIT):
            # Polling, like a client: not every status change raises an event.
            while (status := self.migration_status) not in statuses:  # noqa: ASYNC110
                await trio.sleep(POLL_INTERVAL)
        return status

    async def start_peer(self, role: str = "destination", **changes: Any) -> TrioFakeQemuHandle:
        """Another fake in the same nursery: same settings unless ``changes`` says otherwise."""
        return await self._group.start(role, self._group.settings.replace(**changes))


@dataclass
class TrioFakeQemuPair:
    """A source and a ``--incoming defer`` destination in the test's nursery."""

    source: TrioFakeQemuHandle
    destination: TrioFakeQemuHandle

    async def advance(self, seconds: float) -> None:
        await self.source.advance(seconds)


def short_directory() -> str:
    # Unix socket paths must fit in 108 bytes: pytest's tmp_path often does not.
    return tempfile.mkdtemp(prefix="fakeqemu-")


class TrioFakeGroup:
    """Fakes served in one nursery, their sockets in one short-lived directory."""

    def __init__(
        self,
        nursery: trio.Nursery,
        settings: FakeSettings,
        directory: str,
        hooks: Sequence[FakeHook] = (),
    ) -> None:
        self.settings = settings
        self._hooks = tuple(hooks)
        self._nursery = nursery
        self._directory = directory
        self._started = 0

    async def start(self, role: str, settings: FakeSettings | None = None) -> TrioFakeQemuHandle:
        settings = settings or self.settings
        fake, journal = new_fake(settings.config(role), self._hooks)
        self._started += 1
        endpoint = settings.endpoint(self._directory, f"{role}-{self._started}")
        listening: Listening = await self._nursery.start(serve, fake, [endpoint])
        return TrioFakeQemuHandle(fake, listening, role, journal, self)


@asynccontextmanager
async def open_trio_fakes(
    settings: FakeSettings, hooks: Sequence[FakeHook] = ()
) -> AsyncIterator[TrioFakeGroup]:
    directory = short_directory()
    try:
        async with trio.open_nursery() as nursery:
            yield TrioFakeGroup(nursery, settings, directory, hooks)
            nursery.cancel_scope.cancel()
    finally:
        # serve() removed its socket files; this removes what a test put next to them.
        shutil.rmtree(directory, ignore_errors=True)
