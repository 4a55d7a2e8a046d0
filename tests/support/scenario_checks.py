"""Comparing a replayed scenario with its recording: the generic parts, and the checks.

Generic parts, proven on literal strings in ``test_scenario_driver.py``: masking numbers,
``query-migrate`` key layouts in wire order, the monotonic counters.  The checks each
take the recorded and the replayed :class:`SideLog` of one side and return problems,
worded to show both QEMU's and the fake's version:

- ``replies``: each recorded request is answered the same way (``return`` or ``error``),
  and one QEMU never answered (its process had exited) is not answered by the fake either;
- ``events``: the sequence of events, names and data, timestamps ignored;
- ``layouts``: per ``query-migrate`` status, the keys in wire order, at the top level and
  inside ``ram``; no status shown by one side only (no ``status``: :data:`NO_STATUS`);
- ``finals``: the last ``query-migrate``, ``query-status`` and ``info migrate`` replies,
  numbers masked;
- ``counters``: QEMU's monotonic counters stay monotonic in the fake's replies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tests.support.scenario_driver import Transcript
from tests.support.scenario_recording import SIDES, Exchange, Recording, SideLog

#: The ``query-migrate`` layouts of replies without a ``status`` member are grouped under this.
NO_STATUS = "no status"
#: What every number becomes in a masked reply.
MASK = "<n>"
_DIGITS = re.compile(r"\d+(?:\.\d+)*")


def event_signature(raw: str) -> str:
    """An event as name and data, in wire order, without its timestamp."""
    message = json.loads(raw)
    return json.dumps({key: value for key, value in message.items() if key != "timestamp"})


def mask_text(text: str) -> str:
    """Every run of digits (with its decimal points: ``32.9 MiB`` → ``# MiB``) becomes ``#``."""
    return _DIGITS.sub("#", text)


def mask_value(value: Any, *, text: bool = False) -> Any:
    """Numbers become :data:`MASK`, and so do socket-address ports; strings are digit-masked
    only with ``text`` (HMP output).  Key order is kept."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return MASK
    if isinstance(value, str):
        return mask_text(value) if text else value
    if isinstance(value, list):
        return [mask_value(item, text=text) for item in value]
    if isinstance(value, dict):
        masked = {key: mask_value(item, text=text) for key, item in value.items()}
        if isinstance(masked.get("socket-address"), list):
            masked["socket-address"] = [
                {key: MASK if key == "port" else item for key, item in address.items()}
                if isinstance(address, dict)
                else address
                for address in masked["socket-address"]
            ]
        return masked
    raise TypeError(f"not a JSON value: {value!r}")


def masked_reply(raw: str) -> str:
    """A reply line with its numbers masked; a string ``return`` (HMP) has its digits masked."""
    message = json.loads(raw)
    text = isinstance(message, dict) and isinstance(message.get("return"), str)
    return json.dumps(mask_value(message, text=text))


Layout = tuple[tuple[str, ...], tuple[str, ...] | None]


def status_of(info: Mapping[str, Any]) -> str:
    status = info.get("status")
    return status if isinstance(status, str) else NO_STATUS


def key_layout(info: Mapping[str, Any]) -> Layout:
    """The keys of a ``query-migrate`` return in wire order, and those of its ``ram``."""
    ram = info.get("ram")
    return tuple(info), (tuple(ram) if isinstance(ram, Mapping) else None)


def describe_layout(layout: Layout) -> str:
    top, ram = layout
    text = "[" + ", ".join(top) + "]"
    return text if ram is None else f"{text} ram=[{', '.join(ram)}]"


def query_migrate_returns(log: SideLog) -> list[tuple[Exchange, dict[str, Any]]]:
    """The replayed ``query-migrate`` requests answered with a ``return`` object."""
    found = []
    for exchange in log.replayed():
        if exchange.command != "query-migrate" or exchange.reply is None:
            continue
        info = json.loads(exchange.reply).get("return")
        if isinstance(info, dict):
            found.append((exchange, info))
    return found


def layouts_by_status(infos: Iterable[Mapping[str, Any]]) -> dict[str, list[Layout]]:
    """Distinct layouts per status, in first-seen order."""
    layouts: dict[str, list[Layout]] = {}
    for info in infos:
        seen = layouts.setdefault(status_of(info), [])
        if key_layout(info) not in seen:
            seen.append(key_layout(info))
    return layouts


def compare_layouts(
    recorded: Mapping[str, Sequence[Layout]], fake: Mapping[str, Sequence[Layout]]
) -> list[str]:
    """Same statuses, and per status the same set of key layouts (each in wire order)."""
    problems = [
        f"status {status!r}: QEMU shows it, the fake never does"
        for status in recorded
        if status not in fake
    ]
    for status, layouts in fake.items():
        expected = recorded.get(status)
        if expected is None:
            shown = "; ".join(describe_layout(layout) for layout in layouts)
            problems.append(f"status {status!r}: the fake shows it ({shown}), QEMU never does")
            continue
        qemu = "; ".join(describe_layout(layout) for layout in expected)
        problems.extend(
            f"status {status!r}: the fake's keys {describe_layout(layout)} are not QEMU's: {qemu}"
            for layout in layouts
            if layout not in expected
        )
        problems.extend(
            f"status {status!r}: QEMU's keys {describe_layout(layout)} never appear in the fake's"
            " replies"
            for layout in expected
            if layout not in layouts
        )
    return problems


#: Counters that never go down in QEMU's query-migrate, as (section, key); None is the top level.
MONOTONIC: tuple[tuple[str | None, str], ...] = (
    ("ram", "transferred"),
    ("ram", "normal"),
    ("ram", "duplicate"),
    ("ram", "dirty-sync-count"),
    (None, "total-time"),
)


def _counter(info: Mapping[str, Any], section: str | None, key: str) -> float | None:
    holder = info if section is None else info.get(section)
    value = holder.get(key) if isinstance(holder, Mapping) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def monotonic_problems(infos: Sequence[Mapping[str, Any]]) -> list[str]:
    """Counters going down across successive replies; ``ram.remaining`` going up while
    ``ram.dirty-sync-count`` stays the same.  Replies are numbered from 0 in the messages."""
    problems = []
    last: dict[tuple[str | None, str], tuple[int, float]] = {}
    for number, info in enumerate(infos):
        for section, key in (*MONOTONIC, ("ram", "remaining")):
            value = _counter(info, section, key)
            if value is None:
                continue
            name = key if section is None else f"{section}.{key}"
            if (section, key) in last:
                before_number, before = last[(section, key)]
                sync = _counter(info, "ram", "dirty-sync-count")
                before_sync = _counter(infos[before_number], "ram", "dirty-sync-count")
                if key != "remaining" and value < before:
                    problems.append(
                        f"{name} went down from {before} (reply #{before_number},"
                        f" {status_of(infos[before_number])}) to {value} (reply #{number},"
                        f" {status_of(info)})"
                    )
                elif key == "remaining" and value > before and sync == before_sync:
                    problems.append(
                        f"ram.remaining went up from {before} (reply #{before_number}) to"
                        f" {value} (reply #{number}) with dirty-sync-count still {sync}"
                    )
            last[(section, key)] = (number, value)
    return problems


# -- the checks, one side at a time --------------------------------------------------------

FINAL_COMMANDS = ("query-migrate", "query-status", "human-monitor-command")
#: Per check and side, at most this many problems are spelled out.
SHOWN = 8


def _label(exchange: Exchange) -> str:
    return f"request #{exchange.index} {exchange.request} (recorded at t={exchange.t})"


def _kind(reply: str) -> str:
    message = json.loads(reply)
    return next((key for key in ("return", "error") if key in message), "neither")


def _fake_exchanges(log: SideLog) -> dict[int, Exchange]:
    return {exchange.index: exchange for exchange in log.replayed() if exchange.index is not None}


def check_replies(recorded: SideLog, fake: SideLog) -> list[str]:
    problems = []
    answered = _fake_exchanges(fake)
    closed = "" if fake.closed_t is None else f", the fake closed it at t={fake.closed_t:.4f}"
    for exchange in recorded.exchanges:
        assert exchange.index is not None
        mine = answered.get(exchange.index)
        got = None if mine is None else mine.reply
        if exchange.reply is None:
            if got is not None:
                problems.append(
                    f"{_label(exchange)}: QEMU never answered (its process had exited,"
                    f" closing the connection); the fake answered {got!r}"
                )
        elif got is None:
            problems.append(
                f"{_label(exchange)}: QEMU answered {exchange.reply!r}; the fake never did{closed}"
            )
        elif _kind(got) != _kind(exchange.reply):
            problems.append(f"{_label(exchange)}:\n    QEMU: {exchange.reply!r}\n    fake: {got!r}")
    problems.extend(f"the fake sent a line that answers nothing: {line!r}" for line in fake.stray)
    return problems


def _observed_events(log: SideLog, replies: int | None) -> list[str]:
    """Events read before the ``replies``-th reply (``None``: all of them)."""
    return [
        event_signature(event.raw)
        for event in log.events
        if replies is None or event.answered < replies
    ]


def check_events(recorded: SideLog, fake: SideLog) -> list[str]:
    """Where QEMU stopped answering (it had exited), the recording shows nothing after its last
    reply, so the fake's events are compared up to its own reply to the same request."""
    unanswered = any(exchange.reply is None for exchange in recorded.exchanges)
    window = sum(exchange.reply is not None for exchange in recorded.exchanges)
    expected = _observed_events(recorded, window if unanswered else None)
    got = _observed_events(fake, window if unanswered else None)
    if expected == got:
        return []
    rows = []
    for i in range(max(len(expected), len(got))):
        mine = expected[i] if i < len(expected) else "-"
        theirs = got[i] if i < len(got) else "-"
        rows.append(f"  {'!' if mine != theirs else ' '} #{i}: QEMU {mine}\n{' ' * 9}fake {theirs}")
    where = "" if not unanswered else f" (up to the reply to request #{window - 1})"
    listing = "\n".join(rows)
    return [f"{len(expected)} events from QEMU, {len(got)} from the fake{where}:\n{listing}"]


def check_layouts(recorded: SideLog, fake: SideLog) -> list[str]:
    expected = layouts_by_status(info for _, info in query_migrate_returns(recorded))
    got = layouts_by_status(info for _, info in query_migrate_returns(fake))
    return compare_layouts(expected, got)


def check_finals(recorded: SideLog, fake: SideLog) -> list[str]:
    problems = []
    answered = _fake_exchanges(fake)
    for command in FINAL_COMMANDS:
        last = [e for e in recorded.exchanges if e.command == command and e.reply is not None]
        if not last:
            continue
        exchange = last[-1]
        assert exchange.reply is not None
        assert exchange.index is not None
        mine = answered.get(exchange.index)
        expected = masked_reply(exchange.reply)
        got = "(no reply)" if mine is None or mine.reply is None else masked_reply(mine.reply)
        if expected != got:
            problems.append(
                f"final {command}, {_label(exchange)}, numbers masked:"
                f"\n    QEMU: {expected}\n    fake: {got}"
            )
    return problems


def check_counters(recorded: SideLog, fake: SideLog) -> list[str]:
    return monotonic_problems([info for _, info in query_migrate_returns(fake)])


CHECKS: dict[str, Callable[[SideLog, SideLog], list[str]]] = {
    "replies": check_replies,
    "events": check_events,
    "layouts": check_layouts,
    "finals": check_finals,
    "counters": check_counters,
}


def compare(recording: Recording, transcript: Transcript) -> list[str]:
    """Every problem, as ``[check] side: ...``, the driver's own notes first."""
    problems = [f"[driver] {note}" for note in transcript.notes]
    for name, check in CHECKS.items():
        for side in SIDES:
            found = check(recording.sides[side], transcript.sides[side])
            problems.extend(f"[{name}] {side}: {problem}" for problem in found[:SHOWN])
            if len(found) > SHOWN:
                problems.append(f"[{name}] {side}: ... and {len(found) - SHOWN} more")
    return problems
