"""Reading QMP conversations from files, and telling what each message answers.

Three inputs:

* one JSON value a line: requests (``{"execute": ...}``) and what came back,
  in order, as a client would log them; replies with no request before them
  answer ``default_command`` (:func:`read_conversation`);
* a transcript in the recordings' format, one object a line:
  ``{"t": ..., "side": "src"|"dst", "dir": ">"|"<", "raw": "..."}``, where
  ``src`` is a migration source and ``dst`` its destination (:func:`read_conversation`);
* the entries of a cassette (:class:`fakeqemu.protocol.cassette.Cassette`, which also reads
  transcripts) (:func:`read_entries`).
  ``fakeqemu contracts validate`` reads cassettes and transcripts this way.

QMP answers a monitor connection's requests in order, so the n-th reply on a side's
connection answers its n-th request; events and the greeting answer nothing.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fakeqemu.protocol.cassette import Entry
from fakeqemu.vocabulary import SIDE_ROLES


@dataclass(frozen=True)
class Received:
    """One message a QEMU sent, with what it answers."""

    line: int
    message: Any
    #: The command a reply answers, or the event's name; None for a greeting.
    command: str | None
    role: str | None


@dataclass(frozen=True)
class Unreadable:
    line: int
    reason: str


def _command_of(text: str | bytes) -> str | None:
    try:
        request = json.loads(text)
    except ValueError:
        return None  # a parse error: QEMU answers it with an error and no id
    if isinstance(request, dict):
        name = request.get("execute", request.get("exec-oob"))
        return name if isinstance(name, str) else None
    return None


def _is_request(message: Any) -> bool:
    return isinstance(message, dict) and ("execute" in message or "exec-oob" in message)


def _classify(message: Any, pending: deque[str | None], default: str | None) -> str | None:
    if isinstance(message, dict) and "QMP" in message:
        return None
    if isinstance(message, dict) and isinstance(message.get("event"), str):
        name: str = message["event"]
        return name
    return pending.popleft() if pending else default


class _Attribution:
    """Which request each reply answers: per side and connection, in order."""

    def __init__(self, default_command: str | None, role: str | None) -> None:
        self._default = default_command
        self._role = role
        self._pending: dict[tuple[str, int], deque[str | None]] = {}

    def read(self, entry: Entry) -> Received | Unreadable | None:
        queue = self._pending.setdefault((entry.side, entry.conn), deque())
        if entry.from_client:
            queue.append(_command_of(entry.data))
            return None
        if entry.eof:
            return None
        try:
            message = json.loads(entry.data)
        except ValueError as error:
            return Unreadable(entry.line, f"raw is not JSON: {error}")
        command = _classify(message, queue, self._default)
        return Received(entry.line, message, command, self._role or SIDE_ROLES.get(entry.side))


def read_entries(
    entries: Iterable[Entry],
    *,
    default_command: str | None = "query-migrate",
    role: str | None = None,
) -> Iterator[Received | Unreadable]:
    """Every message QEMU sent among ``entries``, attributed: a reply answers the request
    its connection sent before it (``default_command`` when none did), and ``src``/``dst``
    sides give the role unless ``role`` is given.  QEMU hanging up is no message."""
    attribution = _Attribution(default_command, role)
    for entry in entries:
        if (item := attribution.read(entry)) is not None:
            yield item


def read_conversation(
    text: str, *, default_command: str | None = "query-migrate", role: str | None = None
) -> Iterator[Received | Unreadable]:
    """Every message QEMU sent in ``text`` (a client's log or a transcript), attributed;
    ``role`` overrides transcript sides.  A cassette is read with
    :meth:`fakeqemu.protocol.cassette.Cassette.parse` and :func:`read_entries`."""
    pending: deque[str | None] = deque()
    attribution = _Attribution(default_command, role)
    transcript: bool | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            yield Unreadable(number, f"not JSON: {error}")
            continue
        if transcript is None:
            if isinstance(value, dict) and "cassette" in value:
                raise ValueError(
                    f"line {number} is a cassette header: read a cassette with"
                    " fakeqemu.protocol.cassette.Cassette.parse() and read_entries()"
                )
            transcript = isinstance(value, dict) and {"dir", "raw"} <= value.keys()
        if not transcript:
            if _is_request(value):
                pending.append(_command_of(line))
            else:
                yield Received(number, value, _classify(value, pending, default_command), role)
            continue
        if not isinstance(value, dict) or not {"dir", "raw"} <= value.keys():
            yield Unreadable(number, "not a transcript entry (needs dir and raw)")
            continue
        side = str(value.get("side", ""))
        t = float(value.get("t", 0.0))
        entry = Entry(number, t, side, 0, str(value["dir"]), value["raw"].encode())
        if (item := attribution.read(entry)) is not None:
            yield item
