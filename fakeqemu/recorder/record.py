"""``fakeqemu record``: a proxy between any QMP client and a QEMU monitor, writing a cassette.

Every byte is forwarded unchanged, both ways, as soon as it arrives; the cassette
gets each message as it completes (see :mod:`fakeqemu.protocol.cassette`).  Each client
connection gets its own connection to the monitor, like a client of QEMU's would.
Masking timestamps and renumbering ids change the cassette only, never the wire.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import trio

from fakeqemu.protocol.cassette import (
    CassetteWriter,
    IdRenumbering,
    LineSplitter,
    RequestSplitter,
    mask_timestamps,
)
from fakeqemu.server.endpoints import Endpoint, parse_tcp
from fakeqemu.server.listeners import Listeners, where_listening
from fakeqemu.server.serve import Listening

READ_SIZE = 65536
#: After the client leaves, how long QEMU may take to answer what it sent last.
DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class RecordOptions:
    #: The cassette's name for this monitor (``src``/``dst`` in a two-sided transcript).
    side: str = "src"
    mask_timestamps: bool = False
    renumber_ids: bool = False


async def open_monitor(address: str) -> trio.SocketStream:
    """``unix:PATH``, ``tcp:HOST:PORT``, or a bare socket path."""
    kind, colon, rest = address.partition(":")
    if colon and kind == "tcp":
        host, port = parse_tcp(rest)
        return await trio.open_tcp_stream(host, port)
    return await trio.open_unix_socket(rest if colon and kind == "unix" else address)


class _ConnectionRecorder:
    """Cuts one connection's two byte streams into cassette entries."""

    def __init__(
        self, writer: CassetteWriter, conn: int, options: RecordOptions, start: float
    ) -> None:
        self._writer = writer
        self._conn = conn
        self._options = options
        self._start = start
        self._requests = RequestSplitter()
        self._lines = LineSplitter()
        self._ids = IdRenumbering()

    def _add(self, direction: str, data: bytes) -> None:
        t = trio.current_time() - self._start
        self._writer.add(t, self._options.side, self._conn, direction, data)

    def from_client(self, data: bytes) -> None:
        for message in self._requests.feed(data):
            self._request(message)

    def _request(self, message: bytes) -> None:
        self._add(">", self._ids.request(message) if self._options.renumber_ids else message)

    def from_qemu(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            self._reply(line)

    def _reply(self, line: bytes) -> None:
        if self._options.mask_timestamps:
            line = mask_timestamps(line)
        self._add("<", self._ids.reply(line) if self._options.renumber_ids else line)

    def client_left(self) -> None:
        if rest := self._requests.rest():
            self._request(rest)

    def qemu_left(self) -> None:
        if rest := self._lines.rest():
            self._reply(rest)
        self._writer.closed(trio.current_time() - self._start, self._options.side, self._conn)


async def _pump(
    source: trio.abc.ReceiveStream,
    sink: trio.abc.SendStream,
    observe: _ConnectionRecorder,
    up: bool,
) -> None:
    """Forward until ``source`` ends; a broken ``sink`` just ends the forwarding."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while data := await source.receive_some(READ_SIZE):
            (observe.from_client if up else observe.from_qemu)(bytes(data))
            await sink.send_all(data)


async def _proxy(
    client: trio.SocketStream,
    monitor: str,
    conn: int,
    writer: CassetteWriter,
    options: RecordOptions,
    start: float,
) -> None:
    recorder = _ConnectionRecorder(writer, conn, options, start)
    try:
        upstream = await open_monitor(monitor)
    except OSError:
        await client.aclose()
        raise
    async with client, upstream, trio.open_nursery() as nursery:

        async def client_to_qemu() -> None:
            await _pump(client, upstream, recorder, up=True)
            recorder.client_left()
            # The client is gone: let QEMU answer what it was sent, then hang up.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await upstream.send_eof()
            await trio.sleep(DRAIN_SECONDS)
            nursery.cancel_scope.cancel()

        async def qemu_to_client() -> None:
            await _pump(upstream, client, recorder, up=False)
            recorder.qemu_left()
            nursery.cancel_scope.cancel()

        nursery.start_soon(client_to_qemu)
        nursery.start_soon(qemu_to_client)


@contextlib.contextmanager
def listening_on(
    endpoints: list[Endpoint],
) -> Iterator[tuple[list[trio.socket.SocketType], Listening]]:
    """Bind every endpoint (as ``fakeqemu serve`` does); close them and remove the socket
    files made here on the way out."""
    listeners = Listeners().bind_all(endpoints)
    try:
        bound = [trio.socket.from_stdlib_socket(sock) for sock in listeners.sockets.values()]
        addresses, sockets = where_listening(list(zip(endpoints, bound, strict=True)))
        yield bound, Listening(addresses, sockets)
    finally:
        listeners.close()


async def record(
    monitor: str,
    endpoints: list[Endpoint],
    cassette: IO[str],
    options: RecordOptions = RecordOptions(),
    *,
    once: bool = False,
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Proxy clients of ``endpoints`` to ``monitor`` until cancelled (or, with ``once``,
    until the first client has gone), writing everything to ``cassette``."""
    writer = CassetteWriter(
        cassette,
        {
            "monitor": monitor,
            "masked-timestamps": options.mask_timestamps,
            "renumbered-ids": options.renumber_ids,
        },
    )
    start = trio.current_time()
    connections = 0
    with listening_on(endpoints) as (listeners, listening):
        async with trio.open_nursery() as nursery:

            async def serve(listener: trio.socket.SocketType) -> None:
                nonlocal connections
                while True:
                    sock, _ = await listener.accept()
                    conn, connections = connections, connections + 1
                    proxy = (trio.SocketStream(sock), monitor, conn, writer, options, start)
                    if once:
                        await _proxy(*proxy)
                        nursery.cancel_scope.cancel()
                        return
                    nursery.start_soon(_proxy, *proxy)

            for listener in listeners:
                nursery.start_soon(serve, listener)
            task_status.started(listening)
