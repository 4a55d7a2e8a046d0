"""Fakes served in a test's nursery over real unix sockets, to inject faults into."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.journal import Journal
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.serve import Endpoint, serve
from tests.support.qmp_client import Client
from tests.support.strict import make_fake


@dataclass
class Served:
    fake: FakeQemu
    journal: Journal
    path: str | tuple[str, int]
    clients: list[Client] = field(default_factory=list)

    async def connect(self) -> Client:
        """A client (not negotiated), closed when :func:`served`'s block ends."""
        if isinstance(self.path, str):
            stream: trio.abc.Stream = await trio.open_unix_socket(self.path)
        else:
            stream = await trio.open_tcp_stream(*self.path)
        client = Client(stream)
        self.clients.append(client)
        return client

    async def client(self) -> Client:
        """A negotiated client, closed when :func:`served`'s block ends."""
        client = await self.connect()
        await client.line()
        assert await client.execute(b'{"execute":"qmp_capabilities"}') == {"return": {}}
        return client


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path, *configs: FakeQemuConfig, monitor: str = "unix"
) -> AsyncIterator[list[Served]]:
    """Serve each config on ``tmp_path/<n>.sock`` (or TCP on a free loopback port);
    cancelled when the block ends."""
    async with trio.open_nursery() as nursery:
        fakes = []
        for index, config in enumerate(configs):
            fake = make_fake(config)
            journal = Journal.attach(fake)
            if monitor == "unix":
                endpoint = Endpoint("unix", path=str(tmp_path / f"{index}.sock"))
            else:
                endpoint = Endpoint("tcp", host="127.0.0.1", port=0)
            listening = await nursery.start(serve, fake, [endpoint])
            fakes.append(Served(fake, journal, listening.sockets[0]))
        try:
            yield fakes
        finally:
            for served_fake in fakes:
                for client in served_fake.clients:
                    await client.aclose()
            nursery.cancel_scope.cancel()


async def reply_to(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """Send ``name`` and return its reply (error or not); events before it are kept."""
    request: dict[str, Any] = {"execute": name}
    if arguments is not None:
        request["arguments"] = arguments
    await client.stream.send_all(json.dumps(request).encode())
    while True:
        message = await client.line()
        if "event" not in message:
            return message
        client.events.append(message)


async def wait_status(client: Client, *statuses: str, step: float = 0.1) -> dict[str, Any]:
    """Poll query-migrate (as tools do) until it reports one of ``statuses``."""
    while True:
        info: dict[str, Any] = await client.command("query-migrate")
        if info.get("status") in statuses:
            return info
        await trio.sleep(step)
