"""Migrate a trio pair and watch it as a tool does: polling ``query-migrate``.

Used by the scenario tests and the nova decision test, under ``autojump_clock``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import trio

from fakeqemu.testing.handles import TrioFakeQemuPair
from tests.support.qmp_client import Client


@dataclass
class Sample:
    at: float
    status: str
    remaining: int
    total: int
    passes: int
    mbps: float


@contextlib.asynccontextmanager
async def migrating(
    pair: TrioFakeQemuPair,
    *,
    parameters: dict[str, Any] | None = None,
    capabilities: tuple[str, ...] = (),
) -> AsyncIterator[tuple[Client, Client]]:
    """Clients on both sides, the destination listening, the source migrating; the
    clients are closed when the block ends."""
    source = await Client.unix(str(pair.source.address), negotiate=True)
    destination = await Client.unix(str(pair.destination.address), negotiate=True)
    try:
        await _start(source, destination, parameters, capabilities)
        yield source, destination
    finally:
        await source.aclose()
        await destination.aclose()


async def _start(
    source: Client,
    destination: Client,
    parameters: dict[str, Any] | None,
    capabilities: tuple[str, ...],
) -> None:
    if capabilities:
        wanted = {"capabilities": [{"capability": c, "state": True} for c in capabilities]}
        await source.command("migrate-set-capabilities", wanted)
        await destination.command("migrate-set-capabilities", wanted)
    if parameters:
        await source.command("migrate-set-parameters", parameters)
    await destination.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    port = (await destination.command("query-migrate"))["socket-address"][0]["port"]
    await source.command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})


async def sample(client: Client) -> Sample:
    info = await client.command("query-migrate")
    ram = info.get("ram", {})
    return Sample(
        trio.current_time(),
        info["status"],
        ram.get("remaining", 0),
        ram.get("total", 0),
        ram.get("dirty-sync-count", 0),
        ram.get("mbps", 0.0),
    )


async def watch(client: Client, seconds: float, step: float = 0.05) -> list[Sample]:
    """Samples every ``step`` for ``seconds`` or until the migration ends."""
    samples: list[Sample] = []
    end = trio.current_time() + seconds
    while trio.current_time() < end:
        samples.append(await sample(client))
        if samples[-1].status in ("completed", "failed", "cancelled"):
            break
        await trio.sleep(step)
    return samples


def per_pass_peak(samples: list[Sample]) -> dict[int, int]:
    """Per pass (dirty-sync-count): the most remaining seen, i.e. just after its sync."""
    peaks: dict[int, int] = {}
    for entry in samples:
        if entry.status == "active" and entry.passes:
            peaks[entry.passes] = max(peaks.get(entry.passes, 0), entry.remaining)
    return peaks
