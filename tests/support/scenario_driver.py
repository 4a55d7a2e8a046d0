"""Replay a recorded two-QEMU migration against two fakes (the checks are in scenario_checks).

:func:`replay` serves both fakes in-process on unix sockets in one trio run, reads
each side continuously, and sends the recorded requests byte for byte at the
recorder's pace (:class:`Pacing`) on trio's clock, virtual in tests.  Two rewrites
only: ``migrate-incoming``'s ``tcp:127.0.0.1:PORT`` gets port 0, and ``migrate``'s
the port the fake destination reports to one extra ``query-migrate`` of the
driver's own, kept out of every comparison.  The recordings themselves are
:mod:`tests.support.scenario_recording`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.serve import Endpoint, serve
from tests.support.scenario_recording import (
    SIDES,
    EventRecord,
    Exchange,
    Recording,
    SideLog,
    Step,
    migration_statuses,
    rewrite_tcp_port,
)
from tests.support.strict import make_fake as strict_fake

# -- the live replay ------------------------------------------------------------------------


def scenario_configs(profile: str) -> dict[str, FakeQemuConfig]:
    """What the recorded QEMUs were started with: ``-S -m 128``, and ``-incoming defer``."""
    src = FakeQemuConfig(profile=profile, start_paused=True, memory=128 << 20)
    return {"src": src, "dst": dataclasses.replace(src, incoming="defer")}


@dataclass(frozen=True)
class Pacing:
    """How the recorder's pace is kept, on the trio clock (virtual in tests).

    The recorder was a synchronous client: it sent each request after the reply to the previous
    one (on either side), after a pause (up to 0.5 s).  The replay does the same: it waits for
    the fake's reply, then for the recorded pause.  Before sending, it also waits for what QEMU
    had visibly done by then (:class:`Step`), so a fake a little slower than QEMU is asked at the
    same point of the migration rather than too early.
    """

    #: Longest wait for what QEMU had visibly done before a request; a wait that times out
    #: turns this waiting off for the rest of the replay.
    event_wait: float = 1.0
    #: Longest wait for a reply (QEMU's answered requests, the driver's own query-migrate).
    reply_wait: float = 1.0
    #: Longest wait, after the last request, for outstanding replies.
    settle: float = 2.0


@dataclass
class Transcript:
    sides: dict[str, SideLog]
    #: What the driver itself had to work around; each one is a problem.
    notes: list[str] = field(default_factory=list)


class _Bell:
    """Rung on every message read; waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def ring(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait_for(self, condition: Callable[[], bool], deadline: float) -> bool:
        with trio.move_on_at(deadline):
            while not condition():
                await self._event.wait()
            return True
        return condition()


class _Monitor:
    """One raw QMP client: writes request lines, reads everything the fake writes."""

    def __init__(self, side: str, stream: trio.SocketStream, bell: _Bell) -> None:
        self.log = SideLog(side)
        self._stream = stream
        self._bell = bell
        self._pending: deque[Exchange] = deque()
        self._answered = 0
        self.stopping = False

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def settled(self, exchange: Exchange) -> Callable[[], bool]:
        """A condition: ``exchange`` is answered, or will never be."""
        return lambda: exchange.reply is not None or self.log.closed_t is not None

    async def send(self, request: str, index: int | None) -> Exchange:
        exchange = Exchange(self.log.side, request, index, trio.current_time())
        self.log.exchanges.append(exchange)
        if self.log.closed_t is None:
            self._pending.append(exchange)
            # On a closed connection the reader sees the end and gives up on the request.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._stream.send_all(request.encode() + b"\n")
        return exchange

    async def read_all(self) -> None:
        buffer = b""
        while True:
            try:
                data = await self._stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data or self.stopping:
                break
            *lines, buffer = (buffer + data).split(b"\n")
            for line in lines:
                self._take(line.decode("utf-8", "replace"))
        if self.stopping:
            return
        if buffer:
            self.log.stray.append(buffer.decode("utf-8", "replace"))
        self.log.closed_t = trio.current_time()
        self._pending.clear()
        self._bell.ring()

    def _take(self, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.log.stray.append(line)
        elif "QMP" in message and self.log.greeting is None:
            self.log.greeting = line
        elif "event" in message:
            self.log.events.append(EventRecord(line, trio.current_time(), self._answered))
        elif not self._pending:
            self.log.stray.append(line)
        else:
            exchange = self._pending.popleft()
            exchange.reply, exchange.reply_t = line, trio.current_time()
            if exchange.index is not None:
                self._answered += 1
        self._bell.ring()

    async def aclose(self) -> None:
        self.stopping = True
        await self._stream.aclose()


async def _bound_port(dst: _Monitor, bell: _Bell, pacing: Pacing, notes: list[str]) -> int | None:
    """The destination's listening port, from a query-migrate of the driver's own."""
    exchange = await dst.send('{"execute": "query-migrate"}', None)
    await bell.wait_for(dst.settled(exchange), trio.current_time() + pacing.reply_wait)
    try:
        port = json.loads(exchange.reply or "{}")["return"]["socket-address"][0]["port"]
        return int(port)
    except (KeyError, IndexError, TypeError, ValueError):
        notes.append(
            "no bound port in the destination's query-migrate after migrate-incoming"
            f" (reply: {exchange.reply!r}); migrate was sent to port 0"
        )
        return None


def _gap(recording: Recording, number: int) -> float:
    """How long the recorder waited before request ``number``, after the reply to the previous
    one (it was a synchronous client: every request went out after the previous reply)."""
    exchange = recording.steps[number].exchange
    if number == 0:
        return exchange.t - recording.start_t
    previous = recording.steps[number - 1].exchange
    return max(0.0, exchange.t - (previous.t if previous.reply_t is None else previous.reply_t))


async def _send_steps(
    recording: Recording,
    monitors: Mapping[str, _Monitor],
    bell: _Bell,
    pacing: Pacing,
    notes: list[str],
) -> None:
    gated, port, anchor = True, None, trio.current_time()
    for number, step in enumerate(recording.steps):
        recorded = step.exchange
        await trio.sleep_until(anchor + _gap(recording, number))
        if gated:

            def seen(step: Step = step) -> bool:
                counts = step.events_before.items()
                side = monitors[step.exchange.side].log
                return all(len(monitors[s].log.events) >= n for s, n in counts) and (
                    step.status is None or step.status in migration_statuses(side)
                )

            if not await bell.wait_for(seen, trio.current_time() + pacing.event_wait):
                gated = False
                have = {s: len(m.log.events) for s, m in monitors.items()}
                notes.append(
                    f"{recorded.side} request #{recorded.index} {recorded.request}"
                    f" (t={recorded.t}) came after {dict(step.events_before)} events in the"
                    f" recording{'' if step.status is None else f' and showed {step.status!r}'};"
                    f" the fakes had sent {have} within {pacing.event_wait} s (no more waiting)"
                )
        request, command = recorded.request, recorded.command
        if command == "migrate-incoming":
            request = rewrite_tcp_port(request, 0)
        elif command == "migrate":
            request = rewrite_tcp_port(request, port or 0)
        monitor = monitors[recorded.side]
        exchange = await monitor.send(request, recorded.index)
        if command == "migrate-incoming":
            port = await _bound_port(monitor, bell, pacing, notes)
        if recorded.reply is not None:
            await bell.wait_for(monitor.settled(exchange), trio.current_time() + pacing.reply_wait)
        anchor = trio.current_time()


async def replay(
    recording: Recording,
    profile: str,
    workdir: Path,
    *,
    make_fake: Callable[[FakeQemuConfig], FakeQemu] = strict_fake,
    pacing: Pacing = Pacing(),
) -> Transcript:
    """Run ``recording`` against a fake source and a fake destination of ``profile``."""
    bell = _Bell()
    notes: list[str] = []
    monitors: dict[str, _Monitor] = {}
    configs = scenario_configs(profile)
    async with trio.open_nursery() as nursery:
        try:
            for side in SIDES:
                path = str(workdir / f"{side}.sock")
                await nursery.start(serve, make_fake(configs[side]), [Endpoint("unix", path=path)])
                monitors[side] = _Monitor(side, await trio.open_unix_socket(path), bell)
                nursery.start_soon(monitors[side].read_all)
            if not await bell.wait_for(
                lambda: all(m.log.greeting for m in monitors.values()),
                trio.current_time() + pacing.reply_wait,
            ):
                notes.append("a fake sent no greeting")
            await _send_steps(recording, monitors, bell, pacing, notes)
            await bell.wait_for(
                lambda: not any(m.waiting for m in monitors.values()),
                trio.current_time() + pacing.settle,
            )
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                for monitor in monitors.values():
                    await monitor.aclose()
    return Transcript({side: monitor.log for side, monitor in monitors.items()}, notes)
