"""Transport toxics on real sockets, as toxiproxy applies them: the trio side of faults.

The fault engine (:mod:`fakeqemu.model.faults`) says which toxics are in force on a
target (``monitor`` or ``migration``); a :class:`ToxicLink` per connection applies
them to what that connection writes: bandwidth, slicing, closing after N bytes,
resetting it, holding everything while it hangs.  Latency and delayed replies are
per reply, so the monitor connection keeps their times (:class:`HeldOutput`).
"""

from __future__ import annotations

import collections
import contextlib
import math
import socket
import struct
from collections.abc import Callable

import trio

from fakeqemu.model.faults import Fault, FaultEngine

#: A bandwidth toxic writes in pieces of this many seconds' worth.
BANDWIDTH_SLICE = 0.01


class ToxicLink:
    """The toxics one connection sees, and what it has written under them."""

    def __init__(self, engine: FaultEngine, target: str, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.target = target
        self._resets_seen = engine.resets[target]
        #: Bytes written so far.
        self.written = 0
        #: Per close-after fault: what had been written when this link first saw it.
        self._close_bases: dict[str, int] = {}
        self._wake = wake
        engine.on_change.append(wake)

    def close(self) -> None:
        """Stop listening to the engine (the connection ended)."""
        if self._wake in self.engine.on_change:
            self.engine.on_change.remove(self._wake)

    def _toxics(self) -> list[Fault]:
        return self.engine.toxics(self.target) if self.engine.faults else []

    @property
    def reset_due(self) -> bool:
        """A reset fault fired since this connection began."""
        return self.engine.resets[self.target] != self._resets_seen

    @property
    def hung(self) -> bool:
        return any(fault.kind == "hang" for fault in self._toxics())

    def latency(self) -> float:
        """Seconds each write waits after what caused it (the largest latency toxic)."""
        found = [float(f.spec.get("ms")) / 1000 for f in self._toxics() if f.kind == "latency"]
        return max(found, default=0.0)

    def _close_budget(self, toxics: list[Fault]) -> int | None:
        budgets = []
        for fault in toxics:
            if fault.kind == "close-after":
                base = self._close_bases.setdefault(fault.id, self.written)
                budgets.append(max(0, int(fault.spec.get("bytes")) - (self.written - base)))
        return min(budgets, default=None)

    async def send(self, stream: trio.abc.SendStream, data: bytes) -> bool:
        """Write ``data`` under the toxics; ``False``: a close-after toxic ended the link
        (what it allowed was written)."""
        toxics = self._toxics()
        budget = self._close_budget(toxics)
        closing = budget is not None and len(data) >= budget
        if closing:
            for fault in toxics:
                if fault.kind == "close-after":
                    self.engine.record(fault, f"closed a {self.target} connection")
        if budget is not None:
            data = data[:budget]
        piece, pause, rate = len(data) or 1, 0.0, math.inf
        for fault in toxics:
            if fault.kind == "slicer":
                piece = min(piece, max(1, int(fault.spec.get("size"))))
                pause = max(pause, float(fault.spec.get("delay-ms")) / 1000)
            elif fault.kind == "bandwidth":
                rate = min(rate, float(fault.spec.get("bytes-per-second")))
        if rate < math.inf:
            piece = min(piece, max(1, int(rate * BANDWIDTH_SLICE)))
        for start in range(0, len(data), piece):
            chunk = data[start : start + piece]
            await stream.send_all(chunk)
            self.written += len(chunk)
            wait = max(pause, len(chunk) / rate if rate < math.inf else 0.0)
            if wait and start + piece < len(data):
                await trio.sleep(wait)
            elif rate < math.inf:
                await trio.sleep(len(chunk) / rate)
        return not closing


async def abort(stream: trio.abc.Stream) -> None:
    """Close ``stream`` with a reset (RST), as a peer whose process died does."""
    sock = getattr(stream, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with trio.CancelScope(shield=True):
        await stream.aclose()


class HeldOutput:
    """Output that may not leave before a time: replies under latency or a delay fault.

    Positions count every byte the connection ever queued, so they survive writes.
    """

    def __init__(self) -> None:
        self.queued = 0
        self.sent = 0
        #: (first byte, time it may leave, whether requests wait too), in order.
        self._holds: collections.deque[tuple[int, float, bool]] = collections.deque()

    def hold(self, start: int, until: float, *, blocks_requests: bool) -> None:
        self._holds.append((start, until, blocks_requests))

    def _expire(self, now: float) -> None:
        while self._holds and self._holds[0][1] <= now:
            self._holds.popleft()

    def sendable(self, now: float, waiting: int) -> int:
        """How many of the ``waiting`` bytes may be written now (order is kept)."""
        self._expire(now)
        if not self._holds:
            return waiting
        return max(0, min(waiting, self._holds[0][0] - self.sent))

    def next_release(self) -> float | None:
        return self._holds[0][1] if self._holds else None

    def blocks_requests(self, now: float) -> bool:
        """A delayed reply waits: QEMU's monitor runs nothing else meanwhile."""
        self._expire(now)
        return any(blocks for _, _, blocks in self._holds)


async def run_fault_timers(engine: FaultEngine) -> None:
    """Call :meth:`FaultEngine.advance` when a trigger or a duration is due (forever)."""
    changed = [trio.Event()]

    def poke() -> None:
        changed[0].set()

    engine.on_change.append(poke)
    try:
        while True:
            deadline = engine.next_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await changed[0].wait()
            changed[0] = trio.Event()
            engine.advance(trio.current_time())
    finally:
        engine.on_change.remove(poke)
