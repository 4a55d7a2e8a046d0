"""``fakeqemu replay CASSETTE``: serve a recorded session back, strictly.

Each client plays the first recorded connection that no client has played through
yet (and that no other client is playing).  It gets what QEMU wrote before the
first request (the greeting), then, for each request that matches the next recorded
one, everything QEMU wrote until the request after it, byte for byte.  A request
that differs gets a QMP error naming the cassette line it should have matched, and
the position stays where it was: the client may go on.  A client that leaves before
the end of its connection leaves it to the next client, from the start.  Replay ends
once every connection has been played through (or, ``once``, when the first client
has gone), or when cancelled.

Requests are compared as JSON values (:mod:`fakeqemu.protocol.cassette_matchers`), relaxed
where the matchers say; in a cassette with renumbered ids the ids are left out of the
comparison, and replies carry the client's own id back.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from fakeqemu.protocol.cassette import (
    Cassette,
    Entry,
    RequestSplitter,
    encode_id,
    replace_id,
    top_level_member,
)
from fakeqemu.protocol.cassette_matchers import Matcher, compare_requests
from fakeqemu.protocol.encoder import encode_message
from fakeqemu.protocol.json_stream import parse_json
from fakeqemu.recorder.record import READ_SIZE, listening_on
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.serve import Listening


def _shown(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


class ConnectionScript:
    """One recorded connection, answered request by request (no I/O here)."""

    def __init__(
        self,
        entries: list[Entry],
        name: str,
        renumbered_ids: bool,
        matchers: Sequence[Matcher] = (),
        conn: int = 0,
    ) -> None:
        self._entries = entries
        self._name = name
        self._renumbered = renumbered_ids
        self._matchers = tuple(matchers)
        #: The recorded connection's number: clients play them lowest first.
        self.conn = conn
        self._position = 0
        self.problems: list[str] = []
        self._hang_up = False

    def restarted(self) -> ConnectionScript:
        """The same connection from its start, for the next client."""
        return ConnectionScript(
            self._entries, self._name, self._renumbered, self._matchers, self.conn
        )

    @property
    def finished(self) -> bool:
        """Every recorded request has been answered (or the recorded QEMU hung up)."""
        return self._hang_up or not any(e.from_client for e in self._entries[self._position :])

    def _output_until_request(self, client_id: bytes | None) -> bytes:
        out = bytearray()
        while self._position < len(self._entries):
            entry = self._entries[self._position]
            if entry.from_client:
                break
            self._position += 1
            if entry.eof:
                self._hang_up = True
                break
            data = entry.data
            if client_id is not None and self._renumbered:
                data = replace_id(data, client_id)[0] if top_level_member(data, "id") else data
            out += data + b"\n"
        return bytes(out)

    def hang_up(self) -> bool:
        """The recorded QEMU closed the connection: hang up once the output is sent."""
        return self._hang_up

    def opening(self) -> bytes:
        """What QEMU wrote before the client's first request: the greeting."""
        return self._output_until_request(None)

    def answer(self, request: bytes) -> bytes:
        expected = next(
            (e for e in self._entries[self._position :] if e.from_client),
            None,
        )
        if expected is None:
            last = self._entries[-1].line if self._entries else 0
            return self._refuse(
                request,
                f"no request left in {self._name} for this connection (it ends at"
                f" line {last}); got {_shown(request)}",
            )
        refused = compare_requests(
            expected.data, request, ignore_ids=self._renumbered, matchers=self._matchers
        )
        if refused is not None:
            return self._refuse(
                request,
                f"the request differs from {self._name} line {expected.line}:"
                f" expected {_shown(expected.data)}, got {_shown(request)}"
                + (f"; {refused}" if refused else ""),
            )
        self._position = self._entries.index(expected) + 1
        span = top_level_member(request, "id")
        client_id = None
        if span is not None:
            # An id that is not JSON matched a recorded one byte for byte: nothing to echo.
            with contextlib.suppress(ValueError):
                client_id = encode_id(parse_json(request[span[0] : span[1]]))
        return self._output_until_request(client_id)

    def _refuse(self, request: bytes, problem: str) -> bytes:
        self.problems.append(problem)
        error: dict[str, Any] = {
            "error": {"class": "GenericError", "desc": f"fakeqemu replay: {problem}"}
        }
        span = top_level_member(request, "id")
        if span is not None:
            with contextlib.suppress(ValueError):
                error["id"] = parse_json(request[span[0] : span[1]])
        return encode_message(error)


def scripts(
    cassette: Cassette, name: str, side: str | None, matchers: Sequence[Matcher] = ()
) -> list[ConnectionScript]:
    """One script per recorded connection of ``side`` (the only side when None)."""
    sides = cassette.sides
    if side is None:
        if len(sides) > 1:
            raise ValueError(f"{name} has several sides ({', '.join(sides)}): pick one")
        side = sides[0] if sides else "src"
    elif side not in sides:
        raise ValueError(f"{name} has no side {side!r} (it has {', '.join(sides) or 'none'})")
    renumbered = bool(cassette.header.get("renumbered-ids", False))
    return [
        ConnectionScript(cassette.connection(side, conn), name, renumbered, matchers, conn)
        for conn in cassette.connections(side)
    ]


async def _play(
    stream: trio.SocketStream, script: ConnectionScript, report: Callable[[str], None]
) -> None:
    splitter = RequestSplitter()
    reported = 0
    async with stream:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(script.opening())
            while not script.hang_up() and (data := await stream.receive_some(READ_SIZE)):
                for request in splitter.feed(bytes(data)):
                    answer = script.answer(request)
                    # As it happens: a replay that serves on must not keep its news.
                    for problem in script.problems[reported:]:
                        report(problem)
                    reported = len(script.problems)
                    await stream.send_all(answer)
                    if script.hang_up():
                        break


async def replay(
    cassette: Cassette,
    name: str,
    endpoints: list[Endpoint],
    *,
    side: str | None = None,
    once: bool = False,
    matchers: Sequence[Matcher] = (),
    report: Callable[[str], None] = lambda problem: print(problem, file=sys.stderr),
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> list[str]:
    """Serve ``cassette`` until cancelled, every connection recorded has been played
    through, or (``once``) the first client has gone; returns the problems, as ``report``
    got them.  ``matchers`` relax how requests are compared."""
    pending = scripts(cassette, name, side, matchers)
    unfinished = len(pending)
    problems: list[str] = []

    def reported(problem: str) -> None:
        problems.append(problem)
        report(problem)

    with listening_on(endpoints) as (listeners, listening):
        if not pending:
            task_status.started(listening)
            return problems
        changed = trio.Condition()
        async with trio.open_nursery() as nursery:

            async def serve(listener: trio.socket.SocketType) -> None:
                nonlocal unfinished
                # Like a QEMU monitor: one client at a time, in the order they come; one
                # that comes while every connection left is being played waits for one.
                while True:
                    sock, _ = await listener.accept()
                    async with changed:
                        while not pending:
                            await changed.wait()
                        script = pending.pop(0)
                    await _play(trio.SocketStream(sock), script, reported)
                    async with changed:
                        if script.finished:
                            unfinished -= 1
                        else:
                            pending.append(script.restarted())
                            pending.sort(key=lambda waiting: waiting.conn)
                        changed.notify_all()
                    if once or not unfinished:
                        nursery.cancel_scope.cancel()

            for listener in listeners:
                nursery.start_soon(serve, listener)
            task_status.started(listening)
    return problems
