"""What the pytest fixtures yield: a served fake, where it listens, and controls.

Two flavours share one interface.  :class:`TrioFakeQemuHandle` lives in a trio
test's own nursery and clock: ``await fake.advance(60)`` under pytest-trio's
``autojump_clock`` takes milliseconds.  :class:`ThreadedFakeQemuHandle` runs in a
background :class:`~fakeqemu.testing.TrioThread` for plain and asyncio tests,
and its controls are synchronous.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import trio
import trio.testing

from fakeqemu.backends import BackendChoice, BackendFactory
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.journal import Journal
from fakeqemu.fake.options import FIXTURE_OPTIONS, OPTIONS, SPEED
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.server.serve import Endpoint, Listening, serve
from fakeqemu.testing import TrioThread, VirtualWallClock, advance_clock

T = TypeVar("T")

#: What QEMU reports when the destination resets the migration connection.
DEFAULT_FAILURE = "Unable to write to socket: Connection reset by peer"
#: How often ``wait_for_migration`` looks at the migration, in the fake's seconds.
POLL_INTERVAL = 0.05
#: A migration that has not got there after an hour of the fake's time never will.
MAX_WAIT = 3600.0


_FIXTURE_FIELDS = frozenset(option.name for option in (*FIXTURE_OPTIONS, SPEED))


@dataclass(frozen=True)
class FakeSettings:
    """How a fixture starts its fakes: a configuration, and what the fixtures add to it.

    Every field is a row of :mod:`fakeqemu.fake.options` (the marker's keywords are
    those rows' names); :meth:`from_keywords` reads them as the marker gives them.
    """

    #: The fakes' configuration; ``incoming`` is set per role.
    base: FakeQemuConfig = field(default_factory=FakeQemuConfig)
    #: ``source``: a running guest; ``destination``: started with ``--incoming defer``.
    role: str = OPTIONS["role"].default
    #: Where the monitor listens: a unix socket, or TCP on a free loopback port.
    monitor: str = OPTIONS["monitor"].default
    #: Threaded fakes only: how much faster than real time their clock runs.
    speed: float = SPEED.default

    def __post_init__(self) -> None:
        for option in FIXTURE_OPTIONS:
            value = getattr(self, option.name)
            if option.choices is not None and value not in option.choices:
                raise ValueError(
                    f"unknown {option.name} {value!r}; expected one of {', '.join(option.choices)}"
                )
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    @classmethod
    def from_keywords(cls, **keywords: Any) -> FakeSettings:
        """Settings from the marker's keywords: any field of FakeQemuConfig but
        ``incoming``, and the fixtures' own; text is read as the command line reads it
        (``memory="4G"``)."""
        values = {name: OPTIONS[name].value(value) for name, value in keywords.items()}
        own = {name: values.pop(name) for name in list(values) if name in _FIXTURE_FIELDS}
        return cls(FakeQemuConfig(**values), **own)

    def replace(self, **keywords: Any) -> FakeSettings:
        """These settings with ``keywords`` changed, as :meth:`from_keywords` reads them."""
        current = {name: getattr(self.base, name) for name in OPTIONS if hasattr(self.base, name)}
        current.update((name, getattr(self, name)) for name in _FIXTURE_FIELDS)
        current.pop("incoming")
        return FakeSettings.from_keywords(**{**current, **keywords})

    @property
    def profile(self) -> str:
        return self.base.profile

    @property
    def shape(self) -> str:
        return self.base.shape

    def config(self, role: str) -> FakeQemuConfig:
        return replace(self.base, incoming="defer" if role == "destination" else None)

    def endpoint(self, directory: str, stem: str) -> Endpoint:
        if self.monitor == "tcp":
            return Endpoint("tcp", host="127.0.0.1", port=0)
        return Endpoint("unix", path=os.path.join(directory, f"{stem}.sock"))


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


class FakeQemuHandle:
    """One served fake: ``address``, ``profile``, ``shape``, ``role``, ``journal``."""

    def __init__(self, fake: FakeQemu, listening: Listening, role: str, journal: Journal) -> None:
        self.fake = fake
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


class ThreadedFakeQemuHandle(FakeQemuHandle):
    """A fake served by a background trio thread; its controls block until done."""

    def __init__(
        self,
        fake: FakeQemu,
        listening: Listening,
        role: str,
        journal: Journal,
        loop: TrioThread,
    ) -> None:
        super().__init__(fake, listening, role, journal)
        self.loop = loop

    def _in_loop(self, function: Callable[..., T], *args: Any) -> T:
        return self.loop.run_sync(function, *args)

    def advance(self, seconds: float) -> None:
        """Jump the fake's clock (shared by every fake of this fixture) ``seconds`` forward."""
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

    source: ThreadedFakeQemuHandle
    destination: ThreadedFakeQemuHandle

    def advance(self, seconds: float) -> None:
        self.source.advance(seconds)


@dataclass
class TrioFakeQemuPair:
    """A source and a ``--incoming defer`` destination in the test's nursery."""

    source: TrioFakeQemuHandle
    destination: TrioFakeQemuHandle

    async def advance(self, seconds: float) -> None:
        await self.source.advance(seconds)


def _short_directory() -> str:
    # Unix socket paths must fit in 108 bytes: pytest's tmp_path often does not.
    return tempfile.mkdtemp(prefix="fakeqemu-")


def _new_fake(settings: FakeSettings, role: str) -> tuple[FakeQemu, Journal]:
    fake = FakeQemu(settings.config(role), wall_clock=VirtualWallClock())
    return fake, Journal.attach(fake)


class TrioFakeGroup:
    """Fakes served in one nursery, their sockets in one short-lived directory."""

    def __init__(self, nursery: trio.Nursery, settings: FakeSettings, directory: str) -> None:
        self.settings = settings
        self._nursery = nursery
        self._directory = directory
        self._started = 0

    async def start(self, role: str, settings: FakeSettings | None = None) -> TrioFakeQemuHandle:
        settings = settings or self.settings
        fake, journal = _new_fake(settings, role)
        self._started += 1
        endpoint = settings.endpoint(self._directory, f"{role}-{self._started}")
        listening: Listening = await self._nursery.start(serve, fake, [endpoint])
        return TrioFakeQemuHandle(fake, listening, role, journal, self)


@asynccontextmanager
async def open_trio_fakes(settings: FakeSettings) -> AsyncIterator[TrioFakeGroup]:
    directory = _short_directory()
    try:
        async with trio.open_nursery() as nursery:
            yield TrioFakeGroup(nursery, settings, directory)
            nursery.cancel_scope.cancel()
    finally:
        # serve() removed its socket files; this removes what a test put next to them.
        shutil.rmtree(directory, ignore_errors=True)


class ThreadedFakeGroup:
    """Fakes on one background trio thread (one clock), sockets in one directory."""

    def __init__(self, loop: TrioThread, settings: FakeSettings, directory: str) -> None:
        self.settings = settings
        self.loop = loop
        self._directory = directory
        self._started = 0

    def start(self, role: str) -> ThreadedFakeQemuHandle:
        fake, journal = _new_fake(self.settings, role)
        self._started += 1
        endpoint = self.settings.endpoint(self._directory, f"{role}-{self._started}")
        listening = self.loop.serve(fake, [endpoint])
        return ThreadedFakeQemuHandle(fake, listening, role, journal, self.loop)


@contextmanager
def threaded_fakes(settings: FakeSettings) -> Iterator[ThreadedFakeGroup]:
    directory = _short_directory()
    try:
        with TrioThread(speed=settings.speed) as loop:
            yield ThreadedFakeGroup(loop, settings, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
