"""The migration model against the new-shape contract, end to end between two fakes."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.serve import Endpoint, serve
from tests.integration.test_fake_to_fake import Pair, start_migration, wait_for
from tests.support.qmp_client import Client
from tests.support.strict import make_fake


async def test_a_new_shape_source_stops_reporting_dirty_pages_rate_once_completed(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    fakes = [
        make_fake(FakeQemuConfig(profile="11.1", shape="new", start_paused=True, incoming=incoming))
        for incoming in (None, "defer")
    ]
    paths = [str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")]
    async with trio.open_nursery() as nursery:
        for fake, path in zip(fakes, paths, strict=True):
            await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        source, destination = [await Client.unix(path, negotiate=True) for path in paths]
        source_fake, destination_fake = fakes
        await start_migration(
            Pair(source, destination, source_fake, destination_fake, nursery.cancel_scope)
        )
        active = await wait_for(source, "active")
        completed = await wait_for(source, "completed")
        await source.aclose()
        await destination.aclose()
        nursery.cancel_scope.cancel()
    assert "dirty-pages-rate" in active["ram"]
    assert "dirty-pages-rate" not in completed["ram"]
