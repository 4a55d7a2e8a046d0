"""Recording and replaying sessions for the tests: ``fakeqemu record`` in front of a fake, and
clients that drive it (a fixed session, or a migration to another fake)."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.protocol.cassette import Cassette
from fakeqemu.protocol.cassette_matchers import Matcher
from fakeqemu.recorder.record import RecordOptions, record
from fakeqemu.recorder.replay import replay
from fakeqemu.server.serve import Endpoint, serve
from tests.support.strict import make_fake

SESSION = [
    b'{"execute": "qmp_capabilities"}',
    b'{"execute": "query-status"}\n',
    b'{"execute":"query-name","id":"abc"}',
    b'{"execute": "stop"}\r\n',
    b'{"execute": "cont"}',
    b'{"execute": "nope", "id": 7}',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}',
    b'{"execute": "quit"}',
]


def _replies(data: bytes | bytearray) -> int:
    count = 0
    for line in data.split(b"\n")[:-1]:
        message = json.loads(line)
        count += isinstance(message, dict) and ("return" in message or "error" in message)
    return count


def run_session(
    address: str | tuple[str, int], requests: list[bytes], *, until_eof: bool = True
) -> bytes:
    """Everything a client gets: the greeting, each request's reply (and the events before
    it), and (``until_eof``) what follows the last request until the monitor hangs up."""
    received = bytearray()
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(10)
        sock.connect(address)

        def read_until(replies: int | None = None) -> None:
            while not (b"\n" in received if replies is None else _replies(received) >= replies):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)

        read_until()
        for number, request in enumerate(requests, start=1):
            sock.sendall(request)
            read_until(replies=number)
        while until_eof and (chunk := sock.recv(65536)):
            received.extend(chunk)
    return bytes(received)


async def recording_proxy(
    nursery: trio.Nursery,
    tmp_path: Path,
    monitor: str,
    options: RecordOptions | None = None,
    *,
    tcp: bool = False,
    name: str = "proxy",
) -> tuple[str | tuple[str, int], io.StringIO]:
    """``fakeqemu record`` in front of ``monitor``, in ``nursery``: its address, and the
    cassette it writes."""
    cassette = io.StringIO()
    proxy = Endpoint("tcp") if tcp else Endpoint("unix", path=str(tmp_path / f"{name}.sock"))
    listening = await nursery.start(record, monitor, [proxy], cassette, options or RecordOptions())
    return listening.sockets[0], cassette


async def record_session(
    tmp_path: Path, monitor: str, options: RecordOptions | None = None, *, tcp: bool = False
) -> tuple[bytes, str]:
    """The session through ``fakeqemu record``: what the client got, and the cassette."""
    async with trio.open_nursery() as nursery:
        address, cassette = await recording_proxy(nursery, tmp_path, monitor, options, tcp=tcp)
        received = await trio.to_thread.run_sync(run_session, address, SESSION)
        nursery.cancel_scope.cancel()
    return received, cassette.getvalue()


@dataclass
class Replayed:
    """What ``fakeqemu replay`` did for the test's clients."""

    #: What each client got, in order.
    received: list[Any]
    #: The problems replay reported (as they happened).
    problems: list[str]
    #: Replay stopped by itself: every recorded connection was played through.
    ended: bool


async def replay_to(
    tmp_path: Path,
    cassette: str,
    clients: Sequence[Any],
    matchers: Sequence[Matcher] = (),
) -> Replayed:
    """Replay ``cassette`` and run each client (a function of the replay's address, run in
    a thread) one after the other; then give replay a moment to stop by itself."""
    address = str(tmp_path / "replay.sock")
    loaded = Cassette.parse(cassette.splitlines(), "session.cassette")
    result = Replayed([], [], ended=False)
    async with trio.open_nursery() as nursery:

        async def serve_cassette(task_status: trio.TaskStatus[object]) -> None:
            await replay(
                loaded,
                "session.cassette",
                [Endpoint("unix", path=address)],
                matchers=matchers,
                report=result.problems.append,
                task_status=task_status,
            )
            result.ended = True
            nursery.cancel_scope.cancel()

        await nursery.start(serve_cassette)
        for client in clients:
            result.received.append(await trio.to_thread.run_sync(client, address))
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    return result


async def replay_session(
    tmp_path: Path, cassette: str, requests: list[bytes] = SESSION
) -> tuple[bytes, list[str]]:
    """The same requests to ``fakeqemu replay``: what the client got, and the problems."""
    replayed = await replay_to(tmp_path, cassette, [lambda address: run_session(address, requests)])
    assert replayed.ended, "replay goes on after its only connection was played through"
    return replayed.received[0], replayed.problems


