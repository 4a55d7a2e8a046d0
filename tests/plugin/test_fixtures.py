"""The plugin's fixtures, used here as a downstream suite uses them, with real clients."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio
import trio.testing
from qemu.qmp import QMPClient
from qemu.qmp.legacy import QEMUMonitorProtocol

from fakeqemu import FakeQemuPair, ThreadedFakeQemu, TrioFakeQemuHandle, TrioFakeQemuPair
from fakeqemu.backends import BackendError
from fakeqemu.testing.handles import DEFAULT_FAILURE
from tests.support.qmp_client import Client

Address = str | tuple[str, int]


async def execute_all(address: Address, *commands: tuple[str, dict[str, Any] | None]) -> list[Any]:
    """Run ``commands`` in one qemu.qmp session; returns each result or ExecuteError text."""
    qmp = QMPClient("test")
    await qmp.connect(address)
    results: list[Any] = []
    try:
        for name, arguments in commands:
            try:
                results.append(await qmp.execute(name, arguments))
            except Exception as error:
                results.append(f"error: {error}")
    finally:
        await qmp.disconnect()
    return results


def run(address: Address, *commands: tuple[str, dict[str, Any] | None]) -> list[Any]:
    return asyncio.run(execute_all(address, *commands))


@contextmanager
def legacy_client(address: Address) -> Iterator[QEMUMonitorProtocol]:
    client = QEMUMonitorProtocol(address)
    client.connect()
    try:
        yield client
    finally:
        client.close()
        # The legacy client never closes the event loop it made for this thread.
        asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)


def start_migration(pair: FakeQemuPair, bandwidth: int) -> int:
    """Destination on a port it picks, source migrating to it; returns the port."""
    (_, listening) = run(
        pair.destination.address,
        ("migrate-incoming", {"uri": "tcp:127.0.0.1:0"}),
        ("query-migrate", None),
    )
    port = int(listening["socket-address"][0]["port"])
    run(
        pair.source.address,
        ("migrate-set-parameters", {"max-bandwidth": bandwidth}),
        ("migrate", {"uri": f"tcp:127.0.0.1:{port}"}),
    )
    return port


# -- fakeqemu_threaded -----------------------------------------------------------------


def test_threaded_fake_serves_the_asyncio_client(fakeqemu_threaded: ThreadedFakeQemu) -> None:
    handle = fakeqemu_threaded
    assert (handle.profile, handle.shape, handle.role) == ("11.1", "old", "source")
    assert isinstance(handle.address, str)
    assert os.path.exists(handle.address)
    version, status = run(handle.address, ("query-version", None), ("query-status", None))
    assert (version["qemu"]["major"], version["qemu"]["minor"]) == (11, 1)
    assert status == {"status": "running", "running": True}


def test_threaded_fake_serves_the_legacy_sync_client(
    fakeqemu_threaded: ThreadedFakeQemu,
) -> None:
    with legacy_client(fakeqemu_threaded.address) as client:
        assert client.cmd("query-status") == {"status": "running", "running": True}
        assert client.cmd("query-name") == {}
    fakeqemu_threaded.journal.assert_called("query-status", times=1)


@pytest.mark.fakeqemu(profile="7.2", role="destination", monitor="tcp", name="guest0")
def test_the_marker_configures_the_fake(fakeqemu_threaded: ThreadedFakeQemu) -> None:
    handle = fakeqemu_threaded
    assert isinstance(handle.address, tuple)
    host, port = handle.address
    assert host == "127.0.0.1"
    assert port > 0
    assert (handle.profile, handle.role) == ("7.2", "destination")
    version, status, name = run(
        handle.address, ("query-version", None), ("query-status", None), ("query-name", None)
    )
    assert (version["qemu"]["major"], version["qemu"]["minor"]) == (7, 2)
    assert status["status"] == "inmigrate", "a destination starts with --incoming defer"
    assert name == {"name": "guest0"}


# -- the journal -----------------------------------------------------------------------


def test_the_journal_records_arguments_replies_and_errors(
    fakeqemu_threaded: ThreadedFakeQemu,
) -> None:
    run(
        fakeqemu_threaded.address,
        ("migrate-set-parameters", {"max-bandwidth": 1 << 20}),
        ("migrte", None),
        ("migrate-set-parameters", {"max-bandwidth": "fast"}),
        ("query-migrate", None),
    )
    journal = fakeqemu_threaded.journal
    assert journal.commands == [
        "qmp_capabilities",
        "migrate-set-parameters",
        "migrte",
        "migrate-set-parameters",
        "query-migrate",
    ]
    first, misspelt, rejected = journal.calls[1:4]
    assert first.ok
    assert first.arguments == {"max-bandwidth": 1 << 20}
    assert misspelt.error == "The command migrte has not been found"
    assert not rejected.ok
    assert rejected.arguments is None, "rejected before its arguments were read"
    journal.assert_called("migrate-set-parameters", times=2)
    journal.assert_called("migrate-set-parameters", with_arguments={"max-bandwidth": 1 << 20})
    journal.assert_not_called("migrate")
    journal.assert_called_in_order("qmp_capabilities", "migrte", "query-migrate")

    with pytest.raises(AssertionError) as raised:
        journal.assert_called("migrate", times=1)
    message = str(raised.value)
    assert "expected 'migrate' to be called once; it was never called" in message
    assert "similar commands received:" in message
    assert '  migrate-set-parameters {"max-bandwidth": 1048576} -> ok' in message
    assert "  migrte -> error: The command migrte has not been found" in message
    assert "all 5 commands received: qmp_capabilities, migrate-set-parameters" in message

    with pytest.raises(AssertionError, match=r"'migrte' never came after \['query-migrate'\]"):
        journal.assert_called_in_order("query-migrate", "migrte", "query-migrate")
    journal.clear()
    assert journal.calls == []


# -- fakeqemu_pair ---------------------------------------------------------------------


@pytest.mark.fakeqemu(profile="10.0", shape="new")
def test_the_pair_migrates_and_advance_skips_the_wait(fakeqemu_pair: FakeQemuPair) -> None:
    source, destination = fakeqemu_pair.source, fakeqemu_pair.destination
    assert (source.role, destination.role) == ("source", "destination")
    port = start_migration(fakeqemu_pair, bandwidth=1 << 20)
    assert port > 0, "tcp:127.0.0.1:0 picks a free port, shown in socket-address"
    started = time.monotonic()
    # 33 MiB of used pages at 1 MiB/s: half a minute of the fakes' time.
    fakeqemu_pair.advance(60)
    assert time.monotonic() - started < 5
    assert (source.migration_status, destination.migration_status) == ("completed", "completed")
    (sent,) = run(source.address, ("query-migrate", None))
    (received,) = run(destination.address, ("query-migrate", None))
    assert 30_000 < sent["total-time"] < 40_000
    # Advancing stops at every timer: the destination got its pages in time, not at the end.
    assert abs(received["total-time"] - sent["total-time"]) < 100
    assert received["ram"]["normal"] == sent["ram"]["normal"]
    destination.journal.assert_called(
        "migrate-incoming", times=1, with_arguments={"uri": "tcp:127.0.0.1:0"}
    )
    source.journal.assert_called("migrate", with_arguments={"uri": f"tcp:127.0.0.1:{port}"})


def test_fail_migration_fails_the_source_and_ends_the_destination(
    fakeqemu_pair: FakeQemuPair,
) -> None:
    start_migration(fakeqemu_pair, bandwidth=1 << 20)
    fakeqemu_pair.source.wait_for_migration("active")
    fakeqemu_pair.source.fail_migration()
    (info,) = run(fakeqemu_pair.source.address, ("query-migrate", None))
    assert info == {"status": "failed", "error-desc": DEFAULT_FAILURE}
    # Like QEMU, the destination exits when its stream breaks.
    deadline = time.monotonic() + 5
    while fakeqemu_pair.destination.exit_status is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fakeqemu_pair.destination.exit_status == 1
    with pytest.raises(RuntimeError, match="no outgoing migration is running"):
        fakeqemu_pair.source.fail_migration()


def test_set_backend_changes_the_next_migration(fakeqemu_pair: FakeQemuPair) -> None:
    with pytest.raises(BackendError, match="unknown backend 'no-such-backend'"):
        fakeqemu_pair.source.set_backend("no-such-backend")
    # No zero pages at all: every page goes whole.
    fakeqemu_pair.source.set_backend("model", options={"zero-share": "0"})
    start_migration(fakeqemu_pair, bandwidth=64 << 20)
    fakeqemu_pair.advance(10)
    (info,) = run(fakeqemu_pair.source.address, ("query-migrate", None))
    assert info["status"] == "completed"
    assert info["ram"]["duplicate"] == 0
    assert info["ram"]["normal"] == info["ram"]["total"] // 4096


# -- the trio fixtures -----------------------------------------------------------------


async def test_the_trio_fixture_serves_in_the_test_nursery(fakeqemu: TrioFakeQemuHandle) -> None:
    assert isinstance(fakeqemu.address, str)
    client = await Client.unix(fakeqemu.address, negotiate=True)
    assert (await client.command("query-status"))["status"] == "running"
    await client.aclose()
    peer = await fakeqemu.start_peer(profile="10.0")
    assert (peer.role, peer.profile) == ("destination", "10.0")
    client = await Client.unix(str(peer.address), negotiate=True)
    assert (await client.command("query-status"))["status"] == "inmigrate"
    await client.aclose()
    fakeqemu.journal.assert_called("query-status", times=1)


async def test_the_trio_pair_migrates_in_virtual_time(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    pair = fakeqemu_trio_pair
    source = await Client.unix(str(pair.source.address), negotiate=True)
    destination = await Client.unix(str(pair.destination.address), negotiate=True)
    await source.command("migrate-set-capabilities", {"capabilities": [
        {"capability": "events", "state": True}
    ]})  # fmt: skip
    await destination.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    port = (await destination.command("query-migrate"))["socket-address"][0]["port"]
    await source.command("migrate-set-parameters", {"max-bandwidth": 1 << 20})
    await source.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    started = time.monotonic()
    assert await pair.destination.wait_for_migration("completed", "failed") == "completed"
    assert time.monotonic() - started < 2, "half a minute of virtual time"
    info = await source.command("query-migrate")
    await source.drain_events()
    # Event timestamps follow the virtual clock too, as a wall clock would have.
    stamps = {
        event["data"]["status"]: event["timestamp"]["seconds"]
        + event["timestamp"]["microseconds"] / 1e6
        for event in source.events
        if event["event"] == "MIGRATION"
    }
    assert stamps["completed"] - stamps["setup"] == pytest.approx(
        info["total-time"] / 1000, abs=0.01
    )
    await source.aclose()
    await destination.aclose()
