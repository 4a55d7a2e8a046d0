"""The trio layer: sockets in, sockets out, nothing else.

Each configured monitor behaves like a QEMU ``-qmp`` socket chardev: it serves
one client at a time, and a second client's connection waits in the listen
backlog, without a greeting, until the first one leaves.  ``connect``
monitors dial a listening client once, as QEMU does with ``server=off``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import trio

from fakeqemu.endpoints import Endpoint
from fakeqemu.fake import FakeQemu
from fakeqemu.fast_start import bind_tcp, bind_unix
from fakeqemu.migration_link import TrioMigrationTransport

__all__ = ["Endpoint", "Listening", "serve", "serve_connection"]

READ_SIZE = 65536


@dataclass
class Listening:
    """What :func:`serve` reports once every monitor is ready."""

    addresses: list[str]
    #: Per endpoint: a unix path, or (host, port) with the real bound port.
    sockets: list[str | tuple[str, int]]


def _bind(endpoint: Endpoint) -> socket.socket:
    if endpoint.kind == "unix":
        assert endpoint.path is not None
        return bind_unix(endpoint.path)
    return bind_tcp(endpoint.host, endpoint.port)


async def serve_connection(
    fake: FakeQemu, stream: trio.abc.Stream, *, greeting_sent: bool = False
) -> None:
    """Run one monitor session until the client leaves or ``quit`` is served.

    A client that vanishes mid-write or mid-read only ends its own session:
    stream errors are caught inside each task, so they never reach the
    listener and the monitor goes on to its next client.
    """
    output_ready = trio.Event()
    drained = trio.Event()

    def ring() -> None:
        output_ready.set()

    session = fake.open_session(on_output=ring, greeting_sent=greeting_sent)
    ring()

    async def writer(done: trio.CancelScope) -> None:
        nonlocal output_ready, drained
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while True:
                await output_ready.wait()
                output_ready = trio.Event()
                data = session.data_to_send()
                if data:
                    await stream.send_all(data)
                drained.set()
                drained = trio.Event()
                if session.closing:
                    break
        done.cancel()

    async def reader() -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while True:
                while not session.wants_input:
                    await drained.wait()
                data = await stream.receive_some(READ_SIZE)
                if not data:
                    return
                session.receive_data(bytes(data))

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer, nursery.cancel_scope)
            await reader()
            nursery.cancel_scope.cancel()
    finally:
        fake.close_session(session)
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def _serve_listener(
    fake: FakeQemu,
    sock: trio.socket.SocketType,
    on_connection: Callable[[], None],
    quit_served: trio.Event,
    greeted: socket.socket | None,
) -> None:
    if greeted is not None:
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(greeted))
        await serve_connection(fake, stream, greeting_sent=True)
    while not fake.quit_requested:
        conn, _ = await sock.accept()
        on_connection()
        await serve_connection(fake, trio.SocketStream(conn))
    quit_served.set()


async def _serve_connect(fake: FakeQemu, endpoint: Endpoint, quit_served: trio.Event) -> None:
    assert endpoint.path is not None
    stream = await trio.open_unix_socket(endpoint.path)
    await serve_connection(fake, stream)
    if fake.quit_requested:
        quit_served.set()


async def serve(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    *,
    on_connection: Callable[[], None] = lambda: None,
    prebound: dict[int, socket.socket] | None = None,
    greeted: dict[int, socket.socket] | None = None,
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve every monitor until ``quit`` or cancellation; unix socket files are removed.

    ``prebound`` holds listening sockets already bound for some endpoints (by
    index), and ``greeted`` connections already accepted and greeted on them
    (see :mod:`fakeqemu.fast_start`).
    """
    prebound = prebound or {}
    greeted = greeted or {}
    bound: list[tuple[Endpoint, trio.socket.SocketType, socket.socket | None]] = []
    try:
        for index, endpoint in enumerate(endpoints):
            if endpoint.kind != "connect":
                plain = prebound.get(index) or _bind(endpoint)
                listener = trio.socket.from_stdlib_socket(plain)
                bound.append((endpoint, listener, greeted.get(index)))
        addresses: list[str] = []
        sockets: list[str | tuple[str, int]] = []
        for endpoint, listener, _ in bound:
            if endpoint.kind == "unix":
                assert endpoint.path is not None
                addresses.append(endpoint.describe())
                sockets.append(endpoint.path)
            else:
                host, port = listener.getsockname()[:2]
                addresses.append(endpoint.describe(port))
                sockets.append((host, port))
        # `quit` ends the whole process in QEMU, not just the monitor that sent it;
        # the monitor that served it sets this once its reply is on the wire.
        quit_served = trio.Event()
        async with trio.open_nursery() as nursery:
            vm = fake.vm
            vm.clock = trio.current_time
            vm.transport = TrioMigrationTransport(vm, nursery, on_exit=quit_served.set)
            if vm.incoming not in (None, "defer"):
                # -incoming URI: QEMU listens before the monitors are up.
                vm.begin_incoming(vm.incoming)
            for _, listener, early in bound:
                nursery.start_soon(
                    _serve_listener, fake, listener, on_connection, quit_served, early
                )
            for endpoint in endpoints:
                if endpoint.kind == "connect":
                    nursery.start_soon(_serve_connect, fake, endpoint, quit_served)
                    addresses.append(endpoint.describe())
            task_status.started(Listening(addresses, sockets))
            await quit_served.wait()
            nursery.cancel_scope.cancel()
    finally:
        for endpoint, listener, _ in bound:
            listener.close()
            if endpoint.kind == "unix" and endpoint.path is not None:
                _unlink_quietly(endpoint.path)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise
