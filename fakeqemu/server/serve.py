"""The trio layer: sockets in, sockets out, nothing else.

Each configured monitor behaves like a QEMU ``-qmp`` socket chardev: it serves
one client at a time, and a second client's connection waits in the listen
backlog, without a greeting, until the first one leaves.  ``connect``
monitors dial a listening client once, as QEMU does with ``server=off``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from fakeqemu.errors import FakeQemuError
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.connection import MonitorConnection, serve_connection
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.failures import report_failure
from fakeqemu.server.fd_passing import FdPassingStream, monitor_stream
from fakeqemu.server.listeners import BindError, FileId, Listeners, where_listening
from fakeqemu.server.migration_link import TrioMigrationTransport
from fakeqemu.server.toxics import run_fault_timers

__all__ = ["Endpoint", "Listening", "ServeControl", "serve", "serve_connection"]

#: On a host signal, how long the monitors get to write the SHUTDOWN event (and
#: whatever precedes it) before the process goes: QEMU does not wait for a client
#: that does not read.
SIGNAL_FLUSH_SECONDS = 1.0


@dataclass
class Listening:
    """What :func:`serve` reports once every monitor is ready."""

    addresses: list[str]
    #: Per endpoint: a unix path, or (host, port) with the real bound port.
    sockets: list[str | tuple[str, int]]


class StartupError(FakeQemuError):
    """A monitor or ``-incoming`` could not be set up; the message names which."""


@dataclass
class ServeControl:
    """How a caller stops :func:`serve` as a host signal stops QEMU."""

    #: Set (from the trio thread) to shut down: SHUTDOWN ``host-signal`` to every
    #: negotiated client, their output flushed (briefly), then every task ends.
    host_signal: trio.Event = field(default_factory=trio.Event)
    #: The connections being served, with their counters (see MonitorConnection).
    connections: set[MonitorConnection] = field(default_factory=set)


async def _serve_listener(
    fake: FakeQemu,
    sock: trio.socket.SocketType,
    on_connection: Callable[[], None],
    quit_served: trio.Event,
    greeted: socket.socket | None,
    control: ServeControl,
) -> None:
    if greeted is not None:
        stream = monitor_stream(trio.socket.from_stdlib_socket(greeted))
        await _serve_one(fake, stream, control, greeting_sent=True)
    while not fake.quit_requested:
        try:
            conn, _ = await sock.accept()
        except OSError as error:
            # Out of descriptors, say: this client waits, the server goes on.
            report_failure("accepting a monitor client failed; retrying", error)
            await trio.sleep(0.1)
            continue
        on_connection()
        await _serve_one(fake, monitor_stream(conn), control)
    quit_served.set()


async def _serve_one(
    fake: FakeQemu, stream: trio.abc.Stream, control: ServeControl, *, greeting_sent: bool = False
) -> None:
    connection = MonitorConnection(fake, stream, greeting_sent=greeting_sent)
    control.connections.add(connection)
    if isinstance(stream, FdPassingStream):
        # Descriptors passed with SCM_RIGHTS wait there for getfd.
        stream.deliver = fake.vm.descriptors.for_monitor(connection.session).receive
    try:
        await connection.serve()
    finally:
        control.connections.discard(connection)
        fake.vm.descriptors.release(connection.session)


async def _serve_connect(
    fake: FakeQemu, stream: trio.abc.Stream, quit_served: trio.Event, control: ServeControl
) -> None:
    await _serve_one(fake, stream, control)
    if fake.quit_requested:
        quit_served.set()


async def _dial(endpoint: Endpoint) -> trio.abc.Stream:
    """``--connect``: QEMU connects before it starts, and fails to start if it cannot."""
    assert endpoint.path is not None
    try:
        return await trio.open_unix_socket(endpoint.path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise StartupError(
            f"--connect {endpoint.path}: Failed to connect to '{endpoint.path}': {reason}"
        ) from None


async def _flush_then_stop(control: ServeControl, nursery: trio.Nursery) -> None:
    with trio.move_on_after(SIGNAL_FLUSH_SECONDS):
        async with trio.open_nursery() as flushing:
            for connection in list(control.connections):
                flushing.start_soon(connection.wait_flushed)
    nursery.cancel_scope.cancel()


async def serve(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    *,
    on_connection: Callable[[], None] = lambda: None,
    prebound: dict[int, socket.socket] | None = None,
    greeted: dict[int, socket.socket] | None = None,
    socket_files: dict[str, FileId | None] | None = None,
    control: ServeControl | None = None,
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve every monitor until ``quit``, a host signal or cancellation.

    Reports :class:`Listening` once every monitor listens or is connected and
    ``-incoming URI`` listens; a failure before that raises :class:`StartupError`.
    Unix socket files are removed at the end, if they are still the ones bound here.

    ``prebound`` holds listening sockets already bound for some endpoints (by
    index), ``greeted`` connections already accepted and greeted on them (see
    :mod:`fakeqemu.server.fast_start`), and ``socket_files`` the files they created.
    """
    prebound = prebound or {}
    greeted = greeted or {}
    control = control or ServeControl()
    bound: list[tuple[Endpoint, trio.socket.SocketType, socket.socket | None]] = []
    # What is bound here is closed here; prebound sockets' files are removed here too.
    listeners = Listeners()
    listeners.files.update(socket_files or {})
    dialled: list[tuple[Endpoint, trio.abc.Stream]] = []
    try:
        for index, endpoint in enumerate(endpoints):
            if endpoint.kind != "connect":
                plain = prebound.get(index)
                if plain is None:
                    try:
                        plain = listeners.bind(index, endpoint)
                    except BindError as error:
                        raise StartupError(f"{error.option}: {error}") from None
                listener = trio.socket.from_stdlib_socket(plain)
                bound.append((endpoint, listener, greeted.get(index)))
        for endpoint in [endpoint for endpoint in endpoints if endpoint.kind == "connect"]:
            stream = await _dial(endpoint)
            dialled.append((endpoint, stream))
        addresses, sockets = where_listening([(endpoint, sock) for endpoint, sock, _ in bound])
        addresses += [endpoint.describe() for endpoint, _ in dialled]
        # `quit` ends the whole process in QEMU, not just the monitor that sent it;
        # the monitor that served it sets this once its reply is on the wire.
        quit_served = trio.Event()
        async with trio.open_nursery() as nursery:
            vm = fake.vm
            vm.clock = trio.current_time
            vm.transport = TrioMigrationTransport(
                vm, nursery, on_exit=quit_served.set, faults=fake.faults
            )
            nursery.start_soon(run_fault_timers, fake.faults)
            if vm.incoming not in (None, "defer"):
                # -incoming URI: QEMU listens before the monitors are up.
                try:
                    vm.begin_incoming(vm.incoming)
                except FakeQemuError as error:
                    raise StartupError(f"--incoming {vm.incoming}: {error}") from None
            for _, listener, early in bound:
                nursery.start_soon(
                    _serve_listener, fake, listener, on_connection, quit_served, early, control
                )
            for _, stream in dialled:
                nursery.start_soon(_serve_connect, fake, stream, quit_served, control)
            dialled = []
            task_status.started(Listening(addresses, sockets))
            async with trio.open_nursery() as waiters:

                async def on_quit() -> None:
                    await quit_served.wait()
                    waiters.cancel_scope.cancel()

                async def on_signal() -> None:
                    await control.host_signal.wait()
                    vm.host_signal()
                    await _flush_then_stop(control, waiters)

                waiters.start_soon(on_quit)
                waiters.start_soon(on_signal)
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            for _, stream in dialled:
                await stream.aclose()
        for _, listener, _ in bound:
            listener.close()
        listeners.close()
