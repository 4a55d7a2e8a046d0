"""A blocking QMP client and a migration between two threaded fakes, for the drift tests.

Plain sockets, as a small script written against QEMU would use: the drift tests run
a tool many times, and this keeps each run to a few milliseconds.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fakeqemu.testing.threaded import FakeQemuPair


class SyncQmp:
    """One negotiated QMP connection; events are skipped."""

    def __init__(self, address: str | tuple[str, int]) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self._socket = socket.socket(family)
        self._socket.settimeout(10)
        self._socket.connect(address)
        self._file = self._socket.makefile("rwb")
        self._file.readline()  # the greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        while True:
            reply = json.loads(self._file.readline())
            if "event" not in reply:
                break
        if "error" in reply:
            raise RuntimeError(reply["error"]["desc"])
        return reply["return"]

    def close(self) -> None:
        self._file.close()
        self._socket.close()


@contextmanager
def connected(address: str | tuple[str, int]) -> Iterator[SyncQmp]:
    client = SyncQmp(address)
    try:
        yield client
    finally:
        client.close()


def query_migrate(address: str | tuple[str, int]) -> dict[str, Any]:
    with connected(address) as client:
        info: dict[str, Any] = client.execute("query-migrate")
        return info


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def migrate(pair: FakeQemuPair) -> None:
    """Listen on the destination, migrate the source to it, wait until both completed.

    The port is chosen here, not read from ``socket-address``: the drift tests' own
    harness must depend on no member, or every consumer would break with it.
    """
    uri = f"tcp:127.0.0.1:{free_port()}"
    with connected(pair.destination.address) as destination:
        destination.execute("migrate-incoming", uri=uri)
    with connected(pair.source.address) as source:
        source.execute("migrate", uri=uri)
    pair.destination.wait_for_migration("completed")
    pair.source.wait_for_migration("completed")
