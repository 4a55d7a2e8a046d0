"""Output back-pressure: every reply in order, no deadlock, and bounded memory.

QEMU answers all of a pipelined batch however much output waits for the client
(its monitor output buffer grows).  The fake gives the same replies, and keeps
what one client can hold bounded (fakeqemu.server.connection).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.connection import FEED_SLICE, INPUT_LIMIT, OUTPUT_BUDGET, UNREAD_LIMIT
from fakeqemu.server.serve import Endpoint, Listening, ServeControl, serve
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}'


async def read_lines(stream: trio.SocketStream, count: int) -> list[bytes]:
    buffer = bytearray()
    lines: list[bytes] = []
    while len(lines) < count:
        data = await stream.receive_some(1 << 20)
        assert data, f"closed after {len(lines)} of {count} lines"
        buffer += data
        *complete, rest = bytes(buffer).split(b"\r\n")
        lines += complete
        buffer = bytearray(rest)
    return lines


@pytest.mark.slow
async def test_400_pipelined_schema_requests_are_all_answered_in_order(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1"))
    path = str(tmp_path / "m.sock")
    batch = CAPS + b"".join(b'{"execute":"query-qmp-schema","id":%d}' % i for i in range(400))
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve, fake, [Endpoint("unix", path=path)])
            stream = await trio.open_unix_socket(path)
            await stream.send_all(batch)  # all of it before reading anything
            lines = await read_lines(stream, 1 + 1 + 400)
            await stream.aclose()
            nursery.cancel_scope.cancel()
    replies = [json.loads(line) for line in lines[2:]]
    assert [reply["id"] for reply in replies] == list(range(400))
    assert all(isinstance(reply["return"], list) for reply in replies)
    # 400 schemas are far more than the fake ever holds at once: it kept reading
    # and answering as the client read, without dropping it.
    assert sum(map(len, lines)) > 40 * OUTPUT_BUDGET


async def test_a_100000_command_flood_written_before_reading_is_fully_answered(
    tmp_path: Path,
) -> None:
    fake = make_fake(FakeQemuConfig(profile="10.0"))
    path = str(tmp_path / "m.sock")
    count = 100_000
    batch = CAPS + b"".join(b'{"execute":"query-status","id":%d}' % i for i in range(count))
    assert len(batch) < INPUT_LIMIT, "a batch this size must not deadlock"
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve, fake, [Endpoint("unix", path=path)])
            stream = await trio.open_unix_socket(path)
            await stream.send_all(batch)  # blocks for good if the fake stops reading
            lines = await read_lines(stream, 2 + count)
            await stream.aclose()
            nursery.cancel_scope.cancel()
    assert lines[1] == b'{"return": {}}'
    expected = b'{"return": {"status": "running", "running": true}, "id": %d}'
    assert lines[2:] == [expected % i for i in range(count)]


def reply_size(fake: FakeQemu, request: bytes) -> int:
    session = fake.open_session()
    session.receive_data(CAPS)
    session.data_to_send()
    session.receive_data(request)
    size = len(session.data_to_send())
    fake.close_session(session)
    return size


def serving(fake: FakeQemu, path: str, control: ServeControl) -> Callable[..., Awaitable[None]]:
    async def run(task_status: trio.TaskStatus[Listening]) -> None:
        await serve(fake, [Endpoint("unix", path=path)], control=control, task_status=task_status)

    return run


async def wait_until_stalled(control: ServeControl, quiet: float = 0.3) -> None:
    """Until the one connection's counters stop changing for ``quiet`` seconds."""
    (connection,) = control.connections
    last = None
    while True:
        now = (connection.pending_output, connection.pending_input, connection.peak_output)
        if now == last:
            return
        last = now
        await trio.sleep(quiet)


async def test_a_client_that_never_reads_holds_bounded_output(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1"))
    path = str(tmp_path / "m.sock")
    request = b'{"execute":"query-qmp-schema"}'
    control = ServeControl()
    ran: list[str] = []
    fake.executor.observers.append(lambda request: ran.append(request.command))
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(serving(fake, path, control))
            stream = await trio.open_unix_socket(path)
            # 200 schemas (50 MB of replies if all were run); never read a byte.
            await stream.send_all(CAPS + request * 200)
            await wait_until_stalled(control)
            (connection,) = control.connections
            schema_size = reply_size(fake, request)
            # One slice is at most 2 * FEED_SLICE of input (it ends after a brace).
            bound = OUTPUT_BUDGET + (2 * FEED_SLICE // len(request) + 1) * schema_size
            assert connection.peak_output <= bound
            assert connection.pending_output <= bound
            assert connection.pending_input > 0, "the rest waits, unrun"
            assert ran.count("query-qmp-schema") < 200, "the rest waits for the client"
            await stream.aclose()
            nursery.cancel_scope.cancel()


@pytest.mark.no_strict_contracts
async def test_events_for_a_client_that_never_reads_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past UNREAD_LIMIT of unread output the client is disconnected; the server goes on."""
    fake = make_fake(FakeQemuConfig())
    path = str(tmp_path / "m.sock")
    control = ServeControl()
    big = {"padding": "x" * (1 << 20)}
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(serving(fake, path, control))
            stream = await trio.open_unix_socket(path)
            await stream.send_all(CAPS)
            await read_lines(stream, 2)
            (connection,) = control.connections
            emitted = 0
            while connection in control.connections:
                fake.vm.events.emit("FAKEQEMU_TEST", big)
                emitted += 1
                assert connection.pending_output <= UNREAD_LIMIT + (2 << 20)
                await trio.lowlevel.checkpoint()
            assert emitted > UNREAD_LIMIT >> 20
            assert connection.overflowed
            await stream.aclose()
            # The monitor serves its next client.
            again = await trio.open_unix_socket(path)
            assert b"QMP" in (await read_lines(again, 1))[0]
            await again.aclose()
            nursery.cancel_scope.cancel()
    assert "left more than 64 MiB of output unread" in capsys.readouterr().err
