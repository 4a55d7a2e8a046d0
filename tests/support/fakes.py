"""One migration between two fakes over real sockets, polled like a tool would poll it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.recorder.record import RecordOptions, record
from fakeqemu.server.serve import Endpoint, serve
from tests.support.qmp_client import Client
from tests.support.strict import make_fake

#: A migration that has not completed after this many seconds of the fakes' time failed.
LIMIT = 600.0


@dataclass
class Migration:
    #: Every source query-migrate answered while it ran, the completed one last.
    infos: list[dict[str, Any]] = field(default_factory=list)
    #: The destination's query-migrate once it completed too.
    destination: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, Any]:
        return self.infos[-1]


async def migrate(
    tmp_path: Path,
    source: FakeQemu,
    destination: FakeQemu | None = None,
    *,
    parameters: dict[str, Any] | None = None,
    capabilities: tuple[str, ...] = (),
    postcopy_after: float | None = None,
    poll: float = 0.5,
    proxy_cassette: io.StringIO | None = None,
) -> Migration:
    """Migrate ``source`` to ``destination`` (by default a fresh ``-incoming defer`` fake of
    its profile) until ``completed``.

    With ``proxy_cassette``, both are driven through ``fakeqemu record``, as sides
    ``src`` and ``dst`` of one cassette.
    """
    profile = source.config.profile
    destination = destination or make_fake(FakeQemuConfig(profile=profile, incoming="defer"))
    migration = Migration()
    async with trio.open_nursery() as nursery:
        monitors = []
        for side, fake in (("src", source), ("dst", destination)):
            endpoint = Endpoint("unix", path=str(tmp_path / f"{side}.sock"))
            monitor = (await nursery.start(serve, fake, [endpoint])).sockets[0]
            if proxy_cassette is not None:
                proxied = [Endpoint("unix", path=str(tmp_path / f"{side}-proxy.sock"))]
                options = RecordOptions(side=side)
                proxy = await nursery.start(
                    record, f"unix:{monitor}", proxied, proxy_cassette, options
                )
                monitor = proxy.sockets[0]
            monitors.append(monitor)
        source_client = await Client.unix(monitors[0], negotiate=True)
        destination_client = await Client.unix(monitors[1], negotiate=True)
        try:
            if capabilities:
                states = [{"capability": name, "state": True} for name in capabilities]
                for client in (source_client, destination_client):
                    await client.command("migrate-set-capabilities", {"capabilities": states})
            if parameters:
                await source_client.command("migrate-set-parameters", parameters)
            await destination_client.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
            listening = await destination_client.command("query-migrate")
            port = listening["socket-address"][0]["port"]
            await source_client.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
            started = trio.current_time()
            with trio.fail_after(LIMIT):
                while True:
                    info = await source_client.command("query-migrate")
                    migration.infos.append(info)
                    if info["status"] in ("completed", "failed"):
                        break
                    elapsed = trio.current_time() - started
                    if postcopy_after is not None and elapsed >= postcopy_after:
                        await source_client.command("migrate-start-postcopy")
                        postcopy_after = None
                    await trio.sleep(poll)
                while migration.destination.get("status") not in ("completed", "failed"):
                    migration.destination = await destination_client.command("query-migrate")
                    await trio.sleep(poll)
        finally:
            await source_client.aclose()
            await destination_client.aclose()
            nursery.cancel_scope.cancel()
    return migration
