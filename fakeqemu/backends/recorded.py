"""Recorded migrations as raw counters: the inverse of :mod:`fakeqemu.model.stats`.

Every ``query-migrate`` reply with ``ram`` on one side of a cassette or transcript
becomes a :class:`Sample`: when it was taken (``total-time``), whether it was final,
and the :class:`~fakeqemu.backends.RamCounters` behind its members.  This is where
the QMP member names are read, so that the ``replay`` backend deals in counters only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakeqemu.backends.interface import RamCounters, XbzrleCounters
from fakeqemu.protocol.cassette import Cassette, query_migrate_replies

#: Statuses in which QEMU had stopped the guest for switchover, or was done.
_SWITCHED = frozenset({"pre-switchover", "device", "completed", "postcopy-device"})


@dataclass(frozen=True)
class Sample:
    """One recorded ``query-migrate``: when (ms into the migration), and what it showed."""

    elapsed_ms: float
    #: The migration had completed: these are its final counters.
    finished: bool
    counters: RamCounters
    total: int
    page_size: int
    #: The recorded switchover moment, when this sample shows one (ms into the migration).
    switched_at_ms: float | None


def counters_from_info(info: dict[str, Any]) -> RamCounters:
    """The raw counters behind a recorded ``query-migrate`` return."""
    ram = info["ram"]
    cache = info.get("xbzrle-cache") or {}
    return RamCounters(
        normal=ram.get("normal", 0),
        zero=ram.get("duplicate", 0),
        xbzrle=cache.get("pages", 0),
        precopy_bytes=ram.get("precopy-bytes", ram.get("transferred", 0)),
        downtime_bytes=ram.get("downtime-bytes", 0),
        postcopy_bytes=ram.get("postcopy-bytes", 0),
        stream_bytes=ram.get("transferred", 0),
        multifd_bytes=ram.get("multifd-bytes", 0),
        remaining=ram.get("remaining", 0),
        remaining_at_sync=ram.get("remaining", 0),
        dirty_pages_rate=ram.get("dirty-pages-rate", 0),
        sync_count=ram.get("dirty-sync-count", 0),
        mbps=float(ram.get("mbps", 0.0)),
        pages_per_second=ram.get("pages-per-second", 0),
        postcopy_requests=ram.get("postcopy-requests", 0),
        cpu_throttle_percentage=info.get("cpu-throttle-percentage", 0),
        xbzrle_cache=(
            XbzrleCounters(
                bytes=cache.get("bytes", 0),
                pages=cache.get("pages", 0),
                cache_miss=cache.get("cache-miss", 0),
                cache_miss_rate=float(cache.get("cache-miss-rate", 0.0)),
                encoding_rate=float(cache.get("encoding-rate", 0.0)),
                overflow=cache.get("overflow", 0),
            )
            if cache
            else None
        ),
    )


def load_samples(cassette: Cassette, side: str) -> list[Sample]:
    samples = []
    for _, info in query_migrate_replies(cassette, side):
        if not isinstance(info.get("ram"), dict) or "total-time" not in info:
            continue
        status = str(info.get("status", ""))
        elapsed = float(info["total-time"])
        switched = None
        if status == "completed" and "downtime" in info:
            switched = elapsed - float(info["downtime"])
        elif status in _SWITCHED:
            switched = elapsed
        ram = info["ram"]
        samples.append(
            Sample(
                elapsed,
                status == "completed",
                counters_from_info(info),
                int(ram.get("total", 0)),
                int(ram.get("page-size", 4096)),
                switched,
            )
        )
    return samples
