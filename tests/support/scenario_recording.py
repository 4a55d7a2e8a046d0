"""Recorded two-QEMU migrations, as the scenario tests hold them (replayed by scenario_driver).

A scenario recording is one ``{"t", "side", "dir", "raw"}`` object a line: every
request sent to the source (``src``) or destination (``dst``) QEMU and every line
read back.  The recording and a live replay are both held as :class:`SideLog`
values: requests paired with their replies in order (QMP answers in request order),
and events, told apart by their ``event`` key, apart.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.recordings import RECORDINGS

SCENARIOS = ("precopy", "cancel", "pause-before-switchover")
SIDES = ("src", "dst")

# -- recordings -------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request and its reply (``None``: never answered, the connection was gone)."""

    side: str
    request: str
    #: Which of its side's recorded requests this is; ``None`` for the driver's own requests.
    index: int | None
    #: When it was sent: seconds since the recording started, or trio time in a replay.
    t: float
    reply: str | None = None
    reply_t: float | None = None

    @property
    def command(self) -> str:
        return command_of(self.request)


@dataclass(frozen=True)
class EventRecord:
    raw: str
    t: float
    #: Replies to replayed (recorded) requests read on this side before this event.
    answered: int


@dataclass
class SideLog:
    """Everything one monitor connection carried."""

    side: str
    greeting: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    #: When the other end closed the connection (a replay only).
    closed_t: float | None = None
    #: Lines that were neither JSON objects, events, nor the reply to a pending request.
    stray: list[str] = field(default_factory=list)

    def replayed(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.index is not None]


@dataclass(frozen=True)
class Step:
    """A request, and what QEMU had visibly done before answering it: the events the recorder
    had read on each side before sending it; the status a ``query-migrate`` reply shows, when
    that side has ``MIGRATION`` events for it (the event comes before any reply showing it)."""

    exchange: Exchange
    events_before: Mapping[str, int]
    status: str | None = None


@dataclass(frozen=True)
class Recording:
    name: str
    sides: Mapping[str, SideLog]
    steps: Sequence[Step]
    start_t: float


def command_of(request: str) -> str:
    message = json.loads(request)
    command = message.get("execute") if isinstance(message, dict) else None
    return command if isinstance(command, str) else ""


def parse_recording(name: str, lines: Iterable[Mapping[str, Any]]) -> Recording:
    """Pair each side's requests with its replies, in order; keep the events apart."""
    sides = {side: SideLog(side) for side in SIDES}
    pending: dict[str, deque[Exchange]] = {side: deque() for side in SIDES}
    answered = dict.fromkeys(SIDES, 0)
    steps: list[Step] = []
    start_t: float | None = None
    for line in lines:
        side, raw, t = line["side"], line["raw"], float(line["t"])
        start_t = t if start_t is None else start_t
        log = sides[side]
        if line["dir"] == ">":
            exchange = Exchange(side, raw, len(log.exchanges), t)
            log.exchanges.append(exchange)
            pending[side].append(exchange)
            steps.append(Step(exchange, {s: len(sides[s].events) for s in SIDES}))
            continue
        message = json.loads(raw)
        if "QMP" in message and log.greeting is None:
            log.greeting = raw
        elif "event" in message:
            log.events.append(EventRecord(raw, t, answered[side]))
        elif pending[side]:
            exchange = pending[side].popleft()
            exchange.reply, exchange.reply_t = raw, t
            answered[side] += 1
        else:
            raise ValueError(f"{name}: {side} reply at t={t} answers no request: {raw!r}")
    for number, step in enumerate(steps):
        status = _shown_status(step.exchange)
        if status in migration_statuses(sides[step.exchange.side]):
            steps[number] = Step(step.exchange, step.events_before, status)
    return Recording(name, sides, steps, start_t or 0.0)


def _shown_status(exchange: Exchange) -> str | None:
    if exchange.command != "query-migrate" or exchange.reply is None:
        return None
    info = json.loads(exchange.reply).get("return")
    status = info.get("status") if isinstance(info, dict) else None
    return status if isinstance(status, str) else None


def migration_statuses(log: SideLog) -> list[str]:
    """The statuses of the ``MIGRATION`` events on one side, in order."""
    messages = [json.loads(event.raw) for event in log.events]
    return [m["data"]["status"] for m in messages if m.get("event") == "MIGRATION"]


def load_recording(version: str, scenario: str) -> Recording:
    path = RECORDINGS / version / f"{scenario}.jsonl"
    lines = [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    return parse_recording(f"{version}-{scenario}", lines)


_LOOPBACK_URI = re.compile(r"tcp:127\.0\.0\.1:\d+")


def rewrite_tcp_port(request: str, port: int) -> str:
    """The request line with every ``tcp:127.0.0.1:PORT`` pointing at ``port`` instead."""
    return _LOOPBACK_URI.sub(f"tcp:127.0.0.1:{port}", request)
