"""Serve fake QEMUs from a background thread, for callers that are not trio programs.

The thread's trio loop runs on a :class:`trio.testing.MockClock`: at rate 1 it
keeps real time, at rate 10 every timer of the fakes (migration windows,
``total-time``) runs ten times faster, and :meth:`TrioThread.advance` jumps it
forward, so a test can move a migration along without waiting for it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import trio
import trio.testing

from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.serve import Listening, serve

T = TypeVar("T")

#: How long start and stop may take before the thread counts as stuck.
THREAD_TIMEOUT = 10.0


class VirtualWallClock:
    """Event timestamps that move with the fake's clock, virtual or not.

    QEMU stamps events with the wall clock.  When a test jumps the fake's
    clock by 60 s, events after the jump must be 60 s later too, or a client
    that measures a migration by its events would see it take milliseconds.
    Outside a trio loop (no current time to follow) it is the plain wall clock.
    """

    def __init__(self) -> None:
        self._origin: tuple[float, float] | None = None

    def __call__(self) -> float:
        try:
            now = trio.current_time()
        except RuntimeError:
            return time.time()
        if self._origin is None:
            self._origin = (time.time(), now)
        wall, virtual = self._origin
        return wall + (now - virtual)


async def advance_clock(clock: trio.testing.MockClock, seconds: float) -> None:
    """Jump ``clock`` ``seconds`` forward, stopping at every timer on the way.

    At each stop the fakes run until they are idle: a migration window fires
    at its own time and the peer receives its pages at that time too.  One big
    jump would fire every window at the end, and a destination would measure
    the whole stream as arriving 60 s late.  Returns with the fakes idle.
    """
    if seconds < 0:
        raise ValueError(f"cannot advance by a negative time ({seconds} s)")
    target = clock.current_time() + seconds
    while True:
        await trio.testing.wait_all_tasks_blocked()
        now = clock.current_time()
        step = trio.lowlevel.current_statistics().seconds_to_next_deadline
        if now + step >= target:
            clock.jump(max(0.0, target - now))
            await trio.testing.wait_all_tasks_blocked()
            return
        # A clock with a rate may have passed the deadline already: jump 0, it fires.
        clock.jump(max(0.0, step))


class StartStop:
    """``with`` starts it and stops it, whatever happens inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class TrioThread(StartStop):
    """A trio loop on a daemon thread, hosting any number of fakes on one clock.

    ``with TrioThread(speed=10) as loop: listening = loop.serve(fake, endpoints)``
    """

    def __init__(self, *, speed: float = 1.0, name: str = "fakeqemu") -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.clock = trio.testing.MockClock(rate=speed)
        self._name = name
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=THREAD_TIMEOUT):
            raise TimeoutError(f"the fakeqemu thread did not start within {THREAD_TIMEOUT} s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._ready.set()
                await trio.sleep_forever()

        try:
            trio.run(main, clock=self.clock)
        except BaseException as error:  # reported to whoever stops the thread
            self._error = error
        finally:
            self._ready.set()

    def run_sync(self, function: Callable[..., T], *args: Any) -> T:
        """Call ``function`` in the loop's thread: the fakes are not thread-safe."""
        return trio.from_thread.run_sync(function, *args, trio_token=self._require_token())

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an async ``function`` in the loop and wait for its result."""
        return trio.from_thread.run(function, *args, trio_token=self._require_token())

    def _require_token(self) -> trio.lowlevel.TrioToken:
        if self._token is None or not self.running:
            raise RuntimeError("the fakeqemu thread is not running")
        return self._token

    def serve(self, fake: FakeQemu, endpoints: list[Endpoint]) -> Listening:
        """Start serving ``fake`` in the loop; returns once its monitors listen."""
        nursery = self._nursery
        assert nursery is not None, "not started"
        listening: Listening = self.run(nursery.start, serve, fake, endpoints)
        return listening

    def advance(self, seconds: float) -> None:
        """Move the fakes' clock ``seconds`` forward, timer by timer (see :func:`advance_clock`)."""
        self.run(advance_clock, self.clock, seconds)

    def stop(self) -> None:
        """Cancel every fake (unix socket files are removed), join the thread.

        Re-raises what crashed the loop, if anything did.
        """
        thread = self._thread
        if thread is None:
            return
        nursery = self._nursery
        if thread.is_alive() and self._token is not None and nursery is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(nursery.cancel_scope.cancel, trio_token=self._token)
        thread.join(timeout=THREAD_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"the fakeqemu thread did not stop within {THREAD_TIMEOUT} s")
        self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error
