"""The trio server: one client per monitor, events to every monitor, connect mode, quit."""

from __future__ import annotations

from pathlib import Path

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.serve import Endpoint, serve
from tests.support.qmp_client import Client
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}'


async def test_second_client_waits_without_greeting(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig())
    path = str(tmp_path / "m.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        first = await Client.unix(path)
        assert "QMP" in await first.line()
        second = await Client.unix(path)
        with trio.move_on_after(0.3) as waited:
            await second.line()
        assert waited.cancelled_caught, "the second client must not be greeted yet"
        await first.stream.aclose()
        with trio.fail_after(5):
            assert "QMP" in await second.line()
            assert await second.execute(CAPS) == {"return": {}}
        await second.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_events_reach_every_negotiated_monitor(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig(start_paused=True))
    a, b = str(tmp_path / "a.sock"), str(tmp_path / "b.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=a), Endpoint("unix", path=b)])
        left, right = await Client.unix(a), await Client.unix(b)
        await left.line()
        await right.line()
        assert await left.execute(CAPS) == {"return": {}}
        assert await right.execute(CAPS) == {"return": {}}
        assert (await left.execute(b'{"execute":"cont"}'))["event"] == "RESUME"
        assert await left.line() == {"return": {}}
        with trio.fail_after(5):
            event = await right.line()
        assert event["event"] == "RESUME"
        await left.stream.aclose()
        await right.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_tcp_binds_loopback_and_reports_the_real_port() -> None:
    fake = make_fake(FakeQemuConfig())
    async with trio.open_nursery() as nursery:
        listening = await nursery.start(serve, fake, [Endpoint("tcp")])
        host, port = listening.sockets[0]
        assert host == "127.0.0.1"
        assert port > 0
        assert listening.addresses == [f"tcp:127.0.0.1:{port}"]
        client = Client(await trio.open_tcp_stream(host, port))
        assert "QMP" in await client.line()
        await client.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_connect_mode_dials_a_listening_client(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig())
    path = str(tmp_path / "client.sock")
    listener = trio.socket.socket(trio.socket.AF_UNIX)
    await listener.bind(path)
    listener.listen(1)
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("connect", path=path)])
        conn, _ = await listener.accept()
        client = Client(trio.SocketStream(conn))
        assert "QMP" in await client.line()
        assert await client.execute(CAPS) == {"return": {}}
        await client.stream.aclose()
        nursery.cancel_scope.cancel()
    listener.close()


async def test_quit_sends_shutdown_then_the_reply_and_stops_the_server(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig())
    path = str(tmp_path / "q.sock")
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve, fake, [Endpoint("unix", path=path)])
            client = await Client.unix(path)
            await client.line()
            await client.execute(CAPS)
            event = await client.execute(b'{"execute":"quit","id":"bye"}')
            assert event["event"] == "SHUTDOWN"
            assert event["data"] == {"guest": False, "reason": "host-qmp-quit"}
            assert await client.line() == {"return": {}, "id": "bye"}
            assert await client.stream.receive_some(10) == b""
            await client.stream.aclose()
    # serve() returned by itself after quit, and removed its socket file.
    assert not await trio.Path(path).exists()
