"""The strict consumer against every release and shape: the matrix finds where it breaks.

    pytest test_strict_stats.py

Both tests pass against today's QEMU (shape ``old``).  Against the
destination-stats patch (shape ``new``) the destination test fails with
"missing field": the patch is not backward compatible for generated
clients, and the matrix table at the end shows exactly which combinations
break.  That failure is what this example shows, so it is marked as expected
(``xfail``, strict: a pass would fail the run); ``pytest --runxfail`` reports
it as the plain failure a real consumer would see.  This module uses qemu.qmp's
legacy synchronous client, as a plain script would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from qemu.qmp.legacy import QEMUMonitorProtocol
from strict_stats import DecodeError, MigrationInfo

from fakeqemu import FakeQemuPair

pytestmark = pytest.mark.fakeqemu(matrix=True, speed=20)


@contextmanager
def qmp(address: str | tuple[str, int]) -> Iterator[QEMUMonitorProtocol]:
    client = QEMUMonitorProtocol(address)
    client.connect()
    try:
        yield client
    finally:
        client.close()
        # The legacy client runs on an event loop it makes for the thread and
        # never closes; close it, or it is reported as a leak.
        asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)


def query_migrate(client: QEMUMonitorProtocol) -> dict[str, Any]:
    info = client.cmd("query-migrate")
    assert isinstance(info, dict)
    return info


def migrate(pair: FakeQemuPair, bandwidth: int) -> None:
    with qmp(pair.destination.address) as destination:
        destination.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
        port = query_migrate(destination)["socket-address"][0]["port"]
    with qmp(pair.source.address) as source:
        source.cmd("migrate-set-parameters", **{"max-bandwidth": bandwidth})
        source.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")


def test_source_stats_decode_while_migrating(fakeqemu_pair: FakeQemuPair) -> None:
    migrate(fakeqemu_pair, bandwidth=8 << 20)
    fakeqemu_pair.source.wait_for_migration("active")
    with qmp(fakeqemu_pair.source.address) as source:
        info = MigrationInfo.decode(query_migrate(source))
    assert info.status == "active"
    assert info.ram is not None
    assert info.ram.total == 134750208


def test_destination_stats_decode_once_completed(
    fakeqemu_pair: FakeQemuPair, request: pytest.FixtureRequest
) -> None:
    if fakeqemu_pair.destination.shape == "new":
        reason = "the patched destination sends ram without the members it made optional"
        request.applymarker(pytest.mark.xfail(raises=DecodeError, strict=True, reason=reason))
    migrate(fakeqemu_pair, bandwidth=128 << 20)
    fakeqemu_pair.destination.wait_for_migration("completed")
    with qmp(fakeqemu_pair.destination.address) as destination:
        info = MigrationInfo.decode(query_migrate(destination))
    assert info.status == "completed"
