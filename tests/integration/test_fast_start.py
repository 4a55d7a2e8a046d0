"""The greeting goes out before the heavy imports finish, and the session goes on."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.fast_start import greet_while_loading, greeting_bytes
from fakeqemu.server.listeners import bind_unix
from fakeqemu.server.serve import Endpoint, serve
from fakeqemu.vocabulary import PROFILE_NAMES
from tests.support.recordings import VERSIONS, queries
from tests.support.strict import make_fake


def test_greeting_bytes_match_the_recordings() -> None:
    assert PROFILE_NAMES == VERSIONS
    for version in VERSIONS:
        assert greeting_bytes(version) == queries(version)["greeting"].encode()


def test_a_client_is_greeted_while_loading_and_served_after(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    listener, _ = bind_unix(path)
    greeted = threading.Event()
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(10)

    def load() -> str:
        # The loader cannot finish until the client has its greeting.
        client.connect(path)
        assert client.recv(4096) == greeting_bytes("11.1")
        greeted.set()
        return "loaded"

    try:
        loaded, early = greet_while_loading([listener], greeting_bytes("11.1"), load)
        assert loaded == "loaded"
        assert greeted.is_set()
        assert list(early) == [0]
        client.sendall(b'{"execute":"qmp_capabilities"}{"execute":"query-status"}')

        async def continue_on_trio() -> bytes:
            fake = make_fake(FakeQemuConfig(profile="11.1"))
            async with trio.open_nursery() as nursery:
                endpoint = Endpoint("unix", path=path)
                await nursery.start(
                    lambda task_status: serve(
                        fake,
                        [endpoint],
                        prebound={0: listener},
                        greeted=early,
                        task_status=task_status,
                    )
                )
                data = b""
                while data.count(b"\r\n") < 2:
                    data += await trio.to_thread.run_sync(client.recv, 4096)
                nursery.cancel_scope.cancel()
            return data

        replies = trio.run(continue_on_trio)
    finally:
        client.close()
        listener.close()
    # No second greeting: the session knew the greeting was on the wire already.
    assert replies == (b'{"return": {}}\r\n{"return": {"status": "running", "running": true}}\r\n')
