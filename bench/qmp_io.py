"""A small blocking QMP client for the benchmark: lines in, lines out, every wait bounded.

Blocking sockets, one per client (threads where several wait at once): the
benchmark must observe the server, so the client stays simple and does the same
thing to the fake and to QEMU.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

CAPABILITIES = b'{"execute":"qmp_capabilities"}\n'
#: Replies are read this much at a time.
RECV_SIZE = 1 << 20


def connect_unix(path: str, timeout: float) -> socket.socket:
    """Connect, waiting at most ``timeout`` in the listen backlog, then set ``timeout``.

    A unix ``connect()`` to a listener whose backlog is full (QEMU's is 1) sleeps
    until the server accepts someone; ``SO_SNDTIMEO`` bounds that sleep, which a
    Python socket timeout cannot (it would make the socket non-blocking and fail at once).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    seconds = int(timeout)
    micros = int((timeout - seconds) * 1e6)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros))
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    sock.settimeout(timeout)
    return sock


class QmpLines:
    """A connected monitor, read line by line (QEMU ends its lines with ``\\r\\n``)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()
        self._start = 0

    @classmethod
    def connect(cls, path: str, timeout: float) -> QmpLines:
        return cls(connect_unix(path, timeout))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> QmpLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """The next line, with its ``\\r\\n``; ``ConnectionError`` if the server closed first."""
        while True:
            end = self._buffer.find(b"\n", self._start)
            if end >= 0:
                line = bytes(self._buffer[self._start : end + 1])
                self._start = end + 1
                if self._start > RECV_SIZE:
                    del self._buffer[: self._start]
                    self._start = 0
                return line
            data = self.sock.recv(RECV_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._buffer += data

    def read_message(self) -> dict[str, Any]:
        message = json.loads(self.read_line())
        if not isinstance(message, dict):
            raise ValueError(f"not a QMP message: {message!r}")
        return message

    def negotiate(self) -> dict[str, Any]:
        """Read the greeting, leave capabilities negotiation; the greeting."""
        greeting = self.read_message()
        if "QMP" not in greeting:
            raise ValueError(f"no greeting: {greeting!r}")
        self.send(CAPABILITIES)
        self.reply()
        return greeting

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one command; its reply (``return`` or ``error``), events skipped."""
        request: dict[str, Any] = {"execute": command}
        if arguments is not None:
            request["arguments"] = arguments
        self.send(json.dumps(request).encode() + b"\n")
        return self.reply()

    def reply(self) -> dict[str, Any]:
        while True:
            message = self.read_message()
            if "event" not in message:
                return message


def request_line(command: str, ident: int) -> bytes:
    """One request with an integer ``id``, as a pipelining client writes it."""
    return b'{"execute":"%s","id":%d}\n' % (command.encode(), ident)


class ReplyChecker:
    """Counts the replies to requests with consecutive ids: in order, lost, malformed.

    A line that carries the ``id`` of a request sent and not yet answered answers it;
    it is ``misordered`` if an older request is still unanswered, and ``malformed``
    unless it is a ``return``.  Any other line that is not an event is ``malformed``
    (not JSON, not an object, an id never sent or answered twice).  Requests never
    answered are ``outstanding``: lost, once the replies have stopped coming.
    """

    def __init__(self, first_id: int) -> None:
        self.expected = first_id
        self.sent_until = first_id
        #: Lines read that were not events.
        self.lines = 0
        self.answered = 0
        self.misordered = 0
        self.malformed = 0
        self.events = 0
        self._early: set[int] = set()

    def sent(self, count: int) -> None:
        self.sent_until += count

    def check(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and "event" in message:
            self.events += 1
            return
        self.lines += 1
        ident = message.get("id") if isinstance(message, dict) else None
        if not self._outstanding(ident):
            self.malformed += 1
            return
        assert isinstance(message, dict)
        assert isinstance(ident, int)
        self.answered += 1
        if "return" not in message:
            self.malformed += 1
        if ident != self.expected:
            self.misordered += 1
            self._early.add(ident)
            return
        self.expected += 1
        while self.expected in self._early:
            self._early.discard(self.expected)
            self.expected += 1

    def _outstanding(self, ident: object) -> bool:
        return (
            isinstance(ident, int)
            and self.expected <= ident < self.sent_until
            and ident not in self._early
        )

    @property
    def outstanding(self) -> int:
        """Requests sent and not answered (yet)."""
        return self.sent_until - self.expected - len(self._early)
