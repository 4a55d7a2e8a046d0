"""QMP events as the model raises them, before any monitor formats them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Wall-clock seconds since the epoch; QEMU stamps events with g_get_real_time().
WallClock = Callable[[], float]


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any] | None
    #: Seconds since the epoch when the event happened.
    time: float

    def to_message(self) -> dict[str, Any]:
        """The QMP message, with members inserted in QEMU's order."""
        micros = round(self.time * 1_000_000)
        message: dict[str, Any] = {
            "event": self.name,
            "timestamp": {"seconds": micros // 1_000_000, "microseconds": micros % 1_000_000},
        }
        if self.data is not None:
            message["data"] = self.data
        return message


Listener = Callable[[Event], None]


@dataclass
class EventBus:
    """Fans events out to every listener (one per connected monitor session)."""

    wall_clock: WallClock
    _listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def emit(self, name: str, data: dict[str, Any] | None = None) -> Event:
        event = Event(name, data, self.wall_clock())
        for listener in list(self._listeners):
            listener(event)
        return event
