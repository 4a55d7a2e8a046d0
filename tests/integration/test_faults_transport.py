"""Transport toxics measured on real sockets, unix and TCP monitors alike.

Each test shows what the client sees, then removes the toxic (or lets it end) and
shows that the fake serves on.  Times are lower bounds a toxic guarantees, never
speed targets.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import trio

from fakeqemu.fake.config import FakeQemuConfig
from tests.support.fault_rig import served

pytestmark = pytest.mark.parametrize("monitor", ["unix", "tcp"])

STATUS = b'{"execute": "query-status"}'


async def _read_all(stream: trio.abc.ReceiveStream, limit: float) -> tuple[list[bytes], bool]:
    """Every read until EOF or ``limit`` seconds; whether the peer reset the connection."""
    pieces: list[bytes] = []
    with trio.move_on_after(limit):
        try:
            while data := await stream.receive_some(65536):
                pieces.append(bytes(data))
        except trio.BrokenResourceError as error:
            return pieces, isinstance(error.__cause__, ConnectionResetError)
    return pieces, False


async def test_latency_delays_every_reply_after_its_request(tmp_path: Path, monitor: str) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        client = await fake.client()
        fault = fake.fake.add_fault({"kind": "latency", "ms": 50})
        for _ in range(3):
            sent = trio.current_time()
            await client.execute(STATUS)
            assert trio.current_time() - sent >= 0.05
        # Pipelined requests: each reply still leaves 50 ms after its own request.
        sent = trio.current_time()
        await client.stream.send_all(STATUS * 4)
        for _ in range(4):
            await client.line()
        assert trio.current_time() - sent >= 0.05
        fake.fake.faults.remove(fault)
        assert await client.execute(STATUS) == {"return": {"status": "running", "running": True}}


async def test_bandwidth_limits_the_bytes_per_second(tmp_path: Path, monitor: str) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        client = await fake.client()
        rate = 20000
        fault = fake.fake.add_fault({"kind": "bandwidth", "bytes-per-second": rate})
        sent = trio.current_time()
        await client.stream.send_all(b'{"execute": "query-commands"}')
        reply = await client.line()
        elapsed = trio.current_time() - sent
        size = len(json.dumps(reply))
        assert size > 5000
        assert elapsed >= size / rate * 0.9
        fake.fake.faults.remove(fault)
        assert (await client.execute(STATUS))["return"]["running"] is True


async def test_slicer_cuts_replies_into_small_writes(tmp_path: Path, monitor: str) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        client = await fake.client()
        fake.fake.add_fault({"kind": "slicer", "size": 7, "delay-ms": 30, "duration": 0.5})
        await client.stream.send_all(STATUS)
        reply = b'{"return": {"status": "running", "running": true}}\r\n'
        pieces: list[bytes] = []
        while sum(map(len, pieces)) < len(reply):
            pieces.append(bytes(await client.stream.receive_some(65536)))
        assert b"".join(pieces) == reply
        assert max(len(piece) for piece in pieces) <= 7
        assert len(pieces) >= len(reply) // 7
        await trio.sleep(0.6)  # the toxic's duration ends; whole replies again
        assert fake.fake.faults.listing()[0]["state"] == "done"
        await client.stream.send_all(STATUS)
        assert await client.stream.receive_some(65536) == reply


async def test_hang_answers_nothing_until_it_is_removed(tmp_path: Path, monitor: str) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        client = await fake.client()
        fault = fake.fake.add_fault({"kind": "hang"})
        await client.stream.send_all(b'{"execute": "stop"}')
        with trio.move_on_after(0.3) as waited:
            await client.stream.receive_some(65536)
        assert waited.cancelled_caught
        # Requests waited unrun: the guest still runs.
        assert fake.fake.vm.running
        fake.fake.faults.remove(fault)
        assert [(await client.line()).get("event", "reply") for _ in range(2)] == ["STOP", "reply"]


async def test_reset_resets_the_connection_and_the_next_client_is_served(
    tmp_path: Path, monitor: str
) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        client = await fake.client()
        fake.fake.add_fault({"kind": "reset", "trigger": {"call": 2, "command": "query-status"}})
        assert (await client.execute(STATUS))["return"]["running"] is True
        await client.stream.send_all(STATUS)
        pieces, reset = await _read_all(client.stream, 2.0)
        # TCP: an RST (ECONNRESET); a unix socket has no RST, the client sees it end.
        assert (pieces, reset) == ([], monitor == "tcp")
        again = await fake.client()
        assert (await again.execute(STATUS))["return"]["running"] is True
        assert [record.kind for record in fake.journal.faults] == ["reset"]


async def test_close_after_n_bytes(tmp_path: Path, monitor: str) -> None:
    async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
        fault = fake.fake.add_fault({"kind": "close-after", "bytes": 20})
        client = await fake.connect()
        pieces, reset = await _read_all(client.stream, 2.0)
        assert b"".join(pieces) == b'{"QMP": {"version": '
        assert not reset
        fake.fake.faults.remove(fault)
        again = await fake.client()
        assert (await again.execute(STATUS))["return"]["running"] is True


@pytest.mark.parametrize(
    "toxic",
    [
        {"kind": "bandwidth", "bytes-per-second": 200, "target": "migration"},
        {"kind": "slicer", "size": 5, "delay-ms": 20, "target": "migration"},
    ],
)
async def test_stream_toxics_measured_by_a_listening_peer(
    tmp_path: Path, monitor: str, toxic: dict[str, object]
) -> None:
    """A plain TCP listener as the destination: what the source's stream brings, when."""
    arrivals: list[tuple[float, int]] = []

    async def record(stream: trio.SocketStream) -> None:
        with trio.move_on_after(1.2):
            while data := await stream.receive_some(65536):
                arrivals.append((trio.current_time(), len(data)))

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(
            functools.partial(trio.serve_tcp, record, 0, host="127.0.0.1")
        )
        port = listener.socket.getsockname()[1]
        async with served(tmp_path, FakeQemuConfig(), monitor=monitor) as (fake,):
            client = await fake.client()
            fake.fake.add_fault(toxic)
            await client.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
            await trio.sleep(1.0)
            await client.command("migrate_cancel")
        nursery.cancel_scope.cancel()
    assert arrivals
    if toxic["kind"] == "bandwidth":
        elapsed = arrivals[-1][0] - arrivals[0][0]
        # What came after the first piece came at no more than 200 bytes a second.
        later = sum(size for _, size in arrivals[1:])
        assert later > 100
        assert later <= 200 * elapsed * 1.1 + 4
    else:
        assert max(size for _, size in arrivals) <= 5
        assert len(arrivals) > 10
