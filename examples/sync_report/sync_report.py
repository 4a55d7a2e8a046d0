"""A small migration watcher with a real schema-drift bug, for ``pytest --fakeqemu-drift``.

    python sync_report.py /run/qemu/source.qmp
    completed: 33.2 of 128.5 MiB sent, 2 dirty-page syncs

It polls ``query-migrate`` on the source until the migration ends, and prints how
much was sent and how many times the guest's dirty pages were synchronised.  It
speaks QMP over a plain socket, as small tools do.

The bug: it reads ``ram["dirty-sync-count"]`` as if every reply with ``ram`` had it.
Every QEMU so far sends it whenever it sends ``ram``; the destination-stats patch
makes it optional (``*dirty-sync-count``).  ``pytest --fakeqemu-drift`` names exactly
that mutation (``drop:ram.dirty-sync-count``); the fix is one line::

    syncs = ram.get("dirty-sync-count")   # instead of ram["dirty-sync-count"]
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

#: The statuses after which a migration changes no more.
FINAL = ("completed", "failed", "cancelled")
MIB = 1 << 20


class Monitor:
    """One QMP connection, negotiated; events are skipped."""

    def __init__(self, address: str | tuple[str, int]) -> None:
        if isinstance(address, str):
            self._socket = socket.socket(socket.AF_UNIX)
            self._socket.connect(address)
        else:
            self._socket = socket.create_connection(address)
        self._socket.settimeout(10)
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
            raise RuntimeError(f"{command}: {reply['error']['desc']}")
        return reply["return"]

    def close(self) -> None:
        self._file.close()
        self._socket.close()


def describe(info: dict[str, Any]) -> str:
    status = str(info.get("status", "none"))
    if "ram" not in info:
        return status
    ram = info["ram"]
    syncs = ram["dirty-sync-count"]  # the bug; the fix: ram.get("dirty-sync-count")
    sent = f"{ram['transferred'] / MIB:.1f} of {ram['total'] / MIB:.1f} MiB sent"
    return f"{status}: {sent}, {'?' if syncs is None else syncs} dirty-page syncs"


def watch(address: str | tuple[str, int], interval: float = 0.005, timeout: float = 30) -> str:
    """Poll the source until the migration ends; the last line describes it."""
    monitor = Monitor(address)
    try:
        deadline = time.monotonic() + timeout
        while True:
            info = monitor.execute("query-migrate")
            if info.get("status") in FINAL or time.monotonic() > deadline:
                return describe(info)
            time.sleep(interval)
    finally:
        monitor.close()


if __name__ == "__main__":
    print(watch(sys.argv[1]))
