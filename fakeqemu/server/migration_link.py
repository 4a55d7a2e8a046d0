"""The trio side of live migration: sockets between fakes, and the model's timers.

Two fakes migrate to each other over a small stream of their own: one JSON
object a line (``hello``, ``pages`` batches, ``complete`` or ``abort``), so
that the destination's counters are exactly what the source sent.  The
state machines decide everything; this module only moves bytes and calls
``advance()`` when a deadline is due.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from fakeqemu.errors import QmpError
from fakeqemu.model.fault_actions import PEER_RESET
from fakeqemu.server.failures import qemu_error_report, report_failure
from fakeqemu.server.listeners import file_id, remove_socket_file
from fakeqemu.server.toxics import ToxicLink, abort

if TYPE_CHECKING:
    from fakeqemu.model.faults import FaultEngine
    from fakeqemu.model.incoming import IncomingMigration
    from fakeqemu.model.machine import VirtualMachine
    from fakeqemu.model.outgoing import OutgoingMigration

#: A destination refuses lines longer than this: the stream is ours, and small.
MAX_LINE = 1 << 16


def parse_socket_uri(uri: str) -> tuple[str, str, int]:
    """``tcp:HOST:PORT`` → ("tcp", host, port); ``unix:PATH`` → ("unix", path, 0);
    ``fd:N`` (a socket passed to the monitor, by number) → ("fd", "", N)."""
    scheme, _, rest = uri.partition(":")
    if scheme == "unix":
        return "unix", rest, 0
    if scheme == "fd" and rest.isdigit():
        return "fd", "", int(rest)
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            raise QmpError(f"error parsing address '{rest}'")
        return "tcp", host.strip("[]"), int(port)
    raise QmpError(f"fakeqemu migrates over tcp: and unix: only, not {scheme}:")


class TrioMigrationTransport:
    """Implements :class:`fakeqemu.model.migration.MigrationTransport` for one fake."""

    def __init__(
        self,
        vm: VirtualMachine,
        nursery: trio.Nursery,
        on_exit: Callable[[], None],
        faults: FaultEngine | None = None,
    ) -> None:
        self._vm = vm
        self._nursery = nursery
        self._on_exit = on_exit
        self._changed = trio.Event()
        #: Transport toxics on the migration stream come from here.
        self._faults = faults

    def _toxic_link(self, wake: Callable[[], None]) -> ToxicLink | None:
        return None if self._faults is None else ToxicLink(self._faults, "migration", wake)

    def wake(self) -> None:
        self._changed.set()

    # -- destination ------------------------------------------------------------------

    def listen(self, uri: str, incoming: IncomingMigration) -> list[dict[str, Any]]:
        kind, host, port = parse_socket_uri(uri)
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(host)
            addresses: list[dict[str, Any]] = [{"path": host, "type": "unix"}]
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(host if kind == "unix" else (host, port))
        except OSError as error:
            sock.close()
            raise QmpError(f"Failed to bind socket: {os.strerror(error.errno or 0)}") from None
        created = file_id(host) if kind == "unix" else None
        sock.listen(1)
        if kind == "tcp":
            bound_host, bound_port = sock.getsockname()[:2]
            version = "ipv6" if family == socket.AF_INET6 else "ipv4"
            # socket-address carries the real port, as a string, like QEMU's.
            addresses = [
                {"port": str(bound_port), version: True, "host": bound_host, "type": "inet"}
            ]
        self._start_guarded(
            "the incoming migration task failed",
            self._run_incoming,
            trio.socket.from_stdlib_socket(sock),
            incoming,
            (host, created) if kind == "unix" else None,
            on_failure=lambda: incoming.stream_broken(
                "load of migration failed: Input/output error"
            ),
        )
        return addresses

    def _start_guarded(
        self,
        what: str,
        task: Callable[..., Awaitable[None]],
        *args: Any,
        on_failure: Callable[[], None],
    ) -> None:
        """Run ``task`` in the server's nursery; an exception fails the migration only."""

        async def guarded() -> None:
            try:
                await task(*args)
            except Exception as error:
                report_failure(f"{what}; the migration fails, the server goes on", error)
                try:
                    on_failure()
                except Exception as again:
                    report_failure("failing the migration failed too", again)
                self._exit_if_asked()

        self._nursery.start_soon(guarded)

    def _exit_if_asked(self) -> None:
        if self._vm.exit_status is not None:
            incoming = self._vm.incoming_migration
            if incoming is not None and incoming.error_desc:
                # process_incoming_migration_co(): error_report_err(), then exit(1).
                qemu_error_report(incoming.error_desc)
            self._on_exit()

    async def _run_incoming(
        self,
        listener: trio.socket.SocketType,
        incoming: IncomingMigration,
        socket_file: tuple[str, tuple[int, int] | None] | None,
    ) -> None:
        # QEMU keeps a unix listener's file while the migration runs, and removes it
        # with the listener when the incoming migration ends.
        try:
            with listener:
                conn, _ = await listener.accept()
                await self._receive(trio.SocketStream(conn), incoming)
        finally:
            if socket_file is not None:
                remove_socket_file(*socket_file)
        self._exit_if_asked()

    async def _receive(self, stream: trio.SocketStream, incoming: IncomingMigration) -> None:
        async with trio.open_nursery() as nursery:
            changed = [trio.Event()]
            link = self._toxic_link(lambda: changed[0].set())
            if link is not None:

                async def reset_when_asked() -> None:
                    # A reset toxic or a source-dies fault: the stream breaks under the reader.
                    while not link.reset_due:
                        await changed[0].wait()
                        changed[0] = trio.Event()
                    await abort(stream)

                nursery.start_soon(reset_when_asked)
            try:
                await self._receive_lines(stream, incoming)
            finally:
                if link is not None:
                    link.close()
                nursery.cancel_scope.cancel()

    async def _receive_lines(self, stream: trio.SocketStream, incoming: IncomingMigration) -> None:
        profile = self._vm.profile
        connected = False
        if not profile.incoming_peeks_channel:
            incoming.source_connected(trio.current_time())
            connected = True
        buffer = b""
        received = False
        try:
            async with stream:
                while incoming.status not in ("completed", "failed"):
                    data = await stream.receive_some(65536)
                    if not data:
                        break
                    if not connected:
                        incoming.source_connected(trio.current_time())
                        connected = True
                    received = True
                    buffer += data
                    if len(buffer) > MAX_LINE and b"\n" not in buffer:
                        break
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        self._receive_line(incoming, line)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        if not received:
            # The source left without a byte (libvirt closes the socket it dialled when
            # its own ``migrate`` fails).
            incoming.stream_empty()
        elif incoming.status != "completed":
            incoming.stream_torn()
        for report in incoming.take_error_reports():
            qemu_error_report(report)

    def _receive_line(self, incoming: IncomingMigration, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            incoming.stream_broken("load of migration failed: Invalid argument")
            return
        incoming.receive(message, trio.current_time())

    # -- source ---------------------------------------------------------------------

    def connect(self, uri: str, outgoing: OutgoingMigration) -> None:
        self._start_guarded(
            "the outgoing migration task failed",
            self._run_outgoing,
            uri,
            outgoing,
            on_failure=lambda: outgoing.fail(
                trio.current_time(), "fakeqemu: the migration task failed (see its stderr)"
            ),
        )

    async def _open(self, uri: str) -> trio.abc.Stream:
        kind, host, port = parse_socket_uri(uri)
        if kind == "fd":
            # Already connected (libvirt dialled the destination itself); ours to close.
            return trio.SocketStream(trio.socket.from_stdlib_socket(socket.socket(fileno=port)))
        if kind == "unix":
            return await trio.open_unix_socket(host)
        return await trio.open_tcp_stream(host, port)

    async def _run_outgoing(self, uri: str, outgoing: OutgoingMigration) -> None:
        kind, host, port = parse_socket_uri(uri)
        where = host if kind == "unix" else f"{host}:{port}"
        try:
            stream = await self._open(uri)
        except OSError as error:
            reason = os.strerror(error.errno or errno.ECONNREFUSED)
            outgoing.connect_failed(
                trio.current_time(), f"Failed to connect to '{where}': {reason}"
            )
            return
        outgoing.channel_connected(trio.current_time())
        link = self._toxic_link(self.wake)
        try:
            async with stream:
                while True:
                    if link is not None and link.reset_due:
                        await abort(stream)
                        outgoing.fail(trio.current_time(), PEER_RESET)
                        return
                    if not await self._flush(stream, outgoing, link):
                        return
                    if not outgoing.is_running:
                        return
                    await self._wait(outgoing.next_deadline())
                    outgoing.advance(trio.current_time())
        finally:
            if link is not None:
                link.close()

    async def _flush(
        self, stream: trio.abc.Stream, outgoing: OutgoingMigration, link: ToxicLink | None
    ) -> bool:
        if not outgoing.outbox or (link is not None and link.hung):
            return True  # a hung link: written once the hang ends
        data = b"".join(json.dumps(m).encode() + b"\n" for m in outgoing.outbox)
        outgoing.outbox.clear()
        try:
            if link is None:
                await stream.send_all(data)
            else:
                if latency := link.latency():
                    await trio.sleep(latency)
                if not await link.send(stream, data):
                    # A close-after toxic: the link is gone; QEMU's next write fails.
                    await stream.aclose()
                    outgoing.fail(trio.current_time(), "Unable to write to socket: Broken pipe")
                    return False
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            cause = error.__cause__
            reason = (
                os.strerror(cause.errno)
                if isinstance(cause, OSError) and cause.errno
                else ("Broken pipe")
            )
            outgoing.fail(trio.current_time(), f"Unable to write to socket: {reason}")
            return False
        return True

    async def _wait(self, deadline: float | None) -> None:
        changed = self._changed
        with trio.move_on_at(deadline if deadline is not None else trio.current_time() + 3600):
            await changed.wait()
        if changed.is_set():
            self._changed = trio.Event()
