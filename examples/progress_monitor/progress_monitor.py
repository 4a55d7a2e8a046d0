"""A downstream tool: follow a live migration from both ends and print its progress.

    python examples/progress_monitor/progress_monitor.py SOURCE DESTINATION

SOURCE and DESTINATION are QMP monitors: a unix socket path, or HOST:PORT.
It is written the way tools that drive QEMU are (asyncio and ``qemu.qmp``),
and its contract tests (``test_progress_monitor.py``, next to it) run it
against every QEMU release and ``query-migrate`` shape fakeqemu imitates.

The tool only reads: it sends ``query-migrate`` and nothing that changes a
migration.  A destination QEMU exits when its migration fails; the monitor
reports that side as ``gone`` rather than crashing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TextIO

from qemu.qmp import ExecuteError, QMPClient, QMPError

Address = str | tuple[str, int]

#: A migration in one of these states moves no further.
FINISHED = frozenset({"completed", "failed", "cancelled"})
#: Destination states before a source connects (``none`` until migrate-incoming).
NEVER_CONNECTED = frozenset({"none", "setup"})
#: What the monitor reports for a side whose QEMU has gone away.
GONE = "gone"
MIB = 1 << 20


@dataclass(frozen=True)
class SideProgress:
    """One side of the migration, as one ``query-migrate`` answer shows it."""

    status: str
    total: int | None = None
    remaining: int | None = None
    transferred: int | None = None
    mbps: float | None = None
    total_time_ms: int | None = None
    error: str | None = None

    @classmethod
    def from_query_migrate(cls, info: dict[str, Any]) -> SideProgress:
        # Every member but `status` is optional: which ones come depends on the
        # release, on the side, and (for a completed destination) on the shape.
        ram = info.get("ram") or {}
        return cls(
            status=str(info.get("status", "none")),
            total=ram.get("total"),
            remaining=ram.get("remaining"),
            transferred=ram.get("transferred"),
            mbps=ram.get("mbps"),
            total_time_ms=info.get("total-time"),
            error=info.get("error-desc"),
        )

    @property
    def percent(self) -> float | None:
        if not self.total or self.remaining is None:
            return None
        return 100.0 * (self.total - self.remaining) / self.total

    def describe(self) -> str:
        parts = [self.status]
        if self.percent is not None:
            parts.append(f"{self.percent:.1f}%")
        if self.transferred is not None:
            parts.append(f"{self.transferred / MIB:.1f} MiB")
        if self.mbps:
            parts.append(f"{self.mbps:.1f} Mbps")
        if self.total_time_ms is not None:
            parts.append(f"{self.total_time_ms} ms")
        if self.error:
            parts.append(f"error: {self.error}")
        return ", ".join(parts)


def finished(source: SideProgress, destination: SideProgress) -> bool:
    """Nothing more will happen on either side.

    A finished source waits for a destination that received its stream: that
    one completes, or fails (and exits) once the stream breaks.  A destination
    still listening when the source failed never heard from it.
    """
    if source.status not in FINISHED:
        return False
    if destination.status in FINISHED or destination.status == GONE:
        return True
    return source.status != "completed" and destination.status in NEVER_CONNECTED


async def query(client: QMPClient) -> SideProgress:
    try:
        info = await client.execute("query-migrate")
    except ExecuteError:
        raise  # QEMU refused the query: a real error, not a vanished QEMU
    except (QMPError, OSError, EOFError):
        return SideProgress(GONE)
    assert isinstance(info, dict)
    return SideProgress.from_query_migrate(info)


@contextlib.asynccontextmanager
async def connected(address: Address, name: str) -> AsyncIterator[QMPClient]:
    client = QMPClient(name)
    await client.connect(address)
    try:
        yield client
    finally:
        # disconnect() re-raises what ended the connection; a QEMU that exited
        # (a failed destination does) is something we already reported.
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


async def monitor(
    source: Address,
    destination: Address,
    *,
    interval: float = 0.5,
    out: TextIO = sys.stdout,
) -> tuple[SideProgress, SideProgress]:
    """Print a line whenever the migration's progress changes; return the final state."""
    async with (
        connected(source, "progress-monitor-source") as source_client,
        connected(destination, "progress-monitor-destination") as destination_client,
    ):
        last_line = None
        while True:
            source_side = await query(source_client)
            destination_side = await query(destination_client)
            line = f"source: {source_side.describe()} | destination: {destination_side.describe()}"
            if line != last_line:
                print(line, file=out, flush=True)
                last_line = line
            if finished(source_side, destination_side):
                return source_side, destination_side
            await asyncio.sleep(interval)


def parse_address(text: str) -> Address:
    host, separator, port = text.rpartition(":")
    if separator and port.isdigit() and "/" not in text:
        return (host, int(port))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=parse_address, help="source QMP socket or HOST:PORT")
    parser.add_argument("destination", type=parse_address, help="destination QMP socket")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    args = parser.parse_args(argv)
    source, destination = asyncio.run(
        monitor(args.source, args.destination, interval=args.interval)
    )
    return 0 if source.status == destination.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
