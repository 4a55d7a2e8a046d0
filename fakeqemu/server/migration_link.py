"""The trio side of live migration: sockets between fakes, and the model's timers.

Two fakes migrate to each other over a small stream of their own: one JSON
object a line (:mod:`fakeqemu.server.migration_wire`), so that the destination's
counters are exactly what the source sent.  A postcopy migration whose stream breaks
pauses on both sides; ``migrate-recover`` and ``migrate`` with ``resume`` open a new
stream that carries on (:mod:`fakeqemu.model.recovery`).  The
state machines decide everything; this module only moves bytes and calls
``advance()`` when a deadline is due.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from fakeqemu.errors import QmpError
from fakeqemu.model import recovery
from fakeqemu.model.fault_actions import PEER_RESET
from fakeqemu.server.failures import qemu_error_report, report_failure
from fakeqemu.server.listeners import file_id, remove_socket_file
from fakeqemu.server.migration_wire import MAX_LINE, decode, encode, parse_socket_uri
from fakeqemu.server.toxics import ToxicLink, abort

if TYPE_CHECKING:
    from fakeqemu.model.faults import FaultEngine
    from fakeqemu.model.incoming import IncomingMigration
    from fakeqemu.model.machine import VirtualMachine
    from fakeqemu.model.outgoing import OutgoingMigration


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
        #: ``migrate-pause`` calls so far (streams compare with the count they began
        #: with), and the error-desc the last one leaves on a source.
        self._breaks = 0
        self._break_error: str | None = None
        #: The listener waiting for a source: ``migrate-recover`` replaces it.
        self._accepting: trio.CancelScope | None = None

    def _toxic_link(self, wake: Callable[[], None]) -> ToxicLink | None:
        return None if self._faults is None else ToxicLink(self._faults, "migration", wake)

    def wake(self) -> None:
        self._changed.set()

    def break_stream(self, error: str | None) -> None:
        self._breaks += 1
        self._break_error = error
        self.wake()

    def _broken(self, breaks: int, link: ToxicLink | None) -> bool:
        """A reset toxic, a link-break fault or ``migrate-pause`` since ``breaks``."""
        return self._breaks != breaks or (link is not None and link.reset_due)

    async def _changes(self) -> None:
        """Wait for the next :meth:`wake`."""
        changed = self._changed
        await changed.wait()
        if self._changed is changed:
            self._changed = trio.Event()

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
        if self._accepting is not None:
            # migrate-recover again: the old listener goes, with its socket file.
            self._accepting.cancel()
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
                with trio.CancelScope() as accepting:
                    self._accepting = accepting
                    conn, _ = await listener.accept()
                if self._accepting is accepting:
                    self._accepting = None
                if accepting.cancelled_caught:
                    return
                await self._receive(trio.SocketStream(conn), incoming)
        finally:
            if socket_file is not None:
                remove_socket_file(*socket_file)
        self._exit_if_asked()

    async def _receive(self, stream: trio.SocketStream, incoming: IncomingMigration) -> None:
        breaks = self._breaks
        async with trio.open_nursery() as nursery:
            link = self._toxic_link(self.wake)

            async def break_when_asked() -> None:
                # A reset toxic, a source-dies or link-break fault, or migrate-pause:
                # the stream breaks under the reader.
                while not self._broken(breaks, link):
                    await self._changes()
                await abort(stream)

            nursery.start_soon(break_when_asked)
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
                    if incoming.replies:  # the return path: the resume handshake
                        await stream.send_all(encode(incoming.replies))
                        incoming.replies.clear()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        incoming.stream_ended(received)
        for report in incoming.take_error_reports():
            qemu_error_report(report)

    def _receive_line(self, incoming: IncomingMigration, line: bytes) -> None:
        message = decode(line)
        if not message:
            incoming.stream_broken("load of migration failed: Invalid argument")
            return
        incoming.receive(message, trio.current_time())

    # -- source ---------------------------------------------------------------------

    def connect(self, uri: str, outgoing: OutgoingMigration, *, resume: bool = False) -> None:
        self._start_guarded(
            "the outgoing migration task failed",
            self._run_outgoing,
            uri,
            outgoing,
            resume,
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

    async def _run_outgoing(self, uri: str, outgoing: OutgoingMigration, resume: bool) -> None:
        kind, host, port = parse_socket_uri(uri)
        where = host if kind == "unix" else f"{host}:{port}"
        try:
            stream = await self._open(uri)
        except OSError as error:
            reason = os.strerror(error.errno or errno.ECONNREFUSED)
            message = f"Failed to connect to '{where}': {reason}"
            if resume:
                recovery.resume_failed(outgoing, message)
                qemu_error_report(message)  # observed on 7.2's stderr
            else:
                outgoing.connect_failed(trio.current_time(), message)
            return
        if resume:
            recovery.resume_connected(outgoing)
        else:
            outgoing.channel_connected(trio.current_time())
        breaks = self._breaks
        link = self._toxic_link(self.wake)
        peer_gone = trio.Event()
        try:
            async with stream, trio.open_nursery() as nursery:
                nursery.start_soon(self._return_path, stream, outgoing, peer_gone)
                await self._send_loop(stream, outgoing, link, breaks, peer_gone)
                nursery.cancel_scope.cancel()
        finally:
            if link is not None:
                link.close()

    async def _send_loop(
        self,
        stream: trio.abc.Stream,
        outgoing: OutgoingMigration,
        link: ToxicLink | None,
        breaks: int,
        peer_gone: trio.Event,
    ) -> None:
        while True:
            if self._broken(breaks, link):
                await abort(stream)
                error = self._break_error if self._breaks != breaks else PEER_RESET
                self._stream_broke(outgoing, error)
                return
            if peer_gone.is_set() and outgoing.status in recovery.RECOVERABLE:
                self._stream_broke(outgoing, PEER_RESET)
                return
            if not await self._flush(stream, outgoing, link):
                return
            if not outgoing.is_running or outgoing.status == "postcopy-paused":
                return
            await self._wait(outgoing.next_deadline())
            outgoing.advance(trio.current_time())

    async def _return_path(
        self, stream: trio.abc.Stream, outgoing: OutgoingMigration, peer_gone: trio.Event
    ) -> None:
        """What the destination sends back: the resume handshake's acknowledgement, or
        the end of the stream, which pauses a postcopy migration at once."""
        buffer = b""
        try:
            while len(buffer) <= MAX_LINE:
                data = await stream.receive_some(65536)
                if not data:
                    break
                *lines, buffer = (buffer + data).split(b"\n")
                for line in lines:
                    if recovery.RESUME_ACK in decode(line):
                        outgoing.resume_postcopy(trio.current_time())
                        self.wake()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        peer_gone.set()
        self.wake()

    def _stream_broke(self, outgoing: OutgoingMigration, error: str | None) -> None:
        if recovery.stream_broke(outgoing, trio.current_time(), error):
            qemu_error_report(recovery.POSTCOPY_PAUSED_REPORT)

    async def _flush(
        self, stream: trio.abc.Stream, outgoing: OutgoingMigration, link: ToxicLink | None
    ) -> bool:
        if not outgoing.outbox or (link is not None and link.hung):
            return True  # a hung link: written once the hang ends
        data = encode(outgoing.outbox)
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
                    self._stream_broke(outgoing, "Unable to write to socket: Broken pipe")
                    return False
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            cause = error.__cause__
            reason = (
                os.strerror(cause.errno)
                if isinstance(cause, OSError) and cause.errno
                else ("Broken pipe")
            )
            self._stream_broke(outgoing, f"Unable to write to socket: {reason}")
            return False
        return True

    async def _wait(self, deadline: float | None) -> None:
        changed = self._changed
        with trio.move_on_at(deadline if deadline is not None else trio.current_time() + 3600):
            await changed.wait()
        if changed.is_set():
            self._changed = trio.Event()
