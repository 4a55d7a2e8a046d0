"""Reading QMP conversations from files, and telling what each message answers.

Two formats:

* one JSON value a line: requests (``{"execute": ...}``) and what came back,
  in order, as a client would log them; replies with no request before them
  answer ``default_command``;
* a transcript in the recordings' format, one object a line:
  ``{"t": ..., "side": "src"|"dst", "dir": ">"|"<", "raw": "..."}``, where
  ``src`` is a migration source and ``dst`` its destination.

QMP answers a monitor's requests in order, so the n-th reply on a side
answers that side's n-th request; events and the greeting answer nothing.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Transcript sides, as the recorder names them, and the role each played.
SIDE_ROLES = {"src": "source", "dst": "destination"}


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


def _command_of(text: str) -> str | None:
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


def read_conversation(
    text: str, *, default_command: str | None = "query-migrate", role: str | None = None
) -> Iterator[Received | Unreadable]:
    """Every message QEMU sent in ``text``, attributed; ``role`` overrides transcript sides."""
    pending: dict[str, deque[str | None]] = {}
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
            transcript = isinstance(value, dict) and {"dir", "raw"} <= value.keys()
        if not transcript:
            queue = pending.setdefault("", deque())
            if _is_request(value):
                queue.append(_command_of(line))
            else:
                yield Received(number, value, _classify(value, queue, default_command), role)
            continue
        if not isinstance(value, dict) or not {"dir", "raw"} <= value.keys():
            yield Unreadable(number, "not a transcript entry (needs dir and raw)")
            continue
        side = str(value.get("side", ""))
        queue = pending.setdefault(side, deque())
        if value["dir"] == ">":
            queue.append(_command_of(value["raw"]))
            continue
        try:
            message = json.loads(value["raw"])
        except ValueError as error:
            yield Unreadable(number, f"raw is not JSON: {error}")
            continue
        yield Received(
            number,
            message,
            _classify(message, queue, default_command),
            role or SIDE_ROLES.get(side),
        )
