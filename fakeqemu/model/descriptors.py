"""File descriptors clients pass to a monitor, as QEMU keeps them (monitor/fds.c).

A client sends a descriptor with the bytes of a command (SCM_RIGHTS on a unix
socket); ``getfd NAME`` takes the one that came last and names it; ``migrate
fd:NAME`` takes the named one away, and ``closefd NAME`` closes it.  QEMU keeps
them per monitor; the fake keeps them per monitor connection.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class MonitorDescriptors:
    """One monitor's descriptors: received but not claimed yet, and named."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.named: dict[str, int] = {}

    def receive(self, fds: Iterable[int]) -> None:
        """tcp_chr_recv(): a new batch replaces (and closes) one nobody claimed."""
        for fd in self.received:
            _close(fd)
        self.received = list(fds)

    def take_received(self) -> int | None:
        """qemu_chr_fe_get_msgfd(): the first of the last batch; the others are closed."""
        if not self.received:
            return None
        first, *others = self.received
        for fd in others:
            _close(fd)
        self.received = []
        return first

    def name(self, name: str, fd: int) -> None:
        """getfd: a name already taken gets the new descriptor, the old one is closed."""
        old = self.named.get(name)
        self.named[name] = fd
        if old is not None:
            _close(old)

    def take_named(self, name: str) -> int | None:
        """monitor_get_fd(): the named descriptor, now the caller's."""
        return self.named.pop(name, None)

    def close_named(self, name: str) -> bool:
        fd = self.named.pop(name, None)
        if fd is None:
            return False
        _close(fd)
        return True

    def close_all(self) -> None:
        for fd in [*self.received, *self.named.values()]:
            _close(fd)
        self.received, self.named = [], {}


class Descriptors:
    """Every monitor connection's descriptors, keyed by its session."""

    def __init__(self) -> None:
        self._monitors: dict[object, MonitorDescriptors] = {}

    def for_monitor(self, session: object) -> MonitorDescriptors:
        found = self._monitors.get(session)
        if found is None:
            found = self._monitors[session] = MonitorDescriptors()
        return found

    def release(self, session: object) -> None:
        """The connection ended: whatever it left is closed."""
        found = self._monitors.pop(session, None)
        if found is not None:
            found.close_all()
