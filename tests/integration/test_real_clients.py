"""Negotiate, then query-version, query-status and query-commands, through real sockets.

Bytes are compared with the recording of the same queries on real QEMU,
through a raw unix socket and through the qemu.qmp library's QMPClient.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import trio
from qemu.qmp import QMPClient

from fakeqemu import ThreadedFakeQemu
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.serve import Endpoint, serve
from tests.support.recordings import VERSIONS, queries
from tests.support.strict import STRICT_HOOKS, make_fake

QUERIES = ("query-version", "query-status", "query-commands", "query-name")


def _config(version: str) -> FakeQemuConfig:
    # The recorded VM: -S -name guest0.
    return FakeQemuConfig(profile=version, start_paused=True, name="guest0")


async def _read_line(stream: trio.SocketStream, buffer: bytearray) -> bytes:
    while b"\r\n" not in buffer:
        data = await stream.receive_some(65536)
        assert data, "server closed the connection"
        buffer += data
    line, _, rest = bytes(buffer).partition(b"\r\n")
    buffer[:] = rest
    return line + b"\r\n"


@pytest.mark.parametrize("version", VERSIONS)
async def test_raw_socket_replies_are_byte_identical(version: str, tmp_path: Path) -> None:
    recorded = queries(version)
    fake = make_fake(_config(version))
    path = str(tmp_path / "qmp.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        stream = await trio.open_unix_socket(path)
        buffer = bytearray()
        assert await _read_line(stream, buffer) == recorded["greeting"].encode()
        await stream.send_all(b'{"execute": "qmp_capabilities"}\n')
        assert await _read_line(stream, buffer) == b'{"return": {}}\r\n'
        for query in QUERIES:
            await stream.send_all(json.dumps({"execute": query}).encode())
            assert await _read_line(stream, buffer) == recorded[query].encode(), query
        await stream.aclose()
        nursery.cancel_scope.cancel()
    assert not await trio.Path(path).exists(), "the socket file is removed on shutdown"


@pytest.mark.parametrize("version", VERSIONS)
def test_qemu_qmp_client_sees_the_recorded_answers(version: str, tmp_path: Path) -> None:
    recorded = queries(version)
    path = str(tmp_path / "qmp.sock")

    async def client() -> dict[str, object]:
        qmp = QMPClient("test")
        await qmp.connect(path)
        try:
            answers = {query: await qmp.execute(query) for query in QUERIES}
            greeting = qmp.greeting
            assert greeting is not None
            answers["greeting"] = greeting._raw
            return answers
        finally:
            await qmp.disconnect()

    with ThreadedFakeQemu(_config(version), [Endpoint("unix", path=path)], hooks=STRICT_HOOKS):
        answers = asyncio.run(client())
    for query in QUERIES:
        assert answers[query] == json.loads(recorded[query])["return"], query
    assert answers["greeting"] == json.loads(recorded["greeting"])
