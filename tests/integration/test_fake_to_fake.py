"""Two fakes migrating to each other over real loopback sockets, on trio's virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.serve import Endpoint, Listening, serve
from tests.support.qmp_client import Client
from tests.support.strict import make_fake

PROFILES = ("7.2", "10.0", "11.1")
EVENTS_ON = {"capabilities": [{"capability": "events", "state": True}]}
#: Recorded total-time of the 128M precopy at max-bandwidth 32 MiB/s, per release.
RECORDED_TOTAL_MS = {"7.2": 1007, "10.0": 913, "11.1": 910}


@dataclass
class Pair:
    source: Client
    destination: Client
    source_fake: FakeQemu
    destination_fake: FakeQemu
    destination_scope: trio.CancelScope


@asynccontextmanager
async def pair(tmp_path: Path, profile: str, shape: str = "old") -> AsyncIterator[Pair]:
    src_fake = make_fake(FakeQemuConfig(profile=profile, start_paused=True))
    dst_fake = make_fake(
        FakeQemuConfig(profile=profile, shape=shape, start_paused=True, incoming="defer")
    )
    src_path, dst_path = str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, src_fake, [Endpoint("unix", path=src_path)])
        dst_scope = trio.CancelScope()

        async def serve_destination(task_status: trio.TaskStatus[Listening]) -> None:
            with dst_scope:
                await serve(dst_fake, [Endpoint("unix", path=dst_path)], task_status=task_status)

        await nursery.start(serve_destination)
        source = await Client.unix(src_path, negotiate=True)
        destination = await Client.unix(dst_path, negotiate=True)
        try:
            yield Pair(source, destination, src_fake, dst_fake, dst_scope)
        finally:
            await source.aclose()
            await destination.aclose()
            nursery.cancel_scope.cancel()


async def start_migration(p: Pair, bandwidth: int = 32 << 20) -> None:
    await p.source.command("migrate-set-capabilities", EVENTS_ON)
    await p.destination.command("migrate-set-capabilities", EVENTS_ON)
    await p.source.command("migrate-set-parameters", {"max-bandwidth": bandwidth})
    await p.source.command("cont")
    await p.destination.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    listening = await p.destination.command("query-migrate")
    port = listening["socket-address"][0]["port"]
    await p.source.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})


async def wait_for(client: Client, *statuses: str) -> dict[str, Any]:
    with trio.fail_after(600):
        while True:
            info: dict[str, Any] = await client.command("query-migrate")
            if info.get("status") in statuses:
                return info
            await trio.sleep(0.1)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("shape", ["old", "new"])
async def test_destination_counts_what_the_source_sent(
    tmp_path: Path, profile: str, shape: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with pair(tmp_path, profile, shape) as p:
        await start_migration(p)
        source = await wait_for(p.source, "completed")
        destination = await wait_for(p.destination, "completed")
        if shape == "old":
            assert destination == {"status": "completed"}
        else:
            ram = destination["ram"]
            assert ram["normal"] == source["ram"]["normal"]
            assert ram["duplicate"] == source["ram"]["duplicate"]
            assert ram["transferred"] == source["ram"]["normal"] * 4096
            assert ram["total"] == source["ram"]["total"] == 134750208
            assert 0 < destination["total-time"] <= source["total-time"]
            assert "dirty-sync-count" not in ram
        assert "dirty-sync-count" in source["ram"], "the source's output is unchanged"
        assert (await p.source.command("query-status"))["status"] == "postmigrate"
        assert (await p.destination.command("query-status"))["status"] == "paused"


@pytest.mark.parametrize("profile", PROFILES)
async def test_128M_at_32MiB_s_takes_as_long_as_the_recording(
    tmp_path: Path, profile: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with pair(tmp_path, profile) as p:
        await start_migration(p, bandwidth=33554432)
        total = (await wait_for(p.source, "completed"))["total-time"]
    recorded = RECORDED_TOTAL_MS[profile]
    assert 0.85 * recorded <= total <= 1.15 * recorded, (total, recorded)


@pytest.mark.parametrize(
    ("profile", "events"),
    [
        ("7.2", ["MIGRATION:setup", "MIGRATION:failed"]),
        ("10.0", ["MIGRATION:setup", "MIGRATION:failed"]),
        ("11.1", ["MIGRATION:setup", "MIGRATION:failing", "MIGRATION:failed"]),
    ],
)
async def test_nothing_listening_fails_like_qemu(
    tmp_path: Path, profile: str, events: list[str]
) -> None:
    async with pair(tmp_path, profile) as p:
        await p.source.command("migrate-set-capabilities", EVENTS_ON)
        await p.source.command("migrate", {"uri": "tcp:127.0.0.1:1"})
        info = await wait_for(p.source, "failed")
        assert info == {
            "status": "failed",
            "error-desc": "Failed to connect to '127.0.0.1:1': Connection refused",
        }
        await p.source.command("migrate", {"uri": f"unix:{tmp_path}/nonexistent.sock"})
        info = await wait_for(p.source, "failed")
        assert info["error-desc"] == (
            f"Failed to connect to '{tmp_path}/nonexistent.sock': No such file or directory"
        )
        assert p.source.event_names()[: len(events)] == events


async def test_source_cancel_ends_the_destination(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with pair(tmp_path, "10.0") as p:
        await start_migration(p)
        await wait_for(p.source, "active")
        await trio.sleep(0.3)
        await p.source.command("migrate_cancel")
        assert (await wait_for(p.source, "cancelled")) == {"status": "cancelled"}
        # Like QEMU (exit-on-error), the destination process is gone: its monitor closes.
        with trio.fail_after(5):
            while await p.destination.stream.receive_some(65536):
                pass
        assert p.destination_fake.vm.exit_status == 1
        assert p.source.event_names()[-2:] == ["MIGRATION:cancelling", "MIGRATION:cancelled"]
        assert (await p.source.command("query-status"))["status"] == "running"


async def test_killing_the_destination_fails_the_source(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with pair(tmp_path, "11.1") as p:
        await start_migration(p)
        await wait_for(p.source, "active")
        p.destination_scope.cancel()
        info = await wait_for(p.source, "failed")
        assert info["error-desc"].startswith("Unable to write to socket: ")
        await p.source.drain_events()
        assert p.source.event_names()[-2:] == ["MIGRATION:failing", "MIGRATION:failed"]


POSTCOPY_EVENTS = {
    # qemu-facts §3: 7.2 flips to postcopy-active before it stops the guest.
    "7.2": [
        "MIGRATION:setup",
        "MIGRATION_PASS:1",
        "MIGRATION:active",
        "MIGRATION:postcopy-active",
        "STOP",
        "MIGRATION_PASS:2",
        "MIGRATION:completed",
    ],
    "10.0": [
        "MIGRATION:setup",
        "MIGRATION_PASS:1",
        "MIGRATION:active",
        "STOP",
        "MIGRATION:device",
        "MIGRATION_PASS:2",
        "MIGRATION:postcopy-active",
        "MIGRATION:completed",
    ],
    # Observed (tests/data/recordings/11.1/postcopy-ram.jsonl): with postcopy-ram each
    # iteration syncs (MIGRATION_PASS 2, 3, ... one per 100 ms here, left out below), the
    # last sync comes before STOP, and postcopy-device before postcopy-active.
    "11.1": [
        "MIGRATION:setup",
        "MIGRATION:active",
        "STOP",
        "MIGRATION:device",
        "MIGRATION:postcopy-device",
        "MIGRATION:postcopy-active",
        "MIGRATION:completed",
    ],
}
#: Releases that send MIGRATION_PASS at every iteration when postcopy-ram is on.
PASS_EACH_ITERATION = {"11.1"}


@pytest.mark.parametrize("profile", PROFILES)
async def test_postcopy_switches_as_each_release_does(
    tmp_path: Path, profile: str, autojump_clock: trio.testing.MockClock
) -> None:
    postcopy = {"capabilities": [{"capability": "postcopy-ram", "state": True}]}
    async with pair(tmp_path, profile) as p:
        await p.source.command("migrate-set-capabilities", postcopy)
        await p.destination.command("migrate-set-capabilities", postcopy)
        await start_migration(p, bandwidth=8 << 20)
        # Slow enough for postcopy-active to last a few windows.
        await p.source.command("migrate-set-parameters", {"max-postcopy-bandwidth": 8 << 20})
        await wait_for(p.source, "active")
        await trio.sleep(0.5)
        await p.source.command("migrate-start-postcopy")
        during = await wait_for(p.source, "postcopy-active")
        # 8.0 on: `downtime` replaces `expected-downtime` during postcopy.
        assert ("downtime" in during) == (profile != "7.2")
        if profile != "7.2":
            with pytest.raises(AssertionError, match="cannot cancel"):
                await p.source.command("migrate_cancel")
        final = await wait_for(p.source, "completed")
        assert final["ram"]["postcopy-bytes"] > 0
        assert (await wait_for(p.destination, "completed")) == {"status": "completed"}
        await p.source.drain_events()
        await p.destination.drain_events()
    names = p.source.event_names()
    if profile in PASS_EACH_ITERATION:
        passes = [name for name in names if name.startswith("MIGRATION_PASS")]
        assert passes == [f"MIGRATION_PASS:{n}" for n in range(2, len(passes) + 2)]
        assert len(passes) >= 5  # half a second of 100 ms iterations, and the last sync
        assert names[names.index("STOP") - 1] == passes[-1]
        names = [name for name in names if not name.startswith("MIGRATION_PASS")]
    assert names == ["RESUME", *POSTCOPY_EVENTS[profile]]
    device = ["MIGRATION:postcopy-device"] if profile == "11.1" else []
    assert p.destination.event_names() == [
        "MIGRATION:setup",
        "MIGRATION:active",
        *device,
        "MIGRATION:postcopy-active",
        "MIGRATION:completed",
    ]


async def test_xbzrle_adds_its_cache_stats(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    xbzrle = {"capabilities": [{"capability": "xbzrle", "state": True}]}
    async with pair(tmp_path, "10.0") as p:
        await p.source.command("migrate-set-capabilities", xbzrle)
        await start_migration(p)
        info = await wait_for(p.source, "active")
        assert info["xbzrle-cache"]["cache-size"] == 67108864
        assert set(info["xbzrle-cache"]) == {
            "cache-size",
            "bytes",
            "pages",
            "cache-miss",
            "cache-miss-rate",
            "encoding-rate",
            "overflow",
        }


async def test_max_bandwidth_changes_a_running_migration(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with pair(tmp_path, "11.1") as p:
        await start_migration(p, bandwidth=4 << 20)
        await wait_for(p.source, "active")
        await trio.sleep(1)
        slow = (await p.source.command("query-migrate"))["ram"]["mbps"]
        await p.source.command("migrate-set-parameters", {"max-bandwidth": 64 << 20})
        await trio.sleep(0.3)
        fast = (await p.source.command("query-migrate"))["ram"]["mbps"]
        assert fast > 10 * slow
        assert (await wait_for(p.source, "completed"))["total-time"] < 10_000


async def test_incoming_uri_on_the_command_line_listens_at_once(tmp_path: Path) -> None:
    fake = make_fake(FakeQemuConfig(profile="10.0", incoming="tcp:127.0.0.1:0"))
    path = str(tmp_path / "dst.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        client = await Client.unix(path, negotiate=True)
        info = await client.command("query-migrate")
        assert info["status"] == "setup"
        assert int(info["socket-address"][0]["port"]) > 0
        assert (await client.command("query-status"))["status"] == "inmigrate"
        await client.aclose()
        nursery.cancel_scope.cancel()
