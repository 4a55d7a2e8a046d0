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

from fakeqemu.fake import FakeQemu
from fakeqemu.migration_link import TrioMigrationTransport

READ_SIZE = 65536


@dataclass(frozen=True)
class Endpoint:
    """Where a monitor lives: ``kind`` is ``unix``, ``tcp`` or ``connect``."""

    kind: str
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def describe(self, bound_port: int | None = None) -> str:
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port if bound_port is None else bound_port}"
        return f"{self.kind}:{self.path}"


@dataclass
class Listening:
    """What :func:`serve` reports once every monitor is ready."""

    addresses: list[str]
    #: Per endpoint: a unix path, or (host, port) with the real bound port.
    sockets: list[str | tuple[str, int]]


async def _bind(endpoint: Endpoint) -> trio.socket.SocketType:
    if endpoint.kind == "unix":
        assert endpoint.path is not None
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(endpoint.path)
        await sock.bind(endpoint.path)
    else:
        family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await sock.bind((endpoint.host, endpoint.port))
    # QEMU listens with a backlog of 1 and stops accepting while a client is connected.
    sock.listen(1)
    return sock


async def serve_connection(fake: FakeQemu, stream: trio.abc.Stream) -> None:
    """Run one monitor session until the client leaves or ``quit`` is served.

    A client that vanishes mid-write or mid-read only ends its own session:
    stream errors are caught inside each task, so they never reach the
    listener and the monitor goes on to its next client.
    """
    output_ready = trio.Event()
    drained = trio.Event()

    def ring() -> None:
        output_ready.set()

    session = fake.open_session(on_output=ring)
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
) -> None:
    while True:
        conn, _ = await sock.accept()
        on_connection()
        await serve_connection(fake, trio.SocketStream(conn))
        if fake.quit_requested:
            quit_served.set()
            return


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
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve every monitor until ``quit`` or cancellation; unix socket files are removed."""
    bound: list[tuple[Endpoint, trio.socket.SocketType]] = []
    try:
        for endpoint in endpoints:
            if endpoint.kind != "connect":
                bound.append((endpoint, await _bind(endpoint)))  # noqa: PERF401 - await
        addresses: list[str] = []
        sockets: list[str | tuple[str, int]] = []
        for endpoint, sock in bound:
            if endpoint.kind == "unix":
                assert endpoint.path is not None
                addresses.append(endpoint.describe())
                sockets.append(endpoint.path)
            else:
                host, port = sock.getsockname()[:2]
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
            for _, sock in bound:
                nursery.start_soon(_serve_listener, fake, sock, on_connection, quit_served)
            for endpoint in endpoints:
                if endpoint.kind == "connect":
                    nursery.start_soon(_serve_connect, fake, endpoint, quit_served)
                    addresses.append(endpoint.describe())
            task_status.started(Listening(addresses, sockets))
            await quit_served.wait()
            nursery.cancel_scope.cancel()
    finally:
        for endpoint, sock in bound:
            sock.close()
            if endpoint.kind == "unix" and endpoint.path is not None:
                _unlink_quietly(endpoint.path)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise
