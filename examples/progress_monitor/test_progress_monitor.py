"""Contract tests of the progress monitor, against every QEMU release and shape.

Needs nothing but fakeqemu installed (its pytest plugin provides the
fixtures) and qemu.qmp::

    pytest test_progress_monitor.py

``matrix=True`` runs each test once per release and query-migrate shape; the
fakes' clock runs 20 times faster than real time, so a 2-second migration
takes a tenth of a second.
"""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from progress_monitor import GONE, SideProgress, monitor
from qemu.qmp import QMPClient

from fakeqemu import FakeQemuPair

pytestmark = pytest.mark.fakeqemu(matrix=True, speed=20)

#: 16 MiB/s: the 128 MiB guest's 33 MiB of used pages take about two seconds.
BANDWIDTH = 16 << 20


async def start_migration(pair: FakeQemuPair) -> None:
    """What the management tool does: listen on the destination, migrate the source."""
    destination = QMPClient("test-destination")
    await destination.connect(pair.destination.address)
    await destination.execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    listening = await destination.execute("query-migrate")
    assert isinstance(listening, dict)
    port = listening["socket-address"][0]["port"]
    # A monitor serves one client at a time: leave room for the progress monitor.
    await destination.disconnect()
    source = QMPClient("test-source")
    await source.connect(pair.source.address)
    await source.execute("migrate-set-parameters", {"max-bandwidth": BANDWIDTH})
    await source.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    await source.disconnect()


class Output(io.StringIO):
    """The monitor's output, with an event for when it first reports a running migration."""

    def __init__(self) -> None:
        super().__init__()
        self.active = asyncio.Event()

    def write(self, text: str) -> int:
        if text.startswith("source: active"):
            self.active.set()
        return super().write(text)


async def follow(pair: FakeQemuPair, out: io.StringIO) -> tuple[SideProgress, SideProgress]:
    async with asyncio.timeout(30):
        return await monitor(pair.source.address, pair.destination.address, interval=0.01, out=out)


def percents(output: str) -> list[float]:
    return [float(value) for value in re.findall(r"^source: \w+, ([\d.]+)%", output, re.M)]


def test_follows_a_migration_to_the_end(fakeqemu_pair: FakeQemuPair) -> None:
    out = Output()

    async def scenario() -> tuple[SideProgress, SideProgress]:
        await start_migration(fakeqemu_pair)
        return await follow(fakeqemu_pair, out)

    source, destination = asyncio.run(scenario())
    output = out.getvalue()
    assert (source.status, destination.status) == ("completed", "completed"), output
    progress = percents(output)
    assert len(progress) >= 3, f"too few progress lines to follow:\n{output}"
    assert progress == sorted(progress), f"progress went backwards:\n{output}"
    assert progress[-1] == 100.0
    last = output.splitlines()[-1]
    if fakeqemu_pair.destination.shape == "new":
        # The patched destination reports what it received, and how long it took.
        assert destination.transferred, last
        assert destination.total_time_ms, last
        assert re.search(r"destination: completed, 100\.0%, [\d.]+ MiB", last), last
    else:
        assert last.endswith("| destination: completed"), last


def test_reports_a_failed_migration(fakeqemu_pair: FakeQemuPair) -> None:
    out = Output()
    error = "Unable to write to socket: Connection reset by peer"

    async def scenario() -> tuple[SideProgress, SideProgress]:
        await start_migration(fakeqemu_pair)
        following = asyncio.create_task(follow(fakeqemu_pair, out))
        # Fail it once the monitor has seen it running (bounded: a run under schema
        # drift, or a slow machine, must fail here rather than wait for ever).
        await asyncio.wait_for(out.active.wait(), 30)
        fakeqemu_pair.source.fail_migration(error)
        return await following

    source, destination = asyncio.run(scenario())
    output = out.getvalue()
    assert source.status == "failed", output
    assert source.error == error
    # The destination QEMU exits when its stream breaks; the monitor may catch
    # it failing first, or only find it gone.
    assert destination.status in ("failed", GONE), output
    assert f"source: failed, error: {error}" in output


def test_only_reads(fakeqemu_pair: FakeQemuPair) -> None:
    asyncio.run(start_migration(fakeqemu_pair))
    for side in (fakeqemu_pair.source, fakeqemu_pair.destination):
        side.journal.clear()
    asyncio.run(follow(fakeqemu_pair, Output()))
    for side in (fakeqemu_pair.source, fakeqemu_pair.destination):
        side.journal.assert_called("query-migrate")
        assert set(side.journal.commands) == {"qmp_capabilities", "query-migrate"}
