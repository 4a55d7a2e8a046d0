"""The trio fixture on trio's virtual clock: a two-minute migration in a fraction of a second."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trio.testing

from fakeqemu import TrioFakeQemuHandle
from fakeqemu.model.ram import PC_EXTRA_RAM
from tests.support.qmp_client import Client

GIB = 1 << 30


@pytest.mark.fakeqemu(memory=128 * GIB, shape="new")
async def test_128_gib_at_1_gib_s_takes_under_a_second(
    fakeqemu: TrioFakeQemuHandle,
    autojump_clock: trio.testing.MockClock,
    record_property: Callable[[str, object], None],
) -> None:
    started = time.perf_counter()
    # No zero pages: all 128 GiB go over the wire, about 128 s at 1 GiB/s.
    fakeqemu.set_backend("model", options={"zero-share": "0"})
    destination = await fakeqemu.start_peer()
    source_client = await Client.unix(str(fakeqemu.address), negotiate=True)
    destination_client = await Client.unix(str(destination.address), negotiate=True)
    await destination_client.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    listening = await destination_client.command("query-migrate")
    port = listening["socket-address"][0]["port"]
    await source_client.command("migrate-set-parameters", {"max-bandwidth": GIB})
    await source_client.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    assert await fakeqemu.wait_for_migration("completed", "failed") == "completed"
    assert await destination.wait_for_migration("completed", "failed") == "completed"
    sent = await source_client.command("query-migrate")
    received = await destination_client.command("query-migrate")
    wall = time.perf_counter() - started
    record_property("wall_seconds", wall)
    record_property("virtual_seconds", trio.current_time())
    await source_client.aclose()
    await destination_client.aclose()

    total = 128 * GIB + PC_EXTRA_RAM
    assert sent["ram"]["total"] == total
    assert sent["ram"]["normal-bytes"] == total
    assert sent["ram"]["duplicate"] == 0
    assert received["ram"]["normal-bytes"] == total
    # 128 GiB and 4 MiB of page headers at 1 GiB/s: 128 s and a bit, in virtual time,
    # less the last window's 100 ms (each window's bytes go out at its start).
    assert 127_900 <= sent["total-time"] <= 129_000
    assert abs(received["total-time"] - sent["total-time"]) < 100
    assert wall < 1.0, f"128 s of migration took {wall:.2f} s of wall time"
