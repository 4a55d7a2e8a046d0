"""The RAM-counter backend interface: where the numbers in ``query-migrate`` come from.

A backend models one side of a live migration's RAM and nothing else: no QMP, no
statuses, no QEMU release.  The source's state machine
(:mod:`fakeqemu.model.outgoing`) drives it through the phases QEMU goes through --
bitmap syncs, 100 ms rate-limited windows, the stop-and-copy, postcopy -- and asks it
for its raw counters at any moment; :mod:`fakeqemu.model.stats` turns those counters
into ``MigrationStats`` for the release, shape and role being imitated.

A backend is made by a *factory*: any callable taking one :class:`BackendInputs`
(a class whose ``__init__`` takes it will do).  A third-party backend needs nothing
from fakeqemu: the inputs and limits are read by attribute, and :meth:`counters` may
return a plain mapping keyed by the :class:`RamCounters` field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol, runtime_checkable

from fakeqemu.vocabulary import Role


@dataclass(frozen=True)
class BackendInputs:
    """What a backend is made from, once per migration."""

    role: Role
    #: ``-m``: the guest's memory, in bytes.
    guest_ram: int
    #: Every migratable RAM block (guest memory plus the machine's ROMs): ``ram.total``.
    ram_total: int
    page_size: int
    #: The migration capabilities in force when the migration started (those set on).
    capabilities: frozenset[str]
    #: Monotonic seconds, the same clock as every ``now`` the backend is given.
    clock: Callable[[], float]
    #: ``--backend-opt KEY=VALUE``, as strings.
    options: Mapping[str, str]
    #: ``--seed``: for backends that make up numbers.
    seed: int | None = None
    #: ``--backend NAME:ARGUMENT``: the part after the colon (``replay:PATH``).
    argument: str | None = None


@dataclass(frozen=True)
class ThrottleSettings:
    """Auto-converge's tunables (``cpu-throttle-*``, ``max-cpu-throttle``)."""

    #: ``cpu-throttle-initial``: the first throttle, in percent.
    initial: int = 20
    #: ``cpu-throttle-increment``: added at each sync that finds the guest too fast.
    increment: int = 10
    #: ``max-cpu-throttle``: the throttle never goes above it.
    maximum: int = 99
    #: ``throttle-trigger-threshold``: dirtied/transferred percentage that counts as too fast.
    trigger_threshold: int = 50
    #: ``cpu-throttle-tailslow``: near the maximum, step by what is needed, not more.
    tailslow: bool = False


#: QEMU's rate-limit window (BUFFER_DELAY): each one's bandwidth is spent at its start.
RATE_WINDOW = 0.1


@dataclass(frozen=True)
class Limits:
    """The tunables in force at one moment; ``migrate-set-parameters`` may change them."""

    #: Bytes per second the stream may use (``max-bandwidth``, or ``max-postcopy-bandwidth``
    #: in postcopy); "no limit" is already turned into a large number.
    bandwidth: float
    downtime_limit_ms: int
    #: ``avail-switchover-bandwidth`` in bytes per second; 0: use the measured bandwidth.
    switchover_bandwidth: float = 0.0
    #: The guest runs on the destination and pages are sent on demand or in the background.
    postcopy: bool = False
    #: The source's guest runs.  QEMU counts what it sends while the guest is stopped
    #: (``-S``, ``stop``) as downtime bytes, and a stopped guest dirties nothing.
    guest_running: bool = True
    #: Zero pages go through the multifd channels (``zero-page-detection`` ``multifd``);
    #: otherwise the main channel sends them, counted by stage.
    multifd_zero_pages: bool = False
    throttle: ThrottleSettings = ThrottleSettings()
    xbzrle_cache_size: int = 64 << 20
    multifd_channels: int = 2


@dataclass(frozen=True)
class XbzrleCounters:
    """XBZRLECacheStats, raw (``cache-size`` is the parameter in force, not a counter)."""

    bytes: int = 0
    pages: int = 0
    cache_miss: int = 0
    cache_miss_rate: float = 0.0
    encoding_rate: float = 0.0
    overflow: int = 0