async def served_fake(
    nursery: trio.Nursery,
    tmp_path: Path,
    *,
    tcp: bool = False,
    config: FakeQemuConfig | None = None,
    name: str = "q",
) -> str:
    """A fake served in ``nursery``; its monitor address as ``fakeqemu record`` takes it."""
    fake = make_fake(config or FakeQemuConfig(profile="10.0"))
    endpoint = Endpoint("tcp") if tcp else Endpoint("unix", path=str(tmp_path / f"{name}.sock"))
    listening = await nursery.start(serve, fake, [endpoint])
    if tcp:
        host, port = listening.sockets[0]
        return f"tcp:{host}:{port}"
    return f"unix:{listening.sockets[0]}"


# -- a migration through the recording proxy --------------------------------------------------

EVENTS_ON = {"capabilities": [{"capability": "events", "state": True}]}


class LineClient:
    """A blocking QMP client that keeps every message it gets (for a thread)."""

    def __init__(self, address: str) -> None:
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.settimeout(10)
        self._sock.connect(address)
        self._reader = self._sock.makefile("rb")
        self.messages: list[dict[str, Any]] = []
        self._next()  # the greeting

    def _next(self) -> dict[str, Any]:
        line = self._reader.readline()
        if not line:
            raise EOFError("the monitor hung up")
        message: dict[str, Any] = json.loads(line)
        self.messages.append(message)
        return message

    def run(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reply to ``name`` (events before it are kept in :attr:`messages`)."""
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self._sock.sendall(json.dumps(request).encode())
        while "event" in (message := self._next()):
            pass
        return message

    def close(self) -> None:
        self._reader.close()
        self._sock.close()


def migrate_source(address: str, uri: str) -> list[dict[str, Any]]:
    """The source side of a migration tool: migrate to ``uri`` and poll until completed;
    stop at the first error.  Returns every message the client got."""
    client = LineClient(address)
    try:
        _migrate(client, uri)
    finally:
        client.close()
    return client.messages


def _migrate(client: LineClient, uri: str) -> None:
    for name, arguments in [
        ("qmp_capabilities", None),
        ("migrate-set-capabilities", EVENTS_ON),
        ("migrate", {"uri": uri}),
    ]:
        if "error" in client.run(name, arguments):
            return
    for _ in range(1000):
        reply = client.run("query-migrate")
        if "error" in reply or reply["return"]["status"] in ("completed", "failed"):
            return
        time.sleep(0.01)


@dataclass
class RecordedMigration:
    port: int
    #: What the source's and the destination's clients got.
    source: list[dict[str, Any]]
    destination: list[dict[str, Any]]
    #: The cassettes of the two monitors (sides ``src`` and ``dst``).
    source_cassette: str
    destination_cassette: str


def _migrate_between(source: str, destination: str) -> tuple[int, list[Any], list[Any]]:
    target = LineClient(destination)
    try:
        target.run("qmp_capabilities")
        target.run("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        port = int(target.run("query-migrate")["return"]["socket-address"][0]["port"])
        sent = migrate_source(source, f"tcp:127.0.0.1:{port}")
        while target.run("query-migrate")["return"]["status"] != "completed":
            time.sleep(0.01)
    finally:
        target.close()
    return port, sent, target.messages


async def record_migration(tmp_path: Path, *, shape: str = "old") -> RecordedMigration:
    """A 10.0 source migrating to a destination over loopback TCP, each monitor behind its
    own ``fakeqemu record``."""
    async with trio.open_nursery() as nursery:
        source = await served_fake(nursery, tmp_path, name="src-qemu")
        destination = await served_fake(
            nursery,
            tmp_path,
            config=FakeQemuConfig(profile="10.0", shape=shape, incoming="defer"),
            name="dst-qemu",
        )
        src_proxy, src_cassette = await recording_proxy(nursery, tmp_path, source, name="src")
        dst_proxy, dst_cassette = await recording_proxy(
            nursery, tmp_path, destination, RecordOptions(side="dst"), name="dst"
        )
        assert isinstance(src_proxy, str)
        assert isinstance(dst_proxy, str)
        port, sent, received = await trio.to_thread.run_sync(_migrate_between, src_proxy, dst_proxy)
        nursery.cancel_scope.cancel()
    return RecordedMigration(port, sent, received, src_cassette.getvalue(), dst_cassette.getvalue())
