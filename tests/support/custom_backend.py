"""A third-party RAM-counter backend, as a user would write one: a plain class.

Nothing from fakeqemu is imported: the inputs and limits are read by attribute, and
the counters go back as a plain dict.  It sends the guest's RAM at a steady pace,
whatever the bandwidth, in ``seconds`` (a ``--backend-opt``), all pages normal.
"""

from __future__ import annotations

from typing import Any


class SteadyBackend:
    def __init__(self, inputs: Any) -> None:
        self.page_size: int = inputs.page_size
        self.total: int = inputs.ram_total
        self.role: str = inputs.role
        self._seconds = float(inputs.options.get("seconds", "2"))
        self._pages: int = self.total // self.page_size
        self._started: float | None = None
        self._sent: int = 0
        self._syncs = 0
        self._mbps = 0.0

    def sync(self, now: float) -> None:
        self._syncs += 1
        if self._started is None:
            self._started = now

    def transfer(self, now: float, limits: Any) -> None:
        start = self._started if self._started is not None else now
        share = min(1.0, (now - start) / self._seconds)
        sent = int(self._pages * share)
        self._mbps = (sent - self._sent) * self.page_size * 8 / 0.1 / 1e6
        self._sent = sent

    def converged(self, now: float, limits: Any) -> bool:
        return self._sent == self._pages

    def stop(self, now: float, postcopy: bool) -> None:
        self._sent = self._pages

    def finish(self, now: float) -> None:
        pass

    def counters(self, now: float) -> dict[str, Any]:
        return {
            "normal": self._sent,
            "precopy_bytes": self._sent * self.page_size,
            "remaining": (self._pages - self._sent) * self.page_size,
            "sync_count": self._syncs,
            "mbps": self._mbps,
        }
