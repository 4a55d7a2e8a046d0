"""How big each scenario of the load benchmark is, and how long it may take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    monitors: int = 200
    commands: int = 1000
    #: Commands a monitor client writes at once before it reads their replies.
    batch: int = 50
    queued_clients: int = 200
    flood: int = 100_000
    schemas: int = 400
    garbage_bytes: int = 1 << 30
    #: Bytes of uniformly random input (an error reply every few bytes).
    random_bytes: int = 4 << 20
    #: Guest RAM of the fakes in the kill -9 scenario, and the bandwidth that keeps
    #: their migration active for a while (QEMU: -m 256 at 64 KiB/s of mostly zero pages).
    fake_memory: str = "8G"
    fake_bandwidth: int = 256 << 20
    qemu_memory: str = "256"
    qemu_bandwidth: int = 64 << 10
    #: How long the migration runs before the kill.
    kill_after: float = 1.0
    #: Every scenario on every server ends within this many seconds, or its servers are killed.
    timeout: float = 600.0
    #: ... plus, for the garbage, its size at this rate (QEMU reads about 0.5 MB/s).
    slowest_garbage_rate: int = 128 << 10

    def timeout_for(self, scenario: str) -> float:
        if scenario == "garbage":
            size = self.garbage_bytes + self.random_bytes
            return self.timeout + size / self.slowest_garbage_rate
        return self.timeout


FULL = Sizes()
QUICK = Sizes(
    monitors=50,
    commands=200,
    queued_clients=50,
    flood=20_000,
    schemas=100,
    garbage_bytes=16 << 20,
    random_bytes=1 << 20,
    timeout=300.0,
)
#: What tests/integration/test_bench_smoke.py runs: proves the code, measures nothing.
TINY = Sizes(
    monitors=5,
    commands=50,
    batch=10,
    queued_clients=10,
    flood=1000,
    schemas=5,
    garbage_bytes=1 << 20,
    random_bytes=16 << 10,
    kill_after=0.3,
    timeout=60.0,
)
PRESETS = {"full": FULL, "quick": QUICK, "tiny": TINY}