@dataclass(frozen=True)
class RamCounters:
    """One side's raw RAM counters at a moment.

    On the source: what was sent; on the destination: what was received (only the
    page counts matter there).
    """

    #: Pages sent whole, as zero pages, and xbzrle-encoded.
    normal: int = 0
    zero: int = 0
    xbzrle: int = 0
    #: RAM bytes on the wire, headers included, by the stage they were sent in.
    precopy_bytes: int = 0
    downtime_bytes: int = 0
    postcopy_bytes: int = 0
    #: Every byte of the stream, device state included (what 8.0 on call ``transferred``);
    #: ``None``: the RAM bytes alone.
    stream_bytes: int | None = None
    multifd_bytes: int = 0
    #: Bytes still dirty, zero pages included.
    remaining: int = 0
    #: Bytes that were dirty right after the last bitmap sync (for ``expected-downtime``).
    remaining_at_sync: int = 0
    #: Pages the guest dirtied per second, as measured at the last sync that measured it.
    dirty_pages_rate: int = 0
    #: Bitmap syncs so far; each starts a pass (``MIGRATION_PASS``).
    sync_count: int = 0
    #: Throughput of the last rate window (or, once finished, of the whole transfer).
    mbps: float = 0.0
    pages_per_second: int = 0
    postcopy_requests: int = 0
    #: Auto-converge's current throttle; 0: the guest is not throttled.
    cpu_throttle_percentage: int = 0
    xbzrle_cache: XbzrleCounters | None = None

    @property
    def ram_bytes(self) -> int:
        return self.precopy_bytes + self.downtime_bytes + self.postcopy_bytes

    @property
    def all_bytes(self) -> int:
        return self.ram_bytes if self.stream_bytes is None else self.stream_bytes


COUNTER_NAMES = frozenset(field.name for field in fields(RamCounters))


def as_counters(value: RamCounters | Mapping[str, Any]) -> RamCounters:
    """A backend's answer as :class:`RamCounters`; a mapping must use the field names."""
    if isinstance(value, RamCounters):
        return value
    unknown = sorted(set(value) - COUNTER_NAMES)
    if unknown:
        known = ", ".join(sorted(COUNTER_NAMES))
        raise TypeError(f"unknown RAM counters {', '.join(unknown)}; known: {known}")
    data = dict(value)
    cache = data.get("xbzrle_cache")
    if isinstance(cache, Mapping):
        data["xbzrle_cache"] = XbzrleCounters(**cache)
    return RamCounters(**data)


@runtime_checkable
class RamBackend(Protocol):
    """The source's RAM, driven by the migration state machine.

    Calls come in this order: ``sync`` (the first bitmap sync, setup done), then per
    100 ms window ``transfer`` and ``converged`` (with a ``sync`` and a second
    ``converged`` when the first says yes), then ``stop`` when the guest stops for
    switchover (or postcopy), ``transfer`` windows again in postcopy, and ``finish``
    when the migration completes.  ``counters`` may be called at any time.
    """

    @property
    def total(self) -> int:
        """``ram.total``: every migratable RAM block, in bytes."""
        ...

    @property
    def page_size(self) -> int: ...

    def sync(self, now: float) -> None:
        """Sync the dirty bitmap: pages the guest dirtied since the last sync count again."""
        ...

    def transfer(self, now: float, limits: Limits) -> None:
        """A rate window ends at ``now``: send what ``limits`` allowed since the last call."""
        ...

    def converged(self, now: float, limits: Limits) -> bool:
        """Whether what remains may be sent with the guest stopped (QEMU's switchover test)."""
        ...

    def stop(self, now: float, postcopy: bool) -> None:
        """The guest stopped: precopy sends everything left and the device state; postcopy
        only the device state (the rest follows in postcopy windows)."""
        ...

    def finish(self, now: float) -> None:
        """The migration completed at ``now`` (rates become whole-transfer figures)."""
        ...

    def counters(self, now: float) -> RamCounters | Mapping[str, Any]: ...


@runtime_checkable
class ReceiveBackend(Protocol):
    """The destination's RAM: counts what arrives.  Optional for a backend: without
    ``receive``, the destination reports exactly what the source sent."""

    def receive(self, now: float, normal: int, zero: int, xbzrle: int) -> None: ...

    def counters(self, now: float) -> RamCounters | Mapping[str, Any]: ...


#: Makes one side's backend; a class taking the inputs is a factory.
BackendFactory = Callable[[BackendInputs], object]


class ReceivedPages:
    """The default destination: what arrived, as it arrived."""

    def __init__(self) -> None:
        self._normal = self._zero = self._xbzrle = 0

    def receive(self, now: float, normal: int, zero: int, xbzrle: int) -> None:
        self._normal += normal
        self._zero += zero
        self._xbzrle += xbzrle

    def counters(self, now: float) -> RamCounters:
        return RamCounters(normal=self._normal, zero=self._zero, xbzrle=self._xbzrle)


def switchover_threshold(measured_bytes_per_ms: float, limits: Limits) -> float:
    """Bytes that fit ``downtime-limit`` (migration_update_counters()): at the measured
    bandwidth, or at ``avail-switchover-bandwidth`` when one is set."""
    per_ms = limits.switchover_bandwidth / 1000 if limits.switchover_bandwidth else None
    return (measured_bytes_per_ms if per_ms is None else per_ms) * limits.downtime_limit_ms


def fits_downtime(remaining: int, threshold: float) -> bool:
    """migration_iteration_run(): nothing left, or less than the threshold."""
    return remaining == 0 or remaining < threshold
