"""The watcher against a fake pair, under every schema drift of 11.1 with the seed patch.

    pytest test_sync_report.py                    # passes
    pytest --fakeqemu-drift test_sync_report.py   # one mutation breaks it

The plain run passes: every QEMU sends ``dirty-sync-count`` with ``ram``.  The drift
run reruns the test once per mutation fakeqemu derives from the contracts, and its
report says ``broke drop:ram.dirty-sync-count`` and nothing else.
"""

from __future__ import annotations

import socket

import pytest
from sync_report import Monitor, watch

from fakeqemu import FakeQemuPair

pytestmark = pytest.mark.fakeqemu(profile="11.1", shape="new", speed=50)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_reports_the_finished_migration(fakeqemu_pair: FakeQemuPair) -> None:
    uri = f"tcp:127.0.0.1:{free_port()}"
    for address, command in (
        (fakeqemu_pair.destination.address, "migrate-incoming"),
        (fakeqemu_pair.source.address, "migrate"),
    ):
        monitor = Monitor(address)
        monitor.execute(command, uri=uri)
        monitor.close()
    line = watch(fakeqemu_pair.source.address)
    assert line.split(":")[0] == "completed", line
