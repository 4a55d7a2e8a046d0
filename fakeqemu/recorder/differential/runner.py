"""Send a probe sequence to two QMP monitors and record every line that comes back.

Works the same against real QEMU and against fakes: plain blocking unix sockets,
one connection per side for the whole sequence.  Each request carries its
number as ``id``; the runner reads its side until that reply.  A command that
starts something in the background (a migration, a listener, a cancel) and
succeeded is followed by a quiet period on both sides, so that the events it
causes are recorded with it and not with whatever comes next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.recorder.differential.sequence import Probe
from fakeqemu.recorder.differential.values import DIRECTORY

#: Commands whose success starts work that goes on after the reply.
BACKGROUND = frozenset(
    {
        "migrate",
        "migrate-incoming",
        "migrate_cancel",
        "migrate-continue",
        "migrate-start-postcopy",
        "migrate-pause",
        "migrate-recover",
    }
)
#: How long every side must stay silent after such a command (real QEMU fails a refused
#: connection within a millisecond; this leaves room for a loaded machine).
QUIET = 0.25
#: Longest settle: a side that keeps talking is left to the next probe.
SETTLE_LIMIT = 3.0
REPLY_TIMEOUT = 10.0
CAPS = b'{"execute": "qmp_capabilities"}\n'


class Monitor:
    """One QMP connection, read line by line (lines keep QEMU's ``\\r``, lose the ``\\n``)."""

    def __init__(self, path: str) -> None:
        self._sock = connect_unix(path)
        self._buffer = b""
        self.closed = False
        self.pending: list[str] = []
        self.greeting = self._line(REPLY_TIMEOUT)
        self._sock.sendall(CAPS)
        self._line(REPLY_TIMEOUT)

    def close(self) -> None:
        self._sock.close()

    def _line(self, timeout: float) -> str | None:
        """The next line, ``None`` on timeout or end of stream."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                return None
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def exchange(self, request: str, number: int) -> list[str]:
        """Send ``request``; everything read up to its reply (events first), or up to the end."""
        lines, self.pending = self.pending, []
        if self.closed:
            return lines
        try:
            self._sock.sendall(request.encode() + b"\n")
        except OSError:
            self.closed = True
            return lines
        while True:
            line = self._line(REPLY_TIMEOUT)
            if line is None:
                return lines
            lines.append(line)
            if _is_reply(line, number):
                return lines

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_available(self) -> None:
        """Take what is waiting on the socket (it is readable) into :attr:`pending`."""
        try:
            data = self._sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        self._buffer += data
        self.take_buffered()

    def take_buffered(self) -> None:
        """Move the whole lines already read (after a reply, say) to :attr:`pending`."""
        while b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
            self.pending.append(line.decode("utf-8", "replace"))


def connect_unix(path: str, timeout: float = REPLY_TIMEOUT) -> socket.socket:
    """A connection to ``path``, retried while the socket file exists but nobody listens
    yet (QEMU binds before it listens)."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        return sock


def _is_reply(line: str, number: int) -> bool:
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("id") == number


@dataclass
class Record:
    """One probe and what its side sent back; ``later``: what the other sides sent meanwhile."""

    side: str
    request: str
    lines: list[str]
    volatile: bool = False
    later: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        return cls(data["side"], data["request"], data["lines"], data["volatile"], data["later"])


def _settle(monitors: Mapping[str, Monitor], quiet: float) -> None:
    """Read every side until all of them were silent for ``quiet`` seconds."""
    deadline = time.monotonic() + SETTLE_LIMIT
    for monitor in monitors.values():
        monitor.take_buffered()
    while time.monotonic() < deadline:
        open_monitors = [m for m in monitors.values() if not m.closed]
        readable, _, _ = select.select(open_monitors, [], [], quiet)
        if not readable:
            return
        for monitor in readable:
            monitor.read_available()


def run_probes(
    paths: Mapping[str, str],
    requests: Sequence[tuple[str, str, bool]],
    directory: str,
    *,
    quiet: float = QUIET,
) -> list[Record]:
    """Send ``(side, request, volatile)`` in order; ``@DIR@`` in requests means ``directory``.

    ``paths`` has a monitor for each side
    (:func:`~fakeqemu.recorder.differential.sequence.sides_of`)."""
    records: list[Record] = []
    with contextlib.ExitStack() as stack:
        monitors = {side: Monitor(path) for side, path in paths.items()}
        for monitor in monitors.values():
            stack.callback(monitor.close)
        for number, (side, request, volatile) in enumerate(requests):
            live = request.replace(DIRECTORY, directory)
            lines = monitors[side].exchange(live, number)
            record = Record(side, request, _unplace(lines, directory), volatile)
            records.append(record)
            command = json.loads(request)["execute"]
            if command in BACKGROUND and lines and '"return"' in lines[-1]:
                _settle(monitors, quiet)
                record.lines += _unplace(monitors[side].pending, directory)
                monitors[side].pending = []
                for other in monitors:
                    if monitors[other].pending:
                        record.later[other] = _unplace(monitors[other].pending, directory)
                        monitors[other].pending = []
    return records


def _unplace(lines: list[str], directory: str) -> list[str]:
    return [line.replace(directory, DIRECTORY) for line in lines]


def probe_requests(probes: Sequence[Probe]) -> list[tuple[str, str, bool]]:
    return [(p.side, p.request(number), p.volatile) for number, p in enumerate(probes)]
