"""Migration faults, and transport toxics on the migration stream, through a pair of fakes.

Each shows what the clients see (status, ``error-desc``, counters), that the journal
records it, and that the fake serves on: the source migrates again to a new destination.
On the virtual clock (``autojump_clock``); the stream is a real TCP connection.
"""

from __future__ import annotations

import pytest
import trio

from fakeqemu.model.fault_actions import PEER_RESET
from fakeqemu.testing.handles import TrioFakeQemuPair
from tests.support.migration_watch import migrating, sample, watch
from tests.support.qmp_client import Client

FAIL = {"kind": "migration-fail", "desc": "injected failure", "trigger": {"percent": 50}}


async def serves_on(pair: TrioFakeQemuPair) -> None:
    """The source answers, and migrates to a fresh destination to the end."""
    peer = await pair.source.start_peer("destination")
    source = await Client.unix(str(pair.source.address), negotiate=True)
    destination = await Client.unix(str(peer.address), negotiate=True)
    try:
        pair.source.clear_faults()
        peer.clear_faults()  # the marker's faults go to every fake of the test
        await destination.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        port = (await destination.command("query-migrate"))["socket-address"][0]["port"]
        await source.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        assert await peer.wait_for_migration("completed", "failed") == "completed"
    finally:
        await source.aclose()
        await destination.aclose()


@pytest.mark.fakeqemu(memory="1G", faults=[FAIL])
async def test_migration_fail_at_50_percent_from_the_marker(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        samples = await watch(source, 60)
        info = await source.command("query-migrate")
    assert samples[-1].status == "failed"
    assert info["error-desc"] == "injected failure"
    before = [s for s in samples if s.status == "active" and s.total]
    assert 0.4 <= 1 - before[-1].remaining / before[-1].total <= 0.6
    assert await pair.destination.wait_for_migration("failed") == "failed"
    assert [r.kind for r in pair.source.journal.faults] == ["migration-fail"]
    await serves_on(pair)


@pytest.mark.fakeqemu(memory="1G")
async def test_destination_dies(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        await trio.sleep(0.5)
        pair.source.add_fault({"kind": "destination-dies"})
        assert (await watch(source, 5))[-1].status == "failed"
        assert (await source.command("query-migrate"))["error-desc"] == PEER_RESET
    assert await pair.destination.wait_for_migration("failed") == "failed"
    await serves_on(pair)


@pytest.mark.fakeqemu(memory="1G")
async def test_source_dies(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        await trio.sleep(0.5)
        pair.destination.add_fault({"kind": "source-dies"})
        assert await pair.destination.wait_for_migration("failed") == "failed"
        # The destination's load failed as QEMU's does: it exits with 1.
        assert pair.destination.exit_status == 1
        assert (await watch(source, 5))[-1].status == "failed"
    await serves_on(pair)


@pytest.mark.parametrize(
    "stall",
    [
        {"kind": "link-stall", "duration": 2},
        {"kind": "hang", "target": "migration", "duration": 2},
    ],
)
@pytest.mark.fakeqemu(memory="1G")
async def test_a_stalled_link_carries_nothing_until_it_ends(
    fakeqemu_trio_pair: TrioFakeQemuPair,
    autojump_clock: trio.testing.MockClock,
    stall: dict[str, object],
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        await trio.sleep(0.5)
        pair.source.add_fault(stall)
        await trio.sleep(0.3)
        frozen = [await sample(source)]
        for _ in range(3):
            await trio.sleep(0.5)
            frozen.append(await sample(source))
        assert {s.remaining for s in frozen} == {frozen[0].remaining}
        assert frozen[-1].status == "active"
        assert frozen[-1].mbps < 1
        assert (await watch(source, 30))[-1].status == "completed"
    assert await pair.destination.wait_for_migration("completed") == "completed"


@pytest.mark.fakeqemu(memory="256M")
async def test_latency_on_the_stream_delays_the_destination(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    pair.source.add_fault({"kind": "latency", "ms": 400, "target": "migration"})
    async with migrating(pair) as (source, _):
        assert (await watch(source, 30, step=0.01))[-1].status == "completed"
        source_done = trio.current_time()
        assert await pair.destination.wait_for_migration("completed") == "completed"
        # Every write to the destination left 400 ms late: so did the last one.
        assert trio.current_time() - source_done >= 0.4 - 0.05


@pytest.mark.parametrize(
    ("toxic", "error"),
    [
        ({"kind": "reset", "target": "migration"}, PEER_RESET),
        ({"kind": "close-after", "bytes": 1, "target": "migration"}, "Broken pipe"),
    ],
)
@pytest.mark.fakeqemu(memory="1G")
async def test_a_broken_stream_fails_the_source(
    fakeqemu_trio_pair: TrioFakeQemuPair,
    autojump_clock: trio.testing.MockClock,
    toxic: dict[str, object],
    error: str,
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        await trio.sleep(0.5)
        pair.source.add_fault(toxic)
        assert (await watch(source, 5))[-1].status == "failed"
        assert error in (await source.command("query-migrate"))["error-desc"]
    assert await pair.destination.wait_for_migration("failed") == "failed"
    await serves_on(pair)


@pytest.mark.fakeqemu(
    memory="1G",
    faults=[
        {"kind": "migration-fail", "desc": "failed at active", "trigger": {"status": "active"}}
    ],
)
async def test_a_status_trigger_fires_when_the_migration_gets_there(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        samples = await watch(source, 5)
        info = await source.command("query-migrate")
    assert [s.status for s in samples][-1] == "failed"
    assert info["error-desc"] == "failed at active"
    # It failed as it turned active: no poll saw it send much.
    active = [s for s in samples if s.status == "active"]
    assert all(s.remaining > 0.9 * s.total for s in active)
    await serves_on(pair)


@pytest.mark.fakeqemu(memory="1G")
async def test_an_after_trigger_fires_on_the_fakes_clock(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    async with migrating(pair) as (source, _):
        added = trio.current_time()
        pair.source.add_fault({"kind": "destination-dies", "trigger": {"after": 1.5}})
        samples = await watch(source, 5, step=0.01)
        assert samples[-1].status == "failed"
        active = [s.at for s in samples if s.status == "active"]
        assert 1.5 - 0.02 <= active[-1] - added <= 1.5 + 0.1
    (record,) = pair.source.journal.faults
    assert record.kind == "destination-dies"
    assert record.at - added == pytest.approx(1.5, abs=0.01)
