"""A small raw QMP client over trio streams, for tests that want the wire as it is."""

from __future__ import annotations

import json
from typing import Any

import trio


class Client:
    """Line-oriented: one QMP message per ``\\r\\n``; events are kept aside."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def unix(cls, path: str, *, negotiate: bool = False) -> Client:
        client = cls(await trio.open_unix_socket(path))
        if negotiate:
            await client.line()
            assert await client.execute(b'{"execute":"qmp_capabilities"}') == {"return": {}}
        return client

    async def line(self) -> dict[str, Any]:
        while b"\r\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            assert data, "connection closed"
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        message: dict[str, Any] = json.loads(line)
        return message

    async def execute(self, raw: bytes) -> dict[str, Any]:
        """Send raw bytes, return the next message (event or reply) as it comes."""
        await self.stream.send_all(raw)
        return await self.line()

    async def command(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run a command; events that arrive first are collected in :attr:`events`."""
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        await self.stream.send_all(json.dumps(request).encode())
        while True:
            message = await self.line()
            if "event" in message:
                self.events.append(message)
                continue
            if "error" in message:
                raise AssertionError(f"{name} failed: {message['error']}")
            return message["return"]

    async def drain_events(self) -> None:
        """Collect events already on the wire (a cheap query flushes them in order)."""
        await self.command("query-status")

    def event_names(self) -> list[str]:
        names = []
        for event in self.events:
            data = event.get("data") or {}
            detail = data.get("status", data.get("pass", ""))
            names.append(f"{event['event']}:{detail}" if detail != "" else event["event"])
        return names

    async def aclose(self) -> None:
        await self.stream.aclose()
