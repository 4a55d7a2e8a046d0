"""The ``model`` backend's workload (its options) and the pieces its arithmetic is made of."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from fakeqemu.backends.interface import ThrottleSettings
from fakeqemu.backends.options import BackendOptions

#: Bytes QEMU puts before each page on the wire (offset and flags).
PAGE_HEADER = 8
#: A zero page is a header and one byte (RAM_SAVE_FLAG_ZERO).
ZERO_PAGE_COST = PAGE_HEADER + 1
#: An xbzrle page: the header, the encoding flag and its 16-bit length, then the delta.
XBZRLE_HEADER = PAGE_HEADER + 3
#: Device state saved after the last RAM pages (recorded: about 110 KB for ``pc``).
DEVICE_STATE_BYTES = 112254
#: RAM_SAVE_FLAG_EOS, which ends the RAM section of every iteration.
END_OF_SECTION = 8
#: cpu_throttle_set() keeps the throttle within these.
THROTTLE_MIN, THROTTLE_MAX = 1, 99

OPTIONS = {
    "ram": "guest RAM to model instead of -m, as a size (64G, 2T)",
    "zero-share": "share of pages that are zero, 0 to 1 (default 0.75)",
    "dirty-rate": "bytes per second the guest dirties (default 0: an idle guest)",
    "link-bandwidth": "bytes per second the network carries (default: only max-bandwidth)",
    "xbzrle-ratio": "xbzrle-encoded size of a re-sent page, as a share of a page (default 0.1)",
    "device-state": f"bytes of device state after the last pages (default {DEVICE_STATE_BYTES})",
    "fault-rate": "pages per second the guest touches on the destination in postcopy (100)",
    "hot-pages": "pages a running guest keeps dirty, sent again after every bitmap sync (0)",
}


@dataclass(frozen=True)
class Workload:
    """The guest and the network, as the model needs them."""

    #: Guest RAM in bytes; ``None``: the machine's ``-m``.
    ram: int | None = None
    #: Share of the guest's pages that are zero (``zero-share``).
    zero_share: float = 0.75
    #: Bytes per second the running guest dirties.
    dirty_rate: float = 0.0
    #: Bytes per second the network carries; 0: as much as ``max-bandwidth`` allows.
    link_bandwidth: float = 0.0
    #: Size of a re-sent page once xbzrle-encoded, as a share of a page (``xbzrle-ratio``).
    xbzrle_ratio: float = 0.1
    #: Bytes of device state sent after the last pages (``device-state``).
    device_state: int = DEVICE_STATE_BYTES
    #: Pages per second the guest touches on the destination in postcopy (``fault-rate``).
    fault_rate: float = 100.0
    #: Pages the running guest writes all the time (QEMU's idle BIOS: some 60): dirty
    #: again at every bitmap sync that follows some running, however short.
    hot_pages: int = 0

    def with_options(self, options: BackendOptions) -> Workload:
        """This workload with whatever ``options`` set."""
        return replace(
            self,
            ram=options.size("ram", 0) if "ram" in options else self.ram,
            zero_share=options.number("zero-share", self.zero_share, 0.0, 1.0),
            dirty_rate=options.size("dirty-rate", int(self.dirty_rate)),
            link_bandwidth=options.size("link-bandwidth", int(self.link_bandwidth)),
            xbzrle_ratio=options.number("xbzrle-ratio", self.xbzrle_ratio, 0.0),
            device_state=options.size("device-state", self.device_state),
            fault_rate=options.number("fault-rate", self.fault_rate, 0.0),
            hot_pages=int(options.number("hot-pages", self.hot_pages, 0.0)),
        )


def next_throttle(
    current: int, settings: ThrottleSettings, dirty_bytes: int, dirty_threshold: float
) -> int:
    """mig_throttle_guest_down(): start at ``initial``, then step up towards ``maximum``."""
    if current == 0:
        wanted = settings.initial
    else:
        step = settings.increment
        if settings.tailslow:
            # Step only as far as needed to bring the dirty rate down to the threshold.
            cpu_now = 100 - current
            cpu_ideal = int(cpu_now * (dirty_threshold / dirty_bytes))
            step = min(cpu_now - cpu_ideal, settings.increment)
        wanted = min(current + step, settings.maximum)
    return max(THROTTLE_MIN, min(wanted, THROTTLE_MAX))


def split_evenly(pages: int, kinds: list[int]) -> list[int]:
    """``pages`` shared among ``kinds`` in proportion (largest remainder), none above its own."""
    total = sum(kinds)
    if total == 0 or pages <= 0:
        return [0] * len(kinds)
    exact = [pages * kind / total for kind in kinds]
    shares = [math.floor(value) for value in exact]
    order = sorted(range(len(kinds)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[: pages - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class Period:
    """What happened since the last sync period began (migration_bitmap_sync's counters)."""

    start: float
    dirtied_pages: int = 0
    stream_bytes: int = 0
    pages_sent: int = 0
    xbzrle_pages: int = 0
    xbzrle_bytes: int = 0
    cache_misses: int = 0


@dataclass
class SentPages:
    """What a migration has sent so far: pages by kind, bytes by stage and channel."""

    normal: int = 0
    zero: int = 0
    xbzrle: int = 0
    #: Bytes sent while precopy ran, while the guest was stopped, and in postcopy.
    by_stage: dict[str, int] = field(
        default_factory=lambda: {"precopy": 0, "downtime": 0, "postcopy": 0}
    )
    #: Every byte of the stream, device state included; and those of the multifd channels.
    stream: int = 0
    multifd: int = 0
    xbzrle_bytes: int = 0
    cache_misses: int = 0
    overflow: int = 0

    @property
    def pages(self) -> int:
        return self.normal + self.zero + self.xbzrle
